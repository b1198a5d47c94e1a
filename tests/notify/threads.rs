//! Thread replies and reminders on the real Synapse: what a person following
//! one incident sees in its thread, and a finding left open for long posted
//! again — driven by moving the state's times back, not by sleeping.

use super::*;

/// The state file's findings, edited: `f(finding)` for each.
fn edit_state(dir: &Path, f: impl Fn(&mut Value)) {
    let path = dir.join("state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for finding in state["findings"].as_object_mut().unwrap().values_mut() {
        f(finding);
    }
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// docs-portal edited again and the deleted binding dropped from git, in one
/// run: docs-portal was announced within `threadWindow`, so its change is a
/// reply in the first message's thread; the binding's announcement is made
/// 8 days old, so its resolution is in the run's message only.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_change_is_a_reply_in_its_thread_and_a_resolution_outside_thread_window_is_not() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "threads").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let events = s.events(&owner_token, &room_id).await;
    let announcement = notices_from(&events, &bot)[0]["event_id"].clone();
    edit_state(dir.path(), |f| {
        assert_eq!(f["thread"]["event"], announcement, "{f:#}");
        if f["drift"] == "missing" {
            f["thread"]["at"] = json!(days_ago(8));
        }
    });

    let scratch = without_the_missing_binding(scratch_scaled_to_zero());
    let second = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let events = s.events(&owner_token, &room_id).await;
    let notices = notices_from(&events, &bot);
    assert_eq!(notices.len(), 2, "each run's message is a new event");
    let message = notices[0]["content"]["body"].as_str().unwrap();
    assert!(
        message.contains("· 1 changed · 4 still open · 1 resolved ·"),
        "{message}"
    );
    let replies = thread_replies_from(&events, &bot);
    assert_eq!(
        replies.len(),
        1,
        "one reply per thread per run: {replies:#?}"
    );
    let relation = &replies[0]["content"]["m.relates_to"];
    assert_eq!(relation["rel_type"], "m.thread");
    assert_eq!(relation["event_id"], announcement);
    let body = replies[0]["content"]["body"].as_str().unwrap();
    let (_, said) = body.split_once("Z: ").unwrap();
    assert_eq!(
        said,
        "1 changed since this message\n\
         - 🟠 changed · modified · Deployment/docs/docs-portal · flux-system/docs: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z"
    );
    assert!(
        !body.contains("konnectivity"),
        "outside threadWindow: {body}"
    );
    assert_eq!(
        s.event(&owner_token, &room_id, announcement.as_str().unwrap())
            .await["unsigned"]["m.relations"]["m.thread"]["count"],
        1
    );
    assert_no_secret(&events);
}

/// `remindAfter: 7d`: a run a day later posts nothing; once the findings
/// were announced 8 days ago, one message says each is still open, with its
/// original since; the next run, in the same period, posts nothing again.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_remind_after_reposts_open_findings_once_per_period_with_their_since() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "remind").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &room, &bot, "    remindAfter: 7d\n"),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let posted = || async { notices_from(&s.events(&owner_token, &room_id).await, &bot) };
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(posted().await.len(), 1, "not before remindAfter");

    let week_ago = days_ago(8);
    edit_state(dir.path(), |f| {
        f["thread"]["at"] = json!(week_ago);
        if f["since"].as_str().unwrap() > week_ago.as_str() {
            f["since"] = json!(week_ago);
        }
    });
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = posted().await;
    assert_eq!(notices.len(), 2);
    let body = notices[0]["content"]["body"].as_str().unwrap();
    assert_eq!(
        body.lines().next().unwrap(),
        "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 reminded · 1 Kustomization suspended"
    );
    let docs_days = (chrono::Utc::now()
        - chrono::DateTime::parse_from_rfc3339("2026-11-20T08:15:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc))
    .num_days();
    assert!(
        body.contains(&format!(
            "- 🟠 still open for {docs_days} days, since 2026-11-20T08:15:00Z · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux\n"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "- 🔴 still open for 8 days, since {week_ago} · missing · ClusterRoleBinding/system:konnectivity-server"
        )),
        "{body}"
    );
    assert!(!body.contains(" new ·"), "not as new: {body}");
    // Several findings by different managers: the audit-log hint once.
    assert_eq!(body.matches("who: ").count(), 6, "{body}");
    assert_eq!(body.matches("audit log").count(), 1, "{body}");

    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(posted().await.len(), 2, "not again in the same period");
    assert_eq!(
        thread_replies_from(&s.events(&owner_token, &room_id).await, &bot),
        Vec::<Value>::new(),
        "a reminder is not a change"
    );
}
