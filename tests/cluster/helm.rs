//! Helm-managed objects on the real API server: a Kustomization applies
//! HelmReleases (Flux's real CRD), the chart's objects are created as
//! helm-controller creates them (manager `helm-controller`, Helm's labels
//! and annotations, a release record Secret holding the manifest), then
//! people edit them with kubectl's field managers.

use std::io::Write;
use std::sync::OnceLock;

use base64::Engine;
use drift_check::diff::{DiffMode, Op};
use drift_check::report::Report;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{
    Resources, apply, args, check, client, discover, flux, job_kubeconfig, platform, reference,
    runtime, update,
};
use crate::util::{Row, root, summary};

const KS: &str = "flux-system/helm-apps";
const REVISION: &str = "main@sha1:3d1f0c9b8a7e6d5c4b3a29181f0e0d9c8b7a6f5e";

/// The chart's objects as Helm renders them: what release v2 of
/// `observability-grafana` stores as its manifest (helm-controller's origin
/// labels are in it: its post-renderer adds them before Helm stores it).
const MANIFEST: &str = include_str!("helm-release-manifest.yaml");

/// The chart's Secret value (plain and as stored), and a value of the
/// release's `config`: none may appear in any output.
const SECRET_VALUES: &[&str] = &[
    "hunter2-grafana",
    "aHVudGVyMi1ncmFmYW5h",
    "values-admin-password",
];

/// What the setup produced.
struct Helm {
    clean: Report,
    clean_manifests: Report,
    drift: Report,
    drift_manifests: Report,
    /// The job's ServiceAccount token (job/'s read-only ClusterRole).
    drift_job: Report,
    /// A user with job/'s ClusterRole minus Secrets, opting in, before and
    /// after a RoleBinding of job/components/helm-manifests' ClusterRole in
    /// the storage namespace.
    partial_unbound: Report,
    partial_bound: Report,
}

static HELM: OnceLock<Helm> = OnceLock::new();

fn helm() -> Option<&'static Helm> {
    let p = platform()?;
    Some(HELM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let job = job_kubeconfig(p, dir.path());
        runtime().block_on(setup(p, &job))
    }))
}

/// A release record as Helm's Secret storage driver writes it.
fn record(version: u64, status: &str, manifest: &str) -> Value {
    let release = json!({"name": "observability-grafana", "namespace": "observability", "version": version,
        "info": {"status": status}, "manifest": manifest,
        "config": {"adminPassword": "values-admin-password"}, "chart": {"metadata": {"name": "grafana"}}});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.observability-grafana.v{version}"), "namespace": "observability",
            "labels": {"owner": "helm", "name": "observability-grafana", "status": status, "version": version.to_string()}},
        "data": {"release": b64.encode(b64.encode(gz.finish().unwrap()))}})
}

/// An object of the chart as helm-controller creates it: in the release
/// namespace, labelled and annotated by Helm.
fn as_created(mut o: Value, namespace: &str, release: &str, hr: (&str, &str)) -> Value {
    o["metadata"]["namespace"] = json!(namespace);
    o["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("Helm");
    o["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] = json!(hr.1);
    o["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"] = json!(hr.0);
    o["metadata"]["annotations"] = json!({"meta.helm.sh/release-name": release,
        "meta.helm.sh/release-namespace": namespace});
    o
}

/// Creates an object the way Helm does: a POST, as field manager `helm-controller`.
async fn create(client: &kube::Client, resources: &Resources, o: &Value) {
    let (api, _) = resources.api(client, o);
    let params = PostParams {
        field_manager: Some("helm-controller".into()),
        ..Default::default()
    };
    let object: DynamicObject = serde_json::from_value(o.clone()).unwrap();
    api.create(&params, &object)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", o["metadata"]["name"]));
}

fn check_args(kubeconfig: &std::path::Path, manifests: bool) -> drift_check::cli::CommonArgs {
    let mut a = args(kubeconfig);
    a.config = None;
    a.repo = vec![root().join("tests/cluster/helm-repo")];
    a.source = Some("flux-system/helm-infra".into());
    a.kustomizations = vec!["helm-apps".into()];
    a.helm_release_manifests = Some(manifests);
    a
}

/// Installs Flux's real HelmRelease CRD (without its CEL rules).
pub(super) async fn install_crd(client: &kube::Client) {
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    let path = root().join("tests/cluster/helmrelease-crd.yaml");
    let crd = drift_check::yaml::documents(&std::fs::read_to_string(&path).unwrap(), &path)
        .unwrap()
        .remove(0);
    crds.patch(
        "helmreleases.helm.toolkit.fluxcd.io",
        &PatchParams::apply("test-setup").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
}

/// The fixture platform's HelmRelease monitoring/prometheus: the objects
/// helm-controller installed for it (as `fixtures/live/prod` has them).
pub(super) async fn install_prometheus(client: &kube::Client, resources: &Resources) {
    let labels = json!({"app.kubernetes.io/name": "prometheus-server", "helm.sh/chart": "prometheus-27.3.0"});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "prometheus-server", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "prometheus-server"}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": "prometheus-server"}},
                "spec": {"containers": [{"name": "prometheus-server", "image": "quay.io/prometheus/prometheus:v3.1.0",
                    "args": ["--storage.tsdb.retention.time=15d", "--config.file=/etc/config/prometheus.yml"],
                    "ports": [{"containerPort": 9090, "protocol": "TCP"}]}]}}}});
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "prometheus-server", "labels": labels},
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": "prometheus-server"},
            "ports": [{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}]}});
    for o in [deployment, service] {
        let o = as_created(o, "monitoring", "prometheus", ("monitoring", "prometheus"));
        create(client, resources, &o).await;
    }
}

