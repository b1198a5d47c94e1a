//! The Matrix sink's state under stress, on the real API server and Synapse
//! of the test setup: runs that write it at the same time, an API server
//! holding it that is down, a state too large or unreadable.

use serde_json::Value;

use crate::util::matrix::{
    Synapse, config, fixture_repo, fixture_snapshot, notices_from, room_for, run, state_objects,
    synapse, unique,
};
use crate::util::relay::Relay;
use crate::util::{Scratch, service};

/// A kube client of the test setup's API server.
async fn kube_client(kubeconfig: &str) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The findings of the two Kustomizations the concurrent runs check.
const DOCS_AND_MONITORING: [&str; 3] = [
    "Deployment/docs/docs-portal",
    "Deployment/monitoring/prometheus-server",
    "Secret/monitoring/alertmanager-matrix",
];

/// Where a trial keeps its state.
enum Store<'a> {
    File,
    ConfigMap { kubeconfig: &'a str },
}

/// Two `run`s at once, one checking `docs` and one `monitoring`, over the
/// same empty state, many times: each time both runs' findings are in the
/// state, and a third run checking both posts nothing (none is new again).
/// At least one trial of each store must have seen the other run's write
/// (the race this is about), or the test proves nothing.
async fn concurrent_runs_keep_both_findings(s: &Synapse, store: Store<'_>) {
    const TRIALS: usize = 6;
    let bot = s.register(&unique("bot"), "bot-pass", false);
    let owner = s.register(&unique("owner"), "owner-pass", false);
    let owner_token = s.login(&owner, "owner-pass").await;
    let alias = unique("race");
    let room_id = s.create_room(&owner_token, &alias, false).await;
    let mut merges = 0;
    for trial in 0..TRIALS {
        // A device per trial: the same message over the same (empty) state
        // has the same transaction id, which the homeserver dedupes per device.
        let bot_token = s.login(&bot, "bot-pass").await;
        let dir = tempfile::tempdir().unwrap();
        let name = unique("state-");
        let (location, args): (String, Vec<String>) = match &store {
            Store::File => ("stateFile: state.json".into(), vec![]),
            Store::ConfigMap { kubeconfig } => (
                format!("stateConfigMap: default/{name}"),
                vec!["--kubeconfig".into(), kubeconfig.to_string()],
            ),
        };
        let cfg = config(
            dir.path(),
            &format!(
                "  matrix:\n    homeserver: {}\n    room: \"#{alias}:localhost\"\n    user: \"{bot}\"\n    {location}\n",
                s.url
            ),
        );
        let runs: Vec<_> = ["docs", "monitoring"]
            .into_iter()
            .map(|k| {
                let (cfg, args, token) = (cfg.clone(), args.clone(), bot_token.clone());
                std::thread::spawn(move || {
                    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
                    args.extend(["--kustomization", k]);
                    let env = [("DRIFT_CHECK_MATRIX_TOKEN", token.as_str())];
                    run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &env)
                })
            })
            .collect();
        for r in runs {
            let out = r.join().unwrap();
            assert_eq!(out.code, 0, "trial {trial}: {}", out.stderr);
            merges += out
                .stderr
                .matches("Another run wrote the state meanwhile: merging")
                .count();
        }
        let state = match &store {
            Store::File => {
                serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap())
                    .unwrap()
            }
            Store::ConfigMap { kubeconfig } => config_map_state(kubeconfig, &name).await,
        };
        assert_eq!(
            state_objects(&state),
            DOCS_AND_MONITORING,
            "trial {trial}: {state:#}"
        );

        let posted = notices_from(&s.events(&owner_token, &room_id).await, &bot).len();
        assert_eq!(posted, 2 * (trial + 1), "trial {trial}: one post per run");
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--kustomization", "docs", "--kustomization", "monitoring"]);
        let env = [("DRIFT_CHECK_MATRIX_TOKEN", bot_token.as_str())];
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains("Nothing changed since the last post"),
            "trial {trial}: {}",
            out.stderr
        );
        let after = notices_from(&s.events(&owner_token, &room_id).await, &bot).len();
        assert_eq!(after, posted, "trial {trial}: nothing posted again");
    }
    assert!(merges > 0, "no trial raced: the runs never overlapped");
}

