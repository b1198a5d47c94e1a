//! Chaos: an API server of the test's own (the suite's kube-apiserver binary
//! on the suite's etcd, under an etcd prefix of its own) that stops answering
//! (SIGSTOP) and comes back (SIGCONT), is killed and restarted, or answers
//! 429/500 on some LISTs (the fault proxy in front of it: plain http to the
//! client, https to the server). Every outcome is either the report a healthy
//! server gives or a clear exit 2 naming what could not be checked — with no
//! finding the healthy report does not have, and nothing "in sync" that was
//! not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drift_check::cli::CommonArgs;
use drift_check::diff::DiffMode;
use drift_check::report::Report;

use super::{args, check, runtime, setup};
use crate::util::proxy::{Fault, FaultyProxy};
use crate::util::service;

/// A kube-apiserver process of this test's own.
struct OwnServer {
    bin: String,
    /// The suite's server's flags (its etcd, tokens and keys), one per line.
    flags: Vec<String>,
    prefix: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OwnServer {
    /// Starts one, or `None` (skipped, loudly) outside `scripts/test`.
    fn start() -> Option<Self> {
        let bin = service("DRIFT_CHECK_TEST_APISERVER_BIN")?;
        let flags = std::fs::read_to_string(service("DRIFT_CHECK_TEST_APISERVER_FLAGS")?).unwrap();
        let mut server = Self {
            bin,
            flags: flags.lines().map(str::to_owned).collect(),
            prefix: format!("/chaos-{}", uuid::Uuid::new_v4().simple()),
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.run();
        Some(server)
    }

    /// Starts the process (again: same etcd prefix and certificates, so a
    /// restart finds every object where it was) and waits until it is ready.
    fn run(&mut self) {
        let d = self.dir.path();
        let log = std::fs::File::create(d.join("kube-apiserver.log")).unwrap();
        let child = Command::new(&self.bin)
            .args(&self.flags)
            .arg(format!("--etcd-prefix={}", self.prefix))
            .arg(format!("--secure-port={}", self.port))
            .arg(format!("--cert-dir={}", d.join("certs").display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while !self.ready() {
            if started.elapsed() > Duration::from_secs(120) {
                let log = std::fs::read_to_string(d.join("kube-apiserver.log")).unwrap_or_default();
                let tail: Vec<_> = log.lines().rev().take(20).collect();
                panic!(
                    "own kube-apiserver not ready after 120 s:\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn ready(&self) -> bool {
        Command::new("curl")
            .args(["-sfk", "-m", "2", "-H", "Authorization: Bearer admintoken"])
            .arg(format!("{}/readyz", self.url()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Kills the process (SIGKILL: no graceful shutdown) and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An admin kubeconfig for the server itself.
    fn admin_kubeconfig(&self) -> PathBuf {
        admin_kubeconfig(&self.url(), &self.dir.path().join("admin.kubeconfig"))
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        self.kill();
    }
}

/// A kubeconfig at `path` for `server` with the admin token.
fn admin_kubeconfig(server: &str, path: &Path) -> PathBuf {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n\
             users: [{{name: u, user: {{token: admintoken}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    path.to_path_buf()
}

/// `check` arguments for the admin at `server` (the API server or a proxy
/// in front of it), with a short request timeout.
fn against(server: &str, dir: &Path) -> CommonArgs {
    let mut a = args(&admin_kubeconfig(server, &dir.join("kubeconfig")));
    a.request_timeout = Some(3);
    a
}

/// Runs `check` on a thread of its own and fails the test if it does not end
/// within `limit` (a hang is what this test is about).
fn check_within(a: CommonArgs, limit: Duration) -> Report {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let report = runtime().block_on(check(&a, DiffMode::Local));
        let _ = tx.send(report);
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("check did not finish within {limit:?}"))
}

fn fingerprints(report: &Report) -> BTreeSet<String> {
    report
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect()
}

/// A run that could not check everything: exit 2, the cause named, and not
/// one finding the healthy run does not have.
fn assert_clear_failure(report: &Report, healthy: &Report, cause: &str, what: &str) {
    assert_eq!(report.exit_code(), 2, "{what}: {:#?}", report.errors);
    assert!(
        report.errors.iter().any(|e| e.message.contains(cause)),
        "{what}: no error says {cause:?}: {:#?}",
        report.errors
    );
    let invented: Vec<_> = fingerprints(report)
        .difference(&fingerprints(healthy))
        .cloned()
        .collect();
    let invented: Vec<_> = report
        .findings
        .iter()
        .filter(|f| invented.contains(&f.fingerprint))
        .map(|f| {
            format!(
                "{} {} {}",
                f.drift.as_str(),
                f.object,
                f.kustomization.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert!(
        invented.is_empty(),
        "{what}: invented findings {invented:#?}"
    );
}

/// The same findings (and errors) as the healthy run.
fn assert_healthy(report: &Report, healthy: &Report, what: &str) {
    assert!(report.errors.is_empty(), "{what}: {:#?}", report.errors);
    assert_eq!(fingerprints(report), fingerprints(healthy), "{what}");
    assert_eq!(report.exit_code(), healthy.exit_code(), "{what}");
}

const INTERNAL_ERROR: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request timed out","reason":"InternalError","code":500}"#;
const TOO_MANY: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#;

#[test]
fn a_stopped_killed_or_failing_api_server_gives_a_clear_exit_2_and_invents_nothing() {
    let Some(mut server) = OwnServer::start() else {
        return;
    };
    let admin = server.admin_kubeconfig();
    // The fixture platform with its drift, as the suite's own server has it.
    let platform = runtime().block_on(setup(admin.clone(), admin.clone(), admin.clone(), admin));
    let dir = tempfile::tempdir().unwrap();
    let direct = against(&server.url(), dir.path());
    let healthy = check_within(direct.clone(), Duration::from_secs(120));
    assert!(healthy.errors.is_empty(), "{:#?}", healthy.errors);
    assert_eq!(
        fingerprints(&healthy),
        fingerprints(&platform.drift_local),
        "the same platform, the same findings"
    );
    assert!(!healthy.findings.is_empty());

    // 500 on every LIST of ConfigMaps.
    let faults = vec![Fault::Status(500, INTERNAL_ERROR); 64];
    let proxy = FaultyProxy::start(&server.url(), &[("/configmaps", &faults)]);
    let proxied_dir = tempfile::tempdir().unwrap();
    let report = check_within(
        against(&proxy.url, proxied_dir.path()),
        Duration::from_secs(120),
    );
    assert_clear_failure(
        &report,
        &healthy,
        "InternalError (500)",
        "500 on configmaps",
    );
    let mut unchecked: Vec<(String, String)> = report
        .kustomizations
        .iter()
        .filter_map(|k| Some((k.id(), k.error.clone()?)))
        .collect();
    unchecked.sort();
    // The one Kustomization of the platform with ConfigMaps: could not be
    // checked, by its name; every other one was.
    assert_eq!(
        unchecked,
        [(
            "flux-system/monitoring".to_string(),
            "could not check: v1 configmaps: InternalError (500)".to_string()
        )]
    );
    let configmap_findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.object.kind == "ConfigMap")
        .map(|f| f.object.to_string())
        .collect();
    assert!(
        configmap_findings.is_empty(),
        "read nothing, found {configmap_findings:?}"
    );
    drop(proxy);

    // 429 on the first LISTs of Deployments: kube's client waits as the
    // server asks (Retry-After) and reads them; the same report.
    let faults = vec![Fault::Status(429, TOO_MANY); 3];
    let proxy = FaultyProxy::start(&server.url(), &[("/deployments", &faults)]);
    let report = check_within(
        against(&proxy.url, proxied_dir.path()),
        Duration::from_secs(120),
    );
    let refused = proxy
        .seen("/deployments")
        .iter()
        .filter(|s| s.fault.is_some())
        .count();
    assert_eq!(refused, 3, "the proxy answered 429 three times");
    assert_healthy(&report, &healthy, "429 three times, then served");
    drop(proxy);

    // Stopped for the whole run: bounded by the request timeout, one cause.
    server.signal("-STOP");
    let started = Instant::now();
    let report = check_within(direct.clone(), Duration::from_secs(90));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_clear_failure(&report, &healthy, "no answer within 3 s", "stopped");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    server.signal("-CONT");
    assert_healthy(
        &check_within(direct.clone(), Duration::from_secs(120)),
        &healthy,
        "continued",
    );

    // Stopped in the middle of a run and continued a moment later.
    let (tx, rx) = std::sync::mpsc::channel();
    let a = direct.clone();
    std::thread::spawn(move || {
        let _ = tx.send(runtime().block_on(check(&a, DiffMode::Local)));
    });
    std::thread::sleep(Duration::from_millis(300));
    server.signal("-STOP");
    std::thread::sleep(Duration::from_secs(2));
    server.signal("-CONT");
    let report = rx.recv_timeout(Duration::from_secs(120)).expect("finished");
    if report.errors.is_empty() {
        assert_healthy(&report, &healthy, "stopped for 2 s mid-run");
    } else {
        assert_clear_failure(&report, &healthy, "", "stopped for 2 s mid-run");
    }

    // Killed: nothing answers; restarted: everything is where it was.
    server.kill();
    let report = check_within(direct.clone(), Duration::from_secs(90));
    assert_clear_failure(&report, &healthy, "Connection refused", "killed");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    server.run();
    assert_healthy(
        &check_within(direct.clone(), Duration::from_secs(120)),
        &healthy,
        "restarted",
    );
}
