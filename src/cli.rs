//! Command-line interface: flags follow kubectl's habits; every flag can
//! also come from the environment (`DRIFT_CHECK_*`) or the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[arg(long, global = true, default_value = "warn", env = "DRIFT_CHECK_LOG")]
    pub log_level: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare the cluster with git and print the report. Exit code: 0 no
    /// unexplained drift, 1 unexplained drift, 2 something could not be checked.
    Check(CheckArgs),
    /// The nightly job: `check`, then the sinks of the config's `notify:` (Matrix,
    /// pushgateway). The report is printed first, whatever the sinks do. Exit
    /// code: 0 the run completed and every sink got it (drift or not), 2
    /// something could not be checked, 3 a sink failed.
    Run(CheckArgs),
    /// Print what Kustomizations render to, as Flux would apply it (like `flux build ks`),
    /// with Secret values masked. Exit code: 0, or 2 when a render failed.
    Render(CommonArgs),
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, env = "DRIFT_CHECK_OUTPUT")]
    pub output: Option<Format>,
}

/// Flags shared by `check` and `render`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file (YAML). Flags and environment variables override it.
    #[arg(long, env = "DRIFT_CHECK_CONFIG")]
    pub config: Option<PathBuf>,

    /// The infra repo: a local directory (its checkout).
    #[arg(long, env = "DRIFT_CHECK_REPO")]
    pub repo: Option<PathBuf>,

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
    pub kustomizations: Vec<String>,

    /// Cluster name for reports and fingerprints. Default: the snapshot
    /// directory's name.
    #[arg(long, env = "DRIFT_CHECK_CLUSTER")]
    pub cluster: Option<String>,
}

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
