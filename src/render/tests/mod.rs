//! End-to-end tests of `render` on small source trees: building, Flux's
//! generation and post-processing, errors naming the file (here); kustomize's
//! transformers ([`transformers`]); robustness and the external binary
//! ([`robustness`]).

mod robustness;
mod sops;
mod transformers;

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
