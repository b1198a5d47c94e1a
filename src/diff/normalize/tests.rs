use super::*;
use serde_json::json;

fn tokens(path: &str) -> Vec<String> {
    path.split('/').skip(1).map(str::to_string).collect()
}

#[test]
fn drop_null_fields_removes_creation_timestamp_null_in_templates() {
    let mut d = json!({"spec": {"template": {"metadata": {"creationTimestamp": null, "labels": {"a": "b"}}}}});
    drop_null_fields(&mut d);
    assert_eq!(
        d,
        json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}})
    );
}

#[test]
fn set_port_protocol_defaults_on_containers_and_services_only() {
    let mut deploy = json!({"kind": "Deployment", "spec": {"template": {"spec": {
        "initContainers": [{"name": "i", "ports": [{"containerPort": 1}]}],
        "containers": [{"name": "c", "ports": [{"containerPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]}]}}}});
    set_port_protocol_defaults(&mut deploy);
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/ports"),
        Some(
            &json!([{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}])
        )
    );
    assert_eq!(
        deploy.pointer("/spec/template/spec/initContainers/0/ports/0/protocol"),
        Some(&json!("TCP"))
    );
    let mut svc = json!({"kind": "Service", "spec": {"ports": [{"port": 80}]}});
    set_port_protocol_defaults(&mut svc);
    assert_eq!(
        svc,
        json!({"kind": "Service", "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
    );
    let mut netpol =
        json!({"kind": "NetworkPolicy", "spec": {"ingress": [{"ports": [{"port": 80}]}]}});
    let before = netpol.clone();
    set_port_protocol_defaults(&mut netpol);
    assert_eq!(
        netpol, before,
        "Flux does not normalize NetworkPolicy ports"
    );
}

#[test]
fn encode_secret_string_data_into_data() {
    let mut s =
        json!({"kind": "Secret", "data": {"a": "YQ=="}, "stringData": {"b": "b", "a": "z"}});
    encode_secret_string_data(&mut s);
    assert_eq!(
        s,
        json!({"kind": "Secret", "data": {"a": "eg==", "b": "Yg=="}})
    );
    let mut cm = json!({"kind": "ConfigMap", "stringData": {"b": "b"}});
    encode_secret_string_data(&mut cm);
    assert_eq!(cm, json!({"kind": "ConfigMap", "stringData": {"b": "b"}}));
}

#[test]
fn build_metadata_annotations_are_flux_managed_on_both_sides() {
    let with = |origin: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
            "annotations": {"config.kubernetes.io/origin": origin,
                "alpha.config.kubernetes.io/transformations": "- configuredIn: kustomization.yaml\n",
                "team": "docs"}}})
    };
    let mut desired_object = with("path: a.yaml\n");
    let mut live_object = with("configuredIn: kustomization.yaml\n");
    desired(&mut desired_object);
    live(&mut live_object);
    assert_eq!(desired_object, live_object);
    assert_eq!(
        desired_object["metadata"]["annotations"],
        json!({"team": "docs"})
    );
    let mut only = json!({"metadata": {"name": "c", "annotations": {"config.kubernetes.io/origin": "path: a.yaml\n"}}});
    live(&mut only);
    assert_eq!(only, json!({"metadata": {"name": "c"}}));
}

#[test]
fn strip_server_metadata_keeps_labels_and_git_annotations() {
    let mut o = json!({"metadata": {"name": "x", "uid": "u", "resourceVersion": "1", "generation": 2,
        "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [],
        "labels": {"a": "b"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "deployment.kubernetes.io/revision": "3", "team": "docs"}}});
    strip_server_metadata(&mut o);
    assert_eq!(
        o,
        json!({"metadata": {"name": "x", "labels": {"a": "b"}, "annotations": {"team": "docs"}}})
    );
}

#[test]
fn strip_status_removes_status() {
    let mut o = json!({"spec": {}, "status": {"replicas": 3}});
    strip_status(&mut o);
    assert_eq!(o, json!({"spec": {}}));
}

#[test]
fn numbers_equal_across_integer_and_float() {
    assert!(numbers_equal(&json!(1000), &json!(1000.0)));
    assert!(!numbers_equal(&json!(1000), &json!(1001)));
    assert!(!numbers_equal(&json!("1000"), &json!(1000)));
}

#[test]
fn quantities_equal_in_resources_only() {
    let cpu = tokens("/spec/template/spec/containers/0/resources/limits/cpu");
    assert!(quantities_equal(&cpu, &json!("1000m"), &json!("1")));
    assert!(quantities_equal(&cpu, &json!(0.5), &json!("500m")));
    assert!(quantities_equal(&cpu, &json!(2), &json!("2")));
    let mem = tokens("/spec/template/spec/containers/0/resources/requests/memory");
    assert!(quantities_equal(&mem, &json!("0.5Gi"), &json!("512Mi")));
    assert!(!quantities_equal(&mem, &json!("1Gi"), &json!("1G")));
    assert!(!quantities_equal(
        &tokens("/data/cpu"),
        &json!("1000m"),
        &json!("1")
    ));
}

#[test]
fn quantity_numbers_to_strings_in_built_in_kinds_only() {
    let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2, "template": {"spec": {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": 0.5, "memory": "1Gi"}, "limits": {"cpu": 2}}}],
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": 1}}]}}}});
    quantity_numbers_to_strings(&mut deploy);
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/resources"),
        Some(&json!({"requests": {"cpu": "0.5", "memory": "1Gi"}, "limits": {"cpu": "2"}}))
    );
    assert_eq!(
        deploy.pointer("/spec/template/spec/volumes/0/emptyDir/sizeLimit"),
        Some(&json!("1"))
    );
    assert_eq!(deploy.pointer("/spec/replicas"), Some(&json!(2)));
    let mut custom =
        json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"limits": {"cpu": 1}}});
    let before = custom.clone();
    quantity_numbers_to_strings(&mut custom);
    assert_eq!(custom, before);
}

#[test]
fn empty_equals_absent_for_empty_maps_and_lists() {
    assert!(empty_equals_absent(&json!({})));
    assert!(empty_equals_absent(&json!([])));
    assert!(!empty_equals_absent(&json!({"a": 1})));
    assert!(!empty_equals_absent(&json!(0)));
}

#[test]
fn is_service_default_for_allocated_and_defaulted_fields() {
    let port = json!({"port": 80, "targetPort": 80});
    assert!(is_service_default(
        "Service",
        &["spec", "clusterIP"],
        &json!("10.96.0.12"),
        &json!({})
    ));
    assert!(is_service_default(
        "Service",
        &["spec", "sessionAffinity"],
        &json!("None"),
        &json!({})
    ));
    assert!(!is_service_default(
        "Service",
        &["spec", "sessionAffinity"],
        &json!("ClientIP"),
        &json!({})
    ));
    assert!(is_service_default(
        "Service",
        &["spec", "type"],
        &json!("ClusterIP"),
        &json!({})
    ));
    assert!(!is_service_default(
        "Service",
        &["spec", "type"],
        &json!("NodePort"),
        &json!({})
    ));
    assert!(is_service_default(
        "Service",
        &["spec", "ports", "targetPort"],
        &json!(80),
        &port
    ));
    assert!(!is_service_default(
        "Service",
        &["spec", "ports", "targetPort"],
        &json!(8080),
        &port
    ));
    assert!(!is_service_default(
        "Deployment",
        &["spec", "type"],
        &json!("ClusterIP"),
        &json!({})
    ));
}

#[test]
fn is_workload_default_for_strategy_and_history() {
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    assert!(is_workload_default(
        "Deployment",
        &["spec", "strategy"],
        &strategy
    ));
    assert!(!is_workload_default(
        "Deployment",
        &["spec", "strategy"],
        &json!({"type": "Recreate"})
    ));
    assert!(is_workload_default(
        "Deployment",
        &["spec", "revisionHistoryLimit"],
        &json!(10)
    ));
    assert!(!is_workload_default(
        "Deployment",
        &["spec", "revisionHistoryLimit"],
        &json!(3)
    ));
    assert!(is_workload_default(
        "Deployment",
        &["spec", "progressDeadlineSeconds"],
        &json!(600)
    ));
}

#[test]
fn is_pod_template_default_for_pod_spec_fields() {
    assert!(is_pod_template_default(
        &["spec", "template", "spec", "dnsPolicy"],
        &json!("ClusterFirst")
    ));
    assert!(is_pod_template_default(
        &["spec", "template", "spec", "securityContext"],
        &json!({})
    ));
    assert!(!is_pod_template_default(
        &["spec", "template", "spec", "securityContext"],
        &json!({"runAsUser": 0})
    ));
    assert!(is_pod_template_default(
        &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "restartPolicy"
        ],
        &json!("Always")
    ));
    assert!(is_pod_template_default(
        &["spec", "template", "metadata", "creationTimestamp"],
        &Value::Null
    ));
    assert!(!is_pod_template_default(
        &["spec", "dnsPolicy"],
        &json!("ClusterFirst")
    ));
}

#[test]
fn is_container_default_for_container_fields() {
    let c = ["spec", "template", "spec", "containers"];
    let at = |f: &'static str| [&c[..], &[f]].concat();
    assert!(is_container_default(
        &at("imagePullPolicy"),
        &json!("IfNotPresent")
    ));
    assert!(is_container_default(
        &at("terminationMessagePath"),
        &json!("/dev/termination-log")
    ));
    assert!(is_container_default(
        &at("terminationMessagePolicy"),
        &json!("File")
    ));
    assert!(!is_container_default(
        &at("terminationMessagePolicy"),
        &json!("FallbackToLogsOnError")
    ));
    assert!(!is_container_default(&at("image"), &json!("x")));
}

#[test]
fn is_port_protocol_default_only_for_tcp() {
    assert!(is_port_protocol_default(
        &["spec", "ports", "protocol"],
        &json!("TCP")
    ));
    assert!(!is_port_protocol_default(
        &["spec", "ports", "protocol"],
        &json!("UDP")
    ));
}
