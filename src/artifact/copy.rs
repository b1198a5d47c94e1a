//! source-watcher's copy rules (`spec.artifacts[].copy[]`), applied to a
//! staging directory with cp-like semantics. Mirrors fluxcd/source-watcher
//! `internal/builder/builder.go` (`applyCopyOperation` and helpers):
//!
//! - `from: "@alias/path"` without glob characters: a file is copied to
//!   `to` (to `to/<name>` when `to` ends in `/` or is a directory already
//!   staged); a directory is copied *as* a directory, into `to/<its name>`.
//! - `from: "@alias/glob"`: Go `fs.Glob` (`*` never crosses `/`; `**` is
//!   one segment); each match keeps its whole path under `to`, except that
//!   `dir/**` strips `dir/`. Matched directories are copied recursively.
//!   No match, or every match excluded, is an error.
//! - `exclude`: doublestar patterns, matched against the path from the
//!   source root and from the literal part of `from` before its first glob;
//!   a pattern without `/` also matches the file name alone.
//! - A later rule overwrites the files an earlier one wrote (`Overwrite`,
//!   the default strategy).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::CopyOperation;
use super::glob::{doublestar_match, has_meta, match_segment};
use crate::files::{FileError, Kind, Tree};

/// A copy rule that could not be applied (source-watcher fails the
/// ArtifactGenerator for each of these too).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The rule itself is wrong, or selects nothing.
    #[error("copy from {from:?} to {to:?}: {message}")]
    Rule {
        from: String,
        to: String,
        message: String,
    },
    /// A source file could not be read (refused, too large, a symlink out of the repo).
    #[error("copy from {from:?} to {to:?}")]
    Read {
        from: String,
        to: String,
        #[source]
        source: FileError,
    },
    /// The staging directory could not be written.
    #[error("copy from {from:?} to {to:?}: cannot write {path}")]
    Write {
        from: String,
        to: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Applies `copies` in order, reading from the tree of each rule's alias
/// (`trees`, by alias) and writing under `staging`.
pub fn apply(
    trees: &BTreeMap<String, Tree>,
    copies: &[CopyOperation],
    staging: &Path,
) -> Result<(), CopyError> {
    let aliases: BTreeSet<String> = trees.keys().cloned().collect();
    for op in copies {
        let alias = op
            .from
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .map(|(alias, _)| alias);
        // A rule of an unknown alias (or of no alias) is refused by `run`,
        // naming it; it reads from no tree.
        let Some(tree) = alias
            .and_then(|a| trees.get(a))
            .or_else(|| trees.values().next())
        else {
            return Err(CopyError::Rule {
                from: op.from.clone(),
                to: op.to.clone(),
                message: "the generator has no sources".into(),
            });
        };
        Copy { tree, staging, op }.run(&aliases)?;
    }
    Ok(())
}

struct Copy<'a> {
    tree: &'a Tree,
    staging: &'a Path,
    op: &'a CopyOperation,
}

