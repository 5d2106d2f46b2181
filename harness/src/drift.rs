//! The drift report: a workload cluster's Nodes against its Machines against the Site's VMs,
//! classified into the runbook's three families, each finding with its evidence and the
//! runbook's ordered mitigation, with the runbook's own commands filled in.

use crate::report::columns;
use crate::runbook::{DELETE_NODE, DRAIN_NODE, SCALE_WORKERS, fill};

/// A workload-cluster Node, as `kubectl get node` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFact {
    /// Node name.
    pub name: String,
    /// `spec.providerID`.
    pub provider_id: Option<String>,
    /// Whether it carries the control-plane role.
    pub control_plane: bool,
}

/// A Machine of the management cluster, as `tanzu cluster get` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFact {
    /// Machine name.
    pub name: String,
    /// `spec.providerID`.
    pub provider_id: Option<String>,
    /// `status.nodeRef.name`.
    pub node_ref: Option<String>,
    /// Whether it belongs to the control plane.
    pub control_plane: bool,
}

/// A VM of the Site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFact {
    /// VM name.
    pub name: String,
    /// Its provider ID (`vsphere://<uuid>`).
    pub provider_id: String,
    /// Whether it is a control-plane VM.
    pub control_plane: bool,
}

/// Everything the report compares, for one workload cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Cluster name.
    pub cluster: String,
    /// Its Nodes.
    pub nodes: Vec<NodeFact>,
    /// Its Machines.
    pub machines: Vec<MachineFact>,
    /// Its VMs.
    pub vms: Vec<VmFact>,
}

/// The runbook's drift families: the reference model's own type, so a report and a prediction
/// speak of the same thing.
pub use drdrill_scenarios::model::Family;

/// One mitigation step: the runbook's command (or manual action), filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: a controller resolves it (the runbook says so).
    Wait(String),
    /// A command to run, as the runbook writes it.
    Command(String),
    /// A manual infrastructure action.
    RemoveVm(String),
}

/// One drift finding with its evidence and mitigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Family.
    pub family: Family,
    /// The Node involved, if any.
    pub node: Option<String>,
    /// The Machine involved, if any.
    pub machine: Option<String>,
    /// The VM involved, if any.
    pub vm: Option<String>,
    /// Why it was classified so.
    pub evidence: String,
    /// The runbook's ordered mitigation.
    pub mitigation: Vec<Step>,
}

/// The report for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    /// Cluster name.
    pub cluster: String,
    /// Findings, ordered by family then node/machine/VM name.
    pub findings: Vec<Finding>,
}

fn machine_for_node<'a>(e: &'a Evidence, node: &NodeFact) -> Option<&'a MachineFact> {
    e.machines
        .iter()
        .find(|m| m.node_ref.as_deref() == Some(node.name.as_str()) || (m.provider_id.is_some() && m.provider_id == node.provider_id))
}

fn vm_for_node<'a>(e: &'a Evidence, node: &NodeFact) -> Option<&'a VmFact> {
    e.vms
        .iter()
        .find(|v| node.provider_id.as_deref() == Some(v.provider_id.as_str()) || v.name == node.name)
}

/// Classifies the drift of one cluster.
pub fn classify(e: &Evidence) -> DriftReport {
    let mut findings = Vec::new();
    let expected_workers = e.nodes.iter().filter(|n| !n.control_plane).count();
    for node in &e.nodes {
        if machine_for_node(e, node).is_some() {
            continue;
        }
        let vm = vm_for_node(e, node).map(|v| v.name.clone());
        let remove_vm = Step::RemoveVm(vm.clone().unwrap_or_else(|| format!("the VM behind {}", node.name)));
        if node.control_plane {
            findings.push(Finding {
                family: Family::ControlPlaneGhost,
                node: Some(node.name.clone()),
                machine: None,
                vm,
                evidence: "control-plane node has no ControlPlane > Machine".into(),
                mitigation: vec![Step::Command(fill(DELETE_NODE, &e.cluster, &node.name)), remove_vm],
            });
        } else {
            findings.push(Finding {
                family: Family::GhostWorker,
                node: Some(node.name.clone()),
                machine: None,
                vm,
                evidence: "worker node has no Workers > Machine".into(),
                mitigation: vec![
                    Step::Command(format!("{} {expected_workers}", fill(SCALE_WORKERS, &e.cluster, &node.name))),
                    Step::Command(fill(DRAIN_NODE, &e.cluster, &node.name)),
                    Step::Command(fill(DELETE_NODE, &e.cluster, &node.name)),
                    remove_vm,
                ],
            });
        }
    }
    for machine in &e.machines {
        let has_node = e
            .nodes
            .iter()
            .any(|n| machine_for_node(e, n).is_some_and(|m| m.name == machine.name));
        if has_node || machine.control_plane {
            continue;
        }
        findings.push(Finding {
            family: Family::StaleWorker,
            node: None,
            machine: Some(machine.name.clone()),
            vm: None,
            evidence: match &machine.node_ref {
                Some(n) => format!("machine's node {n} no longer exists"),
                None => "machine has no node".into(),
            },
            mitigation: vec![Step::Wait(
                "MachineHealthCheck deletes the stale Machine and a new node replaces it".into(),
            )],
        });
    }
    // VMs behind no Node and no Machine: ghost infrastructure of their role's family.
    for vm in &e.vms {
        let known_node = e.nodes.iter().any(|n| vm_for_node(e, n).is_some_and(|v| v.name == vm.name));
        let known_machine = e.machines.iter().any(|m| m.provider_id.as_deref() == Some(vm.provider_id.as_str()));
        if known_node || known_machine {
            continue;
        }
        findings.push(Finding {
            family: if vm.control_plane {
                Family::ControlPlaneGhost
            } else {
                Family::GhostWorker
            },
            node: None,
            machine: None,
            vm: Some(vm.name.clone()),
            evidence: "VM has neither a node nor a machine".into(),
            mitigation: vec![Step::RemoveVm(vm.name.clone())],
        });
    }
    findings.sort_by(|a, b| (a.family, &a.node, &a.machine, &a.vm).cmp(&(b.family, &b.node, &b.machine, &b.vm)));
    DriftReport {
        cluster: e.cluster.clone(),
        findings,
    }
}

