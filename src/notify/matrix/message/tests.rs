use serde_json::json;

use super::*;
use crate::classify::Owner;
use crate::diff::{Change, Drift, Op};
use crate::k8s::object::ObjectRef;
use crate::report::{ErrorEntry, KustomizationEntry, Run, Source, Summary};

fn finding(ks: &str, name: &str, fingerprint: &str, desired: Value, live: Value) -> Finding {
    Finding {
        kustomization: Some(ks.into()),
        object: ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("web".into()),
            name: name.into(),
        },
        drift: Drift::Modified,
        owner: Owner::Flux,
        explained: false,
        explanation: None,
        changes: vec![Change {
            path: "/spec/replicas".into(),
            op: Op::Replace,
            desired: Some(desired),
            live: Some(live),
            manager: Some("kubectl-edit".into()),
            time: Some("2026-11-20T08:15:00Z".into()),
            explanation: None,
        }],
        fingerprint: fingerprint.into(),
        remedy: "revert the manual change and make it through a git PR to ./apps/web".into(),
        message: None,
    }
}

fn report(findings: Vec<Finding>) -> Report {
    let mut r = Report {
        schema: crate::report::SCHEMA,
        run: Run {
            id: "run-1".into(),
            started_at: "2026-11-24T02:00:00Z".into(),
            finished_at: "2026-11-24T02:00:05Z".into(),
            cluster: "prod".into(),
            source: Source {
                url: "https://git.example.org/infra".into(),
                revision: Some("0123456789abcdef0123".into()),
                note: None,
            },
            api_requests: None,
        },
        summary: Summary::default(),
        kustomizations: ["apps/web", "apps/db"]
            .iter()
            .map(|id| {
                let (namespace, name) = id.split_once('/').unwrap();
                KustomizationEntry {
                    namespace: namespace.into(),
                    name: name.into(),
                    path: format!("./{name}"),
                    revision: None,
                    applied_revision: None,
                    suspended: false,
                    suspended_since: None,
                    objects: 1,
                    error: None,
                    skipped: None,
                    ready: None,
                    failing: None,
                }
            })
            .collect(),
        findings,
        errors: vec![],
        warnings: vec![],
    };
    r.summarize();
    r
}

const NOW: &str = "2026-11-24T02:00:05Z";
const TOMORROW: &str = "2026-11-25T02:00:05Z";

#[test]
fn first_post_details_every_unexplained_finding_with_path_values_who_and_remedy() {
    let mut explained = finding("apps/web", "cache", "f3", json!(1), json!(2));
    explained.explained = true;
    let r = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/db", "pg", "f2", json!(1), json!(2)),
        explained,
    ]);
    let plan = plan(&r, &State::default(), NOW, false, 24_576);
    let m = plan.message.unwrap();
    assert_eq!(
        m.body,
        "drift-check report: prod at 0123456789ab: 2 unexplained findings in 2 Kustomizations (2 new)\n\
         \n\
         Kustomization apps/db:\n\
         - Deployment/web/pg — modified, owner flux\n  \
         /spec/replicas: 1 → 2 (by kubectl-edit at 2026-11-20T08:15:00Z)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web\n\
         \n\
         Kustomization apps/web:\n\
         - Deployment/web/api — modified, owner flux\n  \
         /spec/replicas: 3 → 0 (by kubectl-edit at 2026-11-20T08:15:00Z)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web"
    );
    assert!(m.html.starts_with("<p><strong>drift-check report: prod at 0123456789ab: 2 unexplained findings in 2 Kustomizations (2 new)</strong></p>\n<h4>Kustomization apps/db</h4>\n<ul>\n<li><code>Deployment/web/pg</code> — modified, owner flux\n<ul>\n<li>/spec/replicas: 1 → 2 (by kubectl-edit at 2026-11-20T08:15:00Z)</li>\n</ul>\nremedy: "), "{}", m.html);
    assert_eq!(m.omitted, 0);
    assert!(m.transaction_id.starts_with("drift-check-"));
    assert_eq!(
        plan.next.open.keys().collect::<Vec<_>>(),
        ["f1", "f2"],
        "explained findings are not remembered"
    );
    assert_eq!(plan.next.open["f1"].since, NOW);
}

