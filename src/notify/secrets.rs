//! Secrets of the sinks: from an environment variable, from the file a
//! `*_FILE` variable names, or from the file a config key names (a mounted
//! Kubernetes Secret). Never from flags or the config file itself, never
//! logged: [`Secret`] prints as `***`. Shared by every sink.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value; its `Debug` and `Display` print `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The value, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Both `NAME` and `NAME_FILE` are set.
    #[error("both {name} and {name}_FILE are set: set one")]
    Both { name: String },
    /// The file named by `NAME_FILE` cannot be read.
    #[error("{name}_FILE={}: cannot read it", path.display())]
    File {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file a config key names (e.g. `notify.webhook.bearerTokenFile`) cannot be read.
    #[error("{key} {}: cannot read it", path.display())]
    KeyFile {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("{name} is empty")]
    Empty { name: String },
}

/// `NAME`, or the contents of the file `NAME_FILE` (trailing newline dropped); `None` when neither is set.
pub fn from_env(name: &str) -> Result<Option<Secret>, SecretError> {
    let direct = std::env::var(name).ok();
    let file = std::env::var_os(format!("{name}_FILE")).map(PathBuf::from);
    let value = match (direct, file) {
        (Some(_), Some(_)) => return Err(SecretError::Both { name: name.into() }),
        (Some(v), None) => v,
        (None, Some(path)) => {
            std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                name: name.into(),
                path,
                source,
            })?
        }
        (None, None) => return Ok(None),
    };
    nonempty(name, &value).map(Some)
}

/// The contents of the file the config key `key` names, trailing newline dropped.
pub fn from_file(key: &'static str, path: &Path) -> Result<Secret, SecretError> {
    let value = std::fs::read_to_string(path).map_err(|source| SecretError::KeyFile {
        key,
        path: path.to_path_buf(),
        source,
    })?;
    nonempty(&format!("{key} {}", path.display()), &value)
}

fn nonempty(name: &str, value: &str) -> Result<Secret, SecretError> {
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(SecretError::Empty { name: name.into() });
    }
    Ok(Secret(value))
}
