//! Live state from the cluster, through kube-rs.
//!
//! API discovery maps each needed (group, kind) to its resource and scope,
//! querying only the API groups that are needed; the scope of every kind of
//! those groups is returned with the live state ([`LiveState::scopes`]). Objects are then read with
//! one paginated LIST per type, cluster-wide (never one GET per object), a
//! bounded number at a time; each page's objects are reduced and stored
//! compact as the page arrives, so memory holds one page per LIST in flight
//! plus the compact objects. Every request has a timeout and is counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, stream};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{debug, info};

use super::{LiveError, LiveState, Stored, TypeRef};
use crate::flux::kinds::source::SourceKind;
pub use crate::k8s::client::ClusterOptions;
pub use crate::k8s::client::Connection;
use crate::k8s::object::{Object, ObjectKey, ObjectRef};
use crate::k8s::scope::{self, Scopes};

/// Objects per LIST page.
const PAGE_SIZE: u32 = 500;

/// A type's resource and capabilities, or why the cluster does not serve it.
type Served = Result<(ApiResource, ApiCapabilities), String>;

/// Looks a type up in discovery's answer, at its version.
fn served(discovery: &Discovery, t: &TypeRef) -> Served {
    let Some(group) = discovery.get(&t.group) else {
        return Err(format!(
            "the cluster does not serve the API group {:?} ({} {})",
            t.group,
            t.api_version(),
            t.kind
        ));
    };
    if let Some(found) = group
        .versioned_resources(&t.version)
        .into_iter()
        .find(|(ar, _)| ar.kind == t.kind)
    {
        return Ok(found);
    }
    let others: Vec<&str> = group
        .versions()
        .filter(|v| {
            group
                .versioned_resources(v)
                .iter()
                .any(|(ar, _)| ar.kind == t.kind)
        })
        .collect();
    Err(if others.is_empty() {
        format!("the cluster does not serve {} {}", t.api_version(), t.kind)
    } else {
        format!(
            "the cluster does not serve {} {} (it serves {} in {})",
            t.api_version(),
            t.kind,
            t.kind,
            others.join(", ")
        )
    })
}

/// A connected cluster.
pub struct Cluster {
    client: Client,
    /// The kubeconfig context (or `in-cluster`), for reports.
    name: String,
    /// The API server's URL, for errors.
    server: String,
    timeout: Duration,
    concurrency: usize,
    requests: Arc<AtomicUsize>,
    /// Resources found by discovery, by (group, kind).
    resources: Mutex<BTreeMap<TypeRef, Served>>,
    /// The scope of every kind of the groups discovered (locked after `resources`).
    scopes: Mutex<Scopes>,
}

impl Cluster {
    /// Builds a client from a kubeconfig or the in-cluster service account.
    /// Makes no request.
    pub async fn connect(options: &ClusterOptions) -> Result<Self, LiveError> {
        let connection = Connection::new(options)
            .await
            .map_err(|e| LiveError::Config(crate::error::error_chain(&e)))?;
        Self::of_connection(connection, options)
    }

