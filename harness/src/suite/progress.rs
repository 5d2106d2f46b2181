//! The drill's progress bar: scenarios finished out of those the tag filter selects, with the
//! passed/failed counts and the elapsed time, drawn on standard error when it is a terminal
//! (hidden in CI logs and pipes, where cucumber's step-by-step output is the progress).

use std::io::Write;
use std::path::{Path, PathBuf};

use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::gherkin::{Feature, GherkinEnv, Scenario};
use cucumber::tag::Ext as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A feature file that cannot be read or parsed while counting scenarios: cucumber reports it
/// again (with its line) when it runs; counting only needs to say which file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CountError {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The `.feature` files of `path` (itself when it is a file), recursively, sorted.
fn feature_files(path: &Path) -> Result<Vec<PathBuf>, CountError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|e| CountError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| CountError {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let p = entry.path();
        if p.is_dir() {
            files.extend(feature_files(&p)?);
        } else if p.extension().is_some_and(|e| e == "feature") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// How many scenarios a scenario stands for: one, or one per example row of an outline.
fn expansions(s: &Scenario) -> usize {
    if s.examples.is_empty() {
        return 1;
    }
    s.examples
        .iter()
        .map(|e| e.table.as_ref().map_or(0, |t| t.rows.len().saturating_sub(1)))
        .sum()
}

/// The scenarios cucumber will run from `paths` under the tag filter (feature, rule and scenario
/// tags together, as cucumber evaluates them).
pub fn count_scenarios(paths: &[PathBuf], tags: Option<&TagOperation>) -> Result<usize, CountError> {
    let mut count = 0;
    for path in paths {
        for file in feature_files(path)? {
            let feature = Feature::parse_path(&file, GherkinEnv::default()).map_err(|e| CountError {
                path: file.clone(),
                message: e.to_string(),
            })?;
            let selected =
                |rule_tags: &[String], s: &Scenario| tags.is_none_or(|t| t.eval(feature.tags.iter().chain(rule_tags).chain(s.tags.iter())));
            count += feature.scenarios.iter().filter(|s| selected(&[], s)).map(expansions).sum::<usize>();
            for rule in &feature.rules {
                count += rule
                    .scenarios
                    .iter()
                    .filter(|s| selected(&rule.tags, s))
                    .map(expansions)
                    .sum::<usize>();
            }
        }
    }
    Ok(count)
}

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step failed.
    Failed,
    /// A step was skipped (not defined, or a tool missing).
    Skipped,
}

/// The bar, shared by the run and its scenario hooks.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    counts: std::sync::Arc<std::sync::Mutex<[usize; 3]>>,
}

impl Progress {
    /// A bar for `total` scenarios on standard error (drawn only when it is a terminal); a
    /// spinner with the count so far when the total is unknown (a feature file that does not
    /// parse: cucumber reports it with its line).
    pub fn new(total: Option<usize>) -> Self {
        let bar = ProgressBar::with_draw_target(total.map(|t| t as u64), ProgressDrawTarget::stderr());
        let template = match total {
            Some(_) => "{elapsed_precise} [{bar:32}] {pos}/{len} scenarios {msg}",
            None => "{elapsed_precise} {spinner} {pos} scenarios {msg}",
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Progress {
            bar,
            counts: Default::default(),
        }
    }

    /// Whether the bar is drawn (standard error is a terminal).
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// One more scenario finished; the message shows the counts so far.
    pub fn finished(&self, outcome: Outcome) {
        let [passed, failed, skipped] = {
            let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            c[outcome as usize] += 1;
            *c
        };
        self.bar.inc(1);
        let mut msg = format!("· {passed} passed");
        if failed > 0 {
            msg.push_str(&format!(", {failed} failed"));
        }
        if skipped > 0 {
            msg.push_str(&format!(", {skipped} skipped"));
        }
        self.bar.set_message(msg);
    }

    /// Prints `text` above the bar.
    pub fn println(&self, text: &str) {
        let _ = self.bar.suspend(|| writeln!(std::io::stdout(), "{text}"));
    }

    /// Removes the bar (the summary table follows).
    pub fn done(&self) {
        self.bar.finish_and_clear();
    }

    /// A writer for cucumber's output that prints whole lines above the bar, so the two do not
    /// overwrite each other.
    pub fn lines_above(&self) -> LinesAbove {
        LinesAbove {
            bar: self.bar.clone(),
            pending: Vec::new(),
        }
    }
}

/// Standard output, line by line, with the bar lifted while a line is written.
pub struct LinesAbove {
    bar: ProgressBar,
    pending: Vec<u8>,
}

impl Write for LinesAbove {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.bar.suspend(|| std::io::stdout().write_all(&lines))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.bar.suspend(|| std::io::stdout().write_all(&rest))?;
        }
        self.bar.suspend(|| std::io::stdout().flush())
    }
}

impl Drop for LinesAbove {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_counted_under_the_tag_filter() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("a.feature"),
            "@tkg\nFeature: A\n  Scenario: one\n    Given x\n  @docker\n  Scenario: two\n    Given x\n  Scenario Outline: three\n    Given <n>\n    Examples:\n      | n |\n      | 1 |\n      | 2 |\n",
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(
            dir.path().join("sub/b.feature"),
            "Feature: B\n  Rule: r\n    @slow\n    Scenario: four\n      Given x\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not a feature").expect("write");
        let paths = vec![dir.path().to_path_buf()];
        assert_eq!(count_scenarios(&paths, None).expect("count"), 5);
        let not_docker: TagOperation = "not @docker".parse().expect("tags");
        assert_eq!(count_scenarios(&paths, Some(&not_docker)).expect("count"), 4);
        let tkg: TagOperation = "@tkg".parse().expect("tags");
        assert_eq!(count_scenarios(&paths, Some(&tkg)).expect("count"), 4);
        let slow: TagOperation = "@slow".parse().expect("tags");
        assert_eq!(count_scenarios(&paths, Some(&slow)).expect("count"), 1);
        std::fs::write(dir.path().join("broken.feature"), "Scenario without a feature\n").expect("write");
        let err = count_scenarios(&paths, None).expect_err("a broken file");
        assert!(err.path.ends_with("broken.feature"), "{err}");
    }
}
