//! The git source against real servers on 127.0.0.1 (started by
//! `scripts/test` through `scripts/services/git-servers`): git daemon, file://,
//! http-backend behind lighttpd with basic auth (http and https), sshd with a
//! key and known_hosts in the layout of Flux's Secret. Outside `scripts/test`
//! the tests that need a server skip, loudly; under it, a server missing is a
//! failure (see `util::service`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{Scratch, TestCommand, root, service};

/// The servers `scripts/services/git-servers` started.
struct Servers {
    root: PathBuf,
    daemon: String,
    http: String,
    http_auth: String,
    https: String,
    ca: String,
    user: String,
    password: String,
    ssh: String,
    ssh_secret: String,
    ssh_unknown_host_secret: String,
}

/// The test setup's git servers; `None` (skipped, loudly) outside `scripts/test`.
fn servers() -> Option<Servers> {
    let var = |name: &str| service(&format!("DRIFT_CHECK_TEST_GIT_{name}"));
    Some(Servers {
        root: var("ROOT")?.into(),
        daemon: var("DAEMON")?,
        http: var("HTTP")?,
        http_auth: var("HTTP_AUTH")?,
        https: var("HTTPS")?,
        ca: var("CA")?,
        user: var("HTTP_USER")?,
        password: var("HTTP_PASSWORD")?,
        ssh: var("SSH")?,
        ssh_secret: var("SSH_SECRET")?,
        ssh_unknown_host_secret: var("SSH_UNKNOWN_HOST_SECRET")?,
    })
}

/// A git command for building test repos (the product itself never runs git).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repo built from the fixture infra repo, with history:
/// - `applied`: docs-portal with an old base URL (what Flux applied; live has
///   another: real drift, which a render of the head would not show),
/// - 20 commits touching only a README (so a depth-1 clone lacks `applied`),
/// - `head`: docs-portal with the live base URL, plus a label Flux has not applied.
pub struct History {
    pub scratch: Scratch,
    pub applied: String,
    pub head: String,
    /// The bare repository served, under the servers' root when there is one.
    pub bare: PathBuf,
}

pub const DOCS_DEPLOYMENT: &str = "infra-repo/infra/k8s/docs/deployment.yaml";
/// The base URL live (and at the head), and at the applied commit.
pub const OLD_URL: (&str, &str) = (
    "value: https://docs.planapulse.com",
    "value: https://docs-old.planapulse.com",
);
pub const ENV_PATH: &str = "/spec/template/spec/containers/0/env/0/value";
/// The revision the shipped snapshot says Flux applied.
pub const FIXTURE_REVISION: &str = "7c1e9d4b2a86f03e5d91c4a7b8e2f6d03a9c5e17";

