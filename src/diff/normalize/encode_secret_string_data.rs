//! Normalization rule, on the rendered side: what Flux does to an object
//! before applying it (one file per rule, listed once in `super`'s `rules!`).

use base64::Engine;
use serde_json::{Map, Value};

/// A Secret's `stringData` is written by the API server into `data`, base64
/// encoded; Flux converts before applying (ssa/normalize.go), so compare `data`.
pub fn encode_secret_string_data(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (key, value) in string_data {
            if crate::render::sops::is_encrypted(&value) {
                // Not compared: stays the marker it is.
                data.insert(key, value);
                continue;
            }
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::from(encoded));
        }
    }
}

/// The rule as the table calls it.
pub(super) use self::encode_secret_string_data as rule;
