//! File-system backup of pod volumes ("restic" / "kopia"): the pod volume backupper and
//! restorer of the Velero server and the node agent's PodVolumeBackup / PodVolumeRestore work.
//!
//! Facts from Velero v1.9–v1.10 (`pkg/podvolume/backupper.go`, `restorer.go`,
//! `pkg/util/podvolume/pod_volume.go`, `pkg/controller/pod_volume_*_controller.go`,
//! `pkg/restore/restore.go`):
//!
//! * a backed-up pod's volumes are those named in its `backup.velero.io/backup-volumes`
//!   annotation (comma list), or, when the Backup's `defaultVolumesToFsBackup` (formerly
//!   `defaultVolumesToRestic`) is true, all of them except those in
//!   `backup.velero.io/backup-volumes-excludes` and hostPath, secret, configMap, projected,
//!   downwardAPI and `default-token-*` volumes;
//! * a pod that is not Running has its volumes skipped with a warning; without a node agent on
//!   the pod's node the backup gets the error `daemonset pod not found in running state in node
//!   <node>`;
//! * each volume gets a PodVolumeBackup `<backup>-<5 chars>` owned by the Backup, labelled
//!   `velero.io/backup-name`, `velero.io/backup-uid` and `velero.io/pvc-uid`, annotated
//!   `velero.io/pvc-name`, with the snapshot tags; the backup waits for every one, a Failed one
//!   adding the error `pod volume backup failed: <message>` (so the backup ends PartiallyFailed);
//!   the finished list goes to `<backup>-podvolumebackups.json.gz`;
//! * the repository of a namespace lives under `<prefix>restic/<namespace>/` (`kopia/` for the
//!   kopia uploader); its identifier is `s3:<s3Url>/<bucket>/<prefix>restic/<namespace>`;
//! * on restore, a PersistentVolume whose claim had a pod volume backup is not restored (it is
//!   dynamically re-provisioned) and its claim loses `spec.volumeName` and binding annotations
//!   (here also when the backup lacks the volume: upstream's PVC backup action always adds it,
//!   this simulator's backup does not);
//!   every restored pod with Completed PodVolumeBackups gets one PodVolumeRestore
//!   `<restore>-<5 chars>` per volume, owned by the Restore and labelled
//!   `velero.io/restore-name`, `velero.io/restore-uid`, `velero.io/pod-uid`; the restore waits
//!   for all of them up to the server's `--fs-backup-timeout` (default 4h), adding
//!   `pod volume restore failed: <message>` for each failure and `timed out waiting for all
//!   PodVolumeRestores to complete` when the time runs out.
//!
//! The repository format is this simulator's own, content-addressed like restic's: each file's
//! content is a blob `data/<sha256[..2]>/<sha256>` (identical content is stored once), and a
//! snapshot is a JSON manifest `snapshots/<id>` listing path, sha256, size and mode of every file,
//! its id the sha256 of the manifest. A restore verifies the manifest and every blob against their
//! hashes before it writes a single file. The node agent's work happens within the server's pass
//! that reaches it; volume data is read and written through [`VolumeFiles`]. Where this adds to
//! upstream: a PodVolumeRestore waiting for its claim says why in `status.message` (the claim's
//! latest `ProvisioningFailed` Event), and a timed-out restore lists each unfinished
//! PodVolumeRestore with that message among its errors.

mod restore;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::velero::podvolume::{
    BACKUP_VOLUMES_ANNOTATION, BACKUP_VOLUMES_EXCLUDES_ANNOTATION, PVC_NAME_ANNOTATION, PVC_UID_LABEL, UPLOADER_KOPIA, UPLOADER_RESTIC,
};
use drdrill_apis::velero::{BACKUP_NAME_LABEL, BACKUP_UID_LABEL, Backup, BackupStorageLocation, PodVolumeBackup, PodVolumePhase};
use drdrill_kube_sim::clock::k8s_time;
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use restore::{ItemAdjustment, PodVolumeRestoreController, PodVolumeRestoreStart, RestorePlan, start_pod_volume_restores};

