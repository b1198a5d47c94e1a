//! Normalization rule, for a field only the live object has: a value the
//! API server defaults (one file per rule, listed once in `super`'s
//! `rules!`).

use serde_json::{Map, Value};

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

/// The rule as the table calls it.
pub(super) fn rule(_kind: &str, path: &[&str], value: &Value, _parent: &Value) -> bool {
    is_pod_template_default(path, value)
}
