//! The native kustomize engine.
//!
//! Input: a directory with its kustomization (read from disk, or prepared by
//! the caller). Output: the resources of `kustomize build`, in its order.
//!
//! The order of work follows kustomize v5's `KustTarget`: resources (each
//! base built on its own), generators, components (applied to what was
//! accumulated), then the built-in transformers in kustomize's order; at the
//! very end, hash suffixes and name references. One file per transformer.
//! Errors are the engine's own ([`KustomizeError`]); the engine knows
//! nothing of Flux, whose preparation and post-processing wrap it
//! (`render::flux`, `render::substitute`).

mod config;
mod error;
mod fieldspec;
mod generators;
mod images;
pub mod load;
mod metadata;
mod names;
mod namespace;
mod origin;
mod patch;
mod replacements;
mod resource;
mod scope;
mod selector;
mod smp;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::KustomizeError;
pub use generators::{go_string as go_json_string, hash as name_hash};
pub use resource::Resource;

use load::Root;

/// Where a kustomization's generators and patches are declared: for loading
/// the files they name and for errors naming the file and field.
pub struct Context<'a> {
    pub root: &'a Root,
    pub dir: &'a Path,
    pub file: &'a str,
}

impl Context<'_> {
    pub(super) fn error(&self, field: &str, message: impl Into<String>) -> KustomizeError {
        KustomizeError::Transform {
            file: self.file.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A kustomization file (`kustomize.config.k8s.io` `Kustomization` or
/// `Component`). Unknown fields are an error, as in kustomize.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct KustFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches_strategic_merge: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches_json6902: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map_generator: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_generator: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator_options: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_options: Option<Value>,
    // Fields the native engine refuses (see `KustFile::unsupported`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crds: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<vars::Var>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_charts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_globals: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_chart_inflation_generator: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generators: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validators: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openapi: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_metadata: Option<Value>,
    /// Whether it says anything beyond apiVersion, kind and metadata
    /// (kustomize refuses an "empty" kustomization).
    #[serde(skip)]
    pub has_content: bool,
}

/// One entry of `labels`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Label {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pairs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_selectors: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_templates: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<fieldspec::FieldSpec>,
}

/// The fields of a kustomization (kustomize's `types.Kustomization`).
pub const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "images",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "sortOptions",
    "crds",
    "vars",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "generators",
    "transformers",
    "validators",
    "openapi",
    "configurations",
    "buildMetadata",
];

impl KustFile {
    /// Parses a kustomization document. Keys set to `null` count as absent,
    /// as in kustomize.
    pub fn parse(document: Value, file: &str) -> Result<Self, KustomizeError> {
        let mut document = match document {
            Value::Null => Value::Object(Default::default()),
            Value::Object(_) => document,
            _ => {
                return Err(KustomizeError::Kustomization {
                    file: file.into(),
                    message: "expected a map".into(),
                });
            }
        };
        let mut has_content = false;
        if let Some(map) = document.as_object_mut() {
            map.retain(|_, v| !v.is_null());
            has_content = map
                .keys()
                .any(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
        }
        let mut parsed: Self = crate::k8s::object::from_value(&document).map_err(|e| {
            KustomizeError::Kustomization {
                file: file.into(),
                message: crate::render::describe(&e),
            }
        })?;
        parsed.has_content = has_content;
        Ok(parsed)
    }

    /// Reads the kustomization file at `path`.
    pub fn read(root: &Root, path: &Path) -> Result<Self, KustomizeError> {
        let file = root.rel(path);
        let mut documents = root.parse_kustomization(path)?;
        if documents.len() > 1 {
            return Err(KustomizeError::Kustomization {
                file,
                message: "expected one YAML document".into(),
            });
        }
        Self::parse(documents.pop().unwrap_or(Value::Null), &file)
    }

    fn is_component(&self) -> bool {
        self.kind.as_deref() == Some("Component")
    }

    /// The first field the native engine does not implement, if any.
    fn unsupported(&self) -> Option<&'static str> {
        let set = [
            ("crds", self.crds.is_some()),
            ("helmCharts", self.helm_charts.is_some()),
            ("helmGlobals", self.helm_globals.is_some()),
            (
                "helmChartInflationGenerator",
                self.helm_chart_inflation_generator.is_some(),
            ),
            ("generators", self.generators.is_some()),
            ("transformers", self.transformers.is_some()),
            ("validators", self.validators.is_some()),
            ("openapi", self.openapi.is_some()),
        ];
        set.into_iter()
            .find(|(_, present)| *present)
            .map(|(f, _)| f)
    }
}

