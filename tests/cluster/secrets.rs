//! Secrets as real platforms keep them: SOPS-encrypted in git (encrypted at
//! test time by the real `sops` CLI with an age key), and made by a
//! controller from a custom resource git declares (sealed-secrets,
//! external-secrets, with the owner references those controllers write).

use std::path::Path;
use std::process::Command;

use super::*;

/// A Kustomization of the `secrets-infra` source at `path`, applied as Flux
/// does from `plain` (the tree as kustomize-controller sees it once
/// decrypted), with a Ready status and its inventory.
pub(super) async fn reconcile_like_flux(
    client: &Client,
    resources: &Resources,
    manifest: &Value,
    plain: &Path,
) -> Vec<Value> {
    apply(client, resources, manifest, "kustomize-controller").await;
    let ks = discover::from_object(manifest, flux::Origin::Live, "flux-system").unwrap();
    let objects = drift_check::render::render(plain, &ks, &Default::default()).unwrap();
    let mut entries = Vec::new();
    let mut stored = Vec::new();
    for object in &objects {
        let mut applied = object.clone();
        drift_check::diff::normalize::desired(&mut applied);
        let live = apply(client, resources, &applied, "kustomize-controller").await;
        stored.push(serde_json::to_value(live).unwrap());
        let r = object::ObjectRef::of(object).unwrap();
        entries.push(
            json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()}),
        );
    }
    let status = json!({"status": {"observedGeneration": 1, "inventory": {"entries": entries},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                        "message": "Applied revision: main", "lastTransitionTime": "2026-12-01T09:00:00Z",
                        "observedGeneration": 1}]}});
    let (api, name) = resources.api(client, manifest);
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    stored
}

pub(super) fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A check of the one Kustomization `name`, rendered from `repo`.
pub(super) async fn check_one(p: &Platform, repo: &Path, name: &str) -> Report {
    let mut a = args(&p.admin);
    a.config = None;
    a.repo = vec![repo.to_path_buf()];
    a.source = Some("flux-system/secrets-infra".into());
    a.kustomizations = vec![name.into()];
    check(&a, DiffMode::Local).await
}

