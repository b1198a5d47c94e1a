//! Objects that two or more Flux Kustomizations apply.
//!
//! Input: each Kustomization's render (or its failure), every Kustomization
//! discovered (with its inventory), and the live state's scopes. Output, per
//! object applied by more than one: who applies it, in report order, and how
//! we know (its render, its inventory). Pure.
//!
//! Real repos overlap (a root's generated kustomization includes a directory
//! another Kustomization applies too). Each reconcile of one rewrites what the
//! other wrote, Flux's owner labels included: that is no person's edit, and
//! is reported once per object as drift of its own kind, `overlap`, with the
//! changes Flux itself wrote left out of the comparison.

use std::collections::{BTreeMap, BTreeSet};

use super::scope;
use crate::flux::{Kustomization, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};
use crate::k8s::object::{self, Compact, ObjectKey};
use crate::k8s::scope::Scopes;
use crate::render::Rendered;

/// One Kustomization that applies an object.
#[derive(Clone, Debug)]
pub struct Claim<'a> {
    pub kustomization: &'a Kustomization,
    /// Its render in this run has the object.
    pub renders: bool,
    /// Its `status.inventory` has the object.
    pub inventory: bool,
}

/// The objects more than one Kustomization applies, each with the claims
/// (the Kustomizations rendering it first, in render order).
#[derive(Debug, Default)]
pub struct Overlaps<'a, 'k>(BTreeMap<&'k ObjectKey, Vec<Claim<'a>>>);

