//! An `OCIRepository` object as read from the cluster: the fields the fetch
//! needs, checked, and Flux's revision format for OCI artifacts.

use serde_json::Value;

use super::Error;

/// Which artifact `spec.ref` points at (source-controller `getArtifactRef`:
/// digest first, then semver, then tag, else `latest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    Digest(String),
    Semver {
        range: String,
        filter: Option<String>,
    },
    Tag(String),
}

/// What source-controller does with the selected layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Untar it, then archive the tree with the ignore rules.
    Extract,
    /// Keep the blob as it is as the artifact (kustomize-controller then
    /// untars it, without ignore rules).
    Copy,
}

/// The fields of an `OCIRepository` a fetch uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// `namespace/name`, for messages.
    pub object: String,
    /// `spec.url` as written.
    pub url: String,
    /// The registry (`host[:port]`) and the repository path.
    pub registry: String,
    pub repository: String,
    pub reference: Ref,
    /// `spec.layerSelector.mediaType` (`None`: the first layer).
    pub media_type: Option<String>,
    pub operation: Operation,
    pub insecure: bool,
    pub ignore: Option<String>,
    /// `spec.secretRef.name`, `spec.certSecretRef.name`.
    pub secret_name: Option<String>,
    pub cert_secret_name: Option<String>,
}

impl Spec {
    /// Reads and checks the object; the message names the field and shows a
    /// good value.
    pub fn parse(object: &Value) -> Result<Self, Error> {
        let meta = &object["metadata"];
        let name = format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or("default"),
            meta["name"].as_str().unwrap_or("?")
        );
        let spec = &object["spec"];
        let invalid = |field: &str, message: String| Error::Spec {
            object: name.clone(),
            field: field.to_string(),
            message,
        };
        let provider = spec["provider"].as_str().unwrap_or("generic");
        match provider {
            "generic" | "" => {}
            "aws" | "azure" | "gcp" => {
                return Err(Error::CloudIdentity {
                    object: name,
                    provider: provider.to_string(),
                });
            }
            other => {
                return Err(invalid(
                    "spec.provider",
                    format!("{other:?} is not a provider (generic, aws, azure, gcp)"),
                ));
            }
        }
        let url = spec["url"].as_str().unwrap_or_default().to_string();
        let Some(rest) = url.strip_prefix("oci://") else {
            return Err(invalid(
                "spec.url",
                format!("{url:?} is not an OCI URL (e.g. oci://ghcr.io/org/manifests)"),
            ));
        };
        let (registry, repository) = match rest.split_once('/') {
            Some((host, path)) if !host.is_empty() && !path.is_empty() => {
                (host.to_string(), path.trim_end_matches('/').to_string())
            }
            _ => {
                return Err(invalid(
                    "spec.url",
                    format!("{url:?} has no repository path (e.g. oci://ghcr.io/org/manifests)"),
                ));
            }
        };
        if repository.contains(':') || repository.contains('@') {
            return Err(invalid(
                "spec.url",
                format!("{url:?} must not name a tag or digest (use spec.ref)"),
            ));
        }
        let r = &spec["ref"];
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let reference = if let Some(digest) = text(&r["digest"]) {
            if parse_digest(&digest).is_none() {
                return Err(invalid(
                    "spec.ref.digest",
                    format!("{digest:?} is not a digest (sha256:<64 hex digits>)"),
                ));
            }
            Ref::Digest(digest)
        } else if let Some(range) = text(&r["semver"]) {
            Ref::Semver {
                range,
                filter: text(&r["semverFilter"]),
            }
        } else {
            Ref::Tag(text(&r["tag"]).unwrap_or_else(|| "latest".into()))
        };
        let selector = &spec["layerSelector"];
        let operation = match selector["operation"].as_str().unwrap_or("extract") {
            "extract" | "" => Operation::Extract,
            "copy" => Operation::Copy,
            other => {
                return Err(invalid(
                    "spec.layerSelector.operation",
                    format!("{other:?} is not an operation (extract or copy)"),
                ));
            }
        };
        Ok(Self {
            object: name,
            url,
            registry,
            repository,
            reference,
            media_type: text(&selector["mediaType"]),
            operation,
            insecure: spec["insecure"].as_bool().unwrap_or(false),
            ignore: spec["ignore"].as_str().map(str::to_string),
            secret_name: text(&spec["secretRef"]["name"]),
            cert_secret_name: text(&spec["certSecretRef"]["name"]),
        })
    }
}

