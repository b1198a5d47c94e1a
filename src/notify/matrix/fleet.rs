//! The Matrix sink in a fleet run: ONE message for the whole fleet. Each
//! cluster is planned as a single-cluster run is ([`message::plan`]),
//! against its own state — the state is kept per cluster: the file
//! `<stateFile stem>-<cluster>.json`, or the ConfigMap
//! `<stateConfigMap>-<cluster>` — and the clusters' messages are joined
//! under the fleet's summary line, worst cluster first; a cluster with
//! nothing new is one line. The fleet's JSON report and its HTML page are
//! the attached files. Nothing new anywhere (and no cluster that could not
//! be checked at all): nothing is posted, as for one cluster.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::client::{self, Attachment};
use super::config::{MatrixSettings, StateLocation};
use super::message::{self, Message, Plan, Reply};
use super::sink::state_store;
use super::state::{Loaded, StateStore, Store, hex};
use crate::notify::SinkError;
use crate::notify::fleet::{ClustersFailed, FleetDelivery};
use crate::report::fleet::ClusterEntry;
use crate::report::{Format, escape_text};

/// One cluster's part of the message.
struct Part<'a> {
    cluster: &'a ClusterEntry,
    /// `None`: not checked at all (nothing to plan).
    planned: Option<Planned>,
}

/// A checked cluster, planned against its own state.
struct Planned {
    store: Option<Store>,
    loaded: Loaded,
    plan: Plan,
    /// The state could not be read (the post goes out, the state is not saved).
    state_error: Option<String>,
}

/// Plans every cluster, posts one message, saves each cluster's state.
pub async fn send(settings: &MatrixSettings, fleet: &FleetDelivery<'_>) -> Result<(), SinkError> {
    let report = fleet.report;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let json = report.render(Format::Json);
    let attachment = Attachment::json(file_name(&report.run.started_at, "json"), &json);
    let checked = report
        .clusters
        .iter()
        .filter(|c| c.report.is_some())
        .count();
    let mut parts = Vec::new();
    for cluster in report.worst_first() {
        let Some(cluster_report) = &cluster.report else {
            parts.push(Part {
                cluster,
                planned: None,
            });
            continue;
        };
        let location = location_of(&settings.state, &cluster.name);
        let (store, mut loaded, state_error) = match load(&location, fleet).await {
            Ok((store, loaded)) => (Some(store), loaded, None),
            Err(cause) => {
                warn!(sink = "matrix", cluster = %cluster.name, error = %cause, "Cannot read the state: planning as if nothing was posted");
                (None, Loaded::fresh(), Some(cause))
            }
        };
        if let Some(cause) = &state_error {
            loaded.note = Some(format!(
                "The state of the last post could not be read ({cause}): everything of this cluster is shown as new."
            ));
        }
        let options = message::Options {
            daily_digest: settings.daily_digest,
            // The fleet's message shares the cap among the clusters.
            max_bytes: (settings.max_message_bytes / checked.max(1)).max(2048),
            links: settings.links.clone(),
            note: loaded.note.clone(),
            report_file: attachment.name.clone(),
            remind_after: settings
                .remind_after
                .and_then(|d| chrono::Duration::from_std(d).ok()),
            thread_window: chrono::Duration::from_std(settings.thread_window)
                .unwrap_or(chrono::Duration::zero()),
        };
        let plan = message::plan(cluster_report, &loaded.state, &now, &options);
        parts.push(Part {
            cluster,
            planned: Some(Planned {
                store,
                loaded,
                plan,
                state_error,
            }),
        });
    }
    let mut failed = Vec::new();
    let Some(message) = join(&report.summary_line(), &parts) else {
        info!(
            sink = "matrix",
            "Nothing changed in the fleet since the last post: not posting"
        );
        for part in &parts {
            if let Some(p) = &part.planned
                && p.plan.next != p.loaded.state
            {
                save(p, &p.plan.next, part.cluster, &mut failed).await;
            }
        }
        return done(failed);
    };
    let replies: Vec<Reply> = parts
        .iter()
        .filter_map(|p| p.planned.as_ref())
        .flat_map(|p| p.plan.replies.iter().cloned())
        .collect();
    let page = Attachment::page_named(
        file_name(&report.run.started_at, "html"),
        report.render(Format::Html),
    );
    let event = client::deliver(settings, &message, &replies, attachment, &page).await?;
    for part in &parts {
        let Some(p) = &part.planned else { continue };
        let mut next = p.plan.next.clone();
        next.announced_in(event.as_str());
        save(p, &next, part.cluster, &mut failed).await;
    }
    done(failed)
}

fn done(failed: Vec<String>) -> Result<(), SinkError> {
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ClustersFailed(failed).into())
    }
}

async fn load(
    location: &StateLocation,
    fleet: &FleetDelivery<'_>,
) -> Result<(Store, Loaded), String> {
    let store = state_store(location, fleet.hub)
        .await
        .map_err(|e| crate::error::error_chain(&*e))?;
    let loaded = store
        .load()
        .await
        .map_err(|e| crate::error::error_chain(&e))?;
    Ok((store, loaded))
}

/// Saves a cluster's next state (not when its state could not be read).
async fn save(
    p: &Planned,
    next: &super::state::State,
    cluster: &ClusterEntry,
    failed: &mut Vec<String>,
) {
    if let Some(cause) = &p.state_error {
        failed.push(format!(
            "cluster {}: the state of the last post could not be read, and is not saved: {cause}",
            cluster.name
        ));
        return;
    }
    if let Some(store) = &p.store
        && let Err(e) = store.save(&p.loaded, next).await
    {
        failed.push(format!(
            "cluster {}: {}",
            cluster.name,
            crate::error::error_chain(&e)
        ));
    }
}

