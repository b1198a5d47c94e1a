//! `.sourceignore`: the files source-controller leaves out of an artifact.
//!
//! Input: `.sourceignore` files (gitignore syntax) in the directories from
//! the source root down, and source-controller's default exclusions.
//! Output: whether a path (relative to the root) is left out. Used by the
//! scan behind Flux's generated kustomization, which only ever sees what the
//! artifact holds.

use crate::files::FileError;
use crate::render::kustomize::KustomizeError;
use crate::render::load::Root;
// source-controller's default patterns (when a GitRepository sets no
// `spec.ignore`), as the source stage filters a fetched tree with them.
use crate::source::gitrepository::ignore::DEFAULTS;

/// One pattern, relative to the directory of its `.sourceignore`.
#[derive(Clone, Debug)]
struct Pattern {
    /// Path segments of the directory the pattern was written in.
    domain: Vec<String>,
    segments: Vec<String>,
    negate: bool,
    dir_only: bool,
}

/// The patterns in effect.
#[derive(Clone, Debug)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Default for Ignore {
    fn default() -> Self {
        let mut ignore = Ignore {
            patterns: Vec::new(),
        };
        for line in DEFAULTS {
            ignore.add_line(line, &[]);
        }
        ignore
    }
}

impl Ignore {
    /// Adds the `.sourceignore` of `dir` (segments relative to the root), if
    /// it has one. One that is a FIFO, a device, a symlink out of the root or
    /// over the size limit is an error naming it.
    pub fn load(&mut self, root: &Root, dir: &[String]) -> Result<(), KustomizeError> {
        let path = dir
            .iter()
            .fold(root.path().to_path_buf(), |p, s| p.join(s))
            .join(".sourceignore");
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        let text = match root.read_text(&path) {
            Err(KustomizeError::File(FileError::NotFound { .. })) => return Ok(()),
            other => other?,
        };
        for line in text.lines() {
            self.add_line(line, dir);
        }
        Ok(())
    }

    fn add_line(&mut self, line: &str, domain: &[String]) {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let (negate, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (dir_only, line) = match line.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let anchored = line.trim_start_matches('/').contains('/') || line.starts_with('/');
        let mut segments: Vec<String> = line
            .trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        if !anchored {
            segments.insert(0, "**".into());
        }
        self.patterns.push(Pattern {
            domain: domain.to_vec(),
            segments,
            negate,
            dir_only,
        });
    }

    /// Is the path (segments relative to the root) left out? The last
    /// matching pattern decides.
    pub fn ignores(&self, path: &[String], is_dir: bool) -> bool {
        let mut ignored = false;
        for pattern in &self.patterns {
            if pattern.dir_only && !is_dir {
                continue;
            }
            let Some(rest) = path.strip_prefix(pattern.domain.as_slice()) else {
                continue;
            };
            if matches(&pattern.segments, rest) {
                ignored = !pattern.negate;
            }
        }
        ignored
    }
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|i| matches(rest, &path[i..])),
        Some((first, rest)) => {
            !path.is_empty() && glob(first, &path[0]) && matches(rest, &path[1..])
        }
    }
}

/// One path segment against a glob: `*`, `?`, `[abc]`, `[a-z]`, `[!a]`.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // Returns (matched, length of the class in the pattern).
        let mut i = 1;
        let negate = matches!(p.get(1), Some('!' | '^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let start = i;
        while i < p.len() && (p[i] != ']' || i == start) {
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                matched |= p[i] <= c && c <= p[i + 2];
                i += 3;
            } else {
                matched |= p[i] == c;
                i += 1;
            }
        }
        (i < p.len()).then_some((matched != negate, i + 1))
    }
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('[') if !t.is_empty() => match class(p, t[0]) {
                Some((true, len)) => go(&p[len..], &t[1..]),
                Some((false, _)) => false,
                None => t[0] == '[' && go(&p[1..], &t[1..]),
            },
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    #[test]
    fn follows_gitignore_rules_and_source_controller_defaults() {
        let mut ignore = Ignore::default();
        for line in [
            "# comment",
            "*.txt",
            "!keep.txt",
            "/build/",
            "docs/**/draft-*.yaml",
        ] {
            ignore.add_line(line, &[]);
        }
        ignore.add_line("local.yaml", &segs("apps"));
        let cases = [
            ("notes.txt", false, true),
            ("a/b/notes.txt", false, true),
            ("a/keep.txt", false, false),
            ("build", true, true),
            ("a/build", true, false),
            ("docs/x/y/draft-1.yaml", false, true),
            ("docs/final.yaml", false, false),
            ("apps/local.yaml", false, true),
            ("other/local.yaml", false, false),
            ("apps/.sops.yaml", false, true),
            (".git", true, true),
            ("logo.png", false, true),
            ("app.yaml", false, false),
        ];
        for (path, is_dir, want) in cases {
            assert_eq!(ignore.ignores(&segs(path), is_dir), want, "{path}");
        }
    }
}
