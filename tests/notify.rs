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
    SECRET_VALUES, Synapse, assert_no_secret, is_page, matrix_section, notices_from, pushgateway,
    room_for, synapse, unique,
};
pub(crate) use crate::util::matrix::{config, fixture_repo, fixture_snapshot, run};
use crate::util::proxy::{Fault, FaultyProxy};
use crate::util::{Scratch, root, service};

/// The message of the fixture platform's first run, as the room receives it.
const FIRST_BODY: &str = "\
🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 new · 1 Kustomization suspended

⚠️ Suspended
- ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`

🔴 Missing objects and conflicts
- 🔴 new · missing · ClusterRoleBinding/system:konnectivity-server · flux-system/rbac-system · owner flux
  the whole object is missing from the cluster
  who: the object is gone, and its managers with it: the API server's audit log (a delete of ClusterRoleBinding/system:konnectivity-server) names the user
  remedy: find out who deleted it, then let Flux re-create it: `flux reconcile kustomization rbac-system -n flux-system`
- 🔴 new · conflict · HTTPRoute/tenants/acme-portal · flux-system/platform-routes · owner crossplane
  metadata.labels[app.kubernetes.io/managed-by]: flux → crossplane by apiextensions.crossplane.io/composed/4f1c2f0e…
  spec.rules[0].backendRefs[0].namespace: acme → acme-v18 by apiextensions.crossplane.io/composed/4f1c2f0e…
  who: apiextensions.crossplane.io/composed/4f1c2f0e… at 2026-11-21T22:04:13Z: the API server's audit log for HTTPRoute/tenants/acme-portal at that time names the user
  remedy: Flux and Crossplane both manage this object: patch the composite PLANAClient/acme-x7k2p instead of the object, and remove the object from ./infra/k8s/platform-routes in git or from the Composition, so that one owner remains

🟠 Declared fields edited in the cluster
- 🟠 new · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux
  spec.replicas: 2 → 5 by kubectl-edit
  spec.template.spec.containers[docs-portal].env[DEBUG_TOOLBAR]: added {\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"} by kubectl-set
  who: kubectl-edit at 2026-11-20T08:15:00Z, kubectl-set at 2026-11-21T10:02:00Z: the API server's audit log for Deployment/docs/docs-portal at those times names the user
  remedy: revert the manual change and make it through a git PR to ./infra/k8s/docs
- 🟠 new · modified · Deployment/monitoring/prometheus-server · flux-system/monitoring · owner helm
  spec.template.spec.containers[prometheus-server].args: set to [\"--storage.tsdb.retention.time=90d\",\"--config.file=/etc/config/prometheus.yml\"] by kubectl-patch
  who: kubectl-patch at 2026-11-24T13:20:00Z: the API server's audit log for Deployment/monitoring/prometheus-server at that time names the user
  remedy: deployed by HelmRelease monitoring/prometheus: change the HelmRelease's values in git (./infra/k8s/monitoring) through a PR instead of the object; to restore the chart's values now: `flux reconcile helmrelease prometheus -n monitoring --force`
- 🟠 new · modified · Secret/monitoring/alertmanager-matrix · flux-system/monitoring · owner flux
  data.webhook-token: *** (before) → *** (after) by kubectl-edit
  who: kubectl-edit at 2026-11-23T06:55:00Z: the API server's audit log for Secret/monitoring/alertmanager-matrix at that time names the user
  remedy: revert the manual change and make it through a git PR to ./infra/k8s/monitoring

🔵 Orphans
- 🔵 new · orphaned · NetworkPolicy/docs/allow-debug-ingress · flux-system/network-policies · owner flux
  labelled app.kubernetes.io/managed-by=flux but in no render; Kustomization flux-system/network-policies is the only one rendering NetworkPolicy objects in this namespace
  the whole object is in the cluster only (written by kubectl-client-side-apply)
  who: kubectl-client-side-apply at 2026-11-19T16:05:12Z: the API server's audit log for NetworkPolicy/docs/allow-debug-ingress at that time names the user
  remedy: delete it, or add it to ./infra/k8s/network-policies in git through a PR if it should stay";

/// The fixture platform's repository, as a Forgejo would serve it.
const LINKS: &str = "    links:\n      commit: https://git.planapulse.com/plana-pulse/infra/src/commit/{sha}\n      file: https://git.planapulse.com/plana-pulse/infra/src/commit/{sha}/{path}\n";

/// A copy of the fixtures where git no longer declares the deleted
/// ClusterRoleBinding: its `missing` finding is resolved.
fn scratch_without_the_missing_binding() -> Scratch {
    let scratch = Scratch::new();
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

#[tokio::test(flavor = "multi_thread")]
async fn matrix_rate_limit_429_is_retried_and_the_message_arrives() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("busy");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let (status, body) = s
        .call(
            reqwest::Method::POST,
            &bot_token,
            &format!("/_matrix/client/v3/join/%23{alias}:localhost"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Use up the bot's message burst (Synapse's default rc_message) until the server says 429.
    let mut limited = None;
    for i in 0..40 {
        let (status, body) = s
            .call(
                reqwest::Method::PUT,
                &bot_token,
                &format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/burn{i}"),
                Some(json!({"msgtype": "m.text", "body": "filler"})),
            )
            .await;
        if status == 429 {
            limited = Some((body, SystemTime::now()));
            break;
        }
    }
    let (limited, limited_at) = limited.expect("Synapse rate-limits message sends by default");
    assert!(limited["retry_after_ms"].as_u64().is_some(), "{limited}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room_id, &bot, ""));
    // The token path too: restored on its own device, found by whoami.
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_TOKEN", &bot_token)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains(&bot_token),
        "the token is never logged"
    );
    // The job's send started while the limit was in force (so its first try got
    // a 429) and the job still succeeded: it waited and retried.
    let limited_until =
        limited_at + Duration::from_millis(limited["retry_after_ms"].as_u64().unwrap());
    let posting = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "Posting to Matrix")
        .expect("the job logs when it posts");
    let posting_at =
        chrono::DateTime::parse_from_rfc3339(posting["timestamp"].as_str().unwrap()).unwrap();
    let posting_at = UNIX_EPOCH + Duration::from_micros(posting_at.timestamp_micros() as u64);
    assert!(
        posting_at < limited_until,
        "the job posted after the limit had passed: the test proves nothing; make it faster"
    );
    let notices: Vec<Value> = notices_from(&s.events(&owner_token, &room_id).await, &bot)
        .into_iter()
        .filter(|e| e["content"]["msgtype"] == "m.notice")
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["content"]["body"], FIRST_BODY);
}

/// A plain room, its owner's token, and a bot with an access token (a device
/// of its own, as the CronJob's Secret holds).
struct PlainRoom {
    bot: String,
    bot_token: String,
    owner_token: String,
    alias: String,
    room_id: String,
}

async fn plain_room(s: &Synapse, prefix: &str) -> PlainRoom {
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique(prefix);
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    PlainRoom {
        bot,
        bot_token,
        owner_token,
        alias,
        room_id,
    }
}

/// The bot's notices in the room, newest first.
async fn bot_notices(s: &Synapse, room: &PlainRoom) -> Vec<Value> {
    notices_from(&s.events(&room.owner_token, &room.room_id).await, &room.bot)
}

const BAD_GATEWAY: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

/// The CronJob's login (an access token) behind a reverse proxy that answers
/// 502 while Synapse restarts, then hangs: whoami is retried past both,
/// matrix-sdk's requests past a hang and a 502 (the send with the same
/// transaction id: one event), all within `timeoutSeconds`.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_token_login_survives_a_502_and_a_hang_within_timeout_seconds() {
    let Some(s) = synapse() else { return };
    let room = plain_room(&s, "proxied").await;
    let proxy = FaultyProxy::start(
        &s.url,
        &[
            (
                "/account/whoami",
                &[Fault::Status(502, BAD_GATEWAY), Fault::Stall],
            ),
            // matrix-sdk's own requests: a hang, a 502.
            ("/joined_rooms", &[Fault::Stall]),
            ("/send/m.room.message/", &[Fault::Status(502, BAD_GATEWAY)]),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    // An attempt may take 4 s (a fifth): two hangs and the backoffs fit, 30 s ones would not.
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"#{}:localhost\"\n    user: \"{}\"\n    stateFile: state.json\n    timeoutSeconds: 20\n",
            proxy.url, room.alias, room.bot
        ),
    );
    let started = std::time::Instant::now();
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_TOKEN", &room.bot_token)],
    );
    let elapsed = started.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        elapsed < Duration::from_secs(20),
        "not within timeoutSeconds: {elapsed:?}"
    );
    let whoami: Vec<String> = proxy
        .seen("/account/whoami")
        .iter()
        .map(|s| format!("{:?}", s.fault))
        .collect();
    assert_eq!(
        whoami,
        [
            format!("{:?}", Some(Fault::Status(502, BAD_GATEWAY))),
            format!("{:?}", Some(Fault::Stall)),
            "None".to_string()
        ]
    );
    assert_eq!(proxy.seen("/joined_rooms").len(), 2);
    // The send retried as the same PUT, transaction id included: one event;
    // then the page's.
    let sends = proxy.seen("/send/m.room.message/");
    assert_eq!(sends.len(), 3, "{sends:#?}");
    assert!(
        sends[..2]
            .iter()
            .all(|s| s.method == "PUT" && s.path == sends[0].path)
    );
    let notices = bot_notices(&s, &room).await;
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0]["content"]["body"], FIRST_BODY);
    assert!(!out.stderr.contains(&room.bot_token));
}

/// A password login (a fresh device, logged out at the end) behind the same
/// proxy: the homeserver's versions and the login itself hang or answer 502
/// first; within `timeoutSeconds` all the same.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_password_login_survives_a_hang_on_versions_and_a_502_on_login() {
    let Some(s) = synapse() else { return };
    let room = plain_room(&s, "proxied-pw").await;
    let proxy = FaultyProxy::start(
        &s.url,
        &[
            ("/_matrix/client/versions", &[Fault::Stall]),
            ("/login", &[Fault::Status(502, BAD_GATEWAY)]),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"#{}:localhost\"\n    user: \"{}\"\n    stateFile: state.json\n    timeoutSeconds: 20\n",
            proxy.url, room.alias, room.bot
        ),
    );
    let started = std::time::Instant::now();
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")],
    );
    let elapsed = started.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        elapsed < Duration::from_secs(20),
        "not within timeoutSeconds: {elapsed:?}"
    );
    assert!(proxy.seen("/_matrix/client/versions").len() >= 2);
    assert_eq!(proxy.seen("/login").len(), 2);
    assert!(
        out.stderr.contains("Logged the Matrix device out"),
        "{}",
        out.stderr
    );
    let notices = bot_notices(&s, &room).await;
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0]["content"]["body"], FIRST_BODY);
}

/// A 429 with `retry_after_ms` on whoami (the policy by hand), on the send
/// and on the upload of the full report (matrix-sdk's retries): each retry
/// waits at least what the server asked.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_429_retry_after_ms_is_waited_for_on_whoami_send_and_upload() {
    let Some(s) = synapse() else { return };
    let room = plain_room(&s, "limited").await;
    const LIMITED: &str =
        r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}"#;
    let proxy = FaultyProxy::start(
        &s.url,
        &[
            ("/account/whoami", &[Fault::Status(429, LIMITED)]),
            ("/send/m.room.message/", &[Fault::Status(429, LIMITED)]),
            ("/upload", &[Fault::Status(429, LIMITED)]),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    // A small cap: the message is cut and the full report uploaded.
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"{}\"\n    user: \"{}\"\n    stateFile: state.json\n    maxMessageBytes: 4096\n",
            proxy.url, room.room_id, room.bot
        ),
    );
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_TOKEN", &room.bot_token)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The upload of the report (429, then sent), then the page's.
    for (path, n) in [("/account/whoami", 2), ("/upload", 3)] {
        let seen = proxy.seen(path);
        assert_eq!(seen.len(), n, "{path}: {seen:#?}");
        let waited = seen[1].at - seen[0].at;
        assert!(
            waited >= Duration::from_millis(1500),
            "{path}: retried after {waited:?}, before retry_after_ms"
        );
    }
    // The notice (429, then sent), the file's and the page's events (sent at once).
    let sends = proxy.seen("/send/m.room.message/");
    assert_eq!(sends.len(), 4, "{sends:#?}");
    assert!(sends[1].at - sends[0].at >= Duration::from_millis(1500));
    assert_eq!(sends[0].path, sends[1].path, "the same transaction id");
    let notices = bot_notices(&s, &room).await;
    assert_eq!(notices.len(), 2, "{notices:#?}");
    assert_eq!(notices[0]["content"]["msgtype"], "m.file");
    assert_eq!(
        notices[0]["content"]["body"],
        crate::util::matrix::report_file(&out)
    );
    assert_eq!(
        notices[0]["content"]["info"]["mimetype"],
        "application/json"
    );
    assert_eq!(notices[1]["content"]["msgtype"], "m.notice");
}

/// The JSON log lines at WARN or ERROR of a run (a line that is not JSON
/// counts too: a panic, a library printing on its own).
fn warnings_and_errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .map_or(true, |l| l["level"] == "WARN" || l["level"] == "ERROR")
        })
        .map(str::to_string)
        .collect()
}

/// Two posts each into a plain room (access token, no store: the CronJob's
/// default) and an encrypted one (access token and a store, with a member's
/// device to share the keys with): not one WARN or ERROR line. Before, the
/// second plain post logged matrix-sdk's "Duplicate one-time keys have been
/// uploaded": every run made new keys for the token's device.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_normal_run_logs_no_warning_or_error_in_a_plain_or_an_encrypted_room() {
    let Some(s) = synapse() else { return };
    let scratch = scratch_without_the_missing_binding();
    let runs = [
        (fixture_repo(), fixture_snapshot()),
        (scratch.repo(), scratch.snapshot()),
    ];

    let room = plain_room(&s, "quiet").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &format!("#{}:localhost", room.alias), &room.bot, ""),
    );
    for (repo, snapshot) in &runs {
        let out = run(
            &cfg,
            repo,
            snapshot,
            &[],
            &[("DRIFT_CHECK_MATRIX_TOKEN", &room.bot_token)],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("Posted to Matrix"), "{}", out.stderr);
        assert_eq!(warnings_and_errors(&out.stderr), Vec::<String>::new());
    }
    assert_eq!(bot_notices(&s, &room).await.len(), 2);

    let bot = s.register(&unique("bot"), "bot-pass", false);
    let bot_token = s.login(&bot, "bot-pass").await;
    let reader_id = s.register(&unique("reader"), "reader-pass", false);
    let (reader, reader_token, _reader_store) = s.device(&reader_id, "reader-pass").await;
    let alias = unique("quiet-secure");
    let room_id = s.encrypted_room(&reader, &reader_token, &alias).await;
    let cfg = config(
        dir.path(),
        &matrix_section(
            &s,
            &format!("#{alias}:localhost"),
            &bot,
            "    store: store\n",
        ),
    );
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    for (repo, snapshot) in &runs {
        let out = run(
            &cfg,
            repo,
            snapshot,
            &[],
            &[("DRIFT_CHECK_MATRIX_TOKEN", &bot_token)],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("\"encrypted\":true"), "{}", out.stderr);
        assert_eq!(warnings_and_errors(&out.stderr), Vec::<String>::new());
    }
    let encrypted = s
        .events(&reader_token, &room_id)
        .await
        .into_iter()
        .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.encrypted")
        .count();
    assert_eq!(encrypted, 4, "two notices, two pages");
}

// ---------------------------------------------------------------- pushgateway

/// The group's sample lines (no `# HELP`/`# TYPE`), pushgateway's own push-time
/// metrics left out, the values of timestamps and durations replaced by `T`.
async fn group_lines(url: &str, cluster: &str) -> (Vec<String>, f64) {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut last_success = f64::NAN;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with('#')
            || !line.contains(&format!("cluster=\"{cluster}\""))
            || line.starts_with("push_")
        {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap();
        if name.starts_with("drift_check_last_success_timestamp_seconds") {
            last_success = value.parse().unwrap();
        }
        if name.contains("timestamp_seconds")
            || name.starts_with("drift_check_run_duration_seconds")
        {
            let v: f64 = value.parse().unwrap();
            assert!((0.0..4e9).contains(&v), "{line}");
            lines.push(format!("{name} T"));
        } else {
            lines.push(line.to_string());
        }
    }
    (lines, last_success)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_gets_exact_metrics_after_drifting_clean_and_failed_runs() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("pg");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("  pushgateway:\n    url: {url}\n"));
    let l = |s: &str| s.replace("CLUSTER", &cluster);

    let before = now().floor();
    let drifting = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(drifting.code, 0, "{}", drifting.stderr);
    let (lines, first_success) = group_lines(&url, &cluster).await;
    assert!(
        first_success >= before && first_success <= now(),
        "{first_success}"
    );
    let expected: Vec<String> = [
        // crossplane's findings are all explained: its 0 says "checked, nothing unexplained".
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/crossplane",owner=""} 0"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="conflict",explained="false",instance="",job="drift_check",kustomization="flux-system/platform-routes",owner="crossplane"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="missing",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="flux"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/docs",owner="flux"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="flux"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="false",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="helm"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="true",instance="",job="drift_check",kustomization="flux-system/crossplane",owner="flux"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="modified",explained="true",instance="",job="drift_check",kustomization="flux-system/monitoring",owner="flux"} 3"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="orphaned",explained="false",instance="",job="drift_check",kustomization="flux-system/network-policies",owner="flux"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} T"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 1"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/crossplane"} 3"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/docs"} 2"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/monitoring"} 10"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/network-policies"} 5"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/platform-routes"} 3"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 7"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("docs-portal") || l.contains("konnectivity")),
        "no object names as label values"
    );

    // A clean run (the one drifting Kustomization fixed, only it checked): the group is
    // replaced, and the Kustomization's findings are 0, not absent.
    let scratch = scratch_without_the_missing_binding();
    let clean = run(
        &cfg,
        &scratch.repo(),
        &scratch.snapshot(),
        &["--cluster", &cluster, "-k", "rbac-system"],
        &[],
    );
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let clean_report: Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(clean_report["summary"]["findings"], 0);
    let (lines, clean_success) = group_lines(&url, &cluster).await;
    let expected_clean: Vec<String> = [
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner=""} 0"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 6"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected_clean);
    assert!(clean_success >= first_success);

    // A failed run: only the run metrics change; the last success and the rest survive.
    let failed = run(
        &cfg,
        Path::new("/nonexistent/infra"),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    let (lines, failed_success) = group_lines(&url, &cluster).await;
    let expected_failed: Vec<String> = [
        r#"drift_check_errors{cluster="CLUSTER",instance="",job="drift_check",stage="source"} 1"#,
        r#"drift_check_findings{cluster="CLUSTER",drift="",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner=""} 0"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 6"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 0"#,
    ]
    .iter()
    .map(|s| l(s))
    .collect();
    assert_eq!(lines, expected_failed);
    assert_eq!(
        failed_success, clean_success,
        "a failed run keeps the last success timestamp"
    );
}

