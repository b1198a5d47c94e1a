//! `.sourceignore` files and a source's `spec.ignore`: gitignore patterns,
//! as fluxcd/pkg `sourceignore` reads them (go-git's gitignore matcher),
//! matched with ripgrep's `ignore` crate.
//!
//! Patterns are scoped to the directory of the `.sourceignore` they come
//! from (their "domain"); later patterns win over earlier ones, nested files
//! over their parents', and `spec.ignore` over every file. A pattern that
//! names a directory also ignores everything under it.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the ignore file source-controller reads.
pub const IGNORE_FILE: &str = ".sourceignore";

/// fluxcd/pkg `sourceignore.ExcludeVCS`: always applied to artifacts
/// source-controller archives.
const EXCLUDE_VCS: &str = ".git/,.gitignore,.gitmodules,.gitattributes";

/// fluxcd/pkg `ExcludeExt`, `ExcludeCI`, `ExcludeExtra`: applied only when
/// there is no pattern at all (`storage.SourceIgnoreFilter`).
const EXCLUDE_DEFAULTS: &str = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip,\
.github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,\
codeship-services.yml,codeship-steps.yml,**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml";

/// A bad pattern: the text it came from and why.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: pattern {pattern:?}: {message}")]
pub struct PatternError {
    pub origin: String,
    pub pattern: String,
    pub message: String,
}

/// Ignore patterns, in the order they take effect (last wins).
#[derive(Debug, Default)]
pub struct Rules {
    /// One matcher per block of patterns, with the directory it is scoped to.
    blocks: Vec<(PathBuf, Gitignore)>,
}

impl Rules {
    /// No pattern: nothing is ignored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no pattern was added.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Adds the patterns of `text` (one a line, `#` comments, blank lines
    /// skipped) scoped to `domain` (a directory of the tree, `""` for its
    /// top). `origin` names where they come from, for errors.
    pub fn add(&mut self, domain: &Path, text: &str, origin: &str) -> Result<(), PatternError> {
        let root = Path::new("/").join(domain);
        let mut builder = GitignoreBuilder::new(&root);
        let mut any = false;
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            builder.add_line(None, line).map_err(|e| PatternError {
                origin: origin.to_string(),
                pattern: line.to_string(),
                message: e.to_string(),
            })?;
            any = true;
        }
        if !any {
            return Ok(());
        }
        let matcher = builder.build().map_err(|e| PatternError {
            origin: origin.to_string(),
            pattern: text.to_string(),
            message: e.to_string(),
        })?;
        self.blocks.push((root, matcher));
        Ok(())
    }

    /// Whether `path` (relative to the top of the tree) is ignored.
    pub fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let absolute = Path::new("/").join(path);
        for (root, matcher) in self.blocks.iter().rev() {
            if !absolute.starts_with(root) || absolute == *root {
                continue;
            }
            match matcher.matched_path_or_any_parents(&absolute, is_dir) {
                Match::None => continue,
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
            }
        }
        false
    }
}

/// The rules source-controller archives an extracted OCI layer with
/// (`reconcileArtifact`): every `.sourceignore` in the tree, each scoped to
/// its directory, then `spec.ignore`; with no pattern at all, Flux's
/// defaults. The VCS patterns always apply.
pub fn for_artifact_tree(tree: &Path, spec_ignore: Option<&str>) -> Result<Rules, PatternError> {
    let mut found = Rules::new();
    load_ignore_files(tree, Path::new(""), &mut found)?;
    if let Some(text) = spec_ignore {
        found.add(Path::new(""), text, "spec.ignore")?;
    }
    let mut rules = Rules::new();
    rules.add(
        Path::new(""),
        &EXCLUDE_VCS.replace(',', "\n"),
        "Flux's VCS exclusions",
    )?;
    if found.is_empty() {
        rules.add(
            Path::new(""),
            &EXCLUDE_DEFAULTS.replace(',', "\n"),
            "Flux's default exclusions",
        )?;
    }
    rules.blocks.extend(found.blocks);
    Ok(rules)
}

