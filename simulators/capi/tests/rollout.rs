//! The KubeadmControlPlane rolling upgrade in the full simulated world: a new `spec.version`
//! (or a new infrastructure template) replaces the control-plane Machines one at a time — a
//! surge Machine first with `maxSurge` 1, a deletion first with `maxSurge` 0 — never dropping
//! below the healthy Machines the strategy promises, each replacement a new Machine on a new
//! VM, with `MachinesSpecUpToDate` and `updatedReplicas` following; an expired `rolloutAfter`
//! replaces the Machines created before it; a paused Cluster does not roll out.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{CLUSTER, NS, World};
use drdrill_apis::capi::conditions::{self, MACHINES_SPEC_UP_TO_DATE, READY};
use drdrill_apis::capi::{Cluster, KubeadmControlPlane, Machine};
use drdrill_apis::vsphere::{VSphereMachine, VSphereMachineTemplate};
use drdrill_capi_sim::controllers::kubeadmcontrolplane::ROLLING_UPDATE_IN_PROGRESS;
use drdrill_kube_sim::clock::{Clock, k8s_time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

const KCP: &str = "wc-control-plane";
const OLD: &str = "v1.24.10+vmware.1";
const NEW: &str = "v1.25.7+vmware.2";

/// A VSphereMachineTemplate named `name` for the control plane.
async fn create_template(w: &World, name: &str, image: &str) {
    let template: VSphereMachineTemplate = serde_json::from_value(json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": {"spec": {"template": image, "numCPUs": 2, "memoryMiB": 8192, "diskGiB": 40,
            "network": {"devices": [{"networkName": "/dc0/network/VM Network", "dhcp4": true}]}}}},
    }))
    .expect("template");
    w.api::<VSphereMachineTemplate>()
        .create(&PostParams::default(), &template)
        .await
        .expect("template");
}

/// A Cluster whose infrastructure is ready, with a KubeadmControlPlane of 3 replicas at `OLD`
/// and the given rollout strategy (`Value::Null`: none, upstream's default).
async fn create_control_plane(w: &World, strategy: Value) {
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"controlPlaneEndpoint": {"host": "10.0.0.10", "port": 6443},
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
    create_template(w, KCP, "/dc0/vm/photon-3-kube-v1.24.10+vmware.1").await;
    let mut kcp = json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": {"name": KCP, "namespace": NS},
        "spec": {"replicas": 3, "version": OLD,
            "kubeadmConfigSpec": {"clusterConfiguration": {"imageRepository": "projects.registry.vmware.com/tkg"}},
            "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": KCP}}},
    });
    if !strategy.is_null() {
        kcp["spec"]["rolloutStrategy"] = strategy;
    }
    let kcp: KubeadmControlPlane = serde_json::from_value(kcp).expect("kcp");
    w.api::<KubeadmControlPlane>()
        .create(&PostParams::default(), &kcp)
        .await
        .expect("kcp");
}

async fn kcp(w: &World) -> KubeadmControlPlane {
    w.api::<KubeadmControlPlane>().get(KCP).await.expect("kcp")
}

