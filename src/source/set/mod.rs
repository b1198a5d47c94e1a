//! The sources of a run: every Kustomization rendered from its own source.
//!
//! Input: the selected Kustomizations, Flux's source objects and
//! ArtifactGenerators (live state), the repos given with `--repo` (the
//! infra repo, standing for one GitRepository or all of them, and
//! `--repo <namespace>/<name>=<url-or-checkout>` overrides), and where the
//! sources' Secrets are read. Output: [`Sources`], which gives each
//! Kustomization the tree Flux applied (`status.lastAppliedRevision`) and the
//! tree at its source's head (`status.artifact.revision`), or why it cannot
//! be checked.
//!
//! Each (source, revision) pair is fetched once per run, whatever the number
//! of Kustomizations using it, sources in parallel up to `concurrency`, each
//! within its [`FetchLimits`]. A source that fails fails only its own
//! Kustomizations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;

use super::cluster::{self, SourceId};
use super::fetch::{FetchLimits, SecretData, SourceSecrets};
use super::gitrepository::GitSpec;
use super::{Checkout, Location, Repo, SourceError};
use crate::artifact::{self, ArtifactGenerator};
use crate::flux::Kustomization;
use crate::live::{Live, LiveError};

mod fetching;
use fetching::{copy_dir, fetch_group};

/// How sources are fetched.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--repo <namespace>/<name>=<url-or-checkout>`: GitRepositories read
    /// from elsewhere than their `spec.url`.
    pub overrides: Vec<Override>,
    /// `sources.secretDirs`: a directory of Secret files per source
    /// (`namespace/name`), read instead of the cluster's Secrets.
    pub secret_dirs: BTreeMap<String, PathBuf>,
    pub limits: FetchLimits,
    /// How many sources are fetched at once.
    pub concurrency: usize,
    /// Clones and trees are kept here between runs (`--cache-dir`).
    pub cache_dir: Option<PathBuf>,
}

/// `--repo <namespace>/<name>=<url-or-checkout>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub namespace: String,
    pub name: String,
    pub location: Location,
}

impl Override {
    /// Reads `<namespace>/<name>=<location>`; `None` when `text` is not of
    /// that shape (then it is the infra repo).
    pub fn parse(text: &str) -> Option<Self> {
        let (id, location) = text.split_once('=')?;
        let (namespace, name) = id.split_once('/')?;
        let dns = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        (dns(namespace) && dns(name) && !location.is_empty()).then(|| Override {
            namespace: namespace.to_string(),
            name: name.to_string(),
            location: Location::parse(location),
        })
    }
}

/// Why a Kustomization's source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The source object is not in the live state.
    #[error("its source {0} is not in the cluster")]
    NotFound(SourceId),
    /// A Secret the source names cannot be read.
    #[error("{source_id}: cannot read Secret {namespace}/{name} ({why})")]
    Secret {
        source_id: SourceId,
        namespace: String,
        name: String,
        why: String,
    },
    /// The source could not be fetched.
    #[error("{source_id}")]
    Fetch {
        source_id: SourceId,
        #[source]
        source: cluster::FetchError,
    },
    /// A repo given with `--repo` could not be opened.
    #[error("{source_id} (--repo)")]
    Repo {
        source_id: SourceId,
        #[source]
        source: Arc<SourceError>,
    },
    /// `spec.include` of GitRepositories loops.
    #[error("{source_id}: spec.include makes a cycle: {cycle}")]
    IncludeCycle { source_id: SourceId, cycle: String },
    /// An included repository could not be read or copied.
    #[error("{source_id}: spec.include of GitRepository {included}: {message}")]
    Include {
        source_id: SourceId,
        included: String,
        message: String,
    },
    /// An ExternalArtifact's generator input could not be read.
    #[error("its source {artifact} is made from {input}, which cannot be read: {message}")]
    Input {
        artifact: SourceId,
        input: SourceId,
        message: String,
    },
    /// Composing an ExternalArtifact failed.
    #[error(transparent)]
    Compose(#[from] artifact::ComposeError),
}

/// A tree written for a source at one revision.
#[derive(Clone, Debug)]
struct Tree {
    root: PathBuf,
    revision: String,
}

type Fetched = Result<Tree, Arc<SourcesError>>;

/// What one source's fetches gave, by (source, revision asked for).
type Results = Vec<((SourceId, Option<String>), Fetched)>;