pub(super) fn changes_of(report: &Report) -> Vec<(String, String, String, Option<String>)> {
    let mut found: Vec<_> = report
        .findings
        .iter()
        .flat_map(|f| {
            f.changes.iter().map(move |c| {
                (
                    f.object.to_string(),
                    f.drift.as_str().to_string(),
                    c.path.clone(),
                    c.manager.clone(),
                )
            })
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_sops_encrypted_secret_is_checked_without_the_key_on_all_that_is_in_the_clear() {
    // Regression: one SOPS-encrypted Secret made its Kustomization an error
    // ("drift-check cannot decrypt it") and nothing of it was checked.
    let Some(p) = platform() else { return };
    let Some(sops) = service("DRIFT_CHECK_TEST_SOPS_BIN") else {
        return;
    };
    let Some(keygen) = service("DRIFT_CHECK_TEST_AGE_KEYGEN") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("age.agekey");
    let out = Command::new(&keygen).arg("-o").arg(&key).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let canary = "hunter2-canary-7f3a";
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: sops-apps\n  labels:\n    team: payments\ntype: Opaque\nstringData:\n  password: {canary}\n  user: admin-canary-91b2\n"
    );
    let files = [
        (
            "apps/kustomization.yaml",
            "resources:\n- namespace.yaml\n- db.sops.yaml\n",
        ),
        (
            "apps/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sops-apps\n",
        ),
        ("apps/db.sops.yaml", secret.as_str()),
    ];
    let plain = work.path().join("plain");
    let repo = work.path().join("repo");
    write(&plain, &files);
    write(&repo, &files);
    let out = Command::new(&sops)
        .args(["--encrypt", "--in-place", "--age", &recipient])
        .args(["--encrypted-regex", "^(data|stringData)$"])
        .arg(repo.join("apps/db.sops.yaml"))
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encrypted = std::fs::read_to_string(repo.join("apps/db.sops.yaml")).unwrap();
    assert!(
        encrypted.contains("sops:") && !encrypted.contains(canary),
        "{encrypted}"
    );

    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "sops-apps", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./apps", "prune": true,
                     "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
                     "sourceRef": {"kind": "GitRepository", "name": "secrets-infra"}}});
        reconcile_like_flux(&client, &resources, &manifest, &plain).await;

        let report = check_one(p, &repo, "sops-apps").await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(changes_of(&report), [], "{:#?}", report.findings);
        assert_eq!(report.exit_code(), 0);
        let warnings: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            warnings.contains(&"values encrypted in git with SOPS are not compared (drift-check has no key): Secret/sops-apps/db (2); their keys, labels, annotations and everything else in the clear are"),
            "{warnings:#?}"
        );

        // A person changes a value (not comparable), adds a key and a
        // label, and removes a key.
        let db = reference("v1", "Secret", Some("sops-apps"), "db");
        update(&client, &resources, &db, "kubectl-edit", Patch::Merge(json!({
            "metadata": {"labels": {"debug": "on"}},
            "data": {"password": "bmV3LXZhbHVlLWNhbmFyeQ==", "token": "dG9rZW4tY2FuYXJ5", "user": null}}))).await;
        let report = check_one(p, &repo, "sops-apps").await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let secret = "Secret/sops-apps/db".to_string();
        assert_eq!(
            changes_of(&report),
            [
                (secret.clone(), "modified".into(), "/data/token".into(), Some("kubectl-edit".into())),
                (secret.clone(), "modified".into(), "/data/user".into(), None),
                (secret, "modified".into(), "/metadata/labels/debug".into(), Some("kubectl-edit".into())),
            ]
        );
        assert_eq!(report.exit_code(), 1);
        let text = serde_json::to_string(&report).unwrap();
        for value in [canary, "admin-canary-91b2", "new-value-canary", "token-canary", "bmV3LXZhbHVlLWNhbmFyeQ", "dG9rZW4tY2FuYXJ5", "aHVudGVyMi1jYW5hcnk"] {
            assert!(!text.contains(value), "{value} in the report");
        }

        // With the Kustomization's own key (the Secret kustomize-controller
        // uses) and sopsDecrypt on, the value a person changed is found too,
        // masked; no value is in the report, nor the key.
        let key_text = std::fs::read_to_string(&key).unwrap();
        let key_secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sops-age", "namespace": "flux-system"},
            "stringData": {"age.agekey": key_text}});
        apply(&client, &resources, &key_secret, "test-setup").await;
        let mut a = args(&p.admin);
        a.config = None;
        a.repo = vec![repo.clone()];
        a.source = Some("flux-system/secrets-infra".into());
        a.kustomizations = vec!["sops-apps".into()];
        a.sops_decrypt = Some(true);
        let report = check(&a, DiffMode::Local).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let secret = "Secret/sops-apps/db".to_string();
        assert_eq!(
            changes_of(&report),
            [
                (secret.clone(), "modified".into(), "/data/password".into(), Some("kubectl-edit".into())),
                (secret.clone(), "modified".into(), "/data/token".into(), Some("kubectl-edit".into())),
                (secret.clone(), "modified".into(), "/data/user".into(), None),
                (secret.clone(), "modified".into(), "/metadata/labels/debug".into(), Some("kubectl-edit".into())),
            ]
        );
        assert!(report.warnings.iter().all(|w| !w.message.contains("SOPS")), "{:#?}", report.warnings);
        let text = serde_json::to_string(&report).unwrap();
        let secret_key = key_text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
        for value in [canary, "admin-canary-91b2", "new-value-canary", "token-canary", "bmV3LXZhbHVlLWNhbmFyeQ", "aHVudGVyMi1jYW5hcnk", secret_key] {
            assert!(!text.contains(value), "{value} in the report");
        }

        // A key file with garbage: one warning for the Kustomization, which
        // is checked as without a key.
        let garbage = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sops-age", "namespace": "flux-system"},
            "stringData": {"age.agekey": "AGE-SECRET-KEY-GARBAGE-canary"}});
        apply(&client, &resources, &garbage, "test-setup").await;
        let report = check(&a, DiffMode::Local).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(changes_of(&report).len(), 3, "{:#?}", report.findings);
        let warnings: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            warnings.contains(&"values encrypted with SOPS not decrypted: Secret/flux-system/sops-age: data key age.agekey, line 1: not an age identity (AGE-SECRET-KEY-1…)"),
            "{warnings:#?}"
        );
        assert!(!serde_json::to_string(&report).unwrap().contains("GARBAGE-canary"));
    });
}

