//! Stage `diff`: what differs between one cluster's renders and its live
//! objects, and who changed it. One entry, [`run`].
//!
//! Input ([`Input`]): the renders of the Kustomizations applying to the
//! cluster (as the API server stores them), the Kustomizations that own its
//! objects, its live objects, and the HelmReleases' deployed objects. Output
//! ([`Compared`]): each object's difference ([`Attributed`]: an
//! [`ObjectDiff`] of [`Change`]s — a JSON Pointer, the rendered and live
//! values, the field manager that last set the live value — with the
//! Kustomization and commit it was compared against), in report order:
//! per Kustomization its rendered objects, what only its head has
//! (pending), its orphans; then the platform's orphans; then what the
//! HelmReleases deployed. Secret values are masked in one place
//! ([`mask::changes`]), as the changes leave the comparison.
//!
//! Pure apart from one read: in server mode ([`DiffMode::Server`]), the
//! server-side apply dry-runs of the rendered objects that exist live.

mod compare;
pub mod helm;
pub mod mask;
pub mod normalize;
pub mod orphans;
pub mod overlap;
mod quantity;
mod renders;
mod run;
pub mod schema;
pub mod scope;

pub use renders::Attributed;
pub use run::{Compared, Input, run};

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::flux::FLUX_MANAGERS;
use crate::k8s::managed;
use crate::k8s::object::{self, Object, ObjectRef};

/// One field that differs, as a JSON Patch operation from git to live.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Change {
    /// JSON Pointer into the object (`""` for the whole object).
    pub path: String,
    pub op: Op,
    /// The value git declares (`None` for a field added live).
    pub desired: Option<Value>,
    /// The live value (`None` for a field removed live).
    pub live: Option<Value>,
    /// The field manager that last set the live value, from managedFields.
    pub manager: Option<String>,
    /// When that manager last wrote the object (RFC 3339).
    pub time: Option<String>,
    /// Why this change is not alarming, when it is not (set by `classify`).
    pub explanation: Option<String>,
    /// `path` for people, with list items named by their merge key
    /// (`spec.template.spec.containers[app].env[DEBUG_TOOLBAR]`), set by the
    /// comparison, which holds the live object; `None` where it could name
    /// nothing better than the pointer, or where a value substituted from a
    /// Secret could be in a name. Not part of the JSON report.
    #[serde(skip)]
    pub readable_path: Option<String>,
}

/// How an object differs from git.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    /// In the render and the cluster, with changed or person-added fields.
    Modified,
    /// In the render, not in the cluster.
    Missing,
    /// In the cluster with Flux ownership, in no render.
    Orphaned,
    /// Rendered by Flux and also controlled by Crossplane (set by `classify`).
    Conflict,
    /// Applied by two (or more) Flux Kustomizations: they overwrite each
    /// other on every reconcile.
    Overlap,
}

impl Drift {
    /// The lowercase name used in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Drift::Modified => "modified",
            Drift::Missing => "missing",
            Drift::Orphaned => "orphaned",
            Drift::Conflict => "conflict",
            Drift::Overlap => "overlap",
        }
    }
}

/// One object's difference from git, before classification.
#[derive(Clone, Debug)]
pub struct ObjectDiff<'a> {
    pub object: ObjectRef,
    pub drift: Drift,
    pub changes: Vec<Change>,
    /// The rendered object (absent for orphans).
    pub desired: Option<&'a Object>,
    /// The live object (absent when missing).
    pub live: Option<&'a Object>,
    /// Extra words for people (why an object is an orphan, ...).
    pub message: Option<String>,
    /// Missing because the cluster does not serve its type (at its version).
    pub not_served: bool,
}

