//! Reading files others wrote: the infra repo (anyone can push to it) and a
//! live snapshot directory.
//!
//! Input: a tree (its root directory) and paths under it. Output: the text of
//! regular files and the files of a directory walk — or one error naming the
//! path relative to the root.
//!
//! The repo is read the way source-controller packs an artifact: only regular
//! files and directories. Every symlink is resolved here, one component at a
//! time, and one that leads out of the root is refused before anything outside
//! is looked at (so the error is the same whether its target exists or not).
//! FIFOs, sockets and devices are refused before they are opened (a FIFO
//! would block forever). A walk skips a directory it has already visited, by
//! (device, inode), or one that contains where the walk started (a `-> .` or
//! `-> ..` link), so it never loops. Every read is bounded by
//! [`Limits::file_bytes`].

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// The default [`Limits::file_bytes`]: 512 MiB, room for a 100,000-object
/// `kubectl get -A -o yaml --show-managed-fields` dump in one file.
pub const DEFAULT_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// The default [`Limits::yaml_nodes`]: mappings, lists and scalars of one
/// file (a 100,000-object dump with managed fields has about 12 million).
pub const DEFAULT_YAML_NODES: usize = 40_000_000;
/// The default [`Limits::yaml_documents`] of one file.
pub const DEFAULT_YAML_DOCUMENTS: usize = 100_000;

/// How much one file may hold. Set with `limits:` in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one file.
    pub file_bytes: u64,
    /// YAML nodes (mappings, lists, scalars) of one file.
    pub yaml_nodes: usize,
    /// YAML documents of one file.
    pub yaml_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            file_bytes: DEFAULT_FILE_BYTES,
            yaml_nodes: DEFAULT_YAML_NODES,
            yaml_documents: DEFAULT_YAML_DOCUMENTS,
        }
    }
}

/// How many symlinks one path may go through (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// A path that was not read. `path` is relative to the tree's root.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A symlink on the way leads out of the root (or a `..` climbs out of
    /// it). Names the path inside the tree, never the target.
    #[error("{path}: refused: it leads outside {root}")]
    Outside { path: String, root: &'static str },
    /// A FIFO, socket or device: never opened.
    #[error("{path}: refused: a {kind} is not a regular file")]
    NotRegular { path: String, kind: &'static str },
    /// Too many symlinks on the way (a symlink loop).
    #[error("{path}: refused: more than {MAX_SYMLINKS} symlinks on the way (a symlink loop)")]
    SymlinkLoop { path: String },
    /// A file larger than [`Limits::file_bytes`].
    #[error(
        "{path}: larger than the limit of {limit} bytes per file (raise it with limits.fileBytes in the config file)"
    )]
    TooLarge { path: String, limit: u64 },
    /// The path does not exist.
    #[error("{path}: does not exist")]
    NotFound { path: String },
    /// Any other error of the operating system.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// The path the error names (relative to the tree's root).
    pub fn path(&self) -> &str {
        match self {
            FileError::Outside { path, .. }
            | FileError::NotRegular { path, .. }
            | FileError::SymlinkLoop { path }
            | FileError::TooLarge { path, .. }
            | FileError::NotFound { path }
            | FileError::Io { path, .. } => path,
        }
    }

    /// The message without the path in front.
    pub fn reason(&self) -> String {
        let text = self.to_string();
        text.strip_prefix(&format!("{}: ", self.path()))
            .map(str::to_string)
            .unwrap_or(text)
    }
}

/// A file of a [`Tree`] read as a stream ([`Tree::open_stream`]): reading past
/// [`Limits::file_bytes`] (a file that grew since it was checked, or one of
/// `/proc` that said it was empty) is an error.
#[derive(Debug)]
pub struct Bounded {
    inner: std::io::Take<std::fs::File>,
    limit: u64,
    read: u64,
    shown: String,
}

impl Bounded {
    /// The error of a read past the limit, as [`Tree::read_bytes`] gives it.
    pub fn too_large(&self) -> FileError {
        FileError::TooLarge {
            path: self.shown.clone(),
            limit: self.limit,
        }
    }

    /// Whether the read went past the limit.
    pub fn exceeded(&self) -> bool {
        self.read > self.limit
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.exceeded() {
            return Err(std::io::Error::other(self.too_large().to_string()));
        }
        Ok(n)
    }
}

