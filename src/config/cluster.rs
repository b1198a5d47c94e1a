//! The `live` stage's settings — a snapshot or a cluster (kubeconfig,
//! context, request timeout, concurrency, what remote kubeconfigs may do) —
//! and the fleet: which clusters one run checks, and the cluster's name.

use super::file::Read;
use super::layers::Layers;
use super::{ConfigError, count, seconds};
use crate::bounds::Range;
use crate::cli::CommonArgs;
use crate::files::Limits;
use crate::fleet::{self, Fleet};
use crate::live::{self, cluster::ClusterOptions};

/// Where the live state comes from and how the cluster is reached.
pub fn live(
    layers: &Layers,
    args: &CommonArgs,
    file: &Read,
    limits: Limits,
) -> Result<live::Options, ConfigError> {
    Ok(live::Options {
        snapshot: layers.path("liveSnapshot")?,
        cluster: ClusterOptions {
            kubeconfig: layers.path("kubeconfig")?,
            // Several `--context`: a fleet, each member its own.
            context: match args.context.as_slice() {
                [one] => Some(one.clone()),
                _ => file.config.context.clone(),
            },
            timeout: seconds(layers, "requestTimeout", "`requestTimeout: 30`")?,
            concurrency: count(
                layers,
                "concurrency",
                Range::count(1, 256),
                "`concurrency: 8`",
            )?,
            remote: crate::k8s::kubeconfig::Allow {
                exec: layers.require("insecureKubeconfigExec")?.0,
                insecure_tls: layers.require("insecureKubeconfigTls")?.0,
            },
        },
        limits,
    })
}

/// The clusters of the run (`None`: the one of `live`) and the name of the
/// one cluster: `--cluster`, `cluster:`, else the snapshot directory's name.
pub fn fleet(
    layers: &Layers,
    args: &CommonArgs,
    file: &Read,
    live: &live::Options,
) -> Result<(Option<Fleet>, Option<String>), ConfigError> {
    let fleet = fleet::resolve(&fleet::Given {
        clusters: &file.config.clusters,
        base: &file.base(),
        contexts: &args.context,
        all_contexts: args.all_contexts,
        kubeconfig: live.cluster.kubeconfig.as_deref(),
        select: args.cluster.as_deref(),
        in_flight: count(
            layers,
            "clustersInFlight",
            Range::count(1, 256),
            "`clustersInFlight: 4`",
        )?,
    })?;
    // With a fleet, `--cluster` picks one of it; the name is the member's.
    let named = if fleet.is_some() {
        None
    } else {
        args.cluster.clone()
    };
    let cluster = named.or(file.config.cluster.clone()).or_else(|| {
        live.snapshot
            .as_ref()
            .and_then(|s| s.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    });
    Ok((fleet, cluster))
}
