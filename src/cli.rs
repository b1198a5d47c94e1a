//! Command-line interface: flags follow kubectl's habits; every setting
//! flag can also come from the environment (`DRIFT_CHECK_*`) or the config
//! file, whose key follows from the field's name (see `config::layers`).
//! Fields that are not settings of one key are `#[serde(skip)]`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::diff::DiffMode;
use crate::report::Format;

/// Finds what in a Flux-managed cluster no longer matches git, who changed it,
/// and whether anyone should be woken for it.
#[derive(Debug, Parser)]
#[command(name = "drift-check", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr: human-readable text, or JSON lines. Default: text on
    /// a terminal, JSON otherwise.
    #[arg(long, global = true, value_enum, env = "DRIFT_CHECK_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Log filter, in tracing's EnvFilter syntax (`info`, `drift_check=debug`).
    #[arg(
        long,
        global = true,
        default_value = "warn,kube_client::client::tls=error",
        env = "DRIFT_CHECK_LOG"
    )]
    pub log_level: String,

    /// Stage-by-stage progress on stderr (discover → render → fetch → diff,
    /// with counts). `auto`: on a terminal with text logs.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "DRIFT_CHECK_PROGRESS"
    )]
    pub progress: ProgressMode,
}

impl Cli {
    /// Parses the command line and the environment, noting which settings
    /// the environment gave (so that an error names the variable, not the
    /// flag). Exits with clap's message on a bad flag.
    pub fn parse_layered() -> Self {
        Self::layered(&Self::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    /// [`Cli::parse_layered`] of these arguments.
    pub fn try_parse_layered_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::layered(&Self::command().try_get_matches_from(args)?)
    }

    fn layered(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut cli = Self::from_arg_matches(matches)?;
        let Some((_, sub)) = matches.subcommand() else {
            return Ok(cli);
        };
        let from_env = sub
            .ids()
            .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
            .map(|id| id.to_string())
            .collect();
        match &mut cli.command {
            Command::Check(args) => args.common.from_env = from_env,
            Command::Run(args) => args.check.common.from_env = from_env,
            Command::Render(args) => args.common.from_env = from_env,
            Command::Config(_) => {}
        }
        Ok(cli)
    }
}

/// When to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare the cluster with git and print the report. Exit code: 0 no
    /// unexplained drift, 1 unexplained drift, 2 something could not be checked.
    Check(CheckArgs),
    /// The nightly job: `check`, then the sinks of the config's `notify:` (Matrix,
    /// pushgateway, webhook). The report is printed first, whatever the sinks do. Exit
    /// code: 0 the run completed and every sink got it (drift or not), 2
    /// something could not be checked, 3 a sink failed.
    #[command(after_long_help = SINKS)]
    Run(RunArgs),
    /// Print what Kustomizations render to, as Flux would apply it (like `flux build ks`),
    /// with Secret values masked. Exit code: 0, or 2 when a render failed.
    /// With `--kustomizations-dir` or `--kustomization-file` and no
    /// `--live-snapshot` it needs no cluster (like `flux build ks --dry-run`:
    /// `postBuild.substituteFrom` is not read).
    Render(RenderArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// The sinks of `run`, one line each (`run --help`).
const SINKS: &str = "\
Sinks (sections of the config's `notify:`; every key in `drift-check config example`):
  matrix       unexplained drift new, changed or resolved since the last post to a Matrix room
  pushgateway  the run's metrics to a Prometheus pushgateway (job drift_check, key cluster)
  webhook      the JSON report (schema drift-check/v1) POSTed to an HTTP endpoint";

/// `drift-check config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example config file with every key.
    Example,
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Output format.
    #[arg(short = 'o', long, env = "DRIFT_CHECK_OUTPUT",
          value_parser = PossibleValuesParser::new(Format::NAMES).try_map(|s| s.parse::<Format>()))]
    pub output: Option<Format>,

    /// How to compare: `local` (read-only: get/list) or `server` (server-side
    /// apply dry-run as kustomize-controller: what Flux itself would change;
    /// needs `patch` permission).
    #[arg(long, env = "DRIFT_CHECK_DIFF_MODE",
          value_parser = PossibleValuesParser::new(DiffMode::NAMES).try_map(|s| s.parse::<DiffMode>()))]
    pub diff_mode: Option<DiffMode>,

    /// Also write the report as one self-contained HTML page to this file
    /// (for a CI artifact or a web server), whatever `-o` prints.
    #[arg(long, value_name = "PATH", env = "DRIFT_CHECK_HTML_OUT")]
    pub html_out: Option<PathBuf>,
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub shard: ShardArgs,
}

