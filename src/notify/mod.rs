//! Stage `notify`: the report of a run to the configured sinks.
//!
//! Input: a [`Report`] and the sink settings. Output: per sink, delivered or
//! the error why not. Each sink fails on its own; the report itself is
//! printed by the caller before any sink runs, so it is never lost.
//!
//! - Matrix: one `m.notice` with the unexplained findings that are new, the
//!   count of those still open and the ones resolved since the last post;
//!   nothing when nothing changed (or a daily digest). See `matrix.rs`.
//! - Pushgateway: the metrics of ARCHITECTURE.md, job `drift_check`,
//!   grouping key `cluster`. See `pushgateway.rs`.
//!
//! Configuration (the config file's `notify:`; secrets only from the environment):
//!
//! ```yaml
//! notify:
//!   matrix:
//!     homeserver: https://matrix.example.org
//!     room: "#platform-alerts:example.org"   # or "!roomid:example.org"; joined if needed
//!     user: "@drift-check:example.org"
//!     store: /var/lib/drift-check/matrix     # sqlite crypto store + session: a PVC in the cluster
//!     stateFile: drift-check-matrix-state.json
//!     dailyDigest: false                     # repost open findings once a day when nothing changed
//!     maxMessageBytes: 24576                 # 2048..60000; beyond, "and N more" + the JSON report as a file
//!     timeoutSeconds: 120                    # the whole delivery, retries included
//!     retries: 5                             # attempts per request on 429 / 5xx / network errors
//!   pushgateway:
//!     url: http://pushgateway.monitoring:9091
//!     timeoutSeconds: 10                     # per request
//!     retries: 3
//! ```
//!
//! Environment: `DRIFT_CHECK_MATRIX_TOKEN` or `DRIFT_CHECK_MATRIX_PASSWORD`;
//! `DRIFT_CHECK_PUSHGATEWAY_TOKEN` (bearer) or `DRIFT_CHECK_PUSHGATEWAY_USERNAME`
//! and `DRIFT_CHECK_PUSHGATEWAY_PASSWORD`. Each also as `NAME_FILE` (a path,
//! e.g. a mounted Secret); setting both forms is an error.
//!
//! Retries of the same run post the same transaction id, which the homeserver
//! deduplicates per device: use an access token, or a password with `store:`,
//! for that guarantee (a password without a store is a new device each run).

pub mod config;
mod matrix;
mod message;
mod metrics;
mod pushgateway;
mod secrets;
mod state;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{error, info};

pub use config::{NotifyConfig, NotifySettings};
use state::{FileStore, StateStore};

use crate::report::Report;

/// What became of one sink.
#[derive(Debug)]
pub struct SinkResult {
    /// `matrix` or `pushgateway`.
    pub sink: &'static str,
    /// `None` when the sink got the result.
    pub error: Option<String>,
}

/// Sends the report to every configured sink; `duration` is how long the check took.
pub async fn notify(
    settings: &NotifySettings,
    report: &Report,
    duration: Duration,
) -> Vec<SinkResult> {
    // Independent: a slow homeserver does not hold the metrics back.
    let matrix = async {
        let matrix = settings.matrix.as_ref()?;
        let store = FileStore {
            path: matrix.state_file.clone(),
        };
        let error = to_matrix(matrix, &store, report).await.err();
        Some(SinkResult {
            sink: "matrix",
            error,
        })
    };
    let pushgateway = async {
        let pushgateway = settings.pushgateway.as_ref()?;
        let error = to_pushgateway(pushgateway, report, duration).await.err();
        Some(SinkResult {
            sink: "pushgateway",
            error,
        })
    };
    let (matrix, pushgateway) = tokio::join!(matrix, pushgateway);
    let results: Vec<SinkResult> = [matrix, pushgateway].into_iter().flatten().collect();
    for r in &results {
        match &r.error {
            None => info!(sink = r.sink, "Delivered"),
            Some(e) => error!(sink = r.sink, error = %e, "Sink failed"),
        }
    }
    results
}

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

/// `run`'s exit code: 0 the run completed and every sink got it, 2 something
/// could not be checked, 3 the check completed but a sink failed.
pub fn exit_code(report: &Report, sinks: &[SinkResult]) -> u8 {
    if !report.errors.is_empty() {
        2
    } else if sinks.iter().any(|s| s.error.is_some()) {
        3
    } else {
        0
    }
}

async fn to_matrix<S: StateStore>(
    settings: &config::MatrixSettings,
    store: &S,
    report: &Report,
) -> Result<(), String> {
    let previous = store.load().await.map_err(|e| chain(&e))?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let plan = message::plan(
        report,
        &previous,
        &now,
        settings.daily_digest,
        settings.max_message_bytes,
    );
    let Some(message) = &plan.message else {
        info!(
            sink = "matrix",
            "Nothing changed since the last post: not posting"
        );
        return Ok(());
    };
    let json = report.render(crate::report::Format::Json);
    matrix::deliver(settings, message, &json)
        .await
        .map_err(|e| chain(&e))?;
    store.save(&plan.next).await.map_err(|e| chain(&e))
}

async fn to_pushgateway(
    settings: &config::PushgatewaySettings,
    report: &Report,
    duration: Duration,
) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64().floor());
    let duration = (duration.as_secs_f64() * 1000.0).round() / 1000.0;
    let completed = report.errors.is_empty();
    let body = if completed {
        metrics::success(report, now, duration)
    } else {
        metrics::failure(report, now, duration)
    };
    pushgateway::push(settings, &report.run.cluster, body, completed)
        .await
        .map_err(|e| chain(&e))
}

/// An error and its causes on one line, each once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
