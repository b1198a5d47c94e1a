//! The pushgateway sink: the run's metrics under job `drift_check`, grouping
//! key `cluster`. A completed run PUTs the whole group; a failed run POSTs
//! only the run and failure metrics, so the last success timestamp and the
//! last findings survive it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use futures::future::BoxFuture;
use tracing::{debug, warn};

use super::config::PushgatewaySettings;
use super::metrics;
use crate::notify::retry::RetryPolicy;
use crate::notify::secrets::{self, Secret, SecretError};
use crate::notify::{Delivery, Notifier, SinkError};

/// The pushgateway sink failed.
#[derive(Debug, thiserror::Error)]
pub enum PushgatewayError {
    /// A credential is set badly.
    #[error("pushgateway credentials")]
    Secret(#[from] SecretError),
    /// A password without a user name or the reverse.
    #[error(
        "pushgateway credentials: set both DRIFT_CHECK_PUSHGATEWAY_USERNAME and DRIFT_CHECK_PUSHGATEWAY_PASSWORD, or DRIFT_CHECK_PUSHGATEWAY_TOKEN"
    )]
    HalfBasicAuth,
    /// Credentials and plain http to another machine, not allowed.
    #[error(transparent)]
    Insecure(#[from] crate::notify::NotifyConfigError),
    /// The HTTP client cannot be built.
    #[error("pushgateway HTTP client")]
    Client(#[source] reqwest::Error),
    /// The push was refused or the pushgateway could not be reached, retries included.
    #[error("{method} {url} failed after {attempts} attempts: {reason}")]
    Push {
        method: &'static str,
        url: String,
        attempts: usize,
        reason: String,
    },
}

impl Notifier for PushgatewaySettings {
    /// A completed run replaces the group; a failed one sends only the run
    /// and failure metrics.
    fn send<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        let report = delivery.report;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64().floor());
        let duration = (delivery.duration.as_secs_f64() * 1000.0).round() / 1000.0;
        let completed = report.errors.is_empty();
        // Some Kustomizations checked, others not: the whole group, theirs
        // kept from the group the pushgateway holds.
        let partial = !completed
            && report.errors.iter().all(|e| e.kustomization.is_some())
            && report
                .kustomizations
                .iter()
                .any(|k| k.skipped.is_none() && !metrics::not_checked(report).contains(&k.id()));
        Box::pin(async move {
            let cluster = &report.run.cluster;
            if partial {
                let last = last_group(self, cluster).await.unwrap_or_else(|e| {
                    warn!(error = %e, "Cannot read the pushgateway's group: the Kustomizations not checked lose their series");
                    metrics::Carried::default()
                });
                let body = metrics::partial(report, now, duration, &last);
                return Ok(push(self, cluster, body, true).await?);
            }
            let body = if completed {
                // A suspended Kustomization keeps its findings series.
                let last = if metrics::suspended(report).is_empty() {
                    metrics::Carried::default()
                } else {
                    last_group(self, cluster).await.unwrap_or_else(|e| {
                        warn!(error = %e, "Cannot read the pushgateway's group: the suspended Kustomizations' findings are counted as this run sees them");
                        metrics::Carried::default()
                    })
                };
                metrics::success(report, now, duration, &last)
            } else {
                metrics::failure(report, now, duration)
            };
            Ok(push(self, cluster, body, completed).await?)
        })
    }

    /// Each cluster's group, then the groups of clusters that left the fleet deleted.
    fn send_fleet<'a>(
        &'a self,
        fleet: &'a crate::notify::FleetDelivery<'a>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(super::fleet::send(self, fleet))
    }
}

/// How to authenticate to the pushgateway.
#[derive(Debug)]
pub(super) enum Auth {
    None,
    Bearer(Secret),
    Basic(String, Secret),
}

pub(super) fn auth() -> Result<Auth, PushgatewayError> {
    if let Some(token) = secrets::from_env("DRIFT_CHECK_PUSHGATEWAY_TOKEN")? {
        return Ok(Auth::Bearer(token));
    }
    match (
        secrets::from_env("DRIFT_CHECK_PUSHGATEWAY_USERNAME")?,
        secrets::from_env("DRIFT_CHECK_PUSHGATEWAY_PASSWORD")?,
    ) {
        (Some(user), Some(password)) => Ok(Auth::Basic(user.expose().to_string(), password)),
        (None, None) => Ok(Auth::None),
        _ => Err(PushgatewayError::HalfBasicAuth),
    }
}

