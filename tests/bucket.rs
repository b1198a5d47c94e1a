//! `Bucket` sources against a real S3-compatible server on 127.0.0.1
//! (moto's server mode, with IAM-checked keys), started by
//! `scripts/services/s3`. Objects are put, and the revision source-controller
//! would record computed, by boto3 (`tests/fetchers/s3_admin.py`), never by
//! drift-check's own code.

use std::path::Path;
use std::process::Command;

use drift_check::source::bucket::{self, Error};
use drift_check::source::fetch::{FetchLimits, Fetched, SecretData, SourceSecrets};
use serde_json::{Value, json};

use crate::util::{root, service};

pub(crate) struct S3 {
    pub(crate) url: String,
    pub(crate) access: String,
    pub(crate) secret: String,
    pub(crate) python: String,
}

pub(crate) fn s3() -> Option<S3> {
    Some(S3 {
        url: service("DRIFT_CHECK_TEST_S3_URL")?,
        access: service("DRIFT_CHECK_TEST_S3_ACCESS_KEY")?,
        secret: service("DRIFT_CHECK_TEST_S3_SECRET_KEY")?,
        python: service("DRIFT_CHECK_TEST_S3_PYTHON")?,
    })
}

impl S3 {
    fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(root().join("tests/fetchers/s3_admin.py"))
            .args(args)
            .env("DRIFT_CHECK_TEST_S3_URL", &self.url)
            .env("DRIFT_CHECK_TEST_S3_ACCESS_KEY", &self.access)
            .env("DRIFT_CHECK_TEST_S3_SECRET_KEY", &self.secret)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "s3_admin.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Creates a bucket of its own holding `files` (key, content).
    pub(crate) fn bucket(&self, files: &[(&str, &str)]) -> String {
        let name = format!("flux-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        self.put(&name, files);
        name
    }

    fn put(&self, bucket: &str, files: &[(&str, &str)]) {
        let dir = tempfile::tempdir().unwrap();
        for (key, content) in files {
            let p = dir.path().join(key);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.admin(&["put", bucket, dir.path().to_str().unwrap()]);
    }

    /// source-controller's revision, computed by boto3 from the listing.
    pub(crate) fn revision(&self, bucket: &str, prefix: &str, ignored: &[&str]) -> String {
        self.admin(&["revision", bucket, prefix, &ignored.join(",")])
    }

    pub(crate) fn endpoint(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    fn keys(&self) -> SourceSecrets {
        keys(&self.access, &self.secret)
    }
}

fn keys(access: &str, secret: &str) -> SourceSecrets {
    SourceSecrets {
        secret: Some(SecretData(
            [
                ("accesskey".to_string(), access.as_bytes().to_vec()),
                ("secretkey".to_string(), secret.as_bytes().to_vec()),
            ]
            .into(),
        )),
        ..Default::default()
    }
}

fn object(endpoint: &str, bucket: &str, extra: Value) -> Value {
    let mut spec = json!({
        "provider": "generic",
        "endpoint": endpoint,
        "bucketName": bucket,
        "insecure": true,
        "secretRef": {"name": "bucket-keys"}
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "Bucket",
        "metadata": {"namespace": "flux-system", "name": "artifacts"},
        "spec": spec
    })
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
    cache: Option<&Path>,
) -> (tempfile::TempDir, Result<Fetched, Error>) {
    let dest = tempfile::tempdir().unwrap();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bucket::fetch(
            object,
            secrets,
            applied,
            &dest.path().join("tree"),
            &limits(),
            cache,
        ));
    (dest, result)
}

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    crate::util::tree_files(&dir.path().join("tree"))
}

#[test]
fn the_revision_is_the_one_source_controller_computes() {
    let Some(s3) = s3() else { return };
    let name = s3.bucket(&[
        ("apps/cm.yaml", "kind: ConfigMap\n"),
        ("apps/nested/deploy.yaml", "kind: Deployment\n"),
        ("top.yaml", "kind: Namespace\n"),
    ]);
    let expected = s3.revision(&name, "", &[]);
    let obj = object(&s3.endpoint(), &name, json!({}));
    let (dest, result) = fetch(&obj, &s3.keys(), Some(&expected), None);
    let fetched = result.unwrap();
    assert_eq!(fetched.revision, expected);
    assert!(fetched.is_applied);
    assert_eq!(fetched.downloaded_bytes, 49);
    assert_eq!(
        files(&dest),
        ["apps/cm.yaml", "apps/nested/deploy.yaml", "top.yaml"]
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join("tree/apps/nested/deploy.yaml")).unwrap(),
        "kind: Deployment\n"
    );
}

