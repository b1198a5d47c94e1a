//! The blocking git work, with gix: fetch a branch shallowly into a bare
//! repository, deepen until a commit is there, write a commit's tree to a
//! directory; and for a local directory: is it the top of a checkout, its
//! HEAD, whether tracked files changed, a commit from its object database
//! (never the network). Callers run it off the async runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::ObjectId;
use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};

use super::auth::Credentials;
use super::{Failure, SourceError};
use crate::redact;

/// A bare repository holding what was fetched of one remote.
pub struct Mirror {
    pub dir: PathBuf,
    /// The URL as given (may carry credentials: never shown as is).
    pub url: String,
    pub branch: String,
    pub credentials: Credentials,
    /// ssh's stderr goes here, to name the cause of a failure.
    pub ssh_log: PathBuf,
    /// The ssh command with the Secret's key and known_hosts, when set.
    pub ssh_command: Option<String>,
    /// Seconds ssh waits to connect.
    pub connect_timeout: u64,
    /// Bytes of the packs received so far (0 when the clone was up to date).
    pub received: std::sync::atomic::AtomicU64,
}

impl Mirror {
    /// The refspec fetching the ref followed, and the local ref it lands in:
    /// a branch name lands in `refs/remotes/origin/`, a full ref name
    /// (`refs/tags/v1.2.0`, `refs/pull/1/head`) under its own name.
    fn refspec(&self) -> (String, String) {
        match self.branch.strip_prefix("refs/") {
            Some(_) => (format!("+{0}:{0}", self.branch), self.branch.clone()),
            None => (
                format!("+refs/heads/{0}:refs/remotes/origin/{0}", self.branch),
                format!("refs/remotes/origin/{}", self.branch),
            ),
        }
    }
}

/// How far the deepening goes before giving up on the branch's history
/// (then the whole history is fetched, then the commit is asked for by id).
const DEEPEN_STEPS: [u32; 4] = [16, 128, 1024, 8192];

impl Mirror {
    /// Opens the bare repository, creating it when missing.
    fn open(&self) -> Result<gix::Repository, SourceError> {
        let repo = if self.dir.join("HEAD").is_file() {
            gix::open(&self.dir)
        } else {
            std::fs::create_dir_all(&self.dir).map_err(|source| SourceError::Io {
                path: self.dir.clone(),
                source,
            })?;
            gix::init_bare(&self.dir)
        };
        let mut repo = repo.map_err(|e| self.error("open the cache repository", &e))?;
        {
            let mut config = repo.config_snapshot_mut();
            let connect_ms = (self.connect_timeout * 1000).to_string();
            let mut set = |key: &str, value: &str| {
                config
                    .set_raw_value(key, value)
                    .map_err(|e| self.error("configure the repository", &e))
                    .map(|_| ())
            };
            set("gitoxide.http.connectTimeout", &connect_ms)?;
            // Never ask on a terminal: credentials come from env or files only.
            set("core.askPass", "")?;
            set("credential.helper", "")?;
            if let Some(command) = &self.ssh_command {
                set("core.sshCommand", command)?;
                set("ssh.variant", "ssh")?;
            }
        }
        Ok(repo)
    }

    /// Fetches the branch (shallow as `shallow` says) and returns its head.
    pub fn fetch_branch(
        &self,
        shallow: Shallow,
        interrupt: &AtomicBool,
    ) -> Result<ObjectId, SourceError> {
        let repo = self.open()?;
        let (spec, name) = self.refspec();
        self.fetch(&repo, &spec, shallow, interrupt)?;
        let head = repo
            .find_reference(name.as_str())
            .ok()
            .and_then(|mut r| r.peel_to_id().ok().map(|id| id.detach()));
        head.ok_or_else(|| SourceError::UnknownBranch {
            url: self.display_url(),
            branch: self.branch.clone(),
        })
    }

    /// Fetches every tag (shallow as `shallow` says) and returns them with
    /// the commits they point to (annotated tags peeled).
    pub fn fetch_tags(
        &self,
        shallow: Shallow,
        interrupt: &AtomicBool,
    ) -> Result<Vec<(String, ObjectId)>, SourceError> {
        let repo = self.open()?;
        self.fetch(&repo, "+refs/tags/*:refs/tags/*", shallow, interrupt)?;
        let repo = self.open()?;
        let refs = repo
            .references()
            .map_err(|e| self.error("list the tags", &e))?;
        let mut tags = Vec::new();
        for mut r in refs
            .tags()
            .map_err(|e| self.error("list the tags", &e))?
            .flatten()
        {
            let name = r.name().shorten().to_string();
            if let Ok(id) = r.peel_to_id() {
                tags.push((name, id.detach()));
            }
        }
        Ok(tags)
    }

