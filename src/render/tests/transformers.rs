//! kustomize's transformers end to end: patches, name prefixes and references, Flux's spec injection, generators.

use serde_json::json;

use super::*;

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
fn spec_images_merge_with_the_same_image_of_the_kustomization_yaml() {
    // kustomize-controller v1.9.4 (fluxcd/pkg 14c3fd79): a spec.images entry
    // setting some fields keeps the others of the kustomization.yaml's entry;
    // newTag and digest are one unit. Before, the entry was replaced and
    // overriding only newName gave an untagged image.
    let image = |spec_image: Value| {
        let dir = tree(&[
            (
                "app/kustomization.yaml",
                "resources: [deploy.yaml]
images:
  - name: nginx
    newName: from-file/nginx
    newTag: \"1.27\"
",
            ),
            ("app/deploy.yaml", DEPLOYMENT),
        ]);
        let objects = render_path(&dir, json!({"path": "app", "images": [spec_image]})).unwrap();
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        image(json!({"name": "nginx", "newName": "registry.local/nginx"})),
        "registry.local/nginx:1.27"
    );
    assert_eq!(
        image(json!({"name": "nginx", "newTag": "1.28"})),
        "from-file/nginx:1.28"
    );
    // A digest replaces the file's tag rather than joining it.
    assert_eq!(
        image(json!({"name": "nginx", "digest": "sha256:abc"})),
        "from-file/nginx@sha256:abc"
    );
    // An entry with only the name changes nothing.
    assert_eq!(image(json!({"name": "nginx"})), "from-file/nginx:1.27");
    // Another image is appended, as before.
    assert_eq!(
        image(json!({"name": "busybox", "newTag": "1"})),
        "from-file/nginx:1.27"
    );
}

/// The transformations annotation kustomize writes for these built-in
/// transformers of these kustomization files, in order.
fn transformations(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(file, kind)| {
            format!("- configuredIn: {file}\n  configuredBy:\n    apiVersion: builtin\n    kind: {kind}\n")
        })
        .collect()
}

#[test]
fn build_metadata_annotates_origins_and_transformations_as_kustomize_does() {
    // Expected values from `kubectl kustomize` (kustomize v5.5.0) on the same
    // tree with `buildMetadata: [originAnnotations, transformerAnnotations]`.
    let dir = tree(&[
        (
            "base/kustomization.yaml",
            "resources: [deploy.yaml]\ncommonLabels: {tier: web}\n",
        ),
        ("base/deploy.yaml", DEPLOYMENT),
        (
            "app/kustomization.yaml",
            "namespace: apps
namePrefix: p-
resources: [../base, ./svc.yaml]
configMapGenerator:
  - name: cfg
    literals: [A=1]
images:
  - name: nginx
    newTag: \"2\"
patches:
  - patch: |-
      - op: add
        path: /metadata/annotations/x
        value: y
    target: {kind: Service}
",
        ),
        ("app/svc.yaml", SERVICE),
    ]);
    let spec =
        json!({"path": "app", "buildMetadata": ["originAnnotations", "transformerAnnotations"]});
    let objects = render_path(&dir, spec.clone()).unwrap();
    let annotations = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap()
            .pointer("/metadata/annotations")
            .cloned()
            .unwrap()
    };
    let app = |kind| ("kustomization.yaml", kind);
    let at_app = [
        app("PatchTransformer"),
        app("NamespaceTransformer"),
        app("PrefixTransformer"),
        app("ImageTagTransformer"),
    ];
    assert_eq!(
        annotations("Deployment"),
        json!({
            "config.kubernetes.io/origin": "path: ../base/deploy.yaml\n",
            "alpha.config.kubernetes.io/transformations": transformations(
                &[&[("../base/kustomization.yaml", "LabelTransformer")][..], &at_app].concat()
            ),
        })
    );
    assert_eq!(
        annotations("Service"),
        json!({
            "config.kubernetes.io/origin": "path: svc.yaml\n",
            "alpha.config.kubernetes.io/transformations": transformations(&at_app),
            "x": "y",
        })
    );
    assert_eq!(
        annotations("ConfigMap"),
        json!({
            "config.kubernetes.io/origin": "configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n",
            "alpha.config.kubernetes.io/transformations": transformations(&at_app),
        })
    );

    // One option alone: the other's annotation is removed at the end.
    let objects = render_path(
        &dir,
        json!({"path": "app", "buildMetadata": ["originAnnotations"]}),
    )
    .unwrap();
    let deploy = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        deploy["metadata"]["annotations"],
        json!({"config.kubernetes.io/origin": "path: ../base/deploy.yaml\n"})
    );
    let objects = render_path(
        &dir,
        json!({"path": "app", "buildMetadata": ["transformerAnnotations"]}),
    )
    .unwrap();
    let deploy = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert!(
        deploy["metadata"]["annotations"]
            .get("config.kubernetes.io/origin")
            .is_none()
    );
    assert!(
        deploy["metadata"]["annotations"]
            .get("alpha.config.kubernetes.io/transformations")
            .is_some()
    );

    // Without buildMetadata, none of it.
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    assert!(objects.iter().all(|o| {
        o.pointer("/metadata/annotations")
            .and_then(serde_json::Value::as_object)
            .is_none_or(|a| a.keys().all(|k| k == "x"))
    }));
}

#[test]
fn build_metadata_values_are_checked_by_name() {
    let dir = tree(&[("app/svc.yaml", SERVICE)]);
    let err = crate::discover::from_object(
        &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": "flux-system"},
                "spec": {"path": "app", "buildMetadata": ["managedByLabel"]}}),
        crate::flux::Origin::Live,
        "flux-system",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("live state: Kustomization apps: spec: unknown variant `managedByLabel`, expected `originAnnotations` or `transformerAnnotations`"),
        "{err}"
    );
    // In a kustomization file, managedByLabel (whose value names the
    // kustomize version) is refused by the native engine.
    let dir2 = tree(&[
        (
            "app/kustomization.yaml",
            "resources: [svc.yaml]\nbuildMetadata: [managedByLabel]\n",
        ),
        ("app/svc.yaml", SERVICE),
    ]);
    drop(dir);
    assert_eq!(
        render_path(&dir2, json!({"path": "app"}))
            .unwrap_err()
            .to_string(),
        "app/kustomization.yaml: buildMetadata: managedByLabel is not supported by the native renderer (use the external kustomize binary option)"
    );
}

#[test]
fn a_kustomization_file_without_resources_gets_origin_annotations_as_flux_gives_it() {
    // fluxcd/pkg kustomize_generator.go: "if there are no resources, set the
    // build metadata to avoid kustomization.yaml is empty build error".
    let dir = tree(&[(
        "app/kustomization.yaml",
        "configMapGenerator:\n  - name: cfg\n    literals: [A=1]\n",
    )]);
    let objects = render_path(&dir, json!({"path": "app"})).unwrap();
    assert_eq!(
        objects[0]["metadata"]["annotations"],
        json!({"config.kubernetes.io/origin": "configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"})
    );
}
