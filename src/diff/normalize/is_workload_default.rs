//! Normalization rule, for a field only the live object has: a value the
//! API server defaults (one file per rule, listed once in `super`'s
//! `rules!`).

use serde_json::Value;

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

/// The rule as the table calls it.
pub(super) fn rule(kind: &str, path: &[&str], value: &Value, _parent: &Value) -> bool {
    is_workload_default(kind, path, value)
}
