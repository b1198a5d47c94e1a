//! The real Flux applies, drift-check checks: Flux 2.9's own
//! source-controller and kustomize-controller (scripts/services/flux, on an
//! API server of their own) reconcile a small platform from the test git
//! server until Ready; drift-check, reading the sources from the cluster,
//! finds nothing on the untouched cluster, then exactly a person's
//! `kubectl edit`. No status here is written by hand.

use std::time::{Duration, Instant};

use super::*;
use crate::sources::{served_repo, servers};

const APPS: &str = "flux-apps";

/// One test at a time on Flux's cluster: each checks the whole cluster, so
/// another test's platform or edits there would be its findings.
pub(super) static FLUX_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn namespace() -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {APPS}\n")
}

fn settings(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {APPS}\ndata:\n  level: \"3\"\n"
    )
}

/// A Deployment: the API server defaults many of its fields, which the
/// comparison must not take for drift.
fn web(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {APPS}\n\
         spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    \
         metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      \
         - name: web\n        image: nginx:1.27\n        ports:\n        - containerPort: 80\n"
    )
}

/// The Ready condition of `object`, once its observed generation is the
/// current one: `Some((status, message))`.
pub(super) fn ready(object: &DynamicObject) -> Option<(String, String)> {
    let status = object.data.get("status")?;
    let generation = object.metadata.generation?;
    if status["observedGeneration"].as_i64() != Some(generation) {
        return None;
    }
    let condition = status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    Some((
        condition["status"].as_str()?.to_string(),
        condition["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Waits until Flux reports `object` Ready=True; fails with its status and
/// the controllers' log tails otherwise.
pub(super) async fn wait_ready(client: &Client, resources: &Resources, object: &Value) {
    let (api, name) = resources.api(client, object);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let current = api.get(&name).await.unwrap();
        if let Some((status, _)) = ready(&current)
            && status == "True"
        {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{} {name} not Ready after 120 s: {:#}\n{}",
                object["kind"],
                current.data["status"],
                controller_logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last lines of each controller's log (scripts/services/flux).
pub(super) fn controller_logs() -> String {
    let Ok(dir) = std::env::var("DRIFT_CHECK_TEST_FLUX") else {
        return String::new();
    };
    [
        "source-controller",
        "kustomize-controller",
        "helm-controller",
    ]
    .iter()
    .map(|name| {
        let log = std::fs::read_to_string(format!("{dir}/{name}.log")).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(15).collect();
        let tail: Vec<_> = tail.into_iter().rev().collect();
        format!("--- {name}.log\n{}", tail.join("\n"))
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// drift-check over the whole cluster, its sources read from the cluster.
pub(super) async fn check_cluster(kubeconfig: &std::path::Path) -> Report {
    let mut a = args(kubeconfig);
    a.config = None;
    a.repo = Vec::new();
    a.git_timeout = Some(30);
    check(&a, DiffMode::Local).await
}

#[test]
fn the_real_kustomize_controller_applies_a_platform_and_only_a_persons_edit_is_drift() {
    let (Some(kubeconfig), Some(git)) = (service("DRIFT_CHECK_TEST_FLUX_KUBECONFIG"), servers())
    else {
        return;
    };
    let _cluster = FLUX_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let kubeconfig = PathBuf::from(kubeconfig);
    let work = tempfile::tempdir().unwrap();
    let (_, commits) = served_repo(
        &git,
        work.path(),
        "real-flux",
        &[&[
            ("deploy/namespace.yaml", &namespace()),
            ("deploy/settings.yaml", &settings("settings")),
            ("deploy/web.yaml", &web("web")),
        ]],
    );
    let repo = format!(
        "{}/real-flux-{}.git",
        git.http,
        work.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
            .to_lowercase()
    );

    runtime().block_on(async {
        let client = client(&kubeconfig).await;
        let resources = Resources::new(&client).await;
        let flux_ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}});
        apply(&client, &resources, &flux_ns, "test-setup").await;
        let source = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "platform", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": repo, "ref": {"branch": "main"}}});
        let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "platform", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./deploy", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "platform"}}});
        apply(&client, &resources, &source, "test-setup").await;
        apply(&client, &resources, &ks, "test-setup").await;
        wait_ready(&client, &resources, &source).await;
        wait_ready(&client, &resources, &ks).await;
        let (api, name) = resources.api(&client, &ks);
        let applied = api.get(&name).await.unwrap();
        assert_eq!(
            applied.data["status"]["lastAppliedRevision"],
            json!(format!("main@sha1:{}", commits[0]))
        );

        // Untouched: nothing.
        let report = check_cluster(&kubeconfig).await;
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert_eq!(report.exit_code(), 0);

        // A person's edit: exactly that.
        let config = reference("v1", "ConfigMap", Some(APPS), "settings");
        update(
            &client,
            &resources,
            &config,
            "kubectl-edit",
            Patch::Merge(json!({"data": {"level": "9"}})),
        )
        .await;
        let report = check_cluster(&kubeconfig).await;
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        let found: Vec<_> = report
            .findings
            .iter()
            .flat_map(|f| {
                f.changes.iter().map(|c| {
                    (
                        f.object.to_string(),
                        c.path.clone(),
                        c.manager.clone(),
                        f.explained,
                    )
                })
            })
            .collect();
        assert_eq!(
            found,
            [(
                format!("ConfigMap/{APPS}/settings"),
                "/data/level".to_string(),
                Some("kubectl-edit".to_string()),
                false
            )]
        );

        // Gone again (prune: kustomize-controller deletes what it applied),
        // so that a rerun on the same services starts from an empty cluster.
        for object in [&ks, &source] {
            let (api, name) = resources.api(&client, object);
            api.delete(&name, &DeleteParams::default()).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while api.get_opt(&name).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "the Kustomization is not gone after 60 s\n{}",
                controller_logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // And its pruned Namespace, which the namespace controller empties
        // first: applied again while Terminating, it fails the next run.
        let (api, name) = resources.api(
            &client,
            &json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": APPS}}),
        );
        while api.get_opt(&name).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "the Namespace {APPS} is not gone after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}
