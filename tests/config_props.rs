//! Property tests of configuration: whatever a config file or a flag holds,
//! loading it is a value or one error naming the setting — never a panic.
//! (`requestTimeout: 18446744073709551615` once panicked with "overflow when
//! adding durations"; 9223372036854775807 panicked a worker.) And the layers
//! as the binary meets them: a bad value is named by the layer it came from,
//! a flag over a `DRIFT_CHECK_*` variable over the file.

use clap::Parser;
use drift_check::cli::{Cli, Command};
use drift_check::config::{Config, ConfigError};
use proptest::prelude::*;

/// The number settings of the file (the line before and after the value),
/// with the range each must be in and the key its error names.
const NUMBERS: &[(&str, &str, u64, u64, &str)] = &[
    ("requestTimeout: ", "", 1, 86_400, "requestTimeout"),
    ("gitTimeout: ", "", 1, 86_400, "gitTimeout"),
    ("concurrency: ", "", 1, 256, "concurrency"),
    ("limits: {fileBytes: ", "}", 1, 4 << 30, "limits.fileBytes"),
    (
        "limits: {yamlNodes: ",
        "}",
        1,
        1_000_000_000,
        "limits.yamlNodes",
    ),
    (
        "limits: {yamlDocuments: ",
        "}",
        1,
        10_000_000,
        "limits.yamlDocuments",
    ),
    (
        MATRIX_TIMEOUT,
        "}}",
        1,
        86_400,
        "notify.matrix.timeoutSeconds",
    ),
    (MATRIX_RETRIES, "}}", 1, 100, "notify.matrix.retries"),
    (
        "notify: {pushgateway: {url: 'http://127.0.0.1:9091', timeoutSeconds: ",
        "}}",
        1,
        86_400,
        "notify.pushgateway.timeoutSeconds",
    ),
    (
        "notify: {pushgateway: {url: 'http://127.0.0.1:9091', retries: ",
        "}}",
        1,
        100,
        "notify.pushgateway.retries",
    ),
    (
        "notify: {webhook: {url: 'http://127.0.0.1:8080/hook', timeoutSeconds: ",
        "}}",
        1,
        86_400,
        "notify.webhook.timeoutSeconds",
    ),
    (
        "notify: {webhook: {url: 'http://127.0.0.1:8080/hook', retries: ",
        "}}",
        1,
        100,
        "notify.webhook.retries",
    ),
];

const MATRIX_TIMEOUT: &str = "notify: {matrix: {homeserver: 'http://127.0.0.1:8008', room: '#alerts:localhost', \
    user: '@bot:localhost', stateFile: s.json, timeoutSeconds: ";
const MATRIX_RETRIES: &str = "notify: {matrix: {homeserver: 'http://127.0.0.1:8008', room: '#alerts:localhost', \
    user: '@bot:localhost', stateFile: s.json, retries: ";

/// Loads a config file holding `text`.
fn load_file(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drift-check.yaml");
    std::fs::write(&path, text).unwrap();
    let args = drift_check::cli::CommonArgs {
        config: Some(path),
        ..Default::default()
    };
    Config::load(&args, None, None)
}

/// Numbers near every edge that overflows somewhere, and anything else.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(86_400),
        Just(86_401),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        0u64..1_000_000,
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_number_of_the_file_is_accepted_in_its_range_and_named_outside_it(
        which in 0..NUMBERS.len(),
        value in number(),
    ) {
        let (before, after, min, max, key) = NUMBERS[which];
        let text = format!("repo: r\n{before}{value}{after}\n");
        match load_file(&text) {
            Ok(_) => prop_assert!((min..=max).contains(&value), "{text} was accepted"),
            Err(err) => {
                let message = format!("{:#}", anyhow::Error::from(err));
                prop_assert!(!(min..=max).contains(&value), "{text}: {message}");
                // The file and the key: `DIR/drift-check.yaml: limits.fileBytes: must be ...`,
                // a `notify:` key's under "config file: " and without the file.
                let named = message
                    .split_once("drift-check.yaml: ")
                    .map_or(message.as_str(), |(_, key)| key);
                let named = named.strip_prefix("config file: ").unwrap_or(named);
                prop_assert!(named.starts_with(key), "{text}: {message}");
                prop_assert!(message.contains(&value.to_string()), "{text}: {message}");
            }
        }
    }

    #[test]
    fn timeouts_and_concurrency_on_the_command_line_are_bounded_like_the_file(
        flag in prop::sample::select(vec![
            "--request-timeout",
            "--git-timeout",
            "--concurrency",
            "--sources-concurrency",
        ]),
        value in number(),
    ) {
        let value = value.to_string();
        let cli = Cli::try_parse_from(["drift-check", "check", "--repo", "r", flag, &value]);
        let Ok(Cli { command: Command::Check(args), .. }) = cli else {
            return Err(TestCaseError::fail(format!("{flag} {value} does not parse")));
        };
        let max = match flag {
            "--concurrency" => 256,
            "--sources-concurrency" => 64,
            _ => 86_400,
        };
        let in_range = (1..=max).contains(&value.parse::<u64>().unwrap());
        match Config::load(&args.common, None, None) {
            Ok(_) => prop_assert!(in_range, "{flag} {value} was accepted"),
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!in_range, "{flag} {value}: {message}");
                let named = format!("{flag}: must be between 1 and {max}");
                prop_assert!(message.starts_with(&named), "{flag} {value}: {message}");
            }
        }
    }

    /// Any text at all as a config file: loaded or refused, never a panic.
    #[test]
    fn any_config_file_loads_or_is_one_error(text in config_text()) {
        let _ = load_file(&text);
    }
}

