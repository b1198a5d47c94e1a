//! The findings part of the page: a section per severity (or explained),
//! a group per owner and identical change, each group's changed fields side
//! by side and its objects, the oldest first, within the page's limits.

use super::*;

/// The changes a group shows: the unexplained ones of an open finding, all
/// of an explained one.
fn shown_changes(f: &Finding, category: Category) -> Vec<&Change> {
    let mut changes: Vec<&Change> = f
        .changes
        .iter()
        .filter(|c| category == Category::Explained || c.explanation.is_none())
        .collect();
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

/// What makes two findings the same change: drift kind, and each field's
/// path, operation, git's value and the live one (not who or when).
fn change_key(f: &Finding, category: Category) -> String {
    let mut key = String::from(f.drift.as_str());
    if category == Category::Explained {
        key.push('\0');
        key.push_str(f.explanation.as_deref().unwrap_or(""));
    }
    for c in shown_changes(f, category) {
        key.push('\0');
        key.push_str(&serde_json::json!([c.path, c.op, c.desired, c.live]).to_string());
    }
    key
}

pub(super) fn section(
    report: &Report,
    options: &Options,
    now: Option<DateTime<FixedOffset>>,
    category: Category,
    findings: &[Dated],
) -> Section {
    let mut by_owner: BTreeMap<crate::classify::Owner, Vec<&Dated>> = BTreeMap::new();
    for item in findings {
        by_owner.entry(item.0.owner).or_default().push(item);
    }
    let owners = by_owner
        .into_iter()
        .map(|(owner, items)| {
            let mut groups: Vec<(String, Vec<&Dated>)> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for item in &items {
                let key = change_key(item.0, category);
                match index.get(&key) {
                    Some(&i) => groups[i].1.push(item),
                    None => {
                        index.insert(key.clone(), groups.len());
                        groups.push((key, vec![item]));
                    }
                }
            }
            for (_, members) in &mut groups {
                members.sort_by(|a, b| {
                    (a.1.is_none(), &a.1, a.0.object.to_string()).cmp(&(
                        b.1.is_none(),
                        &b.1,
                        b.0.object.to_string(),
                    ))
                });
            }
            // The biggest groups first, then by their oldest object.
            groups.sort_by(|a, b| {
                b.1.len().cmp(&a.1.len()).then_with(|| {
                    a.1[0]
                        .0
                        .object
                        .to_string()
                        .cmp(&b.1[0].0.object.to_string())
                })
            });
            let listed: Vec<Group> = groups
                .iter()
                .take(MAX_GROUPS_PER_OWNER)
                .map(|(_, members)| group(report, options, now, category, members))
                .collect();
            let rest = &groups[listed.len()..];
            OwnerGroup {
                owner: owner.as_str(),
                count: items.len(),
                groups: listed,
                more_groups: rest.len(),
                more_findings: rest.iter().map(|(_, m)| m.len()).sum(),
            }
        })
        .collect();
    let (marker, heading) = match category {
        Category::Open(s) => (s.marker(), s.heading()),
        Category::Explained => ("✔️", "Explained drift (expected, no action)"),
    };
    Section {
        key: category.key(),
        marker,
        heading,
        count: findings.len(),
        open: category != Category::Explained,
        owners,
    }
}

fn group(
    report: &Report,
    options: &Options,
    now: Option<DateTime<FixedOffset>>,
    category: Category,
    members: &[&Dated],
) -> Group {
    let first = members[0].0;
    let changes = shown_changes(first, category);
    let rows: Vec<Row> = members
        .iter()
        .take(MAX_ROWS_PER_GROUP)
        .map(|(f, since)| row(report, options, now, category, f, since.as_deref()))
        .collect();
    let mut more: BTreeMap<&str, usize> = BTreeMap::new();
    for (f, _) in &members[rows.len()..] {
        *more
            .entry(f.kustomization.as_deref().unwrap_or(NO_KUSTOMIZATION))
            .or_default() += 1;
    }
    let mut more: Vec<(&str, usize)> = more.into_iter().collect();
    more.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Group {
        drift: first.drift.as_str(),
        count: members.len(),
        explanation: first.explanation.as_deref().map(|e| plain(e).into_owned()),
        message: first.message.as_deref().map(|m| plain(m).into_owned()),
        changes: changes
            .iter()
            .take(MAX_CHANGES_PER_GROUP)
            .map(|c| change_view(first, c))
            .collect(),
        more_changes: changes.len().saturating_sub(MAX_CHANGES_PER_GROUP),
        more_rows: members.len() - rows.len(),
        more_where: more
            .iter()
            .take(3)
            .map(|(k, n)| plain(&format!("{n} in {k}")).into_owned())
            .collect(),
        rows,
    }
}

fn change_view(f: &Finding, c: &Change) -> ChangeView {
    if c.path.is_empty() {
        let (git, live) = match (c.op, f.drift.as_str()) {
            (Op::Remove, _) => ("the object", "(absent)"),
            (Op::Add, _) => ("(in no render)", "the object"),
            _ => ("the object", "the object, changed"),
        };
        return ChangeView {
            path: "(the whole object)".into(),
            what: match c.op {
                Op::Remove => "missing",
                Op::Add => "only live",
                Op::Replace => "changed",
            },
            git: git.into(),
            live: live.into(),
        };
    }
    ChangeView {
        path: cut(&plain(&readable_path(c))),
        what: match c.op {
            Op::Add => "added",
            Op::Remove => "removed",
            Op::Replace if c.desired.is_none() => "set",
            Op::Replace => "edited",
        },
        git: value(c.desired.as_ref()),
        live: value(c.live.as_ref()),
    }
}

/// The change's path for people: the comparison's, with list items named
/// by merge key; else the JSON Pointer decoded (`~1` is `/`, `~0` is `~`).
fn readable_path(c: &Change) -> String {
    if let Some(p) = &c.readable_path {
        return p.clone();
    }
    let mut out = String::new();
    for token in c.path.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.parse::<usize>().is_ok() || token.contains(['.', '/', '[', ']']) {
            out.push('[');
            out.push_str(&token);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// A value for one side of a change: a string as it is, anything else as
/// JSON, long ones cut; `(absent)` when there is none.
fn value(v: Option<&serde_json::Value>) -> String {
    let s = match v {
        None | Some(serde_json::Value::Null) => return "(absent)".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    cut(&plain(&s))
}

/// At most [`MAX_VALUE_CHARS`] characters (of the escaped text, so that an
/// escape cannot make it longer), `…` where cut.
fn cut(s: &str) -> String {
    if s.chars().count() > MAX_VALUE_CHARS {
        let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

fn row(
    report: &Report,
    options: &Options,
    now: Option<DateTime<FixedOffset>>,
    category: Category,
    f: &Finding,
    since: Option<&str>,
) -> Row {
    let mut who: Vec<String> = Vec::new();
    for c in shown_changes(f, category) {
        if let Some(m) = c.manager.as_deref() {
            let w = match c.time.as_deref() {
                Some(t) => format!("{} at {t}", plain(m)),
                None => plain(m).into_owned(),
            };
            if !who.contains(&w) {
                who.push(w);
            }
        }
    }
    let entry = report.kustomization_of(f);
    let link = entry.and_then(|k| {
        safe_url(super::super::links::for_kustomization(&options.links, report, k).file)
    });
    let severity = match category {
        Category::Open(s) => s.as_str(),
        Category::Explained => "explained",
    };
    Row {
        // A remote Kustomization's objects are on its spoke.
        cluster: plain(
            entry
                .and_then(|k| k.cluster.as_deref())
                .unwrap_or(&report.run.cluster),
        )
        .into_owned(),
        kustomization: plain(f.kustomization.as_deref().unwrap_or(NO_KUSTOMIZATION)).into_owned(),
        namespace: namespace(f),
        kind: plain(&f.object.kind).into_owned(),
        severity,
        owner: f.owner.as_str(),
        object: plain(&f.object.to_string()).into_owned(),
        who,
        age: age(since, now),
        since: since.map(|s| plain(s).into_owned()),
        link,
        remedy: match category {
            Category::Open(_) => parts(&f.remedy),
            Category::Explained => Vec::new(),
        },
    }
}
