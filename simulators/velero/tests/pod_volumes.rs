//! Volume data through Velero's file-system backup: PVC contents backed up file by file
//! (PodVolumeBackups, content-addressed blobs in the bucket) and restored byte-identical into a
//! fresh cluster's newly provisioned volume; a missing StorageClass and a corrupted blob end the
//! restore PartiallyFailed with errors that say why.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{BUCKET, Mgmt, VELERO_NS, clock, s3, store};
use drdrill_apis::velero::{Backup, BackupPhase, PodVolumeBackup, PodVolumePhase, PodVolumeRestore, Restore, RestorePhase};
use drdrill_capi_sim::Datastore;
use drdrill_capi_sim::workloads::WorkloadControllers;
use drdrill_capi_sim::workloads::volumes::volume_of_claim;
use drdrill_kube_sim::clock::{Clock, VirtualClock, k8s_time};
use drdrill_velero_sim::format::{decode_json_gz, gunzip};
use drdrill_velero_sim::s3::{ObjectStore, S3Server};
use drdrill_velero_sim::server::podvolume::DEFAULT_FS_BACKUP_TIMEOUT;
use drdrill_velero_sim::server::{VeleroServer, VolumeFiles, VolumeFilesError};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const APP_NS: &str = "shop";
const NODE: &str = "mgmt-md-0-1";
const CLASS: &str = "vsphere-sc";

/// The 5-line adapter the harness uses: the node agent reads and writes the Datastore.
struct DatastoreFiles(Datastore);

impl VolumeFiles for DatastoreFiles {
    fn read(&self, handle: &str) -> Result<BTreeMap<String, Vec<u8>>, VolumeFilesError> {
        self.0.files(handle).map_err(|e| VolumeFilesError(e.to_string()))
    }

    fn write(&self, handle: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<(), VolumeFilesError> {
        files
            .iter()
            .try_for_each(|(path, data)| self.0.write_file(handle, path, data))
            .map_err(|e| VolumeFilesError(e.to_string()))
    }
}

/// One cluster with Velero (and its node agent), the workload controllers and a datastore.
struct Site {
    mgmt: Mgmt,
    datastore: Datastore,
    workloads: WorkloadControllers,
    velero: VeleroServer,
}

impl Site {
    async fn start(name: &str, clock: &VirtualClock, s3: &S3Server, node_agent: bool) -> Site {
        let mgmt = Mgmt::start(name, clock, s3).await;
        let datastore = Datastore::new();
        let workloads = WorkloadControllers::new(mgmt.client.clone(), Arc::new(clock.clone()), 11).with_datastore(datastore.clone());
        let mut ctx = mgmt.ctx();
        if node_agent {
            ctx = ctx.with_volume_files(Arc::new(DatastoreFiles(datastore.clone())));
        }
        let velero = VeleroServer::new(ctx, 11);
        mgmt.create::<Namespace>(None, json!({"metadata": {"name": APP_NS}})).await;
        let node: Node = mgmt.create(None, json!({"metadata": {"name": NODE}})).await;
        let now = k8s_time(clock.now());
        Api::<Node>::all(mgmt.client.clone())
            .patch_status(
                &node.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True",
                    "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}})),
            )
            .await
            .expect("node ready");
        if node_agent {
            // `velero install --use-restic`: the node agent's DaemonSet; the workload controllers
            // put its pod on the node, which is what Velero looks for.
            mgmt.create::<DaemonSet>(
                Some(VELERO_NS),
                json!({"metadata": {"name": "restic"},
                    "spec": {"selector": {"matchLabels": {"name": "restic"}},
                        "template": {"metadata": {"labels": {"name": "restic"}},
                            "spec": {"containers": [{"name": "restic", "image": "velero/velero:v1.9.5"}]}}}}),
            )
            .await;
        }
        Site {
            mgmt,
            datastore,
            workloads,
            velero,
        }
    }

