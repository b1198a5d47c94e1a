//! What a Kustomization's render reads from the cluster ([`Sources`]): the
//! ConfigMap and Secret data of `postBuild.substituteFrom`, and the SOPS keys
//! of `spec.decryption.secretRef`, read through the live source; the values
//! read from Secrets are handed back to be scrubbed from every text.

use std::collections::BTreeSet;

use super::Sources;
use super::sops::{Decryption, decrypt::Keys};
use crate::flux::Kustomization;
use crate::live::{Live, LiveError};

/// The `postBuild.substituteFrom` data of a Kustomization, by (kind, name),
/// from its namespace (a reference that does not exist is left out), and the
/// values that came from Secrets (to scrub from every output).
pub async fn substitution_sources(
    live: &Live,
    ks: &Kustomization,
    sops_decrypt: bool,
) -> Result<(Sources, BTreeSet<String>), LiveError> {
    let mut sources = Sources::default();
    let mut secret_values = BTreeSet::new();
    for reference in ks.spec.post_build.iter().flat_map(|p| &p.substitute_from) {
        let found = live
            .substitution_data(&reference.kind, &ks.namespace, &reference.name)
            .await?;
        if let Some(data) = found {
            if reference.kind == "Secret" {
                // Whatever their length (texts scrub short ones as whole
                // tokens only), and as substituted too: without newlines.
                for value in data.values().filter(|v| !v.is_empty()) {
                    secret_values.insert(value.clone());
                    secret_values.insert(value.replace('\n', ""));
                }
            }
            sources
                .data
                .insert((reference.kind.clone(), reference.name.clone()), data);
        }
    }
    if sops_decrypt {
        sources.decryption = decryption_keys(live, ks, &mut secret_values).await;
    }
    Ok((sources, secret_values))
}

/// The age and PGP keys of a Kustomization's `spec.decryption.secretRef` (SOPS), as
/// kustomize-controller imports them; their values are added to
/// `secret_values` (scrubbed from every text). A Secret that cannot be read
/// or holds no usable key is said once, and the objects are compared
/// without it.
async fn decryption_keys(
    live: &Live,
    ks: &Kustomization,
    secret_values: &mut BTreeSet<String>,
) -> Decryption {
    let Some(decryption) = &ks.spec.decryption else {
        return Decryption::NoKey;
    };
    let Some(name) = decryption
        .pointer("/secretRef/name")
        .and_then(serde_json::Value::as_str)
    else {
        return Decryption::Unusable(
            "spec.decryption has no secretRef (keys from the controller's environment or a cloud KMS are not available to drift-check)".into(),
        );
    };
    let origin = format!("Secret/{}/{name}", ks.namespace);
    match live.substitution_data("Secret", &ks.namespace, name).await {
        Ok(Some(data)) => {
            secret_values.extend(data.values().filter(|v| !v.is_empty()).cloned());
            match Keys::from_secret(origin.clone(), &data) {
                Ok(keys) if keys.is_empty() => Decryption::Unusable(format!(
                    "{origin} (spec.decryption.secretRef) has no *.agekey or *.asc value"
                )),
                Ok(keys) => Decryption::Keys(std::sync::Arc::new(keys)),
                Err(why) => Decryption::Unusable(why),
            }
        }
        Ok(None) => Decryption::Unusable(format!("{origin} (spec.decryption.secretRef) not found")),
        Err(e) => Decryption::Unusable(format!(
            "cannot read {origin} (spec.decryption.secretRef): {e}"
        )),
    }
}
