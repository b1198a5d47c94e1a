//! managedFields: who set which field, and when.
//!
//! Each entry of `metadata.managedFields` holds a FieldsV1 set: a tree whose
//! keys are `f:<field>` for struct/map fields, `k:<json>` for list items
//! identified by their merge keys, `v:<json>` for set items, `i:<index>` for
//! items of atomic-by-position lists, and `.` for "the item itself". A leaf is an
//! empty object. (sigs.k8s.io/structured-merge-diff `fieldpath` serialization.)
//!
//! A path is owned by a manager when walking its set along the path reaches
//! the end (it owns the field, or fields under it), or reaches a leaf first (it
//! owns an atomic ancestor).

use serde_json::{Map, Value};

/// One `metadata.managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// RFC 3339, as the API server wrote it.
    pub time: Option<String>,
    /// `status`, `scale`, ... for writes through a subresource.
    pub subresource: Option<String>,
    fields: Value,
}

impl ManagedEntry {
    /// Does this entry own `path` (JSON Pointer tokens) of the `live` object?
    pub fn owns(&self, live: &Value, path: &[String]) -> bool {
        owns(&self.fields, live, path, false)
    }

    /// Does this entry own `path` itself (or fields under it), rather than
    /// through an ancestor its set ends at? (`f:data: {}` is the `data` map's
    /// presence, not each key a later writer set in it.)
    pub fn owns_exactly(&self, live: &Value, path: &[String]) -> bool {
        owns(&self.fields, live, path, true)
    }

    /// The fields this entry set that `live` still has, as JSON Pointer
    /// tokens into `live`: each leaf of its field set, and a list item it
    /// made (`.`: an env var `kubectl set env` added) as one field.
    pub fn leaves(&self, live: &Value) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        leaves_of(&self.fields, live, &mut Vec::new(), &mut out);
        out
    }
}

/// Reads `metadata.managedFields`; entries without a FieldsV1 set are skipped.
pub fn entries(object: &Value) -> Vec<ManagedEntry> {
    let Some(list) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
            Some(ManagedEntry {
                manager: text("manager").unwrap_or_default(),
                operation: text("operation").unwrap_or_default(),
                time: text("time"),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                fields: entry.get("fieldsV1")?.clone(),
            })
        })
        .collect()
}

/// Why an object's `managedFields` cannot be read, when they cannot (a `k:`
/// key that is not JSON, an `i:` key that is not an index, ...): who set its
/// fields is then unknown. The problem is described without quoting values.
pub fn malformed(object: &Value) -> Option<String> {
    let list = object.pointer("/metadata/managedFields")?;
    let Some(list) = list.as_array() else {
        return Some("metadata.managedFields is not a list".into());
    };
    list.iter().enumerate().find_map(|(i, entry)| {
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("?");
        let problem = match entry.get("fieldsV1") {
            None => return None,
            Some(fields) => malformed_set(fields, 0)?,
        };
        Some(format!(
            "metadata.managedFields[{i}] (manager {}): {problem}",
            manager.escape_debug()
        ))
    })
}

fn malformed_set(set: &Value, depth: usize) -> Option<String> {
    let Some(map) = set.as_object() else {
        return Some("a field set that is not a map".into());
    };
    if depth > 64 {
        return Some("field sets nested deeper than 64 levels".into());
    }
    map.iter().find_map(|(key, child)| {
        let well_formed = key == "."
            || key.starts_with("f:")
            || key
                .strip_prefix("k:")
                .is_some_and(|json| serde_json::from_str::<Map<String, Value>>(json).is_ok())
            || key
                .strip_prefix("v:")
                .is_some_and(|json| serde_json::from_str::<Value>(json).is_ok())
            || key
                .strip_prefix("i:")
                .is_some_and(|i| i.parse::<usize>().is_ok());
        if well_formed {
            malformed_set(child, depth + 1)
        } else {
            let shown: String = key.chars().take(2).collect();
            Some(format!(
                "a key starting {shown:?} that is not a field, merge key, value or index"
            ))
        }
    })
}

/// The entries owning `path` of `live`, latest first (entries without a time last).
pub fn owners<'a>(
    entries: &'a [ManagedEntry],
    live: &Value,
    path: &[String],
) -> Vec<&'a ManagedEntry> {
    let mut found: Vec<&ManagedEntry> = entries.iter().filter(|e| e.owns(live, path)).collect();
    // RFC 3339 in UTC (as the API server writes it) sorts as text.
    found.sort_by(|a, b| b.time.cmp(&a.time));
    found
}

