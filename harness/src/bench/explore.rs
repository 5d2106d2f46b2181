//! The `explore` benchmark: random drift histories per second on the embedded simulator, as
//! `drdrill explore` runs them (each one a fresh world, a backup, operations, the loss of the
//! management cluster, Runbook T's recovery, the comparison with the reference model), with the
//! wall time of each phase.

use serde::Serialize;

use super::{BenchError, build_name};
use crate::explore::{ExploreOptions, explore};
use crate::report::columns;

/// What the explore benchmark runs.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreBenchInput {
    /// Histories.
    pub cases: u32,
    /// The exploration's seed.
    pub seed: u64,
    /// The target in histories per second.
    pub target_per_second: f64,
}

impl Default for ExploreBenchInput {
    fn default() -> Self {
        ExploreBenchInput {
            cases: 40,
            seed: 11,
            target_per_second: 10.0,
        }
    }
}

/// What the explore benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreReport {
    /// What ran.
    pub input: ExploreBenchInput,
    /// Whether this was an optimized build.
    pub release_build: bool,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// Histories that matched the model.
    pub passed: u32,
    /// Histories run (shrink runs included).
    pub runs: u32,
    /// Wall time (ms).
    pub elapsed_ms: f64,
    /// Histories per second.
    pub per_second: f64,
    /// Wall time per phase, summed over runs (ms): create, ops, recover, verify.
    pub phases_ms: Vec<(String, f64)>,
    /// The divergence found, if any (a benchmark of a failing exploration is marked so).
    pub divergence: Option<String>,
}

impl ExploreReport {
    /// The printed table.
    pub fn table(&self) -> String {
        let per_run = |ms: f64| ms / f64::from(self.runs.max(1));
        let phases: Vec<String> = self
            .phases_ms
            .iter()
            .map(|(name, ms)| format!("{name} {:.2}", per_run(*ms) / 1000.0))
            .collect();
        let rows = vec![vec![
            self.input.cases.to_string(),
            self.runs.to_string(),
            format!("{:.1}", self.elapsed_ms / 1000.0),
            format!("{:.2}", self.per_second),
            format!(">= {:.0}", self.input.target_per_second),
            phases.join(", "),
            if self.divergence.is_none() { "MATCHED" } else { "DIVERGED" }.to_string(),
        ]];
        columns(
            &["HISTORIES", "RUNS", "WALL S", "PER S", "TARGET", "S PER HISTORY BY PHASE", "MODEL"],
            &rows,
        )
    }

    /// The body of the `explore` block of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        format!(
            "```\n{}```\nBuild: {}. {} CPUs; seed {}, at most 8 operations per history, one history at a time. Raw data: `benchmarks/explore.json`.",
            self.table(),
            build_name(self.release_build),
            self.cpus,
            self.input.seed,
        )
    }
}

/// Explores `input.cases` histories and measures them.
pub async fn run(input: &ExploreBenchInput, progress: &mut dyn FnMut(&str)) -> Result<ExploreReport, BenchError> {
    progress(&format!("{} random drift histories (seed {})", input.cases, input.seed));
    let summary = explore(input.cases, input.seed, &ExploreOptions::default(), |_| {})
        .await
        .map_err(|e| BenchError::Explore(e.to_string()))?;
    Ok(ExploreReport {
        input: input.clone(),
        release_build: super::release_build(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        passed: summary.passed,
        runs: summary.runs,
        elapsed_ms: summary.elapsed.as_secs_f64() * 1000.0,
        per_second: summary.histories_per_second(),
        phases_ms: summary
            .phases
            .iter()
            .map(|(name, d)| (name.to_string(), d.as_secs_f64() * 1000.0))
            .collect(),
        divergence: summary.failure.as_ref().map(|f| f.divergence.to_string()),
    })
}
