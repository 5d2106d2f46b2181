//! The reference model: from a history's operations alone (plus the names the world gave the
//! Machines it created), which Machines each operation leaves, what drift the harness must
//! report after the restore, and what every cluster looks like once the runbook's mitigation
//! is carried out. It encodes the rules of Cluster API, Velero and Runbook T; it never looks
//! at the drift classifier.
//!
//! The rules:
//! * `tanzu cluster scale` spreads the workers over the MachineDeployments in name order
//!   ([`spread`]); a MachineSet scaling down deletes healthy Machines with its default
//!   (`Random`) policy, whose ties break by name: the lowest names go first;
//! * replacing a control-plane machine deletes the oldest (creation time, then name) and the
//!   KubeadmControlPlane creates one; a rollout replaces all of them (as many new ones); an
//!   upgrade replaces every Machine, control plane and workers;
//! * a backup holds the Machines of the moment it is taken, whether by hand or by the schedule
//!   (which fires only where the history says so: see [`crate::history::OP_MINUTES_BOUND`]);
//! * the restore brings back the Machines of the latest backup, while Nodes and VMs are those of
//!   the moment of the disaster (a VM is named after its Machine, a Node after its VM): a
//!   backed-up worker Machine whose VM is gone is a *stale worker*; a worker that exists but was
//!   not backed up is a *ghost worker*; a control-plane machine made after the backup is a
//!   *control-plane ghost* (a restored control-plane Machine without a VM is not a finding: KCP
//!   remediates it);
//! * once unpaused and settled, MachineHealthCheck remediation replaces every stale Machine (no
//!   stale finding is left) and the ghosts remain;
//! * the mitigation scales the workers to the number of worker Nodes it sees (ghosts included,
//!   the runbook's "expected count") when there is a ghost worker, removes every ghost Node and
//!   VM, and leaves the control plane at the backed-up size.

use std::collections::BTreeSet;

use crate::history::{History, Op, spread};

/// A Machine as the world named it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MachineId {
    /// Its name (its VM's and Node's name too).
    pub name: String,
    /// Its creation time, seconds since the Unix epoch.
    pub created: i64,
}

/// The Machines of one workload cluster, as observed in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMachines {
    /// The cluster.
    pub cluster: String,
    /// Control-plane Machines.
    pub control_plane: Vec<MachineId>,
    /// Worker Machines of each MachineDeployment, MachineDeployments in name order.
    pub deployments: Vec<Vec<MachineId>>,
}

/// The runbook's drift families, in the order the report sorts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// A restored worker Machine whose VM is gone.
    StaleWorker,
    /// A worker Node and VM no Machine manages.
    GhostWorker,
    /// A control-plane Node and VM no Machine manages.
    ControlPlaneGhost,
}

impl Family {
    /// As the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::StaleWorker => "stale worker",
            Family::GhostWorker => "ghost worker",
            Family::ControlPlaneGhost => "control-plane ghost",
        }
    }
}

/// One finding the report must hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PredictedFinding {
    /// Family.
    pub family: Family,
    /// The Node.
    pub node: Option<String>,
    /// The Machine.
    pub machine: Option<String>,
    /// The VM.
    pub vm: Option<String>,
}

impl PredictedFinding {
    /// `family node machine vm` with `<none>` for what is absent (the report's columns).
    pub fn row(&self) -> [String; 4] {
        let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "<none>".into());
        [self.family.as_str().into(), cell(&self.node), cell(&self.machine), cell(&self.vm)]
    }
}

/// A cluster once mitigated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndState {
    /// KubeadmControlPlane replicas.
    pub control_plane: u32,
    /// Replicas of each MachineDeployment, in name order.
    pub worker_replicas: Vec<u32>,
}

impl EndState {
    /// Workers in total.
    pub fn workers(&self) -> u32 {
        self.worker_replicas.iter().sum()
    }

    /// Nodes = Machines = VMs.
    pub fn machines(&self) -> usize {
        (self.control_plane + self.workers()) as usize
    }
}

/// What the model predicts for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// The cluster.
    pub cluster: String,
    /// The report right after the restore, before unpausing.
    pub at_restore: Vec<PredictedFinding>,
    /// The report once unpaused and settled.
    pub after_settle: Vec<PredictedFinding>,
    /// The cluster after mitigation.
    pub after_mitigation: EndState,
}

