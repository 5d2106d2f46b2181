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
    /// Histories per row.
    pub cases: u32,
    /// The exploration's seed.
    pub seed: u64,
    /// The target in histories per second.
    pub target_per_second: f64,
    /// Histories run at once, one row each (the same histories every row).
    pub jobs: Vec<usize>,
}

impl Default for ExploreBenchInput {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        ExploreBenchInput {
            cases: 40,
            seed: 11,
            target_per_second: 10.0,
            jobs: vec![1, cpus, 2 * cpus],
        }
    }
}

/// One exploration of the benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreRow {
    /// Histories run at once.
    pub jobs: usize,
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
    /// CPU seconds used per history, this process and its kubectl children together.
    pub cpu_s_per_history: f64,
    /// World rounds run per history.
    pub rounds_per_history: f64,
    /// World rounds skipped per history (nothing had changed since a round that wrote nothing).
    pub skipped_rounds_per_history: f64,
    /// Requests the world's API servers answered per history.
    pub requests_per_history: f64,
    /// The divergence found, if any (a benchmark of a failing exploration is marked so).
    pub divergence: Option<String>,
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
    /// One row per `jobs` value.
    pub rows: Vec<ExploreRow>,
}

impl ExploreReport {
    /// The printed table.
    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                let per_run = |ms: f64| ms / f64::from(row.runs.max(1));
                let phases: Vec<String> = row
                    .phases_ms
                    .iter()
                    .map(|(name, ms)| format!("{name} {:.2}", per_run(*ms) / 1000.0))
                    .collect();
                vec![
                    row.jobs.to_string(),
                    self.input.cases.to_string(),
                    row.runs.to_string(),
                    format!("{:.1}", row.elapsed_ms / 1000.0),
                    format!("{:.2}", row.per_second),
                    format!(">= {:.0}", self.input.target_per_second),
                    phases.join(", "),
                    format!("{:.2}", row.cpu_s_per_history),
                    format!(
                        "{:.0} (+{:.0}) / {:.0}",
                        row.rounds_per_history, row.skipped_rounds_per_history, row.requests_per_history
                    ),
                    if row.divergence.is_none() { "MATCHED" } else { "DIVERGED" }.to_string(),
                ]
            })
            .collect();
        columns(
            &[
                "JOBS",
                "HISTORIES",
                "RUNS",
                "WALL S",
                "PER S",
                "TARGET",
                "S PER HISTORY BY PHASE",
                "CPU S PER HISTORY",
                "ROUNDS (+SKIPPED) / API REQUESTS PER HISTORY",
                "MODEL",
            ],
            &rows,
        )
    }

    /// The body of the `explore` block of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        format!(
            "```\n{}```\nBuild: {}. {} CPUs; seed {}, at most 8 operations per history; JOBS histories at a time (each its own world, thread and runtime; the same histories in every row). Raw data: `benchmarks/explore.json`.",
            self.table(),
            build_name(self.release_build),
            self.cpus,
            self.input.seed,
        )
    }
}

/// Explores `input.cases` histories once per `jobs` value and measures each.
pub async fn run(input: &ExploreBenchInput, progress: &mut dyn FnMut(&str)) -> Result<ExploreReport, BenchError> {
    let mut rows = Vec::new();
    for &jobs in &input.jobs {
        progress(&format!(
            "{} random drift histories (seed {}), {jobs} at a time",
            input.cases, input.seed
        ));
        let options = ExploreOptions {
            jobs,
            ..ExploreOptions::default()
        };
        let cpu_before = super::cpu_seconds()?;
        let summary = explore(input.cases, input.seed, &options, |_| {})
            .await
            .map_err(|e| BenchError::Explore(e.to_string()))?;
        let cpu = super::cpu_seconds()? - cpu_before;
        let runs = f64::from(summary.runs.max(1));
        let total = |f: fn(&crate::world::WorldStats) -> f64| summary.work.values().map(f).sum::<f64>() / runs;
        rows.push(ExploreRow {
            jobs,
            passed: summary.passed,
            runs: summary.runs,
            elapsed_ms: summary.elapsed.as_secs_f64() * 1000.0,
            per_second: summary.histories_per_second(),
            phases_ms: summary
                .phases
                .iter()
                .map(|(name, d)| (name.to_string(), d.as_secs_f64() * 1000.0))
                .collect(),
            cpu_s_per_history: cpu / runs,
            rounds_per_history: total(|w| w.rounds as f64),
            skipped_rounds_per_history: total(|w| w.skipped_rounds as f64),
            requests_per_history: total(|w| w.api_requests as f64),
            divergence: summary.failure.as_ref().map(|f| f.divergence.to_string()),
        });
    }
    Ok(ExploreReport {
        input: input.clone(),
        release_build: super::release_build(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_row_per_jobs_value() {
        let row = |jobs: usize, elapsed_ms: f64, divergence: Option<&str>| ExploreRow {
            jobs,
            passed: 40,
            runs: 40,
            elapsed_ms,
            per_second: 40_000.0 / elapsed_ms,
            phases_ms: vec![
                ("create".to_string(), 12_000.0),
                ("ops".to_string(), 36_000.0),
                ("recover".to_string(), 23_200.0),
                ("verify".to_string(), 7_600.0),
            ],
            cpu_s_per_history: 1.375,
            rounds_per_history: 90.4,
            skipped_rounds_per_history: 41.0,
            requests_per_history: 15_034.2,
            divergence: divergence.map(str::to_string),
        };
        let report = ExploreReport {
            input: ExploreBenchInput {
                cases: 40,
                seed: 11,
                target_per_second: 10.0,
                jobs: vec![1, 2, 4],
            },
            release_build: true,
            cpus: 2,
            rows: vec![
                row(1, 78_400.0, None),
                row(2, 45_100.0, None),
                row(4, 40_250.0, Some("after settle: x")),
            ],
        };
        crate::report::assert_golden("bench_explore_table.txt", &report.table());
    }

    #[test]
    fn cpu_seconds_come_from_the_four_time_fields_of_proc_stat() {
        let line = "4242 (drdrill history) R 1 2 3 4 5 6 7 8 9 10 250 50 700 100 20 0 4 0 5 6 7\n";
        let secs = super::super::parse_cpu_seconds(line).expect("parses");
        assert!((secs - 11.0).abs() < 1e-9, "{secs}");
        assert!(super::super::parse_cpu_seconds("no parenthesis").is_err());
        assert!(super::super::parse_cpu_seconds("1 (x) R 1 2").is_err());
    }
}
