//! drift-check: what in a Flux-managed cluster differs from git, who changed
//! it, and whether that is explained.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! source ─► discover ─► render ─► live ─► diff ─► classify ─► report
//! ```
//!
//! [`check`] runs it: every stage that fails for one Kustomization records an
//! error for it and the others go on, so one broken path never hides the drift
//! in the rest.

pub mod classify;
pub mod cli;
pub mod config;
pub mod diff;
pub mod discover;
pub mod error;
pub mod flux;
pub mod k8s;
pub mod live;
pub mod notify;
pub mod render;
pub mod report;
pub mod source;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use serde_json::Value;
use tracing::{info, warn};

use crate::classify::{Context, Finding};
use crate::cli::DiffMode;
use crate::config::Settings;
use crate::diff::ObjectDiff;
use crate::flux::Kustomization;
use crate::k8s::object::{Object, ObjectKey, ObjectRef};
use crate::live::cluster::Cluster;
use crate::live::snapshot::Snapshot;
use crate::live::{LiveError, LiveSource, LiveState, TypeRef};
use crate::report::{ErrorEntry, KustomizationEntry, Report, Run, Source, Warning};
use crate::source::{Checkout, Repo};

/// Runs `check`: the whole pipeline on the configured repo and live state.
pub async fn check(settings: &Settings) -> Report {
    let mut run = Pipeline::new(settings);
    let mut source = match source::open(&settings.repo, |name| std::env::var(name).ok()).await {
        Ok(source) => source,
        Err(e) => {
            run.error(None, "source", &e);
            return run.finish(None);
        }
    };
    match run.open_live().await {
        Some(Live::Snapshot(snapshot)) => run.check(&mut source, &snapshot).await,
        Some(Live::Cluster(cluster)) => {
            run.check(&mut source, &cluster).await;
            run.api_requests = Some(cluster.requests());
            info!(requests = cluster.requests(), "API requests made");
        }
        None => {}
    }
    run.finish(Some(source.head()))
}

/// Where the live state comes from.
enum Live {
    Snapshot(Snapshot),
    Cluster(Cluster),
}

/// Runs `run`: `check`, hands the report to `print` (before any sink, so it
/// is never lost), then sends it to the configured sinks. Returns the exit
/// code (see [`notify::exit_code`]).
pub async fn run(settings: &Settings, print: impl FnOnce(&Report)) -> u8 {
    let started = std::time::Instant::now();
    let report = check(settings).await;
    let duration = started.elapsed();
    print(&report);
    // Boxed: matrix-sdk's futures are deep enough to overflow the compiler's
    // layout query depth when inlined into the binary's main future.
    let sinks = Box::pin(notify::notify(
        &settings.notify,
        &settings.cluster_options,
        &report,
        duration,
    ))
    .await;
    notify::exit_code(&report, &sinks)
}

/// Runs `render`: each selected Kustomization with its objects (`None` when
/// it failed), and the errors met. Rendered from the branch head (or
/// `--revision`), like `flux build ks`.
pub async fn render(
    settings: &Settings,
) -> (Vec<(Kustomization, Option<Vec<Object>>)>, Vec<ErrorEntry>) {
    let mut run = Pipeline::new(settings);
    // The repo is kept until the end: its trees are removed with it.
    let repo = match source::open(&settings.repo, |name| std::env::var(name).ok()).await {
        Ok(repo) => repo,
        Err(e) => {
            run.error(None, "source", &e);
            return (Vec::new(), run.errors);
        }
    };
    let checkout = repo.head();
    let mut out = Vec::new();
    match run.open_live().await {
        Some(Live::Snapshot(snapshot)) => {
            for ks in run.discover(checkout, &snapshot).await {
                let rendered = run.render(checkout, &ks, &snapshot).await;
                out.push((ks, rendered));
            }
        }
        Some(Live::Cluster(cluster)) => {
            for ks in run.discover(checkout, &cluster).await {
                let rendered = run.render(checkout, &ks, &cluster).await;
                out.push((ks, rendered));
            }
        }
        None => {}
    }
    (out, run.errors)
}

/// The state of one run.
struct Pipeline<'a> {
    settings: &'a Settings,
    /// The cluster's name in reports and fingerprints.
    cluster: String,
    started_at: String,
    /// Requests made to the API server, when there is one.
    api_requests: Option<usize>,
    errors: Vec<ErrorEntry>,
    warnings: Vec<Warning>,
    entries: Vec<KustomizationEntry>,
    findings: Vec<Finding>,
    /// Values read from Secrets for substitution: scrubbed from every finding.
    secret_values: BTreeSet<String>,
    /// Every Kustomization discovered, checked in this run or not.
    known: Vec<Kustomization>,
}

