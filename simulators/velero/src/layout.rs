//! Where Velero keeps each file in a bucket: the keys of Velero's `ObjectStoreLayout`.
//!
//! Facts from Velero v1.18 (`pkg/persistence/object_store_layout.go` and `object_store.go`):
//!
//! * a BackupStorageLocation's bucket and prefix are trimmed of `/`; a non-empty prefix gets one
//!   trailing `/`, and everything lives under it in six top-level folders: `backups/`,
//!   `restores/`, `restic/`, `metadata/`, `plugins/`, `kopia/` (`kopia/` arrived in v1.10; a
//!   location holding any other top-level folder fails validation);
//! * a backup's files are `backups/<name>/velero-backup.json` and
//!   `backups/<name>/<name><suffix>` for the suffixes of [`BackupFile`];
//! * a restore's files are `restores/<name>/restore-<name><suffix>` (note the `restore-`), except
//!   its volume info, `restores/<name>/<name>-volumeinfo.json.gz`;
//! * backup sync lists the common prefixes under `backups/` with delimiter `/`, and each one,
//!   less `backups/` and the trailing `/`, is a backup's name;
//! * there is no `metadata/revision` any more: Velero 1.2 dropped it (its sync now diffs the
//!   full list of backups each time), though `metadata/` stays a valid top-level folder.

/// The top-level folders Velero accepts under a location's prefix, in no particular order.
pub const TOP_LEVEL_DIRS: [&str; 6] = ["backups", "restores", "restic", "metadata", "plugins", "kopia"];

/// The file of a backup that holds the Backup object itself.
pub const BACKUP_METADATA_FILE: &str = "velero-backup.json";

/// One file of a backup, stored at `backups/<name>/<file name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackupFile {
    /// `velero-backup.json`: the Backup object (JSON, not compressed).
    Metadata,
    /// `<name>.tar.gz`: the backed-up objects.
    Contents,
    /// `<name>-logs.gz`: the backup's log (what `velero backup logs` prints).
    Log,
    /// `<name>-podvolumebackups.json.gz`: the PodVolumeBackups made.
    PodVolumeBackups,
    /// `<name>-volumesnapshots.json.gz`: native volume snapshots.
    VolumeSnapshots,
    /// `<name>-itemoperations.json.gz`: asynchronous plugin operations (v1.11+).
    ItemOperations,
    /// `<name>-resource-list.json.gz`: the backed-up items by `apiVersion/Kind`.
    ResourceList,
    /// `<name>-results.gz`: the errors and warnings (v1.11+).
    Results,
    /// `<name>-volumeinfo.json.gz`: how each volume was backed up (v1.13+).
    VolumeInfo,
    /// `<name>-csi-volumesnapshots.json.gz`: CSI VolumeSnapshots (written up to v1.16; still
    /// read and downloadable).
    CsiVolumeSnapshots,
    /// `<name>-csi-volumesnapshotcontents.json.gz`: CSI VolumeSnapshotContents (written up to
    /// v1.16; still read and downloadable).
    CsiVolumeSnapshotContents,
    /// `<name>-csi-volumesnapshotclasses.json.gz`: CSI VolumeSnapshotClasses (written up to
    /// v1.17; still read).
    CsiVolumeSnapshotClasses,
}

impl BackupFile {
    /// Every backup file, in the order of [`BackupFile`]'s variants.
    pub const ALL: [BackupFile; 12] = [
        Self::Metadata,
        Self::Contents,
        Self::Log,
        Self::PodVolumeBackups,
        Self::VolumeSnapshots,
        Self::ItemOperations,
        Self::ResourceList,
        Self::Results,
        Self::VolumeInfo,
        Self::CsiVolumeSnapshots,
        Self::CsiVolumeSnapshotContents,
        Self::CsiVolumeSnapshotClasses,
    ];

    /// The files Velero v1.18 uploads when a backup finishes (`PutBackup`), in its upload
    /// order: the log first (best effort), then the metadata (a failure stops the backup), the
    /// contents, then the rest.
    pub const WRITTEN: [BackupFile; 9] = [
        Self::Log,
        Self::Metadata,
        Self::Contents,
        Self::PodVolumeBackups,
        Self::VolumeSnapshots,
        Self::ItemOperations,
        Self::ResourceList,
        Self::Results,
        Self::VolumeInfo,
    ];

