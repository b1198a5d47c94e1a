//! What went wrong, shared by every stage: an [`Issue`] (something that
//! could not be checked, with its [`Stage`]), a [`Note`] (a warning), and how
//! a chain of causes is printed. Every text made here is redacted by
//! [`crate::redact`], the one module this imports.

use serde::{Deserialize, Serialize};

use crate::redact;

/// An error and its causes on one line, each cause once, redacted
/// ([`redact::text`]: credentials in URLs, `Authorization` values).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    redact::text(&message)
}

/// The stage of the pipeline something happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Config,
    Source,
    Discover,
    Render,
    Live,
    DryRun,
    Diff,
}

impl Stage {
    /// The name reports, logs and metrics use (`dry-run`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Config => "config",
            Stage::Source => "source",
            Stage::Discover => "discover",
            Stage::Render => "render",
            Stage::Live => "live",
            Stage::DryRun => "dry-run",
            Stage::Diff => "diff",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Something that could not be checked: which Kustomization (if one), in
/// which stage, and why, on one line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub kustomization: Option<String>,
    pub stage: Stage,
    pub message: String,
}

impl Issue {
    /// An issue from an error and its causes (redacted, see [`error_chain`]).
    pub fn new(kustomization: Option<String>, stage: Stage, error: &dyn std::error::Error) -> Self {
        Self::described(kustomization, stage, &error_chain(error))
    }

    /// An issue described by a message of its own (redacted as an error
    /// chain is).
    pub fn described(kustomization: Option<String>, stage: Stage, message: &str) -> Self {
        let message = redact::text(message);
        tracing::warn!(kustomization, stage = stage.as_str(), error = %message, "Could not check");
        Self {
            kustomization,
            stage,
            message,
        }
    }
}

/// Not drift and not an error, but worth a look (a suspension, a render of
/// the branch head that failed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub kustomization: Option<String>,
    pub message: String,
}

/// What every stage gives back: its value, and the problems it met on the
/// way — each naming its stage and its Kustomization or object, redacted
/// when it was made ([`Issue::new`]). A stage never stops on one
/// Kustomization's problem: the others' values are in `value`.
#[must_use = "an outcome's problems belong in the report"]
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub issues: Vec<Issue>,
    pub notes: Vec<Note>,
}

impl<T> Outcome<T> {
    /// A value met with no problem.
    pub fn of(value: T) -> Self {
        Self {
            value,
            issues: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A value and the problems gathered while making it.
    pub fn with(value: T, problems: Problems) -> Self {
        Self {
            value,
            issues: problems.issues,
            notes: problems.notes,
        }
    }

    /// Hands the problems to `problems` (after those already there) and
    /// returns the value: how a caller chains stages.
    pub fn into_value(self, problems: &mut Problems) -> T {
        problems.issues.extend(self.issues);
        problems.notes.extend(self.notes);
        self.value
    }

    /// The same problems, with the value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            value: f(self.value),
            issues: self.issues,
            notes: self.notes,
        }
    }
}

/// The issues and notes gathered so far, in the order met.
#[derive(Clone, Debug, Default)]
pub struct Problems {
    pub issues: Vec<Issue>,
    pub notes: Vec<Note>,
}

impl Problems {
    /// Adds the problems of `outcome` and returns its value (see
    /// [`Outcome::into_value`]).
    pub fn take<T>(&mut self, outcome: Outcome<T>) -> T {
        outcome.into_value(self)
    }

    /// A note about `kustomization` (or the run, with `None`).
    pub fn note(&mut self, kustomization: Option<String>, message: String) {
        self.notes.push(Note {
            kustomization,
            message,
        });
    }
}
