//! Stage `live`: the objects in the cluster.
//!
//! Input: a source of live state — a snapshot directory of `kubectl get -o
//! yaml` dumps here, the cluster itself (Step 3). Output: [`LiveState`], the
//! live objects (managedFields included) indexed by identity, plus what could
//! not be read.

pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use crate::object::{Object, ObjectKey, ObjectRef};

/// A source of live objects.
pub trait LiveSource {
    /// Flux `Kustomization` objects (all namespaces), as stored.
    fn kustomizations(&self) -> impl Future<Output = Result<Vec<Object>, LiveError>>;

    /// The data of a ConfigMap or Secret (`kind`), for `postBuild.substituteFrom`;
    /// `None` when it does not exist. Secret data comes back decoded.
    fn substitution_data(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, LiveError>>;

    /// Every live object of the given types (group, kind), in all namespaces.
    /// Types that cannot be read are reported in [`LiveState::errors`].
    fn fetch(&self, types: &BTreeSet<(String, String)>) -> impl Future<Output = LiveState>;
}

/// Live objects indexed by identity.
#[derive(Debug, Default)]
pub struct LiveState {
    objects: BTreeMap<ObjectKey, Object>,
    /// Types that could not be read, with why.
    pub errors: Vec<LiveError>,
}

impl LiveState {
    /// Builds the index; a later object with the same identity replaces an earlier one.
    pub fn new(objects: impl IntoIterator<Item = Object>) -> Self {
        let objects = objects
            .into_iter()
            .filter_map(|o| Some((ObjectRef::of(&o)?.key(), o)))
            .collect();
        Self {
            objects,
            errors: Vec::new(),
        }
    }

    /// The live object with this identity.
    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key)
    }

    /// All live objects, ordered by group, kind, namespace, name.
    pub fn objects(&self) -> impl Iterator<Item = (&ObjectKey, &Object)> {
        self.objects.iter()
    }

    /// How many objects were read.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// Live state that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A snapshot file or directory could not be read or parsed.
    #[error(transparent)]
    Snapshot(#[from] crate::yaml::YamlError),
    /// The snapshot directory does not exist or cannot be listed.
    #[error("{}: cannot read live snapshot: {source}", path.display())]
    SnapshotDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A document of a snapshot file is not a Kubernetes object.
    #[error("{}: document {index}: {message}", path.display())]
    NotAnObject {
        path: std::path::PathBuf,
        index: usize,
        message: String,
    },
}
