//! The API semantics clients rely on, proven through kube-rs clients (typed and dynamic) and the
//! real kubectl: ownerReference garbage collection, finalizers, namespace and CRD cleanup,
//! generation and the status subresource, generateName, server-side apply conflicts, and a
//! server that goes offline, comes back and is wiped. Selectors and watches are in
//! `api_semantics_watch.rs`.

mod support;

use std::fmt::Debug;
use std::time::Duration;

use drdrill_kube_sim::{ApiServer, ServerOptions};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::Env;

const WIDGETS_CRD: &str = include_str!("fixtures/widgets-crd.yaml");
const ROLLOUTS_CRD: &str = include_str!("fixtures/rollouts-crd.yaml");
const HOLD: &str = "drill.example.com/hold";

async fn start() -> (ApiServer, Client, tempfile::TempDir) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: "semantics".into(),
        ..Default::default()
    })
    .await
    .expect("server");
    let (client, dir) = support::kube_client(&server).await;
    (server, client, dir)
}

fn cm(meta: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": meta, "data": {"k": "v"}})).expect("configmap")
}

fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Value {
    json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "name": owner.meta().name,
        "uid": owner.meta().uid,
        "blockOwnerDeletion": true,
    })
}

/// The HTTP status of an API error (panics on transport errors).
fn status_of(err: &kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

const PATIENCE: Duration = Duration::from_secs(10);

/// Waits until `name` is gone (404), as a client waiting on asynchronous cleanup would.
async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while let Some(obj) = api.get_opt(name).await.expect("get") {
        assert!(tokio::time::Instant::now() < deadline, "{name} still exists: {:?}", obj.meta());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `name` satisfies `ok`, returning it.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, ok: impl Fn(&K) -> bool) -> K
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let obj = api.get(name).await.expect("get");
        if ok(&obj) {
            return obj;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name}: {what}; last seen {:?}", obj.meta());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn drop_finalizers() -> Patch<Value> {
    Patch::Merge(json!({"metadata": {"finalizers": null}}))
}

async fn install_widgets(client: &Client) -> Api<DynamicObject> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_yaml::from_str(WIDGETS_CRD).expect("fixture");
    crds.create(&PostParams::default(), &crd).await.expect("CRD created");
    Api::namespaced_with(client.clone(), "default", &widget_resource())
}

fn widget_resource() -> ApiResource {
    ApiResource {
        group: "drill.example.com".into(),
        version: "v1".into(),
        api_version: "drill.example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    }
}

fn widget(meta: Value, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "drill.example.com/v1", "kind": "Widget", "metadata": meta, "spec": spec})).expect("widget")
}

