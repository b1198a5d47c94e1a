//! The Matrix state across runs: in a ConfigMap on the API server, changed
//! findings, failing and resumed Kustomizations, a run that could not check.

use super::*;

/// The CronJob's store: the state in a ConfigMap on the real API server
/// (started by `scripts/test`), written by server-side apply and read back.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_state_in_a_config_map_on_the_api_server_stops_repeats() {
    let Some(s) = synapse() else { return };
    let Some(kubeconfig) = service("DRIFT_CHECK_TEST_KUBECONFIG") else {
        return;
    };
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("cm");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let bot_token = s.login(&bot, "bot-pass").await;
    let name = unique("state-");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"#{alias}:localhost\"\n    user: \"{bot}\"\n    stateConfigMap: default/{name}\n",
            s.url
        ),
    );
    let env = [("DRIFT_CHECK_MATRIX_TOKEN", bot_token.as_str())];
    let args = ["--kubeconfig", kubeconfig.as_str()];
    for _ in 0..2 {
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        1
    );

    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let cm = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "default")
        .get(&name)
        .await
        .unwrap();
    let state = crate::util::matrix::config_map_state(&cm);
    assert_eq!(state["version"], 2, "{state:#}");
    let objects = crate::util::matrix::state_objects(&state);
    assert_eq!(objects.len(), 6, "{state:#}");
    assert!(objects.contains(&"ClusterRoleBinding/system:konnectivity-server".to_string()));
    assert!(!state.to_string().contains("hunter2"));
    assert!(
        cm.metadata
            .managed_fields
            .unwrap()
            .iter()
            .any(|m| m.manager.as_deref() == Some("drift-check"))
    );
}

/// The `since` of the one entry of the state file's `section` (`findings`,
/// `problems`) that `pick` chooses.
pub(super) fn since_in_state(dir: &Path, section: &str, pick: impl Fn(&Value) -> bool) -> String {
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    let found: Vec<&Value> = state[section]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| pick(v))
        .collect();
    assert_eq!(found.len(), 1, "{state:#}");
    found[0]["since"].as_str().unwrap().to_string()
}

