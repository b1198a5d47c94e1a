//! A sharded run for real: job/components/sharded's CronJob on the test
//! API server, an Indexed Job made from it (its pods stay Pending: no
//! kubelet), and its shards — the binary, run as local processes with
//! `JOB_COMPLETION_INDEX=0..N-1`, the job's ServiceAccount token and the
//! Job's name, as the pods would run — checking a fleet of real API servers
//! (tests/cluster/fleet.rs's two, under several names, one down, one that
//! hangs). Their results and Lease live on the test API server; the merger
//! posts to the real Synapse and pushes to the real pushgateway.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use drift_check::fleet::shard::{Fanin, Role, Shard, ShardResult, ShardSettings, encode, shard_of};
use drift_check::k8s::client::ClusterOptions;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;

use super::fleet::{down, servers};
use super::job_run::{NAMESPACE, job_from};
use super::*;
use crate::util::matrix::{notices_from, room_for, synapse, unique};

const SHARDS: u32 = 3;

/// job/components/sharded on the test API server: its Role and RoleBinding,
/// and its CronJob as `drift-check-sharded`, next to job/'s own.
pub(super) async fn sharded_cronjob(client: &Client) -> CronJob {
    let resources = Resources::new(client).await;
    for mut object in crate::packaging::job_objects_with(&["components/sharded"]) {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        match object["kind"].as_str().unwrap() {
            "CronJob" => object["metadata"]["name"] = json!("drift-check-sharded"),
            "Role" | "RoleBinding" if name == "drift-check-shards" => {}
            _ => continue,
        }
        drift_check::diff::normalize::desired(&mut object);
        apply(client, &resources, &object, "kustomize-controller").await;
    }
    Api::<CronJob>::namespaced(client.clone(), NAMESPACE)
        .get("drift-check-sharded")
        .await
        .unwrap()
}

/// An Indexed Job of `n` shards from the sharded CronJob, as the CronJob
/// controller would make it.
async fn indexed_job(client: &Client, n: u32) -> Job {
    let cronjob = sharded_cronjob(client).await;
    let mut job = job_from(&cronjob, &unique("sharded-"));
    let spec = job.spec.as_mut().unwrap();
    spec.completions = Some(n as i32);
    spec.parallelism = Some(n as i32);
    let env = spec.template.spec.as_mut().unwrap().containers[0]
        .env
        .as_mut()
        .unwrap();
    env.iter_mut()
        .find(|v| v.name == "DRIFT_CHECK_SHARDS")
        .unwrap()
        .value = Some(n.to_string());
    Api::<Job>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &job)
        .await
        .unwrap()
}

/// The job's ServiceAccount token in a kubeconfig whose namespace is the
/// job's (a pod's default namespace).
fn hub_kubeconfig(p: &Platform, dir: &Path) -> PathBuf {
    let kubeconfig = job_kubeconfig(p, dir);
    let mut file = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    for context in &mut file.contexts {
        context.context.as_mut().unwrap().namespace = Some(NAMESPACE.into());
    }
    std::fs::write(&kubeconfig, serde_json::to_string(&file).unwrap()).unwrap();
    kubeconfig
}

/// An empty result of shard `index` of `count`.
fn empty_result(index: u32, count: u32) -> Vec<u8> {
    let result = ShardResult {
        schema: "drift-check/shard/v1".into(),
        index,
        count,
        started_at: "2026-12-08T02:30:00Z".into(),
        clusters: vec![],
    };
    encode(&result, 1 << 20).unwrap()
}

