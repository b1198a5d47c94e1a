//! The report of one cluster's check, built from the stages' outcomes as
//! they come ([`Builder`]): their issues and notes in the order met, an
//! entry per Kustomization (skipped, not followed, compared, or on a spoke
//! that could not be reached) with the warnings about it, the findings. At
//! the end ([`Builder::build`]) every value read from a Secret is scrubbed
//! from the texts, and the summary counted.

use std::collections::BTreeSet;

use tracing::info;

use super::{FROM_THE_CLUSTER, KustomizationEntry, Report, SCHEMA, Source, failing, suspension};
use crate::classify::Finding;
use crate::error::{Issue, Note, Outcome, Problems, Stage};
use crate::flux::{Kustomization, detail, since};
use crate::helm::Deployed;
use crate::live::remote::RemoteError;
use crate::live::{Follow, Live};
use crate::render::{Made, Rendered};
use crate::source::Checkout;

/// One cluster's report, gathered stage by stage.
pub struct Builder {
    cluster: String,
    /// The cluster was named by the settings (else the kubeconfig names it).
    named: bool,
    started_at: String,
    source: Source,
    problems: Problems,
    entries: Vec<KustomizationEntry>,
    findings: Vec<Finding>,
    api_requests: Option<usize>,
    secret_values: BTreeSet<String>,
}

impl Builder {
    /// A report of `cluster` (`None`: named by the kubeconfig, else
    /// `default`), rendered from `repo` (`None`: each Kustomization's source,
    /// from the cluster) until a checkout says which commit.
    pub fn new(cluster: Option<&str>, repo: Option<&crate::source::Options>) -> Self {
        Self {
            cluster: cluster.unwrap_or("default").to_string(),
            named: cluster.is_some(),
            started_at: super::now(),
            source: Source {
                url: repo.map_or_else(|| FROM_THE_CLUSTER.into(), |r| r.location.display()),
                revision: None,
                note: None,
            },
            problems: Problems::default(),
            entries: Vec::new(),
            findings: Vec::new(),
            api_requests: None,
            secret_values: BTreeSet::new(),
        }
    }

    /// The cluster's name in the report and fingerprints.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Adds a stage's problems; returns its value.
    pub fn take<T>(&mut self, outcome: Outcome<T>) -> T {
        self.problems.take(outcome)
    }

    /// The commit checked, when the repo was checked out.
    pub fn checked_out(&mut self, checkout: Option<&Checkout>) {
        if let Some(c) = checkout {
            self.source = Source {
                url: c.url.clone(),
                revision: c.revision.clone(),
                note: c.note.clone(),
            };
        }
    }

    /// The live source opened: a cluster names the run when no name was given.
    pub fn connected(&mut self, live: &Live) {
        if let (false, Some(name)) = (self.named, live.cluster_name()) {
            self.cluster = name.to_string();
        }
    }

    /// The Kustomizations not checked, each with why.
    pub fn skipped(&mut self, skipped: Vec<(&Kustomization, String)>) {
        for (ks, reason) in skipped {
            info!(kustomization = %ks, reason, "Skipped");
            self.entries.push(KustomizationEntry::skipped(ks, reason));
        }
    }

