//! The metrics of a run, in the Prometheus text format the pushgateway takes.
//! Labels have low cardinality: Kustomization, owner, drift kind, stage —
//! never object names.
//!
//! A suspended Kustomization's drift is paused, not resolved: its
//! `drift_check_findings` series keep the values of the last group (where
//! there is one) with `suspended="true"`, instead of dropping to 0 because
//! the suspension explains everything; on resume they are counted again,
//! `suspended="false"`.

use std::collections::BTreeMap;

use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use crate::report::Report;

/// Series of the last group that a run which could not check some
/// Kustomizations keeps for them: per metric name, (labels, value), the
/// labels without `job`, `cluster`, `instance`.
pub type Carried = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// The per-Kustomization series kept, for a Kustomization that could not be
/// checked, from the last group.
pub const KEPT: [&str; 5] = [
    "drift_check_findings",
    "drift_check_objects",
    "drift_check_kustomization_suspended",
    "drift_check_kustomization_ready",
    "drift_check_kustomization_last_checked_timestamp_seconds",
];

/// The Kustomizations a run could not check: with an error of their own.
pub fn not_checked(report: &Report) -> std::collections::BTreeSet<String> {
    report
        .kustomizations
        .iter()
        .filter(|k| k.error.is_some())
        .map(|k| k.id())
        .chain(report.errors.iter().filter_map(|e| e.kustomization.clone()))
        .collect()
}

/// The whole group, for a completed run (PUT: replaces the group); `last`
/// (the group before) has the series a suspended Kustomization keeps.
pub fn success(report: &Report, now: f64, duration: f64, last: &Carried) -> String {
    group(report, now, duration, false, last)
}

/// The suspended Kustomizations of a run: their findings series are kept.
pub fn suspended(report: &Report) -> std::collections::BTreeSet<String> {
    report
        .kustomizations
        .iter()
        .filter(|k| k.suspended)
        .map(|k| k.id())
        .collect()
}

/// The whole group of a run that checked some Kustomizations and could not
/// check others (PUT): the checked ones' series are new; those it could not
/// check get `drift_check_kustomization_checked` 0 and keep their series
/// from `last` (the group before), with the time they were last checked;
/// the last success timestamp is kept too.
pub fn partial(report: &Report, now: f64, duration: f64, last: &Carried) -> String {
    group(report, now, duration, true, last)
}

