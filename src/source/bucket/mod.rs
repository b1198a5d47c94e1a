//! `Bucket` sources (S3-compatible, `spec.provider: generic`, or `aws` with
//! static keys): the bucket's objects, written out as source-controller's
//! artifact has them, and the revision source-controller computes for them.
//!
//! Input: the `Bucket` object as read from the cluster, the data of the
//! Secrets it names (`accesskey`/`secretkey`; `ca.crt`), the
//! Kustomization's `status.lastAppliedRevision` (`sha256:<hex>`), an empty
//! directory. Output: every object under `spec.prefix` not ignored (by the
//! bucket's own `.sourceignore` and `spec.ignore`), under its key, and the
//! revision written. A bucket keeps no history: when its objects changed
//! since Flux applied them, the current content is all there is, and the
//! result says so (`is_applied: false`, the current revision).
//!
//! With a cache directory, the tree of each revision is kept: a bucket that
//! did not change is written out again with nothing downloaded (the listing
//! is always read, to know the revision). S3 access uses Apache Arrow's
//! `object_store`.

mod index;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use tracing::info;

pub use index::{Index, revision_matches};
pub use spec::Spec;

use super::cluster::FetchError;
use super::fetch::{FetchLimits, Fetched, Request, SourceSecrets};
use super::unpack::ignore::{IGNORE_FILE, PatternError, Rules};

/// Objects downloaded at once.
const CONCURRENT_GETS: usize = 8;

/// Why a `Bucket`'s objects could not be fetched. Every message starts with
/// `Bucket <namespace>/<name>:` and never holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the object is missing or malformed.
    #[error("Bucket {object}: {field}: {message}")]
    Spec {
        object: String,
        field: String,
        message: String,
    },
    /// `spec.provider` asks for a cloud's workload identity.
    #[error(
        "Bucket {object}: could not check: cloud workload identity is not supported here (spec.provider: {provider}; use a secretRef with accesskey/secretkey)"
    )]
    CloudIdentity { object: String, provider: String },
    /// A Secret the object names lacks a key or is malformed.
    #[error("Bucket {object}: Secret {secret}: {message}")]
    Secret {
        object: String,
        secret: String,
        message: String,
    },
    /// Nothing answered at the endpoint (or TLS failed).
    #[error("Bucket {object}: endpoint {endpoint} unreachable: {message}")]
    Unreachable {
        object: String,
        endpoint: String,
        message: String,
    },
    /// The server refused the keys (or wants some).
    #[error(
        "Bucket {object}: {endpoint} refused access to bucket {bucket} (check spec.secretRef{secret}): {message}"
    )]
    Auth {
        object: String,
        endpoint: String,
        bucket: String,
        secret: String,
        message: String,
    },
    /// The bucket does not exist.
    #[error("Bucket {object}: bucket {bucket:?} not found at {endpoint}")]
    NoSuchBucket {
        object: String,
        endpoint: String,
        bucket: String,
    },
    /// An object's key cannot be written inside the tree.
    #[error(
        "Bucket {object}: object key {key:?} climbs out of the tree (absolute or with `..`): refused"
    )]
    KeyOutside { object: String, key: String },
    /// The objects are more (or bigger) than the limits allow.
    #[error("Bucket {object}: {message}")]
    TooLarge { object: String, message: String },
    /// `spec.ignore` or the bucket's `.sourceignore` holds a bad pattern.
    #[error("Bucket {object}: {problem}")]
    Ignore {
        object: String,
        problem: PatternError,
    },
    /// The fetch took longer than its limit.
    #[error("Bucket {object}: timed out after {seconds}s")]
    Timeout { object: String, seconds: u64 },
    /// Any other answer of the server.
    #[error("Bucket {object}: {endpoint}: {message}")]
    Store {
        object: String,
        endpoint: String,
        message: String,
    },
    /// The destination or cache cannot be written.
    #[error("Bucket {object}: {}: {source}", path.display())]
    Io {
        object: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The fetcher of Bucket sources, as the source kinds' table calls it.
pub async fn fetch_source(r: &Request<'_>) -> Result<Fetched, FetchError> {
    fetch(r.object, r.secrets, r.applied, r.dest, r.limits, r.cache)
        .await
        .map_err(|e| FetchError::Bucket(Box::new(e)))
}

/// Fetches the bucket's objects into `dest`. `applied` is the revision the
/// Kustomization last applied: when the bucket's current revision differs,
/// the current objects are written and `is_applied` is false.
pub async fn fetch(
    object: &serde_json::Value,
    secrets: &SourceSecrets,
    applied: Option<&str>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> Result<Fetched, Error> {
    let spec = Spec::parse(object, secrets)?;
    let work = run(&spec, applied, dest, limits, cache);
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            object: spec.object.clone(),
            seconds: limits.timeout.as_secs(),
        }),
    }
}

