//! The fixture platform (`fixtures/infra-repo`) applied by the real Flux:
//! Flux 2.9's source-, kustomize- and helm-controller (scripts/services/flux)
//! reconcile it from the test git server, with what a platform really has
//! besides Ready Kustomizations:
//!
//! - `platform-routes` failing: its HTTPRoutes' CRD (Gateway API) is not
//!   installed (the Crossplane CRDs `crossplane` needs are);
//! - `bad-subst` failing: a `${...` without its closing brace in a
//!   post-build substitution;
//! - `rbac-system` suspended with the real `flux suspend` after it was Ready;
//! - `helm-apps`: a HelmRelease whose chart is in the same git repository,
//!   installed by the real helm-controller; monitoring's `prometheus`
//!   HelmRelease, whose HelmRepository is not there, failing;
//! - a pending reconcile: a commit pushed after Flux applied the first one;
//!   the GitRepository's interval (1h) keeps source-controller from fetching
//!   it during the test, so Flux has not applied it.
//!
//! Every interval is 1h so that no reconcile undoes a person's edit while
//! the test runs. drift-check (sources read from the cluster, its git fetched
//! itself) must find nothing on the untouched platform besides the failing,
//! suspended and not-checked entries, then exactly the seeded edits.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use super::real_flux::{FLUX_CLUSTER, check_cluster, controller_logs, wait_ready};
use super::*;
use crate::source::git;
use crate::sources::{served_repo, servers, suffix};
use crate::util::tree_files;

const SOURCE: &str = "plana-pulse-infra";
const NAMESPACES: [&str; 5] = [
    "docs",
    "monitoring",
    "tenants",
    "platform-system",
    "helm-apps",
];

/// A chart in the platform's repository, installed by helm-controller.
const CHART: &[(&str, &str)] = &[
    (
        "charts/hello/Chart.yaml",
        "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
    ),
    ("charts/hello/values.yaml", "greeting: hello\n"),
    (
        "charts/hello/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n\
         data:\n  greeting: {{ .Values.greeting | quote }}\n",
    ),
    (
        "infra/k8s/helm-apps/hello.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: hello\n  \
         namespace: helm-apps\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: ./charts/hello\n      \
         sourceRef:\n        kind: GitRepository\n        name: plana-pulse-infra\n        \
         namespace: flux-system\n  values:\n    greeting: hi\n",
    ),
    // Missing `}`: Flux's envsubst fails ("missing closing brace").
    (
        "infra/k8s/bad-subst/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-subst\n  namespace: docs\n\
         data:\n  cluster: \"${cluster_name\"\n",
    ),
];

/// The repository's first commit: the fixture platform, the chart and the
/// bad substitution.
fn first_commit() -> Vec<(String, String)> {
    let top = root().join("fixtures/infra-repo");
    let mut files: Vec<(String, String)> = tree_files(&top)
        .into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(top.join(&rel)).unwrap();
            (rel, text)
        })
        .collect();
    files.extend(CHART.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    files
}

/// The Flux Kustomizations: the fixture's own, and two more.
fn kustomizations() -> Vec<Value> {
    let dir = root().join("fixtures/infra-repo/clusters/prod");
    let mut out: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|e| yaml_objects(&e.unwrap().path()))
        .filter(|o| o["kind"] == "Kustomization")
        .collect();
    let extra = |name: &str, spec: Value| {
        let mut ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"path": format!("./infra/k8s/{name}"), "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": SOURCE}}});
        for (k, v) in spec.as_object().unwrap() {
            ks["spec"][k] = v.clone();
        }
        ks
    };
    out.push(extra("helm-apps", json!({})));
    out.push(extra(
        "bad-subst",
        json!({"postBuild": {"substitute": {"cluster_name": "prod"}}}),
    ));
    for ks in &mut out {
        ks["spec"]["interval"] = json!("1h");
    }
    out.sort_by_key(|ks| ks["metadata"]["name"].as_str().unwrap().to_string());
    out
}

