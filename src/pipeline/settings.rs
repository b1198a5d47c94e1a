//! What a run is told: each stage's own settings, validated by that stage
//! (see `config` for how flags, environment and the config file are layered
//! into them).

use crate::{classify, diff, discover, live, notify, render, source};

/// The settings of every stage.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The cluster's name in reports, fingerprints and metrics; `None`: the
    /// kubeconfig context names it.
    pub cluster: Option<String>,
    /// The infra repo given with `--repo` (`None`: every source from the cluster).
    pub source: Option<source::Options>,
    /// How the other sources are fetched, and `--repo <ns>/<name>=` overrides.
    pub sources: source::set::Options,
    pub discover: discover::Options,
    pub render: render::Options,
    pub live: live::Options,
    pub diff: diff::Options,
    pub classify: classify::Rules,
    /// What helm-controller deployed for the rendered HelmReleases.
    pub helm: crate::helm::Options,
    /// The sinks of `run`.
    pub notify: notify::NotifySettings,
}
