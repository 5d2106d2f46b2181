//! `velero backup create|get|describe|logs|delete`.

use std::collections::BTreeMap;
use std::io::Write;

use drdrill_apis::velero::{
    BACKUP_NAME_LABEL, BACKUP_UID_LABEL, Backup, BackupPhase, BackupSpec, BackupStorageLocation, DeleteBackupRequest,
    DeleteBackupRequestPhase, DeleteBackupRequestSpec, DownloadTargetKind, Metadata, SCHEDULE_NAME_LABEL, Schedule, VolumeSnapshotLocation,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};

use super::args::{
    BackupCreateArgs, BackupFilterArgs, DeleteArgs, DescribeArgs, DownloadArgs, DownloadFlags, GetArgs, LogsArgs, duration_flag,
    go_duration_string, parse_map, parse_selector, string_array, timeout_flag,
};
use super::download::{self, DownloadError};
use super::tables::{Describer, backup_table, bool_pointer, go_time};
use super::{Ctx, DESCRIBE_TIMEOUT, VeleroCliError, api, api_error, print_encoded, report_submitted, validate_output};

/// The resource name velero's errors use for backups.
pub(crate) const BACKUPS: &str = "backups.velero.io";

/// velero's `label.GetValidName`: a name longer than 63 characters is cut to 57 and suffixed
/// with the first six hex digits of its SHA-256.
pub fn valid_label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{}", &name[..57], &hex[..6])
}

/// The spec velero's CLI builds from backup flags (`builder.ForBackup(…)` in v1.9): included
/// namespaces default to `*`, the TTL and CSI timeout are always sent (`0s` lets the server
/// apply its default), hooks and template metadata are empty objects.
pub(crate) fn backup_spec(filters: &BackupFilterArgs) -> Result<(BackupSpec, BTreeMap<String, String>), VeleroCliError> {
    let ttl = duration_flag("--ttl", filters.ttl.as_deref())?;
    let csi_timeout = duration_flag("--csi-snapshot-timeout", filters.csi_snapshot_timeout.as_deref())?;
    let selector = filters.selector.as_deref().map(|s| parse_selector("--selector", s)).transpose()?;
    let labels = parse_map("--labels", &filters.labels, ',', '=')?;
    let included = string_array(Some(&filters.include_namespaces)).unwrap_or_default();
    let excluded = string_array(filters.exclude_namespaces.as_deref());
    validate_namespace_filters(&included, excluded.as_deref().unwrap_or_default())?;
    let spec = BackupSpec {
        metadata: Some(Metadata::default()),
        included_namespaces: Some(included),
        excluded_namespaces: excluded,
        included_resources: string_array(filters.include_resources.as_deref()),
        excluded_resources: string_array(filters.exclude_resources.as_deref()),
        label_selector: selector,
        snapshot_volumes: filters.snapshot_volumes,
        ttl: Some(go_duration_string(ttl)),
        include_cluster_resources: filters.include_cluster_resources,
        hooks: Some(Default::default()),
        storage_location: filters.storage_location.clone().filter(|s| !s.is_empty()),
        volume_snapshot_locations: filters.volume_snapshot_locations.clone(),
        default_volumes_to_restic: filters.default_volumes_to_restic,
        csi_snapshot_timeout: Some(go_duration_string(csi_timeout)),
        ..Default::default()
    };
    Ok((spec, labels))
}

/// velero's `collections.ValidateNamespaceIncludesExcludes`.
pub(crate) fn validate_namespace_filters(included: &[String], excluded: &[String]) -> Result<(), VeleroCliError> {
    let mut errors = Vec::new();
    for ns in included {
        if ns == "*" && included.len() > 1 {
            errors.push("includes list must either contain '*' only, or a non-empty list of items".to_string());
        }
        if excluded.contains(ns) {
            errors.push(format!("excludes list cannot contain an item in the includes list: {ns}"));
        }
    }
    if excluded.iter().any(|ns| ns == "*") {
        errors.push("excludes list cannot contain '*'".to_string());
    }
    errors.dedup();
    match errors.len() {
        0 => Ok(()),
        1 => Err(VeleroCliError::Invalid(errors.remove(0))),
        _ => Err(VeleroCliError::Invalid(format!("[{}]", errors.join(", ")))),
    }
}

