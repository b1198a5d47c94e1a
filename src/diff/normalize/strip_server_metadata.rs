//! Normalization rule, on the live side: what the server owns (one file
//! per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

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

/// The rule as the table calls it.
pub(super) use self::strip_server_metadata as rule;
