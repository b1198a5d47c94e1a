//! Links from a report (the Matrix message, the HTML page) to git: a commit and a file (the Kustomization's
//! path) at the commit Flux applied, from URL templates (`{sha}`, `{path}`)
//! configured under `notify.matrix.links`, or derived from the repository URL
//! for the forges whose URL layout is known (GitHub, GitLab, Gitea/Forgejo).
//!
//! Each Kustomization links into its own source ([`for_kustomization`]): the
//! configured templates are the run's repository's (`--repo`, or without it
//! the bootstrap GitRepository `flux-system/flux-system`); another
//! GitRepository's links are derived from its own URL; an artifact source
//! (OCIRepository, Bucket, ExternalArtifact) has no commit to link to.

use super::{FROM_THE_CLUSTER, KustomizationEntry, Report};

/// The GitRepository `flux bootstrap` creates, which the configured templates
/// stand for when every source comes from the cluster.
const BOOTSTRAP: (&str, &str) = ("flux-system", "flux-system");

/// One Kustomization's links: the commit it applied, and its path there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KustomizationLinks {
    pub commit: Option<String>,
    pub file: Option<String>,
}

/// Where a Kustomization's files are, in its own source at the commit it
/// applied (else the one rendered). `configured`: `notify.matrix.links`.
pub fn for_kustomization(
    configured: &LinkTemplates,
    report: &Report,
    k: &KustomizationEntry,
) -> KustomizationLinks {
    let run_url = report.run.source.url.as_str();
    let (templates, run_revision) = match &k.source {
        None => (configured.or_from_repo(run_url), true),
        Some(s) if s.url == run_url => (configured.or_from_repo(run_url), true),
        Some(s) if s.kind != "GitRepository" => return KustomizationLinks::default(),
        Some(s)
            if run_url == FROM_THE_CLUSTER
                && (s.namespace.as_str(), s.name.as_str()) == BOOTSTRAP =>
        {
            (configured.or_from_repo(&s.url), false)
        }
        Some(s) => (LinkTemplates::default().or_from_repo(&s.url), false),
    };
    let run_revision = run_revision
        .then_some(report.run.source.revision.as_deref())
        .flatten();
    let sha = [k.applied_revision.as_deref(), k.revision.as_deref()]
        .into_iter()
        .flatten()
        .chain(run_revision)
        .find_map(commit_of);
    KustomizationLinks {
        commit: sha.and_then(|sha| templates.commit(sha)),
        file: sha.and_then(|sha| templates.file(sha, &k.path)),
    }
}

/// The two templates; `None` where no link can be made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkTemplates {
    /// e.g. `https://git.example.com/org/infra/src/commit/{sha}`.
    pub commit: Option<String>,
    /// e.g. `https://git.example.com/org/infra/src/commit/{sha}/{path}`.
    pub file: Option<String>,
}

impl LinkTemplates {
    /// The configured templates, each one not configured derived from the
    /// repository URL (`https://`, `ssh://`, `git@host:path`).
    pub fn or_from_repo(&self, repo_url: &str) -> LinkTemplates {
        let derived = forge_templates(repo_url).unwrap_or_default();
        LinkTemplates {
            commit: self.commit.clone().or(derived.commit),
            file: self.file.clone().or(derived.file),
        }
    }

    /// The commit's URL.
    pub fn commit(&self, sha: &str) -> Option<String> {
        Some(self.commit.as_ref()?.replace("{sha}", sha))
    }

    /// The URL of `path` (relative to the repo root; a leading `./` is
    /// dropped) at the commit.
    pub fn file(&self, sha: &str, path: &str) -> Option<String> {
        let path = path.trim_start_matches("./").trim_matches('/');
        Some(
            self.file
                .as_ref()?
                .replace("{sha}", sha)
                .replace("{path}", &encode_path(path)),
        )
    }
}

/// The forge a host runs, from its name: the big hosted ones, and hosts
/// named after their software (`gitlab.example.com`, `git.forgejo.example`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Forge {
    GitHub,
    GitLab,
    Gitea,
}

fn forge(host: &str) -> Option<Forge> {
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let has = |name: &str| labels.iter().any(|l| l.contains(name));
    if host == "github.com" || has("github") {
        Some(Forge::GitHub)
    } else if has("gitlab") {
        Some(Forge::GitLab)
    } else if host == "codeberg.org" || has("gitea") || has("forgejo") {
        Some(Forge::Gitea)
    } else {
        None
    }
}

