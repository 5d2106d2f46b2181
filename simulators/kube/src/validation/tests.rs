//! Tests against the real Cluster API and Velero CRD schemas (read from /work/shared/reference).

use std::path::Path;

use serde_json::{Value, json};

use super::*;

const CAPI: &str = "/work/shared/reference/capi-crds";
const VELERO: &str = "/work/shared/reference/velero-crds/v1";

/// Reads every CRD YAML of a folder, or `None` (with a printed reason) when it is absent.
fn crds(dir: &str) -> Option<Vec<(String, Value)>> {
    if !Path::new(dir).is_dir() {
        println!("skipping: fixture folder {dir} is absent");
        return None;
    }
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries.into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(&path).expect("fixture is readable");
        let crd: Value = serde_yaml::from_str(&text).expect("fixture is YAML");
        out.push((path.display().to_string(), crd));
    }
    Some(out)
}

/// The compiled schema of `plural` (file name part) at `version`.
fn load(dir: &str, file_part: &str, version: &str) -> Option<CrdSchema> {
    let (_, crd) = crds(dir)?.into_iter().find(|(p, _)| p.contains(file_part))?;
    let versions = crd["spec"]["versions"].as_array()?;
    let v = versions.iter().find(|v| v["name"] == version)?;
    Some(CrdSchema::compile(&v["schema"]["openAPIV3Schema"]).expect("fixture schema compiles"))
}

#[test]
fn every_fixture_schema_compiles() {
    for dir in [CAPI, VELERO] {
        let Some(crds) = crds(dir) else { continue };
        assert!(!crds.is_empty(), "no CRDs in {dir}");
        for (path, crd) in crds {
            for (i, v) in crd["spec"]["versions"].as_array().into_iter().flatten().enumerate() {
                let base = format!("spec.versions[{i}].schema.openAPIV3Schema");
                if let Err(e) = CrdSchema::compile_at(&v["schema"]["openAPIV3Schema"], &base) {
                    panic!("{path} {}: {e}", v["name"]);
                }
            }
        }
    }
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(FieldError::message).collect()
}

fn cluster() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": "c1", "namespace": "default", "labels": {"env": "drill"}},
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}, "serviceDomain": "cluster.local"},
            "controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443},
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": "c1-cp"},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DockerCluster", "name": "c1"},
            "paused": false,
            "topology": {
                "class": "quick-start",
                "version": "v1.31.0",
                "variables": [{"name": "imageRepository", "value": {"registry": "kindest", "extra": {"x": [1, 2]}}}],
                "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 2}]}
            }
        },
        "status": {"phase": "Provisioned", "infrastructureReady": true}
    })
}

fn machine() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Machine",
        "metadata": {"name": "m1", "namespace": "default"},
        "spec": {
            "clusterName": "c1",
            "bootstrap": {"dataSecretName": "m1-bootstrap"},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DockerMachine", "name": "m1"},
            "version": "v1.31.0",
            "taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule", "propagation": "Always"}]
        }
    })
}

fn backup() -> Value {
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": "nightly", "namespace": "velero"},
        "spec": {
            "includedNamespaces": ["*"],
            "excludedNamespaces": null,
            "storageLocation": "default",
            "ttl": "720h0m0s",
            "snapshotVolumes": true,
            "labelSelector": {"matchLabels": {"app": "web"}}
        },
        "status": {"phase": "Completed", "startTimestamp": "2024-05-01T02:00:00Z"}
    })
}

/// Prunes, defaults and validates like the apiserver's create path.
fn admit(schema: &CrdSchema, mut obj: Value) -> (Value, Vec<String>, Vec<FieldError>) {
    let pruned = schema.prune(&mut obj);
    schema.default(&mut obj);
    let errors = schema.validate(&obj);
    (obj, pruned, errors)
}

#[test]
fn valid_cluster_machine_and_backup_pass_unchanged() {
    let cases = [
        (CAPI, "clusters", "v1beta1", cluster()),
        (CAPI, "machines.yaml", "v1beta1", machine()),
        (VELERO, "backups", "v1", backup()),
    ];
    for (dir, file, version, obj) in cases {
        let Some(schema) = load(dir, file, version) else {
            continue;
        };
        let (admitted, pruned, errors) = admit(&schema, obj.clone());
        assert_eq!(messages(&errors), Vec::<String>::new(), "{file}");
        assert!(pruned.is_empty(), "{file}: {pruned:?}");
        assert_eq!(admitted, obj, "{file}");
    }
}

#[test]
fn wrong_type_gives_kube_apiserver_message() {
    let Some(schema) = load(CAPI, "clusters", "v1beta1") else {
        return;
    };
    let mut obj = cluster();
    obj["spec"]["paused"] = json!("string");
    obj["spec"]["controlPlaneEndpoint"]["port"] = json!("6443");
    let mut errors = schema.validate(&obj);
    errors.sort_by_key(FieldError::message);
    assert_eq!(
        messages(&errors),
        [
            r#"spec.controlPlaneEndpoint.port: Invalid value: "string": spec.controlPlaneEndpoint.port in body must be of type integer: "string""#,
            r#"spec.paused: Invalid value: "string": spec.paused in body must be of type boolean: "string""#,
        ]
    );
    let paused = &errors[1];
    assert_eq!(paused.field, "spec.paused");
    assert_eq!(paused.reason(), "FieldValueTypeInvalid");
    assert_eq!(
        paused.body(),
        r#"Invalid value: "string": spec.paused in body must be of type boolean: "string""#
    );
}

