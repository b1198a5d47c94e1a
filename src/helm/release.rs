//! Helm's release records: the Secrets of Helm's default storage driver.
//!
//! Helm v3 (`pkg/storage/driver/secrets.go`) stores each revision of a
//! release as a Secret named `sh.helm.release.v1.<release>.v<revision>` of
//! type `helm.sh/release.v1`, labelled `owner=helm`, `name=<release>`,
//! `status=<deployed|superseded|failed|...>`, `version=<revision>`, with one
//! data key, `release`: the release as JSON, gzipped, base64-encoded
//! (`util.go`, `encodeRelease`) — and the API base64-encodes Secret data once
//! more. The rendered objects are the release's `manifest`, a YAML stream.
//!
//! Only the name, namespace, revision and manifest are kept; the release's
//! `config` (the values, often holding credentials) and the chart are
//! dropped as soon as the record is decoded, and no error quotes the record.

use std::io::Read;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::k8s::object::{self, Object};

pub use crate::flux::kinds::helm::{
    DEPLOYED, NAME_LABEL, OWNER_LABEL, SECRET_TYPE, STATUS_LABEL, VERSION_LABEL, selector,
};

/// A decoded release record: what it deployed.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub version: u64,
    /// The manifest's objects, in order (empty documents left out).
    pub objects: Vec<Object>,
    /// The record's Secret name, for messages.
    pub record: String,
}

/// A release record that cannot be read. The messages never quote the record.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// No `release` key, or it is not base64 of gzip of JSON.
    #[error("release record {record}: {what}")]
    Undecodable { record: String, what: String },
    /// The manifest is not a YAML stream of objects.
    #[error("release record {record}: its manifest is not YAML: {message}")]
    Manifest { record: String, message: String },
}

/// The record of the latest deployed revision among `secrets` (Helm's
/// records of one release): the highest `version` label of those labelled
/// `owner=helm` and `status=deployed`.
pub fn latest_deployed<'a>(secrets: &'a [Object], release: &str) -> Option<&'a Object> {
    secrets
        .iter()
        .filter(|s| {
            object::label(s, OWNER_LABEL) == Some("helm")
                && object::label(s, NAME_LABEL) == Some(release)
                && object::label(s, STATUS_LABEL) == Some(DEPLOYED)
        })
        .max_by_key(|s| {
            object::label(s, VERSION_LABEL)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
}

/// The parts of Helm's `release.Release` kept: never `config` or `chart`.
#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    manifest: String,
}

/// Decodes a record Secret as the API returns it (`data.release` in base64).
pub fn decode(secret: &Object) -> Result<Release, ReleaseError> {
    let record = object::name(secret).unwrap_or("?").to_string();
    let undecodable = |what: &str| ReleaseError::Undecodable {
        record: record.clone(),
        what: what.to_string(),
    };
    let data = secret
        .pointer("/data/release")
        .and_then(Value::as_str)
        .ok_or_else(|| undecodable("no data.release"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    // The API's encoding of the bytes, then Helm's own of the gzip stream.
    let text = b64
        .decode(data.trim())
        .map_err(|_| undecodable("data.release is not base64"))?;
    let mut bytes = b64
        .decode(text.trim_ascii())
        .map_err(|_| undecodable("the release is not base64 (Helm's encoding)"))?;
    // Helm reads records written before compression was introduced as they are.
    if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut json)
            .map_err(|_| undecodable("the release is not a gzip stream"))?;
        bytes = json;
    }
    let parsed: Record =
        serde_json::from_slice(&bytes).map_err(|_| undecodable("the release is not JSON"))?;
    let objects = crate::yaml::documents(&parsed.manifest, std::path::Path::new(&record))
        .map_err(|e| ReleaseError::Manifest {
            record: record.clone(),
            message: match e {
                crate::yaml::YamlError::Parse { message, .. } => message,
                other => other.to_string(),
            },
        })?
        .into_iter()
        // Helm skips empty documents and those holding only comments.
        .filter(|o| o.get("kind").and_then(Value::as_str).is_some() && object::name(o).is_some())
        .collect();
    Ok(Release {
        name: parsed.name,
        namespace: parsed.namespace,
        version: parsed.version,
        objects,
        record,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    /// A record Secret as Helm's storage driver writes it and the API returns it.
    pub(crate) fn record(release: &str, version: u64, status: &str, manifest: &str) -> Object {
        let json = json!({"name": release, "namespace": "monitoring", "version": version,
            "info": {"status": status}, "manifest": manifest,
            "config": {"adminPassword": "hunter2-values"}, "chart": {"metadata": {"name": "grafana"}}});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(json.to_string().as_bytes()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let helm = b64.encode(gz.finish().unwrap());
        json!({"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": format!("sh.helm.release.v1.{release}.v{version}"), "namespace": "monitoring",
                "labels": {"owner": "helm", "name": release, "status": status, "version": version.to_string()}},
            "data": {"release": b64.encode(helm)}})
    }

    const MANIFEST: &str = "---\n# Source: grafana/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: grafana\nspec:\n  ports:\n  - port: 80\n---\n# Source: grafana/templates/empty.yaml\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: grafana\nspec:\n  replicas: 1\n";

    #[test]
    fn decodes_the_manifest_of_a_record_and_nothing_else() {
        let release = decode(&record("grafana", 3, "deployed", MANIFEST)).unwrap();
        assert_eq!(
            (
                release.name.as_str(),
                release.namespace.as_str(),
                release.version
            ),
            ("grafana", "monitoring", 3)
        );
        let kinds: Vec<&str> = release
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["Service", "Deployment"]);
        assert!(!format!("{release:?}").contains("hunter2-values"));
    }

    #[test]
    fn picks_the_latest_deployed_revision() {
        let records = vec![
            record("grafana", 2, "deployed", MANIFEST),
            record("grafana", 4, "failed", MANIFEST),
            record("grafana", 3, "superseded", MANIFEST),
            record("other", 9, "deployed", MANIFEST),
        ];
        let latest = latest_deployed(&records, "grafana").unwrap();
        assert_eq!(object::name(latest), Some("sh.helm.release.v1.grafana.v2"));
        assert!(latest_deployed(&records, "loki").is_none());
        assert_eq!(
            selector("grafana"),
            "owner=helm,name=grafana,status=deployed"
        );
    }

    #[test]
    fn an_undecodable_record_is_an_error_that_quotes_nothing() {
        let mut bad = record("grafana", 1, "deployed", MANIFEST);
        bad["data"]["release"] = json!("bm90IGd6aXA=");
        let message = decode(&bad).unwrap_err().to_string();
        assert_eq!(
            message,
            "release record sh.helm.release.v1.grafana.v1: the release is not base64 (Helm's encoding)"
        );
        bad["data"]["release"] = json!("%%%");
        assert_eq!(
            decode(&bad).unwrap_err().to_string(),
            "release record sh.helm.release.v1.grafana.v1: data.release is not base64"
        );
    }
}
