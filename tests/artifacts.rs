//! Kustomizations whose source is an `ExternalArtifact` composed by
//! source-watcher's `ArtifactGenerator` from the infra repo (the layout of
//! fluxcd/flux2-kustomize-helm-example since Flux 2.7), checked against a
//! live snapshot: the artifact is rebuilt from the checkout by the
//! generator's copy rules and rendered from that; one of an OCIRepository
//! is skipped, saying why.

use drift_check::cli::CommonArgs;
use serde_json::{Value, json};

use crate::util::{check, summary};

const APPLIED: &str =
    "latest@sha256:5f0c3e1d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn flux_labels(ks: &str) -> Value {
    json!({"kustomize.toolkit.fluxcd.io/name": ks, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
}

fn kustomization(name: &str, path: &str, source: Value, inventory: &[&str]) -> Value {
    let entries: Vec<Value> = inventory
        .iter()
        .map(|id| json!({"id": id, "v": "v1"}))
        .collect();
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": name, "namespace": "flux-system"},
           "spec": {"interval": "10m", "path": path, "prune": true, "sourceRef": source},
           "status": {"lastAppliedRevision": APPLIED, "lastAttemptedRevision": APPLIED,
                      "inventory": {"entries": entries},
                      "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                      "message": format!("Applied revision: {APPLIED}"),
                                      "lastTransitionTime": "2026-11-30T09:00:00Z"}]}})
}

use crate::util::list_yaml as list;

/// The repo keeps the app under `apps/` and its production settings under
/// `settings/`; the generator copies `apps/**` to the artifact's root
/// (without the READMEs) and `settings/prod.yaml` to `prod/settings.yaml`,
/// which only the composed tree has. In the snapshot, someone changed the
/// web ConfigMap by hand.
struct Platform {
    dir: tempfile::TempDir,
}

impl Platform {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |relative: &str, text: &str| crate::util::write_file(dir.path(), relative, text);
        write(
            "repo/apps/base/web/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [configmap.yaml]\n",
        );
        write(
            "repo/apps/base/web/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  replicas: \"2\"\n",
        );
        write("repo/apps/base/web/README.md", "not: [valid, yaml\n");
        write(
            "repo/apps/prod/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web\nresources: [../base/web, settings.yaml]\n",
        );
        write(
            "repo/settings/prod.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  tier: prod\n",
        );

        let flux = list(vec![
            json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                   "metadata": {"name": "apps", "namespace": "flux-system"},
                   "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "infra"}],
                            "artifacts": [{"name": "apps-prod", "copy": [
                                {"from": "@repo/apps/**", "to": "@artifact/", "exclude": ["*.md"]},
                                {"from": "@repo/settings/prod.yaml", "to": "@artifact/prod/settings.yaml"}]}]}}),
            kustomization(
                "apps",
                "./prod",
                json!({"kind": "ExternalArtifact", "name": "apps-prod"}),
                &["web_web__ConfigMap", "web_web-settings__ConfigMap"],
            ),
            kustomization(
                "charts",
                "./",
                json!({"kind": "OCIRepository", "name": "charts"}),
                &[],
            ),
        ]);
        write("snapshot/flux-system.yaml", &flux);
        let web = list(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "web", "namespace": "web", "labels": flux_labels("apps"),
                                "managedFields": [
                                    {"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "v1",
                                     "time": "2026-11-30T09:00:00Z", "fieldsType": "FieldsV1",
                                     "fieldsV1": {"f:data": {"f:replicas": {}}, "f:metadata": {"f:labels": {}}}},
                                    {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
                                     "time": "2026-11-30T10:00:00Z", "fieldsType": "FieldsV1",
                                     "fieldsV1": {"f:data": {"f:replicas": {}}}}]},
                   "data": {"replicas": "5"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "web-settings", "namespace": "web", "labels": flux_labels("apps")},
                   "data": {"tier": "prod"}}),
        ]);
        write("snapshot/web.yaml", &web);
        Self { dir }
    }

    fn args(&self) -> CommonArgs {
        CommonArgs {
            repo: vec![self.dir.path().join("repo")],
            live_snapshot: Some(self.dir.path().join("snapshot")),
            ..Default::default()
        }
    }
}

