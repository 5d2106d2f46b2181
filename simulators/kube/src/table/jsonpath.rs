//! The subset of client-go's JSONPath used by CRD printer columns, with its quirks (missing keys allowed).

use serde_json::Value;
use std::borrow::Cow;

/// One step of a parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Field(String),
    Wildcard,
    Recursive,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        end_derived: bool,
        step: Option<i64>,
    },
    Union(Vec<Vec<Node>>),
    Filter {
        left: Vec<Node>,
        op: Option<CmpOp>,
        right: Vec<Node>,
    },
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Lt,
    Gt,
    Eq,
    Ne,
    Le,
    Ge,
}

/// A compiled JSONPath (without the surrounding `{}`), e.g. `.status.conditions[?(@.type=="Ready")].status`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath {
    nodes: Vec<Node>,
}

impl JsonPath {
    /// Parses a path the way client-go parses `{<path>}`.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        Ok(Self {
            nodes: parse_action(text)?,
        })
    }

    /// All values the path selects (missing keys select nothing); `Err` for evaluation errors
    /// such as an out-of-range index or filtering a non-array.
    pub(super) fn find<'a>(&self, data: &'a Value) -> Result<Vec<Cow<'a, Value>>, String> {
        eval_list(vec![Cow::Borrowed(data)], &self.nodes)
    }
}

fn is_terminator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn parse_action(text: &str) -> Result<Vec<Node>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut nodes = Vec::new();
    let mut i = 0;
    let rest = |i: usize| chars[i..].iter().collect::<String>();
    while i < chars.len() {
        if rest(i).starts_with("[?(") {
            i = parse_filter(&chars, i + 3, &mut nodes)?;
            continue;
        }
        if rest(i).starts_with("..") {
            if nodes.last() == Some(&Node::Recursive) {
                return Err("invalid multiple recursive descent".into());
            }
            nodes.push(Node::Recursive);
            i += 2;
            if chars.get(i).copied().is_some_and(is_alnum) {
                i = parse_field(&chars, i, &mut nodes);
            }
            continue;
        }
        let c = chars[i];
        match c {
            ' ' | '@' | '$' => i += 1,
            '\r' | '\n' => return Err("unclosed action".into()),
            '[' => i = parse_array(&chars, i + 1, &mut nodes)?,
            '"' | '\'' => {
                let (s, next) = parse_quote(&chars, i)?;
                nodes.push(Node::Text(s));
                i = next;
            }
            '.' => i = parse_field(&chars, i + 1, &mut nodes),
            '+' | '-' => i = parse_number(&chars, i, &mut nodes)?,
            c if c.is_ascii_digit() => i = parse_number(&chars, i, &mut nodes)?,
            c if is_alnum(c) => {
                let start = i;
                while i < chars.len() && !is_terminator(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "true" => nodes.push(Node::Bool(true)),
                    "false" => nodes.push(Node::Bool(false)),
                    other => return Err(format!("unsupported identifier {other:?}")),
                }
            }
            other => return Err(format!("unrecognized character in action: {other:?}")),
        }
    }
    Ok(nodes)
}

/// Reads a field name up to the next unescaped terminator; backslashes are dropped.
fn parse_field(chars: &[char], mut i: usize, nodes: &mut Vec<Node>) -> usize {
    let mut name = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            if let Some(&escaped) = chars.get(i + 1) {
                name.push(escaped);
            }
            i += 2;
            continue;
        }
        if is_terminator(c) {
            break;
        }
        name.push(c);
        i += 1;
    }
    nodes.push(if name == "*" { Node::Wildcard } else { Node::Field(name) });
    i
}

fn parse_number(chars: &[char], start: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    let mut i = start;
    if matches!(chars.get(i), Some('+' | '-')) {
        i += 1;
    }
    while i < chars.len() && (chars[i] == '.' || chars[i].is_ascii_digit()) {
        i += 1;
    }
    let text: String = chars[start..i].iter().collect();
    if let Ok(n) = text.parse::<i64>() {
        nodes.push(Node::Int(n));
    } else if let Ok(f) = text.parse::<f64>() {
        nodes.push(Node::Float(f));
    } else {
        return Err(format!("cannot parse number {text}"));
    }
    Ok(i)
}

