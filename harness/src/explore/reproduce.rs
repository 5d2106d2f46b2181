//! Reproducers: a shrunk failing history saved as `<name>.yaml` (seed, topology, operations,
//! faults) and as an equivalent `<name>.feature`; `drdrill reproduce FILE` replays it and prints
//! the drift reports and the divergence.

use std::path::{Path, PathBuf};

use drdrill_scenarios::history::{FeatureExpectation, History, HistoryError};

use super::runner::{RunOutcome, run_history};

/// Why a reproducer could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid history.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// The files a reproducer was saved as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedReproducer {
    /// The YAML history.
    pub yaml: PathBuf,
    /// The equivalent Gherkin feature.
    pub feature: PathBuf,
    /// What the controllers did in the failing run (when the run kept a log).
    pub controller_log: Option<PathBuf>,
}

/// The feature expectations a run's predictions give: drift rows once settled, end counts.
pub fn expectations(outcome: &RunOutcome) -> Vec<FeatureExpectation> {
    outcome
        .record
        .predictions
        .iter()
        .map(|p| {
            let n = p.after_mitigation.machines();
            FeatureExpectation {
                cluster: p.cluster.clone(),
                drift_rows: p.after_settle.iter().map(|f| f.row()).collect(),
                counts: (n, n, n),
            }
        })
        .collect()
}

/// Saves `history` as `<dir>/<name>.yaml` and `<dir>/<name>.feature` (the feature asserts the
/// predictions of `outcome`, the run that found the failure), and the failing run's controller
/// log as `<dir>/<name>.controller-log.txt`. `why` heads the YAML as a comment.
pub fn save(dir: &Path, name: &str, history: &History, outcome: &RunOutcome, why: &str) -> Result<SavedReproducer, ReproduceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReproduceError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let yaml = dir.join(format!("{name}.yaml"));
    let comment: String = why.lines().map(|l| format!("# {l}\n")).collect();
    std::fs::write(&yaml, format!("{comment}{}", history.to_yaml())).map_err(io(&yaml))?;
    let feature = dir.join(format!("{name}.feature"));
    let title = format!("explored history {name} (seed {})", history.seed);
    std::fs::write(&feature, history.to_feature(&title, &expectations(outcome))).map_err(io(&feature))?;
    let controller_log = if outcome.record.controller_log.is_empty() {
        None
    } else {
        let path = dir.join(format!("{name}.controller-log.txt"));
        std::fs::write(&path, &outcome.record.controller_log).map_err(io(&path))?;
        Some(path)
    };
    Ok(SavedReproducer {
        yaml,
        feature,
        controller_log,
    })
}

/// Reads a reproducer file.
pub fn load(path: &Path) -> Result<History, ReproduceError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReproduceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(History::from_yaml(&text, &path.display().to_string())?)
}

/// Replays the history of `path`; returns the outcome and what `drdrill reproduce` prints.
pub async fn reproduce(path: &Path) -> Result<(RunOutcome, String), ReproduceError> {
    let history = load(path)?;
    let outcome = run_history(&history).await;
    let text = render(&history, &outcome);
    Ok((outcome, text))
}

/// The printout of a replay: the history, every drift report, the predictions, the divergence.
pub fn render(history: &History, outcome: &RunOutcome) -> String {
    let mut out = format!("history (seed {}):\n{}\n", history.seed, history.to_yaml());
    if history.effective_ops().len() > history.ops.len() {
        out.push_str("(and a backup after the last operation: the history takes none, or rolls a control plane out — a rollout or an upgrade — after its latest)\n\n");
    }
    if !outcome.record.restored_from.is_empty() {
        out.push_str(&format!("restored from backup {}\n\n", outcome.record.restored_from));
    }
    for report in &outcome.record.reports {
        out.push_str(report);
        out.push('\n');
    }
    for p in &outcome.record.predictions {
        out.push_str(&format!(
            "predicted for {}: {} finding(s) after the restore, {} once settled; after mitigation {} control plane + workers {:?}\n",
            p.cluster,
            p.at_restore.len(),
            p.after_settle.len(),
            p.after_mitigation.control_plane,
            p.after_mitigation.worker_replicas
        ));
    }
    match &outcome.divergence {
        None => out.push_str("\nno divergence: the world did what the model predicted\n"),
        Some(d) => out.push_str(&format!("\nDIVERGENCE at {}:\n{}\n", d.phase, d.message)),
    }
    out
}
