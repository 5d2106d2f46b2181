//! PodVolumeBackup and PodVolumeRestore: one volume of one pod copied file by file to (or from)
//! the backup repository by Velero's node agent (the file-system backup, restic or kopia).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The label on a PodVolumeBackup with the UID of the PersistentVolumeClaim behind the volume.
pub const PVC_UID_LABEL: &str = "velero.io/pvc-uid";

/// The annotation on a PodVolumeBackup with the name of the PersistentVolumeClaim behind it.
pub const PVC_NAME_ANNOTATION: &str = "velero.io/pvc-name";

/// The label on a PodVolumeRestore with the UID of its Restore.
pub const RESTORE_UID_LABEL: &str = "velero.io/restore-uid";

/// The label on a PodVolumeRestore with the UID of the restored pod.
pub const POD_UID_LABEL: &str = "velero.io/pod-uid";

/// The pod annotation that opts volumes into file-system backup (comma-separated names).
pub const BACKUP_VOLUMES_ANNOTATION: &str = "backup.velero.io/backup-volumes";

/// The pod annotation that opts volumes out when `defaultVolumesToFsBackup` is on.
pub const BACKUP_VOLUMES_EXCLUDES_ANNOTATION: &str = "backup.velero.io/backup-volumes-excludes";

/// `uploaderType` restic.
pub const UPLOADER_RESTIC: &str = "restic";

/// `uploaderType` kopia.
pub const UPLOADER_KOPIA: &str = "kopia";

/// Which volume of which pod to back up, and where to.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "PodVolumeBackup",
    namespaced,
    derive = "PartialEq",
    status = "PodVolumeBackupStatus",
    printcolumn = r#"{"name":"Status","type":"string","description":"PodVolumeBackup status such as New/InProgress","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Started","type":"date","description":"Time duration since this PodVolumeBackup was started","jsonPath":".status.startTimestamp"}"#,
    printcolumn = r#"{"name":"Bytes Done","type":"integer","format":"int64","description":"Completed bytes","jsonPath":".status.progress.bytesDone"}"#,
    printcolumn = r#"{"name":"Total Bytes","type":"integer","format":"int64","description":"Total bytes","jsonPath":".status.progress.totalBytes"}"#,
    printcolumn = r#"{"name":"Storage Location","type":"string","description":"Name of the Backup Storage Location where this backup should be stored","jsonPath":".spec.backupStorageLocation"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since this PodVolumeBackup was created","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Node","type":"string","description":"Name of the node where the PodVolumeBackup is processed","jsonPath":".spec.node"}"#,
    printcolumn = r#"{"name":"Uploader","type":"string","description":"The type of the uploader to handle data transfer","jsonPath":".spec.uploaderType"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeBackupSpec {
    /// The node the pod runs on (whose node agent does the work).
    pub node: String,
    /// The pod whose volume is backed up.
    pub pod: ObjectReference,
    /// The volume's name in the pod's `spec.volumes`.
    pub volume: String,
    /// The BackupStorageLocation holding the repository.
    pub backup_storage_location: String,
    /// The repository, e.g. `s3:http://minio:9000/velero/restic/default`.
    pub repo_identifier: String,
    /// `restic` or `kopia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader_type: Option<String>,
    /// Tags put on the snapshot (backup, backup-uid, ns, pod, pod-uid, pvc-uid, volume).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Set to cancel an InProgress backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<bool>,
}

/// The phase of a PodVolumeBackup or PodVolumeRestore.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PodVolumePhase {
    /// Created, not yet picked up.
    New,
    /// Accepted by a node agent.
    Accepted,
    /// Prepared for data movement.
    Prepared,
    /// Copying data.
    InProgress,
    /// Being canceled.
    Canceling,
    /// Canceled.
    Canceled,
    /// Every file copied.
    Completed,
    /// Stopped with an error (`status.message`).
    Failed,
}

impl PodVolumePhase {
    /// The phase as Velero writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Accepted => "Accepted",
            Self::Prepared => "Prepared",
            Self::InProgress => "InProgress",
            Self::Canceling => "Canceling",
            Self::Canceled => "Canceled",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}

/// Bytes copied so far.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeOperationProgress {
    /// Bytes of the whole volume.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub total_bytes: i64,
    /// Bytes copied.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub bytes_done: i64,
}

fn is_zero64(v: &i64) -> bool {
    *v == 0
}

/// How far a PodVolumeBackup got.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeBackupStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PodVolumePhase>,
    /// The volume's path on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The snapshot made in the repository.
    #[serde(default, rename = "snapshotID", skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// What went wrong, when Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When a node agent started on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    /// Bytes copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<PodVolumeOperationProgress>,
    /// Bytes new since the previous snapshot of the volume.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub incremental_bytes: i64,
}

