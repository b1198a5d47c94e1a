use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::diff::{ObjectDiff, Policy};
use crate::flux::{KustomizationSpec, KustomizationStatus, Origin};

fn ks(suspend: bool) -> Kustomization {
    Kustomization {
        namespace: "flux-system".into(),
        name: "docs".into(),
        spec: KustomizationSpec {
            path: "./infra/k8s/docs".into(),
            suspend,
            ..Default::default()
        },
        status: KustomizationStatus {
            last_applied_revision: Some("main@sha1:aaaa1111".into()),
            ..Default::default()
        },
        annotations: Default::default(),
        suspended_since: suspend.then(|| "2026-11-22T17:40:00Z".to_string()),
        origin: Origin::Live,
    }
}

fn deploy(replicas: u64, labels: Value, managed_fields: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "docs", "labels": labels, "managedFields": managed_fields},
           "spec": {"replicas": replicas}})
}

fn by(manager: &str) -> Value {
    json!([{"manager": manager, "operation": "Update", "time": "2026-11-20T08:15:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}}])
}

/// No composite kinds, and the default managers.
static NO_KINDS: std::sync::LazyLock<BTreeSet<String>> = std::sync::LazyLock::new(BTreeSet::new);
static POLICY: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(Policy::default);

/// What classification of `ks`'s objects at commit aaaa1111 needs, with no
/// rules; tests change what they are about with `..context(ks)`.
fn context(ks: &Kustomization) -> Context<'_> {
    Context {
        cluster: "prod",
        kustomization: Some(ks),
        revision: Some("aaaa1111"),
        applied_unread: false,
        ignore: &[],
        flux_ignore: &[],
        controllers: &[],
        composite_kinds: &NO_KINDS,
        policy: &POLICY,
        helm: None,
    }
}

fn run(desired: &Value, live: &Value, ks: &Kustomization, ignore: &[IgnoreRule]) -> Finding {
    let kinds = BTreeSet::from(["PLANAClient".to_string()]);
    let controllers = vec!["kube-controller-manager".to_string()];
    let ctx = Context {
        ignore,
        flux_ignore: &IgnoreRule::of_kustomization(ks).0,
        controllers: &controllers,
        composite_kinds: &kinds,
        ..context(ks)
    };
    classify(
        ObjectDiff::of_rendered(desired, Some(live), &Policy::default()).unwrap(),
        &ctx,
    )
}

#[test]
fn a_kubectl_edit_is_unexplained_flux_drift_with_a_git_remedy() {
    let labels = json!({"app.kubernetes.io/managed-by": "flux"});
    let f = run(
        &deploy(2, labels.clone(), json!([])),
        &deploy(5, labels, by("kubectl-edit")),
        &ks(false),
        &[],
    );
    assert_eq!(
        (f.drift, f.owner, f.explained),
        (Drift::Modified, Owner::Flux, false)
    );
    assert_eq!(
        f.remedy,
        "revert the manual change and make it through a git PR to ./infra/k8s/docs"
    );
    assert_eq!(f.fingerprint.len(), 16);
}

#[test]
fn replicas_owned_by_the_hpa_controller_are_explained() {
    let f = run(
        &deploy(1, json!({}), json!([])),
        &deploy(3, json!({}), by("kube-controller-manager")),
        &ks(false),
        &[],
    );
    assert!(f.explained);
    assert_eq!(
        f.explanation.as_deref(),
        Some("replicas are set by a HorizontalPodAutoscaler (kube-controller-manager)")
    );
}

#[test]
fn drift_in_a_suspended_kustomization_is_explained_with_since() {
    let f = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kubectl-edit")),
        &ks(true),
        &[],
    );
    assert_eq!(
        f.explanation.as_deref(),
        Some(
            "Kustomization flux-system/docs is suspended (since 2026-11-22T17:40:00Z): Flux is not reconciling it"
        )
    );
}

#[test]
fn a_pending_reconcile_explains_what_flux_itself_wrote() {
    let mut k = ks(false);
    k.status.last_applied_revision = Some("main@sha1:bbbb2222".into());
    let f = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kustomize-controller")),
        &k,
        &[],
    );
    assert_eq!(
        f.explanation.as_deref(),
        Some("reconcile pending: Flux last applied main@sha1:bbbb2222, git is at aaaa1111")
    );
    // An artifact source's newer revision is named as that source's.
    k.spec.source_ref.kind = "OCIRepository".into();
    let f = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kustomize-controller")),
        &k,
        &[],
    );
    assert_eq!(
        f.explanation.as_deref(),
        Some(
            "reconcile pending: Flux last applied main@sha1:bbbb2222, its OCIRepository is at aaaa1111"
        )
    );
}

