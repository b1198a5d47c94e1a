//! Partial failures on the real API server: a Kustomization that cannot be
//! rendered, a type the token may not list, a Kustomization Flux failed or
//! never reconciled, and objects two Kustomizations apply. None of them may
//! invent a finding or show a Kustomization "in sync" that was not checked.
//!
//! Each test applies Flux Kustomizations of a source of its own (so its run
//! checks only those, `tests/cluster/signal-repo`) and leaves them in place:
//! the objects it creates stay its Kustomizations' business in every other
//! test's run (not checked there, their objects never anyone's orphans).

use drift_check::diff::DiffMode;
use drift_check::report::Report;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{Resources, apply, args, check, client, platform, reference, runtime, update};
use crate::util::{TestCommand, root};

/// A Flux Kustomization of source `source` (a GitRepository in
/// flux-system) at `./<name>` of the test repo, with `spec` merged in and
/// the status kustomize-controller would have written (none: never
/// reconciled).
async fn kustomization(
    client: &kube::Client,
    resources: &Resources,
    name: &str,
    source: &str,
    spec: Value,
    status: Option<Value>,
) {
    let mut manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": source}}});
    for (k, v) in spec.as_object().unwrap() {
        manifest["spec"][k] = v.clone();
    }
    apply(client, resources, &manifest, "kustomize-controller").await;
    if let Some(status) = status {
        let (api, _) = resources.api(client, &manifest);
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .unwrap();
    }
}

/// Ready, with an inventory (what Flux applied).
fn ready(inventory: &[(&str, &str)]) -> Value {
    let entries: Vec<Value> = inventory
        .iter()
        .map(|(id, v)| json!({"id": id, "v": v}))
        .collect();
    json!({"observedGeneration": 1, "inventory": {"entries": entries},
           "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                           "message": "Applied revision: main@sha1:0b7e3f9a", "observedGeneration": 1,
                           "lastTransitionTime": "2026-12-01T03:00:00Z"}]})
}

/// An object as Flux applies it for Kustomization `ks`: its owner labels,
/// server-side apply as `kustomize-controller`.
async fn apply_as_flux(client: &kube::Client, resources: &Resources, ks: &str, mut object: Value) {
    object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = json!(ks);
    object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"] = json!("flux-system");
    apply(client, resources, &object, "kustomize-controller").await;
}

async fn namespace(client: &kube::Client, resources: &Resources, name: &str) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    apply(client, resources, &ns, "test-setup").await;
}

