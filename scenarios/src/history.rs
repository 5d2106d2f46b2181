//! Histories for drift exploration: a topology, the operations an operator runs before the
//! disaster, and the disaster itself — generated at random (proptest-state-machine), saved as
//! reproducer files (YAML with the seed) and rendered as equivalent Gherkin features.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::{BoxedStrategy, Just, Strategy, prop_oneof};
use proptest_state_machine::ReferenceStateMachine;
use serde::{Deserialize, Serialize};

use crate::topology::{Topology, WorkloadCluster};

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
}

/// How the management cluster is lost at the end of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Disaster {
    /// The management cluster is gone and rebuilt from `mgmt-cluster-config.yaml`
    /// (Runbook T, full restore).
    #[default]
    ManagementClusterLost,
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
    /// The operation as one line (for reports and error messages).
    pub fn describe(&self) -> String {
        match self {
            Op::ScaleWorkers { cluster, workers } => format!("scale {cluster} to {workers} workers"),
            Op::ReplaceControlPlaneMachine { cluster } => format!("replace a control-plane machine of {cluster}"),
            Op::PowerOffWorkerVm { cluster } => format!("power off the VM of the first worker of {cluster}"),
            Op::DeleteWorkerVm { cluster } => format!("delete the VM of the first worker of {cluster} in vSphere"),
            Op::Backup => "take a backup".into(),
            Op::PassTime { minutes } => format!("{minutes} minutes pass"),
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

    /// The operations actually run: `ops`, plus a trailing backup when there is none.
    pub fn effective_ops(&self) -> Vec<Op> {
        let mut ops = self.ops.clone();
        if !ops.contains(&Op::Backup) {
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
                    kubernetes: "v1.24.10+vmware.1".into(),
                    tkr: "v1.24.10---vmware.1-tkg.1".into(),
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
            Op::ReplaceControlPlaneMachine { .. } | Op::PowerOffWorkerVm { .. } | Op::DeleteWorkerVm { .. } | Op::PassTime { .. } => None,
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
                "    And workload cluster \"{}\" in namespace \"{NAMESPACE}\" with {} control-plane node{} and {} worker{}",
                c.name,
                c.control_plane,
                if c.control_plane == 1 { "" } else { "s" },
                c.workers,
                if c.workers == 1 { "" } else { "s" }
            );
        }
        let _ = writeln!(f, "    And the clusters are created and running (seed {})", self.seed);
        let _ = writeln!(
            f,
            "    And the credentials file \"VELERO-CREDS\":\n      \"\"\"\n      [default]\n      aws_access_key_id=minio\n      aws_secret_access_key=minio123\n      \"\"\""
        );
        let _ = writeln!(f, "    When I run \"{VELERO_INSTALL}\"");
        let mut backups = 0;
        for op in self.effective_ops() {
            if op == Op::Backup {
                backups += 1;
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
                Op::ReplaceControlPlaneMachine { cluster } => {
                    let _ = writeln!(f, "    When a control-plane machine of \"{cluster}\" is replaced");
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
        let latest = History::backup_name(backups);
        let _ = writeln!(
            f,
            "    When the management cluster is lost\n    And the management cluster is rebuilt from mgmt-cluster-config.yaml"
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
            disaster: Disaster::ManagementClusterLost,
            faults: Vec::new(),
        }
    }

    fn index(&self, cluster: &str) -> Result<usize, String> {
        self.clusters
            .iter()
            .position(|c| c.name == cluster)
            .ok_or_else(|| format!("no cluster {cluster:?} in this history"))
    }

    /// Whether `op` may run now, and why not.
    ///
    /// Not explored, because Runbook T has no way back from them (the world behaves as Cluster
    /// API does, and the runbook's mitigation cannot converge): replacing the machine of a
    /// one-machine control plane (KCP refuses to remediate at 1 replica), and a second
    /// control-plane replacement after the latest backup (two restored members without a VM:
    /// KCP refuses, removing either would lose etcd quorum).
    pub fn check(&self, op: &Op) -> Result<(), String> {
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
                if self.replaced_since_backup[i] {
                    return Err(format!(
                        "a control-plane machine of {cluster} was already replaced since the last backup (two restored members without a VM would lose etcd quorum; not explored)"
                    ));
                }
                Ok(())
            }
            Op::PowerOffWorkerVm { cluster } | Op::DeleteWorkerVm { cluster } => self.index(cluster).map(drop),
            Op::Backup => Ok(()),
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
            Op::Backup => self.replaced_since_backup.iter_mut().for_each(|r| *r = false),
            Op::PowerOffWorkerVm { .. } | Op::DeleteWorkerVm { .. } | Op::PassTime { .. } => {}
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
    (prop_oneof![Just(1u32), Just(3u32)], 1..=MAX_INITIAL_WORKERS).prop_map(move |(control_plane, workers)| ClusterShape {
        name: name.to_string(),
        control_plane,
        workers,
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
        // The seed does not shrink: another seed is another world, not a simpler one.
        (proptest::num::u64::ANY.no_shrink(), clusters)
            .prop_map(|(seed, clusters)| {
                ExploreState::from_history(&History {
                    seed,
                    clusters,
                    ops: Vec::new(),
                    disaster: Disaster::ManagementClusterLost,
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
        let power_off_names = names.clone();
        let power_off = pick.clone().prop_map(move |i| Op::PowerOffWorkerVm {
            cluster: power_off_names[i].clone(),
        });
        let delete_vm = pick.prop_map(move |i| Op::DeleteWorkerVm { cluster: names[i].clone() });
        prop_oneof![
            4 => scale,
            2 => replace,
            1 => power_off,
            1 => delete_vm,
            3 => Just(Op::Backup),
            2 => prop_oneof![1u32..=90, 91u32..=MAX_PASS_MINUTES].prop_map(|minutes| Op::PassTime { minutes }),
        ]
        .boxed()
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
                },
                ClusterShape {
                    name: "tkg-wc-b".into(),
                    control_plane: 1,
                    workers: 1,
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
        for _ in 0..50 {
            let mut tree = strategy.new_tree(&mut runner).expect("tree");
            for _ in 0..20 {
                let (state, ops, _) = tree.current();
                let h = History { ops, ..state.history() };
                h.validate().unwrap_or_else(|e| panic!("{e}\n{h:#?}"));
                if !tree.simplify() {
                    break;
                }
            }
        }
    }
}