#[test]
fn the_same_findings_again_post_nothing_and_keep_the_state() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, false, 24_576);
    let second = plan(&r, &first.next, TOMORROW, false, 24_576);
    assert_eq!(second.message, None);
    assert_eq!(second.next, first.next);
}

#[test]
fn a_resolved_finding_posts_a_resolved_line_and_counts_the_still_open() {
    let both = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/web", "worker", "f2", json!(1), json!(2)),
    ]);
    let first = plan(&both, &State::default(), NOW, false, 24_576);
    let one = report(vec![finding(
        "apps/web",
        "worker",
        "f2",
        json!(1),
        json!(2),
    )]);
    let second = plan(&one, &first.next, TOMORROW, false, 24_576);
    let m = second.message.unwrap();
    assert_eq!(
        m.body,
        "drift-check report: prod at 0123456789ab: 1 unexplained finding in 1 Kustomization (0 new, 1 still open, oldest since 2026-11-24T02:00:05Z, 1 resolved)\n\
         \n\
         Resolved:\n\
         - resolved: Deployment/web/api (modified) in apps/web, open since 2026-11-24T02:00:05Z\n\
         \n\
         1 still open finding: see the report or the previous messages."
    );
    assert_eq!(second.next.open.keys().collect::<Vec<_>>(), ["f2"]);
    assert_eq!(
        second.next.open["f2"].since, NOW,
        "still open keeps its first date"
    );
}

#[test]
fn the_daily_digest_reposts_open_findings_once_a_day() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, true, 24_576);
    assert_eq!(
        plan(&r, &first.next, "2026-11-24T12:00:00Z", true, 24_576).message,
        None
    );
    let digest = plan(&r, &first.next, TOMORROW, true, 24_576)
        .message
        .unwrap();
    assert!(digest.body.starts_with("drift-check daily digest: prod at 0123456789ab: 1 unexplained finding in 1 Kustomization\n\nKustomization apps/web:\n- Deployment/web/api"), "{}", digest.body);
    assert_ne!(digest.transaction_id, first.message.unwrap().transaction_id);
}

#[test]
fn the_same_run_content_gives_the_same_transaction_id() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let mut again = r.clone();
    again.run.id = "run-2".into();
    let a = plan(&r, &State::default(), NOW, false, 24_576)
        .message
        .unwrap();
    let b = plan(
        &again,
        &State::default(),
        "2026-11-24T02:09:00Z",
        false,
        24_576,
    )
    .message
    .unwrap();
    assert_eq!(a.transaction_id, b.transaction_id);
}

#[test]
fn a_large_report_is_cut_under_the_cap_with_and_n_more() {
    let findings: Vec<Finding> = (0..400)
        .map(|i| {
            finding(
                "apps/web",
                &format!("api-{i:03}"),
                &format!("f{i:03}"),
                json!("x".repeat(300)),
                json!(i),
            )
        })
        .collect();
    let m = plan(&report(findings), &State::default(), NOW, false, 8_192)
        .message
        .unwrap();
    assert!(
        m.body.len() + m.html.len() <= 8_192,
        "{}",
        m.body.len() + m.html.len()
    );
    assert!(m.omitted > 300);
    assert!(
        m.body.ends_with(&format!(
            "… and {} more findings: the full report is attached (drift-check-report.json).",
            m.omitted
        )),
        "{}",
        m.body
    );
    assert!(
        m.body.contains(&format!("{}…", "x".repeat(120))),
        "long values are cut"
    );
    assert!(
        m.html.ends_with("</p>")
            && m.html.matches("<ul>").count() == m.html.matches("</ul>").count()
    );
}