impl DriftReport {
    /// Whether no drift was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The printed report: findings table, then the numbered mitigation plan (dry run).
    pub fn render(&self) -> String {
        let none = || "<none>".to_string();
        let rows: Vec<Vec<String>> = self
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.family.as_str().into(),
                    f.node.clone().unwrap_or_else(none),
                    f.machine.clone().unwrap_or_else(none),
                    f.vm.clone().unwrap_or_else(none),
                    f.evidence.clone(),
                ]
            })
            .collect();
        let mut out = format!("Drift report for cluster {}: {} finding(s)\n\n", self.cluster, self.findings.len());
        if self.findings.is_empty() {
            out.push_str("No drift: every node has its machine and every VM its node.\n");
            return out;
        }
        out.push_str(&columns(&["FAMILY", "NODE", "MACHINE", "VM", "EVIDENCE"], &rows));
        out.push_str("\nMitigation plan (dry run; the runbook's order):\n");
        let mut n = 0;
        for f in &self.findings {
            let subject = f
                .node
                .clone()
                .or_else(|| f.machine.clone())
                .or_else(|| f.vm.clone())
                .unwrap_or_default();
            for step in &f.mitigation {
                n += 1;
                let text = match step {
                    Step::Wait(why) => format!("no action: {why}"),
                    Step::Command(c) => c.clone(),
                    Step::RemoveVm(vm) => format!("remove VM {vm} by hand in vSphere"),
                };
                out.push_str(&format!("{n:>3}. [{} {subject}] {text}\n", f.family.as_str()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cp: bool) -> NodeFact {
        NodeFact {
            name: name.into(),
            provider_id: Some(format!("vsphere://{name}")),
            control_plane: cp,
        }
    }

    fn machine(name: &str, node: Option<&str>, cp: bool) -> MachineFact {
        MachineFact {
            name: name.into(),
            provider_id: node.map(|n| format!("vsphere://{n}")),
            node_ref: node.map(str::to_string),
            control_plane: cp,
        }
    }

    fn vm(name: &str, cp: bool) -> VmFact {
        VmFact {
            name: name.into(),
            provider_id: format!("vsphere://{name}"),
            control_plane: cp,
        }
    }

    #[test]
    fn runbook_families_are_told_apart() {
        // Backed up: cp-1..3, worker w-1 and w-2. Then: w-2 scaled away (stale), w-3 scaled in
        // (ghost), cp-3 replaced by cp-4 (control-plane ghost), plus a lone VM.
        let e = Evidence {
            cluster: "tkg-vc-antrea".into(),
            nodes: vec![
                node("cp-1", true),
                node("cp-2", true),
                node("cp-3", true),
                node("cp-4", true),
                node("w-1", false),
                node("w-3", false),
            ],
            machines: vec![
                machine("cp-m1", Some("cp-1"), true),
                machine("cp-m2", Some("cp-2"), true),
                machine("cp-m3", Some("cp-3"), true),
                machine("md-m1", Some("w-1"), false),
                machine("md-m2", Some("w-2"), false),
            ],
            vms: vec![
                vm("cp-1", true),
                vm("cp-2", true),
                vm("cp-3", true),
                vm("cp-4", true),
                vm("w-1", false),
                vm("w-3", false),
                vm("lost", false),
            ],
        };
        let report = classify(&e);
        type Row<'a> = (Family, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let families: Vec<Row<'_>> = report
            .findings
            .iter()
            .map(|f| (f.family, f.node.as_deref(), f.machine.as_deref(), f.vm.as_deref()))
            .collect();
        assert_eq!(
            families,
            vec![
                (Family::StaleWorker, None, Some("md-m2"), None),
                (Family::GhostWorker, None, None, Some("lost")),
                (Family::GhostWorker, Some("w-3"), None, Some("w-3")),
                (Family::ControlPlaneGhost, Some("cp-4"), None, Some("cp-4")),
            ]
        );
        let ghost = &report.findings[2];
        assert_eq!(
            ghost.mitigation[0],
            Step::Command("tanzu cluster scale tkg-vc-antrea --worker-machine-count 2".into())
        );
        crate::report::assert_golden("drift_report.txt", &report.render());
    }

    #[test]
    fn a_consistent_cluster_has_no_drift() {
        let e = Evidence {
            cluster: "c".into(),
            nodes: vec![node("cp-1", true), node("w-1", false)],
            machines: vec![machine("m1", Some("cp-1"), true), machine("m2", Some("w-1"), false)],
            vms: vec![vm("cp-1", true), vm("w-1", false)],
        };
        let report = classify(&e);
        assert!(report.is_clean());
        assert!(report.render().contains("No drift"));
    }
}
