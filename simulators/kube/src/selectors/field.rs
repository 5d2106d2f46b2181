//! Field selectors (`metadata.name=x,status.phase!=Running`) as apimachinery's `fields` package parses them.

use super::SelectorError;
use serde_json::Value;

/// One `field op value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    value: String,
    negated: bool,
}

/// A parsed field selector (`metadata.name=x,status.phase!=Running`); empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses the query-string form; terms are split on unescaped commas, values may escape `\ , =`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let (field, op, rhs) = split_term(part).ok_or_else(|| SelectorError::FieldTerm {
                selector: s.to_string(),
                term: part.to_string(),
            })?;
            terms.push(FieldTerm {
                field: field.to_string(),
                value: unescape_value(rhs)?,
                negated: op == "!=",
            });
        }
        Ok(Self { terms })
    }

    /// The field paths the selector refers to, so callers can reject unsupported ones.
    pub fn fields(&self) -> Vec<&str> {
        self.terms.iter().map(|t| t.field.as_str()).collect()
    }

    /// True when the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Matches every term against the object's dotted field path; a missing field compares as "".
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| (field_string(object, &t.field) == t.value) != t.negated)
    }
}

/// Looks up a dotted path and renders a scalar the way field sets do (`true`, `42`, text).
fn field_string(object: &Value, path: &str) -> String {
    let found = path.split('.').try_fold(object, |v, seg| v.get(seg));
    match found {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::FieldEscape {
                    sequence: format!("\\{c}"),
                });
            }
            out.push(c);
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' || c == '=' {
            return Err(SelectorError::FieldUnescaped { character: c });
        } else {
            out.push(c);
        }
    }
    if in_slash {
        return Err(SelectorError::FieldEscape { sequence: "\\".into() });
    }
    Ok(out)
}