#[test]
fn secrets_made_by_sealed_secrets_and_external_secrets_are_their_controllers_not_flux_orphans() {
    // A SealedSecret's Secret copies its template's metadata, here the
    // platform's managed-by=flux and Flux's owner labels; an ExternalSecret's
    // likewise. Each points at its custom resource with a controller
    // ownerReference: never "orphaned", whoever edits it. The custom
    // resources in git are what is compared.
    let Some(p) = platform() else { return };
    let work = tempfile::tempdir().unwrap();
    let flux_labels = "    app.kubernetes.io/managed-by: flux\n";
    let sealed = format!(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: sealed-apps\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq\n  template:\n    metadata:\n      name: db\n      namespace: sealed-apps\n      labels:\n    {flux_labels}"
    );
    let external = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: api\n  namespace: sealed-apps\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    kind: ClusterSecretStore\n    name: vault\n  target:\n    name: api\n    creationPolicy: Owner\n  data:\n  - secretKey: token\n    remoteRef:\n      key: apps/api\n      property: token\n";
    write(
        work.path(),
        &[
            (
                "sealed/kustomization.yaml",
                "resources:\n- namespace.yaml\n- sealed.yaml\n- external.yaml\n- settings.yaml\n",
            ),
            // A Secret in git too: Secrets are listed (only the types a
            // Kustomization renders or has in its inventory are).
            (
                "sealed/settings.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: settings\n  namespace: sealed-apps\nstringData:\n  mode: fast\n",
            ),
            (
                "sealed/namespace.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sealed-apps\n",
            ),
            ("sealed/sealed.yaml", sealed.as_str()),
            ("sealed/external.yaml", external),
        ],
    );
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let mut resources = Resources::new(&client).await;
        for crd in yaml_objects(&root().join("tests/cluster/controller-crds.yaml")) {
            apply(&client, &resources, &crd, "test-setup").await;
        }
        for _ in 0..100 {
            if resources.0.get("bitnami.com").is_some() && resources.0.get("external-secrets.io").is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            resources = Resources::new(&client).await;
        }
        let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "sealed-apps", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./sealed", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "secrets-infra"}}});
        let stored = reconcile_like_flux(&client, &resources, &manifest, work.path()).await;
        let uid = |kind: &str| {
            stored.iter().find(|o| o["kind"] == kind).unwrap()["metadata"]["uid"].clone()
        };
        let flux_owned = json!({"app.kubernetes.io/managed-by": "flux",
            "kustomize.toolkit.fluxcd.io/name": "sealed-apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"});
        // What the two controllers write, with their own field managers.
        apply(&client, &resources, &json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "sealed-apps", "labels": flux_owned,
                "ownerReferences": [{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "db",
                                     "uid": uid("SealedSecret"), "controller": true}]},
            "type": "Opaque", "data": {"password": "czNhbGVk"}}), "sealed-secrets-controller").await;
        apply(&client, &resources, &json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "api", "namespace": "sealed-apps",
                "labels": {"app.kubernetes.io/managed-by": "flux", "reconcile.external-secrets.io/created-by": "7c1f0e"},
                "annotations": {"reconcile.external-secrets.io/data-hash": "5d41402abc4b2a76b9719d911017c592"},
                "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "api",
                                     "uid": uid("ExternalSecret"), "controller": true, "blockOwnerDeletion": true}]},
            "type": "Opaque", "data": {"token": "ZXh0ZXJuYWw="}}), "external-secrets").await;
        // A person's Secret with the same labels and no controller: an orphan.
        apply(&client, &resources, &json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "stray", "namespace": "sealed-apps", "labels": flux_owned},
            "type": "Opaque", "data": {"x": "eA=="}}), "kubectl-client-side-apply").await;

        let report = check_one(p, work.path(), "sealed-apps").await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let found: Vec<(String, &str)> = report.findings.iter().map(|f| (f.object.to_string(), f.drift.as_str())).collect();
        assert_eq!(found, [("Secret/sealed-apps/stray".to_string(), "orphaned")]);

        // A person edits both controllers' Secrets (their controllers will
        // answer for that, not Flux) and the SealedSecret git declares.
        for name in ["db", "api"] {
            update(&client, &resources, &reference("v1", "Secret", Some("sealed-apps"), name), "kubectl-edit",
                Patch::Merge(json!({"data": {"extra": "ZWRpdGVk"}}))).await;
        }
        update(&client, &resources, &reference("bitnami.com/v1alpha1", "SealedSecret", Some("sealed-apps"), "db"),
            "kubectl-edit", Patch::Merge(json!({"spec": {"encryptedData": {"password": "AgCHANGEDBYAPERSON"}}}))).await;
        let report = check_one(p, work.path(), "sealed-apps").await;
        let mut found: Vec<(String, &str, bool)> = report
            .findings
            .iter()
            .map(|f| (f.object.to_string(), f.drift.as_str(), f.explained))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("SealedSecret/sealed-apps/db".to_string(), "modified", false),
                ("Secret/sealed-apps/stray".to_string(), "orphaned", false),
            ]
        );
    });
}
