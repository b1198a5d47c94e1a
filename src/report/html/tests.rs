use serde_json::json;

use super::*;
use crate::classify::Owner;
use crate::diff::Drift;
use crate::k8s::object::ObjectRef;
use crate::report::{Run, SCHEMA, Source, Summary};

fn report(findings: Vec<Finding>) -> Report {
    let mut r = Report {
        schema: SCHEMA,
        run: Run {
            id: "r".into(),
            started_at: "2026-11-24T02:00:00Z".into(),
            finished_at: "2026-11-24T02:00:05Z".into(),
            cluster: "prod".into(),
            source: Source {
                url: "https://github.com/acme/infra".into(),
                revision: None,
                note: None,
            },
            api_requests: None,
        },
        summary: Summary::default(),
        kustomizations: vec![KustomizationEntry {
            namespace: "flux-system".into(),
            name: "apps".into(),
            path: "./apps".into(),
            source: None,
            revision: None,
            applied_revision: Some("main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17".into()),
            suspended: false,
            suspended_since: None,
            objects: 3,
            error: None,
            skipped: None,
            ready: Some(true),
            failing: None,
            cluster: None,
        }],
        findings,
        errors: vec![],
        warnings: vec![],
    };
    r.summarize();
    r
}

fn replicas(name: &str, namespace: &str, manager: &str, time: &str) -> Finding {
    Finding {
        kustomization: Some("flux-system/apps".into()),
        object: ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        },
        drift: Drift::Modified,
        owner: Owner::Flux,
        explained: false,
        explanation: None,
        changes: vec![Change {
            path: "/spec/replicas".into(),
            op: Op::Replace,
            desired: Some(json!(2)),
            live: Some(json!(5)),
            manager: Some(manager.into()),
            time: Some(time.into()),
            explanation: None,
            readable_path: None,
        }],
        fingerprint: "f".into(),
        remedy: "revert the manual change and make it through a git PR to ./apps".into(),
        message: None,
    }
}

fn page(r: &Report) -> Page {
    Page::new(r, &Options::default())
}

#[test]
fn identical_changes_are_one_group_with_each_object_and_who_and_when() {
    let mut other = replicas("api", "web", "kubectl-edit", "2026-11-20T08:15:00Z");
    other.changes[0].live = Some(json!(7));
    let r = report(vec![
        replicas("worker", "web", "kubectl-scale", "2026-11-21T08:15:00Z"),
        replicas("api", "web", "kubectl-edit", "2026-11-20T08:15:00Z"),
        other,
    ]);
    let p = page(&r);
    assert_eq!(p.sections.len(), 1);
    let s = &p.sections[0];
    assert_eq!((s.key, s.count), ("edited", 3));
    let groups = &s.owners[0].groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].count, 2);
    let objects: Vec<&str> = groups[0].rows.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(
        objects,
        ["Deployment/web/api", "Deployment/web/worker"],
        "oldest first"
    );
    assert_eq!(
        groups[0].rows[0].who,
        ["kubectl-edit at 2026-11-20T08:15:00Z"]
    );
    assert_eq!(groups[0].rows[0].age, "3 d");
    let c = &groups[0].changes[0];
    assert_eq!(
        (c.path.as_str(), c.what, c.git.as_str(), c.live.as_str()),
        ("spec.replicas", "edited", "2", "5")
    );
    assert_eq!(groups[1].changes[0].live, "7");
    assert_eq!(
        p.headline,
        "drift-check prod: 3 unexplained findings (3 edited)"
    );
}

#[test]
fn links_go_to_the_kustomization_path_at_the_applied_commit_and_only_over_http() {
    let r = report(vec![replicas(
        "api",
        "web",
        "kubectl-edit",
        "2026-11-20T08:15:00Z",
    )]);
    let p = page(&r);
    assert_eq!(
        p.sections[0].owners[0].groups[0].rows[0].link.as_deref(),
        Some("https://github.com/acme/infra/blob/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/apps")
    );
    assert_eq!(
        p.revision_link.as_deref(),
        Some("https://github.com/acme/infra/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17")
    );
    let hostile = Options {
        links: LinkTemplates {
            commit: Some("javascript:alert(1)//{sha}".into()),
            file: Some("https://x/{sha}/{path}\"onmouseover=\"alert(1)".into()),
        },
        first_seen: None,
    };
    let p = Page::new(&r, &hostile);
    assert_eq!(p.revision_link, None);
    assert_eq!(p.sections[0].owners[0].groups[0].rows[0].link, None);
}

#[test]
fn a_group_lists_the_oldest_objects_and_counts_the_rest_by_kustomization() {
    let findings: Vec<Finding> = (0..MAX_ROWS_PER_GROUP + 5)
        .map(|i| {
            replicas(
                &format!("d{i:02}"),
                "web",
                "kubectl-edit",
                "2026-11-20T08:15:00Z",
            )
        })
        .collect();
    let p = page(&report(findings));
    let g = &p.sections[0].owners[0].groups[0];
    assert_eq!((g.count, g.rows.len(), g.more_rows), (15, 10, 5));
    assert_eq!(g.more_where, ["5 in flux-system/apps"]);
    assert_eq!(p.totals.listed, 10);
}

#[test]
fn groups_beyond_the_limit_are_counted_not_listed() {
    let findings: Vec<Finding> = (0..MAX_GROUPS_PER_OWNER + 3)
        .map(|i| {
            let mut f = replicas(
                &format!("d{i:02}"),
                "web",
                "kubectl-edit",
                "2026-11-20T08:15:00Z",
            );
            f.changes[0].live = Some(json!(100 + i));
            f
        })
        .collect();
    let p = page(&report(findings));
    let o = &p.sections[0].owners[0];
    assert_eq!(
        (o.count, o.groups.len(), o.more_groups, o.more_findings),
        (28, 25, 3, 3)
    );
}

