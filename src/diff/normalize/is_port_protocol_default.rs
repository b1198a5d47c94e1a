//! Normalization rule, for a field only the live object has: a value the
//! API server defaults (one file per rule, listed once in `super`'s
//! `rules!`).

use serde_json::Value;

/// A port's `protocol: TCP` (containers, Services, NetworkPolicies).
pub fn is_port_protocol_default(path: &[&str], value: &Value) -> bool {
    matches!(path, [.., "ports", "protocol"]) && value == "TCP"
}

/// The rule as the table calls it.
pub(super) fn rule(_kind: &str, path: &[&str], value: &Value, _parent: &Value) -> bool {
    is_port_protocol_default(path, value)
}
