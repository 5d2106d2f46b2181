//! Volume data in drills: the files an application writes into a claim's volume (from a
//! feature's table), their sha256 recorded, and the check that a restored volume holds exactly
//! those bytes — shared by the TKG workload-data feature and Runbook A's.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// What the application wrote into one claim's volume: the volume and each file's sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenVolume {
    /// The Datastore volume the claim was bound to when the files were written.
    pub handle: String,
    /// Path → hex sha256 of the content.
    pub sha256: BTreeMap<String, String>,
}

impl WrittenVolume {
    /// Nothing written yet into `handle`.
    pub fn new(handle: impl Into<String>) -> Self {
        WrittenVolume {
            handle: handle.into(),
            sha256: BTreeMap::new(),
        }
    }

    /// Records that `data` was written at `path`.
    pub fn record(&mut self, path: &str, data: &[u8]) {
        self.sha256.insert(path.to_string(), hex_sha256(data));
    }

    /// How `files` (a volume's content now) differs from what was written: missing files,
    /// different contents, files the application did not write. Empty when every byte is back.
    pub fn differences(&self, files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
        let now = hashes(files);
        let mut problems = Vec::new();
        for (path, sha) in &self.sha256 {
            match now.get(path) {
                None => problems.push(format!("{path}: missing")),
                Some(s) if s != sha => problems.push(format!("{path}: sha256 {s}, written {sha}")),
                Some(_) => {}
            }
        }
        for path in now.keys().filter(|p| !self.sha256.contains_key(*p)) {
            problems.push(format!("{path}: not written by the application"));
        }
        problems
    }
}

/// Path → hex sha256 of each file.
pub fn hashes(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    files.iter().map(|(p, d)| (p.clone(), hex_sha256(d))).collect()
}

/// Hex sha256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The content of a table cell: the text itself, or `<N random bytes>` — N bytes from the
/// scenario's seed and the path (a binary file that compresses badly, as database pages do).
pub fn content_of(cell: &str, seed: u64, path: &str) -> Result<Vec<u8>, String> {
    let Some(n) = cell.strip_prefix('<').and_then(|c| c.strip_suffix(" random bytes>")) else {
        return Ok(cell.as_bytes().to_vec());
    };
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("{cell:?}: expected <N random bytes> with N a number"))?;
    let mut rng = drdrill_scenarios::SeededRng::new(seed ^ crate::world::fnv(path));
    Ok((0..n).map(|_| (rng.next_u64() & 0xff) as u8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_missing_changed_and_extra_files() {
        let mut written = WrittenVolume::new("pv-1");
        written.record("a", b"one");
        written.record("b", b"two");
        let same: BTreeMap<String, Vec<u8>> = [("a".to_string(), b"one".to_vec()), ("b".to_string(), b"two".to_vec())].into();
        assert!(written.differences(&same).is_empty());
        let changed: BTreeMap<String, Vec<u8>> = [("a".to_string(), b"0ne".to_vec()), ("c".to_string(), b"x".to_vec())].into();
        let problems = written.differences(&changed);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("a: sha256 "));
        assert_eq!(problems[1], "b: missing");
        assert_eq!(problems[2], "c: not written by the application");
    }

    #[test]
    fn cells_are_text_or_seeded_random_bytes() {
        assert_eq!(content_of("14", 1, "PG_VERSION"), Ok(b"14".to_vec()));
        let a = content_of("<64 random bytes>", 7, "x").expect("bytes");
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            content_of("<64 random bytes>", 7, "x").expect("bytes"),
            "the same seed and path, the same bytes"
        );
        assert_ne!(
            a,
            content_of("<64 random bytes>", 7, "y").expect("bytes"),
            "another path, other bytes"
        );
        assert_ne!(
            a,
            content_of("<64 random bytes>", 8, "x").expect("bytes"),
            "another seed, other bytes"
        );
        assert!(
            content_of("<many random bytes>", 7, "x")
                .expect_err("bad")
                .contains("expected <N random bytes>")
        );
    }
}
