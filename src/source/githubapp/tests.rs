use super::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use jsonwebtoken::{DecodingKey, Validation};

/// A fresh RSA key: its PKCS#8 PEM and its public key (X.509 DER).
pub(crate) fn rsa_key() -> (String, Vec<u8>) {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let public = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    (pem, public.as_ref().to_vec())
}

fn secret(pairs: &[(&str, &str)]) -> SecretData {
    SecretData(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
    )
}

#[test]
fn the_jwt_is_rs256_with_the_claims_flux_sets_and_verifies_with_the_apps_public_key() {
    let (pem, public) = rsa_key();
    let app = App::from_secret(&secret(&[
        (KEY_APP_ID, "424242\n"),
        (KEY_INSTALLATION_ID, "1001"),
        (KEY_PRIVATE_KEY, &pem),
    ]))
    .unwrap();
    assert_eq!(app.installation, Installation::Id(1001));
    assert_eq!(app.api, "https://api.github.com/");
    let now = 1_800_000_000;
    let jwt = app.jwt(now).unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.required_spec_claims = ["exp", "iat", "iss"].map(String::from).into();
    validation.set_issuer(&["424242"]);
    let claims =
        jsonwebtoken::decode::<Claims>(&jwt, &DecodingKey::from_rsa_der(&public), &validation)
            .unwrap()
            .claims;
    assert_eq!(
        claims,
        Claims {
            iat: now - 30,
            exp: now + 90,
            iss: "424242".into()
        }
    );
    // Another key's signature does not verify.
    let (_, other) = rsa_key();
    assert!(
        jsonwebtoken::decode::<Claims>(&jwt, &DecodingKey::from_rsa_der(&other), &validation)
            .is_err()
    );
}

#[test]
fn the_installation_is_an_id_or_an_owner_and_the_base_url_is_used_as_given() {
    let (pem, _) = rsa_key();
    let app = App::from_secret(&secret(&[
        (KEY_APP_ID, "7"),
        (KEY_INSTALLATION_OWNER, "platform-team"),
        (KEY_PRIVATE_KEY, &pem),
        (KEY_BASE_URL, "https://ghe.example.com/api/v3"),
    ]))
    .unwrap();
    assert_eq!(
        app.installation,
        Installation::Owner("platform-team".into())
    );
    assert_eq!(app.api, "https://ghe.example.com/api/v3/");
    assert_eq!(app.describe(), "GitHub App 7 installation of platform-team");
    // The cache key tells apart installations and keys, and holds no key.
    let by_id = App::from_secret(&secret(&[
        (KEY_APP_ID, "7"),
        (KEY_INSTALLATION_ID, "9"),
        (KEY_PRIVATE_KEY, &pem),
    ]))
    .unwrap();
    assert_ne!(app.cache_key(), by_id.cache_key());
    let (other_pem, _) = rsa_key();
    let other_key = App::from_secret(&secret(&[
        (KEY_APP_ID, "7"),
        (KEY_INSTALLATION_ID, "9"),
        (KEY_PRIVATE_KEY, &other_pem),
    ]))
    .unwrap();
    assert_ne!(by_id.cache_key(), other_key.cache_key());
    assert_eq!(by_id.cache_key(), by_id.clone().cache_key());
}

#[test]
fn a_secret_of_the_wrong_shape_is_one_clear_problem_naming_keys_never_values() {
    let (pem, _) = rsa_key();
    let canary = "s3cret-canary-5d1e";
    let err = |pairs: &[(&str, &str)]| App::from_secret(&secret(pairs)).unwrap_err().to_string();
    assert_eq!(
        err(&[("username", "u"), ("password", canary)]),
        "secretRef: spec.provider github needs GitHub App data (githubAppID, githubAppInstallationID or githubAppInstallationOwner, githubAppPrivateKey); the Secret has keys {\"password\", \"username\"}"
    );
    assert_eq!(
        err(&[(KEY_INSTALLATION_ID, "1"), (KEY_PRIVATE_KEY, &pem)]),
        "secretRef: has no githubAppID"
    );
    assert_eq!(
        err(&[(KEY_APP_ID, "1"), (KEY_INSTALLATION_ID, "1")]),
        "secretRef: has no githubAppPrivateKey"
    );
    assert_eq!(
        err(&[
            (KEY_APP_ID, canary),
            (KEY_INSTALLATION_ID, "1"),
            (KEY_PRIVATE_KEY, &pem)
        ]),
        "secretRef: githubAppID is not a positive number (e.g. 123456)"
    );
    assert_eq!(
        err(&[
            (KEY_APP_ID, "1"),
            (KEY_INSTALLATION_ID, "1"),
            (KEY_INSTALLATION_OWNER, "o"),
            (KEY_PRIVATE_KEY, &pem)
        ]),
        "secretRef: must hold exactly one of githubAppInstallationOwner or githubAppInstallationID"
    );
    assert_eq!(
        err(&[(KEY_APP_ID, "1"), (KEY_PRIVATE_KEY, &pem)]),
        "secretRef: must hold exactly one of githubAppInstallationOwner or githubAppInstallationID"
    );
    assert_eq!(
        err(&[
            (KEY_APP_ID, "1"),
            (KEY_INSTALLATION_ID, "1"),
            (KEY_PRIVATE_KEY, &pem),
            (KEY_BASE_URL, "ghe.example.com")
        ]),
        "secretRef: githubAppBaseURL is not an http(s) URL (e.g. https://github.example.com/api/v3)"
    );
    let not_rsa = "secretRef: githubAppPrivateKey is not an RSA private key in PEM (-----BEGIN RSA PRIVATE KEY-----, as GitHub issues it)";
    let garbage =
        format!("-----BEGIN RSA PRIVATE KEY-----\n{canary}\n-----END RSA PRIVATE KEY-----\n");
    for key in [canary, garbage.as_str()] {
        let e = err(&[
            (KEY_APP_ID, "1"),
            (KEY_INSTALLATION_ID, "1"),
            (KEY_PRIVATE_KEY, key),
        ]);
        assert_eq!(e, not_rsa);
    }
    // An EC key in PKCS#8 PEM is a PEM private key, but not RSA.
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
    )
    .unwrap();
    let der = ec.to_pkcs8v1().unwrap();
    let ec_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    assert_eq!(
        err(&[
            (KEY_APP_ID, "1"),
            (KEY_INSTALLATION_ID, "1"),
            (KEY_PRIVATE_KEY, &ec_pem)
        ]),
        not_rsa
    );
}

#[test]
fn the_key_and_tokens_never_show_in_debug_output() {
    let (pem, _) = rsa_key();
    let app = App::from_secret(&secret(&[
        (KEY_APP_ID, "3"),
        (KEY_INSTALLATION_ID, "4"),
        (KEY_PRIVATE_KEY, &pem),
    ]))
    .unwrap();
    let shown = format!("{app:?} {app:#?}");
    let body = pem.lines().nth(1).unwrap();
    assert!(!shown.contains(body), "{shown}");
    assert!(shown.contains("key: \"***\""), "{shown}");
    let token = Token::new("ghs_canaryTokenValue123".into());
    assert_eq!(format!("{token:?}"), "Token(***)");
    assert_eq!(format!("{:?}", Some(token.clone())), "Some(Token(***))");
    assert_eq!(token.expose(), "ghs_canaryTokenValue123");
}
