//! The Azure Stack HCI host cluster: physical hosts in a Windows failover cluster and the VMs
//! they run. When a host fails, its VMs stop; after the failover delay (on the injectable
//! clock) the failover cluster restarts each of them on a healthy host. This inventory outlives
//! any management cluster, like the vSphere Site of the TKG world.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use drdrill_kube_sim::clock::Clock;
use jiff::Timestamp;

/// How long the failover cluster waits before restarting a failed host's VMs elsewhere.
pub const DEFAULT_FAILOVER_DELAY: Duration = Duration::from_secs(60);

/// Health of a physical host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    /// Serving VMs.
    Up,
    /// Failed: its VMs are down until failover moves them.
    Down,
}

impl std::fmt::Display for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostState::Up => "Up",
            HostState::Down => "Down",
        })
    }
}

/// State of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    /// Running.
    Running,
    /// Shut down on purpose; failover leaves it alone.
    Off,
    /// Its host failed at `since`; failover restarts it elsewhere after the delay.
    Failed {
        /// When the host failed.
        since: Timestamp,
    },
}

impl VmState {
    /// `Running`, `Off` or `Failed`.
    pub fn label(&self) -> &'static str {
        match self {
            VmState::Running => "Running",
            VmState::Off => "Off",
            VmState::Failed { .. } => "Failed",
        }
    }
}

/// What a VM is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum VmRole {
    /// The AKS host's management cluster (one VM per deployment).
    Management,
    /// A workload cluster control-plane node.
    ControlPlane,
    /// A workload cluster HAProxy load balancer.
    LoadBalancer,
    /// A worker of the named node pool.
    Worker(String),
}

impl VmRole {
    /// `Management`, `ControlPlane`, `LoadBalancer` or `Worker`.
    pub fn label(&self) -> &'static str {
        match self {
            VmRole::Management => "Management",
            VmRole::ControlPlane => "ControlPlane",
            VmRole::LoadBalancer => "LoadBalancer",
            VmRole::Worker(_) => "Worker",
        }
    }
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    /// VM name (and node name for nodes).
    pub name: String,
    /// Workload cluster; empty for the management VM.
    pub cluster: String,
    /// Role.
    pub role: VmRole,
    /// Size, e.g. `Standard_A4_v2`.
    pub vm_size: String,
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// Kubernetes version its image runs.
    pub kubernetes_version: String,
}

/// A VM of the host cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HciVm {
    /// What it was created as.
    pub spec: VmSpec,
    /// Host it is placed on.
    pub host: String,
    /// Power/failure state.
    pub state: VmState,
}

impl HciVm {
    /// VM name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        self.state == VmState::Running
    }
}

/// A VM moved by failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// VM name.
    pub vm: String,
    /// The failed host.
    pub from: String,
    /// The healthy host it restarted on.
    pub to: String,
}

/// Why a host-cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// No host of that name.
    #[error("host cluster {cluster:?} has no host named {host:?} (hosts: {known})")]
    UnknownHost {
        /// Host cluster name.
        cluster: String,
        /// Host asked for.
        host: String,
        /// Known hosts, comma-separated.
        known: String,
    },
    /// No VM of that name.
    #[error("host cluster {cluster:?} has no VM named {name:?}")]
    NoVm {
        /// Host cluster name.
        cluster: String,
        /// VM name.
        name: String,
    },
    /// A VM of that name exists.
    #[error("host cluster {cluster:?} already has a VM named {name:?}")]
    VmExists {
        /// Host cluster name.
        cluster: String,
        /// VM name.
        name: String,
    },
    /// Every host is down.
    #[error("host cluster {cluster:?} has no healthy host to place VM {name:?} on")]
    NoHealthyHost {
        /// Host cluster name.
        cluster: String,
        /// VM name.
        name: String,
    },
}

#[derive(Debug)]
struct Inventory {
    hosts: BTreeMap<String, HostState>,
    vms: BTreeMap<String, HciVm>,
}

impl Inventory {
    /// The healthy host with the fewest VMs (ties: by name), skipping `except`.
    fn least_loaded(&self, except: Option<&str>) -> Option<String> {
        self.hosts
            .iter()
            .filter(|(h, s)| **s == HostState::Up && Some(h.as_str()) != except)
            .min_by_key(|(h, _)| (self.vms.values().filter(|v| &v.host == *h).count(), (*h).clone()))
            .map(|(h, _)| h.clone())
    }
}

/// A host cluster: cheap to clone, every clone sees the same inventory.
#[derive(Debug, Clone)]
pub struct HostCluster {
    name: String,
    inner: Arc<Mutex<Inventory>>,
    clock: Arc<dyn Clock>,
    failover_delay: Duration,
}

