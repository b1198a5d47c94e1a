//! The test setup's Synapse and pushgateway, and `drift-check run` with a
//! `notify:` section on the fixtures: what every sink test shares.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use serde_json::{Value, json};

use super::{Output, TestCommand, root, service};

/// The Secret values of the fixtures: never anywhere.
pub const SECRET_VALUES: [&str; 2] = ["s3cr3t-from-git", "hunter2-changed-live"];

pub struct Synapse {
    pub url: String,
    secret: String,
    register: String,
}

/// The test setup's Synapse; `None` (skipped, loudly) outside `scripts/test`.
pub fn synapse() -> Option<Synapse> {
    Some(Synapse {
        url: service("DRIFT_CHECK_TEST_SYNAPSE_URL")?,
        secret: service("DRIFT_CHECK_TEST_SYNAPSE_SECRET")?,
        register: service("DRIFT_CHECK_TEST_SYNAPSE_REGISTER")?,
    })
}

/// The test setup's pushgateway; `None` (skipped, loudly) outside `scripts/test`.
pub fn pushgateway() -> Option<String> {
    service("DRIFT_CHECK_TEST_PUSHGATEWAY_URL")
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

impl Synapse {
    /// Registers a user through the shared secret; returns its id.
    pub fn register(&self, name: &str, password: &str, admin: bool) -> String {
        let status = Command::new(&self.register)
            .args(["-k", &self.secret, "-u", name, "-p", password])
            .arg(if admin { "--admin" } else { "--no-admin" })
            .arg(&self.url)
            .output()
            .expect("register_new_matrix_user runs");
        assert!(status.status.success(), "{status:?}");
        format!("@{name}:localhost")
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("synapse answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "",
                "/_matrix/client/v3/login",
                Some(json!({"type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user}, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A public room with an alias; encrypted (megolm) when asked. Returns its id.
    /// A matrix-sdk client of `user` with its own device and crypto store
    /// (kept while the returned directory lives), and its access token.
    pub async fn device(
        &self,
        user: &str,
        password: &str,
    ) -> (matrix_sdk::Client, String, tempfile::TempDir) {
        let store = tempfile::tempdir().unwrap();
        let client = matrix_sdk::Client::builder()
            .homeserver_url(&self.url)
            .sqlite_store(store.path(), None)
            .build()
            .await
            .unwrap();
        client
            .matrix_auth()
            .login_username(user, password)
            .send()
            .await
            .unwrap();
        let token = client.access_token().unwrap();
        (client, token, store)
    }

    /// An encrypted room `alias` created by `member`'s device, synced once
    /// so that the device takes part in it; returns the room id.
    pub async fn encrypted_room(
        &self,
        member: &matrix_sdk::Client,
        token: &str,
        alias: &str,
    ) -> String {
        let room_id = self.create_room(token, alias, true).await;
        member
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .unwrap();
        room_id
    }

    pub async fn create_room(&self, token: &str, alias: &str, encrypted: bool) -> String {
        let mut request = json!({"room_alias_name": alias, "preset": "public_chat"});
        if encrypted {
            request["initial_state"] = json!([{"type": "m.room.encryption", "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]);
        }
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                token,
                "/_matrix/client/v3/createRoom",
                Some(request),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["room_id"].as_str().unwrap().to_string()
    }

    /// The room's events, newest first, as the server stores them.
    pub async fn events(&self, token: &str, room_id: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                token,
                &format!("/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=100"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["chunk"].as_array().unwrap().clone()
    }

    /// One event, as the server serves it (with its `unsigned` relations).
    pub async fn event(&self, token: &str, room_id: &str, event_id: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                token,
                &format!("/_matrix/client/v3/rooms/{room_id}/event/{event_id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn devices(&self, admin_token: &str, user: &str) -> usize {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                admin_token,
                &format!("/_synapse/admin/v2/users/{user}/devices"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["devices"].as_array().unwrap().len()
    }
}

/// The bot's `m.room.message` events, newest first, but for the HTML page
/// that goes with every post (see `matrix_every_post_carries_the_html_page`)
/// and the replies in threads (see [`thread_replies_from`]): one a run.
pub fn notices_from(events: &[Value], user: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| {
            e["sender"] == user
                && e["type"] == "m.room.message"
                && !is_page(e)
                && !is_thread_reply(e)
        })
        .cloned()
        .collect()
}

/// Whether the event is in a thread (`m.relates_to.rel_type` is `m.thread`;
/// in the clear also for an encrypted event).
pub fn is_thread_reply(event: &Value) -> bool {
    event["content"]["m.relates_to"]["rel_type"] == "m.thread"
}

/// The bot's replies in threads, newest first.
pub fn thread_replies_from(events: &[Value], user: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["sender"] == user && is_thread_reply(e))
        .cloned()
        .collect()
}

/// The HTML page's file event.
pub fn is_page(event: &Value) -> bool {
    event["content"]["msgtype"] == "m.file"
        && event["content"]["body"]
            .as_str()
            .is_some_and(|b| b.ends_with(".html"))
}

pub fn assert_no_secret(events: &[Value]) {
    let text = serde_json::to_string(events).unwrap();
    for secret in SECRET_VALUES {
        assert!(!text.contains(secret), "{secret} is in an event");
    }
}

/// A config file: the fixtures' config plus a `notify:` section.
pub fn config(dir: &Path, notify: &str) -> PathBuf {
    let base = std::fs::read_to_string(root().join("fixtures/drift-check.yaml")).unwrap();
    let path = dir.join("drift-check.yaml");
    std::fs::write(&path, format!("{base}notify:\n{notify}")).unwrap();
    path
}

/// Runs `drift-check run -o json` with the given config, repo and
/// environment, and checks that no Secret value is in its output.
pub fn run(
    config: &Path,
    repo: &Path,
    snapshot: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let output = TestCommand::new()
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--repo")
        .arg(repo)
        .arg("--live-snapshot")
        .arg(snapshot)
        .args(["-o", "json", "--log-format", "json"])
        .args(extra)
        .envs(env)
        .output();
    for secret in SECRET_VALUES {
        assert!(!output.stdout.contains(secret) && !output.stderr.contains(secret));
    }
    output
}

pub fn fixture_repo() -> PathBuf {
    root().join("fixtures/infra-repo")
}

pub fn fixture_snapshot() -> PathBuf {
    root().join("fixtures/live/prod")
}

pub fn matrix_section(s: &Synapse, room: &str, user: &str, extra: &str) -> String {
    format!(
        "  matrix:\n    homeserver: {}\n    room: \"{room}\"\n    user: \"{user}\"\n    stateFile: state.json\n{extra}",
        s.url
    )
}

/// A room of its own and a bot for one test: (bot id, owner token, room id, room alias).
pub async fn room_for(s: &Synapse, prefix: &str) -> (String, String, String, String) {
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique(prefix);
    let room_id = s.create_room(&owner_token, &alias, false).await;
    (bot, owner_token, room_id, format!("#{alias}:localhost"))
}

/// The state document in a state ConfigMap as the sink writes it: the
/// gzipped compact form under `binaryData` `state.json.gz` (one part).
pub fn config_map_state(cm: &k8s_openapi::api::core::v1::ConfigMap) -> Value {
    use std::io::Read as _;
    let parts: Vec<String> =
        serde_json::from_str(&cm.data.as_ref().expect("data")["parts"]).unwrap();
    assert!(parts.is_empty(), "one part: {parts:?}");
    let bytes = &cm.binary_data.as_ref().expect("binaryData")["state.json.gz"].0;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// The objects of the open findings of a state document, either form
/// (the file's `findings` by identity, the ConfigMap's `groups`), sorted.
pub fn state_objects(state: &Value) -> Vec<String> {
    let mut objects: Vec<String> = match state["findings"].as_object() {
        Some(findings) => findings
            .values()
            .map(|o| o["object"].as_str().unwrap().to_string())
            .collect(),
        None => state["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["o"].as_array().unwrap())
            .map(|o| o.as_str().unwrap().to_string())
            .collect(),
    };
    objects.sort();
    objects
}

/// The name of the full report's file in the room for a run that printed
/// its JSON report: `drift-check-<cluster>-<UTC date it started>.json`.
pub fn report_file(out: &Output) -> String {
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report");
    let started =
        chrono::DateTime::parse_from_rfc3339(report["run"]["started_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    format!(
        "drift-check-{}-{}.json",
        report["run"]["cluster"].as_str().unwrap(),
        started.format("%Y-%m-%d")
    )
}