/// The web base (`https://host/org/repo`) of a git URL, and its forge.
fn web_base(url: &str) -> Option<(String, Forge)> {
    let (host, path) = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("ssh://"))
        .or_else(|| url.strip_prefix("git://"))
    {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit('@').next()?;
        let host = host.split(':').next()?;
        (host.to_string(), path.to_string())
    } else {
        // scp-like: git@host:org/repo.git
        let (userhost, path) = url.split_once(':')?;
        if userhost.contains('/') {
            return None;
        }
        let host = userhost.rsplit('@').next()?;
        (host.to_string(), path.to_string())
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if host.is_empty() || path.is_empty() || path.contains(['?', '#', ' ']) {
        return None;
    }
    Some((format!("https://{host}/{path}"), forge(&host)?))
}

/// The templates of the repository's forge, when it is a known one.
fn forge_templates(url: &str) -> Option<LinkTemplates> {
    let (base, forge) = web_base(url)?;
    let (commit, file) = match forge {
        Forge::GitHub => ("commit/{sha}", "blob/{sha}/{path}"),
        Forge::GitLab => ("-/commit/{sha}", "-/blob/{sha}/{path}"),
        Forge::Gitea => ("src/commit/{sha}", "src/commit/{sha}/{path}"),
    };
    Some(LinkTemplates {
        commit: Some(format!("{base}/{commit}")),
        file: Some(format!("{base}/{file}")),
    })
}

/// Percent-encodes what is not safe in a URL path (`/` stays).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The commit of a Flux revision (`main@sha1:<sha>`, `sha1:<sha>`, a bare
/// sha); `None` for an artifact digest (`latest@sha256:…`) or anything else.
pub fn commit_of(revision: &str) -> Option<&str> {
    let sha = match revision.rsplit_once("sha1:") {
        Some((_, sha)) => sha,
        None if !revision.contains(['@', ':']) => revision,
        None => return None,
    };
    (sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit())).then_some(sha)
}