    async fn storage_class(&self) {
        self.mgmt
            .create::<StorageClass>(
                None,
                json!({"metadata": {"name": CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                    "provisioner": "csi.vsphere.vmware.com", "reclaimPolicy": "Delete"}),
            )
            .await;
    }

    /// Workload controllers, then Velero, `n` times.
    async fn settle(&self, n: usize) {
        for _ in 0..n {
            self.workloads.sync().await.expect("workloads");
            self.velero.pass().await.expect("velero");
        }
    }

    async fn backup(&self, name: &str) -> Backup {
        self.mgmt.backup(name).await
    }

    async fn restore(&self, name: &str) -> Restore {
        self.mgmt.api::<Restore>(VELERO_NS).get(name).await.expect("restore")
    }

    async fn pvrs(&self) -> Vec<PodVolumeRestore> {
        self.mgmt
            .api::<PodVolumeRestore>(VELERO_NS)
            .list(&ListParams::default())
            .await
            .expect("pvrs")
            .items
    }

    async fn claim(&self) -> PersistentVolumeClaim {
        self.mgmt.api::<PersistentVolumeClaim>(APP_NS).get("data").await.expect("pvc")
    }
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn hashes(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    files.iter().map(|(p, d)| (p.clone(), sha(d))).collect()
}

/// 1 MiB of deterministic, incompressible-looking bytes.
fn binary_file() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The source site: a claim, a pod using it (annotated for file-system backup), files written,
/// and backup `nightly` of the namespace run to its end. Returns the site and the files.
async fn backed_up(clock: &VirtualClock, s3: &S3Server) -> (Site, BTreeMap<String, Vec<u8>>) {
    let site = Site::start("mgmt", clock, s3, true).await;
    site.storage_class().await;
    site.mgmt
        .create::<PersistentVolumeClaim>(
            Some(APP_NS),
            json!({"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}),
        )
        .await;
    site.mgmt
        .create::<Pod>(
            Some(APP_NS),
            json!({"metadata": {"name": "db-0", "annotations": {"backup.velero.io/backup-volumes": "data"}},
                "spec": {"nodeName": NODE, "containers": [{"name": "db", "image": "postgres:14"}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}),
        )
        .await;
    site.settle(2).await;
    let handle = volume_of_claim(&site.mgmt.client, APP_NS, "data").await.expect("bound claim");
    let files = BTreeMap::from([
        ("pgdata/PG_VERSION".to_string(), b"14\n".to_vec()),
        ("pgdata/base/1/PG_VERSION".to_string(), b"14\n".to_vec()),
        ("pgdata/global/pg_control".to_string(), b"control-file-v1".to_vec()),
        ("pgdata/base/1/16384".to_string(), binary_file()),
    ]);
    for (path, data) in &files {
        site.datastore.write_file(&handle, path, data).expect("write");
    }
    site.mgmt.create_backup("nightly", json!({"includedNamespaces": [APP_NS]})).await;
    site.settle(1).await;
    (site, files)
}

#[tokio::test]
async fn pvc_contents_are_backed_up_file_by_file_and_restored_byte_identical() {
    let clock = clock();
    let s3 = s3().await;
    let (site, files) = backed_up(&clock, &s3).await;

    let backup = site.backup("nightly").await;
    let status = backup.status.clone().expect("status");
    assert_eq!(status.phase, Some(BackupPhase::Completed), "{status:?}");
    assert_eq!(status.errors, 0);

    let pvbs = site
        .mgmt
        .api::<PodVolumeBackup>(VELERO_NS)
        .list(&ListParams::default())
        .await
        .expect("pvbs")
        .items;
    assert_eq!(pvbs.len(), 1);
    let pvb = &pvbs[0];
    let name = pvb.name_any();
    assert!(name.starts_with("nightly-") && name.len() == "nightly-".len() + 5, "{name}");
    assert_eq!(pvb.labels()["velero.io/backup-name"], "nightly");
    assert_eq!(pvb.labels()["velero.io/backup-uid"], backup.uid().expect("uid"));
    assert_eq!(pvb.labels()["velero.io/pvc-uid"], site.claim().await.uid().expect("pvc uid"));
    assert_eq!(pvb.annotations()["velero.io/pvc-name"], "data");
    assert_eq!((pvb.spec.node.as_str(), pvb.spec.volume.as_str()), (NODE, "data"));
    assert_eq!(pvb.spec.pod.name.as_deref(), Some("db-0"));
    assert_eq!(pvb.spec.uploader_type.as_deref(), Some("restic"));
    assert_eq!(pvb.spec.repo_identifier, format!("s3:{}/{BUCKET}/restic/{APP_NS}", s3.endpoint()));
    let pvb_status = pvb.status.clone().expect("pvb status");
    assert_eq!(pvb_status.phase, Some(PodVolumePhase::Completed), "{pvb_status:?}");
    let total: usize = files.values().map(Vec::len).sum();
    let progress = pvb_status.progress.clone().expect("progress");
    assert_eq!((progress.total_bytes, progress.bytes_done), (total as i64, total as i64));
    let snapshot_id = pvb_status.snapshot_id.clone().expect("snapshot id");

    // The bucket: one blob per distinct content (the two PG_VERSION files share one), named by
    // its sha256, and a manifest whose sha256 is the snapshot id.
    let bucket = store(&s3);
    let blobs = bucket.list(&format!("restic/{APP_NS}/data/")).await.expect("list blobs");
    let distinct: std::collections::BTreeSet<String> = files.values().map(|d| sha(d)).collect();
    assert_eq!(files.len(), 4);
    assert_eq!(blobs.len(), 3, "identical files are stored once: {blobs:?}");
    for hash in &distinct {
        assert!(
            blobs.contains(&format!("restic/{APP_NS}/data/{}/{hash}", &hash[..2])),
            "{hash} in {blobs:?}"
        );
    }
    let manifest = bucket
        .get(&format!("restic/{APP_NS}/snapshots/{snapshot_id}"))
        .await
        .expect("manifest");
    assert_eq!(sha(&manifest), snapshot_id);
    let manifest: Value = serde_json::from_slice(&manifest).expect("manifest json");
    assert_eq!(manifest["files"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        pvb_status.incremental_bytes,
        (total - 3) as i64,
        "the duplicate was not uploaded twice"
    );

    // The backup's pod volume list.
    let key = "backups/nightly/nightly-podvolumebackups.json.gz";
    let listed: Vec<PodVolumeBackup> = decode_json_gz(&bucket.get(key).await.expect(key), key).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].status.as_ref().and_then(|s| s.snapshot_id.clone()),
        Some(snapshot_id.clone())
    );
    let original_handle = volume_of_claim(&site.mgmt.client, APP_NS, "data").await.expect("handle");

    // A fresh cluster on a new datastore, with the storage class, restores the namespace.
    let fresh = Site::start("mgmt-2", &clock, &s3, true).await;
    fresh.storage_class().await;
    clock.advance(Duration::from_secs(60));
    fresh.settle(1).await;
    fresh.backup("nightly").await;
    fresh
        .mgmt
        .create::<Restore>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "r1"}, "spec": {"backupName": "nightly"}}),
        )
        .await;
    fresh.velero.pass().await.expect("velero");
    assert_eq!(
        fresh.restore("r1").await.status.and_then(|s| s.phase),
        Some(RestorePhase::InProgress),
        "the restore waits for its PodVolumeRestores"
    );
    let pvrs = fresh.pvrs().await;
    assert_eq!(pvrs.len(), 1);
    assert_eq!(pvrs[0].spec.snapshot_id, snapshot_id);
    assert_eq!(pvrs[0].spec.source_namespace, APP_NS);
    assert_eq!(pvrs[0].labels()["velero.io/restore-name"], "r1");

    fresh.settle(2).await;
    let restore = fresh.restore("r1").await.status.expect("status");
    assert_eq!(restore.phase, Some(RestorePhase::Completed), "{restore:?}");
    assert!(restore.completion_timestamp.is_some());
    let pvr = fresh.pvrs().await.remove(0);
    assert_eq!(
        pvr.status.as_ref().and_then(|s| s.phase),
        Some(PodVolumePhase::Completed),
        "{pvr:?}"
    );

    let handle = volume_of_claim(&fresh.mgmt.client, APP_NS, "data")
        .await
        .expect("restored claim bound");
    assert_ne!(handle, original_handle, "a new volume, provisioned in the new cluster");
    assert!(fresh.datastore.contains(&handle) && !fresh.datastore.contains(&original_handle));
    let restored = fresh.datastore.files(&handle).expect("files");
    assert_eq!(hashes(&restored), hashes(&files), "every file back, byte-identical");
}

#[tokio::test]
async fn without_the_storage_class_the_restore_times_out_naming_it() {
    let clock = clock();
    let s3 = s3().await;
    let (_site, _files) = backed_up(&clock, &s3).await;

    let fresh = Site::start("mgmt-2", &clock, &s3, true).await;
    clock.advance(Duration::from_secs(60));
    fresh.settle(1).await;
    fresh
        .mgmt
        .create::<Restore>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "r1"}, "spec": {"backupName": "nightly"}}),
        )
        .await;
    fresh.settle(3).await;

    let pvc = fresh.claim().await;
    assert_ne!(pvc.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Bound"));
    let not_found = format!("storageclass.storage.k8s.io \"{CLASS}\" not found");
    let events = fresh
        .mgmt
        .api::<Event>(APP_NS)
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("ProvisioningFailed") && e.message.as_deref() == Some(not_found.as_str())),
        "{events:?}"
    );
    let pvr = fresh.pvrs().await.remove(0);
    let pvr_status = pvr.status.clone().expect("pvr status");
    assert_ne!(pvr_status.phase, Some(PodVolumePhase::Completed));
    assert!(
        pvr_status.message.as_deref().is_some_and(|m| m.contains(&not_found)),
        "{pvr_status:?}"
    );
    assert_eq!(
        fresh.restore("r1").await.status.and_then(|s| s.phase),
        Some(RestorePhase::InProgress),
        "within --fs-backup-timeout the restore keeps waiting"
    );

    clock.advance(DEFAULT_FS_BACKUP_TIMEOUT);
    fresh.settle(1).await;
    let status = fresh.restore("r1").await.status.expect("status");
    assert_eq!(status.phase, Some(RestorePhase::PartiallyFailed), "{status:?}");
    assert!(status.errors >= 2, "{status:?}");
    let results = results_of(&store(&s3), "r1").await;
    let text = results.to_string();
    assert!(text.contains("timed out waiting for all PodVolumeRestores to complete"), "{text}");
    assert!(text.contains(&not_found.replace('"', "\\\"")), "{text}");
}

