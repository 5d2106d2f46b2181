//! The restore side of file-system backup: which items a restore changes or skips because of
//! pod volume backups, the PodVolumeRestores it creates, and the node agent's work on them
//! together with the restore's wait (see [`super`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use drdrill_apis::velero::podvolume::{POD_UID_LABEL, PVC_NAME_ANNOTATION, RESTORE_UID_LABEL, UPLOADER_RESTIC};
use drdrill_apis::velero::{
    BackupStorageLocation, PodVolumeBackup, PodVolumePhase, PodVolumeRestore, RESTORE_NAME_LABEL, Restore, RestorePhase,
};
use drdrill_kube_sim::clock::k8s_time;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{DEFAULT_FS_BACKUP_TIMEOUT, Repository, claim_handle, pod_volume, repo_identifier};
use crate::format::{decode_json_gz, encode_json_gz};
use crate::layout::{BackupFile, RestoreFile};
use crate::s3::ObjectStore;
use crate::server::backup::valid_label_value;
use crate::server::storage::object_store_for;
use crate::server::{Context, Report, ServerContext, VeleroError};

/// What a restore does with an item because of pod volume backups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemAdjustment {
    /// Nothing.
    Keep,
    /// The item was changed (a claim reset for dynamic provisioning); the log line.
    Reset(String),
    /// The item is not restored; the log line.
    Skip(String),
}

/// The pod volume side of one restore: the backup's PodVolumeBackups and what the restore did.
#[derive(Clone, Debug, Default)]
pub struct RestorePlan {
    backups: Vec<PodVolumeBackup>,
    namespace_mapping: BTreeMap<String, String>,
    to_provision: BTreeSet<String>,
    restored_pods: Vec<Value>,
}

impl RestorePlan {
    /// Reads `<backup>-podvolumebackups.json.gz` (what backup sync would create the
    /// PodVolumeBackups of a fresh cluster from); a backup without the file has none.
    pub async fn load(store: &ObjectStore, backup: &str, namespace_mapping: &BTreeMap<String, String>) -> Result<Self, String> {
        let key = store.layout().backup_key(backup, BackupFile::PodVolumeBackups);
        let backups = match store.get(&key).await {
            Ok(bytes) => decode_json_gz::<Option<Vec<PodVolumeBackup>>>(&bytes, &key)
                .map_err(|e| format!("error reading pod volume backups: {e}"))?
                .unwrap_or_default(),
            Err(e) if e.code() == Some("NoSuchKey") => Vec::new(),
            Err(e) => return Err(format!("error downloading {key}: {e}")),
        };
        Ok(RestorePlan {
            backups,
            namespace_mapping: namespace_mapping.clone(),
            ..Default::default()
        })
    }

    /// The backup's PodVolumeBackups.
    pub fn backups(&self) -> &[PodVolumeBackup] {
        &self.backups
    }

    /// Restore-time rules for PersistentVolumes and PersistentVolumeClaims (see the module
    /// documentation); `obj` is the backed-up item, its namespace still the source one.
    pub fn adjust(&mut self, group_resource: &str, obj: &mut Value) -> ItemAdjustment {
        match group_resource {
            "persistentvolumes" => {
                let claim = &obj["spec"]["claimRef"];
                if !self.claim_backed_up(claim["namespace"].as_str(), claim["name"].as_str()) {
                    return ItemAdjustment::Keep;
                }
                self.to_provision
                    .insert(obj["metadata"]["name"].as_str().unwrap_or_default().to_string());
                ItemAdjustment::Skip(
                    "Dynamically re-provisioning persistent volume because it has a pod volume backup to be restored.".into(),
                )
            }
            "persistentvolumeclaims" => {
                let volume = obj["spec"]["volumeName"].as_str().unwrap_or_default().to_string();
                let meta = &obj["metadata"];
                let backed_up = self.claim_backed_up(meta["namespace"].as_str(), meta["name"].as_str());
                if volume.is_empty() || !(self.to_provision.contains(&volume) || backed_up) {
                    return ItemAdjustment::Keep;
                }
                if let Some(spec) = obj["spec"].as_object_mut() {
                    spec.remove("volumeName");
                }
                if let Some(annotations) = obj["metadata"]["annotations"].as_object_mut() {
                    for a in [
                        "pv.kubernetes.io/bind-completed",
                        "pv.kubernetes.io/bound-by-controller",
                        "volume.kubernetes.io/selected-node",
                        "volume.kubernetes.io/storage-provisioner",
                        "volume.beta.kubernetes.io/storage-provisioner",
                    ] {
                        annotations.remove(a);
                    }
                }
                let (ns, name) = (
                    obj["metadata"]["namespace"].as_str().unwrap_or_default(),
                    obj["metadata"]["name"].as_str().unwrap_or_default(),
                );
                ItemAdjustment::Reset(format!("Resetting PersistentVolumeClaim {ns}/{name} for dynamic provisioning"))
            }
            _ => ItemAdjustment::Keep,
        }
    }

