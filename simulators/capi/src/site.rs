//! The Site: vSphere-like hosts and VMs with power state, owned by no management cluster.
//! Destroying a management cluster leaves its workload clusters' VMs running — that is
//! where ghost workers come from. The inventory API here is what "remove the VM by hand in
//! vSphere" uses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use drdrill_kube_sim::clock::Clock;
use jiff::Timestamp;
use tokio::sync::watch;

/// Power state of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Running: its kubelet heartbeats.
    On,
    /// Stopped: no heartbeats.
    Off,
}

/// What a VM is in its workload cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmRole {
    /// A control-plane node.
    ControlPlane,
    /// A worker node.
    Worker,
}

impl VmRole {
    /// The node-role label suffix (`node-role.kubernetes.io/<role>`).
    pub fn node_role(self) -> &'static str {
        match self {
            VmRole::ControlPlane => "control-plane",
            VmRole::Worker => "worker",
        }
    }
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    /// VM (and node) name.
    pub name: String,
    /// The workload cluster it belongs to.
    pub cluster: String,
    /// Control plane or worker.
    pub role: VmRole,
    /// The kubelet version its image runs, e.g. `v1.24.10+vmware.1`.
    pub kubelet_version: String,
}

/// A virtual machine in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    /// VM name.
    pub name: String,
    /// BIOS UUID (the provider ID is `vsphere://<uuid>`).
    pub uuid: String,
    /// Power state.
    pub power: PowerState,
    /// Owning workload cluster.
    pub cluster: String,
    /// Role.
    pub role: VmRole,
    /// Host it runs on.
    pub host: String,
    /// Kubelet version.
    pub kubelet_version: String,
    /// When it was created.
    pub created: Timestamp,
}

impl Vm {
    /// The VM's IPv4 address, the kubelet's `InternalIP`.
    pub fn ip_address(&self) -> String {
        // The VM's DHCP lease on the site's 10.0.0.0/8 network, derived from its UUID.
        let bytes: Vec<u8> = self.uuid.bytes().filter(u8::is_ascii_hexdigit).take(6).collect();
        let octet = |i: usize| u8::from_str_radix(std::str::from_utf8(&bytes[i..i + 2]).unwrap_or("00"), 16).unwrap_or(0);
        format!("10.{}.{}.{}", octet(0), octet(2), octet(4).clamp(2, 254))
    }

    /// The Kubernetes provider ID, as the vSphere cloud provider sets it (`vsphere://<uuid>`).
    pub fn provider_id(&self) -> String {
        format!("vsphere://{}", self.uuid)
    }
}

/// Why an inventory operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    /// A VM of that name exists.
    #[error("a VM named {name:?} already exists in site {site:?}")]
    AlreadyExists {
        /// Site name.
        site: String,
        /// VM name.
        name: String,
    },
    /// No VM of that name.
    #[error("no VM named {name:?} in site {site:?}")]
    NotFound {
        /// Site name.
        site: String,
        /// VM name.
        name: String,
    },
    /// The site has no host to place a VM on.
    #[error("site {site:?} has no hosts to place VM {name:?} on")]
    NoHost {
        /// Site name.
        site: String,
        /// VM name.
        name: String,
    },
}

#[derive(Debug)]
struct Inventory {
    hosts: Vec<String>,
    vms: BTreeMap<String, Vm>,
    /// BIOS UUID → VM name, kept in step with `vms`.
    by_uuid: BTreeMap<String, String>,
    rng: u64,
    placed: usize,
}

/// A site: cheap to clone, every clone sees the same inventory.
#[derive(Debug, Clone)]
pub struct Site {
    name: String,
    inner: Arc<Mutex<Inventory>>,
    clock: Arc<dyn Clock>,
    changes: Arc<watch::Sender<u64>>,
}

impl Site {
    /// A site with the given hosts; VM UUIDs come from `seed`.
    pub fn new(name: &str, hosts: &[&str], seed: u64, clock: Arc<dyn Clock>) -> Self {
        let (changes, _) = watch::channel(0);
        Site {
            name: name.to_string(),
            inner: Arc::new(Mutex::new(Inventory {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                vms: BTreeMap::new(),
                by_uuid: BTreeMap::new(),
                rng: seed ^ 0x5173_5173_5173_5173,
                placed: 0,
            })),
            clock,
            changes: Arc::new(changes),
        }
    }

    /// The site's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inventory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts inventory changes (VMs created, powered, deleted): equal generations mean nothing
    /// changed in between.
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Wakes when the inventory changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Creates and powers on a VM, placing it round-robin on the hosts.
    pub fn create_vm(&self, spec: VmSpec) -> Result<Vm, SiteError> {
        let vm = {
            let mut inv = self.lock();
            if inv.vms.contains_key(&spec.name) {
                return Err(SiteError::AlreadyExists {
                    site: self.name.clone(),
                    name: spec.name,
                });
            }
            if inv.hosts.is_empty() {
                return Err(SiteError::NoHost {
                    site: self.name.clone(),
                    name: spec.name,
                });
            }
            let host = inv.hosts[inv.placed % inv.hosts.len()].clone();
            inv.placed += 1;
            let mut bytes = [0u8; 16];
            for chunk in bytes.chunks_mut(8) {
                inv.rng = inv.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = inv.rng;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
            }
            let vm = Vm {
                name: spec.name.clone(),
                uuid: uuid::Builder::from_random_bytes(bytes).into_uuid().to_string(),
                power: PowerState::On,
                cluster: spec.cluster,
                role: spec.role,
                host,
                kubelet_version: spec.kubelet_version,
                created: self.clock.now(),
            };
            inv.by_uuid.insert(vm.uuid.clone(), vm.name.clone());
            inv.vms.insert(vm.name.clone(), vm.clone());
            vm
        };
        self.changed();
        Ok(vm)
    }

