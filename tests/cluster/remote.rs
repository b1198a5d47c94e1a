//! Remote Kustomizations (`spec.kubeConfig`), hub and spokes, on real API
//! servers: the test setup's server is the hub; two more on the same etcd
//! (`scripts/services/kube-apiserver extra`) are the spokes. The hub holds
//! the Kustomizations and their kubeconfig Secrets (each spoke's CA and a
//! token, as Flux's hub-and-spoke layout has them); the spokes hold what
//! kustomize-controller applied there. Checked as a token that may read no
//! Secret (RBAC is the opt-in: each remote Kustomization "could not check",
//! naming its Secret and the grant), then with job/components/kubeconfig-
//! secrets bound: untouched spokes give no finding, an edit on each spoke
//! is found there and attributed, and each broken kubeconfig (spoke down,
//! wrong CA, bad token, garbage, exec plugin, missing Secret) is one "could
//! not check" of its own Kustomization, never a missing object.

use super::*;
use drift_check::report::KustomizationEntry;

/// The hub namespace of the remote Kustomizations and their Secrets.
const NS: &str = "fleet";
const SOURCE: &str = "remote-infra";

/// A spoke API server, started by the test setup's script.
pub(super) struct Spoke {
    pub(super) admin: PathBuf,
    pub(super) server: String,
    pub(super) ca: Vec<u8>,
}

/// Starts (or restarts) the extra API server `name` on the setup's etcd.
pub(super) fn spoke(name: &str) -> Option<Spoke> {
    let state = PathBuf::from(service("DRIFT_CHECK_TEST_APISERVER_STATE")?);
    let out = std::process::Command::new(root().join("scripts/services/kube-apiserver"))
        .args(["extra", state.to_str().unwrap(), name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "extra API server {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let text = std::fs::read_to_string(&admin).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let ca = std::fs::read(state.join("extra").join(name).join("certs/apiserver.crt")).unwrap();
    Some(Spoke { admin, server, ca })
}

pub(super) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A self-contained kubeconfig, as Flux's kubeconfig Secrets hold.
pub(super) fn kubeconfig(server: &str, cluster: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: spoke\n\
         clusters:\n- name: spoke\n  cluster:\n    server: {server}\n{cluster}\
         users:\n- name: flux\n  user:\n{user}\
         contexts:\n- name: spoke\n  context: {{cluster: spoke, user: flux}}\n"
    )
}

pub(super) fn ca(pem: &[u8]) -> String {
    format!("    certificate-authority-data: {}\n", b64(pem))
}

pub(super) const TOKEN: &str = "    token: admintoken\n";

/// A Kustomization of `./spoke-apps` (or `./hub-apps` without a Secret),
/// its status as kustomize-controller writes it after applying.
fn manifest(name: &str, secret: Option<(&str, Option<&str>)>) -> Value {
    let path = if secret.is_some() {
        "./spoke-apps"
    } else {
        "./hub-apps"
    };
    let mut ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"interval": "10m", "path": path, "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": SOURCE}}});
    if let Some((secret, key)) = secret {
        ks["spec"]["kubeConfig"] = json!({"secretRef": {"name": secret, "key": key}});
    }
    ks
}

/// Applies the Kustomization on the hub, and its render where it applies
/// (`target`), the way kustomize-controller does.
async fn reconciled(
    hub: (&Client, &Resources),
    target: (&Client, &Resources),
    name: &str,
    secret: Option<(&str, Option<&str>)>,
) {
    let manifest = manifest(name, secret);
    apply(hub.0, hub.1, &manifest, "kustomize-controller").await;
    let ks = discover::from_object(&manifest, flux::Origin::Live, NS).unwrap();
    let rendered = drift_check::render::render(
        &root().join("tests/cluster/remote-repo"),
        &ks,
        &Default::default(),
    )
    .unwrap();
    let mut entries = Vec::new();
    for object in rendered {
        let mut applied = object.clone();
        drift_check::diff::normalize::desired(&mut applied);
        let stored = apply(target.0, target.1, &applied, "kustomize-controller").await;
        let r = object::ObjectRef::of(&serde_json::to_value(stored).unwrap()).unwrap();
        entries.push(json!({"id": r.key().inventory_id(), "v": "v1"}));
    }
    let status = json!({"status": {"observedGeneration": 1, "inventory": {"entries": entries},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                        "message": "Applied revision: main", "lastTransitionTime": "2026-12-01T09:00:00Z",
                        "observedGeneration": 1}]}});
    let (api, _) = hub.1.api(hub.0, &manifest);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Only the Kustomization of a broken kubeconfig: on the hub, no objects
