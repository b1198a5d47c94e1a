//! SOPS-encrypted manifests, decrypted with the Kustomization's own keys
//! when drift-check may read them ([`decrypt`]), else rendered without.
//!
//! With `spec.decryption`, kustomize-controller decrypts each object that
//! carries SOPS metadata (a top-level `sops` key) after the kustomize build
//! and before postBuild substitution, and the SOPS-encrypted files a
//! `secretGenerator` reads (fluxcd/kustomize-controller
//! `internal/decryptor`). drift-check has no key: it renders what is in the
//! clear and leaves every encrypted value as a marker that the diff does not
//! compare ([`is_encrypted`]). SOPS encrypts values and leaves keys in the
//! clear (`encrypted_regex`, `unencrypted_suffix` and the like choose which
//! values), so the object's identity, its labels and annotations when not
//! encrypted, its `type` and the set of its data keys are all compared: a
//! person who adds or removes a key or changes a label is found, and nothing
//! is said about a value nobody can read.

pub mod decrypt;
mod emit;
pub mod files;
pub mod names;
mod pgp;

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;

use super::RenderError;
use crate::k8s::object::Object;

/// What a Kustomization's encrypted objects are rendered with.
#[derive(Clone, Debug, Default)]
pub enum Decryption {
    /// No key: encrypted values stay markers ([`is_encrypted`]).
    #[default]
    NoKey,
    /// The age keys of its `spec.decryption.secretRef`.
    Keys(Arc<decrypt::Keys>),
    /// Its decryption Secret was read and holds no usable key: why (no
    /// value quoted). Rendered as without a key, and said once.
    Unusable(String),
}

/// What an encrypted generator input (a whole SOPS file used as one data
/// value) is rendered as: one value that is not compared.
pub const ENCRYPTED_FILE: &str = "ENC[SOPS-encrypted file]";

/// Whether a rendered value is encrypted in git: a SOPS value
/// (`ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`) or [`ENCRYPTED_FILE`].
/// The diff compares no such value; the field being there is compared.
pub fn is_encrypted(value: &Value) -> bool {
    value.as_str().is_some_and(is_encrypted_text)
}

fn is_encrypted_text(text: &str) -> bool {
    text == ENCRYPTED_FILE || (text.starts_with("ENC[AES256_GCM,data:") && text.ends_with(']'))
}

/// The fields that name an object: SOPS must have left them in the clear
/// (`encrypted_regex: ^(data|stringData)$`, as Flux's guide has it).
const IDENTITY: &[(&str, &str)] = &[
    ("/apiVersion", "apiVersion"),
    ("/kind", "kind"),
    ("/metadata/name", "metadata.name"),
    ("/metadata/namespace", "metadata.namespace"),
];

/// A Secret generated from SOPS-encrypted files that were not decrypted:
/// kustomize hashed its encrypted content into its name, Flux its
/// decrypted content, so the hash suffix of its name is not Flux's and
/// cannot be known without the key ([`names`] finds the live one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHash {
    pub namespace: Option<String>,
    /// The name rendered (`<base>-<hash of the encrypted content>`).
    pub name: String,
    /// The name without its hash suffix.
    pub base: String,
}

/// Renders the encrypted objects of a Kustomization with `spec.decryption`
/// as kustomize-controller decrypts them, SOPS metadata removed: with keys,
/// decrypted (the paths of the values decrypted go to `secret_paths`, so
/// that they are masked wherever shown, as do those of `decrypted`, the
/// values of generator inputs [`files`] decrypted before the build);
/// without, or where they do not open an object, encrypted values are left
/// as markers and a Secret's data generated from a SOPS-encrypted file is
/// reduced to markers (such a Secret's name, hashed over encrypted content,
/// goes to `unknown`). Each object that keys did not open is a note. An
/// object whose identity stays encrypted cannot be compared with anything:
/// an error naming the field.
pub(super) fn render(
    objects: &mut [Object],
    decryption: &Decryption,
    decrypted: &BTreeSet<String>,
    secret_paths: &mut [Vec<String>],
    notes: &mut Vec<String>,
    unknown: &mut Vec<UnknownHash>,
) -> Result<(), RenderError> {
    if let Decryption::Unusable(why) = decryption {
        notes.push(format!("values encrypted with SOPS not decrypted: {why}"));
    }
    let keys = match decryption {
        Decryption::Keys(keys) if !keys.is_empty() => Some(keys.as_ref()),
        _ => None,
    };
    for (object, paths) in objects.iter_mut().zip(secret_paths.iter_mut()) {
        if let Some(Value::Object(sops)) = object.as_object_mut().and_then(|o| o.remove("sops")) {
            if let Some(keys) = keys {
                let mut decrypted = object.clone();
                match decrypt::object(&mut decrypted, &sops, keys) {
                    Ok(found) => {
                        *object = decrypted;
                        paths.extend(found);
                    }
                    Err(e) => notes.push(format!(
                        "{}: values not decrypted, not compared: {e}",
                        clear_identity(object)
                    )),
                }
            }
            if let Some((_, field)) = IDENTITY
                .iter()
                .find(|(pointer, _)| object.pointer(pointer).is_some_and(is_encrypted))
            {
                return Err(RenderError::EncryptedIdentity {
                    object: clear_identity(object),
                    field,
                });
            }
        }
        if object.get("kind").and_then(Value::as_str) == Some("Secret") {
            let hash = super::kustomize::name_hash(object);
            if encrypted_generator_inputs(object)
                && let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str)
                && let Some(base) = name.strip_suffix(&format!("-{hash}"))
            {
                unknown.push(UnknownHash {
                    namespace: object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    name: name.to_string(),
                    base: base.to_string(),
                });
            }
        }
        if !decrypted.is_empty() {
            files::mask(object, decrypted, paths);
        }
    }
    Ok(())
}