/// The group's URL: `/metrics/job/drift_check/cluster/<name>`, with the
/// `@base64` form when the name is not a plain path segment.
pub(super) fn group_url(base: &str, cluster: &str) -> String {
    let plain = !cluster.is_empty()
        && cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        format!("{base}/metrics/job/drift_check/cluster/{cluster}")
    } else {
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(cluster);
        let encoded = if encoded.is_empty() {
            "=".to_string()
        } else {
            encoded
        };
        format!("{base}/metrics/job/drift_check/cluster@base64/{encoded}")
    }
}

/// The series of the group `cluster` that the pushgateway holds (its
/// `/api/v1/metrics`), for the metrics a partial run keeps.
async fn last_group(
    settings: &PushgatewaySettings,
    cluster: &str,
) -> Result<metrics::Carried, PushgatewayError> {
    let auth = auth()?;
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(PushgatewayError::Client)?;
    let url = format!("{}/api/v1/metrics", settings.url);
    let request = match &auth {
        Auth::None => client.get(&url),
        Auth::Bearer(token) => client.get(&url).bearer_auth(token.expose()),
        Auth::Basic(user, password) => client.get(&url).basic_auth(user, Some(password.expose())),
    };
    let failed = |reason: String| PushgatewayError::Push {
        method: "GET",
        url: url.clone(),
        attempts: 1,
        reason,
    };
    let response = request
        .send()
        .await
        .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
    let mut carried = metrics::Carried::new();
    let groups = body["data"].as_array().into_iter().flatten();
    for group in groups.filter(|g| {
        g["labels"]["job"] == "drift_check" && g["labels"]["cluster"].as_str() == Some(cluster)
    }) {
        for name in metrics::KEPT
            .iter()
            .chain(&["drift_check_last_success_timestamp_seconds"])
        {
            for m in group[*name]["metrics"].as_array().into_iter().flatten() {
                let Some(value) = m["value"].as_str().and_then(|v| v.parse::<f64>().ok()) else {
                    continue;
                };
                let labels = m["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| !matches!(k.as_str(), "job" | "cluster" | "instance"))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect();
                carried
                    .entry(name.to_string())
                    .or_default()
                    .push((labels, value));
            }
        }
    }
    Ok(carried)
}

/// Pushes `body` (text format): PUT replaces the group, POST only the names sent.
async fn push(
    settings: &PushgatewaySettings,
    cluster: &str,
    body: String,
    replace_group: bool,
) -> Result<(), PushgatewayError> {
    let auth = auth()?;
    if settings.insecure && !matches!(auth, Auth::None) {
        return Err(super::config::insecure_credentials(&settings.url).into());
    }
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(PushgatewayError::Client)?;
    let url = group_url(&settings.url, cluster);
    let method = if replace_group {
        reqwest::Method::PUT
    } else {
        reqwest::Method::POST
    };
    let name = if replace_group { "PUT" } else { "POST" };
    let policy = RetryPolicy::per_request(settings.retries, settings.timeout);
    let sent = policy
        .send(&format!("Pushgateway {name}"), &url, || {
            let request = client
                .request(method.clone(), &url)
                .header("content-type", "text/plain; version=0.0.4")
                .body(body.clone());
            match &auth {
                Auth::None => request,
                Auth::Bearer(token) => request.bearer_auth(token.expose()),
                Auth::Basic(user, password) => request.basic_auth(user, Some(password.expose())),
            }
        })
        .await;
    let reason = match sent.answer {
        Ok(answer) if answer.status.is_success() => {
            debug!(url = %url, method = name, attempts = sent.attempts, "Pushed metrics");
            return Ok(());
        }
        Ok(answer) => answer.reason(),
        Err(e) => crate::error::error_chain(&e),
    };
    Err(PushgatewayError::Push {
        method: name,
        url,
        attempts: sent.attempts,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_that_are_not_path_segments_use_base64() {
        assert_eq!(
            group_url("http://pg:9091", "prod"),
            "http://pg:9091/metrics/job/drift_check/cluster/prod"
        );
        assert_eq!(
            group_url("http://pg:9091", "eu/prod"),
            "http://pg:9091/metrics/job/drift_check/cluster@base64/ZXUvcHJvZA=="
        );
        assert_eq!(
            group_url("http://pg:9091", ""),
            "http://pg:9091/metrics/job/drift_check/cluster@base64/="
        );
    }
}
