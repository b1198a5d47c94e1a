//! A fleet run's sinks: ONE Matrix message for the fleet on the real
//! Synapse (worst cluster first, each cluster's state of its own), and on
//! the real pushgateway a group per cluster, the group of a cluster that
//! left the fleet deleted. The clusters are snapshots (the fixtures'
//! drifting one, twice, and one that cannot be read): the sinks are what is
//! tested here; tests/cluster/fleet.rs checks real API servers.

use std::path::PathBuf;

use super::*;
use crate::util::TestCommand;

/// The fixtures' config with `clusters:` (`name` → snapshot directory) and `notify:`.
fn fleet_config(dir: &Path, clusters: &[(&str, &Path)], notify: &str) -> PathBuf {
    let base = std::fs::read_to_string(root().join("fixtures/drift-check.yaml")).unwrap();
    let mut text = format!("{base}clusters:\n");
    for (name, snapshot) in clusters {
        text.push_str(&format!(
            "  - {{name: {name}, liveSnapshot: {}, labels: {{region: {name}}}}}\n",
            snapshot.display()
        ));
    }
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, format!("{text}notify:\n{notify}")).unwrap();
    path
}

/// `drift-check run` of a fleet config (snapshots from the config), JSON out.
fn run_fleet(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> crate::util::Output {
    let out = TestCommand::new()
        .args(["run", "--config"])
        .arg(config)
        .arg("--repo")
        .arg(fixture_repo())
        .args(["-o", "json", "--log-format", "json"])
        .args(extra)
        .envs(env)
        .output();
    for secret in SECRET_VALUES {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_gets_one_message_for_the_fleet_worst_cluster_first_and_keeps_state_per_cluster() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, alias) = room_for(&s, "fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = fixture_snapshot();
    let absent = dir.path().join("no-such-snapshot");
    let cfg = fleet_config(
        dir.path(),
        &[("eu", &snapshot), ("lab", &absent), ("us", &snapshot)],
        &matrix_section(&s, &alias, &bot, ""),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];

    let first = run_fleet(&cfg, &[], &env);
    assert_eq!(first.code, 2, "lab could not be checked: {}", first.stderr);
    let report: Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(report["schema"], "drift-check/fleet/v1");
    assert_eq!(
        report["summary"],
        json!({"clusters": 3, "checked": 2, "could_not_check": 1, "with_unexplained_drift": 2,
               "findings": report["summary"]["findings"], "unexplained": 12})
    );
    let events = s.events(&owner_token, &room_id).await;
    let notices = messages(&events, &bot);
    assert_eq!(notices.len(), 1, "one message for the fleet: {notices:#?}");
    let body = notices[0]["content"]["body"].as_str().unwrap();
    assert!(
        body.starts_with("drift-check · fleet of 3 clusters: 2 checked, 1 could not check, 2 with unexplained drift (12 unexplained of "),
        "{body}"
    );
    let (lab, eu, us) = (
        body.find("── cluster lab (region=lab) ──").expect("lab"),
        body.find("── cluster eu (region=eu) ──").expect("eu"),
        body.find("── cluster us (region=us) ──").expect("us"),
    );
    assert!(lab < eu && eu < us, "worst first, then by name: {body}");
    assert!(
        body.contains("🔴 drift-check eu: 6 unexplained findings"),
        "{body}"
    );
    assert!(
        body.contains("🔴 drift-check us: 6 unexplained findings"),
        "{body}"
    );
    let html = notices[0]["content"]["formatted_body"].as_str().unwrap();
    assert!(html.contains("<h3>cluster us (region=us)</h3>"), "{html}");
    let pages: Vec<&Value> = events.iter().filter(|e| is_page(e)).collect();
    assert_eq!(pages.len(), 1);
    let page = pages[0]["content"]["body"].as_str().unwrap();
    assert!(
        page.starts_with("drift-check-fleet-") && page.ends_with(".html"),
        "{page}"
    );
    for cluster in ["eu", "lab", "us"] {
        let state = dir.path().join(format!("state-{cluster}.json"));
        assert!(
            state.exists(),
            "{} (each cluster its own state)",
            state.display()
        );
    }
    assert!(!dir.path().join("state.json").exists());

    // Nothing new anywhere: nothing is posted.
    let second = run_fleet(&cfg, &[], &env);
    assert_eq!(second.code, 2, "{}", second.stderr);
    let notices = messages(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(
        notices.len(),
        1,
        "nothing new, nothing posted: {notices:#?}"
    );

    // A new cluster: one message, the others one line each.
    let cfg = fleet_config(
        dir.path(),
        &[
            ("eu", &snapshot),
            ("lab", &absent),
            ("us", &snapshot),
            ("ap", &snapshot),
        ],
        &matrix_section(&s, &alias, &bot, ""),
    );
    let third = run_fleet(&cfg, &[], &env);
    assert_eq!(third.code, 2, "{}", third.stderr);
    let notices = messages(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "{notices:#?}");
    let body = notices[0]["content"]["body"].as_str().unwrap();
    assert!(
        body.contains("── cluster ap (region=ap) ──\n🔴 drift-check ap: 6 unexplained findings"),
        "{body}"
    );
    assert!(
        body.contains("\ncluster eu (region=eu): nothing new (6 unexplained of "),
        "{body}"
    );
    assert!(!body.contains("── cluster eu"), "{body}");
    assert_no_secret(&s.events(&owner_token, &room_id).await);
}

/// The bot's messages, newest first, without the files that go with them
/// (the page; the full report when a message is cut for size).
fn messages(events: &[Value], bot: &str) -> Vec<Value> {
    notices_from(events, bot)
        .into_iter()
        .filter(|e| e["content"]["msgtype"] == "m.notice")
        .collect()
}

/// Whether the pushgateway holds a group for `cluster` with the fleet's mark.
async fn marked(url: &str, cluster: &str) -> bool {
    let (lines, _) = group_lines(url, cluster).await;
    lines
        .iter()
        .any(|l| l.starts_with("drift_check_fleet_member{"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_gets_a_group_per_cluster_and_a_cluster_that_left_the_fleet_is_deleted() {
    let Some(url) = pushgateway() else { return };
    let (a, b) = (unique("fleet-a"), unique("fleet-b"));
    let dir = tempfile::tempdir().unwrap();
    let snapshot = fixture_snapshot();
    let notify = format!("  pushgateway:\n    url: {url}\n");
    let both = fleet_config(dir.path(), &[(&a, &snapshot), (&b, &snapshot)], &notify);
    let out = run_fleet(&both, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for cluster in [&a, &b] {
        let (lines, _) = group_lines(&url, cluster).await;
        assert!(
            lines.contains(&format!("drift_check_run_success{{cluster=\"{cluster}\",instance=\"\",job=\"drift_check\"}} 1")),
            "{cluster}: {lines:#?}"
        );
        assert!(marked(&url, cluster).await, "{cluster}");
    }

    // One cluster of the fleet checked: the other one has not left it.
    let out = run_fleet(&both, &["--cluster", &a], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let single: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        single["schema"], "drift-check/v1",
        "one cluster prints as a single run"
    );
    assert!(marked(&url, &b).await);

    // b left the fleet: its group is deleted, a's stays.
    let only_a = fleet_config(dir.path(), &[(&a, &snapshot)], &notify);
    let out = run_fleet(&only_a, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(marked(&url, &a).await);
    let (lines, _) = group_lines(&url, &b).await;
    assert!(
        lines.is_empty(),
        "the departed cluster's series are gone: {lines:#?}"
    );
}
