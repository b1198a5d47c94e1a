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

use super::{LiveError, LiveState, Stored, TypeRef};
use crate::files::{Limits, Tree};
use crate::flux::kinds::source::SourceKind;
use crate::k8s::object::{Object, ObjectKey, ObjectRef};
use crate::k8s::scope::Scopes;
use crate::yaml;

/// A loaded snapshot.
#[derive(Debug)]
pub struct Snapshot {
    /// What is left of the snapshot: [`Snapshot::fetch`] moves objects out.
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
                let mut state = LiveState::of_stored(objects);
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
        for (file, parsed) in parse_files(&tree, files) {
            match parsed {
                Ok(docs) => {
                    let shown = PathBuf::from(tree.rel(&file));
                    for (index, doc) in docs.into_iter().enumerate() {
                        flatten_document(doc, &shown, index + 1, &mut objects, &mut errors);
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
        let mut state = LiveState::of_stored(objects);
        state.errors = errors;
        let mut scopes = Scopes::default();
        scopes.learn_from_keys(state.stored().map(|(key, _)| key));
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

/// Parses snapshot files on as many threads as there are cores (a dump is
/// one file per type: the big ones are parsed side by side), the largest
/// first; returns each file with what it held, in the order given.
fn parse_files(
    tree: &Tree,
    files: Vec<PathBuf>,
) -> Vec<(PathBuf, Result<Vec<Document>, yaml::YamlError>)> {
    let size = |file: &PathBuf| std::fs::metadata(tree.root().join(file)).map_or(0, |m| m.len());
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(size(&files[i])));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len());
    let mut parsed: Vec<(usize, Result<Vec<Document>, yaml::YamlError>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        while let Some(&i) =
                            order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            done.push((i, yaml::read_documents_as::<Document>(tree, &files[i])));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
    parsed.sort_by_key(|(i, _)| *i);
    files
        .into_iter()
        .zip(parsed.into_iter().map(|(_, r)| r))
        .collect()
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

/// Whether a value is a `List` to unpack (`kind: List`, `kind: DeploymentList`, ...).
fn is_list(doc: &Value) -> bool {
    doc.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && doc.get("items").is_some_and(Value::is_array)
}

/// Unpacks a document's `List` (`kind: List`, `kind: DeploymentList`, ...)
/// into `out`; an item not a Kubernetes object is an error.
fn flatten_document(
    doc: Document,
    file: &Path,
    index: usize,
    out: &mut Vec<(ObjectKey, Stored)>,
    errors: &mut Vec<LiveError>,
) {
    let list_kind = matches!(&doc, Document::Fields(fields, Some(_))
        if fields.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")));
    match doc {
        Document::Fields(_, Some((_, items))) if list_kind => {
            for item in items {
                match item {
                    Item::Object(key, stored) => out.push((key, stored)),
                    Item::Other(value) => flatten(value, file, index, out, errors),
                }
            }
        }
        doc => flatten(doc.into_value(), file, index, out, errors),
    }
}

/// Unpacks `List` documents (`kind: List`, `kind: DeploymentList`, ...).
fn flatten(
    doc: Value,
    file: &Path,
    index: usize,
    out: &mut Vec<(ObjectKey, Stored)>,
    errors: &mut Vec<LiveError>,
) {
    if is_list(&doc) {
        let mut doc = doc;
        if let Some(Value::Array(items)) = doc.get_mut("items").map(Value::take) {
            for item in items {
                flatten(item, file, index, out, errors);
            }
        }
        return;
    }
    if let Some(r) = ObjectRef::of(&doc) {
        let mut doc = doc;
        super::reduce(&mut doc);
        out.push((r.key(), Stored::new(&doc)));
    } else {
        errors.push(LiveError::NotAnObject {
            path: file.to_path_buf(),
            index,
            message: "not a Kubernetes object (needs apiVersion, kind and metadata.name)".into(),
        });
    }
}

/// A snapshot document, parsed with the items of a `List` (its top-level
/// `items`) [`reduce`](super::reduce)d and [`Stored`] one by one as they are
/// read, so a 100,000-item dump never exists as parsed objects.
enum Document {
    /// A mapping: its fields but `items`, and its `items` when a sequence
    /// (with their place among the fields).
    Fields(serde_json::Map<String, Value>, Option<(usize, Vec<Item>)>),
    /// Anything else (not a Kubernetes object).
    Other(Value),
}

/// An item of a document's `items`.
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every item is an object, moved once into the snapshot: a box would be one more allocation each"
)]
enum Item {
    /// A Kubernetes object (not a `List`), reduced and stored.
    Object(ObjectKey, Stored),
    /// Anything else: unpacked or refused as the document would be.
    Other(Value),
}

impl Item {
    fn of(mut value: Value) -> Self {
        match ObjectRef::of(&value) {
            Some(r) if !is_list(&value) => {
                super::reduce(&mut value);
                Item::Object(r.key(), Stored::new(&value))
            }
            _ => Item::Other(value),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Item::Object(_, stored) => stored.object().clone(),
            Item::Other(value) => value,
        }
    }
}

impl Document {
    /// The document as parsed (its items reduced).
    fn into_value(self) -> Value {
        match self {
            Document::Other(value) => value,
            Document::Fields(mut fields, items) => {
                if let Some((at, items)) = items {
                    let items = items.into_iter().map(Item::into_value).collect();
                    fields.shift_insert(at, "items".to_string(), Value::Array(items));
                }
                Value::Object(fields)
            }
        }
    }
}

/// The visits of a scalar, as `serde_json::Value` reads it, wrapped in `$wrap`.
macro_rules! scalars {
    ($wrap:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(
                serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
            ))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(v.to_string())))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(v)))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Value::deserialize(d).map($wrap)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map($wrap)
        }
    };
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML document")
    }

    scalars!(Document::Other);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut fields = serde_json::Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                // A repeated key keeps its last value, as for any field.
                fields.shift_remove("items");
                match map.next_value_seed(ItemsVisitor)? {
                    Items::Seq(seq) => items = Some((fields.len(), seq)),
                    Items::Other(value) => {
                        items = None;
                        fields.insert(key, value);
                    }
                }
            } else {
                fields.insert(key, map.next_value::<Value>()?);
            }
        }
        Ok(Document::Fields(fields, items))
    }
}