/// `kubectl patch deploy/prometheus-server`: a person raises the retention
/// the HelmRelease's values set (the fixture platform's Helm case).
pub(super) async fn patch_prometheus(client: &kube::Client, resources: &Resources) {
    let deployment = reference(
        "apps/v1",
        "Deployment",
        Some("monitoring"),
        "prometheus-server",
    );
    update(client, resources, &deployment, "kubectl-patch", Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "prometheus-server", "args": ["--storage.tsdb.retention.time=90d", "--config.file=/etc/config/prometheus.yml"]}]}}}}))).await;
}

async fn setup(p: &'static super::Platform, job: &std::path::Path) -> Helm {
    let client = client(&p.admin).await;
    let resources = Resources::new(&client).await;
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "observability"}});
    apply(&client, &resources, &namespace, "test-setup").await;

    // The Kustomization, and its render applied the way Flux does.
    let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "helm-apps", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./apps", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "helm-infra"}}});
    apply(&client, &resources, &manifest, "kustomize-controller").await;
    let ks = discover::from_object(&manifest, flux::Origin::Live, "flux-system").unwrap();
    let rendered = drift_check::render::render(
        &root().join("tests/cluster/helm-repo"),
        &ks,
        &Default::default(),
    )
    .unwrap();
    let mut entries = Vec::new();
    for object in &rendered {
        let mut applied = object.clone();
        drift_check::diff::normalize::desired(&mut applied);
        apply(&client, &resources, &applied, "kustomize-controller").await;
        let r = drift_check::k8s::object::ObjectRef::of(object).unwrap();
        entries.push(json!({"id": r.key().inventory_id(), "v": "v2"}));
    }
    let status = json!({"status": {"lastAppliedRevision": REVISION, "lastAttemptedRevision": REVISION,
        "inventory": {"entries": entries},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                        "message": format!("Applied revision: {REVISION}"), "lastTransitionTime": "2026-11-30T09:00:00Z"}]}});
    let (api, _) = resources.api(&client, &manifest);
    api.patch_status("helm-apps", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    // helm-controller's verdicts: grafana and loki installed, tempo failing.
    for (namespace, name, ready, reason, message) in [
        (
            "flux-system",
            "grafana",
            "True",
            "UpgradeSucceeded",
            "Helm upgrade succeeded for release observability/observability-grafana.v2 with chart grafana@8.5.0",
        ),
        (
            "observability",
            "loki",
            "True",
            "InstallSucceeded",
            "Helm install succeeded for release observability/loki.v1 with chart loki@6.0.0",
        ),
        (
            "observability",
            "tempo",
            "False",
            "UpgradeFailed",
            "Helm upgrade failed for release observability/tempo with chart tempo@1.10.0: context deadline exceeded",
        ),
    ] {
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason,
            "message": message, "lastTransitionTime": "2026-11-29T04:00:00Z"}]}});
        let (api, _) = resources.api(
            &client,
            &reference(
                "helm.toolkit.fluxcd.io/v2",
                "HelmRelease",
                Some(namespace),
                name,
            ),
        );
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    // What helm-controller installed: the release records, then the objects.
    let stale = MANIFEST.replace(
        "root_url = https://grafana.example.com",
        "root_url = http://old",
    );
    create(&client, &resources, &record(1, "superseded", &stale)).await;
    create(&client, &resources, &record(2, "deployed", MANIFEST)).await;
    let chart = drift_check::yaml::documents(MANIFEST, "manifest".as_ref()).unwrap();
    for o in chart {
        create(
            &client,
            &resources,
            &as_created(
                o,
                "observability",
                "observability-grafana",
                ("flux-system", "grafana"),
            ),
        )
        .await;
    }
    let loki = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "loki",
            "labels": {"app.kubernetes.io/name": "loki"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "loki"}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": "loki"}},
                "spec": {"containers": [{"name": "loki", "image": "grafana/loki:3.2.0"}]}}}});
    create(
        &client,
        &resources,
        &as_created(loki, "observability", "loki", ("observability", "loki")),
    )
    .await;

    // Labelled for the HelmRelease that installs into another cluster: not
    // what it deployed, whatever its labels say.
    let edge = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "edge-agent"},
        "data": {"agent.yaml": "server: {log_level: info}\n"}});
    create(
        &client,
        &resources,
        &as_created(
            edge.clone(),
            "observability",
            "edge",
            ("observability", "edge"),
        ),
    )
    .await;
    // What it deployed is on its spoke, reached with the kubeconfig of its
    // Secret (in the HelmRelease's namespace, as helm-controller reads it).
    let spoke = edge_spoke(&client, &resources).await;
    create(
        &spoke.0,
        &spoke.1,
        &as_created(edge, "observability", "edge", ("observability", "edge")),
    )
    .await;

    // Labelled for the Kustomization, but of a type it neither renders nor
    // inventories: read only for the HelmReleases, it is no orphan (the
    // orphan scans cover the rendered and inventoried types only).
    let daemonset = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-agent",
            "namespace": "observability",
            "labels": {"kustomize.toolkit.fluxcd.io/name": "helm-apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
            "template": {"metadata": {"labels": {"app": "node-agent"}},
                "spec": {"containers": [{"name": "agent", "image": "busybox:1.36"}]}}}});
    apply(&client, &resources, &daemonset, "kubectl-client-side-apply").await;

    let clean = check(&check_args(&p.reader, false), DiffMode::Local).await;
    let clean_manifests = check(&check_args(&p.admin, true), DiffMode::Local).await;

    edit(&client, &resources).await;
    let drift = check(&check_args(&p.reader, false), DiffMode::Local).await;
    let drift_manifests = check(&check_args(&p.admin, true), DiffMode::Local).await;
    let drift_job = check(&check_args(job, false), DiffMode::Local).await;

    // The partial user may read everything job/'s ClusterRole reads but Secrets.
    let partial_unbound = check(&check_args(&p.partial, true), DiffMode::Local).await;
    let role = drift_check::yaml::documents(
        &std::fs::read_to_string(root().join("job/components/helm-manifests/clusterrole.yaml"))
            .unwrap(),
        "clusterrole.yaml".as_ref(),
    )
    .unwrap()
    .remove(0);
    apply(&client, &resources, &role, "test-setup").await;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "drift-check-helm-releases", "namespace": "observability"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "drift-check-helm-releases"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "drift-partial"}]});
    apply(&client, &resources, &binding, "test-setup").await;
    let mut partial_bound = check(&check_args(&p.partial, true), DiffMode::Local).await;
    for _ in 0..50 {
        if partial_bound.errors.is_empty() {
            break;
        }
        // RBAC's authorizer cache takes a moment to see the new binding.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        partial_bound = check(&check_args(&p.partial, true), DiffMode::Local).await;
    }
    Helm {
        clean,
        clean_manifests,
        drift,
        drift_manifests,
        drift_job,
        partial_unbound,
        partial_bound,
    }
}

