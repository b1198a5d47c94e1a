//! `patchesStrategicMerge`, `patches` and `patchesJson6902`.
//!
//! Input: the patch entries of a kustomization and the resources. Output:
//! the resources patched. A patch (inline or from a file) is a JSON 6902
//! operation list (applied with the `json-patch` crate; needs a `target`)
//! or strategic merge documents ([`super::smp`]). With a `target`, a patch
//! applies to every selected resource; without one, a strategic merge patch
//! applies to the resource its apiVersion/kind/name/namespace identify,
//! which must exist.

use serde::Deserialize;
use serde_json::Value;

use super::Context;
use super::KustomizeError;
use super::resource::{self, Resource};
use super::scope::compared_namespace;
use super::selector::{Selector, TargetMatcher};
use super::smp;

/// One entry of `patches` or `patchesJson6902`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct Entry {
    path: Option<String>,
    patch: Option<String>,
    target: Option<Selector>,
    options: Option<PatchOptions>,
}

/// `patches[].options`: whether a strategic merge patch may rename the
/// object or change its kind (otherwise the patch's own name and kind are
/// ignored).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct PatchOptions {
    allow_name_change: bool,
    allow_kind_change: bool,
}

/// A loaded patch.
enum Patch {
    Json6902(json_patch::Patch),
    StrategicMerge(Vec<Value>),
}

impl From<PatchOptions> for smp::Keep {
    fn from(options: PatchOptions) -> Self {
        smp::Keep {
            name: options.allow_name_change,
            kind: options.allow_kind_change,
        }
    }
}

/// The text of a patch given inline or by `path`.
impl Context<'_> {
    fn text(&self, entry: &Entry, field: &str) -> Result<String, KustomizeError> {
        match (&entry.patch, &entry.path) {
            (Some(_), Some(_)) => Err(self.error(field, "a patch has both patch and path")),
            (Some(text), None) => Ok(text.clone()),
            (None, Some(path)) => {
                let resolved = self.root.resolve(self.dir, path, self.file, field)?;
                self.root.read_text(&resolved)
            }
            (None, None) => Err(self.error(field, "a patch needs patch or path")),
        }
    }

    /// Parses patch text: a list is JSON 6902, maps are strategic merge.
    fn parse(&self, text: &str, field: &str) -> Result<Patch, KustomizeError> {
        let name = format!("{} ({field})", self.file);
        let mut documents = self.root.parse_documents(text, &name)?;
        if let [Value::Array(_)] = documents.as_slice() {
            let operations = serde_json::from_value(documents[0].clone()).map_err(|e| {
                self.error(
                    field,
                    format!("invalid JSON 6902 patch: {}", crate::render::describe(&e)),
                )
            })?;
            return Ok(Patch::Json6902(operations));
        }
        if documents.iter().all(Value::is_object) {
            // kustomize merges the patch's nodes, styles and all, and writes
            // them out; a JSON 6902 patch's values are JSON (no style).
            crate::render::folded::as_kustomize_emits(text, &mut documents);
            return Ok(Patch::StrategicMerge(documents));
        }
        Err(self.error(
            field,
            "a patch must be a JSON 6902 operation list or strategic merge maps",
        ))
    }
}

/// `patchesStrategicMerge`: file paths or inline YAML.
pub fn strategic_merge(
    ctx: &Context,
    entries: &[Value],
    resources: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    const FIELD: &str = "patchesStrategicMerge";
    for entry in entries {
        let text = match entry {
            Value::String(s) if s.contains('\n') || s.contains(": ") => s.clone(),
            Value::String(path) => {
                let resolved = ctx.root.resolve(ctx.dir, path, ctx.file, FIELD)?;
                ctx.root.read_text(&resolved)?
            }
            Value::Object(_) => serde_json::to_string(entry).unwrap_or_default(),
            _ => return Err(ctx.error(FIELD, "expected a path or an inline patch")),
        };
        match ctx.parse(&text, FIELD)? {
            Patch::StrategicMerge(documents) => {
                for document in documents {
                    apply_untargeted(ctx, FIELD, &document, resources, PatchOptions::default())?;
                }
            }
            Patch::Json6902(_) => {
                return Err(ctx.error(FIELD, "a JSON 6902 patch needs a target (use patches)"));
            }
        }
    }
    Ok(())
}

