//! `labels`, `commonLabels` and `commonAnnotations`.
//!
//! Input: resources and the label/annotation pairs of a kustomization.
//! Output: the pairs written where kustomize's built-in field specs say
//! (kustomize `api/internal/konfig/builtinpluginconsts/commonlabels.go`,
//! `metadatalabels.go`, `commonannotations.go`): `commonLabels` also into
//! selectors and pod templates; `labels` into metadata only, unless
//! `includeSelectors` (everything `commonLabels` touches) or
//! `includeTemplates` (metadata and pod templates).

use std::collections::BTreeMap;

use super::KustomizeError;
use super::fieldspec::{FieldSpec, any, core, group_kind, kind};
use super::resource::Resource;

/// Labels of pod and PVC templates: kustomize's `metadataLabelsFieldSpecs`
/// without `metadata/labels` itself (annotations go to the pod templates
/// only).
const TEMPLATE_LABELS: &[FieldSpec] = &[
    core(
        "ReplicationController",
        "spec/template/metadata/labels",
        true,
    ),
    kind("Deployment", "spec/template/metadata/labels", true),
    kind("ReplicaSet", "spec/template/metadata/labels", true),
    kind("DaemonSet", "spec/template/metadata/labels", true),
    group_kind("apps", "StatefulSet", "spec/template/metadata/labels", true),
    group_kind("batch", "Job", "spec/template/metadata/labels", true),
    group_kind("batch", "CronJob", "spec/jobTemplate/metadata/labels", true),
    group_kind(
        "batch",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ),
    group_kind(
        "apps",
        "StatefulSet",
        "spec/volumeClaimTemplates[]/metadata/labels",
        true,
    ),
];

const AFFINITY: [&str; 5] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
];

/// Selectors `commonLabels` (and `labels` with `includeSelectors`) write,
/// besides metadata and templates.
fn selector_specs() -> Vec<FieldSpec> {
    let mut specs = vec![
        core("Service", "spec/selector", true),
        core("ReplicationController", "spec/selector", true),
        kind("Deployment", "spec/selector/matchLabels", true),
    ];
    specs.extend(
        AFFINITY
            .iter()
            .map(|p| group_kind("apps", "Deployment", p, false)),
    );
    specs.extend([
        kind("ReplicaSet", "spec/selector/matchLabels", true),
        kind("DaemonSet", "spec/selector/matchLabels", true),
        group_kind("apps", "StatefulSet", "spec/selector/matchLabels", true),
        group_kind(
            "apps",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
    ]);
    specs.extend(
        AFFINITY
            .iter()
            .map(|p| group_kind("apps", "StatefulSet", p, false)),
    );
    specs.extend([
        group_kind("batch", "Job", "spec/selector/matchLabels", false),
        group_kind(
            "batch",
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        group_kind(
            "policy",
            "PodDisruptionBudget",
            "spec/selector/matchLabels",
            false,
        ),
        group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/podSelector/matchLabels",
            false,
        ),
        group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ]);
    specs
}

/// Every field `commonLabels` writes.
pub fn common_label_specs() -> Vec<FieldSpec> {
    let mut specs = vec![any("metadata/labels", true)];
    specs.extend(selector_specs());
    specs.extend_from_slice(TEMPLATE_LABELS);
    specs
}

/// The fields a `labels` entry writes, per its options.
pub fn label_specs(include_selectors: bool, include_templates: bool) -> Vec<FieldSpec> {
    if include_selectors {
        return common_label_specs();
    }
    let mut specs = vec![any("metadata/labels", true)];
    if include_templates {
        specs.extend_from_slice(TEMPLATE_LABELS);
    }
    specs
}

/// Every field `commonAnnotations` writes: metadata and pod templates
/// (kustomize `commonannotations.go`).
pub fn annotation_specs() -> Vec<FieldSpec> {
    let mut specs = vec![any("metadata/annotations", true)];
    specs.extend(
        TEMPLATE_LABELS
            .iter()
            .filter(|s| !s.path.contains("volumeClaimTemplates"))
            .map(|s| FieldSpec {
                path: std::borrow::Cow::Borrowed(annotations_path(&s.path)),
                ..s.clone()
            }),
    );
    specs
}

fn annotations_path(labels_path: &str) -> &'static str {
    match labels_path {
        "spec/template/metadata/labels" => "spec/template/metadata/annotations",
        "spec/jobTemplate/metadata/labels" => "spec/jobTemplate/metadata/annotations",
        "spec/jobTemplate/spec/template/metadata/labels" => {
            "spec/jobTemplate/spec/template/metadata/annotations"
        }
        _ => "metadata/annotations",
    }
}

/// Writes `pairs` into the map at each field of `specs`, in every resource.
pub fn apply(
    resources: &mut [Resource],
    pairs: &BTreeMap<String, String>,
    specs: &[FieldSpec],
    file: &str,
    field: &str,
) -> Result<(), KustomizeError> {
    if pairs.is_empty() {
        return Ok(());
    }
    for resource in resources.iter_mut() {
        for spec in specs {
            spec.visit(&mut resource.object, &mut |value| {
                for (k, v) in pairs {
                    super::fieldspec::set_in_map(value, k, v)?;
                }
                Ok(())
            })
            .map_err(|message| KustomizeError::Transform {
                file: file.to_string(),
                field: field.to_string(),
                message: format!("{}: {}: {message}", resource.subject(), spec.path),
            })?;
        }
    }
    Ok(())
}
