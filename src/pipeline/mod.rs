//! The pipeline, as one straight sequence:
//!
//! ```text
//! source ─► discover ─► render ─► live ─► diff ─► classify ─► report ─► notify
//! ```
//!
//! Each stage returns values (a result, or a result and the issues it met),
//! and this module only passes them on: it decides nothing a stage can. An
//! issue of one Kustomization never stops the others, so one broken path
//! never hides the drift in the rest.

mod checking;
mod helm;
mod remote;
mod settings;

use std::collections::{BTreeMap, BTreeSet};

use tracing::info;

use crate::classify;
use crate::diff::{self, DiffMode};
use crate::discover;
use crate::error::{Issue, Note, Stage};
use crate::fleet;
use crate::flux::{Kustomization, Origin};
use crate::k8s::object::{Compact, Object, ObjectKey, ObjectRef};
use crate::live::{self, Live};
use crate::notify;
use crate::render::{self, Rendered};
use crate::report::fleet::FleetReport;
use crate::report::{self, KustomizationEntry, Report};
use crate::source::set::Sources;
use crate::source::{self, Checkout};
use checking::Run;
pub use settings::Settings;

/// Whether `check` tells its progress, stage by stage, on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    #[default]
    Quiet,
    Stderr,
}

impl Progress {
    pub(crate) fn line(self, line: std::fmt::Arguments<'_>) {
        if self == Progress::Stderr {
            eprintln!("{line}");
        }
    }
}

/// Runs `check`: the whole pipeline on the configured repo and live state.
pub async fn check(settings: &Settings, progress: Progress) -> Report {
    let mut run = Run::new(settings);
    let infra = match &settings.source {
        None => None,
        Some(options) => match source::open(options, |name| std::env::var(name).ok()).await {
            Ok(repo) => Some(repo),
            Err(e) => {
                run.issues.push(Issue::new(None, Stage::Source, &e));
                return run.report(None, Vec::new(), Vec::new(), None);
            }
        },
    };
    let head = infra.as_ref().map(|repo| repo.head().clone());
    let Some(live) = run.open_live().await else {
        return run.report(head.as_ref(), Vec::new(), Vec::new(), None);
    };

    let found = live.flux_objects().await;
    let source_objects = sources_of(&found);
    let no_tree = std::path::PathBuf::new();
    let (discovered, issues) = discover::discover(
        found,
        head.as_ref().map_or(&no_tree, |h| &h.root),
        &settings.discover,
    );
    run.issues.extend(issues);
    run.issues
        .extend(classify::flux_ignore_issues(&discovered.selected));
    let (checked, skipped) = discovered.partition();
    progress.line(format_args!(
        "discover: {} Kustomizations",
        discovered.selected.len()
    ));
    let mut sources = Sources::fetch(
        &settings.sources,
        settings.source.as_ref(),
        infra.map(Ok),
        settings.discover.source.as_ref(),
        &source_objects,
        &discovered.generators,
        &checked,
        Some(&live),
    )
    .await;
    let (checked, mut skipped) = (checked, skipped);
    let checked: Vec<&Kustomization> = checked
        .into_iter()
        .filter(|ks| match sources.absent(ks) {
            Some(reason) => {
                skipped.push((ks, reason));
                false
            }
            None => true,
        })
        .collect();
    let mut entries: Vec<KustomizationEntry> = skipped
        .into_iter()
        .map(|(ks, reason)| {
            info!(kustomization = %ks, reason, "Skipped");
            KustomizationEntry::skipped(ks, reason)
        })
        .collect();

    let checked = remote::followable(checked, &live, &mut run.issues, &mut entries);
    let mut rendered = Vec::new();
    for ks in checked {
        let issues = run.issues.len();
        let r = run.render(&mut sources, ks, &live).await;
        if r.objects.is_none()
            && let Some(failing) = ks.status.failing()
        {
            // Flux fails on it too: that is the Kustomization's failure
            // (reported once, as a warning), not one of drift-check's.
            for issue in run.issues.split_off(issues) {
                run.notes.push(Note {
                    kustomization: issue.kustomization,
                    message: format!(
                        "{} ({}), and drift-check could not {} it either: {}",
                        report::NOT_CHECKED_FAILING,
                        failing.reason,
                        if issue.stage == Stage::Render {
                            "render"
                        } else {
                            "read what it needs for"
                        },
                        issue.message
                    ),
                });
            }
        } else if r.objects.is_none() && ks.origin == Origin::Live && ks.status.never_reconciled() {
            // Just created, or its source not ready yet: nothing of it is
            // applied, so nothing of it can drift; Flux will meet the same
            // failure when it first reconciles it.
            for issue in run.issues.split_off(issues) {
                run.notes.push(Note {
                    kustomization: issue.kustomization,
                    message: format!(
                        "{} (it has no status yet), and drift-check could not {} it either: {}",
                        report::NOT_CHECKED_NEW,
                        if issue.stage == Stage::Render {
                            "render"
                        } else {
                            "read what it needs for"
                        },
                        issue.message
                    ),
                });
            }
        }
        rendered.push(r);
    }
    let objects: usize = rendered.iter().flat_map(|r| &r.objects).map(Vec::len).sum();
    let failed = rendered.iter().filter(|r| r.objects.is_none()).count();
    progress.line(format_args!(
        "render: {objects} objects ({failed} Kustomizations failed)"
    ));

    // Each cluster compared on its own: the one checked, then each spoke
    // its remote Kustomizations apply to (scope, orphans and overlaps per
    // cluster; a spoke that cannot be reached is "could not check" for its
    // Kustomizations only).
    let (local, spokes) = remote::by_cluster(rendered);
    let mut findings = Vec::new();
    let at = Compare {
        known: remote::known_on(&discovered.known, None),
        discovered: &discovered,
        head: head.as_ref(),
        progress,
    };
    compare(
        &mut run,
        &live,
        None,
        local,
        &at,
        &mut entries,
        &mut findings,
    )
    .await;
    let on_spokes =
        remote::compare_on_spokes(&mut run, &live, spokes, &at, &mut entries, &mut findings).await;
    let api_requests = live.requests().map(|n| n + on_spokes);
    if let Some(requests) = api_requests {
        info!(requests, "API requests made");
    }
    run.report(head.as_ref(), entries, findings, api_requests)
}

