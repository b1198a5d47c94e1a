//! One cluster's comparison, as a list of stage calls: the cluster checked,
//! then each spoke its remote Kustomizations apply to (scope, orphans and
//! overlaps per cluster; a spoke that cannot be reached is "could not
//! check" for its Kustomizations only).

use std::collections::BTreeMap;

use super::{Progress, Settings};
use crate::discover::Discovered;
use crate::helm::Deployed;
use crate::live::remote::Spoke;
use crate::live::{self, Live};
use crate::render::{Made, Rendered};
use crate::report::Builder;
use crate::{classify, diff, helm, render};

/// What every cluster's comparison reads besides its renders.
pub(super) struct At<'d> {
    settings: &'d Settings,
    discovered: &'d Discovered,
    /// The commit of the checked tree.
    revision: Option<&'d str>,
    progress: Progress,
}

impl<'d> At<'d> {
    pub(super) fn new(
        settings: &'d Settings,
        discovered: &'d Discovered,
        revision: Option<&'d str>,
        progress: Progress,
    ) -> Self {
        Self {
            settings,
            discovered,
            revision,
            progress,
        }
    }
}

/// Compares the renders of the Kustomizations applying to one cluster
/// (`cluster`: a spoke's name, `None` for the cluster checked) with its live
/// state, read through `live`.
pub(super) async fn compare(
    run: &mut Builder,
    at: &At<'_>,
    live: &Live,
    cluster: Option<&str>,
    mut rendered: Vec<Rendered>,
    made: &mut Made,
) {
    let s = at.settings;
    let known = live::known_on(&at.discovered.known, cluster);
    let mut releases = run.take(helm::read(&rendered, live, &s.helm).await);
    let types = render::batch::types_to_fetch(&rendered);
    let helm_types = releases.types(&rendered, &s.helm, &types);
    let mut read = run.take(live::read(live, cluster, &types, &helm_types).await);
    run.take(render::batch::as_stored(
        &mut rendered,
        &mut read.state,
        made,
    ));
    let types = types.len() + helm_types.len();
    at.progress.line(format_args!(
        "fetch: {} live objects of {types} types",
        read.len()
    ));
    let remote = std::mem::take(&mut releases.remote);
    let spokes = helm::spokes::on_spokes(
        live,
        remote,
        &rendered,
        &read.state,
        &s.helm,
        &s.live.cluster,
    );
    let spokes = run.take(spokes.await);
    let deployed = releases.deployed(&rendered, &read.state, &read.state.scopes);
    let input = diff::Input {
        rendered: &rendered,
        known: &known,
        unreadable: diff::orphans::Unreadable {
            broken: &at.discovered.broken,
            incomplete: at.discovered.incomplete,
        },
        live,
        read: &read,
        head_revision: at.revision,
        releases: &deployed,
        spokes: &spokes,
        substituted: &made.substituted,
        concurrency: s.live.cluster.concurrency,
    };
    let compared = run.take(diff::run(input, &s.diff).await);
    let on_spokes: Vec<&[Deployed<'_>]> = spokes.iter().map(|o| o.deployed.as_slice()).collect();
    let name = cluster.unwrap_or(run.cluster()).to_string();
    let all = [&[deployed.as_slice()], on_spokes.as_slice()].concat();
    let policies = (&s.classify, &s.diff.policy);
    let classified = classify::run(
        compared.diffs,
        &rendered,
        &read.state,
        &all,
        policies,
        &name,
    );
    let findings = run.take(classified);
    let unexplained = findings.iter().filter(|f| !f.explained).count();
    let found = findings.len();
    at.progress.line(format_args!(
        "diff: {found} findings, {unexplained} unexplained"
    ));
    let warned = [on_spokes.as_slice(), &[deployed.as_slice()]].concat();
    run.compared(
        cluster,
        &rendered,
        &warned,
        &compared.unread,
        made,
        findings,
    );
}

/// Compares each spoke's renders on the spoke, with the Kustomizations
/// that apply there as the owners of its objects; a spoke that cannot be
/// reached is [`Builder::not_reached`]. Returns the API requests made to
/// the spokes.
pub(super) async fn on_spokes(
    run: &mut Builder,
    at: &At<'_>,
    hub: &Live,
    spokes: BTreeMap<Spoke, Vec<Rendered>>,
    made: &mut Made,
) -> usize {
    let mut requests = 0;
    for (spoke, group) in spokes {
        let cluster = spoke.cluster();
        match live::remote::connect(hub, &spoke, &at.settings.live.cluster).await {
            Ok(on_spoke) => {
                compare(run, at, &on_spoke, Some(&cluster), group, made).await;
                requests += on_spoke.requests().unwrap_or(0);
            }
            Err(e) => run.not_reached(&cluster, &e, &group, made),
        }
    }
    requests
}

/// How many objects were rendered, and how many Kustomizations failed.
pub(super) fn rendered(rendered: &[Rendered]) -> String {
    let objects: usize = rendered.iter().flat_map(|r| &r.objects).map(Vec::len).sum();
    let failed = rendered.iter().filter(|r| r.objects.is_none()).count();
    format!("{objects} objects ({failed} Kustomizations failed)")
}
