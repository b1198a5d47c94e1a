//! Normalization rule, for a field only the live object has: a value the
//! API server defaults (one file per rule, listed once in `super`'s
//! `rules!`).

use serde_json::Value;

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
            .is_some_and(|port| super::numbers_equal(port, value)),
        _ => false,
    }
}

/// The rule as the table calls it.
pub(super) use self::is_service_default as rule;
