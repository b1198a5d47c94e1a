//! Secret values never leave the process.
//!
//! Changes to a Secret's `data` or `stringData` keep their paths but lose their
//! values, the way Flux masks Secrets in its diffs (fluxcd/pkg `ssa/jsondiff/mask.go`):
//! `***` for a value that was added or removed, `*** (before)` and `*** (after)`
//! for one that changed.
//!
//! Values read from Secrets for postBuild substitution are masked where they
//! were substituted, not searched for: the render records, per object, the
//! JSON Pointers of the values a Secret's variable went into
//! ([`Substituted`]), and those exact places are masked — in `drift-check
//! render`'s output and in the changes of that object's findings, whatever
//! the value's length. A search would miss short values and mask the same
//! bytes where they mean nothing.
//!
//! Error and warning texts are different: an API server's message may quote
//! a value, and there is no path to go by; [`crate::redact::secret_values`]
//! replaces them there.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Change, Op};
use crate::k8s::object::{Object, ObjectRef};
pub use crate::render::stored::Substituted;

/// Placeholder for a Secret value.
pub use crate::redact::MASK;
const BEFORE: &str = "*** (before)";
const AFTER: &str = "*** (after)";

/// Masks the values of one object's changes: those of a Secret's data, and
/// those postBuild substitution filled from a Secret ([`Substituted`]). The
/// one place the diff masks, called once per object as its changes leave
/// the comparison ([`super::run`]).
pub fn changes(object: &ObjectRef, changes: &mut [Change], substituted: &Substituted) {
    if object.kind == "Secret" {
        secret_changes(changes);
    }
    substituted.changes(object, changes);
}

/// Masks the values of changes to a Secret's data.
fn secret_changes(changes: &mut [Change]) {
    for change in changes.iter_mut().filter(|c| is_secret_data(&c.path)) {
        mask_both(change);
    }
}

/// Masks both sides of a change whole, keeping the shape of a map.
fn mask_both(change: &mut Change) {
    let (desired, live) = match change.op {
        Op::Replace => (BEFORE, AFTER),
        Op::Add | Op::Remove => (MASK, MASK),
    };
    change.desired = change.desired.as_ref().map(|v| masked(v, desired));
    change.live = change.live.as_ref().map(|v| masked(v, live));
}

impl Substituted {
    /// Masks the recorded places of a rendered object (for printing it).
    pub fn object(&self, object: &mut Object) {
        let Some(key) = ObjectRef::of(object).map(|o| o.key()) else {
            return;
        };
        let Some(places) = self.places(&key) else {
            return;
        };
        for path in &places.paths {
            if let Some(value) = object.pointer_mut(path) {
                *value = masked(value, MASK);
            }
        }
    }

    /// Masks the recorded places of `object` in its changes: a change at or
    /// under a place is masked whole; a change holding a place has it masked
    /// inside its values, and there any string equal to a value substituted
    /// from a Secret into this object is masked too (the live copy of a list
    /// may hold it at another index). The same bytes elsewhere are kept.
    pub fn changes(&self, object: &ObjectRef, changes: &mut [Change]) {
        let Some(places) = self.places(&object.key()) else {
            return;
        };
        for change in changes {
            // A list item's name could be a substituted value.
            change.readable_path = None;
            if places.paths.iter().any(|p| is_at_or_under(&change.path, p)) {
                mask_both(change);
                continue;
            }
            let inside: Vec<&str> = places
                .paths
                .iter()
                .filter_map(|p| p.strip_prefix(change.path.as_str()))
                .filter(|rest| rest.starts_with('/'))
                .collect();
            if inside.is_empty() {
                continue;
            }
            for value in [&mut change.desired, &mut change.live]
                .into_iter()
                .flatten()
            {
                for rest in &inside {
                    if let Some(inner) = value.pointer_mut(rest) {
                        *inner = masked(inner, MASK);
                    }
                }
                mask_strings(value, &places.values);
            }
        }
    }
}

/// Is `path` the JSON Pointer `place` or one under it?
fn is_at_or_under(path: &str, place: &str) -> bool {
    path.strip_prefix(place)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn mask_strings(value: &mut Value, secrets: &BTreeSet<String>) {
    match value {
        Value::String(s) if secrets.contains(s.as_str()) => *s = MASK.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_strings(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_strings(v, secrets)),
        _ => {}
    }
}

/// Masks rendered objects for printing (`drift-check render`): every value
/// of a Secret's data, and the places values read from Secrets were
/// substituted.
pub fn printed(objects: &mut [Object], substituted: &Substituted) {
    for object in objects {
        secret_object(object);
        substituted.object(object);
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
            readable_path: None,
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
    fn masks_the_places_a_secret_value_was_substituted_and_nothing_else() {
        let rendered = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "apps"},
            "data": {"pw": "ab", "other": "ab", "url": "https://h/ab"}, "list": ["x", "ab"]});
        let mut substituted = Substituted::default();
        substituted.record(&rendered, &["/data/pw".into(), "/list/1".into()]);
        let mut printed = rendered.clone();
        substituted.object(&mut printed);
        assert_eq!(
            printed["data"],
            json!({"pw": "***", "other": "ab", "url": "https://h/ab"})
        );
        assert_eq!(printed["list"], json!(["x", "***"]));

        let mut changes = vec![
            change(
                "/data/pw",
                Op::Replace,
                Some(json!("ab")),
                Some(json!("cd")),
            ),
            change(
                "/data",
                Op::Replace,
                Some(json!({"pw": "ab", "other": "x"})),
                Some(json!({"pw": "cd", "other": "y"})),
            ),
            change(
                "/list",
                Op::Replace,
                Some(json!(["x", "ab"])),
                Some(json!(["ab", "x", "z"])),
            ),
            change("/metadata/labels/a", Op::Add, None, Some(json!("abc"))),
            change(
                "/data/other",
                Op::Replace,
                Some(json!("ab")),
                Some(json!("x")),
            ),
        ];
        // A readable path names list items by a value, which could be a substituted one.
        changes[2].readable_path = Some("list[ab]".into());
        let object = ObjectRef::of(&rendered).unwrap();
        substituted.changes(&object, &mut changes);
        assert!(changes.iter().all(|c| c.readable_path.is_none()));
        assert_eq!(
            (&changes[0].desired, &changes[0].live),
            (&Some(json!("*** (before)")), &Some(json!("*** (after)")))
        );
        assert_eq!(changes[1].desired, Some(json!({"pw": "***", "other": "x"})));
        assert_eq!(changes[1].live, Some(json!({"pw": "***", "other": "y"})));
        assert_eq!(changes[2].desired, Some(json!(["x", "***"])));
        assert_eq!(changes[2].live, Some(json!(["***", "***", "z"])));
        assert_eq!(changes[3].live, Some(json!("abc")), "not a place");
        assert_eq!(
            changes[4].desired,
            Some(json!("ab")),
            "the same bytes elsewhere"
        );

        let mut elsewhere = vec![change("/data/pw", Op::Replace, Some(json!("ab")), None)];
        let other = ObjectRef {
            name: "other".into(),
            ..object
        };
        substituted.changes(&other, &mut elsewhere);
        assert_eq!(elsewhere[0].desired, Some(json!("ab")), "another object");
    }
}
