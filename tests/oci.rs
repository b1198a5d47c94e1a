//! `OCIRepository` sources against two real registries on 127.0.0.1
//! (Debian's docker-registry, distribution 2.8: plain http, and htpasswd +
//! TLS), started by `scripts/services/oci-registry`. Artifacts are pushed in
//! Flux's format by an independent client, the ORAS Python SDK
//! (`tests/fetchers/oci_push.py`), never by drift-check's own code.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use drift_check::source::fetch::{FetchLimits, SecretData, SourceSecrets};
use drift_check::source::oci::{self, Error};
use serde_json::{Value, json};
use sha2::Digest;

use crate::util::{root, service};

const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// The registries `scripts/services/oci-registry` started.
pub(crate) struct Registries {
    pub(crate) plain: String,
    pub(crate) storage: PathBuf,
    pub(crate) tls: String,
    pub(crate) ca: PathBuf,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) python: String,
}

pub(crate) fn registries() -> Option<Registries> {
    let var = |name: &str| service(&format!("DRIFT_CHECK_TEST_OCI_{name}"));
    Some(Registries {
        plain: var("REGISTRY")?,
        storage: var("STORAGE")?.into(),
        tls: var("TLS_REGISTRY")?,
        ca: var("CA")?.into(),
        user: var("USER")?,
        password: var("PASSWORD")?,
        python: service("DRIFT_CHECK_TEST_ORAS_PYTHON")?,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A unique repository name per test (the registries are shared).
pub(crate) fn repo(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

impl Registries {
    pub(crate) fn script(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(root().join("tests/fetchers/oci_push.py"))
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "oci_push.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A deterministic tar.gz of `files` (path, content).
    pub(crate) fn layer(&self, dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        let tree = dir.join(format!("tree-{}", uuid::Uuid::new_v4().simple()));
        for (path, content) in files {
            let p = tree.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let out = dir.join(format!("layer-{}.tgz", uuid::Uuid::new_v4().simple()));
        self.script(&["targz", tree.to_str().unwrap(), out.to_str().unwrap()]);
        out
    }

    fn evil(&self, dir: &Path, kind: &str) -> PathBuf {
        let out = dir.join(format!("{kind}.tgz"));
        self.script(&["evil", kind, out.to_str().unwrap()]);
        out
    }

    /// Pushes `layer` (plus `extra` arguments) to the plain registry; the
    /// manifest digest.
    fn push(&self, reference: &str, layer: &Path, extra: &[&str]) -> String {
        let target = format!("{}/{reference}", self.plain);
        let mut args = vec!["push", &target, layer.to_str().unwrap(), "--insecure"];
        args.extend_from_slice(extra);
        self.script(&args)
    }
}

fn object(url: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["url"] = json!(url);
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"namespace": "flux-system", "name": "apps"},
        "spec": spec
    })
}

fn insecure(registry: &str, repo: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["insecure"] = json!(true);
    object(&format!("oci://{registry}/{repo}"), spec)
}

fn limits() -> FetchLimits {
    FetchLimits {
        timeout: std::time::Duration::from_secs(30),
        ..FetchLimits::default()
    }
}

fn fetch(
    object: &Value,
    secrets: &SourceSecrets,
    applied: Option<&str>,
    limits: &FetchLimits,
    cache: Option<&Path>,
) -> (
    tempfile::TempDir,
    Result<(drift_check::source::fetch::Fetched, Option<String>), Error>,
) {
    let dest = tempfile::tempdir().unwrap();
    let result = runtime().block_on(oci::fetch_with_head(
        object,
        secrets,
        applied,
        &dest.path().join("tree"),
        limits,
        cache,
    ));
    (dest, result)
}

fn read(dir: &tempfile::TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join("tree").join(path)).unwrap()
}

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    crate::util::tree_files(&dir.path().join("tree"))
}

#[test]
fn a_tag_moved_since_apply_gives_the_applied_digest_and_the_new_head() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let name = repo("moved");
    let v1 = r.layer(work.path(), &[("cm.yaml", "replicas: 1\n")]);
    let applied = r.push(&format!("{name}:prod"), &v1, &[]);
    let v2 = r.layer(work.path(), &[("cm.yaml", "replicas: 2\n")]);
    let moved = r.push(&format!("{name}:prod"), &v2, &[]);
    assert_ne!(applied, moved);

    let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "prod"}}));
    let revision = format!("prod@{applied}");
    let (dest, result) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&revision),
        &limits(),
        None,
    );
    let (fetched, head) = result.unwrap();
    assert_eq!(fetched.revision, revision);
    assert!(fetched.is_applied);
    assert!(fetched.downloaded_bytes > 0);
    assert_eq!(head, Some(format!("prod@{moved}")));
    assert_eq!(read(&dest, "cm.yaml"), "replicas: 1\n");

    // Without an applied revision: the tag's current artifact.
    let (dest, result) = fetch(&obj, &SourceSecrets::default(), None, &limits(), None);
    let (fetched, head) = result.unwrap();
    assert_eq!(fetched.revision, format!("prod@{moved}"));
    assert_eq!(head.as_deref(), Some(fetched.revision.as_str()));
    assert_eq!(read(&dest, "cm.yaml"), "replicas: 2\n");

    // A digest ref: the revision is the bare digest.
    let by_digest = insecure(&r.plain, &name, json!({"ref": {"digest": applied}}));
    let (dest, result) = fetch(
        &by_digest,
        &SourceSecrets::default(),
        Some(&applied),
        &limits(),
        None,
    );
    assert_eq!(result.unwrap().0.revision, applied);
    assert_eq!(read(&dest, "cm.yaml"), "replicas: 1\n");
}

