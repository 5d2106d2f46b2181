//! Histories for drift exploration: a topology, the operations an operator runs before the
//! disaster, and the disaster itself — generated at random (proptest-state-machine), saved as
//! reproducer files (YAML with the seed) and rendered as equivalent Gherkin features.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::{BoxedStrategy, Just, Strategy, prop_oneof};
use proptest_state_machine::ReferenceStateMachine;
use serde::{Deserialize, Serialize};

use crate::topology::{LATEST_RELEASE, RELEASES, Topology, WorkloadCluster, release_after, release_of};

/// The most workload clusters a history builds (each costs an API server and kubelets).
pub const MAX_CLUSTERS: usize = 2;
/// The most MachineDeployments (initial workers) a cluster starts with.
pub const MAX_INITIAL_WORKERS: u32 = 3;
/// How far above its MachineDeployment count a cluster may be scaled.
pub const MAX_EXTRA_WORKERS: u32 = 3;
/// The longest single `PassTime`, in minutes (a day).
pub const MAX_PASS_MINUTES: u32 = 24 * 60;
/// The runbook's management cluster name.
pub const MANAGEMENT: &str = "tkg-mgmt-vc";
/// The namespace every explored workload cluster lives in.
pub const NAMESPACE: &str = "default";
/// Runbook T's `velero install` line.
pub const VELERO_INSTALL: &str = "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS";
/// Runbook T's schedule line ("Scheduled backups and drift"): a backup every 24 hours, kept 14 days.
pub const VELERO_SCHEDULE: &str = r#"velero create schedule daily-bak --schedule="@every 24h" --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s"#;
/// The schedule [`VELERO_SCHEDULE`] creates.
pub const SCHEDULE_NAME: &str = "daily-bak";
/// Minutes between two runs of [`VELERO_SCHEDULE`] (`@every 24h`).
pub const SCHEDULE_EVERY_MINUTES: u32 = 24 * 60;
/// The most simulated minutes an operation other than `pass-time` is allowed to take while a
/// schedule runs (the settles after a scale or a replaced machine take seconds to minutes; a
/// worker VM powered off or deleted, [`POWER_OFF_MINUTES`] and its settle). The generator keeps
/// the worst case below the schedule's period, so the schedule fires only where a history says
/// `schedule-tick`: a backup taken in the middle of an operation would hold a state the model
/// cannot name. The runner checks it: a scheduled backup at any other point is a divergence.
pub const OP_MINUTES_BOUND: u32 = 90;

/// A workload cluster of a history, as `tanzu cluster create` would make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterShape {
    /// Cluster name (namespace [`NAMESPACE`]).
    pub name: String,
    /// Control-plane machines: 1 (dev plan) or 3 (prod plan).
    pub control_plane: u32,
    /// Initial workers: one single-replica MachineDeployment each (1..=3).
    pub workers: u32,
    /// The Kubernetes version it is created with: one of TKG's [`RELEASES`] (default: the
    /// newest).
    #[serde(default = "latest_kubernetes")]
    pub kubernetes: String,
}

fn latest_kubernetes() -> String {
    LATEST_RELEASE.kubernetes.to_string()
}

/// One operation of a history, before the disaster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Op {
    /// `tanzu cluster scale CLUSTER --worker-machine-count WORKERS`, then wait until running.
    ScaleWorkers {
        /// The cluster.
        cluster: String,
        /// Workers wanted (spread over the MachineDeployments in name order).
        workers: u32,
    },
    /// Delete the oldest control-plane Machine (`kubectl delete machine`); the
    /// KubeadmControlPlane replaces it. Only on 3-machine control planes.
    ReplaceControlPlaneMachine {
        /// The cluster.
        cluster: String,
    },
    /// Roll out the control plane, as `clusterctl alpha rollout restart kubeadmcontrolplane/…`
    /// does: the KubeadmControlPlane's `spec.rolloutAfter` set to now, and KCP replaces every
    /// control-plane Machine (surge first: a new Machine, then the oldest outdated one goes),
    /// then wait until running. A history whose latest backup precedes a rollout ends with one
    /// more backup (see [`History::effective_ops`]).
    RolloutControlPlane {
        /// The cluster.
        cluster: String,
    },
    /// `tanzu cluster upgrade CLUSTER --tkr TKR --yes`: the control plane, then every
    /// MachineDeployment, rolled out to the release's Kubernetes version (every Machine
    /// replaced); the CLI waits until done. One minor version up at a time, as tanzu allows. A
    /// history whose latest backup precedes an upgrade ends with one more backup, as after a
    /// rollout.
    UpgradeCluster {
        /// The cluster.
        cluster: String,
        /// The TKR to upgrade to, e.g. `v1.24.10---vmware.1-tkg.1`.
        tkr: String,
    },
    /// The VM of the cluster's first worker (by name) is powered off in vSphere, and 30 minutes
    /// pass: CAPV powers it back on (its power-state reconciliation), so no Machine changes and
    /// no drift follows — unless the simulator stops behaving like CAPV.
    PowerOffWorkerVm {
        /// The cluster.
        cluster: String,
    },
    /// The VM of the cluster's first worker (by name) is deleted by hand in vSphere, and 30
    /// minutes pass: CAPV finds no VM with the machine's BIOS UUID (it does not clone another),
    /// and the MachineHealthCheck has the Machine replaced — a new Machine, Node and VM.
    DeleteWorkerVm {
        /// The cluster.
        cluster: String,
    },
    /// Runbook T's `velero backup create … --wait`.
    Backup,
    /// Simulated time passes.
    PassTime {
        /// Minutes (1..=1440).
        minutes: u32,
    },
    /// Runbook T's `velero create schedule daily-bak --schedule="@every 24h" … --ttl 336h0m0s`
    /// (at most once a history). Velero takes its first backup 24 hours after the schedule was
    /// created, none at creation.
    CreateSchedule,
    /// Time passes until the schedule's next backup (`daily-bak-<timestamp>`) is taken and
    /// completed — Velero's schedule controller takes it, on the simulated clock.
    ScheduleTick,
}

/// How the management cluster is lost at the end of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Disaster {
    /// The management cluster is gone and rebuilt from `mgmt-cluster-config.yaml`
    /// (Runbook T, full restore).
    #[default]
    ManagementClusterLost,
    /// The management cluster's store is corrupted: every object gone while its API server
    /// still answers; rebuilt from `mgmt-cluster-config.yaml` all the same.
    ManagementStoreCorrupted,
}

