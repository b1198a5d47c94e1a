//! Bad input: one clear error naming the file or field, the other
//! Kustomizations still checked, and exit code 2 only when something could
//! not be checked.

use crate::util::{Scratch, TestCommand, args, check, run};

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

/// Regression: a misspelt field of an ignore rule's target was dropped, so
/// the rule matched every object and explained away all their drift.
#[test]
fn a_misspelt_ignore_target_field_is_rejected_not_widened() {
    let scratch = Scratch::new();
    scratch.write(
        "typo.yaml",
        "cluster: prod\nignore:\n- reason: docs replicas\n  paths: [/spec/replicas]\n  target: {kinds: Deployment, name: docs-portal}\n",
    );
    let config = scratch.dir.path().join("typo.yaml");
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
        out.stderr.contains("typo.yaml")
            && out.stderr.contains("unknown field `kinds`")
            && out.stderr.contains("line 5"),
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

// Issue 12: what a careless or hostile contributor can put in the repo, and
// what can sit in a snapshot directory. Each case runs the binary with a
// deadline: a read that blocks fails the test instead of hanging it.

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// `check -o json` on the scratch copy, within [`DEADLINE`]: the exit code,
/// the report's errors as (stage, kustomization, message), and the report.
fn check_within(
    scratch: &Scratch,
    extra: &[&str],
) -> (i32, Vec<(String, String, String)>, serde_json::Value) {
    let out = TestCommand::new()
        .args([
            "check",
            "--config",
            "fixtures/drift-check.yaml",
            "-o",
            "json",
        ])
        .arg("--repo")
        .arg(scratch.repo())
        .arg("--live-snapshot")
        .arg(scratch.snapshot())
        .args(extra)
        .output_within(DEADLINE);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let errors = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                text(&e["stage"]),
                text(&e["kustomization"]),
                text(&e["message"]),
            )
        })
        .collect();
    (out.code, errors, report)
}

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn symlink(target: &str, link: &std::path::Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// The error of one broken Kustomization (render) or of the snapshot (live).
fn one_error(stage: &str, kustomization: &str, message: &str) -> Vec<(String, String, String)> {
    vec![(stage.into(), kustomization.into(), message.into())]
}

#[test]
fn a_fifo_anywhere_it_reads_is_refused_by_name_without_blocking() {
    let generated = "infra-repo/infra/k8s/network-policies";
    let cases = [
        (
            format!("{generated}/.sourceignore"),
            one_error(
                "render",
                "flux-system/network-policies",
                "infra/k8s/network-policies/.sourceignore: refused: a FIFO is not a regular file",
            ),
        ),
        (
            format!("{generated}/zz.yaml"),
            one_error(
                "render",
                "flux-system/network-policies",
                "infra/k8s/network-policies/zz.yaml: refused: a FIFO is not a regular file",
            ),
        ),
        (
            "infra-repo/infra/k8s/docs/service.yaml".to_string(),
            one_error(
                "render",
                "flux-system/docs",
                "infra/k8s/docs/service.yaml: refused: a FIFO is not a regular file",
            ),
        ),
    ];
    for (fifo, want) in cases {
        let scratch = Scratch::new();
        mkfifo(&scratch.dir.path().join(&fifo));
        let (code, errors, _) = check_within(&scratch, &[]);
        assert_eq!(errors, want, "{fifo}");
        assert_eq!(code, 2, "{fifo}");
    }
    let scratch = Scratch::new();
    mkfifo(&scratch.snapshot().join("zz.yaml"));
    let (code, errors, report) = check_within(&scratch, &[]);
    let message = format!(
        "{}: refused: a FIFO is not a regular file",
        scratch.snapshot().join("zz.yaml").display()
    );
    assert_eq!(errors, one_error("live", "", &message));
    assert_eq!(report["summary"]["kustomizations"], 6);
    assert_eq!(code, 2);
}

#[test]
fn symlink_loops_in_the_snapshot_and_the_kustomizations_dir_load_everything_once() {
    let clean = Scratch::new();
    std::fs::remove_file(clean.snapshot().join("flux-system.yaml")).unwrap();
    let (_, errors, want) = check_within(&clean, &["--kustomizations-dir", "clusters/prod"]);
    assert!(errors.is_empty(), "{errors:?}");

    let scratch = Scratch::new();
    std::fs::remove_file(scratch.snapshot().join("flux-system.yaml")).unwrap();
    let clusters = scratch.repo().join("clusters/prod");
    for dir in [scratch.snapshot(), clusters] {
        symlink(".", &dir.join("self-a"));
        symlink(".", &dir.join("self-b"));
        symlink("..", &dir.join("up"));
    }
    let (code, errors, report) = check_within(&scratch, &["--kustomizations-dir", "clusters/prod"]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(report["summary"]["kustomizations"], 6);
    assert_eq!(report["findings"], want["findings"]);
    assert_eq!(report["summary"], want["summary"]);
    assert_eq!(code, want_code(&want));
}

fn want_code(report: &serde_json::Value) -> i32 {
    if report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["explained"] != true)
    {
        1
    } else {
        0
    }
}

#[test]
fn a_symlink_out_of_the_repo_is_refused_the_same_whether_its_target_exists_or_not() {
    let generated = "infra/k8s/network-policies";
    let cases = [
        (
            format!("{generated}/passwd.yaml"),
            "flux-system/network-policies",
            format!("{generated}/passwd.yaml: refused: it leads outside the source root"),
        ),
        (
            format!("{generated}/.sourceignore"),
            "flux-system/network-policies",
            format!("{generated}/.sourceignore: refused: it leads outside the source root"),
        ),
        (
            "infra/k8s/docs/service.yaml".to_string(),
            "flux-system/docs",
            "infra/k8s/docs/kustomization.yaml: resources: service.yaml is outside the source root"
                .to_string(),
        ),
    ];
    for (link, kustomization, message) in cases {
        for target in ["/etc/passwd", "/etc/no-such-file-drift-check", "/dev/zero"] {
            let scratch = Scratch::new();
            symlink(target, &scratch.repo().join(&link));
            let (code, errors, report) = check_within(&scratch, &[]);
            assert_eq!(
                errors,
                one_error("render", kustomization, &message),
                "{link} -> {target}"
            );
            assert!(
                !report.to_string().contains("root:x:0"),
                "{link} -> {target}"
            );
            assert_eq!(code, 2);
        }
    }
}

#[test]
fn a_file_over_the_size_limit_or_a_device_is_refused_naming_the_file_and_the_limit() {
    let scratch = Scratch::new();
    let big =
        std::fs::File::create(scratch.repo().join("infra/k8s/network-policies/big.yaml")).unwrap();
    big.set_len(2 * 1024 * 1024).unwrap();
    let config =
        std::fs::read_to_string(crate::util::root().join("fixtures/drift-check.yaml")).unwrap();
    scratch.write(
        "drift-check.yaml",
        &format!("{config}\nlimits:\n  fileBytes: 1048576\n"),
    );
    symlink("/dev/zero", &scratch.snapshot().join("zero.yaml"));
    let out = TestCommand::new()
        .args(["check", "-o", "json", "--config"])
        .arg(scratch.dir.path().join("drift-check.yaml"))
        .arg("--repo")
        .arg(scratch.repo())
        .arg("--live-snapshot")
        .arg(scratch.snapshot())
        .output_within(DEADLINE);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let messages: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            format!(
                "{}: refused: a character device is not a regular file",
                scratch.snapshot().join("zero.yaml").display()
            ),
            "infra/k8s/network-policies/big.yaml: larger than the limit of 1048576 bytes per file (raise it with limits.fileBytes in the config file)".to_string(),
        ]
    );
    assert_eq!(out.code, 2);
}

