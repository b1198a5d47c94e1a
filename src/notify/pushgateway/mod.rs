//! The pushgateway sink (`notify.pushgateway:`): the metrics of
//! ARCHITECTURE.md under job `drift_check`, grouping key `cluster`. Input:
//! the report and how long the run took; output: the group on the
//! pushgateway.
//!
//! - `config.rs`: the section and its validation;
//! - `sink.rs`: the [`Notifier`](super::Notifier): PUT or POST with retries;
//! - `metrics.rs`: the text format of a run (pure);
//! - `fleet.rs`: a fleet run: a group per cluster, those that left deleted.

mod config;
mod fleet;
mod metrics;
mod sink;

pub use config::PushgatewayConfig;
