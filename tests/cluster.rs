//! `check` against a real kube-apiserver + etcd, started by `scripts/test`.
//!
//! The setup installs small CRDs, applies the rendered fixture platform the
//! way Flux does (Flux's normalization, then server-side apply as
//! `kustomize-controller`), writes each Kustomization's status through the
//! status subresource, checks that the untouched platform has no finding,
//! then changes it with the field managers kubectl and controllers use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use drift_check::cli::CommonArgs;
use drift_check::config;
use drift_check::diff::DiffMode;
use drift_check::discover;
use drift_check::flux::{self, Kustomization};
use drift_check::k8s::object;
use drift_check::report::Report;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, Config};
use serde_json::{Value, json};

use crate::util::{TestCommand, root, service, summary};

mod chaos;
mod helm;
mod partial_failures;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the setup produced, shared by the tests.
pub(crate) struct Platform {
    admin: PathBuf,
    reader: PathBuf,
    server: PathBuf,
    partial: PathBuf,
    clean_local: Report,
    clean_server: Report,
    drift_local: Report,
    drift_server: Report,
}

static PLATFORM: OnceLock<Platform> = OnceLock::new();

/// The platform on the test setup's API server, set up by the first test
/// that asks; `None` (skipped, loudly) outside `scripts/test`.
pub(crate) fn platform() -> Option<&'static Platform> {
    let admin = PathBuf::from(service("DRIFT_CHECK_TEST_KUBECONFIG")?);
    let reader = PathBuf::from(service("DRIFT_CHECK_TEST_READER_KUBECONFIG")?);
    let server = PathBuf::from(service("DRIFT_CHECK_TEST_SERVER_KUBECONFIG")?);
    let partial = PathBuf::from(service("DRIFT_CHECK_TEST_PARTIAL_KUBECONFIG")?);
    Some(PLATFORM.get_or_init(|| runtime().block_on(setup(admin, reader, server, partial))))
}

fn args(kubeconfig: &std::path::Path) -> CommonArgs {
    CommonArgs {
        config: Some(root().join("fixtures/drift-check.yaml")),
        repo: Some(root().join("fixtures/infra-repo")),
        kubeconfig: Some(kubeconfig.to_path_buf()),
        request_timeout: Some(20),
        ..Default::default()
    }
}

async fn check(args: &CommonArgs, mode: DiffMode) -> Report {
    let settings = config::Config::load(args, None, Some(mode))
        .expect("valid settings")
        .settings;
    drift_check::check(&settings, drift_check::Progress::Quiet).await
}

async fn client(kubeconfig: &std::path::Path) -> Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Resolves objects to their API resources.
struct Resources(Discovery);

impl Resources {
    /// Discovery, retried while freshly created CRDs settle: the API server
    /// lists a new group a moment before it serves the group's version (404).
    async fn new(client: &Client) -> Self {
        let mut attempt = 0;
        loop {
            match Discovery::new(client.clone()).run().await {
                Ok(discovery) => return Self(discovery),
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    eprintln!("discovery not settled yet ({e}), retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("discovery: {e}"),
            }
        }
    }

    /// Is the object's type served at its version?
    fn serves(&self, object: &Value) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk =
            kube::core::GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap());
        self.0.resolve_gvk(&gvk).is_some()
    }

    fn api(&self, client: &Client, object: &Value) -> (Api<DynamicObject>, String) {
        let api_version = object["apiVersion"].as_str().unwrap();
        let kind = object["kind"].as_str().unwrap();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let (ar, caps): (ApiResource, _) = self
            .0
            .resolve_gvk(&gvk)
            .unwrap_or_else(|| panic!("{gvk:?} not served"));
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let api = match (caps.scope, object["metadata"]["namespace"].as_str()) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
            _ => Api::all_with(client.clone(), &ar),
        };
        (api, name)
    }
}

/// A server-side apply with force as `manager`; returns what the server stored.
async fn apply(
    client: &Client,
    resources: &Resources,
    object: &Value,
    manager: &str,
) -> DynamicObject {
    let (api, name) = resources.api(client, object);
    api.patch(
        &name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"))
}

/// An `Update` by `manager`, as kubectl's edit/set/patch/label send them.
async fn update(
    client: &Client,
    resources: &Resources,
    object: &Value,
    manager: &str,
    patch: Patch<Value>,
) {
    let (api, name) = resources.api(client, object);
    let params = PatchParams {
        field_manager: Some(manager.to_string()),
        ..Default::default()
    };
    api.patch(&name, &params, &patch)
        .await
        .unwrap_or_else(|e| panic!("{manager} {name}: {e}"));
}

fn reference(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}})
}

fn yaml_objects(path: &std::path::Path) -> Vec<Value> {
    drift_check::yaml::documents(&std::fs::read_to_string(path).unwrap(), path).unwrap()
}

