//! What the Matrix sink posted last: the open fingerprints and since when, so
//! the next run posts only what changed.
//!
//! Kept behind [`StateStore`]: a file for manual runs ([`FileStore`]); a
//! ConfigMap in the job's namespace is the in-cluster store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The posted state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// When the last message was posted (RFC 3339).
    pub posted_at: Option<String>,
    /// The unexplained findings last posted as open, by fingerprint.
    pub open: BTreeMap<String, OpenFinding>,
}

/// A finding that was posted and not yet seen resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenFinding {
    /// When it was first posted (RFC 3339).
    pub since: String,
    /// `namespace/name` of its Kustomization.
    pub kustomization: Option<String>,
    /// `Kind/namespace/name`.
    pub object: String,
    /// The drift kind.
    pub drift: String,
}

/// The state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The ConfigMap cannot be read, parsed or written.
    #[error("state ConfigMap {namespace}/{name}")]
    ConfigMap {
        namespace: String,
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The state file cannot be read, parsed or written.
    #[error("state file {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the state lives.
pub trait StateStore {
    /// The last state; the default when there is none yet.
    fn load(&self) -> impl Future<Output = Result<State, StateError>> + Send;
    /// Replaces the state.
    fn save(&self, state: &State) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// The state in a JSON file (manual runs).
#[derive(Clone, Debug)]
pub struct FileStore {
    pub path: PathBuf,
}

impl FileStore {
    fn err(&self, source: std::io::Error) -> StateError {
        StateError::File {
            path: self.path.clone(),
            source,
        }
    }
}

impl StateStore for FileStore {
    async fn load(&self) -> Result<State, StateError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| self.err(std::io::Error::new(std::io::ErrorKind::InvalidData, e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn save(&self, state: &State) -> Result<(), StateError> {
        let mut json = serde_json::to_vec_pretty(state).expect("state serializes");
        json.push(b'\n');
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| self.err(e))?;
        }
        // Write then rename, so a crash never leaves half a file.
        let tmp = tmp_path(&self.path);
        tokio::fs::write(&tmp, json)
            .await
            .map_err(|e| self.err(e))?;
        tokio::fs::rename(&tmp, &self.path)
            .await
            .map_err(|e| self.err(e))
    }
}

/// The state in a ConfigMap (the CronJob: its pods have no lasting disk),
/// under the key `state.json`, written by server-side apply.
#[derive(Clone)]
pub struct ConfigMapStore {
    pub client: kube::Client,
    pub namespace: String,
    pub name: String,
}

/// The ConfigMap key holding the state.
const KEY: &str = "state.json";

impl ConfigMapStore {
    fn err<E: std::error::Error + Send + Sync + 'static>(&self, source: E) -> StateError {
        StateError::ConfigMap {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        }
    }

    fn api(&self) -> kube::Api<k8s_openapi::api::core::v1::ConfigMap> {
        kube::Api::namespaced(self.client.clone(), &self.namespace)
    }
}

impl StateStore for ConfigMapStore {
    async fn load(&self) -> Result<State, StateError> {
        let Some(cm) = self
            .api()
            .get_opt(&self.name)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(State::default());
        };
        match cm.data.as_ref().and_then(|d| d.get(KEY)) {
            Some(json) => serde_json::from_str(json).map_err(|e| self.err(e)),
            None => Ok(State::default()),
        }
    }

    async fn save(&self, state: &State) -> Result<(), StateError> {
        let json = serde_json::to_string_pretty(state).expect("state serializes");
        let cm = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "labels": {"app.kubernetes.io/name": "drift-check"},
            },
            "data": {KEY: json},
        });
        self.api()
            .patch(
                &self.name,
                &kube::api::PatchParams::apply("drift-check").force(),
                &kube::api::Patch::Apply(&cm),
            )
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// Where the state lives, picked at run time.
pub enum Store {
    File(FileStore),
    ConfigMap(ConfigMapStore),
}

impl StateStore for Store {
    async fn load(&self) -> Result<State, StateError> {
        match self {
            Store::File(s) => s.load().await,
            Store::ConfigMap(s) => s.load().await,
        }
    }

    async fn save(&self, state: &State) -> Result<(), StateError> {
        match self {
            Store::File(s) => s.save(state).await,
            Store::ConfigMap(s) => s.save(state).await,
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_file_is_an_empty_state_and_a_saved_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore {
            path: dir.path().join("sub/state.json"),
        };
        assert_eq!(store.load().await.unwrap(), State::default());
        let mut state = State {
            posted_at: Some("2026-11-24T02:00:00Z".into()),
            ..Default::default()
        };
        state.open.insert(
            "abc".into(),
            OpenFinding {
                since: "2026-11-24T02:00:00Z".into(),
                kustomization: Some("flux-system/apps".into()),
                object: "Deployment/web/api".into(),
                drift: "modified".into(),
            },
        );
        store.save(&state).await.unwrap();
        assert_eq!(store.load().await.unwrap(), state);
    }
}
