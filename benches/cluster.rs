//! Benchmark: `drift-check check` on a synthetic platform applied to a real
//! kube-apiserver, side by side with a loop of `kubectl diff --server-side`
//! over the same Kustomizations.
//!
//! Run with `bench/cluster` (it starts the API server, installs kubectl 1.20
//! from Debian's kubernetes-client, and runs `cargo bench --bench cluster`).
//! Sizes: DRIFT_CHECK_BENCH_KUSTOMIZATIONS (200) × DRIFT_CHECK_BENCH_OBJECTS (50).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use kube::{Client, Config};
use serde_json::{Value, json};

#[path = "synthetic/mod.rs"]
mod synthetic;
use synthetic::generate;

fn main() {
    let Ok(kubeconfig) = std::env::var("DRIFT_CHECK_TEST_KUBECONFIG") else {
        eprintln!(
            "DRIFT_CHECK_TEST_KUBECONFIG is not set: run bench/cluster, which starts a kube-apiserver"
        );
        return;
    };
    let kubeconfig = PathBuf::from(kubeconfig);
    let kustomizations: usize = env_number("DRIFT_CHECK_BENCH_KUSTOMIZATIONS", 200);
    let per: usize = env_number("DRIFT_CHECK_BENCH_OBJECTS", 50);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    generate(&repo, kustomizations, per);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let applied = runtime.block_on(apply_platform(&kubeconfig, &repo, kustomizations));
    eprintln!(
        "applied {applied} objects in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let binary = PathBuf::from(env!("CARGO_BIN_EXE_drift-check"));
    // drift-check, as the CronJob runs it, under /usr/bin/time for its peak RSS.
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&binary)
        .args(["check", "-o", "json", "--repo"])
        .arg(&repo)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let rss_kb = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
                .map(|v| v.parse::<u64>().unwrap())
        })
        .unwrap_or(0);
    let requests = report["run"]["api_requests"].as_u64().unwrap_or(0);
    let objects = report["summary"]["objects"].as_u64().unwrap_or(0);
    let findings = report["summary"]["findings"].as_u64().unwrap_or(0);
    let errors = report["summary"]["errors"].as_u64().unwrap_or(0);
    let types = 6u64; // Deployment, Service, ConfigMap, ServiceAccount, Role, RoleBinding
    let namespaces = kustomizations as u64;

    // The baseline: what a person would run per Kustomization.
    let kubectl = std::env::var("DRIFT_CHECK_BENCH_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let rendered = dir.path().join("rendered");
    std::fs::create_dir_all(&rendered).unwrap();
    // kubectl 1.20's server-side diff rejects ports without `protocol`, as
    // the API server does: give it the render normalized the way Flux applies it.
    let (all, _) =
        drift_check::discover::from_dir(&repo, "clusters/bench".as_ref(), Default::default());
    for ks in &all {
        let mut objects = drift_check::render::render(&repo, ks, &Default::default()).unwrap();
        let mut text = String::new();
        for object in &mut objects {
            drift_check::diff::normalize::desired(object);
            text.push_str("---\n");
            text.push_str(&drift_check::yaml::to_string(object));
        }
        std::fs::write(rendered.join(format!("{}.yaml", ks.name)), text).unwrap();
    }
    let started = Instant::now();
    for i in 0..kustomizations {
        let status = Command::new(&kubectl)
            .args(["--kubeconfig"])
            .arg(&kubeconfig)
            .args([
                "diff",
                "--server-side",
                "--field-manager=kustomize-controller",
                "--force-conflicts",
                "-f",
            ])
            .arg(rendered.join(format!("app-{i:03}.yaml")))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.code().unwrap_or(2) <= 1,
            "kubectl diff failed for app-{i:03}"
        );
    }
    let kubectl_wall = started.elapsed().as_secs_f64();

    println!(
        "| platform | {kustomizations} Kustomizations, {objects} objects ({applied} applied) |"
    );
    println!(
        "| drift-check check (local mode) | {wall:.2} s wall, {:.0} MB peak RSS, {requests} API requests (budget 2 × {types} types × {namespaces} namespaces + {kustomizations} = {}) |",
        rss_kb as f64 / 1024.0,
        2 * types * namespaces + kustomizations as u64
    );
    println!(
        "| kubectl diff --server-side loop | {kubectl_wall:.2} s wall ({:.1}× drift-check) |",
        kubectl_wall / wall
    );
    println!("| findings / errors | {findings} / {errors} |");
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Applies the rendered platform the way Flux does and writes each
/// Kustomization's status; returns how many objects were applied.
async fn apply_platform(kubeconfig: &Path, repo: &Path, n: usize) -> usize {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
        "spec": {"group": "kustomize.toolkit.fluxcd.io", "scope": "Namespaced",
                 "names": {"kind": "Kustomization", "plural": "kustomizations", "singular": "kustomization", "listKind": "KustomizationList"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                   "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
    let mut objects = vec![
        crd,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
    ];
    let (kustomizations, errors) =
        drift_check::discover::from_dir(repo, "clusters/bench".as_ref(), Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    let mut statuses = Vec::new();
    for (i, ks) in kustomizations.iter().enumerate().take(n) {
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("app-{i:03}")}}));
        let mut rendered = drift_check::render::render(repo, ks, &Default::default()).unwrap();
        let mut entries = Vec::new();
        for object in &mut rendered {
            drift_check::diff::normalize::desired(object);
            let r = drift_check::k8s::object::ObjectRef::of(object).unwrap();
            entries.push(json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()}));
        }
        objects.extend(rendered);
        let mut manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": ks.name, "namespace": ks.namespace}});
        manifest["spec"] = serde_json::to_value(&ks.spec).unwrap();
        statuses.push((manifest, json!({"status": {"lastAppliedRevision": "main@sha1:0000000000000000000000000000000000000000",
            "inventory": {"entries": entries}}})));
    }
    let mut discovery = Discovery::new(client.clone()).run().await.unwrap();
    // Cluster-scoped first (CRD, namespaces), then wait for the CRD to be served.
    apply_all(&client, &discovery, &objects[..2]).await;
    for _ in 0..100 {
        // A fresh CRD's group is listed before its version is served: retry.
        let Ok(fresh) = Discovery::new(client.clone()).run().await else {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        };
        discovery = fresh;
        if discovery.get("kustomize.toolkit.fluxcd.io").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let namespaces: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .cloned()
        .collect();
    apply_all(&client, &discovery, &namespaces).await;
    let rest: Vec<Value> = objects
        .iter()
        .skip(2)
        .filter(|o| o["kind"] != "Namespace")
        .cloned()
        .collect();
    apply_all(&client, &discovery, &rest).await;
    let manifests: Vec<Value> = statuses.iter().map(|(m, _)| m.clone()).collect();
    apply_all(&client, &discovery, &manifests).await;
    for (manifest, status) in &statuses {
        let (api, name) = api_for(&client, &discovery, manifest);
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }
    rest.len()
}

fn api_for(client: &Client, discovery: &Discovery, object: &Value) -> (Api<DynamicObject>, String) {
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
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}