#[test]
fn a_person_edit_is_never_reconcile_pending() {
    // Regression: any difference from the branch head used to be "reconcile
    // pending" while Flux had not applied it, a kubectl edit of an hour ago
    // included.
    let mut k = ks(false);
    k.status.last_applied_revision = Some("main@sha1:bbbb2222".into());
    for manager in ["kubectl-edit", "some-operator"] {
        let f = run(
            &deploy(2, json!({}), json!([])),
            &deploy(5, json!({}), by(manager)),
            &k,
            &[],
        );
        assert_eq!((f.explained, f.explanation), (false, None), "{manager}");
    }
}

#[test]
fn drift_is_never_pending_when_the_applied_revision_could_not_be_read() {
    let mut k = ks(false);
    k.status.last_applied_revision = Some("main@sha1:bbbb2222".into());
    let desired = deploy(2, json!({}), json!([]));
    let live = deploy(5, json!({}), by("kustomize-controller"));
    let ctx = Context {
        applied_unread: true,
        ..context(&k)
    };
    let f = classify(
        ObjectDiff::of_rendered(&desired, Some(&live), &Policy::default()).unwrap(),
        &ctx,
    );
    assert_eq!((f.explained, f.explanation), (false, None));
}

#[test]
fn flux_opt_out_annotations_explain_drift() {
    for (value, want) in [("disabled", true), ("enabled", false)] {
        let mut desired = deploy(2, json!({}), json!([]));
        desired["metadata"]["annotations"] =
            json!({"kustomize.toolkit.fluxcd.io/reconcile": value});
        let f = run(
            &desired,
            &deploy(5, json!({}), by("kubectl-edit")),
            &ks(false),
            &[],
        );
        assert_eq!(f.explained, want, "{value}");
    }
    let mut ignored = deploy(2, json!({}), json!([]));
    ignored["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"});
    assert!(
        run(
            &ignored,
            &deploy(5, json!({}), by("kubectl-edit")),
            &ks(false),
            &[]
        )
        .explained
    );
    let mut merge = deploy(2, json!({}), json!([]));
    merge["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Merge"});
    assert!(
        !run(
            &merge,
            &deploy(5, json!({}), by("kubectl-edit")),
            &ks(false),
            &[]
        )
        .explained,
        "Merge keeps only added fields"
    );
}

#[test]
fn ignore_rules_explain_the_paths_they_cover() {
    let rule = IgnoreRule::new(
        0,
        &IgnoreRuleSpec {
            reason: "scaled by hand during the sale".into(),
            paths: vec!["/spec/replicas".into()],
            target: Some(crate::flux::Selector {
                kind: Some("Deployment".into()),
                ..Default::default()
            }),
            kustomization: None,
        },
    )
    .unwrap();
    let f = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kubectl-edit")),
        &ks(false),
        &[rule],
    );
    assert_eq!(
        f.explanation.as_deref(),
        Some("scaled by hand during the sale")
    );
}

#[test]
fn a_crossplane_composed_flux_object_is_a_conflict_naming_the_composite() {
    let desired = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "acme-portal", "namespace": "tenants", "labels": {"app.kubernetes.io/managed-by": "flux"}},
        "spec": {"rules": [{"backendRefs": [{"name": "portal", "namespace": "acme"}]}]}});
    let mut live = desired.clone();
    live["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "crossplane", "crossplane.io/composite": "acme-x7k2p"});
    live["metadata"]["ownerReferences"] = json!([{"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient", "name": "acme-x7k2p", "controller": true}]);
    live["spec"]["rules"][0]["backendRefs"][0]["namespace"] = json!("acme-v18");
    let f = run(&desired, &live, &ks(false), &[]);
    assert_eq!(
        (f.drift, f.owner, f.explained),
        (Drift::Conflict, Owner::Crossplane, false)
    );
    assert!(f.remedy.starts_with("Flux and Crossplane both manage this object: patch the composite PLANAClient/acme-x7k2p instead of the object"), "{}", f.remedy);
}

