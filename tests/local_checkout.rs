//! `--repo` naming a local git checkout (the manual run from a person's
//! clone): each Kustomization is rendered from the commit Flux applied, read
//! from the checkout's own object database, the work tree is the head,
//! `--revision` is honoured; and a revision Flux applied that cannot be read
//! (from a checkout or a URL) is an error, never a pending reconcile. Real
//! repositories built with the `git` binary; no network.

use std::path::Path;

use serde_json::Value;

use crate::source::{
    DOCS_DEPLOYMENT, ENV_PATH, FIXTURE_REVISION, History, OLD_URL,
    assert_rendered_from_applied_commit, check, errors, findings, git,
};
use crate::util::{Scratch, root};

/// The fixture platform committed to a fresh repository, and the snapshot
/// saying Flux applied that commit.
fn committed_fixtures() -> (Scratch, String) {
    let scratch = Scratch::new();
    let work = scratch.repo();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "the platform"]);
    let applied = git(&work, &["rev-parse", "HEAD"]);
    set_applied(&scratch.snapshot(), FIXTURE_REVISION, &applied);
    (scratch, applied)
}

/// Makes the snapshot's Kustomizations say Flux applied `to` instead of `from`.
fn set_applied(snapshot: &Path, from: &str, to: &str) {
    let status = snapshot.join("flux-system.yaml");
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.contains(from));
    std::fs::write(&status, text.replace(from, to)).unwrap();
}

fn run(repo: &Path, snapshot: &Path, extra: &[&str]) -> (i32, Value, String) {
    check(repo.to_str().unwrap(), snapshot, extra, &[])
}

/// Every `(Kustomization, revision rendered)` of a report.
fn rendered_revisions(report: &Value) -> Vec<(String, Value)> {
    report["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["revision"].clone(),
            )
        })
        .collect()
}

fn explanations(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["explanation"].as_str().map(str::to_string))
        .collect()
}

/// Regression: a checkout one commit ahead of what Flux applied (any commit)
/// made every finding "reconcile pending", and `check` exited 0.
#[test]
fn a_checkout_one_unrelated_commit_ahead_of_the_applied_one_finds_the_same_drift() {
    let (scratch, applied) = committed_fixtures();
    let work = scratch.repo();
    let (code, at_applied, stderr) = run(&work, &scratch.snapshot(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(errors(&at_applied), Vec::<String>::new());
    // What the shipped demo finds on the plain directory.
    let (_, plain, _) = run(
        &root().join("fixtures/infra-repo"),
        &scratch.snapshot(),
        &[],
    );
    assert_eq!(findings(&at_applied), findings(&plain));

    std::fs::write(work.join("README.md"), "an unrelated change\n").unwrap();
    git(&work, &["add", "README.md"]);
    git(&work, &["commit", "-qm", "readme"]);
    let ahead = git(&work, &["rev-parse", "HEAD"]);
    let (code, report, stderr) = run(&work, &scratch.snapshot(), &[]);
    assert_eq!(code, 1, "unexplained drift: {stderr}");
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(findings(&report), findings(&at_applied));
    assert!(
        explanations(&report)
            .iter()
            .all(|e| !e.starts_with("reconcile pending")),
        "{:?}",
        explanations(&report)
    );
    assert_eq!(report["run"]["source"]["revision"], ahead.as_str());
    assert_eq!(
        report["run"]["source"]["note"],
        format!("local checkout at {ahead}, no uncommitted changes").as_str()
    );
    for (name, revision) in rendered_revisions(&report) {
        assert_eq!(revision, applied.as_str(), "{name}");
    }
}

#[test]
fn a_checkout_renders_the_applied_commit_from_its_objects_and_its_work_tree_as_the_head() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let work = history.scratch.repo();
    let (code, report, stderr) = run(&work, &history.scratch.snapshot(), &[]);
    // The same as a clone of the URL: the applied commit's drift unexplained,
    // the head's label pending.
    assert_rendered_from_applied_commit(&report, &history);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        report["run"]["source"]["note"],
        format!("local checkout at {}, no uncommitted changes", history.head).as_str()
    );
}

#[test]
fn uncommitted_changes_are_rendered_as_the_head_and_noted() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let work = history.scratch.repo();
    let note = format!(
        "local checkout at {}, with uncommitted changes: the head is its work tree as it is, changes included",
        history.head
    );
    // An untracked file is a change too: Flux would render a new manifest.
    std::fs::write(work.join("untracked.txt"), "x").unwrap();
    let (_, report, _) = run(&work, &history.scratch.snapshot(), &[]);
    assert_eq!(report["run"]["source"]["note"], note.as_str());
    std::fs::remove_file(work.join("untracked.txt")).unwrap();

    history.scratch.edit(
        DOCS_DEPLOYMENT,
        "    tier: docs\n",
        "    tier: docs\n    edited: locally\n",
    );
    let (_, report, _) = run(&work, &history.scratch.snapshot(), &[]);
    assert_eq!(report["run"]["source"]["revision"], history.head.as_str());
    assert_eq!(report["run"]["source"]["note"], note.as_str());
    let paths: Vec<String> = findings(&report)
        .into_iter()
        .filter(|(object, ..)| object == "Deployment/docs-portal")
        .flat_map(|(_, _, _, paths)| paths)
        .collect();
    assert!(
        paths.contains(&"/metadata/labels/edited".to_string()),
        "the uncommitted label is rendered: {paths:?}"
    );
}

