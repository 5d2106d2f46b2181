//! The MachineHealthCheck controller in the full simulated world: a powered-off worker's Node
//! goes `Ready=Unknown`, the check waits out its timeout on the virtual clock, marks the
//! Machine, and the MachineSet replaces it; `maxUnhealthy` and a paused Cluster stop it. A
//! Machine whose Node is gone is replaced at once; one whose Node never registers, after
//! `nodeStartupTimeout`.

mod common;

use std::time::Duration;

use common::{CLUSTER, NS, World, create_cluster};
use drdrill_apis::capi::conditions::{self, HEALTH_CHECK_SUCCEEDED, OWNER_REMEDIATED, REMEDIATION_ALLOWED};
use drdrill_apis::capi::{Machine, MachineHealthCheck};
use drdrill_kube_sim::Clock;
use jiff::SignedDuration;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

async fn create_mhc(w: &World, max_unhealthy: &str) {
    let mhc: MachineHealthCheck = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineHealthCheck",
        "metadata": {"name": "wc-md-0", "namespace": NS},
        "spec": {"clusterName": CLUSTER, "maxUnhealthy": max_unhealthy,
            "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": "wc-md-0"}},
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

async fn mhc(w: &World) -> MachineHealthCheck {
    w.api::<MachineHealthCheck>().get("wc-md-0").await.expect("mhc")
}

fn condition(m: &Machine, type_: &str) -> Option<conditions::Condition> {
    conditions::find(&m.status.clone().unwrap_or_default().conditions, type_).cloned()
}

async fn names(w: &World) -> Vec<String> {
    w.machines().await.iter().map(|m| m.name_any()).collect()
}

/// Like `World::settle`, but the VMs in `down` stay down: CAPV's VSphereMachine controller
/// powers a powered-off VM back on (`reconcilePowerState`), and these die again before their
/// kubelet posts anything (a guest that hangs at boot).
async fn settle_down(w: &World, down: &[&str]) {
    let mut quiet = 0;
    for _ in 0..40 {
        let mut report = w.controllers.pass().await.expect("controller pass");
        report.updated.retain(|u| !down.iter().any(|vm| *u == format!("VM/{vm}")));
        for vm in down {
            if w.site.vm(vm).is_some() {
                w.site.power_off(vm).expect("power off");
            }
        }
        let agent = w.agent.sync().await.expect("kubelets");
        let lifecycle = w.lifecycle.sync().await.expect("node lifecycle");
        w.clock.advance(Duration::from_secs(1));
        if report.changed() || !agent.registered.is_empty() || !lifecycle.is_empty() {
            quiet = 0;
        } else {
            quiet += 1;
            if quiet == 2 {
                return;
            }
        }
    }
    panic!("controllers did not settle in 40 passes");
}

/// Powers `vms` off (for good) and lets the node lifecycle controller mark their Nodes
/// `Ready=Unknown`.
async fn power_off(w: &World, vms: &[&str]) {
    for vm in vms {
        w.site.power_off(vm).expect("power off");
    }
    w.clock.advance(Duration::from_secs(45));
    settle_down(w, vms).await;
    for vm in vms {
        let node = Api::<Node>::all(w.workload.clone()).get(vm).await.expect("node");
        let ready = node.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(ready.iter().any(|c| c.type_ == "Ready" && c.status == "Unknown"), "{vm}: {ready:?}");
    }
}

