//! Drift exploration: random valid histories against the simulated world, held to the reference
//! model; a deliberately injected fault is caught, shrunk and replayed; committed regression
//! files replay clean.

use std::path::Path;

use drdrill::explore::{self, ExploreOptions, reproduce};
use drdrill_scenarios::history::{ClusterShape, Disaster, Fault, History, Op};
use drdrill_scenarios::model::Family;

/// Histories `cargo test` explores when `DRDRILL_EXPLORE_CASES` is not set: 64 in CI (the
/// issue's floor), 16 on a laptop's `cargo test` (a debug-build history takes a few seconds on
/// 2 cores); set the variable for more, or run `drdrill explore --cases N` in release.
fn default_cases() -> u32 {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
        64
    } else {
        16
    }
}

fn kubectl_available() -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()));
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(found || !ci, "kubectl is not on PATH, and CI=true requires it");
    if !found {
        eprintln!("SKIPPED: histories run the runbook's kubectl commands; kubectl is not on PATH");
    }
    found
}

fn scale(workers: u32) -> Op {
    Op::ScaleWorkers {
        cluster: "tkg-wc-a".into(),
        workers,
    }
}

/// A history of one cluster, `tkg-wc-a`, losing its management cluster after `ops`.
fn one_cluster(seed: u64, control_plane: u32, workers: u32, ops: Vec<Op>) -> History {
    History {
        seed,
        clusters: vec![ClusterShape {
            name: "tkg-wc-a".into(),
            control_plane,
            workers,
            kubernetes: drdrill_scenarios::LATEST_RELEASE.kubernetes.into(),
        }],
        ops,
        disaster: Disaster::ManagementClusterLost,
        faults: Vec::new(),
    }
}

/// Runs `history`; panics with the replay's text on a divergence; returns the outcome and text.
async fn run_clean(history: &History) -> (explore::RunOutcome, String) {
    let outcome = explore::run_history(history).await;
    let text = reproduce::render(history, &outcome);
    assert!(outcome.divergence.is_none(), "{text}");
    (outcome, text)
}

/// Every family at once, with the model's rules on which Machines survive: workers scaled up
/// then down after the backup, a control-plane machine replaced after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_with_every_family_matches_the_model() {
    if !kubectl_available() {
        return;
    }
    let history = one_cluster(
        5,
        3,
        1,
        vec![
            scale(2),
            Op::Backup,
            scale(4),
            Op::PassTime { minutes: 30 },
            scale(3),
            Op::ReplaceControlPlaneMachine {
                cluster: "tkg-wc-a".into(),
            },
        ],
    );
    let (outcome, text) = run_clean(&history).await;
    let p = &outcome.record.predictions[0];
    let families: Vec<Family> = p.after_settle.iter().map(|f| f.family).collect();
    assert!(families.contains(&Family::ControlPlaneGhost), "{text}");
    assert!(families.contains(&Family::GhostWorker), "{text}");
    assert!(text.contains("Drift report for cluster tkg-wc-a: 0 finding(s)"), "{text}");
}

/// A worker VM powered off in vSphere after the backup: CAPV powers it back on, no Machine
/// changes, and the restore finds no drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_vm_powered_off_after_the_backup_leaves_no_drift() {
    if !kubectl_available() {
        return;
    }
    let history = one_cluster(
        9,
        1,
        2,
        vec![
            Op::Backup,
            Op::PowerOffWorkerVm {
                cluster: "tkg-wc-a".into(),
            },
        ],
    );
    let (outcome, text) = run_clean(&history).await;
    let p = &outcome.record.predictions[0];
    assert!(p.at_restore.is_empty(), "{text}");
    assert!(text.contains("Drift report for cluster tkg-wc-a: 0 finding(s)"), "{text}");
    let feature = history.to_feature("powered off", &reproduce::expectations(&outcome));
    assert!(
        feature.contains("When the VM of a worker node of \"tkg-wc-a\" is powered off\n    And 30 minutes pass\n"),
        "{feature}"
    );
}