async fn setup(admin: PathBuf, reader: PathBuf, server: PathBuf, partial: PathBuf) -> Platform {
    let client = client(&admin).await;
    // CRDs first, then wait until the API server serves them.
    let crd_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    helm::install_crd(&client).await;
    for crd in yaml_objects(&root().join("tests/cluster/crds.yaml")) {
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        crd_api
            .patch(
                &name,
                &PatchParams::apply("test-setup").force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap();
    }
    let mut resources = Resources::new(&client).await;
    for _ in 0..100 {
        if resources.0.get("platform.planapulse.com").is_some()
            && resources.0.get("kustomize.toolkit.fluxcd.io").is_some()
            && resources.0.get("gateway.networking.k8s.io").is_some()
            && resources.0.get("apiextensions.crossplane.io").is_some()
            && resources.0.get("cilium.io").is_some()
            && resources.0.get("helm.toolkit.fluxcd.io").is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        resources = Resources::new(&client).await;
    }

    // The platform's namespaces, and RBAC for the test users: the job's
    // read-only ClusterRole for the reader, plus the server-mode one for the other.
    for ns in [
        "flux-system",
        "docs",
        "monitoring",
        "tenants",
        "platform-system",
        "gateway-system",
        "acme",
        "acme-v18",
        "globex",
    ] {
        apply(
            &client,
            &resources,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            "test-setup",
        )
        .await;
    }
    let roles = [
        root().join("job/clusterrole.yaml"),
        root().join("job/components/server-mode/clusterrole.yaml"),
    ];
    for role in roles.iter().flat_map(|path| yaml_objects(path)) {
        apply(&client, &resources, &role, "test-setup").await;
    }
    let binding = |name: &str, user: &str, role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    };
    // The partial user may read everything the job reads but Secrets.
    let mut no_secrets = yaml_objects(&root().join("job/clusterrole.yaml")).remove(0);
    no_secrets["metadata"]["name"] = json!("test-drift-read-no-secrets");
    for rule in no_secrets["rules"].as_array_mut().unwrap() {
        if let Some(resources) = rule["resources"].as_array_mut() {
            resources.retain(|r| r != "secrets");
        }
    }
    apply(&client, &resources, &no_secrets, "test-setup").await;
    for b in [
        binding(
            "test-drift-partial",
            "drift-partial",
            "test-drift-read-no-secrets",
        ),
        binding("test-drift-reader", "drift-reader", "drift-check-read"),
        binding(
            "test-drift-server-read",
            "drift-server-mode",
            "drift-check-read",
        ),
        binding(
            "test-drift-server-patch",
            "drift-server-mode",
            "drift-check-server-mode",
        ),
    ] {
        apply(&client, &resources, &b, "test-setup").await;
    }

    // Flux's objects: the GitRepository and the Kustomizations, as bootstrap applies them.
    let clusters = root().join("fixtures/infra-repo/clusters/prod");
    let mut manifests: Vec<Value> = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&clusters)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        manifests.extend(yaml_objects(&path));
    }
    for m in &mut manifests {
        if m["metadata"]["name"] == "docs" {
            // Only on this cluster, not in the fixtures (their snapshot and
            // golden outputs predate it): Flux 2.9's drift ignore rules.
            m["spec"]["ignore"] = docs_ignore();
        }
        apply(&client, &resources, m, "kustomize-controller").await;
    }

    // The platform, rendered by drift-check and applied the way Flux does.
    let (kustomizations, errors) = discover::from_dir(
        &root().join("fixtures/infra-repo"),
        "clusters/prod".as_ref(),
        Default::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let revision = "main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17";
    for ks in &kustomizations {
        let objects = render(ks);
        let mut entries = Vec::new();
        for object in &objects {
            if !resources.serves(object) {
                // The 1.20 test server predates autoscaling/v2: Flux could not
                // apply it either, and drift-check reports it as not served.
                continue;
            }
            let mut applied = object.clone();
            drift_check::diff::normalize::desired(&mut applied);
            apply(&client, &resources, &applied, "kustomize-controller").await;
            let r = drift_check::k8s::object::ObjectRef::of(object).unwrap();
            entries.push(json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()}));
        }
        let status = json!({"status": {"lastAppliedRevision": revision, "lastAttemptedRevision": revision,
            "inventory": {"entries": entries},
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                            "message": format!("Applied revision: {revision}"), "lastTransitionTime": "2026-11-10T09:00:00Z"}]}});
        let api: Api<DynamicObject> = resources
            .api(
                &client,
                &reference(
                    "kustomize.toolkit.fluxcd.io/v1",
                    "Kustomization",
                    Some(&ks.namespace),
                    &ks.name,
                ),
            )
            .0;
        api.patch_status(&ks.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
    // A Kustomization of another source: listed as skipped, not rendered.
    apply(&client, &resources, &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"interval": "5m", "path": "./apps", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "apps"}}}),
        "kustomize-controller").await;
    // drift-check itself, deployed from job/ by a Flux Kustomization of its
    // own source: skipped, and its objects (labelled managed-by=flux) are its
    // Kustomization's business, not orphans.
    apply(
        &client,
        &resources,
        &job_kustomization(),
        "kustomize-controller",
    )
    .await;
    for object in job_objects() {
        let mut applied = served_version(&resources, object);
        drift_check::diff::normalize::desired(&mut applied);
        apply(&client, &resources, &applied, "kustomize-controller").await;
    }

    apply_lb_pools(&client, &resources).await;
    helm::install_prometheus(&client, &resources).await;

    let admin_args = args(&admin);
    let clean_local = check(&admin_args, DiffMode::Local).await;
    let clean_server = check(&admin_args, DiffMode::Server).await;

    change_the_platform(&client, &resources).await;
    let drift_local = check(&admin_args, DiffMode::Local).await;
    let drift_server = check(&admin_args, DiffMode::Server).await;
    if let Ok(dir) = std::env::var("DRIFT_CHECK_WRITE_SNAPSHOT") {
        write_snapshot(&admin, &kustomizations, std::path::Path::new(&dir)).await;
    }
    Platform {
        admin,
        reader,
        server,
        partial,
        clean_local,
        clean_server,
        drift_local,
        drift_server,
    }
}

