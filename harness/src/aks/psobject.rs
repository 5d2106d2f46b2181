//! PowerShell objects as the AksHci cmdlets return them, and the two ways the runbook shows
//! them: the default list view (`Format-List`) and `ConvertTo-Json` (PowerShell 7's layout:
//! two-space indentation, properties in declaration order, `-Depth` 2 by default with deeper
//! objects replaced by their string form and a truncation warning, `-Compress` on one line).

/// A value of a PowerShell object's property.
#[derive(Debug, Clone, PartialEq)]
pub enum PsValue {
    /// `$null`.
    Null,
    /// `$true` / `$false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<PsValue>),
    /// A PSCustomObject: properties in order.
    Object(Vec<(String, PsValue)>),
}

impl From<&str> for PsValue {
    fn from(s: &str) -> Self {
        PsValue::Str(s.to_string())
    }
}

impl From<String> for PsValue {
    fn from(s: String) -> Self {
        PsValue::Str(s)
    }
}

impl From<u32> for PsValue {
    fn from(n: u32) -> Self {
        PsValue::Int(i64::from(n))
    }
}

impl From<bool> for PsValue {
    fn from(b: bool) -> Self {
        PsValue::Bool(b)
    }
}

/// Builds an object from `(name, value)` pairs.
pub fn object<const N: usize>(props: [(&str, PsValue); N]) -> PsValue {
    PsValue::Object(props.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl PsValue {
    /// A property of an object, matched case-insensitively as PowerShell does.
    pub fn get(&self, name: &str) -> Option<&PsValue> {
        match self {
            PsValue::Object(props) => props.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// How PowerShell shows the value inside a list or as a string (`ToString()`).
    pub fn display(&self) -> String {
        match self {
            PsValue::Null => String::new(),
            PsValue::Bool(true) => "True".into(),
            PsValue::Bool(false) => "False".into(),
            PsValue::Int(n) => n.to_string(),
            PsValue::Str(s) => s.clone(),
            PsValue::Array(items) => items.iter().map(PsValue::display).collect::<Vec<_>>().join(" "),
            PsValue::Object(_) => match self.get("Name") {
                Some(PsValue::Str(name)) => name.clone(),
                _ => self.hashtable_string(),
            },
        }
    }

    /// `@{a=1; b=x}`: a PSCustomObject's string form (what a too-deep object becomes in JSON).
    fn hashtable_string(&self) -> String {
        match self {
            PsValue::Object(props) => {
                let inner: Vec<String> = props.iter().map(|(k, v)| format!("{k}={}", v.display())).collect();
                format!("@{{{}}}", inner.join("; "))
            }
            other => other.display(),
        }
    }

    /// The value in PowerShell's list view: collections in braces, `{a, b}`.
    fn list_cell(&self) -> String {
        match self {
            PsValue::Array(items) => format!("{{{}}}", items.iter().map(PsValue::display).collect::<Vec<_>>().join(", ")),
            other => other.display(),
        }
    }
}

/// The list view of objects (`Format-List`): one `Name : value` line per property, names
/// padded to the longest, a blank line before each object and two after the last.
pub fn format_list(objects: &[PsValue]) -> String {
    let mut out = String::new();
    for obj in objects {
        out.push('\n');
        match obj {
            PsValue::Object(props) => {
                let width = props.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
                for (k, v) in props {
                    let line = format!("{k:<width$} : {}", v.list_cell());
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
            other => {
                out.push_str(&other.display());
                out.push('\n');
            }
        }
    }
    if !objects.is_empty() {
        out.push_str("\n\n");
    }
    out
}

/// The warning `ConvertTo-Json` writes when it cut objects deeper than `-Depth`.
pub fn truncation_warning(depth: usize) -> String {
    format!("Resulting JSON is truncated as serialization has exceeded the set depth of {depth}.")
}

/// `ConvertTo-Json [-Depth depth] [-Compress]`: the JSON text, and whether it was truncated.
/// Several objects become a JSON array, as when a pipeline feeds many objects.
pub fn to_json(objects: &[PsValue], depth: usize, compress: bool) -> (String, bool) {
    let root = match objects {
        [one] => one.clone(),
        many => PsValue::Array(many.to_vec()),
    };
    let mut truncated = false;
    let value = limit_depth(&root, 0, depth, &mut truncated);
    let mut out = String::new();
    write_json(&value, 0, compress, &mut out);
    (out, truncated)
}

/// Replaces containers nested deeper than `depth` with their string form.
fn limit_depth(value: &PsValue, level: usize, depth: usize, truncated: &mut bool) -> PsValue {
    match value {
        PsValue::Object(_) | PsValue::Array(_) if level > depth => {
            *truncated = true;
            PsValue::Str(value.hashtable_string())
        }
        PsValue::Object(props) => PsValue::Object(
            props
                .iter()
                .map(|(k, v)| (k.clone(), limit_depth(v, level + 1, depth, truncated)))
                .collect(),
        ),
        // The root array (many pipeline objects) is not a level of its own.
        PsValue::Array(items) => {
            let next = if level == 0 { 0 } else { level + 1 };
            PsValue::Array(items.iter().map(|v| limit_depth(v, next, depth, truncated)).collect())
        }
        other => other.clone(),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn write_json(value: &PsValue, indent: usize, compress: bool, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        PsValue::Null => out.push_str("null"),
        PsValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        PsValue::Int(n) => out.push_str(&n.to_string()),
        PsValue::Str(s) => out.push_str(&json_string(s)),
        PsValue::Array(items) if items.is_empty() => out.push_str("[]"),
        PsValue::Object(props) if props.is_empty() => out.push_str("{}"),
        PsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !compress {
                    out.push('\n');
                    out.push_str(&pad(indent + 1));
                }
                write_json(item, indent + 1, compress, out);
            }
            if !compress {
                out.push('\n');
                out.push_str(&pad(indent));
            }
            out.push(']');
        }
        PsValue::Object(props) => {
            out.push('{');
            for (i, (k, v)) in props.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !compress {
                    out.push('\n');
                    out.push_str(&pad(indent + 1));
                }
                out.push_str(&json_string(k));
                out.push_str(if compress { ":" } else { ": " });
                write_json(v, indent + 1, compress, out);
            }
            if !compress {
                out.push('\n');
                out.push_str(&pad(indent));
            }
            out.push('}');
        }
    }
}

/// Reads JSON (what `ConvertTo-Json` wrote) back into objects, keeping property order.
pub fn from_json(text: &str) -> Result<PsValue, serde_json::Error> {
    serde_json::from_str(text)
}

impl<'de> serde::Deserialize<'de> for PsValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PsValueVisitor)
    }
}

/// Builds [`PsValue`]s straight from the parser, so objects keep the document's key order.
struct PsValueVisitor;

impl<'de> serde::de::Visitor<'de> for PsValueVisitor {
    type Value = PsValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<PsValue, E> {
        Ok(PsValue::Null)
    }

    fn visit_none<E>(self) -> Result<PsValue, E> {
        Ok(PsValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<PsValue, E> {
        Ok(PsValue::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<PsValue, E> {
        Ok(PsValue::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<PsValue, E> {
        Ok(i64::try_from(n).map(PsValue::Int).unwrap_or_else(|_| PsValue::Str(n.to_string())))
    }

    fn visit_f64<E>(self, n: f64) -> Result<PsValue, E> {
        Ok(PsValue::Str(n.to_string()))
    }

    fn visit_str<E>(self, s: &str) -> Result<PsValue, E> {
        Ok(PsValue::Str(s.to_string()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PsValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(PsValue::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<PsValue, A::Error> {
        let mut props = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, PsValue>()? {
            props.push((k, v));
        }
        Ok(PsValue::Object(props))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> PsValue {
        object([("Name", "linux".into()), ("Count", 3u32.into())])
    }

    #[test]
    fn json_keeps_order_and_truncates_below_depth() {
        let obj = object([
            ("Name", "wc".into()),
            ("NodePools", PsValue::Array(vec![pool()])),
            ("Deep", object([("A", object([("B", object([("C", 1u32.into())]))]))])),
        ]);
        let (json, truncated) = to_json(std::slice::from_ref(&obj), 2, false);
        assert!(truncated);
        assert_eq!(
            json,
            "{\n  \"Name\": \"wc\",\n  \"NodePools\": [\n    {\n      \"Name\": \"linux\",\n      \"Count\": 3\n    }\n  ],\n  \"Deep\": {\n    \"A\": {\n      \"B\": \"@{C=1}\"\n    }\n  }\n}"
        );
        let (compact, truncated) = to_json(std::slice::from_ref(&obj), 5, true);
        assert!(!truncated);
        assert_eq!(
            compact,
            r#"{"Name":"wc","NodePools":[{"Name":"linux","Count":3}],"Deep":{"A":{"B":{"C":1}}}}"#
        );
        assert_eq!(from_json(&compact).expect("parse"), obj, "JSON reads back in declaration order");
        let (pretty, _) = to_json(std::slice::from_ref(&obj), 5, false);
        let outer_name_last = object([("NodePools", PsValue::Array(vec![pool()])), ("Name", "wc".into())]);
        let (json, _) = to_json(std::slice::from_ref(&outer_name_last), 2, false);
        assert_eq!(
            from_json(&json).expect("parse"),
            outer_name_last,
            "a key seen first in a nested object keeps its place outside"
        );
        assert_eq!(from_json(&pretty).expect("parse"), obj);
    }

    #[test]
    fn list_view_pads_names_and_braces_collections() {
        let obj = object([
            ("Name", "wc".into()),
            ("NodePools", PsValue::Array(vec![pool(), pool()])),
            ("Ok", true.into()),
        ]);
        assert_eq!(
            format_list(&[obj]),
            "\nName      : wc\nNodePools : {linux, linux}\nOk        : True\n\n\n"
        );
    }
}