/// A Kustomization and what it rendered to (`None` when rendering failed).
struct Rendered {
    ks: Kustomization,
    objects: Option<Vec<Object>>,
    /// The commit rendered: the one Flux last applied when it could be read,
    /// else the head.
    revision: Option<String>,
    /// When Flux has not applied the head yet: the head's render and commit,
    /// compared too so drift that only exists at the head is reported as
    /// "reconcile pending".
    head: Option<(Vec<Object>, Option<String>)>,
}

impl<'a> Pipeline<'a> {
    fn new(settings: &'a Settings) -> Self {
        Self {
            settings,
            cluster: settings.cluster.clone().unwrap_or_else(|| "default".into()),
            started_at: now(),
            api_requests: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            entries: Vec::new(),
            findings: Vec::new(),
            secret_values: BTreeSet::new(),
            known: Vec::new(),
        }
    }

    fn error(
        &mut self,
        kustomization: Option<&Kustomization>,
        stage: &str,
        error: &dyn std::error::Error,
    ) {
        let message = error::error_chain(error);
        warn!(kustomization = kustomization.map(Kustomization::id), stage, error = %message, "Could not check");
        self.errors.push(ErrorEntry {
            kustomization: kustomization.map(Kustomization::id),
            stage: stage.to_string(),
            message,
        });
    }

    /// Opens the live source: the snapshot, or a client for the cluster.
    async fn open_live(&mut self) -> Option<Live> {
        if let Some(dir) = &self.settings.live_snapshot {
            let snapshot = Snapshot::load(dir);
            for e in snapshot.errors() {
                self.error(None, "live", e);
            }
            return Some(Live::Snapshot(snapshot));
        }
        match Cluster::connect(&self.settings.cluster_options).await {
            Ok(cluster) => {
                if self.settings.cluster.is_none() {
                    self.cluster = cluster.name().to_string();
                }
                Some(Live::Cluster(cluster))
            }
            Err(e) => {
                self.error(None, "live", &e);
                None
            }
        }
    }

    async fn check<S: LiveSource>(&mut self, source: &mut Repo, live: &S) {
        let head = source.head().clone();
        let kustomizations = self.discover(&head, live).await;
        self.progress(format_args!(
            "discover: {} Kustomizations",
            kustomizations.len()
        ));
        let mut rendered = Vec::new();
        for ks in kustomizations {
            if let Some(reason) = self.skip_reason(&ks) {
                info!(kustomization = %ks, reason, "Skipped");
                self.entries.push(KustomizationEntry::skipped(&ks, reason));
                continue;
            }
            rendered.push(self.render_applied(source, &head, ks, live).await);
        }
        let objects: usize = rendered.iter().flat_map(|r| &r.objects).map(Vec::len).sum();
        let failed = rendered.iter().filter(|r| r.objects.is_none()).count();
        self.progress(format_args!(
            "render: {objects} objects ({failed} Kustomizations failed)"
        ));
        let types = types_to_fetch(&rendered);
        let state = live.fetch(&types).await;
        self.progress(format_args!(
            "fetch: {} live objects of {} types",
            state.len(),
            types.len()
        ));
        for e in &state.errors {
            self.error(None, "live", e);
        }
        info!(
            objects = state.len(),
            types = types.len(),
            "Read live state"
        );
        let dry_runs = match self.settings.diff_mode {
            DiffMode::Server => self.dry_runs(&rendered, &state, live).await,
            DiffMode::Local => BTreeMap::new(),
        };
        self.compare(&head, &rendered, &state, &dry_runs);
        let unexplained = self.findings.iter().filter(|f| !f.explained).count();
        self.progress(format_args!(
            "diff: {} findings, {unexplained} unexplained",
            self.findings.len()
        ));
    }

    /// One line of progress on stderr, when asked for.
    fn progress(&self, line: std::fmt::Arguments<'_>) {
        if self.settings.progress {
            eprintln!("{line}");
        }
    }

