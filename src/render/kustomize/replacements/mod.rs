//! `replacements` and `sortOptions`.
//!
//! Input: resources and `replacements` entries (inline, or a file by
//! `path`). Output: each target field set to the source field's value
//! (kustomize `api/filters/replacement`, as of v5.8.1): the source is the one
//! resource its selector picks, by exact names (`fieldPath` defaults to
//! `metadata.name`), or a literal `sourceValue`; targets are every resource
//! `select` picks and no `reject` picks, by anchored regular expressions; field
//! paths are dotted, with `[key=value]` list selectors, numeric indexes and
//! `*`; `options.delimiter`/`index` pick or replace one part of a string,
//! `options.create` creates missing fields. A scalar target keeps its type.
//!
//! `sortOptions` reorders the final output (`legacy` with its kind order, or
//! `fifo`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::resource::{self, Resource};
use super::scope::is_cluster_scoped;
use super::selector::{Selector, TargetMatcher};

/// One replacement.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Replacement {
    pub path: Option<String>,
    pub source: Option<Source>,
    /// A literal value instead of a `source` (kustomize v5.7.0,
    /// kubernetes-sigs/kustomize#5630).
    pub source_value: Option<String>,
    pub targets: Vec<Target>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Source {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub field_path: Option<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Target {
    pub select: Option<Selector>,
    pub reject: Vec<Selector>,
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FieldOptions {
    pub delimiter: Option<String>,
    pub index: i64,
    pub create: bool,
}

/// Applies one replacement (already loaded from its `path`, if any).
pub fn apply(resources: &mut [Resource], replacement: &Replacement) -> Result<(), String> {
    let value = match (&replacement.source, &replacement.source_value) {
        (Some(_), Some(_)) => {
            return Err("a replacement has either a source or a sourceValue, not both".into());
        }
        (None, None) => return Err("a replacement needs a source or a sourceValue".into()),
        (None, Some(value)) => plain_scalar(value),
        (Some(source), None) => source_value(resources, source)?,
    };
    for target in &replacement.targets {
        let select = target
            .select
            .as_ref()
            .ok_or("a replacement target needs select")?;
        let compiled = TargetMatcher::new(select)?;
        let rejects = target
            .reject
            .iter()
            // kustomize skips an empty `reject` entry rather than rejecting all.
            .filter(|j| !is_empty(j))
            .map(|j| Ok((j, TargetMatcher::new(j)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let options = target.options.clone().unwrap_or_default();
        for r in resources.iter_mut() {
            if !target_selects(select, &compiled, r)? {
                continue;
            }
            let mut rejected = false;
            for (reject, compiled) in &rejects {
                rejected = rejected || target_selects(reject, compiled, r)?;
            }
            if rejected {
                continue;
            }
            for path in &target.field_paths {
                let segments = split_path(path)?;
                let subject = resource::subject(&r.object);
                let context = |e: String| format!("{subject}: {path}: {e}");
                if set_in_structured_data(&mut r.object, &segments, &value, &options)
                    .map_err(context)?
                {
                    continue;
                }
                set(&mut r.object, &segments, &value, &options).map_err(context)?;
            }
            // kustomize keeps labels and annotations strings.
            for map in ["/metadata/labels", "/metadata/annotations"] {
                if let Some(Value::Object(map)) = r.object.pointer_mut(map) {
                    for v in map.values_mut() {
                        if let Value::Number(_) | Value::Bool(_) = v {
                            *v = Value::String(scalar_text(v)?);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The value a `source` selects. kustomize matches the source selector's
/// names exactly (`ResId.IsSelectedBy`), unlike target selectors.
fn source_value(resources: &[Resource], source: &Source) -> Result<Value, String> {
    let exact = |s: &Option<String>| s.as_deref().map(regex::escape);
    let selector = TargetMatcher::new(&Selector {
        group: exact(&source.group),
        version: exact(&source.version),
        kind: exact(&source.kind),
        name: exact(&source.name),
        namespace: exact(&source.namespace),
        ..Selector::default()
    })?;
    let matching: Vec<&Resource> = resources.iter().filter(|r| selector.selects(r)).collect();
    let source_resource = match matching.as_slice() {
        [one] => *one,
        [] => return Err("no resource matches the replacement source".into()),
        _ => return Err("more than one resource matches the replacement source".into()),
    };
    let field_path = source.field_path.as_deref().unwrap_or("metadata.name");
    let mut found = Vec::new();
    get(
        &source_resource.object,
        &split_path(field_path)?,
        &mut found,
    );
    let mut value = match found.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(format!(
                "source {} has no field {field_path}",
                source_resource.subject()
            ));
        }
        _ => {
            return Err(format!(
                "source field path {field_path} matches more than one field"
            ));
        }
    };
    if let Some(options) = &source.options
        && let Some(delimiter) = options.delimiter.as_deref().filter(|d| !d.is_empty())
    {
        let text = scalar_text(&value)?;
        let parts: Vec<&str> = text.split(delimiter).collect();
        let part = usize::try_from(options.index)
            .ok()
            .and_then(|i| parts.get(i))
            .ok_or("options.index is out of range of the source value")?;
        value = Value::String(part.to_string());
    }
    Ok(value)
}

/// kustomize v5.8.0 (kubernetes-sigs/kustomize#5679): a target path that
/// runs into a string holding JSON or YAML goes on inside it
/// (`data.config\.json.server.host`), and the string is written again. The
/// first string on the path decides; when the rest of the path is not in it,
/// the path is handled as usual (`false`). JSON is written as Go's
/// `encoding/json` does (keys sorted, `<>&` escaped; indented by two spaces
/// when the original was); YAML would be written by kyaml's emitter, whose
/// style the native engine does not reproduce, so that case is an error.
fn set_in_structured_data(
    object: &mut Value,
    path: &[Segment],
    new: &Value,
    options: &FieldOptions,
) -> Result<bool, String> {
    for i in 1..path.len() {
        let mut found = Vec::new();
        get(object, &path[..i], &mut found);
        let text = match found.as_slice() {
            [Value::String(text)] => text.clone(),
            [Value::Object(_) | Value::Array(_)] => continue,
            _ => return Ok(false),
        };
        let Ok(mut data) = crate::yaml::document::<Value>(&text, std::path::Path::new("field"))
        else {
            return Ok(false);
        };
        if !(data.is_object() || data.is_array()) {
            return Ok(false);
        }
        let rest = &path[i..];
        if !options.create {
            let mut inside = Vec::new();
            get_pattern(&data, rest, &mut inside);
            if inside.is_empty() {
                return Ok(false);
            }
        }
        set(&mut data, rest, new, options)?;
        let first = text.trim_start().chars().next();
        if !matches!(first, Some('{' | '[')) {
            return Err(
                "a replacement into YAML held in a string (kustomize v5.8) is not supported by \
                 the native engine; use the kustomize binary (--kustomize-bin)"
                    .into(),
            );
        }
        let data = sorted_keys(data);
        let json = if text.contains('\n') && text.contains("  ") {
            serde_json::to_string_pretty(&data)
        } else {
            serde_json::to_string(&data)
        }
        .map_err(|e| e.to_string())?;
        let json = json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let mut targets = Vec::new();
        get_mut(object, &path[..i], &mut targets);
        for target in targets {
            *target = Value::String(json.clone());
        }
        return Ok(true);
    }
    Ok(false)
}

/// [`get`] with target-path list matching (`[key=pattern]`).
fn get_pattern<'a>(value: &'a Value, path: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(value);
        return;
    };
    match (first, value) {
        (Segment::Match(k, v), Value::Array(items)) => {
            for item in items.iter().filter(|i| element_matches_pattern(i, k, v)) {
                get_pattern(item, rest, out);
            }
        }
        (Segment::Field(f), Value::Object(map)) => {
            if let Some(child) = map.get(f) {
                get_pattern(child, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get(*i) {
                get_pattern(item, rest, out);
            }
        }
        (Segment::All, Value::Array(items)) => {
            items.iter().for_each(|item| get_pattern(item, rest, out));
        }
        _ => {}
    }
}

fn get_mut<'a>(value: &'a mut Value, path: &[Segment], out: &mut Vec<&'a mut Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(value);
        return;
    };
    match (first, value) {
        (Segment::Field(f), Value::Object(map)) => {
            if let Some(child) = map.get_mut(f) {
                get_mut(child, rest, out);
            }
        }
        (Segment::Match(k, v), Value::Array(items)) => {
            for item in items.iter_mut().filter(|i| element_matches(i, k, v)) {
                get_mut(item, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get_mut(*i) {
                get_mut(item, rest, out);
            }
        }
        (Segment::All, Value::Array(items)) => {
            items.iter_mut().for_each(|item| get_mut(item, rest, out));
        }
        _ => {}
    }
}

/// Maps with their keys in order, as Go's `encoding/json` writes a map.
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// Does a target selector (`select` or `reject`) pick `r`? Since kustomize
/// v5.8.0 (kubernetes-sigs/kustomize#5863) its group, version, kind, name and
/// namespace are anchored regular expressions, and the namespace is compared
/// as written: `namespace: default` does not pick an object without one
/// (unless it had none before the namespace transformer gave it one).
fn target_selects(
    selector: &Selector,
    compiled: &TargetMatcher,
    r: &Resource,
) -> Result<bool, String> {
    if !compiled.selects(r) {
        return Ok(false);
    }
    let Some(pattern) = selector.namespace.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(true);
    };
    let re = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))?;
    let current = resource::namespace(&r.object).unwrap_or("");
    // A previous id (before a namespace or name change) holds the effective
    // namespace (kustomize `ResId.EffectiveNamespace`): `default` when there
    // was none.
    let previous = |ns: &Option<String>| match ns.as_deref() {
        Some(ns) => ns.to_string(),
        None if is_cluster_scoped(&r.object) => "_non_namespaceable_".to_string(),
        None => "default".to_string(),
    };
    Ok(re.is_match(current) || r.previous.iter().any(|(ns, _)| re.is_match(&previous(ns))))
}

fn is_empty(selector: &Selector) -> bool {
    [
        &selector.group,
        &selector.version,
        &selector.kind,
        &selector.name,
        &selector.namespace,
        &selector.label_selector,
        &selector.annotation_selector,
    ]
    .iter()
    .all(|f| f.as_deref().is_none_or(str::is_empty))
}

/// A `sourceValue` as kustomize emits it: an untagged YAML scalar, so `5`
/// becomes a number, `true` a boolean.
fn plain_scalar(text: &str) -> Value {
    match crate::yaml::document::<Value>(text, std::path::Path::new("sourceValue")) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
        _ => Value::String(text.to_string()),
    }
}

fn scalar_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("options.delimiter needs a scalar value".into()),
    }
}

/// One step of a field path.
#[derive(Debug, PartialEq)]
pub(super) enum Segment {
    Field(String),
    /// `[key=value]`: the list elements whose `key` is `value`.
    Match(String, String),
    Index(usize),
    All,
}

/// Splits `a.b.[k=v].c` (also `a.b[k=v].c`); dots inside brackets, and
/// escaped ones (`config\.json`, kyaml `PathSplitter`), are part of the segment.
pub(super) fn split_path(path: &str) -> Result<Vec<Segment>, String> {
    let mut raw = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                if depth == 0 && !current.is_empty() {
                    raw.push(std::mem::take(&mut current));
                }
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth -= 1;
                current.push(c);
            }
            '.' if depth == 0 && current.ends_with('\\') => {
                current.pop();
                current.push('.');
            }
            '.' if depth == 0 => raw.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    raw.push(current);
    raw.into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                match inner.split_once('=') {
                    Some((k, v)) => Ok(Segment::Match(k.into(), v.into())),
                    None => Ok(Segment::Field(inner.into())),
                }
            } else if s == "*" {
                Ok(Segment::All)
            } else if let Ok(i) = s.parse::<usize>() {
                Ok(Segment::Index(i))
            } else {
                Ok(Segment::Field(s))
            }
        })
        .collect()
}

