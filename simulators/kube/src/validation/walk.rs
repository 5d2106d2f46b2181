//! Data walks over a custom object guided by the structural schema: pruning, defaulting and
//! the Kubernetes-only validations (list-type set/map uniqueness, int32 range, embedded resources).

use serde_json::{Map, Value};

use super::structural::Node;
use super::{FieldError, join};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// JSON names of `ObjectMeta` fields, kept when pruning an embedded resource's metadata.
const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Prunes `x` against `s` (`None`: nothing is specified), recording removed paths. Inside
/// `x-kubernetes-preserve-unknown-fields` (`preserve`), unknown keys are kept but specified
/// properties are still pruned.
pub(super) fn prune(x: &mut Value, s: Option<&Node>, path: &str, embedded: bool, preserve: bool, pruned: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            let mut remove = Vec::new();
            for (k, v) in map.iter_mut() {
                let at = join(path, k);
                let Some(s) = s else {
                    if !preserve {
                        pruned.push(at);
                        remove.push(k.clone());
                    }
                    continue;
                };
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    if k == "metadata" && !path.is_empty() {
                        prune_object_meta(v, &at, pruned);
                    }
                    continue;
                }
                let sub = match (s.properties.get(k), &s.additional) {
                    (Some(prop), _) => Some(prop),
                    (None, Some(additional)) => additional.as_deref(),
                    (None, None) => {
                        if !preserve {
                            pruned.push(at);
                            remove.push(k.clone());
                        }
                        continue;
                    }
                };
                let (sub_embedded, sub_preserve) = sub.map_or((false, false), |n| (n.embedded, n.preserve_unknown));
                prune(v, sub, &at, sub_embedded, sub_preserve, pruned);
            }
            if !remove.is_empty() {
                map.retain(|k, _| !remove.contains(k));
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            if preserve && item_schema.is_none() {
                return;
            }
            let embedded = item_schema.is_some_and(|n| n.embedded);
            let item_preserve = preserve || item_schema.is_some_and(|n| n.preserve_unknown);
            for (i, v) in items.iter_mut().enumerate() {
                prune(v, item_schema, &format!("{path}[{i}]"), embedded, item_preserve, pruned);
            }
        }
        _ => {}
    }
}

fn prune_object_meta(meta: &mut Value, path: &str, pruned: &mut Vec<String>) {
    if let Value::Object(map) = meta {
        let unknown: Vec<String> = map.keys().filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str())).cloned().collect();
        pruned.extend(unknown.iter().map(|k| join(path, k)));
        map.retain(|k, _| !unknown.contains(k));
    }
}

pub(super) fn apply_defaults(x: &mut Value, s: &Node) {
    let non_nullable_null = |v: &Value, n: &Node| v.is_null() && !n.nullable;
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                if map.get(k).is_none_or(|v| non_nullable_null(v, prop)) {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    apply_defaults(v, prop);
                } else if let Some(Some(additional)) = &s.additional {
                    if let Some(default) = additional.default.as_ref().filter(|_| non_nullable_null(v, additional)) {
                        *v = default.clone();
                    }
                    apply_defaults(v, additional);
                }
            }
        }
        Value::Array(list) => {
            let Some(items) = s.items.as_deref() else {
                return;
            };
            for v in list.iter_mut() {
                if let Some(default) = items.default.as_ref().filter(|_| non_nullable_null(v, items)) {
                    *v = default.clone();
                }
                apply_defaults(v, items);
            }
        }
        _ => {}
    }
}

/// Checks the k8s-only rules: list-type set/map uniqueness, int32 ranges and the
/// apiVersion/kind of embedded resources.
pub(super) fn walk(x: &Value, s: &Node, path: &str, root: bool, errors: &mut Vec<FieldError>) {
    match x {
        Value::Object(map) => {
            if s.embedded && !root {
                check_embedded(map, path, errors);
            }
            for (k, v) in map {
                if let Some(child) = s.child(k) {
                    walk(v, child, &join(path, k), false, errors);
                }
            }
        }
        Value::Array(list) => {
            match s.list_type.as_deref() {
                Some("set") => report_duplicates(list.iter().collect(), path, |i| list[i].clone(), errors),
                Some("map") => check_list_map(list, &s.list_map_keys, path, errors),
                _ => {}
            }
            if let Some(items) = s.items.as_deref() {
                for (i, v) in list.iter().enumerate() {
                    walk(v, items, &format!("{path}[{i}]"), false, errors);
                }
            }
        }
        Value::Number(n) if s.type_name.as_deref() == Some("integer") && s.format.as_deref() == Some("int32") => {
            let v = n.as_f64().unwrap_or(f64::MAX);
            if v < f64::from(i32::MIN) || v > f64::from(i32::MAX) {
                let detail = format!("Checked value must be of type integer with format int32 in {path}");
                errors.push(FieldError::invalid("", Value::from(""), &detail));
            }
        }
        _ => {}
    }
}

fn check_embedded(map: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    for k in ["apiVersion", "kind"] {
        let at = join(path, k);
        match map.get(k) {
            None => errors.push(FieldError::required(&at, "")),
            Some(Value::String(s)) if s.is_empty() => errors.push(FieldError::invalid(&at, Value::from(""), "must not be empty")),
            Some(Value::String(_)) => {}
            Some(other) => errors.push(FieldError::invalid(&at, other.clone(), "must be a string")),
        }
    }
}