    /// Renders a Kustomization from the commit Flux last applied (fetched
    /// when needed), and also from the head when that differs. When the
    /// applied commit cannot be read, the head is rendered alone (and its
    /// drift is explained as "reconcile pending"), with a warning.
    async fn render_applied<S: LiveSource>(
        &mut self,
        source: &mut Repo,
        head: &Checkout,
        ks: Kustomization,
        live: &S,
    ) -> Rendered {
        let applied = match ks.status.last_applied_revision.as_deref() {
            Some(revision) => match source.at(revision).await {
                None => None,
                Some(Ok(checkout)) => Some(checkout),
                Some(Err(e)) => {
                    let message = format!(
                        "could not read the applied revision {revision}, rendered the head instead: {}",
                        error::error_chain(&e)
                    );
                    warn!(kustomization = %ks, error = %message, "Applied revision not read");
                    self.warnings.push(Warning {
                        kustomization: Some(ks.id()),
                        message,
                    });
                    None
                }
            },
            None => None,
        };
        let Some(applied) = applied else {
            let objects = self.render(head, &ks, live).await;
            return Rendered {
                ks,
                objects,
                revision: head.revision.clone(),
                head: None,
            };
        };
        let objects = self.render(&applied, &ks, live).await;
        // The head's render only adds "reconcile pending" findings: its
        // failure is a warning (Flux will meet it), not an error of the run.
        let errors = self.errors.len();
        let at_head = self.render(head, &ks, live).await;
        for e in self.errors.split_off(errors) {
            self.warnings.push(Warning {
                kustomization: e.kustomization,
                message: format!(
                    "at the branch head {} (not applied yet): {}",
                    head.revision.as_deref().unwrap_or("?"),
                    e.message
                ),
            });
        }
        info!(kustomization = %ks, applied = applied.revision.as_deref(), head = head.revision.as_deref(), "Rendered the applied revision and the head");
        Rendered {
            ks,
            objects,
            revision: applied.revision,
            head: at_head.map(|objects| (objects, head.revision.clone())),
        }
    }

    /// Why a Kustomization is not rendered: its source is not the infra repo.
    fn skip_reason(&self, ks: &Kustomization) -> Option<String> {
        let (namespace, name) = self.settings.source.as_ref()?;
        let source = &ks.spec.source_ref;
        let source_namespace = ks.source_namespace();
        let ours =
            source.kind == "GitRepository" && source.name == *name && source_namespace == namespace;
        (!ours).then(|| {
            format!(
                "its source {}/{}/{} is not the infra repo GitRepository/{namespace}/{name}",
                source.kind, source_namespace, source.name
            )
        })
    }

