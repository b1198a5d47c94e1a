//! What every kind of Flux source fetcher takes and gives: the data of the
//! Secrets a source names, the limits of one fetch, and what was fetched.
//!
//! Shared by the fetchers of `GitRepository`, `OCIRepository` and `Bucket`
//! objects read from the cluster: each writes the artifact Flux applied into
//! an empty directory it is given, and says which revision it wrote, in
//! Flux's own revision format (`main@sha1:<sha>`, `<tag>@sha256:<digest>`,
//! `sha256:<digest>`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::githubapp::TokenCache;

/// A Secret's `data`, decoded. Never printed: its `Debug` lists keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData(pub BTreeMap<String, Vec<u8>>);

impl SecretData {
    /// The value of `key`, as text (trailing newline kept, as Flux reads it).
    pub fn text(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The Secrets a source names, read from its namespace (or from a directory
/// mounted into the Job, `sources.secretDirs`): `spec.secretRef`,
/// `spec.certSecretRef` and `spec.proxySecretRef`. `None` when the source
/// names none.
#[derive(Clone, Debug, Default)]
pub struct SourceSecrets {
    pub secret: Option<SecretData>,
    pub cert: Option<SecretData>,
    pub proxy: Option<SecretData>,
}

/// The bounds of one source's fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// Connect + transfer of the whole fetch.
    pub timeout: Duration,
    /// Bytes downloaded (a manifest, a layer, a bucket's objects).
    pub download_bytes: u64,
    /// Bytes written out once unpacked (a decompression bomb stops here).
    pub unpacked_bytes: u64,
    /// Files written out.
    pub files: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            download_bytes: 512 << 20,
            unpacked_bytes: 2 << 30,
            files: 200_000,
        }
    }
}

/// What a fetcher wrote into the directory it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The revision written, in Flux's format.
    pub revision: String,
    /// Whether it is the revision the Kustomization last applied (false:
    /// that one could not be had, e.g. a bucket's objects changed since,
    /// and this is the source's current content, the "head").
    pub is_applied: bool,
    /// Bytes downloaded (0 when served from the cache).
    pub downloaded_bytes: u64,
}

/// What a kind's fetcher is asked: fetch the source `object` at `applied`
/// (Flux's revision), or at its head when `None`, into the empty directory
/// `dest`. Each kind's folder has a `fetch_source(&Request)` that the kind's
/// line in `source_kinds!` (`src/source/mod.rs`) routes to.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub object: &'a Value,
    pub secrets: &'a SourceSecrets,
    pub applied: Option<&'a str>,
    pub dest: &'a Path,
    pub limits: &'a FetchLimits,
    /// The run's cache directory of sources, when there is one.
    pub cache: Option<&'a Path>,
    /// The run's GitHub App installation tokens.
    pub tokens: &'a TokenCache,
}
