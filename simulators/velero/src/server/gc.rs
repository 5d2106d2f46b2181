//! Garbage collection of expired backups, and the processing of DeleteBackupRequests (which
//! `velero backup delete` creates too).
//!
//! Facts from Velero (`pkg/controller/gc_controller.go`, `backup_deletion_controller.go`,
//! v1.9–v1.18):
//!
//! * the GC controller looks at each Backup once per frequency (default one hour): an expired
//!   one (`status.expiration` before now) gets a DeleteBackupRequest named `<backup>-<random>`,
//!   labelled `velero.io/backup-name` and `velero.io/backup-uid`, unless one of its requests is
//!   still New or InProgress; a backup whose location is missing or ReadOnly is not collected
//!   and gets the label `velero.io/gc-failure` (`BSLNotFound`, `BSLReadOnly`);
//! * a New request is checked (backup exists and is not InProgress, its location exists and
//!   is not ReadOnly), goes InProgress (the Backup goes `Deleting`), then the backup's prefix
//!   is removed from the bucket, the Restores of the backup (and their `restores/<name>/`
//!   files) are deleted, and — only when all that worked — the Backup itself; the request ends
//!   `Processed` with `errors` listing what failed. Processed requests are removed a day later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use drdrill_apis::velero::{
    BACKUP_NAME_LABEL, BACKUP_UID_LABEL, Backup, BackupPhase, BackupStorageLocation, BackupStorageLocationAccessMode, DeleteBackupRequest,
    DeleteBackupRequestPhase, DeleteBackupRequestSpec, Restore,
};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use super::backup::valid_label_value;
use super::bsl::plugin_error;
use super::storage::object_store_for;
use super::{Context, Report, ServerContext, VeleroError};

/// Velero server's default `--garbage-collection-frequency`.
pub const DEFAULT_GC_FREQUENCY: Duration = Duration::from_secs(3600);

/// How long a Processed DeleteBackupRequest is kept.
pub const PROCESSED_REQUEST_TTL: Duration = Duration::from_secs(24 * 3600);

/// The label the GC controller puts on a backup it cannot collect.
pub const GC_FAILURE_LABEL: &str = "velero.io/gc-failure";

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(t)
}

/// Requests the deletion of expired backups (see the module documentation).
pub struct GcController {
    ctx: ServerContext,
    frequency: Duration,
    last_checked: Mutex<HashMap<String, Timestamp>>,
}

impl GcController {
    /// A controller checking each backup once per hour of the clock.
    pub fn new(ctx: ServerContext) -> Self {
        GcController {
            ctx,
            frequency: DEFAULT_GC_FREQUENCY,
            last_checked: Mutex::default(),
        }
    }

    /// Checks each backup once per `frequency` instead.
    pub fn with_frequency(mut self, frequency: Duration) -> Self {
        self.frequency = frequency;
        self
    }

    fn due(&self, uid: &str, now: Timestamp) -> bool {
        let mut seen = self.last_checked.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(uid) {
            Some(last) if now < after(*last, self.frequency) => false,
            _ => {
                seen.insert(uid.to_string(), now);
                true
            }
        }
    }