/// Which snapshot to restore into which volume of which (restored) pod.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "PodVolumeRestore",
    namespaced,
    derive = "PartialEq",
    status = "PodVolumeRestoreStatus",
    printcolumn = r#"{"name":"Namespace","type":"string","description":"Namespace of the pod containing the volume to be restored","jsonPath":".spec.pod.namespace"}"#,
    printcolumn = r#"{"name":"Pod","type":"string","description":"Name of the pod containing the volume to be restored","jsonPath":".spec.pod.name"}"#,
    printcolumn = r#"{"name":"Uploader Type","type":"string","description":"The type of the uploader to handle data transfer","jsonPath":".spec.uploaderType"}"#,
    printcolumn = r#"{"name":"Volume","type":"string","description":"Name of the volume to be restored","jsonPath":".spec.volume"}"#,
    printcolumn = r#"{"name":"Status","type":"string","description":"Pod Volume Restore status such as New/InProgress","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"TotalBytes","type":"integer","format":"int64","description":"Pod Volume Restore status such as New/InProgress","jsonPath":".status.progress.totalBytes"}"#,
    printcolumn = r#"{"name":"BytesDone","type":"integer","format":"int64","description":"Pod Volume Restore status such as New/InProgress","jsonPath":".status.progress.bytesDone"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time duration since this PodVolumeRestore was created","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeRestoreSpec {
    /// The restored pod whose volume receives the data.
    pub pod: ObjectReference,
    /// The volume's name in the pod's `spec.volumes`.
    pub volume: String,
    /// The BackupStorageLocation holding the repository.
    pub backup_storage_location: String,
    /// The repository the snapshot is in.
    pub repo_identifier: String,
    /// `restic` or `kopia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader_type: Option<String>,
    /// The snapshot to restore.
    #[serde(rename = "snapshotID")]
    pub snapshot_id: String,
    /// The namespace the pod was backed up from (the repository's namespace).
    pub source_namespace: String,
    /// The snapshot's size in bytes.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub snapshot_size: i64,
    /// Set to cancel an InProgress restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<bool>,
}

/// How far a PodVolumeRestore got.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeRestoreStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PodVolumePhase>,
    /// What went wrong (Failed), or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The node whose agent restored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// When a node agent started on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    /// Bytes copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<PodVolumeOperationProgress>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pod_volume_backup_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "PodVolumeBackup",
            "metadata": {"name": "nightly-x7k2p", "namespace": "velero",
                "labels": {"velero.io/backup-name": "nightly", "velero.io/pvc-uid": "u-1"},
                "annotations": {"velero.io/pvc-name": "data"}},
            "spec": {
                "node": "wc-md-0-1",
                "pod": {"kind": "Pod", "namespace": "shop", "name": "db-0", "uid": "p-1"},
                "volume": "data",
                "backupStorageLocation": "default",
                "repoIdentifier": "s3:http://127.0.0.1:9000/mgmt/restic/shop",
                "uploaderType": "restic",
                "tags": {"backup": "nightly", "volume": "data"}
            },
            "status": {
                "phase": "Completed", "path": "/host_pods/p-1/volumes/kubernetes.io~csi/pvc-1/mount",
                "snapshotID": "ab12", "startTimestamp": "2022-12-07T17:10:42Z",
                "completionTimestamp": "2022-12-07T17:10:43Z",
                "progress": {"totalBytes": 1048576, "bytesDone": 1048576}
            }
        });
        let pvb: PodVolumeBackup = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(pvb.spec.pod.name.as_deref(), Some("db-0"));
        let status = pvb.status.as_ref().expect("status");
        assert_eq!(status.phase, Some(PodVolumePhase::Completed));
        assert_eq!(status.snapshot_id.as_deref(), Some("ab12"));
        assert_eq!(serde_json::to_value(&pvb).expect("serializes"), upstream);
    }

    #[test]
    fn pod_volume_restore_requires_upstream_fields() {
        let err = serde_json::from_value::<PodVolumeRestoreSpec>(json!({
            "pod": {"name": "db-0"}, "volume": "data", "backupStorageLocation": "default", "repoIdentifier": "r"
        }))
        .expect_err("no snapshotID");
        assert!(err.to_string().contains("snapshotID"), "{err}");
        let pvr: PodVolumeRestoreSpec = serde_json::from_value(json!({
            "pod": {"name": "db-0"}, "volume": "data", "backupStorageLocation": "default",
            "repoIdentifier": "r", "snapshotID": "s", "sourceNamespace": "shop"
        }))
        .expect("parses");
        assert_eq!(pvr.source_namespace, "shop");
    }

    #[test]
    fn phases_serialize_as_upstream_strings() {
        for phase in [
            PodVolumePhase::New,
            PodVolumePhase::Accepted,
            PodVolumePhase::Prepared,
            PodVolumePhase::InProgress,
            PodVolumePhase::Canceling,
            PodVolumePhase::Canceled,
            PodVolumePhase::Completed,
            PodVolumePhase::Failed,
        ] {
            assert_eq!(serde_json::to_value(phase).expect("serializes"), json!(phase.as_str()));
        }
        assert!(PodVolumePhase::Failed.is_terminal() && !PodVolumePhase::New.is_terminal());
    }
}
