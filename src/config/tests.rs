//! Tests of configuration as a whole: the example, the file's relative
//! paths, the errors a person meets. The layers, setting by setting, are in
//! `layered.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::bounds::OutOfRange;
use crate::files::Limits;
use crate::source::Location;
use crate::yaml;

fn args(config: Option<PathBuf>) -> CommonArgs {
    CommonArgs {
        config,
        ..Default::default()
    }
}

#[test]
fn the_example_sets_every_key_and_round_trips() {
    let parsed: FileConfig = yaml::document(EXAMPLE, Path::new("example")).unwrap();
    // Every key is in the example: a field added without documenting it fails here.
    let json = serde_json::json!({
        "cluster": parsed.cluster, "repo": parsed.repo, "liveSnapshot": parsed.live_snapshot,
        "kustomizationsDir": parsed.kustomizations_dir, "kustomizations": parsed.kustomizations,
        "controllerManagers": parsed.controller_managers, "personManagers": parsed.person_managers,
        "fluxManagers": parsed.flux_managers, "kubeconfig": parsed.kubeconfig, "context": parsed.context,
        "source": parsed.source, "requestTimeout": parsed.request_timeout, "concurrency": parsed.concurrency,
        "branch": parsed.branch, "revision": parsed.revision, "cacheDir": parsed.cache_dir,
        "gitSecretDir": parsed.git_secret_dir, "gitTimeout": parsed.git_timeout,
        "kustomizeBin": parsed.kustomize_bin, "strictSubstitution": parsed.strict_substitution,
        "sopsDecrypt": parsed.sops_decrypt,
        "insecureKubeconfigExec": parsed.insecure_kubeconfig_exec,
        "insecureKubeconfigTls": parsed.insecure_kubeconfig_tls,
        "branch": parsed.branch, "revision": parsed.revision, "cacheDir": parsed.cache_dir,
        "gitSecretDir": parsed.git_secret_dir, "gitTimeout": parsed.git_timeout,
    });
    for (key, value) in json.as_object().unwrap() {
        assert!(!value.is_null(), "the example does not set {key}");
    }
    assert!(parsed.output.is_some() && parsed.diff_mode.is_some() && !parsed.ignore.is_empty());
    let limits = &parsed.limits;
    assert_eq!(
        (limits.file_bytes, limits.yaml_nodes, limits.yaml_documents),
        (
            Some(Limits::default().file_bytes),
            Some(Limits::default().yaml_nodes),
            Some(Limits::default().yaml_documents)
        )
    );
    let matrix = parsed.notify.matrix.as_ref().expect("notify.matrix");
    assert!(matrix.store.is_some() && matrix.state_config_map.is_some());
    assert!(
        matrix.max_message_bytes.is_some()
            && matrix.timeout_seconds.is_some()
            && matrix.retries.is_some()
    );
    let pushgateway = parsed
        .notify
        .pushgateway
        .as_ref()
        .expect("notify.pushgateway");
    assert!(pushgateway.timeout_seconds.is_some() && pushgateway.retries.is_some());
    let webhook = parsed.notify.webhook.as_ref().expect("notify.webhook");
    assert!(!webhook.headers.is_empty() && webhook.bearer_token_file.is_some());
    assert!(webhook.timeout_seconds.is_some() && webhook.retries.is_some());
    let fields = parsed.ignore[0].target.as_ref().unwrap();
    assert!(
        fields.group.is_some()
            && fields.label_selector.is_some()
            && fields.annotation_selector.is_some()
    );
    // And it validates: merged with no flags it gives settings.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.yaml");
    std::fs::write(
        &path,
        EXAMPLE
            .replace("liveSnapshot:", "# liveSnapshot:")
            .replace("diffMode: local", "diffMode: server"),
    )
    .unwrap();
    let settings = Config::load(&args(Some(path)), None, None).unwrap();
    assert_eq!(settings.settings.diff.mode, DiffMode::Server);
    assert_eq!(settings.settings.classify.ignore.len(), 1);
}

#[test]
fn unknown_keys_are_rejected_by_name_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drift-check.yaml");
    std::fs::write(
        &path,
        "cluster: prod\nrepo: ./infra\nliveSnapshot: ./snap\nignroe: []\n",
    )
    .unwrap();
    let err = format!(
        "{:#}",
        anyhow::Error::from(Config::load(&args(Some(path.clone())), None, None).unwrap_err())
    );
    assert!(
        err.contains("unknown field `ignroe`")
            && err.contains("line 4")
            && err.contains("drift-check.yaml"),
        "{err}"
    );
}

#[test]
fn flags_override_the_file_and_paths_are_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "cluster: prod\nrepo: infra\nliveSnapshot: snap\noutput: markdown\nkustomizations: [docs]\n").unwrap();
    let mut a = args(Some(path));
    a.cluster = Some("staging".into());
    let s = Config::load(&a, Some(Format::Json), None).unwrap();
    assert_eq!(
        (s.settings.cluster.as_deref(), s.output),
        (Some("staging"), Format::Json)
    );
    assert_eq!(
        s.settings.source.as_ref().unwrap().location,
        Location::Dir(dir.path().join("infra"))
    );
    assert_eq!(s.settings.discover.names, ["docs"]);
}

