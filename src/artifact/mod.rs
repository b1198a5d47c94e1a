//! Artifacts composed by Flux's source-watcher (Flux 2.7+): an
//! `ArtifactGenerator` (`source.extensions.fluxcd.io/v1beta1`) copies paths
//! of its sources into `ExternalArtifact`s, which Kustomizations name as
//! their `sourceRef`.
//!
//! Input: the generators (live state, or the repo's manifests) and a
//! Kustomization whose source is an `ExternalArtifact`. Output: which
//! generator's artifact it is, when drift-check can rebuild it from the
//! infra repo's checkout (every source of the generator is that
//! GitRepository), or why not; and the tree, composed in a temporary
//! directory by the generator's copy rules ([`copy`]), to render from.

mod copy;
mod glob;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

pub use copy::CopyError;

use crate::files::{Limits, Tree};
use crate::flux::Kustomization;
use crate::k8s::object::{self, Object};

pub use crate::flux::kinds::artifact::{GROUP, KIND, VERSION};
/// The kind a Kustomization's `sourceRef` names for a generated artifact.
pub const EXTERNAL_ARTIFACT: &str = "ExternalArtifact";

/// Whether an object is a source-watcher ArtifactGenerator (any version of the group).
pub fn is_generator(object: &Object) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(KIND)
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with(&format!("{GROUP}/")))
}

/// An `ArtifactGenerator`: its sources and the artifacts it composes.
#[derive(Clone, Debug, PartialEq)]
pub struct ArtifactGenerator {
    pub namespace: String,
    pub name: String,
    pub spec: GeneratorSpec,
}

/// `spec` of an ArtifactGenerator (fluxcd/source-watcher
/// `api/v1beta1/artifactgenerator_types.go`); `commonMetadata` does not
/// change the files and is ignored.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorSpec {
    pub sources: Vec<SourceReference>,
    /// Templated artifact names (one artifact per matching directory).
    pub path_pattern: Option<String>,
    pub artifacts: Vec<OutputArtifact>,
}

/// `spec.sources[]`: a Flux source, named by `alias` in copy rules.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceReference {
    pub alias: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `spec.artifacts[]`: one ExternalArtifact (named `name`, in the
/// generator's namespace) and how its files are copied.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutputArtifact {
    pub name: String,
    pub copy: Vec<CopyOperation>,
}

/// One copy rule: `from: "@alias/glob"`, `to: "@artifact/dest/"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CopyOperation {
    pub from: String,
    pub to: String,
    pub exclude: Vec<String>,
    /// `Overwrite` (the default), `Merge` (YAML values), `Extract` (tarballs).
    pub strategy: Option<String>,
}

/// Reads one ArtifactGenerator object; `default_namespace` applies when the
/// manifest names none. The error says what is wrong with its spec.
pub fn from_object(object: &Object, default_namespace: &str) -> Result<ArtifactGenerator, String> {
    let name = object::name(object).unwrap_or("").to_string();
    if name.is_empty() {
        return Err("ArtifactGenerator <unnamed>: metadata.name is missing".into());
    }
    let namespace = object::namespace(object)
        .unwrap_or(default_namespace)
        .to_string();
    let spec = object::from_value(object.get("spec").unwrap_or(&Value::Null))
        .map_err(|e| format!("ArtifactGenerator {namespace}/{name}: spec: {e}"))?;
    Ok(ArtifactGenerator {
        namespace,
        name,
        spec,
    })
}

/// The generator and artifact a Kustomization's `ExternalArtifact` source
/// is, when drift-check can compose it, or why it cannot (the
/// Kustomization is then skipped with that reason). Its sources may be of
/// any kind: each is fetched as the cluster names it (see
/// [`crate::source::set`]).
pub fn resolve<'a>(
    ks: &Kustomization,
    generators: &'a [ArtifactGenerator],
) -> Result<(&'a ArtifactGenerator, &'a OutputArtifact), String> {
    let namespace = ks.source_namespace();
    let name = &ks.spec.source_ref.name;
    let found = generators
        .iter()
        .filter(|g| g.namespace == namespace)
        .find_map(|g| Some((g, g.spec.artifacts.iter().find(|a| a.name == *name)?)));
    let Some((generator, artifact)) = found else {
        return Err(format!(
            "its source ExternalArtifact/{namespace}/{name} is made by no ArtifactGenerator drift-check knows (none in the live state or --kustomizations-dir lists an artifact {name} in {namespace}): drift-check cannot tell what it holds"
        ));
    };
    let id = format!(
        "ArtifactGenerator/{}/{}",
        generator.namespace, generator.name
    );
    if generator.spec.path_pattern.is_some() {
        return Err(format!(
            "its source ExternalArtifact/{namespace}/{name} is made by {id} with spec.pathPattern, which drift-check does not compose"
        ));
    }
    if let Some(strategy) = artifact
        .copy
        .iter()
        .filter_map(|c| c.strategy.as_deref())
        .find(|s| *s != "Overwrite")
    {
        return Err(format!(
            "its source ExternalArtifact/{namespace}/{name} is made by {id} with copy strategy {strategy}, which drift-check does not compose (only Overwrite)"
        ));
    }
    Ok((generator, artifact))
}

/// Composing an artifact failed: source-watcher would fail on it too.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The temporary directory or the checkout cannot be opened.
    #[error("ExternalArtifact {artifact}: cannot compose it from its sources")]
    Io {
        artifact: String,
        #[source]
        source: std::io::Error,
    },
    /// drift-check cannot compose it (see [`resolve`]): `render` names
    /// the reason `check` skips it for.
    #[error("cannot compose its source: {0}")]
    NotComposable(String),
    /// A copy rule of the generator failed.
    #[error("ExternalArtifact {artifact} of {generator}")]
    Copy {
        artifact: String,
        generator: String,
        #[source]
        source: Box<CopyError>,
    },
}

