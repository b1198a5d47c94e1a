//! Applies a Flux repository to an API server the way kustomize-controller
//! would, for `bench/real-platform` (a measurement, not a test).
//!
//! ```text
//! cargo run --release --example apply_like_flux -- --repo R --kustomizations-dir D \
//!     --kubeconfig K --revision main@sha1:SHA --flux-crds DIR --report OUT.json \
//!     [--serve REGEX] [--leave-unserved REGEX] [--source-url URL]
//!     [--root-source FILE] [--sources 'KIND/NS/NAME=DIR|REVISION;…'] [--extra FILE]
//!     [--strict-substitution false]
//! ```
//!
//! Platforms of several sources: `--root-source` is the bootstrap source object (YAML, e.g. an
//! OCIRepository, as `flux-operator`'s FluxInstance sync makes it) used instead of the
//! GitRepository, rendered from `--repo` at `--revision`; `--sources` gives, per other source, the
//! directory holding the artifact Flux would have fetched and its revision (a Kustomization whose
//! source is neither fails with `ArtifactFailed`, except that a GitRepository not listed is read
//! from `--repo`); `--extra` is a YAML file of objects another controller applies (e.g. what
//! flux-operator's ResourceSets generate), applied as `flux-operator` after the root is
//! reconciled, its Kustomizations reconciled like the others.
//!
//! What it does, in order:
//! 1. installs Flux's own CRDs from `--flux-crds` (upstream files; `x-kubernetes-validations`
//!    dropped: the 1.20 test server predates CEL);
//! 2. creates what `flux bootstrap` creates: the GitRepository `flux-system/flux-system` and the
//!    root Kustomization `flux-system/flux-system` whose path is `--kustomizations-dir`;
//! 3. reconciles Kustomizations as kustomize-controller does, starting from the root: `dependsOn`
//!    (a dependency not Ready: `DependencyNotReady`, nothing applied), `suspend` (skipped),
//!    `postBuild.substituteFrom` read from the cluster (missing and not optional: `BuildFailed`),
//!    strict substitution as Flux 2.9 (an unset variable without a default: `BuildFailed`),
//!    the render (drift-check's own, `drift_check::render::render`: a failure is `BuildFailed`),
//!    SOPS-encrypted Secrets (no key here: `BuildFailed`, decryption failed / decryption not
//!    configured), Flux's normalization (`diff::normalize::desired`: ports' protocol, Secret
//!    stringData), then fluxcd/pkg ssa's staged apply as field manager `kustomize-controller`
//!    with force: CRDs and Namespaces first, then a server-side dry-run of every other object —
//!    one fails (a kind the server does not serve, a rejected object) and the Kustomization is
//!    `ReconciliationFailed` with `<Kind>/<ns>/<name> dry-run failed: <error>` and nothing of
//!    the second stage applied — else all applied;
//! 4. writes each Kustomization's `status` through the status subresource: on success
//!    `lastAppliedRevision`, `lastAttemptedRevision`, `inventory.entries` and `Ready=True`; on
//!    failure only `lastAttemptedRevision` and `Ready=False` with Flux's reason and message;
//! 5. Kustomizations among the applied objects are reconciled next (the platform's tree).
//!
//! CRDs of other kinds (in real life installed by the platform's HelmReleases, which nothing
//! runs here) are generated permissive (`x-kubernetes-preserve-unknown-fields: true`, status
//! subresource, scope from whether the render gives a namespace) when first needed, for the kinds
//! whose `Kind.group` matches `--serve` (default all) and not `--leave-unserved`; only for groups
//! the server does not serve itself. The others stay unserved: their Kustomizations fail as on a
//! cluster missing the CRD. Built-in types the 1.20 server lacks (autoscaling/v2, policy/v1,
//! batch/v1 CronJob, ...) stay unserved too.
//!
//! `--report` gets JSON: per Kustomization its outcome, and every applied object with its
//! Kustomization (the script picks its kubectl edits from it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, Config};
use regex::Regex;
use serde_json::{Value, json};