#[test]
fn a_kustomizations_dir_outside_the_repo_is_a_config_error() {
    for (dir, why) in [
        ("/etc", "is absolute"),
        ("../x", "leaves the repo"),
        ("clusters/../../x", "leaves the repo"),
    ] {
        let out = run(&[
            "check",
            "--repo",
            "fixtures/infra-repo",
            "--live-snapshot",
            "fixtures/live/prod",
            "--kustomizations-dir",
            dir,
        ]);
        assert_eq!(out.code, 2, "{dir}");
        assert!(
            out.stderr.contains(&format!(
                "kustomizations-dir: {dir} {why}: it must be a directory inside the repo, relative to its root (e.g. clusters/prod)"
            )),
            "{dir}: {}",
            out.stderr
        );
        assert_eq!(out.stdout, "", "{dir}");
    }
}

#[test]
fn a_kustomizations_dir_reached_through_a_symlink_out_of_the_repo_is_refused() {
    let scratch = Scratch::new();
    std::fs::remove_file(scratch.snapshot().join("flux-system.yaml")).unwrap();
    symlink("/etc", &scratch.repo().join("clusters/etc"));
    let (code, errors, _) = check_within(&scratch, &["--kustomizations-dir", "clusters/etc"]);
    assert_eq!(
        errors,
        one_error(
            "discover",
            "",
            "--kustomizations-dir: clusters/etc: refused: it leads outside the repo"
        )
    );
    assert_eq!(code, 2);
}