    /// One pass over the backups in Velero's namespace.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let client = &self.ctx.client;
        let backups: Api<Backup> = Api::namespaced(client.clone(), ns);
        let locations: Api<BackupStorageLocation> = Api::namespaced(client.clone(), ns);
        let requests: Api<DeleteBackupRequest> = Api::namespaced(client.clone(), ns);
        let now = self.ctx.clock.now();
        let mut report = Report::default();
        for backup in backups
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Backups in {ns}"))?
            .items
        {
            let name = backup.name_any();
            let uid = backup.uid().unwrap_or_default();
            let Some(expiration) = backup.status.as_ref().and_then(|s| s.expiration.as_ref()) else {
                continue;
            };
            if now <= expiration.0 || !self.due(&uid, now) {
                continue;
            }
            let location_name = backup.spec.storage_location.clone().unwrap_or_default();
            let location = locations
                .get_opt(&location_name)
                .await
                .ctx(|| format!("get BackupStorageLocation {ns}/{location_name}"))?;
            let failure = match &location {
                None => Some("BSLNotFound"),
                Some(l) if l.spec.access_mode == Some(BackupStorageLocationAccessMode::ReadOnly) => Some("BSLReadOnly"),
                Some(_) => None,
            };
            let current = backup.labels().get(GC_FAILURE_LABEL).map(String::as_str);
            if current != failure {
                backups
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"labels": {GC_FAILURE_LABEL: failure}}})),
                    )
                    .await
                    .ctx(|| format!("label Backup {ns}/{name} {GC_FAILURE_LABEL}"))?;
                report.updated.push(format!("Backup/{name}"));
            }
            if let Some(reason) = failure {
                tracing::warn!(backup = %name, location = %location_name, reason, "Backup cannot be garbage-collected");
                continue;
            }
            let selector = format!("{BACKUP_NAME_LABEL}={},{BACKUP_UID_LABEL}={uid}", valid_label_value(&name));
            let existing = requests
                .list(&ListParams::default().labels(&selector))
                .await
                .ctx(|| format!("list DeleteBackupRequests of Backup {ns}/{name}"))?;
            let pending = existing.items.iter().any(|r| {
                matches!(
                    r.status.as_ref().and_then(|s| s.phase),
                    None | Some(DeleteBackupRequestPhase::New) | Some(DeleteBackupRequestPhase::InProgress)
                )
            });
            if pending {
                tracing::info!(backup = %name, "Backup already has a pending deletion request");
                continue;
            }
            let request = DeleteBackupRequest {
                metadata: ObjectMeta {
                    generate_name: Some(format!("{name}-")),
                    namespace: Some(ns.clone()),
                    labels: Some(
                        [
                            (BACKUP_NAME_LABEL.to_string(), valid_label_value(&name)),
                            (BACKUP_UID_LABEL.to_string(), uid.clone()),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                },
                spec: DeleteBackupRequestSpec { backup_name: name.clone() },
                status: None,
            };
            let created = requests
                .create(&PostParams::default(), &request)
                .await
                .ctx(|| format!("create DeleteBackupRequest for expired Backup {ns}/{name}"))?;
            tracing::info!(backup = %name, request = %created.name_any(), "Backup has expired; created a deletion request");
            report.created.push(format!("DeleteBackupRequest/{}", created.name_any()));
        }
        Ok(report)
    }
}

/// Carries out DeleteBackupRequests (see the module documentation).
pub struct DeleteBackupRequestController {
    ctx: ServerContext,
}

impl DeleteBackupRequestController {
    /// A controller for the requests in Velero's namespace.
    pub fn new(ctx: ServerContext) -> Self {
        DeleteBackupRequestController { ctx }
    }

