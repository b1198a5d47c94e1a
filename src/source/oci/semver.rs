//! `spec.ref.semver` and `spec.ref.semverFilter`: the tag source-controller
//! picks (`getTagBySemver`): the tags the filter regex matches, parsed as
//! semver (fluxcd/pkg `version.ParseVersion`: strict `X.Y.Z`, a leading `v`
//! allowed), kept when the constraint (Masterminds/semver syntax) holds,
//! the highest wins.

use semver::{Comparator, Op, Version, VersionReq};

/// A Masterminds/semver constraint: alternatives (`||`) of comparators that
/// must all hold (separated by spaces or commas).
#[derive(Clone, Debug)]
pub struct Constraint {
    alternatives: Vec<Alternative>,
}

#[derive(Clone, Debug)]
struct Alternative {
    req: VersionReq,
    /// `!=` comparators, which `semver` has no operator for.
    not: Vec<VersionReq>,
}

impl Constraint {
    /// Parses Masterminds syntax: `=`, `!=`, `>`, `<`, `>=`, `<=`, `~`,
    /// `~>`, `^`, x-ranges (`1.2.x`, `*`), hyphen ranges (`1.2 - 1.4.5`),
    /// a bare version meaning `=`, `,` or space for "and", `||` for "or".
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let tokens = tokens(alternative);
            if tokens.is_empty() {
                return Err(format!("{text:?}: empty constraint"));
            }
            let mut comparators = Vec::new();
            let mut not = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                // Hyphen range `A - B`: >= A, <= B.
                if tokens.get(i + 1).map(String::as_str) == Some("-") && i + 2 < tokens.len() {
                    comparators.extend(comparator(&format!(">={}", tokens[i]), text)?);
                    comparators.extend(comparator(&format!("<={}", tokens[i + 2]), text)?);
                    i += 3;
                    continue;
                }
                let token = &tokens[i];
                if let Some(version) = token.strip_prefix("!=") {
                    not.push(VersionReq {
                        comparators: comparator(&format!("={version}"), text)?
                            .into_iter()
                            .collect(),
                    });
                } else if let Some(c) = comparator(token, text)? {
                    comparators.push(c);
                }
                i += 1;
            }
            alternatives.push(Alternative {
                req: VersionReq { comparators },
                not,
            });
        }
        Ok(Self { alternatives })
    }

    /// Whether `version` satisfies the constraint.
    ///
    /// As Masterminds/semver v3: a pre-release version matches only a
    /// constraint that names a pre-release, and then by plain ordering.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|a| {
            let holds = if a.req.comparators.iter().any(|c| !c.pre.is_empty()) {
                a.req.comparators.iter().all(|c| ordered_match(c, version))
            } else {
                a.req.matches(version)
            };
            holds && !a.not.iter().any(|n| n.matches(version))
        })
    }
}

/// A comparator by plain version ordering (pre-releases included).
fn ordered_match(c: &Comparator, version: &Version) -> bool {
    let bound = Version {
        major: c.major,
        minor: c.minor.unwrap_or(0),
        patch: c.patch.unwrap_or(0),
        pre: c.pre.clone(),
        build: semver::BuildMetadata::EMPTY,
    };
    match c.op {
        Op::Greater => version > &bound,
        Op::GreaterEq => version >= &bound,
        Op::Less => version < &bound,
        Op::LessEq => version <= &bound,
        _ => {
            let mut release = version.clone();
            release.pre = semver::Prerelease::EMPTY;
            c.matches(&release)
        }
    }
}

