//! `OCIRepository` sources: the artifact a Kustomization applied, pulled
//! from its registry **by the digest Flux recorded** and verified.
//!
//! Input: the `OCIRepository` object as read from the cluster, the data of
//! the Secrets it names, the Kustomization's `status.lastAppliedRevision`
//! (`<tag>@sha256:<digest>` or `sha256:<digest>`), an empty directory.
//! Output: the artifact's tree in that directory, as source-controller
//! stores it (the selected layer, extracted, with `.sourceignore` and
//! `spec.ignore` applied; or, with `operation: copy`, the layer as it is,
//! which kustomize-controller untars), and the revision written.
//!
//! The manifest is fetched by digest and its bytes must hash to it; the
//! layer likewise. A registry that serves other bytes under a digest is a
//! supply-chain alarm ([`Error::SupplyChain`]), never drift. The tag's
//! current digest (the "head") is resolved too: a tag moved since apply is
//! not an error. With a cache directory, manifests and layers are kept by
//! digest: an unchanged artifact is fetched again with zero bytes
//! downloaded. Registry access uses the ORAS project's `oci-client`.

mod auth;
mod blob;
mod semver;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tracing::{info, warn};

pub use self::semver::{Constraint, select as select_semver};
pub use spec::{Operation, Ref, Revision, Spec};

use super::cluster::FetchError;
use super::fetch::{FetchLimits, Fetched, Request, SourceSecrets};
use super::unpack::{self, UnpackError};
use blob::{Limited, cache_path, sha256, sha256_file, store};

/// The largest manifest accepted (the size registries must accept, and
/// containerd's limit): anything bigger is refused before it is parsed.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

