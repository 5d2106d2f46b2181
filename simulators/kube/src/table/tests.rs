use super::*;
use serde_json::json;
use std::time::Duration;

fn now() -> jiff::Timestamp {
    "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
}

fn cells(table: &Value, row: usize) -> Vec<Value> {
    table["rows"][row]["cells"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("row {row} missing: {table}"))
}

fn headers(table: &Value) -> Vec<(String, i64)> {
    table["columnDefinitions"]
        .as_array()
        .expect("columnDefinitions")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["priority"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn builtin(group: &str, resource: &str, objects: &[&Value]) -> Value {
    build_table(
        TableColumns::Builtin { group, resource },
        objects,
        IncludeObject::None,
        json!({}),
        now(),
    )
    .expect("table builds")
}

#[test]
fn human_duration_boundaries() {
    let cases = [
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (4 * 3600 + 14 * 60 + 59, "4h14m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (8 * 3600 + 1800, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (10 * 60 + 59, "10m"),
        (48 * 3600 - 1, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (8 * 86400 - 1, "7d23h"),
        (8 * 86400, "8d"),
        (24 * 86400, "24d"),
        (2 * 365 * 86400 - 1, "729d"),
        (2 * 365 * 86400, "2y"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (8 * 365 * 86400, "8y"),
        (20 * 365 * 86400, "20y"),
    ];
    for (secs, want) in cases {
        assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
    }
    let t = now();
    let future = |s: i64| t.checked_add(jiff::SignedDuration::from_secs(s)).expect("in range");
    assert_eq!(human_duration_between(future(1), t), "0s", "1s of clock skew is tolerated");
    assert_eq!(human_duration_between(future(5), t), "<invalid>");
}

fn node(name: &str, ready: Option<&str>, unschedulable: bool, labels: Value) -> Value {
    let conditions = match ready {
        Some(status) => {
            json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": status}])
        }
        None => json!([]),
    };
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": "2025-06-01T07:46:00Z", "labels": labels, "resourceVersion": "7"},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Ubuntu 24.04", "kernelVersion": "6.8.0",
                         "containerRuntimeVersion": "containerd://1.7.22"}
        }
    })
}

#[test]
fn node_table_matches_kubectl_columns() {
    let cp = node(
        "cp-0",
        Some("True"),
        false,
        json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}),
    );
    let worker = node("w-0", Some("False"), false, json!({"kubernetes.io/hostname": "w-0"}));
    let cordoned = node("w-1", Some("True"), true, json!({"node-role.kubernetes.io/worker": "true"}));
    let unknown = node("w-2", None, false, json!({"node-role.kubernetes.io/": "ignored"}));
    let table = builtin("", "nodes", &[&cp, &worker, &cordoned, &unknown]);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let want_headers = [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ];
    let want_headers: Vec<(String, i64)> = want_headers.iter().map(|(n, p)| ((*n).to_string(), *p)).collect();
    assert_eq!(headers(&table), want_headers);
    assert_eq!(table["columnDefinitions"][0]["format"], "name");
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("cp-0"),
            json!("Ready"),
            json!("control-plane,master"),
            json!("4h14m"),
            json!("v1.31.2"),
            json!("10.0.0.5"),
            json!("<none>"),
            json!("Ubuntu 24.04"),
            json!("6.8.0"),
            json!("containerd://1.7.22"),
        ]
    );
    assert_eq!(cells(&table, 1)[1..3], [json!("NotReady"), json!("<none>")]);
    assert_eq!(cells(&table, 2)[1..3], [json!("Ready,SchedulingDisabled"), json!("worker")]);
    assert_eq!(cells(&table, 3)[1..3], [json!("Unknown"), json!("<none>")]);
    assert!(table["rows"][0]["object"].is_null(), "includeObject=None");
}

