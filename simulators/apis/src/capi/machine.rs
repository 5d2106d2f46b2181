//! The Machine: one Kubernetes node's worth of infrastructure (a VSphereMachine and its VM),
//! owned by a MachineSet or a KubeadmControlPlane and linked to its Node by `status.nodeRef`.

use k8s_openapi::api::core::v1::{NodeSystemInfo, ObjectReference};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{MachineAddress, ObjectMeta};
use super::conditions::Condition;

/// Desired state of a Machine.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "Machine",
    namespaced,
    status = "MachineStatus",
    shortname = "ma",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster","jsonPath":".spec.clusterName"}"#,
    printcolumn = r#"{"name":"NodeName","type":"string","description":"Node name associated with this machine","jsonPath":".status.nodeRef.name"}"#,
    printcolumn = r#"{"name":"ProviderID","type":"string","description":"Provider ID","jsonPath":".spec.providerID"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","description":"Machine status such as Terminating/Pending/Running/Failed etc","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of Machine","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Kubernetes version associated with this Machine","jsonPath":".spec.version"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    /// The Cluster this Machine belongs to.
    pub cluster_name: String,
    /// Where the node's bootstrap data (cloud-init) comes from.
    pub bootstrap: Bootstrap,
    /// The infrastructure machine (e.g. VSphereMachine).
    pub infrastructure_ref: ObjectReference,
    /// Kubernetes version of the node, e.g. `v1.24.10+vmware.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The provider's ID of the VM (`vsphere://<uuid>`), equal to the Node's `spec.providerID`.
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The failure domain the Machine is placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,
    /// How long to try draining the node before deleting it anyway (a duration, e.g. `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// How long to wait for volumes to detach before deleting the node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// How long to retry deleting the Node once the Machine is deleting (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
}

/// Where a Machine's bootstrap data comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The bootstrap config object (e.g. KubeadmConfig).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_ref: Option<ObjectReference>,
    /// The Secret holding the bootstrap data, once generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_secret_name: Option<String>,
}

/// Observed state of a Machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    /// The Node of the workload cluster that this Machine became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<ObjectReference>,
    /// The Node's system information (kubelet version, OS image…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
    /// When the phase last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// A terminal problem, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Addresses of the machine, copied from the infrastructure machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// Pending, Provisioning, Provisioned, Running, Deleting, Deleted, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// When the control-plane node's certificates expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_expiry_date: Option<String>,
    /// Whether the bootstrap data is ready.
    #[serde(default)]
    pub bootstrap_ready: bool,
    /// Whether the infrastructure machine is ready.
    #[serde(default)]
    pub infrastructure_ready: bool,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Cluster API conditions (Ready, BootstrapReady, InfrastructureReady, NodeHealthy…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The Machine a MachineSet or MachineDeployment stamps out: metadata and spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct MachineTemplateSpec {
    /// Labels and annotations of the created Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec of the created Machines.
    #[serde(default)]
    pub spec: MachineSpec,
}

/// Machine phases as `status.phase` spells them.
pub mod phase {
    /// Created, waiting for bootstrap data and infrastructure.
    pub const PENDING: &str = "Pending";
    /// The infrastructure is being created.
    pub const PROVISIONING: &str = "Provisioning";
    /// The infrastructure exists; the Node has not joined yet.
    pub const PROVISIONED: &str = "Provisioned";
    /// The Node joined and is linked by `status.nodeRef`.
    pub const RUNNING: &str = "Running";
    /// Being deleted (drain, then infrastructure deletion).
    pub const DELETING: &str = "Deleting";
    /// Deleted; the finalizer is about to go.
    pub const DELETED: &str = "Deleted";
    /// A terminal error.
    pub const FAILED: &str = "Failed";
    /// State cannot be determined.
    pub const UNKNOWN: &str = "Unknown";
}
