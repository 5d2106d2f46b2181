//! Field sets of server-side apply: path elements, FieldsV1 encoding, and walks over objects
//! (field set of a value, comparison of two values, merge, removal).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Associative-list keys of a list at a dotted field path (see `apply::apply`).
pub(crate) type ListKeys<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

/// One step of a field path, as in structured-merge-diff.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pe {
    /// A field of an object: `f:name`.
    Field(String),
    /// An associative-list element, by its keys as canonical JSON: `k:{"name":"x"}`.
    Key(String),
    /// A set element, as JSON: `v:"x"`.
    Value(String),
    /// A list index: `i:0` (only read from foreign managedFields).
    Index(usize),
}

/// A path from the object root.
pub(crate) type Path = Vec<Pe>;
/// A set of paths: the fields a manager owns.
pub(crate) type FieldSet = BTreeSet<Path>;

impl Pe {
    fn encode(&self) -> String {
        match self {
            Pe::Field(name) => format!("f:{name}"),
            Pe::Key(json) => format!("k:{json}"),
            Pe::Value(json) => format!("v:{json}"),
            Pe::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Result<Pe, String> {
        let bad = || format!("expected a FieldsV1 key like f:, k:, v: or i:, found {s:?}");
        let (prefix, rest) = s.split_once(':').ok_or_else(bad)?;
        match prefix {
            "f" => Ok(Pe::Field(rest.to_string())),
            "k" | "v" => {
                let parsed: Value = serde_json::from_str(rest).map_err(|e| format!("{s:?}: {e}"))?;
                let canonical = canonical_json(&parsed);
                Ok(if prefix == "k" { Pe::Key(canonical) } else { Pe::Value(canonical) })
            }
            "i" => rest.parse().map(Pe::Index).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// Human form used in conflict messages: `.spec`, `[name="x"]`, `[="v"]`, `[0]`.
    fn display(&self) -> String {
        match self {
            Pe::Field(name) => format!(".{name}"),
            Pe::Key(json) => {
                let parts: Vec<String> = match serde_json::from_str::<Value>(json) {
                    Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    _ => vec![json.clone()],
                };
                format!("[{}]", parts.join(","))
            }
            Pe::Value(json) => format!("[={json}]"),
            Pe::Index(i) => format!("[{i}]"),
        }
    }
}

/// JSON text with object keys sorted (serde_json's default map is sorted; this also holds
/// when `preserve_order` is enabled elsewhere in the build).
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, String> = m.iter().map(|(k, v)| (k, canonical_json(v))).collect();
            let fields: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{v}", Value::String((*k).clone()))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// Renders a path for messages, e.g. `.spec.containers[name="app"].image`.
pub(crate) fn path_string(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

/// Encodes a field set as FieldsV1 JSON (`{"f:spec":{"f:replicas":{}}}`, `"."` for members
/// that also have children).
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for pe in path {
            node = node.children.entry(pe.encode()).or_default();
        }
        node.member = true;
    }
    node_json(&root)
}

fn node_json(node: &Node) -> Value {
    let mut out = Map::new();
    if node.member && !node.children.is_empty() {
        out.insert(".".to_string(), Value::Object(Map::new()));
    }
    for (k, child) in &node.children {
        out.insert(k.clone(), node_json(child));
    }
    Value::Object(out)
}

/// Decodes FieldsV1 JSON into a field set.
pub(crate) fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    decode_node(v, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn decode_node(v: &Value, prefix: &mut Path, set: &mut FieldSet) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err(format!("expected an object in fieldsV1, found {v}"));
    };
    for (k, child) in m {
        if k == "." {
            set.insert(prefix.clone());
            continue;
        }
        prefix.push(Pe::decode(k)?);
        if child.as_object().is_some_and(Map::is_empty) {
            set.insert(prefix.clone());
        } else {
            decode_node(child, prefix, set)?;
        }
        prefix.pop();
    }
    Ok(())
}

/// How a list is merged and tracked.
enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

fn list_kind<'v>(dotted: &[String], items: impl Iterator<Item = &'v Value> + Clone, keys: ListKeys) -> ListKind {
    match keys(&dotted.join(".")) {
        None => ListKind::Atomic,
        Some(k) if k.is_empty() => {
            let scalars = items.clone().all(|i| !i.is_object() && !i.is_array());
            if scalars { ListKind::Set } else { ListKind::Atomic }
        }
        Some(k) => {
            let keyed = items.clone().all(|i| key_pe(i, &k).is_some());
            if keyed { ListKind::Map(k) } else { ListKind::Atomic }
        }
    }
}

/// The `k:` element of an associative-list item (only the key fields it has).
fn key_pe(item: &Value, keys: &[String]) -> Option<Pe> {
    let obj = item.as_object()?;
    let present: Map<String, Value> = keys.iter().filter_map(|k| obj.get(k).map(|v| (k.clone(), v.clone()))).collect();
    (!present.is_empty()).then(|| Pe::Key(canonical_json(&Value::Object(present))))
}

fn item_pe(item: &Value, kind: &ListKind) -> Option<Pe> {
    match kind {
        ListKind::Atomic => None,
        ListKind::Set => Some(Pe::Value(canonical_json(item))),
        ListKind::Map(keys) => key_pe(item, keys),
    }
}

/// Fields set by a value (structured-merge-diff's `ToFieldSet`): leaves, atomic lists, empty
/// maps, list elements (with their children).
pub(crate) fn collect(v: &Value, keys: ListKeys) -> FieldSet {
    let mut set = FieldSet::new();
    collect_into(v, &mut Vec::new(), &mut Vec::new(), keys, &mut set);
    set.remove(&Vec::new());
    set
}

fn collect_into(v: &Value, path: &mut Path, dotted: &mut Vec<String>, keys: ListKeys, set: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(Pe::Field(k.clone()));
                dotted.push(k.clone());
                collect_into(child, path, dotted, keys, set);
                dotted.pop();
                path.pop();
            }
        }
        Value::Array(items) => {
            let kind = list_kind(dotted, items.iter(), keys);
            if matches!(kind, ListKind::Atomic) {
                set.insert(path.clone());
                return;
            }
            for item in items {
                let Some(pe) = item_pe(item, &kind) else {
                    continue;
                };
                path.push(pe);
                set.insert(path.clone());
                if matches!(kind, ListKind::Map(_)) {
                    collect_into(item, path, dotted, keys, set);
                }
                path.pop();
            }
        }
        _ => {
            set.insert(path.clone());
        }
    }
}