/// Reports the second occurrence of each repeated key as `Duplicate value`.
fn report_duplicates(keys: Vec<&Value>, path: &str, bad: impl Fn(usize) -> Value, errors: &mut Vec<FieldError>) {
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].iter().filter(|prev| *prev == k).count() == 1 {
            errors.push(FieldError::duplicate(&format!("{path}[{i}]"), bad(i)));
        }
    }
}

fn check_list_map(list: &[Value], key_names: &[String], path: &str, errors: &mut Vec<FieldError>) {
    if let Some((i, item)) = list.iter().enumerate().find(|(_, v)| !v.is_object() && !v.is_null()) {
        let detail = "must be an object for an array of list-type map";
        errors.push(FieldError::invalid(&format!("{path}[{i}]"), item.clone(), detail));
        return;
    }
    let keys: Vec<Value> = list
        .iter()
        .map(|item| {
            let fields = key_names.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())));
            Value::Object(fields.collect())
        })
        .collect();
    report_duplicates(keys.iter().collect(), path, |i| keys[i].clone(), errors);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::CrdSchema;

    fn schema() -> CrdSchema {
        CrdSchema::compile(&json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
                "spec": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "taints": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key", "effect"],
                "items": {"type": "object", "required": ["key", "effect"], "properties": {
                    "key": {"type": "string"}, "effect": {"type": "string"}, "value": {"type": "string"}}}},
            "ports": {"type": "array", "items": {"type": "integer", "default": 80}},
            "limits": {"type": "object", "additionalProperties": {"type": "string", "default": "1"}},
            "opt": {"type": "string", "nullable": true, "default": "x"},
            "req": {"type": "string", "default": "d"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"known": {"type": "object", "properties": {"k": {"type": "string"}}}}},
            "count": {"type": "integer", "format": "int32"}
        }}}}))
        .expect("test schema compiles")
    }

    #[test]
    fn prunes_embedded_metadata_and_unknown_fields() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n", "weird": 1},
            "spec": {"template": {"apiVersion": "v1", "kind": "Pod", "extra": 1,
                "metadata": {"name": "p", "labels": {"a": "b"}, "bogus": true},
                "spec": {"a": "s", "b": "t"}},
            "free": {"anything": {"deep": [1]}, "known": {"k": "v", "unknown": 2}},
            "limits": {"cpu": "1", "mem": {"nested": 1}}}});
        let pruned = schema().prune(&mut obj);
        assert_eq!(
            pruned,
            [
                "spec.free.known.unknown",
                "spec.limits.mem.nested",
                "spec.template.extra",
                "spec.template.metadata.bogus",
                "spec.template.spec.b",
            ]
        );
        assert_eq!(obj["metadata"]["weird"], 1, "root metadata is left alone");
        assert_eq!(obj["spec"]["template"]["metadata"], json!({"name": "p", "labels": {"a": "b"}}));
        assert_eq!(obj["spec"]["free"]["anything"], json!({"deep": [1]}));
    }

    #[test]
    fn defaults_follow_apiserver_rules() {
        let s = schema();
        let mut obj = json!({"spec": {"ports": [null, 8080], "limits": {"cpu": null}, "opt": null}});
        s.default(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"ports": [80, 8080], "limits": {"cpu": "1"}, "opt": null, "req": "d"}})
        );
        let mut empty = json!({});
        s.default(&mut empty);
        assert_eq!(empty, json!({}), "no parent, no default");
        let mut null_req = json!({"spec": {"req": null}});
        s.default(&mut null_req);
        assert_eq!(null_req["spec"]["req"], "d", "non-nullable null is replaced");
    }

    #[test]
    fn list_sets_maps_embedded_and_int32() {
        let obj = json!({"spec": {
            "template": {"kind": "", "spec": {}},
            "tags": ["a", "b", "a", "a"],
            "taints": [{"key": "k", "effect": "E", "value": "1"}, {"key": "k", "effect": "E", "value": "2"},
                       {"key": "k", "effect": "F"}],
            "count": 2_147_483_648_i64
        }});
        let mut msgs: Vec<String> = schema().validate(&obj).iter().map(|e| e.message()).collect();
        msgs.sort();
        assert_eq!(
            msgs,
            [
                r#": Invalid value: "": Checked value must be of type integer with format int32 in spec.count"#,
                r#"spec.tags[2]: Duplicate value: "a""#,
                r#"spec.taints[1]: Duplicate value: {"effect":"E","key":"k"}"#,
                "spec.template.apiVersion: Required value",
                r#"spec.template.kind: Invalid value: "": must not be empty"#,
            ]
        );
        let bad_item = json!({"spec": {"taints": [{"key": "k", "effect": "E"}, "oops"]}});
        let errors = schema().validate(&bad_item);
        assert!(
            errors
                .iter()
                .any(|e| e.message() == r#"spec.taints[1]: Invalid value: "oops": must be an object for an array of list-type map"#),
            "{errors:?}"
        );
    }
}
