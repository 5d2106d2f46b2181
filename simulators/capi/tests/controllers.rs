//! The Cluster API controllers against a management API server, a workload API server, a Site
//! and a virtual clock: a MachineDeployment becomes Running Machines with Ready Nodes, scales
//! both ways, stands still while paused, adopts what a restore orphaned without duplicating
//! anything (unless the adoption fault is injected), and adopts a VM that existed before its
//! VSphereMachine.

mod common;

use std::sync::Arc;

use common::{CLUSTER, NS, World, create_cluster};
use drdrill_apis::capi::{Machine, MachineDeployment, MachineSet};
use drdrill_apis::vsphere::VSphereMachine;
use drdrill_capi_sim::controllers::{MachineSetController, NameGenerator, StaticWorkloadClusters};
use drdrill_capi_sim::{VmRole, VmSpec};
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn machine_deployment_scales_pauses_and_adopts_after_restore() {
    let w = World::new().await;
    create_cluster(&w, 2).await;
    w.settle().await;
    w.assert_running(2).await;
    let sets = w.machine_sets().await;
    assert_eq!(sets.len(), 1);
    let ms = &sets[0];
    assert!(ms.name_any().starts_with("wc-md-0-"), "{}", ms.name_any());
    assert!(ms.labels().contains_key("machine-template-hash"));
    for m in w.machines().await {
        assert!(m.name_any().starts_with(&format!("{}-", ms.name_any())));
        assert_eq!(m.name_any().len(), ms.name_any().len() + 6);
        assert_eq!(m.labels().get("cluster.x-k8s.io/set-name"), Some(&ms.name_any()));
        assert_eq!(
            m.labels().get("cluster.x-k8s.io/deployment-name").map(String::as_str),
            Some("wc-md-0")
        );
        assert!(m.finalizers().iter().any(|f| f == "machine.cluster.x-k8s.io"));
        let vsm = w
            .api::<VSphereMachine>()
            .get(&m.name_any())
            .await
            .expect("infra machine cloned under the Machine's name");
        assert!(vsm.status.as_ref().is_some_and(|s| s.ready));
        assert_eq!(vsm.spec.template, "/dc0/vm/photon-3-kube-v1.24.10+vmware.1");
        assert!(
            vsm.owner_references()
                .iter()
                .any(|r| r.kind == "Machine" && r.controller == Some(true))
        );
        let conditions = m.status.clone().unwrap_or_default().conditions;
        for t in ["Ready", "BootstrapReady", "InfrastructureReady", "NodeHealthy"] {
            assert!(
                conditions.iter().any(|c| c.type_ == t && c.status == "True"),
                "{t} on {}",
                m.name_any()
            );
        }
        let node = Api::<Node>::all(w.workload.clone()).get(&m.name_any()).await.expect("node");
        assert_eq!(node.annotations().get("cluster.x-k8s.io/machine"), Some(&m.name_any()));
    }
    let md = w.api::<MachineDeployment>().get("wc-md-0").await.expect("md");
    let status = md.status.expect("md status");
    assert_eq!((status.replicas, status.ready_replicas, status.updated_replicas), (2, 2, 2));
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(
        status.selector.as_deref(),
        Some("cluster.x-k8s.io/cluster-name=wc,cluster.x-k8s.io/deployment-name=wc-md-0")
    );

    // Scale up, then down: Machines, VMs and Nodes follow.
    w.scale(3).await;
    w.settle().await;
    w.assert_running(3).await;
    w.scale(1).await;
    w.settle().await;
    w.assert_running(1).await;
    assert_eq!(w.machine_sets().await.len(), 1, "scaling never makes a second MachineSet");

    // Paused: scaling does nothing until the Cluster is unpaused.
    w.set_paused(true).await;
    w.scale(2).await;
    let paused = w.settle().await;
    assert!(paused.contains(&"MachineDeployment/wc-md-0".to_string()), "{paused:?}");
    assert_eq!(w.machine_sets().await[0].spec.replicas, Some(1));
    w.assert_running(1).await;
    w.set_paused(false).await;
    w.settle().await;
    w.assert_running(2).await;

    // A Velero restore drops ownerReferences: the controllers adopt, nothing is duplicated.
    let before: Vec<String> = w.machines().await.iter().map(|m| m.name_any()).collect();
    let vms_before = w.site.list();
    let drop = Patch::Merge(json!({"metadata": {"ownerReferences": null}}));
    for ms in w.machine_sets().await {
        w.api::<MachineSet>()
            .patch(&ms.name_any(), &PatchParams::default(), &drop)
            .await
            .expect("drop");
    }
    for m in w.machines().await {
        w.api::<Machine>()
            .patch(&m.name_any(), &PatchParams::default(), &drop)
            .await
            .expect("drop");
        w.api::<VSphereMachine>()
            .patch(&m.name_any(), &PatchParams::default(), &drop)
            .await
            .expect("drop");
    }
    let first = w.controllers.pass().await.expect("pass");
    assert_eq!(first.adopted.len(), 3, "one MachineSet and two Machines adopted: {first:?}");
    assert!(first.created.is_empty(), "nothing created on adoption: {first:?}");
    w.settle().await;
    w.assert_running(2).await;
    assert_eq!(w.machine_sets().await.len(), 1);
    let after: Vec<String> = w.machines().await.iter().map(|m| m.name_any()).collect();
    assert_eq!(after, before, "the same Machines, no replacements");
    assert_eq!(w.site.list(), vms_before, "the same VMs, untouched");
    for ms in w.machine_sets().await {
        assert!(
            ms.owner_references()
                .iter()
                .any(|r| r.kind == "MachineDeployment" && r.controller == Some(true))
        );
    }
    for m in w.machines().await {
        assert!(
            m.owner_references()
                .iter()
                .any(|r| r.kind == "MachineSet" && r.controller == Some(true))
        );
        let vsm = w.api::<VSphereMachine>().get(&m.name_any()).await.expect("vsm");
        assert!(
            vsm.owner_references()
                .iter()
                .any(|r| r.kind == "Machine" && r.controller == Some(true))
        );
    }
}

