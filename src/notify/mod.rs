//! Stage `notify`: the report of a run to the configured sinks.
//!
//! Input: a [`Report`] and the sink settings ([`NotifySettings`], validated
//! from the config file's `notify:` by [`NotifyConfig::validate`]). Output:
//! per sink, a [`SinkResult`]: delivered, or the error why not. Each sink
//! fails on its own; the report itself is printed by the caller before any
//! sink runs, so it is never lost.
//!
//! Every sink is one folder, `notify/<name>/`: `config.rs` (the raw
//! `notify.<name>:` section and its pure `validate()` into settings, see
//! [`config::SinkConfig`]) and `sink.rs` (the settings' [`Notifier`]). The
//! list of sinks is the `sinks!` call below: adding a sink is a new folder
//! and one line there.
//!
//! - `matrix`: one `m.notice` with the unexplained findings that are new or
//!   changed, those still open (by name) and the ones resolved since the last
//!   post, what could not be checked, suspended and failing Kustomizations;
//!   nothing when nothing changed (or a daily digest).
//! - `pushgateway`: the metrics of ARCHITECTURE.md, job `drift_check`,
//!   grouping key `cluster`.
//! - `webhook`: the JSON report (`drift-check/v1`) POSTed to a URL.
//!
//! Configuration (the config file's `notify:`; secrets only from the
//! environment or files):
//!
//! ```yaml
//! notify:
//!   matrix:
//!     homeserver: https://matrix.example.org
//!     room: "#platform-alerts:example.org"   # or "!roomid:example.org"; joined if needed
//!     user: "@drift-check:example.org"
//!     store: /var/lib/drift-check/matrix     # sqlite crypto store + session: a PVC in the cluster
//!     stateFile: drift-check-matrix-state.json  # manual runs; in a pod the default is
//!     # stateConfigMap: drift-check-state      #   this ConfigMap of the pod's namespace
//!     dailyDigest: false                     # repost open findings once a day when nothing changed
//!     remindAfter: 7d                        # repost a finding still open, once per period (default: never)
//!     threadWindow: 7d                       # changed/resolved also in the announcing message's thread (0: off)
//!     maxMessageBytes: 24576                 # 2048..45000; beyond, "and N more" + the JSON report as a file
//!     timeoutSeconds: 120                    # the whole delivery, retries included
//!     retries: 5                             # attempts per request on 429 / 5xx / network errors
//!     links:                                 # default: from the repo URL (GitHub, GitLab, Gitea/Forgejo)
//!       commit: https://git.example.com/org/infra/src/commit/{sha}
//!       file: https://git.example.com/org/infra/src/commit/{sha}/{path}
//!   pushgateway:
//!     url: http://pushgateway.monitoring:9091
//!     timeoutSeconds: 10                     # per request
//!     retries: 3
//!   webhook:
//!     url: https://hooks.example.org/drift-check   # no user:password@; a query is never logged
//!     headers: {X-Team: platform}            # not secrets: Authorization comes from bearerTokenFile
//!     bearerTokenFile: /etc/drift-check/webhook/token
//!     timeoutSeconds: 10                     # per request
//!     retries: 3                             # attempts on 429 / 5xx / network errors / timeouts
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
mod fleet;
mod matrix;
mod pushgateway;
pub mod retry;
mod secrets;
mod webhook;

use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use tracing::{error, info};

pub use config::NotifyConfigError;
use config::SinkConfig;
pub use fleet::{FleetDelivery, fleet_exit_code, notify_fleet};
pub use matrix::{quiet_dependencies, state_round};

use crate::k8s::client::ClusterOptions;
use crate::report::Report;

/// What every sink is handed: the run's report and its context.
pub struct Delivery<'a> {
    /// The report, as printed (Secret values already masked).
    pub report: &'a Report,
    /// How long the check took.
    pub duration: Duration,
    /// How to reach the cluster, for a sink that keeps state there.
    pub cluster: &'a ClusterOptions,
}

/// Why a sink did not get the result: its own error type, boxed.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// A sink: validated settings that can send a run somewhere.
///
/// Object-safe (a boxed future rather than `async fn`) so that the
/// configured sinks are one list of `&dyn Notifier`.
pub trait Notifier: Send + Sync {
    /// Sends the run, retries included; `Err` when the sink did not get it.
    fn send<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), SinkError>>;

    /// Sends a fleet's run: by default each cluster's report in turn, as
    /// [`Notifier::send`] sends one (a sink with one message for the fleet,
    /// or state across clusters, does its own).
    fn send_fleet<'a>(
        &'a self,
        fleet: &'a FleetDelivery<'a>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(fleet::each_cluster(self, fleet))
    }
}