/// `run` as one shard of a Kubernetes Indexed Job (job/sharded, README
/// "Sharding: when to switch").
#[derive(Debug, Default, Args)]
pub struct ShardArgs {
    /// Split the fleet's clusters over N shards, the Indexed Job's
    /// `completions`: this process checks those of shard --shard-index, and
    /// the last shard to report merges and notifies.
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_SHARDS")]
    pub shards: Option<u32>,

    /// This shard, 0 to N-1 (Kubernetes sets JOB_COMPLETION_INDEX in an
    /// Indexed Job's pods).
    #[arg(long, value_name = "I", env = "JOB_COMPLETION_INDEX")]
    pub shard_index: Option<u32>,

    /// The Job the shards are pods of: it owns their results (ConfigMaps)
    /// and their Lease (from the pod's label batch.kubernetes.io/job-name).
    #[arg(long, value_name = "NAME", env = "DRIFT_CHECK_SHARD_JOB")]
    pub shard_job: Option<String>,

    /// How long the shards wait, after the first one reported, for the
    /// others; then the clusters of those that did not report are "could
    /// not check".
    #[arg(
        long,
        value_name = "SECONDS",
        env = "DRIFT_CHECK_SHARD_WAIT",
        default_value_t = 600
    )]
    pub shard_wait: u64,
}

impl ShardArgs {
    /// The shard this process is; `None` for an unsharded run (no
    /// `--shards`, or 1).
    pub fn settings(
        &self,
    ) -> Result<Option<crate::fleet::shard::ShardSettings>, crate::fleet::shard::ShardArgError>
    {
        crate::fleet::shard::settings(
            self.shards,
            self.shard_index,
            self.shard_job.as_deref(),
            std::time::Duration::from_secs(self.shard_wait),
        )
    }
}

/// Flags of `render`.
#[derive(Debug, Default, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// A Flux Kustomization manifest (path relative to the current directory)
    /// to render instead of those of the live state or `--kustomizations-dir`,
    /// like `flux build ks --kustomization-file`.
    #[arg(long, value_name = "FILE", env = "DRIFT_CHECK_KUSTOMIZATION_FILE")]
    pub kustomization_file: Option<PathBuf>,
}

/// Flags shared by `check` and `render`. Serialized, a field is the config
/// key of its camelCased name (`None`s and empty lists left out).
#[derive(Clone, Debug, Default, Args, Serialize)]
pub struct CommonArgs {
    /// Config file (YAML). Flags and environment variables override it.
    #[arg(long, env = "DRIFT_CHECK_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// The fields clap read from the environment rather than from a flag
    /// (filled by [`Cli::parse_layered`]).
    #[arg(skip)]
    #[serde(skip)]
    pub from_env: BTreeSet<String>,

    /// Without it, every Kustomization is checked against its own source, fetched as
    /// the cluster names it. `--repo <namespace>/<name>=<url-or-checkout>` (repeatable)
    /// reads that GitRepository from a checkout or another URL. `--repo X` alone is
    /// the infra repo, standing for the GitRepository `--source` names (every
    /// GitRepository without `--source`): a git URL (`https://`, `http://`,
    /// `ssh://user@host:port/path`, `git@host:path`, `git://`, `file://`) or a local
    /// directory (used as it is, uncommitted changes included). Its credentials come
    /// from the environment (`DRIFT_CHECK_GIT_TOKEN`, `..._USERNAME`, `..._PASSWORD`,
    /// each also `..._FILE`) or `--git-secret-dir`, never from flags.
    #[arg(long, value_name = "REPO", env = "DRIFT_CHECK_REPO")]
    #[serde(skip)]
    pub repo: Vec<PathBuf>,

    /// The branch Flux follows [default: main].
    #[arg(long, env = "DRIFT_CHECK_BRANCH")]
    pub branch: Option<String>,

    /// Check this commit (`<sha>` or `main@sha1:<sha>`) instead of the branch head.
    #[arg(long, value_name = "SHA", env = "DRIFT_CHECK_REVISION")]
    pub revision: Option<String>,

    /// Keep the clone here and fetch into it on the next run (in the CronJob an emptyDir).
    #[arg(long, env = "DRIFT_CHECK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// A directory in the layout of Flux's git Secret (`identity`, `known_hosts`;
    /// or `username`, `password`): mount the Secret Flux uses there.
    #[arg(long, env = "DRIFT_CHECK_GIT_SECRET_DIR")]
    pub git_secret_dir: Option<PathBuf>,

