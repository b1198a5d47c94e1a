//! Every render against the live state: the diff stage's entry point.
//!
//! Input: each Kustomization's render (at the commit Flux applied, and at the
//! head when Flux has not applied it yet), every Kustomization discovered, the
//! live state and, in server mode, the dry-run results. Output: each object's
//! difference, with the Kustomization and commit it was compared against, in
//! report order: per Kustomization its rendered objects, then what only its
//! head has (pending), then its orphans; then the platform's orphans; and a
//! note for each live object whose managedFields cannot be read. The renders
//! are expected as the API server stores them ([`super::scope::as_stored`]).
//! Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::{Drift, ObjectDiff, Policy, orphans};
use crate::error::Note;
use crate::flux::Kustomization;
use crate::k8s::managed;
use crate::k8s::object::{Compact, Object, ObjectKey, ObjectRef};
use crate::live::LiveState;
use crate::render::Rendered;

/// One object's difference and what it was compared against.
#[derive(Clone, Debug)]
pub struct Attributed<'a> {
    /// The Kustomization it belongs to (`None`: an orphan of nobody).
    pub kustomization: Option<&'a Kustomization>,
    /// The commit it was compared with.
    pub revision: Option<&'a str>,
    /// See [`Rendered::applied_unread`]: never a pending reconcile.
    pub applied_unread: bool,
    /// The HelmRelease that deployed the object, for an object of a Helm
    /// release (see [`super::helm`]).
    pub helm: Option<&'a crate::helm::HelmRelease>,
    pub diff: ObjectDiff<'a>,
}

/// Compares every render with the live state. `dry_runs` holds, in server
/// mode, what a server-side apply of each rendered object gives;
/// `head_revision` is the commit of the checked tree (for orphans of a
/// Kustomization that did not render); `all_rendered`, the identity of every
/// object rendered ([`Rendered::identities`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the stage's inputs, each from another stage"
)]
pub fn renders<'a>(
    rendered: &'a [Rendered],
    all_rendered: &BTreeSet<ObjectKey>,
    known: &'a [Kustomization],
    unreadable: orphans::Unreadable<'_>,
    state: &'a LiveState,
    dry_runs: &'a BTreeMap<ObjectKey, Object>,
    policy: &Policy,
    head_revision: Option<&'a str>,
) -> (Vec<Attributed<'a>>, Vec<Note>) {
    let mut notes = Vec::new();
    let labelled = orphans::Labelled::of(state);
    let mut reported: BTreeSet<ObjectKey> = BTreeSet::new();
    let mut out = Vec::new();
    for r in rendered {
        let Some(objects) = &r.objects else { continue };
        let attributed = |diff| Attributed {
            kustomization: Some(&r.ks),
            revision: r.revision.as_deref(),
            applied_unread: r.applied_unread,
            helm: None,
            diff,
        };
        let mut mine = BTreeSet::new();
        // What the applied render already reports, by object: the head's
        // comparison only adds what is new.
        let mut applied: BTreeMap<ObjectKey, (Drift, BTreeSet<String>)> = BTreeMap::new();
        for desired in objects {
            let Some(key) = desired.reference().map(ObjectRef::key) else {
                continue;
            };
            mine.insert(key.clone());
            reported.insert(key.clone());
            if state.failed.contains(&key.type_key()) {
                // Not read: an error says so; it is neither missing nor in sync.
                continue;
            }
            // Compared parsed for a look; only the objects of a finding are
            // kept parsed (the finding borrows them).
            let (unserved, would_be) = (state.unserved.get(&key.type_key()), dry_runs.get(&key));
            let live = state.peek(&key);
            let drifted = compare(&desired.peek(), live.as_deref(), unserved, would_be, policy)
                .is_some_and(|d| worth_keeping(&d));
            let diff = drifted
                .then(|| {
                    compare(
                        desired.object(),
                        state.get(&key),
                        unserved,
                        would_be,
                        policy,
                    )
                })
                .flatten();
            if let Some(live) = live.as_deref()
                && let Some(problem) = managed::malformed(live)
            {
                let object = ObjectRef::of(live).expect("indexed objects have an identity");
                notes.push(Note {
                    kustomization: Some(r.ks.id()),
                    message: format!(
                        "{object}: its managedFields cannot be read ({problem}): who changed its fields is unknown, changes are reported unattributed"
                    ),
                });
            }
            if let Some(diff) = diff {
                let paths = diff.changes.iter().map(|c| c.path.clone()).collect();
                applied.insert(key, (diff.drift, paths));
                out.push(attributed(diff));
            }
        }
        if let Some((head_objects, head_revision)) = &r.head {
            for diff in pending(head_objects, &applied, state, policy) {
                reported.insert(diff.object.key());
                out.push(Attributed {
                    kustomization: Some(&r.ks),
                    revision: head_revision.as_deref(),
                    applied_unread: false,
                    helm: None,
                    diff,
                });
            }
        }
        for (key, live, why) in
            orphans::of_kustomization(&r.ks, &mine, all_rendered, state, &labelled)
        {
            if reported.insert(key) {
                let object = ObjectRef::of(live).expect("indexed objects have an identity");
                out.push(attributed(ObjectDiff::orphan(live, object, why)));
            }
        }
    }
    let renders: Vec<orphans::Render<'_>> = rendered
        .iter()
        .map(|r| orphans::Render {
            kustomization: &r.ks,
            objects: r.objects.as_deref(),
        })
        .collect();
    // The first render of each Kustomization, by id.
    let mut render_of: BTreeMap<String, &Rendered> = BTreeMap::new();
    for r in rendered {
        render_of.entry(r.ks.id()).or_insert(r);
    }
    let platform = orphans::platform(&renders, known, unreadable, all_rendered, &reported, state);
    for r in rendered.iter().filter(|r| r.objects.is_none()) {
        if let Some(left) = platform.left_to.get(&r.ks.id()) {
            notes.push(Note {
                kustomization: Some(r.ks.id()),
                message: format!(
                    "could not check {left} live object{} that may be this Kustomization's (in its inventory, labelled as applied by it, or labelled app.kubernetes.io/managed-by=flux in a namespace it applies to): not reported orphaned, since it could not be rendered",
                    if *left == 1 { "" } else { "s" }
                ),
            });
        }
    }
    for (key, live, owner, why) in platform.orphans {
        let object = ObjectRef::of(live).expect("indexed objects have an identity");
        // Compared with what its Kustomization rendered: the applied commit.
        let render = owner.and_then(|ks| render_of.get(&ks.id()).copied());
        let revision = render.map_or(head_revision, |r| r.revision.as_deref());
        reported.insert(key);
        out.push(Attributed {
            kustomization: owner,
            revision,
            applied_unread: render.is_some_and(|r| r.applied_unread),
            helm: None,
            diff: ObjectDiff::orphan(live, object, why),
        });
    }
    (out, notes)
}

