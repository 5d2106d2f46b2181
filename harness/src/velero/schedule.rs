//! `velero schedule create|get|pause|unpause` (and `velero create schedule`).

use std::io::Write;

use drdrill_apis::velero::{Schedule, ScheduleSpec};
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

use super::args::{GetArgs, ScheduleCreateArgs, SelectArgs};
use super::backup::{backup_spec, check_locations, get_or_list};
use super::tables::schedule_table;
use super::{Ctx, VeleroCliError, api, api_error, print_encoded, validate_output};

const SCHEDULES: &str = "schedules.velero.io";

/// `velero schedule create NAME --schedule …` with the backup flags as the template.
pub(crate) async fn create(ctx: &Ctx, a: &ScheduleCreateArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let Some(cron) = a.schedule.clone().filter(|s| !s.is_empty()) else {
        return Err(VeleroCliError::Invalid("--schedule is required".to_string()));
    };
    let (template, labels) = backup_spec(&a.filters)?;
    check_locations(ctx, &a.filters).await?;
    let schedule = Schedule {
        metadata: ObjectMeta {
            name: Some(a.name.clone()),
            namespace: Some(ctx.namespace.clone()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        spec: ScheduleSpec {
            template,
            schedule: cron,
            use_owner_references_in_backup: Some(a.use_owner_references_in_backup),
            paused: a.paused,
            skip_immediately: None,
        },
        status: None,
    };
    Api::<Schedule>::namespaced(ctx.client.clone(), &ctx.namespace)
        .create(&PostParams::default(), &schedule)
        .await
        .map_err(api(|| format!("create Schedule {}/{}", ctx.namespace, a.name)))?;
    writeln!(out, "Schedule {:?} created successfully.", a.name)?;
    Ok(())
}

/// `velero schedule get` (PAUSED column from CLI v1.10 on).
pub(crate) async fn get(ctx: &Ctx, a: &GetArgs, with_paused: bool, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    validate_output(&a.output)?;
    let schedules: Api<Schedule> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&schedules, SCHEDULES, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    if a.output == "table" {
        write!(out, "{}", schedule_table(&items, ctx.now(), with_paused))?;
        return Ok(());
    }
    print_encoded(&items, "ScheduleList", &a.output, out)
}

/// `velero schedule pause|unpause`.
pub(crate) async fn set_paused(ctx: &Ctx, a: &SelectArgs, paused: bool, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let verb = if paused { "pause" } else { "unpause" };
    let chosen = [!a.names.is_empty(), a.all, a.selector.is_some()].iter().filter(|x| **x).count();
    if chosen != 1 {
        return Err(VeleroCliError::Invalid(format!(
            "at least one of specifying the schedule names, \"--all\" or \"--selector\" is required to {verb} schedules (exactly one)"
        )));
    }
    let schedules: Api<Schedule> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(&schedules, SCHEDULES, &a.names, a.selector.as_deref(), &ctx.namespace).await?;
    if items.is_empty() {
        writeln!(out, "No schedules found")?;
        return Ok(());
    }
    let done = if paused { "paused" } else { "unpaused" };
    for schedule in items {
        let name = schedule.name_any();
        if schedule.spec.paused == paused {
            writeln!(out, "Schedule {name} is already {done}, skip")?;
            continue;
        }
        schedules
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "spec": { "paused": paused } })),
            )
            .await
            .map_err(api_error(SCHEDULES, &name, || format!("failed to update schedule {name}")))?;
        writeln!(out, "Schedule {name} {done} successfully")?;
    }
    Ok(())
}