    /// The part of the file name after the backup's name (the whole name for
    /// [`BackupFile::Metadata`]).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Metadata => BACKUP_METADATA_FILE,
            Self::Contents => ".tar.gz",
            Self::Log => "-logs.gz",
            Self::PodVolumeBackups => "-podvolumebackups.json.gz",
            Self::VolumeSnapshots => "-volumesnapshots.json.gz",
            Self::ItemOperations => "-itemoperations.json.gz",
            Self::ResourceList => "-resource-list.json.gz",
            Self::Results => "-results.gz",
            Self::VolumeInfo => "-volumeinfo.json.gz",
            Self::CsiVolumeSnapshots => "-csi-volumesnapshots.json.gz",
            Self::CsiVolumeSnapshotContents => "-csi-volumesnapshotcontents.json.gz",
            Self::CsiVolumeSnapshotClasses => "-csi-volumesnapshotclasses.json.gz",
        }
    }

    /// The file's name inside `backups/<backup>/`.
    pub fn file_name(self, backup: &str) -> String {
        match self {
            Self::Metadata => BACKUP_METADATA_FILE.to_string(),
            _ => format!("{backup}{}", self.suffix()),
        }
    }

    /// Which file `file_name` is for the backup `backup`, if any.
    pub fn from_file_name(backup: &str, file_name: &str) -> Option<BackupFile> {
        Self::ALL.into_iter().find(|f| f.file_name(backup) == file_name)
    }
}

/// One file of a restore, stored under `restores/<name>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestoreFile {
    /// `restore-<name>-logs.gz`: the restore's log.
    Log,
    /// `restore-<name>-results.gz`: errors and warnings per namespace.
    Results,
    /// `restore-<name>-resource-list.json.gz`: the restored items and what happened to each.
    ResourceList,
    /// `restore-<name>-itemoperations.json.gz`: asynchronous plugin operations.
    ItemOperations,
    /// `<name>-volumeinfo.json.gz` (no `restore-` prefix upstream): how each volume came back.
    VolumeInfo,
}

impl RestoreFile {
    /// Every restore file.
    pub const ALL: [RestoreFile; 5] = [Self::Log, Self::Results, Self::ResourceList, Self::ItemOperations, Self::VolumeInfo];

    /// The file's name inside `restores/<restore>/`.
    pub fn file_name(self, restore: &str) -> String {
        match self {
            Self::Log => format!("restore-{restore}-logs.gz"),
            Self::Results => format!("restore-{restore}-results.gz"),
            Self::ResourceList => format!("restore-{restore}-resource-list.json.gz"),
            Self::ItemOperations => format!("restore-{restore}-itemoperations.json.gz"),
            Self::VolumeInfo => format!("{restore}-volumeinfo.json.gz"),
        }
    }
}

/// The keys of one BackupStorageLocation: its prefix and everything Velero stores under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupLayout {
    /// The normalized prefix: empty, or ending in exactly one `/` (e.g. `tkg/`).
    prefix: String,
}

