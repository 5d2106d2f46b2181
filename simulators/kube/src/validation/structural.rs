//! Structural model of a CRD `openAPIV3Schema`: the apiserver's structural-schema checks,
//! the parsed tree used for pruning/defaulting/list checks, and the translation into the
//! draft-7 JSON Schema handed to the `jsonschema` crate.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::FieldError;
use super::formats;

/// The types an OpenAPI v3 schema in a CRD may name.
const V3_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// One node of a structural schema (only the parts that shape the data, not value validations).
#[derive(Debug, Default, Clone)]
pub(super) struct Node {
    pub(super) type_name: Option<String>,
    pub(super) nullable: bool,
    pub(super) preserve_unknown: bool,
    pub(super) embedded: bool,
    pub(super) properties: BTreeMap<String, Node>,
    /// `Some(None)`: `additionalProperties` given as a boolean; `Some(Some(_))`: as a schema.
    pub(super) additional: Option<Option<Box<Node>>>,
    pub(super) items: Option<Box<Node>>,
    pub(super) default: Option<Value>,
    pub(super) format: Option<String>,
    pub(super) list_type: Option<String>,
    pub(super) list_map_keys: Vec<String>,
}

impl Node {
    /// Parses the structural part of a schema (properties, items, additionalProperties).
    pub(super) fn parse(raw: &Value) -> Node {
        let Some(obj) = raw.as_object() else {
            return Node::default();
        };
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
        let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        Node {
            type_name: text("type"),
            nullable: flag("nullable"),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            embedded: flag("x-kubernetes-embedded-resource"),
            properties: obj
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| props.iter().map(|(k, v)| (k.clone(), Node::parse(v))).collect())
                .unwrap_or_default(),
            additional: match obj.get("additionalProperties") {
                Some(Value::Bool(_)) => Some(None),
                Some(schema @ Value::Object(_)) => Some(Some(Box::new(Node::parse(schema)))),
                _ => None,
            },
            items: obj.get("items").filter(|i| i.is_object()).map(|i| Box::new(Node::parse(i))),
            default: obj.get("default").cloned(),
            format: text("format"),
            list_type: text("x-kubernetes-list-type"),
            list_map_keys: obj
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        }
    }

    /// The schema of a child key of an object value, if the schema specifies one.
    pub(super) fn child(&self, key: &str) -> Option<&Node> {
        self.properties
            .get(key)
            .or_else(|| self.additional.as_ref().and_then(|a| a.as_deref()))
    }
}

/// Field-path builder printing like apimachinery's `field.Path`.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// Runs the apiserver's structural-schema and CRD-schema checks on a raw `openAPIV3Schema`,
/// reporting paths under `base` (e.g. `spec.versions[0].schema.openAPIV3Schema`).
pub(super) fn check(raw: &Value, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    check_node(raw, Level::Root, base, &mut errs);
    if let Some(obj) = raw.as_object() {
        for (junctor, nested) in junctors(obj) {
            complete(nested, raw, base, &child(base, &junctor), &mut errs);
        }
    }
    errs
}

/// The value-validation junctors of a schema with their relative paths (`allOf[0]`, `not`).
fn junctors(obj: &Map<String, Value>) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for name in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = obj.get(name).and_then(Value::as_array) {
            out.extend(list.iter().enumerate().map(|(i, v)| (index(name, i), v)));
        }
    }
    if let Some(not) = obj.get("not") {
        out.push(("not".to_owned(), not));
    }
    out
}

fn int_or_string_any_of() -> Value {
    json!([{"type": "integer"}, {"type": "string"}])
}

