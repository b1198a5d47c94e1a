//! Configuration: a YAML file, overridden by environment variables and flags,
//! validated before any I/O.
//!
//! Two steps, as the style guide asks: [`FileConfig`] is the file as written
//! (unknown keys rejected with their name); [`Settings::new`] merges it with
//! the flags and validates everything into the settings the pipeline runs on.
//! Relative paths in the file are relative to the file's directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::classify::{IgnoreRule, IgnoreRuleSpec, rules};
use crate::flux::FLUX_MANAGERS;
use std::time::Duration;

use crate::cli::{CommonArgs, DiffMode};
use crate::diff::{PERSON_MANAGERS, Policy};
use crate::live::cluster::ClusterOptions;
use crate::report::Format;
use crate::source::{self, Location};
use crate::yaml;

/// A commented config file with every key (`drift-check config example`).
pub const EXAMPLE: &str = include_str!("config-example.yaml");

/// The config file, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct FileConfig {
    /// Cluster name for reports, fingerprints and metrics.
    pub cluster: Option<String>,
    /// The infra repo: a git URL or a local directory (relative to this file).
    pub repo: Option<String>,
    /// The branch Flux follows (default `main`).
    pub branch: Option<String>,
    /// Check this commit instead of the branch head.
    pub revision: Option<String>,
    /// Keep the clone here between runs.
    pub cache_dir: Option<PathBuf>,
    /// A directory in the layout of Flux's git Secret (`identity`, `known_hosts`, ...).
    pub git_secret_dir: Option<PathBuf>,
    /// Limit for each git operation, in seconds (default 120).
    pub git_timeout: Option<u64>,
    /// Live state from a snapshot directory instead of a cluster.
    pub live_snapshot: Option<PathBuf>,
    /// Directory of the repo with Flux Kustomization manifests (e.g. `clusters/prod`).
    pub kustomizations_dir: Option<PathBuf>,
    /// Check only these Kustomizations (`name` or `namespace/name`).
    pub kustomizations: Option<Vec<String>>,
    /// Output format of `check`: text, json or markdown.
    pub output: Option<Format>,
    /// Drift that is expected: JSON Pointers + a target selector + a reason.
    pub ignore: Vec<IgnoreRuleSpec>,
    /// Field managers whose writes to declared fields are expected
    /// (default: kube-controller-manager and common autoscalers).
    pub controller_managers: Option<Vec<String>>,
    /// Field managers of people (wildcards `*`): fields they add that git does
    /// not declare are drift (default: kubectl*, k9s*, lens*, Mozilla*, ...).
    pub person_managers: Option<Vec<String>>,
    /// Field managers of Flux itself (default: kustomize-controller).
    pub flux_managers: Option<Vec<String>>,
    /// Kubeconfig file.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    pub context: Option<String>,
    /// `local` or `server`.
    pub diff_mode: Option<DiffMode>,
    /// Render only Kustomizations whose source is this GitRepository (`namespace/name`).
    pub source: Option<String>,
    /// Limit for each API request, in seconds (default 30).
    pub request_timeout: Option<u64>,
    /// How many API requests run at once (default 8).
    pub concurrency: Option<usize>,
    /// A kustomize binary to run for the build step instead of the native engine.
    pub kustomize_bin: Option<PathBuf>,
    /// An unset postBuild variable without a default is an error (as
    /// kustomize-controller's StrictPostBuildSubstitutions feature gate).
    pub strict_substitution: Option<bool>,
    /// Sinks of `run`: `matrix:` and `pushgateway:` (see `notify::config`).
    pub notify: crate::notify::NotifyConfig,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `None`: the kubeconfig context names the cluster.
    pub cluster: Option<String>,
    /// The infra repo and how to read it.
    pub repo: source::Options,
    /// Live state from a snapshot; `None`: from the cluster.
    pub live_snapshot: Option<PathBuf>,
    pub cluster_options: ClusterOptions,
    pub diff_mode: DiffMode,
    /// The GitRepository (namespace, name) whose Kustomizations are rendered.
    pub source: Option<(String, String)>,
    pub kustomizations_dir: Option<PathBuf>,
    pub kustomizations: Vec<String>,
    pub output: Format,
    pub ignore: Vec<IgnoreRule>,
    pub controllers: Vec<String>,
    pub policy: Policy,
    /// Print stage-by-stage progress on stderr (set by the binary on a terminal).
    pub progress: bool,
    /// The external kustomize binary, when the native engine is not used.
    pub kustomize_bin: Option<PathBuf>,
    /// Strict postBuild substitution.
    pub strict_substitution: bool,
    /// Sinks of `run`.
    pub notify: crate::notify::NotifySettings,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or has an unknown key or a bad value.
    #[error("config file {0}")]
    File(#[source] yaml::YamlError),
    /// A required setting is missing.
    #[error("{flag} is required (or `{key}:` in the config file), e.g. {example}")]
    Missing {
        flag: &'static str,
        key: &'static str,
        example: &'static str,
    },
    /// An ignore rule is invalid.
    #[error("config file {}: {source}", path.display())]
    Rule {
        path: PathBuf,
        #[source]
        source: rules::RuleError,
    },
    /// Two settings that do not go together, or a malformed value.
    #[error("{0}")]
    Invalid(String),
    /// The `notify:` section is invalid.
    #[error("config file: {0}")]
    Notify(#[from] crate::notify::config::NotifyConfigError),
    /// A field-manager pattern is invalid.
    #[error("{key}: invalid pattern: {source}")]
    Pattern {
        key: &'static str,
        #[source]
        source: regex::Error,
    },
}

impl Settings {
    /// Merges flags (and their environment variables) over the config file and
    /// validates the result. Reads only the config file.
    pub fn new(
        args: &CommonArgs,
        output: Option<Format>,
        diff_mode: Option<DiffMode>,
    ) -> Result<Self, ConfigError> {
        let (file, base) = match &args.config {
            Some(path) => (
                yaml::read_document::<FileConfig>(path).map_err(ConfigError::File)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (FileConfig::default(), PathBuf::new()),
        };
        let from_file = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
        let location = match (&args.repo, &file.repo) {
            (Some(repo), _) => Location::parse(&repo.to_string_lossy()),
            (None, Some(repo)) => match Location::parse(repo) {
                Location::Dir(dir) => Location::Dir(base.join(dir)),
                url => url,
            },
            (None, None) => {
                return Err(ConfigError::Missing {
                    flag: "--repo",
                    key: "repo",
                    example: "--repo ./infra or --repo https://github.com/org/infra.git",
                });
            }
        };
        let branch = args
            .branch
            .clone()
            .or(file.branch.clone())
            .unwrap_or_else(|| "main".into());
        if branch.is_empty()
            || branch.starts_with('-')
            || branch.contains("..")
            || branch.contains(' ')
        {
            return Err(ConfigError::Invalid(format!(
                "branch: {branch:?} is not a branch name (e.g. main)"
            )));
        }
        let revision = args.revision.clone().or(file.revision.clone());
        if let Some(revision) = &revision {
            let sha = crate::flux::revision_commit(revision);
            if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Invalid(format!(
                    "revision: {revision:?} is not a full commit sha (40 hex digits, or Flux's main@sha1:<sha>)"
                )));
            }
        }
        let repo = source::Options {
            location,
            branch,
            revision,
            cache_dir: args
                .cache_dir
                .clone()
                .or_else(|| from_file(&file.cache_dir)),
            secret_dir: args
                .git_secret_dir
                .clone()
                .or_else(|| from_file(&file.git_secret_dir)),
            timeout: Duration::from_secs(
                args.git_timeout.or(file.git_timeout).unwrap_or(120).max(1),
            ),
        };
        let live_snapshot = args
            .live_snapshot
            .clone()
            .or_else(|| from_file(&file.live_snapshot));
        let cluster = args.cluster.clone().or(file.cluster.clone()).or_else(|| {
            live_snapshot
                .as_ref()
                .and_then(|s| s.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        });
        let diff_mode = diff_mode.or(file.diff_mode).unwrap_or_default();
        if diff_mode == DiffMode::Server && live_snapshot.is_some() {
            return Err(ConfigError::Invalid(
                "--diff-mode server needs a cluster: it cannot be used with --live-snapshot".into(),
            ));
        }
        let source = match args.source.clone().or(file.source.clone()) {
            None => None,
            Some(text) => match text.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Some((ns.to_string(), name.to_string()))
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "source: {text:?} is not namespace/name (e.g. flux-system/plana-pulse-infra)"
                    )));
                }
            },
        };
        let cluster_options = ClusterOptions {
            kubeconfig: args
                .kubeconfig
                .clone()
                .or_else(|| from_file(&file.kubeconfig)),
            context: args.context.clone().or(file.context.clone()),
            timeout: Duration::from_secs(
                args.request_timeout
                    .or(file.request_timeout)
                    .unwrap_or(30)
                    .max(1),
            ),
            concurrency: file.concurrency.unwrap_or(8).max(1),
        };
        let ignore = file
            .ignore
            .iter()
            .enumerate()
            .map(|(i, spec)| IgnoreRule::new(i, spec))
            .collect::<Result<_, _>>()
            .map_err(|source| ConfigError::Rule {
                path: args.config.clone().unwrap_or_default(),
                source,
            })?;
        let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let policy = Policy::new(
            &file
                .flux_managers
                .clone()
                .unwrap_or_else(|| strings(FLUX_MANAGERS)),
            &file
                .person_managers
                .clone()
                .unwrap_or_else(|| strings(PERSON_MANAGERS)),
        )
        .map_err(|source| ConfigError::Pattern {
            key: "personManagers",
            source,
        })?;
        Ok(Self {
            cluster,
            repo,
            live_snapshot,
            cluster_options,
            diff_mode,
            source,
            kustomizations_dir: args
                .kustomizations_dir
                .clone()
                .or(file.kustomizations_dir.clone()),
            kustomizations: if args.kustomizations.is_empty() {
                file.kustomizations.clone().unwrap_or_default()
            } else {
                args.kustomizations.clone()
            },
            output: output.or(file.output).unwrap_or_default(),
            ignore,
            controllers: file
                .controller_managers
                .clone()
                .unwrap_or_else(|| strings(rules::CONTROLLER_MANAGERS)),
            policy,
            progress: false,
            strict_substitution: args.strict_substitution
                || file.strict_substitution.unwrap_or(false),
            kustomize_bin: args
                .kustomize_bin
                .clone()
                .or_else(|| from_file(&file.kustomize_bin)),
            notify: file.notify.validate(&base)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>) -> CommonArgs {
        CommonArgs {
            config,
            ..Default::default()
        }
    }

    #[test]
    fn the_example_sets_every_key_and_round_trips() {
        let parsed: FileConfig = yaml::document(EXAMPLE, Path::new("example")).unwrap();
        // Every key is in the example: a field added without documenting it fails here.
        let json = serde_json::json!({
            "cluster": parsed.cluster, "repo": parsed.repo, "liveSnapshot": parsed.live_snapshot,
            "kustomizationsDir": parsed.kustomizations_dir, "kustomizations": parsed.kustomizations,
            "controllerManagers": parsed.controller_managers, "personManagers": parsed.person_managers,
            "fluxManagers": parsed.flux_managers, "kubeconfig": parsed.kubeconfig, "context": parsed.context,
            "source": parsed.source, "requestTimeout": parsed.request_timeout, "concurrency": parsed.concurrency,
            "branch": parsed.branch, "revision": parsed.revision, "cacheDir": parsed.cache_dir,
            "gitSecretDir": parsed.git_secret_dir, "gitTimeout": parsed.git_timeout,
            "kustomizeBin": parsed.kustomize_bin, "strictSubstitution": parsed.strict_substitution,
            "branch": parsed.branch, "revision": parsed.revision, "cacheDir": parsed.cache_dir,
            "gitSecretDir": parsed.git_secret_dir, "gitTimeout": parsed.git_timeout,
        });
        for (key, value) in json.as_object().unwrap() {
            assert!(!value.is_null(), "the example does not set {key}");
        }
        assert!(parsed.output.is_some() && parsed.diff_mode.is_some() && !parsed.ignore.is_empty());
        let matrix = parsed.notify.matrix.as_ref().expect("notify.matrix");
        assert!(matrix.store.is_some() && matrix.state_config_map.is_some());
        assert!(
            matrix.max_message_bytes.is_some()
                && matrix.timeout_seconds.is_some()
                && matrix.retries.is_some()
        );
        let pushgateway = parsed
            .notify
            .pushgateway
            .as_ref()
            .expect("notify.pushgateway");
        assert!(pushgateway.timeout_seconds.is_some() && pushgateway.retries.is_some());
        let webhook = parsed.notify.webhook.as_ref().expect("notify.webhook");
        assert!(!webhook.headers.is_empty() && webhook.bearer_token_file.is_some());
        assert!(webhook.timeout_seconds.is_some() && webhook.retries.is_some());
        let fields = parsed.ignore[0].target.as_ref().unwrap();
        assert!(
            fields.group.is_some()
                && fields.label_selector.is_some()
                && fields.annotation_selector.is_some()
        );
        // And it validates: merged with no flags it gives settings.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.yaml");
        std::fs::write(
            &path,
            EXAMPLE
                .replace("liveSnapshot:", "# liveSnapshot:")
                .replace("diffMode: local", "diffMode: server"),
        )
        .unwrap();
        let settings = Settings::new(&args(Some(path)), None, None).unwrap();
        assert_eq!(settings.diff_mode, DiffMode::Server);
        assert_eq!(settings.ignore.len(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drift-check.yaml");
        std::fs::write(
            &path,
            "cluster: prod\nrepo: ./infra\nliveSnapshot: ./snap\nignroe: []\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            anyhow::Error::from(Settings::new(&args(Some(path.clone())), None, None).unwrap_err())
        );
        assert!(
            err.contains("unknown field `ignroe`")
                && err.contains("line 4")
                && err.contains("drift-check.yaml"),
            "{err}"
        );
    }

    #[test]
    fn flags_override_the_file_and_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "cluster: prod\nrepo: infra\nliveSnapshot: snap\noutput: markdown\nkustomizations: [docs]\n").unwrap();
        let mut a = args(Some(path));
        a.cluster = Some("staging".into());
        let s = Settings::new(&a, Some(Format::Json), None).unwrap();
        assert_eq!(
            (s.cluster.as_deref(), s.output),
            (Some("staging"), Format::Json)
        );
        assert_eq!(s.repo.location, Location::Dir(dir.path().join("infra")));
        assert_eq!(s.kustomizations, ["docs"]);
    }

    #[test]
    fn a_missing_repo_says_which_flag_and_key() {
        let err = Settings::new(&args(None), None, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--repo is required (or `repo:` in the config file), e.g. --repo ./infra or --repo https://github.com/org/infra.git"
        );
    }

    #[test]
    fn the_cluster_defaults_to_the_snapshot_directory_name() {
        let mut a = args(None);
        a.repo = Some("r".into());
        a.live_snapshot = Some("fixtures/live/prod".into());
        assert_eq!(
            Settings::new(&a, None, None).unwrap().cluster.as_deref(),
            Some("prod")
        );
    }

    #[test]
    fn a_repo_url_in_the_file_is_kept_and_git_keys_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "repo: git@github.com:org/infra.git\nbranch: prod\ncacheDir: cache\ngitSecretDir: /etc/git\ngitTimeout: 30\n",
        )
        .unwrap();
        let s = Settings::new(&args(Some(path)), None, None).unwrap();
        assert_eq!(
            s.repo.location,
            Location::Url("git@github.com:org/infra.git".into())
        );
        assert_eq!(s.repo.branch, "prod");
        assert_eq!(s.repo.cache_dir, Some(dir.path().join("cache")));
        assert_eq!(s.repo.secret_dir, Some(PathBuf::from("/etc/git")));
        assert_eq!(s.repo.timeout, Duration::from_secs(30));
    }

    #[test]
    fn a_revision_must_be_a_full_sha() {
        let mut a = args(None);
        a.repo = Some("r".into());
        a.revision = Some("abc123".into());
        let err = Settings::new(&a, None, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "revision: \"abc123\" is not a full commit sha (40 hex digits, or Flux's main@sha1:<sha>)"
        );
        a.revision = Some(format!("main@sha1:{}", "a".repeat(40)));
        assert!(Settings::new(&a, None, None).is_ok());
    }

    #[test]
    fn server_mode_needs_a_cluster() {
        let mut a = args(None);
        a.repo = Some("r".into());
        a.live_snapshot = Some("snap".into());
        let err = Settings::new(&a, None, Some(DiffMode::Server))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--diff-mode server needs a cluster: it cannot be used with --live-snapshot"
        );
    }
}
