//! A spoke's kubeconfig, read from a hub Secret as kustomize-controller reads
//! it for `spec.kubeConfig.secretRef` (Flux 2.9: kustomize-controller v1.9,
//! fluxcd/pkg runtime/client `impersonator.go` and `kubeconfig.go`).
//!
//! Input: the Secret's data, the key the Kustomization names, what the
//! operator allows. Output: kube's client [`Config`] for the spoke, or one
//! error naming the Secret and what is wrong. Pure but for kube's config
//! loading (which reads no file: file references are refused first).
//!
//! Flux's rules, mirrored:
//! - the key `spec.kubeConfig.secretRef.key`, else `value`, else `value.yaml`;
//! - the kubeconfig must be self-contained: a `certificate-authority`,
//!   `tokenFile`, `client-certificate` or `client-key` file is refused;
//! - an exec credential plugin is used only with `--insecure-kubeconfig-exec`,
//!   `insecure-skip-tls-verify` only with `--insecure-kubeconfig-tls` (Flux
//!   silently drops them otherwise; a check cannot run without credentials or
//!   with a disabled verification it was not allowed, so drift-check refuses
//!   them, saying which flag allows them);
//! - an `auth-provider` is never used by Flux (only host, TLS, basic auth and
//!   token are kept): refused;
//! - `spec.serviceAccountName` is impersonated as
//!   `system:serviceaccount:<namespace>:<name>`; any impersonation the
//!   kubeconfig itself asks for is dropped, as Flux drops it.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// What the operator allows a kubeconfig Secret to do (Flux's flags of the
/// same names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allow {
    /// `--insecure-kubeconfig-exec`: run `user.exec` credential plugins.
    pub exec: bool,
    /// `--insecure-kubeconfig-tls`: honour `insecure-skip-tls-verify`.
    pub insecure_tls: bool,
}

/// A kubeconfig Secret that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// `spec.kubeConfig.secretRef.key` names a key the Secret lacks.
    #[error("Secret {secret} has no key {key:?} with a kubeconfig (spec.kubeConfig.secretRef.key)")]
    NoKey { secret: String, key: String },
    /// No key given, and neither `value` nor `value.yaml` is there.
    #[error("Secret {secret} has no key \"value\" or \"value.yaml\" with a kubeconfig")]
    NoDefaultKey { secret: String },
    /// The value is not a kubeconfig (its text is never quoted: it may hold a token).
    #[error("Secret {secret}, key {key:?}: not a kubeconfig ({why})")]
    Invalid {
        secret: String,
        key: String,
        why: String,
    },
    /// A reference to a file, which a Secret cannot carry along.
    #[error(
        "Secret {secret}, key {key:?}: {entry} references a {field} file; only inline data is supported, as in Flux (use {inline})"
    )]
    FileReference {
        secret: String,
        key: String,
        entry: String,
        field: &'static str,
        inline: &'static str,
    },
    /// An exec credential plugin, not allowed.
    #[error(
        "Secret {secret}, key {key:?}: user {user:?} runs an exec credential plugin ({command}), refused as kustomize-controller refuses it without --insecure-kubeconfig-exec (allow it with --insecure-kubeconfig-exec or `insecureKubeconfigExec: true`)"
    )]
    Exec {
        secret: String,
        key: String,
        user: String,
        command: String,
    },
    /// An auth-provider plugin, which Flux never uses.
    #[error(
        "Secret {secret}, key {key:?}: user {user:?} uses the auth-provider {provider:?}, which kustomize-controller does not use either (use a token, a client certificate or an exec plugin)"
    )]
    AuthProvider {
        secret: String,
        key: String,
        user: String,
        provider: String,
    },
    /// TLS verification disabled, not allowed.
    #[error(
        "Secret {secret}, key {key:?}: cluster {cluster:?} sets insecure-skip-tls-verify, refused as kustomize-controller ignores it without --insecure-kubeconfig-tls (give certificate-authority-data, or allow it with --insecure-kubeconfig-tls or `insecureKubeconfigTls: true`)"
    )]
    InsecureTls {
        secret: String,
        key: String,
        cluster: String,
    },
    /// kube could not make a client configuration of it (no current
    /// context, a bad certificate, ...).
    #[error("Secret {secret}, key {key:?}: {message}")]
    Build {
        secret: String,
        key: String,
        message: String,
    },
}