impl Disaster {
    /// The disaster's kind, as reproducer files spell it.
    pub fn kind(self) -> &'static str {
        match self {
            Disaster::ManagementClusterLost => "management-cluster-lost",
            Disaster::ManagementStoreCorrupted => "management-store-corrupted",
        }
    }

    /// The disaster as one line.
    pub fn describe(self) -> &'static str {
        match self {
            Disaster::ManagementClusterLost => "the management cluster is lost",
            Disaster::ManagementStoreCorrupted => "the management cluster's store is corrupted",
        }
    }
}

/// Test-only faults the world can be built with (to prove the exploration catches bugs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// MachineSets of the rebuilt management cluster do not adopt orphaned Machines.
    MachinesetSkipsAdoption,
}

/// A history: topology, operations, disaster; replayed deterministically from the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The seed every generated name comes from.
    pub seed: u64,
    /// The workload clusters (1..=2).
    pub clusters: Vec<ClusterShape>,
    /// Operations before the disaster. A history without a `backup` ends with one: there is
    /// always a backup to restore.
    #[serde(default)]
    pub ops: Vec<Op>,
    /// The disaster.
    #[serde(default)]
    pub disaster: Disaster,
    /// Test-only faults switched on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

/// Why a history is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Too few or too many clusters.
    #[error("a history has 1 to {MAX_CLUSTERS} workload clusters, this one has {0}")]
    ClusterCount(usize),
    /// A cluster name is not a DNS label or is used twice.
    #[error("cluster {index}: name {name:?} {problem}")]
    ClusterName {
        /// 0-based position in `clusters`.
        index: usize,
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A cluster's shape is outside what is explored.
    #[error("cluster {name}: {problem}")]
    Shape {
        /// The cluster.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// An operation is invalid where it stands.
    #[error("ops[{index}] ({op}): {problem}")]
    Op {
        /// 0-based position in `ops`.
        index: usize,
        /// The operation, as written.
        op: String,
        /// What is wrong.
        problem: String,
    },
    /// The file does not parse.
    #[error("{file}: not a drdrill history: {message}")]
    Parse {
        /// The file (or `<text>`).
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
}

/// `workers` spread over `count` MachineDeployments as `tanzu cluster scale` does: each gets
/// `workers / count`, the first `workers % count` one more.
pub fn spread(workers: u32, count: usize) -> Vec<u32> {
    let n = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    (0..n).map(|i| workers / n + u32::from(i < workers % n)).collect()
}

impl Op {
    /// The operation's kind, as reproducer files spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::ScaleWorkers { .. } => "scale-workers",
            Op::ReplaceControlPlaneMachine { .. } => "replace-control-plane-machine",
            Op::RolloutControlPlane { .. } => "rollout-control-plane",
            Op::UpgradeCluster { .. } => "upgrade-cluster",
            Op::PowerOffWorkerVm { .. } => "power-off-worker-vm",
            Op::DeleteWorkerVm { .. } => "delete-worker-vm",
            Op::Backup => "backup",
            Op::PassTime { .. } => "pass-time",
            Op::CreateSchedule => "create-schedule",
            Op::ScheduleTick => "schedule-tick",
        }
    }

    /// The operation as one line (for reports and error messages).
    pub fn describe(&self) -> String {
        match self {
            Op::ScaleWorkers { cluster, workers } => format!("scale {cluster} to {workers} workers"),
            Op::ReplaceControlPlaneMachine { cluster } => format!("replace a control-plane machine of {cluster}"),
            Op::RolloutControlPlane { cluster } => format!("roll out the control plane of {cluster}"),
            Op::UpgradeCluster { cluster, tkr } => format!("upgrade {cluster} to {tkr}"),
            Op::PowerOffWorkerVm { cluster } => format!("power off the VM of the first worker of {cluster}"),
            Op::DeleteWorkerVm { cluster } => format!("delete the VM of the first worker of {cluster} in vSphere"),
            Op::Backup => "take a backup".into(),
            Op::PassTime { minutes } => format!("{minutes} minutes pass"),
            Op::CreateSchedule => format!("create the schedule {SCHEDULE_NAME}"),
            Op::ScheduleTick => format!("the schedule {SCHEDULE_NAME} takes its next backup"),
        }
    }
}

impl History {
    /// The backup names, in order: `my-backup` (the runbook's), then `my-backup-2`, …
    pub fn backup_name(ordinal: usize) -> String {
        if ordinal <= 1 {
            "my-backup".into()
        } else {
            format!("my-backup-{ordinal}")
        }
    }

