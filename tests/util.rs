//! Helpers: the services of the test setup, running the pipeline and the
//! binary on the fixtures.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use drift_check::cli::CommonArgs;
use drift_check::config::Config;
use drift_check::report::Report;

pub mod browser;
pub mod matrix;
pub mod proxy;
pub mod relay;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `check` arguments for a repo and snapshot, with the fixtures' config.
pub fn args(repo: &Path, snapshot: &Path) -> CommonArgs {
    CommonArgs {
        config: Some(root().join("fixtures/drift-check.yaml")),
        repo: vec![repo.to_path_buf()],
        live_snapshot: Some(snapshot.to_path_buf()),
        kustomizations_dir: None,
        ..Default::default()
    }
}

/// Runs `check` in-process on a repo and snapshot.
pub fn check(args: &CommonArgs) -> Report {
    let settings = Config::load(args, None, None)
        .expect("valid settings")
        .settings;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(drift_check::check(&settings, drift_check::Progress::Quiet))
}

/// The report of the shipped fixture platform.
pub fn fixture_report() -> Report {
    check(&args(
        &root().join("fixtures/infra-repo"),
        &root().join("fixtures/live/prod"),
    ))
}

/// Set by `scripts/test`, which starts every service: there, a service
/// missing is a failure, not a skip.
pub const REQUIRE_SERVICES: &str = "DRIFT_CHECK_TEST_REQUIRE_SERVICES";

/// The address (or path) of a service the test setup started, from the
/// variable its `scripts/services/*` script exports.
///
/// When the variable is missing (or empty): under `scripts/test`
/// ([`REQUIRE_SERVICES`] set) the test fails, naming the variable and the
/// script that should have set it; under a plain `cargo test` the test is
/// skipped, loudly on stderr (past libtest's capture), and this returns `None`.
pub fn service(var: &str) -> Option<String> {
    if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Some(value);
    }
    if std::env::var_os(REQUIRE_SERVICES).is_some() {
        panic!(
            "{var} is not set, but {REQUIRE_SERVICES} is: the test setup was asked to start \
             this service and it is missing ({} should have exported {var})",
            started_by(var)
        );
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<test>");
    // Straight to stderr: libtest captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "!!!!! SKIPPED {test}: {var} not set (run ./scripts/test)"
    );
    None
}

/// The `scripts/services/*` script that exports a service's variable.
fn started_by(var: &str) -> &'static str {
    let name = var.strip_prefix("DRIFT_CHECK_TEST_").unwrap_or(var);
    match name.split('_').next().unwrap_or_default() {
        "GIT" => "scripts/services/git-servers",
        "SYNAPSE" => "scripts/services/synapse",
        "PUSHGATEWAY" => "scripts/services/pushgateway",
        "KUSTOMIZE" => "scripts/services/kustomize",
        "PODMAN" => "scripts/services/podman",
        "OCI" | "ORAS" => "scripts/services/oci-registry",
        "S3" => "scripts/services/s3",
        "GITHUB" => "scripts/services/github-app",
        "CHROMIUM" | "CHROMEDRIVER" => "scripts/services/chromium",
        "SOPS" | "AGE" | "GPG" => "scripts/services/sops",
        "FLUX" => "scripts/services/flux",
        "APISERVER" | "ETCD" | "KUBECONFIG" | "READER" | "SERVER" | "PARTIAL" => {
            "scripts/services/kube-apiserver"
        }
        _ => "one of scripts/services/*",
    }
}

/// The variables a [`TestCommand`] passes on from the test's own
/// environment; everything else the binary sees is set by the test.
const INHERITED: [&str; 1] = ["PATH"];

/// The log filter the binary runs with unless a test sets another: info for
/// drift-check, without kube's TLS noise (as the binary's default does).
const LOG: &str = "info,kube_client::client::tls=error";

