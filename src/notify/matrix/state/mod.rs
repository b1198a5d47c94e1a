//! What the Matrix sink posted last, so the next run posts only what changed:
//! each open finding by its identity (Kustomization, object, drift kind) with
//! a hash of its content (paths, values — masked for Secrets —, managers,
//! times) and what that content was; each open problem (a Kustomization or
//! stage that could not be checked, a suspended or failing Kustomization)
//! the same way.
//!
//! Kept behind [`StateStore`]: a file for manual runs ([`FileStore`]); a
//! ConfigMap in the job's namespace is the in-cluster store. The first
//! format (`open`: fingerprints of the changed paths) is read and migrated
//! (see [`State::migrate`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format written: 2 since findings are kept by identity with their content.
pub const VERSION: u32 = 2;

/// The posted state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// [`VERSION`]; absent (0) in the first format.
    #[serde(default)]
    pub version: u32,
    /// When the last message was posted (RFC 3339).
    pub posted_at: Option<String>,
    /// The unexplained findings last posted as open, by identity.
    #[serde(default)]
    pub findings: BTreeMap<String, OpenFinding>,
    /// What could not be checked, and the Kustomizations suspended or failing,
    /// by key (`could-not-check …`, `suspended …`, `failing …`).
    #[serde(default)]
    pub problems: BTreeMap<String, OpenProblem>,
    /// The first format's open findings, by fingerprint: read, never written.
    #[serde(default, skip_serializing)]
    pub open: BTreeMap<String, LegacyFinding>,
}

/// A finding that was posted and not yet seen resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenFinding {
    /// When the drift happened: the earliest time its changes were written,
    /// else when it was first posted (RFC 3339).
    pub since: String,
    /// `namespace/name` of its Kustomization.
    pub kustomization: Option<String>,
    /// `Kind/namespace/name`.
    pub object: String,
    /// The drift kind.
    pub drift: String,
    /// How bad it is (`missing-or-conflict`, `edited`, `added`, `orphaned`);
    /// empty when unknown (migrated).
    #[serde(default)]
    pub severity: String,
    /// Hash of its content as posted; empty when unknown (migrated).
    #[serde(default)]
    pub content: String,
    /// Its unexplained changes as posted, to say what changed.
    #[serde(default)]
    pub changes: Vec<SeenChange>,
}

/// One change of a posted finding, as the message showed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeenChange {
    /// The readable path.
    pub path: String,
    /// The live value, shortened (masked for Secrets).
    pub live: String,
    pub manager: Option<String>,
    pub time: Option<String>,
}

/// A problem that was posted and not yet seen resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenProblem {
    /// When it started, or was first posted (RFC 3339).
    pub since: String,
    /// The Kustomization (`namespace/name`) it concerns, `None` for a stage of the whole run.
    pub kustomization: Option<String>,
    /// What it says (the first error, Flux's reason and message).
    pub detail: String,
}

/// A finding of the first format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LegacyFinding {
    pub since: String,
    pub kustomization: Option<String>,
    pub object: String,
    pub drift: String,
}

impl State {
    /// The state in the current format: a first-format finding becomes an
    /// open finding of unknown content, under its identity; the next run
    /// takes the content it sees as the posted one (it is not posted again).
    pub fn migrate(mut self, identity: impl Fn(Option<&str>, &str, &str) -> String) -> Self {
        for (_, old) in std::mem::take(&mut self.open) {
            let id = identity(old.kustomization.as_deref(), &old.object, &old.drift);
            self.findings.entry(id).or_insert(OpenFinding {
                since: old.since,
                kustomization: old.kustomization,
                object: old.object,
                drift: old.drift,
                severity: String::new(),
                content: String::new(),
                changes: Vec::new(),
            });
        }
        self.version = VERSION;
        self
    }
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
        state.findings.insert(
            "abc".into(),
            OpenFinding {
                since: "2026-11-24T02:00:00Z".into(),
                kustomization: Some("flux-system/apps".into()),
                object: "Deployment/web/api".into(),
                drift: "modified".into(),
                severity: "edited".into(),
                content: "c0ffee".into(),
                changes: vec![SeenChange {
                    path: "spec.replicas".into(),
                    live: "5".into(),
                    manager: Some("kubectl-edit".into()),
                    time: Some("2026-11-20T08:15:00Z".into()),
                }],
            },
        );
        store.save(&state).await.unwrap();
        assert_eq!(store.load().await.unwrap(), state);
    }

    #[tokio::test]
    async fn a_state_of_the_first_format_loads_and_migrates_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"posted_at": "2026-11-24T02:00:05Z", "open": {"9f2c": {"since": "2026-11-24T02:00:05Z",
                "kustomization": "flux-system/docs", "object": "Deployment/docs/docs-portal", "drift": "modified"}}}"#,
        )
        .unwrap();
        let state = FileStore { path }.load().await.unwrap();
        assert_eq!(state.version, 0);
        let migrated = state.migrate(|ks, object, drift| format!("{ks:?} {object} {drift}"));
        assert_eq!(migrated.version, VERSION);
        assert!(migrated.open.is_empty());
        assert_eq!(
            migrated.findings["Some(\"flux-system/docs\") Deployment/docs/docs-portal modified"],
            OpenFinding {
                since: "2026-11-24T02:00:05Z".into(),
                kustomization: Some("flux-system/docs".into()),
                object: "Deployment/docs/docs-portal".into(),
                drift: "modified".into(),
                severity: String::new(),
                content: String::new(),
                changes: vec![],
            }
        );
        let json = serde_json::to_value(&migrated).unwrap();
        assert!(json.get("open").is_none(), "{json}");
    }
}