/// The revision the findings are against, for people (`main@sha1:7c1e9d4b2a86`),
/// and its commit: the commit checked, else the revision the Kustomizations
/// applied (when they agree; else how many there are).
pub fn revision(report: &Report) -> (String, Option<&str>) {
    if let Some(r) = report.run.source.revision.as_deref() {
        return (short_revision(r), commit_of(r));
    }
    let mut applied: Vec<&str> = report
        .kustomizations
        .iter()
        .filter(|k| k.skipped.is_none())
        .filter_map(|k| k.applied_revision.as_deref())
        .collect();
    applied.sort_unstable();
    applied.dedup();
    match applied.as_slice() {
        [] => ("an unknown revision".to_string(), None),
        [one] => (short_revision(one), commit_of(one)),
        many => (
            format!(
                "{} applied revisions ({})",
                many.len(),
                many.iter()
                    .map(|r| short_revision(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
    }
}

/// A revision with its sha cut to 12 characters.
pub fn short_revision(r: &str) -> String {
    match commit_of(r) {
        Some(sha) if sha.len() > 12 => r.replace(sha, &sha[..12]),
        _ => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_come_from_github_gitlab_and_gitea_urls_in_every_git_url_form() {
        let cases = [
            (
                "ssh://git@github.com/acme/infra.git",
                "https://github.com/acme/infra/commit/abc1234",
                "https://github.com/acme/infra/blob/abc1234/infra/k8s/docs",
            ),
            (
                "git@gitlab.com:group/sub/infra.git",
                "https://gitlab.com/group/sub/infra/-/commit/abc1234",
                "https://gitlab.com/group/sub/infra/-/blob/abc1234/infra/k8s/docs",
            ),
            (
                "https://token@forgejo.example.org/plana/infra",
                "https://forgejo.example.org/plana/infra/src/commit/abc1234",
                "https://forgejo.example.org/plana/infra/src/commit/abc1234/infra/k8s/docs",
            ),
            (
                "ssh://git@codeberg.org:2222/plana/infra.git",
                "https://codeberg.org/plana/infra/src/commit/abc1234",
                "https://codeberg.org/plana/infra/src/commit/abc1234/infra/k8s/docs",
            ),
        ];
        for (url, commit, file) in cases {
            let t = LinkTemplates::default().or_from_repo(url);
            assert_eq!(t.commit("abc1234").as_deref(), Some(commit), "{url}");
            assert_eq!(
                t.file("abc1234", "./infra/k8s/docs").as_deref(),
                Some(file),
                "{url}"
            );
        }
    }

    #[test]
    fn an_unknown_host_or_a_local_path_gives_no_link_unless_configured() {
        for url in [
            "ssh://git@git.planapulse.com/plana-pulse/infra",
            "fixtures/infra-repo",
            "/srv/infra",
        ] {
            assert_eq!(
                LinkTemplates::default().or_from_repo(url),
                LinkTemplates::default(),
                "{url}"
            );
        }
        let configured = LinkTemplates {
            commit: Some("https://git.example.com/org/infra/src/commit/{sha}".into()),
            file: Some("https://git.example.com/org/infra/src/commit/{sha}/{path}".into()),
        };
        let t = configured.or_from_repo("https://github.com/acme/infra");
        assert_eq!(t, configured, "configured templates win");
        assert_eq!(
            t.file("abc1234", "./apps/my app").as_deref(),
            Some("https://git.example.com/org/infra/src/commit/abc1234/apps/my%20app")
        );
    }

    #[test]
    fn the_commit_of_a_flux_revision() {
        assert_eq!(
            commit_of("main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17"),
            Some("7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17")
        );
        assert_eq!(commit_of("0123456789abcdef"), Some("0123456789abcdef"));
        assert_eq!(commit_of("latest@sha256:0123456789abcdef"), None);
        assert_eq!(commit_of("main"), None);
    }

    fn entry(source: Option<(&str, &str, &str)>, applied: &str) -> KustomizationEntry {
        KustomizationEntry {
            namespace: "flux-system".into(),
            name: "apps".into(),
            path: "./apps/prod".into(),
            source: source.map(|(kind, name, url)| crate::report::SourceRef {
                kind: kind.into(),
                namespace: "flux-system".into(),
                name: name.into(),
                url: url.into(),
            }),
            revision: None,
            applied_revision: Some(applied.into()),
            suspended: false,
            suspended_since: None,
            objects: 1,
            error: None,
            skipped: None,
            ready: Some(true),
            failing: None,
            cluster: None,
        }
    }

    fn run(url: &str, revision: Option<&str>) -> Report {
        Report {
            schema: crate::report::SCHEMA,
            run: crate::report::Run {
                id: "r".into(),
                started_at: String::new(),
                finished_at: String::new(),
                cluster: "prod".into(),
                source: crate::report::Source {
                    url: url.into(),
                    revision: revision.map(str::to_string),
                    note: None,
                },
                api_requests: None,
            },
            summary: Default::default(),
            kustomizations: vec![],
            findings: vec![],
            errors: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn each_kustomization_links_into_its_own_source() {
        let configured = LinkTemplates {
            commit: Some("https://forge.example/infra/c/{sha}".into()),
            file: Some("https://forge.example/infra/f/{sha}/{path}".into()),
        };
        let applied = "main@sha1:7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17";
        let sha = "7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17";
        // The run's repo: the configured templates.
        let with_repo = run("/work/infra", Some("0123abc0123abc"));
        let own = entry(
            Some(("GitRepository", "flux-system", "/work/infra")),
            applied,
        );
        assert_eq!(
            for_kustomization(&configured, &with_repo, &own)
                .file
                .as_deref(),
            Some(format!("https://forge.example/infra/f/{sha}/apps/prod").as_str())
        );
        // Another GitRepository: derived from its own URL, at its own commit,
        // never the run's.
        let team = entry(
            Some((
                "GitRepository",
                "team",
                "ssh://git@github.com/acme/team.git",
            )),
            applied,
        );
        assert_eq!(
            for_kustomization(&configured, &with_repo, &team),
            KustomizationLinks {
                commit: Some(format!("https://github.com/acme/team/commit/{sha}")),
                file: Some(format!("https://github.com/acme/team/blob/{sha}/apps/prod")),
            }
        );
        let mut unknown = entry(
            Some(("GitRepository", "team", "https://git.internal/team")),
            "",
        );
        unknown.applied_revision = None;
        assert_eq!(
            for_kustomization(&configured, &with_repo, &unknown),
            KustomizationLinks::default()
        );
        // Artifacts: no commit to link to.
        let oci = entry(
            Some(("OCIRepository", "apps", "oci://ghcr.io/acme/apps")),
            "v1@sha256:5f0c3e1d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        );
        assert_eq!(
            for_kustomization(&configured, &with_repo, &oci),
            KustomizationLinks::default()
        );
        // Every source from the cluster: the configured templates are the
        // bootstrap repository's.
        let cluster = run(FROM_THE_CLUSTER, None);
        let bootstrap = entry(
            Some(("GitRepository", "flux-system", "https://git.internal/infra")),
            applied,
        );
        assert_eq!(
            for_kustomization(&configured, &cluster, &bootstrap)
                .commit
                .as_deref(),
            Some(format!("https://forge.example/infra/c/{sha}").as_str())
        );
        assert_eq!(
            for_kustomization(&configured, &cluster, &unknown),
            KustomizationLinks::default()
        );
    }
}
