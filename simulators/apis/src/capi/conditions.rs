//! The Cluster API v1beta1 condition, shared by every kind of this crate (Cluster API,
//! vSphere and TKR objects all carry `status.conditions` of this shape).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Cluster API (v1beta1) condition.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// `Error`, `Warning` or `Info` when not True.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// CamelCase reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Condition {
    /// Whether the condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// The condition of type `type_` in `conditions`, if any.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// `Ready`: the summary condition of every object.
pub const READY: &str = "Ready";
/// `InfrastructureReady`: the infrastructure object (VSphereCluster, VSphereMachine) is ready.
pub const INFRASTRUCTURE_READY: &str = "InfrastructureReady";
/// `ControlPlaneReady`: the Cluster's control plane is ready.
pub const CONTROL_PLANE_READY: &str = "ControlPlaneReady";
/// `ControlPlaneInitialized`: the first control-plane machine came up.
pub const CONTROL_PLANE_INITIALIZED: &str = "ControlPlaneInitialized";
/// `BootstrapReady`: a Machine's bootstrap data is ready.
pub const BOOTSTRAP_READY: &str = "BootstrapReady";
/// `NodeHealthy`: a Machine's Node is healthy.
pub const NODE_HEALTHY: &str = "NodeHealthy";
/// `HealthCheckSucceeded`: set by a MachineHealthCheck on every Machine it checks.
pub const HEALTH_CHECK_SUCCEEDED: &str = "HealthCheckSucceeded";
/// `OwnerRemediated`: the Machine's owner must remediate it (set False by a MachineHealthCheck).
pub const OWNER_REMEDIATED: &str = "OwnerRemediated";
/// `MachinesReady`: every Machine of a KubeadmControlPlane or MachineSet is ready.
pub const MACHINES_READY: &str = "MachinesReady";
/// `MachinesSpecUpToDate`: every Machine of a KubeadmControlPlane matches the desired spec.
pub const MACHINES_SPEC_UP_TO_DATE: &str = "MachinesSpecUpToDate";
/// `Resized`: a KubeadmControlPlane reached its desired replica count.
pub const RESIZED: &str = "Resized";
/// `Available`: a KubeadmControlPlane or MachineDeployment serves its minimum availability.
pub const AVAILABLE: &str = "Available";
/// `RemediationAllowed`: a MachineHealthCheck may remediate (maxUnhealthy not exceeded).
pub const REMEDIATION_ALLOWED: &str = "RemediationAllowed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_condition_by_type() {
        let conditions = vec![
            Condition {
                type_: READY.into(),
                status: "True".into(),
                ..Condition::default()
            },
            Condition {
                type_: NODE_HEALTHY.into(),
                status: "False".into(),
                ..Condition::default()
            },
        ];
        assert!(find(&conditions, READY).is_some_and(Condition::is_true));
        assert!(!find(&conditions, NODE_HEALTHY).is_some_and(Condition::is_true));
        assert!(find(&conditions, AVAILABLE).is_none());
    }
}
