//! Integration tests: the whole pipeline on the shipped fixtures, the binary's
//! outputs and exit codes, and bad input.

mod artifacts;
mod bad_input;
mod bucket;
mod cluster;
mod config_props;
mod conformance;
mod fixture_platform;
mod flux_build;
mod github_app;
mod html;
mod image;
mod layers;
mod local_checkout;
mod matrix_scale;
mod matrix_state;
mod notify;
mod oci;
mod outputs;
mod packaging;
mod platform_sources;
mod pushgateway_freshness;
mod redaction;
mod render;
mod scope;
mod sink_config;
mod source;
mod sources;
mod util;
mod webhook;