/// A Kustomization Flux cannot apply: `drift_check_kustomization_ready` 0
/// (DriftCheckKustomizationFailing), and what it applied before is still
/// checked: the binding deleted by hand is still missing.
#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_a_failing_kustomization_is_not_ready_and_keeps_its_findings() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("failing");
    let scratch = Scratch::new();
    scratch.edit(
        "live/prod/flux-system.yaml",
        "    - lastTransitionTime: \"2026-11-10T09:14:21Z\"\n      message: \"Applied revision: main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"\n      observedGeneration: 1\n      reason: ReconciliationSucceeded\n      status: \"True\"",
        "    - lastTransitionTime: \"2026-11-29T03:00:00Z\"\n      message: \"ClusterRole/tenant-operator dry-run failed: admission webhook denied the request\"\n      observedGeneration: 1\n      reason: ReconciliationFailed\n      status: \"False\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("  pushgateway:\n    url: {url}\n"));
    let out = run(
        &cfg,
        &scratch.repo(),
        &scratch.snapshot(),
        &["--cluster", &cluster, "-k", "rbac-system"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["kustomizations"][0]["ready"], false, "{report:#}");
    let (lines, _) = group_lines(&url, &cluster).await;
    let expected: Vec<String> = [
        r#"drift_check_findings{cluster="CLUSTER",drift="missing",explained="false",instance="",job="drift_check",kustomization="flux-system/rbac-system",owner="flux"} 1"#,
        r#"drift_check_kustomization_checked{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 1"#,
        r#"drift_check_kustomization_last_checked_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} T"#,
        r#"drift_check_kustomization_ready{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_kustomization_suspended{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 0"#,
        r#"drift_check_last_run_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_last_success_timestamp_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_objects{cluster="CLUSTER",instance="",job="drift_check",kustomization="flux-system/rbac-system"} 7"#,
        r#"drift_check_run_duration_seconds{cluster="CLUSTER",instance="",job="drift_check"} T"#,
        r#"drift_check_run_success{cluster="CLUSTER",instance="",job="drift_check"} 1"#,
    ]
    .iter()
    .map(|s| s.replace("CLUSTER", &cluster))
    .collect();
    assert_eq!(lines, expected);
}

/// Needs no service: nothing listens on the discard port.
#[test]
fn pushgateway_down_fails_the_sink_but_the_report_is_printed_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "  pushgateway:\n    url: http://127.0.0.1:9\n    retries: 2\n    timeoutSeconds: 2\n",
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report is printed");
    assert_eq!(report["summary"]["unexplained"], 6);
    assert!(
        out.stderr.contains(
            "PUT http://127.0.0.1:9/metrics/job/drift_check/cluster/prod failed after 2 attempts"
        ),
        "{}",
        out.stderr
    );
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

#[tokio::test(flavor = "multi_thread")]
async fn matrix_never_posts_plaintext_into_an_encrypted_room_it_cannot_encrypt_for() {
    let Some(s) = synapse() else { return };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("secret");
    let room_id = s.create_room(&owner_token, &alias, true).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &matrix_section(&s, &format!("#{alias}:localhost"), &bot, ""),
    );
    // An access token without a persistent store cannot keep the device's keys.
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_TOKEN", &bot_token)],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        serde_json::from_str::<Value>(&out.stdout).is_ok(),
        "the report is still printed"
    );
    assert!(
        out.stderr
            .contains("is encrypted: with an access token, set `notify.matrix.store`"),
        "{}",
        out.stderr
    );
    let events = s.events(&owner_token, &room_id).await;
    assert!(
        !events.iter().any(|e| e["sender"] == bot.as_str()
            && e["type"].as_str().unwrap().starts_with("m.room.message")
            || e["sender"] == bot.as_str() && e["type"] == "m.room.encrypted"),
        "{events:#?}"
    );
    assert!(
        !dir.path().join("state.json").exists(),
        "nothing posted, nothing remembered"
    );

    // With a store the same token posts, encrypted.
    let store = dir.path().join("store");
    let cfg = config(
        dir.path(),
        &matrix_section(
            &s,
            &format!("#{alias}:localhost"),
            &bot,
            &format!("    store: {}\n", store.display()),
        ),
    );
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_TOKEN", &bot_token)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = s.events(&owner_token, &room_id).await;
    let from_bot: Vec<&Value> = events
        .iter()
        .filter(|e| e["sender"] == bot.as_str())
        .collect();
    assert!(from_bot.iter().any(|e| e["type"] == "m.room.encrypted"));
    assert!(!from_bot.iter().any(|e| e["type"] == "m.room.message"));
}

