//! Stage `live`: the objects in the cluster.
//!
//! Input: a source of live state — the cluster itself ([`cluster`]), or a
//! snapshot directory of `kubectl get -o yaml` dumps ([`snapshot`]). Output:
//! [`LiveState`], the live objects (managedFields included) indexed by
//! identity, which kinds are cluster-scoped (from API discovery, or from the
//! snapshot's objects), plus the types the cluster does not serve and those
//! that could not be read. Also the other reads the pipeline makes of the cluster:
//! Flux's Kustomizations, `postBuild.substituteFrom` data, and (server mode)
//! server-side apply dry-runs.

pub mod cluster;
mod read;
pub mod remote;
pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures::StreamExt;

use crate::error::{Issue, Note, Stage};
use crate::flux::Kustomization;
use crate::flux::kinds::source::SourceKind;
use crate::k8s::object::{Compact, Object, ObjectKey, ObjectRef};
use crate::k8s::scope::Scopes;
use cluster::{Cluster, ClusterOptions};
pub use read::{Follow, Read, by_cluster, connect, followable, issue_on, known_on, read};
use snapshot::Snapshot;

/// Where the live state comes from.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A snapshot directory; `None`: the cluster.
    pub snapshot: Option<PathBuf>,
    /// How to reach the cluster (and how many requests run at once).
    pub cluster: ClusterOptions,
    /// How much one snapshot file may hold.
    pub limits: crate::files::Limits,
}

/// The live source of a run: a snapshot, or a connected cluster. The one
/// dispatch between the two (a closed set: no trait besides it).
pub enum Live {
    Snapshot(Snapshot),
    Cluster(Cluster),
}

impl Live {
    /// Loads the snapshot (its unreadable files are errors; the rest is
    /// used), or builds a client for the cluster.
    pub async fn open(options: &Options) -> Result<(Self, Vec<LiveError>), LiveError> {
        match &options.snapshot {
            Some(dir) => {
                let mut snapshot = Snapshot::load(dir, options.limits);
                let errors = snapshot.take_errors();
                Ok((Live::Snapshot(snapshot), errors))
            }
            None => Ok((
                Live::Cluster(Cluster::connect(&options.cluster).await?),
                Vec::new(),
            )),
        }
    }

    /// The cluster's name from the kubeconfig context (`None` for a snapshot).
    pub fn cluster_name(&self) -> Option<&str> {
        match self {
            Live::Snapshot(_) => None,
            Live::Cluster(cluster) => Some(cluster.name()),
        }
    }

    /// API requests made so far (`None` for a snapshot).
    pub fn requests(&self) -> Option<usize> {
        match self {
            Live::Snapshot(_) => None,
            Live::Cluster(cluster) => Some(cluster.requests()),
        }
    }
}

/// Every read of the live state, answered by the snapshot or the cluster:
/// the one place the two are told apart.
impl Live {
    /// What decides what Flux applies, in all namespaces, as stored: Flux
    /// `Kustomization`s, source-watcher `ArtifactGenerator`s (none when
    /// source-watcher is not installed), and Flux's sources
    /// of the kinds in `sources` (the source stage's `source::KINDS`).
    pub async fn flux_objects(&self, sources: &[SourceKind]) -> Result<Vec<Object>, LiveError> {
        match self {
            Live::Snapshot(s) => s.flux_objects(sources).await,
            Live::Cluster(c) => c.flux_objects(sources).await,
        }
    }