impl Copy<'_> {
    fn rule(&self, message: impl Into<String>) -> CopyError {
        CopyError::Rule {
            from: self.op.from.clone(),
            to: self.op.to.clone(),
            message: message.into(),
        }
    }

    fn read(&self, source: FileError) -> CopyError {
        CopyError::Read {
            from: self.op.from.clone(),
            to: self.op.to.clone(),
            source,
        }
    }

    fn write(&self, path: &str, source: std::io::Error) -> CopyError {
        CopyError::Write {
            from: self.op.from.clone(),
            to: self.op.to.clone(),
            path: path.to_string(),
            source,
        }
    }

    fn run(&self, aliases: &BTreeSet<String>) -> Result<(), CopyError> {
        let op = self.op;
        let (alias, pattern) = op
            .from
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| self.rule("source must be '@alias/pattern' (e.g. @repo/apps/**)"))?;
        let to = op.to.strip_prefix("@artifact/").ok_or_else(|| {
            self.rule("destination must start with '@artifact/' (e.g. @artifact/apps/)")
        })?;
        if !aliases.contains(alias) {
            return Err(self.rule(format!("source alias '{alias}' not found")));
        }
        let dest = clean(to);
        if dest == ".." || dest.starts_with("../") {
            return Err(self.rule("destination leaves the artifact"));
        }
        let dest = if dest == "." { String::new() } else { dest };
        if !has_meta(pattern) {
            return self.single(&clean(pattern), &dest, op.to.ends_with('/'));
        }
        let pattern = clean(pattern);
        let matches = self.glob(&pattern)?;
        if matches.is_empty() {
            return Err(self.rule(format!(
                "no files match pattern '{pattern}' in source '{alias}'"
            )));
        }
        let base = selection_root(&pattern);
        let kept: Vec<String> = matches
            .into_iter()
            .filter(|m| !excluded(m, &base, &op.exclude))
            .collect();
        if kept.is_empty() {
            return Err(self.rule(format!(
                "all files matching pattern '{pattern}' in source '{alias}' were excluded"
            )));
        }
        for found in kept {
            let target = glob_destination(&pattern, &found, &dest);
            self.entry(&found, &target, &base)?;
        }
        Ok(())
    }

    /// A path without glob characters: a file, or a directory copied as itself.
    fn single(&self, src: &str, dest: &str, dest_is_dir: bool) -> Result<(), CopyError> {
        let kind = match self.tree.kind(Path::new(src)) {
            Ok((_, kind, _)) => kind,
            Err(FileError::NotFound { .. }) => {
                return Err(self.rule(format!("source '{src}' does not exist")));
            }
            Err(e) => return Err(self.read(e)),
        };
        if kind == Kind::Dir {
            return self.dir(src, &join(dest, base_name(src)), src);
        }
        if excluded(src, ".", &self.op.exclude) {
            return Ok(());
        }
        let target = if dest_is_dir || self.staging.join(dest).is_dir() {
            join(dest, base_name(src))
        } else {
            dest.to_string()
        };
        self.file(src, &target)
    }

    fn entry(&self, src: &str, dest: &str, base: &str) -> Result<(), CopyError> {
        match self.tree.kind(Path::new(src)).map_err(|e| self.read(e))?.1 {
            Kind::Dir => self.dir(src, dest, base),
            Kind::File => self.file(src, dest),
        }
    }

    /// A directory, recursively, leaving out what `exclude` names (relative
    /// to the source root or to `base`).
    fn dir(&self, src: &str, dest: &str, base: &str) -> Result<(), CopyError> {
        let target = self.staging.join(dest);
        std::fs::create_dir_all(&target).map_err(|e| self.write(dest, e))?;
        let (resolved, _, _) = self.tree.kind(Path::new(src)).map_err(|e| self.read(e))?;
        for entry in self.tree.entries(&resolved).map_err(|e| self.read(e))? {
            let child = join(src, &entry.name);
            if is_git_dir(&child) || excluded(&child, base, &self.op.exclude) {
                continue;
            }
            let child_dest = join(dest, &entry.name);
            if entry.dir {
                self.dir(&child, &child_dest, base)?;
            } else if entry.symlink {
                // fs.WalkDir does not follow a link to a directory.
                let (_, kind, _) = self
                    .tree
                    .kind(Path::new(&child))
                    .map_err(|e| self.read(e))?;
                if kind == Kind::File {
                    self.file(&child, &child_dest)?;
                }
            } else {
                self.file(&child, &child_dest)?;
            }
        }
        Ok(())
    }

    /// One file, overwriting what an earlier rule wrote there.
    fn file(&self, src: &str, dest: &str) -> Result<(), CopyError> {
        let bytes = self
            .tree
            .read_bytes(Path::new(src))
            .map_err(|e| self.read(e))?;
        let target = self.staging.join(dest);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.write(dest, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| self.write(dest, e))
    }

    /// Go `fs.Glob` over the tree: segment by segment, in name order.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, CopyError> {
        let mut found = vec![String::from(".")];
        for segment in pattern.split('/') {
            let mut next = Vec::new();
            for parent in &found {
                if !has_meta(segment) {
                    let path = join(parent, segment);
                    if self.tree.kind(Path::new(&path)).is_ok() {
                        next.push(path);
                    }
                    continue;
                }
                let Ok((resolved, Kind::Dir, _)) = self.tree.kind(Path::new(parent)) else {
                    continue;
                };
                for entry in self.tree.entries(&resolved).map_err(|e| self.read(e))? {
                    let path = join(parent, &entry.name);
                    if match_segment(segment, &entry.name) && !is_git_dir(&path) {
                        next.push(path);
                    }
                }
            }
            found = next;
        }
        Ok(found
            .into_iter()
            .filter(|p| p != "." && p != "..")
            .collect())
    }
}

