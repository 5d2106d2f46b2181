//! The Backup controller: validates new Backups, collects the items they select through API
//! discovery, runs the BackupItemActions, and writes every file to the location's bucket.
//!
//! Facts from Velero (`pkg/controller/backup_controller.go`, `pkg/backup/backup.go`,
//! `item_collector.go`, `item_backupper.go`, `pkg/util/collections/includes_excludes.go`,
//! `pkg/persistence/object_store.go`, v1.9–v1.18):
//!
//! * a Backup with phase `""` or `New` is validated: the storage location (the one named, else
//!   the one with `spec.default`) must exist, be ReadWrite and `Available`; include/exclude lists
//!   must be consistent; failures give `FailedValidation` with `status.validationErrors`;
//! * a valid one goes `InProgress` (version 1, formatVersion 1.1.0, startTimestamp, expiration =
//!   now + ttl, default ttl `720h0m0s`, label `velero.io/storage-location`), then its items are
//!   collected: every listable resource of every group at its preferred version (core first),
//!   resources filtered by the resolved include/exclude lists (plural, singular, kind or short
//!   name, optionally group-qualified: `cluster.cluster.x-k8s.io`), cluster-scoped resources
//!   only for an all-namespaces backup unless `includeClusterResources` says otherwise, items
//!   by namespace and label selector; a BackupItemAction's additional items are backed up
//!   before the item itself, and with `mustInclude` even when the filters exclude them;
//! * warnings and errors logged during the backup are counted into `status.warnings` /
//!   `status.errors` and listed in `<name>-results.gz`; any error makes it `PartiallyFailed`;
//! * the files go up in `PutBackup`'s order: the log (best effort), `velero-backup.json` (a
//!   failure stops the backup), the tarball (a failure removes `velero-backup.json`), then the
//!   side files (a failure removes the tarball and `velero-backup.json`), so a backup sync
//!   never finds a backup whose files did not all land. A failed upload makes the backup
//!   `Failed` with the error in `failureReason`;
//! * a Backup found `InProgress` when a pass starts was interrupted (the server restarted
//!   mid-backup) and is marked `Failed`, as Velero does at start-up.
//!
//! The file set is Velero v1.12's: the CSI, native-snapshot and item-operation files hold `null`;
//! the pod-volume file lists the PodVolumeBackups of [`super::podvolume`] (`null` when none).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use drdrill_apis::velero::{Backup, BackupPhase, BackupStorageLocation, BackupStorageLocationAccessMode, STORAGE_LOCATION_LABEL};
use drdrill_kube_sim::clock::k8s_time;
use futures::future::BoxFuture;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::bsl::{format_go_duration, is_available, parse_go_duration, plugin_error};
use super::mgmt_cluster_plugin::MgmtClusterPlugin;
use super::podvolume::{PodVolumeBackupOutcome, back_up_pod_volumes};
use super::storage::object_store_for;
use super::{Context, Report, ServerContext, VeleroError};
use crate::format::{self, BACKUP_FORMAT_VERSION, BackupItem, encode_backup_metadata, encode_json_gz, encode_resource_list};
use crate::layout::{BackupFile, BackupLayout};
use crate::s3::{ObjectStore, StoreError};

/// The TTL of a backup that sets none (`velero server --default-backup-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(720 * 3600);

/// The CSI snapshot timeout Velero writes into a spec that sets none.
pub const DEFAULT_CSI_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// The item-operation timeout Velero writes into a spec that sets none.
pub const DEFAULT_ITEM_OPERATION_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// Items (and namespaces) carrying this label with value `true` are left out.
pub const EXCLUDE_FROM_BACKUP_LABEL: &str = "velero.io/exclude-from-backup";

/// The files a backup uploads, in upload order (Velero v1.12's `PutBackup`, the side files in
/// a fixed order where Go iterates a map).
pub const UPLOAD_ORDER: [BackupFile; 11] = [
    BackupFile::Log,
    BackupFile::Metadata,
    BackupFile::Contents,
    BackupFile::PodVolumeBackups,
    BackupFile::VolumeSnapshots,
    BackupFile::ItemOperations,
    BackupFile::ResourceList,
    BackupFile::CsiVolumeSnapshots,
    BackupFile::CsiVolumeSnapshotContents,
    BackupFile::CsiVolumeSnapshotClasses,
    BackupFile::Results,
];

// ---------------------------------------------------------------------------------------------
// Discovery

/// One resource the API server serves, at its group's preferred version.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedResource {
    /// Group, version, kind and plural.
    pub api: ApiResource,
    /// The singular name (lowercase kind when discovery gives none).
    pub singular: String,
    /// Short names, e.g. `bsl`.
    pub short_names: Vec<String>,
    /// Whether items live in namespaces.
    pub namespaced: bool,
    /// The verbs discovery lists.
    pub verbs: Vec<String>,
}

impl ServedResource {
    /// `<plural>.<group>`, or `<plural>` for the core group, as Velero names resources.
    pub fn group_resource(&self) -> String {
        group_resource(&self.api.group, &self.api.plural)
    }

    /// Whether items can be listed (and so backed up).
    pub fn listable(&self) -> bool {
        self.verbs.iter().any(|v| v == "list") && self.verbs.iter().any(|v| v == "get")
    }

    /// A dynamic client for the resource in `namespace` (`None`: all namespaces / cluster).
    pub fn api(&self, client: &Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) if self.namespaced => Api::namespaced_with(client.clone(), ns, &self.api),
            _ => Api::all_with(client.clone(), &self.api),
        }
    }
}

/// `<resource>.<group>`, or `<resource>` for the core group.
pub fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// Every resource a cluster serves, as Velero's discovery helper sees it: one entry per
/// resource at its group's preferred version, subresources left out, the core group first.
#[derive(Clone, Debug, Default)]
pub struct ResourceCatalog {
    resources: Vec<ServedResource>,
}

impl ResourceCatalog {
    /// Runs API discovery against `client`.
    pub async fn discover(client: &Client) -> Result<ResourceCatalog, VeleroError> {
        let mut resources = Vec::new();
        let core = client
            .list_core_api_resources("v1")
            .await
            .ctx(|| "discover the core API group".to_string())?;
        Self::add(&mut resources, "", "v1", core.resources);
        let groups = client.list_api_groups().await.ctx(|| "discover API groups".to_string())?;
        for group in groups.groups {
            let Some(preferred) = group.preferred_version.or_else(|| group.versions.first().cloned()) else {
                continue;
            };
            let list = client
                .list_api_group_resources(&preferred.group_version)
                .await
                .ctx(|| format!("discover resources of {}", preferred.group_version))?;
            Self::add(&mut resources, &group.name, &preferred.version, list.resources);
        }
        Ok(ResourceCatalog { resources })
    }