/// The fixtures with docs-portal scaled again by hand: 5 → 0, a later `kubectl edit`.
pub(super) fn scratch_scaled_to_zero() -> Scratch {
    let scratch = Scratch::new();
    let docs = "live/prod/docs.yaml";
    scratch.edit(docs, "    replicas: 5\n", "    replicas: 0\n");
    scratch.edit(
        docs,
        "      manager: kubectl-edit\n      operation: Update\n      time: \"2026-11-20T08:15:00Z\"",
        "      manager: kubectl-edit\n      operation: Update\n      time: \"2026-11-24T09:00:00Z\"",
    );
    scratch
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_new_edit_to_a_reported_field_is_posted_as_changed_with_links_then_nothing() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "changed").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, LINKS));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let first = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);

    let scratch = scratch_scaled_to_zero();
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(
        notices.len(),
        2,
        "the change once, then nothing: {notices:#?}"
    );
    let content = &notices[0]["content"];
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    assert_eq!(
        content["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 1 changed · 5 still open · 1 Kustomization suspended\n\
         \n\
         ⚠️ Suspended\n\
         - ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
         \n\
         🟠 Declared fields edited in the cluster\n\
         - 🟠 changed: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z · modified · Deployment/docs/docs-portal · flux-system/docs · owner flux\n  \
         spec.replicas: 2 → 0 by kubectl-edit\n  \
         spec.template.spec.containers[docs-portal].env[DEBUG_TOOLBAR]: added {{\"name\":\"DEBUG_TOOLBAR\",\"value\":\"true\"}} by kubectl-set\n  \
         who: kubectl-edit at 2026-11-24T09:00:00Z, kubectl-set at 2026-11-21T10:02:00Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
         remedy: revert the manual change and make it through a git PR to ./infra/k8s/docs\n  \
         git: https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\n\
         \n\
         Still open (5):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
        )
    );
    let html = content["formatted_body"].as_str().unwrap();
    assert!(html.starts_with("<p><strong>🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned)</strong> at <a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"><code>main@sha1:7c1e9d4b2a86</code></a> · 1 changed · 5 still open · 1 Kustomization suspended</p>\n"), "{html}");
    assert!(html.contains("<li>🟠 <strong>changed: spec.replicas was 5 by kubectl-edit at 2026-11-20T08:15:00Z</strong> · modified · <code>Deployment/docs/docs-portal</code> · <a href=\"https://git.planapulse.com/plana-pulse/infra/src/commit/7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17/infra/k8s/docs\">flux-system/docs</a> · owner flux\n<ul>\n<li><code>spec.replicas</code>: <code>2</code> → <code>0</code> by kubectl-edit</li>\n"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_failing_and_resumed_kustomizations_are_posted_once_each() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "failing").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    assert_eq!(
        run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );

    // crossplane resumed; docs failing in Flux.
    let scratch = Scratch::new();
    let flux = "live/prod/flux-system.yaml";
    scratch.edit(flux, "    suspend: true\n", "    suspend: false\n");
    scratch.edit(
        flux,
        "    - lastTransitionTime: \"2026-11-10T09:14:31Z\"\n      message: \"Applied revision: main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17\"\n      observedGeneration: 1\n      reason: ReconciliationSucceeded\n      status: \"True\"",
        "    - lastTransitionTime: \"2026-11-29T03:00:00Z\"\n      message: \"kustomize build failed: <b>accumulating resources</b>\"\n      observedGeneration: 1\n      reason: BuildFailed\n      status: \"False\"",
    );
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "posted once: {notices:#?}");
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    let still_open = format!(
        "- 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    // Resumed, crossplane's own drift is no longer explained by the suspension.
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 7 unexplained findings (2 missing or conflicting, 4 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 1 new · 6 still open · 1 Kustomization failing\n\
             \n\
             ⚠️ Failing, suspended\n\
             - ❌ new · Kustomization flux-system/docs is failing since 2026-11-29T03:00:00Z: BuildFailed: kustomize build failed: <b>accumulating resources</b>\n\
             - ▶️ resumed · Kustomization flux-system/crossplane (suspended since 2026-11-22T17:40:00Z)\n\
             \n\
             🟠 Declared fields edited in the cluster\n\
             - 🟠 new · modified · Composition/planaclient-v18 · flux-system/crossplane · owner flux\n  \
             spec.resources[0].base.spec.rules[0].backendRefs[0].port: 8080 → 8443 by kubectl-client-side-apply\n  \
             who: kubectl-client-side-apply at 2026-11-22T17:52:36Z — field managers name clients, not people; the API server's audit log names the user (of each write at the time shown, of the delete of a missing object)\n  \
             remedy: revert the manual change and make it through a git PR to ./infra/k8s/crossplane\n\
             \n\
             Still open (6):\n\
             {still_open}"
        )
    );
    assert!(
        notices[0]["content"]["formatted_body"]
            .as_str()
            .unwrap()
            .contains("kustomize build failed: &lt;b&gt;accumulating resources&lt;/b&gt;"),
        "{}",
        notices[0]["content"]["formatted_body"]
    );

    // Ready again, and suspended again: crossplane's drift is paused, not resolved.
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 3);
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 paused while suspended · 1 Kustomization suspended\n\
             \n\
             ⚠️ Failing, suspended\n\
             - ⏸️ new · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`\n\
             - ✅ Ready again · Kustomization flux-system/docs (failing since 2026-11-29T03:00:00Z)\n\
             \n\
             Still open (6):\n\
             {still_open}\n\
             \n\
             ⏸️ Paused while suspended (1):\n\
             - 🟠 paused · Composition/planaclient-v18 · modified · flux-system/crossplane · open since 2026-11-22T17:52:36Z"
        )
    );

    // Still suspended: nothing to say. Resumed: its drift is open as before, not new.
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        notices_from(&s.events(&owner_token, &room_id).await, &bot).len(),
        3
    );
    let resumed = Scratch::new();
    resumed.edit(flux, "    suspend: true\n", "    suspend: false\n");
    let out = run(&cfg, &resumed.repo(), &resumed.snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 4);
    let body = notices[0]["content"]["body"].as_str().unwrap();
    assert!(
        body.starts_with("🔴 drift-check prod: 7 unexplained findings (2 missing or conflicting, 4 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 7 still open\n"),
        "{body}"
    );
    assert!(
        body.contains("- ▶️ resumed · Kustomization flux-system/crossplane (suspended since 2026-11-22T17:40:00Z)"),
        "{body}"
    );
    assert!(
        body.contains("- 🟠 Composition/planaclient-v18 · modified · flux-system/crossplane · since 2026-11-22T17:52:36Z"),
        "its first since: {body}"
    );
    assert!(!body.contains(" new "), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_a_run_that_could_not_check_posts_it_once_then_its_resolution() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "errors").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &matrix_section(&s, &room, &bot, ""));
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    assert_eq!(
        run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env).code,
        0
    );

    let scratch = Scratch::new();
    scratch.write(
        "live/prod/broken.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata: [unclosed\n",
    );
    for _ in 0..2 {
        let out = run(&cfg, &scratch.repo(), &scratch.snapshot(), &[], &env);
        assert_eq!(out.code, 2, "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "posted once: {notices:#?}");
    let missing_since = since_in_state(dir.path(), "findings", |f| f["drift"] == "missing");
    let error_since = since_in_state(dir.path(), "problems", |p| p["kustomization"].is_null());
    let still_open = format!(
        "Still open (6):\n\
         - 🔴 ClusterRoleBinding/system:konnectivity-server · missing · flux-system/rbac-system · since {missing_since}\n\
         - 🔴 HTTPRoute/tenants/acme-portal · conflict · flux-system/platform-routes · since 2026-11-21T22:04:13Z\n\
         - 🟠 Deployment/docs/docs-portal · modified · flux-system/docs · since 2026-11-20T08:15:00Z\n\
         - 🟠 Deployment/monitoring/prometheus-server · modified · flux-system/monitoring · since 2026-11-24T13:20:00Z\n\
         - 🟠 Secret/monitoring/alertmanager-matrix · modified · flux-system/monitoring · since 2026-11-23T06:55:00Z\n\
         - 🔵 NetworkPolicy/docs/allow-debug-ingress · orphaned · flux-system/network-policies · since 2026-11-19T16:05:12Z"
    );
    let suspended = "- ⏸️ still · Kustomization flux-system/crossplane is suspended since 2026-11-22T17:40:00Z: resume it with `flux resume kustomization crossplane -n flux-system`";
    // Nothing resolved by a run that could not read the cluster's state.
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · could not check stage live · 1 Kustomization suspended\n\
             \n\
             ⚠️ Could not check, suspended\n\
             - ⚠️ new · could not check stage live since {error_since}: {}: unclosed bracket '[' at line 5, column 13\n\
             {suspended}\n\
             \n\
             {still_open}",
            scratch.snapshot().join("broken.yaml").display()
        )
    );

    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 3);
    assert_eq!(
        notices[0]["content"]["body"],
        format!(
            "🔴 drift-check prod: 6 unexplained findings (2 missing or conflicting, 3 edited, 1 orphaned) at main@sha1:7c1e9d4b2a86 · 6 still open · 1 Kustomization suspended\n\
             \n\
             ⚠️ Could not check, suspended\n\
             {suspended}\n\
             - ✅ resolved · stage live is checked again (could not be since {error_since})\n\
             \n\
             {still_open}"
        )
    );
}