impl BackupLayout {
    /// The layout of a location whose `objectStorage.prefix` is `prefix` (`""` for none);
    /// leading and trailing `/` are trimmed, as Velero does.
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") };
        Self { prefix }
    }

    /// The prefix every key starts with: empty or ending in `/`.
    pub fn root_prefix(&self) -> &str {
        &self.prefix
    }

    /// A top-level folder (`backups`, `restores`, …) with the prefix and a trailing `/`.
    pub fn top_level_dir(&self, dir: &str) -> String {
        format!("{}{dir}/", self.prefix)
    }

    /// `<prefix>backups/`.
    pub fn backups_dir(&self) -> String {
        self.top_level_dir("backups")
    }

    /// `<prefix>restores/`.
    pub fn restores_dir(&self) -> String {
        self.top_level_dir("restores")
    }

    /// `<prefix>restic/`: restic repositories.
    pub fn restic_dir(&self) -> String {
        self.top_level_dir("restic")
    }

    /// `<prefix>kopia/`: kopia repositories.
    pub fn kopia_dir(&self) -> String {
        self.top_level_dir("kopia")
    }

    /// `<prefix>metadata/`.
    pub fn metadata_dir(&self) -> String {
        self.top_level_dir("metadata")
    }

    /// `<prefix>plugins/`.
    pub fn plugins_dir(&self) -> String {
        self.top_level_dir("plugins")
    }

    /// `<prefix>backups/<backup>/`: everything of one backup (what deleting it removes).
    pub fn backup_dir(&self, backup: &str) -> String {
        format!("{}{backup}/", self.backups_dir())
    }

    /// `<prefix>restores/<restore>/`: everything of one restore.
    pub fn restore_dir(&self, restore: &str) -> String {
        format!("{}{restore}/", self.restores_dir())
    }

    /// The key of one file of a backup.
    pub fn backup_key(&self, backup: &str, file: BackupFile) -> String {
        format!("{}{}", self.backup_dir(backup), file.file_name(backup))
    }

    /// The key of one file of a restore.
    pub fn restore_key(&self, restore: &str, file: RestoreFile) -> String {
        format!("{}{}", self.restore_dir(restore), file.file_name(restore))
    }

    /// `backups/<name>/velero-backup.json`: its presence is what makes a backup exist.
    pub fn backup_metadata_key(&self, backup: &str) -> String {
        self.backup_key(backup, BackupFile::Metadata)
    }

    /// `backups/<name>/<name>.tar.gz`.
    pub fn backup_contents_key(&self, backup: &str) -> String {
        self.backup_key(backup, BackupFile::Contents)
    }

    /// `backups/<name>/<name>-logs.gz`.
    pub fn backup_log_key(&self, backup: &str) -> String {
        self.backup_key(backup, BackupFile::Log)
    }

    /// `backups/<name>/<name>-resource-list.json.gz`.
    pub fn backup_resource_list_key(&self, backup: &str) -> String {
        self.backup_key(backup, BackupFile::ResourceList)
    }

    /// The keys Velero v1.18 writes for a finished backup, in upload order.
    pub fn written_backup_keys(&self, backup: &str) -> Vec<String> {
        BackupFile::WRITTEN.iter().map(|f| self.backup_key(backup, *f)).collect()
    }

    /// The backup name a common prefix under `backups/` stands for (as backup sync reads
    /// them): `<prefix>backups/<name>/` gives `name`; anything else gives `None`.
    pub fn backup_name_from_prefix(&self, common_prefix: &str) -> Option<String> {
        let name = common_prefix.strip_prefix(&self.backups_dir())?.strip_suffix('/')?;
        (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
    }

    /// The top-level folders, among the common prefixes listed under the root prefix with
    /// delimiter `/`, that Velero does not accept (what makes a location Unavailable).
    pub fn invalid_top_level_dirs(&self, common_prefixes: &[String]) -> Vec<String> {
        common_prefixes
            .iter()
            .map(|p| {
                let p = p.strip_prefix(&self.prefix).unwrap_or(p);
                p.strip_suffix('/').unwrap_or(p).to_string()
            })
            .filter(|dir| !TOP_LEVEL_DIRS.contains(&dir.as_str()))
            .collect()
    }
}

