//! `namespace`: the namespace transformer.
//!
//! Input: resources and a namespace. Output: every namespaced object moved
//! to it (an existing namespace is overwritten, as kustomize does),
//! Namespace objects renamed to it, other cluster-scoped kinds untouched, and RoleBinding/ClusterRoleBinding
//! subjects fixed: a subject named `default` gets the namespace (kustomize
//! `filters/namespace` `roleBindingHack`), and a ServiceAccount subject that
//! names a ServiceAccount of the build follows it (kustomize's name
//! reference of `subjects`). Also the Service namespaces of APIServices and
//! CRD conversion webhooks (kustomize `namespace.go` field specs).

use serde_json::Value;

use super::fieldspec::{FieldSpec, group_kind};
use super::resource::{self, Resource};
use super::scope::is_cluster_scoped;

/// Other namespace fields kustomize sets (its `namespace.go` field specs).
const OTHER_FIELDS: &[FieldSpec] = &[
    group_kind(
        "apiregistration.k8s.io",
        "APIService",
        "spec/service/namespace",
        true,
    ),
    group_kind(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    ),
];

/// Moves every namespaced resource to `namespace`.
pub fn apply(resources: &mut [Resource], namespace: &str) {
    // ServiceAccounts as they were, to let subjects naming them follow.
    let mut moved_accounts: Vec<(Option<String>, String)> = Vec::new();
    for r in resources.iter_mut() {
        // kustomize's namespace field specs include the name of Namespace
        // objects: they become the namespace.
        if resource::kind(&r.object) == "Namespace" && resource::group(&r.object).is_empty() {
            if resource::name(&r.object) != namespace {
                r.remember_name();
                resource::set_name(&mut r.object, namespace);
            }
            continue;
        }
        if is_cluster_scoped(&r.object) {
            continue;
        }
        if resource::kind(&r.object) == "ServiceAccount" && resource::group(&r.object).is_empty() {
            moved_accounts.push((
                resource::namespace(&r.object).map(str::to_string),
                resource::name(&r.object).to_string(),
            ));
        }
        r.remember_name();
        set_metadata_namespace(&mut r.object, namespace);
    }
    for r in resources.iter_mut() {
        for spec in OTHER_FIELDS {
            let _ = spec.visit(&mut r.object, &mut |v| {
                *v = Value::String(namespace.to_string());
                Ok(())
            });
        }
        if matches!(
            resource::kind(&r.object),
            "RoleBinding" | "ClusterRoleBinding"
        ) {
            fix_subjects(&mut r.object, namespace, &moved_accounts);
        }
    }
}

fn set_metadata_namespace(object: &mut Value, namespace: &str) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("namespace".into(), Value::String(namespace.into()));
    }
}

fn fix_subjects(binding: &mut Value, namespace: &str, moved: &[(Option<String>, String)]) {
    let Some(Value::Array(subjects)) = binding.get_mut("subjects") else {
        return;
    };
    for subject in subjects.iter_mut().filter_map(Value::as_object_mut) {
        let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
        let is_account = subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
        let subject_ns = subject
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let follows_account = is_account
            && moved
                .iter()
                .any(|(ns, n)| n == name && (subject_ns.is_none() || *ns == subject_ns));
        if name == "default" || follows_account {
            subject.insert("namespace".into(), Value::String(namespace.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(objects: Vec<Value>) -> Vec<Value> {
        let mut resources: Vec<Resource> =
            objects.into_iter().map(|o| Resource::new(o, "x")).collect();
        apply(&mut resources, "apps");
        resources.into_iter().map(|r| r.object).collect()
    }

    #[test]
    fn leaves_cluster_scoped_kinds_alone_and_overrides_existing_namespaces() {
        let out = run(vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "other"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
            json!({"apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition", "metadata": {"name": "c"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        ]);
        let namespaces: Vec<Option<&str>> = out.iter().map(resource::namespace).collect();
        // A CRD's kind, cluster-scoped or not, is namespaced for kustomize
        // (`kustomize build` sets it on a Composition too).
        assert_eq!(namespaces, [Some("apps"), None, Some("apps"), Some("apps")]);
        let renamed = run(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}}),
        ]);
        assert_eq!(renamed[0]["metadata"], json!({"name": "apps"}));
    }

    #[test]
    fn moves_service_account_subjects_with_their_account() {
        let out = run(vec![
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "b"},
                   "subjects": [
                       {"kind": "ServiceAccount", "name": "bot"},
                       {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"},
                       {"kind": "ServiceAccount", "name": "elsewhere", "namespace": "kube-system"},
                       {"kind": "User", "name": "jane"}]}),
        ]);
        assert_eq!(
            out[1]["subjects"],
            json!([
                {"kind": "ServiceAccount", "name": "bot", "namespace": "apps"},
                {"kind": "ServiceAccount", "name": "default", "namespace": "apps"},
                {"kind": "ServiceAccount", "name": "elsewhere", "namespace": "kube-system"},
                {"kind": "User", "name": "jane"}])
        );
        assert!(out[1]["metadata"].get("namespace").is_none());
    }
}
