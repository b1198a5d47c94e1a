//! What must never be printed, and the one set of rules that removes it
//! from every error, log line, report and message drift-check writes:
//!
//! - a URL's credentials: an http(s) URL's whole user part (a token is
//!   often given as the user name), the password of any other scheme's
//!   (`ssh://git@host` keeps its user `git`); the values of its query and
//!   fragment (receivers take a token there), but for the keys kustomize's
//!   remote resources use ([`SHOWN_QUERY_KEYS`]);
//! - `Authorization:` header values and `Bearer` tokens quoted in a text;
//! - values read from Secrets ([`secret_values`]) and the credentials a
//!   fetch was given ([`credentials`]).
//!
//! A leaf: it imports nothing of drift-check, so `error` and every stage
//! can use it.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

/// What a redacted value is replaced with.
pub const MASK: &str = "***";

/// Query keys whose values are shown: those of kustomize's remote
/// resources (`?ref=v1.2&timeout=90s`), which say which revision, not who.
pub const SHOWN_QUERY_KEYS: [&str; 4] = ["ref", "version", "timeout", "submodules"];

/// Values read from Secrets shorter than this (in bytes) are replaced only
/// where they stand as a whole token (see [`secret_values`]).
pub const WHOLE_TOKEN_BELOW: usize = 4;

/// A URL as it may be shown: credentials of its user part, and the values
/// of its query and fragment (but for [`SHOWN_QUERY_KEYS`]), replaced by
/// [`MASK`]. Text that is not a `scheme://` URL is returned as it is.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => format!("{}@{host}", userinfo_shown(scheme, userinfo)),
        None => authority.to_string(),
    };
    let (before_fragment, fragment) = match after.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (after, None),
    };
    let mut out = format!("{scheme}://{authority}");
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&pairs_shown(query));
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&fragment_shown(fragment));
    }
    out
}

