//! kustomize target selectors (`patches[].target`, `replacements`).
//!
//! Input: a selector (group, version, kind, name, namespace as anchored
//! regular expressions; `labelSelector` and `annotationSelector` in kubectl
//! syntax) and resources. Output: the resources it selects. Names and
//! namespaces match the original or the current value, as kustomize's
//! `resWrangler.Select` does.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::resource::{self, Resource};
use super::scope::is_cluster_scoped;

/// A selector as written in a kustomization.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// A selector ready to match.
pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

fn anchored(pattern: &Option<String>) -> Result<Option<Regex>, String> {
    match pattern.as_deref() {
        None | Some("") => Ok(None),
        Some(p) => Regex::new(&format!("^(?:{p})$"))
            .map(Some)
            .map_err(|e| format!("invalid regular expression {p:?}: {e}")),
    }
}

impl Selector {
    pub fn compile(&self) -> Result<Compiled, String> {
        Ok(Compiled {
            group: anchored(&self.group)?,
            version: anchored(&self.version)?,
            kind: anchored(&self.kind)?,
            name: anchored(&self.name)?,
            namespace: anchored(&self.namespace)?,
            labels: parse_requirements(self.label_selector.as_deref().unwrap_or(""))?,
            annotations: parse_requirements(self.annotation_selector.as_deref().unwrap_or(""))?,
        })
    }
}

/// The namespace kustomize compares: `default` for a namespaced object
/// without one, `""` for cluster-scoped objects.
fn effective_namespace(object: &Value, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => ns.to_string(),
        None if is_cluster_scoped(object) => String::new(),
        None => "default".to_string(),
    }
}

impl Compiled {
    pub fn selects(&self, r: &Resource) -> bool {
        let object = &r.object;
        let api_version = resource::api_version(object);
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let is = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        let original = r.previous.first();
        let names_match = is(&self.name, resource::name(object))
            || original.is_some_and(|(_, n)| is(&self.name, n));
        let namespaces_match = is(
            &self.namespace,
            &effective_namespace(object, resource::namespace(object)),
        ) || original.is_some_and(|(ns, _)| {
            is(&self.namespace, &effective_namespace(object, ns.as_deref()))
        });
        is(&self.group, group)
            && is(&self.version, version)
            && is(&self.kind, resource::kind(object))
            && names_match
            && namespaces_match
            && matches(&self.labels, object.pointer("/metadata/labels"))
            && matches(&self.annotations, object.pointer("/metadata/annotations"))
    }
}

/// One requirement of a label selector.
#[derive(Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn matches(requirements: &[Requirement], map: Option<&Value>) -> bool {
    let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
    requirements.iter().all(|req| match req {
        Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
    })
}

/// Parses a kubectl label selector: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
fn parse_requirements(text: &str) -> Result<Vec<Requirement>, String> {
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid selector {text:?}");
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
        };
        let requirement = if let Some(key) = part.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==") {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once('=') {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().into(), set(rest)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement::In(k.trim().into(), set(rest)?)
        } else if part.contains(' ') || part.contains('(') {
            return Err(bad());
        } else {
            Requirement::Exists(part.to_string())
        };
        out.push(requirement);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(selector: Value, objects: &[Value]) -> Vec<String> {
        let selector: Selector = serde_json::from_value(selector).unwrap();
        let compiled = selector.compile().unwrap();
        objects
            .iter()
            .map(|o| Resource::new(o.clone(), "x"))
            .filter(|r| compiled.selects(r))
            .map(|r| r.subject())
            .collect()
    }

    #[test]
    fn matches_anchored_regexes_and_label_selectors() {
        let objects = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"tier": "frontend", "env": "prod"}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web-canary", "labels": {"tier": "frontend"}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
                   "annotations": {}}),
        ];
        let cases = [
            (
                json!({"kind": "Deployment"}),
                vec!["Deployment/web", "Deployment/web-canary"],
            ),
            (
                json!({"name": "web"}),
                vec!["Deployment/web", "Service/apps/web"],
            ),
            (
                json!({"name": "web.*", "group": "apps"}),
                vec!["Deployment/web", "Deployment/web-canary"],
            ),
            (
                json!({"group": "", "kind": "Service"}),
                vec!["Service/apps/web"],
            ),
            (
                json!({"namespace": "default"}),
                vec!["Deployment/web", "Deployment/web-canary"],
            ),
            (
                json!({"labelSelector": "tier=frontend,env!=prod"}),
                vec!["Deployment/web-canary"],
            ),
            (
                json!({"labelSelector": "env in (prod, staging)"}),
                vec!["Deployment/web"],
            ),
            (
                json!({"labelSelector": "!env"}),
                vec!["Deployment/web-canary", "Service/apps/web"],
            ),
            (json!({"labelSelector": "env"}), vec!["Deployment/web"]),
            (json!({"kind": "Deploy"}), vec![]),
        ];
        for (selector, want) in cases {
            assert_eq!(select(selector.clone(), &objects), want, "{selector}");
        }
    }
}
