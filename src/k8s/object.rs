//! Kubernetes objects as plain JSON documents, and the names we give them.
//!
//! Every stage passes objects around as `serde_json::Value`, the way Flux's
//! own engine passes `unstructured.Unstructured`. This module has the few
//! accessors and the identities used to match a rendered object with its live
//! counterpart.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Kubernetes object: an `apiVersion`/`kind`/`metadata` JSON document.
pub type Object = Value;

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
