//! `images` and `replicas`.
//!
//! Input: resources and the `images` / `replicas` entries. Output: container
//! images rewritten (every `containers`/`initContainers` list at any depth,
//! kustomize's image tag filter; image volumes at `spec.volumes` and
//! `spec.template.spec.volumes`) and `spec.replicas` set.

use serde::Deserialize;
use serde_json::Value;

use super::fieldspec::FieldSpec;
use super::resource::{self, Resource};

/// One `images` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// Splits `name[:tag][@digest]` (a `:` before the last `/` is a registry
/// port, not a tag).
fn split(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

impl Image {
    /// The new image for `current`, when this entry applies to it.
    fn update(&self, current: &str) -> Option<String> {
        let (name, tag, digest) = split(current);
        if name != self.name {
            return None;
        }
        let new_name = self.new_name.as_deref().unwrap_or(name);
        let (tag, digest) = match (self.new_tag.as_deref(), self.digest.as_deref()) {
            (Some(t), Some(d)) => (Some(t), Some(d)),
            (Some(t), None) => (Some(t), None),
            (None, Some(d)) => (None, Some(d)),
            (None, None) => (tag, digest),
        };
        let mut out = new_name.to_string();
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = digest.filter(|d| !d.is_empty()) {
            out.push('@');
            out.push_str(d);
        }
        Some(out)
    }
}

/// Applies the `images` entries to every container at any depth, and to
/// the image fields `configurations` name.
pub fn apply(resources: &mut [Resource], images: &[Image], fields: &[FieldSpec]) {
    if images.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        walk(&mut r.object, images);
        image_volumes(&mut r.object, images);
        for field in fields {
            let _ = field.visit(&mut r.object, &mut |value| {
                if let Value::String(image) = value
                    && let Some(new) = images.iter().find_map(|i| i.update(image))
                {
                    *image = new;
                }
                Ok(())
            });
        }
    }
}

fn walk(value: &mut Value, images: &[Image]) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(containers) = child
                {
                    for container in containers.iter_mut() {
                        if let Some(Value::String(image)) = container.get_mut("image")
                            && let Some(new) = images.iter().find_map(|i| i.update(image))
                        {
                            *image = new;
                        }
                    }
                }
                walk(child, images);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, images)),
        _ => {}
    }
}

/// Image volumes (`volumes[].image.reference`, Kubernetes 1.31+): kustomize
/// v5.7.0 added `spec/volumes[]/image/reference` and
/// `spec/template/spec/volumes[]/image/reference` to its images field specs
/// (kubernetes-sigs/kustomize#5921) — those two paths only, not deeper pod
/// templates like a CronJob's.
fn image_volumes(object: &mut Value, images: &[Image]) {
    for pointer in ["/spec/volumes", "/spec/template/spec/volumes"] {
        let Some(Value::Array(volumes)) = object.pointer_mut(pointer) else {
            continue;
        };
        for volume in volumes {
            if let Some(Value::String(image)) = volume.pointer_mut("/image/reference")
                && let Some(new) = images.iter().find_map(|i| i.update(image))
            {
                *image = new;
            }
        }
    }
}

/// One `replicas` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    pub name: String,
    pub count: i64,
}

/// Sets `spec.replicas` of the workloads named by `replicas` (by current or
/// original name); an entry that names none is an error, as in kustomize.
pub fn replicas(resources: &mut [Resource], entries: &[Replicas]) -> Result<(), String> {
    for entry in entries {
        let mut found = false;
        for r in resources.iter_mut() {
            let scalable = matches!(
                resource::kind(&r.object),
                "Deployment" | "ReplicationController" | "ReplicaSet" | "StatefulSet"
            );
            let named = resource::name(&r.object) == entry.name
                || r.previous.iter().any(|(_, n)| *n == entry.name);
            if !scalable || !named {
                continue;
            }
            found = true;
            if let Some(map) = r.object.as_object_mut() {
                let spec = map
                    .entry("spec")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("replicas".into(), Value::from(entry.count));
                }
            }
        }
        if !found {
            return Err(format!(
                "no Deployment, ReplicationController, ReplicaSet or StatefulSet named {}",
                entry.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn rewrites_names_tags_and_digests() {
        let cases = [
            (
                image("nginx", None, Some("1.25"), None),
                "nginx",
                Some("nginx:1.25"),
            ),
            (
                image("nginx", None, Some("1.25"), None),
                "nginx:1.0@sha256:abc",
                Some("nginx:1.25"),
            ),
            (
                image("nginx", Some("reg:5000/nginx"), None, None),
                "nginx:1.0",
                Some("reg:5000/nginx:1.0"),
            ),
            (
                image("reg:5000/app", None, None, Some("sha256:def")),
                "reg:5000/app:v1",
                Some("reg:5000/app@sha256:def"),
            ),
            (
                image("app", None, Some("v2"), Some("sha256:1")),
                "app",
                Some("app:v2@sha256:1"),
            ),
            (image("nginx", None, Some("x"), None), "nginx-extra:1", None),
        ];
        for (entry, current, want) in cases {
            assert_eq!(entry.update(current).as_deref(), want, "{current}");
        }
        let mut cron = Resource::new(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                   "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                       "initContainers": [{"name": "i", "image": "busybox"}],
                       "containers": [{"name": "c", "image": "nginx:1.0"}]}}}}}}),
            "x",
        );
        apply(
            std::slice::from_mut(&mut cron),
            &[
                image("nginx", None, Some("2"), None),
                image("busybox", None, Some("1.36"), None),
            ],
            &[],
        );
        let spec = &cron.object["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["image"], "nginx:2");
        assert_eq!(spec["initContainers"][0]["image"], "busybox:1.36");
    }
}