#[test]
fn a_kustomization_of_a_generated_artifact_is_rendered_from_the_composed_tree() {
    let platform = Platform::new();
    let report = check(&platform.args());
    // The OCIRepository's Kustomization alone is not checked (below).
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let apps = report
        .kustomizations
        .iter()
        .find(|k| k.name == "apps")
        .unwrap();
    assert_eq!((apps.objects, apps.skipped.as_deref()), (2, None));
    assert_eq!(
        summary(&report),
        vec![(
            "flux-system/apps".to_string(),
            "ConfigMap/web/web".to_string(),
            "modified".to_string(),
            "flux".to_string(),
            false
        )],
        "{:#?}",
        report.findings
    );
    let change = &report.findings[0].changes[0];
    assert_eq!(
        (
            change.path.as_str(),
            &change.desired,
            &change.live,
            change.manager.as_deref()
        ),
        (
            "/data/replicas",
            &Some(json!("2")),
            &Some(json!("5")),
            Some("kubectl-edit")
        )
    );
}

#[test]
fn a_kustomization_of_an_oci_repository_not_in_the_cluster_is_skipped_saying_why() {
    // Flux has nothing to apply it from either.
    let platform = Platform::new();
    let report = check(&platform.args());
    let charts = report
        .kustomizations
        .iter()
        .find(|k| k.name == "charts")
        .unwrap();
    assert_eq!(charts.error, None);
    assert_eq!(
        charts.skipped.as_deref(),
        Some(
            "its source OCIRepository/flux-system/charts is not in the cluster: there is nothing to fetch it from"
        )
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.kustomization.as_deref() != Some("flux-system/charts"))
    );
}

#[test]
fn a_generator_whose_input_cannot_be_read_could_not_be_checked_never_missing() {
    let platform = Platform::new();
    let path = platform.dir.path().join("snapshot/flux-system.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("kind: GitRepository", "kind: OCIRepository"),
    )
    .unwrap();
    let report = check(&platform.args());
    let apps = report
        .kustomizations
        .iter()
        .find(|k| k.name == "apps")
        .unwrap();
    assert_eq!(apps.skipped, None);
    assert_eq!(
        apps.error.as_deref(),
        Some(
            "its source ExternalArtifact/flux-system/apps-prod is made from OCIRepository/flux-system/infra, which cannot be read: its source OCIRepository/flux-system/infra is not in the cluster"
        )
    );
    assert_eq!(summary(&report), vec![]);
}

#[test]
fn render_reads_the_generator_from_the_kustomizations_dir_and_composes_the_artifact() {
    let platform = Platform::new();
    let manifests = [
        json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
               "metadata": {"name": "apps", "namespace": "flux-system"},
               "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
                        "artifacts": [{"name": "apps-prod", "copy": [
                            {"from": "@repo/apps/**", "to": "@artifact/"},
                            {"from": "@repo/settings/prod.yaml", "to": "@artifact/prod/settings.yaml"}]}]}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps", "namespace": "flux-system"},
               "spec": {"interval": "10m", "path": "./prod", "prune": true,
                        "sourceRef": {"kind": "ExternalArtifact", "name": "apps-prod"}}}),
    ];
    let text: Vec<String> = manifests.iter().map(drift_check::yaml::to_string).collect();
    let dir = platform.dir.path().join("repo/clusters/prod");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("apps.yaml"), text.join("---\n")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let repo = platform.dir.path().join("repo");
    let out = crate::util::TestCommand::new()
        .env("HOME", home.path())
        .arg("render")
        .args(["--repo", repo.to_str().unwrap()])
        .args(["--kustomizations-dir", "clusters/prod"])
        .output();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("  name: web-settings\n  namespace: web\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("replicas: \"2\""), "{}", out.stdout);
}