use super::backup::valid_label_value;
use super::{Context, ServerContext, VeleroError};
use crate::format::{BackupItem, encode_json_gz};
use crate::s3::ObjectStore;

/// The server's `--fs-backup-timeout` (`--restic-timeout` before v1.10) default.
pub const DEFAULT_FS_BACKUP_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// Where the node agent sees pod volumes (`/host_pods/<pod uid>/volumes/...`).
pub const HOST_PODS: &str = "/host_pods";

/// The mode recorded for every file: the datastore holds regular files without permissions.
pub const FILE_MODE: u32 = 0o644;

/// Why volume data could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VolumeFilesError(pub String);

/// The node agent's view of volume data: the files of the volume with a CSI handle. The capi
/// simulator's `Datastore` is the usual implementation (an adapter of a few lines, since this
/// crate does not depend on it).
pub trait VolumeFiles: Send + Sync {
    /// Every file of the volume, by path.
    fn read(&self, handle: &str) -> Result<BTreeMap<String, Vec<u8>>, VolumeFilesError>;
    /// Writes (creates or replaces) these files into the volume.
    fn write(&self, handle: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<(), VolumeFilesError>;
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The repository

/// One file of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    /// Path relative to the volume's root.
    pub path: String,
    /// Hex sha256 of the content: the blob's name.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits.
    pub mode: u32,
}

/// A snapshot of one volume: what the manifest `snapshots/<id>` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    /// When it was taken.
    pub time: String,
    /// The node whose agent took it.
    pub hostname: String,
    /// The volume's path on that node.
    pub paths: Vec<String>,
    /// The PodVolumeBackup's tags.
    pub tags: BTreeMap<String, String>,
    /// Every file, sorted by path.
    pub files: Vec<SnapshotFile>,
}

/// What an upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The snapshot's id (sha256 of its manifest).
    pub snapshot_id: String,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// Bytes of blobs that were not in the repository yet.
    pub new_bytes: u64,
}

/// A namespace's repository in a location's bucket.
#[derive(Clone, Debug)]
pub struct Repository {
    store: ObjectStore,
    prefix: String,
}

impl Repository {
    /// The repository of `namespace` for `uploader` (`restic` or `kopia`) in `store`.
    pub fn new(store: ObjectStore, uploader: &str, namespace: &str) -> Self {
        let dir = if uploader == UPLOADER_KOPIA {
            store.layout().kopia_dir()
        } else {
            store.layout().restic_dir()
        };
        Repository {
            prefix: format!("{dir}{namespace}/"),
            store,
        }
    }

    /// `<prefix>restic/<namespace>/` (or `kopia/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the blob with this content hash.
    pub fn blob_key(&self, sha256: &str) -> String {
        format!("{}data/{}/{sha256}", self.prefix, &sha256[..2.min(sha256.len())])
    }

    /// The key of a snapshot's manifest.
    pub fn snapshot_key(&self, snapshot_id: &str) -> String {
        format!("{}snapshots/{snapshot_id}", self.prefix)
    }

    /// Uploads the blobs this repository lacks, then the manifest.
    pub async fn upload(&self, files: &BTreeMap<String, Vec<u8>>, mut manifest: SnapshotManifest) -> Result<Uploaded, String> {
        let (mut total_bytes, mut new_bytes) = (0, 0);
        manifest.files.clear();
        for (path, data) in files {
            let sha256 = hex_sha256(data);
            let key = self.blob_key(&sha256);
            let present = self
                .store
                .exists(&key)
                .await
                .map_err(|e| format!("checking blob {key} of file {path}: {e}"))?;
            if !present {
                self.store
                    .put(&key, data.clone())
                    .await
                    .map_err(|e| format!("uploading blob {key} of file {path}: {e}"))?;
                new_bytes += data.len() as u64;
            }
            total_bytes += data.len() as u64;
            manifest.files.push(SnapshotFile {
                path: path.clone(),
                sha256,
                size: data.len() as u64,
                mode: FILE_MODE,
            });
        }
        let bytes = serde_json::to_vec(&manifest).map_err(|e| format!("encoding the snapshot manifest: {e}"))?;
        let snapshot_id = hex_sha256(&bytes);
        let key = self.snapshot_key(&snapshot_id);
        self.store
            .put(&key, bytes)
            .await
            .map_err(|e| format!("uploading snapshot {key}: {e}"))?;
        Ok(Uploaded {
            snapshot_id,
            total_bytes,
            new_bytes,
        })
    }

