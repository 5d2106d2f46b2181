//! The restore controller: takes each new Restore from validation through restoring the
//! backup's items into the cluster to its final phase, and uploads the restore's log, results
//! and resource list next to the backup.
//!
//! Facts from Velero (v1.18 unless said otherwise; `pkg/controller/restore_controller.go`,
//! `pkg/restore/restore.go`):
//!
//! * only Restores in phase `""` / `New` are processed; validation errors end in
//!   `FailedValidation` with `status.validationErrors`, otherwise the Restore goes `InProgress`
//!   (with `startTimestamp`) and then `Completed`, or `PartiallyFailed` when any item failed;
//!   `Failed` with `failureReason` when the backup cannot be read at all. Upstream passes through
//!   `Finalizing` for post-restore work this simulator does not have; here the final phase is
//!   written in the same pass.
//! * the non-restorable resources are appended to `spec.excludedResources`; a `scheduleName`
//!   resolves to the most recent Completed backup of that schedule (label
//!   `velero.io/schedule-name`), written to `spec.backupName`.
//! * resources are restored CRDs first, then in priority order (see [`Priorities`]); items of
//!   one resource by namespace, then by name (the tarball's directory order).
//! * each item loses `generateName`, `selfLink`, `uid`, `resourceVersion`, `generation`,
//!   `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds` and
//!   **`ownerReferences`** (v1.9 kept only name, namespace, labels and annotations, so
//!   ownerReferences went then too: owners get new UIDs in the target cluster, and the garbage
//!   collector would delete objects pointing at absent owners). `finalizers` stay (v1.10+).
//!   Upstream re-applies `managedFields` after the create; here they are dropped and the
//!   server records its own. Status is dropped unless `spec.restoreStatus` (or the object's
//!   `velero.io/restore-status` annotation) keeps it: then it is written through the status
//!   subresource, or with the object when its resource has none.
//! * labels `velero.io/backup-name` and `velero.io/restore-name` are added (values shortened
//!   to 63 characters as `label.GetValidName` does).
//! * the TKG management-cluster plugin's restore action sets `spec.paused: true` on every
//!   `clusters.cluster.x-k8s.io` item, so restored clusters are not reconciled until unpaused.
//! * an existing object: identical → skipped; different → a warning (`existingResourcePolicy`
//!   unset or `none`) or a merge patch towards the backed-up object (`update`).
//! * a resource the cluster does not serve fails its items with an error (v1.9 wording:
//!   errors, not warnings); the restore goes on and ends `PartiallyFailed`.
//! * pod volume data comes back through PodVolumeRestores ([`super::podvolume`]); a restore that
//!   created any stays `InProgress` until they finish.
//! * the files go to `restores/<name>/`: the log, `{"errors":…,"warnings":…}` results, the
//!   resource list of `<ns>/<name>(<action>)` entries, and empty item-operations and
//!   volume-info lists.
//!
//! Where this simulator adds to upstream, on the drill's side: a backup that is not
//! `Completed` or `PartiallyFailed` fails validation (upstream would try it), and a tarball
//! that cannot be read whole fails the restore (`Failed`, the file named in `failureReason`)
//! before anything is created — upstream records the extraction error as a restore error.

mod discovery;
mod filters;

use std::collections::{BTreeMap, HashMap, HashSet};

use drdrill_apis::velero::{
    BACKUP_NAME_LABEL, Backup, BackupPhase, BackupStorageLocation, BackupStorageLocationPhase, RESTORE_NAME_LABEL, Restore, RestorePhase,
    RestoreProgress, RestoreSpec, RestoreStatus, SCHEDULE_NAME_LABEL,
};
use drdrill_kube_sim::clock::k8s_time;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub use discovery::{ResourceMap, ServedResource};
pub use filters::{
    DEFAULT_HIGH_PRIORITIES, DEFAULT_LOW_PRIORITIES, IncludesExcludes, NON_RESTORABLE_RESOURCES, Priorities, glob_match, selector_matches,
    validate_includes_excludes,
};

use super::podvolume::{ItemAdjustment, RestorePlan, start_pod_volume_restores};
use super::{Context, Report, ServerContext, VeleroError, object_store_for};
use crate::format::{BackupItem, encode_json_gz, gzip, read_backup_archive};
use crate::layout::RestoreFile;

/// The resource the TKG management-cluster plugin pauses on restore.
pub const CAPI_CLUSTERS: &str = "clusters.cluster.x-k8s.io";

/// The object annotation that overrides `spec.restoreStatus` for one object (`true`/`false`).
pub const RESTORE_STATUS_ANNOTATION: &str = "velero.io/restore-status";

/// `existingResourcePolicy: none`: keep the in-cluster object, warn when it differs.
pub const POLICY_NONE: &str = "none";

/// `existingResourcePolicy: update`: patch the in-cluster object towards the backup.
pub const POLICY_UPDATE: &str = "update";

/// What happened to one item, as the restore's resource list records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemAction {
    /// Created in the cluster.
    Created,
    /// Existed and was patched (`existingResourcePolicy: update`).
    Updated,
    /// Not restored, without error (e.g. it exists unchanged).
    Skipped,
    /// Not restored because of an error or warning.
    Failed,
}

impl ItemAction {
    /// The word Velero writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// Warnings or errors of a restore, by where they arose (Velero's `results.Result`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RestoreResult {
    /// About Velero itself (reading the backup, uploading files, namespaces).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub velero: Vec<String>,
    /// About cluster-scoped items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    /// About namespaced items, by (target) namespace.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: BTreeMap<String, Vec<String>>,
}

