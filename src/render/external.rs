//! The external-binary option: the real `kustomize` for repositories that
//! use what the native engine refuses (helm charts, plugins, `vars`, ...).
//!
//! Input: the source root, the directory to build and its kustomization with
//! Flux's spec already injected, and the path of a `kustomize` binary.
//! Output: the objects of `kustomize build`, as Flux would build them: the
//! source tree is copied to a temporary directory (the checkout is never
//! touched), the prepared kustomization is written there as
//! `kustomization.yaml`, and the binary runs with
//! `--load-restrictor LoadRestrictionsNone` (Flux builds without load
//! restrictions inside the source root).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::kustomize::KustFile;
use super::load::{KUSTOMIZATION_FILE_NAMES, Root};
use super::{KustomizeError, RenderError};
use crate::files::{FileError, Kind};

/// A temporary copy of the source tree, removed when dropped.
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `binary build` on a copy of the tree with `kust` in `dir`.
pub fn build(
    root: &Root,
    dir: &Path,
    kust: &KustFile,
    binary: &Path,
) -> Result<Vec<Value>, RenderError> {
    let temp =
        TempTree(std::env::temp_dir().join(format!("drift-check-render-{}", uuid::Uuid::new_v4())));
    let mut visited = BTreeSet::new();
    if let Ok((_, _, id)) = root.tree().kind(root.path()) {
        visited.insert(id);
    }
    copy_tree(root, root.path(), &temp.0, &mut visited)?;
    let relative = dir.strip_prefix(root.path()).unwrap_or(Path::new(""));
    let target = temp.0.join(relative);
    let write_error = |source| KustomizeError::Read {
        path: format!("{} (temporary copy)", root.rel(dir)),
        source,
    };
    for name in KUSTOMIZATION_FILE_NAMES {
        let path = target.join(name);
        if path.is_file() {
            std::fs::remove_file(path).map_err(write_error)?;
        }
    }
    let text = serde_json::to_string_pretty(kust).unwrap_or_default();
    std::fs::write(target.join("kustomization.yaml"), text).map_err(write_error)?;

    let output = Command::new(binary)
        .arg("build")
        .arg("--load-restrictor")
        .arg("LoadRestrictionsNone")
        .arg(&target)
        .output()
        .map_err(|e| RenderError::External {
            binary: binary.display().to_string(),
            message: format!("cannot run: {e}"),
        })?;
    if !output.status.success() {
        return Err(RenderError::External {
            binary: binary.display().to_string(),
            message: redacted_last_line(&String::from_utf8_lossy(&output.stderr), &temp.0),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(root.parse_documents(&stdout, &format!("output of {}", binary.display()))?)
}

/// Copies the source tree (without `.git`) as source-controller's artifact
/// holds it: regular files and directories only. Symlinks are followed
/// inside the root; one that leaves it, a FIFO, socket or device is left
/// out (kustomize then reports what is missing, if it needs it); a
/// directory already copied, or one holding the root (a `-> ..` link), is
/// not copied again; every file is read within the size limit.
fn copy_tree(
    root: &Root,
    from: &Path,
    to: &Path,
    visited: &mut BTreeSet<(u64, u64)>,
) -> Result<(), RenderError> {
    let tree = root.tree();
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KustomizeError::Read {
            path: format!("{} (temporary copy)", path.display()),
            source,
        }
    };
    std::fs::create_dir_all(to).map_err(write_error(to))?;
    for entry in tree.entries(from)? {
        if entry.name == ".git" {
            continue;
        }
        let destination = to.join(&entry.name);
        match tree.kind(&entry.path) {
            Ok((resolved, Kind::Dir, id)) => {
                if tree.enter(root.path(), &resolved, id, visited, &entry.path) {
                    copy_tree(root, &entry.path, &destination, visited)?;
                }
            }
            Ok((_, Kind::File, _)) => {
                let bytes = tree.read_bytes(&entry.path)?;
                std::fs::write(&destination, bytes).map_err(write_error(&destination))?;
            }
            Err(
                FileError::Outside { .. }
                | FileError::NotRegular { .. }
                | FileError::NotFound { .. },
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The last non-empty line of the binary's error output, with quoted
/// values removed (kustomize may quote a document) and the temporary path
/// left out.
fn redacted_last_line(stderr: &str, temp: &Path) -> String {
    static QUOTED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let quoted = QUOTED.get_or_init(|| {
        regex::Regex::new(r#""(?:[^"\\]|\\.)*"|'[^']*'"#).expect("a valid regular expression")
    });
    let line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed without a message");
    let line = line.replace(&format!("{}/", temp.display()), "");
    let mut line = quoted.replace_all(&line, "\"…\"").into_owned();
    if line.chars().count() > 400 {
        line = line.chars().take(400).collect::<String>() + "…";
    }
    line
}
