//! Which kinds are cluster-scoped.
//!
//! [`Scopes`] is what a run knows about each kind (group, kind): filled by the
//! live stage from API discovery (each `APIResource`'s `namespaced`) or, for
//! a snapshot, from the snapshot's own objects; then from the
//! `CustomResourceDefinition`s of the render (`spec.scope`) for kinds not
//! served yet. A kind nobody spoke for falls back to the built-in table
//! [`is_builtin_cluster_scoped`]. (The render engine has its own, narrower
//! table: what kustomize knows, `render::kustomize::scope`.)

use std::collections::BTreeMap;

use serde_json::Value;

use super::object::{self, Object, ObjectKey};

/// Where an object of a kind lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In a namespace (`metadata.namespace` set).
    Namespaced,
    /// In no namespace: the API server drops `metadata.namespace`.
    Cluster,
}

impl Scope {
    /// `spec.scope` of a CRD: `Cluster` or `Namespaced`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Cluster" => Some(Scope::Cluster),
            "Namespaced" => Some(Scope::Namespaced),
            _ => None,
        }
    }
}

/// The scope of each kind a run learned about, by (group, kind). The first
/// answer about a kind is kept: learn from the most authoritative source first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    kinds: BTreeMap<(String, String), Scope>,
}

impl Scopes {
    /// Records a kind's scope, unless one is already known.
    pub fn learn(&mut self, group: &str, kind: &str, scope: Scope) {
        self.kinds
            .entry((group.to_string(), kind.to_string()))
            .or_insert(scope);
    }

    /// What was learned about a kind (`None`: nothing).
    pub fn get(&self, group: &str, kind: &str) -> Option<Scope> {
        self.kinds
            .get(&(group.to_string(), kind.to_string()))
            .copied()
    }

    /// Whether the kind is cluster-scoped: as learned, else as the built-in
    /// table says (unknown kinds are namespaced, as in kustomize).
    pub fn is_cluster_scoped(&self, group: &str, kind: &str) -> bool {
        match self.get(group, kind) {
            Some(scope) => scope == Scope::Cluster,
            None => is_builtin_cluster_scoped(group, kind),
        }
    }

    /// Learns the scope of the kinds these `CustomResourceDefinition`s
    /// define; other objects are ignored.
    pub fn learn_from_crds<'a>(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        for (group, kind, scope) in objects.into_iter().filter_map(crd_scope) {
            self.learn(&group, &kind, scope);
        }
    }

    /// Learns the scope of each kind from objects as the API server returns
    /// them (a snapshot's): a kind of which some object has a
    /// `metadata.namespace` is namespaced, one whose objects all have none is
    /// cluster-scoped.
    pub fn learn_from_objects<'a>(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        let mut seen: BTreeMap<(String, String), Scope> = BTreeMap::new();
        for o in objects {
            let (Some(api_version), Some(kind)) = (
                o.get("apiVersion").and_then(Value::as_str),
                o.get("kind").and_then(Value::as_str),
            ) else {
                continue;
            };
            let scope = match object::namespace(o) {
                Some(_) => Scope::Namespaced,
                None => Scope::Cluster,
            };
            let key = (object::group_of(api_version).to_string(), kind.to_string());
            let known = seen.entry(key).or_insert(scope);
            if scope == Scope::Namespaced {
                *known = Scope::Namespaced;
            }
        }
        for ((group, kind), scope) in seen {
            self.learn(&group, &kind, scope);
        }
    }

    /// [`Scopes::learn_from_objects`] from the identities of objects as the
    /// API server returns them.
    pub fn learn_from_keys<'a>(&mut self, keys: impl IntoIterator<Item = &'a ObjectKey>) {
        let mut seen: BTreeMap<(String, String), Scope> = BTreeMap::new();
        for key in keys {
            let scope = match key.namespace {
                Some(_) => Scope::Namespaced,
                None => Scope::Cluster,
            };
            let known = seen.entry(key.type_key()).or_insert(scope);
            if scope == Scope::Namespaced {
                *known = Scope::Namespaced;
            }
        }
        for ((group, kind), scope) in seen {
            self.learn(&group, &kind, scope);
        }
    }

    /// How many kinds were learned.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// The (group, kind, scope) an `apiextensions.k8s.io` `CustomResourceDefinition`
/// defines (`spec.group`, `spec.names.kind`, `spec.scope`); `None` for any
/// other object or one missing those fields.
pub fn crd_scope(object: &Object) -> Option<(String, String, Scope)> {
    let api_version = object.get("apiVersion")?.as_str()?;
    if object::group_of(api_version) != "apiextensions.k8s.io"
        || object.get("kind")?.as_str()? != "CustomResourceDefinition"
    {
        return None;
    }
    let spec = object.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let kind = spec.pointer("/names/kind")?.as_str()?;
    let scope = Scope::parse(spec.get("scope")?.as_str()?)?;
    Some((group.to_string(), kind.to_string(), scope))
}

