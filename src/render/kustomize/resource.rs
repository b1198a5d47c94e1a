//! Resources as the kustomize engine carries them: the object plus what the
//! engine must remember about it (where it came from, the names it had).
//!
//! Input: YAML documents of a resource file. Output: validated resources,
//! `List` kinds flattened.

use serde_json::Value;

use super::KustomizeError;

/// One object in a kustomize build.
#[derive(Clone, Debug)]
pub struct Resource {
    pub object: Value,
    /// The file it was read from (or the kustomization that generated it),
    /// relative to the source root.
    pub origin: String,
    /// Every (namespace, name) the object has had, oldest first, before its
    /// current one: name references to any of them are rewritten to the
    /// current name (kustomize's `FixBackReferences`).
    pub previous: Vec<(Option<String>, String)>,
    /// A generated ConfigMap/Secret whose name gets kustomize's hash suffix
    /// at the end of the build.
    pub needs_hash: bool,
    /// The `vars` whose values come from this object: (name, field path).
    pub vars: Vec<(String, String)>,
}

impl Resource {
    pub fn new(object: Value, origin: &str) -> Self {
        Self {
            object,
            origin: origin.to_string(),
            previous: Vec::new(),
            needs_hash: false,
            vars: Vec::new(),
        }
    }

    /// `Kind/namespace/name`, as a subject of an event names it.
    pub fn subject(&self) -> String {
        subject(&self.object)
    }

    /// The identity kustomize uses to detect duplicates: group, version,
    /// kind, namespace, name.
    pub fn id(&self) -> (String, String, Option<String>, String) {
        (
            api_version(&self.object).to_string(),
            kind(&self.object).to_string(),
            namespace(&self.object).map(str::to_string),
            name(&self.object).to_string(),
        )
    }

    /// Records the current (namespace, name) before the name or namespace
    /// changes.
    pub fn remember_name(&mut self) {
        let current = (
            namespace(&self.object).map(str::to_string),
            name(&self.object).to_string(),
        );
        if self.previous.last() != Some(&current) {
            self.previous.push(current);
        }
    }
}

/// `apiVersion`, `""` when absent.
pub fn api_version(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The API group of an object, `""` for core.
pub fn group(object: &Value) -> &str {
    crate::k8s::object::group_of(api_version(object))
}

/// `kind`, `""` when absent.
pub fn kind(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// `metadata.name`, `""` when absent.
pub fn name(object: &Value) -> &str {
    crate::k8s::object::name(object).unwrap_or("")
}

/// Sets `metadata.name`.
pub fn set_name(object: &mut Value, name: &str) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("name".into(), Value::String(name.into()));
    }
}

/// `metadata.namespace`, `None` when absent or empty.
pub fn namespace(object: &Value) -> Option<&str> {
    crate::k8s::object::namespace(object)
}

/// `Kind/namespace/name` or `Kind/name`.
pub fn subject(object: &Value) -> String {
    match namespace(object) {
        Some(ns) => format!("{}/{}/{}", kind(object), ns, name(object)),
        None => format!("{}/{}", kind(object), name(object)),
    }
}

/// Turns the documents of a resource file into resources: `List` kinds are
/// flattened, and every object must have `apiVersion`, `kind` and
/// `metadata.name`.
pub fn from_documents(documents: Vec<Value>, file: &str) -> Result<Vec<Resource>, KustomizeError> {
    let mut out = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        flatten(document, file, index + 1, &mut out)?;
    }
    Ok(out)
}

fn flatten(
    document: Value,
    file: &str,
    index: usize,
    out: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    let is_list =
        kind(&document).ends_with("List") && document.get("items").is_some_and(Value::is_array);
    if is_list {
        if let Some(Value::Array(items)) = document.get("items").cloned() {
            for item in items {
                flatten(item, file, index, out)?;
            }
        }
        return Ok(());
    }
    let missing = if !document.is_object() || api_version(&document).is_empty() {
        Some("apiVersion")
    } else if kind(&document).is_empty() {
        Some("kind")
    } else if name(&document).is_empty() {
        Some("metadata.name")
    } else {
        None
    };
    if let Some(missing) = missing {
        return Err(KustomizeError::NotAnObject {
            file: file.to_string(),
            index,
            missing,
        });
    }
    out.push(Resource::new(document, file));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_lists_and_rejects_documents_that_are_not_objects() {
        let docs = vec![
            json!({"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c"}}),
        ];
        let names: Vec<String> = from_documents(docs, "x.yaml")
            .unwrap()
            .iter()
            .map(Resource::subject)
            .collect();
        assert_eq!(names, ["ConfigMap/a", "ConfigMap/b", "Service/c"]);

        let cases = [
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
                "apiVersion",
            ),
            (
                json!({"apiVersion": "v1", "metadata": {"name": "a"}}),
                "kind",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                "metadata.name",
            ),
            (json!("just a string"), "apiVersion"),
        ];
        for (doc, missing) in cases {
            let err = from_documents(vec![doc], "app/x.yaml").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("app/x.yaml: document 1: not a Kubernetes object: missing {missing}")
            );
        }
    }
}
