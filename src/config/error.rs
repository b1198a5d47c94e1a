//! Why a configuration cannot be used: one variant per kind of mistake, each
//! naming the setting as the person wrote it (its [`Origin`]: the flag, the
//! environment variable, or the config file and key) and, where one helps,
//! an example of a good value.

use std::path::PathBuf;

use super::layers::{LayerError, Origin};
use crate::bounds::OutOfRange;
use crate::classify::rules;
use crate::{diff, yaml};

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or has an unknown key or a bad value.
    #[error("config file")]
    File(#[source] yaml::YamlError),
    /// A layer's value is not of its setting's type.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// An ignore rule is invalid.
    #[error("config file {}", path.display())]
    Rule {
        path: PathBuf,
        #[source]
        source: rules::RuleError,
    },
    /// `--repo` names a second infra repo instead of the GitRepository it
    /// stands for.
    #[error(
        "--repo {repo}: the infra repo is given once; another repo names the GitRepository it stands for: --repo <namespace>/<name>={repo}"
    )]
    SecondInfraRepo { repo: String },
    /// A `sources.secretDirs` entry is not keyed `namespace/name`.
    #[error("{at}: {id:?} is not namespace/name (e.g. flux-system/apps: /etc/sources/apps)")]
    SecretDirId { at: Origin, id: String },
    /// The branch cannot be a git branch name.
    #[error("{at}: {branch:?} is not a branch name (e.g. main)")]
    Branch { at: Origin, branch: String },
    /// The revision is not a full commit sha.
    #[error(
        "{at}: {revision:?} is not a full commit sha (40 hex digits, or Flux's main@sha1:<sha>)"
    )]
    Revision { at: Origin, revision: String },
    /// The server-side dry-run asked for, with a snapshot instead of a cluster.
    #[error("{mode} server needs a cluster: it cannot be used with {snapshot}")]
    ServerModeWithSnapshot { mode: Origin, snapshot: Origin },
    /// The Kustomizations to discover are asked for in a way that cannot be.
    #[error("{at}")]
    Discover {
        at: Origin,
        #[source]
        source: crate::discover::OptionsError,
    },
    /// `helm:` is invalid (the helm stage's message names the key).
    #[error("{0}")]
    Helm(String),
    /// The `notify:` section is invalid.
    #[error("config file")]
    Notify(#[from] crate::notify::config::NotifyConfigError),
    /// A field-manager pattern is invalid.
    #[error("{at}: invalid pattern")]
    Pattern {
        at: Origin,
        #[source]
        source: diff::PatternError,
    },
    /// A number setting is outside its range (zero would never run or never
    /// wait; beyond the maximum a deadline or a size overflows).
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// The clusters of the fleet cannot be made out.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
}