/// The built `drift-check` binary, run from the crate root with a clean,
/// explicit environment (ripgrep's `TestCommand`): only [`INHERITED`],
/// `DRIFT_CHECK_LOG` and what the test sets, so a developer's
/// `DRIFT_CHECK_*`, `KUBECONFIG` or `SSL_CERT_FILE` never leaks into a test.
pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    pub fn new() -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drift-check"));
        cmd.current_dir(root()).env_clear();
        for name in INHERITED {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.env("DRIFT_CHECK_LOG", LOG);
        Self { cmd }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = A>, A: AsRef<OsStr>>(&mut self, args: I) -> &mut Self {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, name: &str, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(name, value);
        self
    }

    pub fn envs(&mut self, vars: &[(&str, &str)]) -> &mut Self {
        self.cmd.envs(vars.iter().copied());
        self
    }

    /// Runs the binary, killing it and failing the test if it has not ended
    /// within `deadline` (a read that blocks, a walk that never ends).
    pub fn output_within(&mut self, deadline: std::time::Duration) -> Output {
        use std::process::Stdio;
        let mut child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!(
                    "drift-check did not end within {deadline:?}; stderr:\n{}",
                    stderr.join().unwrap()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Output {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    }

    /// Starts the binary and kills it (SIGKILL, as an OOM kill or a node
    /// lost) after `after`, mid-run: the test fails if it ended before.
    pub fn killed_after(&mut self, after: std::time::Duration) -> Output {
        use std::process::Stdio;
        let mut child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        std::thread::sleep(after);
        let ended = child.try_wait().unwrap();
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(ended.is_none(), "it ended before it was killed: {stderr}");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }

    /// Runs the binary to its end.
    pub fn output(&mut self) -> Output {
        let out = self.cmd.output().expect("the binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The output of the built binary.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `drift-check` binary with these arguments (a [`TestCommand`]).
pub fn run(args: &[&str]) -> Output {
    TestCommand::new().args(args).output()
}

/// Writes `text` to `relative` under `dir`, making its directories.
pub fn write_file(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A `kind: List` document of `items`, as `kubectl get -o yaml` writes it.
pub fn list_yaml(items: Vec<serde_json::Value>) -> String {
    drift_check::yaml::to_string(&serde_json::json!({
        "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items
    }))
}

/// A copy of the fixtures in a temporary directory, to break on purpose.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy(&root().join("fixtures"), dir.path());
        Self { dir }
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("infra-repo")
    }

    pub fn snapshot(&self) -> PathBuf {
        self.dir.path().join("live/prod")
    }

    pub fn write(&self, relative: &str, text: &str) {
        write_file(self.dir.path(), relative, text);
    }

    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.dir.path().join(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `(kustomization, object, drift, owner, explained)` of a finding.
pub type Row = (String, String, String, String, bool);

/// Every finding of a report as a [`Row`], sorted: what the case tables assert.
pub fn summary(report: &Report) -> Vec<Row> {
    let mut rows: Vec<Row> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.kustomization.clone().unwrap_or_default(),
                f.object.to_string(),
                f.drift.as_str().to_string(),
                f.owner.as_str().to_string(),
                f.explained,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// [`summary`] of a JSON report, as the binary prints it with `-o json`.
pub fn summary_of_json(report: &serde_json::Value) -> Vec<Row> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut rows: Vec<Row> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let o = &f["object"];
            let subject = match o["namespace"].as_str() {
                Some(ns) => format!("{}/{ns}/{}", text(&o["kind"]), text(&o["name"])),
                None => format!("{}/{}", text(&o["kind"]), text(&o["name"])),
            };
            (
                text(&f["kustomization"]),
                subject,
                text(&f["drift"]),
                text(&f["owner"]),
                f["explained"] == true,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Every file under `top`, as `/`-separated paths relative to it, sorted
/// (nothing when `top` does not exist).
pub fn tree_files(top: &Path) -> Vec<String> {
    fn walk(top: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(top, &path, out);
            } else if let Ok(rel) = path.strip_prefix(top) {
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(top, top, &mut out);
    out.sort();
    out
}
