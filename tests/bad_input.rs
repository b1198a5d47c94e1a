//! Bad input: one clear error naming the file or field, the other
//! Kustomizations still checked, and exit code 2 only when something could
//! not be checked.

use crate::util::{Scratch, args, check, run};

fn names(report: &drift_check::report::Report) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| f.object.to_string())
        .collect()
}

#[test]
fn malformed_yaml_in_one_kustomization_names_the_file_and_the_rest_is_checked() {
    let scratch = Scratch::new();
    scratch.write(
        "infra-repo/infra/k8s/monitoring/grafana.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: [name: grafana\n",
    );
    let report = check(&args(&scratch.repo(), &scratch.snapshot()));
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let error = &report.errors[0];
    assert_eq!(
        (error.kustomization.as_deref(), error.stage.as_str()),
        (Some("flux-system/monitoring"), "render")
    );
    assert!(
        error.message.contains("monitoring/grafana.yaml") && error.message.contains("line"),
        "{}",
        error.message
    );
    assert!(names(&report).contains(&"Deployment/docs/docs-portal".to_string()));
    assert!(
        !names(&report).iter().any(|n| n.contains("monitoring")),
        "no findings, no orphans from the broken one"
    );
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn a_kustomization_whose_path_does_not_exist_is_an_error_for_it_alone() {
    let scratch = Scratch::new();
    scratch.edit(
        "live/prod/flux-system.yaml",
        "path: ./infra/k8s/rbac-system",
        "path: ./infra/k8s/rbac",
    );
    let report = check(&args(&scratch.repo(), &scratch.snapshot()));
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        report.errors[0].kustomization.as_deref(),
        Some("flux-system/rbac-system")
    );
    assert!(
        report.errors[0].message.contains("infra/k8s/rbac"),
        "{}",
        report.errors[0].message
    );
    assert!(names(&report).contains(&"Deployment/docs/docs-portal".to_string()));
    assert!(
        !names(&report).iter().any(|n| n.starts_with("ClusterRole")),
        "{:?}",
        names(&report)
    );
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn a_malformed_snapshot_file_names_the_file() {
    let scratch = Scratch::new();
    scratch.write("live/prod/zz-broken.yaml", "items: [\n");
    let report = check(&args(&scratch.repo(), &scratch.snapshot()));
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].message.contains("zz-broken.yaml: "),
        "{}",
        report.errors[0].message
    );
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn an_unknown_config_key_is_rejected_by_name() {
    let scratch = Scratch::new();
    scratch.write("bad.yaml", "cluster: prod\nignroe: []\n");
    let config = scratch.dir.path().join("bad.yaml");
    let out = run(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--repo",
        "fixtures/infra-repo",
        "--live-snapshot",
        "fixtures/live/prod",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown field `ignroe`") && out.stderr.contains("bad.yaml"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_missing_repo_directory_is_one_error_naming_it() {
    let out = run(&[
        "check",
        "--repo",
        "no/such/repo",
        "--live-snapshot",
        "fixtures/live/prod",
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 2);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["errors"][0]["stage"], "source");
    assert_eq!(
        report["errors"][0]["message"],
        "no/such/repo: not a directory (--repo takes the infra repo's URL or checkout)"
    );
}

#[test]
fn kustomizations_come_from_the_repo_when_the_snapshot_has_none() {
    let scratch = Scratch::new();
    std::fs::remove_file(scratch.snapshot().join("flux-system.yaml")).unwrap();
    let mut a = args(&scratch.repo(), &scratch.snapshot());
    let report = check(&a);
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].message.contains("--kustomizations-dir"),
        "{}",
        report.errors[0].message
    );
    a.kustomizations_dir = Some("clusters/prod".into());
    let report = check(&a);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.summary.kustomizations, 6);
    assert!(names(&report).contains(&"Deployment/docs/docs-portal".to_string()));
}

#[test]
fn an_unknown_kustomization_name_is_an_error_listing_the_known_ones() {
    let mut a = args(
        &crate::util::root().join("fixtures/infra-repo"),
        &crate::util::root().join("fixtures/live/prod"),
    );
    a.kustomizations = vec!["nope".into()];
    let report = check(&a);
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0]
            .message
            .starts_with("Kustomization nope not found (known: flux-system/crossplane"),
        "{}",
        report.errors[0].message
    );
}
