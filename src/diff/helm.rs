//! What helm-controller deployed for each checked HelmRelease, against the
//! live state.
//!
//! Input: each HelmRelease a checked Kustomization renders, with the
//! objects of its latest deployed release when they were read
//! (`helm.releaseManifests`), and the live state. Output: one difference per
//! object, attributed to the Kustomization and naming the HelmRelease:
//! - with the manifest, each manifest object is compared as a rendered one
//!   is (same normalization and attribution): `missing`, or `modified` with
//!   its changed declared values and the fields a person added;
//! - every other live object of the release (found by helm-controller's
//!   origin labels or Helm's release annotations) is `modified` when a
//!   person manager last wrote one of its fields: who wrote a field is
//!   known, what the chart declares is not.
//!
//! Objects a Kustomization renders itself are compared there, not here. Pure.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Attributed, Change, Drift, ObjectDiff, Op, Policy};
use crate::helm::{self, Deployed};
use crate::k8s::managed;
use crate::k8s::object::{self, Object, ObjectKey, ObjectRef, pointer};
use crate::live::LiveState;

/// Kubectl's own bookkeeping, never a person's change of configuration.
const BOOKKEEPING: &[&str] =
    &["/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"];

/// The differences of every release's objects. `states` are the live
/// state of the rendered types and that of the types only the releases
/// need (read apart: the orphan scans never see the latter); `rendered`
/// holds the objects the Kustomizations render (compared by the render,
/// not here).
pub fn deployed<'a>(
    releases: &'a [Deployed<'a>],
    states: [&'a LiveState; 2],
    rendered: &BTreeSet<ObjectKey>,
    policy: &Policy,
) -> Vec<Attributed<'a>> {
    let get = |key: &ObjectKey| states.iter().find_map(|s| s.get(key));
    let unread = |key: &ObjectKey| {
        states.iter().any(|s| {
            s.failed.contains_key(&key.type_key()) || s.unserved.contains_key(&key.type_key())
        })
    };
    let mut seen: BTreeSet<ObjectKey> = rendered.clone();
    // The live objects Helm or helm-controller marked, found once for all
    // releases (labels are read without parsing the object).
    let marked: Vec<(&ObjectKey, &crate::live::Stored)> = states
        .iter()
        .flat_map(|s| s.stored())
        .filter(|(_, s)| {
            s.label(helm::NAME_LABEL).is_some()
                || s.label(crate::flux::MANAGED_BY_LABEL) == Some(helm::MANAGED_BY_HELM)
        })
        .collect();
    let mut out = Vec::new();
    for d in releases {
        let attributed = |diff| Attributed {
            kustomization: Some(d.kustomization),
            revision: None,
            applied_unread: false,
            helm: Some(&d.release),
            diff,
        };
        for desired in d.manifest.iter().flatten() {
            let Some(key) = ObjectRef::of(desired).map(|r| r.key()) else {
                continue;
            };
            if !seen.insert(key.clone()) || unread(&key) {
                continue;
            }
            if let Some(diff) = ObjectDiff::of_rendered(desired, get(&key), policy) {
                out.push(attributed(diff));
            }
        }
        let mut found = Vec::new();
        for &(key, stored) in &marked {
            if seen.contains(key) {
                continue;
            }
            let by_label = d.release.deployed(|k| stored.label(k), |_| None);
            // Helm's annotations come with its managed-by label: only those
            // objects are parsed to read them.
            let by_annotation = !by_label
                && stored.label(crate::flux::MANAGED_BY_LABEL) == Some(helm::MANAGED_BY_HELM)
                && {
                    let o = stored.object();
                    d.release.deployed(|_| None, |k| object::annotation(o, k))
                };
            if by_label || by_annotation {
                found.push(key.clone());
            }
        }
        for key in found {
            seen.insert(key.clone());
            let live = get(&key).expect("found in the state");
            let changes = person_changes(live, policy);
            if changes.is_empty() {
                continue;
            }
            let object = ObjectRef::of(live).expect("indexed objects have an identity");
            out.push(attributed(ObjectDiff {
                object,
                drift: Drift::Modified,
                changes,
                desired: None,
                live: Some(live),
                message: None,
                not_served: false,
            }));
        }
    }
    out
}

