//! Fetching a group of sources, and reading the Secrets they name.

use super::*;
use crate::source::fetch::Request;
use crate::source::githubapp::TokenCache;

/// Fetches one source at each revision asked for (`None`: its head, the
/// revision of `status.artifact`, as source-controller has it now).
#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch_group(
    id: &SourceId,
    object: Option<&Value>,
    revisions: &[Option<String>],
    options: &Options,
    work: &Path,
    cache: Option<&Path>,
    live: Option<&Live>,
    tokens: &TokenCache,
) -> Results {
    let all_fail = |e: Arc<SourcesError>| {
        revisions
            .iter()
            .map(|r| ((id.clone(), r.clone()), Err(e.clone())))
            .collect()
    };
    let Some(object) = object else {
        return all_fail(Arc::new(SourcesError::NotFound(id.clone())));
    };
    let secrets = match read_secrets(id, object, options, live).await {
        Ok(s) => s,
        Err(e) => return all_fail(Arc::new(e)),
    };
    let head_revision = object
        .pointer("/status/artifact/revision")
        .and_then(Value::as_str)
        .map(str::to_string);
    let cache = cache.map(|c| c.join("sources"));
    let mut out = Vec::new();
    for revision in revisions {
        let asked = revision.clone().or_else(|| head_revision.clone());
        let dest = work.join("trees").join(tree_dir_name(id, asked.as_deref()));
        let started = std::time::Instant::now();
        let result = async {
            std::fs::create_dir_all(&dest).map_err(|source| SourcesError::Fetch {
                source_id: id.clone(),
                source: cluster::FetchError::Git(
                    SourceError::Io {
                        path: dest.clone(),
                        source,
                    }
                    .into(),
                ),
            })?;
            let fetched = tokio::time::timeout(
                options.limits.timeout + std::time::Duration::from_secs(5),
                cluster::fetch(
                    &id.kind,
                    &Request {
                        object,
                        secrets: &secrets,
                        applied: asked.as_deref(),
                        dest: &dest,
                        limits: &options.limits,
                        cache: cache.as_deref(),
                        tokens,
                    },
                ),
            )
            .await
            .unwrap_or_else(|_| {
                Err(cluster::FetchError::Other(
                    format!("timed out after {}s", options.limits.timeout.as_secs()).into(),
                ))
            })
            .map_err(|source| SourcesError::Fetch {
                source_id: id.clone(),
                source,
            })?;
            tracing::info!(
                source = %id,
                revision = %fetched.revision,
                downloaded_bytes = fetched.downloaded_bytes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "Fetched a source"
            );
            Ok(Tree {
                root: dest.clone(),
                revision: fetched.revision,
            })
        }
        .await
        .map_err(Arc::new);
        out.push(((id.clone(), revision.clone()), result));
    }
    out
}

pub(super) fn tree_dir_name(id: &SourceId, revision: Option<&str>) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{id}@{}", revision.unwrap_or("")).as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{hash}", id.namespace, id.name)
}

/// The Secrets a source names: from its `sources.secretDirs` directory when
/// one is configured, else from the cluster, in the source's namespace.
pub(super) async fn read_secrets(
    id: &SourceId,
    object: &Value,
    options: &Options,
    live: Option<&Live>,
) -> Result<SourceSecrets, SourcesError> {
    let spec = object.get("spec");
    let name = |field: &str| {
        spec.and_then(|s| s.pointer(&format!("/{field}/name")))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    let dir = options
        .secret_dirs
        .get(&format!("{}/{}", id.namespace, id.name));
    let mut secrets = SourceSecrets::default();
    for (field, slot) in [
        ("secretRef", &mut secrets.secret),
        ("certSecretRef", &mut secrets.cert),
        ("proxySecretRef", &mut secrets.proxy),
    ] {
        let Some(secret) = name(field) else { continue };
        let error = |why: String| SourcesError::Secret {
            source_id: id.clone(),
            namespace: id.namespace.clone(),
            name: secret.clone(),
            why,
        };
        let data = match dir {
            // One directory per source holds the secretRef's keys; the
            // others in sub-directories named after the field.
            Some(dir) => {
                let dir = if field == "secretRef" {
                    dir.clone()
                } else {
                    dir.join(field)
                };
                read_dir_secret(&dir).map_err(|e| error(format!("sources.secretDirs: {e}")))?
            }
            None => match live.map(|live| live.secret_data(&id.namespace, &secret)) {
                None => {
                    return Err(error(
                        "no cluster to read it from: mount it and set sources.secretDirs".into(),
                    ));
                }
                Some(read) => match read.await {
                    Ok(Some(data)) => data,
                    Ok(None) => return Err(error("it does not exist".into())),
                    Err(LiveError::Status { code: 403, .. }) => {
                        return Err(error(format!(
                            "forbidden: grant get on Secrets in {} with job/components/source-secrets, or mount it and set sources.secretDirs",
                            id.namespace
                        )));
                    }
                    Err(e) => return Err(error(crate::error::error_chain(&e))),
                },
            },
        };
        *slot = Some(SecretData(data));
    }
    Ok(secrets)
}

/// A mounted Secret: each regular file is a key (dot-files, the kubelet's
/// `..data` links, left out).
pub(super) fn read_dir_secret(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut data = BTreeMap::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || !entry.path().is_file() {
            continue;
        }
        let value = std::fs::read(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        data.insert(name, value);
    }
    Ok(data)
}

/// Copies the directory `from` to `to` (merged over what is there).
pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    if !from.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such directory in the included artifact",
        ));
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