/// Whether a comparison is kept (and the objects it names kept parsed): a
/// difference, or an object in sync that Crossplane may control (classify
/// tells whether that is a conflict, from the XRDs). An object in sync is
/// no finding.
fn worth_keeping(diff: &ObjectDiff<'_>) -> bool {
    diff.drift != Drift::Modified
        || !diff.changes.is_empty()
        || diff.live.is_some_and(crate::crossplane::may_control)
}

/// One rendered object compared with its live copy: with what a server-side
/// apply dry-run gives when there is one (server mode), as not served when
/// the cluster does not serve its type.
fn compare<'o>(
    desired: &'o Object,
    live: Option<&'o Object>,
    unserved: Option<&String>,
    would_be: Option<&'o Object>,
    policy: &Policy,
) -> Option<ObjectDiff<'o>> {
    match (unserved, would_be) {
        (Some(why), _) => ObjectDiff::unserved(desired, why),
        (None, Some(would_be)) => ObjectDiff::of_server(desired, would_be, live, policy),
        (None, None) => ObjectDiff::of_rendered(desired, live, policy),
    }
}

/// Drift that only exists at the branch head (what Flux has not applied
/// yet): the head's render compared locally, minus what the applied render
/// already reports for the same object.
fn pending<'a>(
    head_objects: &'a [Compact],
    applied: &BTreeMap<ObjectKey, (Drift, BTreeSet<String>)>,
    state: &'a LiveState,
    policy: &Policy,
) -> Vec<ObjectDiff<'a>> {
    let mut out = Vec::new();
    for desired in head_objects {
        let Some(key) = desired.reference().map(ObjectRef::key) else {
            continue;
        };
        if state.failed.contains(&key.type_key()) || state.unserved.contains_key(&key.type_key()) {
            continue;
        }
        let Some(mut diff) = ObjectDiff::of_rendered(desired.object(), state.get(&key), policy)
        else {
            continue;
        };
        if let Some((drift, paths)) = applied.get(&key) {
            if *drift == diff.drift && diff.drift != Drift::Modified {
                continue;
            }
            diff.changes.retain(|c| !paths.contains(&c.path));
        }
        if diff.drift == Drift::Modified && diff.changes.is_empty() {
            continue;
        }
        out.push(diff);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_objects_of_a_finding_stay_parsed() {
        let ks = crate::discover::from_object(
            &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": "apps", "namespace": "flux-system"},
                    "spec": {"path": "./apps", "sourceRef": {"kind": "GitRepository", "name": "infra"}}}),
            crate::flux::Origin::Live,
            "flux-system",
        )
        .unwrap();
        let config_map = |name: &str, value: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": "apps"}, "data": {"k": value}})
        };
        let rendered = vec![Rendered {
            ks,
            objects: Some(vec![
                config_map("same", "v").into(),
                config_map("edited", "v").into(),
            ]),
            revision: None,
            applied_unread: false,
            head: None,
        }];
        let state = LiveState::new([config_map("same", "v"), config_map("edited", "w")]);
        let dry_runs = BTreeMap::new();
        let (diffs, _) = renders(
            &rendered,
            &Rendered::identities(&rendered),
            &[],
            orphans::Unreadable {
                broken: &[],
                incomplete: false,
            },
            &state,
            &dry_runs,
            &Policy::default(),
            None,
        );
        let found: Vec<String> = diffs
            .iter()
            .filter(|a| !a.diff.changes.is_empty())
            .map(|a| a.diff.object.to_string())
            .collect();
        assert_eq!(found, ["ConfigMap/apps/edited"]);
        let parsed = |name: &str| {
            let desired = rendered[0].objects.as_ref().unwrap().iter();
            let desired = desired
                .filter(|c| c.reference().unwrap().name == name)
                .all(Compact::is_parsed);
            let live = state
                .stored()
                .filter(|(key, _)| key.name == name)
                .all(|(_, s)| s.is_parsed());
            (desired, live)
        };
        assert_eq!(parsed("edited"), (true, true));
        assert_eq!(parsed("same"), (false, false));
    }
}