/// The state the ConfigMap `default/<name>` holds.
async fn config_map_state(kubeconfig: &str, name: &str) -> Value {
    let client = kube_client(kubeconfig).await;
    let cm = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "default")
        .get(name)
        .await
        .unwrap();
    crate::util::matrix::config_map_state(&cm)
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_sharing_a_state_config_map_lose_no_update() {
    let Some(s) = synapse() else { return };
    let Some(kubeconfig) = service("DRIFT_CHECK_TEST_KUBECONFIG") else {
        return;
    };
    concurrent_runs_keep_both_findings(
        &s,
        Store::ConfigMap {
            kubeconfig: &kubeconfig,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_sharing_a_state_file_lose_no_update() {
    let Some(s) = synapse() else { return };
    concurrent_runs_keep_both_findings(&s, Store::File).await;
}

/// A kubeconfig of the test setup's API server, reached through `relay`.
fn relayed_kubeconfig(kubeconfig: &str, relay: &Relay, dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .expect("a server line")
        .to_string();
    let path = dir.join("relayed.kubeconfig");
    std::fs::write(
        &path,
        text.replace(&server, &format!("127.0.0.1:{}", relay.port)),
    )
    .unwrap();
    path.display().to_string()
}

/// A run that could not check something (exit 2) is never silent, even when
/// the API server holding the state is down: the message goes out without
/// the state and says so; the sink fails. Once the state is back, the
/// problem is posted once and then not again, like any other.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_could_not_check_posts_without_the_state_when_its_api_server_is_down() {
    let Some(s) = synapse() else { return };
    let Some(kubeconfig) = service("DRIFT_CHECK_TEST_KUBECONFIG") else {
        return;
    };
    let upstream = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("server: https://")
                .map(str::to_string)
        })
        .unwrap();
    let mut relay = Relay::start(&upstream);
    let (bot, owner_token, room_id, room) = room_for(&s, "statedown").await;
    let dir = tempfile::tempdir().unwrap();
    let relayed = relayed_kubeconfig(&kubeconfig, &relay, dir.path());
    let name = unique("state-");
    let cfg = config(
        dir.path(),
        &format!(
            "  matrix:\n    homeserver: {}\n    room: \"{room}\"\n    user: \"{bot}\"\n    stateConfigMap: default/{name}\n    timeoutSeconds: 20\n",
            s.url
        ),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let args = ["--kubeconfig", relayed.as_str(), "--request-timeout", "3"];
    let broken = Scratch::new();
    broken.write(
        "live/prod/broken.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata: [unclosed\n",
    );

    relay.kill();
    let out = run(&cfg, &broken.repo(), &broken.snapshot(), &args, &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 1, "posted without the state: {}", out.stderr);
    let body = notices[0]["content"]["body"].as_str().unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("🔴 drift-check prod: 6 unexplained findings"),
        "{body}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "⚠️ The state of the last post could not be read (state ConfigMap default/{name}: "
        )) && lines[2].ends_with(
            "): everything below is shown as new, some of it may have been posted before."
        ),
        "{body}"
    );
    assert!(
        body.contains("- ⚠️ new · could not check stage live since "),
        "{body}"
    );
    let sink_error = out
        .stderr
        .lines()
        .find(|l| l.contains("Sink failed"))
        .expect("the sink fails");
    assert!(
        sink_error.contains("posted without the state of the last post, which was not saved either: state ConfigMap default/"),
        "{sink_error}"
    );

    // The state's API server is back: posted once with it, then not again.
    relay.resume();
    for _ in 0..2 {
        let out = run(&cfg, &broken.repo(), &broken.snapshot(), &args, &env);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(!out.stderr.contains("Sink failed"), "{}", out.stderr);
    }
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2, "once more, with the state, then nothing");
    assert!(
        !notices[0]["content"]["body"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{:#}",
        notices[0]
    );
    let state = config_map_state(&kubeconfig, &name).await;
    assert_eq!(state_objects(&state).len(), 6, "{state:#}");
    assert!(
        state["problems"]
            .as_object()
            .unwrap()
            .contains_key("could-not-check stage live"),
        "{state:#}"
    );

    // Checked again: its resolution, once.
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &args, &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 3);
    assert!(
        notices[0]["content"]["body"]
            .as_str()
            .unwrap()
            .contains("- ✅ resolved · stage live is checked again"),
        "{:#}",
        notices[0]
    );
}

/// The cluster cannot be reached: the headline is the cause, then what the
/// last post said was open and when — not the old findings as today's.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_checked_nothing_says_why_first_then_what_was_last_known() {
    let Some(s) = synapse() else { return };
    let (bot, owner_token, room_id, room) = room_for(&s, "down").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &crate::util::matrix::matrix_section(&s, &room, &bot, ""),
    );
    let env = [("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")];
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    let posted_at = state["posted_at"].as_str().unwrap().to_string();

    // A cluster whose API server is not there (a port nothing listens on).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let kubeconfig = dir.path().join("down.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: prod\n  context: {{cluster: c, user: u}}\ncurrent-context: prod\n"
        ),
    )
    .unwrap();
    let out = crate::util::TestCommand::new()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--repo")
        .arg(fixture_repo())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--request-timeout",
            "3",
            "-o",
            "json",
            "--log-format",
            "json",
        ])
        .envs(&env)
        .output();
    assert_eq!(out.code, 2, "{}", out.stderr);
    let notices = notices_from(&s.events(&owner_token, &room_id).await, &bot);
    assert_eq!(notices.len(), 2);
    let body = notices[0]["content"]["body"].as_str().unwrap();
    let lines: Vec<&str> = body.lines().take(2).collect();
    assert!(
        lines[0].starts_with(&format!(
            "⚠️ drift-check could not check prod: discover: list kustomize.toolkit.fluxcd.io/v1 kustomizations (API server https://127.0.0.1:{port}/): "
        )),
        "{body}"
    );
    assert_eq!(
        lines[1],
        format!(
            "last known (from {posted_at}): 6 open (2 missing or conflicting, 3 edited, 1 orphaned)"
        ),
        "{body}"
    );
    assert!(!body.contains("Resolved"), "{body}");
}