    /// The operations actually run: `ops`, plus a trailing backup when none is taken (by hand
    /// or by the schedule), or when a control plane was rolled out (by a rollout or an upgrade)
    /// after the latest one: a restore from before a rollout brings back control-plane Machines none of whose VMs
    /// exist, and no etcd member has a Machine, so KCP refuses to remediate any (etcd quorum;
    /// with one machine, "KCP can't remediate if current replicas are less or equal to 1") and
    /// Runbook T has no way back — not explored. The runbook's own advice: back up right after
    /// any structural change.
    pub fn effective_ops(&self) -> Vec<Op> {
        let mut ops = self.ops.clone();
        let mut state = ExploreState::from_history(self);
        for op in &ops {
            state = state.after(op);
        }
        if !ops.iter().any(|op| matches!(op, Op::Backup | Op::ScheduleTick)) || state.needs_trailing_backup() {
            ops.push(Op::Backup);
        }
        ops
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&ClusterShape> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Checks the topology and that every operation is valid where it stands (the same rules the
    /// generator follows).
    pub fn validate(&self) -> Result<(), HistoryError> {
        if self.clusters.is_empty() || self.clusters.len() > MAX_CLUSTERS {
            return Err(HistoryError::ClusterCount(self.clusters.len()));
        }
        let mut names = BTreeSet::new();
        for (index, c) in self.clusters.iter().enumerate() {
            let dns = !c.name.is_empty()
                && c.name.len() <= 40
                && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !c.name.starts_with('-')
                && !c.name.ends_with('-');
            if !dns {
                return Err(HistoryError::ClusterName {
                    index,
                    name: c.name.clone(),
                    problem: "is not a lowercase DNS label of at most 40 characters",
                });
            }
            if !names.insert(c.name.clone()) {
                return Err(HistoryError::ClusterName {
                    index,
                    name: c.name.clone(),
                    problem: "is used twice",
                });
            }
            if c.control_plane != 1 && c.control_plane != 3 {
                return Err(HistoryError::Shape {
                    name: c.name.clone(),
                    problem: format!("control_plane must be 1 or 3, not {}", c.control_plane),
                });
            }
            if c.workers == 0 || c.workers > MAX_INITIAL_WORKERS {
                return Err(HistoryError::Shape {
                    name: c.name.clone(),
                    problem: format!("workers must be 1 to {MAX_INITIAL_WORKERS}, not {}", c.workers),
                });
            }
            if release_of(&c.kubernetes).is_none() {
                let known: Vec<&str> = RELEASES.iter().map(|r| r.kubernetes).collect();
                return Err(HistoryError::Shape {
                    name: c.name.clone(),
                    problem: format!("kubernetes {:?} is not a TKG release (one of {})", c.kubernetes, known.join(", ")),
                });
            }
        }
        let mut state = ExploreState::from_history(self);
        for (index, op) in self.ops.iter().enumerate() {
            state.check(op).map_err(|problem| HistoryError::Op {
                index,
                op: op.describe(),
                problem,
            })?;
            state = state.after(op);
        }
        Ok(())
    }

    /// Parses and validates a reproducer file's text (`file` names it in errors).
    pub fn from_yaml(text: &str, file: &str) -> Result<History, HistoryError> {
        let history: History = serde_yaml::from_str(text).map_err(|e| HistoryError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        history.validate()?;
        Ok(history)
    }

    /// The reproducer file's text.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// The topology the world is built from.
    pub fn topology(&self) -> Topology {
        Topology {
            management: MANAGEMENT.into(),
            seed: self.seed,
            clusters: self
                .clusters
                .iter()
                .map(|c| WorkloadCluster {
                    name: c.name.clone(),
                    namespace: NAMESPACE.into(),
                    control_plane: c.control_plane,
                    workers: c.workers,
                    kubernetes: c.kubernetes.clone(),
                    tkr: release_of(&c.kubernetes).unwrap_or(LATEST_RELEASE).tkr.into(),
                    plan: if c.control_plane >= 3 { "prod" } else { "dev" }.into(),
                })
                .collect(),
        }
    }

    /// The command line an operation runs through the operator's terminal, if it is one.
    pub fn command_of(op: &Op, backup_ordinal: usize) -> Option<String> {
        match op {
            Op::ScaleWorkers { cluster, workers } => Some(format!("tanzu cluster scale {cluster} --worker-machine-count {workers}")),
            Op::Backup => Some(format!(
                "velero backup create {} --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait",
                History::backup_name(backup_ordinal)
            )),
            Op::CreateSchedule => Some(VELERO_SCHEDULE.to_string()),
            Op::UpgradeCluster { cluster, tkr } => Some(format!("tanzu cluster upgrade {cluster} --tkr {tkr} --yes")),
            Op::ReplaceControlPlaneMachine { .. }
            | Op::RolloutControlPlane { .. }
            | Op::PowerOffWorkerVm { .. }
            | Op::DeleteWorkerVm { .. }
            | Op::PassTime { .. }
            | Op::ScheduleTick => None,
        }
    }

    /// An equivalent Gherkin feature, written with the suite's step phrases. `expectations`
    /// adds, per cluster, the predicted drift rows (`FAMILY`, `NODE`, `MACHINE`, `VM`) and the
    /// (nodes, machines, VMs) counts after mitigation.
    pub fn to_feature(&self, title: &str, expectations: &[FeatureExpectation]) -> String {
        let mut f = String::new();
        let _ = writeln!(f, "@explore @drift\nFeature: {title}");
        let _ = writeln!(
            f,
            "  A history found by `drdrill explore` (seed {}), replayed with the suite's steps.\n",
            self.seed
        );
        let _ = writeln!(f, "  Scenario: the shrunk history");
        let _ = writeln!(
            f,
            "    Given a TKG management cluster \"{MANAGEMENT}\" on vSphere, built from mgmt-cluster-config.yaml"
        );
        for c in &self.clusters {
            let _ = writeln!(
                f,
                "    And workload cluster \"{}\" in namespace \"{NAMESPACE}\" with {} control-plane node{} and {} worker{}{}",
                c.name,
                c.control_plane,
                if c.control_plane == 1 { "" } else { "s" },
                c.workers,
                if c.workers == 1 { "" } else { "s" },
                if c.kubernetes == LATEST_RELEASE.kubernetes {
                    String::new()
                } else {
                    format!(" on Kubernetes \"{}\"", c.kubernetes)
                }
            );
        }
        let _ = writeln!(f, "    And the clusters are created and running (seed {})", self.seed);
        let _ = writeln!(
            f,
            "    And the credentials file \"VELERO-CREDS\":\n      \"\"\"\n      [default]\n      aws_access_key_id=minio\n      aws_secret_access_key=minio123\n      \"\"\""
        );
        let _ = writeln!(f, "    When I run \"{VELERO_INSTALL}\"");
        let mut backups = 0;
        // What the restore waits for: the latest manual backup's name, or the schedule's prefix
        // (its backups are named after the simulated time they were taken).
        let mut latest = String::new();
        for op in self.effective_ops() {
            if op == Op::Backup {
                backups += 1;
                latest = History::backup_name(backups);
            } else if op == Op::ScheduleTick {
                latest = format!("{SCHEDULE_NAME}-*");
            }
            match &op {
                Op::ScaleWorkers { .. } => {
                    let line = History::command_of(&op, backups).unwrap_or_default();
                    let _ = writeln!(f, "    When I run \"{line}\"\n    Then every workload cluster is running");
                }
                Op::Backup => {
                    let line = History::command_of(&op, backups).unwrap_or_default();
                    let _ = writeln!(f, "    When I run \"{line}\"");
                }
                Op::UpgradeCluster { .. } => {
                    let line = History::command_of(&op, backups).unwrap_or_default();
                    let _ = writeln!(f, "    When I run \"{line}\"\n    Then every workload cluster is running");
                }
                Op::ReplaceControlPlaneMachine { cluster } => {
                    let _ = writeln!(f, "    When a control-plane machine of \"{cluster}\" is replaced");
                }
                Op::RolloutControlPlane { cluster } => {
                    let _ = writeln!(f, "    When the control plane of \"{cluster}\" is rolled out");
                }
                Op::PowerOffWorkerVm { cluster } => {
                    let _ = writeln!(
                        f,
                        "    When the VM of a worker node of \"{cluster}\" is powered off\n    And {POWER_OFF_MINUTES} minutes pass\n    Then every workload cluster is running"
                    );
                }
                Op::DeleteWorkerVm { cluster } => {
                    let _ = writeln!(
                        f,
                        "    When the VM of a worker node of \"{cluster}\" is deleted in vSphere\n    And {POWER_OFF_MINUTES} minutes pass\n    Then every workload cluster is running"
                    );
                }
                Op::CreateSchedule => {
                    let _ = writeln!(f, "    When I run '{VELERO_SCHEDULE}'");
                }
                Op::ScheduleTick => {
                    let _ = writeln!(f, "    When the schedule \"{SCHEDULE_NAME}\" takes its next backup");
                }
                Op::PassTime { minutes } => {
                    let _ = writeln!(
                        f,
                        "    When {minutes} minute{} pass{}",
                        if *minutes == 1 { "" } else { "s" },
                        if *minutes == 1 { "es" } else { "" }
                    );
                }
            }
        }
        for fault in &self.faults {
            let name = match fault {
                Fault::MachinesetSkipsAdoption => "machineset-skips-adoption",
            };
            let _ = writeln!(f, "    When the test-only fault \"{name}\" is switched on");
        }
        let disaster = match self.disaster {
            Disaster::ManagementClusterLost => "the management cluster is lost",
            Disaster::ManagementStoreCorrupted => "the management cluster's store is corrupted (every object lost)",
        };
        let _ = writeln!(
            f,
            "    When {disaster}\n    And the management cluster is rebuilt from mgmt-cluster-config.yaml"
        );
        let _ = writeln!(f, "    And I run \"{VELERO_INSTALL}\"");
        let _ = writeln!(f, "    And I repeat \"velero backup get\" until it lists \"{latest}\"");
        let _ = writeln!(f, "    And I restore from the latest backup `velero backup get` lists");
        let _ = writeln!(
            f,
            "    And I run the runbook's unpause script for every namespace\n    And the controllers settle"
        );
        for e in expectations {
            if e.drift_rows.is_empty() {
                continue;
            }
            let _ = writeln!(f, "    Then the drift report for \"{}\" is:", e.cluster);
            let _ = writeln!(f, "      | FAMILY | NODE | MACHINE | VM |");
            for row in &e.drift_rows {
                let _ = writeln!(f, "      | {} |", row.join(" | "));
            }
        }
        for c in &self.clusters {
            let _ = writeln!(f, "    When I carry out the drift mitigation plan for \"{}\"", c.name);
        }
        let _ = writeln!(f, "    Then every workload cluster is running");
        for c in &self.clusters {
            let _ = writeln!(f, "    And \"{}\" has no drift and nothing is left over", c.name);
            if let Some(e) = expectations.iter().find(|e| e.cluster == c.name) {
                let (n, m, v) = e.counts;
                let _ = writeln!(f, "    And \"{}\" counts {n} nodes, {m} machines and {v} VMs", c.name);
            }
        }
        f
    }
}

/// What a generated feature asserts about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureExpectation {
    /// The cluster.
    pub cluster: String,
    /// Drift report rows after the restore settled: family, node, machine, VM (`<none>` when absent).
    pub drift_rows: Vec<[String; 4]>,
    /// (nodes, machines, VMs) after mitigation.
    pub counts: (usize, usize, usize),
}

/// What the generator needs to know to propose only valid operations: per cluster, the
/// MachineDeployment count, current workers, control-plane size and whether a control-plane
/// machine was replaced since the last backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExploreState {
    /// The seed.
    pub seed: u64,
    /// The topology.
    pub clusters: Vec<ClusterShape>,
    /// Current workers per cluster.
    pub workers: Vec<u32>,
    /// Whether a control-plane machine was replaced since the last backup, per cluster.
    pub replaced_since_backup: Vec<bool>,
    /// Whether the control plane was rolled out (or upgraded) since the last backup, per cluster.
    pub rolled_out_since_backup: Vec<bool>,
    /// Each cluster's Kubernetes version now.
    pub kubernetes: Vec<String>,
    /// With a schedule: the most simulated minutes that may have passed since it last ran (was
    /// created or took a backup).
    pub schedule_minutes: Option<u32>,
    /// The disaster that ends the history.
    pub disaster: Disaster,
    /// The operations so far.
    pub ops: Vec<Op>,
}

impl ExploreState {
    /// The state at the start of `history`.
    pub fn from_history(history: &History) -> Self {
        ExploreState {
            seed: history.seed,
            workers: history.clusters.iter().map(|c| c.workers).collect(),
            replaced_since_backup: vec![false; history.clusters.len()],
            rolled_out_since_backup: vec![false; history.clusters.len()],
            kubernetes: history.clusters.iter().map(|c| c.kubernetes.clone()).collect(),
            schedule_minutes: None,
            disaster: history.disaster,
            clusters: history.clusters.clone(),
            ops: Vec::new(),
        }
    }

