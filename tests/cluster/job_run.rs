//! job/'s CronJob run for real on the test control plane: a Job made from
//! it gets its Pod from kube-controller-manager's job controller (no
//! kubelet: the Pod stays Pending), the real RBAC authorizer answers what
//! its ServiceAccount may do, and the binary, run as a local process with
//! that Pod's arguments, environment and ServiceAccount token, checks the
//! platform, posts to a real Matrix room and keeps its state in the one
//! ConfigMap it may write.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource as _;
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};

use super::*;

pub(super) const NAMESPACE: &str = "drift-check";

/// What `kubectl create job --from=cronjob/drift-check` creates: the
/// CronJob's job template, owned by the CronJob.
pub(super) fn job_from(cronjob: &CronJob, name: &str) -> Job {
    let template = cronjob.spec.as_ref().unwrap().job_template.clone();
    let mut annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cronjob.metadata.name.clone().unwrap(),
                uid: cronjob.metadata.uid.clone().unwrap(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Polls `probe` every 200 ms until it gives a value, for at most `limit`.
pub(super) async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    let selector = format!("batch.kubernetes.io/job-name={job}");
    pods.list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

#[test]
fn a_job_made_from_the_cronjob_gets_its_pod_from_the_job_controller() {
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), NAMESPACE);
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let cronjob = cronjobs.get("drift-check").await.unwrap();
        let name = crate::util::matrix::unique("drift-check-manual");
        jobs.create(&PostParams::default(), &job_from(&cronjob, &name))
            .await
            .unwrap();

        let pod = eventually(
            "the job controller creates the Pod",
            Duration::from_secs(60),
            || async { pods_of(&pods, &name).await.into_iter().next() },
        )
        .await;
        let template = &cronjob
            .spec
            .as_ref()
            .unwrap()
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template;
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.service_account_name.as_deref(), Some("drift-check"));
        assert_eq!(
            spec.containers[0].args,
            template.spec.as_ref().unwrap().containers[0].args
        );
        assert_eq!(
            spec.containers[0].env,
            template.spec.as_ref().unwrap().containers[0].env
        );
        // The ServiceAccount admission plugin mounted a bound token.
        assert!(
            spec.volumes
                .iter()
                .flatten()
                .any(|v| v.name.starts_with("kube-api-access-")
                    && v.projected.as_ref().is_some_and(|p| p
                        .sources
                        .iter()
                        .flatten()
                        .any(|s| s.service_account_token.is_some()))),
            "{:#?}",
            spec.volumes
        );
        let config = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "config")
            .unwrap();
        assert_eq!(config.config_map.as_ref().unwrap().name, "drift-check");
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("Job", name.as_str(), Some(true))
        );
        // No kubelet: scheduled nowhere, Pending; the Job counts it active.
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Pending")
        );
        eventually(
            "the Job counts its Pod active",
            Duration::from_secs(30),
            || async {
                let job = jobs.get(&name).await.unwrap();
                (job.status.and_then(|s| s.active) == Some(1)).then_some(())
            },
        )
        .await;

        // Deleting the Job takes its Pod with it (the garbage collector).
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        jobs.delete(&name, &background).await.unwrap();
        eventually(
            "the garbage collector deletes the Pod",
            Duration::from_secs(60),
            || async { pods_of(&pods, &name).await.is_empty().then_some(()) },
        )
        .await;
    });
}

/// Whether the real authorizer lets the job's ServiceAccount do `verb`.
pub(super) async fn may(
    client: &Client,
    verb: &str,
    (group, resource): (&str, &str),
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        metadata: ObjectMeta::default(),
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{NAMESPACE}:drift-check")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{NAMESPACE}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: namespace.map(Into::into),
                name: name.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        },
        status: None,
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = api.create(&PostParams::default(), &review).await.unwrap();
    answer.status.unwrap().allowed
}