async fn run(
    spec: &Spec,
    applied: Option<&str>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> Result<Fetched, Error> {
    let started = std::time::Instant::now();
    let store = Arc::new(client(spec, limits)?);
    let session = Session { spec, store };
    let ignore_file = session.get_optional(IGNORE_FILE).await?;
    let mut rules = Rules::new();
    let add = |rules: &mut Rules, text: &str, origin: &str| {
        rules
            .add(Path::new(""), text, origin)
            .map_err(|problem| Error::Ignore {
                object: spec.object.clone(),
                problem,
            })
    };
    if let Some(text) = &ignore_file {
        add(&mut rules, &String::from_utf8_lossy(text), IGNORE_FILE)?;
    }
    if let Some(text) = &spec.ignore {
        add(&mut rules, text, "spec.ignore")?;
    }
    let listing = session.list(&rules).await?;
    let total: u64 = listing.iter().map(|o| o.size).sum();
    if listing.len() as u64 > limits.files {
        return Err(too_large(
            spec,
            format!(
                "{} objects, more than the limit of {}",
                listing.len(),
                limits.files
            ),
        ));
    }
    if total > limits.download_bytes.min(limits.unpacked_bytes) {
        return Err(too_large(
            spec,
            format!(
                "{total} bytes of objects, more than the limit of {}",
                limits.download_bytes.min(limits.unpacked_bytes)
            ),
        ));
    }
    let mut index = Index::default();
    for object in &listing {
        index.add(&object.key, &object.etag);
    }
    let listed_revision = index.revision();
    let cached_tree = cache.map(|c| cache_dir(c, spec).join(hex_of(&listed_revision)));
    let (revision, downloaded) = match &cached_tree {
        Some(tree) if tree.is_dir() => {
            copy_tree(tree, dest).map_err(|e| io(spec, tree, e))?;
            (listed_revision, 0)
        }
        _ => {
            let downloaded = session.download(&listing, &mut index, dest).await?;
            if let Some(text) = &ignore_file {
                let path = dest.join(IGNORE_FILE);
                std::fs::write(&path, text).map_err(|e| io(spec, &path, e))?;
            }
            let revision = index.revision();
            if let (Some(cache), true) = (cache, revision == listed_revision) {
                let tree = cache_dir(cache, spec).join(hex_of(&revision));
                keep_in_cache(dest, &tree).map_err(|e| io(spec, &tree, e))?;
            }
            (revision, downloaded)
        }
    };
    let is_applied = applied.is_none_or(|a| revision_matches(a, &revision));
    info!(
        source = %spec.object,
        revision = %revision,
        applied = applied.unwrap_or("none"),
        is_applied,
        objects = listing.len(),
        downloaded_bytes = downloaded,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Fetched the bucket"
    );
    Ok(Fetched {
        revision,
        is_applied: applied.is_some() && is_applied,
        downloaded_bytes: downloaded,
    })
}

/// One listed object.
struct Listed {
    key: String,
    location: Key,
    etag: String,
    size: u64,
}

struct Session<'a> {
    spec: &'a Spec,
    store: Arc<AmazonS3>,
}