/// What a path resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// A directory tree files are read from.
#[derive(Clone, Debug)]
pub struct Tree {
    root: PathBuf,
    /// Symlinks must stay under the root (the repo); a snapshot's may lead
    /// anywhere (the operator wrote it).
    confined: bool,
    /// What the root is, for messages ("the source root").
    name: &'static str,
    limits: Limits,
    /// Messages name paths under this (the root as the operator wrote it)
    /// instead of relative to the root.
    shown: Option<PathBuf>,
}

impl Tree {
    /// A tree whose symlinks must stay under `root` (a repo checkout).
    pub fn confined(root: &Path, name: &'static str, limits: Limits) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            confined: true,
            name,
            limits,
            shown: None,
        })
    }

    /// A tree whose symlinks may lead anywhere (a snapshot directory the
    /// operator gives); reads and walks are still bounded.
    pub fn open(root: &Path, name: &'static str, limits: Limits) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            confined: false,
            name,
            limits,
            shown: None,
        })
    }

    /// Messages name paths under `prefix` (e.g. the snapshot directory as
    /// given) rather than relative to the root.
    pub fn shown_under(mut self, prefix: &Path) -> Self {
        self.shown = Some(prefix.to_path_buf());
        self
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `path` relative to the root, for messages (`.` for the root itself).
    pub fn rel(&self, path: &Path) -> String {
        if let (Some(prefix), Ok(rest)) = (&self.shown, path.strip_prefix(&self.root)) {
            return prefix.join(rest).display().to_string();
        }
        match path.strip_prefix(&self.root) {
            Ok(p) if p.as_os_str().is_empty() => ".".to_string(),
            Ok(p) => p.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    /// Resolves `path` (absolute under the root, or relative to it) to a
    /// path with no symlink in it. In a confined tree a symlink or `..` that
    /// leads out of the root is [`FileError::Outside`], decided from the
    /// link's text alone: nothing outside the root is looked at.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, FileError> {
        let shown = self.rel(&self.root.join(path));
        if !self.confined {
            return match self.root.join(path).canonicalize() {
                Ok(p) => Ok(p),
                Err(e) => Err(self.io_error(shown, e)),
            };
        }
        let relative = match path.strip_prefix(&self.root) {
            Ok(rest) => rest,
            Err(_) if path.is_absolute() => return Err(self.outside(shown)),
            Err(_) => path,
        };
        let mut pending: VecDeque<OsString> = VecDeque::new();
        if !push_front(&mut pending, relative) {
            return Err(self.outside(shown));
        }
        let mut resolved = self.root.clone();
        let mut links = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                if resolved == self.root {
                    return Err(self.outside(shown));
                }
                resolved.pop();
                continue;
            }
            let next = resolved.join(&part);
            let metadata = match std::fs::symlink_metadata(&next) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // The rest may still climb out of the root, lexically.
                    let mut depth = next
                        .strip_prefix(&self.root)
                        .map_or(0, |p| p.components().count() as isize);
                    for rest in &pending {
                        depth += if rest == ".." { -1 } else { 1 };
                        if depth < 0 {
                            return Err(self.outside(shown));
                        }
                    }
                    return Err(FileError::NotFound { path: shown });
                }
                Err(e) => return Err(self.io_error(self.rel(&next), e)),
            };
            if !metadata.file_type().is_symlink() {
                resolved = next;
                continue;
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(FileError::SymlinkLoop { path: shown });
            }
            let target =
                std::fs::read_link(&next).map_err(|e| self.io_error(self.rel(&next), e))?;
            if target.is_absolute() {
                let Some(inside) = lexical(&target)
                    .and_then(|t| t.strip_prefix(&self.root).ok().map(Path::to_path_buf))
                else {
                    return Err(self.outside(self.rel(&next)));
                };
                resolved = self.root.clone();
                push_front(&mut pending, &inside);
            } else if !push_front(&mut pending, &target) {
                return Err(self.outside(self.rel(&next)));
            }
        }
        Ok(resolved)
    }

    /// What `path` is, once resolved: a regular file or a directory; anything
    /// else is [`FileError::NotRegular`].
    pub fn kind(&self, path: &Path) -> Result<(PathBuf, Kind, (u64, u64)), FileError> {
        let resolved = self.resolve(path)?;
        let metadata =
            std::fs::metadata(&resolved).map_err(|e| self.io_error(self.rel(&resolved), e))?;
        let kind = kind_of(&metadata.file_type()).map_err(|kind| FileError::NotRegular {
            path: self.rel(&self.root.join(path)),
            kind,
        })?;
        Ok((resolved, kind, (metadata.dev(), metadata.ino())))
    }

    /// A regular file opened to be read as a stream (parsed as it is read,
    /// never held whole): at most [`Limits::file_bytes`], checked before it
    /// is opened and while it is read.
    pub fn open_stream(&self, path: &Path) -> Result<Bounded, FileError> {
        let (file, shown) = self.open_regular(path)?;
        let limit = self.limits.file_bytes;
        Ok(Bounded {
            inner: file.take(limit + 1),
            limit,
            read: 0,
            shown,
        })
    }

    /// Opens a regular file, refusing anything else and a file larger than
    /// [`Limits::file_bytes`].
    fn open_regular(&self, path: &Path) -> Result<(std::fs::File, String), FileError> {
        let shown = self.rel(&self.root.join(path));
        let (resolved, kind, _) = self.kind(path)?;
        if kind == Kind::Dir {
            return Err(self.io_error(
                shown,
                std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let limit = self.limits.file_bytes;
        let file = std::fs::File::open(&resolved).map_err(|e| self.io_error(shown.clone(), e))?;
        let metadata = file
            .metadata()
            .map_err(|e| self.io_error(shown.clone(), e))?;
        if !metadata.is_file() {
            // Swapped after it was checked.
            return Err(FileError::NotRegular {
                path: shown,
                kind: kind_of(&metadata.file_type()).err().unwrap_or("directory"),
            });
        }
        if metadata.len() > limit {
            return Err(FileError::TooLarge { path: shown, limit });
        }
        Ok((file, shown))
    }

    /// The bytes of a regular file, at most [`Limits::file_bytes`].
    pub fn read_bytes(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        let (file, shown) = self.open_regular(path)?;
        let limit = self.limits.file_bytes;
        let length = file.metadata().map_or(0, |m| m.len());
        let mut bytes = Vec::with_capacity(length as usize);
        // A file of /proc says 0 bytes and may hold more: bound the read too.
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io_error(shown.clone(), e))?;
        if bytes.len() as u64 > limit {
            return Err(FileError::TooLarge { path: shown, limit });
        }
        Ok(bytes)
    }

    /// The text of a regular file (UTF-8), at most [`Limits::file_bytes`].
    pub fn read_text(&self, path: &Path) -> Result<String, FileError> {
        let shown = self.rel(&self.root.join(path));
        String::from_utf8(self.read_bytes(path)?).map_err(|_| {
            self.io_error(
                shown,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                ),
            )
        })
    }

    /// The regular files under `dir` (recursively, in lexical order of their
    /// paths under `dir`) whose extension is one of `extensions`. Symlinks
    /// are followed (in a confined tree, only inside it); a directory seen
    /// before, or one holding `dir` (a `-> .` or `-> ..` link), is skipped.
    /// A FIFO, socket or device with one of the extensions, or a symlink out
    /// of a confined tree, is an error; the walk goes on.
    pub fn files_under(&self, dir: &Path, extensions: &[&str]) -> (Vec<PathBuf>, Vec<FileError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        let start = match self.kind(dir) {
            Ok((resolved, Kind::Dir, id)) => (resolved, id),
            Ok((_, Kind::File, _)) => {
                let path = self.rel(&self.root.join(dir));
                errors.push(self.io_error(
                    path,
                    std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
                ));
                return (files, errors);
            }
            Err(e) => {
                errors.push(e);
                return (files, errors);
            }
        };
        let mut visited = BTreeSet::from([start.1]);
        let mut walk = Walk {
            tree: self,
            start: &start.0,
            extensions,
            visited: &mut visited,
            files: &mut files,
            errors: &mut errors,
        };
        walk.dir(&self.root.join(dir));
        (files, errors)
    }

    /// Sorted entries of a directory: (name, path, is a symlink, lstat kind).
    pub fn entries(&self, dir: &Path) -> Result<Vec<Entry>, FileError> {
        let shown = self.rel(dir);
        let error = |e| self.io_error(shown.clone(), e);
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(error)? {
            let entry = entry.map_err(error)?;
            let file_type = entry.file_type().map_err(error)?;
            entries.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                path: entry.path(),
                symlink: file_type.is_symlink(),
                dir: file_type.is_dir(),
            });
        }
        // Go's filepath.Walk visits names in byte order.
        entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(entries)
    }

    /// Should a walk that started at `start` go into the directory `resolved`
    /// (identity `id`)? Not if it was seen, or holds the start (a loop).
    pub fn enter(
        &self,
        start: &Path,
        resolved: &Path,
        id: (u64, u64),
        visited: &mut BTreeSet<(u64, u64)>,
        shown: &Path,
    ) -> bool {
        if start.starts_with(resolved) || !visited.insert(id) {
            tracing::warn!(path = %self.rel(shown), "Skipped: a directory already walked (a symlink loop)");
            return false;
        }
        true
    }

    fn outside(&self, path: String) -> FileError {
        FileError::Outside {
            path,
            root: self.name,
        }
    }

    fn io_error(&self, path: String, source: std::io::Error) -> FileError {
        if source.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound { path }
        } else {
            FileError::Io { path, source }
        }
    }
}

