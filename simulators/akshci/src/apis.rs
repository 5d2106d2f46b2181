//! The AKS host's knowledge as Kubernetes resources of our own design (group
//! `akshci.drdrill.dev`): the AKS-HCI configuration (network, storage, version) and the
//! workload clusters with their control-plane, load-balancer and node-pool VMs. The CRDs are
//! generated from these types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every AKS-HCI resource here.
pub const GROUP: &str = "akshci.drdrill.dev";
/// Name of the one AksHciConfig object.
pub const CONFIG_NAME: &str = "config";
/// Finalizer the cluster controller puts on every AksHciCluster: it removes the cluster's VMs first.
pub const CLUSTER_FINALIZER: &str = "akshci.drdrill.dev/vms";

/// The AKS host configuration `Set-AksHciConfig` writes: storage paths, the virtual network,
/// the management VM size and the AKS-HCI version.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(group = "akshci.drdrill.dev", version = "v1alpha1", kind = "AksHciConfig", derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct AksHciConfigSpec {
    /// AKS-HCI version, e.g. `1.0.17.10310`.
    pub version: String,
    /// Where VHD images are stored (a cluster shared volume path).
    pub image_dir: String,
    /// Where the AKS host keeps small working files.
    pub working_dir: String,
    /// Where the cloud agent keeps its configuration.
    pub cloud_config_location: String,
    /// Where the node agents keep their configuration.
    pub node_config_location: String,
    /// Size of the management cluster VM.
    pub control_plane_vm_size: String,
    /// CIDR of the cloud agent service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cloud_service_cidr: String,
    /// The virtual network every cluster VM attaches to.
    pub vnet: VirtualNetwork,
}

/// A virtual network (`New-AksHciNetworkSetting`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetwork {
    /// Network name.
    pub name: String,
    /// Hyper-V virtual switch.
    pub vswitch_name: String,
    /// Subnet of the network (static IP), empty for DHCP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_address_prefix: String,
    /// Gateway (static IP).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// DNS servers (static IP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// First address of the VIP pool load balancers take addresses from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vip_pool_start: String,
    /// Last address of the VIP pool.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vip_pool_end: String,
    /// First address for Kubernetes node VMs (static IP).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub k8s_node_ip_pool_start: String,
    /// Last address for Kubernetes node VMs (static IP).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub k8s_node_ip_pool_end: String,
    /// VLAN id, 0 for none.
    #[serde(default)]
    pub vlan_id: u32,
}

/// A workload cluster: the counts and sizes of its VMs and its Kubernetes version.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "akshci.drdrill.dev",
    version = "v1alpha1",
    kind = "AksHciCluster",
    status = "AksHciClusterStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.kubernetesVersion"}"#,
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.provisioningState"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AksHciClusterSpec {
    /// Kubernetes version of every node, e.g. `v1.24.11`.
    pub kubernetes_version: String,
    /// Number of control-plane VMs.
    pub control_plane_node_count: u32,
    /// Size of each control-plane VM.
    pub control_plane_vm_size: String,
    /// Number of load-balancer (HAProxy) VMs.
    pub load_balancer_count: u32,
    /// Size of each load-balancer VM.
    pub load_balancer_vm_size: String,
    /// The worker node pools.
    #[serde(default)]
    pub node_pools: Vec<NodePoolSpec>,
}

/// One node pool of a workload cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// Pool name, unique in its cluster.
    pub name: String,
    /// Number of worker VMs.
    pub count: u32,
    /// Size of each worker VM.
    pub vm_size: String,
    /// `Linux` or `Windows`.
    pub os_type: String,
}

/// What the cluster controller observed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AksHciClusterStatus {
    /// `provisioning` until every VM runs and every node is Ready, then `provisioned`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provisioning_state: String,
    /// The cluster's VMs as the host cluster reports them.
    #[serde(default)]
    pub vms: Vec<VmStatus>,
    /// Per node pool: ready node count and phase.
    #[serde(default)]
    pub node_pools: Vec<NodePoolStatus>,
}

/// One VM of a workload cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmStatus {
    /// VM name.
    pub name: String,
    /// `ControlPlane`, `LoadBalancer` or `Worker`.
    pub role: String,
    /// Node pool (workers only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_pool: String,
    /// VM size.
    pub vm_size: String,
    /// Host it runs on.
    pub host: String,
    /// `Running`, `Off` or `Failed`.
    pub state: String,
}

/// Observed state of one node pool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolStatus {
    /// Pool name.
    pub name: String,
    /// Nodes of the pool that are Ready.
    pub ready_nodes: u32,
    /// `Deployed` when every node is Ready, `Deploying` otherwise.
    pub phase: String,
}

/// Every CRD of AKS-HCI, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![AksHciConfig::crd(), AksHciCluster::crd()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_are_cluster_scoped_with_status_on_clusters() {
        let crds = crds();
        let names: Vec<_> = crds.iter().filter_map(|c| c.metadata.name.clone()).collect();
        assert_eq!(names, ["akshciconfigs.akshci.drdrill.dev", "akshciclusters.akshci.drdrill.dev"]);
        assert!(crds.iter().all(|c| c.spec.scope == "Cluster"));
        assert!(crds[1].spec.versions[0].subresources.as_ref().is_some_and(|s| s.status.is_some()));
        assert!(crds[0].spec.versions[0].subresources.as_ref().is_none_or(|s| s.status.is_none()));
        let schema = serde_json::to_value(&crds[1].spec.versions[0].schema).expect("schema");
        let pools = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["nodePools"];
        assert_eq!(pools["items"]["properties"]["vmSize"]["type"], "string");
    }
}
