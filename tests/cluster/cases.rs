//! The fixture platform's cases on the real API server: untouched, every
//! change found in both diff modes, attributed to the real managers, ignore
//! rules, other sources, one LIST per type, the job's roles.

use super::*;

#[test]
fn an_untouched_platform_has_no_finding() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.clean_local), ("server", &p.clean_server)] {
        assert!(report.errors.is_empty(), "{mode}: {:?}", report.errors);
        assert_eq!(
            summary(report),
            vec![],
            "{mode}: server defaults are not drift"
        );
        assert_eq!(
            report.summary.kustomizations, 12,
            "{mode}: six checked; apps, drift-check and the scope and control-plane tests' four skipped"
        );
    }
}

#[test]
fn every_case_is_found_in_both_diff_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        assert!(report.errors.is_empty(), "{mode}: {:?}", report.errors);
        assert_eq!(summary(report), expected(), "{mode}");
        assert_eq!(report.exit_code(), 1, "{mode}");
    }
}

#[test]
fn changed_fields_are_attributed_to_real_managers_in_both_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        let docs = changes(report, "Deployment/docs/docs-portal");
        assert_eq!(
            docs["/spec/replicas"],
            (Some(json!(2)), Some(json!(5)), Some("kubectl-edit".into())),
            "{mode}"
        );
        // kubectl set env's strategic merge patch puts the new variable first.
        assert_eq!(
            docs["/spec/template/spec/containers/0/env/0"],
            (
                None,
                Some(json!({"name": "DEBUG_TOOLBAR", "value": "true"})),
                Some("kubectl-set".into())
            ),
            "{mode}: a field a person added is found in both modes"
        );
        let route = changes(report, "HTTPRoute/tenants/acme-portal");
        let ns = &route["/spec/rules/0/backendRefs/0/namespace"];
        assert_eq!(
            (&ns.0, &ns.1),
            (&Some(json!("acme")), &Some(json!("acme-v18"))),
            "{mode}"
        );
        assert!(
            ns.2.as_deref()
                .unwrap()
                .starts_with("apiextensions.crossplane.io/composed/"),
            "{mode}"
        );
        let secret = changes(report, "Secret/monitoring/alertmanager-matrix");
        assert_eq!(
            secret["/data/webhook-token"].0,
            Some(json!("*** (before)")),
            "{mode}"
        );
        let sa = changes(report, "ServiceAccount/docs/docs-deployer");
        assert_eq!(
            sa["/metadata/labels/debug"],
            (None, Some(json!("true")), Some("kubectl-label".into())),
            "{mode}"
        );
        let role = changes(report, "ClusterRole/platform-viewer");
        assert_eq!(role["/rules"].2.as_deref(), Some("kubectl-patch"), "{mode}");
        let grafana = changes(report, "Deployment/monitoring/grafana");
        assert_eq!(
            grafana["/spec/replicas"].2.as_deref(),
            Some("kube-controller-manager"),
            "{mode}"
        );
    }
}

#[test]
fn a_kustomization_ignore_rule_explains_only_the_path_it_covers_in_both_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        let docs = report
            .findings
            .iter()
            .find(|f| f.object.to_string() == "Deployment/docs/docs-portal")
            .unwrap();
        let explanation = |path: &str| {
            docs.changes
                .iter()
                .find(|c| c.path == path)
                .unwrap_or_else(|| panic!("{mode}: no change at {path}"))
                .explanation
                .as_deref()
        };
        assert_eq!(
            explanation("/metadata/annotations/oncall.planapulse.com~1pager"),
            Some(
                "ignored by Kustomization flux-system/docs spec.ignore[0] (/metadata/annotations/oncall.planapulse.com~1pager)"
            ),
            "{mode}"
        );
        assert_eq!(explanation("/spec/replicas"), None, "{mode}");
        assert!(!docs.explained, "{mode}: the kubectl edit is still drift");
    }
}

#[test]
fn kustomizations_of_a_source_not_in_the_cluster_are_skipped_with_the_reason() {
    // Every other source is fetched from the cluster; one whose object is
    // not there (Flux would report the Kustomization failing) is skipped.
    let Some(p) = platform() else { return };
    let mut a = args(&p.admin);
    a.source = Some("flux-system/plana-pulse-infra".into());
    let report = runtime().block_on(check(&a, DiffMode::Local));
    let apps = report
        .kustomizations
        .iter()
        .find(|k| k.name == "apps")
        .unwrap();
    assert_eq!(
        apps.skipped.as_deref(),
        Some(
            "its source GitRepository/flux-system/apps is not in the cluster: there is nothing to fetch it from"
        )
    );
    assert_eq!(summary(&report), expected());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn reads_use_one_list_per_type_not_one_get_per_object() {
    let Some(p) = platform() else { return };
    let requests = p.drift_local.run.api_requests.unwrap();
    // ClusterRole, ClusterRoleBinding, ServiceAccount, NetworkPolicy, HTTPRoute, XRD, Composition,
    // Deployment, HPA, Service, ConfigMap, Secret, HelmRelease + Kustomization; and for what the
    // HelmRelease deployed: StatefulSet, DaemonSet, Ingress, CronJob, Job.
    let types = 19;
    let objects: usize = p.drift_local.summary.objects;
    assert!(objects > 25);
    assert!(requests <= 2 * types + 7 + 12, "{requests} requests");
    // The same types, fewer objects (the deleted binding): the same requests.
    assert_eq!(p.clean_local.run.api_requests, Some(requests));
}

#[test]
fn the_job_read_only_cluster_role_is_enough_for_local_mode() {
    let Some(p) = platform() else { return };
    let report = runtime().block_on(check(&args(&p.reader), DiffMode::Local));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(summary(&report), expected());
}

#[test]
fn server_mode_needs_the_documented_patch_permission() {
    let Some(p) = platform() else { return };
    let denied = runtime().block_on(check(&args(&p.reader), DiffMode::Server));
    assert_eq!(denied.exit_code(), 2);
    assert!(
        denied
            .errors
            .iter()
            .all(|e| e.stage == "dry-run" && e.message.contains("(403)")),
        "{:?}",
        denied.errors
    );
    let allowed = runtime().block_on(check(&args(&p.server), DiffMode::Server));
    assert!(allowed.errors.is_empty(), "{:?}", allowed.errors);
    assert_eq!(summary(&allowed), expected());
    // RBAC's escalation check applies to dry-runs: a role granting what the
    // job does not hold is compared locally, with a warning.
    let escalation: Vec<_> = allowed
        .warnings
        .iter()
        .filter(|w| w.message.contains("server-side dry-run forbidden"))
        .collect();
    assert_eq!(escalation.len(), 1, "{:?}", allowed.warnings);
    assert!(
        escalation[0]
            .message
            .starts_with("ClusterRole/platform-viewer: server-side dry-run forbidden"),
        "{}",
        escalation[0].message
    );
}