/// The Cluster API v1beta2 `Cluster` printer columns (subset of the real CRD's additionalPrinterColumns).
fn capi_cluster_columns() -> Vec<PrinterColumn> {
    let raw = json!([
        {"description": "ClusterClass of this Cluster, empty if the Cluster is not using a ClusterClass",
         "jsonPath": ".spec.topology.classRef.name", "name": "ClusterClass", "type": "string"},
        {"description": "Cluster pass all availability checks",
         "jsonPath": ".status.conditions[?(@.type==\"Available\")].status", "name": "Available", "type": "string"},
        {"description": "The desired number of control plane machines",
         "jsonPath": ".status.controlPlane.desiredReplicas", "name": "CP Desired", "type": "integer"},
        {"description": "The number of control plane machines", "jsonPath": ".status.controlPlane.replicas",
         "name": "CP Current", "priority": 10, "type": "integer"},
        {"description": "Reconciliation paused", "jsonPath": ".status.conditions[?(@.type==\"Paused\")].status",
         "name": "Paused", "priority": 10, "type": "string"},
        {"description": "Cluster status such as Pending/Provisioning/Provisioned/Deleting/Failed",
         "jsonPath": ".status.phase", "name": "Phase", "type": "string"},
        {"description": "Time duration since creation of Cluster", "jsonPath": ".metadata.creationTimestamp",
         "name": "Age", "type": "date"},
        {"description": "Kubernetes version associated with this Cluster", "jsonPath": ".spec.topology.version",
         "name": "Version", "type": "string"}
    ]);
    raw.as_array()
        .expect("array")
        .iter()
        .map(|c| PrinterColumn::from_crd_column(c).unwrap_or_else(|e| panic!("{c}: {e}")))
        .collect()
}

#[test]
fn capi_cluster_custom_columns() {
    let cols = capi_cluster_columns();
    assert_eq!(cols[3].priority, 10);
    let cluster = json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
        "metadata": {"name": "prod", "namespace": "default", "creationTimestamp": "2025-05-29T12:00:00Z",
                     "uid": "u-1", "labels": {"env": "prod"}},
        "spec": {"topology": {"classRef": {"name": "quick-start"}, "version": "v1.31.0"}},
        "status": {"phase": "Provisioned", "controlPlane": {"desiredReplicas": 3, "replicas": 3.0},
                   "conditions": [{"type": "Available", "status": "True"}, {"type": "Paused", "status": "False"}]}
    });
    let bare = json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
                      "metadata": {"name": "new", "creationTimestamp": "2025-06-01T11:59:30Z"}});
    let table = build_table(
        TableColumns::Custom(&cols),
        &[&cluster, &bare],
        IncludeObject::Metadata,
        json!({"resourceVersion": "42"}),
        now(),
    )
    .expect("table");
    let names: Vec<String> = headers(&table).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Name",
            "ClusterClass",
            "Available",
            "CP Desired",
            "CP Current",
            "Paused",
            "Phase",
            "Age",
            "Version"
        ]
    );
    assert_eq!(
        table["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name",
        "description": descriptions::META_NAME, "priority": 0})
    );
    assert_eq!(table["columnDefinitions"][4]["priority"], 10);
    assert_eq!(table["metadata"], json!({"resourceVersion": "42"}));
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("prod"),
            json!("quick-start"),
            json!("True"),
            json!(3),
            json!(3),
            json!("False"),
            json!("Provisioned"),
            json!("3d"),
            json!("v1.31.0")
        ]
    );
    assert_eq!(
        cells(&table, 1),
        vec![
            json!("new"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("30s"),
            Value::Null
        ]
    );
    let object = &table["rows"][0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["uid"], "u-1");
    assert!(object.get("spec").is_none(), "metadata only");
}

#[test]
fn crd_without_columns_gets_name_and_age() {
    let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2025-06-01T11:00:00Z"}, "spec": {"a": 1}});
    let table = build_table(TableColumns::Custom(&[]), &[&obj], IncludeObject::Object, Value::Null, now()).expect("table");
    let names: Vec<String> = headers(&table).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["Name", "Age"]);
    assert_eq!(table["columnDefinitions"][1]["type"], "date");
    assert_eq!(cells(&table, 0), vec![json!("x"), json!("60m")]);
    assert_eq!(table["rows"][0]["object"], obj, "includeObject=Object returns the whole object");
    assert_eq!(table["metadata"], json!({}));
}

#[test]
fn custom_cell_rendering_rules() {
    let col = |name: &str, type_: &str, path: &str| {
        PrinterColumn::from_crd_column(&json!({"name": name, "type": type_, "jsonPath": path})).expect("column")
    };
    let cols = [
        col("Ports", "string", ".spec.ports"),
        col("First", "string", ".spec.items[*]"),
        col("Ratio", "number", ".spec.ratio"),
        col("Count", "integer", ".spec.ratio"),
        col("On", "boolean", ".spec.on"),
        col("Wrong", "integer", ".spec.on"),
        col("When", "date", ".spec.when"),
        col("Big", "string", ".spec.big"),
        col("Bad", "string", ".spec.items[9]"),
    ];
    let obj = json!({"metadata": {"name": "o"}, "spec": {
        "ports": [{"port": 80, "name": "<http>"}], "items": ["a", "b"], "ratio": 2.5, "on": true,
        "when": "not-a-date", "big": 1e21}});
    let table = build_table(TableColumns::Custom(&cols), &[&obj], IncludeObject::None, json!({}), now()).expect("table");
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("o"),
            json!("[{\"name\":\"\\u003chttp\\u003e\",\"port\":80}]"),
            json!("a"),
            json!(2.5),
            json!(2),
            json!(true),
            Value::Null,
            json!("<invalid>"),
            json!("1e+21"),
            Value::Null
        ]
    );
    let desc = &table["columnDefinitions"][1]["description"];
    assert_eq!(desc, "Custom resource definition column (in JSONPath format): .spec.ports");
}

