//! Object selectors, as kustomize patch targets and drift-check ignore rules
//! write them: `group`, `version`, `kind`, `name`, `namespace` are anchored
//! regular expressions; `labelSelector` and `annotationSelector` use kubectl's
//! selector syntax (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`).

use regex::Regex;
use serde_json::Value;

use crate::flux::Selector;
use crate::k8s::object::{self, Object};

/// A selector ready to match objects.
#[derive(Clone, Debug)]
pub struct Matcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// A selector that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    /// A field is not a valid regular expression.
    #[error("{field}: invalid regular expression {value:?}: {source}")]
    Regex {
        field: &'static str,
        value: String,
        #[source]
        source: regex::Error,
    },
    /// A label or annotation selector does not parse.
    #[error("{field}: invalid selector {value:?} (expected e.g. \"app=web,tier!=db\")")]
    Requirement { field: &'static str, value: String },
}

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Matcher {
    /// Compiles a selector.
    pub fn new(selector: &Selector) -> Result<Self, SelectorError> {
        let regex = |field: &'static str, value: &Option<String>| {
            value
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    Regex::new(&format!("^(?:{v})$")).map_err(|source| SelectorError::Regex {
                        field,
                        value: v.clone(),
                        source,
                    })
                })
                .transpose()
        };
        Ok(Self {
            group: regex("group", &selector.group)?,
            version: regex("version", &selector.version)?,
            kind: regex("kind", &selector.kind)?,
            name: regex("name", &selector.name)?,
            namespace: regex("namespace", &selector.namespace)?,
            labels: requirements("labelSelector", selector.label_selector.as_deref())?,
            annotations: requirements(
                "annotationSelector",
                selector.annotation_selector.as_deref(),
            )?,
        })
    }

    /// Does the object match every part of the selector?
    pub fn matches(&self, object: &Object) -> bool {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let test =
            |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        test(&self.group, group)
            && test(&self.version, version)
            && test(&self.kind, kind)
            && test(&self.name, object::name(object).unwrap_or(""))
            && test(&self.namespace, object::namespace(object).unwrap_or(""))
            && self
                .labels
                .iter()
                .all(|r| r.matches(|k| object::label(object, k)))
            && self
                .annotations
                .iter()
                .all(|r| r.matches(|k| object::annotation(object, k)))
    }
}

impl Requirement {
    fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
        }
    }
}

fn requirements(
    field: &'static str,
    text: Option<&str>,
) -> Result<Vec<Requirement>, SelectorError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let bad = || SelectorError::Requirement {
        field,
        value: text.to_string(),
    };
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(|part| parse_requirement(part.trim()).ok_or_else(bad))
        .collect()
}

fn parse_requirement(part: &str) -> Option<Requirement> {
    let valid_key = |k: &str| !k.is_empty() && !k.contains(char::is_whitespace);
    if let Some((key, values)) = split_set(part, " notin ") {
        return valid_key(key).then(|| Requirement::NotIn(key.into(), values));
    }
    if let Some((key, values)) = split_set(part, " in ") {
        return valid_key(key).then(|| Requirement::In(key.into(), values));
    }
    if let Some((k, v)) = part.split_once("!=") {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::NotEquals(k.into(), v.trim().into()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::Equals(k.into(), v.trim().into()));
    }
    if let Some(k) = part.strip_prefix('!') {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::NotExists(k.into()));
    }
    valid_key(part).then(|| Requirement::Exists(part.into()))
}

fn split_set<'a>(part: &'a str, op: &str) -> Option<(&'a str, Vec<String>)> {
    let (key, rest) = part.split_once(op)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((
        key.trim(),
        inner.split(',').map(|v| v.trim().to_string()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Object {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "docs-portal", "namespace": "docs",
                            "labels": {"app": "docs", "tier": "web"}, "annotations": {"team": "platform"}}})
    }

    fn selector(kind: &str, name: &str, labels: &str) -> Selector {
        Selector {
            kind: Some(kind.into()),
            name: Some(name.into()),
            label_selector: Some(labels.into()),
            ..Default::default()
        }
    }

    #[test]
    fn fields_are_anchored_regexes() {
        assert!(
            Matcher::new(&selector("Deployment", "docs-.*", ""))
                .unwrap()
                .matches(&object())
        );
        assert!(
            !Matcher::new(&selector("Deploy", "docs-portal", ""))
                .unwrap()
                .matches(&object())
        );
        let group = Selector {
            group: Some("apps".into()),
            version: Some("v1".into()),
            ..Default::default()
        };
        assert!(Matcher::new(&group).unwrap().matches(&object()));
    }

    #[test]
    fn label_selectors_in_kubectl_syntax() {
        let cases = [
            ("app=docs", true),
            ("app==docs", true),
            ("app!=docs", false),
            ("tier", true),
            ("!tier", false),
            ("tier in (web, api)", true),
            ("tier notin (web)", false),
            ("app=docs,tier=db", false),
            ("missing!=x", true),
        ];
        for (text, want) in cases {
            assert_eq!(
                Matcher::new(&selector(".*", ".*", text))
                    .unwrap()
                    .matches(&object()),
                want,
                "{text}"
            );
        }
        let annotated = Selector {
            annotation_selector: Some("team=platform".into()),
            ..Default::default()
        };
        assert!(Matcher::new(&annotated).unwrap().matches(&object()));
    }

    #[test]
    fn bad_selectors_name_the_field() {
        let err = Matcher::new(&selector("(", ".*", ""))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("kind: invalid regular expression"), "{err}");
        let err = Matcher::new(&selector(".*", ".*", "a in b"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("labelSelector: invalid selector"), "{err}");
    }
}
