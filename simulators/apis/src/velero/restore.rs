//! The Restore: which backup to restore, what to take from it, and how far it got.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{HookErrorMode, HookStatus};
use super::{is_zero, preserved_objects};

/// What a Restore takes from which backup (`velero restore create` flags end up here).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "Restore",
    namespaced,
    derive = "PartialEq",
    status = "RestoreStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// The backup to restore from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// Restore from the schedule's latest completed backup instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_name: Option<String>,
    /// Namespaces to include (`*` or empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// Namespaces to exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resources to include, group-qualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    /// Resources to exclude (nodes, events and Velero's own are always excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
    /// Namespace renames: backed-up namespace → target namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_mapping: BTreeMap<String, String>,
    /// Only items whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Items matching any of these selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_label_selectors: Option<Vec<LabelSelector>>,
    /// Whether to restore persistent volumes from snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_pvs: Option<bool>,
    /// Resources whose status is restored too (otherwise status is stripped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_status: Option<RestoreStatusSpec>,
    /// Keep services' node ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_node_ports: Option<bool>,
    /// Whether cluster-scoped resources are restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    /// Hooks run in restored pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<RestoreHooks>,
    /// What to do with an object that already exists: `none` (default: keep it, warn) or
    /// `update` (patch it towards the backup). Kept as a string, as upstream validates it in
    /// the controller (FailedValidation) rather than in the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_resource_policy: Option<String>,
    /// How long to wait for asynchronous plugin operations, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_operation_timeout: Option<String>,
    /// A ConfigMap holding resource modifier rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_modifier: Option<TypedLocalObjectReference>,
    /// Uploader settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader_config: Option<UploaderConfigForRestore>,
}

/// Resources whose status a restore keeps.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatusSpec {
    /// Resources whose status is restored (`*` for all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    /// Resources whose status is not restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
}

/// Uploader settings of a restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploaderConfigForRestore {
    /// Write files sparsely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_sparse_files: Option<bool>,
    /// Number of files downloaded at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_files_download: Option<i32>,
}

/// Hooks of a restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct RestoreHooks {
    /// Hooks per set of selected resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<RestoreResourceHookSpec>,
}

/// Hooks for the restored pods a selector picks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResourceHookSpec {
    /// Name of the hook set.
    pub name: String,
    /// Namespaces the hooks apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// Namespaces the hooks skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resources the hooks apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    /// Resources the hooks skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
    /// Only pods whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Hooks run after the pod is restored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_hooks: Vec<RestoreResourceHook>,
}

/// One restore hook: an exec hook or an init-container hook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct RestoreResourceHook {
    /// A command run in the restored pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecRestoreHook>,
    /// Init containers added to the restored pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitRestoreHook>,
}

/// A command run in a restored pod's container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecRestoreHook {
    /// The container (empty: the pod's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// What a failing command does to the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<HookErrorMode>,
    /// How long the command may run, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_timeout: Option<String>,
    /// How long to wait for the container to be ready, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<String>,
    /// Wait for the container to be ready before running the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_ready: Option<bool>,
}

/// Init containers added to a restored pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitRestoreHook {
    /// The containers, as Kubernetes Container objects kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "preserved_objects")]
    pub init_containers: Vec<serde_json::Value>,
    /// How long the init containers may take, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Where a Restore is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RestorePhase {
    /// Not yet processed.
    New,
    /// The spec is invalid (e.g. the backup does not exist); see `validationErrors`.
    FailedValidation,
    /// Items are being restored.
    InProgress,
    /// Items are done; plugin operations are still running.
    WaitingForPluginOperations,
    /// As above, after at least one error.
    WaitingForPluginOperationsPartiallyFailed,
    /// Done without errors.
    Completed,
    /// Done, with errors.
    PartiallyFailed,
    /// Failed; see `failureReason`.
    Failed,
    /// Finishing touches (e.g. PV patches).
    Finalizing,
    /// As above, after at least one error.
    FinalizingPartiallyFailed,
}

impl RestorePhase {
    /// The phase as Velero writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::FailedValidation => "FailedValidation",
            Self::InProgress => "InProgress",
            Self::WaitingForPluginOperations => "WaitingForPluginOperations",
            Self::WaitingForPluginOperationsPartiallyFailed => "WaitingForPluginOperationsPartiallyFailed",
            Self::Completed => "Completed",
            Self::PartiallyFailed => "PartiallyFailed",
            Self::Failed => "Failed",
            Self::Finalizing => "Finalizing",
            Self::FinalizingPartiallyFailed => "FinalizingPartiallyFailed",
        }
    }

    /// Whether the restore has stopped changing (Completed, PartiallyFailed, Failed,
    /// FailedValidation).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::PartiallyFailed | Self::Failed | Self::FailedValidation
        )
    }
}

/// What happened to a Restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// Why the spec is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<Vec<String>>,
    /// Number of warnings.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warnings: i32,
    /// Number of errors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: i32,
    /// Why the restore failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When the restore started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When the restore finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    /// Items done so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<RestoreProgress>,
    /// Asynchronous plugin operations attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restore_item_operations_attempted: i32,
    /// Asynchronous plugin operations completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restore_item_operations_completed: i32,
    /// Asynchronous plugin operations failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restore_item_operations_failed: i32,
    /// Hooks run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_status: Option<HookStatus>,
}

/// Progress of a restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreProgress {
    /// Items to restore.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_items: i32,
    /// Items restored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items_restored: i32,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runbook_restore_round_trips_in_upstream_shape() {
        let upstream = json!({
            "apiVersion": "velero.io/v1",
            "kind": "Restore",
            "metadata": { "name": "my-restore", "namespace": "velero" },
            "spec": {
                "backupName": "my-backup",
                "excludedResources": ["nodes", "events", "events.events.k8s.io",
                    "backups.velero.io", "restores.velero.io", "resticrepositories.velero.io"],
                "existingResourcePolicy": "update",
                "hooks": {
                    "resources": [{
                        "name": "warm-up",
                        "postHooks": [
                            { "exec": { "command": ["/bin/true"], "onError": "Fail",
                                        "waitForReady": true } },
                            { "init": { "initContainers": [{ "name": "i", "image": "busybox" }],
                                        "timeout": "1m" } }
                        ]
                    }]
                }
            },
            "status": {
                "phase": "FailedValidation",
                "validationErrors": ["backup.velero.io \"nope\" not found"]
            }
        });
        let restore: Restore = serde_json::from_value(upstream.clone()).expect("parses");
        assert_eq!(restore.status.as_ref().and_then(|s| s.phase), Some(RestorePhase::FailedValidation));
        assert_eq!(serde_json::to_value(&restore).expect("serializes"), upstream);
        assert!(RestorePhase::FailedValidation.is_terminal());
        assert_eq!(RestorePhase::InProgress.as_str(), "InProgress");
    }
}
