//! drift-check: what in a Flux-managed cluster differs from git, who changed
//! it, and whether that is explained.

pub mod diff;
pub mod discover;
pub mod object;
pub mod render;
pub mod yaml;