impl<'a> ObjectDiff<'a> {
    /// Compares a rendered object with its live copy: `None` when they agree.
    /// A rendered object with no live copy is `missing`.
    pub fn of_rendered(
        desired: &'a Object,
        live: Option<&'a Object>,
        policy: &Policy,
    ) -> Option<Self> {
        let object = ObjectRef::of(desired)?;
        let Some(live) = live else {
            return Some(Self {
                object,
                drift: Drift::Missing,
                changes: vec![Change::whole(Op::Remove, None)],
                desired: Some(desired),
                live: None,
                message: None,
                not_served: false,
            });
        };
        Some(Self {
            object,
            drift: Drift::Modified,
            changes: compare(desired, live, policy),
            desired: Some(desired),
            live: Some(live),
            message: None,
            not_served: false,
        })
    }

    /// A rendered object of a type the cluster does not serve: missing, and
    /// the message says why.
    pub fn unserved(desired: &'a Object, why: &str) -> Option<Self> {
        let object = ObjectRef::of(desired)?;
        let message = why.to_string();
        Some(Self {
            object,
            drift: Drift::Missing,
            changes: vec![Change::whole(Op::Remove, None)],
            desired: Some(desired),
            live: None,
            message: Some(message),
            not_served: true,
        })
    }

    /// Server mode: compares what a server-side apply dry-run of the render
    /// gives (what Flux would make of the object) with the live object, plus
    /// the fields a person added that git never declared — a dry-run keeps
    /// those, so only the render can tell them.
    pub fn of_server(
        desired: &'a Object,
        applied: &Object,
        live: Option<&'a Object>,
        policy: &Policy,
    ) -> Option<Self> {
        let mut diff = Self::of_rendered(desired, live, policy)?;
        let Some(live) = live else { return Some(diff) };
        let mut would_be = applied.clone();
        normalize::live(&mut would_be);
        let mut changes = compare(&would_be, live, policy);
        for added in diff.changes.into_iter().filter(|c| c.op == Op::Add) {
            if !changes.iter().any(|c| c.path == added.path) {
                changes.push(added);
            }
        }
        diff.changes = changes;
        Some(diff)
    }

    /// An object two or more Kustomizations apply (`message` names them),
    /// reported once, by the first of them.
    pub fn overlap(desired: &'a Object, live: Option<&'a Object>, message: String) -> Option<Self> {
        Some(Self {
            object: ObjectRef::of(desired)?,
            drift: Drift::Overlap,
            changes: Vec::new(),
            desired: Some(desired),
            live,
            message: Some(message),
            not_served: false,
        })
    }

    /// A live object Flux owns that no render has.
    pub fn orphan(live: &'a Object, object: ObjectRef, message: String) -> Self {
        let (manager, time) = last_writer(live);
        let mut change = Change::whole(Op::Add, manager);
        change.time = time;
        Self {
            object,
            drift: Drift::Orphaned,
            changes: vec![change],
            desired: None,
            live: Some(live),
            message: Some(message),
            not_served: false,
        }
    }
}

impl Change {
    /// A change of the whole object (path `""`): added (orphan) or removed
    /// (missing). Values are left out: the object is named by the finding.
    pub fn whole(op: Op, manager: Option<String>) -> Self {
        Self {
            path: String::new(),
            op,
            desired: None,
            live: None,
            manager,
            time: None,
            explanation: None,
            readable_path: None,
        }
    }
}

/// What happened to a field, seen from git: JSON Patch operation names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A declared field has another value live.
    Replace,
    /// A field git does not declare was set live.
    Add,
    /// A declared field is absent live.
    Remove,
}

/// How rendered objects are compared with the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffMode {
    /// Compare the render with the live objects (needs only get/list).
    #[default]
    Local,
    /// Compare the result of a server-side apply dry-run with the live objects.
    Server,
}

impl DiffMode {
    /// The names `--diff-mode` and `diffMode:` take.
    pub const NAMES: [&'static str; 2] = ["local", "server"];
}

impl std::str::FromStr for DiffMode {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "local" => Ok(DiffMode::Local),
            "server" => Ok(DiffMode::Server),
            other => Err(format!("{other:?} is not a diff mode (local or server)")),
        }
    }
}

/// How to compare.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub mode: DiffMode,
    pub policy: Policy,
}

