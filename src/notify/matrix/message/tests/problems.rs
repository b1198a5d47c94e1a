//! What could not be checked, failing and suspended Kustomizations, and a
//! run that checked nothing: posted once, resolved, paused, never invented.

use super::*;

fn error(ks: Option<&str>, stage: crate::error::Stage, message: &str) -> ErrorEntry {
    ErrorEntry {
        kustomization: ks.map(Into::into),
        stage,
        message: message.into(),
    }
}

#[test]
fn a_run_that_could_not_check_a_kustomization_says_so_once_resolves_nothing_in_it_and_then_resolves()
 {
    let r = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/db", "pg", "f2", json!(1), json!(2)),
    ]);
    let first = plan(&r, &State::default(), NOW, &options());
    let mut failed = report(vec![]);
    failed.kustomizations[0].error = Some("render failed".into());
    failed.errors.push(error(
        Some("apps/web"),
        crate::error::Stage::Render,
        "kustomization.yaml: unknown field `resourcez`",
    ));
    failed.errors.push(error(
        Some("apps/web"),
        crate::error::Stage::Render,
        "a second error",
    ));
    let second = plan(&failed, &first.next, TOMORROW, &options());
    let m = second.message.unwrap();
    assert_eq!(
        m.body,
        "🟠 drift-check prod: 1 unexplained finding (1 edited) at 0123456789ab · 1 still open · 1 resolved · could not check 1 Kustomization\n\
         \n\
         ⚠️ Could not check\n\
         - ⚠️ new · could not check Kustomization apps/web since 2026-11-25T02:00:05Z: render: kustomization.yaml: unknown field `resourcez`\n\
         \n\
         Still open (1):\n\
         - 🟠 Deployment/web/api · modified · apps/web · since 2026-11-20T08:15:00Z\n\
         \n\
         ✅ Resolved (1):\n\
         - Deployment/web/pg · modified · apps/db · open since 2026-11-20T08:15:00Z"
    );
    assert!(m.html.contains("<li>⚠️ <strong>new</strong> · could not check Kustomization apps/web since 2026-11-25T02:00:05Z: render: kustomization.yaml: unknown field <code>resourcez</code></li>"), "{}", m.html);
    assert_eq!(ids(&second.next).len(), 1);
    // The same failure again: nothing.
    let third = plan(&failed, &second.next, "2026-11-26T02:00:05Z", &options());
    assert_eq!(third.message, None);
    // It works again.
    let ok = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let fourth = plan(&ok, &third.next, "2026-11-27T02:00:05Z", &options());
    assert_eq!(
        fourth.message.unwrap().body,
        "🟠 drift-check prod: 1 unexplained finding (1 edited) at 0123456789ab · 1 still open\n\
         \n\
         ⚠️ Could not check\n\
         - ✅ resolved · Kustomization apps/web is checked again (could not be since 2026-11-25T02:00:05Z)\n\
         \n\
         Still open (1):\n\
         - 🟠 Deployment/web/api · modified · apps/web · since 2026-11-20T08:15:00Z"
    );
    assert!(fourth.next.problems.is_empty());
    // A run limited to apps/db (`--kustomization`) leaves apps/web's finding open.
    let mut only_db = report(vec![]);
    only_db.kustomizations.remove(0);
    assert_eq!(
        plan(&only_db, &second.next, TOMORROW, &options()).message,
        None
    );
}

#[test]
fn a_run_with_a_global_error_resolves_nothing_and_posts_the_stage_and_its_first_error() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, &options());
    let mut failed = report(vec![]);
    failed.errors.push(error(
        None,
        crate::error::Stage::Live,
        "snapshot unreadable: <b>\u{1b}[31m",
    ));
    let second = plan(&failed, &first.next, TOMORROW, &options());
    let m = second.message.unwrap();
    assert_eq!(
        m.body,
        "🟠 drift-check prod: 1 unexplained finding (1 edited) at 0123456789ab · 1 still open · could not check stage live\n\
         \n\
         ⚠️ Could not check\n\
         - ⚠️ new · could not check stage live since 2026-11-25T02:00:05Z: snapshot unreadable: <b>\\u{1b}[31m\n\
         \n\
         Still open (1):\n\
         - 🟠 Deployment/web/api · modified · apps/web · since 2026-11-20T08:15:00Z"
    );
    assert!(
        m.html
            .contains("snapshot unreadable: &lt;b&gt;\\u{1b}[31m</li>"),
        "{}",
        m.html
    );
    assert_eq!(ids(&second.next).len(), 1);
}

#[test]
fn a_skipped_kustomization_resolves_nothing() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, &options());
    let mut skipped = report(vec![]);
    skipped.kustomizations[0].skipped = Some("its source is another repo".into());
    assert_eq!(
        plan(&skipped, &first.next, TOMORROW, &options()).message,
        None
    );
}

