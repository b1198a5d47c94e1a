//! `namePrefix` / `nameSuffix`, and the name reference fix-up that follows
//! every rename.
//!
//! Input: resources. Output: names prefixed/suffixed (not those of
//! CustomResourceDefinitions, APIServices and Namespaces, as kustomize's
//! `PrefixTransformer` skips them), and, at the end of the build, every
//! reference to a renamed object rewritten to its final name (kustomize's
//! `FixBackReferences`, with the field specs of its `namereference.go`).

use serde_json::Value;

use std::borrow::Cow;

use super::config::Reference;
use super::fieldspec::{FieldSpec, built, group_kind, kind, segments, visit_path};
use super::resource::{self, Resource};
use super::scope::{compared_namespace, is_cluster_scoped};

/// Kinds whose names the prefix/suffix transformer leaves alone.
fn keeps_its_name(object: &Value) -> bool {
    matches!(
        (resource::group(object), resource::kind(object)),
        (_, "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | ("", "Namespace")
    )
}

/// Adds `prefix` and `suffix` to every name that takes them.
pub fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: &str) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        if keeps_its_name(&r.object) {
            continue;
        }
        r.remember_name();
        let name = format!("{prefix}{}{suffix}", resource::name(&r.object));
        resource::set_name(&mut r.object, &name);
    }
}

