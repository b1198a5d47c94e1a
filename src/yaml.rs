//! YAML reading shared by every stage: one parser configuration, errors that
//! name the file and line but never quote the document (it may be a Secret).
//!
//! serde-saphyr is the YAML crate (see README, "Why serde-saphyr"). It is set to
//! read numbers the way kubectl does: `0644` is the octal `420`, `"8080"` stays a
//! string and `8080` an integer. Its budgets come from [`Limits`]: sized for a
//! 100,000-object dump in one file, and a breach is one error naming the file,
//! the limit and the config key that raises it.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::files::{FileError, Limits, Tree};

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
    /// A file the operator named is not a regular file, or is too large.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A file of a tree (the repo, a snapshot) was refused or could not be
    /// read; the error names it relative to the tree's root.
    #[error(transparent)]
    Tree(FileError),
}

/// A YAML dialect: how scalars and repeated keys are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// As kubectl reads a manifest or a dump: `0644` is octal, a repeated
    /// key is an error.
    #[default]
    Kubectl,
    /// kyaml, as kustomize reads resources: only `true`/`false` are booleans.
    Kyaml,
    /// sigs.k8s.io/yaml, as kustomize reads a kustomization file: YAML 1.1
    /// booleans, a repeated key keeps its last value.
    SigsYaml,
}

/// The parser options: the dialect, and budgets from `limits` (the nodes
/// and documents of one file; events and scalar bytes follow from them and
/// from the file size, so the limits named in messages are the ones that
/// bind).
pub fn options(dialect: Dialect, limits: &Limits) -> serde_saphyr::options::Options {
    let mut options = serde_saphyr::options::Options::default();
    options.legacy_octal_numbers = true;
    match dialect {
        Dialect::Kubectl => {}
        Dialect::Kyaml => options.strict_booleans = true,
        Dialect::SigsYaml => {
            options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::LastWins;
        }
    }
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = limits.yaml_nodes;
    budget.max_documents = limits.yaml_documents;
    // Every node is at most a start and an end event; each document two more.
    budget.max_events = limits
        .yaml_nodes
        .saturating_mul(2)
        .saturating_add(limits.yaml_documents.saturating_mul(2))
        .saturating_add(16);
    budget.max_total_scalar_bytes = usize::try_from(limits.file_bytes).unwrap_or(usize::MAX);
    budget.max_reader_input_bytes = None;
    options.budget = Some(budget);
    options
}

/// Renders a parser error on one line, without the source snippet (so no
/// value of the document, a Secret's say, can reach a message) and without
/// hints about the library's options: a breached budget names the limit
/// and the config key that raises it.
pub fn message(error: &serde_saphyr::Error, limits: &Limits) -> String {
    use serde_saphyr::budget::BudgetBreach;
    let mut error = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error: inner, .. } = error {
        error = inner.without_snippet();
    }
    let at = |location: &serde_saphyr::Location| match location.line() {
        0 => String::new(),
        line => format!("line {line} column {}: ", location.column()),
    };
    match error {
        serde_saphyr::Error::Budget { breach, location } => {
            let what = match breach {
                BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => format!(
                    "more than {} YAML nodes in one file (raise it with limits.yamlNodes in the config file)",
                    limits.yaml_nodes
                ),
                BudgetBreach::Documents { .. } => format!(
                    "more than {} YAML documents in one file (raise it with limits.yamlDocuments in the config file)",
                    limits.yaml_documents
                ),
                BudgetBreach::ScalarBytes { .. } => format!(
                    "more than {} bytes of YAML values in one file (raise it with limits.fileBytes in the config file)",
                    limits.file_bytes
                ),
                BudgetBreach::Depth { .. } => "YAML nested more than 64 levels deep".to_string(),
                other => format!("YAML too large or too repetitive ({other:?})"),
            };
            format!("{}{what}", at(location))
        }
        serde_saphyr::Error::DuplicateMappingKey { key, location } => match key {
            Some(key) => format!("{}duplicate mapping key {key:?}", at(location)),
            None => format!("{}duplicate mapping key", at(location)),
        },
        other => other.to_string(),
    }
}

/// Parses every document of a YAML stream; empty documents are skipped.
pub fn documents(text: &str, path: &Path) -> Result<Vec<Value>, YamlError> {
    documents_within(text, path, &Limits::default())
}

