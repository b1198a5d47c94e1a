//! The HTML report (`-o html`, `--html-out`) on the fixture platform, byte
//! for byte and in a real browser (headless Chromium over WebDriver): its
//! own script and style run under its policy, each filter shows exactly
//! what it should, hostile text stays text, no Secret value is in it.

use std::path::Path;

use drift_check::report::html::{self, Options};
use drift_check::report::links::LinkTemplates;
use drift_check::report::{Format, Report};
use fantoccini::Locator;

use crate::util::browser::Browser;
use crate::util::{fixture_report, run, service};

const SECRETS: [&str; 2] = ["s3cr3t-from-git", "hunter2-changed-live"];

/// The fixture report with its run's id, times and repository fixed (the
/// ages on the page count from the end of the run; the repository, also
/// each Kustomization's, is the checkout's absolute path otherwise).
fn fixture() -> Report {
    let mut report = fixture_report();
    let absolute = report.run.source.url.clone();
    report.run.source.url = "fixtures/infra-repo".into();
    for source in report.kustomizations.iter_mut().flat_map(|k| &mut k.source) {
        if source.url == absolute {
            source.url = "fixtures/infra-repo".into();
        }
    }
    report.run.id = "00000000-0000-4000-8000-000000000000".into();
    report.run.started_at = "2026-11-24T14:00:00Z".into();
    report.run.finished_at = "2026-11-24T14:00:05Z".into();
    report
}

/// [`fixture`] from an async test: on a thread of its own, as the check
/// runs on a runtime of its own.
fn fixture_off_runtime() -> Report {
    std::thread::spawn(fixture).join().unwrap()
}

fn browser_paths() -> Option<(String, String)> {
    Some((
        service("DRIFT_CHECK_TEST_CHROMIUM")?,
        service("DRIFT_CHECK_TEST_CHROMEDRIVER")?,
    ))
}

/// The fixture page, byte for byte, as recorded in `fixtures/golden/check.html`
/// (record again with `DRIFT_CHECK_RECORD_GOLDEN=1`).
#[test]
fn html_report_of_the_fixtures_matches_the_golden_file() {
    let page = fixture().render(Format::Html);
    let path = crate::util::root().join("fixtures/golden/check.html");
    if std::env::var_os("DRIFT_CHECK_RECORD_GOLDEN").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    assert!(page == golden, "the page differs from {}", path.display());
}

#[test]
fn check_writes_the_html_page_with_html_out_and_prints_it_with_o_html() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("report.html");
    let out = run(&[
        "check",
        "--config",
        "fixtures/drift-check.yaml",
        "--repo",
        "fixtures/infra-repo",
        "--live-snapshot",
        "fixtures/live/prod",
        "-o",
        "json",
        "--html-out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout stays JSON");
    assert_eq!(json["summary"]["unexplained"], 6);
    let page = std::fs::read_to_string(&out_path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(
        page.contains("drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned)"),
        "{page}"
    );
    for secret in SECRETS {
        assert!(!page.contains(secret), "the page holds {secret}");
    }

    let bad = run(&[
        "check",
        "--repo",
        "fixtures/infra-repo",
        "--live-snapshot",
        "fixtures/live/prod",
        "--html-out",
        "/nonexistent-dir/report.html",
    ]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains(
            "--html-out /nonexistent-dir/report.html: cannot write the HTML report: No such file or directory"
        ),
        "{}",
        bad.stderr
    );
}

/// What the page shows now: the findings `#shown` counts, and the rows not
/// hidden themselves or by a section, owner or group.
async fn shown(browser: &Browser) -> (String, u64) {
    let text = browser
        .eval("return document.getElementById('shown').textContent;")
        .await;
    let rows = browser
        .eval(
            "return Array.from(document.querySelectorAll('tr.finding')).filter(r => !r.closest('[hidden]')).length;",
        )
        .await;
    (text.as_str().unwrap().to_string(), rows.as_u64().unwrap())
}

/// Writes the page where the browser can open it.
fn write_page(dir: &Path, name: &str, page: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, page).unwrap();
    path
}

