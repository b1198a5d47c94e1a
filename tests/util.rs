//! Helpers: running the pipeline and the binary on the fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

use drift_check::cli::CommonArgs;
use drift_check::config::Config;
use drift_check::report::Report;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `check` arguments for a repo and snapshot, with the fixtures' config.
pub fn args(repo: &Path, snapshot: &Path) -> CommonArgs {
    CommonArgs {
        config: Some(root().join("fixtures/drift-check.yaml")),
        repo: Some(repo.to_path_buf()),
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

/// The output of the built binary.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `drift-check` binary from the crate root.
pub fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_drift-check"))
        .args(args)
        .current_dir(root())
        .env_remove("DRIFT_CHECK_CONFIG")
        .env("DRIFT_CHECK_LOG", "info")
        .output()
        .expect("the binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
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
