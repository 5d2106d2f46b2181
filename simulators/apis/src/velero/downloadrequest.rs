//! The DownloadRequest: how the velero CLI reads a file of a backup or restore from object
//! storage without credentials of its own. The CLI creates a request naming the file; the Velero
//! server answers in its status with a pre-signed URL the CLI then fetches over plain HTTP.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which file of a backup or restore a DownloadRequest asks for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum DownloadTargetKind {
    /// `backups/<name>/<name>-logs.gz`.
    BackupLog,
    /// `backups/<name>/<name>.tar.gz` (handed over still compressed).
    BackupContents,
    /// `backups/<name>/<name>-volumesnapshots.json.gz`.
    BackupVolumeSnapshots,
    /// `backups/<name>/<name>-itemoperations.json.gz`.
    BackupItemOperations,
    /// `backups/<name>/<name>-resource-list.json.gz`.
    BackupResourceList,
    /// `backups/<name>/<name>-results.gz`.
    BackupResults,
    /// `restores/<name>/restore-<name>-logs.gz`.
    RestoreLog,
    /// `restores/<name>/restore-<name>-results.gz`.
    RestoreResults,
    /// `restores/<name>/restore-<name>-resource-list.json.gz`.
    RestoreResourceList,
    /// `restores/<name>/restore-<name>-itemoperations.json.gz`.
    RestoreItemOperations,
    /// `backups/<name>/<name>-csi-volumesnapshots.json.gz`.
    #[serde(rename = "CSIBackupVolumeSnapshots")]
    CsiBackupVolumeSnapshots,
    /// `backups/<name>/<name>-csi-volumesnapshotcontents.json.gz`.
    #[serde(rename = "CSIBackupVolumeSnapshotContents")]
    CsiBackupVolumeSnapshotContents,
    /// `backups/<name>/<name>-volumeinfo.json.gz`.
    BackupVolumeInfos,
    /// `restores/<name>/<name>-volumeinfo.json.gz`.
    RestoreVolumeInfo,
}

impl DownloadTargetKind {
    /// The kind as Velero writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupLog => "BackupLog",
            Self::BackupContents => "BackupContents",
            Self::BackupVolumeSnapshots => "BackupVolumeSnapshots",
            Self::BackupItemOperations => "BackupItemOperations",
            Self::BackupResourceList => "BackupResourceList",
            Self::BackupResults => "BackupResults",
            Self::RestoreLog => "RestoreLog",
            Self::RestoreResults => "RestoreResults",
            Self::RestoreResourceList => "RestoreResourceList",
            Self::RestoreItemOperations => "RestoreItemOperations",
            Self::CsiBackupVolumeSnapshots => "CSIBackupVolumeSnapshots",
            Self::CsiBackupVolumeSnapshotContents => "CSIBackupVolumeSnapshotContents",
            Self::BackupVolumeInfos => "BackupVolumeInfos",
            Self::RestoreVolumeInfo => "RestoreVolumeInfo",
        }
    }

    /// Whether the target names a Restore (whose backup's location holds the file) rather than
    /// a Backup.
    pub fn is_restore_file(self) -> bool {
        matches!(
            self,
            Self::RestoreLog | Self::RestoreResults | Self::RestoreResourceList | Self::RestoreItemOperations | Self::RestoreVolumeInfo
        )
    }

    /// Whether the CLI gunzips what it downloads (everything but the backup tarball).
    pub fn is_gunzipped_by_the_cli(self) -> bool {
        self != Self::BackupContents
    }
}

/// What to download.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct DownloadTarget {
    /// The type of file.
    pub kind: DownloadTargetKind,
    /// The Backup or Restore the file belongs to.
    pub name: String,
}

/// A request for a pre-signed URL of one file.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "DownloadRequest",
    namespaced,
    derive = "PartialEq",
    status = "DownloadRequestStatus"
)]
pub struct DownloadRequestSpec {
    /// What to download.
    pub target: DownloadTarget,
}

/// Where a DownloadRequest is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DownloadRequestPhase {
    /// Not yet processed.
    New,
    /// `downloadURL` is set.
    Processed,
}

/// The server's answer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadRequestStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DownloadRequestPhase>,
    /// The pre-signed URL of the file.
    #[serde(rename = "downloadURL", default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// When the request may be deleted by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Time>,
}

impl DownloadRequestStatus {
    /// Whether the request has expired at `now`.
    pub fn expired_at(&self, now: Timestamp) -> bool {
        self.expiration.as_ref().is_some_and(|t| t.0 < now)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn request_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "DownloadRequest",
            "metadata": { "name": "my-backup-0b6e7d2c-1f3a-4c5e-9a7b-8d9e0f1a2b3c", "namespace": "velero" },
            "spec": { "target": { "kind": "BackupLog", "name": "my-backup" } },
            "status": {
                "phase": "Processed",
                "downloadURL": "http://127.0.0.1:9000/tkg/backups/my-backup/my-backup-logs.gz?X-Amz-Signature=abc",
                "expiration": "2022-12-07T17:20:42Z"
            }
        });
        let request: DownloadRequest = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(request.spec.target.kind, DownloadTargetKind::BackupLog);
        let status = request.status.clone().expect("status");
        assert_eq!(status.phase, Some(DownloadRequestPhase::Processed));
        assert!(status.expired_at("2022-12-07T17:20:43Z".parse().expect("time")));
        assert!(!status.expired_at("2022-12-07T17:20:42Z".parse().expect("time")));
        assert_eq!(serde_json::to_value(&request).expect("serializes"), upstream);
    }

    #[test]
    fn csi_kinds_keep_upstream_spelling() {
        for kind in [
            DownloadTargetKind::CsiBackupVolumeSnapshots,
            DownloadTargetKind::CsiBackupVolumeSnapshotContents,
            DownloadTargetKind::RestoreResults,
        ] {
            assert_eq!(serde_json::to_value(kind).expect("serializes"), json!(kind.as_str()));
        }
        assert!(DownloadTargetKind::RestoreLog.is_restore_file());
        assert!(!DownloadTargetKind::BackupLog.is_restore_file());
        assert!(!DownloadTargetKind::BackupContents.is_gunzipped_by_the_cli());
    }
}
