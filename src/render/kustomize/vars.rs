//! `vars` (deprecated in kustomize, still honoured by it).
//!
//! Input: the `vars` of every kustomization of the build and the resources.
//! Output: each `$(NAME)` in the fields of kustomize's `varReference` field
//! specs (container args, command, env values and mount paths of the
//! built-in workloads, Ingress hosts and TLS, Service ports, labels) replaced
//! by the value of the var's field in its object, read at the end of the
//! build (kustomize `ResolveVars`). A var is bound to its object where it is
//! declared (by any name the object had); `$$(NAME)` stays `$(NAME)`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fieldspec::{FieldSpec, built, segments, visit_path};
use super::replacements::{Segment, get, split_path};
use super::resource::{self, Resource};

/// One `vars` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Var {
    pub name: String,
    pub objref: ObjRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fieldref: Option<FieldRef>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ObjRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fieldpath: Option<String>,
}

/// Binds each var to the one resource its objref names.
pub fn bind(resources: &mut [Resource], vars: &[Var]) -> Result<(), String> {
    for var in vars {
        if resources
            .iter()
            .any(|r| r.vars.iter().any(|(name, _)| *name == var.name))
        {
            return Err(format!("var {} is declared more than once", var.name));
        }
        let r = &var.objref;
        let (group, version) = match r.api_version.as_deref() {
            Some(av) => match av.rsplit_once('/') {
                Some((g, v)) => (Some(g.to_string()), Some(v.to_string())),
                None => (Some(String::new()), Some(av.to_string())),
            },
            None => (r.group.clone(), r.version.clone()),
        };
        let matching: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, res)| {
                let api_version = resource::api_version(&res.object);
                let (g, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                resource::kind(&res.object) == r.kind
                    && group.as_deref().is_none_or(|want| want == g)
                    && version
                        .as_deref()
                        .is_none_or(|want| want.is_empty() || want == v)
                    && res
                        .previous
                        .iter()
                        .map(|(ns, n)| (ns.as_deref(), n.as_str()))
                        .chain([(
                            resource::namespace(&res.object),
                            resource::name(&res.object),
                        )])
                        .any(|(ns, n)| {
                            n == r.name
                                && r.namespace
                                    .as_deref()
                                    .is_none_or(|want| ns.unwrap_or("default") == want)
                        })
            })
            .map(|(i, _)| i)
            .collect();
        let i = match matching.as_slice() {
            [i] => *i,
            [] => {
                return Err(format!(
                    "var {} cannot be mapped to a field in the set of known resources",
                    var.name
                ));
            }
            _ => {
                return Err(format!(
                    "found {} objects for var {} (unable to disambiguate)",
                    matching.len(),
                    var.name
                ));
            }
        };
        let path = var
            .fieldref
            .as_ref()
            .and_then(|f| f.fieldpath.clone())
            .unwrap_or_else(|| "metadata.name".into());
        resources[i].vars.push((var.name.clone(), path));
    }
    Ok(())
}

/// kustomize's built-in `varReference` field specs.
fn references() -> Vec<FieldSpec> {
    let mut specs = Vec::new();
    let workloads = [
        ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
        ("", "DaemonSet", "spec/template/spec"),
        ("", "Deployment", "spec/template/spec"),
        ("", "Job", "spec/template/spec"),
        ("", "Pod", "spec"),
        ("", "ReplicaSet", "spec/template/spec"),
        ("", "StatefulSet", "spec/template/spec"),
    ];
    for (group, kind, spec) in workloads {
        for containers in ["containers", "initContainers"] {
            for field in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                specs.push(built(group, kind, format!("{spec}/{containers}/{field}")));
            }
        }
    }
    for path in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        specs.push(built("", "Ingress", path.into()));
    }
    for path in ["spec/ports/port", "spec/ports/targetPort"] {
        specs.push(built("", "Service", path.into()));
    }
    specs.push(FieldSpec {
        kind: None,
        ..built("", "", "metadata/labels".into())
    });
    specs
}

/// Reads every var's value and replaces its references.
pub fn resolve(resources: &mut [Resource]) -> Result<(), String> {
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for r in resources.iter() {
        for (name, path) in &r.vars {
            let normalized = path.replace('[', ".[").replace(".[", ".").replace(']', "");
            let segments: Vec<Segment> = split_path(&normalized)?;
            let mut found = Vec::new();
            get(&r.object, &segments, &mut found);
            match found.as_slice() {
                [value] if !value.is_object() && !value.is_array() && !value.is_null() => {
                    values.insert(name.clone(), (*value).clone());
                }
                _ => {
                    return Err(format!(
                        "var {name}: field {path} of {} is not a scalar",
                        r.subject()
                    ));
                }
            }
        }
    }
    if values.is_empty() {
        return Ok(());
    }
    let specs = references();
    for r in resources.iter_mut() {
        for spec in &specs {
            if !spec.selects(&r.object) {
                continue;
            }
            let path = segments(&spec.path);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let _ = visit_path(&mut r.object, &path, false, &mut |value| {
                expand_value(value, &values);
                Ok(())
            });
        }
    }
    Ok(())
}

fn expand_value(value: &mut Value, values: &BTreeMap<String, Value>) {
    match value {
        Value::String(text) => {
            // A field that is exactly one var takes the var's type.
            if let Some(name) = text.strip_prefix("$(").and_then(|t| t.strip_suffix(')'))
                && let Some(v) = values.get(name)
            {
                *value = v.clone();
                return;
            }
            *text = expand(text, values);
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                if let Value::String(text) = item {
                    *text = expand(text, values);
                }
            }
        }
        _ => {}
    }
}

/// Replaces `$(NAME)` with the var's value; `$$` is a literal `$`; unknown
/// names stay as written (Kubernetes' own expansion syntax).
fn expand(text: &str, values: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match values.get(name) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
