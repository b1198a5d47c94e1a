//! What the Matrix sink posted last, so the next run posts only what changed:
//! each open finding by its identity (Kustomization, object, drift kind) with
//! a hash of its content (paths, values — masked for Secrets —, managers,
//! times) and what that content was; each open problem (a Kustomization or
//! stage that could not be checked, a suspended or failing Kustomization)
//! the same way.
//!
//! Kept behind [`StateStore`]: a file for manual runs (`file.rs`); a
//! ConfigMap in the job's namespace is the in-cluster store
//! (`config_map.rs`). The first format (`open`: fingerprints of the changed
//! paths) is read and migrated (see [`State::migrate`]).
//!
//! Two runs may share a store (a manual run next to the CronJob, two
//! CronJobs limited to different Kustomizations). Neither loses the other's
//! update: a store writes only over the version it loaded (the ConfigMap's
//! `resourceVersion`; the file under an advisory lock), and when another run
//! wrote in between, what this run changed is merged into what is there now
//! ([`State::merge`]) and written again.

mod compact;
mod config_map;
mod file;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use compact::{decode, encode};
pub use config_map::ConfigMapStore;
pub use file::FileStore;

/// The identity of a finding: its Kustomization, object and drift kind.
/// Stable whatever its paths, values or times.
pub fn identity(kustomization: Option<&str>, object: &str, drift: &str) -> String {
    let mut h = Sha256::new();
    for part in [kustomization.unwrap_or(""), object, drift] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..16])
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

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
    /// Its Kustomization is suspended: open, but not checked meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// The message that announced it as new: the root of its thread. `None`
    /// in states written before threads (no thread then).
    /// Shared by the findings of one message (100,000 findings of one
    /// post hold one copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Arc<Thread>>,
    /// The last `remindAfter` period it was reminded in (0: never): period
    /// `n` starts `n × remindAfter` after it was announced.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminded: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The message that announced a finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Thread {
    /// Its Matrix event id; empty while the message is being posted
    /// ([`State::announced_in`] fills it in).
    pub event: String,
    /// When it was posted (RFC 3339).
    pub at: String,
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
                paused: false,
                thread: None,
                reminded: 0,
            });
        }
        self.version = VERSION;
        self
    }

    /// Names `event` as the message that announced the findings planned as
    /// new (their thread's `event` is empty), once it is posted.
    pub fn announced_in(&mut self, event: &str) {
        let mut posted: Option<Arc<Thread>> = None;
        for f in self.findings.values_mut() {
            if let Some(t) = f.thread.as_mut().filter(|t| t.event.is_empty()) {
                let shared = posted.get_or_insert_with(|| {
                    Arc::new(Thread {
                        event: event.to_string(),
                        at: t.at.clone(),
                    })
                });
                *t = shared.clone();
            }
        }
    }
}

impl State {
    /// Three-way merge: `ours` was planned from `base`, `theirs` is what
    /// another run wrote meanwhile (also from `base`, or later). What this
    /// run changed against `base` — a finding or problem added, updated or
    /// gone — wins; everything it left as it was is taken from `theirs`,
    /// so the other run's findings and problems survive.
    pub fn merge(base: &State, ours: &State, theirs: &State) -> State {
        if theirs == base {
            return ours.clone();
        }
        let mut out = theirs.clone();
        out.version = VERSION;
        out.open.clear();
        merge_map(&base.findings, &ours.findings, &mut out.findings);
        merge_map(&base.problems, &ours.problems, &mut out.problems);
        out.posted_at = ours.posted_at.clone().max(theirs.posted_at.clone());
        out
    }
}

/// Applies to `out` every entry `ours` added, changed or removed against `base`.
fn merge_map<V: Clone + PartialEq>(
    base: &BTreeMap<String, V>,
    ours: &BTreeMap<String, V>,
    out: &mut BTreeMap<String, V>,
) {
    for (k, v) in ours {
        if base.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in base.keys() {
        if !ours.contains_key(k) {
            out.remove(k);
        }
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

/// A state as loaded, with what its store needs to write over exactly that
/// version (a `resourceVersion`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    pub state: State,
    /// The store's version of it; `None` when there was none yet.
    revision: Option<String>,
    /// What the message must say about the state, once: it could not be
    /// read and was started afresh.
    pub note: Option<String>,
    /// The other objects that hold the rest of it (ConfigMaps of a state
    /// split in parts), deleted once a new state replaced it.
    parts: Vec<String>,
}

impl Loaded {
    /// A state of no store: nothing posted yet as far as is known.
    pub fn fresh() -> Self {
        Self::default()
    }
}

/// Where the state lives.
pub trait StateStore {
    /// The last state; the default when there is none yet.
    fn load(&self) -> impl Future<Output = Result<Loaded, StateError>> + Send;
    /// Writes `next`, planned from `base`. When another run wrote since
    /// `base` was loaded, `next` is merged into its state ([`State::merge`]).
    fn save(
        &self,
        base: &Loaded,
        next: &State,
    ) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// Where the state lives, picked at run time.
pub enum Store {
    File(FileStore),
    ConfigMap(ConfigMapStore),
}

impl StateStore for Store {
    async fn load(&self) -> Result<Loaded, StateError> {
        match self {
            Store::File(s) => s.load().await,
            Store::ConfigMap(s) => s.load().await,
        }
    }

    async fn save(&self, base: &Loaded, next: &State) -> Result<(), StateError> {
        match self {
            Store::File(s) => s.save(base, next).await,
            Store::ConfigMap(s) => s.save(base, next).await,
        }
    }
}

#[cfg(test)]
mod tests;
