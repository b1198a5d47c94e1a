use serde_json::{Value, json};

use super::*;
use crate::classify::Owner;
use crate::diff::{Change, Drift, Op};
use crate::k8s::object::ObjectRef;
use crate::report::{ErrorEntry, KustomizationEntry, Run, Source, Summary};

mod problems;
mod threads;

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
            readable_path: None,
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
                    source: None,
                    revision: None,
                    applied_revision: None,
                    suspended: false,
                    suspended_since: None,
                    objects: 1,
                    error: None,
                    skipped: None,
                    ready: None,
                    failing: None,
                    cluster: None,
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

fn options() -> Options {
    Options {
        daily_digest: false,
        max_bytes: 24_576,
        links: LinkTemplates::default(),
        note: None,
        report_file: "drift-check-report.json".into(),
        remind_after: None,
        thread_window: chrono::Duration::days(7),
    }
}

fn digest() -> Options {
    Options {
        daily_digest: true,
        ..options()
    }
}

fn change(
    path: &str,
    op: Op,
    desired: Option<Value>,
    live: Option<Value>,
    manager: Option<&str>,
    time: Option<&str>,
) -> Change {
    Change {
        path: path.into(),
        op,
        desired,
        live,
        manager: manager.map(Into::into),
        time: time.map(Into::into),
        explanation: None,
        readable_path: None,
    }
}

/// One finding of each severity, listed worst last.
fn mixed() -> Vec<Finding> {
    let mut orphan = finding("apps/web", "old-worker", "o", json!(0), json!(0));
    orphan.drift = Drift::Orphaned;
    orphan.changes = vec![change(
        "",
        Op::Add,
        None,
        None,
        Some("kubectl-client-side-apply"),
        Some("2026-11-19T16:05:12Z"),
    )];
    orphan.remedy =
        "delete it, or add it to ./apps/web in git through a PR if it should stay".into();
    let mut added = finding("apps/web", "api", "a", json!(0), json!(0));
    added.changes = vec![change(
        "/spec/template/spec/containers/0/env/1",
        Op::Add,
        None,
        Some(json!({"name": "DEBUG", "value": "true"})),
        Some("kubectl-set"),
        Some("2026-11-21T10:02:00Z"),
    )];
    added.changes[0].readable_path = Some("spec.template.spec.containers[app].env[DEBUG]".into());
    let edited = finding("apps/db", "pg", "e", json!(1), json!(2));
    let mut missing = finding("apps/web", "binding", "m", json!(0), json!(0));
    missing.object = ObjectRef {
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: "ClusterRoleBinding".into(),
        namespace: None,
        name: "system:konnectivity-server".into(),
    };
    missing.drift = Drift::Missing;
    missing.changes = vec![change("", Op::Remove, None, None, None, None)];
    missing.remedy = "find out who deleted it, then let Flux re-create it: flux reconcile kustomization web -n apps".into();
    vec![orphan, added, edited, missing]
}

const FIRST: &str = "\
🔴 drift-check prod: 4 unexplained findings (1 missing or conflicting, 1 edited, 1 with added fields, 1 orphaned) at 0123456789ab · 4 new

🔴 Missing objects and conflicts
- 🔴 new · missing · ClusterRoleBinding/system:konnectivity-server · apps/web · owner flux
  the whole object is missing from the cluster
  who: the object is gone, and its managers with it; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)
  remedy: find out who deleted it, then let Flux re-create it: `flux reconcile kustomization web -n apps`

🟠 Declared fields edited in the cluster
- 🟠 new · modified · Deployment/web/pg · apps/db · owner flux
  spec.replicas: 1 → 2 by kubectl-edit
  who: kubectl-edit at 2026-11-20T08:15:00Z
  remedy: revert the manual change and make it through a git PR to ./apps/web

