//! The state in ConfigMaps (the CronJob: its pods have no lasting disk), in
//! the compact form (`compact.rs`) under `binaryData` key `state.json.gz`.
//! A state larger than one part (768 KiB of gzip, some 200,000 findings)
//! continues in parts: ConfigMaps `<name>-<random>-<n>` named, in order,
//! by the key `parts` of the main one. Parts are written first and never
//! changed; the main ConfigMap is the commit, and the parts of the state it
//! replaced are deleted after it.
//!
//! The main ConfigMap is written only over the version loaded: a
//! server-side apply carrying the `resourceVersion` read (the API server
//! answers 409 Conflict when another run wrote since), or a create when
//! there was none (409 AlreadyExists when another run created it first).
//! On a 409 the state is read again, this run's changes merged in
//! ([`State::merge`]) and written again.
//!
//! A state that cannot be decoded (cut short, corrupted, of an unknown
//! form) is a warning and a fresh start, said once in the next message: it
//! never fails every run. The first form (`data` key `state.json`, JSON) is
//! read.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use tracing::{info, warn};

use super::{Loaded, State, StateError, StateStore, compact};

/// The `binaryData` key of the compact state (of its first part).
const KEY: &str = "state.json.gz";
/// The `data` key of the first format, JSON.
const LEGACY_KEY: &str = "state.json";
/// The `data` key listing the other parts, a JSON array of names.
const PARTS_KEY: &str = "parts";
/// Bytes of gzip per ConfigMap (the API server allows 1 MiB of data).
const PART_BYTES: usize = 768 << 10;
/// Most parts read or written (12 MiB of gzip, millions of findings).
const MAX_PARTS: usize = 16;
/// The field manager of the writes.
const MANAGER: &str = "drift-check";
/// Writes tried before giving up, each after reading what another run wrote.
const ATTEMPTS: usize = 10;

/// The state in ConfigMaps.
#[derive(Clone)]
pub struct ConfigMapStore {
    pub client: kube::Client,
    pub namespace: String,
    pub name: String,
}

/// Why the ConfigMaps cannot be used.
#[derive(Debug, thiserror::Error)]
enum Problem {
    /// Another run kept writing the state, every attempt.
    #[error("another run wrote it before each of {ATTEMPTS} attempts")]
    Contended,
    /// Parts kept disappearing while read: other runs kept replacing it.
    #[error("its parts were replaced while read, {ATTEMPTS} times")]
    Moving,
    /// More than [`MAX_PARTS`] parts to write.
    #[error("{bytes} bytes of compact state is more than {MAX_PARTS} ConfigMaps hold")]
    TooLarge { bytes: usize },
}

/// A read that found a part gone: another run replaced the state meanwhile.
struct PartGone;

