//! The Matrix sink (`notify.matrix:`): one `m.notice` per run with the
//! unexplained findings that are new or changed, those still open and those
//! resolved since the last post, what could not be checked, suspended and
//! failing Kustomizations; nothing when nothing changed (or a daily digest).
//! Input: the report and the state of the last post; output: the message in
//! the room and the new state.
//!
//! - `config.rs`: the section and its validation;
//! - `sink.rs`: the [`Notifier`](super::Notifier): state, plan, post, save;
//! - `message/`: what to post (pure);
//! - `state.rs`: what was posted last, in a file or a ConfigMap;
//! - `client.rs`: matrix-sdk: login, join, send (encrypted when the room is);
//! - `retry.rs`: the one retry policy of every Matrix call.

mod client;
mod config;
mod message;
mod retry;
mod sink;
mod state;

pub use config::MatrixConfig;

/// The log filter with matrix-sdk's noise turned down, unless the filter
/// names matrix-sdk itself. Both are cosmetic, not symptoms (the causes of
/// real warnings are fixed in `client.rs`, and a test asserts a run logs no
/// WARN or ERROR line):
/// - `matrix_sdk::http_client` logs every request that did not succeed at
///   ERROR, retries exhausted or not, including the 404s that are answers:
///   no `m.room.encryption` state (a plain room), unset account data (its
///   recovery and backup set-up look for secret storage). The sink reports a
///   real failure itself, with the step and the cause.
/// - `matrix_sdk_crypto::backups` warns "no backup key was found" whenever it
///   makes a room key: the bot has no server-side key backup on purpose (its
///   keys only encrypt what it posts).
pub fn quiet_dependencies(filter: &str) -> String {
    if filter.contains("matrix_sdk") {
        filter.to_string()
    } else {
        format!("{filter},matrix_sdk::http_client=off,matrix_sdk_crypto::backups=error")
    }
}