    /// Whether claim `namespace/name` (source namespace) had a pod volume backup.
    fn claim_backed_up(&self, namespace: Option<&str>, name: Option<&str>) -> bool {
        namespace.is_some()
            && name.is_some()
            && self.backups.iter().any(|b| {
                b.spec.pod.namespace.as_deref() == namespace && b.annotations().get(PVC_NAME_ANNOTATION).map(String::as_str) == name
            })
    }

    /// Records a pod the restore created (as the API server returned it).
    pub fn pod_restored(&mut self, group_resource: &str, created: &DynamicObject) {
        if group_resource == "pods"
            && let Ok(value) = serde_json::to_value(created)
        {
            self.restored_pods.push(value);
        }
    }

    /// The source namespace of a restored object's target namespace.
    fn source_namespace(&self, target: &str) -> String {
        self.namespace_mapping
            .iter()
            .find(|(_, to)| to.as_str() == target)
            .map_or_else(|| target.to_string(), |(from, _)| from.clone())
    }
}

/// PodVolumeRestores a restore created, and the errors of those it could not.
#[derive(Clone, Debug, Default)]
pub struct PodVolumeRestoreStart {
    /// `PodVolumeRestore/<name>` of each one created.
    pub created: Vec<String>,
    /// Errors, as (namespace, message).
    pub errors: Vec<(String, String)>,
}

/// Creates a PodVolumeRestore for every volume of every restored pod that has a Completed
/// PodVolumeBackup.
pub async fn start_pod_volume_restores(
    ctx: &ServerContext,
    restore_name: &str,
    location: &BackupStorageLocation,
    plan: &RestorePlan,
) -> Result<PodVolumeRestoreStart, VeleroError> {
    let mut out = PodVolumeRestoreStart::default();
    if plan.restored_pods.is_empty() || plan.backups.is_empty() {
        return Ok(out);
    }
    let vns = &ctx.namespace;
    let restore = Api::<Restore>::namespaced(ctx.client.clone(), vns)
        .get(restore_name)
        .await
        .ctx(|| format!("get Restore {vns}/{restore_name}"))?;
    let api: Api<PodVolumeRestore> = Api::namespaced(ctx.client.clone(), vns);
    for pod in &plan.restored_pods {
        let meta = &pod["metadata"];
        let (ns, name, uid) = (
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
            meta["uid"].as_str().unwrap_or_default(),
        );
        let source_ns = plan.source_namespace(ns);
        let completed = plan.backups.iter().filter(|b| {
            b.spec.pod.namespace.as_deref() == Some(source_ns.as_str())
                && b.spec.pod.name.as_deref() == Some(name)
                && b.status
                    .as_ref()
                    .and_then(|s| s.snapshot_id.as_deref())
                    .is_some_and(|s| !s.is_empty())
        });
        for pvb in completed {
            if pod_volume(pod, &pvb.spec.volume).is_none() {
                continue;
            }
            let status = pvb.status.clone().unwrap_or_default();
            let body = json!({
                "apiVersion": "velero.io/v1", "kind": "PodVolumeRestore",
                "metadata": {
                    "generateName": format!("{restore_name}-"), "namespace": vns,
                    "labels": {RESTORE_NAME_LABEL: valid_label_value(restore_name), RESTORE_UID_LABEL: restore.metadata.uid, POD_UID_LABEL: uid},
                    "ownerReferences": [{"apiVersion": "velero.io/v1", "kind": "Restore", "name": restore_name,
                        "uid": restore.metadata.uid, "controller": true}],
                },
                "spec": {
                    "pod": {"kind": "Pod", "namespace": ns, "name": name, "uid": uid},
                    "volume": pvb.spec.volume, "backupStorageLocation": location.name_any(),
                    "repoIdentifier": repo_identifier(location, pvb.spec.uploader_type.as_deref().unwrap_or(UPLOADER_RESTIC), &source_ns),
                    "uploaderType": pvb.spec.uploader_type, "snapshotID": status.snapshot_id,
                    "sourceNamespace": source_ns,
                    "snapshotSize": status.progress.as_ref().map_or(0, |p| p.total_bytes),
                },
                "status": {"phase": "New"},
            });
            let pvr: PodVolumeRestore = serde_json::from_value(body).ctx(|| format!("build PodVolumeRestore for {ns}/{name}"))?;
            match api.create(&PostParams::default(), &pvr).await {
                Ok(created) => out.created.push(format!("PodVolumeRestore/{}", created.name_any())),
                Err(e) => out
                    .errors
                    .push((ns.to_string(), format!("error creating PodVolumeRestore for pod {ns}/{name}: {e}"))),
            }
        }
    }
    Ok(out)
}

