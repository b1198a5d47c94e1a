//! Stage `discover`: which Flux Kustomizations to check.
//!
//! Input: the live state's `kustomize.toolkit.fluxcd.io` `Kustomization`
//! objects (spec and status), or, when it has none, the Kustomization manifests
//! under a directory of the repo (`--kustomizations-dir`, e.g. `clusters/prod`).
//! Output: [`Kustomization`]s in a stable order, filtered by name when asked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::{self, Object};
use crate::yaml;

/// The API group of Flux Kustomizations.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// The Flux Kustomization kind.
pub const KIND: &str = "Kustomization";

/// A Flux Kustomization: what to render, and what Flux last did with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Kustomization {
    pub namespace: String,
    pub name: String,
    pub spec: KustomizationSpec,
    pub status: KustomizationStatus,
    /// `metadata.annotations` (e.g. `kustomize.toolkit.fluxcd.io/reconcile`).
    pub annotations: BTreeMap<String, String>,
    /// When `spec.suspend` was last set, from the object's managedFields.
    pub suspended_since: Option<String>,
    /// Where the definition came from (a file of the repo, or the cluster).
    pub origin: Origin,
}

impl Kustomization {
    /// `namespace/name`, as findings name their Kustomization.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The namespace that sources and `substituteFrom` objects live in when
    /// their reference names none.
    pub fn source_namespace(&self) -> &str {
        self.spec
            .source_ref
            .namespace
            .as_deref()
            .unwrap_or(&self.namespace)
    }
}

impl fmt::Display for Kustomization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Where a Kustomization definition was read.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// From the cluster (or a snapshot of it).
    Live,
    /// From a manifest file of the repo.
    File(PathBuf),
}

/// The parts of a Flux `Kustomization.spec` (v1) that decide what is applied.
/// Unknown fields (interval, timeout, healthChecks, ...) are accepted and ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KustomizationSpec {
    /// Path to the directory with the kustomization.yaml, relative to the source root.
    pub path: String,
    pub source_ref: SourceRef,
    pub target_namespace: Option<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    /// Strategic merge or JSON 6902 patches, with optional targets.
    pub patches: Vec<Patch>,
    pub images: Vec<Image>,
    pub components: Vec<String>,
    pub ignore_missing_components: bool,
    pub common_metadata: Option<CommonMetadata>,
    pub post_build: Option<PostBuild>,
    pub prune: bool,
    pub suspend: bool,
    pub force: bool,
    pub interval: Option<String>,
}

/// `spec.sourceRef`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceRef {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// One entry of `spec.patches`: a patch document (YAML or JSON, strategic merge
/// or JSON 6902) and the objects it applies to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patch {
    pub patch: String,
    pub target: Option<Selector>,
}

/// A kustomize target selector: group, version, kind, name and namespace are
/// anchored regular expressions; label and annotation selectors as in kubectl.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// One entry of `spec.images`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// `spec.commonMetadata`: labels and annotations Flux sets on every object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonMetadata {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// `spec.postBuild`: variable substitution after the kustomize build.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PostBuild {
    pub substitute: BTreeMap<String, String>,
    pub substitute_from: Vec<SubstituteReference>,
}

/// One entry of `spec.postBuild.substituteFrom`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubstituteReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub name: String,
    pub optional: bool,
}

/// The parts of `Kustomization.status` drift-check reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KustomizationStatus {
    /// `<branch>@sha1:<sha>` of the last successful apply.
    pub last_applied_revision: Option<String>,
    pub last_attempted_revision: Option<String>,
    pub inventory: Option<Inventory>,
}

impl KustomizationStatus {
    /// The commit sha of `lastAppliedRevision` (`main@sha1:abc` → `abc`).
    pub fn applied_commit(&self) -> Option<&str> {
        self.last_applied_revision.as_deref().map(revision_commit)
    }
}

/// The sha part of a Flux revision string: `main@sha1:abc` → `abc`,
/// `sha1:abc` → `abc`, a bare sha unchanged.
pub fn revision_commit(revision: &str) -> &str {
    let tail = revision.rsplit_once('@').map_or(revision, |(_, r)| r);
    tail.split_once(':').map_or(tail, |(_, sha)| sha)
}

/// `status.inventory`: what Flux applied last time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inventory {
    pub entries: Vec<InventoryEntry>,
}

/// One inventory entry: `<ns>_<name>_<group>_<kind>` and the API version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InventoryEntry {
    pub id: String,
    pub v: String,
}