🟡 Fields added in the cluster
- 🟡 new · modified · Deployment/web/api · apps/web · owner flux
  spec.template.spec.containers[app].env[DEBUG]: added {\"name\":\"DEBUG\",\"value\":\"true\"} by kubectl-set
  who: kubectl-set at 2026-11-21T10:02:00Z
  remedy: revert the manual change and make it through a git PR to ./apps/web

🔵 Orphans
- 🔵 new · orphaned · Deployment/web/old-worker · apps/web · owner flux
  the whole object is in the cluster only (written by kubectl-client-side-apply)
  who: kubectl-client-side-apply at 2026-11-19T16:05:12Z
  remedy: delete it, or add it to ./apps/web in git through a PR if it should stay";

#[test]
fn first_post_orders_by_severity_with_markers_tags_readable_paths_who_and_remedy() {
    let mut explained = finding("apps/web", "cache", "f3", json!(1), json!(2));
    explained.explained = true;
    let mut findings = mixed();
    findings.push(explained);
    let plan = plan(&report(findings), &State::default(), NOW, &options());
    let m = plan.message.unwrap();
    assert_eq!(m.body, FIRST);
    assert!(
        m.html.starts_with(
            "<p><strong>🔴 drift-check prod: 4 unexplained findings (1 missing or conflicting, 1 edited, 1 with added fields, 1 orphaned)</strong> at <code>0123456789ab</code> · 4 new</p>\n\
             <h4>🔴 Missing objects and conflicts</h4>\n<ul>\n\
             <li>🔴 <strong>new</strong> · missing · <code>ClusterRoleBinding/system:konnectivity-server</code> · apps/web · owner flux\n\
             <ul>\n<li>the whole object is missing from the cluster</li>\n</ul>\n\
             who: the object is gone, and its managers with it; the API server&#39;s audit log names the user (of each write at the time shown, of the delete of a missing object)<br>\n\
             remedy: find out who deleted it, then let Flux re-create it: <code>flux reconcile kustomization web -n apps</code></li>\n</ul>\n\
             <h4>🟠 Declared fields edited in the cluster</h4>\n<ul>\n\
             <li>🟠 <strong>new</strong> · modified · <code>Deployment/web/pg</code> · apps/db · owner flux\n\
             <ul>\n<li><code>spec.replicas</code>: <code>1</code> → <code>2</code> by kubectl-edit</li>\n</ul>\n"
        ),
        "{}",
        m.html
    );
    assert!(m.html.contains("<li><code>spec.template.spec.containers[app].env[DEBUG]</code>: added <code>{&quot;name&quot;:&quot;DEBUG&quot;,&quot;value&quot;:&quot;true&quot;}</code> by kubectl-set</li>"), "{}", m.html);
    assert!(m.html.contains("remedy: revert the manual change and make it through a git PR to <code>./apps/web</code></li>"));
    assert_eq!(m.omitted, 0);
    assert!(m.transaction_id.starts_with("drift-check-"));
    assert_eq!(
        ids(&plan.next).len(),
        4,
        "explained findings are not remembered"
    );
    let pg = &plan.next.findings[&identity(Some("apps/db"), "Deployment/web/pg", "modified")];
    assert_eq!(
        pg.since, "2026-11-20T08:15:00Z",
        "open since the drift happened"
    );
}

#[test]
fn the_same_findings_again_post_nothing_and_keep_the_state() {
    let r = report(mixed());
    let first = plan(&r, &State::default(), NOW, &options());
    let second = plan(&r, &first.next, TOMORROW, &options());
    assert_eq!(second.message, None);
    assert_eq!(second.next, first.next);
}

#[test]
fn a_new_edit_to_a_reported_field_is_posted_as_changed_with_what_changed() {
    let first = plan(&report(mixed()), &State::default(), NOW, &options());
    let mut edited = mixed();
    edited[2].changes[0].live = Some(json!(0));
    edited[2].changes[0].time = Some("2026-11-24T09:00:00Z".into());
    edited[2].fingerprint = "another".into();
    let second = plan(&report(edited.clone()), &first.next, TOMORROW, &options());
    let m = second.message.unwrap();
    assert_eq!(
        m.body,
        "🔴 drift-check prod: 4 unexplained findings (1 missing or conflicting, 1 edited, 1 with added fields, 1 orphaned) at 0123456789ab · 1 changed · 3 still open\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 changed: spec.replicas was 2 by kubectl-edit at 2026-11-20T08:15:00Z · modified · Deployment/web/pg · apps/db · owner flux\n  \
         spec.replicas: 1 → 0 by kubectl-edit\n  \
         who: kubectl-edit at 2026-11-24T09:00:00Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web\n\
         \n\
         Still open (3):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · apps/web · since 2026-11-24T02:00:05Z\n\
         - 🟡 Deployment/web/api · modified · apps/web · since 2026-11-21T10:02:00Z\n\
         - 🔵 Deployment/web/old-worker · orphaned · apps/web · since 2026-11-19T16:05:12Z"
    );
    let pg = &second.next.findings[&identity(Some("apps/db"), "Deployment/web/pg", "modified")];
    assert_eq!(
        pg.since, "2026-11-20T08:15:00Z",
        "open since the first drift"
    );
    assert_eq!(
        plan(&report(edited), &second.next, TOMORROW, &options()).message,
        None,
        "posted once as changed"
    );
}

#[test]
fn a_resolved_finding_posts_a_resolved_line_and_lists_the_still_open() {
    let first = plan(&report(mixed()), &State::default(), NOW, &options());
    let mut fewer = mixed();
    fewer.remove(0);
    fewer.remove(0);
    let second = plan(&report(fewer), &first.next, TOMORROW, &options());
    let m = second.message.unwrap();
    assert_eq!(
        m.body,
        "🔴 drift-check prod: 2 unexplained findings (1 missing or conflicting, 1 edited) at 0123456789ab · 2 still open · 2 resolved\n\
         \n\
         Still open (2):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · apps/web · since 2026-11-24T02:00:05Z\n\
         - 🟠 Deployment/web/pg · modified · apps/db · since 2026-11-20T08:15:00Z\n\
         \n\
         ✅ Resolved (2):\n\
         - Deployment/web/api · modified · apps/web · open since 2026-11-21T10:02:00Z\n\
         - Deployment/web/old-worker · orphaned · apps/web · open since 2026-11-19T16:05:12Z"
    );
    assert_eq!(ids(&second.next).len(), 2);
}

#[test]
fn the_still_open_list_is_capped_with_and_n_more() {
    let many: Vec<Finding> = (0..13)
        .map(|i| finding("apps/web", &format!("api-{i:02}"), "f", json!(1), json!(2)))
        .collect();
    let first = plan(&report(many.clone()), &State::default(), NOW, &options());
    let mut more = many;
    more.push(finding("apps/web", "new-one", "f", json!(1), json!(2)));
    let m = plan(&report(more), &first.next, TOMORROW, &options())
        .message
        .unwrap();
    let tail: Vec<&str> = m.body.lines().rev().take(3).collect();
    assert_eq!(
        tail,
        [
            "… and 3 more",
            "- 🟠 Deployment/web/api-09 · modified · apps/web · since 2026-11-20T08:15:00Z",
            "- 🟠 Deployment/web/api-08 · modified · apps/web · since 2026-11-20T08:15:00Z",
        ]
    );
    assert!(m.body.contains("\nStill open (13):\n"), "{}", m.body);
    assert!(
        m.html.ends_with("<li>… and 3 more</li>\n</ul>"),
        "{}",
        m.html
    );
}

#[test]
fn the_daily_digest_reposts_open_findings_once_a_day() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, &digest());
    assert_eq!(
        plan(&r, &first.next, "2026-11-24T12:00:00Z", &digest()).message,
        None
    );
    let d = plan(&r, &first.next, TOMORROW, &digest()).message.unwrap();
    assert_eq!(
        d.body,
        "🟠 drift-check prod: 1 unexplained finding (1 edited) at 0123456789ab · daily digest\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 still open since 2026-11-20T08:15:00Z · modified · Deployment/web/api · apps/web · owner flux\n  \
         spec.replicas: 3 → 0 by kubectl-edit\n  \
         who: kubectl-edit at 2026-11-20T08:15:00Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web"
    );
    assert_ne!(d.transaction_id, first.message.unwrap().transaction_id);
}

