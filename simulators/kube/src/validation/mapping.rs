//! Maps `jsonschema` validation errors to kube-apiserver field errors carrying kube-openapi's
//! messages (`spec.x in body must be of type integer: "string"`).

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::{FieldError, formats, go_number, go_value, join, json_type, unescape_pointer};

/// Converts an instance JSON pointer to a kube-apiserver field path (`spec.list[0].name`).
fn instance_path(root: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut current = Some(root);
    for seg in pointer.split('/').skip(1).map(unescape_pointer) {
        match current {
            Some(Value::Array(list)) => {
                out = format!("{out}[{seg}]");
                current = seg.parse::<usize>().ok().and_then(|i| list.get(i));
            }
            other => {
                current = other.and_then(|v| v.get(&seg));
                out = join(&out, &seg);
            }
        }
    }
    out
}

/// The translated schema node holding the keyword that failed.
fn failing_node<'a>(translated: &'a Value, e: &ValidationError<'_>) -> Option<&'a Value> {
    let pointer = e.schema_path().as_str();
    let parent = pointer.rsplit_once('/').map_or("", |(p, _)| p);
    translated.pointer(parent)
}

/// Maps one `jsonschema` error to kube-apiserver field errors with kube-openapi's messages.
pub(super) fn map_error(e: &ValidationError<'_>, root: &Value, translated: &Value, out: &mut Vec<FieldError>) {
    let name = instance_path(root, e.instance_path().as_str());
    let value = e.instance().as_ref();
    let node = failing_node(translated, e);
    let invalid = |detail: String| FieldError::invalid(&name, value.clone(), &format!("{name} in body {detail}"));
    let bound = |limit: &Value| match limit {
        Value::Number(n) => go_number(n),
        other => other.to_string(),
    };
    let count = match value {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    let error = match e.kind() {
        ValidationErrorKind::Type { .. } => {
            let expected: Vec<&str> = match node.and_then(|n| n.get("type")) {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
                _ => Vec::new(),
            };
            let actual = json_type(value);
            let detail = format!("{name} in body must be of type {}: \"{actual}\"", expected.join(","));
            FieldError::type_invalid(&name, Value::from(actual), &detail)
        }
        ValidationErrorKind::Required { property } => FieldError::required(&join(&name, property.as_str().unwrap_or_default()), ""),
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect();
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            FieldError::not_supported(&name, value.clone(), &allowed)
        }
        ValidationErrorKind::MaxLength { limit } => FieldError::too_long(&name, *limit),
        ValidationErrorKind::MinLength { limit } => invalid(format!("should be at least {limit} chars long")),
        ValidationErrorKind::Pattern { pattern } => invalid(format!("should match '{pattern}'")),
        ValidationErrorKind::Minimum { limit } => invalid(format!("should be greater than or equal to {}", bound(limit))),
        ValidationErrorKind::ExclusiveMinimum { limit } => invalid(format!("should be greater than {}", bound(limit))),
        ValidationErrorKind::Maximum { limit } => invalid(format!("should be less than or equal to {}", bound(limit))),
        ValidationErrorKind::ExclusiveMaximum { limit } => invalid(format!("should be less than {}", bound(limit))),
        ValidationErrorKind::MultipleOf { .. } => {
            let factor = node.and_then(|n| n.get("multipleOf")).map(bound).unwrap_or_default();
            invalid(format!("should be a multiple of {factor}"))
        }
        ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MaxProperties { limit } => {
            FieldError::too_many(&name, count, *limit)
        }
        ValidationErrorKind::MinItems { limit } => FieldError::invalid(
            &name,
            Value::from(count),
            &format!("{name} in body should have at least {limit} items"),
        ),
        ValidationErrorKind::MinProperties { limit } => FieldError::invalid(
            &name,
            Value::from(count),
            &format!("{name} in body should have at least {limit} properties"),
        ),
        ValidationErrorKind::UniqueItems => {
            FieldError::invalid(&name, Value::from(""), &format!("{name} in body shouldn't contain duplicates"))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let detail = format!("{name}.{key} in body is a forbidden property");
                out.push(FieldError::invalid(&name, Value::from(key.as_str()), &detail));
            }
            return;
        }
        ValidationErrorKind::Format { format } => {
            let original = format.strip_prefix(formats::PREFIX).unwrap_or(format);
            let detail = format!("{name} in body must be of type {original}: {}", go_value(value));
            FieldError::type_invalid(&name, value.clone(), &detail)
        }
        ValidationErrorKind::AnyOf { context } => {
            let detail = format!("\"{name}\" must validate at least one schema (anyOf)");
            return junctor_failure(detail, context, root, translated, out);
        }
        ValidationErrorKind::OneOfNotValid { context } => {
            let detail = format!("\"{name}\" must validate one and only one schema (oneOf). Found none valid");
            return junctor_failure(detail, context, root, translated, out);
        }
        ValidationErrorKind::OneOfMultipleValid { context } => {
            let valid = context.iter().filter(|c| c.is_empty()).count().max(2);
            let detail = format!("\"{name}\" must validate one and only one schema (oneOf). Found {valid} valid alternatives");
            FieldError::invalid("", Value::from(""), &detail)
        }
        ValidationErrorKind::Not { .. } => {
            FieldError::invalid("", Value::from(""), &format!("\"{name}\" must not validate the schema (not)"))
        }
        _ => FieldError::invalid(&name, value.clone(), &e.to_string()),
    };
    out.push(error);
}