/// Checks that the named storage and snapshot locations exist (velero validates them client-side).
pub(crate) async fn check_locations(ctx: &Ctx, filters: &BackupFilterArgs) -> Result<(), VeleroCliError> {
    if let Some(name) = filters.storage_location.as_deref().filter(|s| !s.is_empty()) {
        Api::<BackupStorageLocation>::namespaced(ctx.client.clone(), &ctx.namespace)
            .get(name)
            .await
            .map_err(api_error("backupstoragelocations.velero.io", name, || {
                format!("get BackupStorageLocation {}/{name}", ctx.namespace)
            }))?;
    }
    for name in &filters.volume_snapshot_locations {
        Api::<VolumeSnapshotLocation>::namespaced(ctx.client.clone(), &ctx.namespace)
            .get(name)
            .await
            .map_err(api_error("volumesnapshotlocations.velero.io", name, || {
                format!("get VolumeSnapshotLocation {}/{name}", ctx.namespace)
            }))?;
    }
    Ok(())
}

/// `velero backup create`.
pub(crate) async fn create(ctx: &Ctx, a: &BackupCreateArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    if a.from_schedule.is_none() && a.name.is_none() {
        return Err(VeleroCliError::Invalid(
            "A backup name is required, unless you are creating based on a schedule.".to_string(),
        ));
    }
    let (spec, labels) = backup_spec(&a.filters)?;
    check_locations(ctx, &a.filters).await?;
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let backup = match &a.from_schedule {
        Some(schedule_name) => {
            let schedule = Api::<Schedule>::namespaced(ctx.client.clone(), &ctx.namespace)
                .get(schedule_name)
                .await
                .map_err(api_error("schedules.velero.io", schedule_name, || {
                    format!("get Schedule {}/{schedule_name}", ctx.namespace)
                }))?;
            let name = a
                .name
                .clone()
                .unwrap_or_else(|| format!("{schedule_name}-{}", ctx.now().strftime("%Y%m%d%H%M%S")));
            let mut backup_labels = schedule
                .spec
                .template
                .metadata
                .as_ref()
                .map(|m| m.labels.clone())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| schedule.labels().clone());
            backup_labels.insert(SCHEDULE_NAME_LABEL.to_string(), schedule_name.clone());
            backup_labels.extend(labels);
            writeln!(out, "Creating backup from schedule, all other filters are ignored.")?;
            Backup {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(ctx.namespace.clone()),
                    labels: Some(backup_labels),
                    ..Default::default()
                },
                spec: schedule.spec.template.clone(),
                status: None,
            }
        }
        None => Backup {
            metadata: ObjectMeta {
                name: a.name.clone(),
                namespace: Some(ctx.namespace.clone()),
                labels: (!labels.is_empty()).then_some(labels),
                ..Default::default()
            },
            spec,
            status: None,
        },
    };
    let name = backup.name_any();
    backups
        .create(&PostParams::default(), &backup)
        .await
        .map_err(api(|| format!("create Backup {}/{name}", ctx.namespace)))?;
    report_submitted(ctx, out, "backup", &name, a.wait, || {
        let backups = backups.clone();
        let name = name.clone();
        let namespace = ctx.namespace.clone();
        async move {
            let found = backups
                .get_opt(&name)
                .await
                .map_err(api(|| format!("get Backup {namespace}/{name}")))?
                .ok_or_else(|| VeleroCliError::NotFound {
                    resource: BACKUPS.to_string(),
                    name: name.clone(),
                })?;
            Ok(found.status.and_then(|s| s.phase))
        }
    })
    .await
}

/// Gets the named objects (each must exist) or lists them by selector.
pub(crate) async fn get_or_list<K>(
    api_: &Api<K>,
    resource: &str,
    names: &[String],
    selector: Option<&str>,
    namespace: &str,
) -> Result<Vec<K>, VeleroCliError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if !names.is_empty() {
        let mut items = Vec::new();
        for name in names {
            let kind = K::kind(&()).to_string();
            items.push(
                api_.get(name)
                    .await
                    .map_err(api_error(resource, name, || format!("get {kind} {namespace}/{name}")))?,
            );
        }
        return Ok(items);
    }
    let mut params = ListParams::default();
    if let Some(selector) = selector {
        parse_selector("--selector", selector)?;
        params = params.labels(selector);
    }
    let kind = K::kind(&()).to_string();
    Ok(api_
        .list(&params)
        .await
        .map_err(api(|| format!("list {kind} in namespace {namespace}")))?
        .items)
}

/// `velero backup get`.
pub(crate) async fn get(ctx: &Ctx, a: &GetArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    validate_output(&a.output)?;
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&backups, BACKUPS, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    if a.output == "table" {
        write!(out, "{}", backup_table(&items, ctx.now()))?;
        return Ok(());
    }
    print_encoded(&items, "BackupList", &a.output, out)
}

