//! The report of a fleet run: one entry per cluster — its name, labels,
//! status and its own `drift-check/v1` report, unchanged — under a fleet
//! summary (clusters checked, could not check, with unexplained drift).
//!
//! JSON (`drift-check/fleet/v1`): `{schema, run, summary, clusters: [{name,
//! labels, status, error, report}]}`. Text and markdown: the summary line
//! and one line per cluster first, then each cluster's report as a
//! single-cluster run prints it. HTML: the summary table, then a section per
//! cluster holding its page. A run of one cluster prints the single-cluster
//! report instead (see `fleet::Fleet::is_many`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;

use super::{Format, Report, markdown, text};

/// The fleet report's schema id. Fields are added to it, never renamed.
pub const SCHEMA: &str = "drift-check/fleet/v1";

/// What a fleet run found, cluster by cluster.
#[derive(Clone, Debug, Serialize)]
pub struct FleetReport {
    pub schema: &'static str,
    pub run: FleetRun,
    pub summary: FleetSummary,
    /// In the fleet's order.
    pub clusters: Vec<ClusterEntry>,
}

/// When the fleet run happened.
#[derive(Clone, Debug, Serialize)]
pub struct FleetRun {
    pub started_at: String,
    pub finished_at: String,
}

/// Counts for a glance over the fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FleetSummary {
    pub clusters: usize,
    /// Checked without an error.
    pub checked: usize,
    /// Not checked at all, or with something that could not be checked.
    pub could_not_check: usize,
    pub with_unexplained_drift: usize,
    pub findings: usize,
    pub unexplained: usize,
}

/// Where one cluster stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterStatus {
    /// Not checked, or partly: its report's errors (or `error`) say what.
    CouldNotCheck,
    /// Unexplained drift.
    Drift,
    /// Checked, no unexplained drift.
    Clean,
}

/// One cluster of the fleet.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterEntry {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub status: ClusterStatus,
    /// Why it could not be checked: the errors of the whole cluster (not of
    /// one Kustomization), or why it was not checked at all.
    pub error: Option<String>,
    /// Its own report (`None`: not checked at all).
    pub report: Option<Report>,
    /// How long its check took (for the pushgateway's duration metric).
    #[serde(skip)]
    pub duration: Duration,
}

impl ClusterEntry {
    /// A cluster that was checked, with its report.
    pub fn checked(
        name: &str,
        labels: &BTreeMap<String, String>,
        report: Report,
        duration: Duration,
    ) -> Self {
        let whole: Vec<&str> = report
            .errors
            .iter()
            .filter(|e| e.kustomization.is_none())
            .map(|e| e.message.as_str())
            .collect();
        let status = if !report.errors.is_empty() {
            ClusterStatus::CouldNotCheck
        } else if report.summary.unexplained > 0 {
            ClusterStatus::Drift
        } else {
            ClusterStatus::Clean
        };
        Self {
            name: name.to_string(),
            labels: labels.clone(),
            status,
            error: (!whole.is_empty()).then(|| whole.join("; ")),
            report: Some(report),
            duration,
        }
    }

    /// A cluster that could not be checked at all, and why.
    pub fn not_checked(name: &str, labels: &BTreeMap<String, String>, reason: &str) -> Self {
        Self {
            name: name.to_string(),
            labels: labels.clone(),
            status: ClusterStatus::CouldNotCheck,
            error: Some(reason.to_string()),
            report: None,
            duration: Duration::ZERO,
        }
    }

    /// Unexplained findings of its report.
    pub fn unexplained(&self) -> usize {
        self.report.as_ref().map_or(0, |r| r.summary.unexplained)
    }

    /// `name (env=prod, region=eu)`.
    pub fn title(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} ({})", self.name, labels.join(", "))
    }

    /// One line: where the cluster stands.
    pub fn one_line(&self) -> String {
        let counts = |r: &Report| {
            format!(
                "{} unexplained of {} findings, {} errors",
                r.summary.unexplained, r.summary.findings, r.summary.errors
            )
        };
        match (&self.status, &self.report, &self.error) {
            (ClusterStatus::CouldNotCheck, _, Some(e)) => format!("could not check: {e}"),
            (_, Some(r), _) => counts(r),
            (_, None, _) => "could not check".into(),
        }
    }
}

