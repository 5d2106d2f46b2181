//! Tests of every CRD of the crate: our API server accepts each one; the Cluster API ones match
//! the upstream v1beta1 schemas (read from `../shared/reference` as data); and a realistic
//! object of every kind round-trips through our types and validates against the schemas.

mod fixtures;

use std::path::{Path, PathBuf};

use drdrill_kube_sim::crd::resource_from_crd;
use drdrill_kube_sim::validation::CrdSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;

/// Every CRD of the crate as JSON.
fn crds() -> Vec<Value> {
    all_crds()
        .iter()
        .map(|c| serde_json::to_value(c).expect("CRD serializes"))
        .collect()
}

/// The CRD of `kind`.
fn crd_of(kind: &str) -> Value {
    crds()
        .into_iter()
        .find(|c| c["spec"]["names"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"))
}

/// The version entry `version` of a CRD.
fn version<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd["spec"]["versions"].as_array()?.iter().find(|v| v["name"] == version)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The upstream Cluster API CRDs folder, or `None` with a printed reason (a failure in CI).
fn reference_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/capi-crds");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "{} is missing; CI provides ../shared/reference beside the checkout",
        dir.display()
    );
    println!("SKIPPED: {} is missing", dir.display());
    None
}

/// The upstream CRD named like ours (`<plural>.<group>` → `<group>_<plural>.yaml`).
fn upstream(dir: &Path, crd: &Value) -> Value {
    let plural = crd["spec"]["names"]["plural"].as_str().expect("plural");
    let group = crd["spec"]["group"].as_str().expect("group");
    let path = dir.join(format!("{group}_{plural}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether a CRD belongs to Cluster API itself (the kinds `../shared/reference` holds).
fn is_capi(crd: &Value) -> bool {
    matches!(
        crd["spec"]["group"].as_str(),
        Some("cluster.x-k8s.io" | "controlplane.cluster.x-k8s.io")
    )
}

/// The kinds this module's fixtures and upstream checks cover (Cluster API, vSphere, TKR).
const KINDS: [&str; 10] = [
    "Cluster",
    "KubeadmControlPlane",
    "MachineDeployment",
    "MachineSet",
    "Machine",
    "MachineHealthCheck",
    "VSphereCluster",
    "VSphereMachine",
    "VSphereMachineTemplate",
    "TanzuKubernetesRelease",
];

/// The CRDs of [`KINDS`].
fn our_crds() -> Vec<Value> {
    crds()
        .into_iter()
        .filter(|c| KINDS.iter().any(|k| c["spec"]["names"]["kind"] == *k))
        .collect()
}

#[test]
fn every_crd_compiles_and_installs_on_our_api_server() {
    let crds = crds();
    for crd in &crds {
        let name = crd["metadata"]["name"].as_str().expect("name");
        for v in crd["spec"]["versions"].as_array().expect("versions") {
            if let Err(e) = CrdSchema::compile(&v["schema"]["openAPIV3Schema"]) {
                panic!("{name} {}: {e}", v["name"]);
            }
        }
        if let Err(e) = resource_from_crd(crd) {
            panic!("{name} is refused: {e:?}");
        }
    }
    let names: std::collections::BTreeSet<_> = crds.iter().filter_map(|c| c["metadata"]["name"].as_str()).collect();
    assert_eq!(names.len(), crds.len(), "duplicate CRDs");
    assert_eq!(our_crds().len(), KINDS.len(), "all_crds() misses one of {KINDS:?}");
}

#[test]
fn scopes_and_subresources_are_upstreams() {
    for crd in our_crds() {
        let kind = crd["spec"]["names"]["kind"].as_str().expect("kind").to_string();
        let scope = if kind == "TanzuKubernetesRelease" {
            "Cluster"
        } else {
            "Namespaced"
        };
        assert_eq!(crd["spec"]["scope"], scope, "{kind}");
        let v = &crd["spec"]["versions"][0];
        let has_status = v["subresources"]["status"].is_object();
        assert_eq!(has_status, kind != "VSphereMachineTemplate", "{kind} status subresource");
        let has_scale = v["subresources"]["scale"].is_object();
        let scalable = matches!(kind.as_str(), "MachineSet" | "MachineDeployment" | "KubeadmControlPlane");
        assert_eq!(has_scale, scalable, "{kind} scale subresource");
        if scalable {
            assert_eq!(v["subresources"]["scale"]["labelSelectorPath"], ".status.selector", "{kind}");
        }
    }
    let tkr = crd_of("TanzuKubernetesRelease");
    assert_eq!(tkr["spec"]["names"]["shortNames"], serde_json::json!(["tkr"]));
    let columns: Vec<_> = tkr["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(columns, ["Version", "Ready", "Compatible", "Created"]);
}

/// Checks that every property of `ours` exists, with the same type, at the same path of `theirs`.
fn compare(ours: &Value, theirs: &Value, path: &str, errors: &mut Vec<String>) {
    if let (Some(a), Some(b)) = (ours.get("type"), theirs.get("type"))
        && a != b
    {
        errors.push(format!("{path}: type {a} upstream {b}"));
    }
    let int_or_string = |s: &Value| s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if int_or_string(ours) != int_or_string(theirs) {
        errors.push(format!("{path}: int-or-string differs from upstream"));
    }
    let preserves = theirs.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    for (name, sub) in ours.get("properties").and_then(Value::as_object).into_iter().flatten() {
        match theirs.get("properties").and_then(|p| p.get(name)) {
            Some(t) => compare(sub, t, &format!("{path}.{name}"), errors),
            None if preserves => {}
            None => errors.push(format!("{path}.{name}: not in the upstream schema")),
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = ours.get(key).filter(|s| s.is_object()) {
            match theirs.get(key).filter(|s| s.is_object()) {
                Some(t) => compare(sub, t, &format!("{path}[{key}]"), errors),
                None => errors.push(format!("{path}: {key} not in the upstream schema")),
            }
        }
    }
}

#[test]
fn capi_property_names_exist_in_upstream_v1beta1() {
    let Some(dir) = reference_dir() else { return };
    let mut checked = 0;
    for crd in crds().into_iter().filter(is_capi) {
        let theirs = upstream(&dir, &crd);
        let name = crd["metadata"]["name"].as_str().expect("name").to_string();
        let ours = version(&crd, "v1beta1").expect("our v1beta1");
        let their_version = version(&theirs, "v1beta1").unwrap_or_else(|| panic!("{name}: upstream has no v1beta1"));
        let mut errors = Vec::new();
        compare(
            &ours["schema"]["openAPIV3Schema"],
            &their_version["schema"]["openAPIV3Schema"],
            &name,
            &mut errors,
        );
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn capi_names_and_printer_columns_are_upstreams() {
    let Some(dir) = reference_dir() else { return };
    for crd in crds().into_iter().filter(is_capi) {
        let theirs = upstream(&dir, &crd);
        let name = crd["metadata"]["name"].as_str().expect("name").to_string();
        for key in ["shortNames", "categories", "kind", "plural", "singular", "listKind"] {
            let ours = &crd["spec"]["names"][key];
            if !ours.is_null() {
                assert_eq!(ours, &theirs["spec"]["names"][key], "{name} names.{key}");
            }
        }
        assert_eq!(crd["spec"]["scope"], theirs["spec"]["scope"], "{name} scope");
        let ours = version(&crd, "v1beta1").expect("our v1beta1");
        let their_version = version(&theirs, "v1beta1").expect("upstream v1beta1");
        assert_eq!(ours["subresources"], their_version["subresources"], "{name} subresources");
        assert_eq!(
            ours["additionalPrinterColumns"], their_version["additionalPrinterColumns"],
            "{name} printer columns"
        );
    }
}

/// Deserializes `obj` as `K` and serializes it back.
fn round_trip<K: DeserializeOwned + Serialize>(obj: &Value) -> Value {
    let typed: K = serde_json::from_value(obj.clone()).unwrap_or_else(|e| panic!("{}: {e}", obj["kind"]));
    serde_json::to_value(&typed).expect("serializes")
}

#[test]
fn a_realistic_object_of_every_kind_round_trips_and_validates() {
    let fixtures = fixtures::all();
    let kinds: Vec<_> = fixtures.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, KINDS, "one fixture per kind");
    let reference = reference_dir();
    for (kind, obj) in fixtures {
        let back = match kind {
            "Cluster" => round_trip::<capi::Cluster>(&obj),
            "KubeadmControlPlane" => round_trip::<capi::KubeadmControlPlane>(&obj),
            "MachineDeployment" => round_trip::<capi::MachineDeployment>(&obj),
            "MachineSet" => round_trip::<capi::MachineSet>(&obj),
            "Machine" => round_trip::<capi::Machine>(&obj),
            "MachineHealthCheck" => round_trip::<capi::MachineHealthCheck>(&obj),
            "VSphereCluster" => round_trip::<vsphere::VSphereCluster>(&obj),
            "VSphereMachine" => round_trip::<vsphere::VSphereMachine>(&obj),
            "VSphereMachineTemplate" => round_trip::<vsphere::VSphereMachineTemplate>(&obj),
            "TanzuKubernetesRelease" => round_trip::<tkr::TanzuKubernetesRelease>(&obj),
            other => panic!("no type for {other}"),
        };
        assert_eq!(back, obj, "{kind} does not round-trip");

        let crd = crd_of(kind);
        let schema = CrdSchema::compile(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).expect("compiles");
        let errors = schema.validate(&obj);
        assert!(errors.is_empty(), "{kind} invalid under our schema: {errors:?}");
        let mut pruned = obj.clone();
        let removed = schema.prune(&mut pruned);
        assert!(removed.is_empty(), "{kind}: our schema prunes {removed:?}");

        if let Some(dir) = reference.as_deref().filter(|_| is_capi(&crd)) {
            let theirs = upstream(dir, &crd);
            let their_schema = &version(&theirs, "v1beta1").expect("upstream v1beta1")["schema"]["openAPIV3Schema"];
            let schema = CrdSchema::compile(their_schema).expect("upstream compiles");
            let errors = schema.validate(&obj);
            assert!(errors.is_empty(), "{kind} invalid under upstream v1beta1: {errors:?}");
            let mut pruned = obj.clone();
            let removed = schema.prune(&mut pruned);
            assert!(removed.is_empty(), "{kind}: upstream v1beta1 prunes {removed:?}");
        }
    }
}

#[test]
fn all_crds_lists_cluster_first_and_every_group() {
    let crds = crds();
    assert_eq!(crds[0]["metadata"]["name"], "clusters.cluster.x-k8s.io");
    let groups: std::collections::BTreeSet<_> = crds.iter().filter_map(|c| c["spec"]["group"].as_str()).collect();
    for group in [
        "cluster.x-k8s.io",
        "controlplane.cluster.x-k8s.io",
        "infrastructure.cluster.x-k8s.io",
        "run.tanzu.vmware.com",
    ] {
        assert!(groups.contains(group), "no CRD of {group}");
    }
}