    /// The history so far.
    pub fn history(&self) -> History {
        History {
            seed: self.seed,
            clusters: self.clusters.clone(),
            ops: self.ops.clone(),
            disaster: self.disaster,
            faults: Vec::new(),
        }
    }

    /// The most simulated minutes `op` may take (see [`OP_MINUTES_BOUND`]).
    fn minutes_bound(op: &Op) -> u32 {
        match op {
            Op::PassTime { minutes } => *minutes,
            _ => OP_MINUTES_BOUND,
        }
    }

    /// Simulated minutes a `pass-time` may last now without the schedule firing during it.
    pub fn pass_time_budget(&self) -> u32 {
        match self.schedule_minutes {
            None => MAX_PASS_MINUTES,
            Some(m) => SCHEDULE_EVERY_MINUTES.saturating_sub(m + 1).min(MAX_PASS_MINUTES),
        }
    }

    fn index(&self, cluster: &str) -> Result<usize, String> {
        self.clusters
            .iter()
            .position(|c| c.name == cluster)
            .ok_or_else(|| format!("no cluster {cluster:?} in this history"))
    }

    /// Whether a control plane was rolled out since the latest backup: the history must end
    /// with one more (see [`History::effective_ops`]).
    pub fn needs_trailing_backup(&self) -> bool {
        self.rolled_out_since_backup.iter().any(|r| *r)
    }

