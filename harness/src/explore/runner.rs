//! Runs one history against a fresh simulated world, the way an operator would — the runbook's
//! own command lines through the operator's terminal — and holds the world to the reference
//! model at every step: the Machines after each operation, the drift report right after the
//! restore and once settled, the end state after the mitigation, and every backed-up object.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, DEPLOYMENT_NAME_LABEL, KubeadmControlPlane, Machine, MachineDeployment};
use drdrill_apis::velero::{Backup, BackupPhase, DEFAULT_NAMESPACE as VELERO_NAMESPACE, SCHEDULE_NAME_LABEL, Schedule};
use drdrill_kube_sim::clock::Clock;
use drdrill_scenarios::history::{
    Disaster, Fault, History, NAMESPACE, Op, POWER_OFF_MINUTES, SCHEDULE_EVERY_MINUTES, SCHEDULE_NAME, VELERO_SCHEDULE,
};
use drdrill_scenarios::model::{ClusterMachines, MachineId, PredictedFinding, Prediction, ReferenceModel};
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::drift::{self, DriftReport};
use crate::mgmt_config::ManagementConfig;
use crate::operator::Operator;
use crate::runbook::{UNPAUSE_ALL_NAMESPACES, VELERO_INSTALL};
use crate::suite::steps::{VELERO_RESTORE, latest_completed_backup};
use crate::world::{World, WorldStats};

/// The longest a settle may run, in controller passes.
const SETTLE_PASSES: usize = 5000;
/// How long the rebuilt management cluster may take to list the backups, in simulated time.
const SYNC_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Where a history left the prediction (or the world broke).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{phase}: {message}")]
pub struct Divergence {
    /// Where in the history: `ops[2] (scale …)`, `restore`, `after settle`, `after mitigation`…
    pub phase: String,
    /// What was predicted and what the world did.
    pub message: String,
}

fn diverge(phase: impl Into<String>, message: impl Into<String>) -> Divergence {
    Divergence {
        phase: phase.into(),
        message: message.into(),
    }
}

/// What one run of a history did.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// Printed drift reports, each under a heading naming the phase.
    pub reports: Vec<String>,
    /// The predictions, once the disaster happened.
    pub predictions: Vec<Prediction>,
    /// The backup the restore was made from (the latest, manual or scheduled).
    pub restored_from: String,
    /// Wall time per phase (`create`, `ops`, `recover`, `verify`).
    pub timings: BTreeMap<&'static str, Duration>,
    /// Rounds and API requests per phase.
    pub work: BTreeMap<&'static str, WorldStats>,
    /// Findings seen right after the restore, per family.
    pub families: BTreeMap<&'static str, usize>,
    /// The world's controller log, kept when the run diverged (empty otherwise). Not part of
    /// what replays compare: which round an action lands in depends on the machine's speed.
    pub controller_log: String,
}

impl RunRecord {
    /// Records a phase's wall time (since `start`) and the world's work since `before`, which
    /// moves on to now.
    fn phase_done(&mut self, phase: &'static str, start: Instant, world: &World, before: &mut WorldStats) {
        self.timings.insert(phase, start.elapsed());
        let now = world.stats();
        self.work.insert(
            phase,
            WorldStats {
                rounds: now.rounds - before.rounds,
                skipped_rounds: now.skipped_rounds - before.skipped_rounds,
                api_requests: now.api_requests - before.api_requests,
            },
        );
        *before = now;
    }
}

/// The result of one run: the record, and the divergence if the property failed.
#[derive(Debug)]
pub struct RunOutcome {
    /// What was done and printed.
    pub record: RunRecord,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
}

/// The stack of the threads a history runs on: the drill's futures nest deeply, and a debug
/// build's frames are large.
pub const STACK_SIZE: usize = 64 << 20;

/// A runtime for running histories: two workers with [`STACK_SIZE`] stacks.
pub fn history_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .thread_stack_size(STACK_SIZE)
        .enable_all()
        .build()
}

