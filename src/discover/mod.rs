//! Stage `discover`: which Flux Kustomizations to check.
//!
//! Input: the live state's `kustomize.toolkit.fluxcd.io` `Kustomization`
//! objects (spec and status), or, when it has none, the Kustomization manifests
//! under a directory of the repo (`--kustomizations-dir`, e.g. `clusters/prod`);
//! or, for `render`, those of one manifest file (`--kustomization-file`,
//! which takes precedence over both, as in `flux build ks`).
//! The ArtifactGenerators found alongside (live, or in the same manifests)
//! are kept, to tell what a Kustomization's `ExternalArtifact` source holds.
//! Output: [`Kustomization`]s in a stable order, filtered by name when asked,
//! and an issue for each rule of a selected Kustomization's `spec.ignore`
//! that cannot be used (the Kustomization is still checked, with its other rules).

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::artifact::{self, ArtifactGenerator};
use crate::error::{Issue, Outcome, Stage};
use crate::files::{FileError, Limits, Tree};
use crate::flux::{
    Kustomization, KustomizationSpec, KustomizationStatus, Origin, is_kustomization,
};
use crate::k8s::object::{self, Object};
use crate::yaml;

/// Which Kustomizations to check.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The repo directory (relative to its root) with Kustomization manifests,
    /// read when the live state has none.
    pub kustomizations_dir: Option<PathBuf>,
    /// A manifest file (relative to the current directory) whose
    /// Kustomizations are used instead of the live state's and the
    /// directory's (`render --kustomization-file`).
    pub kustomization_file: Option<PathBuf>,
    /// Only these (`name` or `namespace/name`); all when empty.
    pub names: Vec<String>,
    /// The GitRepository (namespace, name) `--repo` stands for; `None`:
    /// every GitRepository (the others are fetched from the cluster).
    pub source: Option<(String, String)>,
    /// How much one manifest file may hold.
    pub limits: Limits,
}

impl Options {
    /// `source`, when given, must be `namespace/name`; `kustomizations_dir`
    /// a relative path that stays inside the repo (Flux never reads outside
    /// its artifact).
    pub fn new(
        kustomizations_dir: Option<PathBuf>,
        names: Vec<String>,
        source: Option<&str>,
        limits: Limits,
    ) -> Result<Self, OptionsError> {
        if let Some(dir) = &kustomizations_dir {
            validate_dir(dir)?;
        }
        let source = match source {
            None => None,
            Some(text) => match text.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Some((ns.to_string(), name.to_string()))
                }
                _ => return Err(OptionsError::Source(text.to_string())),
            },
        };
        Ok(Self {
            kustomizations_dir,
            kustomization_file: None,
            names,
            source,
            limits,
        })
    }

    /// Whether the Kustomizations are read from the repo or a file, not
    /// from the live state (so `render` needs none).
    pub fn from_files(&self) -> bool {
        self.kustomization_file.is_some() || self.kustomizations_dir.is_some()
    }
}

/// Options that cannot be: each message says what is wrong with the value
/// and shows a good one; the caller names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The Kustomizations' directory is absolute or leaves the repo.
    #[error(
        "{} {why}: it must be a directory inside the repo, relative to its root (e.g. clusters/prod)",
        dir.display()
    )]
    KustomizationsDir { dir: PathBuf, why: &'static str },
    /// The source is not `namespace/name`.
    #[error("{0:?} is not namespace/name (e.g. flux-system/plana-pulse-infra)")]
    Source(String),
}

/// `--kustomizations-dir` is a directory of the repo: relative, and no `..`
/// climbing out of it (symlinks are checked when it is read).
fn validate_dir(dir: &Path) -> Result<(), OptionsError> {
    let refuse = |why| {
        Err(OptionsError::KustomizationsDir {
            dir: dir.to_path_buf(),
            why,
        })
    };
    let mut depth = 0usize;
    for component in dir.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth == 0 => return refuse("leaves the repo"),
            Component::ParentDir => depth -= 1,
            Component::RootDir | Component::Prefix(_) => return refuse("is absolute"),
        }
    }
    Ok(())
}