/// What [`compare`] reads besides the cluster's renders.
struct Compare<'d> {
    /// The Kustomizations applying to the cluster compared (owners of its
    /// objects, for orphans and overlaps).
    known: Vec<Kustomization>,
    discovered: &'d discover::Discovered,
    head: Option<&'d Checkout>,
    progress: Progress,
}

/// Compares the renders of the Kustomizations applying to one cluster
/// (`cluster`: a spoke's name, `None` for the cluster checked) with its live
/// state: adds their findings and report entries.
async fn compare(
    run: &mut Run<'_>,
    live: &Live,
    cluster: Option<&str>,
    mut rendered: Vec<Rendered>,
    at: &Compare<'_>,
    entries: &mut Vec<KustomizationEntry>,
    all_findings: &mut Vec<classify::Finding>,
) {
    let settings = run.settings;
    let (discovered, head, progress) = (at.discovered, at.head, at.progress);
    let mut releases = helm::read(
        &rendered,
        live,
        &settings.helm,
        &mut run.issues,
        &mut run.notes,
    )
    .await;
    let types = live::types_to_fetch(
        rendered
            .iter()
            .flat_map(Rendered::all_objects)
            .filter_map(Compact::reference),
        rendered.iter().map(|r| &r.ks),
    );
    let mut state = live.fetch(&types).await;
    // The types only HelmReleases' objects need, in a fetch of their own:
    // one the token may not list leaves those objects unchecked (a note),
    // it is not an error of the run.
    // Kept apart from `state`: the orphan scans stay on the rendered and
    // inventoried types.
    let helm_types = releases.types(&rendered, &settings.helm, &types);
    let mut helm_state = live::LiveState::default();
    if !helm_types.is_empty() {
        helm_state = live.fetch(&helm_types).await;
        for e in std::mem::take(&mut helm_state.errors) {
            run.notes.push(Note {
                kustomization: None,
                message: format!(
                    "objects HelmReleases deployed: {e}: those of that type are not checked"
                ),
            });
        }
        // Discovery of the second fetch knows the first one's groups too.
        state.scopes = helm_state.scopes.clone();
    }
    // Render as kustomize does, then store as the API server does: no
    // namespace on a cluster-scoped kind (scopes from the live source, then
    // from the render's CRDs for kinds not served yet).
    state.scopes.learn_from_crds(
        rendered
            .iter()
            .flat_map(Rendered::all_objects)
            .filter(|c| c.kind() == Some("CustomResourceDefinition"))
            .map(Compact::object),
    );
    let dropped = diff::scope::as_stored(&mut rendered, &state.scopes);
    run.substituted.as_stored(&state.scopes);
    run.live_names_of_encrypted_generated_secrets(&mut rendered, &state);
    if dropped > 0 {
        info!(
            objects = dropped,
            "Dropped the namespace of cluster-scoped objects, as the API server does"
        );
    }
    progress.line(format_args!(
        "fetch: {} live objects of {} types",
        state.len() + helm_state.len(),
        types.len() + helm_types.len()
    ));
    run.issues
        .extend(state.errors.iter().map(|e| remote::issue_on(cluster, e)));
    // A type the cluster did not list leaves each Kustomization with objects
    // of it unchecked: its own error, never "in sync". (A snapshot file that
    // cannot be parsed is already an error of the whole snapshot.)
    let unread = match live {
        Live::Cluster(_) => diff::unread_types(&rendered, &state),
        Live::Snapshot(_) => Vec::new(),
    };
    run.issues.extend(unread.iter().cloned());
    info!(
        objects = state.len() + helm_state.len(),
        types = types.len() + helm_types.len(),
        "Read live state"
    );

    let dry_runs = match settings.diff.mode {
        DiffMode::Server => {
            let (results, issues, notes) = live::dry_runs(
                live,
                dry_run_work(&rendered, &state),
                settings.live.cluster.concurrency,
            )
            .await;
            run.issues.extend(issues);
            run.notes.extend(notes);
            results
        }
        DiffMode::Local => BTreeMap::new(),
    };

    let remote_releases = std::mem::take(&mut releases.remote);
    let on_spokes = remote::helm_on_spokes(run, live, remote_releases, &rendered, &state).await;
    let deployed = releases.deployed(&rendered, &state, &state.scopes);
    run.issues.extend(helm::ignore_issues(&deployed));
    let all_rendered = Rendered::identities(&rendered);
    let (mut diffs, notes) = diff::renders(
        &rendered,
        &all_rendered,
        &at.known,
        diff::orphans::Unreadable {
            broken: &discovered.broken,
            incomplete: discovered.incomplete,
        },
        &state,
        &dry_runs,
        &settings.diff.policy,
        head.and_then(|h| h.revision.as_deref()),
    );
    run.notes.extend(notes);
    diffs.extend(diff::helm::deployed(
        &deployed,
        [&state, &helm_state],
        &all_rendered,
        &settings.diff.policy,
    ));
    let nothing = live::LiveState::default();
    for spoke in &on_spokes {
        run.issues.extend(helm::ignore_issues(&spoke.deployed));
        run.notes.extend(helm::notes(&spoke.deployed));
        diffs.extend(diff::helm::deployed(
            &spoke.deployed,
            [&spoke.state, &nothing],
            &BTreeSet::new(),
            &settings.diff.policy,
        ));
    }
    let mut findings = classify::findings(
        diffs,
        rendered
            .iter()
            .flat_map(|r| r.objects.iter().flatten())
            .filter(|c| c.kind() == Some("CompositeResourceDefinition"))
            .map(Compact::object)
            // All that classify reads of rendered and live objects: Crossplane's XRDs.
            .chain(state.of_kind("CompositeResourceDefinition")),
        &settings.classify,
        &settings.diff.policy,
        cluster.unwrap_or(&run.cluster),
    );
    for f in &mut findings {
        run.substituted.changes(&f.object, &mut f.changes);
    }
    let unexplained = findings.iter().filter(|f| !f.explained).count();
    progress.line(format_args!(
        "diff: {} findings, {unexplained} unexplained",
        findings.len()
    ));

    run.notes.extend(helm::notes(&deployed));
    for r in &rendered {
        if r.ks.spec.suspend {
            run.notes.push(report::suspension(&r.ks));
        }
        if let Some(failing) = r.ks.status.failing() {
            run.notes.push(report::failing(&r.ks, &failing));
        }
        let mut entry = KustomizationEntry::checked(
            &r.ks,
            r.objects.as_ref().map(Vec::len),
            r.revision.clone(),
            &run.issues,
        );
        entry.source = run.checked_sources.remove(&r.ks.id());
        entry.cluster = cluster.map(str::to_string);
        if entry.error.is_none()
            && let Some(issue) = unread
                .iter()
                .find(|i| i.kustomization.as_deref() == Some(&entry.id()))
        {
            entry.error = Some(issue.message.clone());
        }
        entries.push(entry);
    }
    all_findings.extend(findings);
}