/// Does a list element's `key` equal `value` (source paths)?
fn element_matches(element: &Value, key: &str, value: &str) -> bool {
    match element.get(key) {
        Some(Value::String(s)) => s == value,
        Some(other) => value.parse::<Value>().is_ok_and(|v| v == *other),
        None => false,
    }
}

/// Does a list element's `key` match `pattern` (target paths)? kustomize
/// (kyaml `PathMatcher`) reads the value as an unanchored regular
/// expression: `[name=init]` also selects `init2` (checked against
/// kustomize 5.5).
fn element_matches_pattern(element: &Value, key: &str, pattern: &str) -> bool {
    let text = match element.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return false,
    };
    match regex::Regex::new(pattern) {
        Ok(re) => re.is_match(&text),
        Err(_) => text == pattern,
    }
}

pub(super) fn get<'a>(value: &'a Value, path: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(value);
        return;
    };
    match (first, value) {
        (Segment::Field(f), Value::Object(map)) => {
            if let Some(child) = map.get(f) {
                get(child, rest, out);
            }
        }
        (Segment::Match(k, v), Value::Array(items)) => {
            for item in items.iter().filter(|i| element_matches(i, k, v)) {
                get(item, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get(*i) {
                get(item, rest, out);
            }
        }
        (Segment::All, Value::Array(items)) => {
            for item in items {
                get(item, rest, out);
            }
        }
        _ => {}
    }
}

fn set(
    value: &mut Value,
    path: &[Segment],
    new: &Value,
    options: &FieldOptions,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return write(value, new, options);
    };
    match first {
        Segment::Field(f) => {
            if value.is_null() && options.create {
                *value = Value::Object(Map::new());
            }
            let Value::Object(map) = value else {
                return Ok(());
            };
            if !map.contains_key(f) {
                if !options.create {
                    return Ok(());
                }
                map.insert(f.clone(), Value::Null);
            }
            set(map.get_mut(f).expect("inserted"), rest, new, options)
        }
        Segment::Match(k, v) => {
            let Value::Array(items) = value else {
                return Ok(());
            };
            for item in items
                .iter_mut()
                .filter(|i| element_matches_pattern(i, k, v))
            {
                set(item, rest, new, options)?;
            }
            Ok(())
        }
        Segment::Index(i) => match value {
            Value::Array(items) => match items.get_mut(*i) {
                Some(item) => set(item, rest, new, options),
                None => Ok(()),
            },
            _ => Ok(()),
        },
        Segment::All => {
            if let Value::Array(items) = value {
                for item in items {
                    set(item, rest, new, options)?;
                }
            }
            Ok(())
        }
    }
}

