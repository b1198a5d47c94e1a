//! Reading files under the source root.
//!
//! Input: paths named by kustomizations. Output: canonical paths confined to
//! the source root (as kustomize confines a build to its root), file
//! text, and YAML documents — with every error naming the file relative to
//! the root.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::KustomizeError;
use crate::files::{FileError, Kind, Limits, Tree};
use crate::yaml::{self, Dialect};

/// The names kustomize recognises for a kustomization file, in its order
/// (kustomize `konfig.RecognizedKustomizationFileNames`).
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The canonical source root: every file of a render is read through it,
/// confined to it and bounded ([`crate::files::Tree`]).
#[derive(Clone, Debug)]
pub struct Root {
    tree: Tree,
    /// Files read as decrypted in memory ([`Root::with_plain`]).
    plain: Plain,
}

/// The SOPS-encrypted files of the tree that kustomize-controller decrypts
/// before the build, decrypted: by canonical path. Held in memory only;
/// `Debug` names the files, never their content.
#[derive(Clone, Default)]
pub struct Plain(std::collections::BTreeMap<PathBuf, Vec<u8>>);

impl Plain {
    pub fn insert(&mut self, path: PathBuf, content: Vec<u8>) {
        self.0.insert(path, content);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The decrypted content of a file (canonical path).
    pub fn get(&self, path: &Path) -> Option<&[u8]> {
        self.0.get(path).map(Vec::as_slice)
    }
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Root {
    pub fn new(path: &Path, limits: Limits) -> Result<Self, KustomizeError> {
        let tree = Tree::confined(path, "the source root", limits).map_err(|source| {
            KustomizeError::Root {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            tree,
            plain: Plain::default(),
        })
    }

    /// The same root, reading the files of `plain` as their decrypted
    /// content (the files on disk stay as they are).
    pub fn with_plain(mut self, plain: Plain) -> Self {
        self.plain = plain;
        self
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        self.tree.root()
    }

    /// The tree the root reads through.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// `path` relative to the root, for messages (`.` for the root itself).
    pub fn rel(&self, path: &Path) -> String {
        self.tree.rel(path)
    }

    /// Resolves `target` relative to the directory `base`, following
    /// symlinks inside the root only, and refuses anything that leaves it
    /// (decided without looking outside). `file` and `field` name where the
    /// path was written, for the error.
    pub fn resolve(
        &self,
        base: &Path,
        target: &str,
        file: &str,
        field: &str,
    ) -> Result<PathBuf, KustomizeError> {
        match self.tree.resolve(&base.join(target)) {
            Ok(path) => Ok(path),
            Err(FileError::Outside { .. }) => Err(KustomizeError::OutsideRoot {
                file: file.into(),
                field: field.into(),
                path: target.into(),
            }),
            Err(FileError::NotFound { .. }) => Err(KustomizeError::NotFound {
                file: file.into(),
                field: field.into(),
                path: target.into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Is `path` (resolved) a directory? Refuses a FIFO, socket or device.
    pub fn is_dir(&self, path: &Path) -> Result<bool, KustomizeError> {
        Ok(self.tree.kind(path)?.1 == Kind::Dir)
    }

    /// The text of a regular file under the root, bounded (decrypted, for
    /// a file of [`Root::with_plain`]).
    pub fn read_text(&self, path: &Path) -> Result<String, KustomizeError> {
        match self.plain.0.get(path) {
            Some(content) => Ok(String::from_utf8_lossy(content).into_owned()),
            None => Ok(self.tree.read_text(path)?),
        }
    }

    /// The bytes of a regular file under the root, bounded (decrypted, for
    /// a file of [`Root::with_plain`]).
    pub fn read_bytes(&self, path: &Path) -> Result<Vec<u8>, KustomizeError> {
        match self.plain.0.get(path) {
            Some(content) => Ok(content.clone()),
            None => Ok(self.tree.read_bytes(path)?),
        }
    }

    /// Every YAML document of a file of the repo (empty documents skipped),
    /// with folded scalars as kustomize emits them ([`super::folded`]).
    pub fn read_documents(&self, path: &Path) -> Result<Vec<Value>, KustomizeError> {
        let text = self.read_text(path)?;
        self.parse_source_documents(&text, &self.rel(path))
    }

    /// [`Self::parse_documents`] of YAML of the repo that kustomize keeps
    /// as nodes and writes out again (resources, strategic merge patches):
    /// folded scalars as go-yaml v3 emits them ([`super::folded`]).
    pub fn parse_source_documents(
        &self,
        text: &str,
        name: &str,
    ) -> Result<Vec<Value>, KustomizeError> {
        let mut documents = self.parse_documents(text, name)?;
        crate::render::folded::as_kustomize_emits(text, &mut documents);
        Ok(documents)
    }

    /// Parses YAML text that `name` (a relative path) holds, the way
    /// kustomize (kyaml, YAML 1.2) reads it: only `true`/`false` are
    /// booleans (`yes`, `on`, `y` stay strings), `0644` is octal. Errors
    /// carry the line but never a snippet of the text.
    pub fn parse_documents(&self, text: &str, name: &str) -> Result<Vec<Value>, KustomizeError> {
        self.parse(text, name, Dialect::Kyaml)
    }

    /// Parses a kustomization file as kustomize reads one (sigs.k8s.io/yaml:
    /// YAML 1.1, so `yes`, `on`, `n` are booleans; a repeated key keeps its
    /// last value).
    pub fn parse_kustomization(&self, path: &Path) -> Result<Vec<Value>, KustomizeError> {
        let text = self.read_text(path)?;
        self.parse(&text, &self.rel(path), Dialect::SigsYaml)
    }

    fn parse(
        &self,
        text: &str,
        name: &str,
        dialect: Dialect,
    ) -> Result<Vec<Value>, KustomizeError> {
        let limits = self.tree.limits();
        serde_saphyr::from_multiple_with_options::<Value>(text, yaml::options(dialect, limits))
            .map_err(|e| KustomizeError::Yaml {
                path: name.to_string(),
                message: yaml::message(&e, limits),
            })
    }

    /// The kustomization file of a directory, if it has one; more than one is
    /// an error, as in kustomize. One that is a FIFO, or a symlink out of the
    /// root, is refused.
    pub fn kustomization_file(&self, dir: &Path) -> Result<Option<PathBuf>, KustomizeError> {
        let mut found = Vec::new();
        for name in KUSTOMIZATION_FILE_NAMES {
            let path = dir.join(name);
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            match self.tree.kind(&path) {
                Ok((_, Kind::File, _)) => found.push(path),
                Ok((_, Kind::Dir, _)) | Err(FileError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(KustomizeError::AmbiguousKustomization {
                dir: self.rel(dir),
                names: found
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Is this resource entry a remote base (URL, git or GitHub shorthand)?
/// kustomize treats anything with a scheme or a `git@`/`github.com/` form as
/// remote.
pub fn is_remote(entry: &str) -> bool {
    let lower = entry.to_ascii_lowercase();
    lower.contains("://")
        || [
            "git::",
            "gh:",
            "git@",
            "github.com:",
            "github.com/",
            "gitlab.com/",
            "bitbucket.org/",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_remote_bases() {
        for remote in [
            "https://github.com/org/repo//deploy?ref=v1",
            "git@github.com:org/repo.git",
            "github.com/org/repo/deploy",
            "ssh://git@example.com/repo.git",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["deploy.yaml", "../base", "./dir/github.com"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        let root = Root::new(&dir.path().join("app"), Limits::default()).unwrap();
        let err = root
            .resolve(
                root.path(),
                "../../etc/passwd",
                "kustomization.yaml",
                "resources",
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "kustomization.yaml: resources: ../../etc/passwd is outside the source root"
        );
        let err = root
            .resolve(
                root.path(),
                "missing.yaml",
                "kustomization.yaml",
                "resources",
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "kustomization.yaml: resources: missing.yaml does not exist"
        );
    }
}
