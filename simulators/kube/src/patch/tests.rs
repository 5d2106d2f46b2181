//! Tests of the patch module.

use super::*;
use serde_json::json;

fn smp(kind: (&str, &str), original: Value, patch: Value) -> Value {
    match strategic_merge_patch(&original, &patch, &BuiltinKind::new(kind.0, kind.1)) {
        Ok(v) => v,
        Err(e) => panic!("strategic merge patch failed: {e}"),
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default()
}

const POD: (&str, &str) = ("", "Pod");
const DEPLOYMENT: (&str, &str) = ("apps", "Deployment");

fn two_container_pod() -> Value {
    json!({
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": [
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "proxy:1"}
        ], "tolerations": [{"key": "a", "operator": "Exists"}]}
    })
}

#[test]
fn content_types_parse_with_parameters() {
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json; charset=utf-8"),
        Some(PatchType::StrategicMergePatch)
    );
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Some(PatchType::JsonPatch)
    );
    assert_eq!(
        PatchType::from_content_type("Application/Merge-Patch+JSON"),
        Some(PatchType::MergePatch)
    );
    assert_eq!(
        PatchType::from_content_type("application/apply-patch+yaml;charset=utf-8"),
        Some(PatchType::ApplyPatch)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(PatchType::ApplyPatch.content_type(), "application/apply-patch+yaml");
}

#[test]
fn merge_patch_replaces_lists_and_null_deletes() {
    let out = json_merge_patch(
        &two_container_pod(),
        &json!({"metadata": {"labels": {"tier": null, "new": "x"}}, "spec": {"containers": [{"name": "only"}]}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "x"}));
    assert_eq!(names(&out["spec"]["containers"]), vec!["only"]);
}

#[test]
fn json_patch_adds_and_removes() {
    let out = json_patch(
        &two_container_pod(),
        &json!([
            {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
            {"op": "remove", "path": "/spec/containers/1"},
            {"op": "test", "path": "/spec/containers/0/image", "value": "app:1"}
        ]),
    )
    .expect("valid patch applies");
    assert_eq!(out["metadata"]["labels"]["env"], "prod");
    assert_eq!(names(&out["spec"]["containers"]), vec!["app"]);
}

#[test]
fn json_patch_test_failure_names_the_operation() {
    let err = json_patch(
        &two_container_pod(),
        &json!([
            {"op": "replace", "path": "/metadata/name", "value": "x"},
            {"op": "test", "path": "/spec/containers/0/image", "value": "app:2"}
        ]),
    )
    .expect_err("test op must fail");
    match err {
        PatchError::JsonPatchFailed { operation, path, .. } => {
            assert_eq!(operation, 1);
            assert_eq!(path, "/spec/containers/0/image");
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn json_patch_rejects_missing_paths_and_bad_documents() {
    let missing = json_patch(&json!({"a": 1}), &json!([{"op": "remove", "path": "/b"}]));
    assert!(matches!(missing, Err(PatchError::JsonPatchFailed { operation: 0, .. })));
    assert_eq!(missing.map_err(|e| e.http_status()).err(), Some(422));
    let bad = json_patch(&json!({"a": 1}), &json!({"op": "remove", "path": "/a"}));
    assert!(matches!(bad, Err(PatchError::InvalidJsonPatch { .. })));
    let bad_op = json_patch(&json!({"a": 1}), &json!([{"op": "frobnicate", "path": "/a"}]));
    assert!(matches!(bad_op, Err(PatchError::InvalidJsonPatch { .. })));
}

#[test]
fn cordon_sets_unschedulable_and_keeps_taints() {
    let node = json!({
        "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.0.0.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    });
    let out = smp(("", "Node"), node.clone(), json!({"spec": {"unschedulable": true}}));
    assert_eq!(out["spec"]["unschedulable"], true);
    assert_eq!(out["spec"]["taints"], node["spec"]["taints"]);
    assert_eq!(out["status"], node["status"]);
    // taints carry no patch strategy: a patch list replaces them.
    let out = smp(
        ("", "Node"),
        node,
        json!({"spec": {"taints": [{"key": "drain", "effect": "NoExecute"}]}}),
    );
    assert_eq!(out["spec"]["taints"], json!([{"key": "drain", "effect": "NoExecute"}]));
}

#[test]
fn container_image_changes_by_name() {
    let out = smp(
        POD,
        two_container_pod(),
        json!({"spec": {"containers": [{"name": "sidecar", "image": "proxy:2"}]}}),
    );
    let containers = &out["spec"]["containers"];
    assert_eq!(names(containers), vec!["app", "sidecar"]);
    assert_eq!(containers[0]["image"], "app:1");
    assert_eq!(containers[0]["ports"], json!([{"containerPort": 80}]));
    assert_eq!(containers[1]["image"], "proxy:2");
    // tolerations are untouched when not patched, replaced when patched.
    assert_eq!(out["spec"]["tolerations"][0]["key"], "a");
    let out = smp(POD, two_container_pod(), json!({"spec": {"tolerations": [{"key": "b"}]}}));
    assert_eq!(out["spec"]["tolerations"], json!([{"key": "b"}]));
}

#[test]
fn nested_template_lists_merge_by_key() {
    let deploy = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 80, "name": "http"}]}
    ]}}}});
    let out = smp(
        DEPLOYMENT,
        deploy,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "3"}], "ports": [{"containerPort": 443}]}
        ]}}}}),
    );
    let c = &out["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "a:1");
    assert_eq!(c["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]));
    assert_eq!(c["ports"].as_array().map(Vec::len), Some(2));
    assert_eq!(out["spec"]["replicas"], 1);
}

#[test]
fn patch_delete_removes_a_container() {
    let out = smp(
        POD,
        two_container_pod(),
        json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}),
    );
    assert_eq!(names(&out["spec"]["containers"]), vec!["app"]);
    let err = strategic_merge_patch(
        &two_container_pod(),
        &json!({"spec": {"containers": [{"$patch": "delete"}]}}),
        &BuiltinKind::new("", "Pod"),
    );
    assert!(matches!(err, Err(PatchError::MissingMergeKey { ref key, .. }) if key == "name"));
}

