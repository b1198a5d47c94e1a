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
