//! The volume provisioner: PersistentVolumeClaims bound to Datastore volumes through the
//! simulated CSI drivers, the default StorageClass, the Event of a missing class, reclaim
//! policies, and reaching a claim's files.

mod common;

use std::sync::Arc;

use drdrill_capi_sim::Datastore;
use drdrill_capi_sim::workloads::volumes::{PROVISIONED_BY_ANNOTATION, VolumeError, volume_of_claim};
use drdrill_capi_sim::workloads::{WorkloadControllers, WorkloadReport};
use drdrill_kube_sim::ApiServer;
use drdrill_kube_sim::clock::VirtualClock;
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const NS: &str = "default";

struct Cluster {
    _server: ApiServer,
    client: Client,
    datastore: Datastore,
    controllers: WorkloadControllers,
}

impl Cluster {
    async fn new() -> Cluster {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let (server, client) = common::server("wc", &clock).await;
        let datastore = Datastore::new();
        let controllers = WorkloadControllers::new(client.clone(), Arc::new(clock.clone()), 7).with_datastore(datastore.clone());
        Cluster {
            _server: server,
            client,
            datastore,
            controllers,
        }
    }

    async fn sync(&self) -> WorkloadReport {
        self.controllers.sync().await.expect("sync")
    }

    async fn class(&self, name: &str, provisioner: &str, extra: Value) {
        let mut body = json!({"metadata": {"name": name}, "provisioner": provisioner});
        merge(&mut body, extra);
        let class: StorageClass = serde_json::from_value(body).expect("class");
        Api::<StorageClass>::all(self.client.clone())
            .create(&PostParams::default(), &class)
            .await
            .expect("create class");
    }