    /// Downloads a snapshot, verifying the manifest and every blob against their hashes; the
    /// error names the file (and blob) that does not verify.
    pub async fn download(&self, snapshot_id: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let key = self.snapshot_key(snapshot_id);
        let bytes = self
            .store
            .get(&key)
            .await
            .map_err(|e| format!("downloading snapshot {snapshot_id} ({key}): {e}"))?;
        let actual = hex_sha256(&bytes);
        if actual != snapshot_id {
            return Err(format!(
                "snapshot {snapshot_id} is corrupted: its manifest {key} hashes to {actual}"
            ));
        }
        let manifest: SnapshotManifest =
            serde_json::from_slice(&bytes).map_err(|e| format!("snapshot {snapshot_id}: manifest {key} does not decode: {e}"))?;
        let mut files = BTreeMap::new();
        for file in manifest.files {
            let key = self.blob_key(&file.sha256);
            let data = self
                .store
                .get(&key)
                .await
                .map_err(|e| format!("file {} of snapshot {snapshot_id}: downloading blob {key}: {e}", file.path))?;
            let actual = hex_sha256(&data);
            if actual != file.sha256 || data.len() as u64 != file.size {
                return Err(format!(
                    "file {} of snapshot {snapshot_id} is corrupted: blob {key} holds {} bytes hashing to {actual}, expected {} bytes hashing to {}",
                    file.path,
                    data.len(),
                    file.size,
                    file.sha256
                ));
            }
            files.insert(file.path, data.to_vec());
        }
        Ok(files)
    }
}

/// Velero's repository identifier for a location, uploader and namespace.
pub fn repo_identifier(location: &BackupStorageLocation, uploader: &str, namespace: &str) -> String {
    let spec = &location.spec;
    let prefix = spec.object_storage.prefix.as_deref().unwrap_or("").trim_matches('/');
    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let dir = if uploader == UPLOADER_KOPIA { "kopia" } else { "restic" };
    let host = match (spec.config.get("s3Url"), spec.config.get("region")) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(region)) => format!("s3-{region}.amazonaws.com"),
        (None, None) => "s3.amazonaws.com".to_string(),
    };
    format!(
        "s3:{host}/{}/{prefix}{dir}/{namespace}",
        spec.object_storage.bucket.trim_matches('/')
    )
}

// ---------------------------------------------------------------------------------------------
// Which volumes

/// The volumes of `pod` (its JSON) to back up with the file-system uploader.
pub fn volumes_to_back_up(pod: &Value, default_volumes_to_fs_backup: bool) -> Vec<String> {
    let annotations = &pod["metadata"]["annotations"];
    let list = |key: &str| -> Vec<String> {
        annotations[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    if !default_volumes_to_fs_backup {
        return list(BACKUP_VOLUMES_ANNOTATION);
    }
    let excluded = list(BACKUP_VOLUMES_EXCLUDES_ANNOTATION);
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| {
            let name = v["name"].as_str().unwrap_or_default();
            !excluded.iter().any(|e| e == name)
                && ["hostPath", "secret", "configMap", "projected", "downwardAPI"]
                    .iter()
                    .all(|kind| v.get(*kind).is_none())
                && !name.starts_with("default-token-")
        })
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect()
}

fn pod_volume<'a>(pod: &'a Value, volume: &str) -> Option<&'a Value> {
    pod["spec"]["volumes"].as_array()?.iter().find(|v| v["name"] == volume)
}