fn config_map(namespace: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// A change's path and manager.
type Change = (String, Option<String>);

/// `check` of one source's Kustomizations with the kubeconfig given.
async fn check_source(kubeconfig: &std::path::Path, source: &str) -> Report {
    let mut a = args(kubeconfig);
    a.config = None;
    a.repo = vec![root().join("tests/cluster/signal-repo")];
    a.source = Some(format!("flux-system/{source}"));
    // Only this source's Kustomizations: the others' sources are fetched
    // from the cluster otherwise (the platform's needs a Secret it lacks).
    a.kustomizations = match source {
        "sig-orphans" => vec!["orphans-needs-vars".into(), "orphans-apps".into()],
        "sig-rbac" => vec!["rbac-apps".into()],
        "sig-overlap" => vec!["overlap-root".into(), "overlap-shared".into()],
        "sig-unapplied" => vec!["unapplied".into()],
        "sig-new" => vec!["never-reconciled".into()],
        other => panic!("no Kustomizations listed for source {other}"),
    };
    check(&a, DiffMode::Local).await
}

/// (kustomization, object, drift, explained, message or explanation) of each finding, sorted.
fn findings(report: &Report) -> Vec<(String, String, &'static str, bool, String)> {
    let mut rows: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.kustomization.clone().unwrap_or_default(),
                f.object.to_string(),
                f.drift.as_str(),
                f.explained,
                f.explanation
                    .clone()
                    .or(f.message.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn warnings(report: &Report) -> Vec<(Option<&str>, &str)> {
    let mut rows: Vec<_> = report
        .warnings
        .iter()
        .map(|w| (w.kustomization.as_deref(), w.message.as_str()))
        .collect();
    rows.sort();
    rows
}

fn errors(report: &Report) -> Vec<(Option<&str>, &str, &str)> {
    report
        .errors
        .iter()
        .map(|e| {
            (
                e.kustomization.as_deref(),
                e.stage.as_str(),
                e.message.as_str(),
            )
        })
        .collect()
}

#[test]
fn objects_of_a_kustomization_that_cannot_be_rendered_are_never_another_ones_orphans() {
    // Regression: a Kustomization whose substituteFrom Secret was missing was
    // "not checked", but the ConfigMaps labelled managed-by=flux in its
    // namespace became orphans of another Kustomization ("delete it, or add
    // it to ./orphans-apps").
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        for ns in ["sig-monitoring", "sig-orphans-apps"] {
            namespace(&client, &resources, ns).await;
        }
        // The Kustomization first: from then on its objects are its own in
        // every run, this test's and the others'.
        kustomization(&client, &resources, "orphans-needs-vars", "sig-orphans",
            json!({"targetNamespace": "sig-monitoring",
                   "postBuild": {"substituteFrom": [{"kind": "Secret", "name": "monitoring-vars"}]}}),
            Some(ready(&[("sig-monitoring_dashboard__ConfigMap", "v1")]))).await;
        kustomization(&client, &resources, "orphans-apps", "sig-orphans", json!({}),
            Some(ready(&[("sig-orphans-apps_settings__ConfigMap", "v1")]))).await;
        let labelled = |mut cm: Value| {
            cm["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "flux"});
            cm
        };
        apply_as_flux(&client, &resources, "orphans-apps",
            labelled(config_map("sig-orphans-apps", "settings", json!({"mode": "fast"})))).await;
        apply_as_flux(&client, &resources, "orphans-needs-vars",
            labelled(config_map("sig-monitoring", "dashboard", json!({"url": "https://grafana.example.com"})))).await;
        // What the platform labels managed-by=flux in the namespace the
        // failing Kustomization applies to, without Flux's owner labels.
        for i in 0..100 {
            let cm = labelled(config_map("sig-monitoring", &format!("panel-{i:03}"), json!({"panel": i.to_string()})));
            apply(&client, &resources, &cm, "kubectl-client-side-apply").await;
        }

        let report = check_source(&p.reader, "sig-orphans").await;
        assert_eq!(findings(&report), [], "no orphans: {:#?}", report.findings);
        assert_eq!(
            errors(&report),
            [(Some("flux-system/orphans-needs-vars"), "render", "postBuild.substituteFrom: Secret/monitoring-vars not found")]
        );
        assert_eq!(
            warnings(&report),
            [(Some("flux-system/orphans-needs-vars"), "could not check 101 live objects that may be this Kustomization's (in its inventory, labelled as applied by it, or labelled app.kubernetes.io/managed-by=flux in a namespace it applies to): not reported orphaned, since it could not be rendered")]
        );
        let entries: Vec<(&str, Option<&str>)> = report
            .kustomizations
            .iter()
            .filter(|k| k.skipped.is_none())
            .map(|k| (k.name.as_str(), k.error.as_deref()))
            .collect();
        assert_eq!(
            entries,
            [("orphans-apps", None), ("orphans-needs-vars", Some("postBuild.substituteFrom: Secret/monitoring-vars not found"))]
        );
        assert_eq!(report.exit_code(), 2);
    });
}

/// A kubeconfig of a ServiceAccount bound to the job's read role without
/// ConfigMaps: a real token, limited by RBAC.
async fn no_configmaps_kubeconfig(
    p: &super::Platform,
    client: &kube::Client,
    resources: &Resources,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "no-configmaps", "namespace": "sig-rbac"}});
    apply(client, resources, &account, "test-setup").await;
    let mut role = super::yaml_objects(&root().join("job/clusterrole.yaml")).remove(0);
    role["metadata"]["name"] = json!("test-drift-read-no-configmaps");
    for rule in role["rules"].as_array_mut().unwrap() {
        if let Some(list) = rule["resources"].as_array_mut() {
            list.retain(|r| r != "configmaps");
        }
    }
    apply(client, resources, &role, "test-setup").await;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "test-drift-no-configmaps"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "test-drift-read-no-configmaps"},
        "subjects": [{"kind": "ServiceAccount", "name": "no-configmaps", "namespace": "sig-rbac"}]});
    apply(client, resources, &binding, "test-setup").await;
    let accounts: Api<DynamicObject> = resources
        .api(
            client,
            &reference("v1", "ServiceAccount", Some("sig-rbac"), "no-configmaps"),
        )
        .0;
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}});
    let answer: Value = accounts
        .create_subresource("token", "no-configmaps", &PostParams::default(), &request)
        .await
        .unwrap();
    let token = answer["status"]["token"].as_str().unwrap().to_string();
    let kubeconfig = dir.join("kubeconfig");
    let text = std::fs::read_to_string(&p.reader)
        .unwrap()
        .replace("readertoken", &token);
    std::fs::write(&kubeconfig, text).unwrap();
    kubeconfig
}

