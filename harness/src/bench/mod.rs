//! `drdrill bench`: how fast the simulator is on the paths drills lean on, each figure next to
//! a floor where one exists, written as JSON (`benchmarks/<name>.json`) plus one table block per
//! benchmark in BENCHMARKS.md.
//!
//! * [`api_server`]: LIST and watch fan-out of the embedded API server;
//! * [`clusters`]: a management cluster bringing N workload clusters to `running`;
//! * [`velero`]: backup and restore of many objects through the Velero server's controllers;
//! * [`suite`]: the whole Gherkin suite on the embedded simulator.

pub mod api_server;
pub mod clusters;
pub mod explore;
pub mod suite;
pub mod velero;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

pub use api_server::{BenchInput, BenchReport, run, write_markdown};

use crate::report::columns;

/// Why a benchmark could not run or its results could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server did not start.
    #[error("the embedded API server did not start: {0}")]
    Server(#[from] drdrill_kube_sim::ServerError),
    /// A client call failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: kube::Error,
    },
    /// Setup failed.
    #[error("benchmark setup failed: {0}")]
    Setup(String),
    /// The simulated world could not be built.
    #[error("building the world of {clusters} workload clusters: {source}")]
    World {
        /// Workload clusters asked for.
        clusters: usize,
        /// Why.
        source: Box<crate::world::WorldError>,
    },
    /// A Velero controller pass failed.
    #[error("{what}: {source}")]
    Velero {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: drdrill_velero_sim::server::VeleroError,
    },
    /// A benchmark ran but its outcome is wrong (the figure would measure the wrong thing).
    #[error("{0}")]
    Outcome(String),
    /// The exploration could not run.
    #[error("drift exploration: {0}")]
    Explore(String),
    /// The suite could not start.
    #[error("the Gherkin suite: {0}")]
    Suite(#[from] crate::suite::SuiteError),
    /// A results file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One measured result with its floor.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// What was measured.
    pub name: String,
    /// Median milliseconds.
    pub median_ms: f64,
    /// The floor it is compared with, if any (milliseconds).
    pub floor_ms: Option<f64>,
    /// `median / floor`.
    pub ratio: Option<f64>,
    /// The target ratio, if the issue sets one.
    pub target_ratio: Option<f64>,
    /// Free-form detail (sizes, throughput).
    pub detail: String,
}

/// The table of measurements with floors (the api-server and velero blocks).
pub fn measurement_table(measurements: &[Measurement]) -> String {
    let rows: Vec<Vec<String>> = measurements
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                format!("{:.1}", m.median_ms),
                m.floor_ms.map(|f| format!("{f:.1}")).unwrap_or_else(|| "-".into()),
                m.ratio.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into()),
                m.target_ratio.map(|t| format!("<= {t:.0}x")).unwrap_or_else(|| "-".into()),
                m.detail.clone(),
            ]
        })
        .collect();
    columns(&["BENCHMARK", "MEDIAN MS", "FLOOR MS", "RATIO", "TARGET", "DETAIL"], &rows)
}

/// Median of `samples` in milliseconds (0 for none).
pub(crate) fn median_ms(mut samples: Vec<std::time::Duration>) -> f64 {
    samples.sort();
    samples.get(samples.len() / 2).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Whether this binary is an optimized build (figures from a debug build are not representative).
pub fn release_build() -> bool {
    !cfg!(debug_assertions)
}

/// `release`, or a warning that the figures are not representative.
pub(crate) fn build_name(release: bool) -> &'static str {
    if release { "release" } else { "debug (not representative)" }
}

/// One of the benchmarks `drdrill bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Benchmark {
    /// N workload clusters brought to `running` (first, so its memory figures start from a
    /// small process).
    Clusters,
    /// LIST and watch fan-out of the embedded API server.
    ApiServer,
    /// Velero backup and restore of many objects.
    Velero,
    /// The whole Gherkin suite.
    Suite,
    /// Random drift histories per second.
    Explore,
}

impl Benchmark {
    /// Every benchmark, in the order they run.
    pub const ALL: [Benchmark; 5] = [
        Benchmark::Clusters,
        Benchmark::ApiServer,
        Benchmark::Velero,
        Benchmark::Suite,
        Benchmark::Explore,
    ];

