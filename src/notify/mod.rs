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
//!     stateFile: drift-check-matrix-state.json  # manual runs; in a pod the default is
//!     # stateConfigMap: drift-check-state      #   this ConfigMap of the pod's namespace
//!     dailyDigest: false                     # repost open findings once a day when nothing changed
//!     maxMessageBytes: 24576                 # 2048..45000; beyond, "and N more" + the JSON report as a file
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

use config::StateLocation;
pub use config::{NotifyConfig, NotifySettings};
use state::{ConfigMapStore, FileStore, StateStore, Store};

use crate::live::cluster::ClusterOptions;
use crate::report::Report;

/// What became of one sink.
#[derive(Debug)]
pub struct SinkResult {
    /// `matrix` or `pushgateway`.
    pub sink: &'static str,
    /// `None` when the sink got the result.
    pub error: Option<String>,
}

/// Sends the report to every configured sink; `duration` is how long the check
/// took; `cluster` reaches the state ConfigMap, when the state is kept there.
pub async fn notify(
    settings: &NotifySettings,
    cluster: &ClusterOptions,
    report: &Report,
    duration: Duration,
) -> Vec<SinkResult> {
    // Independent: a slow homeserver does not hold the metrics back.
    let matrix = async {
        let matrix = settings.matrix.as_ref()?;
        let error = match state_store(&matrix.state, cluster).await {
            Ok(store) => to_matrix(matrix, &store, report).await.err(),
            Err(e) => Some(e),
        };
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
    let previous = store
        .load()
        .await
        .map_err(|e| crate::error::error_chain(&e))?;
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
        .map_err(|e| crate::error::error_chain(&e))?;
    store
        .save(&plan.next)
        .await
        .map_err(|e| crate::error::error_chain(&e))
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
        .map_err(|e| crate::error::error_chain(&e))
}

/// The state's store: a file, or a ConfigMap (by default in a pod).
async fn state_store(location: &StateLocation, cluster: &ClusterOptions) -> Result<Store, String> {
    let (namespace, name) = match location {
        StateLocation::File(path) => return Ok(Store::File(FileStore { path: path.clone() })),
        StateLocation::Default(path) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() => {
            return Ok(Store::File(FileStore { path: path.clone() }));
        }
        StateLocation::Default(_) => (None, "drift-check-state".to_string()),
        StateLocation::ConfigMap { namespace, name } => (namespace.clone(), name.clone()),
    };
    let client = kube_client(cluster)
        .await
        .map_err(|e| format!("state ConfigMap {name}: cannot reach the cluster: {e}"))?;
    let namespace = namespace.unwrap_or_else(|| client.default_namespace().to_string());
    Ok(Store::ConfigMap(ConfigMapStore {
        client,
        namespace,
        name,
    }))
}

/// A client from the kubeconfig (file, context) or the pod's service account.
async fn kube_client(options: &ClusterOptions) -> Result<kube::Client, String> {
    use kube::config::{Config, KubeConfigOptions, Kubeconfig};
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..Default::default()
    };
    let mut config = match &options.kubeconfig {
        Some(path) => {
            let file =
                Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if options.context.is_some() => Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| e.to_string())?,
        None => Config::infer().await.map_err(|e| e.to_string())?,
    };
    let timeout = options.timeout.max(Duration::from_secs(1));
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    kube::Client::try_from(config).map_err(|e| e.to_string())
}
