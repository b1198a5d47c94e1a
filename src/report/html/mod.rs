//! The report as one self-contained HTML page: what a platform lead puts on
//! the screen to show what has drifted, since when, and who did it.
//!
//! Input: a [`Report`] (the same one JSON, text and markdown print) and
//! [`Options`] (link templates, and when each open finding was first seen,
//! from the Matrix state when there is one). Output: one HTML file with its
//! style and script inline, allowed by hash in a strict Content-Security-Policy
//! `<meta>` (`default-src 'none'`: no request leaves the page), so it opens
//! from disk, from a Matrix attachment or from a web server alike.
//!
//! What it shows, top to bottom: the summary line (as the Matrix message's);
//! per cluster the Kustomizations (checked, failing, suspended, could not
//! check, with the reason, source and revision); an age chart of the open
//! findings and a bar of open drift per Kustomization (inline SVG); the
//! findings by severity, then owner, then identical change, each group with
//! its changed fields side by side (git, live; Secret values are masked in
//! the report already), then each object with who and when, how long it has
//! been open, the remedy with its command and the link to the
//! Kustomization's path at the applied commit. Filters (cluster, namespace,
//! owner, severity, kind) and a text search run in `filter.js`; without
//! scripts the page reads the same, unfiltered.
//!
//! Bounded: at most [`MAX_GROUPS_PER_OWNER`] groups per severity and owner,
//! [`MAX_ROWS_PER_GROUP`] objects per group (the oldest first) and
//! [`MAX_CHANGES_PER_GROUP`] fields per group are listed; the rest is
//! counted. The counts and charts cover every finding.
//!
//! Every text goes through minijinja's HTML autoescaping after
//! [`escape`](super::text::escape) (control and bidirectional characters
//! written as `\u{202e}`), and only `http(s)` URLs become links.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use sha2::{Digest, Sha256};

use self::charts::{Chart, age, age_chart, kustomization_chart};
use self::findings::section;
use super::links::LinkTemplates;
use super::severity::Severity;
use super::text::escape as plain;
use super::{KustomizationEntry, Report};
use crate::classify::Finding;
use crate::diff::{Change, Op};

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("filter.js");

/// Groups (identical changes) listed per severity and owner; the rest are counted.
pub const MAX_GROUPS_PER_OWNER: usize = 25;
/// Objects listed per group, the oldest first; the rest are counted.
pub const MAX_ROWS_PER_GROUP: usize = 10;
/// Changed fields listed per group.
pub const MAX_CHANGES_PER_GROUP: usize = 20;
/// Kustomizations drawn in the open-drift bar; the rest are summed.
pub const MAX_BARS: usize = 30;
/// Longest value (and field path) shown for one side of a change.
const MAX_VALUE_CHARS: usize = 200;
/// Longest label in a chart.
const MAX_LABEL_CHARS: usize = 34;

/// How to render the page besides the report.
pub struct Options<'a> {
    /// Where commits and files are on the git forge, as configured
    /// (`notify.matrix.links`); each Kustomization links into its own source.
    pub links: LinkTemplates,
    /// When an open finding was first seen (the Matrix state's `since`);
    /// `None` or no answer: the earliest time one of its changes was written.
    pub first_seen: Option<FirstSeen<'a>>,
}

/// When an open finding was first seen, if known.
pub type FirstSeen<'a> = &'a dyn Fn(&Finding) -> Option<String>;

/// A finding, and since when it is open (or was written, explained).
type Dated<'a> = (&'a Finding, Option<String>);

impl Default for Options<'_> {
    /// Links derived from each source's URL; no state.
    fn default() -> Self {
        Options {
            links: LinkTemplates::default(),
            first_seen: None,
        }
    }
}

/// The page.
pub fn render(report: &Report, options: &Options) -> String {
    let page = Page::new(report, options);
    let mut env = minijinja::Environment::new();
    // `.html`: minijinja escapes every interpolated value for HTML.
    env.add_template("page.html", TEMPLATE)
        .and_then(|()| env.get_template("page.html"))
        .and_then(|t| t.render(&page))
        .unwrap_or_else(|e| {
            format!(
                "<!DOCTYPE html><meta charset=\"utf-8\"><title>drift-check</title><p>The HTML report could not be rendered: {}</p>\n",
                html_escape(&e.to_string())
            )
        })
}

