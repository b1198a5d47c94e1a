//! The fixture platform: every case of `fixtures/README.md`, asserted exactly.

use std::sync::LazyLock;

use drift_check::report::Report;
use serde_json::{Value, json};

use crate::util::{fixture_report, summary};

/// The fixture platform's report, computed once for all the tests that read it.
static REPORT: LazyLock<Report> = LazyLock::new(fixture_report);

/// [`REPORT`] as JSON, the way the binary prints it.
static REPORT_JSON: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(&*REPORT).expect("the report serializes"));

/// The finding about one object, as JSON.
fn finding(kind: &str, name: &str) -> &'static Value {
    REPORT_JSON["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["kind"] == kind && f["object"]["name"] == name)
        .unwrap_or_else(|| panic!("no finding for {kind}/{name}"))
}

fn s(text: &str) -> String {
    text.to_string()
}

#[test]
fn the_fixture_platform_has_exactly_the_documented_findings() {
    let got = summary(&REPORT);
    let mut want = vec![
        (
            s("flux-system/crossplane"),
            s("Composition/planaclient-v18"),
            s("modified"),
            s("flux"),
            true,
        ),
        (
            s("flux-system/docs"),
            s("Deployment/docs/docs-portal"),
            s("modified"),
            s("flux"),
            false,
        ),
        (
            s("flux-system/monitoring"),
            s("ConfigMap/monitoring/grafana-dashboards"),
            s("modified"),
            s("flux"),
            true,
        ),
        (
            s("flux-system/monitoring"),
            s("Deployment/monitoring/grafana"),
            s("modified"),
            s("flux"),
            true,
        ),
        (
            s("flux-system/monitoring"),
            s("Deployment/monitoring/prometheus-adapter"),
            s("modified"),
            s("flux"),
            true,
        ),
        (
            s("flux-system/monitoring"),
            s("Secret/monitoring/alertmanager-matrix"),
            s("modified"),
            s("flux"),
            false,
        ),
        (
            s("flux-system/monitoring"),
            s("Deployment/monitoring/prometheus-server"),
            s("modified"),
            s("helm"),
            false,
        ),
        (
            s("flux-system/network-policies"),
            s("NetworkPolicy/docs/allow-debug-ingress"),
            s("orphaned"),
            s("flux"),
            false,
        ),
        (
            s("flux-system/platform-routes"),
            s("HTTPRoute/tenants/acme-portal"),
            s("conflict"),
            s("crossplane"),
            false,
        ),
        (
            s("flux-system/rbac-system"),
            s("ClusterRoleBinding/system:konnectivity-server"),
            s("missing"),
            s("flux"),
            false,
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn the_fixture_report_is_complete_and_error_free() {
    let report = &*REPORT;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.summary.kustomizations, 6);
    assert_eq!(report.summary.unexplained, 6);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn kubectl_patch_of_what_a_helm_release_deployed_is_unexplained_helm_drift() {
    let f = finding("Deployment", "prometheus-server");
    assert_eq!(
        (&f["owner"], &f["drift"], &f["explained"]),
        (&json!("helm"), &json!("modified"), &json!(false))
    );
    assert_eq!(
        f["changes"],
        json!([{"path": "/spec/template/spec/containers/0/args", "op": "replace", "desired": null,
            "live": ["--storage.tsdb.retention.time=90d", "--config.file=/etc/config/prometheus.yml"],
            "manager": "kubectl-patch", "time": "2026-11-24T13:20:00Z", "explanation": null}]),
        "helm-controller's and the deployment controller's fields are not drift"
    );
    assert_eq!(
        f["remedy"],
        "deployed by HelmRelease monitoring/prometheus: change the HelmRelease's values in git (./infra/k8s/monitoring) through a PR instead of the object; to restore the chart's values now: flux reconcile helmrelease prometheus -n monitoring --force"
    );
    // Its untouched Service is no finding.
    assert!(
        REPORT
            .findings
            .iter()
            .all(|f| f.object.to_string() != "Service/monitoring/prometheus-server")
    );
}

#[test]
fn kubectl_edit_of_docs_portal_replicas_is_unexplained() {
    let f = finding("Deployment", "docs-portal");
    let change = f["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/spec/replicas")
        .unwrap();
    assert_eq!(
        change,
        &json!({"path": "/spec/replicas", "op": "replace", "desired": 2, "live": 5,
        "manager": "kubectl-edit", "time": "2026-11-20T08:15:00Z", "explanation": null})
    );
    assert_eq!(
        f["remedy"],
        "revert the manual change and make it through a git PR to ./infra/k8s/docs"
    );
}

#[test]
fn an_env_var_added_with_kubectl_set_is_an_added_field() {
    let f = finding("Deployment", "docs-portal");
    let change = f["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "add")
        .unwrap();
    assert_eq!(change["path"], "/spec/template/spec/containers/0/env/1");
    assert_eq!(
        change["live"],
        json!({"name": "DEBUG_TOOLBAR", "value": "true"})
    );
    assert_eq!(change["desired"], Value::Null);
    assert_eq!(change["manager"], "kubectl-set");
    assert_eq!(change["explanation"], Value::Null);
}

#[test]
fn the_ci_image_bump_is_explained_by_the_config_ignore_rule() {
    let f = finding("Deployment", "docs-portal");
    let change = f["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/spec/template/spec/containers/0/image")
        .unwrap();
    assert_eq!(
        (&change["desired"], &change["live"]),
        (
            &json!("registry.planapulse.com/docs-portal:1.4.0"),
            &json!("registry.planapulse.com/docs-portal:1.4.2")
        )
    );
    assert_eq!(
        change["explanation"],
        "docs-portal images are pushed by the .forgejo pipeline (kubectl set image)"
    );
    assert_eq!(f["changes"].as_array().unwrap().len(), 3);
}

#[test]
fn a_deleted_cluster_role_binding_is_missing() {
    let f = finding("ClusterRoleBinding", "system:konnectivity-server");
    assert_eq!(
        f["changes"],
        json!([{"path": "", "op": "remove", "desired": null, "live": null, "manager": null, "time": null, "explanation": null}])
    );
    assert_eq!(
        f["remedy"],
        "find out who deleted it, then let Flux re-create it: flux reconcile kustomization rbac-system -n flux-system"
    );
}

#[test]
fn a_network_policy_applied_by_hand_with_the_flux_label_is_orphaned() {
    let f = finding("NetworkPolicy", "allow-debug-ingress");
    assert_eq!(f["changes"][0]["manager"], "kubectl-client-side-apply");
    assert_eq!(f["changes"][0]["op"], "add");
    assert!(
        f["message"].as_str().unwrap().contains(
            "network-policies is the only one rendering NetworkPolicy objects in this namespace"
        ),
        "{}",
        f["message"]
    );
}

#[test]
fn an_http_route_rewritten_by_crossplane_is_a_conflict_naming_the_composite() {
    let f = finding("HTTPRoute", "acme-portal");
    let change = f["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/spec/rules/0/backendRefs/0/namespace")
        .unwrap();
    assert_eq!(
        (&change["desired"], &change["live"]),
        (&json!("acme"), &json!("acme-v18"))
    );
    assert_eq!(
        change["manager"],
        "apiextensions.crossplane.io/composed/4f1c2f0e-5b1a-4c47-9d3e-8a2b1c0d9e7f"
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("patch the composite PLANAClient/acme-x7k2p"),
        "{}",
        f["remedy"]
    );
}

#[test]
fn hpa_replicas_are_explained() {
    let f = finding("Deployment", "grafana");
    assert_eq!(
        f["explanation"],
        "replicas are set by a HorizontalPodAutoscaler (kube-controller-manager)"
    );
    assert_eq!(f["changes"][0]["manager"], "kube-controller-manager");
}

#[test]
fn a_change_in_a_suspended_kustomization_is_explained_and_the_suspension_reported() {
    let f = finding("Composition", "planaclient-v18");
    assert_eq!(
        f["explanation"],
        "Kustomization flux-system/crossplane is suspended (since 2026-11-22T17:40:00Z): Flux is not reconciling it"
    );
    let report = &*REPORT;
    let warning = report
        .warnings
        .iter()
        .find(|w| w.kustomization.as_deref() == Some("flux-system/crossplane"))
        .unwrap();
    assert!(
        warning.message.starts_with(
            "Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z"
        ),
        "{}",
        warning.message
    );
    let entry = report
        .kustomizations
        .iter()
        .find(|k| k.name == "crossplane")
        .unwrap();
    assert!(entry.suspended);
}

#[test]
fn a_change_to_an_object_with_reconcile_disabled_is_explained() {
    let f = finding("ConfigMap", "grafana-dashboards");
    assert_eq!(
        f["explanation"],
        "reconciliation is disabled on the object (kustomize.toolkit.fluxcd.io/reconcile: disabled)"
    );
}

#[test]
fn a_rollout_restart_is_explained() {
    let f = finding("Deployment", "prometheus-adapter");
    assert_eq!(
        f["explanation"],
        "kubectl rollout restart (restarts pods, changes no configuration)"
    );
    assert_eq!(f["changes"][0]["manager"], "kubectl-rollout");
}

#[test]
fn a_changed_secret_is_unexplained_and_masked() {
    let f = finding("Secret", "alertmanager-matrix");
    assert_eq!(
        f["changes"],
        json!([{"path": "/data/webhook-token", "op": "replace", "desired": "*** (before)",
        "live": "*** (after)", "manager": "kubectl-edit", "time": f["changes"][0]["time"], "explanation": null}])
    );
}

#[test]
fn fingerprints_are_stable_across_runs() {
    let a: Vec<String> = REPORT
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    let b: Vec<String> = fixture_report()
        .findings
        .into_iter()
        .map(|f| f.fingerprint)
        .collect();
    assert_eq!(a, b);
    let unique: std::collections::BTreeSet<&String> = a.iter().collect();
    assert_eq!(unique.len(), a.len());
}

#[test]
fn the_snapshot_written_by_a_real_api_server_gives_what_the_cluster_gave() {
    // fixtures/live/apiserver-1.36 is scripts/regenerate-snapshot's verbatim
    // dump of the cluster tests' platform on kube-apiserver 1.36: offline, it
    // must give the same findings as the cluster did.
    let args = crate::util::args(
        &crate::util::root().join("fixtures/infra-repo"),
        &crate::util::root().join("fixtures/live/apiserver-1.36"),
    );
    let report = crate::util::check(&args);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let got = summary(&report);
    assert_eq!(got, crate::cluster::expected());
}