/// A Kustomization definition that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A manifest file of `--kustomizations-dir` is not valid YAML.
    #[error(transparent)]
    Yaml(#[from] yaml::YamlError),
    /// The directory given with `--kustomizations-dir` does not exist or cannot be listed.
    #[error("{}: cannot list Kustomization manifests: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Kustomization object whose spec has the wrong shape.
    #[error("{origin}: Kustomization {name}: {message}")]
    Spec {
        origin: String,
        name: String,
        message: String,
    },
    /// `--kustomization NAME` names a Kustomization that was not found.
    #[error("Kustomization {0} not found (known: {1})")]
    NotFound(String, String),
}

/// Is this object a Flux Kustomization (any served version)?
pub fn is_kustomization(object: &Object) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(KIND)
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| object::group_of(v) == GROUP)
}

/// Reads one Kustomization object. `default_namespace` applies when the
/// manifest names none (as `kubectl apply` would put it in `flux-system`
/// for manifests of a bootstrap repo).
pub fn from_object(
    object: &Object,
    origin: Origin,
    default_namespace: &str,
) -> Result<Kustomization, DiscoverError> {
    let name = object::name(object).unwrap_or("").to_string();
    let origin_text = match &origin {
        Origin::Live => "live state".to_string(),
        Origin::File(path) => path.display().to_string(),
    };
    let spec_error = |field: &str, e: serde_json::Error| DiscoverError::Spec {
        origin: origin_text.clone(),
        name: name.clone(),
        message: format!("{field}: {e}"),
    };
    if name.is_empty() {
        return Err(DiscoverError::Spec {
            origin: origin_text,
            name: "<unnamed>".into(),
            message: "metadata.name is missing".into(),
        });
    }
    let spec: KustomizationSpec =
        serde_json::from_value(object.get("spec").cloned().unwrap_or(Value::Null))
            .map_err(|e| spec_error("spec", e))?;
    let status: KustomizationStatus = match object.get("status") {
        Some(status) => {
            serde_json::from_value(status.clone()).map_err(|e| spec_error("status", e))?
        }
        None => KustomizationStatus::default(),
    };
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let suspended_since = spec
        .suspend
        .then(|| crate::diff::managed::field_set_time(object, &["spec", "suspend"]))
        .flatten();
    Ok(Kustomization {
        namespace: object::namespace(object)
            .unwrap_or(default_namespace)
            .to_string(),
        name,
        spec,
        status,
        annotations,
        suspended_since,
        origin,
    })
}

/// Kustomizations among live objects, sorted by namespace and name.
pub fn from_live(objects: &[Object]) -> Result<Vec<Kustomization>, DiscoverError> {
    let mut found = objects
        .iter()
        .filter(|o| is_kustomization(o))
        .map(|o| from_object(o, Origin::Live, "flux-system"))
        .collect::<Result<Vec<_>, _>>()?;
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(found)
}

/// Kustomization manifests in the YAML files under `dir` (recursively, in
/// lexical order). Files with other kinds are skipped; a file that is not YAML
/// is an error naming it, and does not stop the others being read.
pub fn from_dir(dir: &Path) -> (Vec<Kustomization>, Vec<DiscoverError>) {
    let files = match yaml::files_under(dir, &["yaml", "yml"]) {
        Ok(files) => files,
        Err(source) => {
            let error = DiscoverError::Dir {
                path: dir.to_path_buf(),
                source,
            };
            return (Vec::new(), vec![error]);
        }
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match yaml::read_documents(&file) {
            Ok(docs) => {
                for doc in docs.iter().filter(|d| is_kustomization(d)) {
                    match from_object(doc, Origin::File(file.clone()), "flux-system") {
                        Ok(k) => found.push(k),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e.into()),
        }
    }
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    (found, errors)
}

/// Keeps the Kustomizations named in `names` (`name` or `namespace/name`);
/// all of them when `names` is empty. A name that matches nothing is an error.
pub fn select(
    all: Vec<Kustomization>,
    names: &[String],
) -> Result<Vec<Kustomization>, DiscoverError> {
    if names.is_empty() {
        return Ok(all);
    }
    for wanted in names {
        if !all.iter().any(|k| matches_name(k, wanted)) {
            let known = all
                .iter()
                .map(Kustomization::id)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DiscoverError::NotFound(wanted.clone(), known));
        }
    }
    Ok(all
        .into_iter()
        .filter(|k| names.iter().any(|n| matches_name(k, n)))
        .collect())
}

fn matches_name(k: &Kustomization, wanted: &str) -> bool {
    match wanted.split_once('/') {
        Some((ns, name)) => k.namespace == ns && k.name == name,
        None => k.name == wanted,
    }
}
