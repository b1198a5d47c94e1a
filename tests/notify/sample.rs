//! The sample post (read back from Synapse, rendered by Chromium, shown in
//! the README), the first format of the state, the HTML page with every post.

use super::*;

/// The page a screenshot is taken of: the message as a Matrix client shows
/// an `m.notice` (sender, then the HTML body), nothing else.
const SAMPLE_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; background: #ffffff; font-family: "DejaVu Sans", sans-serif; font-size: 14px; color: #17191c; }
.event { margin: 16px 20px; padding-left: 52px; position: relative; line-height: 1.45; }
.avatar { position: absolute; left: 0; top: 0; width: 36px; height: 36px; border-radius: 50%; background: #0dbd8b;
  color: #fff; font-weight: bold; text-align: center; line-height: 36px; }
.sender { color: #0dbd8b; font-weight: bold; margin-bottom: 2px; }
.notice { color: #5c6470; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; background: #f2f4f6; border-radius: 3px; padding: 0 3px; color: #17191c; }
h4 { margin: 12px 0 2px; color: #17191c; }
ul { margin: 2px 0; padding-left: 20px; }
a { color: #0086e6; text-decoration: none; }
p { margin: 0 0 4px; }
</style></head><body><div class="event"><div class="avatar">d</div><div class="sender">drift-check</div>
<div class="notice">BODY</div></div></body></html>
"#;

/// The Matrix message's `html` as a client shows it (in [`SAMPLE_PAGE`]),
/// screenshotted by headless Chromium at `width`×`height` into
/// `dir/<name>.png`: its bytes, checked to be a PNG.
pub(crate) fn screenshot(
    chromium: &str,
    html: &str,
    dir: &Path,
    name: &str,
    (width, height): (u32, u32),
) -> Vec<u8> {
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, SAMPLE_PAGE.replace("BODY", html)).unwrap();
    let png = dir.join(format!("{name}.png"));
    let mut chrome = Command::new(chromium);
    chrome
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    let shot = run_within(chrome, Duration::from_secs(90));
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    bytes
}

/// Runs `program` to its end, or kills it after `limit`.
fn run_within(mut command: Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the program starts");
    let id = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("it runs"));
    let deadline = std::time::Instant::now() + limit;
    while !waiter.is_finished() {
        if std::time::Instant::now() > deadline {
            // Our own child, by its pid.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("{command:?} took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiter.join().unwrap()
}

/// The README's sample post: the fixture platform's first run, with links as
/// its Forgejo serves them, read back from Synapse (`body` and
/// `formatted_body` exactly as `fixtures/matrix/sample-post.*`), and the
/// HTML as headless Chromium renders it. `DRIFT_CHECK_RECORD_SAMPLE=1`
/// records the texts and `docs/matrix-sample-post.png` after an intended change.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_sample_post_renders_in_headless_chromium() {
    let Some(s) = synapse() else { return };
    let Some(chromium) = service("DRIFT_CHECK_TEST_CHROMIUM") else {
        return;
    };
    let (bot, owner_token, room_id, room) = room_for(&s, "sample").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    let body = notices[0]["content"]["body"].as_str().unwrap();
    let html = notices[0]["content"]["formatted_body"].as_str().unwrap();
    let record = std::env::var_os("DRIFT_CHECK_RECORD_SAMPLE").is_some();
    for (file, text) in [
        ("fixtures/matrix/sample-post.txt", body),
        ("fixtures/matrix/sample-post.html", html),
    ] {
        let path = root().join(file);
        if record {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        assert_eq!(
            text,
            std::fs::read_to_string(&path).unwrap(),
            "{file} (DRIFT_CHECK_RECORD_SAMPLE=1 records it after an intended change)"
        );
    }
    assert!(body.starts_with(&FIRST_BODY[..FIRST_BODY.find('\n').unwrap()]));

    let (width, height) = (980u32, 1140u32);
    let bytes = screenshot(&chromium, html, dir.path(), "sample-post", (width, height));
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (width, height));
    // A blank page compresses to a few KiB; text, code spans and emoji do not.
    assert!(bytes.len() > 40_000, "a blank page? {} bytes", bytes.len());
    if record {
        let docs = root().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("matrix-sample-post.png"), &bytes).unwrap();
    }
}

/// An upgrade: the state an earlier version wrote (`open`, by the fingerprint
/// of the changed paths) is read and migrated; its findings are not posted
/// again, only what it did not track (the suspension), and the state is
/// rewritten in the new format.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_state_of_the_first_format_does_not_repost_its_findings() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "upgrade").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let open: serde_json::Map<String, Value> = [
        ("flux-system/docs", "Deployment/docs/docs-portal", "modified"),
        ("flux-system/monitoring", "Secret/monitoring/alertmanager-matrix", "modified"),
        ("flux-system/monitoring", "Deployment/monitoring/prometheus-server", "modified"),
        ("flux-system/network-policies", "NetworkPolicy/docs/allow-debug-ingress", "orphaned"),
        ("flux-system/platform-routes", "HTTPRoute/tenants/acme-portal", "conflict"),
        ("flux-system/rbac-system", "ClusterRoleBinding/system:konnectivity-server", "missing"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (ks, object, drift))| {
        (
            format!("{i:064x}"),
            json!({"since": "2026-11-24T02:00:05Z", "kustomization": ks, "object": object, "drift": drift}),
        )
    })
    .collect();
    std::fs::write(
        dir.path().join("state.json"),
        serde_json::to_vec(&json!({"posted_at": "2026-11-24T02:00:05Z", "open": open})).unwrap(),
    )
    .unwrap();
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(
        notices[0]["content"]["body"],
        "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 Kustomization suspended\n\
         \n\
         ⚠️ Suspended\n\
         - ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
         \n\
         Still open (6):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since 2026-11-24T02:00:05Z\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T02:00:05Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 2);
    assert!(state.get("open").is_none(), "{state:#}");
    assert_eq!(state["findings"].as_object().unwrap().len(), 6, "{state:#}");
}

#[test]
fn the_readme_shows_the_sample_post_the_test_above_reads_back_from_synapse() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let sample = std::fs::read_to_string(root().join("fixtures/matrix/sample-post.txt")).unwrap();
    assert!(
        readme.contains(&format!("```text\n{sample}\n```")),
        "README.md's Matrix sample is not fixtures/matrix/sample-post.txt"
    );
    assert!(readme.contains(
        "![The first post on the fixture platform, rendered](docs/matrix-sample-post.png)"
    ));
    assert!(root().join("docs/matrix-sample-post.png").is_file());
}

