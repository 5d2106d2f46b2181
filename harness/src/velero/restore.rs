//! `velero restore create|get|describe|logs`.

use std::collections::BTreeMap;
use std::io::Write;

use drdrill_apis::velero::{
    Backup, BackupPhase, DownloadTargetKind, Restore, RestorePhase, RestoreSpec, RestoreStatusSpec, SCHEDULE_NAME_LABEL,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde::Deserialize;

use super::args::{
    DescribeArgs, DownloadFlags, GetArgs, LogsArgs, RestoreCreateArgs, format_selector, parse_map, parse_selector, string_array,
    timeout_flag,
};
use super::backup::{BACKUPS, get_or_list};
use super::download;
use super::tables::{Describer, bool_pointer, go_time, restore_table};
use super::{Ctx, DESCRIBE_TIMEOUT, VeleroCliError, api, api_error, print_encoded, report_submitted, validate_output};

const RESTORES: &str = "restores.velero.io";

/// `velero restore create`.
pub(crate) async fn create(ctx: &Ctx, a: &RestoreCreateArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let (mut backup_name, mut schedule_name) = (
        a.from_backup.clone().unwrap_or_default(),
        a.from_schedule.clone().unwrap_or_default(),
    );
    if backup_name.is_empty() == schedule_name.is_empty() {
        return Err(VeleroCliError::Invalid(
            "either a backup or schedule must be specified, but not both".to_string(),
        ));
    }
    if let Some(policy) = a.existing_resource_policy.as_deref().filter(|p| !p.is_empty())
        && policy != "none"
        && policy != "update"
    {
        return Err(VeleroCliError::Invalid(
            "existing-resource-policy has invalid value, it accepts only none, update as value".to_string(),
        ));
    }
    let selector = a.selector.as_deref().map(|s| parse_selector("--selector", s)).transpose()?;
    let labels = parse_map("--labels", &a.labels, ',', '=')?;
    let mappings = parse_map("--namespace-mappings", &a.namespace_mappings, ',', ':')?;
    let name = a.name.clone().unwrap_or_else(|| {
        let source = if schedule_name.is_empty() { &backup_name } else { &schedule_name };
        format!("{source}-{}", ctx.now().strftime("%Y%m%d%H%M%S"))
    });
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    if !backup_name.is_empty() {
        backups.get(&backup_name).await.map_err(api_error(BACKUPS, &backup_name, || {
            format!("get Backup {}/{backup_name}", ctx.namespace)
        }))?;
    } else {
        let of_schedule = backups
            .list(&ListParams::default().labels(&format!("{SCHEDULE_NAME_LABEL}={schedule_name}")))
            .await
            .map_err(api(|| format!("list Backups of schedule {schedule_name}")))?
            .items;
        if of_schedule.is_empty() {
            return Err(VeleroCliError::Invalid(format!(
                "No backups found for the schedule {schedule_name}"
            )));
        }
        if a.allow_partially_failed == Some(true)
            && let Some(latest) = most_recent(of_schedule, &[BackupPhase::Completed, BackupPhase::PartiallyFailed])
        {
            backup_name = latest.name_any();
            schedule_name.clear();
        }
    }
    let status_include = string_array(a.status_include_resources.as_deref());
    let restore = Restore {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ctx.namespace.clone()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        spec: RestoreSpec {
            backup_name: Some(backup_name),
            schedule_name: (!schedule_name.is_empty()).then_some(schedule_name),
            included_namespaces: string_array(Some(&a.include_namespaces)),
            excluded_namespaces: string_array(a.exclude_namespaces.as_deref()),
            included_resources: string_array(a.include_resources.as_deref()),
            excluded_resources: string_array(a.exclude_resources.as_deref()),
            namespace_mapping: mappings,
            label_selector: selector,
            restore_pvs: a.restore_volumes,
            restore_status: status_include.map(|included| RestoreStatusSpec {
                included_resources: Some(included),
                excluded_resources: string_array(a.status_exclude_resources.as_deref()),
            }),
            preserve_node_ports: a.preserve_nodeports,
            include_cluster_resources: a.include_cluster_resources,
            hooks: Some(Default::default()),
            existing_resource_policy: a.existing_resource_policy.clone().filter(|p| !p.is_empty()),
            ..Default::default()
        },
        status: None,
    };
    let restores: Api<Restore> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    restores
        .create(&PostParams::default(), &restore)
        .await
        .map_err(api(|| format!("create Restore {}/{name}", ctx.namespace)))?;
    report_submitted(ctx, out, "restore", &name, a.wait, || {
        let restores = restores.clone();
        let name = name.clone();
        let namespace = ctx.namespace.clone();
        async move {
            let found = restores
                .get_opt(&name)
                .await
                .map_err(api(|| format!("get Restore {namespace}/{name}")))?
                .ok_or_else(|| VeleroCliError::NotFound {
                    resource: RESTORES.to_string(),
                    name: name.clone(),
                })?;
            Ok(found.status.and_then(|s| s.phase))
        }
    })
    .await
}

/// The backup with the latest start time among those in `phases`.
fn most_recent(mut backups: Vec<Backup>, phases: &[BackupPhase]) -> Option<Backup> {
    backups.sort_by_key(|b| std::cmp::Reverse(b.status.as_ref().and_then(|s| s.start_timestamp.as_ref()).map(|t| t.0)));
    backups
        .into_iter()
        .find(|b| b.status.as_ref().and_then(|s| s.phase).is_some_and(|p| phases.contains(&p)))
}

/// `velero restore get`.
pub(crate) async fn get(ctx: &Ctx, a: &GetArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    validate_output(&a.output)?;
    let restores: Api<Restore> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&restores, RESTORES, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    if a.output == "table" {
        write!(out, "{}", restore_table(&items))?;
        return Ok(());
    }
    print_encoded(&items, "RestoreList", &a.output, out)
}

/// `velero restore describe`.
pub(crate) async fn describe(ctx: &Ctx, a: &DescribeArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let restores: Api<Restore> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&restores, RESTORES, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    for (i, restore) in items.iter().enumerate() {
        if i > 0 {
            write!(out, "\n\n")?;
        }
        let text = describe_restore(ctx, restore, &a.download).await;
        write!(out, "{text}")?;
    }
    Ok(())
}

/// One side of a restore's results file.
#[derive(Debug, Default, Deserialize)]
struct RestoreResult {
    #[serde(default)]
    velero: Vec<String>,
    #[serde(default)]
    cluster: Vec<String>,
    #[serde(default)]
    namespaces: BTreeMap<String, Vec<String>>,
}

/// velero's `DescribeRestore` (without pod volume restores).
async fn describe_restore(ctx: &Ctx, restore: &Restore, flags: &DownloadFlags) -> String {
    let mut d = Describer::default();
    d.metadata(&restore.metadata);
    d.line("");
    let status = restore.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(RestorePhase::New);
    let note = if matches!(phase, RestorePhase::Failed | RestorePhase::PartiallyFailed) {
        format!(" (run 'velero restore logs {}' for more information)", restore.name_any())
    } else {
        String::new()
    };
    d.line(&format!("Phase:\t{}{note}", phase.as_str()));
    if let Some(progress) = &status.progress {
        if phase == RestorePhase::InProgress {
            d.line(&format!("Estimated total items to be restored:\t{}", progress.total_items));
            d.line(&format!("Items restored so far:\t{}", progress.items_restored));
        } else {
            d.line(&format!("Total items to be restored:\t{}", progress.total_items));
            d.line(&format!("Items restored:\t{}", progress.items_restored));
        }
    }
    d.line("");
    let time_or_na =
        |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.map(|t| go_time(t.0)).unwrap_or_else(|| "<n/a>".to_string());
    d.line(&format!("Started:\t{}", time_or_na(status.start_timestamp.as_ref())));
    d.line(&format!("Completed:\t{}", time_or_na(status.completion_timestamp.as_ref())));
    if let Some(errors) = status.validation_errors.as_ref().filter(|e| !e.is_empty()) {
        d.line("");
        d.print("Validation errors:");
        for error in errors {
            d.line(&format!("\t{error}"));
        }
    }
    if status.warnings > 0 || status.errors > 0 {
        match results(ctx, restore, flags).await {
            Err(e) => d.line(&format!(
                "Warnings:\t<error getting warnings: {e}>\n\nErrors:\t<error getting errors: {e}>"
            )),
            Ok(results) => {
                for (name, count) in [("Warnings", status.warnings), ("Errors", status.errors)] {
                    if count == 0 {
                        continue;
                    }
                    let result = results.get(&name.to_lowercase());
                    d.line("");
                    d.line(&format!("{name}:"));
                    d.slice(1, "Velero", result.map(|r| r.velero.as_slice()).unwrap_or_default());
                    d.slice(1, "Cluster", result.map(|r| r.cluster.as_slice()).unwrap_or_default());
                    match result.filter(|r| !r.namespaces.is_empty()) {
                        None => d.line("\tNamespaces:<none>"),
                        Some(r) => {
                            d.line("\tNamespaces:");
                            for (ns, items) in &r.namespaces {
                                d.slice(2, ns, items);
                            }
                        }
                    }
                }
            }
        }
    }
    let spec = &restore.spec;
    d.line("");
    d.line(&format!("Backup:\t{}", spec.backup_name.clone().unwrap_or_default()));
    d.line("");
    d.line("Namespaces:");
    let included = match spec.included_namespaces.as_deref() {
        None | Some([]) => "all namespaces found in the backup".to_string(),
        Some([only]) if only == "*" => "all namespaces found in the backup".to_string(),
        Some(list) => list.join(", "),
    };
    let list = |items: &Option<Vec<String>>, empty: &str| match items.as_ref().filter(|v| !v.is_empty()) {
        Some(v) => v.join(", "),
        None => empty.to_string(),
    };
    d.line(&format!("\tIncluded:\t{included}"));
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
    d.map("Namespace mappings", Some(&spec.namespace_mapping));
    d.line("");
    let selector = match &spec.label_selector {
        Some(s) => format_selector(Some(s)),
        None => "<none>".to_string(),
    };
    d.line(&format!("Label selector:\t{selector}"));
    d.line("");
    d.line(&format!(
        "Restore PVs:\t{}",
        bool_pointer(spec.restore_pvs, "false", "true", "auto")
    ));
    d.line("");
    d.line(&format!(
        "Existing Resource Policy: \t{}",
        spec.existing_resource_policy.clone().unwrap_or_else(|| "<none>".to_string())
    ));
    d.line("");
    d.line(&format!(
        "Preserve Service NodePorts:\t{}",
        bool_pointer(spec.preserve_node_ports, "false", "true", "auto")
    ));
    d.finish()
}

/// The restore's results file, through a DownloadRequest.
async fn results(ctx: &Ctx, restore: &Restore, flags: &DownloadFlags) -> Result<BTreeMap<String, RestoreResult>, String> {
    let bytes = download::stream(
        ctx,
        &restore.name_any(),
        DownloadTargetKind::RestoreResults,
        DESCRIBE_TIMEOUT,
        flags,
    )
    .await
    .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// `velero restore logs`: the restore's `restore-<name>-logs.gz`, through a DownloadRequest.
pub(crate) async fn logs(ctx: &Ctx, a: &LogsArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let timeout = timeout_flag(&a.timeout)?;
    let restores: Api<Restore> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let restore = restores
        .get_opt(&a.name)
        .await
        .map_err(api(|| format!("Error checking for restore {:?}", a.name)))?
        .ok_or_else(|| VeleroCliError::Invalid(format!("Restore {:?} does not exist.", a.name)))?;
    let phase = restore.status.as_ref().and_then(|s| s.phase);
    if !matches!(
        phase,
        Some(RestorePhase::Completed | RestorePhase::PartiallyFailed | RestorePhase::Failed)
    ) {
        return Err(VeleroCliError::Invalid(format!(
            "Logs for restore {:?} are not available until it's finished processing. Please wait until the restore has a phase of Completed or Failed and try again.",
            a.name
        )));
    }
    let text = download::stream(ctx, &a.name, DownloadTargetKind::RestoreLog, timeout, &a.download).await?;
    out.write_all(&text)?;
    Ok(())
}
