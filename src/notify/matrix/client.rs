//! The Matrix client: posts one `m.notice` to the configured room with
//! matrix-sdk, encrypted when the room is (never plaintext into an encrypted
//! room), the full report as a file when the message had to be cut, and the
//! HTML page of the report with every post; then the replies in the
//! threads of earlier messages (`m.thread`).
//!
//! Login: an access token (`DRIFT_CHECK_MATRIX_TOKEN[_FILE]`), restored on the
//! device it belongs to; or a password (`DRIFT_CHECK_MATRIX_PASSWORD[_FILE]`).
//! With a store directory (`store:`, a PVC in the cluster) the crypto keys —
//! and, for a password login, the session — persist between runs; without
//! one a password login is a fresh device, logged out at the end.
//!
//! A plain room is posted to with plain requests (join, read the room's
//! `m.room.encryption` state, send, upload): no sync, so matrix-sdk's
//! end-to-end-encryption machinery never uploads keys for the device. Without
//! a store those keys would be new ones on every run for the same device
//! (the access token's), which the homeserver refuses ("One time key …
//! already exists") and which other members' clients would see as a device
//! whose identity changed. An encrypted room is synced (state only, no
//! timeline) and posted to through matrix-sdk's encryption.
//!
//! Retries: the sinks' one policy (`notify/retry.rs`) for every call
//! (`retry.rs` hands it to matrix-sdk), bounded by `timeoutSeconds`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::filter::{FilterDefinition, RoomEventFilter};
use matrix_sdk::ruma::api::client::membership::{join_room_by_id_or_alias, joined_rooms};
use matrix_sdk::ruma::api::client::message::send_message_event;
use matrix_sdk::ruma::api::client::state::get_state_event_for_key;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{
    FileInfo, FileMessageEventContent, MessageType, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{
    OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomAliasId, RoomId,
    RoomOrAliasId, UInt,
};
use matrix_sdk::{Client, RoomState, SessionMeta, SessionTokens};
use tracing::{info, warn};

use super::config::MatrixSettings;
use super::message::{Message, Reply};
use super::retry::request_config;
use crate::notify::retry::RetryPolicy;
use crate::notify::secrets::{self, Secret, SecretError};

/// The Matrix sink failed.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// A credential variable is set badly.
    #[error("matrix credentials")]
    Secret(#[from] SecretError),
    /// Neither a token nor a password is set.
    #[error(
        "matrix credentials: set DRIFT_CHECK_MATRIX_TOKEN (or DRIFT_CHECK_MATRIX_TOKEN_FILE) or DRIFT_CHECK_MATRIX_PASSWORD (or DRIFT_CHECK_MATRIX_PASSWORD_FILE)"
    )]
    NoCredentials,
    /// A step against the homeserver failed, retries included.
    #[error("matrix: {step}")]
    Sdk {
        step: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The access token belongs to another user than the configured one.
    #[error(
        "matrix: the access token belongs to {actual}, not to the configured user {configured}"
    )]
    WrongUser { actual: String, configured: String },
    /// The room's encryption state could not be learnt: refusing to risk plaintext.
    #[error(
        "matrix: the encryption state of room {room} is unknown: not sending, so as never to post plaintext into an encrypted room"
    )]
    EncryptionUnknown {
        room: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An encrypted room with an access token but no persistent store.
    #[error(
        "matrix: room {0} is encrypted: with an access token, set `notify.matrix.store` to a persistent directory (the device's keys live there), or log in with a password (a fresh device per run, logged out at the end)"
    )]
    EncryptedNeedsStore(String),
    /// The store directory or its session file cannot be used.
    #[error("matrix store {}", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The delivery took longer than `timeoutSeconds`.
    #[error("matrix: gave up after {0:?} (timeoutSeconds)")]
    Timeout(Duration),
}

fn sdk<E: std::error::Error + Send + Sync + 'static>(
    step: &'static str,
) -> impl FnOnce(E) -> MatrixError {
    move |e| MatrixError::Sdk {
        step,
        source: Box::new(e),
    }
}

enum Credential {
    Token(Secret),
    Password(Secret),
}

fn credential() -> Result<Credential, MatrixError> {
    if let Some(token) = secrets::from_env("DRIFT_CHECK_MATRIX_TOKEN")? {
        return Ok(Credential::Token(token));
    }
    if let Some(password) = secrets::from_env("DRIFT_CHECK_MATRIX_PASSWORD")? {
        return Ok(Credential::Password(password));
    }
    Err(MatrixError::NoCredentials)
}

