//! The simulated infrastructure under Cluster API: the Site (hosts and VMs that outlive any
//! management cluster), the node agents that turn running VMs into Nodes of their workload
//! cluster, and the Cluster API controllers that manage both. Everything here talks to
//! clusters only through the Kubernetes API.

pub mod controllers;
pub mod node_agent;
pub mod site;
pub mod storage;
pub mod workloads;

pub use controllers::{ControllerError, Controllers, Report, SecretWorkloadClusters, StaticWorkloadClusters, WorkloadClusters};
pub use node_agent::{CloudNodeLifecycle, NodeAgent, NodeLifecycle};
pub use site::{PowerState, Site, SiteError, Vm, VmRole, VmSpec};
pub use storage::{Datastore, StorageError};
pub use workloads::{WorkloadControllers, WorkloadReport};
