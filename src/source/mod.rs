//! Stage `source`: the git trees to render.
//!
//! Input: [`Options`]: `--repo` (a git URL or a local directory), the branch,
//! an optional revision, a cache directory, credentials from the environment
//! or a mounted Secret. Output: a [`Repo`]: the tree at the branch head (or
//! the revision asked for) as a [`Checkout`], and on demand the tree at any
//! other commit ([`Repo::at`]), so each Kustomization can be rendered from
//! the commit Flux last applied.
//!
//! Git URLs are fetched with gix into a bare repository (in the cache
//! directory when given, so the next run only fetches what is new), shallow
//! (depth 1) and deepened only as far as an older commit needs. Trees are
//! written out as source-controller's artifact has them: regular files and
//! directories. A local directory at the top of a git checkout is a git
//! source too: its work tree (uncommitted changes included) is the head, and
//! older commits are written out from its own object database, never
//! fetched. Any other local directory is used as it is. Credentials never
//! appear in logs, errors or reports.
//!
//! The sources Kustomizations name in the cluster are fetched by kind, one
//! folder per kind, each listed once in the `source_kinds!` table below.

mod auth;
pub mod cluster;
pub mod fetch;
mod git;
pub mod githubapp;
mod infra;
mod local;
mod location;
pub mod set;
pub mod unpack;

/// Declares each source kind's module (its folder), lists the kind in
/// [`KINDS`] (with the version and plural the live source lists it at), and
/// routes [`cluster::fetch`] of the kind to the folder's `fetch_source`
/// (taking a [`fetch::Request`]); `also` lists kinds read but fetched by no
/// folder of this stage.
macro_rules! source_kinds {
    ($(mod $module:ident: $kind:literal $version:literal $plural:literal,)*
     also [$($other:literal $other_version:literal $other_plural:literal),* $(,)?]) => {
        $(pub mod $module;)*

        /// The source kinds a Kustomization's `sourceRef` may name: those
        /// the live source lists, and this stage fetches (or composes).
        pub const KINDS: &[SourceKind] = &[
            $(SourceKind { kind: $kind, version: $version, plural: $plural },)*
            $(SourceKind { kind: $other, version: $other_version, plural: $other_plural },)*
        ];

        /// The fetch of a source of `kind` by its folder; `None`: no folder
        /// fetches it.
        async fn fetch_kind(
            kind: &str,
            request: &fetch::Request<'_>,
        ) -> Option<Result<fetch::Fetched, cluster::FetchError>> {
            match kind {
                $($kind => Some($module::fetch_source(request).await),)*
                _ => None,
            }
        }
    };
}

source_kinds! {
    mod gitrepository: "GitRepository" "v1" "gitrepositories",
    mod oci: "OCIRepository" "v1" "ocirepositories",
    mod bucket: "Bucket" "v1" "buckets",
    // Composed from its ArtifactGenerator's sources (`set/`, `artifact`).
    also ["ExternalArtifact" "v1" "externalartifacts"]
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use gix::remote::fetch::Shallow;
use sha2::Digest;
use tracing::info;

pub use crate::flux::kinds::source::SourceKind;
pub use auth::Credentials;
pub use infra::{Infra, open_infra};
pub use location::Location;

/// A tree ready to render.
#[derive(Clone, Debug)]
pub struct Checkout {
    pub root: PathBuf,
    /// Where it came from, for reports (a URL, redacted, or the directory as given).
    pub url: String,
    /// The commit, when known.
    pub revision: Option<String>,
    /// How the tree was read, when people should know.
    pub note: Option<String>,
}

/// What to read and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub location: Location,
    /// The branch Flux follows (`main`).
    pub branch: String,
    /// Check this commit instead of the branch head (`<sha>` or Flux's `main@sha1:<sha>`).
    pub revision: Option<String>,
    /// Keep the clone here and fetch into it on the next run.
    pub cache_dir: Option<PathBuf>,
    /// A directory in the layout of Flux's git Secret (`identity`,
    /// `known_hosts`, `username`, `password`).
    pub secret_dir: Option<PathBuf>,
    /// Limit for each git operation (connect + fetch).
    pub timeout: Duration,
}

