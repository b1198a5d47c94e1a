//! Live state from a directory of YAML dumps, as `kubectl get -o yaml
//! --show-managed-fields` writes them (`List` kinds included): the offline
//! stand-in for a cluster, for demos, tests and post-mortems. With no API
//! discovery, a kind's scope is read from the snapshot's objects: one
//! without `metadata.namespace` is cluster-scoped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{LiveError, LiveSource, LiveState, TypeRef};
use crate::files::{Limits, Tree};
use crate::k8s::object::{Object, ObjectRef};
use crate::k8s::scope::Scopes;
use crate::yaml;

/// A loaded snapshot.
#[derive(Debug)]
pub struct Snapshot {
    /// What is left of the snapshot: [`LiveSource::fetch`] moves objects out.
    state: Mutex<LiveState>,
    /// Kinds a file that could not be read may have held: their absence
    /// proves nothing (unknown, not missing).
    unknown_kinds: BTreeSet<String>,
    /// Every kind is unknown (the directory, or a file naming no kind, could
    /// not be read).
    all_unknown: bool,
}

impl Snapshot {
    /// Reads every `.yaml`, `.yml` and `.json` file under `dir`, in lexical
    /// order, within `limits`. Symlinks are followed (the operator wrote the
    /// snapshot), but a directory is walked once, however many links lead
    /// to it; a FIFO, socket or device is refused unopened. A file that
    /// cannot be read is an error naming it; the other files are still read.
    pub fn load(dir: &Path, limits: Limits) -> Self {
        let mut objects = Vec::new();
        let mut errors = Vec::new();
        let mut unknown_kinds = BTreeSet::new();
        let mut all_unknown = false;
        let tree = match Tree::open(dir, "the snapshot directory", limits) {
            Ok(tree) => tree.shown_under(dir),
            Err(source) => {
                errors.push(LiveError::SnapshotDir {
                    path: dir.to_path_buf(),
                    source,
                });
                let mut state = LiveState::new(objects);
                state.errors = errors;
                return Self {
                    state: Mutex::new(state),
                    unknown_kinds: BTreeSet::new(),
                    all_unknown: true,
                };
            }
        };
        let (files, refused) = tree.files_under(Path::new(""), &["yaml", "yml", "json"]);
        errors.extend(
            refused
                .into_iter()
                .map(|e| LiveError::Snapshot(yaml::YamlError::Tree(e))),
        );
        for file in files {
            match yaml::read_documents_as::<Document>(&tree, &file) {
                Ok(docs) => {
                    let shown = PathBuf::from(tree.rel(&file));
                    for (index, Document(doc)) in docs.into_iter().enumerate() {
                        flatten(doc, &shown, index + 1, &mut objects, &mut errors);
                    }
                }
                Err(e) => {
                    errors.push(e.into());
                    let kinds = kinds_named_in(&tree.root().join(&file));
                    all_unknown |= kinds.is_empty();
                    unknown_kinds.extend(kinds);
                }
            }
        }
        let mut state = LiveState::new(objects);
        state.errors = errors;
        let mut scopes = Scopes::default();
        scopes.learn_from_objects(state.objects().map(|(_, o)| o));
        state.scopes = scopes;
        Self {
            state: Mutex::new(state),
            unknown_kinds,
            all_unknown,
        }
    }

    /// Errors met while loading (each handed out once).
    pub fn take_errors(&mut self) -> Vec<LiveError> {
        std::mem::take(&mut self.state().errors)
    }

    /// What is left of the snapshot (a panic while it was held cannot have
    /// left it half-changed: every change is one move).
    fn state(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The kinds a snapshot file that could not be parsed names on its `kind:`
/// lines (`DeploymentList` naming `Deployment`); none when it cannot be read
/// as a small regular file.
fn kinds_named_in(file: &Path) -> BTreeSet<String> {
    const MAX: u64 = 256 << 20;
    let readable = std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() <= MAX);
    let Some(text) = readable.then(|| std::fs::read(file).ok()).flatten() else {
        return BTreeSet::new();
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| {
            line.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("kind:")
        })
        .map(|kind| kind.trim().trim_matches(['"', '\'']).to_string())
        .map(|kind| match kind.strip_suffix("List") {
            Some(item) if !item.is_empty() => item.to_string(),
            _ => kind,
        })
        .filter(|kind| !kind.is_empty())
        .collect()
}

/// Unpacks `List` documents (`kind: List`, `kind: DeploymentList`, ...).
fn flatten(
    doc: Value,
    file: &Path,
    index: usize,
    out: &mut Vec<Object>,
    errors: &mut Vec<LiveError>,
) {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && doc.get("items").is_some_and(Value::is_array);
    if is_list {
        let mut doc = doc;
        if let Some(Value::Array(items)) = doc.get_mut("items").map(Value::take) {
            for item in items {
                flatten(item, file, index, out, errors);
            }
        }
        return;
    }
    if ObjectRef::of(&doc).is_some() {
        let mut doc = doc;
        super::reduce(&mut doc);
        out.push(doc);
    } else {
        errors.push(LiveError::NotAnObject {
            path: file.to_path_buf(),
            index,
            message: "not a Kubernetes object (needs apiVersion, kind and metadata.name)".into(),
        });
    }
}

/// A snapshot document, parsed with the items of a `List` (its top-level
/// `items`) [`reduce`](super::reduce)d one by one as they are read, so a
/// 100,000-item dump never exists whole.
struct Document(Value);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Part::Document).map(Document)
    }
}