    /// Makes sure `commit` (a full sha) is in the repository:
    /// deepens the branch's history step by step (servers need not allow
    /// fetching an arbitrary sha), then fetches all of it, then asks for the
    /// commit by id. Returns the full id.
    pub fn ensure_commit(
        &self,
        commit: &str,
        interrupt: &AtomicBool,
    ) -> Result<ObjectId, SourceError> {
        let repo = self.open()?;
        if let Some(id) = find_commit(&repo, commit) {
            return Ok(id);
        }
        let (spec, _) = self.refspec();
        let mut steps: Vec<Shallow> = DEEPEN_STEPS.iter().map(|n| Shallow::Deepen(*n)).collect();
        steps.push(Shallow::undo());
        for shallow in steps {
            let repo = self.open()?;
            if !repo.is_shallow().unwrap_or(false) {
                break;
            }
            tracing::debug!(commit, ?shallow, "Deepening the clone");
            self.fetch(&repo, &spec, shallow, interrupt)?;
            let repo = self.open()?;
            if let Some(id) = find_commit(&repo, commit) {
                return Ok(id);
            }
        }
        // Not on the branch: some servers serve any reachable commit by id.
        if let Ok(id) = ObjectId::from_hex(commit.as_bytes()) {
            let repo = self.open()?;
            let spec = format!("{id}:refs/drift-check/{id}");
            if self
                .fetch(
                    &repo,
                    &spec,
                    Shallow::DepthAtRemote(1.try_into().expect("1 > 0")),
                    interrupt,
                )
                .is_ok()
                && let Some(id) = find_commit(&self.open()?, commit)
            {
                return Ok(id);
            }
        }
        Err(SourceError::UnknownRevision {
            url: self.display_url(),
            revision: commit.to_string(),
            branch: self.branch.clone(),
        })
    }