impl Options {
    /// Options for a local directory (or URL) with the defaults.
    pub fn new(location: Location) -> Self {
        Self {
            location,
            branch: "main".into(),
            revision: None,
            cache_dir: None,
            secret_dir: None,
            timeout: Duration::from_secs(120),
        }
    }
}

/// Why a remote operation failed.
#[derive(Debug)]
pub enum Failure {
    /// The server refused the credentials (or none were given).
    Auth(String),
    /// The ssh host key is not in known_hosts (or differs).
    HostKey(String),
    /// Nothing answered: connection refused, unknown host, no route.
    Unreachable(String),
    /// The server's TLS certificate is not trusted.
    Tls(String),
}

/// The repo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `--repo` names a directory that does not exist or is not a directory.
    #[error("{}: not a directory (--repo takes the infra repo's URL or checkout)", path.display())]
    NotADirectory { path: PathBuf },
    /// The server refused the credentials, the host key is unknown, or the
    /// server cannot be reached.
    #[error("{url}: {}", match failure {
        Failure::Auth(m) => format!("authentication failed (check DRIFT_CHECK_GIT_TOKEN / _USERNAME / _PASSWORD or the Secret's identity): {m}"),
        Failure::HostKey(m) => format!("ssh host key not trusted (strict host-key checking: add the host to the Secret's known_hosts): {m}"),
        Failure::Unreachable(m) => format!("server unreachable: {m}"),
        Failure::Tls(m) => format!("TLS certificate not trusted (a private CA: point SSL_CERT_FILE at a bundle holding it): {m}"),
    })]
    Remote { url: String, failure: Failure },
    /// A git operation took longer than `--git-timeout`.
    #[error("{url}: timed out after {seconds}s (--git-timeout)")]
    Timeout { url: String, seconds: u64 },
    /// The operation was interrupted (after a timeout).
    #[error("{url}: interrupted")]
    Interrupted { url: String },
    /// The branch does not exist on the remote.
    #[error("{url}: branch {branch:?} not found on the remote (--branch)")]
    UnknownBranch { url: String, branch: String },
    /// The commit is neither on the branch nor served by id.
    #[error(
        "{url}: revision {revision} not found (not in the history of branch {branch:?}, and the server did not serve it by id)"
    )]
    UnknownRevision {
        url: String,
        revision: String,
        branch: String,
    },
    /// A commit is not in a local checkout's object database (`--revision`,
    /// or the revision Flux applied).
    #[error(
        "{}: revision {revision} is not in this checkout's git objects (run `git fetch` in it, then check again)",
        dir.display()
    )]
    NotInCheckout { dir: PathBuf, revision: String },
    /// `--revision` was given with a local directory that is not the top of a
    /// git checkout.
    #[error(
        "{}: --revision {revision} needs a git checkout, and this directory is not the top of one (point --repo at the checkout's top, or at the repo's URL)",
        dir.display()
    )]
    RevisionOfPlainDirectory { dir: PathBuf, revision: String },
    /// The commit a Kustomization was last applied from cannot be read: the
    /// Kustomization cannot be checked against what Flux applied.
    #[error(
        "Kustomization {kustomization}: cannot read {revision}, the revision Flux last applied"
    )]
    Applied {
        kustomization: String,
        revision: String,
        #[source]
        source: Arc<SourceError>,
    },
    /// Credentials are set inconsistently.
    #[error("git credentials: {message}")]
    Credentials { message: String },
    /// A credentials file cannot be read.
    #[error("git credentials: {}: {source}", path.display())]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Any other git failure, with the action that failed.
    #[error("{url}: could not {action}: {message}")]
    Git {
        url: String,
        action: &'static str,
        message: String,
    },
    /// A commit's tree could not be written out.
    #[error("{url}: could not write the tree of {commit}: {message}")]
    Checkout {
        url: String,
        commit: String,
        message: String,
    },
    /// The cache or work directory cannot be written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The infra repo, opened: the head tree, and older trees on demand.
