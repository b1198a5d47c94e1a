//! The sinks of a fleet run: each sink gets the fleet's report once
//! ([`Notifier::send_fleet`]). By default that is each cluster's report in
//! turn, as a single-cluster run sends it (the webhook: one
//! `drift-check/v1` POST per cluster); the Matrix sink posts one message
//! for the fleet, the pushgateway also deletes the groups of clusters that
//! left the fleet.

use super::{Delivery, Notifier, NotifySettings, SinkError, SinkResult};
use crate::k8s::client::ClusterOptions;
use crate::report::fleet::{ClusterStatus, FleetReport};

/// What every sink is handed in a fleet run.
pub struct FleetDelivery<'a> {
    pub report: &'a FleetReport,
    /// Where drift-check itself runs (the hub): the cluster of a sink's state.
    pub hub: &'a ClusterOptions,
    /// Every configured cluster is in this run (see `fleet::Fleet::complete`).
    pub complete: bool,
}

/// Some clusters' reports did not reach the sink.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ClustersFailed(pub Vec<String>);

/// [`Notifier::send`] for each checked cluster, in the fleet's order.
pub(super) async fn each_cluster<N: Notifier + ?Sized>(
    notifier: &N,
    fleet: &FleetDelivery<'_>,
) -> Result<(), SinkError> {
    let mut failed = Vec::new();
    for cluster in &fleet.report.clusters {
        let Some(report) = &cluster.report else {
            continue;
        };
        let delivery = Delivery {
            report,
            duration: cluster.duration,
            cluster: fleet.hub,
        };
        if let Err(e) = notifier.send(&delivery).await {
            failed.push(format!(
                "cluster {}: {}",
                cluster.name,
                crate::error::error_chain(&*e)
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ClustersFailed(failed).into())
    }
}

/// Sends the fleet's report to every configured sink, all at once.
pub async fn notify_fleet(
    settings: &NotifySettings,
    hub: &ClusterOptions,
    report: &FleetReport,
    complete: bool,
) -> Vec<SinkResult> {
    let delivery = FleetDelivery {
        report,
        hub,
        complete,
    };
    super::to_every_sink(settings, |notifier| notifier.send_fleet(&delivery)).await
}

/// `run`'s exit code over a fleet: 2 a cluster (or part of one) could not
/// be checked, 3 a sink failed, else 0.
pub fn fleet_exit_code(report: &FleetReport, sinks: &[SinkResult]) -> u8 {
    if report
        .clusters
        .iter()
        .any(|c| c.status == ClusterStatus::CouldNotCheck)
    {
        2
    } else if sinks.iter().any(|s| s.error.is_some()) {
        3
    } else {
        0
    }
}
