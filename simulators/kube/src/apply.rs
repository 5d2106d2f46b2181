//! Server-side apply and managedFields bookkeeping: a compact model of structured-merge-diff.

mod fieldset;

use fieldset::{FieldSet, ListKeys};
use serde_json::{Map, Value};

/// Result of a successful apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOutcome {
    /// The new object, with `metadata.managedFields` updated.
    pub object: Value,
}

/// One field whose value another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The other manager's name.
    pub manager: String,
    /// The field path, e.g. `.spec.replicas`.
    pub field: String,
    /// The other manager's operation (`Apply` or `Update`).
    pub operation: String,
    /// The API version the other manager wrote with.
    pub api_version: String,
    /// The other manager's subresource, if any.
    pub subresource: Option<String>,
}

impl FieldConflict {
    /// The manager as kube-apiserver prints it: `"name"`, plus ` with subresource "status"`,
    /// plus ` using apps/v1` for Update managers.
    pub fn manager_description(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    /// The message of this conflict's `details.causes` entry (type `FieldManagerConflict`,
    /// with `field` set to [`FieldConflict::field`]).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }
}

/// Why an apply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (HTTP 409 unless `force=true`).
    #[error("{}", conflict_message(conflicts))]
    Conflict {
        /// Every conflicting (manager, field) pair.
        conflicts: Vec<FieldConflict>,
    },
    /// The request itself is malformed (HTTP 400/422).
    #[error("invalid apply request: {0}")]
    Invalid(String),
}

impl ApplyError {
    /// HTTP status kube-apiserver answers with: 409 for conflicts, 400 for invalid requests.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Conflict { .. } => 409,
            Self::Invalid(_) => 400,
        }
    }
}

fn conflict_message(conflicts: &[FieldConflict]) -> String {
    let n = conflicts.len();
    let plural = if n == 1 { "" } else { "s" };
    let body = match conflicts {
        [one] => format!("conflict with {}: {}", one.manager_description(), one.field),
        _ => {
            let mut managers: Vec<String> = conflicts.iter().map(FieldConflict::manager_description).collect();
            managers.sort();
            managers.dedup();
            let mut lines = Vec::new();
            for m in managers {
                lines.push(format!("conflicts with {m}:"));
                for c in conflicts.iter().filter(|c| c.manager_description() == m) {
                    lines.push(format!("- {}", c.field));
                }
            }
            lines.join("\n")
        }
    };
    format!("Apply failed with {n} conflict{plural}: {body}")
}

/// A managedFields entry with its field set decoded.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    set: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), self.manager.clone().into());
        m.insert("operation".into(), self.operation.clone().into());
        m.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(t) = &self.time {
            m.insert("time".into(), t.clone().into());
        }
        m.insert("fieldsType".into(), "FieldsV1".into());
        m.insert("fieldsV1".into(), fieldset::to_fields_v1(&self.set));
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), s.clone().into());
        }
        Value::Object(m)
    }
}

/// Fields never tracked in managedFields (kube-apiserver's strip set; exact paths).
const STRIPPED: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

fn strip(mut set: FieldSet) -> FieldSet {
    set.retain(|p| {
        !STRIPPED
            .iter()
            .any(|s| s.len() == p.len() && s.iter().zip(p).all(|(a, b)| matches!(b, fieldset::Pe::Field(n) if n == a)))
    });
    set
}

fn timestamp(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn entries_from(list: &[Value]) -> Vec<Entry> {
    list.iter()
        .filter_map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            if text("fieldsType").as_deref().is_some_and(|t| t != "FieldsV1") {
                return None;
            }
            let set = match e.get("fieldsV1") {
                Some(v) => fieldset::from_fields_v1(v).ok()?,
                None => FieldSet::new(),
            };
            Some(Entry {
                manager: text("manager")?,
                operation: text("operation")?,
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time"),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                set,
            })
        })
        .collect()
}

fn entries_of(obj: &Value) -> Vec<Entry> {
    match obj.pointer("/metadata/managedFields") {
        Some(Value::Array(list)) => entries_from(list),
        _ => Vec::new(),
    }
}

/// Copy of an object without `metadata.managedFields`.
fn without_managed_fields(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    copy
}

/// Writes entries sorted like kube-apiserver (operation, time, manager, apiVersion, subresource).
fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        if let Some(meta) = root.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("managedFields".into(), entries.iter().map(Entry::to_json).collect());
    }
}

/// Sets an entry's fields; its timestamp moves only when the write `touched` the object.
fn upsert(entries: &mut Vec<Entry>, template: Entry, touched: bool) {
    match entries
        .iter_mut()
        .find(|e| e.is(&template.manager, &template.operation, template.subresource.as_deref()))
    {
        Some(e) => {
            if touched || e.time.is_none() {
                e.time = template.time;
            }
            e.set = template.set;
            e.api_version = template.api_version;
        }
        None => entries.push(template),
    }
}

/// FieldsV1 encoding of the fields an object sets (`{"f:spec":{"f:replicas":{}}}`,
/// `k:{"name":"x"}` for associative-list items with `"."` marking the item itself, `v:"x"` for
/// set items), without the fields managedFields never tracks (apiVersion, kind, name, uid, ...).
///
/// `list_keys` maps a dotted field path (list items add no segment, e.g.
/// `spec.template.spec.containers`) to the list's keys: `Some(keys)` for an associative list,
/// `Some(vec![])` for a set, `None` for an atomic list.
pub fn fields_of(obj: &Value, list_keys: &dyn Fn(&str) -> Option<Vec<String>>) -> Value {
    fieldset::to_fields_v1(&strip(fieldset::collect(obj, list_keys)))
}

