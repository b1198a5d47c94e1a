//! Stage `helm`: what helm-controller deployed for the HelmReleases the
//! checked Kustomizations render ([`releases`]: found in the renders, their
//! release records read, the types their objects need, each one as it is
//! live; [`spokes`]: those with `spec.kubeConfig`, on their cluster).
//!
//! Also the vocabulary the diff and classify stages read of a HelmRelease:
//! its fields (release name and namespaces, suspension, Ready, drift
//! detection), the labels and annotations helm-controller and Helm put on
//! every object of a release, and Helm's release records ([`release`]).
//!
//! How the objects are marked (helm-controller v1, Helm v3):
//! - helm-controller's post-renderer labels every object
//!   `helm.toolkit.fluxcd.io/name` and `helm.toolkit.fluxcd.io/namespace`
//!   with the HelmRelease's name and namespace (`postrender/origin_labels.go`);
//! - Helm annotates every object it creates or adopts
//!   `meta.helm.sh/release-name` / `meta.helm.sh/release-namespace` and labels
//!   it `app.kubernetes.io/managed-by: Helm` (`pkg/action/validate.go`,
//!   `setMetadataVisitor`);
//! - helm-controller writes as field manager `helm-controller`.

pub mod release;
pub mod releases;
pub mod spokes;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::flux::{self, Condition, Failing};
use crate::k8s::managed;
use crate::k8s::object::{self, Object};

pub use crate::flux::kinds::helm::{GROUP, KIND, is_helm_release};
pub use releases::{Deployed, Releases, read};
/// helm-controller's label naming the HelmRelease of an object.
pub const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// helm-controller's label naming that HelmRelease's namespace.
pub const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";
/// Helm's annotation naming the release of an object.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm's annotation naming the release's namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// The value of `app.kubernetes.io/managed-by` on Helm's objects.
pub const MANAGED_BY_HELM: &str = "Helm";
/// The field manager helm-controller writes with.
pub const HELM_CONTROLLER: &str = "helm-controller";
/// Helm's longest release name; helm-controller shortens longer ones.
const MAX_RELEASE_NAME: usize = 53;

/// The kinds read for a release whose manifest is not read
/// (`helm.releaseManifests: false`, the default), as `apiVersion`, `kind`.
pub const DEFAULT_TYPES: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
];

/// How Helm-managed objects are checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Read each release's latest deployed record (a Secret: needs get/list
    /// on Secrets in the storage namespaces) and compare its manifest.
    pub release_manifests: bool,
    /// The types read for a release without a manifest: (`apiVersion`, `kind`).
    pub types: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            release_manifests: false,
            types: DEFAULT_TYPES
                .iter()
                .map(|(v, k)| (v.to_string(), k.to_string()))
                .collect(),
        }
    }
}

/// `helm:` of the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct HelmConfig {
    /// Compare each release's manifest (default false).
    pub release_manifests: Option<bool>,
    /// The types to read for a release without a manifest.
    pub types: Option<Vec<TypeConfig>>,
}

/// One entry of `helm.types`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TypeConfig {
    pub api_version: String,
    pub kind: String,
}

impl HelmConfig {
    /// The options, defaults filled in; a type needs both fields.
    pub fn validate(&self) -> Result<Options, String> {
        let mut options = Options {
            release_manifests: self.release_manifests.unwrap_or(false),
            ..Options::default()
        };
        if let Some(types) = &self.types {
            options.types = Vec::new();
            for (i, t) in types.iter().enumerate() {
                if t.api_version.trim().is_empty() || t.kind.trim().is_empty() {
                    return Err(format!(
                        "helm.types[{i}]: apiVersion and kind are required, e.g. {{apiVersion: apps/v1, kind: Deployment}}"
                    ));
                }
                options.types.push((t.api_version.clone(), t.kind.clone()));
            }
        }
        Ok(options)
    }
}

