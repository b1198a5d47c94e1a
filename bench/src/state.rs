//! Benchmark: the Matrix sink's state at 100,000 open findings — read
//! (decoded), compared with the run (the message planned) and written
//! (encoded) — as a run of the CronJob does between its GET and its write
//! of the ConfigMap. Wall time and the memory it takes beyond the report.
//!
//! Run with `bench/state` (`cargo bench --bench state`). Findings: DRIFT_CHECK_BENCH_FINDINGS
//! (100,000), the fixture platform's findings copied under new names, one
//! Kustomization per 50.

use std::time::Instant;

use drift_check::cli::CommonArgs;
use drift_check::config::Config;

fn main() {
    let n: usize = std::env::var("DRIFT_CHECK_BENCH_FINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args = CommonArgs {
        config: Some(root.join("fixtures/drift-check.yaml")),
        repo: vec![root.join("fixtures/infra-repo")],
        live_snapshot: Some(root.join("fixtures/live/prod")),
        ..Default::default()
    };
    let settings = Config::load(&args, None, None).unwrap().settings;
    let mut report = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(drift_check::check(&settings, drift_check::Progress::Quiet));
    let templates: Vec<_> = report
        .findings
        .iter()
        .filter(|f| !f.explained)
        .cloned()
        .collect();
    report.findings = (0..n)
        .map(|i| {
            let mut f = templates[i % templates.len()].clone();
            f.kustomization = Some(format!("flux-system/app-{:04}", i / 50));
            f.object.namespace = Some(format!("app-{:04}", i / 50));
            f.object.name = format!("{}-{i:06}", f.object.name);
            f
        })
        .collect();
    let now = "2026-12-07T02:00:00Z";
    let (first, _) = drift_check::notify::state_round(&report, &[], now, "$announce:example.org");

    // The peak so far (the report, the first round) is not this round's.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = memory("VmRSS");
    let started = Instant::now();
    let (second, message) =
        drift_check::notify::state_round(&report, &first, now, "$second:example.org");
    let wall = started.elapsed().as_secs_f64();
    let peak = memory("VmHWM");
    assert!(message.is_none(), "an unchanged run posts nothing");
    assert_eq!(first.len(), second.len());

    println!("| open findings | {n} |");
    println!(
        "| state, compact (gzip) | {:.0} KiB in one ConfigMap |",
        first.len() as f64 / 1024.0
    );
    println!("| read, compared, written (unchanged run) | {wall:.2} s |");
    println!(
        "| memory beyond the report | {:.0} MiB (peak RSS {:.0} MiB) |",
        peak.saturating_sub(before) as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// A `/proc/self/status` figure, KiB.
fn memory(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}
