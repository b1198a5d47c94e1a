//! The kustomize engine's errors: each names the file (relative to the
//! root) and the field it comes from, never a value of the tree.

use std::path::PathBuf;

/// Why `kustomize build` of a directory failed.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    /// The source root itself does not exist or cannot be resolved.
    #[error("source root {}: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `spec.path`, a resource, a component or a file a kustomization names
    /// does not exist.
    #[error("{file}: {field}: {path} does not exist")]
    NotFound {
        file: String,
        field: String,
        path: String,
    },
    /// A path leaves the source root (refused, as kustomize's confined file system does).
    #[error("{file}: {field}: {path} is outside the source root")]
    OutsideRoot {
        file: String,
        field: String,
        path: String,
    },
    /// A file was refused (a symlink out of the root, a FIFO or device, a
    /// file over the size limit) or does not exist; names it.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// A file or directory exists but cannot be read.
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML (the message has the line, never the text).
    #[error("{path}: {message}")]
    Yaml { path: String, message: String },
    /// A resource names a remote base (a URL or git repository), which the
    /// native engine does not fetch.
    #[error(
        "{file}: {field}: remote resource {} is not supported by the native renderer (vendor it into the repository, or use the external kustomize binary option)",
        crate::redact::url(url)
    )]
    Remote {
        file: String,
        field: String,
        url: String,
    },
    /// A YAML document of a resource file is not a Kubernetes object: it has
    /// no `apiVersion`, `kind` or `metadata.name`.
    #[error("{file}: document {index}: not a Kubernetes object: missing {missing}")]
    NotAnObject {
        file: String,
        index: usize,
        missing: &'static str,
    },
    /// An object lost its apiVersion, kind or name to a patch or to
    /// variable substitution (`origin`: the file it came from, or the
    /// object as it was before substitution).
    #[error("{origin}: an object has no {missing} {when}")]
    Identity {
        origin: String,
        when: &'static str,
        missing: &'static str,
    },
    /// A kustomization file is malformed (wrong shape, unknown field, wrong kind).
    #[error("{file}: invalid kustomization: {message}")]
    Kustomization { file: String, message: String },
    /// A directory holds more than one kustomization file.
    #[error("{dir}: found more than one kustomization file ({names})")]
    AmbiguousKustomization { dir: String, names: String },
    /// A directory used as a resource or component has no kustomization file.
    #[error("{dir}: no kustomization.yaml, kustomization.yml or Kustomization in this directory")]
    NoKustomization { dir: String },
    /// A kustomization field the native engine does not implement.
    #[error(
        "{file}: {field} is not supported by the native renderer (use the external kustomize binary option)"
    )]
    Unsupported { file: String, field: String },
    /// Kustomizations include each other in a cycle.
    #[error("{file}: cycle: {path} is already being built")]
    Cycle { file: String, path: String },
    /// Two resources have the same identity (kustomize: "may not add
    /// resource with an already registered id").
    #[error("{file}: {object} is already defined ({other})")]
    Duplicate {
        file: String,
        object: String,
        other: String,
    },
    /// A patch, generator or transformer cannot be applied as written.
    #[error("{file}: {field}: {message}")]
    Transform {
        file: String,
        field: String,
        message: String,
    },
}
