//! The VSphereMachine controller: gives each VSphereMachine a VM in the Site — adopting an
//! existing VM before creating one — and deletes the VM with the VSphereMachine.
//!
//! Follows cluster-api-provider-vsphere v1.5 (`controllers/vspheremachine_controller.go`,
//! `pkg/services/vimmachine.go`, `pkg/services/govmomi`), with the VSphereVM layer folded in:
//! * nothing happens until the VSphereMachine has an owner Machine, the Cluster's
//!   infrastructure is ready (`status.infrastructureReady`) and the Machine has bootstrap data;
//! * the VM is named after the Machine (`generateVMObjectName`). `findVM` looks it up by BIOS
//!   UUID when the machine already had a VM (here: `spec.providerID` is set — the folded
//!   VSphereVM's `spec.biosUUID`), and only then; otherwise by name in the inventory, so a VM
//!   that survived a lost management cluster is **adopted**, never duplicated, and a VM is
//!   cloned only for a machine that never had one;
//! * a machine that had a VM which is no longer found by its BIOS UUID (removed from vCenter
//!   directly, or a Machine restored by Velero after it had been deleted) is **not** given a new
//!   VM: CAPV v1.4–v1.7 `ReconcileVM` sets `status.failureReason = UpdateError` and
//!   `status.failureMessage = "Unable to find VM by BIOS UUID <uuid>. The vm was removed from
//!   infra"` and returns; `status.ready` and the conditions are left as they were. From then on
//!   the failed object is not reconciled any more (`SyncFailureReason` → "Error state
//!   detected, skipping reconciliation") — the Machine controller copies the failure to the
//!   Machine and a MachineHealthCheck has its owner replace it. (CAPV v1.8 replaced the failure
//!   by a `VMProvisioned=False/NotFoundByBIOSUUID` condition; TKG 2.1 ships v1.5.)
//! * a powered-off VM is powered on (`reconcilePowerState`);
//! * `spec.providerID = vsphere://<bios-uuid>`, `status.ready` once the VM runs, addresses;
//! * the finalizer `vspheremachine.infrastructure.cluster.x-k8s.io` holds deletion until the VM
//!   is deleted from the Site.
//!
//! Simplification: the Site has no guest networking, so the one address reported is an
//! `InternalIP` in 10.0.0.0/8 derived from the VM's UUID.

use std::sync::Arc;

use drdrill_apis::capi::conditions::READY;
use drdrill_apis::capi::{CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, Machine, MachineAddress};
use drdrill_apis::vsphere::{MACHINE_FINALIZER, PROVIDER_ID_PREFIX, VSphereMachine, VSphereMachineStatus};
use drdrill_kube_sim::clock::Clock;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::{
    Context, ControllerError, PassClusters, Reconciler, Report, false_condition, is_paused, key, run_every, set_condition, true_condition,
};
use crate::site::{PowerState, Site, Vm, VmRole, VmSpec};

/// `VMProvisioned`: the VM exists and runs.
pub const VM_PROVISIONED: &str = "VMProvisioned";

/// What `findVM` found.
#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    /// The machine's VM.
    Found(Vm),
    /// The machine had a VM with this BIOS UUID, and it is gone.
    NotFoundByBiosUuid(String),
    /// The machine never had a VM and none carries its name.
    NotFound,
}

/// CAPI's `UpdateMachineError`, the failure reason CAPV sets when a VM vanished.
pub const UPDATE_MACHINE_ERROR: &str = "UpdateError";

/// The failure message CAPV sets for a VM no longer found by its BIOS UUID.
pub fn vm_removed_message(bios_uuid: &str) -> String {
    format!("Unable to find VM by BIOS UUID {bios_uuid}. The vm was removed from infra")
}

/// Reconciles every VSphereMachine of the management cluster against one Site.
pub struct VSphereMachineController {
    client: Client,
    site: Site,
    clock: Arc<dyn Clock>,
}

/// The BIOS UUID in a `vsphere://<uuid>` provider ID.
fn uuid_of(provider_id: &str) -> Option<&str> {
    provider_id.strip_prefix(PROVIDER_ID_PREFIX)
}

