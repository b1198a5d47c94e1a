//! Stage `render` over every checked Kustomization ([`all`]): each one's
//! trees fetched from its source, what it reads from the cluster read once,
//! then rendered at the commit Flux applied and, when Flux has not applied
//! the head yet, at the head too. What the renders read and left on the way
//! (values read from Secrets, where they were substituted, the source of
//! each render, Secrets generated from files not decrypted) travels with
//! them in [`Batch`]. A Kustomization that cannot be rendered is `None`
//! with its issue — or a note, when Flux fails on it too or never
//! reconciled it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tracing::info;

use super::stored::Substituted;
use super::{Options, Rendered, Sources, sops};
use crate::error::{Issue, Note, Outcome, Problems, Stage};
use crate::flux::{Kustomization, Origin};
use crate::k8s::object::{Compact, Object};
use crate::live::{Live, LiveState, TypeRef};
use crate::source::Checkout;
use crate::source::set::Sources as Trees;

/// How the warning of a Kustomization Flux reports failing, and drift-check
/// could not render either, begins.
pub const NOT_CHECKED_FAILING: &str = "not checked: Flux reports it failing too";
/// How the warning of a Kustomization Flux never reconciled, and drift-check
/// could not render either, begins.
pub const NOT_CHECKED_NEW: &str = "not yet reconciled by Flux: not checked";

/// Where a Kustomization's render came from: its `sourceRef`, and the
/// source's URL (credentials redacted) or the directory given with `--repo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub url: String,
}

/// Every checked Kustomization's render, and what the renders read and left.
#[derive(Debug, Default)]
pub struct Batch {
    pub rendered: Vec<Rendered>,
    pub made: Made,
}

/// What the renders read and left on the way, for the stages after them.
#[derive(Debug, Default)]
pub struct Made {
    /// Values read from Secrets: scrubbed from every error and warning text.
    pub secret_values: BTreeSet<String>,
    /// Where postBuild substitution put values read from Secrets (masked
    /// where the objects enter the diff).
    pub substituted: Substituted,
    /// The source each checked Kustomization was rendered from, by id.
    pub sources: BTreeMap<String, SourceRef>,
    /// By Kustomization id: its Secrets generated from SOPS-encrypted files
    /// not decrypted, whose name hash is not Flux's (both renders).
    pub unknown_hashes: BTreeMap<String, Vec<sops::UnknownHash>>,
}

/// Renders each of `checked` (see the module header).
pub async fn all(
    checked: Vec<&Kustomization>,
    trees: &mut Trees,
    live: &Live,
    options: &Options,
) -> Outcome<Batch> {
    let mut renderer = Renderer::new(options);
    let mut rendered = Vec::new();
    for ks in checked {
        let issues = renderer.problems.issues.len();
        let r = renderer.both(trees, ks, live).await;
        if r.objects.is_none() {
            let kept = renderer.problems.issues.split_off(issues);
            let (issues, notes) = not_checked(ks, kept);
            renderer.problems.issues.extend(issues);
            renderer.problems.notes.extend(notes);
        }
        rendered.push(r);
    }
    let (made, problems) = (renderer.made, renderer.problems);
    Outcome::with(Batch { rendered, made }, problems)
}

/// The issues of a Kustomization that did not render: notes instead when
/// Flux fails on it too (reported once, as a warning: its failure, not
/// drift-check's), or when it was just created and never reconciled
/// (nothing of it is applied, so nothing can drift; Flux will meet the same
/// failure).
fn not_checked(ks: &Kustomization, issues: Vec<Issue>) -> (Vec<Issue>, Vec<Note>) {
    let why = if let Some(failing) = ks.status.failing() {
        format!("{NOT_CHECKED_FAILING} ({})", failing.reason)
    } else if ks.origin == Origin::Live && ks.status.never_reconciled() {
        format!("{NOT_CHECKED_NEW} (it has no status yet)")
    } else {
        return (issues, Vec::new());
    };
    let notes = issues
        .into_iter()
        .map(|issue| Note {
            kustomization: issue.kustomization,
            message: format!(
                "{why}, and drift-check could not {} it either: {}",
                if issue.stage == Stage::Render {
                    "render"
                } else {
                    "read what it needs for"
                },
                issue.message
            ),
        })
        .collect();
    (Vec::new(), notes)
}

/// Renders Kustomizations one by one, keeping what the renders read and
/// left ([`Made`]) and the problems met.
pub struct Renderer<'o> {
    options: &'o Options,
    pub made: Made,
    pub problems: Problems,
}

impl<'o> Renderer<'o> {
    pub fn new(options: &'o Options) -> Self {
        Self {
            options,
            made: Made::default(),
            problems: Problems::default(),
        }
    }

