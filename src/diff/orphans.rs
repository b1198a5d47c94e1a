//! Orphans: live objects Flux owns that no render has.
//!
//! An object with a controller (an ownerReference with `controller: true`)
//! is never one: a SealedSecret's or ExternalSecret's Secret, a Job of a
//! CronJob, carries the labels of what it was made from (Flux's owner
//! labels, `managed-by=flux`), but its controller made it and keeps it. What
//! git declares is the custom resource, and that is what is compared.
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
        if let Some(stored) = state.stored_of(&key)
            && (stored.label(OWNER_NAME_LABEL).is_some_and(|name| {
                name != ks.name || stored.label(OWNER_NAMESPACE_LABEL) != Some(&ks.namespace)
            }) || stored.controller().is_some())
        {
            // Another Kustomization applied it since: Flux's garbage
            // collection leaves it to that one (fluxcd/pkg `ssa`, owner
            // labels). Or a controller took it over: it is that one's.
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
        // A controller's object carries the labels of what it was made from
        // (a SealedSecret's template, an ExternalSecret's target): it is the
        // controller's, not Flux's.
        if !all_rendered.contains(key) && !found.contains(key) && live.controller().is_none() {
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

/// What [`platform`] found: the orphans, each with the Kustomization it
/// belongs to (when one can be named) and why; and, per Kustomization that
/// could not be checked, how many live objects were left to it instead.
#[derive(Debug, Default)]
pub struct Platform<'r, 's> {
    pub orphans: Vec<(ObjectKey, &'s Object, Option<&'r Kustomization>, String)>,
    /// `namespace/name` → objects left unchecked because they may be its.
    pub left_to: BTreeMap<String, usize>,
}

/// Where the live objects of Kustomizations that are not checked in this run
/// (failed to render, another source, not selected) may be: each is known
/// by its inventory, by Flux's owner labels on live objects, and by
/// namespace (its `targetNamespace`, the namespaces of its inventory and of
/// the objects labelled as its; its own namespace when none of those is
/// known). A render that is absent is never evidence that an object is
/// someone else's orphan.
struct Unchecked<'k> {
    kustomizations: Vec<&'k Kustomization>,
    /// Inventory entries → the Kustomization (index) holding them.
    inventory: BTreeMap<ObjectKey, usize>,
    /// Namespace → the Kustomizations (indexes) that may apply there.
    namespaces: BTreeMap<String, BTreeSet<usize>>,
}

impl<'k> Unchecked<'k> {
    fn of(known: &'k [Kustomization], checked: &BTreeSet<String>, state: &LiveState) -> Self {
        // `known` holds only those applying to the cluster compared (one
        // with `spec.kubeConfig` owns nothing on the hub, and vice versa).
        let kustomizations: Vec<&Kustomization> = known
            .iter()
            .filter(|k| !checked.contains(&k.id()))
            .collect();
        let index: BTreeMap<(&str, &str), usize> = kustomizations
            .iter()
            .enumerate()
            .map(|(i, k)| ((k.namespace.as_str(), k.name.as_str()), i))
            .collect();
        let mut inventory = BTreeMap::new();
        let mut namespaces: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (i, ks) in kustomizations.iter().enumerate() {
            for key in ks
                .status
                .inventory
                .iter()
                .flat_map(|inv| &inv.entries)
                .filter_map(|e| scope::inventory_key(&e.id, &state.scopes))
            {
                if let Some(namespace) = &key.namespace {
                    namespaces.entry(namespace.clone()).or_default().insert(i);
                }
                inventory.entry(key).or_insert(i);
            }
            if let Some(target) = ks
                .spec
                .target_namespace
                .as_deref()
                .filter(|t| !t.is_empty())
            {
                namespaces.entry(target.to_string()).or_default().insert(i);
            }
        }
        for (key, stored) in state.stored() {
            if let (Some(name), Some(namespace), Some(object_namespace)) = (
                stored.label(OWNER_NAME_LABEL),
                stored.label(OWNER_NAMESPACE_LABEL),
                &key.namespace,
            ) && let Some(&i) = index.get(&(namespace, name))
            {
                namespaces
                    .entry(object_namespace.clone())
                    .or_default()
                    .insert(i);
            }
        }
        for (i, ks) in kustomizations.iter().enumerate() {
            if !namespaces.values().any(|ks| ks.contains(&i)) {
                namespaces
                    .entry(ks.namespace.clone())
                    .or_default()
                    .insert(i);
            }
        }
        Self {
            kustomizations,
            inventory,
            namespaces,
        }
    }

    /// The Kustomization an object may belong to, as far as one can tell.
    fn may_own(&self, key: &ObjectKey, stored: &Stored) -> Option<&'k Kustomization> {
        if let Some(&i) = self.inventory.get(key) {
            return Some(self.kustomizations[i]);
        }
        if let (Some(name), Some(namespace)) = (
            stored.label(OWNER_NAME_LABEL),
            stored.label(OWNER_NAMESPACE_LABEL),
        ) {
            return self
                .kustomizations
                .iter()
                .find(|k| k.name == name && k.namespace == namespace)
                .copied();
        }
        let namespace = key.namespace.as_ref()?;
        let i = *self.namespaces.get(namespace)?.iter().next()?;
        Some(self.kustomizations[i])
    }
}

