//! `configMapGenerator`, `secretGenerator`, `generatorOptions`, and the
//! name hash suffix.
//!
//! Input: generator entries (literals, files, env files; `behavior` create,
//! merge or replace; options) and the resources accumulated so far.
//! Output: the generated ConfigMaps and Secrets added or merged, each marked
//! for kustomize's content hash suffix, which [`add_hash_suffixes`] appends
//! at the end of the build (kustomize `api/hasher`: sha256 of a Go-JSON
//! encoding of kind, data (and type; the name is always empty there), first ten hex digits with
//! `0 1 3 a e` → `g h k m t`).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Context;
use super::KustomizeError;
use super::resource::{self, Resource};
use super::scope::compared_namespace;

/// `generatorOptions`, and the `options` of one generator.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Options {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

impl Options {
    /// kustomize `MergeGlobalOptionsIntoLocal`: global labels and
    /// annotations override local ones; global flags turn local ones on.
    fn with_global(&self, global: Option<&Options>) -> Options {
        let mut merged = self.clone();
        if let Some(global) = global {
            merged.labels.extend(global.labels.clone());
            merged.annotations.extend(global.annotations.clone());
            merged.disable_name_suffix_hash |= global.disable_name_suffix_hash;
            merged.immutable |= global.immutable;
        }
        merged
    }
}

/// One `configMapGenerator` or `secretGenerator` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct Generator {
    name: String,
    namespace: Option<String>,
    behavior: Option<String>,
    literals: Vec<String>,
    files: Vec<String>,
    envs: Vec<String>,
    env: Option<String>,
    options: Option<Options>,
    #[serde(rename = "type")]
    secret_type: Option<String>,
}

/// Runs the ConfigMap then the Secret generators.
pub fn generate(
    ctx: &Context,
    config_maps: &[Value],
    secrets: &[Value],
    global: Option<&Value>,
    resources: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    let global: Option<Options> = global
        .map(|g| {
            crate::k8s::object::from_value(g)
                .map_err(|e| ctx.error("generatorOptions", crate::render::describe(&e)))
        })
        .transpose()?;
    for (field, entries, kind) in [
        ("configMapGenerator", config_maps, "ConfigMap"),
        ("secretGenerator", secrets, "Secret"),
    ] {
        for raw in entries {
            let generator: Generator = crate::k8s::object::from_value(raw)
                .map_err(|e| ctx.error(field, crate::render::describe(&e)))?;
            let options = generator
                .options
                .clone()
                .unwrap_or_default()
                .with_global(global.as_ref());
            let object = build(ctx, field, kind, &generator, &options)?;
            let mut generated = Resource::new(object, ctx.file);
            generated.needs_hash = !options.disable_name_suffix_hash;
            add(
                ctx,
                field,
                generator.behavior.as_deref(),
                generated,
                resources,
            )?;
        }
    }
    Ok(())
}

/// The data pairs of a generator, in order, values as raw bytes.
fn pairs(
    ctx: &Context,
    field: &str,
    g: &Generator,
) -> Result<Vec<(String, Vec<u8>)>, KustomizeError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for env in g.envs.iter().chain(&g.env) {
        let path = ctx.root.resolve(ctx.dir, env, ctx.file, field)?;
        let text = ctx.root.read_text(&path)?;
        for (i, line) in text.lines().enumerate() {
            let line = if i == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (line.to_string(), std::env::var(line).unwrap_or_default()),
            };
            if !valid_env_name(&key) {
                return Err(ctx.error(
                    field,
                    format!(
                        "{}: line {}: not a valid variable name",
                        ctx.root.rel(&path),
                        i + 1
                    ),
                ));
            }
            out.push((key, value.into_bytes()));
        }
    }
    for literal in &g.literals {
        let Some((key, value)) = literal.split_once('=') else {
            return Err(ctx.error(field, format!("{}: a literal must be key=value", g.name)));
        };
        if key.is_empty() {
            return Err(ctx.error(field, format!("{}: a literal has an empty key", g.name)));
        }
        out.push((key.to_string(), unquote(value).as_bytes().to_vec()));
    }
    for entry in &g.files {
        let (key, path) = match entry.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                Path::new(entry)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                entry.as_str(),
            ),
        };
        let resolved = ctx.root.resolve(ctx.dir, path, ctx.file, field)?;
        let bytes = ctx.root.read_bytes(&resolved)?;
        out.push((key, bytes));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in &out {
        if !valid_key(key) {
            return Err(ctx.error(field, format!("{}: invalid key {key:?}", g.name)));
        }
        if !seen.insert(key.clone()) {
            return Err(ctx.error(
                field,
                format!("{}: key {key:?} is given more than once", g.name),
            ));
        }
    }
    Ok(out)
}

