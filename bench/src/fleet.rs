//! Benchmark: many clusters in one `drift-check check` run (issue #23).
//!
//! 1. Snapshot fleets: a synthetic cluster of 4 Kustomizations × 50 objects
//!    (200 objects) is applied to the API server the way Flux applies it, a
//!    person edits one Deployment and deletes one ConfigMap, and the cluster
//!    is dumped as a snapshot; then `check` runs over fleets of 10, 100 and
//!    1,000 clusters that are each that snapshot (DRIFT_CHECK_BENCH_FLEET).
//! 2. Real API servers: the same platform grows to 200 Kustomizations
//!    (10,000 objects); the API server's etcd keys are copied under the
//!    prefixes of 7 more API servers (`scripts/services/kube-apiserver
//!    extra`, one etcd), and `check` runs over the 8 clusters
//!    (DRIFT_CHECK_BENCH_SERVERS).
//!
//! Each run: wall time, CPU time, peak RSS; the run fails unless every
//! cluster is in the report with exactly the drift injected. Run with
//! `bench/fleet`, which starts the API server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

#[path = "synthetic/mod.rs"]
mod synthetic;
#[path = "synthetic/cluster.rs"]
mod synthetic_cluster;
#[path = "synthetic/drift.rs"]
mod synthetic_drift;

use synthetic_drift::Finding;

/// Kustomizations of one snapshot cluster (× 50 objects), and the one edited.
const SMALL: usize = 4;
const EDITED: usize = 3;
/// Kustomizations of each real API server's cluster (× 50 objects).
const LARGE: usize = 200;

fn main() {
    let (Ok(kubeconfig), Ok(state)) = (
        std::env::var("DRIFT_CHECK_TEST_KUBECONFIG"),
        std::env::var("DRIFT_CHECK_TEST_APISERVER_STATE"),
    ) else {
        eprintln!(
            "DRIFT_CHECK_TEST_KUBECONFIG is not set: run bench/fleet, which starts a kube-apiserver"
        );
        return;
    };
    let kubeconfig = PathBuf::from(kubeconfig);
    let fleets = numbers("DRIFT_CHECK_BENCH_FLEET", "10,100,1000");
    let servers = numbers("DRIFT_CHECK_BENCH_SERVERS", "8")[0];
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    synthetic::generate(&repo, LARGE, 50);
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_drift-check"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(synthetic_cluster::client(&kubeconfig));

    runtime.block_on(synthetic_cluster::apply(&client, &repo, 0..SMALL));
    let mut expected: BTreeSet<Finding> = runtime
        .block_on(synthetic_drift::inject(&client, EDITED))
        .into();
    let snapshot = dir.path().join("snapshot");
    let objects = runtime.block_on(synthetic_drift::dump(&client, &snapshot));
    let mut rows = Vec::new();
    for &n in &fleets {
        let members: String = (0..n)
            .map(|i| format!("  - {{name: c{i}, liveSnapshot: {}}}\n", snapshot.display()))
            .collect();
        let measured = run(&binary, &repo, dir.path(), &members);
        measured.verify(n, &expected);
        rows.push(measured.row(&format!("{n} snapshot clusters × {objects} objects")));
    }

    let started = Instant::now();
    runtime.block_on(synthetic_cluster::apply(&client, &repo, SMALL..LARGE));
    for i in (SMALL..LARGE).filter(|i| i % 100 == EDITED) {
        expected.extend(runtime.block_on(synthetic_drift::inject(&client, i)));
    }
    eprintln!(
        "applied {LARGE} Kustomizations in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut members = format!("  - {{name: c0, kubeconfig: {}}}\n", kubeconfig.display());
    for i in 1..servers {
        let name = format!("c{i}");
        copy_etcd(&state, &name);
        let out = Command::new("scripts/services/kube-apiserver")
            .args(["extra", &state, &name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = String::from_utf8(out.stdout).unwrap();
        members.push_str(&format!(
            "  - {{name: {name}, kubeconfig: {}}}\n",
            config.trim()
        ));
    }
    let measured = run(&binary, &repo, dir.path(), &members);
    measured.verify(servers, &expected);
    let objects = measured.objects / servers as u64;
    rows.push(measured.row(&format!("{servers} API servers × {objects} objects")));

    println!(
        "| fleet | wall | CPU (user + system) | peak RSS | findings | clusters in the report |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// A comma-separated list of numbers from the environment.
fn numbers(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: numbers"))
        })
        .collect()
}

/// Copies the API server's etcd keys (`/registry/...`) under `/<name>/`, the
/// prefix of the extra API server `name`: a cluster of its own with the same
/// objects, in seconds rather than the minutes applying them again takes.
fn copy_etcd(state: &str, name: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/src/synthetic/etcd-copy.py");
    let etcd = std::env::var("DRIFT_CHECK_TEST_ETCD").unwrap();
    let status = Command::new("python3")
        .arg(script)
        .args([&etcd, "/registry", &format!("/{name}")])
        .status()
        .unwrap();
    assert!(status.success(), "copying etcd for {name} ({state})");
}

/// What one fleet run measured.
struct Measured {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    clusters: u64,
    objects: u64,
    findings: u64,
    report: Value,
}

impl Measured {
    /// Every cluster in the report, checked, with exactly the drift injected.
    fn verify(&self, clusters: usize, expected: &BTreeSet<Finding>) {
        assert_eq!(self.clusters, clusters as u64, "clusters in the report");
        for cluster in self.report["clusters"].as_array().unwrap() {
            let report = &cluster["report"];
            assert_eq!(
                report["summary"]["errors"], 0,
                "{}: errors",
                cluster["name"]
            );
            let found: BTreeSet<Finding> = synthetic_drift::findings_of(report);
            assert_eq!(
                &found, expected,
                "{}: not the drift injected",
                cluster["name"]
            );
        }
    }

    fn row(&self, fleet: &str) -> String {
        format!(
            "| {fleet} | {:.1} s | {:.1} s | {:.0} MiB | {} | {} |",
            self.wall,
            self.cpu,
            self.rss_kib as f64 / 1024.0,
            self.findings,
            self.clusters
        )
    }
}

/// Runs `drift-check check -o json` over a fleet (`members`: the lines of
/// its `clusters:` list), two clusters in flight, under `/usr/bin/time`.
fn run(binary: &Path, repo: &Path, dir: &Path, members: &str) -> Measured {
    let config = dir.join("fleet.yaml");
    std::fs::write(
        &config,
        format!("clustersInFlight: 2\nclusters:\n{members}"),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M"])
        .arg(binary)
        .args([
            "check",
            "-o",
            "json",
            "--progress",
            "never",
            "--log-level",
            "error",
            "--config",
        ])
        .arg(&config)
        .arg("--repo")
        .arg(repo)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let times: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|v| v.parse().ok())
        .collect();
    let objects = report["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["report"]["summary"]["objects"].as_u64())
        .sum();
    Measured {
        wall,
        cpu: times.first().unwrap_or(&0.0) + times.get(1).unwrap_or(&0.0),
        rss_kib: times.get(2).copied().unwrap_or(0.0) as u64,
        clusters: report["summary"]["clusters"].as_u64().unwrap_or(1),
        objects,
        findings: report["summary"]["findings"].as_u64().unwrap_or(0),
        report,
    }
}
