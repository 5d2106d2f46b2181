//! Velero `velero.io/v1`: backups, restores, schedules and the storage locations they use.
//!
//! Field names, JSON shapes and phase strings follow upstream Velero (the CRDs of v1.18); the Rust
//! types are our own. [`crds`] gives the CRDs generated from these types, adjusted where
//! kube-derive cannot say what upstream says (Backup, Restore and VolumeSnapshotLocation have
//! no status subresource upstream: Velero writes their status with ordinary updates).

pub mod backup;
pub mod deletebackuprequest;
pub mod downloadrequest;
pub mod location;
pub mod podvolume;
pub mod restore;
pub mod schedule;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use schemars::{Schema, SchemaGenerator, json_schema};

pub use backup::{
    Backup, BackupHooks, BackupPhase, BackupProgress, BackupResourceHook, BackupResourceHookSpec, BackupSpec, BackupStatus, ExecHook,
    HookErrorMode, HookStatus, Metadata, UploaderConfigForBackup,
};
pub use deletebackuprequest::{
    BACKUP_UID_LABEL, DeleteBackupRequest, DeleteBackupRequestPhase, DeleteBackupRequestSpec, DeleteBackupRequestStatus,
};
pub use downloadrequest::{
    DownloadRequest, DownloadRequestPhase, DownloadRequestSpec, DownloadRequestStatus, DownloadTarget, DownloadTargetKind,
};
pub use location::{
    BackupStorageLocation, BackupStorageLocationAccessMode, BackupStorageLocationPhase, BackupStorageLocationSpec,
    BackupStorageLocationStatus, ObjectStorageLocation, VolumeSnapshotLocation, VolumeSnapshotLocationPhase, VolumeSnapshotLocationSpec,
    VolumeSnapshotLocationStatus,
};
pub use podvolume::{
    PodVolumeBackup, PodVolumeBackupSpec, PodVolumeBackupStatus, PodVolumeOperationProgress, PodVolumePhase, PodVolumeRestore,
    PodVolumeRestoreSpec, PodVolumeRestoreStatus,
};
pub use restore::{
    ExecRestoreHook, InitRestoreHook, Restore, RestoreHooks, RestorePhase, RestoreProgress, RestoreResourceHook, RestoreResourceHookSpec,
    RestoreSpec, RestoreStatus, RestoreStatusSpec, UploaderConfigForRestore,
};
pub use schedule::{Schedule, SchedulePhase, ScheduleSpec, ScheduleStatus};

/// The API group of every Velero resource.
pub const GROUP: &str = "velero.io";

/// The `apiVersion` of every resource in this module.
pub const API_VERSION: &str = "velero.io/v1";

/// The namespace `velero install` creates and Velero's resources live in.
pub const DEFAULT_NAMESPACE: &str = "velero";

/// The label Velero puts on a Backup made by a Schedule (value: the schedule's name).
pub const SCHEDULE_NAME_LABEL: &str = "velero.io/schedule-name";

/// The label Velero puts on a Backup with the name of its storage location.
pub const STORAGE_LOCATION_LABEL: &str = "velero.io/storage-location";

/// The label Velero puts on every object it restores (value: the backup's name).
pub const BACKUP_NAME_LABEL: &str = "velero.io/backup-name";

/// The label Velero puts on every object it restores (value: the restore's name).
pub const RESTORE_NAME_LABEL: &str = "velero.io/restore-name";

/// The CRDs of this module, as a cluster installing Velero gets them.
///
/// Generated from our types; the status subresource that kube-derive adds with a status type
/// is removed from Backup, Restore, VolumeSnapshotLocation, DeleteBackupRequest, DownloadRequest,
/// PodVolumeBackup and PodVolumeRestore, which have none upstream.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let without_status = |mut crd: CustomResourceDefinition| {
        for version in &mut crd.spec.versions {
            version.subresources = None;
        }
        crd
    };
    vec![
        without_status(Backup::crd()),
        without_status(Restore::crd()),
        Schedule::crd(),
        BackupStorageLocation::crd(),
        without_status(VolumeSnapshotLocation::crd()),
        without_status(DeleteBackupRequest::crd()),
        without_status(DownloadRequest::crd()),
        without_status(PodVolumeBackup::crd()),
        without_status(PodVolumeRestore::crd()),
    ]
}

