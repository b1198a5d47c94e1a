//! A platform shaped like a real multi-repo one, every kind of source at
//! once, each served by a real server: three GitRepositories with three
//! credentials (https basic auth with an include, ssh, https as another
//! user; `tests/sources.rs`' platform), an `OCIRepository` following a
//! semver range on the TLS + htpasswd registry (pushed by ORAS, its tag range
//! moved on since Flux applied it), a `Bucket` on the S3 server, and an
//! `ArtifactGenerator` composing one `ExternalArtifact` from a fourth
//! GitRepository and the OCIRepository. A person edited one object from each;
//! every edit is found and nothing else is reported unexplained.

use base64::Engine;
use serde_json::{Value, json};

use crate::bucket::s3;
use crate::oci::{registries, repo};
use crate::sources::{
    check, configmap, entry, findings, git_repository, live_configmap, platform, secret,
    served_repo, servers, unexplained, url,
};
use crate::util::{list_yaml, write_file};

/// A Kustomization applying into `apps` from a source of any kind, at
/// `revision`.
fn kustomization(name: &str, source: Value, path: &str, revision: &str) -> Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": name, "namespace": "flux-system"},
           "spec": {"interval": "10m", "path": path, "prune": true, "targetNamespace": "apps",
                    "sourceRef": source},
           "status": {"lastAppliedRevision": revision, "lastAttemptedRevision": revision,
                      "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                      "message": format!("Applied revision: {revision}"),
                                      "lastTransitionTime": "2026-12-01T09:00:00Z"}]}})
}

fn source(kind: &str, name: &str, spec: Value, artifact: &str) -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind,
           "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec,
           "status": {"artifact": {"revision": artifact}}})
}