/// A git checkout's own `.git` is never part of a GitRepository artifact.
fn is_git_dir(path: &str) -> bool {
    path == ".git"
}

/// source-watcher `calculateGlobDestination`: `dir/**` strips `dir/`; any
/// other glob keeps the match's whole path.
fn glob_destination(pattern: &str, found: &str, dest: &str) -> String {
    if let Some(prefix) = pattern.strip_suffix("/**")
        && let Some(rest) = found.strip_prefix(&format!("{prefix}/"))
    {
        return join(dest, rest);
    }
    join(dest, found)
}

/// source-watcher `sourceSelectionRoot`: the literal part of a pattern
/// before its first glob segment.
fn selection_root(pattern: &str) -> String {
    let cleaned = clean(pattern);
    let literal: Vec<&str> = cleaned.split('/').take_while(|s| !has_meta(s)).collect();
    if literal.is_empty() {
        ".".into()
    } else {
        literal.join("/")
    }
}

/// source-watcher `shouldExcludePath`.
fn excluded(path: &str, base: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return false;
    }
    if excluded_at(path, patterns) {
        return true;
    }
    let relative = if base == "." || base.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(base).and_then(|r| r.strip_prefix('/'))
    };
    match relative {
        Some(rel) if rel != path && !rel.is_empty() => excluded_at(rel, patterns),
        _ => false,
    }
}

/// source-watcher `shouldExclude`: the whole path, or, for a pattern
/// without `/`, the file name alone.
fn excluded_at(path: &str, patterns: &[String]) -> bool {
    let name = base_name(path);
    patterns
        .iter()
        .any(|p| doublestar_match(p, path) || (!p.contains('/') && doublestar_match(p, name)))
}

/// Go `filepath.Clean` of a relative path (`""` → `.`).
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Go `filepath.Join` of two relative paths.
fn join(a: &str, b: &str) -> String {
    clean(&format!("{a}/{b}"))
}

