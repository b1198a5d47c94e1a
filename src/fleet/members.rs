//! Which clusters a run checks: the config file's `clusters:`, repeated
//! `--context`, or every context of a kubeconfig (`--all-contexts`), then
//! `--cluster NAME` to pick one. Pure but for `--all-contexts`, which reads
//! the kubeconfig's context names. A bad entry is an error naming it
//! (`clusters[2].inCluster`); a name given twice is not: the later ones are
//! clusters that cannot be checked, and the others are checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ClusterConfig, Fleet, Member, Rejected, Target};

/// The fleet cannot be made from what was given.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// An entry of `clusters:` is malformed.
    #[error("config file: clusters[{index}].{field}: {message}")]
    Entry {
        index: usize,
        field: &'static str,
        message: String,
    },
    /// Two ways of naming the clusters at once.
    #[error("{0}")]
    Conflict(&'static str),
    /// `--cluster NAME` names no cluster of the fleet.
    #[error("--cluster {name}: no such cluster in the fleet (clusters: {known})")]
    Unknown { name: String, known: String },
    /// `--all-contexts`: the kubeconfig cannot be read.
    #[error("--all-contexts: cannot read the kubeconfig {}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// `--all-contexts` over a kubeconfig without contexts.
    #[error("--all-contexts: the kubeconfig {} has no context", path.display())]
    NoContext { path: PathBuf },
}

/// What the fleet is made from.
#[derive(Clone, Debug)]
pub struct Given<'a> {
    /// The config file's `clusters:`.
    pub clusters: &'a [ClusterConfig],
    /// The config file's directory (relative paths of `clusters:`).
    pub base: &'a Path,
    /// `--context` (repeated).
    pub contexts: &'a [String],
    pub all_contexts: bool,
    /// `--kubeconfig` (or the file's `kubeconfig:`), for the contexts.
    pub kubeconfig: Option<&'a Path>,
    /// `--cluster`.
    pub select: Option<&'a str>,
    pub in_flight: usize,
}

/// The fleet of a run; `None` when there is none (no `clusters:`, at most
/// one `--context`, no `--all-contexts`): the single-cluster run.
pub fn resolve(given: &Given<'_>) -> Result<Option<Fleet>, FleetError> {
    let listed = !given.clusters.is_empty();
    if listed && (given.all_contexts || !given.contexts.is_empty()) {
        return Err(FleetError::Conflict(
            "--context and --all-contexts pick clusters of a kubeconfig; the config file's `clusters:` names them already: use --cluster NAME to check one of them",
        ));
    }
    if given.all_contexts && !given.contexts.is_empty() {
        return Err(FleetError::Conflict(
            "--all-contexts checks every context: it does not go with --context",
        ));
    }
    let members: Vec<(Member, String)> = if listed {
        given
            .clusters
            .iter()
            .enumerate()
            .map(|(index, c)| Ok((member(index, c, given.base)?, format!("clusters[{index}]"))))
            .collect::<Result<_, FleetError>>()?
    } else if given.all_contexts {
        all_contexts(given.kubeconfig)?
            .into_iter()
            .map(|c| (of_context(given.kubeconfig, c), "--all-contexts".into()))
            .collect()
    } else if given.contexts.len() > 1 {
        given
            .contexts
            .iter()
            .map(|c| (of_context(given.kubeconfig, c.clone()), "--context".into()))
            .collect()
    } else {
        return Ok(None);
    };
    let (mut members, mut rejected) = unique(members);
    if let Some(name) = given.select {
        let known: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        members.retain(|m| m.name == name);
        rejected.retain(|r| r.name == name);
        if members.is_empty() {
            return Err(FleetError::Unknown {
                name: name.to_string(),
                known: known.join(", "),
            });
        }
    }
    Ok(Some(Fleet {
        members,
        rejected,
        in_flight: given.in_flight.max(1),
        complete: listed && given.select.is_none(),
    }))
}

/// A cluster named by a kubeconfig context: named after it.
fn of_context(kubeconfig: Option<&Path>, context: String) -> Member {
    Member {
        name: context.clone(),
        labels: BTreeMap::new(),
        target: Target::Kubeconfig {
            file: kubeconfig.map(Path::to_path_buf),
            context: Some(context),
        },
    }
}

/// The contexts of the kubeconfig given, else of $KUBECONFIG or
/// ~/.kube/config (as kubectl reads them).
fn all_contexts(kubeconfig: Option<&Path>) -> Result<Vec<String>, FleetError> {
    let (read, path) = match kubeconfig {
        Some(path) => (
            kube::config::Kubeconfig::read_from(path),
            path.to_path_buf(),
        ),
        None => (
            kube::config::Kubeconfig::read(),
            std::env::var_os("KUBECONFIG")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("~/.kube/config")),
        ),
    };
    let config = read.map_err(|source| FleetError::Kubeconfig {
        path: path.clone(),
        source,
    })?;
    let names: Vec<String> = config.contexts.into_iter().map(|c| c.name).collect();
    if names.is_empty() {
        return Err(FleetError::NoContext { path });
    }
    Ok(names)
}

/// One entry of `clusters:`, validated.
fn member(index: usize, c: &ClusterConfig, base: &Path) -> Result<Member, FleetError> {
    let bad = |field, message: &str| FleetError::Entry {
        index,
        field,
        message: message.to_string(),
    };
    if c.name.trim().is_empty() {
        return Err(bad("name", "is required, e.g. `name: prod-eu`"));
    }
    if c.name.len() > 253 || c.name.chars().any(char::is_control) {
        return Err(bad(
            "name",
            "is at most 253 characters without control characters",
        ));
    }
    let target = match (c.in_cluster, &c.live_snapshot) {
        (true, _) if c.kubeconfig.is_some() || c.context.is_some() || c.live_snapshot.is_some() => {
            return Err(bad(
                "inCluster",
                "is the pod's own service account: it does not go with kubeconfig, context or liveSnapshot",
            ));
        }
        (true, None) => Target::InCluster,
        (false, Some(_)) if c.kubeconfig.is_some() || c.context.is_some() => {
            return Err(bad(
                "liveSnapshot",
                "reads no API server: it does not go with kubeconfig or context",
            ));
        }
        (false, Some(dir)) => Target::Snapshot(base.join(dir)),
        _ => Target::Kubeconfig {
            file: c.kubeconfig.as_ref().map(|p| base.join(p)),
            context: c.context.clone(),
        },
    };
    Ok(Member {
        name: c.name.clone(),
        labels: c.labels.clone(),
        target,
    })
}

/// The first cluster of each name is checked; a later one of the same name
/// cannot be (its report, metrics and Matrix state would be the first's).
fn unique(members: Vec<(Member, String)>) -> (Vec<Member>, Vec<Rejected>) {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let (mut kept, mut rejected) = (Vec::new(), Vec::new());
    for (m, origin) in members {
        match first.get(&m.name) {
            Some(earlier) => rejected.push(Rejected {
                reason: format!(
                    "the cluster name {:?} of {origin} is already that of {earlier}; give each cluster its own name",
                    m.name
                ),
                name: m.name,
                labels: m.labels,
            }),
            None => {
                first.insert(m.name.clone(), origin);
                kept.push(m);
            }
        }
    }
    (kept, rejected)
}