/// A Secret made by a `secretGenerator` from SOPS-encrypted files that were
/// not decrypted before the build ([`files`]: no key, or keys that do not
/// open them). A dotenv file given to `envs:` made one key per variable,
/// its values SOPS values, and its metadata `sops_*` keys, which go
/// (decryption never makes them keys). Any other value that is a SOPS
/// value, or a whole SOPS document (a file given to `files:`), is a marker.
/// Returns whether any value became a marker.
fn encrypted_generator_inputs(secret: &mut Object) -> bool {
    let mut encrypted = false;
    for (field, encoded) in [("data", true), ("stringData", false)] {
        let Some(Value::Object(values)) = secret.get_mut(field) else {
            continue;
        };
        let decode = |text: &str| -> Option<String> {
            if encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            } else {
                Some(text.to_string())
            }
        };
        if values.contains_key("sops_mac") {
            values.retain(|key, _| !key.starts_with("sops_"));
        }
        for value in values.values_mut() {
            let Some(text) = value.as_str().and_then(decode) else {
                continue;
            };
            let trimmed = text.trim();
            if is_encrypted_text(trimmed) {
                *value = Value::from(trimmed);
                encrypted = true;
            } else if is_sops_document(trimmed) {
                *value = Value::from(ENCRYPTED_FILE);
                encrypted = true;
            }
        }
    }
    encrypted
}

/// A whole SOPS file: YAML or JSON with a `sops` mapping holding a `mac`, or
/// a dotenv or INI file with SOPS's metadata lines.
fn is_sops_document(text: &str) -> bool {
    if text
        .lines()
        .any(|line| line.starts_with("sops_mac=") || line.trim() == "[sops]")
    {
        return true;
    }
    if !text.contains("sops") {
        return false;
    }
    let parsed: Option<Value> = serde_json::from_str(text)
        .ok()
        .or_else(|| serde_saphyr::from_str(text).ok());
    parsed
        .as_ref()
        .and_then(|v| v.get("sops"))
        .is_some_and(|sops| sops.get("mac").is_some())
}

/// `Kind/namespace/name` of the fields in the clear, `…` for the others.
fn clear_identity(object: &Object) -> String {
    let field = |pointer: &str| {
        object
            .pointer(pointer)
            .filter(|v| !is_encrypted(v))
            .and_then(Value::as_str)
            .unwrap_or("…")
            .to_string()
    };
    match object.pointer("/metadata/namespace") {
        Some(_) => format!(
            "{}/{}/{}",
            field("/kind"),
            field("/metadata/namespace"),
            field("/metadata/name")
        ),
        None => format!("{}/{}", field("/kind"), field("/metadata/name")),
    }
}

