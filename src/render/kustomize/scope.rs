//! Which kinds are cluster-scoped, and the namespace kustomize compares.
//!
//! Input: an object (and a namespace it has or had). Output: whether its
//! kind is cluster-scoped *for kustomize*, and the namespace kustomize
//! compares for it: the one it has; none is `default`, except for
//! cluster-scoped kinds (`""`). Every lookup by identity in the engine (patch
//! targets, strategic merge patches, generator behaviors, name references)
//! compares namespaces this way, as kustomize's `ResId.EffectiveNamespace`
//! does.
//!
//! kustomize decides scope from its built-in OpenAPI schema alone (kyaml's
//! precomputed table, Kubernetes 1.21's types and `PodSecurityPolicy`), by
//! apiVersion *and* kind: a kind it does not list — a CRD's (`GatewayClass`,
//! `ClusterIssuer`), or a built-in one at a newer version
//! (`ValidatingAdmissionPolicy`, `flowcontrol.apiserver.k8s.io/v1`) — is
//! namespaced, and the namespace transformer sets its namespace (checked
//! against `kustomize build` 5.8.1). The API server then drops it; so does the
//! diff (`diff::scope`, from the cluster's discovery).

use serde_json::Value;

use super::resource;

/// The (apiVersion, kind)s kustomize's built-in schema has as cluster-scoped
/// (kyaml `precomputedIsNamespaceScoped`, the `false` entries).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Is this object's kind cluster-scoped for kustomize (so the namespace
/// transformer leaves it alone)? Any other kind is namespaced, as in
/// kustomize: the engine renders a cluster-scoped kind it does not know
/// *with* the namespace, and the diff drops it later the way the API server
/// does (`diff::scope`).
pub fn is_cluster_scoped(object: &Value) -> bool {
    let (api_version, kind) = (resource::api_version(object), resource::kind(object));
    CLUSTER_SCOPED
        .iter()
        .any(|(v, k)| *v == api_version && *k == kind)
}

/// The namespace kustomize compares for `object` when it has (or had)
/// `namespace`: that one; none is `default` for a namespaced kind and `""`
/// for a cluster-scoped one (kustomize's `ResId.EffectiveNamespace`).
pub fn compared_namespace<'a>(object: &Value, namespace: Option<&'a str>) -> &'a str {
    match namespace {
        Some(ns) => ns,
        None if is_cluster_scoped(object) => "",
        None => "default",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn none_compares_as_default_except_for_cluster_scoped_kinds() {
        let config_map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        let widget =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": {"name": "r"}});
        assert_eq!(compared_namespace(&config_map, None), "default");
        assert_eq!(compared_namespace(&widget, None), "default");
        assert_eq!(compared_namespace(&role, None), "");
        assert_eq!(compared_namespace(&config_map, Some("apps")), "apps");
        assert_eq!(compared_namespace(&role, Some("apps")), "apps");
    }

    #[test]
    fn kinds_kustomize_s_schema_does_not_list_are_namespaced_as_in_kustomize() {
        // `kustomize build` 5.8.1 with `namespace: foo` sets it on each of
        // these (the API server drops it again); not on these.
        let object = |api_version: &str, kind: &str| json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        for (api_version, kind) in [
            ("gateway.networking.k8s.io/v1", "GatewayClass"),
            ("cert-manager.io/v1", "ClusterIssuer"),
            (
                "admissionregistration.k8s.io/v1",
                "ValidatingAdmissionPolicy",
            ),
            ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
            ("storage.k8s.io/v1", "VolumeAttributesClass"),
            ("pkg.crossplane.io/v1", "Provider"),
        ] {
            assert!(!is_cluster_scoped(&object(api_version, kind)), "{kind}");
        }
        for (api_version, kind) in [
            ("v1", "Namespace"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"),
            ("networking.k8s.io/v1", "IngressClass"),
            ("policy/v1beta1", "PodSecurityPolicy"),
            ("storage.k8s.io/v1", "CSIDriver"),
        ] {
            assert!(is_cluster_scoped(&object(api_version, kind)), "{kind}");
        }
    }
}