#[test]
fn the_same_run_content_gives_the_same_transaction_id() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let mut again = r.clone();
    again.run.id = "run-2".into();
    let a = plan(&r, &State::default(), NOW, &options())
        .message
        .unwrap();
    let b = plan(
        &again,
        &State::default(),
        "2026-11-24T02:09:00Z",
        &options(),
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
    let small = Options {
        max_bytes: 8_192,
        ..options()
    };
    let m = plan(&report(findings), &State::default(), NOW, &small)
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
            "… and {} more new or changed findings: the full report is attached (drift-check-report.json).",
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
    let m = plan(&r, &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(
        m.html
            .contains("<code>&lt;script&gt;</code> → <code>a&amp;b</code>"),
        "{}",
        m.html
    );
    assert!(m.body.contains("<script> → a&b"));
}

#[test]
fn paths_are_decoded_list_items_named_and_long_managers_shortened() {
    let mut f = finding("apps/web", "api", "f1", json!("flux"), json!("crossplane"));
    f.changes[0].path = "/metadata/labels/app.kubernetes.io~1managed-by".into();
    f.changes[0].manager =
        Some("apiextensions.crossplane.io/composed/4f1c2f0e-5b1a-4c47-9d3e-8a2b1c0d9e7f".into());
    let mut g = f.changes[0].clone();
    g.path = "/spec/rules/0/backendRefs/0/a~0b".into();
    f.changes.push(g);
    let m = plan(&report(vec![f]), &State::default(), NOW, &options())
        .message
        .unwrap();
    let lines: Vec<&str> = m.body.lines().skip(4).take(3).collect();
    assert_eq!(
        lines,
        [
            "  metadata.labels[app.kubernetes.io/managed-by]: flux → crossplane by apiextensions.crossplane.io/composed/4f1c2f0e…",
            "  spec.rules[0].backendRefs[0].a~b: flux → crossplane by apiextensions.crossplane.io/composed/4f1c2f0e…",
            "  who: apiextensions.crossplane.io/composed/4f1c2f0e… at 2026-11-20T08:15:00Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)",
        ]
    );
}

#[test]
fn a_finding_of_an_artifact_source_names_the_source_and_the_digest_checked() {
    let mut r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let k = r
        .kustomizations
        .iter_mut()
        .find(|k| k.id() == "apps/web")
        .unwrap();
    k.source = Some(crate::report::SourceRef {
        kind: "OCIRepository".into(),
        namespace: "flux-system".into(),
        name: "apps".into(),
        url: "oci://ghcr.io/acme/apps".into(),
    });
    k.revision = Some(
        "v1.1.0@sha256:7c8a606e518855a1c666af15239aec2fab2a97ec091d8888aae1c4fa6dd1118b".into(),
    );
    let m = plan(&r, &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(
        m.body
            .contains("\n  source: OCIRepository flux-system/apps at v1.1.0@sha256:7c8a606e5188"),
        "{}",
        m.body
    );
    assert!(
        !m.body.contains("  git: "),
        "no commit to link to: {}",
        m.body
    );
    assert!(
        m.html.contains(
            "<br>source: <code>OCIRepository flux-system/apps at v1.1.0@sha256:7c8a606e5188</code>"
        ),
        "{}",
        m.html
    );
}

#[test]
fn links_go_to_the_applied_commit_and_the_kustomization_path() {
    let mut r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    r.run.source.revision = None;
    for k in &mut r.kustomizations {
        k.applied_revision = Some("main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17".into());
    }
    r.run.source.url = "git@github.com:plana/infra.git".into();
    let m = plan(&r, &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(m.body.starts_with("🟠 drift-check prod: 1 unexplained finding (1 edited) at main@sha1:7c1e9d4b2a86 · 1 new\n"), "{}", m.body);
    assert!(
        m.body.contains("\n  git: https://github.com/plana/infra/blob/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/web\n")
            || m.body.ends_with("\n  git: https://github.com/plana/infra/blob/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/web"),
        "{}",
        m.body
    );
    assert!(m.html.starts_with("<p><strong>🟠 drift-check prod: 1 unexplained finding (1 edited)</strong> at <a href=\"https://github.com/plana/infra/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"><code>main@sha1:7c1e9d4b2a86</code></a> · 1 new</p>"), "{}", m.html);
    assert!(m.html.contains(" · <a href=\"https://github.com/plana/infra/blob/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/web\">apps/web</a> · owner flux"), "{}", m.html);

    // Configured templates win; Kustomizations at two revisions are both named.
    r.kustomizations[1].applied_revision = Some("main@sha1:aaaaaaaaaaaaaaaaaaaa".into());
    let forgejo = Options {
        links: LinkTemplates {
            commit: Some("https://git.example.com/org/infra/src/commit/{sha}".into()),
            file: Some("https://git.example.com/org/infra/src/commit/{sha}/{path}".into()),
        },
        ..options()
    };
    let m = plan(&r, &State::default(), NOW, &forgejo).message.unwrap();
    assert!(m.body.starts_with("🟠 drift-check prod: 1 unexplained finding (1 edited) at 2 applied revisions (main@sha1:7c1e9d4b2a86, main@sha1:aaaaaaaaaaaa) · 1 new\n"), "{}", m.body);
    assert!(m.html.contains("<a href=\"https://git.example.com/org/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/web\">apps/web</a>"), "{}", m.html);
}

#[test]
fn a_state_of_the_first_format_does_not_repost_its_findings() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let old: State = serde_json::from_value(json!({
        "posted_at": "2026-11-23T02:00:00Z",
        "open": {"paths-fingerprint": {"since": "2026-11-23T02:00:00Z", "kustomization": "apps/web",
            "object": "Deployment/web/api", "drift": "modified"}}
    }))
    .unwrap();
    let p = plan(&r, &old, NOW, &options());
    assert_eq!(p.message, None);
    let id = identity(Some("apps/web"), "Deployment/web/api", "modified");
    assert_eq!(p.next.version, crate::notify::matrix::state::VERSION);
    assert_eq!(
        p.next.findings[&id].content.len(),
        8,
        "content known from now on (4 bytes of hash)"
    );
    assert_eq!(p.next.findings[&id].since, "2026-11-20T08:15:00Z");
    assert_eq!(p.next.posted_at.as_deref(), Some("2026-11-23T02:00:00Z"));
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
    let m = plan(&report(vec![f]), &State::default(), NOW, &options())
        .message
        .unwrap();
    let change = m.body.lines().nth(4).unwrap();
    assert_eq!(
        change,
        "  spec.replicas: ok\\n- Deployment/web/fake — modified, owner flux → \\u{1b}[31mred \
         by kubectl\\n  remedy: <b>ignore</b>"
    );
    assert_eq!(m.body.lines().count(), 7, "{}", m.body);
    assert!(
        m.html.contains(
            "<li><code>spec.replicas</code>: <code>ok\\n- Deployment/web/fake — modified, owner flux</code> → \
             <code>\\u{1b}[31mred</code> by kubectl\\n  remedy: &lt;b&gt;ignore&lt;/b&gt;</li>"
        ),
        "{}",
        m.html
    );
    assert!(!m.html.contains('\u{1b}') && !m.body.contains('\u{1b}'));
}

#[test]
fn a_person_edit_of_a_helm_release_object_is_an_edit_set_to_its_value_with_the_helmrelease_remedy()
{
    let mut f = finding("apps/web", "prometheus-server", "h1", json!(0), json!(0));
    f.owner = Owner::Helm;
    f.changes = vec![
        change(
            "/spec/template/spec/containers/0/args",
            Op::Replace,
            None,
            Some(json!(["--storage.tsdb.retention.time=90d"])),
            Some("kubectl-patch"),
            Some("2026-11-24T13:20:00Z"),
        ),
        change(
            "/spec/template/spec/containers/0/env/1",
            Op::Add,
            None,
            Some(json!({"name": "DEBUG", "value": "1"})),
            Some("kubectl-set"),
            Some("2026-11-24T13:21:00Z"),
        ),
    ];
    f.remedy = "deployed by HelmRelease monitoring/prometheus: change the HelmRelease's values in git (./apps/web) through a PR instead of the object; to restore the chart's values now: flux reconcile helmrelease prometheus -n monitoring --force".into();
    let m = plan(&report(vec![f.clone()]), &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(
        m.body.contains("\n🟠 Declared fields edited in the cluster\n- 🟠 new · modified · Deployment/web/prometheus-server · apps/web · owner helm\n  spec.template.spec.containers[0].args: set to [\"--storage.tsdb.retention.time=90d\"] by kubectl-patch\n  spec.template.spec.containers[0].env[1]: added {\"name\":\"DEBUG\",\"value\":\"1\"} by kubectl-set\n"),
        "{}",
        m.body
    );
    assert!(!m.body.contains("(absent)"), "{}", m.body);
    assert!(
        m.body.contains("  remedy: deployed by HelmRelease monitoring/prometheus: change the HelmRelease's values in git (./apps/web) through a PR instead of the object; to restore the chart's values now: `flux reconcile helmrelease prometheus -n monitoring --force`"),
        "{}",
        m.body
    );
    assert!(m.html.contains("<li><code>spec.template.spec.containers[0].args</code>: set to <code>[&quot;--storage.tsdb.retention.time=90d&quot;]</code> by kubectl-patch</li>"), "{}", m.html);
    assert!(m.html.contains("remedy: deployed by HelmRelease monitoring/prometheus: change the HelmRelease&#39;s values in git (<code>./apps/web</code>) through a PR instead of the object; to restore the chart&#39;s values now: <code>flux reconcile helmrelease prometheus -n monitoring --force</code></li>"), "{}", m.html);

    // Only a list item a person added: a field added, not an edit.
    f.changes.remove(0);
    let m = plan(&report(vec![f]), &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(
        m.body.contains("\n🟡 Fields added in the cluster\n- 🟡 new · modified · Deployment/web/prometheus-server"),
        "{}",
        m.body
    );
}

/// States written before the content hash was cut to 4 bytes kept 16 of
/// the same hash: their findings are not "changed" after an upgrade.
#[test]
fn a_content_hash_of_16_bytes_matches_its_4_byte_prefix() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = plan(&r, &State::default(), NOW, &options());
    let mut old = first.next.clone();
    for f in old.findings.values_mut() {
        f.content = format!("{}{}", f.content, "0123456789abcdef01234567");
    }
    assert_eq!(plan(&r, &old, NOW, &options()).message, None);
    for f in old.findings.values_mut() {
        f.content = format!("ffffffff{}", &f.content[8..]);
    }
    assert!(plan(&r, &old, NOW, &options()).message.is_some());
}

/// Identical findings but for their objects' names are one item: the
/// first five named, the count, what they share said once; the full report
/// goes along, since not every object is named.
#[test]
fn identical_findings_are_one_item_naming_the_first_five() {
    let mut findings: Vec<Finding> = (0..7)
        .map(|i| {
            finding(
                "apps/web",
                &format!("api-{i}"),
                &format!("f{i}"),
                json!(3),
                json!(0),
            )
        })
        .collect();
    findings.push(finding("apps/web", "other", "f9", json!(3), json!(1)));
    let p = plan(&report(findings), &State::default(), NOW, &options());
    let m = p.message.unwrap();
    assert_eq!(
        m.body,
        "🟠 drift-check prod: 8 unexplained findings (8 edited) at 0123456789ab · 8 new\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 new · modified · 7 Deployment objects in web: api-0, api-1, api-2, api-3, api-4, … and 2 more · apps/web · owner flux\n  \
         spec.replicas: 3 → 0 by kubectl-edit\n  \
         who: kubectl-edit (the times are in the report) — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web\n\
         - 🟠 new · modified · Deployment/web/other · apps/web · owner flux\n  \
         spec.replicas: 3 → 1 by kubectl-edit\n  \
         who: kubectl-edit at 2026-11-20T08:15:00Z\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web\n\
         \n\
         The full report, every object by name, is attached (drift-check-report.json)."
    );
    assert_eq!(m.omitted, 2, "the full report goes along");
    assert_eq!(p.next.findings.len(), 8);
}

#[test]
fn a_finding_of_a_remote_kustomization_names_the_spoke_it_is_on() {
    let mut r = report(mixed());
    // apps/db applies to a spoke (spec.kubeConfig): its objects are there.
    r.kustomizations[1].cluster = Some("staging/cluster-kubeconfig".into());
    let m = plan(&r, &State::default(), NOW, &options())
        .message
        .unwrap();
    assert!(
        m.body.contains(
            "- 🟠 new · modified · Deployment/web/pg · apps/db on cluster staging/cluster-kubeconfig · owner flux"
        ),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("· Deployment/web/api · apps/web · owner flux"),
        "{}",
        m.body
    );
}
