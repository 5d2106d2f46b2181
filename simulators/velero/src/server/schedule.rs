//! The schedule controller: validates each Schedule's cron expression and, when it is due on
//! the clock, creates a Backup from its template.
//!
//! Facts from Velero v1.18 (`pkg/controller/schedule_controller.go`, `pkg/builder/
//! backup_builder.go` `FromSchedule`, `Schedule.TimestampedName`):
//!
//! * paused schedules are not reconciled at all (the controller's event filter drops them);
//! * the expression is parsed by robfig/cron's `ParseStandard` (see [`cron`]); an empty one
//!   gives `Schedule must be a non-empty valid Cron expression`, a bad one
//!   `invalid schedule: <parser error>`, and the phase `FailedValidation`; a valid one `Enabled`;
//! * `spec.skipImmediately` (unset: the server's `--schedule-skip-immediately`, default false)
//!   when true is reset to false and `status.lastSkipped` set to now;
//! * due when now is strictly after `next(last)`, `last` being the latest of
//!   `status.lastBackup` (or, before the first backup, the creation time — so no backup is taken
//!   right at creation, since v1.9) and `status.lastSkipped`; missed runs are not caught up;
//! * no new backup while one of this schedule's backups is still `""`, `New` or `InProgress`;
//! * the Backup is `<schedule>-<YYYYMMDDhhmmss>` (now, UTC), its spec the template, its labels
//!   the template's `metadata.labels` if any, else the schedule's labels, plus
//!   `velero.io/schedule-name`; the schedule's annotations; a controller ownerReference to the
//!   schedule with `useOwnerReferencesInBackup`; then `status.lastBackup` is now.

pub mod cron;

use std::collections::BTreeMap;

use drdrill_apis::velero::{API_VERSION, Backup, BackupPhase, SCHEDULE_NAME_LABEL, Schedule, SchedulePhase};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::ResourceExt;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

pub use cron::{CronError, CronSchedule, parse_go_duration};

use super::{Context, Report, ServerContext, VeleroError};

/// The validation error for an empty expression.
pub const EMPTY_SCHEDULE_ERROR: &str = "Schedule must be a non-empty valid Cron expression";

/// Velero's validation of `spec.schedule`: the parsed schedule, or the validation errors.
pub fn parse_schedule(expression: &str) -> Result<CronSchedule, Vec<String>> {
    if expression.is_empty() {
        return Err(vec![EMPTY_SCHEDULE_ERROR.to_string()]);
    }
    CronSchedule::parse(expression).map_err(|e| vec![format!("invalid schedule: {e}")])
}

/// The name of the Backup a schedule takes at `at`: `<schedule>-YYYYMMDDhhmmss` in UTC.
pub fn timestamped_name(schedule: &str, at: Timestamp) -> String {
    format!("{schedule}-{}", at.strftime("%Y%m%d%H%M%S"))
}

/// `getNextRunTime`: whether a schedule whose last run (backup, creation or skip) was `last` is
/// due at `now`, and when its next run is (`None`: never).
pub fn next_run(cron: &CronSchedule, last: Timestamp, now: Timestamp) -> (bool, Option<Timestamp>) {
    let next = cron.next(last);
    (next.is_some_and(|n| now > n), next)
}

/// Takes scheduled backups (see the module documentation).
pub struct ScheduleController {
    ctx: ServerContext,
    skip_immediately: bool,
}

impl ScheduleController {
    /// A controller with the server's default `--schedule-skip-immediately=false`.
    pub fn new(ctx: ServerContext) -> Self {
        ScheduleController {
            ctx,
            skip_immediately: false,
        }
    }

    /// Sets the server's `--schedule-skip-immediately` (used when a schedule leaves
    /// `spec.skipImmediately` unset).
    pub fn with_skip_immediately(mut self, skip: bool) -> Self {
        self.skip_immediately = skip;
        self
    }

