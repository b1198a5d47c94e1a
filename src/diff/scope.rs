//! Rendered objects as the API server stores them: no namespace on a
//! cluster-scoped kind.
//!
//! Input: rendered objects (or Flux inventory ids) and [`Scopes`], which the
//! live stage returns. Output: the same objects without `metadata.namespace`
//! when their kind is cluster-scoped, and inventory ids read the same way.
//! Pure: no I/O.
//!
//! kustomize only knows its built-in table of cluster-scoped kinds, so its
//! `namespace:` transformer (and Flux's `targetNamespace`, which is one) puts
//! a namespace on a cluster-scoped custom kind it does not know (Cilium's
//! `CiliumLoadBalancerIPPool`, Karpenter's `NodePool`, ...). The API server
//! drops it when Flux applies the object (apiserver `rest.BeforeCreate`:
//! a cluster-scoped object's namespace is set to none), and fluxcd/pkg `ssa`
//! records the object as applied, without it, in the inventory. This runs
//! after the live stage, before the diff: the render itself stays what
//! kustomize prints (`drift-check render`, like `flux build ks`), while
//! identity ([`ObjectKey`]) and comparison see what the cluster stores.

use crate::k8s::object::ObjectKey;
use crate::k8s::scope::Scopes;
pub use crate::k8s::scope::drop_cluster_scoped_namespace;
pub use crate::render::stored::as_stored;

/// The identity an inventory id (`<namespace>_<name>_<group>_<kind>`) names,
/// without a namespace when the kind is cluster-scoped: what the API server
/// stores, whether Flux recorded the id before or after the server dropped it.
pub fn inventory_key(id: &str, scopes: &Scopes) -> Option<ObjectKey> {
    let mut key = ObjectKey::from_inventory_id(id)?;
    if scopes.is_cluster_scoped(&key.group, &key.kind) {
        key.namespace = None;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::object::Object;
    use crate::k8s::scope::Scope;
    use crate::render::Rendered;
    use serde_json::json;

    fn pool(namespace: Option<&str>) -> Object {
        json!({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
               "metadata": {"name": "public", "namespace": namespace,
                            "labels": {"kustomize.toolkit.fluxcd.io/name": "network"}},
               "spec": {"blocks": [{"cidr": "10.0.10.0/24"}]}})
    }

    /// The pool as the API server stores it (no `namespace` key at all).
    fn without_namespace(mut object: Object) -> Object {
        object["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        object
    }

    fn cluster_scoped_pools() -> Scopes {
        let mut scopes = Scopes::default();
        scopes.learn("cilium.io", "CiliumLoadBalancerIPPool", Scope::Cluster);
        scopes
    }

    #[test]
    fn drops_the_namespace_of_a_cluster_scoped_kind_and_nothing_else() {
        let mut object = pool(Some("kube-system"));
        assert!(drop_cluster_scoped_namespace(
            &mut object,
            &cluster_scoped_pools()
        ));
        assert_eq!(
            object,
            json!({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
                   "metadata": {"name": "public",
                                "labels": {"kustomize.toolkit.fluxcd.io/name": "network"}},
                   "spec": {"blocks": [{"cidr": "10.0.10.0/24"}]}})
        );
        assert!(
            !drop_cluster_scoped_namespace(&mut object, &cluster_scoped_pools()),
            "already without"
        );
    }

    #[test]
    fn keeps_the_namespace_of_namespaced_and_unknown_kinds() {
        let mut unknown = pool(Some("kube-system"));
        assert!(!drop_cluster_scoped_namespace(
            &mut unknown,
            &Scopes::default()
        ));
        assert_eq!(unknown, pool(Some("kube-system")));
        let mut namespaced = Scopes::default();
        // The cluster overrides the built-in table both ways.
        namespaced.learn(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            Scope::Namespaced,
        );
        let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                              "metadata": {"name": "r", "namespace": "x"}});
        assert!(!drop_cluster_scoped_namespace(&mut role, &namespaced));
        assert_eq!(role["metadata"]["namespace"], "x");
    }

    #[test]
    fn the_built_in_table_speaks_for_kinds_nobody_else_knows() {
        let mut binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                                 "kind": "ClusterRoleBinding",
                                 "metadata": {"name": "b", "namespace": "docs"}});
        assert!(drop_cluster_scoped_namespace(
            &mut binding,
            &Scopes::default()
        ));
        assert_eq!(binding["metadata"], json!({"name": "b"}));
    }

    #[test]
    fn every_render_at_both_commits_is_stored_without_the_namespace() {
        let ks = crate::discover::from_object(
            &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": "network", "namespace": "flux-system"},
                    "spec": {"path": "./network", "targetNamespace": "kube-system",
                             "sourceRef": {"kind": "GitRepository", "name": "infra"}}}),
            crate::flux::Origin::Live,
            "flux-system",
        )
        .unwrap();
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "c", "namespace": "kube-system"}});
        let mut rendered = vec![Rendered {
            ks,
            objects: Some(vec![
                pool(Some("kube-system")).into(),
                config_map.clone().into(),
            ]),
            revision: None,
            applied_unread: false,
            head: Some((vec![pool(Some("kube-system")).into()], None)),
        }];
        assert_eq!(as_stored(&mut rendered, &cluster_scoped_pools()), 2);
        let objects = rendered[0].objects.as_ref().unwrap();
        assert_eq!(*objects[0].object(), without_namespace(pool(None)));
        assert_eq!(objects[0].reference().unwrap().namespace, None);
        assert_eq!(*objects[1].object(), config_map);
        assert_eq!(
            *rendered[0].head.as_ref().unwrap().0[0].object(),
            without_namespace(pool(None))
        );
    }

    #[test]
    fn inventory_ids_name_cluster_scoped_objects_without_a_namespace() {
        let scopes = cluster_scoped_pools();
        let want = ObjectKey {
            group: "cilium.io".into(),
            kind: "CiliumLoadBalancerIPPool".into(),
            namespace: None,
            name: "public".into(),
        };
        for id in [
            "kube-system_public_cilium.io_CiliumLoadBalancerIPPool",
            "_public_cilium.io_CiliumLoadBalancerIPPool",
        ] {
            assert_eq!(inventory_key(id, &scopes), Some(want.clone()), "{id}");
        }
        let service = inventory_key("docs_docs-portal__Service", &scopes).unwrap();
        assert_eq!(service.namespace.as_deref(), Some("docs"));
        assert_eq!(inventory_key("nonsense", &scopes), None);
    }
}
