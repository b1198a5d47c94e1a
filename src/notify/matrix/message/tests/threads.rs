//! Thread replies, reminders and the audit-log hint: pure, from plans of
//! runs at chosen times.

use super::*;

fn with(remind_after: Option<i64>) -> Options {
    Options {
        remind_after: remind_after.map(chrono::Duration::days),
        ..options()
    }
}

/// The first run's plan, as posted in event `event`.
fn posted(r: &Report, previous: &State, now: &str, event: &str) -> State {
    let mut next = plan(r, previous, now, &options()).next;
    next.announced_in(event);
    next
}

#[test]
fn changed_and_resolved_findings_are_one_reply_in_the_thread_of_the_message_that_announced_them() {
    let first = posted(&report(mixed()), &State::default(), NOW, "$first:localhost");
    // The next day: pg edited again, the missing binding back.
    let mut next = mixed();
    next.pop();
    next[2].changes[0].live = Some(json!(0));
    next[2].changes[0].time = Some("2026-11-24T09:00:00Z".into());
    let second = plan(&report(next), &first, TOMORROW, &options());
    assert!(
        second.message.is_some(),
        "each run's message is a new event"
    );
    assert_eq!(
        second.replies,
        [Reply {
            root: "$first:localhost".into(),
            body: "drift-check prod at 2026-11-25T02:00:05Z: 1 changed, 1 resolved since this message\n\
                   - 🟠 changed · modified · Deployment/web/pg · apps/db: spec.replicas was 2 by kubectl-edit at 2026-11-20T08:15:00Z\n\
                   - ✅ resolved · missing · ClusterRoleBinding/system:konnectivity-server · apps/web · open since 2026-11-24T02:00:05Z"
                .into(),
            html: "<p><strong>drift-check prod at 2026-11-25T02:00:05Z: 1 changed, 1 resolved since this message</strong></p>\n<ul>\n\
                   <li>🟠 <strong>changed</strong> · modified · Deployment/web/pg · apps/db: spec.replicas was 2 by kubectl-edit at 2026-11-20T08:15:00Z</li>\n\
                   <li>✅ <strong>resolved</strong> · missing · ClusterRoleBinding/system:konnectivity-server · apps/web · open since 2026-11-24T02:00:05Z</li>\n\
                   </ul>"
                .into(),
        }]
    );
    // The changed one keeps its thread; the state names it.
    let pg = second
        .next
        .findings
        .values()
        .find(|f| f.object == "Deployment/web/pg")
        .unwrap();
    assert_eq!(pg.thread.as_ref().unwrap().event, "$first:localhost");
}

#[test]
fn findings_announced_by_two_messages_get_one_reply_in_each_thread() {
    let one = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = posted(&one, &State::default(), NOW, "$first:localhost");
    let two = report(vec![
        finding("apps/web", "api", "f1", json!(3), json!(0)),
        finding("apps/web", "web", "f2", json!(3), json!(0)),
    ]);
    let second = posted(&two, &first, "2026-11-24T12:00:00Z", "$second:localhost");
    let third = plan(&report(vec![]), &second, TOMORROW, &options());
    let roots: Vec<(&str, usize)> = third
        .replies
        .iter()
        .map(|r| (r.root.as_str(), r.body.matches("✅ resolved").count()))
        .collect();
    assert_eq!(roots, [("$first:localhost", 1), ("$second:localhost", 1)]);
}

#[test]
fn no_reply_outside_the_thread_window_for_a_finding_of_an_older_state_or_with_replies_off() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = posted(&r, &State::default(), NOW, "$first:localhost");
    let gone = report(vec![]);
    // Eight days later: announced outside the 7 days.
    let late = plan(&gone, &first, "2026-12-02T02:00:06Z", &options());
    assert!(late.message.unwrap().body.contains("✅ Resolved (1)"));
    assert_eq!(late.replies, []);
    // Within them: a reply; with `threadWindow: 0`, none.
    assert_eq!(plan(&gone, &first, TOMORROW, &options()).replies.len(), 1);
    let off = Options {
        thread_window: chrono::Duration::zero(),
        ..options()
    };
    assert_eq!(plan(&gone, &first, TOMORROW, &off).replies, []);
    // A state written before threads: no announcing message known.
    let mut old = first.clone();
    for f in old.findings.values_mut() {
        f.thread = None;
    }
    assert_eq!(plan(&gone, &old, TOMORROW, &options()).replies, []);
}

#[test]
fn a_finding_still_open_after_remind_after_is_posted_once_per_period_with_its_since() {
    let r = report(vec![finding("apps/web", "api", "f1", json!(3), json!(0))]);
    let first = posted(&r, &State::default(), NOW, "$first:localhost");
    assert_eq!(
        plan(&r, &first, "2026-11-30T02:00:05Z", &with(Some(7))).message,
        None,
        "not before remindAfter"
    );
    let due = plan(&r, &first, "2026-12-01T02:00:05Z", &with(Some(7)));
    assert_eq!(
        due.message.unwrap().body,
        "🟠 drift-check prod: 1 unexplained finding (1 edited) at 0123456789ab · 1 reminded\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 still open for 10 days, since 2026-11-20T08:15:00Z · modified · Deployment/web/api · apps/web · owner flux\n  \
         spec.replicas: 3 → 0 by kubectl-edit\n  \
         who: kubectl-edit at 2026-11-20T08:15:00Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
         remedy: revert the manual change and make it through a git PR to ./apps/web"
    );
    assert_eq!(
        due.replies,
        [],
        "a reminder is no change: nothing in the thread"
    );
    let f = due.next.findings.values().next().unwrap();
    assert_eq!((f.reminded, f.since.as_str()), (1, "2026-11-20T08:15:00Z"));
    assert_eq!(
        f.thread.as_ref().unwrap().event,
        "$first:localhost",
        "not announced again"
    );
    // Not again in the same period; again in the next.
    assert_eq!(
        plan(&r, &due.next, "2026-12-07T02:00:00Z", &with(Some(7))).message,
        None
    );
    let again = plan(&r, &due.next, "2026-12-08T02:00:05Z", &with(Some(7)));
    assert!(
        again
            .message
            .unwrap()
            .body
            .contains("still open for 17 days, since 2026-11-20T08:15:00Z")
    );
    // Off by default.
    assert_eq!(
        plan(&r, &first, "2026-12-08T02:00:05Z", &options()).message,
        None
    );
}

#[test]
fn the_audit_log_hint_is_said_once_per_message_on_its_first_who_line() {
    let m = plan(&report(mixed()), &State::default(), NOW, &options())
        .message
        .unwrap();
    assert_eq!(m.body.matches("who: ").count(), 4);
    assert_eq!(m.body.matches("audit log").count(), 1, "{}", m.body);
    assert_eq!(m.html.matches("audit log").count(), 1, "{}", m.html);
    let first_who = m.body.lines().find(|l| l.contains("who: ")).unwrap();
    assert!(first_who.contains("audit log"), "{first_who}");
}
