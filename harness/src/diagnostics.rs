//! Diagnostics bundles: on every failure, what the world looked like, written to a folder.

use std::path::{Path, PathBuf};

/// A folder collecting the evidence of one failed run.
#[derive(Debug)]
pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    /// Creates `<root>/<name>`.
    pub fn create(root: &Path, name: &str) -> std::io::Result<Self> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(Bundle { dir })
    }

    /// Adds a file.
    pub fn add(&self, file: &str, contents: &str) -> std::io::Result<()> {
        std::fs::write(self.dir.join(file), contents)
    }

    /// Where the bundle is.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}
