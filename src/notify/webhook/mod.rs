//! The webhook sink (`notify.webhook:`): the run's JSON report — schema
//! `drift-check/v1`, byte for byte what `check -o json` prints, Secret values
//! already masked — POSTed to a URL, for a receiver of the team's own
//! (a ticket bot, a chat bridge, a data store). Input: the report; output:
//! one accepted request (any 2xx).
//!
//! - `config.rs`: the section and its validation;
//! - `sink.rs`: the [`Notifier`](super::Notifier): POST with retries on
//!   429, 5xx, connect errors and timeouts.

mod config;
mod sink;

pub use config::WebhookConfig;