#[test]
fn fingerprints_are_stable_and_ignore_values_and_times() {
    let a = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kubectl-edit")),
        &ks(false),
        &[],
    );
    let b = run(
        &deploy(2, json!({}), json!([])),
        &deploy(7, json!({}), by("kubectl-scale")),
        &ks(false),
        &[],
    );
    assert_eq!(a.fingerprint, b.fingerprint);
    let mut other = ks(false);
    other.name = "monitoring".into();
    let c = run(
        &deploy(2, json!({}), json!([])),
        &deploy(5, json!({}), by("kubectl-edit")),
        &other,
        &[],
    );
    assert_ne!(a.fingerprint, c.fingerprint);
}

/// A Deployment of the `docs` Kustomization that a person scaled
/// (`kubectl-edit`), gave more CPU (`kubectl-set`) and annotated
/// (`kubectl-annotate`): git's copy, and the live one.
fn scaled_and_annotated() -> (Value, Value) {
    let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "docs", "labels": {"app": "web"},
                     "annotations": {"team": "docs"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "web:1", "resources": {"limits": {"cpu": "1"}}}]}}}});
    let mut live = desired.clone();
    live["spec"]["replicas"] = json!(5);
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("2");
    live["metadata"]["annotations"]["example.com/owner"] = json!("alice");
    live["metadata"]["managedFields"] = json!([
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-20T08:15:00Z",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-20T08:16:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
             "f:resources": {"f:limits": {"f:cpu": {}}}}}}}}}},
        {"manager": "kubectl-annotate", "operation": "Update", "time": "2026-11-20T08:17:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:example.com/owner": {}}}}}]);
    (desired, live)
}

/// The `docs` Kustomization with these `spec.ignore` rules (YAML, as written).
fn ks_ignoring(rules: &str) -> Kustomization {
    let mut k = ks(false);
    k.spec.ignore =
        crate::yaml::document(rules, std::path::Path::new("ks.yaml")).expect("valid spec.ignore");
    k
}

/// Each change's path and explanation.
fn explanations(f: &Finding) -> Vec<(&str, Option<&str>)> {
    f.changes
        .iter()
        .map(|c| (c.path.as_str(), c.explanation.as_deref()))
        .collect()
}

const REPLICAS: &str = "/spec/replicas";
const CPU: &str = "/spec/template/spec/containers/0/resources/limits/cpu";
const OWNER: &str = "/metadata/annotations/example.com~1owner";

#[test]
fn a_kustomization_ignore_rule_explains_only_the_paths_it_covers() {
    let (desired, live) = scaled_and_annotated();
    let k = ks_ignoring("[{paths: [/spec/replicas], target: {kind: Deployment}}]");
    let f = run(&desired, &live, &k, &[]);
    let mut got = explanations(&f);
    got.sort();
    assert_eq!(
        got,
        vec![
            (OWNER, None),
            (
                REPLICAS,
                Some("ignored by Kustomization flux-system/docs spec.ignore[0] (/spec/replicas)")
            ),
            (CPU, None),
        ]
    );
    assert!(!f.explained, "the other changes of the object stay drift");
    assert_eq!(f.explanation, None);
}

#[test]
fn a_kustomization_ignore_rule_covers_what_is_below_a_list_index_and_escaped_keys() {
    let (desired, live) = scaled_and_annotated();
    let k = ks_ignoring(
        "[{paths: [/spec/template/spec/containers/0/resources, /metadata/annotations/example.com~1owner]},
          {paths: [/spec/replicas], target: {name: web}}]",
    );
    let f = run(&desired, &live, &k, &[]);
    let mut got = explanations(&f);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                OWNER,
                Some(
                    "ignored by Kustomization flux-system/docs spec.ignore[0] (/metadata/annotations/example.com~1owner)"
                )
            ),
            (
                REPLICAS,
                Some("ignored by Kustomization flux-system/docs spec.ignore[1] (/spec/replicas)")
            ),
            (
                CPU,
                Some(
                    "ignored by Kustomization flux-system/docs spec.ignore[0] (/spec/template/spec/containers/0/resources)"
                )
            ),
        ]
    );
    assert!(f.explained);
    assert_eq!(
        f.explanation.as_deref(),
        Some(
            "ignored by Kustomization flux-system/docs spec.ignore[0] (/metadata/annotations/example.com~1owner); \
             ignored by Kustomization flux-system/docs spec.ignore[0] (/spec/template/spec/containers/0/resources); \
             ignored by Kustomization flux-system/docs spec.ignore[1] (/spec/replicas)"
        )
    );
}

