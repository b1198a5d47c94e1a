//! Normalization rule, for a field only the live object has: a value the
//! API server defaults (one file per rule, listed once in `super`'s
//! `rules!`).

use serde_json::{Map, Value};

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

/// The rule as the table calls it.
pub(super) fn rule(_kind: &str, path: &[&str], value: &Value, _parent: &Value) -> bool {
    is_container_default(path, value)
}
