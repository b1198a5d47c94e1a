//! Normalization rule, on the live side: what the server owns (one file
//! per rule, listed once in `super`'s `rules!`).

use serde_json::Value;

/// `status` is written by controllers through the status subresource.
/// (CRDs keep their stored versions in status; Flux drops status too.)
pub fn strip_status(object: &mut Value) {
    if let Value::Object(map) = object {
        map.remove("status");
    }
}

/// The rule as the table calls it.
pub(super) use self::strip_status as rule;
