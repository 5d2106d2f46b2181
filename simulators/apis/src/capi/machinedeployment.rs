//! The MachineDeployment: a cluster's worker pool, rolled out through MachineSets as a
//! Deployment rolls out through ReplicaSets; `tanzu cluster scale` changes its replicas.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::machine::MachineTemplateSpec;

/// Desired state of a MachineDeployment.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "MachineDeployment",
    namespaced,
    status = "MachineDeploymentStatus",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    shortname = "md",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster","jsonPath":".spec.clusterName"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","description":"Total number of machines desired by this MachineDeployment","jsonPath":".spec.replicas","priority":10}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","description":"Total number of non-terminated machines targeted by this MachineDeployment","jsonPath":".status.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Total number of ready machines targeted by this MachineDeployment","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Updated","type":"integer","description":"Total number of non-terminated machines targeted by this deployment that have the desired template spec","jsonPath":".status.updatedReplicas"}"#,
    printcolumn = r#"{"name":"Unavailable","type":"integer","description":"Total number of unavailable machines targeted by this MachineDeployment","jsonPath":".status.unavailableReplicas"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","description":"MachineDeployment status such as ScalingUp/ScalingDown/Running/Failed/Unknown","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of MachineDeployment","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Kubernetes version associated with this MachineDeployment","jsonPath":".spec.template.spec.version"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentSpec {
    /// The Cluster this MachineDeployment belongs to.
    pub cluster_name: String,
    /// How many worker Machines to run (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Not before this time (RFC 3339) does a rollout replace every Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_after: Option<String>,
    /// The Machines (and MachineSets) this deployment owns.
    pub selector: LabelSelector,
    /// The Machine every MachineSet of this deployment stamps out.
    #[serde(default)]
    pub template: MachineTemplateSpec,
    /// How old Machines are replaced by new ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<MachineDeploymentStrategy>,
    /// Seconds a new Machine's Node must be Ready before it counts as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// How many old MachineSets to keep for rollback (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Stops rollouts of this deployment (not the pause of a Cluster).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Seconds before a stuck rollout is reported as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
}

/// How a MachineDeployment replaces its Machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStrategy {
    /// `RollingUpdate` (default) or `OnDelete`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Parameters of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<MachineRollingUpdateDeployment>,
}

/// Parameters of a MachineDeployment's rolling update.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineRollingUpdateDeployment {
    /// Machines (or a percentage) that may be unavailable during the update (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Machines (or a percentage) above `replicas` during the update (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Which old Machines go first: `Random`, `Newest` or `Oldest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_policy: Option<String>,
}

/// Observed state of a MachineDeployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStatus {
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The selector as a string, for the scale subresource (`kubectl scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Machines that exist (not terminated).
    #[serde(default)]
    pub replicas: i32,
    /// Machines with the desired template.
    #[serde(default)]
    pub updated_replicas: i32,
    /// Machines whose Node is Ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Machines available (Ready for at least `minReadySeconds`).
    #[serde(default)]
    pub available_replicas: i32,
    /// Machines still needed for full availability.
    #[serde(default)]
    pub unavailable_replicas: i32,
    /// ScalingUp, ScalingDown, Running, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Cluster API conditions (Ready, Available, MachineSetReady).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