/// A pushgateway of this test's own, behind basic auth (its `--web.config.file`),
/// killed by PID at the end.
struct AuthPushgateway {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for AuthPushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn pushgateway_with_basic_auth() -> AuthPushgateway {
    let dir = tempfile::tempdir().unwrap();
    // bcrypt of "pg-test-pass".
    std::fs::write(
        dir.path().join("web.yaml"),
        "basic_auth_users:\n  pusher: $2b$04$tOLjRKLu4Bx6DN/glWuiVuKMkASdVuEMT0sWHwNbU2G7eDdaL6La6\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus-pushgateway")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--web.config.file={}",
            dir.path().join("web.yaml").display()
        ))
        .arg("--persistence.file=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus-pushgateway is installed (scripts/services/pushgateway)");
    let url = format!("http://127.0.0.1:{port}");
    let gateway = AuthPushgateway {
        child,
        url,
        _dir: dir,
    };
    for _ in 0..100 {
        let ready = reqwest::Client::new()
            .get(format!("{}/-/ready", gateway.url))
            .basic_auth("pusher", Some("pg-test-pass"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pushgateway with basic auth did not get ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn pushgateway_basic_auth_from_env_and_file() {
    if pushgateway().is_none() {
        return;
    }
    let gateway = pushgateway_with_basic_auth().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!("  pushgateway:\n    url: {}\n    retries: 1\n", gateway.url),
    );
    let cluster = unique("auth");

    let refused = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("failed after 1 attempts: HTTP 401 Unauthorized"),
        "{}",
        refused.stderr
    );

    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "pg-test-pass\n").unwrap();
    let pushed = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[
            ("DRIFT_CHECK_PUSHGATEWAY_USERNAME", "pusher"),
            (
                "DRIFT_CHECK_PUSHGATEWAY_PASSWORD_FILE",
                password_file.to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert!(!pushed.stderr.contains("pg-test-pass"));
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", gateway.url))
        .basic_auth("pusher", Some("pg-test-pass"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "drift_check_run_success{{cluster=\"{cluster}\",instance=\"\",job=\"drift_check\"}} 1\n"
        )),
        "{metrics}"
    );
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
    let bodies: Vec<String> = messages
        .chunk
        .iter()
        .filter(|e| e.encryption_info().is_some())
        .map(|e| serde_json::from_str::<Value>(e.raw().json().get()).unwrap())
        .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.message")
        .filter(|e| !is_page(e))
        .map(|e| e["content"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
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
             who: kubectl-edit at 2026-11-24T09:00:00Z, kubectl-set at 2026-11-21T10:02:00Z: the API server's audit log for Deployment/docs/docs-portal at those times names the user\n  \
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

/// Matrix fails (no credentials), the pushgateway still gets the run.
#[tokio::test(flavor = "multi_thread")]
async fn each_sink_fails_on_its_own() {
    let Some(url) = pushgateway() else { return };
    let cluster = unique("own");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: http://127.0.0.1:9\n    room: \"#alerts:localhost\"\n    user: \"@bot:localhost\"\n  pushgateway:\n    url: {url}\n"
        ),
    );
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &["--cluster", &cluster],
        &[],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let (lines, _) = group_lines(&url, &cluster).await;
    assert!(
        lines.contains(&format!(
            "drift_check_run_success{{cluster=\"{cluster}\",instance=\"\",job=\"drift_check\"}} 1"
        )),
        "{lines:#?}"
    );
}

/// A pushgateway that accepts connections and never answers: each attempt
/// times out, the sink gives up after the configured attempts.
#[test]
fn a_pushgateway_that_never_answers_times_out_after_bounded_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  pushgateway:\n    url: http://127.0.0.1:{port}\n    retries: 2\n    timeoutSeconds: 1\n"
        ),
    );
    let started = std::time::Instant::now();
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("failed after 2 attempts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(listener);
}

