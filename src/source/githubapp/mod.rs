//! GitHub App credentials for a GitRepository with `spec.provider: github`,
//! obtained as source-controller 1.9 (Flux 2.9) obtains them, through
//! fluxcd/pkg `auth/githubapp` v0.54 and `runtime/secrets` v0.110:
//!
//! - the `spec.secretRef` Secret holds `githubAppID`, `githubAppPrivateKey`
//!   (an RSA key in PEM, PKCS#1 or PKCS#8), exactly one of
//!   `githubAppInstallationID` or `githubAppInstallationOwner`, and
//!   optionally `githubAppBaseURL` (GitHub Enterprise Server; the API root,
//!   used as given) and `ca.crt` (trusted for the API and the git server);
//!   `spec.proxySecretRef`'s proxy is used for the API too;
//! - a JWT signed RS256 with the app's key (`iat` 30 s in the past, `exp`
//!   2 min after `iat`, `iss` the app ID) asks
//!   `POST {api}/app/installations/{id}/access_tokens` for an installation
//!   token; with an owner, the installation is looked up first
//!   (`GET {api}/orgs/{owner}/installation`, then `users/{owner}/installation`);
//! - git authenticates as user `x-access-token` with the token as password.
//!
//! A [`TokenCache`] lives for one run: the sources of one app installation
//! (same app, installation, API and key) share one token request. A token is
//! reused for 80% of its lifetime, at most an hour (fluxcd/pkg `cache`
//! `TokenCache`). The key and tokens never appear in any message or `Debug`
//! output.

mod api;
mod cache;

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::Digest;

use super::fetch::SecretData;

pub use api::client;
pub use cache::TokenCache;

/// The git user name an installation token authenticates as.
pub const USERNAME: &str = "x-access-token";

/// The Secret keys (fluxcd/pkg `runtime/secrets`).
pub const KEY_APP_ID: &str = "githubAppID";
pub const KEY_INSTALLATION_ID: &str = "githubAppInstallationID";
pub const KEY_INSTALLATION_OWNER: &str = "githubAppInstallationOwner";
pub const KEY_PRIVATE_KEY: &str = "githubAppPrivateKey";
pub const KEY_BASE_URL: &str = "githubAppBaseURL";

/// The public GitHub API, when the Secret names no `githubAppBaseURL`.
pub const GITHUB_API: &str = "https://api.github.com/";

/// GitHub App credentials could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GitHubAppError {
    /// The Secret's GitHub App data is missing or malformed (keys named,
    /// never values).
    #[error("secretRef: {0}")]
    Secret(String),
    /// The HTTP client for the API could not be set up (`ca.crt`, proxy).
    #[error("GitHub App API client: {0}")]
    Client(String),
    /// The API answered with an error status.
    #[error("GitHub App {app}: {what} ({method} {url}) failed: {status}{detail}")]
    Api {
        app: u64,
        what: &'static str,
        method: &'static str,
        url: String,
        status: String,
        /// GitHub's `message`, `: `-prefixed, or empty.
        detail: String,
    },
    /// The API could not be reached, or its answer not read.
    #[error("GitHub App {app}: {what} ({method} {url}): {reason}")]
    Request {
        app: u64,
        what: &'static str,
        method: &'static str,
        url: String,
        reason: String,
    },
}

/// Which installation of the app to get a token for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installation {
    /// `githubAppInstallationID`.
    Id(u64),
    /// `githubAppInstallationOwner`: an organization or user, looked up.
    Owner(String),
}

/// An installation token. Its `Debug` shows no value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the git transport only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A GitHub App, as a GitRepository's Secret describes it.
#[derive(Clone)]
pub struct App {
    pub id: u64,
    pub installation: Installation,
    /// The API root, ending in `/`.
    pub api: String,
    key: EncodingKey,
    /// SHA-256 of the key's PEM: the key's part of the cache key.
    key_digest: [u8; 32],
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("installation", &self.installation)
            .field("api", &self.api)
            .field("key", &"***")
            .finish()
    }
}

/// The claims of the JWT an app authenticates with.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

impl App {
    /// Whether the Secret holds any GitHub App key (then `spec.provider`
    /// must be `github`, as source-controller insists).
    pub fn in_secret(secret: &SecretData) -> bool {
        secret.0.contains_key(KEY_APP_ID)
    }

