//! Every Kustomization checked against its own source, read from the
//! cluster's objects (here a live snapshot): a platform of three
//! GitRepositories served by the real git servers of `scripts/test`, each
//! with credentials of its own (https basic auth, ssh identity + known_hosts,
//! https as another user; both https with the Secret's ca.crt), drift seeded in objects
//! of each; a source whose Secret is missing or whose server is unreachable
//! fails only its own Kustomizations; `--repo ns/name=<checkout>` replaces
//! one source; `spec.include` and `spec.ignore` shape the artifact as
//! source-controller's; a moved branch is checked at the applied commit.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::source::git;
use crate::util::{TestCommand, list_yaml, service, write_file};

/// The servers and credentials `scripts/services/git-servers` started.
pub(crate) struct Servers {
    pub(crate) root: PathBuf,
    /// Plain http, no credentials (`/public`).
    pub(crate) http: String,
    pub(crate) https: String,
    pub(crate) https_team: String,
    pub(crate) ca: String,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) team_password: String,
    pub(crate) ssh: String,
    pub(crate) ssh_secret: PathBuf,
}

pub(crate) fn servers() -> Option<Servers> {
    let var = |name: &str| service(&format!("DRIFT_CHECK_TEST_GIT_{name}"));
    Some(Servers {
        root: var("ROOT")?.into(),
        http: var("HTTP")?,
        https: var("HTTPS")?,
        https_team: var("HTTPS_TEAM")?,
        ca: var("CA")?,
        user: var("HTTP_USER")?,
        password: var("HTTP_PASSWORD")?,
        team_password: var("TEAM_PASSWORD")?,
        ssh: var("SSH")?,
        ssh_secret: var("SSH_SECRET")?.into(),
    })
}

/// A ConfigMap manifest in namespace `apps`.
pub(crate) fn configmap(name: &str, data: &[(&str, &str)]) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n"
    );
    for (k, v) in data {
        text.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    text
}

/// A git repository of one commit per `commits` entry (files to write),
/// served under `name.git`; returns the work tree and each commit.
pub(crate) fn served_repo(
    servers: &Servers,
    scratch: &Path,
    name: &str,
    commits: &[&[(&str, &str)]],
) -> (PathBuf, Vec<String>) {
    let work = scratch.join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    let mut shas = Vec::new();
    for files in commits {
        for (path, text) in *files {
            write_file(&work, path, text);
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-qm", "change"]);
        shas.push(git(&work, &["rev-parse", "HEAD"]));
    }
    let bare = servers.root.join(format!("{name}-{}.git", suffix(scratch)));
    let _ = std::fs::remove_dir_all(&bare);
    git(
        &servers.root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    (work, shas)
}

/// Repos of each test apart: named after the test's scratch directory.
pub(crate) fn suffix(scratch: &Path) -> String {
    scratch
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches('.')
        .to_lowercase()
}

pub(crate) fn url(base: &str, scratch: &Path, name: &str) -> String {
    format!("{base}/{name}-{}.git", suffix(scratch))
}

pub(crate) fn git_repository(name: &str, url: &str, secret: Option<&str>, extra: Value) -> Value {
    let mut spec = json!({"interval": "1m", "url": url, "ref": {"branch": "main"}});
    if let Some(secret) = secret {
        spec["secretRef"] = json!({"name": secret});
    }
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec})
}

pub(crate) fn secret(name: &str, data: &[(&str, &[u8])]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": name, "namespace": "flux-system"}, "data": data})
}

pub(crate) fn kustomization(name: &str, source: &str, path: &str, applied: &str) -> Value {
    let revision = format!("main@sha1:{applied}");
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": name, "namespace": "flux-system"},
           "spec": {"interval": "10m", "path": path, "prune": true, "targetNamespace": "apps",
                    "sourceRef": {"kind": "GitRepository", "name": source}},
           "status": {"lastAppliedRevision": revision, "lastAttemptedRevision": revision,
                      "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                      "message": format!("Applied revision: {revision}"),
                                      "lastTransitionTime": "2026-12-01T09:00:00Z"}]}})
}