    /// The Kustomizations that can be followed to their cluster; an entry
    /// for each of the others.
    pub fn followed<'k>(
        &mut self,
        follow: Vec<(&'k Kustomization, Follow)>,
    ) -> Vec<&'k Kustomization> {
        let mut out = Vec::new();
        for (ks, follow) in follow {
            match follow {
                Follow::Yes => out.push(ks),
                Follow::Skip(reason) => self.skipped(vec![(ks, reason)]),
                Follow::No => self.entries.push(KustomizationEntry::checked(
                    ks,
                    None,
                    None,
                    &self.problems.issues,
                )),
            }
        }
        out
    }

    /// What the renders read from Secrets: scrubbed from every text.
    pub fn read_secrets(&mut self, made: &Made) {
        self.secret_values
            .extend(made.secret_values.iter().cloned());
    }

    /// One cluster compared (`cluster`: a spoke's name, `None` for the
    /// cluster checked): the warnings of its HelmReleases and of its
    /// Kustomizations (suspended, failing), an entry per render (its error,
    /// else the types of its objects that could not be read), the findings.
    pub fn compared(
        &mut self,
        cluster: Option<&str>,
        rendered: &[Rendered],
        releases: &[&[Deployed<'_>]],
        unread: &[Issue],
        made: &mut Made,
        findings: Vec<Finding>,
    ) {
        for deployed in releases {
            self.problems.notes.extend(helm_notes(deployed));
        }
        for r in rendered {
            if r.ks.spec.suspend {
                self.problems.notes.push(suspension(&r.ks));
            }
            if let Some(failure) = r.ks.status.failing() {
                self.problems.notes.push(failing(&r.ks, &failure));
            }
            let mut entry = self.entry(cluster, r, made);
            if entry.error.is_none()
                && let Some(issue) = unread
                    .iter()
                    .find(|i| i.kustomization.as_deref() == Some(&entry.id()))
            {
                entry.error = Some(issue.message.clone());
            }
            self.entries.push(entry);
        }
        self.findings.extend(findings);
    }

    /// A spoke that could not be reached: each of its Kustomizations "could
    /// not check", naming the Secret and what failed; nothing of them is
    /// compared, so nothing is reported missing or resolved.
    pub fn not_reached(
        &mut self,
        cluster: &str,
        error: &RemoteError,
        rendered: &[Rendered],
        made: &mut Made,
    ) {
        for r in rendered {
            let issue = Issue::new(Some(r.ks.id()), Stage::Live, error);
            let mut entry = self.entry(Some(cluster), r, made);
            entry.error = Some(issue.message.clone());
            self.problems.issues.push(issue);
            self.entries.push(entry);
        }
    }

    /// The entry of a render compared on `cluster`.
    fn entry(&self, cluster: Option<&str>, r: &Rendered, made: &mut Made) -> KustomizationEntry {
        let mut entry = KustomizationEntry::checked(
            &r.ks,
            r.objects.as_ref().map(Vec::len),
            r.revision.clone(),
            &self.problems.issues,
        );
        entry.source = made.sources.remove(&r.ks.id());
        entry.cluster = cluster.map(str::to_string);
        entry
    }

    /// The API requests the run made (`None` for a snapshot).
    pub fn requests(&mut self, requests: Option<usize>) {
        if let Some(requests) = requests {
            info!(requests, "API requests made");
        }
        self.api_requests = requests;
    }

    /// The report, with every value read from a Secret scrubbed from the
    /// issues and notes, and credentials in the URLs they quote redacted.
    pub fn build(self) -> Report {
        let Problems { issues, notes } = scrubbed(self.problems, &self.secret_values);
        let mut report = Report {
            schema: SCHEMA,
            run: super::Run {
                id: uuid::Uuid::new_v4().to_string(),
                started_at: self.started_at,
                finished_at: super::now(),
                cluster: self.cluster,
                source: self.source,
                api_requests: self.api_requests,
            },
            summary: Default::default(),
            kustomizations: self.entries,
            findings: self.findings,
            errors: issues,
            warnings: notes,
        };
        report.summarize();
        report
    }
}

/// `problems` with every value of `secret_values` scrubbed from their
/// texts, and credentials in the URLs they quote redacted.
pub fn scrubbed(mut problems: Problems, secret_values: &BTreeSet<String>) -> Problems {
    for text in problems
        .issues
        .iter_mut()
        .map(|e| &mut e.message)
        .chain(problems.notes.iter_mut().map(|w| &mut w.message))
    {
        crate::redact::secret_values(text, secret_values);
        *text = crate::redact::text(text);
    }
    problems
}

/// The warnings of the HelmReleases, once each: suspended, not Ready.
pub fn helm_notes(deployed: &[Deployed<'_>]) -> Vec<Note> {
    let mut out = Vec::new();
    for d in deployed {
        let hr = &d.release;
        if hr.suspended {
            out.push(Note {
                kustomization: Some(hr.kustomization.clone()),
                message: format!(
                    "HelmRelease {} is suspended{}: what it deployed can drift from git silently; resume it with `flux resume helmrelease {} -n {}`",
                    hr.id(),
                    since(hr.suspended_since.as_deref()),
                    hr.name,
                    hr.namespace
                ),
            });
        }
        if let Some(failing) = &hr.failing {
            out.push(Note {
                kustomization: Some(hr.kustomization.clone()),
                message: format!(
                    "HelmRelease {} is failing{} ({}){}; see `flux get helmrelease {} -n {}`",
                    hr.id(),
                    since(failing.since.as_deref()),
                    failing.reason,
                    detail(&failing.message),
                    hr.name,
                    hr.namespace
                ),
            });
        }
    }
    out
}
