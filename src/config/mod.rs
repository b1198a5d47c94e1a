//! Configuration by layers — defaults < the config file < `DRIFT_CHECK_*`
//! environment variables < flags — validated into each stage's settings
//! before any I/O.
//!
//! Two steps, as the style guide asks: [`file`] reads the file as written
//! (unknown keys and wrong types rejected with their line); [`layers`] merges
//! it with the defaults, the environment and the flags (figment), and each
//! stage's part is validated from the merged layers by key ([`source`],
//! [`cluster`], [`stages`]), an error naming the layer the bad value came
//! from ([`ConfigError`]). Relative paths in the file are relative to the
//! file's directory; on the command line, to the current directory.

mod cluster;
mod error;
pub mod file;
pub mod layers;
mod source;
mod stages;

use std::time::Duration;

pub use error::ConfigError;
pub use file::{FileConfig, LimitsConfig, SourcesConfig};
pub use layers::{Layer, Origin};

pub use crate::bounds::Validated;
use crate::bounds::{self, Range};
use crate::cli::CommonArgs;
use crate::diff::DiffMode;
use crate::pipeline::Settings;
use crate::report::Format;
use layers::Layers;

/// A commented config file with every key (`drift-check config example`).
pub const EXAMPLE: &str = include_str!("example.yaml");

/// The layered configuration: the pipeline's settings (each stage's part
/// validated by that stage) and how to print the report.
#[derive(Clone, Debug)]
pub struct Config {
    /// What the pipeline takes: each stage's part validated.
    pub settings: Validated<Settings>,
    pub output: Format,
    /// The clusters of the run; `None`: the one cluster of the settings.
    pub fleet: Option<crate::fleet::Fleet>,
}

impl Config {
    /// Layers flags (and their environment variables) over the config file
    /// over the defaults, then has each stage validate its part. Reads only
    /// the config file.
    pub fn load(
        args: &CommonArgs,
        output: Option<Format>,
        diff_mode: Option<DiffMode>,
    ) -> Result<Self, ConfigError> {
        Ok(Self::validate(args, output, diff_mode)?.into_inner())
    }

    /// [`Config::load`], the result marked validated.
    pub fn validate(
        args: &CommonArgs,
        output: Option<Format>,
        diff_mode: Option<DiffMode>,
    ) -> Result<Validated<Self>, ConfigError> {
        let file = file::Read::from(args.config.as_deref()).map_err(ConfigError::File)?;
        let (env, flags) = layers::command_line(given(args, output, diff_mode), &args.from_env);
        let layers = Layers::new(
            layers::defaults(crate::fleet::default_in_flight().min(256)),
            file.value
                .as_ref()
                .map(|(path, value)| (path.as_path(), value.clone())),
            env,
            flags,
        );
        Self::from_layers(args, &file, &layers)
    }

    /// Each stage's part of the `layers` (`file` for the file-only sections,
    /// `args` for the repos and clusters).
    fn from_layers(
        args: &CommonArgs,
        file: &file::Read,
        layers: &Layers,
    ) -> Result<Validated<Self>, ConfigError> {
        let limits = stages::limits(layers)?;
        let (source, sources) = source::validate(layers, file, args)?;
        let live = cluster::live(layers, args, file, limits)?;
        let (fleet, cluster) = cluster::fleet(layers, args, file, &live)?;
        let diff = stages::diff(layers)?;
        Ok(Validated::new(Self {
            settings: Validated::new(Settings {
                cluster,
                source,
                sources,
                discover: stages::discover(layers, limits)?,
                render: stages::render(layers, limits)?,
                live,
                diff,
                classify: stages::classify(layers, file, args)?,
                helm: stages::helm(layers, file)?,
                notify: file.config.notify.validate(&file.base())?,
            }),
            output: layers.require("output")?.0,
            fleet,
        }))
    }
}

/// What clap read, by field: `args`' settings, `-o` and `--diff-mode`.
fn given(
    args: &CommonArgs,
    output: Option<Format>,
    diff_mode: Option<DiffMode>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = match serde_json::to_value(args) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let name = |names: &[&'static str], is: &dyn Fn(&str) -> bool| {
        names.iter().copied().find(|n| is(n)).map(Into::into)
    };
    if let Some(f) = output {
        fields.extend(name(&Format::NAMES, &|n| n.parse() == Ok(f)).map(|n| ("output".into(), n)));
    }
    if let Some(m) = diff_mode {
        fields.extend(
            name(&DiffMode::NAMES, &|n| n.parse() == Ok(m)).map(|n| ("diff_mode".into(), n)),
        );
    }
    fields
}

/// A timeout in seconds from the layers, within [`Range::SECONDS`].
fn seconds(layers: &Layers, key: &str, example: &'static str) -> Result<Duration, ConfigError> {
    let (value, at) = layers.require::<u64>(key)?;
    Ok(bounds::seconds(value, at.to_string(), example)?)
}

/// A count from the layers, within `range`.
fn count(
    layers: &Layers,
    key: &str,
    range: Range,
    example: &'static str,
) -> Result<usize, ConfigError> {
    let (value, at) = layers.require::<u64>(key)?;
    Ok(bounds::count(value, range, at.to_string(), example)?)
}

#[cfg(test)]
mod layered;
#[cfg(test)]
mod tests;
