//! Errors that quote no value, random input, identities, the external kustomize binary, and kustomize's reading rules.

use serde_json::json;

use super::*;

#[test]
fn generator_errors_never_quote_secret_values() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "secretGenerator:\n  - name: creds\n    envs: [creds.env]\n",
        ),
        ("app/creds.env", "password hunter2=x\n"),
    ]);
    let err = render_path(&dir, json!({"path": "app"}))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "app/kustomization.yaml: secretGenerator: app/creds.env: line 1: not a valid variable name"
    );
}

#[test]
fn shape_errors_never_quote_values() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "patches:\n  - \"apiVersion: v1\\nkind: Secret\\nstringData: {password: hunter2}\"\n",
        ),
        ("b/kustomization.yaml", "commonLabels: \"hunter2\"\n"),
    ]);
    for path in ["app", "b"] {
        let err = render_path(&dir, json!({"path": path}))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("invalid type: string \"…\""), "{err}");
    }
}

#[test]
fn refuses_configuration_sections_it_does_not_implement() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\nconfigurations: [config.yaml]\n",
        ),
        ("app/svc.yaml", SERVICE),
        (
            "app/config.yaml",
            "varReference:\n  - path: spec/x\n    kind: Service\n",
        ),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app/config.yaml: configurations: varReference is not supported by the native renderer (use the external kustomize binary option)"
    );
}

/// A small deterministic generator for the fuzz test (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `text` mutated: truncated, characters replaced or YAML and
    /// substitution syntax inserted.
    fn mutate(&mut self, text: &str) -> String {
        const PIECES: &[&str] = &[
            ":",
            "- ",
            "[",
            "]",
            "{",
            "}",
            "\n",
            "  ",
            "${",
            "}",
            "$$",
            "&a",
            "*a",
            "!!str ",
            "---\n",
            "$patch: delete",
            "null",
            "~",
            "\"",
            "'",
            "#",
            "%",
            "@",
            "\t",
            "0x",
            "1e9",
            "\u{0}",
        ];
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..=self.below(4) {
            match self.below(3) {
                0 => {
                    let at = self.below(chars.len() + 1);
                    chars.truncate(at);
                }
                1 if !chars.is_empty() => {
                    let at = self.below(chars.len());
                    chars.remove(at);
                }
                _ => {
                    let at = self.below(chars.len() + 1);
                    let piece = PIECES[self.below(PIECES.len())];
                    for (i, c) in piece.chars().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
            }
        }
        chars.into_iter().collect()
    }
}

#[test]
fn random_and_truncated_input_never_panics() {
    let kustomization = "namespace: web
namePrefix: p-
commonLabels: {team: x}
labels:
  - pairs: {a: b}
    includeSelectors: true
resources: [deploy.yaml, svc.yaml]
configMapGenerator:
  - name: cfg
    literals: [A=1]
    envs: [app.env]
images:
  - name: nginx
    newTag: \"2\"
replicas:
  - name: web
    count: 2
patches:
  - path: patch.yaml
  - target: {kind: Deployment, labelSelector: \"app in (web)\"}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 3
replacements:
  - source: {kind: Service, name: web, fieldPath: spec.ports.0.port}
    targets:
      - select: {kind: Deployment}
        fieldPaths: [spec.template.spec.containers.[name=web].ports.0.containerPort]
";
    let patch = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          env:
            - name: X
              value: ${VALUE:=default}
            - name: Y
              $patch: delete
      volumes:
        - $patch: replace
";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut variables = Variables::default();
    variables.sources.insert(
        ("Secret".into(), "s".into()),
        [("VALUE".to_string(), "hunter2".to_string())].into(),
    );
    for round in 0..300 {
        let files: Vec<(String, String)> = [
            ("app/kustomization.yaml", kustomization),
            ("app/deploy.yaml", DEPLOYMENT),
            ("app/svc.yaml", SERVICE),
            ("app/patch.yaml", patch),
            ("app/app.env", "A=1\nB=2\n"),
        ]
        .iter()
        .map(|(path, text)| {
            let text = if rng.below(3) == 0 {
                rng.mutate(text)
            } else {
                text.to_string()
            };
            (path.to_string(), text)
        })
        .collect();
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let dir = tree(&borrowed);
        let spec = json!({
            "path": "app",
            "targetNamespace": rng.mutate("team"),
            "patches": [{"patch": rng.mutate(patch), "target": {"kind": "Deployment"}}],
            "postBuild": {"substitute": {"N": "3"}, "substituteFrom": [{"kind": "Secret", "name": "s"}]}
        });
        let ks = flux_ks(spec);
        if let Err(e) = render(dir.path(), &ks, &variables) {
            let message = e.to_string();
            assert!(!message.contains("hunter2"), "round {round}: {message}");
        }
    }
}

#[test]
fn objects_must_keep_their_identity_through_patches_and_substitution() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\npatches:\n  - target: {kind: Service}\n    patch: |-\n      - op: remove\n        path: /metadata/name\n",
        ),
        ("app/svc.yaml", SERVICE),
        (
            "subst/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\n",
        ),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app/svc.yaml: an object has no metadata.name after the kustomize build"
    );
    let spec = json!({"path": "/subst", "postBuild": {"substitute": {"OTHER": "x"}}});
    assert_eq!(
        render_path(&dir, spec).unwrap_err().to_string(),
        "ConfigMap/${NAME}: an object has no metadata.name after postBuild substitution"
    );
}

