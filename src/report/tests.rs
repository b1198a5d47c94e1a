use super::*;

pub(crate) fn report(errors: usize, unexplained: bool) -> Report {
    let mut r = Report {
        schema: SCHEMA,
        run: Run {
            id: "r".into(),
            started_at: "2026-11-24T02:00:00Z".into(),
            finished_at: "2026-11-24T02:00:05Z".into(),
            cluster: "prod".into(),
            source: Source {
                url: "./infra".into(),
                revision: None,
                note: None,
            },
            api_requests: None,
        },
        summary: Summary::default(),
        kustomizations: vec![],
        findings: vec![],
        errors: (0..errors)
            .map(|_| ErrorEntry {
                kustomization: None,
                stage: crate::error::Stage::Render,
                message: "x".into(),
            })
            .collect(),
        warnings: vec![],
    };
    if unexplained {
        r.findings.push(crate::classify::Finding {
            kustomization: None,
            object: crate::k8s::object::ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: None,
                name: "c".into(),
            },
            drift: crate::diff::Drift::Orphaned,
            owner: crate::classify::Owner::Flux,
            explained: false,
            explanation: None,
            changes: vec![],
            fingerprint: "f".into(),
            remedy: "delete it".into(),
            message: None,
        });
    }
    r.summarize();
    r
}

#[test]
fn exit_codes_follow_kubectl_diff() {
    assert_eq!(report(0, false).exit_code(), 0);
    assert_eq!(report(0, true).exit_code(), 1);
    assert_eq!(report(1, true).exit_code(), 2);
    assert_eq!(report(1, false).exit_code(), 2);
}

#[test]
fn the_json_report_has_the_v1_top_level_keys() {
    let json: serde_json::Value =
        serde_json::from_str(&report(0, true).render(Format::Json)).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "schema",
            "run",
            "summary",
            "kustomizations",
            "findings",
            "errors",
            "warnings"
        ]
    );
    assert_eq!(json["schema"], "drift-check/v1");
    assert_eq!(json["summary"]["unexplained"], 1);
}

#[test]
fn hostile_values_and_managers_cannot_forge_report_lines() {
    let mut r = report(0, true);
    r.findings[0].changes.push(crate::diff::Change {
        path: "/data/x".into(),
        op: crate::diff::Op::Replace,
        desired: Some(serde_json::json!("a")),
        live: Some(serde_json::json!("b")),
        manager: Some(
            "kubectl\n  UNEXPLAINED missing   Secret/x/y  (owner: flux)\u{1b}[31m".into(),
        ),
        time: None,
        explanation: None,
        readable_path: None,
    });
    r.warnings.push(crate::error::Note {
        kustomization: None,
        message: "one\nerror [render]: forged <script>alert(1)</script> | x |".into(),
    });
    let text = r.render(Format::Text);
    assert!(
        text.contains(
            "      /data/x: \"a\" → \"b\"  by kubectl\\n  UNEXPLAINED missing   Secret/x/y  (owner: flux)\\u{1b}[31m\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("warning: one\\nerror [render]: forged <script>alert(1)</script> | x |\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}') && !text.lines().any(|l| l.starts_with("error")));

    let markdown = r.render(Format::Markdown);
    assert!(
        markdown.contains(
            "> **Warning:** one\\\\nerror \\[render\\]: forged &lt;script&gt;alert(1)&lt;/script&gt; \\| x \\|\n"
        ),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "/data/x: \"a\" → \"b\"  by kubectl\\\\n  UNEXPLAINED missing   Secret/x/y  (owner: flux)\\\\u{1b}\\[31m |"
        ),
        "{markdown}"
    );
    assert!(!markdown.contains('\u{1b}') && !markdown.contains("<script>"));
}

/// A Kustomization partly checked (a type the token may not list) whose
/// other object two Kustomizations apply.
fn partly_checked_with_an_overlap() -> Report {
    let mut r = report(0, false);
    r.kustomizations.push(KustomizationEntry {
        namespace: "flux-system".into(),
        name: "apps".into(),
        path: "./apps".into(),
        source: None,
        revision: None,
        applied_revision: None,
        suspended: false,
        suspended_since: None,
        objects: 2,
        error: Some("could not check: v1 configmaps forbidden".into()),
        skipped: None,
        ready: Some(true),
        failing: None,
        cluster: None,
    });
    r.errors.push(ErrorEntry {
        kustomization: Some("flux-system/apps".into()),
        stage: crate::error::Stage::Live,
        message: "could not check: v1 configmaps forbidden".into(),
    });
    r.findings.push(crate::classify::Finding {
        kustomization: Some("flux-system/apps".into()),
        object: crate::k8s::object::ObjectRef {
            api_version: "v1".into(),
            kind: "ServiceAccount".into(),
            namespace: Some("apps".into()),
            name: "app".into(),
        },
        drift: crate::diff::Drift::Overlap,
        owner: crate::classify::Owner::Flux,
        explained: false,
        explanation: None,
        changes: vec![],
        fingerprint: "f".into(),
        remedy: "keep the object in one Kustomization's path in git (this one's is ./apps) and remove it from the others', so that one of them applies it".into(),
        message: Some("applied by two Flux Kustomizations (flux-system/apps and flux-system/infra, both in their inventories): they overwrite each other on every reconcile; remove it from one of them".into()),
    });
    r.summarize();
    r
}

