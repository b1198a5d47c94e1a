//! The one object selector: kustomize's target shape (`patches[].target`,
//! `replacements`), which Flux's `spec.patches[].target` and drift-check's
//! ignore rules reuse.
//!
//! Input: a [`Selector`] (`group`, `version`, `kind`, `name`, `namespace` as
//! anchored regular expressions; `labelSelector` and `annotationSelector` as
//! Kubernetes label selectors, parsed by [`labels`] as apimachinery's
//! `labels.Parse` does) and [`Subject`]s, borrowed views of objects. Output:
//! a [`Matcher`], and whether each subject matches it. kustomize's own rules
//! (previous names, the defaulted namespace) are a layer in the render stage.

mod labels;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::k8s::object::{self, Object};
use labels::LabelSelector;

/// A selector as written in a kustomization, a Flux Kustomization or an
/// ignore rule. Unknown fields are an error, as in kustomize; see
/// [`Selector::deserialize_pruned`] for where they are not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Selector {
    /// API group (`""` for core), an anchored regular expression.
    pub group: Option<String>,
    /// API version without the group, an anchored regular expression.
    pub version: Option<String>,
    /// Kind, an anchored regular expression.
    pub kind: Option<String>,
    /// `metadata.name`, an anchored regular expression.
    pub name: Option<String>,
    /// `metadata.namespace`, an anchored regular expression.
    pub namespace: Option<String>,
    /// A label selector (`app=web,tier!=db`).
    pub label_selector: Option<String>,
    /// A label selector over annotations.
    pub annotation_selector: Option<String>,
}

impl Selector {
    /// The fields of the serialized form.
    const FIELDS: [&'static str; 7] = [
        "group",
        "version",
        "kind",
        "name",
        "namespace",
        "labelSelector",
        "annotationSelector",
    ];

    /// Deserializes an optional selector, dropping fields it does not know
    /// instead of failing: for a Flux Kustomization's `patches[].target` and
    /// `spec.ignore[].target`, as the API server prunes fields its CRD schema
    /// does not declare.
    pub fn deserialize_pruned<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Self>, D::Error> {
        let Some(mut fields) = Option::<Map<String, Value>>::deserialize(deserializer)? else {
            return Ok(None);
        };
        fields.retain(|key, _| Self::FIELDS.contains(&key.as_str()));
        serde_json::from_value(Value::Object(fields))
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// What a selector looks at in an object, borrowed from it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    /// API group, `""` for core.
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    /// `""` when the object has none.
    pub namespace: &'a str,
    pub labels: Option<&'a Map<String, Value>>,
    pub annotations: Option<&'a Map<String, Value>>,
}

impl<'a> Subject<'a> {
    /// The subject an object is, as it stands (a missing field is `""`).
    pub fn of(object: &'a Object) -> Self {
        let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
        let api_version = text("apiVersion");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let map = |pointer: &str| object.pointer(pointer).and_then(Value::as_object);
        Self {
            group,
            version,
            kind: text("kind"),
            name: object::name(object).unwrap_or(""),
            namespace: object::namespace(object).unwrap_or(""),
            labels: map("/metadata/labels"),
            annotations: map("/metadata/annotations"),
        }
    }
}

/// A selector ready to match subjects.
#[derive(Clone, Debug)]
pub struct Matcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

/// A selector that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    /// A field is not a valid regular expression.
    #[error("{field}: invalid regular expression {value:?}: {reason}")]
    Regex {
        field: &'static str,
        value: String,
        /// The regex parser's complaint, on one line (`unclosed group`).
        reason: String,
    },
    /// A label or annotation selector does not parse.
    #[error("{field}: invalid selector {value:?}: {reason} (expected e.g. \"app=web,tier!=db\")")]
    Requirement {
        field: &'static str,
        value: String,
        /// What apimachinery's parser would say.
        reason: String,
    },
}

/// A regex error on one line: its last line, which says what is wrong
/// (the lines before quote the pattern, which the message quotes already).
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

