//! The kinds of Flux's other controllers that more than one stage names: the
//! source kinds' group and shape (source-controller), source-watcher's ArtifactGenerator,
//! helm-controller's HelmRelease and the labels of the Helm release records
//! it writes. Here, in the shared vocabulary, so that the live source can
//! recognise and list them without importing the stages that fetch,
//! generate or compare them (those re-export what they use).

use serde_json::Value;

use crate::k8s::object::{self, Object};

/// source-controller's kinds.
pub mod source {
    /// The API group of Flux's source kinds.
    pub const GROUP: &str = "source.toolkit.fluxcd.io";

    /// A source kind a Kustomization's `sourceRef` may name, with the
    /// version and plural drift-check lists it at. The list itself is the
    /// source stage's (`source::KINDS`, one line per kind): the live source
    /// is handed it, as it comes before the stage that declares it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SourceKind {
        pub kind: &'static str,
        pub version: &'static str,
        pub plural: &'static str,
    }
}

/// source-watcher's ArtifactGenerator.
pub mod artifact {
    /// The API group of source-watcher's ArtifactGenerator.
    pub const GROUP: &str = "source.extensions.fluxcd.io";
    /// The version drift-check reads (source-watcher v2, Flux 2.7).
    pub const VERSION: &str = "v1beta1";
    /// The ArtifactGenerator kind.
    pub const KIND: &str = "ArtifactGenerator";
}

/// helm-controller's HelmRelease, and Helm's release records.
pub mod helm {
    use super::{Object, Value, object};

    /// The API group of Flux HelmReleases.
    pub const GROUP: &str = "helm.toolkit.fluxcd.io";
    /// The HelmRelease kind.
    pub const KIND: &str = "HelmRelease";

    /// Is this object a Flux HelmRelease (any served version)?
    pub fn is_helm_release(o: &Object) -> bool {
        o.get("kind").and_then(Value::as_str) == Some(KIND)
            && o.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| object::group_of(v) == GROUP)
    }

    /// The label Helm sets on its records (`owner=helm`).
    pub const OWNER_LABEL: &str = "owner";
    /// The label naming the release of a record.
    pub const NAME_LABEL: &str = "name";
    /// The label holding the record's status.
    pub const STATUS_LABEL: &str = "status";
    /// The label holding the record's revision.
    pub const VERSION_LABEL: &str = "version";
    /// The status of the revision that is live.
    pub const DEPLOYED: &str = "deployed";
    /// The Secret type of Helm's records.
    pub const SECRET_TYPE: &str = "helm.sh/release.v1";

    /// The label selector of a release's deployed records.
    pub fn selector(release: &str) -> String {
        format!("{OWNER_LABEL}=helm,{NAME_LABEL}={release},{STATUS_LABEL}={DEPLOYED}")
    }
}