/// Live objects labelled `app.kubernetes.io/managed-by=flux` that no render
/// has. One that may belong to a Kustomization not checked in this run (by
/// its inventory, Flux's owner labels, or its namespace: see [`Unchecked`])
/// is left to it: counted in [`Platform::left_to`], never someone else's
/// orphan. One labelled as applied by a Kustomization that no longer exists
/// is an orphan of nobody. One without owner labels is tied to the
/// Kustomization that renders objects of its kind in its namespace (or of its
/// kind anywhere) when there is exactly one.
pub fn platform<'r, 's>(
    rendered: &[Render<'r>],
    known: &[Kustomization],
    unreadable: Unreadable<'_>,
    all_rendered: &BTreeSet<ObjectKey>,
    reported: &BTreeSet<ObjectKey>,
    state: &'s LiveState,
) -> Platform<'r, 's> {
    // Everything looked up per live object is indexed once.
    let checked: BTreeSet<String> = rendered
        .iter()
        .filter(|r| r.objects.is_some())
        .map(|r| r.kustomization.id())
        .collect();
    let unchecked = Unchecked::of(known, &checked, state);
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
    let mut out = Platform::default();
    for (key, stored) in state.stored() {
        if stored.label(MANAGED_BY_LABEL) != Some("flux")
            || all_rendered.contains(key)
            || reported.contains(key)
            || stored.controller().is_some()
        {
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
                out.orphans.push((key.clone(), stored.object(), None, why));
                continue;
            }
        }
        if let Some(ks) = unchecked.may_own(key, stored) {
            *out.left_to.entry(ks.id()).or_default() += 1;
            continue;
        }
        if stored.label(OWNER_NAME_LABEL).is_some() {
            // Its Kustomization is checked and reports it, or could not be read.
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
        out.orphans.push((
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
    use serde_json::{Value, json};

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
                .orphans
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

    fn kustomization(name: &str, target: &str, inventory: &[&str]) -> Kustomization {
        let mut object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"path": format!("./{name}"), "targetNamespace": target,
                     "sourceRef": {"kind": "GitRepository", "name": "infra"}}});
        let entries: Vec<_> = inventory
            .iter()
            .map(|id| json!({"id": id, "v": "v1"}))
            .collect();
        object["status"] = json!({"inventory": {"entries": entries}});
        crate::discover::from_object(&object, crate::flux::Origin::Live, "flux-system").unwrap()
    }

    #[test]
    fn objects_in_the_namespace_of_a_kustomization_that_could_not_be_rendered_are_left_to_it() {
        // Regression: a Kustomization whose substituteFrom Secret was missing
        // handed the managed-by=flux ConfigMaps of its namespace to the only
        // other Kustomization rendering ConfigMaps, as its orphans.
        let failed = kustomization("monitoring", "monitoring", &[]);
        let apps = kustomization("apps", "apps", &[]);
        let in_ns = |ns: &str, name: &str| {
            let mut o = labelled(name, None);
            o["metadata"]["namespace"] = json!(ns);
            o
        };
        let rendered_object = Compact::new(&in_ns("apps", "settings"));
        let state = LiveState::new([
            in_ns("monitoring", "panel-1"),
            in_ns("monitoring", "panel-2"),
            in_ns("apps", "stale"),
        ]);
        let objects = [rendered_object];
        let renders = [
            Render {
                kustomization: &failed,
                objects: None,
            },
            Render {
                kustomization: &apps,
                objects: Some(&objects),
            },
        ];
        // (One applying to another cluster is not among `known`: the
        // pipeline passes the owners on the cluster compared.)
        let known = [failed.clone(), apps.clone()];
        let none = BTreeSet::new();
        let found = platform(
            &renders,
            &known,
            Unreadable::default(),
            &none,
            &none,
            &state,
        );
        let orphans: Vec<(String, Option<String>)> = found
            .orphans
            .iter()
            .map(|(key, _, owner, _)| {
                (
                    format!("{}/{}", key.namespace.as_deref().unwrap(), key.name),
                    owner.map(Kustomization::id),
                )
            })
            .collect();
        assert_eq!(
            orphans,
            [(
                "apps/stale".to_string(),
                Some("flux-system/apps".to_string())
            )]
        );
        assert_eq!(
            found.left_to,
            BTreeMap::from([("flux-system/monitoring".to_string(), 2)])
        );
    }

    #[test]
    fn an_inventory_entry_another_kustomization_applied_since_is_not_an_orphan() {
        // kustomize-controller's garbage collection leaves an object whose
        // owner labels name another Kustomization to that one.
        let ks = kustomization(
            "apps",
            "apps",
            &["apps_moved__ConfigMap", "apps_gone__ConfigMap"],
        );
        let owned_by = |name: &str, owner: &str| {
            let mut o = labelled(name, Some(owner));
            o["metadata"]["namespace"] = json!("apps");
            o
        };
        let state = LiveState::new([owned_by("moved", "infra"), owned_by("gone", "apps")]);
        let none = BTreeSet::new();
        let labelled_index = Labelled::of(&state);
        let orphans: Vec<(String, String)> =
            of_kustomization(&ks, &none, &none, &state, &labelled_index)
                .into_iter()
                .map(|(key, _, why)| (key.name, why))
                .collect();
        assert_eq!(
            orphans,
            [(
                "gone".to_string(),
                "in the inventory of Kustomization flux-system/apps but no longer in its render"
                    .to_string()
            )]
        );
    }

    #[test]
    fn a_secret_a_controller_made_from_a_custom_resource_in_git_is_never_an_orphan() {
        // A SealedSecret's Secret copies its template's labels, and an
        // ExternalSecret's may carry the platform's managed-by=flux and even
        // Flux's owner labels: each points at its custom resource with a
        // controller ownerReference, as sealed-secrets and external-secrets
        // write it. A plain Secret with the same labels is still an orphan.
        let ks = kustomization("apps", "apps", &[]);
        let secret = |name: &str, owner: Option<Value>| {
            let mut o = labelled(name, Some("apps"));
            o["kind"] = json!("Secret");
            o["metadata"]["namespace"] = json!("apps");
            if let Some(owner) = owner {
                o["metadata"]["ownerReferences"] = json!([owner]);
            }
            o
        };
        let sealed = json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "name": "db", "uid": "5b3c1e2a-8f1d-4b7e-9a0c-2d4e6f8a0b1c", "controller": true});
        let external = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "name": "api", "uid": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
            "controller": true, "blockOwnerDeletion": true});
        // An owner that is not the controller does not make it another's.
        let not_controller =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"});
        let state = LiveState::new([
            secret("db", Some(sealed)),
            secret("api", Some(external)),
            secret("stray", Some(not_controller)),
            secret("plain", None),
        ]);
        let none = BTreeSet::new();
        let labelled_index = Labelled::of(&state);
        let mut orphans: Vec<String> = of_kustomization(&ks, &none, &none, &state, &labelled_index)
            .into_iter()
            .map(|(key, ..)| key.name)
            .collect();
        orphans.sort();
        assert_eq!(orphans, ["plain", "stray"]);
        let renders = [Render {
            kustomization: &ks,
            objects: Some(&[]),
        }];
        let mut platform_orphans: Vec<String> = platform(
            &renders,
            std::slice::from_ref(&ks),
            Unreadable::default(),
            &none,
            &none,
            &state,
        )
        .orphans
        .into_iter()
        .map(|(key, ..)| key.name)
        .collect();
        platform_orphans.sort();
        // Labelled as the checked Kustomization's: that one reports them.
        assert_eq!(platform_orphans, Vec::<String>::new());
        let unlabelled = |mut o: Value| {
            o["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "flux"});
            o
        };
        let state = LiveState::new(
            [
                secret(
                    "db",
                    Some(json!({"kind": "SealedSecret", "name": "db", "controller": true})),
                ),
                secret("plain", None),
            ]
            .map(unlabelled),
        );
        let mut platform_orphans: Vec<String> = platform(
            &renders,
            std::slice::from_ref(&ks),
            Unreadable::default(),
            &none,
            &none,
            &state,
        )
        .orphans
        .into_iter()
        .map(|(key, ..)| key.name)
        .collect();
        platform_orphans.sort();
        assert_eq!(platform_orphans, ["plain"]);
    }
}