async fn patch_kcp(w: &World, patch: Value) {
    w.api::<KubeadmControlPlane>()
        .patch(KCP, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch kcp");
}

/// A Machine's Node is Ready and the Machine is not being deleted.
fn serving(m: &Machine, ready: &[String]) -> bool {
    m.meta().deletion_timestamp.is_none()
        && m.status
            .as_ref()
            .and_then(|s| s.node_ref.as_ref())
            .and_then(|r| r.name.as_ref())
            .is_some_and(|n| ready.contains(n))
}

/// What a rollout did, pass by pass.
#[derive(Default)]
struct Rollout {
    /// `+name` for a Machine created, `-name` for a Machine whose deletion was requested, in order.
    steps: Vec<String>,
    /// The most Machines seen at once.
    most: usize,
    /// The fewest serving Machines seen at once.
    fewest_serving: usize,
    /// Every `MachinesSpecUpToDate=False` message seen on the KCP.
    messages: BTreeSet<String>,
}

/// Drives controller and kubelet passes a second apart until two in a row change nothing,
/// checking after each that at most one Machine is on its way (no Node yet, or deleting).
async fn roll(w: &World) -> Rollout {
    let mut quiet = 0;
    let mut seen = Rollout {
        fewest_serving: usize::MAX,
        ..Rollout::default()
    };
    for _ in 0..200 {
        let report = w.controllers.pass().await.expect("controller pass");
        let agent = w.agent.sync().await.expect("kubelets");
        let lifecycle = w.lifecycle.sync().await.expect("node lifecycle");
        for c in report.created.iter().filter_map(|c| c.strip_prefix("Machine/")) {
            seen.steps.push(format!("+{c}"));
        }
        for d in report.deleted.iter().filter_map(|d| d.strip_prefix("Machine/")) {
            // The KCP requests the deletion; the Machine controller reports the finalizer's removal.
            if !seen.steps.contains(&format!("-{d}")) {
                seen.steps.push(format!("-{d}"));
            }
        }
        let machines = w.machines().await;
        let ready = w.ready_nodes().await;
        seen.most = seen.most.max(machines.len());
        seen.fewest_serving = seen.fewest_serving.min(machines.iter().filter(|m| serving(m, &ready)).count());
        let in_flight: Vec<String> = machines
            .iter()
            .filter(|m| m.meta().deletion_timestamp.is_some() || m.status.as_ref().and_then(|s| s.node_ref.as_ref()).is_none())
            .map(|m| m.name_any())
            .collect();
        assert!(in_flight.len() <= 1, "more than one Machine in flight: {in_flight:?}");
        let status = kcp(w).await.status.unwrap_or_default();
        if let Some(c) = conditions::find(&status.conditions, MACHINES_SPEC_UP_TO_DATE).filter(|c| c.status == "False") {
            assert_eq!(c.reason.as_deref(), Some(ROLLING_UPDATE_IN_PROGRESS));
            seen.messages.insert(c.message.clone().unwrap_or_default());
        }
        w.clock.advance(Duration::from_secs(1));
        if report.changed() || !agent.registered.is_empty() || !lifecycle.is_empty() {
            quiet = 0;
        } else {
            quiet += 1;
            if quiet == 2 {
                return seen;
            }
        }
    }
    panic!("the rollout did not settle in 200 passes");
}

/// Names of the Machines, oldest first.
async fn names_by_age(w: &World) -> Vec<String> {
    let mut ms = w.machines().await;
    ms.sort_by_key(|m| (m.meta().creation_timestamp.clone().map(|t| t.0), m.name_any()));
    ms.iter().map(|m| m.name_any()).collect()
}

/// Asserts the end state of a finished upgrade to `NEW`: three new Machines on three new VMs
/// at the new version, the old ones and their VMs gone, and the KCP status caught up.
async fn assert_upgraded(w: &World, old: &[String]) {
    w.assert_running(3).await;
    let machines = w.machines().await;
    for m in &machines {
        assert!(!old.contains(&m.name_any()), "{} survived the rollout", m.name_any());
        assert_eq!(m.spec.version.as_deref(), Some(NEW), "{}", m.name_any());
        assert_eq!(w.site.vm(&m.name_any()).expect("vm").kubelet_version, NEW);
    }
    for name in old {
        assert!(w.site.vm(name).is_none(), "the VM of {name} is deleted");
    }
    let status = kcp(w).await.status.expect("status");
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.ready_replicas,
            status.unavailable_replicas
        ),
        (3, 3, 3, 0)
    );
    assert_eq!(status.version.as_deref(), Some(NEW));
    let up_to_date = conditions::find(&status.conditions, MACHINES_SPEC_UP_TO_DATE).expect("MachinesSpecUpToDate");
    assert!(up_to_date.is_true(), "{up_to_date:?}");
    assert!(
        conditions::find(&status.conditions, READY).is_some_and(|c| c.is_true()),
        "{:?}",
        status.conditions
    );
}

