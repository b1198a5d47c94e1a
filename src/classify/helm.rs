//! What classify says of an object a HelmRelease deployed: owner `helm`, the
//! HelmRelease's own explanations, and its remedy.

use crate::diff::Drift;
use crate::helm::HelmRelease;

/// Explains any finding about the release's objects: helm-controller does
/// not reconcile a suspended HelmRelease.
pub fn explanation(hr: &HelmRelease) -> Option<String> {
    hr.suspended.then(|| match &hr.suspended_since {
        Some(since) => format!(
            "HelmRelease {} is suspended (since {since}): helm-controller is not reconciling it",
            hr.id()
        ),
        None => format!(
            "HelmRelease {} is suspended: helm-controller is not reconciling it",
            hr.id()
        ),
    })
}

/// Words for people when helm-controller's own drift detection is on: it
/// corrects (`enabled`) or reports (`warn`) drift of the fields it declares,
/// without saying who or when; a person's edit stays drift either way.
pub fn message(hr: &HelmRelease) -> Option<String> {
    match hr.drift_detection.as_deref()? {
        "enabled" => Some(format!(
            "HelmRelease {} has drift detection enabled: helm-controller will revert the chart's declared fields at its next reconcile",
            hr.id()
        )),
        mode => Some(format!(
            "HelmRelease {} has drift detection in mode {mode}: helm-controller only reports it, without who or when",
            hr.id()
        )),
    }
}

/// What to do: the values live in the HelmRelease, in git.
pub fn remedy(hr: &HelmRelease, drift: Drift) -> String {
    let restore = format!(
        "flux reconcile helmrelease {} -n {} --force",
        hr.name, hr.namespace
    );
    match drift {
        Drift::Missing => format!(
            "deployed by HelmRelease {} ({}): find out who deleted it, then let helm-controller re-create it: {restore}",
            hr.id(),
            hr.path
        ),
        _ => format!(
            "deployed by HelmRelease {}: change the HelmRelease's values in git ({}) through a PR instead of the object; to restore the chart's values now: {restore}",
            hr.id(),
            hr.path
        ),
    }
}

/// The HelmReleases' `spec.driftDetection.ignore` rules that do not
/// compile: an issue each, naming the HelmRelease (helm-controller fails on
/// them too); the others are used.
pub fn ignore_issues(deployed: &[crate::helm::Deployed<'_>]) -> Vec<crate::error::Issue> {
    use crate::error::{Issue, Stage};
    deployed
        .iter()
        .flat_map(|d| {
            super::IgnoreRule::of_helm_release(&d.release)
                .1
                .into_iter()
                .map(|e| {
                    Issue::described(
                        Some(d.release.kustomization.clone()),
                        Stage::Discover,
                        &format!("HelmRelease {}: {e}", d.release.id()),
                    )
                })
        })
        .collect()
}
