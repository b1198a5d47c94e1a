//! The text of a message, plain and HTML, in the order an on-call reader
//! needs it: one summary line (counts by severity, cluster, the applied
//! revision); what could not be checked, failing and suspended
//! Kustomizations; the new and changed findings by severity (missing objects
//! and conflicts, edited declared fields, added fields, orphans), each with
//! its marker, tag, readable paths, who and remedy; the still-open findings
//! by name; the resolved ones.

use std::fmt::Write as _;

use serde_json::Value;

use super::super::state::OpenFinding;
use super::links::{self, LinkTemplates};
use super::{Fixed, Message, Open, Problem, ProblemKind, Severity, Tag, severity_of_posted};
use crate::classify::Finding;
use crate::diff::{Change, Op};
use crate::report::Report;
use crate::report::text::escape as plain;

mod items;

use self::items::{MAX_NAMED, command, finding, group, identical_groups, linked};
pub(super) use self::items::{manager, path, value};

/// Longest value printed for one side of a change.
const MAX_VALUE_CHARS: usize = 120;
/// Longest manager id printed whole.
const MAX_MANAGER_CHARS: usize = 32;
/// Still-open and resolved findings listed by name, at most.
const MAX_LISTED: usize = 10;
/// Room kept under the cap for the "and N more" line.
const RESERVED_BYTES: usize = 512;

/// What to render.
pub(super) struct Input<'a> {
    pub report: &'a Report,
    /// Sorted by severity.
    pub open: &'a [Open<'a>],
    /// Open findings of Kustomizations this run could not check.
    pub kept: &'a [&'a OpenFinding],
    /// Open findings of suspended Kustomizations.
    pub paused: &'a [&'a OpenFinding],
    pub resolved: &'a [&'a OpenFinding],
    pub problems: &'a [Problem],
    pub fixed: &'a [Fixed<'a>],
    pub digest: bool,
    /// `notify.matrix.links` as configured: each Kustomization links into
    /// its own source ([`links::for_kustomization`]).
    pub links: LinkTemplates,
    /// About the state of the last post, right under the summary.
    pub note: Option<&'a str>,
    /// The full report's file name.
    pub report_file: &'a str,
    /// No Kustomization was checked: the headline is why, then what was
    /// known before.
    pub checked_nothing: bool,
    /// When the last message was posted.
    pub last_posted: Option<&'a str>,
    /// The audit-log hint was said (once per message, on the first "who:").
    pub audit_hint_given: std::cell::Cell<bool>,
}

/// Both texts, grown piece by piece.
#[derive(Default)]
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

pub(super) fn render(input: &Input, max_bytes: usize) -> Message {
    let mut out = summary(input);
    if let Some(note) = input.note {
        let _ = write!(out.body, "\n⚠️ {}\n", plain(note));
        let _ = writeln!(out.html, "<p>⚠️ {}</p>", escape(note));
    }
    out.push(problems(input));
    let tail = tail(input);
    let budget = max_bytes.saturating_sub(RESERVED_BYTES + tail.len());

    let detailed: Vec<&Open> = input
        .open
        .iter()
        .filter(|o| input.digest || o.tag != Tag::Still)
        .collect();
    let mut shown = 0;
    let mut unnamed = 0;
    'outer: for severity in Severity::ALL {
        let items = identical_groups(detailed.iter().filter(|o| o.severity == severity));
        if items.is_empty() {
            continue;
        }
        let mut section = Text {
            body: format!("\n{} {}\n", severity.marker(), severity.heading()),
            html: format!(
                "<h4>{} {}</h4>\n<ul>\n",
                severity.marker(),
                severity.heading()
            ),
        };
        for (i, members) in items.iter().enumerate() {
            let item = match members.as_slice() {
                [one] => finding(input, one),
                many => group(input, many),
            };
            if out.len() + section.len() + item.len() + "</ul>\n".len() > budget {
                if i > 0 {
                    section.html.push_str("</ul>\n");
                    out.push(section);
                }
                break 'outer;
            }
            section.push(item);
            shown += members.len();
            if members.len() > 1 {
                unnamed += members.len().saturating_sub(MAX_NAMED);
            }
        }
        section.html.push_str("</ul>\n");
        out.push(section);
    }
    let omitted = detailed.len() - shown;
    if omitted > 0 {
        let line = format!(
            "… and {omitted} more new or changed {}: the full report is attached ({}).",
            plural(omitted, "finding", "findings"),
            input.report_file
        );
        let _ = write!(out.body, "\n{line}\n");
        let _ = writeln!(out.html, "<p>{}</p>", escape(&line));
    } else if unnamed > 0 {
        let line = format!(
            "The full report, every object by name, is attached ({}).",
            input.report_file
        );
        let _ = write!(out.body, "\n{line}\n");
        let _ = writeln!(out.html, "<p>{}</p>", escape(&line));
    }
    out.push(tail);
    Message {
        body: out.body.trim_end().to_string(),
        html: out.html.trim_end().to_string(),
        omitted: omitted + unnamed,
        transaction_id: String::new(),
    }
}

