//! An API server that cannot be used: unreachable, a rejected token, a type
//! the token may not list, a server that never answers or answers 500.

use super::*;

#[test]
fn an_unreachable_api_server_is_one_clear_error() {
    let Some(_) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n").unwrap();
    let started = std::time::Instant::now();
    let report = runtime().block_on(check(&args(&kubeconfig), DiffMode::Local));
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].stage, "discover");
    assert!(
        report.errors[0].message.contains("127.0.0.1:1"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_rejected_token_is_one_clear_error() {
    let Some(p) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&p.reader)
        .unwrap()
        .replace("readertoken", "expired-token");
    std::fs::write(&kubeconfig, text).unwrap();
    let report = runtime().block_on(check(&args(&kubeconfig), DiffMode::Local));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].message.contains("(401)"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_type_the_token_may_not_list_is_an_error_and_the_rest_is_checked() {
    let Some(p) = platform() else { return };
    let report = runtime().block_on(check(&args(&p.partial), DiffMode::Local));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    let error = &report.errors[0];
    assert_eq!(error.stage, "live");
    assert!(
        error
            .message
            .starts_with("list v1 secrets: Forbidden (403): "),
        "{}",
        error.message
    );
    // The Kustomization that renders a Secret was not fully checked: its
    // own error, never "in sync".
    let per_kustomization = &report.errors[1];
    assert_eq!(
        (
            per_kustomization.kustomization.as_deref(),
            per_kustomization.stage.as_str(),
            per_kustomization.message.as_str()
        ),
        (
            Some("flux-system/monitoring"),
            "live",
            "could not check: v1 secrets forbidden"
        )
    );
    let entry = report
        .kustomizations
        .iter()
        .find(|k| k.name == "monitoring")
        .unwrap();
    assert_eq!(
        entry.error.as_deref(),
        Some("could not check: v1 secrets forbidden")
    );
    let mut want = expected();
    want.retain(|row| !row.1.starts_with("Secret/"));
    assert_eq!(
        summary(&report),
        want,
        "a Secret that could not be read is neither missing nor in sync"
    );
}

/// A kubeconfig for a plain-HTTP server on 127.0.0.1.
fn kubeconfig_for(port: u16, dir: &std::path::Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n\
         users: [{{name: u, user: {{token: x}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_server_that_never_answers_times_out_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and hold them open without answering.
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(8) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(&kubeconfig_for(port, dir.path()));
    a.request_timeout = Some(2);
    let started = std::time::Instant::now();
    let report = runtime().block_on(check(&a, DiffMode::Local));
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].message.contains("no answer within 2 s"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_server_error_is_reported_with_its_status() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request timed out","reason":"InternalError","code":500}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let report = runtime().block_on(check(
        &args(&kubeconfig_for(port, dir.path())),
        DiffMode::Local,
    ));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        report.errors[0].message,
        "list kustomize.toolkit.fluxcd.io/v1 kustomizations: InternalError (500): etcdserver: request timed out"
    );
}