#[test]
fn the_job_runs_as_its_service_account_and_writes_only_its_state() {
    let Some(p) = platform() else { return };
    let (Some(synapse), Some(gateway)) = (
        crate::util::matrix::synapse(),
        crate::util::matrix::pushgateway(),
    ) else {
        panic!("the sinks' services are asked for with the cluster's");
    };
    let work = tempfile::tempdir().unwrap();
    // The token the kubelet mounts, in the Pod's namespace (the default
    // namespace of the state ConfigMap, as in a Pod).
    let kubeconfig = job_kubeconfig(p, work.path());
    let mut file = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    for context in &mut file.contexts {
        context.context.as_mut().unwrap().namespace = Some(NAMESPACE.into());
    }
    std::fs::write(&kubeconfig, serde_json::to_string(&file).unwrap()).unwrap();
    runtime().block_on(async {
        let client = client(&p.admin).await;
        for (verb, resource, namespace, name, allowed) in [
            ("list", ("apps", "deployments"), None, None, true),
            ("list", ("", "secrets"), None, None, true),
            ("create", ("", "configmaps"), Some(NAMESPACE), None, true),
            ("update", ("", "configmaps"), Some(NAMESPACE), Some("drift-check-state"), true),
            // A fleet's state: one ConfigMap per cluster, names not known ahead.
            ("update", ("", "configmaps"), Some(NAMESPACE), Some("drift-check-state-prod-eu"), true),
            ("update", ("", "configmaps"), Some("default"), Some("drift-check-state"), false),
            ("create", ("", "configmaps"), Some("default"), None, false),
            ("create", ("", "secrets"), Some(NAMESPACE), None, false),
            ("delete", ("apps", "deployments"), Some("default"), Some("docs-portal"), false),
        ] {
            assert_eq!(
                may(&client, verb, resource, namespace, name).await,
                allowed,
                "{verb} {resource:?} in {namespace:?} named {name:?}"
            );
        }

        // The Pod as the job controller would make it, run here.
        let cronjob: CronJob = Api::namespaced(client.clone(), NAMESPACE).get("drift-check").await.unwrap();
        let container = cronjob.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap().containers.remove(0);

        let (bot, owner_token, room_id, alias) = crate::util::matrix::room_for(&synapse, "job").await;
        let bot_token = synapse.login(&bot, "bot-pass").await;
        // The ConfigMap drift-check's configuration, pointed at the test's
        // fixtures and services; no state location: the default in a Pod.
        let config = work.path().join("drift-check.yaml");
        std::fs::write(
            &config,
            format!(
                "{}notify:\n  matrix:\n    homeserver: {}\n    room: \"{alias}\"\n    user: \"{bot}\"\n  pushgateway:\n    url: {gateway}\n",
                std::fs::read_to_string(root().join("fixtures/drift-check.yaml")).unwrap(),
                synapse.url
            ),
        )
        .unwrap();
        let mounted = |path: &str| match path.strip_prefix("/etc/drift-check/") {
            Some("drift-check.yaml") => config.clone(),
            Some("credentials/matrix-token") => work.path().join("matrix-token"),
            _ => panic!("{path}: not a file this test provides"),
        };
        std::fs::write(work.path().join("matrix-token"), &bot_token).unwrap();

        let mut command = TestCommand::new();
        for arg in container.args.unwrap() {
            command.arg(if arg.starts_with("/etc/drift-check/") { mounted(&arg).into_os_string() } else { arg.into() });
        }
        for var in container.env.unwrap() {
            let value = var.value.expect("the Pod's environment has values only");
            command.env(&var.name, if value.starts_with("/etc/drift-check/") { mounted(&value).into_os_string() } else { value.into() });
        }
        let out = command
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .args(["--repo", "fixtures/infra-repo", "--kubeconfig"])
            .arg(&kubeconfig)
            .output();
        assert_eq!(out.code, 0, "delivered: {}", out.stderr);
        let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
        assert_eq!(report["summary"]["errors"], 0, "{}", report["errors"]);
        assert_eq!(crate::util::summary_of_json(&report), expected());
        // DRIFT_CHECK_LOG_FORMAT=json, as the Pod sets it.
        for line in out.stderr.lines().filter(|l| !l.is_empty()) {
            let _: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: a log line that is not JSON: {line}"));
        }

        let events = synapse.events(&owner_token, &room_id).await;
        assert_eq!(crate::util::matrix::notices_from(&events, &bot).len(), 1, "{events:#?}");
        let state: ConfigMap = Api::namespaced(client.clone(), NAMESPACE).get("drift-check-state").await.unwrap();
        let remembered = crate::util::matrix::state_objects(&crate::util::matrix::config_map_state(&state));
        assert!(!remembered.is_empty(), "the posted findings are remembered");
        assert_eq!(state.meta().namespace.as_deref(), Some(NAMESPACE));
    });
}