/// Pod spec locations in the built-in workload kinds.
const POD_SPECS: &[(&str, &str, &str)] = &[
    ("", "Pod", "spec"),
    ("", "PodTemplate", "template/spec"),
    ("", "ReplicationController", "spec/template/spec"),
    ("apps", "Deployment", "spec/template/spec"),
    ("apps", "ReplicaSet", "spec/template/spec"),
    ("apps", "DaemonSet", "spec/template/spec"),
    ("apps", "StatefulSet", "spec/template/spec"),
    ("batch", "Job", "spec/template/spec"),
    ("batch", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

const CONFIG_MAP_IN_POD: &[&str] = &[
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
];

const SECRET_IN_POD: &[&str] = &[
    "volumes/secret/secretName",
    "containers/env/valueFrom/secretKeyRef/name",
    "initContainers/env/valueFrom/secretKeyRef/name",
    "containers/envFrom/secretRef/name",
    "initContainers/envFrom/secretRef/name",
    "imagePullSecrets/name",
    "volumes/projected/sources/secret/name",
];

fn references() -> &'static [Reference] {
    static TABLE: std::sync::OnceLock<Vec<Reference>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut refs = Vec::new();
        let r = |group: &'static str, kind: &'static str, field: FieldSpec| Reference {
            group: Cow::Borrowed(group),
            kind: Cow::Borrowed(kind),
            field,
        };
        for (g, k, spec) in POD_SPECS {
            for path in CONFIG_MAP_IN_POD {
                refs.push(r("", "ConfigMap", built(g, k, format!("{spec}/{path}"))));
            }
            for path in SECRET_IN_POD {
                refs.push(r("", "Secret", built(g, k, format!("{spec}/{path}"))));
            }
            let field = |p: &str| built(g, k, format!("{spec}/{p}"));
            refs.push(r("", "ServiceAccount", field("serviceAccountName")));
            refs.push(r(
                "",
                "PersistentVolumeClaim",
                field("volumes/persistentVolumeClaim/claimName"),
            ));
            refs.push(r(
                "scheduling.k8s.io",
                "PriorityClass",
                field("priorityClassName"),
            ));
        }
        for target in [
            "Deployment",
            "ReplicationController",
            "ReplicaSet",
            "StatefulSet",
        ] {
            let group = if target == "ReplicationController" {
                ""
            } else {
                "apps"
            };
            refs.push(r(
                group,
                target,
                kind("HorizontalPodAutoscaler", "spec/scaleTargetRef/name", false),
            ));
        }
        for (g, k) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
        ] {
            refs.push(r(
                "",
                "ConfigMap",
                group_kind(g, k, "rules/resourceNames", false),
            ));
            refs.push(r(
                "",
                "Secret",
                group_kind(g, k, "rules/resourceNames", false),
            ));
        }
        refs.push(r(
            "",
            "ConfigMap",
            kind("Node", "spec/configSource/configMap", false),
        ));
        refs.push(r(
            "",
            "ConfigMap",
            kind(
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
                false,
            ),
        ));
        for path in [
            "spec/tls/secretName",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
        ] {
            refs.push(r("", "Secret", kind("Ingress", path, false)));
        }
        refs.push(r(
            "",
            "Secret",
            kind("ServiceAccount", "imagePullSecrets/name", false),
        ));
        for path in [
            "parameters/secretName",
            "parameters/adminSecretName",
            "parameters/userSecretName",
            "parameters/secretRef",
        ] {
            refs.push(r("", "Secret", kind("StorageClass", path, false)));
        }
        refs.push(r(
            "",
            "Secret",
            kind("PersistentVolume", "spec/azureFile/secretName", false),
        ));
        refs.push(r(
            "",
            "Secret",
            group_kind(
                "serving.knative.dev",
                "Service",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
                false,
            ),
        ));
        for (g, k, path) in [
            ("apps", "StatefulSet", "spec/serviceName"),
            ("", "Ingress", "spec/rules/http/paths/backend/serviceName"),
            ("", "Ingress", "spec/backend/serviceName"),
            ("", "Ingress", "spec/rules/http/paths/backend/service/name"),
            ("", "Ingress", "spec/defaultBackend/service/name"),
            ("apiregistration.k8s.io", "APIService", "spec/service/name"),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            ("", "HTTPRoute", "spec/rules/backendRefs/name"),
        ] {
            let field = if g.is_empty() {
                kind(k, path, false)
            } else {
                group_kind(g, k, path, false)
            };
            refs.push(r("", "Service", field));
        }
        refs.push(r(
            "rbac.authorization.k8s.io",
            "Role",
            group_kind(
                "rbac.authorization.k8s.io",
                "RoleBinding",
                "roleRef/name",
                false,
            ),
        ));
        for k in ["RoleBinding", "ClusterRoleBinding"] {
            refs.push(r(
                "rbac.authorization.k8s.io",
                "ClusterRole",
                group_kind("rbac.authorization.k8s.io", k, "roleRef/name", false),
            ));
            refs.push(r(
                "",
                "ServiceAccount",
                group_kind("rbac.authorization.k8s.io", k, "subjects", false),
            ));
        }
        refs.push(r(
            "",
            "PersistentVolume",
            kind("PersistentVolumeClaim", "spec/volumeName", false),
        ));
        refs.push(r(
            "",
            "PersistentVolume",
            kind("ClusterRole", "rules/resourceNames", false),
        ));
        for (k, path) in [
            ("PersistentVolume", "spec/storageClassName"),
            ("PersistentVolumeClaim", "spec/storageClassName"),
            (
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            ),
        ] {
            refs.push(r("storage.k8s.io", "StorageClass", kind(k, path, false)));
        }
        refs.push(r(
            "networking.k8s.io",
            "IngressClass",
            kind("Ingress", "spec/ingressClassName", false),
        ));
        refs
    })
}

/// A renamed object as references may still name it.
struct Renamed {
    group: String,
    kind: String,
    /// Cluster-scoped objects, and ServiceAccounts (which RoleBindings in
    /// other namespaces name), match a referrer in any namespace.
    any_namespace: bool,
    /// The names it had before its current one.
    previous_names: Vec<String>,
    namespace: Option<String>,
    /// Its namespace as kustomize compares it.
    compared_namespace: String,
    name: String,
}