/// The first line: a marker for the worst, counts by severity, the cluster,
/// the revision (linked), what moved since the last post.
fn summary(input: &Input) -> Text {
    let open = input.open;
    let severities: Vec<Severity> = open
        .iter()
        .map(|o| o.severity)
        .chain(input.kept.iter().map(|o| severity_of_posted(o)))
        .collect();
    if input.checked_nothing {
        return checked_nothing(input, &severities);
    }
    let total = severities.len();
    let worst = severities.iter().min().copied();
    let could_not = count(input.problems, ProblemKind::CouldNotCheck);
    let marker = match worst {
        Some(s) => s.marker(),
        None if !input.problems.is_empty() => "⚠️",
        None => "✅",
    };
    let findings = if total == 0 {
        "no unexplained drift".to_string()
    } else {
        let by = Severity::counted_in(&severities);
        format!(
            "{total} unexplained {} ({})",
            plural(total, "finding", "findings"),
            by.join(", ")
        )
    };
    let head = format!(
        "{marker} drift-check {}: {findings}",
        input.report.run.cluster
    );
    let (revision, sha) = links::revision(input.report);

    let mut rest = Vec::new();
    if input.digest {
        rest.push("daily digest".to_string());
    } else {
        let tagged = |want: fn(&Tag) -> bool| open.iter().filter(|o| want(&o.tag)).count();
        for (n, what) in [
            (tagged(|t| *t == Tag::New), "new"),
            (tagged(|t| matches!(t, Tag::Changed(_))), "changed"),
            (
                tagged(|t| *t == Tag::Still) + input.kept.len(),
                "still open",
            ),
            (tagged(|t| matches!(t, Tag::Reminder(_))), "reminded"),
            (input.resolved.len(), "resolved"),
            (input.paused.len(), "paused while suspended"),
        ] {
            if n > 0 {
                rest.push(format!("{n} {what}"));
            }
        }
    }
    if could_not > 0 {
        let kustomizations = input
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::CouldNotCheck && p.kustomization.is_some())
            .count();
        let mut what = Vec::new();
        if kustomizations > 0 {
            what.push(format!(
                "{kustomizations} {}",
                plural(kustomizations, "Kustomization", "Kustomizations")
            ));
        }
        what.extend(
            input
                .problems
                .iter()
                .filter(|p| p.kind == ProblemKind::CouldNotCheck && p.kustomization.is_none())
                .map(|p| p.subject.clone()),
        );
        rest.push(format!("could not check {}", what.join(", ")));
    }
    for (kind, what) in [
        (ProblemKind::Failing, "failing"),
        (ProblemKind::Suspended, "suspended"),
    ] {
        let n = count(input.problems, kind);
        if n > 0 {
            rest.push(format!(
                "{n} {} {what}",
                plural(n, "Kustomization", "Kustomizations")
            ));
        }
    }
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(" · {}", rest.join(" · "))
    };
    let link = sha.and_then(|s| {
        input
            .links
            .or_from_repo(&input.report.run.source.url)
            .commit(s)
    });
    Text {
        body: format!("{}\n", plain(&format!("{head} at {revision}{rest}"))),
        html: format!(
            "<p><strong>{}</strong> at {}{}</p>\n",
            escape(&head),
            linked(
                link.as_deref(),
                &format!("<code>{}</code>", escape(&revision))
            ),
            escape(&rest)
        ),
    }
}