/// Where the world left the model's prediction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The world's Machines after an operation are not the predicted ones.
    #[error("after {step}: {cluster} {part}: expected {expected}, the world has {found}")]
    Machines {
        /// The step (`ops[i] (…)` or `creation`).
        step: String,
        /// The cluster.
        cluster: String,
        /// Which part (`control plane`, `MachineDeployment #i`).
        part: String,
        /// The prediction.
        expected: String,
        /// What the world has.
        found: String,
    },
    /// The observation does not describe the history's clusters.
    #[error("the observation after {step} does not match the history's clusters: {message}")]
    Shape {
        /// The step.
        step: String,
        /// What does not match.
        message: String,
    },
    /// A prediction after the disaster needs a backup.
    #[error("no backup was taken: nothing to restore")]
    NoBackup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterModel {
    name: String,
    control_plane: Vec<MachineId>,
    deployments: Vec<Vec<MachineId>>,
}

/// The reference model of one history.
#[derive(Debug, Clone)]
pub struct ReferenceModel {
    clusters: Vec<ClusterModel>,
    backup: Option<Vec<ClusterModel>>,
    steps: usize,
}

fn names(ms: &[MachineId]) -> BTreeSet<String> {
    ms.iter().map(|m| m.name.clone()).collect()
}

fn show(set: &BTreeSet<String>, new: usize) -> String {
    let mut parts: Vec<String> = set.iter().cloned().collect();
    if new > 0 {
        parts.push(format!("{new} new"));
    }
    format!("[{}]", parts.join(", "))
}

/// Checks one part: the survivors must be exactly those predicted, plus `new` Machines the
/// model had not seen.
fn check_part(
    step: &str,
    cluster: &str,
    part: &str,
    before: &[MachineId],
    survivors: &BTreeSet<String>,
    new: usize,
    after: &[MachineId],
) -> Result<(), ModelError> {
    let known = names(before);
    let observed = names(after);
    let kept: BTreeSet<String> = observed.intersection(&known).cloned().collect();
    let created = observed.difference(&known).count();
    if kept != *survivors || created != new {
        let found_new = observed.difference(&known).cloned().collect::<Vec<_>>();
        return Err(ModelError::Machines {
            step: step.to_string(),
            cluster: cluster.to_string(),
            part: part.to_string(),
            expected: show(survivors, new),
            found: format!(
                "[{}]{}",
                kept.iter().cloned().collect::<Vec<_>>().join(", "),
                if found_new.is_empty() {
                    String::new()
                } else {
                    format!(" + new [{}]", found_new.join(", "))
                }
            ),
        });
    }
    Ok(())
}

impl ReferenceModel {
    /// The model of `history` once its clusters were created, with the Machines the world made.
    pub fn new(history: &History, initial: &[ClusterMachines]) -> Result<Self, ModelError> {
        let step = "creation";
        if initial.len() != history.clusters.len() {
            return Err(ModelError::Shape {
                step: step.into(),
                message: format!("{} clusters observed, {} in the history", initial.len(), history.clusters.len()),
            });
        }
        let mut clusters = Vec::new();
        for (shape, seen) in history.clusters.iter().zip(initial) {
            if seen.cluster != shape.name {
                return Err(ModelError::Shape {
                    step: step.into(),
                    message: format!("observed {} where the history has {}", seen.cluster, shape.name),
                });
            }
            if seen.deployments.len() != shape.workers as usize {
                return Err(ModelError::Shape {
                    step: step.into(),
                    message: format!(
                        "{}: {} MachineDeployments, expected {}",
                        shape.name,
                        seen.deployments.len(),
                        shape.workers
                    ),
                });
            }
            check_part(
                step,
                &shape.name,
                "control plane",
                &[],
                &BTreeSet::new(),
                shape.control_plane as usize,
                &seen.control_plane,
            )?;
            for (i, md) in seen.deployments.iter().enumerate() {
                check_part(step, &shape.name, &format!("MachineDeployment #{i}"), &[], &BTreeSet::new(), 1, md)?;
            }
            clusters.push(ClusterModel {
                name: shape.name.clone(),
                control_plane: seen.control_plane.clone(),
                deployments: seen.deployments.clone(),
            });
        }
        Ok(ReferenceModel {
            clusters,
            backup: None,
            steps: 0,
        })
    }