impl History {
    pub fn new(served_root: &Path, name: &str) -> Self {
        let scratch = Scratch::new();
        let work = scratch.repo();
        scratch.edit(DOCS_DEPLOYMENT, OLD_URL.0, OLD_URL.1);
        git(&work, &["init", "-q"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-qm", "docs: old base URL"]);
        let applied = git(&work, &["rev-parse", "HEAD"]);
        for i in 0..20 {
            std::fs::write(work.join("README.md"), format!("change {i}\n")).unwrap();
            git(&work, &["add", "README.md"]);
            git(&work, &["commit", "-qm", &format!("readme {i}")]);
        }
        scratch.edit(DOCS_DEPLOYMENT, OLD_URL.1, OLD_URL.0);
        scratch.edit(
            DOCS_DEPLOYMENT,
            "    app.kubernetes.io/name: docs-portal\nspec:",
            "    app.kubernetes.io/name: docs-portal\n    tier: docs\nspec:",
        );
        git(
            &work,
            &["commit", "-qam", "docs: the live base URL, a tier label"],
        );
        let head = git(&work, &["rev-parse", "HEAD"]);
        std::fs::create_dir_all(served_root).unwrap();
        let bare = served_root.join(format!("{name}.git"));
        let _ = std::fs::remove_dir_all(&bare);
        git(
            served_root,
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        // Flux applied the older commit: the snapshot's Kustomizations say so.
        let status = scratch.snapshot().join("flux-system.yaml");
        let text = std::fs::read_to_string(&status).unwrap();
        std::fs::write(&status, text.replace(FIXTURE_REVISION, &applied)).unwrap();
        Self {
            scratch,
            applied,
            head,
            bare,
        }
    }

    /// A new commit on the branch (for the cache test).
    fn push_commit(&self) -> String {
        let work = self.scratch.repo();
        std::fs::write(work.join("README.md"), "newer\n").unwrap();
        git(&work, &["commit", "-qam", "newer"]);
        git(
            &work,
            &["push", "-q", self.bare.to_str().unwrap(), "HEAD:main"],
        );
        git(&work, &["rev-parse", "HEAD"])
    }
}

/// Runs `drift-check check -o json` on a repo URL and the history's snapshot.
pub fn check(
    url: &str,
    snapshot: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let out = TestCommand::new()
        .args(["check", "--repo", url, "--live-snapshot"])
        .arg(snapshot)
        .arg("--config")
        .arg(root().join("fixtures/drift-check.yaml"))
        .args(["-o", "json"])
        .env("DRIFT_CHECK_GIT_TIMEOUT", "30")
        .args(extra)
        .envs(env)
        .output();
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, report, out.stderr)
}

/// Findings as `(object name, drift, explained, changed paths)`, sorted.
pub fn findings(report: &Value) -> Vec<(String, String, bool, Vec<String>)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["object"]["kind"].as_str().unwrap(),
                    f["object"]["name"].as_str().unwrap()
                ),
                f["drift"].as_str().unwrap().to_string(),
                f["explained"].as_bool().unwrap(),
                f["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn errors(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["stage"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// The checks every clone of the history must pass: the head is reported as
/// the source revision, each Kustomization was rendered from the applied
/// commit, the drift at that commit is unexplained, and what only the head
/// changes is "reconcile pending".
pub fn assert_rendered_from_applied_commit(report: &Value, history: &History) {
    assert_eq!(errors(report), Vec::<String>::new());
    assert_eq!(report["run"]["source"]["revision"], history.head.as_str());
    let docs = report["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "docs")
        .expect("the docs Kustomization");
    assert_eq!(docs["revision"], history.applied.as_str());
    assert_eq!(
        docs["applied_revision"],
        format!("main@sha1:{}", history.applied).as_str()
    );
    let deployment: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["object"]["name"] == "docs-portal" && f["object"]["kind"] == "Deployment")
        .collect();
    // Rendered from the applied commit: the old URL declared, another live, not explained.
    let url = deployment
        .iter()
        .find(|f| {
            f["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["path"] == ENV_PATH)
        })
        .expect("the base URL drift of the applied commit");
    assert_eq!(url["explained"], false, "{url:#}");
    let change = url["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == ENV_PATH)
        .unwrap();
    assert_eq!(
        (&change["desired"], &change["live"]),
        (
            &Value::from("https://docs-old.planapulse.com"),
            &Value::from("https://docs.planapulse.com")
        )
    );
    // Only at the head: the new label, explained as a pending reconcile.
    let label = deployment
        .iter()
        .find(|f| {
            f["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["path"] == "/metadata/labels/tier")
        })
        .expect("the head-only label");
    assert_eq!(label["explained"], true);
    assert_eq!(
        label["explanation"],
        format!(
            "reconcile pending: Flux last applied main@sha1:{}, git is at {}",
            history.applied, history.head
        )
        .as_str()
    );
    assert_eq!(label["changes"].as_array().unwrap().len(), 1, "{label:#}");
}

#[test]
fn a_kustomization_is_rendered_from_the_commit_flux_applied_over_file_urls() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let url = format!("file://{}", history.bare.display());
    let (code, report, stderr) = check(&url, &history.scratch.snapshot(), &[], &[]);
    assert_rendered_from_applied_commit(&report, &history);
    assert_eq!(code, 1, "unexplained drift: {stderr}");
    // Everything else is what the local checkout of the applied commit finds.
    let work = history.scratch.repo();
    git(&work, &["checkout", "-q", &history.applied]);
    let (_, local, _) = check(
        work.to_str().unwrap(),
        &history.scratch.snapshot(),
        &[],
        &[],
    );
    assert_eq!(local["run"]["source"]["revision"], history.applied.as_str());
    let mut from_git = findings(&report);
    from_git
        .retain(|(_, _, explained, paths)| !(*explained && paths == &["/metadata/labels/tier"]));
    assert_eq!(from_git, findings(&local));
}

/// One way to reach a git server of the test setup: a row of
/// [`clones_over_each_transport_render_the_commit_flux_applied`].
struct Transport<'a> {
    name: &'static str,
    /// The server's URL the bare repository `<repo>.git` is served under.
    base: &'a str,
    repo: &'static str,
    args: Vec<&'a str>,
    env: Vec<(&'static str, &'a str)>,
    /// A credential the binary is given and must never log.
    secret: Option<&'a str>,
}

impl Transport<'_> {
    /// Serves a history over this transport and checks the clone of it.
    fn clone_and_check(&self, served_root: &Path) {
        let history = History::new(served_root, self.repo);
        let url = format!("{}/{}.git", self.base, self.repo);
        let (_, report, stderr) = check(&url, &history.scratch.snapshot(), &self.args, &self.env);
        assert_rendered_from_applied_commit(&report, &history);
        if let Some(secret) = self.secret {
            assert!(!stderr.contains(secret), "the password was logged");
        }
    }
}

#[test]
fn clones_over_each_transport_render_the_commit_flux_applied() {
    let Some(s) = servers() else {
        return;
    };
    let transports = [
        Transport {
            name: "git daemon",
            base: &s.daemon,
            repo: "daemon",
            args: vec![],
            env: vec![],
            secret: None,
        },
        Transport {
            name: "plain http without credentials",
            base: &s.http,
            repo: "public",
            args: vec![],
            env: vec![],
            secret: None,
        },
        Transport {
            name: "https with basic auth",
            base: &s.https,
            repo: "basic",
            args: vec![],
            env: vec![
                ("SSL_CERT_FILE", s.ca.as_str()),
                ("DRIFT_CHECK_GIT_USERNAME", s.user.as_str()),
                ("DRIFT_CHECK_GIT_PASSWORD", s.password.as_str()),
            ],
            secret: Some(s.password.as_str()),
        },
        Transport {
            name: "ssh with the key and known_hosts of a Flux Secret",
            base: &s.ssh,
            repo: "ssh",
            args: vec!["--git-secret-dir", s.ssh_secret.as_str()],
            env: vec![],
            secret: None,
        },
    ];
    // Every row runs (in parallel, as separate tests did), each on a thread
    // named after it, and the failure names the rows that failed.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let rows: Vec<_> = transports
            .iter()
            .map(|t| {
                let thread = std::thread::Builder::new()
                    .name(format!("clones over {}", t.name))
                    .spawn_scoped(scope, || t.clone_and_check(&s.root))
                    .unwrap();
                (t.name, thread)
            })
            .collect();
        rows.into_iter()
            .filter_map(|(name, thread)| {
                let panic = thread.join().err()?;
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|m| m.to_string()))
                    .unwrap_or_default();
                Some(format!("{name}: {message}"))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} transports failed:\n{}",
        failures.len(),
        transports.len(),
        failures.join("\n")
    );
}

