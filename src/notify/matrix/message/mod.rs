//! The Matrix message of a run: what is new, changed, still open or resolved
//! since the last post — unexplained findings, what could not be checked,
//! suspended and failing Kustomizations — and the text (plain `body` + HTML
//! `formatted_body`) that says so. Pure: the report and the last state in,
//! the message and the next state out.
//!
//! A finding is known by its identity (Kustomization, object, drift kind);
//! its content (the unexplained changes: paths, values — masked for Secrets
//! —, managers, times) is hashed, so the same finding with another value or
//! a new edit is posted again as `changed`, and an unchanged one never.
//!
//! - `render.rs`: the texts, ordered by severity;
//! - `threads.rs`: the replies in the threads of the messages that announced
//!   findings now changed or resolved;
//! - `remind.rs`: when a finding still open is due for a reminder;
//! - `crate::report::links`: commit and file links (shared with the HTML report).
//!
//! Every value is escaped: in `body` as in the text report (a newline or a
//! terminal escape in a manager's name or a value is written `\n`,
//! `\u{1b}`, so it cannot forge a line), in `formatted_body` also as HTML.

mod remind;
mod render;
mod threads;

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::report::links;
pub use crate::report::links::LinkTemplates;

use super::state::{OpenFinding, OpenProblem, SeenChange, State, Thread, VERSION};
use crate::classify::Finding;
use crate::diff::Change;
use crate::report::Report;
use crate::report::severity::Severity;
pub use threads::Reply;

/// How long after the last post a daily digest is due (a little less than a
/// day, so a nightly job's jitter does not skip a day).
const DIGEST_AFTER_HOURS: i64 = 23;

/// What to post, if anything, and the state once it is posted.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `None`: nothing changed since the last post.
    pub message: Option<Message>,
    /// The state to save (after the post, when there is one). The findings
    /// it announces as new name the message's event once it is posted
    /// ([`State::announced_in`]).
    pub next: State,
    /// Posted after the message, one per thread: what changed or was
    /// resolved among the findings that thread's root announced.
    pub replies: Vec<Reply>,
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

/// How the sink is configured, as far as the message is concerned.
#[derive(Clone, Debug)]
pub struct Options {
    pub daily_digest: bool,
    /// Cap of body + HTML, bytes.
    pub max_bytes: usize,
    /// Link templates as configured (the rest derived from the repo URL).
    pub links: LinkTemplates,
    /// Said right under the summary line: the state could not be read.
    pub note: Option<String>,
    /// The name of the full report's file, when a message is cut for size.
    pub report_file: String,
    /// Post a finding still open again this long after it was announced,
    /// once per period (`remindAfter`); `None`: never.
    pub remind_after: Option<chrono::Duration>,
    /// Changes and resolutions of findings announced within this long are
    /// also replies in the announcing message's thread (`threadWindow`);
    /// zero: no replies.
    pub thread_window: chrono::Duration,
}

/// The severity of a posted finding, from the state (by its drift kind
/// when the state does not say: a modified one counts as edited).
pub(super) fn severity_of_posted(o: &OpenFinding) -> Severity {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == o.severity)
        .unwrap_or(match o.drift.as_str() {
            "missing" | "conflict" | "overlap" => Severity::MissingOrConflict,
            "orphaned" => Severity::Orphaned,
            _ => Severity::Edited,
        })
}

/// Where a finding or problem stands against the last post.
#[derive(Clone, Debug, PartialEq)]
enum Tag {
    New,
    /// Open, with other content than posted: what changed.
    Changed(String),
    /// Open, as posted.
    Still,
    /// Open, as posted, and due for a reminder: "still open for 8 days".
    Reminder(String),
}

/// An open unexplained finding of this run.
struct Open<'a> {
    finding: &'a Finding,
    id: String,
    severity: Severity,
    tag: Tag,
    since: String,
    content: String,
    seen: Vec<SeenChange>,
    /// The message that announced it, from the state.
    thread: Option<std::sync::Arc<Thread>>,
    /// [`OpenFinding::reminded`] once this run is posted.
    reminded: u32,
}

/// What kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ProblemKind {
    CouldNotCheck,
    Failing,
    Suspended,
}

impl ProblemKind {
    fn key_prefix(self) -> &'static str {
        match self {
            ProblemKind::CouldNotCheck => "could-not-check",
            ProblemKind::Failing => "failing",
            ProblemKind::Suspended => "suspended",
        }
    }
}

/// Something that is not drift but must not go unseen.
struct Problem {
    kind: ProblemKind,
    key: String,
    /// `Kustomization ns/name` or `stage live`.
    subject: String,
    kustomization: Option<String>,
    detail: String,
    since: String,
    tag: Tag,
}

