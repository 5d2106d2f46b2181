//! Tests of server-side apply and managedFields bookkeeping.

use super::*;
use serde_json::json;

fn keys(path: &str) -> Option<Vec<String>> {
    let k: &[&str] = match path {
        "spec.containers" | "spec.template.spec.containers" => &["name"],
        "spec.template.spec.containers.ports" => &["containerPort", "protocol"],
        "metadata.finalizers" => &[],
        _ => return None,
    };
    Some(k.iter().map(|s| s.to_string()).collect())
}

fn t(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}}
    })
}

fn do_apply(live: Option<&Value>, applied: &Value, manager: &str, force: bool) -> Result<Value, ApplyError> {
    apply(live, applied, manager, force, "apps/v1", t(0), &keys).map(|o| o.object)
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

#[test]
fn create_via_apply_records_managed_fields() {
    let applied = deployment(2, json!([{"name": "app", "image": "app:1"}]));
    let obj = do_apply(None, &applied, "ctl", false).expect("create succeeds");
    assert_eq!(obj["spec"], applied["spec"]);
    let managed = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    assert_eq!(managed.len(), 1);
    assert_eq!(
        managed[0],
        json!({
            "manager": "ctl", "operation": "Apply", "apiVersion": "apps/v1",
            "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}}}
            }
        })
    );
}

#[test]
fn reapply_removes_omitted_fields_but_keeps_foreign_ones() {
    let mut applied = deployment(2, json!([{"name": "app", "image": "app:1"}, {"name": "side", "image": "s:1"}]));
    applied["metadata"]["labels"]["extra"] = json!("x");
    let live = do_apply(None, &applied, "ctl", false).expect("create");
    // Another writer adds an annotation and a label.
    let mut edited = live.clone();
    edited["metadata"]["annotations"] = json!({"note": "keep"});
    edited["metadata"]["labels"]["team"] = json!("ops");
    record_update(Some(&live), &mut edited, "kubectl-edit", "Update", "apps/v1", t(1), None, &keys);
    let second = deployment(2, json!([{"name": "app", "image": "app:2"}]));
    let obj = do_apply(Some(&edited), &second, "ctl", false).expect("re-apply");
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web", "team": "ops"}));
    assert_eq!(obj["metadata"]["annotations"], json!({"note": "keep"}));
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "app:2"}])
    );
    let fields = &entry(&obj, "ctl").expect("applier entry")["fieldsV1"];
    assert!(fields["f:metadata"]["f:labels"].get("f:extra").is_none());
}

#[test]
fn conflicting_managers_and_force_takeover() {
    let live = do_apply(None, &deployment(2, json!([{"name": "app", "image": "a"}])), "alice", false).expect("create");
    let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let err = do_apply(Some(&live), &bob, "bob", false).expect_err("must conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );
    assert_eq!(err.http_status(), 409);
    match &err {
        ApplyError::Conflict { conflicts } => {
            assert_eq!(conflicts[0].field, ".spec.replicas");
            assert_eq!(conflicts[0].cause_message(), "conflict with \"alice\"");
        }
        other => panic!("unexpected {other}"),
    }
    // Same value: shared ownership, no conflict.
    let same = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    let shared = do_apply(Some(&live), &same, "bob", false).expect("same value is fine");
    assert!(entry(&shared, "alice").is_some_and(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_some()));
    // Force moves ownership.
    let forced = do_apply(Some(&live), &bob, "bob", true).expect("force wins");
    assert_eq!(forced["spec"]["replicas"], 5);
    let alice = entry(&forced, "alice").expect("alice keeps other fields");
    assert!(alice["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert!(alice["fieldsV1"]["f:spec"].get("f:template").is_some());
    assert_eq!(
        entry(&forced, "bob").map(|e| &e["fieldsV1"]),
        Some(&json!({"f:spec": {"f:replicas": {}}}))
    );
    // Alice re-applying without replicas does not remove bob's field.
    let alice_again = deployment(2, json!([{"name": "app", "image": "a"}]));
    let mut without = alice_again.clone();
    if let Some(spec) = without["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let obj = do_apply(Some(&forced), &without, "alice", false).expect("no conflict");
    assert_eq!(obj["spec"]["replicas"], 5);
}

#[test]
fn conflicts_name_update_managers_with_version() {
    let created = deployment(1, json!([{"name": "app", "image": "a"}]));
    let mut obj = created.clone();
    record_update(None, &mut obj, "kubectl-client-side-apply", "Update", "apps/v1", t(0), None, &keys);
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "b"}]}}}});
    let err = do_apply(Some(&obj), &applied, "ssa", false).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"app\"].image"
    );
}

