//! Orphans: live objects Flux owns that no render has.
//!
//! Input: each Kustomization's render (or its failure), every Kustomization
//! discovered, and the live state. Output: the orphaned objects, each with the
//! Kustomization it belongs to (when one can be named) and why it is one.
//! Inventory ids are read as the cluster stores the objects (no namespace on
//! a cluster-scoped kind, [`scope::inventory_key`]). Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use super::scope;
use crate::flux::Kustomization;
use crate::flux::{MANAGED_BY_LABEL, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};
use crate::k8s::object::{Compact, Object, ObjectKey, ObjectRef};
use crate::live::{LiveState, Stored};

/// Kustomization definitions that could not be read: the objects they may
/// own are not orphans (a broken file must not turn its objects into
/// "orphaned, delete it").
#[derive(Clone, Copy, Debug, Default)]
pub struct Unreadable<'a> {
    /// `namespace/name` of each Kustomization whose definition failed.
    pub broken: &'a [String],
    /// Some definitions could not be read at all (names unknown).
    pub incomplete: bool,
}

/// One Kustomization's render in this run: its objects, or `None` when it
/// failed to render.
#[derive(Clone, Copy, Debug)]
pub struct Render<'a> {
    pub kustomization: &'a Kustomization,
    pub objects: Option<&'a [Compact]>,
}

/// Live objects carrying Flux's owner labels, by the Kustomization they
/// name (namespace, name), in identity order: indexed once, looked up per
/// Kustomization.
#[derive(Debug, Default)]
pub struct Labelled<'s>(BTreeMap<(String, String), Vec<(&'s ObjectKey, &'s Stored)>>);

impl<'s> Labelled<'s> {
    /// Indexes the live objects by their owner labels.
    pub fn of(state: &'s LiveState) -> Self {
        let mut index: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (key, live) in state.stored() {
            if let (Some(name), Some(namespace)) = (
                live.label(OWNER_NAME_LABEL),
                live.label(OWNER_NAMESPACE_LABEL),
            ) {
                index
                    .entry((namespace.to_string(), name.to_string()))
                    .or_default()
                    .push((key, live));
            }
        }
        Self(index)
    }

    /// The objects labelled as applied by `ks`.
    fn of_kustomization(&self, ks: &Kustomization) -> &[(&'s ObjectKey, &'s Stored)] {
        self.0
            .get(&(ks.namespace.clone(), ks.name.clone()))
            .map_or(&[], Vec::as_slice)
    }
}

/// Live objects a Kustomization owns (by its inventory or Flux's owner labels)
/// that no render has any more.
pub fn of_kustomization<'s>(
    ks: &Kustomization,
    mine: &BTreeSet<ObjectKey>,
    all_rendered: &BTreeSet<ObjectKey>,
    state: &'s LiveState,
    labelled: &Labelled<'s>,
) -> Vec<(ObjectKey, &'s Object, String)> {
    let mut out = Vec::new();
    let mut found = BTreeSet::new();
    for entry in ks.status.inventory.iter().flat_map(|i| &i.entries) {
        let Some(key) = scope::inventory_key(&entry.id, &state.scopes) else {
            continue;
        };
        if mine.contains(&key) || all_rendered.contains(&key) {
            continue;
        }
        if let Some(live) = state.get(&key) {
            found.insert(key.clone());
            out.push((
                key,
                live,
                format!(
                    "in the inventory of Kustomization {} but no longer in its render",
                    ks.id()
                ),
            ));
        }
    }
    for &(key, live) in labelled.of_kustomization(ks) {
        if !all_rendered.contains(key) && !found.contains(key) {
            out.push((
                key.clone(),
                live.object(),
                format!(
                    "labelled as applied by Kustomization {} but in no render",
                    ks.id()
                ),
            ));
        }
    }
    out
}

