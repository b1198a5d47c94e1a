//! Normalization rule, on the rendered side: what Flux does to an object
//! before applying it (one file per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

/// Removes kustomize's build metadata annotations ([`super::BUILD_METADATA_ANNOTATIONS`])
/// from both sides: Flux writes them, and only Flux.
pub fn strip_build_metadata(object: &mut Value) {
    let Some(Value::Object(metadata)) = object.get_mut("metadata") else {
        return;
    };
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        let before = annotations.len();
        for key in super::BUILD_METADATA_ANNOTATIONS {
            annotations.remove(*key);
        }
        if annotations.is_empty() && before > 0 {
            metadata.remove("annotations");
        }
    }
}

/// The rule as the table calls it.
pub(super) use self::strip_build_metadata as rule;