/// The node agent's PodVolumeRestore controller, and the restore's wait for its
/// PodVolumeRestores (see the module documentation).
pub struct PodVolumeRestoreController {
    ctx: ServerContext,
    timeout: Duration,
}

impl PodVolumeRestoreController {
    /// A controller with the default `--fs-backup-timeout`.
    pub fn new(ctx: ServerContext) -> Self {
        PodVolumeRestoreController {
            ctx,
            timeout: DEFAULT_FS_BACKUP_TIMEOUT,
        }
    }

    /// Uses `timeout` as `--fs-backup-timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One pass: runs every unfinished PodVolumeRestore whose claim is bound, then finishes the
    /// InProgress Restores whose PodVolumeRestores are all done or whose time ran out.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let vns = &self.ctx.namespace;
        let api: Api<PodVolumeRestore> = Api::namespaced(self.ctx.client.clone(), vns);
        let mut report = Report::default();
        let pvrs = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list PodVolumeRestores in {vns}"))?;
        for pvr in pvrs.items {
            let phase = pvr.status.as_ref().and_then(|s| s.phase).unwrap_or(PodVolumePhase::New);
            if phase.is_terminal() {
                continue;
            }
            let name = pvr.name_any();
            let status = self.run(&pvr).await?;
            if pvr.status.as_ref().and_then(|s| s.message.as_deref()) != status["message"].as_str() || status["phase"] != "New" {
                api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
                    .await
                    .ctx(|| format!("update status of PodVolumeRestore {vns}/{name}"))?;
                report.updated.push(format!("PodVolumeRestore/{name}"));
            }
        }
        let restores: Api<Restore> = Api::namespaced(self.ctx.client.clone(), vns);
        for restore in restores
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Restores in {vns}"))?
            .items
        {
            if restore.status.as_ref().and_then(|s| s.phase) == Some(RestorePhase::InProgress) && self.finish(&restore).await? {
                report.updated.push(format!("Restore/{}", restore.name_any()));
            }
        }
        Ok(report)
    }

    /// The PodVolumeRestore's next status: still `New` with what it waits for, or its end.
    async fn run(&self, pvr: &PodVolumeRestore) -> Result<Value, VeleroError> {
        let spec = &pvr.spec;
        let (ns, pod_name) = (
            spec.pod.namespace.clone().unwrap_or_default(),
            spec.pod.name.clone().unwrap_or_default(),
        );
        let waiting = |message: String| json!({"phase": "New", "message": message});
        let now = k8s_time(self.ctx.clock.now());
        let failed = |message: String| json!({"phase": "Failed", "message": message, "startTimestamp": now, "completionTimestamp": now});
        let pod = Api::<Pod>::namespaced(self.ctx.client.clone(), &ns)
            .get_opt(&pod_name)
            .await
            .ctx(|| format!("get Pod {ns}/{pod_name}"))?;
        let Some(pod) = pod else {
            return Ok(failed(format!("pod {ns}/{pod_name} not found")));
        };
        let pod = serde_json::to_value(&pod).ctx(|| format!("serialize Pod {ns}/{pod_name}"))?;
        let Some(claim) = pod_volume(&pod, &spec.volume).and_then(|v| v["persistentVolumeClaim"]["claimName"].as_str()) else {
            return Ok(failed(format!(
                "volume {} of pod {ns}/{pod_name} is not a PersistentVolumeClaim volume",
                spec.volume
            )));
        };
        let (pv, handle) = match claim_handle(&self.ctx.client, &ns, claim).await? {
            Ok(found) => found,
            Err(why) => return Ok(waiting(format!("waiting for the volume: {why}"))),
        };
        let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        let files = match self.ctx.volume_files.clone() {
            Some(files) if super::node_agent_running(&self.ctx, node_name).await? => files,
            _ => {
                return Ok(waiting(format!(
                    "waiting for the node agent on node {node_name:?}: no Running restic pod there (velero install --use-restic)"
                )));
            }
        };
        let location = Api::<BackupStorageLocation>::namespaced(self.ctx.client.clone(), &self.ctx.namespace)
            .get_opt(&spec.backup_storage_location)
            .await
            .ctx(|| format!("get BackupStorageLocation {}", spec.backup_storage_location))?;
        let Some(location) = location else {
            return Ok(failed(format!("BackupStorageLocation {} not found", spec.backup_storage_location)));
        };
        let store = match object_store_for(&self.ctx.client, &self.ctx.namespace, &location).await {
            Ok(s) => s,
            Err(e) => return Ok(failed(e.0)),
        };
        let uploader = spec.uploader_type.clone().unwrap_or_else(|| UPLOADER_RESTIC.to_string());
        let repo = Repository::new(store, &uploader, &spec.source_namespace);
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
        let data = match repo.download(&spec.snapshot_id).await {
            Ok(d) => d,
            Err(e) => {
                return Ok(failed(format!(
                    "error running {uploader} restore of volume {} into {pv}: {e}",
                    spec.volume
                )));
            }
        };
        let bytes: u64 = data.values().map(|d| d.len() as u64).sum();
        if let Err(e) = files.write(&handle, &data) {
            return Ok(failed(format!("error writing volume {handle} ({pv}): {e}")));
        }
        let done = k8s_time(self.ctx.clock.now());
        Ok(
            json!({"phase": "Completed", "node": node, "startTimestamp": now, "completionTimestamp": done,
            "progress": {"totalBytes": bytes, "bytesDone": bytes}}),
        )
    }

    /// Ends an InProgress restore whose PodVolumeRestores are done (or timed out); `false` when
    /// it has none or must wait longer.
    async fn finish(&self, restore: &Restore) -> Result<bool, VeleroError> {
        let vns = &self.ctx.namespace;
        let name = restore.name_any();
        let lp = ListParams::default().labels(&format!("{RESTORE_NAME_LABEL}={}", valid_label_value(&name)));
        let pvrs = Api::<PodVolumeRestore>::namespaced(self.ctx.client.clone(), vns)
            .list(&lp)
            .await
            .ctx(|| format!("list PodVolumeRestores of Restore {vns}/{name}"))?
            .items;
        if pvrs.is_empty() {
            return Ok(false);
        }
        let terminal = |p: &PodVolumeRestore| p.status.as_ref().and_then(|s| s.phase).is_some_and(PodVolumePhase::is_terminal);
        let now = self.ctx.clock.now();
        let status = restore.status.clone().unwrap_or_default();
        let started = status.start_timestamp.as_ref().map_or(now, |t| t.0);
        let deadline = started
            .checked_add(jiff::SignedDuration::try_from(self.timeout).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(now);
        let all_done = pvrs.iter().all(terminal);
        if !all_done && now < deadline {
            return Ok(false);
        }
        let mut errors: Vec<(String, String)> = Vec::new();
        if !all_done {
            errors.push((String::new(), "timed out waiting for all PodVolumeRestores to complete".to_string()));
        }
        for pvr in &pvrs {
            let ns = pvr.spec.pod.namespace.clone().unwrap_or_default();
            let pod = pvr.spec.pod.name.clone().unwrap_or_default();
            let s = pvr.status.clone().unwrap_or_default();
            let message = s.message.unwrap_or_default();
            match s.phase {
                Some(PodVolumePhase::Failed) => errors.push((ns, format!("pod volume restore failed: {message}"))),
                Some(p) if p.is_terminal() => {}
                _ => errors.push((
                    ns,
                    format!(
                        "pod volume restore {} of volume {} in pod {}/{pod} did not complete: {message}",
                        pvr.name_any(),
                        pvr.spec.volume,
                        pvr.spec.pod.namespace.as_deref().unwrap_or_default()
                    ),
                )),
            }
        }
        self.add_results(restore, &pvrs, &errors).await;
        let total_errors = status.errors + errors.len() as i32;
        let phase = if total_errors > 0 { "PartiallyFailed" } else { "Completed" };
        let patch = json!({"status": {"phase": phase, "errors": total_errors, "completionTimestamp": k8s_time(now)}});
        Api::<Restore>::namespaced(self.ctx.client.clone(), vns)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .ctx(|| format!("finish Restore {vns}/{name}"))?;
        tracing::info!(restore = %name, phase, "pod volume restores finished");
        Ok(true)
    }

    /// Adds the errors to `restore-<name>-results.gz` (best effort, as Velero's upload is).
    async fn add_results(&self, restore: &Restore, pvrs: &[PodVolumeRestore], errors: &[(String, String)]) {
        if errors.is_empty() {
            return;
        }
        let name = restore.name_any();
        let Some(location_name) = pvrs.first().map(|p| p.spec.backup_storage_location.clone()) else {
            return;
        };
        let api = Api::<BackupStorageLocation>::namespaced(self.ctx.client.clone(), &self.ctx.namespace);
        let Ok(location) = api.get(&location_name).await else {
            tracing::error!(restore = %name, "BackupStorageLocation {location_name} not found: results not updated");
            return;
        };
        let store = match object_store_for(&self.ctx.client, &self.ctx.namespace, &location).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(restore = %name, "results not updated: {e}");
                return;
            }
        };
        let key = store.layout().restore_key(&name, RestoreFile::Results);
        let mut results: Value = match store.get(&key).await {
            Ok(bytes) => decode_json_gz(&bytes, &key).unwrap_or_else(|_| json!({})),
            Err(_) => json!({}),
        };
        for (ns, message) in errors {
            let slot = if ns.is_empty() {
                &mut results["errors"]["velero"]
            } else {
                &mut results["errors"]["namespaces"][ns.as_str()]
            };
            match slot.as_array_mut() {
                Some(list) => list.push(json!(message)),
                None => *slot = json!([message]),
            }
        }
        let uploaded = match encode_json_gz(&results, "restore results") {
            Ok(bytes) => store.put(&key, bytes).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = uploaded {
            tracing::error!(restore = %name, "uploading {key}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_of_backed_up_volumes_are_reset_for_provisioning() {
        let pvb: PodVolumeBackup = serde_json::from_value(json!({
            "metadata": {"name": "b-x", "annotations": {PVC_NAME_ANNOTATION: "data"}},
            "spec": {"node": "n", "pod": {"namespace": "shop", "name": "db"}, "volume": "data",
                "backupStorageLocation": "default", "repoIdentifier": "r"}
        }))
        .expect("pvb");
        let mut plan = RestorePlan {
            backups: vec![pvb],
            ..Default::default()
        };
        let mut pv = json!({"metadata": {"name": "pvc-1"}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}});
        assert!(matches!(plan.adjust("persistentvolumes", &mut pv), ItemAdjustment::Skip(_)));
        let mut other = json!({"metadata": {"name": "pvc-2"}, "spec": {"claimRef": {"namespace": "shop", "name": "logs"}}});
        assert_eq!(plan.adjust("persistentvolumes", &mut other), ItemAdjustment::Keep);
        let mut pvc = json!({"metadata": {"name": "data", "namespace": "shop",
            "annotations": {"pv.kubernetes.io/bind-completed": "yes", "keep": "me"}}, "spec": {"volumeName": "pvc-1"}});
        assert!(matches!(plan.adjust("persistentvolumeclaims", &mut pvc), ItemAdjustment::Reset(_)));
        assert!(pvc["spec"].get("volumeName").is_none());
        assert_eq!(pvc["metadata"]["annotations"], json!({"keep": "me"}));
        let mut logs = json!({"metadata": {"name": "logs"}, "spec": {"volumeName": "pvc-2"}});
        assert_eq!(plan.adjust("persistentvolumeclaims", &mut logs), ItemAdjustment::Keep);
    }
}
