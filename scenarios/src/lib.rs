//! Scenario model.