/// The per-cluster check of a fleet: [`check`] with the cluster's name and
/// connection (or snapshot) in the settings; nothing shared with the other
/// clusters' checks but the settings read.
pub async fn check_cluster(
    member: &fleet::Member,
    settings: &Settings,
    progress: Progress,
) -> Report {
    check(&fleet::member_settings(member, settings), progress).await
}

/// Flux's source objects among the live ones.
fn sources_of<E>(found: &Result<Vec<Object>, E>) -> Vec<Object> {
    found
        .iter()
        .flatten()
        .filter(|o| source::cluster::is_source(o))
        .cloned()
        .collect()
}

/// Runs `run`: `check`, hands the report to `print` (before any sink, so it
/// is never lost), then sends it to the configured sinks. Returns the exit
/// code (see [`notify::exit_code`]).
pub async fn run(settings: &Settings, progress: Progress, print: impl FnOnce(&Report)) -> u8 {
    let started = std::time::Instant::now();
    let report = check(settings, progress).await;
    let duration = started.elapsed();
    print(&report);
    // Boxed: matrix-sdk's futures are deep enough to overflow the compiler's
    // layout query depth when inlined into the binary's main future.
    let sinks = Box::pin(notify::notify(
        &settings.notify,
        &settings.live.cluster,
        &report,
        duration,
    ))
    .await;
    notify::exit_code(&report, &sinks)
}

