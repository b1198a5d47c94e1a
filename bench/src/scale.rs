//! Benchmark: how `drift-check check` scales, in both live modes side by
//! side — against a real kube-apiserver and on a snapshot of the same
//! cluster — from 10,000 to 100,000 objects (200 to 2,000 Kustomizations of
//! 50 objects), with drift injected and found exactly.
//!
//! Run with `bench/scale` (it starts the API server and runs
//! `cargo bench --bench scale`). Steps: DRIFT_CHECK_BENCH_STEPS
//! (Kustomizations, comma-separated, default `200,2000`); objects per
//! Kustomization: DRIFT_CHECK_BENCH_OBJECTS (50). DRIFT_CHECK_BENCH_KEEP=DIR
//! keeps the repo and the last snapshot there (to profile a run);
//! DRIFT_CHECK_BENCH_REUSE=1 measures a server that already holds the
//! platform (nothing applied).
//!
//! At each step the Kustomizations not applied yet are applied the way Flux
//! applies them; in every hundredth one (the 7th, 107th, ...) a person then
//! scales a Deployment (`kubectl-edit`) and deletes a ConfigMap. `check`
//! must find exactly those: one `modified` and one `missing` each.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;

#[path = "synthetic/mod.rs"]
mod synthetic;
#[path = "synthetic/cluster.rs"]
mod synthetic_cluster;
#[path = "synthetic/drift.rs"]
mod synthetic_drift;

use synthetic_drift::Finding;

