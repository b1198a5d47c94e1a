//! Rules that explain drift: ignore rules (JSON Pointers + a target selector)
//! and the field managers of controllers whose writes are expected.

use serde::Deserialize;

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
    /// Which objects the rule applies to (all when absent). Unknown fields
    /// are ignored, as they always were.
    #[serde(default, deserialize_with = "Selector::deserialize_pruned")]
    pub target: Option<Selector>,
    /// Only for this Kustomization (`name` or `namespace/name`).
    #[serde(default)]
    pub kustomization: Option<String>,
}

/// A compiled ignore rule.
#[derive(Clone, Debug)]
pub struct IgnoreRule {
    reason: String,
    paths: Vec<Vec<String>>,
    target: Option<Matcher>,
    kustomization: Option<String>,
}

/// An ignore rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A path is not a JSON Pointer.
    #[error(
        "ignore[{index}].paths: {path:?} is not a JSON Pointer (expected e.g. \"/spec/replicas\")"
    )]
    Path { index: usize, path: String },
    /// The target selector does not compile.
    #[error("ignore[{index}].target.{source}")]
    Target {
        index: usize,
        #[source]
        source: SelectorError,
    },
    /// No reason given.
    #[error(
        "ignore[{index}].reason: empty (say why this drift is expected, e.g. \"images are pushed by CI\")"
    )]
    Reason { index: usize },
}

impl IgnoreRule {
    /// Validates and compiles the rule at `index` of the config's list.
    pub fn new(index: usize, spec: &IgnoreRuleSpec) -> Result<Self, RuleError> {
        if spec.reason.trim().is_empty() {
            return Err(RuleError::Reason { index });
        }
        let paths = spec
            .paths
            .iter()
            .map(|p| {
                if p.is_empty() {
                    Ok(Vec::new())
                } else if let Some(rest) = p.strip_prefix('/') {
                    Ok(rest
                        .split('/')
                        .map(|t| t.replace("~1", "/").replace("~0", "~"))
                        .collect())
                } else {
                    Err(RuleError::Path {
                        index,
                        path: p.clone(),
                    })
                }
            })
            .collect::<Result<_, _>>()?;
        let target = spec
            .target
            .as_ref()
            .map(Matcher::new)
            .transpose()
            .map_err(|source| RuleError::Target { index, source })?;
        Ok(Self {
            reason: spec.reason.clone(),
            paths,
            target,
            kustomization: spec.kustomization.clone(),
        })
    }

    /// The built-in rule: `kubectl rollout restart` stamps the pod template
    /// with `kubectl.kubernetes.io/restartedAt` to restart pods; it changes no
    /// configuration.
    pub fn rollout_restart() -> Self {
        Self {
            reason: "kubectl rollout restart (restarts pods, changes no configuration)".into(),
            paths: vec![
                [
                    "spec",
                    "template",
                    "metadata",
                    "annotations",
                    "kubectl.kubernetes.io/restartedAt",
                ]
                .map(String::from)
                .to_vec(),
            ],
            target: None,
            kustomization: None,
        }
    }

    /// Why, when the rule applies to this object in this Kustomization.
    pub fn applies(&self, object: &Object, kustomization: Option<(&str, &str)>) -> bool {
        let ks_matches = match (&self.kustomization, kustomization) {
            (None, _) => true,
            (Some(wanted), Some((ns, name))) => match wanted.split_once('/') {
                Some((wns, wname)) => wns == ns && wname == name,
                None => wanted == name,
            },
            (Some(_), None) => false,
        };
        ks_matches
            && self
                .target
                .as_ref()
                .is_none_or(|t| t.matches(&Subject::of(object)))
    }

    /// Does the rule cover the whole object (no paths)?
    pub fn covers_object(&self) -> bool {
        self.paths.is_empty() || self.paths.iter().any(Vec::is_empty)
    }

    /// Does the rule cover the change at this JSON Pointer?
    pub fn covers_path(&self, path: &str) -> bool {
        if self.covers_object() {
            return true;
        }
        let tokens: Vec<String> = path
            .strip_prefix('/')
            .map(|p| {
                p.split('/')
                    .map(|t| t.replace("~1", "/").replace("~0", "~"))
                    .collect()
            })
            .unwrap_or_default();
        self.paths.iter().any(|rule| {
            rule.len() <= tokens.len() && rule.iter().zip(&tokens).all(|(r, t)| r == "*" || r == t)
        })
    }

    /// The explanation printed with what the rule covers.
    pub fn reason(&self) -> &str {
        &self.reason
    }
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
}
