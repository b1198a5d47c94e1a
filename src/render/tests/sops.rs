//! SOPS under a Kustomization's own keys, end to end through `render`:
//! files a `secretGenerator` reads decrypted before the build (Flux's name
//! hash), and each bad input — a corrupted MAC, an unknown SOPS version, an
//! object for a key the Secret does not hold — one note, the rest rendered.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::render::sops::{Decryption, decrypt::Keys};

fn age_keys() -> Decryption {
    let data = BTreeMap::from([(
        "age.agekey".to_string(),
        include_str!("../sops/testdata/test.agekey").to_string(),
    )]);
    let keys = Keys::from_secret("Secret/flux-system/sops-age".into(), &data).unwrap();
    Decryption::Keys(Arc::new(keys))
}

fn with_keys(dir: &tempfile::TempDir, decryption: Decryption) -> Output {
    let ks = flux_ks(
        json!({"path": "app", "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    );
    let sources = Sources {
        data: BTreeMap::new(),
        decryption,
    };
    let options = Options {
        sops_decrypt: true,
        ..Default::default()
    };
    kustomization(dir.path(), &ks, Some(&sources), &options).unwrap()
}

const KUSTOMIZATION: &str = "namespace: apps\nresources:\n- secret.yaml\n- mac.yaml\n- future.yaml\n- pgp.yaml\n- settings.yaml\nsecretGenerator:\n- name: app\n  envs:\n  - app.env\n";

/// The tree: good and bad SOPS objects (fixtures the real sops encrypted),
/// a ConfigMap, and a Secret generated from `env` (the encrypted dotenv
/// file, or what `sops --decrypt` writes of it).
fn tree_with(env: &str) -> tempfile::TempDir {
    let secret = include_str!("../sops/testdata/secret.yaml");
    // The MAC covers the encrypted values only (`mac_only_encrypted`): two
    // list items swapped still decrypt, the MAC does not match.
    let mac =
        include_str!("../sops/testdata/secret-mac-only.yaml").replace("name: db", "name: db-mac");
    let lines: Vec<&str> = mac.lines().collect();
    let hosts = lines.iter().position(|l| l.trim() == "hosts:").unwrap();
    let mut swapped = lines.clone();
    swapped.swap(hosts + 1, hosts + 2);
    let mac = swapped.join("\n") + "\n";
    let future = secret
        .replace("name: db", "name: db-future")
        .replace("version: 3.13.3", "version: 4.0.0");
    let pgp = include_str!("../sops/testdata/secret-pgp.yaml").replace("name: db", "name: db-pgp");
    tree(&[
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/secret.yaml", secret),
        ("app/mac.yaml", &mac),
        ("app/future.yaml", &future),
        ("app/pgp.yaml", &pgp),
        (
            "app/settings.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
        ),
        ("app/app.env", env),
    ])
}

#[test]
fn each_bad_sops_input_is_one_note_and_everything_else_renders_decrypted() {
    let dir = tree_with(include_str!("../sops/testdata/app.env"));
    let output = with_keys(&dir, age_keys());
    let fpr = include_str!("../sops/testdata/test-pgp.fpr").trim();
    assert_eq!(
        output.notes,
        [
            "Secret/apps/db-mac: values not decrypted, not compared: its SOPS MAC does not match its encrypted values: it was changed after it was encrypted, not with sops".to_string(),
            "Secret/apps/db-future: values not decrypted, not compared: its SOPS metadata has no version, or version 4.0.0 (drift-check reads SOPS 3 files)".into(),
            format!("Secret/apps/db-pgp: values not decrypted, not compared: no key of Secret/flux-system/sops-age decrypts its data key (it is encrypted for PGP {fpr})"),
        ]
    );
    let named = |name: &str| {
        output
            .objects
            .iter()
            .position(|o| o["metadata"]["name"] == name)
    };
    let db = named("db").unwrap();
    assert_eq!(output.objects[db]["stringData"]["password"], "hunter2");
    assert!(output.secret_paths[db].contains(&"/stringData/password".to_string()));
    for bad in ["db-mac", "db-future", "db-pgp"] {
        let object = &output.objects[named(bad).unwrap()];
        assert!(
            crate::render::sops::is_encrypted(&object["stringData"]["password"]),
            "{bad}"
        );
    }
    assert_eq!(
        output.objects[named("settings").unwrap()]["data"]["mode"],
        "fast"
    );

    // The generated Secret: decrypted before the build, so named as Flux
    // names it — as rendered from the tree kustomize-controller has once
    // it decrypted the file.
    let plain = tree_with(include_str!("../sops/testdata/app.plain.env"));
    let flux = with_keys(&plain, age_keys());
    let generated = |o: &Output| {
        let i = o
            .objects
            .iter()
            .position(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("app-"))
            })
            .unwrap();
        (o.objects[i].clone(), o.secret_paths[i].clone())
    };
    let (secret, paths) = generated(&output);
    assert_eq!(secret, generated(&flux).0);
    assert_eq!(paths, ["/data/API_KEY", "/data/DB_URL"]);
    assert!(output.unknown_hashes.is_empty());

    // Without the key, its name hash is unknown (and said so).
    let no_key = with_keys(&dir, Decryption::NoKey);
    let name = no_key
        .objects
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .find(|n| n.starts_with("app-"))
        .unwrap();
    assert_ne!(Some(name), secret["metadata"]["name"].as_str());
    assert_eq!(
        no_key.unknown_hashes,
        [crate::render::sops::UnknownHash {
            namespace: Some("apps".into()),
            name: name.to_string(),
            base: "app".into()
        }]
    );
}
