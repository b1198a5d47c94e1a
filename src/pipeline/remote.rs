//! The pipeline's part in checking remote Kustomizations (`spec.kubeConfig`):
//! which cluster each render is compared on, which Kustomizations apply to
//! each cluster (the owners its orphans and overlaps are judged by), and
//! what a spoke that cannot be reached leaves in the report. The spoke's
//! live source itself is [`crate::live::remote`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tracing::info;

use super::{Compare, Run, helm};
use crate::diff::helm::Deployed;
use crate::error::{Issue, Note, Stage};
use crate::flux::Kustomization;
use crate::k8s::object::{self, Object};
use crate::live::remote::{RemoteError, Spoke};
use crate::live::{Live, LiveError, LiveState};
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

/// Compares each spoke's renders on the spoke ([`super::compare`]), with
/// the Kustomizations that apply there as the owners of its objects; a spoke
/// that cannot be reached is [`not_reached`]. Returns the API requests made
/// to the spokes.
pub async fn compare_on_spokes(
    run: &mut Run<'_>,
    hub: &Live,
    spokes: BTreeMap<Spoke, Vec<Rendered>>,
    at: &Compare<'_>,
    entries: &mut Vec<KustomizationEntry>,
    findings: &mut Vec<crate::classify::Finding>,
) -> usize {
    let mut requests = 0;
    for (spoke, group) in spokes {
        let cluster = spoke.cluster();
        match crate::live::remote::connect(hub, &spoke, &run.settings.live.cluster).await {
            Ok(on_spoke) => {
                let at = Compare {
                    known: known_on(&at.discovered.known, Some(&cluster)),
                    ..*at
                };
                super::compare(
                    run,
                    &on_spoke,
                    Some(&cluster),
                    group,
                    &at,
                    entries,
                    findings,
                )
                .await;
                requests += on_spoke.requests().unwrap_or(0);
            }
            Err(e) => not_reached(run, &cluster, &e, group, entries),
        }
    }
    requests
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
pub fn not_reached(
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

/// What the HelmReleases with `spec.kubeConfig` of one spoke deployed
/// there, and that spoke's live objects of their types.
pub struct HelmOnSpoke<'a> {
    pub deployed: Vec<Deployed<'a>>,
    pub state: LiveState,
}

/// Compares each HelmRelease with `spec.kubeConfig` on its spoke, as a local
/// one is compared on the cluster checked: its kubeconfig Secret read where
/// the HelmRelease lives (`live`, whose objects are `state`), as
/// helm-controller reads it; its release records and objects read on the
/// spoke. A spoke that cannot be reached is an issue of each such
/// HelmRelease's Kustomization, naming the HelmRelease and the Secret. Only
/// those on the hub are followed: a HelmRelease never applied deployed nothing.
pub async fn helm_on_spokes<'a>(
    run: &mut Run<'_>,
    live: &Live,
    remote: Vec<(usize, Object)>,
    rendered: &'a [Rendered],
    state: &LiveState,
) -> Vec<HelmOnSpoke<'a>> {
    let settings = run.settings;
    if matches!(live, Live::Snapshot(_)) {
        // A snapshot holds one cluster: said once per HelmRelease, not an error.
        for (i, o) in remote {
            let ks = &rendered[i].ks;
            run.notes.push(Note {
                kustomization: Some(ks.id()),
                message: format!(
                    "HelmRelease {}/{} installs into another cluster (spec.kubeConfig), which a live snapshot does not hold: what it deployed is not checked",
                    object::namespace(&o).unwrap_or(&ks.namespace),
                    object::name(&o).unwrap_or("?"),
                ),
            });
        }
        return Vec::new();
    }
    // One that is not on the hub was never applied (its Kustomization is
    // failing, or not reconciled yet): it installed nothing on its spoke, and
    // its entry already says it is missing.
    let applied = remote
        .into_iter()
        .filter(|(_, o)| object::ObjectRef::of(o).is_some_and(|r| state.get(&r.key()).is_some()));
    let mut groups: BTreeMap<Spoke, Vec<(usize, Object)>> = BTreeMap::new();
    for (i, o) in applied {
        let namespace = object::namespace(&o).unwrap_or(&rendered[i].ks.namespace);
        let service_account = o
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str);
        let reference = o.pointer("/spec/kubeConfig").unwrap_or(&Value::Null);
        match Spoke::new(namespace, reference, service_account) {
            Ok(spoke) => groups.entry(spoke).or_default().push((i, o)),
            Err(e) => run.issues.push(release_issue(&rendered[i].ks, &o, &e)),
        }
    }
    let mut out = Vec::new();
    for (spoke, found) in groups {
        let on_spoke =
            match crate::live::remote::connect(live, &spoke, &settings.live.cluster).await {
                Ok(on_spoke) => on_spoke,
                Err(e) => {
                    for (i, o) in &found {
                        run.issues.push(release_issue(&rendered[*i].ks, o, &e));
                    }
                    continue;
                }
            };
        let releases = helm::on(
            found,
            rendered,
            &on_spoke,
            &settings.helm,
            &mut run.issues,
            &mut run.notes,
        )
        .await;
        let types = releases.types(rendered, &settings.helm, &BTreeSet::new());
        let mut spoke_state = on_spoke.fetch(&types).await;
        for e in std::mem::take(&mut spoke_state.errors) {
            run.notes.push(Note {
                kustomization: None,
                message: format!(
                    "cluster {}: objects HelmReleases deployed: {e}: those of that type are not checked",
                    spoke.cluster()
                ),
            });
        }
        let deployed = releases.deployed(rendered, state, &spoke_state.scopes);
        out.push(HelmOnSpoke {
            deployed,
            state: spoke_state,
        });
    }
    out
}

/// An issue of the Kustomization rendering a HelmRelease, naming it.
fn release_issue(ks: &Kustomization, release: &Object, error: &RemoteError) -> Issue {
    let mut issue = Issue::new(Some(ks.id()), Stage::Live, error);
    issue.message = format!(
        "HelmRelease {}/{}: {}",
        object::namespace(release).unwrap_or(&ks.namespace),
        object::name(release).unwrap_or("?"),
        issue.message
    );
    issue
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
