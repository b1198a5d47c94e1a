//! The items of the message: one finding (tag, drift, object, its changes,
//! who, the remedy), or identical findings as one group; a change, a
//! manager, a path and a value as people read them.

use super::*;

/// One new or changed finding: tag, drift, object, Kustomization (linked to
/// its path in git), owner; its unexplained changes; who; the remedy.
pub(super) fn finding(input: &Input, o: &Open) -> Text {
    let f = o.finding;
    let tag = match &o.tag {
        Tag::New => "new".to_string(),
        Tag::Changed(what) => format!("changed: {what}"),
        Tag::Still => format!("still open since {}", o.since),
        Tag::Reminder(open_for) => format!("{open_for}, since {}", o.since),
    };
    let ks = kustomization(input.report, f);
    let file = file_link(input, f);
    let mut body = format!(
        "- {} {}\n",
        o.severity.marker(),
        plain(&format!(
            "{tag} · {} · {} · {ks} · owner {}",
            f.drift.as_str(),
            f.object,
            f.owner.as_str()
        ))
    );
    let mut html = format!(
        "<li>{} <strong>{}</strong> · {} · <code>{}</code> · {} · owner {}",
        o.severity.marker(),
        escape(&tag),
        f.drift.as_str(),
        escape(&f.object.to_string()),
        linked(file.as_deref(), &escape(&ks)),
        f.owner.as_str()
    );
    let changes = message_and_changes(f, &mut body, &mut html);
    if let Some(who) = who(f, &changes) {
        who_line(input, &who, &mut body, &mut html);
    }
    let (b, h) = command(&f.remedy);
    let _ = writeln!(body, "  remedy: {b}");
    let _ = write!(html, "remedy: {h}");
    source_line(input, f, file.as_deref(), &mut body, &mut html);
    html.push_str("</li>\n");
    Text { body, html }
}

/// Objects named in a group of identical findings.
pub(super) const MAX_NAMED: usize = 5;

/// The findings, in order, grouped where they are identical but for the
/// object's name: same tag, drift, kind, namespace, Kustomization, owner,
/// words, remedy and unexplained changes (values and managers; not times).
/// 500 Deployments labelled by the same `kubectl label` are one item.
pub(super) fn identical_groups<'a, 'b>(
    items: impl Iterator<Item = &'b &'b Open<'a>>,
) -> Vec<Vec<&'b Open<'a>>>
where
    'a: 'b,
{
    let mut groups: Vec<Vec<&Open>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for o in items {
        let f = o.finding;
        let changes: Vec<Value> = f
            .changes
            .iter()
            .filter(|c| c.explanation.is_none())
            .map(|c| serde_json::json!([c.path, c.op, c.desired, c.live, c.manager]))
            .collect();
        let key = serde_json::json!([
            format!("{:?}", o.tag),
            f.drift.as_str(),
            f.object.api_version,
            f.object.kind,
            f.object.namespace,
            f.kustomization,
            f.owner.as_str(),
            f.message,
            f.remedy,
            changes,
        ])
        .to_string();
        match index.get(&key) {
            Some(&i) => groups[i].push(o),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![o]);
            }
        }
    }
    groups
}