#[test]
fn a_token_from_a_file_is_sent_as_the_password() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "token");
    let token_file = history.scratch.dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", s.password)).unwrap();
    let url = format!("{}/token.git", s.https);
    let env = [
        ("SSL_CERT_FILE", s.ca.as_str()),
        ("DRIFT_CHECK_GIT_USERNAME", s.user.as_str()),
        ("DRIFT_CHECK_GIT_TOKEN_FILE", token_file.to_str().unwrap()),
    ];
    let (_, report, _) = check(&url, &history.scratch.snapshot(), &[], &env);
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(report["run"]["source"]["revision"], history.head.as_str());
}

#[test]
fn wrong_credentials_are_one_401_error_naming_the_url() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "wrong");
    let url = format!("{}/wrong.git", s.https);
    let env = [
        ("SSL_CERT_FILE", s.ca.as_str()),
        ("DRIFT_CHECK_GIT_USERNAME", s.user.as_str()),
        ("DRIFT_CHECK_GIT_PASSWORD", "not-the-password"),
    ];
    let (code, report, stderr) = check(&url, &history.scratch.snapshot(), &[], &env);
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {url}: authentication failed (check DRIFT_CHECK_GIT_TOKEN / _USERNAME / _PASSWORD or the Secret's identity): Credentials provided for \"{url}\" were not accepted by the remote: Received HTTP status 401: Unauthenticated"
        )]
    );
    assert!(
        !stderr.contains("not-the-password") && !report.to_string().contains("not-the-password")
    );
}

#[test]
fn credentials_are_never_sent_over_plain_http() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "cleartext");
    let url = format!("{}/cleartext.git", s.http_auth);
    let env = [("DRIFT_CHECK_GIT_TOKEN", s.password.as_str())];
    let (code, report, _) = check(&url, &history.scratch.snapshot(), &[], &env);
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {url}: authentication failed (check DRIFT_CHECK_GIT_TOKEN / _USERNAME / _PASSWORD or the Secret's identity): credentials are never sent over plain http: use the https:// URL"
        )]
    );
}

