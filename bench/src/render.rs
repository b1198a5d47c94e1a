//! Benchmark: the native renderer against one `kustomize build` process per
//! Kustomization, over the same synthetic infra repo (generators, patches).
//!
//! Run with `bench/render` (it installs kustomize 5.8.1 and runs
//! `cargo bench --bench render`). Sizes: DRIFT_CHECK_BENCH_KUSTOMIZATIONS (200)
//! × DRIFT_CHECK_BENCH_OBJECTS (50).

use std::process::Command;
use std::time::Instant;

#[path = "synthetic/mod.rs"]
mod synthetic;

fn main() {
    let Ok(kustomize) = std::env::var("DRIFT_CHECK_BENCH_KUSTOMIZE") else {
        eprintln!(
            "DRIFT_CHECK_BENCH_KUSTOMIZE is not set: run bench/render, which installs kustomize"
        );
        return;
    };
    let n: usize = number("DRIFT_CHECK_BENCH_KUSTOMIZATIONS", 200);
    let per: usize = number("DRIFT_CHECK_BENCH_OBJECTS", 50);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    synthetic::generate(&repo, n, per);
    let (kustomizations, errors) =
        drift_check::discover::from_dir(&repo, "clusters/bench".as_ref(), Default::default());
    assert!(errors.is_empty(), "{errors:?}");

    // Best of three for the native engine (it is fast enough to repeat).
    let mut native = f64::MAX;
    let mut objects = 0;
    for _ in 0..3 {
        let started = Instant::now();
        objects = 0;
        for ks in &kustomizations {
            objects += drift_check::render::render(&repo, ks, &Default::default())
                .unwrap()
                .len();
        }
        native = native.min(started.elapsed().as_secs_f64());
    }

    let started = Instant::now();
    for ks in &kustomizations {
        let out = Command::new(&kustomize)
            .arg("build")
            .arg(repo.join(ks.spec.path.trim_start_matches("./")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let binary = started.elapsed().as_secs_f64();

    println!("| platform | {n} Kustomizations, {objects} objects |");
    println!(
        "| native render, in process | {native:.2} s ({:.0} objects/s) |",
        objects as f64 / native
    );
    println!("| `kustomize build`, one process per Kustomization | {binary:.2} s |");
    println!("| ratio | {:.1}× |", binary / native);
}

fn number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