impl RestoreResult {
    /// Adds a message for namespace `ns` (cluster-scoped when empty).
    pub fn add(&mut self, ns: &str, message: String) {
        if ns.is_empty() {
            self.cluster.push(message);
        } else {
            self.namespaces.entry(ns.to_string()).or_default().push(message);
        }
    }

    /// How many messages there are.
    pub fn count(&self) -> usize {
        self.velero.len() + self.cluster.len() + self.namespaces.values().map(Vec::len).sum::<usize>()
    }
}

/// The content of `restore-<name>-results.gz`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RestoreResults {
    /// The errors.
    pub errors: RestoreResult,
    /// The warnings.
    pub warnings: RestoreResult,
}

/// Velero's `label.GetValidName`: a value longer than 63 characters keeps its first 57 and
/// gets the first 6 hex digits of its SHA-256.
pub fn valid_label_value(value: &str) -> String {
    if value.len() <= 63 {
        return value.to_string();
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{}", &value[..57], &hex[..6])
}

/// Drops what a restored object must not carry over (Velero's `resetMetadataAndStatus`, plus
/// `managedFields`; see the module documentation). Fails when there is no metadata object.
pub fn reset_metadata_and_status(obj: &mut Value) -> Result<(), String> {
    let meta = obj
        .get_mut("metadata")
        .ok_or_else(|| "metadata not found".to_string())?
        .as_object_mut()
        .ok_or_else(|| "metadata is not an object".to_string())?;
    for key in [
        "generateName",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "ownerReferences",
        "managedFields",
    ] {
        meta.remove(key);
    }
    if let Some(map) = obj.as_object_mut() {
        map.remove("status");
    }
    Ok(())
}

/// The JSON merge patch that turns `old` into `new`; `None` when they are equal.
pub fn merge_patch(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if ov == nv => {}
                    Some(ov) if ov.is_object() && nv.is_object() => {
                        if let Some(p) = merge_patch(ov, nv) {
                            patch.insert(k.clone(), p);
                        }
                    }
                    _ => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ if old == new => None,
        _ => Some(new.clone()),
    }
}

/// Processes Restores (see the module documentation).
pub struct RestoreController {
    ctx: ServerContext,
    priorities: Priorities,
}

/// A validated restore's backup and the location it is read from.
struct BackupInfo {
    backup: Backup,
    location: BackupStorageLocation,
}

/// What a restore run produced.
struct Outcome {
    warnings: RestoreResult,
    errors: RestoreResult,
    items: usize,
    /// PodVolumeRestores created: the restore stays InProgress until they finish.
    pod_volume_restores: usize,
}

impl RestoreController {
    /// A controller with Velero's default resource priorities.
    pub fn new(ctx: ServerContext) -> Self {
        RestoreController {
            ctx,
            priorities: Priorities::default(),
        }
    }

    /// Uses `priorities` instead (`velero server --restore-resource-priorities`).
    pub fn with_priorities(mut self, priorities: Priorities) -> Self {
        self.priorities = priorities;
        self
    }

