//! Label and field selectors, parsed and matched the way kube-apiserver (apimachinery) does.

use serde_json::{Map, Value};
use std::fmt;

/// Why a label or field selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string does not follow the selector grammar.
    #[error("unable to parse requirement: found '{found}', expected: {expected}")]
    Syntax {
        /// The token that was found (empty at end of input).
        found: String,
        /// What the grammar expected at that point.
        expected: String,
    },
    /// A label key is not a valid qualified name.
    #[error("unable to parse requirement: {path}: Invalid value: \"{key}\": {reason}")]
    InvalidKey {
        /// Field path of the key (`key`, or `matchLabels` / `matchExpressions[i].key`).
        path: String,
        /// The offending key.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A label value is not valid (length, characters, or not an integer for `>`/`<`).
    #[error("unable to parse requirement: {path}: Invalid value: \"{value}\": {reason}")]
    InvalidValue {
        /// Field path of the value, e.g. `values[0][app]`.
        path: String,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The number of values does not fit the operator (e.g. `in` with none).
    #[error("unable to parse requirement: {path}: Invalid value: {values:?}: {reason}")]
    ValueCount {
        /// Field path of the values list.
        path: String,
        /// The values that were given.
        values: Vec<String>,
        /// The rule that was broken.
        reason: String,
    },
    /// A `metav1.LabelSelector` object is malformed (wrong JSON types).
    #[error("{path}: Invalid value: expected {expected}, found {found}")]
    ObjectShape {
        /// Field path inside the selector object.
        path: String,
        /// The JSON type that was expected.
        expected: &'static str,
        /// What was found instead.
        found: String,
    },
    /// A `matchExpressions` operator is not one of In, NotIn, Exists, DoesNotExist.
    #[error("{path}: \"{operator}\" is not a valid label selector operator")]
    UnsupportedOperator {
        /// Field path of the operator.
        path: String,
        /// The operator that was given.
        operator: String,
    },
    /// A field selector term has no `=`, `==` or `!=` operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole field selector.
        selector: String,
        /// The term that could not be split.
        term: String,
    },
    /// A field selector value contains an unknown backslash escape.
    #[error("invalid field selector: invalid escape sequence: {sequence}")]
    FieldEscape {
        /// The escape sequence, e.g. `\n`.
        sequence: String,
    },
    /// A field selector value contains an unescaped `,` or `=`.
    #[error("invalid field selector: unescaped character in value: {character:?}")]
    FieldUnescaped {
        /// The character that must be escaped.
        character: char,
    },
}

/// A label selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One `key op values` clause of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn new(key: String, op: Op, values: Vec<String>, path: &str) -> Result<Self, SelectorError> {
        validate_key(&key, &format!("{path}key"))?;
        let count_err = |reason: &str| SelectorError::ValueCount {
            path: format!("{path}values"),
            values: values.clone(),
            reason: reason.to_string(),
        };
        match op {
            Op::In | Op::NotIn if values.is_empty() => {
                return Err(count_err("for 'in', 'notin' operators, values set can't be empty"));
            }
            Op::Equals | Op::DoubleEquals | Op::NotEquals if values.len() != 1 => {
                return Err(count_err("exact-match compatibility requires one single value"));
            }
            Op::Exists | Op::DoesNotExist if !values.is_empty() => {
                return Err(count_err("values set must be empty for exists and does not exist"));
            }
            Op::GreaterThan | Op::LessThan => {
                if values.len() != 1 {
                    return Err(count_err("for 'Gt', 'Lt' operators, exactly one value is required"));
                }
                if values[0].parse::<i64>().is_err() {
                    return Err(SelectorError::InvalidValue {
                        path: format!("{path}values[0]"),
                        value: values[0].clone(),
                        reason: "for 'Gt', 'Lt' operators, the value must be an integer".into(),
                    });
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(reason) = label_value_problem(v) {
                return Err(SelectorError::InvalidValue {
                    path: format!("{path}values[{i}][{key}]"),
                    value: v.clone(),
                    reason,
                });
            }
        }
        Ok(Self { key, op, values })
    }

    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key)).and_then(Value::as_str);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Op::Equals | Op::DoubleEquals | Op::In => value.is_some_and(has),
            Op::NotEquals | Op::NotIn => !value.is_some_and(has),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::GreaterThan | Op::LessThan => {
                let (Some(actual), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Op::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Exists => return f.write_str(&self.key),
            Op::DoesNotExist => return write!(f, "!{}", self.key),
            Op::Equals => "=",
            Op::DoubleEquals => "==",
            Op::NotEquals => "!=",
            Op::In => " in ",
            Op::NotIn => " notin ",
            Op::GreaterThan => ">",
            Op::LessThan => "<",
        };
        let mut values = self.values.clone();
        values.sort();
        let joined = values.join(",");
        if matches!(self.op, Op::In | Op::NotIn) {
            write!(f, "{}{op}({joined})", self.key)
        } else {
            write!(f, "{}{op}{joined}", self.key)
        }
    }
}

