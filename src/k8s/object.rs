//! Kubernetes objects as plain JSON documents, and the names we give them.
//!
//! Every stage passes objects around as `serde_json::Value`, the way Flux's
//! own engine passes `unstructured.Unstructured`. This module has the few
//! accessors and the identities used to match a rendered object with its live
//! counterpart.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Kubernetes object: an `apiVersion`/`kind`/`metadata` JSON document.
pub type Object = Value;

/// An object held as compact JSON text (a tenth of the memory of the parsed
/// object) with its identity, for the many objects a run holds at once and
/// compares one by one. [`Compact::peek`] parses it for a look and lets it
/// go; [`Compact::object`] parses it once and keeps it, for the few objects
/// a finding names.
#[derive(Debug)]
pub struct Compact {
    reference: Option<ObjectRef>,
    text: Box<str>,
    parsed: OnceLock<Object>,
}

impl Compact {
    /// Holds an object.
    pub fn new(object: &Object) -> Self {
        let reference = ObjectRef::of(object);
        if has_float(object) {
            // serde_json reads a float back to within a unit of its last
            // place only: such an object stays parsed.
            return Self {
                reference,
                text: Box::default(),
                parsed: OnceLock::from(object.clone()),
            };
        }
        Self {
            reference,
            text: object.to_string().into_boxed_str(),
            parsed: OnceLock::new(),
        }
    }

    /// Its identity (`None` for an object without one).
    pub fn reference(&self) -> Option<&ObjectRef> {
        self.reference.as_ref()
    }

    /// Its kind, without parsing it.
    pub fn kind(&self) -> Option<&str> {
        self.reference.as_ref().map(|r| r.kind.as_str())
    }

    /// The object, parsed on first use and kept.
    pub fn object(&self) -> &Object {
        self.parsed.get_or_init(|| self.parse())
    }

    /// The object for a look: borrowed when it is kept parsed, else parsed
    /// and not kept.
    pub fn peek(&self) -> Cow<'_, Object> {
        match self.parsed.get() {
            Some(object) => Cow::Borrowed(object),
            None => Cow::Owned(self.parse()),
        }
    }

    /// Changes the object (its identity follows).
    pub fn update<R>(&mut self, change: impl FnOnce(&mut Object) -> R) -> R {
        let mut object = self.peek().into_owned();
        let result = change(&mut object);
        *self = Self::new(&object);
        result
    }

    /// Whether the object is held parsed.
    pub fn is_parsed(&self) -> bool {
        self.parsed.get().is_some()
    }

    fn parse(&self) -> Object {
        serde_json::from_str(&self.text).expect("a compact object is serde_json's own text")
    }
}

impl Clone for Compact {
    fn clone(&self) -> Self {
        Self {
            reference: self.reference.clone(),
            text: self.text.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl From<Object> for Compact {
    fn from(object: Object) -> Self {
        Self::new(&object)
    }
}

/// Whether a value holds a floating-point number.
fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(fields) => fields.values().any(has_float),
        _ => false,
    }
}

/// Names one object the way the JSON report does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// Reads the identity of an object; `None` when `apiVersion`, `kind` or
    /// `metadata.name` is missing or not a string.
    pub fn of(object: &Object) -> Option<Self> {
        Some(Self {
            api_version: object.get("apiVersion")?.as_str()?.to_string(),
            kind: object.get("kind")?.as_str()?.to_string(),
            namespace: namespace(object).map(str::to_string),
            name: name(object)?.to_string(),
        })
    }

    /// The API group: `""` for the core group.
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// The version-independent identity used to match desired and live objects.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group().to_string(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects, as Flux
/// names a subject in its diff and events.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// The identity of an object across API versions: group, kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// The identity used by Flux's inventory: `<namespace>_<name>_<group>_<kind>`
    /// (fluxcd/pkg `ssa/utils` `ObjMetadata`, with `:` in RBAC names written `__`).
    pub fn inventory_id(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace.as_deref().unwrap_or(""),
            self.name.replace(':', "__"),
            self.group,
            self.kind
        )
    }

    /// The (group, kind) of the key: its type, whatever the version.
    pub fn type_key(&self) -> (String, String) {
        (self.group.clone(), self.kind.clone())
    }

    /// Parses an inventory id back into a key; `None` when it has not four parts.
    pub fn from_inventory_id(id: &str) -> Option<Self> {
        // The name may itself contain `__` (for `:`), so split from both ends:
        // namespace is before the first `_`, group and kind after the last two.
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, group) = rest.rsplit_once('_')?;
        if name.is_empty() || kind.is_empty() {
            return None;
        }
        Some(Self {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            name: name.replace("__", ":"),
        })
    }
}