/// The spoke HelmRelease observability/edge installs into: an API server
/// of its own, its kubeconfig in the Secret the HelmRelease names, the
/// release namespace there. Returns a client for it.
async fn edge_spoke(hub: &kube::Client, hub_resources: &Resources) -> (kube::Client, Resources) {
    use super::remote::{TOKEN, b64, ca, kubeconfig, spoke};
    let edge = spoke("helm-edge").expect("the test setup's API server state");
    let value = kubeconfig(&edge.server, &ca(&edge.ca), TOKEN);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "edge-kubeconfig", "namespace": "observability"},
        "data": {"value": b64(value.as_bytes())}});
    apply(hub, hub_resources, &secret, "test-setup").await;
    let client = client(&edge.admin).await;
    let resources = Resources::new(&client).await;
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "observability"}});
    apply(&client, &resources, &namespace, "test-setup").await;
    (client, resources)
}

/// People's and controllers' changes, with the managers kubectl and the
/// controllers use.
async fn edit(client: &kube::Client, r: &Resources) {
    let deployment = reference("apps/v1", "Deployment", Some("observability"), "grafana");
    // kubectl set env deploy/grafana DEBUG=true
    update(
        client,
        r,
        &deployment,
        "kubectl-set",
        Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "grafana", "env": [{"name": "DEBUG", "value": "true"}]}]}}}})),
    )
    .await;
    // kubectl annotate: covered by the HelmRelease's driftDetection.ignore.
    update(
        client,
        r,
        &deployment,
        "kubectl-annotate",
        Patch::Merge(json!({"metadata": {"annotations": {"oncall.example.com/pager": "alice"}}})),
    )
    .await;
    // The deployment controller's own bookkeeping: not drift.
    update(
        client,
        r,
        &deployment,
        "kube-controller-manager",
        Patch::Merge(
            json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}}}),
        ),
    )
    .await;
    // kubectl patch configmap/grafana: a declared value.
    let configmap = reference("v1", "ConfigMap", Some("observability"), "grafana");
    update(
        client,
        r,
        &configmap,
        "kubectl-patch",
        Patch::Merge(json!({"data": {"grafana.ini": "[server]\nroot_url = http://debug\n"}})),
    )
    .await;
    // kubectl scale statefulset/grafana-db --replicas 3: kubectl sends no
    // field manager, so the server takes its user agent's `kubectl`, and
    // records it with `subresource: scale` (kubectl 1.36 on 1.36, checked).
    let statefulset = reference(
        "apps/v1",
        "StatefulSet",
        Some("observability"),
        "grafana-db",
    );
    let (api, name) = r.api(client, &statefulset);
    let params = PatchParams {
        field_manager: Some("kubectl".into()),
        ..Default::default()
    };
    api.patch_scale(
        &name,
        &params,
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap_or_else(|e| panic!("kubectl scale {name}: {e}"));
    // kubectl label serviceaccount/grafana team=observability
    let account = reference("v1", "ServiceAccount", Some("observability"), "grafana");
    update(
        client,
        r,
        &account,
        "kubectl-label",
        Patch::Merge(json!({"metadata": {"labels": {"team": "observability"}}})),
    )
    .await;
    // kubectl delete service/grafana
    let service = reference("v1", "Service", Some("observability"), "grafana");
    let (api, name) = r.api(client, &service);
    api.delete(&name, &DeleteParams::default()).await.unwrap();
    // flux suspend helmrelease loki, then kubectl edit deploy/loki.
    let loki = reference(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        Some("observability"),
        "loki",
    );
    update(
        client,
        r,
        &loki,
        "flux",
        Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await;
    let loki_deployment = reference("apps/v1", "Deployment", Some("observability"), "loki");
    update(
        client,
        r,
        &loki_deployment,
        "kubectl-edit",
        Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await;
    let edge = reference("v1", "ConfigMap", Some("observability"), "edge-agent");
    update(
        client,
        r,
        &edge,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"agent.yaml": "server: {log_level: debug}\n"}})),
    )
    .await;
    // The same edit on the spoke, where it installed it: found there.
    let spoke = edge_spoke(client, r).await;
    update(
        &spoke.0,
        &spoke.1,
        &edge,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"agent.yaml": "server: {log_level: trace}\n"}})),
    )
    .await;
}