/// What became of one sink.
#[derive(Debug)]
pub struct SinkResult {
    /// The sink's key under `notify:`, e.g. `matrix`.
    pub sink: &'static str,
    /// `None` when the sink got the result; else the error chain on one line.
    pub error: Option<String>,
}

/// Declares the sinks: for each, its key under `notify:` and its raw
/// config type (a [`SinkConfig`] whose settings are a [`Notifier`]).
/// Generates [`NotifyConfig`], [`NotifySettings`], the validation of one into
/// the other, and the list of configured sinks.
macro_rules! sinks {
    ($($(#[doc = $doc:literal])* $name:ident: $config:ty,)*) => {
        /// `notify:` in the config file: one optional section per sink.
        #[derive(Clone, Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct NotifyConfig {
            $($(#[doc = $doc])* pub $name: Option<$config>,)*
        }

        /// Validated sink settings: the sinks configured.
        #[derive(Clone, Debug, Default)]
        pub struct NotifySettings {
            $(pub $name: Option<<$config as SinkConfig>::Settings>,)*
        }

        impl NotifyConfig {
            /// Validates every section; relative paths are relative to `base`
            /// (the config file's directory).
            pub fn validate(&self, base: &Path) -> Result<NotifySettings, NotifyConfigError> {
                Ok(NotifySettings {
                    $($name: self.$name.as_ref().map(|c| c.validate(base)).transpose()?,)*
                })
            }
        }

        impl NotifySettings {
            /// The configured sinks, by key, in the order of the list.
            pub(crate) fn sinks(&self) -> Vec<(&'static str, &dyn Notifier)> {
                let mut sinks: Vec<(&'static str, &dyn Notifier)> = Vec::new();
                $(if let Some(settings) = &self.$name {
                    sinks.push((stringify!($name), settings));
                })*
                sinks
            }
        }
    };
}

sinks! {
    /// Post unexplained drift to a Matrix room.
    matrix: matrix::MatrixConfig,
    /// Push the run's metrics to a Prometheus pushgateway.
    pushgateway: pushgateway::PushgatewayConfig,
    /// POST the JSON report to an HTTP endpoint.
    webhook: webhook::WebhookConfig,
}

/// Sends the report to every configured sink, all at once (a slow homeserver
/// does not hold the metrics back); `duration` is how long the check took;
/// `cluster` reaches the cluster, for the Matrix state ConfigMap.
pub async fn notify(
    settings: &NotifySettings,
    cluster: &ClusterOptions,
    report: &Report,
    duration: Duration,
) -> Vec<SinkResult> {
    let delivery = Delivery {
        report,
        duration,
        cluster,
    };
    to_every_sink(settings, |notifier| notifier.send(&delivery)).await
}

/// Runs `send` on every configured sink at once and logs each outcome.
pub(crate) async fn to_every_sink<'a>(
    settings: &'a NotifySettings,
    send: impl Fn(&'a dyn Notifier) -> BoxFuture<'a, Result<(), SinkError>>,
) -> Vec<SinkResult> {
    let sends = settings.sinks().into_iter().map(|(sink, notifier)| {
        let sent = send(notifier);
        async move {
            let error = sent.await.err().map(|e| crate::error::error_chain(&*e));
            SinkResult { sink, error }
        }
    });
    let results = futures::future::join_all(sends).await;
    for r in &results {
        match &r.error {
            None => info!(sink = r.sink, "Delivered"),
            Some(e) => error!(sink = r.sink, error = %e, "Sink failed"),
        }
    }
    results
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sink_is_a_key_of_the_notify_section_and_unknown_ones_are_named() {
        let parsed: NotifyConfig = serde_json::from_value(serde_json::json!({
            "pushgateway": {"url": "http://pg:9091"},
            "webhook": {"url": "http://hooks.example.org/x"},
        }))
        .unwrap();
        let settings = parsed.validate(Path::new("")).unwrap();
        let keys: Vec<&str> = settings.sinks().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["pushgateway", "webhook"]);
        let err = serde_json::from_value::<NotifyConfig>(serde_json::json!({"slack": {}}))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "unknown field `slack`, expected one of `matrix`, `pushgateway`, `webhook`"
            ),
            "{err}"
        );
    }
}