/// The Kustomizations of a run.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    /// Every Kustomization found, checked in this run or not.
    pub known: Vec<Kustomization>,
    /// Those selected by name, in a stable order.
    pub selected: Vec<Kustomization>,
    /// Kustomizations (`namespace/name`) whose definition could not be read:
    /// not checked, and the objects they own are no orphans.
    pub broken: Vec<String>,
    /// A manifest file could not be read at all: Kustomizations may be
    /// missing from `known` without a name to show for it.
    pub incomplete: bool,
    /// source-watcher ArtifactGenerators (live state, then the manifests
    /// read): what the `ExternalArtifact` sources of Kustomizations hold.
    pub generators: Vec<ArtifactGenerator>,
}

impl Discovered {
    /// The selected Kustomizations to check, and those skipped on purpose
    /// with why (their artifact cannot be composed).
    pub fn partition(&self) -> (Vec<&Kustomization>, Vec<(&Kustomization, String)>) {
        let mut checked = Vec::new();
        let mut skipped = Vec::new();
        for ks in &self.selected {
            match skip_reason(ks, &self.generators) {
                Some(reason) => skipped.push((ks, reason)),
                None => checked.push(ks),
            }
        }
        (checked, skipped)
    }
}

/// Why a Kustomization is not checked: its source is an `ExternalArtifact`
/// that drift-check cannot compose (see [`artifact::resolve`]). Every other
/// source is fetched as the cluster names it; one that applies to another
/// cluster (`spec.kubeConfig`) is checked there (`live::remote`).
fn skip_reason(ks: &Kustomization, generators: &[ArtifactGenerator]) -> Option<String> {
    if ks.spec.source_ref.kind == artifact::EXTERNAL_ARTIFACT {
        return artifact::resolve(ks, generators).err();
    }
    None
}

/// Finds the Kustomizations to check: those of the live state (`live`, as
/// read), or, when it has none, the manifests under `--kustomizations-dir` of
/// the tree at `root`; then selects them by name. Each definition that cannot
/// be read is an issue of its own.
pub fn discover<E: std::error::Error>(
    live: Result<Vec<Object>, E>,
    root: &Path,
    options: &Options,
) -> Outcome<Discovered> {
    let mut issues = Vec::new();
    let mut broken = Vec::new();
    let mut incomplete = false;
    let mut issue = |e: &dyn std::error::Error| issues.push(Issue::new(None, Stage::Discover, e));
    let mut failed = |e: &DiscoverError, issue: &mut dyn FnMut(&dyn std::error::Error)| {
        match e {
            DiscoverError::Spec {
                namespace, name, ..
            } => broken.push(format!("{namespace}/{name}")),
            _ => incomplete = true,
        }
        issue(e);
    };
    let mut generators = Vec::new();
    if let Ok(objects) = &live {
        for object in objects.iter().filter(|o| artifact::is_generator(o)) {
            match artifact::from_object(object, "flux-system") {
                Ok(g) => generators.push(g),
                Err(e) => issue(&DiscoverError::Generator(format!("live state: {e}"))),
            }
        }
    }
    let known = match (live, &options.kustomization_file) {
        (_, Some(file)) => {
            let (found, more, errors) = read_file_manifests(file);
            generators.extend(more);
            errors.iter().for_each(|e| failed(e, &mut issue));
            if found.is_empty() && errors.is_empty() {
                issue(&DiscoverError::NoneInFile(file.clone()));
                incomplete = true;
            }
            found
        }
        (Ok(objects), None) if objects.iter().any(is_kustomization) => {
            let (found, errors) = from_live(&objects);
            errors.iter().for_each(|e| failed(e, &mut issue));
            found
        }
        (Ok(_), None) => match &options.kustomizations_dir {
            Some(dir) => {
                let (found, more, errors) = read_dir_manifests(root, dir, options.limits);
                generators.extend(more);
                errors.iter().for_each(|e| failed(e, &mut issue));
                found
            }
            None => {
                issue(&DiscoverError::NoneLive);
                incomplete = true;
                Vec::new()
            }
        },
        (Err(e), None) => {
            issue(&e);
            incomplete = true;
            Vec::new()
        }
    };
    let selected = select(known.clone(), &options.names).unwrap_or_else(|e| {
        issue(&e);
        Vec::new()
    });
    Outcome {
        value: Discovered {
            known,
            selected,
            broken,
            incomplete,
            generators,
        },
        issues,
        notes: Vec::new(),
    }
}