/// `count` ConfigMaps, one YAML document each.
fn many_documents(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: bulk\ndata:\n  index: \"{i}\"\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn a_manifest_of_ten_thousand_documents_renders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bulk")).unwrap();
    std::fs::write(dir.path().join("bulk/many.yaml"), many_documents(10_000)).unwrap();
    let ks = drift_check::discover::from_object(
        &serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "bulk", "namespace": "flux-system"}, "spec": {"path": "./bulk"}}),
        drift_check::flux::Origin::Live,
        "flux-system",
    )
    .unwrap();
    let objects = drift_check::render::render(dir.path(), &ks, &Default::default()).unwrap();
    assert_eq!(objects.len(), 10_000);
    assert_eq!(objects[9_999]["metadata"]["name"], "cm-9999");
}

#[test]
fn more_documents_than_the_limit_is_one_error_naming_the_file_the_limit_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("many.yaml"), many_documents(11)).unwrap();
    let limits = drift_check::files::Limits {
        yaml_documents: 10,
        ..Default::default()
    };
    let mut snapshot = drift_check::live::snapshot::Snapshot::load(dir.path(), limits);
    let errors: Vec<String> = snapshot
        .take_errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [format!(
            "{}: more than 10 YAML documents in one file (raise it with limits.yamlDocuments in the config file)",
            dir.path().join("many.yaml").display()
        )]
    );
    // A snapshot file is parsed as it is read: the node budget bounds each
    // of its documents (a dump is one `kind: List`).
    std::fs::write(dir.path().join("many.yaml"), big_list(2)).unwrap();
    let limits = drift_check::files::Limits {
        yaml_nodes: 100,
        ..Default::default()
    };
    let mut snapshot = drift_check::live::snapshot::Snapshot::load(dir.path(), limits);
    let errors: Vec<String> = snapshot
        .take_errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with(
            "more than 100 YAML nodes in one file (raise it with limits.yamlNodes in the config file)"
        ),
        "{errors:?}"
    );
}

