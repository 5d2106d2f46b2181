//! Cluster API `cluster.x-k8s.io/v1beta1` and `controlplane.cluster.x-k8s.io/v1beta1`: the
//! objects a management cluster keeps for each workload cluster, and the labels and
//! annotations that tie them together.

pub mod cluster;
pub mod common;
pub mod conditions;
pub mod kubeadmcontrolplane;
pub mod machine;
pub mod machinedeployment;
pub mod machinehealthcheck;
pub mod machineset;

pub use cluster::{Cluster, ClusterSpec, ClusterStatus};
pub use common::{MachineAddress, ObjectMeta};
pub use conditions::Condition;
pub use kubeadmcontrolplane::{KubeadmControlPlane, KubeadmControlPlaneSpec, KubeadmControlPlaneStatus};
pub use machine::{Machine, MachineSpec, MachineStatus, MachineTemplateSpec};
pub use machinedeployment::{MachineDeployment, MachineDeploymentSpec, MachineDeploymentStatus};
pub use machinehealthcheck::{MachineHealthCheck, MachineHealthCheckSpec, MachineHealthCheckStatus};
pub use machineset::{MachineSet, MachineSetSpec, MachineSetStatus};

/// The annotation that pauses reconciliation of one object (as `spec.paused` does for a Cluster).
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

/// The label that ties every Cluster API object to its Cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// The label (value empty) on every control-plane Machine (and on its Node's role, in the
/// workload cluster, as `node-role.kubernetes.io/control-plane`).
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";

/// The label naming the KubeadmControlPlane that owns a control-plane Machine.
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";

/// The label naming the MachineDeployment of a MachineSet and of its Machines.
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";

/// The label naming the MachineSet of a Machine (a hash when the name is too long).
pub const SET_NAME_LABEL: &str = "cluster.x-k8s.io/set-name";

/// The annotation marking a Machine to delete first when its MachineSet scales down.
pub const DELETE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/delete-machine";

/// The annotation on a Node naming the Cluster it belongs to.
pub const NODE_CLUSTER_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cluster-name";

/// The annotation on a Node naming its Machine.
pub const NODE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/machine";

/// The annotation on a Node naming its Machine's namespace.
pub const NODE_CLUSTER_NAMESPACE_ANNOTATION: &str = "cluster.x-k8s.io/cluster-namespace";

/// The annotation on a MachineDeployment/MachineSet holding the rollout revision.
pub const REVISION_ANNOTATION: &str = "machinedeployment.clusters.x-k8s.io/revision";

/// The finalizer every Machine carries until its node is drained and its infrastructure gone.
pub const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