/// The fleet's message: the summary line, then each cluster, worst first —
/// its own message under its name, or one line when it has nothing new.
/// `None` when no cluster has anything to post and every one was checked.
fn join(summary: &str, parts: &[Part<'_>]) -> Option<Message> {
    let posts = parts.iter().any(|p| match &p.planned {
        Some(planned) => planned.plan.message.is_some(),
        None => true,
    });
    if !posts {
        return None;
    }
    let mut body = format!("drift-check · {}\n", escape_text(summary));
    let mut html = format!("<p><b>drift-check</b> · {}</p>\n", html_escape(summary));
    let mut ids = Sha256::new();
    let mut omitted = 0;
    for part in parts {
        let title = part.cluster.title();
        match part.planned.as_ref().map(|p| &p.plan.message) {
            Some(Some(m)) => {
                body.push_str(&format!(
                    "\n── cluster {} ──\n{}\n",
                    escape_text(&title),
                    m.body
                ));
                html.push_str(&format!(
                    "<h3>cluster {}</h3>\n{}\n",
                    html_escape(&title),
                    m.html
                ));
                ids.update(m.transaction_id.as_bytes());
                omitted += m.omitted;
            }
            Some(None) => {
                let line = format!(
                    "cluster {}: nothing new ({})",
                    title,
                    part.cluster.one_line()
                );
                body.push_str(&format!("{}\n", escape_text(&line)));
                html.push_str(&format!("<p>{}</p>\n", html_escape(&line)));
            }
            None => {
                let line = format!("cluster {}: {}", title, part.cluster.one_line());
                body.push_str(&format!("{}\n", escape_text(&line)));
                html.push_str(&format!("<p>{}</p>\n", html_escape(&line)));
                ids.update(line.as_bytes());
            }
        }
        ids.update([0]);
    }
    Some(Message {
        body,
        html,
        omitted,
        transaction_id: format!("drift-check-fleet-{}", hex(&ids.finalize()[..16])),
    })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `drift-check-fleet-<UTC date of the run>.<extension>`.
fn file_name(started_at: &str, extension: &str) -> String {
    let date = chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now())
        .format("%Y-%m-%d");
    format!("drift-check-fleet-{date}.{extension}")
}

/// Where one cluster's state lives: the file with `-<cluster>` before its
/// extension, or the ConfigMap `<name>-<cluster>` (a name that is not a
/// DNS label part is lowercased, other characters `-`, with a hash).
pub fn location_of(state: &StateLocation, cluster: &str) -> StateLocation {
    match state {
        StateLocation::File(path) => StateLocation::File(file_of(path, cluster)),
        // In a pod, as in a file: one ConfigMap per cluster.
        StateLocation::Default { file, config_map } => StateLocation::Default {
            file: file_of(file, cluster),
            config_map: format!("{config_map}-{}", dns_part(cluster)),
        },
        StateLocation::ConfigMap { namespace, name } => StateLocation::ConfigMap {
            namespace: namespace.clone(),
            name: format!("{name}-{}", dns_part(cluster)),
        },
    }
}

fn file_of(path: &Path, cluster: &str) -> PathBuf {
    let safe: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{safe}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{safe}"),
    };
    path.with_file_name(name)
}

/// A cluster's name as part of a ConfigMap name: itself when it is one,
/// else lowercased with other characters `-` and 8 hex of its hash.
fn dns_part(cluster: &str) -> String {
    let plain = !cluster.is_empty()
        && cluster.len() <= 63
        && cluster
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !cluster.starts_with('-')
        && !cluster.ends_with('-');
    if plain {
        return cluster.to_string();
    }
    let cleaned: String = cluster
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    let hash = hex(&Sha256::digest(cluster.as_bytes())[..4]);
    format!("{}-{hash}", cleaned.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cluster_has_a_state_of_its_own() {
        let file = StateLocation::File(PathBuf::from("/var/lib/state.json"));
        assert_eq!(
            location_of(&file, "prod-eu"),
            StateLocation::File(PathBuf::from("/var/lib/state-prod-eu.json"))
        );
        assert_eq!(
            location_of(&file, "arn:aws/x"),
            StateLocation::File(PathBuf::from("/var/lib/state-arn_aws_x.json"))
        );
        let cm = StateLocation::ConfigMap {
            namespace: None,
            name: "drift-check-state".into(),
        };
        let StateLocation::ConfigMap { name, .. } = location_of(&cm, "prod-eu") else {
            panic!()
        };
        assert_eq!(name, "drift-check-state-prod-eu");
        // Neither set: in a pod the default ConfigMap, per cluster too.
        let default = StateLocation::Default {
            file: PathBuf::from("/etc/drift-check/state.json"),
            config_map: "drift-check-state".into(),
        };
        assert_eq!(
            location_of(&default, "prod-eu"),
            StateLocation::Default {
                file: PathBuf::from("/etc/drift-check/state-prod-eu.json"),
                config_map: "drift-check-state-prod-eu".into()
            }
        );
        let StateLocation::ConfigMap { name, .. } = location_of(&cm, "Prod_EU") else {
            panic!()
        };
        assert!(name.starts_with("drift-check-state-prod-eu-"), "{name}");
        let StateLocation::ConfigMap { name: other, .. } = location_of(&cm, "prod_eu") else {
            panic!()
        };
        assert_ne!(
            name, other,
            "names that clean the same differ by their hash"
        );
    }
}
