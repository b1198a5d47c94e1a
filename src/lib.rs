//! drift-check: what in a Flux-managed cluster differs from git, who changed
//! it, and whether that is explained.

pub mod classify;
pub mod diff;
pub mod discover;
pub mod live;
pub mod object;
pub mod selector;
pub mod yaml;
