//! The Schedule: a Backup template taken on a cron schedule (`velero create schedule`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::BackupSpec;

/// When to back up and what: backups are named `<schedule>-YYYYMMDDhhmmss`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "Schedule",
    namespaced,
    derive = "PartialEq",
    status = "ScheduleStatus",
    printcolumn = r#"{"name":"Status","type":"string","description":"Status of the schedule","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","description":"A Cron expression defining when to run the Backup","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"LastBackup","type":"date","description":"The last time a Backup was run for this schedule","jsonPath":".status.lastBackup"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Paused","type":"boolean","jsonPath":".spec.paused"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSpec {
    /// The spec of every Backup this schedule creates.
    pub template: BackupSpec,
    /// A cron expression or `@every <duration>`, e.g. `@every 24h`.
    pub schedule: String,
    /// Make the schedule the owner of the backups it creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_owner_references_in_backup: Option<bool>,
    /// No backups are taken while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Skip the backup that would be due right after creation or unpausing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_immediately: Option<bool>,
}

/// Where a Schedule is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SchedulePhase {
    /// Not yet processed.
    New,
    /// Valid; backups are taken when due.
    Enabled,
    /// The spec is invalid (e.g. a bad cron expression); see `validationErrors`.
    FailedValidation,
}

/// What a Schedule has done.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SchedulePhase>,
    /// When the last backup was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<Time>,
    /// When a backup was last skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped: Option<Time>,
    /// Why the spec is invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runbook_schedule_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": { "name": "daily-bak", "namespace": "velero" },
            "spec": {
                "schedule": "@every 24h",
                "template": {
                    "excludedNamespaces": ["tkg-system"],
                    "includedResources": ["cluster.cluster.x-k8s.io"],
                    "ttl": "336h0m0s"
                },
                "useOwnerReferencesInBackup": false
            },
            "status": { "phase": "Enabled", "lastBackup": "2024-05-02T10:00:00Z" }
        });
        let schedule: Schedule = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(schedule.spec.template.ttl.as_deref(), Some("336h0m0s"));
        assert_eq!(schedule.status.as_ref().and_then(|s| s.phase), Some(SchedulePhase::Enabled));
        assert_eq!(serde_json::to_value(&schedule).expect("serializes"), upstream);
    }
}
