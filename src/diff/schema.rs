//! Which lists of built-in types are keyed, and by what.
//!
//! Strategic merge and server-side apply match the items of these lists by
//! their merge keys (the `patchMergeKey` / `listMapKeys` of the Kubernetes API
//! types), so order does not matter and an item added live is an addition, not
//! a change of the whole list. Lists of custom resources are atomic unless their
//! schema says otherwise, as kustomize and Flux treat them: compared by position.

/// API groups whose types are built into the API server.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "certificates.k8s.io",
];

/// Is `group` served by the API server itself (not a CRD)?
pub fn is_builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// The merge keys of the list at `path` (field names only, no indices) of an
/// object of `kind` in `group`; `None` for atomic lists.
pub fn list_keys(group: &str, kind: &str, path: &[&str]) -> Option<&'static [&'static str]> {
    if let ["metadata", "ownerReferences"] = path {
        return Some(&["uid"]);
    }
    if !is_builtin_group(group) {
        return None;
    }
    let field = *path.last()?;
    let parent = path.len().checked_sub(2).map(|i| path[i]);
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => Some(&["name"]),
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => {
            Some(&["name"])
        }
        "volumeMounts" => Some(&["mountPath"]),
        "volumeDevices" => Some(&["devicePath"]),
        "hostAliases" => Some(&["ip"]),
        "readinessGates" => Some(&["conditionType"]),
        "topologySpreadConstraints" => Some(&["topologyKey", "whenUnsatisfiable"]),
        "ports"
            if matches!(
                parent,
                Some("containers" | "initContainers" | "ephemeralContainers")
            ) =>
        {
            Some(&["containerPort", "protocol"])
        }
        "ports" if kind == "Service" && path == ["spec", "ports"] => Some(&["port", "protocol"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_pod_template_lists() {
        let c = ["spec", "template", "spec", "containers"];
        assert_eq!(list_keys("apps", "Deployment", &c), Some(&["name"][..]));
        assert_eq!(
            list_keys("apps", "Deployment", &[&c[..], &["env"]].concat()),
            Some(&["name"][..])
        );
        assert_eq!(
            list_keys("apps", "Deployment", &[&c[..], &["ports"]].concat()),
            Some(&["containerPort", "protocol"][..])
        );
        assert_eq!(
            list_keys("apps", "Deployment", &[&c[..], &["volumeMounts"]].concat()),
            Some(&["mountPath"][..])
        );
        assert_eq!(
            list_keys("", "Service", &["spec", "ports"]),
            Some(&["port", "protocol"][..])
        );
    }

    #[test]
    fn lists_without_merge_keys_are_atomic() {
        assert_eq!(
            list_keys("rbac.authorization.k8s.io", "ClusterRole", &["rules"]),
            None
        );
        assert_eq!(
            list_keys(
                "networking.k8s.io",
                "NetworkPolicy",
                &["spec", "ingress", "ports"]
            ),
            None
        );
        assert_eq!(
            list_keys("gateway.networking.k8s.io", "HTTPRoute", &["spec", "rules"]),
            None
        );
        assert_eq!(
            list_keys("example.com", "Thing", &["spec", "containers"]),
            None
        );
    }
}