/// [`documents`] within `limits`.
pub fn documents_within(text: &str, path: &Path, limits: &Limits) -> Result<Vec<Value>, YamlError> {
    serde_saphyr::from_multiple_with_options::<Value>(text, options(Dialect::Kubectl, limits))
        .map_err(|e| YamlError::Parse {
            path: path.to_path_buf(),
            message: message(&e, limits),
        })
}

/// Parses one YAML document into `T`.
pub fn document<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, YamlError> {
    let limits = Limits::default();
    serde_saphyr::from_str_with_options::<T>(text, options(Dialect::Kubectl, &limits)).map_err(
        |e| YamlError::Parse {
            path: path.to_path_buf(),
            message: message(&e, &limits),
        },
    )
}

/// Reads a file holding one YAML document into `T` (a config file: the
/// operator's, read with the default limits).
pub fn read_document<T: DeserializeOwned>(path: &Path) -> Result<T, YamlError> {
    let text = read_bounded(path, Limits::default().file_bytes)?;
    document(&text, path)
}

/// Reads a file the operator named, refusing what is not a regular file and
/// bounding the read.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<String, YamlError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let tree = Tree::open(
        dir.unwrap_or(Path::new(".")),
        "its directory",
        Limits {
            file_bytes: limit,
            ..Limits::default()
        },
    )
    .map_err(|source| YamlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.file_name().map(Path::new).unwrap_or(path);
    tree.read_text(name).map_err(|e| YamlError::File {
        path: path.to_path_buf(),
        reason: e.reason(),
    })
}

/// Reads a file of `tree` and parses every YAML document in it, within the
/// tree's limits. Errors name the file relative to the tree's root.
pub fn read_documents(tree: &Tree, path: &Path) -> Result<Vec<Value>, YamlError> {
    let text = tree.read_text(path).map_err(YamlError::Tree)?;
    let shown = PathBuf::from(tree.rel(&tree.root().join(path)));
    documents_within(&text, &shown, tree.limits())
}

/// [`read_documents`], each document read as a `T`, parsed as the file is
/// read (the file's text is never held whole: a snapshot's 100,000-object
/// dump is as large as the objects it holds). Any document that fails fails
/// the file. The parser's budgets bound each document of the stream; the
/// number of documents is bounded here, per file.
pub fn read_documents_as<T: DeserializeOwned>(
    tree: &Tree,
    path: &Path,
) -> Result<Vec<T>, YamlError> {
    let mut reader = tree.open_stream(path).map_err(YamlError::Tree)?;
    let shown = PathBuf::from(tree.rel(&tree.root().join(path)));
    let limits = tree.limits();
    let mut documents = Vec::new();
    let mut failed = None;
    for document in
        serde_saphyr::read_with_options::<_, T>(&mut reader, options(Dialect::Kubectl, limits))
    {
        match document {
            Ok(_) if documents.len() == limits.yaml_documents => {
                failed = Some(format!(
                    "more than {} YAML documents in one file (raise it with limits.yamlDocuments in the config file)",
                    limits.yaml_documents
                ));
                break;
            }
            Ok(document) => documents.push(document),
            Err(e) => {
                failed = Some(message(&e, limits));
                break;
            }
        }
    }
    if reader.exceeded() {
        return Err(YamlError::Tree(reader.too_large()));
    }
    match failed {
        Some(message) => Err(YamlError::Parse {
            path: shown,
            message,
        }),
        None => Ok(documents),
    }
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

    #[test]
    fn a_breached_budget_names_the_limit_and_its_key_and_nothing_of_the_library() {
        let limits = Limits {
            yaml_nodes: 5,
            yaml_documents: 2,
            ..Limits::default()
        };
        let path = Path::new("big.yaml");
        let error = |text: &str| {
            documents_within(text, path, &limits)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("a: [1, 2, 3, 4, 5]\n"),
            "big.yaml: line 1 column 11: more than 5 YAML nodes in one file (raise it with limits.yamlNodes in the config file)"
        );
        assert_eq!(
            error("1\n---\n2\n---\n3\n"),
            "big.yaml: line 4 column 1: more than 2 YAML documents in one file (raise it with limits.yamlDocuments in the config file)"
        );
        assert_eq!(
            error("a: 1\na: 2\n"),
            "big.yaml: line 2 column 1: duplicate mapping key \"a\""
        );
    }
}