    /// A client for a configuration made elsewhere (a spoke's kubeconfig
    /// from a hub Secret), with the timeouts and concurrency of `options`.
    /// Makes no request.
    pub fn of_connection(
        connection: Connection,
        options: &ClusterOptions,
    ) -> Result<Self, LiveError> {
        let server = connection.server();
        let mut config = connection.config;
        // The client's own timeouts are a backstop; each call's deadline
        // (`timed`) fires first, with a message saying what did not answer.
        let backstop = options.timeout + Duration::from_secs(5);
        config.read_timeout = Some(backstop);
        config.write_timeout = Some(backstop);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| LiveError::Config(e.to_string()))?
            .with_layer(&tower::util::MapRequestLayer::new(move |request| {
                counter.fetch_add(1, Ordering::Relaxed);
                request
            }))
            .build();
        Ok(Self {
            client,
            name: connection.name,
            server,
            timeout: options.timeout,
            concurrency: options.concurrency.max(1),
            requests,
            resources: Mutex::new(BTreeMap::new()),
            scopes: Mutex::new(Scopes::default()),
        })
    }

    /// The kubeconfig context, as a default cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// One request that proves the API server answers and accepts the
    /// credentials (`GET /version` needs no RBAC grant beyond
    /// authentication).
    pub async fn probe(&self) -> Result<(), LiveError> {
        self.timed("GET /version", self.client.apiserver_version())
            .await
            .map(|_| ())
    }

    /// API requests made so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resolves types to served resources at the version asked, discovering
    /// only the API groups not yet known. A type not served at that version
    /// resolves to why not.
    async fn resolve(
        &self,
        types: &BTreeSet<TypeRef>,
    ) -> Result<BTreeMap<TypeRef, Served>, LiveError> {
        let mut known = self.resources.lock().await;
        let missing: BTreeSet<&str> = types
            .iter()
            .filter(|t| !known.contains_key(*t))
            .map(|t| t.group.as_str())
            .collect();
        if !missing.is_empty() {
            let groups: Vec<&str> = missing.iter().copied().collect();
            let discovery = self.discover(&groups).await?;
            learn_scopes(&mut *self.scopes.lock().await, &discovery);
            for t in types {
                known
                    .entry(t.clone())
                    .or_insert_with(|| served(&discovery, t));
            }
        }
        Ok(types
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    known.get(t).cloned().unwrap_or_else(|| Err(String::new())),
                )
            })
            .collect())
    }

    /// API discovery of these groups. A group whose CRD was just created is
    /// listed a moment before its version is served (a 404): retried twice.
    async fn discover(&self, groups: &[&str]) -> Result<Discovery, LiveError> {
        let mut attempt = 0;
        loop {
            let run = Discovery::new(self.client.clone()).filter(groups).run();
            match self.timed("API discovery", run).await {
                Err(LiveError::Status { code: 404, .. }) if attempt < 2 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                result => return result,
            }
        }
    }

    /// Runs one API call under the request timeout.
    async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LiveError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if timed_out(&e) => Err(LiveError::Timeout {
                what: format!("{what} (API server {})", self.server),
                seconds: self.timeout.as_secs(),
            }),
            Ok(Err(e)) => Err(LiveError::api(what, &self.server, e)),
            Err(_) => Err(LiveError::Timeout {
                what: format!("{what} (API server {})", self.server),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    /// Every object of one type, all namespaces, page by page, each object
    /// passed to `keep` as its page arrives (reduced: a page's status and
    /// parsed form never outlive it). A page is read as plain JSON, each item
    /// parsed once into the object kept (no typed metadata converted back).
    async fn list_each<T>(
        &self,
        ar: &ApiResource,
        mut keep: impl FnMut(Object) -> Option<T>,
    ) -> Result<Vec<T>, LiveError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), ar);
        let url = kube::core::Request::new(api.resource_url());
        let what = format!("list {}", describe(ar));
        let mut kept = Vec::new();
        let mut params = ListParams::default().limit(PAGE_SIZE);
        loop {
            let mut request = url
                .list(&params)
                .map_err(|e| LiveError::Config(format!("{what}: {e}")))?;
            request.extensions_mut().insert("list");
            let text = self.timed(&what, self.client.request_text(request)).await?;
            let page: Page = serde_json::from_str(&text).map_err(|e| LiveError::Request {
                what: format!("{what} (API server {})", self.server),
                message: format!("the answer is not a list of objects: {e}"),
            })?;
            drop(text);
            kept.extend(page.items.into_iter().flatten().filter_map(|item| {
                let mut object = with_type(item, ar);
                super::reduce(&mut object);
                keep(object)
            }));
            match page.metadata.next {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        debug!(resource = %describe(ar), objects = kept.len(), "Listed");
        Ok(kept)
    }

    /// Every object of one type, all namespaces, parsed.
    async fn list_all(&self, ar: &ApiResource) -> Result<Vec<Object>, LiveError> {
        self.list_each(ar, Some).await
    }

    /// Every object of one type, all namespaces, held compact ([`Stored`]).
    async fn list_stored(&self, ar: &ApiResource) -> Result<Vec<(ObjectKey, Stored)>, LiveError> {
        self.list_each(ar, |object| {
            Some((ObjectRef::of(&object)?.key(), Stored::new(&object)))
        })
        .await
    }

    /// What the object would be after Flux applied it: a server-side apply
    /// dry-run as field manager `kustomize-controller`, with force.
    pub async fn dry_run_apply(&self, object: &Object) -> Result<Object, LiveError> {
        let reference = ObjectRef::of(object)
            .ok_or_else(|| LiveError::Config("object without identity".into()))?;
        let key = reference.key();
        let t = TypeRef::new(&reference.api_version, &reference.kind);
        let resolved = self.resolve(&BTreeSet::from([t])).await?;
        let (ar, caps) = match resolved.into_values().next() {
            Some(Ok(found)) => found,
            Some(Err(why)) => return Err(LiveError::NotServed(why)),
            None => {
                return Err(LiveError::NotServed(format!(
                    "{reference}: type not resolved"
                )));
            }
        };
        let api: Api<DynamicObject> = match (&caps.scope, &key.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        };
        let params = PatchParams::apply("kustomize-controller").force().dry_run();
        let what = format!("server-side apply dry-run of {reference}");
        let result = self
            .timed(&what, api.patch(&key.name, &params, &Patch::Apply(object)))
            .await?;
        Ok(to_object(result, &ar))
    }
}