#[test]
fn record_update_merges_entries_and_moves_ownership() {
    let mut obj = deployment(1, json!([{"name": "app", "image": "a"}]));
    record_update(None, &mut obj, "creator", "Update", "apps/v1", t(0), None, &keys);
    let mut scaled = obj.clone();
    scaled["spec"]["replicas"] = json!(4);
    record_update(Some(&obj), &mut scaled, "scaler", "Update", "apps/v1", t(5), None, &keys);
    let mut again = scaled.clone();
    again["spec"]["replicas"] = json!(6);
    record_update(Some(&scaled), &mut again, "scaler", "Update", "apps/v1", t(9), None, &keys);
    let managed = again["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    assert_eq!(managed.len(), 2, "one entry per manager: {managed:?}");
    let scaler = entry(&again, "scaler").expect("scaler entry");
    assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(scaler["time"], "2023-11-14T22:13:29Z");
    let creator = entry(&again, "creator").expect("creator entry");
    assert!(creator["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    // The creator's set marks added maps and list items with ".".
    assert_eq!(creator["fieldsV1"]["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    // Removing a field drops it from its owner.
    let mut trimmed = again.clone();
    if let Some(labels) = trimmed["metadata"]["labels"].as_object_mut() {
        labels.remove("app");
    }
    record_update(Some(&again), &mut trimmed, "other", "Update", "apps/v1", t(10), None, &keys);
    let creator = entry(&trimmed, "creator").expect("creator entry");
    assert!(creator["fieldsV1"]["f:metadata"]["f:labels"].get("f:app").is_none());
    assert!(entry(&trimmed, "other").is_none(), "a manager that only removed owns nothing");
}

#[test]
fn status_subresource_entries_are_separate() {
    let obj = deployment(1, json!([]));
    let mut with_status = obj.clone();
    with_status["status"] = json!({"readyReplicas": 1});
    record_update(
        Some(&obj),
        &mut with_status,
        "controller",
        "Update",
        "apps/v1",
        t(0),
        Some("status"),
        &keys,
    );
    let e = entry(&with_status, "controller").expect("status entry");
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}}}));
}

#[test]
fn unmanaged_objects_get_before_first_apply() {
    let live = deployment(1, json!([{"name": "app", "image": "a"}]));
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let err = do_apply(Some(&live), &applied, "ssa", false).expect_err("placeholder owns replicas");
    assert!(
        err.to_string().contains("\"before-first-apply\" using apps/v1: .spec.replicas"),
        "{err}"
    );
}

#[test]
fn invalid_requests_are_rejected() {
    let applied = deployment(1, json!([]));
    assert!(matches!(do_apply(None, &applied, "", false), Err(ApplyError::Invalid(_))));
    assert!(matches!(do_apply(None, &json!([1]), "m", false), Err(ApplyError::Invalid(_))));
    let mut with_managed = applied.clone();
    with_managed["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    assert!(matches!(do_apply(None, &with_managed, "m", false), Err(ApplyError::Invalid(_))));
}

#[test]
fn fields_of_encodes_sets_keys_and_strips_identity() {
    let obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x", "uid": "u", "resourceVersion": "3", "finalizers": ["a/b"], "labels": {}},
        "spec": {"template": {"spec": {"containers": [
            {"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}], "args": ["-v"]}
        ]}}}
    });
    assert_eq!(
        fields_of(&obj, &keys),
        json!({
            "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}, "f:labels": {}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                ".": {}, "f:args": {}, "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                    ".": {}, "f:containerPort": {}, "f:protocol": {}
                }}
            }}}}}
        })
    );
}

#[test]
fn set_items_are_pruned_individually() {
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b"]}});
    let live = do_apply(None, &first, "m", false).expect("create");
    let mut other = live.clone();
    other["metadata"]["finalizers"] = json!(["a", "b", "z"]);
    record_update(Some(&live), &mut other, "ctrl", "Update", "v1", t(1), None, &keys);
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a"]}});
    let obj = do_apply(Some(&other), &second, "m", false).expect("re-apply");
    assert_eq!(obj["metadata"]["finalizers"], json!(["a", "z"]));
}
