//! `notify.webhook:` as written in the config file, and its validation into
//! [`WebhookSettings`] (pure: no network, no file reads; the bearer token
//! file is read when the sink sends).
//!
//! Credentials in the URL (`https://user:password@…`) are refused, as for
//! the other sinks: a token belongs in `bearerTokenFile`. A query (receivers
//! often take a token there) is sent, and shown as `***` wherever the URL is
//! (logs, errors, `Debug`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::notify::config::{NotifyConfigError, SinkConfig, SinkUrl};

/// `notify.webhook:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookConfig {
    /// Where to POST, e.g. `https://hooks.example.org/drift-check`; no
    /// credentials (`user:password@`); a query is never logged.
    pub url: String,
    /// Extra request headers, e.g. `X-Team: platform`. Not for secrets:
    /// `Authorization` comes from `bearerTokenFile`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A file holding a bearer token (a mounted Secret), sent as
    /// `Authorization: Bearer <token>`; relative to the config file.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Per-request timeout (default 10).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Attempts on 429, 5xx, connect errors and timeouts (default 3).
    #[serde(default)]
    pub retries: Option<usize>,
    /// Allow `http://` to another machine with a token (`bearerTokenFile`,
    /// or a query, where receivers often take one): it then crosses the
    /// network in cleartext.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Validated webhook settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub url: Endpoint,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub bearer_token_file: Option<PathBuf>,
    pub timeout: Duration,
    pub retries: usize,
}

/// The URL to POST to; shown (`Display`, `Debug`) without its credentials and query.
#[derive(Clone, PartialEq)]
pub struct Endpoint(String);

impl Endpoint {
    /// The URL, credentials included, for the request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::url(&self.0))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::redact::url(&self.0))
    }
}

/// Headers the sink sets itself.
const RESERVED: [&str; 3] = ["authorization", "content-type", "content-length"];

impl SinkConfig for WebhookConfig {
    type Settings = WebhookSettings;

    fn validate(&self, base: &Path) -> Result<WebhookSettings, NotifyConfigError> {
        let invalid = NotifyConfigError::invalid;
        let cleartext = if self.allow_insecure_http {
            None
        } else if self.bearer_token_file.is_some() {
            Some((
                "is plain http to another machine and bearerTokenFile is set: the token would cross the network in cleartext; use https, or set notify.webhook.allowInsecureHttp: true",
                "https://hooks.example.org/drift-check",
            ))
        } else if self.url.contains('?') {
            Some((
                "is plain http to another machine with a query, where receivers take a token: it would cross the network in cleartext; use https, or set notify.webhook.allowInsecureHttp: true",
                "https://hooks.example.org/drift-check?token=…",
            ))
        } else {
            None
        };
        SinkUrl {
            key: "webhook.url",
            example: "https://hooks.example.org/drift-check",
            credentials_belong: "has credentials in it: put a token in a file named by bearerTokenFile",
        }
        .check(&self.url, cleartext)?;
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                invalid(
                    "webhook.headers",
                    name,
                    "is not a header name",
                    "X-Team: platform",
                )
            })?;
            if RESERVED.contains(&header.as_str()) {
                return Err(invalid(
                    "webhook.headers",
                    name,
                    "is set by drift-check (a bearer token: bearerTokenFile)",
                    "bearerTokenFile: /etc/drift-check/webhook/token",
                ));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                invalid(
                    "webhook.headers",
                    name,
                    "has a value that is not a header value (control characters?)",
                    "X-Team: platform",
                )
            })?;
            headers.push((header, value));
        }
        Ok(WebhookSettings {
            url: Endpoint(self.url.clone()),
            headers,
            bearer_token_file: self.bearer_token_file.as_ref().map(|p| base.join(p)),
            timeout: crate::bounds::seconds(
                self.timeout_seconds.unwrap_or(10),
                "notify.webhook.timeoutSeconds",
                "`timeoutSeconds: 10`",
            )?,
            retries: crate::bounds::count(
                self.retries.unwrap_or(3) as u64,
                crate::bounds::Range::count(1, 100),
                "notify.webhook.retries",
                "`retries: 3`",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_the_token_file_relative_to_the_config_file() {
        let mut c = webhook("https://hooks.example.org/drift");
        c.bearer_token_file = Some("token".into());
        let s = c.validate(Path::new("/etc/drift-check")).unwrap();
        assert_eq!(s.url.expose(), "https://hooks.example.org/drift");
        assert_eq!(
            s.bearer_token_file,
            Some(PathBuf::from("/etc/drift-check/token"))
        );
        assert_eq!((s.timeout, s.retries), (Duration::from_secs(10), 3));
    }

    #[test]
    fn a_token_over_plain_http_to_another_machine_is_refused_unless_allowed() {
        let mut c = webhook("http://hooks.example.org/drift");
        assert!(c.validate(Path::new("")).is_ok(), "no token: allowed");
        c.bearer_token_file = Some("token".into());
        assert_eq!(
            c.validate(Path::new("")).unwrap_err().to_string(),
            "notify.webhook.url: \"http://hooks.example.org/drift\" is plain http to another machine and bearerTokenFile is set: the token would cross the network in cleartext; use https, or set notify.webhook.allowInsecureHttp: true, e.g. https://hooks.example.org/drift-check"
        );
        c.allow_insecure_http = true;
        assert!(c.validate(Path::new("")).is_ok());
        let mut c = webhook("http://hooks.example.org/drift?token=t0k3n");
        let err = c.validate(Path::new("")).unwrap_err().to_string();
        assert!(
            err.starts_with("notify.webhook.url: \"http://hooks.example.org/drift?token=***\" is plain http to another machine with a query"),
            "{err}"
        );
        c.url = "http://127.0.0.1:8080/drift?token=t0k3n".into();
        assert!(c.validate(Path::new("")).is_ok(), "loopback");
    }

    #[test]
    fn a_url_that_is_not_http_is_named_without_its_secrets() {
        let err = webhook("ftp://u:hunter2@hooks.example.org/x?token=t0k3n")
            .validate(Path::new(""))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "notify.webhook.url: \"ftp://u:***@hooks.example.org/x?token=***\" is not an http(s) URL, e.g. https://hooks.example.org/drift-check"
        );
    }

    #[test]
    fn the_url_shows_without_its_query_in_debug_output() {
        let s = webhook("https://hooks.example.org/x?token=t0k3n")
            .validate(Path::new(""))
            .unwrap();
        let debug = format!("{s:?}");
        assert!(
            debug.contains("\"https://hooks.example.org/x?token=***\""),
            "{debug}"
        );
        assert!(!debug.contains("t0k3n"));
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_quoting_them() {
        let err = webhook("https://hook:hunter2@hooks.example.org/x")
            .validate(Path::new(""))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "notify.webhook.url: \"https://***@hooks.example.org/x\" has credentials in it: put a token in a file named by bearerTokenFile, e.g. https://hooks.example.org/drift-check"
        );
    }

    #[test]
    fn authorization_is_not_a_header_of_the_config_file() {
        let mut c = webhook("https://hooks.example.org/drift");
        c.headers.insert("Authorization".into(), "Bearer x".into());
        assert_eq!(
            c.validate(Path::new("")).unwrap_err().to_string(),
            "notify.webhook.headers: \"Authorization\" is set by drift-check (a bearer token: bearerTokenFile), e.g. bearerTokenFile: /etc/drift-check/webhook/token"
        );
        c.headers.clear();
        c.headers.insert("Bad Name".into(), "x".into());
        assert!(c.validate(Path::new("")).is_err());
    }
}