    /// One pass: every Restore in phase `""` or `New`, oldest first, is validated and run to
    /// its final phase.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let api: Api<Restore> = Api::namespaced(self.ctx.client.clone(), ns);
        let mut restores = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Restores in {ns}"))?
            .items;
        restores.sort_by(|a, b| {
            (a.metadata.creation_timestamp.as_ref(), a.name_any()).cmp(&(b.metadata.creation_timestamp.as_ref(), b.name_any()))
        });
        let mut report = Report::default();
        for restore in restores {
            let phase = restore.status.as_ref().and_then(|s| s.phase);
            if matches!(phase, None | Some(RestorePhase::New)) {
                self.process(restore, &mut report).await?;
            }
        }
        Ok(report)
    }

    async fn process(&self, restore: Restore, report: &mut Report) -> Result<(), VeleroError> {
        let name = restore.name_any();
        let mut spec = restore.spec.clone();
        let mut status = restore.status.clone().unwrap_or_default();
        let (errors, info) = self.validate_and_complete(&mut spec).await;
        if !errors.is_empty() {
            status.phase = Some(RestorePhase::FailedValidation);
            status.validation_errors = Some(errors);
            self.write(&name, &spec, &status).await?;
            report.updated.push(format!("Restore/{name}"));
            return Ok(());
        }
        let Some(info) = info else {
            return Ok(());
        };
        status.phase = Some(RestorePhase::InProgress);
        status.start_timestamp = Some(Time(self.ctx.clock.now()));
        self.write(&name, &spec, &status).await?;
        match self.run(&name, &spec, &info, report).await {
            Err(reason) => {
                status.phase = Some(RestorePhase::Failed);
                status.failure_reason = Some(reason);
            }
            Ok(outcome) => {
                status.warnings = outcome.warnings.count() as i32;
                status.errors = outcome.errors.count() as i32;
                status.progress = Some(RestoreProgress {
                    total_items: outcome.items as i32,
                    items_restored: outcome.items as i32,
                });
                status.phase = Some(if outcome.pod_volume_restores > 0 {
                    RestorePhase::InProgress
                } else if status.errors > 0 {
                    RestorePhase::PartiallyFailed
                } else {
                    RestorePhase::Completed
                });
            }
        }
        if status.phase != Some(RestorePhase::InProgress) {
            status.completion_timestamp = Some(Time(self.ctx.clock.now()));
        }
        self.write(&name, &spec, &status).await?;
        report.updated.push(format!("Restore/{name}"));
        Ok(())
    }

    /// Writes spec and status with one merge patch (Restores have no status subresource).
    async fn write(&self, name: &str, spec: &RestoreSpec, status: &RestoreStatus) -> Result<(), VeleroError> {
        let ns = &self.ctx.namespace;
        let api: Api<Restore> = Api::namespaced(self.ctx.client.clone(), ns);
        let patch = json!({
            "spec": serde_json::to_value(spec).ctx(|| format!("serialize Restore {ns}/{name} spec"))?,
            "status": serde_json::to_value(status).ctx(|| format!("serialize Restore {ns}/{name} status"))?,
        });
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .ctx(|| format!("update Restore {ns}/{name}"))?;
        Ok(())
    }

    /// Velero's `validateAndComplete`: the validation errors, and the backup when there are none.
    async fn validate_and_complete(&self, spec: &mut RestoreSpec) -> (Vec<String>, Option<BackupInfo>) {
        let mut errors = Vec::new();
        let excluded = spec.excluded_resources.get_or_insert_with(Vec::new);
        for r in NON_RESTORABLE_RESOURCES {
            if !excluded.iter().any(|e| e == r) {
                excluded.push(r.to_string());
            }
        }
        let included = spec.included_resources.clone().unwrap_or_default();
        for r in NON_RESTORABLE_RESOURCES {
            if included.iter().any(|i| i == r) {
                errors.push(format!("{r} are non-restorable resources"));
            }
        }
        let excluded = spec.excluded_resources.clone().unwrap_or_default();
        for e in validate_includes_excludes(&included, &excluded) {
            errors.push(format!("Invalid included/excluded resource lists: {e}"));
        }
        let (inc_ns, exc_ns) = (
            spec.included_namespaces.clone().unwrap_or_default(),
            spec.excluded_namespaces.clone().unwrap_or_default(),
        );
        for e in validate_includes_excludes(&inc_ns, &exc_ns) {
            errors.push(format!("Invalid included/excluded namespace lists: {e}"));
        }
        if spec.or_label_selectors.is_some() && spec.label_selector.is_some() {
            errors.push("encountered labelSelector as well as orLabelSelectors in restore spec, only one can be specified".to_string());
        }
        let backup_name = spec.backup_name.clone().filter(|s| !s.is_empty());
        let schedule_name = spec.schedule_name.clone().filter(|s| !s.is_empty());
        if backup_name.is_some() == schedule_name.is_some() {
            errors.push("Either a backup or schedule must be specified as a source for the restore, but not both".to_string());
            return (errors, None);
        }
        if let Some(policy) = spec.existing_resource_policy.as_deref().filter(|p| !p.is_empty())
            && policy != POLICY_NONE
            && policy != POLICY_UPDATE
        {
            errors.push(format!("Invalid ExistingResourcePolicy: {policy}"));
        }
        let ns = &self.ctx.namespace;
        let backups: Api<Backup> = Api::namespaced(self.ctx.client.clone(), ns);
        if let Some(schedule) = &schedule_name {
            let lp = ListParams::default().labels(&format!("{SCHEDULE_NAME_LABEL}={schedule}"));
            let list = match backups.list(&lp).await {
                Ok(list) => list.items,
                Err(_) => {
                    errors.push("Unable to list backups for schedule".to_string());
                    return (errors, None);
                }
            };
            if list.is_empty() {
                errors.push("No backups found for schedule".to_string());
            }
            match most_recent_completed(list) {
                Some(b) => spec.backup_name = Some(b.name_any()),
                None => {
                    errors.push("No completed backups found for schedule".to_string());
                    return (errors, None);
                }
            }
        }
        let backup_name = spec.backup_name.clone().unwrap_or_default();
        let backup = match backups.get(&backup_name).await {
            Ok(b) => b,
            Err(e) => {
                errors.push(format!(
                    "Error retrieving backup: can't find backup {ns}/{backup_name}: {}",
                    api_message(&e)
                ));
                return (errors, None);
            }
        };
        let phase = backup.status.as_ref().and_then(|s| s.phase);
        if !matches!(phase, Some(BackupPhase::Completed | BackupPhase::PartiallyFailed)) {
            errors.push(format!(
                "backup {ns}/{backup_name} is in phase {}: only a Completed or PartiallyFailed backup can be restored",
                phase.map_or("\"\"", BackupPhase::as_str)
            ));
            return (errors, None);
        }
        let location_name = backup.spec.storage_location.clone().unwrap_or_default();
        let locations: Api<BackupStorageLocation> = Api::namespaced(self.ctx.client.clone(), ns);
        let location = match locations.get(&location_name).await {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("Error retrieving backup: {}", api_message(&e)));
                return (errors, None);
            }
        };
        let available = location.status.as_ref().and_then(|s| s.phase) == Some(BackupStorageLocationPhase::Available);
        if !available {
            errors.push(format!("The BSL {location_name} is unavailable, cannot retrieve the backup"));
            return (errors, None);
        }
        if schedule_name.is_none()
            && let Some(s) = backup.labels().get(SCHEDULE_NAME_LABEL)
        {
            spec.schedule_name = Some(s.clone());
        }
        if !errors.is_empty() {
            return (errors, None);
        }
        (errors, Some(BackupInfo { backup, location }))
    }

    /// Reads the backup and restores it; `Err` is the failure reason of a `Failed` restore.
    async fn run(&self, name: &str, spec: &RestoreSpec, info: &BackupInfo, report: &mut Report) -> Result<Outcome, String> {
        let client = &self.ctx.client;
        let ns = &self.ctx.namespace;
        let store = object_store_for(client, ns, &info.location).await.map_err(|e| e.0)?;
        let backup_name = info.backup.name_any();
        let key = store.layout().backup_contents_key(&backup_name);
        let bytes = store.get(&key).await.map_err(|e| format!("error downloading backup: {e}"))?;
        let archive = read_backup_archive(&bytes, &key).map_err(|e| format!("error extracting backup: {e}"))?;
        let resources = ResourceMap::discover(client)
            .await
            .map_err(|e| format!("error discovering the resources the cluster serves: {}", api_message(&e)))?;
        let mut run = Run::new(self, name, &backup_name, spec, resources, archive.items);
        run.log.info(format!("starting restore of backup {ns}/{backup_name}"));
        match RestorePlan::load(&store, &backup_name, &spec.namespace_mapping).await {
            Ok(plan) => run.pod_volumes = plan,
            Err(e) => run.errors.velero.push(e),
        }
        run.execute(&self.priorities).await;
        let started = start_pod_volume_restores(&self.ctx, name, &info.location, &run.pod_volumes)
            .await
            .map_err(|e| format!("error starting pod volume restores: {e}"))?;
        for (ns, e) in started.errors {
            run.fail(&ns, e);
        }
        let pod_volume_restores = started.created.len();
        run.created.extend(started.created);
        run.log.info("restore completed".to_string());
        report.created.append(&mut run.created);
        report.updated.append(&mut run.updated);

        let layout = store.layout().clone();
        let log_key = layout.restore_key(name, RestoreFile::Log);
        let log_bytes = gzip(run.log.text().as_bytes()).map_err(|e| format!("error compressing the restore log: {e}"))?;
        if let Err(e) = store.put(&log_key, log_bytes).await {
            run.errors.velero.push(format!("error uploading log file to backup storage: {e}"));
        }
        let results = RestoreResults {
            errors: run.errors.clone(),
            warnings: run.warnings.clone(),
        };
        let files: [(RestoreFile, Result<Vec<u8>, crate::format::FormatError>); 4] = [
            (RestoreFile::Results, encode_json_gz(&results, "restore results")),
            (
                RestoreFile::ResourceList,
                encode_json_gz(&run.resource_list(), "restored resource list"),
            ),
            (
                RestoreFile::ItemOperations,
                encode_json_gz(&Vec::<Value>::new(), "restore item operations"),
            ),
            (RestoreFile::VolumeInfo, encode_json_gz(&Vec::<Value>::new(), "restore volume info")),
        ];
        for (file, bytes) in files {
            let key = layout.restore_key(name, file);
            let uploaded = match bytes {
                Ok(bytes) => store.put(&key, bytes).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = uploaded {
                tracing::error!(restore = %format!("{ns}/{name}"), "uploading {key}: {e}");
            }
        }
        Ok(Outcome {
            warnings: run.warnings,
            errors: run.errors,
            items: run.restored.len(),
            pod_volume_restores,
        })
    }
}

