//! The two pattern languages of source-watcher's copy rules: Go's
//! `path.Match` (what `fs.Glob` uses for `from`: `*` never crosses a `/`,
//! so `**` is just `*`) and bmatcuk/doublestar v4 `Match` (what `exclude`
//! uses: a `**` segment spans any number of directories, `{a,b}` picks one).

/// Whether `path` has a glob metacharacter (source-watcher
/// `containsGlobChars`: `*`, `?`, `[`, `]`).
pub fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', ']'])
}

/// Go's `path.Match` of one pattern segment against one name: `*` any run
/// of characters, `?` one character, `[a-z]`/`[^a-z]` a class, `\` escapes.
/// A malformed pattern matches nothing.
pub fn match_segment(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

fn matches(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| matches(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && matches(&p[1..], &n[1..]),
        Some('[') => {
            let Some((c, rest)) = n.split_first() else {
                return false;
            };
            match class(&p[1..], *c) {
                Some((true, after)) => matches(after, rest),
                _ => false,
            }
        }
        Some('\\') => match (p.get(1), n.first()) {
            (Some(escaped), Some(c)) => escaped == c && matches(&p[2..], &n[1..]),
            _ => false,
        },
        Some(literal) => n.first() == Some(literal) && matches(&p[1..], &n[1..]),
    }
}

/// A character class after its `[`: whether `c` is in it, and the pattern
/// after its `]`; `None` when it is not closed.
fn class(p: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut p) = match p.first() {
        Some('^') | Some('!') => (true, &p[1..]),
        _ => (false, p),
    };
    let mut found = false;
    let mut first = true;
    loop {
        match p.first()? {
            ']' if !first => return Some((found != negated, &p[1..])),
            _ => {}
        }
        first = false;
        let (lo, rest) = class_char(p)?;
        p = rest;
        let hi = if p.first() == Some(&'-') && p.get(1).is_some_and(|c| *c != ']') {
            let (hi, rest) = class_char(&p[1..])?;
            p = rest;
            hi
        } else {
            lo
        };
        if lo <= c && c <= hi {
            found = true;
        }
    }
}

fn class_char(p: &[char]) -> Option<(char, &[char])> {
    match p.first()? {
        '\\' => Some((*p.get(1)?, &p[2..])),
        c => Some((*c, &p[1..])),
    }
}

/// doublestar v4 `Match` of a `/`-separated path: segments match as in
/// [`match_segment`], a `**` segment spans zero or more segments, and
/// `{a,b}` alternatives are expanded first.
pub fn doublestar_match(pattern: &str, path: &str) -> bool {
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    expand_braces(pattern).iter().any(|p| {
        let segments: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        match_segments(&segments, &path)
    })
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((segment, rest)) => path
            .split_first()
            .is_some_and(|(name, tail)| match_segment(segment, name) && match_segments(rest, tail)),
    }
}

/// `a{b,c}d` → `abd`, `acd` (nested braces too); a brace never closed is literal.
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = open + 1;
    for (i, c) in pattern[open..].char_indices().map(|(i, c)| (i + open, c)) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&pattern[start..i]);
                    let (head, tail) = (&pattern[..open], &pattern[i + 1..]);
                    return parts
                        .iter()
                        .flat_map(|part| expand_braces(&format!("{head}{part}{tail}")))
                        .collect();
                }
            }
            ',' if depth == 1 => {
                parts.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    vec![pattern.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_never_crosses_a_slash_and_double_star_is_one_segment() {
        assert!(match_segment("*.yaml", "app.yaml"));
        assert!(match_segment("*.yaml", ".yaml"));
        assert!(!match_segment("*.yaml", "app.yml"));
        assert!(match_segment("**", "anything"));
        assert!(match_segment("app-?", "app-1"));
        assert!(match_segment("[a-c]*", "base"));
        assert!(!match_segment("[^a-c]*", "base"));
        assert!(match_segment("\\*", "*"));
        assert!(!match_segment("[a-", "a"));
    }

    #[test]
    fn doublestar_spans_directories_and_expands_braces() {
        assert!(doublestar_match("**/*.md", "README.md"));
        assert!(doublestar_match("**/*.md", "docs/a/b.md"));
        assert!(doublestar_match("apps/**", "apps/a/b.yaml"));
        assert!(!doublestar_match("apps/*", "apps/a/b.yaml"));
        assert!(doublestar_match("*.{md,txt}", "notes.txt"));
        assert!(!doublestar_match("*.{md,txt}", "notes.yaml"));
    }
}