/// Reads (part of) an object into a typed struct the way Go's `encoding/json`
/// (behind sigs.k8s.io/yaml, as Flux's controllers and kustomize read YAML)
/// reads one: a `null` field is an absent field (`postBuild:\n  substitute:`
/// with nothing after it is no substitution, not "expected a map"), at any
/// depth. Items of a list are kept as they are.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(without_null_fields(value))
}

/// `value` without the fields whose value is `null`, at any depth.
pub fn without_null_fields(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_null_fields(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_null_fields).collect()),
        other => other.clone(),
    }
}

/// The group part of an `apiVersion`: `apps/v1` → `apps`, `v1` → `""`.
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// `metadata.name`.
pub fn name(object: &Object) -> Option<&str> {
    object.pointer("/metadata/name")?.as_str()
}

/// `metadata.namespace`, `None` when absent or empty.
pub fn namespace(object: &Object) -> Option<&str> {
    object
        .pointer("/metadata/namespace")?
        .as_str()
        .filter(|ns| !ns.is_empty())
}

/// `metadata.labels[key]`.
pub fn label<'a>(object: &'a Object, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// `metadata.annotations[key]`.
pub fn annotation<'a>(object: &'a Object, key: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// Escapes one JSON Pointer token (RFC 6901): `~` → `~0`, `/` → `~1`.
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Builds a JSON Pointer from tokens.
pub fn pointer<I, S>(tokens: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    tokens
        .into_iter()
        .map(|t| format!("/{}", escape_pointer_token(t.as_ref())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_compact_object_is_parsed_for_a_look_and_kept_only_when_asked() {
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "c", "namespace": "apps"}, "data": {"k": "v"}});
        let compact = Compact::new(&config_map);
        assert_eq!(compact.kind(), Some("ConfigMap"));
        assert_eq!(compact.reference().unwrap().to_string(), "ConfigMap/apps/c");
        assert_eq!(*compact.peek(), config_map);
        assert!(matches!(compact.peek(), Cow::Owned(_)));
        assert!(!compact.is_parsed());
        assert_eq!(*compact.object(), config_map);
        assert!(compact.is_parsed());
        assert!(matches!(compact.peek(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_compact_object_with_a_float_stays_exact_and_follows_its_changes() {
        let quota = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "q", "namespace": "apps"}, "ratio": 0.1 + 0.2});
        let mut compact = Compact::new(&quota);
        assert_eq!(compact.peek()["ratio"], json!(0.1 + 0.2));
        let dropped =
            compact.update(|o| o["metadata"].as_object_mut().unwrap().remove("namespace"));
        assert_eq!(dropped, Some(json!("apps")));
        assert_eq!(compact.reference().unwrap().namespace, None);
        assert_eq!(compact.object()["metadata"], json!({"name": "q"}));
    }

    #[test]
    fn names_objects_like_flux_subjects() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "docs-portal", "namespace": "docs"}});
        let r = ObjectRef::of(&deploy).unwrap();
        assert_eq!(r.to_string(), "Deployment/docs/docs-portal");
        assert_eq!(r.group(), "apps");
        let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                         "metadata": {"name": "system:konnectivity-server"}});
        assert_eq!(
            ObjectRef::of(&crb).unwrap().to_string(),
            "ClusterRoleBinding/system:konnectivity-server"
        );
    }

    #[test]
    fn inventory_ids_round_trip_with_rbac_colons() {
        let key = ObjectKey {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRoleBinding".into(),
            namespace: None,
            name: "system:konnectivity-server".into(),
        };
        let id = key.inventory_id();
        assert_eq!(
            id,
            "_system__konnectivity-server_rbac.authorization.k8s.io_ClusterRoleBinding"
        );
        assert_eq!(ObjectKey::from_inventory_id(&id), Some(key));
        let svc = ObjectKey::from_inventory_id("docs_docs-portal__Service").unwrap();
        assert_eq!(
            (
                svc.namespace.as_deref(),
                svc.name.as_str(),
                svc.group.as_str(),
                svc.kind.as_str()
            ),
            (Some("docs"), "docs-portal", "", "Service")
        );
    }

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(
            pointer([
                "metadata",
                "annotations",
                "kubectl.kubernetes.io/restartedAt"
            ]),
            "/metadata/annotations/kubectl.kubernetes.io~1restartedAt"
        );
    }
}
