//! CRD `openAPIV3Schema` handling as kube-apiserver does it: structural checks, pruning, defaulting and validation of custom objects.
//!
//! The JSON-Schema keywords are checked by the `jsonschema` crate on a draft-7 translation of
//! the CRD schema; the Kubernetes extensions (pruning, defaults, list types, embedded resources,
//! int32 ranges) are handled here. Errors are shaped like apimachinery's `field.Error`s with
//! kube-openapi's messages, so the server can build the 422 Status from them.

mod formats;
mod mapping;
mod structural;
#[cfg(test)]
mod tests;
mod walk;

use std::fmt;
use std::sync::Arc;

use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

use mapping::map_error;
use structural::Node;
use walk::{apply_defaults, prune, walk};

/// The kind of a field error, as apimachinery's `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    /// `FieldValueNotFound`: "Not found".
    NotFound,
    /// `FieldValueRequired`: "Required value".
    Required,
    /// `FieldValueDuplicate`: "Duplicate value".
    Duplicate,
    /// `FieldValueInvalid`: "Invalid value".
    Invalid,
    /// `FieldValueNotSupported`: "Unsupported value".
    NotSupported,
    /// `FieldValueForbidden`: "Forbidden".
    Forbidden,
    /// `FieldValueTooLong`: "Too long".
    TooLong,
    /// `FieldValueTooMany`: "Too many".
    TooMany,
    /// `FieldValueTooFew`: "Too few".
    TooFew,
    /// `InternalError`: "Internal error".
    Internal,
    /// `FieldValueTypeInvalid`: "Invalid value" (wrong JSON type or format).
    TypeInvalid,
    /// `FieldValueTooShort`: "Too short".
    TooShort,
}

impl FieldErrorType {
    /// The `metav1.CauseType` string, e.g. `FieldValueInvalid`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::TooFew => "FieldValueTooFew",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::TooShort => "FieldValueTooShort",
        }
    }

    /// The human label printed in messages, e.g. `Invalid value`.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::TooFew => "Too few",
            Self::Internal => "Internal error",
            Self::TooShort => "Too short",
        }
    }
}

/// One validation error at a field path, like apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path as kube-apiserver prints it, e.g. `spec.replicas` or `spec.list[0].name`.
    pub field: String,
    /// The kind of error.
    pub error_type: FieldErrorType,
    /// The offending value; `None` omits it from the message.
    pub bad_value: Option<Value>,
    /// Extra detail appended to the message.
    pub detail: String,
}

impl FieldError {
    fn new(field: &str, error_type: FieldErrorType, bad_value: Option<Value>, detail: &str) -> Self {
        Self {
            field: field.to_owned(),
            error_type,
            bad_value,
            detail: detail.to_owned(),
        }
    }

