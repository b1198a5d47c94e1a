//! `drift-check render`: offline from the repo or a file (no cluster, no
//! snapshot, like `flux build ks --dry-run`), and postBuild substitution
//! through the binary (strict by default since Flux 2.9, and its opt-out).

use crate::util::{Output, Scratch, TestCommand};

/// `render` with no kubeconfig, no snapshot, and an empty HOME (so no
/// `~/.kube/config` either): only `PATH` comes from the test's environment.
fn render_offline(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    TestCommand::new()
        .env("HOME", home.path())
        .envs(env)
        .arg("render")
        .args(args)
        .output()
}

/// The Kustomizations a render's output shows, in order.
fn kustomization_headers(stdout: &str) -> Vec<&str> {
    let mut headers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# Kustomization "))
        .collect();
    headers.dedup();
    headers
}

#[test]
fn render_from_the_kustomizations_dir_needs_no_cluster_and_no_snapshot() {
    let out = render_offline(
        &[
            "--repo",
            "fixtures/infra-repo",
            "--kustomizations-dir",
            "clusters/prod",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        kustomization_headers(&out.stdout),
        [
            "flux-system/crossplane",
            "flux-system/docs",
            "flux-system/monitoring",
            "flux-system/network-policies",
            "flux-system/platform-routes",
            "flux-system/rbac-system",
        ]
    );
    // postBuild.substitute is applied; nothing says a cluster was looked for.
    assert!(
        out.stdout.contains("value: grafana.planapulse.com"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("kube"), "{}", out.stderr);
    assert!(!out.stderr.contains("note:"), "{}", out.stderr);
}

#[test]
fn render_of_a_kustomization_file_needs_no_cluster_and_no_snapshot() {
    let out = render_offline(
        &[
            "--repo",
            "fixtures/infra-repo",
            "--kustomization-file",
            "fixtures/infra-repo/clusters/prod/docs.yaml",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(kustomization_headers(&out.stdout), ["flux-system/docs"]);
    assert!(
        out.stdout
            .contains("kustomize.toolkit.fluxcd.io/namespace: flux-system\n  namespace: docs\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_kustomization_file_without_a_kustomization_says_so() {
    let out = render_offline(
        &[
            "--repo",
            "fixtures/infra-repo",
            "--kustomization-file",
            "fixtures/drift-check.yaml",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "drift-check: discover: fixtures/drift-check.yaml: no Flux Kustomization (kind: Kustomization, apiVersion: kustomize.toolkit.fluxcd.io/v1) in this file"
        ),
        "{}",
        out.stderr
    );
}

/// A repo whose `apps` Kustomization takes `region` from a ConfigMap only.
fn substitute_from_repo() -> (Scratch, String) {
    let scratch = Scratch::new();
    scratch.write(
        "infra-repo/apps/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  cluster: ${cluster}\n  region: ${region}\n  zone: ${zone:=ch-gva-2}\n",
    );
    let file = scratch.dir.path().join("apps.yaml");
    std::fs::write(
        &file,
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: infra\n  postBuild:\n    substitute:\n      cluster: prod\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-vars\n",
    )
    .unwrap();
    (scratch, file.to_string_lossy().into_owned())
}

#[test]
fn offline_substitute_from_is_not_read_and_strict_substitution_refuses_what_only_it_sets() {
    let (scratch, file) = substitute_from_repo();
    let repo = scratch.repo();
    let args = [
        "--repo",
        repo.to_str().unwrap(),
        "--kustomization-file",
        &file,
    ];
    let out = render_offline(&args, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().filter(|l| l.contains("note:")).count(),
        1,
        "said once: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "drift-check: note: no cluster and no --live-snapshot: postBuild.substituteFrom is not read (as `flux build ks --dry-run`), only postBuild.substitute is used, in flux-system/apps; a variable only substituteFrom sets is an error under strict substitution"
        ),
        "{}",
        out.stderr
    );
    // Strict by default, as kustomize-controller v1.9: Flux's own words.
    assert!(
        out.stderr.contains(
            "drift-check: render flux-system/apps: post build failed for 'ConfigMap.v1.[noGrp]/settings': envsubst error: variable substitution failed: variable not set (strict mode): \"region\""
        ),
        "{}",
        out.stderr
    );

    // The opt-out, by flag and by environment: unset renders empty.
    let lenient = [
        render_offline(&[&args[..], &["--strict-substitution=false"]].concat(), &[]),
        render_offline(&args, &[("DRIFT_CHECK_STRICT_SUBSTITUTION", "false")]),
    ];
    for out in lenient {
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout
                .contains("data:\n  cluster: prod\n  region: null\n  zone: ch-gva-2\n"),
            "{}",
            out.stdout
        );
        assert!(
            out.stderr
                .contains("; a variable only substituteFrom sets renders empty"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn strict_substitution_false_in_the_config_file_is_the_opt_out_and_the_flag_wins() {
    let (scratch, file) = substitute_from_repo();
    let repo = scratch.repo();
    let config = scratch.dir.path().join("drift-check.yaml");
    std::fs::write(&config, "strictSubstitution: false\n").unwrap();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--repo",
        repo.to_str().unwrap(),
        "--kustomization-file",
        &file,
    ];
    assert_eq!(render_offline(&args, &[]).code, 0);
    let strict = render_offline(&[&args[..], &["--strict-substitution"]].concat(), &[]);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
    assert!(
        strict.stderr.contains("variable not set (strict mode)"),
        "{}",
        strict.stderr
    );
}