    async fn claim(&self, name: &str, class: Option<&str>, size: &str) -> PersistentVolumeClaim {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}});
        if let Some(class) = class {
            spec["storageClassName"] = json!(class);
        }
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("pvc");
        self.pvcs().create(&PostParams::default(), &pvc).await.expect("create pvc")
    }

    fn pvcs(&self) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), NS)
    }

    fn pvs(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    async fn pvc(&self, name: &str) -> PersistentVolumeClaim {
        self.pvcs().get(name).await.expect("pvc")
    }

    async fn events_for(&self, claim: &str) -> Vec<Event> {
        Api::<Event>::namespaced(self.client.clone(), NS)
            .list(&ListParams::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(claim))
            .collect()
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

fn phase(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.status.as_ref().and_then(|s| s.phase.as_deref())
}

#[tokio::test]
async fn a_claim_is_provisioned_on_the_datastore_and_bound() {
    let c = Cluster::new().await;
    c.class("vsphere-sc", "csi.vsphere.vmware.com", json!({"reclaimPolicy": "Retain"}))
        .await;
    let created = c.claim("data", Some("vsphere-sc"), "1Gi").await;
    let report = c.sync().await;
    assert!(report.changed(), "{report:?}");

    let pvc = c.pvc("data").await;
    let pv_name = format!("pvc-{}", created.uid().expect("uid"));
    assert_eq!(phase(&pvc), Some("Bound"));
    assert_eq!(pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()), Some(pv_name.as_str()));
    let status = pvc.status.as_ref().expect("status");
    assert_eq!(status.capacity.as_ref().expect("capacity")["storage"].0, "1Gi");
    assert_eq!(pvc.annotations()["pv.kubernetes.io/bind-completed"], "yes");

    let pv = c.pvs().get(&pv_name).await.expect("pv");
    let spec = pv.spec.as_ref().expect("spec");
    let csi = spec.csi.as_ref().expect("csi");
    assert_eq!(csi.driver, "csi.vsphere.vmware.com");
    assert_eq!(csi.volume_handle, pv_name);
    assert_eq!(spec.capacity.as_ref().expect("capacity")["storage"].0, "1Gi");
    assert_eq!(spec.access_modes.as_deref(), Some(&["ReadWriteOnce".to_string()][..]));
    assert_eq!(spec.persistent_volume_reclaim_policy.as_deref(), Some("Retain"));
    assert_eq!(spec.storage_class_name.as_deref(), Some("vsphere-sc"));
    let claim_ref = spec.claim_ref.as_ref().expect("claimRef");
    assert_eq!(
        (claim_ref.namespace.as_deref(), claim_ref.name.as_deref(), claim_ref.uid.as_deref()),
        (Some(NS), Some("data"), created.uid().as_deref())
    );
    assert_eq!(pv.annotations()[PROVISIONED_BY_ANNOTATION], "csi.vsphere.vmware.com");
    assert_eq!(pv.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Bound"));

    let volume = c.datastore.volume(&pv_name).expect("datastore volume");
    assert_eq!((volume.capacity, volume.driver.as_str()), (1 << 30, "csi.vsphere.vmware.com"));
    let handle = volume_of_claim(&c.client, NS, "data").await.expect("handle");
    assert_eq!(handle, pv_name);
    c.datastore.write_file(&handle, "db/pg_control", b"state").expect("write");
    assert_eq!(c.datastore.read_file(&handle, "db/pg_control").expect("read"), b"state");
    let succeeded: Vec<String> = c.events_for("data").await.into_iter().filter_map(|e| e.reason).collect();
    assert_eq!(succeeded, ["ProvisioningSucceeded"]);

    let again = c.sync().await;
    assert!(!again.changed(), "a bound claim is left alone: {again:?}");
    assert_eq!(c.datastore.list_volumes(), [pv_name]);
}

#[tokio::test]
async fn the_default_class_applies_to_claims_without_one() {
    let c = Cluster::new().await;
    c.class("aks-file", "file.csi.akshci.com", json!({})).await;
    c.class(
        "default",
        "disk.csi.akshci.com",
        json!({"metadata": {"name": "default", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}),
    )
    .await;
    c.claim("logs", None, "256Mi").await;
    c.sync().await;
    let pvc = c.pvc("logs").await;
    assert_eq!(pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()), Some("default"));
    assert_eq!(phase(&pvc), Some("Bound"));
    let handle = volume_of_claim(&c.client, NS, "logs").await.expect("handle");
    assert_eq!(c.datastore.volume(&handle).expect("volume").driver, "disk.csi.akshci.com");
    assert_eq!(c.datastore.volume(&handle).expect("volume").capacity, 256 << 20);
}

#[tokio::test]
async fn a_missing_class_leaves_the_claim_pending_with_kubernetes_event() {
    let c = Cluster::new().await;
    c.claim("data", Some("gold"), "1Gi").await;
    c.sync().await;
    c.sync().await;
    let pvc = c.pvc("data").await;
    assert_ne!(phase(&pvc), Some("Bound"));
    assert!(pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()).is_none());
    let events = c.events_for("data").await;
    assert_eq!(events.len(), 1, "one Event, not one per pass: {events:?}");
    let event = &events[0];
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("ProvisioningFailed"));
    assert_eq!(event.message.as_deref(), Some("storageclass.storage.k8s.io \"gold\" not found"));
    assert!(c.datastore.list_volumes().is_empty());
    let err = volume_of_claim(&c.client, NS, "data").await.expect_err("not bound");
    assert!(matches!(err, VolumeError::NotBound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "PersistentVolumeClaim default/data is not bound to a volume (phase Pending)"
    );
    let missing = volume_of_claim(&c.client, NS, "nope").await.expect_err("no claim");
    assert_eq!(missing.to_string(), "PersistentVolumeClaim default/nope not found");

    // The class appears (the runbook's "configure storage" step): the claim binds.
    c.class("gold", "csi.vsphere.vmware.com", json!({})).await;
    c.sync().await;
    assert_eq!(phase(&c.pvc("data").await), Some("Bound"));
}

#[tokio::test]
async fn an_unsimulated_provisioner_waits_like_an_absent_external_provisioner() {
    let c = Cluster::new().await;
    c.class("ebs", "ebs.csi.aws.com", json!({})).await;
    c.claim("data", Some("ebs"), "1Gi").await;
    c.sync().await;
    assert_ne!(phase(&c.pvc("data").await), Some("Bound"));
    let events = c.events_for("data").await;
    assert_eq!(events[0].reason.as_deref(), Some("ExternalProvisioning"));
    assert!(events[0].message.as_deref().is_some_and(|m| m.contains("\"ebs.csi.aws.com\"")));
}

#[tokio::test]
async fn wait_for_first_consumer_provisions_once_a_pod_is_scheduled() {
    let c = Cluster::new().await;
    c.class(
        "late",
        "csi.vsphere.vmware.com",
        json!({"volumeBindingMode": "WaitForFirstConsumer"}),
    )
    .await;
    c.claim("data", Some("late"), "1Gi").await;
    c.sync().await;
    assert_ne!(phase(&c.pvc("data").await), Some("Bound"));
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "wc-md-0-1"}})).expect("node");
    Api::<Node>::all(c.client.clone())
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"nodeName": "wc-md-0-1", "containers": [{"name": "db", "image": "postgres"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
    }))
    .expect("pod");
    Api::<Pod>::namespaced(c.client.clone(), NS)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    c.sync().await;
    assert_eq!(phase(&c.pvc("data").await), Some("Bound"));
}

