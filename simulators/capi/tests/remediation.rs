//! Machines whose VM vanished, after a Velero restore: the VSphereMachine controller does not
//! clone a new VM for a machine that had one (CAPV's `UpdateError`), the Machine controller
//! copies the failure, the MachineHealthCheck marks the Machine at once, and its owner replaces
//! it — the MachineSet for a worker, the KubeadmControlPlane (within its remediation rules) for
//! a control-plane Machine — while VMs and Nodes no Machine manages are left alone.
//!
//! A restore is simulated as in the other tests: with the Cluster paused, every Machine and
//! VSphereMachine is replaced by its backed-up copy without status, ownerReferences or
//! finalizers.

mod common;

use std::time::Duration;

use common::{CLUSTER, NS, World, create_cluster};
use drdrill_apis::capi::conditions::{self, HEALTH_CHECK_SUCCEEDED, OWNER_REMEDIATED, REMEDIATION_ALLOWED};
use drdrill_apis::capi::{Cluster, Condition, KubeadmControlPlane, Machine, MachineDeployment, MachineHealthCheck};
use drdrill_apis::vsphere::{MACHINE_FINALIZER, VSphereMachine, VSphereMachineTemplate};
use drdrill_capi_sim::controllers::Report;
use drdrill_capi_sim::controllers::vspheremachine::{UPDATE_MACHINE_ERROR, vm_removed_message};
use drdrill_capi_sim::{PowerState, Vm, VmRole, VmSpec};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const KCP: &str = "wc-control-plane";
const VERSION: &str = "v1.24.10+vmware.1";

/// What the backup holds: every Machine and VSphereMachine.
struct Backup {
    machines: Vec<Machine>,
    vsphere_machines: Vec<VSphereMachine>,
}

async fn backup(w: &World) -> Backup {
    Backup {
        machines: w.machines().await,
        vsphere_machines: w.api::<VSphereMachine>().list(&Default::default()).await.expect("vsms").items,
    }
}

/// Metadata as a restore recreates it: name, namespace, labels and annotations only.
fn restored_meta(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone(),
        annotations: meta.annotations.clone(),
        ..Default::default()
    }
}

/// Deletes an object for good (finalizers dropped first).
async fn purge<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let drop = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    api.patch(name, &PatchParams::default(), &drop).await.expect("drop finalizers");
    api.delete(name, &DeleteParams::default()).await.expect("delete");
    assert!(api.get_opt(name).await.expect("get").is_none(), "{name} is gone");
}

/// Replaces every Machine and VSphereMachine by its backed-up copy, without status,
/// ownerReferences or finalizers; the Cluster must be paused.
async fn restore(w: &World, backup: &Backup) {
    let cluster = w.api::<Cluster>().get(CLUSTER).await.expect("cluster");
    assert!(cluster.spec.paused, "restore into a paused Cluster");
    for m in w.machines().await {
        purge(&w.api::<Machine>(), &m.name_any()).await;
    }
    for vsm in w.api::<VSphereMachine>().list(&Default::default()).await.expect("vsms") {
        purge(&w.api::<VSphereMachine>(), &vsm.name_any()).await;
    }
    for vsm in &backup.vsphere_machines {
        let mut copy = VSphereMachine::new(&vsm.name_any(), vsm.spec.clone());
        copy.metadata = restored_meta(vsm.meta());
        w.api::<VSphereMachine>()
            .create(&PostParams::default(), &copy)
            .await
            .expect("restore vsm");
    }
    for m in &backup.machines {
        let mut copy = Machine::new(&m.name_any(), m.spec.clone());
        copy.metadata = restored_meta(m.meta());
        w.api::<Machine>()
            .create(&PostParams::default(), &copy)
            .await
            .expect("restore machine");
    }
}

/// Deletes a VM and its Node, as a scale-down or replacement after the backup did.
async fn remove_vm_and_node(w: &World, name: &str) -> Vm {
    Api::<Node>::all(w.workload.clone())
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete node");
    w.site.delete_vm(name).expect("delete vm")
}