/// A Kustomization definition that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A manifest file of `--kustomizations-dir` is not valid YAML.
    #[error(transparent)]
    Yaml(#[from] yaml::YamlError),
    /// The directory given with `--kustomizations-dir`, or a file under it,
    /// was refused (a symlink out of the repo, a FIFO, a file over the size
    /// limit) or does not exist.
    #[error("--kustomizations-dir: {0}")]
    File(FileError),
    /// The repo directory cannot be resolved.
    #[error("{}: cannot list Kustomization manifests: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Kustomization object whose spec has the wrong shape.
    #[error("{origin}: Kustomization {name}: {message}")]
    Spec {
        origin: String,
        namespace: String,
        name: String,
        message: String,
    },
    /// The live state has no Kustomizations and no directory was given.
    #[error(
        "the live state has no Flux Kustomizations: pass --kustomizations-dir (e.g. clusters/prod) to read them from the repo"
    )]
    NoneLive,
    /// The file given with `--kustomization-file` holds no Flux Kustomization.
    #[error(
        "{}: no Flux Kustomization (kind: Kustomization, apiVersion: kustomize.toolkit.fluxcd.io/v1) in this file",
        .0.display()
    )]
    NoneInFile(PathBuf),
    /// An ArtifactGenerator whose spec has the wrong shape (the
    /// Kustomizations of its artifacts are skipped, saying none is known).
    #[error("{0}")]
    Generator(String),
    /// `--kustomization NAME` names a Kustomization that was not found.
    #[error("Kustomization {0} not found (known: {1})")]
    NotFound(String, String),
}

/// Reads one Kustomization object. `default_namespace` applies when the
/// manifest names none (as `kubectl apply` would put it in `flux-system`
/// for manifests of a bootstrap repo).
pub fn from_object(
    object: &Object,
    origin: Origin,
    default_namespace: &str,
) -> Result<Kustomization, DiscoverError> {
    let name = object::name(object).unwrap_or("").to_string();
    let origin_text = match &origin {
        Origin::Live => "live state".to_string(),
        Origin::File(path) => path.display().to_string(),
    };
    let namespace = object::namespace(object)
        .unwrap_or(default_namespace)
        .to_string();
    let spec_error = |field: &str, e: serde_json::Error| DiscoverError::Spec {
        origin: origin_text.clone(),
        namespace: namespace.clone(),
        name: name.clone(),
        message: format!("{field}: {e}"),
    };
    if name.is_empty() {
        return Err(DiscoverError::Spec {
            origin: origin_text,
            namespace,
            name: "<unnamed>".into(),
            message: "metadata.name is missing".into(),
        });
    }
    let spec: KustomizationSpec = object::from_value(object.get("spec").unwrap_or(&Value::Null))
        .map_err(|e| spec_error("spec", e))?;
    let status: KustomizationStatus = match object.get("status") {
        Some(status) => object::from_value(status).map_err(|e| spec_error("status", e))?,
        None => KustomizationStatus::default(),
    };
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let suspended_since = spec
        .suspend
        .then(|| crate::k8s::managed::field_set_time(object, &["spec", "suspend"]))
        .flatten();
    Ok(Kustomization {
        namespace: object::namespace(object)
            .unwrap_or(default_namespace)
            .to_string(),
        name,
        spec,
        status,
        annotations,
        suspended_since,
        origin,
    })
}