/// Runs `run` over a fleet: every cluster checked (a bounded stream), the
/// fleet report handed to `print`, then to the sinks: one Matrix message for
/// the fleet, each cluster's metrics in its own pushgateway group (those of
/// clusters that left the fleet deleted), each cluster's report to the
/// webhook. Exit code as [`run`]'s, over the whole fleet.
pub async fn run_fleet(
    fleet: &fleet::Fleet,
    settings: &Settings,
    progress: Progress,
    print: impl FnOnce(&FleetReport),
) -> u8 {
    let report = fleet::run(fleet, settings, progress).await;
    print(&report);
    let sinks = Box::pin(notify::notify_fleet(
        &settings.notify,
        &settings.live.cluster,
        &report,
        fleet.complete,
    ))
    .await;
    notify::fleet_exit_code(&report, &sinks)
}

/// What `render` produced: each selected Kustomization with its objects
/// (`None` when it failed; Secret data and values substituted from Secrets
/// masked), the issues met (values read from Secrets scrubbed), and notes
/// for the reader.
#[derive(Debug, Default)]
pub struct Renders {
    pub kustomizations: Vec<(Kustomization, Option<Vec<Object>>)>,
    pub issues: Vec<Issue>,
    /// Said once on stderr, e.g. that `substituteFrom` was not read.
    pub notes: Vec<String>,
}

