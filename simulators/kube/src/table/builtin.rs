//! Built-in resource printers, matching kube-apiserver's (always rendered with the wide columns).

use super::descriptions as d;
use super::{ColumnDef, Row, age, rfc3339_or_zero, str_at};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

mod apps;
mod core_group;

/// Column headers and the row function for one resource.
pub(super) struct Printer {
    pub(super) columns: &'static [ColumnDef<'static>],
    pub(super) row: RowFn,
}

/// Renders one object's cells.
type RowFn = fn(&Value, Timestamp) -> Row;

const fn col(name: &'static str, type_: &'static str, description: &'static str, priority: i64) -> ColumnDef<'static> {
    ColumnDef {
        name,
        type_,
        format: "",
        description,
        priority,
    }
}

const NAME: ColumnDef<'static> = ColumnDef {
    name: "Name",
    type_: "string",
    format: "name",
    description: d::META_NAME,
    priority: 0,
};
const AGE: ColumnDef<'static> = col("Age", "string", d::META_CREATED, 0);
const CONTAINERS: ColumnDef<'static> = col("Containers", "string", "Names of each container in the template.", 1);
const IMAGES: ColumnDef<'static> = col("Images", "string", "Images referenced by each container in the template.", 1);

/// Finds the printer kube-apiserver uses for `group`/`resource`, if it is one we model.
pub(super) fn printer(group: &str, resource: &str) -> Option<Printer> {
    let (columns, row): (&'static [ColumnDef<'static>], RowFn) = match (group, resource) {
        ("", "nodes") => (core_group::NODE_COLUMNS, core_group::node_row),
        ("", "pods") => (core_group::POD_COLUMNS, core_group::pod_row),
        ("", "namespaces") => (core_group::NAMESPACE_COLUMNS, core_group::namespace_row),
        ("", "services") => (core_group::SERVICE_COLUMNS, core_group::service_row),
        ("", "configmaps") => (core_group::CONFIGMAP_COLUMNS, core_group::configmap_row),
        ("", "secrets") => (core_group::SECRET_COLUMNS, core_group::secret_row),
        ("", "serviceaccounts") => (core_group::SERVICE_ACCOUNT_COLUMNS, core_group::service_account_row),
        ("", "events") | ("events.k8s.io", "events") => (core_group::EVENT_COLUMNS, core_group::event_row),
        ("", "persistentvolumes") => (core_group::PV_COLUMNS, core_group::pv_row),
        ("", "persistentvolumeclaims") => (core_group::PVC_COLUMNS, core_group::pvc_row),
        ("storage.k8s.io", "storageclasses") => (apps::STORAGE_CLASS_COLUMNS, apps::storage_class_row),
        ("apps", "deployments") => (apps::DEPLOYMENT_COLUMNS, apps::deployment_row),
        ("apps", "replicasets") => (apps::REPLICA_SET_COLUMNS, apps::replica_set_row),
        ("apps", "daemonsets") => (apps::DAEMON_SET_COLUMNS, apps::daemon_set_row),
        ("apps", "statefulsets") => (apps::STATEFUL_SET_COLUMNS, apps::stateful_set_row),
        ("coordination.k8s.io", "leases") => (apps::LEASE_COLUMNS, apps::lease_row),
        ("apiextensions.k8s.io", "customresourcedefinitions") => (apps::CRD_COLUMNS, apps::crd_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    str_at(v, path)
}

fn int(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn or<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.is_empty() { fallback } else { text }
}

fn cells(cells: Vec<Value>) -> Row {
    Row { cells, conditions: None }
}

fn created(v: &Value, now: Timestamp) -> Value {
    json!(age(get(v, &["metadata", "creationTimestamp"]), now))
}

fn name(v: &Value) -> Value {
    json!(s(v, &["metadata", "name"]))
}

fn deleting(v: &Value) -> bool {
    get(v, &["metadata", "deletionTimestamp"]).is_some_and(|t| !t.is_null())
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

/// `LabelSelectorAsSelector(..).String()` for a `metav1.LabelSelector` object: requirements
/// sorted by key, set values sorted; `Err` for an operator or shape the API does not allow.
fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return Ok(String::new());
    };
    let obj = sel.as_object().ok_or(())?;
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = obj.get("matchLabels").filter(|v| !v.is_null()) {
        for (k, v) in labels.as_object().ok_or(())? {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().ok_or(())?)));
        }
    }
    if let Some(exprs) = obj.get("matchExpressions").filter(|v| !v.is_null()) {
        for e in exprs.as_array().ok_or(())? {
            let key = e.get("key").and_then(Value::as_str).ok_or(())?;
            let mut values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map_or(Vec::new(), |vs| vs.iter().filter_map(Value::as_str).collect());
            values.sort_unstable();
            let text = match e.get("operator").and_then(Value::as_str) {
                Some("In") => format!("{key} in ({})", values.join(",")),
                Some("NotIn") => format!("{key} notin ({})", values.join(",")),
                Some("Exists") => key.to_string(),
                Some("DoesNotExist") => format!("!{key}"),
                _ => return Err(()),
            };
            reqs.push((key.to_string(), text));
        }
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(","))
}

/// `metav1.FormatLabelSelector`: canonical selector, `<none>` when empty, `<error>` when invalid.
fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
        Err(()) => "<error>".into(),
    }
}

/// Container names and images of a pod template, comma separated.
fn containers(v: &Value, spec: &[&str]) -> (Value, Value) {
    let mut path = spec.to_vec();
    path.push("containers");
    let cs = list(v, &path);
    let names: Vec<&str> = cs.iter().map(|c| s(c, &["name"])).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, &["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}
