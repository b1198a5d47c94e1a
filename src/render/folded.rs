//! Folded block scalars (`>`, `>-`, `>+`) as kustomize 5.8.1 hands them on.
//!
//! Input: the text of a YAML file of the repo and the documents the YAML
//! parser read from it (per the YAML spec). Output: the same documents with
//! each folded scalar's value as it comes out of `kustomize build` (and so out
//! of Flux, which builds with the same code). Pure.
//!
//! kustomize keeps a scalar's style through the build (kyaml nodes) and
//! writes it out with go-yaml v3's emitter, whose `yaml_emitter_write_folded_scalar`
//! decides whether a line break needs an extra one (a break between two
//! folded lines would read back as a space) by looking at the first character
//! of the *whole value* instead of the line after the break (`k := 0` where
//! libyaml's C walks from the current position; go-yaml/yaml#804 and #827,
//! yaml/go-yaml#337). So a break before a more-indented line gains a blank
//! line (`exists(c,\n  c.image` comes out `exists(c,\n\n  c.image`), and when
//! the value itself starts with a space no break gets its extra one, so
//! two plain lines after it fold into one. Literal scalars (`|`) come out as
//! they are read. A value go-yaml cannot write as a block scalar (a space
//! before a line break or at the end, a control character) is written quoted,
//! unchanged. Checked against the real binary by the conformance case
//! `fixtures/conformance/block-scalars-as-go-yaml-v3-emits`.

use std::borrow::Cow;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::Value;

/// One step from a document's root to a node.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A folded scalar: where it is in its document, and what the YAML spec reads.
type Folded = (Vec<Step>, String);

/// Rewrites every folded scalar of `documents` (parsed from `text`, empty
/// documents skipped) to the value kustomize 5.8.1 emits for it. A text the
/// event parser reads differently from the documents is left as it is.
pub fn as_kustomize_emits(text: &str, documents: &mut [Value]) {
    if !text.lines().any(opens_a_folded_scalar) {
        return;
    }
    let Some(found) = folded_scalars(text) else {
        return;
    };
    if found.len() != documents.len() {
        return;
    }
    for (document, scalars) in documents.iter_mut().zip(found) {
        for (path, value) in scalars {
            let Some(emitted) = as_go_yaml_v3_emits(&value) else {
                continue;
            };
            if let Some(Value::String(s)) = lookup(document, &path)
                && *s == value
            {
                *s = emitted;
            }
        }
    }
}

/// Whether a line may end in a folded scalar's header (`key: >-`,
/// `- >2  # comment`): only a file with one is read a second time, for its
/// events. A plain value ending in ` >` is a harmless false positive.
fn opens_a_folded_scalar(line: &str) -> bool {
    let line = line.split(" #").next().unwrap_or("").trim_end();
    let header = line.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    header.ends_with(" >") || header.ends_with(":>") || header == ">"
}

/// The folded scalars of each non-empty document: where they are and what
/// the YAML spec reads. `None` when the events cannot be read.
fn folded_scalars(text: &str) -> Option<Vec<Vec<Folded>>> {
    /// An open collection: a mapping (its current key, if a value is due)
    /// or a sequence (the index of the next item).
    enum Frame {
        Map(Option<Step>),
        Seq(usize),
    }
    let mut documents = Vec::new();
    let mut scalars = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<Step> = Vec::new();
    let mut empty = false;
    // What the next node is: a mapping key (`true`), or a value.
    let is_key = |stack: &[Frame]| matches!(stack.last(), Some(Frame::Map(None)));
    // Where the node that just started sits, once placed.
    let enter = |stack: &mut Vec<Frame>, path: &mut Vec<Step>| match stack.last_mut() {
        Some(Frame::Map(key)) => {
            if let Some(step) = key.take() {
                path.push(step);
            }
        }
        Some(Frame::Seq(index)) => {
            path.push(Step::Index(*index));
            *index += 1;
        }
        None => {}
    };
    for event in Parser::new_from_str(text) {
        let (event, _) = event.ok()?;
        match event {
            Event::DocumentStart(..) => {
                stack.clear();
                path.clear();
                scalars = Vec::new();
                empty = false;
            }
            Event::DocumentEnd if !empty => documents.push(std::mem::take(&mut scalars)),
            Event::Scalar(value, style, _, tag) => {
                if stack.is_empty() {
                    empty = tag.is_none()
                        && style == ScalarStyle::Plain
                        && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                    continue;
                }
                if is_key(&stack) {
                    if let Some(Frame::Map(key)) = stack.last_mut() {
                        *key = Some(Step::Key(value.into_owned()));
                    }
                    continue;
                }
                let depth = path.len();
                enter(&mut stack, &mut path);
                if style == ScalarStyle::Folded {
                    scalars.push((path.clone(), Cow::into_owned(value)));
                }
                path.truncate(depth);
            }
            Event::Alias(_) => {
                if is_key(&stack) {
                    // An aliased key: the path cannot be named; nothing under it is found.
                    if let Some(Frame::Map(key)) = stack.last_mut() {
                        *key = Some(Step::Key(String::new()));
                    }
                } else if let Some(Frame::Seq(index)) = stack.last_mut() {
                    *index += 1;
                } else if let Some(Frame::Map(key)) = stack.last_mut() {
                    *key = None;
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if is_key(&stack) {
                    // A complex key: what is under it has no path in JSON.
                    if let Some(Frame::Map(key)) = stack.last_mut() {
                        *key = Some(Step::Key(String::new()));
                    }
                    path.push(Step::Key(String::new()));
                } else {
                    enter(&mut stack, &mut path);
                }
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map(None),
                    _ => Frame::Seq(0),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if !stack.is_empty() {
                    path.pop();
                }
            }
            _ => {}
        }
    }
    Some(documents)
}

fn lookup<'v>(document: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(document, |node, step| match step {
        Step::Key(key) => node.as_object_mut()?.get_mut(key),
        Step::Index(index) => node.as_array_mut()?.get_mut(*index),
    })
}

