//! Property-based drift exploration: random valid histories (proptest-state-machine over
//! [`drdrill_scenarios::history::HistoryMachine`]) run against fresh simulated worlds, each held
//! to the reference model ([`drdrill_scenarios::model`]). A failing history is shrunk to a
//! minimal one and saved as a reproducer (YAML with the seed, and an equivalent `.feature`).

pub mod reproduce;
pub mod runner;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::world::WorldStats;
use drdrill_scenarios::history::{ExploreState, Fault, History, HistoryMachine, Op};
use futures::StreamExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

pub use runner::{Divergence, RunOutcome, RunRecord, run_history, run_in_place};

/// The environment variable that sets how many histories `cargo test` explores.
pub const CASES_VARIABLE: &str = "DRDRILL_EXPLORE_CASES";

/// How an exploration runs.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Operations per history (before the disaster), at most.
    pub max_ops: usize,
    /// Shrink attempts after a failure, at most (each runs a whole history).
    pub max_shrink_runs: u32,
    /// Test-only faults every history is run with.
    pub faults: Vec<Fault>,
    /// Histories run at once (each on a world, thread and runtime of its own).
    pub jobs: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            max_ops: 8,
            max_shrink_runs: 200,
            faults: Vec::new(),
            jobs: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// Progress of an exploration, reported after every history run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExploreProgress {
    /// Histories generated and passed so far (shrink runs not counted).
    pub passed: u32,
    /// Histories asked for.
    pub cases: u32,
    /// Whether shrinking a failure is under way.
    pub shrinking: bool,
    /// Runs of histories in all (cases and shrink runs).
    pub runs: u32,
}

/// A failure, shrunk.
#[derive(Debug, Clone)]
pub struct ExploreFailure {
    /// The minimal failing history.
    pub history: History,
    /// Its divergence.
    pub divergence: Divergence,
    /// Its drift reports and predictions.
    pub record: RunRecord,
}

/// What an exploration did.
#[derive(Debug, Clone)]
pub struct ExploreSummary {
    /// The exploration's seed (proptest's generator is seeded from it).
    pub seed: u64,
    /// Histories asked for.
    pub cases: u32,
    /// Histories that passed.
    pub passed: u32,
    /// Every history run, shrink runs included.
    pub runs: u32,
    /// Operations run, by kind.
    pub ops: BTreeMap<&'static str, u32>,
    /// Disasters, by kind.
    pub disasters: BTreeMap<&'static str, u32>,
    /// Drift findings seen right after the restore, by family.
    pub families: BTreeMap<&'static str, usize>,
    /// Wall time per phase, summed over runs (runs overlap when several run at once).
    pub phases: BTreeMap<&'static str, Duration>,
    /// Rounds and API requests per phase, summed over runs.
    pub work: BTreeMap<&'static str, WorldStats>,
    /// The shrunk failure, if any.
    pub failure: Option<ExploreFailure>,
    /// Wall time.
    pub elapsed: Duration,
}

impl ExploreSummary {
    /// Histories run per second (shrink runs included).
    pub fn histories_per_second(&self) -> f64 {
        f64::from(self.runs) / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A few lines for the terminal.
    pub fn render(&self) -> String {
        let mut out = format!(
            "explored {} of {} histories (seed {}): {} run(s) in {:.1} s, {:.2} histories/s\n",
            self.passed,
            self.cases,
            self.seed,
            self.runs,
            self.elapsed.as_secs_f64(),
            self.histories_per_second()
        );
        let ops: Vec<String> = self.ops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("operations: {}\n", ops.join(", ")));
        let disasters: Vec<String> = self.disasters.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("disasters: {}\n", disasters.join(", ")));
        let fam: Vec<String> = self.families.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!(
            "drift found after restore: {}\n",
            if fam.is_empty() { "none".into() } else { fam.join(", ") }
        ));
        let phases: Vec<String> = self.phases.iter().map(|(k, v)| format!("{k} {:.1} s", v.as_secs_f64())).collect();
        out.push_str(&format!("time by phase: {}\n", phases.join(", ")));
        let runs = f64::from(self.runs.max(1));
        let work: Vec<String> = self
            .work
            .iter()
            .map(|(k, w)| {
                format!(
                    "{k} {:.0} rounds (+{:.0} skipped) / {:.0} requests",
                    w.rounds as f64 / runs,
                    w.skipped_rounds as f64 / runs,
                    w.api_requests as f64 / runs
                )
            })
            .collect();
        out.push_str(&format!("work per history by phase: {}\n", work.join(", ")));
        match &self.failure {
            None => out.push_str("no divergence\n"),
            Some(f) => out.push_str(&format!(
                "DIVERGENCE in a history of {} operation(s) (shrunk):\n{}\n{}\n",
                f.history.ops.len(),
                f.history.to_yaml(),
                f.divergence
            )),
        }
        out
    }
}

/// Why an exploration could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// Proptest gave up (too many rejected histories).
    #[error("the exploration stopped: {0}")]
    Aborted(String),
    /// The blocking task running the exploration died.
    #[error("the exploration's task failed: {0}")]
    Task(String),
}

fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut s = drdrill_scenarios::SeededRng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9));
        chunk.copy_from_slice(&s.next_u64().to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Explores `cases` random histories from `seed` (the same seed explores the same histories) on
/// the embedded default world; stops at the first divergence, shrinks it and returns it in the
/// summary. `progress` hears after every run. The histories run on a thread and runtime of
/// their own (see [`runner::STACK_SIZE`]).
pub async fn explore(
    cases: u32,
    seed: u64,
    options: &ExploreOptions,
    progress: impl FnMut(&ExploreProgress) + Send + 'static,
) -> Result<ExploreSummary, ExploreError> {
    let options = options.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("drdrill-explore".into())
        .stack_size(runner::STACK_SIZE)
        .spawn(move || {
            let result = runner::history_runtime()
                .map_err(|e| ExploreError::Task(format!("cannot start a Tokio runtime: {e}")))
                .and_then(|rt| explore_blocking(&rt, cases, seed, &options, progress));
            let _ = tx.send(result);
        })
        .map_err(|e| ExploreError::Task(format!("cannot start the exploration's thread: {e}")))?;
    rx.await
        .map_err(|_| ExploreError::Task("the exploration's thread panicked".into()))?
}

#[derive(Default)]
struct Tally {
    passed: u32,
    runs: u32,
    shrinking: bool,
    ops: BTreeMap<&'static str, u32>,
    disasters: BTreeMap<&'static str, u32>,
    families: BTreeMap<&'static str, usize>,
    phases: BTreeMap<&'static str, Duration>,
    work: BTreeMap<&'static str, WorldStats>,
}

impl Tally {
    fn count(&mut self, history: &History, outcome: &RunOutcome) {
        self.runs += 1;
        for op in history.effective_ops() {
            *self.ops.entry(op.kind()).or_default() += 1;
        }
        *self.disasters.entry(history.disaster.kind()).or_default() += 1;
        for (family, n) in &outcome.record.families {
            *self.families.entry(family).or_default() += n;
        }
        for (phase, d) in &outcome.record.timings {
            *self.phases.entry(phase).or_default() += *d;
        }
        for (phase, w) in &outcome.record.work {
            let total = self.work.entry(phase).or_default();
            total.rounds += w.rounds;
            total.skipped_rounds += w.skipped_rounds;
            total.api_requests += w.api_requests;
        }
    }

    fn progress(&self, cases: u32) -> ExploreProgress {
        ExploreProgress {
            passed: self.passed,
            cases,
            shrinking: self.shrinking,
            runs: self.runs,
        }
    }
}

/// Generates every case up front from the seeded runner (the same seed gives the same
/// histories, in the order proptest's own runner would generate them), runs them `jobs` at a
/// time with results taken in case order — so the first failing case is the same whatever the
/// machine's speed — and shrinks a failure one run at a time as proptest does: simplify while
/// the history still fails, complicate when a simplification passed.
fn explore_blocking(
    rt: &tokio::runtime::Runtime,
    cases: u32,
    seed: u64,
    options: &ExploreOptions,
    mut progress: impl FnMut(&ExploreProgress),
) -> Result<ExploreSummary, ExploreError> {
    let start = Instant::now();
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(seed));
    let strategy = HistoryMachine::sequential_strategy(1..=options.max_ops.max(1));
    let mut trees = Vec::with_capacity(cases as usize);
    for _ in 0..cases {
        trees.push(
            strategy
                .new_tree(&mut runner)
                .map_err(|why| ExploreError::Aborted(why.to_string()))?,
        );
    }
    let history_of = |tree: &dyn ValueTree<Value = (ExploreState, Vec<Op>, _)>| -> History {
        let (state, ops, _seen) = tree.current();
        History {
            ops,
            faults: options.faults.clone(),
            ..state.history()
        }
    };
    let histories: Vec<History> = trees.iter().map(|t| history_of(t)).collect();
    let jobs = options.jobs.max(1);
    let mut t = Tally::default();
    let first_failure = rt.block_on(async {
        let mut outcomes = futures::stream::iter(histories.iter().map(run_history)).buffered(jobs);
        let mut index = 0;
        while let Some(outcome) = outcomes.next().await {
            t.count(&histories[index], &outcome);
            if outcome.divergence.is_some() {
                return Some((index, outcome));
            }
            t.passed += 1;
            progress(&t.progress(cases));
            index += 1;
        }
        None
    });
    let failure = match first_failure {
        None => None,
        Some((index, outcome)) => {
            t.shrinking = true;
            progress(&t.progress(cases));
            let mut tree = trees.swap_remove(index);
            let mut best = (histories[index].clone(), outcome);
            let mut shrink_runs = 0;
            if tree.simplify() {
                while shrink_runs < options.max_shrink_runs {
                    shrink_runs += 1;
                    let history = history_of(&tree);
                    let outcome = rt.block_on(run_history(&history));
                    t.count(&history, &outcome);
                    progress(&t.progress(cases));
                    if outcome.divergence.is_some() {
                        best = (history, outcome);
                        if !tree.simplify() {
                            break;
                        }
                    } else if !tree.complicate() {
                        break;
                    }
                }
            }
            let (history, outcome) = best;
            outcome.divergence.map(|divergence| ExploreFailure {
                history,
                divergence,
                record: outcome.record,
            })
        }
    };
    Ok(ExploreSummary {
        seed,
        cases,
        passed: t.passed,
        runs: t.runs,
        ops: t.ops,
        disasters: t.disasters,
        families: t.families,
        phases: t.phases,
        work: t.work,
        failure,
        elapsed: start.elapsed(),
    })
}

/// The number of cases `cargo test` explores: `DRDRILL_EXPLORE_CASES`, else `default`; an
/// unreadable value is an error naming the variable.
pub fn cases_from_env(default: u32) -> Result<u32, String> {
    match std::env::var(CASES_VARIABLE) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{CASES_VARIABLE}={v:?} is not a number of cases")),
    }
}