/// Writes `new` into a target field. Into a scalar, kustomize copies only the
/// text and the field keeps its type (`"3"` into `replicas: 1` gives `3`,
/// `5` into a string gives `"5"`).
fn write(target: &mut Value, new: &Value, options: &FieldOptions) -> Result<(), String> {
    match options.delimiter.as_deref().filter(|d| !d.is_empty()) {
        None => {
            *target = match (&*target, new) {
                (Value::String(_), Value::Number(_) | Value::Bool(_) | Value::String(_)) => {
                    Value::String(scalar_text(new)?)
                }
                (Value::Number(_) | Value::Bool(_), Value::String(text)) => {
                    let value = plain_scalar(text);
                    if value.is_string()
                        || std::mem::discriminant(&value) != std::mem::discriminant(target)
                    {
                        return Err(format!(
                            "cannot write {text:?} into a field of another type"
                        ));
                    }
                    value
                }
                // A field the replacement created has no YAML tag: kustomize
                // writes the text plain, so `"4"` comes out a number.
                (Value::Null, Value::String(text)) => plain_scalar(text),
                _ => new.clone(),
            };
            Ok(())
        }
        Some(delimiter) => {
            let current = match &*target {
                Value::Null => String::new(),
                other => scalar_text(other)?,
            };
            let mut parts: Vec<String> = current.split(delimiter).map(str::to_string).collect();
            let replacement = scalar_text(new)?;
            match usize::try_from(options.index) {
                Ok(i) if i < parts.len() => parts[i] = replacement,
                Ok(_) => parts.push(replacement),
                Err(_) => parts.insert(0, replacement),
            }
            *target = Value::String(parts.join(delimiter));
            Ok(())
        }
    }
}

