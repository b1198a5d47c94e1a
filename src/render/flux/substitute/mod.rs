//! `postBuild` variable substitution, as kustomize-controller runs it.
//!
//! Input: a rendered object, and the variables of `postBuild.substituteFrom`
//! (in order, later sources overriding earlier ones) overridden by
//! `postBuild.substitute` (fluxcd/pkg `kustomize_varsub.go`; newlines are
//! removed from values). Output: the object with Flux's envsubst applied
//! (fluxcd/pkg `envsubst`: `${v}`, `${v:=d}`, `${v:-d}`, `${v=d}`, `${v:+d}`,
//! `${#v}`, `${v:o:l}`, `${v/p/r}`, `${v#p}`, `${v%p}`, `${v^^}`, ...; `$$`
//! escapes a `$`).
//!
//! Flux substitutes the object's YAML text and parses the result again, so a
//! value substituted into a plain (unquoted) scalar is re-typed: `replicas:
//! ${N}` becomes an integer. This module does the same per scalar: a string
//! the YAML emitter would write plain is parsed again after substitution;
//! one it would quote (or write as a block) stays a string. Objects labelled
//! or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are left
//! alone, and nothing is substituted when there are no variables at all.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use crate::flux::PostBuild;
use crate::flux::SUBSTITUTE_ANNOTATION;
use crate::k8s::object;
use crate::render::{RenderError, Variables};

/// The variables for `postBuild`: `substituteFrom` sources in order, then
/// `substitute` on top. Names are validated.
pub fn variables(
    post_build: &PostBuild,
    sources: &Variables,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut vars = BTreeMap::new();
    let substitute_from = if sources.dry_run {
        &[][..]
    } else {
        &post_build.substitute_from[..]
    };
    for reference in substitute_from {
        if reference.kind != "ConfigMap" && reference.kind != "Secret" {
            continue;
        }
        match sources
            .sources
            .get(&(reference.kind.clone(), reference.name.clone()))
        {
            Some(data) => {
                for (k, v) in data {
                    vars.insert(k.clone(), v.replace('\n', ""));
                }
            }
            None if reference.optional => {}
            None => {
                return Err(RenderError::VariablesNotFound {
                    kind: reference.kind.clone(),
                    name: reference.name.clone(),
                });
            }
        }
    }
    for (k, v) in &post_build.substitute {
        vars.insert(k.clone(), v.replace('\n', ""));
    }
    if let Some(bad) = vars.keys().find(|k| !valid_name(k)) {
        return Err(RenderError::VariableName { name: bad.clone() });
    }
    Ok(vars)
}

/// `^[_[:alpha:]][_[:alpha:][:digit:]]*$`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The variables of [`variables`] whose value came from a Secret: set by a
/// `substituteFrom` Secret and not overridden by a later ConfigMap or by
/// `postBuild.substitute`. Their values are masked wherever they are
/// substituted (see [`object`]).
pub fn secret_variables(post_build: &PostBuild, sources: &Variables) -> BTreeSet<String> {
    let mut secret = BTreeSet::new();
    for reference in &post_build.substitute_from {
        let Some(data) = sources
            .sources
            .get(&(reference.kind.clone(), reference.name.clone()))
        else {
            continue;
        };
        for name in data.keys() {
            match reference.kind.as_str() {
                "Secret" => secret.insert(name.clone()),
                _ => secret.remove(name),
            };
        }
    }
    for name in post_build.substitute.keys() {
        secret.remove(name);
    }
    secret
}

/// How to substitute: whether an unset variable without a default is an
/// error, and whether to substitute when there are no variables at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mode {
    /// kustomize-controller's `StrictPostBuildSubstitutions` feature gate.
    pub strict: bool,
    /// `spec.postBuild.substituteStrategy: Always` (kustomize-controller
    /// v1.9): substitute even with no variables, so that `${var:=default}`
    /// gets its default. The default strategy, `WithVariables`, leaves the
    /// objects as built when no variable is defined.
    pub always: bool,
}