impl FleetReport {
    /// The report of these clusters, summed up.
    pub fn new(started_at: String, clusters: Vec<ClusterEntry>) -> Self {
        let mut report = Self {
            schema: SCHEMA,
            run: FleetRun {
                started_at,
                finished_at: super::now(),
            },
            summary: FleetSummary::default(),
            clusters,
        };
        report.summary = report.summarize();
        report
    }

    fn summarize(&self) -> FleetSummary {
        let reports = || self.clusters.iter().filter_map(|c| c.report.as_ref());
        let could_not_check = self
            .clusters
            .iter()
            .filter(|c| c.status == ClusterStatus::CouldNotCheck)
            .count();
        FleetSummary {
            clusters: self.clusters.len(),
            checked: self.clusters.len() - could_not_check,
            could_not_check,
            with_unexplained_drift: self.clusters.iter().filter(|c| c.unexplained() > 0).count(),
            findings: reports().map(|r| r.summary.findings).sum(),
            unexplained: reports().map(|r| r.summary.unexplained).sum(),
        }
    }

    /// 2 when a cluster (or part of one) could not be checked, 1 for
    /// unexplained drift anywhere, else 0: as a single cluster's.
    pub fn exit_code(&self) -> u8 {
        if self.summary.could_not_check > 0 {
            2
        } else if self.summary.unexplained > 0 {
            1
        } else {
            0
        }
    }