#[tokio::test]
async fn a_corrupted_blob_fails_the_pod_volume_restore_naming_the_file() {
    let clock = clock();
    let s3 = s3().await;
    let (_site, files) = backed_up(&clock, &s3).await;
    let bucket = store(&s3);
    let hash = sha(&files["pgdata/base/1/16384"]);
    let key = format!("restic/{APP_NS}/data/{}/{hash}", &hash[..2]);
    let mut corrupted = bucket.get(&key).await.expect("blob").to_vec();
    corrupted[4096] ^= 0xFF;
    bucket.put(&key, corrupted).await.expect("corrupt");

    let fresh = Site::start("mgmt-2", &clock, &s3, true).await;
    fresh.storage_class().await;
    clock.advance(Duration::from_secs(60));
    fresh.settle(1).await;
    fresh
        .mgmt
        .create::<Restore>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "r1"}, "spec": {"backupName": "nightly"}}),
        )
        .await;
    fresh.settle(3).await;

    let pvr = fresh.pvrs().await.remove(0);
    let pvr_status = pvr.status.clone().expect("status");
    assert_eq!(pvr_status.phase, Some(PodVolumePhase::Failed));
    let message = pvr_status.message.clone().unwrap_or_default();
    assert!(
        message.contains("file pgdata/base/1/16384") && message.contains("is corrupted"),
        "{message}"
    );
    let status = fresh.restore("r1").await.status.expect("status");
    assert_eq!(status.phase, Some(RestorePhase::PartiallyFailed), "{status:?}");
    let text = results_of(&bucket, "r1").await.to_string();
    assert!(
        text.contains("pod volume restore failed:") && text.contains("pgdata/base/1/16384"),
        "{text}"
    );
    let handle = volume_of_claim(&fresh.mgmt.client, APP_NS, "data").await.expect("bound");
    assert!(
        fresh.datastore.files(&handle).expect("files").is_empty(),
        "nothing is written from a snapshot that does not verify"
    );
}