/// The sources of a generator: each alias with its kind, namespace, name.
pub fn inputs(generator: &ArtifactGenerator) -> Vec<(String, (String, String, String))> {
    generator
        .spec
        .sources
        .iter()
        .map(|s| {
            (
                s.alias.clone(),
                (
                    s.kind.clone(),
                    s.namespace
                        .clone()
                        .unwrap_or_else(|| generator.namespace.clone()),
                    s.name.clone(),
                ),
            )
        })
        .collect()
}

/// Composes `artifact` of `generator` from the trees of its sources
/// (`roots`, by alias), reading within `limits`, in a temporary directory
/// removed when dropped.
pub fn compose(
    roots: &BTreeMap<String, PathBuf>,
    generator: &ArtifactGenerator,
    artifact: &OutputArtifact,
    limits: Limits,
) -> Result<tempfile::TempDir, ComposeError> {
    let id = format!("{}/{}", generator.namespace, artifact.name);
    let io = |source| ComposeError::Io {
        artifact: id.clone(),
        source,
    };
    let mut trees = BTreeMap::new();
    for (alias, root) in roots {
        trees.insert(
            alias.clone(),
            Tree::confined(root, "the source", limits).map_err(io)?,
        );
    }
    let staging = tempfile::Builder::new()
        .prefix("drift-check-artifact-")
        .tempdir()
        .map_err(io)?;
    copy::apply(&trees, &artifact.copy, staging.path()).map_err(|source| ComposeError::Copy {
        artifact: id.clone(),
        generator: format!(
            "ArtifactGenerator/{}/{}",
            generator.namespace, generator.name
        ),
        source: Box::new(source),
    })?;
    tracing::info!(artifact = %id, generator = %generator.name, "Composed the artifact from its sources");
    Ok(staging)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discover::from_object as ks_from_object;
    use crate::flux::Origin;

    fn generator(sources: Value) -> ArtifactGenerator {
        from_object(
            &json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                    "metadata": {"name": "apps", "namespace": "flux-system"},
                    "spec": {"sources": sources,
                             "artifacts": [{"name": "apps-prod", "copy": [{"from": "@repo/apps/**", "to": "@artifact/"}]}]}}),
            "flux-system",
        )
        .unwrap()
    }

    fn ks(artifact: &str) -> Kustomization {
        ks_from_object(
            &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": "apps", "namespace": "flux-system"},
                    "spec": {"path": "./prod", "sourceRef": {"kind": "ExternalArtifact", "name": artifact}}}),
            Origin::Live,
            "flux-system",
        )
        .unwrap()
    }

    #[test]
    fn an_artifact_of_sources_of_any_kind_is_composed_from_each_alias() {
        let generators = [generator(json!([
            {"alias": "repo", "kind": "GitRepository", "name": "infra"},
            {"alias": "charts", "kind": "OCIRepository", "name": "charts", "namespace": "apps"}
        ]))];
        let (g, a) = resolve(&ks("apps-prod"), &generators).unwrap();
        assert_eq!((g.name.as_str(), a.name.as_str()), ("apps", "apps-prod"));
        assert_eq!(
            inputs(g),
            [
                (
                    "repo".to_string(),
                    ("GitRepository".into(), "flux-system".into(), "infra".into())
                ),
                (
                    "charts".to_string(),
                    ("OCIRepository".into(), "apps".into(), "charts".into())
                )
            ]
        );
        assert_eq!(
            resolve(&ks("other"), &generators).unwrap_err(),
            "its source ExternalArtifact/flux-system/other is made by no ArtifactGenerator drift-check knows (none in the live state or --kustomizations-dir lists an artifact other in flux-system): drift-check cannot tell what it holds"
        );
    }

    #[test]
    fn each_copy_rule_reads_the_tree_of_its_alias() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [("a/apps/x.yaml", "a: 1\n"), ("b/charts/y.yaml", "b: 2\n")] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let g = from_object(
            &json!({"kind": "ArtifactGenerator", "metadata": {"name": "g"},
                    "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "a"},
                                         {"alias": "oci", "kind": "OCIRepository", "name": "b"}],
                             "artifacts": [{"name": "out", "copy": [
                                 {"from": "@repo/apps/x.yaml", "to": "@artifact/"},
                                 {"from": "@oci/charts/**", "to": "@artifact/charts/"}]}]}}),
            "flux-system",
        )
        .unwrap();
        let roots = BTreeMap::from([
            ("repo".to_string(), dir.path().join("a")),
            ("oci".to_string(), dir.path().join("b")),
        ]);
        let out = compose(&roots, &g, &g.spec.artifacts[0], Limits::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("x.yaml")).unwrap(),
            "a: 1\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.path().join("charts/y.yaml")).unwrap(),
            "b: 2\n"
        );
    }

    #[test]
    fn a_null_map_or_list_field_of_an_artifact_generator_reads_as_absent() {
        let text = "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: apps\nspec:\n  sources:\n  - alias: repo\n    kind: GitRepository\n    name: infra\n  artifacts:\n  - name: apps-prod\n    copy:\n    - from: \"@repo/apps/**\"\n      to: \"@artifact/\"\n      exclude:\n";
        let object = crate::yaml::documents(text, std::path::Path::new("gen.yaml"))
            .unwrap()
            .remove(0);
        let g = from_object(&object, "flux-system").unwrap();
        assert_eq!(g.spec.artifacts[0].copy[0].from, "@repo/apps/**");
        assert!(g.spec.artifacts[0].copy[0].exclude.is_empty());
        assert_eq!(g.spec.path_pattern, None);
    }
}
