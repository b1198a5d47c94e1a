//! Rules that explain drift: ignore rules (JSON Pointers + a target selector)
//! and the field managers of controllers whose writes are expected.

use serde::Deserialize;
use serde_json::Value;

use crate::flux::{self, Kustomization};
use crate::k8s::object::Object;
use crate::k8s::selector::{Matcher, Selector, SelectorError, Subject};

/// An ignore rule as written in the config file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IgnoreRuleSpec {
    /// Why these differences are expected; printed as the explanation.
    pub reason: String,
    /// JSON Pointers of the ignored fields; everything below a pointer is
    /// ignored too, and a `*` token matches any one key or index. Empty: the
    /// whole object (any finding about it, missing and orphaned included).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Which objects the rule applies to (all when absent). An unknown
    /// field is an error: dropped, a misspelt `kinds:` would widen the rule
    /// to every object and silence their drift.
    #[serde(default)]
    pub target: Option<Selector>,
    /// Only for this Kustomization (`name` or `namespace/name`).
    #[serde(default)]
    pub kustomization: Option<String>,
}

/// A compiled ignore rule: the config's, or one of a Kustomization's
/// `spec.ignore`.
#[derive(Clone, Debug)]
pub struct IgnoreRule {
    origin: Origin,
    paths: Vec<Pointer>,
    target: Option<Matcher>,
    kustomization: Option<String>,
}

/// Where a rule was written, which decides how its paths read and what its
/// explanation says.
#[derive(Clone, Debug)]
enum Origin {
    /// The config's `ignore` list (or built in): `*` tokens are wildcards,
    /// and the reason is the explanation.
    Config { reason: String },
    /// `spec.ignore[index]` of the Flux Kustomization `namespace/name`, or
    /// `spec.driftDetection.ignore[index]` of a HelmRelease (`object`:
    /// `Kustomization ns/name`, `HelmRelease ns/name`): tokens are literal,
    /// as in Flux, and the explanation names the rule.
    Flux {
        object: String,
        list: &'static str,
        index: usize,
    },
}

/// A JSON Pointer as written, and its unescaped tokens (none: the root).
#[derive(Clone, Debug)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses an RFC 6901 pointer: `""`, or `/` followed by tokens in which
    /// `~` is only `~0` (`~`) or `~1` (`/`).
    fn parse(text: &str) -> Option<Self> {
        let tokens = match text.strip_prefix('/') {
            None if text.is_empty() => Vec::new(),
            None => return None,
            Some(rest) => rest.split('/').map(unescape).collect::<Option<_>>()?,
        };
        Some(Self {
            text: text.to_string(),
            tokens,
        })
    }
}

/// One pointer token unescaped (`~1` → `/`, then `~0` → `~`); `None` when a
/// `~` is followed by anything else.
fn unescape(token: &str) -> Option<String> {
    let mut rest = token;
    while let Some(at) = rest.find('~') {
        if !matches!(rest.as_bytes().get(at + 1), Some(b'0' | b'1')) {
            return None;
        }
        rest = &rest[at + 2..];
    }
    Some(token.replace("~1", "/").replace("~0", "~"))
}

/// An ignore rule that cannot be used. `list` is where it was written:
/// `ignore` (the config) or `spec.ignore` (a Flux Kustomization).
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A path is not a JSON Pointer.
    #[error(
        "{list}[{index}].paths: {path:?} is not a JSON Pointer (expected e.g. \"/spec/replicas\", with `/` in a key written `~1`)"
    )]
    Path {
        list: &'static str,
        index: usize,
        path: String,
    },
    /// The target selector does not compile. The selector's error is part
    /// of this message (`ignore[0].target.kind: ...`), not a cause printed
    /// after it.
    #[error("{list}[{index}].target.{selector}")]
    Target {
        list: &'static str,
        index: usize,
        selector: SelectorError,
    },
    /// No reason given.
    #[error(
        "ignore[{index}].reason: empty (say why this drift is expected, e.g. \"images are pushed by CI\")"
    )]
    Reason { index: usize },
}

