//! The simulated infrastructure under Cluster API: the Site (hosts and VMs that outlive any
//! management cluster) and the node agents that turn running VMs into Nodes of their
//! workload cluster. Everything here talks to clusters only through the Kubernetes API.

pub mod node_agent;
pub mod site;

pub use node_agent::{NodeAgent, NodeLifecycle};
pub use site::{PowerState, Site, SiteError, Vm, VmRole, VmSpec};