/// Runs `history` (validated first) on a new embedded world, on a thread and runtime of its own
/// (with [`STACK_SIZE`] stacks); never panics on a world error — that is a divergence too (the
/// property says every cluster converges).
pub async fn run_history(history: &History) -> RunOutcome {
    let history = history.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("drdrill-history".into())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let outcome = match history_runtime() {
                Ok(rt) => rt.block_on(run_in_place(&history)),
                Err(e) => RunOutcome {
                    record: RunRecord::default(),
                    divergence: Some(diverge("runtime", format!("cannot start a Tokio runtime: {e}"))),
                },
            };
            let _ = tx.send(outcome);
        });
    let failed = |message: String| RunOutcome {
        record: RunRecord::default(),
        divergence: Some(diverge("runtime", message)),
    };
    match spawned {
        Err(e) => failed(format!("cannot start the history's thread: {e}")),
        Ok(_) => rx.await.unwrap_or_else(|_| failed("the history's thread panicked".into())),
    }
}

/// [`run_history`] on the current runtime and thread (which must have a large stack).
pub async fn run_in_place(history: &History) -> RunOutcome {
    let mut record = RunRecord::default();
    let divergence = match history.validate() {
        Err(e) => Some(diverge("history", e.to_string())),
        // Boxed: the whole run is one large future (a debug build's stack would not hold it).
        Ok(()) => Box::pin(run_valid(history, &mut record)).await.err(),
    };
    RunOutcome { record, divergence }
}

async fn run_valid(history: &History, record: &mut RunRecord) -> Result<(), Divergence> {
    let start = Instant::now();
    let config = ManagementConfig::runbook_example(drdrill_scenarios::history::MANAGEMENT);
    let mut world = Box::pin(World::create(config, history.topology(), &mut |_| {}))
        .await
        .map_err(|e| diverge("creation", e.to_string()))?;
    let result = Box::pin(run_on(&mut world, history, record, start)).await;
    if result.is_err() {
        record.controller_log = world.log.text();
    }
    result
}

