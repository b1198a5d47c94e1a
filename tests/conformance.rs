//! The conformance corpus (`fixtures/conformance/`) against the reference
//! kustomize, v5.8.1 (the version Flux 2.9's kustomize-controller pins),
//! installed by `scripts/services/kustomize` and named by
//! `DRIFT_CHECK_TEST_KUSTOMIZE_BIN`: its outputs are the corpus's expected
//! files, byte for byte (`expected.yaml`) and object for object
//! (`expected-flux.json`). The native engine is held to the same files by the
//! unit tests in `render::conformance`, so it agrees with 5.8.1 on every case.
//!
//! `DRIFT_CHECK_REGENERATE_CONFORMANCE=1` writes the expected files from the
//! binary instead of comparing (for new cases, or a new reference version).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{root, service};

/// The reference binary: a failure under `scripts/test` when it is missing,
/// a loud skip under plain `cargo test` (`util::service`).
fn kustomize() -> Option<PathBuf> {
    service("DRIFT_CHECK_TEST_KUSTOMIZE_BIN").map(PathBuf::from)
}

fn regenerate() -> bool {
    std::env::var_os("DRIFT_CHECK_REGENERATE_CONFORMANCE").is_some()
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<_> = std::fs::read_dir(root().join("fixtures/conformance"))
        .expect("fixtures/conformance exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("case").is_dir() && p.join("expected.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "only {} conformance cases", cases.len());
    cases
}

fn name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn kustomize_5_8_1_builds_every_case_as_its_expected_yaml() {
    let Some(binary) = kustomize() else { return };
    let mut failures = Vec::new();
    for case in cases() {
        let out = Command::new(&binary)
            .arg("build")
            .arg(case.join("case"))
            .output()
            .expect("the kustomize binary runs");
        if !out.status.success() {
            failures.push(format!(
                "{}: kustomize failed: {}",
                name(&case),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        let expected = case.join("expected.yaml");
        if regenerate() {
            std::fs::write(&expected, &out.stdout).unwrap();
        } else if std::fs::read(&expected).unwrap() != out.stdout {
            failures.push(format!(
                "{}: expected.yaml is not what kustomize builds:\n{}",
                name(&case),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Objects sorted by apiVersion/kind/namespace/name: Flux applies the build
/// order, kustomize's CLI sorts, the native engine keeps its own order.
fn sorted(mut objects: Vec<Value>) -> Vec<Value> {
    let key = |o: &Value| {
        [
            "/apiVersion",
            "/kind",
            "/metadata/namespace",
            "/metadata/name",
        ]
        .map(|p| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
    };
    objects.sort_by_key(key);
    objects
}

#[test]
fn flux_render_with_kustomize_5_8_1_is_every_cases_expected_flux_json() {
    let Some(binary) = kustomize() else { return };
    let object: Value = drift_check::yaml::read_document(
        &root().join("fixtures/conformance/flux-kustomization.yaml"),
    )
    .expect("flux-kustomization.yaml parses");
    let ks =
        drift_check::discover::from_object(&object, drift_check::flux::Origin::Live, "flux-system")
            .expect("a valid Kustomization");
    let variables = drift_check::render::Variables::default();
    let mut failures = Vec::new();
    for case in cases() {
        let in_build_order = match drift_check::render::render_with_kustomize_binary(
            &case, &ks, &variables, &binary,
        ) {
            Ok(objects) => objects,
            Err(e) => {
                failures.push(format!("{}: kustomize render failed: {e:#}", name(&case)));
                continue;
            }
        };
        let theirs = sorted(in_build_order.clone());
        let expected = case.join("expected-flux.json");
        let want: Option<Vec<Value>> = std::fs::read_to_string(&expected)
            .ok()
            .map(|text| sorted(serde_json::from_str(&text).expect("valid expected-flux.json")));
        if regenerate() {
            // Rewritten only when the objects differ (their order does not count).
            if want.as_ref() != Some(&theirs) {
                let text = serde_json::to_string_pretty(&in_build_order).unwrap() + "\n";
                std::fs::write(&expected, text).unwrap();
            }
            continue;
        }
        let Some(want) = want else {
            failures.push(format!("{}: no expected-flux.json", name(&case)));
            continue;
        };
        if want != theirs {
            failures.push(format!(
                "{}: expected-flux.json is not the render with kustomize:\n{}",
                name(&case),
                serde_json::to_string_pretty(&theirs).unwrap()
            ));
        }
        let ours = drift_check::render::render(&case, &ks, &variables).map(sorted);
        match ours {
            Ok(ours) if ours == theirs => {}
            Ok(ours) => failures.push(format!(
                "{}: the native render differs from the render with kustomize:\n{}",
                name(&case),
                serde_json::to_string_pretty(&ours).unwrap()
            )),
            Err(e) => failures.push(format!("{}: native render failed: {e:#}", name(&case))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
