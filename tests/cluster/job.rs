//! job/'s manifests on the real API server, and its ServiceAccount token
//! checking the platform.

use super::*;

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
            let mut applied = object.clone();
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