/// The fixture page opened in Chromium: its script ran (the filters show)
/// and its style applied, both allowed by their hashes alone; a screenshot
/// of it goes to docs/ with `DRIFT_CHECK_RECORD_SAMPLE=1`.
#[tokio::test(flavor = "multi_thread")]
async fn html_report_runs_its_own_script_and_style_under_its_policy_in_chromium() {
    let Some((chromium, driver)) = browser_paths() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = fixture_off_runtime().render(Format::Html);
    let path = write_page(dir.path(), "drift-check-prod-2026-11-24.html", &page);
    let browser = Browser::start(&chromium, &driver).await;
    browser.open(&path).await;
    assert_eq!(
        browser
            .eval("return document.getElementById('filters').hidden;")
            .await,
        false,
        "the script did not run"
    );
    assert_eq!(
        browser
            .eval("return getComputedStyle(document.getElementById('filters')).position;")
            .await,
        "sticky",
        "the style did not apply"
    );
    assert_eq!(
        shown(&browser).await,
        ("10 findings listed".to_string(), 10)
    );
    let rects = browser
        .eval("return document.querySelectorAll('svg rect').length;")
        .await;
    assert!(rects.as_u64().unwrap() >= 4, "{rects}");
    if std::env::var_os("DRIFT_CHECK_RECORD_SAMPLE").is_some() {
        let height = browser
            .eval("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap();
        browser
            .client
            .set_window_size(1280, height.min(6000) as u32)
            .await
            .unwrap();
        let png = browser.client.screenshot().await.unwrap();
        std::fs::write(crate::util::root().join("docs/html-report.png"), png).unwrap();
    }
    browser.close().await;
}

/// Each value of each filter, then a text search, shows exactly the
/// fixture's findings that have it (10 in all: 6 unexplained, 4 explained).
#[tokio::test(flavor = "multi_thread")]
async fn each_html_filter_and_the_search_show_exactly_the_matching_findings() {
    let Some((chromium, driver)) = browser_paths() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_page(
        dir.path(),
        "page.html",
        &fixture_off_runtime().render(Format::Html),
    );
    let browser = Browser::start(&chromium, &driver).await;
    browser.open(&path).await;
    let cases: &[(&str, &str, u64)] = &[
        ("cluster", "prod", 10),
        ("namespace", "docs", 2),
        ("namespace", "monitoring", 5),
        ("namespace", "tenants", 1),
        ("namespace", "(cluster-scoped)", 2),
        ("owner", "flux", 8),
        ("owner", "crossplane", 1),
        ("owner", "helm", 1),
        ("severity", "missing-or-conflict", 2),
        ("severity", "edited", 3),
        ("severity", "orphaned", 1),
        ("severity", "explained", 4),
        ("kind", "Deployment", 4),
        ("kind", "Secret", 1),
        ("kind", "HTTPRoute", 1),
        ("kind", "ClusterRoleBinding", 1),
        ("kind", "NetworkPolicy", 1),
        ("kind", "ConfigMap", 1),
        ("kind", "Composition", 1),
    ];
    let options = browser
        .eval("return Array.from(document.querySelectorAll('#filters option')).filter(o => o.value !== '').length;")
        .await;
    assert_eq!(
        options.as_u64().unwrap(),
        cases.len() as u64,
        "every option is a case"
    );
    for (filter, value, count) in cases {
        let select = browser
            .client
            .find(Locator::Css(&format!("#f-{filter}")))
            .await
            .unwrap();
        select.select_by_value(value).await.unwrap();
        assert_eq!(
            shown(&browser).await,
            (format!("{count} of 10 listed findings shown"), *count),
            "{filter} = {value}"
        );
        select.select_by_value("").await.unwrap();
        assert_eq!(
            shown(&browser).await,
            ("10 findings listed".to_string(), 10)
        );
    }
    // Two filters at once, then a search within them.
    let namespace = browser
        .client
        .find(Locator::Css("#f-namespace"))
        .await
        .unwrap();
    namespace.select_by_value("monitoring").await.unwrap();
    let severity = browser
        .client
        .find(Locator::Css("#f-severity"))
        .await
        .unwrap();
    severity.select_by_value("explained").await.unwrap();
    assert_eq!(shown(&browser).await.1, 3);
    let search = browser.client.find(Locator::Css("#f-text")).await.unwrap();
    search.send_keys("kubectl-rollout").await.unwrap();
    assert_eq!(
        shown(&browser).await,
        ("1 of 10 listed findings shown".to_string(), 1)
    );
    let object = browser
        .eval("return Array.from(document.querySelectorAll('tr.finding')).filter(r => !r.closest('[hidden]'))[0].cells[0].textContent;")
        .await;
    assert_eq!(object, "Deployment/monitoring/prometheus-adapter");
    namespace.select_by_value("").await.unwrap();
    severity.select_by_value("").await.unwrap();
    search.clear().await.unwrap();
    search.send_keys("KUBECTL-EDIT").await.unwrap();
    assert_eq!(
        shown(&browser).await,
        ("3 of 10 listed findings shown".to_string(), 3),
        "a search is case-insensitive and reads the managers"
    );
    search.clear().await.unwrap();
    search.send_keys("replicas").await.unwrap();
    assert_eq!(
        shown(&browser).await.1,
        2,
        "a search reads the group's fields: docs-portal and grafana"
    );
    browser.close().await;
}

/// Markup, a script end tag, a `javascript:` link and bidirectional
/// controls in object names, values, manager names, the repository URL and
/// the link templates: nothing runs, no element is made of them, every one
/// reads as text, and no link goes anywhere but `https:`.
#[tokio::test(flavor = "multi_thread")]
async fn xss_canaries_in_the_html_report_never_run_and_read_as_text() {
    let Some((chromium, driver)) = browser_paths() else {
        return;
    };
    const MARKUP: &str = "<img src=x onerror=\"document.title='pwned'\">";
    const SCRIPT: &str = "</script><script>document.title='pwned'</script>";
    const LINK: &str = "javascript:document.title='pwned'";
    const BIDI: &str = "txt.\u{202e}exe";
    let mut report = fixture_off_runtime();
    report.run.source.url = format!("{LINK}//github.com/acme/infra");
    for k in &mut report.kustomizations {
        k.applied_revision = Some("main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17".into());
    }
    for f in &mut report.findings {
        f.object.name = format!("{}{MARKUP}{BIDI}", f.object.name);
        for c in &mut f.changes {
            c.manager = Some(format!("{SCRIPT}{BIDI}"));
            if c.live.is_some() {
                c.live = Some(serde_json::json!(format!("{LINK} {MARKUP}")));
            }
        }
    }
    let hostile = Options {
        links: LinkTemplates {
            commit: Some(format!("{LINK}/{{sha}}")),
            file: Some(format!("{LINK}/{{sha}}/{{path}}")),
        },
        first_seen: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_page(dir.path(), "page.html", &html::render(&report, &hostile));
    let browser = Browser::start(&chromium, &driver).await;
    browser.open(&path).await;
    let title = browser.eval("return document.title;").await;
    assert_eq!(title, "drift-check prod");
    assert_eq!(browser.eval("return document.images.length;").await, 0);
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('script').length;")
            .await,
        1,
        "only the page's own script"
    );
    let hrefs = browser
        .eval("return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));")
        .await;
    assert_eq!(
        hrefs,
        serde_json::json!([]),
        "no link from a hostile template"
    );
    // The text of the page's nodes (not `innerText`: the groups far down are
    // not laid out yet, `content-visibility: auto`), its constant script aside.
    let text = browser
        .eval("return Array.from(document.body.children).filter(e => e.tagName !== 'SCRIPT').map(e => e.textContent).join('\\n');")
        .await
        .as_str()
        .unwrap()
        .to_string();
    for canary in [
        MARKUP,
        SCRIPT,
        LINK,
        "txt.\\u{202e}exe",
        "Deployment/docs/docs-portal<img src=x",
    ] {
        assert!(text.contains(canary), "{canary:?} does not read as text");
    }
    assert!(
        !text.contains('\u{202e}'),
        "a bidi control reached the page"
    );
    // Clicking every row's cells and the search runs nothing either.
    browser
        .client
        .find(Locator::Css("#f-text"))
        .await
        .unwrap()
        .send_keys("onerror")
        .await
        .unwrap();
    assert_eq!(shown(&browser).await.1, 10);
    assert_eq!(
        browser.eval("return document.title;").await,
        "drift-check prod"
    );
    browser.close().await;
}