/// A homeserver that accepts connections and never answers: the sink gives up
/// after `timeoutSeconds`, retries included, and says so.
#[test]
fn a_homeserver_that_never_answers_fails_the_sink_after_its_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: http://127.0.0.1:{port}\n    room: \"#alerts:localhost\"\n    user: \"@bot:localhost\"\n    timeoutSeconds: 2\n"
        ),
    );
    let started = std::time::Instant::now();
    let out = run(
        &cfg,
        &fixture_repo(),
        &fixture_snapshot(),
        &[],
        &[("DRIFT_CHECK_MATRIX_PASSWORD", "pw")],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        serde_json::from_str::<Value>(&out.stdout).is_ok(),
        "the report is printed"
    );
    assert!(
        out.stderr
            .contains("matrix: gave up after 2s (timeoutSeconds)"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(listener);
}

/// The CronJob's store: the state in a ConfigMap on the real API server
/// (started by `scripts/test`), written by server-side apply and read back.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_state_in_a_config_map_on_the_api_server_stops_repeats() {
    let Some(s) = synapse() else { return };
    let Some(kubeconfig) = service("DRIFT_CHECK_TEST_KUBECONFIG") else {
        return;
    };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("cm");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let name = unique("state-");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"#{alias}:localhost\"\n    user: \"{bot}\"\n    stateConfigMap: default/{name}\n",
            s.url
        ),
    );
    let env = [("DRIFT_CHECK_MATRIX_TOKEN", bot_token.as_str())];
    let args = ["--kubeconfig", kubeconfig.as_str()];
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        1
    );

    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let cm = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "default")
        .get(&name)
        .await
        .unwrap();
    let state = crate::util::matrix::config_map_state(&cm);
    assert_eq!(state["version"], 2, "{state:#}");
    let objects = crate::util::matrix::state_objects(&state);
    assert_eq!(objects.len(), 6, "{state:#}");
    assert!(objects.contains(&"ClusterRoleBinding/system:konnectivity-server".to_string()));
    assert!(!state.to_string().contains("hunter2"));
    assert!(
        cm.metadata
            .managed_fields
            .unwrap()
            .iter()
            .any(|m| m.manager.as_deref() == Some("drift-check"))
    );
}

