//! Configuration: a YAML file, overridden by environment variables and flags,
//! validated before any I/O.
//!
//! Two steps, as the style guide asks: [`FileConfig`] is the file as written
//! (unknown keys rejected with their name); [`Settings::new`] merges it with
//! the flags and validates everything into the settings the pipeline runs on.
//! Relative paths in the file are relative to the file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bounds::{self, OutOfRange, Range};
use crate::classify::{IgnoreRuleSpec, rules};
use crate::cli::CommonArgs;
use crate::diff::DiffMode;
use crate::files::Limits;
use crate::live::cluster::ClusterOptions;
use crate::pipeline::Settings;
use crate::report::Format;
use crate::source::{self, Location};
use crate::{classify, diff, discover, live, render, yaml};

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

impl LimitsConfig {
    /// The limits, defaults filled in; each within its range (at most 4 GiB
    /// of one file, a billion nodes, ten million documents).
    pub fn validate(&self) -> Result<Limits, OutOfRange> {
        let defaults = Limits::default();
        Ok(Limits {
            file_bytes: Range::bytes(MAX_FILE_BYTES).check(
                self.file_bytes.unwrap_or(defaults.file_bytes),
                "limits.fileBytes",
                "`limits: {fileBytes: 536870912}`",
            )?,
            yaml_nodes: bounds::count(
                self.yaml_nodes.unwrap_or(defaults.yaml_nodes) as u64,
                Range::count(1, 1_000_000_000),
                "limits.yamlNodes",
                "`limits: {yamlNodes: 40000000}`",
            )?,
            yaml_documents: bounds::count(
                self.yaml_documents.unwrap_or(defaults.yaml_documents) as u64,
                Range::count(1, 10_000_000),
                "limits.yamlDocuments",
                "`limits: {yamlDocuments: 100000}`",
            )?,
        })
    }
}

/// The largest `limits.fileBytes`: 4 GiB, eight times a 100,000-object
/// snapshot in one file.
const MAX_FILE_BYTES: u64 = 4 << 30;

