//! The schedule controller against a real embedded API server, on a virtual clock.

mod support_restore;

use std::time::Duration;

use drdrill_apis::velero::{Backup, BackupPhase, BackupSpec, SCHEDULE_NAME_LABEL, Schedule, SchedulePhase, ScheduleSpec};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use drdrill_velero_sim::server::ScheduleController;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support_restore::{Env, VELERO_NS};

/// The runbook's schedule: `velero create schedule daily-bak --schedule="@every 24h"
/// --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s`.
fn runbook_spec(expression: &str) -> ScheduleSpec {
    ScheduleSpec {
        schedule: expression.into(),
        template: BackupSpec {
            excluded_namespaces: Some(vec!["tkg-system".into()]),
            included_resources: Some(vec!["cluster.cluster.x-k8s.io".into()]),
            ttl: Some("336h0m0s".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn create_schedule(env: &Env, name: &str, spec: ScheduleSpec, labels: &[(&str, &str)]) -> Schedule {
    let mut schedule = Schedule::new(name, spec);
    schedule.metadata.namespace = Some(VELERO_NS.into());
    schedule.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    Api::<Schedule>::namespaced(env.client.clone(), VELERO_NS)
        .create(&PostParams::default(), &schedule)
        .await
        .expect("create Schedule")
}

async fn schedule(env: &Env, name: &str) -> Schedule {
    Api::<Schedule>::namespaced(env.client.clone(), VELERO_NS)
        .get(name)
        .await
        .expect("get Schedule")
}

async fn backups(env: &Env) -> Vec<Backup> {
    let mut list = Api::<Backup>::namespaced(env.client.clone(), VELERO_NS)
        .list(&ListParams::default())
        .await
        .expect("list Backups")
        .items;
    list.sort_by_key(|b| b.name_any());
    list
}

/// Stands in for the backup controller: every new Backup ends Completed.
async fn complete_backups(env: &Env) {
    let api: Api<Backup> = Api::namespaced(env.client.clone(), VELERO_NS);
    for b in backups(env).await {
        if b.status.as_ref().and_then(|s| s.phase).is_none() {
            let patch = json!({"status": {"phase": "Completed"}});
            api.patch(&b.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("complete");
        }
    }
}

/// Runs passes every `step` for `total`; returns, per created backup, the time of the pass.
async fn run_for(env: &Env, controller: &ScheduleController, step: Duration, total: Duration, complete: bool) -> Vec<(String, String)> {
    let mut created = Vec::new();
    let mut elapsed = Duration::ZERO;
    while elapsed <= total {
        let report = controller.reconcile_all().await.expect("schedule pass");
        for entry in report.created {
            created.push((entry, k8s_time(env.clock.now())));
        }
        if complete {
            complete_backups(env).await;
        }
        env.clock.advance(step);
        elapsed += step;
    }
    created
}

const THREE_DAYS: Duration = Duration::from_secs(3 * 86_400 + 3_600);
const TEN_MINUTES: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn every_24h_takes_one_labelled_backup_a_day() {
    let env = Env::new().await;
    // Created at 2022-12-07T17:10:42Z.
    create_schedule(&env, "daily-bak", runbook_spec("@every 24h"), &[("team", "infra")]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    let created = run_for(&env, &controller, TEN_MINUTES, THREE_DAYS, true).await;

    // Due strictly after creation + 24h; the passes run every ten minutes, so each run lands
    // on the first pass after it, and the next run counts from that backup.
    assert_eq!(
        created,
        [
            ("Backup/daily-bak-20221208172042".to_string(), "2022-12-08T17:20:42Z".to_string()),
            ("Backup/daily-bak-20221209173042".to_string(), "2022-12-09T17:30:42Z".to_string()),
            ("Backup/daily-bak-20221210174042".to_string(), "2022-12-10T17:40:42Z".to_string()),
        ]
    );
    let all = backups(&env).await;
    assert_eq!(all.len(), 3);
    for b in &all {
        assert_eq!(b.labels().get(SCHEDULE_NAME_LABEL).map(String::as_str), Some("daily-bak"));
        assert_eq!(b.labels().get("team").map(String::as_str), Some("infra"), "the schedule's labels");
        assert_eq!(b.spec.ttl.as_deref(), Some("336h0m0s"));
        assert_eq!(b.spec.included_resources, Some(vec!["cluster.cluster.x-k8s.io".to_string()]));
        assert_eq!(b.spec.excluded_namespaces, Some(vec!["tkg-system".to_string()]));
        assert!(b.owner_references().is_empty());
    }
    let s = schedule(&env, "daily-bak").await;
    let status = s.status.expect("status");
    assert_eq!(status.phase, Some(SchedulePhase::Enabled));
    assert!(status.validation_errors.is_empty());
    assert_eq!(status.last_backup.map(|t| k8s_time(t.0)).as_deref(), Some("2022-12-10T17:40:42Z"));
    assert_eq!(s.spec.skip_immediately, Some(false), "the server default is written back");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_field_cron_fires_at_the_right_virtual_times() {
    let env = Env::new().await;
    create_schedule(&env, "nightly", runbook_spec("0 1 * * *"), &[]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    let created = run_for(&env, &controller, TEN_MINUTES, THREE_DAYS, true).await;
    // Passes run at hh:m0:42; 01:00:00 is first passed at 01:00:42 each day.
    assert_eq!(
        created,
        [
            ("Backup/nightly-20221208010042".to_string(), "2022-12-08T01:00:42Z".to_string()),
            ("Backup/nightly-20221209010042".to_string(), "2022-12-09T01:00:42Z".to_string()),
            ("Backup/nightly-20221210010042".to_string(), "2022-12-10T01:00:42Z".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_expressions_fail_validation_until_fixed() {
    let env = Env::new().await;
    create_schedule(&env, "bad", runbook_spec("not-a-cron"), &[]).await;
    create_schedule(&env, "days", runbook_spec("@every 1d"), &[]).await;
    create_schedule(&env, "empty", runbook_spec(""), &[]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    let created = run_for(&env, &controller, Duration::from_secs(3_600), Duration::from_secs(2 * 86_400), true).await;
    assert!(created.is_empty(), "{created:?}");
    for (name, message) in [
        ("bad", "invalid schedule: expected exactly 5 fields, found 1: [not-a-cron]"),
        (
            "days",
            "invalid schedule: failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\"",
        ),
        ("empty", "Schedule must be a non-empty valid Cron expression"),
    ] {
        let status = schedule(&env, name).await.status.expect("status");
        assert_eq!(status.phase, Some(SchedulePhase::FailedValidation), "{name}");
        assert_eq!(status.validation_errors, [message], "{name}");
    }

    let api: Api<Schedule> = Api::namespaced(env.client.clone(), VELERO_NS);
    api.patch(
        "bad",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"schedule": "@every 1h"}})),
    )
    .await
    .expect("fix");
    // Counted from creation: long overdue, so the pass that validates it also takes a backup.
    let report = controller.reconcile_all().await.expect("pass");
    assert_eq!(report.created, ["Backup/bad-20221209181042"], "{report:?}");
    let status = schedule(&env, "bad").await.status.expect("status");
    assert_eq!(status.phase, Some(SchedulePhase::Enabled));
    assert!(
        status.validation_errors.is_empty(),
        "stale errors cleared: {:?}",
        status.validation_errors
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_schedules_take_no_backups() {
    let env = Env::new().await;
    let mut spec = runbook_spec("@every 24h");
    spec.paused = true;
    create_schedule(&env, "paused", spec, &[]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    let created = run_for(&env, &controller, Duration::from_secs(3_600), THREE_DAYS, true).await;
    assert!(created.is_empty(), "{created:?}");
    assert!(backups(&env).await.is_empty());
    assert!(
        schedule(&env, "paused").await.status.is_none(),
        "a paused schedule is not reconciled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_backup_holds_the_next_one_back() {
    let env = Env::new().await;
    create_schedule(&env, "daily-bak", runbook_spec("@every 24h"), &[]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    let created = run_for(&env, &controller, TEN_MINUTES, THREE_DAYS, false).await;
    assert_eq!(created.len(), 1, "the first backup never finishes: {created:?}");
    complete_backups(&env).await;
    let report = controller.reconcile_all().await.expect("pass");
    assert_eq!(report.created.len(), 1, "due since long, taken once the first one finished");
    let b = backups(&env).await;
    assert_eq!(
        b.iter()
            .filter(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Completed))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_references_and_skip_immediately() {
    let env = Env::new().await;
    let mut spec = runbook_spec("@every 1h");
    spec.use_owner_references_in_backup = Some(true);
    spec.skip_immediately = Some(true);
    let created = create_schedule(&env, "owned", spec, &[]).await;
    let controller = ScheduleController::new(env.ctx.clone());
    env.clock.advance(Duration::from_secs(2 * 3_600));
    // Overdue, but skipImmediately skips this run and restarts the count from now.
    let report = controller.reconcile_all().await.expect("pass");
    assert!(report.created.is_empty(), "{report:?}");
    let s = schedule(&env, "owned").await;
    assert_eq!(s.spec.skip_immediately, Some(false));
    assert_eq!(
        s.status.and_then(|st| st.last_skipped).map(|t| k8s_time(t.0)).as_deref(),
        Some("2022-12-07T19:10:42Z")
    );
    env.clock.advance(Duration::from_secs(3_601));
    let report = controller.reconcile_all().await.expect("pass");
    assert_eq!(report.created, ["Backup/owned-20221207201043"]);
    let backup = &backups(&env).await[0];
    let owner = &backup.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Schedule", "owned"));
    assert_eq!(Some(owner.uid.clone()), created.metadata.uid);
    assert_eq!(owner.controller, Some(true));
}
