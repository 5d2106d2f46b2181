//! PowerShell command lines, as far as the runbook's AksHci commands need: `$var = ` assignment,
//! pipelines (`|`), `-Parameter value`, `-Parameter:value`, switches, single- and
//! double-quoted strings, comma-separated arrays, `$true`/`$false`/`$null` and `$variables`.
//! Parameter names match case-insensitively and by unique prefix, as PowerShell binds them.

use std::collections::BTreeMap;

use super::AksCliError;
use super::psobject::PsValue;

/// One element of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    /// Literal text (quoted or bare).
    Text(String),
    /// A `$variable` (name without `$`).
    Var(String),
}

/// A token of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `-name` or `-name:value`.
    Param(String, Option<Vec<Elem>>),
    /// An argument; several elements when it was a comma-separated list.
    Value(Vec<Elem>),
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The command name as typed.
    pub cmdlet: String,
    /// Its tokens.
    pub tokens: Vec<Token>,
}

/// A whole line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// `$name = …` target.
    pub assign: Option<String>,
    /// The commands, first to last.
    pub stages: Vec<Invocation>,
}

fn syntax(line: &str, message: impl Into<String>) -> AksCliError {
    AksCliError::Syntax {
        line: line.to_string(),
        message: message.into(),
    }
}

/// Splits a line into pipeline stages of tokens.
pub fn parse_line(line: &str) -> Result<Pipeline, AksCliError> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut i = 0;
    let mut assign = None;
    // `$name = ...`
    if chars.first() == Some(&'$') {
        let mut j = 1;
        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        let mut k = j;
        while k < chars.len() && chars[k].is_whitespace() {
            k += 1;
        }
        if k < chars.len() && chars[k] == '=' && j > 1 {
            assign = Some(chars[1..j].iter().collect::<String>());
            i = k + 1;
        }
    }
    let mut stages: Vec<Vec<Vec<Elem>>> = vec![Vec::new()];
    let mut raw: Vec<Vec<String>> = vec![Vec::new()];
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '|' {
            stages.push(Vec::new());
            raw.push(Vec::new());
            i += 1;
            continue;
        }
        let start = i;
        let mut elems = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        let mut is_var = false;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '|' {
            match chars[i] {
                '\'' => {
                    quoted = true;
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(syntax(line, "The string is missing the terminator: '.")),
                            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                                current.push('\'');
                                i += 2;
                            }
                            Some('\'') => {
                                i += 1;
                                break;
                            }
                            Some(c) => {
                                current.push(*c);
                                i += 1;
                            }
                        }
                    }
                }
                '"' => {
                    quoted = true;
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(syntax(line, "The string is missing the terminator: \".")),
                            Some('`') if i + 1 < chars.len() => {
                                current.push(chars[i + 1]);
                                i += 2;
                            }
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some(c) => {
                                current.push(*c);
                                i += 1;
                            }
                        }
                    }
                }
                ',' => {
                    elems.push(finish(&mut current, quoted, is_var));
                    quoted = false;
                    is_var = false;
                    i += 1;
                }
                '$' if current.is_empty() && !quoted => {
                    is_var = true;
                    i += 1;
                }
                c => {
                    current.push(c);
                    i += 1;
                }
            }
        }
        elems.push(finish(&mut current, quoted, is_var));
        let text: String = chars[start..i].iter().collect();
        if let Some(last) = stages.last_mut() {
            last.push(elems);
        }
        if let Some(last) = raw.last_mut() {
            last.push(text);
        }
    }
    let mut out = Vec::new();
    for (words, texts) in stages.into_iter().zip(raw) {
        let Some(first) = texts.first() else {
            return Err(syntax(line, "An empty pipe element is not allowed."));
        };
        let mut tokens = Vec::new();
        for (word, text) in words.into_iter().zip(texts.iter()).skip(1) {
            tokens.push(classify(word, text));
        }
        out.push(Invocation {
            cmdlet: first.clone(),
            tokens,
        });
    }
    if out.len() == 1 && out[0].cmdlet.is_empty() {
        return Err(syntax(line, "the line has no command"));
    }
    Ok(Pipeline { assign, stages: out })
}