/// `sha256-<base64>` of an inline script or style, for the policy.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's Content-Security-Policy: nothing may load; only its own
/// script and style (by hash) run.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What the template is given.
#[derive(Serialize)]
struct Page {
    csp: String,
    style: &'static str,
    script: &'static str,
    cluster: String,
    marker: &'static str,
    headline: String,
    revision: String,
    revision_link: Option<String>,
    rest: String,
    checked_at: String,
    source: String,
    note: Option<String>,
    totals: Totals,
    clusters: Vec<ClusterView>,
    filters: Vec<Filter>,
    sections: Vec<Section>,
    age_chart: Chart,
    kustomization_chart: Chart,
    limits: Limits,
}

#[derive(Serialize)]
struct Totals {
    findings: usize,
    open: usize,
    explained: usize,
    listed: usize,
    kustomizations: usize,
    objects: usize,
    errors: usize,
}

#[derive(Serialize)]
struct Limits {
    groups: usize,
    rows: usize,
    changes: usize,
}

#[derive(Serialize)]
struct ClusterView {
    name: String,
    kustomizations: Vec<KustomizationRow>,
    /// Errors of no Kustomization in particular.
    errors: Vec<String>,
    warnings: Vec<Vec<Part>>,
}

#[derive(Serialize)]
struct KustomizationRow {
    id: String,
    namespace: String,
    /// The cluster it applies to: a spoke's name for a remote Kustomization
    /// (`spec.kubeConfig`), else the cluster checked.
    cluster: String,
    remote: bool,
    statuses: Vec<Status>,
    source: String,
    revision: String,
    revision_link: Option<String>,
    objects: usize,
    open: usize,
}

#[derive(Serialize)]
struct Status {
    /// `checked`, `failing`, `suspended`, `could not check`, `not checked`.
    label: &'static str,
    class: &'static str,
    since: Option<String>,
    reason: Vec<Part>,
}

/// A piece of prose or a command.
#[derive(Serialize, Clone)]
struct Part {
    text: String,
    code: bool,
}

#[derive(Serialize)]
struct Filter {
    name: &'static str,
    label: &'static str,
    values: Vec<String>,
}

#[derive(Serialize)]
struct Section {
    key: &'static str,
    marker: &'static str,
    heading: &'static str,
    count: usize,
    open: bool,
    owners: Vec<OwnerGroup>,
}

#[derive(Serialize)]
struct OwnerGroup {
    owner: &'static str,
    count: usize,
    groups: Vec<Group>,
    more_groups: usize,
    more_findings: usize,
}

#[derive(Serialize)]
struct Group {
    drift: &'static str,
    count: usize,
    explanation: Option<String>,
    message: Option<String>,
    changes: Vec<ChangeView>,
    more_changes: usize,
    rows: Vec<Row>,
    more_rows: usize,
    /// Where the objects not listed are: `12 in flux-system/apps`.
    more_where: Vec<String>,
}

#[derive(Serialize)]
struct ChangeView {
    path: String,
    what: &'static str,
    git: String,
    live: String,
}

#[derive(Serialize)]
struct Row {
    cluster: String,
    kustomization: String,
    namespace: String,
    kind: String,
    severity: &'static str,
    owner: &'static str,
    object: String,
    who: Vec<String>,
    since: Option<String>,
    age: String,
    link: Option<String>,
    remedy: Vec<Part>,
}

/// Where findings go: a severity, or explained.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Category {
    Open(Severity),
    Explained,
}

impl Category {
    fn key(self) -> &'static str {
        match self {
            Category::Open(s) => s.as_str(),
            Category::Explained => "explained",
        }
    }
}

/// The severity's colour class.
fn class(s: Severity) -> &'static str {
    match s {
        Severity::MissingOrConflict => "s-missing",
        Severity::Edited => "s-edited",
        Severity::Added => "s-added",
        Severity::Orphaned => "s-orphaned",
    }
}