/// The number settings of the command line: flag, variable, and the file's
/// line around the value.
const LAYERED_NUMBERS: &[(&str, &str, &str, &str)] = &[
    (
        "--git-timeout",
        "DRIFT_CHECK_GIT_TIMEOUT",
        "gitTimeout: ",
        "",
    ),
    (
        "--request-timeout",
        "DRIFT_CHECK_REQUEST_TIMEOUT",
        "requestTimeout: ",
        "",
    ),
    (
        "--concurrency",
        "DRIFT_CHECK_CONCURRENCY",
        "concurrency: ",
        "",
    ),
    (
        "--sources-concurrency",
        "DRIFT_CHECK_SOURCES_CONCURRENCY",
        "sources: {concurrency: ",
        "}",
    ),
    (
        "--clusters-in-flight",
        "DRIFT_CHECK_CLUSTERS_IN_FLIGHT",
        "clustersInFlight: ",
        "",
    ),
    (
        "--limits-file-bytes",
        "DRIFT_CHECK_LIMITS_FILE_BYTES",
        "limits: {fileBytes: ",
        "}",
    ),
    (
        "--limits-yaml-nodes",
        "DRIFT_CHECK_LIMITS_YAML_NODES",
        "limits: {yamlNodes: ",
        "}",
    ),
    (
        "--limits-yaml-documents",
        "DRIFT_CHECK_LIMITS_YAML_DOCUMENTS",
        "limits: {yamlDocuments: ",
        "}",
    ),
];

/// `drift-check check` with this config file, variables and flags: exit
/// code and the last line of stderr.
fn check(config: &std::path::Path, env: &[(&str, &str)], flags: &[&str]) -> (i32, String) {
    let out = crate::util::TestCommand::new()
        .args(["check", "--config"])
        .arg(config)
        .args(flags)
        .envs(env)
        .output();
    let last = out.stderr.trim_end().lines().last().unwrap_or_default();
    (out.code, last.to_string())
}

#[test]
fn a_bad_number_is_named_by_the_layer_it_came_from_a_flag_over_a_variable_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    for &(flag, var, before, after) in LAYERED_NUMBERS {
        std::fs::write(&path, format!("repo: r\n{before}0{after}\n")).unwrap();
        let key = before.replace(": {", ".");
        let key = key.trim_end_matches(": ");
        let (code, file) = check(&path, &[], &[]);
        assert_eq!(code, 2, "{file}");
        assert!(
            file.starts_with(&format!(
                "drift-check: {}: {key}: must be between",
                path.display()
            )) && file.contains("got 0 "),
            "{file}"
        );
        let (_, env) = check(&path, &[(var, "99999999999")], &[]);
        assert!(
            env.starts_with(&format!("drift-check: {var}: must be between"))
                && env.contains("got 99999999999 "),
            "{env}"
        );
        let (_, cli) = check(
            &path,
            &[(var, "99999999999")],
            &[&format!("{flag}=88888888888")],
        );
        assert!(
            cli.starts_with(&format!("drift-check: {flag}: must be between"))
                && cli.contains("got 88888888888 "),
            "{cli}"
        );
    }
}

#[test]
fn a_wrong_type_in_the_file_names_the_file_the_key_the_line_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    for (text, expected) in [
        (
            "repo: r\nlimits:\n  fileBytes: lots\n",
            "limits.fileBytes: invalid u64 at line 3, column 14",
        ),
        (
            "repo: r\nnotify: {matrix: {retries: x}}\n",
            "notify.matrix.retries: invalid u64 at line 2, column 28",
        ),
        (
            "repo: r\nsopsDecrypt: maybe\n",
            "sopsDecrypt: invalid boolean at line 2, column 14",
        ),
        (
            "repo: r\nlimits: {fileBytez: 3}\n",
            "limits.fileBytez: unknown field `fileBytez`, expected one of fileBytes, yamlNodes, yamlDocuments at line 2, column 10",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let (code, last) = check(&path, &[], &[]);
        assert_eq!(
            (code, last),
            (
                2,
                format!("drift-check: config file: {}: {expected}", path.display())
            ),
            "{text}"
        );
    }
}

/// Config-shaped text: known keys with values of every YAML shape, nested
/// sections, and raw noise.
fn config_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "repo",
        "cluster",
        "branch",
        "revision",
        "requestTimeout",
        "gitTimeout",
        "concurrency",
        "limits",
        "fileBytes",
        "yamlNodes",
        "yamlDocuments",
        "notify",
        "matrix",
        "pushgateway",
        "webhook",
        "timeoutSeconds",
        "retries",
        "maxMessageBytes",
        "ignore",
        "paths",
        "target",
        "helm",
        "types",
        "diffMode",
        "output",
        "personManagers",
        "kustomizations",
        "unknownKey",
    ]);
    let scalar = prop_oneof![
        number().prop_map(|n| n.to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("null".to_string()),
        Just("~".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"\"".to_string()),
        Just("0x10".to_string()),
        Just("0o777".to_string()),
        Just(".inf".to_string()),
        "[a-z:/.*]{0,12}".prop_map(|s| s),
    ];
    let line = (0usize..3, key, scalar)
        .prop_map(|(depth, k, v)| format!("{}{k}: {v}", "  ".repeat(depth)));
    prop_oneof![
        prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n")),
        ".{0,200}".prop_map(|s| s),
    ]
}
