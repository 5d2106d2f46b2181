//! The KubeadmControlPlane (`controlplane.cluster.x-k8s.io/v1beta1`): a cluster's control-plane
//! Machines, scaled and rolled out one at a time; `CONTROLPLANE n/m` in `tanzu cluster list`.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{ObjectMeta, preserve_unknown_fields};
use super::conditions::Condition;

/// Desired state of a KubeadmControlPlane.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "controlplane.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "KubeadmControlPlane",
    namespaced,
    status = "KubeadmControlPlaneStatus",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    shortname = "kcp",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster","jsonPath":".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']"}"#,
    printcolumn = r#"{"name":"Initialized","type":"boolean","description":"This denotes whether or not the control plane has the uploaded kubeadm-config configmap","jsonPath":".status.initialized"}"#,
    printcolumn = r#"{"name":"API Server Available","type":"boolean","description":"KubeadmControlPlane API Server is ready to receive requests","jsonPath":".status.ready"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","description":"Total number of machines desired by this control plane","jsonPath":".spec.replicas","priority":10}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","description":"Total number of non-terminated machines targeted by this control plane","jsonPath":".status.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Total number of fully running and ready control plane machines","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Updated","type":"integer","description":"Total number of non-terminated machines targeted by this control plane that have the desired template spec","jsonPath":".status.updatedReplicas"}"#,
    printcolumn = r#"{"name":"Unavailable","type":"integer","description":"Total number of unavailable machines targeted by this control plane","jsonPath":".status.unavailableReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of KubeadmControlPlane","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Kubernetes version associated with this control plane","jsonPath":".spec.version"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneSpec {
    /// How many control-plane Machines to run (1, 3, 5…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Kubernetes version of the control plane, e.g. `v1.24.10+vmware.1`.
    pub version: String,
    /// What every control-plane Machine is made of.
    pub machine_template: KubeadmControlPlaneMachineTemplate,
    /// The kubeadm configuration of the control-plane nodes.
    pub kubeadm_config_spec: KubeadmConfigSpec,
    /// Not before this time (RFC 3339) does a rollout replace every Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_after: Option<String>,
    /// Replace Machines whose certificates expire within some days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_before: Option<RolloutBefore>,
    /// How Machines are replaced (rolling update, one surge Machine by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// How unhealthy control-plane Machines are remediated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_strategy: Option<RemediationStrategy>,
}

/// What every control-plane Machine is made of.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneMachineTemplate {
    /// Labels and annotations of the created Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The infrastructure template (e.g. VSphereMachineTemplate) cloned for each Machine.
    pub infrastructure_ref: ObjectReference,
    /// How long to try draining a node before deleting it anyway (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// How long to wait for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// How long to retry deleting the Node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
}

/// The kubeadm configuration of the control-plane nodes: the fields the simulators read are
/// typed; kubeadm's own configurations are kept as free-form objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigSpec {
    /// kubeadm's ClusterConfiguration (API server, etcd, networking, image repository…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub cluster_configuration: Option<Value>,
    /// kubeadm's InitConfiguration (first control-plane node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub init_configuration: Option<Value>,
    /// kubeadm's JoinConfiguration (further nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub join_configuration: Option<Value>,
    /// Files written on the node before kubeadm runs (kube-vip manifest, certificates…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    /// Commands run before kubeadm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_kubeadm_commands: Vec<String>,
    /// Commands run after kubeadm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_kubeadm_commands: Vec<String>,
    /// Users created on the node (TKG adds `capv` with its SSH key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// NTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Ntp>,
    /// Bootstrap data format: `cloud-config` (default) or `ignition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// kubeadm's `--v` verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<i32>,
    /// Retry `kubeadm join` on failure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_experimental_retry_join: bool,
}

/// A file written on the node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct File {
    /// Where the file goes.
    pub path: String,
    /// `user:group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Octal mode, e.g. `0640`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// `base64`, `gzip` or `gzip+base64` when the content is encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The content itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A user created on the node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Login name.
    pub name: String,
    /// SSH public keys allowed to log in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_authorized_keys: Vec<String>,
    /// A sudoers rule, e.g. `ALL=(ALL) NOPASSWD:ALL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<String>,
}

/// NTP settings of the node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Ntp {
    /// NTP servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// Whether NTP is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Replace Machines before their certificates expire.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutBefore {
    /// Replace a Machine whose certificates expire within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_expiry_days: Option<i32>,
}

/// How control-plane Machines are replaced.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Only `RollingUpdate`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Parameters of the rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

/// Parameters of a control-plane rolling update.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Machines above `replicas` during the update: 1 (default, the runbook's `4/3`) or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// How unhealthy control-plane Machines are remediated.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationStrategy {
    /// How many times to retry remediating the same Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry: Option<i32>,
    /// Wait between two remediations (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_period: Option<String>,
    /// A Machine healthy this long resets the retry count (a duration, default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_period: Option<String>,
}

/// Observed state of a KubeadmControlPlane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneStatus {
    /// The selector as a string, for the scale subresource (`kubectl scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Control-plane Machines that exist (not terminated); `4` of `4/3` during a rollout.
    #[serde(default)]
    pub replicas: i32,
    /// The lowest Kubernetes version among the control-plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Machines with the desired spec.
    #[serde(default)]
    pub updated_replicas: i32,
    /// Machines whose Node is Ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Machines still needed for full availability.
    #[serde(default)]
    pub unavailable_replicas: i32,
    /// Whether the first control-plane node has uploaded the kubeadm-config ConfigMap.
    #[serde(default)]
    pub initialized: bool,
    /// Whether the API server answers.
    #[serde(default)]
    pub ready: bool,
    /// A terminal problem, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Cluster API conditions (Ready, Available, MachinesReady, MachinesSpecUpToDate, Resized…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last remediation, for retry accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_remediation: Option<LastRemediationStatus>,
}

/// The last remediation of a KubeadmControlPlane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRemediationStatus {
    /// The Machine remediated.
    pub machine: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// How many times it was retried.
    pub retry_count: i32,
}
