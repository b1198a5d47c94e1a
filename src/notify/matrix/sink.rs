//! The Matrix sink's [`Notifier`]: loads what was posted last (a file, or a
//! ConfigMap through the one kube client), plans the message, posts it and
//! saves the new state only once the post succeeded.

use futures::future::BoxFuture;
use tracing::info;

use super::client::{self, PageAttachment};
use super::config::{MatrixSettings, StateLocation};
use super::message;
use super::state::{ConfigMapStore, FileStore, State, StateStore, Store};
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

impl Notifier for MatrixSettings {
    fn send<'a>(&'a self, delivery: &'a Delivery<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let store = state_store(&self.state, delivery.cluster).await?;
            post(self, &store, delivery.report).await
        })
    }
}

async fn post<S: StateStore>(
    settings: &MatrixSettings,
    store: &S,
    report: &Report,
) -> Result<(), SinkError> {
    let previous = store.load().await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let options = message::Options {
        daily_digest: settings.daily_digest,
        max_bytes: settings.max_message_bytes,
        links: settings.links.clone(),
    };
    let plan = message::plan(report, &previous, &now, &options);
    let Some(message) = &plan.message else {
        info!(
            sink = "matrix",
            "Nothing changed since the last post: not posting"
        );
        // A state of the first format, or content not known yet, is kept now.
        if plan.next != previous {
            store.save(&plan.next).await?;
        }
        return Ok(());
    };
    let json = report.render(Format::Json);
    let page = page(report, &plan.next, &options);
    client::deliver(settings, message, &json, &page).await?;
    Ok(store.save(&plan.next).await?)
}

/// The report's HTML page, each open finding's age from the state's
/// `since`, named `drift-check-<cluster>-<UTC date of the run>.html`.
fn page(report: &Report, next: &State, options: &message::Options) -> PageAttachment {
    let first_seen = |f: &Finding| {
        let object = f.object.to_string();
        let id = message::identity(f.kustomization.as_deref(), &object, f.drift.as_str());
        next.findings.get(&id).map(|o| o.since.clone())
    };
    let html = html::render(
        report,
        &html::Options {
            links: options.links.or_from_repo(&report.run.source.url),
            first_seen: Some(&first_seen),
        },
    );
    // As the report's file is named: the run's start, in UTC.
    let date = chrono::DateTime::parse_from_rfc3339(&report.run.started_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now())
        .format("%Y-%m-%d");
    let cluster: String = report
        .run
        .cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    PageAttachment {
        name: format!("drift-check-{cluster}-{date}.html"),
        mime: mime::TEXT_HTML_UTF_8,
        bytes: html.into_bytes(),
    }
}

/// The state's store: a file, or a ConfigMap (by default in a pod).
async fn state_store(
    location: &StateLocation,
    cluster: &ClusterOptions,
) -> Result<Store, SinkError> {
    let (namespace, name) = match location {
        StateLocation::File(path) => return Ok(Store::File(FileStore { path: path.clone() })),
        StateLocation::Default(path) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() => {
            return Ok(Store::File(FileStore { path: path.clone() }));
        }
        StateLocation::Default(_) => (None, "drift-check-state".to_string()),
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
