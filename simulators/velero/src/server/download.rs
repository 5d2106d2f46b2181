//! DownloadRequests: the server's side of `velero backup logs`, `velero backup describe
//! --details`, `velero restore describe` / `logs` and `velero backup download`.
//!
//! Facts from Velero (`pkg/controller/download_request_controller.go`,
//! `pkg/persistence/object_store.go`, v1.9–v1.18):
//!
//! * a request whose `status.expiration` has passed is deleted, whatever its phase;
//!   a Processed one is otherwise left alone;
//! * a new one (phase empty or `New`) gets `expiration` = now + 10 minutes; for a restore's file
//!   the Restore is read for its backup's name; the Backup, then its location are read and the
//!   location's object store signs a GET URL of the target's key, valid 10 minutes; the request
//!   becomes `Processed` with `downloadURL` and a fresh expiration;
//! * when the Restore, Backup or location is missing or the store cannot be built, the request
//!   keeps no URL (the CLI times out) and is deleted once it expires.
//!
//! Expirations are on the server's clock (virtual in a drill); the URL's own validity is the
//! object store's, on wall-clock time, as a real store checks it.

use std::time::Duration;

use drdrill_apis::velero::{
    Backup, BackupStorageLocation, DownloadRequest, DownloadRequestPhase, DownloadTarget, DownloadTargetKind, Restore,
};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use super::storage::signing_store_for;
use super::{Context, Report, ServerContext, VeleroError};
use crate::layout::{BackupFile, BackupLayout, RestoreFile};

/// How long a download URL (and a DownloadRequest) lives: Velero's `DownloadURLTTL`.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(600);

/// The key of a DownloadRequest's target under `layout`.
pub fn download_key(layout: &BackupLayout, target: &DownloadTarget) -> String {
    let name = target.name.as_str();
    let backup = |file| layout.backup_key(name, file);
    let restore = |file| layout.restore_key(name, file);
    match target.kind {
        DownloadTargetKind::BackupLog => backup(BackupFile::Log),
        DownloadTargetKind::BackupContents => backup(BackupFile::Contents),
        DownloadTargetKind::BackupVolumeSnapshots => backup(BackupFile::VolumeSnapshots),
        DownloadTargetKind::BackupItemOperations => backup(BackupFile::ItemOperations),
        DownloadTargetKind::BackupResourceList => backup(BackupFile::ResourceList),
        DownloadTargetKind::BackupResults => backup(BackupFile::Results),
        DownloadTargetKind::CsiBackupVolumeSnapshots => backup(BackupFile::CsiVolumeSnapshots),
        DownloadTargetKind::CsiBackupVolumeSnapshotContents => backup(BackupFile::CsiVolumeSnapshotContents),
        DownloadTargetKind::BackupVolumeInfos => backup(BackupFile::VolumeInfo),
        DownloadTargetKind::RestoreLog => restore(RestoreFile::Log),
        DownloadTargetKind::RestoreResults => restore(RestoreFile::Results),
        DownloadTargetKind::RestoreResourceList => restore(RestoreFile::ResourceList),
        DownloadTargetKind::RestoreItemOperations => restore(RestoreFile::ItemOperations),
        DownloadTargetKind::RestoreVolumeInfo => restore(RestoreFile::VolumeInfo),
    }
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(t)
}

/// Answers DownloadRequests with pre-signed URLs (see the module documentation).
pub struct DownloadRequestController {
    ctx: ServerContext,
}

impl DownloadRequestController {
    /// A controller for the requests in Velero's namespace.
    pub fn new(ctx: ServerContext) -> Self {
        DownloadRequestController { ctx }
    }

