//! Applying the synthetic platform to a real API server the way Flux does:
//! the cluster benchmarks share it.

use std::ops::Range;
use std::path::Path;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use kube::{Client, Config};
use serde_json::{Value, json};

/// Objects applied at once.
const CONCURRENCY: usize = 16;

/// A client for the API server of this kubeconfig.
pub async fn client(kubeconfig: &Path) -> Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Applies the Kustomizations `range` of the synthetic repo (their
/// namespaces, rendered objects and Flux Kustomization objects, with the
/// status kustomize-controller writes), as `kustomize-controller` with
/// force; returns how many rendered objects were applied.
pub async fn apply(client: &Client, repo: &Path, range: Range<usize>) -> usize {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
        "spec": {"group": "kustomize.toolkit.fluxcd.io", "scope": "Namespaced",
                 "names": {"kind": "Kustomization", "plural": "kustomizations", "singular": "kustomization", "listKind": "KustomizationList"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                   "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
    let mut namespaces =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}})];
    let (kustomizations, errors) =
        drift_check::discover::from_dir(repo, "clusters/bench".as_ref(), Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    let mut rest = Vec::new();
    let mut statuses = Vec::new();
    for ks in &kustomizations[range] {
        let mut rendered = drift_check::render::render(repo, ks, &Default::default()).unwrap();
        let mut entries = Vec::new();
        for object in &mut rendered {
            drift_check::diff::normalize::desired(object);
            let r = drift_check::k8s::object::ObjectRef::of(object).unwrap();
            if let Some(ns) = &r.key().namespace {
                namespaces.push(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                );
            }
            entries.push(json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()}));
        }
        rest.extend(rendered);
        let mut manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": ks.name, "namespace": ks.namespace}});
        manifest["spec"] = serde_json::to_value(&ks.spec).unwrap();
        statuses.push((manifest, json!({"status": {"lastAppliedRevision": "main@sha1:0000000000000000000000000000000000000000",
            "inventory": {"entries": entries}}})));
    }
    namespaces.sort_by_key(|n| n["metadata"]["name"].to_string());
    namespaces.dedup();
    let mut discovery = Discovery::new(client.clone()).run().await.unwrap();
    apply_all(client, &discovery, std::slice::from_ref(&crd)).await;
    for _ in 0..100 {
        // A fresh CRD's group is listed before its version is served: retry.
        if let Ok(fresh) = Discovery::new(client.clone()).run().await {
            discovery = fresh;
            if discovery.get("kustomize.toolkit.fluxcd.io").is_some() {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    apply_all(client, &discovery, &namespaces).await;
    apply_all(client, &discovery, &rest).await;
    let manifests: Vec<Value> = statuses.iter().map(|(m, _)| m.clone()).collect();
    apply_all(client, &discovery, &manifests).await;
    futures::stream::iter(&statuses)
        .map(|(manifest, status)| {
            let (api, name) = api_for(client, &discovery, manifest);
            async move {
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    rest.len()
}

/// The API for an object's type and namespace, and its name.
pub fn api_for(
    client: &Client,
    discovery: &Discovery,
    object: &Value,
) -> (Api<DynamicObject>, String) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = kube::core::GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap());
    let (ar, caps) = discovery
        .resolve_gvk(&gvk)
        .unwrap_or_else(|| panic!("{gvk:?} not served"));
    let name = object["metadata"]["name"].as_str().unwrap().to_string();
    let api = match (caps.scope, object["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    (api, name)
}

async fn apply_all(client: &Client, discovery: &Discovery, objects: &[Value]) {
    futures::stream::iter(objects)
        .map(|object| async move {
            let (api, name) = api_for(client, discovery, object);
            api.patch(
                &name,
                &PatchParams::apply("kustomize-controller").force(),
                &Patch::Apply(object),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {name}: {e}"));
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
}