/// Differences between two values, as in structured-merge-diff's `Compare`.
#[derive(Default, Debug)]
pub(crate) struct Comparison {
    /// Fields present only on the right.
    pub added: FieldSet,
    /// Leaf fields present on both sides with different values.
    pub modified: FieldSet,
    /// Fields present only on the left.
    pub removed: FieldSet,
}

/// Compares `lhs` (before) with `rhs` (after).
pub(crate) fn compare(lhs: &Value, rhs: &Value, keys: ListKeys) -> Comparison {
    let mut out = Comparison::default();
    compare_node(Some(lhs), Some(rhs), &mut Vec::new(), &mut Vec::new(), keys, &mut out);
    out.added.remove(&Vec::new());
    out.removed.remove(&Vec::new());
    out
}

/// Object nodes present in a Go zero value (struct fields, not maps): adding them does not
/// make the writer own the node itself.
fn structish(path: &[Pe]) -> bool {
    path.iter()
        .all(|pe| matches!(pe, Pe::Field(n) if matches!(n.as_str(), "spec" | "status" | "metadata" | "template" | "jobTemplate")))
}

fn leaf(l: Option<&Value>, r: Option<&Value>, path: &Path, out: &mut Comparison) {
    match (l, r) {
        (None, Some(_)) => out.added.insert(path.clone()),
        (Some(_), None) => out.removed.insert(path.clone()),
        (Some(a), Some(b)) if a != b => out.modified.insert(path.clone()),
        _ => false,
    };
}

fn compare_node(l: Option<&Value>, r: Option<&Value>, path: &mut Path, dotted: &mut Vec<String>, keys: ListKeys, out: &mut Comparison) {
    let empty_map = Map::new();
    let empty_list = Vec::new();
    let (lm, rm) = (l.map(Value::as_object), r.map(Value::as_object));
    let (la, ra) = (l.map(Value::as_array), r.map(Value::as_array));
    if !matches!(lm, Some(None)) && !matches!(rm, Some(None)) {
        let (lm, rm) = (lm.flatten().unwrap_or(&empty_map), rm.flatten().unwrap_or(&empty_map));
        if lm.is_empty() && rm.is_empty() {
            return leaf(l, r, path, out);
        }
        let names: BTreeSet<&String> = lm.keys().chain(rm.keys()).collect();
        for name in names {
            path.push(Pe::Field(name.clone()));
            dotted.push(name.clone());
            compare_node(lm.get(name), rm.get(name), path, dotted, keys, out);
            dotted.pop();
            path.pop();
        }
    } else if !matches!(la, Some(None)) && !matches!(ra, Some(None)) {
        let (la, ra) = (la.flatten().unwrap_or(&empty_list), ra.flatten().unwrap_or(&empty_list));
        let kind = list_kind(dotted, la.iter().chain(ra.iter()), keys);
        if (la.is_empty() && ra.is_empty()) || matches!(kind, ListKind::Atomic) {
            return leaf(l, r, path, out);
        }
        let index = |items: &[Value]| -> Vec<(Pe, Value)> {
            let mut seen = Vec::new();
            for item in items {
                if let Some(pe) = item_pe(item, &kind)
                    && !seen.iter().any(|(p, _)| *p == pe)
                {
                    seen.push((pe, item.clone()));
                }
            }
            seen
        };
        let (li, ri) = (index(la), index(ra));
        let mut pes: Vec<&Pe> = li.iter().map(|(p, _)| p).collect();
        pes.extend(ri.iter().map(|(p, _)| p).filter(|p| !li.iter().any(|(q, _)| q == *p)));
        for pe in pes {
            let find = |items: &'_ [(Pe, Value)]| items.iter().find(|(p, _)| p == pe).map(|(_, v)| v.clone());
            let (lv, rv) = (find(&li), find(&ri));
            path.push(pe.clone());
            compare_node(lv.as_ref(), rv.as_ref(), path, dotted, keys, out);
            path.pop();
        }
    } else {
        return leaf(l, r, path, out);
    }
    match (l, r) {
        (None, Some(_)) if !structish(path) => {
            out.added.insert(path.clone());
        }
        (Some(_), None) => {
            out.removed.insert(path.clone());
        }
        _ => {}
    }
}