/// Writes the live platform as `kubectl get -o yaml` would (`List` files, one
/// per Kustomization, plus flux-system and namespaces): the offline snapshot
/// `scripts/regenerate-snapshot` produces from this real API server.
async fn write_snapshot(
    kubeconfig: &std::path::Path,
    kustomizations: &[Kustomization],
    dir: &std::path::Path,
) {
    use drift_check::live::cluster::{Cluster, ClusterOptions};
    use drift_check::live::{LiveSource, TypeRef};
    let options = ClusterOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        timeout: std::time::Duration::from_secs(30),
        concurrency: 4,
        ..Default::default()
    };
    let cluster = Cluster::connect(&options).await.unwrap();
    let mut files: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut owner_of = BTreeMap::new();
    let mut types = std::collections::BTreeSet::new();
    for ks in kustomizations {
        for object in render(ks) {
            types.insert(TypeRef::of(&object).unwrap());
            owner_of.insert(
                drift_check::k8s::object::ObjectRef::of(&object)
                    .unwrap()
                    .key(),
                ks.name.clone(),
            );
        }
    }
    let platform = cluster.fetch(&types).await;
    for (key, object) in platform.objects() {
        let by_label = drift_check::k8s::object::label(object, "kustomize.toolkit.fluxcd.io/name")
            .map(str::to_string);
        let by_type = owner_of
            .iter()
            .find(|(k, _)| k.group == key.group && k.kind == key.kind)
            .map(|(_, ks)| ks.clone());
        // What helm-controller deployed goes with its HelmRelease.
        let by_helm = object::label(object, "helm.toolkit.fluxcd.io/name").and_then(|name| {
            let namespace = object::label(object, "helm.toolkit.fluxcd.io/namespace")?;
            owner_of
                .iter()
                .find(|(k, _)| {
                    k.kind == "HelmRelease"
                        && k.name == name
                        && k.namespace.as_deref() == Some(namespace)
                })
                .map(|(_, ks)| ks.clone())
        });
        let Some(file) = owner_of
            .get(key)
            .cloned()
            .or(by_label)
            .or(by_helm)
            .or_else(|| {
                (object::label(object, "app.kubernetes.io/managed-by") == Some("flux"))
                    .then_some(by_type)
                    .flatten()
            })
        else {
            continue;
        };
        files.entry(file).or_default().push(object.clone());
    }
    let flux = cluster
        .fetch(
            &[
                TypeRef::new("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
                TypeRef::new("source.toolkit.fluxcd.io/v1", "GitRepository"),
            ]
            .into(),
        )
        .await;
    // The scope tests' Kustomizations are not the fixture platform's.
    files.insert(
        "flux-system".into(),
        flux.objects()
            .filter(|(key, _)| !LB_POOLS.contains(&key.name.as_str()))
            .map(|(_, o)| o.clone())
            .collect(),
    );
    let namespaces = cluster
        .fetch(&[TypeRef::new("v1", "Namespace")].into())
        .await;
    files.insert(
        "namespaces".into(),
        namespaces.objects().map(|(_, o)| o.clone()).collect(),
    );
    std::fs::create_dir_all(dir).unwrap();
    for (name, items) in files {
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
        std::fs::write(
            dir.join(format!("{name}.yaml")),
            drift_check::yaml::to_string(&list),
        )
        .unwrap();
    }
}

/// The scope tests' Kustomizations, of their own source (so the fixture
/// platform's checks skip them): each renders a `CiliumLoadBalancerIPPool`,
/// a cluster-scoped custom kind the built-in scope table does not list, with
/// a namespace (kustomize's `namespace:`; Flux's `targetNamespace`).
const LB_POOLS: [&str; 2] = ["lb-pools", "lb-pools-target"];

/// An lb-pools Kustomization as Flux bootstrap would apply it.
fn lb_pools_manifest(name: &str) -> Value {
    let target_namespace = (name == "lb-pools-target").then_some("network");
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true,
                 "targetNamespace": target_namespace,
                 "sourceRef": {"kind": "GitRepository", "name": "cilium-infra"}}})
}

fn lb_pools_kustomization(name: &str) -> Kustomization {
    discover::from_object(&lb_pools_manifest(name), flux::Origin::Live, "flux-system").unwrap()
}

fn render_lb_pools(ks: &Kustomization) -> Vec<Value> {
    drift_check::render::render(
        &root().join("tests/cluster/scope-repo"),
        ks,
        &Default::default(),
    )
    .unwrap()
}

/// Applies the lb-pools Kustomizations' renders the way Flux does, and
/// records in their inventories what the API server stored (fluxcd/pkg ssa
/// records the applied object: without the namespace it dropped).
async fn apply_lb_pools(client: &Client, resources: &Resources) {
    for name in LB_POOLS {
        let ks = lb_pools_kustomization(name);
        let manifest = lb_pools_manifest(name);
        apply(client, resources, &manifest, "kustomize-controller").await;
        let mut entries = Vec::new();
        for object in render_lb_pools(&ks) {
            let mut applied = object.clone();
            drift_check::diff::normalize::desired(&mut applied);
            let stored = apply(client, resources, &applied, "kustomize-controller").await;
            let r = object::ObjectRef::of(&serde_json::to_value(stored).unwrap()).unwrap();
            entries.push(json!({"id": r.key().inventory_id(), "v": "v2alpha1"}));
        }
        let revision = "main@sha1:5e0c2b9d7f1a4c3e8b6d0a9f2e1c4b7a8d3f6e09";
        let status = json!({"status": {"lastAppliedRevision": revision, "lastAttemptedRevision": revision,
            "inventory": {"entries": entries},
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                            "message": format!("Applied revision: {revision}"), "lastTransitionTime": "2026-11-30T09:00:00Z"}]}});
        let (api, _) = resources.api(client, &manifest);
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
}

fn render(ks: &Kustomization) -> Vec<Value> {
    drift_check::render::render(&root().join("fixtures/infra-repo"), ks, &Default::default())
        .unwrap()
}

/// The docs Kustomization's `spec.ignore` on the cluster: the pager
/// annotation on-call tooling sets, on the docs-portal Deployment.
fn docs_ignore() -> Value {
    json!([{"paths": ["/metadata/annotations/oncall.planapulse.com~1pager"],
            "target": {"group": "apps", "kind": "Deployment", "labelSelector": "app.kubernetes.io/name=docs-portal"}}])
}

