//! The fleet's entries into the pipeline: the per-cluster check
//! ([`check_cluster`], a cluster's settings handed to [`pipeline::check`])
//! and the fleet run with its sinks ([`run_fleet`]). Here, above the
//! pipeline, so that the pipeline never imports the fleet.

use crate::bounds::Validated;
use crate::notify;
use crate::pipeline::{self, Progress, Settings};
use crate::report::Report;
use crate::report::fleet::FleetReport;

use super::{Fleet, Member, member_settings};

/// The per-cluster check of a fleet: [`pipeline::check`] with the cluster's
/// name and connection (or snapshot) in the settings; nothing shared with
/// the other clusters' checks but the settings read.
pub async fn check_cluster(
    member: &Member,
    settings: &Validated<Settings>,
    progress: Progress,
) -> Report {
    pipeline::check(&member_settings(member, settings), progress).await
}

/// Runs `run` over a fleet: every cluster checked (a bounded stream), the
/// fleet report handed to `print`, then to the sinks: one Matrix message for
/// the fleet, each cluster's metrics in its own pushgateway group (those of
/// clusters that left the fleet deleted), each cluster's report to the
/// webhook. Exit code as [`pipeline::run`]'s, over the whole fleet.
pub async fn run_fleet(
    fleet: &Fleet,
    settings: &Validated<Settings>,
    progress: Progress,
    print: impl FnOnce(&FleetReport),
) -> u8 {
    let report = super::run(fleet, settings, progress).await;
    print(&report);
    // Boxed: matrix-sdk's futures are deep enough to overflow the compiler's
    // layout query depth when inlined into the binary's main future.
    let sinks = Box::pin(notify::notify_fleet(
        &settings.notify,
        &settings.live.cluster,
        &report,
        fleet.complete,
    ))
    .await;
    notify::fleet_exit_code(&report, &sinks)
}
