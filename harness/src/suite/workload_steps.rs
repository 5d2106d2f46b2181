//! Steps about what runs inside the workload clusters: files for `kubectl apply -f`, a bucket of
//! its own for each cluster's Velero (as the runbook recommends), an application writing into
//! its volume, and the verdict that every byte of that volume is back after a restore.

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use drdrill_capi_sim::workloads::volumes::volume_of_claim;
use drdrill_velero_sim::s3::{Credentials, ObjectStore};

use super::DrillWorld;
use crate::volume_data::{WrittenVolume, content_of};
use crate::world::{S3_ACCESS_KEY, S3_SECRET_KEY};

/// The workload cluster called `name` (any namespace).
fn workload<'a>(w: &'a DrillWorld, name: &str) -> &'a crate::world::WorkloadSim {
    w.world()
        .workload_clusters()
        .find(|c| c.spec.name == name)
        .unwrap_or_else(|| panic!("no workload cluster {name:?} in this scenario"))
}

#[given(expr = "the file {string}:")]
async fn file(w: &mut DrillWorld, name: String, step: &Step) {
    let text = step.docstring.as_ref().expect("the file's text as a doc string");
    let text = text.strip_prefix('\n').unwrap_or(text);
    let path = w.operator.home().join(&name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[given(expr = "a bucket {string} in the object store")]
async fn bucket(w: &mut DrillWorld, name: String) {
    let s3 = &w.world().s3;
    let store = ObjectStore::new(s3.endpoint(), &name, "", &Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY))
        .unwrap_or_else(|e| panic!("the bucket {name} at {}: {e}", s3.endpoint()));
    store
        .ensure_bucket()
        .await
        .unwrap_or_else(|e| panic!("create the bucket {name} at {}: {e}", s3.endpoint()));
}

#[when(expr = "the application writes into PVC {string} in namespace {string} of {string}:")]
async fn application_writes(w: &mut DrillWorld, claim: String, namespace: String, cluster: String, step: &Step) {
    let client = workload(w, &cluster).client.clone();
    let handle = volume_of_claim(&client, &namespace, &claim)
        .await
        .unwrap_or_else(|e| panic!("PVC {namespace}/{claim} of {cluster}: {e}"));
    let rows = step.table.as_ref().expect("a table | PATH | CONTENT |").rows.clone();
    assert_eq!(
        rows.first().map(|r| r.join("|")),
        Some("PATH|CONTENT".to_string()),
        "the table's header must be | PATH | CONTENT |"
    );
    let mut written = WrittenVolume::new(handle.clone());
    for row in &rows[1..] {
        let (path, cell) = (&row[0], &row[1]);
        let data = content_of(cell, w.seed, path).unwrap_or_else(|e| panic!("{path}: {e}"));
        w.world()
            .datastore
            .write_file(&handle, path, &data)
            .unwrap_or_else(|e| panic!("write {path} into PVC {namespace}/{claim} of {cluster}: {e}"));
        written.record(path, &data);
    }
    super::note(&format!("      wrote {} files into volume {handle}", written.sha256.len()));
    w.written.insert((cluster, namespace, claim), written);
}

#[then(expr = "PVC {string} in namespace {string} of {string} holds every byte the application wrote, on a new volume")]
async fn volume_restored(w: &mut DrillWorld, claim: String, namespace: String, cluster: String) {
    let key = (cluster.clone(), namespace.clone(), claim.clone());
    let before = w
        .written
        .get(&key)
        .unwrap_or_else(|| panic!("no step wrote into PVC {namespace}/{claim} of {cluster} in this scenario"))
        .clone();
    let client = workload(w, &cluster).client.clone();
    let handle = volume_of_claim(&client, &namespace, &claim)
        .await
        .unwrap_or_else(|e| panic!("PVC {namespace}/{claim} of {cluster}: {e}"));
    assert_ne!(
        handle, before.handle,
        "the restored claim is bound to the volume it had before: nothing was restored"
    );
    let files = w
        .world()
        .datastore
        .files(&handle)
        .unwrap_or_else(|e| panic!("the volume {handle} of PVC {namespace}/{claim}: {e}"));
    let problems = before.differences(&files);
    assert!(
        problems.is_empty(),
        "PVC {namespace}/{claim} of {cluster} (volume {handle}) differs from what was written:\n  {}",
        problems.join("\n  ")
    );
    let bytes: usize = files.values().map(Vec::len).sum();
    super::note(&format!(
        "      {} files, {bytes} bytes, every sha256 equal, on volume {handle} (was {})",
        files.len(),
        before.handle
    ));
}

#[then(expr = "the volume the application wrote into PVC {string} in namespace {string} of {string} is gone")]
async fn volume_gone(w: &mut DrillWorld, claim: String, namespace: String, cluster: String) {
    let key = (cluster.clone(), namespace.clone(), claim.clone());
    let handle = w
        .written
        .get(&key)
        .unwrap_or_else(|| panic!("no step wrote into PVC {namespace}/{claim} of {cluster} in this scenario"))
        .handle
        .clone();
    assert!(
        !w.world().datastore.contains(&handle),
        "volume {handle} of PVC {namespace}/{claim} still exists: the data was not lost, the restore proves nothing"
    );
}
