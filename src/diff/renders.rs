//! Every render against the live state, for [`super::run`].
//!
//! Input: each Kustomization's render (at the commit Flux applied, and at the
//! head when Flux has not applied it yet), every Kustomization discovered, the
//! live state and, in server mode, the dry-run results. Output: each object's
//! difference, with the Kustomization and commit it was compared against, in
//! report order: per Kustomization its rendered objects, then what only its
//! head has (pending), then its orphans; then the platform's orphans; and a
//! note for each live object whose managedFields cannot be read. The renders
//! are expected as the API server stores them
//! ([`crate::render::batch::as_stored`]).
//! Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::{Drift, ObjectDiff, Policy, orphans, overlap};
use crate::error::{Issue, Note, Stage};
use crate::flux::Kustomization;
use crate::k8s::managed;
use crate::k8s::object::{Compact, Object, ObjectKey, ObjectRef};
use crate::live::LiveState;
use crate::render::{Rendered, sops};

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
/// object rendered ([`Rendered::identities`]); `known`, the Kustomizations
/// that apply to the cluster compared (the owners of its objects).
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
    dry_runs: &BTreeMap<ObjectKey, Object>,
    policy: &Policy,
    head_revision: Option<&'a str>,
) -> (Vec<Attributed<'a>>, Vec<Note>) {
    let mut notes = Vec::new();
    let labelled = orphans::Labelled::of(state);
    let overlaps = overlap::Overlaps::of(rendered, known, all_rendered, &state.scopes);
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
        // Objects with values encrypted in git, and how many.
        let mut encrypted = Vec::new();
        // What the applied render already reports, by object: the head's
        // comparison only adds what is new.
        let mut applied: BTreeMap<ObjectKey, (Drift, BTreeSet<String>)> = BTreeMap::new();
        for desired in objects {
            let Some(key) = desired.reference().map(ObjectRef::key) else {
                continue;
            };
            mine.insert(key.clone());
            if !reported.insert(key.clone()) {
                // Another Kustomization applies it too, and reported it.
                continue;
            }
            if state.failed.contains_key(&key.type_key()) {
                // Not read: an error says so; it is neither missing nor in sync.
                continue;
            }
            let claims = overlaps.of_object(&key);
            if let Some(claims) = claims
                && let Some(diff) =
                    ObjectDiff::overlap(desired.object(), state.get(&key), overlap::message(claims))
            {
                out.push(attributed(diff));
            }
            // Compared parsed for a look; only the objects of a finding are
            // kept parsed (the finding borrows them).
            let (unserved, would_be) = (state.unserved.get(&key.type_key()), dry_runs.get(&key));
            let live = state.peek(&key);
            let overlapping = claims.is_some();
            let peeked = desired.peek();
            let values = sops::encrypted_values(&peeked);
            if values > 0
                && let Some(object) = desired.reference()
            {
                encrypted.push(format!("{object} ({values})"));
            }
            let drifted = compare(&peeked, live.as_deref(), unserved, would_be, policy)
                .map(|d| without_the_other(d, overlapping, policy))
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
                .flatten()
                .map(|d| without_the_other(d, overlapping, policy));
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
        if !encrypted.is_empty() {
            notes.push(Note {
                kustomization: Some(r.ks.id()),
                message: format!(
                    "values encrypted in git with SOPS are not compared (drift-check has no key): {}; their keys, labels, annotations and everything else in the clear are",
                    encrypted.join(", ")
                ),
            });
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

/// Each Kustomization that renders, or has in its inventory, objects of a
/// type that could not be read: one issue naming the types
/// (`could not check: v1 configmaps forbidden`). Its objects of those types
/// are neither in sync nor missing: they were not compared.
pub fn unread_types(rendered: &[Rendered], state: &LiveState) -> Vec<Issue> {
    if state.failed.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for r in rendered {
        let rendered_types = r
            .all_objects()
            .filter_map(Compact::reference)
            .map(|o| o.key().type_key());
        let inventory_types =
            r.ks.status
                .inventory
                .iter()
                .flat_map(|i| &i.entries)
                .filter_map(|e| ObjectKey::from_inventory_id(&e.id))
                .map(|k| k.type_key());
        let types: BTreeSet<(String, String)> = rendered_types.chain(inventory_types).collect();
        let unread: Vec<&str> = types
            .iter()
            .filter_map(|t| state.failed.get(t).map(String::as_str))
            .collect();
        if !unread.is_empty() {
            out.push(Issue::described(
                Some(r.ks.id()),
                Stage::Live,
                &format!("could not check: {}", unread.join(", ")),
            ));
        }
    }
    out
}

/// An object another Kustomization applies too: what Flux writes for the
/// other one is the overlap (reported on its own), not a change of this one.
fn without_the_other<'o>(
    mut diff: ObjectDiff<'o>,
    overlapping: bool,
    policy: &Policy,
) -> ObjectDiff<'o> {
    if overlapping {
        diff.changes
            .retain(|c| !overlap::written_by_the_other(c, policy));
    }
    diff
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
    would_be: Option<&Object>,
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
        if state.failed.contains_key(&key.type_key())
            || state.unserved.contains_key(&key.type_key())
        {
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

    #[test]
    fn a_kustomization_with_objects_of_a_type_that_could_not_be_read_is_not_checked() {
        let ks = |name: &str| {
            crate::discover::from_object(
                &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                        "metadata": {"name": name, "namespace": "flux-system"},
                        "spec": {"path": "./x", "sourceRef": {"kind": "GitRepository", "name": "infra"}},
                        "status": {"inventory": {"entries": [{"id": "apps_old__Secret", "v": "v1"}]}}}),
                crate::flux::Origin::Live,
                "flux-system",
            )
            .unwrap()
        };
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}});
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "apps"}});
        let rendered = vec![
            Rendered {
                ks: ks("configs"),
                objects: Some(vec![config_map.into()]),
                revision: None,
                applied_unread: false,
                head: None,
            },
            Rendered {
                ks: ks("accounts"),
                objects: Some(vec![account.into()]),
                revision: None,
                applied_unread: false,
                head: None,
            },
        ];
        let mut state = LiveState::default();
        state.failed.insert(
            ("".into(), "ConfigMap".into()),
            "v1 configmaps forbidden".into(),
        );
        state
            .failed
            .insert(("".into(), "Secret".into()), "v1 secrets forbidden".into());
        let issues: Vec<(Option<String>, String)> = unread_types(&rendered, &state)
            .into_iter()
            .map(|i| (i.kustomization, i.message))
            .collect();
        assert_eq!(
            issues,
            [
                (
                    Some("flux-system/configs".to_string()),
                    "could not check: v1 configmaps forbidden, v1 secrets forbidden".to_string()
                ),
                (
                    Some("flux-system/accounts".to_string()),
                    "could not check: v1 secrets forbidden".to_string()
                ),
            ]
        );
    }
}
