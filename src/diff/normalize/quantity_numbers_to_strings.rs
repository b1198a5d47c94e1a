//! Normalization rule, on the rendered side: what Flux does to an object
//! before applying it (one file per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

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
    if !crate::diff::schema::is_builtin_group(crate::k8s::object::group_of(api_version)) {
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
            Value::Number(n) if super::is_quantity_path(path) => *value = Value::from(n.to_string()),
            _ => {}
        }
    }
    walk(object, &mut Vec::new());
}

/// The rule as the table calls it.
pub(super) use self::quantity_numbers_to_strings as rule;