/// A `kubectl get -A -o yaml --show-managed-fields` dump of `count`
/// Deployments-like objects, as one `kind: List` (about 120 nodes, 3 KiB each).
pub fn big_list(count: usize) -> String {
    let mut text = String::with_capacity(count * 3_200);
    text.push_str("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n");
    for i in 0..count {
        let ns = i % 50;
        text.push_str(&format!(
            r#"- apiVersion: apps/v1
  kind: Deployment
  metadata:
    annotations:
      deployment.kubernetes.io/revision: "3"
    creationTimestamp: "2026-01-01T00:00:00Z"
    generation: 3
    labels:
      app.kubernetes.io/name: app-{i}
      kustomize.toolkit.fluxcd.io/name: tenants
      kustomize.toolkit.fluxcd.io/namespace: flux-system
    managedFields:
    - apiVersion: apps/v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:labels:
            f:app.kubernetes.io/name: {{}}
            f:kustomize.toolkit.fluxcd.io/name: {{}}
        f:spec:
          f:replicas: {{}}
          f:selector: {{}}
          f:template:
            f:metadata:
              f:labels:
                f:app.kubernetes.io/name: {{}}
            f:spec:
              f:containers:
                k:{{"name":"app"}}:
                  .: {{}}
                  f:image: {{}}
                  f:name: {{}}
                  f:ports:
                    k:{{"containerPort":8080,"protocol":"TCP"}}:
                      .: {{}}
                      f:containerPort: {{}}
      manager: kustomize-controller
      operation: Apply
      time: "2026-01-01T00:00:00Z"
    - apiVersion: apps/v1
      fieldsType: FieldsV1
      fieldsV1:
        f:status:
          f:availableReplicas: {{}}
          f:readyReplicas: {{}}
          f:replicas: {{}}
      manager: kube-controller-manager
      operation: Update
      subresource: status
      time: "2026-01-01T00:00:00Z"
    name: app-{i}
    namespace: tenant-{ns}
    resourceVersion: "{i}"
    uid: 00000000-0000-0000-0000-{i:012}
  spec:
    progressDeadlineSeconds: 600
    replicas: 2
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app.kubernetes.io/name: app-{i}
    strategy:
      rollingUpdate:
        maxSurge: 25%
        maxUnavailable: 25%
      type: RollingUpdate
    template:
      metadata:
        labels:
          app.kubernetes.io/name: app-{i}
      spec:
        containers:
        - image: registry.example.com/app:1.{i}
          imagePullPolicy: IfNotPresent
          name: app
          ports:
          - containerPort: 8080
            protocol: TCP
          resources:
            limits:
              memory: 256Mi
            requests:
              cpu: 100m
              memory: 128Mi
        restartPolicy: Always
        terminationGracePeriodSeconds: 30
  status:
    availableReplicas: 2
    observedGeneration: 3
    readyReplicas: 2
    replicas: 2
"#
        ));
    }
    text
}

/// YAML nodes (mappings, lists, scalars) of a document.
fn nodes(value: &serde_json::Value) -> usize {
    1 + match value {
        serde_json::Value::Array(items) => items.iter().map(nodes).sum(),
        // A key is a scalar node too.
        serde_json::Value::Object(map) => map.values().map(|v| 1 + nodes(v)).sum(),
        _ => 0,
    }
}

#[test]
fn the_default_limits_admit_a_dump_of_one_hundred_thousand_realistic_objects() {
    // Loading it takes minutes in a debug build: `bench/snapshot` does (its
    // figures are in the README); this checks the budget it needs.
    let one = big_list(1);
    let list = drift_check::yaml::documents(&one, std::path::Path::new("one.yaml")).unwrap();
    let per_object = nodes(&list[0]["items"][0]);
    assert!((100..200).contains(&per_object), "{per_object}");
    let limits = drift_check::files::Limits::default();
    assert!(per_object * 100_000 < limits.yaml_nodes / 2, "{per_object}");
    assert!(
        (one.len() as u64) * 100_000 < limits.file_bytes,
        "{}",
        one.len()
    );
}

#[test]
fn a_list_of_one_hundred_thousand_objects_loads() {
    let mut text =
        String::from("apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: cm-{i}, namespace: ns-{}}}\n  data: {{index: \"{i}\"}}\n",
            i % 50
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all.yaml"), text).unwrap();
    let mut snapshot = drift_check::live::snapshot::Snapshot::load(dir.path(), Default::default());
    assert!(snapshot.take_errors().is_empty());
    let types =
        std::collections::BTreeSet::from([drift_check::live::TypeRef::new("v1", "ConfigMap")]);
    let state = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(snapshot.fetch(&types));
    assert_eq!(state.len(), 100_000);
}
