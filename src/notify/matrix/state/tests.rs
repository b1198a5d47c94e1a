use super::*;

#[tokio::test]
async fn a_state_of_the_first_format_loads_and_migrates_by_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(
        &path,
        r#"{"posted_at": "2026-11-24T02:00:05Z", "open": {"9f2c": {"since": "2026-11-24T02:00:05Z",
            "kustomization": "flux-system/docs", "object": "Deployment/docs/docs-portal", "drift": "modified"}}}"#,
    )
    .unwrap();
    let state = FileStore { path }.load().await.unwrap().state;
    assert_eq!(state.version, 0);
    let migrated = state.migrate(|ks, object, drift| format!("{ks:?} {object} {drift}"));
    assert_eq!(migrated.version, VERSION);
    assert!(migrated.open.is_empty());
    assert_eq!(
        migrated.findings["Some(\"flux-system/docs\") Deployment/docs/docs-portal modified"],
        OpenFinding {
            since: "2026-11-24T02:00:05Z".into(),
            kustomization: Some("flux-system/docs".into()),
            object: "Deployment/docs/docs-portal".into(),
            drift: "modified".into(),
            severity: String::new(),
            content: String::new(),
            changes: vec![],
            paused: false,
            thread: None,
            reminded: 0,
        }
    );
    let json = serde_json::to_value(&migrated).unwrap();
    assert!(json.get("open").is_none(), "{json}");
}

fn open(object: &str, content: &str) -> OpenFinding {
    OpenFinding {
        since: "2026-11-24T02:00:00Z".into(),
        kustomization: Some("flux-system/apps".into()),
        object: object.into(),
        drift: "modified".into(),
        severity: "edited".into(),
        content: content.into(),
        changes: vec![],
        paused: false,
        thread: None,
        reminded: 0,
    }
}

fn state(findings: &[(&str, &str)], posted_at: &str) -> State {
    State {
        version: VERSION,
        posted_at: Some(posted_at.into()),
        findings: findings
            .iter()
            .map(|(id, content)| {
                (
                    id.to_string(),
                    open(&format!("Deployment/web/{id}"), content),
                )
            })
            .collect(),
        ..State::default()
    }
}

/// Base {a, b, c}. This run: a resolved, b changed, d new, c untouched.
/// The other run meanwhile: c changed, e new, b untouched.
#[test]
fn a_merge_keeps_what_this_run_changed_and_everything_else_the_other_wrote() {
    let base = state(
        &[("a", "1"), ("b", "1"), ("c", "1")],
        "2026-12-01T02:00:00Z",
    );
    let ours = state(
        &[("b", "2"), ("c", "1"), ("d", "1")],
        "2026-12-02T02:00:00Z",
    );
    let theirs = state(
        &[("a", "1"), ("b", "1"), ("c", "3"), ("e", "1")],
        "2026-12-02T02:00:01Z",
    );
    let merged = State::merge(&base, &ours, &theirs);
    let contents: Vec<(&str, &str)> = merged
        .findings
        .iter()
        .map(|(k, v)| (k.as_str(), v.content.as_str()))
        .collect();
    assert_eq!(contents, [("b", "2"), ("c", "3"), ("d", "1"), ("e", "1")]);
    assert_eq!(merged.posted_at.as_deref(), Some("2026-12-02T02:00:01Z"));
    // Nobody wrote in between: exactly ours.
    assert_eq!(State::merge(&base, &ours, &base), ours);
}