#[tokio::test]
async fn without_a_node_agent_the_backup_partially_fails() {
    let clock = clock();
    let s3 = s3().await;
    let site = Site::start("mgmt", &clock, &s3, false).await;
    site.storage_class().await;
    site.mgmt
        .create::<PersistentVolumeClaim>(
            Some(APP_NS),
            json!({"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}),
        )
        .await;
    site.mgmt
        .create::<Pod>(
            Some(APP_NS),
            json!({"metadata": {"name": "db-0"},
                "spec": {"nodeName": NODE, "containers": [{"name": "db", "image": "postgres:14"}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "cfg", "configMap": {"name": "db"}}]}}),
        )
        .await;
    site.settle(2).await;
    site.mgmt
        .create_backup("nightly", json!({"includedNamespaces": [APP_NS], "defaultVolumesToFsBackup": true}))
        .await;
    site.settle(1).await;
    let status = site.backup("nightly").await.status.expect("status");
    assert_eq!(status.phase, Some(BackupPhase::PartiallyFailed), "{status:?}");
    assert_eq!(status.errors, 1);
    let bucket = store(&s3);
    let results = gunzip(&bucket.get("backups/nightly/nightly-results.gz").await.expect("results"), "results").expect("gunzip");
    let text = String::from_utf8(results).expect("utf8");
    assert!(
        text.contains(&format!("daemonset pod not found in running state in node {NODE}")),
        "{text}"
    );
    let listed = gunzip(
        &bucket
            .get("backups/nightly/nightly-podvolumebackups.json.gz")
            .await
            .expect("pvb list"),
        "pvbs",
    )
    .expect("gunzip");
    assert_eq!(listed, b"null\n", "no PodVolumeBackups: Velero writes null");
}

async fn results_of(bucket: &ObjectStore, restore: &str) -> Value {
    let key = format!("restores/{restore}/restore-{restore}-results.gz");
    decode_json_gz(&bucket.get(&key).await.expect(&key), &key).expect("results")
}
