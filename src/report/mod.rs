//! Stage `report`: the run's result, for people and machines.
//!
//! Input: findings, errors and per-Kustomization facts. Output: a [`Report`]
//! printed as text (grouped by Kustomization, for people), JSON (the stable
//! `drift-check/v1` schema), markdown or one HTML page ([`html`]). The exit
//! code follows from it.
//!
//! Shared by the report's readers: [`severity`] (how urgent a finding is),
//! [`links`] (commit and file links on the git forge).

mod build;
pub mod fleet;
pub mod html;
pub mod links;
mod markdown;
pub mod severity;
pub(crate) mod text;

use serde::{Deserialize, Serialize};

pub use build::{Builder, helm_notes, scrubbed};

use crate::classify::Finding;
use crate::flux::{Failing, Kustomization};

/// Now, as the reports write times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The JSON schema id. Fields are added to it, never renamed.
pub const SCHEMA: &str = "drift-check/v1";

/// The schema id's type; an alias, so that serde does not borrow it from
/// the input when a report is read back.
pub type Schema = &'static str;

/// Reads `schema`: only this one (a report read back, e.g. a shard's).
fn schema_v1<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let schema = String::deserialize(d)?;
    if schema == SCHEMA {
        Ok(SCHEMA)
    } else {
        Err(serde::de::Error::custom(format!(
            "schema {schema:?}, not {SCHEMA:?}"
        )))
    }
}

/// Everything a run found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    #[serde(deserialize_with = "schema_v1")]
    pub schema: Schema,
    pub run: Run,
    pub summary: Summary,
    pub kustomizations: Vec<KustomizationEntry>,
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorEntry>,
    /// Things an operator should know that are not drift (a suspension).
    pub warnings: Vec<Warning>,
}

/// When and against what the run happened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub cluster: String,
    pub source: Source,
    /// Requests made to the API server (`None` for a snapshot).
    pub api_requests: Option<usize>,
}

/// The git source that was rendered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Source {
    pub url: String,
    /// The commit checked, `None` when unknown (a plain local directory).
    pub revision: Option<String>,
    /// How the source was read, when it matters (a local directory, uncommitted changes).
    pub note: Option<String>,
}

/// Counts for a glance.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub kustomizations: usize,
    pub objects: usize,
    pub findings: usize,
    pub unexplained: usize,
    pub errors: usize,
}

pub use crate::render::SourceRef;

/// `run.source.url` when no `--repo` is given: each Kustomization names its own.
pub const FROM_THE_CLUSTER: &str = "each Kustomization's source, from the cluster";

