//! `drift-check run` against a real Synapse and a real pushgateway, started
//! on 127.0.0.1 by `scripts/test` (`scripts/services/*`), which sets
//! `DRIFT_CHECK_TEST_SYNAPSE_*` and `DRIFT_CHECK_TEST_PUSHGATEWAY_URL`.
//! Without them these tests skip with a loud message under a plain `cargo test`,
//! and fail under `scripts/test` (see `util::service`).
//!
//! Every test uses its own Matrix users, room and pushgateway group, so they
//! run in parallel.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use matrix_sdk::config::SyncSettings;
use matrix_sdk::room::MessagesOptions;
use serde_json::{Value, json};

use crate::util::matrix::{
    SECRET_VALUES, Synapse, assert_no_secret, is_page, is_thread_reply, matrix_section,
    notices_from, pushgateway, room_for, synapse, thread_replies_from, unique,
};
pub(crate) use crate::util::matrix::{config, fixture_repo, fixture_snapshot, run};
use crate::util::proxy::{Fault, FaultyProxy};
use crate::util::{Scratch, root, service};

/// The message of the fixture platform's first run, as the room receives it.
mod faults;
mod fleet;
mod pushgateway;
mod sample;
mod state;
mod threads;

use faults::warnings_and_errors;
use pushgateway::group_lines;
pub(crate) use sample::screenshot;
use state::{scratch_scaled_to_zero, since_in_state};

const FIRST_BODY: &str = "\
🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 new · 1 Kustomization suspended