/// Builds the kustomization `kust` (written, or standing for, `file`) of
/// directory `dir`: `kustomize build dir`.
pub fn build_root(
    root: &Root,
    dir: &Path,
    kust: &KustFile,
    file: &str,
) -> Result<Vec<Resource>, KustomizeError> {
    if kust.is_component() {
        return Err(KustomizeError::Kustomization {
            file: file.into(),
            message: "kind Component cannot be built on its own; use it from a Kustomization's components".into(),
        });
    }
    let metadata = origin::BuildMetadata::parse(kust.build_metadata.as_ref(), file)?;
    let mut builder = Builder {
        root,
        stack: vec![dir.to_path_buf()],
        origin: metadata.tracked().then(String::new),
    };
    let mut resources = Vec::new();
    let mut config = config::Config::default();
    builder.accumulate(dir, kust, file, &mut resources, &mut config)?;
    metadata.finish(&mut resources);
    generators::add_hash_suffixes(&mut resources);
    names::fix_references(&mut resources, &config.name_references);
    vars::resolve(&mut resources).map_err(|message| KustomizeError::Transform {
        file: file.into(),
        field: "vars".into(),
        message,
    })?;
    if let Some(options) = &kust.sort_options {
        let options: replacements::SortOptions =
            crate::k8s::object::from_value(options).map_err(|e| KustomizeError::Kustomization {
                file: file.into(),
                message: format!("sortOptions: {}", crate::render::describe(&e)),
            })?;
        replacements::sort(&mut resources, &options).map_err(|message| {
            KustomizeError::Transform {
                file: file.into(),
                field: "sortOptions".into(),
                message,
            }
        })?;
    }
    Ok(resources)
}

struct Builder<'a> {
    root: &'a Root,
    /// Directories being built, to detect cycles.
    stack: Vec<PathBuf>,
    /// With `buildMetadata`: the directory being built, as kustomize's
    /// `Origin.Path` names it (relative to the root kustomization's
    /// directory, by the entries that led there). `None`: no tracking.
    origin: Option<String>,
}

