//! Printers for core-group resources: nodes, pods, namespaces, services, config, events, volumes.

use super::*;

pub(super) const NODE_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Status", "string", "The status of the node", 0),
    col("Roles", "string", "The roles of the node", 0),
    AGE,
    col("Version", "string", d::NODE_KUBELET_VERSION, 0),
    col("Internal-IP", "string", d::NODE_ADDRESSES, 1),
    col("External-IP", "string", d::NODE_ADDRESSES, 1),
    col("OS-Image", "string", d::NODE_OS_IMAGE, 1),
    col("Kernel-Version", "string", d::NODE_KERNEL, 1),
    col("Container-Runtime", "string", d::NODE_RUNTIME, 1),
];

pub(super) fn node_row(n: &Value, now: Timestamp) -> Row {
    let ready = list(n, &["status", "conditions"]).iter().rev().find(|c| s(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if s(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if get(n, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = get(n, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/").filter(|r| !r.is_empty()) {
                roles.insert(role.to_string());
            } else if k == "kubernetes.io/role" && v.as_str().is_some_and(|v| !v.is_empty()) {
                roles.insert(v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let address = |kind: &str| {
        list(n, &["status", "addresses"])
            .iter()
            .find(|a| s(a, &["type"]) == kind)
            .map_or("<none>", |a| s(a, &["address"]))
            .to_string()
    };
    let info = |field: &str| or(s(n, &["status", "nodeInfo", field]), "<unknown>").to_string();
    cells(vec![
        name(n),
        json!(status.join(",")),
        json!(roles),
        created(n, now),
        json!(s(n, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ])
}

pub(super) const POD_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
        0,
    ),
    col("Status", "string", "The aggregate status of the containers in this pod.", 0),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        0,
    ),
    AGE,
    col("IP", "string", d::POD_IP, 1),
    col("Node", "string", d::POD_NODE_NAME, 1),
    col("Nominated Node", "string", d::POD_NOMINATED_NODE, 1),
    col("Readiness Gates", "string", d::POD_READINESS_GATES, 1),
];

fn timestamp(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str).and_then(|t| t.parse().ok())
}

fn pod_condition_true(p: &Value, kind: &str) -> bool {
    list(p, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == kind && s(c, &["status"]) == "True")
}

fn terminated_reason(t: &Value, prefix: &str) -> String {
    match s(t, &["reason"]) {
        "" if int(t, &["signal"]) != 0 => format!("{prefix}Signal:{}", int(t, &["signal"])),
        "" => format!("{prefix}ExitCode:{}", int(t, &["exitCode"])),
        reason => format!("{prefix}{reason}"),
    }
}

pub(super) fn pod_row(p: &Value, now: Timestamp) -> Row {
    let phase = s(p, &["status", "phase"]);
    let mut reason = or(s(p, &["status", "reason"]), phase).to_string();
    if list(p, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == "PodScheduled" && s(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    let init_specs = list(p, &["spec", "initContainers"]);
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, &["name"]) == name && s(c, &["restartPolicy"]) == "Always")
    };
    let total = list(p, &["spec", "containers"]).len() + init_specs.iter().filter(|c| s(c, &["restartPolicy"]) == "Always").count();
    let mut ready = 0;
    let (mut restarts, mut sidecar_restarts) = (0_i64, 0_i64);
    let (mut last_restart, mut last_sidecar_restart): (Option<Timestamp>, Option<Timestamp>) = (None, None);
    let finished = |c: &Value| timestamp(get(c, &["lastState", "terminated", "finishedAt"]));
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| a.max(b);
    let mut initializing = false;
    let init_statuses = list(p, &["status", "initContainerStatuses"]);
    for (i, c) in init_statuses.iter().enumerate() {
        restarts += int(c, &["restartCount"]);
        last_restart = later(last_restart, finished(c));
        let is_sidecar = sidecar(s(c, &["name"]));
        if is_sidecar {
            sidecar_restarts += int(c, &["restartCount"]);
            last_sidecar_restart = later(last_sidecar_restart, finished(c));
        }
        let terminated = get(c, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = s(c, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && get(c, &["started"]).and_then(Value::as_bool) == Some(true) {
            if get(c, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = match terminated {
            Some(t) => terminated_reason(t, "Init:"),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }
    if !initializing || pod_condition_true(p, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in list(p, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(c, &["restartCount"]);
            last_restart = later(last_restart, finished(c));
            let terminated = get(c, &["state", "terminated"]).filter(|t| t.is_object());
            let waiting_reason = s(c, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if get(c, &["ready"]).and_then(Value::as_bool) == Some(true)
                && get(c, &["state", "running"]).is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if pod_condition_true(p, "Ready") { "Running" } else { "NotReady" }.into();
        }
    }
    if deleting(p) && s(p, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(p) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }
    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", super::super::human_duration_between(t, now))
        }
        _ => restarts.to_string(),
    };
    let pod_ip = list(p, &["status", "podIPs"]).first().map_or("", |ip| s(ip, &["ip"]));
    let gates = list(p, &["spec", "readinessGates"]);
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conds = list(p, &["status", "conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                conds
                    .iter()
                    .find(|c| s(c, &["type"]) == s(g, &["conditionType"]))
                    .is_some_and(|c| s(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let conditions = match phase {
        "Succeeded" => {
            Some(json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]))
        }
        "Failed" => Some(json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])),
        _ => None,
    };
    Row {
        cells: vec![
            name(p),
            json!(format!("{ready}/{total}")),
            json!(reason),
            json!(restarts_text),
            created(p, now),
            json!(or(pod_ip, "<none>")),
            json!(or(s(p, &["spec", "nodeName"]), "<none>")),
            json!(or(s(p, &["status", "nominatedNodeName"]), "<none>")),
            json!(gates_text),
        ],
        conditions,
    }
}

pub(super) const NAMESPACE_COLUMNS: &[ColumnDef<'static>] = &[NAME, col("Status", "string", "The status of the namespace", 0), AGE];

pub(super) fn namespace_row(ns: &Value, now: Timestamp) -> Row {
    cells(vec![name(ns), json!(s(ns, &["status", "phase"])), created(ns, now)])
}

pub(super) const SERVICE_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Type", "string", d::SVC_TYPE, 0),
    col("Cluster-IP", "string", d::SVC_CLUSTER_IP, 0),
    col("External-IP", "string", d::SVC_EXTERNAL_IPS, 0),
    col("Port(s)", "string", d::SVC_PORTS, 0),
    AGE,
    col("Selector", "string", d::SVC_SELECTOR, 1),
];

pub(super) fn service_row(svc: &Value, now: Timestamp) -> Row {
    let svc_type = or(s(svc, &["spec", "type"]), "ClusterIP");
    // clusterIPs[0]; fall back to clusterIP for stored objects that were never defaulted.
    let cluster_ip = list(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or(or(s(svc, &["spec", "clusterIP"]), "<none>"));
    let external_ips: Vec<&str> = list(svc, &["spec", "externalIPs"]).iter().filter_map(Value::as_str).collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb: BTreeSet<&str> = list(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| or(s(i, &["ip"]), s(i, &["hostname"])))
                .filter(|x| !x.is_empty())
                .collect();
            let mut all: Vec<&str> = lb.into_iter().collect();
            all.extend(&external_ips);
            if all.is_empty() { "<pending>".into() } else { all.join(",") }
        }
        "ExternalName" => s(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = list(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let proto = or(s(p, &["protocol"]), "TCP");
            match int(p, &["nodePort"]) {
                0 => format!("{}/{proto}", int(p, &["port"])),
                node_port => format!("{}:{node_port}/{proto}", int(p, &["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    cells(vec![
        name(svc),
        json!(svc_type),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        created(svc, now),
        json!(format_labels(get(svc, &["spec", "selector"]))),
    ])
}

pub(super) const CONFIGMAP_COLUMNS: &[ColumnDef<'static>] = &[NAME, col("Data", "string", d::CONFIGMAP_DATA, 0), AGE];

fn map_len(v: &Value, path: &[&str]) -> usize {
    get(v, path).and_then(Value::as_object).map_or(0, Map::len)
}

pub(super) fn configmap_row(cm: &Value, now: Timestamp) -> Row {
    cells(vec![
        name(cm),
        json!(map_len(cm, &["data"]) + map_len(cm, &["binaryData"])),
        created(cm, now),
    ])
}

pub(super) const SECRET_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Type", "string", d::SECRET_TYPE, 0),
    col("Data", "string", d::SECRET_DATA, 0),
    AGE,
];

pub(super) fn secret_row(sec: &Value, now: Timestamp) -> Row {
    cells(vec![
        name(sec),
        json!(or(s(sec, &["type"]), "Opaque")),
        json!(map_len(sec, &["data"])),
        created(sec, now),
    ])
}

pub(super) const SERVICE_ACCOUNT_COLUMNS: &[ColumnDef<'static>] = &[NAME, col("Secrets", "string", d::SA_SECRETS, 0), AGE];

pub(super) fn service_account_row(sa: &Value, now: Timestamp) -> Row {
    cells(vec![name(sa), json!(list(sa, &["secrets"]).len()), created(sa, now)])
}

pub(super) const EVENT_COLUMNS: &[ColumnDef<'static>] = &[
    col("Last Seen", "string", d::EVENT_LAST, 0),
    col("Type", "string", d::EVENT_TYPE, 0),
    col("Reason", "string", d::EVENT_REASON, 0),
    col("Object", "string", d::EVENT_OBJECT, 0),
    col("Subobject", "string", d::EVENT_FIELD_PATH, 1),
    col("Source", "string", d::EVENT_SOURCE, 1),
    col("Message", "string", d::EVENT_MESSAGE, 0),
    col("First Seen", "string", d::EVENT_FIRST, 1),
    col("Count", "string", d::EVENT_COUNT, 1),
    ColumnDef {
        name: "Name",
        type_: "string",
        format: "name",
        description: d::META_NAME,
        priority: 1,
    },
];

/// Core `v1` and `events.k8s.io/v1` events share the printer; this picks whichever field is set.
pub(super) fn event_row(e: &Value, now: Timestamp) -> Row {
    let pick = |core: &[&str], new: &[&str]| get(e, core).filter(|v| !v.is_null()).or_else(|| get(e, new));
    let set = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    let first_ts = pick(&["firstTimestamp"], &["deprecatedFirstTimestamp"]);
    let first = if set(first_ts) {
        age(first_ts, now)
    } else {
        age(get(e, &["eventTime"]), now)
    };
    let last_ts = pick(&["lastTimestamp"], &["deprecatedLastTimestamp"]);
    let mut last = if set(last_ts) { age(last_ts, now) } else { first.clone() };
    let mut count = pick(&["count"], &["deprecatedCount"]).and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = get(e, &["series"]).filter(|v| v.is_object()) {
        last = age(get(series, &["lastObservedTime"]), now);
        count = int(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let involved = pick(&["involvedObject"], &["regarding"]).unwrap_or(&Value::Null);
    let kind = s(involved, &["kind"]).to_lowercase();
    let target = match s(involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = pick(&["source"], &["deprecatedSource"]).unwrap_or(&Value::Null);
    let component = or(s(source, &["component"]), s(e, &["reportingController"]));
    let host = or(s(source, &["host"]), s(e, &["reportingInstance"]));
    let source_text = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    let message = pick(&["message"], &["note"]).and_then(Value::as_str).unwrap_or("").trim();
    cells(vec![
        json!(last),
        json!(s(e, &["type"])),
        json!(s(e, &["reason"])),
        json!(target),
        json!(s(involved, &["fieldPath"])),
        json!(source_text),
        json!(message),
        json!(first),
        json!(count),
        name(e),
    ])
}

pub(super) const PV_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Capacity", "string", d::PV_CAPACITY, 0),
    col("Access Modes", "string", d::PV_ACCESS_MODES, 0),
    col("Reclaim Policy", "string", d::PV_RECLAIM, 0),
    col("Status", "string", d::PV_PHASE, 0),
    col("Claim", "string", d::PV_CLAIM, 0),
    col("StorageClass", "string", "StorageClass of the pv", 0),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0),
    col("Reason", "string", d::PV_REASON, 0),
    AGE,
    col("VolumeMode", "string", d::PV_VOLUME_MODE, 1),
];

/// A stored quantity as printed; an absent quantity is Go's zero `Quantity`, shown as `0`.
fn quantity(q: &str) -> &str {
    or(q, "0")
}

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, deduplicated.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(full, _)| has(full))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn storage_class_of(v: &Value) -> String {
    match get(v, &["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"]).and_then(Value::as_str) {
        Some(class) => class.to_string(),
        None => s(v, &["spec", "storageClassName"]).to_string(),
    }
}

fn phase_or_terminating(v: &Value) -> &str {
    if deleting(v) { "Terminating" } else { s(v, &["status", "phase"]) }
}

pub(super) fn pv_row(pv: &Value, now: Timestamp) -> Row {
    let claim = get(pv, &["spec", "claimRef"])
        .filter(|c| c.is_object())
        .map_or(String::new(), |c| format!("{}/{}", s(c, &["namespace"]), s(c, &["name"])));
    cells(vec![
        name(pv),
        json!(quantity(s(pv, &["spec", "capacity", "storage"]))),
        json!(access_modes(list(pv, &["spec", "accessModes"]))),
        json!(s(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase_or_terminating(pv)),
        json!(claim),
        json!(storage_class_of(pv)),
        json!(or(s(pv, &["spec", "volumeAttributesClassName"]), "<unset>")),
        json!(s(pv, &["status", "reason"])),
        created(pv, now),
        json!(or(s(pv, &["spec", "volumeMode"]), "<unset>")),
    ])
}

pub(super) const PVC_COLUMNS: &[ColumnDef<'static>] = &[
    NAME,
    col("Status", "string", d::PVC_PHASE, 0),
    col("Volume", "string", d::PVC_VOLUME, 0),
    col("Capacity", "string", d::PVC_CAPACITY, 0),
    col("Access Modes", "string", d::PVC_ACCESS_MODES, 0),
    col("StorageClass", "string", "StorageClass of the pvc", 0),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0),
    AGE,
    col("VolumeMode", "string", d::PVC_VOLUME_MODE, 1),
];

pub(super) fn pvc_row(pvc: &Value, now: Timestamp) -> Row {
    let volume = s(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(s(pvc, &["status", "capacity", "storage"])).to_string(),
            access_modes(list(pvc, &["status", "accessModes"])),
        )
    };
    cells(vec![
        name(pvc),
        json!(phase_or_terminating(pvc)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class_of(pvc)),
        json!(or(s(pvc, &["spec", "volumeAttributesClassName"]), "<unset>")),
        created(pvc, now),
        json!(or(s(pvc, &["spec", "volumeMode"]), "<unset>")),
    ])
}