    /// Reads the app from the Secret's data, as fluxcd/pkg
    /// `GitHubAppDataFromSecret` and `githubapp.New` check it.
    pub fn from_secret(secret: &SecretData) -> Result<Self, GitHubAppError> {
        let text = |key: &str| secret.text(key).map(|v| v.trim().to_string());
        let error = |m: String| GitHubAppError::Secret(m);
        let keys = [
            KEY_APP_ID,
            KEY_INSTALLATION_ID,
            KEY_INSTALLATION_OWNER,
            KEY_PRIVATE_KEY,
        ];
        if !keys.iter().any(|k| secret.0.contains_key(*k)) {
            return Err(error(format!(
                "spec.provider github needs GitHub App data ({KEY_APP_ID}, {KEY_INSTALLATION_ID} or {KEY_INSTALLATION_OWNER}, {KEY_PRIVATE_KEY}); the Secret has keys {secret:?}"
            )));
        }
        let number = |key: &str| -> Result<Option<u64>, GitHubAppError> {
            match text(key) {
                None => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(error(format!(
                        "{key} is not a positive number (e.g. 123456)"
                    ))),
                },
            }
        };
        let Some(id) = number(KEY_APP_ID)? else {
            return Err(error(format!("has no {KEY_APP_ID}")));
        };
        let Some(pem) = secret.0.get(KEY_PRIVATE_KEY).filter(|v| !v.is_empty()) else {
            return Err(error(format!("has no {KEY_PRIVATE_KEY}")));
        };
        let owner = text(KEY_INSTALLATION_OWNER).filter(|o| !o.is_empty());
        let installation = match (number(KEY_INSTALLATION_ID)?, owner) {
            (Some(id), None) => Installation::Id(id),
            (None, Some(owner)) => Installation::Owner(owner),
            _ => {
                return Err(error(format!(
                    "must hold exactly one of {KEY_INSTALLATION_OWNER} or {KEY_INSTALLATION_ID}"
                )));
            }
        };
        let api = match text(KEY_BASE_URL).filter(|u| !u.is_empty()) {
            None => GITHUB_API.to_string(),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                if url.ends_with('/') {
                    url
                } else {
                    format!("{url}/")
                }
            }
            Some(_) => {
                return Err(error(format!(
                    "{KEY_BASE_URL} is not an http(s) URL (e.g. https://github.example.com/api/v3)"
                )));
            }
        };
        let not_rsa = || {
            error(format!(
                "{KEY_PRIVATE_KEY} is not an RSA private key in PEM (-----BEGIN RSA PRIVATE KEY-----, as GitHub issues it)"
            ))
        };
        let key = EncodingKey::from_rsa_pem(pem).map_err(|_| not_rsa())?;
        // The PEM may parse and still hold no usable RSA key: sign once.
        jsonwebtoken::crypto::sign(b"drift-check", &key, Algorithm::RS256)
            .map_err(|_| not_rsa())?;
        Ok(Self {
            id,
            installation,
            api,
            key,
            key_digest: sha2::Sha256::digest(pem).into(),
        })
    }

    /// The claims of a JWT made at `now` (seconds since the epoch), as
    /// fluxcd/pkg `githubapp` makes them: issued 30 s before (clock drift),
    /// valid 2 minutes, issued by the app.
    pub fn claims(&self, now: i64) -> Claims {
        let iat = now - 30;
        Claims {
            iat,
            exp: iat + 120,
            iss: self.id.to_string(),
        }
    }

    /// A JWT made at `now`, signed with the app's key.
    pub fn jwt(&self, now: i64) -> Result<String, GitHubAppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &self.claims(now), &self.key)
            .map_err(|e| GitHubAppError::Secret(format!("cannot sign with {KEY_PRIVATE_KEY}: {e}")))
    }

    /// What tells apart the tokens of two apps (installation, API, key):
    /// a digest, so no key is kept in the cache's keys.
    pub fn cache_key(&self) -> [u8; 32] {
        let installation = match &self.installation {
            Installation::Id(id) => format!("id={id}"),
            Installation::Owner(owner) => format!("owner={owner}"),
        };
        let mut hash = sha2::Sha256::new();
        hash.update(format!("{}\n{installation}\n{}\n", self.id, self.api));
        hash.update(self.key_digest);
        hash.finalize().into()
    }

    /// How the app is named in messages: its ID and installation.
    pub fn describe(&self) -> String {
        match &self.installation {
            Installation::Id(id) => format!("GitHub App {} installation {id}", self.id),
            Installation::Owner(o) => format!("GitHub App {} installation of {o}", self.id),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::rsa_key;