#[test]
fn suspended_and_failing_kustomizations_are_posted_new_still_and_resumed() {
    let mut r = report(vec![]);
    r.kustomizations[0].suspended = true;
    r.kustomizations[0].suspended_since = Some("2026-11-22T17:40:00Z".into());
    r.kustomizations[1].failing = Some(crate::flux::Failing {
        reason: "BuildFailed".into(),
        message: "kustomize build failed: <missing>".into(),
        since: Some("2026-11-23T03:00:00Z".into()),
    });
    let first = plan(&r, &State::default(), NOW, &options());
    assert_eq!(
        first.message.unwrap().body,
        "⚠️ drift-check prod: no unexplained drift at 0123456789ab · 1 Kustomization failing · 1 Kustomization suspended\n\
         \n\
         ⚠️ Failing, suspended\n\
         - ❌ new · Kustomization apps/db is failing since 2026-11-23T03:00:00Z: BuildFailed: kustomize build failed: <missing>\n\
         - ⏸️ new · Kustomization apps/web is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization web -n apps`"
    );
    assert_eq!(plan(&r, &first.next, TOMORROW, &options()).message, None);
    // A finding elsewhere posts them as still.
    let mut with_finding = r.clone();
    with_finding
        .findings
        .push(finding("apps/db", "pg", "f", json!(1), json!(2)));
    let m = plan(&with_finding, &first.next, TOMORROW, &options())
        .message
        .unwrap();
    assert!(m.body.contains("\n- ❌ still · Kustomization apps/db is failing since 2026-11-23T03:00:00Z: BuildFailed: kustomize build failed: <missing>\n- ⏸️ still · Kustomization apps/web is suspended"), "{}", m.body);
    // Resumed and Ready again.
    let fine = report(vec![]);
    let m = plan(&fine, &first.next, TOMORROW, &options())
        .message
        .unwrap();
    assert_eq!(
        m.body,
        "✅ drift-check prod: no unexplained drift at 0123456789ab\n\
         \n\
         ⚠️ Failing, suspended\n\
         - ✅ Ready again · Kustomization apps/db (failing since 2026-11-23T03:00:00Z)\n\
         - ▶️ resumed · Kustomization apps/web (suspended since 2026-11-22T17:40:00Z)"
    );
}

/// The cluster cannot be reached: no Kustomization was listed. The headline
/// is the cause, then what the last post said was open and when — not the
/// old findings as today's result.
#[test]
fn a_run_that_checked_nothing_says_why_first_then_what_was_last_known() {
    let r = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/db", "pg", "f2", json!(1), json!(2)),
    ]);
    let first = plan(&r, &State::default(), NOW, &options());
    let mut down = report(vec![]);
    down.kustomizations.clear();
    down.errors.push(error(
        None,
        crate::error::Stage::Discover,
        "list kustomize.toolkit.fluxcd.io/v1 kustomizations (API server https://10.0.0.1/): Connection refused",
    ));
    let p = plan(&down, &first.next, TOMORROW, &options());
    let body = p.message.unwrap().body;
    let lines: Vec<&str> = body.lines().take(5).collect();
    assert_eq!(
        lines,
        [
            "⚠️ drift-check could not check prod: discover: list kustomize.toolkit.fluxcd.io/v1 kustomizations (API server https://10.0.0.1/): Connection refused",
            "last known (from 2026-11-24T02:00:05Z): 2 open (2 edited)",
            "",
            "⚠️ Could not check",
            "- ⚠️ new · could not check stage discover since 2026-11-25T02:00:05Z: list kustomize.toolkit.fluxcd.io/v1 kustomizations (API server https://10.0.0.1/): Connection refused",
        ],
        "{body}"
    );
    assert!(body.contains("\n\nStill open (2):\n"), "{body}");
    assert_eq!(p.next.findings, first.next.findings, "nothing resolved");

    // Nothing posted before: nothing known.
    let p = plan(&down, &State::default(), NOW, &options());
    assert_eq!(
        p.message.unwrap().body.lines().nth(1),
        Some("nothing known from an earlier run")
    );
}

/// Suspending a Kustomization pauses its open findings: posted once as
/// paused, never "resolved"; on resume they are open as before, with their
/// first "since", not new.
#[test]
fn a_suspended_kustomizations_findings_are_paused_not_resolved_and_not_new_on_resume() {
    let drifting = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/db", "pg", "f2", json!(1), json!(2)),
    ]);
    let first = plan(&drifting, &State::default(), NOW, &options());
    let web = identity(Some("apps/web"), "Deployment/web/api", "modified");
    let since = first.next.findings[&web].since.clone();

    let mut suspended = drifting.clone();
    suspended.kustomizations[0].suspended = true;
    suspended.kustomizations[0].suspended_since = Some("2026-11-24T12:00:00Z".into());
    suspended.findings[0].explained = true;
    suspended.findings[0].explanation = Some("the Kustomization is suspended".into());
    let p = plan(&suspended, &first.next, TOMORROW, &options());
    let body = p.message.unwrap().body;
    assert!(!body.contains("Resolved"), "{body}");
    assert!(
        body.ends_with(&format!(
            "⏸️ Paused while suspended (1):\n- 🟠 paused · Deployment/web/api · modified · apps/web · open since {since}"
        )),
        "{body}"
    );
    assert!(
        body.lines()
            .next()
            .unwrap()
            .contains(" · 1 paused while suspended"),
        "{body}"
    );
    assert!(p.next.findings[&web].paused);

    // Still suspended: nothing new to say.
    let again = plan(&suspended, &p.next, "2026-11-26T02:00:05Z", &options());
    assert_eq!(again.message, None);

    // Resumed: open again as before — not new, same since.
    let resumed = plan(&drifting, &again.next, "2026-11-27T02:00:05Z", &options());
    let body = resumed.message.unwrap().body;
    assert!(!body.contains(" new "), "{body}");
    assert!(
        body.contains("▶️ resumed · Kustomization apps/web"),
        "{body}"
    );
    assert_eq!(resumed.next.findings[&web].since, since);
    assert!(!resumed.next.findings[&web].paused);
}