/// Server-side apply of `applied` by `manager` onto `live` (`None`: create).
///
/// The manager ends up owning exactly the fields of `applied`; fields it owned before and
/// omits now are removed unless another manager owns them (or something below them); changing
/// a field another manager owns is a conflict unless `force`, which moves ownership.
/// See [`fields_of`] for `list_keys`.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    now: jiff::Timestamp,
    list_keys: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<ApplyOutcome, ApplyError> {
    if manager.is_empty() {
        return Err(ApplyError::Invalid(
            "fieldManager is required for apply requests, found none".into(),
        ));
    }
    if !applied.is_object() {
        return Err(ApplyError::Invalid(format!(
            "expected the applied configuration to be an object, found {applied}"
        )));
    }
    match applied.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => {
            return Err(ApplyError::Invalid(
                "metadata.managedFields must be nil in an applied configuration".into(),
            ));
        }
    }
    let live_obj = match live {
        Some(v) if v.is_object() => without_managed_fields(v),
        Some(v) => {
            return Err(ApplyError::Invalid(format!("expected the live object to be an object, found {v}")));
        }
        None => Value::Object(Map::new()),
    };
    let keys: ListKeys = list_keys;
    let mut entries = live.map(entries_of).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // An object nobody manages yet: its current fields belong to a placeholder manager, so
        // that the first applier sees conflicts instead of silently taking them over.
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: "Update".into(),
            api_version: api_version.into(),
            time: Some(timestamp(now)),
            subresource: None,
            set: strip(fieldset::collect(&live_obj, keys)),
        });
    }
    let config = without_managed_fields(applied);
    let config_set = strip(fieldset::collect(&config, keys));
    let mut merged = live_obj.clone();
    fieldset::merge_into(&mut merged, &config, &mut Vec::new(), keys);

    let last_set = entries
        .iter()
        .find(|e| e.is(manager, "Apply", None))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let owned: FieldSet = entries
        .iter()
        .filter(|e| !e.is(manager, "Apply", None))
        .flat_map(|e| e.set.iter())
        .chain(&config_set)
        .cloned()
        .collect();
    prune(&mut merged, &last_set, &owned);
    let touched = merged != live_obj || config_set != last_set;
    upsert(
        &mut entries,
        Entry {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version: api_version.into(),
            time: Some(timestamp(now)),
            subresource: None,
            set: config_set,
        },
        touched,
    );

    let cmp = fieldset::compare(&live_obj, &merged, keys);
    let changed: FieldSet = cmp.added.union(&cmp.modified).cloned().collect();
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.is(manager, "Apply", None)) {
        for p in e.set.intersection(&changed) {
            conflicts.push(FieldConflict {
                manager: e.manager.clone(),
                field: fieldset::path_string(p),
                operation: e.operation.clone(),
                api_version: e.api_version.clone(),
                subresource: e.subresource.clone(),
            });
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(ApplyError::Conflict { conflicts });
    }
    for e in entries.iter_mut().filter(|e| !e.is(manager, "Apply", None)) {
        e.set.retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
    }
    write_entries(&mut merged, entries);
    Ok(ApplyOutcome { object: merged })
}

/// Removes what the applier owned last time and no longer applies, unless some manager still
/// owns the field or something below it.
fn prune(merged: &mut Value, last_set: &FieldSet, owned: &FieldSet) {
    // Sorted order visits ancestors first: an item removed whole takes its children along.
    for path in last_set {
        if fieldset::covers(owned, path) || fieldset::is_item_key(path) {
            continue;
        }
        if fieldset::remove(merged, path) {
            fieldset::prune_empty_ancestors(merged, path, owned);
        }
    }
}

/// Records a non-apply write (create, update, patch) in `new`'s managedFields, as the
/// apiserver does: `manager` (with `operation`, usually `Update`) takes every field that the
/// write added or changed, other managers lose those fields and any removed ones; entries of
/// the same manager, operation and subresource are merged.
///
/// Managed fields come from `new` when the client sent a non-empty list (`[{}]` resets them),
/// otherwise from `old`. `list_keys` is as for [`fields_of`]; this parameter is an addition to
/// the planned signature, needed to track list items rather than whole lists.
#[allow(clippy::too_many_arguments)]
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    now: jiff::Timestamp,
    subresource: Option<&str>,
    list_keys: &dyn Fn(&str) -> Option<Vec<String>>,
) {
    if !new.is_object() {
        return;
    }
    let keys: ListKeys = list_keys;
    let mut entries = match new.pointer("/metadata/managedFields") {
        Some(Value::Array(list)) if list.len() == 1 && list[0].as_object().is_some_and(Map::is_empty) => Vec::new(),
        Some(Value::Array(list)) if !list.is_empty() => entries_from(list),
        _ => old.map(entries_of).unwrap_or_default(),
    };
    let before = old.map_or_else(|| Value::Object(Map::new()), without_managed_fields);
    let after = without_managed_fields(new);
    let cmp = fieldset::compare(&before, &after, keys);
    let changed = strip(cmp.added.union(&cmp.modified).cloned().collect());
    let manager = if manager.is_empty() { "unknown" } else { manager };
    for e in entries.iter_mut().filter(|e| !e.is(manager, operation, subresource)) {
        e.set.retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
    }
    let mut own: FieldSet = entries
        .iter()
        .find(|e| e.is(manager, operation, subresource))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    own.retain(|p| !cmp.removed.contains(p));
    let touched = !changed.is_empty();
    own.extend(changed);
    upsert(
        &mut entries,
        Entry {
            manager: manager.into(),
            operation: operation.into(),
            api_version: api_version.into(),
            time: Some(timestamp(now)),
            subresource: subresource.map(str::to_string),
            set: own,
        },
        touched,
    );
    let mut result = after;
    write_entries(&mut result, entries);
    *new = result;
}

#[cfg(test)]
mod tests;