/// A posted problem that no longer is one.
struct Fixed<'a> {
    kind: ProblemKind,
    subject: String,
    open: &'a OpenProblem,
}

use super::state::hex;
pub use super::state::identity;

/// Findings beyond which the state keeps identities and content hashes only,
/// not the changes as posted (a changed one then says "its content changed").
const MAX_DETAILED_STATE: usize = 2_000;

fn unexplained(f: &Finding) -> impl Iterator<Item = &Change> {
    f.changes.iter().filter(|c| c.explanation.is_none())
}

/// A finding's content: its unexplained changes, whatever their order; 4
/// bytes of hash (a state of 100,000 findings stays small; a change is
/// missed with a chance of 1 in 4 billion).
fn content(f: &Finding) -> String {
    let mut parts: Vec<String> = unexplained(f)
        .map(|c| {
            serde_json::json!([c.path, c.op, c.desired, c.live, c.manager, c.time]).to_string()
        })
        .collect();
    parts.sort();
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..4])
}

/// Whether a finding's content is the one posted: earlier versions kept 16
/// bytes of the same hash, this one 4; a migrated one none (taken as posted).
fn same_content(posted: &str, now: &str) -> bool {
    posted.is_empty() || posted.starts_with(now)
}

/// When the drift happened: the earliest time one of its changes was written.
fn drift_time(f: &Finding) -> Option<&str> {
    unexplained(f).filter_map(|c| c.time.as_deref()).min()
}

/// What the message shows of each unexplained change, to tell later what changed.
fn seen(f: &Finding) -> Vec<SeenChange> {
    unexplained(f)
        .map(|c| SeenChange {
            path: render::path(c),
            live: render::value(c.live.as_ref()),
            manager: c.manager.clone(),
            time: c.time.clone(),
        })
        .collect()
}

/// What changed between the posted changes and these, in a few words
/// (in general when the state did not keep the posted changes).
fn what_changed(before: &[SeenChange], now: &[SeenChange]) -> String {
    if before.is_empty() {
        return "its content changed".to_string();
    }
    let mut parts = Vec::new();
    for c in now {
        match before.iter().find(|b| b.path == c.path) {
            None => parts.push(format!("{} is new", c.path)),
            Some(b) if b != c => {
                let who = match (&b.manager, &b.time) {
                    (Some(m), Some(t)) => format!(" by {} at {t}", render::manager(m)),
                    (Some(m), None) => format!(" by {}", render::manager(m)),
                    _ => String::new(),
                };
                parts.push(format!("{} was {}{who}", c.path, b.live));
            }
            Some(_) => {}
        }
    }
    for b in before {
        if !now.iter().any(|c| c.path == b.path) {
            parts.push(format!("{} matches git again", b.path));
        }
    }
    if parts.is_empty() {
        "its content changed".to_string()
    } else {
        parts.join("; ")
    }
}

