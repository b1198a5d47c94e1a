//! The pipeline's part in checking remote Kustomizations (`spec.kubeConfig`):
//! which cluster each render is compared on, which Kustomizations apply to
//! each cluster (the owners its orphans and overlaps are judged by), and
//! what a spoke that cannot be reached leaves in the report. The spoke's
//! live source itself is [`crate::live::remote`].

use std::collections::BTreeMap;

use tracing::info;

use super::Run;
use crate::error::{Issue, Stage};
use crate::flux::Kustomization;
use crate::live::remote::{RemoteError, Spoke};
use crate::live::{Live, LiveError};
use crate::render::Rendered;
use crate::report::KustomizationEntry;

/// The Kustomizations that can be followed to the cluster they apply to.
/// With a live snapshot, a remote one is skipped (a snapshot holds one
/// cluster); one whose `spec.kubeConfig` drift-check cannot follow
/// (workload identity) is "could not check", without a render.
pub fn followable<'k>(
    checked: Vec<&'k Kustomization>,
    live: &Live,
    issues: &mut Vec<Issue>,
    entries: &mut Vec<KustomizationEntry>,
) -> Vec<&'k Kustomization> {
    let mut out = Vec::new();
    for ks in checked {
        match Spoke::of(ks) {
            Ok(Some(_)) if matches!(live, Live::Snapshot(_)) => {
                let reason = RemoteError::Snapshot.to_string();
                info!(kustomization = %ks, reason, "Skipped");
                entries.push(KustomizationEntry::skipped(ks, reason));
            }
            Ok(_) => out.push(ks),
            Err(e) => {
                issues.push(Issue::new(Some(ks.id()), Stage::Live, &e));
                entries.push(KustomizationEntry::checked(ks, None, None, issues));
            }
        }
    }
    out
}

/// The renders compared on the cluster checked, and those of each spoke.
pub fn by_cluster(rendered: Vec<Rendered>) -> (Vec<Rendered>, BTreeMap<Spoke, Vec<Rendered>>) {
    let mut local = Vec::new();
    let mut spokes: BTreeMap<Spoke, Vec<Rendered>> = BTreeMap::new();
    for r in rendered {
        match Spoke::of(&r.ks) {
            Ok(Some(spoke)) => spokes.entry(spoke).or_default().push(r),
            // `followable` let no other through.
            _ => local.push(r),
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

/// An error reading a cluster's live state, naming the spoke when it is one.
pub fn issue_on(cluster: Option<&str>, error: &LiveError) -> Issue {
    let mut issue = Issue::new(None, Stage::Live, error);
    if let Some(cluster) = cluster {
        issue.message = format!("cluster {cluster}: {}", issue.message);
    }
    issue
}

/// A spoke that could not be reached: each of its Kustomizations "could not
/// check", naming the Secret and what failed; nothing of them is compared,
/// so nothing is reported missing or resolved.
pub fn unreachable(
    run: &mut Run<'_>,
    cluster: &str,
    error: &RemoteError,
    group: Vec<Rendered>,
    entries: &mut Vec<KustomizationEntry>,
) {
    for r in group {
        let issue = Issue::new(Some(r.ks.id()), Stage::Live, error);
        let mut entry = KustomizationEntry::checked(
            &r.ks,
            r.objects.as_ref().map(Vec::len),
            r.revision.clone(),
            &run.issues,
        );
        entry.source = run.checked_sources.remove(&r.ks.id());
        entry.cluster = Some(cluster.to_string());
        entry.error = Some(issue.message.clone());
        run.issues.push(issue);
        entries.push(entry);
    }
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

    fn rendered(ks: Kustomization) -> Rendered {
        Rendered {
            ks,
            objects: Some(Vec::new()),
            revision: None,
            applied_unread: false,
            head: None,
        }
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
        let (local, spokes) = by_cluster(all[..4].iter().cloned().map(rendered).collect());
        let names = |rs: &[Rendered]| rs.iter().map(|r| r.ks.name.clone()).collect::<Vec<_>>();
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
