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
    /// A number is outside its range (a timeout of zero or over a day, a
    /// retry count of zero or over a hundred).
    #[error(transparent)]
    OutOfRange(#[from] crate::bounds::OutOfRange),
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

/// What one sink's URL must be: the rules every sink's URL is checked by
/// ([`SinkUrl::check`]), in one order: an http(s) URL, without credentials,
/// and not plain http to another machine when a secret goes with it.
pub struct SinkUrl {
    /// The key under `notify.` (`webhook.url`).
    pub key: &'static str,
    /// A good value, for the error.
    pub example: &'static str,
    /// Where credentials go instead of the URL (`they belong in ...`).
    pub credentials_belong: &'static str,
}

impl SinkUrl {
    /// Checks `url`. `cleartext` is the problem and example to report when
    /// a secret would go with it over plain http to another machine
    /// (`None`: no secret goes, or `allowInsecureHttp` is set).
    pub fn check(
        &self,
        url: &str,
        cleartext: Option<(&'static str, &'static str)>,
    ) -> Result<(), NotifyConfigError> {
        let invalid = |problem| {
            NotifyConfigError::invalid(self.key, &crate::redact::url(url), problem, self.example)
        };
        if !is_http_url(url) || reqwest::Url::parse(url).is_err() {
            return Err(invalid("is not an http(s) URL"));
        }
        if has_userinfo(url) {
            return Err(invalid(self.credentials_belong));
        }
        match cleartext {
            Some((problem, example)) if is_insecure_http(url) => {
                Err(refuse_insecure_http(self.key, url, problem, example))
            }
            _ => Ok(()),
        }
    }
}

/// `scheme://user:password@host...`: credentials that would end up in logs.
pub fn has_userinfo(url: &str) -> bool {
    authority(url).contains('@')
}

/// `http://` or `https://` and a host.
pub fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

/// `http://` to a host that is not this machine (`localhost`, `127.0.0.0/8`,
/// `::1`): a token sent there crosses the network in cleartext.
pub fn is_insecure_http(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    url.scheme() == "http" && !loopback
}

/// The error for a secret that would go over plain http: `key` is the URL's
/// key, `problem` says which secret and names `allowInsecureHttp`.
pub fn refuse_insecure_http(
    key: &'static str,
    url: &str,
    problem: &'static str,
    example: &'static str,
) -> NotifyConfigError {
    NotifyConfigError::invalid(key, &crate::redact::url(url), problem, example)
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
    fn userinfo_is_found_in_the_authority_only() {
        assert!(has_userinfo("https://pusher:hunter2@pg.example.org/a"));
        assert!(!has_userinfo("http://hooks.example.org/a@b"));
    }

    #[test]
    fn plain_http_is_insecure_unless_to_this_machine() {
        for url in [
            "http://matrix.example.org",
            "http://10.0.0.7:8008/",
            "http://pushgateway.monitoring:9091",
            "HTTP://Matrix.Example.org",
            "http://[fd00::1]:8008",
            "http://127.0.0.1.example.org",
        ] {
            assert!(is_insecure_http(url), "{url}");
        }
        for url in [
            "https://matrix.example.org",
            "http://localhost:8008",
            "http://LOCALHOST.:8008",
            "http://synapse.localhost",
            "http://127.0.0.1:8008",
            "http://127.3.2.1",
            "http://[::1]:9091",
            "not a url",
        ] {
            assert!(!is_insecure_http(url), "{url}");
        }
    }
}