    /// The name used by `--only` and in the Markdown block markers.
    pub fn name(self) -> &'static str {
        match self {
            Benchmark::ApiServer => "api-server",
            Benchmark::Clusters => "clusters",
            Benchmark::Velero => "velero",
            Benchmark::Suite => "suite",
            Benchmark::Explore => "explore",
        }
    }

    /// The JSON file its raw figures go to (inside the results folder).
    pub fn json_file(self) -> &'static str {
        match self {
            Benchmark::ApiServer => "api_server.json",
            Benchmark::Clusters => "clusters.json",
            Benchmark::Velero => "velero.json",
            Benchmark::Suite => "suite.json",
            Benchmark::Explore => "explore.json",
        }
    }
}

impl fmt::Display for Benchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A benchmark name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown benchmark {0:?}: choose from api-server, clusters, velero, suite, explore")]
pub struct UnknownBenchmark(pub String);

impl FromStr for Benchmark {
    type Err = UnknownBenchmark;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Benchmark::ALL
            .into_iter()
            .find(|b| b.name() == s.trim())
            .ok_or_else(|| UnknownBenchmark(s.trim().to_string()))
    }
}

/// Parses `--only`: comma-separated names, in any order, duplicates ignored; the result is in
/// run order. `all` or an empty text selects every benchmark.
pub fn parse_selection(text: &str) -> Result<Vec<Benchmark>, UnknownBenchmark> {
    let mut chosen = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "all" {
            chosen.extend(Benchmark::ALL);
        } else {
            chosen.push(word.parse()?);
        }
    }
    if chosen.is_empty() {
        chosen.extend(Benchmark::ALL);
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

/// `<!-- bench:<name>:begin -->`.
pub fn begin_marker(name: &str) -> String {
    format!("<!-- bench:{name}:begin -->")
}

/// `<!-- bench:<name>:end -->`.
pub fn end_marker(name: &str) -> String {
    format!("<!-- bench:{name}:end -->")
}

/// `text` with the block named `name` (markers included) replaced by `body` between fresh
/// markers; everything else is kept byte for byte. Without that block (or with its markers out
/// of order), the block is appended; an empty text becomes a `# Benchmarks` page.
pub fn replace_block(text: &str, name: &str, body: &str) -> String {
    let (begin, end) = (begin_marker(name), end_marker(name));
    let block = format!("{begin}\n{}\n{end}", body.trim_end_matches('\n'));
    let found = text.find(&begin).and_then(|b| text[b..].find(&end).map(|e| (b, b + e + end.len())));
    match found {
        Some((b, e)) => format!("{}{}{}", &text[..b], block, &text[e..]),
        None if text.trim().is_empty() => format!("# Benchmarks\n\n{block}\n"),
        None => format!("{}\n\n{block}\n", text.trim_end()),
    }
}

/// Rewrites the block `name` of the Markdown file at `path` (created if missing) with `body`.
pub fn write_block(path: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    std::fs::write(path, replace_block(&existing, name, body))
}

/// CPU seconds this process and its waited-for children (kubectl…) have used so far: utime,
/// stime, cutime and cstime of `/proc/self/stat` (Linux only; clock ticks of 1/100 s).
pub fn cpu_seconds() -> Result<f64, BenchError> {
    let text = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| BenchError::Setup(format!("reading /proc/self/stat for the CPU time: {e}")))?;
    parse_cpu_seconds(&text)
}

/// The CPU seconds of a `/proc/<pid>/stat` line (fields 14–17, after the parenthesised name).
pub fn parse_cpu_seconds(text: &str) -> Result<f64, BenchError> {
    let bad = || BenchError::Setup(format!("/proc/self/stat is not as expected: {:?}", text.trim()));
    let after_name = text.rsplit_once(')').ok_or_else(bad)?.1;
    // After the name: state (field 3), …; utime is field 14, so the 12th after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..15)
        .ok_or_else(bad)?
        .iter()
        .map(|f| f.parse::<u64>().map_err(|_| bad()))
        .sum::<Result<u64, _>>()?;
    Ok(ticks as f64 / 100.0)
}

/// The process's memory as `/proc/self/status` reports it, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryStatus {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`): since the process started, or since the last
    /// successful [`reset_peak_memory`].
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of this process (Linux only).
pub fn memory_status() -> Result<MemoryStatus, BenchError> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| BenchError::Setup(format!("reading /proc/self/status for the memory figures: {e}")))?;
    parse_memory_status(&text)
}

