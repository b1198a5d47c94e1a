//! A `GitRepository`'s spec as source-controller reads it
//! (`source.toolkit.fluxcd.io/v1`, `api/v1/gitrepository_types.go`), and
//! which ref it follows: source-controller's checkout strategy picks, in
//! this order, `commit`, `name`, `semver`, `tag`, then `branch` (default
//! `master`), and writes the revision as `<ref>@sha1:<commit>`
//! (fluxcd/pkg `git/repository` `CheckoutStrategyForOptions`).

use serde::Deserialize;
use serde_json::Value;

/// source-controller's branch when `spec.ref` names none (fluxcd/pkg
/// `git.DefaultBranch`).
pub const DEFAULT_BRANCH: &str = "master";

/// The fields of `spec` drift-check reads.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GitSpec {
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: Option<GitRef>,
    pub secret_ref: Option<NameRef>,
    pub proxy_secret_ref: Option<NameRef>,
    pub provider: Option<String>,
    pub ignore: Option<String>,
    pub recurse_submodules: bool,
    pub include: Vec<Include>,
    pub sparse_checkout: Vec<String>,
}

/// `spec.ref`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GitRef {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub semver: Option<String>,
    pub name: Option<String>,
    pub commit: Option<String>,
}

/// `{name: ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NameRef {
    pub name: String,
}

/// `spec.include[]`: another GitRepository's artifact, or a path of it,
/// copied into this one's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Include {
    pub repository: NameRef,
    pub from_path: Option<String>,
    pub to_path: Option<String>,
}

impl Include {
    /// Where the included files go: `toPath`, or the included repository's name.
    pub fn to(&self) -> &str {
        self.to_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.repository.name)
    }
}

/// Which ref is followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Follow {
    Branch(String),
    Tag(String),
    /// The highest tag in this semver range.
    Semver(String),
    /// A full ref name (`refs/heads/main`, `refs/pull/1/head`).
    Name(String),
    /// A commit, on `branch` when given.
    Commit {
        commit: String,
        branch: Option<String>,
    },
}

impl GitSpec {
    /// Reads `spec`; the error names the field.
    pub fn parse(spec: Option<&Value>) -> Result<Self, (String, String)> {
        let spec: GitSpec = crate::k8s::object::from_value(spec.unwrap_or(&Value::Null))
            .map_err(|e| ("spec".to_string(), e.to_string()))?;
        if spec.url.is_empty() {
            return Err((
                "spec.url".into(),
                "is missing (e.g. https://github.com/org/repo.git)".into(),
            ));
        }
        Ok(spec)
    }

    /// The ref followed, by source-controller's precedence.
    pub fn follow(&self) -> Result<Follow, (String, String)> {
        let r = self.reference.clone().unwrap_or_default();
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        if let Some(commit) = set(&r.commit) {
            if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((
                    "spec.ref.commit".into(),
                    format!("{commit:?} is not a full commit sha (40 hex digits)"),
                ));
            }
            return Ok(Follow::Commit {
                commit: commit.to_ascii_lowercase(),
                branch: set(&r.branch),
            });
        }
        if let Some(name) = set(&r.name) {
            if !name.starts_with("refs/") {
                return Err((
                    "spec.ref.name".into(),
                    format!("{name:?} is not a full ref name (e.g. refs/heads/main)"),
                ));
            }
            return Ok(Follow::Name(name));
        }
        if let Some(range) = set(&r.semver) {
            semver_req(&range).map_err(|m| ("spec.ref.semver".to_string(), m))?;
            return Ok(Follow::Semver(range));
        }
        if let Some(tag) = set(&r.tag) {
            return Ok(Follow::Tag(tag));
        }
        Ok(Follow::Branch(
            set(&r.branch).unwrap_or_else(|| DEFAULT_BRANCH.into()),
        ))
    }
}

impl Follow {
    /// The ref to fetch (a branch name, or a full ref name); `None` for a
    /// semver range (all tags are listed) and a commit off any branch.
    pub fn fetch_ref(&self) -> Option<String> {
        match self {
            Follow::Branch(b) => Some(b.clone()),
            Follow::Tag(t) => Some(format!("refs/tags/{t}")),
            Follow::Name(n) => Some(n.clone()),
            Follow::Commit { branch, .. } => branch.clone(),
            Follow::Semver(_) => None,
        }
    }

    /// Flux's revision of `commit` fetched through this ref (`tag` is the
    /// tag a semver range picked).
    pub fn revision(&self, tag: Option<&str>, commit: &str) -> String {
        match self {
            Follow::Branch(b) => format!("{b}@sha1:{commit}"),
            Follow::Tag(t) => format!("{t}@sha1:{commit}"),
            Follow::Name(n) => format!("{n}@sha1:{commit}"),
            Follow::Semver(_) => format!("{}@sha1:{commit}", tag.unwrap_or("")),
            Follow::Commit {
                branch: Some(b), ..
            } => format!("{b}@sha1:{commit}"),
            Follow::Commit { branch: None, .. } => format!("sha1:{commit}"),
        }
    }
}

