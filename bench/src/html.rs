//! Benchmark: the HTML report of 100,000 findings (DRIFT_CHECK_BENCH_FINDINGS)
//! — its render time and size, and in headless Chromium (over WebDriver) how
//! long it takes to open and to filter.
//!
//! Run with `bench/html` (it installs chromium and chromedriver). The
//! synthetic report: 400 Kustomizations in 50 namespaces, 8 kinds, the four
//! severities and four owners, 98% of the findings sharing one of 60 common
//! edits per field (big groups: every severity and owner lists its 25 groups
//! of 10 objects, the page's largest) and 2% each with a change of its own.

use std::time::Instant;

use drift_check::classify::{Finding, Owner};
use drift_check::diff::{Change, Drift, Op};
use drift_check::k8s::object::ObjectRef;
use drift_check::report::{Format, KustomizationEntry, Report, Run, SCHEMA, Source, Summary};
use fantoccini::Locator;
use serde_json::json;

#[path = "../../tests/util/browser.rs"]
mod browser;

fn main() {
    let (Ok(chromium), Ok(driver)) = (
        std::env::var("DRIFT_CHECK_TEST_CHROMIUM"),
        std::env::var("DRIFT_CHECK_TEST_CHROMEDRIVER"),
    ) else {
        eprintln!("DRIFT_CHECK_TEST_CHROMIUM / _CHROMEDRIVER are not set: run bench/html");
        return;
    };
    let n: usize = std::env::var("DRIFT_CHECK_BENCH_FINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let report = synthetic(n);
    let started = Instant::now();
    let page = report.render(Format::Html);
    let render = started.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, &page).unwrap();
    println!(
        "{n} findings: rendered in {render:.2} s, {:.2} MiB",
        page.len() as f64 / (1024.0 * 1024.0)
    );

    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let browser = browser::Browser::start(&chromium, &driver).await;
            // A first open warms the browser up; the second is measured.
            browser.open(&path).await;
            browser.client.goto("about:blank").await.unwrap();
            browser.open(&path).await;
            let load = browser
                .eval(
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     return [n.domContentLoadedEventEnd, n.loadEventEnd];",
                )
                .await;
            let rows = browser
                .eval("return document.querySelectorAll('tr.finding').length;")
                .await;
            println!(
                "open: DOMContentLoaded {:.0} ms, load {:.0} ms ({} listed rows)",
                load[0].as_f64().unwrap(),
                load[1].as_f64().unwrap(),
                rows
            );
            // In the page: from the change event to the layout after it.
            // Each from all findings shown; the reset after it is not timed.
            for (filter, value) in [
                ("severity", "edited"),
                ("namespace", "ns-07"),
                ("owner", "crossplane"),
                ("kind", "ConfigMap"),
                ("cluster", "bench"),
            ] {
                let script = format!(
                    "const s = document.getElementById('f-{filter}'); const t = performance.now(); \
                     s.value = '{value}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); \
                     document.body.offsetHeight; const took = performance.now() - t; \
                     const shown = document.getElementById('shown').textContent; \
                     s.value = ''; s.dispatchEvent(new Event('change', {{bubbles: true}})); \
                     return [took, shown];"
                );
                let r = browser.eval(&script).await;
                println!(
                    "filter {filter}={value:?}: {:.0} ms in the page ({})",
                    r[0].as_f64().unwrap(),
                    r[1].as_str().unwrap()
                );
            }
            let r = browser
                .eval(
                    "const s = document.getElementById('f-text'); const t = performance.now(); \
                     s.value = 'kubectl-edit'; s.dispatchEvent(new Event('input', {bubbles: true})); \
                     document.body.offsetHeight; return [performance.now() - t, document.getElementById('shown').textContent];",
                )
                .await;
            println!(
                "search \"kubectl-edit\" (first, builds the index): {:.0} ms in the page ({})",
                r[0].as_f64().unwrap(),
                r[1].as_str().unwrap()
            );
            // Through WebDriver, as a person clicks: select, then read the count.
            let started = Instant::now();
            browser
                .client
                .find(Locator::Css("#f-owner"))
                .await
                .unwrap()
                .select_by_value("flux")
                .await
                .unwrap();
            let shown = browser
                .eval("return document.getElementById('shown').textContent;")
                .await;
            println!(
                "click owner=flux over WebDriver: {:.0} ms round trip ({})",
                started.elapsed().as_secs_f64() * 1000.0,
                shown.as_str().unwrap()
            );
            browser.close().await;
        });
}