use drift_check::flux::{Kustomization, Origin};
use drift_check::k8s::object::ObjectRef;

const MANAGER: &str = "kustomize-controller";
/// Built-in API groups of newer Kubernetes the 1.20 server does not serve at
/// all: never faked with a CRD (a real cluster serves them natively or not).
const NEWER_BUILTIN_GROUPS: &[&str] = &[
    "resource.k8s.io",
    "storagemigration.k8s.io",
    "internal.apiserver.k8s.io",
];

struct Args {
    repo: PathBuf,
    kustomizations_dir: String,
    kubeconfig: PathBuf,
    revision: String,
    flux_crds: Option<PathBuf>,
    report: PathBuf,
    serve: Regex,
    leave_unserved: Option<Regex>,
    source_url: String,
    /// `--strict-substitution false`: as kustomize-controller with
    /// `--feature-gates=StrictPostBuildSubstitutions=false`.
    strict_substitution: bool,
    root_source: Option<Value>,
    /// (kind, namespace, name) → (artifact directory, revision).
    sources: BTreeMap<(String, String, String), (PathBuf, String)>,
    extra: Vec<Value>,
}

fn args() -> Args {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        map.insert(flag.trim_start_matches("--").to_string(), value);
    }
    let need = |k: &str| {
        map.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("--{k} is required"))
    };
    Args {
        repo: need("repo").into(),
        kustomizations_dir: need("kustomizations-dir"),
        kubeconfig: need("kubeconfig").into(),
        revision: need("revision"),
        flux_crds: map.get("flux-crds").map(PathBuf::from),
        report: need("report").into(),
        serve: Regex::new(map.get("serve").map(String::as_str).unwrap_or(".*")).unwrap(),
        leave_unserved: map
            .get("leave-unserved")
            .filter(|s| !s.is_empty())
            .map(|s| Regex::new(s).unwrap()),
        source_url: map
            .get("source-url")
            .cloned()
            .unwrap_or_else(|| "https://example.invalid/repo.git".into()),
        strict_substitution: map.get("strict-substitution").is_none_or(|v| v != "false"),
        root_source: map.get("root-source").map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            drift_check::yaml::documents(&text, std::path::Path::new(f))
                .unwrap()
                .remove(0)
        }),
        sources: map
            .get("sources")
            .into_iter()
            .flat_map(|s| s.split(';'))
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let (id, rest) = entry.split_once('=').expect("KIND/NS/NAME=DIR|REVISION");
                let (dir, revision) = rest.split_once('|').expect("KIND/NS/NAME=DIR|REVISION");
                let mut parts = id.splitn(3, '/').map(str::to_string);
                let (kind, ns, name) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                ((kind, ns, name), (PathBuf::from(dir), revision.to_string()))
            })
            .collect(),
        extra: map
            .get("extra")
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                drift_check::yaml::documents(&text, std::path::Path::new(f)).unwrap()
            })
            .unwrap_or_default(),
    }
}

impl Args {
    /// Where a Kustomization's source artifact is, and its revision.
    fn artifact(&self, ks: &Kustomization) -> Result<(PathBuf, String), String> {
        let source = &ks.spec.source_ref;
        let namespace = ks.source_namespace().to_string();
        let root_kind = self
            .root_source
            .as_ref()
            .map_or("GitRepository", |s| s["kind"].as_str().unwrap());
        if source.kind == root_kind && namespace == "flux-system" && source.name == "flux-system" {
            return Ok((self.repo.clone(), self.revision.clone()));
        }
        let key = (source.kind.clone(), namespace.clone(), source.name.clone());
        match self.sources.get(&key) {
            Some(found) => Ok(found.clone()),
            None if source.kind == "GitRepository" => {
                Ok((self.repo.clone(), self.revision.clone()))
            }
            None => Err(format!(
                "Source '{}/{namespace}/{}' not found",
                source.kind, source.name
            )),
        }
    }
}