/// anywhere (nothing can be applied with it).
async fn broken(hub: (&Client, &Resources), name: &str, secret: &str, value: Option<String>) {
    let manifest = manifest(name, Some((secret, None)));
    apply(hub.0, hub.1, &manifest, "kustomize-controller").await;
    if let Some(value) = value {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret, "namespace": NS}, "data": {"value": b64(value.as_bytes())}});
        apply(hub.0, hub.1, &secret, "test-setup").await;
    }
}

fn secret(name: &str, key: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": NS}, "data": {key: b64(value.as_bytes())}})
}

/// The component's ClusterRole, for these Secrets, and the RoleBinding in
/// `NS` its kustomization.yaml shows, for the test's partial user instead of
/// the Job's ServiceAccount.
fn component_grant(secrets: &[&str]) -> Vec<Value> {
    let mut role = yaml_objects(&root().join("job/components/kubeconfig-secrets/clusterrole.yaml"));
    assert_eq!(role.len(), 1);
    role[0]["rules"][0]["resourceNames"] = json!(secrets);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "drift-check-kubeconfig-secrets", "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "drift-check-kubeconfig-secrets"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "drift-partial"}]});
    vec![role.remove(0), binding]
}

const REMOTE: [&str; 10] = [
    "spoke-a",
    "spoke-b",
    "down",
    "wrong-ca",
    "bad-token",
    "garbage",
    "exec",
    "missing",
    "hub-apps",
    "as-deployer",
];

async fn check_fleet(p: &Platform) -> Report {
    check_fleet_as(&p.partial, DiffMode::Local).await
}

async fn check_fleet_as(kubeconfig: &std::path::Path, mode: DiffMode) -> Report {
    let mut a = args(kubeconfig);
    a.config = None;
    a.repo = vec![root().join("tests/cluster/remote-repo")];
    a.source = Some(format!("{NS}/{SOURCE}"));
    a.kustomizations = REMOTE.iter().map(|n| format!("{NS}/{n}")).collect();
    check(&a, mode).await
}

fn entry<'r>(report: &'r Report, name: &str) -> &'r KustomizationEntry {
    report
        .kustomizations
        .iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("{name} not in the report"))
}

