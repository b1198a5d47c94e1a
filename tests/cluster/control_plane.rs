//! What a current control plane (kube-apiserver and kube-controller-manager
//! 1.36) brings to the cluster tests: a version that an upgrade removed
//! under an applied Kustomization, and a namespace that the namespace
//! controller really empties when a person deletes it. Their Kustomizations
//! are of the scope tests' source (not in the cluster): the fixture
//! platform's checks skip them, and each test checks its own with `-k`.

use std::time::Duration;

use super::*;

/// The Kustomizations set up here (skipped by the fixture platform's checks).
pub(super) const KUSTOMIZATIONS: [&str; 2] = [LEGACY_HPA, SANDBOX];

/// Applied by Flux before the cluster's upgrade removed the version of its
/// one object (an `autoscaling/v2beta2` HorizontalPodAutoscaler): Ready at
/// that revision, the object in its inventory, nothing of it in the cluster.
const LEGACY_HPA: &str = "legacy-hpa";
/// A tenant's Namespace with a ConfigMap and a ServiceAccount in it.
const SANDBOX: &str = "tenant-sandbox";
const REVISION: &str = "main@sha1:5e0c2b9d7f1a4c3e8b6d0a9f2e1c4b7a8d3f6e09";

fn manifest(name: &str) -> Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "cilium-infra"}}})
}

/// Writes a Kustomization's status as kustomize-controller does once it has
/// applied `entries` (its inventory) at [`REVISION`].
async fn ready(client: &Client, resources: &Resources, name: &str, entries: Vec<Value>) {
    let status = json!({"status": {"lastAppliedRevision": REVISION, "lastAttemptedRevision": REVISION,
        "inventory": {"entries": entries},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                        "message": format!("Applied revision: {REVISION}"), "lastTransitionTime": "2026-11-30T09:00:00Z"}]}});
    let (api, _) = resources.api(client, &manifest(name));
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Part of the suite's setup: both Kustomizations, as Flux left them.
pub(super) async fn apply_own_kustomizations(client: &Client, resources: &Resources) {
    apply(
        client,
        resources,
        &manifest(LEGACY_HPA),
        "kustomize-controller",
    )
    .await;
    let hpa = json!({"id": "monitoring_grafana-legacy_autoscaling_HorizontalPodAutoscaler", "v": "v2beta2"});
    ready(client, resources, LEGACY_HPA, vec![hpa]).await;

    let sandbox = manifest(SANDBOX);
    apply(client, resources, &sandbox, "kustomize-controller").await;
    let ks = discover::from_object(&sandbox, flux::Origin::Live, "flux-system").unwrap();
    let objects = drift_check::render::render(&scope_repo(), &ks, &Default::default()).unwrap();
    let mut entries = Vec::new();
    for object in &objects {
        let mut applied = object.clone();
        drift_check::diff::normalize::desired(&mut applied);
        apply(client, resources, &applied, "kustomize-controller").await;
        let r = object::ObjectRef::of(object).unwrap();
        entries.push(
            json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()}),
        );
    }
    ready(client, resources, SANDBOX, entries).await;
}

fn scope_repo() -> PathBuf {
    root().join("tests/cluster/scope-repo")
}

/// `check` of one of these Kustomizations only, from the scope tests' repo.
fn own_args(p: &Platform, name: &str) -> CommonArgs {
    let mut a = args(&p.admin);
    a.config = None;
    a.repo = vec![scope_repo()];
    a.source = Some("flux-system/cilium-infra".into());
    a.kustomizations = vec![name.into()];
    a
}

fn missing(kustomization: &str, object: &str) -> crate::util::Row {
    (
        format!("flux-system/{kustomization}"),
        object.into(),
        "missing".into(),
        "flux".into(),
        false,
    )
}

#[test]
fn an_object_of_a_version_the_cluster_no_longer_serves_is_missing_and_says_why() {
    let Some(p) = platform() else { return };
    let a = own_args(p, LEGACY_HPA);
    for mode in [DiffMode::Local, DiffMode::Server] {
        let report = runtime().block_on(check(&a, mode));
        assert!(report.errors.is_empty(), "{mode:?}: {:?}", report.errors);
        assert_eq!(
            summary(&report),
            vec![missing(
                LEGACY_HPA,
                "HorizontalPodAutoscaler/monitoring/grafana-legacy"
            )],
            "{mode:?}"
        );
        let hpa = &report.findings[0];
        assert_eq!(hpa.explanation, None, "{mode:?}");
        let message = hpa.message.as_deref().unwrap();
        assert!(
            message.starts_with("the cluster does not serve autoscaling/v2beta2 HorizontalPodAutoscaler (it serves HorizontalPodAutoscaler in "),
            "{mode:?}: {message}"
        );
    }
}

#[test]
fn a_namespace_a_person_deleted_is_missing_with_what_it_held_and_the_controllers_objects_are_no_finding()
 {
    let Some(p) = platform() else { return };
    let a = own_args(p, SANDBOX);
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        // kube-controller-manager puts objects of its own in every namespace
        // (the `default` ServiceAccount, the `kube-root-ca.crt` ConfigMap):
        // once they are there, they are not Flux's and no finding.
        let (accounts, _) = resources.api(
            &client,
            &reference("v1", "ServiceAccount", Some(SANDBOX), "default"),
        );
        let (configmaps, _) = resources.api(
            &client,
            &reference("v1", "ConfigMap", Some(SANDBOX), "kube-root-ca.crt"),
        );
        wait_for(
            Duration::from_secs(60),
            "the controllers' objects",
            async || {
                accounts.get_opt("default").await.unwrap().is_some()
                    && configmaps
                        .get_opt("kube-root-ca.crt")
                        .await
                        .unwrap()
                        .is_some()
            },
        )
        .await;
        for mode in [DiffMode::Local, DiffMode::Server] {
            let report = check(&a, mode).await;
            assert!(report.errors.is_empty(), "{mode:?}: {:?}", report.errors);
            assert_eq!(summary(&report), vec![], "{mode:?}");
        }

        // kubectl delete namespace tenant-sandbox: the namespace controller
        // deletes what it holds, then the namespace itself.
        let namespace = reference("v1", "Namespace", None, SANDBOX);
        let (namespaces, name) = resources.api(&client, &namespace);
        namespaces
            .delete(&name, &DeleteParams::default())
            .await
            .unwrap();
        wait_for(
            Duration::from_secs(60),
            "the namespace's deletion",
            async || namespaces.get_opt(&name).await.unwrap().is_none(),
        )
        .await;
        for mode in [DiffMode::Local, DiffMode::Server] {
            let report = check(&a, mode).await;
            assert!(report.errors.is_empty(), "{mode:?}: {:?}", report.errors);
            assert_eq!(
                summary(&report),
                vec![
                    missing(SANDBOX, "ConfigMap/tenant-sandbox/sandbox-settings"),
                    missing(SANDBOX, "Namespace/tenant-sandbox"),
                    missing(SANDBOX, "ServiceAccount/tenant-sandbox/sandbox-runner"),
                ],
                "{mode:?}"
            );
        }
    });
}

/// Polls `done` every 200 ms until it holds; fails naming `what` after `limit`.
async fn wait_for(limit: Duration, what: &str, done: impl AsyncFn() -> bool) {
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
