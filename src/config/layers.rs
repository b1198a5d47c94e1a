//! Configuration by layers: defaults < the config file < the environment <
//! flags, merged by figment, which remembers the layer each value came from.
//!
//! A setting is declared once, as a flag (`src/cli.rs`) with its
//! `DRIFT_CHECK_*` variable; its key in the config file follows from the
//! flag's field name (`git_timeout` is `gitTimeout`, `sources_concurrency` is
//! `sources.concurrency`), and its default is one line of [`defaults`]. clap
//! reads the flag or the variable (and notes which, see
//! [`crate::cli::Cli::parse_layered`]); the file is read by [`super::file`].
//! A value is asked for by key ([`Layers::get`]) and comes with its
//! [`Origin`], so an error names `--concurrency`, `DRIFT_CHECK_CONCURRENCY`
//! or `drift-check.yaml: concurrency` — whichever the person wrote.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::{Args, Command};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cli::CheckArgs;
use crate::files::Limits;

/// Where a value came from, lowest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layer {
    /// drift-check's default.
    Default,
    /// The config file (`--config`).
    File(PathBuf),
    /// A `DRIFT_CHECK_*` environment variable.
    Env,
    /// A flag on the command line.
    Flag,
}

impl Layer {
    /// The figment provider's name for the layer.
    fn name(&self) -> &'static str {
        match self {
            Layer::Default => "default",
            Layer::File(_) => "config file",
            Layer::Env => "environment",
            Layer::Flag => "command line",
        }
    }
}

/// A setting as the person wrote it: the layer and the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub layer: Layer,
    /// The config file's key, dotted below a section (`limits.fileBytes`).
    pub key: String,
}

impl fmt::Display for Origin {
    /// `--concurrency`, `DRIFT_CHECK_CONCURRENCY`, `c.yaml: concurrency`,
    /// or `concurrency (default)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let setting = setting(&self.key);
        match (&self.layer, setting) {
            (Layer::File(path), _) => write!(f, "{}: {}", path.display(), self.key),
            (Layer::Env, Some(Setting { env: Some(env), .. })) => f.write_str(env),
            (Layer::Flag, Some(s)) => write!(f, "--{}", s.flag),
            _ => write!(f, "{} (default)", self.key),
        }
    }
}

/// One setting of the command line: its config key, flag and variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The field of [`CommonArgs`] (or `output`, `diff_mode`).
    pub id: String,
    pub key: String,
    /// The long flag, without `--`.
    pub flag: String,
    pub env: Option<String>,
}

/// Every flag of `check` that is a setting, read from clap's definitions.
pub static SETTINGS: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    CheckArgs::augment_args(Command::new("check"))
        .get_arguments()
        .filter(|arg| !NOT_SETTINGS.contains(&arg.get_id().as_str()))
        .filter_map(|arg| {
            Some(Setting {
                id: arg.get_id().to_string(),
                key: key_path(arg.get_id().as_str()),
                flag: arg.get_long()?.to_string(),
                env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
            })
        })
        .collect()
});

/// Flags that are not settings of one key: which file to read, the repos and
/// clusters (read together with the fleet), where to write the page.
const NOT_SETTINGS: [&str; 7] = [
    "config",
    "repo",
    "cluster",
    "context",
    "all_contexts",
    "html_out",
    "from_env",
];

/// The sections whose keys have a flag: `--sources-concurrency` is
/// `sources.concurrency`.
const SECTIONS: [&str; 3] = ["sources", "limits", "helm"];

/// The config key of a flag's field: camelCase, dotted below a section.
pub fn key_path(id: &str) -> String {
    match id.split_once('_') {
        Some((section, rest)) if SECTIONS.contains(&section) => {
            format!("{section}.{}", camel(rest))
        }
        _ => camel(id),
    }
}

fn camel(snake: &str) -> String {
    let mut words = snake.split('_');
    let mut out = words.next().unwrap_or_default().to_string();
    for word in words {
        let mut chars = word.chars();
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        out.push_str(chars.as_str());
    }
    out
}

/// The setting of a config key.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Every default, as the config file would write it; `clusters_in_flight`
/// is the number of CPUs.
pub fn defaults(clusters_in_flight: u64) -> Value {
    let limits = Limits::default();
    json!({
        "branch": "main",
        "gitTimeout": 120,
        "requestTimeout": 30,
        "concurrency": 8,
        "clustersInFlight": clusters_in_flight,
        "strictSubstitution": true,
        "sopsDecrypt": false,
        "insecureKubeconfigExec": false,
        "insecureKubeconfigTls": false,
        "output": "text",
        "diffMode": "local",
        "sources": {"concurrency": 4},
        "limits": {
            "fileBytes": limits.file_bytes,
            "yamlNodes": limits.yaml_nodes,
            "yamlDocuments": limits.yaml_documents,
        },
        "helm": {"releaseManifests": false},
    })
}

/// A value of the merged layers that cannot be read as its setting's type.
#[derive(Debug, thiserror::Error)]
#[error("{origin}")]
pub struct LayerError {
    pub origin: Origin,
    #[source]
    pub source: Box<figment::Error>,
}

/// The four layers, merged.
#[derive(Debug)]
pub struct Layers {
    figment: Figment,
    file: Option<PathBuf>,
}