/// The kubeconfig bytes of a Secret's data: `key` when given, else `value`,
/// else `value.yaml` (Flux's `getRESTConfigFromSecret`). `secret` is
/// `namespace/name`, for errors. Returns the key used and its value.
pub fn pick<'d>(
    data: &'d BTreeMap<String, Vec<u8>>,
    key: Option<&str>,
    secret: &str,
) -> Result<(&'d str, &'d [u8]), KubeconfigError> {
    let found = |k: &str| {
        data.get_key_value(k)
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    };
    match key {
        Some(key) => found(key).ok_or_else(|| KubeconfigError::NoKey {
            secret: secret.into(),
            key: key.into(),
        }),
        None => found("value")
            .or_else(|| found("value.yaml"))
            .ok_or_else(|| KubeconfigError::NoDefaultKey {
                secret: secret.into(),
            }),
    }
}

/// Parses a kubeconfig and checks it against Flux's rules and what `allow`
/// permits.
pub fn parse(
    bytes: &[u8],
    allow: Allow,
    secret: &str,
    key: &str,
) -> Result<Kubeconfig, KubeconfigError> {
    let invalid = |why: &str| KubeconfigError::Invalid {
        secret: secret.into(),
        key: key.into(),
        why: why.into(),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text"))?;
    // kube's parse error may quote the text: only its position is kept.
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|_| {
        invalid("not YAML with clusters, users and contexts (apiVersion: v1, kind: Config)")
    })?;
    if kubeconfig.clusters.is_empty() {
        return Err(invalid("no clusters"));
    }
    let file = |entry: String, field, inline| KubeconfigError::FileReference {
        secret: secret.into(),
        key: key.into(),
        entry,
        field,
        inline,
    };
    for named in &kubeconfig.clusters {
        let Some(cluster) = &named.cluster else {
            return Err(invalid(&format!("cluster {:?} is empty", named.name)));
        };
        if cluster.certificate_authority.is_some() {
            let entry = format!("cluster {:?}", named.name);
            return Err(file(
                entry,
                "certificate-authority",
                "certificate-authority-data",
            ));
        }
        if cluster.insecure_skip_tls_verify == Some(true) && !allow.insecure_tls {
            return Err(KubeconfigError::InsecureTls {
                secret: secret.into(),
                key: key.into(),
                cluster: named.name.clone(),
            });
        }
    }
    for named in &kubeconfig.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let entry = || format!("user {:?}", named.name);
        if user.token_file.is_some() {
            return Err(file(entry(), "tokenFile", "token"));
        }
        if user.client_certificate.is_some() {
            return Err(file(
                entry(),
                "client-certificate",
                "client-certificate-data",
            ));
        }
        if user.client_key.is_some() {
            return Err(file(entry(), "client-key", "client-key-data"));
        }
        if let Some(provider) = &user.auth_provider {
            return Err(KubeconfigError::AuthProvider {
                secret: secret.into(),
                key: key.into(),
                user: named.name.clone(),
                provider: provider.name.clone(),
            });
        }
        if let Some(exec) = &user.exec
            && !allow.exec
        {
            return Err(KubeconfigError::Exec {
                secret: secret.into(),
                key: key.into(),
                user: named.name.clone(),
                command: exec.command.clone().unwrap_or_default(),
            });
        }
    }
    Ok(kubeconfig)
}

/// kube's configuration for a checked kubeconfig (its current context), with
/// the request timeout and the impersonation Flux would use.
pub async fn config(
    kubeconfig: Kubeconfig,
    impersonate: Option<String>,
    timeout: Duration,
    secret: &str,
    key: &str,
) -> Result<Config, KubeconfigError> {
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| KubeconfigError::Build {
            secret: secret.into(),
            key: key.into(),
            message: crate::error::error_chain(&e),
        })?;
    config.auth_info.impersonate = impersonate;
    config.auth_info.impersonate_groups = None;
    config.auth_info.impersonate_uid = None;
    config.auth_info.impersonate_user_extra = None;
    let timeout = timeout.max(Duration::from_secs(1));
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    Ok(config)
}

/// The user Flux impersonates for `spec.serviceAccountName` in `namespace`.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

#[cfg(test)]
mod tests;