/// A stand-in for the kustomize binary: checks its arguments and the
/// kustomization Flux prepared, then prints `output` (or fails).
#[cfg(unix)]
fn fake_kustomize(dir: &std::path::Path, script_body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-kustomize");
    std::fs::write(&path, format!("#!/bin/sh\n{script_body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[cfg(unix)]
#[test]
fn external_binary_builds_a_copy_with_the_flux_kustomization_and_keeps_flux_post_processing() {
    let dir = tree(&[("app/kustomization.yaml", "helmCharts:\n  - name: podinfo\n")]);
    let bin_dir = tempfile::tempdir().unwrap();
    let binary = fake_kustomize(
        bin_dir.path(),
        r#"[ "$1" = build ] && [ "$2" = --load-restrictor ] && [ "$3" = LoadRestrictionsNone ] || exit 3
grep -q '"namespace": "team"' "$4/kustomization.yaml" || { echo 'Error: no "namespace" injected' >&2; exit 4; }
grep -q helmCharts "$4/kustomization.yaml" || exit 5
cat <<'EOF2'
apiVersion: v1
kind: ConfigMap
metadata:
  name: from-binary
  namespace: team
data:
  region: ${REGION}
EOF2"#,
    );
    let ks = flux_ks(json!({"path": "app", "targetNamespace": "team",
                            "postBuild": {"substitute": {"REGION": "eu"}}}));
    assert!(matches!(
        render(dir.path(), &ks, &Variables::default()),
        Err(RenderError::Kustomize(
            super::super::KustomizeError::Unsupported { .. }
        ))
    ));
    let objects =
        render_with_kustomize_binary(dir.path(), &ks, &Variables::default(), &binary).unwrap();
    assert_eq!(
        objects,
        vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "from-binary", "namespace": "team",
                         "labels": {"kustomize.toolkit.fluxcd.io/name": "apps",
                                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
            "data": {"region": "eu"}})]
    );
    // The checkout itself is untouched.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app/kustomization.yaml")).unwrap(),
        "helmCharts:\n  - name: podinfo\n"
    );

    let failing = fake_kustomize(
        bin_dir.path(),
        "echo 'line one' >&2; echo 'Error: bad value \"hunter2\" here' >&2; exit 1",
    );
    let err = render_with_kustomize_binary(dir.path(), &ks, &Variables::default(), &failing)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: kustomize build failed: Error: bad value \"…\" here",
            failing.display()
        )
    );
}

#[test]
fn replicas_naming_no_workload_is_an_error_as_in_kustomize() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\nreplicas:\n  - name: web\n    count: 2\n",
        ),
        ("app/svc.yaml", SERVICE),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app/kustomization.yaml: replicas: no Deployment, ReplicationController, ReplicaSet or StatefulSet named web"
    );
}

#[test]
fn reads_kustomization_files_the_way_kustomize_does() {
    // An "empty" kustomization is refused by kustomize, but Flux gives a
    // kustomization file without resources `buildMetadata:
    // [originAnnotations]` (fluxcd/pkg `kustomize_generator.go`), so at
    // spec.path it builds to nothing; the one Flux generates for a
    // directory without manifests is still refused.
    let dir = tree(&[
        (
            "empty/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
        ),
        ("placeholder/kustomization.yaml", "resources: []\n"),
        ("nothing/README.md", "no manifests here\n"),
        (
            "dupes/kustomization.yaml",
            "resources: [a.yaml]\nnamespace: first\nnamespace: last\n",
        ),
        (
            "dupes/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  flag: yes\n",
        ),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "empty"})).unwrap(),
        Vec::<Object>::new()
    );
    assert_eq!(
        render_path(&dir, json!({"path": "placeholder"})).unwrap(),
        Vec::<Object>::new()
    );
    assert_eq!(
        render_path(&dir, json!({"path": "nothing"}))
            .unwrap_err()
            .to_string(),
        "nothing/kustomization.yaml (generated by Flux): invalid kustomization: kustomization.yaml is empty"
    );
    // A repeated key keeps its last value; resources are YAML 1.2 (`yes`
    // stays a string), as kustomize reads them.
    let objects = render_path(&dir, json!({"path": "dupes"})).unwrap();
    assert_eq!(objects[0]["metadata"]["namespace"], "last");
    assert_eq!(objects[0]["data"]["flag"], "yes");
}

