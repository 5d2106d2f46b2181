//! Where Velero writes: BackupStorageLocation (object storage) and VolumeSnapshotLocation.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::SecretKeySelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::base64_bytes;

/// A bucket (and prefix) where backups are stored, as `velero install --bucket --prefix
/// --backup-location-config` describes it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "BackupStorageLocation",
    namespaced,
    derive = "PartialEq",
    status = "BackupStorageLocationStatus",
    shortname = "bsl",
    printcolumn = r#"{"name":"Phase","type":"string","description":"Backup Storage Location status such as Available/Unavailable","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Last Validated","type":"date","description":"LastValidationTime is the last time the backup store location was validated","jsonPath":".status.lastValidationTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Default","type":"boolean","description":"Default backup storage location","jsonPath":".spec.default"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageLocationSpec {
    /// The object-store plugin, e.g. `aws` (S3 and MinIO) or `azure`.
    pub provider: String,
    /// Bucket, prefix and CA.
    pub object_storage: ObjectStorageLocation,
    /// Provider settings, e.g. `region`, `s3ForcePathStyle`, `s3Url`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// The Secret key holding this location's credentials (unset: Velero's own secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<SecretKeySelector>,
    /// Whether backups without `storageLocation` go here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// ReadWrite (default) or ReadOnly (restores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<BackupStorageLocationAccessMode>,
    /// How often backups are synced from the bucket, a Go duration (`0s` disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_sync_period: Option<String>,
    /// How often the location is validated, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_frequency: Option<String>,
}

/// The bucket side of a BackupStorageLocation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStorageLocation {
    /// The bucket (no `/`: a prefix goes in `prefix`).
    pub bucket: String,
    /// Folder inside the bucket under which Velero writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// PEM CA bundle for the object store's TLS (deprecated upstream in favour of `caCertRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "base64_bytes")]
    pub ca_cert: Option<ByteString>,
    /// The Secret key holding the CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_ref: Option<SecretKeySelector>,
}

/// Whether Velero may write to a location.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BackupStorageLocationAccessMode {
    /// Backups and restores.
    ReadWrite,
    /// Restores only; no backups, no garbage collection.
    ReadOnly,
}

/// Whether Velero can reach a location.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BackupStorageLocationPhase {
    /// Validated: the bucket is reachable and holds only Velero's top-level folders.
    Available,
    /// Not usable; `message` says why.
    Unavailable,
}

/// What Velero last found at a location.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageLocationStatus {
    /// Available or Unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupStorageLocationPhase>,
    /// When backups were last synced from the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_time: Option<Time>,
    /// When the location was last validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validation_time: Option<Time>,
    /// Why the location is Unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Deprecated upstream: the revision last synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_revision: Option<String>,
    /// Deprecated upstream: the access mode (now in the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<BackupStorageLocationAccessMode>,
}

/// Where volume snapshots are taken (`velero install --snapshot-location-config`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "VolumeSnapshotLocation",
    namespaced,
    derive = "PartialEq",
    status = "VolumeSnapshotLocationStatus",
    shortname = "vsl"
)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotLocationSpec {
    /// The volume-snapshotter plugin, e.g. `aws`.
    pub provider: String,
    /// Provider settings, e.g. `region`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// The Secret key holding this location's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<SecretKeySelector>,
}

/// Whether a snapshot location is usable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum VolumeSnapshotLocationPhase {
    /// Usable.
    Available,
    /// Not usable.
    Unavailable,
}

/// What Velero last found at a snapshot location.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotLocationStatus {
    /// Available or Unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VolumeSnapshotLocationPhase>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn minio_location_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "BackupStorageLocation",
            "metadata": { "name": "default", "namespace": "velero" },
            "spec": {
                "provider": "aws",
                "objectStorage": { "bucket": "mgmt", "prefix": "tkg" },
                "config": {
                    "region": "minio",
                    "s3ForcePathStyle": "true",
                    "s3Url": "http://minio:9000"
                },
                "credential": { "name": "cloud-credentials", "key": "cloud" },
                "default": true,
                "accessMode": "ReadWrite"
            },
            "status": {
                "phase": "Unavailable",
                "lastValidationTime": "2024-05-01T10:00:00Z",
                "message": "BackupStorageLocation \"default\" is unavailable: rpc error"
            }
        });
        let bsl: BackupStorageLocation = serde_json::from_value(upstream.clone()).expect("parses");
        assert!(bsl.spec.default);
        assert_eq!(bsl.spec.object_storage.prefix.as_deref(), Some("tkg"));
        assert_eq!(bsl.spec.access_mode, Some(BackupStorageLocationAccessMode::ReadWrite));
        assert_eq!(
            bsl.status.as_ref().and_then(|s| s.phase),
            Some(BackupStorageLocationPhase::Unavailable)
        );
        assert_eq!(serde_json::to_value(&bsl).expect("serializes"), upstream);
    }

    #[test]
    fn snapshot_location_round_trips() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "VolumeSnapshotLocation",
            "metadata": { "name": "default", "namespace": "velero" },
            "spec": { "provider": "aws", "config": { "region": "minio" } },
            "status": { "phase": "Available" }
        });
        let vsl: VolumeSnapshotLocation = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(serde_json::to_value(&vsl).expect("serializes"), upstream);
    }
}