/// Plans the post of a run. `now` is RFC 3339. A finding is resolved only
/// when this run checked its Kustomization without error: a run limited to
/// some Kustomizations, or one that failed for some, leaves the others open.
pub fn plan(report: &Report, previous: &State, now: &str, options: &Options) -> Plan {
    // Migrated only when of the first format: a state of 100,000 findings
    // is not copied for nothing.
    let migrated;
    let previous = if previous.open.is_empty() {
        previous
    } else {
        migrated = previous.clone().migrate(identity);
        &migrated
    };
    let current: Vec<&Finding> = report.findings.iter().filter(|f| !f.explained).collect();

    let mut open: Vec<Open> = Vec::new();
    let mut seen_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    for f in &current {
        let object = f.object.to_string();
        let id = identity(f.kustomization.as_deref(), &object, f.drift.as_str());
        if !seen_ids.insert(id.clone()) {
            continue;
        }
        let content = content(f);
        let seen = seen(f);
        let before = previous.findings.get(&id);
        let since = [drift_time(f), before.map(|b| b.since.as_str())]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now)
            .to_string();
        let mut reminded = before.map_or(0, |b| b.reminded);
        let tag = match before {
            None => Tag::New,
            // Migrated from the first format: its content was not kept.
            Some(b) if same_content(&b.content, &content) => {
                match remind::due(b, &since, now, options.remind_after) {
                    Some((period, words)) => {
                        reminded = period;
                        Tag::Reminder(words)
                    }
                    None => Tag::Still,
                }
            }
            Some(b) => Tag::Changed(what_changed(&b.changes, &seen)),
        };
        open.push(Open {
            finding: f,
            id,
            severity: Severity::of(f),
            tag,
            since,
            content,
            seen,
            thread: before.and_then(|b| b.thread.clone()),
            reminded,
        });
    }
    open.sort_by_cached_key(|o| (o.severity, o.finding.object.to_string()));

    let checked = checked_cleanly(report);
    let open_ids: BTreeSet<&str> = open.iter().map(|o| o.id.as_str()).collect();
    // A suspended Kustomization's findings are paused, not resolved: Flux
    // reverts nothing meanwhile, and they are there again on resume.
    let suspended: BTreeSet<String> = report
        .kustomizations
        .iter()
        .filter(|k| k.suspended)
        .map(|k| k.id())
        .collect();
    let (paused, gone): (Vec<_>, Vec<_>) = previous
        .findings
        .iter()
        .filter(|(id, _)| !open_ids.contains(id.as_str()))
        .partition(|(_, o)| {
            o.kustomization
                .as_ref()
                .is_some_and(|k| suspended.contains(k))
        });
    let (resolved, unseen): (Vec<_>, Vec<_>) =
        gone.into_iter().partition(|(_, o)| match &o.kustomization {
            Some(k) => checked.as_ref().is_some_and(|c| c.contains(k.as_str())),
            None => report.errors.is_empty(),
        });
    let resolved: Vec<&OpenFinding> = resolved.into_iter().map(|(_, o)| o).collect();

    let problems = problems(report, previous, now);
    let fixed = fixed(report, previous, &problems);

    let newly_paused = paused.iter().filter(|(_, o)| !o.paused).count();
    let changed = open.iter().any(|o| o.tag != Tag::Still)
        || !resolved.is_empty()
        || newly_paused > 0
        || problems.iter().any(|p| p.tag != Tag::Still)
        || !fixed.is_empty();
    let anything_open = !open.is_empty() || !problems.is_empty();
    let digest = !changed && options.daily_digest && anything_open && digest_due(previous, now);
    let post = changed || digest;

    let mut next = State {
        version: VERSION,
        posted_at: if post {
            Some(now.to_string())
        } else {
            previous.posted_at.clone()
        },
        ..State::default()
    };
    let detailed = open.len() <= MAX_DETAILED_STATE;
    // The message of this run, shared by what it announces.
    let announcing = std::sync::Arc::new(Thread {
        event: String::new(),
        at: now.to_string(),
    });
    for o in &open {
        next.findings.insert(
            o.id.clone(),
            OpenFinding {
                since: o.since.clone(),
                kustomization: o.finding.kustomization.clone(),
                object: o.finding.object.to_string(),
                drift: o.finding.drift.as_str().to_string(),
                severity: o.severity.as_str().to_string(),
                content: o.content.clone(),
                changes: if detailed { o.seen.clone() } else { Vec::new() },
                paused: false,
                // A new one is announced by this message: its event id is
                // filled in once it is posted.
                thread: match o.tag {
                    Tag::New => Some(announcing.clone()),
                    _ => o.thread.clone(),
                },
                reminded: o.reminded,
            },
        );
    }
    next.findings
        .extend(unseen.iter().map(|(id, o)| ((*id).clone(), (*o).clone())));
    // Open in a Kustomization this run could not check: still open as far as is known.
    let kept: Vec<&OpenFinding> = unseen.into_iter().map(|(_, o)| o).collect();
    next.findings.extend(paused.iter().map(|(id, o)| {
        let mut o = (*o).clone();
        o.paused = true;
        ((*id).clone(), o)
    }));
    let paused: Vec<&OpenFinding> = paused.into_iter().map(|(_, o)| o).collect();
    for p in &problems {
        next.problems.insert(
            p.key.clone(),
            OpenProblem {
                since: p.since.clone(),
                kustomization: p.kustomization.clone(),
                detail: p.detail.clone(),
            },
        );
    }
    // Problems of Kustomizations this run did not look at stay open.
    let fixed_keys: BTreeSet<String> = fixed.iter().map(|f| key(f.kind, &f.subject)).collect();
    for (k, p) in &previous.problems {
        if !next.problems.contains_key(k) && !fixed_keys.contains(k) {
            next.problems.insert(k.clone(), p.clone());
        }
    }

    if !post {
        return Plan {
            message: None,
            next,
            replies: Vec::new(),
        };
    }
    let replies = threads::replies(&threads::Input {
        cluster: &report.run.cluster,
        open: &open,
        resolved: &resolved,
        now,
        window: options.thread_window,
        max_bytes: options.max_bytes,
    });
    let mut message = render::render(
        &render::Input {
            report,
            open: &open,
            kept: &kept,
            paused: &paused,
            resolved: &resolved,
            problems: &problems,
            fixed: &fixed,
            digest,
            links: options.links.clone(),
            note: options.note.as_deref(),
            report_file: &options.report_file,
            checked_nothing: !report.errors.is_empty()
                && report
                    .kustomizations
                    .iter()
                    .all(|k| k.error.is_some() || k.skipped.is_some()),
            last_posted: previous.posted_at.as_deref(),
            audit_hint_given: std::cell::Cell::new(false),
        },
        options.max_bytes,
    );
    message.transaction_id = transaction_id(report, previous, &message);
    Plan {
        message: Some(message),
        next,
        replies,
    }
}

