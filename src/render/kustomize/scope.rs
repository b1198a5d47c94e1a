//! Which kinds are cluster-scoped, and the namespace kustomize compares.
//!
//! Input: an object (and a namespace it has or had). Output: whether its
//! kind is cluster-scoped, and the namespace kustomize compares for it: the
//! one it has; none is `default`, except for cluster-scoped kinds (`""`).
//! Every lookup by identity in the engine (patch targets, strategic merge
//! patches, generator behaviors, name references) compares namespaces this
//! way, as kustomize's `ResId.EffectiveNamespace` does.

use serde_json::Value;

use super::resource;

/// Built-in cluster-scoped kinds as (group, kind): the Kubernetes API's,
/// and those of CRDs this platform relies on (Crossplane, Gateway API,
/// cert-manager, ...), which kustomize would not know but the API server
/// stores without a namespace.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("policy", "PodSecurityPolicy"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("apiextensions.crossplane.io", "CompositeResourceDefinition"),
    ("apiextensions.crossplane.io", "Composition"),
    ("apiextensions.crossplane.io", "CompositionRevision"),
    ("apiextensions.crossplane.io", "EnvironmentConfig"),
    ("pkg.crossplane.io", "Provider"),
    ("pkg.crossplane.io", "Function"),
    ("pkg.crossplane.io", "Configuration"),
    ("pkg.crossplane.io", "DeploymentRuntimeConfig"),
    ("cert-manager.io", "ClusterIssuer"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("external-secrets.io", "ClusterExternalSecret"),
    ("kyverno.io", "ClusterPolicy"),
];

/// Is this object's kind cluster-scoped (so the namespace transformer leaves
/// it alone)? Unknown kinds are namespaced, as in kustomize.
pub fn is_cluster_scoped(object: &Value) -> bool {
    let group = resource::group(object);
    let kind = resource::kind(object);
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && *k == kind)
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
}