/// The name of the config's list of rules in errors.
const CONFIG_LIST: &str = "ignore";
/// The name of a Flux Kustomization's list of rules in errors.
const FLUX_LIST: &str = "spec.ignore";
/// The name of a HelmRelease's list of rules in errors.
const HELM_LIST: &str = "spec.driftDetection.ignore";

impl IgnoreRule {
    /// Validates and compiles the rule at `index` of the config's list.
    pub fn new(index: usize, spec: &IgnoreRuleSpec) -> Result<Self, RuleError> {
        if spec.reason.trim().is_empty() {
            return Err(RuleError::Reason { index });
        }
        Ok(Self {
            origin: Origin::Config {
                reason: spec.reason.clone(),
            },
            paths: pointers(CONFIG_LIST, index, &spec.paths)?,
            target: matcher(CONFIG_LIST, index, spec.target.as_ref())?,
            kustomization: spec.kustomization.clone(),
        })
    }

    /// Compiles a Kustomization's `spec.ignore`: the rules that compile, and
    /// an error for each one that does not (a bad regex, pointer or label
    /// selector), which fails the whole apply in Flux
    /// (`jsondiff.CompileIgnoreRules`).
    pub fn of_kustomization(ks: &Kustomization) -> (Vec<Self>, Vec<RuleError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (index, rule) in ks.spec.ignore.iter().enumerate() {
            match Self::flux(ks, index, rule) {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push(e),
            }
        }
        (rules, errors)
    }

    fn flux(ks: &Kustomization, index: usize, rule: &flux::IgnoreRule) -> Result<Self, RuleError> {
        Ok(Self {
            origin: Origin::Flux {
                object: format!("Kustomization {}", ks.id()),
                list: FLUX_LIST,
                index,
            },
            paths: pointers(FLUX_LIST, index, &rule.paths)?,
            target: matcher(FLUX_LIST, index, rule.target.as_ref())?,
            kustomization: Some(ks.id()),
        })
    }

    /// Compiles a HelmRelease's `spec.driftDetection.ignore` (the same shape
    /// as a Kustomization's `spec.ignore`, applied by helm-controller through
    /// the same fluxcd/pkg `jsondiff` rules): the rules that compile, and an
    /// error for each one that does not. Scoped to the Kustomization that
    /// renders the HelmRelease.
    pub fn of_helm_release(hr: &crate::helm::HelmRelease) -> (Vec<Self>, Vec<RuleError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (index, rule) in hr.drift_ignore.iter().enumerate() {
            let compiled = pointers(HELM_LIST, index, &rule.paths).and_then(|paths| {
                Ok(Self {
                    origin: Origin::Flux {
                        object: format!("HelmRelease {}", hr.id()),
                        list: HELM_LIST,
                        index,
                    },
                    paths,
                    target: matcher(HELM_LIST, index, rule.target.as_ref())?,
                    kustomization: Some(hr.kustomization.clone()),
                })
            });
            match compiled {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push(e),
            }
        }
        (rules, errors)
    }

    /// The built-in rule: `kubectl rollout restart` stamps the pod template
    /// with `kubectl.kubernetes.io/restartedAt` to restart pods; it changes no
    /// configuration.
    pub fn rollout_restart() -> Self {
        let pointer = "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt";
        Self {
            origin: Origin::Config {
                reason: "kubectl rollout restart (restarts pods, changes no configuration)".into(),
            },
            paths: vec![Pointer::parse(pointer).expect("a valid pointer")],
            target: None,
            kustomization: None,
        }
    }

    /// Does the rule apply to this object in this Kustomization?
    pub fn applies(&self, object: &Object, kustomization: Option<(&str, &str)>) -> bool {
        self.applies_to(&Subject::of(object), kustomization)
    }

    /// Does the rule apply to this subject in this Kustomization?
    pub fn applies_to(&self, subject: &Subject, kustomization: Option<(&str, &str)>) -> bool {
        let ks_matches = match (&self.kustomization, kustomization) {
            (None, _) => true,
            (Some(wanted), Some((ns, name))) => match wanted.split_once('/') {
                Some((wns, wname)) => wns == ns && wname == name,
                None => wanted == name,
            },
            (Some(_), None) => false,
        };
        ks_matches && self.target.as_ref().is_none_or(|t| t.matches(subject))
    }

