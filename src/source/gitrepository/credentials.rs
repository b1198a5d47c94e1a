//! A GitRepository's credentials from the data of the Secrets it names, in
//! the shape source-controller reads (fluxcd/pkg `git` `NewAuthOptions`):
//! `spec.secretRef` holds `username` + `password`, or `bearerToken` (http),
//! `identity` + `known_hosts` (ssh), and `ca.crt` (https with a private
//! CA); `spec.proxySecretRef` holds `address`, and `username` + `password`.
//! With `spec.provider: github`, `spec.secretRef` holds a GitHub App
//! instead ([`crate::source::githubapp`]), and `ca.crt`; a GitHub App's keys
//! under any other provider are refused, as source-controller refuses them.
//! Client certificates (`tls.crt`/`tls.key`, mutual TLS) are refused by
//! name: the git transport here cannot present one.
//! A Secret of another shape is one clear problem; values never appear in it.

use crate::source::auth::{Credentials, Proxy};
use crate::source::fetch::{SecretData, SourceSecrets};
use crate::source::githubapp::{self, App};

/// The credentials, and the ssh files to write (`identity`, `known_hosts`:
/// ssh reads files), from the Secrets' data. `url` decides what is needed.
pub struct Parsed {
    pub credentials: Credentials,
    pub identity: Option<Vec<u8>>,
    pub known_hosts: Option<Vec<u8>>,
    /// The GitHub App whose installation token is the password
    /// (`spec.provider: github`).
    pub app: Option<App>,
}

/// Reads the Secrets' data; the error says what is wrong, naming keys only.
/// `github`: the GitRepository's `spec.provider` is `github`.
pub fn parse(url: &str, secrets: &SourceSecrets, github: bool) -> Result<Parsed, String> {
    if github {
        return parse_github(secrets);
    }
    let mut credentials = Credentials::default();
    let (mut identity, mut known_hosts) = (None, None);
    let ssh = url.starts_with("ssh://") || (!url.contains("://") && url.contains('@'));
    if let Some(secret) = &secrets.secret {
        if App::in_secret(secret) {
            return Err(format!(
                "secretRef: has GitHub App data ({}) but spec.provider is not github",
                githubapp::KEY_APP_ID
            ));
        }
        let text = |key: &str| {
            secret
                .text(key)
                .map(|v| v.trim_end_matches(['\n', '\r']).to_string())
                .filter(|v| !v.is_empty())
        };
        let basic = match (text("username"), text("password")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(_), None) => return Err("secretRef: has username but no password".into()),
            (None, Some(_)) => return Err("secretRef: has password but no username".into()),
        };
        let bearer = text("bearerToken");
        if basic.is_some() && bearer.is_some() {
            return Err(
                "secretRef: has both username/password and bearerToken (set one of them)".into(),
            );
        }
        if ssh {
            identity = secret.0.get("identity").cloned().filter(|v| !v.is_empty());
            known_hosts = secret
                .0
                .get("known_hosts")
                .cloned()
                .filter(|v| !v.is_empty());
            match (&identity, &known_hosts) {
                (None, _) if basic.is_none() => {
                    return Err(format!(
                        "secretRef: an ssh URL needs identity (a private key) and known_hosts; the Secret has keys {:?}",
                        secret
                    ));
                }
                (_, None) => {
                    return Err(
                        "secretRef: an ssh URL needs known_hosts (host keys are always checked)"
                            .into(),
                    );
                }
                _ => {}
            }
        } else if secret.0.contains_key("tls.crt") || secret.0.contains_key("tls.key") {
            return Err(
                "secretRef: client certificates (tls.crt/tls.key, mutual TLS) are not supported here for git over https; only ca.crt is"
                    .into(),
            );
        } else if basic.is_none()
            && bearer.is_none()
            && !secret.0.contains_key("ca.crt")
            && !secret.0.contains_key("caFile")
        {
            return Err(format!(
                "secretRef: an http(s) URL needs username + password, bearerToken or ca.crt; the Secret has keys {secret:?}"
            ));
        }
        credentials.basic = basic;
        credentials.bearer = bearer;
        credentials.ca_pem = secret
            .0
            .get("ca.crt")
            .or_else(|| secret.0.get("caFile"))
            .cloned();
    }
    if let Some(proxy) = &secrets.proxy {
        credentials.proxy = Some(parse_proxy(proxy)?);
    }
    Ok(Parsed {
        credentials,
        identity,
        known_hosts,
        app: None,
    })
}

/// `spec.provider: github`: the GitHub App of `spec.secretRef`, its `ca.crt`
/// (for the API and the git server), and the proxy.
fn parse_github(secrets: &SourceSecrets) -> Result<Parsed, String> {
    let Some(secret) = &secrets.secret else {
        return Err(
            "spec.provider github needs a secretRef with GitHub App data (githubAppID, githubAppInstallationID or githubAppInstallationOwner, githubAppPrivateKey)"
                .into(),
        );
    };
    let app = App::from_secret(secret).map_err(|e| e.to_string())?;
    let mut credentials = Credentials {
        ca_pem: secret
            .0
            .get("ca.crt")
            .or_else(|| secret.0.get("caFile"))
            .cloned(),
        ..Credentials::default()
    };
    if let Some(proxy) = &secrets.proxy {
        credentials.proxy = Some(parse_proxy(proxy)?);
    }
    Ok(Parsed {
        credentials,
        identity: None,
        known_hosts: None,
        app: Some(app),
    })
}

