//! Property tests of configuration: whatever a config file or a flag holds,
//! loading it is a value or one error naming the setting — never a panic.
//! (`requestTimeout: 18446744073709551615` once panicked with "overflow when
//! adding durations"; 9223372036854775807 panicked a worker.)

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
                // A `notify:` key's error is under "config file: ".
                let message = message.strip_prefix("config file: ").unwrap_or(&message);
                prop_assert!(message.starts_with(key), "{text}: {message}");
                prop_assert!(message.contains(&value.to_string()), "{text}: {message}");
            }
        }
    }

    #[test]
    fn timeouts_and_concurrency_on_the_command_line_are_bounded_like_the_file(
        flag in prop::sample::select(vec!["--request-timeout", "--git-timeout", "--concurrency"]),
        value in number(),
    ) {
        let value = value.to_string();
        let cli = Cli::try_parse_from(["drift-check", "check", "--repo", "r", flag, &value]);
        let Ok(Cli { command: Command::Check(args), .. }) = cli else {
            return Err(TestCaseError::fail(format!("{flag} {value} does not parse")));
        };
        let max = if flag == "--concurrency" { 256 } else { 86_400 };
        let in_range = (1..=max).contains(&value.parse::<u64>().unwrap());
        match Config::load(&args.common, None, None) {
            Ok(_) => prop_assert!(in_range, "{flag} {value} was accepted"),
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!in_range, "{flag} {value}: {message}");
                prop_assert!(message.contains(flag), "{flag} {value}: {message}");
            }
        }
    }

    /// Any text at all as a config file: loaded or refused, never a panic.
    #[test]
    fn any_config_file_loads_or_is_one_error(text in config_text()) {
        let _ = load_file(&text);
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