/// The scope of every kind discovery found, at any version (a kind not
/// served at the version git uses still has its scope).
fn learn_scopes(scopes: &mut Scopes, discovery: &Discovery) {
    for group in discovery.groups() {
        for version in group.versions() {
            for (ar, caps) in group.versioned_resources(version) {
                let found = match caps.scope {
                    Scope::Cluster => scope::Scope::Cluster,
                    Scope::Namespaced => scope::Scope::Namespaced,
                };
                scopes.learn(&ar.group, &ar.kind, found);
            }
        }
    }
}

/// `group/version kind` of a resource, for messages.
fn describe(ar: &ApiResource) -> String {
    format!("{} {}", ar.api_version, ar.plural)
}

/// One LIST page as the API server writes it: the items as plain JSON, and
/// the token of the next page.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

/// A LIST page's `metadata`: what is read of it.
#[derive(Default, serde::Deserialize)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    next: Option<String>,
}

/// A listed item with its `apiVersion` and `kind` first, as kubectl prints
/// them (the items of a built-in type's list carry neither).
fn with_type(item: Value, ar: &ApiResource) -> Object {
    let Value::Object(mut fields) = item else {
        return item;
    };
    fields.shift_remove("apiVersion");
    fields.shift_remove("kind");
    fields.shift_insert(0, "apiVersion".into(), Value::from(ar.api_version.clone()));
    fields.shift_insert(1, "kind".into(), Value::from(ar.kind.clone()));
    Value::Object(fields)
}

