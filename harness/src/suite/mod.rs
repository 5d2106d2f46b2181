//! The Gherkin suite: the step definitions every `features/*.feature` is written in, and the
//! runner `drdrill drill` and `cargo test` share.
//!
//! Steps read like the runbook: `When I run "<command>"` runs the runbook's command line through
//! the operator's terminal ([`Operator`]: real kubectl, drdrill's velero and tanzu); disaster
//! steps destroy and rebuild the management cluster or let time pass; verdict steps compare
//! printed tables column by column ([`tables`]) and ask the drift report. Each scenario gets its
//! own world (servers, ports, bucket, temp folders); on failure a diagnostics bundle is written.

pub mod aks_steps;
pub mod disaster_steps;
pub mod embedded;
pub mod explore_steps;
pub mod progress;
pub mod steps;
pub mod storage_steps;
pub mod tables;
pub mod workload_steps;

use std::path::PathBuf;
use std::time::Duration;

use cucumber::World as _;
use cucumber::WriterExt as _;
use cucumber::writer::Stats as _;
use drdrill_scenarios::{Topology, WorkloadCluster};
use jiff::Timestamp;

use crate::kubectl::CommandOutput;
use crate::mgmt_config::ManagementConfig;
use crate::operator::Operator;
use crate::world::World;

/// One scenario's state.
#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct DrillWorld {
    /// The management cluster's configuration (from a Given step).
    pub config: Option<ManagementConfig>,
    /// Workload clusters to create.
    pub clusters: Vec<WorkloadCluster>,
    /// The seed.
    pub seed: u64,
    /// Where the management cluster's bucket lives (default: the embedded store).
    pub backend: Option<drdrill_velero_sim::s3::S3Backend>,
    /// The external S3 service a scenario started (it outlives the world's use of it).
    pub external_s3: Option<drdrill_velero_sim::s3::S3Server>,
    /// The simulated world, once created.
    pub world: Option<World>,
    /// The AKS on Azure Stack HCI site (Runbook A), when a scenario builds one.
    pub aks: Option<crate::aks::drill::AksDrill>,
    /// The operator's terminal.
    pub operator: Operator,
    /// The last command's line and output.
    pub last: Option<(String, CommandOutput)>,
    /// When the last backup completed (virtual time), for RPO.
    pub backup_completed: Option<Timestamp>,
    /// When the management cluster was lost (virtual time), for RPO and RTO.
    pub disaster: Option<Timestamp>,
    /// Every command run, in order (for the diagnostics bundle).
    pub transcript: Vec<String>,
    /// What the application wrote into volumes, by (cluster, namespace, claim).
    pub written: std::collections::BTreeMap<(String, String, String), crate::volume_data::WrittenVolume>,
    // The operator's home folder; removed when the scenario ends.
    _home: tempfile::TempDir,
}

impl std::fmt::Debug for DrillWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrillWorld")
            .field("seed", &self.seed)
            .field("clusters", &self.clusters.len())
            .field("commands", &self.transcript.len())
            .finish()
    }
}

impl DrillWorld {
    fn new() -> std::io::Result<Self> {
        let home = tempfile::Builder::new().prefix("drdrill-scenario-").tempdir()?;
        Ok(DrillWorld {
            config: None,
            clusters: Vec::new(),
            seed: 7,
            backend: None,
            external_s3: None,
            world: None,
            aks: None,
            operator: Operator::new(home.path()),
            last: None,
            backup_completed: None,
            disaster: None,
            transcript: Vec::new(),
            written: Default::default(),
            _home: home,
        })
    }

    /// The world; a step that needs it before it exists is a mistake in the feature.
    pub fn world(&self) -> &World {
        self.world
            .as_ref()
            .expect("no world yet: a Given step must create the clusters first (\"… are running\")")
    }

    /// The world, mutably.
    pub fn world_mut(&mut self) -> &mut World {
        self.world
            .as_mut()
            .expect("no world yet: a Given step must create the clusters first (\"… are running\")")
    }

    /// The topology the Given steps described.
    pub fn topology(&self) -> Topology {
        Topology {
            management: self.config.as_ref().map(|c| c.cluster_name.clone()).unwrap_or_default(),
            clusters: self.clusters.clone(),
            seed: self.seed,
        }
    }
}

/// How the suite runs.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// Feature files or folders.
    pub features: Vec<PathBuf>,
    /// Scenarios run at once.
    pub concurrency: usize,
    /// A tag expression (cucumber's `--tags`), e.g. `not @docker`.
    pub tags: Option<String>,
    /// Where diagnostics bundles of failed scenarios go.
    pub artifacts: PathBuf,
    /// Where the JUnit XML (`junit.xml`) and Cucumber JSON (`cucumber.json`) reports go; none
    /// when `None`. With several feature paths the files are numbered (`junit-2.xml`…).
    pub reports: Option<PathBuf>,
    /// A seed for every scenario instead of the one its Given step names (a vendor trying the
    /// drills on other names and choices); printed with every result.
    pub seed: Option<u64>,
    /// A report printed on standard output instead of cucumber's step-by-step text (which then
    /// goes to standard error), for a CI gate that reads it from a pipe.
    pub output: Option<ReportFormat>,
}