#[test]
fn a_semver_ref_resolves_to_the_highest_matching_tag() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let name = repo("semver");
    let mut digests = std::collections::BTreeMap::new();
    for tag in ["v1.0.0", "v1.2.0", "v2.0.0", "v1.3.0-rc.1", "latest"] {
        let layer = r.layer(
            work.path(),
            &[("version.yaml", &format!("version: {tag}\n"))],
        );
        digests.insert(tag, r.push(&format!("{name}:{tag}"), &layer, &[]));
    }
    let obj = insecure(
        &r.plain,
        &name,
        json!({"ref": {"semver": ">=1.0.0 <2.0.0"}}),
    );
    let (dest, result) = fetch(&obj, &SourceSecrets::default(), None, &limits(), None);
    let (fetched, _) = result.unwrap();
    assert_eq!(fetched.revision, format!("v1.2.0@{}", digests["v1.2.0"]));
    assert_eq!(read(&dest, "version.yaml"), "version: v1.2.0\n");

    let filtered = insecure(
        &r.plain,
        &name,
        json!({"ref": {"semver": ">=1.0.0-0", "semverFilter": ".*-rc.*"}}),
    );
    let (_dest, result) = fetch(&filtered, &SourceSecrets::default(), None, &limits(), None);
    assert_eq!(
        result.unwrap().0.revision,
        format!("v1.3.0-rc.1@{}", digests["v1.3.0-rc.1"])
    );

    let none = insecure(&r.plain, &name, json!({"ref": {"semver": ">=3.0.0"}}));
    let (_dest, result) = fetch(&none, &SourceSecrets::default(), None, &limits(), None);
    assert_eq!(
        result.unwrap_err().to_string(),
        "OCIRepository flux-system/apps: spec.ref.semver: no tag matches \">=3.0.0\""
    );
}

