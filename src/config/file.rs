//! The config file as written: its schema (every key, documented), read
//! with serde-saphyr so that a wrong type names the line and column and an
//! unknown key is an error naming it. The same text, as a plain value, is
//! the file's layer of [`super::layers`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::classify::IgnoreRuleSpec;
use crate::diff::DiffMode;
use crate::report::Format;
use crate::yaml;

/// `text` as `T`; an error names the line, the column and the key
/// (`limits.fileBytes: invalid u64 at line 3, column 14`).
fn keyed<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, yaml::YamlError> {
    let limits = crate::files::Limits::default();
    let options = yaml::options(yaml::Dialect::Kubectl, &limits);
    let mut key = String::new();
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            key = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| yaml::YamlError::Parse {
        path: path.to_path_buf(),
        message: match yaml::message(&e, &limits) {
            message if key.is_empty() || key == "." || key == "?" => message,
            message => format!("{key}: {message}"),
        },
    })
}

/// The config file read: its settings, its text as a value (for the
/// layers), and its path.
#[derive(Debug, Default)]
pub struct Read {
    pub config: FileConfig,
    pub value: Option<(PathBuf, serde_json::Value)>,
}

impl Read {
    /// Reads `path`, or nothing without one.
    pub fn from(path: Option<&Path>) -> Result<Self, yaml::YamlError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let limits = crate::files::Limits::default();
        let text = yaml::read_bounded(path, limits.file_bytes)?;
        Ok(Self {
            config: keyed(&text, path)?,
            value: Some((path.to_path_buf(), yaml::document(&text, path)?)),
        })
    }

    /// The directory relative paths of the file are relative to.
    pub fn base(&self) -> PathBuf {
        self.value
            .as_ref()
            .and_then(|(path, _)| path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

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
    /// Output format of `check`: text, json, markdown or html.
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
    pub concurrency: Option<u64>,
    /// Let remote Kustomizations' kubeconfig Secrets run exec credential
    /// plugins (kustomize-controller's `--insecure-kubeconfig-exec`); default false.
    pub insecure_kubeconfig_exec: Option<bool>,
    /// Let remote Kustomizations' kubeconfig Secrets disable TLS
    /// verification (kustomize-controller's `--insecure-kubeconfig-tls`); default false.
    pub insecure_kubeconfig_tls: Option<bool>,
    /// A kustomize binary to run for the build step instead of the native engine.
    pub kustomize_bin: Option<PathBuf>,
    /// An unset postBuild variable without a default is an error (as
    /// kustomize-controller's StrictPostBuildSubstitutions feature gate, on by
    /// default since Flux 2.9); default true.
    pub strict_substitution: Option<bool>,
    /// Decrypt SOPS-encrypted objects with each Kustomization's own
    /// `spec.decryption.secretRef` (age and PGP keys), read from the cluster, to
    /// compare their values too; default false.
    pub sops_decrypt: Option<bool>,
    /// Sinks of `run`: `matrix:` and `pushgateway:` (see `notify::config`).
    pub notify: crate::notify::NotifyConfig,
    /// How much one file of the repo or the snapshot may hold.
    pub limits: LimitsConfig,
    /// What helm-controller deployed: `releaseManifests`, `types`.
    pub helm: crate::helm::HelmConfig,
    /// How Flux's sources are fetched from the cluster: `secretDirs`,
    /// `concurrency`.
    pub sources: SourcesConfig,
    /// The fleet: several clusters checked in one run, one report for them.
    pub clusters: Vec<crate::fleet::ClusterConfig>,
    /// How many clusters of the fleet are checked at once (default: the CPUs).
    pub clusters_in_flight: Option<u64>,
}

/// `sources:` of the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SourcesConfig {
    /// A directory per source (`namespace/name`) holding its Secret's keys as
    /// files (a Secret mounted into the Job), read instead of the cluster's
    /// Secret; `certSecretRef` and `proxySecretRef` in sub-directories of
    /// those names.
    pub secret_dirs: BTreeMap<String, PathBuf>,
    /// How many sources are fetched at once (default 4).
    pub concurrency: Option<u64>,
}

/// `limits:` of the config file: how much one file of the repo or of the
/// live snapshot may hold. Beyond them, the file is an error naming it and
/// the limit.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct LimitsConfig {
    /// Bytes of one file (default 536870912, 512 MiB).
    pub file_bytes: Option<u64>,
    /// YAML nodes (mappings, lists, scalars) of one file (default 40000000).
    pub yaml_nodes: Option<usize>,
    /// YAML documents of one file (default 100000).
    pub yaml_documents: Option<usize>,
}