/// The fixture platform's cases, made the way people and controllers make them.
async fn change_the_platform(client: &Client, r: &Resources) {
    let docs_portal = reference("apps/v1", "Deployment", Some("docs"), "docs-portal");
    // 1. kubectl edit deploy/docs-portal: replicas 2 → 5.
    update(
        client,
        r,
        &docs_portal,
        "kubectl-edit",
        Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await;
    // 2 and 11. kubectl set env / set image (the CI pipeline).
    update(
        client,
        r,
        &docs_portal,
        "kubectl-set",
        Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "docs-portal", "image": "registry.planapulse.com/docs-portal:1.4.2",
         "env": [{"name": "DEBUG_TOOLBAR", "value": "true"}]}]}}}})),
    )
    .await;
    // Cluster only: kubectl annotate deploy/docs-portal oncall.planapulse.com/pager=…,
    // a field the docs Kustomization's spec.ignore tells Flux to leave alone.
    update(
        client,
        r,
        &docs_portal,
        "kubectl-annotate",
        Patch::Merge(
            json!({"metadata": {"annotations": {"oncall.planapulse.com/pager": "docs-team"}}}),
        ),
    )
    .await;
    // 3. The ClusterRoleBinding deleted by hand.
    let crb = reference(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        None,
        "system:konnectivity-server",
    );
    let (api, name) = r.api(client, &crb);
    api.delete(&name, &DeleteParams::default()).await.unwrap();
    // 4. A NetworkPolicy applied by hand with the platform's Flux label.
    let netpol = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-debug-ingress", "namespace": "docs", "labels": {"app.kubernetes.io/managed-by": "flux"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "docs-portal"}},
                 "ingress": [{"from": [{"namespaceSelector": {}}]}]}});
    let (api, _) = r.api(client, &netpol);
    let data: DynamicObject = serde_json::from_value(netpol.clone()).unwrap();
    api.create(
        &PostParams {
            field_manager: Some("kubectl-client-side-apply".into()),
            ..Default::default()
        },
        &data,
    )
    .await
    .unwrap();
    // 5. Crossplane composes the route too, and rewrites its backend.
    let xr = json!({"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient",
        "metadata": {"name": "acme-x7k2p"}, "spec": {"tenant": "acme", "version": "v18"}});
    apply(client, r, &xr, "kubectl-client-side-apply").await;
    let (xr_api, _) = r.api(client, &xr);
    let uid = xr_api
        .get("acme-x7k2p")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let route = reference(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        Some("tenants"),
        "acme-portal",
    );
    let (route_api, _) = r.api(client, &route);
    let mut rules = route_api.get("acme-portal").await.unwrap().data["spec"]["rules"].clone();
    rules[0]["backendRefs"][0]["namespace"] = json!("acme-v18");
    update(client, r, &route, &format!("apiextensions.crossplane.io/composed/{uid}"), Patch::Merge(json!({
        "metadata": {"labels": {"crossplane.io/composite": "acme-x7k2p", "app.kubernetes.io/managed-by": "crossplane"},
                     "ownerReferences": [{"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient",
                                          "name": "acme-x7k2p", "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"rules": rules}}))).await;
    // 6. The HPA scales grafana 1 → 3.
    let grafana = reference("apps/v1", "Deployment", Some("monitoring"), "grafana");
    update(
        client,
        r,
        &grafana,
        "kube-controller-manager",
        Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await;
    // 7. flux suspend kustomization crossplane, then a test Composition applied by hand.
    let crossplane = reference(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        Some("flux-system"),
        "crossplane",
    );
    update(
        client,
        r,
        &crossplane,
        "flux",
        Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await;
    let composition = reference(
        "apiextensions.crossplane.io/v1",
        "Composition",
        None,
        "planaclient-v18",
    );
    let (comp_api, _) = r.api(client, &composition);
    let mut resources =
        comp_api.get("planaclient-v18").await.unwrap().data["spec"]["resources"].clone();
    resources[0]["base"]["spec"]["rules"][0]["backendRefs"][0]["port"] = json!(8443);
    update(
        client,
        r,
        &composition,
        "kubectl-client-side-apply",
        Patch::Merge(json!({"spec": {"resources": resources}})),
    )
    .await;
    // 8. A ConfigMap Flux does not reconcile, edited by hand.
    let dashboards = reference("v1", "ConfigMap", Some("monitoring"), "grafana-dashboards");
    update(
        client,
        r,
        &dashboards,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"platform-overview.json": "{\"title\": \"edited\"}"}})),
    )
    .await;
    // 9. A Secret's value changed by hand.
    // 13. kubectl patch of what helm-controller deployed for monitoring/prometheus.
    helm::patch_prometheus(client, r).await;
    let secret = reference("v1", "Secret", Some("monitoring"), "alertmanager-matrix");
    update(
        client,
        r,
        &secret,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"webhook-token": "aHVudGVyMi1jaGFuZ2VkLWxpdmU="}})),
    )
    .await;
    // kubectl label sa/docs-deployer -n docs debug=true
    let sa = reference("v1", "ServiceAccount", Some("docs"), "docs-deployer");
    update(
        client,
        r,
        &sa,
        "kubectl-label",
        Patch::Merge(json!({"metadata": {"labels": {"debug": "true"}}})),
    )
    .await;
    // kubectl patch clusterrole platform-viewer: one more rule.
    let role = reference(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        None,
        "platform-viewer",
    );
    let (role_api, _) = r.api(client, &role);
    let mut rules = role_api.get("platform-viewer").await.unwrap().data["rules"].clone();
    rules
        .as_array_mut()
        .unwrap()
        .push(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}));
    update(
        client,
        r,
        &role,
        "kubectl-patch",
        Patch::Merge(json!({"rules": rules})),
    )
    .await;
    // 10. kubectl rollout restart.
    let adapter = reference(
        "apps/v1",
        "Deployment",
        Some("monitoring"),
        "prometheus-adapter",
    );
    update(
        client,
        r,
        &adapter,
        "kubectl-rollout",
        Patch::Strategic(json!({"spec": {"template": {"metadata": {"annotations":
        {"kubectl.kubernetes.io/restartedAt": "2026-11-24T07:42:10Z"}}}}})),
    )
    .await;
}