#[tokio::test]
async fn an_unreachable_worker_is_replaced_after_the_timeout_and_not_before() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_mhc(&w, "100%").await;
    w.settle().await;
    w.assert_running(3).await;
    let check = mhc(&w).await;
    assert_eq!(
        check.labels().get("cluster.x-k8s.io/cluster-name").map(String::as_str),
        Some(CLUSTER)
    );
    assert!(check.owner_references().iter().any(|r| r.kind == "Cluster" && r.name == CLUSTER));
    let status = check.status.expect("mhc status");
    let mut before = names(&w).await;
    before.sort();
    assert_eq!(status.targets, before);
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 3, 3)
    );
    assert!(conditions::find(&status.conditions, REMEDIATION_ALLOWED).is_some_and(|c| c.is_true()));
    for m in w.machines().await {
        assert!(
            condition(&m, HEALTH_CHECK_SUCCEEDED).is_some_and(|c| c.is_true()),
            "{}",
            m.name_any()
        );
    }

    let victim = before[1].clone();
    power_off(&w, &[&victim]).await;
    // Ready=Unknown for less than 5m: counted not healthy, nothing marked or replaced.
    w.clock.advance(Duration::from_secs(4 * 60));
    settle_down(&w, &[&victim]).await;
    assert_eq!(names(&w).await.len(), 3);
    let m = w.api::<Machine>().get(&victim).await.expect("victim still there");
    assert!(m.meta().deletion_timestamp.is_none());
    assert!(condition(&m, OWNER_REMEDIATED).is_none(), "{:?}", m.status);
    let status = mhc(&w).await.status.expect("status");
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 2, 2)
    );

    // Past 5m: one pass marks the Machine, the next deletes it through its MachineSet.
    w.clock.advance(Duration::from_secs(60));
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.updated.contains(&format!("Machine/{victim}")), "{report:?}");
    let m = w.api::<Machine>().get(&victim).await.expect("victim");
    let hc = condition(&m, HEALTH_CHECK_SUCCEEDED).expect("HealthCheckSucceeded");
    assert_eq!((hc.status.as_str(), hc.reason.as_deref()), ("False", Some("UnhealthyNode")));
    assert_eq!(
        hc.message.as_deref(),
        Some("Condition Ready on node is reporting status Unknown for more than 5m0s")
    );
    let or = condition(&m, OWNER_REMEDIATED).expect("OwnerRemediated");
    assert_eq!((or.status.as_str(), or.reason.as_deref()), ("False", Some("WaitingForRemediation")));
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.deleted.contains(&format!("Machine/{victim}")), "{report:?}");
    settle_down(&w, &[&victim]).await;

    // A new Machine, VM and Node replaced the victim; the others are untouched.
    w.assert_running(3).await;
    let after = names(&w).await;
    assert!(!after.contains(&victim), "{after:?}");
    assert_eq!(before.iter().filter(|n| after.contains(n)).count(), 2, "{before:?} → {after:?}");
    assert!(w.site.vm(&victim).is_none());
    let status = mhc(&w).await.status.expect("status");
    assert_eq!((status.expected_machines, status.current_healthy), (3, 3));
}

#[tokio::test]
async fn too_many_unhealthy_stops_remediation() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_mhc(&w, "40%").await;
    w.settle().await;
    let before = names(&w).await;
    power_off(&w, &[&before[0], &before[2]]).await;
    w.clock.advance(Duration::from_secs(6 * 60));
    settle_down(&w, &[&before[0], &before[2]]).await;
    assert_eq!(names(&w).await, before, "nothing deleted or replaced");
    let status = mhc(&w).await.status.expect("status");
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 1, 0)
    );
    let allowed = conditions::find(&status.conditions, REMEDIATION_ALLOWED).expect("RemediationAllowed");
    assert_eq!(
        (allowed.status.as_str(), allowed.reason.as_deref()),
        ("False", Some("TooManyUnhealthy"))
    );
    assert_eq!(
        allowed.message.as_deref(),
        Some(
            "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: 3, unhealthy: 2, maxUnhealthy: 40%)"
        )
    );
    for name in [&before[0], &before[2]] {
        let m = w.api::<Machine>().get(name).await.expect("machine");
        assert!(condition(&m, HEALTH_CHECK_SUCCEEDED).is_some_and(|c| c.status == "False"));
        assert!(
            condition(&m, OWNER_REMEDIATED).is_none(),
            "{name} must not be marked for remediation"
        );
    }
}