/// (cluster, object, path, manager) of each finding.
fn found(report: &Report) -> Vec<(String, String, String, Option<String>)> {
    let mut out: Vec<_> = report
        .findings
        .iter()
        .flat_map(|f| {
            let ks = f.kustomization.clone().unwrap_or_default();
            let cluster = report
                .kustomizations
                .iter()
                .find(|k| k.id() == ks)
                .and_then(|k| k.cluster.clone())
                .unwrap_or_else(|| "hub".into());
            let object = format!("{} {}", f.object, f.drift.as_str());
            f.changes
                .iter()
                .map(move |c| {
                    (
                        cluster.clone(),
                        object.clone(),
                        c.path.clone(),
                        c.manager.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn remote_kustomizations_are_checked_on_their_spoke_and_each_broken_kubeconfig_is_its_own_problem()
{
    let Some(p) = platform() else { return };
    let (Some(a), Some(b)) = (spoke("remote23-a"), spoke("remote23-b")) else {
        return;
    };
    let hub_ca = std::fs::read(
        PathBuf::from(service("DRIFT_CHECK_TEST_APISERVER_STATE").unwrap())
            .join("certs/apiserver.crt"),
    )
    .unwrap();
    runtime().block_on(async {
        let hub = client(&p.admin).await;
        let hub_resources = Resources::new(&hub).await;
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
        apply(&hub, &hub_resources, &namespace, "test-setup").await;
        let (client_a, client_b) = (client(&a.admin).await, client(&b.admin).await);
        let (resources_a, resources_b) = (Resources::new(&client_a).await, Resources::new(&client_b).await);
        let h = (&hub, &hub_resources);

        apply(h.0, h.1, &secret("spoke-a-kubeconfig", "value", &kubeconfig(&a.server, &ca(&a.ca), TOKEN)), "test-setup").await;
        apply(h.0, h.1, &secret("spoke-b-kubeconfig", "config", &kubeconfig(&b.server, &ca(&b.ca), TOKEN)), "test-setup").await;
        reconciled(h, (&client_a, &resources_a), "spoke-a", Some(("spoke-a-kubeconfig", None))).await;
        reconciled(h, (&client_b, &resources_b), "spoke-b", Some(("spoke-b-kubeconfig", Some("config")))).await;
        // The hub's own Kustomization applies an object of the same identity
        // on the hub: clusters never mix.
        reconciled(h, h, "hub-apps", None).await;
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        broken(h, "down", "down-kubeconfig", Some(kubeconfig(&format!("https://127.0.0.1:{closed}"), &ca(&a.ca), TOKEN))).await;
        broken(h, "wrong-ca", "wrong-ca-kubeconfig", Some(kubeconfig(&a.server, &ca(&hub_ca), TOKEN))).await;
        broken(h, "bad-token", "bad-token-kubeconfig", Some(kubeconfig(&b.server, &ca(&b.ca), "    token: expired-s3cr3t\n"))).await;
        broken(h, "garbage", "garbage-kubeconfig", Some("s3cr3t: [unclosed".into())).await;
        let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws-iam-authenticator\n      args: [token, -i, prod]\n";
        broken(h, "exec", "exec-kubeconfig", Some(kubeconfig(&a.server, &ca(&a.ca), exec))).await;
        broken(h, "missing", "missing-kubeconfig", None).await;
        // Impersonated on the spoke, as Flux does: a service account that
        // may list nothing there leaves its objects unchecked, saying who.
        let mut as_deployer = manifest("as-deployer", Some(("spoke-a-kubeconfig", None)));
        as_deployer["spec"]["serviceAccountName"] = json!("deployer");
        apply(h.0, h.1, &as_deployer, "kustomize-controller").await;

        // Without the grant: each remote Kustomization names its Secret.
        let report = check_fleet(p).await;
        for (name, secret) in [("spoke-a", "spoke-a-kubeconfig"), ("garbage", "garbage-kubeconfig"), ("missing", "missing-kubeconfig")] {
            assert_eq!(
                entry(&report, name).error.as_deref(),
                Some(format!("could not check: cannot read Secret {NS}/{secret} (forbidden: grant get on it with job/components/kubeconfig-secrets)").as_str()),
                "{:#?}", report.errors
            );
        }
        assert_eq!(entry(&report, "hub-apps").error, None, "{:#?}", report.errors);
        assert_eq!(entry(&report, "hub-apps").cluster, None);
        assert_eq!(found(&report), [], "{:#?}", report.findings);
        assert_eq!(report.exit_code(), 2);

        // The component, bound: the spokes are checked.
        let secrets = ["spoke-a-kubeconfig", "spoke-b-kubeconfig", "down-kubeconfig", "wrong-ca-kubeconfig",
                       "bad-token-kubeconfig", "garbage-kubeconfig", "exec-kubeconfig", "missing-kubeconfig"];
        for object in component_grant(&secrets) {
            apply(h.0, h.1, &object, "test-setup").await;
        }
        let mut report = check_fleet(p).await;
        for _ in 0..50 {
            if entry(&report, "spoke-a").error.is_none() {
                break;
            }
            // RBAC's authorizer cache takes a moment to see the new binding.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            report = check_fleet(p).await;
        }
        for (name, cluster) in [("spoke-a", "fleet/spoke-a-kubeconfig"), ("spoke-b", "fleet/spoke-b-kubeconfig:config")] {
            let e = entry(&report, name);
            assert_eq!((e.error.as_deref(), e.cluster.as_deref(), e.objects), (None, Some(cluster), 2), "{:#?}", report.errors);
        }
        assert_eq!(found(&report), [], "untouched spokes: {:#?}", report.findings);
        let error = |name: &str| entry(&report, name).error.clone().unwrap_or_default();
        assert!(error("down").starts_with(&format!(
            "could not check: the cluster of Secret {NS}/down-kubeconfig (https://127.0.0.1:{closed}/): GET /version: ServiceError: client error (Connect): tcp connect error: "
        )), "{}", error("down"));
        assert!(error("wrong-ca").starts_with(&format!(
            "could not check: the cluster of Secret {NS}/wrong-ca-kubeconfig ({}/): GET /version", a.server
        )), "{}", error("wrong-ca"));
        assert!(error("wrong-ca").contains(": GET /version: ServiceError: client error (Connect): invalid peer certificate: UnknownIssuer"), "{}", error("wrong-ca"));
        assert_eq!(error("bad-token"), format!(
            "could not check: the cluster of Secret {NS}/bad-token-kubeconfig ({}/): GET /version: Unauthorized (401): Unauthorized", b.server
        ));
        assert_eq!(error("garbage"), format!(
            "could not check: Secret {NS}/garbage-kubeconfig, key \"value\": not a kubeconfig (not YAML with clusters, users and contexts (apiVersion: v1, kind: Config))"
        ));
        assert_eq!(error("exec"), format!(
            "could not check: Secret {NS}/exec-kubeconfig, key \"value\": user \"flux\" runs an exec credential plugin (aws-iam-authenticator), refused as kustomize-controller refuses it without --insecure-kubeconfig-exec (allow it with --insecure-kubeconfig-exec or `insecureKubeconfigExec: true`)"
        ));
        assert_eq!(error("missing"), format!("could not check: Secret {NS}/missing-kubeconfig (spec.kubeConfig.secretRef) not found"));
        assert_eq!(
            (entry(&report, "as-deployer").error.as_deref(), entry(&report, "as-deployer").cluster.as_deref()),
            (Some("could not check: v1 configmaps forbidden, v1 namespaces forbidden"), Some("fleet/spoke-a-kubeconfig"))
        );
        let impersonated = "cannot list resource \"configmaps\" in API group \"\" at the cluster scope";
        assert!(
            report.errors.iter().any(|e| e.message.starts_with("cluster fleet/spoke-a-kubeconfig: list v1 configmaps: Forbidden (403): ")
                && e.message.contains(&format!("User \"system:serviceaccount:{NS}:deployer\" {impersonated}"))),
            "{:#?}", report.errors
        );
        assert_eq!(report.exit_code(), 2);
        let text = format!("{report:?}");
        for secret in ["s3cr3t", "admintoken"] {
            assert!(!text.contains(secret), "{secret} leaked");
        }

        // A person's edit on each spoke: found there, attributed from the
        // spoke's managedFields; the hub's object of the same name untouched.
        let settings = reference("v1", "ConfigMap", Some("edge"), "settings");
        update(&client_a, &resources_a, &settings, "kubectl-edit", Patch::Merge(json!({"data": {"level": "9"}}))).await;
        update(&client_b, &resources_b, &settings, "kubectl-label", Patch::Merge(json!({"metadata": {"labels": {"debug": "on"}}}))).await;
        let report = check_fleet(p).await;
        assert_eq!(
            found(&report),
            [
                ("fleet/spoke-a-kubeconfig".to_string(), "ConfigMap/edge/settings modified".to_string(), "/data/level".to_string(), Some("kubectl-edit".to_string())),
                ("fleet/spoke-b-kubeconfig:config".to_string(), "ConfigMap/edge/settings modified".to_string(), "/metadata/labels/debug".to_string(), Some("kubectl-label".to_string())),
            ],
            "{:#?}", report.findings
        );
        assert!(report.findings.iter().all(|f| !f.explained));
        let text = report.render(drift_check::report::Format::Text);
        assert!(
            text.contains("fleet/spoke-b (./spoke-apps, on cluster fleet/spoke-b-kubeconfig:config): 2 objects"),
            "{text}"
        );
        let edits = found(&report);

        // Left on spoke A by an earlier revision of spoke-a: its orphan, on
        // spoke A only. In server mode, with Flux's dry-run on each spoke
        // (the spokes' token is Flux's): the same edits.
        let stale = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "stale", "namespace": "edge",
                "labels": {"kustomize.toolkit.fluxcd.io/name": "spoke-a",
                           "kustomize.toolkit.fluxcd.io/namespace": NS}},
            "data": {"level": "1"}});
        apply(&client_a, &resources_a, &stale, "kustomize-controller").await;
        let report = check_fleet_as(&p.admin, DiffMode::Server).await;
        let orphans: Vec<(Option<&str>, String)> = report
            .findings
            .iter()
            .filter(|f| f.drift.as_str() == "orphaned")
            .map(|f| (f.kustomization.as_deref(), f.object.to_string()))
            .collect();
        assert_eq!(orphans, [(Some("fleet/spoke-a"), "ConfigMap/edge/stale".to_string())], "{:#?}", report.findings);
        let mut want = edits.clone();
        want.push((
            "fleet/spoke-a-kubeconfig".to_string(),
            "ConfigMap/edge/stale orphaned".to_string(),
            String::new(),
            Some("kustomize-controller".to_string()),
        ));
        want.sort();
        assert_eq!(found(&report), want, "{:#?}", report.findings);

        // Gone again, so that no other test's whole-cluster check sees them.
        let ns = reference("v1", "Namespace", None, NS);
        let (api, name) = h.1.api(h.0, &ns);
        api.delete(&name, &DeleteParams::default()).await.unwrap();
        let edge = reference("v1", "Namespace", None, "edge");
        let (api, name) = h.1.api(h.0, &edge);
        api.delete(&name, &DeleteParams::default()).await.unwrap();
    });
}