fn check_node(raw: &Value, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    let Some(obj) = raw.as_object() else {
        errs.push(FieldError::invalid(path, raw.clone(), "must be a schema object"));
        return;
    };
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (int_or_string, embedded) = (flag("x-kubernetes-int-or-string"), flag("x-kubernetes-embedded-resource"));
    let preserve = flag("x-kubernetes-preserve-unknown-fields");
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        let p = child(path, "x-kubernetes-preserve-unknown-fields");
        errs.push(FieldError::invalid(&p, Value::Bool(false), "must be true or undefined"));
    }

    let type_name = match obj.get("type") {
        None => "",
        Some(Value::String(t)) if V3_TYPES.contains(&t.as_str()) => t.as_str(),
        Some(other) => {
            errs.push(FieldError::not_supported(&child(path, "type"), other.clone(), &V3_TYPES));
            "?"
        }
    };
    let properties = obj.get("properties").and_then(Value::as_object);

    if type_name == "array" && !obj.contains_key("items") {
        errs.push(FieldError::required(&child(path, "items"), "must be specified"));
    }
    match obj.get("items") {
        Some(items @ Value::Object(_)) => check_node(items, Level::Item, &child(path, "items"), errs),
        Some(Value::Array(_)) => errs.push(FieldError::forbidden(
            &child(path, "items"),
            "items must be a schema object and not an array",
        )),
        _ => {}
    }
    for (k, v) in properties.into_iter().flatten() {
        check_node(v, Level::Field, &key(&child(path, "properties"), k), errs);
    }
    if let Some(additional) = obj.get("additionalProperties") {
        let p = child(path, "additionalProperties");
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(&p, "must not be used at the root"));
        }
        if properties.is_some_and(|p| !p.is_empty()) && additional != &Value::Bool(true) {
            errs.push(FieldError::forbidden(
                &p,
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if embedded {
            errs.push(FieldError::forbidden(
                &p,
                "must not be used if x-kubernetes-embedded-resource is set",
            ));
        }
        if additional.is_object() {
            check_node(additional, Level::Field, &p, errs);
        }
    }

    if int_or_string && preserve {
        let p = child(path, "x-kubernetes-preserve-unknown-fields");
        errs.push(FieldError::invalid(
            &p,
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        let p = child(path, "x-kubernetes-embedded-resource");
        errs.push(FieldError::invalid(
            &p,
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }

    let ios_pattern = int_or_string_any_of();
    let skip_any_of = obj.get("anyOf") == Some(&ios_pattern);
    let skip_first_all_of = obj.get("allOf").and_then(|a| a.get(0)).and_then(|first| first.get("anyOf")) == Some(&ios_pattern);
    for (name, nested) in junctors(obj) {
        if name.starts_with("anyOf") && skip_any_of {
            continue;
        }
        let skip_inner_any_of = name == "allOf[0]" && skip_first_all_of;
        check_nested(nested, skip_inner_any_of, &child(path, &name), errs);
    }
    if let Some(pattern) = obj.get("pattern").filter(|p| !p.is_string()) {
        let p = child(path, "pattern");
        errs.push(FieldError::invalid(&p, pattern.clone(), "must be a string"));
    }

    let type_path = child(path, "type");
    if embedded && type_name != "object" {
        const DETAIL: &str = "must be object if x-kubernetes-embedded-resource is true";
        match type_name {
            "" => errs.push(FieldError::required(&type_path, DETAIL)),
            t => errs.push(FieldError::invalid(&type_path, Value::from(t), DETAIL)),
        }
    } else if type_name.is_empty() && !int_or_string && !preserve {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&type_path, detail));
    }
    if lvl == Level::Root && !type_name.is_empty() && type_name != "object" {
        errs.push(FieldError::invalid(
            &type_path,
            Value::from(type_name),
            "must be object at the root",
        ));
    }

    let check_meta = lvl == Level::Root || embedded;
    if let Some(props) = properties.filter(|_| check_meta) {
        for name in ["kind", "apiVersion"] {
            if let Some(prop) = props.get(name) {
                let t = prop.get("type").cloned().unwrap_or(Value::from(""));
                if t != "string" {
                    let p = child(&key(&child(path, "properties"), name), "type");
                    errs.push(FieldError::invalid(&p, t, "must be string"));
                }
            }
        }
    }
    if let Some(metadata) = properties.and_then(|p| p.get("metadata")) {
        check_metadata(metadata, check_meta, lvl, &key(&child(path, "properties"), "metadata"), errs);
    }
    if embedded && !preserve && properties.is_none_or(Map::is_empty) {
        errs.push(FieldError::required(
            &child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
    if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
        errs.push(FieldError::forbidden(
            &child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    check_list_type(obj, type_name, path, errs);
}

fn check_metadata(s: &Value, check_meta: bool, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    let t = s.get("type").cloned().unwrap_or(Value::from(""));
    if check_meta && t != "object" {
        errs.push(FieldError::invalid(&child(path, "type"), t, "must be object"));
    }
    if lvl != Level::Root {
        return;
    }
    let Some(obj) = s.as_object() else { return };
    let only_names = |props: &Map<String, Value>| props.keys().all(|k| k == "name" || k == "generateName");
    let allowed = obj.iter().all(|(k, v)| match k.as_str() {
        "type" | "default" => true,
        "properties" => v.as_object().is_some_and(only_names),
        _ => false,
    });
    if !allowed {
        errs.push(FieldError::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

fn check_list_type(obj: &Map<String, Value>, type_name: &str, path: &str, errs: &mut Vec<FieldError>) {
    let list_type = obj.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys: Vec<&str> = obj
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let lt_path = child(path, "x-kubernetes-list-type");
    if let Some(lt) = list_type {
        if type_name != "array" {
            const DETAIL: &str = "must be array if x-kubernetes-list-type is specified";
            match type_name {
                "" => errs.push(FieldError::required(&child(path, "type"), DETAIL)),
                t => errs.push(FieldError::invalid(&child(path, "type"), Value::from(t), DETAIL)),
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(&lt_path, Value::from(lt), &["atomic", "set", "map"]));
        }
    }
    if !keys.is_empty() && list_type != Some("map") {
        const DETAIL: &str = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errs.push(FieldError::required(&lt_path, DETAIL)),
            Some(lt) => errs.push(FieldError::invalid(&lt_path, Value::from(lt), DETAIL)),
        }
    }
    let items = obj.get("items").and_then(Value::as_object);
    if matches!(list_type, Some("set" | "map")) && items.is_some_and(|i| i.get("nullable") == Some(&Value::Bool(true))) {
        let detail = format!(
            "cannot be nullable when x-kubernetes-list-type is {}",
            list_type.unwrap_or_default()
        );
        errs.push(FieldError::forbidden(&child(&child(path, "items"), "nullable"), &detail));
    }
    if list_type != Some("map") {
        return;
    }
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    if keys.is_empty() {
        errs.push(FieldError::required(
            &keys_path,
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    let Some(items) = items else {
        errs.push(FieldError::required(
            &child(path, "items"),
            "must have a schema if x-kubernetes-list-type is map",
        ));
        return;
    };
    let item_type = items.get("type").cloned().unwrap_or(Value::from(""));
    if item_type != "object" {
        let p = child(&child(path, "items"), "type");
        errs.push(FieldError::invalid(
            &p,
            item_type,
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    let props = items.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = items
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let key_list = Value::from(keys.clone());
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            errs.push(FieldError::invalid(
                &keys_path,
                key_list.clone(),
                "must not contain duplicate entries",
            ));
        }
        let Some(prop) = props.and_then(|p| p.get(*k)) else {
            errs.push(FieldError::invalid(
                &keys_path,
                key_list.clone(),
                "entries must all be names of item properties",
            ));
            continue;
        };
        let prop_path = key(&child(&child(path, "items"), "properties"), k);
        let t = prop.get("type").and_then(Value::as_str).unwrap_or("");
        if matches!(t, "object" | "array") {
            let detail = "must be a scalar type if parent array's x-kubernetes-list-type is map";
            errs.push(FieldError::invalid(&child(&prop_path, "type"), Value::from(t), detail));
        }
        if !required.contains(k) && prop.get("default").is_none() {
            let detail = "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property";
            errs.push(FieldError::required(&child(&prop_path, "default"), detail));
        }
        if prop.get("nullable") == Some(&Value::Bool(true)) {
            let detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable";
            errs.push(FieldError::forbidden(&child(&prop_path, "nullable"), detail));
        }
    }
}

/// Checks a schema under allOf/anyOf/oneOf/not: it may only carry value validations.
fn check_nested(raw: &Value, skip_any_of: bool, path: &str, errs: &mut Vec<FieldError>) {
    let Some(obj) = raw.as_object() else {
        errs.push(FieldError::invalid(path, raw.clone(), "must be a schema object"));
        return;
    };
    for (name, nested) in junctors(obj) {
        if !(skip_any_of && name.starts_with("anyOf")) {
            check_nested(nested, false, &child(path, &name), errs);
        }
    }
    if let Some(items) = obj.get("items") {
        check_nested(items, false, &child(path, "items"), errs);
    }
    for (k, v) in obj.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let p = key(&child(path, "properties"), k);
        if k == "metadata" {
            errs.push(FieldError::forbidden(&p, "must not be specified in a nested context"));
        }
        check_nested(v, false, &p, errs);
    }
    let truthy = |k: &str| match obj.get(k) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    let forbidden = [
        ("type", "must be empty to be structural"),
        ("additionalProperties", "must be undefined to be structural"),
        ("default", "must be undefined to be structural"),
        ("title", "must be empty to be structural"),
        ("description", "must be empty to be structural"),
        ("nullable", "must be false to be structural"),
        ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
        ("x-kubernetes-embedded-resource", "must be false to be structural"),
        ("x-kubernetes-int-or-string", "must be false to be structural"),
        ("x-kubernetes-list-map-keys", "must be empty to be structural"),
        ("x-kubernetes-list-type", "must be undefined to be structural"),
        ("x-kubernetes-map-type", "must be undefined to be structural"),
        ("x-kubernetes-validations", "must be empty to be structural"),
    ];
    for (k, detail) in forbidden {
        let present = match k {
            "default" | "additionalProperties" | "x-kubernetes-list-type" | "x-kubernetes-map-type" => {
                obj.get(k).is_some_and(|v| !v.is_null())
            }
            _ => truthy(k),
        };
        if present {
            errs.push(FieldError::forbidden(&child(path, k), detail));
        }
    }
}

/// Every property a junctor mentions must also be specified in the structural part.
fn complete(v: &Value, s: &Value, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    let Some(v_obj) = v.as_object() else { return };
    for (name, nested) in junctors(v_obj) {
        complete(nested, s, s_path, &child(v_path, &name), errs);
    }
    if let Some(v_items) = v_obj.get("items") {
        let (sp, vp) = (child(s_path, "items"), child(v_path, "items"));
        match s.get("items") {
            Some(s_items) => complete(v_items, s_items, &sp, &vp, errs),
            None => errs.push(FieldError::required(&sp, &format!("because it is defined in {vp}"))),
        }
    }
    for (k, v_prop) in v_obj.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let sp = key(&child(s_path, "properties"), k);
        let vp = key(&child(v_path, "properties"), k);
        match s.get("properties").and_then(|p| p.get(k)) {
            Some(s_prop) => complete(v_prop, s_prop, &sp, &vp, errs),
            None => errs.push(FieldError::required(&sp, &format!("because it is defined in {vp}"))),
        }
    }
}

/// Translates a CRD schema into a draft-7 JSON Schema: `nullable` and
/// `x-kubernetes-int-or-string` become type lists, boolean exclusive bounds become numeric,
/// validated formats get the `k8s:` prefix and all other formats and annotations are dropped.
pub(super) fn translate(raw: &Value) -> Value {
    let Some(obj) = raw.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut types: Vec<Value> = if flag("x-kubernetes-int-or-string") {
        vec!["integer".into(), "string".into()]
    } else {
        obj.get("type").filter(|t| t.is_string()).cloned().into_iter().collect()
    };
    let is_stringy = types.is_empty() || types == [Value::from("string")];
    if !types.is_empty() && flag("nullable") {
        types.push("null".into());
    }
    match types.len() {
        0 => {}
        1 => {
            out.insert("type".into(), types.remove(0));
        }
        _ => {
            out.insert("type".into(), Value::Array(types));
        }
    }
    for k in [
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "required",
        "enum",
    ] {
        if let Some(v) = obj.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    for (bound, exclusive) in [("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")] {
        if let Some(v) = obj.get(bound) {
            let key = if flag(exclusive) { exclusive } else { bound };
            out.insert(key.into(), v.clone());
        }
    }
    let format = obj.get("format").and_then(Value::as_str);
    if let Some(format) = format.filter(|f| is_stringy && formats::check_for(f).is_some()) {
        let name = format!("{}{format}", formats::PREFIX);
        out.insert("format".into(), Value::from(name));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let props: Map<String, Value> = props.iter().map(|(k, v)| (k.clone(), translate(v))).collect();
        out.insert("properties".into(), Value::Object(props));
    }
    match obj.get("additionalProperties") {
        Some(b @ Value::Bool(_)) => {
            out.insert("additionalProperties".into(), b.clone());
        }
        Some(schema @ Value::Object(_)) => {
            out.insert("additionalProperties".into(), translate(schema));
        }
        _ => {}
    }
    match obj.get("items") {
        Some(Value::Array(list)) => {
            out.insert("items".into(), Value::Array(list.iter().map(translate).collect()));
        }
        Some(schema @ Value::Object(_)) => {
            out.insert("items".into(), translate(schema));
        }
        _ => {}
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = obj.get(k).and_then(Value::as_array) {
            out.insert(k.into(), Value::Array(list.iter().map(translate).collect()));
        }
    }
    if let Some(not) = obj.get("not") {
        out.insert("not".into(), translate(not));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(raw: Value) -> Vec<String> {
        let mut m: Vec<String> = check(&raw, "openAPIV3Schema").iter().map(FieldError::message).collect();
        m.sort();
        m
    }

    #[test]
    fn missing_types_are_reported_per_level() {
        let m = messages(json!({
            "properties": {"spec": {"properties": {"list": {"type": "array", "items": {}}}}}
        }));
        assert_eq!(
            m,
            [
                "openAPIV3Schema.properties[spec].properties[list].items.type: Required value: must not be empty for specified array items",
                "openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
                "openAPIV3Schema.type: Required value: must not be empty at the root",
            ]
        );
    }

    #[test]
    fn junctor_rules() {
        let m = messages(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "n": {
                "x-kubernetes-int-or-string": true,
                "anyOf": [{"type": "integer"}, {"type": "string"}]
            }},
            "anyOf": [{"properties": {"b": {"description": "x", "type": "string"}}}]
        }));
        assert_eq!(
            m,
            [
                "openAPIV3Schema.anyOf[0].properties[b].description: Forbidden: must be empty to be structural",
                "openAPIV3Schema.anyOf[0].properties[b].type: Forbidden: must be empty to be structural",
                "openAPIV3Schema.properties[b]: Required value: because it is defined in openAPIV3Schema.anyOf[0].properties[b]",
            ]
        );
    }

    #[test]
    fn list_map_and_metadata_rules() {
        let m = messages(json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
                "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                      "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
                "q": {"type": "string", "x-kubernetes-list-type": "bag"}
            }
        }));
        assert_eq!(
            m,
            [
                "openAPIV3Schema.properties[l].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                "openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
                "openAPIV3Schema.properties[q].type: Invalid value: \"string\": must be array if x-kubernetes-list-type is specified",
                "openAPIV3Schema.properties[q].x-kubernetes-list-type: Unsupported value: \"bag\": supported values: \"atomic\", \"set\", \"map\"",
            ]
        );
    }

    #[test]
    fn translation_handles_k8s_extensions() {
        let t = translate(&json!({
            "type": "object", "description": "d",
            "properties": {
                "n": {"x-kubernetes-int-or-string": true, "nullable": true},
                "m": {"type": "integer", "minimum": 1, "exclusiveMinimum": true, "format": "int32"},
                "d": {"type": "string", "format": "date-time"},
                "u": {"type": "string", "format": "weird"}
            }
        }));
        assert_eq!(
            t,
            json!({"type": "object", "properties": {
                "n": {"type": ["integer", "string", "null"]},
                "m": {"type": "integer", "exclusiveMinimum": 1},
                "d": {"type": "string", "format": "k8s:date-time"},
                "u": {"type": "string"}
            }})
        );
    }
}
