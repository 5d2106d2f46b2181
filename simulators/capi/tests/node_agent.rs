//! Running VMs become Ready Nodes of their workload cluster; silent ones go Unknown after the
//! grace period on the virtual clock; a deleted Node of a running VM comes back.

use std::sync::Arc;
use std::time::Duration;

use drdrill_capi_sim::{NodeAgent, NodeLifecycle, Site, VmRole, VmSpec};
use drdrill_kube_sim::clock::{Clock, VirtualClock};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

async fn workload_cluster(clock: &VirtualClock, dir: &std::path::Path) -> (ApiServer, Client) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: "tkg-vc-antrea".into(),
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .expect("server");
    let path = dir.join("kubeconfig");
    server
        .write_kubeconfig(&path, "tkg-vc-antrea-admin@tkg-vc-antrea")
        .expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(Kubeconfig::read_from(&path).expect("read"), &KubeConfigOptions::default())
        .await
        .expect("config");
    (server, Client::try_from(config).expect("client"))
}

fn ready(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn vms_register_heartbeat_and_go_silent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
    let (_server, client) = workload_cluster(&clock, dir.path()).await;
    let site = Site::new("vc01", &["esx-1", "esx-2"], 7, Arc::new(clock.clone()));
    for (name, role) in [
        ("tkg-vc-antrea-cp-1", VmRole::ControlPlane),
        ("tkg-vc-antrea-md-0-1", VmRole::Worker),
        ("other-md-0-1", VmRole::Worker),
    ] {
        let cluster = if name.starts_with("other") { "other" } else { "tkg-vc-antrea" };
        site.create_vm(VmSpec {
            name: name.into(),
            cluster: cluster.into(),
            role,
            kubelet_version: "v1.24.10+vmware.1".into(),
        })
        .expect("vm");
    }
    let agent = NodeAgent::new(site.clone(), "tkg-vc-antrea", client.clone(), Arc::new(clock.clone()));
    let lifecycle = NodeLifecycle::new(client.clone(), Arc::new(clock.clone()));

    let report = agent.sync().await.expect("sync");
    assert_eq!(
        report.registered,
        ["tkg-vc-antrea-cp-1", "tkg-vc-antrea-md-0-1"],
        "only this cluster's VMs register"
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let cp = nodes.get("tkg-vc-antrea-cp-1").await.expect("cp node");
    assert_eq!(ready(&cp), "True");
    let vm = site.vm("tkg-vc-antrea-cp-1").expect("vm");
    assert_eq!(cp.spec.as_ref().and_then(|s| s.provider_id.clone()), Some(vm.provider_id()));
    assert!(
        cp.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"))
    );
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    assert!(
        leases
            .get("tkg-vc-antrea-md-0-1")
            .await
            .expect("lease")
            .spec
            .and_then(|s| s.renew_time)
            .is_some()
    );

    // The worker's VM stops; 30 s later it is still within the grace period.
    site.power_off("tkg-vc-antrea-md-0-1").expect("power off");
    clock.advance(Duration::from_secs(30));
    agent.sync().await.expect("sync");
    assert!(lifecycle.sync().await.expect("lifecycle").is_empty());
    // Past 40 s without a heartbeat, the node goes Unknown and is tainted unreachable.
    clock.advance(Duration::from_secs(15));
    agent.sync().await.expect("sync");
    assert_eq!(lifecycle.sync().await.expect("lifecycle"), ["tkg-vc-antrea-md-0-1"]);
    let worker = nodes.get("tkg-vc-antrea-md-0-1").await.expect("worker");
    assert_eq!(ready(&worker), "Unknown");
    assert!(
        worker
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/unreachable"))
    );
    assert_eq!(
        ready(&nodes.get("tkg-vc-antrea-cp-1").await.expect("cp")),
        "True",
        "the running control plane kept heartbeating"
    );

    // Power back on: Ready again, unreachable taints gone.
    site.power_on("tkg-vc-antrea-md-0-1").expect("power on");
    agent.sync().await.expect("sync");
    let worker = nodes.get("tkg-vc-antrea-md-0-1").await.expect("worker");
    assert_eq!(ready(&worker), "True");
    assert!(
        worker
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_none_or(|ts| ts.iter().all(|t| t.key != "node.kubernetes.io/unreachable"))
    );

    // Deleting the Node of a running VM does not get rid of it: the kubelet re-registers.
    nodes
        .delete("tkg-vc-antrea-md-0-1", &DeleteParams::default())
        .await
        .expect("delete node");
    assert_eq!(agent.sync().await.expect("sync").registered, ["tkg-vc-antrea-md-0-1"]);
    // Once the VM is removed as well, nothing brings it back.
    nodes
        .delete("tkg-vc-antrea-md-0-1", &DeleteParams::default())
        .await
        .expect("delete node");
    site.delete_vm("tkg-vc-antrea-md-0-1").expect("delete vm");
    assert!(agent.sync().await.expect("sync").registered.is_empty());
    assert!(nodes.get_opt("tkg-vc-antrea-md-0-1").await.expect("get").is_none());
}

/// A healthy kubelet posts its status and renews its Lease every 10 s of the cluster's clock
/// (kubelet's nodeStatusUpdateFrequency), not on every pass.
#[tokio::test]
async fn heartbeats_follow_the_node_status_update_frequency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
    let (_server, client) = workload_cluster(&clock, dir.path()).await;
    let site = Site::new("vc01", &["esx-1"], 7, Arc::new(clock.clone()));
    site.create_vm(VmSpec {
        name: "wc-md-0-1".into(),
        cluster: "wc".into(),
        role: VmRole::Worker,
        kubelet_version: "v1.24.10+vmware.1".into(),
    })
    .expect("vm");
    let agent = NodeAgent::new(site.clone(), "wc", client.clone(), Arc::new(clock.clone()));
    let first = agent.sync().await.expect("register");
    assert_eq!(first.registered, ["wc-md-0-1"]);
    assert_eq!(first.heartbeats, ["wc-md-0-1"], "a new node renews its lease at once");
    clock.advance(Duration::from_secs(5));
    assert!(
        agent.sync().await.expect("sync").heartbeats.is_empty(),
        "5 s after the last heartbeat"
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(agent.sync().await.expect("sync").heartbeats, ["wc-md-0-1"], "10 s after");
    let nodes: Api<Node> = Api::all(client.clone());
    let beat = nodes
        .get("wc-md-0-1")
        .await
        .expect("node")
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_heartbeat_time)
        .expect("a heartbeat");
    assert_eq!(beat.0, clock.now(), "the status carries the new heartbeat");
}
