//! Stage `live`: the objects in the cluster.
//!
//! Input: a source of live state — the cluster itself ([`cluster`]), or a
//! snapshot directory of `kubectl get -o yaml` dumps ([`snapshot`]). Output:
//! [`LiveState`], the live objects (managedFields included) indexed by
//! identity, plus the types the cluster does not serve and those that could
//! not be read.

pub mod cluster;
pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use crate::k8s::object::{Object, ObjectKey, ObjectRef};

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

    /// Every live object of the given types, in all namespaces, read at the
    /// version given. Types that cannot be read are reported in
    /// [`LiveState::errors`], types not served (at that version) in
    /// [`LiveState::unserved`].
    fn fetch(&self, types: &BTreeSet<TypeRef>) -> impl Future<Output = LiveState>;

    /// What the object would be after Flux applied it (server-side apply
    /// dry-run as `kustomize-controller`). Only a cluster can answer.
    fn dry_run(&self, object: &Object) -> impl Future<Output = Result<Object, LiveError>>;
}

/// A type to read: API group, version and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeRef {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl TypeRef {
    /// The type of an object (`None` without apiVersion/kind).
    pub fn of(object: &Object) -> Option<Self> {
        let r = ObjectRef::of(object)?;
        Some(Self::new(&r.api_version, &r.kind))
    }

    /// From an `apiVersion` and a kind.
    pub fn new(api_version: &str, kind: &str) -> Self {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// `group/version` (`v1` for the core group).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// (group, kind): the version-independent part.
    pub fn key(&self) -> (String, String) {
        (self.group.clone(), self.kind.clone())
    }
}

/// Live objects indexed by identity.
#[derive(Debug, Default)]
pub struct LiveState {
    objects: BTreeMap<ObjectKey, Object>,
    /// Types (group, kind) the cluster does not serve at the version asked, with why.
    pub unserved: BTreeMap<(String, String), String>,
    /// Types that could not be read: their objects cannot be compared.
    pub failed: BTreeSet<(String, String)>,
    /// Why reading failed.
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
            ..Default::default()
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
    /// The kubeconfig or in-cluster configuration cannot be used.
    #[error("cluster configuration: {0}")]
    Config(String),
    /// The API server answered with an error status.
    #[error("{what}: {reason} ({code}): {message}")]
    Status {
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// The API server could not be reached or the request failed on the way.
    #[error("{what}: {message}")]
    Request { what: String, message: String },
    /// The API server did not answer in time.
    #[error("{what}: no answer within {seconds} s")]
    Timeout { what: String, seconds: u64 },
    /// The cluster does not serve this type (at this version).
    #[error("{0}")]
    NotServed(String),
    /// The live source cannot do this (a snapshot cannot dry-run).
    #[error("{0}")]
    Unsupported(String),
    /// A document of a snapshot file is not a Kubernetes object.
    #[error("{}: document {index}: {message}", path.display())]
    NotAnObject {
        path: std::path::PathBuf,
        index: usize,
        message: String,
    },
}

impl LiveError {
    /// An error of a kube-rs call, with what was being done (and, when the
    /// server could not be reached, which server).
    pub fn api(what: &str, server: &str, error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => LiveError::Status {
                what: what.to_string(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => LiveError::Request {
                what: format!("{what} (API server {server})"),
                message: crate::error::error_chain(&other),
            },
        }
    }
}
