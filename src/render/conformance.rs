//! Conformance of the native kustomize engine with the real kustomize.
//!
//! Input: the cases under `fixtures/conformance/<case>/`: a kustomization
//! in `case/` (and whatever it refers to next to it), `expected.yaml`, the
//! output of the real kustomize for it (`kustomize build case`, kustomize
//! v5.8.1 — the version Flux 2.9 pins — see the README there), and
//! `expected-flux.json`, the render of the Flux Kustomization
//! `fixtures/conformance/flux-kustomization.yaml` (spec injection of every
//! kind) whose kustomize build ran the real binary. That the binary still
//! gives both is checked by the integration tests (`tests/conformance.rs`).
//! Output: a test failure listing, per case, every object missing, extra,
//! or different field by field. Objects are compared as sets keyed by
//! apiVersion/kind/namespace/name: kustomize's CLI sorts its output, Flux
//! does not.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::kustomize::{self, KustFile};
use super::load::Root;

type Key = (String, String, String, String);

fn key(object: &Value) -> Key {
    let s = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        s("/apiVersion"),
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name"),
    )
}

/// Numbers compare by value (`1.0` = `1`).
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// Field-by-field differences as JSON Pointers.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}/{k}");
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: missing (want {wv})")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}/{k}: unexpected {}", g[k]));
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}/{i}"), wv, gv, out);
            }
        }
        _ if want != got => out.push(format!("{path}: want {want}, got {got}")),
        _ => {}
    }
}

fn render_case(dir: &Path) -> Result<Vec<Value>, String> {
    let root = Root::new(dir, Default::default()).map_err(|e| e.to_string())?;
    let case = root.path().join("case");
    let file = root
        .kustomization_file(&case)
        .map_err(|e| e.to_string())?
        .ok_or("no kustomization in case/")?;
    let kust = KustFile::read(&root, &file).map_err(|e| e.to_string())?;
    let resources =
        kustomize::build_root(&root, &case, &kust, &root.rel(&file)).map_err(|e| e.to_string())?;
    Ok(resources.into_iter().map(|r| r.object).collect())
}

/// The differences for one case; empty when it conforms.
fn check_case(dir: &Path) -> Vec<String> {
    let expected_text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap_or_default();
    let root = match Root::new(dir, Default::default()) {
        Ok(root) => root,
        Err(e) => return vec![e.to_string()],
    };
    let expected = match root.parse_documents(&expected_text, "expected.yaml") {
        Ok(docs) => docs,
        Err(e) => return vec![format!("expected.yaml: {e}")],
    };
    let got = match render_case(dir) {
        Ok(objects) => objects,
        Err(e) => return vec![format!("render failed: {e}")],
    };
    compare(&expected, &got)
}

/// Differences between two object lists, compared as sets.
fn compare(want: &[Value], got: &[Value]) -> Vec<String> {
    let want: BTreeMap<Key, Value> = want.iter().map(|o| (key(o), normalize(o))).collect();
    let got: BTreeMap<Key, Value> = got.iter().map(|o| (key(o), normalize(o))).collect();
    let mut out = Vec::new();
    for (k, w) in &want {
        match got.get(k) {
            Some(g) => {
                let mut fields = Vec::new();
                diff("", w, g, &mut fields);
                out.extend(fields.into_iter().map(|f| format!("{k:?}{f}")));
            }
            None => out.push(format!("{k:?}: missing")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{k:?}: unexpected"));
    }
    out
}

fn cases() -> Vec<std::path::PathBuf> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conformance");
    let mut cases: Vec<_> = std::fs::read_dir(&base)
        .expect("fixtures/conformance exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("expected.yaml").is_file())
        .collect();
    cases.sort();
    cases
}

#[test]
fn native_render_matches_the_kustomize_binary_through_flux() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conformance");
    let object: Value = crate::yaml::read_document(&base.join("flux-kustomization.yaml"))
        .expect("fixtures/conformance/flux-kustomization.yaml parses");
    let ks = crate::discover::from_object(&object, crate::flux::Origin::Live, "flux-system")
        .expect("a valid Kustomization");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(case.join("expected-flux.json")) else {
            continue;
        };
        checked += 1;
        let want: Vec<Value> = serde_json::from_str(&text).expect("valid expected-flux.json");
        match super::render(&case, &ks, &super::Variables::default()) {
            Ok(got) => failures.extend(
                compare(&want, &got)
                    .into_iter()
                    .map(|d| format!("{name}: {d}")),
            ),
            Err(e) => failures.push(format!("{name}: render failed: {e}")),
        }
    }
    assert!(
        checked >= 40,
        "only {checked} cases have expected-flux.json"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn native_engine_matches_kustomize_on_every_conformance_case() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} conformance cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        for difference in check_case(case) {
            failures.push(format!("{name}: {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Differential run over a corpus made by
/// `fixtures/conformance/random/generate.py` (it needs the kustomize binary,
/// so it is not part of the default run):
///
/// ```text
/// DRIFT_CHECK_TEST_KUSTOMIZE_BIN=$(scripts/services/kustomize) \
///   python3 fixtures/conformance/random/generate.py /tmp/corpus 401 250
/// DRIFT_CHECK_RANDOM_CORPUS=/tmp/corpus cargo test --lib random_kustomizations
/// ```
#[test]
fn random_kustomizations_match_kustomize() {
    let Ok(corpus) = std::env::var("DRIFT_CHECK_RANDOM_CORPUS") else {
        eprintln!(
            "SKIPPED: DRIFT_CHECK_RANDOM_CORPUS names no generated corpus (a manual differential run)"
        );
        return;
    };
    let mut dirs: Vec<_> = std::fs::read_dir(&corpus)
        .expect("the corpus directory exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("case").is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "{corpus} holds no cases");
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.join("expected.yaml").is_file() {
            failures.extend(check_case(&dir).into_iter().map(|d| format!("{name}: {d}")));
        } else if let Ok(objects) = render_case(&dir) {
            failures.push(format!(
                "{name}: native rendered {} objects where kustomize failed",
                objects.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
