//! drdrill's Velero simulator.
//!
//! Where Velero puts each file in the bucket ([`layout`]) and what those files contain
//! ([`format`]), checked against Velero's source (v1.18); and the object storage they go to
//! ([`s3`]): an embedded S3 server, the runbook's credentials file, and one client for every
//! backend. Controllers and the install step build on these.

pub mod format;
pub mod layout;
pub mod s3;
pub mod server;

pub use format::{BackupArchive, BackupItem, FormatError, read_backup_tarball, write_backup_tarball};
pub use layout::{BackupFile, BackupLayout, RestoreFile};