fn key(kind: ProblemKind, subject: &str) -> String {
    format!("{} {subject}", kind.key_prefix())
}

/// The problems of this run: each Kustomization (or, for errors of no
/// Kustomization, each stage) that could not be checked, with its first
/// error; each suspended and each failing Kustomization.
fn problems(report: &Report, previous: &State, now: &str) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let mut make = |kind: ProblemKind,
                    subject: String,
                    kustomization: Option<String>,
                    detail: String,
                    since: Option<&str>| {
        let key = key(kind, &subject);
        if out.iter().any(|p| p.key == key) {
            return;
        }
        let before = previous.problems.get(&key);
        let tag = match before {
            None => Tag::New,
            Some(b) if b.detail == detail => Tag::Still,
            Some(b) => Tag::Changed(format!("was: {}", b.detail)),
        };
        let since = since
            .or(before.map(|b| b.since.as_str()))
            .unwrap_or(now)
            .to_string();
        out.push(Problem {
            kind,
            key,
            subject,
            kustomization,
            detail,
            since,
            tag,
        });
    };
    // Errors in report order: the first of each Kustomization or stage.
    for e in &report.errors {
        let (subject, detail) = match &e.kustomization {
            Some(k) => (
                format!("Kustomization {k}"),
                format!("{}: {}", e.stage, e.message),
            ),
            None => (format!("stage {}", e.stage), e.message.clone()),
        };
        make(
            ProblemKind::CouldNotCheck,
            subject,
            e.kustomization.clone(),
            detail,
            None,
        );
    }
    for k in &report.kustomizations {
        if let Some(f) = &k.failing {
            let detail = if f.message.is_empty() {
                f.reason.clone()
            } else {
                format!("{}: {}", f.reason, f.message)
            };
            make(
                ProblemKind::Failing,
                format!("Kustomization {}", k.id()),
                Some(k.id()),
                detail,
                f.since.as_deref(),
            );
        }
        if k.suspended {
            make(
                ProblemKind::Suspended,
                format!("Kustomization {}", k.id()),
                Some(k.id()),
                format!(
                    "resume it with `flux resume kustomization {} -n {}`",
                    k.name, k.namespace
                ),
                k.suspended_since.as_deref(),
            );
        }
    }
    out.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
    out
}

/// The problems posted before that this run saw gone: a Kustomization
/// checked again (or a stage that passed), resumed, Ready again. A
/// Kustomization this run did not look at fixes nothing.
fn fixed<'a>(report: &Report, previous: &'a State, problems: &[Problem]) -> Vec<Fixed<'a>> {
    let checked = checked_cleanly(report);
    let mut out = Vec::new();
    for (key, open) in &previous.problems {
        if problems.iter().any(|p| &p.key == key) {
            continue;
        }
        let Some((prefix, subject)) = key.split_once(' ') else {
            continue;
        };
        let kind = match prefix {
            "could-not-check" => ProblemKind::CouldNotCheck,
            "failing" => ProblemKind::Failing,
            "suspended" => ProblemKind::Suspended,
            _ => continue,
        };
        let looked_at = match (&open.kustomization, kind) {
            (None, _) => true,
            (Some(k), ProblemKind::CouldNotCheck) => {
                checked.as_ref().is_some_and(|c| c.contains(k.as_str()))
            }
            (Some(k), _) => report.kustomizations.iter().any(|e| &e.id() == k),
        };
        if looked_at {
            out.push(Fixed {
                kind,
                subject: subject.to_string(),
                open,
            });
        }
    }
    out.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
    out
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
    // Streamed into the hash: the state of 100,000 findings is some 15 MB of JSON.
    serde_json::to_writer(&mut h, previous).expect("state serializes");
    h.update([0]);
    h.update(message.body.as_bytes());
    format!("drift-check-{}", hex(&h.finalize()[..16]))
}

/// The identities of the open findings in a state.
#[cfg(test)]
fn ids(state: &State) -> Vec<&str> {
    state.findings.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests;
