//! drift-check: what in a Flux-managed cluster differs from git, who changed
//! it, and whether that is explained.
//!
//! One module per stage of the pipeline, run in sequence by [`pipeline`],
//! each returning an [`error::Outcome`] (see ARCHITECTURE.md):
//!
//! ```text
//! source ─► live ─► discover ─► render ─► helm ─► diff ─► classify ─► report ─► notify
//! ```
//!
//! Below them, the vocabulary every stage shares and none imports upwards:
//! [`k8s`] (object identity, managedFields, the label selector), [`flux`]
//! (Flux's API types, labels, annotations, managers, revisions),
//! [`crossplane`] (Crossplane's markers), [`error`]
//! (issues, notes, the outcome of a stage), [`redact`] (what is never printed), [`yaml`], [`files`] (bounded reads confined to a
//! tree: the repo, a snapshot), [`bounds`] (the range of every number
//! setting). Above them, [`cli`] and [`config`] (flags,
//! environment and config file, layered into each stage's settings), and
//! [`fleet`]: the clusters of a run, each checked by the same per-cluster
//! pipeline, at most `--clusters-in-flight` at once.

pub mod artifact;
pub mod bounds;
pub mod classify;
pub mod cli;
pub mod config;
pub mod crossplane;
pub mod diff;
pub mod discover;
pub mod error;
pub mod files;
pub mod fleet;
pub mod flux;
pub mod helm;
pub mod k8s;
pub mod live;
pub mod notify;
pub mod pipeline;
pub mod redact;
pub mod render;
pub mod report;
pub mod source;
pub mod yaml;

pub use fleet::{check_cluster, run_fleet};
pub use pipeline::{Progress, Renders, Settings, check, render, run};
