//! End-to-end tests of `render` on small source trees.

use serde_json::{Value, json};

use super::*;
use crate::discover;
use crate::flux::Origin;

/// A source tree with these files.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// A Flux Kustomization `flux-system/apps` with this spec.
fn flux_ks(spec: Value) -> Kustomization {
    let object = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": spec,
    });
    discover::from_object(&object, Origin::Live, "flux-system").unwrap()
}

fn render_path(dir: &tempfile::TempDir, spec: Value) -> Result<Vec<Object>, RenderError> {
    render(dir.path(), &flux_ks(spec), &Variables::default())
}

/// `Kind/namespace/name` of each object, in order.
fn subjects(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .map(|o| crate::k8s::object::ObjectRef::of(o).unwrap().to_string())
        .collect()
}

fn find<'a>(objects: &'a [Object], kind: &str, name: &str) -> &'a Object {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not rendered"))
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.25
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
";

#[test]
fn builds_resources_from_files_directories_lists_and_multi_document_yaml() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources:\n  - deploy.yaml\n  - more.yaml\n  - base\n  - list.yaml\n",
        ),
        ("app/deploy.yaml", DEPLOYMENT),
        ("app/more.yaml", &format!("---\n{SERVICE}---\n# empty\n")),
        ("app/base/kustomization.yml", "resources: [sa.yaml]\n"),
        (
            "app/base/sa.yaml",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: bot\n  namespace: ops\n",
        ),
        (
            "app/list.yaml",
            "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "./app"})).unwrap();
    assert_eq!(
        subjects(&objects),
        [
            "Deployment/web",
            "Service/web",
            "ServiceAccount/ops/bot",
            "ConfigMap/a"
        ]
    );
    for object in &objects {
        assert_eq!(
            object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
            "apps"
        );
        assert_eq!(
            object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"],
            "flux-system"
        );
    }
}

#[test]
fn recognises_each_kustomization_file_name() {
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        let dir = tree(&[
            (&format!("app/{name}"), "resources: [svc.yaml]\n"),
            ("app/svc.yaml", SERVICE),
        ]);
        let objects = render_path(&dir, json!({"path": "app"})).unwrap();
        assert_eq!(subjects(&objects), ["Service/web"], "{name}");
    }
    let dir = tree(&[
        ("app/kustomization.yaml", "resources: []\n"),
        ("app/Kustomization", "resources: []\n"),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app: found more than one kustomization file (kustomization.yaml, Kustomization)"
    );
}

#[test]
fn sets_namespace_labels_and_annotations_where_kustomize_does() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namespace: web
commonLabels:
  team: docs
labels:
  - pairs: {tier: frontend}
  - pairs: {release: stable}
    includeTemplates: true
  - pairs: {track: blue}
    includeSelectors: true
commonAnnotations:
  owner: platform
resources: [deploy.yaml, svc.yaml, ns.yaml]
",
        ),
        ("app/deploy.yaml", DEPLOYMENT),
        ("app/svc.yaml", SERVICE),
        (
            "app/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    let deploy = find(&objects, "Deployment", "web");
    assert_eq!(deploy["metadata"]["namespace"], "web");
    assert_eq!(
        deploy["metadata"]["labels"],
        json!({"tier": "frontend", "release": "stable", "track": "blue", "team": "docs",
               "kustomize.toolkit.fluxcd.io/name": "apps",
               "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
    );
    assert_eq!(
        deploy["spec"]["selector"]["matchLabels"],
        json!({"app": "web", "track": "blue", "team": "docs"})
    );
    assert_eq!(
        deploy["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web", "release": "stable", "track": "blue", "team": "docs"},
               "annotations": {"owner": "platform"}})
    );
    let svc = find(&objects, "Service", "web");
    assert_eq!(
        svc["spec"]["selector"],
        json!({"app": "web", "track": "blue", "team": "docs"})
    );
    let ns = find(&objects, "Namespace", "web");
    assert!(ns["metadata"].get("namespace").is_none());
    assert_eq!(ns["metadata"]["annotations"], json!({"owner": "platform"}));
}