/// Findings identical but for their objects' names: one item naming the
/// first few, then what they share, said once.
pub(super) fn group(input: &Input, members: &[&Open]) -> Text {
    let (o, f) = (members[0], members[0].finding);
    let tag = match &o.tag {
        Tag::New => "new".to_string(),
        Tag::Changed(_) => "changed".to_string(),
        Tag::Still => format!("still open since {}", o.since),
        Tag::Reminder(open_for) => format!("{open_for}, since {}", o.since),
    };
    let ks = kustomization(input.report, f);
    let file = file_link(input, f);
    let place = f
        .object
        .namespace
        .as_deref()
        .map(|ns| format!(" in {ns}"))
        .unwrap_or_default();
    let names: Vec<&str> = members
        .iter()
        .take(MAX_NAMED)
        .map(|m| m.finding.object.name.as_str())
        .collect();
    let rest = members.len().saturating_sub(MAX_NAMED);
    let more = if rest > 0 {
        format!(", … and {rest} more")
    } else {
        String::new()
    };
    let what = format!(
        "{} {} objects{place}: {}{more}",
        members.len(),
        f.object.kind,
        names.join(", ")
    );
    let mut body = format!(
        "- {} {}\n",
        o.severity.marker(),
        plain(&format!(
            "{tag} · {} · {what} · {ks} · owner {}",
            f.drift.as_str(),
            f.owner.as_str()
        ))
    );
    let mut html = format!(
        "<li>{} <strong>{}</strong> · {} · {} · {} · owner {}",
        o.severity.marker(),
        escape(&tag),
        f.drift.as_str(),
        escape(&what),
        linked(file.as_deref(), &escape(&ks)),
        f.owner.as_str()
    );
    message_and_changes(f, &mut body, &mut html);
    let mut managers: Vec<String> = members
        .iter()
        .flat_map(|m| {
            m.finding
                .changes
                .iter()
                .filter_map(|c| c.manager.as_deref())
        })
        .map(manager)
        .collect();
    managers.sort();
    managers.dedup();
    let who = if f.drift.as_str() == "missing" {
        Some(Who::Gone(
            "the objects are gone, and their managers with them".to_string(),
        ))
    } else if managers.is_empty() {
        None
    } else {
        Some(Who::Managers(format!(
            "{} (the times are in the report)",
            managers.join(", ")
        )))
    };
    if let Some(who) = who {
        who_line(input, &who, &mut body, &mut html);
    }
    let (b, h) = command(&f.remedy);
    let _ = writeln!(body, "  remedy: {b}");
    let _ = write!(html, "remedy: {h}");
    source_line(input, f, file.as_deref(), &mut body, &mut html);
    html.push_str("</li>\n");
    Text { body, html }
}

/// The finding's Kustomization path in its source, at the commit it applied.
fn file_link(input: &Input, f: &Finding) -> Option<String> {
    let k = input.report.kustomization_of(f)?;
    links::for_kustomization(&input.links, input.report, k).file
}

/// Where the finding's Kustomization was checked from: the git link, or
/// for an artifact source (no commit to link to) its kind, name and the
/// digest checked.
fn source_line(
    input: &Input,
    f: &Finding,
    file: Option<&str>,
    body: &mut String,
    html: &mut String,
) {
    if let Some(url) = file {
        let _ = writeln!(body, "  git: {}", plain(url));
        return;
    }
    let Some(k) = input.report.kustomization_of(f) else {
        return;
    };
    let Some(source) = k.source.as_ref().filter(|s| s.kind != "GitRepository") else {
        return;
    };
    let revision = k
        .revision
        .as_deref()
        .map(|r| format!(" at {}", short_digest(r)))
        .unwrap_or_default();
    let line = format!(
        "{} {}/{}{revision}",
        source.kind, source.namespace, source.name
    );
    let _ = writeln!(body, "  source: {}", plain(&line));
    let _ = write!(html, "<br>source: <code>{}</code>", escape(&line));
}

/// A revision with its sha256 digest cut to 12 hex characters.
fn short_digest(revision: &str) -> String {
    match revision.split_once("sha256:") {
        Some((head, digest)) if digest.len() > 12 => format!("{head}sha256:{}", &digest[..12]),
        _ => links::short_revision(revision),
    }
}