#[tokio::test]
async fn background_deletion_collects_dependents_and_grandchildren() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let owner = cms.create(&pp, &cm(json!({"name": "owner"}))).await.expect("owner");
    let child: Secret =
        serde_json::from_value(json!({"metadata": {"name": "child", "ownerReferences": [owner_ref(&owner)]}})).expect("secret");
    let child = secrets.create(&pp, &child).await.expect("child");
    cms.create(&pp, &cm(json!({"name": "grandchild", "ownerReferences": [owner_ref(&child)]})))
        .await
        .expect("grandchild");
    cms.create(&pp, &cm(json!({"name": "bystander"}))).await.expect("bystander");

    cms.delete("owner", &DeleteParams::background()).await.expect("delete owner");
    assert!(cms.get_opt("owner").await.expect("get").is_none(), "the owner goes at once");
    wait_gone(&secrets, "child").await;
    wait_gone(&cms, "grandchild").await;
    assert!(cms.get_opt("bystander").await.expect("get").is_some(), "unrelated objects stay");
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let owner = cms.create(&pp, &cm(json!({"name": "owner"}))).await.expect("owner");
    cms.create(
        &pp,
        &cm(json!({"name": "held", "finalizers": [HOLD], "ownerReferences": [owner_ref(&owner)]})),
    )
    .await
    .expect("held dependent");
    cms.create(&pp, &cm(json!({"name": "free", "ownerReferences": [owner_ref(&owner)]})))
        .await
        .expect("free dependent");

    let deleted = cms.delete("owner", &DeleteParams::foreground()).await.expect("delete owner");
    assert!(deleted.is_left(), "foreground delete returns the terminating owner");
    let owner = cms.get("owner").await.expect("owner stays while dependents exist");
    assert!(owner.metadata.deletion_timestamp.is_some(), "{:?}", owner.metadata);
    assert!(owner.finalizers().iter().any(|f| f == "foregroundDeletion"), "{:?}", owner.metadata);

    wait_gone(&cms, "free").await;
    let held = wait_for(&cms, "held", "dependent is being deleted", |c| {
        c.metadata.deletion_timestamp.is_some()
    })
    .await;
    assert_eq!(held.finalizers(), [HOLD]);
    let owner = cms.get("owner").await.expect("owner still waits for the held dependent");
    assert!(owner.finalizers().iter().any(|f| f == "foregroundDeletion"));

    cms.patch("held", &PatchParams::default(), &drop_finalizers())
        .await
        .expect("release dependent");
    wait_gone(&cms, "held").await;
    wait_gone(&cms, "owner").await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let owner = cms.create(&pp, &cm(json!({"name": "owner"}))).await.expect("owner");
    let other = cms.create(&pp, &cm(json!({"name": "other"}))).await.expect("other owner");
    cms.create(&pp, &cm(json!({"name": "only-child", "ownerReferences": [owner_ref(&owner)]})))
        .await
        .expect("child");
    cms.create(
        &pp,
        &cm(json!({"name": "shared-child", "ownerReferences": [owner_ref(&owner), owner_ref(&other)]})),
    )
    .await
    .expect("shared child");

    cms.delete("owner", &DeleteParams::orphan()).await.expect("delete owner");
    wait_gone(&cms, "owner").await;
    let only = wait_for(&cms, "only-child", "ownerReference removed", |c| c.owner_references().is_empty()).await;
    assert!(only.metadata.deletion_timestamp.is_none());
    let shared = wait_for(&cms, "shared-child", "deleted owner's reference removed", |c| {
        c.owner_references().len() == 1
    })
    .await;
    assert_eq!(shared.owner_references()[0].name, "other");
    assert_eq!(shared.owner_references()[0].uid, other.uid().expect("uid"));
}

#[tokio::test]
async fn dependents_of_a_missing_owner_are_collected() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "0b5e4a7c-2f1d-4c3e-9a8b-7d6c5b4a3f2e"});
    cms.create(&pp, &cm(json!({"name": "orphaned", "ownerReferences": [ghost.clone()]})))
        .await
        .expect("dependent of a missing owner");
    wait_gone(&cms, "orphaned").await;

    // With one real owner left, only the dangling reference goes.
    let real = cms.create(&pp, &cm(json!({"name": "real"}))).await.expect("real owner");
    cms.create(&pp, &cm(json!({"name": "half", "ownerReferences": [ghost, owner_ref(&real)]})))
        .await
        .expect("dependent of one real owner");
    let half = wait_for(&cms, "half", "dangling reference removed", |c| c.owner_references().len() == 1).await;
    assert_eq!(half.owner_references()[0].name, "real");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_the_last_is_removed() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let (a, b) = ("drill.example.com/a", "drill.example.com/b");
    cms.create(&PostParams::default(), &cm(json!({"name": "held", "finalizers": [a, b]})))
        .await
        .expect("create");

    let deleted = cms.delete("held", &DeleteParams::default()).await.expect("delete");
    let terminating = deleted.left().expect("a held object is returned, not a Status");
    let since = terminating.metadata.deletion_timestamp.clone().expect("deletionTimestamp set");
    let got = cms.get("held").await.expect("still there");
    assert_eq!(got.metadata.deletion_timestamp.as_ref(), Some(&since));
    assert_eq!(got.finalizers(), [a, b]);

    let err = cms
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": [a, b, "drill.example.com/late"]}})),
        )
        .await
        .expect_err("no new finalizers on a terminating object");
    assert_eq!(status_of(&err), (422, "Invalid".to_string()), "{err:?}");
    assert_eq!(cms.get("held").await.expect("get").finalizers(), [a, b]);

    // Deleting again changes nothing.
    cms.delete("held", &DeleteParams::default()).await.expect("delete again");
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": [b]}})),
    )
    .await
    .expect("remove one finalizer");
    let got = cms.get("held").await.expect("held by the other finalizer");
    assert_eq!(
        (got.finalizers(), got.metadata.deletion_timestamp.as_ref()),
        ([b.to_string()].as_slice(), Some(&since))
    );

    cms.patch("held", &PatchParams::default(), &drop_finalizers())
        .await
        .expect("remove the last finalizer");
    wait_gone(&cms, "held").await;
}

