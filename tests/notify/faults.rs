//! The Matrix and pushgateway sinks when the network fails them: 429s and
//! 502s, hangs, a homeserver or pushgateway that never answers, an encrypted
//! room it cannot encrypt for, each sink failing on its own.

use super::*;

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
pub(super) fn warnings_and_errors(stderr: &str) -> Vec<String> {
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
    let encrypted: Vec<Value> = s
        .events(&reader_token, &room_id)
        .await
        .into_iter()
        .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.encrypted")
        .collect();
    assert_eq!(
        encrypted.len(),
        5,
        "two notices, two pages, one reply in the first's thread"
    );
    assert_eq!(
        encrypted
            .iter()
            .filter(|e| crate::util::matrix::is_thread_reply(e))
            .count(),
        1
    );
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