struct Cluster {
    client: Client,
    discovery: Discovery,
    /// Groups the server served before we generated anything.
    builtin_groups: BTreeSet<String>,
    /// Generated CRDs: (group, kind) -> (plural, namespaced, versions).
    generated: BTreeMap<(String, String), (String, bool, BTreeSet<String>)>,
    requests: u64,
}

fn gvk_of(object: &Value) -> kube::core::GroupVersionKind {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    kube::core::GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or(""))
}

impl Cluster {
    async fn rediscover(&mut self) {
        for attempt in 0.. {
            match Discovery::new(self.client.clone()).run().await {
                Ok(d) => {
                    self.discovery = d;
                    return;
                }
                Err(e) if attempt < 50 => {
                    eprintln!("discovery not settled ({e}), retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("discovery: {e}"),
            }
        }
    }

    fn serves(&self, object: &Value) -> bool {
        self.discovery.resolve_gvk(&gvk_of(object)).is_some()
    }

    /// Waits until every given object's type is served (fresh CRDs).
    async fn wait_served(&mut self, objects: &[Value]) {
        for _ in 0..100 {
            if objects.iter().all(|o| self.serves(o)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.rediscover().await;
        }
    }

    fn api(&self, object: &Value) -> Option<(Api<DynamicObject>, String)> {
        let (ar, caps) = self.discovery.resolve_gvk(&gvk_of(object))?;
        let name = object["metadata"]["name"].as_str()?.to_string();
        let api = match (caps.scope, object["metadata"]["namespace"].as_str()) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (Scope::Namespaced, None) => Api::default_namespaced_with(self.client.clone(), &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        };
        Some((api, name))
    }

    /// Server-side apply as kustomize-controller (force), or its dry-run.
    async fn apply(&self, object: &Value, dry_run: bool) -> Result<(), String> {
        self.apply_as(object, dry_run, MANAGER).await
    }

    async fn apply_as(&self, object: &Value, dry_run: bool, manager: &str) -> Result<(), String> {
        let Some((api, name)) = self.api(object) else {
            let gvk = gvk_of(object);
            return Err(format!(
                "no matches for kind \"{}\" in version \"{}\"",
                gvk.kind,
                object["apiVersion"].as_str().unwrap_or("")
            ));
        };
        let mut params = PatchParams::apply(manager).force();
        if dry_run {
            params = params.dry_run();
        }
        api.patch(&name, &params, &Patch::Apply(object))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                kube::Error::Api(s) => s.message.clone(),
                e => e.to_string(),
            })
    }

    /// A permissive CRD for the object's kind, when allowed; true if one was (re)installed.
    async fn maybe_generate_crd(&mut self, object: &Value, args: &Args) -> bool {
        let gvk = gvk_of(object);
        let id = format!("{}.{}", gvk.kind, gvk.group);
        if !gvk.group.contains('.')
            || self.builtin_groups.contains(&gvk.group)
            || NEWER_BUILTIN_GROUPS.contains(&gvk.group.as_str())
            || !args.serve.is_match(&id)
            || args
                .leave_unserved
                .as_ref()
                .is_some_and(|r| r.is_match(&id))
        {
            return false;
        }
        let lower = gvk.kind.to_lowercase();
        let plural = if lower.ends_with('y') && !lower.ends_with("ay") && !lower.ends_with("ey") {
            format!("{}ies", &lower[..lower.len() - 1])
        } else if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") {
            format!("{lower}es")
        } else {
            format!("{lower}s")
        };
        let namespaced = object["metadata"]["namespace"].is_string();
        let entry = self
            .generated
            .entry((gvk.group.clone(), gvk.kind.clone()))
            .or_insert_with(|| (plural.clone(), namespaced, BTreeSet::new()));
        if !entry.2.insert(gvk.version.clone()) {
            return false;
        }
        let (plural, namespaced, versions) = entry.clone();
        let storage = versions.iter().next().unwrap().clone();
        let versions: Vec<Value> = versions.iter().map(|v| json!({
            "name": v, "served": true, "storage": *v == storage, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})).collect();
        let mut crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{}", gvk.group),
                         "labels": {"drift-check.bench/generated": "permissive"}},
            "spec": {"group": gvk.group, "scope": if namespaced {"Namespaced"} else {"Cluster"},
                     "names": {"kind": gvk.kind, "plural": plural, "singular": lower, "listKind": format!("{}List", gvk.kind)},
                     "versions": versions}});
        if gvk.group.ends_with(".k8s.io") {
            crd["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"});
        }
        self.install_crd(&crd, "bench-permissive-crd").await;
        eprintln!("generated permissive CRD for {id} ({})", gvk.version);
        true
    }

    async fn install_crd(&mut self, crd: &Value, manager: &str) {
        let ar = ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        );
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let name = crd["metadata"]["name"].as_str().unwrap();
        self.requests += 1;
        api.patch(
            name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(crd),
        )
        .await
        .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
    }
}