/// Shards `indexes` of `count` report at once; each then waits as a pod
/// does. Returns their roles by index.
async fn shards_report(
    hub: &Path,
    job: &str,
    count: u32,
    indexes: &[u32],
    wait: Duration,
) -> Vec<(u32, Role)> {
    let options = ClusterOptions {
        kubeconfig: Some(hub.to_path_buf()),
        timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let tasks = indexes.iter().map(|&index| {
        let options = options.clone();
        let settings = ShardSettings {
            shard: Shard { index, count },
            job: job.to_string(),
            wait,
        };
        tokio::spawn(async move {
            let fanin = Fanin::connect(&options, &settings).await.unwrap();
            let role = match fanin.report(&empty_result(index, count)).await.unwrap() {
                Some(role) => role,
                None => fanin.wait().await.unwrap(),
            };
            (index, role)
        })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn mergers(roles: &[(u32, Role)]) -> Vec<(u32, BTreeSet<u32>)> {
    roles
        .iter()
        .filter_map(|(i, r)| match r {
            Role::Merger { reported } => Some((*i, reported.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn concurrent_shards_name_exactly_one_merger_on_the_lease() {
    let Some(p) = platform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_kubeconfig(p, dir.path());
    runtime().block_on(async {
        let client = client(&p.admin).await;
        // All eight report at once: the one completing the set merges.
        let job = indexed_job(&client, 8).await;
        let name = job.metadata.name.clone().unwrap();
        let roles = shards_report(
            &hub,
            &name,
            8,
            &(0..8).collect::<Vec<_>>(),
            Duration::from_secs(60),
        )
        .await;
        let merged = mergers(&roles);
        assert_eq!(merged.len(), 1, "{roles:?}");
        assert_eq!(merged[0].1, (0..8).collect());
        let merger = merged[0].0;
        assert!(
            roles
                .iter()
                .all(|(i, r)| *i == merger || *r == Role::Done { merger }),
            "{roles:?}"
        );
        // What they wrote is the Job's: deleted with it.
        let uid = job.metadata.uid.clone().unwrap();
        let lease: Lease = Api::namespaced(client.clone(), NAMESPACE)
            .get(&Fanin::lease_name(&name))
            .await
            .unwrap();
        let cm: ConfigMap = Api::namespaced(client.clone(), NAMESPACE)
            .get(&Fanin::result_name(&name, 7))
            .await
            .unwrap();
        for meta in [&lease.metadata, &cm.metadata] {
            let owner = &meta.owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.uid.as_str()),
                ("Job", uid.as_str())
            );
        }
        assert_eq!(
            lease.spec.unwrap().holder_identity,
            Some(format!("shard-{merger}"))
        );

        // Shard 5 never runs: at the deadline exactly one waiting shard
        // names itself, over the seven that reported; 5 is late after.
        let job = indexed_job(&client, 8).await;
        let name = job.metadata.name.clone().unwrap();
        let seven: Vec<u32> = (0..8).filter(|i| *i != 5).collect();
        let started = std::time::Instant::now();
        let roles = shards_report(&hub, &name, 8, &seven, Duration::from_secs(3)).await;
        assert!(started.elapsed() >= Duration::from_secs(3));
        let merged = mergers(&roles);
        assert_eq!(merged.len(), 1, "{roles:?}");
        assert_eq!(merged[0].1, seven.iter().copied().collect());
        let merger = merged[0].0;
        let late = shards_report(&hub, &name, 8, &[5], Duration::from_secs(3)).await;
        assert_eq!(late, [(5, Role::Late { merger })]);
        let options = ClusterOptions {
            kubeconfig: Some(hub.clone()),
            timeout: Duration::from_secs(20),
            ..Default::default()
        };
        let settings = ShardSettings {
            shard: Shard {
                index: merger,
                count: 8,
            },
            job: name.clone(),
            wait: Duration::from_secs(3),
        };
        let fanin = Fanin::connect(&options, &settings).await.unwrap();
        let results = fanin.results(&merged[0].1).await;
        assert!(results.values().all(Result::is_ok), "{results:?}");

        // --shards that is not the Job's completions: refused, not guessed.
        let wrong = ShardSettings {
            shard: Shard { index: 0, count: 4 },
            ..settings
        };
        let e = Fanin::connect(&options, &wrong).await.err().unwrap();
        assert!(
            e.to_string()
                .contains("has Some(8) completions, not --shards 4"),
            "{e}"
        );
    });
}

/// A fleet config over the two API servers under several names, with
/// `notify:`; `asleep` reaches `asleep_kubeconfig`.
fn fleet_config(dir: &Path, names: &[&str], asleep_kubeconfig: &Path, notify: &str) -> PathBuf {
    let (clean, drifted) = servers().unwrap();
    let mut text = String::from("clusters:\n");
    for name in names {
        let kubeconfig = match *name {
            "sharded-down" => down(dir),
            "sharded-asleep" => asleep_kubeconfig.to_path_buf(),
            n if n.contains("-us") => drifted.clone(),
            _ => clean.clone(),
        };
        text.push_str(&format!(
            "  - {{name: {name}, kubeconfig: {}, labels: {{shard: \"{}\"}}}}\n",
            kubeconfig.display(),
            shard_of(name, SHARDS)
        ));
    }
    let path = dir.join("fleet.yaml");
    std::fs::write(
        &path,
        format!("{text}clustersInFlight: 2\nnotify:\n{notify}"),
    )
    .unwrap();
    path
}

/// A kubeconfig of a server that accepts connections and never answers
/// (the listener is kept by the caller).
fn asleep(dir: &Path) -> (std::net::TcpListener, PathBuf) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = dir.join("asleep.kubeconfig");
    std::fs::write(&path, format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n")).unwrap();
    (listener, path)
}

/// `drift-check run` of the fleet config, as a pod of the Indexed Job runs
/// it (`index: None`: unsharded, `check`).
fn shard(config: &Path, hub: &Path, job: &str, index: Option<u32>, wait: u64) -> TestCommand {
    let mut command = TestCommand::new();
    command
        .arg(if index.is_some() { "run" } else { "check" })
        .arg("--config")
        .arg(config)
        .arg("--repo")
        .arg(root().join("tests/cluster/scope-repo"))
        .args([
            "--source",
            "flux-system/cilium-infra",
            "-k",
            "tenant-sandbox",
        ])
        .args([
            "--request-timeout",
            "20",
            "-o",
            "json",
            "--log-format",
            "json",
        ])
        .arg("--kubeconfig")
        .arg(hub)
        .env("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass");
    if let Some(index) = index {
        command
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("DRIFT_CHECK_SHARDS", SHARDS.to_string())
            .env("DRIFT_CHECK_SHARD_JOB", job)
            .env("DRIFT_CHECK_SHARD_WAIT", wait.to_string());
    }
    command
}

/// The shards `indexes`, at once, each to its end.
fn run_shards(
    config: &Path,
    hub: &Path,
    job: &str,
    indexes: &[u32],
    wait: u64,
) -> Vec<(u32, crate::util::Output)> {
    std::thread::scope(|s| {
        let running: Vec<_> = indexes
            .iter()
            .map(|&i| {
                (
                    i,
                    s.spawn(move || {
                        shard(config, hub, job, Some(i), wait)
                            .output_within(Duration::from_secs(180))
                    }),
                )
            })
            .collect();
        running
            .into_iter()
            .map(|(i, t)| (i, t.join().unwrap()))
            .collect()
    })
}

/// The one shard that printed the fleet's report; the others exit 0, silent.
fn merged_of(outs: &[(u32, crate::util::Output)]) -> (u32, &crate::util::Output) {
    let printed: Vec<_> = outs.iter().filter(|(_, o)| !o.stdout.is_empty()).collect();
    assert_eq!(
        printed.len(),
        1,
        "one merger: {:?}",
        outs.iter()
            .map(|(i, o)| (i, o.code, &o.stderr))
            .collect::<Vec<_>>()
    );
    for (i, o) in outs.iter().filter(|(i, _)| *i != printed[0].0) {
        assert_eq!(o.code, 0, "shard {i}: {}", o.stderr);
    }
    (printed[0].0, &printed[0].1)
}

/// The report without what differs between two runs: when, and run ids.
fn without_timings(mut json: Value) -> Value {
    json["run"] = Value::Null;
    for c in json["clusters"].as_array_mut().unwrap() {
        if c["report"].is_object() {
            for key in ["id", "started_at", "finished_at"] {
                c["report"]["run"][key] = Value::Null;
            }
        }
    }
    json
}

fn statuses(json: &Value) -> Vec<(String, String, String)> {
    json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn shards_of_an_indexed_job_merge_into_the_unsharded_report_and_post_once() {
    let (Some(p), Some(_), Some(synapse)) = (platform(), servers(), synapse()) else {
        return;
    };
    let names = [
        "sharded-eu",
        "sharded-us",
        "sharded-down",
        "sharded-eu-3",
        "sharded-us-2",
        "sharded-us-3",
    ];
    // Each shard checks at least one cluster.
    let owners: BTreeSet<u32> = names.iter().map(|n| shard_of(n, SHARDS)).collect();
    assert_eq!(owners, (0..SHARDS).collect());
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_kubeconfig(p, dir.path());
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let job = indexed_job(&client, SHARDS).await.metadata.name.unwrap();
        let (bot, owner_token, room_id, alias) = room_for(&synapse, "sharded").await;
        let notify = crate::util::matrix::matrix_section(&synapse, &alias, &bot, "");
        let config = fleet_config(dir.path(), &names, &down(dir.path()), &notify);

        let outs = run_shards(&config, &hub, &job, &[0, 1, 2], 600);
        let (_, merger) = merged_of(&outs);
        assert_eq!(
            merger.code, 2,
            "sharded-down could not be checked: {}",
            merger.stderr
        );
        let merged: Value = serde_json::from_str(&merger.stdout).unwrap();
        let unsharded = shard(&config, &hub, &job, None, 0).output();
        assert_eq!(unsharded.code, 2, "{}", unsharded.stderr);
        let unsharded: Value = serde_json::from_str(&unsharded.stdout).unwrap();
        assert_eq!(without_timings(merged.clone()), without_timings(unsharded));
        let drift: Vec<&str> = statuses(&merged)
            .iter()
            .filter(|(_, s, _)| s == "drift")
            .map(|(n, _, _)| names.iter().find(|x| *x == n).copied().unwrap())
            .collect();
        assert_eq!(drift, ["sharded-us", "sharded-us-2", "sharded-us-3"]);

        let events = synapse.events(&owner_token, &room_id).await;
        let notices = notices_from(&events, &bot);
        assert_eq!(notices.len(), 1, "one message for the fleet: {notices:#?}");
        let body = notices[0]["content"]["body"].as_str().unwrap();
        assert!(
            body.contains(
                "fleet of 6 clusters: 5 checked, 1 could not check, 3 with unexplained drift"
            ),
            "{body}"
        );
    });
}

#[test]
fn a_shard_killed_mid_run_leaves_its_clusters_could_not_check_never_resolved() {
    let (Some(p), Some(_), Some(synapse), Some(gateway)) = (
        platform(),
        servers(),
        synapse(),
        crate::util::matrix::pushgateway(),
    ) else {
        return;
    };
    // Shard 0 checks sharded-us-3 (drift) and sharded-asleep.
    let names = [
        "sharded-eu",
        "sharded-us",
        "sharded-us-2",
        "sharded-us-3",
        "sharded-asleep",
    ];
    let of_0: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| shard_of(n, SHARDS) == 0)
        .collect();
    assert_eq!(of_0, ["sharded-us-3", "sharded-asleep"]);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_kubeconfig(p, dir.path());
    let (_listener, hanging) = asleep(dir.path());
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let (bot, owner_token, room_id, alias) = room_for(&synapse, "sharded-killed").await;
        let notify = format!(
            "{}  pushgateway:\n    url: {gateway}\n",
            crate::util::matrix::matrix_section(&synapse, &alias, &bot, "")
        );
        // The first night every shard reports (sharded-asleep is down).
        let config = fleet_config(dir.path(), &names, &down(dir.path()), &notify);
        let job = indexed_job(&client, SHARDS).await.metadata.name.unwrap();
        let outs = run_shards(&config, &hub, &job, &[0, 1, 2], 600);
        let (_, first) = merged_of(&outs);
        assert_eq!(first.code, 2, "{}", first.stderr);
        let state_us3 = std::fs::read(dir.path().join("state-sharded-us-3.json")).unwrap();

        // The next night shard 0 hangs on sharded-asleep and is killed.
        let config = fleet_config(dir.path(), &names, &hanging, &notify);
        let job = indexed_job(&client, SHARDS).await.metadata.name.unwrap();
        let outs = std::thread::scope(|s| {
            let killed = s.spawn(|| {
                shard(&config, &hub, &job, Some(0), 5).killed_after(Duration::from_secs(4))
            });
            let others = run_shards(&config, &hub, &job, &[1, 2], 5);
            killed.join().unwrap();
            others
        });
        let (_, merger) = merged_of(&outs);
        assert_eq!(merger.code, 2, "{}", merger.stderr);
        let merged: Value = serde_json::from_str(&merger.stdout).unwrap();
        assert_eq!(
            statuses(&merged),
            [
                ("sharded-eu".into(), "clean".into(), String::new()),
                ("sharded-us".into(), "drift".into(), String::new()),
                ("sharded-us-2".into(), "drift".into(), String::new()),
                (
                    "sharded-us-3".into(),
                    "could-not-check".into(),
                    "shard 0 did not report".into()
                ),
                (
                    "sharded-asleep".into(),
                    "could-not-check".into(),
                    "shard 0 did not report".into()
                ),
            ]
        );
        assert_eq!(merged["clusters"][3]["report"], Value::Null);

        let events = synapse.events(&owner_token, &room_id).await;
        let notices = notices_from(&events, &bot);
        assert_eq!(notices.len(), 2, "one message a night: {notices:#?}");
        let latest = notices
            .iter()
            .max_by_key(|n| n["origin_server_ts"].as_u64())
            .unwrap();
        let body = latest["content"]["body"].as_str().unwrap();
        assert!(
            body.contains("could not check: shard 0 did not report"),
            "{body}"
        );
        assert!(!body.contains("Resolved"), "{body}");
        // Its state is as the first night left it: its findings stay open.
        assert_eq!(
            std::fs::read(dir.path().join("state-sharded-us-3.json")).unwrap(),
            state_us3
        );
        // Its pushgateway group stays (only clusters that left are deleted).
        let groups: Value = reqwest::get(format!("{gateway}/api/v1/metrics"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kept = groups["data"].as_array().unwrap().iter().any(|g| {
            g["labels"]["cluster"] == "sharded-us-3" && g.get("drift_check_fleet_member").is_some()
        });
        assert!(kept, "sharded-us-3's group is kept");
    });
}

/// Bad flags: one clear error each, nothing checked.
#[test]
fn shards_without_a_fleet_or_an_index_are_refused() {
    let out = TestCommand::new()
        .args([
            "run",
            "--repo",
            "fixtures/infra-repo",
            "--live-snapshot",
            "fixtures/live/prod",
        ])
        .args(["--shards", "3", "--shard-index", "1", "--shard-job", "j"])
        .output();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--shards splits the clusters of a fleet"),
        "{}",
        out.stderr
    );
    let out = TestCommand::new()
        .args(["run", "--shards", "3", "--shard-job", "j"])
        .output();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--shards 3 needs --shard-index (JOB_COMPLETION_INDEX"),
        "{}",
        out.stderr
    );
    let out = TestCommand::new()
        .args(["run", "--shards", "3"])
        .env("JOB_COMPLETION_INDEX", "3")
        .output();
    assert!(
        out.stderr
            .contains("--shard-index 3 is not below --shards 3"),
        "{}",
        out.stderr
    );
}