impl Page {
    fn new(report: &Report, options: &Options) -> Self {
        let now =
            parse_time(&report.run.finished_at).or_else(|| parse_time(&report.run.started_at));
        let cluster = plain(&report.run.cluster).into_owned();
        let open: Vec<(&Finding, Severity, Option<String>)> = report
            .findings
            .iter()
            .filter(|f| !f.explained)
            .map(|f| {
                let seen = options.first_seen.and_then(|first| first(f));
                let since = [seen.as_deref(), first_change(f, true)]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(str::to_string);
                (f, Severity::of(f), since)
            })
            .collect();
        let explained: Vec<Dated> = report
            .findings
            .iter()
            .filter(|f| f.explained)
            .map(|f| (f, first_change(f, false).map(str::to_string)))
            .collect();

        let mut sections = Vec::new();
        for severity in Severity::ALL {
            let findings: Vec<Dated> = open
                .iter()
                .filter(|(_, s, _)| *s == severity)
                .map(|(f, _, since)| (*f, since.clone()))
                .collect();
            if !findings.is_empty() {
                sections.push(section(
                    report,
                    options,
                    now,
                    Category::Open(severity),
                    &findings,
                ));
            }
        }
        if !explained.is_empty() {
            sections.push(section(
                report,
                options,
                now,
                Category::Explained,
                &explained,
            ));
        }
        let listed = sections
            .iter()
            .flat_map(|s| &s.owners)
            .flat_map(|o| &o.groups)
            .map(|g| g.rows.len())
            .sum();

        let (revision, sha) = revision(report);
        let severities: Vec<Severity> = open.iter().map(|(_, s, _)| *s).collect();
        let headline = headline(&cluster, &severities);
        let marker = match severities.iter().min() {
            Some(s) => s.marker(),
            None if !report.errors.is_empty()
                || report
                    .kustomizations
                    .iter()
                    .any(|k| k.suspended || k.failing.is_some()) =>
            {
                "⚠️"
            }
            None => "✅",
        };
        let summary = &report.summary;
        Page {
            csp: content_security_policy(),
            style: STYLE,
            script: SCRIPT,
            marker,
            headline,
            revision_link: sha.and_then(|s| {
                safe_url(options.links.or_from_repo(&report.run.source.url).commit(s))
            }),
            revision,
            rest: rest(report),
            checked_at: plain(&report.run.finished_at).into_owned(),
            source: plain(&report.run.source.url).into_owned(),
            note: report
                .run
                .source
                .note
                .as_deref()
                .map(|n| plain(n).into_owned()),
            totals: Totals {
                findings: report.findings.len(),
                open: open.len(),
                explained: explained.len(),
                listed,
                kustomizations: summary.kustomizations,
                objects: summary.objects,
                errors: summary.errors,
            },
            clusters: vec![cluster_view(report, options, &open)],
            filters: filters(report, &report.findings),
            age_chart: age_chart(&open, now),
            kustomization_chart: kustomization_chart(report, &open),
            sections,
            cluster,
            limits: Limits {
                groups: MAX_GROUPS_PER_OWNER,
                rows: MAX_ROWS_PER_GROUP,
                changes: MAX_CHANGES_PER_GROUP,
            },
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// The earliest time one of its changes (its unexplained ones, when `open`) was written.
fn first_change(f: &Finding, open: bool) -> Option<&str> {
    f.changes
        .iter()
        .filter(|c| !open || c.explanation.is_none())
        .filter_map(|c| c.time.as_deref())
        .min()
}

/// `drift-check prod: 6 unexplained findings (2 missing or conflicting, …)`.
fn headline(cluster: &str, severities: &[Severity]) -> String {
    let total = severities.len();
    let findings = if total == 0 {
        "no unexplained drift".to_string()
    } else {
        let by = Severity::counted_in(severities);
        format!(
            "{total} unexplained {} ({})",
            plural(total, "finding", "findings"),
            by.join(", ")
        )
    };
    format!("drift-check {cluster}: {findings}")
}

/// ` · could not check 1 Kustomization · 1 Kustomization suspended`.
fn rest(report: &Report) -> String {
    let mut rest = Vec::new();
    let could_not: BTreeSet<Option<&str>> = report
        .errors
        .iter()
        .map(|e| e.kustomization.as_deref())
        .collect();
    if !could_not.is_empty() {
        let kustomizations = could_not.iter().filter(|k| k.is_some()).count();
        let mut what = Vec::new();
        if kustomizations > 0 {
            what.push(format!(
                "{kustomizations} {}",
                plural(kustomizations, "Kustomization", "Kustomizations")
            ));
        }
        let stages: BTreeSet<String> = report
            .errors
            .iter()
            .filter(|e| e.kustomization.is_none())
            .map(|e| format!("stage {}", e.stage))
            .collect();
        what.extend(stages);
        rest.push(format!("could not check {}", what.join(", ")));
    }
    let failing = report
        .kustomizations
        .iter()
        .filter(|k| k.failing.is_some())
        .count();
    let suspended = report.kustomizations.iter().filter(|k| k.suspended).count();
    for (n, what) in [(failing, "failing"), (suspended, "suspended")] {
        if n > 0 {
            rest.push(format!(
                "{n} {} {what}",
                plural(n, "Kustomization", "Kustomizations")
            ));
        }
    }
    rest.iter().map(|r| format!(" · {r}")).collect()
}

/// The revision the findings are against, for people (escaped), and its
/// commit.
fn revision(report: &Report) -> (String, Option<&str>) {
    let (text, commit) = super::links::revision(report);
    (plain(&text).into_owned(), commit)
}

/// A revision with its sha cut to 12 characters, escaped.
fn short_revision(r: &str) -> String {
    plain(&super::links::short_revision(r)).into_owned()
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A URL only when it is `http(s)` with nothing a URL does not hold
/// (whitespace, quotes, angle brackets, control or bidirectional
/// characters): anything else is not linked.
fn safe_url(url: Option<String>) -> Option<String> {
    url.filter(|u| {
        (u.starts_with("https://") || u.starts_with("http://"))
            && !u
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            && matches!(plain(u), std::borrow::Cow::Borrowed(_))
    })
}

/// The commit a Kustomization's objects came from: the applied one, else
/// the one rendered, else the run's.
fn cluster_view(
    report: &Report,
    options: &Options,
    open: &[(&Finding, Severity, Option<String>)],
) -> ClusterView {
    let mut open_by: HashMap<&str, usize> = HashMap::new();
    for (f, _, _) in open {
        if let Some(k) = f.kustomization.as_deref() {
            *open_by.entry(k).or_default() += 1;
        }
    }
    let kustomizations = report
        .kustomizations
        .iter()
        .map(|k| {
            let id = k.id();
            let links = super::links::for_kustomization(&options.links, report, k);
            let revision = k
                .applied_revision
                .as_deref()
                .or(k.revision.as_deref())
                .map(short_revision)
                .unwrap_or_else(|| "unknown".to_string());
            KustomizationRow {
                namespace: plain(&k.namespace).into_owned(),
                cluster: plain(k.cluster.as_deref().unwrap_or(&report.run.cluster)).into_owned(),
                remote: k.cluster.is_some(),
                statuses: statuses(k),
                source: plain(&format!(
                    "{} {}",
                    k.source
                        .as_ref()
                        .map_or(report.run.source.url.as_str(), |s| s.url.as_str()),
                    k.path
                ))
                .into_owned(),
                revision_link: safe_url(links.commit),
                revision,
                objects: k.objects,
                open: open_by.get(id.as_str()).copied().unwrap_or(0),
                id: plain(&id).into_owned(),
            }
        })
        .collect();
    ClusterView {
        name: plain(&report.run.cluster).into_owned(),
        kustomizations,
        errors: report
            .errors
            .iter()
            .filter(|e| {
                e.kustomization
                    .as_deref()
                    .is_none_or(|k| !report.kustomizations.iter().any(|e| e.id() == k))
            })
            .map(|e| {
                let scope = e
                    .kustomization
                    .as_deref()
                    .map(|k| format!(" {k}"))
                    .unwrap_or_default();
                plain(&format!("{}{scope}: {}", e.stage, e.message)).into_owned()
            })
            .collect(),
        warnings: report.warnings.iter().map(|w| parts(&w.message)).collect(),
    }
}

/// What became of a Kustomization: checked, or why not; failing and
/// suspended besides.
fn statuses(k: &KustomizationEntry) -> Vec<Status> {
    let mut out = Vec::new();
    if let Some(error) = &k.error {
        out.push(Status {
            label: "could not check",
            class: "st-error",
            since: None,
            reason: parts(error),
        });
    } else if let Some(reason) = &k.skipped {
        out.push(Status {
            label: "not checked",
            class: "st-skipped",
            since: None,
            reason: parts(reason),
        });
    } else {
        out.push(Status {
            label: "checked",
            class: "st-checked",
            since: None,
            reason: Vec::new(),
        });
    }
    if let Some(f) = &k.failing {
        let text = if f.message.is_empty() {
            f.reason.clone()
        } else {
            format!("{}: {}", f.reason, f.message)
        };
        out.push(Status {
            label: "failing",
            class: "st-failing",
            since: f.since.as_deref().map(|s| plain(s).into_owned()),
            reason: parts(&format!(
                "{text}; see `flux get kustomization {} -n {}`",
                k.name, k.namespace
            )),
        });
    }
    if k.suspended {
        out.push(Status {
            label: "suspended",
            class: "st-suspended",
            since: k.suspended_since.as_deref().map(|s| plain(s).into_owned()),
            reason: parts(&format!(
                "resume it with `flux resume kustomization {} -n {}`",
                k.name, k.namespace
            )),
        });
    }
    out
}

/// A remedy or a reason, commands as code: a `flux …` or `kubectl …` after
/// the last colon that starts one, and spans in backticks.
fn parts(text: &str) -> Vec<Part> {
    for starter in [": flux ", ": kubectl "] {
        if let Some(i) = text.rfind(starter)
            && !text[i..].contains('`')
        {
            let mut out = parts(&text[..i + 2]);
            out.push(Part {
                text: plain(&text[i + 2..]).into_owned(),
                code: true,
            });
            return out;
        }
    }
    text.split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| Part {
            text: plain(t).into_owned(),
            code: i % 2 == 1,
        })
        .collect()
}

const NO_NAMESPACE: &str = "(cluster-scoped)";
const NO_KUSTOMIZATION: &str = "(no Kustomization)";

fn filters(report: &Report, findings: &[Finding]) -> Vec<Filter> {
    // The cluster checked, and each spoke a remote Kustomization applies to.
    let clusters: BTreeSet<String> = std::iter::once(report.run.cluster.as_str())
        .chain(
            report
                .kustomizations
                .iter()
                .filter_map(|k| k.cluster.as_deref()),
        )
        .map(|c| plain(c).into_owned())
        .collect();
    let collect = |f: &dyn Fn(&Finding) -> String| -> Vec<String> {
        findings
            .iter()
            .map(f)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let severities: BTreeSet<Category> = findings
        .iter()
        .map(|f| {
            if f.explained {
                Category::Explained
            } else {
                Category::Open(Severity::of(f))
            }
        })
        .collect();
    let mut owners: Vec<_> = findings.iter().map(|f| f.owner).collect();
    owners.sort();
    owners.dedup();
    vec![
        Filter {
            name: "cluster",
            label: "Cluster",
            values: clusters.into_iter().collect(),
        },
        Filter {
            name: "namespace",
            label: "Namespace",
            values: collect(&|f: &Finding| namespace(f)),
        },
        Filter {
            name: "owner",
            label: "Owner",
            values: owners.iter().map(|o| o.as_str().to_string()).collect(),
        },
        Filter {
            name: "severity",
            label: "Severity",
            values: severities.iter().map(|c| c.key().to_string()).collect(),
        },
        Filter {
            name: "kind",
            label: "Kind",
            values: collect(&|f: &Finding| plain(&f.object.kind).into_owned()),
        },
    ]
}

fn namespace(f: &Finding) -> String {
    f.object
        .namespace
        .as_deref()
        .map_or_else(|| NO_NAMESPACE.to_string(), |n| plain(n).into_owned())
}

mod charts;
mod findings;
#[cfg(test)]
mod tests;
