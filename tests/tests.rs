//! Integration tests: the whole pipeline on the shipped fixtures, the binary's
//! outputs and exit codes, and bad input.

mod artifacts;
mod bad_input;
mod cluster;
mod config_props;
mod conformance;
mod fixture_platform;
mod html;
mod image;
mod local_checkout;
mod notify;
mod outputs;
mod packaging;
mod render;
mod scope;
mod source;
mod util;
mod webhook;
