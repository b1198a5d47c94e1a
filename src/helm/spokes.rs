//! Stage `helm`, for the HelmReleases with `spec.kubeConfig`: each compared
//! on its spoke as a local one is on the cluster checked. The kubeconfig
//! Secret is read where the HelmRelease lives, as helm-controller reads it;
//! its release records and objects are read on the spoke.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Options;
use super::releases::{self, Deployed};
use crate::error::{Issue, Outcome, Problems, Stage};
use crate::flux::Kustomization;
use crate::k8s::object::{self, Object};
use crate::live::cluster::ClusterOptions;
use crate::live::remote::{RemoteError, Spoke};
use crate::live::{Live, LiveState};
use crate::render::Rendered;

/// What the HelmReleases with `spec.kubeConfig` of one spoke deployed
/// there, and that spoke's live objects of their types.
pub struct OnSpoke<'a> {
    pub deployed: Vec<Deployed<'a>>,
    pub state: LiveState,
}

/// Compares each HelmRelease of `remote` on its spoke: its kubeconfig
/// Secret read on the cluster `live` reads (whose objects are `state`). A
/// spoke that cannot be reached is an issue of each such HelmRelease's
/// Kustomization, naming the HelmRelease and the Secret. Only those on the
/// hub are followed: a HelmRelease never applied deployed nothing. A live
/// snapshot holds one cluster: a note per HelmRelease, not an error.
pub async fn on_spokes<'a>(
    live: &Live,
    remote: Vec<(usize, Object)>,
    rendered: &'a [Rendered],
    state: &LiveState,
    options: &Options,
    cluster: &ClusterOptions,
) -> Outcome<Vec<OnSpoke<'a>>> {
    let mut problems = Problems::default();
    if matches!(live, Live::Snapshot(_)) {
        for (i, o) in remote {
            let ks = &rendered[i].ks;
            problems.note(
                Some(ks.id()),
                format!(
                    "HelmRelease {}/{} installs into another cluster (spec.kubeConfig), which a live snapshot does not hold: what it deployed is not checked",
                    object::namespace(&o).unwrap_or(&ks.namespace),
                    object::name(&o).unwrap_or("?"),
                ),
            );
        }
        return Outcome::with(Vec::new(), problems);
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
            Err(e) => problems.issues.push(release_issue(&rendered[i].ks, &o, &e)),
        }
    }
    let mut out = Vec::new();
    for (spoke, found) in groups {
        let on_spoke = match crate::live::remote::connect(live, &spoke, cluster).await {
            Ok(on_spoke) => on_spoke,
            Err(e) => {
                for (i, o) in &found {
                    problems.issues.push(release_issue(&rendered[*i].ks, o, &e));
                }
                continue;
            }
        };
        let releases = problems.take(releases::on(found, rendered, &on_spoke, options).await);
        let types = releases.types(rendered, options, &BTreeSet::new());
        let mut spoke_state = on_spoke.fetch(&types).await;
        for e in std::mem::take(&mut spoke_state.errors) {
            problems.note(
                None,
                format!(
                    "cluster {}: objects HelmReleases deployed: {e}: those of that type are not checked",
                    spoke.cluster()
                ),
            );
        }
        let deployed = releases.deployed(rendered, state, &spoke_state.scopes);
        out.push(OnSpoke {
            deployed,
            state: spoke_state,
        });
    }
    Outcome::with(out, problems)
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