/// One change, plain and HTML: readable path, git's value → the live one, by whom.
fn change(f: &Finding, c: &Change) -> (String, String) {
    let by = c
        .manager
        .as_deref()
        .map(|m| format!(" by {}", manager(m)))
        .unwrap_or_default();
    if c.path.is_empty() {
        let by = c
            .manager
            .as_deref()
            .map(|m| format!(" (written by {})", manager(m)))
            .unwrap_or_default();
        let what = match f.drift.as_str() {
            "missing" => "the whole object is missing from the cluster",
            "orphaned" => "the whole object is in the cluster only",
            _ => "the whole object",
        };
        return (
            plain(&format!("{what}{by}")).into_owned(),
            escape(&format!("{what}{by}")),
        );
    }
    let p = path(c);
    let code = |v: Option<&Value>| format!("<code>{}</code>", escape(&value(v)));
    match c.op {
        Op::Add => (
            plain(&format!("{p}: added {}{by}", value(c.live.as_ref()))).into_owned(),
            format!(
                "<code>{}</code>: added {}{}",
                escape(&p),
                code(c.live.as_ref()),
                escape(&by)
            ),
        ),
        Op::Remove => (
            plain(&format!("{p}: {} → removed{by}", value(c.desired.as_ref()))).into_owned(),
            format!(
                "<code>{}</code>: {} → removed{}",
                escape(&p),
                code(c.desired.as_ref()),
                escape(&by)
            ),
        ),
        // A Helm object's field a person set: what the chart says is not known.
        Op::Replace if c.desired.is_none() => (
            plain(&format!("{p}: set to {}{by}", value(c.live.as_ref()))).into_owned(),
            format!(
                "<code>{}</code>: set to {}{}",
                escape(&p),
                code(c.live.as_ref()),
                escape(&by)
            ),
        ),
        Op::Replace => (
            plain(&format!(
                "{p}: {} → {}{by}",
                value(c.desired.as_ref()),
                value(c.live.as_ref())
            ))
            .into_owned(),
            format!(
                "<code>{}</code>: {} → {}{}",
                escape(&p),
                code(c.desired.as_ref()),
                code(c.live.as_ref()),
                escape(&by)
            ),
        ),
    }
}

/// What a finding's "who:" line says.
pub(super) enum Who {
    /// The field managers that wrote its changes, with their times.
    Managers(String),
    /// A missing object: its managers went with it.
    Gone(String),
}

/// How to find the person, said once per message (on the first "who:"
/// line): a field manager is a client's name, not a user's; the API
/// server's audit log has the user of the request that wrote the object at
/// that time, or deleted it.
pub(super) const AUDIT_HINT: &str = "the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)";

/// The "who:" line, with [`AUDIT_HINT`] when it is the message's first.
fn who_line(input: &Input, who: &Who, body: &mut String, html: &mut String) {
    let first = !input.audit_hint_given.replace(true);
    let line = match (who, first) {
        (Who::Managers(list), true) => {
            format!("{list} — field managers name clients, not people; {AUDIT_HINT}")
        }
        (Who::Gone(words), true) => format!("{words}; {AUDIT_HINT}"),
        (Who::Managers(text) | Who::Gone(text), false) => text.clone(),
    };
    let _ = writeln!(body, "  who: {}", plain(&line));
    let _ = writeln!(html, "who: {}<br>", escape(&line));
}

/// Who made the change: its field managers and when they wrote it.
fn who(f: &Finding, changes: &[&Change]) -> Option<Who> {
    if f.drift.as_str() == "missing" {
        return Some(Who::Gone(
            "the object is gone, and its managers with it".to_string(),
        ));
    }
    let mut writers: Vec<(String, Option<&str>)> = Vec::new();
    for c in changes {
        if let Some(m) = c.manager.as_deref() {
            let w = (manager(m), c.time.as_deref());
            if !writers.contains(&w) {
                writers.push(w);
            }
        }
    }
    if writers.is_empty() {
        return None;
    }
    let list: Vec<String> = writers
        .iter()
        .map(|(m, t)| match t {
            Some(t) => format!("{m} at {t}"),
            None => m.clone(),
        })
        .collect();
    Some(Who::Managers(list.join(", ")))
}