#[test]
fn a_kustomization_ignore_rule_reads_pointers_as_flux_does() {
    let (desired, live) = scaled_and_annotated();
    // `-1` is the last item, as in Flux's JSON patch removal; `*` is a key like any other.
    let k = ks_ignoring(
        "[{paths: [/spec/template/spec/containers/-1/resources/limits, /spec/*, /metadata/annotations/example.com/owner]}]",
    );
    let f = run(&desired, &live, &k, &[]);
    let mut got = explanations(&f);
    got.sort();
    assert_eq!(
        got,
        vec![
            (OWNER, None),
            (REPLICAS, None),
            (
                CPU,
                Some(
                    "ignored by Kustomization flux-system/docs spec.ignore[0] (/spec/template/spec/containers/-1/resources/limits)"
                )
            ),
        ]
    );
}

#[test]
fn a_kustomization_ignore_rule_whose_target_does_not_match_explains_nothing() {
    let (desired, live) = scaled_and_annotated();
    for target in [
        "{kind: StatefulSet}",
        "{name: we}",
        "{namespace: monitoring}",
        "{group: batch}",
        "{version: v1beta1}",
        "{labelSelector: app=api}",
        "{annotationSelector: team=platform}",
    ] {
        let k = ks_ignoring(&format!("[{{paths: [''], target: {target}}}]"));
        let f = run(&desired, &live, &k, &[]);
        assert!(
            f.changes.iter().all(|c| c.explanation.is_none()),
            "{target}: {:?}",
            explanations(&f)
        );
    }
}

#[test]
fn a_kustomization_ignore_rule_selects_by_labels_and_annotations_as_flux_applies_them() {
    let (desired, mut live) = scaled_and_annotated();
    // Someone also removed git's label live: Flux applies it again, so its
    // selector still sees it.
    live["metadata"]["labels"] = json!({});
    for target in [
        "{labelSelector: app=web}",
        "{labelSelector: 'app in (web, api)'}",
        "{annotationSelector: team=docs}",
        "{annotationSelector: example.com/owner=alice}",
        "{group: apps, version: v1, kind: Deploy.*, name: web, namespace: docs}",
    ] {
        let k = ks_ignoring(&format!("[{{paths: [''], target: {target}}}]"));
        let f = run(&desired, &live, &k, &[]);
        assert!(f.explained, "{target}: {:?}", explanations(&f));
        assert_eq!(
            f.changes[0].explanation.as_deref(),
            Some("ignored by Kustomization flux-system/docs spec.ignore[0] (the whole object)"),
            "{target}"
        );
    }
}

#[test]
fn a_kustomization_ignore_rule_does_not_explain_a_missing_object() {
    let (desired, _) = scaled_and_annotated();
    let k = ks_ignoring("[{paths: ['']}]");
    let flux_ignore = IgnoreRule::of_kustomization(&k).0;
    let ctx = Context {
        flux_ignore: &flux_ignore,
        ..context(&k)
    };
    let diff = ObjectDiff::of_rendered(&desired, None, &Policy::default()).unwrap();
    let f = classify(diff, &ctx);
    assert_eq!(
        (f.drift, f.explained),
        (Drift::Missing, false),
        "Flux creates it"
    );
}

#[test]
fn rules_of_another_kustomization_explain_nothing() {
    let (desired, live) = scaled_and_annotated();
    let mut other = ks_ignoring("[{paths: ['']}]");
    other.name = "monitoring".into();
    let flux_ignore = IgnoreRule::of_kustomization(&other).0;
    let k = ks(false);
    let ctx = Context {
        flux_ignore: &flux_ignore,
        ..context(&k)
    };
    let diff = ObjectDiff::of_rendered(&desired, Some(&live), &Policy::default()).unwrap();
    assert!(!classify(diff, &ctx).explained);
}