#[test]
fn without_repo_every_source_comes_from_the_cluster_and_overrides_name_theirs() {
    let s = Config::load(&args(None), None, None).unwrap().settings;
    assert!(s.source.is_none());
    let mut a = args(None);
    a.repo = vec!["flux-system/apps=../apps".into(), "./infra".into()];
    let s = Config::load(&a, None, None).unwrap().settings;
    assert_eq!(
        s.source.as_ref().unwrap().location,
        Location::Dir("./infra".into())
    );
    assert_eq!(s.sources.overrides.len(), 1);
    assert_eq!(s.sources.overrides[0].name, "apps");
    a.repo.push("./other".into());
    assert_eq!(
        Config::load(&a, None, None).unwrap_err().to_string(),
        "--repo ./other: the infra repo is given once; another repo names the GitRepository it stands for: --repo <namespace>/<name>=./other"
    );
}

#[test]
fn the_cluster_defaults_to_the_snapshot_directory_name() {
    let mut a = args(None);
    a.repo = vec!["r".into()];
    a.live_snapshot = Some("fixtures/live/prod".into());
    assert_eq!(
        Config::load(&a, None, None)
            .unwrap()
            .settings
            .cluster
            .as_deref(),
        Some("prod")
    );
}

#[test]
fn a_repo_url_in_the_file_is_kept_and_git_keys_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        "repo: git@github.com:org/infra.git\nbranch: prod\ncacheDir: cache\ngitSecretDir: /etc/git\ngitTimeout: 30\n",
    )
    .unwrap();
    let s = Config::load(&args(Some(path)), None, None).unwrap();
    assert_eq!(
        s.settings.source.as_ref().unwrap().location,
        Location::Url("git@github.com:org/infra.git".into())
    );
    assert_eq!(s.settings.source.as_ref().unwrap().branch, "prod");
    assert_eq!(
        s.settings.source.as_ref().unwrap().cache_dir,
        Some(dir.path().join("cache"))
    );
    assert_eq!(
        s.settings.source.as_ref().unwrap().secret_dir,
        Some(PathBuf::from("/etc/git"))
    );
    assert_eq!(
        s.settings.source.as_ref().unwrap().timeout,
        Duration::from_secs(30)
    );
}

#[test]
fn a_revision_must_be_a_full_sha() {
    let mut a = args(None);
    a.repo = vec!["r".into()];
    a.revision = Some("abc123".into());
    let err = Config::load(&a, None, None).unwrap_err().to_string();
    assert_eq!(
        err,
        "--revision: \"abc123\" is not a full commit sha (40 hex digits, or Flux's main@sha1:<sha>)"
    );
    a.revision = Some(format!("main@sha1:{}", "a".repeat(40)));
    assert!(Config::load(&a, None, None).is_ok());
}

#[test]
fn server_mode_needs_a_cluster() {
    let mut a = args(None);
    a.repo = vec!["r".into()];
    a.live_snapshot = Some("snap".into());
    let err = Config::load(&a, None, Some(DiffMode::Server))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "--diff-mode server needs a cluster: it cannot be used with --live-snapshot"
    );
}

