//! What source-controller leaves out of a GitRepository's artifact
//! (fluxcd/pkg `sourceignore`): its default excludes (VCS files, images and
//! archives, CI configuration, `.sops.yaml`, ...), then the patterns of
//! every `.sourceignore` in the tree (each scoped to its directory), then
//! `spec.ignore`; gitignore syntax, the last matching pattern decides (a
//! `!pattern` keeps a file). `spec.sparseCheckout` keeps only the listed
//! directories.

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};
use gix::glob::pattern::Case;

/// source-controller's default excludes (`ExcludeVCS`, `ExcludeExt`,
/// `ExcludeCI`, `ExcludeExtra`), lowest priority.
pub const DEFAULTS: [&str; 24] = [
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// The name of the ignore file read in every directory.
pub const IGNORE_FILE: &str = ".sourceignore";

/// One pattern, and the directory (relative, `/`-separated, empty for the
/// top) it applies under.
struct Rule {
    base: String,
    pattern: gix::glob::Pattern,
}

/// The ordered patterns of an artifact.
pub struct Rules(Vec<Rule>);

impl Rules {
    /// The defaults, the `.sourceignore` files under `root`, then `spec_ignore`.
    pub fn load(root: &Path, spec_ignore: Option<&str>) -> std::io::Result<Self> {
        let mut rules = Vec::new();
        for line in DEFAULTS {
            push(&mut rules, "", line);
        }
        let mut dirs = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, base)) = dirs.pop() {
            let file = dir.join(IGNORE_FILE);
            if file.is_file() {
                for line in std::fs::read_to_string(&file)?.lines() {
                    push(&mut rules, &base, line);
                }
            }
            let mut entries: Vec<_> = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != ".git")
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            // Depth-first in lexical order, as source-controller loads them.
            entries.sort();
            for name in entries.into_iter().rev() {
                let sub = if base.is_empty() {
                    name.clone()
                } else {
                    format!("{base}/{name}")
                };
                dirs.push((dir.join(&name), sub));
            }
        }
        for line in spec_ignore.unwrap_or("").lines() {
            push(&mut rules, "", line);
        }
        Ok(Rules(rules))
    }

    /// Whether `path` (relative, `/`-separated) is left out.
    pub fn excluded(&self, path: &str, is_dir: bool) -> bool {
        for rule in self.0.iter().rev() {
            let relative = if rule.base.is_empty() {
                path
            } else {
                match path
                    .strip_prefix(rule.base.as_str())
                    .and_then(|p| p.strip_prefix('/'))
                {
                    Some(p) => p,
                    None => continue,
                }
            };
            let bstr: &BStr = relative.as_bytes().as_bstr();
            let basename = bstr.rfind_byte(b'/').map(|p| p + 1);
            if rule.pattern.matches_repo_relative_path(
                bstr,
                basename,
                Some(is_dir),
                Case::Sensitive,
                gix::glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL,
            ) {
                return !rule.pattern.is_negative();
            }
        }
        false
    }
}

fn push(rules: &mut Vec<Rule>, base: &str, line: &str) {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return;
    }
    if let Some(pattern) = gix::glob::parse(line.as_bytes()) {
        rules.push(Rule {
            base: base.to_string(),
            pattern,
        });
    }
}

/// Removes from the tree at `root` what the rules leave out (a directory
/// left out goes whole) and, when `sparse` lists directories, everything
/// outside them. Returns how many files were removed.
pub fn apply(root: &Path, rules: &Rules, sparse: &[String]) -> std::io::Result<usize> {
    let sparse: Vec<String> = sparse
        .iter()
        .map(|d| d.trim_start_matches("./").trim_matches('/').to_string())
        .filter(|d| !d.is_empty())
        .collect();
    let mut removed = 0;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, base)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if base.is_empty() {
                name
            } else {
                format!("{base}/{name}")
            };
            let is_dir = entry.file_type()?.is_dir();
            let in_sparse = sparse.is_empty()
                || sparse.iter().any(|s| {
                    path == *s
                        || path.starts_with(&format!("{s}/"))
                        || (is_dir && s.starts_with(&format!("{path}/")))
                });
            let full: PathBuf = entry.path();
            if !in_sparse || rules.excluded(&path, is_dir) {
                if is_dir {
                    removed += count_files(&full);
                    std::fs::remove_dir_all(&full)?;
                } else {
                    removed += 1;
                    std::fs::remove_file(&full)?;
                }
            } else if is_dir {
                stack.push((full, path));
            }
        }
    }
    Ok(removed)
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        dir
    }

    fn left(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn default_excludes_are_those_of_source_controller() {
        let dir = tree(&[
            "apps/deploy.yaml",
            "apps/logo.png",
            ".github/workflows/ci.yml",
            "docs/.sops.yaml",
            ".gitignore",
            "charts/x.tar.gz",
            "README.md",
        ]);
        let rules = Rules::load(dir.path(), None).unwrap();
        assert_eq!(apply(dir.path(), &rules, &[]).unwrap(), 5);
        assert_eq!(left(dir.path()), ["README.md", "apps/deploy.yaml"]);
    }

    #[test]
    fn sourceignore_files_are_scoped_to_their_directory_and_spec_ignore_comes_last() {
        let dir = tree(&[
            "apps/a.yaml",
            "apps/test/t.yaml",
            "infra/test/keep.yaml",
            "infra/b.yaml",
            "docs/index.md",
            "img/keep.png",
        ]);
        std::fs::write(dir.path().join("apps/.sourceignore"), "# tests\ntest/\n").unwrap();
        let rules = Rules::load(dir.path(), Some("/docs/\n!img/keep.png\n")).unwrap();
        apply(dir.path(), &rules, &[]).unwrap();
        assert_eq!(
            left(dir.path()),
            [
                "apps/.sourceignore",
                "apps/a.yaml",
                "img/keep.png",
                "infra/b.yaml",
                "infra/test/keep.yaml"
            ]
        );
    }

    #[test]
    fn sparse_checkout_keeps_only_the_listed_directories() {
        let dir = tree(&[
            "apps/prod/a.yaml",
            "apps/dev/b.yaml",
            "infra/c.yaml",
            "top.yaml",
        ]);
        let rules = Rules::load(dir.path(), None).unwrap();
        apply(dir.path(), &rules, &["./apps/prod/".into(), "infra".into()]).unwrap();
        assert_eq!(left(dir.path()), ["apps/prod/a.yaml", "infra/c.yaml"]);
    }
}
