//! The drift the cluster benchmarks inject into the synthetic platform, and
//! the snapshot they dump of it (`kubectl get -A -o yaml` files).

use std::path::Path;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;

/// (drift, kind, namespace, name) of a finding.
pub type Finding = (String, String, String, String);

/// Every finding of a `check -o json` report, as the drift injected is
/// written.
pub fn findings_of(report: &serde_json::Value) -> std::collections::BTreeSet<Finding> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                text(&f["drift"]),
                text(&f["object"]["kind"]),
                text(&f["object"]["namespace"]),
                text(&f["object"]["name"]),
            )
        })
        .collect()
}

/// The types `check` lists on the synthetic platform: (apiVersion, kind, plural).
pub const TYPES: [(&str, &str, &str); 7] = [
    ("apps/v1", "Deployment", "deployments"),
    ("v1", "Service", "services"),
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("rbac.authorization.k8s.io/v1", "Role", "roles"),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
    ),
    (
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "kustomizations",
    ),
];

/// A person's changes in Kustomization `i`: scales a Deployment with
/// `kubectl edit`'s field manager and deletes a ConfigMap.
pub async fn inject(client: &kube::Client, i: usize) -> [Finding; 2] {
    let namespace = format!("app-{i:03}");
    let deployments = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        &namespace,
        &ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    deployments
        .patch(
            "web-0",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let config_maps = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        &namespace,
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    config_maps
        .delete("settings-5", &DeleteParams::default())
        .await
        .unwrap();
    injected(i)
}

/// What [`inject`] changes in Kustomization `i`, as findings.
pub fn injected(i: usize) -> [Finding; 2] {
    let namespace = format!("app-{i:03}");
    let finding = |drift: &str, kind: &str, name: &str| {
        (drift.into(), kind.into(), namespace.clone(), name.into())
    };
    [
        finding("modified", "Deployment", "web-0"),
        finding("missing", "ConfigMap", "settings-5"),
    ]
}

/// Writes what the API server holds of the platform's types as
/// `kubectl get -A -o yaml` would (one `kind: List` file per type,
/// managedFields included); returns how many objects.
pub async fn dump(client: &kube::Client, dir: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let types = TYPES;
    let mut count = 0;
    for (api_version, kind, plural) in types {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api = Api::<DynamicObject>::all_with(client.clone(), &ar);
        let mut items = Vec::new();
        let mut params = ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await.unwrap();
            for item in page.items {
                let mut object = serde_json::to_value(item).unwrap();
                object["apiVersion"] = api_version.into();
                object["kind"] = kind.into();
                items.push(object);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        count += items.len();
        let list = json!({"apiVersion": "v1", "kind": "List",
            "metadata": {"resourceVersion": ""}, "items": items});
        std::fs::write(
            dir.join(format!("{plural}.yaml")),
            drift_check::yaml::to_string(&list),
        )
        .unwrap();
    }
    count
}