#[test]
fn an_indexed_job_from_the_sharded_cronjob_gets_a_pod_per_index_and_may_fan_in() {
    let Some(p) = platform() else { return };
    runtime().block_on(async {
        let client = client(&p.admin).await;
        let cronjob = super::shards::sharded_cronjob(&client).await;
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let name = crate::util::matrix::unique("drift-check-sharded-");
        let created = jobs
            .create(&PostParams::default(), &job_from(&cronjob, &name))
            .await
            .unwrap();
        let spec = created.spec.as_ref().unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        let n = spec.completions.unwrap();
        assert!(n > 1 && spec.parallelism == Some(n));
        assert_eq!(spec.backoff_limit_per_index, Some(1));

        let found = eventually(
            "the job controller creates a Pod per index",
            Duration::from_secs(60),
            || async {
                let found = pods_of(&pods, &name).await;
                (found.len() == n as usize).then_some(found)
            },
        )
        .await;
        let mut indexes = Vec::new();
        for pod in &found {
            let meta = &pod.metadata;
            let index =
                meta.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"]
                    .clone();
            let labels = meta.labels.as_ref().unwrap();
            assert_eq!(labels["batch.kubernetes.io/job-completion-index"], index);
            // DRIFT_CHECK_SHARD_JOB reads this label.
            assert_eq!(labels["batch.kubernetes.io/job-name"], name);
            let env = pod.spec.as_ref().unwrap().containers[0]
                .env
                .clone()
                .unwrap();
            let var = |var: &str| {
                env.iter()
                    .find(|v| v.name == var)
                    .unwrap_or_else(|| panic!("{var}: {env:#?}"))
                    .clone()
            };
            let field = |name: &str| var_field(&var(name));
            // Set by the job controller, from the index label (1.36).
            assert_eq!(
                field("JOB_COMPLETION_INDEX"),
                "metadata.labels['batch.kubernetes.io/job-completion-index']"
            );
            assert_eq!(
                field("DRIFT_CHECK_SHARD_JOB"),
                "metadata.labels['batch.kubernetes.io/job-name']"
            );
            assert_eq!(var("DRIFT_CHECK_SHARDS").value, Some(n.to_string()));
            assert_eq!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Pending")
            );
            indexes.push(index.parse::<i32>().unwrap());
        }
        indexes.sort();
        assert_eq!(indexes, (0..n).collect::<Vec<_>>());

        // The fan-in's RBAC, answered by the real authorizer.
        for (verb, resource, namespace, name, allowed) in [
            (
                "get",
                ("batch", "jobs"),
                Some(NAMESPACE),
                Some(name.as_str()),
                true,
            ),
            (
                "create",
                ("coordination.k8s.io", "leases"),
                Some(NAMESPACE),
                None,
                true,
            ),
            (
                "update",
                ("coordination.k8s.io", "leases"),
                Some(NAMESPACE),
                Some("x-fanin"),
                true,
            ),
            ("create", ("", "configmaps"), Some(NAMESPACE), None, true),
            (
                "delete",
                ("", "configmaps"),
                Some(NAMESPACE),
                Some("x-shard-0"),
                true,
            ),
            (
                "update",
                ("", "configmaps"),
                Some("default"),
                Some("x-shard-0"),
                false,
            ),
            (
                "update",
                ("coordination.k8s.io", "leases"),
                Some("kube-system"),
                Some("kube-controller-manager"),
                false,
            ),
            (
                "delete",
                ("batch", "jobs"),
                Some(NAMESPACE),
                Some(name.as_str()),
                false,
            ),
            ("create", ("batch", "jobs"), Some(NAMESPACE), None, false),
        ] {
            assert_eq!(
                may(&client, verb, resource, namespace, name).await,
                allowed,
                "{verb} {resource:?} in {namespace:?} named {name:?}"
            );
        }
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        jobs.delete(&name, &background).await.unwrap();
    });
}

/// The downward API field of an environment variable.
fn var_field(var: &k8s_openapi::api::core::v1::EnvVar) -> String {
    var.value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.clone())
        .unwrap_or_else(|| panic!("{var:?}"))
}
