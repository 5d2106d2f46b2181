//! The TanzuKubernetesRelease (cluster-scoped): one Kubernetes version shipped by TKG, with its
//! images and OS images; `Ready` and `Compatible` say whether clusters may use it.

use k8s_openapi::api::core::v1::LocalObjectReference;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::capi::conditions::Condition;

/// Desired state of a TanzuKubernetesRelease.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "run.tanzu.vmware.com",
    version = "v1alpha3",
    kind = "TanzuKubernetesRelease",
    status = "TanzuKubernetesReleaseStatus",
    shortname = "tkr",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name":"Compatible","type":"string","jsonPath":".status.conditions[?(@.type=='Compatible')].status"}"#,
    printcolumn = r#"{"name":"Created","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TanzuKubernetesReleaseSpec {
    /// The TKR's semantic version, e.g. `v1.24.10+vmware.1-tkg.2`; unique among TKRs.
    pub version: String,
    /// The Kubernetes build it ships.
    pub kubernetes: KubernetesSpec,
    /// The OSImage objects shipped with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os_images: Vec<LocalObjectReference>,
    /// The bootstrap packages shipped with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_packages: Vec<LocalObjectReference>,
}

/// The Kubernetes build of a TKR.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesSpec {
    /// Kubernetes version, e.g. `v1.24.10+vmware.1`.
    pub version: String,
    /// The registry its images come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// The etcd image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<ContainerImageInfo>,
    /// The pause image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<ContainerImageInfo>,
    /// The CoreDNS image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coredns: Option<ContainerImageInfo>,
    /// The kube-vip image.
    #[serde(rename = "kube-vip", default, skip_serializing_if = "Option::is_none")]
    pub kube_vip: Option<ContainerImageInfo>,
}

/// Repository and tag of a component image.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImageInfo {
    /// Registry, when not the Kubernetes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
}

/// Observed state of a TanzuKubernetesRelease.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct TanzuKubernetesReleaseStatus {
    /// Ready, Compatible, Valid, UpdatesAvailable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