    /// Applies `op` (the next operation of the history): checks that the world's Machines after
    /// it, `observed`, are the predicted survivors plus the predicted number of new Machines,
    /// then learns the new Machines' names.
    pub fn apply(&mut self, op: &Op, observed: &[ClusterMachines]) -> Result<(), ModelError> {
        let step = format!("ops[{}] ({})", self.steps, op.describe());
        self.steps += 1;
        if observed.len() != self.clusters.len() {
            return Err(ModelError::Shape {
                step,
                message: format!("{} clusters observed, {} modelled", observed.len(), self.clusters.len()),
            });
        }
        for (c, seen) in self.clusters.iter_mut().zip(observed) {
            if seen.cluster != c.name || seen.deployments.len() != c.deployments.len() {
                return Err(ModelError::Shape {
                    step,
                    message: format!(
                        "observed {} with {} MachineDeployments where the model has {} with {}",
                        seen.cluster,
                        seen.deployments.len(),
                        c.name,
                        c.deployments.len()
                    ),
                });
            }
            // Control plane.
            let mut cp_survivors = names(&c.control_plane);
            let mut cp_new = 0;
            if matches!(op, Op::ReplaceControlPlaneMachine { cluster } if *cluster == c.name)
                && let Some(oldest) = c
                    .control_plane
                    .iter()
                    .min_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)))
            {
                cp_survivors.remove(&oldest.name);
                cp_new = 1;
            }
            // An upgrade rolls the control plane out, then every MachineDeployment.
            let upgraded = matches!(op, Op::UpgradeCluster { cluster, .. } if *cluster == c.name);
            if upgraded || matches!(op, Op::RolloutControlPlane { cluster } if *cluster == c.name) {
                cp_survivors.clear();
                cp_new = c.control_plane.len();
            }
            check_part(
                &step,
                &c.name,
                "control plane",
                &c.control_plane,
                &cp_survivors,
                cp_new,
                &seen.control_plane,
            )?;
            // Workers.
            let replicas: Vec<u32> = match op {
                Op::ScaleWorkers { cluster, workers } if *cluster == c.name => spread(*workers, c.deployments.len()),
                _ => c.deployments.iter().map(|m| m.len() as u32).collect(),
            };
            // A worker VM powered off in vSphere changes no Machine: CAPV powers it back on
            // (`reconcilePowerState`) before any health check times out. A deleted one (the first
            // worker by name: VMs, Nodes and Machines share names) is replaced in its
            // MachineDeployment through the MachineHealthCheck.
            let deleted_vm: Option<String> = match op {
                Op::DeleteWorkerVm { cluster } if *cluster == c.name => c.deployments.iter().flatten().map(|m| m.name.clone()).min(),
                _ => None,
            };
            for (i, (md, want)) in c.deployments.iter().zip(&replicas).enumerate() {
                let have = md.len();
                let want = *want as usize;
                let mut survivors = names(md);
                let mut replaced = 0;
                if let Some(victim) = deleted_vm.as_ref().filter(|v| survivors.contains(*v)) {
                    survivors.remove(victim);
                    replaced = 1;
                }
                if upgraded {
                    // A new MachineSet for the new template, scaled up; the old one to zero.
                    survivors.clear();
                    replaced = have;
                }
                if want < have {
                    // Random policy, all healthy: ties broken by name, lowest first.
                    for victim in names(md).into_iter().take(have - want) {
                        survivors.remove(&victim);
                    }
                }
                check_part(
                    &step,
                    &c.name,
                    &format!("MachineDeployment #{i}"),
                    md,
                    &survivors,
                    want.saturating_sub(have) + replaced,
                    &seen.deployments[i],
                )?;
            }
            c.control_plane = seen.control_plane.clone();
            c.deployments = seen.deployments.clone();
        }
        // A scheduled backup is taken while the world is quiet (the generator keeps the
        // schedule from firing inside another operation): it holds what a manual one would.
        if matches!(op, Op::Backup | Op::ScheduleTick) {
            self.backup = Some(self.clusters.clone());
        }
        Ok(())
    }

    /// Whether a backup was taken.
    pub fn has_backup(&self) -> bool {
        self.backup.is_some()
    }

    /// The drift and end state of every cluster after the disaster and the restore from the
    /// latest backup.
    pub fn predict(&self) -> Result<Vec<Prediction>, ModelError> {
        let backup = self.backup.as_ref().ok_or(ModelError::NoBackup)?;
        let mut out = Vec::new();
        for (now, then) in self.clusters.iter().zip(backup) {
            let mut at_restore = Vec::new();
            let mut ghost_workers = 0u32;
            let mut backed_up_workers = 0u32;
            for (md_now, md_then) in now.deployments.iter().zip(&then.deployments) {
                let (n, b) = (names(md_now), names(md_then));
                backed_up_workers += b.len() as u32;
                for stale in b.difference(&n) {
                    at_restore.push(PredictedFinding {
                        family: Family::StaleWorker,
                        node: None,
                        machine: Some(stale.clone()),
                        vm: None,
                    });
                }
                for ghost in n.difference(&b) {
                    ghost_workers += 1;
                    at_restore.push(PredictedFinding {
                        family: Family::GhostWorker,
                        node: Some(ghost.clone()),
                        machine: None,
                        vm: Some(ghost.clone()),
                    });
                }
            }
            let (cp_now, cp_then) = (names(&now.control_plane), names(&then.control_plane));
            for ghost in cp_now.difference(&cp_then) {
                at_restore.push(PredictedFinding {
                    family: Family::ControlPlaneGhost,
                    node: Some(ghost.clone()),
                    machine: None,
                    vm: Some(ghost.clone()),
                });
            }
            at_restore.sort();
            let after_settle = at_restore.iter().filter(|f| f.family != Family::StaleWorker).cloned().collect();
            let worker_replicas = if ghost_workers > 0 {
                spread(backed_up_workers + ghost_workers, then.deployments.len())
            } else {
                then.deployments.iter().map(|m| m.len() as u32).collect()
            };
            out.push(Prediction {
                cluster: now.name.clone(),
                at_restore,
                after_settle,
                after_mitigation: EndState {
                    control_plane: then.control_plane.len() as u32,
                    worker_replicas,
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ClusterShape, Disaster};

    fn m(name: &str, created: i64) -> MachineId {
        MachineId {
            name: name.into(),
            created,
        }
    }

    fn history(cp: u32, workers: u32) -> History {
        History {
            seed: 1,
            clusters: vec![ClusterShape {
                name: "c".into(),
                control_plane: cp,
                workers,
                kubernetes: crate::LATEST_RELEASE.kubernetes.into(),
            }],
            ops: Vec::new(),
            disaster: Disaster::ManagementClusterLost,
            faults: Vec::new(),
        }
    }

    fn seen(cp: &[MachineId], mds: &[&[MachineId]]) -> Vec<ClusterMachines> {
        vec![ClusterMachines {
            cluster: "c".into(),
            control_plane: cp.to_vec(),
            deployments: mds.iter().map(|d| d.to_vec()).collect(),
        }]
    }

    fn scale(workers: u32) -> Op {
        Op::ScaleWorkers {
            cluster: "c".into(),
            workers,
        }
    }

    #[test]
    fn scale_up_after_the_backup_is_a_ghost_and_the_mitigation_keeps_the_latest_count() {
        let cp = [m("c-cp-a", 1)];
        let mut model = ReferenceModel::new(&history(1, 2), &seen(&cp, &[&[m("c-md-0-a", 2)], &[m("c-md-1-a", 2)]])).expect("model");
        model
            .apply(&Op::Backup, &seen(&cp, &[&[m("c-md-0-a", 2)], &[m("c-md-1-a", 2)]]))
            .expect("backup");
        model
            .apply(&scale(3), &seen(&cp, &[&[m("c-md-0-a", 2), m("c-md-0-b", 9)], &[m("c-md-1-a", 2)]]))
            .expect("scale");
        let p = model.predict().expect("predict").remove(0);
        assert_eq!(
            p.at_restore,
            vec![PredictedFinding {
                family: Family::GhostWorker,
                node: Some("c-md-0-b".into()),
                machine: None,
                vm: Some("c-md-0-b".into())
            }]
        );
        assert_eq!(p.after_settle, p.at_restore);
        assert_eq!(p.after_mitigation.worker_replicas, vec![2, 1]);
        assert_eq!(p.after_mitigation.machines(), 4);
    }

    #[test]
    fn scale_down_deletes_the_lowest_names_and_leaves_a_stale_worker_that_heals() {
        let cp = [m("c-cp-a", 1)];
        let two = [m("c-md-0-k", 2), m("c-md-0-b", 3)];
        let mut model = ReferenceModel::new(&history(1, 1), &seen(&cp, &[&[m("c-md-0-k", 2)]])).expect("model");
        model.apply(&scale(2), &seen(&cp, &[&two])).expect("scale up");
        model.apply(&Op::Backup, &seen(&cp, &[&two])).expect("backup");
        // The world deleting the higher name diverges from the rule.
        let err = model
            .clone()
            .apply(&scale(1), &seen(&cp, &[&[m("c-md-0-b", 3)]]))
            .expect_err("wrong victim");
        assert!(err.to_string().contains("expected [c-md-0-k], the world has [c-md-0-b]"), "{err}");
        model.apply(&scale(1), &seen(&cp, &[&[m("c-md-0-k", 2)]])).expect("scale down");
        let p = model.predict().expect("predict").remove(0);
        assert_eq!(
            p.at_restore.iter().map(PredictedFinding::row).collect::<Vec<_>>(),
            vec![["stale worker".to_string(), "<none>".into(), "c-md-0-b".into(), "<none>".into()]]
        );
        assert!(p.after_settle.is_empty());
        assert_eq!(p.after_mitigation.worker_replicas, vec![2], "the backed-up count");
    }

    #[test]
    fn scale_up_then_down_after_the_backup_can_leave_both_a_stale_worker_and_a_ghost() {
        let cp = [m("c-cp-a", 1)];
        let mut model = ReferenceModel::new(&history(1, 1), &seen(&cp, &[&[m("c-md-0-b", 2)]])).expect("model");
        model.apply(&Op::Backup, &seen(&cp, &[&[m("c-md-0-b", 2)]])).expect("backup");
        model
            .apply(&scale(2), &seen(&cp, &[&[m("c-md-0-b", 2), m("c-md-0-z", 5)]]))
            .expect("up");
        // The lowest name, the backed-up b, goes: z survives.
        model.apply(&scale(1), &seen(&cp, &[&[m("c-md-0-z", 5)]])).expect("down");
        let p = model.predict().expect("predict").remove(0);
        let families: Vec<Family> = p.at_restore.iter().map(|f| f.family).collect();
        assert_eq!(families, vec![Family::StaleWorker, Family::GhostWorker]);
        // The stale one is replaced, the ghost counted: the runbook scales to 2.
        assert_eq!(p.after_mitigation.worker_replicas, vec![2]);
    }

    #[test]
    fn a_replaced_control_plane_machine_is_a_control_plane_ghost() {
        let cp = [m("c-cp-b", 1), m("c-cp-a", 5), m("c-cp-c", 9)];
        let md = [m("c-md-0-a", 2)];
        let mut model = ReferenceModel::new(&history(3, 1), &seen(&cp, &[&md])).expect("model");
        model.apply(&Op::Backup, &seen(&cp, &[&md])).expect("backup");
        let replace = Op::ReplaceControlPlaneMachine { cluster: "c".into() };
        let err = model
            .clone()
            .apply(&replace, &seen(&[m("c-cp-b", 1), m("c-cp-c", 9), m("c-cp-d", 20)], &[&md]))
            .expect_err("the oldest is b, by creation time");
        assert!(err.to_string().contains("control plane"), "{err}");
        let after = [m("c-cp-a", 5), m("c-cp-c", 9), m("c-cp-d", 20)];
        model.apply(&replace, &seen(&after, &[&md])).expect("replace");
        let p = model.predict().expect("predict").remove(0);
        assert_eq!(
            p.after_settle.iter().map(PredictedFinding::row).collect::<Vec<_>>(),
            vec![["control-plane ghost".to_string(), "c-cp-d".into(), "<none>".into(), "c-cp-d".into()]]
        );
        assert_eq!(p.after_mitigation.control_plane, 3);
    }

    #[test]
    fn a_rollout_replaces_every_control_plane_machine_and_the_backup_after_it_holds_the_new_ones() {
        let cp = [m("c-cp-b", 1), m("c-cp-a", 5), m("c-cp-c", 9)];
        let md = [m("c-md-0-a", 2)];
        let mut model = ReferenceModel::new(&history(3, 1), &seen(&cp, &[&md])).expect("model");
        let rollout = Op::RolloutControlPlane { cluster: "c".into() };
        let err = model
            .clone()
            .apply(&rollout, &seen(&[m("c-cp-a", 5), m("c-cp-d", 20), m("c-cp-e", 21)], &[&md]))
            .expect_err("a survivor");
        assert!(
            err.to_string()
                .contains("expected [3 new], the world has [c-cp-a] + new [c-cp-d, c-cp-e]"),
            "{err}"
        );
        let after = [m("c-cp-d", 20), m("c-cp-e", 21), m("c-cp-f", 22)];
        model.apply(&rollout, &seen(&after, &[&md])).expect("rollout");
        model.apply(&Op::Backup, &seen(&after, &[&md])).expect("backup");
        let p = model.predict().expect("predict").remove(0);
        assert!(p.at_restore.is_empty(), "{:?}", p.at_restore);
        assert_eq!(p.after_mitigation.control_plane, 3);
    }

    #[test]
    fn an_upgrade_replaces_every_machine() {
        let cp = [m("c-cp-a", 1)];
        let mds = [m("c-md-0-a", 2)];
        let mds1 = [m("c-md-1-a", 2)];
        let mut model = ReferenceModel::new(&history(1, 2), &seen(&cp, &[&mds, &mds1])).expect("model");
        model.apply(&Op::Backup, &seen(&cp, &[&mds, &mds1])).expect("backup");
        let upgrade = Op::UpgradeCluster {
            cluster: "c".into(),
            tkr: "v1.24.10---vmware.1-tkg.1".into(),
        };
        let err = model
            .clone()
            .apply(&upgrade, &seen(&[m("c-cp-b", 9)], &[&mds, &[m("c-md-1-b", 9)]]))
            .expect_err("a worker kept");
        assert!(err.to_string().contains("MachineDeployment #0"), "{err}");
        let after = ([m("c-cp-b", 9)], [m("c-md-0-b", 10)], [m("c-md-1-b", 10)]);
        model.apply(&upgrade, &seen(&after.0, &[&after.1, &after.2])).expect("upgrade");
        model.apply(&Op::Backup, &seen(&after.0, &[&after.1, &after.2])).expect("backup");
        let p = model.predict().expect("predict").remove(0);
        assert!(p.at_restore.is_empty(), "{:?}", p.at_restore);
        assert_eq!(p.after_mitigation.worker_replicas, vec![1, 1]);
    }

    #[test]
    fn ops_before_the_backup_only_move_the_baseline_and_no_backup_is_an_error() {
        let cp = [m("c-cp-a", 1)];
        let mut model = ReferenceModel::new(&history(1, 1), &seen(&cp, &[&[m("c-md-0-a", 2)]])).expect("model");
        assert_eq!(model.predict(), Err(ModelError::NoBackup));
        let two = [m("c-md-0-a", 2), m("c-md-0-b", 3)];
        model.apply(&scale(2), &seen(&cp, &[&two])).expect("up");
        model.apply(&Op::PassTime { minutes: 5 }, &seen(&cp, &[&two])).expect("time");
        model.apply(&Op::Backup, &seen(&cp, &[&two])).expect("backup");
        let p = model.predict().expect("predict").remove(0);
        assert!(p.at_restore.is_empty());
        assert_eq!(p.after_mitigation.worker_replicas, vec![2]);
        let err = ReferenceModel::new(&history(1, 2), &seen(&cp, &[&[m("x", 1)]])).expect_err("shape");
        assert!(err.to_string().contains("1 MachineDeployments, expected 2"), "{err}");
    }
}
