//! GitRepositories with `spec.provider: github`, fetched with a GitHub App
//! installation token as source-controller gets it, against the stand-in
//! GitHub of `scripts/services/github-app` (it verifies each JWT with the
//! app's public key, issues tokens, counts requests, and serves the test git
//! servers' repos over https to those tokens only). Each test asks for
//! installations of its own, so the counts are its own.

use std::process::Command;

use serde_json::{Value, json};

use crate::sources::{
    Servers, check, configmap, entry, git_repository, kustomization, live_configmap, secret,
    served_repo, servers, unexplained, url,
};
use crate::util::{list_yaml, service, write_file};

/// The stand-in GitHub and its app.
struct GitHub {
    api: String,
    git: String,
    stats: String,
    app_id: String,
    key: Vec<u8>,
    other_key: Vec<u8>,
}

fn github() -> Option<GitHub> {
    let var = |name: &str| service(&format!("DRIFT_CHECK_TEST_GITHUB_{name}"));
    Some(GitHub {
        api: var("API")?,
        git: var("GIT")?,
        stats: var("STATS")?,
        app_id: var("APP_ID")?,
        key: std::fs::read(var("APP_KEY")?).unwrap(),
        other_key: std::fs::read(var("OTHER_KEY")?).unwrap(),
    })
}

/// How many times the stand-in was asked `what` (`access_tokens`, `git`,
/// `rejected`, `not_found`, `orgs_lookups`) for `installation`.
fn asked(servers: &Servers, gh: &GitHub, what: &str, installation: &str) -> u64 {
    let out = Command::new("curl")
        .args(["-sf", "--cacert", &servers.ca, &gh.stats])
        .output()
        .unwrap();
    assert!(out.status.success(), "stats: {out:?}");
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    stats[what][installation].as_u64().unwrap_or(0)
}

/// The Secret of a GitHub App source: the app, its installation (an ID or
/// `owner=<name>`), its key, the stand-in's API and CA.
fn app_secret(name: &str, gh: &GitHub, servers: &Servers, installation: &str, key: &[u8]) -> Value {
    let ca = std::fs::read(&servers.ca).unwrap();
    let (field, value) = match installation.strip_prefix("owner=") {
        Some(owner) => ("githubAppInstallationOwner", owner),
        None => ("githubAppInstallationID", installation),
    };
    secret(
        name,
        &[
            ("githubAppID", gh.app_id.as_bytes()),
            (field, value.as_bytes()),
            ("githubAppPrivateKey", key),
            ("githubAppBaseURL", gh.api.as_bytes()),
            ("ca.crt", &ca),
        ],
    )
}

/// A source `name` on the stand-in GitHub (one commit: a ConfigMap
/// `<name>-settings`, mode fast), its Kustomization, and the live ConfigMap
/// with `mode` edited to slow by a person.
fn app_source(
    servers: &Servers,
    gh: &GitHub,
    scratch: &std::path::Path,
    name: &str,
    secret: &str,
    objects: &mut Vec<Value>,
    live: &mut Vec<Value>,
) {
    let cm = format!("{name}-settings");
    let (_, shas) = served_repo(
        servers,
        scratch,
        name,
        &[&[(
            "deploy/settings.yaml",
            &configmap(&cm, &[("mode", "fast"), ("zone", "a")]),
        )]],
    );
    objects.push(git_repository(
        name,
        &url(&gh.git, scratch, name),
        Some(secret),
        json!({"provider": "github"}),
    ));
    objects.push(kustomization(name, name, "./deploy", &shas[0]));
    live.push(live_configmap(
        &cm,
        name,
        &[("mode", "slow"), ("zone", "a")],
        &["mode"],
    ));
}

fn write_platform(dir: &std::path::Path, objects: Vec<Value>, live: Vec<Value>) {
    write_file(dir, "live/flux-system.yaml", &list_yaml(objects));
    write_file(dir, "live/apps.yaml", &list_yaml(live));
}

fn edited(name: &str) -> (String, Vec<String>) {
    (
        format!("ConfigMap/{name}-settings"),
        vec!["/data/mode".to_string()],
    )
}

/// Nothing of the app's key, nor any installation token, in what the run wrote.
fn assert_no_secrets(gh: &GitHub, text: &str) {
    let key = String::from_utf8_lossy(&gh.key);
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "a line of the app's key leaked");
    }
    assert!(!text.contains("ghs_"), "an installation token leaked");
}