/// `velero backup describe`.
pub(crate) async fn describe(ctx: &Ctx, a: &DescribeArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&backups, BACKUPS, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    let requests: Api<DeleteBackupRequest> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    for (i, backup) in items.iter().enumerate() {
        let name = backup.name_any();
        let uid = backup.uid().unwrap_or_default();
        let selector = format!("{BACKUP_NAME_LABEL}={},{BACKUP_UID_LABEL}={uid}", valid_label_value(&name));
        let deletions = requests
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(api(|| format!("list DeleteBackupRequests of backup {name}")))?
            .items;
        let text = describe_backup(ctx, backup, &deletions, a.details, &a.download).await;
        if i > 0 {
            write!(out, "\n\n")?;
        }
        write!(out, "{text}")?;
    }
    Ok(())
}

/// velero's `DescribeBackup` (without pod volume backups and CSI snapshots, which the simulated
/// world does not make).
async fn describe_backup(ctx: &Ctx, backup: &Backup, deletions: &[DeleteBackupRequest], details: bool, flags: &DownloadFlags) -> String {
    let mut d = Describer::default();
    d.metadata(&backup.metadata);
    d.line("");
    let status = backup.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(BackupPhase::New);
    let logs_note = if matches!(status.phase, Some(BackupPhase::Failed | BackupPhase::PartiallyFailed)) {
        format!(" (run `velero backup logs {}` for more information)", backup.name_any())
    } else {
        String::new()
    };
    d.line(&format!("Phase:\t{}{logs_note}", phase.as_str()));
    if let Some(errors) = status.validation_errors.as_ref().filter(|e| !e.is_empty()) {
        d.line("");
        d.print("Validation errors:");
        for error in errors {
            d.line(&format!("\t{error}"));
        }
    }
    d.line("");
    d.line(&format!("Errors:\t{}", status.errors));
    d.line(&format!("Warnings:\t{}", status.warnings));
    d.line("");
    describe_spec(&mut d, &backup.spec);
    d.line("");
    d.line(&format!(
        "Backup Format Version:\t{}",
        status.format_version.clone().unwrap_or_default()
    ));
    d.line("");
    let time_or_na =
        |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.map(|t| go_time(t.0)).unwrap_or_else(|| "<n/a>".to_string());
    d.line(&format!("Started:\t{}", time_or_na(status.start_timestamp.as_ref())));
    d.line(&format!("Completed:\t{}", time_or_na(status.completion_timestamp.as_ref())));
    d.line("");
    d.line(&format!(
        "Expiration:\t{}",
        status
            .expiration
            .as_ref()
            .map(|t| go_time(t.0))
            .unwrap_or_else(|| "<nil>".to_string())
    ));
    d.line("");
    if let Some(progress) = &status.progress {
        if phase == BackupPhase::InProgress {
            d.line(&format!("Estimated total items to be backed up:\t{}", progress.total_items));
            d.line(&format!("Items backed up so far:\t{}", progress.items_backed_up));
        } else {
            d.line(&format!("Total items to be backed up:\t{}", progress.total_items));
            d.line(&format!("Items backed up:\t{}", progress.items_backed_up));
        }
        d.line("");
    }
    if details {
        describe_resource_list(ctx, backup, flags, &mut d).await;
        d.line("");
    }
    if status.volume_snapshots_attempted > 0 {
        d.line(&format!(
            "Velero-Native Snapshots:\t{} of {} snapshots completed successfully (specify --details for more information)",
            status.volume_snapshots_completed, status.volume_snapshots_attempted
        ));
    } else {
        d.line("Velero-Native Snapshots: <none included>");
    }
    if !deletions.is_empty() {
        d.line("");
        let failed = deletions
            .iter()
            .filter(|r| {
                r.status
                    .as_ref()
                    .is_some_and(|s| s.phase == Some(DeleteBackupRequestPhase::Processed) && !s.errors.is_empty())
            })
            .count();
        d.print("Deletion Attempts");
        if failed > 0 {
            d.print(&format!(" ({failed} failed)"));
        }
        d.line(":");
        for (i, request) in deletions.iter().enumerate() {
            if i > 0 {
                d.line("");
            }
            let created = request
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| go_time(t.0))
                .unwrap_or_default();
            let status = request.status.clone().unwrap_or_default();
            d.line(&format!("\t{created}: {}", status.phase.map(|p| p.as_str()).unwrap_or("")));
            if !status.errors.is_empty() {
                d.line("\tErrors:");
                for error in &status.errors {
                    d.line(&format!("\t\t{error}"));
                }
            }
        }
    }
    d.finish()
}