/// Every post carries the run's HTML page, `drift-check-<cluster>-<UTC
/// date>.html`: the same report, links from the sink's templates, and the
/// open findings' ages from the Matrix state (the missing binding has no
/// change time: its "since" is the state's, the time of the post). A run
/// that posts nothing attaches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_every_post_carries_the_html_page() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "page").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let mut started_at = String::new();
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        if started_at.is_empty() {
            let report: Value = serde_json::from_str(&out.stdout).unwrap();
            started_at = report["run"]["started_at"].as_str().unwrap().to_string();
        }
    }
    let events = s.events(&owner_token, &room_id).await;
    let pages: Vec<&Value> = events.iter().filter(|e| is_page(e)).collect();
    assert_eq!(pages.len(), 1, "one post, one page: {pages:#?}");
    let content = &pages[0]["content"];
    assert_eq!(
        content["body"],
        format!("drift-check-prod-{}.html", &started_at[..10])
    );
    assert_eq!(content["info"]["mimetype"], "text/html; charset=utf-8");
    let mxc = content["url"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://")
        .unwrap();
    let page = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{mxc}", s.url))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains(
        "drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at"
    ));
    assert!(page.contains(
        "<a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\" rel=\"noopener noreferrer\">flux-system/docs</a>"
    ));
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    assert!(
        page.contains(&format!(
            "<td><code>ClusterRoleBinding/system:konnectivity-server</code></td><td><a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/rbac-system\" rel=\"noopener noreferrer\">flux-system/rbac-system</a></td><td>—</td><td>{missing_since} (under 1 h)</td>"
        )),
        "{page}"
    );
    for secret in SECRET_VALUES {
        assert!(!page.contains(secret), "the page holds {secret}");
    }
}
