//! Shards: one fleet run split over the pods of a Kubernetes Indexed Job.
//!
//! Input: the fleet (every shard resolves the same one from the same
//! config), the shard's index (`JOB_COMPLETION_INDEX`, which Kubernetes sets
//! in an Indexed Job's pods) and the shard count (`--shards`, the Job's
//! `completions`). Shard `i` checks the clusters whose stable hash (the
//! first 8 bytes of the SHA-256 of the name, big-endian, modulo the count)
//! is `i`: the same cluster always lands on the same shard, whatever the
//! process, machine or Rust version.
//!
//! Fan-in, Kubernetes-native ([`fanin`]): each shard writes its result
//! ([`payload`]: its clusters' reports, gzipped JSON) to a ConfigMap owned
//! by the Job, then records that it reported on a Lease owned by the Job,
//! with an optimistic-concurrency update (the `resourceVersion` read). The
//! shard whose update completes the set is the merger; the others wait
//! (bounded: `--shard-wait` after the first shard reported) until a merger
//! is named, and at that deadline one of them names itself, through the
//! same compare-and-swap, so exactly one shard merges. The merger reads the
//! results of the shards the Lease lists and builds the fleet's report
//! ([`merge`]): the report an unsharded run would produce, except that the
//! clusters of a shard that did not report are "could not check: shard i
//! did not report" (exit 2) — never absent, so the Matrix state keeps their
//! findings open and the pushgateway keeps their groups. Then it posts the
//! one Matrix message and pushes the metrics, as an unsharded run does.
//!
//! Only fleets are sharded: a single cluster is checked by one process (its
//! Kustomizations are not split).

mod fanin;
mod merge;
mod payload;

use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::Fleet;
use crate::bounds::Validated;
use crate::pipeline::{Progress, Settings};
use crate::report::fleet::FleetReport;
pub use fanin::{Fanin, FaninError, Role};
pub use merge::merge;
pub use payload::{PayloadError, Reported, ShardResult, decode, encode};

/// Which shard this process is, of how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// How a sharded run finds its Job and waits for the others.
#[derive(Clone, Debug)]
pub struct ShardSettings {
    pub shard: Shard,
    /// The Job the shards are pods of (owner of the fan-in objects).
    pub job: String,
    /// How long after the first shard reported the others are waited for.
    pub wait: Duration,
}

/// The shard flags do not make a shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardArgError {
    #[error("--shards 0: there is at least one shard")]
    Zero,
    #[error(
        "--shards {count} needs --shard-index (JOB_COMPLETION_INDEX, set in an Indexed Job's pods)"
    )]
    NoIndex { count: u32 },
    #[error(
        "--shard-index {index} is not below --shards {count}: the Job's completions and --shards differ"
    )]
    Index { index: u32, count: u32 },
    #[error("--shards needs --shard-job (DRIFT_CHECK_SHARD_JOB): the Job owns the shards' results")]
    NoJob,
    #[error(
        "--shards splits the clusters of a fleet (`clusters:`, --context, --all-contexts); this run checks one cluster: run it unsharded"
    )]
    NoFleet,
}

/// The shard of `--shards`, `--shard-index`, `--shard-job`,
/// `--shard-wait`; `None` unsharded (no `--shards`, or 1).
pub fn settings(
    shards: Option<u32>,
    index: Option<u32>,
    job: Option<&str>,
    wait: Duration,
) -> Result<Option<ShardSettings>, ShardArgError> {
    let count = match shards {
        None | Some(1) => return Ok(None),
        Some(0) => return Err(ShardArgError::Zero),
        Some(n) => n,
    };
    let index = index.ok_or(ShardArgError::NoIndex { count })?;
    if index >= count {
        return Err(ShardArgError::Index { index, count });
    }
    let job = job
        .filter(|j| !j.trim().is_empty())
        .ok_or(ShardArgError::NoJob)?;
    Ok(Some(ShardSettings {
        shard: Shard { index, count },
        job: job.to_string(),
        wait,
    }))
}

/// The shard of a cluster of this name among `count`.
pub fn shard_of(name: &str, count: u32) -> u32 {
    let digest = Sha256::digest(name.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32
}

/// The part of the fleet shard `index` of `count` checks: its members and
/// rejected names, in the fleet's order.
pub fn select(fleet: &Fleet, index: u32, count: u32) -> Fleet {
    let mine = |name: &str| shard_of(name, count) == index;
    Fleet {
        members: fleet
            .members
            .iter()
            .filter(|m| mine(&m.name))
            .cloned()
            .collect(),
        rejected: fleet
            .rejected
            .iter()
            .filter(|r| mine(&r.name))
            .cloned()
            .collect(),
        in_flight: fleet.in_flight,
        complete: fleet.complete,
    }
}

/// Runs shard `shard` of the fleet: checks its clusters, hands its result
/// to the fan-in and, when it is the merger, prints the fleet's report and
/// sends it to the sinks. Exit code: the merger's is the fleet's (as
/// `run_fleet`'s); a shard that reported and did not merge exits 0 (its
/// clusters' outcome is in the merger's); 2 when this shard's result did
/// not make it into the fleet's report.
pub async fn run(
    fleet: &Fleet,
    settings: &Validated<Settings>,
    shard: &ShardSettings,
    progress: Progress,
    print: impl FnOnce(&FleetReport),
) -> u8 {
    let Shard { index, count } = shard.shard;
    let fanin = match Fanin::connect(&settings.live.cluster, shard).await {
        Ok(fanin) => fanin,
        Err(e) => return failed(index, &e),
    };
    let mine = select(fleet, index, count);
    info!(
        shard = index,
        shards = count,
        clusters = mine.members.len(),
        "Checking this shard's clusters"
    );
    let report = super::run(&mine, settings, progress).await;
    let bytes = match encode(&ShardResult::of(index, count, &report), payload::LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => return failed(index, &e),
    };
    let role = match fanin.report(&bytes).await {
        Ok(Some(role)) => Ok(role),
        Ok(None) => fanin.wait().await,
        Err(e) => Err(e),
    };
    match role {
        Ok(Role::Merger { reported }) => {
            info!(shard = index, reported = ?reported, "This shard merges");
            let results = fanin.results(&reported).await;
            let merged = merge(fleet, count, results);
            print(&merged);
            let sinks = Box::pin(crate::notify::notify_fleet(
                &settings.notify,
                &settings.live.cluster,
                &merged,
                fleet.complete,
            ))
            .await;
            crate::notify::fleet_exit_code(&merged, &sinks)
        }
        Ok(Role::Done { merger }) => {
            info!(shard = index, merger, "Reported; shard {merger} merges");
            0
        }
        Ok(Role::Late { merger }) => {
            warn!(
                shard = index,
                merger,
                "Reported after shard {merger} merged: this run's report has this shard's clusters as \"shard {index} did not report\""
            );
            2
        }
        Err(e) => failed(index, &e),
    }
}

/// A shard that could not report: logged, exit 2 (the merger reports its
/// clusters as not reported).
fn failed(index: u32, error: &dyn std::error::Error) -> u8 {
    let message = crate::error::error_chain(error);
    tracing::error!(shard = index, error = %message, "This shard did not report");
    eprintln!("drift-check: shard {index} did not report: {message}");
    2
}

#[cfg(test)]
mod tests;
