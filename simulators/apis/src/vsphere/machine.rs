//! The VSphereMachine (one VM cloned from a template for one Machine) and the
//! VSphereMachineTemplate that KubeadmControlPlanes and MachineDeployments clone it from.
//!
//! Upstream inlines its `VirtualMachineCloneSpec` into the machine spec; here those fields sit
//! directly in [`VSphereMachineSpec`], which gives the same wire format and schema.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::capi::common::{MachineAddress, ObjectMeta};
use crate::capi::conditions::Condition;

/// Desired state of a VSphereMachine: the VM to clone and, once it exists, its provider ID.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "VSphereMachine",
    namespaced,
    status = "VSphereMachineStatus",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster to which this VSphereMachine belongs","jsonPath":".metadata.labels.cluster\\.x-k8s\\.io/cluster-name"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","description":"Machine ready status","jsonPath":".status.ready"}"#,
    printcolumn = r#"{"name":"ProviderID","type":"string","description":"VSphereMachine instance ID","jsonPath":".spec.providerID"}"#,
    printcolumn = r#"{"name":"Machine","type":"string","description":"Machine object which owns with this VSphereMachine","jsonPath":".metadata.ownerReferences[?(@.kind==\"Machine\")].name","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of Machine","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineSpec {
    /// The VM template (or VM) to clone, e.g. `/dc0/vm/photon-3-kube-v1.24.10+vmware.1`.
    pub template: String,
    /// `fullClone` or `linkedClone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_mode: Option<String>,
    /// The snapshot a linked clone starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Address of the vCenter server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Colon-separated SHA-1 thumbprint of the vCenter certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// Datacenter of the VM, e.g. `/dc0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// Folder of the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Datastore of the VM's disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<String>,
    /// Storage policy of the VM's disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_policy_name: Option<String>,
    /// Resource pool of the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_pool: Option<String>,
    /// The VM's network devices.
    pub network: NetworkSpec,
    /// Virtual CPUs.
    #[serde(rename = "numCPUs", default, skip_serializing_if = "Option::is_none")]
    pub num_cpus: Option<i32>,
    /// Cores per socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_cores_per_socket: Option<i32>,
    /// Memory in MiB.
    #[serde(rename = "memoryMiB", default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<i64>,
    /// Size of the boot disk in GiB.
    #[serde(rename = "diskGiB", default, skip_serializing_if = "Option::is_none")]
    pub disk_gib: Option<i32>,
    /// Sizes of further disks in GiB.
    #[serde(rename = "additionalDisksGiB", default, skip_serializing_if = "Vec::is_empty")]
    pub additional_disks_gib: Vec<i32>,
    /// vSphere tags to attach.
    #[serde(rename = "tagIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub tag_ids: Vec<String>,
    /// Guest OS family: `Linux` or `Windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The VM's provider ID once it exists: `vsphere://<bios-uuid>`.
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The failure domain the VM is placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,
    /// How the VM is powered off when deleted: `hard` (default), `soft` or `trySoft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_off_mode: Option<String>,
}

/// The network devices of a VM.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// One entry per virtual NIC.
    pub devices: Vec<NetworkDeviceSpec>,
    /// Static routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<NetworkRouteSpec>,
    /// The CIDR the API server should prefer when the VM has several addresses.
    #[serde(rename = "preferredAPIServerCidr", default, skip_serializing_if = "Option::is_none")]
    pub preferred_api_server_cidr: Option<String>,
}

/// One virtual NIC.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkDeviceSpec {
    /// The vSphere network (port group), e.g. `/dc0/network/VM Network`.
    pub network_name: String,
    /// Name of the device in the guest, e.g. `eth0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// IPv4 by DHCP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dhcp4: bool,
    /// IPv6 by DHCP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dhcp6: bool,
    /// Static IPv4 gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway4: Option<String>,
    /// Static IPv6 gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    /// Static addresses in CIDR notation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addrs: Vec<String>,
    /// MTU of the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i64>,
    /// Fixed MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_addr: Option<String>,
    /// DNS servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// DNS search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_domains: Vec<String>,
}

/// A static route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkRouteSpec {
    /// Destination CIDR.
    pub to: String,
    /// Next hop.
    pub via: String,
    /// Route metric.
    pub metric: i32,
}

/// Observed state of a VSphereMachine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineStatus {
    /// Whether the VM is created, powered on and has its addresses.
    #[serde(default)]
    pub ready: bool,
    /// Addresses of the VM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// Per-NIC network state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkStatus>,
    /// A terminal problem, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Cluster API conditions (Ready, VMProvisioned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The state of one virtual NIC.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStatus {
    /// Whether the NIC is connected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub connected: bool,
    /// Addresses of the NIC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addrs: Vec<String>,
    /// MAC address of the NIC.
    pub mac_addr: String,
    /// The vSphere network it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_name: Option<String>,
}

/// Desired state of a VSphereMachineTemplate: the VSphereMachine to stamp out.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "VSphereMachineTemplate",
    namespaced,
    category = "cluster-api"
)]
pub struct VSphereMachineTemplateSpec {
    /// The VSphereMachine to create.
    pub template: VSphereMachineTemplateResource,
}

/// The VSphereMachine a template stamps out: metadata and spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct VSphereMachineTemplateResource {
    /// Labels and annotations of the created VSphereMachines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec of the created VSphereMachines.
    pub spec: VSphereMachineSpec,
}