/// Waits until Flux reports `object` Ready=`want` for its current
/// generation; returns the condition's message.
async fn wait_status(client: &Client, resources: &Resources, object: &Value, want: &str) -> String {
    let (api, name) = resources.api(client, object);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let current = api.get(&name).await.unwrap();
        if let Some((status, message)) = condition(&current)
            && status == want
        {
            return message;
        }
        if Instant::now() > deadline {
            panic!(
                "{} {name} not Ready={want} after 180 s: {:#}\n{}",
                object["kind"],
                current.data["status"],
                controller_logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The Ready condition written for `object`'s current generation (a
/// Kustomization that never succeeded keeps `status.observedGeneration` -1;
/// its condition says which generation it is about).
fn condition(object: &DynamicObject) -> Option<(String, String)> {
    let generation = object.metadata.generation?;
    let condition = object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["observedGeneration"].as_i64() == Some(generation))?;
    Some((
        condition["status"].as_str()?.to_string(),
        condition["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// The Gateway API's CRD left out: platform-routes fails on it.
async fn install_crossplane_crds(client: &Client, resources: &Resources) {
    for crd in yaml_objects(&root().join("tests/cluster/crds.yaml")) {
        let name = crd["metadata"]["name"].as_str().unwrap();
        if name.ends_with(".apiextensions.crossplane.io") {
            apply(client, resources, &crd, "test-setup").await;
        }
    }
}

/// `flux suspend|resume kustomization NAME` with the real CLI.
fn flux_cli(kubeconfig: &Path, args: &[&str]) {
    let flux = service("DRIFT_CHECK_TEST_FLUX_CLI").expect("the flux CLI");
    let out = std::process::Command::new(flux)
        .args(args)
        .args(["-n", "flux-system", "--kubeconfig"])
        .arg(kubeconfig)
        .output()
        .expect("flux runs");
    assert!(
        out.status.success(),
        "flux {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// kustomize-controller stopped (SIGSTOP: "Flux has not run yet") until
/// dropped (SIGCONT), also when the test fails.
struct Paused(String);

impl Paused {
    fn kustomize_controller() -> Self {
        let dir = service("DRIFT_CHECK_TEST_FLUX").expect("scripts/services/flux's state");
        let pid = std::fs::read_to_string(format!("{dir}/kustomize-controller.pid")).unwrap();
        let paused = Self(pid.trim().to_string());
        paused.signal("-STOP");
        paused
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.0])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.0);
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        self.signal("-CONT");
    }
}

/// One finding's change: (object, drift, path, manager, explained).
type Seen = (String, String, String, Option<String>, bool);

/// Every finding's changes, sorted.
fn seen(report: &Report) -> BTreeSet<Seen> {
    report
        .findings
        .iter()
        .flat_map(|f| {
            f.changes.iter().map(|c| {
                (
                    f.object.to_string(),
                    format!("{:?}", f.drift),
                    c.path.clone(),
                    c.manager.clone(),
                    f.explained,
                )
            })
        })
        .collect()
}

fn rows(rows: &[(&str, &str, &str, Option<&str>, bool)]) -> BTreeSet<Seen> {
    rows.iter()
        .map(|(o, d, p, m, e)| {
            (
                o.to_string(),
                d.to_string(),
                p.to_string(),
                m.map(str::to_string),
                *e,
            )
        })
        .collect()
}

/// The findings of the untouched platform, every one explained: the
/// ConfigMap monitoring marks `kustomize.toolkit.fluxcd.io/reconcile:
/// disabled` (Flux never creates it), and platform-routes' HTTPRoutes, which
/// Flux cannot apply (no CRD).
fn untouched() -> BTreeSet<Seen> {
    rows(&[
        (
            "ConfigMap/monitoring/grafana-dashboards",
            "Missing",
            "",
            None,
            true,
        ),
        ("HTTPRoute/docs/docs-portal", "Missing", "", None, true),
        ("HTTPRoute/tenants/acme-portal", "Missing", "", None, true),
        ("HTTPRoute/tenants/globex-portal", "Missing", "", None, true),
    ])
}

#[test]
fn the_real_flux_applies_the_fixture_platform_and_only_the_seeded_edits_are_drift() {
    let (Some(kubeconfig), Some(git_servers), Some(_)) = (
        service("DRIFT_CHECK_TEST_FLUX_KUBECONFIG"),
        servers(),
        service("DRIFT_CHECK_TEST_FLUX_CLI"),
    ) else {
        return;
    };
    let _cluster = FLUX_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let kubeconfig = PathBuf::from(kubeconfig);
    let scratch = tempfile::tempdir().unwrap();
    let files = first_commit();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (work, commits) = served_repo(&git_servers, scratch.path(), "flux-platform", &[&refs]);
    let bare = git_servers
        .root
        .join(format!("flux-platform-{}.git", suffix(scratch.path())));
    let url = format!(
        "{}/flux-platform-{}.git",
        git_servers.http,
        suffix(scratch.path())
    );

    runtime().block_on(async {
        let client = client(&kubeconfig).await;
        let resources = Resources::new(&client).await;
        let all = kustomizations();
        let source = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": SOURCE, "namespace": "flux-system"},
            "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}});
        // What a failed run before left behind.
        teardown(&client, &resources, &all, &source).await;
        for ns in ["flux-system"].iter().chain(NAMESPACES.iter()) {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            apply(&client, &resources, &object, "test-setup").await;
        }
        install_crossplane_crds(&client, &resources).await;
        let resources = Resources::new(&client).await;
        apply(&client, &resources, &source, "test-setup").await;
        for ks in &all {
            apply(&client, &resources, ks, "test-setup").await;
        }
        wait_ready(&client, &resources, &source).await;
        let failing = ["bad-subst", "platform-routes"];
        for ks in &all {
            let name = ks["metadata"]["name"].as_str().unwrap();
            let want = if failing.contains(&name) {
                "False"
            } else {
                "True"
            };
            let message = wait_status(&client, &resources, ks, want).await;
            eprintln!("Kustomization {name}: Ready={want}: {message}");
        }
        let hello = reference(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            Some("helm-apps"),
            "hello",
        );
        wait_ready(&client, &resources, &hello).await;
        let prometheus = reference(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            Some("monitoring"),
            "prometheus",
        );
        let message = wait_status(&client, &resources, &prometheus, "False").await;
        eprintln!("HelmRelease prometheus: Ready=False: {message}");
        flux_cli(&kubeconfig, &["suspend", "kustomization", "rbac-system"]);

        // Untouched: nothing but the entries for what Flux cannot apply.
        let report = check_cluster(&kubeconfig).await;
        eprintln!(
            "untouched: errors {:#?}\nwarnings {:#?}\nfindings {:#?}",
            report.errors, report.warnings, report.findings
        );
        assert_eq!(seen(&report), untouched());
        assert_eq!(report.summary.unexplained, 0);
        let applied = format!("main@sha1:{}", commits[0]);
        for entry in &report.kustomizations {
            eprintln!(
                "{}: ready {:?} applied {:?} objects {} error {:?} skipped {:?}",
                entry.id(),
                entry.ready,
                entry.applied_revision,
                entry.objects,
                entry.error,
                entry.skipped
            );
        }
        assert_entries(&report, &applied);

        // A pending reconcile: a commit source-controller has fetched and
        // kustomize-controller has not applied yet (it is stopped meanwhile:
        // it would apply the new artifact at once).
        let service_file = "infra/k8s/docs/service.yaml";
        let text = std::fs::read_to_string(work.join(service_file)).unwrap();
        std::fs::write(
            work.join(service_file),
            text.replace("port: 8080", "port: 8081"),
        )
        .unwrap();
        git(&work, &["commit", "-qam", "docs: port 8081"]);
        git(&work, &["push", "-q", bare.to_str().unwrap(), "HEAD:main"]);
        let head = git(&work, &["rev-parse", "HEAD"]);
        let paused = Paused::kustomize_controller();
        flux_cli(&kubeconfig, &["reconcile", "source", "git", SOURCE]);
        let (api, name) = resources.api(&client, &source);
        let fetched = api.get(&name).await.unwrap();
        assert_eq!(
            fetched.data["status"]["artifact"]["revision"],
            json!(format!("main@sha1:{head}"))
        );

        // People's edits.
        let docs_portal = reference("apps/v1", "Deployment", Some("docs"), "docs-portal");
        let patch = Patch::Merge(json!({"spec": {"replicas": 5}}));
        update(&client, &resources, &docs_portal, "kubectl-edit", patch).await;
        let settings = reference("v1", "ConfigMap", Some("helm-apps"), "hello-settings");
        let patch = Patch::Merge(json!({"data": {"greeting": "bye"}}));
        update(&client, &resources, &settings, "kubectl-edit", patch).await;
        let deny = reference(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            Some("docs"),
            "default-deny-ingress",
        );
        let (api, name) = resources.api(&client, &deny);
        api.delete(&name, &DeleteParams::default()).await.unwrap();

        let report = check_cluster(&kubeconfig).await;
        eprintln!(
            "edited: errors {:#?}\nwarnings {:#?}\nfindings {:#?}",
            report.errors, report.warnings, report.findings
        );
        let mut want = untouched();
        want.extend(rows(&[
            (
                "Deployment/docs/docs-portal",
                "Modified",
                "/spec/replicas",
                Some("kubectl-edit"),
                false,
            ),
            (
                "ConfigMap/helm-apps/hello-settings",
                "Modified",
                "/data/greeting",
                Some("kubectl-edit"),
                false,
            ),
            (
                "NetworkPolicy/docs/default-deny-ingress",
                "Missing",
                "",
                None,
                false,
            ),
            // The port is the list's merge key: the item itself changes,
            // and nobody has written the new one yet.
            (
                "Service/docs/docs-portal",
                "Modified",
                "/spec/ports/0",
                None,
                true,
            ),
        ]));
        assert_eq!(seen(&report), want);
        let pending = report
            .findings
            .iter()
            .find(|f| f.object.to_string() == "Service/docs/docs-portal")
            .unwrap();
        let explanation = pending.explanation.clone().unwrap_or_default();
        assert!(
            explanation.starts_with("reconcile pending") && explanation.contains(&commits[0]),
            "{explanation}"
        );
        assert_entries(&report, &applied);
        drop(paused);

        flux_cli(&kubeconfig, &["resume", "kustomization", "rbac-system"]);
        teardown(&client, &resources, &all, &source).await;
    });
}

/// What the report says of each Kustomization and HelmRelease besides
/// findings: the same before and after the edits.
fn assert_entries(report: &Report, applied: &str) {
    let warnings: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        has("Kustomization flux-system/rbac-system is suspended"),
        "{warnings:#?}"
    );
    assert!(has("flux-system/platform-routes"), "{warnings:#?}");
    assert!(has("flux-system/bad-subst"), "{warnings:#?}");
    assert!(
        has("HelmRelease monitoring/prometheus is failing"),
        "{warnings:#?}"
    );
    for entry in &report.kustomizations {
        let name = entry.name.as_str();
        if matches!(name, "platform-routes" | "bad-subst") {
            assert_eq!(entry.ready, Some(false), "{entry:?}");
            assert!(entry.failing.is_some(), "{entry:?}");
        } else {
            assert_eq!(entry.ready, Some(true), "{entry:?}");
            assert_eq!(
                entry.applied_revision.as_deref(),
                Some(applied),
                "{entry:?}"
            );
        }
    }
    assert_eq!(report.kustomizations.len(), kustomizations().len());
}

/// Everything gone again (prune: Flux deletes what it applied; the
/// suspended one resumed first, else its objects stay), so that the other
/// test on Flux's cluster, and a rerun, start from an empty cluster.
async fn teardown(client: &Client, resources: &Resources, all: &[Value], source: &Value) {
    let objects: Vec<&Value> = all.iter().chain([source]).collect();
    for object in &objects {
        let (api, name) = resources.api(client, object);
        if api.get_opt(&name).await.unwrap().is_none() {
            continue;
        }
        // A suspended Kustomization is deleted without pruning.
        let resume = Patch::Merge(json!({"spec": {"suspend": false}}));
        api.patch(&name, &PatchParams::default(), &resume)
            .await
            .unwrap();
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for object in &objects {
        let (api, name) = resources.api(client, object);
        while api.get_opt(&name).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "{name} not gone after 120 s\n{}",
                controller_logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    for ns in NAMESPACES {
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let (api, name) = resources.api(client, &object);
        let _ = api.delete(&name, &DeleteParams::default()).await;
        while api.get_opt(&name).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "the Namespace {ns} is not gone after 120 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