/// Which GitRepositories a repo given with `--repo` stands for.
enum Stands {
    /// `--repo X` without `--source`: every GitRepository (as before
    /// sources were read from the cluster).
    Every,
    One(String, String),
}

/// What a Kustomization is rendered from.
pub struct KsTrees {
    pub source: SourceId,
    /// Where the source is (redacted URL or directory).
    pub url: String,
    /// The source's head: its artifact's revision now.
    pub head: Checkout,
    /// The tree Flux applied when it is not the head (`None`: the same, or
    /// nothing older to read), or why it cannot be read.
    pub applied: Option<Result<Checkout, Arc<dyn std::error::Error + Send + Sync>>>,
}

/// The sources of a run, fetched.
pub struct Sources {
    objects: BTreeMap<SourceId, Value>,
    generators: Vec<ArtifactGenerator>,
    repos: Vec<(Stands, Result<Repo, Arc<SourceError>>)>,
    /// By source and revision asked for (`None`: the head).
    fetched: BTreeMap<(SourceId, Option<String>), Fetched>,
    /// Composed artifacts, removed at the end of the run.
    composed: Vec<tempfile::TempDir>,
    work: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Sources {
    /// Fetches what the Kustomizations `checked` need: for each source from
    /// the cluster, the revision each applied and its head, once each.
    /// `infra` is the repo of `--repo X`, standing for `infra_for` (or every
    /// GitRepository when `None`).
    #[allow(clippy::too_many_arguments)]
    pub async fn fetch(
        options: &Options,
        repo_options: Option<&super::Options>,
        infra: Option<Result<Repo, SourceError>>,
        infra_for: Option<&(String, String)>,
        objects: &[Value],
        generators: &[ArtifactGenerator],
        checked: &[&Kustomization],
        live: Option<&Live>,
    ) -> Self {
        let (temp, work) = match options.cache_dir.clone() {
            Some(dir) => (None, dir.join("sources")),
            None => match tempfile::Builder::new()
                .prefix("drift-check-sources-")
                .tempdir()
            {
                Ok(t) => {
                    let p = t.path().to_path_buf();
                    (Some(t), p)
                }
                Err(_) => (None, std::env::temp_dir().join("drift-check-sources")),
            },
        };
        let _ = std::fs::remove_dir_all(work.join("trees"));
        let mut sources = Sources {
            objects: objects
                .iter()
                .filter(|o| cluster::is_source(o))
                .filter_map(|o| Some((SourceId::of(o)?, o.clone())))
                .collect(),
            generators: generators.to_vec(),
            repos: Vec::new(),
            fetched: BTreeMap::new(),
            composed: Vec::new(),
            work,
            _temp: temp,
        };
        if let Some(infra) = infra {
            let stands = match infra_for {
                Some((ns, name)) => Stands::One(ns.clone(), name.clone()),
                None => Stands::Every,
            };
            sources.repos.push((stands, infra.map_err(Arc::new)));
        }
        for o in &options.overrides {
            let spec = sources
                .objects
                .get(&SourceId::new("GitRepository", &o.namespace, &o.name))
                .and_then(|obj| GitSpec::parse(obj.get("spec")).ok());
            let branch = spec
                .and_then(|s| s.reference.and_then(|r| r.branch))
                .unwrap_or_else(|| "main".into());
            let mut opts = repo_options
                .cloned()
                .unwrap_or_else(|| super::Options::new(o.location.clone()));
            opts.location = o.location.clone();
            opts.branch = branch;
            opts.revision = None;
            let repo = super::open(&opts, |name| std::env::var(name).ok()).await;
            sources.repos.push((
                Stands::One(o.namespace.clone(), o.name.clone()),
                repo.map_err(Arc::new),
            ));
        }
        let wanted = sources.wanted(checked);
        sources.fetch_all(wanted, options, live).await;
        sources
    }

    /// The repo standing for a source, if any.
    fn repo_index(&self, id: &SourceId) -> Option<usize> {
        if id.kind != "GitRepository" {
            return None;
        }
        // An override names its source; the infra repo comes after it.
        self.repos
            .iter()
            .position(
                |(s, _)| matches!(s, Stands::One(ns, n) if *ns == id.namespace && *n == id.name),
            )
            .or_else(|| {
                self.repos
                    .iter()
                    .position(|(s, _)| matches!(s, Stands::Every))
            })
    }

    /// The (source, revision) pairs to fetch from the cluster.
    fn wanted(&self, checked: &[&Kustomization]) -> BTreeSet<(SourceId, Option<String>)> {
        let mut wanted = BTreeSet::new();
        let add_head = |id: SourceId, wanted: &mut BTreeSet<_>| {
            wanted.insert((id, None));
        };
        for ks in checked {
            let id = source_of(ks);
            if id.kind == artifact::EXTERNAL_ARTIFACT {
                if let Ok((g, _)) = artifact::resolve(ks, &self.generators) {
                    for (_, (kind, ns, name)) in artifact::inputs(g) {
                        let input = SourceId::new(&kind, &ns, &name);
                        if self.repo_index(&input).is_none() {
                            add_head(input, &mut wanted);
                        }
                    }
                }
                continue;
            }
            if self.repo_index(&id).is_some() {
                continue;
            }
            add_head(id.clone(), &mut wanted);
            if let Some(applied) = &ks.status.last_applied_revision {
                wanted.insert((id, Some(applied.clone())));
            }
        }
        // Included GitRepositories, at their heads, transitively.
        let mut queue: Vec<SourceId> = wanted.iter().map(|(id, _)| id.clone()).collect();
        while let Some(id) = queue.pop() {
            for included in self.includes(&id) {
                if self.repo_index(&included).is_none() && wanted.insert((included.clone(), None)) {
                    queue.push(included);
                }
            }
        }
        wanted
    }

    fn includes(&self, id: &SourceId) -> Vec<SourceId> {
        if id.kind != "GitRepository" {
            return Vec::new();
        }
        self.objects
            .get(id)
            .and_then(|o| GitSpec::parse(o.get("spec")).ok())
            .map(|s| {
                s.include
                    .iter()
                    .map(|i| SourceId::new("GitRepository", &id.namespace, &i.repository.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn fetch_all(
        &mut self,
        wanted: BTreeSet<(SourceId, Option<String>)>,
        options: &Options,
        live: Option<&Live>,
    ) {
        let mut groups: BTreeMap<SourceId, Vec<Option<String>>> = BTreeMap::new();
        for (id, revision) in wanted {
            groups.entry(id).or_default().push(revision);
        }
        // Flux applied what the source holds now: the head's one fetch is
        // that revision too (a Kustomization with no tree of its applied
        // revision renders the head, which is it).
        for (id, revisions) in &mut groups {
            let head = self
                .objects
                .get(id)
                .and_then(|o| o.pointer("/status/artifact/revision"))
                .and_then(Value::as_str);
            if head.is_some() && revisions.contains(&None) {
                revisions.retain(|r| r.is_none() || r.as_deref() != head);
            }
        }
        let cache = options.cache_dir.clone();
        let work = &self.work;
        let objects = &self.objects;
        // GitHub App installation tokens, shared by this run's fetches.
        let tokens = &crate::source::githubapp::TokenCache::default();
        let results: Vec<Results> = futures::stream::iter(groups)
            .map(|(id, revisions)| {
                let cache = cache.clone();
                async move {
                    fetch_group(
                        &id,
                        objects.get(&id),
                        &revisions,
                        options,
                        work,
                        cache.as_deref(),
                        live,
                        tokens,
                    )
                    .await
                }
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        self.fetched = results.into_iter().flatten().collect();
        self.apply_includes();
    }

    /// Copies each GitRepository's includes into its trees (the included
    /// trees first, so includes of includes come along, as source-controller
    /// copies the included artifact whole).
    fn apply_includes(&mut self) {
        let ids: BTreeSet<SourceId> = self.fetched.keys().map(|(id, _)| id.clone()).collect();
        let mut done = BTreeSet::new();
        for id in ids {
            let mut path = Vec::new();
            self.include_into(&id, &mut path, &mut done);
        }
    }

    fn include_into(
        &mut self,
        id: &SourceId,
        path: &mut Vec<SourceId>,
        done: &mut BTreeSet<SourceId>,
    ) {
        if done.contains(id) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == id) {
            let cycle: Vec<String> = path[at..]
                .iter()
                .chain([id])
                .map(|p| format!("GitRepository/{}/{}", p.namespace, p.name))
                .collect();
            let error = Arc::new(SourcesError::IncludeCycle {
                source_id: id.clone(),
                cycle: cycle.join(" -> "),
            });
            for member in &path[at..] {
                self.fail(member, error.clone());
            }
            return;
        }
        let includes = match self
            .objects
            .get(id)
            .and_then(|o| GitSpec::parse(o.get("spec")).ok())
        {
            Some(spec) if id.kind == "GitRepository" => spec.include,
            _ => {
                done.insert(id.clone());
                return;
            }
        };
        path.push(id.clone());
        for include in &includes {
            let included = SourceId::new("GitRepository", &id.namespace, &include.repository.name);
            self.include_into(&included, path, done);
        }
        path.pop();
        if done.contains(id) {
            return;
        }
        done.insert(id.clone());
        // In a cycle: already failed, saying so.
        if self.fetched.iter().any(|((k, _), r)| {
            k == id && matches!(r, Err(e) if matches!(**e, SourcesError::IncludeCycle { .. }))
        }) {
            return;
        }
        for include in &includes {
            let included = SourceId::new("GitRepository", &id.namespace, &include.repository.name);
            let from = match self.head_root(&included) {
                Ok(root) => root,
                Err(message) => {
                    self.fail(
                        id,
                        Arc::new(SourcesError::Include {
                            source_id: id.clone(),
                            included: format!("{}/{}", included.namespace, included.name),
                            message,
                        }),
                    );
                    return;
                }
            };
            let from = match include.from_path.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => from.join(p.trim_start_matches("./")),
                None => from,
            };
            let keys: Vec<_> = self
                .fetched
                .iter()
                .filter(|((k, _), r)| k == id && r.is_ok())
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                let Some(Ok(tree)) = self.fetched.get(&key) else {
                    continue;
                };
                let to = tree.root.join(include.to().trim_start_matches("./"));
                if let Err(e) = copy_dir(&from, &to) {
                    self.fetched.insert(
                        key,
                        Err(Arc::new(SourcesError::Include {
                            source_id: id.clone(),
                            included: format!("{}/{}", included.namespace, included.name),
                            message: format!("cannot copy {}: {e}", from.display()),
                        })),
                    );
                }
            }
        }
    }

    fn fail(&mut self, id: &SourceId, error: Arc<SourcesError>) {
        for ((k, _), result) in self.fetched.iter_mut() {
            if k == id {
                *result = Err(error.clone());
            }
        }
    }

    /// The root of a source's head tree (fetched, or of the repo standing for it).
    fn head_root(&self, id: &SourceId) -> Result<PathBuf, String> {
        if let Some(i) = self.repo_index(id) {
            return match &self.repos[i].1 {
                Ok(repo) => Ok(repo.head().root.clone()),
                Err(e) => Err(crate::error::error_chain(e.as_ref())),
            };
        }
        match self.fetched.get(&(id.clone(), None)) {
            Some(Ok(tree)) => Ok(tree.root.clone()),
            Some(Err(e)) => Err(crate::error::error_chain(e.as_ref())),
            None => Err(format!("{id} was not fetched")),
        }
    }

    /// Splits `checked` into those whose source can be fetched and those
    /// skipped, with why ([`Self::absent`]).
    #[allow(clippy::type_complexity)]
    pub fn partition<'k>(
        &self,
        checked: Vec<&'k Kustomization>,
    ) -> (Vec<&'k Kustomization>, Vec<(&'k Kustomization, String)>) {
        let mut skipped = Vec::new();
        let checked = checked
            .into_iter()
            .filter(|ks| match self.absent(ks) {
                Some(reason) => {
                    skipped.push((*ks, reason));
                    false
                }
                None => true,
            })
            .collect();
        (checked, skipped)
    }

    /// Why a Kustomization is not checked at all: its source object is not
    /// in the cluster (nor given with `--repo`), so Flux has nothing to apply
    /// it from either. Listed as skipped, saying so, not an error of the run.
    pub fn absent(&self, ks: &Kustomization) -> Option<String> {
        let id = source_of(ks);
        (id.kind != artifact::EXTERNAL_ARTIFACT
            && self.repo_index(&id).is_none()
            && !self.objects.contains_key(&id))
        .then(|| {
            format!("its source {id} is not in the cluster: there is nothing to fetch it from")
        })
    }

    /// The trees a Kustomization renders from, or why it cannot be checked.
    pub async fn for_kustomization(
        &mut self,
        ks: &Kustomization,
        limits: crate::files::Limits,
    ) -> Result<KsTrees, Arc<SourcesError>> {
        let id = source_of(ks);
        if id.kind == artifact::EXTERNAL_ARTIFACT {
            return self.compose(ks, id, limits);
        }
        if let Some(i) = self.repo_index(&id) {
            let repo = match &mut self.repos[i].1 {
                Ok(repo) => repo,
                Err(e) => {
                    return Err(Arc::new(SourcesError::Repo {
                        source_id: id,
                        source: e.clone(),
                    }));
                }
            };
            let head = repo.head().clone();
            let applied = match ks.status.last_applied_revision.as_deref() {
                Some(revision) => repo.at(revision).await.map(|r| {
                    r.map_err(|source| {
                        Arc::new(SourceError::Applied {
                            kustomization: ks.id(),
                            revision: revision.to_string(),
                            source,
                        }) as Arc<dyn std::error::Error + Send + Sync>
                    })
                }),
                None => None,
            };
            return Ok(KsTrees {
                source: id,
                url: head.url.clone(),
                head,
                applied,
            });
        }
        let url = self.url_of(&id);
        let head = match self.fetched.get(&(id.clone(), None)) {
            Some(Ok(tree)) => checkout(tree, &url),
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(Arc::new(SourcesError::NotFound(id))),
        };
        let applied = ks
            .status
            .last_applied_revision
            .as_ref()
            .and_then(
                |revision| match self.fetched.get(&(id.clone(), Some(revision.clone()))) {
                    Some(Ok(tree)) if Some(&tree.revision) == head.revision.as_ref() => None,
                    Some(Ok(tree)) => Some(Ok(checkout(tree, &url))),
                    Some(Err(e)) => {
                        Some(Err(e.clone() as Arc<dyn std::error::Error + Send + Sync>))
                    }
                    None => None,
                },
            );
        Ok(KsTrees {
            source: id,
            url,
            head,
            applied,
        })
    }

    /// An ExternalArtifact composed from its generator's sources' heads.
    fn compose(
        &mut self,
        ks: &Kustomization,
        id: SourceId,
        limits: crate::files::Limits,
    ) -> Result<KsTrees, Arc<SourcesError>> {
        let (generator, output) = artifact::resolve(ks, &self.generators)
            .map_err(|m| Arc::new(artifact::ComposeError::NotComposable(m).into()))?;
        let mut roots = BTreeMap::new();
        let mut revisions = Vec::new();
        for (alias, (kind, ns, name)) in artifact::inputs(generator) {
            let input = SourceId::new(&kind, &ns, &name);
            let root = self.head_root(&input).map_err(|message| {
                Arc::new(SourcesError::Input {
                    artifact: id.clone(),
                    input: input.clone(),
                    message,
                })
            })?;
            if let Some(Ok(tree)) = self.fetched.get(&(input.clone(), None)) {
                revisions.push(format!("{alias}: {}", tree.revision));
            }
            roots.insert(alias, root);
        }
        let dir = artifact::compose(&roots, generator, output, limits)
            .map_err(|e| Arc::new(SourcesError::from(e)))?;
        let head = Checkout {
            root: dir.path().to_path_buf(),
            url: format!(
                "ArtifactGenerator/{}/{}",
                generator.namespace, generator.name
            ),
            revision: ks.status.last_applied_revision.clone(),
            note: (!revisions.is_empty()).then(|| revisions.join(", ")),
        };
        self.composed.push(dir);
        Ok(KsTrees {
            source: id,
            url: head.url.clone(),
            head,
            applied: None,
        })
    }

    /// A source's URL as shown (credentials redacted).
    fn url_of(&self, id: &SourceId) -> String {
        let spec = self.objects.get(id).and_then(|o| o.get("spec"));
        let url = spec
            .and_then(|s| s.get("url").or_else(|| s.get("bucketName")))
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = match spec.and_then(|s| s.get("endpoint")).and_then(Value::as_str) {
            Some(endpoint) => format!("{endpoint}/{url}"),
            None => url.to_string(),
        };
        crate::redact::url(&url)
    }
}

/// A Kustomization's source, as its `sourceRef` names it.
pub fn source_of(ks: &Kustomization) -> SourceId {
    SourceId::new(
        &ks.spec.source_ref.kind,
        ks.source_namespace(),
        &ks.spec.source_ref.name,
    )
}

fn checkout(tree: &Tree, url: &str) -> Checkout {
    Checkout {
        root: tree.root.clone(),
        url: url.to_string(),
        revision: Some(tree.revision.clone()),
        note: None,
    }
}

#[cfg(test)]
mod tests;
