//! The Velero server: the controllers that `velero install` deploys, as kube-rs clients of a
//! management cluster's API server, writing to and reading from the object store of each
//! BackupStorageLocation.
//!
//! Like the Cluster API simulator, every controller makes one level-triggered pass over its
//! objects per `reconcile_all` call, timestamps come from an injectable [`Clock`], and a
//! scenario drives passes (or runs them on a period) so schedules, TTLs and validation
//! frequencies play out on virtual time.

use std::sync::Arc;

use drdrill_kube_sim::clock::Clock;
use kube::Client;

pub mod backup;
pub mod bsl;
pub mod deployment;
pub mod download;
pub mod gc;
pub mod mgmt_cluster_plugin;
pub mod podvolume;
pub mod restore;
pub mod schedule;
pub mod storage;
pub mod sync;
pub mod velero;

pub use download::{DOWNLOAD_URL_TTL, DownloadRequestController, download_key};
pub use podvolume::{PodVolumeRestoreController, VolumeFiles, VolumeFilesError};
pub use restore::RestoreController;
pub use schedule::ScheduleController;
pub use storage::{CREDENTIALS_KEY, CREDENTIALS_SECRET, StorageError, object_store_for, signing_store_for};
pub use velero::VeleroServer;

/// What one pass changed, as `Kind/name` entries in the order they happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Objects created (Backups from a schedule or a sync, restored items, requests).
    pub created: Vec<String>,
    /// Objects deleted (expired backups, processed requests) or object-store prefixes removed.
    pub deleted: Vec<String>,
    /// Objects whose status or spec was written.
    pub updated: Vec<String>,
    /// What the controller waits for: requests for kinds the API server does not serve.
    pub waiting: Vec<String>,
}

impl Report {
    /// Appends another report's entries to this one.
    pub fn merge(&mut self, other: Report) {
        self.created.extend(other.created);
        self.deleted.extend(other.deleted);
        self.updated.extend(other.updated);
        self.waiting.extend(other.waiting);
    }

    /// Whether the pass changed anything.
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.deleted.is_empty() && self.updated.is_empty())
    }
}

/// Why a pass failed. Failures *of a backup or restore* (bad credentials, a missing bucket, a
/// corrupt tarball) are not errors of the pass: they end up in that object's phase and
/// `status` / logs, as in Velero. These are failures to talk to the API server itself.
#[derive(Debug, thiserror::Error)]
pub enum VeleroError {
    /// A request to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the controller was doing, e.g. `update Backup velero/my-backup`.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be (de)serialized.
    #[error("{action}: {source}")]
    Serde {
        /// What the controller was doing.
        action: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Adds context to kube and serde errors.
pub(crate) trait Context<T> {
    /// Wraps the error with what the controller was doing.
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, VeleroError>;
}

impl<T> Context<T> for Result<T, kube::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, VeleroError> {
        self.map_err(|source| VeleroError::Kube { action: action(), source })
    }
}

impl<T> Context<T> for Result<T, serde_json::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, VeleroError> {
        self.map_err(|source| VeleroError::Serde { action: action(), source })
    }
}

/// What every controller of the server shares: the management cluster, the namespace Velero
/// was installed into, and the clock.
#[derive(Clone)]
pub struct ServerContext {
    /// A client of the management cluster.
    pub client: Client,
    /// Velero's namespace (`velero` unless installed with `--namespace`).
    pub namespace: String,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// The node agent's access to volume data (`velero install --use-node-agent`); `None`: no
    /// node agent, so pod volumes cannot be backed up or restored.
    pub volume_files: Option<Arc<dyn VolumeFiles>>,
}

impl ServerContext {
    /// A context for Velero installed into `namespace`.
    pub fn new(client: Client, namespace: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        ServerContext {
            client,
            namespace: namespace.into(),
            clock,
            volume_files: None,
        }
    }

    /// Runs the node agent with access to volume data through `files`.
    pub fn with_volume_files(mut self, files: Arc<dyn VolumeFiles>) -> Self {
        self.volume_files = Some(files);
        self
    }
}