#[test]
fn two_sources_of_one_app_installation_share_one_token_and_their_drift_is_found() {
    let (Some(servers), Some(gh)) = (servers(), github()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut objects, mut live) = (Vec::new(), Vec::new());
    // Two Secrets with the same app data: one installation, one token.
    for (name, secret) in [
        ("gh-platform", "gh-platform-app"),
        ("gh-apps", "gh-apps-app"),
    ] {
        app_source(
            &servers,
            &gh,
            dir.path(),
            name,
            secret,
            &mut objects,
            &mut live,
        );
        objects.push(app_secret(secret, &gh, &servers, "1001", &gh.key));
    }
    // A third source finds its installation by owner.
    app_source(
        &servers,
        &gh,
        dir.path(),
        "gh-team",
        "gh-team-app",
        &mut objects,
        &mut live,
    );
    objects.push(app_secret(
        "gh-team-app",
        &gh,
        &servers,
        "owner=org-1011",
        &gh.key,
    ));
    write_platform(dir.path(), objects, live);
    let tokens_before = asked(&servers, &gh, "access_tokens", "1001");
    let git_before = asked(&servers, &gh, "git", "1001");
    let owner_tokens_before = asked(&servers, &gh, "access_tokens", "1011");

    let (code, report, stderr) = check(dir.path(), &[]);
    assert_eq!(report["errors"], json!([]), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        unexplained(&report),
        [edited("gh-apps"), edited("gh-platform"), edited("gh-team")]
    );
    for name in ["gh-platform", "gh-apps", "gh-team"] {
        let e = entry(&report, name);
        assert_eq!(e["error"], Value::Null, "{e:#}");
        assert_eq!(e["source"]["name"], name);
    }
    assert_eq!(
        asked(&servers, &gh, "access_tokens", "1001") - tokens_before,
        1,
        "one token request for the two sources of installation 1001"
    );
    assert!(asked(&servers, &gh, "git", "1001") > git_before);
    assert_eq!(
        asked(&servers, &gh, "access_tokens", "1011") - owner_tokens_before,
        1
    );
    assert!(asked(&servers, &gh, "orgs_lookups", "org-1011") >= 1);
    assert_no_secrets(&gh, &format!("{report}{stderr}"));
}

#[test]
fn a_wrong_app_key_or_installation_fails_only_its_own_source_and_says_why() {
    let (Some(servers), Some(gh)) = (servers(), github()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut objects, mut live) = (Vec::new(), Vec::new());
    let sources: [(&str, &str, &[u8]); 4] = [
        ("gh-good", "1002", &gh.key),
        ("gh-wrong-key", "1003", &gh.other_key),
        ("gh-no-install", "5000", &gh.key),
        (
            "gh-not-rsa",
            "1004",
            b"-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
        ),
    ];
    for (name, installation, key) in sources {
        let secret = format!("{name}-app");
        app_source(
            &servers,
            &gh,
            dir.path(),
            name,
            &secret,
            &mut objects,
            &mut live,
        );
        objects.push(app_secret(&secret, &gh, &servers, installation, key));
    }
    write_platform(dir.path(), objects, live);
    let rejected_before = asked(&servers, &gh, "rejected", "1003");

    let (code, report, stderr) = check(dir.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    // The good source is checked; its drift found.
    assert_eq!(entry(&report, "gh-good")["error"], Value::Null);
    assert_eq!(unexplained(&report), [edited("gh-good")]);
    let error = |name: &str| {
        entry(&report, name)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let api = &gh.api;
    assert_eq!(
        error("gh-wrong-key"),
        format!(
            "GitRepository/flux-system/gh-wrong-key: GitHub App {}: create an installation access token (POST {api}/app/installations/1003/access_tokens) failed: 401 Unauthorized: A JSON web token could not be decoded",
            gh.app_id
        )
    );
    assert_eq!(
        error("gh-no-install"),
        format!(
            "GitRepository/flux-system/gh-no-install: GitHub App {}: create an installation access token (POST {api}/app/installations/5000/access_tokens) failed: 404 Not Found: Not Found",
            gh.app_id
        )
    );
    assert_eq!(
        error("gh-not-rsa"),
        "GitRepository/flux-system/gh-not-rsa: secretRef: githubAppPrivateKey is not an RSA private key in PEM (-----BEGIN RSA PRIVATE KEY-----, as GitHub issues it)"
    );
    // The stand-in saw the wrong key's JWT, and refused it: once for the
    // head and once for the applied revision (fetched apart; a refusal is
    // not cached, as Flux's token cache keeps only tokens).
    assert_eq!(
        asked(&servers, &gh, "rejected", "1003") - rejected_before,
        2
    );
    let text = format!("{report}{stderr}");
    assert_no_secrets(&gh, &text);
    let other = String::from_utf8_lossy(&gh.other_key);
    assert!(
        other
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .all(|l| !text.contains(l)),
        "a line of the wrong key leaked"
    );
}