fn row(object: &str, drift: &str, explained: bool) -> Row {
    (
        KS.into(),
        object.into(),
        drift.into(),
        "helm".into(),
        explained,
    )
}

/// (path, op, manager, explanation) of each change of one finding.
fn changes(report: &Report, object: &str) -> Vec<(String, Op, Option<String>, Option<String>)> {
    let f = report
        .findings
        .iter()
        .find(|f| f.object.to_string() == object)
        .unwrap_or_else(|| panic!("no finding for {object}: {:#?}", report.findings));
    f.changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                c.op,
                c.manager.clone(),
                c.explanation.clone(),
            )
        })
        .collect()
}

fn people_edits() -> Vec<Row> {
    vec![
        // On the spoke of HelmRelease observability/edge (spec.kubeConfig).
        row("ConfigMap/observability/edge-agent", "modified", false),
        row("ConfigMap/observability/grafana", "modified", false),
        row("Deployment/observability/grafana", "modified", false),
        row("Deployment/observability/loki", "modified", true),
        row("ServiceAccount/observability/grafana", "modified", false),
        row("StatefulSet/observability/grafana-db", "modified", false),
    ]
}

const IGNORED: &str = "ignored by HelmRelease flux-system/grafana spec.driftDetection.ignore[0] (/metadata/annotations/oncall.example.com~1pager)";

