//! The MachineSet: keeps `replicas` Machines matching its selector, as a ReplicaSet keeps Pods;
//! owned by a MachineDeployment.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::machine::MachineTemplateSpec;

/// Desired state of a MachineSet.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "MachineSet",
    namespaced,
    status = "MachineSetStatus",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    shortname = "ms",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster","jsonPath":".spec.clusterName"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","description":"Total number of machines desired by this machineset","jsonPath":".spec.replicas","priority":10}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","description":"Total number of non-terminated machines targeted by this machineset","jsonPath":".status.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Total number of ready machines targeted by this machineset.","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Available","type":"integer","description":"Total number of available machines (ready for at least minReadySeconds)","jsonPath":".status.availableReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of MachineSet","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Kubernetes version associated with this MachineSet","jsonPath":".spec.template.spec.version"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetSpec {
    /// The Cluster this MachineSet belongs to.
    pub cluster_name: String,
    /// How many Machines to keep (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Seconds a new Machine's Node must be Ready before it counts as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Which Machines go first when scaling down: `Random` (default), `Newest` or `Oldest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_policy: Option<String>,
    /// The Machines this set counts and adopts (Machines without an owner that match are adopted).
    pub selector: LabelSelector,
    /// The Machine to create when there are too few.
    #[serde(default)]
    pub template: MachineTemplateSpec,
}

/// Observed state of a MachineSet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetStatus {
    /// The selector as a string, for the scale subresource (`kubectl scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Machines that exist (not terminated).
    #[serde(default)]
    pub replicas: i32,
    /// Machines whose labels match the template's.
    #[serde(default)]
    pub fully_labeled_replicas: i32,
    /// Machines whose Node is Ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Machines Ready for at least `minReadySeconds`.
    #[serde(default)]
    pub available_replicas: i32,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A terminal problem, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Cluster API conditions (Ready, MachinesCreated, MachinesReady, Resized).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
