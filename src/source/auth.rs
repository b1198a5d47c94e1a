//! Credentials for the git server, from the environment or files only (never
//! flags), in the layout of Flux's git Secret so the job can mount the Secret
//! Flux itself uses.
//!
//! - https: `DRIFT_CHECK_GIT_TOKEN` (sent as the password of basic auth, user
//!   `DRIFT_CHECK_GIT_USERNAME` or `git`), or `DRIFT_CHECK_GIT_USERNAME` +
//!   `DRIFT_CHECK_GIT_PASSWORD`; each also as `..._FILE` (a path to read). A
//!   Secret directory's `username`/`password`/`bearerToken` files work too.
//! - ssh: the Secret directory's `identity` (private key) and `known_hosts`.

use std::path::{Path, PathBuf};

use super::SourceError;

/// Credentials for https (basic auth) and ssh (a key and known hosts).
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name and password (or token) for http(s).
    pub basic: Option<(String, String)>,
    /// The private key file for ssh (`identity` in Flux's Secret).
    pub identity: Option<PathBuf>,
    /// The known_hosts file for ssh (`known_hosts` in Flux's Secret).
    pub known_hosts: Option<PathBuf>,
    /// A bearer token for http(s) (`bearerToken` of a GitRepository's Secret).
    pub bearer: Option<String>,
    /// CA certificates (PEM) to trust besides the system's (`ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// The http(s) proxy (`spec.proxySecretRef`).
    pub proxy: Option<Proxy>,
}

/// An http(s) proxy: `address`, and `username` + `password` when it asks.
#[derive(Clone)]
pub struct Proxy {
    pub address: String,
    pub basic: Option<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("basic", &self.basic.as_ref().map(|(user, _)| (user, "***")))
            .field("identity", &self.identity)
            .field("known_hosts", &self.known_hosts)
            .field("bearer", &self.bearer.as_ref().map(|_| "***"))
            .field("ca_pem", &self.ca_pem.is_some())
            .field(
                "proxy",
                &self.proxy.as_ref().map(|p| crate::redact::url(&p.address)),
            )
            .finish()
    }
}

/// Environment variables read for credentials.
pub const TOKEN: &str = "DRIFT_CHECK_GIT_TOKEN";
pub const USERNAME: &str = "DRIFT_CHECK_GIT_USERNAME";
pub const PASSWORD: &str = "DRIFT_CHECK_GIT_PASSWORD";

impl Credentials {
    /// Reads the environment (through `env`, so tests need not set the
    /// process environment) and the Secret directory, when given.
    pub fn load(
        env: impl Fn(&str) -> Option<String>,
        secret_dir: Option<&Path>,
    ) -> Result<Self, SourceError> {
        let value = |name: &str, file_in_dir: &str| -> Result<Option<String>, SourceError> {
            if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                return Ok(Some(v));
            }
            if let Some(path) = env(&format!("{name}_FILE")).filter(|v| !v.is_empty()) {
                return read_secret(Path::new(&path)).map(Some);
            }
            match secret_dir.map(|d| d.join(file_in_dir)) {
                Some(path) if path.is_file() => read_secret(&path).map(Some),
                _ => Ok(None),
            }
        };
        let token = value(TOKEN, "bearerToken")?;
        let username = value(USERNAME, "username")?;
        let password = value(PASSWORD, "password")?;
        let basic = match (token, username, password) {
            (Some(token), user, _) => Some((user.unwrap_or_else(|| "git".into()), token)),
            (None, Some(user), Some(password)) => Some((user, password)),
            (None, None, Some(password)) => Some(("git".into(), password)),
            (None, Some(_), None) => {
                return Err(SourceError::Credentials {
                    message: format!(
                        "{USERNAME} is set but neither {PASSWORD} nor {TOKEN} (or their _FILE variants) is"
                    ),
                });
            }
            (None, None, None) => None,
        };
        let (identity, known_hosts) = match secret_dir {
            None => (None, None),
            Some(dir) => {
                if !dir.is_dir() {
                    return Err(SourceError::Credentials {
                        message: format!(
                            "git Secret directory {}: not a directory (mount Flux's git Secret there: identity, known_hosts)",
                            dir.display()
                        ),
                    });
                }
                let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
                (file("identity"), file("known_hosts"))
            }
        };
        Ok(Self {
            basic,
            identity,
            known_hosts,
            ..Self::default()
        })
    }

    /// Secret values to scrub from any message.
    pub fn secrets(&self) -> Vec<&str> {
        self.basic
            .iter()
            .map(|(_, password)| password.as_str())
            .chain(self.bearer.as_deref())
            .chain(
                self.proxy
                    .iter()
                    .flat_map(|p| p.basic.iter().map(|(_, pw)| pw.as_str())),
            )
            .collect()
    }
}

fn read_secret(path: &Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|source| SourceError::SecretFile {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_token_is_the_password_of_basic_auth() {
        let c = Credentials::load(env(&[(TOKEN, "tok")]), None).unwrap();
        assert_eq!(c.basic, Some(("git".into(), "tok".into())));
        assert!(!format!("{c:?}").contains("tok\""), "{c:?}");
    }

    #[test]
    fn username_and_password_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let pw = dir.path().join("pw").display().to_string();
        let c = Credentials::load(
            env(&[(USERNAME, "alice"), ("DRIFT_CHECK_GIT_PASSWORD_FILE", &pw)]),
            None,
        )
        .unwrap();
        assert_eq!(c.basic, Some(("alice".into(), "s3cret".into())));
    }

    #[test]
    fn flux_secret_directory_gives_the_ssh_key_and_known_hosts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("identity"), "KEY").unwrap();
        std::fs::write(dir.path().join("known_hosts"), "host").unwrap();
        let c = Credentials::load(env(&[]), Some(dir.path())).unwrap();
        assert_eq!(c.identity, Some(dir.path().join("identity")));
        assert_eq!(c.known_hosts, Some(dir.path().join("known_hosts")));
        assert_eq!(c.basic, None);
    }

    #[test]
    fn flux_secret_directory_gives_basic_auth_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("username"), "flux\n").unwrap();
        std::fs::write(dir.path().join("password"), "from-secret\n").unwrap();
        let c = Credentials::load(env(&[]), Some(dir.path())).unwrap();
        assert_eq!(c.basic, Some(("flux".into(), "from-secret".into())));
        let c = Credentials::load(env(&[(TOKEN, "from-env")]), Some(dir.path())).unwrap();
        assert_eq!(c.basic, Some(("flux".into(), "from-env".into())));
        assert_eq!(c.secrets(), ["from-env"]);
    }

    #[test]
    fn a_missing_secret_directory_is_an_error_naming_it() {
        let err = Credentials::load(env(&[]), Some(Path::new("/no/such/secret")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "git credentials: git Secret directory /no/such/secret: not a directory (mount Flux's git Secret there: identity, known_hosts)"
        );
    }

    #[test]
    fn a_username_without_password_is_an_error() {
        let err = Credentials::load(env(&[(USERNAME, "alice")]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "git credentials: DRIFT_CHECK_GIT_USERNAME is set but neither DRIFT_CHECK_GIT_PASSWORD nor DRIFT_CHECK_GIT_TOKEN (or their _FILE variants) is"
        );
    }
}
