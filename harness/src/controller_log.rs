//! The controller log of a world: what every simulated controller did, pass by pass, on the
//! world's clock — the `kubectl logs` of the controllers a real management cluster would have,
//! written into diagnostics bundles.
//!
//! One line per action, `<time> <cluster> <controller>: <verb> <object>`, e.g.
//! `2022-12-07T17:10:42Z tkg-mgmt-vc machineset: created Machine/default/tkg-vc-antrea-md-0-7xk2p`.
//! Only actions are logged (created, deleted, adopted, updated, registered, …), never "nothing
//! to do", so a quiet world writes nothing. The log keeps the last [`ControllerLog::CAPACITY`]
//! lines (a world running for simulated weeks stays small) and says how many it dropped.
//!
//! Nothing compared for determinism reads it: which round an action lands in may depend on how
//! fast the machine ran the command beside it.

use std::collections::VecDeque;
use std::sync::Mutex;

use jiff::Timestamp;

/// The log (shared by the world's rounds; cheap to append to).
#[derive(Debug, Default)]
pub struct ControllerLog {
    inner: Mutex<Lines>,
}

#[derive(Debug, Default)]
struct Lines {
    lines: VecDeque<String>,
    dropped: usize,
}

impl ControllerLog {
    /// How many lines are kept.
    pub const CAPACITY: usize = 50_000;

    /// Logs `verb` for each of `objects` (`Kind/name` entries of a controller's report).
    pub fn actions(&self, at: Timestamp, cluster: &str, controller: &str, verb: &str, objects: &[String]) {
        if objects.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for object in objects {
            inner.push(format!("{at} {cluster} {controller}: {verb} {object}"));
        }
    }

    /// Logs one message (a failed round, a retried request).
    pub fn message(&self, at: Timestamp, cluster: &str, controller: &str, message: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.push(format!("{at} {cluster} {controller}: {message}"));
    }

    /// The whole log, oldest first, with a first line saying how many older lines were dropped.
    pub fn text(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if inner.dropped > 0 {
            out.push_str(&format!("({} earlier lines dropped)\n", inner.dropped));
        }
        for line in &inner.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Lines logged and kept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).lines.len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Lines {
    fn push(&mut self, line: String) {
        if self.lines.len() == ControllerLog::CAPACITY {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_time_cluster_controller_and_object() {
        let log = ControllerLog::default();
        let at: Timestamp = "2022-12-07T17:10:42Z".parse().expect("time");
        log.actions(at, "tkg-mgmt-vc", "machineset", "created", &["Machine/default/md-0-a".to_string()]);
        log.actions(at, "tkg-mgmt-vc", "machineset", "deleted", &[]);
        log.message(at, "tkg-vc-antrea", "kubelet", "round failed: connection refused");
        assert_eq!(
            log.text(),
            "2022-12-07T17:10:42Z tkg-mgmt-vc machineset: created Machine/default/md-0-a\n\
             2022-12-07T17:10:42Z tkg-vc-antrea kubelet: round failed: connection refused\n"
        );
    }

    #[test]
    fn only_the_last_lines_are_kept_and_the_drop_is_said() {
        let log = ControllerLog::default();
        let at = Timestamp::UNIX_EPOCH;
        let objects: Vec<String> = (0..ControllerLog::CAPACITY + 3).map(|i| format!("Pod/p{i}")).collect();
        log.actions(at, "c", "replicaset", "created", &objects);
        assert_eq!(log.len(), ControllerLog::CAPACITY);
        let text = log.text();
        assert!(
            text.starts_with("(3 earlier lines dropped)\n1970-01-01T00:00:00Z c replicaset: created Pod/p3\n"),
            "{}",
            &text[..120]
        );
        assert!(text.ends_with(&format!("created Pod/p{}\n", ControllerLog::CAPACITY + 2)));
    }
}
