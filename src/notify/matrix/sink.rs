//! The Matrix sink's [`Notifier`]: loads what was posted last (a file, or a
//! ConfigMap through the one kube client), plans the message, posts it and
//! saves the new state only once the post succeeded.
//!
//! A run that could not check something is never silent: when the state
//! cannot be read (its API server is down), the message is planned as if
//! nothing had been posted before and posted anyway, saying so; the sink
//! then fails with the state's error (nothing is saved).

use futures::future::BoxFuture;
use tracing::{info, warn};

use super::client::{self, Attachment};
use super::config::{MatrixSettings, StateLocation};
use super::message;
use super::state::{ConfigMapStore, FileStore, Loaded, State, StateError, StateStore, Store};
use crate::classify::Finding;
use crate::k8s::client::{ClientError, ClusterOptions};
use crate::notify::{Delivery, Notifier, SinkError};
use crate::report::{Format, Report, html};

/// The state ConfigMap's cluster cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("state ConfigMap {name}: cannot reach the cluster")]
struct Unreachable {
    name: String,
    #[source]
    source: ClientError,
}

/// The message went out without the state: it may repeat earlier posts,
/// and what it posted is not remembered.
#[derive(Debug, thiserror::Error)]
#[error("posted without the state of the last post, which was not saved either")]
struct PostedWithoutState {
    #[source]
    source: SinkError,
}

impl Notifier for MatrixSettings {
    fn send<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let report = delivery.report;
            let loaded = match state_store(&self.state, delivery.cluster).await {
                Ok(store) => store
                    .load()
                    .await
                    .map(|l| (store, l))
                    .map_err(SinkError::from),
                Err(e) => Err(e),
            };
            match loaded {
                Ok((store, loaded)) => post(self, Some(&store), loaded, report).await,
                // Exit 2 is never silent: post what could not be checked.
                Err(source) if !report.errors.is_empty() => {
                    let cause = crate::error::error_chain(&*source);
                    warn!(
                        sink = "matrix",
                        error = %cause,
                        "Cannot read the state: posting what could not be checked without it"
                    );
                    let mut loaded = Loaded::fresh();
                    loaded.note = Some(format!(
                        "The state of the last post could not be read ({cause}): everything below is shown as new, some of it may have been posted before."
                    ));
                    post::<Store>(self, None, loaded, report).await?;
                    Err(PostedWithoutState { source }.into())
                }
                Err(e) => Err(e),
            }
        })
    }

    /// One message for the whole fleet, each cluster's state its own.
    fn send_fleet<'a>(
        &'a self,
        fleet: &'a crate::notify::FleetDelivery<'a>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(super::fleet::send(self, fleet))
    }
}

/// Plans against `loaded`, posts, saves to `store` (when there is one).
async fn post<S: StateStore>(
    settings: &MatrixSettings,
    store: Option<&S>,
    loaded: Loaded,
    report: &Report,
) -> Result<(), SinkError> {
    let previous = &loaded.state;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let json = report.render(Format::Json);
    let attachment = client::Attachment::of(report, &json);
    let options = message::Options {
        daily_digest: settings.daily_digest,
        max_bytes: settings.max_message_bytes,
        links: settings.links.clone(),
        note: loaded.note.clone(),
        report_file: attachment.name.clone(),
        remind_after: settings
            .remind_after
            .and_then(|d| chrono::Duration::from_std(d).ok()),
        thread_window: chrono::Duration::from_std(settings.thread_window)
            .unwrap_or(chrono::Duration::zero()),
    };
    let plan = message::plan(report, previous, &now, &options);
    let Some(message) = &plan.message else {
        info!(
            sink = "matrix",
            "Nothing changed since the last post: not posting"
        );
        // A state of the first format, or content not known yet, is kept now.
        if plan.next != *previous {
            save(store, &loaded, &plan.next).await?;
        }
        return Ok(());
    };
    let page = page(report, &plan.next, &options);
    let event = client::deliver(settings, message, &plan.replies, attachment, &page).await?;
    let mut next = plan.next;
    // What it announced as new is known by this event from now on: the
    // root of its thread.
    next.announced_in(event.as_str());
    Ok(save(store, &loaded, &next).await?)
}

async fn save<S: StateStore>(
    store: Option<&S>,
    loaded: &Loaded,
    next: &State,
) -> Result<(), StateError> {
    match store {
        Some(store) => store.save(loaded, next).await,
        None => Ok(()),
    }
}

/// The report's HTML page, each open finding's age from the state's
/// `since`, named `drift-check-<cluster>-<UTC date of the run>.html`.
fn page(report: &Report, next: &State, options: &message::Options) -> Attachment {
    let first_seen = |f: &Finding| {
        let object = f.object.to_string();
        let id = message::identity(f.kustomization.as_deref(), &object, f.drift.as_str());
        next.findings.get(&id).map(|o| o.since.clone())
    };
    let html = html::render(
        report,
        &html::Options {
            links: options.links.clone(),
            first_seen: Some(&first_seen),
        },
    );
    Attachment::page(report, html)
}

/// The state's store: a file, or a ConfigMap (by default in a pod).
pub(super) async fn state_store(
    location: &StateLocation,
    cluster: &ClusterOptions,
) -> Result<Store, SinkError> {
    let (namespace, name) = match location {
        StateLocation::File(path) => return Ok(Store::File(FileStore { path: path.clone() })),
        StateLocation::Default { file, .. }
            if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() =>
        {
            return Ok(Store::File(FileStore { path: file.clone() }));
        }
        StateLocation::Default { config_map, .. } => (None, config_map.clone()),
        StateLocation::ConfigMap { namespace, name } => (namespace.clone(), name.clone()),
    };
    let client = match crate::k8s::client::client(cluster).await {
        Ok(client) => client,
        Err(source) => return Err(Unreachable { name, source }.into()),
    };
    let namespace = namespace.unwrap_or_else(|| client.default_namespace().to_string());
    Ok(Store::ConfigMap(ConfigMapStore {
        client,
        namespace,
        name,
    }))
}
