//! AKS on Azure Stack HCI, simulated for drdrill: a host cluster with failover
//! ([`hosts::HostCluster`]), the management cluster as one VM running a Kubernetes API server
//! that holds the AKS host's configuration and workload clusters as custom resources
//! ([`apis`]), and the controller that turns them into control-plane, load-balancer and
//! node-pool VMs with one API server per workload cluster ([`platform::AksHciPlatform`]).

pub mod apis;
pub mod hosts;
pub mod platform;

pub use apis::{AksHciCluster, AksHciClusterSpec, AksHciConfig, AksHciConfigSpec, NodePoolSpec, VirtualNetwork};
pub use hosts::{Failover, HciVm, HostCluster, HostError, HostState, VmRole, VmSpec, VmState};
pub use platform::{AksHciPlatform, MANAGEMENT_VM, PlatformError, SyncReport, admin_context};
