//! The Matrix message of a run: which unexplained findings are new, still
//! open or resolved since the last post, and the text (plain `body` + HTML
//! `formatted_body`) that says so. Pure: the report and the last state in,
//! the message and the next state out.
//!
//! Every value is escaped: in `body` as in the text report (a newline or a
//! terminal escape in a manager's name or a value is written `\n`,
//! `\u{1b}`, so it cannot forge a line), in `formatted_body` also as HTML
//! ([`escape`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::state::{OpenFinding, State};
use crate::classify::Finding;
use crate::report::Report;
use crate::report::text::escape as plain;

/// How long after the last post a daily digest is due (a little less than a
/// day, so a nightly job's jitter does not skip a day).
const DIGEST_AFTER_HOURS: i64 = 23;
/// Longest value printed for one side of a change.
const MAX_VALUE_CHARS: usize = 120;
/// Room kept under the cap for the summary and the "and N more" line.
const RESERVED_BYTES: usize = 1_536;

/// What to post, if anything, and the state once it is posted.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `None`: nothing changed since the last post.
    pub message: Option<Message>,
    /// The state to save after a successful post.
    pub next: State,
}

/// One `m.notice`.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub body: String,
    pub html: String,
    /// Findings left out for size: the full report goes along as a file.
    pub omitted: usize,
    /// Same run content and same previous state ⇒ same id, so a retried run
    /// never posts twice.
    pub transaction_id: String,
}

/// Plans the post of a run. `now` is RFC 3339. A finding is resolved only
/// when this run checked its Kustomization without error: a run limited to
/// some Kustomizations, or one that failed for some, leaves the others open.
pub fn plan(
    report: &Report,
    previous: &State,
    now: &str,
    daily_digest: bool,
    max_bytes: usize,
) -> Plan {
    let current: Vec<&Finding> = report.findings.iter().filter(|f| !f.explained).collect();
    let current_ids: BTreeSet<&str> = current.iter().map(|f| f.fingerprint.as_str()).collect();
    let new: Vec<&Finding> = current
        .iter()
        .copied()
        .filter(|f| !previous.open.contains_key(&f.fingerprint))
        .collect();
    let still_open: Vec<(&Finding, &OpenFinding)> = current
        .iter()
        .filter_map(|f| previous.open.get(&f.fingerprint).map(|o| (*f, o)))
        .collect();
    let checked = checked_cleanly(report);
    let (resolved, unseen): (Vec<_>, Vec<_>) = previous
        .open
        .iter()
        .filter(|(id, _)| !current_ids.contains(id.as_str()))
        .partition(|(_, o)| match &o.kustomization {
            Some(k) => checked.as_ref().is_some_and(|c| c.contains(k.as_str())),
            None => report.errors.is_empty(),
        });
    let resolved: Vec<&OpenFinding> = resolved.into_iter().map(|(_, o)| o).collect();

    let mut next = State {
        posted_at: Some(now.to_string()),
        open: BTreeMap::new(),
    };
    for f in &current {
        let since = previous
            .open
            .get(&f.fingerprint)
            .map_or_else(|| now.to_string(), |o| o.since.clone());
        next.open.insert(
            f.fingerprint.clone(),
            OpenFinding {
                since,
                kustomization: f.kustomization.clone(),
                object: f.object.to_string(),
                drift: f.drift.as_str().to_string(),
            },
        );
    }

    next.open
        .extend(unseen.into_iter().map(|(id, o)| (id.clone(), o.clone())));
    let changed = !new.is_empty() || !resolved.is_empty();
    let digest = !changed && daily_digest && !current.is_empty() && digest_due(previous, now);
    if !changed && !digest {
        return Plan {
            message: None,
            next: previous.clone(),
        };
    }
    // A digest details every open finding; otherwise only the new ones.
    let detailed: Vec<&Finding> = if digest { current.clone() } else { new.clone() };
    let counted: Vec<&OpenFinding> = if digest {
        Vec::new()
    } else {
        still_open.iter().map(|(_, o)| *o).collect()
    };
    let mut message = render(
        report, &current, &detailed, &counted, &resolved, digest, max_bytes,
    );
    message.transaction_id = transaction_id(report, previous, &message);
    Plan {
        message: Some(message),
        next,
    }
}