/// The whole chain, as `main` prints it.
fn message(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, config).unwrap();
    let err = Config::load(&args(Some(path)), None, None).unwrap_err();
    format!("{:#}", anyhow::Error::from(err)).replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn numbers_out_of_range_are_errors_naming_the_setting_with_an_example() {
    let cases = [
        (
            "concurrency: 0",
            "DIR/c.yaml: concurrency: must be between 1 and 256, got 0 (e.g. `concurrency: 8`)",
        ),
        (
            "concurrency: 100000",
            "DIR/c.yaml: concurrency: must be between 1 and 256, got 100000 (e.g. `concurrency: 8`)",
        ),
        (
            "requestTimeout: 0",
            "DIR/c.yaml: requestTimeout: must be between 1 and 86400 seconds, got 0 (e.g. `requestTimeout: 30`)",
        ),
        // Once a panic: "overflow when adding durations".
        (
            "requestTimeout: 18446744073709551615",
            "DIR/c.yaml: requestTimeout: must be between 1 and 86400 seconds, got 18446744073709551615 (e.g. `requestTimeout: 30`)",
        ),
        (
            "gitTimeout: 9223372036854775807",
            "DIR/c.yaml: gitTimeout: must be between 1 and 86400 seconds, got 9223372036854775807 (e.g. `gitTimeout: 120`)",
        ),
        (
            "limits: {fileBytes: 18446744073709551615}",
            "DIR/c.yaml: limits.fileBytes: must be between 1 and 4294967296 bytes, got 18446744073709551615 (e.g. `limits: {fileBytes: 536870912}`)",
        ),
        (
            "limits: {yamlNodes: 0}",
            "DIR/c.yaml: limits.yamlNodes: must be between 1 and 1000000000, got 0 (e.g. `limits: {yamlNodes: 40000000}`)",
        ),
        (
            "limits: {yamlDocuments: 10000001}",
            "DIR/c.yaml: limits.yamlDocuments: must be between 1 and 10000000, got 10000001 (e.g. `limits: {yamlDocuments: 100000}`)",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(message(&format!("repo: r\n{line}\n")), expected, "{line}");
    }
}

#[test]
fn flags_are_bounded_like_the_file_and_win_over_it() {
    let mut a = args(None);
    a.repo = vec!["r".into()];
    a.request_timeout = Some(u64::MAX);
    assert!(matches!(
        Config::load(&a, None, None),
        Err(ConfigError::OutOfRange(OutOfRange { key, .. })) if key == "--request-timeout"
    ));
    a.request_timeout = Some(86_400);
    a.concurrency = Some(3);
    let live = Config::load(&a, None, None)
        .unwrap()
        .settings
        .into_inner()
        .live;
    assert_eq!(live.cluster.timeout, Duration::from_secs(86_400));
    assert_eq!(live.cluster.concurrency, 3);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "repo: r\nconcurrency: 2\nrequestTimeout: 5\n").unwrap();
    let mut a = args(Some(path));
    let live = Config::load(&a, None, None)
        .unwrap()
        .settings
        .into_inner()
        .live;
    assert_eq!(
        (live.cluster.concurrency, live.cluster.timeout.as_secs()),
        (2, 5)
    );
    a.concurrency = Some(4);
    let live = Config::load(&a, None, None)
        .unwrap()
        .settings
        .into_inner()
        .live;
    assert_eq!(
        (live.cluster.concurrency, live.cluster.timeout.as_secs()),
        (4, 5)
    );
}

#[test]
fn person_manager_patterns_are_star_wildcards_only() {
    assert_eq!(
        message("repo: r\npersonManagers: [\"kubectl*\", \"ops-[0-9]\"]\n"),
        "DIR/c.yaml: personManagers: invalid pattern: \"ops-[0-9]\": `[` is not supported: patterns are field manager names with `*` wildcards only (e.g. \"kubectl*\" or \"ops-bot\")"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        "repo: r\npersonManagers: [\"Mozilla/5.0 (X11; Linux)*\"]\n",
    )
    .unwrap();
    let config = Config::load(&args(Some(path)), None, None).unwrap();
    assert!(
        config
            .settings
            .diff
            .policy
            .is_person("Mozilla/5.0 (X11; Linux) Firefox")
    );
}

#[test]
fn config_errors_print_each_message_once_and_no_library_hint() {
    assert_eq!(
        message(
            "repo: r\nignore:\n- paths: [/spec/replicas]\n  reason: hpa\n  target: {kind: \"Deploy(\"}\n"
        ),
        "config file DIR/c.yaml: ignore[0].target.kind: invalid regular expression \"Deploy(\": unclosed group"
    );
    assert_eq!(
        message("cluster: a\nrepo: r\ncluster: b\n"),
        "config file: DIR/c.yaml: line 3 column 1: duplicate mapping key \"cluster\""
    );
}

#[test]
fn errors_name_the_layer_and_the_key_of_the_bad_value() {
    for (file, expected) in [
        (
            "branch: a..b",
            "DIR/c.yaml: branch: \"a..b\" is not a branch name (e.g. main)",
        ),
        (
            "kustomizationsDir: /etc",
            "DIR/c.yaml: kustomizationsDir: /etc is absolute: it must be a directory inside the repo, relative to its root (e.g. clusters/prod)",
        ),
        (
            "source: apps",
            "DIR/c.yaml: source: \"apps\" is not namespace/name (e.g. flux-system/plana-pulse-infra)",
        ),
        (
            "sources: {secretDirs: {apps: /a}}",
            "DIR/c.yaml: sources.secretDirs: \"apps\" is not namespace/name (e.g. flux-system/apps: /etc/sources/apps)",
        ),
        (
            "diffMode: server\nliveSnapshot: snap",
            "DIR/c.yaml: diffMode server needs a cluster: it cannot be used with DIR/c.yaml: liveSnapshot",
        ),
    ] {
        assert_eq!(message(&format!("repo: r\n{file}\n")), expected, "{file}");
    }
    let mut a = args(None);
    a.repo = vec!["r".into()];
    a.source = Some("apps".into());
    a.from_env.insert("source".into());
    assert_eq!(
        Config::load(&a, None, None).unwrap_err().to_string(),
        "DRIFT_CHECK_SOURCE"
    );
    a.source = None;
    a.live_snapshot = Some("snap".into());
    assert_eq!(
        Config::load(&a, None, Some(DiffMode::Server))
            .unwrap_err()
            .to_string(),
        "--diff-mode server needs a cluster: it cannot be used with --live-snapshot"
    );
}