/// Kustomizations among live objects, sorted by namespace and name; one
/// whose spec has the wrong shape is an error of its own, the others are read.
pub fn from_live(objects: &[Object]) -> (Vec<Kustomization>, Vec<DiscoverError>) {
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for object in objects.iter().filter(|o| is_kustomization(o)) {
        match from_object(object, Origin::Live, "flux-system") {
            Ok(k) => found.push(k),
            Err(e) => errors.push(e),
        }
    }
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    (found, errors)
}

/// Kustomization manifests in the YAML files under `dir` of the repo at
/// `root` (recursively, in lexical order), read within `limits`. Symlinks
/// are followed inside the repo only; a directory is walked once, however
/// many links lead to it; a FIFO or device is refused unopened. Files with
/// other kinds are skipped; a file that cannot be read or is not YAML is an
/// error naming it (relative to the repo), and does not stop the others
/// being read.
pub fn from_dir(
    root: &Path,
    dir: &Path,
    limits: Limits,
) -> (Vec<Kustomization>, Vec<DiscoverError>) {
    let (found, _, errors) = read_dir_manifests(root, dir, limits);
    (found, errors)
}

/// [`from_dir`], with the ArtifactGenerators of the same files.
fn read_dir_manifests(
    root: &Path,
    dir: &Path,
    limits: Limits,
) -> (
    Vec<Kustomization>,
    Vec<ArtifactGenerator>,
    Vec<DiscoverError>,
) {
    let tree = match Tree::confined(root, "the repo", limits) {
        Ok(tree) => tree,
        Err(source) => {
            let error = DiscoverError::Dir {
                path: root.to_path_buf(),
                source,
            };
            return (Vec::new(), Vec::new(), vec![error]);
        }
    };
    let (files, refused) = tree.files_under(dir, &["yaml", "yml"]);
    let mut errors: Vec<DiscoverError> = refused.into_iter().map(DiscoverError::File).collect();
    let (mut found, mut generators) = (Vec::new(), Vec::new());
    for file in files {
        read_file(&tree, &file, &mut found, &mut generators, &mut errors);
    }
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    (found, generators, errors)
}

/// The Kustomization manifests of one file (`--kustomization-file`), in
/// the file's order.
pub fn from_file(file: &Path) -> (Vec<Kustomization>, Vec<DiscoverError>) {
    let (found, _, errors) = read_file_manifests(file);
    (found, errors)
}

