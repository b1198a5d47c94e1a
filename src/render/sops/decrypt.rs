//! SOPS decryption with the Kustomization's own age and PGP keys, in memory.
//!
//! What kustomize-controller does with `spec.decryption.secretRef`
//! (`internal/decryptor`): the Secret's `*.agekey` values are age
//! identities, its `*.asc` values armored PGP secret keys ([`super::pgp`]);
//! the object's data key is the age-encrypted file in its `sops.age[].enc`
//! or the OpenPGP message in its `sops.pgp[].enc`; each value `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` is
//! AES-256-GCM with that key, the IV as nonce (32 bytes) and, as additional
//! data, the path of keys to the value joined with `:` plus a final `:` (a
//! list's items have their list's path), as getsops/sops `aes.Cipher` and
//! `Tree.Decrypt` have it. The MAC is checked when SOPS made it over the
//! encrypted values only (`mac_only_encrypted`): kustomize does not change
//! those. Over a whole object it is not, as kustomize-controller does not
//! either — the build injects fields the MAC never covered.
//!
//! No decrypted value is written anywhere: the objects hold them, and the
//! render records their paths so that they are masked wherever shown.

use std::fmt;
use std::io::Read;

use aes_gcm::AesGcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::generic_array::typenum::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

/// The bytes SOPS starts a `mac_only_encrypted` MAC with (getsops/sops
/// `MACOnlyEncryptedInitialization`).
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// The key providers SOPS metadata can name besides age and PGP.
const OTHER_PROVIDERS: &[(&str, &str)] = &[
    ("kms", "AWS KMS"),
    ("gcp_kms", "GCP KMS"),
    ("azure_kv", "Azure Key Vault"),
    ("hc_vault", "HashiCorp Vault"),
];

/// The age identities and PGP secret keys of a Kustomization's decryption
/// Secret. Never printed: `Debug` says how many there are.
#[derive(Clone)]
pub struct Keys {
    age: Vec<age::x25519::Identity>,
    pgp: Vec<pgp::composed::SignedSecretKey>,
    /// Where they come from (`Secret/<namespace>/<name>`), for messages.
    pub origin: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keys({} age identities, {} PGP keys from {})",
            self.age.len(),
            self.pgp.len(),
            self.origin
        )
    }
}

impl Keys {
    /// Reads the keys out of a decryption Secret's data (decoded), as
    /// kustomize-controller imports them: every `*.agekey` value is an age
    /// identity file (`AGE-SECRET-KEY-1…` lines, `#` comments), every
    /// `*.asc` value armored PGP secret keys. A value that is neither is an
    /// error naming its data key, never quoting it (kustomize-controller
    /// fails the import too).
    pub fn from_secret<'a>(
        origin: String,
        data: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Self, String> {
        let mut keys = Keys {
            age: Vec::new(),
            pgp: Vec::new(),
            origin,
        };
        for (name, value) in data {
            if name.ends_with(".agekey") {
                for (i, line) in value
                    .lines()
                    .map(str::trim)
                    .enumerate()
                    .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                {
                    let identity = line.parse::<age::x25519::Identity>().map_err(|_| {
                        format!(
                            "{}: data key {name}, line {}: not an age identity (AGE-SECRET-KEY-1…)",
                            keys.origin,
                            i + 1
                        )
                    })?;
                    keys.age.push(identity);
                }
            } else if name.ends_with(".asc") {
                let imported = super::pgp::import(value)
                    .map_err(|why| format!("{}: data key {name}: {why}", keys.origin))?;
                keys.pgp.extend(imported);
            }
        }
        Ok(keys)
    }

    /// Whether there is no key at all to decrypt with.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }
}

/// Why one object could not be decrypted (its values are then compared as
/// without the key). Names no value.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("its SOPS metadata has no version, or version {0} (drift-check reads SOPS 3 files)")]
    Version(String),
    #[error("it is encrypted for {0}, not age or PGP: those keys are not supported")]
    Provider(String),
    #[error("no key of {origin} decrypts its data key (it is encrypted for {recipients})")]
    NoMatchingKey { origin: String, recipients: String },
    #[error("{path}: {reason}")]
    Value { path: String, reason: &'static str },
    #[error(
        "its SOPS MAC does not match its encrypted values: it was changed after it was encrypted, not with sops"
    )]
    Mac,
}

