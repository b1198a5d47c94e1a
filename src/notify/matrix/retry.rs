//! The one retry policy of every Matrix call: 429 (after the server's
//! `retry_after_ms`), 5xx, connect errors and timeouts are retried with
//! exponential backoff, up to `retries` attempts of at most
//! [`RetryPolicy::attempt_timeout`] each; the whole delivery stays inside
//! `timeoutSeconds` (`client.rs` wraps it in one timeout).
//!
//! matrix-sdk applies it to every request it makes (login, join, sync, send,
//! upload, key requests) through [`RetryPolicy::request_config`]: its HTTP
//! client retries exactly these cases (`HttpError::retry_kind`: network
//! errors when a retry limit is set, 429 and 5xx, 429's `retry_after_ms`
//! first) with backoff from 0.5 s doubling. The one call made before
//! matrix-sdk has a session — whoami, which finds the access token's device —
//! goes through [`RetryPolicy::send`], the same policy by hand.

use std::num::NonZeroUsize;
use std::time::Duration;

use matrix_sdk::config::RequestConfig;
use tracing::warn;

/// How Matrix calls are retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: usize,
    /// How long one attempt may take before it counts as a timeout and is
    /// retried: a fifth of `timeoutSeconds`, between 1 and 30 s, so that a
    /// hung connection leaves time for the retries.
    pub attempt_timeout: Duration,
    /// The first backoff; each next one doubles, up to [`Self::MAX_DELAY`].
    pub first_delay: Duration,
}

impl RetryPolicy {
    /// The longest backoff between two attempts (a `retry_after_ms` is
    /// honoured as the server says; `timeoutSeconds` bounds it all).
    pub const MAX_DELAY: Duration = Duration::from_secs(10);

    /// The policy for `retries` attempts within `timeout`.
    pub fn new(retries: usize, timeout: Duration) -> Self {
        Self {
            attempts: retries.max(1),
            attempt_timeout: (timeout / 5).clamp(Duration::from_secs(1), Duration::from_secs(30)),
            // matrix-sdk's own first delay (its `ExponentialBuilder` minimum).
            first_delay: Duration::from_millis(500),
        }
    }

    /// The policy as matrix-sdk's configuration of every request.
    pub fn request_config(&self) -> RequestConfig {
        RequestConfig::new()
            .timeout(self.attempt_timeout)
            .retry_limit(self.attempts)
            // Despite its name, matrix-sdk's longest single backoff.
            .max_retry_time(Self::MAX_DELAY)
            // One request at a time: a fresh device's key upload then reaches
            // the homeserver before the query of its own keys, which would
            // otherwise race it and make matrix-sdk warn "Our own device might
            // have been deleted". A run makes a handful of requests.
            .max_concurrent_requests(NonZeroUsize::new(1))
    }

    /// The backoff before attempt `attempt + 1` (`attempt` from 1).
    fn backoff(&self, attempt: usize) -> Duration {
        let factor = 1u32 << (attempt - 1).min(16);
        (self.first_delay * factor).min(Self::MAX_DELAY)
    }

    /// Sends the request `build` makes, retrying as matrix-sdk does. Returns
    /// the first answer that is not retried, or the last one (a 429 or 5xx),
    /// or the last network error.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, reqwest::Error> {
        let mut attempt = 1;
        loop {
            let outcome = build().timeout(self.attempt_timeout).send().await;
            let last = attempt >= self.attempts;
            let (reason, retry_after) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let header = retry_after_header(&response);
                    let body = response.bytes().await.map_err(reqwest::Error::without_url);
                    let body = match body {
                        Ok(body) => body,
                        Err(e) if !last && is_transient(&e) => {
                            self.wait(what, attempt, crate::error::error_chain(&e), None)
                                .await;
                            attempt += 1;
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let retried = status.as_u16() == 429 || status.is_server_error();
                    if !retried || last {
                        return Ok(Answer {
                            status,
                            body: body.to_vec(),
                        });
                    }
                    (format!("HTTP {status}"), retry_after_ms(&body).or(header))
                }
                Err(e) if !last && is_transient(&e) => {
                    (crate::error::error_chain(&e.without_url()), None)
                }
                Err(e) => return Err(e.without_url()),
            };
            self.wait(what, attempt, reason, retry_after).await;
            attempt += 1;
        }
    }

    async fn wait(
        &self,
        what: &str,
        attempt: usize,
        reason: String,
        retry_after: Option<Duration>,
    ) {
        let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
        warn!(
            request = what,
            attempt,
            reason = %reason,
            delay_ms = delay.as_millis() as u64,
            "Matrix request failed, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// A homeserver's answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub body: Vec<u8>,
}

/// Connect errors, timeouts and connections lost mid-request: retried.
fn is_transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
}

/// `retry_after_ms` of a Matrix `M_LIMIT_EXCEEDED` body.
fn retry_after_ms(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["retry_after_ms"].as_u64().map(Duration::from_millis)
}

/// HTTP's `Retry-After: <seconds>` (Matrix v1.10+ servers send it with 429).
fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response.headers().get("retry-after")?.to_str().ok()?;
    seconds.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_gets_a_fifth_of_timeout_seconds_between_1_and_30_s() {
        let secs = |t| RetryPolicy::new(5, Duration::from_secs(t)).attempt_timeout;
        assert_eq!(secs(120), Duration::from_secs(24));
        assert_eq!(secs(10), Duration::from_secs(2));
        assert_eq!(secs(2), Duration::from_secs(1));
        assert_eq!(secs(600), Duration::from_secs(30));
        assert_eq!(RetryPolicy::new(0, Duration::from_secs(10)).attempts, 1);
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_ten() {
        let policy = RetryPolicy::new(8, Duration::from_secs(120));
        let delays: Vec<u128> = (1..=7).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[test]
    fn retry_after_ms_is_read_from_a_limit_exceeded_body() {
        let body =
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}"#;
        assert_eq!(retry_after_ms(body), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after_ms(b"<html>429</html>"), None);
    }
}
