use super::*;
use serde_json::json;

#[test]
fn copies_a_source_field_into_targets() {
    let mut resources: Vec<Resource> = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"},
               "data": {"image": "nginx:1.25", "replicas": "3"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "web", "image": "x:1"}, {"name": "side", "image": "y:1"}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "other"},
               "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x:1"}]}}}}),
    ]
    .into_iter()
    .map(|o| Resource::new(o, "x"))
    .collect();
    let replacement: Replacement = serde_json::from_value(json!({
        "source": {"kind": "ConfigMap", "name": "env", "fieldPath": "data.image",
                   "options": {"delimiter": ":", "index": 1}},
        "targets": [{
            "select": {"kind": "Deployment"},
            "reject": [{"name": "other"}],
            "fieldPaths": ["spec.template.spec.containers.[name=web].image"],
            "options": {"delimiter": ":", "index": 1}
        }, {
            "select": {"kind": "Deployment", "name": "web"},
            "fieldPaths": ["spec.template.metadata.annotations.version", "spec.absent.field"],
            "options": {"create": false}
        }, {
            "select": {"kind": "Deployment", "name": "web"},
            "fieldPaths": ["spec.template.metadata.annotations.version"],
            "options": {"create": true}
        }]
    }))
    .unwrap();
    apply(&mut resources, &replacement).unwrap();
    assert_eq!(
        resources[1].object["spec"]["template"],
        // The created annotation is a number, as kustomize 5.8.1 writes it
        // (an untagged node; only the object's own labels and annotations
        // are kept strings).
        json!({"spec": {"containers": [{"name": "web", "image": "x:1.25"}, {"name": "side", "image": "y:1"}]},
               "metadata": {"annotations": {"version": 1.25}}})
    );
    assert_eq!(
        resources[2].object["spec"]["template"]["spec"]["containers"][0]["image"],
        "x:1"
    );
}
