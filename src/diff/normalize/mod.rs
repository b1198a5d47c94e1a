//! Normalization: what is not drift.
//!
//! One function per class of difference that is not drift, each named for
//! what it normalizes and linking the upstream behaviour it mirrors:
//!
//! - on the rendered side, what Flux does to an object before applying it
//!   (fluxcd/pkg `ssa/normalize.go`): [`set_port_protocol_defaults`],
//!   [`encode_secret_string_data`], [`drop_null_fields`],
//!   [`quantity_numbers_to_strings`];
//! - on the live side, what the API server adds that git never declares:
//!   [`strip_server_metadata`], [`strip_status`];
//! - when comparing values: [`numbers_equal`], [`quantities_equal`],
//!   [`empty_equals_absent`];
//! - for fields present only live and owned by a person, values the API
//!   server would have defaulted anyway (someone applied a manifest dumped
//!   with `kubectl get -o yaml`): [`is_service_default`],
//!   [`is_workload_default`], [`is_pod_template_default`],
//!   [`is_container_default`], [`is_port_protocol_default`].

use base64::Engine;
use serde_json::{Map, Value};

use super::quantity::Quantity;

/// Annotations written by clients and controllers, never by git.
const SERVER_ANNOTATIONS: &[&str] = &[
    // Client-side apply's copy of the last manifest (may hold Secret data).
    "kubectl.kubernetes.io/last-applied-configuration",
    // The Deployment controller's rollout counter.
    "deployment.kubernetes.io/revision",
];

/// Metadata fields the API server sets on every object.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// What Flux does to a rendered object before applying it, in order. A new
/// rule is a function below and a line here.
const DESIRED_RULES: &[fn(&mut Value)] = &[
    strip_build_metadata,
    drop_null_fields,
    set_port_protocol_defaults,
    encode_secret_string_data,
    quantity_numbers_to_strings,
];

/// What the server owns in a live object. A new rule is a function below and
/// a line here.
const LIVE_RULES: &[fn(&mut Value)] = &[strip_server_metadata, strip_status, strip_build_metadata];

/// kustomize's build metadata annotations, written when a Kustomization sets
/// `spec.buildMetadata` (kustomize-controller v1.9) or, by Flux, on objects of
/// a `kustomization.yaml` without `resources` (fluxcd/pkg
/// `kustomize_generator.go`). Their content is the build's bookkeeping (file
/// paths, transformer names), which drift-check renders exactly for files,
/// generators and built-in transformers; they are still Flux-managed
/// metadata, not drift, whatever their value.
pub const BUILD_METADATA_ANNOTATIONS: &[&str] = &[
    "config.kubernetes.io/origin",
    "alpha.config.kubernetes.io/transformations",
];

/// A server-default rule: is `value` at `path` of a `kind` (under `parent`)
/// what the API server sets by default?
type ServerDefaultRule = fn(&str, &[&str], &Value, &Value) -> bool;

/// Values the API server defaults, by (kind, path, value, parent). A new rule
/// is a function below and a line here.
const SERVER_DEFAULT_RULES: &[ServerDefaultRule] = &[
    is_service_default,
    |kind, path, value, _| is_workload_default(kind, path, value),
    |_, path, value, _| is_pod_template_default(path, value),
    |_, path, value, _| is_container_default(path, value),
    |_, path, value, _| is_port_protocol_default(path, value),
];

/// Normalizes a rendered object the way Flux does before applying it.
pub fn desired(object: &mut Value) {
    DESIRED_RULES.iter().for_each(|rule| rule(object));
}

/// Removes from a live object what the server owns: status and server metadata.
pub fn live(object: &mut Value) {
    LIVE_RULES.iter().for_each(|rule| rule(object));
}

/// `null` in a manifest means "unset": the API server stores nothing, so
/// `creationTimestamp: null` in a pod template (as `kubectl create
/// --dry-run -o yaml` writes it) is no difference. Flux removes
/// `metadata.creationTimestamp` for the same reason (ssa/normalize.go).
pub fn drop_null_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_null_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_fields),
        _ => {}
    }
}

/// Container ports and Service ports without `protocol` get `TCP`. Flux does
/// this before server-side apply for `containers` and Service ports
/// (fluxcd/pkg `ssa/normalize/normalize.go`, `normalizePodProtoDefault`: the
/// API server rejects an apply whose list-map item omits the `protocol` key);
/// the API server defaults init and ephemeral containers' ports the same way,
/// so they are set here too, or their keyed items would not match live.
pub fn set_port_protocol_defaults(object: &mut Value) {
    let is_service = object.get("kind").and_then(Value::as_str) == Some("Service");
    if is_service && let Some(Value::Array(ports)) = object.pointer_mut("/spec/ports") {
        ports.iter_mut().for_each(default_protocol);
    }
    set_container_port_protocols(object);
}

