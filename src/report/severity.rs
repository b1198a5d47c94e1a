//! How bad an unexplained finding is, most urgent first: the order the
//! Matrix message and the HTML page list findings in.

use crate::classify::Finding;
use crate::diff::{Drift, Op};

/// A finding's severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// An object missing, or two owners (Crossplane and Flux, or two Flux
    /// Kustomizations) fighting over it.
    MissingOrConflict,
    /// A field git declares has another value live (or is gone), or a
    /// person set a field of what a HelmRelease deployed.
    Edited,
    /// Only fields git does not declare were added.
    Added,
    /// An object Flux owns that no render has.
    Orphaned,
}

impl Severity {
    /// Most urgent first.
    pub const ALL: [Severity; 4] = [
        Severity::MissingOrConflict,
        Severity::Edited,
        Severity::Added,
        Severity::Orphaned,
    ];

    /// A count per severity present, most urgent first: `["2 edited", "1 orphaned"]`.
    pub fn counted_in(severities: &[Severity]) -> Vec<String> {
        Severity::ALL
            .iter()
            .map(|s| (s, severities.iter().filter(|o| *o == s).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {}", s.counted()))
            .collect()
    }

    /// The severity of a finding, from its drift kind and its unexplained changes.
    pub fn of(f: &Finding) -> Self {
        match f.drift {
            Drift::Missing | Drift::Conflict | Drift::Overlap => Severity::MissingOrConflict,
            Drift::Orphaned => Severity::Orphaned,
            // A field set over what a HelmRelease deployed (what the chart
            // says is not known) is an edit too, not an added field.
            Drift::Modified
                if f.changes.iter().any(|c| {
                    c.explanation.is_none() && (c.desired.is_some() || c.op == Op::Replace)
                }) =>
            {
                Severity::Edited
            }
            Drift::Modified => Severity::Added,
        }
    }

    /// The name in the Matrix state and the HTML page's filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::MissingOrConflict => "missing-or-conflict",
            Severity::Edited => "edited",
            Severity::Added => "added",
            Severity::Orphaned => "orphaned",
        }
    }

    /// Its coloured mark.
    pub fn marker(self) -> &'static str {
        match self {
            Severity::MissingOrConflict => "🔴",
            Severity::Edited => "🟠",
            Severity::Added => "🟡",
            Severity::Orphaned => "🔵",
        }
    }

    /// A section's title.
    pub fn heading(self) -> &'static str {
        match self {
            Severity::MissingOrConflict => "Missing objects and conflicts",
            Severity::Edited => "Declared fields edited in the cluster",
            Severity::Added => "Fields added in the cluster",
            Severity::Orphaned => "Orphans",
        }
    }

    /// Words for a count: `3 edited`, `2 with added fields`.
    pub fn counted(self) -> &'static str {
        match self {
            Severity::MissingOrConflict => "missing or conflicting",
            Severity::Edited => "edited",
            Severity::Added => "with added fields",
            Severity::Orphaned => "orphaned",
        }
    }
}
