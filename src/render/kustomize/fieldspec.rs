//! kustomize field specs: where in which kinds a transformer writes.
//!
//! Input: an object and a spec (group/version/kind filter, a `/`-separated
//! path, whether to create missing fields). Output: a callback on each field
//! the path reaches. Sequences on the way are walked element by element,
//! with or without a `[]` suffix, as kustomize's `fsslice` does.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::resource;

/// One kustomize `FieldSpec`: built in (borrowed) or read from a
/// `configurations` file (owned).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(default)]
    pub group: Option<Cow<'static, str>>,
    #[serde(default)]
    pub version: Option<Cow<'static, str>>,
    #[serde(default)]
    pub kind: Option<Cow<'static, str>>,
    pub path: Cow<'static, str>,
    #[serde(default)]
    pub create: bool,
}

/// A field spec for every kind.
pub const fn any(path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        version: None,
        kind: None,
        path: Cow::Borrowed(path),
        create,
    }
}

/// A field spec for one kind, in any group.
pub const fn kind(kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        version: None,
        kind: Some(Cow::Borrowed(kind)),
        path: Cow::Borrowed(path),
        create,
    }
}

/// A field spec for one kind of one group.
pub const fn group_kind(
    group: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec {
    FieldSpec {
        group: Some(Cow::Borrowed(group)),
        version: None,
        kind: Some(Cow::Borrowed(kind)),
        path: Cow::Borrowed(path),
        create,
    }
}

/// A field spec for one kind (of one group, unless `group` is empty) at a
/// path built at run time.
pub fn built(group: &'static str, kind: &'static str, path: String) -> FieldSpec {
    FieldSpec {
        group: (!group.is_empty()).then_some(Cow::Borrowed(group)),
        version: None,
        kind: Some(Cow::Borrowed(kind)),
        path: Cow::Owned(path),
        create: false,
    }
}

/// A field spec for one kind of the core `v1` API.
pub const fn core(kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        version: Some(Cow::Borrowed("v1")),
        kind: Some(Cow::Borrowed(kind)),
        path: Cow::Borrowed(path),
        create,
    }
}

impl FieldSpec {
    /// Does the spec apply to this object's group/version/kind?
    pub fn selects(&self, object: &Value) -> bool {
        let api_version = resource::api_version(object);
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let is = |want: &Option<Cow<str>>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        is(&self.kind, resource::kind(object))
            && is(&self.group, group)
            && is(&self.version, version)
    }

    /// Calls `f` on every field the path reaches in `object` (when the spec
    /// selects it), creating missing maps on the way when `create` is set.
    /// A newly created leaf is passed as `Value::Null`.
    pub fn visit(
        &self,
        object: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
    ) -> Result<(), String> {
        if !self.selects(object) {
            return Ok(());
        }
        let segments = segments(&self.path);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        visit_path(object, &segments, self.create, f)
    }
}

/// Splits a field spec path on `/`, keeping `\/` as a literal slash.
pub fn segments(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                out.last_mut().expect("never empty").push('/');
                chars.next();
            }
            '/' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Walks `segments` from `value`; see [`FieldSpec::visit`].
pub fn visit_path(
    value: &mut Value,
    segments: &[&str],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if let Value::Array(items) = value {
        for item in items {
            visit_path(item, segments, create, f)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = segments.split_first() else {
        return f(value);
    };
    let key = first.strip_suffix("[]").unwrap_or(first);
    if value.is_null() && create {
        *value = Value::Object(Map::new());
    }
    let Value::Object(map) = value else {
        return Ok(());
    };
    if !map.contains_key(key) {
        if !create {
            return Ok(());
        }
        let fresh = if rest.is_empty() {
            Value::Null
        } else {
            Value::Object(Map::new())
        };
        map.insert(key.to_string(), fresh);
    }
    let child = map.get_mut(key).expect("inserted above");
    if child.is_null() && !rest.is_empty() {
        if !create {
            return Ok(());
        }
        *child = Value::Object(Map::new());
    }
    visit_path(child, rest, create, f)
}

/// Sets `key: value` in the map `field` (creating it from null); a field
/// that is neither a map nor null is an error.
pub fn set_in_map(field: &mut Value, key: &str, value: &str) -> Result<(), String> {
    if field.is_null() {
        *field = Value::Object(Map::new());
    }
    match field {
        Value::Object(map) => {
            map.insert(key.to_string(), Value::String(value.to_string()));
            Ok(())
        }
        _ => Err("expected a map".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_sequences_and_creates_only_when_asked() {
        let mut policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p"},
            "spec": {"ingress": [{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}, {"ipBlock": {}}]}]}});
        let spec = group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        );
        spec.visit(&mut policy, &mut |v| set_in_map(v, "team", "x"))
            .unwrap();
        assert_eq!(
            policy["spec"]["ingress"][0]["from"],
            json!([{"podSelector": {"matchLabels": {"a": "b", "team": "x"}}}, {"ipBlock": {}}])
        );
        let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        core("Service", "spec/selector", true)
            .visit(&mut svc, &mut |v| set_in_map(v, "team", "x"))
            .unwrap();
        assert_eq!(svc["spec"], json!({"selector": {"team": "x"}}));
        let mut deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        core("Service", "spec/selector", true)
            .visit(&mut deploy, &mut |v| set_in_map(v, "team", "x"))
            .unwrap();
        assert!(deploy.get("spec").is_none());
    }
}