fn parse_proxy(proxy: &SecretData) -> Result<Proxy, String> {
    let text = |key: &str| {
        proxy
            .text(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(address) = text("address") else {
        return Err(format!(
            "proxySecretRef: has no address (e.g. http://proxy:3128); the Secret has keys {proxy:?}"
        ));
    };
    let basic = match (text("username"), text("password")) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => return Err("proxySecretRef: username and password go together".into()),
    };
    Ok(Proxy { address, basic })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> Option<SecretData> {
        Some(SecretData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        ))
    }

    fn secret(pairs: &[(&str, &str)]) -> SourceSecrets {
        SourceSecrets {
            secret: data(pairs),
            ..SourceSecrets::default()
        }
    }

    #[test]
    fn basic_bearer_ca_and_ssh_are_read_from_fluxs_keys() {
        let p = parse(
            "https://h/r.git",
            &secret(&[("username", "u"), ("password", "pw\n")]),
            false,
        )
        .unwrap();
        assert_eq!(p.credentials.basic, Some(("u".into(), "pw".into())));
        let p = parse(
            "https://h/r.git",
            &secret(&[("bearerToken", "tok"), ("ca.crt", "PEM")]),
            false,
        )
        .unwrap();
        assert_eq!(p.credentials.bearer.as_deref(), Some("tok"));
        assert_eq!(p.credentials.ca_pem.as_deref(), Some(&b"PEM"[..]));
        let p = parse(
            "ssh://git@h:22/r.git",
            &secret(&[("identity", "KEY"), ("known_hosts", "h ssh-ed25519 AAA")]),
            false,
        )
        .unwrap();
        assert_eq!(p.identity.as_deref(), Some(&b"KEY"[..]));
        assert_eq!(p.known_hosts.as_deref(), Some(&b"h ssh-ed25519 AAA"[..]));
        assert!(
            parse("https://h/r.git", &SourceSecrets::default(), false)
                .unwrap()
                .credentials
                .basic
                .is_none()
        );
    }

    #[test]
    fn a_secret_of_the_wrong_shape_is_one_clear_problem_without_values() {
        let err =
            |url: &str, pairs: &[(&str, &str)]| parse(url, &secret(pairs), false).err().unwrap();
        assert_eq!(
            err("https://h/r.git", &[("username", "u")]),
            "secretRef: has username but no password"
        );
        assert_eq!(
            err("https://h/r.git", &[("token", "s3cret-value")]),
            "secretRef: an http(s) URL needs username + password, bearerToken or ca.crt; the Secret has keys {\"token\"}"
        );
        assert_eq!(
            err(
                "git@h:org/r.git",
                &[
                    ("password", "s3cret-value"),
                    ("username", "u"),
                    ("identity", "K")
                ]
            ),
            "secretRef: an ssh URL needs known_hosts (host keys are always checked)"
        );
        assert_eq!(
            err(
                "https://h/r.git",
                &[("username", "u"), ("password", "p"), ("bearerToken", "t")]
            ),
            "secretRef: has both username/password and bearerToken (set one of them)"
        );
        assert_eq!(
            err(
                "https://h/r.git",
                &[
                    ("tls.crt", "C"),
                    ("tls.key", "s3cret-value"),
                    ("ca.crt", "A")
                ]
            ),
            "secretRef: client certificates (tls.crt/tls.key, mutual TLS) are not supported here for git over https; only ca.crt is"
        );
        let proxy = SourceSecrets {
            proxy: data(&[("username", "u"), ("password", "s3cret-value")]),
            ..SourceSecrets::default()
        };
        let e = parse("https://h/r.git", &proxy, false).err().unwrap();
        assert_eq!(
            e,
            "proxySecretRef: has no address (e.g. http://proxy:3128); the Secret has keys {\"password\", \"username\"}"
        );
        assert!(!e.contains("s3cret-value"));
    }

    #[test]
    fn a_proxy_is_read_with_its_credentials() {
        let s = SourceSecrets {
            proxy: data(&[
                ("address", "http://p:3128"),
                ("username", "u"),
                ("password", "pw"),
            ]),
            ..SourceSecrets::default()
        };
        let p = parse("https://h/r.git", &s, false)
            .unwrap()
            .credentials
            .proxy
            .unwrap();
        assert_eq!(p.address, "http://p:3128");
        assert_eq!(p.basic, Some(("u".into(), "pw".into())));
    }

    #[test]
    fn provider_github_reads_the_app_and_ca_and_other_providers_refuse_app_data() {
        let (pem, _) = githubapp::rsa_key();
        let app_secret = secret(&[
            ("githubAppID", "11"),
            ("githubAppInstallationID", "22"),
            ("githubAppPrivateKey", &pem),
            ("ca.crt", "PEM"),
        ]);
        let p = parse("https://github.com/org/r.git", &app_secret, true).unwrap();
        let app = p.app.unwrap();
        assert_eq!(
            (app.id, app.installation),
            (11, githubapp::Installation::Id(22))
        );
        assert_eq!(p.credentials.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(p.credentials.basic, None);
        assert_eq!(
            parse("https://github.com/org/r.git", &app_secret, false)
                .err()
                .unwrap(),
            "secretRef: has GitHub App data (githubAppID) but spec.provider is not github"
        );
        assert_eq!(
            parse(
                "https://github.com/org/r.git",
                &SourceSecrets::default(),
                true
            )
            .err()
            .unwrap(),
            "spec.provider github needs a secretRef with GitHub App data (githubAppID, githubAppInstallationID or githubAppInstallationOwner, githubAppPrivateKey)"
        );
        let e = parse(
            "https://github.com/org/r.git",
            &secret(&[("username", "u"), ("password", "s3cret-value")]),
            true,
        )
        .err()
        .unwrap();
        assert!(
            e.starts_with("secretRef: spec.provider github needs GitHub App data"),
            "{e}"
        );
        assert!(!e.contains("s3cret-value"));
    }
}
