//! The renders as the API server stores them, and where their values
//! read from Secrets sit.
//!
//! kustomize only knows its built-in table of cluster-scoped kinds, so its
//! `namespace:` transformer (and Flux's `targetNamespace`, which is one) puts
//! a namespace on a cluster-scoped custom kind it does not know. The API
//! server drops it when Flux applies the object, and fluxcd/pkg `ssa` records
//! the object without it in the inventory. [`as_stored`] runs once the live
//! stage knows the cluster's scopes, before the diff: `drift-check render`
//! prints what kustomize prints, while identity and comparison see what the
//! cluster stores. [`Substituted`] records, per object, the JSON Pointers
//! postBuild substitution filled from a Secret (masked by `diff::mask`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Rendered;
use crate::k8s::object::{Object, ObjectKey, ObjectRef};
use crate::k8s::scope::{Scopes, drop_cluster_scoped_namespace};

/// [`drop_cluster_scoped_namespace`] on every object of every render (at
/// the applied commit and at the head). Returns how many objects lost their
/// namespace.
pub fn as_stored(rendered: &mut [Rendered], scopes: &Scopes) -> usize {
    let mut dropped = 0;
    for r in rendered {
        let at_head = r.head.iter_mut().flat_map(|(objects, _)| objects);
        for object in r.objects.iter_mut().flatten().chain(at_head) {
            // Only an object of a cluster-scoped kind with a namespace changes.
            if object.reference().is_some_and(|o| {
                o.namespace.is_some() && scopes.is_cluster_scoped(o.group(), &o.kind)
            }) {
                dropped += usize::from(object.update(|o| drop_cluster_scoped_namespace(o, scopes)));
            }
        }
    }
    dropped
}

/// Where postBuild substitution put values read from Secrets: per object,
/// the JSON Pointers of those values, and the values themselves (strings).
#[derive(Clone, Debug, Default)]
pub struct Substituted {
    by_object: BTreeMap<ObjectKey, Places>,
}

#[derive(Clone, Debug, Default)]
pub struct Places {
    pub paths: BTreeSet<String>,
    pub values: BTreeSet<String>,
}

impl Substituted {
    /// Records the places of one rendered object (`paths` from the render).
    /// An object rendered twice (the applied commit and the head) keeps the
    /// places of both.
    pub fn record(&mut self, object: &Object, paths: &[String]) {
        if paths.is_empty() {
            return;
        }
        let Some(key) = ObjectRef::of(object).map(|o| o.key()) else {
            return;
        };
        let places = self.by_object.entry(key).or_default();
        for path in paths {
            if let Some(Value::String(value)) = object.pointer(path) {
                places.values.insert(value.clone());
            }
            places.paths.insert(path.clone());
        }
    }

    /// Keys objects as the API server stores them (no namespace on a
    /// cluster-scoped kind), as [`as_stored`] does the renders.
    pub fn as_stored(&mut self, scopes: &Scopes) {
        self.by_object = std::mem::take(&mut self.by_object)
            .into_iter()
            .map(|(mut key, places)| {
                if scopes.is_cluster_scoped(&key.group, &key.kind) {
                    key.namespace = None;
                }
                (key, places)
            })
            .fold(BTreeMap::new(), |mut all, (key, places)| {
                let into: &mut Places = all.entry(key).or_default();
                into.paths.extend(places.paths);
                into.values.extend(places.values);
                all
            });
    }

    /// The recorded places of one object.
    pub fn places(&self, key: &ObjectKey) -> Option<&Places> {
        self.by_object.get(key)
    }
}
