//! The metrics of a run, in the Prometheus text format the pushgateway takes.
//! Labels have low cardinality: Kustomization, owner, drift kind, stage —
//! never object names.

use std::collections::BTreeMap;

use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use crate::report::Report;

/// The whole group, for a completed run (PUT: replaces the group).
pub fn success(report: &Report, now: f64, duration: f64) -> String {
    let registry = Registry::new();
    run_metrics(&registry, now, duration, true, report);
    gauge(
        &registry,
        "drift_check_last_success_timestamp_seconds",
        "When drift-check last completed a run (Unix time).",
    )
    .set(now);

    let objects = gauge_vec(
        &registry,
        "drift_check_objects",
        "Objects a Kustomization renders.",
        &["kustomization"],
    );
    let suspended = gauge_vec(
        &registry,
        "drift_check_kustomization_suspended",
        "1 when the Kustomization is suspended.",
        &["kustomization"],
    );
    let ready = gauge_vec(
        &registry,
        "drift_check_kustomization_ready",
        "1 when Flux reports the Kustomization Ready, 0 when it is failing (only where Flux reports a Ready condition).",
        &["kustomization"],
    );
    for k in &report.kustomizations {
        objects.with_label_values(&[&k.id()]).set(k.objects as f64);
        suspended
            .with_label_values(&[&k.id()])
            .set(if k.suspended { 1.0 } else { 0.0 });
        if let Some(is_ready) = k.ready {
            ready
                .with_label_values(&[&k.id()])
                .set(if is_ready { 1.0 } else { 0.0 });
        }
    }
    let findings = gauge_vec(
        &registry,
        "drift_check_findings",
        "Findings by Kustomization, owner, drift kind and whether they are explained; 0 (no owner, no drift) for a checked Kustomization without unexplained findings.",
        &["kustomization", "owner", "drift", "explained"],
    );
    let mut counts: BTreeMap<[String; 4], f64> = BTreeMap::new();
    for f in &report.findings {
        let key = [
            f.kustomization.clone().unwrap_or_default(),
            f.owner.as_str().to_string(),
            f.drift.as_str().to_string(),
            f.explained.to_string(),
        ];
        *counts.entry(key).or_default() += 1.0;
    }
    // A checked Kustomization without unexplained findings says so with a 0,
    // so that `sum by (kustomization)` over `explained="false"` is 0 rather
    // than absent: an alert or a graph on it resolves cleanly. Skipped
    // Kustomizations and those with an error of the run get none: nothing is
    // known about them. (One Flux fails on too, which drift-check could not
    // render either, has no error of the run — its failure is a warning and
    // `drift_check_kustomization_ready` 0 — and gets its 0.)
    for k in report
        .kustomizations
        .iter()
        .filter(|k| k.skipped.is_none() && k.error.is_none())
    {
        let id = k.id();
        if !counts.keys().any(|key| key[0] == id && key[3] == "false") {
            counts.insert([id, String::new(), String::new(), "false".into()], 0.0);
        }
    }
    for (labels, n) in counts {
        findings
            .with_label_values(&[&labels[0], &labels[1], &labels[2], &labels[3]])
            .set(n);
    }
    encode(&registry)
}

/// Only the run and failure metrics, for a run that could not complete
/// (POST: the last success and the last findings stay as they were).
pub fn failure(report: &Report, now: f64, duration: f64) -> String {
    let registry = Registry::new();
    run_metrics(&registry, now, duration, false, report);
    encode(&registry)
}

fn run_metrics(registry: &Registry, now: f64, duration: f64, success: bool, report: &Report) {
    gauge(
        registry,
        "drift_check_last_run_timestamp_seconds",
        "When drift-check last ran (Unix time).",
    )
    .set(now);
    gauge(
        registry,
        "drift_check_run_duration_seconds",
        "How long the last run took.",
    )
    .set(duration);
    gauge(
        registry,
        "drift_check_run_success",
        "1 when the last run completed, 0 when it could not check everything.",
    )
    .set(if success { 1.0 } else { 0.0 });
    let errors = gauge_vec(
        registry,
        "drift_check_errors",
        "Errors of the last run by pipeline stage.",
        &["stage"],
    );
    let mut by_stage: BTreeMap<&str, f64> = BTreeMap::new();
    for e in &report.errors {
        *by_stage.entry(e.stage.as_str()).or_default() += 1.0;
    }
    for (stage, n) in by_stage {
        errors.with_label_values(&[stage]).set(n);
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    let g = Gauge::new(name, help).expect("valid metric name");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric name");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn encode(registry: &Registry) -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("text encoding of gauges");
    let mut text = String::from_utf8(out).expect("the text format is UTF-8");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ErrorEntry, Run, Source, Summary};

    fn report() -> Report {
        Report {
            schema: crate::report::SCHEMA,
            run: Run {
                id: "r".into(),
                started_at: String::new(),
                finished_at: String::new(),
                cluster: "prod".into(),
                source: Source {
                    url: String::new(),
                    revision: None,
                    note: None,
                },
                api_requests: None,
            },
            summary: Summary::default(),
            kustomizations: vec![],
            findings: vec![],
            errors: vec![
                ErrorEntry {
                    kustomization: Some("flux-system/a".into()),
                    stage: crate::error::Stage::Render,
                    message: "x".into(),
                },
                ErrorEntry {
                    kustomization: None,
                    stage: crate::error::Stage::Render,
                    message: "y".into(),
                },
            ],
            warnings: vec![],
        }
    }

    #[test]
    fn a_failed_run_sends_only_run_metrics_and_errors_by_stage() {
        let text = failure(&report(), 1_700_000_000.0, 2.5);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "drift_check_errors{stage=\"render\"} 2",
                "drift_check_last_run_timestamp_seconds 1700000000",
                "drift_check_run_duration_seconds 2.5",
                "drift_check_run_success 0",
            ]
        );
        assert!(!text.contains("last_success"));
    }

    #[test]
    fn ready_series_where_flux_reports_ready_and_a_zero_findings_series_per_checked_kustomization()
    {
        let mut report = report();
        report.errors.clear();
        let entry = |name: &str, ready: Option<bool>| crate::report::KustomizationEntry {
            namespace: "flux-system".into(),
            name: name.into(),
            path: format!("./{name}"),
            revision: None,
            applied_revision: None,
            suspended: false,
            suspended_since: None,
            objects: 0,
            error: None,
            skipped: None,
            ready,
            failing: None,
        };
        report.kustomizations = vec![
            entry("apps", Some(true)),
            entry("broken", Some(false)),
            entry("from-git", None),
        ];
        let text = success(&report, 1_700_000_000.0, 2.5);
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("drift_check_findings"))
            .collect();
        assert_eq!(
            findings,
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/apps\",owner=\"\"} 0",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/broken\",owner=\"\"} 0",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/from-git\",owner=\"\"} 0",
            ]
        );
        report.kustomizations[1].error = Some("render failed".into());
        report.kustomizations[2].skipped = Some("its source is another repo".into());
        let text = success(&report, 1_700_000_000.0, 2.5);
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("drift_check_findings"))
            .collect();
        assert_eq!(
            findings,
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/apps\",owner=\"\"} 0"
            ],
            "nothing is known of what could not be checked or was skipped"
        );
        let ready: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("drift_check_kustomization_ready"))
            .collect();
        assert_eq!(
            ready,
            [
                "drift_check_kustomization_ready{kustomization=\"flux-system/apps\"} 1",
                "drift_check_kustomization_ready{kustomization=\"flux-system/broken\"} 0",
            ]
        );
    }
}