/// A HelmRelease a checked Kustomization renders, as helm-controller sees
/// it: spec and status from the live object when it exists, else from git.
#[derive(Clone, Debug, PartialEq)]
pub struct HelmRelease {
    pub namespace: String,
    pub name: String,
    /// The Helm release: `spec.releaseName`, else `[targetNamespace-]name`
    /// shortened to 53 characters as helm-controller does.
    pub release_name: String,
    /// Where the chart's objects go: `spec.targetNamespace`, else the
    /// HelmRelease's namespace.
    pub release_namespace: String,
    /// Where Helm keeps the release records: `spec.storageNamespace`, else
    /// the HelmRelease's namespace.
    pub storage_namespace: String,
    /// `spec.kubeConfig` is set: the chart goes to another cluster.
    pub remote: bool,
    /// `spec.suspend` live.
    pub suspended: bool,
    /// When `spec.suspend` was last set, from managedFields.
    pub suspended_since: Option<String>,
    /// helm-controller's verdict when Ready is False.
    pub failing: Option<Failing>,
    /// `spec.driftDetection.mode`: `enabled`, `warn` or `disabled` (absent).
    pub drift_detection: Option<String>,
    /// `spec.driftDetection.ignore`: the same shape as a Kustomization's `spec.ignore`.
    pub drift_ignore: Vec<flux::IgnoreRule>,
    /// The Kustomization that renders it (`namespace/name`) and its path in git.
    pub kustomization: String,
    pub path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Spec {
    release_name: Option<String>,
    target_namespace: Option<String>,
    storage_namespace: Option<String>,
    kube_config: Option<Value>,
    suspend: bool,
    drift_detection: Option<DriftDetection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DriftDetection {
    mode: Option<String>,
    ignore: Vec<flux::IgnoreRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Status {
    conditions: Vec<Condition>,
}

impl HelmRelease {
    /// Reads a HelmRelease object (live, or rendered when it is not in the
    /// cluster) of the Kustomization `kustomization` whose path is `path`.
    /// `None` without a name or namespace.
    pub fn of(o: &Object, kustomization: &flux::Kustomization) -> Option<Self> {
        let name = object::name(o)?.to_string();
        let namespace = object::namespace(o)?.to_string();
        let spec: Spec = o
            .get("spec")
            .and_then(|s| object::from_value(s).ok())
            .unwrap_or_default();
        let status: Status = o
            .get("status")
            .and_then(|s| object::from_value(s).ok())
            .unwrap_or_default();
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let release_name = nonempty(&spec.release_name).unwrap_or_else(|| {
            shorten(&match nonempty(&spec.target_namespace) {
                Some(target) => format!("{target}-{name}"),
                None => name.clone(),
            })
        });
        let failing = status
            .conditions
            .iter()
            .find(|c| c.kind == "Ready" && c.status == "False")
            .map(Failing::of);
        let drift = spec.drift_detection.unwrap_or_default();
        Some(Self {
            release_namespace: nonempty(&spec.target_namespace)
                .unwrap_or_else(|| namespace.clone()),
            storage_namespace: nonempty(&spec.storage_namespace)
                .unwrap_or_else(|| namespace.clone()),
            remote: spec.kube_config.is_some_and(|c| !c.is_null()),
            suspended: spec.suspend,
            suspended_since: spec
                .suspend
                .then(|| managed::field_set_time(o, &["spec", "suspend"]))
                .flatten(),
            failing,
            drift_detection: drift.mode.filter(|m| m != "disabled"),
            drift_ignore: drift.ignore,
            kustomization: kustomization.id(),
            path: kustomization.spec.path.clone(),
            release_name,
            namespace,
            name,
        })
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Did helm-controller deploy this object for this HelmRelease? Its
    /// origin labels name it, or Helm's annotations name its release.
    /// `label` and `annotation` read the object's metadata.
    pub fn deployed<'a>(
        &self,
        label: impl Fn(&str) -> Option<&'a str>,
        annotation: impl Fn(&str) -> Option<&'a str>,
    ) -> bool {
        (label(NAME_LABEL) == Some(&self.name) && label(NAMESPACE_LABEL) == Some(&self.namespace))
            || (annotation(RELEASE_NAME_ANNOTATION) == Some(&self.release_name)
                && annotation(RELEASE_NAMESPACE_ANNOTATION) == Some(&self.release_namespace))
    }

    /// The labels and annotations an object of this release carries live
    /// besides what the chart renders: helm-controller's origin labels and
    /// Helm's ownership metadata.
    pub fn stamp(&self, o: &mut Object) {
        let labels = BTreeMap::from([
            (NAME_LABEL, self.name.as_str()),
            (NAMESPACE_LABEL, self.namespace.as_str()),
            (flux::MANAGED_BY_LABEL, MANAGED_BY_HELM),
        ]);
        let annotations = BTreeMap::from([
            (RELEASE_NAME_ANNOTATION, self.release_name.as_str()),
            (
                RELEASE_NAMESPACE_ANNOTATION,
                self.release_namespace.as_str(),
            ),
        ]);
        for (field, values) in [("labels", labels), ("annotations", annotations)] {
            let Some(metadata) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
                return;
            };
            let map = metadata
                .entry(field)
                .or_insert_with(|| Value::Object(Default::default()));
            if !map.is_object() {
                *map = Value::Object(Default::default());
            }
            let map = map.as_object_mut().expect("made a map above");
            for (k, v) in values {
                map.insert(k.to_string(), Value::from(v));
            }
        }
    }
}

/// helm-controller's `release.ShortenName`: a name longer than 53
/// characters becomes its first 40, `-`, and 12 hex digits of its SHA-256.
pub fn shorten(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_string();
    }
    let sum: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{}", &name[..MAX_RELEASE_NAME - 13], &sum[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ks() -> flux::Kustomization {
        flux::Kustomization {
            namespace: "flux-system".into(),
            name: "monitoring".into(),
            spec: flux::KustomizationSpec {
                path: "./infra/k8s/monitoring".into(),
                ..Default::default()
            },
            status: Default::default(),
            annotations: Default::default(),
            suspended_since: None,
            origin: flux::Origin::Live,
        }
    }