impl Builder<'_> {
    /// kustomize `KustTarget.AccumulateTarget`: adds what `kust` declares to
    /// `resources` and transforms them all.
    fn accumulate(
        &mut self,
        dir: &Path,
        kust: &KustFile,
        file: &str,
        resources: &mut Vec<Resource>,
        config: &mut config::Config,
    ) -> Result<(), KustomizeError> {
        if !kust.has_content {
            return Err(KustomizeError::Kustomization {
                file: file.into(),
                message: "kustomization.yaml is empty".into(),
            });
        }
        if let Some(field) = kust.unsupported() {
            return Err(KustomizeError::Unsupported {
                file: file.into(),
                field: field.into(),
            });
        }
        for entry in kust.bases.iter().chain(&kust.resources) {
            let added = self.resource(dir, entry, file, config)?;
            append(resources, added, file)?;
        }
        for entry in &kust.configurations {
            let path = self.root.resolve(dir, entry, file, "configurations")?;
            let rel = self.root.rel(&path);
            for document in self.root.read_documents(&path)? {
                config.read(document, &rel)?;
            }
        }
        let ctx = Context {
            root: self.root,
            dir,
            file,
        };
        generators::generate(
            &ctx,
            &kust.config_map_generator,
            &kust.secret_generator,
            kust.generator_options.as_ref(),
            resources,
        )?;
        if let Some(at) = &self.origin {
            origin::generated(resources, at, file);
        }
        for entry in &kust.components {
            self.component(dir, entry, file, resources, config)?;
        }
        self.transform(dir, kust, file, resources, config)?;
        vars::bind(resources, &kust.vars).map_err(|message| KustomizeError::Transform {
            file: file.into(),
            field: "vars".into(),
            message,
        })
    }

    /// The resources one `resources` entry stands for: a file's objects or a
    /// directory's build.
    fn resource(
        &mut self,
        dir: &Path,
        entry: &str,
        file: &str,
        config: &mut config::Config,
    ) -> Result<Vec<Resource>, KustomizeError> {
        if load::is_remote(entry) {
            return Err(KustomizeError::Remote {
                file: file.into(),
                field: "resources".into(),
                url: entry.into(),
            });
        }
        let path = self.root.resolve(dir, entry, file, "resources")?;
        if self.root.is_dir(&path)? {
            let (kust, kfile) = self.directory(&path)?;
            if kust.is_component() {
                return Err(KustomizeError::Kustomization {
                    file: kfile,
                    message:
                        "kind Component cannot be used as a resource; list it under components"
                            .into(),
                });
            }
            self.enter(&path, file)?;
            let mut sub = Vec::new();
            let mut sub_config = config::Config::default();
            let outer = self.origin.clone();
            self.origin = outer.as_deref().map(|at| origin::join(at, entry));
            let result = self.accumulate(&path, &kust, &kfile, &mut sub, &mut sub_config);
            self.origin = outer;
            self.stack.pop();
            config.merge(sub_config);
            result.map(|()| sub)
        } else {
            let rel = self.root.rel(&path);
            let mut resources = resource::from_documents(self.root.read_documents(&path)?, &rel)?;
            if let Some(at) = &self.origin {
                origin::from_file(&mut resources, &origin::join(at, entry));
            }
            Ok(resources)
        }
    }

    /// Applies one `components` entry to the accumulated resources.
    fn component(
        &mut self,
        dir: &Path,
        entry: &str,
        file: &str,
        resources: &mut Vec<Resource>,
        config: &mut config::Config,
    ) -> Result<(), KustomizeError> {
        if load::is_remote(entry) {
            return Err(KustomizeError::Remote {
                file: file.into(),
                field: "components".into(),
                url: entry.into(),
            });
        }
        let path = self.root.resolve(dir, entry, file, "components")?;
        if !self.root.is_dir(&path)? {
            return Err(KustomizeError::Kustomization {
                file: file.into(),
                message: format!("components: {entry} is not a directory"),
            });
        }
        let (kust, kfile) = self.directory(&path)?;
        if !kust.is_component() {
            return Err(KustomizeError::Kustomization {
                file: kfile,
                message: "a component must have kind: Component".into(),
            });
        }
        self.enter(&path, file)?;
        let outer = self.origin.clone();
        self.origin = outer.as_deref().map(|at| origin::join(at, entry));
        let result = self.accumulate(&path, &kust, &kfile, resources, config);
        self.origin = outer;
        self.stack.pop();
        result
    }

    /// Reads the kustomization of a directory used as a resource or component.
    fn directory(&self, dir: &Path) -> Result<(KustFile, String), KustomizeError> {
        let kpath =
            self.root
                .kustomization_file(dir)?
                .ok_or_else(|| KustomizeError::NoKustomization {
                    dir: self.root.rel(dir),
                })?;
        Ok((KustFile::read(self.root, &kpath)?, self.root.rel(&kpath)))
    }

    fn enter(&mut self, dir: &Path, file: &str) -> Result<(), KustomizeError> {
        if self.stack.iter().any(|d| d == dir) {
            return Err(KustomizeError::Cycle {
                file: file.into(),
                path: self.root.rel(dir),
            });
        }
        self.stack.push(dir.to_path_buf());
        Ok(())
    }

    /// The built-in transformers, in kustomize's order
    /// (`kusttarget_configplugin.go`).
    fn transform(
        &self,
        dir: &Path,
        kust: &KustFile,
        file: &str,
        resources: &mut Vec<Resource>,
        config: &config::Config,
    ) -> Result<(), KustomizeError> {
        let ctx = Context {
            root: self.root,
            dir,
            file,
        };
        // kustomize annotates every resource after each built-in transformer
        // instance (`multiTransformer.Transform`), changed or not.
        let track = |resources: &mut Vec<Resource>, kind: &str, instances: usize| {
            if let Some(at) = &self.origin {
                origin::transformed(resources, at, file, kind, instances);
            }
        };
        patch::strategic_merge(&ctx, &kust.patches_strategic_merge, resources)?;
        track(
            resources,
            "PatchStrategicMergeTransformer",
            usize::from(!kust.patches_strategic_merge.is_empty()),
        );
        patch::patches(&ctx, &kust.patches, "patches", resources)?;
        track(resources, "PatchTransformer", kust.patches.len());
        let namespace = kust.namespace.as_deref().filter(|ns| !ns.is_empty());
        if let Some(ns) = namespace {
            namespace::apply(resources, ns);
        }
        track(
            resources,
            "NamespaceTransformer",
            usize::from(namespace.is_some()),
        );
        let prefix = kust.name_prefix.as_deref().unwrap_or("");
        let suffix = kust.name_suffix.as_deref().unwrap_or("");
        names::prefix_suffix(resources, prefix, suffix);
        track(
            resources,
            "PrefixTransformer",
            usize::from(!prefix.is_empty()),
        );
        track(
            resources,
            "SuffixTransformer",
            usize::from(!suffix.is_empty()),
        );
        for label in &kust.labels {
            let mut specs = metadata::label_specs(label.include_selectors, label.include_templates);
            if label.include_selectors {
                specs.extend(config.common_labels.iter().cloned());
            }
            specs.extend(label.fields.iter().cloned());
            metadata::apply(resources, &label.pairs, &specs, file, "labels")?;
        }
        metadata::apply(
            resources,
            &kust.common_labels,
            &[metadata::common_label_specs(), config.common_labels.clone()].concat(),
            file,
            "commonLabels",
        )?;
        // One instance per `labels` entry and one for `commonLabels`, when
        // either is set.
        let labels = if kust.labels.is_empty() && kust.common_labels.is_empty() {
            0
        } else {
            kust.labels.len() + 1
        };
        track(resources, "LabelTransformer", labels);
        metadata::apply(
            resources,
            &kust.common_annotations,
            &[
                metadata::annotation_specs(),
                config.common_annotations.clone(),
            ]
            .concat(),
            file,
            "commonAnnotations",
        )?;
        track(
            resources,
            "AnnotationsTransformer",
            usize::from(!kust.common_annotations.is_empty()),
        );
        patch::patches(&ctx, &kust.patches_json6902, "patchesJson6902", resources)?;
        track(
            resources,
            "PatchJson6902Transformer",
            kust.patches_json6902.len(),
        );
        images::replicas(resources, &parse_list(&kust.replicas, file, "replicas")?).map_err(
            |message| KustomizeError::Transform {
                file: file.into(),
                field: "replicas".into(),
                message,
            },
        )?;
        track(resources, "ReplicaCountTransformer", kust.replicas.len());
        images::apply(
            resources,
            &parse_list(&kust.images, file, "images")?,
            &config.images,
        );
        track(resources, "ImageTagTransformer", kust.images.len());
        for replacement in self.replacements(dir, kust, file)? {
            replacements::apply(resources, &replacement).map_err(|message| {
                KustomizeError::Transform {
                    file: file.into(),
                    field: "replacements".into(),
                    message,
                }
            })?;
        }
        track(
            resources,
            "ReplacementTransformer",
            usize::from(!kust.replacements.is_empty()),
        );
        Ok(())
    }

    /// The `replacements` of a kustomization, those given by `path` loaded.
    fn replacements(
        &self,
        dir: &Path,
        kust: &KustFile,
        file: &str,
    ) -> Result<Vec<replacements::Replacement>, KustomizeError> {
        let mut out = Vec::new();
        for entry in
            parse_list::<replacements::Replacement>(&kust.replacements, file, "replacements")?
        {
            let Some(path) = &entry.path else {
                out.push(entry);
                continue;
            };
            let resolved = self.root.resolve(dir, path, file, "replacements")?;
            let rel = self.root.rel(&resolved);
            for document in self.root.read_documents(&resolved)? {
                let items = match document {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                out.extend(parse_list::<replacements::Replacement>(
                    &items,
                    &rel,
                    "replacements",
                )?);
            }
        }
        Ok(out)
    }
}