fn strip_validations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("x-kubernetes-validations");
            map.values_mut().for_each(strip_validations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_validations),
        _ => {}
    }
}

/// The upstream Alert CRD enumerates the event source kinds of its own
/// release; platforms on newer Flux list more (`FluxInstance`, `ResourceSet`
/// of the Flux operator). Drop that enum, as the shared CRDs' README says.
fn relax_event_source_kinds(crd: &mut Value) {
    if crd["metadata"]["name"] != "alerts.notification.toolkit.fluxcd.io" {
        return;
    }
    for version in crd["spec"]["versions"].as_array_mut().into_iter().flatten() {
        if let Some(kind) = version.pointer_mut(
            "/schema/openAPIV3Schema/properties/spec/properties/eventSources/items/properties/kind",
        ) {
            kind.as_object_mut().map(|m| m.remove("enum"));
        }
    }
}

#[derive(Default, Clone)]
struct Outcome {
    ready: bool,
    reason: String,
    message: String,
    objects: Vec<Value>,
    suspended: bool,
    /// The source's revision, when it was read.
    revision: Option<String>,
}

fn fail(reason: &str, message: String) -> Outcome {
    Outcome {
        reason: reason.into(),
        message,
        ..Default::default()
    }
}

/// Reads `postBuild.substituteFrom` from the cluster, as kustomize-controller does.
async fn substitution_data(
    cluster: &Cluster,
    ks: &Kustomization,
) -> Result<BTreeMap<(String, String), BTreeMap<String, String>>, String> {
    let mut sources = BTreeMap::new();
    let Some(post) = &ks.spec.post_build else {
        return Ok(sources);
    };
    for r in &post.substitute_from {
        let (plural, ar) = match r.kind.as_str() {
            "Secret" => (
                "secrets",
                ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
            ),
            _ => (
                "configmaps",
                ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
            ),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &ks.namespace, &ar);
        match api.get_opt(&r.name).await {
            Ok(Some(o)) => {
                let data = o
                    .data
                    .get("data")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut values = BTreeMap::new();
                for (k, v) in data {
                    let v = v.as_str().unwrap_or("").to_string();
                    let v = if r.kind == "Secret" {
                        use base64::Engine;
                        String::from_utf8_lossy(
                            &base64::engine::general_purpose::STANDARD
                                .decode(v)
                                .unwrap_or_default(),
                        )
                        .into_owned()
                    } else {
                        v
                    };
                    values.insert(k, v);
                }
                sources.insert((r.kind.clone(), r.name.clone()), values);
            }
            Ok(None) if r.optional => {}
            Ok(None) => {
                return Err(format!(
                    "substitute from '{}/{}' failed: {plural} \"{}\" not found",
                    r.kind, r.name, r.name
                ));
            }
            Err(e) => {
                return Err(format!(
                    "substitute from '{}/{}' failed: {e}",
                    r.kind, r.name
                ));
            }
        }
    }
    Ok(sources)
}