/// `VmRSS` and `VmHWM` out of the text of a `/proc/<pid>/status` file.
pub fn parse_memory_status(text: &str) -> Result<MemoryStatus, BenchError> {
    let field = |name: &str| -> Result<u64, BenchError> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
            .ok_or_else(|| BenchError::Setup(format!("/proc/self/status has no {name} line")))?;
        let number = line.trim().trim_end_matches("kB").trim();
        number
            .parse()
            .map_err(|_| BenchError::Setup(format!("/proc/self/status: {name} is {:?}, not a size in kB", line.trim())))
    };
    Ok(MemoryStatus {
        rss_kib: field("VmRSS")?,
        peak_kib: field("VmHWM")?,
    })
}

/// Resets this process's peak RSS to its current RSS (writes `5` to `/proc/self/clear_refs`),
/// so the next [`memory_status`] shows the peak of what ran in between. Returns whether the
/// kernel allowed it; when not, the peak stays the process's peak since start.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What `drdrill bench` runs and where it writes.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// The benchmarks to run (in [`Benchmark::ALL`] order).
    pub only: Vec<Benchmark>,
    /// Sizes of the API-server benchmark.
    pub api_server: BenchInput,
    /// Sizes of the clusters benchmark.
    pub clusters: clusters::ClustersInput,
    /// Sizes of the Velero benchmark.
    pub velero: velero::VeleroInput,
    /// What the suite benchmark runs.
    pub suite: suite::SuiteBenchInput,
    /// What the explore benchmark runs.
    pub explore: explore::ExploreBenchInput,
    /// Folder of the JSON files ([`Benchmark::json_file`]).
    pub json_dir: PathBuf,
    /// The Markdown file whose blocks are rewritten.
    pub markdown: PathBuf,
}

fn write_json<T: Serialize>(dir: &Path, benchmark: Benchmark, value: &T) -> Result<PathBuf, BenchError> {
    let path = dir.join(benchmark.json_file());
    let write_err = |source| BenchError::Write {
        path: path.clone(),
        source,
    };
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| write_err(std::io::Error::other(e)))?;
    std::fs::write(&path, text + "\n").map_err(write_err)?;
    Ok(path)
}

fn write_markdown_block(markdown: &Path, benchmark: Benchmark, body: &str) -> Result<(), BenchError> {
    write_block(markdown, benchmark.name(), body).map_err(|source| BenchError::Write {
        path: markdown.to_path_buf(),
        source,
    })
}

