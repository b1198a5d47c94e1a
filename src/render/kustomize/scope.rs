//! Which kinds are cluster-scoped, and the namespace kustomize compares.
//!
//! Input: an object (and a namespace it has or had). Output: whether its
//! kind is cluster-scoped by the built-in table (`k8s::scope`: kustomize knows
//! no more than a table either), and the namespace kustomize compares for it: the
//! one it has; none is `default`, except for cluster-scoped kinds (`""`).
//! Every lookup by identity in the engine (patch targets, strategic merge
//! patches, generator behaviors, name references) compares namespaces this
//! way, as kustomize's `ResId.EffectiveNamespace` does.

use serde_json::Value;

use super::resource;
use crate::k8s::scope::is_builtin_cluster_scoped;

/// Is this object's kind cluster-scoped (so the namespace transformer leaves
/// it alone)? Kinds the built-in table does not list are namespaced, as in
/// kustomize: the engine renders a cluster-scoped custom kind it does not
/// know *with* the namespace, as kustomize does, and the diff drops it later
/// the way the API server does (`diff::scope`).
pub fn is_cluster_scoped(object: &Value) -> bool {
    is_builtin_cluster_scoped(resource::group(object), resource::kind(object))
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