#[test]
fn html_is_escaped() {
    let r = report(vec![finding(
        "apps/web",
        "api",
        "f1",
        json!("<script>"),
        json!("a&b"),
    )]);
    let m = plan(&r, &State::default(), NOW, false, 24_576)
        .message
        .unwrap();
    assert!(m.html.contains("&lt;script&gt; → a&amp;b"), "{}", m.html);
    assert!(m.body.contains("<script> → a&b"));
}

#[test]
fn a_run_that_could_not_check_a_kustomization_resolves_nothing_in_it() {
    let r = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/db", "pg", "f2", json!(1), json!(2)),
    ]);
    let first = plan(&r, &State::default(), NOW, false, 24_576);
    let mut failed = report(vec![]);
    failed.kustomizations[0].error = Some("render failed".into());
    failed.errors.push(ErrorEntry {
        kustomization: Some("apps/web".into()),
        stage: crate::error::Stage::Render,
        message: "render failed".into(),
    });
    let second = plan(&failed, &first.next, TOMORROW, false, 24_576);
    let m = second.message.unwrap();
    assert!(
        m.body
            .contains("- resolved: Deployment/web/pg (modified) in apps/db"),
        "{}",
        m.body
    );
    assert!(!m.body.contains("Deployment/web/api"), "{}", m.body);
    assert_eq!(second.next.open.keys().collect::<Vec<_>>(), ["f1"]);
    // A run limited to apps/db (`--kustomization`) leaves apps/web's finding open too.
    let mut only_db = report(vec![]);
    only_db.kustomizations.remove(0);
    assert_eq!(
        plan(&only_db, &second.next, TOMORROW, false, 24_576).message,
        None
    );
}

#[test]
fn a_run_with_a_global_error_resolves_nothing() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, false, 24_576);
    let mut failed = report(vec![]);
    failed.errors.push(ErrorEntry {
        kustomization: None,
        stage: crate::error::Stage::Live,
        message: "snapshot unreadable".into(),
    });
    let second = plan(&failed, &first.next, TOMORROW, false, 24_576);
    assert_eq!(second.message, None);
    assert_eq!(second.next.open.keys().collect::<Vec<_>>(), ["f1"]);
}

#[test]
fn a_skipped_kustomization_resolves_nothing() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, false, 24_576);
    let mut skipped = report(vec![]);
    skipped.kustomizations[0].skipped = Some("its source is another repo".into());
    assert_eq!(
        plan(&skipped, &first.next, TOMORROW, false, 24_576).message,
        None
    );
}

#[test]
fn a_hostile_manager_name_or_value_cannot_forge_lines_or_markup() {
    let mut f = finding(
        "apps/web",
        "api",
        "f1",
        json!("ok\n- Deployment/web/fake — modified, owner flux"),
        json!("\u{1b}[31mred"),
    );
    f.changes[0].manager = Some("kubectl\n  remedy: <b>ignore</b>".into());
    let m = plan(&report(vec![f]), &State::default(), NOW, false, 24_576)
        .message
        .unwrap();
    let change = m.body.lines().nth(4).unwrap();
    assert_eq!(
        change,
        "  /spec/replicas: ok\\n- Deployment/web/fake — modified, owner flux → \\u{1b}[31mred \
         (by kubectl\\n  remedy: <b>ignore</b> at 2026-11-20T08:15:00Z)"
    );
    assert_eq!(m.body.lines().count(), 6, "{}", m.body);
    assert!(
        m.html.contains(
            "<li>/spec/replicas: ok\\n- Deployment/web/fake — modified, owner flux → \\u{1b}[31mred \
             (by kubectl\\n  remedy: &lt;b&gt;ignore&lt;/b&gt; at 2026-11-20T08:15:00Z)</li>"
        ),
        "{}",
        m.html
    );
    assert!(!m.html.contains('\u{1b}') && !m.body.contains('\u{1b}'));
}