fn failing(mut k: Kustomization, inventory: &[&str]) -> Kustomization {
    k.status.conditions = vec![crate::flux::Condition {
        kind: "Ready".into(),
        status: "False".into(),
        reason: Some("ReconciliationFailed".into()),
        message: Some("Deployment/docs/web dry-run failed: no matches for kind\nmore".into()),
        last_transition_time: Some("2026-11-29T03:00:00Z".into()),
    }];
    k.status.inventory = Some(crate::flux::Inventory {
        entries: inventory
            .iter()
            .map(|id| crate::flux::InventoryEntry {
                id: id.to_string(),
                v: "v1".into(),
            })
            .collect(),
    });
    k
}

fn missing(desired: &Value, ks: &Kustomization) -> Finding {
    let ctx = context(ks);
    classify(
        ObjectDiff::of_rendered(desired, None, &Policy::default()).unwrap(),
        &ctx,
    )
}

#[test]
fn an_object_a_failing_kustomization_never_applied_is_not_applied_never_deleted() {
    let f = missing(&deploy(2, json!({}), json!([])), &failing(ks(false), &[]));
    assert_eq!(
        (f.drift, f.explained, f.explanation.as_deref()),
        (
            Drift::Missing,
            true,
            Some(
                "not applied: Kustomization flux-system/docs is failing since 2026-11-29T03:00:00Z: ReconciliationFailed: Deployment/docs/web dry-run failed: no matches for kind"
            )
        )
    );
}

#[test]
fn an_object_a_failing_kustomization_did_apply_and_is_gone_is_still_missing() {
    let k = failing(ks(false), &["docs_web_apps_Deployment"]);
    let f = missing(&deploy(2, json!({}), json!([])), &k);
    assert_eq!((f.drift, f.explained), (Drift::Missing, false));
}

#[test]
fn an_object_a_failing_kustomization_never_applied_is_not_its_modification() {
    // Regression: the `kube-system` Namespace a failing Kustomization lists
    // (never applied: no inventory entry, no field of Flux's) was "modified:
    // annotations {prune: disabled} -> null by None".
    let desired = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-system", "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}});
    let live = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-system", "managedFields": [
            {"manager": "kube-apiserver", "operation": "Update", "time": "2026-11-01T00:00:00Z",
             "fieldsV1": {"f:metadata": {"f:labels": {}}}}]}});
    let k = failing(ks(false), &[]);
    let ctx = context(&k);
    let f = classify(
        ObjectDiff::of_rendered(&desired, Some(&live), &Policy::default()).unwrap(),
        &ctx,
    );
    assert_eq!(
        (f.drift, f.explained, f.explanation.as_deref()),
        (
            Drift::Modified,
            true,
            Some(
                "not applied: Kustomization flux-system/docs is failing since 2026-11-29T03:00:00Z: ReconciliationFailed: Deployment/docs/web dry-run failed: no matches for kind; it never applied this object (not in its inventory, no field written by Flux)"
            )
        )
    );
    // Once Flux wrote a field of it, or it is in the inventory, a difference is drift.
    let mut applied = live.clone();
    applied["metadata"]["managedFields"][0]["manager"] = json!("kustomize-controller");
    let f = classify(
        ObjectDiff::of_rendered(&desired, Some(&applied), &Policy::default()).unwrap(),
        &ctx,
    );
    assert_eq!((f.drift, f.explained), (Drift::Modified, false));
    let k = failing(ks(false), &["_kube-system__Namespace"]);
    let f = classify(
        ObjectDiff::of_rendered(&desired, Some(&live), &Policy::default()).unwrap(),
        &context(&k),
    );
    assert_eq!((f.drift, f.explained), (Drift::Modified, false));
}

/// A HelmRelease of `ks` whose chart deployed Deployment monitoring/web.
fn helm_release(ks: &Kustomization, spec: Value) -> crate::helm::HelmRelease {
    let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "flux-system", "managedFields": [
            {"manager": "flux", "operation": "Update", "time": "2026-11-24T09:00:00Z", "fieldsV1": {"f:spec": {"f:suspend": {}}}}]},
        "spec": spec});
    crate::helm::HelmRelease::of(&hr, ks).unwrap()
}

