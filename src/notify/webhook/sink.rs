//! The webhook sink's [`Notifier`]: one POST of the JSON report, retried by
//! the sinks' one policy ([`RetryPolicy`]); any 2xx is delivered.
//! Every attempt carries the same `Idempotency-Key` (the run id), so a
//! receiver can drop the duplicate of a retry that did arrive. Redirects are
//! not followed (a POST would turn into a GET, and the token would travel on).

use futures::future::BoxFuture;
use tracing::debug;

use super::config::WebhookSettings;
use crate::notify::retry::RetryPolicy;
use crate::notify::secrets::{self, SecretError};
use crate::notify::{Delivery, Notifier, SinkError};
use crate::report::Format;

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
    let policy = RetryPolicy::per_request(settings.retries, settings.timeout);
    let sent = policy
        .send("Webhook POST", &url, || {
            let mut request = client
                .post(settings.url.expose())
                .header("content-type", "application/json")
                .header("idempotency-key", run_id)
                .body(body.clone());
            for (name, value) in &settings.headers {
                request = request.header(name, value);
            }
            match &token {
                Some(token) => request.bearer_auth(token.expose()),
                None => request,
            }
        })
        .await;
    let reason = match sent.answer {
        Ok(answer) if answer.status.is_success() => {
            debug!(url = %url, attempts = sent.attempts, status = %answer.status, "Posted the report");
            return Ok(());
        }
        Ok(answer) => answer.reason(),
        Err(e) => crate::error::error_chain(&e),
    };
    Err(WebhookError::Post {
        url,
        attempts: sent.attempts,
        reason,
    })
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
}