/// One Kustomization of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KustomizationEntry {
    pub namespace: String,
    pub name: String,
    pub path: String,
    /// The source it was rendered from (`None`: not checked, or its source
    /// could not be read).
    pub source: Option<SourceRef>,
    /// The revision its render came from, in Flux's format for a source
    /// read from the cluster (`main@sha1:<sha>`), a commit for `--repo`.
    pub revision: Option<String>,
    /// `status.lastAppliedRevision`.
    pub applied_revision: Option<String>,
    pub suspended: bool,
    /// When it was suspended, from managedFields.
    pub suspended_since: Option<String>,
    /// How many objects it renders.
    pub objects: usize,
    /// Why it could not be checked.
    pub error: Option<String>,
    /// Why it was not checked on purpose (its source is another repo).
    pub skipped: Option<String>,
    /// Flux's Ready condition (`None`: Flux has not reported one, e.g. a
    /// manifest read from the repo).
    pub ready: Option<bool>,
    /// Why Flux cannot apply it, in Flux's words, when it is failing.
    pub failing: Option<Failing>,
    /// The cluster it applies to, when not the one checked
    /// (`spec.kubeConfig`): its kubeconfig Secret, `namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl KustomizationEntry {
    /// An entry for a Kustomization that was checked: rendered from
    /// `revision` to `objects` (`None` when that failed, for the reasons
    /// among `errors` that name it).
    pub fn checked(
        ks: &Kustomization,
        objects: Option<usize>,
        revision: Option<String>,
        errors: &[ErrorEntry],
    ) -> Self {
        let id = ks.id();
        Self {
            namespace: ks.namespace.clone(),
            name: ks.name.clone(),
            path: ks.spec.path.clone(),
            source: None,
            revision,
            applied_revision: ks.status.last_applied_revision.clone(),
            suspended: ks.spec.suspend,
            suspended_since: ks.suspended_since.clone(),
            objects: objects.unwrap_or(0),
            error: objects
                .is_none()
                .then(|| {
                    errors
                        .iter()
                        .filter(|e| e.kustomization.as_deref() == Some(&id))
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|e| !e.is_empty()),
            skipped: None,
            ready: ks.status.ready().map(|c| c.status == "True"),
            failing: ks.status.failing(),
            cluster: None,
        }
    }

    /// An entry for a Kustomization that is not checked, and why.
    pub fn skipped(ks: &Kustomization, reason: String) -> Self {
        Self {
            namespace: ks.namespace.clone(),
            name: ks.name.clone(),
            path: ks.spec.path.clone(),
            source: None,
            revision: None,
            applied_revision: ks.status.last_applied_revision.clone(),
            suspended: ks.spec.suspend,
            suspended_since: ks.suspended_since.clone(),
            objects: 0,
            error: None,
            skipped: Some(reason),
            ready: ks.status.ready().map(|c| c.status == "True"),
            failing: ks.status.failing(),
            cluster: None,
        }
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl Report {
    /// The entry of the Kustomization `ns/name`.
    pub fn kustomization(&self, id: &str) -> Option<&KustomizationEntry> {
        self.kustomizations.iter().find(|k| k.id() == id)
    }

    /// The entry of the Kustomization a finding belongs to.
    pub fn kustomization_of(&self, f: &Finding) -> Option<&KustomizationEntry> {
        self.kustomization(f.kustomization.as_deref()?)
    }

    /// The warning saying a Kustomization was not checked although that is
    /// no error of the run (Flux fails on it too, or never reconciled it,
    /// and drift-check could not render it either): such a one is never
    /// "in sync".
    pub fn not_checked_warning(&self, kustomization: &str) -> Option<&Warning> {
        self.warnings.iter().find(|w| {
            w.kustomization.as_deref() == Some(kustomization)
                && (w.message.starts_with(NOT_CHECKED_FAILING)
                    || w.message.starts_with(NOT_CHECKED_NEW))
        })
    }
}

pub use crate::error::Issue as ErrorEntry;
/// Not drift, but worth a look.
pub use crate::error::Note as Warning;
pub use crate::render::batch::{NOT_CHECKED_FAILING, NOT_CHECKED_NEW};
/// Something that could not be checked.
/// Control characters of a text written as escapes (see the text report).
pub use text::escape as escape_text;

use crate::flux::{detail, since};

/// The warning for a Kustomization Flux cannot apply: reported once, with
/// Flux's own message, instead of a finding per object it never applied.
pub fn failing(ks: &Kustomization, failing: &Failing) -> Warning {
    let since = since(failing.since.as_deref());
    let message = detail(&failing.message);
    Warning {
        kustomization: Some(ks.id()),
        message: format!(
            "Kustomization {} is failing{since} ({}){message}; objects it never applied are not reported missing; see `flux get kustomization {} -n {}`",
            ks.id(),
            failing.reason,
            ks.name,
            ks.namespace
        ),
    }
}

/// The warning for a suspended Kustomization: the platform's rule is to
/// never leave Flux suspended.
pub fn suspension(ks: &Kustomization) -> Warning {
    let since = since(ks.suspended_since.as_deref());
    Warning {
        kustomization: Some(ks.id()),
        message: format!(
            "Kustomization {} is suspended{since}: the cluster can drift from git silently; resume it with `flux resume kustomization {} -n {}`",
            ks.id(),
            ks.name,
            ks.namespace
        ),
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// For people: grouped by Kustomization.
    #[default]
    Text,
    /// The `drift-check/v1` schema.
    Json,
    /// For pull requests and wikis.
    Markdown,
    /// One self-contained page: filters, charts, every Kustomization.
    Html,
}

impl Format {
    /// The names `-o` and `output:` take.
    pub const NAMES: [&'static str; 4] = ["text", "json", "markdown", "html"];
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "{other:?} is not an output format (text, json, markdown or html)"
            )),
        }
    }
}

impl Report {
    /// Fills in the summary from the lists.
    pub fn summarize(&mut self) {
        self.summary = Summary {
            kustomizations: self.kustomizations.len(),
            objects: self.kustomizations.iter().map(|k| k.objects).sum(),
            findings: self.findings.len(),
            unexplained: self.findings.iter().filter(|f| !f.explained).count(),
            errors: self.errors.len(),
        };
    }

    /// `check`'s exit code, as `kubectl diff` and `flux diff` use them:
    /// 2 when something could not be checked, 1 for unexplained drift, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.findings.iter().any(|f| !f.explained) {
            1
        } else {
            0
        }
    }

    /// The report in the chosen format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Json => {
                let mut json = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                json.push('\n');
                json
            }
            Format::Markdown => markdown::render(self),
            Format::Html => html::render(self, &html::Options::default()),
        }
    }
}

/// A value as one short line: strings quoted, long values cut.
pub(crate) fn short(value: &serde_json::Value) -> String {
    const MAX: usize = 120;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
pub(crate) mod tests;
