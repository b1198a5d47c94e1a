//! The field-by-field comparison of a rendered object with its live copy.
//!
//! Git is the subject: every field the render declares is compared with the
//! live value (keyed lists by merge key, other lists by position, scalars after
//! the value rules of [`normalize`]). Fields only the live object has are
//! defaults or controller output unless managedFields says a person set them.

use serde_json::{Map, Value};

use super::normalize;
use super::schema;
use super::{Change, Op, Policy};
use crate::k8s::managed::{self, ManagedEntry};
use crate::k8s::object::pointer;

pub(super) struct Comparison<'a> {
    group: &'a str,
    kind: &'a str,
    /// The live object as read, managedFields included: ownership lookups walk
    /// it (normalization only removes map keys, so indices agree).
    live_raw: &'a Value,
    entries: Vec<ManagedEntry>,
    /// Whether `entries` can be trusted: with malformed managedFields, who set
    /// a field is unknown, and a field only the live object has is reported
    /// (unattributed) rather than assumed to be a controller's.
    entries_readable: bool,
    policy: &'a Policy,
    changes: Vec<Change>,
}

impl<'a> Comparison<'a> {
    pub(super) fn new(
        group: &'a str,
        kind: &'a str,
        live_raw: &'a Value,
        policy: &'a Policy,
    ) -> Self {
        Self {
            group,
            kind,
            live_raw,
            entries: managed::entries(live_raw),
            entries_readable: managed::malformed(live_raw).is_none(),
            policy,
            changes: Vec::new(),
        }
    }

    pub(super) fn run(mut self, desired: &Value, live: &Value) -> Vec<Change> {
        self.walk(desired, live, &mut Vec::new(), &mut Vec::new());
        self.changes
    }

    /// `path` holds JSON Pointer tokens; `fields` only the field names (no
    /// indices), for the schema and default rules.
    fn walk(
        &mut self,
        desired: &Value,
        live: &Value,
        path: &mut Vec<String>,
        fields: &mut Vec<String>,
    ) {
        match (desired, live) {
            // Encrypted in git (SOPS, no key): that the field is there is
            // compared, not its value.
            _ if crate::render::sops::is_encrypted(desired) => {}
            (Value::Object(d), Value::Object(l)) => self.walk_map(d, l, path, fields),
            (Value::Array(d), Value::Array(l)) => {
                let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                match schema::list_keys(self.group, self.kind, &field_refs) {
                    Some(keys) => self.walk_keyed_list(d, l, keys, path, fields),
                    None => self.walk_atomic_list(desired, live, d, l, path, fields),
                }
            }
            _ if normalize::same_value(path, desired, live) => {}
            _ => self.replaced(path, desired, live),
        }
    }

    fn walk_map(
        &mut self,
        d: &Map<String, Value>,
        l: &Map<String, Value>,
        path: &mut Vec<String>,
        fields: &mut Vec<String>,
    ) {
        for (key, dv) in d {
            path.push(key.clone());
            fields.push(key.clone());
            match l.get(key) {
                Some(lv) => self.walk(dv, lv, path, fields),
                None if normalize::empty_equals_absent(dv) => {}
                None => self.removed(path, dv),
            }
            path.pop();
            fields.pop();
        }
        let parent = Value::Object(l.clone());
        for (key, lv) in l.iter().filter(|(k, _)| !d.contains_key(*k)) {
            path.push(key.clone());
            fields.push(key.clone());
            self.added(lv, &parent, Added::Field, path, fields);
            path.pop();
            fields.pop();
        }
    }

    fn walk_keyed_list(
        &mut self,
        d: &[Value],
        l: &[Value],
        keys: &[&str],
        path: &mut Vec<String>,
        fields: &mut Vec<String>,
    ) {
        let mut matched = vec![false; l.len()];
        for (i, de) in d.iter().enumerate() {
            let found = l
                .iter()
                .enumerate()
                .find(|(j, le)| !matched[*j] && same_keys(de, le, keys))
                .map(|(j, _)| j)
                // An item without its key fields can only be matched by position.
                .or_else(|| (!has_keys(de, keys) && i < l.len() && !matched[i]).then_some(i));
            match found {
                Some(j) => {
                    matched[j] = true;
                    path.push(j.to_string());
                    self.walk(de, &l[j], path, fields);
                    path.pop();
                }
                None => {
                    path.push(i.to_string());
                    self.removed(path, de);
                    path.pop();
                }
            }
        }
        let parent = Value::Array(l.to_vec());
        for (j, le) in l.iter().enumerate().filter(|(j, _)| !matched[*j]) {
            path.push(j.to_string());
            self.added(le, &parent, Added::ListItem, path, fields);
            path.pop();
        }
    }

    fn walk_atomic_list(
        &mut self,
        desired: &Value,
        live: &Value,
        d: &[Value],
        l: &[Value],
        path: &mut Vec<String>,
        fields: &mut Vec<String>,
    ) {
        if d.len() != l.len() {
            self.replaced(path, desired, live);
            return;
        }
        for (i, (de, le)) in d.iter().zip(l).enumerate() {
            path.push(i.to_string());
            self.walk(de, le, path, fields);
            path.pop();
        }
    }