/// Every URL in a text (`scheme://...`) redacted as [`url`] does, and every
/// `Authorization:` value and `Bearer` token replaced by [`MASK`]: for any
/// message drift-check prints, since an error may quote what it was given
/// (a remote resource, a git remote, an API server, a sink's endpoint).
pub fn text(text: &str) -> String {
    static URL: OnceLock<Regex> = OnceLock::new();
    static HEADER: OnceLock<Regex> = OnceLock::new();
    static BEARER: OnceLock<Regex> = OnceLock::new();
    let mut out = text.to_string();
    if out.contains("://") {
        let urls = URL.get_or_init(|| {
            Regex::new(r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>`()\[\]{}]+"#).expect("a valid regex")
        });
        out = urls
            .replace_all(&out, |c: &regex::Captures<'_>| {
                // Punctuation that ends a sentence ends the URL too.
                let whole = &c[0];
                let end = whole.trim_end_matches(['.', ',', ';', ':', '!', '?']).len();
                format!("{}{}", url(&whole[..end]), &whole[end..])
            })
            .into_owned();
    }
    let header = HEADER.get_or_init(|| {
        Regex::new(r#"(?i)(authorization"?\s*[:=]\s*"?)(?:([A-Za-z]+) +)?[^\s"',;]+"#)
            .expect("a valid regex")
    });
    out = header
        .replace_all(&out, |c: &regex::Captures<'_>| match c.get(2) {
            Some(scheme) => format!("{}{} {MASK}", &c[1], scheme.as_str()),
            None => format!("{}{MASK}", &c[1]),
        })
        .into_owned();
    let bearer = BEARER
        .get_or_init(|| Regex::new(r"\bBearer +[A-Za-z0-9._~+/\-]{6,}=*").expect("a valid regex"));
    bearer
        .replace_all(&out, format!("Bearer {MASK}").as_str())
        .into_owned()
}

/// Replaces the values read from Secrets in a text: one of
/// [`WHOLE_TOKEN_BELOW`] bytes or more wherever it occurs, a shorter one only
/// as a whole token (not next to a letter, digit or `_`) — a Secret holding
/// `a` must not turn every `a` of a message into `***`. Longer values go
/// first, so a short one inside a long one cannot leave part of it.
pub fn secret_values(text: &mut String, secrets: &BTreeSet<String>) {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if !text.contains(secret) {
            continue;
        }
        if secret.len() >= WHOLE_TOKEN_BELOW {
            *text = text.replace(secret, MASK);
            continue;
        }
        *text = whole_tokens_replaced(text, secret);
    }
}

/// Every occurrence of `url`, its password or token, and the given
/// credentials replaced in `text`: a client (gix) may quote the URL it was
/// given, or a credential alone, in its errors.
pub fn credentials(text: &str, fetched: &str, given: &[&str]) -> String {
    let mut out = text.replace(fetched, &url(fetched));
    if let Some(secret) = url_secret(fetched) {
        out = out.replace(secret, MASK);
    }
    for secret in given.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, MASK);
    }
    out
}

/// The user part as shown: all of it for http(s), else the user without
/// the password.
fn userinfo_shown(scheme: &str, userinfo: &str) -> String {
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        return MASK.to_string();
    }
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{MASK}"),
        None => userinfo.to_string(),
    }
}

/// `a=1&token=x` as `a=***&token=***`, values of [`SHOWN_QUERY_KEYS`] kept;
/// a part without `=` (a bare token) masked whole.
fn pairs_shown(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SHOWN_QUERY_KEYS.contains(&key) => pair.to_string(),
            Some((key, _)) => format!("{key}={MASK}"),
            None if pair.is_empty() => String::new(),
            None => MASK.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A fragment of `key=value` pairs (`#access_token=...`) is masked as a
/// query; an anchor (`#L10`, `#readme`) is kept.
fn fragment_shown(fragment: &str) -> String {
    if fragment.contains('=') {
        pairs_shown(fragment)
    } else {
        fragment.to_string()
    }
}

/// The password of a URL's user part, or an http(s) URL's whole user part.
fn url_secret(fetched: &str) -> Option<&str> {
    let (scheme, rest) = fetched.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let secret = match userinfo.split_once(':') {
        Some((_, password)) => password,
        None if scheme.starts_with("http") => userinfo,
        None => return None,
    };
    Some(secret).filter(|s| !s.is_empty())
}

/// `secret` replaced where it is not next to a letter, digit or `_`.
fn whole_tokens_replaced(text: &str, secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(secret) {
        let end = at + secret.len();
        if at < copied || word(text[..at].chars().next_back()) || word(text[end..].chars().next()) {
            continue;
        }
        out.push_str(&text[copied..at]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_url_loses_its_whole_user_part_another_only_its_password() {
        assert_eq!(
            url("https://user:s3cret@example.com/org/infra.git"),
            "https://***@example.com/org/infra.git"
        );
        assert_eq!(
            url("https://ghp_token@example.com/infra.git"),
            "https://***@example.com/infra.git"
        );
        assert_eq!(
            url("ssh://git@127.0.0.1:2222/infra.git"),
            "ssh://git@127.0.0.1:2222/infra.git"
        );
        assert_eq!(
            url("ssh://git:pw@host/infra.git"),
            "ssh://git:***@host/infra.git"
        );
        assert_eq!(
            url("ftp://u:p@hooks.example.org/x"),
            "ftp://u:***@hooks.example.org/x"
        );
        assert_eq!(
            url("https://example.com/a@b/infra.git"),
            "https://example.com/a@b/infra.git"
        );
        assert_eq!(
            url("https://pusher:hunter2@pg.example.org?x=1"),
            "https://***@pg.example.org?x=***"
        );
    }

    #[test]
    fn query_and_fragment_values_are_masked_but_a_revision_is_shown() {
        assert_eq!(
            url("https://u:p@hooks.example.org/x?token=abc&team=a#frag"),
            "https://***@hooks.example.org/x?token=***&team=***#frag"
        );
        assert_eq!(
            url("https://git.example/org/base?ref=v1&timeout=90s"),
            "https://git.example/org/base?ref=v1&timeout=90s"
        );
        assert_eq!(
            url("https://h/cb#access_token=xyz"),
            "https://h/cb#access_token=***"
        );
        assert_eq!(url("https://h/x?s3cr3t"), "https://h/x?***");
        assert_eq!(
            url("http://hooks.example.org/drift"),
            "http://hooks.example.org/drift"
        );
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn every_url_and_header_of_a_text_is_redacted() {
        assert_eq!(
            text(
                "kustomization.yaml: resources: remote resource https://user:tok3n@git.example/org/base?ref=v1 is not supported; \
                 also 'ssh://git:pw@host:22/r.git', git@github.com:org/r.git and https://example.com/a@b"
            ),
            "kustomization.yaml: resources: remote resource https://***@git.example/org/base?ref=v1 is not supported; \
             also 'ssh://git:***@host:22/r.git', git@github.com:org/r.git and https://example.com/a@b"
        );
        assert_eq!(
            text(
                "error sending request for url (https://h/info/refs?service=git-upload-pack): refused; see https://u:p@h/x?token=t."
            ),
            "error sending request for url (https://h/info/refs?service=***): refused; see https://***@h/x?token=***."
        );
        assert_eq!(
            text(
                "sent Authorization: Bearer abc.def-123 and authorization=Basic dXNlcjpw, \"Authorization\": \"tok\""
            ),
            "sent Authorization: Bearer *** and authorization=Basic ***, \"Authorization\": \"***\""
        );
        assert_eq!(
            text("401 for Bearer eyJhbGciOi.x.y; a bearer token is required"),
            "401 for Bearer ***; a bearer token is required"
        );
    }

    #[test]
    fn texts_lose_long_values_anywhere_and_short_ones_as_whole_tokens() {
        let secrets = BTreeSet::from(["T0K3N-123".to_string(), "a".to_string(), "ab".to_string()]);
        let mut text =
            "quota: the value T0K3N-123 is invalid; a at \"ab\", table abc b_a a".to_string();
        secret_values(&mut text, &secrets);
        assert_eq!(
            text,
            "quota: the value *** is invalid; *** at \"***\", table abc b_a ***"
        );
        let mut text = "xT0K3N-123x".to_string();
        secret_values(&mut text, &secrets);
        assert_eq!(text, "x***x");
    }

    #[test]
    fn the_credentials_of_a_fetch_are_removed_from_its_errors() {
        let fetched = "https://user:s3cret@example.com/infra.git";
        let message = format!("could not fetch {fetched}: token tok-123 refused (s3cret)");
        assert_eq!(
            credentials(&message, fetched, &["tok-123"]),
            "could not fetch https://***@example.com/infra.git: token *** refused (***)"
        );
    }
}