/// The constraint's words, an operator glued to the version after it
/// (`>= 1.0` is one comparator).
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for word in text.split([' ', ',', '\t']).filter(|w| !w.is_empty()) {
        if word.chars().all(|c| "<>=!~^".contains(c)) {
            pending.push_str(word);
            continue;
        }
        out.push(format!("{pending}{word}"));
        pending.clear();
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

/// One comparator in the `semver` crate's terms; `None` for `*` (any
/// version).
fn comparator(token: &str, text: &str) -> Result<Option<Comparator>, String> {
    let split = token
        .find(|c: char| !"<>=!~^".contains(c))
        .unwrap_or(token.len());
    let (op, version) = token.split_at(split);
    let version = version.strip_prefix('v').unwrap_or(version);
    if matches!(version, "*" | "x" | "X") {
        return Ok(None);
    }
    let op = match op {
        "" | "=" => "=",
        "~>" => "~",
        other => other,
    };
    Comparator::parse(&format!("{op}{version}"))
        .map(Some)
        .map_err(|e| format!("{text:?}: {token:?}: {e}"))
}

/// fluxcd/pkg `version.ParseVersion`: strict semver with an optional `v`.
pub fn parse_tag(tag: &str) -> Option<Version> {
    Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// The tag source-controller picks among `tags`: the highest version the
/// constraint allows, among those `filter` (a regex) matches. Among equal
/// versions (`1.0.0`, `v1.0.0`), the first listed wins.
pub fn select<'a>(
    tags: &'a [String],
    range: &str,
    filter: Option<&str>,
) -> Result<Option<&'a str>, String> {
    let constraint = Constraint::parse(range)?;
    let filter = match filter {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| format!("semverFilter {f:?}: {e}"))?),
        None => None,
    };
    let mut best: Option<(Version, &str)> = None;
    for tag in tags {
        if filter.as_ref().is_some_and(|f| !f.is_match(tag)) {
            continue;
        }
        let Some(version) = parse_tag(tag) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| version > *b) {
            best = Some((version, tag));
        }
    }
    Ok(best.map(|(_, tag)| tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_highest_tag_the_constraint_allows() {
        let t = tags(&[
            "v1.0.0",
            "v1.2.0",
            "v1.10.1",
            "v2.0.0",
            "latest",
            "1.5",
            "v1.11.0-rc.1",
        ]);
        assert_eq!(select(&t, ">=1.0.0 <2.0.0", None).unwrap(), Some("v1.10.1"));
        assert_eq!(
            select(&t, ">= 1.0.0, < 2.0.0", None).unwrap(),
            Some("v1.10.1")
        );
        assert_eq!(select(&t, "~1.2", None).unwrap(), Some("v1.2.0"));
        assert_eq!(select(&t, "^1", None).unwrap(), Some("v1.10.1"));
        assert_eq!(select(&t, "1.x", None).unwrap(), Some("v1.10.1"));
        assert_eq!(select(&t, "*", None).unwrap(), Some("v2.0.0"));
        assert_eq!(select(&t, "1.2.0", None).unwrap(), Some("v1.2.0"));
        assert_eq!(
            select(&t, "<1.0.0 || >=2.0.0", None).unwrap(),
            Some("v2.0.0")
        );
        assert_eq!(select(&t, "1.0.0 - 1.5.0", None).unwrap(), Some("v1.2.0"));
        assert_eq!(
            select(&t, ">=1.0.0 <2.0.0 !=1.10.1", None).unwrap(),
            Some("v1.2.0")
        );
        assert_eq!(select(&t, ">=3.0.0", None).unwrap(), None);
        // Pre-releases only when the constraint names one of the same version.
        assert_eq!(
            select(&t, ">=1.11.0-rc.0 <2.0.0", None).unwrap(),
            Some("v1.11.0-rc.1")
        );
    }

    #[test]
    fn the_filter_narrows_the_tags_first() {
        let t = tags(&["1.0.0-dev.1", "1.0.0-dev.2", "1.0.0", "0.9.0"]);
        assert_eq!(
            select(&t, ">=0.0.0-0", Some(".*-dev.*")).unwrap(),
            Some("1.0.0-dev.2")
        );
        assert!(
            select(&t, ">=1", Some("("))
                .unwrap_err()
                .starts_with("semverFilter \"(\"")
        );
        assert!(select(&t, ">=banana", None).is_err());
    }
}
