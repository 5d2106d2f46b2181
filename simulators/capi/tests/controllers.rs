//! The Cluster API controllers against a management API server, a workload API server, a Site
//! and a virtual clock: a MachineDeployment becomes Running Machines with Ready Nodes, scales
//! both ways, stands still while paused, adopts what a restore orphaned without duplicating
//! anything, and adopts a VM that existed before its VSphereMachine.

use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::capi::{Cluster, ClusterSpec, Machine, MachineDeployment, MachineSet};
use drdrill_apis::vsphere::{VSphereMachine, VSphereMachineTemplate};
use drdrill_capi_sim::controllers::{
    Controllers, MachineController, MachineDeploymentController, MachineSetController, NameGenerator, StaticWorkloadClusters,
    VSphereMachineController,
};
use drdrill_capi_sim::{NodeAgent, Site, VmRole, VmSpec};
use drdrill_kube_sim::clock::VirtualClock;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

const NS: &str = "default";
const CLUSTER: &str = "wc";

async fn server(name: &str, clock: &VirtualClock) -> (ApiServer, Client) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: name.into(),
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .expect("server");
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml(&format!("{name}-admin@{name}"))).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    (server, Client::try_from(config).expect("client"))
}

struct World {
    _mgmt: ApiServer,
    _workload: ApiServer,
    mgmt: Client,
    workload: Client,
    site: Site,
    clock: VirtualClock,
    agent: NodeAgent,
    controllers: Controllers,
}

impl World {
    async fn new() -> World {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let (mgmt_server, mgmt) = server("tkg-mgmt", &clock).await;
        let (workload_server, workload) = server(CLUSTER, &clock).await;
        let crds: Api<CustomResourceDefinition> = Api::all(mgmt.clone());
        for crd in drdrill_apis::all_crds() {
            crds.create(&PostParams::default(), &crd).await.expect("install CRD");
        }
        let site = Site::new("vc01", &["esx-1", "esx-2"], 7, Arc::new(clock.clone()));
        let agent = NodeAgent::new(site.clone(), CLUSTER, workload.clone(), Arc::new(clock.clone()));
        let workloads = StaticWorkloadClusters::new();
        workloads.insert(NS, CLUSTER, workload.clone());
        let workloads = Arc::new(workloads);
        let controllers = Controllers {
            machine_deployments: MachineDeploymentController::new(mgmt.clone()),
            machine_sets: MachineSetController::new(mgmt.clone(), workloads.clone(), NameGenerator::new(42), Arc::new(clock.clone())),
            machines: MachineController::new(mgmt.clone(), workloads, Arc::new(clock.clone())),
            vsphere_machines: VSphereMachineController::new(mgmt.clone(), site.clone(), Arc::new(clock.clone())),
        };
        World {
            _mgmt: mgmt_server,
            _workload: workload_server,
            mgmt,
            workload,
            site,
            clock,
            agent,
            controllers,
        }
    }

    /// Drives controller and kubelet passes, a second apart, until two passes in a row change
    /// nothing; returns every report's paused entries.
    async fn settle(&self) -> Vec<String> {
        let mut quiet = 0;
        let mut paused = Vec::new();
        for _ in 0..40 {
            let report = self.controllers.pass().await.expect("controller pass");
            let agent = self.agent.sync().await.expect("kubelets");
            paused.extend(report.paused.clone());
            self.clock.advance(Duration::from_secs(1));
            if report.changed() || !agent.registered.is_empty() {
                quiet = 0;
            } else {
                quiet += 1;
                if quiet == 2 {
                    return paused;
                }
            }
        }
        panic!("controllers did not settle in 40 passes");
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.mgmt.clone(), NS)
    }

    async fn machines(&self) -> Vec<Machine> {
        self.api::<Machine>().list(&Default::default()).await.expect("machines").items
    }

    async fn machine_sets(&self) -> Vec<MachineSet> {
        self.api::<MachineSet>().list(&Default::default()).await.expect("machinesets").items
    }

    async fn ready_nodes(&self) -> Vec<String> {
        Api::<Node>::all(self.workload.clone())
            .list(&Default::default())
            .await
            .expect("nodes")
            .items
            .into_iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .map(|n| n.name_any())
            .collect()
    }

    async fn scale(&self, replicas: i32) {
        self.api::<MachineDeployment>()
            .patch(
                "wc-md-0",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("scale");
    }

    async fn set_paused(&self, paused: bool) {
        self.api::<Cluster>()
            .patch(CLUSTER, &PatchParams::default(), &Patch::Merge(json!({"spec": {"paused": paused}})))
            .await
            .expect("pause");
    }

    /// Asserts `n` Running Machines, each with a nodeRef to a Ready Node and its own VM.
    async fn assert_running(&self, n: usize) {
        let machines = self.machines().await;
        assert_eq!(
            machines.len(),
            n,
            "machines: {:?}",
            machines.iter().map(|m| m.name_any()).collect::<Vec<_>>()
        );
        let mut node_names: Vec<String> = machines
            .iter()
            .map(|m| {
                let status = m.status.clone().unwrap_or_default();
                assert_eq!(status.phase.as_deref(), Some("Running"), "{}", m.name_any());
                let node = status.node_ref.and_then(|r| r.name).expect("nodeRef");
                assert_eq!(node, m.name_any(), "the VM (and so the Node) is named after the Machine");
                let vm = self.site.vm(&node).expect("a VM per Machine");
                assert_eq!(m.spec.provider_id.as_deref(), Some(vm.provider_id().as_str()));
                node
            })
            .collect();
        node_names.sort();
        let mut ready = self.ready_nodes().await;
        ready.sort();
        assert_eq!(ready, node_names, "one Ready Node per Machine and no other");
        assert_eq!(self.site.vms_of(CLUSTER).len(), n, "one VM per Machine and no other");
    }
}

async fn create_cluster(w: &World, replicas: i32) {
    let cluster = Cluster::new(CLUSTER, ClusterSpec::default());
    w.api::<Cluster>().create(&PostParams::default(), &cluster).await.expect("cluster");
    // The Cluster/VSphereCluster controllers (not built yet) would report this.
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
        "metadata": {"name": "wc-worker", "namespace": NS},
        "spec": {"template": {"spec": {"template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1", "cloneMode": "fullClone",
            "numCPUs": 2, "memoryMiB": 4096, "diskGiB": 20,
            "network": {"devices": [{"networkName": "/dc0/network/VM Network", "dhcp4": true}]}}}},
    }))
    .expect("template");
    w.api::<VSphereMachineTemplate>()
        .create(&PostParams::default(), &template)
        .await
        .expect("template");
    let md: MachineDeployment = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
        "metadata": {"name": "wc-md-0", "namespace": NS},
        "spec": {"clusterName": CLUSTER, "replicas": replicas,
            "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": CLUSTER, "cluster.x-k8s.io/deployment-name": "wc-md-0"}},
            "template": {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": CLUSTER, "cluster.x-k8s.io/deployment-name": "wc-md-0"}},
                "spec": {"clusterName": CLUSTER, "version": "v1.24.10+vmware.1",
                    "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": "wc-md-0"}},
                    "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc-worker"}}}},
    }))
    .expect("md");
    w.api::<MachineDeployment>().create(&PostParams::default(), &md).await.expect("md");
}

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