/// Merges an applied configuration into a live value (structured-merge-diff's `Merge`):
/// maps merge, associative lists and sets merge by element, everything else is replaced.
/// A `null` in the configuration removes the field.
pub(crate) fn merge_into(live: &mut Value, config: &Value, dotted: &mut Vec<String>, keys: ListKeys) {
    match (&mut *live, config) {
        (Value::Object(l), Value::Object(c)) => {
            for (k, cv) in c {
                dotted.push(k.clone());
                if cv.is_null() {
                    l.remove(k);
                } else if let Some(lv) = l.get_mut(k) {
                    merge_into(lv, cv, dotted, keys);
                } else {
                    l.insert(k.clone(), cv.clone());
                }
                dotted.pop();
            }
        }
        (Value::Array(l), Value::Array(c)) => {
            let kind = list_kind(dotted, l.iter().chain(c.iter()), keys);
            if matches!(kind, ListKind::Atomic) {
                *l = c.clone();
                return;
            }
            *l = merge_list(std::mem::take(l), c, &kind, dotted, keys);
        }
        (slot, c) => *slot = c.clone(),
    }
}

/// Keeps live-only elements in place and applied elements in applied order.
fn merge_list(lhs: Vec<Value>, rhs: &[Value], kind: &ListKind, dotted: &mut Vec<String>, keys: ListKeys) -> Vec<Value> {
    let lpe: Vec<Option<Pe>> = lhs.iter().map(|i| item_pe(i, kind)).collect();
    let rpe: Vec<Option<Pe>> = rhs.iter().map(|i| item_pe(i, kind)).collect();
    let in_rhs = |pe: &Option<Pe>| rpe.contains(pe);
    let mut shared = rpe.iter().filter(|p| lpe.contains(p)).peekable();
    let mut done: Vec<&Option<Pe>> = Vec::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    let merged = |rpe: &Option<Pe>, rv: &Value, dotted: &mut Vec<String>| {
        let mut base = lpe.iter().position(|p| p == rpe).map_or(Value::Null, |i| lhs[i].clone());
        if base.is_null() {
            base = rv.clone();
        } else {
            merge_into(&mut base, rv, dotted, keys);
        }
        base
    };
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            if lpe[li] == rpe[ri] {
                out.push(merged(&rpe[ri], &rhs[ri], dotted));
                done.push(&rpe[ri]);
                if shared.peek() == Some(&&rpe[ri]) {
                    shared.next();
                }
                li += 1;
                ri += 1;
                continue;
            }
            if in_rhs(&lpe[li]) && shared.peek().is_some_and(|s| **s != lpe[li]) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            if !in_rhs(&lpe[li]) {
                out.push(lhs[li].clone());
                li += 1;
                continue;
            } else if done.contains(&&lpe[li]) {
                li += 1;
            }
        }
        if ri < rhs.len() {
            if !done.contains(&&rpe[ri]) {
                out.push(merged(&rpe[ri], &rhs[ri], dotted));
                done.push(&rpe[ri]);
            }
            if shared.peek() == Some(&&rpe[ri]) {
                shared.next();
            }
            ri += 1;
        }
    }
    out
}

fn matches_pe(item: &Value, pe: &Pe) -> bool {
    match pe {
        Pe::Key(json) => match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(key)) => key.iter().all(|(k, v)| item.get(k) == Some(v)),
            _ => false,
        },
        Pe::Value(json) => canonical_json(item) == *json,
        Pe::Field(_) | Pe::Index(_) => false,
    }
}