/// A parsed label selector; the default (empty) selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Set for a `null` selector object, which matches nothing.
    nothing: bool,
}

impl LabelSelector {
    /// Parses the query-string form (`a=b,c in (x,y),!d`); an empty string matches everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let tokens = lex(s)?;
        let mut parser = Parser { tokens, pos: 0 };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// Builds a selector from a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    /// `null` yields a selector that matches nothing; `{}` matches everything.
    pub fn from_object(sel: &Value) -> Result<Self, SelectorError> {
        let obj = match sel {
            Value::Null => {
                return Ok(Self {
                    requirements: Vec::new(),
                    nothing: true,
                });
            }
            Value::Object(o) => o,
            other => return Err(shape_err("", "object", other)),
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (k, v) in labels {
                    let v = v.as_str().ok_or_else(|| shape_err(&format!("matchLabels.{k}"), "string", v))?;
                    let path = format!("matchLabels[{k}].");
                    requirements.push(Requirement::new(k.clone(), Op::Equals, vec![v.to_string()], &path)?);
                }
            }
            Some(other) => return Err(shape_err("matchLabels", "object", other)),
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for (i, expr) in exprs.iter().enumerate() {
                    requirements.push(expression_requirement(expr, &format!("matchExpressions[{i}]"))?);
                }
            }
            Some(other) => return Err(shape_err("matchExpressions", "array", other)),
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// True when every requirement holds for `labels` (a missing label map has no labels).
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector has no requirements and therefore matches everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

fn shape_err(path: &str, expected: &'static str, found: &Value) -> SelectorError {
    let found = match found {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
    };
    SelectorError::ObjectShape {
        path: path.to_string(),
        expected,
        found,
    }
}

fn expression_requirement(expr: &Value, path: &str) -> Result<Requirement, SelectorError> {
    let obj = expr.as_object().ok_or_else(|| shape_err(path, "object", expr))?;
    let field = |name: &str| obj.get(name).unwrap_or(&Value::Null);
    let key = field("key")
        .as_str()
        .ok_or_else(|| shape_err(&format!("{path}.key"), "string", field("key")))?;
    let operator = field("operator")
        .as_str()
        .ok_or_else(|| shape_err(&format!("{path}.operator"), "string", field("operator")))?;
    let op = match operator {
        "In" => Op::In,
        "NotIn" => Op::NotIn,
        "Exists" => Op::Exists,
        "DoesNotExist" => Op::DoesNotExist,
        other => {
            return Err(SelectorError::UnsupportedOperator {
                path: format!("{path}.operator"),
                operator: other.to_string(),
            });
        }
    };
    let values = match field("values") {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| shape_err(&format!("{path}.values[{i}]"), "string", v))
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(shape_err(&format!("{path}.values"), "array", other)),
    };
    Requirement::new(key.to_string(), op, values, &format!("{path}."))
}

const NAME_RE: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.first().copied().is_some_and(edge)
        && b.last().copied().is_some_and(edge)
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && b.last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