    /// Whether `op` may run now, and why not: [`ExploreState::check_here`], and when the
    /// history would then need a trailing backup (a rollout since the latest), that backup too
    /// must be valid after it (the schedule must not be able to fire during it).
    pub fn check(&self, op: &Op) -> Result<(), String> {
        self.check_here(op)?;
        let next = self.clone().after(op);
        if next.needs_trailing_backup() {
            next.check_here(&Op::Backup)
                .map_err(|problem| format!("the backup that must follow a control-plane rollout could not be taken after it: {problem}"))?;
        }
        Ok(())
    }

    /// Whether `op` may run now, and why not.
    ///
    /// Not explored, because Runbook T has no way back from them (the world behaves as Cluster
    /// API does, and the runbook's mitigation cannot converge): replacing the machine of a
    /// one-machine control plane (KCP refuses to remediate at 1 replica), and a second
    /// control-plane replacement after the latest backup (two restored members without a VM:
    /// KCP refuses, removing either would lose etcd quorum). A control-plane rollout or an
    /// upgrade is explored with a backup after it (see [`History::effective_ops`]).
    fn check_here(&self, op: &Op) -> Result<(), String> {
        if let Some(m) = self.schedule_minutes
            && *op != Op::ScheduleTick
            && m + Self::minutes_bound(op) >= SCHEDULE_EVERY_MINUTES
        {
            return Err(format!(
                "up to {m} minutes may have passed since the schedule {SCHEDULE_NAME} last ran: it could fire during this operation (take a schedule-tick first)"
            ));
        }
        match op {
            Op::ScaleWorkers { cluster, workers } => {
                let i = self.index(cluster)?;
                let mds = self.clusters[i].workers;
                if *workers < mds || *workers > mds + MAX_EXTRA_WORKERS {
                    return Err(format!(
                        "{cluster} has {mds} MachineDeployment(s): workers must be {mds} to {}",
                        mds + MAX_EXTRA_WORKERS
                    ));
                }
                if *workers == self.workers[i] {
                    return Err(format!("{cluster} already has {workers} workers"));
                }
                Ok(())
            }
            Op::ReplaceControlPlaneMachine { cluster } => {
                let i = self.index(cluster)?;
                if self.clusters[i].control_plane < 3 {
                    return Err(format!(
                        "{cluster} has a single control-plane machine: KCP cannot remediate its restored twice (not explored)"
                    ));
                }
                // With a rollout since the latest backup, the history ends with another one.
                if self.replaced_since_backup[i] && !self.needs_trailing_backup() {
                    return Err(format!(
                        "a control-plane machine of {cluster} was already replaced since the last backup (two restored members without a VM would lose etcd quorum; not explored)"
                    ));
                }
                Ok(())
            }
            Op::RolloutControlPlane { cluster } | Op::PowerOffWorkerVm { cluster } | Op::DeleteWorkerVm { cluster } => {
                self.index(cluster).map(drop)
            }
            Op::UpgradeCluster { cluster, tkr } => {
                let i = self.index(cluster)?;
                let now = &self.kubernetes[i];
                match release_after(now) {
                    Some(next) if next.tkr == tkr => Ok(()),
                    Some(next) => Err(format!(
                        "{cluster} runs {now}: it upgrades to {} only (one minor version at a time)",
                        next.tkr
                    )),
                    None => Err(format!("{cluster} runs {now}, the newest release: no upgrade")),
                }
            }
            Op::Backup => Ok(()),
            Op::CreateSchedule => match self.schedule_minutes {
                Some(_) => Err(format!("the schedule {SCHEDULE_NAME} exists already")),
                None => Ok(()),
            },
            Op::ScheduleTick => match self.schedule_minutes {
                Some(_) => Ok(()),
                None => Err(format!("no schedule to fire: create-schedule ({SCHEDULE_NAME}) first")),
            },
            Op::PassTime { minutes } => {
                if *minutes == 0 || *minutes > MAX_PASS_MINUTES {
                    return Err(format!("minutes must be 1 to {MAX_PASS_MINUTES}"));
                }
                Ok(())
            }
        }
    }

    /// The state after `op`.
    pub fn after(mut self, op: &Op) -> Self {
        self.schedule_minutes = match (op, self.schedule_minutes) {
            (Op::CreateSchedule, _) => Some(0),
            // The runner stops the clock a minute after the scheduled time.
            (Op::ScheduleTick, Some(_)) => Some(1),
            (_, Some(m)) => Some(m + Self::minutes_bound(op)),
            (_, None) => None,
        };
        match op {
            Op::ScaleWorkers { cluster, workers } => {
                if let Ok(i) = self.index(cluster) {
                    self.workers[i] = *workers;
                }
            }
            Op::ReplaceControlPlaneMachine { cluster } => {
                if let Ok(i) = self.index(cluster) {
                    self.replaced_since_backup[i] = true;
                }
            }
            Op::RolloutControlPlane { cluster } => {
                if let Ok(i) = self.index(cluster) {
                    self.rolled_out_since_backup[i] = true;
                }
            }
            Op::UpgradeCluster { cluster, tkr } => {
                if let Ok(i) = self.index(cluster) {
                    self.rolled_out_since_backup[i] = true;
                    if let Some(r) = RELEASES.iter().find(|r| r.tkr == tkr) {
                        self.kubernetes[i] = r.kubernetes.to_string();
                    }
                }
            }
            Op::Backup | Op::ScheduleTick => {
                self.replaced_since_backup.iter_mut().for_each(|r| *r = false);
                self.rolled_out_since_backup.iter_mut().for_each(|r| *r = false);
            }
            Op::PowerOffWorkerVm { .. } | Op::DeleteWorkerVm { .. } | Op::PassTime { .. } | Op::CreateSchedule => {}
        }
        self.ops.push(op.clone());
        self
    }
}

/// Simulated minutes let pass after a worker VM is powered off or deleted (longer than the
/// MachineHealthCheck's timeouts, so an unhealthy Machine is replaced within them).
pub const POWER_OFF_MINUTES: u32 = 30;

/// Cluster names of generated histories.
pub const CLUSTER_NAMES: [&str; MAX_CLUSTERS] = ["tkg-wc-a", "tkg-wc-b"];

/// The proptest reference state machine: generates valid histories (topology from the seed,
/// then operations) and shrinks them without breaking the rules of [`ExploreState::check`].
pub struct HistoryMachine;

fn shape_strategy(name: &'static str) -> impl Strategy<Value = ClusterShape> {
    // Shrinks towards the newest release (nothing to upgrade to).
    let kubernetes = prop_oneof![Just(LATEST_RELEASE.kubernetes), Just(RELEASES[RELEASES.len() - 2].kubernetes)];
    (prop_oneof![Just(1u32), Just(3u32)], 1..=MAX_INITIAL_WORKERS, kubernetes).prop_map(move |(control_plane, workers, kubernetes)| {
        ClusterShape {
            name: name.to_string(),
            control_plane,
            workers,
            kubernetes: kubernetes.to_string(),
        }
    })
}

impl ReferenceStateMachine for HistoryMachine {
    type State = ExploreState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<ExploreState> {
        let clusters = prop_oneof![
            shape_strategy(CLUSTER_NAMES[0]).prop_map(|a| vec![a]),
            (shape_strategy(CLUSTER_NAMES[0]), shape_strategy(CLUSTER_NAMES[1])).prop_map(|(a, b)| vec![a, b]),
        ];
        // Shrinks towards the first: the plain loss of the management cluster.
        let disaster = prop_oneof![
            3 => Just(Disaster::ManagementClusterLost),
            1 => Just(Disaster::ManagementStoreCorrupted),
        ];
        // The seed does not shrink: another seed is another world, not a simpler one.
        (proptest::num::u64::ANY.no_shrink(), clusters, disaster)
            .prop_map(|(seed, clusters, disaster)| {
                ExploreState::from_history(&History {
                    seed,
                    clusters,
                    ops: Vec::new(),
                    disaster,
                    faults: Vec::new(),
                })
            })
            .boxed()
    }

