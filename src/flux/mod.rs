//! Flux's vocabulary, shared by every stage: the `Kustomization` API types
//! drift-check reads (spec and status), the labels, annotations and field
//! managers Flux writes, and its revision strings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod kinds;

/// ` since T` of a warning, when T is known.
pub fn since(at: Option<&str>) -> String {
    at.map(|at| format!(" since {at}")).unwrap_or_default()
}

/// `: message` of a warning, when there is one.
pub fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

use crate::k8s::object::{self, Object};
pub use crate::k8s::selector::Selector;

/// The label naming the Flux Kustomization that applied an object.
pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// The label naming that Kustomization's namespace.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// Flux's per-object opt-out of reconciliation (`disabled`).
pub const RECONCILE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// Flux's per-object server-side apply policy (`Ignore`, `IfNotPresent`, `Merge`).
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Flux's per-object opt-out of garbage collection.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Flux's per-object opt-out of postBuild substitution (`disabled`).
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// Field managers of Flux's controllers.
pub const FLUX_MANAGERS: &[&str] = &["kustomize-controller"];
/// The field manager kustomize-controller applies with.
pub const KUSTOMIZE_CONTROLLER: &str = "kustomize-controller";
/// The platform's ownership label (`flux`, `crossplane`, or absent).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

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
/// The CRD's other fields do not change what is applied and are ignored:
/// `interval`, `retryInterval`, `timeout`, `dependsOn`, `healthChecks`,
/// `healthCheckExprs`, `wait`, `force`, `deletionPolicy`,
/// Fields the CRD does not have are pruned by the API server, and ignored
/// here too. `kubeConfig` and `serviceAccountName` say where and as whom:
/// a remote Kustomization is compared on its spoke (`live::remote`).
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
    /// `spec.kubeConfig`: Flux applies to another cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<Value>,
    /// `spec.serviceAccountName`: impersonated on a spoke, as Flux does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// `spec.decryption` (SOPS): drift-check cannot decrypt, so a render
    /// meeting an encrypted object with it set is an error naming the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Value>,
    /// `spec.buildMetadata` (Flux 2.9): the kustomize build metadata
    /// annotations to add (`originAnnotations`, `transformerAnnotations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_metadata: Vec<BuildMetadataOption>,
    /// `spec.ignore` (Flux 2.9): fields Flux leaves out of drift detection and apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

/// One option of `spec.buildMetadata` (the CRD's enum; another value is
/// refused by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BuildMetadataOption {
    /// `config.kubernetes.io/origin`: the file (or generator) of each object.
    OriginAnnotations,
    /// `alpha.config.kubernetes.io/transformations`: the transformers run.
    TransformerAnnotations,
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
    /// Fields the selector does not know are dropped, as the API server
    /// prunes them.
    #[serde(deserialize_with = "Selector::deserialize_pruned")]
    pub target: Option<Selector>,
}

/// One entry of `spec.ignore` (kustomize-controller v1.9, Flux 2.9): JSON
/// Pointers (RFC 6901) that Flux removes from both the object it would apply
/// and the live object before comparing them, and does not revert when they
/// drift, on the objects its target selects (every object of the
/// Kustomization when there is none). Mirrors `IgnoreRule` of
/// kustomize-controller's `api/v1/kustomization_types.go`, applied through
/// fluxcd/pkg `ssa` `ApplyOptions.DriftIgnoreRules`. Compiled and checked by
/// [`crate::classify::IgnoreRule::of_kustomization`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IgnoreRule {
    /// JSON Pointers: `/spec/replicas`, `/spec/template/spec/containers/0/resources`,
    /// `/metadata/annotations/example.com~1owner`; `""` is the whole object.
    pub paths: Vec<String>,
    /// Which objects (regexes for group, version, kind, name, namespace;
    /// label and annotation selectors). Fields the CRD does not declare are
    /// dropped, as the API server prunes them.
    #[serde(
        deserialize_with = "Selector::deserialize_pruned",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<Selector>,
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
    /// `WithVariables` (default) or `Always` (kustomize-controller v1.9).
    #[serde(skip_serializing_if = "SubstituteStrategy::is_default")]
    pub substitute_strategy: SubstituteStrategy,
    pub substitute: BTreeMap<String, String>,
    pub substitute_from: Vec<SubstituteReference>,
}

/// `spec.postBuild.substituteStrategy` (kustomize-controller v1.9,
/// `api/v1/kustomization_types.go`): whether to substitute when no variable
/// is defined. Another value is refused, as the CRD's enum does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubstituteStrategy {
    /// Substitute only when at least one variable is defined (inline or
    /// from `substituteFrom`).
    #[default]
    WithVariables,
    /// Substitute even with no variables: `${var:=default}` gets its default.
    Always,
}

impl SubstituteStrategy {
    fn is_default(&self) -> bool {
        *self == Self::WithVariables
    }
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
    /// `Ready`, `Reconciling`, `Stalled`, ... as kustomize-controller sets them.
    pub conditions: Vec<Condition>,
}

/// A status condition (`metav1.Condition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

/// Why Flux cannot apply a Kustomization, in its own words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failing {
    /// The Ready condition's reason (`BuildFailed`, `ReconciliationFailed`, ...).
    pub reason: String,
    /// Its message (first line).
    pub message: String,
    /// When Ready last changed, RFC 3339.
    pub since: Option<String>,
}

impl Failing {
    /// What a Ready condition that is not True says.
    pub fn of(ready: &Condition) -> Self {
        Self {
            reason: ready.reason.clone().unwrap_or_else(|| "Unknown".into()),
            message: ready
                .message
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
            since: ready.last_transition_time.clone(),
        }
    }
}

impl KustomizationStatus {
    /// The `Ready` condition, when Flux has set one.
    pub fn ready(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == "Ready")
    }

    /// Flux's verdict when it is failing: `Ready=False`, or never applied
    /// and not `Ready=True` (a status Flux has written, so not a manifest
    /// read from the repo, whose status is empty).
    pub fn failing(&self) -> Option<Failing> {
        let ready = self.ready()?;
        let failed = ready.status == "False"
            || (self.last_applied_revision.is_none() && ready.status != "True");
        failed.then(|| Failing::of(ready))
    }

    /// Has Flux never reconciled the Kustomization: no condition, no
    /// revision attempted or applied, no inventory (no `status` at all, as
    /// just after it is created)?
    pub fn never_reconciled(&self) -> bool {
        self.conditions.is_empty()
            && self.last_applied_revision.is_none()
            && self.last_attempted_revision.is_none()
            && self.inventory.is_none()
    }

    /// Is this object (by inventory id) among what Flux last applied?
    pub fn applied(&self, inventory_id: &str) -> bool {
        self.inventory
            .iter()
            .flat_map(|i| &i.entries)
            .any(|e| e.id == inventory_id)
    }

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

/// Is this object a Flux Kustomization (any served version)?
pub fn is_kustomization(object: &Object) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(KIND)
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| object::group_of(v) == GROUP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_kustomization_without_any_status_is_never_reconciled() {
        assert!(KustomizationStatus::default().never_reconciled());
        let attempted = KustomizationStatus {
            last_attempted_revision: Some("main@sha1:abc".into()),
            ..Default::default()
        };
        assert!(!attempted.never_reconciled());
        let not_ready = KustomizationStatus {
            conditions: vec![Condition {
                kind: "Ready".into(),
                status: "False".into(),
                reason: Some("ArtifactFailed".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!not_ready.never_reconciled());
        assert!(
            not_ready.failing().is_some(),
            "a source not ready is failing"
        );
    }
}