/// Decrypts one object's values in place; returns the JSON Pointers of the
/// values decrypted. `sops` is the object's SOPS metadata (already removed
/// from it).
pub fn object(
    object: &mut Value,
    sops: &Map<String, Value>,
    keys: &Keys,
) -> Result<Vec<String>, DecryptError> {
    let version = sops.get("version").and_then(Value::as_str).unwrap_or("");
    if version.split('.').next() != Some("3") {
        return Err(DecryptError::Version(version.to_string()));
    }
    let data_key = data_key(sops, keys)?;
    let cipher = AesGcm::<Aes256, U32>::new(GenericArray::from_slice(&data_key));
    let mut walk = Walk {
        cipher: &cipher,
        decrypted: Vec::new(),
        mac: Sha512::new(),
        mac_only_encrypted: sops.get("mac_only_encrypted").and_then(Value::as_bool) == Some(true),
    };
    if walk.mac_only_encrypted {
        walk.mac.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    walk.value(object, &mut Vec::new(), &mut String::new())?;
    if walk.mac_only_encrypted {
        let stored = sops.get("mac").and_then(Value::as_str).unwrap_or("");
        let modified = sops
            .get("lastmodified")
            .and_then(Value::as_str)
            .unwrap_or("");
        let expected = match decrypt_value(&cipher, stored, modified) {
            Ok(Value::String(mac)) => mac,
            _ => return Err(DecryptError::Mac),
        };
        let computed: String = walk
            .mac
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        if expected != computed {
            return Err(DecryptError::Mac);
        }
    }
    Ok(walk.decrypted)
}

/// The 32-byte data key, from the first age stanza one of the keys opens,
/// else the first PGP stanza (SOPS tries its key groups' keys in order).
fn data_key(sops: &Map<String, Value>, keys: &Keys) -> Result<Vec<u8>, DecryptError> {
    let stanzas = |provider: &str| -> Vec<&Map<String, Value>> {
        sops.get(provider)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .collect()
    };
    let (age_stanzas, pgp_stanzas) = (stanzas("age"), stanzas("pgp"));
    if age_stanzas.is_empty() && pgp_stanzas.is_empty() {
        let others: Vec<&str> = OTHER_PROVIDERS
            .iter()
            .filter(|(key, _)| !stanzas(key).is_empty())
            .map(|(_, name)| *name)
            .collect();
        return Err(DecryptError::Provider(if others.is_empty() {
            "no key at all".into()
        } else {
            others.join(", ")
        }));
    }
    for stanza in &age_stanzas {
        let Some(enc) = stanza.get("enc").and_then(Value::as_str) else {
            continue;
        };
        let Ok(decryptor) =
            age::Decryptor::new_buffered(age::armor::ArmoredReader::new(enc.as_bytes()))
        else {
            continue;
        };
        let identities = keys.age.iter().map(|i| i as &dyn age::Identity);
        if let Ok(mut reader) = decryptor.decrypt(identities) {
            let mut key = Vec::with_capacity(32);
            if reader.read_to_end(&mut key).is_ok() && key.len() == 32 {
                return Ok(key);
            }
        }
    }
    if let Some(key) = super::pgp::data_key(&pgp_stanzas, &keys.pgp) {
        return Ok(key);
    }
    let field = |stanza: &&Map<String, Value>, name: &str| {
        stanza.get(name).and_then(Value::as_str).map(str::to_string)
    };
    Err(DecryptError::NoMatchingKey {
        origin: keys.origin.clone(),
        recipients: age_stanzas
            .iter()
            .filter_map(|s| field(s, "recipient"))
            .chain(
                pgp_stanzas
                    .iter()
                    .filter_map(|s| field(s, "fp").map(|fp| format!("PGP {fp}"))),
            )
            .collect::<Vec<_>>()
            .join(", "),
    })
}

struct Walk<'c> {
    cipher: &'c AesGcm<Aes256, U32>,
    decrypted: Vec<String>,
    mac: Sha512,
    mac_only_encrypted: bool,
}

impl Walk<'_> {
    /// `path`: the keys down to `value` (SOPS's additional data); `pointer`:
    /// its JSON Pointer (with list indices).
    fn value(
        &mut self,
        value: &mut Value,
        path: &mut Vec<String>,
        pointer: &mut String,
    ) -> Result<(), DecryptError> {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&crate::k8s::object::escape_pointer_token(key));
                    path.push(key.clone());
                    self.value(child, path, pointer)?;
                    path.pop();
                    pointer.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    self.value(child, path, pointer)?;
                    pointer.truncate(len);
                }
            }
            Value::Null => {}
            leaf => {
                let encrypted = leaf
                    .as_str()
                    .is_some_and(|s| s.starts_with("ENC[AES256_GCM,"));
                if encrypted {
                    let aad = format!("{}:", path.join(":"));
                    let text = leaf.as_str().unwrap_or_default().to_string();
                    *leaf = decrypt_value(self.cipher, &text, &aad).map_err(|reason| {
                        DecryptError::Value {
                            path: pointer.clone(),
                            reason,
                        }
                    })?;
                    self.decrypted.push(pointer.clone());
                }
                if encrypted || !self.mac_only_encrypted {
                    self.mac.update(mac_bytes(leaf));
                }
            }
        }
        Ok(())
    }
}

