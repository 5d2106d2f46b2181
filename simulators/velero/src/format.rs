//! What Velero's backup files contain: the `<name>.tar.gz` of backed-up objects, the
//! `.json.gz` side files, and `velero-backup.json`.
//!
//! Facts from Velero v1.18 (`pkg/backup/backup.go`, `item_backupper.go`,
//! `backed_up_items_map.go`, `pkg/archive`, `pkg/util/encode`):
//!
//! * the tarball is a gzip stream (Go's default writer: no name, mtime 0, OS 255) around a tar
//!   whose first entry is `metadata/version` holding `1.1.0\n` (format version 1.1.0, Velero
//!   1.9+); every entry is a regular file, mode 0755, no directory entries;
//! * each item is written twice, as the same bytes: `resources/<resource>.<group>/namespaces/
//!   <ns>/<name>.json` (or `…/cluster/<name>.json` when cluster-scoped; core resources have no
//!   `.<group>`, e.g. `resources/secrets/…`) and the same under a `<version>-preferredversion/`
//!   folder after `<resource>.<group>/`, e.g. `resources/clusters.cluster.x-k8s.io/
//!   v1beta1-preferredversion/namespaces/default/wc-1.json`. A restore reads the first copy;
//!   non-preferred versions (`resources/<gr>/<version>/…`) appear only with the
//!   `EnableAPIGroupVersions` feature and are skipped here;
//! * item JSON is Go's `json.Marshal` of the object map: compact, keys sorted, `<`, `>`, `&`,
//!   U+2028 and U+2029 escaped as `\u003c`-style escapes;
//! * `.json.gz` side files are gzip around Go's `json.Encoder` output (a trailing `\n`); the
//!   resource list maps `<apiVersion>/<Kind>` (e.g. `cluster.x-k8s.io/v1beta1/Cluster`,
//!   `v1/Secret`) to sorted `<ns>/<name>` (or `<name>`) entries;
//! * `velero-backup.json` is the Backup object, pretty-printed with two-space indents.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};

use drdrill_apis::velero::Backup;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The backup format version Velero 1.9+ writes into `metadata/version` and `status.formatVersion`.
pub const BACKUP_FORMAT_VERSION: &str = "1.1.0";

/// The tar entry holding the format version.
pub const VERSION_FILE: &str = "metadata/version";

/// The suffix of the folder holding the preferred-version copy of each item.
pub const PREFERRED_VERSION_SUFFIX: &str = "-preferredversion";

/// What names a file in errors when the caller gave no key.
const TARBALL: &str = "backup tarball";

/// Mode of every tar entry Velero writes.
const ENTRY_MODE: u32 = 0o755;