    fn fetch(
        &self,
        repo: &gix::Repository,
        spec: &str,
        shallow: Shallow,
        interrupt: &AtomicBool,
    ) -> Result<(), SourceError> {
        let _ = std::fs::remove_file(&self.ssh_log);
        let remote = repo
            .remote_at(self.url.as_str())
            .and_then(|r| r.with_refspecs([spec], Direction::Fetch))
            .map(|r| r.with_fetch_tags(Tags::None))
            .map_err(|e| self.error("use the URL", &e))?;
        let mut connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.classify("connect", &e, interrupt))?;
        if let Some(options) = self.transport_options(repo)? {
            connection.set_transport_options(options);
        }
        let basic = self.credentials.basic.clone();
        connection.set_credentials(move |action| match action {
            gix::credentials::helper::Action::Get(ctx) => {
                Ok(basic
                    .clone()
                    .map(|(username, password)| gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username,
                            password,
                            oauth_refresh_token: None,
                        },
                        next: ctx.into(),
                    }))
            }
            _ => Ok(None),
        });
        let prepare = connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.classify("list the remote's refs", &e, interrupt))?;
        let outcome = prepare
            .with_shallow(shallow)
            .receive(gix::progress::Discard, interrupt)
            .map_err(|e| self.classify("fetch", &e, interrupt))?;
        if let gix::remote::fetch::Status::Change {
            write_pack_bundle, ..
        } = &outcome.status
            && let Some(pack) = &write_pack_bundle.data_path
            && let Ok(meta) = std::fs::metadata(pack)
        {
            self.received
                .fetch_add(meta.len(), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// The http transport's options when the credentials need more than
    /// basic auth: a bearer token (`Authorization` header), a CA of the
    /// Secret's own (`ca.crt`), a proxy (`spec.proxySecretRef`).
    fn transport_options(
        &self,
        repo: &gix::Repository,
    ) -> Result<Option<Box<dyn std::any::Any>>, SourceError> {
        use gix::protocol::transport::client::blocking_io::http;
        let c = &self.credentials;
        if c.bearer.is_none() && c.ca_pem.is_none() && c.proxy.is_none() {
            return Ok(None);
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Ok(None);
        }
        let mut options = match repo
            .transport_options(self.url.as_str(), None)
            .map_err(|e| self.error("configure the http transport", &e))?
            .map(|o| o.downcast::<http::Options>())
        {
            Some(Ok(options)) => *options,
            _ => http::Options::default(),
        };
        if let Some(token) = &c.bearer {
            options
                .extra_headers
                .push(format!("Authorization: Bearer {token}"));
        }
        let ca = match &c.ca_pem {
            Some(pem) => Some(reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                SourceError::Credentials {
                    message: format!("ca.crt is not a PEM certificate: {}", self.message(&e)),
                }
            })?),
            None => None,
        };
        let proxy = match &c.proxy {
            Some(p) => {
                let mut proxy = reqwest::Proxy::all(p.address.as_str()).map_err(|e| {
                    SourceError::Credentials {
                        message: format!("proxy address: {}", self.message(&e)),
                    }
                })?;
                if let Some((user, password)) = &p.basic {
                    proxy = proxy.basic_auth(user, password);
                }
                Some(proxy)
            }
            None => None,
        };
        let configure: Box<http::reqwest::ConfigureClientFn> = Box::new(move |mut builder| {
            for cert in ca.iter().flatten() {
                builder = builder.add_root_certificate(cert.clone());
            }
            if let Some(proxy) = &proxy {
                builder = builder.proxy(proxy.clone());
            }
            Ok(builder)
        });
        options.backend = Some(std::sync::Arc::new(std::sync::Mutex::new(
            http::reqwest::Options {
                configure_client: Some(configure),
                configure_request: None,
            },
        )));
        Ok(Some(Box::new(options)))
    }

    /// Writes the tree of `commit` to `dest` (regular files and directories,
    /// as in source-controller's artifact: symlinks and submodules are left out).
    pub fn write_tree(&self, commit: ObjectId, dest: &Path) -> Result<(), SourceError> {
        let repo = self.open()?;
        write_tree(&repo, commit, dest).map_err(|message| SourceError::Checkout {
            url: self.display_url(),
            commit: commit.to_string(),
            message,
        })
    }

    pub fn display_url(&self) -> String {
        redact::url(&self.url)
    }

    fn message(&self, error: &dyn std::error::Error) -> String {
        redact::credentials(
            &crate::error::error_chain(error),
            &self.url,
            &self.credentials.secrets(),
        )
    }

    fn error(&self, action: &'static str, error: &dyn std::error::Error) -> SourceError {
        SourceError::Git {
            url: self.display_url(),
            action,
            message: self.message(error),
        }
    }

    /// Names the cause of a failed connection or fetch.
    fn classify(
        &self,
        action: &'static str,
        error: &gix::Error,
        interrupt: &AtomicBool,
    ) -> SourceError {
        let url = self.display_url();
        if interrupt.load(Ordering::Relaxed) {
            return SourceError::Interrupted { url };
        }
        let ssh = std::fs::read_to_string(&self.ssh_log).unwrap_or_default();
        let ssh_line = |needle: &str| {
            ssh.lines()
                .find(|l| l.contains(needle))
                .map(|l| l.trim().to_string())
        };
        let message = self.message(error);
        let failure = if let Some(line) = ssh_line("Host key verification failed")
            .or_else(|| ssh_line("REMOTE HOST IDENTIFICATION HAS CHANGED"))
            .or_else(|| ssh_line("No ED25519 host key is known"))
            .or_else(|| ssh_line("host key for"))
        {
            Failure::HostKey(line)
        } else if let Some(line) = ssh_line("Permission denied") {
            Failure::Auth(line)
        } else if let Some(line) = ssh_line("Connection refused")
            .or_else(|| ssh_line("Could not resolve"))
            .or_else(|| ssh_line("timed out"))
            .or_else(|| ssh_line("No route to host"))
        {
            Failure::Unreachable(line)
        } else if message.contains("in clear text over http") {
            Failure::Auth("credentials are never sent over plain http: use the https:// URL".into())
        } else if message.contains("matched any of") && spec_is_branch(&message, &self.branch) {
            return SourceError::UnknownBranch {
                url,
                branch: self.branch.clone(),
            };
        } else if message.contains("invalid peer certificate") || message.contains("certificate") {
            Failure::Tls(message)
        } else if self.credentials.basic.is_none()
            && (message.contains("No credentials were returned") || message.contains("401"))
        {
            Failure::Auth(
                "the server asks for credentials and none are set (DRIFT_CHECK_GIT_TOKEN, or DRIFT_CHECK_GIT_USERNAME + DRIFT_CHECK_GIT_PASSWORD)".into(),
            )
        } else if error.classify().is_unauthenticated()
            || error.classify().is_permission_denied()
            || message.contains("401")
            || message.contains("not accepted by the remote")
            || message.contains("uthentication")
        {
            Failure::Auth(message)
        } else if message.contains("onnection refused")
            || message.contains("resolve")
            || message.contains("timed out")
            || message.contains("error sending request")
            || message.contains("unreachable")
        {
            Failure::Unreachable(message)
        } else {
            let detail = ssh
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .map(|l| format!(" (ssh: {})", l.trim()))
                .unwrap_or_default();
            return SourceError::Git {
                url,
                action,
                message: format!("{message}{detail}"),
            };
        };
        SourceError::Remote { url, failure }
    }
}

