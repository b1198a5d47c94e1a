//! Strategic merge patch, as kustomize (kyaml `merge2`) applies it.
//!
//! Input: an object and a patch document. Output: the merged object, or
//! `None` when the patch says `$patch: delete` at its root.
//!
//! Maps merge key by key and `null` deletes a key. Lists of built-in types
//! merge by their merge keys (containers, initContainers, env, volumes,
//! imagePullSecrets by `name`; volumeMounts by `mountPath`; container ports
//! by `containerPort`+`protocol`; Service ports by `port`+`protocol`; ...)
//! or as sets (`finalizers`); every other list — including all lists of
//! custom resources — is replaced whole. Directives: `$patch: replace |
//! delete | merge` on maps and list elements, `$deleteFromPrimitiveList/…`;
//! `$setElementOrder/…` and `$retainKeys` are accepted and dropped.

use serde_json::{Map, Value};

use super::resource;

/// How a list merges.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ListStrategy {
    Replace,
    /// Merge elements whose values of these keys are equal.
    Keys(&'static [&'static str]),
    /// A set of scalars.
    Set,
}

/// Where a pod spec sits in a built-in workload kind.
fn pod_spec_path(object: &Value) -> Option<&'static [&'static str]> {
    match (resource::group(object), resource::kind(object)) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// The merge strategy of the list at `path` (field names from the root).
fn list_strategy(object: &Value, path: &[String]) -> ListStrategy {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    // Object metadata, and the metadata of a pod template.
    let meta_field = |p: &[&str]| -> Option<String> {
        let (last, parent) = p.split_last()?;
        (parent.last() == Some(&"metadata")).then(|| last.to_string())
    };
    if let Some(field) = meta_field(&p) {
        let parent = &p[..p.len() - 1];
        let is_meta = parent == ["metadata"]
            || pod_spec_path(object).is_some_and(|spec| {
                parent.len() == spec.len() && parent[..spec.len() - 1] == spec[..spec.len() - 1]
            });
        if is_meta {
            return match field.as_str() {
                "finalizers" => ListStrategy::Set,
                "ownerReferences" => ListStrategy::Keys(&["uid"]),
                _ => ListStrategy::Replace,
            };
        }
    }
    if resource::group(object).is_empty()
        && resource::kind(object) == "Service"
        && p == ["spec", "ports"]
    {
        return ListStrategy::Keys(&["port", "protocol"]);
    }
    let Some(spec) = pod_spec_path(object) else {
        return ListStrategy::Replace;
    };
    let Some(rest) = p.strip_prefix(spec) else {
        return ListStrategy::Replace;
    };
    match rest {
        ["containers" | "initContainers" | "ephemeralContainers"]
        | ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListStrategy::Keys(&["name"])
        }
        ["hostAliases"] => ListStrategy::Keys(&["ip"]),
        ["topologySpreadConstraints"] => ListStrategy::Keys(&["topologyKey", "whenUnsatisfiable"]),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            field,
        ] => match *field {
            "env" => ListStrategy::Keys(&["name"]),
            "volumeMounts" => ListStrategy::Keys(&["mountPath"]),
            "volumeDevices" => ListStrategy::Keys(&["devicePath"]),
            "ports" => ListStrategy::Keys(&["containerPort", "protocol"]),
            _ => ListStrategy::Replace,
        },
        _ => ListStrategy::Replace,
    }
}

/// Which identity fields of the patch apply (kustomize's `allowNameChange`
/// and `allowKindChange` patch options).
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep {
    pub name: bool,
    pub kind: bool,
}