#[test]
fn prefix_spec_ignore_and_the_bucket_sourceignore_narrow_the_objects() {
    let Some(s3) = s3() else { return };
    let name = s3.bucket(&[
        (".sourceignore", "# docs are not applied\n*.md\n"),
        ("apps/cm.yaml", "a: 1\n"),
        ("apps/README.md", "docs\n"),
        ("apps/skip/x.yaml", "x: 1\n"),
        ("apps-old/cm.yaml", "old: 1\n"),
        ("other/cm.yaml", "b: 1\n"),
    ]);
    let expected = s3.revision(&name, "apps/", &["apps/README.md", "apps/skip/x.yaml"]);
    let obj = object(
        &s3.endpoint(),
        &name,
        json!({"prefix": "apps/", "ignore": "skip/\n"}),
    );
    let (dest, result) = fetch(&obj, &s3.keys(), Some(&expected), None);
    let fetched = result.unwrap();
    assert_eq!(fetched.revision, expected);
    // The bucket's .sourceignore is kept, as in source-controller's artifact.
    assert_eq!(files(&dest), [".sourceignore", "apps/cm.yaml"]);

    // A prefix that is not a whole "directory": a string prefix, as Flux's.
    let expected = s3.revision(&name, "apps", &["apps/README.md"]);
    let obj = object(&s3.endpoint(), &name, json!({"prefix": "apps"}));
    let (dest, result) = fetch(&obj, &s3.keys(), None, None);
    assert_eq!(result.unwrap().revision, expected);
    assert_eq!(
        files(&dest),
        [
            ".sourceignore",
            "apps-old/cm.yaml",
            "apps/cm.yaml",
            "apps/skip/x.yaml"
        ]
    );
}

#[test]
fn objects_changed_since_apply_give_the_current_content_not_applied() {
    let Some(s3) = s3() else { return };
    let name = s3.bucket(&[("cm.yaml", "v: 1\n")]);
    let applied = s3.revision(&name, "", &[]);
    s3.put(&name, &[("cm.yaml", "v: 2\n"), ("new.yaml", "n: 1\n")]);
    let current = s3.revision(&name, "", &[]);
    assert_ne!(applied, current);
    let obj = object(&s3.endpoint(), &name, json!({}));
    let (dest, result) = fetch(&obj, &s3.keys(), Some(&applied), None);
    let fetched = result.unwrap();
    assert!(!fetched.is_applied);
    assert_eq!(fetched.revision, current);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("tree/cm.yaml")).unwrap(),
        "v: 2\n"
    );
}

#[test]
fn wrong_keys_and_a_missing_bucket_are_named_without_the_secret() {
    let Some(s3) = s3() else { return };
    let name = s3.bucket(&[("cm.yaml", "v: 1\n")]);
    let obj = object(&s3.endpoint(), &name, json!({}));
    let (_dest, result) = fetch(&obj, &keys(&s3.access, "not-the-secret-key"), None, None);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "Bucket flux-system/artifacts: {} refused access to bucket {name} (check spec.secretRef flux-system/bucket-keys): ",
            s3.endpoint()
        )),
        "{text}"
    );
    assert!(!text.contains("not-the-secret-key") && !text.contains(&s3.secret));

    let missing = object(&s3.endpoint(), "no-such-bucket-here", json!({}));
    let (_dest, result) = fetch(&missing, &s3.keys(), None, None);
    assert_eq!(
        result.unwrap_err().to_string(),
        format!(
            "Bucket flux-system/artifacts: bucket \"no-such-bucket-here\" not found at {}",
            s3.endpoint()
        )
    );

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = object(&format!("127.0.0.1:{port}"), &name, json!({}));
    let (_dest, result) = fetch(&nowhere, &s3.keys(), None, None);
    let text = result.unwrap_err().to_string();
    assert!(
        text.starts_with(&format!(
            "Bucket flux-system/artifacts: endpoint 127.0.0.1:{port} unreachable: "
        )),
        "{text}"
    );
}

#[test]
fn the_cache_serves_an_unchanged_bucket_with_zero_bytes_downloaded() {
    let Some(s3) = s3() else { return };
    let cache = tempfile::tempdir().unwrap();
    let name = s3.bucket(&[("a.yaml", "a: 1\n"), ("b/c.yaml", "c: 1\n")]);
    let obj = object(&s3.endpoint(), &name, json!({}));
    let (_d, first) = fetch(&obj, &s3.keys(), None, Some(cache.path()));
    assert_eq!(first.unwrap().downloaded_bytes, 10);
    let (dest, second) = fetch(&obj, &s3.keys(), None, Some(cache.path()));
    let second = second.unwrap();
    assert_eq!(second.downloaded_bytes, 0);
    assert_eq!(second.revision, s3.revision(&name, "", &[]));
    assert_eq!(files(&dest), ["a.yaml", "b/c.yaml"]);
    s3.put(&name, &[("a.yaml", "a: 2\n")]);
    let (dest, third) = fetch(&obj, &s3.keys(), None, Some(cache.path()));
    assert_eq!(third.unwrap().downloaded_bytes, 10);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("tree/a.yaml")).unwrap(),
        "a: 2\n"
    );
}