#[test]
fn generates_a_kustomization_like_flux_when_the_path_has_none() {
    let dir = tree(&[
        ("apps/b.yaml", SERVICE),
        ("apps/a.yml", DEPLOYMENT),
        ("apps/README.md", "# not yaml"),
        (
            "apps/sub/x.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        ),
        (
            "apps/nested/kustomization.yaml",
            "resources: [cm.yaml]\nnamespace: nested\n",
        ),
        (
            "apps/nested/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nested\n",
        ),
        (
            "apps/nested/deeper/ignored.yaml",
            "this: is not read because nested has a kustomization\n",
        ),
        ("apps/.sops.yaml", "creation_rules: []\n"),
        (".sourceignore", "apps/drafts/\n*.local.yaml\n"),
        ("apps/drafts/wip.yaml", "not: kubernetes\n"),
        ("apps/sub/dev.local.yaml", "not: kubernetes\n"),
        ("apps/sub/.sourceignore", "scratch.yaml\n"),
        ("apps/sub/scratch.yaml", "not: kubernetes\n"),
    ]);
    let objects = render_path(&dir, json!({"path": "./apps"})).unwrap();
    assert_eq!(
        subjects(&objects),
        [
            "Deployment/web",
            "Service/web",
            "ConfigMap/nested/nested",
            "ConfigMap/x"
        ]
    );

    let dir = tree(&[
        ("apps/a.yaml", SERVICE),
        ("apps/values.yaml", "replicas: 3\n"),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "./apps"}))
            .unwrap_err()
            .to_string(),
        "apps/values.yaml: failed to decode Kubernetes YAML: document 1: missing apiVersion"
    );
}

#[test]
fn target_namespace_overrides_the_kustomization_namespace() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namespace: from-file\nresources: [svc.yaml, crb.yaml]\n",
        ),
        ("app/svc.yaml", SERVICE),
        (
            "app/crb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: read
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
  - kind: ServiceAccount
    name: default
    namespace: kube-system
",
        ),
    ]);
    let objects =
        render_path(&dir, json!({"path": "app", "targetNamespace": "from-flux"})).unwrap();
    assert_eq!(
        subjects(&objects),
        ["Service/from-flux/web", "ClusterRoleBinding/read"]
    );
    assert_eq!(objects[1]["subjects"][0]["namespace"], "from-flux");
    // Also on a generated kustomization.
    let dir = tree(&[("app/svc.yaml", SERVICE)]);
    let objects =
        render_path(&dir, json!({"path": "app", "targetNamespace": "from-flux"})).unwrap();
    assert_eq!(subjects(&objects), ["Service/from-flux/web"]);
}

#[test]
fn substitutes_post_build_variables_then_sets_owner_labels_and_common_metadata() {
    let dir = tree(&[(
        "app/cm.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-${ENV}
  labels:
    kustomize.toolkit.fluxcd.io/name: overwritten
data:
  region: ${REGION:=eu-west-1}
  literal: $${ENV}
  secret: ${PASSWORD}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${REPLICAS}
",
    )]);
    let ks = flux_ks(json!({
        "path": "app",
        "postBuild": {
            "substitute": {"ENV": "prod", "REPLICAS": "3"},
            "substituteFrom": [{"kind": "Secret", "name": "creds"}]
        },
        "commonMetadata": {"labels": {"kustomize.toolkit.fluxcd.io/namespace": "common-wins", "env": "prod"},
                           "annotations": {"contact": "platform"}}
    }));
    let mut variables = Variables::default();
    variables.sources.insert(
        ("Secret".into(), "creds".into()),
        [("PASSWORD".to_string(), "hunter2".to_string())].into(),
    );
    let objects = render(dir.path(), &ks, &variables).unwrap();
    assert_eq!(
        objects[0],
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "settings-prod",
                "labels": {"kustomize.toolkit.fluxcd.io/name": "apps",
                           "kustomize.toolkit.fluxcd.io/namespace": "common-wins",
                           "env": "prod"},
                "annotations": {"contact": "platform"}
            },
            "data": {"region": "eu-west-1", "literal": "${ENV}", "secret": "hunter2"}
        })
    );
    assert_eq!(objects[1]["spec"]["replicas"], 3);
    let err = render(dir.path(), &ks, &Variables::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "postBuild.substituteFrom: Secret/creds not found"
    );
}