/// The `since` of the one entry of the state file's `section` (`findings`,
/// `problems`) that `pick` chooses.
fn since_in_state(dir: &Path, section: &str, pick: impl Fn(&Value) -> bool) -> String {
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    let found: Vec<&Value> = state[section]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| pick(v))
        .collect();
    assert_eq!(found.len(), 1, "{state:#}");
    found[0]["since"].as_str().unwrap().to_string()
}

/// The fixtures with docs-portal scaled again by hand: 5 → 0, a later `kubectl edit`.
fn scratch_scaled_to_zero() -> Scratch {
    let scratch = Scratch::new();
    let docs = "live/prod/docs.yaml";
    scratch.edit(docs, "    replicas: 5\n", "    replicas: 0\n");
    scratch.edit(
        docs,
        "      manager: kubectl-edit\n      operation: Update\n      time: \"2026-11-20T08:15:00Z\"",
        "      manager: kubectl-edit\n      operation: Update\n      time: \"2026-11-24T09:00:00Z\"",
    );
    scratch
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_new_edit_to_a_reported_field_is_posted_as_changed_with_links_then_nothing() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "changed").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);

    let scratch = scratch_scaled_to_zero();
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(
        notices.len(),
        2,
        "the change once, then nothing: {notices:#?}"
    );
    let content = &notices[0]["content"];
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    assert_eq!(
        content["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 1 changed · 5 still open · 1 Kustomization suspended\n\
         \n\
         ⚠️ Suspended\n\
         - ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 changed: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux\n  \
         spec.replicas: 2 → 0 by kubectl-edit\n  \
         spec.template.spec.containers[docs-portal].env[DEBUG_TOOLBAR]: added {{\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"}} by kubectl-set\n  \
         who: kubectl-edit at 2026-11-24T09:00:00Z, kubectl-set at 2026-11-21T10:02:00Z: the API server's audit log for Deployment/docs/docs-portal at those times names the user\n  \
         remedy: revert the manual change and make it through a git PR to ./infra/k8s/docs\n  \
         git: https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\n\
         \n\
         Still open (5):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
        )
    );
    let html = content["formatted_body"].as_str().unwrap();
    assert!(html.starts_with("<p><strong>🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned)</strong> at <a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"><code>main@sha1:7c1e9d4b2a86</code></a> · 1 changed · 5 still open · 1 Kustomization suspended</p>\n"), "{html}");
    assert!(html.contains("<li>🟠 <strong>changed: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z</strong> · modified · <code>Deployment/docs/docs-portal</code> · <a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\">flux-system/docs</a> · owner flux\n<ul>\n<li><code>spec.replicas</code>: <code>2</code> → <code>0</code> by kubectl-edit</li>\n"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_failing_and_resumed_kustomizations_are_posted_once_each() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "failing").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    assert_eq!(
        run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );

    // crossplane resumed; docs failing in Flux.
    let scratch = Scratch::new();
    let flux = "live/prod/flux-system.yaml";
    scratch.edit(flux, "    suspend: true\n", "    suspend: false\n");
    scratch.edit(
        flux,
        "    - lastTransitionTime: \"2026-11-10T09:14:31Z\"\n      message: \"Applied revision: main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"\n      observedGeneration: 1\n      reason: ReconciliationSucceeded\n      status: \"True\"",
        "    - lastTransitionTime: \"2026-11-29T03:00:00Z\"\n      message: \"kustomize build failed: <b>accumulating resources</b>\"\n      observedGeneration: 1\n      reason: BuildFailed\n      status: \"False\"",
    );
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "posted once: {notices:#?}");
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    let still_open = format!(
        "- 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    // Resumed, crossplane's own drift is no longer explained by the suspension.
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 7 unexplained findings (2 missing or conflicting, 4 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 1 new · 6 still open · 1 Kustomization failing\n\
             \n\
             ⚠️ Failing, suspended\n\
             - ❌ new · Kustomization flux-system/docs is failing since 2026-11-29T03:00:00Z: BuildFailed: kustomize build failed: <b>accumulating resources</b>\n\
             - ▶️ resumed · Kustomization flux-system/crossplane (suspended since 2026-11-22T17:40:00Z)\n\
             \n\
             🟠 Declared fields edited in the cluster\n\
             - 🟠 new · modified · Composition/planaclient-v18 · flux-system/crossplane · owner flux\n  \
             spec.resources[0].base.spec.rules[0].backendRefs[0].port: 8080 → 8443 by kubectl-client-side-apply\n  \
             who: kubectl-client-side-apply at 2026-11-22T17:52:36Z: the API server's audit log for Composition/planaclient-v18 at that time names the user\n  \
             remedy: revert the manual change and make it through a git PR to ./infra/k8s/crossplane\n\
             \n\
             Still open (6):\n\
             {still_open}"
        )
    );
    assert!(
        notices[0]["content"]["formatted_body"]
            .as_str()
            .unwrap()
            .contains("kustomize build failed: &lt;b&gt;accumulating resources&lt;/b&gt;"),
        "{}",
        notices[0]["content"]["formatted_body"]
    );

    // Ready again, and suspended again: crossplane's drift is paused, not resolved.
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 3);
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 paused while suspended · 1 Kustomization suspended\n\
             \n\
             ⚠️ Failing, suspended\n\
             - ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
             - ✅ Ready again · Kustomization flux-system/docs (failing since 2026-11-29T03:00:00Z)\n\
             \n\
             Still open (6):\n\
             {still_open}\n\
             \n\
             ⏸️ Paused while suspended (1):\n\
             - 🟠 paused · Composition/planaclient-v18 · modified · flux-system/crossplane · open since 2026-11-22T17:52:36Z"
        )
    );

    // Still suspended: nothing to say. Resumed: its drift is open as before, not new.
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        3
    );
    let resumed = Scratch::new();
    resumed.edit(flux, "    suspend: true\n", "    suspend: false\n");
    let out = run(&cfg, &resumed.repo(), &resumed.snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 4);
    let body = notices[0]["content"]["body"].as_str().unwrap();
    assert!(
        body.starts_with("🔴 drift-check prod: 7 unexplained findings (2 missing or conflicting, 4 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 7 still open\n"),
        "{body}"
    );
    assert!(
        body.contains("- ▶️ resumed · Kustomization flux-system/crossplane (suspended since 2026-11-22T17:40:00Z)"),
        "{body}"
    );
    assert!(
        body.contains("- 🟠 Composition/planaclient-v18 · modified · flux-system/crossplane · since 2026-11-22T17:52:36Z"),
        "its first since: {body}"
    );
    assert!(!body.contains(" new "), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_run_that_could_not_check_posts_it_once_then_its_resolution() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "errors").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    assert_eq!(
        run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );

    let scratch = Scratch::new();
    scratch.write(
        "live/prod/broken.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata: [unclosed\n",
    );
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 2, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "posted once: {notices:#?}");
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    let error_since = since_in_state(dir.path(), "problems", |p| p["kustomization"].is_null());
    let still_open = format!(
        "Still open (6):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    let suspended = "- ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`";
    // Nothing resolved by a run that could not read the cluster's state.
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · could not check stage live · 1 Kustomization suspended\n\
             \n\
             ⚠️ Could not check, suspended\n\
             - ⚠️ new · could not check stage live since {error_since}: {}: unclosed bracket '[' at line 5, column 13\n\
             {suspended}\n\
             \n\
             {still_open}",
            scratch.snapshot().join("broken.yaml").display()
        )
    );

    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 3);
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 Kustomization suspended\n\
             \n\
             ⚠️ Could not check, suspended\n\
             {suspended}\n\
             - ✅ resolved · stage live is checked again (could not be since {error_since})\n\
             \n\
             {still_open}"
        )
    );
}

/// The page a screenshot is taken of: the message as a Matrix client shows
/// an `m.notice` (sender, then the HTML body), nothing else.
pub(crate) const SAMPLE_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; background: #ffffff; font-family: "DejaVu Sans", sans-serif; font-size: 14px; color: #17191c; }
.event { margin: 16px 20px; padding-left: 52px; position: relative; line-height: 1.45; }
.avatar { position: absolute; left: 0; top: 0; width: 36px; height: 36px; border-radius: 50%; background: #0dbd8b;
  color: #fff; font-weight: bold; text-align: center; line-height: 36px; }
.sender { color: #0dbd8b; font-weight: bold; margin-bottom: 2px; }
.notice { color: #5c6470; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; background: #f2f4f6; border-radius: 3px; padding: 0 3px; color: #17191c; }
h4 { margin: 12px 0 2px; color: #17191c; }
ul { margin: 2px 0; padding-left: 20px; }
a { color: #0086e6; text-decoration: none; }
p { margin: 0 0 4px; }
</style></head><body><div class="event"><div class="avatar">d</div><div class="sender">drift-check</div>
<div class="notice">BODY</div></div></body></html>
"#;

/// Runs `program` to its end, or kills it after `limit`.
pub(crate) fn run_within(mut command: Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the program starts");
    let id = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("it runs"));
    let deadline = std::time::Instant::now() + limit;
    while !waiter.is_finished() {
        if std::time::Instant::now() > deadline {
            // Our own child, by its pid.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("{command:?} took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiter.join().unwrap()
}

/// The README's sample post: the fixture platform's first run, with links as
/// its Forgejo serves them, read back from Synapse (`body` and
/// `formatted_body` exactly as `fixtures/matrix/sample-post.*`), and the
/// HTML as headless Chromium renders it. `DRIFT_CHECK_RECORD_SAMPLE=1`
/// records the texts and `docs/matrix-sample-post.png` after an intended change.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_sample_post_renders_in_headless_chromium() {
    let Some(s) = synapse() else { return };
    let Some(chromium) = service("DRIFT_CHECK_TEST_CHROMIUM") else {
        return;
    };
    let (bot, owner_token, room_id, room) = room_for(&s, "sample").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    let body = notices[0]["content"]["body"].as_str().unwrap();
    let html = notices[0]["content"]["formatted_body"].as_str().unwrap();
    let record = std::env::var_os("DRIFT_CHECK_RECORD_SAMPLE").is_some();
    for (file, text) in [
        ("fixtures/matrix/sample-post.txt", body),
        ("fixtures/matrix/sample-post.html", html),
    ] {
        let path = root().join(file);
        if record {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        assert_eq!(
            text,
            std::fs::read_to_string(&path).unwrap(),
            "{file} (DRIFT_CHECK_RECORD_SAMPLE=1 records it after an intended change)"
        );
    }
    assert!(body.starts_with(&FIRST_BODY[..FIRST_BODY.find('\n').unwrap()]));

    let page = dir.path().join("sample-post.html");
    std::fs::write(&page, SAMPLE_PAGE.replace("BODY", html)).unwrap();
    let png = dir.path().join("sample-post.png");
    let (width, height) = (980u32, 1140u32);
    let mut chrome = Command::new(&chromium);
    chrome
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    let shot = run_within(chrome, Duration::from_secs(90));
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (width, height));
    // A blank page compresses to a few KiB; text, code spans and emoji do not.
    assert!(bytes.len() > 40_000, "a blank page? {} bytes", bytes.len());
    if record {
        let docs = root().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&png, docs.join("matrix-sample-post.png")).unwrap();
    }
}

/// An upgrade: the state an earlier version wrote (`open`, by the fingerprint
/// of the changed paths) is read and migrated; its findings are not posted
/// again, only what it did not track (the suspension), and the state is
/// rewritten in the new format.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_state_of_the_first_format_does_not_repost_its_findings() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "upgrade").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let open: serde_json::Map<String, Value> = [
        ("flux-system/docs", "Deployment/docs/docs-portal", "modified"),
        ("flux-system/monitoring", "Secret/monitoring/alertmanager-matrix", "modified"),
        ("flux-system/monitoring", "Deployment/monitoring/prometheus-server", "modified"),
        ("flux-system/network-policies", "NetworkPolicy/docs/allow-debug-ingress", "orphaned"),
        ("flux-system/platform-routes", "HTTPRoute/tenants/acme-portal", "conflict"),
        ("flux-system/rbac-system", "ClusterRoleBinding/system:konnectivity-server", "missing"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (ks, object, drift))| {
        (
            format!("{i:064x}"),
            json!({"since": "2026-11-24T02:00:05Z", "kustomization": ks, "object": object, "drift": drift}),
        )
    })
    .collect();
    std::fs::write(
        dir.path().join("state.json"),
        serde_json::to_vec(&json!({"posted_at": "2026-11-24T02:00:05Z", "open": open})).unwrap(),
    )
    .unwrap();
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(
        notices[0]["content"]["body"],
        "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 Kustomization suspended\n\
         \n\
         ⚠️ Suspended\n\
         - ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
         \n\
         Still open (6):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since 2026-11-24T02:00:05Z\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T02:00:05Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 2);
    assert!(state.get("open").is_none(), "{state:#}");
    assert_eq!(state["findings"].as_object().unwrap().len(), 6, "{state:#}");
}

#[test]
fn the_readme_shows_the_sample_post_the_test_above_reads_back_from_synapse() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let sample = std::fs::read_to_string(root().join("fixtures/matrix/sample-post.txt")).unwrap();
    assert!(
        readme.contains(&format!("```text\n{sample}\n```")),
        "README.md's Matrix sample is not fixtures/matrix/sample-post.txt"
    );
    assert!(readme.contains(
        "![The first post on the fixture platform, rendered](docs/matrix-sample-post.png)"
    ));
    assert!(root().join("docs/matrix-sample-post.png").is_file());
}

/// Every post carries the run's HTML page, `drift-check-<cluster>-<UTC
/// date>.html`: the same report, links from the sink's templates, and the
/// open findings' ages from the Matrix state (the missing binding has no
/// change time: its "since" is the state's, the time of the post). A run
/// that posts nothing attaches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_every_post_carries_the_html_page() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "page").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let mut started_at = String::new();
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        if started_at.is_empty() {
            let report: Value = serde_json::from_str(&out.stdout).unwrap();
            started_at = report["run"]["started_at"].as_str().unwrap().to_string();
        }
    }
    let events = s.events(&owner_token, &room_id).await;
    let pages: Vec<&Value> = events.iter().filter(|e| is_page(e)).collect();
    assert_eq!(pages.len(), 1, "one post, one page: {pages:#?}");
    let content = &pages[0]["content"];
    assert_eq!(
        content["body"],
        format!("drift-check-prod-{}.html", &started_at[..10])
    );
    assert_eq!(content["info"]["mimetype"], "text/html; charset=utf-8");
    let mxc = content["url"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://")
        .unwrap();
    let page = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{mxc}", s.url))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains(
        "drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at"
    ));
    assert!(page.contains(
        "<a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\" rel=\"noopener noreferrer\">flux-system/docs</a>"
    ));
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    assert!(
        page.contains(&format!(
            "<td><code>ClusterRoleBinding/system:konnectivity-server</code></td><td><a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/rbac-system\" rel=\"noopener noreferrer\">flux-system/rbac-system</a></td><td>—</td><td>{missing_since} (under 1 h)</td>"
        )),
        "{page}"
    );
    for secret in SECRET_VALUES {
        assert!(!page.contains(secret), "the page holds {secret}");
    }
}