#[test]
fn missing_required_fields_and_enums() {
    let Some(schema) = load(CAPI, "machines.yaml", "v1beta1") else {
        return;
    };
    let mut obj = machine();
    let spec = obj["spec"].as_object_mut().expect("spec is an object");
    spec.remove("clusterName");
    spec.remove("bootstrap");
    obj["spec"]["taints"][0]["effect"] = json!("Sometimes");
    obj["spec"]["taints"][0].as_object_mut().expect("taint").remove("propagation");
    let mut msgs = messages(&schema.validate(&obj));
    msgs.sort();
    assert_eq!(
        msgs,
        [
            "spec.bootstrap: Required value",
            "spec.clusterName: Required value",
            r#"spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
            "spec.taints[0].propagation: Required value",
        ]
    );
    let required = schema.validate(&obj).into_iter().find(|e| e.field == "spec.clusterName");
    assert_eq!(required.map(|e| e.reason()), Some("FieldValueRequired"));
}

#[test]
fn string_and_number_constraints() {
    let Some(schema) = load(CAPI, "machines.yaml", "v1beta1") else {
        return;
    };
    let mut obj = machine();
    obj["spec"]["clusterName"] = json!("x".repeat(64));
    obj["spec"]["version"] = json!("");
    obj["spec"]["taints"][0]["key"] = json!("Not A Key");
    let mut msgs = messages(&schema.validate(&obj));
    msgs.sort();
    assert_eq!(
        msgs,
        [
            "spec.clusterName: Too long: may not be more than 63 bytes",
            r#"spec.taints[0].key: Invalid value: "Not A Key": spec.taints[0].key in body should match '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$'"#,
            r#"spec.version: Invalid value: "": spec.version in body should be at least 1 chars long"#,
        ]
    );

    let Some(md) = load(CAPI, "machinedeployments", "v1beta1") else {
        return;
    };
    let obj = json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment", "metadata": {"name": "md"},
        "status": {"versions": [{"version": "v1", "replicas": 0}], "lastUpdated": "yesterday"}});
    let msgs = messages(&md.validate(&obj));
    assert!(
        msgs.contains(
            &r#"status.versions[0].replicas: Invalid value: 0: status.versions[0].replicas in body should be greater than or equal to 1"#
                .to_owned()
        ),
        "{msgs:?}"
    );
}

#[test]
fn formats_int_or_string_and_int32() {
    let Some(schema) = load(CAPI, "clusters", "v1beta1") else {
        return;
    };
    let mut obj = cluster();
    obj["spec"]["topology"]["rolloutAfter"] = json!("next tuesday");
    obj["spec"]["controlPlaneEndpoint"]["port"] = json!(3_000_000_000_u64);
    let mut msgs = messages(&schema.validate(&obj));
    msgs.sort();
    assert_eq!(
        msgs,
        [
            r#": Invalid value: "": Checked value must be of type integer with format int32 in spec.controlPlaneEndpoint.port"#,
            r#"spec.topology.rolloutAfter: Invalid value: "next tuesday": spec.topology.rolloutAfter in body must be of type date-time: "next tuesday""#,
        ]
    );
    obj["spec"]["topology"]["rolloutAfter"] = json!("2024-05-01T10:00:00Z");
    obj["spec"]["controlPlaneEndpoint"]["port"] = json!(6443);
    assert!(schema.validate(&obj).is_empty());

    let Some(mhc) = load(CAPI, "machinehealthchecks", "v1beta1") else {
        return;
    };
    let mut obj = json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineHealthCheck", "metadata": {"name": "h"},
        "spec": {"clusterName": "c1", "selector": {}, "maxUnhealthy": "40%"}});
    assert_eq!(messages(&mhc.validate(&obj)), Vec::<String>::new());
    obj["spec"]["maxUnhealthy"] = json!(3);
    assert_eq!(messages(&mhc.validate(&obj)), Vec::<String>::new());
    obj["spec"]["maxUnhealthy"] = json!(true);
    let msgs = messages(&mhc.validate(&obj));
    assert!(
        msgs.contains(
            &r#"spec.maxUnhealthy: Invalid value: "boolean": spec.maxUnhealthy in body must be of type integer,string: "boolean""#
                .to_owned()
        ),
        "{msgs:?}"
    );
}

