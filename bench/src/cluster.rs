//! Benchmark: `drift-check check` on a synthetic platform applied to a real
//! kube-apiserver, side by side with a loop of `kubectl diff --server-side`
//! over the same Kustomizations.
//!
//! Run with `bench/cluster` (it starts the API server, installs kubectl 1.20
//! from Debian's kubernetes-client, and runs `cargo bench --bench cluster`).
//! Sizes: DRIFT_CHECK_BENCH_KUSTOMIZATIONS (200) × DRIFT_CHECK_BENCH_OBJECTS (50).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

#[path = "synthetic/mod.rs"]
mod synthetic;
#[path = "synthetic/cluster.rs"]
mod synthetic_cluster;
use synthetic::generate;

fn main() {
    let Ok(kubeconfig) = std::env::var("DRIFT_CHECK_TEST_KUBECONFIG") else {
        eprintln!(
            "DRIFT_CHECK_TEST_KUBECONFIG is not set: run bench/cluster, which starts a kube-apiserver"
        );
        return;
    };
    let kubeconfig = PathBuf::from(kubeconfig);
    let kustomizations: usize = env_number("DRIFT_CHECK_BENCH_KUSTOMIZATIONS", 200);
    let per: usize = env_number("DRIFT_CHECK_BENCH_OBJECTS", 50);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    generate(&repo, kustomizations, per);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let applied = runtime.block_on(async {
        let client = synthetic_cluster::client(&kubeconfig).await;
        synthetic_cluster::apply(&client, &repo, 0..kustomizations).await
    });
    eprintln!(
        "applied {applied} objects in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let binary = PathBuf::from(env!("CARGO_BIN_EXE_drift-check"));
    // drift-check, as the CronJob runs it, under /usr/bin/time for its peak RSS.
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&binary)
        .args(["check", "-o", "json", "--repo"])
        .arg(&repo)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let rss_kb = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
                .map(|v| v.parse::<u64>().unwrap())
        })
        .unwrap_or(0);
    let requests = report["run"]["api_requests"].as_u64().unwrap_or(0);
    let objects = report["summary"]["objects"].as_u64().unwrap_or(0);
    let findings = report["summary"]["findings"].as_u64().unwrap_or(0);
    let errors = report["summary"]["errors"].as_u64().unwrap_or(0);
    let types = 6u64; // Deployment, Service, ConfigMap, ServiceAccount, Role, RoleBinding
    let namespaces = kustomizations as u64;

    // The baseline: what a person would run per Kustomization.
    let kubectl = std::env::var("DRIFT_CHECK_BENCH_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let rendered = dir.path().join("rendered");
    std::fs::create_dir_all(&rendered).unwrap();
    // kubectl 1.20's server-side diff rejects ports without `protocol`, as
    // the API server does: give it the render normalized the way Flux applies it.
    let (all, _) =
        drift_check::discover::from_dir(&repo, "clusters/bench".as_ref(), Default::default());
    for ks in &all {
        let mut objects = drift_check::render::render(&repo, ks, &Default::default()).unwrap();
        let mut text = String::new();
        for object in &mut objects {
            drift_check::diff::normalize::desired(object);
            text.push_str("---\n");
            text.push_str(&drift_check::yaml::to_string(object));
        }
        std::fs::write(rendered.join(format!("{}.yaml", ks.name)), text).unwrap();
    }
    let started = Instant::now();
    for i in 0..kustomizations {
        let status = Command::new(&kubectl)
            .args(["--kubeconfig"])
            .arg(&kubeconfig)
            .args([
                "diff",
                "--server-side",
                "--field-manager=kustomize-controller",
                "--force-conflicts",
                "-f",
            ])
            .arg(rendered.join(format!("app-{i:03}.yaml")))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.code().unwrap_or(2) <= 1,
            "kubectl diff failed for app-{i:03}"
        );
    }
    let kubectl_wall = started.elapsed().as_secs_f64();

    println!(
        "| platform | {kustomizations} Kustomizations, {objects} objects ({applied} applied) |"
    );
    println!(
        "| drift-check check (local mode) | {wall:.2} s wall, {:.0} MB peak RSS, {requests} API requests (budget 2 × {types} types × {namespaces} namespaces + {kustomizations} = {}) |",
        rss_kb as f64 / 1024.0,
        2 * types * namespaces + kustomizations as u64
    );
    println!(
        "| kubectl diff --server-side loop | {kubectl_wall:.2} s wall ({:.1}× drift-check) |",
        kubectl_wall / wall
    );
    println!("| findings / errors | {findings} / {errors} |");
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