async fn reconcile(cluster: &mut Cluster, raw: &Value, ks: &Kustomization, args: &Args) -> Outcome {
    let sources = match substitution_data(cluster, ks).await {
        Ok(s) => s,
        Err(message) => return fail("BuildFailed", message),
    };
    let variables = drift_check::render::Variables {
        sources,
        // kustomize-controller v1.9 (Flux 2.9) fails on an unset variable
        // without a default (StrictPostBuildSubstitutions, on by default).
        strict: args.strict_substitution,
        dry_run: false,
        ..Default::default()
    };
    let (root, revision) = match args.artifact(ks) {
        Ok(found) => found,
        Err(message) => return fail("ArtifactFailed", message),
    };
    let mut objects = match drift_check::render::render(&root, ks, &variables) {
        Ok(o) => o,
        Err(e) => return fail("BuildFailed", format!("kustomize build failed: {e}")),
    };
    let decryption = raw.pointer("/spec/decryption").is_some();
    for o in &objects {
        if o.get("sops").is_some() {
            let r = ObjectRef::of(o).unwrap();
            return fail(
                "BuildFailed",
                if decryption {
                    format!(
                        "decryption failed for '{}': no private key here to decrypt the SOPS data key (failed to get the data key required to decrypt the SOPS file)",
                        r.name
                    )
                } else {
                    format!(
                        "{r} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
                    )
                },
            );
        }
    }
    objects
        .iter_mut()
        .for_each(drift_check::diff::normalize::desired);
    // Stage one: CRDs and Namespaces.
    let (first, rest): (Vec<Value>, Vec<Value>) = objects.iter().cloned().partition(|o| {
        matches!(
            o["kind"].as_str(),
            Some("CustomResourceDefinition" | "Namespace")
        )
    });
    for o in &first {
        cluster.requests += 1;
        if let Err(e) = cluster.apply(o, false).await {
            return fail(
                "ReconciliationFailed",
                format!("{} apply failed: {e}", ObjectRef::of(o).unwrap()),
            );
        }
    }
    if first
        .iter()
        .any(|o| o["kind"] == "CustomResourceDefinition")
    {
        cluster.rediscover().await;
    }
    // Permissive CRDs for the kinds allowed, as if the platform's charts had installed them.
    let mut generated = false;
    for o in &rest {
        if !cluster.serves(o) {
            generated |= cluster.maybe_generate_crd(o, args).await;
        }
    }
    if generated {
        cluster.rediscover().await;
        let wanted: Vec<Value> = rest
            .iter()
            .filter(|o| {
                let g = gvk_of(o);
                cluster
                    .generated
                    .contains_key(&(g.group.clone(), g.kind.clone()))
            })
            .cloned()
            .collect();
        cluster.wait_served(&wanted).await;
    }
    // Stage two: everything else, dry-run first (fluxcd/pkg ssa ApplyAll).
    for o in &rest {
        cluster.requests += 1;
        if let Err(e) = cluster.apply(o, true).await {
            return fail(
                "ReconciliationFailed",
                format!("{} dry-run failed: {e}", ObjectRef::of(o).unwrap()),
            );
        }
    }
    let results: Vec<Result<(), String>> = futures::stream::iter(&rest)
        .map(|o| cluster.apply(o, false))
        .buffered(8)
        .collect()
        .await;
    cluster.requests += rest.len() as u64;
    for (o, r) in rest.iter().zip(results) {
        if let Err(e) = r {
            return fail(
                "ReconciliationFailed",
                format!("{} apply failed: {e}", ObjectRef::of(o).unwrap()),
            );
        }
    }
    Outcome {
        ready: true,
        reason: "ReconciliationSucceeded".into(),
        message: format!("Applied revision: {revision}"),
        objects,
        suspended: false,
        revision: Some(revision),
    }
}

