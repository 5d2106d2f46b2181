//! The Cluster and VSphereCluster controllers against a management API server: phase,
//! readiness and conditions follow the infrastructure and the control plane, a restored
//! VSphereCluster is re-owned, a paused Cluster stands still; and workload clusters are reached
//! through `<cluster>-kubeconfig` Secrets written the way Cluster API writes them.

mod common;

use common::{CLUSTER, NS, World};
use drdrill_apis::capi::conditions::{self, CONTROL_PLANE_INITIALIZED, CONTROL_PLANE_READY, INFRASTRUCTURE_READY, READY};
use drdrill_apis::capi::{Cluster, KubeadmControlPlane};
use drdrill_apis::vsphere::VSphereCluster;
use drdrill_capi_sim::controllers::{Reconciler, SecretWorkloadClusters, WorkloadClusters, store_kubeconfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn cluster(w: &World) -> Cluster {
    w.api::<Cluster>().get(CLUSTER).await.expect("cluster")
}

fn cond(c: &Cluster, type_: &str) -> (String, Option<String>) {
    let status = c.status.clone().unwrap_or_default();
    let found = conditions::find(&status.conditions, type_).unwrap_or_else(|| panic!("no {type_}: {status:?}"));
    (found.status.clone(), found.reason.clone())
}

async fn set_kcp_status(w: &World, ready: bool, initialized: bool) {
    w.api::<KubeadmControlPlane>()
        .patch_status(
            CLUSTER,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": ready, "initialized": initialized}})),
        )
        .await
        .expect("kcp status");
}

#[tokio::test]
async fn cluster_phase_and_readiness_follow_infrastructure_and_control_plane() {
    let w = World::new().await;
    let new: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereCluster", "name": CLUSTER},
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": CLUSTER}},
    }))
    .expect("cluster");
    w.api::<Cluster>().create(&PostParams::default(), &new).await.expect("cluster");
    w.settle().await;
    let c = cluster_status(&w).await;
    assert_eq!(c.phase.as_deref(), Some("Provisioning"), "infrastructureRef set, object missing");
    assert!(!c.infrastructure_ready && !c.control_plane_ready);

    let kcp: KubeadmControlPlane = serde_json::from_value(json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"replicas": 0, "version": "v1.24.10+vmware.1", "kubeadmConfigSpec": {},
            "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc-control-plane"}}},
    }))
    .expect("kcp");
    w.api::<KubeadmControlPlane>()
        .create(&PostParams::default(), &kcp)
        .await
        .expect("kcp");
    let vc: VSphereCluster = serde_json::from_value(json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereCluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"server": "vc01.example.com", "controlPlaneEndpoint": {"host": "10.0.0.10", "port": 6443}},
    }))
    .expect("vsphere cluster");
    w.api::<VSphereCluster>().create(&PostParams::default(), &vc).await.expect("vc");
    w.settle().await;

    let vc = w.api::<VSphereCluster>().get(CLUSTER).await.expect("vc");
    assert!(vc.status.as_ref().is_some_and(|s| s.ready));
    assert!(
        vc.owner_references()
            .iter()
            .any(|r| r.kind == "Cluster" && r.controller == Some(true))
    );
    assert_eq!(vc.labels().get("cluster.x-k8s.io/cluster-name").map(String::as_str), Some(CLUSTER));
    let kcp = w.api::<KubeadmControlPlane>().get(CLUSTER).await.expect("kcp");
    assert!(
        kcp.owner_references()
            .iter()
            .any(|r| r.kind == "Cluster" && r.controller == Some(true))
    );
    let c = cluster(&w).await;
    let endpoint = c
        .spec
        .control_plane_endpoint
        .clone()
        .expect("endpoint copied from the VSphereCluster");
    assert_eq!((endpoint.host.as_str(), endpoint.port), ("10.0.0.10", 6443));
    let status = c.status.clone().expect("status");
    assert_eq!(status.phase.as_deref(), Some("Provisioned"));
    assert!(status.infrastructure_ready && !status.control_plane_ready);
    assert_eq!(cond(&c, INFRASTRUCTURE_READY), ("True".into(), None));
    // The KubeadmControlPlane controller runs too (with no replicas, so that this test drives
    // its status by hand); the Cluster mirrors its Ready summary, False until kubeadm init.
    assert_eq!(
        cond(&c, CONTROL_PLANE_READY),
        ("False".into(), Some("WaitingForKubeadmInit".into()))
    );
    assert_eq!(
        cond(&c, CONTROL_PLANE_INITIALIZED),
        ("False".into(), Some("WaitingForControlPlaneProviderInitialized".into()))
    );
    assert_eq!(cond(&c, READY), ("False".into(), Some("WaitingForKubeadmInit".into())));

    set_kcp_status(&w, true, true).await;
    w.settle().await;
    let c = cluster(&w).await;
    assert!(c.status.as_ref().is_some_and(|s| s.control_plane_ready));
    for t in [CONTROL_PLANE_READY, CONTROL_PLANE_INITIALIZED, READY] {
        assert_eq!(cond(&c, t).0, "True", "{t}");
    }

    // ControlPlaneInitialized never goes back; readiness does.
    set_kcp_status(&w, false, false).await;
    w.settle().await;
    let c = cluster(&w).await;
    assert_eq!(cond(&c, CONTROL_PLANE_INITIALIZED).0, "True");
    assert_eq!(cond(&c, CONTROL_PLANE_READY).0, "False");
    assert!(!c.status.as_ref().is_some_and(|s| s.control_plane_ready));

    // Paused: nothing follows; a restore's dropped ownerReference stays dropped until unpaused.
    w.set_paused(true).await;
    set_kcp_status(&w, true, true).await;
    let drop = Patch::Merge(json!({"metadata": {"ownerReferences": null}}));
    w.api::<VSphereCluster>()
        .patch(CLUSTER, &PatchParams::default(), &drop)
        .await
        .expect("drop");
    let paused = w.settle().await;
    assert!(paused.contains(&format!("Cluster/{CLUSTER}")), "{paused:?}");
    assert!(!cluster(&w).await.status.as_ref().is_some_and(|s| s.control_plane_ready));
    w.set_paused(false).await;
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.adopted.contains(&"VSphereCluster/wc".to_string()), "{report:?}");
    w.settle().await;
    assert!(cluster(&w).await.status.as_ref().is_some_and(|s| s.control_plane_ready));
}