/// Why a backup file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file is not a complete gzip stream (truncated, corrupted, or not gzip at all).
    #[error("{file}: not a complete gzip stream: {source}")]
    Gzip {
        /// The file or key at fault.
        file: String,
        /// What the decoder said.
        source: io::Error,
    },
    /// The tar inside is malformed (bad header checksum, truncated header, …).
    #[error("{file}: malformed tar archive: {source}")]
    Tar {
        /// The file or key at fault.
        file: String,
        /// What the tar reader said.
        source: io::Error,
    },
    /// The tar ends before an entry's data or before the end-of-archive marker.
    #[error("{file}: tar archive is truncated {detail}")]
    Truncated {
        /// The file or key at fault.
        file: String,
        /// Where: in which entry, or at the end.
        detail: String,
    },
    /// The tarball has no `metadata/version`.
    #[error("{file}: no {VERSION_FILE} entry: not a Velero backup tarball")]
    MissingVersion {
        /// The file or key at fault.
        file: String,
    },
    /// The tarball's format version is not one this reader knows (major version 1).
    #[error("{file}: unsupported backup format version {version:?} (expected 1.x.y)")]
    UnsupportedVersion {
        /// The file or key at fault.
        file: String,
        /// The version found.
        version: String,
    },
    /// A file's content is not the JSON expected.
    #[error("{file}: invalid JSON: {source}")]
    Json {
        /// The file, key or tar entry at fault.
        file: String,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// An entry under `resources/` does not follow Velero's layout, or escapes the archive.
    #[error("{file}: entry {entry:?} {reason}")]
    BadEntry {
        /// The file or key at fault.
        file: String,
        /// The tar entry's path.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An item cannot be written or read as it is (name mismatch, no apiVersion, …).
    #[error("item {path}: {reason}")]
    BadItem {
        /// The item's path in the tarball.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two items share one path.
    #[error("item {path} appears twice")]
    DuplicateItem {
        /// The item's path in the tarball.
        path: String,
    },
    /// A file is not the Velero object expected (e.g. `velero-backup.json` holding no Backup).
    #[error("{file}: {reason}")]
    WrongObject {
        /// The file or key at fault.
        file: String,
        /// What was found instead.
        reason: String,
    },
    /// Writing failed (only possible for a writer that can fail).
    #[error("{file}: write failed: {source}")]
    Write {
        /// The file being written.
        file: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// One backed-up object, as the tarball stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupItem {
    /// `<resource>.<group>` as Velero names the folder (`clusters.cluster.x-k8s.io`); a core
    /// resource has no group (`secrets`).
    pub group_resource: String,
    /// The namespace; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// The object as Velero wrote it (status and all; restore strips what it strips).
    pub object: Value,
}

impl BackupItem {
    /// An item for `object`, taking namespace and name from its metadata.
    pub fn new(group_resource: &str, object: Value) -> Result<Self, FormatError> {
        let meta = |field: &str| object["metadata"][field].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let item = BackupItem {
            group_resource: group_resource.to_string(),
            namespace: meta("namespace"),
            name: meta("name").unwrap_or_default(),
            object: object.clone(),
        };
        item.check()?;
        Ok(item)
    }

    /// The object's `apiVersion`, e.g. `cluster.x-k8s.io/v1beta1` or `v1`.
    pub fn api_version(&self) -> Option<&str> {
        self.object["apiVersion"].as_str()
    }

    /// The object's `kind`.
    pub fn kind(&self) -> Option<&str> {
        self.object["kind"].as_str()
    }

    /// The version part of `apiVersion` (`v1beta1`): the preferred version it was backed up at.
    pub fn version(&self) -> Option<&str> {
        self.api_version().map(|v| v.rsplit('/').next().unwrap_or(v))
    }

    /// The group of the resource folder (`cluster.x-k8s.io`; empty for core).
    pub fn group(&self) -> &str {
        self.group_resource.split_once('.').map_or("", |(_, g)| g)
    }

    /// `resources/<gr>/namespaces/<ns>/<name>.json` or `resources/<gr>/cluster/<name>.json`.
    pub fn path(&self) -> String {
        item_path(&self.group_resource, self.namespace.as_deref(), &self.name, None)
    }

    /// The same path inside `<version>-preferredversion/`.
    pub fn preferred_version_path(&self) -> Result<String, FormatError> {
        let version = self.version().ok_or_else(|| self.bad("no apiVersion"))?;
        let dir = format!("{version}{PREFERRED_VERSION_SUFFIX}");
        Ok(item_path(&self.group_resource, self.namespace.as_deref(), &self.name, Some(&dir)))
    }

    /// The item's key in the resource list: `<apiVersion>/<Kind>`.
    pub fn resource_list_key(&self) -> Result<String, FormatError> {
        match (self.api_version(), self.kind()) {
            (Some(v), Some(k)) if !k.is_empty() => Ok(format!("{v}/{k}")),
            _ => Err(self.bad("no apiVersion or kind")),
        }
    }

    /// The item's entry in the resource list: `<ns>/<name>` or `<name>`.
    pub fn resource_list_entry(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    fn bad(&self, reason: &str) -> FormatError {
        FormatError::BadItem {
            path: self.path(),
            reason: reason.to_string(),
        }
    }

    /// Checks that the item can be laid out and agrees with its object.
    fn check(&self) -> Result<(), FormatError> {
        let component = |what: &str, s: &str| {
            if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
                Err(self.bad(&format!("{what} {s:?} cannot be a path component")))
            } else {
                Ok(())
            }
        };
        component("resource", &self.group_resource)?;
        component("name", &self.name)?;
        if let Some(ns) = &self.namespace {
            component("namespace", ns)?;
        }
        if !self.object.is_object() {
            return Err(self.bad("object is not a JSON object"));
        }
        let api_version = self.api_version().ok_or_else(|| self.bad("no apiVersion"))?;
        self.resource_list_key()?;
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if group != self.group() {
            return Err(self.bad(&format!("apiVersion {api_version} is not in the group of {}", self.group_resource)));
        }
        let meta = &self.object["metadata"];
        if meta["name"].as_str() != Some(self.name.as_str()) {
            return Err(self.bad("metadata.name differs from the file name"));
        }
        let ns = meta["namespace"].as_str().filter(|s| !s.is_empty());
        if ns != self.namespace.as_deref() {
            return Err(self.bad("metadata.namespace differs from the folder"));
        }
        Ok(())
    }
}

/// The path of an item file inside the tarball, `version_dir` being e.g.
/// `v1beta1-preferredversion` (Velero's `GetVersionedItemFilePath` with an empty root).
pub fn item_path(group_resource: &str, namespace: Option<&str>, name: &str, version_dir: Option<&str>) -> String {
    let mut path = format!("resources/{group_resource}/");
    if let Some(dir) = version_dir {
        path.push_str(dir);
        path.push('/');
    }
    match namespace {
        Some(ns) => path.push_str(&format!("namespaces/{ns}/{name}.json")),
        None => path.push_str(&format!("cluster/{name}.json")),
    }
    path
}

/// A backup tarball's content.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupArchive {
    /// The format version from `metadata/version` (e.g. `1.1.0`).
    pub format_version: String,
    /// The items, in the order of the tarball.
    pub items: Vec<BackupItem>,
}

/// Writes the `<name>.tar.gz` of `items`, in their order, with every entry's mtime 0.
pub fn write_backup_tarball(items: &[BackupItem]) -> Result<Vec<u8>, FormatError> {
    write_backup_tarball_at(items, 0)
}

/// Writes the `<name>.tar.gz` of `items`, in their order, entries stamped `mtime` (seconds
/// since the Unix epoch; Velero stamps the time of writing).
pub fn write_backup_tarball_at(items: &[BackupItem], mtime: u64) -> Result<Vec<u8>, FormatError> {
    let io_err = |source| FormatError::Write {
        file: TARBALL.to_string(),
        source,
    };
    let mut seen = HashSet::new();
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    append_file(&mut tar, VERSION_FILE, format!("{BACKUP_FORMAT_VERSION}\n").as_bytes(), mtime).map_err(io_err)?;
    for item in items {
        item.check()?;
        let path = item.path();
        if !seen.insert(path.clone()) {
            return Err(FormatError::DuplicateItem { path });
        }
        let bytes = go_json(&item.object);
        append_file(&mut tar, &path, &bytes, mtime).map_err(io_err)?;
        append_file(&mut tar, &item.preferred_version_path()?, &bytes, mtime).map_err(io_err)?;
    }
    let gz = tar.into_inner().map_err(io_err)?;
    gz.finish().map_err(io_err)
}

/// Appends one regular file as Go's `archive/tar` writes it: USTAR (name split into prefix
/// and name when longer than 100 bytes), or a PAX `path` record when it cannot be split.
fn append_file<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8], mtime: u64) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(ENTRY_MODE);
    header.set_size(data.len() as u64);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    if header.set_path(path).is_err() {
        tar.append_pax_extensions([("path", path.as_bytes())])?;
        let mut short = path.rsplit('/').next().unwrap_or(path).as_bytes();
        short = &short[..short.len().min(99)];
        header.as_old_mut().name[..short.len()].copy_from_slice(short);
    }
    header.set_cksum();
    tar.append(&header, data)
}