/// The findings the changed platform gives (shared with the snapshot test
/// of `fixtures/live/apiserver-1.20`, written from this platform).
pub fn expected() -> Vec<crate::util::Row> {
    let row = |k: &str, o: &str, d: &str, w: &str, e: bool| {
        (
            k.to_string(),
            o.to_string(),
            d.to_string(),
            w.to_string(),
            e,
        )
    };
    let mut rows = vec![
        row(
            "flux-system/crossplane",
            "Composition/planaclient-v18",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/docs",
            "Deployment/docs/docs-portal",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/monitoring",
            "ConfigMap/monitoring/grafana-dashboards",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/grafana",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/prometheus-adapter",
            "modified",
            "flux",
            true,
        ),
        unserved_hpa(),
        row(
            "flux-system/monitoring",
            "Secret/monitoring/alertmanager-matrix",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/network-policies",
            "NetworkPolicy/docs/allow-debug-ingress",
            "orphaned",
            "flux",
            false,
        ),
        row(
            "flux-system/platform-routes",
            "HTTPRoute/tenants/acme-portal",
            "conflict",
            "crossplane",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ClusterRoleBinding/system:konnectivity-server",
            "missing",
            "flux",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ClusterRole/platform-viewer",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ServiceAccount/docs/docs-deployer",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/prometheus-server",
            "modified",
            "helm",
            false,
        ),
    ];
    rows.sort();
    rows
}

/// A change as (desired, live, manager).
type Seen = (Option<Value>, Option<Value>, Option<String>);

fn changes(report: &Report, object: &str) -> BTreeMap<String, Seen> {
    let finding = report
        .findings
        .iter()
        .find(|f| f.object.to_string() == object)
        .unwrap_or_else(|| panic!("no finding for {object}"));
    finding
        .changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                (c.desired.clone(), c.live.clone(), c.manager.clone()),
            )
        })
        .collect()
}

/// The only finding of the untouched platform on the 1.20 test server: its
/// HorizontalPodAutoscaler is `autoscaling/v2`, which 1.20 does not serve.
fn unserved_hpa() -> crate::util::Row {
    (
        "flux-system/monitoring".into(),
        "HorizontalPodAutoscaler/monitoring/grafana".into(),
        "missing".into(),
        "flux".into(),
        false,
    )
}

#[test]
fn an_untouched_platform_differs_only_by_what_the_server_cannot_serve() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.clean_local), ("server", &p.clean_server)] {
        assert!(report.errors.is_empty(), "{mode}: {:?}", report.errors);
        assert_eq!(
            summary(report),
            vec![unserved_hpa()],
            "{mode}: server defaults are not drift"
        );
        assert_eq!(
            report.summary.kustomizations, 10,
            "{mode}: six checked, apps, drift-check and the two lb-pools skipped"
        );
    }
}

#[test]
fn an_object_of_a_type_the_cluster_does_not_serve_is_missing_and_says_why() {
    let Some(p) = platform() else { return };
    let hpa = p
        .clean_local
        .findings
        .iter()
        .find(|f| f.object.kind == "HorizontalPodAutoscaler")
        .unwrap();
    assert!(!hpa.explained);
    assert_eq!(hpa.explanation, None);
    let message = hpa.message.as_deref().unwrap();
    assert!(message.starts_with("the cluster does not serve autoscaling/v2 HorizontalPodAutoscaler (it serves HorizontalPodAutoscaler in "), "{message}");
}

#[test]
fn every_case_is_found_in_both_diff_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        assert!(report.errors.is_empty(), "{mode}: {:?}", report.errors);
        assert_eq!(summary(report), expected(), "{mode}");
        assert_eq!(report.exit_code(), 1, "{mode}");
    }
}

#[test]
fn changed_fields_are_attributed_to_real_managers_in_both_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        let docs = changes(report, "Deployment/docs/docs-portal");
        assert_eq!(
            docs["/spec/replicas"],
            (Some(json!(2)), Some(json!(5)), Some("kubectl-edit".into())),
            "{mode}"
        );
        // kubectl set env's strategic merge patch puts the new variable first.
        assert_eq!(
            docs["/spec/template/spec/containers/0/env/0"],
            (
                None,
                Some(json!({"name": "DEBUG_TOOLBAR", "value": "true"})),
                Some("kubectl-set".into())
            ),
            "{mode}: a field a person added is found in both modes"
        );
        let route = changes(report, "HTTPRoute/tenants/acme-portal");
        let ns = &route["/spec/rules/0/backendRefs/0/namespace"];
        assert_eq!(
            (&ns.0, &ns.1),
            (&Some(json!("acme")), &Some(json!("acme-v18"))),
            "{mode}"
        );
        assert!(
            ns.2.as_deref()
                .unwrap()
                .starts_with("apiextensions.crossplane.io/composed/"),
            "{mode}"
        );
        let secret = changes(report, "Secret/monitoring/alertmanager-matrix");
        assert_eq!(
            secret["/data/webhook-token"].0,
            Some(json!("*** (before)")),
            "{mode}"
        );
        let sa = changes(report, "ServiceAccount/docs/docs-deployer");
        assert_eq!(
            sa["/metadata/labels/debug"],
            (None, Some(json!("true")), Some("kubectl-label".into())),
            "{mode}"
        );
        let role = changes(report, "ClusterRole/platform-viewer");
        assert_eq!(role["/rules"].2.as_deref(), Some("kubectl-patch"), "{mode}");
        let grafana = changes(report, "Deployment/monitoring/grafana");
        assert_eq!(
            grafana["/spec/replicas"].2.as_deref(),
            Some("kube-controller-manager"),
            "{mode}"
        );
    }
}