/// What a folded scalar holding `value` reads as once go-yaml v3 has written
/// it out (`None` when that is `value` itself). Mirrors
/// `yaml_emitter_analyze_scalar` (whether a block scalar is allowed at all)
/// and `yaml_emitter_write_folded_scalar` (the breaks written) of
/// gopkg.in/yaml.v3 `emitterc.go`; the text written is read back by a
/// YAML parser, as Flux reads kustomize's output. Long lines that go-yaml
/// folds at 80 columns read back as they were, and are not folded here.
pub fn as_go_yaml_v3_emits(value: &str) -> Option<String> {
    if value.is_empty() || !block_allowed(value) {
        return None;
    }
    let blank = |c: char| c == ' ' || c == '\t';
    // The flaw: the character looked at is the whole value's first after
    // its leading breaks, not the next line's.
    let first_after_breaks = value.chars().find(|&c| c != '\n');
    let extra_breaks = !first_after_breaks.is_some_and(blank) && first_after_breaks.is_some();
    let mut body = String::with_capacity(value.len() + 16);
    let (mut breaks, mut leading_spaces) = (true, true);
    for c in value.chars() {
        if c == '\n' {
            if !breaks && !leading_spaces && extra_breaks {
                body.push('\n');
            }
            body.push('\n');
            breaks = true;
        } else {
            if breaks {
                body.push_str("  ");
                leading_spaces = blank(c);
            }
            body.push(c);
            breaks = false;
        }
    }
    let chomping = if !value.ends_with('\n') {
        "-"
    } else if value == "\n" || value.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let text = format!("v: >2{chomping}\n{body}");
    let read: std::collections::BTreeMap<String, String> = serde_saphyr::from_str(&text).ok()?;
    read.into_values().next().filter(|read| read != value)
}

/// Whether go-yaml v3 may write `value` as a block scalar: not with a space
/// at its end or before a line break, nor with a character it does not print
/// (`yaml_emitter_analyze_scalar`: `trailing_space`, `space_break`,
/// `special_characters`).
fn block_allowed(value: &str) -> bool {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            && c != '\u{FEFF}'
    };
    !value.ends_with(' ') && !value.contains(" \n") && value.chars().all(printable)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_break_before_a_more_indented_line_gains_a_blank_line() {
        // Regression: CEL `expression: >-` fields came out of kustomize (and
        // Flux) with a blank line drift-check did not have: a false "edited".
        assert_eq!(
            as_go_yaml_v3_emits("exists(c,\n  c.image.startsWith('x'))\n&& true").as_deref(),
            Some("exists(c,\n\n  c.image.startsWith('x'))\n&& true")
        );
        assert_eq!(
            as_go_yaml_v3_emits("one two\n  three\nfour\n").as_deref(),
            Some("one two\n\n  three\nfour\n")
        );
        assert_eq!(
            as_go_yaml_v3_emits("a\n\n  b\n\nc\n").as_deref(),
            Some("a\n\n\n  b\n\nc\n")
        );
        assert_eq!(
            as_go_yaml_v3_emits("a\n\tb\nc\n").as_deref(),
            Some("a\n\n\tb\nc\n")
        );
    }

    #[test]
    fn values_go_yaml_writes_faithfully_or_quoted_are_unchanged() {
        for value in [
            "a b\n",
            "a\nb\n",
            "a\n\nb",
            "  indented first\nthen",
            "  x\na b\n",
            // Written quoted: a space before a break, or at the end.
            "a \n  b\n",
            "q\n  r ",
            "",
        ] {
            assert_eq!(as_go_yaml_v3_emits(value), None, "{value:?}");
        }
    }

    #[test]
    fn only_a_line_that_may_open_a_folded_scalar_makes_a_file_read_twice() {
        for line in [
            "key: >",
            "key: >-",
            "  - >+",
            "k: >2- # why",
            ">",
            "  expression: >-  ",
        ] {
            assert!(opens_a_folded_scalar(line), "{line:?}");
        }
        for line in [
            "key: |",
            "a: x => y",
            "description: a > b holds",
            "k: '>'",
            "k: >x",
        ] {
            assert!(!opens_a_folded_scalar(line), "{line:?}");
        }
    }

    #[test]
    fn folded_scalars_are_found_by_path_in_each_non_empty_document() {
        let text = "---\n---\na:\n  b: >-\n    x\n      y\n  c: |\n    x\n      y\n  d:\n  - >\n    p\n      q\n---\nz: >\n  x\n    y\n";
        let mut documents = vec![
            json!({"a": {"b": "x\n  y", "c": "x\n  y\n", "d": ["p\n  q\n"]}}),
            json!({"z": "x\n  y\n"}),
        ];
        as_kustomize_emits(text, &mut documents);
        assert_eq!(
            documents,
            [
                json!({"a": {"b": "x\n\n  y", "c": "x\n  y\n", "d": ["p\n\n  q\n"]}}),
                json!({"z": "x\n\n  y\n"})
            ]
        );
    }
}