#[test]
fn the_layer_selector_picks_a_layer_and_copy_keeps_what_extract_ignores() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let name = repo("layers");
    let first = r.layer(
        work.path(),
        &[
            ("cm.yaml", "first: true\n"),
            ("logo.png", "PNG"),
            ("docs/notes.md", "n"),
        ],
    );
    let second = r.layer(work.path(), &[("other.yaml", "second: true\n")]);
    let extra = format!(
        "{}:application/vnd.example.manifests.tar+gzip",
        second.display()
    );
    r.push(&format!("{name}:v1"), &first, &["--extra-layer", &extra]);

    // Flux's default: the first layer, extracted, Flux's default exclusions
    // (images) applied.
    let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "v1"}}));
    let (dest, result) = fetch(&obj, &SourceSecrets::default(), None, &limits(), None);
    result.unwrap();
    assert_eq!(files(&dest), ["cm.yaml", "docs/notes.md"]);

    // spec.ignore replaces the defaults.
    let ignoring = insecure(
        &r.plain,
        &name,
        json!({"ref": {"tag": "v1"}, "ignore": "docs/\n"}),
    );
    let (dest, result) = fetch(&ignoring, &SourceSecrets::default(), None, &limits(), None);
    result.unwrap();
    assert_eq!(files(&dest), ["cm.yaml", "logo.png"]);

    // copy: the layer as it is (kustomize-controller untars it, no ignore).
    let copy = insecure(
        &r.plain,
        &name,
        json!({"ref": {"tag": "v1"}, "ignore": "docs/\n",
               "layerSelector": {"mediaType": FLUX_CONTENT, "operation": "copy"}}),
    );
    let (dest, result) = fetch(&copy, &SourceSecrets::default(), None, &limits(), None);
    result.unwrap();
    assert_eq!(files(&dest), ["cm.yaml", "docs/notes.md", "logo.png"]);

    // A media type: that layer.
    let second_layer = insecure(
        &r.plain,
        &name,
        json!({"ref": {"tag": "v1"},
               "layerSelector": {"mediaType": "application/vnd.example.manifests.tar+gzip"}}),
    );
    let (dest, result) = fetch(
        &second_layer,
        &SourceSecrets::default(),
        None,
        &limits(),
        None,
    );
    result.unwrap();
    assert_eq!(files(&dest), ["other.yaml"]);

    let missing = insecure(
        &r.plain,
        &name,
        json!({"ref": {"tag": "v1"}, "layerSelector": {"mediaType": "application/x-none"}}),
    );
    let (_dest, result) = fetch(&missing, &SourceSecrets::default(), None, &limits(), None);
    let err = result.unwrap_err().to_string();
    assert!(
        err.ends_with(&format!(
            "no layer with media type \"application/x-none\" (spec.layerSelector.mediaType); the artifact has: {FLUX_CONTENT}, application/vnd.example.manifests.tar+gzip"
        )),
        "{err}"
    );
}

fn dockerconfigjson(host: &str, user: &str, password: &str) -> SecretData {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = json!({"auths": {host: {"auth": auth}}}).to_string();
    SecretData([(".dockerconfigjson".to_string(), config.into_bytes())].into())
}

#[test]
fn pulls_over_tls_with_a_dockerconfigjson_secret_and_a_ca() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let name = repo("private");
    let layer = r.layer(work.path(), &[("secret-app.yaml", "kind: ConfigMap\n")]);
    let target = format!("{}/{name}:v1", r.tls);
    let digest = r.script(&[
        "push",
        &target,
        layer.to_str().unwrap(),
        "--ca",
        r.ca.to_str().unwrap(),
        "--user",
        &r.user,
        "--password",
        &r.password,
    ]);
    let obj = object(
        &format!("oci://{}/{name}", r.tls),
        json!({"ref": {"tag": "v1"}, "secretRef": {"name": "regcred"}, "certSecretRef": {"name": "registry-ca"}}),
    );
    let ca = SecretData([("ca.crt".to_string(), std::fs::read(&r.ca).unwrap())].into());
    let secrets = SourceSecrets {
        secret: Some(dockerconfigjson(&r.tls, &r.user, &r.password)),
        cert: Some(ca.clone()),
        proxy: None,
    };
    let (dest, result) = fetch(
        &obj,
        &secrets,
        Some(&format!("v1@{digest}")),
        &limits(),
        None,
    );
    assert_eq!(result.unwrap().0.revision, format!("v1@{digest}"));
    assert_eq!(read(&dest, "secret-app.yaml"), "kind: ConfigMap\n");

    // Wrong password: refused, the Secret named, the password nowhere.
    let wrong = SourceSecrets {
        secret: Some(dockerconfigjson(&r.tls, &r.user, "not-the-password")),
        cert: Some(ca.clone()),
        proxy: None,
    };
    let (_dest, result) = fetch(&obj, &wrong, Some(&format!("v1@{digest}")), &limits(), None);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "OCIRepository flux-system/apps: registry {} refused access to {name} (check spec.secretRef flux-system/regcred): ",
            r.tls
        )),
        "{text}"
    );
    assert!(!text.contains("not-the-password") && !text.contains(&r.password));

    // No CA: the registry's certificate is not trusted.
    let no_ca = SourceSecrets {
        secret: secrets.secret.clone(),
        cert: None,
        proxy: None,
    };
    let (_dest, result) = fetch(&obj, &no_ca, Some(&format!("v1@{digest}")), &limits(), None);
    let text = result.unwrap_err().to_string();
    assert!(
        text.starts_with(&format!(
            "OCIRepository flux-system/apps: registry {} unreachable: ",
            r.tls
        )),
        "{text}"
    );

    // A Secret of the wrong type.
    let basic = SourceSecrets {
        secret: Some(SecretData(
            [
                ("username".to_string(), b"flux".to_vec()),
                ("password".to_string(), b"x".to_vec()),
            ]
            .into(),
        )),
        cert: Some(ca),
        proxy: None,
    };
    let (_dest, result) = fetch(&obj, &basic, None, &limits(), None);
    assert_eq!(
        result.unwrap_err().to_string(),
        "OCIRepository flux-system/apps: Secret flux-system/regcred: not a kubernetes.io/dockerconfigjson Secret (no .dockerconfigjson key; it has: password, username)"
    );
}

