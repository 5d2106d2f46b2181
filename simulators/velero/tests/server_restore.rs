//! The restore controller against a real embedded API server and S3: backups written with the
//! crate's format code, restored into a fresh management cluster.

mod support_restore;

use drdrill_apis::capi::{Cluster, KubeadmControlPlane, Machine, MachineDeployment};
use drdrill_apis::velero::{
    BACKUP_NAME_LABEL, BackupPhase, RESTORE_NAME_LABEL, RestorePhase, RestoreSpec, RestoreStatusSpec, SCHEDULE_NAME_LABEL,
};
use drdrill_velero_sim::format::BackupItem;
use drdrill_velero_sim::layout::RestoreFile;
use drdrill_velero_sim::server::RestoreController;
use drdrill_velero_sim::server::restore::NON_RESTORABLE_RESOURCES;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use support_restore::{Env, VELERO_NS, item, live_metadata};

const WC_NS: &str = "tkg-wc";
const CAPI: &str = "cluster.x-k8s.io/v1beta1";

fn owner(kind: &str, name: &str) -> Value {
    json!([{"apiVersion": CAPI, "kind": kind, "name": name, "uid": format!("uid-{name}"), "controller": true, "blockOwnerDeletion": true}])
}

/// A workload cluster as the management cluster held it at backup time: live metadata,
/// ownerReferences, status, the Cluster unpaused.
fn capi_items(ns: &str) -> Vec<BackupItem> {
    let mut cluster = json!({
        "apiVersion": CAPI, "kind": "Cluster",
        "metadata": live_metadata("wc", Some(ns), "uid-wc"),
        "spec": {
            "paused": false,
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": "wc-control-plane", "namespace": ns},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereCluster", "name": "wc", "namespace": ns}
        },
        "status": {"phase": "Provisioned", "infrastructureReady": true, "controlPlaneReady": true}
    });
    cluster["metadata"]["finalizers"] = json!(["cluster.cluster.x-k8s.io"]);
    cluster["metadata"]["labels"] = json!({"tanzuKubernetesRelease": "v1.24.10---vmware.1-tkg.1"});
    let cluster: Cluster = serde_json::from_value(cluster).expect("typed Cluster");

    let mut md = json!({
        "apiVersion": CAPI, "kind": "MachineDeployment",
        "metadata": live_metadata("wc-md-0", Some(ns), "uid-md"),
        "spec": {
            "clusterName": "wc", "replicas": 3,
            "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "wc"}},
            "template": {
                "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "wc"}},
                "spec": {
                    "clusterName": "wc",
                    "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": "wc-md-0"}},
                    "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc-worker"}
                }
            }
        },
        "status": {"replicas": 3, "readyReplicas": 3}
    });
    md["metadata"]["ownerReferences"] = owner("Cluster", "wc");
    let md: MachineDeployment = serde_json::from_value(md).expect("typed MachineDeployment");

    let mut machine = json!({
        "apiVersion": CAPI, "kind": "Machine",
        "metadata": live_metadata("wc-md-0-abcde", Some(ns), "uid-m"),
        "spec": {
            "clusterName": "wc",
            "bootstrap": {"dataSecretName": "wc-md-0-abcde"},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine", "name": "wc-md-0-abcde"},
            "providerID": "vsphere://4201"
        },
        "status": {"phase": "Running", "nodeRef": {"kind": "Node", "name": "wc-md-0-abcde"}}
    });
    machine["metadata"]["ownerReferences"] = owner("MachineSet", "wc-md-0-xyz");
    let machine: Machine = serde_json::from_value(machine).expect("typed Machine");

    let kcp = json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": live_metadata("wc-control-plane", Some(ns), "uid-kcp"),
        "spec": {
            "replicas": 3, "version": "v1.24.10+vmware.1",
            "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc-control-plane"}},
            "kubeadmConfigSpec": {}
        }
    });
    let kcp: KubeadmControlPlane = serde_json::from_value(kcp).expect("typed KubeadmControlPlane");

    let mut secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
        "metadata": live_metadata("wc-kubeconfig", Some(ns), "uid-s"),
        "data": {"value": "a3ViZWNvbmZpZw=="}
    });
    secret["metadata"]["ownerReferences"] = json!([{"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": "wc-control-plane", "uid": "uid-kcp"}]);
    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": live_metadata("wc-addons", Some(ns), "uid-cm"), "data": {"cni": "antrea"}});
    let namespace = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "uid": "uid-ns", "labels": {"team": "platform"}, "annotations": {"owner": "ops"}},
        "status": {"phase": "Active"}
    });
    vec![
        item(CAPI_CLUSTERS, serde_json::to_value(&cluster).expect("json")),
        item("machinedeployments.cluster.x-k8s.io", serde_json::to_value(&md).expect("json")),
        item("machines.cluster.x-k8s.io", serde_json::to_value(&machine).expect("json")),
        item(
            "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
            serde_json::to_value(&kcp).expect("json"),
        ),
        item("secrets", secret),
        item("configmaps", configmap),
        item("namespaces", namespace),
    ]
}