/// Substitutes the variables in one object, in place (fluxcd/pkg
/// `SubstituteVariables`): nothing when the object opts out with
/// `kustomize.toolkit.fluxcd.io/substitute: disabled` (label or
/// annotation), nor when there are no variables and the strategy is not
/// `Always`. Returns the JSON Pointers of the values whose substitution read
/// a variable of `secret` (whatever the operator: `${#v}` and `${v:+x}` tell
/// something of the value too), and of the maps one of whose keys did (a key
/// cannot be masked without renaming it, so its whole map is): the places to
/// mask.
pub fn object(
    object: &mut Value,
    vars: &BTreeMap<String, String>,
    secret: &BTreeSet<String>,
    mode: Mode,
) -> Result<Vec<String>, RenderError> {
    let strict = mode.strict;
    if (vars.is_empty() && !mode.always)
        || object::label(object, SUBSTITUTE_ANNOTATION) == Some("disabled")
        || object::annotation(object, SUBSTITUTE_ANNOTATION) == Some("disabled")
    {
        return Ok(Vec::new());
    }
    let subject = gvk_name(object);
    let read_secret = Cell::new(false);
    let lookup = |name: &str| {
        let value = vars.get(name).cloned();
        if value.is_some() && secret.contains(name) {
            read_secret.set(true);
        }
        value
    };
    let mut tracked = Tracked {
        lookup: &lookup,
        read_secret: &read_secret,
        strict,
        paths: Vec::new(),
    };
    tracked
        .value(object, &mut String::new())
        .map_err(|message| RenderError::Substitute {
            object: subject,
            message,
        })?;
    Ok(tracked.paths)
}

/// kustomize's `Gvk.String()` and the name, as kustomize-controller names
/// an object in a post-build error: `Deployment.v1.apps/web`,
/// `ConfigMap.v1.[noGrp]/settings`.
fn gvk_name(object: &Value) -> String {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let api_version = text("/apiVersion");
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let or = |s: &'static str, v: &str| {
        if v.is_empty() {
            s.to_string()
        } else {
            v.to_string()
        }
    };
    format!(
        "{}.{}.{}/{}",
        or("[noKind]", text("/kind")),
        or("[noVer]", version),
        or("[noGrp]", group),
        text("/metadata/name")
    )
}

/// One object's substitution, noting where a Secret's variable was read.
struct Tracked<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    read_secret: &'a Cell<bool>,
    strict: bool,
    paths: Vec<String>,
}

impl Tracked<'_> {
    /// Substitutes `text`; true when that read a Secret's variable.
    fn eval(&self, text: &str) -> Result<(String, bool), String> {
        self.read_secret.set(false);
        let result = eval(text, self.lookup, self.strict)?;
        Ok((result, self.read_secret.replace(false)))
    }

    /// Substitutes `value`, at JSON Pointer `path`.
    fn value(&mut self, value: &mut Value, path: &mut String) -> Result<(), String> {
        match value {
            Value::String(text) if text.contains('$') => {
                let (result, secret) = self.eval(text)?;
                *value = if emits_plain(text) {
                    retype(&result)?
                } else {
                    Value::String(result)
                };
                if secret {
                    self.paths.push(path.clone());
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "/{i}");
                    self.value(item, path)?;
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                let mut secret_key = false;
                for (key, mut item) in std::mem::take(map) {
                    let key = if key.contains('$') {
                        let (key, secret) = self.eval(&key)?;
                        secret_key |= secret;
                        key
                    } else {
                        key
                    };
                    let len = path.len();
                    let _ = write!(path, "/{}", key.replace('~', "~0").replace('/', "~1"));
                    self.value(&mut item, path)?;
                    path.truncate(len);
                    out.insert(key, item);
                }
                *map = out;
                if secret_key {
                    self.paths.push(path.clone());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Would a YAML emitter (go-yaml, which Flux uses to write the object out)
/// write this string as a plain scalar in block context? Only called on
/// strings holding a `$`, which never read as numbers, booleans or null.
fn emits_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let second = text.chars().nth(1);
    let followed_by_space = second.is_none_or(|c| c == ' ');
    !(text.contains('\n')
        || text.contains('\t')
        || text.starts_with(' ')
        || text.ends_with(' ')
        || "#,[]{}&*!|>'\"%@`".contains(first)
        || ("-?:".contains(first) && followed_by_space)
        || text.starts_with("---")
        || text.starts_with("...")
        || text.contains(": ")
        || text.ends_with(':')
        || text.contains(" #"))
}

/// Parses a substituted plain scalar again, as Flux's YAML round trip does:
/// `3` becomes an integer, `true` a boolean, an empty result null.
fn retype(text: &str) -> Result<Value, String> {
    let document = format!("v: {text}\n");
    let parsed = crate::yaml::documents(&document, Path::new("substituted value"))
        .map_err(|e| format!("the result is not valid YAML: {e}"))?;
    let value = parsed
        .into_iter()
        .next()
        .and_then(|mut d| d.as_object_mut().and_then(|m| m.remove("v")))
        .unwrap_or(Value::Null);
    Ok(match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::from(f as i64)
            } else {
                Value::Number(n)
            }
        }
        other => other,
    })
}