#[test]
fn an_unreachable_registry_is_named() {
    let Some(_r) = registries() else { return };
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let registry = format!("127.0.0.1:{port}");
    let obj = insecure(&registry, "apps", json!({"ref": {"tag": "v1"}}));
    let (_dest, result) = fetch(&obj, &SourceSecrets::default(), None, &limits(), None);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "OCIRepository flux-system/apps: registry {registry} unreachable: "
        )),
        "{err}"
    );
}

/// The file the registry stores a blob (or manifest) of `digest` in.
fn blob_data(storage: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    storage.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

#[test]
fn content_that_does_not_hash_to_its_digest_is_a_supply_chain_alarm() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    // A tampered layer: same length, one byte changed.
    // Blobs are shared by every repository of a registry: content of its
    // own, so that no other test meets the tampered blob.
    let unique = format!("replicas: 1\nid: {}\n", uuid::Uuid::new_v4());
    let name = repo("tampered-layer");
    let layer = r.layer(work.path(), &[("cm.yaml", &unique)]);
    let layer_digest = format!(
        "sha256:{:x}",
        sha2::Sha256::digest(std::fs::read(&layer).unwrap())
    );
    let digest = r.push(&format!("{name}:v1"), &layer, &[]);
    let data = blob_data(&r.storage, &layer_digest);
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "v1"}}));
    let (dest, result) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&format!("v1@{digest}")),
        &limits(),
        None,
    );
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::SupplyChain { what: "layer", .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(
            "OCIRepository flux-system/apps: SUPPLY-CHAIN ALARM: the registry served a layer for "
        ) && text.contains(&format!(
            ", not {layer_digest}: this is not what Flux applied"
        )),
        "{text}"
    );
    assert!(!dest.path().join("tree/cm.yaml").exists());

    // A tampered manifest: an annotation changed in the registry's storage.
    let name = repo("tampered-manifest");
    let unique = format!("replicas: 1\nid: {}\n", uuid::Uuid::new_v4());
    let layer = r.layer(work.path(), &[("cm.yaml", &unique)]);
    let digest = r.push(
        &format!("{name}:v1"),
        &layer,
        &[
            "--revision",
            "main@sha1:1111111111111111111111111111111111111111",
        ],
    );
    let data = blob_data(&r.storage, &digest);
    let text = std::fs::read_to_string(&data).unwrap();
    let forged = text.replace(
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
    );
    assert_ne!(text, forged);
    std::fs::write(&data, forged).unwrap();
    let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "v1"}}));
    let (_dest, result) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&format!("v1@{digest}")),
        &limits(),
        None,
    );
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SupplyChain {
                what: "manifest",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!(
            ", not {digest}: this is not what Flux applied (not drift"
        )),
        "{err}"
    );
}

#[test]
fn bad_layers_are_refused_with_the_rule_they_break() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let small = FetchLimits {
        unpacked_bytes: 1 << 20,
        ..limits()
    };
    for (kind, expected) in [
        ("not-gzip", "is not a tar.gz (no gzip header)".to_string()),
        (
            "dotdot",
            "entry \"apps/../../escaped.yaml\": path outside the tree (absolute, empty or with `..`), refused".into(),
        ),
        (
            "absolute",
            "entry \"/tmp/absolute.yaml\": path outside the tree (absolute, empty or with `..`), refused".into(),
        ),
        (
            "symlink-out",
            "entry \"link\": link to \"../../../etc/passwd\" points out of the tree, refused".into(),
        ),
        (
            "hardlink-out",
            "entry \"link\": link to \"../../../etc/passwd\" points out of the tree, refused".into(),
        ),
        (
            "bomb",
            format!("unpacks to more than {} bytes (at entry \"bomb.yaml\"): refused as a decompression bomb", 1 << 20),
        ),
    ] {
        let name = repo(kind);
        let layer = r.evil(work.path(), kind);
        let digest = r.push(&format!("{name}:v1"), &layer, &[]);
        let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "v1"}}));
        let (dest, result) = fetch(&obj, &SourceSecrets::default(), Some(&format!("v1@{digest}")), &small, None);
        let err = result.unwrap_err();
        let layer_digest = format!("sha256:{:x}", sha2::Sha256::digest(std::fs::read(&layer).unwrap()));
        assert_eq!(
            err.to_string(),
            format!("OCIRepository flux-system/apps: layer {layer_digest} ({FLUX_CONTENT}) {expected}"),
            "{kind}"
        );
        assert!(!dest.path().join("escaped.yaml").exists());
        assert!(!Path::new("/tmp/absolute.yaml").exists() || kind != "absolute");
    }
}

