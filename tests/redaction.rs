//! A canary secret fed through every error path that names a URL — a git
//! clone URL with `user:token`, an OCI registry URL with credentials, a
//! Bucket endpoint and its keys, a Matrix homeserver and access token, a
//! pushgateway and its token, a webhook URL with a token in its query — is
//! found nowhere in what the binary writes: the JSON report, the JSON logs,
//! the config errors. Every endpoint is a closed port on 127.0.0.1, so each
//! path really fails (and the test checks that it did).

use std::path::Path;

use serde_json::{Value, json};

use crate::sources::{kustomization, secret};
use crate::util::{Output, TestCommand, list_yaml, write_file};

const CANARY: &str = "c4n4ry-s3cr3t-7f1e";

/// A port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `drift-check run` on a cluster snapshot with this config, JSON output
/// and JSON logs; the canary must not be in any of it.
fn run(dir: &Path, config: &str, env: &[(&str, &str)]) -> Output {
    let config_path = dir.join("drift-check.yaml");
    std::fs::write(&config_path, config).unwrap();
    let out = TestCommand::new()
        .args(["run", "--cluster", "test", "--config"])
        .arg(&config_path)
        .arg("--live-snapshot")
        .arg(dir.join("live"))
        .args(["-o", "json", "--log-format", "json", "--git-timeout", "10"])
        .envs(env)
        .output();
    assert!(
        !out.stdout.contains(CANARY) && !out.stderr.contains(CANARY),
        "the canary leaked:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

/// A Kustomization `name` of source `kind/name`.
fn kustomization_of(name: &str, kind: &str) -> Value {
    let mut ks = kustomization(name, name, "./", &"0".repeat(40));
    ks["spec"]["sourceRef"] = json!({"kind": kind, "name": name});
    ks
}

/// The three sources, each with the canary where its credentials go.
fn sources(port: u16) -> Vec<Value> {
    vec![
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "git", "namespace": "flux-system"},
               "spec": {"interval": "1m", "ref": {"branch": "main"},
                        "url": format!("https://bot:{CANARY}@127.0.0.1:{port}/infra.git")}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
               "metadata": {"name": "oci", "namespace": "flux-system"},
               "spec": {"interval": "1m", "insecure": true, "ref": {"tag": "v1"},
                        "url": format!("oci://127.0.0.1:{port}/org/app"),
                        "secretRef": {"name": "oci-auth"}}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
               "metadata": {"name": "bucket", "namespace": "flux-system"},
               "spec": {"interval": "1m", "provider": "generic", "insecure": true,
                        "endpoint": format!("127.0.0.1:{port}"), "bucketName": "infra",
                        "secretRef": {"name": "bucket-keys"}}}),
        secret(
            "oci-auth",
            &[(
                ".dockerconfigjson",
                json!({"auths": {format!("127.0.0.1:{port}"): {
                        "username": "bot", "password": CANARY}}})
                .to_string()
                .as_bytes(),
            )],
        ),
        secret(
            "bucket-keys",
            &[
                ("accesskey", b"AKIAEXAMPLE"),
                ("secretkey", CANARY.as_bytes()),
            ],
        ),
        kustomization_of("git", "GitRepository"),
        kustomization_of("oci", "OCIRepository"),
        kustomization_of("bucket", "Bucket"),
    ]
}

#[test]
fn a_canary_in_every_url_and_credential_is_nowhere_in_the_report_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut objects = sources(port);
    objects[3]["type"] = json!("kubernetes.io/dockerconfigjson");
    write_file(dir.path(), "live/flux-system.yaml", &list_yaml(objects));
    let config = format!(
        "cluster: test\nnotify:\n  matrix:\n    homeserver: http://127.0.0.1:{port}\n    room: \"#a:example.org\"\n    user: \"@bot:example.org\"\n    retries: 1\n    timeoutSeconds: 2\n    stateFile: state.json\n  pushgateway:\n    url: http://127.0.0.1:{port}\n    retries: 1\n  webhook:\n    url: http://127.0.0.1:{port}/hook?token={CANARY}\n    retries: 1\n"
    );
    let env = [
        ("DRIFT_CHECK_MATRIX_TOKEN", CANARY),
        ("DRIFT_CHECK_PUSHGATEWAY_TOKEN", CANARY),
    ];
    let out = run(dir.path(), &config, &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let errors: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["kustomization"], e["message"]))
        .collect();
    for (ks, shown) in [
        ("git", format!("https://***@127.0.0.1:{port}/infra.git")),
        ("oci", format!("127.0.0.1:{port}")),
        ("bucket", format!("127.0.0.1:{port}")),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("\"flux-system/{ks}\" ")) && e.contains(&shown)),
            "{ks}: {errors:?}"
        );
    }
    for sink in ["matrix", "pushgateway", "webhook"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("Sink failed") && l.contains(&format!("\"sink\":\"{sink}\""))),
            "{sink}: {}",
            out.stderr
        );
    }
    assert!(
        out.stderr
            .contains(&format!("http://127.0.0.1:{port}/hook?token=***")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_canary_in_a_sink_url_refused_by_the_config_is_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "live/flux-system.yaml", &list_yaml(vec![]));
    for (notify, shown) in [
        (
            format!(
                "  matrix:\n    homeserver: https://bot:{CANARY}@matrix.example.org\n    room: \"#a:example.org\"\n    user: \"@bot:example.org\"\n"
            ),
            "notify.matrix.homeserver: \"https://***@matrix.example.org\"",
        ),
        (
            format!("  pushgateway:\n    url: https://pusher:{CANARY}@pg.example.org\n"),
            "notify.pushgateway.url: \"https://***@pg.example.org\"",
        ),
        (
            format!("  webhook:\n    url: ftp://hook:{CANARY}@hooks.example.org/x?sig={CANARY}\n"),
            "notify.webhook.url: \"ftp://hook:***@hooks.example.org/x?sig=***\"",
        ),
    ] {
        let out = run(
            dir.path(),
            &format!("cluster: test\nnotify:\n{notify}"),
            &[("DRIFT_CHECK_MATRIX_TOKEN", CANARY)],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(shown), "{shown}: {}", out.stderr);
    }
}
