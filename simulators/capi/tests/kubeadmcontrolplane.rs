//! The KubeadmControlPlane controller in the full simulated world: control-plane Machines come
//! up one at a time and join as control-plane Nodes, the Cluster sees its control plane ready,
//! scale-down removes the oldest first and one at a time, restored Machines without
//! ownerReferences are adopted rather than duplicated, and a paused Cluster stands still.

mod common;

use std::time::Duration;

use common::{CLUSTER, NS, World};
use drdrill_apis::capi::conditions::{self, AVAILABLE, MACHINES_READY};
use drdrill_apis::capi::{CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, Cluster, KubeadmControlPlane, Machine, PAUSED_ANNOTATION};
use drdrill_apis::vsphere::VSphereMachineTemplate;
use drdrill_capi_sim::controllers::Report;
use drdrill_capi_sim::site::VmRole;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const KCP: &str = "wc-control-plane";
const VERSION: &str = "v1.24.10+vmware.1";

/// A Cluster whose infrastructure is ready, with a KubeadmControlPlane of `replicas`.
async fn create_control_plane(w: &World, replicas: i32, paused: bool) {
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"paused": paused, "controlPlaneEndpoint": {"host": "10.0.0.10", "port": 6443},
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": KCP, "namespace": NS}},
    }))
    .expect("cluster");
    w.api::<Cluster>().create(&PostParams::default(), &cluster).await.expect("cluster");
    w.api::<Cluster>()
        .patch_status(
            CLUSTER,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"infrastructureReady": true}})),
        )
        .await
        .expect("cluster status");
    let template: VSphereMachineTemplate = serde_json::from_value(json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate",
        "metadata": {"name": KCP, "namespace": NS},
        "spec": {"template": {"spec": {"template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1", "numCPUs": 2, "memoryMiB": 8192, "diskGiB": 40,
            "network": {"devices": [{"networkName": "/dc0/network/VM Network", "dhcp4": true}]}}}},
    }))
    .expect("template");
    w.api::<VSphereMachineTemplate>()
        .create(&PostParams::default(), &template)
        .await
        .expect("template");
    let kcp: KubeadmControlPlane = serde_json::from_value(json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": {"name": KCP, "namespace": NS},
        "spec": {"replicas": replicas, "version": VERSION,
            "kubeadmConfigSpec": {"clusterConfiguration": {"imageRepository": "projects.registry.vmware.com/tkg"}},
            "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": KCP}}},
    }))
    .expect("kcp");
    w.api::<KubeadmControlPlane>()
        .create(&PostParams::default(), &kcp)
        .await
        .expect("kcp");
}

/// Drives passes like `World::settle`, checking after each that at most one control-plane
/// Machine is on its way (no Node yet, or deleting); returns the merged report.
async fn settle_one_at_a_time(w: &World) -> Report {
    let mut quiet = 0;
    let mut all = Report::default();
    for _ in 0..60 {
        let report = w.controllers.pass().await.expect("controller pass");
        let agent = w.agent.sync().await.expect("kubelets");
        let lifecycle = w.lifecycle.sync().await.expect("node lifecycle");
        let in_flight: Vec<String> = w
            .machines()
            .await
            .iter()
            .filter(|m| m.meta().deletion_timestamp.is_some() || m.status.as_ref().and_then(|s| s.node_ref.as_ref()).is_none())
            .map(|m| m.name_any())
            .collect();
        assert!(in_flight.len() <= 1, "more than one Machine in flight: {in_flight:?}");
        w.clock.advance(Duration::from_secs(1));
        let changed = report.changed() || !agent.registered.is_empty() || !lifecycle.is_empty();
        all.merge(report);
        if changed {
            quiet = 0;
        } else {
            quiet += 1;
            if quiet == 2 {
                return all;
            }
        }
    }
    panic!("controllers did not settle in 60 passes");
}

async fn kcp(w: &World) -> KubeadmControlPlane {
    w.api::<KubeadmControlPlane>().get(KCP).await.expect("kcp")
}

fn is_true(conds: &[drdrill_apis::capi::Condition], type_: &str) -> bool {
    conditions::find(conds, type_).is_some_and(|c| c.is_true())
}

