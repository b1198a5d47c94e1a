//! The live name of a Secret generated from SOPS-encrypted files that
//! drift-check did not decrypt.
//!
//! kustomize appends to a generated Secret's name a hash of its content.
//! Flux hashes the decrypted content; without the key drift-check can only
//! hash the encrypted one, so the rendered `<base>-<hash>` is not the
//! name Flux applied, and comparing by name would report the Secret
//! missing and the live one orphaned — a false alarm every night. Instead,
//! the live Secret is found by what can be known: same namespace, the name
//! `<base>-` followed by a kustomize hash, and applied by this Kustomization
//! (in its inventory, else carrying its owner labels). The rendered Secret
//! takes that name, and so do the references kustomize wrote to it in the
//! render's other objects (a Deployment's `secretName`, `secretKeyRef`);
//! its values are markers, not compared, and the rest (keys, type, labels)
//! is. With no such live Secret the rendered one stays as it is: missing.

use serde_json::Value;

use super::UnknownHash;
use crate::flux::{Kustomization, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};
use crate::k8s::object::{Compact, ObjectKey};
use crate::live::LiveState;

/// Renames each Secret of `unknown` in `objects` (one render of `ks`) to the
/// live Secret Flux applied for it, and its references with it. Returns one
/// note per Secret matched, or that several live Secrets could be it.
pub fn resolve(
    objects: &mut [Compact],
    unknown: &[UnknownHash],
    ks: &Kustomization,
    state: &LiveState,
) -> Vec<String> {
    let mut notes = Vec::new();
    for secret in unknown {
        let rendered = key(secret.namespace.as_deref(), &secret.name);
        if state.contains(&rendered) {
            continue;
        }
        let candidates = candidates(secret, ks, state);
        // Oldest first: with several (Flux not pruning), the newest is the
        // one applied last.
        let Some((live_name, _)) = candidates.last() else {
            continue;
        };
        let others = if candidates.len() > 1 {
            format!(
                " (the newest of {} that could be it: {})",
                candidates.len(),
                candidates
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        rename(objects, &secret.name, live_name);
        notes.push(format!(
            "{}: generated from SOPS-encrypted files, so its name hash is not known without the key: compared with the live Secret {live_name} this Kustomization applied{others}; its values are not compared",
            subject(secret, &format!("{}-…", secret.base)),
        ));
    }
    notes
}

fn key(namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        group: String::new(),
        kind: "Secret".into(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

fn subject(secret: &UnknownHash, name: &str) -> String {
    match &secret.namespace {
        Some(ns) => format!("Secret/{ns}/{name}"),
        None => format!("Secret/{name}"),
    }
}

/// The live Secrets that may be it, by name: those in the inventory when
/// any is, else those with the Kustomization's owner labels, oldest first.
fn candidates(
    secret: &UnknownHash,
    ks: &Kustomization,
    state: &LiveState,
) -> Vec<(String, String)> {
    let prefix = format!("{}-", secret.base);
    let mut inventoried = Vec::new();
    let mut labelled = Vec::new();
    for (key, stored) in state.stored() {
        if key.kind != "Secret"
            || !key.group.is_empty()
            || key.namespace != secret.namespace
            || !key.name.strip_prefix(&prefix).is_some_and(is_name_hash)
        {
            continue;
        }
        let created = stored
            .peek()
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if ks.status.applied(&key.inventory_id()) {
            inventoried.push((key.name.clone(), created));
        } else if stored.label(OWNER_NAME_LABEL) == Some(ks.name.as_str())
            && stored.label(OWNER_NAMESPACE_LABEL) == Some(ks.namespace.as_str())
        {
            labelled.push((key.name.clone(), created));
        }
    }
    let mut found = if inventoried.is_empty() {
        labelled
    } else {
        inventoried
    };
    found.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    found
}

/// kustomize's name hash: ten characters of hex with `0 1 3 a e` written
/// `g h k m t`.
fn is_name_hash(text: &str) -> bool {
    text.len() == 10
        && text.chars().all(|c| {
            matches!(
                c,
                '2' | '4'..='9' | 'b' | 'c' | 'd' | 'f' | 'g' | 'h' | 'k' | 'm' | 't'
            )
        })
}

/// Gives the Secret `from` the name `to`, in its own metadata and in every
/// string of the render that is exactly `from` (kustomize's name
/// references; a ten-character hash makes any other such string unlikely).
fn rename(objects: &mut [Compact], from: &str, to: &str) {
    for object in objects.iter_mut() {
        if !object.peek().to_string().contains(from) {
            continue;
        }
        object.update(|o| replace_strings(o, from, to));
    }
}

fn replace_strings(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flux::Origin;

    fn ks(inventory: &[&str]) -> Kustomization {
        let entries: Vec<Value> = inventory
            .iter()
            .map(|name| json!({"id": format!("apps_{name}__Secret"), "v": "v1"}))
            .collect();
        let object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"path": "./apps", "sourceRef": {"kind": "GitRepository", "name": "infra"}},
            "status": {"inventory": {"entries": entries}}});
        crate::discover::from_object(&object, Origin::Live, "flux-system").unwrap()
    }

    fn secret(name: &str, created: &str, owner: Option<&str>) -> Value {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "apps", "creationTimestamp": created}});
        if let Some(owner) = owner {
            s["metadata"]["labels"] =
                json!({OWNER_NAME_LABEL: owner, OWNER_NAMESPACE_LABEL: "flux-system"});
        }
        s
    }

    fn render() -> Vec<Compact> {
        vec![
            Compact::new(&json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "app-2b5c7d8f9g", "namespace": "apps"}, "data": {"A": "ENC[SOPS-encrypted file]"}})),
            Compact::new(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {"template": {"spec": {"volumes": [{"secret": {"secretName": "app-2b5c7d8f9g"}}],
                    "containers": [{"name": "app-2b5c7d8f9g-sidecar"}]}}}})),
        ]
    }

    fn unknown() -> UnknownHash {
        UnknownHash {
            namespace: Some("apps".into()),
            name: "app-2b5c7d8f9g".into(),
            base: "app".into(),
        }
    }

    #[test]
    fn the_inventoried_secret_gives_its_name_to_the_rendered_one_and_its_references() {
        let state = LiveState::new([
            secret("app-h4t6m8kb9c", "2026-12-01T00:00:00Z", Some("apps")),
            // Older generations (prune off), another app, another hash shape.
            secret("app-5f6g7h8k9m", "2026-11-01T00:00:00Z", Some("apps")),
            secret("app-extra-h4t6m8kb9c", "2026-12-02T00:00:00Z", Some("apps")),
            secret("app-notahash", "2026-12-02T00:00:00Z", Some("apps")),
        ]);
        let mut objects = render();
        let notes = resolve(&mut objects, &[unknown()], &ks(&["app-h4t6m8kb9c"]), &state);
        assert_eq!(objects[0].reference().unwrap().name, "app-h4t6m8kb9c");
        let web = objects[1].object();
        assert_eq!(
            web.pointer("/spec/template/spec/volumes/0/secret/secretName"),
            Some(&json!("app-h4t6m8kb9c"))
        );
        // Only whole references are names: this container is not renamed.
        assert_eq!(
            web.pointer("/spec/template/spec/containers/0/name"),
            Some(&json!("app-2b5c7d8f9g-sidecar"))
        );
        assert_eq!(
            notes,
            [
                "Secret/apps/app-…: generated from SOPS-encrypted files, so its name hash is not known without the key: compared with the live Secret app-h4t6m8kb9c this Kustomization applied; its values are not compared"
            ]
        );
    }

    #[test]
    fn without_inventory_the_newest_labelled_secret_and_nothing_of_another_kustomization() {
        let state = LiveState::new([
            secret("app-h4t6m8kb9c", "2026-12-01T00:00:00Z", Some("apps")),
            secret("app-5f6g7h8k9m", "2026-11-01T00:00:00Z", Some("apps")),
            secret("app-9m8k7h6g5f", "2026-12-05T00:00:00Z", Some("other")),
        ]);
        let mut objects = render();
        let notes = resolve(&mut objects, &[unknown()], &ks(&[]), &state);
        assert_eq!(objects[0].reference().unwrap().name, "app-h4t6m8kb9c");
        assert!(
            notes[0].contains("(the newest of 2 that could be it: app-5f6g7h8k9m, app-h4t6m8kb9c)"),
            "{notes:?}"
        );
        // No live Secret of this Kustomization: left as rendered (missing).
        let state = LiveState::new([secret(
            "app-9m8k7h6g5f",
            "2026-12-05T00:00:00Z",
            Some("other"),
        )]);
        let mut objects = render();
        assert!(resolve(&mut objects, &[unknown()], &ks(&[]), &state).is_empty());
        assert_eq!(objects[0].reference().unwrap().name, "app-2b5c7d8f9g");
    }
}
