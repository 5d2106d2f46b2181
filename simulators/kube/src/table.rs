//! `meta.k8s.io/v1` Table responses (`kubectl get`), for built-in resources and CRD printer columns.
//!
//! Sub-modules: `table/builtin.rs` with `table/builtin/{core_group,apps}.rs` (kube-apiserver's
//! built-in printers), `table/jsonpath.rs` (client-go JSONPath subset for CRD columns),
//! `table/descriptions.rs` (column descriptions), `table/tests.rs`.

mod builtin;
mod descriptions;
mod jsonpath;

use jsonpath::JsonPath;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::str::FromStr;

/// Why a table could not be built or an input could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A printer column definition lacks a required field or has the wrong JSON type.
    #[error("additionalPrinterColumns.{field}: expected {expected}, found {found}")]
    ColumnField {
        /// The column field (`name`, `type`, `jsonPath`, ...).
        field: &'static str,
        /// The JSON type that was expected.
        expected: &'static str,
        /// What was found instead.
        found: String,
    },
    /// A printer column's `jsonPath` is not valid client-go JSONPath.
    #[error("unrecognized column definition {json_path:?}: {reason}")]
    InvalidJsonPath {
        /// The offending JSONPath.
        json_path: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The `includeObject` query parameter is not None, Metadata or Object.
    #[error("unrecognized includeObject value: {value:?}")]
    UnknownIncludeObject {
        /// The value that was given.
        value: String,
    },
    /// An item to tabulate is not a JSON object.
    #[error("items[{index}]: expected an object, found {found}")]
    NotAnObject {
        /// Position of the item in the input.
        index: usize,
        /// The JSON type found.
        found: &'static str,
    },
}

/// A CRD `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: string, integer, number, boolean or date.
    pub type_: String,
    /// Optional OpenAPI format (e.g. `name`).
    pub format: String,
    /// Human-readable description (may be empty).
    pub description: String,
    /// 0 for the default view, >0 for `-o wide`.
    pub priority: i64,
    /// Client-go JSONPath such as `.status.phase`.
    pub json_path: String,
}

impl PrinterColumn {
    /// Reads one `additionalPrinterColumns` entry and checks that its JSONPath parses.
    pub fn from_crd_column(v: &Value) -> Result<Self, TableError> {
        let text = |field: &'static str, required: bool| -> Result<String, TableError> {
            match v.get(field) {
                Some(Value::String(s)) => Ok(s.clone()),
                None | Some(Value::Null) if !required => Ok(String::new()),
                other => Err(TableError::ColumnField {
                    field,
                    expected: "string",
                    found: type_name(other.unwrap_or(&Value::Null)).to_string(),
                }),
            }
        };
        let priority = match v.get("priority") {
            None | Some(Value::Null) => 0,
            Some(p) => p.as_i64().ok_or_else(|| TableError::ColumnField {
                field: "priority",
                expected: "integer",
                found: type_name(p).to_string(),
            })?,
        };
        let column = Self {
            name: text("name", true)?,
            type_: text("type", true)?,
            format: text("format", false)?,
            description: text("description", false)?,
            priority,
            json_path: text("jsonPath", true)?,
        };
        column.compile()?;
        Ok(column)
    }

    fn compile(&self) -> Result<JsonPath, TableError> {
        JsonPath::parse(&self.json_path).map_err(|reason| TableError::InvalidJsonPath {
            json_path: self.json_path.clone(),
            reason,
        })
    }
}

/// The `includeObject` query parameter: what each row's `object` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object (`"object": null`).
    None,
    /// A `meta.k8s.io/v1` PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter (`None`, `Metadata`, `Object`; empty means `Metadata`).
    pub fn parse(s: &str) -> Result<Self, TableError> {
        s.parse()
    }
}

impl FromStr for IncludeObject {
    type Err = TableError;