/// One controller pass, then kubelets and node lifecycle, a second later. The VMs in `down`
/// are powered off again before their kubelets run; no VM may come back for `gone`, by name
/// or by UUID.
async fn step(w: &World, gone: &[&Vm], down: &[&str]) -> (Report, bool) {
    let mut report = w.controllers.pass().await.expect("controller pass");
    report.updated.retain(|u| !down.iter().any(|vm| *u == format!("VM/{vm}")));
    for vm in down {
        if w.site.vm(vm).is_some_and(|v| v.power == PowerState::On) {
            w.site.power_off(vm).expect("power off");
        }
    }
    for vm in gone {
        assert!(w.site.vm(&vm.name).is_none(), "a VM named {} was created again", vm.name);
        assert!(
            !w.site.list().iter().any(|v| v.uuid == vm.uuid),
            "a VM with UUID {} came back",
            vm.uuid
        );
    }
    let agent = w.agent.sync().await.expect("kubelets");
    let lifecycle = w.lifecycle.sync().await.expect("node lifecycle");
    w.clock.advance(Duration::from_secs(1));
    let changed = report.changed() || !agent.registered.is_empty() || !lifecycle.is_empty();
    (report, changed)
}

/// Steps until two passes in a row change nothing; returns the merged report.
async fn settle(w: &World, gone: &[&Vm], down: &[&str]) -> Report {
    let mut quiet = 0;
    let mut all = Report::default();
    for _ in 0..60 {
        let (report, changed) = step(w, gone, down).await;
        all.merge(report);
        quiet = if changed { 0 } else { quiet + 1 };
        if quiet == 2 {
            return all;
        }
    }
    panic!("controllers did not settle in 60 passes");
}

/// Steps until `done` holds for the Machine `name` (which must still exist); returns it and
/// the report of the step that got there.
async fn step_until(w: &World, gone: &[&Vm], name: &str, done: impl Fn(&Machine) -> bool) -> (Machine, Report) {
    for _ in 0..20 {
        let (report, _) = step(w, gone, &[]).await;
        let m = w.api::<Machine>().get(name).await.expect("machine still there");
        if done(&m) {
            return (m, report);
        }
    }
    panic!("{name} never reached the expected state");
}

fn condition(m: &Machine, type_: &str) -> Option<Condition> {
    conditions::find(&m.status.clone().unwrap_or_default().conditions, type_).cloned()
}

/// `(status, reason, message)` of a condition, for compact assertions.
fn brief(c: Option<Condition>) -> (String, Option<String>, Option<String>) {
    let c = c.expect("condition present");
    (c.status, c.reason, c.message)
}

fn waiting(message: Option<&str>) -> (String, Option<String>, Option<String>) {
    ("False".into(), Some("WaitingForRemediation".into()), message.map(str::to_string))
}

async fn create_mhc(w: &World, name: &str, selector: serde_json::Value, max_unhealthy: serde_json::Value) {
    let mhc: MachineHealthCheck = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineHealthCheck",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"clusterName": CLUSTER, "maxUnhealthy": max_unhealthy, "selector": {"matchLabels": selector},
            "unhealthyConditions": [
                {"type": "Ready", "status": "Unknown", "timeout": "5m"},
                {"type": "Ready", "status": "False", "timeout": "5m"}]},
    }))
    .expect("mhc");
    w.api::<MachineHealthCheck>()
        .create(&PostParams::default(), &mhc)
        .await
        .expect("mhc");
}

async fn create_worker_mhc(w: &World, max_unhealthy: serde_json::Value) {
    create_mhc(w, "wc-md-0", json!({"cluster.x-k8s.io/deployment-name": "wc-md-0"}), max_unhealthy).await;
}

/// A Cluster whose infrastructure is ready, a KubeadmControlPlane of `replicas` and TKG's
/// control-plane MachineHealthCheck.
async fn create_control_plane(w: &World, replicas: i32) {
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
            // What the VSphereCluster would report through the Cluster controller.
            &Patch::Merge(json!({"status": {"infrastructureReady": true, "conditions": [
                {"type": "InfrastructureReady", "status": "True", "lastTransitionTime": k8s_time(w.clock.now())}]}})),
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
    create_mhc(w, "wc-kcp", json!({"cluster.x-k8s.io/control-plane": ""}), json!("100%")).await;
}

async fn names(w: &World) -> Vec<String> {
    let mut names: Vec<String> = w.machines().await.iter().map(|m| m.name_any()).collect();
    names.sort();
    names
}

async fn mhc_status(w: &World, name: &str) -> drdrill_apis::capi::MachineHealthCheckStatus {
    w.api::<MachineHealthCheck>()
        .get(name)
        .await
        .expect("mhc")
        .status
        .expect("mhc status")
}

/// The failure CAPV reports for `vm`, and the one the Machine controller copies from it.
fn expected_failure(vm: &Vm) -> (String, String) {
    let vsm_message = vm_removed_message(&vm.uuid);
    let machine_message = format!(
        "Failure detected from referenced resource infrastructure.cluster.x-k8s.io/v1beta1, Kind=VSphereMachine with name \"{}\": {vsm_message}",
        vm.name
    );
    (vsm_message, machine_message)
}