impl Session<'_> {
    /// An object's bytes, or `None` when it does not exist.
    async fn get_optional(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.store.get(&Key::from(key)).await {
            Ok(result) => match result.bytes().await {
                Ok(bytes) => Ok(Some(bytes.to_vec())),
                Err(e) => Err(self.classify(e)),
            },
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// The objects under `spec.prefix` that go into the artifact
    /// (source-controller `fetchEtagIndex`): no "directory" keys, not the
    /// `.sourceignore`, none the rules ignore.
    async fn list(&self, rules: &Rules) -> Result<Vec<Listed>, Error> {
        let prefix = self.spec.prefix.as_str();
        // object_store lists by whole path segments; Flux's prefix is a raw
        // string prefix. List the segment part, then filter.
        let segment = prefix.rfind('/').map(|i| Key::from(&prefix[..i]));
        let mut stream = self.store.list(segment.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.classify(e))?;
            let key = meta.location.as_ref().to_string();
            if !key.starts_with(prefix) || key.ends_with('/') || key == IGNORE_FILE {
                continue;
            }
            if rules.is_ignored(Path::new(&key), false) {
                continue;
            }
            out.push(Listed {
                etag: meta
                    .e_tag
                    .as_deref()
                    .map(trim_etag)
                    .unwrap_or_default()
                    .to_string(),
                key,
                location: meta.location,
                size: meta.size,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Downloads the objects into `dest` under their keys, a few at a time;
    /// an object's ETag as served replaces the listed one (as Flux does).
    async fn download(
        &self,
        listing: &[Listed],
        index: &mut Index,
        dest: &Path,
    ) -> Result<u64, Error> {
        for object in listing {
            if !safe_key(&object.key) {
                return Err(Error::KeyOutside {
                    object: self.spec.object.clone(),
                    key: object.key.clone(),
                });
            }
        }
        let results: Vec<(String, Option<String>, u64)> =
            futures::stream::iter(listing.iter().map(|object| {
                let store = self.store.clone();
                let path = dest.join(&object.key);
                async move {
                    let result = match store.get(&object.location).await {
                        Ok(result) => result,
                        // Gone since the listing: left out, as Flux does.
                        Err(object_store::Error::NotFound { .. }) => {
                            return Ok((object.key.clone(), None, 0));
                        }
                        Err(e) => return Err(self.classify(e)),
                    };
                    let etag = result
                        .meta
                        .e_tag
                        .as_deref()
                        .map(trim_etag)
                        .map(str::to_string);
                    let bytes = result.bytes().await.map_err(|e| self.classify(e))?;
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(|e| io(self.spec, parent, e))?;
                    }
                    tokio::fs::write(&path, &bytes)
                        .await
                        .map_err(|e| io(self.spec, &path, e))?;
                    Ok::<_, Error>((
                        object.key.clone(),
                        Some(etag.unwrap_or_default()),
                        bytes.len() as u64,
                    ))
                }
            }))
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await?;
        let mut downloaded = 0;
        for (key, etag, bytes) in results {
            downloaded += bytes;
            match etag {
                None => index.remove(&key),
                Some(etag) if !etag.is_empty() => index.add(&key, &etag),
                Some(_) => {}
            }
        }
        Ok(downloaded)
    }

    /// An `object_store` error in this tool's terms.
    fn classify(&self, e: object_store::Error) -> Error {
        let spec = self.spec;
        let message = error_chain(&e);
        let lower = message.to_lowercase();
        if matches!(
            e,
            object_store::Error::Unauthenticated { .. }
                | object_store::Error::PermissionDenied { .. }
        ) || lower.contains("403")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("invalidaccesskeyid")
            || lower.contains("accessdenied")
        {
            return Error::Auth {
                object: spec.object.clone(),
                endpoint: spec.endpoint.clone(),
                bucket: spec.bucket.clone(),
                secret: match &spec.secret_name {
                    Some(name) => format!(" {}", spec.qualified(name)),
                    None => ": none is set".into(),
                },
                message,
            };
        }
        if lower.contains("nosuchbucket") {
            return Error::NoSuchBucket {
                object: spec.object.clone(),
                endpoint: spec.endpoint.clone(),
                bucket: spec.bucket.clone(),
            };
        }
        if lower.contains("connection refused")
            || lower.contains("error sending request")
            || lower.contains("dns error")
            || lower.contains("certificate")
            || lower.contains("tcp connect")
        {
            return Error::Unreachable {
                object: spec.object.clone(),
                endpoint: spec.endpoint.clone(),
                message,
            };
        }
        Error::Store {
            object: spec.object.clone(),
            endpoint: spec.endpoint.clone(),
            message,
        }
    }
}

/// The S3 client for the object: its endpoint, path-style, the static keys
/// (or unsigned requests without a Secret), the CA, bounded retries.
fn client(spec: &Spec, limits: &FetchLimits) -> Result<AmazonS3, Error> {
    let mut options = ClientOptions::new()
        .with_timeout(limits.timeout)
        .with_connect_timeout(limits.timeout.min(std::time::Duration::from_secs(30)))
        .with_allow_http(spec.insecure);
    if let Some(pem) = &spec.ca {
        let certificate = object_store::Certificate::from_pem(pem).map_err(|e| Error::Secret {
            object: spec.object.clone(),
            secret: spec.qualified(spec.cert_secret_name.as_deref().unwrap_or_default()),
            message: format!("ca.crt is not a PEM certificate ({e})"),
        })?;
        options = options.with_root_certificate(certificate);
    }
    let retry = RetryConfig {
        max_retries: 1,
        retry_timeout: limits.timeout.min(std::time::Duration::from_secs(10)),
        ..RetryConfig::default()
    };
    let mut builder = AmazonS3Builder::new()
        .with_endpoint(spec.endpoint_url())
        .with_bucket_name(&spec.bucket)
        .with_region(&spec.region)
        .with_virtual_hosted_style_request(false)
        .with_allow_http(spec.insecure)
        .with_client_options(options)
        .with_retry(retry);
    builder = match &spec.keys {
        Some((access, secret)) => builder
            .with_access_key_id(access)
            .with_secret_access_key(secret),
        None => builder.with_skip_signature(true),
    };
    builder.build().map_err(|e| Error::Spec {
        object: spec.object.clone(),
        field: "spec.endpoint".into(),
        message: format!("{:?}: {e}", spec.endpoint),
    })
}

/// minio-go `trimEtag`: the ETag without its quotes.
fn trim_etag(etag: &str) -> &str {
    let etag = etag.strip_prefix("&quot;").unwrap_or(etag);
    let etag = etag.strip_suffix("&quot;").unwrap_or(etag);
    etag.trim_matches('"')
}

/// Whether a key can be written under the destination: relative, without
/// `..` or empty segments that would climb out.
fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && key.split('/').all(|part| part != ".." && part != ".")
}

fn too_large(spec: &Spec, message: String) -> Error {
    Error::TooLarge {
        object: spec.object.clone(),
        message,
    }
}

fn io(spec: &Spec, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        object: spec.object.clone(),
        path: path.to_path_buf(),
        source,
    }
}

fn hex_of(revision: &str) -> &str {
    revision.strip_prefix("sha256:").unwrap_or(revision)
}

/// The cache's directory for one bucket (endpoint, name and prefix, hashed).
fn cache_dir(cache: &Path, spec: &Spec) -> PathBuf {
    use sha2::Digest;
    let key = format!(
        "{}\n{}\n{}\n{:?}",
        spec.endpoint, spec.bucket, spec.prefix, spec.ignore
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    cache.join("bucket").join(hex)
}

/// Keeps a copy of the tree in the cache (only the latest revision of a
/// bucket is kept).
fn keep_in_cache(tree: &Path, cached: &Path) -> std::io::Result<()> {
    let parent = cached.parent().unwrap_or(Path::new("."));
    let _ = std::fs::remove_dir_all(parent);
    std::fs::create_dir_all(parent)?;
    let temp = parent.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    copy_tree(tree, &temp)?;
    std::fs::rename(&temp, cached)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// An error and its causes on one line.
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
    fn etags_lose_their_quotes_as_minio_go_trims_them() {
        assert_eq!(trim_etag("\"abc\""), "abc");
        assert_eq!(trim_etag("&quot;abc&quot;"), "abc");
        assert_eq!(trim_etag("abc-2"), "abc-2");
    }

    #[test]
    fn keys_that_climb_out_are_refused() {
        assert!(safe_key("apps/cm.yaml"));
        for key in ["../x", "a/../../x", "/etc/passwd", "a\\b", "./x", ""] {
            assert!(!safe_key(key), "{key}");
        }
    }
}
