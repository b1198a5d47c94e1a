//! Stage `helm` on one cluster: the HelmReleases the checked Kustomizations
//! render, found in the renders, their release records read when asked
//! (`helm.releaseManifests`), the types their objects need fetched, then
//! each HelmRelease as it is live with what it deployed ([`Deployed`]), for
//! the diff. Those with `spec.kubeConfig` are followed to their spoke
//! ([`super::spokes`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{HelmRelease, Options, release};
use crate::error::{Issue, Note, Outcome, Problems, Stage};
use crate::flux::Kustomization;
use crate::k8s::object::{self, Object, ObjectRef};
use crate::live::{Live, LiveState, TypeRef};
use crate::render::Rendered;

/// A HelmRelease to check, and what it deployed when that was read.
#[derive(Clone, Debug)]
pub struct Deployed<'a> {
    /// The Kustomization that renders the HelmRelease.
    pub kustomization: &'a Kustomization,
    pub release: HelmRelease,
    /// The objects of its latest deployed release, as helm-controller
    /// applied them (namespaced, with Helm's labels and annotations);
    /// `None` when not read.
    pub manifest: Option<Vec<Object>>,
}

/// The rendered HelmReleases, and the manifests read of their releases.
pub struct Releases {
    /// Each rendered HelmRelease (of the applied render) with the index of
    /// its Kustomization's render.
    found: Vec<(usize, Object)>,
    /// The latest deployed manifest by HelmRelease id, when read.
    manifests: BTreeMap<String, Vec<Object>>,
    /// Those with `spec.kubeConfig`: they install into another cluster,
    /// where they are compared ([`super::spokes::on_spokes`]).
    pub remote: Vec<(usize, Object)>,
}

/// Finds the HelmReleases of the renders; with `options.release_manifests`,
/// reads each one's latest deployed release record (a record that cannot be
/// read is an issue of its Kustomization; none deployed yet, a note).
pub async fn read(rendered: &[Rendered], live: &Live, options: &Options) -> Outcome<Releases> {
    let mut found: Vec<(usize, Object)> = rendered
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.objects.iter().flatten().map(move |o| (i, o)))
        .filter(|(_, o)| {
            o.reference()
                .is_some_and(|r| r.kind == super::KIND && r.group() == super::GROUP)
        })
        .map(|(i, o)| (i, o.peek().into_owned()))
        .collect();
    // A HelmRelease with spec.kubeConfig installs into another cluster.
    let remote = found
        .extract_if(.., |(i, o)| {
            HelmRelease::of(o, &rendered[*i].ks).is_some_and(|hr| hr.remote)
        })
        .collect();
    manifests(&found, rendered, live, options)
        .await
        .map(|manifests| Releases {
            found,
            manifests,
            remote,
        })
}

/// The releases of `found` (on the cluster `live` reads), each compared as
/// a local one is: with its latest deployed manifest read when asked.
pub(super) async fn on(
    found: Vec<(usize, Object)>,
    rendered: &[Rendered],
    live: &Live,
    options: &Options,
) -> Outcome<Releases> {
    manifests(&found, rendered, live, options)
        .await
        .map(|manifests| Releases {
            found,
            manifests,
            remote: Vec::new(),
        })
}