/// Rewrites every reference to an object that was renamed (or moved) to its
/// final name (and namespace, for object references such as ServiceAccount
/// subjects and webhook services). The referral is chosen as kustomize's
/// `nameref` filter chooses it: one of its previous names is the reference,
/// and it is in the referrer's current namespace (unless either is
/// cluster-scoped, or it is a ServiceAccount); among several, those with the
/// same name are as good as one; otherwise the reference is left alone.
pub fn fix_references(resources: &mut [Resource], configured: &[Reference]) {
    let renamed: Vec<Renamed> = resources
        .iter()
        .filter(|r| !r.previous.is_empty())
        .map(|r| Renamed {
            group: resource::group(&r.object).to_string(),
            kind: resource::kind(&r.object).to_string(),
            any_namespace: is_cluster_scoped(&r.object)
                || (resource::kind(&r.object) == "ServiceAccount"
                    && resource::group(&r.object).is_empty()),
            previous_names: r.previous.iter().map(|(_, n)| n.clone()).collect(),
            namespace: resource::namespace(&r.object).map(str::to_string),
            compared_namespace: compared_namespace(&r.object, resource::namespace(&r.object))
                .to_string(),
            name: resource::name(&r.object).to_string(),
        })
        .collect();
    if renamed.is_empty() {
        return;
    }
    // Only references to kinds that were renamed matter; index them by the
    // referrer kind they apply to.
    let mut by_referrer: std::collections::HashMap<&str, Vec<&Reference>> =
        std::collections::HashMap::new();
    for reference in references().iter().chain(configured) {
        if renamed
            .iter()
            .any(|c| c.group == reference.group && c.kind == reference.kind)
        {
            let kind = reference.field.kind.as_deref().unwrap_or("");
            by_referrer.entry(kind).or_default().push(reference);
        }
    }
    for r in resources.iter_mut() {
        let referrer_namespace = (!is_cluster_scoped(&r.object))
            .then(|| compared_namespace(&r.object, resource::namespace(&r.object)).to_string());
        let kind = resource::kind(&r.object).to_string();
        let applicable: Vec<&Reference> = [kind.as_str(), ""]
            .iter()
            .filter_map(|k| by_referrer.get(k))
            .flatten()
            .copied()
            .collect();
        for reference in applicable {
            if !reference.field.selects(&r.object) {
                continue;
            }
            let candidates: Vec<&Renamed> = renamed
                .iter()
                .filter(|c| c.group == reference.group && c.kind == reference.kind)
                .filter(|c| {
                    c.any_namespace
                        || referrer_namespace
                            .as_ref()
                            .is_none_or(|ns| *ns == c.compared_namespace)
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let path = segments(&reference.field.path);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let _ = visit_path(&mut r.object, &path, false, &mut |value| {
                rewrite(value, &candidates);
                Ok(())
            });
        }
    }
}

/// The referral once called `name`: the only one, or the first of several
/// that now have the same name.
fn find<'a>(candidates: &[&'a Renamed], name: &str) -> Option<&'a Renamed> {
    let found: Vec<&Renamed> = candidates
        .iter()
        .copied()
        .filter(|c| c.previous_names.iter().any(|n| n == name))
        .collect();
    let first = *found.first()?;
    found.iter().all(|c| c.name == first.name).then_some(first)
}

fn rewrite(value: &mut Value, candidates: &[&Renamed]) {
    match value {
        Value::String(name) => {
            if let Some(c) = find(candidates, name) {
                *name = c.name.clone();
            }
        }
        Value::Array(names) => {
            // A list of names (Role `rules[].resourceNames`).
            for item in names {
                if let Value::String(name) = item
                    && let Some(c) = find(candidates, name)
                {
                    *name = c.name.clone();
                }
            }
        }
        Value::Object(map) => {
            let Some(name) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
                return;
            };
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k != "ServiceAccount")
            {
                return;
            }
            if let Some(c) = find(candidates, &name) {
                map.insert("name".into(), Value::String(c.name.clone()));
                // An object reference (ServiceAccount subject, webhook
                // service) follows its object's namespace too.
                if let Some(ns) = &c.namespace {
                    map.insert("namespace".into(), Value::String(ns.clone()));
                }
            }
        }
        _ => {}
    }
}