#[test]
fn an_untrusted_tls_certificate_is_an_error() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "untrusted");
    let url = format!("{}/untrusted.git", s.https);
    let (code, report, _) = check(&url, &history.scratch.snapshot(), &[], &[]);
    assert_eq!(code, 2);
    let errors = errors(&report);
    assert!(
        errors.len() == 1
            && errors[0].starts_with(&format!("source: {url}: TLS certificate not trusted"))
            && errors[0].contains("UnknownIssuer"),
        "{errors:?}"
    );
}

#[test]
fn an_unknown_ssh_host_key_is_refused() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "hostkey");
    let url = format!("{}/hostkey.git", s.ssh);
    let (code, report, _) = check(
        &url,
        &history.scratch.snapshot(),
        &["--git-secret-dir", &s.ssh_unknown_host_secret],
        &[],
    );
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {url}: ssh host key not trusted (strict host-key checking: add the host to the Secret's known_hosts): Host key verification failed."
        )]
    );
}

#[test]
fn the_cache_dir_is_reused_and_fetches_new_commits() {
    let Some(s) = servers() else {
        return;
    };
    let history = History::new(&s.root, "cached");
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/cached.git", s.daemon);
    let cache_arg = ["--cache-dir", cache.path().to_str().unwrap()];
    let (_, first, _) = check(&url, &history.scratch.snapshot(), &cache_arg, &[]);
    assert_rendered_from_applied_commit(&first, &history);
    let repos: Vec<_> = std::fs::read_dir(cache.path().join("repos"))
        .unwrap()
        .collect();
    assert_eq!(repos.len(), 1);
    let newer = history.push_commit();
    let (_, second, _) = check(&url, &history.scratch.snapshot(), &cache_arg, &[]);
    assert_eq!(errors(&second), Vec::<String>::new());
    assert_eq!(second["run"]["source"]["revision"], newer.as_str());
    let repos: Vec<_> = std::fs::read_dir(cache.path().join("repos"))
        .unwrap()
        .collect();
    assert_eq!(repos.len(), 1, "the clone is reused, not made again");
}

#[test]
fn a_revision_flag_checks_that_commit() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let url = format!("file://{}", history.bare.display());
    let (_, report, _) = check(
        &url,
        &history.scratch.snapshot(),
        &["--revision", &format!("main@sha1:{}", history.applied)],
        &[],
    );
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(
        report["run"]["source"]["revision"],
        history.applied.as_str()
    );
    assert_eq!(
        report["run"]["source"]["note"],
        format!(
            "revision {} asked for; branch main is at {}",
            history.applied, history.head
        )
        .as_str()
    );
}

#[test]
fn an_unknown_revision_is_one_error_naming_the_url() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let url = format!("file://{}", history.bare.display());
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let (code, report, _) = check(&url, &history.scratch.snapshot(), &["--revision", sha], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {url}: revision {sha} not found (not in the history of branch \"main\", and the server did not serve it by id)"
        )]
    );
}

#[test]
fn an_unknown_branch_is_one_error_naming_it() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let url = format!("file://{}", history.bare.display());
    let (code, report, _) = check(
        &url,
        &history.scratch.snapshot(),
        &["--branch", "prod"],
        &[],
    );
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {url}: branch \"prod\" not found on the remote (--branch)"
        )]
    );
}

#[test]
fn an_unreachable_server_is_one_error_naming_the_url() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scratch = Scratch::new();
    let url = format!("https://user:s3cret-pw@127.0.0.1:{port}/infra.git");
    let (code, report, stderr) = check(&url, &scratch.snapshot(), &[], &[]);
    assert_eq!(code, 2);
    let errors = errors(&report);
    let redacted = format!("https://***@127.0.0.1:{port}/infra.git");
    assert!(
        errors.len() == 1
            && errors[0].starts_with(&format!("source: {redacted}: server unreachable: "))
            && errors[0].contains("Connection refused"),
        "{errors:?}"
    );
    assert_eq!(report["run"]["source"]["url"], redacted.as_str());
    assert!(!stderr.contains("s3cret-pw") && !report.to_string().contains("s3cret-pw"));
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and hold them open without a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let scratch = Scratch::new();
    let url = format!("http://127.0.0.1:{port}/infra.git");
    let started = std::time::Instant::now();
    let (code, report, _) = check(&url, &scratch.snapshot(), &["--git-timeout", "2"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!("source: {url}: timed out after 2s (--git-timeout)")]
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
