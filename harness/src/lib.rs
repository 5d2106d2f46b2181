//! drdrill's harness: the CLI's building blocks — drills that run the runbooks' own commands
//! against a simulated or real world, the verifiers that judge them, and their reports.

pub mod bench;
pub mod diagnostics;
pub mod drift;
pub mod drill;
pub mod kubectl;
pub mod report;
pub mod runbook;
pub mod tanzu;