    /// The data of a ConfigMap or Secret (`kind`), for `postBuild.substituteFrom`;
    /// `None` when it does not exist. Secret data comes back decoded.
    pub async fn substitution_data(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, LiveError> {
        match self {
            Live::Snapshot(s) => s.substitution_data(kind, namespace, name).await,
            Live::Cluster(c) => c.substitution_data(kind, namespace, name).await,
        }
    }

    /// A Secret's data (decoded bytes) a Flux source names; `None` when it
    /// does not exist. Needs `get` on Secrets in the source's namespace
    /// (job/components/source-secrets).
    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, LiveError> {
        match self {
            Live::Snapshot(s) => s.secret_data(namespace, name).await,
            Live::Cluster(c) => c.secret_data(namespace, name).await,
        }
    }

    /// Every live object of the given types, in all namespaces, read at the
    /// version given, each [`reduce`]d. A snapshot hands its objects over
    /// (moves them, never copies): a second fetch of the same types finds
    /// none. Types that cannot be read are reported in
    /// [`LiveState::errors`], types not served (at that version) in
    /// [`LiveState::unserved`].
    pub async fn fetch(&self, types: &BTreeSet<TypeRef>) -> LiveState {
        match self {
            Live::Snapshot(s) => s.fetch(types).await,
            Live::Cluster(c) => c.fetch(types).await,
        }
    }

    /// What the object would be after Flux applied it (server-side apply
    /// dry-run as `kustomize-controller`). Only a cluster can answer.
    pub async fn dry_run(&self, object: &Object) -> Result<Object, LiveError> {
        match self {
            Live::Snapshot(s) => s.dry_run(object).await,
            Live::Cluster(c) => c.dry_run(object).await,
        }
    }

    /// Helm's deployed release records of `release` in `namespace`: the
    /// Secrets labelled `owner=helm`, `name=<release>`, `status=deployed`
    /// (see [`crate::helm::release`]), one LIST with that selector. Needs
    /// get/list on Secrets there (`helm.releaseManifests`).
    pub async fn helm_records(
        &self,
        namespace: &str,
        release: &str,
    ) -> Result<Vec<Object>, LiveError> {
        match self {
            Live::Snapshot(s) => s.helm_records(namespace, release).await,
            Live::Cluster(c) => c.helm_records(namespace, release).await,
        }
    }
}

/// Drops, as soon as a live object is read, what no later stage reads of
/// it: its `status`, which the diff strips anyway
/// ([`crate::diff::normalize::strip_status`]) — except a Flux
/// Kustomization's, which discovery reads, a HelmRelease's (Ready), and a
/// Flux source's, of any kind of its group (`status.artifact.revision`: the revision source-controller
/// holds, fetched as the source's head). managedFields stay: attribution
/// reads them. Key order is kept.
pub fn reduce(object: &mut Object) {
    if crate::flux::is_kustomization(object)
        || crate::flux::kinds::helm::is_helm_release(object)
        || crate::k8s::object::group_of(
            object
                .get("apiVersion")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(""),
        ) == crate::flux::kinds::source::GROUP
    {
        return;
    }
    if let Some(map) = object.as_object_mut() {
        map.shift_remove("status");
    }
}

/// The types whose live objects are needed: everything rendered (`objects`)
/// or in the given Flux inventories, each read at the version git uses (the
/// first met).
pub fn types_to_fetch<'a>(
    objects: impl IntoIterator<Item = &'a ObjectRef>,
    kustomizations: impl IntoIterator<Item = &'a Kustomization>,
) -> BTreeSet<TypeRef> {
    let mut types: BTreeMap<(String, String), TypeRef> = BTreeMap::new();
    for t in objects
        .into_iter()
        .map(|o| TypeRef::new(&o.api_version, &o.kind))
    {
        types.entry(t.key()).or_insert(t);
    }
    for ks in kustomizations {
        for entry in ks.status.inventory.iter().flat_map(|i| &i.entries) {
            if let Some(key) = ObjectKey::from_inventory_id(&entry.id) {
                let api_version = if key.group.is_empty() {
                    entry.v.clone()
                } else {
                    format!("{}/{}", key.group, entry.v)
                };
                let t = TypeRef::new(&api_version, &key.kind);
                types.entry(t.key()).or_insert(t);
            }
        }
    }
    types.into_values().collect()
}

/// Server mode: what Flux would make of each rendered object that exists
/// live (`work`: its Kustomization, identity and the object to apply), from a
/// server-side apply dry-run, `concurrency` at a time. A failed dry-run is an
/// issue of its Kustomization, and the object is compared locally; RBAC's
/// escalation check (applying a role needs `escalate`, a binding `bind`,
/// which the job is not given) is only a note.
pub async fn dry_runs(
    live: &Live,
    work: Vec<(&Kustomization, ObjectKey, Object)>,
    concurrency: usize,
) -> (BTreeMap<ObjectKey, Object>, Vec<Issue>, Vec<Note>) {
    let results: Vec<_> = futures::stream::iter(work)
        .map(|(ks, key, applied)| async move {
            let result = live.dry_run(&applied).await;
            (ks, key, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let (mut out, mut issues, mut notes) = (BTreeMap::new(), Vec::new(), Vec::new());
    for (ks, key, result) in results {
        match result {
            Ok(object) => {
                out.insert(key, object);
            }
            Err(LiveError::Status {
                code: 403, message, ..
            }) if key.group == "rbac.authorization.k8s.io" => {
                let object = format!("{}/{}", key.kind, key.name);
                tracing::warn!(kustomization = %ks, object, "Server-side dry-run forbidden; compared locally");
                notes.push(Note {
                    kustomization: Some(ks.id()),
                    message: format!(
                        "{object}: server-side dry-run forbidden ({}), compared locally; granting escalate/bind would allow it",
                        message.lines().next().unwrap_or_default()
                    ),
                });
            }
            Err(e) => issues.push(Issue::new(Some(ks.id()), Stage::DryRun, &e)),
        }
    }
    (out, issues, notes)
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

/// A live object as held: compact ([`Compact`]), with its string labels and
/// its controller (what the orphan scans read of every object).
#[derive(Debug)]
pub struct Stored {
    compact: Compact,
    labels: Box<[(Box<str>, Box<str>)]>,
    controller: Option<Box<str>>,
}

impl Stored {
    /// Stores an object.
    pub fn new(object: &Object) -> Self {
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str().into(), v.as_str()?.into())))
            .collect();
        let controller = object
            .pointer("/metadata/ownerReferences")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("controller").and_then(serde_json::Value::as_bool) == Some(true))
            .map(|r| {
                let field = |name| {
                    r.get(name)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("?")
                };
                format!("{}/{}", field("kind"), field("name")).into()
            });
        Self {
            compact: Compact::new(object),
            labels,
            controller,
        }
    }

    /// The object's controller (`Kind/name` of the ownerReference with
    /// `controller: true`): a SealedSecret's or an ExternalSecret's Secret, a
    /// Deployment's ReplicaSet. That controller made it and keeps it, whatever
    /// labels it copied onto it.
    pub fn controller(&self) -> Option<&str> {
        self.controller.as_deref()
    }

    /// The object, parsed on first use and kept.
    pub fn object(&self) -> &Object {
        self.compact.object()
    }

    /// The object for a look, not kept parsed ([`Compact::peek`]).
    pub fn peek(&self) -> std::borrow::Cow<'_, Object> {
        self.compact.peek()
    }

    /// Whether the object is held parsed.
    pub fn is_parsed(&self) -> bool {
        self.compact.is_parsed()
    }

    /// `metadata.labels[key]`, without parsing the object.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// Live objects indexed by identity.