/// The most recent Completed backup by `status.startTimestamp` (`mostRecentCompletedBackup`).
fn most_recent_completed(mut backups: Vec<Backup>) -> Option<Backup> {
    let start = |b: &Backup| b.status.as_ref().and_then(|s| s.start_timestamp.clone()).map(|t| t.0);
    backups.sort_by_key(|b| std::cmp::Reverse(start(b)));
    backups
        .into_iter()
        .find(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Completed))
}

/// The API server's message for an API error, the error's text otherwise.
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_already_exists())
}

/// The restore's log, in logrus' text format.
struct RestoreLog {
    lines: Vec<String>,
    restore: String,
    clock: std::sync::Arc<dyn drdrill_kube_sim::clock::Clock>,
}

impl RestoreLog {
    fn line(&mut self, level: &str, msg: String) {
        let quoted = serde_json::to_string(&msg).unwrap_or_default();
        let time = k8s_time(self.clock.now());
        self.lines
            .push(format!("time=\"{time}\" level={level} msg={quoted} restore={}", self.restore));
    }
    fn info(&mut self, msg: String) {
        self.line("info", msg);
    }
    fn warn(&mut self, msg: String) {
        self.line("warning", msg);
    }
    fn error(&mut self, msg: String) {
        self.line("error", msg);
    }
    fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// Identifies a restored item: `<apiVersion>/<Kind>`, target namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ItemKey {
    resource: String,
    namespace: String,
    name: String,
}

/// Items selected from one resource of the backup, by original namespace.
struct Selected {
    group_resource: String,
    by_namespace: Vec<(String, Vec<SelectedItem>)>,
}

struct SelectedItem {
    object: Value,
    name: String,
    target_namespace: String,
}

/// One restore in progress.
struct Run<'a> {
    client: Client,
    restore_name: String,
    backup_name: String,
    spec: &'a RestoreSpec,
    resources: ResourceMap,
    backup: BTreeMap<String, BTreeMap<String, Vec<BackupItem>>>,
    namespace_filter: IncludesExcludes,
    status_filter: Option<IncludesExcludes>,
    restored: Vec<(ItemKey, Option<ItemAction>)>,
    restored_index: HashMap<ItemKey, usize>,
    existing_namespaces: HashSet<String>,
    warnings: RestoreResult,
    errors: RestoreResult,
    log: RestoreLog,
    created: Vec<String>,
    updated: Vec<String>,
    pod_volumes: RestorePlan,
}