const CAPI_CLUSTERS: &str = "clusters.cluster.x-k8s.io";

/// Objects a restore must never bring back.
fn non_restorable_items() -> Vec<BackupItem> {
    vec![
        item(
            "nodes",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "mgmt-cp-1"}, "spec": {"providerID": "vsphere://1"}}),
        ),
        item(
            "events",
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "wc.1", "namespace": WC_NS},
                   "involvedObject": {"kind": "Cluster", "name": "wc"}, "reason": "Provisioned", "message": "m"}),
        ),
        item(
            "backups.velero.io",
            json!({"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "older", "namespace": VELERO_NS}, "spec": {}}),
        ),
    ]
}

fn from_backup(backup: &str) -> RestoreSpec {
    RestoreSpec {
        backup_name: Some(backup.into()),
        ..Default::default()
    }
}

async fn pass(env: &Env) {
    RestoreController::new(env.ctx.clone()).reconcile_all().await.expect("restore pass");
}

fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_api_backup_comes_back_in_priority_order_paused_and_clean() {
    let env = Env::new().await;
    let mut items = capi_items(WC_NS);
    items.extend(non_restorable_items());
    env.put_backup("my-backup", &items).await;
    env.clock.advance(std::time::Duration::from_secs(60));
    env.create_restore("my-restore", from_backup("my-backup")).await;

    let report = RestoreController::new(env.ctx.clone()).reconcile_all().await.expect("pass");
    assert_eq!(report.updated, ["Restore/my-restore"]);
    assert!(report.created.contains(&"Cluster/tkg-wc/wc".to_string()), "{:?}", report.created);

    let restore = env.restore("my-restore").await;
    let status = restore.status.clone().expect("status");
    assert_eq!(status.phase, Some(RestorePhase::Completed), "{status:?}");
    assert_eq!((status.errors, status.warnings), (0, 0));
    let progress = status.progress.expect("progress");
    // Namespace + 7 items − the namespace item itself (restored by creating the namespace).
    assert_eq!((progress.total_items, progress.items_restored), (7, 7));
    assert!(status.start_timestamp.is_some() && status.completion_timestamp.is_some());
    let excluded = restore.spec.excluded_resources.unwrap_or_default();
    for r in NON_RESTORABLE_RESOURCES {
        assert!(excluded.iter().any(|e| e == r), "{r} not added to excludedResources");
    }

    // Creation order: namespace, secrets, configmaps, then the rest alphabetically, Cluster last.
    let ns = env
        .get_json("v1", "Namespace", "namespaces", None, WC_NS)
        .await
        .expect("namespace restored");
    let secret = env
        .get_json("v1", "Secret", "secrets", Some(WC_NS), "wc-kubeconfig")
        .await
        .expect("secret");
    let cm = env
        .get_json("v1", "ConfigMap", "configmaps", Some(WC_NS), "wc-addons")
        .await
        .expect("configmap");
    let kcp = env
        .get_json(
            "controlplane.cluster.x-k8s.io/v1beta1",
            "KubeadmControlPlane",
            "kubeadmcontrolplanes",
            Some(WC_NS),
            "wc-control-plane",
        )
        .await
        .expect("kcp");
    let md = env
        .get_json(CAPI, "MachineDeployment", "machinedeployments", Some(WC_NS), "wc-md-0")
        .await
        .expect("md");
    let machine = env
        .get_json(CAPI, "Machine", "machines", Some(WC_NS), "wc-md-0-abcde")
        .await
        .expect("machine");
    let cluster = env.get_json(CAPI, "Cluster", "clusters", Some(WC_NS), "wc").await.expect("cluster");
    let order = [&ns, &secret, &cm, &kcp, &md, &machine, &cluster];
    let versions: Vec<u64> = order.iter().map(|o| rv(o)).collect();
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(
        versions, sorted,
        "creation order (resourceVersions) must follow Velero's priorities"
    );

    // The namespace comes from the backed-up one: its labels and annotations, no restore labels.
    assert_eq!(ns["metadata"]["labels"]["team"], "platform");
    assert_eq!(ns["metadata"]["annotations"]["owner"], "ops");

    for obj in [&secret, &cm, &kcp, &md, &machine, &cluster] {
        let meta = &obj["metadata"];
        let what = format!("{}/{}", obj["kind"], meta["name"]);
        assert!(meta.get("ownerReferences").is_none(), "{what} kept ownerReferences");
        assert_ne!(
            meta["uid"],
            json!(format!("uid-{}", meta["name"].as_str().unwrap_or_default())),
            "{what} kept its uid"
        );
        assert_ne!(meta["creationTimestamp"], "2022-11-01T08:00:00Z", "{what} kept creationTimestamp");
        assert_eq!(meta["labels"][BACKUP_NAME_LABEL], "my-backup", "{what}");
        assert_eq!(meta["labels"][RESTORE_NAME_LABEL], "my-restore", "{what}");
        let status_empty = obj.get("status").is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()));
        assert!(status_empty, "{what} kept its status: {}", obj["status"]);
    }
    assert_eq!(
        cluster["spec"]["paused"], true,
        "the management-cluster plugin restores clusters paused"
    );
    assert_eq!(cluster["metadata"]["finalizers"], json!(["cluster.cluster.x-k8s.io"]));
    assert_eq!(cluster["metadata"]["labels"]["tanzuKubernetesRelease"], "v1.24.10---vmware.1-tkg.1");
    assert_eq!(md["spec"]["replicas"], 3);
    assert_eq!(machine["spec"]["providerID"], "vsphere://4201");

    // Never restored: nodes, events, Velero's own backups.
    let nodes: Api<Node> = Api::all(env.client.clone());
    assert!(nodes.list(&ListParams::default()).await.expect("nodes").items.is_empty());
    let events: Api<Event> = Api::namespaced(env.client.clone(), WC_NS);
    assert!(events.list(&ListParams::default()).await.expect("events").items.is_empty());
    assert!(
        env.get_json("velero.io/v1", "Backup", "backups", Some(VELERO_NS), "older")
            .await
            .is_none()
    );

    // The restore's files, where Velero puts them.
    let layout = env.store.layout().clone();
    let mut keys = env.keys_under("restores/my-restore/");
    keys.sort();
    let mut expected: Vec<String> = RestoreFile::ALL.iter().map(|f| layout.restore_key("my-restore", *f)).collect();
    expected.sort();
    assert_eq!(keys, expected);
    let results = env.json_file(&layout.restore_key("my-restore", RestoreFile::Results)).await;
    assert_eq!(results, json!({"errors": {}, "warnings": {}}));
    let list = env.json_file(&layout.restore_key("my-restore", RestoreFile::ResourceList)).await;
    assert_eq!(list["cluster.x-k8s.io/v1beta1/Cluster"], json!(["tkg-wc/wc(created)"]));
    assert_eq!(list["v1/Namespace"], json!(["tkg-wc(created)"]));
    assert_eq!(list["v1/Secret"], json!(["tkg-wc/wc-kubeconfig(created)"]));
    assert!(list.get("v1/Node").is_none() && list.get("v1/Event").is_none());
    let log = drdrill_velero_sim::format::gunzip(
        &env.store
            .get(&layout.restore_key("my-restore", RestoreFile::Log))
            .await
            .expect("log"),
        "log",
    )
    .expect("gunzip log");
    let log = String::from_utf8(log).expect("utf-8 log");
    assert!(
        log.contains("level=info msg=\"starting restore of backup velero/my-backup\""),
        "{log}"
    );

    // Level-triggered: a second pass leaves a finished restore alone.
    let again = RestoreController::new(env.ctx.clone()).reconcile_all().await.expect("pass");
    assert!(!again.changed(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_restores_fail_validation_with_clear_messages() {
    let env = Env::new().await;
    env.put_backup("good", &capi_items(WC_NS)).await;
    env.put_backup_with("running", &capi_items(WC_NS), BackupPhase::InProgress, &[])
        .await;
    env.create_restore("from-nothing", from_backup("nope")).await;
    env.create_restore("no-source", RestoreSpec::default()).await;
    env.create_restore(
        "both-sources",
        RestoreSpec {
            backup_name: Some("good".into()),
            schedule_name: Some("daily".into()),
            ..Default::default()
        },
    )
    .await;
    env.create_restore("unfinished", from_backup("running")).await;
    env.create_restore(
        "nodes-please",
        RestoreSpec {
            included_resources: Some(vec!["nodes".into()]),
            ..from_backup("good")
        },
    )
    .await;
    env.create_restore(
        "bad-policy",
        RestoreSpec {
            existing_resource_policy: Some("overwrite".into()),
            ..from_backup("good")
        },
    )
    .await;
    env.create_restore(
        "no-schedule-backups",
        RestoreSpec {
            schedule_name: Some("daily".into()),
            ..Default::default()
        },
    )
    .await;
    pass(&env).await;

    let errors = |name: &'static str| {
        let env = &env;
        async move {
            let status = env.restore(name).await.status.expect("status");
            assert_eq!(status.phase, Some(RestorePhase::FailedValidation), "{name}: {status:?}");
            assert!(status.start_timestamp.is_none(), "{name} never started");
            status.validation_errors.unwrap_or_default()
        }
    };
    assert_eq!(
        errors("from-nothing").await,
        ["Error retrieving backup: can't find backup velero/nope: backups.velero.io \"nope\" not found"]
    );
    let both = "Either a backup or schedule must be specified as a source for the restore, but not both";
    assert_eq!(errors("no-source").await, [both]);
    assert_eq!(errors("both-sources").await, [both]);
    assert_eq!(
        errors("unfinished").await,
        ["backup velero/running is in phase InProgress: only a Completed or PartiallyFailed backup can be restored"]
    );
    assert_eq!(
        errors("nodes-please").await,
        [
            "nodes are non-restorable resources",
            "Invalid included/excluded resource lists: excludes list cannot contain an item in the includes list: nodes"
        ]
    );
    assert_eq!(errors("bad-policy").await, ["Invalid ExistingResourcePolicy: overwrite"]);
    assert_eq!(
        errors("no-schedule-backups").await,
        ["No backups found for schedule", "No completed backups found for schedule"]
    );
    // Nothing was restored by any of them.
    assert!(env.get_json("v1", "Namespace", "namespaces", None, WC_NS).await.is_none());
    assert!(env.keys_under("restores/").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_truncated_and_corrupted_tarballs_fail_naming_the_file() {
    let env = Env::new().await;
    let layout = env.store.layout().clone();
    for name in ["missing", "truncated", "corrupted"] {
        env.put_backup(name, &capi_items(&format!("ns-{name}"))).await;
    }
    let key = |b: &str| layout.backup_contents_key(b);
    env.store.delete(&key("missing")).await.expect("delete");
    let whole = env.store.get(&key("truncated")).await.expect("tarball");
    env.store
        .put(&key("truncated"), whole.slice(..whole.len() / 2))
        .await
        .expect("truncate");
    let mut bytes = env.store.get(&key("corrupted")).await.expect("tarball").to_vec();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xA5;
    }
    env.store.put(&key("corrupted"), bytes).await.expect("corrupt");
    for name in ["missing", "truncated", "corrupted"] {
        env.create_restore(&format!("r-{name}"), from_backup(name)).await;
    }
    pass(&env).await;

    for name in ["missing", "truncated", "corrupted"] {
        let status = env.restore(&format!("r-{name}")).await.status.expect("status");
        assert_eq!(status.phase, Some(RestorePhase::Failed), "{name}: {status:?}");
        let reason = status.failure_reason.unwrap_or_default();
        assert!(
            reason.contains(&key(name)),
            "{name}: failure reason {reason:?} does not name the file"
        );
        assert!(status.completion_timestamp.is_some());
        assert!(status.progress.is_none(), "{name}: nothing claimed restored");
        let ns = format!("ns-{name}");
        assert!(
            env.get_json("v1", "Namespace", "namespaces", None, &ns).await.is_none(),
            "{name}: half-restored"
        );
        assert!(env.get_json(CAPI, "Cluster", "clusters", Some(&ns), "wc").await.is_none());
        assert!(env.keys_under(&format!("restores/r-{name}/")).is_empty());
    }
    let reason = |name: &str| {
        let env = &env;
        let name = name.to_string();
        async move { env.restore(&name).await.status.and_then(|s| s.failure_reason).unwrap_or_default() }
    };
    assert!(reason("r-missing").await.starts_with("error downloading backup: "));
    assert!(reason("r-truncated").await.starts_with("error extracting backup: "));
}

async fn live_configmap(env: &Env, data: &str) {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings", "namespace": "app", "labels": {"edited": "by-hand"}},
        "data": {"mode": data}
    }))
    .expect("configmap");
    Api::<ConfigMap>::namespaced(env.client.clone(), "app")
        .create(&PostParams::default(), &cm)
        .await
        .expect("live configmap");
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_objects_warn_with_none_and_are_patched_with_update() {
    let env = Env::new().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}});
    let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(ns).expect("ns");
    Api::all(env.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace app");
    live_configmap(&env, "live").await;
    let backed_up = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": live_metadata("settings", Some("app"), "uid-old"), "data": {"mode": "backed-up"}});
    let fresh = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fresh", "namespace": "app"}, "data": {"a": "b"}});
    env.put_backup("b", &[item("configmaps", backed_up), item("configmaps", fresh)])
        .await;

    env.create_restore(
        "r-none",
        RestoreSpec {
            existing_resource_policy: Some("none".into()),
            ..from_backup("b")
        },
    )
    .await;
    // Restores run oldest first: r-none creates `fresh`, r-default then finds it unchanged.
    env.clock.advance(std::time::Duration::from_secs(1));
    env.create_restore("r-default", from_backup("b")).await;
    pass(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "app");
    let live = cms.get("settings").await.expect("settings");
    assert_eq!(
        live.data.as_ref().and_then(|d| d.get("mode")).map(String::as_str),
        Some("live"),
        "none keeps the live object"
    );
    let layout = env.store.layout().clone();
    for (restore, warning) in [
        (
            "r-none",
            "could not restore, ConfigMap \"settings\" already exists. Warning: the in-cluster version is different than the backed-up version",
        ),
        (
            "r-default",
            "could not restore, ConfigMap:settings already exists. Warning: the in-cluster version is different than the backed-up version",
        ),
    ] {
        let status = env.restore(restore).await.status.expect("status");
        assert_eq!(status.phase, Some(RestorePhase::Completed), "warnings do not fail a restore");
        assert_eq!((status.warnings, status.errors), (1, 0), "{restore}");
        let results = env.json_file(&layout.restore_key(restore, RestoreFile::Results)).await;
        assert_eq!(results["warnings"]["namespaces"]["app"], json!([warning]), "{restore}");
        let list = env.json_file(&layout.restore_key(restore, RestoreFile::ResourceList)).await;
        let expected_fresh = if restore == "r-none" {
            "app/fresh(created)"
        } else {
            "app/fresh(skipped)"
        };
        assert_eq!(list["v1/ConfigMap"], json!([expected_fresh, "app/settings(failed)"]), "{restore}");
    }

    env.create_restore(
        "r-update",
        RestoreSpec {
            existing_resource_policy: Some("update".into()),
            ..from_backup("b")
        },
    )
    .await;
    pass(&env).await;
    let status = env.restore("r-update").await.status.expect("status");
    assert_eq!(
        (status.phase, status.warnings, status.errors),
        (Some(RestorePhase::Completed), 0, 0)
    );
    let live = cms.get("settings").await.expect("settings");
    assert_eq!(
        live.data.as_ref().and_then(|d| d.get("mode")).map(String::as_str),
        Some("backed-up")
    );
    let labels = live.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(RESTORE_NAME_LABEL).map(String::as_str), Some("r-update"));
    assert_eq!(labels.get("edited"), None, "update patches towards the backed-up labels");
    let list = env.json_file(&layout.restore_key("r-update", RestoreFile::ResourceList)).await;
    assert!(
        list["v1/ConfigMap"]
            .as_array()
            .expect("list")
            .contains(&json!("app/settings(updated)"))
    );

    // Now identical to the backup: skipped without a warning.
    env.create_restore("r-again", from_backup("b")).await;
    pass(&env).await;
    let status = env.restore("r-again").await.status.expect("status");
    assert_eq!((status.phase, status.warnings), (Some(RestorePhase::Completed), 0), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_mapping_and_filters_choose_where_and_what() {
    let env = Env::new().await;
    let mut items = capi_items(WC_NS);
    items.push(item(
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "tkg-system"}, "data": {}}),
    ));
    env.put_backup("b", &items).await;
    env.create_restore(
        "mapped",
        RestoreSpec {
            namespace_mapping: [(WC_NS.to_string(), "tkg-wc-dr".to_string())].into(),
            excluded_namespaces: Some(vec!["tkg-system".into()]),
            excluded_resources: Some(vec!["secrets".into()]),
            ..from_backup("b")
        },
    )
    .await;
    pass(&env).await;
    let status = env.restore("mapped").await.status.expect("status");
    assert_eq!(status.phase, Some(RestorePhase::Completed), "{status:?}");

    let ns = env
        .get_json("v1", "Namespace", "namespaces", None, "tkg-wc-dr")
        .await
        .expect("mapped namespace");
    assert_eq!(ns["metadata"]["labels"]["team"], "platform", "created from the backed-up namespace");
    assert!(env.get_json("v1", "Namespace", "namespaces", None, WC_NS).await.is_none());
    let cluster = env
        .get_json(CAPI, "Cluster", "clusters", Some("tkg-wc-dr"), "wc")
        .await
        .expect("cluster in mapped ns");
    assert_eq!(cluster["metadata"]["namespace"], "tkg-wc-dr");
    assert!(
        env.get_json("v1", "Secret", "secrets", Some("tkg-wc-dr"), "wc-kubeconfig")
            .await
            .is_none(),
        "secrets excluded"
    );
    assert!(
        env.get_json("v1", "Namespace", "namespaces", None, "tkg-system").await.is_none(),
        "tkg-system excluded"
    );

    // Only one resource, group-qualified the way the runbook writes it.
    env.create_restore(
        "clusters-only",
        RestoreSpec {
            included_resources: Some(vec!["cluster.cluster.x-k8s.io".into()]),
            namespace_mapping: [(WC_NS.to_string(), "only".to_string())].into(),
            ..from_backup("b")
        },
    )
    .await;
    pass(&env).await;
    assert!(env.get_json(CAPI, "Cluster", "clusters", Some("only"), "wc").await.is_some());
    assert!(
        env.get_json(CAPI, "Machine", "machines", Some("only"), "wc-md-0-abcde")
            .await
            .is_none()
    );
    assert!(
        env.get_json("v1", "ConfigMap", "configmaps", Some("only"), "wc-addons")
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_status_keeps_status_through_the_status_subresource() {
    let env = Env::new().await;
    env.put_backup("b", &capi_items(WC_NS)).await;
    env.create_restore(
        "with-status",
        RestoreSpec {
            restore_status: Some(RestoreStatusSpec {
                included_resources: Some(vec!["clusters.cluster.x-k8s.io".into()]),
                excluded_resources: None,
            }),
            ..from_backup("b")
        },
    )
    .await;
    pass(&env).await;
    assert_eq!(env.restore_phase("with-status").await, Some(RestorePhase::Completed));
    let cluster = env.get_json(CAPI, "Cluster", "clusters", Some(WC_NS), "wc").await.expect("cluster");
    assert_eq!(cluster["status"]["phase"], "Provisioned");
    assert_eq!(cluster["status"]["controlPlaneReady"], true);
    let machine = env
        .get_json(CAPI, "Machine", "machines", Some(WC_NS), "wc-md-0-abcde")
        .await
        .expect("machine");
    assert!(
        machine["status"].get("phase").is_none(),
        "machines were not included: {}",
        machine["status"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unserved_resources_fail_their_items_not_the_restore() {
    let env = Env::new().await;
    let mut items = capi_items(WC_NS);
    items.push(item(
        "clusterresourcesets.addons.cluster.x-k8s.io",
        json!({"apiVersion": "addons.cluster.x-k8s.io/v1beta1", "kind": "ClusterResourceSet",
               "metadata": {"name": "crs", "namespace": WC_NS}, "spec": {"clusterSelector": {}}}),
    ));
    env.put_backup("b", &items).await;
    env.create_restore("r", from_backup("b")).await;
    pass(&env).await;
    let status = env.restore("r").await.status.expect("status");
    assert_eq!(status.phase, Some(RestorePhase::PartiallyFailed), "{status:?}");
    assert_eq!(status.errors, 1);
    let layout = env.store.layout().clone();
    let results = env.json_file(&layout.restore_key("r", RestoreFile::Results)).await;
    let errors = results["errors"]["namespaces"][WC_NS].as_array().expect("namespace errors").clone();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].as_str().unwrap_or_default().starts_with(
            "error restoring clusterresourcesets.addons.cluster.x-k8s.io/tkg-wc/crs: the server could not find the requested resource"
        ),
        "{errors:?}"
    );
    let list = env.json_file(&layout.restore_key("r", RestoreFile::ResourceList)).await;
    assert_eq!(
        list["addons.cluster.x-k8s.io/v1beta1/ClusterResourceSet"],
        json!(["tkg-wc/crs(failed)"])
    );
    assert!(
        env.get_json(CAPI, "Cluster", "clusters", Some(WC_NS), "wc").await.is_some(),
        "the rest is restored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_name_restores_its_latest_completed_backup() {
    let env = Env::new().await;
    let label = [(SCHEDULE_NAME_LABEL, "daily")];
    env.put_backup_with("daily-1", &capi_items("day-one"), BackupPhase::Completed, &label)
        .await;
    env.clock.advance(std::time::Duration::from_secs(86_400));
    env.put_backup_with("daily-2", &capi_items("day-two"), BackupPhase::Completed, &label)
        .await;
    env.clock.advance(std::time::Duration::from_secs(86_400));
    env.put_backup_with("daily-3", &capi_items("day-three"), BackupPhase::Failed, &label)
        .await;
    env.create_restore(
        "latest",
        RestoreSpec {
            schedule_name: Some("daily".into()),
            ..Default::default()
        },
    )
    .await;
    pass(&env).await;
    let restore = env.restore("latest").await;
    assert_eq!(restore.spec.backup_name.as_deref(), Some("daily-2"));
    assert_eq!(restore.status.and_then(|s| s.phase), Some(RestorePhase::Completed));
    assert!(env.get_json(CAPI, "Cluster", "clusters", Some("day-two"), "wc").await.is_some());
    assert!(env.get_json("v1", "Namespace", "namespaces", None, "day-one").await.is_none());
}