#[tokio::test]
async fn a_new_version_surges_one_machine_then_replaces_the_oldest_one_at_a_time() {
    let w = World::new().await;
    create_control_plane(&w, Value::Null).await;
    w.settle().await;
    w.assert_running(3).await;
    let old = names_by_age(&w).await;
    let status = kcp(&w).await.status.expect("status");
    assert!(
        conditions::find(&status.conditions, MACHINES_SPEC_UP_TO_DATE).is_none(),
        "no rollout yet, no condition (upstream sets it first when a rollout starts): {:?}",
        status.conditions
    );

    patch_kcp(&w, json!({"spec": {"version": NEW}})).await;
    let rollout = roll(&w).await;

    assert_eq!(rollout.most, 4, "replicas + maxSurge, never more");
    assert_eq!(rollout.fewest_serving, 3, "never fewer than replicas serving");
    // Surge, then remove the oldest outdated Machine, three times over.
    let shape: Vec<char> = rollout.steps.iter().map(|s| s.as_bytes()[0] as char).collect();
    assert_eq!(shape, ['+', '-', '+', '-', '+', '-'], "{:?}", rollout.steps);
    let deleted: Vec<String> = rollout
        .steps
        .iter()
        .filter_map(|s| s.strip_prefix('-'))
        .map(str::to_string)
        .collect();
    assert_eq!(deleted, old, "the oldest first");
    let created: Vec<&str> = rollout.steps.iter().filter_map(|s| s.strip_prefix('+')).collect();
    assert!(created.iter().all(|c| c.starts_with(&format!("{KCP}-"))), "{created:?}");
    assert!(
        rollout
            .messages
            .contains("Rolling 3 replicas with outdated spec (0 replicas up to date)"),
        "{:?}",
        rollout.messages
    );
    assert!(
        rollout
            .messages
            .contains("Rolling 1 replicas with outdated spec (3 replicas up to date)"),
        "{:?}",
        rollout.messages
    );
    assert_upgraded(&w, &old).await;
}

#[tokio::test]
async fn max_surge_zero_deletes_an_outdated_machine_before_creating_its_replacement() {
    let w = World::new().await;
    create_control_plane(&w, json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0}})).await;
    w.settle().await;
    w.assert_running(3).await;
    let old = names_by_age(&w).await;

    patch_kcp(&w, json!({"spec": {"version": NEW}})).await;
    let rollout = roll(&w).await;

    assert_eq!(rollout.most, 3, "no surge Machine");
    assert_eq!(rollout.fewest_serving, 2, "one replica down at a time");
    let shape: Vec<char> = rollout.steps.iter().map(|s| s.as_bytes()[0] as char).collect();
    assert_eq!(shape, ['-', '+', '-', '+', '-', '+'], "{:?}", rollout.steps);
    let deleted: Vec<String> = rollout
        .steps
        .iter()
        .filter_map(|s| s.strip_prefix('-'))
        .map(str::to_string)
        .collect();
    assert_eq!(deleted, old, "the oldest first");
    assert_upgraded(&w, &old).await;
}