    /// A `Required value` error.
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(field, FieldErrorType::Required, None, detail)
    }

    /// A `Forbidden` error.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(field, FieldErrorType::Forbidden, None, detail)
    }

    /// An `Invalid value` error.
    pub fn invalid(field: &str, value: Value, detail: &str) -> Self {
        Self::new(field, FieldErrorType::Invalid, Some(value), detail)
    }

    /// An `Invalid value` error for a wrong type or format (`FieldValueTypeInvalid`).
    pub fn type_invalid(field: &str, value: Value, detail: &str) -> Self {
        Self::new(field, FieldErrorType::TypeInvalid, Some(value), detail)
    }

    /// A `Duplicate value` error.
    pub fn duplicate(field: &str, value: Value) -> Self {
        Self::new(field, FieldErrorType::Duplicate, Some(value), "")
    }

    /// An `Unsupported value` error listing the supported values.
    pub fn not_supported(field: &str, value: Value, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| quote(s)).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(field, FieldErrorType::NotSupported, Some(value), &detail)
    }

    /// A `Too long` error for a string longer than `max` characters.
    pub fn too_long(field: &str, max: u64) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(field, FieldErrorType::TooLong, None, &format!("may not be more than {max} {unit}"))
    }

    /// A `Too many` error for a list or map of `actual` entries where `max` are allowed.
    pub fn too_many(field: &str, actual: usize, max: u64) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        let detail = format!("must have at most {max} {unit}");
        Self::new(field, FieldErrorType::TooMany, Some(Value::from(actual)), &detail)
    }

    /// The `metav1.CauseType` of this error, e.g. `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.error_type.reason()
    }

    /// The message without the field path, as in a Status cause:
    /// `Invalid value: "string": spec.paused in body must be of type boolean: "string"`.
    pub fn body(&self) -> String {
        use FieldErrorType as T;
        let mut s = match (self.error_type, &self.bad_value) {
            (T::Required | T::Forbidden | T::TooLong | T::TooShort | T::Internal, _) | (_, None) => self.error_type.label().to_owned(),
            (t, Some(v)) => format!("{}: {}", t.label(), go_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The full message `field: body`, e.g.
    /// `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Formats field errors like apimachinery's aggregate: one message, or `[m1, m2]`.
fn aggregate(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.message(),
        many => format!("[{}]", many.iter().map(FieldError::message).collect::<Vec<_>>().join(", ")),
    }
}

/// Why a CRD schema cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// The schema is not a JSON object.
    #[error("{path}: Invalid value: expected a JSON object schema, found {found}")]
    NotAnObject {
        /// Where the schema sits, e.g. `spec.versions[0].schema.openAPIV3Schema`.
        path: String,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The schema is not structural or otherwise invalid; each error names its field path.
    #[error("{}", aggregate(errors))]
    Invalid {
        /// The problems, sorted by message like kube-apiserver does.
        errors: Vec<FieldError>,
    },
}

impl SchemaError {
    /// The individual field errors (one synthesized error for [`SchemaError::NotAnObject`]).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::NotAnObject { path, found } => {
                vec![FieldError::invalid(path, Value::from(*found), "must be a JSON object schema")]
            }
            Self::Invalid { errors } => errors.clone(),
        }
    }
}

/// A compiled CRD version schema: cheap to clone, shareable between threads.
#[derive(Clone)]
pub struct CrdSchema {
    inner: Arc<Inner>,
}

struct Inner {
    root: Node,
    translated: Value,
    validator: Validator,
}