/// A worker VM deleted in vSphere after the backup: the MachineHealthCheck replaced its Machine,
/// so the restore brings back a Machine without a VM (a stale worker, remediated on its own) and
/// finds the replacement's Node and VM unmanaged (a ghost worker, mitigated by the runbook).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_vm_deleted_after_the_backup_is_a_stale_and_a_ghost_worker() {
    if !kubectl_available() {
        return;
    }
    let history = one_cluster(
        9,
        1,
        2,
        vec![
            Op::Backup,
            Op::DeleteWorkerVm {
                cluster: "tkg-wc-a".into(),
            },
        ],
    );
    let (outcome, text) = run_clean(&history).await;
    let at_restore: Vec<Family> = outcome.record.predictions[0].at_restore.iter().map(|f| f.family).collect();
    assert_eq!(at_restore, [Family::StaleWorker, Family::GhostWorker], "{text}");
    let feature = history.to_feature("deleted", &reproduce::expectations(&outcome));
    assert!(
        feature.contains("When the VM of a worker node of \"tkg-wc-a\" is deleted in vSphere\n    And 30 minutes pass\n"),
        "{feature}"
    );
}

/// The property: random valid histories (count from `DRDRILL_EXPLORE_CASES`), each run on a
/// fresh world, match the reference model from the first operation to the mitigated end state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_match_the_reference_model() {
    if !kubectl_available() {
        return;
    }
    let cases = explore::cases_from_env(default_cases()).unwrap_or_else(|e| panic!("{e}"));
    let seed = std::env::var("DRDRILL_EXPLORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00D5_D511);
    let summary = explore::explore(cases, seed, &ExploreOptions::default(), |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", summary.render());
    if let Some(f) = &summary.failure {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("drdrill-explore");
        let outcome = explore::RunOutcome {
            record: f.record.clone(),
            divergence: Some(f.divergence.clone()),
        };
        let saved = reproduce::save(&dir, &format!("seed-{seed}"), &f.history, &outcome, &f.divergence.to_string());
        panic!("{}\nreproducer: {saved:?}", summary.render());
    }
    assert_eq!(summary.passed, cases, "{}", summary.render());
    assert!(
        summary.ops.get("backup").copied().unwrap_or(0) >= cases,
        "every history restores a backup"
    );
}

/// Acceptance 2: with MachineSets that skip adoption, the exploration fails, shrinks the history
/// to at most 3 operations, and the saved reproducer replays the same failure twice in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_adoption_fault_is_caught_shrunk_and_replayed() {
    if !kubectl_available() {
        return;
    }
    let options = ExploreOptions {
        max_ops: 5,
        max_shrink_runs: 48,
        faults: vec![Fault::MachinesetSkipsAdoption],
        ..ExploreOptions::default()
    };
    let summary = explore::explore(4, 7, &options, |_| {}).await.unwrap_or_else(|e| panic!("{e}"));
    let failure = summary
        .failure
        .clone()
        .unwrap_or_else(|| panic!("the fault was not caught:\n{}", summary.render()));
    assert!(
        failure.history.ops.len() <= 3,
        "shrunk to {} operations:\n{}",
        failure.history.ops.len(),
        summary.render()
    );
    assert_eq!(failure.history.faults, vec![Fault::MachinesetSkipsAdoption]);
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = explore::RunOutcome {
        record: failure.record.clone(),
        divergence: Some(failure.divergence.clone()),
    };
    let saved = reproduce::save(
        dir.path(),
        "adoption-fault",
        &failure.history,
        &outcome,
        "MachineSets skip adoption",
    )
    .expect("save");
    let feature = std::fs::read_to_string(&saved.feature).expect("feature");
    assert!(
        feature.contains("When the test-only fault \"machineset-skips-adoption\" is switched on"),
        "{feature}"
    );
    let log = std::fs::read_to_string(saved.controller_log.as_ref().expect("the failing run's controller log is saved")).expect("log");
    assert!(log.contains(" machineset: created Machine/"), "{}", &log[..log.len().min(2000)]);
    let (first, first_text) = reproduce::reproduce(&saved.yaml).await.expect("replay");
    let (second, second_text) = reproduce::reproduce(&saved.yaml).await.expect("replay again");
    let first = first.divergence.unwrap_or_else(|| panic!("the replay did not fail:\n{first_text}"));
    assert_eq!(Some(first.clone()), second.divergence, "{first_text}\n---\n{second_text}");
    assert_eq!(first.phase, failure.divergence.phase, "{first_text}");
    assert_eq!(first_text, second_text);
}

/// Every committed regression history (tests/regressions/*.yaml) replays with no divergence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_regressions_replay_clean() {
    if !kubectl_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/regressions")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression file in {}", dir.display());
    for file in files {
        let (outcome, text) = reproduce::reproduce(&file).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(outcome.divergence.is_none(), "{}:\n{text}", file.display());
    }
}
