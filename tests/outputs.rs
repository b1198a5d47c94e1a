//! The binary's outputs: every format names every case, and never a Secret value.

use base64::Engine;

use crate::util::{run, service};

const CHECK: &[&str] = &[
    "check",
    "--config",
    "fixtures/drift-check.yaml",
    "--repo",
    "fixtures/infra-repo",
    "--live-snapshot",
    "fixtures/live/prod",
];

fn check(format: &str) -> crate::util::Output {
    let mut args = CHECK.to_vec();
    args.extend(["-o", format]);
    run(&args)
}

#[test]
fn no_output_format_or_log_contains_a_secret_value() {
    let secrets = ["s3cr3t-from-git", "hunter2-changed-live"];
    let mut needles: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    needles.extend(
        secrets
            .iter()
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
    );
    for format in ["text", "json", "markdown", "html"] {
        let out = check(format);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        for needle in &needles {
            assert!(
                !out.stdout.contains(needle.as_str()),
                "{format} stdout contains {needle}"
            );
            assert!(
                !out.stderr.contains(needle.as_str()),
                "{format} logs contain {needle}"
            );
        }
        assert!(
            out.stdout.contains("alertmanager-matrix"),
            "{format} does not name the Secret"
        );
    }
    let rendered = run(&[
        "render",
        "--repo",
        "fixtures/infra-repo",
        "--live-snapshot",
        "fixtures/live/prod",
        "-k",
        "monitoring",
    ]);
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    assert!(
        rendered.stdout.contains("name: alertmanager-matrix"),
        "{}",
        rendered.stdout
    );
    for needle in &needles {
        assert!(
            !rendered.stdout.contains(needle.as_str()),
            "render shows {needle}"
        );
        assert!(
            !rendered.stderr.contains(needle.as_str()),
            "render logs {needle}"
        );
    }
}

