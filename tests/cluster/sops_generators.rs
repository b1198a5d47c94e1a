//! A Kustomization whose `secretGenerator` reads SOPS-encrypted files (a
//! dotenv file and a YAML file) next to a SOPS-encrypted Secret, encrypted
//! at test time by the real `sops` for an age key (age-keygen) and a PGP
//! key (Debian's gpg). Flux decrypts the files before the build, so the
//! generated Secret's name hash is over the decrypted content: without the
//! key drift-check cannot know it and must neither call the Secret missing
//! nor the live one orphaned; with either key it renders Flux's own name.

use std::path::Path;
use std::process::Command;

use drift_check::report::Format;

use super::secrets::{changes_of, check_one, reconcile_like_flux, write};
use super::*;

/// Runs a command, failing the test with its error output.
fn run(command: &mut Command) -> Vec<u8> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A throwaway PGP key made by gpg in a home of its own: (fingerprint,
/// armored secret key as `gpg --export-secret-keys --armor` writes it).
fn gpg_key(gpg: &str, home: &Path, name: &str) -> (String, String) {
    std::fs::create_dir_all(home).unwrap();
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let params = home.join("params");
    // As Flux's SOPS guide makes one: no passphrase, RSA with a subkey.
    std::fs::write(
        &params,
        format!("%no-protection\nKey-Type: 1\nKey-Length: 3072\nSubkey-Type: 1\nSubkey-Length: 3072\nExpire-Date: 0\nName-Real: {name}\n"),
    )
    .unwrap();
    let gpg_in = |args: &[&str]| {
        let mut c = Command::new(gpg);
        c.env("GNUPGHOME", home).arg("--batch").args(args);
        c
    };
    run(&mut gpg_in(&[
        "--full-generate-key",
        params.to_str().unwrap(),
    ]));
    let listing =
        String::from_utf8(run(&mut gpg_in(&["--list-secret-keys", "--with-colons"]))).unwrap();
    let fpr = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .unwrap()
        .to_string();
    let armored =
        String::from_utf8(run(&mut gpg_in(&["--export-secret-keys", "--armor", &fpr]))).unwrap();
    (fpr, armored)
}

const NS: &str = "sops-gen";

#[test]
fn a_secret_generated_from_sops_files_is_neither_missing_nor_orphaned_without_the_key_and_has_fluxs_name_with_it()
 {
    let Some(p) = platform() else { return };
    let (Some(sops), Some(keygen), Some(gpg)) = (
        service("DRIFT_CHECK_TEST_SOPS_BIN"),
        service("DRIFT_CHECK_TEST_AGE_KEYGEN"),
        service("DRIFT_CHECK_TEST_GPG"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let age_key = work.path().join("age.agekey");
    run(Command::new(&keygen).arg("-o").arg(&age_key));
    let age_text = std::fs::read_to_string(&age_key).unwrap();
    let recipient = age_text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let gnupg = work.path().join("gnupg");
    let (fpr, armored) = gpg_key(&gpg, &gnupg, "sops-gen.drift-check.invalid");
    let (_, other_armored) = gpg_key(
        &gpg,
        &work.path().join("other"),
        "other.drift-check.invalid",
    );

    let files = [
        (
            "gen/kustomization.yaml",
            "namespace: sops-gen\nresources:\n- namespace.yaml\n- db.sops.yaml\n- web.yaml\nsecretGenerator:\n- name: app\n  envs:\n  - app.env\n  files:\n  - config.yaml\n",
        ),
        (
            "gen/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sops-gen\n",
        ),
        (
            "gen/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        envFrom:\n        - secretRef:\n            name: app\n      volumes:\n      - name: config\n        secret:\n          secretName: app\n",
        ),
        (
            "gen/db.sops.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: db-canary-3f7e\n",
        ),
        ("gen/app.env", "API_KEY=gen-canary-a1c4\nMODE=fast\n"),
        ("gen/config.yaml", "token: gen-canary-b2d9\nport: 8080\n"),
    ];
    let repo = work.path().join("repo");
    write(&repo, &files);
    let sops_cmd = || {
        let mut c = Command::new(&sops);
        c.env("GNUPGHOME", &gnupg)
            .env("SOPS_AGE_KEY_FILE", &age_key)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    Path::new(&gpg).parent().unwrap().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        c
    };
    for (file, extra) in [
        (
            "gen/db.sops.yaml",
            &["--encrypted-regex", "^(data|stringData)$"][..],
        ),
        ("gen/app.env", &[]),
        ("gen/config.yaml", &[]),
    ] {
        run(sops_cmd()
            .args([
                "--encrypt",
                "--in-place",
                "--age",
                &recipient,
                "--pgp",
                &fpr,
            ])
            .args(extra)
            .arg(repo.join(file)));
    }
    // What kustomize-controller has on disk once it decrypted the files
    // (SOPS writes them back in its own formatting) and the object.
    let plain = work.path().join("plain");
    write(&plain, &files);
    for file in ["gen/app.env", "gen/config.yaml", "gen/db.sops.yaml"] {
        let decrypted = run(sops_cmd().arg("--decrypt").arg(repo.join(file)));
        std::fs::write(plain.join(file), decrypted).unwrap();
    }
    for file in ["gen/app.env", "gen/config.yaml", "gen/db.sops.yaml"] {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        assert!(!text.contains("canary"), "{file} is not encrypted: {text}");
    }

    runtime().block_on(async {
        let client = client(&p.admin).await;
        let resources = Resources::new(&client).await;
        let manifest = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "sops-gen", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./gen", "prune": true,
                     "decryption": {"provider": "sops", "secretRef": {"name": "sops-gen-keys"}},
                     "sourceRef": {"kind": "GitRepository", "name": "secrets-infra"}}});
        let stored = reconcile_like_flux(&client, &resources, &manifest, &plain).await;
        let flux_name = stored
            .iter()
            .filter(|o| o["kind"] == "Secret")
            .filter_map(|o| o["metadata"]["name"].as_str())
            .find(|n| n.starts_with("app-"))
            .unwrap()
            .to_string();
        // The precondition of the false alarm: hashed over the encrypted
        // files, the rendered name is another.
        let ks = discover::from_object(&manifest, flux::Origin::Live, "flux-system").unwrap();
        let no_key = drift_check::render::render(&repo, &ks, &Default::default()).unwrap();
        let rendered_name = no_key
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str())
            .find(|n| n.starts_with("app-"))
            .unwrap();
        assert_ne!(rendered_name, flux_name);

        // Without the key: nothing missing, nothing orphaned, the
        // Deployment's reference to the Secret not drift.
        let report = check_one(p, &repo, "sops-gen").await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(changes_of(&report), [], "{:#?}", report.findings);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        let warnings: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
        let matched = format!("Secret/sops-gen/app-…: generated from SOPS-encrypted files, so its name hash is not known without the key: compared with the live Secret {flux_name} this Kustomization applied; its values are not compared");
        assert!(warnings.contains(&matched.as_str()), "{warnings:#?}");

        // A person adds a key and changes a value of the generated Secret.
        let app = reference("v1", "Secret", Some(NS), &flux_name);
        update(&client, &resources, &app, "kubectl-edit", Patch::Merge(json!({
            "data": {"API_KEY": "cGVyc29uLWNhbmFyeS05ZTI=", "EXTRA": "eA=="}}))).await;
        let secret = format!("Secret/{NS}/{flux_name}");
        let report = check_one(p, &repo, "sops-gen").await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(
            changes_of(&report),
            [(secret.clone(), "modified".into(), "/data/EXTRA".into(), Some("kubectl-edit".into()))]
        );

        // With each key (the Secret kustomize-controller reads, sopsDecrypt
        // on): Flux's own name, the changed value found too, masked.
        let mut a = args(&p.admin);
        a.config = None;
        a.repo = vec![repo.clone()];
        a.source = Some("flux-system/secrets-infra".into());
        a.kustomizations = vec!["sops-gen".into()];
        a.sops_decrypt = Some(true);
        let keys = |data: Value| json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sops-gen-keys", "namespace": "flux-system"}, "stringData": data});
        // The decryption Secret holds only the keys given: made anew.
        let replace_keys = |data: Value| {
            let (client, resources) = (&client, &resources);
            async move {
                let secret = keys(data);
                let (api, name) = resources.api(client, &secret);
                let _ = api.delete(&name, &DeleteParams::default()).await;
                apply(client, resources, &secret, "test-setup").await;
            }
        };
        let with_key = [
            ("PGP", json!({"sops.asc": armored})),
            ("age", json!({"age.agekey": age_text})),
        ];
        for (which, data) in with_key {
            replace_keys(data).await;
            let report = check(&a, DiffMode::Local).await;
            assert!(report.errors.is_empty(), "{which}: {:?}", report.errors);
            assert_eq!(
                changes_of(&report),
                [
                    (secret.clone(), "modified".into(), "/data/API_KEY".into(), Some("kubectl-edit".into())),
                    (secret.clone(), "modified".into(), "/data/EXTRA".into(), Some("kubectl-edit".into())),
                ],
                "{which}"
            );
            assert!(report.warnings.iter().all(|w| !w.message.contains("SOPS")), "{which}: {:#?}", report.warnings);
            assert_no_canary(&report, &[&armored, &age_text]);
        }

        // The binary, with the age key, debug logs and the HTML page: no
        // decrypted value, no key in any output.
        let html = work.path().join("report.html");
        let kubeconfig = p.admin.to_str().unwrap();
        let out = TestCommand::new()
            .args(["check", "-o", "json", "--sops-decrypt", "--log-level", "debug", "--source", "flux-system/secrets-infra", "-k", "sops-gen", "--kubeconfig", kubeconfig, "--repo"])
            .arg(&repo)
            .arg("--html-out")
            .arg(&html)
            .output();
        let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
        assert_eq!(crate::util::summary_of_json(&report).len(), 1, "{}", out.stdout);
        let page = std::fs::read_to_string(&html).unwrap();
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("HTML", &page)] {
            for canary in canaries().iter().chain(&key_lines(&[&age_text])) {
                assert!(!text.contains(canary), "{canary} in {what}");
            }
        }

        // `run` with the age key, posting to a real Matrix room, the
        // pushgateway and a state file: none of them holds a decrypted
        // value, the value the person wrote, or a key.
        let (Some(synapse), Some(gateway)) = (crate::util::matrix::synapse(), crate::util::matrix::pushgateway()) else {
            panic!("the sinks' services are asked for with the cluster's");
        };
        let (bot, owner_token, room_id, alias) = crate::util::matrix::room_for(&synapse, "sops").await;
        let config = work.path().join("run.yaml");
        std::fs::write(&config, format!(
            "cluster: sops-canary\nnotify:\n{}  pushgateway:\n    url: {gateway}\n",
            crate::util::matrix::matrix_section(&synapse, &alias, &bot, "")
        )).unwrap();
        let out = TestCommand::new()
            .args(["run", "-o", "json", "--sops-decrypt", "--source", "flux-system/secrets-infra", "-k", "sops-gen", "--kubeconfig", kubeconfig, "--config"])
            .arg(&config)
            .arg("--repo")
            .arg(&repo)
            .env("DRIFT_CHECK_MATRIX_PASSWORD", "bot-pass")
            .output();
        assert_eq!(out.code, 0, "delivered: {}", out.stderr);
        let events = synapse.events(&owner_token, &room_id).await;
        let posted = crate::util::matrix::notices_from(&events, &bot);
        assert_eq!(posted.len(), 1, "{events:#?}");
        let room = serde_json::to_string(&events).unwrap();
        let state = std::fs::read_to_string(work.path().join("state.json")).unwrap();
        let metrics = reqwest::get(format!("{gateway}/metrics")).await.unwrap().text().await.unwrap();
        assert!(metrics.contains("cluster=\"sops-canary\""), "the run's series were pushed");
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("the Matrix room", &room), ("the state", &state), ("the pushgateway", &metrics)] {
            for canary in canaries().iter().chain(&key_lines(&[&age_text])) {
                assert!(!text.contains(canary), "{canary} in {what}");
            }
        }

        // A PGP key that does not match, then garbage: one warning each, the
        // Kustomization checked as without a key, nothing missing/orphaned.
        for (data, expected) in [
            (json!({"sops.asc": other_armored}), "gen/app.env: SOPS-encrypted dotenv file not decrypted, its values not compared: no key of Secret/flux-system/sops-gen-keys decrypts its data key"),
            (json!({"sops.asc": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ngarbage-canary\n"}), "values encrypted with SOPS not decrypted: Secret/flux-system/sops-gen-keys: data key sops.asc: not an armored OpenPGP key (-----BEGIN PGP PRIVATE KEY BLOCK-----)"),
        ] {
            replace_keys(data).await;
            let report = check(&a, DiffMode::Local).await;
            assert!(report.errors.is_empty(), "{:?}", report.errors);
            assert_eq!(
                changes_of(&report),
                [(secret.clone(), "modified".into(), "/data/EXTRA".into(), Some("kubectl-edit".into()))],
                "{expected}: {:#?} {:#?}", report.warnings, report.findings
            );
            assert!(
                report.warnings.iter().any(|w| w.message.starts_with(expected)),
                "{expected}: {:#?}", report.warnings
            );
            assert_no_canary(&report, &[&other_armored, "garbage-canary"]);
        }
    });
}

/// No decrypted value, value a person wrote, nor key is in any output.
fn assert_no_canary(report: &Report, keys: &[&str]) {
    for format in [Format::Text, Format::Json, Format::Markdown, Format::Html] {
        let text = report.render(format);
        for canary in canaries().iter().chain(&key_lines(keys)) {
            assert!(!text.contains(canary), "{canary} in the {format:?} report");
        }
    }
}

/// The decrypted values, the value a person wrote, and their base64.
fn canaries() -> [&'static str; 6] {
    [
        "gen-canary-a1c4",
        "gen-canary-b2d9",
        "db-canary-3f7e",
        "person-canary-9e2",
        "cGVyc29uLWNhbmFyeS05ZTI",
        "Z2VuLWNhbmFyeS1hMWM0",
    ]
}

/// The lines of key material of these keys.
fn key_lines<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    keys.iter()
        .flat_map(|k| k.lines())
        .filter(|l| l.len() > 20 && !l.starts_with("-----") && !l.starts_with('#'))
        .collect()
}
