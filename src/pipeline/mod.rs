//! The pipeline, as one straight sequence of stage calls:
//!
//! ```text
//! source ─► live ─► discover ─► render ─► helm ─► diff ─► classify ─► report ─► notify
//! ```
//!
//! Each stage returns an [`Outcome`](crate::error::Outcome): its value and
//! the problems it met; the report is built from them as they come
//! ([`report::Builder`]). This module only passes values on: it decides
//! nothing a stage can. A problem of one Kustomization never stops the
//! others, so one broken path never hides the drift in the rest. See
//! ARCHITECTURE.md for each stage's input, output and settings.

mod cluster;
mod settings;

use crate::bounds::Validated;
use crate::error::{Issue, Problems};
use crate::flux::Kustomization;
use crate::k8s::object::Object;
use crate::render::{self as rendering};
use crate::report::{self, Report};
use crate::source::set::Sources;
use crate::{classify, diff, discover, live, notify, source};
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

/// Runs `check`: the whole pipeline on the configured repo and live state,
/// with settings the config layers validated.
pub async fn check(settings: &Validated<Settings>, progress: Progress) -> Report {
    let mut run = report::Builder::new(settings.cluster.as_deref(), settings.source.as_ref());
    let Some(infra) = run.take(source::open_infra(settings.source.as_ref()).await) else {
        return run.build();
    };
    run.checked_out(infra.head());
    let Some(live) = run.take(live::connect(&settings.live).await) else {
        return run.build();
    };
    run.connected(&live);
    let found = live.flux_objects(source::KINDS).await;
    let source_objects = source::cluster::sources_of(&found);
    let discovered = run.take(discover::discover(found, infra.root(), &settings.discover));
    run.take(classify::kustomization_rules(&discovered.selected));
    let (checked, skipped) = discovered.partition();
    progress.line(format_args!(
        "discover: {} Kustomizations",
        discovered.selected.len()
    ));
    let head = infra.head().cloned();
    let mut trees = Sources::fetch(
        &settings.sources,
        settings.source.as_ref(),
        infra.into_repo().map(Ok),
        settings.discover.source.as_ref(),
        &source_objects,
        &discovered.generators,
        &checked,
        Some(&live),
    )
    .await;
    let (checked, absent) = trees.partition(checked);
    run.skipped(skipped);
    run.skipped(absent);
    let followed = run.take(live::followable(checked, &live));
    let checked = run.followed(followed);
    let batch = rendering::batch::all(checked, &mut trees, &live, &settings.render).await;
    let rendering::Batch { rendered, mut made } = run.take(batch);
    run.read_secrets(&made);
    progress.line(format_args!("render: {}", cluster::rendered(&rendered)));
    let (local, spokes) = live::by_cluster(rendered, |r| &r.ks);
    let revision = head.as_ref().and_then(|h| h.revision.as_deref());
    let at = cluster::At::new(settings, &discovered, revision, progress);
    cluster::compare(&mut run, &at, &live, None, local, &mut made).await;
    let on_spokes = cluster::on_spokes(&mut run, &at, &live, spokes, &mut made).await;
    run.requests(live.requests().map(|n| n + on_spokes));
    run.build()
}

/// Runs `run`: `check`, hands the report to `print` (before any sink, so it
/// is never lost), then sends it to the configured sinks. Returns the exit
/// code (see [`notify::exit_code`]).
pub async fn run(
    settings: &Validated<Settings>,
    progress: Progress,
    print: impl FnOnce(&Report),
) -> u8 {
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
/// `flux build ks --dry-run` does, and a note says so.
pub async fn render(settings: &Validated<Settings>) -> Renders {
    let mut run = Problems::default();
    let failed = |run: Problems| Renders {
        issues: run.issues,
        ..Renders::default()
    };
    let Some(infra) = run.take(source::open_infra(settings.source.as_ref()).await) else {
        return failed(run);
    };
    let offline = settings.live.snapshot.is_none() && settings.discover.from_files();
    let live = match offline {
        true => None,
        false => match run.take(live::connect(&settings.live).await) {
            Some(live) => Some(live),
            None => return failed(run),
        },
    };
    let found = match &live {
        Some(live) => live.flux_objects(source::KINDS).await,
        None => Ok(Vec::new()),
    };
    let source_objects = source::cluster::sources_of(&found);
    let discovered = run.take(discover::discover(found, infra.root(), &settings.discover));
    let selected: Vec<&Kustomization> = discovered.selected.iter().collect();
    let mut trees = Sources::fetch(
        &settings.sources,
        settings.source.as_ref(),
        infra.into_repo().map(Ok),
        settings.discover.source.as_ref(),
        &source_objects,
        &discovered.generators,
        &selected,
        live.as_ref(),
    )
    .await;
    let notes = offline
        .then(|| rendering::batch::offline_note(&discovered.selected, &settings.render))
        .flatten()
        .into_iter()
        .collect();
    let heads = rendering::batch::heads(
        discovered.selected,
        &mut trees,
        live.as_ref(),
        &settings.render,
    );
    let (mut kustomizations, made) = run.take(heads.await);
    for (_, objects) in &mut kustomizations {
        diff::mask::printed(
            objects.as_deref_mut().unwrap_or_default(),
            &made.substituted,
        );
    }
    Renders {
        kustomizations,
        issues: report::scrubbed(run, &made.secret_values).issues,
        notes,
    }
}