    /// One pass over every Schedule in Velero's namespace, by name.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let api: Api<Schedule> = Api::namespaced(self.ctx.client.clone(), ns);
        let mut schedules = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Schedules in {ns}"))?
            .items;
        schedules.sort_by_key(|s| s.name_any());
        let mut report = Report::default();
        for schedule in schedules {
            if schedule.spec.paused {
                continue;
            }
            self.reconcile(schedule, &mut report).await?;
        }
        Ok(report)
    }

    async fn reconcile(&self, schedule: Schedule, report: &mut Report) -> Result<(), VeleroError> {
        let ns = &self.ctx.namespace;
        let name = schedule.name_any();
        let api: Api<Schedule> = Api::namespaced(self.ctx.client.clone(), ns);
        let now = self.ctx.clock.now();
        let mut status = schedule.status.clone().unwrap_or_default();
        let mut changed = false;

        let skip = schedule.spec.skip_immediately.unwrap_or(self.skip_immediately);
        if schedule.spec.skip_immediately != Some(false) {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"skipImmediately": false}})),
            )
            .await
            .ctx(|| format!("update Schedule {ns}/{name} spec.skipImmediately"))?;
            changed = true;
        }
        if skip {
            status.last_skipped = Some(Time(now));
            changed = true;
        }

        let parsed = parse_schedule(&schedule.spec.schedule);
        let (phase, errors) = match &parsed {
            Ok(_) => (SchedulePhase::Enabled, Vec::new()),
            Err(errors) => (SchedulePhase::FailedValidation, errors.clone()),
        };
        if status.phase != Some(phase) || status.validation_errors != errors {
            status.phase = Some(phase);
            status.validation_errors = errors;
            changed = true;
        }
        if changed {
            self.write_status(&api, &name, &status).await?;
            report.updated.push(format!("Schedule/{name}"));
        }
        let Ok(cron) = parsed else {
            return Ok(());
        };

        let created = schedule.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
        let mut last = status.last_backup.as_ref().map_or(created, |t| t.0);
        if let Some(skipped) = &status.last_skipped
            && skipped.0 > last
        {
            last = skipped.0;
        }
        let (due, _) = next_run(&cron, last, now);
        if !due || self.backup_running(&name).await? {
            return Ok(());
        }
        let backup = backup_from(&schedule, now);
        let backup_name = backup.name_any();
        let backups: Api<Backup> = Api::namespaced(self.ctx.client.clone(), ns);
        match backups.create(&PostParams::default(), &backup).await {
            Ok(_) => report.created.push(format!("Backup/{backup_name}")),
            Err(kube::Error::Api(s)) if s.is_already_exists() => {}
            Err(e) => {
                return Err(VeleroError::Kube {
                    action: format!("create Backup {ns}/{backup_name} for Schedule {name}"),
                    source: e,
                });
            }
        }
        status.last_backup = Some(Time(now));
        self.write_status(&api, &name, &status).await?;
        report.updated.push(format!("Schedule/{name}"));
        Ok(())
    }

    async fn write_status(
        &self,
        api: &Api<Schedule>,
        name: &str,
        status: &drdrill_apis::velero::ScheduleStatus,
    ) -> Result<(), VeleroError> {
        let ns = &self.ctx.namespace;
        let value = serde_json::to_value(status).ctx(|| format!("serialize Schedule {ns}/{name} status"))?;
        // validationErrors is omitted when empty: clear a stale list explicitly.
        let mut value = value;
        if status.validation_errors.is_empty() {
            value["validationErrors"] = serde_json::Value::Null;
        }
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({ "status": value })))
            .await
            .ctx(|| format!("update Schedule {ns}/{name} status"))?;
        Ok(())
    }

    /// `checkIfBackupInNewOrProgress`.
    async fn backup_running(&self, schedule: &str) -> Result<bool, VeleroError> {
        let ns = &self.ctx.namespace;
        let backups: Api<Backup> = Api::namespaced(self.ctx.client.clone(), ns);
        let lp = ListParams::default().labels(&format!("{SCHEDULE_NAME_LABEL}={schedule}"));
        let list = backups
            .list(&lp)
            .await
            .ctx(|| format!("list Backups of Schedule {ns}/{schedule}"))?;
        Ok(list.items.iter().any(|b| {
            matches!(
                b.status.as_ref().and_then(|s| s.phase),
                None | Some(BackupPhase::New) | Some(BackupPhase::InProgress)
            )
        }))
    }
}

