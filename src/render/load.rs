//! Reading files under the source root.
//!
//! Input: paths named by kustomizations. Output: canonical paths confined to
//! the source root (as Flux's secure file system confines kustomize), file
//! text, and YAML documents — with every error naming the file relative to
//! the root.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::RenderError;

/// The names kustomize recognises for a kustomization file, in its order
/// (kustomize `konfig.RecognizedKustomizationFileNames`).
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The canonical source root.
#[derive(Clone, Debug)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    pub fn new(path: &Path) -> Result<Self, RenderError> {
        let canonical = path.canonicalize().map_err(|source| RenderError::Root {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { path: canonical })
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path` relative to the root, for messages (`.` for the root itself).
    pub fn rel(&self, path: &Path) -> String {
        match path.strip_prefix(&self.path) {
            Ok(p) if p.as_os_str().is_empty() => ".".to_string(),
            Ok(p) => p.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    /// Resolves `target` relative to the directory `base`, following
    /// symlinks, and refuses anything outside the root. `file` and `field`
    /// name where the path was written, for the error.
    pub fn resolve(
        &self,
        base: &Path,
        target: &str,
        file: &str,
        field: &str,
    ) -> Result<PathBuf, RenderError> {
        let joined = base.join(target);
        let canonical = match joined.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A path that does not exist may still leave the root lexically.
                if !lexically_inside(&self.path, &joined) {
                    return Err(RenderError::OutsideRoot {
                        file: file.into(),
                        field: field.into(),
                        path: target.into(),
                    });
                }
                return Err(RenderError::NotFound {
                    file: file.into(),
                    field: field.into(),
                    path: target.into(),
                });
            }
            Err(source) => {
                return Err(RenderError::Read {
                    path: self.rel(&joined),
                    source,
                });
            }
        };
        if !canonical.starts_with(&self.path) {
            return Err(RenderError::OutsideRoot {
                file: file.into(),
                field: field.into(),
                path: target.into(),
            });
        }
        Ok(canonical)
    }

    /// The text of a file.
    pub fn read_text(&self, path: &Path) -> Result<String, RenderError> {
        std::fs::read_to_string(path).map_err(|source| RenderError::Read {
            path: self.rel(path),
            source,
        })
    }

    /// Every YAML document of a file (empty documents skipped).
    pub fn read_documents(&self, path: &Path) -> Result<Vec<Value>, RenderError> {
        let text = self.read_text(path)?;
        self.parse_documents(&text, &self.rel(path))
    }

    /// Parses YAML text that `name` (a relative path) holds, the way
    /// kustomize (kyaml, YAML 1.2) reads it: only `true`/`false` are
    /// booleans (`yes`, `on`, `y` stay strings), `0644` is octal. Errors
    /// carry the line but never a snippet of the text.
    pub fn parse_documents(&self, text: &str, name: &str) -> Result<Vec<Value>, RenderError> {
        let mut options = serde_saphyr::options::Options::default();
        options.legacy_octal_numbers = true;
        options.strict_booleans = true;
        serde_saphyr::from_multiple_with_options::<Value>(text, options).map_err(|e| {
            RenderError::Yaml {
                path: name.to_string(),
                message: e.without_snippet().to_string(),
            }
        })
    }

    /// Parses a kustomization file as kustomize reads one (sigs.k8s.io/yaml:
    /// YAML 1.1, so `yes`, `on`, `n` are booleans; a repeated key keeps its
    /// last value).
    pub fn parse_kustomization(&self, path: &Path) -> Result<Vec<Value>, RenderError> {
        let text = self.read_text(path)?;
        let mut options = serde_saphyr::options::Options::default();
        options.legacy_octal_numbers = true;
        options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::LastWins;
        serde_saphyr::from_multiple_with_options::<Value>(&text, options).map_err(|e| {
            RenderError::Yaml {
                path: self.rel(path),
                message: e.without_snippet().to_string(),
            }
        })
    }

    /// The kustomization file of a directory, if it has one; more than one is
    /// an error, as in kustomize.
    pub fn kustomization_file(&self, dir: &Path) -> Result<Option<PathBuf>, RenderError> {
        let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
            .iter()
            .map(|name| dir.join(name))
            .filter(|p| p.is_file())
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(RenderError::AmbiguousKustomization {
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

/// Does `path`, with `.` and `..` resolved lexically, stay under `root`?
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let mut parts: Vec<std::path::Component> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
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
        let root = Root::new(&dir.path().join("app")).unwrap();
        let err = root
            .resolve(
                &root.path,
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
                &root.path,
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
