//! Stage `classify`: who owns each difference, and is it explained?
//!
//! Input: an [`ObjectDiff`], the Kustomization it belongs to and the rules.
//! Output: a [`Finding`]: owner (flux / crossplane / helm / none), drift kind
//! (`conflict` when a Flux-rendered object is also controlled by Crossplane),
//! whether it is explained and why, the remedy for its owner, and a stable
//! fingerprint. Pure: no I/O.

mod helm;
pub mod owner;
pub mod rules;
mod run;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diff::{Attributed, Change, Drift, ObjectDiff, Op, Policy};
use crate::error::{Issue, Stage};
use crate::flux::{Kustomization, Origin, revision_commit};
use crate::flux::{PRUNE_ANNOTATION, RECONCILE_ANNOTATION, SSA_ANNOTATION};
use crate::k8s::managed;
use crate::k8s::object::{self, Object, ObjectRef};
use crate::k8s::selector::Subject;
pub use owner::Owner;
pub use rules::{IgnoreRule, IgnoreRuleSpec};
pub use run::run;

/// One classified difference between git and the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// `namespace/name` of the Kustomization, `None` for an orphan no
    /// Kustomization can be tied to.
    pub kustomization: Option<String>,
    pub object: ObjectRef,
    pub drift: Drift,
    pub owner: Owner,
    pub explained: bool,
    /// Why it is explained (`None` when it is not).
    pub explanation: Option<String>,
    pub changes: Vec<Change>,
    /// Stable id of (cluster, kustomization, object, drift, changed paths).
    pub fingerprint: String,
    /// What to do about it, for its owner.
    pub remedy: String,
    /// More words for people, when there is something to add.
    pub message: Option<String>,
}

/// What classification needs besides the diff.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub cluster: &'a str,
    pub kustomization: Option<&'a Kustomization>,
    /// The commit being checked, when known.
    pub revision: Option<&'a str>,
    /// The commit Flux applied could not be read and `revision` stands in
    /// for it: nothing is a pending reconcile.
    pub applied_unread: bool,
    pub ignore: &'a [IgnoreRule],
    /// The Kustomization's own `spec.ignore`, compiled (the rules that do not
    /// compile are left out: discover reports them).
    pub flux_ignore: &'a [IgnoreRule],
    /// Field managers of controllers whose writes are expected.
    pub controllers: &'a [String],
    /// Composite resource kinds (from the platform's XRDs).
    pub composite_kinds: &'a BTreeSet<String>,
    /// Which field managers are Flux's.
    pub policy: &'a Policy,
    /// The HelmRelease that deployed the object, for a Helm-managed one.
    pub helm: Option<&'a crate::helm::HelmRelease>,
}

/// The rules a run classifies with.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Drift that is expected: the config's ignore rules.
    pub ignore: Vec<IgnoreRule>,
    /// Field managers of controllers whose writes to declared fields are expected.
    pub controllers: Vec<String>,
}