/// The CSI handle of the volume bound to claim `namespace/claim`, or why there is none yet.
async fn claim_handle(client: &Client, namespace: &str, claim: &str) -> Result<Result<(String, String), String>, VeleroError> {
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .get_opt(claim)
        .await
        .ctx(|| format!("get PersistentVolumeClaim {namespace}/{claim}"))?;
    let Some(pvc) = pvc else {
        return Ok(Err(format!("PersistentVolumeClaim {namespace}/{claim} not found")));
    };
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|v| !v.is_empty());
    let Some(volume) = volume.filter(|_| phase == "Bound") else {
        let events = Api::<Event>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Events in {namespace}"))?;
        let why = events
            .items
            .into_iter()
            .filter(|e| e.involved_object.uid == pvc.metadata.uid && e.reason.as_deref() == Some("ProvisioningFailed"))
            .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0))
            .and_then(|e| e.message)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Ok(Err(format!("PersistentVolumeClaim {namespace}/{claim} is {phase}, not Bound{why}")));
    };
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get_opt(&volume)
        .await
        .ctx(|| format!("get PersistentVolume {volume}"))?;
    let handle = pv.and_then(|pv| pv.spec?.csi.map(|c| c.volume_handle));
    Ok(match handle {
        Some(h) => Ok((volume, h)),
        None => Err(format!(
            "PersistentVolume {volume} of claim {namespace}/{claim} is missing or not a CSI volume"
        )),
    })
}

// ---------------------------------------------------------------------------------------------
// Backup

/// What the pod volume backupper did for one backup.
#[derive(Clone, Debug, Default)]
pub struct PodVolumeBackupOutcome {
    /// The PodVolumeBackups, in their final state.
    pub backups: Vec<PodVolumeBackup>,
    /// Errors for the backup's log and results, as (namespace, message).
    pub errors: Vec<(String, String)>,
    /// Warnings, as (namespace, message).
    pub warnings: Vec<(String, String)>,
}

impl PodVolumeBackupOutcome {
    /// `<backup>-podvolumebackups.json.gz`: the list, or `null` when there are none.
    pub fn encode(&self) -> Result<Vec<u8>, crate::format::FormatError> {
        let file = "pod volume backups list";
        if self.backups.is_empty() {
            encode_json_gz(&None::<Vec<()>>, file)
        } else {
            encode_json_gz(&self.backups, file)
        }
    }
}

/// Backs up the selected volumes of every pod among `items`, each through a PodVolumeBackup
/// run by the node agent to its end.
pub async fn back_up_pod_volumes(
    ctx: &ServerContext,
    backup: &Backup,
    location: &BackupStorageLocation,
    store: &ObjectStore,
    items: &[BackupItem],
) -> Result<PodVolumeBackupOutcome, VeleroError> {
    let mut out = PodVolumeBackupOutcome::default();
    let default_fs = backup.spec.default_volumes_to_fs_backup.or(backup.spec.default_volumes_to_restic) == Some(true);
    // Velero 1.9's uploader; 1.10's `--uploader-type kopia` changes only the repository folder.
    let uploader = UPLOADER_RESTIC.to_string();
    for item in items.iter().filter(|i| i.group_resource == "pods") {
        let pod = &item.object;
        let volumes = volumes_to_back_up(pod, default_fs);
        if volumes.is_empty() {
            continue;
        }
        let (ns, name) = (item.namespace.clone().unwrap_or_default(), item.name.clone());
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        if phase != "Running" {
            for v in &volumes {
                out.warnings.push((
                    ns.clone(),
                    format!(
                        "backup for volume {v} is skipped: pod is not in the expected status, name={name}, namespace={ns}, phase={phase}: pod is not running"
                    ),
                ));
            }
            continue;
        }
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
        let files = match ctx.volume_files.clone() {
            Some(files) if node_agent_running(ctx, &node).await? => files,
            _ => {
                out.errors
                    .push((ns.clone(), format!("daemonset pod not found in running state in node {node}")));
                continue;
            }
        };
        for volume in volumes {
            let Some(spec) = pod_volume(pod, &volume) else {
                out.warnings
                    .push((ns.clone(), format!("volume {volume} does not exist in pod {ns}/{name}")));
                continue;
            };
            let Some(claim) = spec["persistentVolumeClaim"]["claimName"].as_str() else {
                out.warnings.push((
                    ns.clone(),
                    format!("backup for volume {volume} of pod {ns}/{name} is skipped: the simulator keeps data only for PersistentVolumeClaim volumes"),
                ));
                continue;
            };
            let pvb = back_up_volume(ctx, backup, location, store, &files, pod, &volume, claim, &node, &uploader).await?;
            if pvb.status.as_ref().and_then(|s| s.phase) == Some(PodVolumePhase::Failed) {
                let message = pvb.status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
                out.errors.push((ns.clone(), format!("pod volume backup failed: {message}")));
            }
            out.backups.push(pvb);
        }
    }
    Ok(out)
}

