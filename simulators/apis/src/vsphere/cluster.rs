//! The VSphereCluster: where a workload cluster's VMs live (vCenter server, credentials) and
//! its control-plane endpoint; `InfrastructureReady` of the Cluster comes from it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::capi::cluster::ApiEndpoint;
use crate::capi::conditions::Condition;

/// Desired state of a VSphereCluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "VSphereCluster",
    namespaced,
    status = "VSphereClusterStatus",
    category = "cluster-api",
    printcolumn = r#"{"name":"Ready","type":"string","description":"Cluster infrastructure is ready for VSphereMachine","jsonPath":".status.ready"}"#,
    printcolumn = r#"{"name":"Server","type":"string","description":"Server is the address of the vSphere endpoint.","jsonPath":".spec.server"}"#,
    printcolumn = r#"{"name":"ControlPlaneEndpoint","type":"string","description":"API Endpoint","jsonPath":".spec.controlPlaneEndpoint.host","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of Machine","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VSphereClusterSpec {
    /// Address of the vCenter server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
    /// Colon-separated SHA-1 thumbprint of the vCenter certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thumbprint: String,
    /// The workload cluster's API endpoint (TKG: the kube-vip address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// The Secret or VSphereClusterIdentity holding vCenter credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_ref: Option<VSphereIdentityReference>,
    /// vSphere cluster modules (anti-affinity) per VM-owning object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_modules: Vec<ClusterModule>,
    /// Turns the cluster-module feature off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_cluster_module: bool,
    /// Which failure domains the control plane may use (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain_selector: Option<LabelSelector>,
}

/// A reference to vCenter credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct VSphereIdentityReference {
    /// `Secret` or `VSphereClusterIdentity`.
    pub kind: String,
    /// Name of the object.
    pub name: String,
}

/// The vSphere cluster module of one VM-owning object (KubeadmControlPlane, MachineDeployment).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterModule {
    /// Whether the object is the control plane.
    pub control_plane: bool,
    /// Name of the object.
    pub target_object_name: String,
    /// UUID of the vSphere cluster module.
    #[serde(rename = "moduleUUID")]
    pub module_uuid: String,
}

/// One failure domain of a VSphereCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureDomainSpec {
    /// Whether control-plane Machines may go there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control_plane: bool,
    /// Free-form attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Observed state of a VSphereCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VSphereClusterStatus {
    /// Whether the infrastructure is ready for VSphereMachines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ready: bool,
    /// Cluster API conditions (Ready, VCenterAvailable, ClusterModulesAvailable…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Failure domains found in vSphere, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_domains: BTreeMap<String, FailureDomainSpec>,
    /// Version of the vCenter server.
    #[serde(rename = "vCenterVersion", default, skip_serializing_if = "Option::is_none")]
    pub vcenter_version: Option<String>,
}