/// The fields of `live` a person manager wrote last, each with its live
/// value: a list item the person made is added (`kubectl set env`), any
/// other field set to its live value (what the chart says is not known
/// here). Values are masked by [`super::run`].
pub fn person_changes(live: &Object, policy: &Policy) -> Vec<Change> {
    let entries = managed::entries(live);
    let api_version = live.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = live.get("kind").and_then(Value::as_str).unwrap_or("");
    let group = object::group_of(api_version);
    let mut changes: Vec<Change> = Vec::new();
    for entry in entries.iter().filter(|e| policy.is_person(&e.manager)) {
        for path in entry.leaves(live) {
            let text = pointer(&path);
            if path.first().is_some_and(|f| f == "status") || BOOKKEEPING.contains(&text.as_str()) {
                continue;
            }
            // Written again since by another manager: not the person's value.
            let rewritten = entries.iter().any(|other| {
                !std::ptr::eq(other, entry)
                    && other.time > entry.time
                    && other.owns_exactly(live, &path)
            });
            if rewritten {
                continue;
            }
            let Some(value) = live.pointer(&text) else {
                continue;
            };
            let parent = live.pointer(&pointer(&path[..path.len().saturating_sub(1)]));
            let op = if parent.is_some_and(Value::is_array) {
                Op::Add
            } else {
                Op::Replace
            };
            changes.push(Change {
                path: text,
                op,
                desired: None,
                live: Some(value.clone()),
                manager: Some(entry.manager.clone()),
                time: entry.time.clone(),
                explanation: None,
                readable_path: super::compare::readable(group, kind, live, &path, None),
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::Kustomization;
    use crate::helm::HelmRelease;
    use serde_json::json;

    fn grafana(managed_fields: Value) -> Object {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "grafana", "namespace": "monitoring",
                "labels": {"app.kubernetes.io/managed-by": "Helm", "team": "obs",
                           "helm.toolkit.fluxcd.io/name": "grafana", "helm.toolkit.fluxcd.io/namespace": "monitoring"},
                "annotations": {"meta.helm.sh/release-name": "grafana", "meta.helm.sh/release-namespace": "monitoring"},
                "managedFields": managed_fields},
            "spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "grafana", "image": "grafana:11",
                "env": [{"name": "GF_LOG", "value": "info"}, {"name": "DEBUG", "value": "1"}]}]}}}})
    }

    fn helm_controller() -> Value {
        json!({"manager": "helm-controller", "operation": "Update", "time": "2026-11-10T09:00:00Z",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {},
                "f:helm.toolkit.fluxcd.io/name": {}, "f:helm.toolkit.fluxcd.io/namespace": {}}},
              "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"grafana\"}": {
                ".": {}, "f:name": {}, "f:image": {}, "f:env": {".": {},
                  "k:{\"name\":\"GF_LOG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}})
    }

    #[test]
    fn reports_only_fields_a_person_wrote_last() {
        let live = grafana(json!([helm_controller(),
            {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-24T10:00:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"grafana\"}": {
                "f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}},
            {"manager": "kubectl-label", "operation": "Update", "time": "2026-11-24T11:00:00Z",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-24T12:00:00Z",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}}]));
        let changes = person_changes(&live, &Policy::default());
        let seen: Vec<(&str, Op, Option<&str>, Option<&Value>)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.op, c.manager.as_deref(), c.live.as_ref()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "/metadata/labels/team",
                    Op::Replace,
                    Some("kubectl-label"),
                    Some(&json!("obs"))
                ),
                (
                    "/spec/template/spec/containers/0/env/1",
                    Op::Add,
                    Some("kubectl-set"),
                    Some(&json!({"name": "DEBUG", "value": "1"}))
                ),
            ]
        );
        assert_eq!(changes[0].time.as_deref(), Some("2026-11-24T11:00:00Z"));
        // Readable paths name list items by their merge key, as the comparison's do.
        let readable: Vec<Option<&str>> =
            changes.iter().map(|c| c.readable_path.as_deref()).collect();
        assert_eq!(
            readable,
            [
                Some("metadata.labels.team"),
                Some("spec.template.spec.containers[grafana].env[DEBUG]")
            ]
        );
    }

    #[test]
    fn a_field_helm_controller_wrote_again_is_not_a_person_edit() {
        let mut edit = helm_controller();
        edit["manager"] = json!("kubectl-edit");
        edit["time"] = json!("2026-11-01T00:00:00Z");
        // The later helm-controller entry owns the same fields: it wrote them last.
        let live = grafana(json!([edit, helm_controller()]));
        assert!(person_changes(&live, &Policy::default()).is_empty());
    }

    fn kustomization() -> Kustomization {
        Kustomization {
            namespace: "flux-system".into(),
            name: "monitoring".into(),
            spec: Default::default(),
            status: Default::default(),
            annotations: Default::default(),
            suspended_since: None,
            origin: crate::flux::Origin::Live,
        }
    }

    fn edited_by_a_person(mut o: Object) -> Object {
        o["metadata"]["managedFields"] = json!([{"manager": "kubectl-edit", "operation": "Update",
            "time": "2026-11-24T10:00:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        o
    }

    #[test]
    fn finds_a_release_objects_by_labels_or_annotations_and_leaves_rendered_ones_to_the_render() {
        let ks = kustomization();
        let hr = json!({"metadata": {"name": "grafana", "namespace": "monitoring"}});
        let release = HelmRelease::of(&hr, &ks).unwrap();
        let labelled = edited_by_a_person(grafana(json!([])));
        // Adopted by Helm before helm-controller labelled it: annotations only.
        let mut annotated = edited_by_a_person(grafana(json!([])));
        annotated["metadata"]["name"] = json!("grafana-adopted");
        annotated["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "Helm"});
        let mut rendered = edited_by_a_person(grafana(json!([])));
        rendered["metadata"]["name"] = json!("grafana-rendered");
        let mut other = edited_by_a_person(grafana(json!([])));
        other["metadata"]["name"] = json!("loki");
        other["metadata"]["labels"] = json!({"helm.toolkit.fluxcd.io/name": "loki",
            "helm.toolkit.fluxcd.io/namespace": "monitoring"});
        other["metadata"]["annotations"] = json!({});
        let state = LiveState::new([labelled, annotated, rendered.clone(), other]);
        let releases = [Deployed {
            kustomization: &ks,
            release,
            manifest: None,
        }];
        let skip = BTreeSet::from([ObjectRef::of(&rendered).unwrap().key()]);
        let none = LiveState::default();
        let found = deployed(&releases, [&state, &none], &skip, &Policy::default());
        let names: Vec<(String, Option<String>)> = found
            .iter()
            .map(|a| (a.diff.object.to_string(), a.helm.map(HelmRelease::id)))
            .collect();
        let hr = Some("monitoring/grafana".to_string());
        assert_eq!(
            names,
            [
                ("Deployment/monitoring/grafana".to_string(), hr.clone()),
                ("Deployment/monitoring/grafana-adopted".to_string(), hr),
            ]
        );
        assert!(
            found
                .iter()
                .all(|a| a.kustomization == Some(&ks) && a.revision.is_none())
        );
    }

    #[test]
    fn a_manifest_object_not_live_is_missing_and_one_live_is_compared() {
        let ks = kustomization();
        let hr = json!({"metadata": {"name": "grafana", "namespace": "monitoring"}});
        let release = HelmRelease::of(&hr, &ks).unwrap();
        let mut live = grafana(json!([helm_controller()]));
        live["spec"]["replicas"] = json!(1);
        let mut desired = live.clone();
        desired["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        desired["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "GF_LOG", "value": "info"}, {"name": "DEBUG", "value": "1"}]);
        let mut gone = desired.clone();
        gone["metadata"]["name"] = json!("grafana-gone");
        // Read in the fetch of the types only releases need.
        let extra = LiveState::new([live]);
        let releases = [Deployed {
            kustomization: &ks,
            release,
            manifest: Some(vec![desired, gone]),
        }];
        let none = LiveState::default();
        let found = deployed(
            &releases,
            [&none, &extra],
            &BTreeSet::new(),
            &Policy::default(),
        );
        let drift: Vec<(String, Drift, usize)> = found
            .iter()
            .map(|a| {
                (
                    a.diff.object.to_string(),
                    a.diff.drift,
                    a.diff.changes.len(),
                )
            })
            .collect();
        assert_eq!(
            drift,
            [
                (
                    "Deployment/monitoring/grafana".to_string(),
                    Drift::Modified,
                    0
                ),
                (
                    "Deployment/monitoring/grafana-gone".to_string(),
                    Drift::Missing,
                    1
                ),
            ]
        );
    }

    #[test]
    fn secret_values_a_person_wrote_are_masked() {
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "grafana", "namespace": "monitoring", "managedFields": [
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-24T10:00:00Z",
                 "fieldsV1": {"f:data": {"f:admin-password": {}}}}]},
            "data": {"admin-password": "c2VjcmV0LXZhbHVl"}});
        let mut changes = person_changes(&live, &Policy::default());
        let object = ObjectRef::of(&live).unwrap();
        super::super::mask::changes(&object, &mut changes, &Default::default());
        assert_eq!(changes.len(), 1);
        assert!(
            !serde_json::to_string(&changes)
                .unwrap()
                .contains("c2VjcmV0LXZhbHVl")
        );
    }
}
