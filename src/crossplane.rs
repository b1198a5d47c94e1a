//! Crossplane's markers on the objects it composes, which the diff and
//! classify stages read.

use serde_json::Value;

use crate::flux::MANAGED_BY_LABEL;
use crate::k8s::managed;
use crate::k8s::object::{self, Object};

/// The label Crossplane puts on composed resources, naming their composite.
pub const COMPOSITE_LABEL: &str = "crossplane.io/composite";
/// Field managers of Crossplane's composition engine start with this.
pub const MANAGER_PREFIX: &str = "apiextensions.crossplane.io/";

/// Whether Crossplane may control a live object: it carries a marker of
/// Crossplane's (the composite label, `managed-by: crossplane`, a field
/// manager of its composition engine) or a controller ownerReference (a
/// composite's, when its kind is one an XRD defines). A superset of what
/// classify calls a composite's object, read without the XRDs.
pub fn may_control(live: &Object) -> bool {
    let controlled = live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
    controlled
        || object::label(live, COMPOSITE_LABEL).is_some()
        || object::label(live, MANAGED_BY_LABEL) == Some("crossplane")
        || managed::entries(live)
            .iter()
            .any(|e| e.manager.starts_with(MANAGER_PREFIX))
}
