//! The backup sync controller: makes the Backups in each location's bucket appear in the
//! cluster, and removes Completed Backups whose files are gone from the bucket.
//!
//! This is what makes `velero backup get` on a freshly built management cluster, pointed at the
//! old bucket, list the old backups (Runbook T, full restore step 5).
//!
//! Facts from Velero (`pkg/controller/backup_sync_controller.go`, v1.9–v1.18):
//!
//! * only `Available` locations are synced, each when its `backupSyncPeriod` (default one
//!   minute, the server's `--backup-sync-period`; `0s` disables it) has passed since
//!   `status.lastSyncedTime`;
//! * the backups of a location are the common prefixes under `backups/`; those with no Backup
//!   of that name in Velero's namespace are created from their `velero-backup.json`, status
//!   kept, in Velero's namespace, with `spec.storageLocation` and the
//!   `velero.io/storage-location` label set to the location; a missing or unreadable
//!   `velero-backup.json` is logged and skipped, and does not stop the others;
//! * Backups labelled with the location, `Completed`, and no longer in the bucket are deleted;
//! * the location's `status.lastSyncedTime` is written.

use std::collections::BTreeSet;
use std::time::Duration;

use drdrill_apis::velero::{Backup, BackupPhase, BackupStorageLocation, STORAGE_LOCATION_LABEL};
use drdrill_kube_sim::clock::k8s_time;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::backup::valid_label_value;
use super::bsl::{is_available, parse_go_duration, plugin_error};
use super::storage::object_store_for;
use super::{Context, Report, ServerContext, VeleroError};
use crate::format::decode_backup_metadata;

/// Velero server's default `--backup-sync-period`.
pub const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(60);

/// Syncs Backups from the buckets of Available locations (see the module documentation).
pub struct BackupSyncController {
    ctx: ServerContext,
    default_period: Duration,
}

impl BackupSyncController {
    /// A controller with the server default period of one minute.
    pub fn new(ctx: ServerContext) -> Self {
        BackupSyncController {
            ctx,
            default_period: DEFAULT_SYNC_PERIOD,
        }
    }

    /// Uses `period` for locations without `spec.backupSyncPeriod`.
    pub fn with_default_period(mut self, period: Duration) -> Self {
        self.default_period = period;
        self
    }

    /// One pass over every location whose sync is due.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let locations: Api<BackupStorageLocation> = Api::namespaced(self.ctx.client.clone(), ns);
        let list = locations
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list BackupStorageLocations in {ns}"))?;
        let mut report = Report::default();
        let now = self.ctx.clock.now();
        for location in list.items {
            if !is_available(&location) || !self.is_due(&location, now) {
                continue;
            }
            self.sync_location(&location, &mut report).await?;
            let name = location.name_any();
            locations
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"lastSyncedTime": k8s_time(now)}})),
                )
                .await
                .ctx(|| format!("update lastSyncedTime of BackupStorageLocation {ns}/{name}"))?;
        }
        Ok(report)
    }

    fn is_due(&self, location: &BackupStorageLocation, now: Timestamp) -> bool {
        let period = match location.spec.backup_sync_period.as_deref() {
            None => self.default_period,
            Some(text) => match parse_go_duration(text) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(location = %location.name_any(), error = %e, "unreadable spec.backupSyncPeriod; using the server default");
                    self.default_period
                }
            },
        };
        if period.is_zero() {
            return false;
        }
        let Some(last) = location.status.as_ref().and_then(|s| s.last_synced_time.as_ref()) else {
            return true;
        };
        let span = jiff::SignedDuration::try_from(period).unwrap_or(jiff::SignedDuration::MAX);
        last.0.checked_add(span).is_ok_and(|next| now >= next)
    }

    async fn sync_location(&self, location: &BackupStorageLocation, report: &mut Report) -> Result<(), VeleroError> {
        let ns = &self.ctx.namespace;
        let location_name = location.name_any();
        let store = match object_store_for(&self.ctx.client, ns, location).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(location = %location_name, error = %e, "Error getting backup store for this location");
                return Ok(());
            }
        };
        let layout = store.layout().clone();
        let in_store: BTreeSet<String> = match store.list_delimited(&layout.backups_dir(), "/").await {
            Ok((_, prefixes)) => prefixes.iter().filter_map(|p| layout.backup_name_from_prefix(p)).collect(),
            Err(e) => {
                tracing::error!(location = %location_name, error = %plugin_error(&e), "Error listing backups in backup store");
                return Ok(());
            }
        };
        let api: Api<Backup> = Api::namespaced(self.ctx.client.clone(), ns);
        let in_cluster: Vec<Backup> = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Backups in {ns}"))?
            .items;
        let cluster_names: BTreeSet<String> = in_cluster.iter().map(|b| b.name_any()).collect();

        for name in in_store.difference(&cluster_names) {
            let key = layout.backup_metadata_key(name);
            let bytes = match store.get(&key).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(location = %location_name, backup = %name, key = %key, error = %plugin_error(&e), "Error getting backup metadata from backup store; skipping it");
                    continue;
                }
            };
            let mut backup = match decode_backup_metadata(&bytes, &key) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(location = %location_name, backup = %name, error = %e, "Error decoding backup metadata; skipping it");
                    continue;
                }
            };
            if backup.name_any() != *name {
                tracing::warn!(location = %location_name, backup = %name, found = %backup.name_any(), "velero-backup.json names another backup; skipping it");
                continue;
            }
            let meta = &mut backup.metadata;
            meta.namespace = Some(ns.clone());
            meta.resource_version = None;
            meta.uid = None;
            meta.creation_timestamp = None;
            meta.managed_fields = None;
            meta.generation = None;
            meta.owner_references = None;
            meta.deletion_timestamp = None;
            meta.finalizers = None;
            meta.labels
                .get_or_insert_with(Default::default)
                .insert(STORAGE_LOCATION_LABEL.to_string(), valid_label_value(&location_name));
            backup.spec.storage_location = Some(location_name.clone());
            match api.create(&PostParams::default(), &backup).await {
                Ok(_) => {
                    tracing::info!(location = %location_name, backup = %name, "Syncing backup from backup storage into cluster");
                    report.created.push(format!("Backup/{name}"));
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => return Err(e).ctx(|| format!("create Backup {ns}/{name} from backup storage")),
            }
        }

        for backup in &in_cluster {
            let name = backup.name_any();
            let labelled = backup.labels().get(STORAGE_LOCATION_LABEL) == Some(&valid_label_value(&location_name));
            let completed = backup.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Completed);
            if !labelled || !completed || in_store.contains(&name) {
                continue;
            }
            tracing::info!(location = %location_name, backup = %name, "Deleting orphaned backup: it is no longer in backup storage");
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => report.deleted.push(format!("Backup/{name}")),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(e).ctx(|| format!("delete orphaned Backup {ns}/{name}")),
            }
        }
        Ok(())
    }
}
