//! Cluster-scoped custom kinds the built-in table does not know, checked
//! against a live snapshot: kustomize's `namespace:` and Flux's
//! `targetNamespace` put a namespace on them, the API server drops it, and
//! drift-check must see them as the API server stores them. (The same against
//! the real API server: `cluster.rs`.)

use drift_check::cli::CommonArgs;
use serde_json::{Value, json};

use crate::util::{check, summary};

/// Flux's owner labels, as kustomize-controller sets them on what it applies.
fn flux_labels(ks: &str) -> Value {
    json!({"kustomize.toolkit.fluxcd.io/name": ks, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
}

fn kustomization(name: &str, target_namespace: Option<&str>, inventory: &[&str]) -> Value {
    let revision = "main@sha1:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";
    let entries: Vec<Value> = inventory
        .iter()
        .map(
            |id| json!({"id": id, "v": if id.ends_with("_ConfigMap") { "v1" } else { "v2alpha1" }}),
        )
        .collect();
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": name, "namespace": "flux-system"},
           "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true,
                    "targetNamespace": target_namespace,
                    "sourceRef": {"kind": "GitRepository", "name": "infra"}},
           "status": {"lastAppliedRevision": revision, "lastAttemptedRevision": revision,
                      "inventory": {"entries": entries},
                      "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                      "message": format!("Applied revision: {revision}"),
                                      "lastTransitionTime": "2026-11-30T09:00:00Z"}]}})
}

use crate::util::list_yaml as list;

/// A repo and a snapshot: Kustomization `network` renders a
/// `CiliumLoadBalancerIPPool` (cluster-scoped, unknown to kustomize) with the
/// kustomization's `namespace: kube-system`, next to a ConfigMap; Kustomization
/// `karpenter` renders a cluster-scoped `NodePool` and its CRD with Flux's
/// `targetNamespace`. The snapshot holds what the API server stores.
struct Platform {
    dir: tempfile::TempDir,
}

impl Platform {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |relative: &str, text: &str| crate::util::write_file(dir.path(), relative, text);
        write(
            "repo/network/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: kube-system\nresources: [pool.yaml, config.yaml]\n",
        );
        write(
            "repo/network/pool.yaml",
            "apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: public\nspec:\n  blocks:\n  - cidr: 10.0.10.0/24\n",
        );
        write(
            "repo/network/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-lb\ndata:\n  pool: public\n",
        );
        write(
            "repo/karpenter/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [crd.yaml, nodepool.yaml]\n",
        );
        write(
            "repo/karpenter/crd.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: nodepools.karpenter.sh\nspec:\n  group: karpenter.sh\n  names: {kind: NodePool, plural: nodepools}\n  scope: Cluster\n  versions:\n  - name: v1\n    served: true\n    storage: true\n",
        );
        write(
            "repo/karpenter/nodepool.yaml",
            "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata:\n  name: default\nspec:\n  limits: {cpu: \"64\"}\n",
        );

        // Older kustomize-controllers recorded the namespace the render
        // gave; fluxcd/pkg ssa records the object as applied, without it.
        let flux = list(vec![
            kustomization(
                "network",
                None,
                &[
                    "kube-system_public_cilium.io_CiliumLoadBalancerIPPool",
                    "kube-system_cilium-lb__ConfigMap",
                ],
            ),
            kustomization(
                "karpenter",
                Some("karpenter"),
                &[
                    "_nodepools.karpenter.sh_apiextensions.k8s.io_CustomResourceDefinition",
                    "_default_karpenter.sh_NodePool",
                ],
            ),
        ]);
        write("snapshot/flux-system.yaml", &flux);
        let network = list(vec![
            json!({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
                   "metadata": {"name": "public", "labels": flux_labels("network")},
                   "spec": {"blocks": [{"cidr": "10.0.10.0/24"}]}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cilium-lb", "namespace": "kube-system", "labels": flux_labels("network")},
                   "data": {"pool": "public"}}),
        ]);
        write("snapshot/network.yaml", &network);
        let karpenter = list(vec![
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "nodepools.karpenter.sh", "labels": flux_labels("karpenter")},
                   "spec": {"group": "karpenter.sh", "names": {"kind": "NodePool", "plural": "nodepools"},
                            "scope": "Cluster",
                            "versions": [{"name": "v1", "served": true, "storage": true}]}}),
            json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
                   "metadata": {"name": "default", "labels": flux_labels("karpenter")},
                   "spec": {"limits": {"cpu": "64"}}}),
        ]);
        write("snapshot/karpenter.yaml", &karpenter);
        Self { dir }
    }

    fn args(&self) -> CommonArgs {
        CommonArgs {
            repo: vec![self.dir.path().join("repo")],
            live_snapshot: Some(self.dir.path().join("snapshot")),
            ..Default::default()
        }
    }

    fn remove_from_snapshot(&self, file: &str, kind: &str) {
        let path = self.dir.path().join("snapshot").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = drift_check::yaml::documents(&text, &path)
            .unwrap()
            .remove(0);
        doc["items"]
            .as_array_mut()
            .unwrap()
            .retain(|o| o["kind"] != kind);
        std::fs::write(path, drift_check::yaml::to_string(&doc)).unwrap();
    }
}

#[test]
fn a_cluster_scoped_custom_kind_namespaced_by_kustomize_is_neither_missing_nor_orphaned() {
    let platform = Platform::new();
    let report = check(&platform.args());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.summary.kustomizations, 2);
    assert_eq!(report.summary.objects, 4);
    assert_eq!(summary(&report), vec![], "{:#?}", report.findings);
}

#[test]
fn the_render_crd_gives_the_scope_of_a_kind_the_snapshot_has_no_object_of() {
    let platform = Platform::new();
    platform.remove_from_snapshot("karpenter.yaml", "NodePool");
    let report = check(&platform.args());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        summary(&report),
        vec![(
            "flux-system/karpenter".to_string(),
            "NodePool/default".to_string(),
            "missing".to_string(),
            "flux".to_string(),
            false
        )],
        "named as the API server would store it, not NodePool/karpenter/default"
    );
}