impl HostCluster {
    /// A failover cluster of `hosts`, all up.
    pub fn new(name: &str, hosts: &[&str], clock: Arc<dyn Clock>) -> Self {
        HostCluster {
            name: name.to_string(),
            inner: Arc::new(Mutex::new(Inventory {
                hosts: hosts.iter().map(|h| (h.to_string(), HostState::Up)).collect(),
                vms: BTreeMap::new(),
            })),
            clock,
            failover_delay: DEFAULT_FAILOVER_DELAY,
        }
    }

    /// The same cluster with another failover delay.
    pub fn with_failover_delay(mut self, delay: Duration) -> Self {
        self.failover_delay = delay;
        self
    }

    /// The failover delay.
    pub fn failover_delay(&self) -> Duration {
        self.failover_delay
    }

    /// The host cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inventory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hosts and their state, by name.
    pub fn hosts(&self) -> Vec<(String, HostState)> {
        self.lock().hosts.iter().map(|(h, s)| (h.clone(), *s)).collect()
    }

    /// State of one host.
    pub fn host_state(&self, host: &str) -> Option<HostState> {
        self.lock().hosts.get(host).copied()
    }

    fn unknown_host(&self, inv: &Inventory, host: &str) -> HostError {
        HostError::UnknownHost {
            cluster: self.name.clone(),
            host: host.to_string(),
            known: inv.hosts.keys().cloned().collect::<Vec<_>>().join(", "),
        }
    }

    /// Creates a running VM on the least-loaded healthy host.
    pub fn create_vm(&self, spec: VmSpec) -> Result<HciVm, HostError> {
        let mut inv = self.lock();
        if inv.vms.contains_key(&spec.name) {
            return Err(HostError::VmExists {
                cluster: self.name.clone(),
                name: spec.name,
            });
        }
        let Some(host) = inv.least_loaded(None) else {
            return Err(HostError::NoHealthyHost {
                cluster: self.name.clone(),
                name: spec.name,
            });
        };
        let vm = HciVm {
            spec,
            host,
            state: VmState::Running,
        };
        inv.vms.insert(vm.spec.name.clone(), vm.clone());
        Ok(vm)
    }

    /// One VM.
    pub fn vm(&self, name: &str) -> Option<HciVm> {
        self.lock().vms.get(name).cloned()
    }

    /// Every VM, by name.
    pub fn list(&self) -> Vec<HciVm> {
        self.lock().vms.values().cloned().collect()
    }

    /// The VMs of one workload cluster, by name.
    pub fn vms_of(&self, cluster: &str) -> Vec<HciVm> {
        self.lock().vms.values().filter(|v| v.spec.cluster == cluster).cloned().collect()
    }

    /// Removes a VM.
    pub fn delete_vm(&self, name: &str) -> Result<HciVm, HostError> {
        self.lock().vms.remove(name).ok_or_else(|| HostError::NoVm {
            cluster: self.name.clone(),
            name: name.to_string(),
        })
    }

    fn set_state(&self, name: &str, state: VmState) -> Result<HciVm, HostError> {
        let mut inv = self.lock();
        let vm = inv.vms.get_mut(name).ok_or_else(|| HostError::NoVm {
            cluster: self.name.clone(),
            name: name.to_string(),
        })?;
        vm.state = state;
        Ok(vm.clone())
    }

    /// Shuts a VM down (failover does not restart it).
    pub fn power_off(&self, name: &str) -> Result<HciVm, HostError> {
        self.set_state(name, VmState::Off)
    }

    /// Starts a VM on its host (if that host is down, the VM waits for failover instead).
    pub fn power_on(&self, name: &str) -> Result<HciVm, HostError> {
        let host = self
            .vm(name)
            .ok_or_else(|| HostError::NoVm {
                cluster: self.name.clone(),
                name: name.to_string(),
            })?
            .host;
        let state = match self.host_state(&host) {
            Some(HostState::Up) => VmState::Running,
            _ => VmState::Failed { since: self.clock.now() },
        };
        self.set_state(name, state)
    }

    /// Changes a VM's Kubernetes version (an in-place image upgrade); returns the VM.
    pub fn set_kubernetes_version(&self, name: &str, version: &str) -> Result<HciVm, HostError> {
        let mut inv = self.lock();
        let vm = inv.vms.get_mut(name).ok_or_else(|| HostError::NoVm {
            cluster: self.name.clone(),
            name: name.to_string(),
        })?;
        vm.spec.kubernetes_version = version.to_string();
        Ok(vm.clone())
    }

    /// A host fails: every running VM on it fails now; returns their names.
    pub fn fail_host(&self, host: &str) -> Result<Vec<String>, HostError> {
        let now = self.clock.now();
        let mut inv = self.lock();
        if !inv.hosts.contains_key(host) {
            return Err(self.unknown_host(&inv, host));
        }
        inv.hosts.insert(host.to_string(), HostState::Down);
        let mut failed = Vec::new();
        for vm in inv.vms.values_mut().filter(|v| v.host == host && v.state == VmState::Running) {
            vm.state = VmState::Failed { since: now };
            failed.push(vm.spec.name.clone());
        }
        Ok(failed)
    }

