//! The Matrix client: posts one `m.notice` to the configured room with
//! matrix-sdk, encrypted when the room is (never plaintext into an encrypted
//! room), and the full report as a file when the message had to be cut.
//!
//! Login: an access token (`DRIFT_CHECK_MATRIX_TOKEN[_FILE]`), restored on the
//! device it belongs to; or a password (`DRIFT_CHECK_MATRIX_PASSWORD[_FILE]`).
//! With a store directory (`store:`, a PVC in the cluster) the crypto keys —
//! and, for a password login, the session — persist between runs; without
//! one a password login is a fresh device, logged out at the end.
//!
//! Retries: matrix-sdk retries 429 (honouring `retry_after_ms`), 5xx and
//! network errors with exponential backoff up to `retries` attempts per
//! request; the whole delivery is bounded by `timeoutSeconds`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{
    OwnedDeviceId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomAliasId, RoomId, RoomOrAliasId,
};
use matrix_sdk::{Client, Room, RoomState, SessionMeta, SessionTokens};
use tracing::{info, warn};

use super::config::MatrixSettings;
use super::message::Message;
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
        "matrix: the encryption state of room {0} is unknown: not sending, so as never to post plaintext into an encrypted room"
    )]
    EncryptionUnknown(String),
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

/// Posts the message (and the report file when the message was cut).
pub async fn deliver(
    settings: &MatrixSettings,
    message: &Message,
    report_json: &str,
) -> Result<(), MatrixError> {
    let credential = credential()?;
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
            .request_config(
                RequestConfig::new()
                    .timeout(Duration::from_secs(30))
                    .retry_limit(settings.retries)
                    .max_retry_time(Duration::from_secs(30)),
            )
            .build()
            .await
            .map_err(sdk("cannot set up the client"))?;
        built = Some(client.clone());
        post(
            &client,
            settings,
            &credential,
            &store,
            persistent,
            message,
            report_json,
        )
        .await
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

async fn post(
    client: &Client,
    settings: &MatrixSettings,
    credential: &Credential,
    store: &Path,
    persistent: bool,
    message: &Message,
    report_json: &str,
) -> Result<(), MatrixError> {
    login(client, settings, credential, store, persistent).await?;
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .map_err(sdk("initial sync"))?;
    let room = joined_room(client, &settings.room).await?;
    let encryption = room
        .latest_encryption_state()
        .await
        .map_err(sdk("reading the room's encryption state"))?;
    if encryption.is_unknown() {
        return Err(MatrixError::EncryptionUnknown(settings.room.clone()));
    }
    let encrypted = encryption.is_encrypted();
    if encrypted && matches!(credential, Credential::Token(_)) && !persistent {
        return Err(MatrixError::EncryptedNeedsStore(settings.room.clone()));
    }
    info!(room = %settings.room, encrypted, "Posting to Matrix");
    let txn = OwnedTransactionId::from(message.transaction_id.clone());
    room.send(RoomMessageEventContent::notice_html(
        message.body.clone(),
        message.html.clone(),
    ))
    .with_transaction_id(txn)
    .await
    .map_err(sdk("sending the message"))?;
    if message.omitted > 0 {
        let txn = OwnedTransactionId::from(format!("{}-report", message.transaction_id));
        room.send_attachment(
            "drift-check-report.json",
            &mime::APPLICATION_JSON,
            report_json.as_bytes().to_vec(),
            AttachmentConfig::new().txn_id(txn),
        )
        .await
        .map_err(sdk("uploading the full report"))?;
    }
    if encrypted {
        // Room keys and to-device messages go out before the process ends.
        client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .map_err(sdk("final sync"))?;
    }
    info!(room = %settings.room, encrypted, "Posted to Matrix");
    Ok(())
}

async fn login(
    client: &Client,
    settings: &MatrixSettings,
    credential: &Credential,
    store: &Path,
    persistent: bool,
) -> Result<(), MatrixError> {
    let user: OwnedUserId = settings
        .user
        .as_str()
        .try_into()
        .map_err(sdk("the configured user id"))?;
    match credential {
        Credential::Token(token) => {
            let (actual, device) = whoami(&settings.homeserver, token).await?;
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
            let session_file = store.join("drift-check-session.json");
            if persistent && let Ok(bytes) = std::fs::read(&session_file) {
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
            if persistent && let Some(session) = client.matrix_auth().session() {
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

/// Who the token belongs to, and its device: the crypto store is per device.
async fn whoami(
    homeserver: &str,
    token: &Secret,
) -> Result<(OwnedUserId, OwnedDeviceId), MatrixError> {
    #[derive(serde::Deserialize)]
    struct WhoAmI {
        user_id: OwnedUserId,
        device_id: Option<OwnedDeviceId>,
    }
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(sdk("HTTP client"))?
        .get(format!("{homeserver}/_matrix/client/v3/account/whoami"))
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| sdk("whoami")(e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(sdk("whoami")(std::io::Error::other(format!(
            "HTTP {status}: {}",
            text.trim()
        ))));
    }
    let who: WhoAmI = response
        .json()
        .await
        .map_err(|e| sdk("whoami")(e.without_url()))?;
    let device = who.device_id.ok_or_else(|| {
        sdk("whoami")(std::io::Error::other(
            "the access token has no device (an appservice token?): use a user's access token",
        ))
    })?;
    Ok((who.user_id, device))
}

/// The room, joined (by id or alias) when the bot is not in it yet.
async fn joined_room(client: &Client, room: &str) -> Result<Room, MatrixError> {
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
    if let Some(r) = client.get_room(&room_id)
        && r.state() == RoomState::Joined
    {
        return Ok(r);
    }
    let target = <&RoomOrAliasId>::try_from(room).map_err(sdk("the room"))?;
    info!(room, "Joining the Matrix room");
    client
        .join_room_by_id_or_alias(target, &[])
        .await
        .map_err(sdk("joining the room"))?;
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .map_err(sdk("sync after joining"))?;
    client
        .get_room(&room_id)
        .filter(|r| r.state() == RoomState::Joined)
        .ok_or_else(|| sdk("joining the room")(std::io::Error::other("not joined after the join")))
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
