//! SOPS's PGP stanzas opened with the PGP keys of a decryption Secret.
//!
//! kustomize-controller imports every `*.asc` value of the Kustomization's
//! `spec.decryption.secretRef` into a GnuPG home of its own (`gpg --batch
//! --import`: armored secret keys, no passphrase asked) and lets SOPS open
//! `sops.pgp[].enc` — an armored OpenPGP message whose literal data is the
//! 32-byte data key (getsops/sops `pgp.MasterKey`). drift-check does the
//! same in memory with rpgp: no keyring on disk, no `gpg` process.

use pgp::composed::{Message, PublicOrSecret, SignedSecretKey};
use pgp::types::Password;
use serde_json::{Map, Value};

/// The secret keys of one `*.asc` value (armored, one or more keys; public
/// keys in it are skipped, as gpg imports them without making them able
/// to decrypt). A value that is not armored OpenPGP key material is an
/// error saying what, never quoting it.
pub fn import(armored: &str) -> Result<Vec<SignedSecretKey>, String> {
    const NOT_A_KEY: &str = "not an armored OpenPGP key (-----BEGIN PGP PRIVATE KEY BLOCK-----)";
    let (keys, _headers) =
        PublicOrSecret::from_armor_many(armored.as_bytes()).map_err(|_| NOT_A_KEY)?;
    let mut secret = Vec::new();
    for key in keys {
        match key.map_err(|_| NOT_A_KEY)? {
            PublicOrSecret::Secret(key) => secret.push(key),
            PublicOrSecret::Public(_) => {}
        }
    }
    if secret.is_empty() {
        return Err("it holds public keys only, no secret key to decrypt with".into());
    }
    Ok(secret)
}

/// The upper-case hex fingerprint of a key (as SOPS writes `fp`).
#[cfg(test)]
fn fingerprint(key: &SignedSecretKey) -> String {
    use pgp::types::KeyDetails;
    key.fingerprint().to_string().to_uppercase()
}

/// The data key of the first PGP stanza one of `keys` opens (keys with a
/// passphrase open none: kustomize-controller's gpg has nobody to ask).
pub fn data_key(stanzas: &[&Map<String, Value>], keys: &[SignedSecretKey]) -> Option<Vec<u8>> {
    if keys.is_empty() {
        return None;
    }
    let passwords: Vec<Password> = keys.iter().map(|_| Password::empty()).collect();
    stanzas
        .iter()
        .filter_map(|stanza| stanza.get("enc").and_then(Value::as_str))
        .find_map(|enc| open(enc, keys, &passwords))
}

fn open(enc: &str, keys: &[SignedSecretKey], passwords: &[Password]) -> Option<Vec<u8>> {
    let (message, _) = Message::from_string(enc).ok()?;
    let mut message = message
        .decrypt_with_keys(passwords.iter().collect(), keys.iter().collect())
        .ok()?;
    if message.is_compressed() {
        message = message.decompress().ok()?;
    }
    let key = message.as_data_vec().ok()?;
    (key.len() == 32).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("testdata/test-pgp.asc");

    #[test]
    fn an_armored_secret_key_imports_and_garbage_is_an_error_without_its_text() {
        let keys = import(KEY).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            fingerprint(&keys[0]),
            include_str!("testdata/test-pgp.fpr").trim()
        );
        let error =
            import("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ns3cr3t-garbage\n").unwrap_err();
        assert!(!error.contains("s3cr3t"), "{error}");
        assert_eq!(
            error,
            "not an armored OpenPGP key (-----BEGIN PGP PRIVATE KEY BLOCK-----)"
        );
    }
}