/// Evaluates Flux's envsubst on `text`. An unset variable is empty, unless
/// `strict` (then it is an error, except under a default operator).
pub fn eval(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        lookup,
        strict,
    };
    parser.text()
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    strict: bool,
}

const BAD: &str = "bad substitution";
const MISSING_BRACE: &str = "missing closing brace";

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    /// Top level: text with `${...}` and `$$` escapes.
    fn text(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            match (c, self.peek_at(1)) {
                ('$', Some('{')) => {
                    self.pos += 2;
                    out.push_str(&self.func()?);
                }
                ('$', Some('$')) => {
                    out.push('$');
                    self.pos += 2;
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(out)
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn expect_close(&mut self, error: &str) -> Result<(), String> {
        if self.peek() == Some('}') {
            self.pos += 1;
            Ok(())
        } else {
            Err(error.to_string())
        }
    }

    /// Takes up to `max` characters from `set`.
    fn operator(&mut self, set: &str, max: usize) -> String {
        let mut op = String::new();
        while op.chars().count() < max && self.peek().is_some_and(|c| set.contains(c)) {
            op.push(self.chars[self.pos]);
            self.pos += 1;
        }
        op
    }

    /// A function argument: text and nested `${...}` up to (not including)
    /// an unescaped character of `stop`. With `escapes`, `$$`, `\\` and `\/`
    /// stand for `$`, `\` and `/`.
    fn argument(&mut self, stop: &str, escapes: bool) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(MISSING_BRACE.into());
            };
            let next = self.peek_at(1);
            if c == '$' && next == Some('{') {
                self.pos += 2;
                out.push_str(&self.func()?);
            } else if escapes && c == '$' && next == Some('$') {
                out.push('$');
                self.pos += 2;
            } else if escapes && c == '\\' && matches!(next, Some('\\' | '/')) {
                out.push(next.unwrap_or('\\'));
                self.pos += 2;
            } else if stop.contains(c) {
                return Ok(out);
            } else {
                out.push(c);
                self.pos += 1;
            }
        }
    }

    /// After `${`: one parameter expansion, up to and including its `}`.
    fn func(&mut self) -> Result<String, String> {
        if self.peek() == Some('#') {
            self.pos += 1;
            let name = self.ident();
            if name.is_empty() {
                return Err(BAD.into());
            }
            self.expect_close(BAD)?;
            let value = self.value(&name, "#")?;
            return Ok(value.len().to_string());
        }
        let name = self.ident();
        if name.is_empty() {
            return Err("unable to parse variable name".into());
        }
        let (op, args): (String, Vec<String>) = match self.peek() {
            Some('}') => {
                self.pos += 1;
                (String::new(), Vec::new())
            }
            Some(':') if matches!(self.peek_at(1), Some('=' | '-' | '?' | '+')) => {
                let op = self.operator(":=-?+", 2);
                (op, self.default_arguments()?)
            }
            Some(':') => {
                self.pos += 1;
                let offset = self.argument(":}", false)?;
                let mut args = vec![offset];
                if self.peek() == Some(':') {
                    self.pos += 1;
                    args.push(self.argument("}", false)?);
                }
                self.expect_close(BAD)?;
                (":".into(), args)
            }
            Some('=') => {
                self.pos += 1;
                ("=".into(), self.default_arguments()?)
            }
            Some(',' | '^') => {
                let op = self.operator(",^", 2);
                self.expect_close(BAD)?;
                (op, Vec::new())
            }
            Some('/') => {
                self.pos += 1;
                let mut op = "/".to_string();
                if let Some(c @ ('/' | '#' | '%')) = self.peek() {
                    op.push(c);
                    self.pos += 1;
                }
                let pattern = self.argument("/}", true)?;
                if self.peek() != Some('/') {
                    return Err(BAD.into());
                }
                self.pos += 1;
                let mut args = vec![pattern];
                if self.peek() != Some('}') {
                    args.push(self.argument("}", true)?);
                }
                self.expect_close(BAD)?;
                (op, args)
            }
            Some(c @ ('#' | '%')) => {
                let op = self.operator(&c.to_string(), 2);
                let pattern = self.argument("}", false)?;
                self.expect_close(BAD)?;
                (op, vec![pattern])
            }
            _ => return Err(MISSING_BRACE.into()),
        };
        let value = self.value(&name, &op)?;
        Ok(apply(&op, value, &args))
    }

    /// The arguments of a default operator, up to and including `}`.
    fn default_arguments(&mut self) -> Result<Vec<String>, String> {
        let mut args = Vec::new();
        loop {
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(args);
            }
            args.push(self.argument("}", false)?);
        }
    }

    fn value(&self, name: &str, op: &str) -> Result<String, String> {
        match (self.lookup)(name) {
            Some(v) => Ok(v),
            None if self.strict && !is_default_op(op) => {
                Err(format!("variable not set (strict mode): {name:?}"))
            }
            None => Ok(String::new()),
        }
    }
}