fn set_container_port_protocols(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let is_containers = matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                );
                if is_containers && let Value::Array(containers) = child {
                    for container in containers.iter_mut() {
                        if let Some(Value::Array(ports)) = container.get_mut("ports") {
                            ports.iter_mut().for_each(default_protocol);
                        }
                    }
                }
                set_container_port_protocols(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(set_container_port_protocols),
        _ => {}
    }
}

fn default_protocol(port: &mut Value) {
    if let Value::Object(port) = port {
        port.entry("protocol").or_insert_with(|| Value::from("TCP"));
    }
}

/// A Secret's `stringData` is written by the API server into `data`, base64
/// encoded; Flux converts before applying (ssa/normalize.go), so compare `data`.
pub fn encode_secret_string_data(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (key, value) in string_data {
            if crate::render::sops::is_encrypted(&value) {
                // Not compared: stays the marker it is.
                data.insert(key, value);
                continue;
            }
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::from(encoded));
        }
    }
}

/// A quantity written as a YAML number (`cpu: 0.5`) becomes a string, as
/// Flux's round trip through the typed API objects makes it
/// (fluxcd/pkg `ssa/normalize`: `FromUnstructured` parses a `resource.Quantity`,
/// `ToUnstructured` writes it back as a string). Server-side apply rejects a
/// number there ("expected string"). Built-in kinds only: custom resources have
/// no typed round trip.
pub fn quantity_numbers_to_strings(object: &mut Value) {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !super::schema::is_builtin_group(crate::k8s::object::group_of(api_version)) {
        return;
    }
    fn walk(value: &mut Value, path: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    path.push(key.clone());
                    walk(child, path);
                    path.pop();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, path)),
            Value::Number(n) if is_quantity_path(path) => *value = Value::from(n.to_string()),
            _ => {}
        }
    }
    walk(object, &mut Vec::new());
}

/// Where a value is a resource quantity: under `resources.limits|requests`,
/// a ResourceQuota's `hard`, a LimitRange's limits, a PVC's `storage`,
/// an emptyDir's `sizeLimit`, a pod's `overhead`.
fn is_quantity_path(path: &[String]) -> bool {
    let n = path.len();
    let parent = |i: usize| n.checked_sub(i).map(|j| path[j].as_str());
    matches!(
        parent(2),
        Some(
            "limits"
                | "requests"
                | "hard"
                | "overhead"
                | "default"
                | "defaultRequest"
                | "max"
                | "min"
                | "maxLimitRequestRatio"
                | "capacity"
        )
    ) || matches!(parent(1), Some("storage" | "sizeLimit"))
}

/// uid, resourceVersion, generation, creationTimestamp, managedFields and the
/// annotations clients and controllers write are the server's, not git's.
pub fn strip_server_metadata(object: &mut Value) {
    let Some(Value::Object(metadata)) = object.get_mut("metadata") else {
        return;
    };
    for field in SERVER_METADATA {
        metadata.remove(*field);
    }
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        for key in SERVER_ANNOTATIONS {
            annotations.remove(*key);
        }
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
}

/// Removes kustomize's build metadata annotations ([`BUILD_METADATA_ANNOTATIONS`])
/// from both sides: Flux writes them, and only Flux.
pub fn strip_build_metadata(object: &mut Value) {
    let Some(Value::Object(metadata)) = object.get_mut("metadata") else {
        return;
    };
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        let before = annotations.len();
        for key in BUILD_METADATA_ANNOTATIONS {
            annotations.remove(*key);
        }
        if annotations.is_empty() && before > 0 {
            metadata.remove("annotations");
        }
    }
}

/// `status` is written by controllers through the status subresource.
/// (CRDs keep their stored versions in status; Flux drops status too.)
pub fn strip_status(object: &mut Value) {
    if let Value::Object(map) = object {
        map.remove("status");
    }
}

/// `1000` and `1000.0` are the same number (YAML and JSON readers differ).
pub fn numbers_equal(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        _ => false,
    }
}

