//! The report for people on a terminal: grouped by Kustomization, unexplained
//! findings first, each with its changes, who made them and when, and what to do.
//!
//! Every line goes through [`escape`]: a value, a field manager's name or an
//! API server's message holding a newline or a terminal escape sequence
//! cannot start a line of its own or recolour the terminal.

use std::borrow::Cow;
use std::fmt::Write;

use super::{Report, short};
use crate::classify::Finding;
use crate::diff::{Change, Op};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let source = &report.run.source;
    let revision = source.revision.as_deref().unwrap_or("revision unknown");
    line(
        &mut out,
        format_args!(
            "drift-check · cluster {} · {} @ {revision}",
            report.run.cluster, source.url
        ),
    );
    if let Some(note) = &source.note {
        line(&mut out, format_args!("note: {note}"));
    }
    line(
        &mut out,
        format_args!(
            "{} Kustomizations, {} objects: {} findings, {} unexplained, {} errors",
            s.kustomizations, s.objects, s.findings, s.unexplained, s.errors
        ),
    );
    for w in &report.warnings {
        line(&mut out, format_args!("warning: {}", w.message));
    }
    for e in &report.errors {
        let scope = e
            .kustomization
            .as_deref()
            .map(|k| format!(" {k}"))
            .unwrap_or_default();
        line(
            &mut out,
            format_args!("error [{}{scope}]: {}", e.stage, e.message),
        );
    }

    let mut groups: Vec<(Option<String>, Vec<&Finding>)> = Vec::new();
    for k in &report.kustomizations {
        groups.push((Some(k.id()), Vec::new()));
    }
    for f in &report.findings {
        match groups.iter_mut().find(|(id, _)| *id == f.kustomization) {
            Some((_, list)) => list.push(f),
            None => groups.push((f.kustomization.clone(), vec![f])),
        }
    }
    for (id, mut findings) in groups {
        let _ = writeln!(out);
        match id.as_deref().and_then(|id| report.kustomization(id)) {
            Some(k) => {
                let applied = k
                    .applied_revision
                    .as_deref()
                    .map(|r| format!(", applied {r}"))
                    .unwrap_or_default();
                let suspended = if k.suspended { ", SUSPENDED" } else { "" };
                // A remote Kustomization (spec.kubeConfig): the spoke it is checked on.
                let on = k
                    .cluster
                    .as_deref()
                    .map(|c| format!(", on cluster {c}"))
                    .unwrap_or_default();
                line(
                    &mut out,
                    format_args!(
                        "{} ({}{applied}{suspended}{on}): {} objects",
                        k.id(),
                        k.path,
                        k.objects
                    ),
                );
                if let Some(error) = &k.error {
                    if k.objects > 0 && error.starts_with("could not check: ") {
                        // Partly checked: what was compared is still listed.
                        line(&mut out, format_args!("  {error}"));
                        if findings.is_empty() {
                            continue;
                        }
                    } else {
                        line(&mut out, format_args!("  not checked: {error}"));
                        continue;
                    }
                }
                if let Some(reason) = &k.skipped {
                    line(&mut out, format_args!("  skipped: {reason}"));
                    continue;
                }
            }
            None => {
                line(&mut out, format_args!("(no Kustomization)"));
            }
        }
        if findings.is_empty() {
            match id.as_deref().and_then(|id| report.not_checked_warning(id)) {
                Some(_) => line(
                    &mut out,
                    format_args!("  not checked (see its warning above)"),
                ),
                None => line(&mut out, format_args!("  in sync")),
            }
            continue;
        }
        findings.sort_by_key(|f| f.explained);
        for f in findings {
            finding(&mut out, f);
        }
    }
    out
}

fn finding(out: &mut String, f: &Finding) {
    let status = if f.explained {
        "explained  "
    } else {
        "UNEXPLAINED"
    };
    line(
        out,
        format_args!(
            "  {status} {:<9} {}  (owner: {})",
            f.drift.as_str(),
            f.object,
            f.owner
        ),
    );
    if let Some(message) = &f.message {
        line(out, format_args!("      {message}"));
    }
    for c in &f.changes {
        line(out, format_args!("      {}", change(c)));
    }
    match &f.explanation {
        Some(why) => {
            line(out, format_args!("      explained: {why}"));
        }
        None => {
            line(out, format_args!("      remedy: {}", f.remedy));
        }
    }
}

/// Appends one line, escaped.
fn line(out: &mut String, text: std::fmt::Arguments<'_>) {
    out.push_str(&escape(&text.to_string()));
    out.push('\n');
}

/// Text that cannot break a line or move a terminal: control characters
/// (newlines, `ESC`, ...) and the invisible characters that reorder text
/// (bidirectional overrides, zero-width marks) written as Rust escapes:
/// `\n`, `\u{1b}`, `\u{202e}`. Everything else, Unicode included, as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `path: desired → live (manager, time)`, with `[explained: ...]` when it is.
pub(super) fn change(c: &Change) -> String {
    let value =
        |v: &Option<serde_json::Value>| v.as_ref().map_or_else(|| "(none)".to_string(), short);
    let what = match (c.op, c.path.as_str()) {
        (Op::Remove, "") => "the object is not in the cluster".to_string(),
        (Op::Add, "") => "the object is in the cluster but in no render".to_string(),
        // A Helm object's field a person set, what the chart says unknown.
        (Op::Replace, path) if c.desired.is_none() => format!("{path}: set to {}", value(&c.live)),
        (Op::Replace, path) => format!("{path}: {} → {}", value(&c.desired), value(&c.live)),
        (Op::Add, path) => format!("{path}: added {}", value(&c.live)),
        (Op::Remove, path) => format!("{path}: removed (git: {})", value(&c.desired)),
    };
    let who = match (&c.manager, &c.time) {
        (Some(m), Some(t)) => format!("  by {m} at {t}"),
        (Some(m), None) => format!("  by {m}"),
        _ => String::new(),
    };
    let why = c
        .explanation
        .as_deref()
        .map(|e| format!("  [explained: {e}]"))
        .unwrap_or_default();
    format!("{what}{who}{why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line_or_recolour_a_terminal() {
        assert_eq!(
            escape("kubectl\n  UNEXPLAINED modified  Fake/x\x1b[31m\u{202e}\tend\r"),
            "kubectl\\n  UNEXPLAINED modified  Fake/x\\u{1b}[31m\\u{202e}\\tend\\r"
        );
        assert!(matches!(escape("plain · text → ok"), Cow::Borrowed(_)));
    }
}