/// A live ConfigMap Flux applied, then `kubectl edit`-ed in `edited` keys.
pub(crate) fn live_configmap(
    name: &str,
    ks: &str,
    data: &[(&str, &str)],
    edited: &[&str],
) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let fields = |keys: Vec<&str>| -> Value {
        let f: serde_json::Map<String, Value> = keys
            .into_iter()
            .map(|k| (format!("f:{k}"), json!({})))
            .collect();
        json!({"f:data": f})
    };
    let flux_keys: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !edited.contains(k))
        .collect();
    let mut managed = vec![
        json!({"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kustomize-controller",
                                  "operation": "Apply", "time": "2026-12-01T09:00:00Z", "fieldsV1": fields(flux_keys)}),
    ];
    if !edited.is_empty() {
        managed.push(json!({"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit",
                            "operation": "Update", "time": "2026-12-02T10:00:00Z", "fieldsV1": fields(edited.to_vec())}));
    }
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "apps", "managedFields": managed,
                        "labels": {"kustomize.toolkit.fluxcd.io/name": ks, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
           "data": data})
}

/// The platform: `platform` (http basic auth), `apps` (ssh), `team` (https,
/// ca.crt, another user); `apps`' branch moved on since Flux applied it.
pub(crate) struct Platform {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) applied: [String; 3],
    pub(crate) apps_head: String,
    pub(crate) apps_work: PathBuf,
}

pub(crate) fn platform(servers: &Servers, edit: impl FnOnce(&mut Vec<Value>)) -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let (_, platform) = served_repo(
        servers,
        dir.path(),
        "platform",
        &[&[
            (
                "infra/settings.yaml",
                &configmap(
                    "platform-settings",
                    &[("region", "eu-west"), ("tier", "gold")],
                ),
            ),
            // No kustomization.yaml: Flux generates one from every manifest
            // under infra/, so these drafts would break the render were they
            // not left out by spec.ignore.
            ("infra/drafts/broken.yaml", "not: [valid\n"),
        ]],
    );
    let (apps_work, apps) = served_repo(
        servers,
        dir.path(),
        "apps",
        &[
            &[(
                "deploy/web.yaml",
                &configmap("web", &[("replicas", "2"), ("color", "blue")]),
            )],
            &[(
                "deploy/web.yaml",
                &configmap("web", &[("replicas", "5"), ("color", "blue")]),
            )],
        ],
    );
    let (_, team) = served_repo(
        servers,
        dir.path(),
        "team",
        &[&[(
            "config/team.yaml",
            &configmap("team-config", &[("owner", "team-a"), ("quota", "10")]),
        )]],
    );
    let _shared = served_repo(
        servers,
        dir.path(),
        "shared",
        &[&[
            (
                "base/shared.yaml",
                &configmap("shared-base", &[("log", "info")]),
            ),
            ("base/kustomization.yaml", "resources: [shared.yaml]\n"),
        ]],
    );
    let applied = [platform[0].clone(), apps[0].clone(), team[0].clone()];
    let ssh = |f: &str| std::fs::read(servers.ssh_secret.join(f)).unwrap();
    let ca = std::fs::read(&servers.ca).unwrap();
    let mut objects = vec![
        git_repository(
            "platform",
            &url(&servers.https, dir.path(), "platform"),
            Some("platform-auth"),
            json!({"ignore": "/infra/drafts/\n",
                   "include": [{"repository": {"name": "shared"}, "fromPath": "base", "toPath": "infra/shared"}]}),
        ),
        git_repository(
            "shared",
            &url(&servers.https, dir.path(), "shared"),
            Some("platform-auth"),
            json!({}),
        ),
        git_repository(
            "apps",
            &url(&servers.ssh, dir.path(), "apps"),
            Some("apps-ssh"),
            json!({}),
        ),
        git_repository(
            "team",
            &url(&servers.https_team, dir.path(), "team"),
            Some("team-https"),
            json!({}),
        ),
        secret(
            "platform-auth",
            &[
                ("username", servers.user.as_bytes()),
                ("password", servers.password.as_bytes()),
                ("ca.crt", &ca),
            ],
        ),
        secret(
            "apps-ssh",
            &[
                ("identity", &ssh("identity")),
                ("known_hosts", &ssh("known_hosts")),
            ],
        ),
        secret(
            "team-https",
            &[
                ("username", b"team"),
                ("password", servers.team_password.as_bytes()),
                ("ca.crt", &ca),
            ],
        ),
        kustomization("platform", "platform", "./infra", &applied[0]),
        kustomization("apps", "apps", "./deploy", &applied[1]),
        kustomization("team", "team", "./config", &applied[2]),
    ];
    edit(&mut objects);
    write_file(dir.path(), "live/flux-system.yaml", &list_yaml(objects));
    // Drift: a person edited one key of each source's ConfigMap; apps' live
    // replicas are what Flux applied (2), not the branch's new head (5).
    let live = vec![
        live_configmap(
            "platform-settings",
            "platform",
            &[("region", "us-east"), ("tier", "gold")],
            &["region"],
        ),
        live_configmap("shared-base", "platform", &[("log", "debug")], &["log"]),
        live_configmap(
            "web",
            "apps",
            &[("replicas", "2"), ("color", "red")],
            &["color"],
        ),
        live_configmap(
            "team-config",
            "team",
            &[("owner", "team-a"), ("quota", "99")],
            &["quota"],
        ),
    ];
    write_file(dir.path(), "live/apps.yaml", &list_yaml(live));
    Platform {
        dir,
        applied,
        apps_head: apps[1].clone(),
        apps_work,
    }
}