impl Matcher {
    /// Compiles a selector. An absent or empty field selects everything.
    pub fn new(selector: &Selector) -> Result<Self, SelectorError> {
        let regex = |field: &'static str, value: &Option<String>| {
            value
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    Regex::new(&format!("^(?:{v})$")).map_err(|e| SelectorError::Regex {
                        field,
                        value: v.clone(),
                        reason: regex_reason(&e),
                    })
                })
                .transpose()
        };
        let label_selector = |field: &'static str, value: &Option<String>| {
            let text = value.as_deref().unwrap_or("");
            LabelSelector::parse(text).map_err(|e| SelectorError::Requirement {
                field,
                value: text.to_string(),
                reason: e.to_string(),
            })
        };
        Ok(Self {
            group: regex("group", &selector.group)?,
            version: regex("version", &selector.version)?,
            kind: regex("kind", &selector.kind)?,
            name: regex("name", &selector.name)?,
            namespace: regex("namespace", &selector.namespace)?,
            labels: label_selector("labelSelector", &selector.label_selector)?,
            annotations: label_selector("annotationSelector", &selector.annotation_selector)?,
        })
    }

    /// Does the subject match every part of the selector?
    pub fn matches(&self, subject: &Subject) -> bool {
        let test =
            |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        test(&self.group, subject.group)
            && test(&self.version, subject.version)
            && test(&self.kind, subject.kind)
            && test(&self.name, subject.name)
            && test(&self.namespace, subject.namespace)
            && self.labels.matches(subject.labels)
            && self.annotations.matches(subject.annotations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(selector: &Selector, object: &Object) -> bool {
        Matcher::new(selector)
            .unwrap()
            .matches(&Subject::of(object))
    }

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
        assert!(matches(&selector("Deployment", "docs-.*", ""), &object()));
        assert!(!matches(&selector("Deploy", "docs-portal", ""), &object()));
        let group = Selector {
            group: Some("apps".into()),
            version: Some("v1".into()),
            ..Default::default()
        };
        assert!(matches(&group, &object()));
        let core = Selector {
            group: Some("".into()),
            namespace: Some("".into()),
            ..Default::default()
        };
        let config_map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert!(matches(&core, &config_map));
        let no_namespace = Selector {
            namespace: Some("default".into()),
            ..Default::default()
        };
        assert!(!matches(&no_namespace, &config_map), "no defaulting here");
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
                matches(&selector(".*", ".*", text), &object()),
                want,
                "{text}"
            );
        }
        let annotated = Selector {
            annotation_selector: Some("team=platform".into()),
            ..Default::default()
        };
        assert!(matches(&annotated, &object()));
    }

    #[test]
    fn subject_of_an_object() {
        let object = object();
        let subject = Subject::of(&object);
        assert_eq!(
            (
                subject.group,
                subject.version,
                subject.kind,
                subject.name,
                subject.namespace
            ),
            ("apps", "v1", "Deployment", "docs-portal", "docs")
        );
        assert_eq!(subject.labels.unwrap().len(), 2);
        assert_eq!(subject.annotations.unwrap()["team"], "platform");
        let bare = json!({"apiVersion": "v1", "kind": "Namespace"});
        let subject = Subject::of(&bare);
        assert_eq!(
            (
                subject.group,
                subject.version,
                subject.name,
                subject.namespace
            ),
            ("", "v1", "", "")
        );
        assert!(subject.labels.is_none());
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
        assert_eq!(
            err,
            "labelSelector: invalid selector \"a in b\": unable to parse requirement: \
             found 'b' expected: '(' (expected e.g. \"app=web,tier!=db\")"
        );
    }

    #[test]
    fn unknown_fields_are_an_error_unless_pruned() {
        let typo = json!({"kind": "Deployment", "labelselector": "app=docs"});
        let err = serde_json::from_value::<Selector>(typo.clone()).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown field `labelselector`"),
            "{err}"
        );
        let pruned = Selector::deserialize_pruned(typo).unwrap();
        assert_eq!(
            pruned,
            Some(Selector {
                kind: Some("Deployment".into()),
                ..Default::default()
            })
        );
        assert_eq!(Selector::deserialize_pruned(Value::Null).unwrap(), None);
    }

    #[test]
    fn pruning_keeps_every_field() {
        let every = Selector {
            group: Some("g".into()),
            version: Some("v".into()),
            kind: Some("k".into()),
            name: Some("n".into()),
            namespace: Some("ns".into()),
            label_selector: Some("l".into()),
            annotation_selector: Some("a".into()),
        };
        let value = serde_json::to_value(&every).unwrap();
        assert_eq!(
            value.as_object().unwrap().keys().collect::<Vec<_>>().len(),
            Selector::FIELDS.len()
        );
        assert_eq!(Selector::deserialize_pruned(value).unwrap(), Some(every));
    }
}