    /// One pass: processes every New request, removes Processed ones older than a day.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let requests: Api<DeleteBackupRequest> = Api::namespaced(self.ctx.client.clone(), ns);
        let now = self.ctx.clock.now();
        let mut report = Report::default();
        let mut list = requests
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list DeleteBackupRequests in {ns}"))?
            .items;
        list.sort_by_key(|r| (r.metadata.creation_timestamp.as_ref().map(|t| t.0), r.name_any()));
        for request in list {
            let name = request.name_any();
            match request.status.as_ref().and_then(|s| s.phase) {
                Some(DeleteBackupRequestPhase::Processed) | Some(DeleteBackupRequestPhase::InProgress) => {
                    let created = request.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
                    if now >= after(created, PROCESSED_REQUEST_TTL) {
                        match requests.delete(&name, &DeleteParams::default()).await {
                            Ok(_) => report.deleted.push(format!("DeleteBackupRequest/{name}")),
                            Err(kube::Error::Api(s)) if s.code == 404 => {}
                            Err(e) => return Err(e).ctx(|| format!("delete expired DeleteBackupRequest {ns}/{name}")),
                        }
                    }
                }
                None | Some(DeleteBackupRequestPhase::New) => {
                    let errors = self.process(&requests, &request, &mut report).await?;
                    self.finish(&requests, &name, errors).await?;
                    report.updated.push(format!("DeleteBackupRequest/{name}"));
                }
            }
        }
        Ok(report)
    }

    async fn finish(&self, requests: &Api<DeleteBackupRequest>, name: &str, errors: Vec<String>) -> Result<(), VeleroError> {
        let status = json!({"status": {"phase": "Processed", "errors": errors}});
        requests
            .patch(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .ctx(|| format!("mark DeleteBackupRequest {}/{name} Processed", self.ctx.namespace))?;
        Ok(())
    }

    /// Deletes what the request names; returns the errors to record.
    async fn process(
        &self,
        requests: &Api<DeleteBackupRequest>,
        request: &DeleteBackupRequest,
        report: &mut Report,
    ) -> Result<Vec<String>, VeleroError> {
        let ns = &self.ctx.namespace;
        let client = &self.ctx.client;
        let name = request.name_any();
        let backup_name = request.spec.backup_name.clone();
        if backup_name.is_empty() {
            return Ok(vec!["spec.backupName is required".to_string()]);
        }
        let backups: Api<Backup> = Api::namespaced(client.clone(), ns);
        let Some(backup) = backups
            .get_opt(&backup_name)
            .await
            .ctx(|| format!("get Backup {ns}/{backup_name}"))?
        else {
            return Ok(vec!["backup not found".to_string()]);
        };
        if backup.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::InProgress) {
            return Ok(vec!["backup is still in progress".to_string()]);
        }
        let location_name = backup.spec.storage_location.clone().unwrap_or_default();
        let locations: Api<BackupStorageLocation> = Api::namespaced(client.clone(), ns);
        let Some(location) = locations
            .get_opt(&location_name)
            .await
            .ctx(|| format!("get BackupStorageLocation {ns}/{location_name}"))?
        else {
            return Ok(vec![format!("backup storage location {location_name} not found")]);
        };
        if location.spec.access_mode == Some(BackupStorageLocationAccessMode::ReadOnly) {
            return Ok(vec![format!(
                "cannot delete backup because backup storage location {location_name} is currently in read-only mode"
            )]);
        }

        let uid = backup.uid().unwrap_or_default();
        let labels = json!({"metadata": {"labels": {BACKUP_NAME_LABEL: valid_label_value(&backup_name), BACKUP_UID_LABEL: uid}},
            "status": {"phase": "InProgress"}});
        requests
            .patch(&name, &PatchParams::default(), &Patch::Merge(labels))
            .await
            .ctx(|| format!("mark DeleteBackupRequest {ns}/{name} InProgress"))?;
        backups
            .patch(
                &backup_name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Deleting"}})),
            )
            .await
            .ctx(|| format!("mark Backup {ns}/{backup_name} Deleting"))?;

        let mut errors = Vec::new();
        let store = match object_store_for(client, ns, &location).await {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(format!("error getting the backup store: {e}"));
                None
            }
        };
        if let Some(store) = &store {
            let prefix = store.layout().backup_dir(&backup_name);
            match store.delete_prefix(&prefix).await {
                Ok(n) => {
                    tracing::info!(backup = %backup_name, prefix = %prefix, objects = n, "Removed backup from backup storage");
                    report.deleted.push(format!("{}/{prefix}", store.bucket()));
                }
                Err(e) => errors.push(format!(
                    "error deleting backup {backup_name} from backup storage: {}",
                    plugin_error(&e)
                )),
            }
        }

        let restores: Api<Restore> = Api::namespaced(client.clone(), ns);
        let all = restores
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Restores in {ns}"))?;
        for restore in all
            .items
            .iter()
            .filter(|r| r.spec.backup_name.as_deref() == Some(backup_name.as_str()))
        {
            let restore_name = restore.name_any();
            if let Some(store) = &store {
                let prefix = store.layout().restore_dir(&restore_name);
                match store.delete_prefix(&prefix).await {
                    Ok(n) if n > 0 => report.deleted.push(format!("{}/{prefix}", store.bucket())),
                    Ok(_) => {}
                    Err(e) => {
                        errors.push(format!("error deleting restore {restore_name}'s files: {}", plugin_error(&e)));
                        continue;
                    }
                }
            }
            match restores.delete(&restore_name, &DeleteParams::default()).await {
                Ok(_) => report.deleted.push(format!("Restore/{restore_name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => errors.push(format!("error deleting restore {ns}/{restore_name}: {e}")),
            }
        }

        if errors.is_empty() {
            match backups.delete(&backup_name, &DeleteParams::default()).await {
                Ok(_) => report.deleted.push(format!("Backup/{backup_name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => errors.push(format!("error deleting backup {ns}/{backup_name}: {e}")),
            }
        }
        Ok(errors)
    }
}
