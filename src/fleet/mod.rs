//! The fleet: which clusters one run checks, and the run over them.
//!
//! Input: the config file's `clusters:` list ([`ClusterConfig`]), repeated
//! `--context`, `--all-contexts` over a kubeconfig, `--cluster NAME` to pick
//! one. Output: a [`Fleet`] — the clusters to check ([`Member`]: a name,
//! labels such as `env`/`region`, and how to reach it) and those that cannot
//! be checked at all ([`Rejected`]: a duplicate name), each scoped to its
//! cluster so the others are still checked.
//!
//! The run ([`run`]) is a bounded stream over the members: at most
//! `clusters_in_flight` checks at once, each the per-cluster check
//! ([`check_cluster`], a function of the cluster and the settings,
//! no state shared between clusters). Only each cluster's report is kept
//! once its check finishes: the live objects, renders and trees of a cluster
//! are dropped with its check, so memory follows the clusters in flight,
//! not the fleet's size.
//!
//! No fleet (no list, at most one `--context`): `None`, and the run is
//! today's single-cluster run, report and all.

mod check;
mod members;
pub mod shard;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;

use crate::bounds::Validated;
use crate::pipeline::{Progress, Settings};
use crate::report::Report;
use crate::report::fleet::{ClusterEntry, FleetReport};
pub use check::{check_cluster, run_fleet};
pub use members::{FleetError, Given, resolve};

/// One entry of the config file's `clusters:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterConfig {
    /// The cluster's name in reports, metrics and the Matrix state.
    pub name: String,
    /// A kubeconfig file (relative to the config file); default: $KUBECONFIG
    /// or ~/.kube/config.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; default: the file's current context.
    pub context: Option<String>,
    /// The service account of the pod drift-check runs in (the hub itself).
    #[serde(default)]
    pub in_cluster: bool,
    /// Live state from this snapshot directory instead of an API server.
    pub live_snapshot: Option<PathBuf>,
    /// Labels shown with the cluster (`env: prod`, `region: eu`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// How to reach one cluster of the fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A kubeconfig file (`None`: $KUBECONFIG or ~/.kube/config) at a
    /// context (`None`: its current one).
    Kubeconfig {
        file: Option<PathBuf>,
        context: Option<String>,
    },
    /// The pod's service account (as a run without kubeconfig).
    InCluster,
    /// A snapshot directory.
    Snapshot(PathBuf),
}

/// A cluster to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub target: Target,
}

/// A cluster that cannot be checked at all, and why (its name is taken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub reason: String,
}

/// The clusters of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fleet {
    /// In the order given.
    pub members: Vec<Member>,
    pub rejected: Vec<Rejected>,
    /// How many clusters are checked at once.
    pub in_flight: usize,
    /// Every cluster of the configured `clusters:` list is in this run (no
    /// `--cluster`): a cluster a sink holds from an earlier run and not in
    /// this one has left the fleet (its pushgateway group is deleted).
    pub complete: bool,
}

impl Fleet {
    /// The entries of the clusters that cannot be checked at all (a name
    /// given twice), after the checked ones in a fleet report.
    pub fn rejected_entries(&self) -> impl Iterator<Item = ClusterEntry> + '_ {
        self.rejected
            .iter()
            .map(|r| ClusterEntry::not_checked(&r.name, &r.labels, &r.reason))
    }

    /// More than one cluster: the report groups by cluster.
    pub fn is_many(&self) -> bool {
        self.members.len() + self.rejected.len() > 1
    }
}

/// The default of `--clusters-in-flight`: the CPUs this process may use.
pub fn default_in_flight() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// The settings of one member: `settings` with its name, its connection
/// (or snapshot) and, when sources are cached, a cache of its own (two
/// clusters in flight never fetch into one clone).
pub fn member_settings(member: &Member, settings: &Validated<Settings>) -> Validated<Settings> {
    settings.clone().map(|s| member_of(member, s))
}

/// `s` with `member`'s name, connection and cache.
fn member_of(member: &Member, mut s: Settings) -> Settings {
    s.cluster = Some(member.name.clone());
    match &member.target {
        Target::Kubeconfig { file, context } => {
            s.live.snapshot = None;
            s.live.cluster.kubeconfig = file.clone();
            s.live.cluster.context = context.clone();
        }
        Target::InCluster => {
            s.live.snapshot = None;
            s.live.cluster.kubeconfig = None;
            s.live.cluster.context = None;
        }
        Target::Snapshot(dir) => s.live.snapshot = Some(dir.clone()),
    }
    let own = |dir: &PathBuf| dir.join("clusters").join(&member.name);
    if let Some(source) = s.source.as_mut() {
        source.cache_dir = source.cache_dir.as_ref().map(own);
    }
    s.sources.cache_dir = s.sources.cache_dir.as_ref().map(own);
    s
}

/// Checks every member, at most `fleet.in_flight` at once, and keeps each
/// one's report (with how long it took) in the fleet's order; the rejected
/// ones are entries of their own.
pub async fn run(fleet: &Fleet, settings: &Validated<Settings>, progress: Progress) -> FleetReport {
    let started_at = crate::report::now();
    let checks = futures::stream::iter(fleet.members.iter().enumerate())
        .map(|(i, member)| async move {
            let started = std::time::Instant::now();
            let report = check_cluster(member, settings, progress).await;
            progress.line(format_args!(
                "cluster {}: {} findings, {} unexplained, {} errors",
                member.name,
                report.summary.findings,
                report.summary.unexplained,
                report.summary.errors
            ));
            (i, report, started.elapsed())
        })
        .buffer_unordered(fleet.in_flight.max(1));
    let mut done: Vec<(usize, Report, Duration)> = checks.collect().await;
    done.sort_by_key(|(i, _, _)| *i);
    let mut clusters: Vec<ClusterEntry> = done
        .into_iter()
        .map(|(i, report, took)| {
            let m = &fleet.members[i];
            ClusterEntry::checked(&m.name, &m.labels, report, took)
        })
        .collect();
    clusters.extend(fleet.rejected_entries());
    FleetReport::new(started_at, clusters)
}

#[cfg(test)]
mod tests;
