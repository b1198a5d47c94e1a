//! The one retry policy of every sink (Matrix, pushgateway, webhook): 429,
//! 5xx, connect errors, timeouts and connections lost mid-request are
//! retried, up to `retries` attempts, with exponential backoff and jitter
//! (from 0.5 s doubling, at most 10 s, plus up to as much again at random,
//! so that many runs refused at once do not come back at once; `backon`).
//! A server's own wait is honoured instead: HTTP's `Retry-After: <seconds>`
//! or a Matrix `M_LIMIT_EXCEEDED` body's `retry_after_ms`. A delivery has a
//! total deadline: no attempt starts, and no wait is begun, that would end
//! past it — a `Retry-After: 3600` ends the retries, it does not hold the
//! run for an hour.
//!
//! matrix-sdk retries its own requests; `matrix/client.rs` configures it
//! from this same policy and bounds the delivery by the deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use tracing::warn;

/// Longest part of a refusal's body quoted in a reason.
pub const MAX_REASON_CHARS: usize = 300;

/// How a sink's requests are retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: usize,
    /// How long one attempt may take before it counts as a timeout.
    pub attempt_timeout: Duration,
    /// How long the request may take, every attempt and wait included.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// The first backoff; each next one doubles, up to [`Self::MAX_DELAY`]
    /// (matrix-sdk's own first delay, its `ExponentialBuilder` minimum).
    pub const FIRST_DELAY: Duration = Duration::from_millis(500);
    /// The longest backoff between two attempts, before jitter.
    pub const MAX_DELAY: Duration = Duration::from_secs(10);

    /// `attempts` attempts of at most `timeout` each: a sink whose
    /// `timeoutSeconds` is per request (pushgateway, webhook). The deadline
    /// leaves each attempt its timeout and the longest wait after it.
    pub fn per_request(attempts: usize, timeout: Duration) -> Self {
        let attempts = attempts.max(1);
        Self {
            attempts,
            attempt_timeout: timeout,
            deadline: (timeout + 2 * Self::MAX_DELAY) * attempts as u32,
        }
    }

    /// `attempts` attempts within `timeout` in all: a sink whose
    /// `timeoutSeconds` bounds the whole delivery (Matrix). One attempt
    /// gets a fifth of it, between 1 and 30 s, so that a hung connection
    /// leaves time for the retries.
    pub fn within(attempts: usize, timeout: Duration) -> Self {
        Self {
            attempts: attempts.max(1),
            attempt_timeout: (timeout / 5).clamp(Duration::from_secs(1), Duration::from_secs(30)),
            deadline: timeout,
        }
    }

    /// The backoff between attempts, before a server's own wait.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(Self::FIRST_DELAY)
            .with_max_delay(Self::MAX_DELAY)
            .with_factor(2.0)
            .with_max_times(self.attempts - 1)
            .with_jitter()
    }

    /// Sends the request `build` makes, retrying as the policy says.
    /// `what` names it in the log (`Webhook POST`), `shown` is its URL as
    /// logs may show it (redacted). The outcome holds the first answer that
    /// is not retried, or the last one (a 429 or 5xx), or the last network
    /// error (without its URL: reqwest quotes it whole).
    pub async fn send(
        &self,
        what: &str,
        shown: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Sent {
        let started = Instant::now();
        let made = AtomicUsize::new(0);
        let attempt = || async {
            made.fetch_add(1, Ordering::Relaxed);
            let left = self.deadline.saturating_sub(started.elapsed());
            let timeout = self.attempt_timeout.min(left).max(Duration::from_millis(1));
            let response = build().timeout(timeout).send().await.map_err(failed)?;
            let status = response.status();
            let header = retry_after_header(&response);
            let body = response.bytes().await.map_err(failed)?.to_vec();
            let answer = Answer {
                status,
                retry_after: retry_after_ms(&body).or(header),
                body,
            };
            if status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::Refused(answer))
            } else {
                Ok(answer)
            }
        };
        let result = attempt
            .retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(Failure::is_retried)
            .adjust(|failure, backoff| {
                let delay = failure.retry_after().unwrap_or(backoff?);
                (started.elapsed() + delay < self.deadline).then_some(delay)
            })
            .notify(|failure, delay| {
                warn!(
                    url = %shown,
                    attempt = made.load(Ordering::Relaxed),
                    reason = %failure,
                    delay_ms = delay.as_millis() as u64,
                    "{what} failed, retrying"
                );
            })
            .await;
        Sent {
            attempts: made.load(Ordering::Relaxed),
            answer: match result {
                Ok(answer) | Err(Failure::Refused(answer)) => Ok(answer),
                Err(Failure::Network(e)) => Err(e),
            },
        }
    }
}