    fn transitions(state: &ExploreState) -> BoxedStrategy<Op> {
        let names: Vec<String> = state.clusters.iter().map(|c| c.name.clone()).collect();
        let mds: Vec<u32> = state.clusters.iter().map(|c| c.workers).collect();
        let pick = proptest::sample::select((0..names.len()).collect::<Vec<_>>());
        let scale_names = names.clone();
        let scale = (pick.clone(), 0..=MAX_EXTRA_WORKERS).prop_map(move |(i, extra)| Op::ScaleWorkers {
            cluster: scale_names[i].clone(),
            workers: mds[i] + extra,
        });
        let replace_names = names.clone();
        let replace = pick.clone().prop_map(move |i| Op::ReplaceControlPlaneMachine {
            cluster: replace_names[i].clone(),
        });
        let rollout_names = names.clone();
        let rollout = pick.clone().prop_map(move |i| Op::RolloutControlPlane {
            cluster: rollout_names[i].clone(),
        });
        // Upgrades: to the next release, for the clusters that have one.
        let upgrades: Vec<Op> = state
            .clusters
            .iter()
            .zip(&state.kubernetes)
            .filter_map(|(c, now)| {
                release_after(now).map(|next| Op::UpgradeCluster {
                    cluster: c.name.clone(),
                    tkr: next.tkr.to_string(),
                })
            })
            .collect();
        let power_off_names = names.clone();
        let power_off = pick.clone().prop_map(move |i| Op::PowerOffWorkerVm {
            cluster: power_off_names[i].clone(),
        });
        let delete_vm = pick.prop_map(move |i| Op::DeleteWorkerVm { cluster: names[i].clone() });
        let mut arms: Vec<(u32, BoxedStrategy<Op>)> = vec![
            (4, scale.boxed()),
            (2, replace.boxed()),
            (1, rollout.boxed()),
            (1, power_off.boxed()),
            (1, delete_vm.boxed()),
            (3, Just(Op::Backup).boxed()),
        ];
        if !upgrades.is_empty() {
            arms.push((1, proptest::sample::select(upgrades).boxed()));
        }
        // Long enough, often enough, to take the next run of a schedule close; never so long that
        // it fires in the middle (the budget).
        let budget = state.pass_time_budget();
        if budget >= 1 {
            let short = 90.min(budget);
            let times = if budget > short {
                prop_oneof![1u32..=short, (short + 1)..=budget].boxed()
            } else {
                (1u32..=short).boxed()
            };
            arms.push((2, times.prop_map(|minutes| Op::PassTime { minutes }).boxed()));
        }
        match state.schedule_minutes {
            None => arms.push((1, Just(Op::CreateSchedule).boxed())),
            Some(_) => arms.push((2, Just(Op::ScheduleTick).boxed())),
        }
        proptest::strategy::Union::new_weighted(arms).boxed()
    }

    fn apply(state: ExploreState, op: &Op) -> ExploreState {
        state.after(op)
    }

