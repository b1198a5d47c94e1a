//! Stage `source`, first step: the infra repo given with `--repo`, opened
//! ([`open_infra`]) before anything else, its head the tree Kustomizations
//! are discovered in.

use std::path::Path;

use super::{Checkout, Options, Repo};
use crate::error::{Issue, Outcome, Stage};

/// The infra repo of a run, when one is given.
pub struct Infra {
    repo: Option<Repo>,
    head: Option<Checkout>,
}

impl Infra {
    /// Its head (or `--revision`), when a repo was given.
    pub fn head(&self) -> Option<&Checkout> {
        self.head.as_ref()
    }

    /// The head's root (empty when no repo was given).
    pub fn root(&self) -> &Path {
        self.head
            .as_ref()
            .map_or(Path::new(""), |h| h.root.as_path())
    }

    /// The repo, handed to the sources it stands for (its trees are
    /// removed with it).
    pub fn into_repo(self) -> Option<Repo> {
        self.repo
    }
}

/// Opens the repo of `options` (credentials from the environment); `None`
/// when it cannot be opened (the run's issue).
pub async fn open_infra(options: Option<&Options>) -> Outcome<Option<Infra>> {
    let Some(options) = options else {
        return Outcome::of(Some(Infra {
            repo: None,
            head: None,
        }));
    };
    match super::open(options, |name| std::env::var(name).ok()).await {
        Ok(repo) => Outcome::of(Some(Infra {
            head: Some(repo.head().clone()),
            repo: Some(repo),
        })),
        Err(e) => Outcome {
            value: None,
            issues: vec![Issue::new(None, Stage::Source, &e)],
            notes: Vec::new(),
        },
    }
}