async fn write_status(cluster: &Cluster, raw: &Value, outcome: &Outcome, revision: &str) {
    let revision = outcome.revision.as_deref().unwrap_or(revision);
    let now = "2026-11-30T12:00:00Z";
    let status = if outcome.ready {
        let entries: Vec<Value> = outcome
            .objects
            .iter()
            .map(|o| {
                let r = ObjectRef::of(o).unwrap();
                json!({"id": r.key().inventory_id(), "v": r.api_version.rsplit('/').next().unwrap()})
            })
            .collect();
        json!({"status": {"observedGeneration": 1, "lastAppliedRevision": revision, "lastAttemptedRevision": revision,
            "inventory": {"entries": entries},
            "conditions": [{"type": "Ready", "status": "True", "reason": outcome.reason,
                            "message": outcome.message, "lastTransitionTime": now, "observedGeneration": 1}]}})
    } else {
        json!({"status": {"observedGeneration": 1, "lastAttemptedRevision": revision,
            "conditions": [{"type": "Ready", "status": "False", "reason": outcome.reason,
                            "message": outcome.message, "lastTransitionTime": now, "observedGeneration": 1}]}})
    };
    let (api, name) = cluster.api(raw).expect("Kustomization served");
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap_or_else(|e| panic!("status of {name}: {e}"));
}