/// Checks the VSphereMachine of a vanished VM: failed as CAPV fails it, not ready, its
/// provider ID kept.
async fn assert_vsphere_machine_failed(w: &World, vm: &Vm) {
    let vsm = w.api::<VSphereMachine>().get(&vm.name).await.expect("vsm");
    assert_eq!(vsm.spec.provider_id.as_deref(), Some(vm.provider_id().as_str()));
    let status = vsm.status.clone().expect("vsm status");
    assert_eq!(status.failure_reason.as_deref(), Some(UPDATE_MACHINE_ERROR));
    assert_eq!(status.failure_message, Some(expected_failure(vm).0));
    assert!(!status.ready, "{status:?}");
    assert!(vsm.finalizers().iter().any(|f| f == MACHINE_FINALIZER));
}

/// Checks a Machine that carries its VSphereMachine's failure: phase Failed, or Deleting once
/// its owner deleted it.
fn assert_machine_failed(m: &Machine, vm: &Vm) {
    let status = m.status.clone().expect("status");
    assert_eq!(status.failure_reason.as_deref(), Some("UpdateError"));
    assert_eq!(status.failure_message, Some(expected_failure(vm).1));
    let phase = if m.meta().deletion_timestamp.is_some() {
        "Deleting"
    } else {
        "Failed"
    };
    assert_eq!(status.phase.as_deref(), Some(phase));
    assert!(status.node_ref.is_none());
    assert_eq!(
        brief(condition(m, HEALTH_CHECK_SUCCEEDED)),
        (
            "False".to_string(),
            Some("MachineHasFailure".to_string()),
            Some("FailureReason: UpdateError".to_string())
        )
    );
}

#[tokio::test]
async fn a_restored_worker_whose_vm_is_gone_gets_no_new_vm_and_is_replaced() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_worker_mhc(&w, json!("100%")).await;
    w.settle().await;
    w.assert_running(3).await;
    let before = names(&w).await;
    let backup = backup(&w).await;

    // After the backup a scale-down removed a worker's VM and Node; the management cluster is
    // then restored from the backup, so the worker's Machine and VSphereMachine come back.
    let victim = before[1].clone();
    w.set_paused(true).await;
    let gone = remove_vm_and_node(&w, &victim).await;
    restore(&w, &backup).await;
    let restored = w.api::<Machine>().get(&victim).await.expect("restored");
    assert!(restored.status.is_none() && restored.owner_references().is_empty());
    assert_eq!(restored.spec.provider_id.as_deref(), Some(gone.provider_id().as_str()));

    // Unpaused: CAPV fails the VSphereMachine instead of cloning, the Machine takes the
    // failure, and the health check marks it at once.
    w.set_paused(false).await;
    let (m, _) = step_until(&w, &[&gone], &victim, |m| condition(m, OWNER_REMEDIATED).is_some()).await;
    assert!(m.meta().deletion_timestamp.is_none());
    assert_vsphere_machine_failed(&w, &gone).await;
    assert_machine_failed(&m, &gone);
    assert_eq!(brief(condition(&m, OWNER_REMEDIATED)), waiting(None));
    let status = mhc_status(&w, "wc-md-0").await;
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 2, 2)
    );

    // The MachineSet deletes it and creates a replacement with a new name and a new VM.
    let (report, _) = step(&w, &[&gone], &[]).await;
    assert!(report.deleted.contains(&format!("Machine/{victim}")), "{report:?}");
    let report = settle(&w, &[&gone], &[]).await;
    assert_eq!(report.created.iter().filter(|c| c.starts_with("Machine/")).count(), 1, "{report:?}");
    w.assert_running(3).await;
    let after = names(&w).await;
    assert!(!after.contains(&victim), "{after:?}");
    assert_eq!(before.iter().filter(|n| after.contains(n)).count(), 2, "{before:?} → {after:?}");
    let md = w.api::<MachineDeployment>().get("wc-md-0").await.expect("md");
    assert_eq!(md.spec.replicas, Some(after.len() as i32));
    let new = after.iter().find(|n| !before.contains(n)).expect("a replacement");
    assert_ne!(w.site.vm(new).expect("new vm").uuid, gone.uuid);
    let status = mhc_status(&w, "wc-md-0").await;
    assert_eq!((status.expected_machines, status.current_healthy), (3, 3));
}