/// An entry of a directory, as listed (symlinks not followed).
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub symlink: bool,
    pub dir: bool,
}

struct Walk<'a> {
    tree: &'a Tree,
    start: &'a Path,
    extensions: &'a [&'a str],
    visited: &'a mut BTreeSet<(u64, u64)>,
    files: &'a mut Vec<PathBuf>,
    errors: &'a mut Vec<FileError>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path) {
        let entries = match self.tree.entries(dir) {
            Ok(entries) => entries,
            Err(e) => return self.errors.push(e),
        };
        for entry in entries {
            let wanted = Path::new(&entry.name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| self.extensions.contains(&e));
            if !entry.symlink && !entry.dir && !wanted {
                continue;
            }
            match self.tree.kind(&entry.path) {
                Ok((resolved, Kind::Dir, id)) => {
                    if self
                        .tree
                        .enter(self.start, &resolved, id, self.visited, &entry.path)
                    {
                        self.dir(&entry.path);
                    }
                }
                Ok((_, Kind::File, _)) if wanted => self.files.push(entry.path),
                Ok(_) => {}
                Err(e) if wanted || entry.symlink => self.errors.push(e),
                Err(_) => {}
            }
        }
    }
}

/// Regular file, directory, or what else it is.
fn kind_of(file_type: &std::fs::FileType) -> Result<Kind, &'static str> {
    if file_type.is_file() {
        Ok(Kind::File)
    } else if file_type.is_dir() {
        Ok(Kind::Dir)
    } else if file_type.is_fifo() {
        Err("FIFO")
    } else if file_type.is_socket() {
        Err("socket")
    } else if file_type.is_char_device() {
        Err("character device")
    } else if file_type.is_block_device() {
        Err("block device")
    } else {
        Err("special file")
    }
}