impl fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdSchema")
            .field("schema", &self.inner.translated)
            .finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// Compiles an `openAPIV3Schema`, rejecting it like kube-apiserver rejects a CRD whose schema
    /// is not structural. Error paths start at `openAPIV3Schema`; see [`CrdSchema::compile_at`].
    pub fn compile(open_api_v3_schema: &Value) -> Result<Self, SchemaError> {
        Self::compile_at(open_api_v3_schema, "openAPIV3Schema")
    }

    /// Like [`CrdSchema::compile`], with error paths under `base`, e.g.
    /// `spec.versions[0].schema.openAPIV3Schema`.
    pub fn compile_at(open_api_v3_schema: &Value, base: &str) -> Result<Self, SchemaError> {
        if !open_api_v3_schema.is_object() {
            return Err(SchemaError::NotAnObject {
                path: base.to_owned(),
                found: json_type(open_api_v3_schema),
            });
        }
        let mut errors = structural::check(open_api_v3_schema, base);
        let translated = structural::translate(open_api_v3_schema);
        let validator = match build(&translated) {
            Ok(v) => Some(v),
            Err(e) => {
                let pointer = e.instance_path().as_str();
                let detail = if pointer.ends_with("/pattern") {
                    format!("must be a valid regular expression, but isn't: {e}")
                } else {
                    e.to_string()
                };
                let at = schema_pointer_path(base, pointer);
                let found = e.instance().clone().into_owned();
                errors.push(FieldError::invalid(&at, found, &detail));
                None
            }
        };
        if errors.is_empty() {
            check_defaults(open_api_v3_schema, base, &mut errors);
        }
        errors.sort_by_key(FieldError::message);
        errors.dedup();
        match validator {
            Some(validator) if errors.is_empty() => {
                let root = Node::parse(open_api_v3_schema);
                Ok(Self {
                    inner: Arc::new(Inner {
                        root,
                        translated,
                        validator,
                    }),
                })
            }
            _ => Err(SchemaError::Invalid { errors }),
        }
    }

    /// Removes fields the schema does not specify (except under
    /// `x-kubernetes-preserve-unknown-fields`) and returns their paths, sorted, like the
    /// apiserver's unknown-field warnings: `spec.foo`, `spec.list[0].bar`. `apiVersion`, `kind`
    /// and `metadata` are kept at the root; in embedded resources, unknown `metadata` fields are
    /// dropped.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        prune(obj, Some(&self.inner.root), "", true, self.inner.root.preserve_unknown, &mut pruned);
        pruned.sort();
        pruned
    }

    /// Applies `default`s: a missing (or non-nullable `null`) field gets its default when its
    /// parent object exists, recursively through properties, additionalProperties and items.
    pub fn default(&self, obj: &mut Value) {
        apply_defaults(obj, &self.inner.root);
    }

    /// Validates an object (after pruning and defaulting), returning all errors found.
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for e in self.inner.validator.iter_errors(obj) {
            map_error(&e, obj, &self.inner.translated, &mut errors);
        }
        walk(obj, &self.inner.root, "", true, &mut errors);
        let mut unique: Vec<FieldError> = Vec::with_capacity(errors.len());
        for e in errors {
            if !unique.contains(&e) {
                unique.push(e);
            }
        }
        unique
    }

    /// The `x-kubernetes-list-map-keys` of the list at a dotted path such as
    /// `spec.topology.workers.machineDeployments` (lists on the way are stepped into).
    pub fn list_map_keys(&self, dotted_path: &str) -> Option<Vec<String>> {
        let node = self.lookup(dotted_path)?;
        (node.list_type.as_deref() == Some("map") && !node.list_map_keys.is_empty()).then(|| node.list_map_keys.clone())
    }

    /// The `x-kubernetes-list-type` (`atomic`, `set`, `map`) of the list at a dotted path.
    pub fn list_type(&self, dotted_path: &str) -> Option<String> {
        self.lookup(dotted_path)?.list_type.clone()
    }

    fn lookup(&self, dotted_path: &str) -> Option<&Node> {
        let mut node = &self.inner.root;
        for segment in dotted_path.split('.').filter(|s| !s.is_empty()) {
            let name = segment.split('[').next().unwrap_or(segment);
            while node.type_name.as_deref() == Some("array") {
                node = node.items.as_deref()?;
            }
            node = node.child(name)?;
        }
        Some(node)
    }
}

/// Builds the `jsonschema` validator for a translated schema, registering the k8s formats used.
fn build(translated: &Value) -> Result<Validator, ValidationError<'static>> {
    let mut names = Vec::new();
    collect_formats(translated, &mut names);
    let mut options = jsonschema::options().with_draft(Draft::Draft7).should_validate_formats(true);
    for name in names {
        let original = name.strip_prefix(formats::PREFIX).unwrap_or(&name);
        if let Some(check) = formats::check_for(original) {
            options = options.with_format(name.clone(), check);
        }
    }
    options.build(translated)
}