/// Runs the chosen benchmarks in order; after each, writes its JSON file and Markdown block
/// (so a later failure keeps the earlier results). Returns the printed tables.
pub async fn run_plan(plan: &BenchPlan, progress: &mut dyn FnMut(&str)) -> Result<String, BenchError> {
    let mut printed = String::new();
    for benchmark in Benchmark::ALL.into_iter().filter(|b| plan.only.contains(b)) {
        progress(&format!("== {benchmark} =="));
        let table = match benchmark {
            Benchmark::ApiServer => {
                let report = run(&plan.api_server, progress).await?;
                write_json(&plan.json_dir, benchmark, &report)?;
                write_markdown(&plan.markdown, &report).map_err(|source| BenchError::Write {
                    path: plan.markdown.clone(),
                    source,
                })?;
                report.table()
            }
            Benchmark::Clusters => {
                let report = clusters::run(&plan.clusters, progress).await?;
                write_json(&plan.json_dir, benchmark, &report)?;
                write_markdown_block(&plan.markdown, benchmark, &report.markdown())?;
                report.table()
            }
            Benchmark::Velero => {
                let report = velero::run(&plan.velero, progress).await?;
                write_json(&plan.json_dir, benchmark, &report)?;
                write_markdown_block(&plan.markdown, benchmark, &report.markdown())?;
                report.table()
            }
            Benchmark::Suite => {
                let report = suite::run(&plan.suite, progress).await?;
                write_json(&plan.json_dir, benchmark, &report)?;
                write_markdown_block(&plan.markdown, benchmark, &report.markdown())?;
                report.table()
            }
            Benchmark::Explore => {
                let report = explore::run(&plan.explore, progress).await?;
                write_json(&plan.json_dir, benchmark, &report)?;
                write_markdown_block(&plan.markdown, benchmark, &report.markdown())?;
                report.table()
            }
        };
        printed.push_str(&format!("{benchmark}:\n{table}\n"));
    }
    Ok(printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        format!(
            "# Benchmarks\n\nIntro.\n\n## API\n\n{}\nAPI table\n{}\n\n## Clusters\n\nProse.\n\n{}\nold clusters\n{}\n\nTrailer.\n",
            begin_marker("api-server"),
            end_marker("api-server"),
            begin_marker("clusters"),
            end_marker("clusters"),
        )
    }

    #[test]
    fn the_markdown_writer_replaces_only_its_own_block() {
        let before = page();
        let after = replace_block(&before, "clusters", "new clusters\n");
        let want = before.replace("old clusters", "new clusters");
        assert_eq!(after, want, "only the clusters block changes");
        assert!(after.contains("API table"));
        // The other way round: the api-server block changes, the clusters block is kept.
        let again = replace_block(&after, "api-server", "API v2");
        assert_eq!(again, want.replace("API table", "API v2"));
        // Rewriting is idempotent.
        assert_eq!(replace_block(&again, "api-server", "API v2"), again);
    }

    #[test]
    fn a_missing_block_is_appended_and_prefixes_do_not_match() {
        let before = page();
        let after = replace_block(&before, "velero", "velero table");
        assert!(after.starts_with(before.trim_end()), "{after}");
        assert!(after.ends_with(&format!("{}\nvelero table\n{}\n", begin_marker("velero"), end_marker("velero"))));
        // `suite` must not match `suite-x` markers.
        let other = format!("{}\nx\n{}\n", begin_marker("suite-x"), end_marker("suite-x"));
        let updated = replace_block(&other, "suite", "s");
        assert!(
            updated.starts_with(&other.trim_end().to_string()) && updated.contains("\ns\n"),
            "{updated}"
        );
        // An end marker before the begin marker is not a block.
        let broken = format!("{}\n{}\n", end_marker("suite"), begin_marker("suite"));
        assert_eq!(replace_block(&broken, "suite", "s").matches(&begin_marker("suite")).count(), 2);
        assert_eq!(
            replace_block("", "suite", "s"),
            format!("# Benchmarks\n\n{}\ns\n{}\n", begin_marker("suite"), end_marker("suite"))
        );
    }

    #[test]
    fn write_block_edits_the_file_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("BENCHMARKS.md");
        std::fs::write(&path, page()).expect("write");
        write_block(&path, "clusters", "fresh").expect("update");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, page().replace("old clusters", "fresh"));
    }

    #[test]
    fn selection_parses_names_in_run_order_and_names_a_bad_one() {
        assert_eq!(parse_selection("").expect("empty"), Benchmark::ALL);
        assert_eq!(parse_selection("all").expect("all"), Benchmark::ALL);
        assert_eq!(
            parse_selection("suite, clusters,clusters").expect("two"),
            [Benchmark::Clusters, Benchmark::Suite]
        );
        let err = parse_selection("api-server,cluster").expect_err("typo");
        assert_eq!(err, UnknownBenchmark("cluster".into()));
        assert!(
            err.to_string().contains("\"cluster\"") && err.to_string().contains("clusters"),
            "{err}"
        );
    }

    #[test]
    fn memory_status_reads_rss_and_peak_and_rejects_garbage() {
        let text = "Name:\tdrdrill\nVmPeak:\t 900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n";
        assert_eq!(
            parse_memory_status(text).expect("parse"),
            MemoryStatus {
                rss_kib: 65432,
                peak_kib: 123456
            }
        );
        let err = parse_memory_status("VmRSS:\t1 kB\n").expect_err("no VmHWM").to_string();
        assert!(err.contains("VmHWM"), "{err}");
        let err = parse_memory_status("VmRSS:\tlots\nVmHWM:\t1 kB\n")
            .expect_err("garbage")
            .to_string();
        assert!(err.contains("VmRSS") && err.contains("lots"), "{err}");
        let live = memory_status().expect("this process");
        assert!(live.rss_kib > 0 && live.peak_kib >= live.rss_kib, "{live:?}");
    }
}