fn is_default_op(op: &str) -> bool {
    matches!(op, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

/// The parameter expansion functions of fluxcd/pkg `envsubst/funcs.go`.
fn apply(op: &str, value: String, args: &[String]) -> String {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match op {
        "" => value,
        "," => map_first(&value, |c| c.to_lowercase().collect()),
        ",," => value.to_lowercase(),
        "^" => map_first(&value, |c| c.to_uppercase().collect()),
        "^^" => value.to_uppercase(),
        ":" => substring(&value, args),
        "/" => value.replacen(arg(0), arg(1), 1),
        "//" => value.replace(arg(0), arg(1)),
        "/#" if args.len() == 2 => match value.strip_prefix(arg(0)) {
            Some(rest) => format!("{}{rest}", arg(1)),
            None => value,
        },
        "/%" if args.len() == 2 => match value.strip_suffix(arg(0)) {
            Some(rest) => format!("{rest}{}", arg(1)),
            None => value,
        },
        "#" => trim_prefix(&value, arg(0), false),
        "##" => trim_prefix(&value, arg(0), true),
        "%" => reverse(&trim_prefix(&reverse(&value), &reverse(arg(0)), false)),
        "%%" => reverse(&trim_prefix(&reverse(&value), &reverse(arg(0)), true)),
        _ => {
            // Every default operator behaves as `:-` in Flux's envsubst.
            if value.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                value
            }
        }
    }
}

fn map_first(value: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}

/// `${v:offset}` / `${v:offset:length}` (byte offsets, as in Go).
fn substring(value: &str, args: &[String]) -> String {
    let len = value.len() as i64;
    let Some(Ok(mut pos)) = args.first().map(|a| a.trim().parse::<i64>()) else {
        return value.to_string();
    };
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let slice = |a: i64, b: i64| {
        value
            .get(a as usize..b as usize)
            .unwrap_or_default()
            .to_string()
    };
    let Some(length) = args.get(1) else {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    };
    let Ok(length) = length.trim().parse::<i64>() else {
        return value.to_string();
    };
    if length < 0 {
        let end = len + length;
        return if end < pos {
            String::new()
        } else {
            slice(pos, end)
        };
    }
    if pos + length >= len {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    }
    slice(pos, pos + length)
}

/// Removes the shortest (or longest) prefix matching the glob `pattern`.
fn trim_prefix(value: &str, pattern: &str, longest: bool) -> String {
    let ends: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .skip(1)
        .chain([value.len()])
        .collect();
    let mut matched = None;
    for end in ends {
        if glob(pattern, &value[..end]) {
            matched = Some(end);
            if !longest {
                break;
            }
        }
    }
    match matched {
        Some(end) => value[end..].to_string(),
        None => value.to_string(),
    }
}

/// A shell glob with `*` and `?` (other characters literal).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests;