fn collect_formats(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child {
                    Value::String(s) if k == "format" && s.starts_with(formats::PREFIX) => {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                    _ => collect_formats(child, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|c| collect_formats(c, out)),
        _ => {}
    }
}

/// Validates every `default` in the schema against its own schema and requires it to be pruned.
fn check_defaults(raw: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(obj) = raw.as_object() else { return };
    if let Some(default) = obj.get("default") {
        let at = format!("{path}.default");
        let node = Node::parse(raw);
        let mut copy = default.clone();
        let mut pruned = Vec::new();
        prune(&mut copy, Some(&node), "", node.embedded, node.preserve_unknown, &mut pruned);
        if !pruned.is_empty() {
            errors.push(FieldError::invalid(&at, default.clone(), "must not have unknown fields"));
        }
        let translated = structural::translate(raw);
        if let Ok(validator) = build(&translated) {
            let mut found = Vec::new();
            for e in validator.iter_errors(default) {
                map_error(&e, default, &translated, &mut found);
            }
            for mut e in found {
                e.field = if e.field.is_empty() {
                    at.clone()
                } else {
                    format!("{at}.{}", e.field)
                };
                errors.push(e);
            }
        }
    }
    for (k, v) in obj.get("properties").and_then(Value::as_object).into_iter().flatten() {
        check_defaults(v, &format!("{path}.properties[{k}]"), errors);
    }
    for k in ["items", "additionalProperties"] {
        if let Some(v) = obj.get(k) {
            check_defaults(v, &format!("{path}.{k}"), errors);
        }
    }
}

/// Converts a JSON pointer into the translated schema to a CRD schema field path.
fn schema_pointer_path(base: &str, pointer: &str) -> String {
    let mut out = base.to_owned();
    let mut segments = pointer.split('/').skip(1).map(unescape_pointer);
    while let Some(seg) = segments.next() {
        match seg.as_str() {
            "properties" | "allOf" | "anyOf" | "oneOf" => {
                let next = segments.next().unwrap_or_default();
                out = format!("{out}.{seg}[{next}]");
            }
            _ => out = format!("{out}.{seg}"),
        }
    }
    out
}

fn unescape_pointer(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The JSON-Schema type name of a value (integral floats count as integers, as in kube-openapi).
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `%q` of a string (close enough: JSON string escaping).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Formats a number like Go's `%v` does for float64/int64.
fn go_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == f.trunc() && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    if f.abs() >= 1e21 || f.abs() < 1e-4 {
        let s = format!("{f:e}");
        if let Some((mantissa, exp)) = s.split_once('e') {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            return format!("{mantissa}e{sign}{digits:0>2}");
        }
    }
    f.to_string()
}

/// Formats a bad value like apimachinery's `field.Error` does.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Number(n) => go_number(n),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod unit_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_print_like_go() {
        let n = |v: Value| go_value(&v);
        assert_eq!(n(json!(1.5)), "1.5");
        assert_eq!(n(json!(3.0)), "3");
        assert_eq!(n(json!(-7)), "-7");
        assert_eq!(n(json!(1e21)), "1e+21");
        assert_eq!(n(json!(0.00001)), "1e-05");
        assert_eq!(n(json!(null)), "null");
        assert_eq!(n(json!({"a": [1]})), r#"{"a":[1]}"#);
    }

    #[test]
    fn field_error_bodies_and_reasons() {
        let e = FieldError::too_many("spec.x", 3, 2);
        assert_eq!(e.message(), "spec.x: Too many: 3: must have at most 2 items");
        assert_eq!(e.reason(), "FieldValueTooMany");
        let e = FieldError::too_long("spec.n", 1);
        assert_eq!(e.message(), "spec.n: Too long: may not be more than 1 byte");
        let e = FieldError::not_supported("spec.m", Value::Null, &["a", "b"]);
        assert_eq!(e.message(), r#"spec.m: Unsupported value: null: supported values: "a", "b""#);
        assert_eq!(FieldError::required("spec.r", "").message(), "spec.r: Required value");
        assert_eq!(FieldError::duplicate("l[1]", json!(2)).reason(), "FieldValueDuplicate");
    }

    #[test]
    fn schema_compiler_errors_are_field_errors() {
        let raw = json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "(unclosed"}}});
        let err = CrdSchema::compile(&raw).expect_err("bad regex");
        let errors = err.field_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].field.starts_with("openAPIV3Schema.properties[s]"), "{errors:?}");
        assert_eq!(errors[0].error_type, FieldErrorType::Invalid);
        assert!(errors[0].detail.starts_with("must be a valid regular expression"), "{errors:?}");
    }

    #[test]
    fn compiled_schema_is_shareable() {
        fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
        assert_send_sync_clone::<CrdSchema>();
    }
}
