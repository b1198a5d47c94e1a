use std::path::Path;

use super::*;

fn entry(name: &str) -> ClusterConfig {
    ClusterConfig {
        name: name.into(),
        context: Some(name.into()),
        ..Default::default()
    }
}

fn given<'a>(clusters: &'a [ClusterConfig], contexts: &'a [String]) -> Given<'a> {
    Given {
        clusters,
        base: Path::new("/etc/drift-check"),
        contexts,
        all_contexts: false,
        kubeconfig: None,
        select: None,
        in_flight: 4,
    }
}

#[test]
fn no_list_and_at_most_one_context_is_no_fleet() {
    assert_eq!(resolve(&given(&[], &[])).unwrap(), None);
    assert_eq!(resolve(&given(&[], &["prod".into()])).unwrap(), None);
}

#[test]
fn a_list_is_a_complete_fleet_with_paths_relative_to_the_config_file() {
    let mut eu = entry("prod-eu");
    eu.kubeconfig = Some("kube/eu.yaml".into());
    eu.labels = BTreeMap::from([("env".into(), "prod".into())]);
    let hub = ClusterConfig {
        name: "hub".into(),
        in_cluster: true,
        ..Default::default()
    };
    let snap = ClusterConfig {
        name: "lab".into(),
        live_snapshot: Some("snapshots/lab".into()),
        ..Default::default()
    };
    let fleet = resolve(&given(&[eu, hub, snap], &[])).unwrap().unwrap();
    assert!(fleet.complete && fleet.is_many() && fleet.rejected.is_empty());
    assert_eq!(fleet.in_flight, 4);
    assert_eq!(
        fleet.members[0].target,
        Target::Kubeconfig {
            file: Some("/etc/drift-check/kube/eu.yaml".into()),
            context: Some("prod-eu".into())
        }
    );
    assert_eq!(fleet.members[0].labels["env"], "prod");
    assert_eq!(fleet.members[1].target, Target::InCluster);
    assert_eq!(
        fleet.members[2].target,
        Target::Snapshot("/etc/drift-check/snapshots/lab".into())
    );
}

#[test]
fn a_name_given_twice_is_one_cluster_that_cannot_be_checked_and_the_others_are() {
    let list = [entry("a"), entry("b"), entry("a")];
    let fleet = resolve(&given(&list, &[])).unwrap().unwrap();
    let names: Vec<&str> = fleet.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(fleet.rejected.len(), 1);
    assert_eq!(
        fleet.rejected[0].reason,
        "the cluster name \"a\" of clusters[2] is already that of clusters[0]; give each cluster its own name"
    );
}

#[test]
fn cluster_picks_one_of_the_fleet_and_an_unknown_name_is_an_error_naming_the_known() {
    let list = [entry("a"), entry("b")];
    let mut g = given(&list, &[]);
    g.select = Some("b");
    let fleet = resolve(&g).unwrap().unwrap();
    assert_eq!(fleet.members.len(), 1);
    assert!(!fleet.complete && !fleet.is_many());
    g.select = Some("c");
    assert_eq!(
        resolve(&g).unwrap_err().to_string(),
        "--cluster c: no such cluster in the fleet (clusters: a, b)"
    );
}

#[test]
fn contexts_make_a_fleet_named_after_them_never_complete() {
    let contexts = ["eu".to_string(), "us".to_string()];
    let mut g = given(&[], &contexts);
    let path = Path::new("/home/me/.kube/config");
    g.kubeconfig = Some(path);
    let fleet = resolve(&g).unwrap().unwrap();
    assert!(!fleet.complete);
    assert_eq!(
        fleet.members[1],
        Member {
            name: "us".into(),
            labels: BTreeMap::new(),
            target: Target::Kubeconfig {
                file: Some(path.into()),
                context: Some("us".into())
            }
        }
    );
}

#[test]
fn bad_entries_and_conflicting_flags_are_errors_naming_them() {
    let both = ClusterConfig {
        name: "x".into(),
        in_cluster: true,
        context: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve(&given(&[entry("a"), both], &[]))
            .unwrap_err()
            .to_string(),
        "config file: clusters[1].inCluster: is the pod's own service account: it does not go with kubeconfig, context or liveSnapshot"
    );
    assert_eq!(
        resolve(&given(&[entry("")], &[])).unwrap_err().to_string(),
        "config file: clusters[0].name: is required, e.g. `name: prod-eu`"
    );
    let contexts = ["a".to_string()];
    assert!(
        resolve(&given(&[entry("a")], &contexts))
            .unwrap_err()
            .to_string()
            .starts_with("--context and --all-contexts pick clusters of a kubeconfig")
    );
}

#[test]
fn all_contexts_reads_the_kubeconfig_and_an_unreadable_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- name: one\n  context: {cluster: c, user: u}\n- name: two\n  context: {cluster: c, user: u}\n",
    )
    .unwrap();
    let mut g = given(&[], &[]);
    g.all_contexts = true;
    g.kubeconfig = Some(&path);
    let fleet = resolve(&g).unwrap().unwrap();
    let names: Vec<&str> = fleet.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    let absent = dir.path().join("absent");
    g.kubeconfig = Some(&absent);
    assert_eq!(
        resolve(&g).unwrap_err().to_string(),
        format!(
            "--all-contexts: cannot read the kubeconfig {}",
            absent.display()
        )
    );
}

#[test]
fn a_member_has_its_own_name_connection_and_source_cache() {
    let settings = crate::config::Config::load(&Default::default(), None, None)
        .unwrap()
        .settings
        .map(|mut s| {
            s.sources.cache_dir = Some("/cache".into());
            s
        });
    let member = Member {
        name: "eu".into(),
        labels: BTreeMap::new(),
        target: Target::Kubeconfig {
            file: Some("/k".into()),
            context: Some("ctx".into()),
        },
    };
    let s = member_settings(&member, &settings);
    assert_eq!(s.cluster.as_deref(), Some("eu"));
    assert_eq!(s.live.cluster.kubeconfig.as_deref(), Some(Path::new("/k")));
    assert_eq!(s.live.cluster.context.as_deref(), Some("ctx"));
    assert_eq!(
        s.sources.cache_dir.as_deref(),
        Some(Path::new("/cache/clusters/eu"))
    );
}