/// When the field at `path` (plain field names) was last set, by whichever
/// manager owns it. Used for "suspended since".
pub fn field_set_time(object: &Value, path: &[&str]) -> Option<String> {
    let tokens: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let all = entries(object);
    owners(&all, object, &tokens)
        .first()
        .and_then(|e| e.time.clone())
}

fn owns(set: &Value, live: &Value, path: &[String], exactly: bool) -> bool {
    let mut node = set;
    let mut current = Some(live);
    for token in path {
        let Some(children) = node.as_object() else {
            return false;
        };
        if children.is_empty() {
            // A leaf above the end of the path: an atomic ancestor is owned.
            return !exactly;
        }
        let here = current;
        current = match here {
            Some(Value::Array(items)) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            Some(Value::Object(map)) => map.get(token),
            _ => None,
        };
        let next = match here {
            Some(Value::Array(_)) => {
                let index = token.parse::<usize>().ok();
                list_item(children, current, index)
            }
            _ => children.get(&format!("f:{token}")),
        };
        match next {
            Some(child) => node = child,
            None => return false,
        }
    }
    true
}

/// Finds the child of a list node that stands for `item` (at `index`).
fn list_item<'a>(
    children: &'a Map<String, Value>,
    item: Option<&Value>,
    index: Option<usize>,
) -> Option<&'a Value> {
    children
        .iter()
        .find_map(|(key, child)| matches_item(key, item, index).then_some(child))
}

/// Does the list key (`k:`, `v:` or `i:`) stand for `item` at `index`?
fn matches_item(key: &str, item: Option<&Value>, index: Option<usize>) -> bool {
    if let Some(json) = key.strip_prefix("k:") {
        match (serde_json::from_str::<Map<String, Value>>(json), item) {
            (Ok(keys), Some(Value::Object(fields))) => keys
                .iter()
                .all(|(k, v)| fields.get(k).is_some_and(|f| same_key_value(f, v))),
            _ => false,
        }
    } else if let Some(json) = key.strip_prefix("v:") {
        matches!((serde_json::from_str::<Value>(json), item), (Ok(v), Some(i)) if &v == i)
    } else if let Some(i) = key.strip_prefix("i:") {
        i.parse::<usize>().ok() == index
    } else {
        false
    }
}

/// Collects the leaves of `set` that exist in `live` (see [`ManagedEntry::leaves`]).
fn leaves_of(set: &Value, live: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(children) = set.as_object() else {
        return;
    };
    if children.keys().all(|k| k == ".") {
        out.push(path.clone());
        return;
    }
    for (key, child) in children.iter().filter(|(k, _)| *k != ".") {
        if let Some(field) = key.strip_prefix("f:") {
            if let Some(value) = live.as_object().and_then(|m| m.get(field)) {
                path.push(field.to_string());
                leaves_of(child, value, path, out);
                path.pop();
            }
            continue;
        }
        let Value::Array(items) = live else { continue };
        let Some(i) = (0..items.len()).find(|i| matches_item(key, items.get(*i), Some(*i))) else {
            continue;
        };
        path.push(i.to_string());
        if child.get(".").is_some() {
            // The entry made the item: the item is one field.
            out.push(path.clone());
        } else {
            leaves_of(child, &items[i], path, out);
        }
        path.pop();
    }
}

/// Merge-key values compare as JSON, except that numbers compare by value
/// (`8080` in a key matches `8080.0` read from YAML).
fn same_key_value(field: &Value, key: &Value) -> bool {
    match (field.as_f64(), key.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => field == key,
    }
}

