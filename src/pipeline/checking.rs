//! What one cluster's check gathers on the way ([`Run`]): the issues and
//! notes of every stage, the values read from Secrets, the sources each
//! Kustomization was rendered from, and the steps that add to them (opening
//! the live source, rendering one Kustomization, building the report).

use super::*;

/// What a run gathers on the way: the issues and notes of every stage, the
/// values read from Secrets (scrubbed from error and warning texts) and
/// where the render substituted them (masked in objects and changes).
pub(super) struct Run<'a> {
    pub(super) settings: &'a Settings,
    /// The cluster's name in reports and fingerprints.
    pub(super) cluster: String,
    pub(super) started_at: String,
    pub(super) issues: Vec<Issue>,
    pub(super) notes: Vec<Note>,
    pub(super) secret_values: BTreeSet<String>,
    pub(super) substituted: diff::mask::Substituted,
    /// The source each checked Kustomization was rendered from, by id.
    pub(super) checked_sources: BTreeMap<String, report::SourceRef>,
    /// By Kustomization id: its Secrets generated from SOPS-encrypted files
    /// not decrypted, whose name hash is not Flux's (both renders).
    pub(super) unknown_hashes: BTreeMap<String, Vec<render::sops::UnknownHash>>,
}

impl<'a> Run<'a> {
    pub(super) fn new(settings: &'a Settings) -> Self {
        Self {
            settings,
            cluster: settings.cluster.clone().unwrap_or_else(|| "default".into()),
            started_at: now(),
            issues: Vec::new(),
            notes: Vec::new(),
            secret_values: BTreeSet::new(),
            substituted: Default::default(),
            checked_sources: BTreeMap::new(),
            unknown_hashes: BTreeMap::new(),
        }
    }

    /// Opens the live source; the cluster names the run when no name was given.
    pub(super) async fn open_live(&mut self) -> Option<Live> {
        match Live::open(&self.settings.live).await {
            Ok((live, errors)) => {
                self.issues
                    .extend(errors.iter().map(|e| Issue::new(None, Stage::Live, e)));
                if let (None, Some(name)) = (&self.settings.cluster, live.cluster_name()) {
                    self.cluster = name.to_string();
                }
                Some(live)
            }
            Err(e) => {
                self.issues.push(Issue::new(None, Stage::Live, &e));
                None
            }
        }
    }

    /// Renders a Kustomization from the tree Flux last applied (fetched
    /// or read from the checkout when needed), and also from its source's
    /// head when that differs. When the applied tree cannot be read, that is
    /// an error of stage `source`, and the head alone is rendered to compare
    /// with, none of its drift explained as a pending reconcile. When the
    /// source cannot be read at all, the Kustomization cannot be checked.
    pub(super) async fn render(
        &mut self,
        sources: &mut Sources,
        ks: &Kustomization,
        live: &Live,
    ) -> Rendered {
        let trees = match sources
            .for_kustomization(ks, self.settings.render.limits)
            .await
        {
            Ok(trees) => trees,
            Err(e) => {
                self.issues
                    .push(Issue::new(Some(ks.id()), Stage::Source, e.as_ref()));
                return Rendered {
                    ks: ks.clone(),
                    objects: None,
                    revision: None,
                    applied_unread: false,
                    head: None,
                };
            }
        };
        self.checked_sources.insert(
            ks.id(),
            report::SourceRef {
                kind: trees.source.kind.clone(),
                namespace: trees.source.namespace.clone(),
                name: trees.source.name.clone(),
                url: trees.url.clone(),
            },
        );
        let head = trees.head;
        let (applied, applied_unread) = match trees.applied {
            None => (None, false),
            Some(Ok(checkout)) => (Some(checkout), false),
            Some(Err(error)) => {
                self.issues
                    .push(Issue::new(Some(ks.id()), Stage::Source, error.as_ref()));
                (None, true)
            }
        };
        // Read once for both renders: substitution data, decryption keys.
        let Some(inputs) = self.inputs(ks, Some(live)).await else {
            return Rendered {
                ks: ks.clone(),
                objects: None,
                revision: applied.map_or(head.revision, |a| a.revision),
                applied_unread,
                head: None,
            };
        };
        let Some(applied) = applied else {
            return Rendered {
                ks: ks.clone(),
                objects: compact(self.render_at(&head, ks, inputs.as_ref())),
                revision: head.revision.clone(),
                applied_unread,
                head: None,
            };
        };
        let objects = compact(self.render_at(&applied, ks, inputs.as_ref()));
        // The head's render only adds "reconcile pending" findings: its
        // failure is a note (Flux will meet it), not an issue of the run;
        // its render notes repeat the applied render's and are dropped.
        let (issues, notes) = (self.issues.len(), self.notes.len());
        let at_head = self.render_at(&head, ks, inputs.as_ref());
        self.notes.truncate(notes);
        for issue in self.issues.split_off(issues) {
            self.notes.push(Note {
                kustomization: issue.kustomization,
                message: format!(
                    "at the branch head {} (not applied yet): {}",
                    head.revision.as_deref().unwrap_or("?"),
                    issue.message
                ),
            });
        }
        info!(kustomization = %ks, applied = applied.revision.as_deref(), head = head.revision.as_deref(), "Rendered the applied revision and the head");
        Rendered {
            ks: ks.clone(),
            objects,
            revision: applied.revision,
            applied_unread: false,
            head: compact(at_head).map(|objects| (objects, head.revision.clone())),
        }
    }

