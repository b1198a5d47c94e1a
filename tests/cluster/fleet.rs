//! A fleet of real API servers in one run: two more kube-apiservers on the
//! suite's etcd (`scripts/services/kube-apiserver extra`, each its own
//! `--etcd-prefix`, so its own cluster), each with the scope tests'
//! `tenant-sandbox` Kustomization as Flux left it; a person edits a
//! ConfigMap on the second one. With them, a cluster that is down, one
//! whose kubeconfig cannot be read and a name given twice: each is one
//! "could not check" entry of its own, and the others are still checked.

use std::sync::OnceLock;

use super::*;
use crate::util::TestCommand;

/// The two API servers' admin kubeconfigs: (clean, drifted).
static SERVERS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();

pub(super) fn servers() -> Option<&'static (PathBuf, PathBuf)> {
    let state = service("DRIFT_CHECK_TEST_APISERVER_STATE")?;
    Some(SERVERS.get_or_init(|| {
        runtime().block_on(async {
            let clean = member(&state, "fleet-a", false).await;
            let drifted = member(&state, "fleet-b", true).await;
            (clean, drifted)
        })
    }))
}

/// Starts one more API server and sets up its Flux objects; with `drift`,
/// a person edits the ConfigMap Flux applied. Returns its admin kubeconfig.
async fn member(state: &str, name: &str, drift: bool) -> PathBuf {
    let out = std::process::Command::new(root().join("scripts/services/kube-apiserver"))
        .args(["extra", state, name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "extra API server {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let client = client(&admin).await;
    let crds: Api<DynamicObject> = Api::all_with(
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
    for crd in yaml_objects(&root().join("tests/cluster/crds.yaml")) {
        let crd_name = crd["metadata"]["name"].as_str().unwrap().to_string();
        crds.patch(
            &crd_name,
            &PatchParams::apply("test-setup").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap();
    }
    let mut resources = Resources::new(&client).await;
    for _ in 0..100 {
        if resources.0.get("kustomize.toolkit.fluxcd.io").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        resources = Resources::new(&client).await;
    }
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}});
    apply(&client, &resources, &namespace, "test-setup").await;
    control_plane::apply_own_kustomizations(&client, &resources).await;
    if drift {
        let settings = reference(
            "v1",
            "ConfigMap",
            Some("tenant-sandbox"),
            "sandbox-settings",
        );
        update(
            &client,
            &resources,
            &settings,
            "kubectl-edit",
            Patch::Merge(json!({"data": {"LOG_LEVEL": "debug"}})),
        )
        .await;
    }
    admin
}

/// The scope tests' source, only the `tenant-sandbox` Kustomization.
fn fleet_args(config: Option<PathBuf>) -> CommonArgs {
    CommonArgs {
        config,
        repo: vec![root().join("tests/cluster/scope-repo")],
        source: Some("flux-system/cilium-infra".into()),
        kustomizations: vec!["tenant-sandbox".into()],
        request_timeout: Some(20),
        ..Default::default()
    }
}

/// A kubeconfig that reaches nothing (nothing listens on port 1).
pub(super) fn down(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("down.kubeconfig");
    std::fs::write(&path, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n").unwrap();
    path
}

/// One kubeconfig with both servers as contexts `eu` and `us`.
fn both_contexts(dir: &std::path::Path, (clean, drifted): &(PathBuf, PathBuf)) -> PathBuf {
    let server = |p: &PathBuf| {
        let text = std::fs::read_to_string(p).unwrap();
        let line = text.lines().find(|l| l.contains("server:")).unwrap();
        line.split_once("server:").unwrap().1.trim().to_string()
    };
    let path = dir.join("both.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: eu\n  cluster: {{server: '{}', insecure-skip-tls-verify: true}}\n- name: us\n  cluster: {{server: '{}', insecure-skip-tls-verify: true}}\nusers: [{{name: admin, user: {{token: admintoken}}}}]\ncontexts:\n- name: eu\n  context: {{cluster: eu, user: admin}}\n- name: us\n  context: {{cluster: us, user: admin}}\ncurrent-context: eu\n",
            server(clean),
            server(drifted)
        ),
    )
    .unwrap();
    path
}

fn unexplained(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| !f.explained)
        .map(|f| format!("{} {}", f.object, f.drift.as_str()))
        .collect()
}