#[tokio::test]
async fn a_restored_control_plane_machine_is_remediated_by_the_kcp_and_the_ghost_is_left_alone() {
    let w = World::new().await;
    create_control_plane(&w, 3).await;
    w.settle().await;
    w.assert_running(3).await;
    let before = names(&w).await;
    let backup = backup(&w).await;

    // After the backup a control-plane Machine was replaced: its VM and Node are gone, and the
    // replacement runs as a VM and Node whose Machine the backup does not have.
    w.set_paused(true).await;
    let victim = before[0].clone();
    let gone = remove_vm_and_node(&w, &victim).await;
    let ghost = w
        .site
        .create_vm(VmSpec {
            name: format!("{KCP}-gh0st"),
            cluster: CLUSTER.into(),
            role: VmRole::ControlPlane,
            kubelet_version: VERSION.into(),
        })
        .expect("ghost vm");
    restore(&w, &backup).await;
    w.set_paused(false).await;

    // The KCP adopts the restored Machines; the health check marks the one without a VM; the
    // KCP deletes it (3 Machines, none deleting, etcd keeps quorum with the two healthy ones).
    let (m, report) = step_until(&w, &[&gone], &victim, |m| m.meta().deletion_timestamp.is_some()).await;
    assert!(report.deleted.contains(&format!("Machine/{victim}")), "{report:?}");
    assert_machine_failed(&m, &gone);
    assert_eq!(
        brief(condition(&m, OWNER_REMEDIATED)),
        ("False".to_string(), Some("RemediationInProgress".to_string()), None)
    );
    let kcp = w.api::<KubeadmControlPlane>().get(KCP).await.expect("kcp");
    let uid = kcp.uid().expect("uid");
    assert!(m.owner_references().iter().any(|r| r.uid == uid && r.controller == Some(true)));

    // The KCP's scale-up replaces it; nothing touches the ghost.
    let report = settle(&w, &[&gone], &[]).await;
    assert_eq!(report.created.iter().filter(|c| c.starts_with("Machine/")).count(), 1, "{report:?}");
    let after = names(&w).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(!after.contains(&victim) && !after.contains(&ghost.name), "{after:?}");
    assert_eq!(before.iter().filter(|n| after.contains(n)).count(), 2, "{before:?} → {after:?}");
    let new = after.iter().find(|n| !before.contains(n)).expect("a replacement").clone();
    assert!(new.starts_with(&format!("{KCP}-")), "{new}");
    for m in w.machines().await {
        let status = m.status.clone().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"), "{}", m.name_any());
        let vm = w.site.vm(&m.name_any()).expect("a VM per Machine");
        assert_eq!(m.spec.provider_id, Some(vm.provider_id()));
        assert_ne!(m.spec.provider_id, Some(ghost.provider_id()));
    }
    assert_eq!(w.site.vm(&ghost.name), Some(ghost.clone()), "the ghost VM is untouched");
    let mut ready = w.ready_nodes().await;
    ready.sort();
    let mut expected: Vec<String> = after.clone();
    expected.push(ghost.name.clone());
    expected.sort();
    assert_eq!(ready, expected, "three managed control-plane Nodes and the ghost, all Ready");
    assert_eq!(w.site.vms_of(CLUSTER).len(), 4);

    // The KCP counts Ready control-plane Nodes: 4 of 3 (tanzu's `updating 4/3`).
    let status = w.api::<KubeadmControlPlane>().get(KCP).await.expect("kcp").status.expect("status");
    assert_eq!((status.replicas, status.ready_replicas, status.updated_replicas), (3, 4, 3));
    let status = mhc_status(&w, "wc-kcp").await;
    assert_eq!((status.expected_machines, status.current_healthy), (3, 3));
}