    /// Parses `None`, `Metadata` or `Object`; the empty string means the default, `Metadata`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "None" => Ok(Self::None),
            "" | "Metadata" => Ok(Self::Metadata),
            "Object" => Ok(Self::Object),
            other => Err(TableError::UnknownIncludeObject { value: other.to_string() }),
        }
    }
}

/// Which printer produces the columns.
#[derive(Debug, Clone, Copy)]
pub enum TableColumns<'a> {
    /// A built-in resource, by API group (`""` for core) and plural resource name.
    Builtin {
        /// API group, `""` for core.
        group: &'a str,
        /// Plural resource name, e.g. `pods`.
        resource: &'a str,
    },
    /// A custom resource's printer columns for the served version (may be empty).
    Custom(&'a [PrinterColumn]),
}

/// A column header as kube-apiserver reports it.
#[derive(Debug, Clone, Copy)]
struct ColumnDef<'a> {
    name: &'a str,
    type_: &'a str,
    format: &'a str,
    description: &'a str,
    priority: i64,
}

impl ColumnDef<'_> {
    fn to_json(self) -> Value {
        json!({"name": self.name, "type": self.type_, "format": self.format,
               "description": self.description, "priority": self.priority})
    }
}

/// Cells of one row plus optional row conditions.
struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

/// Builds a `meta.k8s.io/v1` Table for `objects`; `list_metadata` becomes the table's `metadata`
/// (resourceVersion/continue for lists, the object's resourceVersion for a single get).
pub fn build_table(
    columns: TableColumns<'_>,
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
    now: jiff::Timestamp,
) -> Result<Value, TableError> {
    for (index, obj) in objects.iter().enumerate() {
        if !obj.is_object() {
            return Err(TableError::NotAnObject {
                index,
                found: type_name(obj),
            });
        }
    }
    let (defs, rows): (Vec<Value>, Vec<Row>) = match columns {
        TableColumns::Builtin { group, resource } => match builtin::printer(group, resource) {
            Some(printer) => (
                printer.columns.iter().map(|c| c.to_json()).collect(),
                objects.iter().map(|o| (printer.row)(o, now)).collect(),
            ),
            None => default_table(objects),
        },
        TableColumns::Custom(cols) => custom_table(cols, objects, now)?,
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .zip(objects)
        .map(|(row, obj)| {
            let mut out = Map::new();
            out.insert("cells".into(), Value::Array(row.cells));
            if let Some(conditions) = row.conditions {
                out.insert("conditions".into(), conditions);
            }
            out.insert("object".into(), row_object(obj, include));
            Value::Object(out)
        })
        .collect();
    Ok(json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": if list_metadata.is_null() { json!({}) } else { list_metadata },
        "columnDefinitions": defs,
        "rows": rows,
    }))
}

fn row_object(obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// kube-apiserver's fallback convertor: Name and an RFC 3339 "Created At".
fn default_table(objects: &[&Value]) -> (Vec<Value>, Vec<Row>) {
    let defs = vec![
        name_column().to_json(),
        ColumnDef {
            name: "Created At",
            type_: "date",
            format: "",
            description: descriptions::META_CREATED,
            priority: 0,
        }
        .to_json(),
    ];
    let rows = objects
        .iter()
        .map(|o| Row {
            cells: vec![
                json!(str_at(o, &["metadata", "name"])),
                json!(rfc3339_or_zero(o.pointer("/metadata/creationTimestamp"))),
            ],
            conditions: None,
        })
        .collect();
    (defs, rows)
}

fn name_column() -> ColumnDef<'static> {
    ColumnDef {
        name: "Name",
        type_: "string",
        format: "name",
        description: descriptions::META_NAME,
        priority: 0,
    }
}