#[test]
fn go_number_formatting() {
    assert_eq!(go_float(2.5), "2.5");
    assert_eq!(go_float(123456.0), "123456");
    assert_eq!(go_float(1234567.0), "1.234567e+06");
    assert_eq!(go_float(0.0001), "0.0001");
    assert_eq!(go_float(0.00001), "1e-05");
    assert_eq!(go_print(&Value::Null), "<no value>");
}

#[test]
fn column_and_option_errors() {
    let err = PrinterColumn::from_crd_column(&json!({"name": "A", "type": "string"})).expect_err("no jsonPath");
    assert_eq!(
        err,
        TableError::ColumnField {
            field: "jsonPath",
            expected: "string",
            found: "null".into()
        }
    );
    let err =
        PrinterColumn::from_crd_column(&json!({"name": "A", "type": "string", "jsonPath": ".a[", "priority": 0})).expect_err("bad path");
    assert!(
        matches!(err, TableError::InvalidJsonPath { ref json_path, .. } if json_path == ".a["),
        "{err}"
    );
    let err = PrinterColumn::from_crd_column(&json!({"name": "A", "type": "string", "jsonPath": ".a", "priority": "x"}))
        .expect_err("bad priority");
    assert!(matches!(err, TableError::ColumnField { field: "priority", .. }));
    assert_eq!("".parse::<IncludeObject>(), Ok(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("Metadata"), Ok(IncludeObject::Metadata));
    assert_eq!("None".parse::<IncludeObject>(), Ok(IncludeObject::None));
    assert_eq!("Object".parse::<IncludeObject>(), Ok(IncludeObject::Object));
    let err = "metadata".parse::<IncludeObject>().expect_err("case sensitive");
    assert_eq!(err.to_string(), "unrecognized includeObject value: \"metadata\"");
    let not_obj = json!("x");
    let err = build_table(TableColumns::Custom(&[]), &[&not_obj], IncludeObject::None, json!({}), now()).expect_err("string item");
    assert_eq!(err, TableError::NotAnObject { index: 0, found: "string" });
}

#[test]
fn unknown_builtin_uses_default_convertor() {
    let obj = json!({"metadata": {"name": "cfg", "creationTimestamp": "2025-01-02T03:04:05.000Z"}});
    let table = builtin("example.io", "widgets", &[&obj]);
    assert_eq!(headers(&table), vec![("Name".to_string(), 0), ("Created At".to_string(), 0)]);
    assert_eq!(table["columnDefinitions"][1]["type"], "date");
    assert_eq!(cells(&table, 0), vec![json!("cfg"), json!("2025-01-02T03:04:05Z")]);
}

fn pod(status: Value, deletion: bool) -> Value {
    let mut p = json!({
        "metadata": {"name": "web-0", "creationTimestamp": "2025-06-01T11:55:00Z"},
        "spec": {"nodeName": "w-0", "containers": [{"name": "app"}, {"name": "log"}]},
        "status": status
    });
    if deletion {
        p["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
    }
    p
}

#[test]
fn pod_status_ready_and_restarts() {
    let running = pod(
        json!({"phase": "Running", "podIPs": [{"ip": "10.1.0.7"}], "containerStatuses": [
        {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:58:00Z"}}},
        {"name": "log", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        false,
    );
    let terminating = pod(json!({"phase": "Running"}), true);
    let done = pod(
        json!({"phase": "Succeeded", "containerStatuses": [
        {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        true,
    );
    let table = builtin("", "pods", &[&running, &terminating, &done]);
    assert_eq!(headers(&table).len(), 9);
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("web-0"),
            json!("1/2"),
            json!("CrashLoopBackOff"),
            json!("2 (2m ago)"),
            json!("5m"),
            json!("10.1.0.7"),
            json!("w-0"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    assert_eq!(cells(&table, 1)[1..4], [json!("0/2"), json!("Terminating"), json!("0")]);
    assert_eq!(
        cells(&table, 2)[2],
        json!("Completed"),
        "terminal pods are not shown as Terminating"
    );
    assert_eq!(table["rows"][2]["conditions"][0]["reason"], "Succeeded");
    assert!(table["rows"][0].get("conditions").is_none());
}

#[test]
fn pod_init_containers() {
    let mut p = pod(
        json!({"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "state": {"terminated": {"exitCode": 0}}},
        {"name": "migrate", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        false,
    );
    p["spec"]["initContainers"] = json!([{"name": "setup"}, {"name": "migrate"}, {"name": "proxy", "restartPolicy": "Always"}]);
    let table = builtin("", "pods", &[&p]);
    assert_eq!(cells(&table, 0)[1..3], [json!("0/3"), json!("Init:1/3")]);
}

#[test]
fn workload_and_misc_rows() {
    let dep = json!({"metadata": {"name": "api", "creationTimestamp": "2025-06-01T11:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["be", "api"]}]},
            "template": {"spec": {"containers": [{"name": "a", "image": "img:1"}, {"name": "b", "image": "img:2"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    let table = builtin("apps", "deployments", &[&dep]);
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("api"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("60m"),
            json!("a,b"),
            json!("img:1,img:2"),
            json!("app=api,tier in (api,be)")
        ]
    );
    let rs = builtin(
        "apps",
        "replicasets",
        &[&json!({"metadata": {"name": "rs"}, "spec": {"template": {}}})],
    );
    assert_eq!(
        cells(&rs, 0),
        vec![
            json!("rs"),
            json!(1),
            json!(0),
            json!(0),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("<none>")
        ]
    );
    let svc = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"],
        "ports": [{"port": 443, "nodePort": 30443}], "selector": {"b": "2", "a": "1"}},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}});
    let table = builtin("", "services", &[&svc]);
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("lb"),
            json!("LoadBalancer"),
            json!("10.96.0.9"),
            json!("lb.example"),
            json!("443:30443/TCP"),
            json!("<unknown>"),
            json!("a=1,b=2")
        ]
    );
    let sc = json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "csi.example"});
    assert_eq!(
        cells(&builtin("storage.k8s.io", "storageclasses", &[&sc]), 0)[..5],
        [
            json!("std (default)"),
            json!("csi.example"),
            json!("Delete"),
            json!("Immediate"),
            json!(false)
        ]
    );
    let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "std"},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
    assert_eq!(
        cells(&builtin("", "persistentvolumeclaims", &[&pvc]), 0)[..7],
        [
            json!("data"),
            json!("Bound"),
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO,RWX"),
            json!("std"),
            json!("<unset>")
        ]
    );
    let ev = json!({"metadata": {"name": "e1"}, "type": "Warning", "reason": "BackOff", "message": " restarting \n",
        "involvedObject": {"kind": "Pod", "name": "web-0"}, "source": {"component": "kubelet", "host": "w-0"},
        "lastTimestamp": "2025-06-01T11:59:50Z"});
    assert_eq!(
        cells(&builtin("", "events", &[&ev]), 0),
        vec![
            json!("10s"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web-0"),
            json!(""),
            json!("kubelet, w-0"),
            json!("restarting"),
            json!("<unknown>"),
            json!(1),
            json!("e1")
        ]
    );
}

#[test]
fn crd_builtin_row() {
    let crd = json!({"metadata": {"name": "clusters.cluster.x-k8s.io", "creationTimestamp": "2025-05-01T00:00:00Z"},
        "spec": {"group": "cluster.x-k8s.io", "scope": "Namespaced", "names": {"kind": "Cluster", "shortNames": ["cl"]},
                 "versions": [{"name": "v1beta2", "served": true, "storage": true}, {"name": "v1beta1", "served": true},
                              {"name": "v1alpha4", "served": false}]},
        "status": {"conditions": [{"type": "Established", "status": "True"}]}});
    let table = builtin("apiextensions.k8s.io", "customresourcedefinitions", &[&crd]);
    assert_eq!(
        cells(&table, 0),
        vec![
            json!("clusters.cluster.x-k8s.io"),
            json!("Namespaced"),
            json!("v1beta1,v1beta2(storage)"),
            json!("2025-05-01T00:00:00Z"),
            json!("cluster.x-k8s.io"),
            json!("Cluster"),
            json!("cl"),
            json!(true)
        ]
    );
}