/// Reads the items of a `<name>.tar.gz` (see [`read_backup_archive`]).
pub fn read_backup_tarball(bytes: &[u8]) -> Result<Vec<BackupItem>, FormatError> {
    read_backup_archive(bytes, TARBALL).map(|archive| archive.items)
}

/// Reads a `<name>.tar.gz`, `file` naming it in errors (e.g. its key).
///
/// Accepts what Velero's restore accepts (directory entries, `./` prefixes, PAX and GNU long
/// names, legacy tarballs without preferred-version copies) and rejects, with an error naming
/// the entry, what it would choke on or silently lose: truncation anywhere (including a
/// missing end-of-archive marker), paths escaping the archive, malformed item paths, JSON
/// that does not parse or disagrees with its path, and preferred-version copies that differ
/// from their item or have none.
pub fn read_backup_archive(bytes: &[u8], file: &str) -> Result<BackupArchive, FormatError> {
    let tar_bytes = gunzip(bytes, file)?;
    let tar_err = |source| FormatError::Tar {
        file: file.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut end = 0u64;
    let mut version = None;
    let mut items = Vec::new();
    let mut copies: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    let mut seen = HashSet::new();
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let size = entry.header().entry_size().map_err(tar_err)?;
        end = entry.raw_file_position() + size.div_ceil(512) * 512;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_contiguous()) {
            continue;
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(tar_err)?;
        if data.len() as u64 != size {
            return Err(FormatError::Truncated {
                file: file.to_string(),
                detail: format!("inside {raw_path:?} ({} of {size} bytes)", data.len()),
            });
        }
        let path = clean_path(&raw_path).ok_or_else(|| FormatError::BadEntry {
            file: file.to_string(),
            entry: raw_path.clone(),
            reason: "escapes the archive".to_string(),
        })?;
        if path == VERSION_FILE {
            version = Some(String::from_utf8_lossy(&data).trim().to_string());
            continue;
        }
        let Some(rest) = path.strip_prefix("resources/") else { continue };
        let bad = |reason: &str| FormatError::BadEntry {
            file: file.to_string(),
            entry: raw_path.clone(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (gr, version_dir, scope) = match parts.as_slice() {
            [gr, "namespaces", ns, name] => (*gr, None, (Some(*ns), *name)),
            [gr, "cluster", name] => (*gr, None, (None, *name)),
            [gr, v, "namespaces", ns, name] => (*gr, Some(*v), (Some(*ns), *name)),
            [gr, v, "cluster", name] => (*gr, Some(*v), (None, *name)),
            _ => return Err(bad("is not resources/<resource>[/<version>]/{namespaces/<ns>,cluster}/<name>.json")),
        };
        let name = scope.1.strip_suffix(".json").ok_or_else(|| bad("is not a .json file"))?;
        match version_dir {
            Some(dir) if dir.ends_with(PREFERRED_VERSION_SUFFIX) => {
                let plain = item_path(gr, scope.0, name, None);
                let version = dir.trim_end_matches(PREFERRED_VERSION_SUFFIX).to_string();
                copies.insert(plain, (version, data));
            }
            Some(_) => {} // a non-preferred version (EnableAPIGroupVersions): not restored here
            None => {
                let object: Value = serde_json::from_slice(&data).map_err(|source| FormatError::Json {
                    file: path.clone(),
                    source,
                })?;
                let item = BackupItem {
                    group_resource: gr.to_string(),
                    namespace: scope.0.map(str::to_string),
                    name: name.to_string(),
                    object,
                };
                item.check()?;
                if !seen.insert(item.path()) {
                    return Err(FormatError::DuplicateItem { path: item.path() });
                }
                items.push((item, data));
            }
        }
    }
    let needed = end as usize + 1024;
    if tar_bytes.len() < needed || tar_bytes[end as usize..needed].iter().any(|b| *b != 0) {
        return Err(FormatError::Truncated {
            file: file.to_string(),
            detail: "before the end-of-archive marker".to_string(),
        });
    }
    let format_version = version.ok_or_else(|| FormatError::MissingVersion { file: file.to_string() })?;
    if format_version.split('.').next() != Some("1") {
        return Err(FormatError::UnsupportedVersion {
            file: file.to_string(),
            version: format_version,
        });
    }
    let mut out = Vec::with_capacity(items.len());
    for (item, data) in items {
        if let Some((version, copy)) = copies.remove(&item.path())
            && (copy != data || item.version() != Some(version.as_str()))
        {
            let reason = format!("its {version}{PREFERRED_VERSION_SUFFIX} copy differs from it");
            return Err(item.bad(&reason));
        }
        out.push(item);
    }
    if let Some(orphan) = copies.keys().min() {
        return Err(FormatError::BadItem {
            path: orphan.clone(),
            reason: "has a preferred-version copy but is missing itself".to_string(),
        });
    }
    Ok(BackupArchive {
        format_version,
        items: out,
    })
}

/// A tar path with `./` and leading `/` dropped; `None` if it climbs out with `..`.
fn clean_path(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The resource list: `<apiVersion>/<Kind>` → sorted `<ns>/<name>` or `<name>`.
pub type ResourceList = BTreeMap<String, Vec<String>>;

/// The resource list of `items`, as Velero's `BackupResourceList` builds it.
pub fn resource_list(items: &[BackupItem]) -> Result<ResourceList, FormatError> {
    let mut list = ResourceList::new();
    for item in items {
        list.entry(item.resource_list_key()?).or_default().push(item.resource_list_entry());
    }
    for entries in list.values_mut() {
        entries.sort();
    }
    Ok(list)
}

/// `<name>-resource-list.json.gz` for `list`.
pub fn encode_resource_list(list: &ResourceList) -> Result<Vec<u8>, FormatError> {
    encode_json_gz(list, "resource list")
}

/// Reads a `<name>-resource-list.json.gz`, `file` naming it in errors.
pub fn decode_resource_list(bytes: &[u8], file: &str) -> Result<ResourceList, FormatError> {
    decode_json_gz(bytes, file)
}

/// A `.json.gz` side file as Velero's `encode.ToJSONGzip` writes it: gzip of Go's
/// `json.Encoder` output (compact, HTML-escaped, trailing newline). Go writes `null` for an
/// empty list it never allocated (e.g. no PodVolumeBackups): pass `None::<Vec<_>>` for that.
pub fn encode_json_gz<T: Serialize + ?Sized>(value: &T, file: &str) -> Result<Vec<u8>, FormatError> {
    let mut json = serde_json::to_vec(value).map_err(|source| FormatError::Json {
        file: file.to_string(),
        source,
    })?;
    json = go_escape(json);
    json.push(b'\n');
    gzip(&json).map_err(|source| FormatError::Write {
        file: file.to_string(),
        source,
    })
}

/// Reads a `.json.gz` side file, `file` naming it in errors.
pub fn decode_json_gz<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T, FormatError> {
    let json = gunzip(bytes, file)?;
    serde_json::from_slice(&json).map_err(|source| FormatError::Json {
        file: file.to_string(),
        source,
    })
}

/// `velero-backup.json` for `backup`: pretty JSON, two-space indents, as Velero's encoder
/// writes it (our field order; Velero reads it by name).
pub fn encode_backup_metadata(backup: &Backup) -> Result<Vec<u8>, FormatError> {
    let file = crate::layout::BACKUP_METADATA_FILE;
    let json = serde_json::to_vec_pretty(backup).map_err(|source| FormatError::Json {
        file: file.to_string(),
        source,
    })?;
    Ok(go_escape(json))
}

/// Reads a `velero-backup.json`, `file` naming it in errors; it must hold a `velero.io/v1`
/// Backup, as Velero's backup sync requires.
pub fn decode_backup_metadata(bytes: &[u8], file: &str) -> Result<Backup, FormatError> {
    let json = |source| FormatError::Json {
        file: file.to_string(),
        source,
    };
    let value: Value = serde_json::from_slice(bytes).map_err(json)?;
    let (api_version, kind) = (value["apiVersion"].as_str(), value["kind"].as_str());
    if api_version != Some(drdrill_apis::velero::API_VERSION) || kind != Some("Backup") {
        return Err(FormatError::WrongObject {
            file: file.to_string(),
            reason: format!(
                "holds apiVersion {} kind {}, not a velero.io/v1 Backup",
                api_version.unwrap_or("<none>"),
                kind.unwrap_or("<none>")
            ),
        });
    }
    serde_json::from_value(value).map_err(json)
}

/// Gzip as Go's `gzip.NewWriter` does at its default level (header: no name, mtime 0, OS 255).
pub fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), Compression::default());
    gz.write_all(bytes)?;
    gz.finish()
}

/// Gunzips a whole file (all members, as Go's reader does), `file` naming it in errors.
pub fn gunzip(bytes: &[u8], file: &str) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| FormatError::Gzip {
            file: file.to_string(),
            source,
        })?;
    Ok(out)
}

/// An object as Go's `json.Marshal` writes a map: compact, keys sorted at every level,
/// HTML-escaped.
pub fn go_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_sorted(value, &mut out);
    go_escape(out)
}

fn write_sorted(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_sorted(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(list) => {
            out.push(b'[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(v, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing a scalar into a Vec cannot fail.
    serde_json::to_writer(&mut *out, value).unwrap_or_default();
}

/// Go's JSON HTML escaping. `<`, `>`, `&` and U+2028/U+2029 only occur inside JSON strings,
/// so replacing them byte-wise in serialized JSON is exact.
fn go_escape(json: Vec<u8>) -> Vec<u8> {
    let special = |b: &u8| matches!(b, b'<' | b'>' | b'&' | 0xE2);
    if !json.iter().any(special) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if json.get(i + 1) == Some(&0x80) && matches!(json.get(i + 2), Some(0xA8 | 0xA9)) => {
                out.extend_from_slice(if json[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