impl Layers {
    /// Merges `defaults` < `file` (its path and its text as a value) <
    /// `env` < `flags` (as the file would write them, see [`command_line`]).
    pub fn new(defaults: Value, file: Option<(&Path, Value)>, env: Value, flags: Value) -> Self {
        let mut figment = Figment::new().merge(Layered::new(Layer::Default, defaults));
        if let Some((path, value)) = &file {
            figment = figment.merge(Layered::new(
                Layer::File(path.to_path_buf()),
                without_nulls(value.clone()),
            ));
        }
        let figment = figment
            .merge(Layered::new(Layer::Env, env))
            .merge(Layered::new(Layer::Flag, flags));
        Self {
            figment,
            file: file.map(|(path, _)| path.to_path_buf()),
        }
    }

    /// The layer that gave `key` (the default's when no layer has it).
    pub fn origin(&self, key: &str) -> Origin {
        let layer = match self.figment.find_metadata(key).map(|m| m.name.as_ref()) {
            Some("config file") => Layer::File(self.file.clone().unwrap_or_default()),
            Some("environment") => Layer::Env,
            Some("command line") => Layer::Flag,
            _ => Layer::Default,
        };
        Origin {
            layer,
            key: key.to_string(),
        }
    }

    /// The value of `key` and where it came from; `None` when no layer sets it.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, Origin)>, LayerError> {
        if self.figment.find_value(key).is_err() {
            return Ok(None);
        }
        self.require(key).map(Some)
    }

    /// The value of a key with a default, and where it came from.
    pub fn require<T: DeserializeOwned>(&self, key: &str) -> Result<(T, Origin), LayerError> {
        let origin = self.origin(key);
        match self.figment.extract_inner::<T>(key) {
            Ok(value) => Ok((value, origin)),
            Err(source) => Err(LayerError {
                origin,
                source: Box::new(source),
            }),
        }
    }

    /// The value of `key`, `None` when no layer sets it.
    pub fn value<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, LayerError> {
        Ok(self.get(key)?.map(|(value, _)| value))
    }

    /// A path setting: relative to the config file's directory when the file
    /// gave it, else as given (relative to the current directory).
    pub fn path(&self, key: &str) -> Result<Option<PathBuf>, LayerError> {
        Ok(self
            .get::<PathBuf>(key)?
            .map(|(path, origin)| self.relative_to_file(&origin, path)))
    }

    /// `path` joined to the config file's directory when `origin` is the file.
    pub fn relative_to_file(&self, origin: &Origin, path: PathBuf) -> PathBuf {
        match &origin.layer {
            Layer::File(file) => file.parent().unwrap_or(Path::new("")).join(path),
            _ => path,
        }
    }
}

/// The settings clap read (by field), split into those of the environment
/// (`from_env`) and those of flags, each as the config file would write them.
pub fn command_line(
    given: serde_json::Map<String, Value>,
    from_env: &BTreeSet<String>,
) -> (Value, Value) {
    let (mut env, mut flags) = (json!({}), json!({}));
    for (id, value) in given.into_iter().filter(|(_, v)| !v.is_null()) {
        let layer = if from_env.contains(&id) {
            &mut env
        } else {
            &mut flags
        };
        insert(layer, &key_path(&id), value);
    }
    (env, flags)
}

/// Sets the dotted `key` of the object `into`.
fn insert(into: &mut Value, key: &str, value: Value) {
    match key.split_once('.') {
        Some((section, rest)) => insert(&mut into[section], rest, value),
        None => into[key] = value,
    }
}

/// `value` without its `null`s: in the file, `key: ~` is the key unset.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// One layer as a figment provider, named for its [`Layer`].
struct Layered {
    layer: Layer,
    data: Value,
}

impl Layered {
    fn new(layer: Layer, data: Value) -> Self {
        Self { layer, data }
    }
}

impl Provider for Layered {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.layer.name())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::value::Value::serialize(&self.data)?
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_names_its_key_camel_cased_and_dotted_below_a_section() {
        assert_eq!(key_path("git_timeout"), "gitTimeout");
        assert_eq!(key_path("sources_concurrency"), "sources.concurrency");
        assert_eq!(key_path("limits_file_bytes"), "limits.fileBytes");
        assert_eq!(key_path("helm_release_manifests"), "helm.releaseManifests");
        assert_eq!(key_path("concurrency"), "concurrency");
    }

    #[test]
    fn every_setting_has_a_flag_a_variable_and_a_default_or_none_on_purpose() {
        for s in SETTINGS.iter() {
            let env = s.env.as_deref().unwrap_or_default();
            assert_eq!(env, format!("DRIFT_CHECK_{}", s.id.to_uppercase()), "{s:?}");
        }
        let keys: Vec<_> = SETTINGS.iter().map(|s| s.key.as_str()).collect();
        for key in ["concurrency", "sources.concurrency", "output", "diffMode"] {
            assert!(keys.contains(&key), "{key} has no flag: {keys:?}");
        }
    }

    #[test]
    fn an_origin_names_the_flag_the_variable_or_the_file_and_key() {
        let at = |layer| {
            Origin {
                layer,
                key: "concurrency".into(),
            }
            .to_string()
        };
        assert_eq!(at(Layer::Flag), "--concurrency");
        assert_eq!(at(Layer::Env), "DRIFT_CHECK_CONCURRENCY");
        assert_eq!(at(Layer::File("d/c.yaml".into())), "d/c.yaml: concurrency");
        assert_eq!(at(Layer::Default), "concurrency (default)");
    }
}
