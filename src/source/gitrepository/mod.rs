//! A `GitRepository` read from the cluster, fetched as source-controller
//! fetches it: its own `spec.url`, `spec.ref`, credentials
//! (`spec.secretRef`, `spec.proxySecretRef`), and its artifact's content
//! (`spec.ignore`, `.sourceignore`, `spec.sparseCheckout`). `spec.include`
//! needs the other sources' trees: [`crate::source::set`] copies them in.
//!
//! The bare clone is kept in the cache directory (one per URL and ref), so a
//! second run fetches only what is new; shallow, deepened as far as the
//! applied commit needs.

mod credentials;
pub mod ignore;
pub mod spec;

use std::path::Path;
use std::sync::Arc;

use gix::remote::fetch::Shallow;
use serde_json::Value;

use super::cluster::FetchError;
use super::fetch::{FetchLimits, Fetched, Request, SourceSecrets};
use super::githubapp::{self, GitHubAppError, TokenCache};
use super::{Private, SourceError, git};
pub use spec::{Follow, GitSpec, Include};

/// A GitRepository could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum GitRepositoryError {
    /// A field of the spec cannot be used.
    #[error("{field} {message}")]
    Spec { field: String, message: String },
    /// The spec asks for something drift-check does not do.
    #[error("{0}")]
    Unsupported(String),
    /// The Secrets' data has the wrong shape.
    #[error("{0}")]
    Secret(String),
    /// No tag is in the semver range.
    #[error("no tag matches spec.ref.semver {0:?}")]
    NoTag(String),
    /// The artifact is larger than the limits.
    #[error("the artifact has more than {0}")]
    TooLarge(String),
    /// No GitHub App installation token could be had.
    #[error(transparent)]
    GitHubApp(#[from] GitHubAppError),
    /// Fetching or writing failed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// The fetcher of GitRepository sources, as the source kinds' table calls it.
pub async fn fetch_source(r: &Request<'_>) -> Result<Fetched, FetchError> {
    Ok(fetch(r.object, r.secrets, r.applied, r.dest, r.limits, r.cache, r.tokens).await?)
}

/// Fetches the GitRepository `object` at the commit of `applied` (Flux's
/// revision, `main@sha1:<sha>`), or at the head of its ref when `None`, into
/// `dest`, as its artifact has it (without `spec.include`). GitHub App
/// tokens come from `tokens`, the run's.
#[allow(clippy::too_many_arguments)]
pub async fn fetch(
    object: &Value,
    secrets: &SourceSecrets,
    applied: Option<&str>,
    dest: &Path,
    limits: &FetchLimits,
    cache: Option<&Path>,
    tokens: &TokenCache,
) -> Result<Fetched, GitRepositoryError> {
    let spec = GitSpec::parse(object.get("spec")).map_err(spec_error)?;
    let github = match spec.provider.as_deref() {
        None | Some("") | Some("generic") => false,
        Some("github") => true,
        Some(other) => {
            return Err(GitRepositoryError::Unsupported(format!(
                "spec.provider {other}: cloud workload identity is not supported here (use a secretRef)"
            )));
        }
    };
    if spec.recurse_submodules {
        return Err(GitRepositoryError::Unsupported(
            "submodules are not supported (spec.recurseSubmodules: true)".into(),
        ));
    }
    let follow = spec.follow().map_err(spec_error)?;
    let parsed =
        credentials::parse(&spec.url, secrets, github).map_err(GitRepositoryError::Secret)?;
    let temp;
    let base = match cache {
        Some(dir) => dir.to_path_buf(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("drift-check-git-")
                .tempdir()
                .map_err(|source| SourceError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            temp.path().to_path_buf()
        }
    };
    let private = base.join("private");
    std::fs::create_dir_all(&private).map_err(|source| SourceError::Io {
        path: private.clone(),
        source,
    })?;
    let unique = format!("{}-{}", std::process::id(), next_id());
    let ssh_log = private.join(format!("ssh-{unique}.log"));
    let key = private.join(format!("key-{unique}"));
    let identity = private.join(format!("identity-{unique}"));
    let known_hosts = private.join(format!("known_hosts-{unique}"));
    let _guard = Private::new(vec![
        ssh_log.clone(),
        key.clone(),
        identity.clone(),
        known_hosts.clone(),
    ]);
    let mut credentials = parsed.credentials;
    if let Some(app) = &parsed.app {
        let http = githubapp::client(
            credentials.ca_pem.as_deref(),
            credentials.proxy.as_ref(),
            limits.timeout,
        )?;
        let token = tokens.token(app, &http).await?;
        credentials.basic = Some((githubapp::USERNAME.into(), token.expose().to_string()));
    }
    if let Some(data) = &parsed.identity {
        super::write_private(&identity, data)?;
        credentials.identity = Some(identity.clone());
    }
    if let Some(data) = &parsed.known_hosts {
        super::write_private(&known_hosts, data)?;
        credentials.known_hosts = Some(known_hosts.clone());
    }
    let ssh_command = super::ssh_command(&credentials, &key, &ssh_log, limits.timeout)?;
    let fetch_ref = follow.fetch_ref();
    let mirror = Arc::new(git::Mirror {
        dir: base.join("repos").join(super::repo_dir_name(&format!(
            "{}#{}",
            spec.url,
            fetch_ref.as_deref().unwrap_or("tags")
        ))),
        url: spec.url.clone(),
        branch: fetch_ref.clone().unwrap_or_default(),
        credentials,
        ssh_log,
        ssh_command: Some(ssh_command),
        connect_timeout: limits.timeout.as_secs().clamp(1, 60),
        received: Default::default(),
    });
    let timeout = limits.timeout;
    fn depth1() -> Shallow {
        Shallow::DepthAtRemote(1.try_into().expect("1 > 0"))
    }
    // The head: what the ref points to now.
    let (head, tag) = match &follow {
        Follow::Semver(range) => {
            let req = spec::semver_req(range).map_err(|m| GitRepositoryError::Spec {
                field: "spec.ref.semver".into(),
                message: m,
            })?;
            let tags = super::blocking(mirror.clone(), timeout, move |m: &git::Mirror, stop| {
                m.fetch_tags(depth1(), stop)
            })
            .await?;
            let Some(tag) = spec::highest_tag(&req, tags.iter().map(|(t, _)| t.as_str())) else {
                return Err(GitRepositoryError::NoTag(range.clone()));
            };
            let id = tags.iter().find(|(t, _)| t == tag).map(|(_, id)| *id);
            (id.expect("a listed tag"), Some(tag.to_string()))
        }
        Follow::Commit { commit, branch } => {
            if branch.is_some() {
                super::blocking(mirror.clone(), timeout, |m: &git::Mirror, stop| {
                    m.fetch_branch(depth1(), stop)
                })
                .await?;
            }
            let wanted = commit.clone();
            let id = super::blocking(mirror.clone(), timeout, move |m: &git::Mirror, stop| {
                m.ensure_commit(&wanted, stop)
            })
            .await?;
            (id, None)
        }
        _ => {
            let id = super::blocking(mirror.clone(), timeout, |m: &git::Mirror, stop| {
                m.fetch_branch(depth1(), stop)
            })
            .await?;
            (id, None)
        }
    };
    let wanted = applied
        .map(crate::flux::revision_commit)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let commit = match &wanted {
        Some(sha) if !head.to_string().starts_with(sha.as_str()) => {
            let sha = sha.clone();
            super::blocking(mirror.clone(), timeout, move |m: &git::Mirror, stop| {
                m.ensure_commit(&sha, stop)
            })
            .await?
        }
        _ => head,
    };
    super::blocking(mirror.clone(), timeout, {
        let dest = dest.to_path_buf();
        move |m: &git::Mirror, _| m.write_tree(commit, &dest)
    })
    .await?;
    let io = |source| SourceError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let rules = ignore::Rules::load(dest, spec.ignore.as_deref()).map_err(io)?;
    ignore::apply(dest, &rules, &spec.sparse_checkout).map_err(io)?;
    check_limits(dest, limits)?;
    let revision = follow.revision(tag.as_deref(), &commit.to_string());
    tracing::info!(url = %mirror.display_url(), %revision, applied = wanted.is_some(), "Fetched a GitRepository");
    Ok(Fetched {
        revision,
        is_applied: wanted.is_some(),
        downloaded_bytes: mirror.received.load(std::sync::atomic::Ordering::Relaxed),
    })
}

fn spec_error((field, message): (String, String)) -> GitRepositoryError {
    GitRepositoryError::Spec { field, message }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The written tree within the limits of files and bytes.
fn check_limits(dest: &Path, limits: &FetchLimits) -> Result<(), GitRepositoryError> {
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut stack = vec![dest.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| SourceError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
        if files > limits.files {
            return Err(GitRepositoryError::TooLarge(format!(
                "{} files",
                limits.files
            )));
        }
        if bytes > limits.unpacked_bytes {
            return Err(GitRepositoryError::TooLarge(format!(
                "{} bytes",
                limits.unpacked_bytes
            )));
        }
    }
    Ok(())
}