/// Posts the message (and the report file when the message was cut), then
/// the page, then the replies in threads. Returns the message's event id.
pub async fn deliver(
    settings: &MatrixSettings,
    message: &Message,
    replies: &[Reply],
    report: Attachment,
    page: &Attachment,
) -> Result<OwnedEventId, MatrixError> {
    let credential = credential()?;
    let policy = RetryPolicy::within(settings.retries, settings.timeout);
    let _temp;
    let (store, persistent) = match &settings.store {
        Some(dir) => (dir.clone(), true),
        None => {
            _temp = TempStore::new()?;
            (_temp.0.clone(), false)
        }
    };
    let ephemeral = !persistent && matches!(credential, Credential::Password(_));
    // Everything, building the client included (it asks the server for its
    // versions), runs within the timeout; the logout after it has its own.
    let mut built: Option<Client> = None;
    let result = tokio::time::timeout(settings.timeout, async {
        let client = Client::builder()
            .homeserver_url(&settings.homeserver)
            .sqlite_store(&store, None)
            .request_config(request_config(&policy))
            .build()
            .await
            .map_err(sdk("cannot set up the client"))?;
        built = Some(client.clone());
        let login = Login {
            credential: &credential,
            store: &store,
            persistent,
            policy: &policy,
        };
        post(&client, settings, &login, message, replies, report, page).await
    })
    .await
    .unwrap_or(Err(MatrixError::Timeout(settings.timeout)));
    if let Some(client) = built.filter(|c| ephemeral && c.matrix_auth().logged_in()) {
        // Without a persistent store every run is a new device: log it out so they do not pile up.
        match tokio::time::timeout(Duration::from_secs(15), client.logout()).await {
            Ok(Ok(())) => info!("Logged the Matrix device out"),
            Ok(Err(e)) => warn!(error = %e, "Could not log the Matrix device out"),
            Err(_) => warn!("Could not log the Matrix device out: timed out"),
        }
    }
    result
}

/// How to log in: the credential, the store and the retry policy.
struct Login<'a> {
    credential: &'a Credential,
    store: &'a Path,
    persistent: bool,
    policy: &'a RetryPolicy,
}

async fn post(
    client: &Client,
    settings: &MatrixSettings,
    login_with: &Login<'_>,
    message: &Message,
    replies: &[Reply],
    report: Attachment,
    page: &Attachment,
) -> Result<OwnedEventId, MatrixError> {
    login(client, settings, login_with).await?;
    let room_id = join(client, &settings.room).await?;
    let encrypted =
        is_encrypted(client, &room_id)
            .await
            .map_err(|source| MatrixError::EncryptionUnknown {
                room: settings.room.clone(),
                source: Box::new(source),
            })?;
    if encrypted && matches!(login_with.credential, Credential::Token(_)) && !login_with.persistent
    {
        return Err(MatrixError::EncryptedNeedsStore(settings.room.clone()));
    }
    info!(room = %settings.room, encrypted, "Posting to Matrix");
    let event = if encrypted {
        post_encrypted(client, &room_id, message, replies, report, page).await?
    } else {
        let event = post_plain(client, &room_id, login_with.policy, message, report).await?;
        send_file_plain(client, &room_id, login_with.policy, message, page).await?;
        for (i, reply) in replies.iter().enumerate() {
            let content = thread_reply(reply)?;
            let txn = OwnedTransactionId::from(format!("{}-thread-{i}", message.transaction_id));
            let request = send_message_event::v3::Request::new(room_id.clone(), txn, &content)
                .map_err(sdk("a thread reply"))?;
            client
                .send(request)
                .await
                .map_err(sdk("sending a thread reply"))?;
        }
        event
    };
    info!(room = %settings.room, encrypted, event = %event, replies = replies.len(), "Posted to Matrix");
    Ok(event)
}

/// A reply in the thread of `reply.root` (`m.relates_to` with `rel_type:
/// m.thread`; clients without threads show it as a reply to the root).
fn thread_reply(reply: &Reply) -> Result<RoomMessageEventContent, MatrixError> {
    let root =
        OwnedEventId::try_from(reply.root.as_str()).map_err(sdk("a thread's root event id"))?;
    let mut content = RoomMessageEventContent::notice_html(reply.body.clone(), reply.html.clone());
    content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root)));
    Ok(content)
}