/// kustomize removes one pair of matching quotes around a literal value.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

fn valid_env_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A ConfigMap/Secret key: `[-._a-zA-Z0-9]+`.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn build(
    ctx: &Context,
    field: &str,
    kind: &str,
    g: &Generator,
    options: &Options,
) -> Result<Value, KustomizeError> {
    if g.name.is_empty() {
        return Err(ctx.error(field, "a generator needs a name"));
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(g.name));
    if let Some(ns) = g.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        metadata.insert("namespace".into(), json!(ns));
    }
    if !options.labels.is_empty() {
        metadata.insert("labels".into(), json!(options.labels));
    }
    if !options.annotations.is_empty() {
        metadata.insert("annotations".into(), json!(options.annotations));
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!("v1"));
    object.insert("kind".into(), json!(kind));
    object.insert("metadata".into(), Value::Object(metadata));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut data = Map::new();
    let mut binary = Map::new();
    for (key, bytes) in pairs(ctx, field, g)? {
        if kind == "Secret" {
            data.insert(key, json!(b64.encode(&bytes)));
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => data.insert(key, json!(text)),
                Err(e) => binary.insert(key, json!(b64.encode(e.as_bytes()))),
            };
        }
    }
    if kind == "Secret" {
        object.insert(
            "type".into(),
            json!(g.secret_type.as_deref().unwrap_or("Opaque")),
        );
    } else if g.secret_type.is_some() {
        return Err(ctx.error(field, "type is only for secretGenerator"));
    }
    if !data.is_empty() {
        object.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        object.insert("binaryData".into(), Value::Object(binary));
    }
    if options.immutable {
        object.insert("immutable".into(), json!(true));
    }
    Ok(Value::Object(object))
}

/// Adds a generated object per its `behavior`.
fn add(
    ctx: &Context,
    field: &str,
    behavior: Option<&str>,
    generated: Resource,
    resources: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    // kustomize compares namespaces as `scope::compared_namespace` does, and
    // finds an object by any name it has had (a base's generated object,
    // prefixed since): `create` collides with it, `merge`/`replace` update it.
    let wanted_ns =
        compared_namespace(&generated.object, resource::namespace(&generated.object)).to_string();
    let wanted_name = resource::name(&generated.object).to_string();
    let kind = resource::kind(&generated.object).to_string();
    let same_now = |r: &Resource| {
        resource::kind(&r.object) == kind
            && resource::name(&r.object) == wanted_name
            && compared_namespace(&r.object, resource::namespace(&r.object)) == wanted_ns
    };
    let same = |r: &Resource| {
        same_now(r)
            || (resource::kind(&r.object) == kind
                && r.previous.iter().any(|(ns, n)| {
                    *n == wanted_name && compared_namespace(&r.object, ns.as_deref()) == wanted_ns
                }))
    };
    match behavior.unwrap_or("create") {
        "create" => {
            if resources.iter().any(same) {
                return Err(KustomizeError::Duplicate {
                    file: ctx.file.into(),
                    object: generated.subject(),
                    other: format!("{field}: use behavior merge or replace"),
                });
            }
            resources.push(generated);
        }
        behavior @ ("merge" | "replace") => {
            let Some(existing) = resources.iter_mut().find(|r| same(r)) else {
                return Err(ctx.error(
                    field,
                    format!(
                        "{}: behavior {behavior} needs an existing object to {behavior}",
                        generated.subject()
                    ),
                ));
            };
            if behavior == "replace" {
                let previous = std::mem::take(&mut existing.previous);
                let namespace = resource::namespace(&existing.object).map(str::to_string);
                *existing = generated;
                existing.previous = previous;
                if let (Some(ns), Some(meta)) = (
                    namespace,
                    existing
                        .object
                        .get_mut("metadata")
                        .and_then(Value::as_object_mut),
                ) {
                    meta.insert("namespace".into(), json!(ns));
                }
            } else {
                merge_into(&mut existing.object, &generated.object);
                existing.needs_hash = generated.needs_hash;
            }
        }
        other => {
            return Err(ctx.error(
                field,
                format!("unknown behavior {other:?} (create, merge or replace)"),
            ));
        }
    }
    Ok(())
}

