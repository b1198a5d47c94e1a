//! kustomize's target matching (`patches[].target`, `replacements`): a thin
//! layer on the one selector of [`crate::k8s::selector`].
//!
//! Input: a selector and resources. Output: the resources it selects. On top
//! of the k8s matcher, kustomize's own rules: a name or namespace matches the
//! current or the original value (kustomize's `resWrangler.Select`), and
//! namespaces are compared as [`scope::compared_namespace`] says (none is
//! `default`, except for cluster-scoped kinds).

use crate::k8s::selector::{Matcher, Subject};

use super::resource::{self, Resource};
use super::scope;

pub use crate::k8s::selector::Selector;

/// A kustomize target, ready to select resources.
pub struct TargetMatcher(Matcher);

impl TargetMatcher {
    /// Compiles a selector; the error names the field and what is wrong.
    pub fn new(selector: &Selector) -> Result<Self, String> {
        Matcher::new(selector).map(Self).map_err(|e| e.to_string())
    }

    /// Does the target select the resource, by its current or its original
    /// name and namespace?
    pub fn selects(&self, r: &Resource) -> bool {
        let object = &r.object;
        let current = Subject {
            namespace: scope::compared_namespace(object, resource::namespace(object)),
            ..Subject::of(object)
        };
        let original = r.previous.first();
        let names = [Some(current.name), original.map(|(_, n)| n.as_str())];
        let namespaces = [
            Some(current.namespace),
            original.map(|(ns, _)| scope::compared_namespace(object, ns.as_deref())),
        ];
        // The name and the namespace may each match either value.
        names.iter().flatten().any(|&name| {
            namespaces.iter().flatten().any(|&namespace| {
                self.0.matches(&Subject {
                    name,
                    namespace,
                    ..current
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn select(selector: Value, objects: &[Value]) -> Vec<String> {
        let resources: Vec<Resource> = objects
            .iter()
            .map(|o| Resource::new(o.clone(), "x"))
            .collect();
        select_resources(selector, &resources)
    }

    fn select_resources(selector: Value, resources: &[Resource]) -> Vec<String> {
        let selector: Selector = serde_json::from_value(selector).unwrap();
        let target = TargetMatcher::new(&selector).unwrap();
        resources
            .iter()
            .filter(|r| target.selects(r))
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

    #[test]
    fn matches_the_original_name_and_namespace_after_a_rename() {
        let mut renamed = Resource::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config"}}),
            "x",
        );
        renamed.remember_name();
        renamed.object["metadata"] = json!({"name": "prod-config", "namespace": "apps"});
        let role = Resource::new(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "reader"}}),
            "x",
        );
        let resources = [renamed, role];
        let cases = [
            (
                json!({"name": "config"}),
                vec!["ConfigMap/apps/prod-config"],
            ),
            (
                json!({"name": "prod-config"}),
                vec!["ConfigMap/apps/prod-config"],
            ),
            (
                json!({"namespace": "default"}),
                vec!["ConfigMap/apps/prod-config"],
            ),
            (
                json!({"name": "config", "namespace": "apps"}),
                vec!["ConfigMap/apps/prod-config"],
            ),
            (json!({"name": "reader", "namespace": "default"}), vec![]),
            (json!({"name": "other"}), vec![]),
        ];
        for (selector, want) in cases {
            assert_eq!(
                select_resources(selector.clone(), &resources),
                want,
                "{selector}"
            );
        }
    }
}