/// velero's `DescribeBackupSpec`.
pub(crate) fn describe_spec(d: &mut Describer, spec: &BackupSpec) {
    let list = |items: &Option<Vec<String>>, empty: &str| match items.as_ref().filter(|v| !v.is_empty()) {
        Some(v) => v.join(", "),
        None => empty.to_string(),
    };
    d.line("Namespaces:");
    d.line(&format!("\tIncluded:\t{}", list(&spec.included_namespaces, "*")));
    d.line(&format!("\tExcluded:\t{}", list(&spec.excluded_namespaces, "<none>")));
    d.line("");
    d.line("Resources:");
    d.line(&format!("\tIncluded:\t{}", list(&spec.included_resources, "*")));
    d.line(&format!("\tExcluded:\t{}", list(&spec.excluded_resources, "<none>")));
    d.line(&format!(
        "\tCluster-scoped:\t{}",
        bool_pointer(spec.include_cluster_resources, "excluded", "included", "auto")
    ));
    d.line("");
    let selector = match &spec.label_selector {
        Some(s) => super::args::format_selector(Some(s)),
        None => "<none>".to_string(),
    };
    d.line(&format!("Label selector:\t{selector}"));
    d.line("");
    d.line(&format!("Storage Location:\t{}", spec.storage_location.clone().unwrap_or_default()));
    d.line("");
    d.line(&format!(
        "Velero-Native Snapshot PVs:\t{}",
        bool_pointer(spec.snapshot_volumes, "false", "true", "auto")
    ));
    d.line("");
    let ttl = spec
        .ttl
        .as_deref()
        .and_then(|t| super::args::parse_go_duration(t).ok())
        .unwrap_or(0);
    d.line(&format!("TTL:\t{}", go_duration_string(ttl)));
    d.line("");
    let hooks = spec.hooks.as_ref().and_then(|h| h.resources.as_ref()).filter(|r| !r.is_empty());
    match hooks {
        None => d.line("Hooks:\t<none>"),
        Some(resources) => {
            d.line("Hooks:");
            d.line("\tResources:");
            for hook in resources {
                d.line(&format!("\t\t{}:", hook.name));
                for (when, list) in [("Pre", &hook.pre), ("Post", &hook.post)] {
                    for h in list {
                        d.line("");
                        d.line(&format!("\t\t\t{when} Exec Hook:"));
                        d.line(&format!("\t\t\t\tContainer:\t{}", h.exec.container.clone().unwrap_or_default()));
                        d.line(&format!("\t\t\t\tCommand:\t{}", h.exec.command.join(" ")));
                    }
                }
            }
        }
    }
    if let Some(ordered) = &spec.ordered_resources {
        d.line("");
        d.line("OrderedResources:");
        for (k, v) in ordered {
            d.line(&format!("\t{k}: {v}"));
        }
    }
}

async fn describe_resource_list(ctx: &Ctx, backup: &Backup, flags: &DownloadFlags, d: &mut Describer) {
    let name = backup.name_any();
    match download::stream(ctx, &name, DownloadTargetKind::BackupResourceList, DESCRIBE_TIMEOUT, flags).await {
        Err(DownloadError::NotFound) => d.line("Resource List:\t<backup resource list not found>"),
        Err(e) => d.line(&format!("Resource List:\t<error getting backup resource list: {e}>")),
        Ok(bytes) => match serde_json::from_slice::<BTreeMap<String, Vec<String>>>(&bytes) {
            Err(e) => d.line(&format!("Resource List:\t<error reading backup resource list: {e}>")),
            Ok(list) => {
                d.line("Resource List:");
                for (gvk, items) in list {
                    d.line(&format!("\t{gvk}:\n\t\t- {}", items.join("\n\t\t- ")));
                }
            }
        },
    }
}