pub(crate) fn check(dir: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = TestCommand::new()
        .args(["check", "--cluster", "test", "--live-snapshot"])
        .arg(dir.join("live"))
        .args(["-o", "json", "--git-timeout", "30"])
        .args(extra)
        .output();
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, report, out.stderr)
}

/// `(object, changed paths, explained)` of each finding, sorted.
pub(crate) fn findings(report: &Value) -> Vec<(String, Vec<String>, bool)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["object"]["kind"].as_str().unwrap(),
                    f["object"]["name"].as_str().unwrap()
                ),
                f["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["path"].as_str().unwrap().to_string())
                    .collect(),
                f["explained"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()
}

pub(crate) fn unexplained(report: &Value) -> Vec<(String, Vec<String>)> {
    findings(report)
        .into_iter()
        .filter(|f| !f.2)
        .map(|(o, p, _)| (o, p))
        .collect()
}

#[test]
fn three_git_repositories_with_their_own_credentials_each_checked_at_the_applied_commit() {
    let Some(servers) = servers() else { return };
    let p = platform(&servers, |_| {});
    let (code, report, stderr) = check(p.dir.path(), &[]);
    assert_eq!(report["errors"], json!([]), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        unexplained(&report),
        [
            (
                "ConfigMap/platform-settings".to_string(),
                vec!["/data/region".to_string()]
            ),
            (
                "ConfigMap/shared-base".to_string(),
                vec!["/data/log".to_string()]
            ),
            (
                "ConfigMap/team-config".to_string(),
                vec!["/data/quota".to_string()]
            ),
            ("ConfigMap/web".to_string(), vec!["/data/color".to_string()]),
        ]
    );
    for (i, name) in ["platform", "apps", "team"].into_iter().enumerate() {
        let e = entry(&report, name);
        assert_eq!(
            e["revision"],
            format!("main@sha1:{}", p.applied[i]).as_str(),
            "{e:#}"
        );
        assert_eq!(e["source"]["kind"], "GitRepository");
        assert_eq!(e["source"]["namespace"], "flux-system");
        assert_eq!(e["source"]["name"], name);
        assert_eq!(e["error"], Value::Null);
    }
    // The moved branch: checked at the applied commit (replicas 2 = live),
    // the head's 5 is only a pending reconcile, never unexplained.
    assert_ne!(p.apps_head, p.applied[1]);
    assert!(
        findings(&report)
            .iter()
            .all(|(o, paths, explained)| !(o == "ConfigMap/web"
                && paths.contains(&"/data/replicas".to_string())
                && !explained)),
        "{:#?}",
        findings(&report)
    );
    let text = format!("{report}{stderr}");
    for secret in [&servers.password, &servers.team_password] {
        assert!(!text.contains(secret.as_str()), "a credential leaked");
    }
}

#[test]
fn a_missing_secret_and_an_unreachable_server_fail_only_their_own_kustomizations() {
    let Some(servers) = servers() else { return };
    // team's Secret is gone; apps' server does not answer.
    let p = platform(&servers, |objects| {
        objects.retain(|o| o["metadata"]["name"] != "team-https");
        for o in objects
            .iter_mut()
            .filter(|o| o["metadata"]["name"] == "apps" && o["kind"] == "GitRepository")
        {
            o["spec"]["url"] = json!("ssh://git@127.0.0.1:1/nowhere/apps.git");
        }
    });
    let (code, report, stderr) = check(p.dir.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    let team = entry(&report, "team")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        team,
        "GitRepository/flux-system/team: cannot read Secret flux-system/team-https (it does not exist)"
    );
    let apps = entry(&report, "apps")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(apps.starts_with("GitRepository/flux-system/apps: ssh://git@127.0.0.1:1/nowhere/apps.git: server unreachable"), "{apps}");
    assert_eq!(
        unexplained(&report),
        [
            (
                "ConfigMap/platform-settings".to_string(),
                vec!["/data/region".to_string()]
            ),
            (
                "ConfigMap/shared-base".to_string(),
                vec!["/data/log".to_string()]
            ),
        ]
    );
}

#[test]
fn a_repo_given_for_one_source_replaces_it_and_the_others_come_from_the_cluster() {
    let Some(servers) = servers() else { return };
    let p = platform(&servers, |_| {});
    // A person's checkout of apps where the color is red, as live: committed.
    write_file(
        &p.apps_work,
        "deploy/web.yaml",
        &configmap("web", &[("replicas", "2"), ("color", "red")]),
    );
    git(&p.apps_work, &["commit", "-qam", "red"]);
    let over = format!("flux-system/apps={}", p.apps_work.display());
    let (code, report, stderr) = check(p.dir.path(), &["--repo", &over]);
    assert_eq!(report["errors"], json!([]), "{stderr}");
    assert_eq!(code, 1);
    let apps = entry(&report, "apps");
    assert_eq!(
        apps["source"]["url"],
        p.apps_work.display().to_string().as_str()
    );
    // The applied commit read from the checkout's own history.
    assert_eq!(apps["revision"], p.applied[1].as_str());
    assert_eq!(
        unexplained(&report)
            .iter()
            .map(|(o, _)| o.as_str())
            .collect::<Vec<_>>(),
        [
            "ConfigMap/platform-settings",
            "ConfigMap/shared-base",
            "ConfigMap/team-config",
            "ConfigMap/web"
        ]
    );
}

#[test]
fn a_semver_ref_follows_the_highest_tag_and_sourceignore_leaves_files_out() {
    let Some(servers) = servers() else { return };
    let Some(daemon) = service("DRIFT_CHECK_TEST_GIT_DAEMON") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (work, shas) = served_repo(
        &servers,
        dir.path(),
        "tagged",
        &[
            &[
                ("deploy/web.yaml", &configmap("web", &[("version", "1.0")])),
                // Left out by .sourceignore: a render would refuse it.
                ("deploy/scratch/broken.yaml", "not: [valid\n"),
                (".sourceignore", "deploy/scratch/\n"),
            ],
            &[("deploy/web.yaml", &configmap("web", &[("version", "1.1")]))],
        ],
    );
    // v1.0.0 on the first commit, v1.1.0 on the second, v2.0.0 out of range.
    let bare = servers
        .root
        .join(format!("tagged-{}.git", suffix(dir.path())));
    for (tag, sha) in [
        ("v1.0.0", &shas[0]),
        ("v1.1.0", &shas[1]),
        ("v2.0.0", &shas[1]),
    ] {
        git(&work, &["tag", tag, sha]);
    }
    git(&work, &["push", "-q", "--tags", bare.to_str().unwrap()]);
    let mut repo = git_repository(
        "tagged",
        &url(&daemon, dir.path(), "tagged"),
        None,
        json!({}),
    );
    repo["spec"]["ref"] = json!({"semver": ">=1.0.0 <2.0.0"});
    let mut ks = kustomization("tagged", "tagged", "./deploy", &shas[1]);
    let applied = format!("v1.1.0@sha1:{}", shas[1]);
    ks["status"]["lastAppliedRevision"] = json!(applied);
    write_file(
        dir.path(),
        "live/flux-system.yaml",
        &list_yaml(vec![repo, ks]),
    );
    write_file(
        dir.path(),
        "live/apps.yaml",
        &list_yaml(vec![live_configmap(
            "web",
            "tagged",
            &[("version", "1.1")],
            &[],
        )]),
    );
    let (code, report, stderr) = check(dir.path(), &[]);
    assert_eq!(report["errors"], json!([]), "{stderr}");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(entry(&report, "tagged")["revision"], applied.as_str());
    assert_eq!(findings(&report), vec![]);
}
