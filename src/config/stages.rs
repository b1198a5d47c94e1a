//! The settings of the stages after the sources: the file limits (shared by
//! discover, render and live), `discover`, `render`, `diff`, `classify`,
//! Helm's and the sinks'. Each comes from the layers by key; the file-only
//! sections (`ignore`, `helm.types`, `notify`) from the file.

use std::path::PathBuf;

use super::file::Read;
use super::layers::{Layer, Layers, Origin};
use super::{ConfigError, count};
use crate::bounds::Range;
use crate::cli::CommonArgs;
use crate::diff::DiffMode;
use crate::files::Limits;

/// The largest `limits.fileBytes`: 4 GiB, eight times a 100,000-object
/// snapshot in one file.
const MAX_FILE_BYTES: u64 = 4 << 30;

/// How much one file may hold; each within its range (at most 4 GiB of one
/// file, a billion nodes, ten million documents).
pub fn limits(layers: &Layers) -> Result<Limits, ConfigError> {
    Ok(Limits {
        file_bytes: count(
            layers,
            "limits.fileBytes",
            Range::bytes(MAX_FILE_BYTES),
            "`limits: {fileBytes: 536870912}`",
        )? as u64,
        yaml_nodes: count(
            layers,
            "limits.yamlNodes",
            Range::count(1, 1_000_000_000),
            "`limits: {yamlNodes: 40000000}`",
        )?,
        yaml_documents: count(
            layers,
            "limits.yamlDocuments",
            Range::count(1, 10_000_000),
            "`limits: {yamlDocuments: 100000}`",
        )?,
    })
}

/// Which Kustomizations are checked.
pub fn discover(layers: &Layers, limits: Limits) -> Result<crate::discover::Options, ConfigError> {
    crate::discover::Options::new(
        layers.value::<PathBuf>("kustomizationsDir")?,
        layers.value("kustomizations")?.unwrap_or_default(),
        layers.value::<String>("source")?.as_deref(),
        limits,
    )
    .map_err(|source| ConfigError::Discover {
        at: layers.origin(match source {
            crate::discover::OptionsError::KustomizationsDir { .. } => "kustomizationsDir",
            crate::discover::OptionsError::Source(_) => "source",
        }),
        source,
    })
}

/// How the Kustomizations are built.
pub fn render(layers: &Layers, limits: Limits) -> Result<crate::render::Options, ConfigError> {
    Ok(crate::render::Options {
        kustomize_bin: layers.path("kustomizeBin")?,
        strict_substitution: layers.require("strictSubstitution")?.0,
        sops_decrypt: layers.require("sopsDecrypt")?.0,
        limits,
    })
}

/// How renders are compared with the cluster: the mode (a server-side
/// dry-run needs a cluster) and the field managers of Flux and of people.
pub fn diff(layers: &Layers) -> Result<crate::diff::Options, ConfigError> {
    let (mode, at) = layers.require::<DiffMode>("diffMode")?;
    if mode == DiffMode::Server
        && let Some((_, snapshot)) = layers.get::<PathBuf>("liveSnapshot")?
    {
        return Err(ConfigError::ServerModeWithSnapshot { mode: at, snapshot });
    }
    crate::diff::Options::new(
        mode,
        layers.value("fluxManagers")?,
        layers.value("personManagers")?,
    )
    .map_err(|source| ConfigError::Pattern {
        at: layers.origin("personManagers"),
        source,
    })
}

/// The config's ignore rules and the controllers' field managers.
pub fn classify(
    layers: &Layers,
    file: &Read,
    args: &CommonArgs,
) -> Result<crate::classify::Rules, ConfigError> {
    crate::classify::Rules::new(&file.config.ignore, layers.value("controllerManagers")?).map_err(
        |source| ConfigError::Rule {
            path: args.config.clone().unwrap_or_default(),
            source,
        },
    )
}

/// What helm-controller deployed: `helm:` of the file, `releaseManifests`
/// layered.
pub fn helm(layers: &Layers, file: &Read) -> Result<crate::helm::Options, ConfigError> {
    let mut helm = file.config.helm.validate().map_err(ConfigError::Helm)?;
    helm.release_manifests = layers.require("helm.releaseManifests")?.0;
    Ok(helm)
}

/// The origin of a key of the file only.
pub fn in_file(file: &Read, key: &str) -> Origin {
    Origin {
        layer: Layer::File(
            file.value
                .as_ref()
                .map(|(p, _)| p.clone())
                .unwrap_or_default(),
        ),
        key: key.to_string(),
    }
}
