//! YAML reading shared by every stage: one parser configuration, errors that
//! name the file and line but never quote the document (it may be a Secret).
//!
//! serde-saphyr is the YAML crate (see README, "Why serde-saphyr"). It is set to
//! read numbers the way kubectl does: `0644` is the octal `420`, `"8080"` stays a
//! string and `8080` an integer.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A YAML document that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file could not be read from disk.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML, or does not have the expected shape. The
    /// message carries line and column but no snippet of the document.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

fn options() -> serde_saphyr::options::Options {
    let mut options = serde_saphyr::options::Options::default();
    options.legacy_octal_numbers = true;
    options
}

/// Renders a parser error without the source snippet, so no value of the
/// document (a Secret's, say) can reach a message.
fn message(error: &serde_saphyr::Error) -> String {
    error.without_snippet().to_string()
}

/// Parses every document of a YAML stream; empty documents are skipped.
pub fn documents(text: &str, path: &Path) -> Result<Vec<Value>, YamlError> {
    serde_saphyr::from_multiple_with_options::<Value>(text, options()).map_err(|e| {
        YamlError::Parse {
            path: path.to_path_buf(),
            message: message(&e),
        }
    })
}

/// Parses one YAML document into `T`.
pub fn document<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options::<T>(text, options()).map_err(|e| YamlError::Parse {
        path: path.to_path_buf(),
        message: message(&e),
    })
}

/// Reads a file and parses every YAML document in it.
pub fn read_documents(path: &Path) -> Result<Vec<Value>, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|source| YamlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    documents(&text, path)
}

/// Reads a file holding one YAML document into `T`.
pub fn read_document<T: DeserializeOwned>(path: &Path) -> Result<T, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|source| YamlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    document(&text, path)
}

/// The files under `dir` (recursively, in lexical order) whose extension is
/// one of `extensions`.
pub fn files_under(dir: &Path, extensions: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, extensions, out)?;
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, extensions, &mut out)?;
    Ok(out)
}

/// Serializes a value as YAML (for `drift-check render`).
pub fn to_string(value: &Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_quoted_numbers_as_strings_and_reads_octal_like_kubectl() {
        let docs = documents(
            "a: \"8080\"\nb: 8080\nmode: 0644\n---\n---\nc: 1\n",
            Path::new("x.yaml"),
        )
        .unwrap();
        assert_eq!(
            docs,
            vec![
                json!({"a": "8080", "b": 8080, "mode": 420}),
                json!({"c": 1})
            ]
        );
    }

    #[test]
    fn parse_errors_name_file_and_line_but_quote_nothing() {
        let err = documents(
            "a: 1\nb: [1, 2\npassword: hunter2\n",
            Path::new("secret.yaml"),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("secret.yaml: "), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