/// Applies a strategic merge patch to `object`; `Ok(None)` when the patch
/// deletes the object. `object` keeps its apiVersion, kind, name and
/// namespace (kustomize points the patch at its target first) unless `keep`
/// lets the patch change them.
pub fn apply(object: &Value, patch: &Value, keep: Keep) -> Result<Option<Value>, String> {
    let Value::Object(patch_map) = patch else {
        return Err("a strategic merge patch must be a map".into());
    };
    if directive(patch_map) == Some("delete") {
        return Ok(None);
    }
    let mut patch_map = patch_map.clone();
    if !keep.kind {
        patch_map.remove("apiVersion");
        patch_map.remove("kind");
    }
    if let Some(Value::Object(meta)) = patch_map.get_mut("metadata") {
        if !keep.name {
            meta.remove("name");
        }
        meta.remove("namespace");
    }
    let mut merged = object.clone();
    let Value::Object(dest) = &mut merged else {
        return Err("the target is not a map".into());
    };
    if directive(&patch_map) == Some("replace") {
        let mut replaced = clean_map(&patch_map);
        for key in ["apiVersion", "kind"] {
            if let Some(v) = dest.get(key) {
                replaced.insert(key.into(), v.clone());
            }
        }
        return Ok(Some(Value::Object(replaced)));
    }
    let mut path = Vec::new();
    merge_map(object, dest, &patch_map, &mut path)?;
    // kyaml walks every field of the target while merging, and rebuilds
    // each keyed list as it goes: duplicates by merge key collapse into one
    // (checked against kustomize 5.5).
    let identity = serde_json::json!({
        "apiVersion": resource::api_version(object),
        "kind": resource::kind(object),
    });
    dedupe_lists(&identity, &mut merged, &mut path);
    Ok(Some(merged))
}

/// Removes later duplicates from every keyed or set list below `value`.
fn dedupe_lists(identity: &Value, value: &mut Value, path: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                path.push(key.clone());
                dedupe_lists(identity, child, path);
                path.pop();
            }
        }
        Value::Array(items) => {
            match list_strategy(identity, path) {
                ListStrategy::Keys(keys) => {
                    // The first one's place; the last one's content, unless
                    // it is keyed by several present keys (kyaml skips
                    // those when it writes the target's elements back).
                    let mut kept: Vec<Value> = Vec::with_capacity(items.len());
                    for item in items.drain(..) {
                        match kept.iter_mut().find(|k| same_element(k, &item, keys)) {
                            Some(existing) => {
                                let present = keys.iter().filter(|k| item.get(**k).is_some());
                                if present.count() <= 1 {
                                    *existing = item;
                                }
                            }
                            None => kept.push(item),
                        }
                    }
                    *items = kept;
                }
                ListStrategy::Set => {
                    let mut kept: Vec<Value> = Vec::with_capacity(items.len());
                    for item in items.drain(..) {
                        if !kept.contains(&item) {
                            kept.push(item);
                        }
                    }
                    *items = kept;
                }
                ListStrategy::Replace => {}
            }
            for item in items.iter_mut() {
                dedupe_lists(identity, item, path);
            }
        }
        _ => {}
    }
}

fn directive(map: &Map<String, Value>) -> Option<&str> {
    map.get("$patch").and_then(Value::as_str)
}

/// Merges `patch` into `dest` (the map at `path`).
fn merge_map(
    root: &Value,
    dest: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<(), String> {
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(remove)) = (dest.get_mut(field), value)
            {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            dest.remove(key);
            continue;
        }
        path.push(key.clone());
        let result = merge_field(root, dest, key, value, path);
        path.pop();
        result?;
    }
    Ok(())
}

fn merge_field(
    root: &Value,
    dest: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    path: &mut Vec<String>,
) -> Result<(), String> {
    match (dest.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(patch)) => match directive(patch) {
            Some("delete") => {
                dest.remove(key);
            }
            Some("replace") => {
                dest.insert(key.to_string(), Value::Object(clean_map(patch)));
            }
            _ => merge_map(root, existing, patch, path)?,
        },
        (Some(Value::Array(existing)), Value::Array(patch)) => {
            let strategy = list_strategy(root, path);
            let merged = merge_list(root, std::mem::take(existing), patch, strategy, path)?;
            dest.insert(key.to_string(), Value::Array(merged));
        }
        (_, Value::Object(patch)) if directive(patch) == Some("delete") => {
            dest.remove(key);
        }
        (_, value) => {
            if let Some(cleaned) = clean(value) {
                dest.insert(key.to_string(), cleaned);
            }
        }
    }
    Ok(())
}