    /// A Kustomization's substitution data and decryption keys, read once
    /// (`Some(None)`: no live source, as `flux build ks --dry-run`); `None`
    /// when they cannot be read, an issue of the Kustomization.
    pub(super) async fn inputs(
        &mut self,
        ks: &Kustomization,
        live: Option<&Live>,
    ) -> Option<Option<live::SubstitutionSources>> {
        let Some(live) = live else {
            return Some(None);
        };
        match live::substitution_sources(live, ks, self.settings.render.sops_decrypt).await {
            Ok((sources, secret_values)) => {
                self.secret_values.extend(secret_values);
                Some(Some(sources))
            }
            Err(e) => {
                self.issues.push(Issue::new(Some(ks.id()), Stage::Live, &e));
                None
            }
        }
    }

    /// Gives each Secret generated from SOPS-encrypted files that were not
    /// decrypted the name of the live Secret Flux applied for it
    /// ([`render::sops::names`]); one note each (for the applied render).
    pub(super) fn live_names_of_encrypted_generated_secrets(
        &mut self,
        rendered: &mut [Rendered],
        state: &live::LiveState,
    ) {
        for r in rendered.iter_mut() {
            let Some(unknown) = self.unknown_hashes.get(&r.ks.id()) else {
                continue;
            };
            if let Some(objects) = r.objects.as_mut() {
                let notes = render::sops::names::resolve(objects, unknown, &r.ks, state);
                self.notes.extend(notes.into_iter().map(|message| Note {
                    kustomization: Some(r.ks.id()),
                    message,
                }));
            }
            if let Some((objects, _)) = r.head.as_mut() {
                render::sops::names::resolve(objects, unknown, &r.ks, state);
            }
        }
    }

    /// Renders one Kustomization at one tree with what [`Self::inputs`] read.
    pub(super) fn render_at(
        &mut self,
        checkout: &Checkout,
        ks: &Kustomization,
        sources: Option<&live::SubstitutionSources>,
    ) -> Option<Vec<Object>> {
        let root = checkout.root.as_path();
        match render::kustomization(root, ks, sources, &self.settings.render) {
            Ok(output) => {
                for (object, paths) in output.objects.iter().zip(&output.secret_paths) {
                    self.substituted.record(object, paths);
                }
                if !output.unknown_hashes.is_empty() {
                    self.unknown_hashes
                        .entry(ks.id())
                        .or_default()
                        .extend(output.unknown_hashes);
                }
                self.notes
                    .extend(output.notes.into_iter().map(|message| Note {
                        kustomization: Some(ks.id()),
                        message,
                    }));
                Some(output.objects)
            }
            Err(e) => {
                self.issues
                    .push(Issue::new(Some(ks.id()), Stage::Render, &e));
                None
            }
        }
    }

    /// The report, with every value read from a Secret scrubbed from the
    /// issues and notes, and credentials in the URLs they quote redacted.
    pub(super) fn report(
        mut self,
        checkout: Option<&Checkout>,
        kustomizations: Vec<KustomizationEntry>,
        findings: Vec<classify::Finding>,
        api_requests: Option<usize>,
    ) -> Report {
        for text in self
            .issues
            .iter_mut()
            .map(|e| &mut e.message)
            .chain(self.notes.iter_mut().map(|w| &mut w.message))
        {
            crate::redact::secret_values(text, &self.secret_values);
            *text = crate::redact::text(text);
        }
        let source = match checkout {
            Some(c) => report::Source {
                url: c.url.clone(),
                revision: c.revision.clone(),
                note: c.note.clone(),
            },
            None => report::Source {
                url: match &self.settings.source {
                    Some(options) => options.location.display(),
                    None => report::FROM_THE_CLUSTER.into(),
                },
                revision: None,
                note: None,
            },
        };
        let mut report = Report {
            schema: report::SCHEMA,
            run: report::Run {
                id: uuid::Uuid::new_v4().to_string(),
                started_at: self.started_at,
                finished_at: now(),
                cluster: self.cluster,
                source,
                api_requests,
            },
            summary: Default::default(),
            kustomizations,
            findings,
            errors: self.issues,
            warnings: self.notes,
        };
        report.summarize();
        report
    }
}