#[test]
fn a_fleet_of_api_servers_is_one_report_and_what_cannot_be_checked_is_scoped_to_its_cluster() {
    let Some(servers) = servers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fleet.yaml");
    std::fs::write(
        &config,
        format!(
            "clusters:\n\
             - {{name: eu, kubeconfig: {}, labels: {{env: prod, region: eu}}}}\n\
             - {{name: us, kubeconfig: {}, labels: {{env: prod, region: us}}}}\n\
             - {{name: down, kubeconfig: {}}}\n\
             - {{name: eu, kubeconfig: {}}}\n\
             - {{name: unreadable, kubeconfig: {}}}\n\
             clustersInFlight: 2\n",
            servers.0.display(),
            servers.1.display(),
            down(dir.path()).display(),
            servers.1.display(),
            dir.path().join("absent.kubeconfig").display(),
        ),
    )
    .unwrap();
    let loaded = config::Config::load(&fleet_args(Some(config)), None, None).unwrap();
    let fleet = loaded.fleet.expect("a fleet");
    assert_eq!(
        (fleet.members.len(), fleet.rejected.len(), fleet.in_flight),
        (4, 1, 2)
    );
    let report = runtime().block_on(drift_check::fleet::run(
        &fleet,
        &loaded.settings,
        drift_check::Progress::Quiet,
    ));
    let by_name = |name: &str, status: &str| {
        report
            .clusters
            .iter()
            .find(|c| c.name == name && format!("{:?}", c.status) == status)
            .unwrap_or_else(|| panic!("{name} {status}: {report:#?}"))
    };
    let eu = by_name("eu", "Clean").report.as_ref().unwrap();
    assert_eq!(eu.run.cluster, "eu");
    assert!(eu.findings.is_empty() && eu.errors.is_empty(), "{eu:#?}");
    assert_eq!(eu.summary.kustomizations, 1);
    let us = by_name("us", "Drift").report.as_ref().unwrap();
    assert_eq!(
        unexplained(us),
        ["ConfigMap/tenant-sandbox/sandbox-settings modified"]
    );
    assert_eq!(
        us.findings[0].changes[0].manager.as_deref(),
        Some("kubectl-edit")
    );
    let down = by_name("down", "CouldNotCheck");
    assert!(
        down.error.as_deref().unwrap().contains("127.0.0.1:1"),
        "{down:#?}"
    );
    assert!(down.report.as_ref().unwrap().findings.is_empty());
    let unreadable = by_name("unreadable", "CouldNotCheck");
    assert!(
        unreadable
            .error
            .as_deref()
            .unwrap()
            .contains("absent.kubeconfig"),
        "{unreadable:#?}"
    );
    let twice = by_name("eu", "CouldNotCheck");
    assert!(twice.report.is_none());
    assert_eq!(
        twice.error.as_deref(),
        Some(
            "the cluster name \"eu\" of clusters[3] is already that of clusters[0]; give each cluster its own name"
        )
    );
    assert_eq!(
        (
            report.summary.clusters,
            report.summary.checked,
            report.summary.could_not_check
        ),
        (5, 2, 3)
    );
    assert_eq!(report.summary.with_unexplained_drift, 1);
    assert_eq!(report.exit_code(), 2);
    let worst: Vec<&str> = report
        .worst_first()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(worst, ["down", "eu", "unreadable", "us", "eu"]);

    let text = report.render(drift_check::report::Format::Text);
    assert!(
        text.starts_with("drift-check · fleet of 5 clusters: 2 checked, 3 could not check, 1 with unexplained drift (1 unexplained of 1 findings)\n  eu (env=prod, region=eu): 0 unexplained of 0 findings, 0 errors\n"),
        "{text}"
    );
    assert!(
        text.contains("\n=== cluster us (env=prod, region=us) ===\ndrift-check · cluster us ·")
    );
    let json: Value =
        serde_json::from_str(&report.render(drift_check::report::Format::Json)).unwrap();
    assert_eq!(json["schema"], "drift-check/fleet/v1");
    assert_eq!(json["clusters"][1]["status"], "drift");
    assert_eq!(json["clusters"][1]["labels"]["region"], "us");
    assert_eq!(json["clusters"][1]["report"]["schema"], "drift-check/v1");
    assert_eq!(json["clusters"][1]["report"]["run"]["cluster"], "us");
    assert_eq!(json["clusters"][4]["report"], Value::Null);
}

#[test]
fn contexts_of_one_kubeconfig_are_a_fleet_on_the_command_line() {
    let Some(servers) = servers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = both_contexts(dir.path(), servers);
    let check = |extra: &[&str]| {
        TestCommand::new()
            .args(["check", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--repo")
            .arg(root().join("tests/cluster/scope-repo"))
            .args([
                "--source",
                "flux-system/cilium-infra",
                "-k",
                "tenant-sandbox",
            ])
            .args(["--request-timeout", "20", "-o", "json"])
            .args(extra)
            .output()
    };
    for flags in [
        &["--context", "eu", "--context", "us"][..],
        &["--all-contexts"][..],
    ] {
        let out = check(flags);
        assert_eq!(out.code, 1, "{flags:?}: {}", out.stderr);
        let json: Value = serde_json::from_str(&out.stdout).unwrap();
        let clusters: Vec<(&str, &str)> = json["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(clusters, [("eu", "clean"), ("us", "drift")], "{flags:?}");
    }
    // One context: today's single-cluster report.
    let one = check(&["--context", "us"]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    let json: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(
        (json["schema"].as_str(), json["run"]["cluster"].as_str()),
        (Some("drift-check/v1"), Some("us"))
    );
    // `--all-contexts --cluster us`: one cluster of the fleet, as a single run prints it.
    let picked = check(&["--all-contexts", "--cluster", "us"]);
    assert_eq!(picked.code, 1, "{}", picked.stderr);
    let json: Value = serde_json::from_str(&picked.stdout).unwrap();
    assert_eq!(json["run"]["cluster"], "us");

    // Bad input: each one clear error, exit 2, nothing checked.
    let unknown = check(&["--all-contexts", "--cluster", "mars"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("--cluster mars: no such cluster in the fleet (clusters: eu, us)"),
        "{}",
        unknown.stderr
    );
    let absent = dir.path().join("absent");
    let out = TestCommand::new()
        .args(["check", "--all-contexts", "--kubeconfig"])
        .arg(&absent)
        .output();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!(
            "--all-contexts: cannot read the kubeconfig {}",
            absent.display()
        )),
        "{}",
        out.stderr
    );
}