#[tokio::test]
async fn an_existing_vm_is_adopted_not_duplicated() {
    let w = World::new().await;
    create_cluster(&w, 0).await;
    // The VM survived the old management cluster and still runs its kubelet.
    let vm = w
        .site
        .create_vm(VmSpec {
            name: "wc-md-0-survivor".into(),
            cluster: CLUSTER.into(),
            role: VmRole::Worker,
            kubelet_version: "v1.24.10+vmware.1".into(),
        })
        .expect("vm");
    w.agent.sync().await.expect("kubelet");
    // The restored Machine and VSphereMachine, without ownerReferences or provider ID.
    let vsm: VSphereMachine = serde_json::from_value(json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine",
        "metadata": {"name": "wc-md-0-survivor", "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": CLUSTER}},
        "spec": {"template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1", "network": {"devices": [{"networkName": "VM Network", "dhcp4": true}]}},
    }))
    .expect("vsm");
    w.api::<VSphereMachine>().create(&PostParams::default(), &vsm).await.expect("vsm");
    let machine: Machine = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine",
        "metadata": {"name": "wc-md-0-survivor", "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": CLUSTER}},
        "spec": {"clusterName": CLUSTER, "version": "v1.24.10+vmware.1", "bootstrap": {"dataSecretName": "wc-md-0-survivor"},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine", "name": "wc-md-0-survivor"}},
    }))
    .expect("machine");
    w.api::<Machine>().create(&PostParams::default(), &machine).await.expect("machine");
    w.settle().await;
    assert_eq!(w.site.list(), vec![vm.clone()], "the VM was adopted, not cloned again");
    let vsm = w.api::<VSphereMachine>().get("wc-md-0-survivor").await.expect("vsm");
    assert_eq!(vsm.spec.provider_id.as_deref(), Some(vm.provider_id().as_str()));
    w.assert_running(1).await;

    // Deleting the Machine deletes the VM first, then the Node, then lets the Machine go.
    w.api::<Machine>()
        .delete("wc-md-0-survivor", &Default::default())
        .await
        .expect("delete");
    w.settle().await;
    assert!(w.machines().await.is_empty());
    assert!(w.site.list().is_empty());
    assert!(w.ready_nodes().await.is_empty());
    assert!(w.api::<VSphereMachine>().get_opt("wc-md-0-survivor").await.expect("get").is_none());
}