/// Parses a quoted literal starting at the opening quote; returns the text and the index after it.
fn parse_quote(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let escaped = chars.get(i + 1).ok_or("unterminated quoted string")?;
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => *other,
                });
                i += 2;
            }
            '\n' => return Err("unterminated quoted string".into()),
            c if c == quote => return Ok((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated quoted string".into())
}

/// Parses `[...]` contents (index, slice, `*`, union, or `'key'`); `i` is just past the `[`.
fn parse_array(chars: &[char], mut i: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    let start = i;
    while i < chars.len() && chars[i] != ']' {
        if chars[i] == '\n' {
            return Err("unterminated array".into());
        }
        i += 1;
    }
    if i >= chars.len() {
        return Err("unterminated array".into());
    }
    let mut text: String = chars[start..i].iter().collect();
    let next = i + 1;
    if text == "*" {
        text = ":".into();
    }
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() > 1 {
        let union = parts
            .iter()
            .map(|p| parse_action(&format!("[{}]", p.trim_matches(' '))))
            .collect::<Result<Vec<_>, _>>()?;
        nodes.push(Node::Union(union));
        return Ok(next);
    }
    if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') && !text[1..text.len() - 1].contains('\'') {
        nodes.extend(parse_action(&format!(".{}", &text[1..text.len() - 1]))?);
        return Ok(next);
    }
    let pieces: Vec<&str> = text.split(':').collect();
    if pieces.len() > 3 {
        return Err(format!("invalid array index {text}"));
    }
    let number = |s: &str| -> Result<Option<i64>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        let digits = s.strip_prefix('-').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid array index {text}"));
        }
        s.parse::<i64>().map(Some).map_err(|_| format!("array index {s} is not a number"))
    };
    let first = number(pieces[0])?;
    let (end, end_derived) = match pieces.get(1) {
        Some(p) => (number(p)?, false),
        None => (Some(first.unwrap_or(0) + 1), true),
    };
    let step = match pieces.get(2) {
        Some(p) => number(p)?,
        None => None,
    };
    nodes.push(Node::Slice {
        start: first,
        end,
        end_derived,
        step,
    });
    Ok(next)
}

/// Parses a filter body; `i` is just past `[?(`. Mirrors client-go's quote-aware scan for `)]`.
fn parse_filter(chars: &[char], mut i: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    let start = i;
    let (mut begin, mut end) = (false, false);
    let mut pair = '"';
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated filter".into());
        };
        i += 1;
        match c {
            '\n' => return Err("unterminated filter".into()),
            '"' | '\'' => {
                if !begin {
                    begin = true;
                    pair = c;
                } else if c == pair && chars.get(i.wrapping_sub(2)) != Some(&'\\') {
                    end = true;
                }
            }
            ')' if begin == end => break,
            _ => {}
        }
    }
    if chars.get(i) != Some(&']') {
        return Err("unclosed array expect ]".into());
    }
    let body: String = chars[start..i - 1].iter().collect();
    let op_start = body.find(['!', '<', '>', '=']);
    let filter = match op_start {
        Some(pos) if pos > 0 => {
            let op_len = body[pos..]
                .find(|c| !matches!(c, '!' | '<' | '>' | '='))
                .unwrap_or(body.len() - pos);
            let (left, op, right) = (&body[..pos], &body[pos..pos + op_len], &body[pos + op_len..]);
            if right.is_empty() {
                return Err(format!("invalid filter {body}"));
            }
            let op = match op {
                "<" => CmpOp::Lt,
                ">" => CmpOp::Gt,
                "==" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<=" => CmpOp::Le,
                ">=" => CmpOp::Ge,
                other => return Err(format!("unrecognized filter operator {other}")),
            };
            Node::Filter {
                left: parse_action(left)?,
                op: Some(op),
                right: parse_action(right)?,
            }
        }
        _ => Node::Filter {
            left: parse_action(&body)?,
            op: None,
            right: Vec::new(),
        },
    };
    nodes.push(filter);
    Ok(i + 1)
}

type Items<'a> = Vec<Cow<'a, Value>>;