/// Runs `render`: each selected Kustomization with its objects. Rendered
/// from the branch head (or `--revision`), like `flux build ks`. When the
/// Kustomizations come from the repo or a file and there is no snapshot, no
/// cluster is touched: `postBuild.substituteFrom` is not read, as
/// `flux build ks --dry-run` does (fluxcd/flux2 `internal/build/build.go`,
/// `dryRun`), and a note says so.
pub async fn render(settings: &Settings) -> Renders {
    let mut run = Run::new(settings);
    // The repo is kept until the end: its trees are removed with it.
    let infra = match &settings.source {
        None => None,
        Some(options) => match source::open(options, |name| std::env::var(name).ok()).await {
            Ok(repo) => Some(repo),
            Err(e) => {
                return Renders {
                    issues: vec![Issue::new(None, Stage::Source, &e)],
                    ..Renders::default()
                };
            }
        },
    };
    let offline = settings.live.snapshot.is_none() && settings.discover.from_files();
    let live = if offline {
        None
    } else {
        match run.open_live().await {
            Some(live) => Some(live),
            None => {
                return Renders {
                    issues: run.issues,
                    ..Renders::default()
                };
            }
        }
    };
    let head = infra.as_ref().map(|repo| repo.head().clone());
    let found = match &live {
        Some(live) => live.flux_objects().await,
        None => Ok(Vec::new()),
    };
    let source_objects = sources_of(&found);
    let no_tree = std::path::PathBuf::new();
    let (discovered, issues) = discover::discover(
        found,
        head.as_ref().map_or(&no_tree, |h| &h.root),
        &settings.discover,
    );
    run.issues.extend(issues);
    let selected: Vec<&Kustomization> = discovered.selected.iter().collect();
    let mut sources = Sources::fetch(
        &settings.sources,
        settings.source.as_ref(),
        infra.map(Ok),
        settings.discover.source.as_ref(),
        &source_objects,
        &discovered.generators,
        &selected,
        live.as_ref(),
    )
    .await;
    let mut notes = Vec::new();
    if offline {
        let unread: Vec<String> = discovered
            .selected
            .iter()
            .filter(|ks| {
                ks.spec
                    .post_build
                    .as_ref()
                    .is_some_and(|p| !p.substitute_from.is_empty())
            })
            .map(Kustomization::id)
            .collect();
        if !unread.is_empty() {
            notes.push(format!(
                "no cluster and no --live-snapshot: postBuild.substituteFrom is not read (as `flux build ks --dry-run`), only postBuild.substitute is used, in {}{}",
                unread.join(", "),
                if settings.render.strict_substitution {
                    "; a variable only substituteFrom sets is an error under strict substitution (the default, as Flux 2.9): pass --strict-substitution=false to render it empty, or --live-snapshot with the ConfigMaps and Secrets to read them"
                } else {
                    "; a variable only substituteFrom sets renders empty"
                }
            ));
        }
    }
    let mut kustomizations = Vec::new();
    for ks in discovered.selected {
        let mut objects = match sources.for_kustomization(&ks, settings.render.limits).await {
            Ok(trees) => match run.inputs(&ks, live.as_ref()).await {
                Some(inputs) => run.render_at(&trees.head, &ks, inputs.as_ref()),
                None => None,
            },
            Err(e) => {
                run.issues
                    .push(Issue::new(Some(ks.id()), Stage::Source, e.as_ref()));
                None
            }
        };
        for object in objects.iter_mut().flatten() {
            diff::mask::secret_object(object);
            run.substituted.object(object);
        }
        kustomizations.push((ks, objects));
    }
    let report = run.report(head.as_ref(), Vec::new(), Vec::new(), None);
    Renders {
        kustomizations,
        issues: report.errors,
        notes,
    }
}

/// Server mode: the rendered objects that exist live, as Flux would apply them.
fn dry_run_work<'a>(
    rendered: &'a [Rendered],
    state: &live::LiveState,
) -> Vec<(&'a Kustomization, ObjectKey, Object)> {
    let mut work = Vec::new();
    for r in rendered {
        for desired in r.objects.iter().flatten() {
            let Some(key) = desired.reference().map(ObjectRef::key) else {
                continue;
            };
            if state.contains(&key) {
                let mut applied = desired.peek().into_owned();
                diff::normalize::desired(&mut applied);
                work.push((&r.ks, key, applied));
            }
        }
    }
    work
}

/// A render's objects as held until the diff compares them.
fn compact(objects: Option<Vec<Object>>) -> Option<Vec<Compact>> {
    objects.map(|objects| objects.iter().map(Compact::new).collect())
}

/// Now, as the reports write times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
