//! [`run`]: the diff stage on one cluster, its one entry.

use std::collections::{BTreeMap, BTreeSet};

use super::{Attributed, DiffMode, Options, mask, normalize, orphans, renders};
use crate::error::{Issue, Outcome, Problems};
use crate::flux::Kustomization;
use crate::helm::Deployed;
use crate::helm::spokes::OnSpoke;
use crate::k8s::object::{Object, ObjectKey, ObjectRef};
use crate::live::{self, Live, LiveState};
use crate::render::Rendered;
use crate::render::stored::Substituted;

/// What the diff compares on one cluster, each from the stage that made it.
pub struct Input<'a> {
    /// The renders of the Kustomizations applying to the cluster, as the
    /// API server stores them ([`crate::render::batch::as_stored`]).
    pub rendered: &'a [Rendered],
    /// The Kustomizations that apply to the cluster: the owners of its
    /// objects, for orphans and overlaps.
    pub known: &'a [Kustomization],
    /// Kustomization definitions discovery could not read.
    pub unreadable: orphans::Unreadable<'a>,
    /// The cluster, for server-side apply dry-runs.
    pub live: &'a Live,
    /// Its live objects.
    pub read: &'a live::Read,
    /// The commit of the checked tree (for orphans of a Kustomization that
    /// did not render).
    pub head_revision: Option<&'a str>,
    /// The HelmReleases of the renders, with what they deployed here...
    pub releases: &'a [Deployed<'a>],
    /// ...and on each spoke.
    pub spokes: &'a [OnSpoke<'a>],
    /// Where values read from Secrets were substituted.
    pub substituted: &'a Substituted,
    /// How many dry-runs at once.
    pub concurrency: usize,
}

/// The differences of one cluster, and the issues of the Kustomizations
/// whose objects' types could not be read (each in `Outcome::issues` too).
pub struct Compared<'a> {
    pub diffs: Vec<Attributed<'a>>,
    pub unread: Vec<Issue>,
}

/// Compares every render and every HelmRelease's objects with the live
/// state: in server mode, with what a server-side apply dry-run makes of
/// each rendered object that exists live. Each Kustomization with objects of
/// a type the cluster did not list is an issue, never "in sync" (a snapshot
/// file that cannot be parsed is already an error of the whole snapshot).
/// The values of Secrets and those substituted from Secrets are masked
/// here, once, in the changes as they leave the comparison
/// ([`mask::changes`]).
pub async fn run<'a>(input: Input<'a>, options: &Options) -> Outcome<Compared<'a>> {
    let mut problems = Problems::default();
    let state = &input.read.state;
    let unread = match input.live {
        Live::Cluster(_) => renders::unread_types(input.rendered, state),
        Live::Snapshot(_) => Vec::new(),
    };
    problems.issues.extend(unread.iter().cloned());
    let dry_runs = match options.mode {
        DiffMode::Server => {
            let work = dry_run_work(input.rendered, state);
            let (results, issues, notes) =
                live::dry_runs(input.live, work, input.concurrency).await;
            problems.issues.extend(issues);
            problems.notes.extend(notes);
            results
        }
        DiffMode::Local => BTreeMap::new(),
    };
    let all_rendered = crate::render::Rendered::identities(input.rendered);
    let (mut diffs, notes) = renders::renders(
        input.rendered,
        &all_rendered,
        input.known,
        input.unreadable,
        state,
        &dry_runs,
        &options.policy,
        input.head_revision,
    );
    problems.notes.extend(notes);
    diffs.extend(super::helm::deployed(
        input.releases,
        [state, &input.read.helm],
        &all_rendered,
        &options.policy,
    ));
    for spoke in input.spokes {
        diffs.extend(super::helm::deployed(
            &spoke.deployed,
            [&spoke.state, nothing()],
            &BTreeSet::new(),
            &options.policy,
        ));
    }
    for a in &mut diffs {
        mask::changes(&a.diff.object, &mut a.diff.changes, input.substituted);
    }
    Outcome::with(Compared { diffs, unread }, problems)
}

/// No live objects: the second state of a spoke's releases.
fn nothing() -> &'static LiveState {
    static NOTHING: std::sync::OnceLock<LiveState> = std::sync::OnceLock::new();
    NOTHING.get_or_init(LiveState::default)
}

/// Server mode: the rendered objects that exist live, as Flux would apply them.
fn dry_run_work<'a>(
    rendered: &'a [Rendered],
    state: &LiveState,
) -> Vec<(&'a Kustomization, ObjectKey, Object)> {
    let mut work = Vec::new();
    for r in rendered {
        for desired in r.objects.iter().flatten() {
            let Some(key) = desired.reference().map(ObjectRef::key) else {
                continue;
            };
            if state.contains(&key) {
                let mut applied = desired.peek().into_owned();
                normalize::desired(&mut applied);
                work.push((&r.ks, key, applied));
            }
        }
    }
    work
}