async fn cluster_status(w: &World) -> drdrill_apis::capi::ClusterStatus {
    cluster(w).await.status.unwrap_or_default()
}

#[tokio::test]
async fn workload_clusters_are_reached_through_kubeconfig_secrets() {
    let w = World::new().await;
    let cluster = Cluster::new(CLUSTER, Default::default());
    let cluster = w.api::<Cluster>().create(&PostParams::default(), &cluster).await.expect("cluster");
    let clusters = SecretWorkloadClusters::new(w.mgmt.clone());
    assert!(clusters.client(NS, CLUSTER).is_none());
    assert!(clusters.refresh().await.expect("refresh").is_empty());

    let yaml = w.workload_server.kubeconfig_yaml(&format!("{CLUSTER}-admin@{CLUSTER}"));
    store_kubeconfig(&w.mgmt, NS, CLUSTER, &yaml).await.expect("store");
    let secret = w.api::<Secret>().get("wc-kubeconfig").await.expect("secret");
    assert_eq!(secret.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
    assert_eq!(
        secret.labels().get("cluster.x-k8s.io/cluster-name").map(String::as_str),
        Some(CLUSTER)
    );
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(data.get("value").map(|v| v.0.clone()), Some(yaml.clone().into_bytes()));
    assert!(
        secret
            .owner_references()
            .iter()
            .any(|r| r.kind == "Cluster" && Some(&r.uid) == cluster.uid().as_ref())
    );

    let report = clusters.reconcile_all().await.expect("refresh");
    assert_eq!(report.updated, vec!["Secret/wc-kubeconfig".to_string()]);
    let client = clusters.client(NS, CLUSTER).expect("a client from the Secret");
    assert!(clusters.client(NS, "other").is_none());
    // It reaches the workload cluster, not the management one.
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some("only-in-workload".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(w.workload.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("ns");
    assert!(
        Api::<Namespace>::all(client)
            .get_opt("only-in-workload")
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        clusters.refresh().await.expect("refresh").is_empty(),
        "unchanged Secret, cached client"
    );

    // Storing again replaces the data; deleting the Secret makes the cluster unreachable.
    store_kubeconfig(&w.mgmt, NS, CLUSTER, &yaml).await.expect("store again");
    w.api::<Secret>()
        .delete("wc-kubeconfig", &Default::default())
        .await
        .expect("delete");
    assert_eq!(clusters.refresh().await.expect("refresh"), vec!["Secret/wc-kubeconfig".to_string()]);
    assert!(clusters.client(NS, CLUSTER).is_none());
}