const KINDS: [(&str, &str); 8] = [
    ("apps/v1", "Deployment"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("apps/v1", "StatefulSet"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Secret"),
    ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
];

fn synthetic(n: usize) -> Report {
    let kustomizations: Vec<KustomizationEntry> = (0..400)
        .map(|i| KustomizationEntry {
            namespace: "flux-system".into(),
            name: format!("app-{i:03}"),
            path: format!("./apps/app-{i:03}"),
            source: None,
            revision: None,
            applied_revision: Some("main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17".into()),
            suspended: i % 97 == 0,
            suspended_since: (i % 97 == 0).then(|| "2026-11-01T00:00:00Z".into()),
            objects: n / 400 + 5,
            error: None,
            skipped: None,
            ready: Some(true),
            failing: None,
            cluster: None,
        })
        .collect();
    let findings = (0..n)
        .map(|i| {
            let (api_version, kind) = KINDS[i % KINDS.len()];
            let drift = match i % 20 {
                0 => Drift::Missing,
                1 => Drift::Orphaned,
                2 => Drift::Conflict,
                _ => Drift::Modified,
            };
            let owner = match (i / 20) % 10 {
                0..=6 => Owner::Flux,
                7 => Owner::Helm,
                8 => Owner::Crossplane,
                _ => Owner::None,
            };
            let shared = i % 50 != 0;
            let change = match drift {
                Drift::Missing => Change {
                    path: String::new(),
                    op: Op::Remove,
                    desired: None,
                    live: None,
                    manager: None,
                    time: None,
                    explanation: None,
                    readable_path: None,
                },
                Drift::Orphaned => Change {
                    path: String::new(),
                    op: Op::Add,
                    desired: None,
                    live: None,
                    manager: Some("kubectl-client-side-apply".into()),
                    time: Some(format!(
                        "2026-{:02}-{:02}T08:00:00Z",
                        1 + i % 11,
                        1 + i % 28
                    )),
                    explanation: None,
                    readable_path: None,
                },
                _ => Change {
                    path: if i % 3 == 0 {
                        "/spec/replicas".into()
                    } else {
                        format!("/metadata/annotations/note-{}", i % 7)
                    },
                    op: if i % 3 == 0 { Op::Replace } else { Op::Add },
                    desired: (i % 3 == 0).then(|| json!(2)),
                    live: Some(if shared {
                        json!(format!("value-{}", i % 60))
                    } else {
                        json!(format!("value-of-finding-{i}"))
                    }),
                    manager: Some(if i % 4 == 0 { "kubectl-edit" } else { "k9s" }.into()),
                    time: Some(format!(
                        "2026-{:02}-{:02}T08:00:00Z",
                        1 + i % 11,
                        1 + i % 28
                    )),
                    explanation: None,
                    readable_path: None,
                },
            };
            let k = &kustomizations[i % kustomizations.len()];
            Finding {
                kustomization: Some(k.id()),
                object: ObjectRef {
                    api_version: api_version.into(),
                    kind: kind.into(),
                    namespace: Some(format!("ns-{:02}", i % 50)),
                    name: format!("object-{i:06}"),
                },
                drift,
                owner,
                explained: i % 25 == 24,
                explanation: (i % 25 == 24).then(|| "set by an autoscaler".into()),
                changes: vec![change],
                fingerprint: format!("{i:016x}"),
                remedy: format!(
                    "revert the manual change and make it through a git PR to {}",
                    k.path
                ),
                message: None,
            }
        })
        .collect();
    let mut report = Report {
        schema: SCHEMA,
        run: Run {
            id: "bench".into(),
            started_at: "2026-12-07T02:00:00Z".into(),
            finished_at: "2026-12-07T02:00:30Z".into(),
            cluster: "bench".into(),
            source: Source {
                url: "https://github.com/acme/infra".into(),
                revision: None,
                note: None,
            },
            api_requests: None,
        },
        summary: Summary::default(),
        kustomizations,
        findings,
        errors: vec![],
        warnings: vec![],
    };
    report.summarize();
    report
}