#[test]
fn a_revision_flag_on_a_checkout_renders_that_commit_not_the_work_tree() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let work = history.scratch.repo();
    // An uncommitted edit the commit asked for does not have.
    history.scratch.edit(
        DOCS_DEPLOYMENT,
        "    tier: docs\n",
        "    tier: docs\n    edited: locally\n",
    );
    let (code, report, stderr) = run(
        &work,
        &history.scratch.snapshot(),
        &["--revision", &format!("main@sha1:{}", history.applied)],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(
        report["run"]["source"]["revision"],
        history.applied.as_str()
    );
    assert_eq!(
        report["run"]["source"]["note"],
        format!(
            "revision {} asked for, read from the local checkout (its HEAD is {})",
            history.applied, history.head
        )
        .as_str()
    );
    let docs: Vec<_> = findings(&report)
        .into_iter()
        .filter(|(object, ..)| object == "Deployment/docs-portal")
        .collect();
    // The applied commit's old URL, unexplained; neither the head's label
    // nor the work tree's.
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert!(!docs[0].2 && docs[0].3.contains(&ENV_PATH.to_string()));
    assert!(
        !docs[0].3.iter().any(|p| p.starts_with("/metadata/labels")),
        "{docs:?}"
    );
    let deployment =
        std::fs::read_to_string(history.scratch.dir.path().join(DOCS_DEPLOYMENT)).unwrap();
    assert!(
        deployment.contains("edited: locally") && !deployment.contains(OLD_URL.1),
        "the work tree is untouched"
    );
}

#[test]
fn a_revision_missing_from_the_checkout_is_an_error_suggesting_git_fetch() {
    let (scratch, _) = committed_fixtures();
    let work = scratch.repo();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let (code, report, _) = run(&work, &scratch.snapshot(), &["--revision", missing]);
    assert_eq!(code, 2);
    assert_eq!(
        errors(&report),
        [format!(
            "source: {}: revision {missing} is not in this checkout's git objects (run `git fetch` in it, then check again)",
            work.display()
        )]
    );
}

/// Regression: an applied revision that could not be read was a warning,
/// then the head was rendered and all its drift explained as pending: exit 0.
#[test]
fn an_applied_revision_missing_from_the_checkout_is_a_source_error_and_drift_stays_unexplained() {
    let (scratch, head) = committed_fixtures();
    let work = scratch.repo();
    let (_, at_applied, _) = run(&work, &scratch.snapshot(), &[]);
    // Flux applied a commit this clone has not fetched.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    set_applied(&scratch.snapshot(), &head, missing);
    let (code, report, stderr) = run(&work, &scratch.snapshot(), &[]);
    assert_eq!(code, 2, "{stderr}");
    let errors = errors(&report);
    assert_eq!(errors.len(), 6, "one per Kustomization: {errors:?}");
    assert_eq!(
        errors
            .iter()
            .find(|e| e.contains("flux-system/docs"))
            .map(String::as_str),
        Some(
            format!(
                "source: Kustomization flux-system/docs: cannot read main@sha1:{missing}, the revision Flux last applied: {}: revision {missing} is not in this checkout's git objects (run `git fetch` in it, then check again)",
                work.display()
            )
            .as_str()
        )
    );
    let docs = report["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "docs")
        .unwrap();
    // Compared with the head, which the entry names.
    assert_eq!(docs["revision"], head.as_str(), "{docs:#}");
    // A person's edit is still unexplained.
    assert_eq!(findings(&report), findings(&at_applied));
    assert!(
        findings(&report)
            .iter()
            .any(
                |(object, _, explained, paths)| object == "Deployment/docs-portal"
                    && !explained
                    && paths.contains(&"/spec/replicas".to_string())
            )
    );
    assert!(
        explanations(&report)
            .iter()
            .all(|e| !e.starts_with("reconcile pending")),
        "{:?}",
        explanations(&report)
    );
}

#[test]
fn an_applied_revision_the_server_does_not_have_is_a_source_error_not_pending() {
    let served = tempfile::tempdir().unwrap();
    let history = History::new(served.path(), "infra");
    let missing = "0123456789abcdef0123456789abcdef01234567";
    set_applied(&history.scratch.snapshot(), &history.applied, missing);
    let url = format!("file://{}", history.bare.display());
    let (code, report, stderr) = check(&url, &history.scratch.snapshot(), &[], &[]);
    assert_eq!(code, 2, "{stderr}");
    let errors = errors(&report);
    assert_eq!(errors.len(), 6, "one per Kustomization: {errors:?}");
    assert!(
        errors.contains(&format!(
            "source: Kustomization flux-system/docs: cannot read main@sha1:{missing}, the revision Flux last applied: {url}: revision {missing} not found (not in the history of branch \"main\", and the server did not serve it by id)"
        )),
        "{errors:?}"
    );
    // Compared with the head: the head's label is drift nobody explains.
    let label = findings(&report)
        .into_iter()
        .find(|(object, _, _, paths)| {
            object == "Deployment/docs-portal" && paths.contains(&"/metadata/labels/tier".into())
        })
        .expect("the head's label");
    assert!(!label.2, "{label:?}");
    assert!(
        explanations(&report)
            .iter()
            .all(|e| !e.starts_with("reconcile pending")),
        "{:?}",
        explanations(&report)
    );
}

#[test]
fn a_directory_below_the_top_of_a_checkout_is_used_as_it_is() {
    // As drift-check's own fixtures/infra-repo: a copy of a tree inside
    // another repository, never what Flux applied.
    // The snapshot's applied revision is in neither repository.
    let scratch = Scratch::new();
    let outer = scratch.dir.path();
    git(outer, &["init", "-q"]);
    git(outer, &["add", "-A"]);
    git(outer, &["commit", "-qm", "outer"]);
    let (code, report, stderr) = run(&scratch.repo(), &scratch.snapshot(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(report["run"]["source"]["revision"], Value::Null);
    assert_eq!(
        report["run"]["source"]["note"],
        "local directory, used as it is (uncommitted changes included)"
    );
}