/// A document's `items`: a sequence read item by item, or any other value.
enum Items {
    Seq(Vec<Item>),
    Other(Value),
}

struct ItemsVisitor;

impl<'de> DeserializeSeed<'de> for ItemsVisitor {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Items, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Items, E> {
        Ok(Items::Other(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Items, E> {
        Ok(Items::Other(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Items, E> {
        Ok(Items::Other(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Items, E> {
        Ok(Items::Other(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Items, E> {
        Ok(Items::Other(Value::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Items, E> {
        Ok(Items::Other(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Items, E> {
        Ok(Items::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Items, E> {
        Ok(Items::Other(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        self.deserialize(d)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Items::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            out.push(Item::of(item));
        }
        Ok(Items::Seq(out))
    }
}

/// The reads of [`super::Live`], from the snapshot.
impl Snapshot {
    pub async fn flux_objects(&self, sources: &[SourceKind]) -> Result<Vec<Object>, LiveError> {
        Ok(self
            .state()
            .stored()
            .filter(|(key, _)| {
                (key.group == crate::flux::GROUP && key.kind == crate::flux::KIND)
                    || (key.group == crate::flux::kinds::artifact::GROUP
                        && key.kind == crate::flux::kinds::artifact::KIND)
                    || (key.group == crate::flux::kinds::source::GROUP
                        && sources.iter().any(|s| key.kind == s.kind))
            })
            // Parsed for discovery, not kept: an inventory is large.
            .map(|(_, o)| o.peek().into_owned())
            .collect())
    }

    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, LiveError> {
        let key = crate::k8s::object::ObjectKey {
            group: String::new(),
            kind: "Secret".into(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        };
        Ok(self.state().get(&key).map(secret_bytes))
    }

    pub async fn substitution_data(
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

    pub async fn fetch(&self, types: &BTreeSet<TypeRef>) -> LiveState {
        let wanted: BTreeSet<(String, String)> = types.iter().map(TypeRef::key).collect();
        // Moved, not copied: the snapshot's objects exist once. Snapshot
        // errors are reported once, by whoever loaded it.
        let mut state = self.state().take_types(&wanted);
        state.failed.extend(
            types
                .iter()
                .filter(|t| self.all_unknown || self.unknown_kinds.contains(&t.kind))
                .map(|t| {
                    let why = format!(
                        "{} {}: a snapshot file could not be read",
                        t.api_version(),
                        t.kind
                    );
                    (t.key(), why)
                }),
        );
        state.scopes = self.state().scopes.clone();
        state
    }

    pub async fn dry_run(&self, _object: &Object) -> Result<Object, LiveError> {
        Err(LiveError::Unsupported(
            "a server-side dry-run needs a cluster, not a live snapshot".into(),
        ))
    }

    pub async fn helm_records(
        &self,
        namespace: &str,
        release: &str,
    ) -> Result<Vec<Object>, LiveError> {
        use crate::flux::kinds::helm::{DEPLOYED, NAME_LABEL, OWNER_LABEL, STATUS_LABEL};
        Ok(self
            .state()
            .stored()
            .filter(|(key, stored)| {
                key.group.is_empty()
                    && key.kind == "Secret"
                    && key.namespace.as_deref() == Some(namespace)
                    && stored.label(OWNER_LABEL) == Some("helm")
                    && stored.label(NAME_LABEL) == Some(release)
                    && stored.label(STATUS_LABEL) == Some(DEPLOYED)
            })
            .map(|(_, stored)| stored.object().clone())
            .collect())
    }
}

/// A Secret's data, base64-decoded (and `stringData`), as bytes.
pub fn secret_bytes(object: &Object) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(data)) = object.get("data") {
        for (key, value) in data {
            if let Some(bytes) = value
                .as_str()
                .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            {
                out.insert(key.clone(), bytes);
            }
        }
    }
    if let Some(Value::Object(data)) = object.get("stringData") {
        for (key, value) in data {
            if let Some(text) = value.as_str() {
                out.insert(key.clone(), text.as_bytes().to_vec());
            }
        }
    }
    out
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
            state.failed.keys().collect::<Vec<_>>(),
            [&("apps".to_string(), "Deployment".to_string())]
        );
        assert_eq!(state.len(), 1);
    }

    #[tokio::test]
    async fn list_items_are_read_without_status_but_a_kustomization_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: x}\n  status: {s: 1}\n  data: {f: 0.1}\n- apiVersion: kustomize.toolkit.fluxcd.io/v1\n  kind: Kustomization\n  metadata: {name: k, namespace: flux-system}\n  status: {s: 1}\nkind: List\n",
        )
        .unwrap();
        let snap = Snapshot::load(dir.path(), Limits::default());
        let ks = snap.flux_objects(&[]).await.unwrap();
        assert_eq!(ks[0]["status"], serde_json::json!({"s": 1}));
        let state = snap
            .fetch(&BTreeSet::from([TypeRef::new("v1", "ConfigMap")]))
            .await;
        let (_, cm) = state.objects().next().unwrap();
        assert_eq!(
            cm,
            &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "x"}, "data": {"f": 0.1}})
        );
        // Handed over, not copied.
        assert!(
            snap.fetch(&BTreeSet::from([TypeRef::new("v1", "ConfigMap")]))
                .await
                .is_empty()
        );
    }
}