/// Files of a source tree: (path, text).
type Files<'a> = &'a [(&'a str, &'a str)];

#[test]
fn errors_name_the_file_and_field() {
    let cases: &[(Files, &str, &str)] = &[
        (
            &[("x.yaml", SERVICE)],
            "missing",
            "Kustomization flux-system/apps: spec.path: missing does not exist",
        ),
        (
            &[("app/kustomization.yaml", "resources: [nope.yaml]\n")],
            "app",
            "app/kustomization.yaml: resources: nope.yaml does not exist",
        ),
        (
            &[(
                "app/kustomization.yaml",
                "resources:\n  - https://github.com/org/repo//deploy?ref=v1\n",
            )],
            "app",
            "app/kustomization.yaml: resources: remote resource https://github.com/org/repo//deploy?ref=v1 is not supported by the native renderer (vendor it into the repository, or use the external kustomize binary option)",
        ),
        (
            &[
                ("app/kustomization.yaml", "resources: [cm.yaml]\n"),
                (
                    "app/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
                ),
            ],
            "app",
            "app/cm.yaml: document 1: not a Kubernetes object: missing metadata.name",
        ),
        (
            &[("app/kustomization.yaml", "helmCharts:\n  - name: x\n")],
            "app",
            "app/kustomization.yaml: helmCharts is not supported by the native renderer (use the external kustomize binary option)",
        ),
        (
            &[
                ("app/kustomization.yaml", "resources: [base]\n"),
                ("app/base/kustomization.yaml", "resource: [a.yaml]\n"),
            ],
            "app",
            "app/base/kustomization.yaml: invalid kustomization: unknown field `resource`",
        ),
        (
            &[
                ("app/kustomization.yaml", "resources: [base]\n"),
                ("app/base/cm.yaml", SERVICE),
            ],
            "app",
            "app/base: no kustomization.yaml, kustomization.yml or Kustomization in this directory",
        ),
        (
            &[
                ("app/kustomization.yaml", "resources: [../other]\n"),
                ("other/kustomization.yaml", "resources: [../app]\n"),
            ],
            "app",
            "other/kustomization.yaml: cycle: app is already being built",
        ),
        (
            &[
                ("app/kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
                ("app/a.yaml", SERVICE),
                ("app/b.yaml", SERVICE),
            ],
            "app",
            "app/kustomization.yaml: Service/web is already defined (from app/a.yaml and app/b.yaml)",
        ),
    ];
    for (files, path, want) in cases {
        let dir = tree(files);
        let got = render_path(&dir, json!({"path": path}))
            .unwrap_err()
            .to_string();
        let got = match got.split_once(", expected one of") {
            Some((head, _)) => head.to_string(),
            None => got,
        };
        assert_eq!(got, *want);
    }
}

#[test]
fn malformed_yaml_is_an_error_never_a_panic() {
    let inputs = [
        "resources: [a.yaml\n",
        "resources:\n  - a.yaml\n - b\n",
        "\u{0}\u{1}garbage: : :\n",
        "resources: 42\n",
        "- just\n- a list\n",
        "namespace: [1, 2]\n",
        "commonLabels:\n  a: {b: c}\n",
        "labels: [{pairs: 1}]\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  password: aHVudGVyMg==\n  broken: [\n",
    ];
    for input in inputs {
        for len in 0..=input.len() {
            if !input.is_char_boundary(len) {
                continue;
            }
            let truncated = &input[..len];
            let dir = tree(&[
                ("app/kustomization.yaml", truncated),
                ("app2/kustomization.yaml", "resources: [x.yaml]\n"),
                ("app2/x.yaml", truncated),
            ]);
            let _ = render_path(&dir, json!({"path": "app"}));
            if let Err(e) = render_path(&dir, json!({"path": "app2"})) {
                assert!(!e.to_string().contains("aHVudGVyMg"), "{e}");
            }
        }
    }
}

#[test]
fn applies_patches_in_kustomize_order_with_targets() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namespace: web
resources: [deploy.yaml, svc.yaml]
patchesStrategicMerge:
  - smp.yaml
patches:
  - path: json.yaml
    target:
      kind: Deployment
      name: w.b
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        template:
          spec:
            containers:
              - name: web
                env:
                  - name: MODE
                    value: patched
  - patch: |-
      - op: add
        path: /metadata/annotations
        value: {selected: by-label}
    target:
      labelSelector: app=web
      kind: Service
patchesJson6902:
  - target: {group: apps, version: v1, kind: Deployment, name: web}
    patch: |-
      - op: test
        path: /metadata/namespace
        value: web
",
        ),
        ("app/deploy.yaml", DEPLOYMENT),
        (
            "app/svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  ports: [{port: 80}]\n",
        ),
        (
            "app/smp.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
        ),
        (
            "app/json.yaml",
            "- op: replace\n  path: /spec/replicas\n  value: 5\n",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    let deploy = find(&objects, "Deployment", "web");
    assert_eq!(deploy["spec"]["replicas"], 5);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0],
        json!({"name": "web", "image": "nginx:1.25", "env": [{"name": "MODE", "value": "patched"}]})
    );
    let svc = find(&objects, "Service", "web");
    assert_eq!(
        svc["metadata"]["annotations"],
        json!({"selected": "by-label"})
    );

    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\npatchesStrategicMerge:\n  - |-\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: other\n",
        ),
        ("app/svc.yaml", SERVICE),
    ]);
    assert_eq!(
        render_path(&dir, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app/kustomization.yaml: patchesStrategicMerge: no resource matches strategic merge patch Service/other"
    );
}