impl Rules {
    /// Compiles the ignore rules; `controllers` default to the known ones.
    pub fn new(
        ignore: &[IgnoreRuleSpec],
        controllers: Option<Vec<String>>,
    ) -> Result<Self, rules::RuleError> {
        Ok(Self {
            ignore: ignore
                .iter()
                .enumerate()
                .map(|(i, spec)| IgnoreRule::new(i, spec))
                .collect::<Result<_, _>>()?,
            controllers: controllers.unwrap_or_else(|| {
                rules::CONTROLLER_MANAGERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        })
    }
}

/// [`flux_ignore_issues`] as a stage's outcome.
pub fn kustomization_rules(kustomizations: &[Kustomization]) -> crate::error::Outcome<()> {
    crate::error::Outcome {
        value: (),
        issues: flux_ignore_issues(kustomizations),
        notes: Vec::new(),
    }
}

/// The Kustomizations' own ignore rules (`spec.ignore`) that do not
/// compile: an issue each (of stage `discover`, where the definition is
/// read), naming the Kustomization and the rule. The rules that compile are
/// still used, and the other Kustomizations are checked.
pub fn flux_ignore_issues(kustomizations: &[Kustomization]) -> Vec<Issue> {
    kustomizations
        .iter()
        .flat_map(|ks| {
            IgnoreRule::of_kustomization(ks)
                .1
                .into_iter()
                .map(|e| Issue::new(Some(ks.id()), Stage::Discover, &e))
        })
        .collect()
}

/// Classifies every difference the diff stage found. `objects` are every
/// object rendered and read live (Crossplane's XRDs among them name the
/// composite kinds). A rendered object that agrees with the cluster is no
/// finding, unless Crossplane also controls it (a conflict).
pub fn findings<'a>(
    diffs: Vec<Attributed<'_>>,
    objects: impl IntoIterator<Item = &'a Object>,
    rules: &Rules,
    policy: &Policy,
    cluster: &str,
) -> Vec<Finding> {
    let composite_kinds = owner::composite_kinds(objects);
    let mut flux_ignore: BTreeMap<String, Vec<IgnoreRule>> = BTreeMap::new();
    for ks in diffs.iter().filter_map(|a| a.kustomization) {
        flux_ignore
            .entry(ks.id())
            .or_insert_with(|| IgnoreRule::of_kustomization(ks).0);
    }
    // A HelmRelease's objects follow its spec.driftDetection.ignore instead.
    let mut helm_ignore: BTreeMap<String, Vec<IgnoreRule>> = BTreeMap::new();
    for hr in diffs.iter().filter_map(|a| a.helm) {
        helm_ignore
            .entry(hr.id())
            .or_insert_with(|| IgnoreRule::of_helm_release(hr).0);
    }
    diffs
        .into_iter()
        .filter(|a| {
            let d = &a.diff;
            d.drift != Drift::Modified
                || !d.changes.is_empty()
                || d.live
                    .is_some_and(|l| owner::composite(l, &composite_kinds).is_some())
        })
        .map(|a| {
            let ctx = Context {
                cluster,
                kustomization: a.kustomization,
                revision: a.revision,
                applied_unread: a.applied_unread,
                ignore: &rules.ignore,
                flux_ignore: match a.helm {
                    Some(hr) => helm_ignore.get(&hr.id()),
                    None => a.kustomization.and_then(|ks| flux_ignore.get(&ks.id())),
                }
                .map_or(&[], Vec::as_slice),
                controllers: &rules.controllers,
                composite_kinds: &composite_kinds,
                policy,
                helm: a.helm,
            };
            classify(a.diff, &ctx)
        })
        .collect()
}

/// Classifies one object's difference.
pub fn classify(diff: ObjectDiff<'_>, ctx: &Context<'_>) -> Finding {
    let ObjectDiff {
        object,
        mut drift,
        mut changes,
        desired,
        live,
        message,
        not_served,
    } = diff;
    let composite = live.and_then(|l| owner::composite(l, ctx.composite_kinds));
    if drift == Drift::Modified && composite.is_some() {
        drift = Drift::Conflict;
    }
    let flux_marked = ctx.kustomization.is_some();
    let owner = match ctx.helm {
        Some(_) => Owner::Helm,
        None => owner::owner(live, desired, flux_marked, ctx.composite_kinds),
    };
    let subject = live
        .or(desired)
        .expect("a diff has a live or a rendered object");

    explain_changes(&mut changes, desired, live, owner, drift, ctx);
    let explanation = object_explanation(subject, desired, drift, &changes, ctx).or_else(|| {
        // A modification is explained when every change is; a conflict
        // (two owners) only by the object-level reasons above.
        let all_explained =
            drift == Drift::Modified && changes.iter().all(|c| c.explanation.is_some());
        all_explained.then(|| {
            let reasons: BTreeSet<&str> = changes
                .iter()
                .filter_map(|c| c.explanation.as_deref())
                .collect();
            reasons.into_iter().collect::<Vec<_>>().join("; ")
        })
    });
    let remedy = if not_served {
        let path = ctx
            .kustomization
            .map_or("the infra repo", |k| k.spec.path.as_str());
        format!(
            "Flux cannot apply it either: change its apiVersion in {path} in git to one the cluster serves, or install its CRD"
        )
    } else if let Some(hr) = ctx.helm {
        helm::remedy(hr, drift)
    } else {
        remedy(owner, drift, composite.as_deref(), ctx.kustomization)
    };
    let message = match (message, ctx.helm.and_then(helm::message)) {
        (Some(m), Some(h)) => Some(format!("{m}; {h}")),
        (m, h) => m.or(h),
    };
    let fingerprint = fingerprint(ctx.cluster, ctx.kustomization, &object, drift, &changes);
    Finding {
        kustomization: ctx.kustomization.map(Kustomization::id),
        object,
        drift,
        owner,
        explained: explanation.is_some(),
        explanation,
        changes,
        fingerprint,
        remedy,
        message,
    }
}

/// Marks the changes explained by a field-level reason: the Kustomization's
/// `spec.ignore`, the config's ignore rules, a controller's field manager,
/// Crossplane.
fn explain_changes(
    changes: &mut [Change],
    desired: Option<&Object>,
    live: Option<&Object>,
    owner: Owner,
    drift: Drift,
    ctx: &Context<'_>,
) {
    if !matches!(drift, Drift::Modified | Drift::Conflict) {
        return;
    }
    let Some(subject) = live.or(desired) else {
        return;
    };
    let ks = ctx
        .kustomization
        .map(|k| (k.namespace.as_str(), k.name.as_str()));
    let (labels, annotations) = (
        applied_map(desired, live, "/metadata/labels"),
        applied_map(desired, live, "/metadata/annotations"),
    );
    let applied = Subject {
        labels: Some(&labels),
        annotations: Some(&annotations),
        ..Subject::of(subject)
    };
    let rollout = IgnoreRule::rollout_restart();
    let rules: Vec<&IgnoreRule> = ctx
        .flux_ignore
        .iter()
        .filter(|r| r.applies_to(&applied, ks))
        .chain(
            ctx.ignore
                .iter()
                .chain(std::iter::once(&rollout))
                .filter(|r| r.applies(subject, ks)),
        )
        .collect();
    let pending = pending(ctx);
    for change in changes.iter_mut() {
        change.explanation = rules
            .iter()
            .find_map(|r| r.explain(&change.path, subject))
            .or_else(|| {
                // Pending only when the live value is Flux's own (it applied an
                // older commit), or when git's head declares a field nobody has
                // set yet. A value a person or another controller wrote is drift
                // whatever git's head says.
                let flux_wrote = change
                    .manager
                    .as_deref()
                    .is_some_and(|m| ctx.policy.is_flux(m));
                (flux_wrote || change.op == Op::Remove)
                    .then(|| pending.clone())
                    .flatten()
            })
            .or_else(|| {
                let manager = change.manager.as_deref()?;
                ctx.controllers
                    .iter()
                    .any(|c| c == manager)
                    .then(|| controller_reason(manager, &change.path))
            })
            .or_else(|| {
                (owner == Owner::Crossplane && change.op == Op::Add)
                    .then(|| "Crossplane manages fields git does not declare".to_string())
            });
    }
}

/// The labels (or annotations) of the object as Flux would apply it, which
/// its `spec.ignore` targets select on: the live ones with git's on top
/// (fluxcd/pkg `ssa` matches the server-side apply dry-run result).
fn applied_map(
    desired: Option<&Object>,
    live: Option<&Object>,
    pointer: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let map = |o: Option<&Object>| {
        o.and_then(|o| o.pointer(pointer))
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut merged = map(live);
    merged.extend(map(desired));
    merged
}

fn controller_reason(manager: &str, path: &str) -> String {
    if manager == "kube-controller-manager" && path == "/spec/replicas" {
        "replicas are set by a HorizontalPodAutoscaler (kube-controller-manager)".to_string()
    } else {
        format!("set by the {manager} controller")
    }
}

/// Reasons that explain any finding about the object: suspension, a pending
/// reconcile, Flux opt-outs, an ignore rule covering the whole object.
fn object_explanation(
    subject: &Object,
    desired: Option<&Object>,
    drift: Drift,
    changes: &[Change],
    ctx: &Context<'_>,
) -> Option<String> {
    if let Some(hr) = ctx.helm {
        // helm-controller, not kustomize-controller, reconciles it: the
        // Kustomization's state and Flux's opt-outs say nothing of it.
        let ks = ctx
            .kustomization
            .map(|k| (k.namespace.as_str(), k.name.as_str()));
        return helm::explanation(hr).or_else(|| {
            ctx.ignore
                .iter()
                .find(|r| r.covers_object() && r.applies(subject, ks))
                .and_then(|r| r.explain("", subject))
        });
    }
    if let Some(ks) = ctx.kustomization {
        if ks.spec.suspend {
            return Some(match &ks.suspended_since {
                Some(since) => format!(
                    "Kustomization {} is suspended (since {since}): Flux is not reconciling it",
                    ks.id()
                ),
                None => format!(
                    "Kustomization {} is suspended: Flux is not reconciling it",
                    ks.id()
                ),
            });
        }
        if ks.annotations.get(RECONCILE_ANNOTATION).map(String::as_str) == Some("disabled") {
            return Some(format!(
                "reconciliation is disabled on Kustomization {} ({RECONCILE_ANNOTATION}: disabled)",
                ks.id()
            ));
        }
        if let Some(failing) = ks.status.failing()
            && !ObjectRef::of(subject).is_some_and(|o| ks.status.applied(&o.key().inventory_id()))
        {
            let failing = format!(
                "Kustomization {} is failing{}: {}: {}",
                ks.id(),
                failing
                    .since
                    .as_deref()
                    .map(|s| format!(" since {s}"))
                    .unwrap_or_default(),
                failing.reason,
                failing.message
            );
            if drift == Drift::Missing {
                return Some(format!("not applied: {failing}"));
            }
            // An object it renders that exists, but that it never applied
            // (not in its inventory, no field written by Flux): what differs
            // is not its drift (e.g. the `kube-system` Namespace every
            // cluster has).
            if drift == Drift::Modified
                && !managed::entries(subject)
                    .iter()
                    .any(|e| ctx.policy.is_flux(&e.manager))
            {
                return Some(format!(
                    "not applied: {failing}; it never applied this object (not in its inventory, no field written by Flux)"
                ));
            }
        }
        if drift == Drift::Missing && ks.origin == Origin::Live && ks.status.never_reconciled() {
            // Created in the cluster (by a parent Kustomization, or just
            // now) and not reconciled yet: Flux has applied nothing of it.
            return Some(format!(
                "not applied yet: Kustomization {} has not been reconciled by Flux yet (it has no status); Flux applies it on its first reconcile",
                ks.id()
            ));
        }
        if drift == Drift::Missing
            && let Some(pending) = pending(ctx)
        {
            // Only the head renders it: new in git, not applied yet.
            return Some(pending);
        }
    }
    let marker = |key: &str| {
        [Some(subject), desired]
            .into_iter()
            .flatten()
            .find_map(|o| object::annotation(o, key).or_else(|| object::label(o, key)))
    };
    if marker(RECONCILE_ANNOTATION) == Some("disabled") {
        return Some(format!(
            "reconciliation is disabled on the object ({RECONCILE_ANNOTATION}: disabled)"
        ));
    }
    match (
        marker(SSA_ANNOTATION)
            .map(str::to_ascii_lowercase)
            .as_deref(),
        drift,
    ) {
        (Some("ignore"), _) => {
            return Some(format!("Flux skips the object ({SSA_ANNOTATION}: Ignore)"));
        }
        (Some("ifnotpresent"), d) if d != Drift::Missing => {
            return Some(format!(
                "Flux only creates the object ({SSA_ANNOTATION}: IfNotPresent)"
            ));
        }
        (Some("merge"), Drift::Modified) if changes.iter().all(|c| c.op == Op::Add) => {
            return Some(format!(
                "Flux keeps fields added by others ({SSA_ANNOTATION}: Merge)"
            ));
        }
        _ => {}
    }
    if drift == Drift::Orphaned && marker(PRUNE_ANNOTATION) == Some("disabled") {
        return Some(format!(
            "pruning is disabled on the object ({PRUNE_ANNOTATION}: disabled)"
        ));
    }
    let ks = ctx
        .kustomization
        .map(|k| (k.namespace.as_str(), k.name.as_str()));
    ctx.ignore
        .iter()
        .find(|r| r.covers_object() && r.applies(subject, ks))
        .and_then(|r| r.explain("", subject))
}

/// "reconcile pending", when the object was compared with a revision other
/// than the one Flux last applied (the branch head, a newer artifact, not
/// applied yet).
fn pending(ctx: &Context<'_>) -> Option<String> {
    // Pending needs the applied commit's render to agree with the cluster:
    // without it, a differing revision explains nothing.
    if ctx.applied_unread {
        return None;
    }
    let applied = ctx.kustomization?.status.last_applied_revision.as_deref()?;
    let checked = ctx.revision?;
    let (applied_sha, checked_sha) = (revision_commit(applied), revision_commit(checked));
    let same = applied_sha.is_empty()
        || applied_sha.starts_with(checked_sha)
        || checked_sha.starts_with(applied_sha);
    let ks = ctx.kustomization?;
    let source = match ks.spec.source_ref.kind.as_str() {
        "GitRepository" | "" => "git".to_string(),
        kind => format!("its {kind}"),
    };
    (!same).then(|| {
        format!("reconcile pending: Flux last applied {applied}, {source} is at {checked}")
    })
}

/// What the owner should do.
fn remedy(
    owner: Owner,
    drift: Drift,
    composite: Option<&str>,
    ks: Option<&Kustomization>,
) -> String {
    let path = ks.map_or_else(|| "the infra repo".to_string(), |k| k.spec.path.clone());
    let composite = match composite {
        Some("") | None => "its composite resource".to_string(),
        Some(c) if c.contains('/') => format!("the composite {c}"),
        Some(c) => format!("the composite {c} ({})", owner::COMPOSITE_LABEL),
    };
    match (drift, owner) {
        (Drift::Conflict, _) => format!(
            "Flux and Crossplane both manage this object: patch {composite} instead of the object, and remove the object from {path} in git or from the Composition, so that one owner remains"
        ),
        (Drift::Overlap, _) => format!(
            "keep the object in one Kustomization's path in git (this one's is {path}) and remove it from the others', so that one of them applies it"
        ),
        (_, Owner::Crossplane) => format!("patch {composite} instead of the object"),
        (Drift::Missing, Owner::Flux) => match ks {
            Some(k) => format!(
                "find out who deleted it, then let Flux re-create it: flux reconcile kustomization {} -n {}",
                k.name, k.namespace
            ),
            None => "find out who deleted it, then let Flux re-create it".to_string(),
        },
        (Drift::Orphaned, Owner::Flux) => {
            format!("delete it, or add it to {path} in git through a PR if it should stay")
        }
        (_, Owner::Flux) => {
            format!("revert the manual change and make it through a git PR to {path}")
        }
        (_, Owner::Helm) => format!(
            "deployed by Helm: change its chart's values in git ({path}) instead of the object"
        ),
        (_, Owner::None) => "ad-hoc object: edit it directly".to_string(),
    }
}

/// A stable id of the finding: the same drift on the same object gives the
/// same fingerprint from night to night, whatever the values or times.
/// Changes explained field by field are left out, so an ignored image bump
/// does not make a finding look new.
fn fingerprint(
    cluster: &str,
    ks: Option<&Kustomization>,
    object: &ObjectRef,
    drift: Drift,
    changes: &[Change],
) -> String {
    let unexplained: Vec<&Change> = changes.iter().filter(|c| c.explanation.is_none()).collect();
    let counted: Vec<&Change> = if unexplained.is_empty() {
        changes.iter().collect()
    } else {
        unexplained
    };
    let mut paths: Vec<&str> = counted.iter().map(|c| c.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let key = object.key();
    let mut hasher = Sha256::new();
    for part in [
        cluster,
        &ks.map(Kustomization::id).unwrap_or_default(),
        &key.group,
        &key.kind,
        key.namespace.as_deref().unwrap_or(""),
        &key.name,
        drift.as_str(),
    ]
    .into_iter()
    .chain(paths)
    {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