#[tokio::test]
async fn max_unhealthy_short_circuits_remediation_of_failed_machines() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_worker_mhc(&w, json!(1)).await;
    w.settle().await;
    let before = names(&w).await;
    let backup = backup(&w).await;
    w.set_paused(true).await;
    let gone_a = remove_vm_and_node(&w, &before[0]).await;
    let gone_b = remove_vm_and_node(&w, &before[2]).await;
    restore(&w, &backup).await;
    w.set_paused(false).await;
    settle(&w, &[&gone_a, &gone_b], &[]).await;

    // Two failed Machines exceed maxUnhealthy 1: marked, not remediated, nothing replaced.
    assert_eq!(names(&w).await, before);
    for gone in [&gone_a, &gone_b] {
        assert_vsphere_machine_failed(&w, gone).await;
        let m = w.api::<Machine>().get(&gone.name).await.expect("machine");
        assert!(m.meta().deletion_timestamp.is_none());
        assert_machine_failed(&m, gone);
        assert!(condition(&m, OWNER_REMEDIATED).is_none(), "{:?}", m.status);
    }
    assert_eq!(w.site.vms_of(CLUSTER).len(), 1);
    let status = mhc_status(&w, "wc-md-0").await;
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 1, 0)
    );
    let allowed = conditions::find(&status.conditions, REMEDIATION_ALLOWED).cloned();
    assert_eq!(
        brief(allowed),
        (
            "False".to_string(),
            Some("TooManyUnhealthy".to_string()),
            Some(
                "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: 3, unhealthy: 2, maxUnhealthy: 1)"
                    .to_string()
            )
        )
    );

    // Raising maxUnhealthy lets both be replaced.
    w.api::<MachineHealthCheck>()
        .patch(
            "wc-md-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"maxUnhealthy": "100%"}})),
        )
        .await
        .expect("maxUnhealthy");
    settle(&w, &[&gone_a, &gone_b], &[]).await;
    w.assert_running(3).await;
    let after = names(&w).await;
    assert!(!after.contains(&gone_a.name) && !after.contains(&gone_b.name), "{after:?}");
    assert!(after.contains(&before[1]));
}

#[tokio::test]
async fn a_single_control_plane_machine_is_not_remediated() {
    let w = World::new().await;
    create_control_plane(&w, 1).await;
    w.settle().await;
    w.assert_running(1).await;
    let backup = backup(&w).await;
    let only = names(&w).await[0].clone();
    w.set_paused(true).await;
    let gone = remove_vm_and_node(&w, &only).await;
    restore(&w, &backup).await;
    w.set_paused(false).await;
    settle(&w, &[&gone], &[]).await;

    let m = w.api::<Machine>().get(&only).await.expect("still there");
    assert!(m.meta().deletion_timestamp.is_none());
    assert_machine_failed(&m, &gone);
    assert_eq!(
        brief(condition(&m, OWNER_REMEDIATED)),
        waiting(Some("KCP can't remediate if current replicas are less or equal to 1"))
    );
    assert_eq!(names(&w).await, vec![only]);
    assert!(w.site.vms_of(CLUSTER).is_empty(), "no VM cloned");
    let status = w.api::<KubeadmControlPlane>().get(KCP).await.expect("kcp").status.expect("status");
    assert_eq!((status.replicas, status.ready_replicas), (1, 0));
}

#[tokio::test]
async fn the_kcp_waits_while_remediation_would_lose_etcd_quorum() {
    let w = World::new().await;
    create_control_plane(&w, 3).await;
    w.settle().await;
    w.assert_running(3).await;
    let before = names(&w).await;
    let backup = backup(&w).await;
    w.set_paused(true).await;
    let victim = before[0].clone();
    let gone = remove_vm_and_node(&w, &victim).await;
    // Another control-plane VM is down: its Node (an etcd member) goes Ready=Unknown.
    let down = before[1].clone();
    w.site.power_off(&down).expect("power off");
    w.clock.advance(Duration::from_secs(45));
    w.lifecycle.sync().await.expect("node lifecycle");
    restore(&w, &backup).await;
    w.set_paused(false).await;
    settle(&w, &[&gone], &[&down]).await;

    // Without the victim, etcd would have 2 members, 1 of them unhealthy: no quorum.
    let m = w.api::<Machine>().get(&victim).await.expect("still there");
    assert!(m.meta().deletion_timestamp.is_none());
    assert_machine_failed(&m, &gone);
    assert_eq!(
        brief(condition(&m, OWNER_REMEDIATED)),
        waiting(Some(
            "KCP can't remediate this machine because this could result in etcd loosing quorum"
        ))
    );
    assert_eq!(names(&w).await, before);
    let down_machine = w.api::<Machine>().get(&down).await.expect("down");
    assert!(
        condition(&down_machine, OWNER_REMEDIATED).is_none(),
        "still within its 5m timeout: {:?}",
        down_machine.status
    );

    // Once the VM runs again the member is healthy, and the KCP remediates and replaces.
    settle(&w, &[&gone], &[]).await;
    w.assert_running(3).await;
    let after = names(&w).await;
    assert!(!after.contains(&victim), "{after:?}");
    assert!(after.contains(&before[1]) && after.contains(&before[2]), "{after:?}");
}
