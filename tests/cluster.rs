//! `check` against a real kube-apiserver + etcd, started by `scripts/test`.
//!
//! The setup installs small CRDs, applies the rendered fixture platform the
//! way Flux does (Flux's normalization, then server-side apply as
//! `kustomize-controller`), writes each Kustomization's status through the
//! status subresource, checks that the untouched platform has no finding,
//! then changes it with the field managers kubectl and controllers use.
//! kube-controller-manager runs its Job, namespace and garbage collector
//! controllers (not the Deployment's): see scripts/services/kube-apiserver.

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

mod api_errors;
mod cases;
mod changes;
mod chaos;
mod control_plane;
mod failing;
mod fleet;
mod job;
mod job_run;
mod shards;

pub use changes::expected;
use changes::{change_the_platform, changes, docs_ignore};
pub(crate) use job::job_kubeconfig;
mod helm;
mod partial_failures;
mod real_flux;
mod real_flux_platform;
mod remote;
mod secrets;
mod sops_generators;
mod source_secrets;

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
        repo: vec![root().join("fixtures/infra-repo")],
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
        let mut applied = object;
        drift_check::diff::normalize::desired(&mut applied);
        apply(&client, &resources, &applied, "kustomize-controller").await;
    }

    apply_lb_pools(&client, &resources).await;
    control_plane::apply_own_kustomizations(&client, &resources).await;
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
    use drift_check::live::TypeRef;
    use drift_check::live::cluster::{Cluster, ClusterOptions};
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
            .filter(|(key, _)| {
                !LB_POOLS.contains(&key.name.as_str())
                    && !control_plane::KUSTOMIZATIONS.contains(&key.name.as_str())
            })
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

#[test]
fn substitution_variables_are_read_from_the_kustomization_namespace() {
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
        a.repo = vec![root().join("tests/cluster/scope-repo")];
        a.source = Some("flux-system/cilium-infra".into());
        a.kustomizations = LB_POOLS.iter().map(|n| n.to_string()).collect();
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