/// A semver range as Flux writes it (Masterminds/semver: comparators
/// separated by spaces or commas, alternatives by `||`), as ranges of the
/// `semver` crate, any of which matches.
pub fn semver_req(range: &str) -> Result<Vec<semver::VersionReq>, String> {
    range
        .split("||")
        .map(|alternative| {
            let mut parts: Vec<String> = Vec::new();
            for token in alternative.split([' ', ',']).filter(|t| !t.is_empty()) {
                // `>= 1.0` is one comparator written with a space.
                match parts.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => {
                        last.push_str(token)
                    }
                    _ => parts.push(token.to_string()),
                }
            }
            let text = parts.join(", ");
            semver::VersionReq::parse(text.trim_start_matches('v')).map_err(|e| {
                format!("{range:?} is not a semver range (e.g. \">=1.0.0 <2.0.0\"): {e}")
            })
        })
        .collect()
}

/// The highest of `tags` in the range (tags may start with `v`; those
/// that are no version are left out), as Flux picks it.
pub fn highest_tag<'a>(
    range: &[semver::VersionReq],
    tags: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    tags.into_iter()
        .filter_map(|tag| {
            let version = semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
            range
                .iter()
                .any(|r| r.matches(&version))
                .then_some((version, tag))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn follow(reference: Value) -> Result<Follow, (String, String)> {
        GitSpec::parse(Some(&json!({"url": "https://h/r.git", "ref": reference})))
            .unwrap()
            .follow()
    }

    #[test]
    fn refs_are_picked_by_source_controllers_precedence() {
        assert_eq!(
            follow(json!({"branch": "main", "commit": "ABCDEF1234567ABCDEF1234567ABCDEF12345678"}))
                .unwrap(),
            Follow::Commit {
                commit: "abcdef1234567abcdef1234567abcdef12345678".into(),
                branch: Some("main".into())
            }
        );
        assert_eq!(
            follow(json!({"name": "refs/pull/1/head", "semver": "1.x", "tag": "v1"})).unwrap(),
            Follow::Name("refs/pull/1/head".into())
        );
        assert_eq!(
            follow(json!({"semver": ">=1.0.0", "tag": "v1", "branch": "main"})).unwrap(),
            Follow::Semver(">=1.0.0".into())
        );
        assert_eq!(
            follow(json!({"tag": "v1", "branch": "main"})).unwrap(),
            Follow::Tag("v1".into())
        );
        assert_eq!(
            follow(json!({"branch": "prod"})).unwrap(),
            Follow::Branch("prod".into())
        );
        assert_eq!(
            GitSpec::parse(Some(&json!({"url": "https://h/r.git"})))
                .unwrap()
                .follow()
                .unwrap(),
            Follow::Branch("master".into())
        );
    }

    #[test]
    fn revisions_are_written_as_flux_writes_them() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            Follow::Branch("main".into()).revision(None, sha),
            format!("main@sha1:{sha}")
        );
        assert_eq!(
            Follow::Semver("1.x".into()).revision(Some("v1.2.0"), sha),
            format!("v1.2.0@sha1:{sha}")
        );
        assert_eq!(
            Follow::Commit {
                commit: sha.into(),
                branch: None
            }
            .revision(None, sha),
            format!("sha1:{sha}")
        );
        assert_eq!(
            Follow::Tag("v1".into()).fetch_ref().as_deref(),
            Some("refs/tags/v1")
        );
    }

    #[test]
    fn bad_refs_name_the_field() {
        assert_eq!(
            follow(json!({"name": "main"})).unwrap_err(),
            (
                "spec.ref.name".to_string(),
                "\"main\" is not a full ref name (e.g. refs/heads/main)".to_string()
            )
        );
        assert_eq!(
            follow(json!({"commit": "xyz"})).unwrap_err().0,
            "spec.ref.commit"
        );
        assert_eq!(
            follow(json!({"semver": "not a range"})).unwrap_err().0,
            "spec.ref.semver"
        );
        assert_eq!(
            GitSpec::parse(Some(&json!({"ref": {"branch": "main"}})))
                .unwrap_err()
                .0,
            "spec.url"
        );
    }

    #[test]
    fn semver_picks_the_highest_tag_in_range_as_flux_does() {
        let tags = [
            "v1.0.0",
            "v1.2.0",
            "1.10.1",
            "v2.0.0",
            "latest",
            "v1.3.0-rc.1",
        ];
        let pick = |range: &str| highest_tag(&semver_req(range).unwrap(), tags).map(str::to_string);
        assert_eq!(pick(">=1.0.0 <2.0.0").as_deref(), Some("1.10.1"));
        assert_eq!(pick(">= 1.0.0, < 1.5").as_deref(), Some("v1.2.0"));
        assert_eq!(pick("1.x").as_deref(), Some("1.10.1"));
        assert_eq!(pick("~1.0 || ^2").as_deref(), Some("v2.0.0"));
        assert_eq!(pick(">=3"), None);
    }

    #[test]
    fn includes_go_to_the_repository_name_by_default() {
        let spec = GitSpec::parse(Some(&json!({"url": "https://h/r.git",
            "include": [{"repository": {"name": "shared"}}, {"repository": {"name": "b"}, "fromPath": "x", "toPath": "y/z"}]})))
        .unwrap();
        assert_eq!(spec.include[0].to(), "shared");
        assert_eq!(spec.include[1].to(), "y/z");
    }
}