    /// One pass over every request.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let requests: Api<DownloadRequest> = Api::namespaced(self.ctx.client.clone(), ns);
        let now = self.ctx.clock.now();
        let mut report = Report::default();
        let list = requests
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list DownloadRequests in {ns}"))?
            .items;
        for request in list {
            let name = request.name_any();
            let status = request.status.clone().unwrap_or_default();
            if status.expired_at(now) {
                match requests.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => report.deleted.push(format!("DownloadRequest/{name}")),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e).ctx(|| format!("delete expired DownloadRequest {ns}/{name}")),
                }
                continue;
            }
            if status.phase == Some(DownloadRequestPhase::Processed) {
                continue;
            }
            let expiration = Time(plus(now, DOWNLOAD_URL_TTL));
            let patch = match self.sign(&request.spec.target).await? {
                Some(url) => json!({"status": {"phase": "Processed", "downloadURL": url, "expiration": expiration}}),
                // Unanswerable for now: only the expiration, once, so it is deleted in time.
                None if status.expiration.is_some() => continue,
                None => json!({"status": {"expiration": expiration}}),
            };
            match requests.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => report.updated.push(format!("DownloadRequest/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e).ctx(|| format!("update DownloadRequest {ns}/{name}")),
            }
        }
        Ok(report)
    }

    /// The URL of the target's file, or `None` when its Restore, Backup or location is missing
    /// or the store cannot sign (Velero logs these and leaves the request unanswered).
    async fn sign(&self, target: &DownloadTarget) -> Result<Option<String>, VeleroError> {
        let ns = &self.ctx.namespace;
        let client = &self.ctx.client;
        let backup_name = if target.kind.is_restore_file() {
            let restores: Api<Restore> = Api::namespaced(client.clone(), ns);
            let Some(restore) = restores
                .get_opt(&target.name)
                .await
                .ctx(|| format!("get Restore {ns}/{}", target.name))?
            else {
                tracing::warn!(restore = %target.name, "DownloadRequest: restore not found");
                return Ok(None);
            };
            restore.spec.backup_name.unwrap_or_default()
        } else {
            target.name.clone()
        };
        let backups: Api<Backup> = Api::namespaced(client.clone(), ns);
        let Some(backup) = backups
            .get_opt(&backup_name)
            .await
            .ctx(|| format!("get Backup {ns}/{backup_name}"))?
        else {
            tracing::warn!(backup = %backup_name, "DownloadRequest: backup not found");
            return Ok(None);
        };
        let Some(location_name) = backup.spec.storage_location.clone().filter(|l| !l.is_empty()) else {
            tracing::warn!(backup = %backup_name, "DownloadRequest: backup has no storage location yet");
            return Ok(None);
        };
        let locations: Api<BackupStorageLocation> = Api::namespaced(client.clone(), ns);
        let Some(location) = locations
            .get_opt(&location_name)
            .await
            .ctx(|| format!("get BackupStorageLocation {ns}/{location_name}"))?
        else {
            tracing::warn!(location = %location_name, "DownloadRequest: backup storage location not found");
            return Ok(None);
        };
        let store = match signing_store_for(client, ns, &location).await {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!(error = %e, "DownloadRequest: no backup store");
                return Ok(None);
            }
        };
        let key = download_key(store.layout(), target);
        match store.presigned_get_url(&key, DOWNLOAD_URL_TTL).await {
            Ok(url) => Ok(Some(url)),
            Err(e) => {
                tracing::warn!(error = %e, key, "DownloadRequest: signing failed");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_kind_has_velero_key() {
        let layout = BackupLayout::new("tkg");
        let key = |kind, name: &str| {
            download_key(
                &layout,
                &DownloadTarget {
                    kind,
                    name: name.to_string(),
                },
            )
        };
        assert_eq!(key(DownloadTargetKind::BackupLog, "b"), "tkg/backups/b/b-logs.gz");
        assert_eq!(key(DownloadTargetKind::BackupContents, "b"), "tkg/backups/b/b.tar.gz");
        assert_eq!(
            key(DownloadTargetKind::BackupResourceList, "b"),
            "tkg/backups/b/b-resource-list.json.gz"
        );
        assert_eq!(
            key(DownloadTargetKind::BackupVolumeSnapshots, "b"),
            "tkg/backups/b/b-volumesnapshots.json.gz"
        );
        assert_eq!(
            key(DownloadTargetKind::CsiBackupVolumeSnapshots, "b"),
            "tkg/backups/b/b-csi-volumesnapshots.json.gz"
        );
        assert_eq!(key(DownloadTargetKind::RestoreLog, "r"), "tkg/restores/r/restore-r-logs.gz");
        assert_eq!(key(DownloadTargetKind::RestoreResults, "r"), "tkg/restores/r/restore-r-results.gz");
        assert_eq!(
            key(DownloadTargetKind::RestoreVolumeInfo, "r"),
            "tkg/restores/r/r-volumeinfo.json.gz"
        );
    }
}