/// kustomize's name hash of a ConfigMap or Secret (for tests of the whole
/// render).
#[cfg(test)]
pub fn test_hash(object: &Value) -> String {
    generators::hash(object)
}

/// Reads the entries of a list field into their type.
fn parse_list<T: serde::de::DeserializeOwned>(
    entries: &[Value],
    file: &str,
    field: &str,
) -> Result<Vec<T>, KustomizeError> {
    entries
        .iter()
        .map(|e| {
            crate::k8s::object::from_value(e).map_err(|e| KustomizeError::Kustomization {
                file: file.into(),
                message: format!("{field}: {}", crate::render::describe(&e)),
            })
        })
        .collect()
}

/// Appends `added` to `resources`; an object already there is an error.
fn append(
    resources: &mut Vec<Resource>,
    added: Vec<Resource>,
    file: &str,
) -> Result<(), KustomizeError> {
    let mut known: std::collections::HashMap<_, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id(), i))
        .collect();
    for r in added {
        let id = r.id();
        if let Some(&i) = known.get(&id) {
            return Err(KustomizeError::Duplicate {
                file: file.into(),
                object: r.subject(),
                other: format!("from {} and {}", resources[i].origin, r.origin),
            });
        }
        known.insert(id, resources.len());
        resources.push(r);
    }
    Ok(())
}
