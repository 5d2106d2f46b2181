//! Time as the server sees it: the wall clock, or a virtual clock a scenario advances.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

/// A source of "now" for timestamps (creationTimestamp, deletionTimestamp, managedFields).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl VirtualClock {
    /// A virtual clock starting at `start`.
    pub fn starting_at(start: Timestamp) -> Self {
        VirtualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *now = now.saturating_add(span).unwrap_or(*now);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Formats a timestamp the way Kubernetes serializes `metav1.Time` (seconds, `Z`).
pub fn k8s_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats a timestamp as `metav1.MicroTime` (microseconds, `Z`).
pub fn k8s_micro_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let start: Timestamp = "2022-11-11T05:55:55Z".parse().expect("timestamp");
        let clock = VirtualClock::starting_at(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(Duration::from_secs(3600 * 25));
        assert_eq!(k8s_time(clock.now()), "2022-11-12T06:55:55Z");
    }

    #[test]
    fn micro_time_has_six_digits() {
        let ts: Timestamp = "2022-11-11T05:55:55.5Z".parse().expect("timestamp");
        assert_eq!(k8s_micro_time(ts), "2022-11-11T05:55:55.500000Z");
    }
}