#[test]
fn list_map_duplicates_and_keys() {
    let Some(schema) = load(CAPI, "clusters", "v1beta1") else {
        return;
    };
    let mut obj = cluster();
    obj["spec"]["topology"]["variables"] = json!([{"name": "a", "value": 1}, {"name": "a", "value": 2}, {"name": "a", "value": 3}]);
    assert_eq!(
        messages(&schema.validate(&obj)),
        [r#"spec.topology.variables[1]: Duplicate value: {"name":"a"}"#]
    );
    assert_eq!(
        schema.list_map_keys("spec.topology.workers.machineDeployments"),
        Some(vec!["name".to_owned()])
    );
    assert_eq!(schema.list_map_keys("spec.topology.variables"), Some(vec!["name".to_owned()]));
    assert_eq!(
        schema.list_map_keys("spec.topology.workers.machineDeployments.variables.overrides"),
        Some(vec!["name".to_owned()])
    );
    assert_eq!(schema.list_map_keys("spec.topology.class"), None);
    assert_eq!(schema.list_map_keys("spec.nothing.here"), None);
    assert_eq!(schema.list_type("spec.availabilityGates").as_deref(), Some("map"));
    assert_eq!(schema.list_type("spec.clusterNetwork.pods.cidrBlocks"), None);
}

#[test]
fn pruning_removes_unknown_but_keeps_preserved_and_meta() {
    let Some(schema) = load(CAPI, "clusters", "v1beta1") else {
        return;
    };
    let mut obj = cluster();
    obj["spec"]["bogus"] = json!({"deep": true});
    obj["spec"]["topology"]["workers"]["machineDeployments"][0]["color"] = json!("red");
    obj["metadata"]["someUnknownMetaField"] = json!("kept: root metadata is not pruned");
    obj["status"]["extra"] = json!(1);
    let mut expected = cluster();
    expected["metadata"]["someUnknownMetaField"] = json!("kept: root metadata is not pruned");
    let pruned = schema.prune(&mut obj);
    assert_eq!(
        pruned,
        ["spec.bogus", "spec.topology.workers.machineDeployments[0].color", "status.extra"]
    );
    // the preserve-unknown-fields `value` of the topology variable kept its free-form content
    assert_eq!(obj, expected);

    let Some(restore) = load(VELERO, "velero.io_restores", "v1") else {
        return;
    };
    let init = json!([{"name": "restore-wait", "image": "busybox", "anything": {"goes": [1]}}]);
    let mut obj = json!({"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "r"},
        "spec": {"backupName": "nightly", "hooks": {"resources": [{"name": "h", "postHooks": [{"init": {"initContainers": init.clone(), "junk": 1}}]}]}}});
    assert_eq!(restore.prune(&mut obj), ["spec.hooks.resources[0].postHooks[0].init.junk"]);
    assert_eq!(obj["spec"]["hooks"]["resources"][0]["postHooks"][0]["init"]["initContainers"], init);
}

#[test]
fn defaults_from_fixture_schemas_are_applied() {
    let Some(kcp) = load(CAPI, "kubeadmcontrolplanes", "v1beta1") else {
        return;
    };
    let mut obj = json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": {"name": "cp"},
        "spec": {"version": "v1.31.0", "replicas": 3,
                 "machineTemplate": {"infrastructureRef": {"kind": "DockerMachineTemplate", "name": "cp"}},
                 "kubeadmConfigSpec": {}}});
    kcp.default(&mut obj);
    assert_eq!(
        obj["spec"]["rolloutStrategy"],
        json!({"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"})
    );
    // the parent must exist: no defaulting of an absent `status`
    assert!(obj.get("status").is_none());
    assert_eq!(messages(&kcp.validate(&obj)), Vec::<String>::new());

    let Some(bsl) = load(VELERO, "backupstoragelocations", "v1") else {
        return;
    };
    let mut obj = json!({"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": "default"},
        "spec": {"provider": "aws", "objectStorage": {"bucket": "b"}, "credential": {"key": "cloud"}}});
    bsl.default(&mut obj);
    assert_eq!(obj["spec"]["credential"], json!({"key": "cloud", "name": ""}));
    assert!(obj["spec"]["objectStorage"].get("caCertRef").is_none());
}

#[test]
fn non_structural_schema_is_rejected_with_crd_paths() {
    let raw = json!({
        "type": "object",
        "properties": {
            "spec": {"properties": {"replicas": {"type": "integer", "default": "three"}}},
            "status": {"type": "object", "additionalProperties": {"type": "string"}, "properties": {"a": {"type": "string"}}}
        }
    });
    let err = CrdSchema::compile_at(&raw, "spec.versions[0].schema.openAPIV3Schema").expect_err("not structural");
    assert_eq!(
        messages(&err.field_errors()),
        [
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            "spec.versions[0].schema.openAPIV3Schema.properties[status].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
        ]
    );
    assert!(
        err.to_string()
            .starts_with("[spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value")
    );

    // once structural, a default that does not validate is still rejected
    let raw = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"replicas": {"type": "integer", "default": "three"}, "mode": {"type": "object", "default": {"x": 1}}}}}});
    let err = CrdSchema::compile(&raw).expect_err("bad defaults");
    assert_eq!(
        messages(&err.field_errors()),
        [
            r#"openAPIV3Schema.properties[spec].properties[mode].default: Invalid value: {"x":1}: must not have unknown fields"#,
            r#"openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: "string":  in body must be of type integer: "string""#,
        ]
    );
    assert!(matches!(
        CrdSchema::compile(&json!("nope")),
        Err(SchemaError::NotAnObject { found: "string", .. })
    ));
}