    /// A failed host comes back; VMs still waiting on it restart there.
    pub fn restore_host(&self, host: &str) -> Result<Vec<String>, HostError> {
        let mut inv = self.lock();
        if !inv.hosts.contains_key(host) {
            return Err(self.unknown_host(&inv, host));
        }
        inv.hosts.insert(host.to_string(), HostState::Up);
        let mut restarted = Vec::new();
        for vm in inv
            .vms
            .values_mut()
            .filter(|v| v.host == host && matches!(v.state, VmState::Failed { .. }))
        {
            vm.state = VmState::Running;
            restarted.push(vm.spec.name.clone());
        }
        Ok(restarted)
    }

    /// The failover cluster's pass: every VM that failed at least the failover delay ago
    /// restarts on the least-loaded healthy host. VMs stay failed while no host is healthy.
    pub fn failover(&self) -> Vec<Failover> {
        let now = self.clock.now();
        let delay = jiff::SignedDuration::try_from(self.failover_delay).unwrap_or(jiff::SignedDuration::MAX);
        let mut inv = self.lock();
        let due: Vec<String> = inv
            .vms
            .values()
            .filter(|v| matches!(v.state, VmState::Failed { since } if now.duration_since(since) >= delay))
            .map(|v| v.spec.name.clone())
            .collect();
        let mut moved = Vec::new();
        for name in due {
            let from = inv.vms[&name].host.clone();
            let Some(to) = inv.least_loaded(Some(&from)) else { continue };
            if let Some(vm) = inv.vms.get_mut(&name) {
                vm.host = to.clone();
                vm.state = VmState::Running;
            }
            moved.push(Failover { vm: name, from, to });
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use drdrill_kube_sim::clock::VirtualClock;

    use super::*;

    fn spec(name: &str, role: VmRole) -> VmSpec {
        VmSpec {
            name: name.into(),
            cluster: String::new(),
            role,
            vm_size: "Standard_A4_v2".into(),
            os_type: "Linux".into(),
            kubernetes_version: "v1.24.11".into(),
        }
    }

    #[test]
    fn failed_vms_restart_on_a_healthy_host_only_after_the_delay() {
        let clock = VirtualClock::starting_at("2023-03-01T08:00:00Z".parse().expect("time"));
        let hosts = HostCluster::new("hci01", &["node-1", "node-2"], Arc::new(clock.clone()));
        let mgmt = hosts.create_vm(spec("mgmt", VmRole::Management)).expect("vm");
        assert_eq!(mgmt.host, "node-1");
        let other = hosts.create_vm(spec("cp-0", VmRole::ControlPlane)).expect("vm");
        assert_eq!(other.host, "node-2", "placement spreads VMs");
        assert_eq!(hosts.fail_host("node-1").expect("fail"), ["mgmt"]);
        assert_eq!(hosts.vm("mgmt").expect("vm").state.label(), "Failed");
        clock.advance(Duration::from_secs(59));
        assert!(hosts.failover().is_empty(), "nothing moves before the delay");
        clock.advance(Duration::from_secs(1));
        let moved = hosts.failover();
        assert_eq!(
            moved,
            [Failover {
                vm: "mgmt".into(),
                from: "node-1".into(),
                to: "node-2".into()
            }]
        );
        assert!(hosts.vm("mgmt").expect("vm").is_running());
    }

    #[test]
    fn without_a_healthy_host_vms_wait_and_powered_off_vms_stay_off() {
        let clock = VirtualClock::starting_at("2023-03-01T08:00:00Z".parse().expect("time"));
        let hosts = HostCluster::new("hci01", &["node-1"], Arc::new(clock.clone()));
        hosts.create_vm(spec("a", VmRole::Management)).expect("vm");
        hosts.create_vm(spec("b", VmRole::ControlPlane)).expect("vm");
        hosts.power_off("b").expect("off");
        hosts.fail_host("node-1").expect("fail");
        clock.advance(Duration::from_secs(600));
        assert!(hosts.failover().is_empty());
        assert_eq!(hosts.restore_host("node-1").expect("restore"), ["a"]);
        assert_eq!(hosts.vm("b").expect("vm").state, VmState::Off);
        let err = hosts.fail_host("node-9").expect_err("unknown host");
        assert_eq!(
            err.to_string(),
            "host cluster \"hci01\" has no host named \"node-9\" (hosts: node-1)"
        );
        assert!(matches!(
            hosts.create_vm(spec("a", VmRole::Management)),
            Err(HostError::VmExists { .. })
        ));
    }
}