    /// One VM by name.
    pub fn vm(&self, name: &str) -> Option<Vm> {
        self.lock().vms.get(name).cloned()
    }

    /// The VM with BIOS UUID `uuid` (what `vsphere://<uuid>` provider IDs name), found through
    /// an index rather than a scan of the inventory.
    pub fn vm_by_uuid(&self, uuid: &str) -> Option<Vm> {
        let inv = self.lock();
        inv.by_uuid.get(uuid).and_then(|name| inv.vms.get(name)).cloned()
    }

    /// Every VM, sorted by name.
    pub fn list(&self) -> Vec<Vm> {
        self.lock().vms.values().cloned().collect()
    }

    /// The VMs of one workload cluster.
    pub fn vms_of(&self, cluster: &str) -> Vec<Vm> {
        self.lock().vms.values().filter(|v| v.cluster == cluster).cloned().collect()
    }

    fn set_power(&self, name: &str, power: PowerState) -> Result<Vm, SiteError> {
        let vm = {
            let mut inv = self.lock();
            let vm = inv.vms.get_mut(name).ok_or_else(|| SiteError::NotFound {
                site: self.name.clone(),
                name: name.to_string(),
            })?;
            vm.power = power;
            vm.clone()
        };
        self.changed();
        Ok(vm)
    }

    /// Powers a VM off: its kubelet stops heartbeating.
    pub fn power_off(&self, name: &str) -> Result<Vm, SiteError> {
        self.set_power(name, PowerState::Off)
    }

    /// Powers a VM on.
    pub fn power_on(&self, name: &str) -> Result<Vm, SiteError> {
        self.set_power(name, PowerState::On)
    }

    /// Removes a VM by hand (the runbook's last mitigation step).
    pub fn delete_vm(&self, name: &str) -> Result<Vm, SiteError> {
        let vm = {
            let mut inv = self.lock();
            let vm = inv.vms.remove(name).ok_or_else(|| SiteError::NotFound {
                site: self.name.clone(),
                name: name.to_string(),
            })?;
            if inv.by_uuid.get(&vm.uuid) == Some(&vm.name) {
                inv.by_uuid.remove(&vm.uuid);
            }
            vm
        };
        self.changed();
        Ok(vm)
    }
}

#[cfg(test)]
mod tests {
    use drdrill_kube_sim::clock::VirtualClock;

    use super::*;

    fn site(seed: u64) -> Site {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        Site::new("vc01", &["esx-1", "esx-2"], seed, Arc::new(clock))
    }

    fn spec(name: &str, role: VmRole) -> VmSpec {
        VmSpec {
            name: name.into(),
            cluster: "tkg-vc-antrea".into(),
            role,
            kubelet_version: "v1.24.10+vmware.1".into(),
        }
    }

    #[test]
    fn vms_are_placed_round_robin_with_seeded_uuids() {
        let s = site(7);
        let a = s.create_vm(spec("cp-1", VmRole::ControlPlane)).expect("create");
        let b = s.create_vm(spec("md-1", VmRole::Worker)).expect("create");
        assert_eq!((a.host.as_str(), b.host.as_str()), ("esx-1", "esx-2"));
        assert_eq!(a.power, PowerState::On);
        assert!(a.provider_id().starts_with("vsphere://"));
        let again = site(7);
        assert_eq!(
            again.create_vm(spec("cp-1", VmRole::ControlPlane)).expect("create").uuid,
            a.uuid,
            "same seed, same UUID"
        );
        assert_ne!(site(8).create_vm(spec("cp-1", VmRole::ControlPlane)).expect("create").uuid, a.uuid);
    }

    #[test]
    fn inventory_operations_and_errors() {
        let s = site(1);
        let w = s.create_vm(spec("w", VmRole::Worker)).expect("create");
        let other = s.create_vm(spec("x", VmRole::Worker)).expect("create");
        assert_eq!(s.vm_by_uuid(&w.uuid).map(|v| v.name), Some("w".to_string()));
        assert_eq!(s.vm_by_uuid(&other.uuid).map(|v| v.name), Some("x".to_string()));
        assert_eq!(s.vm_by_uuid("no-such-uuid"), None);
        s.delete_vm("x").expect("delete");
        assert!(matches!(
            s.create_vm(spec("w", VmRole::Worker)),
            Err(SiteError::AlreadyExists { .. })
        ));
        let mut changes = s.subscribe();
        assert_eq!(s.power_off("w").expect("off").power, PowerState::Off);
        assert!(changes.has_changed().expect("sender alive"));
        changes.mark_unchanged();
        s.delete_vm("w").expect("delete");
        assert!(changes.has_changed().expect("sender alive"));
        assert!(s.list().is_empty());
        assert_eq!(s.vm_by_uuid(&w.uuid), None, "the UUID index forgets deleted VMs");
        let err = s.power_on("w").expect_err("gone");
        assert_eq!(err.to_string(), "no VM named \"w\" in site \"vc01\"");
        let empty = Site::new("bare", &[], 0, Arc::new(drdrill_kube_sim::SystemClock));
        assert!(matches!(empty.create_vm(spec("x", VmRole::Worker)), Err(SiteError::NoHost { .. })));
    }
}
