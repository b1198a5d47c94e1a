//! The image, built with buildah and run with podman the way job/'s CronJob
//! runs it, against the test setup's API server (services: podman and
//! kube-apiserver, started by `scripts/test`).
//!
//! Only the runtime stage is built here, from the binary this test run built
//! (`--target prebuilt`): the Dockerfile's compile stage is
//! `scripts/build-image`'s business. The base image is the local Debian one
//! `scripts/services/podman` made.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{root, service};

/// podman/buildah with the test setup's storage and engine configuration.
fn tool(name: &str, conf: &Path) -> Command {
    let mut cmd = Command::new(name);
    cmd.env("CONTAINERS_CONF", conf.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", conf.join("storage.conf"));
    cmd
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A directory (and what is in it) readable by uid 65532, as a mounted
/// ConfigMap or Secret is.
fn readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            readable(&entry.unwrap().path());
        }
    }
}

/// The image's runtime stage with this run's binary, tagged
/// `localhost/drift-check:test`: the tag keeps the layers below the binary
/// (the base and its `apt-get install`) as the next build's cache. When
/// dropped, what no tag holds any more (the last run's binary) is pruned, so the storage does not grow run by run.
struct Image {
    conf: PathBuf,
    tag: String,
}

impl Image {
    fn build(conf: &Path, runtime_image: &str) -> Self {
        let context = tempfile::tempdir().unwrap();
        // Stripped as the build stage strips it: the debug info is most of a
        // test build's binary.
        run(Command::new("strip")
            .arg("-o")
            .arg(context.path().join("drift-check"))
            .arg(env!("CARGO_BIN_EXE_drift-check")));
        let tag = "localhost/drift-check:test".to_string();
        run(tool("buildah", conf)
            .args(["bud", "--layers", "--network", "host", "--quiet"])
            .arg("--file")
            .arg(root().join("Dockerfile"))
            .args(["--target", "prebuilt"])
            .arg("--build-arg")
            .arg(format!("RUNTIME_IMAGE={runtime_image}"))
            .args(["--tag", &tag])
            .arg(context.path()));
        Self {
            conf: conf.to_path_buf(),
            tag,
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = tool("podman", &self.conf)
            .args(["image", "prune", "--force"])
            .output();
    }
}

/// The CronJob's container, from job/ as rendered.
fn job_container() -> Value {
    let objects = crate::packaging::job_objects();
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].clone()
}

/// job/config.yaml's drift-check.yaml, for the test: the shipped fixture repo
/// (mounted at /repo) instead of the infra repo's URL, and no Matrix or
/// pushgateway to post to (the notify tests have those).
fn job_config() -> String {
    let map: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(root().join("job/config.yaml")).unwrap())
            .unwrap();
    let mut config: Value =
        serde_saphyr::from_str(map["data"]["drift-check.yaml"].as_str().unwrap()).unwrap();
    let config = config.as_object_mut().unwrap();
    config.insert("repo".into(), "/repo".into());
    config.remove("branch");
    config.remove("notify");
    serde_json::to_string_pretty(config).unwrap()
}

#[test]
fn the_image_runs_the_job_as_the_cronjob_does_and_reports_the_platform() {
    let Some(conf) = service("DRIFT_CHECK_TEST_PODMAN") else {
        return;
    };
    let Some(runtime_image) = service("DRIFT_CHECK_TEST_PODMAN_RUNTIME_IMAGE") else {
        return;
    };
    let Some(platform) = crate::cluster::platform() else {
        return;
    };
    let conf = PathBuf::from(conf);
    let image = Image::build(&conf, &runtime_image);

    let container = job_container();
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    let pod_user = 65532;

    // The mounts of job/'s CronJob: the ConfigMap at /etc/drift-check, the
    // Secrets below it, emptyDirs for the clone and /tmp; plus the fixture
    // repo and a kubeconfig with the job's ServiceAccount token (in the
    // cluster: the mounted token and in-cluster config).
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    for sub in ["credentials", "git"] {
        std::fs::create_dir_all(config_dir.join(sub)).unwrap();
    }
    std::fs::write(config_dir.join("drift-check.yaml"), job_config()).unwrap();
    std::fs::write(config_dir.join("credentials/matrix-token"), "unused").unwrap();
    let kube_dir = dir.path().join("kube");
    std::fs::create_dir(&kube_dir).unwrap();
    let kubeconfig = crate::cluster::job_kubeconfig(platform, &kube_dir);
    readable(dir.path());

    let mut cmd = tool("podman", &conf);
    cmd.args(["run", "--rm", "--network", "host"])
        .arg(format!("--user={pod_user}:{pod_user}"))
        .args(["--read-only", "--read-only-tmpfs=false"])
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]);
    let volume = |cmd: &mut Command, host: &Path, target: &str| {
        cmd.arg("--volume")
            .arg(format!("{}:{target}:ro", host.display()));
    };
    for mount in container["volumeMounts"].as_array().unwrap() {
        let target = mount["mountPath"].as_str().unwrap();
        match mount["name"].as_str().unwrap() {
            "config" => volume(&mut cmd, &config_dir, target),
            "credentials" => volume(&mut cmd, &config_dir.join("credentials"), target),
            "git" => volume(&mut cmd, &config_dir.join("git"), target),
            // An emptyDir, writable by the pod's fsGroup.
            "cache" | "tmp" => {
                assert_ne!(mount["readOnly"], true);
                cmd.arg("--tmpfs").arg(format!("{target}:rw,mode=1777"));
            }
            other => panic!("a volume the test does not know: {other}"),
        }
    }
    volume(&mut cmd, &root().join("fixtures/infra-repo"), "/repo");
    volume(&mut cmd, &kubeconfig, "/etc/kubeconfig");
    cmd.args(["--env", "KUBECONFIG=/etc/kubeconfig"]);
    for var in container["env"].as_array().unwrap() {
        cmd.arg("--env").arg(format!(
            "{}={}",
            var["name"].as_str().unwrap(),
            var["value"].as_str().unwrap()
        ));
    }
    cmd.arg(&image.tag);
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "run",
            "--config",
            "/etc/drift-check/drift-check.yaml",
            "-o",
            "json"
        ]
    );
    cmd.args(&args);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(
        report["summary"]["errors"], 0,
        "{}\n{stderr}",
        report["errors"]
    );
    assert_eq!(report["run"]["cluster"], "prod", "{}", report["run"]);
    assert_eq!(
        crate::util::summary_of_json(&report),
        crate::cluster::expected(),
        "{stderr}"
    );
    // `run`: the report is out and there is no sink to fail.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The logs are JSON lines, as the job's env asks.
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let _: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
    }
}