#[tokio::test]
async fn namespace_deletion_empties_then_removes_the_namespace() {
    let (_server, client, _dir) = start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).expect("namespace");
    namespaces.create(&PostParams::default(), &ns).await.expect("namespace");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "doomed");
    let pp = PostParams::default();
    cms.create(&pp, &cm(json!({"name": "plain"}))).await.expect("plain");
    cms.create(&pp, &cm(json!({"name": "held", "finalizers": [HOLD]})))
        .await
        .expect("held");
    secrets
        .create(&pp, &serde_json::from_value(json!({"metadata": {"name": "s"}})).expect("secret"))
        .await
        .expect("secret");
    let survivor: Api<ConfigMap> = Api::namespaced(client, "default");
    survivor.create(&pp, &cm(json!({"name": "plain"}))).await.expect("other namespace");

    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = namespaces.get("doomed").await.expect("namespace waits for its content");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Terminating"));
    wait_gone(&cms, "plain").await;
    wait_gone(&secrets, "s").await;
    let held = wait_for(&cms, "held", "content is being deleted", |c| {
        c.metadata.deletion_timestamp.is_some()
    })
    .await;
    assert_eq!(held.finalizers(), [HOLD]);

    let err = cms
        .create(&pp, &cm(json!({"name": "late"})))
        .await
        .expect_err("no new content in a terminating namespace");
    assert_eq!(status_of(&err), (403, "Forbidden".to_string()), "{err:?}");
    let still = namespaces.get("doomed").await.expect("namespace still terminating");
    assert_eq!(still.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));

    cms.patch("held", &PatchParams::default(), &drop_finalizers())
        .await
        .expect("release");
    wait_gone(&cms, "held").await;
    wait_gone(&namespaces, "doomed").await;
    assert!(
        survivor.get_opt("plain").await.expect("get").is_some(),
        "other namespaces untouched"
    );
}

#[tokio::test]
async fn crd_deletion_removes_custom_objects_and_stops_serving() {
    let (_server, client, _dir) = start().await;
    let widgets = install_widgets(&client).await;
    let system: Api<DynamicObject> = Api::namespaced_with(client.clone(), "kube-system", &widget_resource());
    let pp = PostParams::default();
    widgets
        .create(&pp, &widget(json!({"name": "w1"}), json!({"size": "small"})))
        .await
        .expect("w1");
    system
        .create(&pp, &widget(json!({"name": "w2"}), json!({"size": "large"})))
        .await
        .expect("w2");
    widgets
        .create(
            &pp,
            &widget(json!({"name": "held", "finalizers": [HOLD]}), json!({"size": "small"})),
        )
        .await
        .expect("held");

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("widgets.drill.example.com", &DeleteParams::default())
        .await
        .expect("delete CRD");
    wait_gone(&widgets, "w1").await;
    wait_gone(&system, "w2").await;
    let held = wait_for(&widgets, "held", "custom object is being deleted", |w| {
        w.metadata.deletion_timestamp.is_some()
    })
    .await;
    assert_eq!(held.finalizers(), [HOLD]);
    let crd = crds.get("widgets.drill.example.com").await.expect("CRD waits for its objects");
    assert!(crd.metadata.deletion_timestamp.is_some());

    widgets
        .patch("held", &PatchParams::default(), &drop_finalizers())
        .await
        .expect("release");
    wait_gone(&crds, "widgets.drill.example.com").await;
    let all: Api<DynamicObject> = Api::all_with(client, &widget_resource());
    let err = all.list(&ListParams::default()).await.expect_err("resource no longer served");
    assert_eq!(status_of(&err).0, 404, "{err:?}");
    let err = widgets
        .create(&pp, &widget(json!({"name": "w3"}), json!({"size": "small"})))
        .await
        .expect_err("no creates either");
    assert_eq!(status_of(&err).0, 404, "{err:?}");
}

