//! Cluster API Provider vSphere, `infrastructure.cluster.x-k8s.io/v1beta1` (the govmomi
//! provider of a TKG 2.x standalone management cluster): the infrastructure side of a
//! workload cluster and of each of its Machines.

pub mod cluster;
pub mod machine;

pub use cluster::{VSphereCluster, VSphereClusterSpec, VSphereClusterStatus};
pub use machine::{VSphereMachine, VSphereMachineSpec, VSphereMachineStatus, VSphereMachineTemplate, VSphereMachineTemplateSpec};

/// The API group of the infrastructure kinds.
pub const GROUP: &str = "infrastructure.cluster.x-k8s.io";

/// The prefix of a vSphere VM's provider ID: `vsphere://<bios-uuid>`.
pub const PROVIDER_ID_PREFIX: &str = "vsphere://";

/// The finalizer a VSphereMachine carries until its VM is deleted.
pub const MACHINE_FINALIZER: &str = "vspheremachine.infrastructure.cluster.x-k8s.io";