/// Reports larger than this go to the room gzipped (Synapse refuses
/// uploads over 50 MiB by default; 100,000 findings are some 75 MiB of JSON).
const GZIP_OVER_BYTES: usize = 4 << 20;

/// A file for the room: the full report (`drift-check-<cluster>-<UTC date
/// of the run>.json`, gzipped as `.json.gz` when large) or its HTML page
/// (`… .html`).
pub struct Attachment {
    pub name: String,
    mime: mime::Mime,
    bytes: Vec<u8>,
}

impl Attachment {
    /// `drift-check-<cluster>-<UTC date of the run>.<extension>`, the
    /// cluster's name kept to characters safe in a file name.
    fn name(report: &crate::report::Report, extension: &str) -> String {
        let date = chrono::DateTime::parse_from_rfc3339(&report.run.started_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| chrono::Utc::now())
            .format("%Y-%m-%d");
        let cluster: String = report
            .run
            .cluster
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("drift-check-{cluster}-{date}.{extension}")
    }

    /// The report's HTML page (`html`) as the file to attach.
    pub fn page(report: &crate::report::Report, html: String) -> Self {
        Self::page_named(Self::name(report, "html"), html)
    }

    /// An HTML page as the file `name`.
    pub fn page_named(name: String, html: String) -> Self {
        Self {
            name,
            mime: mime::TEXT_HTML_UTF_8,
            bytes: html.into_bytes(),
        }
    }

    /// The report's JSON (`json`) as the file to attach.
    pub fn of(report: &crate::report::Report, json: &str) -> Self {
        Self::json(Self::name(report, "json"), json)
    }

    /// A JSON document as the file `name` (gzipped as `name.gz` when large).
    pub fn json(name: String, json: &str) -> Self {
        use std::io::Write as _;
        if json.len() <= GZIP_OVER_BYTES {
            return Self {
                name,
                mime: mime::APPLICATION_JSON,
                bytes: json.as_bytes().to_vec(),
            };
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).expect("writes to memory");
        Self {
            name: format!("{name}.gz"),
            mime: "application/gzip".parse().expect("a MIME type"),
            bytes: gz.finish().expect("writes to memory"),
        }
    }
}

/// A plain room: plain requests, no sync (nothing for the encryption
/// machinery to upload). The transaction ids make a retry idempotent.
async fn post_plain(
    client: &Client,
    room_id: &RoomId,
    policy: &RetryPolicy,
    message: &Message,
    report: Attachment,
) -> Result<OwnedEventId, MatrixError> {
    let notice = RoomMessageEventContent::notice_html(message.body.clone(), message.html.clone());
    let txn = OwnedTransactionId::from(message.transaction_id.clone());
    let request = send_message_event::v3::Request::new(room_id.to_owned(), txn, &notice)
        .map_err(sdk("the message"))?;
    let event = client
        .send(request)
        .await
        .map_err(sdk("sending the message"))?
        .event_id;
    if message.omitted > 0 {
        let size = UInt::try_from(report.bytes.len()).ok();
        let uploaded = client
            .media()
            .upload(&report.mime, report.bytes, Some(request_config(policy)))
            .await
            .map_err(sdk("uploading the full report"))?;
        let mut info = FileInfo::new();
        info.mimetype = Some(report.mime.to_string());
        info.size = size;
        let file =
            FileMessageEventContent::plain(report.name, uploaded.content_uri).info(Box::new(info));
        let content = RoomMessageEventContent::new(MessageType::File(file));
        let txn = OwnedTransactionId::from(format!("{}-report", message.transaction_id));
        let request = send_message_event::v3::Request::new(room_id.to_owned(), txn, &content)
            .map_err(sdk("the report file's event"))?;
        client
            .send(request)
            .await
            .map_err(sdk("sending the full report"))?;
    }
    Ok(event)
}

/// A file into a plain room: uploaded, then its event (transaction id: the
/// message's with `-page`, so a retry posts it once).
async fn send_file_plain(
    client: &Client,
    room_id: &RoomId,
    policy: &RetryPolicy,
    message: &Message,
    file: &Attachment,
) -> Result<(), MatrixError> {
    let uploaded = client
        .media()
        .upload(&file.mime, file.bytes.clone(), Some(request_config(policy)))
        .await
        .map_err(sdk("uploading the HTML report"))?;
    let mut info = FileInfo::new();
    info.mimetype = Some(file.mime.to_string());
    info.size = UInt::try_from(file.bytes.len()).ok();
    let content = FileMessageEventContent::plain(file.name.clone(), uploaded.content_uri)
        .info(Box::new(info));
    let content = RoomMessageEventContent::new(MessageType::File(content));
    let txn = OwnedTransactionId::from(format!("{}-page", message.transaction_id));
    let request = send_message_event::v3::Request::new(room_id.to_owned(), txn, &content)
        .map_err(sdk("the HTML report's event"))?;
    client
        .send(request)
        .await
        .map_err(sdk("sending the HTML report"))?;
    Ok(())
}