/// Built-in cluster-scoped kinds as (group, kind): the Kubernetes API's,
/// and those of CRDs this platform relies on (Crossplane, Gateway API,
/// cert-manager, ...), which kustomize would not know but the API server
/// stores without a namespace. Only a fallback for the diff: a cluster's
/// discovery, a snapshot's objects and the render's CRDs come first.
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

/// Whether the built-in table lists (group, kind) as cluster-scoped.
pub fn is_builtin_cluster_scoped(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && *k == kind)
}

/// Drops `metadata.namespace` from an object whose kind is cluster-scoped,
/// as the API server does on create and apply. Returns whether it did.
pub fn drop_cluster_scoped_namespace(object: &mut Object, scopes: &Scopes) -> bool {
    let Some(kind) = object.get("kind").and_then(Value::as_str) else {
        return false;
    };
    let group = object::group_of(
        object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    if !scopes.is_cluster_scoped(group, kind) {
        return false;
    }
    object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|metadata| metadata.remove("namespace"))
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(group: &str, kind: &str, scope: &str) -> Object {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": format!("{}s.{group}", kind.to_lowercase())},
               "spec": {"group": group, "scope": scope,
                        "names": {"kind": kind, "plural": format!("{}s", kind.to_lowercase())}}})
    }

    #[test]
    fn reads_group_kind_and_scope_from_a_crd() {
        assert_eq!(
            crd_scope(&crd("cilium.io", "CiliumLoadBalancerIPPool", "Cluster")),
            Some((
                "cilium.io".into(),
                "CiliumLoadBalancerIPPool".into(),
                Scope::Cluster
            ))
        );
        assert_eq!(
            crd_scope(&crd("karpenter.sh", "NodeClaim", "Namespaced")),
            Some(("karpenter.sh".into(), "NodeClaim".into(), Scope::Namespaced))
        );
    }

    #[test]
    fn ignores_other_objects_and_crds_without_a_valid_scope() {
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "a"}, "spec": {"group": "x", "scope": "Cluster",
                                "names": {"kind": "Y"}}});
        assert_eq!(crd_scope(&config_map), None);
        assert_eq!(crd_scope(&crd("cilium.io", "Pool", "cluster")), None);
        let mut no_kind = crd("cilium.io", "Pool", "Cluster");
        no_kind["spec"]["names"] = json!({"plural": "pools"});
        assert_eq!(crd_scope(&no_kind), None);
    }

    #[test]
    fn crds_define_scopes_and_the_first_answer_about_a_kind_wins() {
        let mut scopes = Scopes::default();
        // As from discovery: the cluster serves the pool as namespaced.
        scopes.learn("cilium.io", "CiliumLoadBalancerIPPool", Scope::Namespaced);
        scopes.learn_from_crds(&[
            crd("cilium.io", "CiliumLoadBalancerIPPool", "Cluster"),
            crd("karpenter.sh", "NodePool", "Cluster"),
        ]);
        assert!(!scopes.is_cluster_scoped("cilium.io", "CiliumLoadBalancerIPPool"));
        assert!(scopes.is_cluster_scoped("karpenter.sh", "NodePool"));
        assert_eq!(scopes.len(), 2);
    }

    #[test]
    fn unknown_kinds_fall_back_to_the_built_in_table() {
        let mut scopes = Scopes::default();
        assert!(scopes.is_cluster_scoped("rbac.authorization.k8s.io", "ClusterRole"));
        assert!(!scopes.is_cluster_scoped("", "ConfigMap"));
        assert!(!scopes.is_cluster_scoped("pkg.crossplane.io", "ProviderConfig"));
        // What the cluster says overrides the table.
        scopes.learn(
            "gateway.networking.k8s.io",
            "GatewayClass",
            Scope::Namespaced,
        );
        assert!(!scopes.is_cluster_scoped("gateway.networking.k8s.io", "GatewayClass"));
    }

    #[test]
    fn objects_without_a_namespace_make_their_kind_cluster_scoped() {
        let pool = json!({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
                          "metadata": {"name": "public"}});
        let cm = |ns: Option<&str>| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "a", "namespace": ns}})
        };
        let mut scopes = Scopes::default();
        scopes.learn_from_objects(&[pool, cm(None), cm(Some("docs"))]);
        assert_eq!(
            scopes.get("cilium.io", "CiliumLoadBalancerIPPool"),
            Some(Scope::Cluster)
        );
        assert_eq!(
            scopes.get("", "ConfigMap"),
            Some(Scope::Namespaced),
            "one namespaced object is enough"
        );
    }
}
