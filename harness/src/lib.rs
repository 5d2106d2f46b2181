//! drdrill's harness: the CLI's building blocks — drills that run the runbooks' own commands
//! against a simulated or real world, the verifiers that judge them, and their reports.

pub mod aks;
pub mod bench;
pub mod controller_log;
pub mod diagnostics;
pub mod drift;
pub mod explore;
pub mod kubectl;
pub mod mgmt_config;
pub mod mitigate;
pub mod operator;
pub mod report;
pub mod runbook;
pub mod suite;
pub mod tanzu;
pub mod velero;
pub mod volume_data;
pub mod world;