/// The address reported for a VM: 10.x.y.z from the first bytes of its UUID.
fn address_of(vm: &Vm) -> String {
    let hex: String = vm.uuid.chars().filter(char::is_ascii_hexdigit).take(6).collect();
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    format!("10.{}.{}.{}", byte(0), byte(2), byte(4).max(2))
}

impl VSphereMachineController {
    /// A controller for the management cluster behind `client`, provisioning in `site`.
    pub fn new(client: Client, site: Site, clock: Arc<dyn Clock>) -> Self {
        VSphereMachineController { client, site, clock }
    }

    /// One pass over every VSphereMachine.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let vsms = Api::<VSphereMachine>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list VSphereMachines".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        for vsm in vsms {
            self.reconcile(&vsm, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "vspheremachine", period).await;
    }

    /// `findVM`: the VM of a VSphereMachine — by BIOS UUID only when it has one (a provider
    /// ID), else by name.
    fn find_vm(&self, vsm: &VSphereMachine, name: &str) -> Lookup {
        match vsm.spec.provider_id.as_deref().and_then(uuid_of) {
            Some(uuid) => match self.site.vm_by_uuid(uuid) {
                Some(vm) => Lookup::Found(vm),
                None => Lookup::NotFoundByBiosUuid(uuid.to_string()),
            },
            None => self.site.vm(name).map_or(Lookup::NotFound, Lookup::Found),
        }
    }

    async fn reconcile(&self, vsm: &VSphereMachine, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = vsm.namespace().unwrap_or_default();
        let api: Api<VSphereMachine> = Api::namespaced(self.client.clone(), &ns);
        let owner = vsm.owner_references().iter().find(|r| r.kind == "Machine").map(|r| r.name.clone());
        let machine = match &owner {
            Some(name) => Api::<Machine>::namespaced(self.client.clone(), &ns)
                .get_opt(name)
                .await
                .ctx(|| format!("get Machine {ns}/{name}"))?,
            None => None,
        };
        let cluster_name = machine
            .as_ref()
            .map(|m| m.spec.cluster_name.clone())
            .or_else(|| vsm.labels().get(CLUSTER_NAME_LABEL).cloned());
        let cluster = match &cluster_name {
            Some(c) => clusters.get(&ns, c).await?,
            None => None,
        };
        if is_paused(cluster.as_ref(), vsm.meta()) {
            report.paused.push(key("VSphereMachine", vsm));
            return Ok(());
        }
        let vm_name = machine.as_ref().map(|m| m.name_any()).unwrap_or_else(|| vsm.name_any());
        if vsm.meta().deletion_timestamp.is_some() {
            if let Lookup::Found(vm) = self.find_vm(vsm, &vm_name) {
                self.site.delete_vm(&vm.name)?;
                report.deleted.push(format!("VM/{}", vm.name));
            }
            let finalizers: Vec<&String> = vsm.finalizers().iter().filter(|f| *f != MACHINE_FINALIZER).collect();
            if finalizers.len() != vsm.finalizers().len() {
                api.patch(
                    &vsm.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
                )
                .await
                .ctx(|| format!("remove finalizer of VSphereMachine {ns}/{}", vsm.name_any()))?;
                report.deleted.push(key("VSphereMachine", vsm));
            }
            return Ok(());
        }
        let Some(machine) = machine else { return Ok(()) }; // waiting for the Machine's ownerReference
        let failed = vsm
            .status
            .as_ref()
            .is_some_and(|s| s.failure_reason.is_some() || s.failure_message.is_some());
        if failed {
            // `SyncFailureReason`: "Error state detected, skipping reconciliation".
            return Ok(());
        }
        if !vsm.finalizers().iter().any(|f| f == MACHINE_FINALIZER) {
            let mut finalizers = vsm.finalizers().to_vec();
            finalizers.push(MACHINE_FINALIZER.into());
            api.patch(
                &vsm.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
            )
            .await
            .ctx(|| format!("add finalizer to VSphereMachine {ns}/{}", vsm.name_any()))?;
            report.updated.push(key("VSphereMachine", vsm));
        }
        let clock = self.clock.as_ref();
        let old = vsm.status.clone().unwrap_or_default();
        let mut status: VSphereMachineStatus = old.clone();
        let infra_ready = cluster
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .is_some_and(|s| s.infrastructure_ready);
        let wait = if !infra_ready {
            Some("WaitingForClusterInfrastructure")
        } else if machine.spec.bootstrap.data_secret_name.is_none() {
            Some("WaitingForBootstrapData")
        } else {
            None
        };
        if let Some(reason) = wait {
            set_condition(&mut status.conditions, false_condition(VM_PROVISIONED, reason, "Info", ""), clock);
            set_condition(&mut status.conditions, false_condition(READY, reason, "Info", ""), clock);
            return self.patch_status(vsm, &api, &old, &status, report).await;
        }

        let vm = match self.find_vm(vsm, &vm_name) {
            Lookup::Found(vm) => vm,
            Lookup::NotFoundByBiosUuid(uuid) => {
                status.failure_reason = Some(UPDATE_MACHINE_ERROR.into());
                status.failure_message = Some(vm_removed_message(&uuid));
                tracing::info!(vspheremachine = %vsm.name_any(), bios_uuid = %uuid, "VM not found by BIOS UUID; not cloning a new one");
                return self.patch_status(vsm, &api, &old, &status, report).await;
            }
            Lookup::NotFound => {
                let role = if machine.labels().contains_key(CONTROL_PLANE_LABEL) {
                    VmRole::ControlPlane
                } else {
                    VmRole::Worker
                };
                let vm = self.site.create_vm(VmSpec {
                    name: vm_name.clone(),
                    cluster: machine.spec.cluster_name.clone(),
                    role,
                    kubelet_version: machine.spec.version.clone().unwrap_or_default(),
                })?;
                report.created.push(format!("VM/{}", vm.name));
                vm
            }
        };
        let vm = if vm.power == PowerState::Off {
            report.updated.push(format!("VM/{}", vm.name));
            self.site.power_on(&vm.name)?
        } else {
            vm
        };
        let provider_id = vm.provider_id();
        if vsm.spec.provider_id.as_deref() != Some(provider_id.as_str()) {
            api.patch(
                &vsm.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"providerID": provider_id}})),
            )
            .await
            .ctx(|| format!("set providerID of VSphereMachine {ns}/{}", vsm.name_any()))?;
            report.updated.push(key("VSphereMachine", vsm));
        }
        status.ready = true;
        status.addresses = vec![MachineAddress {
            type_: "InternalIP".into(),
            address: address_of(&vm),
        }];
        set_condition(&mut status.conditions, true_condition(VM_PROVISIONED), clock);
        set_condition(&mut status.conditions, true_condition(READY), clock);
        self.patch_status(vsm, &api, &old, &status, report).await
    }

    async fn patch_status(
        &self,
        vsm: &VSphereMachine,
        api: &Api<VSphereMachine>,
        old: &VSphereMachineStatus,
        status: &VSphereMachineStatus,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        if status == old {
            return Ok(());
        }
        api.patch_status(&vsm.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .ctx(|| format!("update status of VSphereMachine {}", vsm.name_any()))?;
        report.updated.push(key("VSphereMachine", vsm));
        Ok(())
    }
}

impl Reconciler for VSphereMachineController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        VSphereMachineController::reconcile_all(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_and_addresses() {
        assert_eq!(uuid_of("vsphere://4203-ab"), Some("4203-ab"));
        assert_eq!(uuid_of("azure://x"), None);
        let vm = Vm {
            name: "w".into(),
            uuid: "0a0b0c0d-0000-0000-0000-000000000000".into(),
            power: PowerState::On,
            cluster: "c".into(),
            role: VmRole::Worker,
            host: "esx-1".into(),
            kubelet_version: String::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
        };
        assert_eq!(address_of(&vm), "10.10.11.12");
    }
}