const MANIFEST_TYPES: [&str; 4] = [
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// Why an `OCIRepository`'s artifact could not be fetched. Every message
/// starts with `OCIRepository <namespace>/<name>:` and never holds a
/// credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the object is missing or malformed.
    #[error("OCIRepository {object}: {field}: {message}")]
    Spec {
        object: String,
        field: String,
        message: String,
    },
    /// `spec.provider` asks for a cloud's workload identity.
    #[error(
        "OCIRepository {object}: could not check: cloud workload identity is not supported here (spec.provider: {provider}; use a secretRef)"
    )]
    CloudIdentity { object: String, provider: String },
    /// A Secret the object names is of the wrong type or malformed.
    #[error("OCIRepository {object}: Secret {secret}: {message}")]
    Secret {
        object: String,
        secret: String,
        message: String,
    },
    /// The applied revision is not in Flux's OCI format.
    #[error(
        "OCIRepository {object}: lastAppliedRevision {revision:?} is not an OCI revision (<tag>@sha256:<digest> or sha256:<digest>)"
    )]
    Revision { object: String, revision: String },
    /// Nothing answered at the registry's address (or TLS failed).
    #[error("OCIRepository {object}: registry {registry} unreachable: {message}")]
    Unreachable {
        object: String,
        registry: String,
        message: String,
    },
    /// The registry refused the credentials (or wants some).
    #[error(
        "OCIRepository {object}: registry {registry} refused access to {repository} (check spec.secretRef{secret}): {message}"
    )]
    Auth {
        object: String,
        registry: String,
        repository: String,
        secret: String,
        message: String,
    },
    /// The registry has no such manifest, blob or tag.
    #[error("OCIRepository {object}: {reference} not found in the registry: {message}")]
    NotFound {
        object: String,
        reference: String,
        message: String,
    },
    /// The registry served content whose digest is not the one asked for.
    #[error(
        "OCIRepository {object}: SUPPLY-CHAIN ALARM: the registry served a {what} for {reference} whose content hashes to {actual}, not {expected}: this is not what Flux applied (not drift: check the registry and its storage)"
    )]
    SupplyChain {
        object: String,
        what: &'static str,
        reference: String,
        expected: String,
        actual: String,
    },
    /// The manifest is bigger than [`MAX_MANIFEST_BYTES`].
    #[error(
        "OCIRepository {object}: the manifest of {reference} is {size} bytes, more than the 4 MiB a manifest may have: refused"
    )]
    ManifestTooLarge {
        object: String,
        reference: String,
        size: usize,
    },
    /// The manifest is not an artifact's (an index, or not a manifest).
    #[error("OCIRepository {object}: {reference}: {message}")]
    NotAnArtifact {
        object: String,
        reference: String,
        message: String,
    },
    /// No layer has the media type `spec.layerSelector` asks for.
    #[error("OCIRepository {object}: {reference}: {message}")]
    NoLayer {
        object: String,
        reference: String,
        message: String,
    },
    /// A layer is bigger than the download limit.
    #[error(
        "OCIRepository {object}: layer {digest} is {size} bytes, more than the {limit}-byte download limit"
    )]
    TooLarge {
        object: String,
        digest: String,
        size: u64,
        limit: u64,
    },
    /// The layer could not be unpacked (not a tar.gz, a path out of the
    /// tree, a link out, a bomb...).
    #[error("OCIRepository {object}: layer {digest} ({media_type}) {problem}")]
    Unpack {
        object: String,
        digest: String,
        media_type: String,
        problem: Box<UnpackError>,
    },
    /// `spec.ref.semver` matches no tag, or does not parse.
    #[error("OCIRepository {object}: spec.ref.semver: {message}")]
    Semver { object: String, message: String },
    /// `spec.ignore` or a `.sourceignore` holds a bad pattern.
    #[error("OCIRepository {object}: {problem}")]
    Ignore {
        object: String,
        problem: Box<unpack::ignore::PatternError>,
    },
    /// The fetch took longer than its limit.
    #[error("OCIRepository {object}: timed out after {seconds}s")]
    Timeout { object: String, seconds: u64 },
    /// Any other registry answer.
    #[error("OCIRepository {object}: registry {registry}: {message}")]
    Registry {
        object: String,
        registry: String,
        message: String,
    },
    /// The destination or cache cannot be written.
    #[error("OCIRepository {object}: {}: {source}", path.display())]
    Io {
        object: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The fetcher of OCIRepository sources, as the source kinds' table calls it.
pub async fn fetch_source(r: &Request<'_>) -> Result<Fetched, FetchError> {
    fetch(r.object, r.secrets, r.applied, r.dest, r.limits, r.cache)
        .await
        .map_err(|e| FetchError::Oci(Box::new(e)))
}

/// Fetches the artifact the Kustomization applied (`applied`), or the one
/// `spec.ref` points at now (`None`), into `dest`. See
/// [`fetch_with_head`] for the tag's current digest as well.
pub async fn fetch(
    object: &serde_json::Value,
    secrets: &SourceSecrets,
    applied: Option<&str>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> Result<Fetched, Error> {
    fetch_with_head(object, secrets, applied, dest, limits, cache)
        .await
        .map(|(fetched, _)| fetched)
}

/// As [`fetch`], and also the revision `spec.ref` resolves to now (the
/// "head", e.g. a tag moved since apply), when it could be resolved; with
/// `applied: None` it is the revision fetched.
pub async fn fetch_with_head(
    object: &serde_json::Value,
    secrets: &SourceSecrets,
    applied: Option<&str>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> Result<(Fetched, Option<String>), Error> {
    let spec = Spec::parse(object)?;
    let applied = match applied {
        Some(text) => Some(Revision::parse(text).ok_or_else(|| Error::Revision {
            object: spec.object.clone(),
            revision: text.to_string(),
        })?),
        None => None,
    };
    let work = run(&spec, secrets, applied, dest, limits, cache);
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            object: spec.object.clone(),
            seconds: limits.timeout.as_secs(),
        }),
    }
}

/// A registry session for one object.
struct Session<'a> {
    spec: &'a Spec,
    client: Client,
    auth: RegistryAuth,
}