fn group(report: &Report, now: f64, duration: f64, partial: bool, last: &Carried) -> String {
    let registry = Registry::new();
    run_metrics(&registry, now, duration, !partial, report);
    let last_success = gauge(
        &registry,
        "drift_check_last_success_timestamp_seconds",
        "When drift-check last completed a run (Unix time).",
    );
    match partial {
        false => last_success.set(now),
        true => {
            if let Some((_, t)) = last
                .get("drift_check_last_success_timestamp_seconds")
                .and_then(|v| v.first())
            {
                last_success.set(*t);
            } else {
                registry
                    .unregister(Box::new(last_success))
                    .expect("registered");
            }
        }
    }
    let failed = if partial {
        not_checked(report)
    } else {
        Default::default()
    };
    // Suspended and checked: the last group's findings series are kept
    // (when it had some for the Kustomization), else this run's counted.
    let paused = suspended(report);
    let kept_paused: std::collections::BTreeSet<&String> = paused
        .iter()
        .filter(|k| !failed.contains(*k))
        .filter(|k| {
            last.get(KEPT[0]).is_some_and(|series| {
                series
                    .iter()
                    .any(|(l, _)| l.get("kustomization") == Some(*k))
            })
        })
        .collect();
    let checked = gauge_vec(
        &registry,
        "drift_check_kustomization_checked",
        "1 when this run checked the Kustomization, 0 when it could not (its other series are then those of when it was last checked).",
        &["kustomization"],
    );
    let last_checked = gauge_vec(
        &registry,
        "drift_check_kustomization_last_checked_timestamp_seconds",
        "When the Kustomization was last checked (Unix time).",
        &["kustomization"],
    );
    for k in report.kustomizations.iter().filter(|k| k.skipped.is_none()) {
        let id = k.id();
        let ok = !failed.contains(&id) && k.error.is_none();
        checked
            .with_label_values(&[&id])
            .set(if ok { 1.0 } else { 0.0 });
        if ok {
            last_checked.with_label_values(&[&id]).set(now);
        }
    }
    for id in &failed {
        checked.with_label_values(&[id]).set(0.0);
    }

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
    for k in report
        .kustomizations
        .iter()
        .filter(|k| !failed.contains(&k.id()))
    {
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
        "Findings by Kustomization, owner, drift kind and whether they are explained; 0 (no owner, no drift) for a checked Kustomization without unexplained findings. A suspended Kustomization's keep the values of before its suspension, with suspended=\"true\".",
        &["kustomization", "owner", "drift", "explained", "suspended"],
    );
    let mut counts: BTreeMap<[String; 5], f64> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| {
        !f.kustomization
            .as_ref()
            .is_some_and(|k| failed.contains(k) || kept_paused.contains(k))
    }) {
        let ks = f.kustomization.clone().unwrap_or_default();
        let key = [
            ks.clone(),
            f.owner.as_str().to_string(),
            f.drift.as_str().to_string(),
            f.explained.to_string(),
            paused.contains(&ks).to_string(),
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
        if !kept_paused.contains(&id) && !counts.keys().any(|key| key[0] == id && key[3] == "false")
        {
            let suspended = k.suspended.to_string();
            counts.insert(
                [id, String::new(), String::new(), "false".into(), suspended],
                0.0,
            );
        }
    }
    for (labels, n) in counts {
        findings.with_label_values(&labels).set(n);
    }
    // A suspended Kustomization's findings as they were before: paused.
    for (labels, value) in last.get(KEPT[0]).into_iter().flatten() {
        if labels
            .get("kustomization")
            .is_some_and(|k| kept_paused.contains(k))
        {
            let mut values = finding_labels(labels);
            values[4] = "true";
            findings.with_label_values(&values).set(*value);
        }
    }
    // What is known of the Kustomizations this run could not check: the
    // last group's series of theirs.
    let families: [(&str, &GaugeVec); 5] = [
        (KEPT[0], &findings),
        (KEPT[1], &objects),
        (KEPT[2], &suspended),
        (KEPT[3], &ready),
        (KEPT[4], &last_checked),
    ];
    for (name, family) in families {
        let Some(series) = last.get(name).filter(|_| partial) else {
            continue;
        };
        for (labels, value) in series {
            let Some(k) = labels.get("kustomization").filter(|k| failed.contains(*k)) else {
                continue;
            };
            let values: Vec<&str> = if name == KEPT[0] {
                finding_labels(labels).to_vec()
            } else {
                vec![labels.get("kustomization").map_or("", String::as_str)]
            };
            debug_assert_eq!(values[0], k);
            family.with_label_values(&values).set(*value);
        }
    }
    encode(&registry)
}

