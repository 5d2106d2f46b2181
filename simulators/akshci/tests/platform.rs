//! The platform end to end: install, a workload cluster reconciled from its AksHciCluster into
//! VMs and Nodes, the management VM's host failing (workloads keep serving, the management
//! cluster does not answer) and failover bringing it back.

use std::sync::Arc;
use std::time::Duration;

use drdrill_akshci_sim::apis::VirtualNetwork;
use drdrill_akshci_sim::{
    AksHciCluster, AksHciClusterSpec, AksHciConfigSpec, AksHciPlatform, HostCluster, MANAGEMENT_VM, NodePoolSpec, VmRole, admin_context,
};
use drdrill_kube_sim::clock::VirtualClock;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

fn config() -> AksHciConfigSpec {
    AksHciConfigSpec {
        version: "1.0.17.10310".into(),
        image_dir: r"C:\ClusterStorage\Volume1\Images".into(),
        working_dir: r"C:\ClusterStorage\Volume1\WorkDir".into(),
        cloud_config_location: r"C:\ClusterStorage\Volume1\Config".into(),
        node_config_location: r"C:\ClusterStorage\Volume1\NodeConfig".into(),
        control_plane_vm_size: "Standard_A4_v2".into(),
        cloud_service_cidr: "172.16.10.10/16".into(),
        vnet: VirtualNetwork {
            name: "mgmt-vnet".into(),
            vswitch_name: "ConvergedSwitch".into(),
            vip_pool_start: "172.16.255.0".into(),
            vip_pool_end: "172.16.255.254".into(),
            ..Default::default()
        },
    }
}

fn cluster_spec() -> AksHciClusterSpec {
    AksHciClusterSpec {
        kubernetes_version: "v1.24.11".into(),
        control_plane_node_count: 3,
        control_plane_vm_size: "Standard_A2_V2".into(),
        load_balancer_count: 1,
        load_balancer_vm_size: "Standard_A4_v2".into(),
        node_pools: vec![NodePoolSpec {
            name: "linuxpool".into(),
            count: 2,
            vm_size: "Standard_K8S3_v1".into(),
            os_type: "Linux".into(),
        }],
    }
}

async fn client(kubeconfig: &str, context: &str) -> Client {
    let mut kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    kc.current_context = Some(context.to_string());
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

async fn installed() -> (AksHciPlatform, VirtualClock, Client) {
    let clock = VirtualClock::starting_at("2023-03-01T08:00:00Z".parse().expect("time"));
    let hosts = HostCluster::new("hci01", &["hci-node-1", "hci-node-2", "hci-node-3"], Arc::new(clock.clone()));
    let platform = AksHciPlatform::new(hosts, Arc::new(clock.clone()), 11);
    platform.stage_config(config()).await;
    let vm = platform.install().await.expect("install");
    assert_eq!(vm.spec.vm_size, "Standard_A4_v2");
    let mgmt = platform.management_client().await.expect("client");
    (platform, clock, mgmt)
}

#[tokio::test]
async fn clusters_become_vms_and_nodes_and_scale_and_upgrade() {
    let (platform, _clock, mgmt) = installed().await;
    let clusters: Api<AksHciCluster> = Api::all(mgmt.clone());
    clusters
        .create(&PostParams::default(), &AksHciCluster::new("wc", cluster_spec()))
        .await
        .expect("create");
    let reports = platform.settle(10).await.expect("settle");
    assert!(reports.len() < 10, "the platform settles");
    let vms = platform.hosts().vms_of("wc");
    let count = |role: &VmRole, size: &str| vms.iter().filter(|v| &v.spec.role == role && v.spec.vm_size == size).count();
    assert_eq!(count(&VmRole::ControlPlane, "Standard_A2_V2"), 3);
    assert_eq!(count(&VmRole::LoadBalancer, "Standard_A4_v2"), 1);
    assert_eq!(count(&VmRole::Worker("linuxpool".into()), "Standard_K8S3_v1"), 2);
    let wc = clusters.get("wc").await.expect("get");
    let status = wc.status.expect("status");
    assert_eq!(status.provisioning_state, "provisioned");
    assert_eq!(status.vms.len(), 6);
    assert_eq!(wc.metadata.finalizers.unwrap_or_default(), ["akshci.drdrill.dev/vms"]);

    // The kubeconfig Secret leads to the workload cluster, whose Nodes are the CP and worker VMs.
    let secret = Api::<Secret>::namespaced(mgmt.clone(), "default")
        .get("wc-kubeconfig")
        .await
        .expect("secret");
    let kubeconfig = String::from_utf8(secret.data.expect("data")["value"].0.clone()).expect("utf8");
    let workload = client(&kubeconfig, &admin_context("wc")).await;
    let nodes: Vec<String> = Api::<Node>::all(workload.clone())
        .list(&Default::default())
        .await
        .expect("nodes")
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(
        nodes,
        [
            "wc-control-plane-0",
            "wc-control-plane-1",
            "wc-control-plane-2",
            "wc-linuxpool-0",
            "wc-linuxpool-1"
        ]
    );

    // Scale the pool to 3 and upgrade Kubernetes.
    clusters
        .patch(
            "wc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"kubernetesVersion": "v1.25.6",
            "nodePools": [{"name": "linuxpool", "count": 3, "vmSize": "Standard_K8S3_v1", "osType": "Linux"}]}})),
        )
        .await
        .expect("patch");
    platform.settle(10).await.expect("settle");
    let node_list = Api::<Node>::all(workload).list(&Default::default()).await.expect("nodes");
    assert_eq!(node_list.items.len(), 6);
    assert!(
        node_list
            .iter()
            .all(|n| n.status.as_ref().and_then(|s| s.node_info.as_ref()).expect("info").kubelet_version == "v1.25.6")
    );
    assert_eq!(
        clusters.get("wc").await.expect("get").status.expect("status").provisioning_state,
        "provisioned"
    );

    // Removing the cluster removes its VMs before the object goes.
    clusters.delete("wc", &DeleteParams::default()).await.expect("delete");
    platform.settle(10).await.expect("settle");
    assert!(platform.hosts().vms_of("wc").is_empty());
    assert!(clusters.get_opt("wc").await.expect("get").is_none());
    assert!(platform.workload_clusters().await.is_empty());
}