fn finish(current: &mut String, quoted: bool, is_var: bool) -> Elem {
    let text = std::mem::take(current);
    if is_var && !quoted { Elem::Var(text) } else { Elem::Text(text) }
}

/// `-name` (not `-1`) is a parameter; `-name:value` carries its value.
fn classify(word: Vec<Elem>, text: &str) -> Token {
    let is_param = text.starts_with('-') && text[1..].chars().next().is_some_and(|c| c.is_alphabetic()) && !text.contains(['\'', '"']);
    if !is_param {
        return Token::Value(word);
    }
    match text[1..].split_once(':') {
        Some((name, value)) => {
            let value = if let Some(var) = value.strip_prefix('$') {
                vec![Elem::Var(var.to_string())]
            } else {
                value.split(',').map(|v| Elem::Text(v.to_string())).collect()
            };
            Token::Param(name.to_string(), Some(value))
        }
        None => Token::Param(text[1..].to_string(), None),
    }
}

/// The type a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `System.String`.
    Str,
    /// `System.Int32`.
    Int,
    /// `System.Boolean` (`$true` / `$false`).
    Bool,
    /// A switch (present or not).
    Switch,
    /// `System.String[]`.
    StrArray,
    /// An object made by another cmdlet (e.g. `-vnet $vnet`).
    Object,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Str => "System.String",
            Kind::Int => "System.Int32",
            Kind::Bool => "System.Boolean",
            Kind::Switch => "System.Management.Automation.SwitchParameter",
            Kind::StrArray => "System.String[]",
            Kind::Object => "System.Object",
        }
    }
}

/// A parameter of a cmdlet.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name as documented (e.g. `controlPlaneNodeCount`).
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Whether it must be given.
    pub mandatory: bool,
}

/// Arguments bound to a cmdlet's parameters, by documented name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bound(pub BTreeMap<&'static str, PsValue>);

impl Bound {
    /// A string argument.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(PsValue::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// An integer argument.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(PsValue::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// Whether a switch (or `$true` boolean) was given.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(PsValue::Bool(true)))
    }

    /// Any argument.
    pub fn value(&self, name: &str) -> Option<&PsValue> {
        self.0.get(name)
    }
}

/// Binds `tokens` to `params` as PowerShell does; `vars` resolves `$variables`.
pub fn bind(cmdlet: &str, params: &[Param], tokens: &[Token], vars: &BTreeMap<String, PsValue>) -> Result<Bound, AksCliError> {
    let mut bound = Bound::default();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Value(word) => {
                return Err(AksCliError::Positional {
                    cmdlet: cmdlet.to_string(),
                    argument: describe(word),
                });
            }
            Token::Param(typed, inline) => {
                let lower = typed.to_ascii_lowercase();
                let exact: Vec<&Param> = params.iter().filter(|p| p.name.eq_ignore_ascii_case(typed)).collect();
                let matches: Vec<&Param> = if exact.is_empty() {
                    params.iter().filter(|p| p.name.to_ascii_lowercase().starts_with(&lower)).collect()
                } else {
                    exact
                };
                let param = match matches.as_slice() {
                    [] => {
                        return Err(AksCliError::UnknownParameter {
                            cmdlet: cmdlet.to_string(),
                            parameter: typed.clone(),
                        });
                    }
                    [one] => **one,
                    many => {
                        return Err(AksCliError::AmbiguousParameter {
                            cmdlet: cmdlet.to_string(),
                            parameter: typed.clone(),
                            candidates: many.iter().map(|p| format!("-{}", p.name)).collect::<Vec<_>>().join(" "),
                        });
                    }
                };
                if bound.0.contains_key(param.name) {
                    return Err(AksCliError::DuplicateParameter {
                        cmdlet: cmdlet.to_string(),
                        parameter: param.name.to_string(),
                    });
                }
                let word = if param.kind == Kind::Switch {
                    inline.clone()
                } else if let Some(v) = inline {
                    Some(v.clone())
                } else {
                    match tokens.get(i + 1) {
                        Some(Token::Value(w)) => {
                            i += 1;
                            Some(w.clone())
                        }
                        _ => {
                            return Err(AksCliError::MissingArgument {
                                cmdlet: cmdlet.to_string(),
                                parameter: param.name.to_string(),
                                type_name: param.kind.type_name(),
                            });
                        }
                    }
                };
                let value = convert(cmdlet, &param, word.as_deref(), vars)?;
                bound.0.insert(param.name, value);
            }
        }
        i += 1;
    }
    let missing: Vec<&str> = params
        .iter()
        .filter(|p| p.mandatory && !bound.0.contains_key(p.name))
        .map(|p| p.name)
        .collect();
    if !missing.is_empty() {
        return Err(AksCliError::MissingMandatory {
            cmdlet: cmdlet.to_string(),
            parameters: missing.join(", "),
        });
    }
    Ok(bound)
}