/// `behavior: merge`: data, binaryData, labels and annotations of the new
/// object override the existing ones'.
fn merge_into(existing: &mut Value, new: &Value) {
    for pointer in [
        "/data",
        "/binaryData",
        "/metadata/labels",
        "/metadata/annotations",
    ] {
        let Some(Value::Object(additions)) = new.pointer(pointer) else {
            continue;
        };
        let (parent, key) = pointer.rsplit_once('/').expect("pointers have a slash");
        let parent = if parent.is_empty() {
            Some(&mut *existing)
        } else {
            existing.pointer_mut(parent)
        };
        if let Some(Value::Object(parent)) = parent {
            let target = parent
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(target) = target {
                for (k, v) in additions {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(immutable) = new.get("immutable")
        && let Some(map) = existing.as_object_mut()
    {
        map.insert("immutable".into(), immutable.clone());
    }
}

/// Appends the content hash to the names of generated objects.
pub fn add_hash_suffixes(resources: &mut [Resource]) {
    for r in resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = hash(&r.object);
        r.remember_name();
        let name = format!("{}-{hash}", resource::name(&r.object));
        resource::set_name(&mut r.object, &name);
    }
}

/// kustomize's hash of a ConfigMap or Secret.
pub fn hash(object: &Value) -> String {
    let field = |pointer: &str| object.pointer(pointer).cloned();
    let as_map_or_empty = |v: Option<Value>| match v {
        Some(v @ Value::Object(_)) => v,
        Some(Value::String(s)) => Value::String(s),
        Some(other) if !other.is_null() => other,
        _ => Value::String(String::new()),
    };
    let mut encoded = BTreeMap::new();
    encoded.insert("kind", json!(resource::kind(object)));
    // kustomize looks the name up as one field called "metadata/name",
    // which never exists: the name is always "" in the hash.
    encoded.insert("name", Value::String(String::new()));
    encoded.insert("data", as_map_or_empty(field("/data")));
    if resource::kind(object) == "Secret" {
        encoded.insert("type", as_map_or_empty(field("/type")));
        if let Some(v @ Value::Object(_)) = field("/stringData") {
            encoded.insert("stringData", v);
        }
    } else if let Some(v @ Value::Object(_)) = field("/binaryData") {
        encoded.insert("binaryData", v);
    }
    let mut text = String::new();
    go_json(&json!(encoded), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: map keys sorted, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped.
fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string as Go's `encoding/json` writes it (also SOPS's JSON store).
pub fn go_string(s: &str, out: &mut String) {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_kustomize() {
        // Values from kustomize's own hasher tests (api/hasher/hasher_test.go).
        let cm = |extra: Value| {
            let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap"});
            o.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            o
        };
        let secret = |extra: Value| {
            let mut o = json!({"apiVersion": "v1", "kind": "Secret", "type": "my-type"});
            o.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            o
        };
        let cases = [
            (cm(json!({})), "6ct58987ht"),
            (cm(json!({"data": {"one": ""}})), "9g67k2htb6"),
            (
                cm(json!({"data": {"two": 2, "one": "", "three": 3}})),
                "7757f9kkct",
            ),
            (cm(json!({"binaryData": {"one": ""}})), "6mtk2m274t"),
            (
                cm(json!({"binaryData": {"two": 2, "one": "", "three": 3}})),
                "9th7kc28dg",
            ),
            (
                cm(json!({"data": {"one": ""}, "binaryData": {"two": ""}})),
                "698h7c7t9m",
            ),
            (secret(json!({})), "5gmgkf8578"),
            (secret(json!({"data": {"one": ""}})), "74bd68bm66"),
            (
                secret(json!({"data": {"two": 2, "one": "", "three": 3}})),
                "4gf75c7476",
            ),
            (
                secret(json!({"data": {"one": ""}, "stringData": {"two": 2}})),
                "c4h4264gdb",
            ),
        ];
        for (object, want) in cases {
            assert_eq!(hash(&object), want, "{object}");
        }
    }

    #[test]
    fn encodes_json_like_go() {
        let mut out = String::new();
        go_json(&json!({"b": "<&>", "a": [1, "x"]}), &mut out);
        assert_eq!(out, r#"{"a":[1,"x"],"b":"\u003c\u0026\u003e"}"#);
    }
}
