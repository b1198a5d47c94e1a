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
use crate::cli::CommonArgs;
use crate::diff::{FLUX_MANAGERS, PERSON_MANAGERS, Policy};
use crate::report::Format;
use crate::yaml;

/// The config file, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct FileConfig {
    /// Cluster name for reports, fingerprints and metrics.
    pub cluster: Option<String>,
    /// The infra repo: a local directory.
    pub repo: Option<PathBuf>,
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
    /// Sinks of `run`: `matrix:` and `pushgateway:` (see `notify::config`).
    pub notify: crate::notify::NotifyConfig,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster: String,
    pub repo: PathBuf,
    pub live_snapshot: PathBuf,
    pub kustomizations_dir: Option<PathBuf>,
    pub kustomizations: Vec<String>,
    pub output: Format,
    pub ignore: Vec<IgnoreRule>,
    pub controllers: Vec<String>,
    pub policy: Policy,
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
    pub fn new(args: &CommonArgs, output: Option<Format>) -> Result<Self, ConfigError> {
        let (file, base) = match &args.config {
            Some(path) => (
                yaml::read_document::<FileConfig>(path).map_err(ConfigError::File)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (FileConfig::default(), PathBuf::new()),
        };
        let from_file = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
        let repo =
            args.repo
                .clone()
                .or_else(|| from_file(&file.repo))
                .ok_or(ConfigError::Missing {
                    flag: "--repo",
                    key: "repo",
                    example: "--repo ./infra",
                })?;
        let live_snapshot = args
            .live_snapshot
            .clone()
            .or_else(|| from_file(&file.live_snapshot))
            .ok_or(ConfigError::Missing {
                flag: "--live-snapshot",
                key: "liveSnapshot",
                example: "--live-snapshot ./snapshots/prod",
            })?;
        let cluster = args
            .cluster
            .clone()
            .or(file.cluster.clone())
            .or_else(|| {
                live_snapshot
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "default".into());
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
            repo: None,
            live_snapshot: None,
            kustomizations_dir: None,
            kustomizations: vec![],
            cluster: None,
        }
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
            anyhow::Error::from(Settings::new(&args(Some(path.clone())), None).unwrap_err())
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
        let s = Settings::new(&a, Some(Format::Json)).unwrap();
        assert_eq!((s.cluster.as_str(), s.output), ("staging", Format::Json));
        assert_eq!(s.repo, dir.path().join("infra"));
        assert_eq!(s.kustomizations, ["docs"]);
    }

    #[test]
    fn a_missing_repo_says_which_flag_and_key() {
        let err = Settings::new(&args(None), None).unwrap_err().to_string();
        assert_eq!(
            err,
            "--repo is required (or `repo:` in the config file), e.g. --repo ./infra"
        );
    }

    #[test]
    fn the_cluster_defaults_to_the_snapshot_directory_name() {
        let mut a = args(None);
        a.repo = Some("r".into());
        a.live_snapshot = Some("fixtures/live/prod".into());
        assert_eq!(Settings::new(&a, None).unwrap().cluster, "prod");
    }
}
