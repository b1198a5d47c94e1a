use serde_json::{Value, json};

use super::*;

fn managed(manager: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn deployment(replicas: u64, env: Value, managed_fields: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "docs-portal", "namespace": "docs", "uid": "1", "resourceVersion": "9",
                     "generation": 4, "labels": {"app": "docs-portal"}, "managedFields": managed_fields},
        "spec": {"replicas": replicas, "revisionHistoryLimit": 10,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "selector": {"matchLabels": {"app": "docs-portal"}},
                 "template": {"metadata": {"labels": {"app": "docs-portal"}},
                     "spec": {"dnsPolicy": "ClusterFirst", "containers": [{
                         "name": "web", "image": "docs:1", "imagePullPolicy": "IfNotPresent",
                         "terminationMessagePath": "/dev/termination-log",
                         "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                         "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                         "env": env}]}}},
        "status": {"replicas": replicas}
    })
}

fn desired() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "docs-portal", "namespace": "docs", "labels": {"app": "docs-portal"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "docs-portal"}},
                 "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "docs-portal"}},
                     "spec": {"containers": [{
                         "name": "web", "image": "docs:1",
                         "resources": {"limits": {"cpu": "1000m", "memory": "0.5Gi"}},
                         "ports": [{"containerPort": 8080}],
                         "env": [{"name": "MODE", "value": "prod"}]}]}}}
    })
}

fn flux_entry() -> Value {
    json!({"manager": "kustomize-controller", "operation": "Apply", "time": "2026-11-10T09:00:00Z",
           "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
               "k:{\"name\":\"web\"}": {".": {}, "f:env": {"k:{\"name\":\"MODE\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}})
}

#[test]
fn live_equal_to_git_plus_server_defaults_has_no_changes() {
    let live = deployment(
        2,
        json!([{"name": "MODE", "value": "prod"}]),
        json!([flux_entry()]),
    );
    assert_eq!(compare(&desired(), &live, &Policy::default()), vec![]);
}

#[test]
fn a_kubectl_edit_of_replicas_is_a_replace_attributed_to_kubectl_edit() {
    let live = deployment(
        5,
        json!([{"name": "MODE", "value": "prod"}]),
        json!([
            flux_entry(),
            managed(
                "kubectl-edit",
                "2026-11-20T08:15:00Z",
                json!({"f:spec": {"f:replicas": {}}})
            )
        ]),
    );
    assert_eq!(
        compare(&desired(), &live, &Policy::default()),
        vec![Change {
            path: "/spec/replicas".into(),
            op: Op::Replace,
            desired: Some(json!(2)),
            live: Some(json!(5)),
            manager: Some("kubectl-edit".into()),
            time: Some("2026-11-20T08:15:00Z".into()),
            explanation: None,
            readable_path: Some("spec.replicas".into()),
        }]
    );
}

#[test]
fn an_env_var_added_with_kubectl_set_is_an_add() {
    let live = deployment(
        2,
        json!([{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "true"}]),
        json!([
            flux_entry(),
            managed(
                "kubectl-set",
                "2026-11-21T09:00:00Z",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"web\"}": {"f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}})
            )
        ]),
    );
    assert_eq!(
        compare(&desired(), &live, &Policy::default()),
        vec![Change {
            path: "/spec/template/spec/containers/0/env/1".into(),
            op: Op::Add,
            desired: None,
            live: Some(json!({"name": "DEBUG", "value": "true"})),
            manager: Some("kubectl-set".into()),
            time: Some("2026-11-21T09:00:00Z".into()),
            explanation: None,
            // Named by merge key: the container `web`, the variable `DEBUG`.
            readable_path: Some("spec.template.spec.containers[web].env[DEBUG]".into()),
        }]
    );
}

#[test]
fn fields_added_by_controllers_are_not_drift() {
    let mut live = deployment(
        2,
        json!([{"name": "MODE", "value": "prod"}]),
        json!([
            flux_entry(),
            managed(
                "istio-sidecar-injector",
                "2026-11-21T09:00:00Z",
                json!({"f:metadata": {"f:annotations": {"f:sidecar": {}}}})
            )
        ]),
    );
    live["metadata"]["annotations"] = json!({"sidecar": "injected"});
    assert_eq!(compare(&desired(), &live, &Policy::default()), vec![]);
}

#[test]
fn keyed_lists_match_by_merge_key_not_position() {
    let mut want = desired();
    want["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    let live = deployment(
        2,
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]),
        json!([]),
    );
    assert_eq!(compare(&want, &live, &Policy::default()), vec![]);
}

#[test]
fn a_declared_list_item_missing_live_is_a_remove() {
    let live = deployment(2, json!([]), json!([]));
    let changes = compare(&desired(), &live, &Policy::default());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].path.as_str(), changes[0].op),
        ("/spec/template/spec/containers/0/env/0", Op::Remove)
    );
    // The removed item is named from git's copy.
    assert_eq!(
        changes[0].readable_path.as_deref(),
        Some("spec.template.spec.containers[web].env[MODE]")
    );
}

#[test]
fn atomic_lists_of_custom_resources_compare_by_position_with_defaults_inside() {
    let want = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "portal", "namespace": "acme", "port": 80}]}]}});
    let mut live = want.clone();
    live["spec"]["rules"][0]["backendRefs"][0] = json!({"group": "", "kind": "Service", "weight": 1,
        "name": "portal", "namespace": "acme", "port": 80});
    assert_eq!(compare(&want, &live, &Policy::default()), vec![]);
    live["spec"]["rules"][0]["backendRefs"][0]["namespace"] = json!("acme-v18");
    let changes = compare(&want, &live, &Policy::default());
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/spec/rules/0/backendRefs/0/namespace");
    assert_eq!(
        (changes[0].desired.clone(), changes[0].live.clone()),
        (Some(json!("acme")), Some(json!("acme-v18")))
    );
}