fn child_mut<'a>(v: &'a mut Value, pe: &Pe) -> Option<&'a mut Value> {
    match (v, pe) {
        (Value::Object(m), Pe::Field(name)) => m.get_mut(name),
        (Value::Array(items), Pe::Index(i)) => items.get_mut(*i),
        (Value::Array(items), pe) => items.iter_mut().find(|i| matches_pe(i, pe)),
        _ => None,
    }
}

/// The value at `path`, if present.
pub(crate) fn get_mut<'a>(v: &'a mut Value, path: &[Pe]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |cur, pe| child_mut(cur, pe))
}

/// Removes the value at `path`; returns whether something was removed.
pub(crate) fn remove(v: &mut Value, path: &[Pe]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match (get_mut(v, parent), last) {
        (Some(Value::Object(m)), Pe::Field(name)) => m.remove(name).is_some(),
        (Some(Value::Array(items)), Pe::Index(i)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        (Some(Value::Array(items)), pe) => {
            let before = items.len();
            items.retain(|i| !matches_pe(i, pe));
            items.len() != before
        }
        _ => false,
    }
}

/// Whether `path` names a key field of an associative-list item (never pruned on its own:
/// the item could no longer be found).
pub(crate) fn is_item_key(path: &[Pe]) -> bool {
    match path {
        [.., Pe::Key(json), Pe::Field(name)] => serde_json::from_str::<Value>(json).is_ok_and(|k| k.get(name).is_some()),
        _ => false,
    }
}

/// Whether `path` or anything below it is in `set`.
pub(crate) fn covers(set: &FieldSet, path: &Path) -> bool {
    set.range(path.clone()..).next().is_some_and(|p| p.starts_with(path))
}

/// Removes empty objects and lists left behind at `path`'s ancestors (struct-like top nodes
/// and anything in `keep` stay).
pub(crate) fn prune_empty_ancestors(v: &mut Value, path: &[Pe], keep: &FieldSet) {
    for end in (1..path.len()).rev() {
        let ancestor = &path[..end];
        if structish(ancestor) || keep.contains(ancestor) {
            return;
        }
        let empty = match get_mut(v, ancestor) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            _ => false,
        };
        if !empty || !remove(v, ancestor) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_keys(_: &str) -> Option<Vec<String>> {
        None
    }

    #[test]
    fn fields_v1_round_trips_and_rejects_garbage() {
        let v = json!({"f:a": {".": {}, "f:b": {}}, "f:l": {"k:{\"name\":\"x\"}": {}, "v:3": {}, "i:0": {}}});
        let set = from_fields_v1(&v).expect("valid FieldsV1");
        assert_eq!(set.len(), 5);
        assert_eq!(to_fields_v1(&set), v);
        assert!(from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(from_fields_v1(&json!({"k:{nope": {}})).is_err());
    }

    #[test]
    fn compare_reports_leaf_changes_and_added_maps() {
        let cmp = compare(
            &json!({"spec": {"a": 1, "b": [1]}, "metadata": {}}),
            &json!({"spec": {"a": 2, "c": 3}, "metadata": {"labels": {"x": "1"}}}),
            &no_keys,
        );
        let f = |names: &[&str]| -> Path { names.iter().map(|n| Pe::Field(n.to_string())).collect() };
        assert!(cmp.modified.contains(&f(&["spec", "a"])));
        assert!(cmp.added.contains(&f(&["spec", "c"])));
        assert!(cmp.removed.contains(&f(&["spec", "b"])));
        assert!(cmp.added.contains(&f(&["metadata", "labels"])));
        assert!(cmp.added.contains(&f(&["metadata", "labels", "x"])));
    }

    #[test]
    fn list_merge_keeps_live_only_items_in_place() {
        let keys = |p: &str| (p == "l").then(|| vec!["n".to_string()]);
        let mut live = json!({"l": [{"n": "a"}, {"n": "live"}, {"n": "b", "x": 1}]});
        merge_into(&mut live, &json!({"l": [{"n": "b", "y": 2}, {"n": "new"}]}), &mut Vec::new(), &keys);
        assert_eq!(
            live,
            json!({"l": [{"n": "a"}, {"n": "live"}, {"n": "b", "x": 1, "y": 2}, {"n": "new"}]})
        );
    }

    #[test]
    fn remove_finds_keyed_and_set_items() {
        let mut v = json!({"l": [{"n": "a"}, {"n": "b"}], "s": ["x", "y"]});
        assert!(remove(&mut v, &[Pe::Field("l".into()), Pe::Key("{\"n\":\"a\"}".into())]));
        assert!(remove(&mut v, &[Pe::Field("s".into()), Pe::Value("\"y\"".into())]));
        assert!(!remove(&mut v, &[Pe::Field("missing".into()), Pe::Field("x".into())]));
        assert_eq!(v, json!({"l": [{"n": "b"}], "s": ["x"]}));
    }
}
