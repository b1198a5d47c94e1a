//! Normalization: what is not drift.
//!
//! One file per rule, each named for what it normalizes and linking the
//! upstream behaviour it mirrors, listed once in a `rules!` table below
//! (that line declares the file's module and puts its `rule` in the table):
//!
//! - on the rendered side, what Flux does to an object before applying it
//!   (fluxcd/pkg `ssa/normalize.go`): [`set_port_protocol_defaults`],
//!   [`encode_secret_string_data`], [`drop_null_fields`],
//!   [`quantity_numbers_to_strings`], [`strip_build_metadata`];
//! - on the live side, what the API server adds that git never declares:
//!   [`strip_server_metadata`], [`strip_status`];
//! - for fields present only live and owned by a person, values the API
//!   server would have defaulted anyway (someone applied a manifest dumped
//!   with `kubectl get -o yaml`): [`is_service_default`],
//!   [`is_workload_default`], [`is_pod_template_default`],
//!   [`is_container_default`], [`is_port_protocol_default`].
//!
//! And, in this file, when comparing values: [`numbers_equal`],
//! [`quantities_equal`], [`empty_equals_absent`].
//!
//! Adding a rule: a file `src/diff/normalize/<rule>.rs` (its `pub fn
//! <rule>` and `pub(super) use self::<rule> as rule;`) and its name in one
//! table.

use serde_json::Value;

use super::quantity::Quantity;

/// Declares each rule's module (its file), re-exports its function, and
/// lists its `rule` in `$table`, in order; `also` lists rules declared in
/// another table.
macro_rules! rules {
    ($(#[$doc:meta])* $table:ident: $ty:ty = [$($rule:ident),* $(,)?] $(also [$($shared:ident),*])?) => {
        $(mod $rule; pub use $rule::$rule;)*
        $(#[$doc])*
        const $table: &[$ty] = &[$($rule::rule,)* $($($shared::rule,)*)?];
    };
}

rules! {
    /// What Flux does to a rendered object before applying it, in order.
    DESIRED_RULES: fn(&mut Value) = [
        strip_build_metadata,
        drop_null_fields,
        set_port_protocol_defaults,
        encode_secret_string_data,
        quantity_numbers_to_strings,
    ]
}

rules! {
    /// What the server owns in a live object.
    LIVE_RULES: fn(&mut Value) = [strip_server_metadata, strip_status] also [strip_build_metadata]
}

/// A server-default rule: is `value` at `path` of a `kind` (under `parent`)
/// what the API server sets by default?
type ServerDefaultRule = fn(&str, &[&str], &Value, &Value) -> bool;

rules! {
    /// Values the API server defaults, by (kind, path, value, parent).
    SERVER_DEFAULT_RULES: ServerDefaultRule = [
        is_service_default,
        is_workload_default,
        is_pod_template_default,
        is_container_default,
        is_port_protocol_default,
    ]
}

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

/// Normalizes a rendered object the way Flux does before applying it.
pub fn desired(object: &mut Value) {
    DESIRED_RULES.iter().for_each(|rule| rule(object));
}

/// Removes from a live object what the server owns: status and server metadata.
pub fn live(object: &mut Value) {
    LIVE_RULES.iter().for_each(|rule| rule(object));
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

#[cfg(test)]
mod tests;