    /// `fleet of 3 clusters: 2 checked, 1 could not check, 1 with unexplained drift`.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "fleet of {} clusters: {} checked, {} could not check, {} with unexplained drift ({} unexplained of {} findings)",
            s.clusters,
            s.checked,
            s.could_not_check,
            s.with_unexplained_drift,
            s.unexplained,
            s.findings
        )
    }

    /// The clusters, worst first: could not check, then by unexplained
    /// findings (most first), then by name.
    pub fn worst_first(&self) -> Vec<&ClusterEntry> {
        let mut clusters: Vec<&ClusterEntry> = self.clusters.iter().collect();
        clusters.sort_by(|a, b| {
            (a.status, std::cmp::Reverse(a.unexplained()), &a.name).cmp(&(
                b.status,
                std::cmp::Reverse(b.unexplained()),
                &b.name,
            ))
        });
        clusters
    }

    /// The report in the chosen format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut json = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                json.push('\n');
                json
            }
            Format::Text => self.text(),
            Format::Markdown => self.markdown(),
            Format::Html => self.html(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!("drift-check · {}\n", text::escape(&self.summary_line()));
        for c in &self.clusters {
            let _ = writeln!(
                out,
                "  {}: {}",
                text::escape(&c.title()),
                text::escape(&c.one_line())
            );
        }
        for c in &self.clusters {
            let _ = writeln!(out, "\n=== cluster {} ===", text::escape(&c.title()));
            match &c.report {
                Some(r) => out.push_str(&r.render(Format::Text)),
                None => {
                    let _ = writeln!(out, "{}", text::escape(&c.one_line()));
                }
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "# drift-check: {}\n\n| cluster | status |\n|---|---|\n",
            markdown::escape(&self.summary_line())
        );
        for c in &self.clusters {
            let _ = writeln!(
                out,
                "| {} | {} |",
                markdown::code(&c.title()),
                markdown::escape(&c.one_line())
            );
        }
        for c in &self.clusters {
            out.push('\n');
            match &c.report {
                Some(r) => out.push_str(&r.render(Format::Markdown)),
                None => {
                    let _ = writeln!(
                        out,
                        "# drift-check: cluster {}\n\n{}",
                        markdown::code(&c.title()),
                        markdown::escape(&c.one_line())
                    );
                }
            }
        }
        out
    }

    /// One page: the summary table, then a section per cluster holding its
    /// own page (in an `iframe`'s `srcdoc`, so each keeps its filters).
    fn html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>drift-check: fleet</title>\
             <style>body{{font-family:sans-serif;margin:1.5em}}td,th{{padding:.2em .8em;text-align:left}}\
             iframe{{width:100%;height:80vh;border:1px solid #ccc}}</style></head><body>\n<h1>drift-check: {}</h1>\n\
             <table><tr><th>cluster</th><th>status</th><th></th></tr>\n",
            attr(&self.summary_line())
        );
        for (i, c) in self.clusters.iter().enumerate() {
            let _ = writeln!(
                out,
                "<tr class=\"{status:?}\"><td><a href=\"#cluster-{i}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                attr(&c.title()),
                attr(&format!("{:?}", c.status).to_lowercase()),
                attr(&c.one_line()),
                status = c.status
            );
        }
        out.push_str("</table>\n");
        for (i, c) in self.clusters.iter().enumerate() {
            let _ = writeln!(
                out,
                "<section id=\"cluster-{i}\"><h2>{}</h2>",
                attr(&c.title())
            );
            match &c.report {
                Some(r) => {
                    let _ = writeln!(
                        out,
                        "<iframe title=\"{}\" srcdoc=\"{}\"></iframe>",
                        attr(&c.name),
                        attr(&r.render(Format::Html))
                    );
                }
                None => {
                    let _ = writeln!(out, "<p>{}</p>", attr(&c.one_line()));
                }
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body></html>\n");
        out
    }
}

/// Text escaped for HTML content and double-quoted attributes.
fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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
mod tests {
    use super::*;
    use crate::report::tests::report;

    fn fleet(clusters: Vec<ClusterEntry>) -> FleetReport {
        FleetReport::new("2026-11-24T02:00:00Z".into(), clusters)
    }

    fn entry(name: &str, errors: usize, unexplained: bool) -> ClusterEntry {
        let mut r = report(errors, unexplained);
        r.summarize();
        ClusterEntry::checked(name, &BTreeMap::new(), r, Duration::ZERO)
    }

    #[test]
    fn the_exit_code_is_the_worst_clusters_and_the_summary_counts_clusters() {
        let clean = fleet(vec![entry("a", 0, false), entry("b", 0, false)]);
        assert_eq!(clean.exit_code(), 0);
        let drift = fleet(vec![entry("a", 0, false), entry("b", 0, true)]);
        assert_eq!(drift.exit_code(), 1);
        assert_eq!(drift.summary.with_unexplained_drift, 1);
        let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let mixed = fleet(vec![
            entry("a", 0, true),
            ClusterEntry::not_checked("b", &labels, "a name given twice"),
            entry("c", 1, false),
        ]);
        assert_eq!(mixed.exit_code(), 2);
        assert_eq!(
            mixed.summary,
            FleetSummary {
                clusters: 3,
                checked: 1,
                could_not_check: 2,
                with_unexplained_drift: 1,
                findings: 1,
                unexplained: 1,
            }
        );
        let worst: Vec<&str> = mixed
            .worst_first()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(worst, ["b", "c", "a"]);
        assert_eq!(mixed.clusters[2].error.as_deref(), Some("x"));
        let text = mixed.render(Format::Text);
        assert!(
            text.starts_with(
                "drift-check · fleet of 3 clusters: 1 checked, 2 could not check, 1 with unexplained drift (1 unexplained of 1 findings)\n\
                 \x20 a: 1 unexplained of 1 findings, 0 errors\n\
                 \x20 b (env=prod): could not check: a name given twice\n\
                 \x20 c: could not check: x\n"
            ),
            "{text}"
        );
        let md = mixed.render(Format::Markdown);
        assert!(
            md.contains("| `b (env=prod)` | could not check: a name given twice |"),
            "{md}"
        );
    }

    #[test]
    fn the_page_has_a_section_per_cluster_with_its_own_page_escaped() {
        let mut e = entry("<b>", 0, true);
        e.labels.insert("region".into(), "eu\"".into());
        let page = fleet(vec![e, entry("b", 0, false)]).render(Format::Html);
        assert_eq!(page.matches("<section id=\"cluster-").count(), 2);
        assert_eq!(page.matches("<iframe ").count(), 2);
        assert!(
            page.contains("<h2>&lt;b&gt; (region=eu&quot;)</h2>"),
            "{page}"
        );
        assert!(!page.contains("<b> (region"));
        assert!(page.contains("srcdoc=\"&lt;!DOCTYPE html&gt;"), "{page}");
    }
}