#[tokio::test]
async fn management_host_failure_keeps_workloads_serving_until_failover_restores_day_2() {
    let (platform, clock, mgmt) = installed().await;
    let clusters: Api<AksHciCluster> = Api::all(mgmt.clone());
    clusters
        .create(&PostParams::default(), &AksHciCluster::new("wc", cluster_spec()))
        .await
        .expect("create");
    platform.settle(10).await.expect("settle");
    let secret = Api::<Secret>::namespaced(mgmt.clone(), "default")
        .get("wc-kubeconfig")
        .await
        .expect("secret");
    let kubeconfig = String::from_utf8(secret.data.expect("data")["value"].0.clone()).expect("utf8");
    let workload = client(&kubeconfig, &admin_context("wc")).await;
    let app: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "app", "namespace": "default"}, "data": {"k": "v"}})).expect("cm");
    Api::<ConfigMap>::namespaced(workload.clone(), "default")
        .create(&PostParams::default(), &app)
        .await
        .expect("app");

    let host = platform.management_vm().expect("mgmt vm").host;
    let failed = platform.hosts().fail_host(&host).expect("fail host");
    assert!(failed.contains(&MANAGEMENT_VM.to_string()));
    let report = platform.sync().await.expect("sync");
    assert!(!report.management_online);
    assert!(clusters.get("wc").await.is_err(), "the management cluster does not answer");
    // The workload cluster still serves (it keeps running control-plane VMs on other hosts).
    for _ in 0..3 {
        clock.advance(Duration::from_secs(20));
        platform.sync().await.expect("sync");
        let cm = Api::<ConfigMap>::namespaced(workload.clone(), "default")
            .get("app")
            .await
            .expect("workload serves");
        assert_eq!(cm.data.expect("data")["k"], "v");
    }
    // Failover has restarted the management VM elsewhere by now (60 s delay).
    let vm = platform.management_vm().expect("vm");
    assert!(vm.is_running());
    assert_ne!(vm.host, host);
    assert!(platform.sync().await.expect("sync").management_online);
    clusters
        .patch(
            "wc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"controlPlaneNodeCount": 1}})),
        )
        .await
        .expect("day-2 works again");
    platform.settle(20).await.expect("settle");
    let cps = platform
        .hosts()
        .vms_of("wc")
        .iter()
        .filter(|v| v.spec.role == VmRole::ControlPlane)
        .count();
    assert_eq!(cps, 1);
}

#[tokio::test]
async fn install_needs_a_configuration_and_uninstall_removes_everything() {
    let clock = VirtualClock::starting_at("2023-03-01T08:00:00Z".parse().expect("time"));
    let hosts = HostCluster::new("hci01", &["hci-node-1"], Arc::new(clock.clone()));
    let platform = AksHciPlatform::new(hosts, Arc::new(clock.clone()), 3);
    let err = platform.install().await.expect_err("no config");
    assert!(err.to_string().contains("run Set-AksHciConfig before Install-AksHci"), "{err}");
    platform.stage_config(config()).await;
    platform.install().await.expect("install");
    assert!(
        platform
            .install()
            .await
            .expect_err("twice")
            .to_string()
            .contains("already installed")
    );
    let mgmt = platform.management_client().await.expect("client");
    Api::<AksHciCluster>::all(mgmt)
        .create(&PostParams::default(), &AksHciCluster::new("wc", cluster_spec()))
        .await
        .expect("create");
    platform.settle(10).await.expect("settle");
    let removed = platform.uninstall().await.expect("uninstall");
    assert_eq!(removed.len(), 7, "6 cluster VMs and the management VM: {removed:?}");
    assert!(platform.hosts().list().is_empty());
    assert!(platform.staged_config().await.is_none(), "Uninstall-AksHci drops the configuration");
    assert!(platform.uninstall().await.is_err());
}