fn eval_list<'a>(mut cur: Items<'a>, nodes: &[Node]) -> Result<Items<'a>, String> {
    for node in nodes {
        cur = eval_node(cur, node)?;
    }
    Ok(cur)
}

fn child<'a>(item: &Cow<'a, Value>, pick: impl Fn(&Value) -> Option<&Value>) -> Option<Cow<'a, Value>> {
    match item {
        Cow::Borrowed(v) => pick(v).map(Cow::Borrowed),
        Cow::Owned(v) => pick(v).map(|c| Cow::Owned(c.clone())),
    }
}

fn children<'a>(item: &Cow<'a, Value>) -> Items<'a> {
    let len = match item.as_ref() {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    (0..len)
        .filter_map(|i| {
            child(item, |v| match v {
                Value::Array(a) => a.get(i),
                Value::Object(o) => o.values().nth(i),
                _ => None,
            })
        })
        .collect()
}

fn eval_node<'a>(input: Items<'a>, node: &Node) -> Result<Items<'a>, String> {
    let mut out = Vec::new();
    match node {
        Node::Field(name) => {
            for item in &input {
                if let Some(v) = child(item, |v| v.as_object().and_then(|o| o.get(name))) {
                    out.push(v);
                }
            }
        }
        Node::Wildcard => {
            for item in &input {
                out.extend(children(item));
            }
        }
        Node::Recursive => {
            for item in input {
                recurse(item, &mut out);
            }
        }
        Node::Slice {
            start,
            end,
            end_derived,
            step,
        } => {
            for item in &input {
                if item.is_null() {
                    continue;
                }
                let Value::Array(arr) = item.as_ref() else {
                    return Err(format!("{} is not array or slice", type_name(item)));
                };
                let len = i64::try_from(arr.len()).map_err(|e| e.to_string())?;
                let mut s = start.unwrap_or(0);
                if s < 0 {
                    s += len;
                }
                let mut e = end.unwrap_or(len);
                if e < 0 || (e == 0 && *end_derived) {
                    e += len;
                }
                if s == e {
                    continue;
                }
                if s >= len || s < 0 {
                    return Err(format!("array index out of bounds: index {s}, length {len}"));
                }
                if e > len || e < 0 {
                    return Err(format!("array index out of bounds: index {}, length {len}", e - 1));
                }
                if s > e {
                    return Err(format!("starting index {s} is greater than ending index {e}"));
                }
                let step = match step {
                    Some(st) if *st <= 0 => return Err("step must be > 0".into()),
                    Some(st) => usize::try_from(*st).map_err(|e| e.to_string())?,
                    None => 1,
                };
                let (s, e) = (usize::try_from(s).unwrap_or(0), usize::try_from(e).unwrap_or(0));
                for idx in (s..e).step_by(step) {
                    if let Some(v) = child(item, |v| v.as_array().and_then(|a| a.get(idx))) {
                        out.push(v);
                    }
                }
            }
        }
        Node::Union(parts) => {
            for part in parts {
                out.extend(eval_list(input.clone(), part)?);
            }
        }
        Node::Filter { left, op, right } => {
            for item in &input {
                let Value::Array(arr) = item.as_ref() else {
                    return Err(format!("{} is not array or slice and cannot be filtered", type_name(item)));
                };
                for idx in 0..arr.len() {
                    let Some(elem) = child(item, |v| v.as_array().and_then(|a| a.get(idx))) else {
                        continue;
                    };
                    let lefts = eval_list(vec![elem.clone()], left);
                    let Some(op) = op else {
                        if lefts.is_ok_and(|l| !l.is_empty()) {
                            out.push(elem);
                        }
                        continue;
                    };
                    let lefts = lefts?;
                    let l = match lefts.as_slice() {
                        [] => continue,
                        [one] => one.clone(),
                        _ => return Err("can only compare one element at a time".into()),
                    };
                    let rights = eval_list(vec![elem.clone()], right)?;
                    let r = match rights.as_slice() {
                        [] => continue,
                        [one] => one.clone(),
                        _ => return Err("can only compare one element at a time".into()),
                    };
                    if compare(&l, *op, &r)? {
                        out.push(elem);
                    }
                }
            }
        }
        Node::Text(s) => out = input.iter().map(|_| Cow::Owned(Value::String(s.clone()))).collect(),
        Node::Int(n) => out = input.iter().map(|_| Cow::Owned(Value::from(*n))).collect(),
        Node::Float(f) => out = input.iter().map(|_| Cow::Owned(Value::from(*f))).collect(),
        Node::Bool(b) => out = input.iter().map(|_| Cow::Owned(Value::Bool(*b))).collect(),
    }
    Ok(out)
}