#[test]
fn a_kustomization_with_objects_of_a_type_the_token_may_not_list_could_not_be_checked() {
    // Regression: with a role that cannot list ConfigMaps, the run said
    // "list v1 configmaps: Forbidden" once and every Kustomization rendering
    // ConfigMaps was "in sync" with error null.
    let Some(p) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        namespace(&client, &resources, "sig-rbac").await;
        kustomization(&client, &resources, "rbac-apps", "sig-rbac", json!({}),
            Some(ready(&[("sig-rbac_settings__ConfigMap", "v1"), ("sig-rbac_app__ServiceAccount", "v1")]))).await;
        apply_as_flux(&client, &resources, "rbac-apps", config_map("sig-rbac", "settings", json!({"mode": "fast"}))).await;
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "sig-rbac"}});
        apply_as_flux(&client, &resources, "rbac-apps", account.clone()).await;
        // What can still be read is still checked: a person's label.
        update(&client, &resources, &account, "kubectl-label",
            Patch::Merge(json!({"metadata": {"labels": {"debug": "true"}}}))).await;
        no_configmaps_kubeconfig(p, &client, &resources, dir.path()).await
    });
    let report = runtime().block_on(check_source(&kubeconfig, "sig-rbac"));
    let errors = errors(&report);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, None);
    assert!(
        errors[0]
            .2
            .starts_with("list v1 configmaps: Forbidden (403): "),
        "{}",
        errors[0].2
    );
    assert_eq!(
        errors[1],
        (
            Some("flux-system/rbac-apps"),
            "live",
            "could not check: v1 configmaps forbidden"
        )
    );
    let entry = report
        .kustomizations
        .iter()
        .find(|k| k.name == "rbac-apps")
        .unwrap();
    assert_eq!(
        entry.error.as_deref(),
        Some("could not check: v1 configmaps forbidden")
    );
    assert_eq!(
        findings(&report),
        [(
            "flux-system/rbac-apps".to_string(),
            "ServiceAccount/sig-rbac/app".to_string(),
            "modified",
            false,
            String::new()
        )]
    );
    assert_eq!(report.exit_code(), 2);

    let repo = root().join("tests/cluster/signal-repo");
    let out = TestCommand::new()
        .args(["check", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "--source",
            "flux-system/sig-rbac",
        ])
        .output();
    assert_eq!(out.code, 2, "{}", out.stderr);
    let text = out.stdout;
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("flux-system/rbac-apps "))
        .take(3)
        .collect();
    assert_eq!(
        section[1], "  could not check: v1 configmaps forbidden",
        "{text}"
    );
    assert!(
        section[2].contains("modified  ServiceAccount/sig-rbac/app"),
        "{text}"
    );
    assert!(!text.contains("in sync"), "{text}");
}