/// The label values of a `drift_check_findings` series of the last group;
/// `suspended` is "false" in a group pushed before it existed.
fn finding_labels(labels: &BTreeMap<String, String>) -> [&str; 5] {
    let get = |n: &str| labels.get(n).map_or("", String::as_str);
    let suspended = labels.get("suspended").map_or("false", String::as_str);
    [
        get("kustomization"),
        get("owner"),
        get("drift"),
        get("explained"),
        suspended,
    ]
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
            source: None,
            revision: None,
            applied_revision: None,
            suspended: false,
            suspended_since: None,
            objects: 0,
            error: None,
            skipped: None,
            ready,
            failing: None,
            cluster: None,
        };
        report.kustomizations = vec![
            entry("apps", Some(true)),
            entry("broken", Some(false)),
            entry("from-git", None),
        ];
        let text = success(&report, 1_700_000_000.0, 2.5, &Carried::new());
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("drift_check_findings"))
            .collect();
        assert_eq!(
            findings,
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/apps\",owner=\"\",suspended=\"false\"} 0",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/broken\",owner=\"\",suspended=\"false\"} 0",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/from-git\",owner=\"\",suspended=\"false\"} 0",
            ]
        );
        report.kustomizations[1].error = Some("render failed".into());
        report.kustomizations[2].skipped = Some("its source is another repo".into());
        let text = success(&report, 1_700_000_000.0, 2.5, &Carried::new());
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("drift_check_findings"))
            .collect();
        assert_eq!(
            findings,
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/apps\",owner=\"\",suspended=\"false\"} 0"
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

    #[test]
    fn a_partial_run_keeps_the_last_series_of_what_it_could_not_check_and_only_those() {
        let mut report = report();
        report.errors.retain(|e| e.kustomization.is_some());
        let entry = |name: &str| crate::report::KustomizationEntry {
            namespace: "flux-system".into(),
            name: name.into(),
            path: format!("./{name}"),
            source: None,
            revision: None,
            applied_revision: None,
            suspended: false,
            suspended_since: None,
            objects: 4,
            error: None,
            skipped: None,
            ready: None,
            failing: None,
            cluster: None,
        };
        report.kustomizations = vec![entry("a"), entry("b")];
        report.kustomizations[0].error = Some("x".into());
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<String, String>>()
        };
        let last: Carried = BTreeMap::from([
            (
                "drift_check_findings".to_string(),
                vec![
                    (
                        labels(&[
                            ("kustomization", "flux-system/a"),
                            ("owner", "flux"),
                            ("drift", "modified"),
                            ("explained", "false"),
                        ]),
                        2.0,
                    ),
                    (
                        labels(&[
                            ("kustomization", "flux-system/b"),
                            ("owner", "flux"),
                            ("drift", "modified"),
                            ("explained", "false"),
                        ]),
                        7.0,
                    ),
                ],
            ),
            (
                "drift_check_kustomization_last_checked_timestamp_seconds".to_string(),
                vec![
                    (
                        labels(&[("kustomization", "flux-system/a")]),
                        1_600_000_000.0,
                    ),
                    (
                        labels(&[("kustomization", "flux-system/b")]),
                        1_600_000_000.0,
                    ),
                ],
            ),
            (
                "drift_check_last_success_timestamp_seconds".to_string(),
                vec![(labels(&[]), 1_600_000_000.0)],
            ),
        ]);
        let text = partial(&report, 1_700_000_000.0, 2.5, &last);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "drift_check_errors{stage=\"render\"} 1",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/b\",owner=\"\",suspended=\"false\"} 0",
                "drift_check_findings{drift=\"modified\",explained=\"false\",kustomization=\"flux-system/a\",owner=\"flux\",suspended=\"false\"} 2",
                "drift_check_kustomization_checked{kustomization=\"flux-system/a\"} 0",
                "drift_check_kustomization_checked{kustomization=\"flux-system/b\"} 1",
                "drift_check_kustomization_last_checked_timestamp_seconds{kustomization=\"flux-system/a\"} 1600000000",
                "drift_check_kustomization_last_checked_timestamp_seconds{kustomization=\"flux-system/b\"} 1700000000",
                "drift_check_kustomization_suspended{kustomization=\"flux-system/b\"} 0",
                "drift_check_last_run_timestamp_seconds 1700000000",
                "drift_check_last_success_timestamp_seconds 1600000000",
                "drift_check_objects{kustomization=\"flux-system/b\"} 4",
                "drift_check_run_duration_seconds 2.5",
                "drift_check_run_success 0",
            ]
        );
    }

    #[test]
    fn a_suspended_kustomization_keeps_its_last_findings_series_labelled_suspended() {
        let mut report = report();
        report.errors.clear();
        let entry = |name: &str, suspended: bool| crate::report::KustomizationEntry {
            namespace: "flux-system".into(),
            name: name.into(),
            path: format!("./{name}"),
            source: None,
            revision: None,
            applied_revision: None,
            suspended,
            suspended_since: None,
            objects: 1,
            error: None,
            skipped: None,
            ready: None,
            failing: None,
            cluster: None,
        };
        report.kustomizations = vec![entry("a", true), entry("b", false)];
        let labels = |ks: &str, explained: &str| {
            BTreeMap::from(
                [
                    ("kustomization", ks),
                    ("owner", "flux"),
                    ("drift", "modified"),
                    ("explained", explained),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            )
        };
        // The group before: a's drift unexplained (a group of before the label), b's too.
        let last: Carried = BTreeMap::from([(
            "drift_check_findings".to_string(),
            vec![
                (labels("flux-system/a", "false"), 2.0),
                (labels("flux-system/b", "false"), 7.0),
            ],
        )]);
        let findings = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("drift_check_findings"))
                .map(String::from)
                .collect()
        };
        assert_eq!(
            findings(&success(&report, 1_700_000_000.0, 2.5, &last)),
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/b\",owner=\"\",suspended=\"false\"} 0",
                "drift_check_findings{drift=\"modified\",explained=\"false\",kustomization=\"flux-system/a\",owner=\"flux\",suspended=\"true\"} 2",
            ],
            "a keeps its 2, b is counted anew"
        );
        // No group before: this run's counts, labelled.
        assert_eq!(
            findings(&success(&report, 1_700_000_000.0, 2.5, &Carried::new())),
            [
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/a\",owner=\"\",suspended=\"true\"} 0",
                "drift_check_findings{drift=\"\",explained=\"false\",kustomization=\"flux-system/b\",owner=\"\",suspended=\"false\"} 0",
            ]
        );
    }
}
