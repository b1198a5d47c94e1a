//! The merger's work: the shards' results back into one fleet report, in
//! the fleet's order (members, then the names given twice, which no shard
//! checks), as an unsharded run reports it. A shard that did not report, whose result
//! cannot be read, or that checked other clusters than this process's
//! fleet gives its clusters "could not check" entries naming the shard:
//! nothing is left out, so no sink takes them for gone or resolved.

use std::collections::{BTreeMap, VecDeque};

use super::payload::ShardResult;
use super::{Fleet, select, shard_of};
use crate::report::fleet::{ClusterEntry, FleetReport};

/// The fleet's report from the results of the shards that reported (by
/// index; `Err`: why a reported result could not be read). The run's start
/// is the earliest shard's.
pub fn merge(
    fleet: &Fleet,
    count: u32,
    mut results: BTreeMap<u32, Result<ShardResult, String>>,
) -> FleetReport {
    let started_at = results
        .values()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.started_at.clone())
        .min()
        .unwrap_or_else(crate::report::now);
    let mut shards: Vec<VecDeque<ClusterEntry>> = (0..count)
        .map(|index| entries(fleet, index, count, results.remove(&index)))
        .collect();
    let mut clusters = Vec::with_capacity(fleet.members.len() + fleet.rejected.len());
    for m in &fleet.members {
        clusters.extend(shards[shard_of(&m.name, count) as usize].pop_front());
    }
    clusters.extend(fleet.rejected_entries());
    FleetReport::new(started_at, clusters)
}

/// Shard `index`'s members' entries in its part's order: from its result
/// when that is of exactly its clusters, else "could not check".
fn entries(
    fleet: &Fleet,
    index: u32,
    count: u32,
    result: Option<Result<ShardResult, String>>,
) -> VecDeque<ClusterEntry> {
    let part = select(fleet, index, count);
    let expected: Vec<&str> = part.members.iter().map(|m| m.name.as_str()).collect();
    let reason = match result {
        None => format!("shard {index} did not report"),
        Some(Err(e)) => format!("shard {index}'s result cannot be read: {e}"),
        Some(Ok(r)) if r.count != count => format!(
            "shard {index} ran as one of {} shards, not {count}: the Job's completions and --shards differ",
            r.count
        ),
        Some(Ok(r)) => {
            // Its members come first, then the names given twice.
            let names: Vec<&str> = r.clusters.iter().map(|c| c.name.as_str()).collect();
            if names.len() == expected.len() + part.rejected.len()
                && names.get(..expected.len()) == Some(&expected[..])
            {
                let members = r.clusters.into_iter().take(expected.len());
                return members.map(|c| c.into_entry()).collect();
            }
            format!(
                "shard {index} checked other clusters ({}) than its share of this fleet: do all shards read the same config?",
                names.join(", ")
            )
        }
    };
    part.members
        .iter()
        .map(|m| ClusterEntry::not_checked(&m.name, &m.labels, &reason))
        .collect()
}