#[test]
fn flux_drops_unknown_fields_of_the_root_kustomization_before_kustomize_sees_it() {
    // Flux decodes the kustomization at spec.path leniently and writes back
    // only the fields it knows; a misspelt field vanishes (and here leaves a
    // kustomization without resources, which Flux builds to nothing), where
    // kustomize alone would refuse it.
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\ncommonLabel: {typo: x}\n",
        ),
        ("app/svc.yaml", SERVICE),
        ("typo/kustomization.yaml", "resource: [svc.yaml]\n"),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    assert_eq!(subjects(&objects), ["Service/web"]);
    assert!(objects[0]["metadata"]["labels"].get("typo").is_none());
    assert_eq!(
        render_path(&dir, json!({"path": "typo"})).unwrap(),
        Vec::<Object>::new()
    );
}

#[test]
fn vars_must_name_one_object_and_be_declared_once() {
    let var = |name: &str, target: &str| {
        format!("  - name: {name}\n    objref: {{apiVersion: v1, kind: Service, name: {target}}}\n")
    };
    let cases = [
        (
            format!("resources: [svc.yaml]\nvars:\n{}", var("A", "other")),
            "app/kustomization.yaml: vars: var A cannot be mapped to a field in the set of known resources",
        ),
        (
            format!(
                "resources: [svc.yaml]\nvars:\n{}{}",
                var("A", "web"),
                var("A", "web")
            ),
            "app/kustomization.yaml: vars: var A is declared more than once",
        ),
    ];
    for (kustomization, want) in cases {
        let dir = tree(&[
            ("app/kustomization.yaml", &kustomization),
            ("app/svc.yaml", SERVICE),
        ]);
        assert_eq!(
            render_path(&dir, json!({"path": "app"}))
                .unwrap_err()
                .to_string(),
            want
        );
    }
}

#[test]
fn an_encrypted_object_under_spec_decryption_renders_in_the_clear_without_its_sops_metadata() {
    // Regression: one SOPS-encrypted Secret made the whole Kustomization
    // unrenderable, and nothing of it was checked.
    let enc = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources:\n- secret.yaml\n- settings.yaml\n",
        ),
        (
            "app/secret.yaml",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: {enc}\nsops:\n  mac: {enc}\n  version: 3.9.0\n"
            ),
        ),
        (
            "app/settings.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  mode: fast\n",
        ),
    ]);
    let objects = render_path(
        &dir,
        json!({"path": "app", "decryption": {"provider": "sops"}}),
    )
    .unwrap();
    assert_eq!(objects.len(), 2);
    let secret = objects.iter().find(|o| o["kind"] == "Secret").unwrap();
    assert_eq!(secret.get("sops"), None);
    assert_eq!(secret["stringData"]["password"], enc);
    // Without decryption Flux applies it as it is, and so renders drift-check.
    let as_is = render_path(&dir, json!({"path": "app"})).unwrap();
    assert!(as_is.iter().any(|o| o.get("sops").is_some()));
}

#[test]
fn null_fields_of_a_kustomization_file_and_its_entries_read_as_absent() {
    // kustomize reads its file with sigs.k8s.io/yaml into Go structs: a
    // field with nothing after it is absent, at any depth.
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources:\n- svc.yaml\nconfigMapGenerator:\n- name: settings\n  literals:\n  - mode=fast\n  files:\n  options:\n    labels:\npatches:\n- path: patch.yaml\n  target:\n",
        ),
        ("app/svc.yaml", SERVICE),
        (
            "app/patch.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    patched: \"yes\"\n",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    let config_map = objects.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    assert_eq!(config_map["data"], json!({"mode": "fast"}));
    let service = objects.iter().find(|o| o["kind"] == "Service").unwrap();
    assert_eq!(service["metadata"]["annotations"]["patched"], "yes");
}