impl ConfigMapStore {
    fn err<E: std::error::Error + Send + Sync + 'static>(&self, source: E) -> StateError {
        StateError::ConfigMap {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        }
    }

    fn api(&self) -> kube::Api<ConfigMap> {
        kube::Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// One read of the main ConfigMap and its parts.
    async fn read(&self) -> Result<Result<Loaded, PartGone>, StateError> {
        let Some(cm) = self
            .api()
            .get_opt(&self.name)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(Ok(Loaded::default()));
        };
        let revision = cm.metadata.resource_version.clone();
        let data = cm.data.unwrap_or_default();
        let parts: Vec<String> = data
            .get(PARTS_KEY)
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let decoded = match cm.binary_data.as_ref().and_then(|b| b.get(KEY)) {
            Some(first) if parts.len() <= MAX_PARTS => {
                let mut bytes = first.0.clone();
                for part in &parts {
                    match self.api().get_opt(part).await.map_err(|e| self.err(e))? {
                        Some(p) => {
                            let chunk = p.binary_data.and_then(|mut b| b.remove(KEY));
                            bytes.extend(chunk.map(|c| c.0).unwrap_or_default());
                        }
                        None => return Ok(Err(PartGone)),
                    }
                }
                compact::decode(&bytes).map_err(|e| e.to_string())
            }
            Some(_) => Err(format!("{} parts, more than {MAX_PARTS}", parts.len())),
            None => match data.get(LEGACY_KEY) {
                Some(json) => serde_json::from_str(json).map_err(|e| e.to_string()),
                None => Ok(State::default()),
            },
        };
        let (state, note) = match decoded {
            Ok(state) => (state, None),
            Err(problem) => {
                warn!(
                    namespace = %self.namespace,
                    name = %self.name,
                    problem = %problem,
                    "The state cannot be read: starting afresh"
                );
                let note = format!(
                    "The state of the last post (ConfigMap {}/{}) could not be read ({problem}) and was started afresh: everything below is shown as new, some of it may have been posted before.",
                    self.namespace, self.name
                );
                (State::default(), Some(note))
            }
        };
        Ok(Ok(Loaded {
            state,
            revision,
            note,
            parts,
        }))
    }

    /// Writes `bytes` over `revision` (`None`: creates the ConfigMap), the
    /// parts beyond the first as new ConfigMaps; returns their names.
    async fn write(
        &self,
        bytes: &[u8],
        revision: Option<&str>,
    ) -> Result<Result<Vec<String>, kube::Error>, StateError> {
        let chunks: Vec<&[u8]> = bytes.chunks(PART_BYTES).collect();
        if chunks.len() > MAX_PARTS + 1 {
            return Err(self.err(Problem::TooLarge { bytes: bytes.len() }));
        }
        let labels = BTreeMap::from([("app.kubernetes.io/name".into(), MANAGER.into())]);
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..PostParams::default()
        };
        let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let mut parts = Vec::new();
        for (i, chunk) in chunks.iter().enumerate().skip(1) {
            let part = ConfigMap {
                metadata: kube::api::ObjectMeta {
                    name: Some(format!("{}-{run}-{i}", self.name)),
                    labels: Some(labels.clone()),
                    ..Default::default()
                },
                binary_data: Some(BTreeMap::from([(KEY.into(), ByteString(chunk.to_vec()))])),
                ..Default::default()
            };
            if let Err(e) = self.api().create(&params, &part).await {
                self.delete(&parts).await;
                return Err(self.err(e));
            }
            parts.push(part.metadata.name.unwrap_or_default());
        }
        let main = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                resource_version: revision.map(str::to_string),
                ..Default::default()
            },
            // Every key, always: what the apply leaves out it removes.
            data: Some(BTreeMap::from([(
                PARTS_KEY.into(),
                serde_json::to_string(&parts).expect("names serialize"),
            )])),
            binary_data: Some(BTreeMap::from([(
                KEY.into(),
                ByteString(chunks.first().copied().unwrap_or_default().to_vec()),
            )])),
            ..Default::default()
        };
        let written = match revision {
            None => self.api().create(&params, &main).await.map(|_| ()),
            Some(_) => {
                let mut apply = serde_json::to_value(&main).expect("a ConfigMap serializes");
                apply["apiVersion"] = "v1".into();
                apply["kind"] = "ConfigMap".into();
                self.api()
                    .patch(
                        &self.name,
                        &PatchParams::apply(MANAGER).force(),
                        &Patch::Apply(&apply),
                    )
                    .await
                    .map(|_| ())
            }
        };
        match written {
            Ok(()) => Ok(Ok(parts)),
            Err(e) => {
                self.delete(&parts).await;
                Ok(Err(e))
            }
        }
    }

    /// Deletes parts no state refers to any more; a failure is only logged.
    async fn delete(&self, parts: &[String]) {
        for part in parts {
            if let Err(e) = self.api().delete(part, &DeleteParams::default()).await {
                warn!(namespace = %self.namespace, name = %part, error = %e, "Cannot delete an old part of the state");
            }
        }
    }
}

impl StateStore for ConfigMapStore {
    async fn load(&self) -> Result<Loaded, StateError> {
        for _ in 0..ATTEMPTS {
            if let Ok(loaded) = self.read().await? {
                return Ok(loaded);
            }
        }
        Err(self.err(Problem::Moving))
    }

    async fn save(&self, base: &Loaded, next: &State) -> Result<(), StateError> {
        let mut theirs = base.clone();
        for _ in 0..ATTEMPTS {
            let merged = State::merge(&base.state, next, &theirs.state);
            let bytes = compact::encode(&merged);
            match self.write(&bytes, theirs.revision.as_deref()).await? {
                Ok(_) => {
                    self.delete(&theirs.parts).await;
                    info!(
                        namespace = %self.namespace,
                        name = %self.name,
                        findings = merged.findings.len(),
                        bytes = bytes.len(),
                        "Saved the state"
                    );
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    info!(
                        namespace = %self.namespace,
                        name = %self.name,
                        reason = %e.reason,
                        "Another run wrote the state meanwhile: merging"
                    );
                    theirs = self.load().await?;
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Err(self.err(Problem::Contended))
    }
}