impl<'a, 'k> Overlaps<'a, 'k> {
    /// Claims come from each render that succeeded, and from the inventory
    /// of each Kustomization not rendered in this run (failed, another
    /// source, not selected): it applies what its inventory lists. Only
    /// objects met twice are held (by reference into `all_rendered`, the
    /// identity of every rendered object).
    pub fn of(
        rendered: &'a [Rendered],
        known: &'a [Kustomization],
        all_rendered: &'k BTreeSet<ObjectKey>,
        scopes: &Scopes,
    ) -> Self {
        let inventory = |ks: &Kustomization| -> BTreeSet<ObjectKey> {
            ks.status
                .inventory
                .iter()
                .flat_map(|i| &i.entries)
                .filter_map(|e| scope::inventory_key(&e.id, scopes))
                .collect()
        };
        let renders: Vec<&Rendered> = {
            let mut seen = BTreeSet::new();
            rendered
                .iter()
                .filter(|r| r.objects.is_some() && seen.insert(r.ks.id()))
                .collect()
        };
        // The first render of each object, then every claim of those met again.
        let mut first: BTreeMap<&'k ObjectKey, usize> = BTreeMap::new();
        let mut claims: BTreeMap<&'k ObjectKey, Vec<usize>> = BTreeMap::new();
        for (i, r) in renders.iter().enumerate() {
            for key in r.objects.iter().flatten().filter_map(Compact::reference) {
                let Some(key) = all_rendered.get(&key.key()) else {
                    continue;
                };
                match first.get(key) {
                    None => {
                        first.insert(key, i);
                    }
                    Some(&j) if j != i => {
                        let list = claims.entry(key).or_insert_with(|| vec![j]);
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        let mut out: BTreeMap<&'k ObjectKey, Vec<Claim<'a>>> = BTreeMap::new();
        // Inventories are read only for the objects met twice.
        let rendering = |i: usize, key: &ObjectKey| {
            let ks: &'a Kustomization = &renders[i].ks;
            let listed = ks
                .status
                .inventory
                .iter()
                .flat_map(|inv| &inv.entries)
                .any(|e| scope::inventory_key(&e.id, scopes).as_ref() == Some(key));
            Claim {
                kustomization: ks,
                renders: true,
                inventory: listed,
            }
        };
        for (key, list) in &claims {
            out.insert(key, list.iter().map(|&i| rendering(i, key)).collect());
        }
        let rendered_ids: BTreeSet<String> = renders.iter().map(|r| r.ks.id()).collect();
        // `known` holds only those applying to the cluster compared.
        let not_rendered = known.iter().filter(|k| !rendered_ids.contains(&k.id()));
        for ks in not_rendered {
            for key in inventory(ks) {
                // Only objects some render has: the others are not compared.
                let Some(&i) = first.get(&key) else { continue };
                let Some(key) = all_rendered.get(&key) else {
                    continue;
                };
                let list = out.entry(key).or_insert_with(|| vec![rendering(i, key)]);
                if !list.iter().any(|c| c.kustomization.id() == ks.id()) {
                    list.push(Claim {
                        kustomization: ks,
                        renders: false,
                        inventory: true,
                    });
                }
            }
        }
        Self(out)
    }

    /// Who applies the object, when more than one does.
    pub fn of_object(&self, key: &ObjectKey) -> Option<&[Claim<'a>]> {
        self.0.get(key).map(Vec::as_slice)
    }
}

/// The finding's words: who applies it, how we know, and what to do.
pub fn message(claims: &[Claim<'_>]) -> String {
    let ids: Vec<String> = claims.iter().map(|c| c.kustomization.id()).collect();
    let names = match ids.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };
    let (count, every) = match claims.len() {
        2 => ("two".to_string(), "both"),
        n => (n.to_string(), "all"),
    };
    let evidence = if claims.iter().all(|c| c.inventory) {
        format!("{every} in their inventories")
    } else if claims.iter().all(|c| c.renders) {
        format!("{every} render it")
    } else {
        claims
            .iter()
            .map(|c| {
                let how = match (c.renders, c.inventory) {
                    (true, true) => "renders it and has it in its inventory",
                    (true, false) => "renders it",
                    _ => "has it in its inventory",
                };
                format!("{} {how}", c.kustomization.id())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let which = if claims.len() == 2 {
        "one of them"
    } else {
        "all but one of them"
    };
    format!(
        "applied by {count} Flux Kustomizations ({names}, {evidence}): they overwrite each other on every reconcile; remove it from {which}"
    )
}

/// Whether a change is one Flux makes when the other Kustomization applies
/// the object: written by a Flux manager, or Flux's owner labels.
pub fn written_by_the_other(change: &super::Change, policy: &super::Policy) -> bool {
    let owner_labels = [OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL]
        .map(|l| object::pointer(["metadata", "labels", l]));
    owner_labels.contains(&change.path)
        || change.manager.as_deref().is_some_and(|m| policy.is_flux(m))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::{Change, Op, Policy};

    fn ks(name: &str, inventory: &[&str]) -> Kustomization {
        let mut object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"path": format!("./{name}"), "sourceRef": {"kind": "GitRepository", "name": "infra"}}});
        if !inventory.is_empty() {
            let entries: Vec<_> = inventory
                .iter()
                .map(|id| json!({"id": id, "v": "v1"}))
                .collect();
            object["status"] = json!({"inventory": {"entries": entries}});
        }
        crate::discover::from_object(&object, crate::flux::Origin::Live, "flux-system").unwrap()
    }

    fn config_map(name: &str) -> Compact {
        Compact::new(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "apps"}}))
    }

    fn rendered(ks: Kustomization, objects: Option<Vec<Compact>>) -> Rendered {
        Rendered {
            ks,
            objects,
            revision: None,
            applied_unread: false,
            head: None,
        }
    }

    #[test]
    fn an_object_two_renders_have_is_claimed_by_both_in_render_order() {
        let rendered = vec![
            rendered(
                ks("flux-system", &["apps_shared__ConfigMap"]),
                Some(vec![config_map("shared"), config_map("own")]),
            ),
            rendered(
                ks("apps", &["apps_shared__ConfigMap"]),
                Some(vec![config_map("shared")]),
            ),
        ];
        let all = Rendered::identities(&rendered);
        let overlaps = Overlaps::of(&rendered, &[], &all, &Scopes::default());
        let key = config_map("shared").reference().unwrap().key();
        let claims = overlaps.of_object(&key).unwrap();
        assert_eq!(
            message(claims),
            "applied by two Flux Kustomizations (flux-system/flux-system and flux-system/apps, both in their inventories): they overwrite each other on every reconcile; remove it from one of them"
        );
        assert!(
            overlaps
                .of_object(&config_map("own").reference().unwrap().key())
                .is_none()
        );
    }

    #[test]
    fn the_inventory_of_a_kustomization_not_rendered_claims_too() {
        let rendered = vec![
            rendered(ks("apps", &[]), Some(vec![config_map("shared")])),
            rendered(ks("broken", &["apps_shared__ConfigMap"]), None),
        ];
        // (One applying to another cluster is not among `known`: the
        // pipeline passes the owners on the cluster compared.)
        let known = vec![
            rendered[0].ks.clone(),
            rendered[1].ks.clone(),
            ks("other", &["apps_elsewhere__ConfigMap"]),
        ];
        let all = Rendered::identities(&rendered);
        let overlaps = Overlaps::of(&rendered, &known, &all, &Scopes::default());
        let claims = overlaps
            .of_object(&config_map("shared").reference().unwrap().key())
            .unwrap();
        assert_eq!(
            message(claims),
            "applied by two Flux Kustomizations (flux-system/apps and flux-system/broken, flux-system/apps renders it, flux-system/broken has it in its inventory): they overwrite each other on every reconcile; remove it from one of them"
        );
    }

    #[test]
    fn what_the_other_kustomization_writes_is_not_a_change() {
        let change = |path: &str, manager: &str| Change {
            path: path.into(),
            op: Op::Replace,
            desired: Some(json!("a")),
            live: Some(json!("b")),
            manager: Some(manager.into()),
            time: None,
            explanation: None,
            readable_path: None,
        };
        let policy = Policy::default();
        assert!(written_by_the_other(
            &change(
                "/metadata/labels/kustomize.toolkit.fluxcd.io~1name",
                "kubectl-label"
            ),
            &policy
        ));
        assert!(written_by_the_other(
            &change("/data/k", "kustomize-controller"),
            &policy
        ));
        assert!(!written_by_the_other(
            &change("/data/k", "kubectl-edit"),
            &policy
        ));
    }
}
