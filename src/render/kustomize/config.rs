//! `configurations`: transformer configuration files.
//!
//! Input: the files a kustomization lists under `configurations`. Output:
//! extra field specs for the transformers — `nameReference` (e.g. a
//! HelmRelease `spec/valuesFrom/name` naming a generated ConfigMap),
//! `commonLabels`, `commonAnnotations` and `images` — merged upwards from
//! bases to the kustomizations that include them, as kustomize's
//! accumulator merges them. Other sections are refused.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::KustomizeError;
use super::fieldspec::FieldSpec;

/// A name reference: objects of (group, kind) are named at `field`.
#[derive(Clone, Debug)]
pub struct Reference {
    pub group: Cow<'static, str>,
    pub kind: Cow<'static, str>,
    pub field: FieldSpec,
}

/// The transformer configuration in effect for one kustomization.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub name_references: Vec<Reference>,
    pub common_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
}

impl Config {
    /// Adds what another configuration has.
    pub fn merge(&mut self, other: Config) {
        self.name_references.extend(other.name_references);
        self.common_labels.extend(other.common_labels);
        self.common_annotations.extend(other.common_annotations);
        self.images.extend(other.images);
    }

    /// Reads one configuration file (already parsed) into this one.
    pub fn read(&mut self, document: Value, file: &str) -> Result<(), KustomizeError> {
        let parsed: File = crate::k8s::object::from_value(&document).map_err(|e| {
            KustomizeError::Kustomization {
                file: file.into(),
                message: crate::render::describe(&e),
            }
        })?;
        for (field, present) in [
            ("namePrefix", parsed.name_prefix.is_some()),
            ("nameSuffix", parsed.name_suffix.is_some()),
            ("namespace", parsed.namespace.is_some()),
            ("templateLabels", parsed.template_labels.is_some()),
            ("varReference", parsed.var_reference.is_some()),
            ("replicas", parsed.replicas.is_some()),
        ] {
            if present {
                return Err(KustomizeError::Unsupported {
                    file: file.into(),
                    field: format!("configurations: {field}"),
                });
            }
        }
        for reference in parsed.name_reference {
            let group = reference
                .group
                .or_else(|| {
                    reference
                        .version
                        .as_deref()
                        .and_then(|v| v.rsplit_once('/'))
                        .map(|(g, _)| g.to_string())
                })
                .unwrap_or_default();
            for field in reference.field_specs {
                self.name_references.push(Reference {
                    group: Cow::Owned(group.clone()),
                    kind: Cow::Owned(reference.kind.clone()),
                    field,
                });
            }
        }
        self.common_labels.extend(parsed.common_labels);
        self.common_annotations.extend(parsed.common_annotations);
        self.images.extend(parsed.images);
        Ok(())
    }
}

/// A configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct File {
    name_reference: Vec<NameReference>,
    common_labels: Vec<FieldSpec>,
    common_annotations: Vec<FieldSpec>,
    images: Vec<FieldSpec>,
    name_prefix: Option<Value>,
    name_suffix: Option<Value>,
    #[serde(alias = "nameSpace")]
    namespace: Option<Value>,
    template_labels: Option<Value>,
    var_reference: Option<Value>,
    replicas: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct NameReference {
    kind: String,
    group: Option<String>,
    version: Option<String>,
    field_specs: Vec<FieldSpec>,
}