/// The Kustomizations this run checked (not skipped) without error; `None` when an error
/// concerned no Kustomization in particular (the whole run is in doubt).
fn checked_cleanly(report: &Report) -> Option<BTreeSet<String>> {
    if report.errors.iter().any(|e| e.kustomization.is_none()) {
        return None;
    }
    let failed: BTreeSet<&str> = report
        .errors
        .iter()
        .filter_map(|e| e.kustomization.as_deref())
        .collect();
    Some(
        report
            .kustomizations
            .iter()
            .filter(|k| k.error.is_none() && k.skipped.is_none())
            .map(|k| k.id())
            .filter(|id| !failed.contains(id.as_str()))
            .collect(),
    )
}

fn digest_due(previous: &State, now: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (previous.posted_at.as_deref().and_then(parse), parse(now)) {
        (Some(last), Some(now)) => now - last >= chrono::Duration::hours(DIGEST_AFTER_HOURS),
        _ => true,
    }
}

fn transaction_id(report: &Report, previous: &State, message: &Message) -> String {
    let mut h = Sha256::new();
    h.update(report.run.cluster.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(previous).expect("state serializes"));
    h.update([0]);
    h.update(message.body.as_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("drift-check-{hex}")
}

/// Both texts, grown finding by finding until the size cap.
struct Text {
    body: String,
    html: String,
}

impl Text {
    fn len(&self) -> usize {
        self.body.len() + self.html.len()
    }
    fn push(&mut self, other: Text) {
        self.body.push_str(&other.body);
        self.html.push_str(&other.html);
    }
}

fn render(
    report: &Report,
    current: &[&Finding],
    detailed: &[&Finding],
    counted: &[&OpenFinding],
    resolved: &[&OpenFinding],
    digest: bool,
    max_bytes: usize,
) -> Message {
    let kustomizations: BTreeSet<&str> = current
        .iter()
        .map(|f| f.kustomization.as_deref().unwrap_or("(none)"))
        .collect();
    let revision = report
        .run
        .source
        .revision
        .as_deref()
        .map(|r| r.chars().take(12).collect::<String>())
        .unwrap_or_else(|| "(unknown revision)".into());
    let summary = format!(
        "drift-check {}: {} at {}: {} unexplained {} in {} {}",
        if digest { "daily digest" } else { "report" },
        report.run.cluster,
        revision,
        current.len(),
        plural(current.len(), "finding", "findings"),
        kustomizations.len(),
        plural(kustomizations.len(), "Kustomization", "Kustomizations"),
    );
    let mut counts = Vec::new();
    if !digest {
        counts.push(format!("{} new", detailed.len()));
        if let Some(oldest) = counted.iter().map(|o| o.since.as_str()).min() {
            counts.push(format!(
                "{} still open, oldest since {oldest}",
                counted.len()
            ));
        }
        if !resolved.is_empty() {
            counts.push(format!("{} resolved", resolved.len()));
        }
    }
    let summary = if counts.is_empty() {
        summary
    } else {
        format!("{summary} ({})", counts.join(", "))
    };
    let mut out = Text {
        body: format!("{}\n", plain(&summary)),
        html: format!("<p><strong>{}</strong></p>\n", escape(&summary)),
    };

    // Resolved first: short, and good news should not be cut off.
    if !resolved.is_empty() {
        let mut t = Text {
            body: "\nResolved:\n".into(),
            html: "<p>Resolved:</p>\n<ul>\n".into(),
        };
        for o in resolved {
            let line = format!(
                "{} ({}) in {}, open since {}",
                o.object,
                o.drift,
                o.kustomization.as_deref().unwrap_or("no Kustomization"),
                o.since
            );
            let _ = writeln!(t.body, "- resolved: {}", plain(&line));
            let _ = writeln!(t.html, "<li>resolved: {}</li>", escape(&line));
        }
        t.html.push_str("</ul>\n");
        out.push(t);
    }

    let mut by_ks: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in detailed {
        by_ks
            .entry(f.kustomization.as_deref().unwrap_or("(no Kustomization)"))
            .or_default()
            .push(f);
    }
    let budget = max_bytes.saturating_sub(RESERVED_BYTES);
    let mut shown = 0;
    'outer: for (ks, findings) in &by_ks {
        let heading = Text {
            body: format!("\nKustomization {}:\n", plain(ks)),
            html: format!("<h4>Kustomization {}</h4>\n<ul>\n", escape(ks)),
        };
        let mut section = heading;
        for (in_section, f) in findings.iter().enumerate() {
            let item = finding(f);
            if out.len() + section.len() + item.len() + "</ul>\n".len() > budget {
                if in_section > 0 {
                    section.html.push_str("</ul>\n");
                    out.push(section);
                }
                break 'outer;
            }
            section.push(item);
            shown += 1;
        }
        section.html.push_str("</ul>\n");
        out.push(section);
    }
    let omitted = detailed.len() - shown;
    if omitted > 0 {
        let line = format!(
            "… and {omitted} more {}: the full report is attached (drift-check-report.json).",
            plural(omitted, "finding", "findings")
        );
        let _ = write!(out.body, "\n{line}\n");
        let _ = writeln!(out.html, "<p>{}</p>", escape(&line));
    }
    if !counted.is_empty() {
        let line = format!(
            "{} still open {}: see the report or the previous messages.",
            counted.len(),
            plural(counted.len(), "finding", "findings")
        );
        let _ = write!(out.body, "\n{line}\n");
        let _ = writeln!(out.html, "<p>{}</p>", escape(&line));
    }
    Message {
        body: out.body.trim_end().to_string(),
        html: out.html.trim_end().to_string(),
        omitted,
        transaction_id: String::new(),
    }
}