/// Validates a label key as apimachinery's `IsQualifiedName` does.
fn validate_key(key: &str, path: &str) -> Result<(), SelectorError> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else if !is_dns1123_subdomain(prefix) {
                problems.push(
                    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                        .to_string(),
                );
            }
            *name
        }
        _ => {
            problems.push(format!(
                "a valid label key {NAME_MSG} (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_RE}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            ""
        }
    };
    if parts.len() <= 2 {
        if name.is_empty() {
            problems.push("name part must be non-empty".to_string());
        } else if name.len() > 63 {
            problems.push("name part must be no more than 63 characters".to_string());
        }
        if !is_label_name(name) {
            problems.push(format!(
                "name part {NAME_MSG} (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_RE}')"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SelectorError::InvalidKey {
            path: path.to_string(),
            key: key.to_string(),
            reason: problems.join("; "),
        })
    }
}

/// Returns why `v` is not a valid label value, if it is not.
fn label_value_problem(v: &str) -> Option<String> {
    let mut problems = Vec::new();
    if v.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    if !v.is_empty() && !is_label_name(v) {
        problems.push(format!(
            "a valid label must be an empty string or {NAME_MSG} (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '({NAME_RE})?')"
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    Not,
    DoubleEquals,
    Equals,
    Greater,
    In,
    Less,
    NotEquals,
    NotIn,
    OpenPar,
    Ident(String),
}

impl Token {
    fn literal(&self) -> String {
        match self {
            Token::End => String::new(),
            Token::ClosedPar => ")".into(),
            Token::Comma => ",".into(),
            Token::Not => "!".into(),
            Token::DoubleEquals => "==".into(),
            Token::Equals => "=".into(),
            Token::Greater => ">".into(),
            Token::In => "in".into(),
            Token::Less => "<".into(),
            Token::NotEquals => "!=".into(),
            Token::NotIn => "notin".into(),
            Token::OpenPar => "(".into(),
            Token::Ident(s) => s.clone(),
        }
    }

    /// In value position the keywords `in`/`notin` are plain identifiers.
    fn as_value(&self) -> Token {
        match self {
            Token::In | Token::NotIn => Token::Ident(self.literal()),
            other => other.clone(),
        }
    }
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::Not,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::Greater,
        "<" => Token::Less,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits a label selector into tokens, longest-match on operator symbols.
fn lex(s: &str) -> Result<Vec<Token>, SelectorError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i >= b.len() {
            out.push(Token::End);
            return Ok(out);
        }
        if is_special(b[i]) {
            let start = i;
            let mut last: Option<(Token, usize)> = None;
            while i < b.len() && is_special(b[i]) {
                if let Some(t) = symbol(&s[start..=i]) {
                    last = Some((t, i + 1));
                } else if last.is_some() {
                    break;
                }
                i += 1;
            }
            match last {
                Some((t, end)) => {
                    out.push(t);
                    i = end;
                }
                None => {
                    return Err(SelectorError::Syntax {
                        found: s[start..i].to_string(),
                        expected: "keyword".into(),
                    });
                }
            }
        } else {
            let start = i;
            while i < b.len() && !is_special(b[i]) && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            out.push(match &s[start..i] {
                "in" => Token::In,
                "notin" => Token::NotIn,
                word => Token::Ident(word.to_string()),
            });
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Token {
        self.tokens.get(self.pos).cloned().unwrap_or(Token::End).as_value()
    }

    fn next_raw(&mut self) -> Token {
        let t = self.tokens.get(self.pos).cloned().unwrap_or(Token::End);
        self.pos += 1;
        t
    }

    fn next(&mut self) -> Token {
        self.next_raw().as_value()
    }

    fn syntax(found: &Token, expected: &str) -> SelectorError {
        SelectorError::Syntax {
            found: found.literal(),
            expected: expected.to_string(),
        }
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            match self.peek() {
                Token::Ident(_) | Token::Not => {
                    reqs.push(self.requirement()?);
                    match self.next() {
                        Token::End => return Ok(reqs),
                        Token::Comma => {
                            let t = self.peek();
                            if !matches!(t, Token::Ident(_) | Token::Not) {
                                return Err(Self::syntax(&t, "identifier after ','"));
                            }
                        }
                        other => return Err(Self::syntax(&other, "',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(reqs),
                other => return Err(Self::syntax(&other, "!, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let mut tok = self.next();
        let negated = tok == Token::Not;
        if negated {
            tok = self.next();
        }
        let Token::Ident(key) = tok else {
            return Err(Self::syntax(&tok, "identifier"));
        };
        validate_key(&key, "key")?;
        if matches!(self.peek(), Token::End | Token::Comma) {
            let op = if negated { Op::DoesNotExist } else { Op::Exists };
            return Requirement::new(key, op, Vec::new(), "");
        }
        let op_tok = self.next_raw();
        let op = match op_tok {
            Token::In => Op::In,
            Token::NotIn => Op::NotIn,
            Token::Equals => Op::Equals,
            Token::DoubleEquals => Op::DoubleEquals,
            Token::NotEquals => Op::NotEquals,
            Token::Greater => Op::GreaterThan,
            Token::Less => Op::LessThan,
            other => return Err(Self::syntax(&other, "in, notin, =, ==, !=, gt, lt")),
        };
        let mut values = if matches!(op, Op::In | Op::NotIn) {
            self.set_values()?
        } else {
            self.exact_value()?
        };
        values.sort();
        values.dedup();
        Requirement::new(key, op, values, "")
    }

    fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.peek() {
            Token::End | Token::Comma => Ok(vec![String::new()]),
            _ => match self.next() {
                Token::Ident(v) => Ok(vec![v]),
                other => Err(Self::syntax(&other, "identifier")),
            },
        }
    }

    fn set_values(&mut self) -> Result<Vec<String>, SelectorError> {
        let open = self.next();
        if open != Token::OpenPar {
            return Err(Self::syntax(&open, "'('"));
        }
        match self.peek() {
            Token::ClosedPar => {
                self.next();
                Ok(vec![String::new()])
            }
            Token::Ident(_) | Token::Comma => {
                let mut values = Vec::new();
                loop {
                    match self.next() {
                        Token::Ident(v) => {
                            values.push(v);
                            match self.peek() {
                                Token::Comma => {}
                                Token::ClosedPar => break,
                                other => return Err(Self::syntax(&other, "',' or ')'")),
                            }
                        }
                        Token::Comma => {
                            if values.is_empty() {
                                values.push(String::new());
                            }
                            match self.peek() {
                                Token::ClosedPar => {
                                    values.push(String::new());
                                    break;
                                }
                                Token::Comma => values.push(String::new()),
                                _ => {}
                            }
                        }
                        other => return Err(Self::syntax(&other, "',', or identifier")),
                    }
                }
                let close = self.next();
                if close != Token::ClosedPar {
                    return Err(Self::syntax(&close, "')'"));
                }
                Ok(values)
            }
            other => Err(Self::syntax(&other, "',', ')' or identifier")),
        }
    }
}

mod field;
pub use field::FieldSelector;

#[cfg(test)]
mod tests;