#[tokio::test]
async fn generation_follows_spec_and_status_is_its_own_subresource() {
    let (_server, client, _dir) = start().await;
    let widgets = install_widgets(&client).await;
    let pp = PostParams::default();
    let generation = |w: &DynamicObject| w.metadata.generation;
    let merge = |v: Value| Patch::Merge(v);
    let w = widgets
        .create(&pp, &widget(json!({"name": "w"}), json!({"size": "small", "replicas": 1})))
        .await
        .expect("create");
    assert_eq!(generation(&w), Some(1));

    let w = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &merge(json!({"metadata": {"labels": {"tier": "gold"}}})),
        )
        .await
        .expect("label");
    assert_eq!(generation(&w), Some(1), "labels are not spec");
    let w = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &merge(json!({"status": {"replicas": 5}, "spec": {"replicas": 7}})),
        )
        .await
        .expect("status patch");
    assert_eq!(generation(&w), Some(1), "status is not spec");
    assert_eq!(
        (w.data["status"]["replicas"].as_i64(), w.data["spec"]["replicas"].as_i64()),
        (Some(5), Some(1))
    );

    let w = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &merge(json!({"spec": {"replicas": 2}, "status": {"replicas": 0}})),
        )
        .await
        .expect("spec patch");
    assert_eq!(generation(&w), Some(2), "spec changed");
    assert_eq!(
        (w.data["status"]["replicas"].as_i64(), w.data["spec"]["replicas"].as_i64()),
        (Some(5), Some(2))
    );

    let mut desired = w.clone();
    desired.data["spec"]["size"] = json!("large");
    desired.data["status"]["replicas"] = json!(9);
    let w = widgets.replace("w", &pp, &desired).await.expect("replace");
    assert_eq!(generation(&w), Some(3));
    assert_eq!(
        (w.data["spec"]["size"].as_str(), w.data["status"]["replicas"].as_i64()),
        (Some("large"), Some(5))
    );

    let mut desired = w.clone();
    desired.data["spec"]["size"] = json!("small");
    desired.data["status"]["replicas"] = json!(6);
    desired.metadata.labels = None;
    let w = widgets.replace_status("w", &pp, &desired).await.expect("replace status");
    assert_eq!(generation(&w), Some(3));
    assert_eq!(
        (w.data["spec"]["size"].as_str(), w.data["status"]["replicas"].as_i64()),
        (Some("large"), Some(6))
    );
    assert_eq!(
        w.labels().get("tier").map(String::as_str),
        Some("gold"),
        "status writes keep metadata"
    );

    // A write that changes nothing leaves generation and resourceVersion alone.
    let same = widgets
        .patch("w", &PatchParams::default(), &merge(json!({"spec": {"size": "large"}})))
        .await
        .expect("no-op");
    assert_eq!((generation(&same), same.resource_version()), (Some(3), w.resource_version()));
}

#[tokio::test]
async fn generate_name_appends_five_random_characters() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let template = cm(json!({"generateName": "drill-"}));
    let first = cms.create(&PostParams::default(), &template).await.expect("first");
    let second = cms.create(&PostParams::default(), &template).await.expect("second");
    for made in [&first, &second] {
        let name = made.name_any();
        let suffix = name.strip_prefix("drill-").expect("prefix kept");
        assert_eq!(suffix.len(), 5, "{name}");
        assert!(suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{name}");
        assert_eq!(made.metadata.generate_name.as_deref(), Some("drill-"));
        assert!(cms.get_opt(&name).await.expect("get").is_some());
    }
    assert_ne!(first.name_any(), second.name_any());
}

const ROLLOUT_V1: &str = r#"apiVersion: drill.example.com/v1
kind: Rollout
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  paused: true
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
      - name: sidecar
        image: registry.example.com/proxy:1.0
"#;

const ROLLOUT_V2: &str = r#"apiVersion: drill.example.com/v1
kind: Rollout
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
"#;

const ROLLOUT_INTRUDER: &str = r#"apiVersion: drill.example.com/v1
kind: Rollout
metadata:
  name: web
  namespace: default
spec:
  template:
    spec:
      containers:
      - name: app
        image: registry.example.com/app:2.0
"#;

