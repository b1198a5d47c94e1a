//! The module graph of `src/` follows the import rule of ARCHITECTURE.md:
//! a top-level module imports only itself (its own children), the leaf
//! modules listed before it, and the stages listed before it. Read from
//! the `use crate::…` and `crate::…` paths of each file's non-test code
//! (test modules may build their inputs with anything), with the order read
//! from ARCHITECTURE.md, so neither can drift from the other. A total order
//! with only backward arrows leaves no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The leaves and the stages, in order, from ARCHITECTURE.md's `leaves:`
/// and `stages:` lines.
fn layers() -> Vec<String> {
    let text = std::fs::read_to_string(crate::util::root().join("ARCHITECTURE.md")).unwrap();
    let line = |tag: &str| -> Vec<String> {
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(tag))
            .unwrap_or_else(|| panic!("ARCHITECTURE.md has no `{tag}` line"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let mut order = line("leaves:");
    order.extend(line("stages:"));
    order
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files and folders of modules declared `#[cfg(test)] mod name;`.
fn test_modules(all: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in all {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let name = pair[1]
                .strip_prefix("pub ")
                .unwrap_or(pair[1])
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            if let (true, Some(name)) = (pair[0] == "#[cfg(test)]", name) {
                let stem = file.file_stem().unwrap();
                let dir = if stem == "mod" || stem == "lib" {
                    file.parent().unwrap().to_path_buf()
                } else {
                    file.with_extension("")
                };
                out.push(dir.join(format!("{name}.rs")));
                out.push(dir.join(name));
            }
        }
    }
    out
}

/// The code of a file before its inline test module, without comments.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names: `crate::name` and each first name
/// of `crate::{a, b::c, ...}`.
fn imports(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out.remove("self");
    out
}

/// The arrows of the graph that break the rule, as `from -> to (file)`.
fn upward_imports() -> Vec<String> {
    let src = crate::util::root().join("src");
    let order = layers();
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut all = Vec::new();
    files(&src, &mut all);
    let tests = test_modules(&all);
    let mut out = Vec::new();
    for file in &all {
        let relative = file.strip_prefix(&src).unwrap();
        if tests.iter().any(|t| file.starts_with(t)) || relative.file_name().unwrap() == "tests.rs"
        {
            continue;
        }
        let top = relative.iter().next().unwrap().to_string_lossy();
        let top = top.trim_end_matches(".rs");
        if top == "lib" || top == "main" {
            continue;
        }
        let from = *rank
            .get(top)
            .unwrap_or_else(|| panic!("src/{top} is in neither list of ARCHITECTURE.md"));
        let text = std::fs::read_to_string(file).unwrap();
        for to in imports(&code(&text)) {
            let allowed = to == top || rank.get(to.as_str()).is_some_and(|&r| r < from);
            if !allowed {
                out.push(format!("{top} -> {to} ({})", relative.display()));
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_itself_the_leaves_and_the_stages_before_it() {
    let broken = upward_imports();
    assert!(broken.is_empty(), "upward imports:\n{}", broken.join("\n"));
}

#[test]
fn the_rule_is_read_as_written() {
    let found = imports("use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h(); crate::{self};");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["a", "b", "e", "g"],
        "a group and a path"
    );
    assert_eq!(
        code("use crate::x; // crate::y\n#[cfg(test)]\nmod tests {\n use crate::z;\n}"),
        "use crate::x; ",
        "comments and the test module left out"
    );
}
