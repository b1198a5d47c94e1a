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
//! - `client.rs`: matrix-sdk: login, join, send (encrypted when the room is).

mod client;
mod config;
mod message;
mod sink;
mod state;

pub use config::MatrixConfig;

/// The log filter with matrix-sdk's noise turned down, unless the filter
/// names matrix-sdk itself: it logs expected 404s (unset account data, a plain
/// room's encryption state) at ERROR and a missing key backup at WARN, while
/// the Matrix sink reports real failures itself.
pub fn quiet_dependencies(filter: &str) -> String {
    if filter.contains("matrix_sdk") {
        filter.to_string()
    } else {
        format!("{filter},matrix_sdk::http_client=off,matrix_sdk_crypto::backups=error")
    }
}