#[test]
fn untouched_helm_objects_are_no_finding_with_or_without_the_manifest() {
    let Some(h) = helm() else { return };
    for report in [&h.clean, &h.clean_manifests] {
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(summary(report), vec![], "{:#?}", report.findings);
    }
}

#[test]
fn each_person_edit_of_a_helm_object_is_one_unexplained_helm_finding_naming_the_helm_release() {
    let Some(h) = helm() else { return };
    let r = &h.drift;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(summary(r), people_edits(), "{:#?}", r.findings);
    let by = |m: &str| Some(m.to_string());
    assert_eq!(
        changes(r, "Deployment/observability/grafana"),
        [
            (
                "/metadata/annotations/oncall.example.com~1pager".into(),
                Op::Replace,
                by("kubectl-annotate"),
                Some(IGNORED.into())
            ),
            (
                "/spec/template/spec/containers/0/env/0".into(),
                Op::Add,
                by("kubectl-set"),
                None
            ),
        ]
    );
    assert_eq!(
        changes(r, "ConfigMap/observability/grafana"),
        [(
            "/data/grafana.ini".into(),
            Op::Replace,
            by("kubectl-patch"),
            None
        )]
    );
    assert_eq!(
        changes(r, "StatefulSet/observability/grafana-db"),
        [("/spec/replicas".into(), Op::Replace, by("kubectl"), None)]
    );
    // Found on the spoke of HelmRelease observability/edge, from the
    // spoke's managedFields (the hub's object of that name is not its).
    assert_eq!(
        changes(r, "ConfigMap/observability/edge-agent"),
        [(
            "/data/agent.yaml".into(),
            Op::Replace,
            by("kubectl-edit"),
            None
        )]
    );
    assert_eq!(
        changes(r, "ServiceAccount/observability/grafana"),
        [(
            "/metadata/labels/team".into(),
            Op::Replace,
            by("kubectl-label"),
            None
        )]
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.object.to_string() == "ConfigMap/observability/grafana")
        .unwrap();
    assert_eq!(
        f.remedy,
        "deployed by HelmRelease flux-system/grafana: change the HelmRelease's values in git (./apps) through a PR instead of the object; to restore the chart's values now: flux reconcile helmrelease grafana -n flux-system --force"
    );
    assert_eq!(
        f.message.as_deref(),
        Some(
            "HelmRelease flux-system/grafana has drift detection enabled: helm-controller will revert the chart's declared fields at its next reconcile"
        )
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn a_suspended_helm_release_explains_and_a_failing_one_is_one_warning() {
    let Some(h) = helm() else { return };
    let r = &h.drift;
    let loki = r
        .findings
        .iter()
        .find(|f| f.object.to_string() == "Deployment/observability/loki")
        .unwrap();
    let since = loki.explanation.as_deref().unwrap();
    assert!(
        since.starts_with("HelmRelease observability/loki is suspended (since 20")
            && since.ends_with("): helm-controller is not reconciling it"),
        "{since}"
    );
    assert_eq!(
        changes(r, "Deployment/observability/loki")[0].0,
        "/spec/replicas"
    );
    let warnings: Vec<&str> = r
        .warnings
        .iter()
        .filter(|w| w.kustomization.as_deref() == Some(KS))
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].starts_with("HelmRelease observability/loki is suspended since 20"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].ends_with(": what it deployed can drift from git silently; resume it with `flux resume helmrelease loki -n observability`"));
    assert_eq!(
        warnings[1],
        "HelmRelease observability/tempo is failing since 2026-11-29T04:00:00Z (UpgradeFailed): Helm upgrade failed for release observability/tempo with chart tempo@1.10.0: context deadline exceeded; see `flux get helmrelease tempo -n observability`"
    );
}