/// A machine-readable report of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// JUnit XML.
    Junit,
    /// Cucumber JSON.
    Json,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "junit" => Ok(ReportFormat::Junit),
            "json" => Ok(ReportFormat::Json),
            other => Err(format!("unknown report format {other:?}: choose junit or json")),
        }
    }
}

/// Where steps' notes (RTO/RPO, drift reports, what was checked) go while the suite runs.
enum NoteTarget {
    /// Standard output.
    Stdout,
    /// Standard error: a machine-readable report owns standard output.
    Stderr,
    /// Above the progress bar.
    Bar(progress::Progress),
}

static NOTES: std::sync::Mutex<NoteTarget> = std::sync::Mutex::new(NoteTarget::Stdout);

/// Prints a step's note (a line or several) where the run's human output goes: standard
/// output, above the progress bar, or standard error under `--output`.
pub fn note(text: &str) {
    match &*NOTES.lock().unwrap_or_else(|p| p.into_inner()) {
        NoteTarget::Stdout => println!("{text}"),
        NoteTarget::Stderr => eprintln!("{text}"),
        NoteTarget::Bar(bar) => bar.println(text),
    }
}

/// The `--seed` of the running suite: cucumber builds each scenario's world without options,
/// so the override lives here for the length of [`run`].
static SEED_OVERRIDE: std::sync::Mutex<Option<u64>> = std::sync::Mutex::new(None);

/// The seed a scenario uses: the suite's `--seed` when one is set, else its own.
pub fn scenario_seed(own: u64) -> u64 {
    SEED_OVERRIDE.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or(own)
}

/// The suite's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteSummary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios skipped (a step not defined, or a tool missing).
    pub skipped: usize,
    /// Steps that failed to parse or match.
    pub parsing_errors: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl SuiteSummary {
    /// The summary printed after the run.
    pub fn render(&self, artifacts: &std::path::Path) -> String {
        let rows = vec![vec![
            self.passed.to_string(),
            self.failed.to_string(),
            self.skipped.to_string(),
            self.parsing_errors.to_string(),
            format!("{:.1}s", self.elapsed.as_secs_f64()),
            if self.ok() { "PASSED" } else { "FAILED" }.to_string(),
        ]];
        let mut out = crate::report::columns(&["PASSED", "FAILED", "SKIPPED", "PARSE ERRORS", "TIME", "VERDICT"], &rows);
        if self.failed > 0 {
            out.push_str(&format!("diagnostics bundles of failed scenarios: {}\n", artifacts.display()));
        }
        if self.passed + self.failed + self.skipped == 0 {
            out.push_str("no scenario ran: check the feature paths and --tags\n");
        }
        out
    }

    /// Whether a CI gate should pass.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.parsing_errors == 0 && self.skipped == 0 && self.passed > 0
    }
}

/// Why the suite could not start.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The tag expression does not parse.
    #[error("--tags {expression:?}: {message}")]
    Tags {
        /// The expression.
        expression: String,
        /// The parser's message.
        message: String,
    },
    /// A features path does not exist.
    #[error("{0}: no such feature file or folder")]
    Missing(PathBuf),
    /// A report file could not be written.
    #[error("{path}: cannot write the report: {source}")]
    Report {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Whether we run in CI (`CI=true`), where a missing tool fails rather than skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Why Docker cannot be used, or `None` when `docker info` answers.
pub fn docker_unavailable() -> Option<String> {
    match std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => None,
        Ok(_) => Some("no Docker daemon answers `docker info`; ci/start-dockerd.sh starts one".into()),
        Err(e) => Some(format!("the docker CLI cannot be run: {e}")),
    }
}

