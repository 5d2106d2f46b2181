//! The `suite` benchmark: wall time of the whole Gherkin suite on the embedded simulator, as
//! `drdrill drill` runs it, with its verdict (a figure from a failing suite is reported, but
//! marked so).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::{BenchError, build_name};
use crate::report::columns;
use crate::suite::SuiteOptions;

/// What the suite benchmark runs.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteBenchInput {
    /// Feature files or folders.
    pub features: Vec<PathBuf>,
    /// Scenarios run at once.
    pub concurrency: usize,
    /// Where diagnostics bundles of failed scenarios go.
    pub artifacts: PathBuf,
    /// The wall-time target in seconds.
    pub target_seconds: f64,
}

impl Default for SuiteBenchInput {
    fn default() -> Self {
        SuiteBenchInput {
            features: vec![PathBuf::from("features")],
            concurrency: 2,
            artifacts: std::env::temp_dir().join("drdrill-bench-artifacts"),
            target_seconds: 60.0,
        }
    }
}

/// What the suite benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// What ran.
    pub input: SuiteBenchInput,
    /// Whether this was an optimized build.
    pub release_build: bool,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// Wall time of the whole run (ms).
    pub elapsed_ms: f64,
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios skipped.
    pub skipped: usize,
    /// Steps that failed to parse or match.
    pub parsing_errors: usize,
    /// Whether the suite passed (the CI verdict).
    pub ok: bool,
}

impl SuiteReport {
    /// The printed table.
    pub fn table(&self) -> String {
        let rows = vec![vec![
            self.input
                .features
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
            self.input.concurrency.to_string(),
            format!("{:.1}", self.elapsed_ms / 1000.0),
            format!("<= {:.0}", self.input.target_seconds),
            self.passed.to_string(),
            self.failed.to_string(),
            self.skipped.to_string(),
            self.parsing_errors.to_string(),
            if self.ok { "PASSED" } else { "FAILED" }.to_string(),
        ]];
        columns(
            &[
                "FEATURES",
                "CONCURRENCY",
                "WALL S",
                "TARGET S",
                "PASSED",
                "FAILED",
                "SKIPPED",
                "PARSE ERRORS",
                "VERDICT",
            ],
            &rows,
        )
    }

    /// The body of the `suite` block of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        format!(
            "```\n{}```\nBuild: {}. {} CPUs; every scenario of the suite, untagged, on the embedded simulator. Raw data: `benchmarks/suite.json`.",
            self.table(),
            build_name(self.release_build),
            self.cpus,
        )
    }
}

/// Runs the suite once and measures it.
pub async fn run(input: &SuiteBenchInput, progress: &mut dyn FnMut(&str)) -> Result<SuiteReport, BenchError> {
    progress(&format!(
        "the Gherkin suite ({}), {} scenarios at once",
        input
            .features
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        input.concurrency
    ));
    let options = SuiteOptions {
        features: input.features.clone(),
        concurrency: input.concurrency,
        tags: None,
        artifacts: input.artifacts.clone(),
        reports: None,
        seed: None,
        output: None,
    };
    let start = Instant::now();
    let summary = crate::suite::run(&options).await?;
    let elapsed = start.elapsed();
    let report = SuiteReport {
        input: input.clone(),
        release_build: super::release_build(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        passed: summary.passed,
        failed: summary.failed,
        skipped: summary.skipped,
        parsing_errors: summary.parsing_errors,
        ok: summary.ok(),
    };
    if report.failed > 0 {
        progress(&format!(
            "{} scenarios failed; diagnostics bundles in {}",
            report.failed,
            input.artifacts.display()
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_features_folder_is_an_error_naming_it() {
        let input = SuiteBenchInput {
            features: vec![PathBuf::from("no-such-features-dir")],
            ..Default::default()
        };
        let err = run(&input, &mut |_| {}).await.expect_err("missing").to_string();
        assert!(err.contains("no-such-features-dir"), "{err}");
    }

    #[test]
    fn the_table_shows_the_verdict_and_the_target() {
        let report = SuiteReport {
            input: SuiteBenchInput::default(),
            release_build: true,
            cpus: 2,
            elapsed_ms: 41_300.0,
            passed: 4,
            failed: 0,
            skipped: 0,
            parsing_errors: 0,
            ok: true,
        };
        let table = report.table();
        assert!(
            table.contains("41.3") && table.contains("<= 60") && table.contains("PASSED"),
            "{table}"
        );
        assert!(report.markdown().contains("2 CPUs"));
    }
}
