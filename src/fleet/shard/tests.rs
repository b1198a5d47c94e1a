use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::*;
use crate::diff::{Change, Op};
use crate::fleet::{Member, Rejected, Target};
use crate::report::fleet::{ClusterEntry, ClusterStatus};

fn fleet(names: &[&str]) -> Fleet {
    Fleet {
        members: names
            .iter()
            .map(|n| Member {
                name: n.to_string(),
                labels: BTreeMap::from([("env".to_string(), "prod".to_string())]),
                target: Target::Kubeconfig {
                    file: None,
                    context: Some(n.to_string()),
                },
            })
            .collect(),
        rejected: vec![Rejected {
            name: names[0].to_string(),
            labels: BTreeMap::new(),
            reason: "the cluster name is given twice".into(),
        }],
        in_flight: 2,
        complete: true,
    }
}

/// What an unsharded run of this fleet reports, each cluster with drift
/// and a change with a readable path.
fn checked(fleet: &Fleet) -> FleetReport {
    let mut clusters: Vec<ClusterEntry> = fleet
        .members
        .iter()
        .map(|m| {
            let mut report = crate::report::tests::report(0, true);
            report.run.cluster = m.name.clone();
            report.findings[0].changes.push(Change {
                path: "/data/a".into(),
                op: Op::Replace,
                desired: Some("1".into()),
                live: Some("2".into()),
                manager: Some("kubectl-edit".into()),
                time: None,
                explanation: None,
                readable_path: Some(format!("data.a@{}", m.name)),
            });
            ClusterEntry::checked(&m.name, &m.labels, report, Duration::from_millis(1500))
        })
        .collect();
    clusters.extend(
        fleet
            .rejected
            .iter()
            .map(|r| ClusterEntry::not_checked(&r.name, &r.labels, &r.reason)),
    );
    FleetReport::new("2026-12-08T02:30:00Z".into(), clusters)
}

/// Each shard's result as the merger reads it back (through gzip and JSON).
fn results(
    fleet: &Fleet,
    count: u32,
    missing: &[u32],
) -> BTreeMap<u32, Result<ShardResult, String>> {
    (0..count)
        .filter(|i| !missing.contains(i))
        .map(|i| {
            let part = select(fleet, i, count);
            let report = checked(&part);
            let bytes = encode(&ShardResult::of(i, count, &report), payload::LIMIT).unwrap();
            (i, decode(i, &bytes).map_err(|e| e.to_string()))
        })
        .collect()
}

fn without_timings(report: &FleetReport) -> serde_json::Value {
    let mut json = serde_json::to_value(report).unwrap();
    json["run"] = serde_json::Value::Null;
    json
}

#[test]
fn the_shard_of_a_name_is_a_fixed_hash_and_every_cluster_has_exactly_one() {
    // SHA-256 of the name: the same in every process and release.
    assert_eq!(shard_of("prod-eu", 1), 0);
    let fixed: Vec<u32> = ["prod-eu", "prod-us", "staging", "lab"]
        .iter()
        .map(|n| shard_of(n, 7))
        .collect();
    // python3: int.from_bytes(hashlib.sha256(name).digest()[:8], "big") % 7
    assert_eq!(fixed, [0, 2, 0, 1]);
    let names: Vec<String> = (0..300).map(|i| format!("cluster-{i}")).collect();
    let all = fleet(&names.iter().map(String::as_str).collect::<Vec<_>>());
    for count in [1, 2, 3, 8] {
        let mut seen = BTreeSet::new();
        for i in 0..count {
            let part = select(&all, i, count);
            assert!(
                part.members.len() > 300 / count as usize / 2,
                "{count}: {i} is starved"
            );
            for m in part.members {
                assert!(seen.insert(m.name), "{count}: a cluster in two shards");
            }
        }
        assert_eq!(seen.len(), 300);
    }
}

#[test]
fn merged_results_are_the_unsharded_report() {
    let all = fleet(&["prod-eu", "prod-us", "staging", "lab", "edge-1", "edge-2"]);
    let merged = merge(&all, 3, results(&all, 3, &[]));
    assert_eq!(without_timings(&merged), without_timings(&checked(&all)));
    assert_eq!(merged.exit_code(), 2, "the name given twice");
    // Not part of the JSON, carried beside it.
    let paths: Vec<Option<&str>> = merged.clusters[..6]
        .iter()
        .map(|c| {
            c.report.as_ref().unwrap().findings[0].changes[0]
                .readable_path
                .as_deref()
        })
        .collect();
    assert_eq!(paths[1], Some("data.a@prod-us"));
    assert_eq!(merged.clusters[3].duration, Duration::from_millis(1500));
}

