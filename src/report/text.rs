//! The report for people on a terminal: grouped by Kustomization, unexplained
//! findings first, each with its changes, who made them and when, and what to do.

use std::fmt::Write;

use super::{Report, short};
use crate::classify::Finding;
use crate::diff::{Change, Op};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let source = &report.run.source;
    let revision = source.revision.as_deref().unwrap_or("revision unknown");
    let _ = writeln!(
        out,
        "drift-check · cluster {} · {} @ {revision}",
        report.run.cluster, source.url
    );
    if let Some(note) = &source.note {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(
        out,
        "{} Kustomizations, {} objects: {} findings, {} unexplained, {} errors",
        s.kustomizations, s.objects, s.findings, s.unexplained, s.errors
    );
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {}", w.message);
    }
    for e in &report.errors {
        let scope = e
            .kustomization
            .as_deref()
            .map(|k| format!(" {k}"))
            .unwrap_or_default();
        let _ = writeln!(out, "error [{}{scope}]: {}", e.stage, e.message);
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
        match report.kustomizations.iter().find(|k| Some(k.id()) == id) {
            Some(k) => {
                let applied = k
                    .applied_revision
                    .as_deref()
                    .map(|r| format!(", applied {r}"))
                    .unwrap_or_default();
                let suspended = if k.suspended { ", SUSPENDED" } else { "" };
                let _ = writeln!(
                    out,
                    "{} ({}{applied}{suspended}): {} objects",
                    k.id(),
                    k.path,
                    k.objects
                );
                if let Some(error) = &k.error {
                    let _ = writeln!(out, "  not checked: {error}");
                    continue;
                }
                if let Some(reason) = &k.skipped {
                    let _ = writeln!(out, "  skipped: {reason}");
                    continue;
                }
            }
            None => {
                let _ = writeln!(out, "(no Kustomization)");
            }
        }
        if findings.is_empty() {
            let _ = writeln!(out, "  in sync");
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
    let _ = writeln!(
        out,
        "  {status} {:<9} {}  (owner: {})",
        f.drift.as_str(),
        f.object,
        f.owner
    );
    if let Some(message) = &f.message {
        let _ = writeln!(out, "      {message}");
    }
    for c in &f.changes {
        let _ = writeln!(out, "      {}", change(c));
    }
    match &f.explanation {
        Some(why) => {
            let _ = writeln!(out, "      explained: {why}");
        }
        None => {
            let _ = writeln!(out, "      remedy: {}", f.remedy);
        }
    }
}

/// `path: desired → live (manager, time)`, with `[explained: ...]` when it is.
pub(super) fn change(c: &Change) -> String {
    let value =
        |v: &Option<serde_json::Value>| v.as_ref().map_or_else(|| "(none)".to_string(), short);
    let what = match (c.op, c.path.as_str()) {
        (Op::Remove, "") => "the object is not in the cluster".to_string(),
        (Op::Add, "") => "the object is in the cluster but in no render".to_string(),
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