    /// Server mode: what Flux would make of each rendered object that exists
    /// live, from a server-side apply dry-run. A failed dry-run is an error for
    /// its Kustomization; the object is then compared locally.
    async fn dry_runs<S: LiveSource>(
        &mut self,
        rendered: &[Rendered],
        state: &LiveState,
        live: &S,
    ) -> BTreeMap<ObjectKey, Object> {
        let mut work = Vec::new();
        for r in rendered {
            for desired in r.objects.iter().flatten() {
                let Some(key) = ObjectRef::of(desired).map(|o| o.key()) else {
                    continue;
                };
                if state.get(&key).is_some() {
                    let mut applied = desired.clone();
                    diff::normalize::desired(&mut applied);
                    work.push((&r.ks, key, applied));
                }
            }
        }
        let concurrency = self.settings.cluster_options.concurrency;
        let results: Vec<_> = futures::stream::iter(work)
            .map(|(ks, key, applied)| async move {
                let result = live.dry_run(&applied).await;
                (ks, key, result)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut out = BTreeMap::new();
        for (ks, key, result) in results {
            match result {
                Ok(object) => {
                    out.insert(key, object);
                }
                Err(LiveError::Status {
                    code: 403, message, ..
                }) if key.group == "rbac.authorization.k8s.io" => {
                    // RBAC's escalation check applies to dry-runs too: applying a
                    // role needs `escalate` (a binding `bind`), which the job is
                    // not given. The object is compared locally instead.
                    let object = format!("{}/{}", key.kind, key.name);
                    warn!(kustomization = %ks, object, "Server-side dry-run forbidden; compared locally");
                    self.warnings.push(Warning {
                        kustomization: Some(ks.id()),
                        message: format!(
                            "{object}: server-side dry-run forbidden ({}), compared locally; granting escalate/bind would allow it",
                            message.lines().next().unwrap_or_default()
                        ),
                    });
                }
                Err(e) => self.error(Some(ks), "dry-run", &e),
            }
        }
        out
    }

    async fn discover<S: LiveSource>(
        &mut self,
        checkout: &Checkout,
        live: &S,
    ) -> Vec<Kustomization> {
        let found = match live.kustomizations().await {
            Ok(objects) if !objects.is_empty() => match discover::from_live(&objects) {
                Ok(found) => found,
                Err(e) => {
                    self.error(None, "discover", &e);
                    Vec::new()
                }
            },
            Ok(_) => match &self.settings.kustomizations_dir {
                Some(dir) => {
                    let (found, errors) = discover::from_dir(&checkout.root.join(dir));
                    for e in &errors {
                        self.error(None, "discover", e);
                    }
                    found
                }
                None => {
                    self.errors.push(ErrorEntry {
                        kustomization: None,
                        stage: "discover".into(),
                        message: "the live state has no Flux Kustomizations: pass --kustomizations-dir (e.g. clusters/prod) to read them from the repo".into(),
                    });
                    Vec::new()
                }
            },
            Err(e) => {
                self.error(None, "discover", &e);
                Vec::new()
            }
        };
        self.known = found.clone();
        match discover::select(found, &self.settings.kustomizations) {
            Ok(selected) => selected,
            Err(e) => {
                self.error(None, "discover", &e);
                Vec::new()
            }
        }
    }

    /// Renders one Kustomization with its substitution variables; errors are recorded.
    async fn render<S: LiveSource>(
        &mut self,
        checkout: &Checkout,
        ks: &Kustomization,
        live: &S,
    ) -> Option<Vec<Object>> {
        let mut variables = render::Variables {
            strict: self.settings.strict_substitution,
            ..Default::default()
        };
        for reference in ks.spec.post_build.iter().flat_map(|p| &p.substitute_from) {
            match live
                .substitution_data(&reference.kind, &ks.namespace, &reference.name)
                .await
            {
                Ok(Some(data)) => {
                    if reference.kind == "Secret" {
                        self.secret_values
                            .extend(data.values().filter(|v| v.len() >= 4).cloned());
                    }
                    variables
                        .sources
                        .insert((reference.kind.clone(), reference.name.clone()), data);
                }
                Ok(None) => {}
                Err(e) => {
                    self.error(Some(ks), "live", &e);
                    return None;
                }
            }
        }
        let rendered = match &self.settings.kustomize_bin {
            Some(binary) => {
                render::render_with_kustomize_binary(&checkout.root, ks, &variables, binary)
            }
            None => render::render(&checkout.root, ks, &variables),
        };
        match rendered {
            Ok(objects) => {
                info!(kustomization = %ks, objects = objects.len(), "Rendered");
                Some(objects)
            }
            Err(e) => {
                self.error(Some(ks), "render", &e);
                None
            }
        }
    }

    fn compare(
        &mut self,
        head: &Checkout,
        rendered: &[Rendered],
        state: &LiveState,
        dry_runs: &BTreeMap<ObjectKey, Object>,
    ) {
        let policy = &self.settings.policy;
        let all_rendered: BTreeSet<ObjectKey> = rendered
            .iter()
            .flat_map(|r| r.objects.iter().flatten())
            .filter_map(|o| Some(ObjectRef::of(o)?.key()))
            .collect();
        let composite_kinds = classify::owner::composite_kinds(
            rendered
                .iter()
                .flat_map(|r| r.objects.iter().flatten())
                .chain(state.objects().map(|(_, o)| o)),
        );
        let mut reported: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut findings = Vec::new();
        for Rendered {
            ks,
            objects,
            revision,
            head: at_head,
        } in rendered
        {
            let ctx = Context {
                cluster: &self.cluster,
                kustomization: Some(ks),
                revision: revision.as_deref(),
                ignore: &self.settings.ignore,
                controllers: &self.settings.controllers,
                composite_kinds: &composite_kinds,
            };
            if ks.spec.suspend {
                let since = ks
                    .suspended_since
                    .as_deref()
                    .map(|s| format!(" since {s}"))
                    .unwrap_or_default();
                self.warnings.push(Warning {
                    kustomization: Some(ks.id()),
                    message: format!(
                        "Kustomization {} is suspended{since}: the cluster can drift from git silently; resume it with `flux resume kustomization {} -n {}`",
                        ks.id(),
                        ks.name,
                        ks.namespace
                    ),
                });
            }
            self.entries.push(KustomizationEntry {
                namespace: ks.namespace.clone(),
                name: ks.name.clone(),
                path: ks.spec.path.clone(),
                revision: revision.clone(),
                applied_revision: ks.status.last_applied_revision.clone(),
                suspended: ks.spec.suspend,
                suspended_since: ks.suspended_since.clone(),
                objects: objects.as_ref().map_or(0, Vec::len),
                error: objects.is_none().then(|| {
                    self.errors
                        .iter()
                        .filter(|e| e.kustomization.as_deref() == Some(&ks.id()))
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
                skipped: None,
            });
            let Some(objects) = objects else { continue };
            let mut mine = BTreeSet::new();
            let mut applied_diffs: BTreeMap<ObjectKey, (diff::Drift, BTreeSet<String>)> =
                BTreeMap::new();
            for desired in objects {
                let Some(key) = ObjectRef::of(desired).map(|r| r.key()) else {
                    continue;
                };
                mine.insert(key.clone());
                reported.insert(key.clone());
                if state.failed.contains(&key.type_key()) {
                    // Not read: an error says so; it is neither missing nor in sync.
                    continue;
                }
                let diff = match (state.unserved.get(&key.type_key()), dry_runs.get(&key)) {
                    (Some(why), _) => ObjectDiff::unserved(desired, why),
                    (None, Some(applied)) => {
                        ObjectDiff::of_server(desired, applied, state.get(&key), policy)
                    }
                    (None, None) => ObjectDiff::of_rendered(desired, state.get(&key), policy),
                };
                if let Some(diff) = diff
                    && (diff.drift != diff::Drift::Modified
                        || !diff.changes.is_empty()
                        || is_crossplane(&diff, &composite_kinds))
                {
                    applied_diffs.insert(
                        key.clone(),
                        (
                            diff.drift,
                            diff.changes.iter().map(|c| c.path.clone()).collect(),
                        ),
                    );
                    findings.push(classify::classify(diff, &ctx));
                }
            }
            // Drift that only exists at the head (what Flux has not applied
            // yet): compared locally, classified against the head's commit,
            // so it is explained as "reconcile pending".
            if let Some((head_objects, head_revision)) = at_head {
                let head_ctx = Context {
                    revision: head_revision.as_deref(),
                    ..ctx.clone()
                };
                for desired in head_objects {
                    let Some(key) = ObjectRef::of(desired).map(|r| r.key()) else {
                        continue;
                    };
                    if state.failed.contains(&key.type_key())
                        || state.unserved.contains_key(&key.type_key())
                    {
                        continue;
                    }
                    let Some(mut diff) = ObjectDiff::of_rendered(desired, state.get(&key), policy)
                    else {
                        continue;
                    };
                    if let Some((drift, paths)) = applied_diffs.get(&key) {
                        if *drift == diff.drift && diff.drift != diff::Drift::Modified {
                            continue;
                        }
                        diff.changes.retain(|c| !paths.contains(&c.path));
                    }
                    if diff.drift == diff::Drift::Modified && diff.changes.is_empty() {
                        continue;
                    }
                    reported.insert(key.clone());
                    findings.push(classify::classify(diff, &head_ctx));
                }
            }
            for (key, live, why) in diff::orphans::of_kustomization(ks, &mine, &all_rendered, state)
            {
                if reported.insert(key.clone()) {
                    let object = ObjectRef::of(live).expect("indexed objects have an identity");
                    findings.push(classify::classify(
                        ObjectDiff::orphan(live, object, why),
                        &ctx,
                    ));
                }
            }
        }
        let renders: Vec<diff::orphans::Render<'_>> = rendered
            .iter()
            .map(|r| diff::orphans::Render {
                kustomization: &r.ks,
                objects: r.objects.as_deref(),
            })
            .collect();
        for (key, live, owner_ks, why) in
            diff::orphans::platform(&renders, &self.known, &all_rendered, &reported, state)
        {
            let object = ObjectRef::of(live).expect("indexed objects have an identity");
            let ctx = Context {
                cluster: &self.cluster,
                kustomization: owner_ks,
                // Compared with what its Kustomization rendered: the applied commit.
                revision: owner_ks
                    .and_then(|ks| rendered.iter().find(|r| r.ks.id() == ks.id()))
                    .map_or(head.revision.as_deref(), |r| r.revision.as_deref()),
                ignore: &self.settings.ignore,
                controllers: &self.settings.controllers,
                composite_kinds: &composite_kinds,
            };
            reported.insert(key.clone());
            findings.push(classify::classify(
                ObjectDiff::orphan(live, object, why),
                &ctx,
            ));
        }
        scrub(&mut findings, &self.secret_values);
        self.findings = findings;
    }

    fn finish(mut self, checkout: Option<&Checkout>) -> Report {
        // An API server's validation message can quote a value: no value read
        // from a Secret leaves through an error or a warning either.
        for text in self
            .errors
            .iter_mut()
            .map(|e| &mut e.message)
            .chain(self.warnings.iter_mut().map(|w| &mut w.message))
        {
            for secret in &self.secret_values {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), diff::mask::MASK);
                }
            }
        }
        let source = match checkout {
            Some(c) => Source {
                url: c.url.clone(),
                revision: c.revision.clone(),
                note: c.note.clone(),
            },
            None => Source {
                url: self.settings.repo.location.display(),
                revision: None,
                note: None,
            },
        };
        let mut report = Report {
            schema: report::SCHEMA,
            run: Run {
                id: uuid::Uuid::new_v4().to_string(),
                started_at: self.started_at,
                finished_at: now(),
                cluster: self.cluster.clone(),
                source,
                api_requests: self.api_requests,
            },
            summary: Default::default(),
            kustomizations: self.entries,
            findings: self.findings,
            errors: self.errors,
            warnings: self.warnings,
        };
        report.summarize();
        report
    }
}

/// A rendered object with no changes is still a finding when Crossplane also controls it.
fn is_crossplane(diff: &ObjectDiff<'_>, composite_kinds: &BTreeSet<String>) -> bool {
    diff.live
        .is_some_and(|l| classify::owner::composite(l, composite_kinds).is_some())
}

/// The types whose live objects are needed: everything rendered or
/// inventoried, each read at the version git uses (the first met).
fn types_to_fetch(rendered: &[Rendered]) -> BTreeSet<TypeRef> {
    let mut types: BTreeMap<(String, String), TypeRef> = BTreeMap::new();
    for r in rendered {
        let at_head = r.head.iter().flat_map(|(objects, _)| objects);
        for t in r
            .objects
            .iter()
            .flatten()
            .chain(at_head)
            .filter_map(TypeRef::of)
        {
            types.entry(t.key()).or_insert(t);
        }
        for entry in r.ks.status.inventory.iter().flat_map(|i| &i.entries) {
            if let Some(key) = ObjectKey::from_inventory_id(&entry.id) {
                let api_version = if key.group.is_empty() {
                    entry.v.clone()
                } else {
                    format!("{}/{}", key.group, entry.v)
                };
                let t = TypeRef::new(&api_version, &key.kind);
                types.entry(t.key()).or_insert(t);
            }
        }
    }
    types.into_values().collect()
}

/// Replaces any value read from a Secret (for substitution) wherever it
/// appears in a finding's values: a Secret value substituted into a ConfigMap
/// must not leak through that ConfigMap's diff.
fn scrub(findings: &mut [Finding], secrets: &BTreeSet<String>) {
    if secrets.is_empty() {
        return;
    }
    fn walk(value: &mut Value, secrets: &BTreeSet<String>) {
        match value {
            Value::String(s) if secrets.iter().any(|secret| s.contains(secret.as_str())) => {
                *s = diff::mask::MASK.to_string();
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, secrets)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, secrets)),
            _ => {}
        }
    }
    for change in findings.iter_mut().flat_map(|f| f.changes.iter_mut()) {
        for value in [&mut change.desired, &mut change.live]
            .into_iter()
            .flatten()
        {
            walk(value, secrets);
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::{Change, Drift, Op};

    #[test]
    fn scrub_masks_secret_sourced_values_inside_any_change_value() {
        let mut findings = vec![Finding {
            kustomization: None,
            object: ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("monitoring".into()),
                name: "alertmanager".into(),
            },
            drift: Drift::Modified,
            owner: classify::Owner::Flux,
            explained: false,
            explanation: None,
            changes: vec![Change {
                path: "/data".into(),
                op: Op::Replace,
                desired: Some(json!({"url": "https://hooks.example/T0K3N-123?x=1"})),
                live: Some(json!(["T0K3N-123", "other"])),
                manager: None,
                time: None,
                explanation: None,
            }],
            fingerprint: "f".into(),
            remedy: "r".into(),
            message: None,
        }];
        scrub(&mut findings, &BTreeSet::from(["T0K3N-123".to_string()]));
        let change = &findings[0].changes[0];
        assert_eq!(change.desired, Some(json!({"url": "***"})));
        assert_eq!(change.live, Some(json!(["***", "other"])));
    }
}