/// Puts the components of a relative path before the pending ones; `false`
/// when the path is absolute.
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) -> bool {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => parts.push(name.to_os_string()),
            Component::ParentDir => parts.push("..".into()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    for part in parts.into_iter().rev() {
        pending.push_front(part);
    }
    true
}

/// An absolute path with `.` and `..` resolved lexically.
fn lexical(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.is_absolute().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree(dir: &Path) -> Tree {
        Tree::confined(dir, "the source root", Limits::default()).unwrap()
    }

    #[test]
    fn refuses_symlinks_out_of_the_root_the_same_whether_the_target_exists_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("app")).unwrap();
        std::fs::write(dir.path().join("secret"), "hunter2").unwrap();
        symlink(dir.path().join("secret"), repo.join("app/exists.yaml")).unwrap();
        symlink(dir.path().join("missing"), repo.join("app/missing.yaml")).unwrap();
        symlink("../../secret", repo.join("app/relative.yaml")).unwrap();
        let tree = tree(&repo);
        let messages: Vec<String> = ["app/exists.yaml", "app/missing.yaml", "app/relative.yaml"]
            .iter()
            .map(|p| tree.read_text(Path::new(p)).unwrap_err().to_string())
            .collect();
        assert_eq!(
            messages,
            [
                "app/exists.yaml: refused: it leads outside the source root",
                "app/missing.yaml: refused: it leads outside the source root",
                "app/relative.yaml: refused: it leads outside the source root",
            ]
        );
    }

    #[test]
    fn follows_symlinks_that_stay_inside_and_names_the_link_on_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x.yaml"), "x: 1\n").unwrap();
        symlink("a/b", dir.path().join("link")).unwrap();
        symlink(dir.path().join("a/b/x.yaml"), dir.path().join("abs.yaml")).unwrap();
        symlink("../..", dir.path().join("a/b/up")).unwrap();
        let tree = tree(dir.path());
        assert_eq!(tree.read_text(Path::new("link/x.yaml")).unwrap(), "x: 1\n");
        assert_eq!(tree.read_text(Path::new("abs.yaml")).unwrap(), "x: 1\n");
        assert_eq!(
            tree.read_text(Path::new("link/up/../x"))
                .unwrap_err()
                .to_string(),
            "link/up/../x: refused: it leads outside the source root"
        );
        assert_eq!(
            tree.resolve(Path::new("a/b/../../../x"))
                .unwrap_err()
                .to_string(),
            "a/b/../../../x: refused: it leads outside the source root"
        );
    }

    #[test]
    fn refuses_fifos_and_devices_and_bounds_reads() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let big = std::fs::File::create(dir.path().join("big.yaml")).unwrap();
        big.set_len(1025).unwrap();
        std::fs::write(dir.path().join("ok.yaml"), [b'a'; 1024]).unwrap();
        symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
        let limits = Limits {
            file_bytes: 1024,
            ..Limits::default()
        };
        let snapshot = Tree::open(dir.path(), "the snapshot", limits).unwrap();
        let error = |p: &str| snapshot.read_text(Path::new(p)).unwrap_err().to_string();
        assert_eq!(
            error("pipe.yaml"),
            "pipe.yaml: refused: a FIFO is not a regular file"
        );
        assert_eq!(
            error("zero.yaml"),
            "zero.yaml: refused: a character device is not a regular file"
        );
        assert_eq!(
            error("big.yaml"),
            "big.yaml: larger than the limit of 1024 bytes per file (raise it with limits.fileBytes in the config file)"
        );
        assert_eq!(
            snapshot.read_text(Path::new("ok.yaml")).unwrap().len(),
            1024
        );
        let (files, errors) = snapshot.files_under(Path::new(""), &["yaml"]);
        let names: Vec<String> = files.iter().map(|f| snapshot.rel(f)).collect();
        assert_eq!(names, ["big.yaml", "ok.yaml"]);
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "pipe.yaml: refused: a FIFO is not a regular file",
                "zero.yaml: refused: a character device is not a regular file"
            ]
        );
    }

    #[test]
    fn walks_each_directory_once_through_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let snap = dir.path().join("snap");
        std::fs::create_dir_all(snap.join("sub")).unwrap();
        std::fs::write(dir.path().join("outside.yaml"), "").unwrap();
        std::fs::write(snap.join("a.yaml"), "").unwrap();
        std::fs::write(snap.join("sub/b.yaml"), "").unwrap();
        symlink(".", snap.join("self1")).unwrap();
        symlink(".", snap.join("self2")).unwrap();
        symlink("..", snap.join("sub/up")).unwrap();
        symlink("..", snap.join("parent")).unwrap();
        symlink("sub", snap.join("twin")).unwrap();
        for tree in [
            Tree::open(&snap, "the snapshot", Limits::default()).unwrap(),
            tree(&snap),
        ] {
            let (files, errors) = tree.files_under(Path::new(""), &["yaml"]);
            let names: Vec<String> = files.iter().map(|f| tree.rel(f)).collect();
            assert_eq!(names, ["a.yaml", "sub/b.yaml"]);
            assert_eq!(
                errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                if tree.confined {
                    vec!["parent: refused: it leads outside the source root".to_string()]
                } else {
                    vec![]
                }
            );
        }
    }
}