/// One SOPS value decrypted, typed as its `type:` says.
fn decrypt_value(
    cipher: &AesGcm<Aes256, U32>,
    text: &str,
    additional_data: &str,
) -> Result<Value, &'static str> {
    if text.is_empty() {
        return Ok(Value::from(""));
    }
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("not a SOPS value")?;
    let field = |name: &str| {
        inner
            .split(',')
            .find_map(|part| part.strip_prefix(name))
            .ok_or("not a SOPS value")
    };
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| "not a SOPS value (bad base64)")
    };
    let (mut data, iv, tag) = (
        b64(field("data:")?)?,
        b64(field("iv:")?)?,
        b64(field("tag:")?)?,
    );
    if iv.len() != 32 || tag.len() != 16 {
        return Err("not a SOPS value (IV or tag of the wrong size)");
    }
    data.extend_from_slice(&tag);
    let plain = cipher
        .decrypt(
            GenericArray::from_slice(&iv),
            Payload {
                msg: &data,
                aad: additional_data.as_bytes(),
            },
        )
        .map_err(|_| "does not decrypt with its data key (changed after it was encrypted?)")?;
    let text = String::from_utf8(plain).map_err(|_| "decrypts to bytes that are not UTF-8")?;
    Ok(match field("type:")? {
        "str" | "bytes" | "comment" | "time" => Value::from(text),
        "int" => Value::from(
            text.parse::<i64>()
                .map_err(|_| "an int that does not parse")?,
        ),
        "float" => serde_json::Number::from_f64(
            text.parse::<f64>()
                .map_err(|_| "a float that does not parse")?,
        )
        .map(Value::Number)
        .ok_or("a float that is not finite")?,
        "bool" => Value::from(match text.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err("a bool that does not parse"),
        }),
        _ => return Err("of an unknown SOPS type"),
    })
}