fn main() {
    let Ok(kubeconfig) = std::env::var("DRIFT_CHECK_TEST_KUBECONFIG") else {
        eprintln!(
            "DRIFT_CHECK_TEST_KUBECONFIG is not set: run bench/scale, which starts a kube-apiserver"
        );
        return;
    };
    let kubeconfig = PathBuf::from(kubeconfig);
    let steps: Vec<usize> = std::env::var("DRIFT_CHECK_BENCH_STEPS")
        .unwrap_or_else(|_| "200,2000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("DRIFT_CHECK_BENCH_STEPS: numbers"))
        .collect();
    let per: usize = std::env::var("DRIFT_CHECK_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let largest = steps.iter().copied().max().unwrap_or(0);
    let temporary = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("DRIFT_CHECK_BENCH_KEEP").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temporary.path());
    let repo = dir.join("repo");
    synthetic::generate(&repo, largest, per);
    // The API server already holds the platform, drift included (a run
    // kept with DRIFT_CHECK_BENCH_KEEP, its server left running): measure only.
    let reuse = std::env::var_os("DRIFT_CHECK_BENCH_REUSE").is_some();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_drift-check"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(synthetic_cluster::client(&kubeconfig));
    let mut expected = BTreeSet::new();
    let mut applied = 0;
    let mut rows = Vec::new();
    let mut limits = Vec::new();
    for &n in &steps {
        let started = Instant::now();
        let range = applied..n;
        if reuse {
            expected.extend(
                range
                    .filter(|i| i % 100 == 7)
                    .flat_map(synthetic_drift::injected),
            );
        } else {
            runtime.block_on(synthetic_cluster::apply(&client, &repo, range.clone()));
            for i in range.filter(|i| i % 100 == 7) {
                expected.extend(runtime.block_on(synthetic_drift::inject(&client, i)));
            }
        }
        eprintln!(
            "applied Kustomizations {applied}..{n} in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        applied = n;

        let cluster = run(
            &binary,
            &repo,
            &["--kubeconfig".as_ref(), kubeconfig.as_os_str()],
        );
        let limit = runtime.block_on(raw_list(&client));
        let snapshot = dir.join("snapshot");
        let started = Instant::now();
        let written = runtime.block_on(synthetic_drift::dump(&client, &snapshot));
        eprintln!(
            "wrote a snapshot of {written} objects in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let offline = run(
            &binary,
            &repo,
            &["--live-snapshot".as_ref(), snapshot.as_os_str()],
        );
        if kept.is_none() || n != largest {
            std::fs::remove_dir_all(&snapshot).unwrap();
        }
        limits.push(format!(
            "| {} | {:.1} s | {:.1} s | {:.2}× | {:.0} MiB |",
            cluster.objects,
            cluster.wall,
            limit.wall,
            cluster.wall / limit.wall,
            limit.bytes as f64 / (1 << 20) as f64
        ));
        for (mode, measured) in [("API server", cluster), ("snapshot", offline)] {
            assert_eq!(
                measured.findings, expected,
                "{mode}, {n} Kustomizations: the findings are not the drift injected"
            );
            assert_eq!(measured.errors, 0, "{mode}, {n} Kustomizations: errors");
            rows.push(format!(
                "| {} | {n} | {mode} | {:.1} s | {:.0} MiB | {} | {} of {} |",
                measured.objects,
                measured.wall,
                measured.rss_kib as f64 / 1024.0,
                measured
                    .requests
                    .map_or_else(|| "–".to_string(), |r| r.to_string()),
                measured.findings.len(),
                expected.len()
            ));
        }
    }
    println!(
        "| objects | Kustomizations | live state | wall | peak RSS | API requests | drift found |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "| objects | `check` against the API server | raw LIST of the same types | ratio | LIST bytes |"
    );
    println!("|---|---|---|---|---|");
    for row in limits {
        println!("{row}");
    }
}

/// What the raw LIST of the platform's types took.
struct Limit {
    wall: f64,
    bytes: usize,
}

/// The limit `check` is measured against: the same client (kube, rustls),
/// the same page size (500) and the same requests in flight (8) as
/// `check`'s LISTs, every page read as text and dropped (no parse).
async fn raw_list(client: &kube::Client) -> Limit {
    let started = Instant::now();
    let sizes: Vec<usize> = futures::stream::iter(synthetic_drift::TYPES)
        .map(|(api_version, kind, plural)| async move {
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
            let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
            let api = Api::<DynamicObject>::all_with(client.clone(), &ar);
            let url = kube::core::Request::new(api.resource_url());
            let mut params = ListParams::default().limit(500);
            let mut bytes = 0;
            loop {
                let text = client
                    .request_text(url.list(&params).unwrap())
                    .await
                    .unwrap();
                bytes += text.len();
                // The token is at the head of the page: read it from there.
                let head = &text[..text.len().min(4096)];
                let token = head
                    .split_once("\"continue\":\"")
                    .and_then(|(_, rest)| rest.split_once('"').map(|(token, _)| token.to_string()));
                match token.filter(|t| !t.is_empty()) {
                    Some(token) => params = params.continue_token(&token),
                    None => break,
                }
            }
            bytes
        })
        .buffer_unordered(8)
        .collect()
        .await;
    Limit {
        wall: started.elapsed().as_secs_f64(),
        bytes: sizes.iter().sum(),
    }
}

/// What one `check` run measured.
struct Measured {
    wall: f64,
    rss_kib: u64,
    requests: Option<u64>,
    objects: u64,
    errors: u64,
    findings: BTreeSet<Finding>,
}

/// Runs `drift-check check -o json` on the repo with these live-state
/// arguments, under `/usr/bin/time` for its peak RSS.
fn run(binary: &Path, repo: &Path, live: &[&std::ffi::OsStr]) -> Measured {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(binary)
        .args(["check", "-o", "json", "--repo"])
        .arg(repo)
        .args(live)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let rss_kib = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
                .map(|v| v.parse::<u64>().unwrap())
        })
        .unwrap_or(0);
    let findings = synthetic_drift::findings_of(&report);
    Measured {
        wall,
        rss_kib,
        requests: report["run"]["api_requests"].as_u64(),
        objects: report["summary"]["objects"].as_u64().unwrap_or(0),
        errors: report["summary"]["errors"].as_u64().unwrap_or(0),
        findings,
    }
}
