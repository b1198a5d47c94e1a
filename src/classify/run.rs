//! [`run`]: stage `classify` on one cluster.

use super::{Finding, Rules, findings, helm};
use crate::diff::{Attributed, Policy};
use crate::error::Outcome;
use crate::helm::Deployed;
use crate::k8s::object::Compact;
use crate::live::LiveState;
use crate::render::Rendered;

/// Classifies one cluster's differences ([`findings`]), with the composite
/// kinds of Crossplane's XRDs — all classify reads of the rendered and live
/// objects. Each HelmRelease of `releases` whose `spec.driftDetection.ignore`
/// rules do not compile is an issue (the others are used).
pub fn run(
    diffs: Vec<Attributed<'_>>,
    rendered: &[Rendered],
    state: &LiveState,
    releases: &[&[Deployed<'_>]],
    (rules, policy): (&Rules, &Policy),
    cluster: &str,
) -> Outcome<Vec<Finding>> {
    let issues = releases
        .iter()
        .flat_map(|deployed| helm::ignore_issues(deployed))
        .collect();
    let xrds = rendered
        .iter()
        .flat_map(|r| r.objects.iter().flatten())
        .filter(|c| c.kind() == Some("CompositeResourceDefinition"))
        .map(Compact::object)
        .chain(state.of_kind("CompositeResourceDefinition"));
    Outcome {
        value: findings(diffs, xrds, rules, policy, cluster),
        issues,
        notes: Vec::new(),
    }
}
