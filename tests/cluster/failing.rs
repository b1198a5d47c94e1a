//! Kustomizations Flux reports failing: one warning each, never a flood of
//! missing objects.

use super::*;

/// A Kustomization Flux cannot apply, of the `failing-infra` source: its
/// manifest and the status kustomize-controller writes (Ready=False, never
/// applied: no lastAppliedRevision, no inventory).
async fn apply_failing(
    client: &Client,
    resources: &Resources,
    name: &str,
    reason: &str,
    message: &str,
) {
    let post_build = (name == "needs-secret")
        .then(|| json!({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]}));
    let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true, "postBuild": post_build,
                 "sourceRef": {"kind": "GitRepository", "name": "failing-infra"}}});
    apply(client, resources, &manifest, "kustomize-controller").await;
    let revision = "main@sha1:0b7e3f9a1c2d4e5f60718293a4b5c6d7e8f90a1b";
    let status = json!({"status": {"lastAttemptedRevision": revision, "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "False", "reason": reason, "message": message,
                        "lastTransitionTime": "2026-11-29T03:00:00Z", "observedGeneration": 1}]}});
    let (api, _) = resources.api(client, &manifest);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[test]
fn failing_kustomizations_are_one_warning_each_not_a_flood_of_missing_objects() {
    // Regression: a Kustomization Flux could not apply gave one "missing,
    // find out who deleted it" per object, and a missing substituteFrom
    // Secret made the whole run exit 2.
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        apply(&client, &resources, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "failing"}}), "test-setup").await;
        apply_failing(&client, &resources, "needs-crd", "ReconciliationFailed",
            "Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"").await;
        apply_failing(&client, &resources, "needs-secret", "BuildFailed",
            "post build failed: substitute from 'Secret/cluster-secrets' error: secrets \"cluster-secrets\" not found").await;
        let mut a = args(&p.reader);
        a.config = None;
        a.repo = vec![root().join("tests/cluster/failing-repo")];
        a.source = Some("flux-system/failing-infra".into());
        a.kustomizations = vec!["needs-crd".into(), "needs-secret".into()];
        let report = check(&a, DiffMode::Local).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.exit_code(), 0, "{:#?}", report.findings);
        let mut findings: Vec<(String, &str, bool, String)> = report
            .findings
            .iter()
            .map(|f| (f.object.to_string(), f.drift.as_str(), f.explained, f.explanation.clone().unwrap_or_default()))
            .collect();
        findings.sort();
        let not_applied = "not applied: Kustomization flux-system/needs-crd is failing since 2026-11-29T03:00:00Z: ReconciliationFailed: Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"";
        assert_eq!(
            findings,
            [
                ("ConfigMap/failing/widget-settings".to_string(), "missing", true, not_applied.to_string()),
                ("Widget/failing/w".to_string(), "missing", true, not_applied.to_string()),
            ]
        );
        let mut warnings: Vec<(Option<&str>, &str)> = report
            .warnings
            .iter()
            .map(|w| (w.kustomization.as_deref(), w.message.as_str()))
            .collect();
        warnings.sort();
        assert_eq!(
            warnings,
            [
                (Some("flux-system/needs-crd"), "Kustomization flux-system/needs-crd is failing since 2026-11-29T03:00:00Z (ReconciliationFailed): Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"; objects it never applied are not reported missing; see `flux get kustomization needs-crd -n flux-system`"),
                (Some("flux-system/needs-secret"), "Kustomization flux-system/needs-secret is failing since 2026-11-29T03:00:00Z (BuildFailed): post build failed: substitute from 'Secret/cluster-secrets' error: secrets \"cluster-secrets\" not found; objects it never applied are not reported missing; see `flux get kustomization needs-secret -n flux-system`"),
                (Some("flux-system/needs-secret"), "not checked: Flux reports it failing too (BuildFailed), and drift-check could not render it either: postBuild.substituteFrom: Secret/cluster-secrets not found"),
            ]
        );
        let ready: Vec<(&str, Option<bool>)> = report
            .kustomizations
            .iter()
            .filter(|k| k.skipped.is_none())
            .map(|k| (k.name.as_str(), k.ready))
            .collect();
        assert_eq!(ready, [("needs-crd", Some(false)), ("needs-secret", Some(false))]);
    });
}
