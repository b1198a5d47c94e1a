//! Label selectors as Kubernetes parses them: a port of apimachinery's
//! `labels.Parse` (`pkg/labels/selector.go`), used for `labelSelector` and,
//! as kustomize does, `annotationSelector`.
//!
//! Input: selector text (`app=web,tier!=db`, `env in (prod,staging)`, `!legacy`,
//! `replicas>1`). Output: the requirements, or why the text is not a
//! selector; then whether a map of labels (or annotations) satisfies all of
//! them. As in apimachinery, a comma must be followed by another requirement
//! (`a=b,` is an error), values are label values (`k in (a=b)` is an
//! error), keys are qualified names, and the empty text selects everything.

use serde_json::{Map, Value};

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// One requirement: a key, an operator and its values.
#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// apimachinery's `selection.Operator`s that `labels.Parse` produces.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operator {
    /// `k=v`
    Equals,
    /// `k==v`
    DoubleEquals,
    /// `k!=v`
    NotEquals,
    /// `k in (v1,v2)`
    In,
    /// `k notin (v1,v2)`
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>n`
    GreaterThan,
    /// `k<n`
    LessThan,
}

/// Why selector text does not parse, in apimachinery's words.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl LabelSelector {
    /// Parses selector text as apimachinery's `labels.Parse` does.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let tokens = lex(text);
        Parser {
            tokens: &tokens,
            position: 0,
        }
        .parse()
        .map(|requirements| Self { requirements })
    }

    /// Does the map (labels or annotations; absent is empty) satisfy every
    /// requirement? Values that are not strings count as absent.
    pub fn matches(&self, map: Option<&Map<String, Value>>) -> bool {
        let get = |key: &str| map.and_then(|m| m.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|r| r.matches(get(&r.key)))
    }
}

impl Requirement {
    /// apimachinery's `Requirement.Matches`, given the subject's value.
    fn matches(&self, value: Option<&str>) -> bool {
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => value.is_some_and(listed),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !listed(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), [want]) =
                    (value.and_then(|v| v.parse::<i64>().ok()), &self.values[..])
                else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// A lexer token (apimachinery's `Token`), with its literal text.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// apimachinery's `string2token`.
fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the text into tokens, ending with [`Token::End`]: runs of special
/// symbols make the longest operator they start with; anything else up to
/// a special symbol or whitespace is an identifier (or `in`/`notin`).
fn lex(text: &str) -> Vec<(Token, &str)> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos == bytes.len() {
            tokens.push((Token::End, ""));
            return tokens;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // Every single special symbol is a token, so this always finds one.
            let mut token = (Token::End, "");
            while pos < bytes.len() && is_special(bytes[pos]) {
                match keyword(&text[start..=pos]) {
                    Some(t) => token = (t, &text[start..=pos]),
                    None => break,
                }
                pos += 1;
            }
            tokens.push(token);
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            let word = &text[start..pos];
            tokens.push((keyword(word).unwrap_or(Token::Identifier), word));
        }
    }
}

/// Where the parser is: after a key, `in` and `notin` are operators; where a
/// key or value is expected they are identifiers (`in in (in)`).
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'t> {
    tokens: &'t [(Token, &'t str)],
    position: usize,
}

impl<'t> Parser<'t> {
    fn lookahead(&self, context: Context) -> (Token, &'t str) {
        let (token, literal) = self.tokens[self.position];
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, &'t str) {
        let item = self.lookahead(context);
        // The last token is End; the grammar never consumes past it.
        self.position = (self.position + 1).min(self.tokens.len() - 1);
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, ParseError> {
        let mut requirements = Vec::new();
        loop {
            match self.lookahead(Context::Values) {
                (Token::Identifier | Token::DoesNotExist, _) => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| ParseError(format!("unable to parse requirement: {e}")))?;
                    requirements.push(requirement);
                    match self.consume(Context::Values) {
                        (Token::End, _) => return Ok(requirements),
                        (Token::Comma, _) => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier | Token::DoesNotExist) {
                                return Err(ParseError(format!(
                                    "found '{literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        (_, literal) => {
                            return Err(ParseError(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                (Token::End, _) => return Ok(requirements),
                (_, literal) => {
                    return Err(ParseError(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, ParseError> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        if let Some(operator) = inferred {
            return new_requirement(key, operator, Vec::new());
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        new_requirement(key, operator, values)
    }

    /// The key, and `Exists`/`DoesNotExist` when nothing (or `!`) says otherwise.
    fn key_and_inferred_operator(&mut self) -> Result<(&'t str, Option<Operator>), ParseError> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(ParseError(format!(
                "found '{literal}', expected: identifier"
            )));
        }
        validate_key(literal)?;
        if operator.is_none()
            && matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma)
        {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn operator(&mut self) -> Result<Operator, ParseError> {
        Ok(match self.consume(Context::KeyAndOperator) {
            (Token::In, _) => Operator::In,
            (Token::Equals, _) => Operator::Equals,
            (Token::DoubleEquals, _) => Operator::DoubleEquals,
            (Token::GreaterThan, _) => Operator::GreaterThan,
            (Token::LessThan, _) => Operator::LessThan,
            (Token::NotIn, _) => Operator::NotIn,
            (Token::NotEquals, _) => Operator::NotEquals,
            (_, literal) => {
                return Err(ParseError(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                )));
            }
        })
    }

    /// `(v1,v2)`; empty values are allowed (`()`, `(,a)`).
    fn values(&mut self) -> Result<Vec<String>, ParseError> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(ParseError(format!("found '{literal}' expected: '('")));
        }
        match self.lookahead(Context::Values) {
            (Token::Identifier | Token::Comma, literal) => {
                let values = self.identifiers()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(ParseError(format!("found '{literal}', expected: ')'")));
                }
                Ok(values)
            }
            (Token::ClosedPar, _) => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            (_, literal) => Err(ParseError(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            ))),
        }
    }

    /// A comma-separated list of (possibly empty) identifiers, up to `)`;
    /// a set, as in apimachinery.
    fn identifiers(&mut self) -> Result<Vec<String>, ParseError> {
        let insert = |values: &mut Vec<String>, v: &str| {
            if !values.iter().any(|x| x == v) {
                values.push(v.to_string());
            }
        };
        let mut values: Vec<String> = Vec::new();
        loop {
            match self.consume(Context::Values) {
                (Token::Identifier, literal) => {
                    insert(&mut values, literal);
                    match self.lookahead(Context::Values) {
                        (Token::Comma, _) => continue,
                        (Token::ClosedPar, _) => return Ok(values),
                        (_, literal) => {
                            return Err(ParseError(format!(
                                "found '{literal}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                (Token::Comma, _) => {
                    if values.is_empty() {
                        insert(&mut values, "");
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            insert(&mut values, "");
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            insert(&mut values, "");
                        }
                        _ => {}
                    }
                }
                (_, literal) => {
                    return Err(ParseError(format!(
                        "found '{literal}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    /// The one value of `=`, `==`, `!=`, `>`, `<` (empty when none follows).
    fn exact_value(&mut self) -> Result<Vec<String>, ParseError> {
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            (Token::Identifier, literal) => Ok(vec![literal.to_string()]),
            (_, literal) => Err(ParseError(format!(
                "found '{literal}', expected: identifier"
            ))),
        }
    }
}

/// apimachinery's `NewRequirement`: the values fit the operator, and every
/// value is a valid label value.
fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, ParseError> {
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err(ParseError(
                "for 'in', 'notin' operators, values set can't be empty".into(),
            ));
        }
        Operator::GreaterThan | Operator::LessThan => {
            if let Some(v) = values.iter().find(|v| v.parse::<i64>().is_err()) {
                return Err(ParseError(format!(
                    "{key}: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                )));
            }
        }
        _ => {}
    }
    for value in &values {
        validate_value(key, value)?;
    }
    Ok(Requirement {
        key: key.to_string(),
        operator,
        values,
    })
}

/// apimachinery's `qualifiedNameFmt`: alphanumerics, `-`, `_`, `.`, starting
/// and ending with an alphanumeric.
fn is_qualified_name_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// apimachinery's `IsDNS1123Subdomain`: lowercase RFC 1123 labels joined by
/// dots, at most 253 characters.
fn is_dns1123_subdomain(text: &str) -> bool {
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            bytes.first().is_some_and(alphanumeric)
                && bytes.last().is_some_and(alphanumeric)
                && bytes.iter().all(|b| alphanumeric(b) || *b == b'-')
        })
}

/// apimachinery's `IsQualifiedName` for a key: `[prefix/]name`, the prefix
/// a DNS subdomain, the name at most 63 characters.
fn validate_key(key: &str) -> Result<(), ParseError> {
    let name = match key.split('/').collect::<Vec<_>>()[..] {
        [name] => name,
        [prefix, name] if is_dns1123_subdomain(prefix) => name,
        [_, _] => {
            return Err(ParseError(format!(
                "invalid label key {key:?}: prefix part must be a lowercase DNS subdomain (e.g. 'example.com')"
            )));
        }
        _ => {
            return Err(ParseError(format!(
                "invalid label key {key:?}: a qualified name has at most one '/' (e.g. 'example.com/MyName')"
            )));
        }
    };
    if name.len() > 63 || !is_qualified_name_part(name) {
        return Err(ParseError(format!(
            "invalid label key {key:?}: name part must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
        )));
    }
    Ok(())
}

/// apimachinery's `IsValidLabelValue`: empty, or at most 63 alphanumeric
/// characters, `-`, `_`, `.`, starting and ending with an alphanumeric.
fn validate_value(key: &str, value: &str) -> Result<(), ParseError> {
    if value.is_empty() || (value.len() <= 63 && is_qualified_name_part(value)) {
        return Ok(());
    }
    Err(ParseError(format!(
        "invalid value {value:?} of {key}: a label value must be empty or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_error(text: &str) -> String {
        LabelSelector::parse(text).unwrap_err().to_string()
    }

    fn matches(text: &str, labels: Value) -> bool {
        LabelSelector::parse(text)
            .unwrap()
            .matches(labels.as_object())
    }

    #[test]
    fn parses_the_syntax_apimachinery_parses() {
        // From apimachinery's `TestSelectorParse` and its `Parse` doc comment.
        for text in [
            "",
            "  ",
            "x=a,y=b,z=c",
            "x!=a,y=b",
            "x=,z= ",
            "x= ,z= ",
            "!x",
            "x>1",
            "x>1,z<5",
            "x==a",
            "x in (foo,,baz),y,z notin ()",
            "x in (,a)",
            "in in (in)",
            "notin notin (notin)",
            "example.com/app in (web)",
        ] {
            assert!(LabelSelector::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn rejects_what_apimachinery_rejects() {
        for text in [
            "x=a||y=b",
            "x==a==b",
            "!x=a",
            "x<a",
            "x in b",
            "x in (a",
            "x notin",
            "a b",
            ",a",
            "a,,b",
            "Example.com/app=web",
            "a/b/c",
            "-a",
        ] {
            assert!(LabelSelector::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn trailing_comma_is_an_error_as_in_apimachinery() {
        // The two parsers this one replaced disagreed: one accepted `a=b,`.
        assert_eq!(
            parse_error("app=web,"),
            "found '', expected: identifier after ','"
        );
    }

    #[test]
    fn set_values_are_label_values_so_k_in_a_eq_b_is_an_error() {
        // The two parsers this one replaced read `k in (a=b)` as `k` in the
        // set {"a=b"}, or as the key `k in (a` equal to `b)`.
        assert_eq!(
            parse_error("k in (a=b)"),
            "unable to parse requirement: found '=', expected: ',' or ')'"
        );
    }

    #[test]
    fn keys_and_values_are_validated() {
        assert!(
            parse_error("app=a/b")
                .starts_with("unable to parse requirement: invalid value \"a/b\" of app")
        );
        assert!(parse_error(&format!("app={}", "v".repeat(64))).contains("at most 63"));
        assert!(
            parse_error("app_=web")
                .starts_with("unable to parse requirement: invalid label key \"app_\"")
        );
        assert!(parse_error("x>a").ends_with("the value must be an integer"));
    }

    #[test]
    fn matches_as_apimachinery_requirements_do() {
        let labels = json!({"app": "web", "tier": "frontend", "replicas": "3", "flag": ""});
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=api", false),
            ("app!=api", true),
            ("missing!=x", true),
            ("app in (web,api)", true),
            ("app in (api)", false),
            ("missing in (web)", false),
            ("app notin (api)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("flag=", true),
            ("flag in ()", true),
            ("replicas>2", true),
            ("replicas>3", false),
            ("replicas<4", true),
            ("app>1", false),
            ("missing<4", false),
            ("app=web,tier=frontend", true),
            ("app=web,tier=backend", false),
        ];
        for (text, want) in cases {
            assert_eq!(matches(text, labels.clone()), want, "{text:?}");
        }
        assert!(matches("!app", Value::Null));
        assert!(!matches("app", Value::Null));
        assert!(
            !matches("app=3", json!({"app": 3})),
            "non-strings are absent"
        );
    }
}
