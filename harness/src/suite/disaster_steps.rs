//! Disasters beside the loss of the management cluster: its store corrupted (every object
//! gone while the API server keeps answering), and a workload cluster's worker VM powered off or
//! deleted by hand in vSphere.

use cucumber::when;
use drdrill_kube_sim::clock::Clock;

use super::DrillWorld;

#[when("the management cluster's store is corrupted (every object lost)")]
async fn store_corrupted(w: &mut DrillWorld) {
    let now = w.world().clock.now();
    w.disaster = Some(now);
    let mgmt = w
        .world()
        .management()
        .unwrap_or_else(|e| panic!("no management cluster to corrupt: {e}"));
    mgmt.server().wipe();
    super::note("      every object of the management cluster is gone; its API server answers, empty");
}

/// The first worker VM of `cluster` by name.
fn worker_vm(w: &DrillWorld, cluster: &str) -> String {
    w.world()
        .first_worker_vm(cluster)
        .unwrap_or_else(|| panic!("workload cluster {cluster:?} has no worker VM in the Site"))
}

#[when(expr = "the VM of a worker node of {string} is powered off")]
async fn worker_powered_off(w: &mut DrillWorld, cluster: String) {
    let vm = worker_vm(w, &cluster);
    w.world().site.power_off(&vm).unwrap_or_else(|e| panic!("power off {vm}: {e}"));
    super::note(&format!("      powered off VM {vm}"));
}

#[when(expr = "the VM of a worker node of {string} is deleted in vSphere")]
async fn worker_deleted(w: &mut DrillWorld, cluster: String) {
    let vm = worker_vm(w, &cluster);
    w.world().site.delete_vm(&vm).unwrap_or_else(|e| panic!("delete {vm}: {e}"));
    super::note(&format!("      deleted VM {vm}"));
}