/// How many values of an object are encrypted in git.
pub fn encrypted_values(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.values().map(encrypted_values).sum(),
        Value::Array(items) => items.iter().map(encrypted_values).sum(),
        other => usize::from(is_encrypted(other)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_key(objects: &mut [Object]) -> Result<Vec<UnknownHash>, RenderError> {
        let mut paths = vec![Vec::new(); objects.len()];
        let (mut notes, mut unknown) = (Vec::new(), Vec::new());
        render(
            objects,
            &Decryption::NoKey,
            &BTreeSet::new(),
            &mut paths,
            &mut notes,
            &mut unknown,
        )?;
        assert!(notes.is_empty() && paths.iter().all(Vec::is_empty));
        Ok(unknown)
    }

    const ENC: &str = "ENC[AES256_GCM,data:q83vN0w=,iv:2VQ5vIh0Yw1QhL4c1T1pS1nE8bI5kP1+3WcXhQyQ2rA=,tag:7CkK0e9bPqYh2yP0c3Jb0w==,type:str]";

    fn sops() -> Value {
        json!({"age": [{"recipient": "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\n…"}],
               "lastmodified": "2026-11-30T10:00:00Z", "mac": ENC, "encrypted_regex": "^(data|stringData)$", "version": "3.9.4"})
    }

    #[test]
    fn an_encrypted_secret_keeps_its_identity_labels_and_keys_and_loses_its_sops_metadata() {
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps", "labels": {"team": "payments"}},
            "type": "Opaque", "stringData": {"password": ENC, "user": ENC}, "sops": sops()})];
        no_key(&mut objects).unwrap();
        assert_eq!(
            objects[0],
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": "apps", "labels": {"team": "payments"}},
                "type": "Opaque", "stringData": {"password": ENC, "user": ENC}})
        );
        assert_eq!(encrypted_values(&objects[0]), 2);
    }

    #[test]
    fn an_object_whose_name_is_encrypted_is_an_error_naming_the_field() {
        // No encrypted_regex: SOPS encrypts every value, the name too.
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": ENC, "namespace": "apps"}, "data": {"a": ENC}, "sops": sops()})];
        let error = no_key(&mut objects).unwrap_err().to_string();
        assert_eq!(
            error,
            "spec.decryption: Secret/apps/… is SOPS-encrypted with its metadata.name encrypted too: drift-check cannot tell which live object it is without the key (encrypt only data and stringData: encrypted_regex: ^(data|stringData)$)"
        );
    }

    #[test]
    fn a_secret_generated_from_sops_files_keeps_its_keys_drops_sops_metadata_keys_and_its_hash() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let yaml_file = format!("password: {ENC}\nsops:\n  mac: {ENC}\n  version: 3.9.4\n");
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": "apps"},
            "type": "Opaque",
            "data": {
                // From a dotenv file given to `envs:`.
                "API_KEY": b64(ENC), "sops_mac": b64(ENC), "sops_version": b64("3.9.4"),
                "sops_age__list_0__map_recipient": b64("age1…"),
                // A whole file given to `files:`, and one in the clear.
                "config.yaml": b64(&yaml_file), "plain.txt": b64("hello")}});
        // kustomize hashed the encrypted content into the name.
        let hash = super::super::kustomize::name_hash(&secret);
        secret["metadata"]["name"] = json!(format!("app-{hash}"));
        let mut objects = vec![secret];
        let unknown = no_key(&mut objects).unwrap();
        assert_eq!(
            objects[0]["data"],
            json!({"API_KEY": ENC, "config.yaml": ENCRYPTED_FILE, "plain.txt": b64("hello")})
        );
        assert_eq!(
            unknown,
            [UnknownHash {
                namespace: Some("apps".into()),
                name: format!("app-{hash}"),
                base: "app".into()
            }]
        );
        // With disableNameSuffixHash the name is Flux's: nothing unknown.
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": "apps"}, "data": {"API_KEY": b64(ENC)}})];
        assert_eq!(no_key(&mut objects).unwrap(), []);
    }

    #[test]
    fn only_sops_values_and_the_file_marker_are_encrypted() {
        assert!(is_encrypted(&json!(ENC)));
        assert!(is_encrypted(&json!(ENCRYPTED_FILE)));
        for clear in [
            json!("ENC[not sops]"),
            json!("hello"),
            json!(3),
            json!(null),
        ] {
            assert!(!is_encrypted(&clear), "{clear}");
        }
        assert!(!is_sops_document("a: 1\nsops: yes\n"));
        assert!(is_sops_document(
            "{\"a\": \"x\", \"sops\": {\"mac\": \"m\"}}"
        ));
        assert!(is_sops_document("A=x\nsops_mac=y\n"));
    }

    #[test]
    fn an_object_the_keys_do_not_open_is_a_note_and_compared_without_them() {
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps"}, "stringData": {"password": ENC}, "sops": sops()})];
        let key = include_str!("testdata/test.agekey");
        let keys = decrypt::Keys::from_secret(
            "Secret/flux-system/sops-age".into(),
            &std::collections::BTreeMap::from([("age.agekey".to_string(), key.to_string())]),
        )
        .unwrap();
        let mut paths = vec![Vec::new()];
        let (mut notes, mut unknown) = (Vec::new(), Vec::new());
        render(
            &mut objects,
            &Decryption::Keys(Arc::new(keys)),
            &BTreeSet::new(),
            &mut paths,
            &mut notes,
            &mut unknown,
        )
        .unwrap();
        assert_eq!(objects[0]["stringData"]["password"], ENC);
        assert_eq!(objects[0].get("sops"), None);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("Secret/apps/db: values not decrypted, not compared: "),
            "{notes:?}"
        );
    }
}