#[test]
fn the_text_report_names_every_case_grouped_by_kustomization() {
    let out = check("text");
    assert_eq!(out.code, 1);
    for expected in [
        "flux-system/docs (./infra/k8s/docs",
        "UNEXPLAINED modified  Deployment/docs/docs-portal  (owner: flux)",
        "/spec/replicas: 2 → 5  by kubectl-edit at 2026-11-20T08:15:00Z",
        "/spec/template/spec/containers/0/env/1: added {\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"}  by kubectl-set",
        "UNEXPLAINED missing   ClusterRoleBinding/system:konnectivity-server  (owner: flux)",
        "UNEXPLAINED orphaned  NetworkPolicy/docs/allow-debug-ingress  (owner: flux)",
        "UNEXPLAINED conflict  HTTPRoute/tenants/acme-portal  (owner: crossplane)",
        "UNEXPLAINED modified  Secret/monitoring/alertmanager-matrix  (owner: flux)",
        "explained   modified  Deployment/monitoring/grafana",
        "explained   modified  Composition/planaclient-v18",
        "warning: Kustomization flux-system/crossplane is suspended",
        "remedy: Flux and Crossplane both manage this object: patch the composite PLANAClient/acme-x7k2p",
    ] {
        assert!(
            out.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_markdown_report_has_a_table_per_kustomization() {
    let out = check("markdown");
    assert!(
        out.stdout.starts_with("# drift-check: cluster `prod`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("## flux-system/docs — `./infra/k8s/docs`")
    );
    assert!(
        out.stdout.contains(
            "| **unexplained** | conflict | `HTTPRoute/tenants/acme-portal` | crossplane |"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn the_json_report_follows_the_v1_schema() {
    let out = check("json");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["schema"], "drift-check/v1");
    for key in ["id", "started_at", "finished_at", "cluster", "source"] {
        assert!(report["run"].get(key).is_some(), "run.{key}");
    }
    assert_eq!(report["run"]["cluster"], "prod");
    let k = &report["kustomizations"][0];
    for key in [
        "namespace",
        "name",
        "path",
        "revision",
        "applied_revision",
        "suspended",
        "objects",
        "error",
    ] {
        assert!(k.get(key).is_some(), "kustomizations[].{key}");
    }
    let f = &report["findings"][0];
    for key in [
        "kustomization",
        "object",
        "drift",
        "owner",
        "explained",
        "explanation",
        "changes",
        "fingerprint",
    ] {
        assert!(f.get(key).is_some(), "findings[].{key}");
    }
    for key in ["apiVersion", "kind", "namespace", "name"] {
        assert!(f["object"].get(key).is_some(), "object.{key}");
    }
}

#[test]
fn the_readme_first_command_is_the_one_tested_here() {
    let readme = std::fs::read_to_string(crate::util::root().join("README.md")).unwrap();
    let first = readme.lines().find(|l| l.starts_with("cargo run")).unwrap();
    assert_eq!(first, format!("cargo run -q -- {}", CHECK.join(" ")));
}

#[test]
fn progress_names_each_stage_with_counts() {
    let mut args = vec!["--progress", "always"];
    args.extend(CHECK);
    let out = run(&args);
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(": ") && !l.starts_with('{'))
        .collect();
    assert_eq!(
        lines,
        [
            "discover: 6 Kustomizations",
            "render: 30 objects (0 Kustomizations failed)",
            // 13 rendered types, and 5 more for what a HelmRelease deployed.
            "fetch: 32 live objects of 18 types",
            "diff: 10 findings, 6 unexplained",
        ]
    );
    let quiet = run(&[&["--progress", "never"][..], CHECK].concat());
    assert!(!quiet.stderr.contains("discover:"), "{}", quiet.stderr);
}

#[test]
fn the_external_kustomize_binary_gives_the_same_report() {
    let Some(binary) = service("DRIFT_CHECK_TEST_KUSTOMIZE_BIN") else {
        return;
    };
    let native = check("json");
    let mut args = CHECK.to_vec();
    args.extend(["-o", "json", "--kustomize-bin", &binary]);
    let external = run(&args);
    assert_eq!(external.code, 1, "{}", external.stderr);
    let native: serde_json::Value = serde_json::from_str(&native.stdout).unwrap();
    let external: serde_json::Value = serde_json::from_str(&external.stdout).unwrap();
    assert_eq!(
        crate::util::summary_of_json(&external),
        crate::util::summary_of_json(&native)
    );
    assert_eq!(external["summary"], native["summary"]);
}

/// `check`'s three outputs on the fixtures, byte for byte, as recorded in
/// `fixtures/golden/` (the run's id and times aside): a refactoring that
/// changes one byte of a report fails here. After an intended change, record
/// them again with `DRIFT_CHECK_RECORD_GOLDEN=1 cargo test golden`.
#[test]
fn check_outputs_on_the_fixtures_match_the_golden_files() {
    let run_id = regex::Regex::new(r#""id": "[0-9a-f-]{36}""#).unwrap();
    let time = regex::Regex::new(r#""(started_at|finished_at)": "[^"]*""#).unwrap();
    for (format, file) in [
        ("json", "check.json"),
        ("text", "check.txt"),
        ("markdown", "check.md"),
    ] {
        let out = check(format);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        let stdout = run_id.replace(&out.stdout, r#""id": "<run id>""#);
        let stdout = time.replace_all(&stdout, r#""$1": "<time>""#);
        let path = std::path::Path::new("fixtures/golden").join(file);
        if std::env::var_os("DRIFT_CHECK_RECORD_GOLDEN").is_some() {
            std::fs::write(&path, stdout.as_bytes()).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        assert!(
            stdout == golden,
            "{format} output differs from {}:\n{}",
            path.display(),
            first_difference(&golden, &stdout)
        );
    }
}

/// The first line that differs, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let (mut want_lines, mut got_lines) = (want.lines(), got.lines());
    for line in 1.. {
        match (want_lines.next(), got_lines.next()) {
            (None, None) => return "(only line endings differ)".into(),
            (w, g) if w != g => {
                return format!("line {line}:\n  want: {w:?}\n  got:  {g:?}");
            }
            _ => {}
        }
    }
    unreachable!()
}

/// A repo whose ConfigMap gets `${PW}` (2 bytes, from a Secret) and `${PLAIN}`
/// (the same 2 bytes, from a ConfigMap), and a snapshot where the live copy
/// was changed by hand.
fn substituted_from_a_secret() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| crate::util::write_file(dir.path(), relative, text);
    write(
        "repo/apps/kustomization.yaml",
        "resources: [settings.yaml]\n",
    );
    write(
        "repo/apps/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: apps}\n\
         data: {password: \"${PW}\", greeting: \"${PLAIN}\", literal: zq, url: \"https://h/${PW}\"}\n",
    );
    write(
        "live/flux.yaml",
        r#"apiVersion: v1
kind: List
items:
- apiVersion: kustomize.toolkit.fluxcd.io/v1
  kind: Kustomization
  metadata: {name: apps, namespace: flux-system}
  spec:
    path: ./apps
    prune: true
    sourceRef: {kind: GitRepository, name: infra}
    postBuild:
      substituteFrom:
      - {kind: Secret, name: creds}
      - {kind: ConfigMap, name: plain}
- apiVersion: v1
  kind: Secret
  metadata: {name: creds, namespace: flux-system}
  data: {PW: enE=}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: plain, namespace: flux-system}
  data: {PLAIN: zq}
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    namespace: apps
    labels: {kustomize.toolkit.fluxcd.io/name: apps, kustomize.toolkit.fluxcd.io/namespace: flux-system}
  data: {password: xy, greeting: zz, literal: zq, url: "https://h/xy"}
"#,
    );
    dir
}

#[test]
fn render_masks_a_short_secret_value_where_it_was_substituted_and_nowhere_else() {
    let dir = substituted_from_a_secret();
    let repo = dir.path().join("repo");
    let live = dir.path().join("live");
    let args = [
        "--repo",
        repo.to_str().unwrap(),
        "--live-snapshot",
        live.to_str().unwrap(),
    ];
    let rendered = run(&[&["render"], &args[..]].concat());
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    let data = rendered
        .stdout
        .lines()
        .skip_while(|l| *l != "data:")
        .take(5)
        .collect::<Vec<_>>();
    assert_eq!(
        data,
        [
            "data:",
            "  password: \"***\"",
            "  greeting: zq",
            "  literal: zq",
            "  url: \"***\""
        ],
        "{}",
        rendered.stdout
    );

    let checked = run(&[&["check", "-o", "json"], &args[..]].concat());
    let report: serde_json::Value = serde_json::from_str(&checked.stdout).unwrap();
    let changes: Vec<_> = report["findings"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap(),
                c["desired"].clone(),
                c["live"].clone(),
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        changes,
        [
            (
                "/data/password",
                json!("*** (before)"),
                json!("*** (after)")
            ),
            ("/data/greeting", json!("zq"), json!("zz")),
            ("/data/url", json!("*** (before)"), json!("*** (after)")),
        ],
        "{}",
        checked.stdout
    );
}