/// A manager id, long ones (Crossplane's `…/composed/<uuid>`) shortened.
pub(in crate::notify::matrix::message) fn manager(m: &str) -> String {
    if m.chars().count() <= MAX_MANAGER_CHARS {
        return m.to_string();
    }
    match m.rsplit_once('/') {
        Some((head, tail)) if tail.chars().count() > 8 => {
            format!("{head}/{}…", tail.chars().take(8).collect::<String>())
        }
        _ => format!("{}…", m.chars().take(MAX_MANAGER_CHARS).collect::<String>()),
    }
}

/// The change's path for people: the comparison's, with list items named by
/// merge key; else the JSON Pointer decoded (`~1` is `/`, `~0` is `~`).
pub(in crate::notify::matrix::message) fn path(c: &Change) -> String {
    if let Some(p) = &c.readable_path {
        return p.clone();
    }
    let mut out = String::new();
    for token in c.path.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.parse::<usize>().is_ok() || token.contains(['.', '/', '[', ']']) {
            let _ = write!(out, "[{token}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// A value on one line, long ones cut.
pub(in crate::notify::matrix::message) fn value(v: Option<&Value>) -> String {
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

/// A remedy or a problem's text, commands as code: a `flux …` or
/// `kubectl …` after a colon, a span in backticks, a `./path`. Plain (commands
/// in backticks) and HTML (in `<code>`), both escaped.
pub(super) fn command(text: &str) -> (String, String) {
    // A command after the last ": " that starts one.
    for starter in [": flux ", ": kubectl "] {
        if let Some(i) = text.rfind(starter)
            && !text[i..].contains('`')
        {
            let (prose, cmd) = (&text[..i + 2], &text[i + 2..]);
            let (b, h) = command(prose);
            return (
                format!("{b}`{}`", plain(cmd)),
                format!("{h}<code>{}</code>", escape(cmd)),
            );
        }
    }
    let mut body = String::new();
    let mut html = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(body, "`{}`", plain(part));
            let _ = write!(html, "<code>{}</code>", escape(part));
            continue;
        }
        body.push_str(&plain(part));
        let words: Vec<String> = part
            .split(' ')
            .map(|w| {
                // A path may stand in parentheses: `(./infra/k8s/monitoring)`.
                let open = if w.starts_with('(') { 1 } else { 0 };
                let bare = w[open..].trim_end_matches([',', ';', '.', ')']);
                if bare.starts_with("./") && bare.len() > 2 {
                    format!(
                        "{}<code>{}</code>{}",
                        escape(&w[..open]),
                        escape(bare),
                        escape(&w[open + bare.len()..])
                    )
                } else {
                    escape(w)
                }
            })
            .collect();
        html.push_str(&words.join(" "));
    }
    (body, html)
}

/// `inner` as a link when there is a URL.
pub(super) fn linked(url: Option<&str>, inner: &str) -> String {
    match url {
        Some(u) => format!("<a href=\"{}\">{inner}</a>", escape(u)),
        None => inner.to_string(),
    }
}

/// A finding's message, then its unexplained changes as a list: what a
/// finding and a group of identical ones both show under their first line.
fn message_and_changes<'f>(
    f: &'f Finding,
    body: &mut String,
    html: &mut String,
) -> Vec<&'f Change> {
    if let Some(message) = &f.message {
        let _ = writeln!(*body, "  {}", plain(message));
        let _ = write!(*html, "<br>\n{}", escape(message));
    }
    let changes: Vec<&Change> = f
        .changes
        .iter()
        .filter(|c| c.explanation.is_none())
        .collect();
    if !changes.is_empty() {
        html.push_str("\n<ul>\n");
        for c in &changes {
            let (b, h) = change(f, c);
            let _ = writeln!(*body, "  {b}");
            let _ = writeln!(*html, "<li>{h}</li>");
        }
        html.push_str("</ul>\n");
    } else {
        html.push_str("<br>\n");
    }
    changes
}
