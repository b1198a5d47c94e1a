//! The report as markdown, for a pull request comment or a wiki page.
//!
//! Every value goes through [`escape`] (or [`code`]): a value, a field
//! manager's name or an API server's message cannot end a table cell, start
//! a line, open a link or an image, or inject HTML.

use std::fmt::Write;

use super::Report;
use crate::diff::Drift;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let source = &report.run.source;
    let _ = writeln!(
        out,
        "# drift-check: cluster {}\n",
        code(&report.run.cluster)
    );
    let _ = writeln!(
        out,
        "**{} unexplained** of {} findings in {} Kustomizations ({} objects), {} errors. Source: {} at {}.\n",
        s.unexplained,
        s.findings,
        s.kustomizations,
        s.objects,
        s.errors,
        code(&source.url),
        code(source.revision.as_deref().unwrap_or("unknown revision"))
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
                .map(|k| format!(" {}", code(k)))
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
        let entry = id.as_deref().and_then(|id| report.kustomization(id));
        // A remote Kustomization (spec.kubeConfig): the spoke it applies to.
        let path = entry
            .map(|k| match &k.cluster {
                Some(cluster) => format!(" — {} on cluster {}", code(&k.path), code(cluster)),
                None => format!(" — {}", code(&k.path)),
            })
            .unwrap_or_default();
        let _ = writeln!(out, "## {}{path}\n", escape(title));
        let error = entry.and_then(|k| k.error.as_deref());
        match error {
            // Partly checked: what was compared is still listed.
            Some(error) if error.starts_with("could not check: ") => {
                let _ = writeln!(out, "{}\n", escape(&capitalized(error)));
            }
            Some(error) => {
                let _ = writeln!(out, "Not checked: {}\n", escape(error));
            }
            None if findings.is_empty() => {
                let unchecked = id.as_deref().and_then(|id| report.not_checked_warning(id));
                let state = if unchecked.is_some() {
                    "Not checked (see its warning above)."
                } else {
                    "In sync."
                };
                let _ = writeln!(out, "{state}\n");
            }
            None => {}
        }
        if findings.is_empty() {
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
            let mut changes: Vec<String> = f
                .changes
                .iter()
                .map(|c| escape(&super::text::change(c)))
                .collect();
            if let (Drift::Overlap, Some(message)) = (f.drift, &f.message) {
                // Who applies it: the finding itself.
                changes.push(escape(message));
            }
            let then = f.explanation.as_deref().unwrap_or(&f.remedy);
            let _ = writeln!(
                out,
                "| {status} | {} | {} | {} | {} | {} |",
                f.drift.as_str(),
                code(&f.object.to_string()),
                f.owner,
                changes.join("<br>"),
                escape(then)
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// `could not check: …` → `Could not check: …`.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Text for a paragraph or a table cell: control characters written as in
/// the text report (`\n`, `\u{1b}`, so a value cannot start a line), HTML
/// written as entities (`<script>` shows as text), and backslash-escaped the
/// characters that would end a cell, open a code span, a link or an image,
/// or start emphasis or a strikethrough (`\`, `|`, `` ` ``, `[`, `]`, `!`,
/// `*`, `_`, `~`).
pub(super) fn escape(text: &str) -> String {
    let text = super::text::escape(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '|' | '`' | '[' | ']' | '!' | '*' | '_' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span, when the text can be one as it is (no backtick, pipe,
/// backslash or control character: nothing is escaped inside a code span);
/// else the escaped text.
pub(super) fn code(text: &str) -> String {
    let plain = !text.contains(['`', '|', '\\'])
        && matches!(super::text::escape(text), std::borrow::Cow::Borrowed(_));
    if plain {
        format!("`{text}`")
    } else {
        escape(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_cells_lines_links_and_code_spans() {
        assert_eq!(
            escape("<script>x</script> | ![i](http://e/) `c` \\|\n| **forged** |"),
            "&lt;script&gt;x&lt;/script&gt; \\| \\!\\[i\\](http://e/) \\`c\\` \\\\\\|\\\\n\\| \\*\\*forged\\*\\* \\|"
        );
        assert_eq!(escape("a\x1b[31mred"), "a\\\\u{1b}\\[31mred");
        assert_eq!(escape("_a_ ~~b~~"), "\\_a\\_ \\~\\~b\\~\\~");
        assert_eq!(code("Deployment/web/api"), "`Deployment/web/api`");
        assert_eq!(code("x`y"), "x\\`y");
        assert_eq!(code("<b>"), "`<b>`", "HTML is text in a code span");
    }
}
