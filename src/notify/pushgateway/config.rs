//! `notify.pushgateway:` as written in the config file, and its validation
//! into [`PushgatewaySettings`] (pure: no network, no file reads). The
//! credentials come from the environment when the sink pushes (`sink.rs`).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::notify::config::{
    NotifyConfigError, SinkConfig, has_userinfo, is_http_url, redact_userinfo,
};

/// `notify.pushgateway:`. Credentials: `DRIFT_CHECK_PUSHGATEWAY_TOKEN` (bearer)
/// or `DRIFT_CHECK_PUSHGATEWAY_USERNAME` + `DRIFT_CHECK_PUSHGATEWAY_PASSWORD`,
/// each also as `*_FILE`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PushgatewayConfig {
    /// Base URL, e.g. `http://pushgateway.monitoring:9091`.
    pub url: String,
    /// Per-request timeout (default 10).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Attempts on 5xx and network errors (default 3).
    #[serde(default)]
    pub retries: Option<usize>,
}

/// Validated pushgateway settings.
#[derive(Clone, Debug)]
pub struct PushgatewaySettings {
    pub url: String,
    pub timeout: Duration,
    pub retries: usize,
}

impl SinkConfig for PushgatewayConfig {
    type Settings = PushgatewaySettings;

    fn validate(&self, _base: &Path) -> Result<PushgatewaySettings, NotifyConfigError> {
        let invalid = NotifyConfigError::invalid;
        let p = self;
        if has_userinfo(&p.url) {
            return Err(invalid(
                "pushgateway.url",
                &redact_userinfo(&p.url),
                "has credentials in it: they belong in DRIFT_CHECK_PUSHGATEWAY_USERNAME and DRIFT_CHECK_PUSHGATEWAY_PASSWORD",
                "http://pushgateway.monitoring:9091",
            ));
        }
        if !is_http_url(&p.url) {
            return Err(invalid(
                "pushgateway.url",
                &p.url,
                "is not an http(s) URL",
                "http://pushgateway.monitoring:9091",
            ));
        }
        Ok(PushgatewaySettings {
            url: p.url.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(p.timeout_seconds.unwrap_or(10).max(1)),
            retries: p.retries.unwrap_or(3).max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyConfig;

    #[test]
    fn credentials_in_a_url_are_refused_without_quoting_them() {
        let c = NotifyConfig {
            pushgateway: Some(PushgatewayConfig {
                url: "https://pusher:hunter2@pg.example.org".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = c.validate(Path::new("")).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "notify.pushgateway.url: \"https://***@pg.example.org\" has credentials in it"
            ),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn a_pushgateway_url_must_be_http() {
        let c = NotifyConfig {
            pushgateway: Some(PushgatewayConfig {
                url: "pushgateway:9091".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            c.validate(Path::new(""))
                .unwrap_err()
                .to_string()
                .starts_with("notify.pushgateway.url: \"pushgateway:9091\" is not an http(s) URL")
        );
    }
}