#[test]
fn an_overlap_and_a_partly_checked_kustomization_read_the_same_in_every_format() {
    let r = partly_checked_with_an_overlap();
    let text = r.render(Format::Text);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("flux-system/apps "))
        .collect();
    assert_eq!(
        section,
        [
            "flux-system/apps (./apps): 2 objects",
            "  could not check: v1 configmaps forbidden",
            "  UNEXPLAINED overlap   ServiceAccount/apps/app  (owner: flux)",
            "      applied by two Flux Kustomizations (flux-system/apps and flux-system/infra, both in their inventories): they overwrite each other on every reconcile; remove it from one of them",
            "      remedy: keep the object in one Kustomization's path in git (this one's is ./apps) and remove it from the others', so that one of them applies it",
        ]
    );
    let markdown = r.render(Format::Markdown);
    assert!(
        markdown.contains(
            "## flux-system/apps — `./apps`\n\nCould not check: v1 configmaps forbidden\n\n"
        ),
        "{markdown}"
    );
    assert!(
        markdown.contains("| **unexplained** | overlap | `ServiceAccount/apps/app` | flux | applied by two Flux Kustomizations (flux-system/apps and flux-system/infra, both in their inventories): they overwrite each other on every reconcile; remove it from one of them | keep the object in one Kustomization's path in git (this one's is ./apps) and remove it from the others', so that one of them applies it |"),
        "{markdown}"
    );
    assert!(!markdown.contains("In sync."), "{markdown}");
    let json: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
    assert_eq!(json["findings"][0]["drift"], "overlap");
    assert_eq!(
        json["kustomizations"][0]["error"],
        "could not check: v1 configmaps forbidden"
    );
}

#[test]
fn a_kustomization_not_checked_without_an_error_is_never_in_sync() {
    // Regression: one Flux never reconciled (or fails on too) that
    // drift-check could not render either read "in sync".
    let mut r = report(0, false);
    for name in ["new", "fine"] {
        r.kustomizations.push(KustomizationEntry {
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
            ready: None,
            failing: None,
            cluster: None,
        });
    }
    r.warnings.push(Warning {
        kustomization: Some("flux-system/new".into()),
        message: format!("{NOT_CHECKED_NEW} (it has no status yet), and drift-check could not render it either: postBuild.substituteFrom: ConfigMap/vars not found"),
    });
    let text = r.render(Format::Text);
    assert!(
        text.contains("flux-system/new (./new): 0 objects\n  not checked (see its warning above)\n\nflux-system/fine (./fine): 0 objects\n  in sync\n"),
        "{text}"
    );
    let markdown = r.render(Format::Markdown);
    assert!(
        markdown.contains("## flux-system/new — `./new`\n\nNot checked (see its warning above).\n\n## flux-system/fine — `./fine`\n\nIn sync.\n"),
        "{markdown}"
    );
}

#[test]
fn a_remote_kustomization_names_the_spoke_its_objects_are_on_in_every_format() {
    let mut r = partly_checked_with_an_overlap();
    r.kustomizations[0].error = None;
    r.kustomizations[0].cluster = Some("staging/cluster-kubeconfig".into());
    r.errors.clear();
    r.summarize();

    let text = r.render(Format::Text);
    assert!(
        text.contains(
            "flux-system/apps (./apps, on cluster staging/cluster-kubeconfig): 2 objects"
        ),
        "{text}"
    );
    let markdown = r.render(Format::Markdown);
    assert!(
        markdown
            .contains("## flux-system/apps — `./apps` on cluster `staging/cluster-kubeconfig`\n"),
        "{markdown}"
    );
    let html = html::render(&r, &html::Options::default());
    // The finding's row and the Kustomization's row are filtered as the
    // spoke's, and the cluster filter offers the spoke beside the hub.
    // (`/` is written `&#x2f;` in the page.)
    let spoke = "staging&#x2f;cluster-kubeconfig";
    assert!(
        html.contains(&format!(r#"<tr class="finding" data-c="{spoke}""#)),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"<tr class="kustomization" data-c="{spoke}""#)),
        "{html}"
    );
    assert!(
        html.contains(&format!("on cluster <code>{spoke}</code>")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"<option value="prod">prod</option><option value="{spoke}">"#
        )),
        "{html}"
    );
}