/// The headline of a run that checked nothing: the cause first (the run's
/// first error), then what the last post said was open, and since when
/// that is known — never old findings as if they were today's.
fn checked_nothing(input: &Input, severities: &[Severity]) -> Text {
    let cause = input
        .report
        .errors
        .first()
        .map(|e| format!("{}: {}", e.stage, e.message))
        .unwrap_or_default();
    let head = format!(
        "⚠️ drift-check could not check {}: {cause}",
        input.report.run.cluster
    );
    let by = Severity::counted_in(severities);
    let known = match input.last_posted {
        Some(at) if by.is_empty() => format!("last known (from {at}): nothing open"),
        Some(at) => format!(
            "last known (from {at}): {} open ({})",
            severities.len(),
            by.join(", ")
        ),
        None => "nothing known from an earlier run".to_string(),
    };
    Text {
        body: format!("{}\n{}\n", plain(&head), plain(&known)),
        html: format!(
            "<p><strong>{}</strong><br>\n{}</p>\n",
            escape(&head),
            escape(&known)
        ),
    }
}

fn count(problems: &[Problem], kind: ProblemKind) -> usize {
    problems.iter().filter(|p| p.kind == kind).count()
}

/// The problems section's title, naming only the kinds it lists (open or
/// fixed): `Could not check, failing, suspended`, `Suspended`, ...
fn problems_heading(input: &Input) -> String {
    let kinds: Vec<ProblemKind> = input
        .problems
        .iter()
        .map(|p| p.kind)
        .chain(input.fixed.iter().map(|f| f.kind))
        .collect();
    let named: Vec<&str> = [
        (ProblemKind::CouldNotCheck, "could not check"),
        (ProblemKind::Failing, "failing"),
        (ProblemKind::Suspended, "suspended"),
    ]
    .into_iter()
    .filter(|(kind, _)| kinds.contains(kind))
    .map(|(_, words)| words)
    .collect();
    let mut heading = named.join(", ");
    if let Some(first) = heading.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    heading
}

/// What could not be checked, failing and suspended Kustomizations: every
/// one open (tagged) and every one fixed since the last post.
fn problems(input: &Input) -> Text {
    let mut t = Text::default();
    if input.problems.is_empty() && input.fixed.is_empty() {
        return t;
    }
    let heading = problems_heading(input);
    let _ = write!(t.body, "\n⚠️ {heading}\n");
    let _ = write!(t.html, "<h4>⚠️ {heading}</h4>\n<ul>\n");
    for p in input.problems {
        let tag = match &p.tag {
            Tag::New => "new".to_string(),
            Tag::Changed(was) => format!("changed ({was})"),
            Tag::Still | Tag::Reminder(_) => "still".to_string(),
        };
        let (marker, what) = match p.kind {
            ProblemKind::CouldNotCheck => (
                "⚠️",
                format!("could not check {} since {}", p.subject, p.since),
            ),
            ProblemKind::Failing => ("❌", format!("{} is failing since {}", p.subject, p.since)),
            ProblemKind::Suspended => (
                "⏸️",
                format!("{} is suspended since {}", p.subject, p.since),
            ),
        };
        let _ = writeln!(
            t.body,
            "- {marker} {}: {}",
            plain(&format!("{tag} · {what}")),
            command(&p.detail).0
        );
        let _ = writeln!(
            t.html,
            "<li>{marker} <strong>{}</strong> · {}: {}</li>",
            escape(&tag),
            escape(&what),
            command(&p.detail).1
        );
    }
    for f in input.fixed {
        let (marker, tag, what) = match f.kind {
            ProblemKind::CouldNotCheck => (
                "✅",
                "resolved",
                format!(
                    "{} is checked again (could not be since {})",
                    f.subject, f.open.since
                ),
            ),
            ProblemKind::Failing => (
                "✅",
                "Ready again",
                format!("{} (failing since {})", f.subject, f.open.since),
            ),
            ProblemKind::Suspended => (
                "▶️",
                "resumed",
                format!("{} (suspended since {})", f.subject, f.open.since),
            ),
        };
        let _ = writeln!(t.body, "- {marker} {tag} · {}", plain(&what));
        let _ = writeln!(
            t.html,
            "<li>{marker} <strong>{tag}</strong> · {}</li>",
            escape(&what)
        );
    }
    t.html.push_str("</ul>\n");
    t
}

