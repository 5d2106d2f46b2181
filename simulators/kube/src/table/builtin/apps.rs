//! Printers for storage classes, apps workloads, leases and CustomResourceDefinitions.

use super::*;

pub(super) const STORAGE_CLASS_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Provisioner", "string", d::SC_PROVISIONER, 0),
    col("ReclaimPolicy", "string", d::SC_RECLAIM, 0),
    col("VolumeBindingMode", "string", d::SC_BINDING, 0),
    col("AllowVolumeExpansion", "string", d::SC_EXPANSION, 0),
    AGE,
];

pub(super) fn storage_class_row(sc: &Value, now: Timestamp) -> Row {
    let annotation = |k: &str| s(sc, &["metadata", "annotations", k]) == "true";
    let is_default =
        annotation("storageclass.kubernetes.io/is-default-class") || annotation("storageclass.beta.kubernetes.io/is-default-class");
    let base = s(sc, &["metadata", "name"]);
    let display = if is_default {
        format!("{base} (default)")
    } else {
        base.to_string()
    };
    cells(vec![
        json!(display),
        json!(s(sc, &["provisioner"])),
        json!(or(s(sc, &["reclaimPolicy"]), "Delete")),
        json!(or(s(sc, &["volumeBindingMode"]), "Immediate")),
        json!(get(sc, &["allowVolumeExpansion"]).and_then(Value::as_bool).unwrap_or(false)),
        created(sc, now),
    ])
}

/// `spec.replicas`, which the API server defaults to 1.
fn desired_replicas(v: &Value) -> i64 {
    get(v, &["spec", "replicas"]).and_then(Value::as_i64).unwrap_or(1)
}

pub(super) const DEPLOYMENT_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state", 0),
    col("Up-to-date", "string", d::DEPLOY_UPDATED, 0),
    col("Available", "string", d::DEPLOY_AVAILABLE, 0),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", d::DEPLOY_SELECTOR, 1),
];

pub(super) fn deployment_row(dep: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(dep, &["spec", "template", "spec"]);
    let selector = selector_string(get(dep, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    cells(vec![
        name(dep),
        json!(format!("{}/{}", int(dep, &["status", "readyReplicas"]), desired_replicas(dep))),
        json!(int(dep, &["status", "updatedReplicas"])),
        json!(int(dep, &["status", "availableReplicas"])),
        created(dep, now),
        names,
        images,
        json!(selector),
    ])
}

pub(super) const REPLICA_SET_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Desired", "integer", d::RS_DESIRED, 0),
    col("Current", "integer", d::RS_CURRENT, 0),
    col("Ready", "integer", d::RS_READY, 0),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", d::RS_SELECTOR, 1),
];

pub(super) fn replica_set_row(rs: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(rs, &["spec", "template", "spec"]);
    cells(vec![
        name(rs),
        json!(desired_replicas(rs)),
        json!(int(rs, &["status", "replicas"])),
        json!(int(rs, &["status", "readyReplicas"])),
        created(rs, now),
        names,
        images,
        json!(format_label_selector(get(rs, &["spec", "selector"]))),
    ])
}

pub(super) const DAEMON_SET_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Desired", "integer", d::DS_DESIRED, 0),
    col("Current", "integer", d::DS_CURRENT, 0),
    col("Ready", "integer", d::DS_READY, 0),
    col("Up-to-date", "integer", d::DS_UPDATED, 0),
    col("Available", "integer", d::DS_AVAILABLE, 0),
    col("Node Selector", "string", d::POD_NODE_SELECTOR, 0),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", d::DS_SELECTOR, 1),
];

pub(super) fn daemon_set_row(ds: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(ds, &["spec", "template", "spec"]);
    let status = |f: &str| json!(int(ds, &["status", f]));
    cells(vec![
        name(ds),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        json!(format_labels(get(ds, &["spec", "template", "spec", "nodeSelector"]))),
        created(ds, now),
        names,
        images,
        json!(format_label_selector(get(ds, &["spec", "selector"]))),
    ])
}

pub(super) const STATEFUL_SET_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state", 0),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) fn stateful_set_row(sts: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(sts, &["spec", "template", "spec"]);
    cells(vec![
        name(sts),
        json!(format!("{}/{}", int(sts, &["status", "readyReplicas"]), desired_replicas(sts))),
        created(sts, now),
        names,
        images,
    ])
}

pub(super) const LEASE_COLUMNS: &[ColumnDef<'static>] = &[NAME, col("Holder", "string", d::LEASE_HOLDER, 0), AGE];

pub(super) fn lease_row(lease: &Value, now: Timestamp) -> Row {
    cells(vec![name(lease), json!(s(lease, &["spec", "holderIdentity"])), created(lease, now)])
}

pub(super) const CRD_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Scope", "string", "Cluster/Namespaced", 0),
    col("Versions", "string", "Served versions", 0),
    col("Created At", "date", d::META_CREATED, 0),
    col("Group", "string", "API group", 1),
    col("Kind", "string", "CustomResource kind", 1),
    col("ShortNames", "string", "Short names", 1),
    col("Established", "boolean", "Established status", 1),
];

pub(super) fn crd_row(crd: &Value, _now: Timestamp) -> Row {
    let mut versions: Vec<String> = list(crd, &["spec", "versions"])
        .iter()
        .filter(|v| get(v, &["served"]).and_then(Value::as_bool) == Some(true))
        .map(|v| {
            let storage = get(v, &["storage"]).and_then(Value::as_bool) == Some(true);
            format!("{}{}", s(v, &["name"]), if storage { "(storage)" } else { "" })
        })
        .collect();
    versions.sort();
    let short_names: Vec<&str> = list(crd, &["spec", "names", "shortNames"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let established = list(crd, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == "Established" && s(c, &["status"]) == "True");
    cells(vec![
        name(crd),
        json!(s(crd, &["spec", "scope"])),
        json!(versions.join(",")),
        json!(rfc3339_or_zero(get(crd, &["metadata", "creationTimestamp"]))),
        json!(s(crd, &["spec", "group"])),
        json!(s(crd, &["spec", "names", "kind"])),
        json!(short_names.join(",")),
        json!(established),
    ])
}