#[test]
fn a_shard_that_did_not_report_makes_its_clusters_could_not_check() {
    let all = fleet(&["prod-eu", "prod-us", "staging", "lab", "edge-1", "edge-2"]);
    let lost = shard_of("staging", 3);
    let merged = merge(&all, 3, results(&all, 3, &[lost]));
    assert_eq!(merged.clusters.len(), 7);
    for c in &merged.clusters[..6] {
        if shard_of(&c.name, 3) == lost {
            assert_eq!(c.status, ClusterStatus::CouldNotCheck);
            assert!(c.report.is_none());
            assert_eq!(
                c.one_line(),
                format!("could not check: shard {lost} did not report")
            );
        } else {
            assert_eq!(c.status, ClusterStatus::Drift, "{}", c.name);
        }
    }
    assert_eq!(merged.exit_code(), 2);
    let names: Vec<&str> = merged.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prod-eu", "prod-us", "staging", "lab", "edge-1", "edge-2", "prod-eu"
        ]
    );
}

#[test]
fn a_result_of_other_clusters_or_another_count_is_not_taken() {
    let all = fleet(&["prod-eu", "prod-us", "staging"]);
    let mut got = results(&all, 2, &[]);
    let other = fleet(&["elsewhere", "prod-us", "staging"]);
    let i = shard_of("elsewhere", 2);
    got.insert(
        i,
        Ok(ShardResult::of(i, 2, &checked(&select(&other, i, 2)))),
    );
    let merged = merge(&all, 2, got);
    let wrong = merged
        .clusters
        .iter()
        .find(|c| shard_of(&c.name, 2) == i)
        .unwrap();
    assert!(
        wrong
            .one_line()
            .contains(&format!("shard {i} checked other clusters (elsewhere")),
        "{}",
        wrong.one_line()
    );
    let mut got = results(&all, 2, &[]);
    got.insert(0, Err("not gzipped".into()));
    let merged = merge(&all, 2, got);
    assert!(
        merged.clusters.iter().any(
            |c| c.one_line() == "could not check: shard 0's result cannot be read: not gzipped"
        )
    );
}

#[test]
fn a_result_over_the_limit_drops_the_largest_reports_and_says_so() {
    let all = fleet(&["a", "b", "c"]);
    let mut report = checked(&all);
    let big = report.clusters[1].report.as_mut().unwrap();
    big.run.source.note = Some(
        "x".repeat(400_000)
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 7 == 0 {
                    char::from(b'a' + (i % 26) as u8)
                } else {
                    c
                }
            })
            .collect(),
    );
    let result = ShardResult::of(0, 1, &report);
    let whole = encode(&result, payload::LIMIT).unwrap();
    let limit = whole.len() - 1;
    let cut = decode(0, &encode(&result, limit).unwrap()).unwrap();
    assert!(cut.clusters[0].report.is_some() && cut.clusters[2].report.is_some());
    assert!(cut.clusters[1].report.is_none());
    assert_eq!(cut.clusters[1].status, ClusterStatus::CouldNotCheck);
    let error = cut.clusters[1].error.as_deref().unwrap();
    assert!(
        error.contains("does not fit in shard 0's result ConfigMap (1 MiB): run more shards"),
        "{error}"
    );
    assert!(matches!(
        decode(1, &whole),
        Err(PayloadError::Foreign { found: 0, .. })
    ));
    assert!(matches!(
        decode(0, b"not gzip"),
        Err(PayloadError::Decode { .. })
    ));
}

#[test]
fn the_flags_make_a_shard_or_one_clear_error() {
    let wait = Duration::from_secs(600);
    assert!(settings(None, Some(2), None, wait).unwrap().is_none());
    assert!(settings(Some(1), Some(0), None, wait).unwrap().is_none());
    let s = settings(Some(4), Some(3), Some("drift-check-29412"), wait)
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.shard, s.job.as_str()),
        (Shard { index: 3, count: 4 }, "drift-check-29412")
    );
    let error = |shards, index, job| settings(shards, index, job, wait).unwrap_err().to_string();
    assert_eq!(
        error(Some(0), Some(0), Some("j")),
        "--shards 0: there is at least one shard"
    );
    assert!(
        error(Some(4), None, Some("j"))
            .starts_with("--shards 4 needs --shard-index (JOB_COMPLETION_INDEX")
    );
    assert!(
        error(Some(4), Some(4), Some("j")).starts_with("--shard-index 4 is not below --shards 4")
    );
    assert!(error(Some(4), Some(0), Some(" ")).starts_with("--shards needs --shard-job"));
}
