//! The synthetic infra repo the benchmarks share.

use std::path::Path;

/// A synthetic infra repo: `n` Kustomizations under `infra/k8s/app-NNN`, each
/// with `per` objects in its own namespace (Deployments, Services, ConfigMaps,
/// ServiceAccounts, Roles, RoleBindings), a kustomization that sets the
/// namespace and the platform label, a patch and a generated ConfigMap; Flux
/// Kustomization manifests in `clusters/bench`.
pub fn generate(repo: &Path, n: usize, per: usize) {
    let clusters = repo.join("clusters/bench");
    std::fs::create_dir_all(&clusters).unwrap();
    for i in 0..n {
        let name = format!("app-{i:03}");
        let dir = repo.join("infra/k8s").join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut docs = Vec::new();
        // One generated ConfigMap per Kustomization counts toward `per`.
        for j in 0..per.saturating_sub(1) {
            let doc = match j % 10 {
                0 => format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{j}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web-{j}}}\n  template:\n    metadata:\n      labels: {{app: web-{j}}}\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.{j}\n        ports: [{{containerPort: 8080}}]\n        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n          limits: {{memory: 0.5Gi}}\n        env:\n        - {{name: MODE, value: prod}}\n"
                ),
                1 => format!(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-{}\nspec:\n  selector: {{app: web-{}}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n",
                    j - 1,
                    j - 1
                ),
                2 => format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-{j}\n"),
                3 => format!(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader-{j}\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get, list]\n"
                ),
                4 => format!(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: reader-{j}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader-{}}}\nsubjects:\n- {{kind: ServiceAccount, name: sa-{}}}\n",
                    j - 1,
                    j - 2
                ),
                _ => format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{j}\ndata:\n  key: value-{j}\n  replicas: \"3\"\n"
                ),
            };
            docs.push(doc);
        }
        std::fs::write(dir.join("resources.yaml"), docs.join("---\n")).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {name}\nlabels:\n- pairs: {{app.kubernetes.io/managed-by: flux}}\nresources: [resources.yaml]\nconfigMapGenerator:\n- name: generated\n  literals: [region=ch-gva-2, tier={name}]\npatches:\n- target: {{kind: Deployment}}\n  patch: |\n    - op: add\n      path: /metadata/annotations\n      value: {{team: platform}}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            clusters.join(format!("{name}.yaml")),
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./infra/k8s/{name}\n  prune: true\n  sourceRef: {{kind: GitRepository, name: infra}}\n"
            ),
        )
        .unwrap();
    }
}
