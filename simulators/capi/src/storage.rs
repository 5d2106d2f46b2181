//! The Datastore: storage outside any cluster (a vSphere datastore, an AKS-HCI cluster shared
//! volume) holding the volumes CSI drivers provision. Like the Site it outlives every cluster:
//! destroying a cluster leaves its volumes, and a restored cluster gets new ones.
//!
//! A volume is a handle (the CSI `volumeHandle`, `pvc-<uuid>` for the volumes the provisioner
//! creates), a capacity, the driver that made it, and its files (path → bytes) — the data a pod
//! would write and a file-system backup copies file by file. Files are regular files; paths are
//! relative to the volume's root, `/`-separated, without `.` or `..` segments.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a Datastore operation failed; each names the volume (and path) concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// No volume has this handle.
    #[error("volume {handle:?} not found in the datastore")]
    VolumeNotFound {
        /// The handle asked for.
        handle: String,
    },
    /// A volume with this handle exists already.
    #[error("volume {handle:?} already exists in the datastore")]
    VolumeExists {
        /// The handle asked for.
        handle: String,
    },
    /// The volume has no file at this path.
    #[error("volume {handle:?} has no file {path:?}")]
    FileNotFound {
        /// The volume.
        handle: String,
        /// The path asked for.
        path: String,
    },
    /// The path is not a clean relative path.
    #[error("volume {handle:?}: invalid file path {path:?}: {reason}")]
    InvalidPath {
        /// The volume.
        handle: String,
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Writing would take the volume past its capacity.
    #[error("volume {handle:?}: writing {path:?} ({size} bytes) needs {needed} bytes, over the capacity of {capacity} bytes")]
    NoSpace {
        /// The volume.
        handle: String,
        /// The file being written.
        path: String,
        /// The file's size.
        size: u64,
        /// The bytes the volume would hold after the write.
        needed: u64,
        /// The volume's capacity.
        capacity: u64,
    },
}

/// One volume of the datastore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The CSI volume handle.
    pub handle: String,
    /// Capacity in bytes.
    pub capacity: u64,
    /// The CSI driver that provisioned it, e.g. `csi.vsphere.vmware.com`.
    pub driver: String,
    /// The files, by path.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Volume {
    /// Bytes used by the files.
    pub fn used(&self) -> u64 {
        self.files.values().map(|f| f.len() as u64).sum()
    }
}

/// A clone-able handle on the datastore; every clone sees the same volumes.
#[derive(Debug, Clone, Default)]
pub struct Datastore {
    volumes: Arc<Mutex<BTreeMap<String, Volume>>>,
    writes: Arc<std::sync::atomic::AtomicU64>,
}

