//! Fetching a Flux source object read from the cluster: one function,
//! [`fetch`], dispatches on its kind to the fetcher of that kind. Each
//! writes the artifact Flux applied (or the source's head when no applied
//! revision is given) into an empty directory.

use std::fmt;

use serde_json::Value;

use super::fetch::{Fetched, Request};
pub use super::{KINDS, SourceKind};
pub use crate::flux::kinds::source::GROUP;

/// Whether an object is one of Flux's source objects, of a kind in [`KINDS`].
pub fn is_source(object: &Value) -> bool {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| crate::k8s::object::group_of(v) == GROUP)
        && KINDS.iter().any(|k| k.kind == kind)
}

/// Flux's source objects among the live ones read (none when they could
/// not be read).
pub fn sources_of<E>(found: &Result<Vec<Value>, E>) -> Vec<Value> {
    found
        .iter()
        .flatten()
        .filter(|o| is_source(o))
        .cloned()
        .collect()
}

/// A source, as a Kustomization's `sourceRef` names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl SourceId {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The source of a source object.
    pub fn of(object: &Value) -> Option<Self> {
        Some(Self::new(
            object.get("kind")?.as_str()?,
            crate::k8s::object::namespace(object).unwrap_or("default"),
            crate::k8s::object::name(object)?,
        ))
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// A source could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The GitRepository could not be fetched.
    #[error(transparent)]
    Git(#[from] super::gitrepository::GitRepositoryError),
    /// The OCIRepository could not be fetched.
    #[error(transparent)]
    Oci(Box<super::oci::Error>),
    /// The Bucket could not be fetched.
    #[error(transparent)]
    Bucket(Box<super::bucket::Error>),
    /// The kind's fetcher is not part of this build.
    #[error("{kind} sources are not fetched by this build of drift-check")]
    NotSupported { kind: String },
    /// The fetcher of another kind failed.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Fetches the source of `kind` the request names, by the folder that
/// fetches that kind (`source_kinds!` in `src/source/mod.rs`).
pub async fn fetch(kind: &str, request: &Request<'_>) -> Result<Fetched, FetchError> {
    super::fetch_kind(kind, request).await.unwrap_or_else(|| {
        Err(FetchError::NotSupported {
            kind: kind.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::fetch::{FetchLimits, SourceSecrets};
    use crate::source::githubapp::TokenCache;
    use serde_json::json;

    #[test]
    fn source_objects_are_told_by_group_and_kind() {
        assert!(is_source(
            &json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket"})
        ));
        assert!(is_source(
            &json!({"apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "OCIRepository"})
        ));
        assert!(!is_source(
            &json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart"})
        ));
        assert!(!is_source(
            &json!({"apiVersion": "v1", "kind": "GitRepository"})
        ));
        for kind in KINDS {
            let object =
                json!({"apiVersion": format!("{GROUP}/{}", kind.version), "kind": kind.kind});
            assert!(is_source(&object), "{kind:?}");
        }
        let id = SourceId::of(&json!({"kind": "GitRepository", "metadata": {"name": "a", "namespace": "flux-system"}}))
            .unwrap();
        assert_eq!(id.to_string(), "GitRepository/flux-system/a");
    }

    #[tokio::test]
    async fn each_kind_goes_to_its_own_fetcher_and_others_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let error = |kind: &'static str| {
            let dir = dir.path().to_path_buf();
            async move {
                let object = json!({"kind": kind, "metadata": {"name": "x", "namespace": "apps"}, "spec": {}});
                let request = Request {
                    object: &object,
                    secrets: &SourceSecrets::default(),
                    applied: None,
                    dest: &dir,
                    limits: &FetchLimits::default(),
                    cache: None,
                    tokens: &TokenCache::default(),
                };
                fetch(kind, &request).await.unwrap_err().to_string()
            }
        };
        // The OCI and Bucket fetchers read their own specs (their errors
        // name the field), not the dispatch's "not fetched".
        assert!(error("Bucket").await.contains("spec.endpoint"));
        assert!(error("OCIRepository").await.contains("spec.url"));
        // Every kind of the table but the composed one reaches a folder.
        for kind in KINDS.iter().map(|k| k.kind) {
            let message = error(kind).await;
            assert_eq!(
                message.contains("not fetched by this build"),
                kind == "ExternalArtifact",
                "{kind}: {message}"
            );
        }
        for kind in ["HelmRepository", "ExternalArtifact"] {
            assert_eq!(
                error(kind).await,
                format!("{kind} sources are not fetched by this build of drift-check")
            );
        }
    }
}
