//! Thread replies: each run's message is a new event, and what changed or
//! was resolved among the findings a message announced within the last
//! `threadWindow` is also said in that message's thread (`m.thread`), so a
//! person following one incident sees its whole life in one place.
//!
//! One reply per thread per run, listing every finding of that thread that
//! changed or was resolved (capped, like the message, by `maxMessageBytes`).
//! Findings of states written before threads have no announcing message,
//! and no thread.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::state::{OpenFinding, Thread};
use super::render::escape;
use super::{Open, Tag};
use crate::report::text::escape as plain;

/// Room kept under the cap for the "and N more" line.
const RESERVED_BYTES: usize = 512;

/// One reply in the thread of `root`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The event id of the message that announced the findings: the thread root.
    pub root: String,
    pub body: String,
    pub html: String,
}

pub(super) struct Input<'a> {
    pub cluster: &'a str,
    pub open: &'a [Open<'a>],
    pub resolved: &'a [&'a OpenFinding],
    pub now: &'a str,
    pub window: chrono::Duration,
    pub max_bytes: usize,
}

/// One line of a reply: plain and HTML.
struct Line {
    body: String,
    html: String,
}

/// Whether `thread` is a posted message within `window` of `now`.
fn within(thread: Option<&Thread>, now: &str, window: chrono::Duration) -> Option<String> {
    let t = thread.filter(|t| !t.event.is_empty())?;
    if window <= chrono::Duration::zero() {
        return None;
    }
    let at = chrono::DateTime::parse_from_rfc3339(&t.at).ok()?;
    let now = chrono::DateTime::parse_from_rfc3339(now).ok()?;
    (now - at <= window).then(|| t.event.clone())
}

/// The replies of a run: per thread root, its changed findings (in the
/// message's order, by severity) and then its resolved ones.
pub(super) fn replies(input: &Input) -> Vec<Reply> {
    let mut by_root: BTreeMap<String, (usize, usize, Vec<Line>)> = BTreeMap::new();
    for o in input.open {
        let Tag::Changed(what) = &o.tag else { continue };
        let Some(root) = within(o.thread.as_deref(), input.now, input.window) else {
            continue;
        };
        let f = o.finding;
        let ks = f.kustomization.as_deref().unwrap_or("no Kustomization");
        let head = format!("{} · {} · {ks}", f.drift.as_str(), f.object);
        let entry = by_root.entry(root).or_default();
        entry.0 += 1;
        entry.2.push(Line {
            body: format!(
                "- {} changed · {}: {}",
                o.severity.marker(),
                plain(&head),
                plain(what)
            ),
            html: format!(
                "<li>{} <strong>changed</strong> · {}: {}</li>",
                o.severity.marker(),
                escape(&head),
                escape(what)
            ),
        });
    }
    for r in input.resolved {
        let Some(root) = within(r.thread.as_deref(), input.now, input.window) else {
            continue;
        };
        let ks = r.kustomization.as_deref().unwrap_or("no Kustomization");
        let what = format!("{} · {} · {ks} · open since {}", r.drift, r.object, r.since);
        let entry = by_root.entry(root).or_default();
        entry.1 += 1;
        entry.2.push(Line {
            body: format!("- ✅ resolved · {}", plain(&what)),
            html: format!("<li>✅ <strong>resolved</strong> · {}</li>", escape(&what)),
        });
    }
    by_root
        .into_iter()
        .map(|(root, (changed, resolved, lines))| reply(input, root, changed, resolved, lines))
        .collect()
}

fn reply(input: &Input, root: String, changed: usize, resolved: usize, lines: Vec<Line>) -> Reply {
    let mut counts = Vec::new();
    if changed > 0 {
        counts.push(format!("{changed} changed"));
    }
    if resolved > 0 {
        counts.push(format!("{resolved} resolved"));
    }
    let head = format!(
        "drift-check {} at {}: {} since this message",
        input.cluster,
        input.now,
        counts.join(", ")
    );
    let mut body = format!("{}\n", plain(&head));
    let mut html = format!("<p><strong>{}</strong></p>\n<ul>\n", escape(&head));
    let budget = input.max_bytes.saturating_sub(RESERVED_BYTES);
    let total = lines.len();
    let mut shown = 0;
    for line in lines {
        if body.len() + html.len() + line.body.len() + line.html.len() > budget {
            break;
        }
        let _ = writeln!(body, "{}", line.body);
        let _ = writeln!(html, "{}", line.html);
        shown += 1;
    }
    if shown < total {
        let more = format!(
            "… and {} more: this run's message and its report have them all",
            total - shown
        );
        let _ = writeln!(body, "{more}");
        let _ = writeln!(html, "<li>{}</li>", escape(&more));
    }
    html.push_str("</ul>");
    Reply {
        root,
        body: body.trim_end().to_string(),
        html,
    }
}