#[test]
fn a_kustomization_ignore_rule_explains_only_the_path_it_covers_in_both_modes() {
    let Some(p) = platform() else { return };
    for (mode, report) in [("local", &p.drift_local), ("server", &p.drift_server)] {
        let docs = report
            .findings
            .iter()
            .find(|f| f.object.to_string() == "Deployment/docs/docs-portal")
            .unwrap();
        let explanation = |path: &str| {
            docs.changes
                .iter()
                .find(|c| c.path == path)
                .unwrap_or_else(|| panic!("{mode}: no change at {path}"))
                .explanation
                .as_deref()
        };
        assert_eq!(
            explanation("/metadata/annotations/oncall.planapulse.com~1pager"),
            Some(
                "ignored by Kustomization flux-system/docs spec.ignore[0] (/metadata/annotations/oncall.planapulse.com~1pager)"
            ),
            "{mode}"
        );
        assert_eq!(explanation("/spec/replicas"), None, "{mode}");
        assert!(!docs.explained, "{mode}: the kubectl edit is still drift");
    }
}

#[test]
fn kustomizations_of_other_sources_are_skipped_with_the_reason() {
    let Some(p) = platform() else { return };
    let mut a = args(&p.admin);
    a.source = Some("flux-system/plana-pulse-infra".into());
    let report = runtime().block_on(check(&a, DiffMode::Local));
    let apps = report
        .kustomizations
        .iter()
        .find(|k| k.name == "apps")
        .unwrap();
    assert_eq!(
        apps.skipped.as_deref(),
        Some(
            "its source GitRepository/flux-system/apps is not the infra repo GitRepository/flux-system/plana-pulse-infra"
        )
    );
    assert_eq!(summary(&report), expected());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn reads_use_one_list_per_type_not_one_get_per_object() {
    let Some(p) = platform() else { return };
    let requests = p.drift_local.run.api_requests.unwrap();
    // ClusterRole, ClusterRoleBinding, ServiceAccount, NetworkPolicy, HTTPRoute, XRD, Composition,
    // Deployment, HPA, Service, ConfigMap, Secret, HelmRelease + Kustomization; and for what the
    // HelmRelease deployed: StatefulSet, DaemonSet, Ingress, CronJob, Job.
    let types = 19;
    let objects: usize = p.drift_local.summary.objects;
    assert!(objects > 25);
    assert!(requests <= 2 * types + 7 + 12, "{requests} requests");
    // The same types, fewer objects (the deleted binding): the same requests.
    assert_eq!(p.clean_local.run.api_requests, Some(requests));
}

#[test]
fn the_job_read_only_cluster_role_is_enough_for_local_mode() {
    let Some(p) = platform() else { return };
    let report = runtime().block_on(check(&args(&p.reader), DiffMode::Local));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(summary(&report), expected());
}

#[test]
fn server_mode_needs_the_documented_patch_permission() {
    let Some(p) = platform() else { return };
    let denied = runtime().block_on(check(&args(&p.reader), DiffMode::Server));
    assert_eq!(denied.exit_code(), 2);
    assert!(
        denied
            .errors
            .iter()
            .all(|e| e.stage == "dry-run" && e.message.contains("(403)")),
        "{:?}",
        denied.errors
    );
    let allowed = runtime().block_on(check(&args(&p.server), DiffMode::Server));
    assert!(allowed.errors.is_empty(), "{:?}", allowed.errors);
    assert_eq!(summary(&allowed), expected());
    // RBAC's escalation check applies to dry-runs: a role granting what the
    // job does not hold is compared locally, with a warning.
    let escalation: Vec<_> = allowed
        .warnings
        .iter()
        .filter(|w| w.message.contains("server-side dry-run forbidden"))
        .collect();
    assert_eq!(escalation.len(), 1, "{:?}", allowed.warnings);
    assert!(
        escalation[0]
            .message
            .starts_with("ClusterRole/platform-viewer: server-side dry-run forbidden"),
        "{}",
        escalation[0].message
    );
}

#[test]
fn an_unreachable_api_server_is_one_clear_error() {
    let Some(_) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n").unwrap();
    let started = std::time::Instant::now();
    let report = runtime().block_on(check(&args(&kubeconfig), DiffMode::Local));
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].stage, "discover");
    assert!(
        report.errors[0].message.contains("127.0.0.1:1"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_rejected_token_is_one_clear_error() {
    let Some(p) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&p.reader)
        .unwrap()
        .replace("readertoken", "expired-token");
    std::fs::write(&kubeconfig, text).unwrap();
    let report = runtime().block_on(check(&args(&kubeconfig), DiffMode::Local));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].message.contains("(401)"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_type_the_token_may_not_list_is_an_error_and_the_rest_is_checked() {
    let Some(p) = platform() else { return };
    let report = runtime().block_on(check(&args(&p.partial), DiffMode::Local));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    let error = &report.errors[0];
    assert_eq!(error.stage, "live");
    assert!(
        error
            .message
            .starts_with("list v1 secrets: Forbidden (403): "),
        "{}",
        error.message
    );
    // The Kustomization that renders a Secret was not fully checked: its
    // own error, never "in sync".
    let per_kustomization = &report.errors[1];
    assert_eq!(
        (
            per_kustomization.kustomization.as_deref(),
            per_kustomization.stage.as_str(),
            per_kustomization.message.as_str()
        ),
        (
            Some("flux-system/monitoring"),
            "live",
            "could not check: v1 secrets forbidden"
        )
    );
    let entry = report
        .kustomizations
        .iter()
        .find(|k| k.name == "monitoring")
        .unwrap();
    assert_eq!(
        entry.error.as_deref(),
        Some("could not check: v1 secrets forbidden")
    );
    let mut want = expected();
    want.retain(|row| !row.1.starts_with("Secret/"));
    assert_eq!(
        summary(&report),
        want,
        "a Secret that could not be read is neither missing nor in sync"
    );
}

#[test]
fn substitution_variables_are_read_from_the_kustomization_namespace() {
    use drift_check::live::LiveSource;
    use drift_check::live::cluster::{Cluster, ClusterOptions};
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cluster-vars", "namespace": "flux-system"}, "data": {"region": "ch-gva-2"}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cluster-secrets", "namespace": "flux-system"}, "data": {"token": "czNjcjN0"}});
        apply(&client, &resources, &config_map, "test-setup").await;
        apply(&client, &resources, &secret, "test-setup").await;
        let options = ClusterOptions {
            kubeconfig: Some(p.reader.clone()),
            timeout: std::time::Duration::from_secs(10),
            concurrency: 4,
            ..Default::default()
        };
        let cluster = Cluster::connect(&options).await.unwrap();
        let vars = cluster.substitution_data("ConfigMap", "flux-system", "cluster-vars").await.unwrap().unwrap();
        assert_eq!(vars.get("region").map(String::as_str), Some("ch-gva-2"));
        let secrets = cluster.substitution_data("Secret", "flux-system", "cluster-secrets").await.unwrap().unwrap();
        assert_eq!(secrets.get("token").map(String::as_str), Some("s3cr3t"));
        assert_eq!(cluster.substitution_data("ConfigMap", "flux-system", "absent").await.unwrap(), None);
        assert_eq!(cluster.requests(), 3, "one GET per reference");
    });
}