#[test]
fn an_object_two_kustomizations_apply_is_one_overlap_finding_not_an_edit() {
    // Regression: each object a root's kustomization also included was
    // "modified kustomize.toolkit.fluxcd.io/name overlap-root → overlap-shared,
    // by kustomize-controller — revert the manual change".
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        namespace(&client, &resources, "sig-overlap").await;
        let shared = "sig-overlap_shared-settings__ConfigMap";
        kustomization(&client, &resources, "overlap-root", "sig-overlap", json!({}),
            Some(ready(&[(shared, "v1"), ("sig-overlap_root-settings__ConfigMap", "v1")]))).await;
        kustomization(&client, &resources, "overlap-shared", "sig-overlap", json!({}),
            Some(ready(&[(shared, "v1")]))).await;
        apply_as_flux(&client, &resources, "overlap-root", config_map("sig-overlap", "root-settings", json!({"mode": "slow"}))).await;
        // Applied by both, the last one wins the owner labels.
        apply_as_flux(&client, &resources, "overlap-root", config_map("sig-overlap", "shared-settings", json!({"mode": "fast"}))).await;
        apply_as_flux(&client, &resources, "overlap-shared", config_map("sig-overlap", "shared-settings", json!({"mode": "fast"}))).await;

        let report = check_source(&p.reader, "sig-overlap").await;
        assert_eq!(errors(&report), []);
        let overlap = "applied by two Flux Kustomizations (flux-system/overlap-root and flux-system/overlap-shared, both in their inventories): they overwrite each other on every reconcile; remove it from one of them";
        assert_eq!(
            findings(&report),
            [("flux-system/overlap-root".to_string(), "ConfigMap/sig-overlap/shared-settings".to_string(), "overlap", false, overlap.to_string())]
        );
        assert_eq!(report.exit_code(), 1);
        let f = &report.findings[0];
        assert_eq!(f.owner.as_str(), "flux");
        assert_eq!(
            f.remedy,
            "keep the object in one Kustomization's path in git (this one's is ./overlap-root) and remove it from the others', so that one of them applies it"
        );

        // A person's edit of it is still an edit, reported once.
        let cm = config_map("sig-overlap", "shared-settings", json!({}));
        update(&client, &resources, &cm, "kubectl-edit", Patch::Merge(json!({"data": {"mode": "debug"}}))).await;
        let report = check_source(&p.reader, "sig-overlap").await;
        let rows: Vec<(String, &str, Vec<Change>)> = report
            .findings
            .iter()
            .map(|f| (f.object.to_string(), f.drift.as_str(),
                      f.changes.iter().map(|c| (c.path.clone(), c.manager.clone())).collect()))
            .collect();
        assert_eq!(
            rows,
            [
                ("ConfigMap/sig-overlap/shared-settings".to_string(), "overlap", vec![]),
                ("ConfigMap/sig-overlap/shared-settings".to_string(), "modified",
                 vec![("/data/mode".to_string(), Some("kubectl-edit".to_string()))]),
            ]
        );
    });
}

#[test]
fn a_failing_kustomization_does_not_report_objects_it_never_applied_as_modified() {
    // Regression: the kube-system Namespace a failing Kustomization lists was
    // "modified: annotations {prune: disabled} → null by None".
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        let message = "Widget/kube-system/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"";
        kustomization(&client, &resources, "unapplied", "sig-unapplied", json!({}),
            Some(json!({"lastAttemptedRevision": "main@sha1:0b7e3f9a", "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
                                "message": message, "lastTransitionTime": "2026-11-29T03:00:00Z",
                                "observedGeneration": 1}]}))).await;
        let report = check_source(&p.reader, "sig-unapplied").await;
        assert_eq!(errors(&report), []);
        let failing = format!("not applied: Kustomization flux-system/unapplied is failing since 2026-11-29T03:00:00Z: ReconciliationFailed: {message}");
        assert_eq!(
            findings(&report),
            [
                ("flux-system/unapplied".to_string(), "Namespace/kube-system".to_string(), "modified", true,
                 format!("{failing}; it never applied this object (not in its inventory, no field written by Flux)")),
                ("flux-system/unapplied".to_string(), "Widget/kube-system/w".to_string(), "missing", true, failing.clone()),
            ]
        );
        assert_eq!(report.exit_code(), 0);
    });
}

#[test]
fn a_kustomization_flux_never_reconciled_is_a_warning_when_it_cannot_be_rendered() {
    // Regression: a Kustomization just created (no status) whose
    // substituteFrom ConfigMap does not exist yet made the run exit 2.
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        kustomization(&client, &resources, "never-reconciled", "sig-new",
            json!({"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars-new"}]}}),
            None).await;
        let report = check_source(&p.reader, "sig-new").await;
        assert_eq!(errors(&report), []);
        assert_eq!(
            warnings(&report),
            [(Some("flux-system/never-reconciled"), "not yet reconciled by Flux: not checked (it has no status yet), and drift-check could not render it either: postBuild.substituteFrom: ConfigMap/cluster-vars-new not found")]
        );
        assert_eq!(findings(&report), []);
        let entry = report.kustomizations.iter().find(|k| k.name == "never-reconciled").unwrap();
        assert_eq!((entry.ready, entry.error.as_deref()), (None, None));
        assert_eq!(report.exit_code(), 0);
        let text = report.render(drift_check::report::Format::Text);
        assert!(
            text.contains("flux-system/never-reconciled (./never-reconciled): 0 objects\n  not checked (see its warning above)\n"),
            "{text}"
        );
        assert!(!text.contains("in sync"), "{text}");
    });
}