    /// Renders a Kustomization from the tree Flux last applied (fetched
    /// or read from the checkout when needed), and also from its source's
    /// head when that differs. When the applied tree cannot be read, that is
    /// an error of stage `source`, and the head alone is rendered to compare
    /// with, none of its drift explained as a pending reconcile. When the
    /// source cannot be read at all, the Kustomization cannot be checked.
    async fn both(&mut self, trees: &mut Trees, ks: &Kustomization, live: &Live) -> Rendered {
        let failed = |revision| Rendered {
            ks: ks.clone(),
            objects: None,
            revision,
            applied_unread: false,
            head: None,
        };
        let trees = match trees.for_kustomization(ks, self.options.limits).await {
            Ok(trees) => trees,
            Err(e) => {
                self.issue(ks, Stage::Source, e.as_ref());
                return failed(None);
            }
        };
        self.made.sources.insert(
            ks.id(),
            SourceRef {
                kind: trees.source.kind.clone(),
                namespace: trees.source.namespace.clone(),
                name: trees.source.name.clone(),
                url: trees.url.clone(),
            },
        );
        let head = trees.head;
        let (applied, applied_unread) = match trees.applied {
            None => (None, false),
            Some(Ok(checkout)) => (Some(checkout), false),
            Some(Err(error)) => {
                self.issue(ks, Stage::Source, error.as_ref());
                (None, true)
            }
        };
        // Read once for both renders: substitution data, decryption keys.
        let Some(inputs) = self.inputs(ks, Some(live)).await else {
            let mut r = failed(applied.map_or(head.revision, |a| a.revision));
            r.applied_unread = applied_unread;
            return r;
        };
        let Some(applied) = applied else {
            return Rendered {
                ks: ks.clone(),
                objects: compact(self.at(&head, ks, inputs.as_ref())),
                revision: head.revision.clone(),
                applied_unread,
                head: None,
            };
        };
        let objects = compact(self.at(&applied, ks, inputs.as_ref()));
        // The head's render only adds "reconcile pending" findings: its
        // failure is a note (Flux will meet it), not an issue of the run;
        // its render notes repeat the applied render's and are dropped.
        let (issues, notes) = (self.problems.issues.len(), self.problems.notes.len());
        let at_head = self.at(&head, ks, inputs.as_ref());
        self.problems.notes.truncate(notes);
        for issue in self.problems.issues.split_off(issues) {
            self.problems.note(
                issue.kustomization,
                format!(
                    "at the branch head {} (not applied yet): {}",
                    head.revision.as_deref().unwrap_or("?"),
                    issue.message
                ),
            );
        }
        info!(kustomization = %ks, applied = applied.revision.as_deref(), head = head.revision.as_deref(), "Rendered the applied revision and the head");
        Rendered {
            ks: ks.clone(),
            objects,
            revision: applied.revision,
            applied_unread: false,
            head: compact(at_head).map(|objects| (objects, head.revision.clone())),
        }
    }

    /// A Kustomization's substitution data and decryption keys, read once
    /// (`Some(None)`: no live source, as `flux build ks --dry-run`); `None`
    /// when they cannot be read, an issue of the Kustomization.
    pub async fn inputs(
        &mut self,
        ks: &Kustomization,
        live: Option<&Live>,
    ) -> Option<Option<Sources>> {
        let Some(live) = live else {
            return Some(None);
        };
        match super::substitution_sources(live, ks, self.options.sops_decrypt).await {
            Ok((sources, secret_values)) => {
                self.made.secret_values.extend(secret_values);
                Some(Some(sources))
            }
            Err(e) => {
                self.issue(ks, Stage::Live, &e);
                None
            }
        }
    }

    /// Renders one Kustomization at one tree with what [`Self::inputs`] read.
    pub fn at(
        &mut self,
        checkout: &Checkout,
        ks: &Kustomization,
        sources: Option<&Sources>,
    ) -> Option<Vec<Object>> {
        let root = checkout.root.as_path();
        match super::kustomization(root, ks, sources, self.options) {
            Ok(output) => {
                for (object, paths) in output.objects.iter().zip(&output.secret_paths) {
                    self.made.substituted.record(object, paths);
                }
                if !output.unknown_hashes.is_empty() {
                    self.made
                        .unknown_hashes
                        .entry(ks.id())
                        .or_default()
                        .extend(output.unknown_hashes);
                }
                for message in output.notes {
                    self.problems.note(Some(ks.id()), message);
                }
                Some(output.objects)
            }
            Err(e) => {
                self.issue(ks, Stage::Render, &e);
                None
            }
        }
    }