/// `sortOptions`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacySortOptions {
    pub order_first: Vec<String>,
    pub order_last: Vec<String>,
}

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Sorts the output per `sortOptions` (kustomize's legacy order: kinds of
/// `orderFirst` first, `orderLast` last, then by group/version/kind,
/// namespace and name; `fifo` keeps the build order).
pub fn sort(resources: &mut [Resource], options: &SortOptions) -> Result<(), String> {
    match options.order.as_deref() {
        None | Some("fifo") if options.legacy_sort_options.is_none() => Ok(()),
        Some("fifo") => Err("legacySortOptions is only for order: legacy".into()),
        None | Some("legacy") => {
            let legacy = options.legacy_sort_options.clone();
            let first: Vec<String> = legacy
                .as_ref()
                .map(|l| l.order_first.clone())
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| ORDER_FIRST.iter().map(|s| s.to_string()).collect());
            let last: Vec<String> = legacy
                .as_ref()
                .map(|l| l.order_last.clone())
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| ORDER_LAST.iter().map(|s| s.to_string()).collect());
            let rank = |kind: &str| -> i64 {
                if let Some(i) = first.iter().position(|k| k == kind) {
                    i as i64 - first.len() as i64
                } else if let Some(i) = last.iter().position(|k| k == kind) {
                    1 + i as i64
                } else {
                    0
                }
            };
            let gvk = |object: &Value| {
                let api_version = resource::api_version(object);
                let (g, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                format!(
                    "{}_{}_{}",
                    if g.is_empty() { "~G" } else { g },
                    v,
                    resource::kind(object)
                )
            };
            resources.sort_by_cached_key(|r| {
                (
                    rank(resource::kind(&r.object)),
                    gvk(&r.object),
                    resource::namespace(&r.object).unwrap_or("").to_string(),
                    resource::name(&r.object).to_string(),
                )
            });
            Ok(())
        }
        Some(other) => Err(format!("unknown order {other:?} (legacy or fifo)")),
    }
}

#[cfg(test)]
mod tests;