/// Reports an unsatisfied anyOf/oneOf plus the errors of its closest alternative.
fn junctor_failure(
    detail: String,
    alternatives: &[Vec<ValidationError<'static>>],
    root: &Value,
    translated: &Value,
    out: &mut Vec<FieldError>,
) {
    out.push(FieldError::invalid("", Value::from(""), &detail));
    if let Some(best) = alternatives.iter().filter(|a| !a.is_empty()).min_by_key(|a| a.len()) {
        for e in best {
            map_error(e, root, translated, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{CrdSchema, FieldError};

    fn errors_of(schema: Value, obj: Value) -> Vec<String> {
        let schema = CrdSchema::compile(&schema).expect("test schema compiles");
        let mut msgs: Vec<String> = schema.validate(&obj).iter().map(FieldError::message).collect();
        msgs.sort();
        msgs
    }

    #[test]
    fn keyword_messages() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 10},
            "f": {"type": "number", "multipleOf": 0.5},
            "l": {"type": "array", "maxItems": 1, "minItems": 1, "items": {"type": "string"}},
            "m": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
            "e": {"type": "integer", "enum": [1, 2]},
            "s": {"type": "string", "nullable": true},
            "t": {"type": "string"},
            "u": {"type": "string", "format": "uuid"}
        }}}});
        let obj = json!({"spec": {"n": 0, "f": 0.3, "l": ["a", "b"], "m": {"a": "1", "b": "2"}, "e": 3,
            "s": null, "t": null, "u": "nope"}});
        assert_eq!(
            errors_of(schema.clone(), obj),
            [
                r#"spec.e: Unsupported value: 3: supported values: "1", "2""#,
                r#"spec.f: Invalid value: 0.3: spec.f in body should be a multiple of 0.5"#,
                r#"spec.l: Too many: 2: must have at most 1 item"#,
                r#"spec.m: Too many: 2: must have at most 1 item"#,
                r#"spec.n: Invalid value: 0: spec.n in body should be greater than 0"#,
                r#"spec.t: Invalid value: "null": spec.t in body must be of type string: "null""#,
                r#"spec.u: Invalid value: "nope": spec.u in body must be of type uuid: "nope""#,
            ]
        );
        let obj = json!({"spec": {"n": 11, "l": []}});
        assert_eq!(
            errors_of(schema, obj),
            [
                r#"spec.l: Invalid value: 0: spec.l in body should have at least 1 items"#,
                r#"spec.n: Invalid value: 11: spec.n in body should be less than or equal to 10"#,
            ]
        );
        assert_eq!(
            errors_of(json!({"type": "object"}), json!([1])),
            [r#": Invalid value: "array":  in body must be of type object: "array""#]
        );
    }

    #[test]
    fn junctor_messages() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "not": {"required": ["c"]}}}});
        assert_eq!(
            errors_of(schema.clone(), json!({"spec": {"a": "x", "b": "y"}})),
            [r#": Invalid value: "": "spec" must validate one and only one schema (oneOf). Found 2 valid alternatives"#]
        );
        assert_eq!(
            errors_of(schema, json!({"spec": {}})),
            [
                r#": Invalid value: "": "spec" must validate one and only one schema (oneOf). Found none valid"#,
                "spec.a: Required value",
            ]
        );
        let any_of = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}}, "anyOf": [{"required": ["a"]}]}}});
        assert_eq!(
            errors_of(any_of, json!({"spec": {}})),
            [
                r#": Invalid value: "": "spec" must validate at least one schema (anyOf)"#,
                "spec.a: Required value"
            ]
        );
    }
}