/// The still-open findings by name (capped), then the resolved ones.
fn tail(input: &Input) -> Text {
    let mut t = Text::default();
    // (severity, object, drift, Kustomization, since)
    let mut still: Vec<(Severity, String, &str, String, &str)> = input
        .kept
        .iter()
        .map(|o| {
            (
                severity_of_posted(o),
                o.object.clone(),
                o.drift.as_str(),
                o.kustomization
                    .clone()
                    .unwrap_or_else(|| "no Kustomization".into()),
                o.since.as_str(),
            )
        })
        .collect();
    if !input.digest {
        still.extend(input.open.iter().filter(|o| o.tag == Tag::Still).map(|o| {
            (
                o.severity,
                o.finding.object.to_string(),
                o.finding.drift.as_str(),
                kustomization(input.report, o.finding),
                o.since.as_str(),
            )
        }));
    }
    still.sort();
    if !still.is_empty() {
        let _ = write!(t.body, "\nStill open ({}):\n", still.len());
        let _ = write!(t.html, "<h4>Still open ({})</h4>\n<ul>\n", still.len());
        for (severity, object, drift, ks, since) in still.iter().take(MAX_LISTED) {
            let line = format!("{object} · {drift} · {ks} · since {since}");
            let _ = writeln!(t.body, "- {} {}", severity.marker(), plain(&line));
            let _ = writeln!(
                t.html,
                "<li>{} <code>{}</code> · {} · {} · since {}</li>",
                severity.marker(),
                escape(object),
                escape(drift),
                escape(ks),
                escape(since)
            );
        }
        more(&mut t, still.len());
    }
    if !input.paused.is_empty() {
        let _ = write!(
            t.body,
            "\n⏸️ Paused while suspended ({}):\n",
            input.paused.len()
        );
        let _ = write!(
            t.html,
            "<h4>⏸️ Paused while suspended ({})</h4>\n<ul>\n",
            input.paused.len()
        );
        let mut paused: Vec<&&OpenFinding> = input.paused.iter().collect();
        paused.sort_by_key(|o| (severity_of_posted(o), o.object.as_str()));
        for o in paused.iter().take(MAX_LISTED) {
            let ks = o.kustomization.as_deref().unwrap_or("no Kustomization");
            let tag = if o.paused { "" } else { "paused · " };
            let line = format!(
                "{tag}{} · {} · {ks} · open since {}",
                o.object, o.drift, o.since
            );
            let marker = severity_of_posted(o).marker();
            let _ = writeln!(t.body, "- {marker} {}", plain(&line));
            let _ = writeln!(t.html, "<li>{marker} {}</li>", escape(&line));
        }
        more(&mut t, input.paused.len());
    }
    if !input.resolved.is_empty() {
        let _ = write!(t.body, "\n✅ Resolved ({}):\n", input.resolved.len());
        let _ = write!(
            t.html,
            "<h4>✅ Resolved ({})</h4>\n<ul>\n",
            input.resolved.len()
        );
        for o in input.resolved.iter().take(MAX_LISTED) {
            let line = format!(
                "{} · {} · {} · open since {}",
                o.object,
                o.drift,
                o.kustomization.as_deref().unwrap_or("no Kustomization"),
                o.since
            );
            let _ = writeln!(t.body, "- {}", plain(&line));
            let _ = writeln!(
                t.html,
                "<li><code>{}</code> · {} · {} · open since {}</li>",
                escape(&o.object),
                escape(&o.drift),
                escape(o.kustomization.as_deref().unwrap_or("no Kustomization")),
                escape(&o.since)
            );
        }
        more(&mut t, input.resolved.len());
    }
    t
}

/// Closes a capped list: "… and N more".
fn more(t: &mut Text, total: usize) {
    if total > MAX_LISTED {
        let line = format!("… and {} more", total - MAX_LISTED);
        let _ = writeln!(t.body, "{line}");
        let _ = writeln!(t.html, "<li>{}</li>", escape(&line));
    }
    t.html.push_str("</ul>\n");
}

/// The finding's Kustomization, and the spoke it applies to when it is a
/// remote one (`spec.kubeConfig`): its objects are on that cluster.
fn kustomization(report: &Report, f: &Finding) -> String {
    let Some(id) = f.kustomization.as_deref() else {
        return "no Kustomization".into();
    };
    match report.kustomization(id).and_then(|k| k.cluster.as_deref()) {
        Some(cluster) => format!("{id} on cluster {cluster}"),
        None => id.to_string(),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Text for `formatted_body`: control characters written as in `body`, then
/// HTML's special characters as entities.
pub(super) fn escape(s: &str) -> String {
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
