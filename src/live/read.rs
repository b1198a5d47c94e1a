//! Stage `live` as the pipeline calls it: connecting ([`connect`]) and one
//! cluster's read of the types its renders need ([`read`]), problems
//! reported as issues and notes, never as a failed run.

use std::collections::{BTreeMap, BTreeSet};

use super::remote::Spoke;
use super::{Live, LiveError, LiveState, Options, TypeRef};
use crate::error::{Issue, Outcome, Problems, Stage};
use crate::flux::Kustomization;

/// Opens the live source (a snapshot's unreadable files are issues; the
/// rest is used); `None` when it cannot be opened at all.
pub async fn connect(options: &Options) -> Outcome<Option<Live>> {
    match Live::open(options).await {
        Ok((live, errors)) => {
            let issues = errors
                .iter()
                .map(|e| Issue::new(None, Stage::Live, e))
                .collect();
            Outcome {
                value: Some(live),
                issues,
                notes: Vec::new(),
            }
        }
        Err(e) => Outcome {
            value: None,
            issues: vec![Issue::new(None, Stage::Live, &e)],
            notes: Vec::new(),
        },
    }
}

/// One cluster's live objects: `state` of the types rendered and
/// inventoried, `helm` of the types only HelmReleases' objects need.
#[derive(Debug, Default)]
pub struct Read {
    pub state: LiveState,
    /// Kept apart from `state`: the orphan scans stay on the rendered and
    /// inventoried types.
    pub helm: LiveState,
}

impl Read {
    /// How many objects were read.
    pub fn len(&self) -> usize {
        self.state.len() + self.helm.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads `types`, then `helm_types` in a fetch of their own: one the token
/// may not list leaves those objects unchecked (a note), it is not an error
/// of the run. A type of `types` that cannot be read is an issue, naming the
/// spoke (`cluster`) when it is one.
pub async fn read(
    live: &Live,
    cluster: Option<&str>,
    types: &BTreeSet<TypeRef>,
    helm_types: &BTreeSet<TypeRef>,
) -> Outcome<Read> {
    let mut problems = Problems::default();
    let mut state = live.fetch(types).await;
    let mut helm = LiveState::default();
    if !helm_types.is_empty() {
        helm = live.fetch(helm_types).await;
        for e in std::mem::take(&mut helm.errors) {
            problems.note(
                None,
                format!("objects HelmReleases deployed: {e}: those of that type are not checked"),
            );
        }
        // Discovery of the second fetch knows the first one's groups too.
        state.scopes = helm.scopes.clone();
    }
    problems
        .issues
        .extend(state.errors.iter().map(|e| issue_on(cluster, e)));
    tracing::info!(
        objects = state.len() + helm.len(),
        types = types.len() + helm_types.len(),
        "Read live state"
    );
    Outcome::with(Read { state, helm }, problems)
}

/// An error reading a cluster's live state, naming the spoke when it is one.
pub fn issue_on(cluster: Option<&str>, error: &LiveError) -> Issue {
    let mut issue = Issue::new(None, Stage::Live, error);
    if let Some(cluster) = cluster {
        issue.message = format!("cluster {cluster}: {}", issue.message);
    }
    issue
}

/// Whether a Kustomization can be followed to the cluster it applies to.
#[derive(Debug)]
pub enum Follow {
    /// On the cluster checked, or on a spoke that can be reached.
    Yes,
    /// Not checked, and why (a remote one, with a live snapshot: a snapshot
    /// holds one cluster).
    Skip(String),
    /// Its `spec.kubeConfig` cannot be followed (workload identity): "could
    /// not check", an issue of its own.
    No,
}

/// Which of `checked` can be followed to the cluster they apply to
/// ([`Follow`]), in their order; the issue of each that cannot.
pub fn followable<'k>(
    checked: Vec<&'k Kustomization>,
    live: &Live,
) -> Outcome<Vec<(&'k Kustomization, Follow)>> {
    let mut problems = Problems::default();
    let mut out = Vec::new();
    for ks in checked {
        let follow = match Spoke::of(ks) {
            Ok(Some(_)) if matches!(live, Live::Snapshot(_)) => {
                Follow::Skip(super::remote::RemoteError::Snapshot.to_string())
            }
            Ok(_) => Follow::Yes,
            Err(e) => {
                problems
                    .issues
                    .push(Issue::new(Some(ks.id()), Stage::Live, &e));
                Follow::No
            }
        };
        out.push((ks, follow));
    }
    Outcome::with(out, problems)
}

/// Items (renders) grouped by the cluster their Kustomization applies to:
/// those of the cluster checked, and those of each spoke ([`followable`]
/// let no other through).
pub fn by_cluster<T>(
    items: Vec<T>,
    ks: impl Fn(&T) -> &Kustomization,
) -> (Vec<T>, BTreeMap<Spoke, Vec<T>>) {
    let mut local = Vec::new();
    let mut spokes: BTreeMap<Spoke, Vec<T>> = BTreeMap::new();
    for item in items {
        match Spoke::of(ks(&item)) {
            Ok(Some(spoke)) => spokes.entry(spoke).or_default().push(item),
            _ => local.push(item),
        }
    }
    (local, spokes)
}

/// The Kustomizations that apply to `cluster` ([`Spoke::cluster`]; `None`:
/// the cluster checked), whatever service account they apply as: a remote
/// one owns nothing on the cluster checked, and a local one nothing on a
/// spoke.
pub fn known_on(known: &[Kustomization], cluster: Option<&str>) -> Vec<Kustomization> {
    known
        .iter()
        .filter(|ks| match Spoke::of(ks) {
            Ok(Some(spoke)) => Some(spoke.cluster().as_str()) == cluster,
            Ok(None) => cluster.is_none(),
            // Where it applies is unknown: its objects are nobody's orphans
            // anywhere, so it is known everywhere.
            Err(_) => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discover;
    use crate::flux::Origin;

    fn ks(name: &str, kube_config: Option<serde_json::Value>) -> Kustomization {
        let mut object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"path": "./", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}});
        if let Some(k) = kube_config {
            object["spec"]["kubeConfig"] = k;
        }
        discover::from_object(&object, Origin::Live, "flux-system").unwrap()
    }

    #[test]
    fn renders_and_owners_are_grouped_by_the_cluster_they_apply_to() {
        let a = json!({"secretRef": {"name": "spoke-a"}});
        let b = json!({"secretRef": {"name": "spoke-b", "key": "config"}});
        let all = vec![
            ks("hub", None),
            ks("a1", Some(a.clone())),
            ks("b1", Some(b)),
            ks("a2", Some(a)),
            ks("wi", Some(json!({"configMapRef": {"name": "eks"}}))),
        ];
        let (local, spokes) = by_cluster(all[..4].to_vec(), |k| k);
        let names = |rs: &[Kustomization]| rs.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&local), ["hub"]);
        let grouped: Vec<(String, Vec<String>)> = spokes
            .iter()
            .map(|(s, rs)| (s.cluster(), names(rs)))
            .collect();
        assert_eq!(
            grouped,
            [
                (
                    "flux-system/spoke-a".to_string(),
                    vec!["a1".to_string(), "a2".to_string()]
                ),
                (
                    "flux-system/spoke-b:config".to_string(),
                    vec!["b1".to_string()]
                ),
            ]
        );
        let owners = |cluster| {
            known_on(&all, cluster)
                .into_iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(owners(None), ["hub", "wi"]);
        assert_eq!(owners(Some("flux-system/spoke-a")), ["a1", "a2", "wi"]);
        assert_eq!(owners(Some("flux-system/spoke-b:config")), ["b1", "wi"]);
    }
}
