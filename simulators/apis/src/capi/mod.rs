//! Cluster API `cluster.x-k8s.io/v1beta1`.

pub mod cluster;

pub use cluster::{Cluster, ClusterSpec, ClusterStatus};

/// The annotation that pauses reconciliation of one object (as `spec.paused` does for a Cluster).
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

/// The label that ties every Cluster API object to its Cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