#[test]
fn prefixes_names_and_fixes_references_to_them() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namePrefix: team-\nnameSuffix: -v1\nresources: [base]\n",
        ),
        (
            "app/base/kustomization.yaml",
            "namespace: apps\nresources: [all.yaml]\n",
        ),
        (
            "app/base/all.yaml",
            "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      serviceAccountName: bot
      containers:
        - name: web
          envFrom: [{configMapRef: {name: settings}}]
          env:
            - name: X
              valueFrom: {configMapKeyRef: {name: unrelated, key: x}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
  - {kind: ServiceAccount, name: bot, namespace: apps}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    assert_eq!(
        subjects(&objects),
        [
            "ConfigMap/apps/team-settings-v1",
            "ServiceAccount/apps/team-bot-v1",
            "Deployment/apps/team-web-v1",
            "RoleBinding/apps/team-bot-v1",
            "CustomResourceDefinition/widgets.example.com"
        ]
    );
    let pod = &objects[2]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "team-bot-v1");
    assert_eq!(
        pod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        "team-settings-v1"
    );
    assert_eq!(
        pod["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"],
        "unrelated"
    );
    assert_eq!(
        objects[3]["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "team-bot-v1", "namespace": "apps"})
    );
    assert_eq!(objects[3]["roleRef"]["name"], "view");
}

#[test]
fn injects_flux_spec_patches_images_prefix_and_components() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namePrefix: from-file-
resources: [deploy.yaml]
images:
  - name: nginx
    newTag: from-file
  - name: busybox
    newTag: from-file
",
        ),
        ("app/deploy.yaml", DEPLOYMENT),
        (
            "components/replicas/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nreplicas:\n  - name: web\n    count: 4\n",
        ),
    ]);
    let spec = json!({
        "path": "app",
        "namePrefix": "flux-",
        "images": [{"name": "nginx", "newName": "registry.local/nginx", "digest": "sha256:abc"}],
        "patches": [{"patch": "- op: add\n  path: /metadata/annotations\n  value: {patched: \"yes\"}\n",
                     "target": {"kind": "Deployment"}}],
        "components": ["../components/replicas", "../components/missing"],
        "ignoreMissingComponents": true
    });
    let objects = render_path(&dir, spec).unwrap();
    assert_eq!(subjects(&objects), ["Deployment/flux-web"]);
    let deploy = &objects[0];
    assert_eq!(deploy["spec"]["replicas"], 4);
    assert_eq!(deploy["metadata"]["annotations"], json!({"patched": "yes"}));
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/nginx@sha256:abc"
    );

    let err = render_path(
        &dir,
        json!({"path": "app", "components": ["../components/missing"]}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "app/kustomization.yaml: components: ../components/missing does not exist"
    );
}

