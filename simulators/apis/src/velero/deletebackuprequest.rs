//! The DeleteBackupRequest: how `velero backup delete` and TTL garbage collection ask Velero to
//! remove a backup from the bucket and the cluster.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The label Velero puts on a DeleteBackupRequest with the UID of the Backup to delete (next to
/// `velero.io/backup-name`).
pub const BACKUP_UID_LABEL: &str = "velero.io/backup-uid";

/// Which backup to delete.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "DeleteBackupRequest",
    namespaced,
    derive = "PartialEq",
    status = "DeleteBackupRequestStatus",
    printcolumn = r#"{"name":"BackupName","type":"string","description":"The name of the backup to be deleted","jsonPath":".spec.backupName"}"#,
    printcolumn = r#"{"name":"Status","type":"string","description":"The status of the deletion request","jsonPath":".status.phase"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestSpec {
    /// The Backup to delete (in the request's namespace).
    pub backup_name: String,
}

/// Where a DeleteBackupRequest is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeleteBackupRequestPhase {
    /// Not yet processed.
    New,
    /// The backup's files and objects are being deleted.
    InProgress,
    /// Done; `errors` lists what could not be deleted.
    Processed,
}

impl DeleteBackupRequestPhase {
    /// The phase as Velero writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::InProgress => "InProgress",
            Self::Processed => "Processed",
        }
    }
}

/// What happened to a DeleteBackupRequest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DeleteBackupRequestPhase>,
    /// What went wrong while deleting (empty when everything was deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn request_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "DeleteBackupRequest",
            "metadata": {
                "name": "my-backup-x7k2p",
                "namespace": "velero",
                "labels": { "velero.io/backup-name": "my-backup", "velero.io/backup-uid": "0b6e7d2c" }
            },
            "spec": { "backupName": "my-backup" },
            "status": { "phase": "Processed", "errors": ["error deleting backup's files: NoSuchBucket"] }
        });
        let request: DeleteBackupRequest = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(request.spec.backup_name, "my-backup");
        let status = request.status.as_ref().expect("status");
        assert_eq!(status.phase, Some(DeleteBackupRequestPhase::Processed));
        assert_eq!(status.errors.len(), 1);
        assert_eq!(serde_json::to_value(&request).expect("serializes"), upstream);
    }

    #[test]
    fn phases_serialize_as_upstream_strings() {
        for phase in [
            DeleteBackupRequestPhase::New,
            DeleteBackupRequestPhase::InProgress,
            DeleteBackupRequestPhase::Processed,
        ] {
            assert_eq!(serde_json::to_value(phase).expect("serializes"), json!(phase.as_str()));
        }
    }

    #[test]
    fn spec_requires_a_backup_name() {
        let err = serde_json::from_value::<DeleteBackupRequestSpec>(json!({})).expect_err("no backupName");
        assert!(err.to_string().contains("backupName"), "{err}");
    }
}