    fn replaced(&mut self, path: &[String], desired: &Value, live: &Value) {
        let (manager, time) = self.attribution(path);
        self.changes.push(Change {
            path: pointer(path),
            op: Op::Replace,
            desired: Some(desired.clone()),
            live: Some(live.clone()),
            manager,
            time,
            explanation: None,
            readable_path: self.readable(path, None),
        });
    }

    fn removed(&mut self, path: &[String], desired: &Value) {
        self.changes.push(Change {
            path: pointer(path),
            op: Op::Remove,
            desired: Some(desired.clone()),
            live: None,
            manager: None,
            time: None,
            explanation: None,
            readable_path: self.readable(path, Some(desired)),
        });
    }

    /// A field only the live object has: drift when a person set it to
    /// something other than what the API server would have defaulted.
    fn added(
        &mut self,
        live: &Value,
        parent: &Value,
        what: Added,
        path: &mut Vec<String>,
        fields: &mut Vec<String>,
    ) {
        let owners = managed::owners(&self.entries, self.live_raw, path);
        let person = owners.iter().find(|e| self.policy.is_person(&e.manager));
        if person.is_none() && (self.entries_readable || !owners.is_empty()) {
            return;
        }
        let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        if normalize::is_server_default(self.kind, &field_refs, live, parent) {
            return;
        }
        if let (Value::Object(map), Added::Field) = (live, what)
            && !map.is_empty()
        {
            // Report the fields a person set, not the map holding them;
            // a list item is reported whole (an env var, a container).
            let parent = live.clone();
            for (key, value) in map {
                path.push(key.clone());
                fields.push(key.clone());
                self.added(value, &parent, Added::Field, path, fields);
                path.pop();
                fields.pop();
            }
            return;
        }
        self.changes.push(Change {
            path: pointer(path.iter()),
            op: Op::Add,
            desired: None,
            live: Some(live.clone()),
            manager: person.map(|p| p.manager.clone()),
            time: person.and_then(|p| p.time.clone()),
            explanation: None,
            readable_path: self.readable(path, Some(live)),
        });
    }

    /// `path` for people: map keys joined by `.` (a key holding `.` or `/`
    /// in brackets), list items named by their merge key where the list has
    /// one (`containers[app]`), else by position (`args[0]`). Items on the
    /// way are the live object's (keyed lists are walked by live index); the
    /// last one is `item` itself when given (a removed item is git's).
    fn readable(&self, path: &[String], item: Option<&Value>) -> Option<String> {
        readable(self.group, self.kind, self.live_raw, path, item)
    }

    /// Who last set the field at `path`: the latest owner that is not Flux, or
    /// Flux itself when it is the only owner.
    fn attribution(&self, path: &[String]) -> (Option<String>, Option<String>) {
        let owners = managed::owners(&self.entries, self.live_raw, path);
        owners
            .iter()
            .find(|e| !self.policy.is_flux(&e.manager))
            .or(owners.first())
            .map_or((None, None), |e| (Some(e.manager.clone()), e.time.clone()))
    }
}

/// Where a live-only value sits: a field of a map, or an item of a list.
#[derive(Clone, Copy)]
enum Added {
    Field,
    ListItem,
}

/// `path` for people, list items of `live` named by their merge key
/// (`item`, when given, names the last one: a removed item is not in `live`).
pub(super) fn readable(
    group: &str,
    kind: &str,
    live: &Value,
    path: &[String],
    item: Option<&Value>,
) -> Option<String> {
    let mut out = String::new();
    let mut fields: Vec<&str> = Vec::new();
    let mut here = Some(live);
    for (i, token) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match here {
            Some(Value::Array(items)) => {
                let index: usize = token.parse().ok()?;
                let element = if last { item } else { None }.or_else(|| items.get(index));
                let name = schema::list_keys(group, kind, &fields)
                    .and_then(|keys| element.and_then(|e| key_name(e, keys)));
                match name {
                    Some(name) => out.push_str(&format!("[{name}]")),
                    None => out.push_str(&format!("[{index}]")),
                }
                here = items.get(index);
            }
            _ => {
                if token.contains(['.', '/', '[', ']']) {
                    out.push_str(&format!("[{token}]"));
                } else {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(token);
                }
                fields.push(token);
                here = here.and_then(|v| v.get(token.as_str()));
            }
        }
    }
    Some(out)
}

/// A list item's merge key values, joined by `,` (`8080,TCP`); `None`
/// when it has none.
fn key_name(item: &Value, keys: &[&str]) -> Option<String> {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| item.get(*k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

fn has_keys(item: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| item.get(*k).is_some())
}

fn same_keys(desired: &Value, live: &Value, keys: &[&str]) -> bool {
    has_keys(desired, keys)
        && keys.iter().all(|k| match (desired.get(*k), live.get(*k)) {
            (Some(a), Some(b)) => a == b || normalize::numbers_equal(a, b),
            (None, None) => true,
            _ => false,
        })
}