    /// A catalog of the given resources (for tests and callers with their own discovery).
    pub fn from_resources(resources: Vec<ServedResource>) -> ResourceCatalog {
        ResourceCatalog { resources }
    }

    fn add(
        out: &mut Vec<ServedResource>,
        group: &str,
        version: &str,
        list: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource>,
    ) {
        for r in list {
            if r.name.contains('/') {
                continue;
            }
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            let singular = if r.singular_name.is_empty() {
                r.kind.to_lowercase()
            } else {
                r.singular_name.clone()
            };
            out.push(ServedResource {
                api: ApiResource {
                    group: group.to_string(),
                    version: version.to_string(),
                    api_version,
                    kind: r.kind,
                    plural: r.name,
                },
                singular,
                short_names: r.short_names.unwrap_or_default(),
                namespaced: r.namespaced,
                verbs: r.verbs,
            });
        }
    }

    /// Every served resource, core group first.
    pub fn resources(&self) -> &[ServedResource] {
        &self.resources
    }

    /// Resolves a name as Velero's `ResourceFor(ParseGroupResource(name))` does: the text up to
    /// the first `.` is the resource (plural, singular, kind or short name, any case), the rest
    /// the group (`cluster.cluster.x-k8s.io` → clusters in `cluster.x-k8s.io`); without a group
    /// the first match wins, core first.
    pub fn resolve(&self, name: &str) -> Option<&ServedResource> {
        let (resource, group) = match name.split_once('.') {
            Some((r, g)) => (r.to_lowercase(), Some(g)),
            None => (name.to_lowercase(), None),
        };
        self.resources.iter().find(|r| {
            group.is_none_or(|g| g == r.api.group)
                && (r.api.plural == resource
                    || r.singular == resource
                    || r.api.kind.to_lowercase() == resource
                    || r.short_names.contains(&resource))
        })
    }

    /// The resource serving `kind` in `group`.
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<&ServedResource> {
        self.resources.iter().find(|r| r.api.group == group && r.api.kind == kind)
    }

    /// The resource named `<plural>.<group>` (or `<plural>`).
    pub fn by_group_resource(&self, group_resource: &str) -> Option<&ServedResource> {
        self.resources.iter().find(|r| r.group_resource() == group_resource)
    }
}

// ---------------------------------------------------------------------------------------------
// Filters

/// Velero's `IncludesExcludes`: an empty include list or `*` includes everything; excludes win;
/// entries may be globs (`*`, `?`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncludesExcludes {
    includes: Vec<String>,
    excludes: Vec<String>,
}

impl IncludesExcludes {
    /// The filter of these lists, taken as they are.
    pub fn new(includes: &[String], excludes: &[String]) -> Self {
        IncludesExcludes {
            includes: includes.to_vec(),
            excludes: excludes.to_vec(),
        }
    }

    /// Whether `s` passes the filter.
    pub fn should_include(&self, s: &str) -> bool {
        if self.excludes.iter().any(|p| glob_match(p, s)) {
            return false;
        }
        self.includes.is_empty() || self.includes.iter().any(|p| p == "*" || glob_match(p, s))
    }

    /// Whether the filter includes everything (no includes or `*`, and no excludes).
    pub fn include_everything(&self) -> bool {
        self.excludes.is_empty() && (self.includes.is_empty() || self.includes.iter().any(|i| i == "*"))
    }