/// Where the parser is in a [`Document`]: at its root, or at its `items`.
#[derive(Clone, Copy)]
enum Part {
    Document,
    Items,
}

impl<'de> DeserializeSeed<'de> for Part {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// As `serde_json::Value` reads any value, but for a document's `items`.
impl<'de> Visitor<'de> for Part {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(mut item) = seq.next_element::<Value>()? {
            if matches!(self, Part::Items) && ObjectRef::of(&item).is_some() {
                super::reduce(&mut item);
            }
            out.push(item);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match self {
                Part::Document if key == "items" => map.next_value_seed(Part::Items)?,
                _ => map.next_value::<Value>()?,
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

impl LiveSource for Snapshot {
    async fn kustomizations(&self) -> Result<Vec<Object>, LiveError> {
        Ok(self
            .state()
            .objects()
            .filter(|(_, o)| crate::flux::is_kustomization(o))
            .map(|(_, o)| o.clone())
            .collect())
    }

    async fn substitution_data(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, LiveError> {
        let key = crate::k8s::object::ObjectKey {
            group: String::new(),
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        };
        Ok(self.state().get(&key).map(object_data))
    }

    async fn fetch(&self, types: &BTreeSet<TypeRef>) -> LiveState {
        let wanted: BTreeSet<(String, String)> = types.iter().map(TypeRef::key).collect();
        // Moved, not copied: the snapshot's objects exist once. Snapshot
        // errors are reported once, by whoever loaded it.
        let mut state = self.state().take_types(&wanted);
        state.failed.extend(
            types
                .iter()
                .filter(|t| self.all_unknown || self.unknown_kinds.contains(&t.kind))
                .map(TypeRef::key),
        );
        state.scopes = self.state().scopes.clone();
        state
    }

    async fn dry_run(&self, _object: &Object) -> Result<Object, LiveError> {
        Err(LiveError::Unsupported(
            "a server-side dry-run needs a cluster, not a live snapshot".into(),
        ))
    }
}

/// The string data of a ConfigMap (`data`) or Secret (`data`, base64-decoded,
/// and `stringData`).
pub fn object_data(object: &Object) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let is_secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    if let Some(Value::Object(data)) = object.get("data") {
        for (key, value) in data {
            let Some(text) = value.as_str() else { continue };
            let text = if is_secret {
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(_) => continue,
                }
            } else {
                text.to_string()
            };
            out.insert(key.clone(), text);
        }
    }
    if let Some(Value::Object(data)) = object.get("stringData") {
        for (key, value) in data {
            if let Some(text) = value.as_str() {
                out.insert(key.clone(), text.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_lists_and_single_objects_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: x}\n  data: {k: v}\n").unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\ndata: {k: dmFs}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.yaml"), "a: [1\n").unwrap();
        std::fs::write(dir.path().join("d.yaml"), "just: a map\n").unwrap();
        let mut snap = Snapshot::load(dir.path(), Limits::default());
        let errors: Vec<String> = snap.take_errors().iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("c.yaml") && errors[0].contains("line"),
            "{errors:?}"
        );
        assert!(errors[1].contains("d.yaml: document 1"), "{errors:?}");
        let types = BTreeSet::from([TypeRef::new("v1", "ConfigMap")]);
        assert_eq!(snap.fetch(&types).await.len(), 1);
        let secret = snap
            .substitution_data("Secret", "x", "s")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(secret.get("k").map(String::as_str), Some("val"));
        assert_eq!(
            snap.substitution_data("ConfigMap", "x", "nope")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn the_kinds_a_broken_file_held_are_unknown_not_missing() {
        // Regression: a snapshot file that could not be parsed turned every
        // rendered object it held into "missing".
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("apps.yaml"),
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: [web\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n",
        )
        .unwrap();
        let mut snap = Snapshot::load(dir.path(), Limits::default());
        assert_eq!(snap.take_errors().len(), 1);
        let types = BTreeSet::from([
            TypeRef::new("apps/v1", "Deployment"),
            TypeRef::new("v1", "ConfigMap"),
        ]);
        let state = snap.fetch(&types).await;
        assert_eq!(
            state.failed,
            BTreeSet::from([("apps".to_string(), "Deployment".to_string())])
        );
        assert_eq!(state.len(), 1);
    }
}
