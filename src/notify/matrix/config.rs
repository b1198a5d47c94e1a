//! `notify.matrix:` as written in the config file, and its validation into
//! [`MatrixSettings`] (pure: no network, no file reads). The token or
//! password comes from the environment when the sink sends (`client.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::message::LinkTemplates;
use crate::notify::config::{NotifyConfigError, SinkConfig, SinkUrl, has_userinfo, is_http_url};

/// `notify.matrix:`. The token comes from `DRIFT_CHECK_MATRIX_TOKEN` (or the
/// file named by `DRIFT_CHECK_MATRIX_TOKEN_FILE`), or a password from
/// `DRIFT_CHECK_MATRIX_PASSWORD` / `DRIFT_CHECK_MATRIX_PASSWORD_FILE`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatrixConfig {
    /// Homeserver base URL, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// Room id (`!abc:example.org`) or alias (`#alerts:example.org`); joined if needed.
    pub room: String,
    /// The bot's user id, e.g. `@drift-check:example.org`.
    pub user: String,
    /// Directory of matrix-sdk's sqlite store (crypto keys, session). Needed for
    /// encrypted rooms with an access token; in a cluster, a PVC. Without it a
    /// password login makes a fresh device that is logged out at the end.
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// File remembering the fingerprints last posted. Default: in a pod, the
    /// ConfigMap `drift-check-state` of its namespace (the
    /// name job/rbac.yaml allows); elsewhere
    /// `drift-check-matrix-state.json` next to the config file.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// ConfigMap remembering them instead: `name` (in the pod's namespace, or
    /// the kubeconfig context's) or `namespace/name`. Needs get and patch on it.
    #[serde(default)]
    pub state_config_map: Option<String>,
    /// When nothing changed, still post the open findings once a day.
    #[serde(default)]
    pub daily_digest: bool,
    /// Post a finding still open again this long after it was announced,
    /// once per period, as "still open for 8 days" (e.g. `7d`; 1h to 365d).
    /// Default: never.
    #[serde(default)]
    pub remind_after: Option<String>,
    /// Changes and resolutions of findings announced within this long are
    /// also posted in the announcing message's thread (default `7d`; `0` for
    /// no thread replies; at most 90d).
    #[serde(default)]
    pub thread_window: Option<String>,
    /// Cap of the message (plain + HTML), bytes (default 24576; at most 45000: in an encrypted room the
    /// ciphertext is base64, a third larger, and Matrix caps events at 64 KiB).
    #[serde(default)]
    pub max_message_bytes: Option<usize>,
    /// Give up on Matrix after this long, retries included (default 120). One
    /// attempt may take a fifth of it (1 to 30 s) before it is retried.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Attempts per request on 429 (after its `retry_after_ms`), 5xx, connect
    /// errors and timeouts (default 5).
    #[serde(default)]
    pub retries: Option<usize>,
    /// Links from the message to git. Default: derived from the repository
    /// URL for GitHub, GitLab and Gitea/Forgejo hosts.
    #[serde(default)]
    pub links: Option<LinksConfig>,
    /// Allow `http://` to a homeserver that is not on this machine: the
    /// access token (or password) then crosses the network in cleartext.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// `notify.matrix.links:` URL templates; `{sha}` is the commit Flux applied,
/// `{path}` the Kustomization's path in the repository.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// e.g. `https://git.example.com/org/infra/src/commit/{sha}`.
    #[serde(default)]
    pub commit: Option<String>,
    /// e.g. `https://git.example.com/org/infra/src/commit/{sha}/{path}`.
    #[serde(default)]
    pub file: Option<String>,
}

/// Validated Matrix settings.
#[derive(Clone, Debug)]
pub struct MatrixSettings {
    pub homeserver: String,
    pub room: String,
    pub user: String,
    pub store: Option<PathBuf>,
    pub state: StateLocation,
    pub daily_digest: bool,
    /// `remindAfter`; `None`: no reminders.
    pub remind_after: Option<Duration>,
    /// `threadWindow`; zero: no thread replies.
    pub thread_window: Duration,
    pub max_message_bytes: usize,
    pub timeout: Duration,
    pub retries: usize,
    /// The configured link templates (the others derived from the repository URL when posting).
    pub links: LinkTemplates,
}