    /// Does the rule cover the whole object, whatever the finding (a config
    /// rule without paths or with `""`)? A Kustomization's `spec.ignore` never
    /// does: Flux still creates a missing object and prunes an orphan.
    pub fn covers_object(&self) -> bool {
        matches!(self.origin, Origin::Config { .. })
            && (self.paths.is_empty() || self.paths.iter().any(|p| p.tokens.is_empty()))
    }

    /// Does the rule cover the change at this JSON Pointer?
    pub fn covers_path(&self, path: &str) -> bool {
        self.covering(path, &Value::Null).is_some()
    }

    /// The explanation of the change at `path` of `object` (the live object,
    /// which list indices refer to), when the rule covers it.
    pub fn explain(&self, path: &str, object: &Object) -> Option<String> {
        let pointer = self.covering(path, object)?;
        Some(match &self.origin {
            Origin::Config { reason } => reason.clone(),
            Origin::Flux {
                object,
                list,
                index,
            } => {
                let what = if pointer.text.is_empty() {
                    "the whole object"
                } else {
                    &pointer.text
                };
                format!("ignored by {object} {list}[{index}] ({what})")
            }
        })
    }

    /// The rule's pointer that covers the change at `path`: the change is at
    /// or below it. For a config rule a `*` token matches any one token; for
    /// a Flux rule a negative index counts from the end of the list in
    /// `object`, as Flux's JSON patch removal does (`SupportNegativeIndices`).
    fn covering(&self, path: &str, object: &Object) -> Option<&Pointer> {
        if self.covers_object() {
            return self.paths.first().or(Some(&ROOT));
        }
        let tokens = Pointer::parse(path).map(|p| p.tokens).unwrap_or_default();
        let wildcards = matches!(self.origin, Origin::Config { .. });
        self.paths.iter().find(|rule| {
            if rule.tokens.len() > tokens.len() {
                return false;
            }
            let mut at = Some(object);
            rule.tokens.iter().zip(&tokens).all(|(r, t)| {
                let here = at;
                at = here.and_then(|v| child(v, t));
                r == t
                    || (wildcards && r == "*")
                    || (!wildcards && from_end(r, here).is_some_and(|i| i.to_string() == *t))
            })
        })
    }
}

/// The root pointer, for rules that cover the object without naming a path.
static ROOT: Pointer = Pointer {
    text: String::new(),
    tokens: Vec::new(),
};

/// The value at one pointer token below `value`.
fn child<'v>(value: &'v Value, token: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(token.parse::<usize>().ok()?),
        _ => None,
    }
}

/// The index a negative token (`-1`: the last item) stands for in the list `at`.
fn from_end(token: &str, at: Option<&Value>) -> Option<usize> {
    let back: usize = token.strip_prefix('-')?.parse().ok()?;
    let len = at?.as_array()?.len();
    len.checked_sub(back).filter(|_| back > 0)
}

fn pointers(list: &'static str, index: usize, paths: &[String]) -> Result<Vec<Pointer>, RuleError> {
    paths
        .iter()
        .map(|p| {
            Pointer::parse(p).ok_or_else(|| RuleError::Path {
                list,
                index,
                path: p.clone(),
            })
        })
        .collect()
}

fn matcher(
    list: &'static str,
    index: usize,
    target: Option<&Selector>,
) -> Result<Option<Matcher>, RuleError> {
    target
        .map(Matcher::new)
        .transpose()
        .map_err(|selector| RuleError::Target {
            list,
            index,
            selector,
        })
}

