//! What every sink's configuration shares: the [`SinkConfig`] step from a
//! raw `notify.<sink>:` section to validated settings (pure: no network, no
//! file reads), the error that names the bad key, and URL checks.
//!
//! Secrets (tokens, passwords) are never in the config file: they come from
//! environment variables or the files those name, read when a sink sends
//! (see `secrets.rs`).

use std::path::Path;

/// A sink's `notify.<sink>:` section, as written in the config file.
pub trait SinkConfig {
    /// The section once validated: the sink itself.
    type Settings: super::Notifier + Clone + std::fmt::Debug;

    /// Validates the section; relative paths are relative to `base` (the
    /// config file's directory).
    fn validate(&self, base: &Path) -> Result<Self::Settings, NotifyConfigError>;
}

/// A `notify:` section that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NotifyConfigError {
    /// A key has a value of the wrong shape.
    #[error("notify.{key}: {value:?} {problem}, e.g. {example}")]
    Invalid {
        key: &'static str,
        value: String,
        problem: &'static str,
        example: &'static str,
    },
}

impl NotifyConfigError {
    /// `notify.<key>: "<value>" <problem>, e.g. <example>`.
    pub fn invalid(
        key: &'static str,
        value: &str,
        problem: &'static str,
        example: &'static str,
    ) -> Self {
        Self::Invalid {
            key,
            value: value.to_string(),
            problem,
            example,
        }
    }
}

/// `scheme://user:password@host...`: credentials that would end up in logs.
pub fn has_userinfo(url: &str) -> bool {
    authority(url).contains('@')
}

/// The URL with its credentials replaced by `***`, to quote it in an error.
pub fn redact_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// The URL as logs and errors may show it: credentials and the query
/// (webhook URLs often carry a token there) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    let url = url.split_once('#').map_or(url.as_str(), |(u, _)| u);
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?***"),
        None => url.to_string(),
    }
}

/// `http://` or `https://` and a host.
pub fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

/// `user:password@host:port` of a URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_and_query_in_messages() {
        assert_eq!(
            redact_userinfo("https://pusher:hunter2@pg.example.org/a@b"),
            "https://***@pg.example.org/a@b"
        );
        assert_eq!(
            redact_url("https://u:p@hooks.example.org/x?token=abc#frag"),
            "https://***@hooks.example.org/x?***"
        );
        assert_eq!(
            redact_url("http://hooks.example.org/drift"),
            "http://hooks.example.org/drift"
        );
        assert!(!has_userinfo("http://hooks.example.org/a@b"));
    }
}