/// Where the Matrix sink remembers what it posted.
#[derive(Clone, Debug, PartialEq)]
pub enum StateLocation {
    /// A JSON file.
    File(PathBuf),
    /// A ConfigMap; `None` namespace: the pod's (or the kubeconfig context's).
    ConfigMap {
        namespace: Option<String>,
        name: String,
    },
    /// Neither set: the ConfigMap `config_map` of the pod's namespace in a
    /// pod (`drift-check-state`), else the file.
    Default { file: PathBuf, config_map: String },
}

/// Largest message accepted for `maxMessageBytes`: Matrix caps events at 64 KiB,
/// and an encrypted one carries the message as base64 (4/3 of its size).
pub const MAX_MESSAGE_BYTES: usize = 45_000;

impl SinkConfig for MatrixConfig {
    type Settings = MatrixSettings;

    fn validate(&self, base: &Path) -> Result<MatrixSettings, NotifyConfigError> {
        let invalid = NotifyConfigError::invalid;
        let m = self;
        SinkUrl {
            key: "matrix.homeserver",
            example: "https://matrix.example.org",
            credentials_belong: "has credentials in it: they belong in DRIFT_CHECK_MATRIX_TOKEN or DRIFT_CHECK_MATRIX_PASSWORD",
        }
        .check(
            &m.homeserver,
            (!m.allow_insecure_http).then_some((
                "is plain http to another machine: the access token would cross the network in cleartext; use https, or set notify.matrix.allowInsecureHttp: true",
                "https://matrix.example.org",
            )),
        )?;
        let server_part = |s: &str| {
            s.split_once(':')
                .is_some_and(|(a, b)| a.len() > 1 && !b.is_empty())
        };
        if !(m.room.starts_with('!') || m.room.starts_with('#')) || !server_part(&m.room) {
            return Err(invalid(
                "matrix.room",
                &m.room,
                "is neither a room id nor an alias",
                "\"#alerts:example.org\" or \"!AbCdEf:example.org\"",
            ));
        }
        if !m.user.starts_with('@') || !server_part(&m.user) {
            return Err(invalid(
                "matrix.user",
                &m.user,
                "is not a Matrix user id",
                "\"@drift-check:example.org\"",
            ));
        }
        let max = m.max_message_bytes.unwrap_or(24_576);
        if !(2_048..=MAX_MESSAGE_BYTES).contains(&max) {
            return Err(invalid(
                "matrix.maxMessageBytes",
                &max.to_string(),
                "is not between 2048 and 45000",
                "24576",
            ));
        }
        let links = m.links.clone().unwrap_or_default();
        for (key, template, needs) in [
            ("matrix.links.commit", &links.commit, &["{sha}"][..]),
            ("matrix.links.file", &links.file, &["{sha}", "{path}"][..]),
        ] {
            let Some(t) = template else { continue };
            if !is_http_url(t) || has_userinfo(t) || needs.iter().any(|n| !t.contains(n)) {
                return Err(invalid(
                    key,
                    &crate::redact::url(t),
                    if needs.len() == 1 {
                        "is not an http(s) URL template with {sha} and no credentials"
                    } else {
                        "is not an http(s) URL template with {sha} and {path} and no credentials"
                    },
                    if needs.len() == 1 {
                        "https://git.example.com/org/infra/src/commit/{sha}"
                    } else {
                        "https://git.example.com/org/infra/src/commit/{sha}/{path}"
                    },
                ));
            }
        }
        Ok(MatrixSettings {
            homeserver: m.homeserver.trim_end_matches('/').to_string(),
            room: m.room.clone(),
            user: m.user.clone(),
            store: m.store.as_ref().map(|p| base.join(p)),
            state: match (&m.state_file, &m.state_config_map) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "matrix.stateConfigMap",
                        m.state_config_map.as_deref().unwrap_or_default(),
                        "is set together with stateFile: set one",
                        "stateConfigMap: drift-check-state",
                    ));
                }
                (Some(file), None) => StateLocation::File(base.join(file)),
                (None, Some(cm)) => config_map(cm).ok_or_else(|| {
                    invalid(
                        "matrix.stateConfigMap",
                        cm,
                        "is not `name` or `namespace/name`",
                        "drift-check/drift-check-state",
                    )
                })?,
                (None, None) => StateLocation::Default {
                    file: base.join("drift-check-matrix-state.json"),
                    config_map: "drift-check-state".into(),
                },
            },
            daily_digest: m.daily_digest,
            remind_after: match &m.remind_after {
                None => None,
                Some(text) => Some(duration(
                    text,
                    crate::bounds::Range {
                        min: 3_600,
                        max: 365 * DAY,
                        unit: " seconds",
                    },
                    "notify.matrix.remindAfter",
                    "`remindAfter: 7d`",
                )?),
            },
            thread_window: match m.thread_window.as_deref().map(str::trim) {
                None => Duration::from_secs(7 * DAY),
                Some("0") => Duration::ZERO,
                Some(text) => duration(
                    text,
                    crate::bounds::Range {
                        min: 0,
                        max: 90 * DAY,
                        unit: " seconds",
                    },
                    "notify.matrix.threadWindow",
                    "`threadWindow: 7d`",
                )?,
            },
            max_message_bytes: max,
            timeout: crate::bounds::seconds(
                m.timeout_seconds.unwrap_or(120),
                "notify.matrix.timeoutSeconds",
                "`timeoutSeconds: 120`",
            )?,
            retries: crate::bounds::count(
                m.retries.unwrap_or(5) as u64,
                crate::bounds::Range::count(1, 100),
                "notify.matrix.retries",
                "`retries: 5`",
            )?,
            links: LinkTemplates {
                commit: links.commit,
                file: links.file,
            },
        })
    }
}