/// What became of a request: how many attempts were made, and the answer
/// or the last network error.
#[derive(Debug)]
pub struct Sent {
    pub attempts: usize,
    pub answer: Result<Answer, reqwest::Error>,
}

/// A server's answer: its status, the wait it asked for, its body.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `HTTP <status>: <body>`, the body trimmed and cut at
    /// [`MAX_REASON_CHARS`] characters (a proxy's error page is long).
    pub fn reason(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let text = match text.char_indices().nth(MAX_REASON_CHARS) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text.to_string(),
        };
        format!("HTTP {}: {text}", self.status)
    }
}

/// An attempt that did not deliver.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// A 429 or 5xx.
    #[error("{}", .0.reason())]
    Refused(Answer),
    /// No answer (connect error, timeout, connection lost).
    #[error("{}", crate::error::error_chain(.0))]
    Network(reqwest::Error),
}

impl Failure {
    fn is_retried(&self) -> bool {
        match self {
            Failure::Refused(_) => true,
            Failure::Network(e) => {
                e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Refused(answer) => answer.retry_after,
            Failure::Network(_) => None,
        }
    }
}

/// A network error without its URL.
fn failed(e: reqwest::Error) -> Failure {
    Failure::Network(e.without_url())
}

/// `retry_after_ms` of a Matrix `M_LIMIT_EXCEEDED` body.
fn retry_after_ms(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["retry_after_ms"].as_u64().map(Duration::from_millis)
}

/// HTTP's `Retry-After: <seconds>` (an HTTP date is not honoured: the
/// backoff applies).
fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response.headers().get("retry-after")?.to_str().ok()?;
    seconds.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn a_matrix_attempt_gets_a_fifth_of_timeout_seconds_between_1_and_30_s() {
        let secs = |t| RetryPolicy::within(5, Duration::from_secs(t)).attempt_timeout;
        assert_eq!(secs(120), Duration::from_secs(24));
        assert_eq!(secs(10), Duration::from_secs(2));
        assert_eq!(secs(2), Duration::from_secs(1));
        assert_eq!(secs(600), Duration::from_secs(30));
        assert_eq!(RetryPolicy::within(0, Duration::from_secs(10)).attempts, 1);
        assert_eq!(
            RetryPolicy::per_request(3, Duration::from_secs(10)).deadline,
            Duration::from_secs(90)
        );
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_ten_with_up_to_as_much_jitter() {
        let policy = RetryPolicy::per_request(8, Duration::from_secs(10));
        let delays: Vec<Duration> = policy.backoff().build().collect();
        assert_eq!(delays.len(), 7, "{delays:?}");
        for (delay, base) in delays.iter().zip([0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]) {
            let base = Duration::from_secs_f64(base);
            assert!(
                *delay >= base && *delay < base * 2,
                "{delay:?} for {base:?}"
            );
        }
    }

    #[test]
    fn retry_after_ms_is_read_from_a_limit_exceeded_body() {
        let body =
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}"#;
        assert_eq!(retry_after_ms(body), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after_ms(b"<html>429</html>"), None);
    }

    /// A server on 127.0.0.1 that answers each connection with the next of
    /// `answers` (status line and headers), then closes; its request count.
    fn server(answers: &'static [&'static str]) -> (String, std::sync::Arc<AtomicUsize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for (stream, answer) in listener.incoming().zip(answers.iter().cycle()) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                seen.fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {answer}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno"
                    )
                    .as_bytes(),
                );
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn retry_after_is_honoured_and_a_4xx_is_not_retried() {
        let (url, count) = server(&[
            "429 Too Many Requests\r\nretry-after: 1",
            "200 OK",
            "400 Bad Request",
        ]);
        let client = reqwest::Client::new();
        let policy = RetryPolicy::per_request(3, Duration::from_secs(5));
        let started = Instant::now();
        let sent = policy.send("test", &url, || client.get(&url)).await;
        assert_eq!(sent.answer.unwrap().status, 200);
        assert_eq!(sent.attempts, 2);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "waited as asked"
        );
        let sent = policy.send("test", &url, || client.get(&url)).await;
        assert_eq!(
            (sent.attempts, sent.answer.unwrap().reason()),
            (1, "HTTP 400 Bad Request: no".into())
        );
        assert_eq!(count.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_ends_the_retries() {
        let (url, count) = server(&["503 Service Unavailable\r\nretry-after: 3600"]);
        let client = reqwest::Client::new();
        let policy = RetryPolicy::within(5, Duration::from_secs(10));
        let started = Instant::now();
        let sent = policy.send("test", &url, || client.get(&url)).await;
        assert_eq!(sent.answer.unwrap().status, 503);
        assert_eq!((sent.attempts, count.load(Ordering::Relaxed)), (1, 1));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