#[test]
fn generates_config_maps_and_secrets_with_kustomize_hashes_and_rewrites_references() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "namePrefix: p-
namespace: apps
resources: [base]
configMapGenerator:
  - name: settings
    behavior: merge
    literals: [MODE=\"overlay\", EXTRA=1]
secretGenerator:
  - name: creds
    envs: [creds.env]
    type: kubernetes.io/basic-auth
  - name: plain
    literals: [token=abc]
    options:
      disableNameSuffixHash: true
generatorOptions:
  labels: {generated: \"yes\"}
",
        ),
        (
            "app/creds.env",
            "# comment\nusername=admin\n\npassword=hunter2\n",
        ),
        (
            "app/base/kustomization.yaml",
            "resources: [deploy.yaml]\nconfigMapGenerator:\n  - name: settings\n    files: [app.conf, renamed=other.conf]\n    literals: [MODE=base]\n",
        ),
        ("app/base/app.conf", "listen 80;\n"),
        ("app/base/other.conf", "x"),
        (
            "app/base/deploy.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          envFrom: [{configMapRef: {name: settings}}, {secretRef: {name: creds}}]
      volumes:
        - name: conf
          configMap: {name: settings}
        - name: secret
          secret: {secretName: plain}
",
        ),
    ]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    let names = subjects(&objects);
    let cm_name = names[1]
        .strip_prefix("ConfigMap/apps/")
        .unwrap()
        .to_string();
    let secret_name = names[2].strip_prefix("Secret/apps/").unwrap().to_string();
    assert_eq!(names[0], "Deployment/apps/p-web");
    assert_eq!(names[3], "Secret/apps/p-plain");
    let cm = &objects[1];
    assert_eq!(
        cm["data"],
        json!({"app.conf": "listen 80;\n", "renamed": "x", "MODE": "overlay", "EXTRA": "1"})
    );
    let want_hash = super::kustomize::test_hash(&{
        let mut o = cm.clone();
        o["metadata"]["name"] = json!("p-settings");
        o
    });
    assert_eq!(cm_name, format!("p-settings-{want_hash}"));
    let secret = &objects[2];
    assert_eq!(secret["type"], "kubernetes.io/basic-auth");
    assert_eq!(
        secret["data"],
        json!({"username": "YWRtaW4=", "password": "aHVudGVyMg=="})
    );
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"generated": "yes",
        "kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
    );
    assert!(secret_name.starts_with("p-creds-") && secret_name.len() == "p-creds-".len() + 10);
    let pod = &objects[0]["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        cm_name.as_str()
    );
    assert_eq!(
        pod["containers"][0]["envFrom"][1]["secretRef"]["name"],
        secret_name.as_str()
    );
    assert_eq!(pod["volumes"][0]["configMap"]["name"], cm_name.as_str());
    assert_eq!(pod["volumes"][1]["secret"]["secretName"], "p-plain");
}

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
        Err(RenderError::Unsupported { .. })
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
    // An "empty" kustomization is refused (also Flux's for an empty
    // directory); `resources: []` is not empty.
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
        render_path(&dir, json!({"path": "empty"}))
            .unwrap_err()
            .to_string(),
        "empty/kustomization.yaml: invalid kustomization: kustomization.yaml is empty"
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
    // only the fields it knows; a misspelt field vanishes (and here leaves an
    // empty kustomization), where kustomize alone would refuse it.
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
        render_path(&dir, json!({"path": "typo"}))
            .unwrap_err()
            .to_string(),
        "typo/kustomization.yaml: invalid kustomization: kustomization.yaml is empty"
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