fn recurse<'a>(item: Cow<'a, Value>, out: &mut Items<'a>) {
    let kids = children(&item);
    if !kids.is_empty() {
        out.push(item);
        for kid in kids {
            recurse(kid, out);
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares like Go text/template's eq/lt: both sides must be the same basic kind.
fn compare(l: &Value, op: CmpOp, r: &Value) -> Result<bool, String> {
    use std::cmp::Ordering;
    let bad = || Err(format!("incompatible types for comparison: {} and {}", type_name(l), type_name(r)));
    let ord: Option<Ordering> = match (l, r) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64(), a.is_f64(), b.is_f64()) {
            (Some(x), Some(y), false, false) => Some(x.cmp(&y)),
            (_, _, true, true) => a.as_f64().zip(b.as_f64()).and_then(|(x, y)| x.partial_cmp(&y)),
            _ => return bad(),
        },
        (Value::Bool(a), Value::Bool(b)) => {
            return match op {
                CmpOp::Eq => Ok(a == b),
                CmpOp::Ne => Ok(a != b),
                _ => Err("invalid type for comparison".into()),
            };
        }
        _ => return bad(),
    };
    let Some(ord) = ord else { return Ok(false) };
    Ok(match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, data: &Value) -> Vec<Value> {
        let p = JsonPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        p.find(data)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    #[test]
    fn fields_indexes_and_wildcards() {
        let d = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
                       "metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        assert_eq!(find(".spec.containers[0].name", &d), vec![json!("a")]);
        assert_eq!(find(".spec.containers[-1].name", &d), vec![json!("c")]);
        assert_eq!(find(".spec.containers[*].name", &d), vec![json!("a"), json!("b"), json!("c")]);
        assert_eq!(find(".spec.containers[0:2].name", &d), vec![json!("a"), json!("b")]);
        assert_eq!(find(".spec.containers[0,2].name", &d), vec![json!("a"), json!("c")]);
        assert_eq!(find(".metadata.labels.app\\.kubernetes\\.io/name", &d), vec![json!("web")]);
        assert_eq!(find("$.spec.missing.deeper", &d), Vec::<Value>::new());
        assert_eq!(find("..name", &d), vec![json!("a"), json!("b"), json!("c")]);
    }

    #[test]
    fn filters() {
        let d = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "n": 1},
            {"type": "Available", "status": "False", "n": 2}]}});
        assert_eq!(
            find(".status.conditions[?(@.type==\"Available\")].status", &d),
            vec![json!("False")]
        );
        assert_eq!(find(".status.conditions[?(@.type=='Ready')].status", &d), vec![json!("True")]);
        assert_eq!(find(".status.conditions[?(@.type!=\"Ready\")].type", &d), vec![json!("Available")]);
        assert_eq!(find(".status.conditions[?(@.n>1)].type", &d), vec![json!("Available")]);
        assert_eq!(find(".status.conditions[?(@.status)].type", &d).len(), 2);
        assert_eq!(find(".status.conditions[?(@.type==\"Paused\")].status", &d), Vec::<Value>::new());
    }

    #[test]
    fn evaluation_and_parse_errors() {
        let d = json!({"a": [1], "s": "x"});
        let p = JsonPath::parse(".a[5]").expect("parses");
        assert!(p.find(&d).is_err(), "index out of range is an error");
        assert!(JsonPath::parse(".s[?(@.x==1)]").expect("parses").find(&d).is_err());
        assert!(JsonPath::parse(".a[").is_err());
        assert!(JsonPath::parse(".a[?(@.x==1]").is_err());
        assert!(JsonPath::parse("{range}").is_err());
    }
}