/// Field managers of controllers whose writes to declared fields are expected,
/// with why. `kube-controller-manager` writes `spec.replicas` for a
/// HorizontalPodAutoscaler.
pub const CONTROLLER_MANAGERS: &[&str] = &[
    "kube-controller-manager",
    "cluster-autoscaler",
    "vpa-updater",
    "vpa-admission-controller",
    "keda-operator",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(paths: &[&str], kind: &str) -> IgnoreRuleSpec {
        IgnoreRuleSpec {
            reason: "images are pushed by CI".into(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            target: Some(Selector {
                kind: Some(kind.into()),
                ..Default::default()
            }),
            kustomization: Some("docs".into()),
        }
    }

    #[test]
    fn covers_paths_below_a_pointer_and_wildcard_tokens() {
        let rule = IgnoreRule::new(
            0,
            &spec(
                &["/spec/template/spec/containers/*/image", "/metadata/labels"],
                "Deployment",
            ),
        )
        .unwrap();
        assert!(rule.covers_path("/spec/template/spec/containers/0/image"));
        assert!(rule.covers_path("/spec/template/spec/containers/3/image"));
        assert!(rule.covers_path("/metadata/labels/team"));
        assert!(!rule.covers_path("/spec/template/spec/containers/0/env"));
        assert!(!rule.covers_path("/spec/replicas"));
    }

    #[test]
    fn applies_by_target_and_kustomization() {
        let rule = IgnoreRule::new(0, &spec(&["/spec/replicas"], "Deployment")).unwrap();
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}});
        assert!(rule.applies(&deploy, Some(("flux-system", "docs"))));
        assert!(!rule.applies(&deploy, Some(("flux-system", "monitoring"))));
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}});
        assert!(!rule.applies(&svc, Some(("flux-system", "docs"))));
    }

    #[test]
    fn the_rollout_restart_rule_covers_only_restarted_at() {
        let rule = IgnoreRule::rollout_restart();
        assert!(
            rule.covers_path(
                "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"
            )
        );
        assert!(!rule.covers_path("/spec/template/metadata/annotations/other"));
    }

    #[test]
    fn invalid_rules_name_the_field() {
        let err = IgnoreRule::new(2, &spec(&["spec/replicas"], "Deployment"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("ignore[2].paths: \"spec/replicas\" is not a JSON Pointer"),
            "{err}"
        );
        let err = IgnoreRule::new(1, &spec(&["/x"], "("))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("ignore[1].target.kind: invalid regular expression"),
            "{err}"
        );
        let mut no_reason = spec(&["/x"], "Deployment");
        no_reason.reason = " ".into();
        assert!(
            IgnoreRule::new(0, &no_reason)
                .unwrap_err()
                .to_string()
                .starts_with("ignore[0].reason")
        );
    }

    #[test]
    fn kustomization_rules_that_do_not_compile_name_their_index() {
        use crate::flux::{IgnoreRule as FluxRule, Kustomization, KustomizationSpec, Origin};
        let rule = |paths: &[&str], target: Option<Selector>| FluxRule {
            paths: paths.iter().map(|s| s.to_string()).collect(),
            target,
        };
        let ks = Kustomization {
            namespace: "flux-system".into(),
            name: "apps".into(),
            spec: KustomizationSpec {
                ignore: vec![
                    rule(&["/spec/replicas"], None),
                    rule(&["spec/replicas"], None),
                    rule(&["/metadata/annotations/a~2b"], None),
                    rule(
                        &["/x"],
                        Some(Selector {
                            name: Some("web-(".into()),
                            ..Default::default()
                        }),
                    ),
                    rule(
                        &["/x"],
                        Some(Selector {
                            label_selector: Some("app in web".into()),
                            ..Default::default()
                        }),
                    ),
                ],
                ..Default::default()
            },
            status: Default::default(),
            annotations: Default::default(),
            suspended_since: None,
            origin: Origin::Live,
        };
        let (rules, errors) = IgnoreRule::of_kustomization(&ks);
        assert_eq!(rules.len(), 1);
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(
            errors[..2],
            [
                "spec.ignore[1].paths: \"spec/replicas\" is not a JSON Pointer (expected e.g. \"/spec/replicas\", with `/` in a key written `~1`)",
                "spec.ignore[2].paths: \"/metadata/annotations/a~2b\" is not a JSON Pointer (expected e.g. \"/spec/replicas\", with `/` in a key written `~1`)",
            ]
        );
        assert!(
            errors[2]
                .starts_with("spec.ignore[3].target.name: invalid regular expression \"web-(\""),
            "{}",
            errors[2]
        );
        assert_eq!(
            errors[3],
            "spec.ignore[4].target.labelSelector: invalid selector \"app in web\": unable to parse requirement: found 'web' expected: '(' (expected e.g. \"app=web,tier!=db\")"
        );
    }
}
