//! A decrypted SOPS file written out as SOPS writes it (`EmitPlainFile`),
//! byte for byte, so that a Secret generated from it has the content, and so
//! the name hash, kustomize-controller's has.
//!
//! kustomize-controller decrypts a generator's input file in place with
//! SOPS's store for its format (getsops/sops v3.13 `stores/*`): dotenv
//! (`KEY=value` lines, newlines written `\n`, comments kept), JSON (keys in
//! file order, Go's `json.Marshal` of each value, re-indented with tabs,
//! one final newline), YAML (go-yaml v3, indent 4) and binary (the `data`
//! string as it is). Where drift-check cannot be sure to write the same
//! bytes — a float, a YAML comment or a string go-yaml would fold or quote
//! in a way not handled here — the file is [`NotExact`]: its values are not
//! compared rather than compared wrong.

use serde_json::{Map, Value};

/// The file cannot be written exactly as SOPS writes it: what stands in
/// the way (no value quoted).
#[derive(Debug)]
pub struct NotExact(pub &'static str);

/// A dotenv file: `lines` in order, each a comment (`#…`, as read) or a
/// variable and its decrypted value.
pub fn dotenv(lines: &[DotenvLine]) -> Result<Vec<u8>, NotExact> {
    let mut out = String::new();
    for line in lines {
        match line {
            DotenvLine::Comment(text) => {
                out.push('#');
                out.push_str(text);
            }
            DotenvLine::Variable(key, value) => {
                out.push_str(key);
                out.push('=');
                match value {
                    Value::String(s) => out.push_str(&s.replace('\n', "\\n")),
                    Value::Bool(true) => out.push_str("True"),
                    Value::Bool(false) => out.push_str("False"),
                    Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
                    _ => return Err(NotExact("a value of a dotenv file that is not a string")),
                }
            }
        }
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// One line of a dotenv file.
#[derive(Clone, Debug)]
pub enum DotenvLine {
    Comment(String),
    Variable(String, Value),
}

/// A JSON document (its `sops` key removed), as SOPS's JSON store writes it.
pub fn json(document: &Map<String, Value>) -> Result<Vec<u8>, NotExact> {
    let mut compact = String::new();
    go_json_value(&Value::Object(document.clone()), &mut compact)?;
    let mut out = indent_like_go(&compact);
    out.push('\n');
    Ok(out.into_bytes())
}

fn go_json_value(value: &Value, out: &mut String) -> Result<(), NotExact> {
    match value {
        Value::Object(map) => {
            // SOPS's `encodeTree`: `{` key `: ` value, `,` — file order.
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::render::kustomize::go_json_string(key, out);
                out.push_str(": ");
                go_json_value(item, out)?;
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_value(item, out)?;
            }
            out.push(']');
        }
        Value::String(s) => crate::render::kustomize::go_json_string(s, out),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(_) => return Err(NotExact("a float (Go writes floats its own way)")),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
    Ok(())
}

/// Go's `json.Indent(…, "", "\t")` of compact JSON: a newline and tabs
/// after `{`, `[` and `,`, before a closing bracket; `:` followed by one
/// space; empty `{}` and `[]` stay as they are.
fn indent_like_go(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n('\t', depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => {
                out.push_str(": ");
                if chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            ' ' => {}
            c => out.push(c),
        }
    }
    out
}

/// A YAML document (its `sops` key removed) as SOPS's YAML store writes it
/// with go-yaml v3 at indent 4. `text` is the encrypted file: a comment in
/// it (which SOPS keeps) makes the file [`NotExact`].
pub fn yaml(document: &Map<String, Value>, text: &str) -> Result<Vec<u8>, NotExact> {
    if text.contains('#') {
        return Err(NotExact("a YAML comment (SOPS keeps comments)"));
    }
    let mut out = String::new();
    if document.is_empty() {
        out.push_str("{}\n");
    } else {
        yaml_mapping(document, 0, &mut out)?;
    }
    Ok(out.into_bytes())
}

const YAML_INDENT: usize = 4;

fn yaml_mapping(map: &Map<String, Value>, indent: usize, out: &mut String) -> Result<(), NotExact> {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str(&yaml_key(key)?);
        out.push(':');
        yaml_value(value, indent, out, false)?;
    }
    Ok(())
}

/// The rest of a line after `key:` (or `-`), and what follows it.
fn yaml_value(
    value: &Value,
    indent: usize,
    out: &mut String,
    in_sequence: bool,
) -> Result<(), NotExact> {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str(" {}\n"),
        Value::Array(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Object(map) => {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent + YAML_INDENT));
            yaml_mapping(map, indent + YAML_INDENT, out)?;
        }
        Value::Array(items) => {
            out.push('\n');
            yaml_sequence(items, indent + YAML_INDENT, out)?;
        }
        Value::String(s) if s.contains('\n') => {
            if in_sequence {
                return Err(NotExact("a multi-line string in a YAML list"));
            }
            literal(s, indent + YAML_INDENT, out)?;
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar)?);
            out.push('\n');
        }
    }
    Ok(())
}

/// go-yaml v3 writes a sequence in a mapping indented, `- ` then the item;
/// a mapping item's further keys aligned after the `- `.
fn yaml_sequence(items: &[Value], indent: usize, out: &mut String) -> Result<(), NotExact> {
    for item in items {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                yaml_mapping(map, indent + 2, out)?;
            }
            Value::Array(inner) if !inner.is_empty() => {
                return Err(NotExact("a YAML list in a list"));
            }
            other => yaml_value(other, indent, out, true)?,
        }
    }
    Ok(())
}

