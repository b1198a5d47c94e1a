//! Normalization rule, on the rendered side: what Flux does to an object
//! before applying it (one file per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

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

/// The rule as the table calls it.
pub(super) use self::set_port_protocol_defaults as rule;