impl Datastore {
    /// An empty datastore.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Volume>> {
        self.volumes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lock, for a change: the generation moves.
    fn lock_mut(&self) -> MutexGuard<'_, BTreeMap<String, Volume>> {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock()
    }

    /// Counts changes (volumes created or deleted, files written or removed, attempts
    /// included): equal generations mean nothing changed in between.
    pub fn generation(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Creates an empty volume.
    pub fn create_volume(&self, handle: &str, capacity: u64, driver: &str) -> Result<(), StorageError> {
        let mut volumes = self.lock_mut();
        if volumes.contains_key(handle) {
            return Err(StorageError::VolumeExists { handle: handle.into() });
        }
        volumes.insert(
            handle.to_string(),
            Volume {
                handle: handle.to_string(),
                capacity,
                driver: driver.to_string(),
                files: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Deletes a volume and its files.
    pub fn delete_volume(&self, handle: &str) -> Result<Volume, StorageError> {
        self.lock_mut()
            .remove(handle)
            .ok_or_else(|| StorageError::VolumeNotFound { handle: handle.into() })
    }

    /// A copy of one volume.
    pub fn volume(&self, handle: &str) -> Result<Volume, StorageError> {
        self.lock()
            .get(handle)
            .cloned()
            .ok_or_else(|| StorageError::VolumeNotFound { handle: handle.into() })
    }

    /// Whether a volume with this handle exists.
    pub fn contains(&self, handle: &str) -> bool {
        self.lock().contains_key(handle)
    }

    /// Every volume's handle, sorted.
    pub fn list_volumes(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Writes (creates or replaces) a file; fails when the volume would exceed its capacity.
    pub fn write_file(&self, handle: &str, path: &str, data: &[u8]) -> Result<(), StorageError> {
        check_path(handle, path)?;
        let mut volumes = self.lock_mut();
        let volume = volumes
            .get_mut(handle)
            .ok_or_else(|| StorageError::VolumeNotFound { handle: handle.into() })?;
        let replaced = volume.files.get(path).map_or(0, |f| f.len() as u64);
        let needed = volume.used() - replaced + data.len() as u64;
        if needed > volume.capacity {
            return Err(StorageError::NoSpace {
                handle: handle.into(),
                path: path.into(),
                size: data.len() as u64,
                needed,
                capacity: volume.capacity,
            });
        }
        volume.files.insert(path.to_string(), data.to_vec());
        Ok(())
    }

    /// Reads one file.
    pub fn read_file(&self, handle: &str, path: &str) -> Result<Vec<u8>, StorageError> {
        let volumes = self.lock();
        let volume = volumes
            .get(handle)
            .ok_or_else(|| StorageError::VolumeNotFound { handle: handle.into() })?;
        volume.files.get(path).cloned().ok_or_else(|| StorageError::FileNotFound {
            handle: handle.into(),
            path: path.into(),
        })
    }

    /// Removes one file.
    pub fn remove_file(&self, handle: &str, path: &str) -> Result<(), StorageError> {
        let mut volumes = self.lock_mut();
        let volume = volumes
            .get_mut(handle)
            .ok_or_else(|| StorageError::VolumeNotFound { handle: handle.into() })?;
        volume.files.remove(path).map(|_| ()).ok_or_else(|| StorageError::FileNotFound {
            handle: handle.into(),
            path: path.into(),
        })
    }

    /// Every file of a volume, by path.
    pub fn files(&self, handle: &str) -> Result<BTreeMap<String, Vec<u8>>, StorageError> {
        Ok(self.volume(handle)?.files)
    }
}

/// A path is relative, `/`-separated, with no empty, `.` or `..` segment.
fn check_path(handle: &str, path: &str) -> Result<(), StorageError> {
    let invalid = |reason| StorageError::InvalidPath {
        handle: handle.into(),
        path: path.into(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("the path is empty"));
    }
    if path.starts_with('/') {
        return Err(invalid("the path must be relative to the volume's root"));
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(invalid("the path has an empty, \".\" or \"..\" segment"));
    }
    if path.contains('\0') {
        return Err(invalid("the path contains a NUL byte"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_in_volumes_shared_by_every_clone() {
        let ds = Datastore::new();
        ds.create_volume("pvc-1", 10, "csi.vsphere.vmware.com").expect("create");
        let other = ds.clone();
        other.write_file("pvc-1", "a/b.txt", b"hello").expect("write");
        assert_eq!(ds.read_file("pvc-1", "a/b.txt").expect("read"), b"hello");
        assert_eq!(ds.list_volumes(), ["pvc-1"]);
        assert_eq!(ds.volume("pvc-1").expect("volume").used(), 5);
        ds.remove_file("pvc-1", "a/b.txt").expect("remove");
        assert!(ds.files("pvc-1").expect("files").is_empty());
        ds.delete_volume("pvc-1").expect("delete");
        assert!(!other.contains("pvc-1"));
    }

    #[test]
    fn errors_name_the_volume_and_path() {
        let ds = Datastore::new();
        ds.create_volume("pvc-1", 8, "disk.csi.akshci.com").expect("create");
        assert_eq!(
            ds.create_volume("pvc-1", 8, "x").expect_err("twice").to_string(),
            "volume \"pvc-1\" already exists in the datastore"
        );
        assert_eq!(
            ds.read_file("pvc-2", "f").expect_err("no volume").to_string(),
            "volume \"pvc-2\" not found in the datastore"
        );
        assert_eq!(
            ds.read_file("pvc-1", "f").expect_err("no file").to_string(),
            "volume \"pvc-1\" has no file \"f\""
        );
        for bad in ["", "/etc/passwd", "a//b", "a/../b", "./a"] {
            let err = ds.write_file("pvc-1", bad, b"x").expect_err(bad);
            assert!(matches!(err, StorageError::InvalidPath { .. }), "{bad}: {err}");
        }
        ds.write_file("pvc-1", "f", b"12345").expect("fits");
        ds.write_file("pvc-1", "f", b"12345678").expect("replacing frees the old bytes");
        let err = ds.write_file("pvc-1", "g", b"1").expect_err("full");
        assert_eq!(
            err.to_string(),
            "volume \"pvc-1\": writing \"g\" (1 bytes) needs 9 bytes, over the capacity of 8 bytes"
        );
    }
}
