//! The documented changes made to the fixture platform (kubectl's and the
//! controllers' field managers), and every finding they must give.

use super::*;

/// The docs Kustomization's `spec.ignore` on the cluster: the pager
/// annotation on-call tooling sets, on the docs-portal Deployment.
pub(super) fn docs_ignore() -> Value {
    json!([{"paths": ["/metadata/annotations/oncall.planapulse.com~1pager"],
            "target": {"group": "apps", "kind": "Deployment", "labelSelector": "app.kubernetes.io/name=docs-portal"}}])
}

/// The fixture platform's cases, made the way people and controllers make them.
pub(super) async fn change_the_platform(client: &Client, r: &Resources) {
    let docs_portal = reference("apps/v1", "Deployment", Some("docs"), "docs-portal");
    // 1. kubectl edit deploy/docs-portal: replicas 2 → 5.
    update(
        client,
        r,
        &docs_portal,
        "kubectl-edit",
        Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await;
    // 2 and 11. kubectl set env / set image (the CI pipeline).
    update(
        client,
        r,
        &docs_portal,
        "kubectl-set",
        Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "docs-portal", "image": "registry.planapulse.com/docs-portal:1.4.2",
         "env": [{"name": "DEBUG_TOOLBAR", "value": "true"}]}]}}}})),
    )
    .await;
    // Cluster only: kubectl annotate deploy/docs-portal oncall.planapulse.com/pager=…,
    // a field the docs Kustomization's spec.ignore tells Flux to leave alone.
    update(
        client,
        r,
        &docs_portal,
        "kubectl-annotate",
        Patch::Merge(
            json!({"metadata": {"annotations": {"oncall.planapulse.com/pager": "docs-team"}}}),
        ),
    )
    .await;
    // 3. The ClusterRoleBinding deleted by hand.
    let crb = reference(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        None,
        "system:konnectivity-server",
    );
    let (api, name) = r.api(client, &crb);
    api.delete(&name, &DeleteParams::default()).await.unwrap();
    // 4. A NetworkPolicy applied by hand with the platform's Flux label.
    let netpol = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-debug-ingress", "namespace": "docs", "labels": {"app.kubernetes.io/managed-by": "flux"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "docs-portal"}},
                 "ingress": [{"from": [{"namespaceSelector": {}}]}]}});
    let (api, _) = r.api(client, &netpol);
    let data: DynamicObject = serde_json::from_value(netpol.clone()).unwrap();
    api.create(
        &PostParams {
            field_manager: Some("kubectl-client-side-apply".into()),
            ..Default::default()
        },
        &data,
    )
    .await
    .unwrap();
    // 5. Crossplane composes the route too, and rewrites its backend.
    let xr = json!({"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient",
        "metadata": {"name": "acme-x7k2p"}, "spec": {"tenant": "acme", "version": "v18"}});
    apply(client, r, &xr, "kubectl-client-side-apply").await;
    let (xr_api, _) = r.api(client, &xr);
    let uid = xr_api
        .get("acme-x7k2p")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let route = reference(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        Some("tenants"),
        "acme-portal",
    );
    let (route_api, _) = r.api(client, &route);
    let mut rules = route_api.get("acme-portal").await.unwrap().data["spec"]["rules"].clone();
    rules[0]["backendRefs"][0]["namespace"] = json!("acme-v18");
    update(client, r, &route, &format!("apiextensions.crossplane.io/composed/{uid}"), Patch::Merge(json!({
        "metadata": {"labels": {"crossplane.io/composite": "acme-x7k2p", "app.kubernetes.io/managed-by": "crossplane"},
                     "ownerReferences": [{"apiVersion": "platform.planapulse.com/v1alpha1", "kind": "PLANAClient",
                                          "name": "acme-x7k2p", "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"rules": rules}}))).await;
    // 6. The HPA scales grafana 1 → 3.
    let grafana = reference("apps/v1", "Deployment", Some("monitoring"), "grafana");
    update(
        client,
        r,
        &grafana,
        "kube-controller-manager",
        Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await;
    // 7. flux suspend kustomization crossplane, then a test Composition applied by hand.
    let crossplane = reference(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        Some("flux-system"),
        "crossplane",
    );
    update(
        client,
        r,
        &crossplane,
        "flux",
        Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await;
    let composition = reference(
        "apiextensions.crossplane.io/v1",
        "Composition",
        None,
        "planaclient-v18",
    );
    let (comp_api, _) = r.api(client, &composition);
    let mut resources =
        comp_api.get("planaclient-v18").await.unwrap().data["spec"]["resources"].clone();
    resources[0]["base"]["spec"]["rules"][0]["backendRefs"][0]["port"] = json!(8443);
    update(
        client,
        r,
        &composition,
        "kubectl-client-side-apply",
        Patch::Merge(json!({"spec": {"resources": resources}})),
    )
    .await;
    // 8. A ConfigMap Flux does not reconcile, edited by hand.
    let dashboards = reference("v1", "ConfigMap", Some("monitoring"), "grafana-dashboards");
    update(
        client,
        r,
        &dashboards,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"platform-overview.json": "{\"title\": \"edited\"}"}})),
    )
    .await;
    // 9. A Secret's value changed by hand.
    // 13. kubectl patch of what helm-controller deployed for monitoring/prometheus.
    helm::patch_prometheus(client, r).await;
    let secret = reference("v1", "Secret", Some("monitoring"), "alertmanager-matrix");
    update(
        client,
        r,
        &secret,
        "kubectl-edit",
        Patch::Merge(json!({"data": {"webhook-token": "aHVudGVyMi1jaGFuZ2VkLWxpdmU="}})),
    )
    .await;
    // kubectl label sa/docs-deployer -n docs debug=true
    let sa = reference("v1", "ServiceAccount", Some("docs"), "docs-deployer");
    update(
        client,
        r,
        &sa,
        "kubectl-label",
        Patch::Merge(json!({"metadata": {"labels": {"debug": "true"}}})),
    )
    .await;
    // kubectl patch clusterrole platform-viewer: one more rule.
    let role = reference(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        None,
        "platform-viewer",
    );
    let (role_api, _) = r.api(client, &role);
    let mut rules = role_api.get("platform-viewer").await.unwrap().data["rules"].clone();
    rules
        .as_array_mut()
        .unwrap()
        .push(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}));
    update(
        client,
        r,
        &role,
        "kubectl-patch",
        Patch::Merge(json!({"rules": rules})),
    )
    .await;
    // 10. kubectl rollout restart.
    let adapter = reference(
        "apps/v1",
        "Deployment",
        Some("monitoring"),
        "prometheus-adapter",
    );
    update(
        client,
        r,
        &adapter,
        "kubectl-rollout",
        Patch::Strategic(json!({"spec": {"template": {"metadata": {"annotations":
        {"kubectl.kubernetes.io/restartedAt": "2026-11-24T07:42:10Z"}}}}})),
    )
    .await;
}

/// The findings the changed platform gives (shared with the snapshot test
/// of `fixtures/live/apiserver-1.36`, written from this platform).
pub fn expected() -> Vec<crate::util::Row> {
    let row = |k: &str, o: &str, d: &str, w: &str, e: bool| {
        (
            k.to_string(),
            o.to_string(),
            d.to_string(),
            w.to_string(),
            e,
        )
    };
    let mut rows = vec![
        row(
            "flux-system/crossplane",
            "Composition/planaclient-v18",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/docs",
            "Deployment/docs/docs-portal",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/monitoring",
            "ConfigMap/monitoring/grafana-dashboards",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/grafana",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/prometheus-adapter",
            "modified",
            "flux",
            true,
        ),
        row(
            "flux-system/monitoring",
            "Secret/monitoring/alertmanager-matrix",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/network-policies",
            "NetworkPolicy/docs/allow-debug-ingress",
            "orphaned",
            "flux",
            false,
        ),
        row(
            "flux-system/platform-routes",
            "HTTPRoute/tenants/acme-portal",
            "conflict",
            "crossplane",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ClusterRoleBinding/system:konnectivity-server",
            "missing",
            "flux",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ClusterRole/platform-viewer",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/rbac-system",
            "ServiceAccount/docs/docs-deployer",
            "modified",
            "flux",
            false,
        ),
        row(
            "flux-system/monitoring",
            "Deployment/monitoring/prometheus-server",
            "modified",
            "helm",
            false,
        ),
    ];
    rows.sort();
    rows
}

/// A change as (desired, live, manager).
type Seen = (Option<Value>, Option<Value>, Option<String>);

pub(super) fn changes(report: &Report, object: &str) -> BTreeMap<String, Seen> {
    let finding = report
        .findings
        .iter()
        .find(|f| f.object.to_string() == object)
        .unwrap_or_else(|| panic!("no finding for {object}"));
    finding
        .changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                (c.desired.clone(), c.live.clone(), c.manager.clone()),
            )
        })
        .collect()
}