impl<'a> Run<'a> {
    fn new(
        controller: &RestoreController,
        restore_name: &str,
        backup_name: &str,
        spec: &'a RestoreSpec,
        resources: ResourceMap,
        items: Vec<BackupItem>,
    ) -> Self {
        let mut backup: BTreeMap<String, BTreeMap<String, Vec<BackupItem>>> = BTreeMap::new();
        for item in items {
            let ns = item.namespace.clone().unwrap_or_default();
            backup
                .entry(item.group_resource.clone())
                .or_default()
                .entry(ns)
                .or_default()
                .push(item);
        }
        for by_ns in backup.values_mut() {
            for items in by_ns.values_mut() {
                items.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        let namespace_filter = IncludesExcludes::new(
            spec.included_namespaces.as_deref().unwrap_or_default(),
            spec.excluded_namespaces.as_deref().unwrap_or_default(),
            str::to_string,
        );
        let status_filter = spec.restore_status.as_ref().map(|rs| {
            IncludesExcludes::new(
                rs.included_resources.as_deref().unwrap_or_default(),
                rs.excluded_resources.as_deref().unwrap_or_default(),
                |r| resources.qualify(r),
            )
        });
        let ns = &controller.ctx.namespace;
        Run {
            client: controller.ctx.client.clone(),
            restore_name: restore_name.to_string(),
            backup_name: backup_name.to_string(),
            spec,
            resources,
            backup,
            namespace_filter,
            status_filter,
            restored: Vec::new(),
            restored_index: HashMap::new(),
            existing_namespaces: HashSet::new(),
            warnings: RestoreResult::default(),
            errors: RestoreResult::default(),
            log: RestoreLog {
                lines: Vec::new(),
                restore: format!("{ns}/{restore_name}"),
                clock: controller.ctx.clock.clone(),
            },
            created: Vec::new(),
            updated: Vec::new(),
            pod_volumes: RestorePlan::default(),
        }
    }

    fn resource_filter(&self) -> IncludesExcludes {
        IncludesExcludes::new(
            self.spec.included_resources.as_deref().unwrap_or_default(),
            self.spec.excluded_resources.as_deref().unwrap_or_default(),
            |r| self.resources.qualify(r),
        )
    }

    async fn execute(&mut self, priorities: &Priorities) {
        if self.backup.is_empty() {
            let msg = "zero items to be restored: the backup holds no resources".to_string();
            self.log.warn(msg.clone());
            self.warnings.velero.push(msg);
            return;
        }
        let mut processed = HashSet::new();
        let crds = Priorities {
            high: vec!["customresourcedefinitions".to_string()],
            low: Vec::new(),
        };
        let crd_list = crds.high.clone();
        for selected in self.select(&crd_list, &mut processed) {
            self.process_selected(selected).await;
        }
        let crds_changed = self.restored.iter().any(|(k, a)| {
            k.resource.ends_with("/CustomResourceDefinition") && matches!(a, Some(ItemAction::Created | ItemAction::Updated))
        });
        if crds_changed {
            match ResourceMap::discover(&self.client).await {
                Ok(map) => self.resources = map,
                Err(e) => self
                    .warnings
                    .add("", format!("refresh discovery after restoring CRDs: {}", api_message(&e))),
            }
        }
        let ordered = priorities.ordered(self.backup.keys());
        for selected in self.select(&ordered, &mut processed) {
            self.process_selected(selected).await;
        }
    }

    /// `getOrderedResourceCollection`: the items of each listed resource that pass the filters.
    fn select(&mut self, list: &[String], processed: &mut HashSet<String>) -> Vec<Selected> {
        let resource_filter = self.resource_filter();
        let include_cluster = self.spec.include_cluster_resources;
        let mut out = Vec::new();
        for resource in list {
            let gr = self.resources.qualify(resource);
            if processed.contains(&gr) {
                continue;
            }
            if !resource_filter.should_include(&gr) {
                self.log
                    .info(format!("Skipping restore of resource {gr} because the restore spec excludes it"));
                continue;
            }
            let Some(by_ns) = self.backup.get(&gr) else {
                continue;
            };
            let mut selected = Selected {
                group_resource: gr.clone(),
                by_namespace: Vec::new(),
            };
            for (ns, items) in by_ns {
                if !ns.is_empty() && !self.namespace_filter.should_include(ns) {
                    continue;
                }
                if ns.is_empty() && include_cluster == Some(false) {
                    continue;
                }
                if ns.is_empty() && include_cluster != Some(true) && !self.namespace_filter.include_everything() {
                    continue;
                }
                let target = self.spec.namespace_mapping.get(ns).cloned().unwrap_or_else(|| ns.clone());
                let chosen = items
                    .iter()
                    .filter(|item| self.labels_selected(&item.object))
                    .map(|item| SelectedItem {
                        object: item.object.clone(),
                        name: item.name.clone(),
                        target_namespace: target.clone(),
                    })
                    .collect();
                selected.by_namespace.push((ns.clone(), chosen));
            }
            processed.insert(gr);
            out.push(selected);
        }
        out
    }

    fn labels_selected(&self, object: &Value) -> bool {
        let labels: BTreeMap<String, String> = object["metadata"]["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(selector) = &self.spec.label_selector
            && !selector_matches(selector, &labels)
        {
            return false;
        }
        match &self.spec.or_label_selectors {
            Some(selectors) if !selectors.is_empty() => selectors.iter().any(|s| selector_matches(s, &labels)),
            _ => true,
        }
    }

    async fn process_selected(&mut self, selected: Selected) {
        let gr = selected.group_resource;
        for (ns, items) in selected.by_namespace {
            for item in items {
                let (namespace, target) = if gr == "namespaces" {
                    let target = self
                        .spec
                        .namespace_mapping
                        .get(&item.name)
                        .cloned()
                        .unwrap_or_else(|| item.name.clone());
                    (item.name.clone(), target)
                } else {
                    (ns.clone(), item.target_namespace.clone())
                };
                if !namespace.is_empty()
                    && !self.existing_namespaces.contains(&target)
                    && let Err(e) = self.ensure_namespace(&namespace, &target).await
                {
                    self.log.error(e.clone());
                    self.errors.velero.push(e);
                    continue;
                }
                if gr == "namespaces" {
                    continue;
                }
                self.restore_item(item.object, &gr, &target).await;
                let total = self.restored.len();
                self.log.info(format!(
                    "Restored {total} items out of an estimated total of {total} (estimate will change throughout the restore)"
                ));
            }
        }
    }

    /// `EnsureNamespaceExistsAndIsReady`: the target namespace exists, created from the backed-up
    /// one (labels, annotations, spec) or blank.
    async fn ensure_namespace(&mut self, original: &str, target: &str) -> Result<(), String> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        match api.get_opt(target).await {
            Ok(Some(ns)) => {
                let terminating =
                    ns.metadata.deletion_timestamp.is_some() || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
                if terminating {
                    return Err(format!(
                        "timed out waiting for terminating namespace {target} to disappear before restoring"
                    ));
                }
                self.existing_namespaces.insert(target.to_string());
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => return Err(format!("error getting namespace {target}: {}", api_message(&e))),
        }
        let backed_up = self
            .backup
            .get("namespaces")
            .and_then(|by_ns| by_ns.get(""))
            .and_then(|items| items.iter().find(|i| i.name == original))
            .map(|i| i.object.clone());
        let mut body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}});
        if let Some(ns) = backed_up {
            for field in ["labels", "annotations"] {
                if let Some(v) = ns["metadata"].get(field) {
                    body["metadata"][field] = v.clone();
                }
            }
            if let Some(spec) = ns.get("spec") {
                body["spec"] = spec.clone();
            }
        }
        let ns: Namespace = serde_json::from_value(body).map_err(|e| format!("namespace {target}: {e}"))?;
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {
                let key = ItemKey {
                    resource: "v1/Namespace".to_string(),
                    namespace: String::new(),
                    name: target.to_string(),
                };
                self.record(key, Some(ItemAction::Created));
                self.created.push(format!("Namespace/{target}"));
                self.log.info(format!("Created namespace {target}"));
            }
            Err(e) if is_already_exists(&e) => {}
            Err(e) => return Err(format!("error creating namespace {target}: {}", api_message(&e))),
        }
        self.existing_namespaces.insert(target.to_string());
        Ok(())
    }

    fn record(&mut self, key: ItemKey, action: Option<ItemAction>) {
        match self.restored_index.get(&key) {
            Some(&i) => self.restored[i].1 = action,
            None => {
                self.restored_index.insert(key.clone(), self.restored.len());
                self.restored.push((key, action));
            }
        }
    }

    /// `restoreItem`, for one backed-up object going into `namespace` (empty: cluster-scoped).
    async fn restore_item(&mut self, obj: Value, gr: &str, namespace: &str) {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let key = ItemKey {
            resource: format!(
                "{}/{}",
                obj["apiVersion"].as_str().unwrap_or_default(),
                obj["kind"].as_str().unwrap_or_default()
            ),
            namespace: namespace.to_string(),
            name: name.clone(),
        };
        if is_completed(gr, &obj) {
            self.log.info(format!("{namespace}/{name} is complete - skipping"));
            return;
        }
        if self.restored_index.contains_key(&key) {
            self.log.info(format!(
                "Skipping {} because it's already been restored.",
                resource_id(gr, namespace, &name)
            ));
            return;
        }
        self.record(key.clone(), None);
        let (warnings_before, errors_before) = (self.warnings.count(), self.errors.count());
        let action = self.restore_item_inner(obj, gr, namespace, &name).await;
        let action = action.unwrap_or(
            if self.warnings.count() == warnings_before && self.errors.count() == errors_before {
                ItemAction::Skipped
            } else {
                ItemAction::Failed
            },
        );
        self.record(key, Some(action));
    }

    fn warn(&mut self, namespace: &str, msg: String) {
        self.log.warn(msg.clone());
        self.warnings.add(namespace, msg);
    }

    fn fail(&mut self, namespace: &str, msg: String) {
        self.log.error(msg.clone());
        self.errors.add(namespace, msg);
    }

    /// Restores one item; `Some` when the item was created or updated.
    async fn restore_item_inner(&mut self, mut obj: Value, gr: &str, namespace: &str, name: &str) -> Option<ItemAction> {
        let id = resource_id(gr, namespace, name);
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        if gr == "pods" && obj["metadata"]["annotations"].get("kubernetes.io/config.mirror").is_some() {
            self.log.info(format!("Not restoring pod {id} because it's a mirror pod"));
            return None;
        }
        match self.pod_volumes.adjust(gr, &mut obj) {
            ItemAdjustment::Skip(msg) => {
                self.log.info(msg);
                return None;
            }
            ItemAdjustment::Reset(msg) => self.log.info(msg),
            ItemAdjustment::Keep => {}
        }
        let status = obj.get("status").cloned();
        if let Err(e) = reset_metadata_and_status(&mut obj) {
            self.fail(namespace, format!("error restoring {id}: {e}"));
            return None;
        }
        if gr == CAPI_CLUSTERS {
            // The TKG management-cluster plugin's restore action: clusters come back paused.
            match obj.get_mut("spec").and_then(Value::as_object_mut) {
                Some(spec) => {
                    spec.insert("paused".to_string(), Value::Bool(true));
                }
                None => obj["spec"] = json!({"paused": true}),
            }
            self.log.info(format!("Pausing cluster {id} on restore"));
        }
        if !namespace.is_empty() {
            obj["metadata"]["namespace"] = Value::String(namespace.to_string());
        }
        let (backup_label, restore_label) = (valid_label_value(&self.backup_name), valid_label_value(&self.restore_name));
        add_restore_labels(&mut obj, &backup_label, &restore_label);

        let group = obj["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_string();
        let Some(served) = self.resources.resolve(gr).filter(|r| r.group == group).cloned() else {
            self.fail(
                namespace,
                format!("error restoring {id}: the server could not find the requested resource ({gr} is not served by the cluster)"),
            );
            return None;
        };
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let ar = served.api_resource(&api_version);
        let api: Api<DynamicObject> = if served.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        let restore_status = status.is_some() && self.should_restore_status(&obj, &served.group_resource());
        let mut body = obj.clone();
        if restore_status && !served.status {
            body["status"] = status.clone().unwrap_or(Value::Null);
        }
        let dynamic: DynamicObject = match serde_json::from_value(body) {
            Ok(d) => d,
            Err(e) => {
                self.fail(namespace, format!("error restoring {id}: {e}"));
                return None;
            }
        };
        self.log.info(format!("Attempting to restore {kind}: {name}."));
        match api.create(&PostParams::default(), &dynamic).await {
            Ok(created) => {
                self.pod_volumes.pod_restored(gr, &created);
                let label = if namespace.is_empty() {
                    format!("{kind}/{name}")
                } else {
                    format!("{kind}/{namespace}/{name}")
                };
                self.created.push(label);
                if restore_status && served.status {
                    let mut with_status = obj.clone();
                    with_status["status"] = status.unwrap_or(Value::Null);
                    with_status["metadata"]["resourceVersion"] = json!(created.resource_version());
                    let written = match serde_json::from_value::<DynamicObject>(with_status) {
                        Ok(object) => api
                            .replace_status(name, &PostParams::default(), &object)
                            .await
                            .map_err(|e| api_message(&e)),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = written {
                        self.warn(namespace, format!("status field update failed {id}: {e}"));
                    }
                }
                Some(ItemAction::Created)
            }
            Err(e) if is_already_exists(&e) => self.handle_existing(&api, obj, &kind, namespace, name).await,
            Err(e) => {
                self.fail(namespace, format!("error restoring {id}: {}", api_message(&e)));
                None
            }
        }
    }

    /// `determineRestoreStatus`.
    fn should_restore_status(&self, obj: &Value, gr: &str) -> bool {
        let by_spec = self.status_filter.as_ref().is_some_and(|f| f.should_include(gr));
        match obj["metadata"]["annotations"][RESTORE_STATUS_ANNOTATION]
            .as_str()
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("true") => true,
            Some("false") => false,
            _ => by_spec,
        }
    }

    /// An object that already exists: compare, then warn or patch per `existingResourcePolicy`.
    async fn handle_existing(
        &mut self,
        api: &Api<DynamicObject>,
        obj: Value,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<ItemAction> {
        let in_cluster = match api.get(name).await {
            Ok(o) => o,
            Err(e) => {
                self.warn(namespace, api_message(&e));
                return None;
            }
        };
        let mut from_cluster = serde_json::to_value(&in_cluster).unwrap_or(Value::Null);
        if let Err(e) = reset_metadata_and_status(&mut from_cluster) {
            self.warn(namespace, e);
            return None;
        }
        let labels = &obj["metadata"]["labels"];
        let (b, r) = (
            labels[BACKUP_NAME_LABEL].as_str().unwrap_or_default().to_string(),
            labels[RESTORE_NAME_LABEL].as_str().unwrap_or_default().to_string(),
        );
        add_restore_labels(&mut from_cluster, &b, &r);
        let with_labels = from_cluster.clone();
        let policy = self.spec.existing_resource_policy.clone().unwrap_or_default();
        if from_cluster != obj {
            match policy.as_str() {
                POLICY_NONE => self.warn(
                    namespace,
                    format!(
                        "could not restore, {kind} {:?} already exists. Warning: the in-cluster version is different than the backed-up version",
                        name
                    ),
                ),
                POLICY_UPDATE => {
                    add_restore_labels(&mut from_cluster, "", "");
                    let patch = merge_patch(&from_cluster, &obj)?;
                    match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        Ok(_) => {
                            self.log.info(format!("{kind} {namespace}/{name} successfully updated"));
                            self.updated.push(if namespace.is_empty() {
                                format!("{kind}/{name}")
                            } else {
                                format!("{kind}/{namespace}/{name}")
                            });
                            return Some(ItemAction::Updated);
                        }
                        Err(e) => {
                            self.warn(namespace, api_message(&e));
                            self.patch_labels(api, &from_cluster, &with_labels, namespace, name).await;
                        }
                    }
                }
                _ => self.warn(
                    namespace,
                    format!(
                        "could not restore, {kind}:{name} already exists. Warning: the in-cluster version is different than the backed-up version"
                    ),
                ),
            }
            return None;
        }
        if policy == POLICY_UPDATE {
            add_restore_labels(&mut from_cluster, "", "");
            self.patch_labels(api, &from_cluster, &obj, namespace, name).await;
        }
        self.log.info(format!(
            "Restore of {name} skipped: it already exists in the cluster and is the same as the backed up version"
        ));
        None
    }

    /// `updateBackupRestoreLabels`: puts this restore's labels on an existing object.
    async fn patch_labels(&mut self, api: &Api<DynamicObject>, from: &Value, to: &Value, namespace: &str, name: &str) {
        let Some(patch) = merge_patch(from, to) else { return };
        let labels_only = json!({"metadata": {"labels": patch["metadata"]["labels"].clone()}});
        if let Err(e) = api.patch(name, &PatchParams::default(), &Patch::Merge(&labels_only)).await {
            self.fail(namespace, api_message(&e));
        }
    }

    /// The resource list: `<apiVersion>/<Kind>` → sorted `[<ns>/]<name>(<action>)`.
    fn resource_list(&self) -> BTreeMap<String, Vec<String>> {
        let mut list: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, action) in &self.restored {
            let action = action.unwrap_or(ItemAction::Failed);
            let entry = if key.namespace.is_empty() {
                key.name.clone()
            } else {
                format!("{}/{}", key.namespace, key.name)
            };
            list.entry(key.resource.clone())
                .or_default()
                .push(format!("{entry}({})", action.as_str()));
        }
        for entries in list.values_mut() {
            entries.sort();
        }
        list
    }
}