fn describe(word: &[Elem]) -> String {
    word.iter()
        .map(|e| match e {
            Elem::Text(t) => t.clone(),
            Elem::Var(v) => format!("${v}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn resolve(elem: &Elem, vars: &BTreeMap<String, PsValue>) -> Result<PsValue, AksCliError> {
    match elem {
        Elem::Text(t) => Ok(PsValue::Str(t.clone())),
        Elem::Var(v) if v.eq_ignore_ascii_case("true") => Ok(PsValue::Bool(true)),
        Elem::Var(v) if v.eq_ignore_ascii_case("false") => Ok(PsValue::Bool(false)),
        Elem::Var(v) if v.eq_ignore_ascii_case("null") => Ok(PsValue::Null),
        Elem::Var(v) => vars
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(v))
            .map(|(_, value)| value.clone())
            .ok_or_else(|| AksCliError::UndefinedVariable(v.clone())),
    }
}

fn convert(cmdlet: &str, param: &Param, word: Option<&[Elem]>, vars: &BTreeMap<String, PsValue>) -> Result<PsValue, AksCliError> {
    let bad = |value: String, reason: &str| AksCliError::BadArgument {
        cmdlet: cmdlet.to_string(),
        parameter: param.name.to_string(),
        value,
        type_name: param.kind.type_name(),
        reason: reason.to_string(),
    };
    let Some(word) = word else {
        // A switch without `:value`.
        return Ok(PsValue::Bool(true));
    };
    let values = word.iter().map(|e| resolve(e, vars)).collect::<Result<Vec<_>, _>>()?;
    match (param.kind, values.as_slice()) {
        (Kind::StrArray, items) => items
            .iter()
            .map(|v| match v {
                PsValue::Str(s) => Ok(PsValue::Str(s.clone())),
                PsValue::Array(inner) => Ok(PsValue::Array(inner.clone())),
                other => Err(bad(other.display(), "expected strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(PsValue::Array),
        (_, [_, _, ..]) => Err(bad(describe(word), "a list was given where one value is expected")),
        (_, []) => Err(bad(String::new(), "no value")),
        (Kind::Str, [PsValue::Str(s)]) => Ok(PsValue::Str(s.clone())),
        (Kind::Str, [other]) => Err(bad(other.display(), "expected a string")),
        (Kind::Int, [PsValue::Str(s)]) => s
            .parse::<i32>()
            .map(|n| PsValue::Int(i64::from(n)))
            .map_err(|_| bad(s.clone(), "Input string was not in a correct format.")),
        (Kind::Int, [PsValue::Int(n)]) => Ok(PsValue::Int(*n)),
        (Kind::Int, [other]) => Err(bad(other.display(), "Input string was not in a correct format.")),
        (Kind::Bool | Kind::Switch, [PsValue::Bool(b)]) => Ok(PsValue::Bool(*b)),
        (Kind::Bool | Kind::Switch, [other]) => Err(bad(
            other.display(),
            "Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
        )),
        (Kind::Object, [PsValue::Object(props)]) => Ok(PsValue::Object(props.clone())),
        (Kind::Object, [other]) => Err(bad(other.display(), "expected an object made by another cmdlet (use a $variable)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        Param {
            name: "clusterName",
            kind: Kind::Str,
            mandatory: true,
        },
        Param {
            name: "count",
            kind: Kind::Int,
            mandatory: false,
        },
        Param {
            name: "dnsServers",
            kind: Kind::StrArray,
            mandatory: false,
        },
        Param {
            name: "disableAutoScaler",
            kind: Kind::Switch,
            mandatory: false,
        },
    ];

    fn bind_line(line: &str) -> Result<Bound, AksCliError> {
        let p = parse_line(line)?;
        bind(&p.stages[0].cmdlet, PARAMS, &p.stages[0].tokens, &BTreeMap::new())
    }

    #[test]
    fn binds_case_insensitively_by_prefix_with_quotes_arrays_and_switches() {
        let b = bind_line(r#"X -CLUSTERNAME 'my ''c''' -cou 3 -dns "10.0.0.1",10.0.0.2 -disableAutoScaler"#).expect("bind");
        assert_eq!(b.str("clusterName").as_deref(), Some("my 'c'"));
        assert_eq!(b.int("count"), Some(3));
        assert_eq!(
            b.value("dnsServers"),
            Some(&PsValue::Array(vec!["10.0.0.1".into(), "10.0.0.2".into()]))
        );
        assert!(b.flag("disableAutoScaler"));
        let b = bind_line("X -clusterName:wc -count:-1").expect("inline values");
        assert_eq!(b.int("count"), Some(-1));
    }

    #[test]
    fn pipelines_and_assignments_split() {
        let p = parse_line("$c = Get-AksHciCluster -name 'a|b' | ConvertTo-Json -Depth 4").expect("parse");
        assert_eq!(p.assign.as_deref(), Some("c"));
        assert_eq!(p.stages.len(), 2);
        assert_eq!(p.stages[0].tokens[1], Token::Value(vec![Elem::Text("a|b".into())]));
        assert_eq!(p.stages[1].cmdlet, "ConvertTo-Json");
    }

    #[test]
    fn bad_input_is_named() {
        let err = |line: &str| bind_line(line).expect_err(line).to_string();
        assert_eq!(
            err("X -c 1"),
            "X : Parameter cannot be processed because the parameter name 'c' is ambiguous. Possible matches include: -clusterName -count."
        );
        assert_eq!(
            err("X -clusterName a -foo 1"),
            "X : A parameter cannot be found that matches parameter name 'foo'."
        );
        assert_eq!(
            err("X -clusterName a -count three"),
            "X : Cannot process argument transformation on parameter 'count'. Cannot convert value \"three\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\""
        );
        assert_eq!(
            err("X -count 2"),
            "X : Cannot process command because of one or more missing mandatory parameters: clusterName."
        );
        assert_eq!(
            err("X -clusterName"),
            "X : Missing an argument for parameter 'clusterName'. Specify a parameter of type 'System.String' and try again."
        );
        assert_eq!(
            err("X -clusterName a b"),
            "X : A positional parameter cannot be found that accepts argument 'b'."
        );
        assert_eq!(
            err("X -clusterName 'a"),
            "At line:1 char:1\n+ X -clusterName 'a\nThe string is missing the terminator: '."
        );
        assert_eq!(
            err("X -clusterName $nope"),
            "The variable '$nope' cannot be retrieved because it has not been set."
        );
        assert_eq!(err("X | | Y"), "At line:1 char:1\n+ X | | Y\nAn empty pipe element is not allowed.");
    }
}