#[tokio::test]
async fn a_new_infrastructure_template_rolls_out_machines_cloned_from_it() {
    let w = World::new().await;
    create_control_plane(&w, Value::Null).await;
    w.settle().await;
    let old = names_by_age(&w).await;
    create_template(&w, "wc-control-plane-v2", "/dc0/vm/photon-3-kube-v1.24.10+vmware.1-bigger").await;
    patch_kcp(
        &w,
        json!({"spec": {"machineTemplate": {"infrastructureRef": {"name": "wc-control-plane-v2"}}}}),
    )
    .await;
    let rollout = roll(&w).await;
    assert_eq!((rollout.most, rollout.fewest_serving), (4, 3));
    assert_eq!(rollout.steps.len(), 6, "{:?}", rollout.steps);
    w.assert_running(3).await;
    for m in w.machines().await {
        assert!(!old.contains(&m.name_any()), "{} survived the rollout", m.name_any());
        assert_eq!(m.spec.version.as_deref(), Some(OLD), "the version did not change");
        let vsm = w.api::<VSphereMachine>().get(&m.name_any()).await.expect("vsm");
        assert_eq!(
            vsm.annotations().get("cluster.x-k8s.io/cloned-from-name").map(String::as_str),
            Some("wc-control-plane-v2")
        );
        assert_eq!(vsm.spec.template, "/dc0/vm/photon-3-kube-v1.24.10+vmware.1-bigger");
    }
    let status = kcp(&w).await.status.expect("status");
    assert_eq!((status.replicas, status.updated_replicas, status.ready_replicas), (3, 3, 3));
    assert!(conditions::find(&status.conditions, MACHINES_SPEC_UP_TO_DATE).is_some_and(|c| c.is_true()));
}

#[tokio::test]
async fn a_paused_cluster_does_not_roll_out_until_unpaused() {
    let w = World::new().await;
    create_control_plane(&w, Value::Null).await;
    w.settle().await;
    let old = names_by_age(&w).await;
    let vms_before = w.site.list();

    w.set_paused(true).await;
    patch_kcp(&w, json!({"spec": {"version": NEW}})).await;
    let paused = w.settle().await;
    assert!(paused.contains(&format!("KubeadmControlPlane/{KCP}")), "{paused:?}");
    assert_eq!(names_by_age(&w).await, old, "no Machine created or deleted while paused");
    assert_eq!(w.site.list(), vms_before, "the VMs are untouched");
    let status = kcp(&w).await.status.expect("status");
    assert_eq!(status.updated_replicas, 3, "the status is not reconciled while paused either");
    assert!(w.machines().await.iter().all(|m| m.spec.version.as_deref() == Some(OLD)));

    w.set_paused(false).await;
    let rollout = roll(&w).await;
    assert_eq!(rollout.steps.len(), 6, "{:?}", rollout.steps);
    assert_upgraded(&w, &old).await;
}

#[tokio::test]
async fn an_expired_rollout_after_replaces_the_machines_created_before_it() {
    let w = World::new().await;
    create_control_plane(&w, Value::Null).await;
    w.settle().await;
    let old = names_by_age(&w).await;

    patch_kcp(&w, json!({"spec": {"rolloutAfter": "next tuesday"}})).await;
    let err = w.controllers.kubeadm_control_planes.reconcile_all().await.expect_err("bad time");
    assert!(
        err.to_string().starts_with(&format!(
            "KubeadmControlPlane {NS}/{KCP}: spec.rolloutAfter \"next tuesday\" is not an RFC 3339 time"
        )),
        "{err}"
    );

    // Not yet expired: nothing happens; then the clock passes it and every older Machine goes.
    let after = w.clock.now() + Duration::from_secs(30);
    patch_kcp(&w, json!({"spec": {"rolloutAfter": k8s_time(after)}})).await;
    w.settle().await;
    assert_eq!(names_by_age(&w).await, old, "nothing before rolloutAfter");
    w.clock.advance(Duration::from_secs(60));
    let rollout = roll(&w).await;
    assert_eq!((rollout.most, rollout.fewest_serving), (4, 3));
    assert_eq!(rollout.steps.len(), 6, "{:?}", rollout.steps);
    w.assert_running(3).await;
    let now = names_by_age(&w).await;
    assert!(now.iter().all(|n| !old.contains(n)), "{now:?} vs {old:?}");
    assert!(w.machines().await.iter().all(|m| m.spec.version.as_deref() == Some(OLD)));
    // The replacements were created after rolloutAfter: the rollout does not repeat.
    let quiet = roll(&w).await;
    assert!(quiet.steps.is_empty(), "{:?}", quiet.steps);
}