/// One finding: object, owner, drift, its unexplained changes, the remedy.
fn finding(f: &Finding) -> Text {
    let head = format!(
        "{} — {}, owner {}",
        f.object,
        f.drift.as_str(),
        f.owner.as_str()
    );
    let mut body = format!("- {}\n", plain(&head));
    let mut html = format!(
        "<li><code>{}</code> — {}, owner {}",
        escape(&f.object.to_string()),
        f.drift.as_str(),
        f.owner.as_str()
    );
    if let Some(message) = &f.message {
        let _ = writeln!(body, "  {}", plain(message));
        let _ = write!(html, "<br>{}", escape(message));
    }
    let changes: Vec<_> = f
        .changes
        .iter()
        .filter(|c| c.explanation.is_none())
        .collect();
    if !changes.is_empty() {
        html.push_str("\n<ul>\n");
    }
    for c in changes {
        let who = match (&c.manager, &c.time) {
            (Some(m), Some(t)) => format!(" (by {m} at {t})"),
            (Some(m), None) => format!(" (by {m})"),
            (None, Some(t)) => format!(" (at {t})"),
            (None, None) => String::new(),
        };
        let what = if c.path.is_empty() {
            match f.drift.as_str() {
                "missing" => "the whole object is missing from the cluster".to_string(),
                "orphaned" => "the whole object is in the cluster only".to_string(),
                _ => "the whole object".to_string(),
            }
        } else if c.desired.is_none() && c.op == crate::diff::Op::Replace {
            // A Helm object's field a person set: what the chart says is not known.
            format!("{}: set to {}", c.path, value(c.live.as_ref()))
        } else {
            format!(
                "{}: {} → {}",
                c.path,
                value(c.desired.as_ref()),
                value(c.live.as_ref())
            )
        };
        let _ = writeln!(body, "  {}{}", plain(&what), plain(&who));
        let _ = writeln!(html, "<li>{}{}</li>", escape(&what), escape(&who));
    }
    if html.ends_with("</li>\n") {
        html.push_str("</ul>\n");
    }
    let _ = writeln!(body, "  remedy: {}", plain(&f.remedy));
    let _ = writeln!(html, "remedy: {}</li>", escape(&f.remedy));
    Text { body, html }
}

fn value(v: Option<&Value>) -> String {
    let s = match v {
        None | Some(Value::Null) => return "(absent)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if s.chars().count() > MAX_VALUE_CHARS {
        let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Text for `formatted_body`: control characters written as in `body`, then
/// HTML's special characters as entities.
fn escape(s: &str) -> String {
    let s = plain(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