/// Machines oldest first.
async fn machines_by_age(w: &World) -> Vec<Machine> {
    let mut ms = w.machines().await;
    ms.sort_by_key(|m| (m.meta().creation_timestamp.clone().map(|t| t.0), m.name_any()));
    ms
}

#[tokio::test]
async fn three_control_plane_machines_come_up_one_at_a_time_and_ready_the_cluster() {
    let w = World::new().await;
    create_control_plane(&w, 3, false).await;
    let report = settle_one_at_a_time(&w).await;
    assert_eq!(report.created.iter().filter(|c| c.starts_with("Machine/")).count(), 3, "{report:?}");
    w.assert_running(3).await;

    let kcp = kcp(&w).await;
    let uid = kcp.uid().expect("uid");
    for m in w.machines().await {
        assert!(
            m.name_any().starts_with(&format!("{KCP}-")) && m.name_any().len() == KCP.len() + 6,
            "{}",
            m.name_any()
        );
        assert_eq!(m.labels().get("cluster.x-k8s.io/cluster-name").map(String::as_str), Some(CLUSTER));
        assert_eq!(m.labels().get(CONTROL_PLANE_LABEL).map(String::as_str), Some(""));
        assert_eq!(m.labels().get(CONTROL_PLANE_NAME_LABEL).map(String::as_str), Some(KCP));
        let owner = m
            .owner_references()
            .iter()
            .find(|r| r.controller == Some(true))
            .expect("controller");
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("KubeadmControlPlane", uid.as_str()));
        assert_eq!(m.spec.version.as_deref(), Some(VERSION));
        assert_eq!(m.spec.infrastructure_ref.kind.as_deref(), Some("VSphereMachine"));
        assert_eq!(m.spec.bootstrap.data_secret_name.as_deref(), Some(m.name_any().as_str()));
        assert_eq!(w.site.vm(&m.name_any()).expect("vm").role, VmRole::ControlPlane);
        let node = Api::<Node>::all(w.workload.clone()).get(&m.name_any()).await.expect("node");
        assert!(
            node.labels().contains_key("node-role.kubernetes.io/control-plane"),
            "{:?}",
            node.labels()
        );
    }

    let status = kcp.status.clone().expect("kcp status");
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.updated_replicas,
            status.unavailable_replicas
        ),
        (3, 3, 3, 0)
    );
    assert!(status.ready && status.initialized, "{status:?}");
    assert_eq!(status.version.as_deref(), Some(VERSION));
    assert_eq!(
        status.selector.as_deref(),
        Some("cluster.x-k8s.io/cluster-name=wc,cluster.x-k8s.io/control-plane")
    );
    assert!(is_true(&status.conditions, AVAILABLE), "{:?}", status.conditions);
    assert!(is_true(&status.conditions, MACHINES_READY), "{:?}", status.conditions);
    assert!(is_true(&status.conditions, conditions::READY), "{:?}", status.conditions);

    let cluster = w.api::<Cluster>().get(CLUSTER).await.expect("cluster");
    let cs = cluster.status.clone().expect("cluster status");
    assert!(cs.control_plane_ready, "{cs:?}");
    assert!(is_true(&cs.conditions, conditions::CONTROL_PLANE_INITIALIZED));
    assert!(is_true(&cs.conditions, conditions::CONTROL_PLANE_READY));
}

#[tokio::test]
async fn scaling_down_removes_the_oldest_one_at_a_time() {
    let w = World::new().await;
    create_control_plane(&w, 3, false).await;
    w.settle().await;
    let before = machines_by_age(&w).await;
    assert_eq!(before.len(), 3);
    let newest = before[2].name_any();
    w.api::<KubeadmControlPlane>()
        .patch(KCP, &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}})))
        .await
        .expect("scale");
    let report = settle_one_at_a_time(&w).await;
    // The KCP reports the deletion request, the Machine controller the finalizer's removal.
    let mut deleted: Vec<String> = Vec::new();
    for d in report.deleted.iter().filter(|d| d.starts_with("Machine/")) {
        if !deleted.contains(d) {
            deleted.push(d.clone());
        }
    }
    let oldest: Vec<String> = before[..2].iter().map(|m| format!("Machine/{}", m.name_any())).collect();
    assert_eq!(deleted, oldest, "oldest first");
    w.assert_running(1).await;
    assert_eq!(w.machines().await[0].name_any(), newest);
    let status = kcp(&w).await.status.expect("status");
    assert_eq!((status.replicas, status.ready_replicas, status.unavailable_replicas), (1, 1, 0));
}