#[cfg(test)]
mod malformed_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_merge_key_is_malformed_and_named_by_entry_and_manager() {
        let object = json!({"metadata": {"managedFields": [
            {"manager": "kustomize-controller", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-edit", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":": {}}}}}}}
        ]}});
        assert_eq!(
            malformed(&object).as_deref(),
            Some(
                "metadata.managedFields[1] (manager kubectl-edit): a key starting \"k:\" that is not a field, merge key, value or index"
            )
        );
        let fine = json!({"metadata": {"managedFields": [
            {"manager": "m", "fieldsV1": {"f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}, "f:port": {}}}, "f:finalizers": {"v:\"a\"": {}}, "f:args": {"i:0": {}}}}}
        ]}});
        assert_eq!(malformed(&fine), None);
        assert_eq!(malformed(&json!({"metadata": {}})), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(path: &str) -> Vec<String> {
        path.split('/').skip(1).map(str::to_string).collect()
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "docs-portal", "managedFields": [
                {"manager": "kustomize-controller", "operation": "Apply", "time": "2026-11-01T10:00:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {},
                        "f:env": {"k:{\"name\":\"MODE\"}": {".": {}, "f:name": {}, "f:value": {}}},
                        "f:args": {}}}}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-20T08:15:00Z",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-21T09:00:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"web\"}": {"f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}
            ]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "web", "image": "docs:1", "args": ["a", "b"],
                 "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}]}]}}}
        })
    }

    #[test]
    fn attributes_a_scalar_to_its_updater() {
        let live = deployment();
        let all = entries(&live);
        let owners = owners(&all, &live, &tokens("/spec/replicas"));
        assert_eq!(
            owners
                .iter()
                .map(|e| e.manager.as_str())
                .collect::<Vec<_>>(),
            ["kubectl-edit"]
        );
        assert_eq!(owners[0].time.as_deref(), Some("2026-11-20T08:15:00Z"));
    }

    #[test]
    fn attributes_list_items_by_merge_key() {
        let live = deployment();
        let all = entries(&live);
        let managers = |p: &str| {
            owners(&all, &live, &tokens(p))
                .iter()
                .map(|e| e.manager.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            managers("/spec/template/spec/containers/0/env/1"),
            ["kubectl-set"]
        );
        assert_eq!(
            managers("/spec/template/spec/containers/0/env/0/value"),
            ["kustomize-controller"]
        );
        // `containers/0` is touched by both: latest first.
        assert_eq!(
            managers("/spec/template/spec/containers/0"),
            ["kubectl-set", "kustomize-controller"]
        );
    }

    #[test]
    fn an_atomic_ancestor_owns_what_is_below_it() {
        let live = deployment();
        let all = entries(&live);
        let owners = owners(
            &all,
            &live,
            &tokens("/spec/template/spec/containers/0/args/1"),
        );
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].manager, "kustomize-controller");
    }

    #[test]
    fn unowned_fields_have_no_owner() {
        let live = deployment();
        let all = entries(&live);
        assert!(owners(&all, &live, &tokens("/spec/strategy")).is_empty());
    }

    #[test]
    fn set_items_match_by_value() {
        let live = json!({"metadata": {"finalizers": ["a", "b"], "managedFields": [
            {"manager": "m", "operation": "Update", "fieldsV1": {"f:metadata": {"f:finalizers": {".": {}, "v:\"b\"": {}}}}}]}});
        let all = entries(&live);
        assert_eq!(
            owners(&all, &live, &tokens("/metadata/finalizers/1")).len(),
            1
        );
        assert!(owners(&all, &live, &tokens("/metadata/finalizers/0")).is_empty());
    }

    #[test]
    fn lists_the_fields_an_entry_set_with_items_it_made_whole() {
        let live = deployment();
        let all = entries(&live);
        let leaves = |manager: &str| {
            all.iter()
                .find(|e| e.manager == manager)
                .unwrap()
                .leaves(&live)
                .iter()
                .map(|p| format!("/{}", p.join("/")))
                .collect::<Vec<_>>()
        };
        assert_eq!(leaves("kubectl-edit"), ["/spec/replicas"]);
        assert_eq!(
            leaves("kubectl-set"),
            ["/spec/template/spec/containers/0/env/1"]
        );
        assert_eq!(
            leaves("kustomize-controller"),
            ["/spec/template/spec/containers/0"]
        );
        let labelled = json!({"metadata": {"labels": {"team": "x"}, "managedFields": [
            {"manager": "kubectl-label", "operation": "Update",
             "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:team": {}, "f:gone": {}}}}}]}});
        assert_eq!(
            entries(&labelled)[0].leaves(&labelled),
            [vec!["metadata".to_string(), "labels".into(), "team".into()]]
        );
    }

    #[test]
    fn reads_when_a_field_was_last_set() {
        let ks = json!({"metadata": {"managedFields": [
            {"manager": "flux", "operation": "Update", "time": "2026-11-22T17:40:00Z",
             "fieldsV1": {"f:spec": {"f:suspend": {}}}}]}, "spec": {"suspend": true}});
        assert_eq!(
            field_set_time(&ks, &["spec", "suspend"]).as_deref(),
            Some("2026-11-22T17:40:00Z")
        );
    }
}
