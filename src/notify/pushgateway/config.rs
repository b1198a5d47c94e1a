//! `notify.pushgateway:` as written in the config file, and its validation
//! into [`PushgatewaySettings`] (pure: no network, no file reads). The
//! credentials come from the environment when the sink pushes (`sink.rs`).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::notify::config::{
    NotifyConfigError, SinkConfig, SinkUrl, is_insecure_http, refuse_insecure_http,
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
    /// Allow `http://` to a pushgateway that is not on this machine although
    /// credentials are set: they then cross the network in cleartext.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Validated pushgateway settings.
#[derive(Clone, Debug)]
pub struct PushgatewaySettings {
    pub url: String,
    pub timeout: Duration,
    pub retries: usize,
    /// `http://` to another machine, credentials not allowed over it.
    pub insecure: bool,
}

/// The variables that hold the pushgateway's credentials (each also `*_FILE`).
pub const CREDENTIALS: [&str; 3] = [
    "DRIFT_CHECK_PUSHGATEWAY_TOKEN",
    "DRIFT_CHECK_PUSHGATEWAY_USERNAME",
    "DRIFT_CHECK_PUSHGATEWAY_PASSWORD",
];

/// Whether credentials are set for the pushgateway (by name only: their
/// values are read when pushing).
pub fn credentials_set() -> bool {
    CREDENTIALS.iter().any(|name| {
        std::env::var_os(name).is_some() || std::env::var_os(format!("{name}_FILE")).is_some()
    })
}

/// Credentials over plain http to another machine, not allowed.
pub fn insecure_credentials(url: &str) -> NotifyConfigError {
    refuse_insecure_http("pushgateway.url", url, INSECURE.0, INSECURE.1)
}

/// Credentials over plain http to another machine: the problem and a good value.
const INSECURE: (&str, &str) = (
    "is plain http to another machine and credentials are set (DRIFT_CHECK_PUSHGATEWAY_*): they would cross the network in cleartext; use https, or set notify.pushgateway.allowInsecureHttp: true",
    "https://pushgateway.monitoring:9091",
);

impl SinkConfig for PushgatewayConfig {
    type Settings = PushgatewaySettings;

    fn validate(&self, _base: &Path) -> Result<PushgatewaySettings, NotifyConfigError> {
        let p = self;
        let cleartext = (!p.allow_insecure_http && credentials_set()).then_some(INSECURE);
        SinkUrl {
            key: "pushgateway.url",
            example: "http://pushgateway.monitoring:9091",
            credentials_belong: "has credentials in it: they belong in DRIFT_CHECK_PUSHGATEWAY_USERNAME and DRIFT_CHECK_PUSHGATEWAY_PASSWORD",
        }
        .check(&p.url, cleartext)?;
        let insecure = is_insecure_http(&p.url) && !p.allow_insecure_http;
        Ok(PushgatewaySettings {
            url: p.url.trim_end_matches('/').to_string(),
            timeout: crate::bounds::seconds(
                p.timeout_seconds.unwrap_or(10),
                "notify.pushgateway.timeoutSeconds",
                "`timeoutSeconds: 10`",
            )?,
            retries: crate::bounds::count(
                p.retries.unwrap_or(3) as u64,
                crate::bounds::Range::count(1, 100),
                "notify.pushgateway.retries",
                "`retries: 3`",
            )?,
            insecure,
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
    fn plain_http_to_another_machine_is_marked_insecure_unless_allowed() {
        let mut p = PushgatewayConfig {
            url: "http://pushgateway.monitoring:9091".into(),
            ..Default::default()
        };
        // Whether credentials are set is read from the environment; the
        // refusal itself is tested in tests/insecure_http.rs.
        assert_eq!(
            p.validate(Path::new("")).map(|s| s.insecure).ok(),
            Some(true).filter(|_| !credentials_set())
        );
        p.allow_insecure_http = true;
        assert!(!p.validate(Path::new("")).unwrap().insecure);
        p.allow_insecure_http = false;
        p.url = "http://127.0.0.1:9091".into();
        assert!(!p.validate(Path::new("")).unwrap().insecure);
        assert_eq!(
            insecure_credentials("http://pushgateway.monitoring:9091").to_string(),
            "notify.pushgateway.url: \"http://pushgateway.monitoring:9091\" is plain http to another machine and credentials are set (DRIFT_CHECK_PUSHGATEWAY_*): they would cross the network in cleartext; use https, or set notify.pushgateway.allowInsecureHttp: true, e.g. https://pushgateway.monitoring:9091"
        );
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