/// Velero's validation error for a location holding foreign top-level folders, word for word
/// (Go's `%v` of a string slice: `[a b]`, at most three names then `...`); `None` when there
/// are none.
pub fn invalid_top_level_dirs_message(invalid: &[String]) -> Option<String> {
    match invalid.len() {
        0 => None,
        n if n > 3 => Some(format!(
            "Backup store contains {n} invalid top-level directories: [{} ...]",
            invalid[..3].join(" ")
        )),
        _ => Some(format!(
            "Backup store contains invalid top-level directories: [{}]",
            invalid.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_normalized_like_velero() {
        assert_eq!(BackupLayout::new("").root_prefix(), "");
        assert_eq!(BackupLayout::new("/").root_prefix(), "");
        assert_eq!(BackupLayout::new("tkg").root_prefix(), "tkg/");
        assert_eq!(BackupLayout::new("/tkg/mgmt/").root_prefix(), "tkg/mgmt/");
        assert_eq!(BackupLayout::new("").backups_dir(), "backups/");
        assert_eq!(BackupLayout::new("tkg").restic_dir(), "tkg/restic/");
        assert_eq!(BackupLayout::new("tkg").kopia_dir(), "tkg/kopia/");
        assert_eq!(BackupLayout::new("tkg").metadata_dir(), "tkg/metadata/");
        assert_eq!(BackupLayout::new("tkg").plugins_dir(), "tkg/plugins/");
    }

    #[test]
    fn every_backup_key_is_exact() {
        let layout = BackupLayout::new("tkg");
        let key = |f| layout.backup_key("my-backup", f);
        assert_eq!(layout.backup_dir("my-backup"), "tkg/backups/my-backup/");
        assert_eq!(key(BackupFile::Metadata), "tkg/backups/my-backup/velero-backup.json");
        assert_eq!(key(BackupFile::Contents), "tkg/backups/my-backup/my-backup.tar.gz");
        assert_eq!(key(BackupFile::Log), "tkg/backups/my-backup/my-backup-logs.gz");
        assert_eq!(
            key(BackupFile::PodVolumeBackups),
            "tkg/backups/my-backup/my-backup-podvolumebackups.json.gz"
        );
        assert_eq!(
            key(BackupFile::VolumeSnapshots),
            "tkg/backups/my-backup/my-backup-volumesnapshots.json.gz"
        );
        assert_eq!(
            key(BackupFile::ItemOperations),
            "tkg/backups/my-backup/my-backup-itemoperations.json.gz"
        );
        assert_eq!(
            key(BackupFile::ResourceList),
            "tkg/backups/my-backup/my-backup-resource-list.json.gz"
        );
        assert_eq!(key(BackupFile::Results), "tkg/backups/my-backup/my-backup-results.gz");
        assert_eq!(key(BackupFile::VolumeInfo), "tkg/backups/my-backup/my-backup-volumeinfo.json.gz");
        assert_eq!(
            key(BackupFile::CsiVolumeSnapshots),
            "tkg/backups/my-backup/my-backup-csi-volumesnapshots.json.gz"
        );
        assert_eq!(
            key(BackupFile::CsiVolumeSnapshotContents),
            "tkg/backups/my-backup/my-backup-csi-volumesnapshotcontents.json.gz"
        );
        assert_eq!(
            key(BackupFile::CsiVolumeSnapshotClasses),
            "tkg/backups/my-backup/my-backup-csi-volumesnapshotclasses.json.gz"
        );
        assert_eq!(layout.backup_metadata_key("b"), "tkg/backups/b/velero-backup.json");
        assert_eq!(layout.backup_contents_key("b"), "tkg/backups/b/b.tar.gz");
        assert_eq!(layout.backup_log_key("b"), "tkg/backups/b/b-logs.gz");
        assert_eq!(layout.backup_resource_list_key("b"), "tkg/backups/b/b-resource-list.json.gz");
    }

    #[test]
    fn written_keys_follow_velero_upload_order() {
        let keys = BackupLayout::new("").written_backup_keys("daily-bak-20240501100000");
        assert_eq!(
            keys,
            [
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-logs.gz",
                "backups/daily-bak-20240501100000/velero-backup.json",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000.tar.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-podvolumebackups.json.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-volumesnapshots.json.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-itemoperations.json.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-resource-list.json.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-results.gz",
                "backups/daily-bak-20240501100000/daily-bak-20240501100000-volumeinfo.json.gz",
            ]
        );
    }

    #[test]
    fn every_restore_key_is_exact() {
        let layout = BackupLayout::new("");
        let key = |f| layout.restore_key("my-restore", f);
        assert_eq!(layout.restore_dir("my-restore"), "restores/my-restore/");
        assert_eq!(key(RestoreFile::Log), "restores/my-restore/restore-my-restore-logs.gz");
        assert_eq!(key(RestoreFile::Results), "restores/my-restore/restore-my-restore-results.gz");
        assert_eq!(
            key(RestoreFile::ResourceList),
            "restores/my-restore/restore-my-restore-resource-list.json.gz"
        );
        assert_eq!(
            key(RestoreFile::ItemOperations),
            "restores/my-restore/restore-my-restore-itemoperations.json.gz"
        );
        assert_eq!(key(RestoreFile::VolumeInfo), "restores/my-restore/my-restore-volumeinfo.json.gz");
    }

    #[test]
    fn file_names_parse_back() {
        for file in BackupFile::ALL {
            let name = file.file_name("b-1");
            assert_eq!(BackupFile::from_file_name("b-1", &name), Some(file), "{name}");
        }
        assert_eq!(BackupFile::from_file_name("b-1", "b-2.tar.gz"), None);
    }

    #[test]
    fn backup_names_come_from_common_prefixes() {
        let layout = BackupLayout::new("tkg");
        assert_eq!(
            layout.backup_name_from_prefix("tkg/backups/my-backup/").as_deref(),
            Some("my-backup")
        );
        assert_eq!(layout.backup_name_from_prefix("backups/my-backup/"), None);
        assert_eq!(layout.backup_name_from_prefix("tkg/backups/"), None);
    }

    #[test]
    fn foreign_top_level_dirs_are_reported_like_velero() {
        let layout = BackupLayout::new("tkg");
        let listed: Vec<String> = ["tkg/backups/", "tkg/restores/", "tkg/kopia/", "tkg/photos/", "tkg/old/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let invalid = layout.invalid_top_level_dirs(&listed);
        assert_eq!(invalid, ["photos", "old"]);
        assert_eq!(
            invalid_top_level_dirs_message(&invalid).as_deref(),
            Some("Backup store contains invalid top-level directories: [photos old]")
        );
        let many: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            invalid_top_level_dirs_message(&many).as_deref(),
            Some("Backup store contains 4 invalid top-level directories: [a b c ...]")
        );
        assert_eq!(invalid_top_level_dirs_message(&[]), None);
    }
}
