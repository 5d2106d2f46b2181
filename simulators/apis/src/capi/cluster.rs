//! The Cluster: the root object of a workload cluster, paused after a Velero restore.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;

/// Desired state of a workload cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "Cluster",
    namespaced,
    status = "ClusterStatus",
    shortname = "cl",
    category = "cluster-api",
    printcolumn = r#"{"name":"ClusterClass","type":"string","description":"ClusterClass of this Cluster, empty if the Cluster is not using a ClusterClass","jsonPath":".spec.topology.class"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","description":"Cluster status such as Pending/Provisioning/Provisioned/Deleting/Failed","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since creation of Cluster","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Kubernetes version associated with this Cluster","jsonPath":".spec.topology.version"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Stops every controller from reconciling this cluster (Velero restores it `true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Pod and service networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<ClusterNetwork>,
    /// Where the workload cluster's API server answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// The KubeadmControlPlane that runs the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_ref: Option<ObjectReference>,
    /// The infrastructure cluster (e.g. VSphereCluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ref: Option<ObjectReference>,
    /// Managed topology (ClusterClass), as TKG plans use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
}

/// Cluster network settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetwork {
    /// Port the API server listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_port: Option<i32>,
    /// Service CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<NetworkRanges>,
    /// Pod CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NetworkRanges>,
    /// Service DNS domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_domain: Option<String>,
}

/// A list of CIDR blocks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRanges {
    /// The CIDRs.
    pub cidr_blocks: Vec<String>,
}

/// Host and port of an API server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ApiEndpoint {
    /// Hostname or IP.
    pub host: String,
    /// TCP port.
    pub port: i32,
}

/// Managed topology of a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Topology {
    /// The ClusterClass.
    pub class: String,
    /// Kubernetes version, e.g. `v1.24.10+vmware.1`.
    pub version: String,
}

/// Observed state of a workload cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Pending, Provisioning, Provisioned, Deleting, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Whether the infrastructure is ready.
    #[serde(default)]
    pub infrastructure_ready: bool,
    /// Whether the control plane is ready.
    #[serde(default)]
    pub control_plane_ready: bool,
    /// Cluster API conditions (Ready, ControlPlaneReady, InfrastructureReady…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    use super::*;

    #[test]
    fn crd_matches_upstream_names() {
        let crd = Cluster::crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("clusters.cluster.x-k8s.io"));
        assert_eq!(crd.spec.names.short_names, Some(vec!["cl".to_string()]));
        assert_eq!(crd.spec.names.categories, Some(vec!["cluster-api".to_string()]));
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().is_some_and(|s| s.status.is_some()));
        let schema = serde_json::to_value(&version.schema).expect("schema serializes");
        assert_eq!(
            schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["paused"]["type"],
            "boolean"
        );
    }
}