/// The MachineSet controller of `w`, with the adoption fault switched as given.
fn machine_sets(w: &World, adoption_disabled: bool) -> MachineSetController {
    let workloads = StaticWorkloadClusters::new();
    workloads.insert(NS, CLUSTER, w.workload.clone());
    MachineSetController::new(
        w.mgmt.clone(),
        Arc::new(workloads),
        NameGenerator::new(43),
        Arc::new(w.clock.clone()),
    )
    .with_adoption_disabled(adoption_disabled)
}

#[tokio::test]
async fn with_adoption_disabled_orphans_are_ignored_and_replaced() {
    let mut w = World::new().await;
    create_cluster(&w, 2).await;
    w.settle().await;
    w.assert_running(2).await;
    let ms = w.machine_sets().await.remove(0);
    let mut orphans: Vec<String> = w.machines().await.iter().map(|m| m.name_any()).collect();
    orphans.sort();
    let drop = Patch::Merge(json!({"metadata": {"ownerReferences": null}}));
    for name in &orphans {
        w.api::<Machine>().patch(name, &PatchParams::default(), &drop).await.expect("drop");
    }

    // The fault: the orphans match the selector but are not adopted; two new Machines appear.
    w.controllers.machine_sets = machine_sets(&w, true);
    let report = w.controllers.machine_sets.reconcile_all().await.expect("pass");
    assert!(report.adopted.is_empty(), "nothing adopted: {report:?}");
    let created: Vec<&String> = report.created.iter().filter(|c| c.starts_with("Machine/")).collect();
    assert_eq!(created.len(), 2, "{report:?}");
    w.settle().await;
    let machines = w.machines().await;
    assert_eq!(machines.len(), 4, "two orphans and two replacements");
    for m in &machines {
        let owned = m.owner_references().iter().any(|r| r.uid == ms.uid().expect("uid"));
        assert_eq!(owned, !orphans.contains(&m.name_any()), "{}", m.name_any());
    }
    let status = w.machine_sets().await[0].status.clone().expect("status");
    assert_eq!((status.replicas, status.ready_replicas), (2, 2), "the orphans are not counted");
    assert_eq!(w.site.vms_of(CLUSTER).len(), 4, "a VM for every Machine, orphans included");

    // Without the fault the same orphans are adopted, and the set scales back to 2.
    w.controllers.machine_sets = machine_sets(&w, false);
    let report = w.controllers.machine_sets.reconcile_all().await.expect("pass");
    let mut adopted: Vec<String> = report
        .adopted
        .iter()
        .filter_map(|a| a.strip_prefix("Machine/"))
        .map(str::to_string)
        .collect();
    adopted.sort();
    assert_eq!(adopted, orphans, "{report:?}");
    assert_eq!(report.deleted.len(), 2, "{report:?}");
    w.settle().await;
    w.assert_running(2).await;
}

/// The management cluster's store is corrupted (every object gone, its CRDs too): every
/// controller's LIST gets the API server's 404 for a resource it does not serve. As controller-runtime's, they wait and
/// say so — the pass does not fail — and nothing outside the management cluster is touched.
#[tokio::test]
async fn controllers_wait_while_their_kinds_are_not_served() {
    let w = World::new().await;
    create_cluster(&w, 2).await;
    w.settle().await;
    let vms: Vec<String> = w.site.vms_of(CLUSTER).iter().map(|vm| vm.name.clone()).collect();
    let nodes = w.ready_nodes().await;
    w.mgmt_server.wipe();
    let each = w.controllers.pass_each().await.expect("a pass over unserved kinds does not fail");
    for (controller, report) in &each {
        assert!(
            !report.waiting.is_empty(),
            "{controller} does not say what it waits for: {report:?}"
        );
        assert!(!report.changed(), "{controller} changed something: {report:?}");
    }
    let cluster = each.iter().find(|(c, _)| *c == "cluster").expect("cluster controller");
    assert!(cluster.1.waiting[0].contains("Cluster"), "{:?}", cluster.1.waiting);
    w.clock.advance(std::time::Duration::from_secs(3600));
    w.controllers.pass_each().await.expect("an hour later, still waiting");
    let after: Vec<String> = w.site.vms_of(CLUSTER).iter().map(|vm| vm.name.clone()).collect();
    assert_eq!(after, vms, "VMs untouched");
    assert_eq!(w.ready_nodes().await, nodes, "Nodes untouched");
}