#[derive(Debug, Default)]
pub struct LiveState {
    objects: BTreeMap<ObjectKey, Stored>,
    /// Types (group, kind) the cluster does not serve at the version asked, with why.
    pub unserved: BTreeMap<(String, String), String>,
    /// Types that could not be read: their objects cannot be compared. Each
    /// with why, in a few words (`v1 configmaps forbidden`), for the
    /// Kustomizations it leaves unchecked.
    pub failed: BTreeMap<(String, String), String>,
    /// Why reading failed.
    pub errors: Vec<LiveError>,
    /// Which kinds are cluster-scoped, as the live source knows: the
    /// cluster's API discovery, or a snapshot's objects. The pipeline adds
    /// what the render's CRDs say of kinds not served yet.
    pub scopes: Scopes,
}

impl LiveState {
    /// Builds the index; a later object with the same identity replaces an earlier one.
    pub fn new(objects: impl IntoIterator<Item = Object>) -> Self {
        Self::of_stored(
            objects
                .into_iter()
                .filter_map(|o| Some((ObjectRef::of(&o)?.key(), Stored::new(&o)))),
        )
    }

    /// [`LiveState::new`] from objects already stored.
    pub fn of_stored(objects: impl IntoIterator<Item = (ObjectKey, Stored)>) -> Self {
        Self {
            objects: objects.into_iter().collect(),
            ..Default::default()
        }
    }

    /// The live object with this identity, parsed and kept (for the objects
    /// a finding names; a look at every object is [`LiveState::peek`]).
    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key).map(Stored::object)
    }

    /// The live object with this identity, for a look ([`Compact::peek`]).
    pub fn peek(&self, key: &ObjectKey) -> Option<std::borrow::Cow<'_, Object>> {
        self.objects.get(key).map(Stored::peek)
    }

    /// The live object with this identity as stored (labels without parsing).
    pub fn stored_of(&self, key: &ObjectKey) -> Option<&Stored> {
        self.objects.get(key)
    }

    /// Whether an object with this identity is live.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.objects.contains_key(key)
    }

    /// All live objects, ordered by group, kind, namespace, name (each
    /// parsed: a scan of every object reads [`LiveState::stored`]).
    pub fn objects(&self) -> impl Iterator<Item = (&ObjectKey, &Object)> {
        self.objects.iter().map(|(key, s)| (key, s.object()))
    }

    /// All live objects as stored, ordered by group, kind, namespace, name.
    pub fn stored(&self) -> impl Iterator<Item = (&ObjectKey, &Stored)> {
        self.objects.iter()
    }

    /// The live objects of a kind (any group).
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects
            .iter()
            .filter(move |(key, _)| key.kind == kind)
            .map(|(_, s)| s.object())
    }

    /// Moves out the objects whose type (group, kind) is in `wanted`.
    pub fn take_types(&mut self, wanted: &BTreeSet<(String, String)>) -> Self {
        let objects = self
            .objects
            .extract_if(.., |key, _| wanted.contains(&key.type_key()))
            .collect();
        Self {
            objects,
            ..Default::default()
        }
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