/// fluxcd/pkg `LoadIgnorePatterns`: the `.sourceignore` of `dir`, then
/// those of its subdirectories (not `.git`), depth first, in name order.
fn load_ignore_files(top: &Path, domain: &Path, rules: &mut Rules) -> Result<(), PatternError> {
    let dir = top.join(domain);
    let file = dir.join(IGNORE_FILE);
    if let Ok(text) = std::fs::read_to_string(&file) {
        rules.add(
            domain,
            &text,
            &domain.join(IGNORE_FILE).display().to_string(),
        )?;
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name())
        .filter(|n| n != ".git")
        .collect();
    names.sort();
    for name in names {
        load_ignore_files(top, &domain.join(name), rules)?;
    }
    Ok(())
}

/// Removes from `tree` every file and directory `rules` ignore. Returns the
/// number of files removed.
pub fn prune(tree: &Path, rules: &Rules) -> std::io::Result<u64> {
    fn walk(top: &Path, rel: &Path, rules: &Rules, removed: &mut u64) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(top.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = rel.join(entry.file_name());
            let is_dir = entry.file_type()?.is_dir();
            if rules.is_ignored(&path, is_dir) {
                if is_dir {
                    *removed += count_files(&top.join(&path))?;
                    std::fs::remove_dir_all(top.join(&path))?;
                } else {
                    std::fs::remove_file(top.join(&path))?;
                    *removed += 1;
                }
            } else if is_dir {
                walk(top, &path, rules, removed)?;
            }
        }
        Ok(())
    }
    let mut removed = 0;
    walk(tree, Path::new(""), rules, &mut removed)?;
    Ok(removed)
}

fn count_files(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            n += count_files(&entry.path())?;
        } else {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(blocks: &[(&str, &str)]) -> Rules {
        let mut r = Rules::new();
        for (domain, text) in blocks {
            r.add(Path::new(domain), text, "test").unwrap();
        }
        r
    }

    #[test]
    fn patterns_match_files_and_everything_under_a_directory() {
        let r = rules(&[("", "# comment\n*.md\n/secrets/\ntmp\n!keep.md\n")]);
        assert!(r.is_ignored(Path::new("README.md"), false));
        assert!(r.is_ignored(Path::new("apps/docs/x.md"), false));
        assert!(!r.is_ignored(Path::new("keep.md"), false));
        assert!(r.is_ignored(Path::new("secrets/a.yaml"), false));
        assert!(!r.is_ignored(Path::new("apps/secrets/a.yaml"), false));
        assert!(r.is_ignored(Path::new("apps/tmp/a.yaml"), false));
        assert!(!r.is_ignored(Path::new("apps/cm.yaml"), false));
    }

    #[test]
    fn nested_patterns_are_scoped_to_their_directory_and_later_ones_win() {
        let r = rules(&[("", "*.yaml\n"), ("apps", "!*.yaml\n/local.yaml\n")]);
        assert!(r.is_ignored(Path::new("top.yaml"), false));
        assert!(!r.is_ignored(Path::new("apps/cm.yaml"), false));
        assert!(r.is_ignored(Path::new("apps/local.yaml"), false));
        assert!(r.is_ignored(Path::new("other/cm.yaml"), false));
    }

    #[test]
    fn artifact_trees_get_flux_defaults_only_without_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        std::fs::create_dir_all(t.join(".git")).unwrap();
        std::fs::create_dir_all(t.join("apps")).unwrap();
        for f in [".git/config", "logo.png", "apps/cm.yaml", "apps/notes.txt"] {
            std::fs::write(t.join(f), "x").unwrap();
        }
        let defaults = for_artifact_tree(t, None).unwrap();
        assert!(defaults.is_ignored(Path::new("logo.png"), false));
        assert!(defaults.is_ignored(Path::new(".git/config"), false));
        assert!(!defaults.is_ignored(Path::new("apps/notes.txt"), false));

        std::fs::write(t.join("apps/.sourceignore"), "*.txt\n").unwrap();
        let with_file = for_artifact_tree(t, Some("/apps/cm.yaml\n")).unwrap();
        assert!(!with_file.is_ignored(Path::new("logo.png"), false));
        assert!(with_file.is_ignored(Path::new(".git/config"), false));
        assert!(with_file.is_ignored(Path::new("apps/notes.txt"), false));
        assert!(with_file.is_ignored(Path::new("apps/cm.yaml"), false));
        assert_eq!(prune(t, &with_file).unwrap(), 3);
        assert!(t.join("logo.png").exists());
        assert!(t.join("apps/.sourceignore").exists());
        assert!(!t.join("apps/cm.yaml").exists());
        assert!(!t.join(".git").exists());
    }
}