/// Runs the features and returns the verdict. Cucumber prints each scenario to standard output.
pub async fn run(options: &SuiteOptions) -> Result<SuiteSummary, SuiteError> {
    let started = std::time::Instant::now();
    let tags = match &options.tags {
        None => None,
        Some(expression) => Some(
            expression
                .parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| SuiteError::Tags {
                    expression: expression.clone(),
                    message: e.to_string(),
                })?,
        ),
    };
    if let Some(missing) = options.features.iter().find(|p| !p.exists()) {
        return Err(SuiteError::Missing(missing.clone()));
    }
    // Scenarios tagged @docker need a Docker daemon: in CI its absence fails them (they run and
    // their container step fails); elsewhere they are left out, and the run says why.
    let tags = match docker_unavailable() {
        Some(reason) if !in_ci() => {
            if options.output.is_some() {
                eprintln!("SKIPPED: scenarios tagged @docker ({reason})");
            } else {
                println!("SKIPPED: scenarios tagged @docker ({reason})");
            }
            let without_docker =
                cucumber::gherkin::tagexpr::TagOperation::Not(Box::new(cucumber::gherkin::tagexpr::TagOperation::Tag("docker".into())));
            Some(match tags {
                Some(t) => cucumber::gherkin::tagexpr::TagOperation::And(Box::new(t), Box::new(without_docker)),
                None => without_docker,
            })
        }
        _ => tags,
    };
    let total = match progress::count_scenarios(&options.features, tags.as_ref()) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::debug!(error = %e, "scenarios not counted");
            None
        }
    };
    *SEED_OVERRIDE.lock().unwrap_or_else(|p| p.into_inner()) = options.seed;
    let progress = progress::Progress::new(total);
    *NOTES.lock().unwrap_or_else(|p| p.into_inner()) = if options.output.is_some() {
        NoteTarget::Stderr
    } else if progress.visible() {
        NoteTarget::Bar(progress.clone())
    } else {
        NoteTarget::Stdout
    };
    let mut summary = SuiteSummary::default();
    for (index, features) in options.features.iter().enumerate() {
        let artifacts = options.artifacts.clone();
        let cli = cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty> {
            tags_filter: tags.clone(),
            ..Default::default()
        };
        // Scenario outcomes, counted as they finish (the writers' own stats count steps).
        let outcomes = std::sync::Arc::new(std::sync::Mutex::new((0usize, 0usize, 0usize)));
        let counted = outcomes.clone();
        let suffix = if index == 0 { String::new() } else { format!("-{}", index + 1) };
        let report_file = |name: String| -> Result<Box<dyn std::io::Write>, SuiteError> {
            let Some(dir) = &options.reports else {
                return Ok(Box::new(std::io::sink()));
            };
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::File::create(&path))
                .map(|f| Box::new(f) as Box<dyn std::io::Write>)
                .map_err(|source| SuiteError::Report { path, source })
        };
        let to_stdout = |format: ReportFormat| options.output == Some(format);
        let junit = if to_stdout(ReportFormat::Junit) {
            Box::new(std::io::stdout())
        } else {
            report_file(format!("junit{suffix}.xml"))?
        };
        let json = if to_stdout(ReportFormat::Json) {
            Box::new(std::io::stdout())
        } else {
            report_file(format!("cucumber{suffix}.json"))?
        };
        // Under a drawn bar, cucumber writes plain whole lines above it (its in-place rewriting of
        // running steps would fight the bar); elsewhere it writes to stdout as usual.
        let (out, coloring): (Box<dyn std::io::Write>, _) = if options.output.is_some() {
            (Box::new(std::io::stderr()), cucumber::writer::Coloring::Auto)
        } else if progress.visible() {
            (Box::new(progress.lines_above()), cucumber::writer::Coloring::Never)
        } else {
            (Box::new(std::io::stdout()), cucumber::writer::Coloring::Auto)
        };
        let bar = progress.clone();
        let writer = cucumber::writer::Basic::raw(out, coloring, 0)
            .summarized()
            .tee::<DrillWorld, _>(cucumber::writer::JUnit::for_tee(junit, 0))
            .tee::<DrillWorld, _>(cucumber::writer::Json::for_tee(json))
            .normalized();
        let writer = DrillWorld::cucumber()
            .with_writer(writer)
            .max_concurrent_scenarios(options.concurrency.max(1))
            .fail_on_skipped()
            .after(move |_feature, _rule, scenario, event, world| {
                let artifacts = artifacts.clone();
                let counted = counted.clone();
                let bar = bar.clone();
                Box::pin(async move {
                    {
                        let mut c = counted.lock().unwrap_or_else(|p| p.into_inner());
                        let outcome = match event {
                            cucumber::event::ScenarioFinished::StepPassed => {
                                c.0 += 1;
                                progress::Outcome::Passed
                            }
                            cucumber::event::ScenarioFinished::StepSkipped => {
                                c.2 += 1;
                                progress::Outcome::Skipped
                            }
                            _ => {
                                c.1 += 1;
                                progress::Outcome::Failed
                            }
                        };
                        bar.finished(outcome);
                    }
                    if let (cucumber::event::ScenarioFinished::StepFailed(..), Some(world)) = (event, world) {
                        steps::write_bundle(world, &artifacts, &scenario.name).await;
                    }
                })
            })
            .with_cli(cli)
            .run(features.clone())
            .await;
        let (passed, failed, skipped) = *outcomes.lock().unwrap_or_else(|p| p.into_inner());
        summary.passed += passed;
        summary.failed += failed;
        summary.skipped += skipped;
        summary.parsing_errors += writer.parsing_errors();
        // Steps that failed outside a scenario's own steps (hooks) also fail the run.
        summary.failed += writer.hook_errors();
    }
    progress.done();
    *NOTES.lock().unwrap_or_else(|p| p.into_inner()) = NoteTarget::Stdout;
    summary.elapsed = started.elapsed();
    Ok(summary)
}