/// CRD tables: Name first, then the version's columns (or just Age when it declares none).
fn custom_table(cols: &[PrinterColumn], objects: &[&Value], now: jiff::Timestamp) -> Result<(Vec<Value>, Vec<Row>), TableError> {
    let age_default;
    let cols = if cols.is_empty() {
        age_default = [PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: descriptions::META_CREATED.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
        &age_default[..]
    } else {
        cols
    };
    let compiled = cols.iter().map(PrinterColumn::compile).collect::<Result<Vec<_>, _>>()?;
    let fallback_desc: Vec<String> = cols
        .iter()
        .map(|c| format!("Custom resource definition column (in JSONPath format): {}", c.json_path))
        .collect();
    let mut defs = vec![name_column().to_json()];
    defs.extend(cols.iter().zip(&fallback_desc).map(|(c, fallback)| {
        ColumnDef {
            name: &c.name,
            type_: &c.type_,
            format: &c.format,
            description: if c.description.is_empty() { fallback } else { &c.description },
            priority: c.priority,
        }
        .to_json()
    }));
    let rows = objects
        .iter()
        .map(|obj| {
            let mut cells = vec![json!(str_at(obj, &["metadata", "name"]))];
            cells.extend(cols.iter().zip(&compiled).map(|(col, path)| custom_cell(col, path, obj, now)));
            Row { cells, conditions: None }
        })
        .collect();
    Ok((defs, rows))
}

/// One CRD cell: only the first JSONPath match counts; evaluation errors give `null`.
fn custom_cell(col: &PrinterColumn, path: &JsonPath, obj: &Value, now: jiff::Timestamp) -> Value {
    let Ok(results) = path.find(obj) else {
        return Value::Null;
    };
    let Some(first) = results.first().map(Cow::as_ref) else {
        return Value::Null;
    };
    match (col.type_.as_str(), first) {
        ("string", v) => Value::String(go_print(v)),
        (_, Value::Null) => Value::Null,
        ("integer", Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map_or(Value::Null, Value::from),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => Value::String(if s.is_empty() || s == "null" {
            "<unknown>".to_string()
        } else {
            match s.parse::<jiff::Timestamp>() {
                Ok(ts) => human_duration_between(ts, now),
                Err(_) => "<invalid>".to_string(),
            }
        }),
        _ => Value::Null,
    }
}

/// Renders a value as client-go's JSONPath printer does: scalars as text, maps/lists as compact JSON.
fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::Array(_) | Value::Object(_) => go_json(v),
    }
}

/// Go's `%v` for float64 (`%g`, shortest digits): exponent form when the exponent is < -4 or >= 6.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let Some((mantissa, e)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = e.parse().unwrap_or(0);
    if f == 0.0 || (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Compact JSON with sorted keys and Go's HTML-safe escaping, as `encoding/json` writes it.
fn go_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k.as_str()]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// apimachinery's `duration.HumanDuration`: a succinct, 2-3 significant figure age like `3m20s`.
pub fn human_duration(d: std::time::Duration) -> String {
    human_duration_nanos(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// `human_duration(now - then)`, allowing small negative skew (`0s`) and flagging bigger ones `<invalid>`.
pub fn human_duration_between(then: jiff::Timestamp, now: jiff::Timestamp) -> String {
    human_duration_nanos(now.as_nanosecond() - then.as_nanosecond())
}

fn human_duration_nanos(nanos: i128) -> String {
    const S: i128 = 1_000_000_000;
    let seconds = nanos / S;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / (60 * S);
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / (3600 * S);
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Age of an RFC 3339 timestamp as printers show it: `<unknown>` when unset.
fn age(ts: Option<&Value>, now: jiff::Timestamp) -> String {
    match ts.and_then(Value::as_str).filter(|s| !s.is_empty()) {
        None => "<unknown>".into(),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map_or_else(|_| "<invalid>".into(), |t| human_duration_between(t, now)),
    }
}

/// Go's `Time.UTC().Format(time.RFC3339)`, with the zero time for a missing timestamp.
fn rfc3339_or_zero(ts: Option<&Value>) -> String {
    ts.and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map_or_else(
            || "0001-01-01T00:00:00Z".to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or("")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests;