/// The Backup `schedule` takes at `at` (`getBackup` / `FromSchedule`).
pub fn backup_from(schedule: &Schedule, at: Timestamp) -> Backup {
    let name = schedule.name_any();
    let mut labels: BTreeMap<String, String> = match &schedule.spec.template.metadata {
        Some(meta) if !meta.labels.is_empty() => meta.labels.clone(),
        _ => schedule.labels().clone(),
    };
    labels.insert(SCHEDULE_NAME_LABEL.to_string(), name.clone());
    let owner_references = (schedule.spec.use_owner_references_in_backup == Some(true)).then(|| {
        vec![OwnerReference {
            api_version: API_VERSION.to_string(),
            kind: "Schedule".to_string(),
            name: name.clone(),
            uid: schedule.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }]
    });
    Backup {
        metadata: ObjectMeta {
            name: Some(timestamped_name(&name, at)),
            namespace: schedule.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: schedule.metadata.annotations.clone().filter(|a| !a.is_empty()),
            owner_references,
            ..Default::default()
        },
        spec: schedule.spec.template.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use drdrill_apis::velero::{Metadata, ScheduleSpec};

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn names_carry_the_utc_time() {
        assert_eq!(
            timestamped_name("daily-bak", ts("2024-05-01T10:00:07Z")),
            "daily-bak-20240501100007"
        );
    }

    #[test]
    fn due_only_strictly_after_the_next_run() {
        let cron = parse_schedule("@every 24h").expect("valid");
        let last = ts("2024-05-01T10:00:00Z");
        assert_eq!(
            next_run(&cron, last, ts("2024-05-02T10:00:00Z")),
            (false, Some(ts("2024-05-02T10:00:00Z")))
        );
        assert!(next_run(&cron, last, ts("2024-05-02T10:00:01Z")).0);
        let never = parse_schedule("0 0 30 2 *").expect("valid");
        assert_eq!(next_run(&never, last, ts("2030-01-01T00:00:00Z")), (false, None));
    }

    #[test]
    fn validation_messages_name_the_problem() {
        assert_eq!(parse_schedule("").expect_err("empty"), [EMPTY_SCHEDULE_ERROR]);
        assert_eq!(
            parse_schedule("every day").expect_err("bad"),
            ["invalid schedule: expected exactly 5 fields, found 2: [every day]"]
        );
    }

    #[test]
    fn backups_follow_the_template() {
        let mut schedule = Schedule::new(
            "daily-bak",
            ScheduleSpec {
                schedule: "@every 24h".into(),
                use_owner_references_in_backup: Some(true),
                ..Default::default()
            },
        );
        schedule.metadata.namespace = Some("velero".into());
        schedule.metadata.uid = Some("uid-1".into());
        schedule.metadata.labels = Some([("team".to_string(), "infra".to_string())].into());
        schedule.spec.template.ttl = Some("336h0m0s".into());
        let backup = backup_from(&schedule, ts("2024-05-01T10:00:00Z"));
        assert_eq!(backup.name_any(), "daily-bak-20240501100000");
        assert_eq!(backup.spec.ttl.as_deref(), Some("336h0m0s"));
        assert_eq!(backup.labels().get("team").map(String::as_str), Some("infra"));
        assert_eq!(backup.labels().get(SCHEDULE_NAME_LABEL).map(String::as_str), Some("daily-bak"));
        let owner = &backup.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Schedule", "uid-1", Some(true))
        );

        schedule.spec.template.metadata = Some(Metadata {
            labels: [("tier".to_string(), "gold".to_string())].into(),
        });
        schedule.spec.use_owner_references_in_backup = None;
        let backup = backup_from(&schedule, ts("2024-05-01T10:00:00Z"));
        assert_eq!(backup.labels().get("team"), None, "template labels replace the schedule's");
        assert_eq!(backup.labels().get("tier").map(String::as_str), Some("gold"));
        assert!(backup.owner_references().is_empty());
    }
}