pub struct Repo {
    head: Checkout,
    /// Where older trees come from (`None`: a plain directory, nothing older).
    store: Option<Store>,
    /// Trees written, and commits that could not be read, by sha.
    trees: BTreeMap<String, Result<Checkout, Arc<SourceError>>>,
}

/// Where the trees of other commits come from.
enum Store {
    Remote(Remote),
    Local(local::LocalCheckout),
}

/// A fetched remote and the trees written from it.
struct Remote {
    mirror: Arc<git::Mirror>,
    trees_dir: PathBuf,
    timeout: Duration,
    /// Removed when the run ends (no cache directory).
    _work: Option<tempfile::TempDir>,
    /// The key copy and ssh's log: removed when the run ends.
    _private: Private,
}

/// Files removed on drop (also when opening fails half-way).
struct Private(Vec<PathBuf>);

impl Private {
    fn new(paths: Vec<PathBuf>) -> Self {
        Private(paths)
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Opens the repo: fetches the branch of a URL (shallow, into the cache when
/// given) and writes its head (or `revision`) out; a local checkout's head
/// is its work tree (or `revision`'s tree, from its object database); any
/// other directory is used as it is. Credentials are read from `env` and the
/// Secret directory.
pub async fn open(
    options: &Options,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Repo, SourceError> {
    let url = match &options.location {
        Location::Dir(path) => return local::open(path, options.revision.as_deref()).await,
        Location::Url(url) => url.clone(),
    };
    let credentials = Credentials::load(env, options.secret_dir.as_deref())?;
    let (work, base) = match &options.cache_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("drift-check-")
                .tempdir()
                .map_err(|source| SourceError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let private = base.join("private");
    for dir in [&base, &private] {
        std::fs::create_dir_all(dir).map_err(|source| SourceError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    let ssh_log = private.join(format!("ssh-{}.log", std::process::id()));
    let key = private.join(format!("identity-{}", std::process::id()));
    let guard = Private(vec![ssh_log.clone(), key.clone()]);
    let ssh_command = ssh_command(&credentials, &key, &ssh_log, options.timeout)?;
    // Trees are cheap to write again; old ones are not left to pile up.
    let _ = std::fs::remove_dir_all(base.join("trees"));
    let mirror = Arc::new(git::Mirror {
        dir: base.join("repos").join(repo_dir_name(&url)),
        url,
        branch: options.branch.clone(),
        credentials,
        ssh_log,
        ssh_command: Some(ssh_command),
        connect_timeout: options.timeout.as_secs().clamp(1, 60),
        received: Default::default(),
    });
    let mut remote = Remote {
        mirror,
        trees_dir: base.join("trees"),
        timeout: options.timeout,
        _work: work,
        _private: guard,
    };
    let started = std::time::Instant::now();
    let head = remote
        .blocking(|m, stop| {
            m.fetch_branch(Shallow::DepthAtRemote(1.try_into().expect("1 > 0")), stop)
        })
        .await?;
    let revision = match &options.revision {
        None => head,
        Some(revision) => {
            let wanted = crate::flux::revision_commit(revision).to_string();
            remote
                .blocking(move |m, stop| m.ensure_commit(&wanted, stop))
                .await?
        }
    };
    info!(
        url = %remote.mirror.display_url(),
        branch = %options.branch,
        head = %head,
        revision = %revision,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Fetched the infra repo"
    );
    let mut checkout = remote.tree(revision).await?;
    if options.revision.is_some() && revision != head {
        checkout.note = Some(format!(
            "revision {revision} asked for; branch {} is at {head}",
            options.branch
        ));
    }
    Ok(Repo {
        head: checkout,
        store: Some(Store::Remote(remote)),
        trees: BTreeMap::new(),
    })
}

impl Repo {
    /// The tree checked: the branch head, the revision asked for, or the local directory.
    pub fn head(&self) -> &Checkout {
        &self.head
    }

    /// The tree at `revision` (a sha or Flux's `main@sha1:<sha>`): fetched
    /// when needed (deepening the shallow clone) for a URL, read from the
    /// object database for a local checkout. `None` when there is nothing
    /// else to render from: a plain directory (rendered as it is), or the
    /// revision is the head's.
    pub async fn at(&mut self, revision: &str) -> Option<Result<Checkout, Arc<SourceError>>> {
        let commit = crate::flux::revision_commit(revision).to_string();
        let head = self.head.revision.as_deref()?;
        if commit.is_empty() || head.starts_with(&commit) || commit.starts_with(head) {
            return None;
        }
        if let Some(result) = self.trees.get(&commit) {
            return Some(result.clone());
        }
        let result = match self.store.as_mut()? {
            Store::Remote(remote) => {
                let wanted = commit.clone();
                match remote
                    .blocking(move |m, stop| m.ensure_commit(&wanted, stop))
                    .await
                {
                    Ok(id) => remote.tree(id).await,
                    Err(e) => Err(e),
                }
            }
            Store::Local(local) => local.tree(&commit).await,
        };
        let result = result.map_err(Arc::new);
        self.trees.insert(commit, result.clone());
        Some(result)
    }
}

impl Remote {
    /// Runs blocking git work on its own thread, within the timeout: on a
    /// timeout gix is told to stop and the thread is left to end by itself
    /// (a plain thread, so a hung server never holds the process at exit).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&git::Mirror, &AtomicBool) -> Result<T, SourceError> + Send + 'static,
    ) -> Result<T, SourceError> {
        blocking(self.mirror.clone(), self.timeout, work).await
    }

    /// Writes the tree of `commit` out (once; reused from the cache).
    async fn tree(&mut self, commit: gix::ObjectId) -> Result<Checkout, SourceError> {
        let root = self.trees_dir.join(commit.to_string());
        if !root.is_dir() {
            let dest = root.clone();
            std::fs::create_dir_all(&self.trees_dir).map_err(|source| SourceError::Io {
                path: self.trees_dir.clone(),
                source,
            })?;
            self.blocking(move |m, _| m.write_tree(commit, &dest))
                .await?;
        }
        Ok(Checkout {
            root,
            url: self.mirror.display_url(),
            revision: Some(commit.to_string()),
            note: None,
        })
    }
}

/// Runs blocking git work on its own thread, within the timeout: on a
/// timeout gix is told to stop and the thread is left to end by itself
/// (a plain thread, so a hung server never holds the process at exit).
async fn blocking<T: Send + 'static>(
    mirror: Arc<git::Mirror>,
    timeout: Duration,
    work: impl FnOnce(&git::Mirror, &AtomicBool) -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (send, receive) = tokio::sync::oneshot::channel();
    let thread_stop = stop.clone();
    let thread_mirror = mirror.clone();
    std::thread::Builder::new()
        .name("git".into())
        .spawn(move || {
            let _ = send.send(work(&thread_mirror, &thread_stop));
        })
        .map_err(|source| SourceError::Io {
            path: mirror.dir.clone(),
            source,
        })?;
    match tokio::time::timeout(timeout, receive).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(SourceError::Git {
            url: mirror.display_url(),
            action: "finish",
            message: "the git thread panicked".into(),
        }),
        Err(_) => {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            Err(SourceError::Timeout {
                url: mirror.display_url(),
                seconds: timeout.as_secs(),
            })
        }
    }
}

/// The cache directory's name for a URL: readable, and unique per URL.
fn repo_dir_name(url: &str) -> String {
    let redacted = crate::redact::url(url);
    let digest = sha2::Sha256::digest(url.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let tail: String = redacted
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{tail}-{hash}.git")
}

/// The ssh command gix runs: batch mode (never a prompt), strict host-key
/// checking, the Secret's key (copied with mode 0600: ssh refuses a key others
/// can read, and a mounted Secret often is) and known_hosts, stderr kept to
/// name the cause of a failure.
fn ssh_command(
    credentials: &Credentials,
    key: &Path,
    log: &Path,
    timeout: Duration,
) -> Result<String, SourceError> {
    let mut command = format!(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout={} -o ServerAliveInterval=15",
        timeout.as_secs().clamp(1, 60)
    );
    if let Some(identity) = &credentials.identity {
        let data = std::fs::read(identity).map_err(|source| SourceError::SecretFile {
            path: identity.clone(),
            source,
        })?;
        write_private(key, &data)?;
        command.push_str(&format!(
            " -o IdentitiesOnly=yes -o IdentityAgent=none -i {}",
            shell_quote(key)
        ));
    }
    if let Some(known_hosts) = &credentials.known_hosts {
        command.push_str(&format!(
            " -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null",
            shell_quote(known_hosts)
        ));
    }
    command.push_str(&format!(" 2>{}", shell_quote(log)));
    Ok(command)
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), SourceError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(data).map_err(io)?;
    // ssh wants the key to end with a newline; Secrets sometimes lose it.
    if !data.ends_with(b"\n") {
        file.write_all(b"\n").map_err(io)?;
    }
    Ok(())
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_directories_are_named_after_the_repo_without_credentials() {
        let name = repo_dir_name("https://user:s3cret@example.com/org/infra.git");
        assert!(
            name.starts_with("infra-") && name.ends_with(".git"),
            "{name}"
        );
        assert!(!name.contains("s3cret"));
        assert_ne!(name, repo_dir_name("https://example.com/other/infra.git"));
        assert!(repo_dir_name("git@github.com:org/platform.git").starts_with("platform-"));
    }

    #[test]
    fn ssh_is_strict_and_uses_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("identity"), "KEY").unwrap();
        std::fs::write(dir.path().join("known_hosts"), "h").unwrap();
        let c = Credentials::load(|_| None, Some(dir.path())).unwrap();
        let key = dir.path().join("key");
        let cmd = ssh_command(&c, &key, &dir.path().join("log"), Duration::from_secs(5)).unwrap();
        assert!(cmd.contains("StrictHostKeyChecking=yes"), "{cmd}");
        assert!(cmd.contains("BatchMode=yes"), "{cmd}");
        assert!(cmd.contains("UserKnownHostsFile="), "{cmd}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read(&key).unwrap(), b"KEY\n");
    }

    #[tokio::test]
    async fn a_local_directory_is_used_as_it_is_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let repo = local::open(dir.path(), None).await.unwrap();
        let checkout = repo.head();
        assert_eq!(checkout.root, dir.path());
        assert_eq!(checkout.revision, None);
        assert_eq!(
            checkout.note.as_deref(),
            Some("local directory, used as it is (uncommitted changes included)")
        );
        let err = local::open(&dir.path().join("nope"), None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("not a directory (--repo takes the infra repo's URL or checkout)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_revision_of_a_plain_directory_is_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let err = local::open(dir.path(), Some(sha)).await.err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: --revision {sha} needs a git checkout, and this directory is not the top of one (point --repo at the checkout's top, or at the repo's URL)",
                dir.path().display()
            )
        );
    }

    #[test]
    fn only_the_top_of_a_checkout_is_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        gix::init(dir.path()).unwrap();
        let sub = dir.path().join("infra");
        std::fs::create_dir(&sub).unwrap();
        match git::inspect(&sub) {
            git::Local::Inside { top } => {
                assert_eq!(
                    top.canonicalize().unwrap(),
                    dir.path().canonicalize().unwrap()
                )
            }
            other => panic!("{other:?}"),
        }
        // No commit yet: nothing Flux can have applied.
        assert!(matches!(git::inspect(dir.path()), git::Local::Plain));
        let plain = tempfile::tempdir().unwrap();
        assert!(matches!(git::inspect(plain.path()), git::Local::Plain));
    }
}
