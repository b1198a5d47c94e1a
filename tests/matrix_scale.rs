//! The Matrix sink at 100,000 findings, on the real Synapse and API server
//! (snapshot mode for the cluster): the message stays under its cap and
//! says how many, the full report goes along gzipped, the state fits one
//! ConfigMap, and an unchanged run posts nothing. The message as Chromium
//! renders it is `docs/matrix-100k-post.png` (`DRIFT_CHECK_RECORD_SAMPLE=1`).

use std::io::Read as _;

use serde_json::Value;

use crate::notify::screenshot;
use crate::util::matrix::{
    config, config_map_state, fixture_repo, notices_from, room_for, run, state_objects, synapse,
    unique,
};
use crate::util::{root, service};

/// Orphans added to the fixture platform's snapshot.
const ORPHANS: usize = 100_000;

/// The fixture snapshot plus `ORPHANS` ConfigMaps in `docs` that carry
/// Flux's labels of the `docs` Kustomization but are in no render.
fn snapshot_with_orphans(dir: &std::path::Path) -> std::path::PathBuf {
    let snapshot = dir.join("live");
    std::fs::create_dir_all(&snapshot).unwrap();
    for entry in std::fs::read_dir(root().join("fixtures/live/prod")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshot.join(entry.file_name())).unwrap();
    }
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..ORPHANS {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: tenant-{i:06}\n    namespace: docs\n    labels: {{app.kubernetes.io/managed-by: flux, kustomize.toolkit.fluxcd.io/name: docs, kustomize.toolkit.fluxcd.io/namespace: flux-system}}\n  data: {{index: \"{i}\"}}\n"
        ));
    }
    std::fs::write(snapshot.join("tenants.yaml"), text).unwrap();
    snapshot
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_at_100_000_findings_posts_a_capped_message_a_gzipped_report_and_keeps_one_config_map()
 {
    let Some(s) = synapse() else { return };
    let Some(kubeconfig) = service("DRIFT_CHECK_TEST_KUBECONFIG") else {
        return;
    };
    let Some(chromium) = service("DRIFT_CHECK_TEST_CHROMIUM") else {
        return;
    };
    let (bot, owner_token, room_id, room) = room_for(&s, "scale").await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot_with_orphans(dir.path());
    let name = unique("state-");
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"{room}\"\n    user: \"{bot}\"\n    stateConfigMap: default/{name}\n    maxMessageBytes: 45000\n",
            s.url
        ),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let args = ["--kubeconfig", kubeconfig.as_str()];
    let out = run(&cfg, &fixture_repo(), &snapshot, &args, &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = s.events(&owner_token, &room_id).await;
    let from_bot = notices_from(&events, &bot);
    assert_eq!(from_bot.len(), 2, "the notice and the report");
    let (file, notice) = (&from_bot[0]["content"], &from_bot[1]["content"]);
    let body = notice["body"].as_str().unwrap();
    let html = notice["formatted_body"].as_str().unwrap();
    assert!(
        body.len() + html.len() <= 45_000,
        "{}",
        body.len() + html.len()
    );
    let total = ORPHANS + 6;
    assert_eq!(
        body.lines().next().unwrap(),
        format!(
            "🔴 drift-check prod: {total} unexplained findings (2 missing or conflicting, 3 edited, {} orphaned) at main@sha1:7c1e9d4b2a86 · {total} new · 1 Kustomization suspended",
            ORPHANS + 1
        )
    );
    assert!(
        body.contains(&format!(
            "\n- 🔵 new · orphaned · {ORPHANS} ConfigMap objects in docs: tenant-000000, tenant-000001, tenant-000002, tenant-000003, tenant-000004, … and {} more · flux-system/docs · owner flux\n  labelled as applied by Kustomization flux-system/docs but in no render\n",
            ORPHANS - 5
        )),
        "identical orphans are one item: {body}"
    );
    assert!(
        body.ends_with(&format!(
            "The full report, every object by name, is attached ({}.gz).",
            crate::util::matrix::report_file(&out)
        )),
        "{}",
        &body[body.len().saturating_sub(300)..]
    );
    assert_eq!(
        file["body"],
        format!("{}.gz", crate::util::matrix::report_file(&out))
    );
    assert_eq!(file["info"]["mimetype"], "application/gzip");
    let mxc = file["url"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://")
        .unwrap();
    let gz = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{mxc}", s.url))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["summary"]["unexplained"], total);

    // The state: one ConfigMap, well under the API server's 1 MiB.
    let client = {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(config).unwrap()
    };
    let cm = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "default")
        .get(&name)
        .await
        .unwrap();
    let stored = cm.binary_data.as_ref().unwrap()["state.json.gz"].0.len();
    assert!(stored < 256 << 10, "{stored} bytes");
    let state = config_map_state(&cm);
    assert_eq!(state_objects(&state).len(), total);
    eprintln!("state of {total} findings: {stored} bytes of gzip in one ConfigMap");

    // Unchanged: nothing posted.
    let again = run(&cfg, &fixture_repo(), &snapshot, &args, &env);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("Nothing changed since the last post"),
        "{}",
        again.stderr
    );
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        2
    );

    // The message as a Matrix client shows it.
    let bytes = screenshot(&chromium, html, dir.path(), "post", (980, 1400));
    assert!(bytes.len() > 40_000, "a blank page? {} bytes", bytes.len());
    if std::env::var_os("DRIFT_CHECK_RECORD_SAMPLE").is_some() {
        std::fs::write(root().join("docs/matrix-100k-post.png"), &bytes).unwrap();
    }
}