/// A kubeconfig for a plain-HTTP server on 127.0.0.1.
fn kubeconfig_for(port: u16, dir: &std::path::Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n\
         users: [{{name: u, user: {{token: x}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_server_that_never_answers_times_out_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and hold them open without answering.
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(8) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(&kubeconfig_for(port, dir.path()));
    a.request_timeout = Some(2);
    let started = std::time::Instant::now();
    let report = runtime().block_on(check(&a, DiffMode::Local));
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].message.contains("no answer within 2 s"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_server_error_is_reported_with_its_status() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request timed out","reason":"InternalError","code":500}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let report = runtime().block_on(check(
        &args(&kubeconfig_for(port, dir.path())),
        DiffMode::Local,
    ));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        report.errors[0].message,
        "list kustomize.toolkit.fluxcd.io/v1 kustomizations: InternalError (500): etcdserver: request timed out"
    );
}

/// The Flux Kustomization that deploys `job/`, with the optional server-mode component.
fn job_kustomization() -> Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": "drift-check", "namespace": "flux-system"},
           "spec": {"interval": "1h", "path": "./job", "prune": true, "components": ["components/server-mode"],
                    "sourceRef": {"kind": "GitRepository", "name": "drift-check"}}})
}

/// `job/` rendered by drift-check's own renderer, as Flux would apply it.
fn job_objects() -> Vec<Value> {
    let ks: Kustomization =
        discover::from_object(&job_kustomization(), flux::Origin::Live, "flux-system").unwrap();
    drift_check::render::render(&root(), &ks, &Default::default()).unwrap()
}

/// The 1.20 test server serves CronJob only as batch/v1beta1 (batch/v1 came
/// with 1.21); the fields job/ uses are the same in both.
fn served_version(resources: &Resources, mut object: Value) -> Value {
    if object["kind"] == "CronJob" && !resources.serves(&object) {
        object["apiVersion"] = json!("batch/v1beta1");
    }
    object
}

#[test]
fn every_job_manifest_is_accepted_by_the_api_server() {
    let Some(p) = platform() else { return };
    let objects = job_objects();
    let kinds: Vec<String> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "CronJob",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "job/ renders no {kind}: {kinds:?}"
        );
    }
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    assert_eq!(
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "--diff-mode=server"
    );
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        for object in &objects {
            let mut applied = served_version(&resources, object.clone());
            drift_check::diff::normalize::desired(&mut applied);
            let (api, name) = resources.api(&client, &applied);
            let params = PatchParams::apply("kustomize-controller").force().dry_run();
            api.patch(&name, &params, &Patch::Apply(&applied))
                .await
                .unwrap_or_else(|e| panic!("{} {name} refused: {e}", applied["kind"]));
        }
    });
}

/// A kubeconfig in `dir` for the job's ServiceAccount (bound to job/'s
/// read-only ClusterRole), with a bound token as the kubelet mounts one.
pub(crate) fn job_kubeconfig(p: &Platform, dir: &std::path::Path) -> PathBuf {
    let token = runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        // What the kubelet mounts into the CronJob's pod: a bound token.
        let accounts: Api<DynamicObject> = resources.api(&client, &reference("v1", "ServiceAccount", Some("drift-check"), "drift-check")).0;
        let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}});
        let answer: Value = accounts.create_subresource("token", "drift-check", &PostParams::default(), &request).await.unwrap();
        answer["status"]["token"].as_str().unwrap().to_string()
    });
    let kubeconfig = dir.join("kubeconfig");
    let text = std::fs::read_to_string(&p.reader)
        .unwrap()
        .replace("readertoken", &token);
    std::fs::write(&kubeconfig, text).unwrap();
    kubeconfig
}