/// With `options.release_manifests`, each release's latest deployed
/// manifest, by HelmRelease id (a record that cannot be read is an issue
/// of its Kustomization; none deployed yet, a note).
async fn manifests(
    found: &[(usize, Object)],
    rendered: &[Rendered],
    live: &Live,
    options: &Options,
) -> Outcome<BTreeMap<String, Vec<Object>>> {
    let mut manifests = BTreeMap::new();
    let mut problems = Problems::default();
    if !options.release_manifests {
        return Outcome::of(manifests);
    }
    let (issues, notes) = (&mut problems.issues, &mut problems.notes);
    for (i, o) in found {
        let ks = &rendered[*i].ks;
        let Some(hr) = HelmRelease::of(o, ks) else {
            continue;
        };
        let records = match live
            .helm_records(&hr.storage_namespace, &hr.release_name)
            .await
        {
            Ok(records) => records,
            Err(e) => {
                issues.push(Issue::described(
                    Some(ks.id()),
                    Stage::Live,
                    &format!(
                        "HelmRelease {}: cannot read its release records (helm.releaseManifests; job/components/helm-manifests grants it): {e}",
                        hr.id()
                    ),
                ));
                continue;
            }
        };
        let Some(latest) = release::latest_deployed(&records, &hr.release_name) else {
            notes.push(Note {
                kustomization: Some(ks.id()),
                message: format!(
                    "HelmRelease {}: no deployed release {} in namespace {}: its objects are checked for people's edits only",
                    hr.id(),
                    hr.release_name,
                    hr.storage_namespace
                ),
            });
            continue;
        };
        match release::decode(latest) {
            Ok(decoded) => {
                manifests.insert(hr.id(), decoded.objects);
            }
            Err(e) => issues.push(Issue::described(
                Some(ks.id()),
                Stage::Live,
                &format!("HelmRelease {}: {e}", hr.id()),
            )),
        }
    }
    Outcome::with(manifests, problems)
}

impl Releases {
    /// The types to read for the releases' objects: those of each manifest
    /// read, else `options.types`; a type `already` holds (at whatever
    /// version) is not added again.
    pub fn types(
        &self,
        rendered: &[Rendered],
        options: &Options,
        already: &BTreeSet<TypeRef>,
    ) -> BTreeSet<TypeRef> {
        let mut have: BTreeSet<(String, String)> = already.iter().map(TypeRef::key).collect();
        let mut out = BTreeSet::new();
        let mut add = |t: TypeRef| {
            if have.insert(t.key()) {
                out.insert(t);
            }
        };
        for (i, o) in &self.found {
            let manifest =
                HelmRelease::of(o, &rendered[*i].ks).and_then(|hr| self.manifests.get(&hr.id()));
            match manifest {
                Some(objects) => objects.iter().filter_map(TypeRef::of).for_each(&mut add),
                None => options
                    .types
                    .iter()
                    .map(|(v, k)| TypeRef::new(v, k))
                    .for_each(&mut add),
            }
        }
        out
    }

    /// Each HelmRelease as it is live in `state` (as rendered when it is
    /// not there), with its manifest's objects as helm-controller applied
    /// them: in the release namespace unless cluster-scoped (`scopes`: of
    /// the cluster it installs into), with Helm's labels and annotations.
    pub fn deployed<'a>(
        self,
        rendered: &'a [Rendered],
        state: &LiveState,
        scopes: &crate::k8s::scope::Scopes,
    ) -> Vec<Deployed<'a>> {
        let mut out = Vec::new();
        for (i, object) in &self.found {
            let ks = &rendered[*i].ks;
            let live = ObjectRef::of(object).and_then(|r| state.get(&r.key()));
            let Some(hr) = HelmRelease::of(live.unwrap_or(object), ks) else {
                continue;
            };
            let manifest = self.manifests.get(&hr.id()).map(|objects| {
                objects
                    .iter()
                    .map(|o| {
                        let mut o = o.clone();
                        let group = o
                            .get("apiVersion")
                            .and_then(serde_json::Value::as_str)
                            .map(object::group_of)
                            .unwrap_or("")
                            .to_string();
                        let kind = o
                            .get("kind")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        if object::namespace(&o).is_none()
                            && !scopes.is_cluster_scoped(&group, &kind)
                            && let Some(metadata) = o
                                .get_mut("metadata")
                                .and_then(serde_json::Value::as_object_mut)
                        {
                            metadata
                                .insert("namespace".into(), hr.release_namespace.clone().into());
                        }
                        hr.stamp(&mut o);
                        o
                    })
                    .collect()
            });
            out.push(Deployed {
                kustomization: ks,
                release: hr,
                manifest,
            });
        }
        out
    }
}