impl Spec {
    /// `namespace/name` of a Secret in the object's namespace.
    pub fn qualified(&self, name: &str) -> String {
        let namespace = self.object.split('/').next().unwrap_or("default");
        format!("{namespace}/{name}")
    }
}

/// The hex of a `sha256:<64 hex>` digest.
pub fn parse_digest(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(hex)
}

/// An OCI revision as source-controller records it: `<tag>@sha256:<hex>`
/// for a tag or semver ref, `sha256:<hex>` for a digest ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub tag: Option<String>,
    pub digest: String,
}

impl Revision {
    /// Parses Flux's format; `None` when it is not one.
    pub fn parse(revision: &str) -> Option<Self> {
        let (tag, digest) = match revision.rsplit_once('@') {
            Some((tag, digest)) if !tag.is_empty() => (Some(tag.to_string()), digest),
            Some(_) => return None,
            None => (None, revision),
        };
        parse_digest(digest)?;
        Some(Self {
            tag,
            digest: digest.to_string(),
        })
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{tag}@{}", self.digest),
            None => f.write_str(&self.digest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(spec: Value) -> Value {
        json!({"metadata": {"namespace": "flux-system", "name": "apps"}, "spec": spec})
    }

    #[test]
    fn reads_url_ref_and_layer_selector_with_flux_defaults() {
        let spec = Spec::parse(&object(json!({"url": "oci://127.0.0.1:5000/org/apps"}))).unwrap();
        assert_eq!(spec.registry, "127.0.0.1:5000");
        assert_eq!(spec.repository, "org/apps");
        assert_eq!(spec.reference, Ref::Tag("latest".into()));
        assert_eq!(spec.operation, Operation::Extract);
        assert_eq!(spec.media_type, None);
        let d = format!("sha256:{}", "a".repeat(64));
        let spec = Spec::parse(&object(json!({
            "url": "oci://ghcr.io/org/apps",
            "ref": {"digest": d, "semver": ">=1.0.0", "tag": "v1"},
            "layerSelector": {"mediaType": "application/x-tar", "operation": "copy"}
        })))
        .unwrap();
        assert_eq!(spec.reference, Ref::Digest(d));
        assert_eq!(spec.operation, Operation::Copy);
        let spec = Spec::parse(&object(json!({
            "url": "oci://ghcr.io/org/apps",
            "ref": {"semver": "1.x", "semverFilter": ".*-rc.*", "tag": "v1"}
        })))
        .unwrap();
        assert_eq!(
            spec.reference,
            Ref::Semver {
                range: "1.x".into(),
                filter: Some(".*-rc.*".into())
            }
        );
    }

    #[test]
    fn bad_fields_are_named_and_cloud_identity_is_refused() {
        let err = |spec: Value| Spec::parse(&object(spec)).unwrap_err().to_string();
        assert_eq!(
            err(json!({"url": "https://ghcr.io/org/apps"})),
            "OCIRepository flux-system/apps: spec.url: \"https://ghcr.io/org/apps\" is not an OCI URL (e.g. oci://ghcr.io/org/manifests)"
        );
        assert_eq!(
            err(json!({"url": "oci://ghcr.io/org/apps:v1"})),
            "OCIRepository flux-system/apps: spec.url: \"oci://ghcr.io/org/apps:v1\" must not name a tag or digest (use spec.ref)"
        );
        assert_eq!(
            err(json!({"url": "oci://ghcr.io/a", "ref": {"digest": "sha256:abc"}})),
            "OCIRepository flux-system/apps: spec.ref.digest: \"sha256:abc\" is not a digest (sha256:<64 hex digits>)"
        );
        assert_eq!(
            err(json!({"url": "oci://x.io/a", "provider": "aws"})),
            "OCIRepository flux-system/apps: could not check: cloud workload identity is not supported here (spec.provider: aws; use a secretRef)"
        );
    }

    #[test]
    fn revisions_in_flux_format() {
        let d = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let r = Revision::parse(&format!("v1.2.0@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("v1.2.0"));
        assert_eq!(r.digest, d);
        assert_eq!(r.to_string(), format!("v1.2.0@{d}"));
        assert_eq!(Revision::parse(&d).unwrap().tag, None);
        assert_eq!(Revision::parse("main@sha1:abc"), None);
        assert_eq!(Revision::parse(&format!("@{d}")), None);
        assert_eq!(Revision::parse("v1/0123"), None);
    }
}