/// [`from_file`], with the ArtifactGenerators of the file.
fn read_file_manifests(
    file: &Path,
) -> (
    Vec<Kustomization>,
    Vec<ArtifactGenerator>,
    Vec<DiscoverError>,
) {
    let (mut found, mut generators, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = Path::new(file.file_name().unwrap_or(file.as_os_str()));
    match Tree::open(
        dir,
        "the directory of --kustomization-file",
        Limits::default(),
    ) {
        Ok(tree) => read_file(
            &tree.shown_under(dir),
            name,
            &mut found,
            &mut generators,
            &mut errors,
        ),
        Err(source) => errors.push(DiscoverError::Dir {
            path: file.to_path_buf(),
            source,
        }),
    }
    (found, generators, errors)
}

/// The Kustomization (and ArtifactGenerator) manifests of one file of `tree`.
fn read_file(
    tree: &Tree,
    file: &Path,
    found: &mut Vec<Kustomization>,
    generators: &mut Vec<ArtifactGenerator>,
    errors: &mut Vec<DiscoverError>,
) {
    match yaml::read_documents(tree, file) {
        Ok(docs) => {
            let origin = PathBuf::from(tree.rel(&tree.root().join(file)));
            for doc in docs.iter().filter(|d| is_kustomization(d)) {
                match from_object(doc, Origin::File(origin.clone()), "flux-system") {
                    Ok(k) => found.push(k),
                    Err(e) => errors.push(e),
                }
            }
            for doc in docs.iter().filter(|d| artifact::is_generator(d)) {
                match artifact::from_object(doc, "flux-system") {
                    Ok(g) => generators.push(g),
                    Err(e) => errors.push(DiscoverError::Generator(format!(
                        "{}: {e}",
                        origin.display()
                    ))),
                }
            }
        }
        Err(e) => errors.push(e.into()),
    }
}

/// Keeps the Kustomizations named in `names` (`name` or `namespace/name`);
/// all of them when `names` is empty. A name that matches nothing is an error.
pub fn select(
    all: Vec<Kustomization>,
    names: &[String],
) -> Result<Vec<Kustomization>, DiscoverError> {
    if names.is_empty() {
        return Ok(all);
    }
    for wanted in names {
        if !all.iter().any(|k| matches_name(k, wanted)) {
            let known = all
                .iter()
                .map(Kustomization::id)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DiscoverError::NotFound(wanted.clone(), known));
        }
    }
    Ok(all
        .into_iter()
        .filter(|k| names.iter().any(|n| matches_name(k, n)))
        .collect())
}