/// The layered configuration: the pipeline's settings (each stage's part
/// validated by that stage) and how to print the report.
#[derive(Clone, Debug)]
pub struct Config {
    pub settings: Settings,
    pub output: Format,
    /// The clusters of the run; `None`: the one cluster of the settings.
    pub fleet: Option<crate::fleet::Fleet>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or has an unknown key or a bad value.
    #[error("config file")]
    File(#[source] yaml::YamlError),
    /// A required setting is missing.
    #[error("{flag} is required (or `{key}:` in the config file), e.g. {example}")]
    Missing {
        flag: &'static str,
        key: &'static str,
        example: &'static str,
    },
    /// An ignore rule is invalid.
    #[error("config file {}", path.display())]
    Rule {
        path: PathBuf,
        #[source]
        source: rules::RuleError,
    },
    /// Two settings that do not go together, or a malformed value.
    #[error("{0}")]
    Invalid(String),
    /// The `notify:` section is invalid.
    #[error("config file")]
    Notify(#[from] crate::notify::config::NotifyConfigError),
    /// A field-manager pattern is invalid.
    #[error("{key}: invalid pattern")]
    Pattern {
        key: &'static str,
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

impl Config {
    /// Layers flags (and their environment variables) over the config file,
    /// then has each stage validate its part. Reads only the config file.
    pub fn load(
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
        let mut overrides = Vec::new();
        let mut infra = None;
        for repo in &args.repo {
            let text = repo.to_string_lossy();
            match source::set::Override::parse(&text) {
                Some(o) => overrides.push(o),
                None if infra.is_none() => infra = Some(Location::parse(&text)),
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "--repo {text}: the infra repo is given once; another repo names the GitRepository it stands for: --repo <namespace>/<name>={text}"
                    )));
                }
            }
        }
        let location = match (infra, &file.repo) {
            (Some(location), _) => Some(location),
            (None, Some(repo)) => Some(match Location::parse(repo) {
                Location::Dir(dir) => Location::Dir(base.join(dir)),
                url => url,
            }),
            (None, None) => None,
        };
        let timeout = bounds::seconds(
            args.git_timeout.or(file.git_timeout).unwrap_or(120),
            "gitTimeout (--git-timeout, DRIFT_CHECK_GIT_TIMEOUT)",
            "`gitTimeout: 120`",
        )?;
        let cache_dir = args
            .cache_dir
            .clone()
            .or_else(|| from_file(&file.cache_dir));
        let source = match location {
            None => None,
            Some(location) => Some(
                source::Options {
                    location,
                    branch: args
                        .branch
                        .clone()
                        .or(file.branch.clone())
                        .unwrap_or_else(|| "main".into()),
                    revision: args.revision.clone().or(file.revision.clone()),
                    cache_dir: cache_dir.clone(),
                    secret_dir: args
                        .git_secret_dir
                        .clone()
                        .or_else(|| from_file(&file.git_secret_dir)),
                    timeout,
                }
                .validate()
                .map_err(ConfigError::Invalid)?,
            ),
        };
        let sources = source::set::Options {
            overrides,
            secret_dirs: file
                .sources
                .secret_dirs
                .iter()
                .map(|(id, dir)| {
                    match id.split_once('/') {
                        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {}
                        _ => {
                            return Err(ConfigError::Invalid(format!(
                                "sources.secretDirs: {id:?} is not namespace/name (e.g. flux-system/apps: /etc/sources/apps)"
                            )));
                        }
                    }
                    Ok((id.clone(), base.join(dir)))
                })
                .collect::<Result<_, _>>()?,
            limits: source::fetch::FetchLimits {
                timeout,
                ..Default::default()
            },
            concurrency: bounds::count(
                file.sources.concurrency.unwrap_or(4),
                bounds::Range::SOURCES,
                "sources.concurrency",
                "`sources: {concurrency: 4}`",
            )?,
            cache_dir,
        };
        let limits = file.limits.validate()?;
        let live = live::Options {
            snapshot: args
                .live_snapshot
                .clone()
                .or_else(|| from_file(&file.live_snapshot)),
            cluster: ClusterOptions {
                kubeconfig: args
                    .kubeconfig
                    .clone()
                    .or_else(|| from_file(&file.kubeconfig)),
                context: match args.context.as_slice() {
                    [one] => Some(one.clone()),
                    _ => file.context.clone(),
                },
                timeout: bounds::seconds(
                    args.request_timeout.or(file.request_timeout).unwrap_or(30),
                    "requestTimeout (--request-timeout, DRIFT_CHECK_REQUEST_TIMEOUT)",
                    "`requestTimeout: 30`",
                )?,
                concurrency: bounds::count(
                    args.concurrency.or(file.concurrency).unwrap_or(8),
                    Range::count(1, 256),
                    "concurrency (--concurrency, DRIFT_CHECK_CONCURRENCY)",
                    "`concurrency: 8`",
                )?,
                remote: crate::k8s::kubeconfig::Allow {
                    exec: args
                        .insecure_kubeconfig_exec
                        .or(file.insecure_kubeconfig_exec)
                        .unwrap_or(false),
                    insecure_tls: args
                        .insecure_kubeconfig_tls
                        .or(file.insecure_kubeconfig_tls)
                        .unwrap_or(false),
                },
            },
            limits,
        };
        let fleet = crate::fleet::resolve(&crate::fleet::Given {
            clusters: &file.clusters,
            base: &base,
            contexts: &args.context,
            all_contexts: args.all_contexts,
            kubeconfig: live.cluster.kubeconfig.as_deref(),
            select: args.cluster.as_deref(),
            in_flight: bounds::count(
                args.clusters_in_flight
                    .or(file.clusters_in_flight)
                    .unwrap_or_else(|| crate::fleet::default_in_flight().min(256)),
                Range::count(1, 256),
                "clustersInFlight (--clusters-in-flight, DRIFT_CHECK_CLUSTERS_IN_FLIGHT)",
                "`clustersInFlight: 4`",
            )?,
        })?;
        // With a fleet, `--cluster` picks one of it; the name is the member's.
        let named = if fleet.is_some() {
            None
        } else {
            args.cluster.clone()
        };
        let cluster = named.or(file.cluster.clone()).or_else(|| {
            live.snapshot
                .as_ref()
                .and_then(|s| s.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        });
        let diff_mode = diff_mode.or(file.diff_mode).unwrap_or_default();
        if diff_mode == DiffMode::Server && live.snapshot.is_some() {
            return Err(ConfigError::Invalid(
                "--diff-mode server needs a cluster: it cannot be used with --live-snapshot".into(),
            ));
        }
        let discover = discover::Options::new(
            args.kustomizations_dir
                .clone()
                .or(file.kustomizations_dir.clone()),
            if args.kustomizations.is_empty() {
                file.kustomizations.clone().unwrap_or_default()
            } else {
                args.kustomizations.clone()
            },
            args.source.as_deref().or(file.source.as_deref()),
            limits,
        )
        .map_err(ConfigError::Invalid)?;
        let classify = classify::Rules::new(&file.ignore, file.controller_managers.clone())
            .map_err(|source| ConfigError::Rule {
                path: args.config.clone().unwrap_or_default(),
                source,
            })?;
        let diff = diff::Options::new(
            diff_mode,
            file.flux_managers.clone(),
            file.person_managers.clone(),
        )
        .map_err(|source| ConfigError::Pattern {
            key: "personManagers",
            source,
        })?;
        let render = render::Options {
            kustomize_bin: args
                .kustomize_bin
                .clone()
                .or_else(|| from_file(&file.kustomize_bin)),
            strict_substitution: args
                .strict_substitution
                .or(file.strict_substitution)
                .unwrap_or(true),
            sops_decrypt: args.sops_decrypt.or(file.sops_decrypt).unwrap_or(false),
            limits,
        };
        Ok(Self {
            settings: Settings {
                cluster,
                source,
                sources,
                discover,
                render,
                live,
                diff,
                classify,
                helm: {
                    let mut helm = file.helm.validate().map_err(ConfigError::Invalid)?;
                    if let Some(on) = args.helm_release_manifests {
                        helm.release_manifests = on;
                    }
                    helm
                },
                notify: file.notify.validate(&base)?,
            },
            output: output.or(file.output).unwrap_or_default(),
            fleet,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
            "sopsDecrypt": parsed.sops_decrypt,
            "insecureKubeconfigExec": parsed.insecure_kubeconfig_exec,
            "insecureKubeconfigTls": parsed.insecure_kubeconfig_tls,
            "branch": parsed.branch, "revision": parsed.revision, "cacheDir": parsed.cache_dir,
            "gitSecretDir": parsed.git_secret_dir, "gitTimeout": parsed.git_timeout,
        });
        for (key, value) in json.as_object().unwrap() {
            assert!(!value.is_null(), "the example does not set {key}");
        }
        assert!(parsed.output.is_some() && parsed.diff_mode.is_some() && !parsed.ignore.is_empty());
        assert_eq!(parsed.limits.validate(), Ok(Limits::default()));
        let limits = &parsed.limits;
        assert!(
            limits.file_bytes.is_some()
                && limits.yaml_nodes.is_some()
                && limits.yaml_documents.is_some()
        );
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
        let settings = Config::load(&args(Some(path)), None, None).unwrap();
        assert_eq!(settings.settings.diff.mode, DiffMode::Server);
        assert_eq!(settings.settings.classify.ignore.len(), 1);
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
            anyhow::Error::from(Config::load(&args(Some(path.clone())), None, None).unwrap_err())
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
        let s = Config::load(&a, Some(Format::Json), None).unwrap();
        assert_eq!(
            (s.settings.cluster.as_deref(), s.output),
            (Some("staging"), Format::Json)
        );
        assert_eq!(
            s.settings.source.as_ref().unwrap().location,
            Location::Dir(dir.path().join("infra"))
        );
        assert_eq!(s.settings.discover.names, ["docs"]);
    }

    #[test]
    fn without_repo_every_source_comes_from_the_cluster_and_overrides_name_theirs() {
        let s = Config::load(&args(None), None, None).unwrap().settings;
        assert!(s.source.is_none());
        let mut a = args(None);
        a.repo = vec!["flux-system/apps=../apps".into(), "./infra".into()];
        let s = Config::load(&a, None, None).unwrap().settings;
        assert_eq!(
            s.source.as_ref().unwrap().location,
            Location::Dir("./infra".into())
        );
        assert_eq!(s.sources.overrides.len(), 1);
        assert_eq!(s.sources.overrides[0].name, "apps");
        a.repo.push("./other".into());
        assert_eq!(
            Config::load(&a, None, None).unwrap_err().to_string(),
            "--repo ./other: the infra repo is given once; another repo names the GitRepository it stands for: --repo <namespace>/<name>=./other"
        );
    }

    #[test]
    fn the_cluster_defaults_to_the_snapshot_directory_name() {
        let mut a = args(None);
        a.repo = vec!["r".into()];
        a.live_snapshot = Some("fixtures/live/prod".into());
        assert_eq!(
            Config::load(&a, None, None)
                .unwrap()
                .settings
                .cluster
                .as_deref(),
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
        let s = Config::load(&args(Some(path)), None, None).unwrap();
        assert_eq!(
            s.settings.source.as_ref().unwrap().location,
            Location::Url("git@github.com:org/infra.git".into())
        );
        assert_eq!(s.settings.source.as_ref().unwrap().branch, "prod");
        assert_eq!(
            s.settings.source.as_ref().unwrap().cache_dir,
            Some(dir.path().join("cache"))
        );
        assert_eq!(
            s.settings.source.as_ref().unwrap().secret_dir,
            Some(PathBuf::from("/etc/git"))
        );
        assert_eq!(
            s.settings.source.as_ref().unwrap().timeout,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn a_revision_must_be_a_full_sha() {
        let mut a = args(None);
        a.repo = vec!["r".into()];
        a.revision = Some("abc123".into());
        let err = Config::load(&a, None, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "revision: \"abc123\" is not a full commit sha (40 hex digits, or Flux's main@sha1:<sha>)"
        );
        a.revision = Some(format!("main@sha1:{}", "a".repeat(40)));
        assert!(Config::load(&a, None, None).is_ok());
    }

    #[test]
    fn server_mode_needs_a_cluster() {
        let mut a = args(None);
        a.repo = vec!["r".into()];
        a.live_snapshot = Some("snap".into());
        let err = Config::load(&a, None, Some(DiffMode::Server))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--diff-mode server needs a cluster: it cannot be used with --live-snapshot"
        );
    }

    /// The whole chain, as `main` prints it.
    fn message(config: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, config).unwrap();
        let err = Config::load(&args(Some(path)), None, None).unwrap_err();
        format!("{:#}", anyhow::Error::from(err)).replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn numbers_out_of_range_are_errors_naming_the_setting_with_an_example() {
        let cases = [
            (
                "concurrency: 0",
                "concurrency (--concurrency, DRIFT_CHECK_CONCURRENCY): must be between 1 and 256, got 0 (e.g. `concurrency: 8`)",
            ),
            (
                "concurrency: 100000",
                "concurrency (--concurrency, DRIFT_CHECK_CONCURRENCY): must be between 1 and 256, got 100000 (e.g. `concurrency: 8`)",
            ),
            (
                "requestTimeout: 0",
                "requestTimeout (--request-timeout, DRIFT_CHECK_REQUEST_TIMEOUT): must be between 1 and 86400 seconds, got 0 (e.g. `requestTimeout: 30`)",
            ),
            // Once a panic: "overflow when adding durations".
            (
                "requestTimeout: 18446744073709551615",
                "requestTimeout (--request-timeout, DRIFT_CHECK_REQUEST_TIMEOUT): must be between 1 and 86400 seconds, got 18446744073709551615 (e.g. `requestTimeout: 30`)",
            ),
            (
                "gitTimeout: 9223372036854775807",
                "gitTimeout (--git-timeout, DRIFT_CHECK_GIT_TIMEOUT): must be between 1 and 86400 seconds, got 9223372036854775807 (e.g. `gitTimeout: 120`)",
            ),
            (
                "limits: {fileBytes: 18446744073709551615}",
                "limits.fileBytes: must be between 1 and 4294967296 bytes, got 18446744073709551615 (e.g. `limits: {fileBytes: 536870912}`)",
            ),
            (
                "limits: {yamlNodes: 0}",
                "limits.yamlNodes: must be between 1 and 1000000000, got 0 (e.g. `limits: {yamlNodes: 40000000}`)",
            ),
            (
                "limits: {yamlDocuments: 10000001}",
                "limits.yamlDocuments: must be between 1 and 10000000, got 10000001 (e.g. `limits: {yamlDocuments: 100000}`)",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(message(&format!("repo: r\n{line}\n")), expected, "{line}");
        }
    }

    #[test]
    fn flags_are_bounded_like_the_file_and_win_over_it() {
        let mut a = args(None);
        a.repo = vec!["r".into()];
        a.request_timeout = Some(u64::MAX);
        assert!(matches!(
            Config::load(&a, None, None),
            Err(ConfigError::OutOfRange(OutOfRange { key, .. })) if key.starts_with("requestTimeout")
        ));
        a.request_timeout = Some(86_400);
        a.concurrency = Some(3);
        let live = Config::load(&a, None, None).unwrap().settings.live;
        assert_eq!(live.cluster.timeout, Duration::from_secs(86_400));
        assert_eq!(live.cluster.concurrency, 3);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "repo: r\nconcurrency: 2\nrequestTimeout: 5\n").unwrap();
        let mut a = args(Some(path));
        let live = Config::load(&a, None, None).unwrap().settings.live;
        assert_eq!(
            (live.cluster.concurrency, live.cluster.timeout.as_secs()),
            (2, 5)
        );
        a.concurrency = Some(4);
        let live = Config::load(&a, None, None).unwrap().settings.live;
        assert_eq!(
            (live.cluster.concurrency, live.cluster.timeout.as_secs()),
            (4, 5)
        );
    }

    #[test]
    fn person_manager_patterns_are_star_wildcards_only() {
        assert_eq!(
            message("repo: r\npersonManagers: [\"kubectl*\", \"ops-[0-9]\"]\n"),
            "personManagers: invalid pattern: \"ops-[0-9]\": `[` is not supported: patterns are field manager names with `*` wildcards only (e.g. \"kubectl*\" or \"ops-bot\")"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "repo: r\npersonManagers: [\"Mozilla/5.0 (X11; Linux)*\"]\n",
        )
        .unwrap();
        let config = Config::load(&args(Some(path)), None, None).unwrap();
        assert!(
            config
                .settings
                .diff
                .policy
                .is_person("Mozilla/5.0 (X11; Linux) Firefox")
        );
    }

    #[test]
    fn config_errors_print_each_message_once_and_no_library_hint() {
        assert_eq!(
            message(
                "repo: r\nignore:\n- paths: [/spec/replicas]\n  reason: hpa\n  target: {kind: \"Deploy(\"}\n"
            ),
            "config file DIR/c.yaml: ignore[0].target.kind: invalid regular expression \"Deploy(\": unclosed group"
        );
        assert_eq!(
            message("cluster: a\nrepo: r\ncluster: b\n"),
            "config file: DIR/c.yaml: line 3 column 1: duplicate mapping key \"cluster\""
        );
    }
}
