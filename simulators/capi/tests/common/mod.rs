//! The world the controller tests share: a management and a workload API server, a Site,
//! kubelets, the node lifecycle controller and every Cluster API controller on one virtual clock.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::capi::{Cluster, ClusterSpec, Machine, MachineDeployment, MachineSet};
use drdrill_apis::vsphere::VSphereMachineTemplate;
use drdrill_capi_sim::controllers::{
    ClusterController, Controllers, KubeadmControlPlaneController, MachineController, MachineDeploymentController,
    MachineHealthCheckController, MachineSetController, NameGenerator, StaticWorkloadClusters, VSphereClusterController,
    VSphereMachineController,
};
use drdrill_capi_sim::{NodeAgent, NodeLifecycle, Site};
use drdrill_kube_sim::clock::{Clock, VirtualClock, k8s_time};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

pub const NS: &str = "default";
pub const CLUSTER: &str = "wc";

pub async fn server(name: &str, clock: &VirtualClock) -> (ApiServer, Client) {
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

pub struct World {
    /// The management cluster's server (its store wiped by the corruption test).
    #[allow(dead_code)] // only some test crates read it
    pub mgmt_server: ApiServer,
    pub workload_server: ApiServer,
    pub mgmt: Client,
    pub workload: Client,
    pub site: Site,
    pub clock: VirtualClock,
    pub agent: NodeAgent,
    pub lifecycle: NodeLifecycle,
    pub controllers: Controllers,
}

impl World {
    pub async fn new() -> World {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let (mgmt_server, mgmt) = server("tkg-mgmt", &clock).await;
        let (workload_server, workload) = server(CLUSTER, &clock).await;
        let crds: Api<CustomResourceDefinition> = Api::all(mgmt.clone());
        for crd in drdrill_apis::all_crds() {
            crds.create(&PostParams::default(), &crd).await.expect("install CRD");
        }
        let site = Site::new("vc01", &["esx-1", "esx-2"], 7, Arc::new(clock.clone()));
        let agent = NodeAgent::new(site.clone(), CLUSTER, workload.clone(), Arc::new(clock.clone()));
        let lifecycle = NodeLifecycle::new(workload.clone(), Arc::new(clock.clone()));
        let workloads = StaticWorkloadClusters::new();
        workloads.insert(NS, CLUSTER, workload.clone());
        let workloads = Arc::new(workloads);
        let controllers = Controllers {
            clusters: ClusterController::new(mgmt.clone(), Arc::new(clock.clone())),
            vsphere_clusters: VSphereClusterController::new(mgmt.clone(), Arc::new(clock.clone())),
            kubeadm_control_planes: KubeadmControlPlaneController::new(
                mgmt.clone(),
                workloads.clone(),
                NameGenerator::new(7),
                Arc::new(clock.clone()),
            ),
            machine_deployments: MachineDeploymentController::new(mgmt.clone()),
            machine_sets: MachineSetController::new(mgmt.clone(), workloads.clone(), NameGenerator::new(42), Arc::new(clock.clone())),
            machines: MachineController::new(mgmt.clone(), workloads.clone(), Arc::new(clock.clone())),
            vsphere_machines: VSphereMachineController::new(mgmt.clone(), site.clone(), Arc::new(clock.clone())),
            machine_health_checks: MachineHealthCheckController::new(mgmt.clone(), workloads, Arc::new(clock.clone())),
        };
        World {
            mgmt_server,
            workload_server,
            mgmt,
            workload,
            site,
            clock,
            agent,
            lifecycle,
            controllers,
        }
    }

    /// Drives controller and kubelet passes, a second apart, until two passes in a row change
    /// nothing; returns every report's paused entries.
    pub async fn settle(&self) -> Vec<String> {
        let mut quiet = 0;
        let mut paused = Vec::new();
        for _ in 0..40 {
            let report = self.controllers.pass().await.expect("controller pass");
            let agent = self.agent.sync().await.expect("kubelets");
            let lifecycle = self.lifecycle.sync().await.expect("node lifecycle");
            paused.extend(report.paused.clone());
            self.clock.advance(Duration::from_secs(1));
            if report.changed() || !agent.registered.is_empty() || !lifecycle.is_empty() {
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

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.mgmt.clone(), NS)
    }

    pub async fn machines(&self) -> Vec<Machine> {
        self.api::<Machine>().list(&Default::default()).await.expect("machines").items
    }

    pub async fn machine_sets(&self) -> Vec<MachineSet> {
        self.api::<MachineSet>().list(&Default::default()).await.expect("machinesets").items
    }

    pub async fn ready_nodes(&self) -> Vec<String> {
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

    pub async fn scale(&self, replicas: i32) {
        self.api::<MachineDeployment>()
            .patch(
                "wc-md-0",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("scale");
    }

    pub async fn set_paused(&self, paused: bool) {
        self.api::<Cluster>()
            .patch(CLUSTER, &PatchParams::default(), &Patch::Merge(json!({"spec": {"paused": paused}})))
            .await
            .expect("pause");
    }

    /// Asserts `n` Running Machines, each with a nodeRef to a Ready Node and its own VM.
    pub async fn assert_running(&self, n: usize) {
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

pub async fn create_cluster(w: &World, replicas: i32) {
    let cluster = Cluster::new(CLUSTER, ClusterSpec::default());
    w.api::<Cluster>().create(&PostParams::default(), &cluster).await.expect("cluster");
    // The Cluster/VSphereCluster/KubeadmControlPlane controllers would report this.
    let now = k8s_time(w.clock.now());
    let status = json!({"status": {"infrastructureReady": true, "controlPlaneReady": true, "conditions": [
        {"type": "ControlPlaneInitialized", "status": "True", "lastTransitionTime": now},
        {"type": "InfrastructureReady", "status": "True", "lastTransitionTime": now},
    ]}});
    w.api::<Cluster>()
        .patch_status(CLUSTER, &PatchParams::default(), &Patch::Merge(status))
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
