//! What went wrong, shared by every stage: an [`Issue`] (something that
//! could not be checked, with its [`Stage`]), a [`Note`] (a warning), and how
//! a chain of causes is printed.

use serde::Serialize;

/// An error and its causes on one line, each cause once.
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
    message
}

/// The stage of the pipeline something happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    pub kustomization: Option<String>,
    pub stage: Stage,
    pub message: String,
}

impl Issue {
    /// An issue from an error and its causes (credentials in any URL it
    /// quotes redacted).
    pub fn new(kustomization: Option<String>, stage: Stage, error: &dyn std::error::Error) -> Self {
        let message = crate::source::redact_urls(&error_chain(error));
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Note {
    pub kustomization: Option<String>,
    pub message: String,
}
