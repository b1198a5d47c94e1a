//! The Matrix sink (`notify.matrix:`): one `m.notice` per run with the
//! unexplained findings that are new or changed, those still open and those
//! resolved since the last post, what could not be checked, suspended and
//! failing Kustomizations; nothing when nothing changed (or a daily digest).
//! Input: the report and the state of the last post; output: the message in
//! the room and the new state.
//!
//! - `config.rs`: the section and its validation;
//! - `sink.rs`: the [`Notifier`](super::Notifier): state, plan, post, save;
//! - `fleet.rs`: one message for a fleet run, the state kept per cluster;
//! - `message/`: what to post (pure): the message, and the replies in the
//!   threads of earlier ones;
//! - `state.rs`: what was posted last, in a file or a ConfigMap;
//! - `client.rs`: matrix-sdk: login, join, send (encrypted when the room is);
//! - `retry.rs`: the one retry policy of every Matrix call.

mod client;
mod config;
mod fleet;
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

/// One run's work on a state of the compact form, without I/O: decode it
/// (empty bytes: no state yet), plan the message of `report` against it,
/// name `event` as the message that announced what is new, encode the next
/// state. Returns the next state's bytes and the message's plain body
/// (`None`: nothing to post). For `bench/src/state.rs`.
#[doc(hidden)]
pub fn state_round(
    report: &crate::report::Report,
    stored: &[u8],
    now: &str,
    event: &str,
) -> (Vec<u8>, Option<String>) {
    let previous = if stored.is_empty() {
        state::State::default()
    } else {
        state::decode(stored).expect("a compact state")
    };
    let options = message::Options {
        daily_digest: false,
        max_bytes: config::MAX_MESSAGE_BYTES,
        links: message::LinkTemplates::default(),
        note: None,
        report_file: String::new(),
        remind_after: Some(chrono::Duration::days(7)),
        thread_window: chrono::Duration::days(7),
    };
    let mut plan = message::plan(report, &previous, now, &options);
    plan.next.announced_in(event);
    (state::encode(&plan.next), plan.message.map(|m| m.body))
}
