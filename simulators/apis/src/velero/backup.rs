//! The Backup: what to back up, where to, and how far it got.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_zero;

/// What a Backup selects and how it runs (`velero backup create` flags end up here).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "Backup",
    namespaced,
    derive = "PartialEq",
    status = "BackupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Labels to put on the Backup created from this spec (used by Schedule templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Namespaces to include (`*` or empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// Namespaces to exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resources to include, group-qualified (`cluster.cluster.x-k8s.io`); `*` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    /// Resources to exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
    /// Cluster-scoped resources to include (new-style filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_cluster_scoped_resources: Option<Vec<String>>,
    /// Cluster-scoped resources to exclude (new-style filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_cluster_scoped_resources: Option<Vec<String>>,
    /// Namespace-scoped resources to include (new-style filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespace_scoped_resources: Option<Vec<String>>,
    /// Namespace-scoped resources to exclude (new-style filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespace_scoped_resources: Option<Vec<String>>,
    /// Only items whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Items matching any of these selectors (exclusive with `labelSelector`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_label_selectors: Option<Vec<LabelSelector>>,
    /// Whether to take volume snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_volumes: Option<bool>,
    /// How long the backup is kept, a Go duration such as `336h0m0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Whether cluster-scoped resources are included (unset: only those related to included items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    /// Hooks run in pods before and after their backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<BackupHooks>,
    /// Name of the BackupStorageLocation to write to (empty: the default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// Names of the VolumeSnapshotLocations to snapshot into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_snapshot_locations: Vec<String>,
    /// Deprecated spelling of `defaultVolumesToFsBackup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_volumes_to_restic: Option<bool>,
    /// Back every pod volume up with the file-system uploader unless opted out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_volumes_to_fs_backup: Option<bool>,
    /// Order of items per resource: resource → `ns/name,ns/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered_resources: Option<BTreeMap<String, String>>,
    /// How long to wait for CSI snapshots to be ready, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi_snapshot_timeout: Option<String>,
    /// How long to wait for asynchronous plugin operations, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_operation_timeout: Option<String>,
    /// A ConfigMap holding resource policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<TypedLocalObjectReference>,
    /// Move CSI snapshot data to the backup storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_move_data: Option<bool>,
    /// The data mover that moves snapshot data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datamover: Option<String>,
    /// Uploader settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader_config: Option<UploaderConfigForBackup>,
    /// The label key that groups PVCs into volume group snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_group_snapshot_label_key: Option<String>,
}

/// Labels for the Backup a template creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Metadata {
    /// The labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Uploader settings of a backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploaderConfigForBackup {
    /// Number of files uploaded at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_files_upload: Option<i32>,
}

/// Hooks of a backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct BackupHooks {
    /// Hooks per set of selected resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<BackupResourceHookSpec>>,
}

/// Hooks for the pods a selector picks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupResourceHookSpec {
    /// Name of the hook set.
    pub name: String,
    /// Namespaces the hooks apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// Namespaces the hooks skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resources the hooks apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    /// Resources the hooks skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
    /// Only pods whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Hooks run before the pod is backed up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre: Vec<BackupResourceHook>,
    /// Hooks run after the pod is backed up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post: Vec<BackupResourceHook>,
}

/// One backup hook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct BackupResourceHook {
    /// A command run in a container.
    pub exec: ExecHook,
}

/// A command run in a pod's container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecHook {
    /// The container (empty: the pod's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// What a failing command does to the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<HookErrorMode>,
    /// How long the command may run, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// What a failing hook does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HookErrorMode {
    /// Log the error and go on.
    Continue,
    /// Fail the item (and the backup or restore ends PartiallyFailed).
    Fail,
}

/// Where a Backup is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum BackupPhase {
    /// Not yet processed.
    New,
    /// Waiting for a worker.
    Queued,
    /// About to start.
    ReadyToStart,
    /// The spec is invalid; see `validationErrors`.
    FailedValidation,
    /// Items are being backed up.
    InProgress,
    /// Items are done; plugin operations are still running.
    WaitingForPluginOperations,
    /// As above, after at least one error.
    WaitingForPluginOperationsPartiallyFailed,
    /// Writing the final tarball and files.
    Finalizing,
    /// As above, after at least one error.
    FinalizingPartiallyFailed,
    /// Done without errors.
    Completed,
    /// Done, with errors.
    PartiallyFailed,
    /// Failed; see `failureReason`.
    Failed,
    /// A DeleteBackupRequest is removing it.
    Deleting,
}