#[tokio::test]
async fn reclaim_delete_removes_the_data_and_retain_keeps_it() {
    let c = Cluster::new().await;
    c.class("del", "csi.vsphere.vmware.com", json!({})).await;
    c.class("keep", "csi.vsphere.vmware.com", json!({"reclaimPolicy": "Retain"})).await;
    c.claim("scratch", Some("del"), "1Mi").await;
    c.claim("precious", Some("keep"), "1Mi").await;
    c.sync().await;
    let scratch = volume_of_claim(&c.client, NS, "scratch").await.expect("scratch");
    let precious = volume_of_claim(&c.client, NS, "precious").await.expect("precious");
    c.datastore.write_file(&scratch, "tmp", b"x").expect("write");
    c.datastore.write_file(&precious, "keep.me", b"y").expect("write");

    for claim in ["scratch", "precious"] {
        c.pvcs().delete(claim, &DeleteParams::default()).await.expect("delete claim");
    }
    let report = c.sync().await;
    assert!(report.volumes.iter().any(|v| v.contains("reclaim policy Delete")), "{report:?}");

    assert!(c.pvs().get_opt(&scratch).await.expect("get").is_none(), "Delete removes the PV");
    assert!(!c.datastore.contains(&scratch), "Delete removes the data");

    let kept = c.pvs().get(&precious).await.expect("Retain keeps the PV");
    assert_eq!(kept.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Released"));
    assert_eq!(c.datastore.read_file(&precious, "keep.me").expect("data kept"), b"y");
    let settled = c.sync().await;
    assert!(!settled.changed(), "{settled:?}");
}

#[tokio::test]
async fn without_a_datastore_the_provisioner_does_nothing() {
    let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
    let (_server, client) = common::server("wc", &clock).await;
    let controllers = WorkloadControllers::new(client.clone(), Arc::new(clock.clone()), 7);
    let class: StorageClass =
        serde_json::from_value(json!({"metadata": {"name": "sc"}, "provisioner": "csi.vsphere.vmware.com"})).expect("class");
    Api::<StorageClass>::all(client.clone())
        .create(&PostParams::default(), &class)
        .await
        .expect("class");
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"},
        "spec": {"storageClassName": "sc", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .expect("pvc");
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &pvc)
        .await
        .expect("pvc");
    let report = controllers.sync().await.expect("sync");
    assert!(report.volumes.is_empty(), "{report:?}");
}