    /// Limit for each git operation (connect and fetch), in seconds (1 to 86400) [default: 120].
    #[arg(long, value_name = "SECONDS", env = "DRIFT_CHECK_GIT_TIMEOUT")]
    pub git_timeout: Option<u64>,

    /// Live state from a directory of `kubectl get -o yaml --show-managed-fields`
    /// dumps (`List` kinds included) instead of a cluster.
    #[arg(long, env = "DRIFT_CHECK_LIVE_SNAPSHOT")]
    pub live_snapshot: Option<PathBuf>,

    /// Directory of the repo (relative to it) holding Flux Kustomization manifests,
    /// e.g. `clusters/prod`: used when the live state has no Kustomization objects.
    #[arg(long, env = "DRIFT_CHECK_KUSTOMIZATIONS_DIR")]
    pub kustomizations_dir: Option<PathBuf>,

    /// Check only this Kustomization (`name` or `namespace/name`); repeatable.
    #[arg(
        long = "kustomization",
        short = 'k',
        value_name = "NAME",
        env = "DRIFT_CHECK_KUSTOMIZATIONS",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kustomizations: Vec<String>,

    /// Cluster name for reports and fingerprints. Default: the snapshot
    /// directory's name, or the kubeconfig context. With a fleet (the config
    /// file's `clusters:`, several `--context`, `--all-contexts`): check only
    /// the cluster of this name.
    #[arg(long, env = "DRIFT_CHECK_CLUSTER")]
    #[serde(skip)]
    pub cluster: Option<String>,

    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster
    /// service account).
    #[arg(long, env = "DRIFT_CHECK_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one. Repeated
    /// (`--context prod-eu --context prod-us`): one run over those clusters,
    /// one report for them all.
    #[arg(
        long,
        value_name = "CONTEXT",
        env = "DRIFT_CHECK_CONTEXT",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub context: Vec<String>,

    /// Check every context of the kubeconfig (`--kubeconfig`, else
    /// $KUBECONFIG or ~/.kube/config), one cluster each, in one run.
    #[arg(long, env = "DRIFT_CHECK_ALL_CONTEXTS")]
    #[serde(skip)]
    pub all_contexts: bool,

    /// How many clusters of a fleet are checked at once (1 to 256)
    /// [default: the number of CPUs].
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_CLUSTERS_IN_FLIGHT")]
    pub clusters_in_flight: Option<u64>,

    /// The GitRepository (`namespace/name`) the infra repo `--repo X` stands for;
    /// every other source is fetched from the cluster. Default: every GitRepository.
    #[arg(long, value_name = "NAMESPACE/NAME", env = "DRIFT_CHECK_SOURCE")]
    pub source: Option<String>,

    /// Run this kustomize binary for the build step instead of the native
    /// engine (Flux's generation, spec injection and post-processing stay the
    /// same): for repos using what the native engine does not support
    /// (helmCharts, KRM plugins).
    #[arg(long, value_name = "PATH", env = "DRIFT_CHECK_KUSTOMIZE_BIN")]
    pub kustomize_bin: Option<PathBuf>,

    /// An unset postBuild variable without a default is an error, as with
    /// kustomize-controller's `StrictPostBuildSubstitutions` feature gate, on
    /// by default since Flux 2.9 [default: true]. `--strict-substitution=false`
    /// for controllers run with `--feature-gates=StrictPostBuildSubstitutions=false`.
    #[arg(
        long,
        env = "DRIFT_CHECK_STRICT_SUBSTITUTION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub strict_substitution: Option<bool>,

    /// Decrypt SOPS-encrypted objects and generator input files with each
    /// Kustomization's own `spec.decryption.secretRef` (its `*.agekey` and
    /// `*.asc` values), read from the cluster, to compare their values too;
    /// without it their encrypted values are not compared [default: false].
    #[arg(
        long,
        env = "DRIFT_CHECK_SOPS_DECRYPT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub sops_decrypt: Option<bool>,

    /// Compare each rendered HelmRelease's latest deployed release manifest
    /// with the cluster (reads Helm's release records, Secrets, in the
    /// storage namespaces; see job/components/helm-manifests) [default: false].
    #[arg(
        long,
        env = "DRIFT_CHECK_HELM_RELEASE_MANIFESTS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub helm_release_manifests: Option<bool>,

