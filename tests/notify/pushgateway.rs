//! The pushgateway sink: exact metric lines after drifting, clean and failed
//! runs, failing Kustomizations, a pushgateway down, basic auth.

use super::*;

// ---------------------------------------------------------------- pushgateway

/// The group's sample lines (no `# HELP`/`# TYPE`), pushgateway's own push-time
/// metrics left out, the values of timestamps and durations replaced by `T`.
pub(super) async fn group_lines(url: &str, cluster: &str) -> (Vec<String>, f64) {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut last_success = f64::NAN;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with('#')
            || !line.contains(&format!("cluster=\"{cluster}\""))
            || line.starts_with("push_")
        {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap();
        if name.starts_with("drift_check_last_success_timestamp_seconds") {
            last_success = value.parse().unwrap();
        }
        if name.contains("timestamp_seconds")
            || name.starts_with("drift_check_run_duration_seconds")
        {
            let v: f64 = value.parse().unwrap();
            assert!((0.0..4e9).contains(&v), "{line}");
            lines.push(format!("{name} T"));
        } else {
            lines.push(line.to_string());
        }
    }
    (lines, last_success)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_gets_exact_metrics_after_drifting_clean_and_failed_runs() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("pg");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("  pushgateway:\n    url: {url}\n"));
    let l = |s: &str| s.replace("CLUSTER", &cluster);

    let before = now().floor();
    let drifting = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(drifting.code, 0, "{}", drifting.stderr);
    let (lines, first_success) = group_lines(&url, &cluster).await;
    assert!(
        first_success >= before && first_success <= now(),
        "{first_success}"
    );
    let expected: Vec<String> = [
        // crossplane's findings are all explained: its 0 says "checked, nothing unexplained".
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/crossplane",owner="",suspended="true"} 0"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="conflict",explained="false",instance="",job="drift_check",kustomization="flux-system/platform-routes",owner="crossplane",suspended="false"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="missing",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="flux",suspended="false"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/docs",owner="flux",suspended="false"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="flux",suspended="false"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="helm",suspended="false"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="true",instance="",job="drift_check",kustomization="flux-system/crossplane",owner="flux",suspended="true"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="true",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="flux",suspended="false"} 3"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="orphaned",explained="false",instance="",job="drift_check",kustomization="flux-system/network-policies",owner="flux",suspended="false"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 3"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 2"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 10"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 5"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 3"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 7"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("docs-portal") || l.contains("konnectivity")),
        "no object names as label values"
    );

    // A clean run (the one drifting Kustomization fixed, only it checked): the group is
    // replaced, and the Kustomization's findings are 0, not absent.
    let scratch = scratch_without_the_missing_binding();
    let clean = run(
        &cfg,
        &scratch.repo(),
        &scratch.snapshot(),
        &["--cluster", &cluster, "-k", "rbac-system"],
        &[],
    );
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let clean_report: Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(clean_report["summary"]["findings"], 0);
    let (lines, clean_success) = group_lines(&url, &cluster).await;
    let expected_clean: Vec<String> = [
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="",suspended="false"} 0"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 6"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected_clean);
    assert!(clean_success >= first_success);

    // A failed run: only the run metrics change; the last success and the rest survive.
    let failed = run(
        &cfg,
        Path::new("/nonexistent/infra"),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    let (lines, failed_success) = group_lines(&url, &cluster).await;
    let expected_failed: Vec<String> = [
        r#"drift_check_errors{cluster="CLUSTER",instance="",job="drift_check",stage="source"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="",suspended="false"} 0"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 6"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 0"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected_failed);
    assert_eq!(
        failed_success, clean_success,
        "a failed run keeps the last success timestamp"
    );
}

/// A Kustomization Flux cannot apply: `drift_check_kustomization_ready` 0
/// (DriftCheckKustomizationFailing), and what it applied before is still
/// checked: the binding deleted by hand is still missing.
#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_a_failing_kustomization_is_not_ready_and_keeps_its_findings() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("failing");
    let scratch = Scratch::new();
    scratch.edit(
        "live/prod/flux-system.yaml",
        "    - lastTransitionTime: \"2026-11-10T09:14:21Z\"\n      message: \"Applied revision: main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"\n      observedGeneration: 1\n      reason: ReconciliationSucceeded\n      status: \"True\"",
        "    - lastTransitionTime: \"2026-11-29T03:00:00Z\"\n      message: \"ClusterRole/tenant-operator dry-run failed: admission webhook denied the request\"\n      observedGeneration: 1\n      reason: ReconciliationFailed\n      status: \"False\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("  pushgateway:\n    url: {url}\n"));
    let out = run(
        &cfg,
        &scratch.repo(),
        &scratch.snapshot(),
        &["--cluster", &cluster, "-k", "rbac-system"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["kustomizations"][0]["ready"], false, "{report:#}");
    let (lines, _) = group_lines(&url, &cluster).await;
    let expected: Vec<String> = [
        r#"drift_check_findings{cluster="CLUSTER",drift="missing",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="flux",suspended="false"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 7"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| s.replace("CLUSTER", &cluster))
    .collect();
    assert_eq!(lines, expected);
}

/// Needs no service: nothing listens on the discard port.
#[test]
fn pushgateway_down_fails_the_sink_but_the_report_is_printed_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "  pushgateway:\n    url: http://127.0.0.1:9\n    retries: 2\n    timeoutSeconds: 2\n",
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report is printed");
    assert_eq!(report["summary"]["unexplained"], 6);
    assert!(
        out.stderr.contains(
            "PUT http://127.0.0.1:9/metrics/job/drift_check/cluster/prod failed after 2 attempts"
        ),
        "{}",
        out.stderr
    );
}

/// A pushgateway of this test's own, behind basic auth (its `--web.config.file`),
/// killed by PID at the end.
struct AuthPushgateway {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for AuthPushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn pushgateway_with_basic_auth() -> AuthPushgateway {
    let dir = tempfile::tempdir().unwrap();
    // bcrypt of "pg-test-pass".
    std::fs::write(
        dir.path().join("web.yaml"),
        "basic_auth_users:\n  pusher: $2b$04$tOLjRKLu4Bx6DN/glWuiVuKMkASdVuEMT0sWHwNbU2G7eDdaL6La6\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus-pushgateway")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--web.config.file={}",
            dir.path().join("web.yaml").display()
        ))
        .arg("--persistence.file=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus-pushgateway is installed (scripts/services/pushgateway)");
    let url = format!("http://127.0.0.1:{port}");
    let gateway = AuthPushgateway {
        child,
        url,
        _dir: dir,
    };
    for _ in 0..100 {
        let ready = reqwest::Client::new()
            .get(format!("{}/-/ready", gateway.url))
            .basic_auth("pusher", Some("pg-test-pass"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pushgateway with basic auth did not get ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_basic_auth_from_env_and_file() {
    if pushgateway().is_none() {
        return;
    }
    let gateway = pushgateway_with_basic_auth().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!("  pushgateway:\n    url: {}\n    retries: 1\n", gateway.url),
    );
    let cluster = unique("auth");

    let refused = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("failed after 1 attempts: HTTP 401 Unauthorized"),
        "{}",
        refused.stderr
    );

    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "pg-test-pass\n").unwrap();
    let pushed = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[
            ("DRIFT_CHECK_PUSHGATEWAY_USERNAME", "pusher"),
            (
                "DRIFT_CHECK_PUSHGATEWAY_PASSWORD_FILE",
                password_file.to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert!(!pushed.stderr.contains("pg-test-pass"));
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", gateway.url))
        .basic_auth("pusher", Some("pg-test-pass"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "drift_check_run_success{{cluster=\"{cluster}\",instance=\"\",job=\"drift_check\"}} 1\n"
        )),
        "{metrics}"
    );
}

/// Suspending a Kustomization pauses its drift: its findings series keep the
/// values of the run before, with `suspended="true"` (not dropped to 0 because
/// the suspension explains everything); resumed, they are counted again,
/// `suspended="false"`. Read back from the pushgateway's /metrics.
#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_a_suspended_kustomization_keeps_its_findings_with_suspended_true() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("paused");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("  pushgateway:\n    url: {url}\n"));
    let resumed = Scratch::new();
    resumed.edit(
        "live/prod/flux-system.yaml",
        "    suspend: true\n",
        "    suspend: false\n",
    );
    let crossplane = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                l.starts_with("drift_check_findings{")
                    && l.contains("kustomization=\"flux-system/crossplane\"")
            })
            .map(|l| l.replace(&cluster, "CLUSTER"))
            .collect()
    };
    let args = ["--cluster", cluster.as_str(), "-k", "crossplane"];
    let out = run(&cfg, &resumed.repo(), &resumed.snapshot(), &args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let active = [
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/crossplane",owner="flux",suspended="false"} 1"#,
    ];
    assert_eq!(crossplane(&group_lines(&url, &cluster).await.0), active);

    // Suspended (the fixture as it is), twice: the same values, labelled.
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let (lines, _) = group_lines(&url, &cluster).await;
        assert_eq!(
            crossplane(&lines),
            [
                r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/crossplane",owner="flux",suspended="true"} 1"#,
            ]
        );
        assert!(
            lines.contains(
                &r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#
                    .replace("CLUSTER", &cluster)
            ),
            "{lines:#?}"
        );
    }

    // Resumed: counted again.
    let out = run(&cfg, &resumed.repo(), &resumed.snapshot(), &args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(crossplane(&group_lines(&url, &cluster).await.0), active);
}