#[test]
fn open_since_is_the_state_s_first_sighting_when_earlier_and_ages_are_bucketed() {
    let r = report(vec![
        replicas("a", "web", "kubectl-edit", "2026-11-23T20:00:00Z"),
        replicas("b", "web", "kubectl-edit", "2026-11-01T00:00:00Z"),
        replicas("c", "web", "kubectl-edit", "2026-06-01T00:00:00Z"),
    ]);
    let seen = |f: &Finding| (f.object.name == "a").then(|| "2026-11-10T02:00:00Z".to_string());
    let p = Page::new(
        &r,
        &Options {
            links: LinkTemplates::default(),
            first_seen: Some(&seen),
        },
    );
    let rows = &p.sections[0].owners[0].groups[0].rows;
    let since: Vec<(&str, Option<&str>, &str)> = rows
        .iter()
        .map(|r| (r.object.as_str(), r.since.as_deref(), r.age.as_str()))
        .collect();
    assert_eq!(
        since,
        [
            ("Deployment/web/c", Some("2026-06-01T00:00:00Z"), "176 d"),
            ("Deployment/web/b", Some("2026-11-01T00:00:00Z"), "23 d"),
            ("Deployment/web/a", Some("2026-11-10T02:00:00Z"), "14 d"),
        ]
    );
    let counts: Vec<(&str, usize)> = p
        .age_chart
        .bars
        .iter()
        .map(|b| (b.label.as_str(), b.total))
        .collect();
    assert_eq!(
        counts,
        [
            ("under a day", 0),
            ("1–7 days", 0),
            ("1–4 weeks", 2),
            ("1–3 months", 0),
            ("over 3 months", 1)
        ]
    );
}

#[test]
fn kustomizations_show_checked_failing_suspended_and_could_not_check_with_the_reason() {
    let mut r = report(vec![replicas(
        "a",
        "web",
        "kubectl-edit",
        "2026-11-23T20:00:00Z",
    )]);
    let mut failing = r.kustomizations[0].clone();
    failing.name = "db".into();
    failing.suspended = true;
    failing.suspended_since = Some("2026-11-22T17:40:00Z".into());
    failing.failing = Some(crate::flux::Failing {
        reason: "BuildFailed".into(),
        message: "kustomize build failed".into(),
        since: Some("2026-11-23T01:00:00Z".into()),
    });
    let mut broken = r.kustomizations[0].clone();
    broken.name = "cache".into();
    broken.error = Some("render: <script>alert(1)</script>".into());
    r.kustomizations.extend([failing, broken]);
    let p = page(&r);
    let statuses: Vec<(String, Vec<&str>, usize)> = p.clusters[0]
        .kustomizations
        .iter()
        .map(|k| {
            (
                k.id.clone(),
                k.statuses.iter().map(|s| s.label).collect(),
                k.open,
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("flux-system/apps".to_string(), vec!["checked"], 1),
            (
                "flux-system/db".to_string(),
                vec!["checked", "failing", "suspended"],
                0
            ),
            ("flux-system/cache".to_string(), vec!["could not check"], 0),
        ]
    );
    let suspended = &p.clusters[0].kustomizations[1].statuses[2];
    let reason: Vec<(&str, bool)> = suspended
        .reason
        .iter()
        .map(|p| (p.text.as_str(), p.code))
        .collect();
    assert_eq!(
        reason,
        [
            ("resume it with ", false),
            ("flux resume kustomization db -n flux-system", true)
        ]
    );
    assert_eq!(
        p.rest,
        " · 1 Kustomization failing · 1 Kustomization suspended"
    );
}

#[test]
fn the_page_escapes_every_text_and_its_policy_allows_only_its_own_script_and_style() {
    let canary = "<img src=x onerror=alert(1)></script>\u{202e}evil";
    let mut f = replicas(canary, "web", canary, "2026-11-20T08:15:00Z");
    f.changes[0].live = Some(json!(canary));
    f.object.kind = canary.into();
    let r = report(vec![f]);
    let html = render(&r, &Options::default());
    assert!(!html.contains("<img"), "{html}");
    assert_eq!(html.matches("</script>").count(), 1, "only the page's own");
    assert!(!html.contains('\u{202e}'));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&lt;&#x2f;script&gt;\\u{202e}evil"));
    let csp = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        content_security_policy()
            .replace('\'', "&#x27;")
            .replace('/', "&#x2f;")
    );
    assert!(html.contains(&csp), "{html}");
    assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(html.contains(&format!("<style>{STYLE}</style>")));
    assert!(
        content_security_policy().starts_with("default-src 'none'; script-src 'sha256-"),
        "{}",
        content_security_policy()
    );
}

#[test]
fn remedies_show_their_command_as_code() {
    let p = parts("Flux and Crossplane both manage this object: kubectl annotate x y");
    let p: Vec<(&str, bool)> = p.iter().map(|p| (p.text.as_str(), p.code)).collect();
    assert_eq!(
        p,
        [
            ("Flux and Crossplane both manage this object: ", false),
            ("kubectl annotate x y", true)
        ]
    );
    let p = parts("resume it with `flux resume ks a -n b` now");
    let p: Vec<(&str, bool)> = p.iter().map(|p| (p.text.as_str(), p.code)).collect();
    assert_eq!(
        p,
        [
            ("resume it with ", false),
            ("flux resume ks a -n b", true),
            (" now", false)
        ]
    );
}