fn merge_list(
    root: &Value,
    dest: Vec<Value>,
    patch: &[Value],
    strategy: ListStrategy,
    path: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    let is_replace_directive = |v: &Value| {
        v.as_object()
            .is_some_and(|m| directive(m) == Some("replace"))
    };
    if patch.iter().any(is_replace_directive) {
        return Ok(patch
            .iter()
            .filter(|v| !is_replace_directive(v))
            .filter_map(clean)
            .collect());
    }
    match strategy {
        ListStrategy::Replace => Ok(patch.iter().filter_map(clean).collect()),
        ListStrategy::Set => {
            // The patch's items first, then the target's others.
            let mut merged: Vec<Value> = Vec::new();
            for item in patch.iter().chain(&dest) {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            Ok(merged)
        }
        ListStrategy::Keys(keys) => {
            if !patch.iter().all(Value::is_object) {
                return Ok(patch.iter().filter_map(clean).collect());
            }
            if keys.len() == 1 {
                merge_by_key(root, dest, patch, keys, path)
            } else {
                merge_by_keys(root, dest, patch, keys, path)
            }
        }
    }
}

/// A list merged by one key (kyaml, as kustomize v5 runs it): the patch's
/// elements first, in its order, merged with their match; then the
/// target's elements the patch does not name, in their order.
fn merge_by_key(
    root: &Value,
    mut dest: Vec<Value>,
    patch: &[Value],
    keys: &[&str],
    path: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    let mut front = Vec::new();
    for item in patch {
        let Value::Object(item_map) = item else {
            continue;
        };
        let position = dest.iter().position(|d| same_element(d, item, keys));
        let matched = position.map(|i| dest.remove(i));
        match (directive(item_map), matched) {
            (Some("delete"), _) => {}
            (_, Some(mut existing)) => {
                if let Value::Object(existing_map) = &mut existing {
                    merge_map(root, existing_map, item_map, path)?;
                }
                front.push(existing);
            }
            (_, None) => front.push(Value::Object(clean_map(item_map))),
        }
    }
    front.extend(dest);
    Ok(front)
}

/// A list merged by several keys (ports by number and protocol), as
/// kustomize v5 (kyaml) does it, checked against kustomize 5.5: elements
/// match when every key is equal (an absent key only matches an absent
/// key) and merge in place; a patch element whose first key is taken by a
/// target element with other keys is dropped; new elements that carry every
/// key go first; other new elements keep their place relative to the
/// matched elements around them in the patch (first, with none).
fn merge_by_keys(
    root: &Value,
    dest: Vec<Value>,
    patch: &[Value],
    keys: &[&str],
    path: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    /// What became of one patch element.
    enum Fate {
        /// Merged into the target element with this index.
        Anchor(usize),
        /// A new element without every key.
        Loose(Value),
        Gone,
    }
    let mut complete_new = Vec::new();
    let mut slots: Vec<Option<Value>> = dest.into_iter().map(Some).collect();
    let mut fates = Vec::new();
    for item in patch {
        let Value::Object(item_map) = item else {
            continue;
        };
        let position = slots
            .iter()
            .position(|d| d.as_ref().is_some_and(|d| same_element(d, item, keys)));
        let fate = match (directive(item_map), position) {
            (Some("delete"), Some(i)) => {
                slots[i] = None;
                Fate::Gone
            }
            (Some("delete"), None) => Fate::Gone,
            (_, Some(i)) => {
                if let Some(Value::Object(existing)) = &mut slots[i] {
                    merge_map(root, existing, item_map, path)?;
                }
                Fate::Anchor(i)
            }
            (_, None) => {
                let primary_taken = slots
                    .iter()
                    .flatten()
                    .any(|d| d.get(keys[0]).is_some() && d.get(keys[0]) == item.get(keys[0]));
                let cleaned = Value::Object(clean_map(item_map));
                if primary_taken {
                    Fate::Gone
                } else if keys.iter().all(|k| item.get(k).is_some()) {
                    complete_new.push(cleaned);
                    Fate::Gone
                } else {
                    Fate::Loose(cleaned)
                }
            }
        };
        fates.push(fate);
    }
    // Loose elements go before the next anchor in the patch, else after the
    // previous one, else first.
    let mut before: Vec<Vec<Value>> = vec![Vec::new(); slots.len()];
    let mut after: Vec<Vec<Value>> = vec![Vec::new(); slots.len()];
    let mut first = Vec::new();
    for (i, fate) in fates.iter().enumerate() {
        let Fate::Loose(value) = fate else {
            continue;
        };
        let anchor = |f: &Fate| match f {
            Fate::Anchor(a) => Some(*a),
            _ => None,
        };
        if let Some(next) = fates[i + 1..].iter().find_map(anchor) {
            before[next].push(value.clone());
        } else if let Some(previous) = fates[..i].iter().rev().find_map(anchor) {
            after[previous].push(value.clone());
        } else {
            first.push(value.clone());
        }
    }
    let mut out = complete_new;
    out.extend(first);
    for (i, slot) in slots.into_iter().enumerate() {
        out.append(&mut before[i]);
        out.extend(slot);
        out.append(&mut after[i]);
    }
    Ok(out)
}

/// Do two list elements have the same values for the merge keys (absent
/// counting as a value of its own)?
fn same_element(a: &Value, b: &Value, keys: &[&str]) -> bool {
    a.get(keys[0]).is_some() && keys.iter().all(|k| a.get(k) == b.get(k))
}

/// A patch value as it lands where the target has nothing: directives and
/// nulls removed; `None` when nothing is left of a map that had only those.
fn clean(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            if directive(map) == Some("delete") {
                return None;
            }
            let cleaned = clean_map(map);
            // A map of nothing but nulls and directives adds nothing.
            (map.is_empty() || !cleaned.is_empty()).then_some(Value::Object(cleaned))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter(|v| {
                    !v.as_object()
                        .is_some_and(|m| matches!(directive(m), Some("delete" | "replace")))
                })
                .filter_map(clean)
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn clean_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .filter_map(|(k, v)| Some((k.clone(), clean(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "old": "x"}, "finalizers": ["a"]},
            "spec": {
                "replicas": 1,
                "template": {"spec": {
                    "containers": [
                        {"name": "web", "image": "nginx", "args": ["--a"],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                        {"name": "sidecar", "image": "envoy"}
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                    "tolerations": [{"key": "a"}]
                }}
            }
        })
    }

    #[test]
    fn merges_built_in_lists_by_key_and_replaces_others() {
        let patch = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ignored", "labels": {"old": null, "new": "y"}, "finalizers": ["b", "a"]},
            "spec": {"replicas": 3, "template": {"spec": {
                "containers": [
                    {"name": "web", "image": "nginx:1.25", "args": ["--b"],
                     "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                     "volumeMounts": [{"mountPath": "/data", "readOnly": true}]},
                    {"name": "sidecar", "$patch": "delete"},
                    {"name": "new", "image": "busybox"}
                ],
                "volumes": [{"name": "tmp", "$patch": "delete"}],
                "tolerations": [{"key": "b"}]
            }}}
        });
        let merged = apply(&deployment(), &patch, Keep::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            merged,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web", "new": "y"}, "finalizers": ["b", "a"]},
                "spec": {
                    "replicas": 3,
                    "template": {"spec": {
                        "containers": [
                            {"name": "web", "image": "nginx:1.25", "args": ["--b"],
                             "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                             "ports": [{"containerPort": 80}],
                             "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}]},
                            {"name": "new", "image": "busybox"}
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                        "tolerations": [{"key": "b"}]
                    }}
                }
            })
        );
    }

    #[test]
    fn honours_replace_and_delete_directives_and_replaces_custom_resource_lists() {
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}],
            "volumes": null
        }}}});
        let merged = apply(&deployment(), &patch, Keep::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            merged["spec"]["template"]["spec"],
            json!({"containers": [{"name": "only", "image": "x"}], "tolerations": [{"key": "a"}]})
        );
        let patch = json!({"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"a": "b"}}}}});
        let merged = apply(&deployment(), &patch, Keep::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            merged["spec"]["template"],
            json!({"metadata": {"labels": {"a": "b"}}})
        );
        assert_eq!(
            apply(&deployment(), &json!({"$patch": "delete"}), Keep::default()).unwrap(),
            None
        );

        let custom = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                            "spec": {"items": [{"name": "a", "v": 1}, {"name": "b"}]}});
        let merged = apply(
            &custom,
            &json!({"spec": {"items": [{"name": "a", "v": 2}]}}),
            Keep::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(merged["spec"]["items"], json!([{"name": "a", "v": 2}]));
    }

    #[test]
    fn service_ports_merge_by_port_and_protocol_like_kustomize_v5() {
        // A patch port whose number is taken with another protocol is
        // dropped (checked against kustomize v5.5).
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 53, "protocol": "TCP"}, {"port": 443}]}});
        let merged = apply(&svc, &patch, Keep::default()).unwrap().unwrap();
        assert_eq!(
            merged["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}, {"port": 53, "protocol": "UDP"}])
        );
    }
}