/// A multi-line string: go-yaml's literal style, `|-` without a final
/// newline, `|` with one.
fn literal(s: &str, indent: usize, out: &mut String) -> Result<(), NotExact> {
    let (body, chomp) = match s.strip_suffix('\n') {
        Some(body) if !body.ends_with('\n') => (body, ""),
        Some(_) => return Err(NotExact("a string ending in several newlines")),
        None => (s, "-"),
    };
    if body.starts_with([' ', '\t']) || body.contains('\r') || body.lines().any(str::is_empty) {
        return Err(NotExact(
            "a multi-line string go-yaml would write otherwise",
        ));
    }
    if body.lines().any(|l| l.ends_with([' ', '\t'])) {
        return Err(NotExact("a multi-line string with trailing spaces"));
    }
    out.push_str(" |");
    out.push_str(chomp);
    out.push('\n');
    for line in body.split('\n') {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(line);
        out.push('\n');
    }
    Ok(())
}

fn yaml_key(key: &str) -> Result<String, NotExact> {
    if plain_safe(key) && !resolves_to_other_than_string(key) {
        Ok(key.to_string())
    } else {
        Err(NotExact("a YAML key go-yaml would quote"))
    }
}

fn yaml_scalar(value: &Value) -> Result<String, NotExact> {
    match value {
        Value::Null => Ok("null".into()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::Number(_) => Err(NotExact("a float (go-yaml writes floats its own way)")),
        Value::String(s) if resolves_to_other_than_string(s) => {
            // go-yaml v3 double-quotes a string that would read as another
            // type (`"true"`, `"5432"`, `"yes"`, `""`).
            if s.chars().all(|c| c.is_ascii_graphic() || c == ' ') && !s.contains(['"', '\\']) {
                Ok(format!("\"{s}\""))
            } else {
                Err(NotExact("a string go-yaml would quote"))
            }
        }
        Value::String(s) if plain_safe(s) => Ok(s.clone()),
        Value::String(_) => Err(NotExact("a string go-yaml would quote")),
        _ => Err(NotExact("a nested value")),
    }
}

/// A string go-yaml certainly writes plain: letters, digits and a few
/// punctuation marks that start and end nothing in YAML.
fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || matches!(first, '/' | '_' | '.'))
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, ' ' | '_' | '.' | '/' | '-' | '@' | '+' | '=' | ':' | '%')
        })
}

/// Would YAML read this string as something else (go-yaml v3 resolving a
/// plain scalar, with its YAML 1.1 booleans and base-60 floats)?
fn resolves_to_other_than_string(s: &str) -> bool {
    static OTHER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let other = OTHER.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(?:|~|null|Null|NULL|true|True|TRUE|false|False|FALSE",
            r"|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
            r"|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?",
            r"|0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ))
        .expect("a valid regular expression")
    });
    other.is_match(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_is_indented_with_tabs_in_file_order_as_sops_writes_it() {
        let document = json!({"b": {"x": "<&>", "y": [1, true, null]}, "a": {}, "c": []});
        let out = json(document.as_object().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n\t\"b\": {\n\t\t\"x\": \"\\u003c\\u0026\\u003e\",\n\t\t\"y\": [\n\t\t\t1,\n\t\t\ttrue,\n\t\t\tnull\n\t\t]\n\t},\n\t\"a\": {},\n\t\"c\": []\n}\n"
        );
        assert!(json(json!({"f": 0.5}).as_object().unwrap()).is_err());
    }

    #[test]
    fn yaml_is_written_at_indent_four_quoting_what_would_read_as_another_type() {
        let document = json!({"db": {"user": "admin", "port": 5432, "tls": "true", "zip": "01234"},
            "hosts": ["a.example", "b.example"], "users": [{"name": "x", "role": "ro"}],
            "cert": "line one\nline two\n", "empty": ""});
        let out = yaml(document.as_object().unwrap(), "").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "db:\n    user: admin\n    port: 5432\n    tls: \"true\"\n    zip: \"01234\"\nhosts:\n    - a.example\n    - b.example\nusers:\n    - name: x\n      role: ro\ncert: |\n    line one\n    line two\nempty: \"\"\n"
        );
        assert!(yaml(json!({"a": "x: y"}).as_object().unwrap(), "").is_err());
        assert!(yaml(json!({"a": "b"}).as_object().unwrap(), "# note\n").is_err());
    }

    #[test]
    fn yaml_strings_are_quoted_as_sops_decrypt_writes_them() {
        // The expected text is what `sops --decrypt` (v3.13.3) wrote for
        // these values.
        let document = json!({"a": "true", "b": "yes", "c": "5432", "d": "", "e": "01234",
            "f": "08", "g": "1:20", "h": "~", "i": "x y", "j": "a.b/c-d@e",
            "k": "line1\nline2\n", "l": "line1\nline2", "m": {}, "o": "null", "p": ".5"});
        let out = yaml(document.as_object().unwrap(), "").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a: \"true\"\nb: \"yes\"\nc: \"5432\"\nd: \"\"\ne: \"01234\"\nf: \"08\"\ng: \"1:20\"\nh: \"~\"\ni: x y\nj: a.b/c-d@e\nk: |\n    line1\n    line2\nl: |-\n    line1\n    line2\nm: {}\no: \"null\"\np: \".5\"\n"
        );
        // sops writes the key `n` quoted (a YAML 1.1 boolean): not exact here.
        assert!(yaml(json!({"n": []}).as_object().unwrap(), "").is_err());
    }

    #[test]
    fn dotenv_lines_keep_comments_and_escape_newlines() {
        let lines = [
            DotenvLine::Comment(" generated".into()),
            DotenvLine::Variable("A".into(), json!("x\ny")),
            DotenvLine::Variable("B".into(), json!("")),
        ];
        assert_eq!(dotenv(&lines).unwrap(), b"# generated\nA=x\\ny\nB=\n");
    }
}