/// A person's `kubectl scale` and `kubectl label` of a Helm-deployed Deployment.
fn helm_edited() -> Value {
    let mut live = deploy(
        5,
        json!({"app.kubernetes.io/managed-by": "Helm", "team": "x"}),
        json!([{"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-24T10:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}},
               {"manager": "kubectl-label", "operation": "Update", "time": "2026-11-24T10:05:00Z",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}]),
    );
    live["metadata"]["namespace"] = json!("monitoring");
    live
}

fn classify_helm(live: &Value, hr: &crate::helm::HelmRelease, ks: &Kustomization) -> Finding {
    let rules = IgnoreRule::of_helm_release(hr).0;
    let ctx = Context {
        helm: Some(hr),
        revision: None,
        flux_ignore: &rules,
        ..context(ks)
    };
    let diff = ObjectDiff {
        object: ObjectRef::of(live).unwrap(),
        drift: Drift::Modified,
        changes: crate::diff::helm::person_changes(live, &POLICY),
        desired: None,
        live: Some(live),
        message: None,
        not_served: false,
    };
    classify(diff, &ctx)
}

#[test]
fn a_person_edit_of_a_helm_object_is_unexplained_helm_drift_naming_the_helm_release() {
    let k = ks(true);
    let hr = helm_release(&k, json!({"chart": {"spec": {"chart": "web"}}}));
    let f = classify_helm(&helm_edited(), &hr, &k);
    assert_eq!(
        (f.drift, f.owner, f.explained),
        (Drift::Modified, Owner::Helm, false),
        "the Kustomization's suspension does not stop helm-controller"
    );
    let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/metadata/labels/team", "/spec/replicas"]);
    assert_eq!(
        f.remedy,
        "deployed by HelmRelease flux-system/web: change the HelmRelease's values in git (./infra/k8s/docs) through a PR instead of the object; to restore the chart's values now: flux reconcile helmrelease web -n flux-system --force"
    );
    assert_eq!(f.message, None);
}

#[test]
fn a_suspended_helm_release_explains_its_objects_drift() {
    let k = ks(false);
    let hr = helm_release(&k, json!({"suspend": true}));
    let f = classify_helm(&helm_edited(), &hr, &k);
    assert_eq!(
        f.explanation.as_deref(),
        Some(
            "HelmRelease flux-system/web is suspended (since 2026-11-24T09:00:00Z): helm-controller is not reconciling it"
        )
    );
}

#[test]
fn drift_detection_ignore_explains_what_it_covers_and_enabled_detection_explains_nothing() {
    let k = ks(false);
    let hr = helm_release(
        &k,
        json!({"driftDetection": {"mode": "enabled",
            "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]}}),
    );
    let f = classify_helm(&helm_edited(), &hr, &k);
    assert!(!f.explained, "the label edit stays unexplained");
    let explained: Vec<(&str, Option<&str>)> = f
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.explanation.as_deref()))
        .collect();
    assert_eq!(
        explained,
        [
            ("/metadata/labels/team", None),
            (
                "/spec/replicas",
                Some(
                    "ignored by HelmRelease flux-system/web spec.driftDetection.ignore[0] (/spec/replicas)"
                )
            )
        ]
    );
    assert_eq!(
        f.message.as_deref(),
        Some(
            "HelmRelease flux-system/web has drift detection enabled: helm-controller will revert the chart's declared fields at its next reconcile"
        )
    );
}

#[test]
fn an_object_of_a_kustomization_flux_has_not_reconciled_yet_is_not_applied_yet() {
    // A parent Kustomization created it a moment ago (or the controller is
    // busy): no status at all, nothing of it applied.
    let mut k = ks(false);
    k.status = KustomizationStatus::default();
    let f = missing(&deploy(2, json!({}), json!([])), &k);
    assert_eq!(
        (f.drift, f.explained, f.explanation.as_deref()),
        (
            Drift::Missing,
            true,
            Some(
                "not applied yet: Kustomization flux-system/docs has not been reconciled by Flux yet (it has no status); Flux applies it on its first reconcile"
            )
        )
    );
    // Read from the repository (no cluster object, so no status to go by):
    // what is missing is drift.
    k.origin = Origin::File("clusters/prod/docs.yaml".into());
    let f = missing(&deploy(2, json!({}), json!([])), &k);
    assert_eq!((f.drift, f.explained), (Drift::Missing, false));
}