async fn run_on(world: &mut World, history: &History, record: &mut RunRecord, start: Instant) -> Result<(), Divergence> {
    for fault in &history.faults {
        match fault {
            Fault::MachinesetSkipsAdoption => world.set_fault_machineset_skips_adoption(true),
        }
    }
    let home = tempfile::Builder::new()
        .prefix("drdrill-explore-")
        .tempdir()
        .map_err(|e| diverge("creation", format!("the operator's home folder: {e}")))?;
    let mut operator = Operator::new(home.path());
    operator.tool_env = short_lived_go_env();
    operator.set_variables(world);
    std::fs::write(home.path().join("VELERO-CREDS"), world.s3.credentials_file_contents())
        .map_err(|e| diverge("creation", format!("write VELERO-CREDS: {e}")))?;
    run_ok(world, &operator, "creation", VELERO_INSTALL).await?;
    let mut model = ReferenceModel::new(history, &observe(world, history).await.map_err(|m| diverge("creation", m))?)
        .map_err(|e| diverge("creation", e.to_string()))?;
    let mut before = WorldStats::default();
    record.phase_done("create", start, world, &mut before);

    let start = Instant::now();
    let mut backups = 0;
    // The latest backup's name, and the schedule's backups so far (when it was created).
    let mut latest = String::new();
    let mut scheduled: Option<BTreeSet<String>> = None;
    for (i, op) in history.effective_ops().iter().enumerate() {
        let phase = format!("ops[{i}] ({})", op.describe());
        if *op == Op::Backup {
            backups += 1;
            latest = History::backup_name(backups);
        }
        if *op == Op::ScheduleTick {
            latest = Box::pin(next_scheduled_backup(world, SCHEDULE_NAME))
                .await
                .map_err(|m| diverge(&phase, m))?;
        } else {
            Box::pin(apply_op(world, &operator, op, backups, &phase)).await?;
        }
        if *op == Op::CreateSchedule {
            scheduled = Some(BTreeSet::new());
        }
        if let Some(known) = scheduled.as_mut() {
            // The schedule fires only where the history says so (see OP_MINUTES_BOUND).
            let now = scheduled_backups(world, SCHEDULE_NAME).await.map_err(|m| diverge(&phase, m))?;
            let new: Vec<&String> = now.keys().filter(|n| !known.contains(*n)).collect();
            let expected = usize::from(*op == Op::ScheduleTick);
            if new.len() != expected {
                return Err(diverge(
                    &phase,
                    format!(
                        "the schedule {SCHEDULE_NAME} took {} backup(s) during this operation ({}), {expected} expected",
                        new.len(),
                        new.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            known.extend(now.into_keys());
        }
        let seen = observe(world, history).await.map_err(|m| diverge(&phase, m))?;
        model.apply(op, &seen).map_err(|e| diverge(&phase, e.to_string()))?;
    }
    record.phase_done("ops", start, world, &mut before);

    let start = Instant::now();
    let predictions = model.predict().map_err(|e| diverge("disaster", e.to_string()))?;
    record.predictions = predictions.clone();
    if history.disaster == Disaster::ManagementStoreCorrupted {
        // Every object is gone but the API server answers: its controllers (and Velero's) keep
        // running on an empty store until the rebuild, and must destroy nothing outside it.
        world.management().map_err(|e| diverge("disaster", e.to_string()))?.server().wipe();
        world
            .run_for(Duration::from_secs(CORRUPTED_MINUTES * 60))
            .await
            .map_err(|e| diverge("disaster", format!("{}: {e}", history.disaster.describe())))?;
    }
    world.destroy_management_cluster();
    world
        .rebuild_management_cluster()
        .await
        .map_err(|e| diverge("rebuild", e.to_string()))?;
    operator.set_variables(world);
    run_ok(world, &operator, "rebuild", VELERO_INSTALL).await?;
    let listed = wait_for_backup(world, &operator, &latest).await?;
    let chosen = latest_completed_backup(&listed).map_err(|e| diverge("restore", e))?;
    if chosen != latest {
        return Err(diverge(
            "restore",
            format!("the latest backup `velero backup get` lists is {chosen}, the history's latest is {latest}:\n{listed}"),
        ));
    }
    record.restored_from = latest.clone();
    let restore = VELERO_RESTORE.replace("--from-backup my-backup", &format!("--from-backup {latest}"));
    run_ok(world, &operator, "restore", &restore).await?;
    Box::pin(check_backup_restored(world, &latest))
        .await
        .map_err(|m| diverge("restore", m))?;
    for p in &predictions {
        let report = report_of(world, &p.cluster).await.map_err(|m| diverge("restore", m))?;
        for f in &report.findings {
            *record.families.entry(f.family.as_str()).or_default() += 1;
        }
        record
            .reports
            .push(format!("== right after the restore (paused)\n{}", report.render()));
        compare(&p.at_restore, &report).map_err(|m| diverge("right after the restore", m))?;
    }
    run_ok(world, &operator, "unpause", UNPAUSE_ALL_NAMESPACES).await?;
    world
        .settle(SETTLE_PASSES)
        .await
        .map_err(|e| diverge("settle after unpause", e.to_string()))?;
    let mut reports = Vec::new();
    for p in &predictions {
        let report = report_of(world, &p.cluster).await.map_err(|m| diverge("after settle", m))?;
        record.reports.push(format!("== unpaused and settled\n{}", report.render()));
        compare(&p.after_settle, &report).map_err(|m| diverge("after settle", m))?;
        reports.push(report);
    }
    record.phase_done("recover", start, world, &mut before);

    let start = Instant::now();
    for report in &reports {
        Box::pin(crate::mitigate::execute(world, &operator, NAMESPACE, report, false))
            .await
            .map_err(|e| {
                diverge(
                    format!("mitigation of {}", report.cluster),
                    format!("{e}\nreport:\n{}", report.render()),
                )
            })?;
    }
    world
        .settle_until_running(SETTLE_PASSES)
        .await
        .map_err(|e| diverge("after mitigation", e.to_string()))?;
    for p in &predictions {
        verify_end(world, p, record).await.map_err(|m| diverge("after mitigation", m))?;
    }
    record.phase_done("verify", start, world, &mut before);
    Ok(())
}

/// Go runtime settings for the kubectl processes of a history, unless the user set them: about
/// eight runs of a few tens of milliseconds each, where the Go runtime's extra threads and its
/// garbage collector cost CPU and save nothing (measured: 2.20 → 2.50 histories per second two
/// at a time). They change how kubectl schedules itself, not a request it sends or a byte it
/// prints; the suite's drills leave kubectl's environment as the operator's.
fn short_lived_go_env() -> Vec<(String, String)> {
    [("GOMAXPROCS", "1"), ("GOGC", "off")]
        .into_iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Simulated minutes a corrupted management cluster runs on its empty store before the rebuild.
const CORRUPTED_MINUTES: u64 = 20;

/// The backups of the schedule `schedule` in the management cluster, by name, with their phases.
pub async fn scheduled_backups(world: &World, schedule: &str) -> Result<BTreeMap<String, Option<BackupPhase>>, String> {
    let client = world.mgmt_client().map_err(|e| e.to_string())?;
    let list = Api::<Backup>::namespaced(client, VELERO_NAMESPACE)
        .list(&ListParams::default().labels(&format!("{SCHEDULE_NAME_LABEL}={schedule}")))
        .await
        .map_err(|e| format!("list the backups of the schedule {schedule}: {e}"))?;
    Ok(list
        .items
        .into_iter()
        .map(|b| (b.name_any(), b.status.and_then(|s| s.phase)))
        .collect())
}

/// Lets simulated time pass until a minute after the next run of the `@every 24h` schedule
/// `schedule` (Velero's `getNextRunTime`: 24 hours after its last backup, or after its creation
/// before the first), then returns the one backup it took, which must have completed.
pub async fn next_scheduled_backup(world: &World, schedule: &str) -> Result<String, String> {
    let known = scheduled_backups(world, schedule).await?;
    let client = world.mgmt_client().map_err(|e| e.to_string())?;
    let found = Api::<Schedule>::namespaced(client, VELERO_NAMESPACE)
        .get(schedule)
        .await
        .map_err(|e| format!("get the schedule {schedule}: {e}"))?;
    if found.spec.schedule != "@every 24h" {
        return Err(format!(
            "the schedule {schedule} runs {:?}, not \"@every 24h\"",
            found.spec.schedule
        ));
    }
    let last = found
        .status
        .as_ref()
        .and_then(|s| s.last_backup.as_ref())
        .or(found.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .ok_or_else(|| format!("the schedule {schedule} has neither a last backup nor a creation time"))?;
    let due = last
        .checked_add(jiff::SignedDuration::from_mins(i64::from(SCHEDULE_EVERY_MINUTES)))
        .map_err(|e| format!("the next run of the schedule {schedule}: {e}"))?;
    let wait = world.clock.now().duration_until(due).as_secs().max(0).unsigned_abs() + 60;
    world.run_for(Duration::from_secs(wait)).await.map_err(|e| e.to_string())?;
    let now = scheduled_backups(world, schedule).await?;
    let new: Vec<(&String, &Option<BackupPhase>)> = now.iter().filter(|(n, _)| !known.contains_key(*n)).collect();
    match new.as_slice() {
        [(name, Some(BackupPhase::Completed))] => Ok((*name).clone()),
        [(name, other)] => Err(format!(
            "the backup {name} of the schedule {schedule} is {other:?} a minute after its run ({due}), not Completed"
        )),
        _ => Err(format!(
            "the schedule {schedule} took {} new backups by a minute after its run ({due}), one expected",
            new.len()
        )),
    }
}

async fn run_ok(world: &World, operator: &Operator, phase: &str, line: &str) -> Result<String, Divergence> {
    let out = operator
        .run(world, line)
        .await
        .map_err(|e| diverge(phase, format!("`{line}` could not run: {e}")))?;
    if !out.success {
        return Err(diverge(phase, format!("`{line}` failed:\n{}{}", out.stderr, out.stdout)));
    }
    Ok(out.stdout)
}

async fn apply_op(world: &World, operator: &Operator, op: &Op, backups: usize, phase: &str) -> Result<(), Divergence> {
    match op {
        Op::ScaleWorkers { .. } | Op::Backup | Op::UpgradeCluster { .. } => {
            let line = History::command_of(op, backups).unwrap_or_default();
            run_ok(world, operator, phase, &line).await?;
        }
        Op::CreateSchedule => {
            run_ok(world, operator, phase, VELERO_SCHEDULE).await?;
        }
        Op::ScheduleTick => return Err(diverge(phase, "a schedule tick is not an operator's command")),
        Op::ReplaceControlPlaneMachine { cluster } => {
            let client = world.mgmt_client().map_err(|e| diverge(phase, e.to_string()))?;
            let mut machines = Api::<Machine>::namespaced(client, NAMESPACE)
                .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={cluster},{CONTROL_PLANE_LABEL}")))
                .await
                .map_err(|e| diverge(phase, format!("list control-plane Machines of {cluster}: {e}")))?
                .items;
            machines.sort_by_key(|m| (m.creation_timestamp().map(|t| t.0), m.name_any()));
            let oldest = machines
                .first()
                .map(|m| m.name_any())
                .ok_or_else(|| diverge(phase, format!("{cluster} has no control-plane Machine")))?;
            run_ok(world, operator, phase, &format!("kubectl -n {NAMESPACE} delete machine {oldest}")).await?;
        }
        Op::RolloutControlPlane { cluster } => {
            let (line, at) = world
                .control_plane_rollout(NAMESPACE, cluster)
                .await
                .map_err(|e| diverge(phase, e.to_string()))?;
            run_ok(world, operator, phase, &line).await?;
            world
                .settle_until_rolled_out(NAMESPACE, cluster, at, SETTLE_PASSES)
                .await
                .map_err(|e| diverge(phase, e.to_string()))?;
        }
        Op::PowerOffWorkerVm { cluster } | Op::DeleteWorkerVm { cluster } => {
            let vm = world
                .first_worker_vm(cluster)
                .ok_or_else(|| diverge(phase, format!("{cluster} has no worker VM in the Site")))?;
            let done = if matches!(op, Op::DeleteWorkerVm { .. }) {
                world.site.delete_vm(&vm).map(drop)
            } else {
                world.site.power_off(&vm).map(drop)
            };
            done.map_err(|e| diverge(phase, format!("{} {vm}: {e}", op.describe())))?;
            world
                .run_for(Duration::from_secs(u64::from(POWER_OFF_MINUTES) * 60))
                .await
                .map_err(|e| diverge(phase, e.to_string()))?;
        }
        Op::PassTime { minutes } => {
            world
                .run_for(Duration::from_secs(u64::from(*minutes) * 60))
                .await
                .map_err(|e| diverge(phase, e.to_string()))?;
        }
    }
    if matches!(
        op,
        Op::ScaleWorkers { .. }
            | Op::ReplaceControlPlaneMachine { .. }
            | Op::PowerOffWorkerVm { .. }
            | Op::DeleteWorkerVm { .. }
            | Op::UpgradeCluster { .. }
    ) {
        world
            .settle_until_running(SETTLE_PASSES)
            .await
            .map_err(|e| diverge(phase, e.to_string()))?;
    }
    Ok(())
}

/// The Machines of every cluster of `history`, grouped as the model wants them.
pub async fn observe(world: &World, history: &History) -> Result<Vec<ClusterMachines>, String> {
    let client = world.mgmt_client().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for c in &history.clusters {
        let selector = format!("{CLUSTER_NAME_LABEL}={}", c.name);
        let machines = Api::<Machine>::namespaced(client.clone(), NAMESPACE)
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| format!("list Machines of {}: {e}", c.name))?
            .items;
        let mut deployments: Vec<String> = Api::<MachineDeployment>::namespaced(client.clone(), NAMESPACE)
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| format!("list MachineDeployments of {}: {e}", c.name))?
            .items
            .iter()
            .map(|md| md.name_any())
            .collect();
        deployments.sort();
        let id = |m: &Machine| MachineId {
            name: m.name_any(),
            created: m.creation_timestamp().map_or(0, |t| t.0.as_second()),
        };
        let mut seen = ClusterMachines {
            cluster: c.name.clone(),
            control_plane: machines
                .iter()
                .filter(|m| m.labels().contains_key(CONTROL_PLANE_LABEL))
                .map(id)
                .collect(),
            deployments: vec![Vec::new(); deployments.len()],
        };
        for m in machines.iter().filter(|m| !m.labels().contains_key(CONTROL_PLANE_LABEL)) {
            let md = m.labels().get(DEPLOYMENT_NAME_LABEL).cloned().unwrap_or_default();
            let i = deployments.iter().position(|d| *d == md).ok_or_else(|| {
                format!(
                    "worker Machine {} belongs to no MachineDeployment of {} ({md:?})",
                    m.name_any(),
                    c.name
                )
            })?;
            seen.deployments[i].push(id(m));
        }
        out.push(seen);
    }
    Ok(out)
}

async fn wait_for_backup(world: &World, operator: &Operator, name: &str) -> Result<String, Divergence> {
    let mut waited = Duration::ZERO;
    loop {
        let out = run_ok(world, operator, "backup sync", "velero backup get").await?;
        if out.lines().skip(1).any(|l| l.split_whitespace().next() == Some(name)) {
            return Ok(out);
        }
        if waited >= SYNC_LIMIT {
            return Err(diverge(
                "backup sync",
                format!(
                    "`velero backup get` did not list {name} within {} simulated minutes:\n{out}",
                    SYNC_LIMIT.as_secs() / 60
                ),
            ));
        }
        world
            .run_for(Duration::from_secs(10))
            .await
            .map_err(|e| diverge("backup sync", e.to_string()))?;
        waited += Duration::from_secs(10);
    }
}

async fn report_of(world: &World, cluster: &str) -> Result<DriftReport, String> {
    let evidence = world.evidence(NAMESPACE, cluster).await.map_err(|e| e.to_string())?;
    Ok(drift::classify(&evidence))
}

fn table(rows: &[PredictedFinding]) -> String {
    if rows.is_empty() {
        return "  (no finding)\n".into();
    }
    rows.iter().map(|r| format!("  {}\n", r.row().join(" | "))).collect()
}

/// The report's findings against the predicted ones (family, node, machine, VM).
pub fn compare(predicted: &[PredictedFinding], report: &DriftReport) -> Result<(), String> {
    let mut found: Vec<PredictedFinding> = report
        .findings
        .iter()
        .map(|f| PredictedFinding {
            family: f.family,
            node: f.node.clone(),
            machine: f.machine.clone(),
            vm: f.vm.clone(),
        })
        .collect();
    found.sort();
    let mut predicted = predicted.to_vec();
    predicted.sort();
    if found == predicted {
        return Ok(());
    }
    Err(format!(
        "drift of {} differs from the prediction\npredicted:\n{}reported:\n{}full report:\n{}",
        report.cluster,
        table(&predicted),
        table(&found),
        report.render()
    ))
}

async fn verify_end(world: &World, p: &Prediction, record: &mut RunRecord) -> Result<(), String> {
    let report = report_of(world, &p.cluster).await?;
    record.reports.push(format!("== after mitigation\n{}", report.render()));
    if !report.is_clean() {
        return Err(format!("{} still drifts after mitigation:\n{}", p.cluster, report.render()));
    }
    let e = world.evidence(NAMESPACE, &p.cluster).await.map_err(|e| e.to_string())?;
    let want = p.after_mitigation.machines();
    let counts = (e.nodes.len(), e.machines.len(), e.vms.len());
    if counts != (want, want, want) {
        return Err(format!(
            "{}: predicted {want} nodes, machines and VMs ({} control plane + workers {:?}); the world counts {} nodes, {} machines, {} VMs",
            p.cluster, p.after_mitigation.control_plane, p.after_mitigation.worker_replicas, counts.0, counts.1, counts.2
        ));
    }
    if let Some(m) = e.machines.iter().find(|m| m.node_ref.is_none()) {
        return Err(format!("{}: Machine {} has no node (stale) after mitigation", p.cluster, m.name));
    }
    let client = world.mgmt_client().map_err(|e| e.to_string())?;
    let selector = ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={}", p.cluster));
    let mut mds: Vec<MachineDeployment> = Api::<MachineDeployment>::namespaced(client.clone(), NAMESPACE)
        .list(&selector)
        .await
        .map_err(|e| format!("list MachineDeployments of {}: {e}", p.cluster))?
        .items;
    mds.sort_by_key(|md| md.name_any());
    let replicas: Vec<u32> = mds.iter().map(|md| md.spec.replicas.unwrap_or(1).max(0) as u32).collect();
    if replicas != p.after_mitigation.worker_replicas {
        return Err(format!(
            "{}: MachineDeployment replicas {replicas:?}, predicted {:?}",
            p.cluster, p.after_mitigation.worker_replicas
        ));
    }
    let kcp: Vec<u32> = Api::<KubeadmControlPlane>::namespaced(client, NAMESPACE)
        .list(&selector)
        .await
        .map_err(|e| format!("list KubeadmControlPlanes of {}: {e}", p.cluster))?
        .items
        .iter()
        .map(|k| k.spec.replicas.unwrap_or(1).max(0) as u32)
        .collect();
    if kcp != [p.after_mitigation.control_plane] {
        return Err(format!(
            "{}: KubeadmControlPlane replicas {kcp:?}, predicted [{}]",
            p.cluster, p.after_mitigation.control_plane
        ));
    }
    Ok(())
}

/// Every object of the backup `name` is in the management cluster after the restore, its
/// content intact: `spec` (without `paused`, which the restore sets), `data`, `stringData`.
async fn check_backup_restored(world: &World, name: &str) -> Result<(), String> {
    let store = world.s3.store().map_err(|e| format!("the bucket: {e}"))?;
    let key = store.layout().backup_contents_key(name);
    let bytes = store.get(&key).await.map_err(|e| format!("read {key}: {e}"))?;
    let items = drdrill_velero_sim::format::read_backup_tarball(&bytes).map_err(|e| format!("{key}: {e}"))?;
    if items.is_empty() {
        return Err(format!("backup {name} holds no object"));
    }
    let client: Client = world.mgmt_client().map_err(|e| e.to_string())?;
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| format!("discovery of the management cluster: {e}"))?;
    let mut resources = BTreeMap::new();
    for group in discovery.groups() {
        for (ar, _) in group.recommended_resources() {
            let key = if ar.group.is_empty() {
                ar.plural.clone()
            } else {
                format!("{}.{}", ar.plural, ar.group)
            };
            resources.insert(key, ar);
        }
    }
    let content = |v: &Value| {
        let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(map) = spec.as_object_mut() {
            map.remove("paused");
        }
        (spec, v.get("data").cloned(), v.get("stringData").cloned())
    };
    for item in &items {
        let ar = resources
            .get(&item.group_resource)
            .ok_or_else(|| format!("backup {name}: the management cluster does not serve {}", item.group_resource))?;
        let api: Api<DynamicObject> = match &item.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
            None => Api::all_with(client.clone(), ar),
        };
        let what = format!("{} {}/{}", item.group_resource, item.namespace.as_deref().unwrap_or(""), item.name);
        let restored = api
            .get_opt(&item.name)
            .await
            .map_err(|e| format!("get {what}: {e}"))?
            .ok_or_else(|| format!("backup {name}: {what} was not restored"))?;
        let restored = serde_json::to_value(&restored).map_err(|e| format!("{what}: {e}"))?;
        if content(&item.object) != content(&restored) {
            return Err(format!(
                "backup {name}: {what} differs after the restore\nbacked up: {}\nrestored:  {}",
                item.object.get("spec").cloned().unwrap_or(Value::Null),
                restored.get("spec").cloned().unwrap_or(Value::Null)
            ));
        }
    }
    Ok(())
}