/// Whether the node agent runs on `node`: a Running pod of velero v1.9's `restic` DaemonSet
/// (v1.10+: `node-agent`) in Velero's namespace, as velero's `IsRunningInNode` checks before it
/// backs a pod's volumes up or restores them.
pub async fn node_agent_running(ctx: &ServerContext, node: &str) -> Result<bool, VeleroError> {
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ctx.namespace)
        .list(&ListParams::default().labels("name in (restic,node-agent)"))
        .await
        .ctx(|| format!("list node-agent pods in {}", ctx.namespace))?;
    Ok(pods.items.iter().any(|p| {
        p.metadata.deletion_timestamp.is_none()
            && p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
            && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    }))
}

/// Creates one PodVolumeBackup and runs it as the node agent would.
#[allow(clippy::too_many_arguments)]
async fn back_up_volume(
    ctx: &ServerContext,
    backup: &Backup,
    location: &BackupStorageLocation,
    store: &ObjectStore,
    files: &Arc<dyn VolumeFiles>,
    pod: &Value,
    volume: &str,
    claim: &str,
    node: &str,
    uploader: &str,
) -> Result<PodVolumeBackup, VeleroError> {
    let vns = &ctx.namespace;
    let (pod_ns, pod_name, pod_uid) = (
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        pod["metadata"]["name"].as_str().unwrap_or_default(),
        pod["metadata"]["uid"].as_str().unwrap_or_default(),
    );
    let pvc = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), pod_ns)
        .get_opt(claim)
        .await
        .ctx(|| format!("get PersistentVolumeClaim {pod_ns}/{claim}"))?;
    let pvc_uid = pvc.as_ref().and_then(|p| p.metadata.uid.clone()).unwrap_or_default();
    let (backup_name, backup_uid) = (backup.name_any(), backup.metadata.uid.clone().unwrap_or_default());
    let tags = BTreeMap::from([
        ("backup".to_string(), backup_name.clone()),
        ("backup-uid".to_string(), backup_uid.clone()),
        ("ns".to_string(), pod_ns.to_string()),
        ("pod".to_string(), pod_name.to_string()),
        ("pod-uid".to_string(), pod_uid.to_string()),
        ("pvc-uid".to_string(), pvc_uid.clone()),
        ("volume".to_string(), volume.to_string()),
    ]);
    let body = json!({
        "apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
        "metadata": {
            "generateName": format!("{backup_name}-"), "namespace": vns,
            "labels": {BACKUP_NAME_LABEL: valid_label_value(&backup_name), BACKUP_UID_LABEL: backup_uid, PVC_UID_LABEL: pvc_uid},
            "annotations": {PVC_NAME_ANNOTATION: claim},
            "ownerReferences": [{"apiVersion": "velero.io/v1", "kind": "Backup", "name": backup_name,
                "uid": backup.metadata.uid, "controller": true}],
        },
        "spec": {
            "node": node, "pod": {"kind": "Pod", "namespace": pod_ns, "name": pod_name, "uid": pod_uid},
            "volume": volume, "backupStorageLocation": location.name_any(),
            "repoIdentifier": repo_identifier(location, uploader, pod_ns), "uploaderType": uploader, "tags": tags,
        },
    });
    let pvb: PodVolumeBackup = serde_json::from_value(body).ctx(|| format!("build PodVolumeBackup for {pod_ns}/{pod_name} {volume}"))?;
    let api: Api<PodVolumeBackup> = Api::namespaced(ctx.client.clone(), vns);
    let created = api
        .create(&PostParams::default(), &pvb)
        .await
        .ctx(|| format!("create PodVolumeBackup for {pod_ns}/{pod_name} volume {volume}"))?;
    let pvb_name = created.name_any();
    let start = k8s_time(ctx.clock.now());
    let status = match claim_handle(&ctx.client, pod_ns, claim).await? {
        Err(why) => json!({"phase": "Failed", "message": why, "startTimestamp": start, "completionTimestamp": start}),
        Ok((pv, handle)) => {
            let path = format!("{HOST_PODS}/{pod_uid}/volumes/kubernetes.io~csi/{pv}/mount");
            let manifest = SnapshotManifest {
                time: start.clone(),
                hostname: node.to_string(),
                paths: vec![path.clone()],
                tags,
                files: Vec::new(),
            };
            let repo = Repository::new(store.clone(), uploader, pod_ns);
            let result = match files.read(&handle) {
                Ok(data) => repo.upload(&data, manifest).await,
                Err(e) => Err(format!("reading volume {handle}: {e}")),
            };
            let done = k8s_time(ctx.clock.now());
            match result {
                Ok(up) => json!({"phase": "Completed", "path": path, "snapshotID": up.snapshot_id,
                    "startTimestamp": start, "completionTimestamp": done, "incrementalBytes": up.new_bytes,
                    "progress": {"totalBytes": up.total_bytes, "bytesDone": up.total_bytes}}),
                Err(e) => json!({"phase": "Failed", "path": path, "message": format!("running {uploader} backup: {e}"),
                    "startTimestamp": start, "completionTimestamp": done}),
            }
        }
    };
    api.patch(&pvb_name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
        .await
        .ctx(|| format!("update status of PodVolumeBackup {vns}/{pvb_name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_selected_like_velero() {
        let pod = json!({
            "metadata": {"annotations": {BACKUP_VOLUMES_ANNOTATION: "data,cache", BACKUP_VOLUMES_EXCLUDES_ANNOTATION: "cache"}},
            "spec": {"volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "cache", "emptyDir": {}},
                {"name": "host", "hostPath": {"path": "/var/log"}},
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "tls", "secret": {"secretName": "s"}},
                {"name": "token", "projected": {"sources": []}},
                {"name": "info", "downwardAPI": {}},
                {"name": "default-token-x7k2p", "emptyDir": {}},
                {"name": "scratch", "emptyDir": {}},
            ]}
        });
        assert_eq!(volumes_to_back_up(&pod, false), ["data", "cache"], "opt-in reads the annotation");
        assert_eq!(
            volumes_to_back_up(&pod, true),
            ["data", "scratch"],
            "opt-out skips excludes and special volumes"
        );
        assert!(volumes_to_back_up(&json!({"spec": {"volumes": [{"name": "a"}]}}), false).is_empty());
    }

    #[test]
    fn repository_identifiers_follow_velero() {
        let location: BackupStorageLocation = serde_json::from_value(json!({
            "metadata": {"name": "default"},
            "spec": {"provider": "aws", "objectStorage": {"bucket": "mgmt", "prefix": "/tkg/"},
                "config": {"region": "minio", "s3Url": "http://minio:9000/"}}
        }))
        .expect("bsl");
        assert_eq!(
            repo_identifier(&location, "restic", "shop"),
            "s3:http://minio:9000/mgmt/tkg/restic/shop"
        );
        assert_eq!(
            repo_identifier(&location, "kopia", "shop"),
            "s3:http://minio:9000/mgmt/tkg/kopia/shop"
        );
    }
}
