//! Who owns an object, and so who should be edited.
//!
//! The platform's `app.kubernetes.io/managed-by` label first (`flux`,
//! `crossplane`), then what Flux and Crossplane set themselves: Flux's
//! `kustomize.toolkit.fluxcd.io/name` label and inventory; Crossplane's
//! `crossplane.io/composite` label, a controller ownerReference to a composite
//! resource, and field managers named `apiextensions.crossplane.io/...`.
//! What no Kustomization renders or owns, but helm-controller labelled
//! (`helm.toolkit.fluxcd.io/name`) or Helm marked (`managed-by: Helm`), is
//! Helm's; classify gives what a checked HelmRelease deployed owner `helm`.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::flux::{MANAGED_BY_LABEL, OWNER_NAME_LABEL};
use crate::k8s::managed;
use crate::k8s::object::{self, Object};

pub use crate::crossplane::{COMPOSITE_LABEL, MANAGER_PREFIX as CROSSPLANE_MANAGER_PREFIX};

/// Who should be edited to change an object.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// Flux: change it in git.
    Flux,
    /// Crossplane: patch the composite resource.
    Crossplane,
    /// helm-controller, for a Flux HelmRelease: change the HelmRelease's values in git.
    Helm,
    /// Nobody: an ad-hoc object.
    None,
}

impl Owner {
    /// The lowercase name used in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Flux => "flux",
            Owner::Crossplane => "crossplane",
            Owner::Helm => "helm",
            Owner::None => "none",
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides the owner from the live object (or, when missing, the rendered
/// one). `flux_marked` says Flux renders or inventories the object.
pub fn owner(
    live: Option<&Object>,
    desired: Option<&Object>,
    flux_marked: bool,
    composite_kinds: &BTreeSet<String>,
) -> Owner {
    let label = live
        .and_then(|o| object::label(o, MANAGED_BY_LABEL))
        .or_else(|| desired.and_then(|o| object::label(o, MANAGED_BY_LABEL)));
    match label.map(str::to_ascii_lowercase).as_deref() {
        Some("flux") => return Owner::Flux,
        Some("crossplane") => return Owner::Crossplane,
        _ => {}
    }
    if live.is_some_and(|o| composite(o, composite_kinds).is_some()) {
        return Owner::Crossplane;
    }
    let flux_labelled = [live, desired]
        .into_iter()
        .flatten()
        .any(|o| object::label(o, OWNER_NAME_LABEL).is_some());
    // A Kustomization may render `helm template` output, labelled
    // managed-by Helm: Flux applies it, so Flux owns it.
    let helm_marked = live.is_some_and(|o| {
        object::label(o, crate::helm::NAME_LABEL).is_some()
            || label.is_some_and(|l| l == crate::helm::MANAGED_BY_HELM)
    });
    if flux_labelled || flux_marked {
        Owner::Flux
    } else if helm_marked {
        Owner::Helm
    } else {
        Owner::None
    }
}

/// The composite resource that controls a live object, when Crossplane does:
/// `Kind/name` from its controller ownerReference, else the name from the
/// `crossplane.io/composite` label. `Some("")` when only a Crossplane field
/// manager or the `managed-by=crossplane` label gives it away.
pub fn composite(live: &Object, composite_kinds: &BTreeSet<String>) -> Option<String> {
    let label = object::label(live, COMPOSITE_LABEL);
    let owner_ref = live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .find(|r| {
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = r.get("name").and_then(Value::as_str);
            composite_kinds.contains(kind) || (label.is_some() && name == label)
        });
    if let Some(r) = owner_ref {
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        return Some(format!("{kind}/{name}"));
    }
    if let Some(name) = label {
        return Some(name.to_string());
    }
    let by_crossplane = object::label(live, MANAGED_BY_LABEL) == Some("crossplane")
        || managed::entries(live)
            .iter()
            .any(|e| e.manager.starts_with(CROSSPLANE_MANAGER_PREFIX));
    by_crossplane.then(String::new)
}

/// Kinds of composite resources (and claims) the platform defines: read from
/// Crossplane `CompositeResourceDefinition`s among the given objects.
pub fn composite_kinds<'a>(objects: impl IntoIterator<Item = &'a Object>) -> BTreeSet<String> {
    objects
        .into_iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some("CompositeResourceDefinition")
                && o.get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("apiextensions.crossplane.io/"))
        })
        .flat_map(|o| {
            ["/spec/names/kind", "/spec/claimNames/kind"]
                .into_iter()
                .filter_map(|p| o.pointer(p).and_then(Value::as_str).map(str::to_string))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds() -> BTreeSet<String> {
        BTreeSet::from(["PLANAClient".to_string()])
    }

    #[test]
    fn the_managed_by_label_decides_first() {
        let flux = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "flux", "crossplane.io/composite": "x"}}});
        assert_eq!(owner(Some(&flux), None, false, &kinds()), Owner::Flux);
        let xp = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "crossplane"}}});
        assert_eq!(owner(Some(&xp), None, true, &kinds()), Owner::Crossplane);
        let helm = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}});
        assert_eq!(owner(Some(&helm), None, false, &kinds()), Owner::Helm);
        let hc = json!({"metadata": {"labels": {"helm.toolkit.fluxcd.io/name": "grafana"}}});
        assert_eq!(owner(Some(&hc), None, false, &kinds()), Owner::Helm);
        // `helm template` output a Kustomization renders is Flux's.
        assert_eq!(owner(Some(&helm), Some(&helm), true, &kinds()), Owner::Flux);
    }

    #[test]
    fn falls_back_to_crossplane_then_flux_markers() {
        let composed = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient", "name": "acme", "controller": true}]}});
        assert_eq!(
            owner(Some(&composed), None, true, &kinds()),
            Owner::Crossplane
        );
        let flux = json!({"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "docs"}}});
        assert_eq!(owner(Some(&flux), None, false, &kinds()), Owner::Flux);
        assert_eq!(
            owner(Some(&json!({"metadata": {}})), None, true, &kinds()),
            Owner::Flux
        );
        assert_eq!(
            owner(Some(&json!({"metadata": {}})), None, false, &kinds()),
            Owner::None
        );
    }

    #[test]
    fn names_the_composite_from_owner_reference_or_label() {
        let both = json!({"metadata": {"labels": {"crossplane.io/composite": "acme-x7k2p"}, "ownerReferences": [
            {"kind": "PLANAClient", "name": "acme-x7k2p", "controller": true}]}});
        assert_eq!(
            composite(&both, &BTreeSet::new()).as_deref(),
            Some("PLANAClient/acme-x7k2p")
        );
        let label = json!({"metadata": {"labels": {"crossplane.io/composite": "acme-x7k2p"}}});
        assert_eq!(composite(&label, &kinds()).as_deref(), Some("acme-x7k2p"));
        let manager = json!({"metadata": {"managedFields": [{"manager": "apiextensions.crossplane.io/composed/abc", "fieldsV1": {}}]}});
        assert_eq!(composite(&manager, &kinds()).as_deref(), Some(""));
        assert_eq!(composite(&json!({"metadata": {}}), &kinds()), None);
    }

    #[test]
    fn reads_composite_kinds_from_xrds() {
        let xrd = json!({"apiVersion": "apiextensions.crossplane.io/v1", "kind": "CompositeResourceDefinition",
            "spec": {"names": {"kind": "XPLANAClient"}, "claimNames": {"kind": "PLANAClient"}}});
        assert_eq!(
            composite_kinds([&xrd]),
            BTreeSet::from(["PLANAClient".to_string(), "XPLANAClient".to_string()])
        );
    }
}