/// `velero backup logs`: the backup's `<name>-logs.gz`, through a DownloadRequest, gunzipped.
pub(crate) async fn logs(ctx: &Ctx, a: &LogsArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let timeout = timeout_flag(&a.timeout)?;
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let backup = backups
        .get_opt(&a.name)
        .await
        .map_err(api(|| format!("Error checking for backup {:?}", a.name)))?
        .ok_or_else(|| VeleroCliError::Invalid(format!("Backup {:?} does not exist.", a.name)))?;
    let phase = backup.status.as_ref().and_then(|s| s.phase);
    if !matches!(
        phase,
        Some(BackupPhase::Completed | BackupPhase::PartiallyFailed | BackupPhase::Failed)
    ) {
        return Err(VeleroCliError::Invalid(format!(
            "Logs for backup {:?} are not available until it's finished processing. Please wait until the backup has a phase of Completed or Failed and try again.",
            a.name
        )));
    }
    let text = download::stream(ctx, &a.name, DownloadTargetKind::BackupLog, timeout, &a.download).await?;
    out.write_all(&text)?;
    Ok(())
}

/// `velero backup download`: the backup's tarball, as stored, into `<name>-data.tar.gz` (or
/// `-o`); an existing file is kept unless `--force`, and a failed download leaves no file.
pub(crate) async fn download(ctx: &Ctx, a: &DownloadArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let timeout = timeout_flag(&a.timeout)?;
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    if backups
        .get_opt(&a.name)
        .await
        .map_err(api(|| format!("get Backup {}/{}", ctx.namespace, a.name)))?
        .is_none()
    {
        return Err(VeleroCliError::NotFound {
            resource: BACKUPS.to_string(),
            name: a.name.clone(),
        });
    }
    let path = match &a.output {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_dir()?.join(format!("{}-data.tar.gz", a.name)),
    };
    if path.exists() && !a.force {
        return Err(VeleroCliError::Invalid(format!(
            "file '{}' already exists, remove it or choose a different one",
            path.display()
        )));
    }
    let bytes = download::stream(ctx, &a.name, DownloadTargetKind::BackupContents, timeout, &a.download).await?;
    std::fs::write(&path, bytes).map_err(|e| VeleroCliError::Invalid(format!("error creating file {}: {e}", path.display())))?;
    writeln!(out, "Backup {} has been successfully downloaded to {}", a.name, path.display())?;
    Ok(())
}

/// `velero backup delete`: one DeleteBackupRequest per backup (Velero's server deletes it).
pub(crate) async fn delete(ctx: &Ctx, a: &DeleteArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let chosen = [!a.names.is_empty(), a.all, a.selector.is_some()].iter().filter(|x| **x).count();
    if chosen != 1 {
        return Err(VeleroCliError::Invalid(
            "you must specify exactly one of: specific backup name(s), the --all flag, or the --selector flag".to_string(),
        ));
    }
    if !a.confirm {
        // velero would prompt on a terminal; an emulated, non-interactive run needs --confirm.
        return Err(VeleroCliError::Invalid(
            "deleting backups needs confirmation, and this CLI is not interactive: add --confirm".to_string(),
        ));
    }
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&backups, BACKUPS, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    if items.is_empty() {
        writeln!(out, "No backups found")?;
        return Ok(());
    }
    let requests: Api<DeleteBackupRequest> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    for backup in &items {
        let name = backup.name_any();
        let request = DeleteBackupRequest {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}-")),
                namespace: Some(ctx.namespace.clone()),
                labels: Some(
                    [
                        (BACKUP_NAME_LABEL.to_string(), valid_label_value(&name)),
                        (BACKUP_UID_LABEL.to_string(), backup.uid().unwrap_or_default()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: DeleteBackupRequestSpec { backup_name: name.clone() },
            status: None,
        };
        requests
            .create(&PostParams::default(), &request)
            .await
            .map_err(api(|| format!("create DeleteBackupRequest for backup {}/{name}", ctx.namespace)))?;
        writeln!(
            out,
            "Request to delete backup {name:?} submitted successfully.\nThe backup will be fully deleted after all associated data (disk snapshots, backup files, restores) are removed."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_velero_label_values() {
        assert_eq!(valid_label_value("my-backup"), "my-backup");
        let long = "a".repeat(70);
        let value = valid_label_value(&long);
        assert_eq!(value.len(), 63);
        assert!(value.starts_with(&"a".repeat(57)));
        assert_ne!(valid_label_value(&"a".repeat(71)), value, "the hash tells names apart");
    }

    #[test]
    fn namespace_filters_validate_like_velero() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(validate_namespace_filters(&s(&["*"]), &s(&["tkg-system"])).is_ok());
        let err = validate_namespace_filters(&s(&["a"]), &s(&["a"])).expect_err("overlap");
        assert_eq!(err.to_string(), "excludes list cannot contain an item in the includes list: a");
        assert!(validate_namespace_filters(&s(&["*"]), &s(&["*"])).is_err());
    }
}
