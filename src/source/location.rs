//! What `--repo` names: a git URL or a local directory, and how it is shown
//! in logs, errors and reports (credentials redacted by [`crate::redact`]).

use std::path::{Path, PathBuf};

/// Where the infra repo is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A git URL: `https://`, `http://`, `ssh://`, scp-like `user@host:path`,
    /// `git://`, `file://`.
    Url(String),
    /// A local directory, used as it is.
    Dir(PathBuf),
}

impl Location {
    /// Reads `--repo`: a URL when it has a scheme (`https://`, ...) or is
    /// scp-like (`git@host:path`), a directory otherwise.
    pub fn parse(repo: &str) -> Self {
        const SCHEMES: [&str; 6] = [
            "https://",
            "http://",
            "ssh://",
            "git://",
            "file://",
            "git+ssh://",
        ];
        if SCHEMES.iter().any(|s| repo.starts_with(s)) || is_scp_like(repo) {
            Location::Url(repo.to_string())
        } else {
            Location::Dir(PathBuf::from(repo))
        }
    }

    /// How it appears in logs, errors and reports: credentials in the URL
    /// replaced by `***`.
    pub fn display(&self) -> String {
        match self {
            Location::Url(url) => crate::redact::url(url),
            Location::Dir(path) => path.display().to_string(),
        }
    }
}

/// `git@host:path` (no scheme; a colon before the first slash; not a
/// Windows drive letter, not a path that exists).
fn is_scp_like(repo: &str) -> bool {
    let Some((host, _path)) = repo.split_once(':') else {
        return false;
    };
    !host.is_empty() && !host.contains('/') && host.len() > 1 && !Path::new(repo).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_directories_are_told_apart() {
        for url in [
            "https://github.com/org/infra.git",
            "http://127.0.0.1:8080/infra.git",
            "ssh://git@127.0.0.1:2222/srv/infra.git",
            "git@github.com:org/infra.git",
            "git://127.0.0.1/infra.git",
            "file:///srv/git/infra.git",
        ] {
            assert_eq!(Location::parse(url), Location::Url(url.into()), "{url}");
        }
        for dir in ["./infra", "infra", "/work/infra", "../x:y/infra"] {
            assert_eq!(Location::parse(dir), Location::Dir(dir.into()), "{dir}");
        }
    }
}