/// An encrypted room: synced (its state, no timeline: the bot reads nothing)
/// and posted to through matrix-sdk's encryption, then synced once more so
/// the room keys and to-device messages go out before the process ends.
async fn post_encrypted(
    client: &Client,
    room_id: &RoomId,
    message: &Message,
    replies: &[Reply],
    report: Attachment,
    page: &Attachment,
) -> Result<OwnedEventId, MatrixError> {
    let sync = SyncSettings::default()
        .timeout(Duration::ZERO)
        .filter(Filter::FilterDefinition(state_only(room_id)));
    client
        .sync_once(sync.clone())
        .await
        .map_err(sdk("initial sync"))?;
    let room = client
        .get_room(room_id)
        .filter(|r| r.state() == RoomState::Joined)
        .ok_or_else(|| {
            sdk("syncing the room")(std::io::Error::other("joined, but not in the sync"))
        })?;
    let txn = OwnedTransactionId::from(message.transaction_id.clone());
    let event = room
        .send(RoomMessageEventContent::notice_html(
            message.body.clone(),
            message.html.clone(),
        ))
        .with_transaction_id(txn)
        .await
        .map_err(sdk("sending the message"))?
        .response
        .event_id;
    if message.omitted > 0 {
        let txn = OwnedTransactionId::from(format!("{}-report", message.transaction_id));
        room.send_attachment(
            &report.name,
            &report.mime,
            report.bytes,
            AttachmentConfig::new().txn_id(txn),
        )
        .await
        .map_err(sdk("uploading the full report"))?;
    }
    let txn = OwnedTransactionId::from(format!("{}-page", message.transaction_id));
    room.send_attachment(
        &page.name,
        &page.mime,
        page.bytes.clone(),
        AttachmentConfig::new().txn_id(txn),
    )
    .await
    .map_err(sdk("uploading the HTML report"))?;
    for (i, reply) in replies.iter().enumerate() {
        let txn = OwnedTransactionId::from(format!("{}-thread-{i}", message.transaction_id));
        room.send(thread_reply(reply)?)
            .with_transaction_id(txn)
            .await
            .map_err(sdk("sending a thread reply"))?;
    }
    client.sync_once(sync).await.map_err(sdk("final sync"))?;
    Ok(event)
}

/// A sync of one room's state and of the device's to-device messages and
/// key changes: no timeline (the bot would only fail to decrypt what was
/// said before it joined, or by devices that never shared keys with it), no
/// presence, no account data.
fn state_only(room_id: &RoomId) -> FilterDefinition {
    let mut filter = FilterDefinition::default();
    filter.room.rooms = Some(vec![room_id.to_owned()]);
    filter.room.timeline = RoomEventFilter::ignore_all();
    filter.room.ephemeral = RoomEventFilter::ignore_all();
    filter.room.account_data = RoomEventFilter::ignore_all();
    filter.presence = matrix_sdk::ruma::api::client::filter::Filter::ignore_all();
    filter.account_data = matrix_sdk::ruma::api::client::filter::Filter::ignore_all();
    filter
}