/// Resource quantities are stored canonicalised: git `cpu: 1000m` is live
/// `"1"`, `memory: 0.5Gi` is `512Mi` (k8s.io/apimachinery `resource.Quantity`).
/// Applies only where a quantity is expected: under `resources`, `hard`,
/// `capacity`, `limits`, `requests`, `overhead` or a `storage`/`sizeLimit` key.
pub fn quantities_equal(path: &[String], desired: &Value, live: &Value) -> bool {
    if !is_quantity_path(path) {
        return false;
    }
    match (Quantity::from_value(desired), Quantity::from_value(live)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// An empty map or list in git is the same as the field being absent live: the
/// API server omits empty optional fields (`annotations: {}`, `args: []`).
pub fn empty_equals_absent(desired: &Value) -> bool {
    match desired {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Are two scalars (or whole values) the same, after the value rules above?
pub fn same_value(path: &[String], desired: &Value, live: &Value) -> bool {
    desired == live || numbers_equal(desired, live) || quantities_equal(path, desired, live)
}

/// Is `value` at `path` (field names only, no indices) of a `kind` object what
/// the API server would have defaulted, so that a person owning it (by
/// applying a dumped manifest) changed nothing?
pub fn is_server_default(kind: &str, path: &[&str], value: &Value, parent: &Value) -> bool {
    SERVER_DEFAULT_RULES
        .iter()
        .any(|rule| rule(kind, path, value, parent))
}

/// Service fields the API server allocates or defaults: `clusterIP(s)`,
/// `ipFamilies`, `ipFamilyPolicy`, `sessionAffinity: None`, `type: ClusterIP`,
/// `internalTrafficPolicy: Cluster`, and a port's `targetPort` equal to its `port`
/// (pkg/apis/core/v1/defaults.go `SetDefaults_Service`).
pub fn is_service_default(kind: &str, path: &[&str], value: &Value, parent: &Value) -> bool {
    if kind != "Service" {
        return false;
    }
    match path {
        [
            "spec",
            "clusterIP" | "clusterIPs" | "ipFamilies" | "ipFamilyPolicy",
        ] => true,
        ["spec", "sessionAffinity"] => value == "None",
        ["spec", "type"] => value == "ClusterIP",
        ["spec", "internalTrafficPolicy"] => value == "Cluster",
        ["spec", "ports", "targetPort"] => parent
            .get("port")
            .is_some_and(|port| numbers_equal(port, value)),
        _ => false,
    }
}

/// Deployment/StatefulSet/DaemonSet defaults: `strategy` RollingUpdate with
/// 25%/25%, `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`
/// (pkg/apis/apps/v1/defaults.go).
pub fn is_workload_default(kind: &str, path: &[&str], value: &Value) -> bool {
    if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet") {
        return false;
    }
    match path {
        ["spec", "revisionHistoryLimit"] => value == 10,
        ["spec", "progressDeadlineSeconds"] => value == 600,
        ["spec", "strategy" | "updateStrategy"] => {
            value.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                && value.get("rollingUpdate").is_none_or(|r| {
                    r.as_object().is_some_and(|r| {
                        r.iter().all(|(k, v)| match k.as_str() {
                            "maxSurge" | "maxUnavailable" => v == "25%" || v == 1 || v == 0,
                            "partition" => v == 0,
                            _ => false,
                        })
                    })
                })
        }
        ["spec", "strategy" | "updateStrategy", "type"] => value == "RollingUpdate",
        [
            "spec",
            "strategy" | "updateStrategy",
            "rollingUpdate",
            "maxSurge" | "maxUnavailable",
        ] => value == "25%",
        _ => false,
    }
}

/// Pod spec defaults: `dnsPolicy: ClusterFirst`, `restartPolicy: Always`,
/// `schedulerName: default-scheduler`, `securityContext: {}`,
/// `terminationGracePeriodSeconds: 30`, and `creationTimestamp: null` in a
/// template's metadata (pkg/apis/core/v1/defaults.go `SetDefaults_PodSpec`).
pub fn is_pod_template_default(path: &[&str], value: &Value) -> bool {
    let Some(pod) = path
        .iter()
        .rposition(|t| *t == "template")
        .map(|i| &path[i + 1..])
    else {
        return false;
    };
    match pod {
        ["metadata", "creationTimestamp"] => value.is_null(),
        ["spec", "dnsPolicy"] => value == "ClusterFirst",
        ["spec", "restartPolicy"] => value == "Always",
        ["spec", "schedulerName"] => value == "default-scheduler",
        ["spec", "securityContext"] => value.as_object().is_some_and(Map::is_empty),
        ["spec", "terminationGracePeriodSeconds"] => value == 30,
        _ => false,
    }
}

/// Container defaults: `imagePullPolicy` (Always or IfNotPresent),
/// `terminationMessagePath: /dev/termination-log`,
/// `terminationMessagePolicy: File`, `resources: {}`
/// (pkg/apis/core/v1/defaults.go `SetDefaults_Container`).
pub fn is_container_default(path: &[&str], value: &Value) -> bool {
    let Some(i) = path
        .iter()
        .rposition(|t| matches!(*t, "containers" | "initContainers" | "ephemeralContainers"))
    else {
        return false;
    };
    match &path[i + 1..] {
        ["imagePullPolicy"] => value == "IfNotPresent" || value == "Always",
        ["terminationMessagePath"] => value == "/dev/termination-log",
        ["terminationMessagePolicy"] => value == "File",
        ["resources"] => value.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// A port's `protocol: TCP` (containers, Services, NetworkPolicies).
pub fn is_port_protocol_default(path: &[&str], value: &Value) -> bool {
    matches!(path, [.., "ports", "protocol"]) && value == "TCP"
}

#[cfg(test)]
mod tests;
