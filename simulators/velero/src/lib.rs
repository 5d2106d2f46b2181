//! drdrill's Velero simulator.
//!
//! So far the part with no I/O: where Velero puts each file in the bucket ([`layout`]) and what
//! those files contain ([`format`]), checked against Velero's source (v1.18). Controllers, the
//! object-store client and the install step build on these.

pub mod format;
pub mod layout;

pub use format::{BackupArchive, BackupItem, FormatError, read_backup_tarball, write_backup_tarball};
pub use layout::{BackupFile, BackupLayout, RestoreFile};
