//! The `source` stage's settings: the infra repo (`--repo X` or `repo:`),
//! the `--repo <namespace>/<name>=` overrides, git's branch, revision,
//! cache, Secret and timeout, and how Flux's other sources are fetched.

use std::path::PathBuf;

use super::file::Read;
use super::layers::Layers;
use super::{ConfigError, count, seconds};
use crate::bounds::Range;
use crate::cli::CommonArgs;
use crate::source::{self, Location};

/// The infra repo (`None`: every source from the cluster) and the options
/// of the other sources.
pub fn validate(
    layers: &Layers,
    file: &Read,
    args: &CommonArgs,
) -> Result<(Option<source::Options>, source::set::Options), ConfigError> {
    let (infra, overrides) = repos(args)?;
    let location = match infra {
        Some(location) => Some(location),
        None => file
            .config
            .repo
            .as_ref()
            .map(|repo| match Location::parse(repo) {
                Location::Dir(dir) => Location::Dir(file.base().join(dir)),
                url => url,
            }),
    };
    let timeout = seconds(layers, "gitTimeout", "`gitTimeout: 120`")?;
    let cache_dir = layers.path("cacheDir")?;
    let source = match location {
        None => None,
        Some(location) => Some(source::Options {
            location,
            branch: branch(layers)?,
            revision: revision(layers)?,
            cache_dir: cache_dir.clone(),
            secret_dir: layers.path("gitSecretDir")?,
            timeout,
        }),
    };
    let sources = source::set::Options {
        overrides,
        secret_dirs: secret_dirs(file)?,
        limits: source::fetch::FetchLimits {
            timeout,
            ..Default::default()
        },
        concurrency: count(
            layers,
            "sources.concurrency",
            Range::SOURCES,
            "`sources: {concurrency: 4}`",
        )?,
        cache_dir,
    };
    Ok((source, sources))
}

/// `--repo`: the infra repo (at most one), and the GitRepositories others
/// stand for.
fn repos(args: &CommonArgs) -> Result<(Option<Location>, Vec<source::set::Override>), ConfigError> {
    let mut overrides = Vec::new();
    let mut infra = None;
    for repo in &args.repo {
        let text = repo.to_string_lossy();
        match source::set::Override::parse(&text) {
            Some(o) => overrides.push(o),
            None if infra.is_none() => infra = Some(Location::parse(&text)),
            None => {
                return Err(ConfigError::SecondInfraRepo {
                    repo: text.into_owned(),
                });
            }
        }
    }
    Ok((infra, overrides))
}

/// The branch Flux follows: a name git accepts.
fn branch(layers: &Layers) -> Result<String, ConfigError> {
    let (branch, at) = layers.require::<String>("branch")?;
    if branch.is_empty() || branch.starts_with('-') || branch.contains("..") || branch.contains(' ')
    {
        return Err(ConfigError::Branch { at, branch });
    }
    Ok(branch)
}

/// The commit to check instead of the head: a full sha, or Flux's
/// `main@sha1:<sha>`.
fn revision(layers: &Layers) -> Result<Option<String>, ConfigError> {
    let Some((revision, at)) = layers.get::<String>("revision")? else {
        return Ok(None);
    };
    let sha = crate::flux::revision_commit(&revision);
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConfigError::Revision { at, revision });
    }
    Ok(Some(revision))
}

/// `sources.secretDirs`: `namespace/name` keys, directories relative to the file.
fn secret_dirs(file: &Read) -> Result<std::collections::BTreeMap<String, PathBuf>, ConfigError> {
    let base = file.base();
    file.config
        .sources
        .secret_dirs
        .iter()
        .map(|(id, dir)| match id.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                Ok((id.clone(), base.join(dir)))
            }
            _ => Err(ConfigError::SecretDirId {
                at: super::stages::in_file(file, "sources.secretDirs"),
                id: id.clone(),
            }),
        })
        .collect()
}