/// Live objects labelled `app.kubernetes.io/managed-by=flux` that no render
/// has. One carrying Flux's owner labels belongs to that Kustomization: it is
/// left to it when the Kustomization exists but is not checked in this run
/// (another source, not selected, or failed to render: none of those may raise
/// false orphans), and is an orphan of nobody when the Kustomization no longer
/// exists. One without owner labels is tied to the Kustomization that renders
/// objects of its kind in its namespace (or of its kind anywhere) when there is
/// exactly one.
pub fn platform<'r, 's>(
    rendered: &[Render<'r>],
    known: &[Kustomization],
    unreadable: Unreadable<'_>,
    all_rendered: &BTreeSet<ObjectKey>,
    reported: &BTreeSet<ObjectKey>,
    state: &'s LiveState,
) -> Vec<(ObjectKey, &'s Object, Option<&'r Kustomization>, String)> {
    // Everything looked up per live object is indexed once.
    let checked: BTreeSet<String> = rendered
        .iter()
        .filter(|r| r.objects.is_some())
        .map(|r| r.kustomization.id())
        .collect();
    let in_unchecked_inventories: BTreeSet<ObjectKey> = known
        .iter()
        .filter(|k| !checked.contains(&k.id()))
        .flat_map(|ks| ks.status.inventory.iter().flat_map(|i| &i.entries))
        .filter_map(|e| scope::inventory_key(&e.id, &state.scopes))
        .collect();
    let known_ids: BTreeSet<(&str, &str)> = known
        .iter()
        .map(|k| (k.namespace.as_str(), k.name.as_str()))
        .collect();
    let broken: BTreeSet<&str> = unreadable.broken.iter().map(String::as_str).collect();
    // The renders (their index, in order) with objects of a type (group,
    // kind), and of a type in a namespace.
    let mut of_type: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    let mut of_type_in: BTreeMap<(String, String, Option<String>), BTreeSet<usize>> =
        BTreeMap::new();
    for (i, r) in rendered.iter().enumerate() {
        for k in r
            .objects
            .into_iter()
            .flatten()
            .filter_map(Compact::reference)
            .map(ObjectRef::key)
        {
            of_type_in
                .entry((k.group.clone(), k.kind.clone(), k.namespace))
                .or_default()
                .insert(i);
            of_type.entry((k.group, k.kind)).or_default().insert(i);
        }
    }
    let renders_like = |key: &ObjectKey, same_namespace: bool| -> Vec<&Render<'r>> {
        let found = if same_namespace {
            of_type_in.get(&(key.group.clone(), key.kind.clone(), key.namespace.clone()))
        } else {
            of_type.get(&(key.group.clone(), key.kind.clone()))
        };
        found.into_iter().flatten().map(|&i| &rendered[i]).collect()
    };
    let mut out = Vec::new();
    for (key, stored) in state.stored() {
        if stored.label(MANAGED_BY_LABEL) != Some("flux")
            || all_rendered.contains(key)
            || reported.contains(key)
        {
            continue;
        }
        if in_unchecked_inventories.contains(key) {
            continue;
        }
        if let Some(name) = stored.label(OWNER_NAME_LABEL) {
            let namespace = stored.label(OWNER_NAMESPACE_LABEL).unwrap_or("flux-system");
            let unreadable_owner =
                unreadable.incomplete || broken.contains(format!("{namespace}/{name}").as_str());
            if !unreadable_owner && !known_ids.contains(&(namespace, name)) {
                let why = format!(
                    "labelled as applied by Kustomization {namespace}/{name}, which does not exist any more (deleted without pruning?)"
                );
                out.push((key.clone(), stored.object(), None, why));
            }
            // Otherwise its Kustomization reports it, or is not checked in this run.
            continue;
        }
        if unreadable.incomplete || !unreadable.broken.is_empty() {
            // It may belong to a Kustomization that could not be read.
            continue;
        }
        let (candidates, here) = match renders_like(key, true) {
            same_ns if same_ns.len() == 1 => (same_ns, " in this namespace"),
            _ => (renders_like(key, false), ""),
        };
        let owner = (candidates.len() == 1).then(|| candidates[0]);
        let why = match owner {
            Some(r) => format!(
                "labelled app.kubernetes.io/managed-by=flux but in no render; Kustomization {} is the only one rendering {} objects{here}",
                r.kustomization.id(),
                key.kind
            ),
            None => {
                "labelled app.kubernetes.io/managed-by=flux but in no render of any Kustomization"
                    .to_string()
            }
        };
        out.push((
            key.clone(),
            stored.object(),
            owner.map(|r| r.kustomization),
            why,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labelled(name: &str, owner: Option<&str>) -> Object {
        let mut labels = json!({"app.kubernetes.io/managed-by": "flux"});
        if let Some(owner) = owner {
            labels[OWNER_NAME_LABEL] = json!(owner);
            labels[OWNER_NAMESPACE_LABEL] = json!("flux-system");
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "apps", "labels": labels}})
    }

    #[test]
    fn objects_of_a_kustomization_that_could_not_be_read_are_no_orphans() {
        // Regression: a broken Kustomization file turned its live objects
        // into "orphaned, delete it".
        let state = LiveState::new([labelled("owned", Some("broken")), labelled("unowned", None)]);
        let none = BTreeSet::new();
        let orphans = |unreadable| {
            platform(&[], &[], unreadable, &none, &none, &state)
                .into_iter()
                .map(|(key, ..)| key.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(orphans(Unreadable::default()), ["owned", "unowned"]);
        let broken = ["flux-system/broken".to_string()];
        let with_broken = Unreadable {
            broken: &broken,
            incomplete: false,
        };
        assert_eq!(orphans(with_broken), Vec::<String>::new());
        let incomplete = Unreadable {
            broken: &[],
            incomplete: true,
        };
        assert_eq!(orphans(incomplete), Vec::<String>::new());
    }
}
