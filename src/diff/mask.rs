//! Secret values never leave the process.
//!
//! Changes to a Secret's `data` or `stringData` keep their paths but lose their
//! values, the way Flux masks Secrets in its diffs (fluxcd/pkg `ssa/jsondiff/mask.go`):
//! `***` for a value that was added or removed, `*** (before)` and `*** (after)`
//! for one that changed. Values read from Secrets for postBuild
//! substitution are scrubbed wherever they land: in any change's values, and
//! in error and warning texts (an API server's message can quote a value).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Change, Op};

/// Placeholder for a Secret value.
pub const MASK: &str = "***";
const BEFORE: &str = "*** (before)";
const AFTER: &str = "*** (after)";

/// Masks the values of changes to a Secret's data.
pub fn secret_changes(changes: &mut [Change]) {
    for change in changes.iter_mut().filter(|c| is_secret_data(&c.path)) {
        let (desired, live) = match change.op {
            Op::Replace => (BEFORE, AFTER),
            Op::Add | Op::Remove => (MASK, MASK),
        };
        change.desired = change.desired.as_ref().map(|v| masked(v, desired));
        change.live = change.live.as_ref().map(|v| masked(v, live));
    }
}

/// Replaces any value read from a Secret (for substitution) wherever it
/// appears in the changes' values: a Secret value substituted into a
/// ConfigMap must not leak through that ConfigMap's diff.
pub fn scrub_changes<'a>(
    changes: impl IntoIterator<Item = &'a mut Change>,
    secrets: &BTreeSet<String>,
) {
    if secrets.is_empty() {
        return;
    }
    fn walk(value: &mut Value, secrets: &BTreeSet<String>) {
        match value {
            Value::String(s) if secrets.iter().any(|secret| s.contains(secret.as_str())) => {
                *s = MASK.to_string();
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, secrets)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, secrets)),
            _ => {}
        }
    }
    for change in changes {
        for value in [&mut change.desired, &mut change.live]
            .into_iter()
            .flatten()
        {
            walk(value, secrets);
        }
    }
}

/// Replaces every occurrence of a value read from a Secret in a text.
pub fn scrub_text(text: &mut String, secrets: &BTreeSet<String>) {
    for secret in secrets {
        if text.contains(secret.as_str()) {
            *text = text.replace(secret.as_str(), MASK);
        }
    }
}

/// Masks every value of a Secret object's `data` and `stringData`, keeping
/// the keys: for printing rendered objects (`drift-check render`).
pub fn secret_object(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(value) = object.get_mut(field) {
            *value = masked(value, MASK);
        }
    }
}

fn is_secret_data(path: &str) -> bool {
    path.is_empty()
        || ["/data", "/stringData"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Keeps the shape (the keys of a map) and hides every value.
fn masked(value: &Value, mark: &str) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.keys().map(|k| (k.clone(), Value::from(mark))).collect())
        }
        _ => Value::from(mark),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(path: &str, op: Op, desired: Option<Value>, live: Option<Value>) -> Change {
        Change {
            path: path.into(),
            op,
            desired,
            live,
            manager: None,
            time: None,
            explanation: None,
        }
    }

    #[test]
    fn masks_a_whole_secret_but_keeps_its_keys() {
        let mut secret = json!({"kind": "Secret", "data": {"a": "YQ=="}, "stringData": {"b": "b"}, "type": "Opaque"});
        secret_object(&mut secret);
        assert_eq!(
            secret,
            json!({"kind": "Secret", "data": {"a": "***"}, "stringData": {"b": "***"}, "type": "Opaque"})
        );
        let mut cm = json!({"kind": "ConfigMap", "data": {"a": "1"}});
        secret_object(&mut cm);
        assert_eq!(cm, json!({"kind": "ConfigMap", "data": {"a": "1"}}));
    }

    #[test]
    fn masks_changed_added_and_removed_secret_values() {
        let mut changes = vec![
            change(
                "/data/token",
                Op::Replace,
                Some(json!("YQ==")),
                Some(json!("Yg==")),
            ),
            change("/data/extra", Op::Add, None, Some(json!("Yw=="))),
            change("/data", Op::Remove, Some(json!({"a": "YQ=="})), None),
            change(
                "/metadata/labels/team",
                Op::Replace,
                Some(json!("a")),
                Some(json!("b")),
            ),
        ];
        secret_changes(&mut changes);
        assert_eq!(changes[0].desired, Some(json!("*** (before)")));
        assert_eq!(changes[0].live, Some(json!("*** (after)")));
        assert_eq!(changes[1].live, Some(json!("***")));
        assert_eq!(changes[2].desired, Some(json!({"a": "***"})));
        assert_eq!(changes[3].live, Some(json!("b")), "labels are not secret");
    }

    #[test]
    fn scrub_masks_secret_sourced_values_inside_any_change_value() {
        let mut changes = vec![change(
            "/data",
            Op::Replace,
            Some(json!({"url": "https://hooks.example/T0K3N-123?x=1"})),
            Some(json!(["T0K3N-123", "other"])),
        )];
        scrub_changes(&mut changes, &BTreeSet::from(["T0K3N-123".to_string()]));
        assert_eq!(changes[0].desired, Some(json!({"url": "***"})));
        assert_eq!(changes[0].live, Some(json!(["***", "other"])));
        let mut text = "quota: the value T0K3N-123 is invalid".to_string();
        scrub_text(&mut text, &BTreeSet::from(["T0K3N-123".to_string()]));
        assert_eq!(text, "quota: the value *** is invalid");
    }
}