#[test]
fn every_kind_of_source_at_once_each_edit_found_and_nothing_else() {
    let (Some(git), Some(oci), Some(s3)) = (servers(), registries(), s3()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();

    // OCI: v1.1.0 is what Flux applied; v1.2.0, pushed since, is the
    // range's head (a pending reconcile, never drift).
    let name = repo("platform-apps");
    let push = |tag: &str, level: &str| {
        let layer = oci.layer(
            work.path(),
            &[
                (
                    "app/oci-config.yaml",
                    &configmap("oci-config", &[("level", level), ("mode", "strict")]),
                ),
                (
                    "composed/oci-part.yaml",
                    &configmap("composed-oci", &[("port", "8080")]),
                ),
            ],
        );
        let target = format!("{}/{name}:{tag}", oci.tls);
        let digest = oci.script(&[
            "push",
            &target,
            layer.to_str().unwrap(),
            "--ca",
            oci.ca.to_str().unwrap(),
            "--user",
            &oci.user,
            "--password",
            &oci.password,
        ]);
        format!("{tag}@{digest}")
    };
    push("v1.0.0", "1.0");
    let oci_applied = push("v1.1.0", "1.1");
    let oci_head = push("v1.2.0", "1.2");
    let dockerconfig = json!({"auths": {oci.tls.as_str(): {"auth":
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", oci.user, oci.password))}}})
    .to_string();

    // Bucket: the revision source-controller records, computed by boto3.
    let bucket = s3.bucket(&[(
        "cm/bucket-config.yaml",
        &configmap("bucket-config", &[("retention", "30d"), ("tier", "cold")]),
    )]);
    let bucket_applied = s3.revision(&bucket, "", &[]);

    // The generator's git input.
    served_repo(
        &git,
        work.path(),
        "composer",
        &[&[(
            "extra/composed-git.yaml",
            &configmap("composed-git", &[("feature", "on")]),
        )]],
    );
    let generated =
        "latest@sha256:7d1f0c3e1d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1";

    let ca = std::fs::read(&oci.ca).unwrap();
    let composer_url = url(&git.https, work.path(), "composer");
    let p = platform(&git, |objects| {
        objects.extend([
            source(
                "OCIRepository",
                "oci-apps",
                json!({"interval": "5m", "url": format!("oci://{}/{name}", oci.tls),
                       "ref": {"semver": ">=1.0.0"},
                       "secretRef": {"name": "regcred"}, "certSecretRef": {"name": "registry-ca"}}),
                &oci_head,
            ),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": "regcred", "namespace": "flux-system"},
                   "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(&dockerconfig)}}),
            secret("registry-ca", &[("ca.crt", &ca)]),
            source(
                "Bucket",
                "bucket-apps",
                json!({"interval": "5m", "provider": "generic", "endpoint": s3.endpoint(),
                       "bucketName": bucket, "insecure": true, "secretRef": {"name": "bucket-keys"}}),
                &bucket_applied,
            ),
            secret(
                "bucket-keys",
                &[
                    ("accesskey", s3.access.as_bytes()),
                    ("secretkey", s3.secret.as_bytes()),
                ],
            ),
            git_repository("composer", &composer_url, Some("platform-auth"), json!({})),
            json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                   "metadata": {"name": "composer", "namespace": "flux-system"},
                   "spec": {"sources": [{"alias": "git", "kind": "GitRepository", "name": "composer"},
                                        {"alias": "oci", "kind": "OCIRepository", "name": "oci-apps"}],
                            "artifacts": [{"name": "composed-app", "copy": [
                                {"from": "@git/extra/*.yaml", "to": "@artifact/"},
                                {"from": "@oci/composed/*.yaml", "to": "@artifact/"}]}]}}),
            source(
                "ExternalArtifact",
                "composed-app",
                json!({"sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1",
                                     "kind": "ArtifactGenerator", "name": "composer"}}),
                generated,
            ),
            kustomization(
                "oci-apps",
                json!({"kind": "OCIRepository", "name": "oci-apps"}),
                "./app",
                &oci_applied,
            ),
            kustomization(
                "bucket-apps",
                json!({"kind": "Bucket", "name": "bucket-apps"}),
                "./cm",
                &bucket_applied,
            ),
            kustomization(
                "composed",
                json!({"kind": "ExternalArtifact", "name": "composed-app"}),
                "./",
                generated,
            ),
        ]);
    });
    // What Flux applied from the OCI, Bucket and generated sources, each
    // then edited by a person in one key.
    write_file(
        p.dir.path(),
        "live/more.yaml",
        &list_yaml(vec![
            live_configmap(
                "oci-config",
                "oci-apps",
                &[("level", "1.1"), ("mode", "permissive")],
                &["mode"],
            ),
            live_configmap(
                "bucket-config",
                "bucket-apps",
                &[("retention", "1d"), ("tier", "cold")],
                &["retention"],
            ),
            live_configmap(
                "composed-git",
                "composed",
                &[("feature", "off")],
                &["feature"],
            ),
            live_configmap("composed-oci", "composed", &[("port", "9090")], &["port"]),
        ]),
    );

    let (code, report, stderr) = check(p.dir.path(), &[]);
    assert_eq!(report["errors"], json!([]), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    let edited = |object: &str, path: &str| (object.to_string(), vec![path.to_string()]);
    assert_eq!(
        unexplained(&report),
        [
            edited("ConfigMap/bucket-config", "/data/retention"),
            edited("ConfigMap/composed-git", "/data/feature"),
            edited("ConfigMap/composed-oci", "/data/port"),
            edited("ConfigMap/oci-config", "/data/mode"),
            edited("ConfigMap/platform-settings", "/data/region"),
            edited("ConfigMap/shared-base", "/data/log"),
            edited("ConfigMap/team-config", "/data/quota"),
            edited("ConfigMap/web", "/data/color"),
        ],
        "{:#?}",
        report["findings"]
    );
    // What moved since Flux applied it is pending, explained: the git
    // branch's replicas and the semver range's newer artifact.
    let explained: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| f.2)
        .map(|(o, p, _)| (o, p))
        .collect();
    assert_eq!(
        explained,
        [
            edited("ConfigMap/oci-config", "/data/level"),
            edited("ConfigMap/web", "/data/replicas"),
        ]
    );
    let pending = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["name"] == "oci-config" && f["explained"] == true)
        .unwrap();
    assert_eq!(
        pending["explanation"],
        format!(
            "reconcile pending: Flux last applied {oci_applied}, its OCIRepository is at {oci_head}"
        )
        .as_str()
    );

    // Each Kustomization says which source and revision it was checked at.
    for (ks, kind, revision) in [
        ("oci-apps", "OCIRepository", oci_applied.as_str()),
        ("bucket-apps", "Bucket", bucket_applied.as_str()),
        ("composed", "ExternalArtifact", generated),
        (
            "platform",
            "GitRepository",
            &format!("main@sha1:{}", p.applied[0]),
        ),
    ] {
        let e = entry(&report, ks);
        assert_eq!(e["error"], Value::Null, "{e:#}");
        assert_eq!(e["source"]["kind"], kind, "{e:#}");
        assert_eq!(e["revision"], revision, "{e:#}");
    }

    // Each (source, revision) fetched once: the Bucket Flux applied at its
    // current revision once, the OCIRepository at the applied digest and
    // at the range's head.
    let fetches = |source: &str| {
        stderr
            .lines()
            .filter(|l| l.contains("Fetched a source") && l.contains(source))
            .count()
    };
    assert_eq!(fetches("Bucket/flux-system/bucket-apps"), 1, "{stderr}");
    assert_eq!(fetches("OCIRepository/flux-system/oci-apps"), 2, "{stderr}");

    let text = format!("{report}{stderr}");
    for credential in [&git.password, &git.team_password, &oci.password, &s3.secret] {
        assert!(!text.contains(credential.as_str()), "a credential leaked");
    }
}