/// Go `filepath.Base`.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Each file under `staging` as `path=content` (for tests).
#[cfg(test)]
fn listing(staging: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(format!("{rel}={}", text.trim()));
            }
        }
    }
    let mut out = Vec::new();
    walk(staging, staging, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Limits;

    fn repo(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, *file).unwrap();
        }
        dir
    }

    fn op(from: &str, to: &str, exclude: &[&str]) -> CopyOperation {
        CopyOperation {
            from: from.into(),
            to: to.into(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            strategy: None,
        }
    }

    fn compose(files: &[&str], ops: &[CopyOperation]) -> Result<Vec<String>, String> {
        let repo = repo(files);
        let tree = Tree::confined(repo.path(), "the repo", Limits::default()).unwrap();
        let staging = tempfile::tempdir().unwrap();
        let trees = BTreeMap::from([("repo".to_string(), tree)]);
        apply(&trees, ops, staging.path()).map_err(|e| crate::error::error_chain(&e))?;
        Ok(listing(staging.path()))
    }

    const FILES: &[&str] = &[
        ".git/HEAD",
        "apps/base/web/deploy.yaml",
        "apps/base/web/README.md",
        "apps/prod/kustomization.yaml",
        "apps/prod/values.yaml",
        "infra/config.yaml",
    ];

    #[test]
    fn a_dir_double_star_glob_copies_the_contents_into_the_destination() {
        let out = compose(FILES, &[op("@repo/apps/**", "@artifact/", &[])]).unwrap();
        assert_eq!(
            out,
            [
                "base/web/README.md=apps/base/web/README.md",
                "base/web/deploy.yaml=apps/base/web/deploy.yaml",
                "prod/kustomization.yaml=apps/prod/kustomization.yaml",
                "prod/values.yaml=apps/prod/values.yaml",
            ]
        );
    }

    #[test]
    fn a_glob_of_files_keeps_their_path_under_the_destination() {
        let out = compose(
            FILES,
            &[op("@repo/apps/prod/*.yaml", "@artifact/out/", &[])],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "out/apps/prod/kustomization.yaml=apps/prod/kustomization.yaml",
                "out/apps/prod/values.yaml=apps/prod/values.yaml",
            ]
        );
    }

    #[test]
    fn a_directory_without_glob_is_copied_as_itself_into_the_destination() {
        let out = compose(FILES, &[op("@repo/apps/base", "@artifact/lib/", &[])]).unwrap();
        assert_eq!(
            out,
            [
                "lib/base/web/README.md=apps/base/web/README.md",
                "lib/base/web/deploy.yaml=apps/base/web/deploy.yaml",
            ]
        );
    }

    #[test]
    fn a_file_to_a_path_without_slash_is_renamed_and_with_slash_keeps_its_name() {
        let out = compose(
            FILES,
            &[
                op("@repo/infra/config.yaml", "@artifact/settings.yaml", &[]),
                op("@repo/infra/config.yaml", "@artifact/copies/", &[]),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "copies/config.yaml=infra/config.yaml",
                "settings.yaml=infra/config.yaml",
            ]
        );
    }

    #[test]
    fn a_later_rule_overwrites_an_earlier_ones_file() {
        let out = compose(
            FILES,
            &[
                op("@repo/infra/config.yaml", "@artifact/values.yaml", &[]),
                op("@repo/apps/prod/values.yaml", "@artifact/values.yaml", &[]),
            ],
        )
        .unwrap();
        assert_eq!(out, ["values.yaml=apps/prod/values.yaml"]);
    }

    #[test]
    fn exclude_matches_file_names_and_paths_relative_to_the_selection() {
        let out = compose(
            FILES,
            &[op(
                "@repo/apps/**",
                "@artifact/",
                &["*.md", "prod/values.yaml"],
            )],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "base/web/deploy.yaml=apps/base/web/deploy.yaml",
                "prod/kustomization.yaml=apps/prod/kustomization.yaml",
            ]
        );
    }

    #[test]
    fn a_glob_matching_nothing_or_only_excluded_files_fails_as_in_source_watcher() {
        assert_eq!(
            compose(FILES, &[op("@repo/charts/*", "@artifact/", &[])]).unwrap_err(),
            "copy from \"@repo/charts/*\" to \"@artifact/\": no files match pattern 'charts/*' in source 'repo'"
        );
        assert_eq!(
            compose(FILES, &[op("@repo/infra/*", "@artifact/", &["*.yaml"])]).unwrap_err(),
            "copy from \"@repo/infra/*\" to \"@artifact/\": all files matching pattern 'infra/*' in source 'repo' were excluded"
        );
        assert_eq!(
            compose(FILES, &[op("@other/infra", "@artifact/", &[])]).unwrap_err(),
            "copy from \"@other/infra\" to \"@artifact/\": source alias 'other' not found"
        );
    }

    #[test]
    fn the_whole_repo_is_copied_without_its_git_directory() {
        let out = compose(&FILES[..2], &[op("@repo/**", "@artifact/", &[])]).unwrap();
        assert_eq!(out, ["apps/base/web/deploy.yaml=apps/base/web/deploy.yaml"]);
    }

    #[test]
    fn a_destination_climbing_out_of_the_artifact_is_refused() {
        assert_eq!(
            compose(FILES, &[op("@repo/infra", "@artifact/../x/", &[])]).unwrap_err(),
            "copy from \"@repo/infra\" to \"@artifact/../x/\": destination leaves the artifact"
        );
    }
}
