//! The report as markdown, for a pull request comment or a wiki page.

use std::fmt::Write;

use super::Report;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let source = &report.run.source;
    let _ = writeln!(out, "# drift-check: cluster `{}`\n", report.run.cluster);
    let _ = writeln!(
        out,
        "**{} unexplained** of {} findings in {} Kustomizations ({} objects), {} errors. Source: `{}` at `{}`.\n",
        s.unexplained,
        s.findings,
        s.kustomizations,
        s.objects,
        s.errors,
        source.url,
        source.revision.as_deref().unwrap_or("unknown revision")
    );
    for w in &report.warnings {
        let _ = writeln!(out, "> **Warning:** {}\n", escape(&w.message));
    }
    if !report.errors.is_empty() {
        let _ = writeln!(out, "## Errors\n");
        for e in &report.errors {
            let scope = e
                .kustomization
                .as_deref()
                .map(|k| format!(" `{k}`"))
                .unwrap_or_default();
            let _ = writeln!(out, "- **{}**{scope}: {}", e.stage, escape(&e.message));
        }
        let _ = writeln!(out);
    }
    let mut ids: Vec<Option<String>> = report.kustomizations.iter().map(|k| Some(k.id())).collect();
    for f in &report.findings {
        if !ids.contains(&f.kustomization) {
            ids.push(f.kustomization.clone());
        }
    }
    for id in ids {
        let mut findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.kustomization == id)
            .collect();
        let title = id.as_deref().unwrap_or("(no Kustomization)");
        let path = report
            .kustomizations
            .iter()
            .find(|k| Some(k.id()) == id)
            .map(|k| format!(" — `{}`", k.path))
            .unwrap_or_default();
        let _ = writeln!(out, "## {title}{path}\n");
        if findings.is_empty() {
            let _ = writeln!(out, "In sync.\n");
            continue;
        }
        findings.sort_by_key(|f| f.explained);
        let _ = writeln!(
            out,
            "| | drift | object | owner | changes | explanation / remedy |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for f in findings {
            let status = if f.explained {
                "explained"
            } else {
                "**unexplained**"
            };
            let changes: Vec<String> = f
                .changes
                .iter()
                .map(|c| escape(&super::text::change(c)))
                .collect();
            let then = f.explanation.as_deref().unwrap_or(&f.remedy);
            let _ = writeln!(
                out,
                "| {status} | {} | `{}` | {} | {} | {} |",
                f.drift.as_str(),
                f.object,
                f.owner,
                changes.join("<br>"),
                escape(then)
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// Escapes what would break a table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
