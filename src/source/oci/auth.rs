//! Registry credentials and TLS from the Secrets an `OCIRepository` names:
//! `spec.secretRef` of type `kubernetes.io/dockerconfigjson` (the
//! `.dockerconfigjson` key's `auths` entry for the registry's host), and
//! `spec.certSecretRef` (`ca.crt`; `tls.crt`/`tls.key`).

use base64::Engine;
use oci_client::client::{Certificate, CertificateEncoding};
use oci_client::secrets::RegistryAuth;

use super::Error;
use super::spec::Spec;
use crate::source::fetch::SecretData;

/// The credentials for `spec.registry` in the Secret (anonymous when the
/// Secret has no entry for that host, as Flux's keychain falls back).
pub fn registry_auth(spec: &Spec, secret: Option<&SecretData>) -> Result<RegistryAuth, Error> {
    let Some(secret) = secret else {
        return Ok(RegistryAuth::Anonymous);
    };
    let name = spec.qualified(spec.secret_name.as_deref().unwrap_or_default());
    let wrong = |message: String| Error::Secret {
        object: spec.object.clone(),
        secret: name.clone(),
        message,
    };
    let Some(data) = secret.0.get(".dockerconfigjson") else {
        let keys: Vec<&str> = secret.0.keys().map(String::as_str).collect();
        return Err(wrong(format!(
            "not a kubernetes.io/dockerconfigjson Secret (no .dockerconfigjson key; it has: {})",
            if keys.is_empty() {
                "nothing".to_string()
            } else {
                keys.join(", ")
            }
        )));
    };
    let config: serde_json::Value = serde_json::from_slice(data)
        .map_err(|e| wrong(format!(".dockerconfigjson is not JSON ({e})")))?;
    let Some(auths) = config["auths"].as_object() else {
        return Err(wrong(".dockerconfigjson has no \"auths\" object".into()));
    };
    for (server, entry) in auths {
        if host_of(server) != spec.registry {
            continue;
        }
        let text = |k: &str| entry[k].as_str().filter(|s| !s.is_empty());
        if let (Some(user), Some(password)) = (text("username"), text("password")) {
            return Ok(RegistryAuth::Basic(user.into(), password.into()));
        }
        if let Some(encoded) = text("auth") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    wrong(format!(
                        ".dockerconfigjson: the \"auth\" of {server:?} is not base64 of user:password"
                    ))
                })?;
            let Some((user, password)) = decoded.split_once(':') else {
                return Err(wrong(format!(
                    ".dockerconfigjson: the \"auth\" of {server:?} is not base64 of user:password"
                )));
            };
            return Ok(RegistryAuth::Basic(user.into(), password.into()));
        }
        if let Some(token) = text("registrytoken").or(text("identitytoken")) {
            return Ok(RegistryAuth::Bearer(token.into()));
        }
        return Err(wrong(format!(
            ".dockerconfigjson: the entry of {server:?} has no username/password, auth or token"
        )));
    }
    Ok(RegistryAuth::Anonymous)
}

/// The host of an `auths` key: `host[:port]`, with any scheme and path
/// (`https://index.docker.io/v1/`) taken off.
fn host_of(server: &str) -> &str {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The extra CA of `spec.certSecretRef` (`ca.crt`). A client certificate
/// (`tls.crt`/`tls.key`) is refused with a clear error: the OCI client has
/// no way to present one.
pub fn certificates(spec: &Spec, cert: Option<&SecretData>) -> Result<Vec<Certificate>, Error> {
    let Some(cert) = cert else {
        return Ok(Vec::new());
    };
    let name = spec.qualified(spec.cert_secret_name.as_deref().unwrap_or_default());
    if cert.0.contains_key("tls.crt") || cert.0.contains_key("tls.key") {
        return Err(Error::Secret {
            object: spec.object.clone(),
            secret: name,
            message: "client certificates (tls.crt/tls.key) are not supported here; only ca.crt is"
                .into(),
        });
    }
    match cert.0.get("ca.crt") {
        Some(pem) => Ok(vec![Certificate {
            encoding: CertificateEncoding::Pem,
            data: pem.clone(),
        }]),
        None => Err(Error::Secret {
            object: spec.object.clone(),
            secret: name,
            message: "has no ca.crt".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(registry: &str) -> Spec {
        Spec::parse(&json!({
            "metadata": {"namespace": "flux-system", "name": "apps"},
            "spec": {"url": format!("oci://{registry}/apps"), "secretRef": {"name": "regcred"},
                     "certSecretRef": {"name": "ca"}}
        }))
        .unwrap()
    }

    fn secret(pairs: &[(&str, &str)]) -> SecretData {
        SecretData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        )
    }

    #[test]
    fn picks_the_registry_entry_of_a_dockerconfigjson() {
        let auth = base64::engine::general_purpose::STANDARD.encode("flux:pa:ss");
        let config = json!({"auths": {
            "https://other.io/v1/": {"username": "no", "password": "no"},
            "127.0.0.1:5443": {"auth": auth}
        }})
        .to_string();
        let s = secret(&[(".dockerconfigjson", &config)]);
        match registry_auth(&spec("127.0.0.1:5443"), Some(&s)).unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("flux", "pa:ss")),
            other => panic!("{other:?}"),
        }
        match registry_auth(&spec("other.io"), Some(&s)).unwrap() {
            RegistryAuth::Basic(u, _) => assert_eq!(u, "no"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            registry_auth(&spec("third.io"), Some(&s)).unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn a_secret_of_another_type_is_named_without_its_values() {
        let s = secret(&[("username", "flux"), ("password", "s3cret")]);
        let err = registry_auth(&spec("x.io"), Some(&s))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "OCIRepository flux-system/apps: Secret flux-system/regcred: not a kubernetes.io/dockerconfigjson Secret (no .dockerconfigjson key; it has: password, username)"
        );
        assert!(!err.contains("s3cret"));
        let err = certificates(
            &spec("x.io"),
            Some(&secret(&[("tls.crt", "C"), ("tls.key", "K")])),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "OCIRepository flux-system/apps: Secret flux-system/ca: client certificates (tls.crt/tls.key) are not supported here; only ca.crt is"
        );
    }
}
