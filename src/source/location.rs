//! What `--repo` names: a git URL or a local directory, and how it is shown
//! in logs, errors and reports (credentials redacted).

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
            Location::Url(url) => redact(url),
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

/// A URL with the credentials of its user part replaced by `***`: an http(s)
/// URL's whole user part (a token is often given as the user name), the
/// password of any other.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let userinfo = if scheme.starts_with("http") {
        "***".to_string()
    } else {
        match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => userinfo.to_string(),
        }
    };
    format!("{scheme}://{userinfo}@{host}{path}")
}

/// Every URL in a text (`scheme://...`) with its credentials redacted as
/// [`redact`] does: for any message drift-check prints, since an error may
/// quote a URL it was given (a remote resource, a git remote, an API server).
pub fn redact_urls(text: &str) -> String {
    static URL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let url = URL.get_or_init(|| {
        regex::Regex::new(r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>`]+"#).expect("valid regex")
    });
    if !text.contains("://") {
        return text.to_string();
    }
    url.replace_all(text, |c: &regex::Captures<'_>| redact(&c[0]))
        .into_owned()
}

/// Replaces every occurrence of the URL, its credentials and the given
/// secrets in `text`: gix may quote the URL it was given in its errors.
pub fn scrub(text: &str, url: &str, secrets: &[&str]) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split('/').next().unwrap_or("").rsplit_once('@')
    {
        let secret = match userinfo.split_once(':') {
            Some((_, password)) => Some(password),
            None if url.starts_with("http") => Some(userinfo),
            None => None,
        };
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            out = out.replace(secret, "***");
        }
    }
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, "***");
    }
    out
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

    #[test]
    fn credentials_in_every_url_of_a_text_are_redacted() {
        assert_eq!(
            redact_urls(
                "kustomization.yaml: resources: remote resource https://user:tok3n@git.example/org/base?ref=v1 is not supported; \
                 also 'ssh://git:pw@host:22/r.git', git@github.com:org/r.git and https://example.com/a@b"
            ),
            "kustomization.yaml: resources: remote resource https://***@git.example/org/base?ref=v1 is not supported; \
             also 'ssh://git:***@host:22/r.git', git@github.com:org/r.git and https://example.com/a@b"
        );
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact("https://user:s3cret@example.com/org/infra.git"),
            "https://***@example.com/org/infra.git"
        );
        assert_eq!(
            redact("https://ghp_token@example.com/infra.git"),
            "https://***@example.com/infra.git"
        );
        assert_eq!(
            redact("ssh://git@127.0.0.1:2222/infra.git"),
            "ssh://git@127.0.0.1:2222/infra.git"
        );
        assert_eq!(
            redact("ssh://git:pw@host/infra.git"),
            "ssh://git:***@host/infra.git"
        );
        assert_eq!(
            redact("https://example.com/a@b/infra.git"),
            "https://example.com/a@b/infra.git"
        );
    }

    #[test]
    fn scrubbing_removes_the_password_and_secrets_from_messages() {
        let url = "https://user:s3cret@example.com/infra.git";
        let text = format!("could not fetch {url}: token tok-123 refused (s3cret)");
        assert_eq!(
            scrub(&text, url, &["tok-123"]),
            "could not fetch https://***@example.com/infra.git: token *** refused (***)"
        );
    }
}