#[test]
fn an_atomic_list_of_another_length_is_replaced_whole() {
    let want = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let mut live = want.clone();
    live["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}));
    let changes = compare(&want, &live, &Policy::default());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].path.as_str(), changes[0].op),
        ("/rules", Op::Replace)
    );
}

#[test]
fn applying_a_dumped_manifest_owns_defaults_without_drift() {
    let want = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "docs-portal"},
        "spec": {"selector": {"app": "docs-portal"}, "ports": [{"port": 80, "name": "http"}]}});
    let live = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "docs-portal", "managedFields": [managed("kubectl-client-side-apply", "2026-11-19T10:00:00Z",
            json!({"f:spec": {"f:clusterIP": {}, "f:sessionAffinity": {}, "f:type": {},
                   "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {"f:protocol": {}, "f:targetPort": {}}}}}))]},
        "spec": {"clusterIP": "10.96.4.20", "clusterIPs": ["10.96.4.20"], "sessionAffinity": "None", "type": "ClusterIP",
                 "selector": {"app": "docs-portal"},
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]}});
    assert_eq!(compare(&want, &live, &Policy::default()), vec![]);
}

#[test]
fn a_label_added_with_kubectl_label_is_reported_by_key() {
    let mut live = deployment(
        2,
        json!([{"name": "MODE", "value": "prod"}]),
        json!([
            flux_entry(),
            managed(
                "kubectl-label",
                "2026-11-22T11:00:00Z",
                json!({"f:metadata": {"f:labels": {"f:debug": {}}}})
            )
        ]),
    );
    live["metadata"]["labels"]["debug"] = json!("on");
    let changes = compare(&desired(), &live, &Policy::default());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].path.as_str(), changes[0].manager.as_deref()),
        ("/metadata/labels/debug", Some("kubectl-label"))
    );
}

/// The changes of `live` as [`super::run`] hands them on: masked.
fn masked(live: &Object, mut changes: Vec<Change>) -> Vec<Change> {
    let object = ObjectRef::of(live).unwrap();
    super::mask::changes(&object, &mut changes, &Default::default());
    changes
}

#[test]
fn secret_values_are_masked_in_changes() {
    let want = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "from-git"}});
    let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
        "data": {"token": "ZnJvbS1saXZl"}});
    let changes = masked(&live, compare(&want, &live, &Policy::default()));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/data/token");
    let text = serde_json::to_string(&changes).unwrap();
    assert!(
        !text.contains("from-git")
            && !text.contains("ZnJvbS1saXZl")
            && !text.contains("ZnJvbS1naXQ"),
        "{text}"
    );
}

#[test]
fn person_patterns_are_wildcards() {
    let policy = Policy::new(
        &["kustomize-controller".into()],
        &["kubectl*".into(), "ops-bot".into()],
    )
    .unwrap();
    assert!(
        policy.is_person("kubectl-edit")
            && policy.is_person("kubectl")
            && policy.is_person("ops-bot")
    );
    assert!(!policy.is_person("kube-controller-manager") && !policy.is_person("ops-bot-2"));
    assert!(policy.is_flux("kustomize-controller"));
}

#[test]
fn an_env_var_added_under_malformed_managed_fields_is_still_reported_unattributed() {
    // Regression: a bad `k:` key in the person's managedFields entry made the
    // field unattributable, and the finding vanished without a word.
    let env = json!([{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}]);
    let broken = managed(
        "kubectl-set",
        "2026-11-21T10:02:00Z",
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"web\"": {"f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}}}}}}}}}),
    );
    let live = deployment(2, env, json!([flux_entry(), broken]));
    let changes = compare(&desired(), &live, &Policy::default());
    let added: Vec<_> = changes
        .iter()
        .map(|c| (c.path.as_str(), c.op, c.manager.as_deref()))
        .collect();
    assert_eq!(
        added,
        [("/spec/template/spec/containers/0/env/1", Op::Add, None)]
    );
}

#[test]
fn values_encrypted_in_git_are_not_compared_but_their_keys_and_labels_are() {
    // A SOPS-encrypted Secret rendered without the key: its values are
    // markers. Live has the decrypted values: in sync. A key a person
    // removed, a key and a label a person added are found.
    let enc = "ENC[AES256_GCM,data:q83v,iv:2VQ5,tag:7CkK,type:str]";
    let want = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps", "labels": {"team": "payments"}},
        "type": "Opaque", "stringData": {"password": enc}, "data": {"user": enc}});
    let in_sync = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps", "labels": {"team": "payments"}},
        "type": "Opaque", "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
    assert_eq!(compare(&want, &in_sync, &Policy::default()), vec![]);

    let mut edited = in_sync.clone();
    edited["data"] = json!({"user": "YWRtaW4=", "token": "c2VjcmV0"});
    edited["metadata"]["labels"]["debug"] = json!("on");
    edited["metadata"]["managedFields"] = json!([managed(
        "kubectl-edit",
        "2026-12-01T10:00:00Z",
        json!({"f:data": {"f:token": {}}, "f:metadata": {"f:labels": {"f:debug": {}}}})
    )]);
    let changes = masked(&edited, compare(&want, &edited, &Policy::default()));
    let found: Vec<_> = changes
        .iter()
        .map(|c| (c.path.as_str(), c.op, c.manager.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("/metadata/labels/debug", Op::Add, Some("kubectl-edit")),
            ("/data/password", Op::Remove, None),
            ("/data/token", Op::Add, Some("kubectl-edit")),
        ]
    );
    let text = serde_json::to_string(&changes).unwrap();
    assert!(!text.contains("c2VjcmV0") && !text.contains(enc), "{text}");
}