    /// An issue of `ks` in `stage`.
    pub fn issue(&mut self, ks: &Kustomization, stage: Stage, error: &dyn std::error::Error) {
        self.problems
            .issues
            .push(Issue::new(Some(ks.id()), stage, error));
    }
}

/// The renders of one cluster once its live state is read: as the API
/// server stores them (scopes learnt from the renders' CRDs for kinds not
/// served yet), the places of Secret values keyed the same way, and each
/// Secret generated from SOPS-encrypted files not decrypted given the name
/// of the live Secret Flux applied for it (a note each, for the applied
/// render).
pub fn as_stored(rendered: &mut [Rendered], state: &mut LiveState, made: &mut Made) -> Outcome<()> {
    state.scopes.learn_from_crds(
        rendered
            .iter()
            .flat_map(Rendered::all_objects)
            .filter(|c| c.kind() == Some("CustomResourceDefinition"))
            .map(Compact::object),
    );
    let dropped = super::stored::as_stored(rendered, &state.scopes);
    made.substituted.as_stored(&state.scopes);
    let mut problems = Problems::default();
    for r in rendered.iter_mut() {
        let Some(unknown) = made.unknown_hashes.get(&r.ks.id()) else {
            continue;
        };
        if let Some(objects) = r.objects.as_mut() {
            for message in sops::names::resolve(objects, unknown, &r.ks, state) {
                problems.note(Some(r.ks.id()), message);
            }
        }
        if let Some((objects, _)) = r.head.as_mut() {
            sops::names::resolve(objects, unknown, &r.ks, state);
        }
    }
    if dropped > 0 {
        info!(
            objects = dropped,
            "Dropped the namespace of cluster-scoped objects, as the API server does"
        );
    }
    Outcome::with((), problems)
}

/// Each of `selected` rendered at its source's head, as `flux build ks`
/// does (`drift-check render`): what it reads from the cluster read when
/// there is one (`live`), else `postBuild.substituteFrom` is not read.
#[allow(clippy::type_complexity)]
pub async fn heads(
    selected: Vec<Kustomization>,
    trees: &mut Trees,
    live: Option<&Live>,
    options: &Options,
) -> Outcome<(Vec<(Kustomization, Option<Vec<Object>>)>, Made)> {
    let mut renderer = Renderer::new(options);
    let mut out = Vec::new();
    for ks in selected {
        let objects = match trees.for_kustomization(&ks, options.limits).await {
            Ok(trees) => match renderer.inputs(&ks, live).await {
                Some(inputs) => renderer.at(&trees.head, &ks, inputs.as_ref()),
                None => None,
            },
            Err(e) => {
                renderer.issue(&ks, Stage::Source, e.as_ref());
                None
            }
        };
        out.push((ks, objects));
    }
    Outcome::with((out, renderer.made), renderer.problems)
}

/// With no cluster and no snapshot: which of `selected` read
/// `postBuild.substituteFrom`, which is not read (as `flux build ks
/// --dry-run`, fluxcd/flux2 `internal/build/build.go`, `dryRun`), said once.
pub fn offline_note(selected: &[Kustomization], options: &Options) -> Option<String> {
    let unread: Vec<String> = selected
        .iter()
        .filter(|ks| {
            ks.spec
                .post_build
                .as_ref()
                .is_some_and(|p| !p.substitute_from.is_empty())
        })
        .map(Kustomization::id)
        .collect();
    (!unread.is_empty()).then(|| {
        format!(
            "no cluster and no --live-snapshot: postBuild.substituteFrom is not read (as `flux build ks --dry-run`), only postBuild.substitute is used, in {}{}",
            unread.join(", "),
            if options.strict_substitution {
                "; a variable only substituteFrom sets is an error under strict substitution (the default, as Flux 2.9): pass --strict-substitution=false to render it empty, or --live-snapshot with the ConfigMaps and Secrets to read them"
            } else {
                "; a variable only substituteFrom sets renders empty"
            }
        )
    })
}

/// The types whose live objects the renders need: every object rendered
/// (at the applied commit and the head) and every one in the
/// Kustomizations' inventories ([`crate::live::types_to_fetch`]).
pub fn types_to_fetch(rendered: &[Rendered]) -> BTreeSet<TypeRef> {
    crate::live::types_to_fetch(
        rendered
            .iter()
            .flat_map(Rendered::all_objects)
            .filter_map(Compact::reference),
        rendered.iter().map(|r| &r.ks),
    )
}

/// A render's objects as held until the diff compares them.
fn compact(objects: Option<Vec<Object>>) -> Option<Vec<Compact>> {
    objects.map(|objects| objects.iter().map(Compact::new).collect())
}