#[test]
fn patch_replace_on_lists_and_maps() {
    let out = smp(
        POD,
        two_container_pod(),
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "s:1"}]}}),
    );
    assert_eq!(out["spec"]["containers"], json!([{"name": "solo", "image": "s:1"}]));
    let out = smp(
        POD,
        two_container_pod(),
        json!({"metadata": {"labels": {"$patch": "replace", "only": "me"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));
    let out = smp(POD, two_container_pod(), json!({"metadata": {"labels": {"$patch": "delete"}}}));
    assert_eq!(out["metadata"]["labels"], json!({}));
    let err = strategic_merge_patch(
        &two_container_pod(),
        &json!({"metadata": {"labels": {"$patch": "explode"}}}),
        &BuiltinKind::new("", "Pod"),
    );
    assert!(matches!(err, Err(PatchError::UnknownDirective { .. })));
}

#[test]
fn set_element_order_orders_and_disappears() {
    // What kubectl apply sends when adding container "c" and moving "sidecar" first.
    let out = smp(
        POD,
        two_container_pod(),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}, {"name": "c"}],
            "containers": [{"name": "c", "image": "c:1",
                            "$setElementOrder/env": [{"name": "X"}], "env": [{"name": "X", "value": "1"}]}]
        }}),
    );
    assert_eq!(names(&out["spec"]["containers"]), vec!["sidecar", "app", "c"]);
    assert_eq!(
        out["spec"]["containers"][2],
        json!({"name": "c", "image": "c:1", "env": [{"name": "X", "value": "1"}]})
    );
    assert!(!out.to_string().contains('$'), "directive leaked: {out}");
    // Server-only elements go before the first ordered element that follows them live
    // (live a,s,b; s precedes b live, so it lands before b), as apimachinery does.
    let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "s"}, {"name": "b"}]}});
    let out = smp(
        POD,
        live,
        json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
    );
    assert_eq!(names(&out["spec"]["containers"]), vec!["s", "b", "a"]);
    // A patch list out of step with the order list is rejected.
    let err = strategic_merge_patch(
        &two_container_pod(),
        &json!({"spec": {"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "zzz"}]}}),
        &BuiltinKind::new("", "Pod"),
    );
    assert!(matches!(err, Err(PatchError::ElementOrder { ref field, .. }) if field == "containers"));
}

#[test]
fn retain_keys_clears_other_strategy_fields() {
    let deploy = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let out = smp(
        DEPLOYMENT,
        deploy.clone(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    let err = strategic_merge_patch(
        &deploy,
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
        &BuiltinKind::new("apps", "Deployment"),
    );
    assert!(matches!(err, Err(PatchError::RetainKeys { ref key, .. }) if key == "rollingUpdate"));
}

#[test]
fn finalizers_union_and_delete_from_primitive_list() {
    let obj = json!({"metadata": {"finalizers": ["a", "b"]}});
    let out = smp(POD, obj.clone(), json!({"metadata": {"finalizers": ["b", "c"]}}));
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    // A lone new item goes first, exactly like apimachinery's ordering.
    let out = smp(POD, obj.clone(), json!({"metadata": {"finalizers": ["z"]}}));
    assert_eq!(out["metadata"]["finalizers"], json!(["z", "a", "b"]));
    let out = smp(
        POD,
        obj,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "$setElementOrder/finalizers": ["b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    assert!(!out.to_string().contains('$'));
}

#[test]
fn owner_references_merge_by_uid_and_nulls_delete() {
    let obj = json!({"metadata": {"labels": {"a": "1"}, "ownerReferences": [{"uid": "u1", "name": "x"}]}});
    let out = smp(
        ("apps", "ReplicaSet"),
        obj,
        json!({"metadata": {"labels": {"a": null, "ghost": null},
                            "ownerReferences": [{"uid": "u2", "name": "y"}]}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
    let uids: Vec<&str> = out["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["uid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(uids, vec!["u2", "u1"]);
}

#[test]
fn conditions_merge_by_type() {
    let node = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}
    ]}});
    let out = smp(
        ("", "Node"),
        node,
        json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Down"}]}}),
    );
    let conditions = &out["status"]["conditions"];
    assert_eq!(conditions[0], json!({"type": "Ready", "status": "False", "reason": "Down"}));
    assert_eq!(conditions[1]["type"], "MemoryPressure");
}

#[test]
fn custom_resources_and_bad_shapes_are_rejected() {
    let err = strategic_merge_patch(&json!({}), &json!({}), &BuiltinKind::new("cluster.x-k8s.io", "Cluster"));
    assert!(matches!(err, Err(PatchError::UnsupportedKind { .. })));
    assert_eq!(err.map_err(|e| e.http_status()).err(), Some(415));
    let err = strategic_merge_patch(&json!({}), &json!([1]), &BuiltinKind::new("", "Pod"));
    assert!(matches!(err, Err(PatchError::WrongType { expected: "an object", .. })));
    let err = strategic_merge_patch(
        &json!({"metadata": {"finalizers": ["a"]}}),
        &json!({"metadata": {"finalizers": [{"x": 1}]}}),
        &BuiltinKind::new("", "Pod"),
    );
    assert!(matches!(err, Err(PatchError::WrongType { .. })));
}