    /// Limit for each API request, in seconds (1 to 86400) [default: 30].
    #[arg(long, value_name = "SECONDS", env = "DRIFT_CHECK_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,

    /// How many API requests run at once (1 to 256) [default: 8].
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_CONCURRENCY")]
    pub concurrency: Option<u64>,

    /// How many of Flux's sources are fetched at once (1 to 64) [default: 4].
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_SOURCES_CONCURRENCY")]
    pub sources_concurrency: Option<u64>,

    /// Bytes one file of the repo or the snapshot may hold (1 to 4294967296)
    /// [default: 536870912].
    #[arg(long, value_name = "BYTES", env = "DRIFT_CHECK_LIMITS_FILE_BYTES")]
    pub limits_file_bytes: Option<u64>,

    /// YAML nodes one file may hold (1 to 1000000000) [default: 40000000].
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_LIMITS_YAML_NODES")]
    pub limits_yaml_nodes: Option<u64>,

    /// YAML documents one file may hold (1 to 10000000) [default: 100000].
    #[arg(long, value_name = "N", env = "DRIFT_CHECK_LIMITS_YAML_DOCUMENTS")]
    pub limits_yaml_documents: Option<u64>,

    /// A field manager whose writes to declared fields are expected;
    /// repeatable, replaces the defaults (kube-controller-manager and common
    /// autoscalers).
    #[arg(
        long = "controller-manager",
        value_name = "MANAGER",
        env = "DRIFT_CHECK_CONTROLLER_MANAGERS",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controller_managers: Vec<String>,

    /// A field manager of people (`*` wildcards): fields it adds that git
    /// does not declare are drift; repeatable, replaces the defaults
    /// (kubectl*, k9s*, lens*, ...).
    #[arg(
        long = "person-manager",
        value_name = "PATTERN",
        env = "DRIFT_CHECK_PERSON_MANAGERS",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub person_managers: Vec<String>,

    /// A field manager of Flux itself; repeatable, replaces the default
    /// (kustomize-controller).
    #[arg(
        long = "flux-manager",
        value_name = "MANAGER",
        env = "DRIFT_CHECK_FLUX_MANAGERS",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flux_managers: Vec<String>,

    /// Let the kubeconfig Secrets of remote Kustomizations (spec.kubeConfig)
    /// run exec credential plugins, as kustomize-controller's flag of the
    /// same name [default: false].
    #[arg(
        long,
        env = "DRIFT_CHECK_INSECURE_KUBECONFIG_EXEC",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub insecure_kubeconfig_exec: Option<bool>,

    /// Let the kubeconfig Secrets of remote Kustomizations disable TLS
    /// verification (insecure-skip-tls-verify), as kustomize-controller's
    /// flag of the same name [default: false].
    #[arg(
        long,
        env = "DRIFT_CHECK_INSECURE_KUBECONFIG_TLS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub insecure_kubeconfig_tls: Option<bool>,
}

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Checks `--log-level` (`DRIFT_CHECK_LOG`): comma-separated directives in
/// tracing's `EnvFilter` syntax, each a level (`off`, `error`, `warn`,
/// `info`, `debug`, `trace`) or `target=level`. A bare word that is not a
/// level is refused rather than read as a target logged at `trace` (what
/// `EnvFilter` does with a typo such as `verbose`, which then logs nothing
/// else). Returns the filter with the dependencies' noise turned down.
pub fn log_filter(spec: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let example = "e.g. --log-level info or DRIFT_CHECK_LOG=warn,drift_check=debug";
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains(['=', '[']) && !LEVELS.contains(&directive.to_lowercase().as_str()) {
            return Err(format!(
                "--log-level: {directive:?} is not a level (off, error, warn, info, debug, trace) or target=level, {example}"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(crate::notify::quiet_dependencies(spec))
        .map_err(|e| format!("--log-level: {spec:?} is not a log filter ({e}), {example}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_level_that_is_not_one_is_an_error() {
        assert!(log_filter("warn,kube_client::client::tls=error").is_ok());
        assert!(log_filter("INFO").is_ok() && log_filter("drift_check=debug").is_ok());
        assert_eq!(
            log_filter("verbose").unwrap_err(),
            "--log-level: \"verbose\" is not a level (off, error, warn, info, debug, trace) or target=level, e.g. --log-level info or DRIFT_CHECK_LOG=warn,drift_check=debug"
        );
        assert!(
            log_filter("drift_check=loud")
                .unwrap_err()
                .starts_with("--log-level: \"drift_check=loud\" is not a log filter ("),
        );
    }
}