#[tokio::main]
async fn main() {
    let args = args();
    let file = kube::config::Kubeconfig::read_from(&args.kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let builtin_groups = discovery.groups().map(|g| g.name().to_string()).collect();
    let mut cluster = Cluster {
        client,
        discovery,
        builtin_groups,
        generated: BTreeMap::new(),
        requests: 0,
    };

    // 1. Flux's CRDs.
    let mut flux_objects = Vec::new();
    if let Some(dir) = &args.flux_crds {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
        {
            let text = std::fs::read_to_string(f).unwrap();
            for mut crd in drift_check::yaml::documents(&text, f).unwrap() {
                if crd["kind"] != "CustomResourceDefinition" {
                    continue;
                }
                strip_validations(&mut crd);
                relax_event_source_kinds(&mut crd);
                cluster.install_crd(&crd, "flux-install").await;
                let group = crd["spec"]["group"].as_str().unwrap().to_string();
                cluster.builtin_groups.insert(group);
            }
        }
    }
    // 2. What `flux bootstrap` creates.
    let root = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": format!("./{}", args.kustomizations_dir.trim_start_matches("./")),
                 "prune": true, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}});
    let git = args.root_source.clone().unwrap_or_else(|| {
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"interval": "1m", "ref": {"branch": "main"}, "url": args.source_url}})
    });
    let mut root = root;
    root["spec"]["sourceRef"]["kind"] = git["kind"].clone();
    flux_objects.push(root.clone());
    cluster.rediscover().await;
    cluster.wait_served(&[root.clone(), git.clone()]).await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}});
    for o in [&ns, &git, &root] {
        let (api, name) = cluster.api(o).unwrap();
        api.patch(
            &name,
            &PatchParams::apply("flux-bootstrap").force(),
            &Patch::Apply(o),
        )
        .await
        .unwrap_or_else(|e| panic!("bootstrap {name}: {e}"));
    }

    // 3–5. Reconcile the tree.
    let mut pending: Vec<Value> = vec![root];
    let mut extras_applied = false;
    let mut done: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut order: Vec<(String, Value)> = Vec::new();
    loop {
        let known: BTreeSet<String> = pending
            .iter()
            .map(ks_id)
            .chain(done.keys().cloned())
            .collect();
        let mut progressed = false;
        let mut next = Vec::new();
        for raw in std::mem::take(&mut pending) {
            let id = ks_id(&raw);
            let ks = drift_check::discover::from_object(&raw, Origin::Live, "flux-system").unwrap();
            let deps = dependencies(&raw, &ks.namespace);
            if deps
                .iter()
                .any(|d| known.contains(d) && !done.contains_key(d))
            {
                next.push(raw);
                continue;
            }
            progressed = true;
            let outcome = if ks.spec.suspend {
                Outcome {
                    suspended: true,
                    reason: "Suspended".into(),
                    ..Default::default()
                }
            } else if let Some(d) = deps.iter().find(|d| !done.get(*d).is_some_and(|o| o.ready)) {
                fail(
                    "DependencyNotReady",
                    format!("dependency '{d}' is not ready"),
                )
            } else {
                reconcile(&mut cluster, &raw, &ks, &args).await
            };
            if !outcome.suspended {
                write_status(&cluster, &raw, &outcome, &args.revision).await;
            }
            eprintln!(
                "{id}: {} {} ({} objects)",
                if outcome.ready { "Ready" } else { "NOT READY" },
                outcome.reason,
                outcome.objects.len()
            );
            for o in &outcome.objects {
                if o["kind"] == "Kustomization"
                    && o["apiVersion"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
                {
                    let mut child = o.clone();
                    if child["metadata"]["namespace"].is_null() {
                        child["metadata"]["namespace"] = json!("default");
                    }
                    next.push(child);
                }
            }
            order.push((id.clone(), raw));
            done.insert(id, outcome);
        }
        pending = next;
        if pending.is_empty() && !extras_applied && !args.extra.is_empty() {
            // What another controller (flux-operator's ResourceSets) applies
            // once the tree is there; its Kustomizations are reconciled next.
            extras_applied = true;
            let (first, rest): (Vec<&Value>, Vec<&Value>) = args
                .extra
                .iter()
                .partition(|o| o["kind"] == "Namespace" || o["kind"] == "CustomResourceDefinition");
            for o in first.into_iter().chain(rest) {
                if !cluster.serves(o) && cluster.maybe_generate_crd(o, &args).await {
                    cluster.wait_served(std::slice::from_ref(o)).await;
                }
                match cluster.apply_as(o, false, "flux-operator").await {
                    Ok(()) => eprintln!("extra: applied {}", ObjectRef::of(o).unwrap()),
                    Err(e) => eprintln!("extra: {} not applied: {e}", ObjectRef::of(o).unwrap()),
                }
                if o["kind"] == "Kustomization" {
                    pending.push(o.clone());
                }
            }
            continue;
        }
        if pending.is_empty() {
            break;
        }
        if !progressed {
            // A cycle, or a dependency that never gets reconciled.
            for raw in std::mem::take(&mut pending) {
                let outcome = fail("DependencyNotReady", "dependency cycle".into());
                write_status(&cluster, &raw, &outcome, &args.revision).await;
                let id = ks_id(&raw);
                order.push((id.clone(), raw));
                done.insert(id, outcome);
            }
            break;
        }
    }

    let kustomizations: Vec<Value> = order
        .iter()
        .map(|(id, _)| {
            let o = &done[id];
            json!({"id": id, "ready": o.ready, "suspended": o.suspended, "reason": o.reason, "message": o.message,
                   "objects": o.objects.len()})
        })
        .collect();
    let objects: Vec<Value> = order
        .iter()
        .flat_map(|(id, _)| {
            done[id].objects.iter().map(move |o| {
                json!({"kustomization": id, "apiVersion": o["apiVersion"], "kind": o["kind"],
                       "namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"]})
            })
        })
        .collect();
    let generated: Vec<String> = cluster
        .generated
        .iter()
        .map(|((g, k), (_, _, vs))| {
            format!(
                "{k}.{g} ({})",
                vs.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    let report = json!({"revision": args.revision, "kustomizations": kustomizations, "objects": objects,
                        "generated_crds": generated, "requests": cluster.requests});
    std::fs::write(&args.report, serde_json::to_string_pretty(&report).unwrap()).unwrap();
}

fn ks_id(raw: &Value) -> String {
    format!(
        "{}/{}",
        raw["metadata"]["namespace"]
            .as_str()
            .unwrap_or("flux-system"),
        raw["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn dependencies(raw: &Value, namespace: &str) -> Vec<String> {
    raw.pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(|d| {
                    let name = d["name"].as_str()?;
                    Some(format!(
                        "{}/{name}",
                        d["namespace"].as_str().unwrap_or(namespace)
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