#[tokio::test]
async fn a_paused_cluster_is_not_health_checked() {
    let w = World::new().await;
    create_cluster(&w, 2).await;
    create_mhc(&w, "100%").await;
    w.settle().await;
    let before = names(&w).await;
    w.set_paused(true).await;
    power_off(&w, &[&before[0]]).await;
    w.clock.advance(Duration::from_secs(10 * 60));
    let paused = w.settle().await;
    assert!(paused.contains(&"MachineHealthCheck/wc-md-0".to_string()), "{paused:?}");
    assert_eq!(names(&w).await, before);
    let m = w.api::<Machine>().get(&before[0]).await.expect("machine");
    assert!(
        condition(&m, HEALTH_CHECK_SUCCEEDED).is_some_and(|c| c.is_true()),
        "not re-checked while paused"
    );
    assert_eq!(mhc(&w).await.status.expect("status").current_healthy, 2);

    // Unpaused, the overdue Machine is replaced at once.
    w.set_paused(false).await;
    w.settle().await;
    w.assert_running(2).await;
    assert!(!names(&w).await.contains(&before[0]));
}

#[tokio::test]
async fn a_stale_worker_whose_node_and_vm_are_gone_is_replaced_at_once() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_mhc(&w, "100%").await;
    w.settle().await;
    w.assert_running(3).await;
    let mut before = names(&w).await;
    before.sort();

    // A scale-down after a backup: while the Cluster is paused, the Node and the VM go.
    let victim = before[2].clone();
    w.set_paused(true).await;
    Api::<Node>::all(w.workload.clone())
        .delete(&victim, &DeleteParams::default())
        .await
        .expect("delete node");
    w.site.delete_vm(&victim).expect("delete vm");
    let paused = w.settle().await;
    assert!(paused.contains(&"MachineHealthCheck/wc-md-0".to_string()), "{paused:?}");
    assert_eq!(names(&w).await, before, "nothing happens while paused");
    assert!(w.site.vm(&victim).is_none(), "no VM recreated while paused");

    // Unpaused: the first pass marks the stale Machine NodeNotFound, no timeout.
    w.set_paused(false).await;
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.updated.contains(&format!("Machine/{victim}")), "{report:?}");
    let m = w.api::<Machine>().get(&victim).await.expect("victim");
    assert!(m.meta().deletion_timestamp.is_none());
    let hc = condition(&m, HEALTH_CHECK_SUCCEEDED).expect("HealthCheckSucceeded");
    assert_eq!((hc.status.as_str(), hc.reason.as_deref()), ("False", Some("NodeNotFound")));
    let or = condition(&m, OWNER_REMEDIATED).expect("OwnerRemediated");
    assert_eq!((or.status.as_str(), or.reason.as_deref()), ("False", Some("WaitingForRemediation")));
    for name in [&before[0], &before[1]] {
        let m = w.api::<Machine>().get(name).await.expect("machine");
        assert!(condition(&m, HEALTH_CHECK_SUCCEEDED).is_some_and(|c| c.is_true()), "{name}");
        assert!(condition(&m, OWNER_REMEDIATED).is_none(), "{name}");
    }
    let status = mhc(&w).await.status.expect("status");
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (3, 2, 2)
    );

    // The next pass deletes it through its MachineSet; a new Machine, VM and Node replace it.
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.deleted.contains(&format!("Machine/{victim}")), "{report:?}");
    w.settle().await;
    w.assert_running(3).await;
    let after = names(&w).await;
    assert!(!after.contains(&victim), "{after:?}");
    assert_eq!(before.iter().filter(|n| after.contains(n)).count(), 2, "{before:?} → {after:?}");
    assert!(w.site.vm(&victim).is_none());
    assert_eq!(w.ready_nodes().await.len(), 3);
    let status = mhc(&w).await.status.expect("status");
    assert_eq!((status.expected_machines, status.current_healthy), (3, 3));
}