fn matches_name(k: &Kustomization, wanted: &str) -> bool {
    match wanted.split_once('/') {
        Some((ns, name)) => k.namespace == ns && k.name == name,
        None => k.name == wanted,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ks(name: &str, path: Value) -> Object {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "flux-system"},
               "spec": {"path": path, "sourceRef": {"kind": "GitRepository", "name": "infra"}}})
    }

    #[test]
    fn one_malformed_kustomization_is_one_issue_and_the_others_are_checked() {
        // Regression: `spec.path: [..]` on one live Kustomization stopped all of them.
        let live = vec![
            ks("apps", json!("./apps")),
            ks("broken", json!(["./x"])),
            ks("infra", json!("./infra")),
        ];
        let Outcome {
            value: found,
            issues,
            ..
        } = discover::<std::io::Error>(Ok(live), Path::new("."), &Options::default());
        let names: Vec<_> = found.selected.iter().map(Kustomization::id).collect();
        assert_eq!(names, ["flux-system/apps", "flux-system/infra"]);
        assert_eq!(found.broken, ["flux-system/broken"]);
        assert!(!found.incomplete);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0]
                .message
                .starts_with("live state: Kustomization broken: spec:"),
            "{}",
            issues[0].message
        );
    }

    fn kustomization(name: &str, ignore: Value) -> Object {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "flux-system"},
               "spec": {"path": format!("./{name}"), "sourceRef": {"kind": "GitRepository", "name": "infra"},
                        "ignore": ignore}})
    }

    #[test]
    fn reads_spec_ignore_with_unknown_target_fields_pruned() {
        let object = kustomization(
            "apps",
            json!([{"paths": ["/spec/replicas"], "target": {"kind": "Deployment", "labelSelector": "app=web", "owner": "x"}},
                   {"paths": ["/webhooks/0/clientConfig/caBundle"]}]),
        );
        let ks = from_object(&object, Origin::Live, "flux-system").unwrap();
        assert_eq!(
            ks.spec.ignore,
            vec![
                crate::flux::IgnoreRule {
                    paths: vec!["/spec/replicas".into()],
                    target: Some(crate::flux::Selector {
                        kind: Some("Deployment".into()),
                        label_selector: Some("app=web".into()),
                        ..Default::default()
                    }),
                },
                crate::flux::IgnoreRule {
                    paths: vec!["/webhooks/0/clientConfig/caBundle".into()],
                    target: None,
                },
            ]
        );
    }

    #[test]
    fn a_rule_that_does_not_compile_is_an_issue_and_every_kustomization_is_still_checked() {
        let live: Result<Vec<Object>, std::io::Error> = Ok(vec![
            kustomization(
                "apps",
                json!([{"paths": ["/spec/replicas"]}, {"paths": ["/x"], "target": {"kind": "Deploy("}}]),
            ),
            kustomization("docs", json!([{"paths": ["/spec/replicas"]}])),
        ]);
        let Outcome {
            value: found,
            issues,
            ..
        } = discover(live, Path::new("."), &Options::default());
        assert!(issues.is_empty(), "{issues:?}");
        let names: Vec<String> = found.selected.iter().map(Kustomization::id).collect();
        assert_eq!(names, ["flux-system/apps", "flux-system/docs"]);
        // The pipeline asks classify, which compiles the rules, right after discovery.
        let issues = crate::classify::flux_ignore_issues(&found.selected);
        assert_eq!(issues.len(), 1, "{issues:?}");
        let issue = &issues[0];
        assert_eq!(
            (issue.kustomization.as_deref(), issue.stage),
            (Some("flux-system/apps"), Stage::Discover)
        );
        assert!(
            issue
                .message
                .starts_with("spec.ignore[1].target.kind: invalid regular expression \"Deploy(\""),
            "{}",
            issue.message
        );
    }

    #[test]
    fn a_kustomization_applying_to_another_cluster_is_checked_there() {
        let mut object = ks("remote", json!("./remote"));
        object["spec"]["kubeConfig"] = json!({"secretRef": {"name": "edge-kubeconfig"}});
        let Outcome { value: found, .. } =
            discover::<std::io::Error>(Ok(vec![object]), Path::new("."), &Options::default());
        let (checked, skipped) = found.partition();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(checked[0].id(), "flux-system/remote");
    }

    #[test]
    fn a_kustomization_of_any_kind_of_source_is_checked() {
        let object = |name: &str, kind: &str| {
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "flux-system"},
               "spec": {"path": "./", "sourceRef": {"kind": kind, "name": "apps"}}})
        };
        let Outcome {
            value: found,
            issues,
            ..
        } = discover::<std::io::Error>(
            Ok(vec![
                object("oci", "OCIRepository"),
                object("bucket", "Bucket"),
                ks("infra", json!("./infra")),
            ]),
            Path::new("."),
            &Options::default(),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let (checked, skipped) = found.partition();
        assert_eq!(
            checked.iter().map(|k| k.id()).collect::<Vec<_>>(),
            ["flux-system/bucket", "flux-system/infra", "flux-system/oci"]
        );
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_null_map_or_list_field_reads_as_absent_as_flux_reads_it() {
        // Regression: `postBuild:\n  substitute:` with nothing after it (as
        // public repos write it) failed "invalid type: null, expected a map".
        let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef:\n    kind: GitRepository\n    name: infra\n  patches:\n  images:\n  components:\n  commonMetadata:\n    labels:\n  postBuild:\n    substitute:\n    substituteFrom:\n  ignore:\n  targetNamespace:\nstatus:\n  conditions:\n  inventory:\n    entries:\n";
        let object = crate::yaml::documents(text, std::path::Path::new("apps.yaml"))
            .unwrap()
            .remove(0);
        let ks = from_object(&object, Origin::File("apps.yaml".into()), "flux-system").unwrap();
        assert_eq!(ks.spec.path, "./apps");
        assert_eq!(ks.spec.post_build, Some(crate::flux::PostBuild::default()));
        assert_eq!(ks.spec.common_metadata, Some(Default::default()));
        assert_eq!(ks.spec.target_namespace, None);
        assert!(ks.spec.patches.is_empty() && ks.spec.images.is_empty());
        assert_eq!(ks.status.inventory, Some(Default::default()));
        assert!(ks.status.conditions.is_empty());
    }
}