const DAY: u64 = 86_400;

/// A duration setting: not one at all is an error naming the key and the
/// value; one out of range, naming the key and the range.
fn duration(
    text: &str,
    range: crate::bounds::Range,
    key: &'static str,
    example: &'static str,
) -> Result<Duration, NotifyConfigError> {
    crate::bounds::duration(text, range, key, example).map_err(|e| match e {
        Some(out) => out.into(),
        None => NotifyConfigError::invalid(
            key.trim_start_matches("notify."),
            text,
            "is not a duration in seconds, minutes, hours, days or weeks",
            example,
        ),
    })
}

/// `name` or `namespace/name`, DNS-1123 names.
fn config_map(s: &str) -> Option<StateLocation> {
    let dns = |p: &str| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !p.starts_with(['-', '.'])
            && !p.ends_with(['-', '.'])
    };
    match s.split_once('/') {
        Some((ns, name)) if dns(ns) && dns(name) => Some(StateLocation::ConfigMap {
            namespace: Some(ns.into()),
            name: name.into(),
        }),
        None if dns(s) => Some(StateLocation::ConfigMap {
            namespace: None,
            name: s.into(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(room: &str) -> MatrixConfig {
        MatrixConfig {
            homeserver: "https://matrix.example.org/".into(),
            room: room.into(),
            user: "@bot:example.org".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_room_that_is_neither_id_nor_alias_is_named_with_an_example() {
        let err = matrix("alerts")
            .validate(Path::new(""))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "notify.matrix.room: \"alerts\" is neither a room id nor an alias, e.g. \"#alerts:example.org\" or \"!AbCdEf:example.org\""
        );
    }

    #[test]
    fn defaults_and_paths_relative_to_the_config_file() {
        let s = matrix("#alerts:example.org")
            .validate(Path::new("/etc/drift-check"))
            .unwrap();
        assert_eq!(s.homeserver, "https://matrix.example.org");
        assert_eq!(
            s.state,
            StateLocation::Default {
                file: "/etc/drift-check/drift-check-matrix-state.json".into(),
                config_map: "drift-check-state".into()
            }
        );
        assert_eq!((s.max_message_bytes, s.retries), (24_576, 5));
    }

    #[test]
    fn the_state_config_map_is_a_name_or_namespace_slash_name() {
        let mut m = matrix("#alerts:example.org");
        m.state_config_map = Some("drift-check/state".into());
        assert_eq!(
            m.validate(Path::new("")).unwrap().state,
            StateLocation::ConfigMap {
                namespace: Some("drift-check".into()),
                name: "state".into()
            }
        );
        m.state_config_map = Some("Bad_Name".into());
        assert!(m.validate(Path::new("")).is_err());
    }

    #[test]
    fn plain_http_to_another_machine_is_refused_unless_allowed() {
        let mut m = matrix("#alerts:example.org");
        m.homeserver = "http://matrix.example.org:8008".into();
        assert_eq!(
            m.validate(Path::new("")).unwrap_err().to_string(),
            "notify.matrix.homeserver: \"http://matrix.example.org:8008\" is plain http to another machine: the access token would cross the network in cleartext; use https, or set notify.matrix.allowInsecureHttp: true, e.g. https://matrix.example.org"
        );
        m.allow_insecure_http = true;
        assert!(m.validate(Path::new("")).is_ok());
        m.allow_insecure_http = false;
        m.homeserver = "http://127.0.0.1:8008".into();
        assert!(m.validate(Path::new("")).is_ok());
    }

    #[test]
    fn remind_after_and_thread_window_are_durations_within_bounds_named_when_bad() {
        let mut m = matrix("#alerts:example.org");
        let s = m.validate(Path::new("")).unwrap();
        assert_eq!(s.remind_after, None);
        assert_eq!(s.thread_window, Duration::from_secs(7 * DAY));
        m.remind_after = Some("7d".into());
        m.thread_window = Some("0".into());
        let s = m.validate(Path::new("")).unwrap();
        assert_eq!(s.remind_after, Some(Duration::from_secs(7 * DAY)));
        assert_eq!(s.thread_window, Duration::ZERO);
        m.remind_after = Some("a week".into());
        assert_eq!(
            m.validate(Path::new("")).unwrap_err().to_string(),
            "notify.matrix.remindAfter: \"a week\" is not a duration in seconds, minutes, hours, days or weeks, e.g. `remindAfter: 7d`"
        );
        m.remind_after = Some("10m".into());
        assert_eq!(
            m.validate(Path::new("")).unwrap_err().to_string(),
            "notify.matrix.remindAfter: must be between 3600 and 31536000 seconds, got 600 (e.g. `remindAfter: 7d`)"
        );
        m.remind_after = None;
        m.thread_window = Some("100d".into());
        assert_eq!(
            m.validate(Path::new("")).unwrap_err().to_string(),
            "notify.matrix.threadWindow: must be between 0 and 7776000 seconds, got 8640000 (e.g. `threadWindow: 7d`)"
        );
    }

    #[test]
    fn a_link_template_needs_its_placeholders() {
        let mut m = matrix("#alerts:example.org");
        m.links = Some(LinksConfig {
            commit: Some("https://git.example.com/org/infra/src/commit/{sha}".into()),
            file: Some("https://git.example.com/org/infra/src/commit/{sha}".into()),
        });
        assert_eq!(
            m.validate(Path::new("")).unwrap_err().to_string(),
            "notify.matrix.links.file: \"https://git.example.com/org/infra/src/commit/{sha}\" is not an http(s) URL template with {sha} and {path} and no credentials, e.g. https://git.example.com/org/infra/src/commit/{sha}/{path}"
        );
        m.links.as_mut().unwrap().file = None;
        assert_eq!(
            m.validate(Path::new("")).unwrap().links.commit.as_deref(),
            Some("https://git.example.com/org/infra/src/commit/{sha}")
        );
    }
}