impl Options {
    /// The managers default to Flux's own and to people's interactive clients.
    pub fn new(
        mode: DiffMode,
        flux: Option<Vec<String>>,
        people: Option<Vec<String>>,
    ) -> Result<Self, PatternError> {
        let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let policy = Policy::new(
            &flux.unwrap_or_else(|| strings(FLUX_MANAGERS)),
            &people.unwrap_or_else(|| strings(PERSON_MANAGERS)),
        )?;
        Ok(Self { mode, policy })
    }
}

/// Which field managers are Flux and which are people.
#[derive(Clone, Debug)]
pub struct Policy {
    flux: Vec<String>,
    people: Vec<Regex>,
}

/// Field managers of interactive clients: kubectl's (`kubectl-edit`,
/// `kubectl-set`, `kubectl-patch`, `kubectl-client-side-apply`, ...), k9s, Lens,
/// and browser-based dashboards (whose manager is their user agent).
pub const PERSON_MANAGERS: &[&str] = &[
    "kubectl*",
    "k9s*",
    "lens*",
    "openlens*",
    "headlamp*",
    "Mozilla*",
];

/// A field-manager pattern that uses more than `*`.
#[derive(Debug, thiserror::Error)]
#[error(
    "{pattern:?}: `{character}` is not supported: patterns are field manager names with `*` \
     wildcards only (e.g. \"kubectl*\" or \"ops-bot\")"
)]
pub struct PatternError {
    pub pattern: String,
    pub character: char,
}

/// Characters of other pattern syntaxes (globs' `?` and `[a-z]`, braces,
/// escapes): refused rather than matched literally, which would silently
/// match nothing the writer meant.
const NOT_WILDCARDS: &[char] = &['?', '[', ']', '{', '}', '\\'];

impl Policy {
    /// `people` are wildcard patterns (`*` matches any text, and nothing
    /// else is special), case-insensitive.
    pub fn new(flux: &[String], people: &[String]) -> Result<Self, PatternError> {
        let people = people
            .iter()
            .map(|p| {
                if let Some(character) = p.chars().find(|c| NOT_WILDCARDS.contains(c)) {
                    return Err(PatternError {
                        pattern: p.clone(),
                        character,
                    });
                }
                let body = p
                    .split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join(".*");
                Ok(Regex::new(&format!("(?i)^{body}$")).expect("an escaped pattern compiles"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            flux: flux.to_vec(),
            people,
        })
    }

    /// Is this manager one of Flux's controllers?
    pub fn is_flux(&self, manager: &str) -> bool {
        self.flux.iter().any(|f| f == manager)
    }

    /// Is this manager an interactive client driven by a person?
    pub fn is_person(&self, manager: &str) -> bool {
        self.people.iter().any(|p| p.is_match(manager))
    }
}

impl Default for Policy {
    fn default() -> Self {
        let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Self::new(&strings(FLUX_MANAGERS), &strings(PERSON_MANAGERS))
            .expect("built-in patterns are valid")
    }
}

/// Compares a rendered object with its live copy. Both are normalized first
/// (see [`normalize`]). Values are as they are: [`run`] masks them.
pub fn compare(desired: &Object, live: &Object, policy: &Policy) -> Vec<Change> {
    let mut want = desired.clone();
    normalize::desired(&mut want);
    let mut have = live.clone();
    normalize::live(&mut have);
    let api_version = live.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = live.get("kind").and_then(Value::as_str).unwrap_or("");
    compare::Comparison::new(object::group_of(api_version), kind, live, policy).run(&want, &have)
}

/// The manager and time of the latest write to an object's spec or metadata
/// (status writes excluded): who created or last touched an orphan.
pub fn last_writer(live: &Object) -> (Option<String>, Option<String>) {
    let entries = managed::entries(live);
    entries
        .iter()
        .filter(|e| e.subresource.is_none())
        .max_by(|a, b| a.time.cmp(&b.time))
        .map_or((None, None), |e| (Some(e.manager.clone()), e.time.clone()))
}

#[cfg(test)]
mod tests;