    /// The include list.
    pub fn includes(&self) -> &[String] {
        &self.includes
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run and `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Velero's `ValidateIncludesExcludes`.
pub fn validate_includes_excludes(includes: &[String], excludes: &[String]) -> Vec<String> {
    let includes: std::collections::BTreeSet<&String> = includes.iter().collect();
    let excludes: std::collections::BTreeSet<&String> = excludes.iter().collect();
    let mut errs = Vec::new();
    if includes.len() > 1 && includes.iter().any(|i| *i == "*") {
        errs.push("includes list must either contain '*' only, or a non-empty list of items".to_string());
    }
    if excludes.iter().any(|e| *e == "*") {
        errs.push("excludes list cannot contain '*'".to_string());
    }
    for e in &excludes {
        if includes.contains(e) {
            errs.push(format!("excludes list cannot contain an item in the includes list: {e}"));
        }
    }
    errs
}

/// Velero's `ValidateScopedIncludesExcludes` (the new-style cluster/namespace-scoped filters).
fn validate_scoped_includes_excludes(includes: &[String], excludes: &[String]) -> Vec<String> {
    let includes: std::collections::BTreeSet<&String> = includes.iter().collect();
    let excludes: std::collections::BTreeSet<&String> = excludes.iter().collect();
    let mut errs = Vec::new();
    if includes.len() > 1 && includes.iter().any(|i| *i == "*") {
        errs.push("includes list must either contain '*' only, or a non-empty list of items".to_string());
    }
    if excludes.len() > 1 && excludes.iter().any(|i| *i == "*") {
        errs.push("excludes list must either contain '*' only, or a non-empty list of items".to_string());
    }
    if !includes.is_empty() && excludes.iter().any(|i| *i == "*") {
        errs.push("when exclude is '*', include cannot have value".to_string());
    }
    for e in &excludes {
        if includes.contains(e) {
            errs.push(format!("excludes list cannot contain an item in the includes list: {e}"));
        }
    }
    errs
}

/// A namespace name Velero accepts in a filter: a DNS-1123 label once `*` is read as a letter.
fn validate_namespace_name(ns: &str) -> Option<String> {
    if ns.is_empty() {
        return None;
    }
    let name = ns.replace(['*', '?'], "x");
    let ok = name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!ok).then(|| {
        format!(
            "invalid namespace {ns:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
        )
    })
}

/// Which resources a backup takes (old-style or new-style scoped filters).
#[derive(Clone, Debug)]
enum ResourceFilter {
    /// `includedResources` / `excludedResources` / `includeClusterResources`.
    Old {
        resources: IncludesExcludes,
        include_cluster_resources: Option<bool>,
    },
    /// `included/excludedClusterScopedResources`, `included/excludedNamespaceScopedResources`.
    Scoped {
        cluster: IncludesExcludes,
        namespaced: IncludesExcludes,
    },
}

impl ResourceFilter {
    /// Whether the collector lists this resource at all.
    fn collects(&self, gr: &str, namespaced: bool, namespaces: &IncludesExcludes) -> bool {
        match self {
            ResourceFilter::Old {
                resources,
                include_cluster_resources,
            } => {
                if !namespaced && gr != "namespaces" {
                    match include_cluster_resources {
                        None if !namespaces.include_everything() => return false,
                        Some(false) => return false,
                        _ => {}
                    }
                }
                resources.should_include(gr)
            }
            ResourceFilter::Scoped { .. } => self.scoped_includes(gr, namespaced, namespaces),
        }
    }

    /// Whether an item of this resource passes (the item backupper's re-check).
    fn item_passes(&self, gr: &str, namespaced: bool, namespaces: &IncludesExcludes) -> bool {
        match self {
            ResourceFilter::Old {
                resources,
                include_cluster_resources,
            } => {
                if !namespaced && gr != "namespaces" && *include_cluster_resources == Some(false) {
                    return false;
                }
                resources.should_include(gr)
            }
            ResourceFilter::Scoped { .. } => self.scoped_includes(gr, namespaced, namespaces),
        }
    }

    fn scoped_includes(&self, gr: &str, namespaced: bool, namespaces: &IncludesExcludes) -> bool {
        let ResourceFilter::Scoped {
            cluster,
            namespaced: ns_filter,
        } = self
        else {
            return false;
        };
        if namespaced {
            ns_filter.should_include(gr)
        } else if cluster.includes.is_empty() {
            cluster.excludes.is_empty() && namespaces.include_everything()
        } else {
            cluster.should_include(gr)
        }
    }
}

/// `metav1.FormatLabelSelector`: `k=v,k in (a,b),k notin (c),k,!k`.
pub fn format_label_selector(selector: &LabelSelector) -> String {
    let mut parts = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        parts.push(format!("{k}={v}"));
    }
    for expr in selector.match_expressions.iter().flatten() {
        let mut values = expr.values.clone().unwrap_or_default();
        values.sort();
        match expr.operator.as_str() {
            "In" => parts.push(format!("{} in ({})", expr.key, values.join(","))),
            "NotIn" => parts.push(format!("{} notin ({})", expr.key, values.join(","))),
            "Exists" => parts.push(expr.key.clone()),
            "DoesNotExist" => parts.push(format!("!{}", expr.key)),
            other => parts.push(format!("{} {other} ({})", expr.key, values.join(","))),
        }
    }
    parts.join(",")
}

// ---------------------------------------------------------------------------------------------
// BackupItemActions

/// An item a BackupItemAction asks to be backed up too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    /// `<plural>.<group>` (`secrets` for core).
    pub group_resource: String,
    /// The namespace; `None` for cluster-scoped items.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

/// What a BackupItemAction returns for one item.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionOutput {
    /// The item as it goes into the backup.
    pub item: Value,
    /// Related items to back up before it.
    pub additional_items: Vec<ItemRef>,
    /// Back the additional items up even when the backup's filters exclude them.
    pub must_include: bool,
    /// Warnings to put into the backup's log and results.
    pub warnings: Vec<String>,
}

/// What an action may look at: the management cluster and what it serves.
pub struct ActionEnv<'a> {
    /// A client of the cluster being backed up.
    pub client: &'a Client,
    /// Its served resources.
    pub catalog: &'a ResourceCatalog,
}

/// A backup plugin's per-item action (Velero's `BackupItemAction`).
#[async_trait]
pub trait BackupItemAction: Send + Sync {
    /// The plugin's name, for the log.
    fn name(&self) -> &str;

    /// Whether the action runs for items of this resource (`<plural>.<group>`).
    fn applies_to(&self, group_resource: &str) -> bool;

    /// Runs the action on `item` of `backup`; an error is logged as an error of the backup.
    async fn execute(&self, item: Value, backup: &Backup, env: &ActionEnv<'_>) -> Result<ActionOutput, String>;
}

// ---------------------------------------------------------------------------------------------
// The backup log and results

/// Errors or warnings of a backup, as `<name>-results.gz` holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackupResult {
    /// Messages about Velero itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub velero: Vec<String>,
    /// Messages about cluster-scoped items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    /// Messages about items, by namespace.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: BTreeMap<String, Vec<String>>,
}

impl BackupResult {
    fn add(&mut self, namespace: Option<&str>, message: String) {
        match namespace {
            None => self.velero.push(message),
            Some("") => self.cluster.push(message),
            Some(ns) => self.namespaces.entry(ns.to_string()).or_default().push(message),
        }
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.velero.len() + self.cluster.len() + self.namespaces.values().map(Vec::len).sum::<usize>()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The backup's log in logrus text format, counting warnings and errors as Velero's log hook does.
#[derive(Debug)]
struct BackupLog {
    backup: String,
    time: String,
    text: String,
    warnings: BackupResult,
    errors: BackupResult,
}

impl BackupLog {
    fn new(backup: &str, now: Timestamp) -> Self {
        BackupLog {
            backup: backup.to_string(),
            time: k8s_time(now),
            text: String::new(),
            warnings: BackupResult::default(),
            errors: BackupResult::default(),
        }
    }

    fn line(&mut self, level: &str, msg: &str, fields: &[(&str, &str)]) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("backup", &self.backup));
        all.sort();
        let _ = write!(self.text, "time=\"{}\" level={level} msg={}", self.time, quote(msg));
        for (k, v) in all {
            let _ = write!(self.text, " {k}={}", quote(v));
        }
        self.text.push('\n');
    }

    fn info(&mut self, msg: &str, fields: &[(&str, &str)]) {
        self.line("info", msg, fields);
    }

    /// A warning; `namespace` `Some("")` files it under cluster, `None` under Velero.
    fn warn(&mut self, msg: &str, namespace: Option<&str>, fields: &[(&str, &str)]) {
        self.line("warning", msg, fields);
        self.warnings.add(namespace, msg.to_string());
    }

    fn error(&mut self, msg: &str, namespace: Option<&str>, fields: &[(&str, &str)]) {
        self.line("error", msg, fields);
        self.errors.add(namespace, msg.to_string());
    }
}

/// logrus's quoting: bare when the text is made of safe characters, else a Go-quoted string.
fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+'));
    if safe {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Uploading

/// Where backup files go: the object store, or a fake in unit tests.
#[async_trait]
trait BlobSink: Sync {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl BlobSink for ObjectStore {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StoreError> {
        ObjectStore::put(self, key, data).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        ObjectStore::delete(self, key).await
    }
}

/// Velero's `PutBackup`: uploads `files` (keyed by kind) in [`UPLOAD_ORDER`]; on failure removes
/// what would let a sync see an incomplete backup and returns the reason.
async fn put_backup(
    sink: &dyn BlobSink,
    layout: &BackupLayout,
    name: &str,
    files: &BTreeMap<&'static str, (BackupFile, Vec<u8>)>,
) -> Result<Vec<String>, String> {
    let mut log_errors = Vec::new();
    let key = |f: BackupFile| layout.backup_key(name, f);
    let failed = |f: BackupFile, e: &StoreError| format!("error uploading {}: {}", key(f), plugin_error(e));
    for file in UPLOAD_ORDER {
        let Some((_, data)) = files.get(file.suffix()) else {
            continue;
        };
        let Err(e) = sink.put(&key(file), data.clone()).await else {
            continue;
        };
        match file {
            BackupFile::Log => log_errors.push(failed(file, &e)),
            BackupFile::Metadata => return Err(failed(file, &e)),
            BackupFile::Contents => {
                let mut reason = failed(file, &e);
                if let Err(d) = sink.delete(&key(BackupFile::Metadata)).await {
                    let _ = write!(reason, "; error deleting {}: {}", key(BackupFile::Metadata), plugin_error(&d));
                }
                return Err(reason);
            }
            _ => {
                let mut reason = failed(file, &e);
                for cleanup in [BackupFile::Contents, BackupFile::Metadata] {
                    if let Err(d) = sink.delete(&key(cleanup)).await {
                        let _ = write!(reason, "; error deleting {}: {}", key(cleanup), plugin_error(&d));
                    }
                }
                return Err(reason);
            }
        }
    }
    Ok(log_errors)
}

// ---------------------------------------------------------------------------------------------
// The controller

/// Runs new Backups (see the module documentation).
pub struct BackupController {
    ctx: ServerContext,
    actions: Vec<Arc<dyn BackupItemAction>>,
    default_ttl: Duration,
}

impl BackupController {
    /// A controller with the TKG management-cluster plugin installed, as the runbook's
    /// `velero install --plugins …velero-mgmt-cluster-plugin…` does.
    pub fn new(ctx: ServerContext) -> Self {
        BackupController {
            ctx,
            actions: vec![Arc::new(MgmtClusterPlugin)],
            default_ttl: DEFAULT_TTL,
        }
    }

    /// Replaces the installed BackupItemActions (empty: plain Velero without plugins).
    pub fn with_actions(mut self, actions: Vec<Arc<dyn BackupItemAction>>) -> Self {
        self.actions = actions;
        self
    }

    /// Uses `ttl` for backups that set none (`velero server --default-backup-ttl`).
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// One pass: fails interrupted backups, then runs every new one to its end, oldest first.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let api: Api<Backup> = Api::namespaced(self.ctx.client.clone(), ns);
        let mut backups = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Backups in {ns}"))?
            .items;
        backups.sort_by_key(|b| (b.metadata.creation_timestamp.as_ref().map(|t| t.0), b.name_any()));
        let mut report = Report::default();
        for backup in backups {
            let name = backup.name_any();
            let phase = backup.status.as_ref().and_then(|s| s.phase);
            match phase {
                None | Some(BackupPhase::New) => {
                    self.run(&api, backup).await?;
                }
                Some(BackupPhase::InProgress) => {
                    let reason = "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\"";
                    tracing::warn!(backup = %name, reason);
                    let status = json!({"status": {"phase": "Failed", "failureReason": reason,
                        "completionTimestamp": k8s_time(self.ctx.clock.now())}});
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(status))
                        .await
                        .ctx(|| format!("mark Backup {ns}/{name} Failed"))?;
                }
                _ => continue,
            }
            report.updated.push(format!("Backup/{name}"));
        }
        Ok(report)
    }

    async fn run(&self, api: &Api<Backup>, backup: Backup) -> Result<(), VeleroError> {
        let ns = self.ctx.namespace.clone();
        let name = backup.name_any();
        let now = self.ctx.clock.now();
        let (mut backup, location, errors) = self.prepare(backup, now).await?;
        let labels = backup.metadata.labels.clone().unwrap_or_default();
        let annotations = backup.metadata.annotations.clone().unwrap_or_default();
        let status = backup.status.clone().unwrap_or_default();
        let base = json!({
            "metadata": {"labels": labels, "annotations": annotations},
            "spec": &backup.spec,
        });
        if !errors.is_empty() {
            tracing::info!(backup = %name, ?errors, "backup failed validation");
            let mut patch = base.clone();
            patch["status"] = json!({
                "phase": "FailedValidation", "validationErrors": errors,
                "version": 1, "formatVersion": BACKUP_FORMAT_VERSION,
                "expiration": status.expiration,
            });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .ctx(|| format!("mark Backup {ns}/{name} FailedValidation"))?;
            return Ok(());
        }
        let Some(location) = location else {
            return Ok(());
        };
        let mut patch = base;
        patch["status"] = json!({
            "phase": "InProgress", "version": 1, "formatVersion": BACKUP_FORMAT_VERSION,
            "expiration": status.expiration, "startTimestamp": k8s_time(now),
        });
        let updated = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .ctx(|| format!("mark Backup {ns}/{name} InProgress"))?;
        backup.metadata = updated.metadata.clone();
        backup.status = updated.status.clone();
        let final_status = self.execute(&mut backup, &location, now).await?;
        api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": final_status })))
            .await
            .ctx(|| format!("update status of Backup {ns}/{name}"))?;
        Ok(())
    }

    /// Velero's `prepareBackupRequest`: defaults, labels, annotations and validation errors.
    async fn prepare(
        &self,
        mut backup: Backup,
        now: Timestamp,
    ) -> Result<(Backup, Option<BackupStorageLocation>, Vec<String>), VeleroError> {
        let ns = &self.ctx.namespace;
        let mut errors = Vec::new();
        let ttl = match backup.spec.ttl.as_deref() {
            None | Some("") => self.default_ttl,
            Some(text) => match parse_go_duration(text) {
                Ok(d) if d.is_zero() => self.default_ttl,
                Ok(d) => d,
                Err(e) => {
                    errors.push(format!("spec.ttl: {e}"));
                    self.default_ttl
                }
            },
        };
        backup.spec.ttl = Some(format_go_duration(ttl));
        if backup
            .spec
            .csi_snapshot_timeout
            .as_deref()
            .is_none_or(|t| parse_go_duration(t).is_ok_and(|d| d.is_zero()))
        {
            backup.spec.csi_snapshot_timeout = Some(format_go_duration(DEFAULT_CSI_SNAPSHOT_TIMEOUT));
        }
        if backup
            .spec
            .item_operation_timeout
            .as_deref()
            .is_none_or(|t| parse_go_duration(t).is_ok_and(|d| d.is_zero()))
        {
            backup.spec.item_operation_timeout = Some(format_go_duration(DEFAULT_ITEM_OPERATION_TIMEOUT));
        }
        if backup.spec.default_volumes_to_fs_backup.is_none() {
            backup.spec.default_volumes_to_fs_backup = Some(backup.spec.default_volumes_to_restic.unwrap_or(false));
        }
        if backup.spec.snapshot_move_data.is_none() {
            backup.spec.snapshot_move_data = Some(false);
        }
        let expiration = now
            .checked_add(jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(now);
        let status = backup.status.get_or_insert_with(Default::default);
        status.version = 1;
        status.format_version = Some(BACKUP_FORMAT_VERSION.to_string());
        status.expiration = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(expiration));

        let locations: Api<BackupStorageLocation> = Api::namespaced(self.ctx.client.clone(), ns);
        let server_specified = backup.spec.storage_location.as_deref().is_none_or(str::is_empty);
        if server_specified {
            let all = locations
                .list(&ListParams::default())
                .await
                .ctx(|| format!("list BackupStorageLocations in {ns}"))?;
            let default = all.items.iter().find(|l| l.spec.default).map(|l| l.name_any());
            backup.spec.storage_location = Some(default.unwrap_or_else(|| "default".to_string()));
        }
        let location_name = backup.spec.storage_location.clone().unwrap_or_default();
        let location = locations
            .get_opt(&location_name)
            .await
            .ctx(|| format!("get BackupStorageLocation {ns}/{location_name}"))?;
        match &location {
            None => errors.push(format!(
                "an existing backup storage location wasn't specified at backup creation time and the {}'{location_name}' wasn't found. Please address this issue (see `velero backup-location -h` for options) and create a new backup. Error: backupstoragelocations.velero.io \"{location_name}\" not found",
                if server_specified { "default " } else { "" }
            )),
            Some(l) => {
                if l.spec.access_mode == Some(BackupStorageLocationAccessMode::ReadOnly) {
                    errors.push(format!(
                        "backup can't be created because backup storage location {location_name} is currently in read-only mode"
                    ));
                }
                if !is_available(l) {
                    errors.push(format!(
                        "backup can't be created because BackupStorageLocation {location_name} is in Unavailable status."
                    ));
                }
            }
        }
        backup
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(STORAGE_LOCATION_LABEL.to_string(), valid_label_value(&location_name));
        let version = self
            .ctx
            .client
            .apiserver_version()
            .await
            .ctx(|| "get the API server's version".to_string())?;
        let annotations = backup.metadata.annotations.get_or_insert_with(Default::default);
        annotations.insert("velero.io/source-cluster-k8s-gitversion".into(), version.git_version.clone());
        annotations.insert("velero.io/source-cluster-k8s-major-version".into(), version.major.clone());
        annotations.insert("velero.io/source-cluster-k8s-minor-version".into(), version.minor.clone());
        annotations.insert("velero.io/resource-timeout".into(), "10m0s".into());

        let spec = &backup.spec;
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        let old_used = !list(&spec.included_resources).is_empty()
            || !list(&spec.excluded_resources).is_empty()
            || spec.include_cluster_resources.is_some();
        let new_used = !list(&spec.included_cluster_scoped_resources).is_empty()
            || !list(&spec.excluded_cluster_scoped_resources).is_empty()
            || !list(&spec.included_namespace_scoped_resources).is_empty()
            || !list(&spec.excluded_namespace_scoped_resources).is_empty();
        if old_used && new_used {
            errors.push(
                "include-resources, exclude-resources and include-cluster-resources are old filter parameters.\ninclude-cluster-scoped-resources, exclude-cluster-scoped-resources, include-namespace-scoped-resources and exclude-namespace-scoped-resources are new filter parameters.\nThey cannot be used together".to_string(),
            );
        }
        for e in validate_includes_excludes(&list(&spec.included_resources), &list(&spec.excluded_resources)) {
            errors.push(format!("Invalid included/excluded resource lists: {e}"));
        }
        for e in validate_scoped_includes_excludes(
            &list(&spec.included_cluster_scoped_resources),
            &list(&spec.excluded_cluster_scoped_resources),
        ) {
            errors.push(format!("Invalid cluster-scoped included/excluded resource lists: {e}"));
        }
        for e in validate_scoped_includes_excludes(
            &list(&spec.included_namespace_scoped_resources),
            &list(&spec.excluded_namespace_scoped_resources),
        ) {
            errors.push(format!("Invalid namespace-scoped included/excluded resource lists: {e}"));
        }
        let (inc_ns, exc_ns) = (list(&spec.included_namespaces), list(&spec.excluded_namespaces));
        let mut ns_errors = validate_includes_excludes(&inc_ns, &exc_ns);
        let mut names: Vec<&String> = inc_ns.iter().chain(exc_ns.iter()).collect();
        names.sort();
        names.dedup();
        ns_errors.extend(names.into_iter().filter_map(|n| validate_namespace_name(n)));
        for e in ns_errors {
            errors.push(format!("Invalid included/excluded namespace lists: {e}"));
        }
        if spec.or_label_selectors.is_some() && spec.label_selector.is_some() {
            errors.push("encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified".to_string());
        }
        let location = if errors.is_empty() { location } else { None };
        Ok((backup, location, errors))
    }

    /// Collects, writes and uploads; returns the final status.
    async fn execute(&self, backup: &mut Backup, location: &BackupStorageLocation, start: Timestamp) -> Result<Value, VeleroError> {
        let ns = &self.ctx.namespace;
        let name = backup.name_any();
        let mut log = BackupLog::new(&format!("{ns}/{name}"), start);
        log.info("Setting up backup log", &[]);
        log.info("Setting up backup temp file", &[]);
        log.info("Setting up plugin manager", &[]);
        log.info("Getting backup item actions", &[]);
        log.info("Setting up backup store to check for backup existence", &[]);
        let store = match object_store_for(&self.ctx.client, ns, location).await {
            Ok(s) => s,
            Err(e) => return Ok(self.failed(backup, format!("error getting backup store: {e}"))),
        };
        let layout = store.layout().clone();
        match store.exists(&layout.backup_metadata_key(&name)).await {
            Ok(true) => return Ok(self.failed(backup, "backup already exists in object storage".to_string())),
            Ok(false) => {}
            Err(e) => {
                return Ok(self.failed(
                    backup,
                    format!("error checking if backup already exists in object storage: {}", plugin_error(&e)),
                ));
            }
        }
        let catalog = ResourceCatalog::discover(&self.ctx.client).await?;
        let mut run = Run::new(&self.ctx.client, &catalog, backup, &self.actions, log);
        run.collect().await?;
        let Run { items, mut log, .. } = run;
        let pod_volumes = back_up_pod_volumes(&self.ctx, backup, location, &store, &items).await?;
        for (ns, msg) in &pod_volumes.warnings {
            log.warn(msg, Some(ns), &[]);
        }
        for (ns, msg) in &pod_volumes.errors {
            log.error(msg, Some(ns), &[]);
        }
        log.info("Backed up a total of items", &[("backedUpItems", &items.len().to_string())]);

        let now = self.ctx.clock.now();
        let (warnings, errors) = (log.warnings.len() as i32, log.errors.len() as i32);
        let phase = if errors > 0 { "PartiallyFailed" } else { "Completed" };
        let status = backup.status.get_or_insert_with(Default::default);
        status.phase = Some(if errors > 0 {
            BackupPhase::PartiallyFailed
        } else {
            BackupPhase::Completed
        });
        status.start_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(start));
        status.completion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        status.warnings = warnings;
        status.errors = errors;
        status.progress = Some(drdrill_apis::velero::BackupProgress {
            total_items: items.len() as i32,
            items_backed_up: items.len() as i32,
        });
        status.failure_reason = None;
        status.validation_errors = None;
        log.info(&format!("Backup completed with phase {phase}"), &[]);
        let files = match self.encode(backup, &items, &log, &pod_volumes, now) {
            Ok(f) => f,
            Err(e) => return Ok(self.failed(backup, e)),
        };
        match put_backup(&store, &layout, &name, &files).await {
            Ok(log_errors) => {
                for e in log_errors {
                    tracing::error!(backup = %name, error = %e, "Error uploading log file");
                }
            }
            Err(reason) => {
                tracing::error!(backup = %name, %reason, "backup upload failed");
                return Ok(self.failed(backup, reason));
            }
        }
        tracing::info!(backup = %name, phase, items = items.len(), "backup finished");
        serde_json::to_value(backup.status.clone().unwrap_or_default()).ctx(|| format!("serialize status of Backup {ns}/{name}"))
    }

    /// Every file of the backup, keyed by suffix.
    fn encode(
        &self,
        backup: &Backup,
        items: &[BackupItem],
        log: &BackupLog,
        pod_volumes: &PodVolumeBackupOutcome,
        now: Timestamp,
    ) -> Result<BTreeMap<&'static str, (BackupFile, Vec<u8>)>, String> {
        let enc = |e: format::FormatError| format!("error encoding backup files: {e}");
        let none = None::<Vec<()>>;
        let mut files = BTreeMap::new();
        let mut add = |f: BackupFile, data: Vec<u8>| {
            files.insert(f.suffix(), (f, data));
        };
        add(
            BackupFile::Log,
            format::gzip(log.text.as_bytes()).map_err(|e| format!("error encoding backup log: {e}"))?,
        );
        add(BackupFile::Metadata, encode_backup_metadata(backup).map_err(enc)?);
        add(
            BackupFile::Contents,
            format::write_backup_tarball_at(items, now.as_second().max(0) as u64).map_err(enc)?,
        );
        add(BackupFile::PodVolumeBackups, pod_volumes.encode().map_err(enc)?);
        add(
            BackupFile::VolumeSnapshots,
            encode_json_gz(&none, "native volumesnapshots list").map_err(enc)?,
        );
        add(
            BackupFile::ItemOperations,
            encode_json_gz(&none, "backup item operations list").map_err(enc)?,
        );
        let list = format::resource_list(items).map_err(enc)?;
        add(BackupFile::ResourceList, encode_resource_list(&list).map_err(enc)?);
        add(
            BackupFile::CsiVolumeSnapshots,
            encode_json_gz(&none, "csi volume snapshots list").map_err(enc)?,
        );
        add(
            BackupFile::CsiVolumeSnapshotContents,
            encode_json_gz(&none, "csi volume snapshot contents list").map_err(enc)?,
        );
        add(
            BackupFile::CsiVolumeSnapshotClasses,
            encode_json_gz(&none, "csi volume snapshot classes list").map_err(enc)?,
        );
        let results = BTreeMap::from([("errors", &log.errors), ("warnings", &log.warnings)]);
        add(BackupFile::Results, encode_json_gz(&results, "backup results").map_err(enc)?);
        Ok(files)
    }

    fn failed(&self, backup: &mut Backup, reason: String) -> Value {
        tracing::error!(backup = %backup.name_any(), %reason, "backup failed");
        let now = k8s_time(self.ctx.clock.now());
        let status = backup.status.clone().unwrap_or_default();
        json!({
            "phase": "Failed",
            "failureReason": reason,
            "completionTimestamp": now,
            "startTimestamp": status.start_timestamp,
            "expiration": status.expiration,
            "version": 1,
            "formatVersion": BACKUP_FORMAT_VERSION,
        })
    }
}

/// Velero's `label.GetValidName`: values over 63 characters are cut to 57 plus the first six
/// hex digits of the whole value's SHA-256.
pub fn valid_label_value(value: &str) -> String {
    use sha2::{Digest, Sha256};
    if value.len() <= 63 {
        return value.to_string();
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", &value[..57])
}

// ---------------------------------------------------------------------------------------------
// One backup's item collection

struct Run<'a> {
    client: &'a Client,
    catalog: &'a ResourceCatalog,
    backup: &'a Backup,
    actions: &'a [Arc<dyn BackupItemAction>],
    namespaces: IncludesExcludes,
    resources: ResourceFilter,
    log: BackupLog,
    items: Vec<BackupItem>,
    seen: HashSet<(String, String, String)>,
}

impl<'a> Run<'a> {
    fn new(
        client: &'a Client,
        catalog: &'a ResourceCatalog,
        backup: &'a Backup,
        actions: &'a [Arc<dyn BackupItemAction>],
        mut log: BackupLog,
    ) -> Self {
        let spec = &backup.spec;
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        let namespaces = IncludesExcludes::new(&list(&spec.included_namespaces), &list(&spec.excluded_namespaces));
        let mut resolve = |names: Vec<String>| -> Vec<String> {
            names
                .into_iter()
                .filter_map(|n| {
                    if n == "*" {
                        return Some(n);
                    }
                    match catalog.resolve(&n) {
                        Some(r) => Some(r.group_resource()),
                        None => {
                            log.warn(&format!("unable to resolve resource {n:?}"), None, &[]);
                            None
                        }
                    }
                })
                .collect()
        };
        let new_style = [
            &spec.included_cluster_scoped_resources,
            &spec.excluded_cluster_scoped_resources,
            &spec.included_namespace_scoped_resources,
            &spec.excluded_namespace_scoped_resources,
        ]
        .iter()
        .any(|l| !list(l).is_empty());
        let resources = if new_style {
            ResourceFilter::Scoped {
                cluster: IncludesExcludes::new(
                    &resolve(list(&spec.included_cluster_scoped_resources)),
                    &resolve(list(&spec.excluded_cluster_scoped_resources)),
                ),
                namespaced: IncludesExcludes::new(
                    &resolve(list(&spec.included_namespace_scoped_resources)),
                    &resolve(list(&spec.excluded_namespace_scoped_resources)),
                ),
            }
        } else {
            ResourceFilter::Old {
                resources: IncludesExcludes::new(&resolve(list(&spec.included_resources)), &resolve(list(&spec.excluded_resources))),
                include_cluster_resources: spec.include_cluster_resources,
            }
        };
        log.info(
            "Including namespaces",
            &[
                ("namespaces", &namespaces.includes().join(",")),
                ("excluded", &list(&spec.excluded_namespaces).join(",")),
            ],
        );
        Run {
            client,
            catalog,
            backup,
            actions,
            namespaces,
            resources,
            log,
            items: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The namespaces to list namespaced resources in; `[None]` lists across all of them.
    fn namespaces_to_list(&self) -> Vec<Option<String>> {
        if self.namespaces.should_include("*") {
            return vec![None];
        }
        self.namespaces
            .includes()
            .iter()
            .filter(|n| self.namespaces.should_include(n))
            .map(|n| Some(n.clone()))
            .collect()
    }

    async fn collect(&mut self) -> Result<(), VeleroError> {
        let resources: Vec<ServedResource> = self.catalog.resources().iter().filter(|r| r.listable()).cloned().collect();
        let selectors: Vec<String> = match (&self.backup.spec.or_label_selectors, &self.backup.spec.label_selector) {
            (Some(or), _) => or.iter().map(format_label_selector).collect(),
            (None, Some(s)) => vec![format_label_selector(s)],
            (None, None) => vec![String::new()],
        };
        for resource in resources {
            let gr = resource.group_resource();
            if !self.resources.collects(&gr, resource.namespaced, &self.namespaces) {
                continue;
            }
            self.log.info("Getting items for resource", &[("resource", &gr)]);
            let scopes = if resource.namespaced {
                self.namespaces_to_list()
            } else {
                vec![None]
            };
            for scope in scopes {
                let api = resource.api(self.client, scope.as_deref());
                for selector in &selectors {
                    let params = if selector.is_empty() || gr == "namespaces" {
                        ListParams::default()
                    } else {
                        ListParams::default().labels(selector)
                    };
                    let listed = match api.list(&params).await {
                        Ok(l) => l.items,
                        Err(e) => {
                            self.log.error(&format!("Error listing items: {e}"), None, &[("resource", &gr)]);
                            continue;
                        }
                    };
                    for obj in listed {
                        let object = as_value(obj, &resource);
                        if gr == "namespaces" && !self.namespaces.should_include(object["metadata"]["name"].as_str().unwrap_or("")) {
                            continue;
                        }
                        self.back_up_item(object, resource.clone(), false).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Velero's `backupItem`: checks, actions (and their additional items), then the item.
    fn back_up_item(&mut self, object: Value, resource: ServedResource, must_include: bool) -> BoxFuture<'_, Result<bool, VeleroError>> {
        Box::pin(async move {
            let gr = resource.group_resource();
            let meta = &object["metadata"];
            let name = meta["name"].as_str().unwrap_or_default().to_string();
            let namespace = meta["namespace"].as_str().unwrap_or_default().to_string();
            let fields = [
                ("name", name.as_str()),
                ("namespace", namespace.as_str()),
                ("resource", gr.as_str()),
            ];
            if !must_include {
                if meta["labels"][EXCLUDE_FROM_BACKUP_LABEL].as_str() == Some("true") {
                    self.log.info(
                        &format!("Excluding item because it has label {EXCLUDE_FROM_BACKUP_LABEL}=true"),
                        &fields,
                    );
                    return Ok(false);
                }
                if !namespace.is_empty() && !self.namespaces.should_include(&namespace) {
                    return Ok(false);
                }
                if !self.resources.item_passes(&gr, resource.namespaced, &self.namespaces) {
                    return Ok(false);
                }
            }
            if !meta["deletionTimestamp"].is_null() {
                self.log.info("Skipping item because it's being deleted.", &fields);
                return Ok(false);
            }
            let key = (gr.clone(), namespace.clone(), name.clone());
            if self.seen.contains(&key) {
                return Ok(true);
            }
            self.seen.insert(key);
            self.log.info("Backing up item", &fields);
            let mut object = object;
            let actions: Vec<Arc<dyn BackupItemAction>> = self.actions.iter().filter(|a| a.applies_to(&gr)).cloned().collect();
            for action in actions {
                self.log.info(
                    "Executing custom action",
                    &[("action", action.name()), ("name", &name), ("resource", &gr)],
                );
                let env = ActionEnv {
                    client: self.client,
                    catalog: self.catalog,
                };
                let output = match action.execute(object.clone(), self.backup, &env).await {
                    Ok(o) => o,
                    Err(e) => {
                        let msg = format!("error executing custom action (groupResource={gr}, namespace={namespace}, name={name}): {e}");
                        self.log.error(&msg, Some(&namespace), &fields);
                        continue;
                    }
                };
                for w in &output.warnings {
                    self.log.warn(w, Some(&namespace), &fields);
                }
                for extra in &output.additional_items {
                    let Some(extra_resource) = self.catalog.by_group_resource(&extra.group_resource).cloned() else {
                        let msg = format!("additional item's resource {} is not served", extra.group_resource);
                        self.log.warn(&msg, Some(&namespace), &fields);
                        continue;
                    };
                    let api = extra_resource.api(self.client, extra.namespace.as_deref());
                    match api.get_opt(&extra.name).await {
                        Ok(Some(found)) => {
                            let value = as_value(found, &extra_resource);
                            self.back_up_item(value, extra_resource, output.must_include).await?;
                        }
                        Ok(None) => {
                            let ns = extra.namespace.clone().unwrap_or_default();
                            self.log.warn(
                                "Additional item was not found in Kubernetes API, can't back it up",
                                Some(&ns),
                                &[("groupResource", &extra.group_resource), ("name", &extra.name), ("namespace", &ns)],
                            );
                        }
                        Err(e) => {
                            let msg = format!("error getting additional item {}/{}: {e}", extra.group_resource, extra.name);
                            self.log.error(&msg, Some(&namespace), &fields);
                        }
                    }
                }
                object = output.item;
            }
            match BackupItem::new(&gr, object) {
                Ok(item) => self.items.push(item),
                Err(e) => {
                    self.log.error(&format!("Error backing up item: {e}"), Some(&namespace), &fields);
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }
}

/// A listed object as Velero writes it: the API's JSON with `apiVersion` and `kind` set.
fn as_value(obj: DynamicObject, resource: &ServedResource) -> Value {
    let mut value = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), json!(resource.api.api_version));
        map.insert("kind".into(), json!(resource.api.kind));
    }
    value
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn served(group: &str, plural: &str, kind: &str, short: &[&str], namespaced: bool) -> ServedResource {
        ServedResource {
            api: ApiResource {
                group: group.into(),
                version: "v1".into(),
                api_version: if group.is_empty() { "v1".into() } else { format!("{group}/v1") },
                kind: kind.into(),
                plural: plural.into(),
            },
            singular: kind.to_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced,
            verbs: vec!["get".into(), "list".into()],
        }
    }

    #[test]
    fn names_resolve_like_velero() {
        let catalog = ResourceCatalog::from_resources(vec![
            served("", "secrets", "Secret", &[], true),
            served("cluster.x-k8s.io", "clusters", "Cluster", &["cl"], true),
            served("velero.io", "backupstoragelocations", "BackupStorageLocation", &["bsl"], true),
        ]);
        for name in ["cluster.cluster.x-k8s.io", "clusters.cluster.x-k8s.io", "Cluster", "clusters", "cl"] {
            assert_eq!(
                catalog.resolve(name).map(|r| r.group_resource()).as_deref(),
                Some("clusters.cluster.x-k8s.io"),
                "{name}"
            );
        }
        assert_eq!(
            catalog.resolve("bsl").map(|r| r.group_resource()).as_deref(),
            Some("backupstoragelocations.velero.io")
        );
        assert_eq!(catalog.resolve("secrets").map(|r| r.group_resource()).as_deref(), Some("secrets"));
        assert!(catalog.resolve("cluster.example.com").is_none());
        assert!(catalog.resolve("widgets").is_none());
    }

    #[test]
    fn includes_excludes_follow_velero() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let ie = IncludesExcludes::new(&[], &s(&["tkg-system"]));
        assert!(ie.should_include("default"));
        assert!(!ie.should_include("tkg-system"));
        assert!(ie.should_include("*"));
        assert!(!ie.include_everything());
        assert!(IncludesExcludes::new(&s(&["*"]), &[]).include_everything());
        let globbed = IncludesExcludes::new(&s(&["team-*"]), &s(&["team-b?"]));
        assert!(globbed.should_include("team-a"));
        assert!(!globbed.should_include("team-bx"));
        assert!(!globbed.should_include("other"));
        assert_eq!(
            validate_includes_excludes(&s(&["*", "a"]), &s(&["*", "a"])),
            [
                "includes list must either contain '*' only, or a non-empty list of items",
                "excludes list cannot contain '*'",
                "excludes list cannot contain an item in the includes list: *",
                "excludes list cannot contain an item in the includes list: a",
            ]
        );
        assert!(validate_namespace_name("Bad_NS").is_some());
        assert!(validate_namespace_name("team-*").is_none());
    }

    #[test]
    fn cluster_scoped_resources_need_an_all_namespaces_backup() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let old = |include_cluster| ResourceFilter::Old {
            resources: IncludesExcludes::default(),
            include_cluster_resources: include_cluster,
        };
        let all = IncludesExcludes::default();
        let some = IncludesExcludes::new(&[], &s(&["tkg-system"]));
        assert!(old(None).collects("nodes", false, &all));
        assert!(!old(None).collects("nodes", false, &some));
        assert!(old(None).collects("namespaces", false, &some));
        assert!(old(Some(true)).collects("nodes", false, &some));
        assert!(!old(Some(false)).collects("nodes", false, &all));
        assert!(old(None).collects("secrets", true, &some));
    }

    #[test]
    fn label_selectors_format_like_metav1() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "gone", "operator": "DoesNotExist"},
            ]
        }))
        .unwrap();
        assert_eq!(format_label_selector(&selector), "app=web,tier in (a,b),!gone");
    }

    #[test]
    fn log_lines_look_like_logrus() {
        let mut log = BackupLog::new("velero/b", "2022-12-07T17:10:42Z".parse().unwrap());
        log.info("Backing up item", &[("name", "wc"), ("namespace", "default")]);
        log.warn("odd thing", Some("default"), &[]);
        assert_eq!(
            log.text.lines().next(),
            Some("time=\"2022-12-07T17:10:42Z\" level=info msg=\"Backing up item\" backup=velero/b name=wc namespace=default")
        );
        assert_eq!(log.warnings.namespaces["default"], ["odd thing"]);
        assert_eq!(log.warnings.len(), 1);
    }

    /// Records puts and deletes; fails the `fail_at`-th put (0-based).
    struct FakeSink {
        fail_at: usize,
        puts: Mutex<Vec<String>>,
        stored: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl BlobSink for FakeSink {
        async fn put(&self, key: &str, _data: Vec<u8>) -> Result<(), StoreError> {
            let mut puts = self.puts.lock().unwrap();
            puts.push(key.to_string());
            if puts.len() - 1 == self.fail_at {
                return Err(StoreError::S3 {
                    operation: "put",
                    target: format!("mgmt/{key}"),
                    code: "ServiceUnavailable".into(),
                    message: "injected".into(),
                });
            }
            self.stored.lock().unwrap().push(key.to_string());
            Ok(())
        }

        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.stored.lock().unwrap().retain(|k| k != key);
            Ok(())
        }
    }

    fn all_files() -> BTreeMap<&'static str, (BackupFile, Vec<u8>)> {
        UPLOAD_ORDER.iter().map(|f| (f.suffix(), (*f, b"x".to_vec()))).collect()
    }

    #[tokio::test]
    async fn uploads_follow_put_backup_order_and_clean_up() {
        let layout = BackupLayout::new("");
        let ok = FakeSink {
            fail_at: usize::MAX,
            puts: Mutex::default(),
            stored: Mutex::default(),
        };
        put_backup(&ok, &layout, "b", &all_files()).await.expect("uploads");
        let expected: Vec<String> = UPLOAD_ORDER.iter().map(|f| layout.backup_key("b", *f)).collect();
        assert_eq!(*ok.puts.lock().unwrap(), expected);
        assert_eq!(expected[1], "backups/b/velero-backup.json");
        assert_eq!(expected[10], "backups/b/b-results.gz");

        // The log is best effort.
        let log_fails = FakeSink {
            fail_at: 0,
            puts: Mutex::default(),
            stored: Mutex::default(),
        };
        let log_errors = put_backup(&log_fails, &layout, "b", &all_files())
            .await
            .expect("log failure is not fatal");
        assert_eq!(log_errors.len(), 1);
        assert!(
            log_fails
                .stored
                .lock()
                .unwrap()
                .contains(&"backups/b/velero-backup.json".to_string())
        );

        // Any later failure leaves neither velero-backup.json nor the tarball behind.
        for (fail_at, failing) in UPLOAD_ORDER.iter().enumerate().skip(1) {
            let sink = FakeSink {
                fail_at,
                puts: Mutex::default(),
                stored: Mutex::default(),
            };
            let reason = put_backup(&sink, &layout, "b", &all_files()).await.expect_err("fails");
            let failed_key = layout.backup_key("b", *failing);
            assert!(reason.contains(&failed_key) && reason.contains("ServiceUnavailable"), "{reason}");
            let stored = sink.stored.lock().unwrap();
            assert!(
                !stored.contains(&"backups/b/velero-backup.json".to_string()),
                "fail_at {fail_at}: {stored:?}"
            );
            assert!(!stored.contains(&"backups/b/b.tar.gz".to_string()), "fail_at {fail_at}: {stored:?}");
            assert_eq!(sink.puts.lock().unwrap().len(), fail_at + 1, "stops at the failure");
        }
    }

    #[test]
    fn long_label_values_are_shortened() {
        assert_eq!(valid_label_value("default"), "default");
        let long = "x".repeat(80);
        let v = valid_label_value(&long);
        assert_eq!(v.len(), 63);
        assert_eq!(v, valid_label_value(&long));
    }
}