#[test]
fn the_job_service_account_token_is_enough_to_check_the_platform() {
    let Some(p) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = job_kubeconfig(p, dir.path());
    let out = TestCommand::new()
        .args([
            "check",
            "-o",
            "json",
            "--config",
            "fixtures/drift-check.yaml",
            "--repo",
            "fixtures/infra-repo",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .output();
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
    assert_eq!(report["summary"]["errors"], 0, "{}", report["errors"]);
    assert_eq!(crate::util::summary_of_json(&report), expected());
    assert_eq!(out.code, 1);
}

#[test]
fn a_cluster_scoped_custom_kind_namespaced_by_the_render_is_neither_missing_nor_orphaned() {
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        // The case is real: the render has the namespace, the server has none.
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        for (name, namespace) in [("lb-pools", "kube-system"), ("lb-pools-target", "network")] {
            let rendered = render_lb_pools(&lb_pools_kustomization(name));
            assert_eq!(rendered.len(), 1);
            assert_eq!(rendered[0]["metadata"]["namespace"], namespace, "{name}");
            let (api, pool) = resources.api(&client, &rendered[0]);
            let stored = api.get(&pool).await.unwrap();
            assert_eq!(stored.metadata.namespace, None, "{name}");
        }
        let mut a = args(&p.admin);
        a.config = None;
        a.repo = Some(root().join("tests/cluster/scope-repo"));
        a.source = Some("flux-system/cilium-infra".into());
        for mode in [DiffMode::Local, DiffMode::Server] {
            let report = check(&a, mode).await;
            assert!(report.errors.is_empty(), "{mode:?}: {:?}", report.errors);
            let checked: Vec<&str> = report
                .kustomizations
                .iter()
                .filter(|k| k.skipped.is_none())
                .map(|k| k.name.as_str())
                .collect();
            assert_eq!(checked, LB_POOLS, "{mode:?}");
            assert_eq!(report.summary.objects, 2, "{mode:?}");
            assert_eq!(summary(&report), vec![], "{mode:?}: {:#?}", report.findings);
        }
    });
}

/// A Kustomization Flux cannot apply, of the `failing-infra` source: its
/// manifest and the status kustomize-controller writes (Ready=False, never
/// applied: no lastAppliedRevision, no inventory).
async fn apply_failing(
    client: &Client,
    resources: &Resources,
    name: &str,
    reason: &str,
    message: &str,
) {
    let post_build = (name == "needs-secret")
        .then(|| json!({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]}));
    let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true, "postBuild": post_build,
                 "sourceRef": {"kind": "GitRepository", "name": "failing-infra"}}});
    apply(client, resources, &manifest, "kustomize-controller").await;
    let revision = "main@sha1:0b7e3f9a1c2d4e5f60718293a4b5c6d7e8f90a1b";
    let status = json!({"status": {"lastAttemptedRevision": revision, "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "False", "reason": reason, "message": message,
                        "lastTransitionTime": "2026-11-29T03:00:00Z", "observedGeneration": 1}]}});
    let (api, _) = resources.api(client, &manifest);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[test]
fn failing_kustomizations_are_one_warning_each_not_a_flood_of_missing_objects() {
    // Regression: a Kustomization Flux could not apply gave one "missing,
    // find out who deleted it" per object, and a missing substituteFrom
    // Secret made the whole run exit 2.
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        apply(&client, &resources, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "failing"}}), "test-setup").await;
        apply_failing(&client, &resources, "needs-crd", "ReconciliationFailed",
            "Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"").await;
        apply_failing(&client, &resources, "needs-secret", "BuildFailed",
            "post build failed: substitute from 'Secret/cluster-secrets' error: secrets \"cluster-secrets\" not found").await;
        let mut a = args(&p.reader);
        a.config = None;
        a.repo = Some(root().join("tests/cluster/failing-repo"));
        a.source = Some("flux-system/failing-infra".into());
        let report = check(&a, DiffMode::Local).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.exit_code(), 0, "{:#?}", report.findings);
        let mut findings: Vec<(String, &str, bool, String)> = report
            .findings
            .iter()
            .map(|f| (f.object.to_string(), f.drift.as_str(), f.explained, f.explanation.clone().unwrap_or_default()))
            .collect();
        findings.sort();
        let not_applied = "not applied: Kustomization flux-system/needs-crd is failing since 2026-11-29T03:00:00Z: ReconciliationFailed: Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"";
        assert_eq!(
            findings,
            [
                ("ConfigMap/failing/widget-settings".to_string(), "missing", true, not_applied.to_string()),
                ("Widget/failing/w".to_string(), "missing", true, not_applied.to_string()),
            ]
        );
        let mut warnings: Vec<(Option<&str>, &str)> = report
            .warnings
            .iter()
            .map(|w| (w.kustomization.as_deref(), w.message.as_str()))
            .collect();
        warnings.sort();
        assert_eq!(
            warnings,
            [
                (Some("flux-system/needs-crd"), "Kustomization flux-system/needs-crd is failing since 2026-11-29T03:00:00Z (ReconciliationFailed): Widget/failing/w dry-run failed: no matches for kind \"Widget\" in version \"widgets.example.com/v1\"; objects it never applied are not reported missing; see `flux get kustomization needs-crd -n flux-system`"),
                (Some("flux-system/needs-secret"), "Kustomization flux-system/needs-secret is failing since 2026-11-29T03:00:00Z (BuildFailed): post build failed: substitute from 'Secret/cluster-secrets' error: secrets \"cluster-secrets\" not found; objects it never applied are not reported missing; see `flux get kustomization needs-secret -n flux-system`"),
                (Some("flux-system/needs-secret"), "not checked: Flux reports it failing too (BuildFailed), and drift-check could not render it either: postBuild.substituteFrom: Secret/cluster-secrets not found"),
            ]
        );
        let ready: Vec<(&str, Option<bool>)> = report
            .kustomizations
            .iter()
            .filter(|k| k.skipped.is_none())
            .map(|k| (k.name.as_str(), k.ready))
            .collect();
        assert_eq!(ready, [("needs-crd", Some(false)), ("needs-secret", Some(false))]);
    });
}