/// `patches` (or, with `json6902`, `patchesJson6902`, where every entry
/// must be a JSON 6902 patch with a target).
pub fn patches(
    ctx: &Context,
    entries: &[Value],
    field: &str,
    resources: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    for raw in entries {
        let entry: Entry = crate::k8s::object::from_value(raw).map_err(|e| {
            ctx.error(
                field,
                format!("invalid patch entry: {}", crate::render::describe(&e)),
            )
        })?;
        let options = entry.options.unwrap_or_default();
        let text = ctx.text(&entry, field)?;
        let patch = ctx.parse(&text, field)?;
        let selected: Option<Vec<usize>> = match &entry.target {
            Some(target) => {
                let target = TargetMatcher::new(target).map_err(|e| ctx.error(field, e))?;
                Some(
                    resources
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| target.selects(r))
                        .map(|(i, _)| i)
                        .collect(),
                )
            }
            None => None,
        };
        match (patch, selected) {
            (Patch::Json6902(_), None) => {
                return Err(ctx.error(field, "a JSON 6902 patch needs a target"));
            }
            (Patch::Json6902(operations), Some(indexes)) => {
                for i in indexes {
                    let r = &mut resources[i];
                    r.remember_name();
                    apply_json6902(&mut r.object, &operations).map_err(|e| {
                        ctx.error(field, format!("{}: {e}", resource::subject(&r.object)))
                    })?;
                }
            }
            (Patch::StrategicMerge(_), Some(_)) if field == "patchesJson6902" => {
                return Err(ctx.error(field, "expected a JSON 6902 patch"));
            }
            (Patch::StrategicMerge(documents), None) => {
                for document in documents {
                    apply_untargeted(ctx, field, &document, resources, options)?;
                }
            }
            (Patch::StrategicMerge(documents), Some(indexes)) => {
                let mut deleted = Vec::new();
                for i in indexes {
                    for document in &documents {
                        let subject = resources[i].subject();
                        resources[i].remember_name();
                        match smp::apply(&resources[i].object, document, options.into())
                            .map_err(|e| ctx.error(field, format!("{subject}: {e}")))?
                        {
                            Some(merged) => resources[i].object = merged,
                            None => {
                                deleted.push(i);
                                break;
                            }
                        }
                    }
                }
                for i in deleted.into_iter().rev() {
                    resources.remove(i);
                }
            }
        }
    }
    Ok(())
}

/// Applies JSON 6902 operations as kustomize does. kustomize patches its
/// internal form, in which `metadata.annotations` always exists (it holds
/// kustomize's own bookkeeping annotations), so an `add` under it works on
/// an object without annotations; anything else follows RFC 6902.
fn apply_json6902(object: &mut Value, patch: &json_patch::Patch) -> Result<(), String> {
    let had_annotations = object.pointer("/metadata/annotations").is_some();
    if !had_annotations && let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.insert("annotations".into(), Value::Object(Default::default()));
    }
    let result = json_patch::patch(object, &patch.0).map_err(|e| e.to_string());
    if !had_annotations
        && let Some(Value::Object(metadata)) = object.get_mut("metadata")
        && metadata
            .get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(|m| m.is_empty()))
    {
        metadata.remove("annotations");
    }
    result
}

/// Applies a strategic merge patch to the one resource it names.
fn apply_untargeted(
    ctx: &Context,
    field: &str,
    document: &Value,
    resources: &mut Vec<Resource>,
    options: PatchOptions,
) -> Result<(), KustomizeError> {
    let wanted_ns = resource::namespace(document).map(str::to_string);
    let want_name = resource::name(document);
    let matching: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            resource::api_version(&r.object) == resource::api_version(document)
                && resource::kind(&r.object) == resource::kind(document)
                && r.previous
                    .iter()
                    .map(|(ns, n)| (ns.as_deref(), n.as_str()))
                    .chain([(resource::namespace(&r.object), resource::name(&r.object))])
                    .any(|(ns, n)| {
                        n == want_name
                            && compared_namespace(&r.object, ns)
                                == compared_namespace(&r.object, wanted_ns.as_deref())
                    })
        })
        .map(|(i, _)| i)
        .collect();
    let subject = resource::subject(document);
    let i = match matching.as_slice() {
        [i] => *i,
        [] => {
            return Err(ctx.error(
                field,
                format!("no resource matches strategic merge patch {subject}"),
            ));
        }
        _ => {
            return Err(ctx.error(
                field,
                format!("more than one resource matches strategic merge patch {subject}"),
            ));
        }
    };
    resources[i].remember_name();
    match smp::apply(&resources[i].object, document, options.into())
        .map_err(|e| ctx.error(field, e))?
    {
        Some(merged) => resources[i].object = merged,
        None => {
            resources.remove(i);
        }
    }
    Ok(())
}
