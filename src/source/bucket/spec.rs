//! A `Bucket` object as read from the cluster: the fields the fetch uses,
//! checked, with its credentials.

use serde_json::Value;

use super::Error;
use crate::source::fetch::SourceSecrets;

/// The fields of a `Bucket` a fetch uses. Never printed whole: `keys`
/// holds the secret key (its `Debug` hides it).
pub struct Spec {
    /// `namespace/name`, for messages.
    pub object: String,
    /// `spec.endpoint` as written (`host[:port]`, or with a scheme).
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    pub insecure: bool,
    pub ignore: Option<String>,
    pub secret_name: Option<String>,
    pub cert_secret_name: Option<String>,
    /// `accesskey`, `secretkey` of `spec.secretRef`.
    pub keys: Option<(String, String)>,
    /// `ca.crt` of `spec.certSecretRef`.
    pub ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("object", &self.object)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("keys", &self.keys.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Spec {
    /// Reads and checks the object and its Secrets; the message names the
    /// field or Secret and shows a good value.
    pub fn parse(object: &Value, secrets: &SourceSecrets) -> Result<Self, Error> {
        let meta = &object["metadata"];
        let name = format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or("default"),
            meta["name"].as_str().unwrap_or("?")
        );
        let spec = &object["spec"];
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let invalid = |field: &str, message: String| Error::Spec {
            object: name.clone(),
            field: field.to_string(),
            message,
        };
        let provider = spec["provider"].as_str().unwrap_or("generic");
        let secret_name = text(&spec["secretRef"]["name"]);
        match provider {
            "generic" | "" => {}
            // Static keys work against S3 itself; only identity is missing.
            "aws" if secret_name.is_some() => {}
            "aws" | "gcp" | "azure" => {
                return Err(Error::CloudIdentity {
                    object: name,
                    provider: provider.to_string(),
                });
            }
            other => {
                return Err(invalid(
                    "spec.provider",
                    format!("{other:?} is not a provider (generic, aws, gcp, azure)"),
                ));
            }
        }
        let endpoint = text(&spec["endpoint"]).ok_or_else(|| {
            invalid(
                "spec.endpoint",
                "missing (e.g. minio.minio.svc:9000 or s3.amazonaws.com)".into(),
            )
        })?;
        let bucket = text(&spec["bucketName"])
            .ok_or_else(|| invalid("spec.bucketName", "missing (e.g. flux-artifacts)".into()))?;
        let mut out = Self {
            endpoint,
            bucket,
            prefix: text(&spec["prefix"]).unwrap_or_default(),
            region: text(&spec["region"]).unwrap_or_else(|| "us-east-1".into()),
            insecure: spec["insecure"].as_bool().unwrap_or(false),
            ignore: spec["ignore"].as_str().map(str::to_string),
            cert_secret_name: text(&spec["certSecretRef"]["name"]),
            secret_name,
            keys: None,
            ca: None,
            object: name.clone(),
        };
        if secrets.proxy.is_some() {
            return Err(invalid(
                "spec.proxySecretRef",
                "a proxy is not supported here for Bucket sources".into(),
            ));
        }
        if let Some(secret) = &secrets.secret {
            let qualified = out.qualified(out.secret_name.as_deref().unwrap_or_default());
            match (secret.text("accesskey"), secret.text("secretkey")) {
                (Some(access), Some(key)) if !access.is_empty() && !key.is_empty() => {
                    out.keys = Some((access.trim().to_string(), key.trim().to_string()));
                }
                _ => {
                    let keys: Vec<&str> = secret.0.keys().map(String::as_str).collect();
                    return Err(Error::Secret {
                        object: out.object.clone(),
                        secret: qualified,
                        message: format!(
                            "needs both accesskey and secretkey (it has: {})",
                            if keys.is_empty() {
                                "nothing".to_string()
                            } else {
                                keys.join(", ")
                            }
                        ),
                    });
                }
            }
        }
        if let Some(cert) = &secrets.cert {
            let qualified = out.qualified(out.cert_secret_name.as_deref().unwrap_or_default());
            if cert.0.contains_key("tls.crt") || cert.0.contains_key("tls.key") {
                return Err(Error::Secret {
                    object: out.object.clone(),
                    secret: qualified,
                    message:
                        "client certificates (tls.crt/tls.key) are not supported here; only ca.crt is"
                            .into(),
                });
            }
            match cert.0.get("ca.crt") {
                Some(pem) => out.ca = Some(pem.clone()),
                None => {
                    return Err(Error::Secret {
                        object: out.object.clone(),
                        secret: qualified,
                        message: "has no ca.crt".into(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// `namespace/name` of a Secret in the object's namespace.
    pub fn qualified(&self, name: &str) -> String {
        let namespace = self.object.split('/').next().unwrap_or("default");
        format!("{namespace}/{name}")
    }

    /// The endpoint as a URL: `https://` unless `spec.insecure`, a scheme
    /// written in the endpoint kept.
    pub fn endpoint_url(&self) -> String {
        if self.endpoint.contains("://") {
            self.endpoint.trim_end_matches('/').to_string()
        } else if self.insecure {
            format!("http://{}", self.endpoint)
        } else {
            format!("https://{}", self.endpoint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::fetch::SecretData;
    use serde_json::json;

    fn object(spec: Value) -> Value {
        json!({"metadata": {"namespace": "flux-system", "name": "artifacts"}, "spec": spec})
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
    fn reads_the_fields_and_keys_and_hides_the_secret() {
        let secrets = SourceSecrets {
            secret: Some(secret(&[("accesskey", "AK\n"), ("secretkey", "s3cret")])),
            ..Default::default()
        };
        let spec = Spec::parse(
            &object(
                json!({"endpoint": "127.0.0.1:9000", "bucketName": "b", "insecure": true,
                           "prefix": "apps/", "secretRef": {"name": "keys"}}),
            ),
            &secrets,
        )
        .unwrap();
        assert_eq!(spec.endpoint_url(), "http://127.0.0.1:9000");
        assert_eq!(spec.region, "us-east-1");
        assert_eq!(spec.keys, Some(("AK".into(), "s3cret".into())));
        assert!(!format!("{spec:?}").contains("s3cret"));
    }

    #[test]
    fn bad_input_names_the_field_or_secret() {
        let err = |spec: Value, secrets: SourceSecrets| {
            Spec::parse(&object(spec), &secrets)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(json!({"bucketName": "b"}), SourceSecrets::default()),
            "Bucket flux-system/artifacts: spec.endpoint: missing (e.g. minio.minio.svc:9000 or s3.amazonaws.com)"
        );
        assert_eq!(
            err(
                json!({"endpoint": "e", "bucketName": "b", "provider": "gcp"}),
                SourceSecrets::default()
            ),
            "Bucket flux-system/artifacts: could not check: cloud workload identity is not supported here (spec.provider: gcp; use a secretRef with accesskey/secretkey)"
        );
        let wrong = SourceSecrets {
            secret: Some(secret(&[("username", "u"), ("password", "s3cret")])),
            ..Default::default()
        };
        let text = err(
            json!({"endpoint": "e", "bucketName": "b", "secretRef": {"name": "keys"}}),
            wrong,
        );
        assert_eq!(
            text,
            "Bucket flux-system/artifacts: Secret flux-system/keys: needs both accesskey and secretkey (it has: password, username)"
        );
    }
}