/// Go's `omitempty` for integers: zero is left out of the JSON.
pub(crate) fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// Schema of bytes carried as base64 in JSON (Go `[]byte`).
pub(crate) fn base64_bytes(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "byte" })
}

/// Schema of a list of arbitrary objects kept as they are (upstream: `RawExtension` items).
pub(crate) fn preserved_objects(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(crds: &'a [CustomResourceDefinition], name: &str) -> &'a CustomResourceDefinition {
        crds.iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no CRD {name}"))
    }

    #[test]
    fn crds_have_upstream_names_and_subresources() {
        let crds = crds();
        let expected = [
            ("backups.velero.io", "Backup", None, false),
            ("restores.velero.io", "Restore", None, false),
            ("schedules.velero.io", "Schedule", None, true),
            ("backupstoragelocations.velero.io", "BackupStorageLocation", Some("bsl"), true),
            ("volumesnapshotlocations.velero.io", "VolumeSnapshotLocation", Some("vsl"), false),
            ("deletebackuprequests.velero.io", "DeleteBackupRequest", None, false),
            ("downloadrequests.velero.io", "DownloadRequest", None, false),
            ("podvolumebackups.velero.io", "PodVolumeBackup", None, false),
            ("podvolumerestores.velero.io", "PodVolumeRestore", None, false),
        ];
        for (name, kind, short, status) in expected {
            let crd = find(&crds, name);
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.scope, "Namespaced");
            assert_eq!(crd.spec.names.kind, kind);
            assert_eq!(crd.spec.names.short_names, short.map(|s: &str| vec![s.to_string()]), "{name}");
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1");
            let has_status = version.subresources.as_ref().is_some_and(|s| s.status.is_some());
            assert_eq!(has_status, status, "{name} status subresource");
        }
    }

    #[test]
    fn printer_columns_match_upstream() {
        let crds = crds();
        let columns = |name: &str| -> Vec<(String, String, String)> {
            find(&crds, name).spec.versions[0]
                .additional_printer_columns
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.name, c.type_, c.json_path))
                .collect()
        };
        let own = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
            v.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
        };
        assert_eq!(
            columns("backupstoragelocations.velero.io"),
            own(&[
                ("Phase", "string", ".status.phase"),
                ("Last Validated", "date", ".status.lastValidationTime"),
                ("Age", "date", ".metadata.creationTimestamp"),
                ("Default", "boolean", ".spec.default"),
            ])
        );
        assert_eq!(
            columns("schedules.velero.io"),
            own(&[
                ("Status", "string", ".status.phase"),
                ("Schedule", "string", ".spec.schedule"),
                ("LastBackup", "date", ".status.lastBackup"),
                ("Age", "date", ".metadata.creationTimestamp"),
                ("Paused", "boolean", ".spec.paused"),
            ])
        );
        assert!(columns("backups.velero.io").is_empty());
    }

    #[test]
    fn phase_enums_are_in_the_schemas() {
        let crds = crds();
        let status = |name: &str| {
            let schema = serde_json::to_value(&find(&crds, name).spec.versions[0].schema).expect("schema serializes");
            schema["openAPIV3Schema"]["properties"]["status"]["properties"]["phase"]["enum"].clone()
        };
        assert_eq!(
            status("backups.velero.io"),
            serde_json::json!([
                "New",
                "Queued",
                "ReadyToStart",
                "FailedValidation",
                "InProgress",
                "WaitingForPluginOperations",
                "WaitingForPluginOperationsPartiallyFailed",
                "Finalizing",
                "FinalizingPartiallyFailed",
                "Completed",
                "PartiallyFailed",
                "Failed",
                "Deleting"
            ])
        );
        assert_eq!(
            status("backupstoragelocations.velero.io"),
            serde_json::json!(["Available", "Unavailable"])
        );
        assert_eq!(
            status("schedules.velero.io"),
            serde_json::json!(["New", "Enabled", "FailedValidation"])
        );
    }
}
