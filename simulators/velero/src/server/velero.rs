//! The whole Velero server as `velero install` deploys it: every controller of this module,
//! run in one pass in the order Velero's manager would get to them.

use crate::server::backup::BackupController;
use crate::server::bsl::BackupStorageLocationController;
use crate::server::deployment::VeleroPodRunner;
use crate::server::download::DownloadRequestController;
use crate::server::gc::{DeleteBackupRequestController, GcController};
use crate::server::podvolume::PodVolumeRestoreController;
use crate::server::restore::RestoreController;
use crate::server::schedule::ScheduleController;
use crate::server::sync::BackupSyncController;
use crate::server::{Report, ServerContext, VeleroError};

/// Every controller of the Velero server.
pub struct VeleroServer {
    pods: VeleroPodRunner,
    locations: BackupStorageLocationController,
    sync: BackupSyncController,
    schedules: ScheduleController,
    backups: BackupController,
    restores: RestoreController,
    pod_volume_restores: PodVolumeRestoreController,
    gc: GcController,
    deletions: DeleteBackupRequestController,
    downloads: DownloadRequestController,
}

impl VeleroServer {
    /// The server for Velero installed in `ctx.namespace`; `seed` names its pod.
    pub fn new(ctx: ServerContext, seed: u64) -> Self {
        VeleroServer {
            pods: VeleroPodRunner::new(ctx.clone(), seed),
            locations: BackupStorageLocationController::new(ctx.clone()),
            sync: BackupSyncController::new(ctx.clone()),
            schedules: ScheduleController::new(ctx.clone()),
            backups: BackupController::new(ctx.clone()),
            restores: RestoreController::new(ctx.clone()),
            pod_volume_restores: PodVolumeRestoreController::new(ctx.clone()),
            gc: GcController::new(ctx.clone()),
            deletions: DeleteBackupRequestController::new(ctx.clone()),
            downloads: DownloadRequestController::new(ctx),
        }
    }

    /// One pass of every controller: the pod, location validation, backup sync, schedules,
    /// backups, restores, pod volume restores, expiry, deletions, download requests.
    pub async fn pass(&self) -> Result<Report, VeleroError> {
        let mut report = Report::default();
        for (_, r) in self.pass_each().await? {
            report.merge(r);
        }
        Ok(report)
    }

    /// [`VeleroServer::pass`], with each controller's report under Velero's name for it
    /// (`backup-storage-location`, `gc`, …), for a controller log.
    pub async fn pass_each(&self) -> Result<Vec<(&'static str, Report)>, VeleroError> {
        let wait = waiting_if_not_served;
        Ok(vec![
            ("velero-pod", wait(self.pods.reconcile_all().await)?),
            ("backup-storage-location", wait(self.locations.reconcile_all().await)?),
            ("backup-sync", wait(self.sync.reconcile_all().await)?),
            ("schedule", wait(self.schedules.reconcile_all().await)?),
            ("backup", wait(self.backups.reconcile_all().await)?),
            ("restore", wait(self.restores.reconcile_all().await)?),
            ("pod-volume-restore", wait(self.pod_volume_restores.reconcile_all().await)?),
            ("gc", wait(self.gc.reconcile_all().await)?),
            ("backup-deletion", wait(self.deletions.reconcile_all().await)?),
            ("download-request", wait(self.downloads.reconcile_all().await)?),
        ])
    }
}

/// A controller whose kinds the API server does not serve at all (its CRDs not installed, or
/// gone with a corrupted store) waits and retries, as controller-runtime's do, instead of
/// stopping the manager and every other controller: its report says what it waits for.
fn waiting_if_not_served(result: Result<Report, VeleroError>) -> Result<Report, VeleroError> {
    match result {
        Err(VeleroError::Kube { action, source }) if drdrill_kube_sim::client::is_resource_not_served(&source) => Ok(Report {
            waiting: vec![action],
            ..Report::default()
        }),
        other => other,
    }
}