    fn preconditions(state: &ExploreState, op: &Op) -> bool {
        state.check(op).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn example() -> History {
        History {
            seed: 42,
            clusters: vec![
                ClusterShape {
                    name: "tkg-wc-a".into(),
                    control_plane: 3,
                    workers: 2,
                    kubernetes: LATEST_RELEASE.kubernetes.into(),
                },
                ClusterShape {
                    name: "tkg-wc-b".into(),
                    control_plane: 1,
                    workers: 1,
                    kubernetes: "v1.23.16+vmware.1".into(),
                },
            ],
            ops: vec![
                Op::ScaleWorkers {
                    cluster: "tkg-wc-a".into(),
                    workers: 3,
                },
                Op::Backup,
                Op::PassTime { minutes: 90 },
                Op::ReplaceControlPlaneMachine {
                    cluster: "tkg-wc-a".into(),
                },
            ],
            disaster: Disaster::ManagementClusterLost,
            faults: vec![Fault::MachinesetSkipsAdoption],
        }
    }

    #[test]
    fn a_history_round_trips_through_yaml() {
        let h = example();
        let text = h.to_yaml();
        let corrupted = History {
            disaster: Disaster::ManagementStoreCorrupted,
            ..example()
        };
        assert!(
            corrupted
                .to_yaml()
                .contains(&format!("disaster: {}", Disaster::ManagementStoreCorrupted.kind())),
            "kind() spells the disaster as the file does"
        );
        assert!(text.contains("scale-workers"), "{text}");
        assert!(text.contains("machineset-skips-adoption"), "{text}");
        assert_eq!(History::from_yaml(&text, "h.yaml").expect("parses"), h);
    }

    #[test]
    fn invalid_histories_are_refused_with_the_place_named() {
        let mut h = example();
        h.ops.push(Op::ReplaceControlPlaneMachine {
            cluster: "tkg-wc-a".into(),
        });
        let err = h.validate().expect_err("second replacement").to_string();
        assert!(err.starts_with("ops[4] (replace a control-plane machine of tkg-wc-a)"), "{err}");
        let mut h = example();
        h.ops[0] = Op::ScaleWorkers {
            cluster: "tkg-wc-a".into(),
            workers: 1,
        };
        let err = h.validate().expect_err("below the MD count").to_string();
        assert!(err.contains("workers must be 2 to 5"), "{err}");
        let mut h = example();
        h.ops[3] = Op::ReplaceControlPlaneMachine {
            cluster: "tkg-wc-b".into(),
        };
        assert!(h.validate().expect_err("1 CP").to_string().contains("single control-plane machine"));
        let mut h = example();
        h.ops[0] = Op::ScaleWorkers {
            cluster: "nope".into(),
            workers: 3,
        };
        assert!(h.validate().expect_err("unknown").to_string().contains("no cluster \"nope\""));
        let mut h = example();
        h.clusters[1].name = "tkg-wc-a".into();
        assert!(h.validate().expect_err("dup").to_string().contains("is used twice"));
        let mut h = example();
        h.clusters[0].control_plane = 2;
        assert!(h.validate().expect_err("2 CP").to_string().contains("control_plane must be 1 or 3"));
        let err = History::from_yaml("seed: 1\nclusters: []\nops: [fly]\n", "bad.yaml").expect_err("bad op");
        assert!(err.to_string().starts_with("bad.yaml: not a drdrill history"), "{err}");
        let err = History::from_yaml("seed: 1\nclusters: []\n", "empty.yaml").expect_err("no clusters");
        assert_eq!(err, HistoryError::ClusterCount(0));
    }

    #[test]
    fn a_history_without_backup_ends_with_one() {
        let mut h = example();
        h.ops.retain(|o| *o != Op::Backup);
        assert_eq!(h.effective_ops().last(), Some(&Op::Backup));
        assert_eq!(example().effective_ops(), example().ops);
    }

    #[test]
    fn a_rollout_after_the_latest_backup_is_followed_by_one_more() {
        let rollout = Op::RolloutControlPlane {
            cluster: "tkg-wc-b".into(),
        };
        let replace = Op::ReplaceControlPlaneMachine {
            cluster: "tkg-wc-a".into(),
        };
        let with = |ops: Vec<Op>| History { ops, ..example() };
        let h = with(vec![Op::Backup, rollout.clone(), Op::PassTime { minutes: 5 }]);
        h.validate().expect("a one-machine control plane rolls out");
        assert_eq!(h.effective_ops().last(), Some(&Op::Backup));
        assert_eq!(h.effective_ops().len(), 4);
        let h = with(vec![rollout.clone(), Op::Backup, Op::PassTime { minutes: 5 }]);
        assert_eq!(h.effective_ops(), h.ops, "the backup after the rollout is the latest");
        // Two replacements since the backup are explored when another backup follows anyway.
        with(vec![Op::Backup, replace.clone(), replace.clone()])
            .validate()
            .expect_err("two replacements");
        let h = with(vec![Op::Backup, replace.clone(), rollout.clone(), replace]);
        h.validate().expect("the trailing backup follows");
        assert_eq!(h.effective_ops().len(), 5);
        // The trailing backup must not meet the schedule.
        let err = with(vec![Op::CreateSchedule, Op::PassTime { minutes: 1300 }, rollout])
            .validate()
            .expect_err("the backup after it could meet the schedule")
            .to_string();
        assert!(err.starts_with("ops[2] (roll out the control plane of tkg-wc-b)"), "{err}");
        assert!(err.contains("the backup that must follow a control-plane rollout"), "{err}");
        let f = with(vec![Op::RolloutControlPlane {
            cluster: "tkg-wc-a".into(),
        }])
        .to_feature("rollout", &[]);
        assert!(f.contains("    When the control plane of \"tkg-wc-a\" is rolled out\n"), "{f}");
        assert!(f.contains("until it lists \"my-backup\""), "{f}");
    }

    #[test]
    fn an_upgrade_goes_one_release_up_and_is_followed_by_a_backup() {
        let with = |ops: Vec<Op>| History { ops, ..example() };
        let upgrade = |cluster: &str, tkr: &str| Op::UpgradeCluster {
            cluster: cluster.into(),
            tkr: tkr.into(),
        };
        let to_latest = upgrade("tkg-wc-b", LATEST_RELEASE.tkr);
        let h = with(vec![Op::Backup, to_latest.clone()]);
        h.validate().expect("v1.23.16 upgrades to v1.24.10");
        assert_eq!(
            h.effective_ops().last(),
            Some(&Op::Backup),
            "the upgrade rolled the control plane out"
        );
        let f = h.to_feature("upgrade", &[]);
        assert!(
            f.contains("    When I run \"tanzu cluster upgrade tkg-wc-b --tkr v1.24.10---vmware.1-tkg.1 --yes\"\n"),
            "{f}"
        );
        assert!(
            f.contains("\"tkg-wc-a\" in namespace \"default\" with 3 control-plane nodes and 2 workers\n"),
            "{f}"
        );
        assert!(
            f.contains(
                "\"tkg-wc-b\" in namespace \"default\" with 1 control-plane node and 1 worker on Kubernetes \"v1.23.16+vmware.1\"\n"
            ),
            "{f}"
        );
        let err = with(vec![to_latest.clone(), to_latest]).validate().expect_err("twice").to_string();
        assert!(
            err.contains("tkg-wc-b runs v1.24.10+vmware.1, the newest release: no upgrade"),
            "{err}"
        );
        let err = with(vec![upgrade("tkg-wc-a", LATEST_RELEASE.tkr)])
            .validate()
            .expect_err("newest")
            .to_string();
        assert!(err.starts_with("ops[0] (upgrade tkg-wc-a to v1.24.10---vmware.1-tkg.1)"), "{err}");
        let err = with(vec![upgrade("tkg-wc-b", "v1.22.17---vmware.2-tkg.2")])
            .validate()
            .expect_err("a downgrade")
            .to_string();
        assert!(err.contains("it upgrades to v1.24.10---vmware.1-tkg.1 only"), "{err}");
        let mut bad = example();
        bad.clusters[0].kubernetes = "v1.25.0".into();
        let err = bad.validate().expect_err("unknown version").to_string();
        assert!(err.contains("kubernetes \"v1.25.0\" is not a TKG release"), "{err}");
        // Older files say nothing of the version: the newest release.
        let parsed = History::from_yaml(&example().to_yaml().replace("  kubernetes: v1.23.16+vmware.1\n", ""), "old.yaml").expect("parse");
        assert_eq!(parsed.clusters[1].kubernetes, LATEST_RELEASE.kubernetes);
        assert_eq!(parsed.topology().clusters[1].tkr, LATEST_RELEASE.tkr);
        assert_eq!(example().topology().clusters[1].tkr, "v1.23.16---vmware.1-tkg.1");
    }

    #[test]
    fn the_schedule_fires_only_where_the_history_says() {
        let with = |ops: Vec<Op>| History { ops, ..example() };
        let err = with(vec![Op::ScheduleTick]).validate().expect_err("no schedule").to_string();
        assert!(err.starts_with("ops[0] (the schedule daily-bak takes its next backup)"), "{err}");
        assert!(err.contains("create-schedule (daily-bak) first"), "{err}");
        let err = with(vec![Op::CreateSchedule, Op::CreateSchedule]).validate().expect_err("twice");
        assert!(err.to_string().contains("exists already"), "{err}");
        // A day of time would reach the schedule's run in the middle of the pass-time.
        let err = with(vec![Op::CreateSchedule, Op::PassTime { minutes: 1440 }])
            .validate()
            .expect_err("a day");
        assert!(err.to_string().contains("could fire during this operation"), "{err}");
        // 1000 + 400 minutes stay clear of it; a backup's settle bound after them does not.
        let near = vec![Op::CreateSchedule, Op::PassTime { minutes: 1000 }, Op::PassTime { minutes: 400 }];
        with(near.clone()).validate().expect("1400 minutes");
        let mut late = near.clone();
        late.push(Op::Backup);
        assert!(with(late).validate().is_err(), "90 more minutes may reach the run");
        let mut ticked = near;
        ticked.extend([Op::ScheduleTick, Op::Backup, Op::PassTime { minutes: 1000 }]);
        with(ticked).validate().expect("the tick starts a new day");
        // A scheduled backup is a backup: no trailing manual one, and it resets the replacements.
        let h = with(vec![
            Op::CreateSchedule,
            Op::ReplaceControlPlaneMachine {
                cluster: "tkg-wc-a".into(),
            },
            Op::ScheduleTick,
            Op::ReplaceControlPlaneMachine {
                cluster: "tkg-wc-a".into(),
            },
        ]);
        h.validate().expect("a replacement after each backup");
        assert_eq!(h.effective_ops(), h.ops);
        let state = ExploreState::from_history(&h).after(&Op::CreateSchedule);
        assert_eq!(state.pass_time_budget(), 1439);
        assert_eq!(ExploreState::from_history(&h).pass_time_budget(), MAX_PASS_MINUTES);
    }

    #[test]
    fn the_feature_runs_the_runbook_schedule_and_the_store_corruption() {
        let h = History {
            ops: vec![Op::CreateSchedule, Op::PassTime { minutes: 60 }, Op::ScheduleTick],
            disaster: Disaster::ManagementStoreCorrupted,
            faults: Vec::new(),
            ..example()
        };
        let f = h.to_feature("schedule", &[]);
        for phrase in [
            format!("    When I run '{VELERO_SCHEDULE}'\n"),
            "    When the schedule \"daily-bak\" takes its next backup\n".into(),
            "    When the management cluster's store is corrupted (every object lost)\n".into(),
            "until it lists \"daily-bak-*\"".into(),
        ] {
            assert!(f.contains(&phrase), "missing {phrase:?} in\n{f}");
        }
        assert!(!f.contains("my-backup"), "no manual backup in this history:\n{f}");
    }

    #[test]
    fn spread_matches_tanzu() {
        assert_eq!(spread(4, 3), vec![2, 1, 1]);
        assert_eq!(spread(5, 2), vec![3, 2]);
        assert_eq!(spread(3, 3), vec![1, 1, 1]);
    }

    #[test]
    fn the_feature_uses_the_suite_phrases_and_the_runbook_lines() {
        let h = example();
        let f = h.to_feature(
            "demo",
            &[FeatureExpectation {
                cluster: "tkg-wc-a".into(),
                drift_rows: vec![["control-plane ghost".into(), "n".into(), "<none>".into(), "n".into()]],
                counts: (6, 6, 6),
            }],
        );
        for phrase in [
            "And workload cluster \"tkg-wc-a\" in namespace \"default\" with 3 control-plane nodes and 2 workers",
            "And workload cluster \"tkg-wc-b\" in namespace \"default\" with 1 control-plane node and 1 worker",
            "And the clusters are created and running (seed 42)",
            "When I run \"tanzu cluster scale tkg-wc-a --worker-machine-count 3\"",
            "When I run \"velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait\"",
            "When 90 minutes pass",
            "When a control-plane machine of \"tkg-wc-a\" is replaced",
            "When the test-only fault \"machineset-skips-adoption\" is switched on",
            "And I repeat \"velero backup get\" until it lists \"my-backup\"",
            "| control-plane ghost | n | <none> | n |",
            "And \"tkg-wc-a\" counts 6 nodes, 6 machines and 6 VMs",
        ] {
            assert!(f.contains(phrase), "missing {phrase:?} in\n{f}");
        }
    }

    #[test]
    fn generated_histories_are_valid_and_shrink_to_valid_ones() {
        let mut runner = TestRunner::deterministic();
        let strategy = HistoryMachine::sequential_strategy(1..12);
        let mut seen = BTreeSet::new();
        for _ in 0..50 {
            let mut tree = strategy.new_tree(&mut runner).expect("tree");
            for _ in 0..20 {
                let (state, ops, _) = tree.current();
                let h = History { ops, ..state.history() };
                h.validate().unwrap_or_else(|e| panic!("{e}\n{h:#?}"));
                seen.extend(h.ops.iter().map(|op| op.kind().to_string()));
                seen.insert(h.disaster.describe().to_string());
                if !tree.simplify() {
                    break;
                }
            }
        }
        for wanted in [
            "scale-workers",
            "replace-control-plane-machine",
            "rollout-control-plane",
            "upgrade-cluster",
            "power-off-worker-vm",
            "delete-worker-vm",
            "backup",
            "pass-time",
            "create-schedule",
            "schedule-tick",
            "the management cluster is lost",
            "the management cluster's store is corrupted",
        ] {
            assert!(seen.contains(wanted), "no generated history has {wanted:?}: {seen:?}");
        }
    }
}