#[tokio::test]
async fn a_worker_whose_node_never_registers_is_replaced_after_node_startup_timeout() {
    let w = World::new().await;
    create_cluster(&w, 3).await;
    create_mhc(&w, "100%").await;
    w.api::<MachineHealthCheck>()
        .patch(
            "wc-md-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"nodeStartupTimeout": "10m"}})),
        )
        .await
        .expect("nodeStartupTimeout");
    w.settle().await;
    w.assert_running(3).await;
    let before = names(&w).await;

    // Scale up; the new Machine's VM hangs at boot, so no kubelet ever registers a Node.
    w.scale(4).await;
    w.controllers.pass().await.expect("pass");
    let new: Vec<String> = names(&w).await.into_iter().filter(|n| !before.contains(n)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let stuck = new[0].clone();
    settle_down(&w, &[&stuck]).await;
    assert!(w.site.vm(&stuck).is_some(), "the VM exists");
    assert!(
        Api::<Node>::all(w.workload.clone()).get_opt(&stuck).await.expect("node").is_none(),
        "no Node for {stuck}"
    );
    let created = w
        .api::<Machine>()
        .get(&stuck)
        .await
        .expect("stuck")
        .creation_timestamp()
        .expect("created")
        .0;

    // Just short of 10m since its creation: pending, not marked, not replaced.
    let wait = (created + SignedDuration::from_secs(9 * 60 + 50)).duration_since(w.clock.now());
    w.clock.advance(Duration::try_from(wait).expect("still ahead"));
    settle_down(&w, &[&stuck]).await;
    assert!(w.clock.now() < created + SignedDuration::from_secs(10 * 60), "{}", w.clock.now());
    let m = w.api::<Machine>().get(&stuck).await.expect("stuck still there");
    assert!(m.meta().deletion_timestamp.is_none());
    assert!(condition(&m, HEALTH_CHECK_SUCCEEDED).is_none(), "{:?}", m.status);
    assert!(condition(&m, OWNER_REMEDIATED).is_none(), "{:?}", m.status);
    assert_eq!(names(&w).await.len(), 4);
    let status = mhc(&w).await.status.expect("status");
    assert_eq!(
        (status.expected_machines, status.current_healthy, status.remediations_allowed),
        (4, 3, 3)
    );

    // Past 10m: one pass marks it NodeStartupTimeout, the next deletes it.
    w.clock.advance(Duration::from_secs(15));
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.updated.contains(&format!("Machine/{stuck}")), "{report:?}");
    let m = w.api::<Machine>().get(&stuck).await.expect("stuck");
    let hc = condition(&m, HEALTH_CHECK_SUCCEEDED).expect("HealthCheckSucceeded");
    assert_eq!((hc.status.as_str(), hc.reason.as_deref()), ("False", Some("NodeStartupTimeout")));
    assert_eq!(hc.message.as_deref(), Some("Node failed to report startup in 10m0s"));
    let or = condition(&m, OWNER_REMEDIATED).expect("OwnerRemediated");
    assert_eq!((or.status.as_str(), or.reason.as_deref()), ("False", Some("WaitingForRemediation")));
    let report = w.controllers.pass().await.expect("pass");
    assert!(report.deleted.contains(&format!("Machine/{stuck}")), "{report:?}");

    // Its replacement boots normally; the three original workers are untouched.
    w.settle().await;
    w.assert_running(4).await;
    let after = names(&w).await;
    assert!(!after.contains(&stuck), "{after:?}");
    assert!(before.iter().all(|n| after.contains(n)), "{before:?} → {after:?}");
    assert!(w.site.vm(&stuck).is_none());
    let status = mhc(&w).await.status.expect("status");
    assert_eq!((status.expected_machines, status.current_healthy), (4, 4));
}