/// Whether the room has an `m.room.encryption` state event (a 404 says it
/// has none). Any other answer is an error: never guess "plain".
async fn is_encrypted(client: &Client, room_id: &RoomId) -> Result<bool, matrix_sdk::HttpError> {
    let request = get_state_event_for_key::v3::Request::new(
        room_id.to_owned(),
        StateEventType::RoomEncryption,
        String::new(),
    );
    match client.send(request).await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_client_api_error()
                .is_some_and(|e| e.status_code == 404) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

async fn login(
    client: &Client,
    settings: &MatrixSettings,
    with: &Login<'_>,
) -> Result<(), MatrixError> {
    let user: OwnedUserId = settings
        .user
        .as_str()
        .try_into()
        .map_err(sdk("the configured user id"))?;
    match with.credential {
        Credential::Token(token) => {
            let (actual, device) = whoami(with.policy, &settings.homeserver, token).await?;
            if actual != user {
                return Err(MatrixError::WrongUser {
                    actual: actual.to_string(),
                    configured: settings.user.clone(),
                });
            }
            client
                .restore_session(MatrixSession {
                    meta: SessionMeta {
                        user_id: actual,
                        device_id: device,
                    },
                    tokens: SessionTokens {
                        access_token: token.expose().to_string(),
                        refresh_token: None,
                    },
                })
                .await
                .map_err(sdk("restoring the session"))
        }
        Credential::Password(password) => {
            let session_file = with.store.join("drift-check-session.json");
            if with.persistent
                && let Ok(bytes) = std::fs::read(&session_file)
            {
                let session: MatrixSession =
                    serde_json::from_slice(&bytes).map_err(|e| MatrixError::Store {
                        path: session_file.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    })?;
                return client
                    .restore_session(session)
                    .await
                    .map_err(sdk("restoring the saved session"));
            }
            client
                .matrix_auth()
                .login_username(&user, password.expose())
                .initial_device_display_name("drift-check")
                .send()
                .await
                .map_err(sdk("logging in"))?;
            if with.persistent
                && let Some(session) = client.matrix_auth().session()
            {
                save_session(&session_file, &session)?;
            }
            Ok(())
        }
    }
}

/// The session holds the access token: the file is readable by its owner only.
fn save_session(path: &Path, session: &MatrixSession) -> Result<(), MatrixError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| MatrixError::Store {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec(session).expect("a session serializes");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(&json).map_err(err)
}

/// Who the token belongs to, and its device: the crypto store is per
/// device. The one call before matrix-sdk has a session, so it goes through
/// the retry policy by hand.
async fn whoami(
    policy: &RetryPolicy,
    homeserver: &str,
    token: &Secret,
) -> Result<(OwnedUserId, OwnedDeviceId), MatrixError> {
    #[derive(serde::Deserialize)]
    struct WhoAmI {
        user_id: OwnedUserId,
        device_id: Option<OwnedDeviceId>,
    }
    let http = reqwest::Client::builder()
        .build()
        .map_err(sdk("HTTP client"))?;
    let url = format!("{homeserver}/_matrix/client/v3/account/whoami");
    let shown = crate::redact::url(&url);
    let answer = policy
        .send("Matrix whoami", &shown, || {
            http.get(&url).bearer_auth(token.expose())
        })
        .await
        .answer
        .map_err(sdk("whoami"))?;
    if !answer.status.is_success() {
        return Err(sdk("whoami")(std::io::Error::other(format!(
            "HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim()
        ))));
    }
    let who: WhoAmI = serde_json::from_slice(&answer.body).map_err(sdk("whoami"))?;
    let device = who.device_id.ok_or_else(|| {
        sdk("whoami")(std::io::Error::other(
            "the access token has no device (an appservice token?): use a user's access token",
        ))
    })?;
    Ok((who.user_id, device))
}

/// The room's id, joined (by id or alias) when the bot is not in it yet.
/// Plain requests: the encryption machinery stays out of a plain room.
async fn join(client: &Client, room: &str) -> Result<OwnedRoomId, MatrixError> {
    let room_id: OwnedRoomId = match <&RoomId>::try_from(room) {
        Ok(id) => id.to_owned(),
        Err(_) => {
            let alias = <&RoomAliasId>::try_from(room).map_err(sdk("the room alias"))?;
            client
                .resolve_room_alias(alias)
                .await
                .map_err(sdk("resolving the room alias"))?
                .room_id
        }
    };
    let joined = client
        .send(joined_rooms::v3::Request::new())
        .await
        .map_err(sdk("listing the joined rooms"))?
        .joined_rooms;
    if !joined.contains(&room_id) {
        let target = <&RoomOrAliasId>::try_from(room).map_err(sdk("the room"))?;
        info!(room, "Joining the Matrix room");
        client
            .send(join_room_by_id_or_alias::v3::Request::new(
                target.to_owned(),
            ))
            .await
            .map_err(sdk("joining the room"))?;
    }
    Ok(room_id)
}

/// A store directory for one run, removed at the end.
struct TempStore(PathBuf);

impl TempStore {
    fn new() -> Result<Self, MatrixError> {
        let path =
            std::env::temp_dir().join(format!("drift-check-matrix-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).map_err(|source| MatrixError::Store {
            path: path.clone(),
            source,
        })?;
        Ok(Self(path))
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
