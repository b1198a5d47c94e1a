//! A source's credentials read from the cluster, with RBAC as the opt-in:
//! a token that may not read the Secret a GitRepository names gets "could
//! not check" for that source's Kustomization, naming the Secret and the
//! grant, and nothing else is lost; once `job/components/source-secrets`'
//! Role (edited as its header says) is bound, the same token fetches the
//! source with those credentials and the person's edit is found.

use super::*;
use crate::sources::{served_repo, servers, url};

const NS: &str = "team-src";
const APPS: &str = "team-src-apps";

fn settings(name: &str, level: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {APPS}\ndata:\n  level: \"{level}\"\n"
    )
}

/// A GitRepository `name` at `url`, its Kustomization applied at
/// `revision` (Ready, the ConfigMap `config` in its inventory), and that
/// ConfigMap as kustomize-controller applied it.
async fn reconciled(
    client: &Client,
    resources: &Resources,
    name: &str,
    url: &str,
    secret: Option<&str>,
    revision: &str,
    config: &str,
) -> Value {
    let mut source = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"interval": "1m", "url": url, "ref": {"branch": "main"}}});
    if let Some(secret) = secret {
        source["spec"]["secretRef"] = json!({"name": secret});
    }
    apply(client, resources, &source, "source-controller").await;
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"interval": "10m", "path": "./deploy", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": name}}});
    apply(client, resources, &ks, "kustomize-controller").await;
    let status = json!({"status": {"observedGeneration": 1,
        "lastAppliedRevision": revision, "lastAttemptedRevision": revision,
        "inventory": {"entries": [{"id": format!("{APPS}_{config}__ConfigMap"), "v": "v1"}]},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                        "message": format!("Applied revision: {revision}"),
                        "lastTransitionTime": "2026-12-01T09:00:00Z", "observedGeneration": 1}]}});
    let (api, ks_name) = resources.api(client, &ks);
    api.patch_status(&ks_name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let mut applied: Value = drift_check::yaml::document(
        &settings(config, "3"),
        std::path::Path::new("settings.yaml"),
    )
    .unwrap();
    applied["metadata"]["labels"] = json!({"kustomize.toolkit.fluxcd.io/name": name,
                                           "kustomize.toolkit.fluxcd.io/namespace": NS});
    apply(client, resources, &applied, "kustomize-controller").await;
    applied
}

/// The component's ClusterRole, for the Secret `secret`, bound in `NS` as
/// its kustomization.yaml says (to the test's partial user instead of the
/// Job's ServiceAccount).
fn component_grant(secret: &str) -> Vec<Value> {
    let mut objects = yaml_objects(&root().join("job/components/source-secrets/clusterrole.yaml"));
    assert_eq!(objects.len(), 1, "the component ships one ClusterRole");
    let role = &mut objects[0];
    assert_eq!(role["kind"], "ClusterRole");
    role["rules"][0]["resourceNames"] = json!([secret]);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": "drift-check-source-secrets", "namespace": NS},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                     "name": role["metadata"]["name"]},
                         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "drift-partial"}]});
    objects.push(binding);
    objects
}

async fn check_source(p: &Platform) -> Report {
    let mut a = args(&p.partial);
    a.config = None;
    a.repo = Vec::new();
    a.kustomizations = vec![format!("{NS}/app"), format!("{NS}/public")];
    a.git_timeout = Some(30);
    check(&a, DiffMode::Local).await
}

#[test]
fn a_source_secret_the_token_may_not_read_is_named_with_its_grant_and_the_grant_works() {
    let (Some(p), Some(git)) = (platform(), servers()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (_, commits) = served_repo(
        &git,
        work.path(),
        "team-src",
        &[&[("deploy/settings.yaml", &settings("team-settings", "3"))]],
    );
    let (_, public) = served_repo(
        &git,
        work.path(),
        "public-src",
        &[&[("deploy/settings.yaml", &settings("public-settings", "3"))]],
    );
    let url = |name: &str, base: &str| url(base, work.path(), name);

    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        for ns in [NS, APPS] {
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            apply(&client, &resources, &namespace, "test-setup").await;
        }
        let b64 = |v: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(v)
        };
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "team-src-auth", "namespace": NS},
            "data": {"username": b64(git.user.as_bytes()), "password": b64(git.password.as_bytes()),
                     "ca.crt": b64(&std::fs::read(&git.ca).unwrap())}});
        apply(&client, &resources, &secret, "test-setup").await;
        let applied = reconciled(
            &client,
            &resources,
            "app",
            &url("team-src", &git.https),
            Some("team-src-auth"),
            &format!("main@sha1:{}", commits[0]),
            "team-settings",
        )
        .await;
        reconciled(
            &client,
            &resources,
            "public",
            &url("public-src", &git.http),
            None,
            &format!("main@sha1:{}", public[0]),
            "public-settings",
        )
        .await;
        update(
            &client,
            &resources,
            &applied,
            "kubectl-edit",
            Patch::Merge(json!({"data": {"level": "9"}})),
        )
        .await;

        // Without a grant: this source's Kustomization only.
        let report = check_source(p).await;
        let entry = |report: &Report, name: &str| {
            report
                .kustomizations
                .iter()
                .find(|k| k.name == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            entry(&report, "app").error.as_deref(),
            Some(
                format!(
                    "GitRepository/{NS}/app: cannot read Secret {NS}/team-src-auth (forbidden: grant get on Secrets in {NS} with job/components/source-secrets, or mount it and set sources.secretDirs)"
                )
                .as_str()
            ),
            "{:#?}",
            report.errors
        );
        assert_eq!(entry(&report, "public").error, None, "{:#?}", report.errors);
        assert_eq!(report.exit_code(), 2);
        assert!(
            !report
                .findings
                .iter()
                .any(|f| f.object.to_string().contains("team-settings")),
            "an unchecked Kustomization's objects are neither missing nor orphaned"
        );

        // The component, bound: the source is fetched, the edit found.
        for object in component_grant("team-src-auth") {
            apply(&client, &resources, &object, "test-setup").await;
        }
        let report = check_source(p).await;
        assert_eq!(entry(&report, "app").error, None, "{:#?}", report.errors);
        let found: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.object.to_string().contains("team-settings"))
            .flat_map(|f| {
                f.changes
                    .iter()
                    .map(|c| (c.path.clone(), c.manager.clone(), f.explained))
            })
            .collect();
        assert_eq!(
            found,
            [(
                "/data/level".to_string(),
                Some("kubectl-edit".to_string()),
                false
            )]
        );
        let text = format!("{report:?}");
        assert!(!text.contains(&git.password), "a credential leaked");

        // Gone again, so that no other test's whole-cluster check sees
        // them (their ConfigMaps would be orphans of a deleted
        // Kustomization).
        for name in ["app", "public"] {
            for (api_version, kind, namespace, name) in [
                ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", NS, name),
                ("source.toolkit.fluxcd.io/v1", "GitRepository", NS, name),
            ] {
                let object = reference(api_version, kind, Some(namespace), name);
                let (api, name) = resources.api(&client, &object);
                api.delete(&name, &DeleteParams::default()).await.unwrap();
            }
        }
        for name in ["team-settings", "public-settings"] {
            let object = reference("v1", "ConfigMap", Some(APPS), name);
            let (api, name) = resources.api(&client, &object);
            api.delete(&name, &DeleteParams::default()).await.unwrap();
        }
    });
}
