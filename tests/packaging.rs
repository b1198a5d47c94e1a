//! What ships: the Dockerfile's structure and job/'s manifests, checked
//! offline (the cluster tests apply job/ to a real API server).

use serde_json::Value;

use crate::util::root;

fn dockerfile() -> Vec<String> {
    std::fs::read_to_string(root().join("Dockerfile"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_image_is_built_in_one_stage_and_runs_the_binary_as_non_root_in_another() {
    let lines = dockerfile();
    // The base images are build arguments whose defaults are the public ones.
    let arg = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")))
            .unwrap_or_else(|| panic!("no ARG {name}"))
            .to_string()
    };
    assert!(arg("BUILDER_IMAGE").starts_with("rust:"));
    assert!(arg("RUNTIME_IMAGE").starts_with("debian:"));
    let stages: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        stages,
        [
            "FROM ${BUILDER_IMAGE} AS build",
            "FROM ${RUNTIME_IMAGE} AS runtime-base",
            "FROM runtime-base AS prebuilt",
            "FROM runtime-base AS runtime"
        ],
        "the runtime stage last: it is what a plain build produces"
    );
    let build = lines.iter().position(|l| l.ends_with(" AS build")).unwrap();
    assert!(
        lines[build..]
            .iter()
            .any(|l| l.starts_with("RUN cargo build --release --locked"))
    );
    // runtime-base, then the image: what the runtime stage adds is the binary.
    let runtime = lines
        .iter()
        .position(|l| l.ends_with(" AS runtime-base"))
        .unwrap();
    let last = &lines[runtime..];
    assert_eq!(
        lines.last().unwrap(),
        "COPY --from=build /out/drift-check /usr/local/bin/drift-check"
    );
    assert!(lines.contains(&"COPY drift-check /usr/local/bin/drift-check".to_string()));
    let user = last
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "runs as {user}");
    // ssh (gix's ssh transport) refuses a uid without a passwd entry.
    let runtime_text = last.join("\n");
    assert!(
        runtime_text.contains(&format!("useradd --uid {uid} ")),
        "no passwd entry for uid {uid}"
    );
    assert!(
        last.iter()
            .any(|l| l.starts_with("COPY --from=build ")
                && l.ends_with(" /usr/local/bin/drift-check"))
    );
    let entrypoint = last
        .iter()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    let binary: Vec<String> = serde_json::from_str(entrypoint).unwrap();
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let bin_name = manifest
        .split("[[bin]]")
        .nth(1)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("name = "))
        .unwrap()
        .trim_matches('"');
    assert_eq!(binary, [format!("/usr/local/bin/{bin_name}")]);
    assert!(!lines.iter().any(|l| l.starts_with("HEALTHCHECK")));
}

pub(crate) fn job_objects() -> Vec<Value> {
    job_objects_with(&[])
}

/// `job/` rendered with the given optional components, as Flux applies it.
pub(crate) fn job_objects_with(components: &[&str]) -> Vec<Value> {
    let ks = drift_check::discover::from_object(
        &serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "drift-check", "namespace": "flux-system"},
            "spec": {"path": "./job", "components": components}}),
        drift_check::flux::Origin::Live,
        "flux-system",
    )
    .unwrap();
    drift_check::render::render(&root(), &ks, &Default::default()).unwrap()
}

#[test]
fn the_cronjob_runs_nightly_once_at_a_time_locked_down() {
    let objects = job_objects();
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    let spec = &cronjob["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    for key in [
        "schedule",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        assert!(!spec[key].is_null(), "spec.{key}");
    }
    let job = &spec["jobTemplate"]["spec"];
    assert!(job["backoffLimit"].is_number() && job["activeDeadlineSeconds"].is_number());
    let pod = &job["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "drift-check");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(container["resources"]["requests"]["cpu"].is_string());
    let volumes: Vec<&Value> = pod["volumes"].as_array().unwrap().iter().collect();
    assert!(
        volumes
            .iter()
            .any(|v| v["name"] == "cache" && v["emptyDir"].is_object()),
        "an emptyDir for the clone"
    );
}

#[test]
fn the_job_reads_the_cluster_and_writes_only_its_state_config_map() {
    let objects = job_objects();
    for role in objects.iter().filter(|o| o["kind"] == "ClusterRole") {
        for rule in role["rules"].as_array().unwrap() {
            let verbs: Vec<&str> = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(
                verbs.iter().all(|v| ["get", "list", "watch"].contains(v)),
                "{}: {verbs:?}",
                role["metadata"]["name"]
            );
            assert!(
                !rule["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == "*"),
                "resources are listed one by one"
            );
        }
    }
    let role = objects.iter().find(|o| o["kind"] == "Role").unwrap();
    assert_eq!(role["metadata"]["namespace"], "drift-check");
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["resources"], serde_json::json!(["configmaps"]));
    }
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["name"] != "drift-check-server-mode"),
        "server mode is opt-in"
    );
}