async fn run(
    spec: &Spec,
    secrets: &SourceSecrets,
    applied: Option<Revision>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> Result<(Fetched, Option<String>), Error> {
    let auth = auth::registry_auth(spec, secrets.secret.as_ref())?;
    let extra_root_certificates = auth::certificates(spec, secrets.cert.as_ref())?;
    let config = ClientConfig {
        protocol: if spec.insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        extra_root_certificates,
        connect_timeout: Some(limits.timeout.min(std::time::Duration::from_secs(30))),
        read_timeout: Some(limits.timeout),
        ..ClientConfig::default()
    };
    let session = Session {
        spec,
        client: Client::new(config),
        auth,
    };
    let started = std::time::Instant::now();
    let is_applied = applied.is_some();
    let (wanted, head) = match applied {
        Some(applied) => {
            let head = match session.head().await {
                Ok(head) => Some(head.to_string()),
                Err(e) => {
                    warn!(source = %spec.object, error = %e, "Could not resolve the OCIRepository's current revision");
                    None
                }
            };
            (applied, head)
        }
        None => {
            let head = session.head().await?;
            let text = head.to_string();
            (head, Some(text))
        }
    };
    let (manifest, mut downloaded) = session.manifest(&wanted.digest, cache).await?;
    let layer = select_layer(spec, &wanted, &manifest)?;
    let (blob, layer_bytes) = session.layer(&layer, limits, cache).await?;
    downloaded += layer_bytes;
    let unpacked = unpack_layer(spec, &layer, &blob.path, dest, limits).await?;
    drop(blob);
    info!(
        source = %spec.object,
        revision = %wanted,
        head = head.as_deref().unwrap_or("unknown"),
        downloaded_bytes = downloaded,
        files = unpacked.files,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Fetched the OCI artifact"
    );
    Ok((
        Fetched {
            revision: wanted.to_string(),
            is_applied,
            downloaded_bytes: downloaded,
        },
        head,
    ))
}

impl Session<'_> {
    fn repo_ref(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.spec.registry.clone(),
            self.spec.repository.clone(),
            tag.to_string(),
        )
    }

    fn digest_ref(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.spec.registry.clone(),
            self.spec.repository.clone(),
            digest.to_string(),
        )
    }

    /// What `spec.ref` resolves to now.
    async fn head(&self) -> Result<Revision, Error> {
        let tag = match &self.spec.reference {
            Ref::Digest(digest) => {
                return Ok(Revision {
                    tag: None,
                    digest: digest.clone(),
                });
            }
            Ref::Tag(tag) => tag.clone(),
            Ref::Semver { range, filter } => {
                let tags = self.tags().await?;
                let semver_error = |message: String| Error::Semver {
                    object: self.spec.object.clone(),
                    message,
                };
                select_semver(&tags, range, filter.as_deref())
                    .map_err(semver_error)?
                    .ok_or_else(|| semver_error(format!("no tag matches {range:?}")))?
                    .to_string()
            }
        };
        let reference = self.repo_ref(&tag);
        let digest = self
            .client
            .fetch_manifest_digest(&reference, &self.auth)
            .await
            .map_err(|e| self.classify(&reference.whole(), "manifest", e))?;
        Ok(Revision {
            tag: Some(tag),
            digest,
        })
    }

    /// Every tag of the repository.
    async fn tags(&self) -> Result<Vec<String>, Error> {
        let reference = self.repo_ref("latest");
        let mut all: Vec<String> = Vec::new();
        loop {
            let page = self
                .client
                .list_tags(
                    &reference,
                    &self.auth,
                    Some(1000),
                    all.last().map(String::as_str),
                )
                .await
                .map_err(|e| self.classify(&format!("{} tags", self.spec.url), "tag list", e))?;
            let n = page.tags.len();
            all.extend(page.tags);
            if n < 1000 {
                return Ok(all);
            }
        }
    }

    /// The manifest stored under `digest`, verified, from the cache or the
    /// registry; and the bytes downloaded.
    async fn manifest(
        &self,
        digest: &str,
        cache: Option<&Path>,
    ) -> Result<(OciImageManifest, u64), Error> {
        let reference = self.digest_ref(digest);
        let whole = reference.whole();
        let cached = cache.map(|c| cache_path(c, digest));
        let (body, downloaded) = match cached.as_ref().and_then(|p| std::fs::read(p).ok()) {
            Some(body) if sha256(&body) == digest => (body, 0),
            _ => {
                let (body, _) = self
                    .client
                    .pull_manifest_raw(&reference, &self.auth, &MANIFEST_TYPES)
                    .await
                    .map_err(|e| self.classify(&whole, "manifest", e))?;
                let n = body.len() as u64;
                (body.to_vec(), n)
            }
        };
        check_manifest(&self.spec.object, &whole, digest, &body)?;
        let not_artifact = |message: String| Error::NotAnArtifact {
            object: self.spec.object.clone(),
            reference: whole.clone(),
            message,
        };
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| not_artifact(format!("the manifest is not JSON ({e})")))?;
        if value.get("manifests").is_some() {
            return Err(not_artifact(
                "an image index, not an artifact's manifest (Flux artifacts have one manifest)"
                    .into(),
            ));
        }
        let manifest: OciImageManifest = serde_json::from_value(value)
            .map_err(|e| not_artifact(format!("not an OCI manifest ({e})")))?;
        if let (Some(path), 1..) = (&cached, downloaded) {
            store(path, &body).map_err(|source| self.io(path, source))?;
        }
        Ok((manifest, downloaded))
    }

    /// The layer blob in a file, verified: from the cache, or downloaded
    /// (into the cache when there is one); and the bytes downloaded.
    async fn layer(
        &self,
        layer: &OciDescriptor,
        limits: &FetchLimits,
        cache: Option<&Path>,
    ) -> Result<(Blob, u64), Error> {
        let size = u64::try_from(layer.size).unwrap_or(0);
        if size > limits.download_bytes {
            return Err(Error::TooLarge {
                object: self.spec.object.clone(),
                digest: layer.digest.clone(),
                size,
                limit: limits.download_bytes,
            });
        }
        if let Some(cache) = cache {
            let path = cache_path(cache, &layer.digest);
            if path.is_file() {
                let check = path.clone();
                let digest = tokio::task::spawn_blocking(move || sha256_file(&check))
                    .await
                    .ok()
                    .and_then(Result::ok);
                if digest.as_deref() == Some(layer.digest.as_str()) {
                    return Ok((Blob { path, temp: false }, 0));
                }
            }
        }
        let dir = match cache {
            Some(c) => c.join("oci").join("tmp"),
            None => std::env::temp_dir(),
        };
        std::fs::create_dir_all(&dir).map_err(|source| self.io(&dir, source))?;
        let temp = dir.join(format!(
            "layer-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = tokio::fs::File::create(&temp)
            .await
            .map_err(|source| self.io(&temp, source))?;
        let over = Arc::new(AtomicBool::new(false));
        let writer = Limited {
            inner: file,
            left: limits.download_bytes,
            over: over.clone(),
        };
        let reference = self.digest_ref(&layer.digest);
        let mut blob = Blob {
            path: temp.clone(),
            temp: true,
        };
        let result = self.client.pull_blob(&reference, layer, writer).await;
        if over.load(Ordering::Relaxed) {
            return Err(Error::TooLarge {
                object: self.spec.object.clone(),
                digest: layer.digest.clone(),
                size: limits.download_bytes + 1,
                limit: limits.download_bytes,
            });
        }
        result.map_err(|e| self.classify(&reference.whole(), "layer", e))?;
        let downloaded = std::fs::metadata(&temp).map(|m| m.len()).unwrap_or(0);
        if let Some(cache) = cache {
            let path = cache_path(cache, &layer.digest);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| self.io(parent, source))?;
            }
            std::fs::rename(&temp, &path).map_err(|source| self.io(&path, source))?;
            blob = Blob { path, temp: false };
        }
        Ok((blob, downloaded))
    }

    /// An `oci-client` error in this tool's terms.
    fn classify(&self, reference: &str, what: &'static str, e: OciDistributionError) -> Error {
        let object = self.spec.object.clone();
        let registry = self.spec.registry.clone();
        match e {
            OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }) => Error::SupplyChain {
                object,
                what,
                reference: reference.to_string(),
                expected,
                actual,
            },
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => Error::Auth {
                object,
                registry,
                repository: self.spec.repository.clone(),
                secret: match &self.spec.secret_name {
                    Some(name) => format!(" {}", self.spec.qualified(name)),
                    None => ": none is set".into(),
                },
                message: e.to_string(),
            },
            OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
                Error::Unreachable {
                    object,
                    registry,
                    message: error_chain(&r),
                }
            }
            OciDistributionError::ImageManifestNotFoundError(message) => Error::NotFound {
                object,
                reference: reference.to_string(),
                message,
            },
            OciDistributionError::RegistryError { ref envelope, .. }
                if envelope.errors.iter().any(|x| {
                    matches!(
                        x.code,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::NotFound
                    )
                }) =>
            {
                Error::NotFound {
                    object,
                    reference: reference.to_string(),
                    message: e.to_string(),
                }
            }
            OciDistributionError::ServerError { code: 404, .. } => Error::NotFound {
                object,
                reference: reference.to_string(),
                message: e.to_string(),
            },
            OciDistributionError::RequestError(r) => Error::Registry {
                object,
                registry,
                message: error_chain(&r),
            },
            other => Error::Registry {
                object,
                registry,
                message: other.to_string(),
            },
        }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            object: self.spec.object.clone(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A downloaded layer; removed on drop unless it is the cache's copy.
struct Blob {
    path: PathBuf,
    temp: bool,
}

impl Drop for Blob {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A manifest is at most [`MAX_MANIFEST_BYTES`] and hashes to the digest
/// it was asked for.
fn check_manifest(object: &str, reference: &str, digest: &str, body: &[u8]) -> Result<(), Error> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(Error::ManifestTooLarge {
            object: object.to_string(),
            reference: reference.to_string(),
            size: body.len(),
        });
    }
    let actual = sha256(body);
    if actual != digest {
        return Err(Error::SupplyChain {
            object: object.to_string(),
            what: "manifest",
            reference: reference.to_string(),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The layer source-controller takes (`selectLayer`): the first with
/// `spec.layerSelector.mediaType`, or the first of all.
fn select_layer(
    spec: &Spec,
    revision: &Revision,
    manifest: &OciImageManifest,
) -> Result<OciDescriptor, Error> {
    let no_layer = |message: String| Error::NoLayer {
        object: spec.object.clone(),
        reference: revision.to_string(),
        message,
    };
    match &spec.media_type {
        Some(media_type) => manifest
            .layers
            .iter()
            .find(|l| &l.media_type == media_type)
            .cloned()
            .ok_or_else(|| {
                let found: Vec<&str> = manifest.layers.iter().map(|l| l.media_type.as_str()).collect();
                no_layer(format!(
                    "no layer with media type {media_type:?} (spec.layerSelector.mediaType); the artifact has: {}",
                    found.join(", ")
                ))
            }),
        None => manifest
            .layers
            .first()
            .cloned()
            .ok_or_else(|| no_layer("no layers found in the artifact".into())),
    }
}

/// Unpacks the layer into `dest` as source-controller stores the artifact
/// and kustomize-controller unpacks it.
async fn unpack_layer(
    spec: &Spec,
    layer: &OciDescriptor,
    blob: &Path,
    dest: &Path,
    limits: &FetchLimits,
) -> Result<unpack::Unpacked, Error> {
    let (blob, dest, limits) = (blob.to_path_buf(), dest.to_path_buf(), *limits);
    let dest_path = dest.clone();
    let operation = spec.operation;
    let ignore = spec.ignore.clone();
    let object = spec.object.clone();
    let (digest, media_type) = (layer.digest.clone(), layer.media_type.clone());
    tokio::task::spawn_blocking(move || {
        let io = |path: &Path, source| Error::Io {
            object: object.clone(),
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(&blob).map_err(|e| io(&blob, e))?;
        let unpacked = unpack::untar_gz(file, &dest, &limits).map_err(|problem| Error::Unpack {
            object: object.clone(),
            digest: digest.clone(),
            media_type: media_type.clone(),
            problem: Box::new(problem),
        })?;
        if operation == Operation::Extract {
            let rules =
                unpack::ignore::for_artifact_tree(&dest, ignore.as_deref()).map_err(|problem| {
                    Error::Ignore {
                        object: object.clone(),
                        problem: Box::new(problem),
                    }
                })?;
            unpack::ignore::prune(&dest, &rules).map_err(|e| io(&dest, e))?;
        }
        Ok(unpacked)
    })
    .await
    .unwrap_or_else(|_| {
        Err(Error::Io {
            object: spec.object.clone(),
            path: dest_path,
            source: std::io::Error::other("the unpacking thread panicked"),
        })
    })
}

/// An error and its causes on one line (reqwest keeps the useful part,
/// "Connection refused", in the source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_over_4_mib_is_refused_before_its_digest_is_checked() {
        let body = vec![b' '; MAX_MANIFEST_BYTES + 1];
        let digest = sha256(&body);
        let err = check_manifest("flux-system/apps", "r/apps@x", &digest, &body).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "OCIRepository flux-system/apps: the manifest of r/apps@x is {} bytes, more than the 4 MiB a manifest may have: refused",
                MAX_MANIFEST_BYTES + 1
            )
        );
        let small = b"{}".to_vec();
        assert!(check_manifest("o", "r", &sha256(&small), &small).is_ok());
        let err = check_manifest("o", "r", &sha256(b"other"), &small).unwrap_err();
        assert!(matches!(
            err,
            Error::SupplyChain {
                what: "manifest",
                ..
            }
        ));
    }
}