fn resource_id(gr: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{gr}/{name}")
    } else {
        format!("{gr}/{namespace}/{name}")
    }
}

fn add_restore_labels(obj: &mut Value, backup: &str, restore: &str) {
    let meta = &mut obj["metadata"];
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    meta["labels"][BACKUP_NAME_LABEL] = Value::String(backup.to_string());
    meta["labels"][RESTORE_NAME_LABEL] = Value::String(restore.to_string());
}

/// `isCompleted`: finished pods and jobs are not restored.
fn is_completed(gr: &str, obj: &Value) -> bool {
    match gr {
        "pods" => matches!(obj["status"]["phase"].as_str(), Some("Succeeded" | "Failed")),
        "jobs.batch" => obj["status"]["completionTime"].as_str().is_some_and(|t| !t.is_empty()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_reset_like_velero() {
        let mut obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "c", "namespace": "n", "uid": "u", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2022-01-01T00:00:00Z", "selfLink": "/x", "generateName": "c-",
                "deletionTimestamp": "2022-01-02T00:00:00Z", "deletionGracePeriodSeconds": 30,
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "ou"}],
                "managedFields": [{"manager": "m"}], "finalizers": ["f"], "labels": {"a": "b"},
                "annotations": {"k": "v"}
            },
            "data": {"x": "y"},
            "status": {"phase": "Ready"}
        });
        reset_metadata_and_status(&mut obj).expect("reset");
        assert_eq!(
            obj,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "n", "finalizers": ["f"], "labels": {"a": "b"}, "annotations": {"k": "v"}},
                "data": {"x": "y"}
            })
        );
        assert_eq!(
            reset_metadata_and_status(&mut json!({"kind": "X"})),
            Err("metadata not found".to_string())
        );
    }

    #[test]
    fn merge_patches_set_and_remove() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1, "y": [1]}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": 2, "y": [1]}});
        assert_eq!(
            merge_patch(&old, &new),
            Some(json!({"metadata": {"labels": {"b": null, "c": "3"}}, "spec": {"x": 2}}))
        );
        assert_eq!(merge_patch(&old, &old), None);
    }

    #[test]
    fn long_label_values_are_shortened_like_velero() {
        assert_eq!(valid_label_value("short"), "short");
        let long = "a".repeat(70);
        let valid = valid_label_value(&long);
        assert_eq!(valid.len(), 63);
        assert!(valid.starts_with(&"a".repeat(57)));
        // sha256("a" * 70) starts with these six hex digits.
        let digest = Sha256::digest(long.as_bytes());
        assert_eq!(&valid[57..], &format!("{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2]));
    }

    #[test]
    fn results_serialize_as_velero_writes_them() {
        let mut results = RestoreResults::default();
        results.warnings.add("default", "w".to_string());
        results.errors.velero.push("e".to_string());
        assert_eq!(
            serde_json::to_string(&results).expect("json"),
            r#"{"errors":{"velero":["e"]},"warnings":{"namespaces":{"default":["w"]}}}"#
        );
        assert_eq!(results.errors.count() + results.warnings.count(), 2);
    }

    #[test]
    fn finished_pods_and_jobs_are_complete() {
        assert!(is_completed("pods", &json!({"status": {"phase": "Succeeded"}})));
        assert!(!is_completed("pods", &json!({"status": {"phase": "Running"}})));
        assert!(is_completed(
            "jobs.batch",
            &json!({"status": {"completionTime": "2022-01-01T00:00:00Z"}})
        ));
        assert!(!is_completed("configmaps", &json!({"status": {"phase": "Succeeded"}})));
    }
}