/// The bytes SOPS hashes for a value (getsops/sops `ToBytes`).
fn mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    const KEY: &str = include_str!("testdata/test.agekey");

    fn keys(key: &str) -> Keys {
        let data = BTreeMap::from([("age.agekey".to_string(), key.to_string())]);
        Keys::from_secret("Secret/flux-system/sops-age".into(), &data).unwrap()
    }

    /// A fixture as the render has it: parsed, its `sops` taken off.
    fn fixture(text: &str) -> (Value, Map<String, Value>) {
        let mut object: Value = serde_saphyr::from_str(text).unwrap();
        let sops = object.as_object_mut().unwrap().remove("sops").unwrap();
        (object, sops.as_object().unwrap().clone())
    }

    #[test]
    fn values_of_every_type_decrypt_with_the_kustomizations_age_key() {
        let (mut object, sops) = fixture(include_str!("testdata/secret.yaml"));
        let paths = super::object(&mut object, &sops, &keys(KEY)).unwrap();
        assert_eq!(
            object["stringData"],
            json!({"password": "hunter2", "port": 5432, "ratio": 0.25, "enabled": true,
                   "hosts": ["a.example", "b.example"]})
        );
        assert_eq!(object["metadata"]["labels"], json!({"team": "payments"}));
        assert_eq!(
            paths,
            [
                "/stringData/password",
                "/stringData/port",
                "/stringData/ratio",
                "/stringData/enabled",
                "/stringData/hosts/0",
                "/stringData/hosts/1"
            ]
        );
    }

    #[test]
    fn a_mac_over_the_encrypted_values_is_checked_and_a_reordering_fails_it() {
        let text = include_str!("testdata/secret-mac-only.yaml");
        let (mut object, sops) = fixture(text);
        super::object(&mut object, &sops, &keys(KEY)).unwrap();
        // Swapped list items still decrypt (same path), but the MAC sees it.
        let (mut swapped, sops) = fixture(text);
        let hosts = swapped["stringData"]["hosts"].as_array_mut().unwrap();
        hosts.swap(0, 1);
        let error = super::object(&mut swapped, &sops, &keys(KEY)).unwrap_err();
        assert!(matches!(error, DecryptError::Mac), "{error}");
    }

    #[test]
    fn a_value_moved_to_another_key_does_not_decrypt_and_names_its_path_not_its_value() {
        let (mut object, sops) = fixture(include_str!("testdata/secret.yaml"));
        let port = object["stringData"]["port"].clone();
        object["stringData"]["password"] = port;
        let error = super::object(&mut object, &sops, &keys(KEY))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "/stringData/password: does not decrypt with its data key (changed after it was encrypted?)"
        );
    }

    #[test]
    fn another_key_an_unknown_version_and_kms_only_metadata_are_each_one_clear_error() {
        let (object, sops) = fixture(include_str!("testdata/secret.yaml"));
        // Another throwaway key, made for this test.
        let other = "AGE-SECRET-KEY-1N343ZJ5YGLM64VH6MY8CVU2LFK5YWJMME7J204KWYSUVTCZCLG9QU5PUNG";
        let other_keys = Keys::from_secret(
            "Secret/flux-system/other".into(),
            &BTreeMap::from([("a.agekey".to_string(), other.to_string())]),
        )
        .unwrap();
        let error = super::object(&mut object.clone(), &sops, &other_keys).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no key of Secret/flux-system/other decrypts its data key (it is encrypted for age1kmyd7hygcjuhmwvrctpk20lys8nhkl4e6xsg853nwvagecsgl3dqmztegh)"
        );
        let mut future = sops.clone();
        future.insert("version".into(), json!("4.0.0"));
        let error = super::object(&mut object.clone(), &future, &keys(KEY)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "its SOPS metadata has no version, or version 4.0.0 (drift-check reads SOPS 3 files)"
        );
        let mut kms = sops.clone();
        kms.remove("age");
        kms.insert(
            "kms".into(),
            json!([{"arn": "arn:aws:kms:eu-west-1:1:key/x"}]),
        );
        let error = super::object(&mut object.clone(), &kms, &keys(KEY)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is encrypted for AWS KMS, not age or PGP: those keys are not supported"
        );
    }

    #[test]
    fn a_pgp_stanza_opens_with_the_armored_secret_key_of_the_secret_and_not_with_another() {
        let (object, sops) = fixture(include_str!("testdata/secret-pgp.yaml"));
        let pgp = BTreeMap::from([(
            "sops.asc".to_string(),
            include_str!("testdata/test-pgp.asc").to_string(),
        )]);
        let pgp_keys = Keys::from_secret("Secret/flux-system/sops-gpg".into(), &pgp).unwrap();
        let mut decrypted = object.clone();
        let paths = super::object(&mut decrypted, &sops, &pgp_keys).unwrap();
        assert_eq!(
            decrypted["stringData"],
            json!({"password": "pgp-canary-4e1d"})
        );
        assert_eq!(paths, ["/stringData/password"]);
        // The age key of the other fixtures does not open it: the error
        // names the PGP fingerprint it is encrypted for.
        let fpr = include_str!("testdata/test-pgp.fpr").trim();
        let error = super::object(&mut object.clone(), &sops, &keys(KEY)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "no key of Secret/flux-system/sops-age decrypts its data key (it is encrypted for PGP {fpr})"
            )
        );
    }

    #[test]
    fn a_key_file_with_garbage_names_its_data_key_and_line_never_the_value() {
        let data = BTreeMap::from([(
            "age.agekey".to_string(),
            "# created: today\nAGE-SECRET-KEY-NOT-A-KEY-s3cr3t\n".to_string(),
        )]);
        let error = Keys::from_secret("Secret/flux-system/sops-age".into(), &data).unwrap_err();
        assert_eq!(
            error,
            "Secret/flux-system/sops-age: data key age.agekey, line 2: not an age identity (AGE-SECRET-KEY-1…)"
        );
        assert!(!error.contains("s3cr3t"));
        let pgp = BTreeMap::from([(
            "key.asc".to_string(),
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ns3cr3t\n".to_string(),
        )]);
        let error = Keys::from_secret("Secret/x/y".into(), &pgp).unwrap_err();
        assert_eq!(
            error,
            "Secret/x/y: data key key.asc: not an armored OpenPGP key (-----BEGIN PGP PRIVATE KEY BLOCK-----)"
        );
        let keys = Keys::from_secret("Secret/x/y".into(), &BTreeMap::new()).unwrap();
        assert!(keys.is_empty());
        assert_eq!(
            format!("{keys:?}"),
            "Keys(0 age identities, 0 PGP keys from Secret/x/y)"
        );
    }
}