#[test]
fn with_release_manifests_a_deleted_object_is_missing_and_a_changed_value_modified() {
    let Some(h) = helm() else { return };
    let r = &h.drift_manifests;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let mut want = people_edits();
    want.push(row("Service/observability/grafana", "missing", false));
    want.sort();
    assert_eq!(summary(r), want, "{:#?}", r.findings);
    let cm = r
        .findings
        .iter()
        .find(|f| f.object.to_string() == "ConfigMap/observability/grafana")
        .unwrap();
    assert_eq!(
        (cm.changes[0].desired.clone(), cm.changes[0].live.clone()),
        (
            Some(json!("[server]\nroot_url = https://grafana.example.com\n")),
            Some(json!("[server]\nroot_url = http://debug\n"))
        ),
        "compared with the deployed revision, not the superseded one"
    );
    let by = |m: &str| Some(m.to_string());
    assert_eq!(
        changes(r, "StatefulSet/observability/grafana-db"),
        [("/spec/replicas".into(), Op::Replace, by("kubectl"), None)]
    );
    assert_eq!(
        changes(r, "Deployment/observability/grafana"),
        [
            (
                "/metadata/annotations/oncall.example.com~1pager".into(),
                Op::Add,
                by("kubectl-annotate"),
                Some(IGNORED.into())
            ),
            (
                "/spec/template/spec/containers/0/env/0".into(),
                Op::Add,
                by("kubectl-set"),
                None
            ),
        ]
    );
    let missing = r
        .findings
        .iter()
        .find(|f| f.object.to_string() == "Service/observability/grafana")
        .unwrap();
    assert_eq!(
        missing.remedy,
        "deployed by HelmRelease flux-system/grafana (./apps): find out who deleted it, then let helm-controller re-create it: flux reconcile helmrelease grafana -n flux-system --force"
    );
    // loki has no release record: its people's edits are still found.
    assert!(r.warnings.iter().any(|w| w.message == "HelmRelease observability/loki: no deployed release loki in namespace observability: its objects are checked for people's edits only"));
}

#[test]
fn without_the_opt_in_the_job_read_only_cluster_role_is_enough() {
    let Some(h) = helm() else { return };
    let r = &h.drift_job;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(summary(r), people_edits(), "{:#?}", r.findings);
}

#[test]
fn release_records_need_the_helm_manifests_role_in_the_storage_namespace() {
    let Some(h) = helm() else { return };
    let errors: Vec<&str> = h
        .partial_unbound
        .errors
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(errors.len(), 4, "one per HelmRelease: {errors:?}");
    // The remote one's kubeconfig Secret is no more readable than records.
    assert!(
        errors.contains(&"HelmRelease observability/edge: could not check: cannot read Secret observability/edge-kubeconfig (forbidden: grant get on it with job/components/kubeconfig-secrets)"),
        "{errors:?}"
    );
    assert_eq!(
        errors[0],
        "HelmRelease flux-system/grafana: cannot read its release records (helm.releaseManifests; job/components/helm-manifests grants it): list the Helm release records of observability-grafana in namespace observability: Forbidden (403): secrets is forbidden: User \"drift-partial\" cannot list resource \"secrets\" in API group \"\" in the namespace \"observability\""
    );
    let r = &h.partial_bound;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let mut want = people_edits();
    want.push(row("Service/observability/grafana", "missing", false));
    want.sort();
    assert_eq!(summary(r), want, "{:#?}", r.findings);
}

#[test]
fn neither_the_release_values_nor_secret_data_appear_in_any_output() {
    let Some(h) = helm() else { return };
    for report in [&h.drift, &h.drift_manifests, &h.partial_bound] {
        use drift_check::report::Format;
        let outputs = [Format::Json, Format::Text, Format::Markdown].map(|f| report.render(f));
        for out in outputs {
            for value in SECRET_VALUES {
                assert!(!out.contains(value), "{value} in {out}");
            }
        }
    }
}
