//! The webhook sink's [`Notifier`]: one POST of the JSON report, retried with
//! backoff on 429, 5xx, connect errors and timeouts; any 2xx is delivered.
//! Every attempt carries the same `Idempotency-Key` (the run id), so a
//! receiver can drop the duplicate of a retry that did arrive. Redirects are
//! not followed (a POST would turn into a GET, and the token would travel on).

use std::time::Duration;

use futures::future::BoxFuture;
use tracing::{debug, warn};

use super::config::WebhookSettings;
use crate::notify::secrets::{self, SecretError};
use crate::notify::{Delivery, Notifier, SinkError};
use crate::report::Format;

/// Longest part of a refusal's response body quoted in the error.
const MAX_REASON_CHARS: usize = 300;

/// The webhook sink failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The bearer token file cannot be read, or is empty.
    #[error("webhook credentials")]
    Secret(#[from] SecretError),
    /// The HTTP client cannot be built.
    #[error("webhook HTTP client")]
    Client(#[source] reqwest::Error),
    /// The POST was refused or the endpoint could not be reached, retries
    /// included. `url` is shown without credentials or query.
    #[error("POST {url} failed after {attempts} attempts: {reason}")]
    Post {
        url: String,
        attempts: usize,
        reason: String,
    },
}

impl Notifier for WebhookSettings {
    fn send<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        let body = delivery.report.render(Format::Json);
        let run_id = delivery.report.run.id.clone();
        Box::pin(async move { Ok(post(self, body, &run_id).await?) })
    }
}

async fn post(settings: &WebhookSettings, body: String, run_id: &str) -> Result<(), WebhookError> {
    let token = match &settings.bearer_token_file {
        Some(path) => Some(secrets::from_file("notify.webhook.bearerTokenFile", path)?),
        None => None,
    };
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("drift-check/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(WebhookError::Client)?;
    let url = settings.url.to_string();
    let mut delay = Duration::from_millis(500);
    let mut reason = String::new();
    for attempt in 1..=settings.retries {
        let mut request = client
            .post(settings.url.expose())
            .header("content-type", "application/json")
            .header("idempotency-key", run_id)
            .body(body.clone());
        for (name, value) in &settings.headers {
            request = request.header(name, value);
        }
        if let Some(token) = &token {
            request = request.bearer_auth(token.expose());
        }
        let retryable = match request.send().await {
            Ok(response) if response.status().is_success() => {
                debug!(url = %url, attempt, status = %response.status(), "Posted the report");
                return Ok(());
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                reason = format!("HTTP {status}: {}", cut(text.trim()));
                status.is_server_error() || status.as_u16() == 429
            }
            // Without the URL: reqwest puts it, credentials and all, in its message.
            Err(e) => {
                reason = crate::error::error_chain(&e.without_url());
                true
            }
        };
        if !retryable {
            return Err(WebhookError::Post {
                url,
                attempts: attempt,
                reason,
            });
        }
        if attempt < settings.retries {
            warn!(url = %url, attempt, reason = %reason, "Webhook POST failed, retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    Err(WebhookError::Post {
        url,
        attempts: settings.retries,
        reason,
    })
}

/// At most [`MAX_REASON_CHARS`] characters: a proxy's error page is long.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::notify::config::SinkConfig;
    use crate::notify::webhook::WebhookConfig;

    #[tokio::test]
    async fn a_refused_connection_is_retried_and_the_error_hides_the_query() {
        // Bound, then closed: connections to it are refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = WebhookConfig {
            url: format!("http://127.0.0.1:{port}/hook?token=t0k3n"),
            retries: Some(2),
            ..Default::default()
        }
        .validate(Path::new(""))
        .unwrap();
        let err = post(&settings, "{}".into(), "run-1").await.unwrap_err();
        let text = crate::error::error_chain(&err);
        assert!(
            text.starts_with(&format!(
                "POST http://127.0.0.1:{port}/hook?token=*** failed after 2 attempts: error sending request"
            )),
            "{text}"
        );
        assert!(!text.contains("t0k3n"), "{text}");
    }

    #[test]
    fn a_long_refusal_is_cut() {
        assert_eq!(cut("short"), "short");
        let long = "x".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(cut(&long).chars().count(), MAX_REASON_CHARS + 1);
    }
}
