//! The MachineHealthCheck: marks Machines whose Node is missing, never came up or stays
//! unhealthy for too long, so their owner replaces them — unless too many are unhealthy.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;

/// Desired state of a MachineHealthCheck.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "MachineHealthCheck",
    namespaced,
    status = "MachineHealthCheckStatus",
    shortname = "mhc",
    shortname = "mhcs",
    category = "cluster-api",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"Cluster","jsonPath":".spec.clusterName"}"#,
    printcolumn = r#"{"name":"ExpectedMachines","type":"integer","description":"Number of machines currently monitored","jsonPath":".status.expectedMachines"}"#,
    printcolumn = r#"{"name":"MaxUnhealthy","type":"string","description":"Maximum number of unhealthy machines allowed","jsonPath":".spec.maxUnhealthy"}"#,
    printcolumn = r#"{"name":"CurrentHealthy","type":"integer","description":"Current observed healthy machines","jsonPath":".status.currentHealthy"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of MachineHealthCheck","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MachineHealthCheckSpec {
    /// The Cluster whose Machines are checked.
    pub cluster_name: String,
    /// The Machines to check.
    pub selector: LabelSelector,
    /// Node conditions that make a Machine unhealthy once they hold for their timeout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy_conditions: Vec<UnhealthyCondition>,
    /// Remediation stops when more Machines than this (a count or a percentage) are unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unhealthy: Option<IntOrString>,
    /// Remediation runs only while the unhealthy count is in this range, e.g. `[1-3]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_range: Option<String>,
    /// How long a Machine may run without a Node before it is unhealthy (a duration, default
    /// `10m`; `0` disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_startup_timeout: Option<String>,
    /// An external remediation template; without it the Machine's owner deletes the Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_template: Option<ObjectReference>,
}

/// A Node condition that makes a Machine unhealthy when it holds for `timeout`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct UnhealthyCondition {
    /// Node condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The status that is unhealthy: `True`, `False` or `Unknown`.
    pub status: String,
    /// How long the condition must hold (a duration, e.g. `5m`).
    pub timeout: String,
}

/// Observed state of a MachineHealthCheck.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineHealthCheckStatus {
    /// Machines the selector matches.
    #[serde(default)]
    pub expected_machines: i32,
    /// Of those, the healthy ones.
    #[serde(default)]
    pub current_healthy: i32,
    /// Further remediations allowed before `maxUnhealthy` stops them.
    #[serde(default)]
    pub remediations_allowed: i32,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Names of the Machines checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Cluster API conditions (RemediationAllowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