⚠️ Suspended
- ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`

🔴 Missing objects and conflicts
- 🔴 new · missing · ClusterRoleBinding/system:konnectivity-server · flux-system/rbac-system · owner flux
  the whole object is missing from the cluster
  who: the object is gone, and its managers with it; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)
  remedy: find out who deleted it, then let Flux re-create it: `flux reconcile kustomization rbac-system -n flux-system`
- 🔴 new · conflict · HTTPRoute/tenants/acme-portal · flux-system/platform-routes · owner crossplane
  metadata.labels[app.kubernetes.io/managed-by]: flux → crossplane by apiextensions.crossplane.io/composed/4f1c2f0e…
  spec.rules[0].backendRefs[0].namespace: acme → acme-v18 by apiextensions.crossplane.io/composed/4f1c2f0e…
  who: apiextensions.crossplane.io/composed/4f1c2f0e… at 2026-11-21T22:04:13Z
  remedy: Flux and Crossplane both manage this object: patch the composite PLANAClient/acme-x7k2p instead of the object, and remove the object from ./infra/k8s/platform-routes in git or from the Composition, so that one owner remains

🟠 Declared fields edited in the cluster
- 🟠 new · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux
  spec.replicas: 2 → 5 by kubectl-edit
  spec.template.spec.containers[docs-portal].env[DEBUG_TOOLBAR]: added {\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"} by kubectl-set
  who: kubectl-edit at 2026-11-20T08:15:00Z, kubectl-set at 2026-11-21T10:02:00Z
  remedy: revert the manual change and make it through a git PR to ./infra/k8s/docs
- 🟠 new · modified · Deployment/monitoring/prometheus-server · flux-system/monitoring · owner helm
  spec.template.spec.containers[prometheus-server].args: set to [\"--storage.tsdb.retention.time=90d\",\"--config.file=/etc/config/prometheus.yml\"] by kubectl-patch
  who: kubectl-patch at 2026-11-24T13:20:00Z
  remedy: deployed by HelmRelease monitoring/prometheus: change the HelmRelease's values in git (./infra/k8s/monitoring) through a PR instead of the object; to restore the chart's values now: `flux reconcile helmrelease prometheus -n monitoring --force`
- 🟠 new · modified · Secret/monitoring/alertmanager-matrix · flux-system/monitoring · owner flux
  data.webhook-token: *** (before) → *** (after) by kubectl-edit
  who: kubectl-edit at 2026-11-23T06:55:00Z
  remedy: revert the manual change and make it through a git PR to ./infra/k8s/monitoring

🔵 Orphans
- 🔵 new · orphaned · NetworkPolicy/docs/allow-debug-ingress · flux-system/network-policies · owner flux
  labelled app.kubernetes.io/managed-by=flux but in no render; Kustomization flux-system/network-policies is the only one rendering NetworkPolicy objects in this namespace
  the whole object is in the cluster only (written by kubectl-client-side-apply)
  who: kubectl-client-side-apply at 2026-11-19T16:05:12Z
  remedy: delete it, or add it to ./infra/k8s/network-policies in git through a PR if it should stay";

/// The fixture platform's repository, as a Forgejo would serve it.
const LINKS: &str = "    links:\n      commit: https://git.planapulse.com/plana-pulse/infra/src/commit/{sha}\n      file: https://git.planapulse.com/plana-pulse/infra/src/commit/{sha}/{path}\n";

/// A copy of the fixtures where git no longer declares the deleted
/// ClusterRoleBinding: its `missing` finding is resolved.
fn scratch_without_the_missing_binding() -> Scratch {
    without_the_missing_binding(Scratch::new())
}

/// `scratch` where git no longer declares the deleted ClusterRoleBinding.
fn without_the_missing_binding(scratch: Scratch) -> Scratch {
    let file = "infra-repo/infra/k8s/rbac-system/clusterrolebindings.yaml";
    let text = std::fs::read_to_string(scratch.dir.path().join(file)).unwrap();
    let cut = text
        .find("---\n# SKS konnectivity")
        .expect("the binding is in the fixture");
    scratch.write(file, &text[..cut]);
    scratch
}

// ---------------------------------------------------------------- Matrix

#[tokio::test(flavor = "multi_thread")]
async fn matrix_posts_new_drift_once_then_nothing_then_the_resolved_line() {
    let Some(s) = synapse() else { return };
    let (bot, owner) = (unique("bot"), unique("owner"));
    let bot = s.register(&bot, "bot-pass", false);
    let owner_id = s.register(&owner, "owner-pass", false);
    let owner_token = s.login(&owner_id, "owner-pass").await;
    let alias = unique("plain");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &format!("#{alias}:localhost"), &bot, ""),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];

    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let report: Value = serde_json::from_str(&first.stdout).expect("the JSON report is printed");
    assert_eq!(report["summary"]["unexplained"], 6);
    let events = s.events(&owner_token, &room_id).await;
    let notices = notices_from(&events, &bot);
    assert_eq!(notices.len(), 1, "one message per run: {notices:#?}");
    let content = &notices[0]["content"];
    assert_eq!(content["msgtype"], "m.notice");
    assert_eq!(content["format"], "org.matrix.custom.html");
    assert_eq!(content["body"], FIRST_BODY);
    assert!(content["formatted_body"].as_str().unwrap().starts_with(
        "<p><strong>🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned)</strong> at <code>main@sha1:7c1e9d4b2a86</code> · 6 new · 1 Kustomization suspended</p>\n<h4>⚠️ Suspended</h4>"
    ));
    assert!(
        !first.stderr.contains("bot-pass"),
        "the password is never logged"
    );

    let second = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        1,
        "same drift: nothing posted"
    );

    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    let since = state["posted_at"].as_str().unwrap().to_string();
    assert_eq!(state["version"], 2, "{state:#}");
    let scratch = scratch_without_the_missing_binding();
    let third = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let events = s.events(&owner_token, &room_id).await;
    let notices = notices_from(&events, &bot);
    assert_eq!(notices.len(), 2);
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 5 unexplained findings (1 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 5 still open · 1 resolved · 1 Kustomization suspended\n\n\
             ⚠️ Suspended\n\
             - ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\n\
             Still open (5):\n\
             - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
             - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
             - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
             - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
             - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z\n\n\
             ✅ Resolved (1):\n\
             - ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · open since {since}"
        )
    );
    // And in the thread of the message that announced it, as Synapse relates it.
    let replies = thread_replies_from(&events, &bot);
    assert_eq!(replies.len(), 1, "{replies:#?}");
    let relation = &replies[0]["content"]["m.relates_to"];
    assert_eq!(relation["rel_type"], "m.thread");
    assert_eq!(relation["event_id"], notices[1]["event_id"]);
    assert_eq!(relation["is_falling_back"], true);
    assert_eq!(
        relation["m.in_reply_to"]["event_id"],
        notices[1]["event_id"]
    );
    let body = replies[0]["content"]["body"].as_str().unwrap();
    let (head, rest) = body.split_once("Z: ").unwrap();
    assert!(head.starts_with("drift-check prod at 20"), "{body}");
    assert_eq!(
        rest,
        format!(
            "1 resolved since this message\n\
             - ✅ resolved · missing · ClusterRoleBinding/system:konnectivity-server · flux-system/rbac-system · open since {since}"
        )
    );
    // Synapse's own view: the first message is a thread root of one reply.
    let thread_root = s
        .event(
            &owner_token,
            &room_id,
            notices[1]["event_id"].as_str().unwrap(),
        )
        .await;
    assert_eq!(
        thread_root["unsigned"]["m.relations"]["m.thread"]["count"], 1,
        "{thread_root:#}"
    );
    assert_no_secret(&events);
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_encrypted_room_gets_only_ciphertext_that_a_member_decrypts_to_the_exact_text() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let reader_id = s.register(&unique("reader"), "reader-pass", true);
    let devices_before = {
        let admin = s.login(&reader_id, "reader-pass").await;
        s.devices(&admin, &bot).await
    };

    // The reader: a matrix-sdk client with its own device and crypto store.
    let (reader, reader_token, _reader_store) = s.device(&reader_id, "reader-pass").await;
    let alias = unique("secure");
    let room_id = s.encrypted_room(&reader, &reader_token, &alias).await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &format!("#{alias}:localhost"), &bot, ""),
    );
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("\"encrypted\":true"), "{}", out.stderr);
    // A fresh device (password, no store), its keys uploaded before its first query: quiet.
    assert_eq!(warnings_and_errors(&out.stderr), Vec::<String>::new());

    // On the server: ciphertext only.
    let events = s.events(&reader_token, &room_id).await;
    let from_bot: Vec<&Value> = events
        .iter()
        .filter(|e| e["sender"] == bot.as_str())
        .collect();
    assert!(
        from_bot.iter().any(|e| e["type"] == "m.room.encrypted"),
        "{from_bot:#?}"
    );
    assert!(
        !from_bot.iter().any(|e| e["type"] == "m.room.message"),
        "plaintext in an encrypted room: {from_bot:#?}"
    );
    assert_no_secret(&events);
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains("docs-portal")
    );

    // The member decrypts it to the exact text.
    reader
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .unwrap();
    let room = reader
        .get_room(<&matrix_sdk::ruma::RoomId>::try_from(room_id.as_str()).unwrap())
        .unwrap();
    let messages = room.messages(MessagesOptions::backward()).await.unwrap();
    let decrypted: Vec<Value> = messages
        .chunk
        .iter()
        .filter(|e| e.encryption_info().is_some())
        .map(|e| serde_json::from_str(e.raw().json().get()).unwrap())
        .filter(|e: &Value| e["sender"] == bot.as_str() && e["type"] == "m.room.message")
        .collect();
    assert_eq!(
        decrypted.len(),
        2,
        "{:#?}",
        messages
            .chunk
            .iter()
            .map(|e| e.raw().json().get().to_string())
            .collect::<Vec<_>>()
    );
    // The page, encrypted too (its key in the event), after the notice.
    assert_eq!(decrypted[0]["content"]["msgtype"], "m.file");
    let page = decrypted[0]["content"]["body"].as_str().unwrap();
    assert!(
        page.starts_with("drift-check-prod-") && page.ends_with(".html"),
        "{page}"
    );
    assert!(decrypted[0]["content"]["file"]["key"].is_object());
    assert_eq!(decrypted[1]["content"]["msgtype"], "m.notice");
    assert_eq!(decrypted[1]["content"]["body"], FIRST_BODY);

    // Without a persistent store the run's device is logged out at the end.
    assert_eq!(s.devices(&reader_token, &bot).await, devices_before);
}

#[test]
fn matrix_without_credentials_fails_the_sink_with_exit_3_and_says_which_variables() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "  matrix:\n    homeserver: http://127.0.0.1:9\n    room: \"#alerts:localhost\"\n    user: \"@bot:localhost\"\n",
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(serde_json::from_str::<Value>(&out.stdout).is_ok());
    assert!(out.stderr.contains("set DRIFT_CHECK_MATRIX_TOKEN (or DRIFT_CHECK_MATRIX_TOKEN_FILE) or DRIFT_CHECK_MATRIX_PASSWORD"), "{}", out.stderr);
    assert!(
        !dir.path().join("drift-check-matrix-state.json").exists(),
        "no state without a post"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_message_over_the_cap_says_and_n_more_and_attaches_the_full_report() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("small");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(
            &s,
            &format!("#{alias}:localhost"),
            &bot,
            "    maxMessageBytes: 4096\n",
        ),
    );
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let events = s.events(&owner_token, &room_id).await;
    let from_bot = notices_from(&events, &bot);
    assert_eq!(from_bot.len(), 2, "the notice and the file: {from_bot:#?}");
    let (file, notice) = (&from_bot[0]["content"], &from_bot[1]["content"]);
    let body = notice["body"].as_str().unwrap();
    let body_size = body.len() + notice["formatted_body"].as_str().unwrap().len();
    assert!(body_size <= 4096, "{body_size}");
    let shown: usize = ["missing", "conflict", "modified", "orphaned"]
        .iter()
        .map(|drift| body.matches(&format!(" new · {drift} · ")).count())
        .sum();
    assert!(shown < 6, "{body}");
    assert!(
        body.ends_with(&format!(
            "… and {} more new or changed findings: the full report is attached ({}).",
            6 - shown,
            crate::util::matrix::report_file(&out)
        )),
        "{body}"
    );
    assert_eq!(file["msgtype"], "m.file");
    assert_eq!(file["body"], crate::util::matrix::report_file(&out));
    let mxc = file["url"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://")
        .unwrap();
    let report = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{mxc}", s.url))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let report: Value = serde_json::from_str(&report).expect("the attachment is the JSON report");
    assert_eq!(report["schema"], "drift-check/v1");
    assert_eq!(report["summary"]["unexplained"], 6);
    for secret in SECRET_VALUES {
        assert!(!report.to_string().contains(secret));
    }
    assert_no_secret(&events);
}

/// A CronJob retry after the post went out but before the state was saved
/// (lost here on purpose): the same content gives the same transaction id,
/// and the homeserver keeps the first event.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_retried_run_that_lost_its_state_does_not_post_twice() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("retry");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &format!("#{alias}:localhost"), &bot, ""),
    );
    let env = [("DRIFT_CHECK_MATRIX_TOKEN", bot_token.as_str())];
    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    let retry = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert!(dir.path().join("state.json").exists());
}

/// The in-cluster setup for encrypted rooms: a password and a persistent store
/// (a PVC). The first run logs in and keeps the session and keys; the next
/// run reuses them: one device, and the member decrypts both messages.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_encrypted_room_with_a_persistent_store_reuses_one_device_and_posts_a_changed_finding_once()
 {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let reader_id = s.register(&unique("reader"), "reader-pass", true);
    let (reader, reader_token, _reader_store) = s.device(&reader_id, "reader-pass").await;
    let devices_before = s.devices(&reader_token, &bot).await;
    let alias = unique("pvc");
    let room_id = s.encrypted_room(&reader, &reader_token, &alias).await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(
            &s,
            &format!("#{alias}:localhost"),
            &bot,
            "    store: store\n",
        ),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let scratch = scratch_without_the_missing_binding();
    let second = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
    assert_eq!(second.code, 0, "{}", second.stderr);
    // docs-portal edited again (5 → 0) and the binding back in git: posted once.
    let scaled = scratch_scaled_to_zero();
    for _ in 0..2 {
        let third = run(&cfg, &scaled.repo(), &scaled.snapshot(), &[], &env);
        assert_eq!(third.code, 0, "{}", third.stderr);
    }
    assert_eq!(
        s.devices(&reader_token, &bot).await,
        devices_before + 1,
        "one device, kept"
    );
    let session = dir.path().join("store/drift-check-session.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&session).unwrap().permissions().mode() & 0o777,
        0o600
    );

    reader
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .unwrap();
    let room = reader
        .get_room(<&matrix_sdk::ruma::RoomId>::try_from(room_id.as_str()).unwrap())
        .unwrap();
    let messages = room.messages(MessagesOptions::backward()).await.unwrap();
    let decrypted: Vec<Value> = messages
        .chunk
        .iter()
        .filter(|e| e.encryption_info().is_some())
        .map(|e| serde_json::from_str::<Value>(e.raw().json().get()).unwrap())
        .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.message")
        .filter(|e| !is_page(e))
        .collect();
    let body = |e: &Value| e["content"]["body"].as_str().unwrap().to_string();
    let bodies: Vec<String> = decrypted
        .iter()
        .filter(|e| !is_thread_reply(e))
        .map(body)
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    // The first message's thread, encrypted too: the binding resolved, then
    // docs-portal changed, one reply each run.
    let first_event = decrypted.last().unwrap()["event_id"].clone();
    let replies: Vec<&Value> = decrypted.iter().filter(|e| is_thread_reply(e)).collect();
    assert_eq!(replies.len(), 2, "{decrypted:#?}");
    for reply in &replies {
        assert_eq!(
            reply["content"]["m.relates_to"]["event_id"], first_event,
            "{reply:#}"
        );
    }
    assert!(
        body(replies[0]).contains("1 changed since this message\n- 🟠 changed · modified · Deployment/docs/docs-portal · flux-system/docs: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z"),
        "{}",
        body(replies[0])
    );
    assert!(
        body(replies[1]).contains("1 resolved since this message\n- ✅ resolved · missing · ClusterRoleBinding/system:konnectivity-server · flux-system/rbac-system · open since "),
        "{}",
        body(replies[1])
    );
    let section = |heading: &str| {
        let start = FIRST_BODY.find(heading).unwrap();
        let end = FIRST_BODY[start..]
            .find("\n\n")
            .map_or(FIRST_BODY.len(), |e| start + e);
        FIRST_BODY[start..end].to_string()
    };
    assert_eq!(
        bodies[0],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 1 new · 1 changed · 4 still open · 1 Kustomization suspended\n\
             \n\
             ⚠️ Suspended\n\
             - ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
             \n\
             {}\n\
             \n\
             🟠 Declared fields edited in the cluster\n\
             - 🟠 changed: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux\n  \
             spec.replicas: 2 → 0 by kubectl-edit\n  \
             spec.template.spec.containers[docs-portal].env[DEBUG_TOOLBAR]: added {{\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"}} by kubectl-set\n  \
             who: kubectl-edit at 2026-11-24T09:00:00Z, kubectl-set at 2026-11-21T10:02:00Z\n  \
             remedy: revert the manual change and make it through a git PR to ./infra/k8s/docs\n\
             \n\
             Still open (4):\n\
             - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
             - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
             - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
             - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z",
            section("🔴 Missing objects and conflicts")
                .split("\n- 🔴 new · conflict")
                .next()
                .unwrap()
        )
    );
    assert!(
        bodies[1].contains("\n✅ Resolved (1):\n- ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · open since "),
        "{}",
        bodies[1]
    );
    assert_eq!(bodies[2], FIRST_BODY);
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_daily_digest_reposts_open_findings_a_day_later_only_when_configured() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("digest");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let dir = tempfile::tempdir().unwrap();
    let room = format!("#{alias}:localhost");
    let plain = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_TOKEN", bot_token.as_str())];
    assert_eq!(
        run(&plain, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );

    // A day passes: the last post moves 25 hours back.
    let state_file = dir.path().join("state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let yesterday = (chrono::Utc::now() - chrono::Duration::hours(25))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    state["posted_at"] = json!(yesterday);
    std::fs::write(&state_file, serde_json::to_vec(&state).unwrap()).unwrap();

    assert_eq!(
        run(&plain, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        1,
        "no digest unless configured"
    );

    let digest = config(
        dir.path(),
        &matrix_section(&s, &room, &bot, "    dailyDigest: true\n"),
    );
    assert_eq!(
        run(&digest, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2);
    let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let missing_since = state["findings"]
        .as_object()
        .unwrap()
        .values()
        .find(|f| f["drift"] == "missing")
        .unwrap()["since"]
        .as_str()
        .unwrap()
        .to_string();
    let mut expected = FIRST_BODY
        .replacen("· 6 new ·", "· daily digest ·", 1)
        .replacen("⏸️ new ·", "⏸️ still ·", 1)
        .replacen(
            "🔴 new · missing",
            &format!("🔴 still open since {missing_since} · missing"),
            1,
        );
    for (drift_object, since) in [
        ("conflict · HTTPRoute", "2026-11-21T22:04:13Z"),
        ("modified · Deployment/docs", "2026-11-20T08:15:00Z"),
        ("modified · Deployment/monitoring", "2026-11-24T13:20:00Z"),
        ("modified · Secret", "2026-11-23T06:55:00Z"),
        ("orphaned · NetworkPolicy", "2026-11-19T16:05:12Z"),
    ] {
        expected = expected.replacen(
            &format!("new · {drift_object}"),
            &format!("still open since {since} · {drift_object}"),
            1,
        );
    }
    assert_eq!(notices[0]["content"]["body"], expected);
    // And not twice the same day.
    assert_eq!(
        run(&digest, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        2
    );
}
