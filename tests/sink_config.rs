//! The sinks' configuration as `drift-check run` meets it: a secret that
//! would cross the network over plain http is one config error naming the
//! key (exit 2, before anything is checked); `run --help` and `config
//! example` name every sink.

use crate::util::matrix::{config, fixture_repo, fixture_snapshot, run};

/// `run` with this `notify:` section and environment: exit code and the
/// last line of stderr.
fn refused(notify: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), notify);
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], env);
    assert!(out.stdout.is_empty(), "nothing checked: {}", out.stdout);
    (
        out.code,
        out.stderr
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn a_secret_over_plain_http_to_another_machine_is_a_config_error_naming_the_key() {
    assert_eq!(
        refused(
            "  matrix:\n    homeserver: http://matrix.example.org:8008\n    room: \"#a:example.org\"\n    user: \"@bot:example.org\"\n",
            &[("DRIFT_CHECK_MATRIX_TOKEN", "syt_hunter2")],
        ),
        (
            2,
            "drift-check: config file: notify.matrix.homeserver: \"http://matrix.example.org:8008\" is plain http to another machine: the access token would cross the network in cleartext; use https, or set notify.matrix.allowInsecureHttp: true, e.g. https://matrix.example.org".to_string()
        )
    );
    assert_eq!(
        refused(
            "  pushgateway:\n    url: http://pushgateway.monitoring:9091\n",
            &[("DRIFT_CHECK_PUSHGATEWAY_TOKEN", "hunter2")],
        ),
        (
            2,
            "drift-check: config file: notify.pushgateway.url: \"http://pushgateway.monitoring:9091\" is plain http to another machine and credentials are set (DRIFT_CHECK_PUSHGATEWAY_*): they would cross the network in cleartext; use https, or set notify.pushgateway.allowInsecureHttp: true, e.g. https://pushgateway.monitoring:9091".to_string()
        )
    );
    assert_eq!(
        refused(
            "  webhook:\n    url: http://hooks.example.org/drift?token=hunter2\n",
            &[],
        ),
        (
            2,
            "drift-check: config file: notify.webhook.url: \"http://hooks.example.org/drift?token=***\" is plain http to another machine with a query, where receivers take a token: it would cross the network in cleartext; use https, or set notify.webhook.allowInsecureHttp: true, e.g. https://hooks.example.org/drift-check?token=***".to_string()
        )
    );
}

/// Without credentials, or to this machine, plain http is
/// used: the runs reach their sinks (here a closed port on 127.0.0.1, or a
/// pushgateway without credentials that is not there).
#[test]
fn plain_http_without_a_secret_or_to_loopback_is_used() {
    let dir = tempfile::tempdir().unwrap();
    for notify in [
        "  pushgateway:\n    url: http://127.0.0.1:9\n    retries: 1\n",
        "  webhook:\n    url: http://127.0.0.1:9/drift?token=t\n    retries: 1\n",
        "  matrix:\n    homeserver: http://127.0.0.1:9\n    room: \"#a:example.org\"\n    user: \"@bot:example.org\"\n    retries: 1\n    timeoutSeconds: 2\n    stateFile: state.json\n",
    ] {
        let cfg = config(dir.path(), notify);
        let env = [
            ("DRIFT_CHECK_MATRIX_TOKEN", "syt_x"),
            ("DRIFT_CHECK_PUSHGATEWAY_TOKEN", "t"),
        ];
        let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &env);
        assert_eq!(out.code, 3, "checked, then the sink failed: {}", out.stderr);
        assert!(out.stderr.contains("Sink failed"), "{}", out.stderr);
    }
}

#[test]
fn run_help_and_the_config_example_name_every_sink_on_a_line_of_its_own() {
    let help = crate::util::run(&["run", "--help"]);
    assert_eq!(help.code, 0);
    let example = crate::util::run(&["config", "example"]);
    assert_eq!(example.code, 0);
    for (sink, help_line, example_line) in [
        (
            "matrix",
            "  matrix       unexplained drift new, changed or resolved since the last post to a Matrix room",
            "#   matrix       unexplained drift new, changed or resolved since the last post, to a Matrix room",
        ),
        (
            "pushgateway",
            "  pushgateway  the run's metrics to a Prometheus pushgateway (job drift_check, key cluster)",
            "#   pushgateway  the run's metrics to a Prometheus pushgateway (job drift_check, key cluster)",
        ),
        (
            "webhook",
            "  webhook      the JSON report (schema drift-check/v1) POSTed to an HTTP endpoint",
            "#   webhook      the JSON report (schema drift-check/v1) POSTed to an HTTP endpoint",
        ),
    ] {
        assert!(
            help.stdout.lines().any(|l| l == help_line),
            "{sink}: {}",
            help.stdout
        );
        assert!(
            example.stdout.lines().any(|l| l == example_line),
            "{sink}: {}",
            example.stdout
        );
        assert!(
            example.stdout.contains(&format!("\n  {sink}:\n")),
            "{sink} section"
        );
    }
}