/// A listed item as a plain object, `apiVersion` and `kind` first as kubectl
/// prints them (list items carry neither).
fn to_object(item: DynamicObject, ar: &ApiResource) -> Object {
    let mut object = serde_json::Map::new();
    object.insert("apiVersion".into(), Value::from(ar.api_version.clone()));
    object.insert("kind".into(), Value::from(ar.kind.clone()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(item) {
        for (key, value) in fields {
            if key != "apiVersion" && key != "kind" {
                object.insert(key, value);
            }
        }
    }
    Value::Object(object)
}

/// The reads of [`super::Live`], from the cluster.
impl Cluster {
    pub async fn flux_objects(&self, sources: &[SourceKind]) -> Result<Vec<Object>, LiveError> {
        let gvk = GroupVersionKind::gvk(crate::flux::GROUP, "v1", crate::flux::KIND);
        let ar = ApiResource::from_gvk_with_plural(&gvk, "kustomizations");
        let mut objects = self.list_all(&ar).await?;
        // source-watcher (Flux 2.7+) is optional: a cluster without its
        // CRD answers 404, and has no generated artifacts.
        let gvk = GroupVersionKind::gvk(
            crate::flux::kinds::artifact::GROUP,
            crate::flux::kinds::artifact::VERSION,
            crate::flux::kinds::artifact::KIND,
        );
        let ar = ApiResource::from_gvk_with_plural(&gvk, "artifactgenerators");
        match self.list_all(&ar).await {
            Ok(generators) => objects.extend(generators),
            Err(LiveError::Status { code: 404, .. }) => {}
            // Not fatal: without them, the Kustomizations of ExternalArtifacts
            // are skipped, saying no generator is known.
            Err(e) => tracing::warn!(error = %e, "Could not list ArtifactGenerators"),
        }
        // Flux's sources: what each Kustomization is fetched from. A kind
        // whose CRD is not installed has no objects; one the token may not
        // list leaves its Kustomizations "could not check", naming it.
        for source in sources {
            let gvk = GroupVersionKind::gvk(
                crate::flux::kinds::source::GROUP,
                source.version,
                source.kind,
            );
            let ar = ApiResource::from_gvk_with_plural(&gvk, source.plural);
            match self.list_all(&ar).await {
                Ok(found) => objects.extend(found),
                Err(LiveError::Status { code: 404, .. }) => {}
                Err(e) => {
                    tracing::warn!(error = %e, kind = source.kind, "Could not list Flux sources")
                }
            }
        }
        Ok(objects)
    }

    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, LiveError> {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "Secret"),
            "secrets",
        );
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &ar);
        let what = format!("get Secret {namespace}/{name}");
        let found = self.timed(&what, api.get_opt(name)).await?;
        Ok(found.map(|o| super::snapshot::secret_bytes(&to_object(o, &ar))))
    }

    pub async fn substitution_data(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, LiveError> {
        let (version, plural) = match kind {
            "ConfigMap" => ("v1", "configmaps"),
            "Secret" => ("v1", "secrets"),
            other => {
                return Err(LiveError::Config(format!(
                    "postBuild.substituteFrom: kind {other} (expected ConfigMap or Secret)"
                )));
            }
        };
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", version, kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &ar);
        let what = format!("get {kind} {namespace}/{name}");
        let found = self.timed(&what, api.get_opt(name)).await?;
        Ok(found.map(|o| super::snapshot::object_data(&to_object(o, &ar))))
    }

    pub async fn fetch(&self, types: &BTreeSet<TypeRef>) -> LiveState {
        let before = self.requests();
        let mut state = LiveState::default();
        let resolved = match self.resolve(types).await {
            Ok(resolved) => resolved,
            Err(e) => {
                state.failed.extend(types.iter().map(|t| {
                    (
                        t.key(),
                        format!("{} {}: discovery failed", t.api_version(), t.kind),
                    )
                }));
                state.errors.push(e);
                return state;
            }
        };
        let mut served = Vec::new();
        for (t, found) in resolved {
            match found {
                Ok((ar, _)) => served.push((t.key(), ar)),
                Err(why) => {
                    state.unserved.insert(t.key(), why);
                }
            }
        }
        let results: Vec<_> = stream::iter(served)
            .map(|(t, ar)| async move {
                let name = format!("{} {}", ar.api_version, ar.plural);
                (t, name, self.list_stored(&ar).await)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut objects = Vec::new();
        for (t, name, result) in results {
            match result {
                Ok(list) => objects.extend(list),
                Err(e) => {
                    state.failed.insert(t, unread(&name, &e));
                    state.errors.push(e);
                }
            }
        }
        let (unserved, failed, errors) = (state.unserved, state.failed, state.errors);
        state = LiveState::of_stored(objects);
        (state.unserved, state.failed, state.errors) = (unserved, failed, errors);
        state.scopes = self.scopes.lock().await.clone();
        info!(
            types = types.len(),
            objects = state.len(),
            requests = self.requests() - before,
            "Read live state"
        );
        state
    }

    pub async fn dry_run(&self, object: &Object) -> Result<Object, LiveError> {
        self.dry_run_apply(object).await
    }

    pub async fn helm_records(
        &self,
        namespace: &str,
        release: &str,
    ) -> Result<Vec<Object>, LiveError> {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "Secret"),
            "secrets",
        );
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &ar);
        let what = format!("list the Helm release records of {release} in namespace {namespace}");
        let params = ListParams::default().labels(&crate::flux::kinds::helm::selector(release));
        let list = self.timed(&what, api.list(&params)).await?;
        Ok(list.items.into_iter().map(|i| to_object(i, &ar)).collect())
    }
}

/// Whether kube's own connect, read or write timeout ended the call (the
/// request timeout, set on the client): a server that accepts connections
/// and never completes the TLS handshake — a stopped process — ends here,
/// not in the outer timeout, as "client error (Connect): deadline has elapsed".
fn timed_out(error: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<tokio::time::error::Elapsed>()
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Why a type could not be listed, in a few words: `v1 configmaps
/// forbidden`, `v1 configmaps: no answer within 20 s`.
fn unread(name: &str, error: &LiveError) -> String {
    match error {
        LiveError::Status { code: 403, .. } => format!("{name} forbidden"),
        LiveError::Status { code, reason, .. } => format!("{name}: {reason} ({code})"),
        LiveError::Timeout { seconds, .. } => format!("{name}: no answer within {seconds} s"),
        _ => format!("{name}: the API server could not be reached"),
    }
}
