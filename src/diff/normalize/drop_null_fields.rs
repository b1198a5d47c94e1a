//! Normalization rule, on the rendered side: what Flux does to an object
//! before applying it (one file per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

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

/// The rule as the table calls it.
pub(super) use self::drop_null_fields as rule;
