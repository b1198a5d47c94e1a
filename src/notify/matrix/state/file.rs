//! The state in a JSON file (manual runs). Read without a lock (the file is
//! only ever replaced whole, by a rename); written under an advisory lock
//! of `<file>.lock` (`flock`: released when the process dies), through a
//! temporary file of a unique name in the same directory, so two runs
//! never write the same temporary file and a crash never leaves half a state.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::{Loaded, State, StateError, StateStore};

/// The state in a JSON file.
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
    async fn load(&self) -> Result<Loaded, StateError> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || read(&path))
            .await
            .expect("the state read does not panic")
            .map_err(|e| self.err(e))?;
        Ok(match read {
            Ok(state) => Loaded {
                state,
                ..Loaded::default()
            },
            Err(problem) => {
                warn!(path = %self.path.display(), problem = %problem, "The state cannot be read: starting afresh");
                Loaded {
                    note: Some(format!(
                        "The state of the last post ({}) could not be read ({problem}) and was started afresh: everything below is shown as new, some of it may have been posted before.",
                        self.path.display()
                    )),
                    ..Loaded::default()
                }
            }
        })
    }

    async fn save(&self, base: &Loaded, next: &State) -> Result<(), StateError> {
        let (path, base, next) = (self.path.clone(), base.state.clone(), next.clone());
        tokio::task::spawn_blocking(move || write_merged(&path, &base, &next))
            .await
            .expect("the state write does not panic")
            .map_err(|e| self.err(e))
    }
}

/// The state in `path`; the default when there is none; `Err` inside
/// when the file is there but not a state (what is wrong with it).
fn read(path: &Path) -> std::io::Result<Result<State, String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).map_err(|e| e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ok(State::default())),
        Err(e) => Err(e),
    }
}

/// Under the lock: what is in the file now, `next`'s changes against `base`
/// merged in, written to a unique temporary file and renamed over it.
fn write_merged(path: &Path, base: &State, next: &State) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(path))?;
    // Blocks while another run writes (a few milliseconds); released on drop.
    lock.lock()?;
    let theirs = read(path)?.unwrap_or_default();
    if theirs != *base {
        info!(path = %path.display(), "Another run wrote the state meanwhile: merging");
    }
    let merged = State::merge(base, next, &theirs);
    let mut json = serde_json::to_vec(&merged).expect("state serializes");
    json.push(b'\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(&json)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `<file>.lock`, next to the state.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::super::{OpenFinding, SeenChange};
    use super::*;

    fn finding(object: &str) -> OpenFinding {
        OpenFinding {
            since: "2026-11-24T02:00:00Z".into(),
            kustomization: Some("flux-system/apps".into()),
            object: object.into(),
            drift: "modified".into(),
            severity: "edited".into(),
            content: "c0ffee".into(),
            changes: vec![SeenChange {
                path: "spec.replicas".into(),
                live: "5".into(),
                manager: Some("kubectl-edit".into()),
                time: Some("2026-11-20T08:15:00Z".into()),
            }],
            paused: false,
            thread: None,
            reminded: 0,
        }
    }

    #[tokio::test]
    async fn a_missing_file_is_an_empty_state_and_a_saved_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore {
            path: dir.path().join("sub/state.json"),
        };
        let base = store.load().await.unwrap();
        assert_eq!(base.state, State::default());
        let mut state = State {
            posted_at: Some("2026-11-24T02:00:00Z".into()),
            ..Default::default()
        };
        state
            .findings
            .insert("abc".into(), finding("Deployment/web/api"));
        store.save(&base, &state).await.unwrap();
        assert_eq!(store.load().await.unwrap().state, state);
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["state.json", "state.json.lock"],
            "no temporary file left"
        );
    }

    /// Two runs that loaded the same state and each added a finding: the
    /// second to write keeps the first's.
    #[tokio::test]
    async fn a_save_over_a_state_another_run_wrote_keeps_both_findings() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore {
            path: dir.path().join("state.json"),
        };
        let base = store.load().await.unwrap();
        let mut first = base.state.clone();
        first
            .findings
            .insert("a".into(), finding("Deployment/web/a"));
        let mut second = base.state.clone();
        second
            .findings
            .insert("b".into(), finding("Deployment/web/b"));
        store.save(&base, &first).await.unwrap();
        store.save(&base, &second).await.unwrap();
        let keys: Vec<String> = store
            .load()
            .await
            .unwrap()
            .state
            .findings
            .into_keys()
            .collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_state_is_a_fresh_start_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\"findings\": [cut short").unwrap();
        let loaded = FileStore { path: path.clone() }.load().await.unwrap();
        assert_eq!(loaded.state, State::default());
        assert_eq!(
            loaded.note.unwrap(),
            format!(
                "The state of the last post ({}) could not be read (invalid type: sequence, expected a map at line 1 column 13) and was started afresh: everything below is shown as new, some of it may have been posted before.",
                path.display()
            )
        );
    }

    /// Many writers at once from many threads: each one's finding is there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_saves_lose_no_update_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let base = FileStore { path: path.clone() }.load().await.unwrap();
        let saves = (0..16).map(|i| {
            let (path, base) = (path.clone(), base.clone());
            tokio::spawn(async move {
                let mut next = base.state.clone();
                next.findings
                    .insert(format!("{i:02}"), finding(&format!("Deployment/web/{i}")));
                FileStore { path }.save(&base, &next).await.unwrap();
            })
        });
        for s in saves {
            s.await.unwrap();
        }
        let state = FileStore { path }.load().await.unwrap().state;
        assert_eq!(state.findings.len(), 16);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