#[tokio::test]
async fn restored_machines_without_owners_are_adopted_not_duplicated() {
    let w = World::new().await;
    create_control_plane(&w, 3, false).await;
    w.settle().await;
    let mut names: Vec<String> = w.machines().await.iter().map(|m| m.name_any()).collect();
    names.sort();
    // What a restore without ownerReferences leaves behind.
    for name in &names {
        w.api::<Machine>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"ownerReferences": []}})),
            )
            .await
            .expect("drop owners");
    }
    assert!(w.machines().await.iter().all(|m| m.owner_references().is_empty()));
    let report = settle_one_at_a_time(&w).await;
    let mut adopted: Vec<String> = report.adopted.iter().filter(|a| a.starts_with("Machine/")).cloned().collect();
    adopted.sort();
    assert_eq!(adopted, names.iter().map(|n| format!("Machine/{n}")).collect::<Vec<_>>());
    assert!(report.created.is_empty() && report.deleted.is_empty(), "{report:?}");
    w.assert_running(3).await;
    let uid = kcp(&w).await.uid().expect("uid");
    for m in w.machines().await {
        assert!(m.owner_references().iter().any(|r| r.uid == uid && r.controller == Some(true)));
    }
}

#[tokio::test]
async fn a_paused_cluster_or_control_plane_stands_still() {
    let w = World::new().await;
    create_control_plane(&w, 1, false).await;
    w.settle().await;
    w.assert_running(1).await;

    w.set_paused(true).await;
    let scale = Patch::Merge(json!({"spec": {"replicas": 3}}));
    w.api::<KubeadmControlPlane>()
        .patch(KCP, &PatchParams::default(), &scale)
        .await
        .expect("scale");
    let paused = w.settle().await;
    assert!(paused.contains(&format!("KubeadmControlPlane/{KCP}")), "{paused:?}");
    w.assert_running(1).await;

    // The annotation alone pauses the control plane.
    w.api::<KubeadmControlPlane>()
        .patch(
            KCP,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {PAUSED_ANNOTATION: ""}}})),
        )
        .await
        .expect("annotate");
    w.set_paused(false).await;
    let paused = w.settle().await;
    assert!(paused.contains(&format!("KubeadmControlPlane/{KCP}")), "{paused:?}");
    w.assert_running(1).await;

    w.api::<KubeadmControlPlane>()
        .patch(
            KCP,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {PAUSED_ANNOTATION: null}}})),
        )
        .await
        .expect("unannotate");
    settle_one_at_a_time(&w).await;
    w.assert_running(3).await;
}

#[tokio::test]
async fn nothing_is_created_before_the_cluster_infrastructure_is_ready() {
    let w = World::new().await;
    create_control_plane(&w, 1, false).await;
    let not_ready = Patch::Merge(json!({"status": {"infrastructureReady": false}}));
    w.api::<Cluster>()
        .patch_status(CLUSTER, &PatchParams::default(), &not_ready)
        .await
        .expect("cluster status");
    w.settle().await;
    assert!(w.machines().await.is_empty());
    let status = kcp(&w).await.status.expect("status is reported while waiting");
    assert_eq!((status.replicas, status.ready, status.initialized), (0, false, false));
    assert!(!is_true(&status.conditions, AVAILABLE), "{:?}", status.conditions);

    let ready = Patch::Merge(json!({"status": {"infrastructureReady": true}}));
    w.api::<Cluster>()
        .patch_status(CLUSTER, &PatchParams::default(), &ready)
        .await
        .expect("cluster status");
    w.settle().await;
    w.assert_running(1).await;
}