/// distribution 2.8 itself refuses a manifest over 4 MiB, on push (400)
/// and on read ("storage: read exceeds limit", 500): planted in its storage,
/// as another registry could serve it, the pull fails with one clear error
/// naming the registry. drift-check's own 4 MiB check (for registries that
/// serve such a manifest) is the unit test
/// `a_manifest_over_4_mib_is_refused_before_its_digest_is_checked`.
#[test]
fn a_manifest_over_4_mib_is_refused() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let name = repo("big-manifest");
    let layer = r.layer(work.path(), &[("cm.yaml", "a: 1\n")]);
    r.push(&format!("{name}:v1"), &layer, &[]);
    let layer_digest = format!(
        "sha256:{:x}",
        sha2::Sha256::digest(std::fs::read(&layer).unwrap())
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json",
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": FLUX_CONTENT, "digest": layer_digest,
                    "size": std::fs::metadata(&layer).unwrap().len()}],
        "annotations": {"padding": "x".repeat(5 << 20)}
    })
    .to_string();
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(manifest.as_bytes()));
    let data = blob_data(&r.storage, &digest);
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    std::fs::write(&data, &manifest).unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let link = r.storage.join(format!(
        "docker/registry/v2/repositories/{name}/_manifests/revisions/sha256/{hex}/link"
    ));
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::fs::write(&link, &digest).unwrap();

    let obj = insecure(&r.plain, &name, json!({"ref": {"digest": digest}}));
    let (dest, result) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&digest),
        &limits(),
        None,
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "OCIRepository flux-system/apps: registry {}: Server error: url http://{}/v2/{name}/manifests/{digest}, code: 500",
            r.plain, r.plain
        )),
        "{err}"
    );
    assert!(!dest.path().join("tree").exists());
}

#[test]
fn the_cache_serves_an_unchanged_artifact_with_zero_bytes_downloaded() {
    let Some(r) = registries() else { return };
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let name = repo("cached");
    let layer = r.layer(work.path(), &[("cm.yaml", "cached: true\n")]);
    let digest = r.push(&format!("{name}:v1"), &layer, &[]);
    let obj = insecure(&r.plain, &name, json!({"ref": {"tag": "v1"}}));
    let applied = format!("v1@{digest}");
    let (_d, first) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&applied),
        &limits(),
        Some(cache.path()),
    );
    let first = first.unwrap().0;
    let manifest_len = std::fs::metadata(blob_data(&r.storage, &digest))
        .unwrap()
        .len();
    assert_eq!(
        first.downloaded_bytes,
        manifest_len + std::fs::metadata(&layer).unwrap().len()
    );
    let (dest, second) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&applied),
        &limits(),
        Some(cache.path()),
    );
    let (second, head) = second.unwrap();
    assert_eq!(second.downloaded_bytes, 0);
    assert_eq!(second.revision, applied);
    assert_eq!(head, Some(applied.clone()));
    assert_eq!(read(&dest, "cm.yaml"), "cached: true\n");

    // A cached blob that was altered on disk is not trusted: downloaded again.
    let layer_digest = format!(
        "sha256:{:x}",
        sha2::Sha256::digest(std::fs::read(&layer).unwrap())
    );
    let cached = cache
        .path()
        .join("oci/sha256")
        .join(layer_digest.strip_prefix("sha256:").unwrap());
    std::fs::write(&cached, b"garbage").unwrap();
    let (dest, third) = fetch(
        &obj,
        &SourceSecrets::default(),
        Some(&applied),
        &limits(),
        Some(cache.path()),
    );
    assert_eq!(
        third.unwrap().0.downloaded_bytes,
        std::fs::metadata(&layer).unwrap().len()
    );
    assert_eq!(read(&dest, "cm.yaml"), "cached: true\n");
}