    #[test]
    fn release_name_and_namespaces_follow_helm_controller() {
        let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "grafana", "namespace": "flux-system"},
            "spec": {"targetNamespace": "monitoring", "storageNamespace": "monitoring"}});
        let r = HelmRelease::of(&hr, &ks()).unwrap();
        assert_eq!(r.release_name, "monitoring-grafana");
        assert_eq!(r.release_namespace, "monitoring");
        assert_eq!(r.storage_namespace, "monitoring");
        let named = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "grafana", "namespace": "monitoring"},
            "spec": {"releaseName": "kube-grafana", "targetNamespace": "x"}});
        let r = HelmRelease::of(&named, &ks()).unwrap();
        assert_eq!(
            (r.release_name.as_str(), r.storage_namespace.as_str()),
            ("kube-grafana", "monitoring")
        );
        let remote = json!({"metadata": {"name": "grafana", "namespace": "monitoring"},
            "spec": {"kubeConfig": {"secretRef": {"name": "edge-kubeconfig"}}}});
        assert!(HelmRelease::of(&remote, &ks()).unwrap().remote);
        let plain = json!({"metadata": {"name": "grafana", "namespace": "monitoring"}});
        assert_eq!(
            HelmRelease::of(&plain, &ks()).unwrap().release_name,
            "grafana"
        );
    }

    #[test]
    fn long_release_names_are_shortened_with_a_hash() {
        let long = "a-very-long-target-namespace-name-and-a-very-long-release";
        let short = shorten(long);
        assert_eq!(short.len(), 53);
        assert!(short.starts_with("a-very-long-target-namespace-name-and-a-"));
        assert_eq!(short.as_bytes()[40], b'-');
        assert_eq!(shorten("grafana"), "grafana");
    }

    #[test]
    fn suspension_failure_and_drift_detection_come_from_the_object() {
        let hr = json!({"metadata": {"name": "grafana", "namespace": "monitoring",
                "managedFields": [{"manager": "flux", "operation": "Update", "time": "2026-11-24T09:00:00Z",
                                   "fieldsV1": {"f:spec": {"f:suspend": {}}}}]},
            "spec": {"suspend": true, "driftDetection": {"mode": "enabled",
                "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]}},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "UpgradeFailed",
                "message": "Helm upgrade failed\nmore", "lastTransitionTime": "2026-11-24T08:00:00Z"}]}});
        let r = HelmRelease::of(&hr, &ks()).unwrap();
        assert!(!r.remote);
        assert!(r.suspended);
        assert_eq!(r.suspended_since.as_deref(), Some("2026-11-24T09:00:00Z"));
        let failing = r.failing.unwrap();
        assert_eq!(
            (failing.reason.as_str(), failing.message.as_str()),
            ("UpgradeFailed", "Helm upgrade failed")
        );
        assert_eq!(r.drift_detection.as_deref(), Some("enabled"));
        assert_eq!(r.drift_ignore[0].paths, vec!["/spec/replicas".to_string()]);
        assert_eq!(
            (r.kustomization.as_str(), r.path.as_str()),
            ("flux-system/monitoring", "./infra/k8s/monitoring")
        );
    }

    #[test]
    fn objects_are_matched_by_origin_labels_or_release_annotations() {
        let hr = json!({"metadata": {"name": "grafana", "namespace": "flux-system"},
            "spec": {"targetNamespace": "monitoring"}});
        let r = HelmRelease::of(&hr, &ks()).unwrap();
        let by_labels = json!({"metadata": {"labels": {NAME_LABEL: "grafana", NAMESPACE_LABEL: "flux-system"}}});
        let by_annotations = json!({"metadata": {"annotations": {
            RELEASE_NAME_ANNOTATION: "monitoring-grafana", RELEASE_NAMESPACE_ANNOTATION: "monitoring"}}});
        let other =
            json!({"metadata": {"labels": {NAME_LABEL: "grafana", NAMESPACE_LABEL: "other"}}});
        let deployed =
            |o: &Object| r.deployed(|k| object::label(o, k), |k| object::annotation(o, k));
        assert!(deployed(&by_labels));
        assert!(deployed(&by_annotations));
        assert!(!deployed(&other));
        let mut stamped = json!({"metadata": {"name": "x"}});
        r.stamp(&mut stamped);
        assert!(deployed(&stamped));
        assert_eq!(
            object::label(&stamped, flux::MANAGED_BY_LABEL),
            Some("Helm")
        );
    }

    #[test]
    fn helm_config_validates_types() {
        let bad = HelmConfig {
            types: Some(vec![TypeConfig {
                api_version: "apps/v1".into(),
                kind: String::new(),
            }]),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "helm.types[0]: apiVersion and kind are required, e.g. {apiVersion: apps/v1, kind: Deployment}"
        );
        let default = HelmConfig::default().validate().unwrap();
        assert!(!default.release_manifests);
        assert!(
            default
                .types
                .contains(&("apps/v1".into(), "Deployment".into()))
        );
    }

    #[test]
    fn a_null_map_or_list_field_of_a_helmrelease_reads_as_absent() {
        // Regression: one null (`driftDetection:\n  ignore:`) dropped the
        // whole spec, `suspend` and `releaseName` with it.
        let text = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: grafana\n  namespace: monitoring\nspec:\n  releaseName: graf\n  suspend: true\n  values:\n  driftDetection:\n    mode: enabled\n    ignore:\nstatus:\n  conditions:\n";
        let hr = crate::yaml::documents(text, std::path::Path::new("hr.yaml"))
            .unwrap()
            .remove(0);
        let r = HelmRelease::of(&hr, &ks()).unwrap();
        assert_eq!(r.release_name, "graf");
        assert!(r.suspended);
        assert_eq!(r.drift_detection.as_deref(), Some("enabled"));
        assert!(r.drift_ignore.is_empty());
        assert_eq!(r.failing, None);
    }
}