impl BackupPhase {
    /// The phase as Velero writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Queued => "Queued",
            Self::ReadyToStart => "ReadyToStart",
            Self::FailedValidation => "FailedValidation",
            Self::InProgress => "InProgress",
            Self::WaitingForPluginOperations => "WaitingForPluginOperations",
            Self::WaitingForPluginOperationsPartiallyFailed => "WaitingForPluginOperationsPartiallyFailed",
            Self::Finalizing => "Finalizing",
            Self::FinalizingPartiallyFailed => "FinalizingPartiallyFailed",
            Self::Completed => "Completed",
            Self::PartiallyFailed => "PartiallyFailed",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
        }
    }

    /// Whether the backup has stopped changing (Completed, PartiallyFailed, Failed,
    /// FailedValidation).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::PartiallyFailed | Self::Failed | Self::FailedValidation
        )
    }
}

/// What happened to a Backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// Major format version (deprecated upstream; 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i32,
    /// Format version of the tarball, e.g. `1.1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<String>,
    /// When the backup becomes eligible for garbage collection (creation + TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Time>,
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// Why the spec is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<Vec<String>>,
    /// When the backup started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When the backup finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    /// Volume snapshots attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub volume_snapshots_attempted: i32,
    /// Volume snapshots completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub volume_snapshots_completed: i32,
    /// Why the backup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Number of warnings.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warnings: i32,
    /// Number of errors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: i32,
    /// Items done so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<BackupProgress>,
    /// CSI snapshots attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub csi_volume_snapshots_attempted: i32,
    /// CSI snapshots completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub csi_volume_snapshots_completed: i32,
    /// Asynchronous plugin operations attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backup_item_operations_attempted: i32,
    /// Asynchronous plugin operations completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backup_item_operations_completed: i32,
    /// Asynchronous plugin operations failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backup_item_operations_failed: i32,
    /// Hooks run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_status: Option<HookStatus>,
    /// Position in the queue while Queued.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queue_position: i32,
}

/// Progress of a backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupProgress {
    /// Items to back up.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_items: i32,
    /// Items backed up.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items_backed_up: i32,
}

/// Hooks attempted and failed (backups and restores).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookStatus {
    /// Hooks attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hooks_attempted: i32,
    /// Hooks failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hooks_failed: i32,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runbook_backup_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": { "name": "my-backup", "namespace": "velero" },
            "spec": {
                "excludedNamespaces": ["tkg-system"],
                "includedResources": ["cluster.cluster.x-k8s.io"],
                "ttl": "720h0m0s",
                "storageLocation": "default",
                "hooks": {},
                "metadata": {}
            },
            "status": {
                "version": 1,
                "formatVersion": "1.1.0",
                "expiration": "2024-05-31T10:00:00Z",
                "phase": "PartiallyFailed",
                "startTimestamp": "2024-05-01T10:00:00Z",
                "completionTimestamp": "2024-05-01T10:00:05Z",
                "errors": 2,
                "progress": { "totalItems": 3, "itemsBackedUp": 3 }
            }
        });
        let backup: Backup = serde_json::from_value(upstream.clone()).expect("parses");
        let status = backup.status.as_ref().expect("status");
        assert_eq!(status.phase, Some(BackupPhase::PartiallyFailed));
        assert_eq!(status.errors, 2);
        assert_eq!(backup.spec.excluded_namespaces, Some(vec!["tkg-system".to_string()]));
        let back = serde_json::to_value(&backup).expect("serializes");
        assert_eq!(back, upstream);
    }

    #[test]
    fn phases_serialize_as_upstream_strings() {
        for phase in [
            BackupPhase::New,
            BackupPhase::InProgress,
            BackupPhase::WaitingForPluginOperationsPartiallyFailed,
            BackupPhase::Completed,
            BackupPhase::Deleting,
        ] {
            assert_eq!(serde_json::to_value(phase).expect("serializes"), json!(phase.as_str()));
        }
        assert!(BackupPhase::PartiallyFailed.is_terminal());
        assert!(!BackupPhase::Finalizing.is_terminal());
    }
}
