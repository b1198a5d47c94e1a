//! Every setting, layer by layer: with nothing set it has its default; the
//! file overrides the default; the environment the file; a flag the
//! environment. Each step must show the highest layer's value in the
//! validated settings, so a layer that is ignored for a setting — or a
//! setting read from the wrong key — fails its row.
//!
//! The environment layer is what clap read from a `DRIFT_CHECK_*` variable
//! (`tests/config_layers.rs` sets real variables on the binary); here it is
//! built from the same flag text and merged as the environment.

use std::collections::BTreeSet;

use clap::Parser;

use super::layers::{self, Layers};
use super::*;
use crate::cli::{Cli, Command};

/// One setting: its flag, its value in the file (YAML), in the environment
/// and on the command line (flag text), what the settings show for the
/// default and for each of those, and how to read it from the settings.
struct Row {
    flag: &'static str,
    file: &'static str,
    env: &'static str,
    cli: &'static str,
    shown: [&'static str; 4],
    get: fn(&Config) -> String,
}

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_C: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn source(c: &Config) -> &crate::source::Options {
    c.settings.source.as_ref().expect("the file names a repo")
}

fn path(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map_or("None".into(), |p| p.display().to_string())
}

fn managers(policy: fn(&crate::diff::Policy, &str) -> bool, c: &Config) -> String {
    let names = [
        "m-file",
        "m-env",
        "m-flag",
        "kustomize-controller",
        "kubectl-edit",
    ];
    let named: Vec<_> = names
        .into_iter()
        .filter(|m| policy(&c.settings.diff.policy, m))
        .collect();
    named.join(",")
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row { flag: "branch", file: "f", env: "e", cli: "c", shown: ["main", "f", "e", "c"], get: |c| source(c).branch.clone() },
    Row { flag: "revision", file: SHA_A, env: SHA_B, cli: SHA_C, shown: ["None", SHA_A, SHA_B, SHA_C],
          get: |c| source(c).revision.clone().unwrap_or("None".into()) },
    Row { flag: "cache-dir", file: "f", env: "e", cli: "c", shown: ["None", "DIR/f", "e", "c"],
          get: |c| path(&source(c).cache_dir) },
    Row { flag: "git-secret-dir", file: "f", env: "e", cli: "c", shown: ["None", "DIR/f", "e", "c"],
          get: |c| path(&source(c).secret_dir) },
    Row { flag: "git-timeout", file: "10", env: "20", cli: "30", shown: ["120", "10", "20", "30"],
          get: |c| source(c).timeout.as_secs().to_string() },
    Row { flag: "live-snapshot", file: "f", env: "e", cli: "c", shown: ["None", "DIR/f", "e", "c"],
          get: |c| path(&c.settings.live.snapshot) },
    Row { flag: "kustomizations-dir", file: "f", env: "e", cli: "c", shown: ["None", "f", "e", "c"],
          get: |c| path(&c.settings.discover.kustomizations_dir) },
    Row { flag: "kustomization", file: "[f1, f2]", env: "e1,e2", cli: "c", shown: ["", "f1,f2", "e1,e2", "c"],
          get: |c| c.settings.discover.names.join(",") },
    Row { flag: "output", file: "json", env: "markdown", cli: "html", shown: ["Text", "Json", "Markdown", "Html"],
          get: |c| format!("{:?}", c.output) },
    Row { flag: "diff-mode", file: "server", env: "local", cli: "server", shown: ["Local", "Server", "Local", "Server"],
          get: |c| format!("{:?}", c.settings.diff.mode) },
    Row { flag: "kubeconfig", file: "f", env: "e", cli: "c", shown: ["None", "DIR/f", "e", "c"],
          get: |c| path(&c.settings.live.cluster.kubeconfig) },
    Row { flag: "source", file: "ns/f", env: "ns/e", cli: "ns/c", shown: ["None", "f", "e", "c"],
          get: |c| c.settings.discover.source.as_ref().map_or("None".into(), |(_, n)| n.clone()) },
    Row { flag: "request-timeout", file: "10", env: "20", cli: "30", shown: ["30", "10", "20", "30"],
          get: |c| c.settings.live.cluster.timeout.as_secs().to_string() },
    Row { flag: "concurrency", file: "2", env: "3", cli: "5", shown: ["8", "2", "3", "5"],
          get: |c| c.settings.live.cluster.concurrency.to_string() },
    Row { flag: "sources-concurrency", file: "2", env: "3", cli: "5", shown: ["4", "2", "3", "5"],
          get: |c| c.settings.sources.concurrency.to_string() },
    Row { flag: "insecure-kubeconfig-exec", file: "true", env: "false", cli: "true", shown: ["false", "true", "false", "true"],
          get: |c| c.settings.live.cluster.remote.exec.to_string() },
    Row { flag: "insecure-kubeconfig-tls", file: "true", env: "false", cli: "true", shown: ["false", "true", "false", "true"],
          get: |c| c.settings.live.cluster.remote.insecure_tls.to_string() },
    Row { flag: "kustomize-bin", file: "f", env: "e", cli: "c", shown: ["None", "DIR/f", "e", "c"],
          get: |c| path(&c.settings.render.kustomize_bin) },
    Row { flag: "strict-substitution", file: "false", env: "true", cli: "false", shown: ["true", "false", "true", "false"],
          get: |c| c.settings.render.strict_substitution.to_string() },
    Row { flag: "sops-decrypt", file: "true", env: "false", cli: "true", shown: ["false", "true", "false", "true"],
          get: |c| c.settings.render.sops_decrypt.to_string() },
    Row { flag: "helm-release-manifests", file: "true", env: "false", cli: "true", shown: ["false", "true", "false", "true"],
          get: |c| c.settings.helm.release_manifests.to_string() },
    Row { flag: "limits-file-bytes", file: "10", env: "20", cli: "30", shown: ["536870912", "10", "20", "30"],
          get: |c| c.settings.render.limits.file_bytes.to_string() },
    Row { flag: "limits-yaml-nodes", file: "10", env: "20", cli: "30", shown: ["40000000", "10", "20", "30"],
          get: |c| c.settings.live.limits.yaml_nodes.to_string() },
    Row { flag: "limits-yaml-documents", file: "10", env: "20", cli: "30", shown: ["100000", "10", "20", "30"],
          get: |c| c.settings.discover.limits.yaml_documents.to_string() },
    Row { flag: "controller-manager", file: "[m-file]", env: "m-env", cli: "m-flag",
          shown: ["kube-controller-manager", "m-file", "m-env", "m-flag"],
          get: |c| c.settings.classify.controllers.first().cloned().unwrap_or_default() },
    Row { flag: "person-manager", file: "[m-file]", env: "m-env", cli: "m-flag",
          shown: ["kubectl-edit", "m-file", "m-env", "m-flag"],
          get: |c| managers(crate::diff::Policy::is_person, c) },
    Row { flag: "flux-manager", file: "[m-file]", env: "m-env", cli: "m-flag",
          shown: ["kustomize-controller", "m-file", "m-env", "m-flag"],
          get: |c| managers(crate::diff::Policy::is_flux, c) },
];

/// The file's line for `key` (dotted below a section) set to `value`.
fn file_line(key: &str, value: &str) -> String {
    match key.split_once('.') {
        Some((section, rest)) => format!("{section}: {{{rest}: {value}}}"),
        None => format!("{key}: {value}"),
    }
}

/// What clap reads from `--flag=value` (nothing without a value), by field.
fn given(flag: &str, value: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    let mut argv = vec!["drift-check".to_string(), "check".into()];
    argv.extend(value.map(|v| format!("--{flag}={v}")));
    let Ok(Cli {
        command: Command::Check(args),
        ..
    }) = Cli::try_parse_from(&argv)
    else {
        panic!("{argv:?} does not parse");
    };
    super::given(&args.common, args.output, args.diff_mode)
}

/// The settings with the layers up to `top` (0 default, 1 file, 2
/// environment, 3 flag) giving the row's values.
fn shown(row: &Row, top: usize) -> String {
    let setting = layers::SETTINGS
        .iter()
        .find(|s| s.flag == row.flag)
        .unwrap_or_else(|| panic!("no setting has the flag --{}", row.flag));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    let mut text = "repo: r\n".to_string();
    if top >= 1 {
        text.push_str(&file_line(&setting.key, row.file));
    }
    std::fs::write(&path, &text).unwrap();
    let file = file::Read::from(Some(&path)).unwrap();
    let env = given(row.flag, (top >= 2).then_some(row.env));
    let every = env.keys().cloned().collect::<BTreeSet<_>>();
    let (env, _) = layers::command_line(env, &every);
    let (_, flags) = layers::command_line(
        given(row.flag, (top >= 3).then_some(row.cli)),
        &BTreeSet::new(),
    );
    let layers = Layers::new(
        layers::defaults(4),
        file.value.as_ref().map(|(p, v)| (p.as_path(), v.clone())),
        env,
        flags,
    );
    let args = CommonArgs {
        config: Some(path),
        ..Default::default()
    };
    let config = Config::from_layers(&args, &file, &layers)
        .unwrap_or_else(|e| panic!("--{} with layers to {top}: {e}", row.flag))
        .into_inner();
    (row.get)(&config).replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn each_layer_overrides_the_one_below_for_every_setting() {
    for row in ROWS {
        for (top, expected) in row.shown.iter().enumerate() {
            assert_eq!(
                &shown(row, top),
                expected,
                "--{} with layers to {top}",
                row.flag
            );
        }
    }
}

#[test]
fn every_setting_of_the_command_line_has_a_row() {
    let rows: BTreeSet<_> = ROWS.iter().map(|r| r.flag).collect();
    for setting in layers::SETTINGS.iter() {
        if setting.key != "clustersInFlight" {
            assert!(
                rows.contains(setting.flag.as_str()),
                "no row for --{}",
                setting.flag
            );
        }
    }
}