/// Did the fetch of the branch's refspec find nothing?
fn spec_is_branch(message: &str, branch: &str) -> bool {
    message.contains(&format!("refs/heads/{branch}:"))
}

/// The id of `commit` (a full sha) when the repository has it.
fn find_commit(repo: &gix::Repository, commit: &str) -> Option<ObjectId> {
    let id = ObjectId::from_hex(commit.as_bytes()).ok()?;
    repo.try_find_object(id)
        .ok()
        .flatten()
        .filter(|o| o.kind == gix::object::Kind::Commit)
        .map(|o| o.id)
}

/// Writes the tree of `commit` under `dest`, which must not exist yet (it is
/// written next to it first, then renamed, so a half-written tree is never used).
fn write_tree(repo: &gix::Repository, commit: ObjectId, dest: &Path) -> Result<(), String> {
    use gix::object::tree::EntryKind;
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| crate::error::error_chain(&e))?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|e| crate::error::error_chain(&e))?;
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
    for entry in recorder.records {
        let Some(relative) = safe_path(&entry.filepath) else {
            return Err(format!("unsafe path in the tree: {:?}", entry.filepath));
        };
        let path = partial.join(relative);
        match entry.mode.kind() {
            EntryKind::Tree => std::fs::create_dir_all(&path).map_err(|e| io(&path, e))?,
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let blob = repo
                    .find_blob(entry.oid)
                    .map_err(|e| crate::error::error_chain(&e))?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                std::fs::write(&path, &blob.data).map_err(|e| io(&path, e))?;
            }
            // source-controller's artifact has regular files and directories only.
            EntryKind::Link | EntryKind::Commit => {}
        }
    }
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&partial, dest).map_err(|e| io(dest, e))
}

/// A tree path as a relative path of normal components only.
fn safe_path(path: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(path).ok()?;
    let mut out = PathBuf::new();
    for part in text.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.eq_ignore_ascii_case(".git") {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

/// What a local directory is, for `--repo`.
#[derive(Debug)]
pub enum Local {
    /// The top of a git work tree, with its HEAD commit; `dirty` when the
    /// work tree differs from it: changes staged or not, or untracked files
    /// (not ignored ones).
    Checkout { head: ObjectId, dirty: bool },
    /// A directory below the top of the work tree at `top`: a copy of a
    /// tree, never what Flux applied (Flux's artifact is a whole repository).
    Inside { top: PathBuf },
    /// Not in a git work tree, or in one without commits.
    Plain,
}

/// Looks at a local directory with gix: is it the top of a checkout?
pub fn inspect(dir: &Path) -> Local {
    let Ok(repo) = gix::discover(dir) else {
        return Local::Plain;
    };
    let Some(top) = repo.workdir() else {
        return Local::Plain;
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(top, dir) {
        return Local::Inside {
            top: top.to_path_buf(),
        };
    }
    let Ok(head) = repo.head_id() else {
        return Local::Plain;
    };
    // A status that cannot be read counts as changes: the note then says
    // the work tree may differ, which is never wrong.
    let dirty = has_changes(&repo).unwrap_or(true);
    Local::Checkout {
        head: head.detach(),
        dirty,
    }
}

/// Does the work tree differ from HEAD? Staged and unstaged changes of
/// tracked files, then untracked files, which are rendered too (Flux's
/// generated kustomization takes every manifest): the first one found ends
/// the walk.
fn has_changes(repo: &gix::Repository) -> Result<bool, gix::Error> {
    if repo.is_dirty()? {
        return Ok(true);
    }
    let mut changes = repo
        .status(gix::progress::Discard)?
        .untracked_files(gix::status::UntrackedFiles::Collapsed)
        .index_worktree_submodules(None)
        .into_index_worktree_iter(Vec::new())?;
    Ok(changes.next().is_some())
}

/// The id of `commit` (a full sha) when the local checkout at `dir` has it
/// in its object database. No network.
pub fn local_commit(dir: &Path, commit: &str) -> Result<Option<ObjectId>, String> {
    let repo = gix::open(dir).map_err(|e| crate::error::error_chain(&e))?;
    Ok(find_commit(&repo, commit))
}

/// Writes the tree of `commit` from the local checkout at `dir` to `dest`,
/// as [`Mirror::write_tree`] does from a fetched repository.
pub fn write_local_tree(dir: &Path, commit: ObjectId, dest: &Path) -> Result<(), String> {
    let repo = gix::open(dir).map_err(|e| crate::error::error_chain(&e))?;
    write_tree(&repo, commit, dest)
}