#[test]
fn the_helm_manifests_component_adds_only_secret_reads_and_the_flag() {
    let objects = job_objects_with(&["components/helm-manifests"]);
    let role = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "drift-check-helm-releases")
        .expect("the component's ClusterRole");
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])
    );
    // It grants nothing by itself: the operator binds it per storage namespace.
    assert!(
        objects
            .iter()
            .all(|o| o["roleRef"]["name"] != "drift-check-helm-releases"),
        "no binding shipped"
    );
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    let args = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(
        args.as_array().unwrap().last().unwrap(),
        "--helm-release-manifests"
    );
    let plain = job_objects();
    assert!(
        plain
            .iter()
            .all(|o| o["metadata"]["name"] != "drift-check-helm-releases"),
        "reading release records is opt-in"
    );
    let read = plain
        .iter()
        .find(|o| o["metadata"]["name"] == "drift-check-read")
        .unwrap();
    assert!(
        read["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |r| r["apiGroups"] == serde_json::json!(["helm.toolkit.fluxcd.io"])
                    && r["resources"] == serde_json::json!(["helmreleases"])
            ),
        "the HelmReleases a Kustomization renders are read"
    );
}

#[test]
fn the_kubeconfig_secrets_component_adds_only_get_on_named_secrets() {
    let objects = job_objects_with(&["components/kubeconfig-secrets"]);
    let role = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "drift-check-kubeconfig-secrets")
        .expect("the component's ClusterRole");
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                            "resourceNames": ["spoke-kubeconfig"]}])
    );
    // It grants nothing by itself: the operator binds it where the
    // Secrets are (a RoleBinding shipped here would land in drift-check).
    assert!(
        objects
            .iter()
            .all(|o| o["roleRef"]["name"] != "drift-check-kubeconfig-secrets"),
        "no binding shipped"
    );
    assert!(
        job_objects()
            .iter()
            .all(|o| o["metadata"]["name"] != "drift-check-kubeconfig-secrets"),
        "reading kubeconfig Secrets is opt-in"
    );
}

#[test]
fn the_source_secrets_component_adds_only_get_on_named_secrets_bound_by_the_operator() {
    let objects = job_objects_with(&["components/source-secrets"]);
    let role = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "drift-check-source-secrets")
        .expect("the component's ClusterRole");
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                            "resourceNames": ["flux-system"]}])
    );
    // job/'s `namespace:` would move a Role or RoleBinding shipped here out
    // of the sources' namespace into drift-check, where it grants nothing.
    assert!(
        objects
            .iter()
            .all(|o| !(o["kind"] == "Role" || o["kind"] == "RoleBinding")
                || o["metadata"]["name"] != "drift-check-source-secrets"),
        "no namespaced grant shipped"
    );
}

#[test]
fn the_sharded_component_makes_an_indexed_job_of_n_shards_with_its_fan_in_role() {
    let objects = job_objects_with(&["components/sharded"]);
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    let job = &cronjob["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    let n = job["completions"].as_i64().unwrap();
    assert!(n > 1 && job["parallelism"] == n, "{job}");
    assert_eq!(job["backoffLimitPerIndex"], 1);
    assert_eq!(
        job["podFailurePolicy"]["rules"][0],
        serde_json::json!({"action": "FailIndex", "onExitCodes":
            {"containerName": "drift-check", "operator": "In", "values": [1, 2, 3]}})
    );
    let env = job["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(var("DRIFT_CHECK_SHARDS")["value"], n.to_string());
    assert_eq!(
        var("DRIFT_CHECK_SHARD_JOB")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['batch.kubernetes.io/job-name']"
    );
    let wait: u64 = var("DRIFT_CHECK_SHARD_WAIT")["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait < job["activeDeadlineSeconds"].as_u64().unwrap());
    let role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && o["metadata"]["name"] == "drift-check-shards")
        .expect("the fan-in Role");
    assert_eq!(role["metadata"]["namespace"], "drift-check");
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "delete"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]}
        ])
    );
    let binding = objects
        .iter()
        .find(|o| o["kind"] == "RoleBinding" && o["metadata"]["name"] == "drift-check-shards")
        .unwrap();
    assert_eq!(binding["subjects"][0]["name"], "drift-check");
    assert!(
        job_objects()
            .iter()
            .all(|o| o["metadata"]["name"] != "drift-check-shards"),
        "the plain CronJob is not sharded"
    );
}