async fn rollout(env: &Env) -> Value {
    let json = env
        .kubectl(&["get", "rollout", "web", "-o", "json", "--show-managed-fields"])
        .await
        .expect_ok("get rollout");
    serde_json::from_str(&json).expect("kubectl printed JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_prunes_and_detects_conflicts() {
    let Some(env) = Env::start("admin@semantics").await else {
        return;
    };
    env.kubectl_stdin(&["apply", "-f", "-"], ROLLOUTS_CRD).await.expect_ok("apply CRD");
    env.kubectl_stdin(&["apply", "--server-side", "-f", "-"], ROLLOUT_V1)
        .await
        .expect_ok("first apply");
    let first = rollout(&env).await;
    assert_eq!(first["spec"]["paused"], true);
    assert_eq!(first["spec"]["template"]["spec"]["containers"].as_array().map(Vec::len), Some(2));

    env.kubectl_stdin(&["apply", "--server-side", "-f", "-"], ROLLOUT_V2)
        .await
        .expect_ok("second apply");
    let second = rollout(&env).await;
    assert!(
        second["spec"].get("paused").is_none(),
        "a field dropped from the manifest is removed: {second}"
    );
    let names: Vec<&str> = second["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["app"], "{second}");
    assert_eq!(second["spec"]["replicas"], 2);

    let conflict = env
        .kubectl_stdin(&["apply", "--server-side", "--field-manager=intruder", "-f", "-"], ROLLOUT_INTRUDER)
        .await;
    assert!(!conflict.ok, "a second manager may not take an owned field: {conflict:?}");
    assert!(
        conflict.stderr.contains("conflict") && conflict.stderr.contains(r#"conflict with "kubectl""#),
        "{}",
        conflict.stderr
    );
    assert!(conflict.stderr.contains(".image"), "{}", conflict.stderr);
    let unchanged = rollout(&env).await;
    assert_eq!(
        unchanged["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/app:1.0"
    );

    env.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", "-"],
        ROLLOUT_INTRUDER,
    )
    .await
    .expect_ok("forced apply");
    let forced = rollout(&env).await;
    assert_eq!(
        forced["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/app:2.0"
    );
    assert_eq!(forced["spec"]["replicas"], 2, "fields the intruder did not apply stay");
    let managers: Vec<&str> = forced["metadata"]["managedFields"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["manager"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        managers.contains(&"intruder") && managers.contains(&"kubectl"),
        "{managers:?} {forced}"
    );

    // The image now belongs to the intruder: the original manager conflicts in turn.
    let back = env.kubectl_stdin(&["apply", "--server-side", "-f", "-"], ROLLOUT_V2).await;
    assert!(!back.ok && back.stderr.contains(r#"conflict with "intruder""#), "{back:?}");
}

#[tokio::test]
async fn offline_server_refuses_then_serves_the_same_objects_and_wipe_empties_it() {
    let (mut server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm(json!({"name": "survivor"})))
        .await
        .expect("create");

    server.go_offline();
    assert!(!server.is_online());
    let offline = tokio::time::timeout(PATIENCE, cms.get("survivor"))
        .await
        .expect("an offline server fails requests promptly");
    assert!(
        matches!(offline, Err(ref e) if !matches!(e, kube::Error::Api(_))),
        "offline requests fail at the transport: {offline:?}"
    );

    server.come_online().await.expect("online again");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let back = loop {
        // A pooled connection cut by going offline may fail once; clients retry.
        match cms.get("survivor").await {
            Ok(obj) => break obj,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still failing: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((back.uid(), back.resource_version()), (created.uid(), created.resource_version()));

    server.wipe();
    assert!(cms.get_opt("survivor").await.expect("get").is_none(), "wipe loses every object");
    let namespaces: Api<Namespace> = Api::all(client);
    let mut names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    names.sort();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    let fresh = cms
        .create(&PostParams::default(), &cm(json!({"name": "survivor"})))
        .await
        .expect("a wiped cluster takes new objects");
    assert_ne!(fresh.uid(), created.uid());
}

#[tokio::test]
async fn namespace_finalize_changes_only_spec_finalizers() {
    let (_server, client, _dir) = start().await;
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "fin", "labels": {"a": "b"}}})).expect("namespace");
    api.create(&PostParams::default(), &ns).await.expect("create");
    let mut body = serde_json::to_value(api.get("fin").await.expect("get")).expect("json");
    body["spec"]["finalizers"] = json!(["kubernetes", "drill.example.com/keep"]);
    body["metadata"]["labels"] = json!({"changed": "yes"});
    let request = http::Request::put("/api/v1/namespaces/fin/finalize")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).expect("bytes"))
        .expect("request");
    client.request_text(request).await.expect("finalize");
    let after = api.get("fin").await.expect("get");
    let finalizers = after.spec.and_then(|s| s.finalizers).unwrap_or_default();
    assert_eq!(finalizers, ["kubernetes", "drill.example.com/keep"]);
    assert_eq!(
        after.metadata.labels.and_then(|l| l.get("a").cloned()),
        Some("b".into()),
        "finalize leaves metadata alone"
    );
}
