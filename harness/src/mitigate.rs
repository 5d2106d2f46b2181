//! Carrying out a drift report's mitigation plan the way the runbook says, in its order: make
//! the workload cluster's kubeconfig the kubectl context (`tanzu cluster kubeconfig get`,
//! `kubectl config use-context`), run each command (`tanzu cluster scale`, `kubectl drain`,
//! `kubectl delete node`), remove each VM "by hand" through the Site's inventory, then go back
//! to the management cluster's context. A dry run only lists what would be done.

use crate::drift::{DriftReport, Step};
use crate::kubectl::CommandOutput;
use crate::operator::{Operator, OperatorError};
use crate::world::{World, WorldError, admin_context};

/// Why the plan stopped.
#[derive(Debug, thiserror::Error)]
pub enum MitigationError {
    /// A command could not be run.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// A command ran and failed; the plan stops there (the runbook's steps depend on each other).
    #[error("step {number} `{command}` failed:\n{stderr}{stdout}")]
    Failed {
        /// 1-based step number in the plan.
        number: usize,
        /// The command.
        command: String,
        /// What it printed on stderr.
        stderr: String,
        /// What it printed on stdout.
        stdout: String,
    },
    /// The VM to remove does not exist.
    #[error("step {number}: cannot remove VM {vm}: {source}")]
    Vm {
        /// 1-based step number.
        number: usize,
        /// The VM.
        vm: String,
        /// The Site's answer.
        source: drdrill_capi_sim::SiteError,
    },
    /// The world failed.
    #[error(transparent)]
    World(#[from] WorldError),
}

/// One thing done (or, in a dry run, to be done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// What, as the runbook says it.
    pub action: String,
    /// What it printed (empty in a dry run or for waits and VM removals).
    pub output: String,
}

/// Carries out `report`'s plan for the cluster in `namespace` (or, with `dry_run`, only lists it).
pub async fn execute(
    world: &World,
    operator: &Operator,
    namespace: &str,
    report: &DriftReport,
    dry_run: bool,
) -> Result<Vec<Done>, MitigationError> {
    let cluster = &report.cluster;
    let management = admin_context(&world.topology.management);
    let mut actions: Vec<(String, Option<String>)> = vec![
        (format!("tanzu cluster kubeconfig get {cluster} --admin -n {namespace}"), None),
        (format!("kubectl config use-context {}", admin_context(cluster)), None),
    ];
    for finding in &report.findings {
        for step in &finding.mitigation {
            match step {
                Step::Wait(why) => actions.push((format!("no action: {why}"), None)),
                Step::Command(command) => actions.push((command.clone(), None)),
                Step::RemoveVm(vm) => actions.push((format!("remove VM {vm} by hand in vSphere"), Some(vm.clone()))),
            }
        }
    }
    actions.push((format!("kubectl config use-context {management}"), None));
    let mut done = Vec::new();
    if report.findings.is_empty() {
        return Ok(done);
    }
    for (i, (action, vm)) in actions.into_iter().enumerate() {
        let number = i + 1;
        if dry_run || action.starts_with("no action") {
            done.push(Done {
                action,
                output: String::new(),
            });
            continue;
        }
        if let Some(vm) = vm {
            world
                .site
                .delete_vm(&vm)
                .map_err(|source| MitigationError::Vm { number, vm, source })?;
            done.push(Done {
                action,
                output: String::new(),
            });
            continue;
        }
        let CommandOutput { success, stdout, stderr } = operator.run(world, &action).await?;
        if !success {
            return Err(MitigationError::Failed {
                number,
                command: action,
                stderr,
                stdout,
            });
        }
        done.push(Done { action, output: stdout });
    }
    if !dry_run {
        // The runbook deletes a ghost's Node before its VM is removed, so the kubelet, still
        // running, may register the Node again in between (a real kubelet does). Once the VM is
        // gone that Node stops heartbeating and the cloud provider's node lifecycle removes it
        // after the node monitor's grace period: give the world that time before anyone checks.
        let waited = world.run_for(SETTLE_AFTER_MITIGATION).await?;
        done.push(Done {
            action: format!(
                "wait {}s for the cloud provider to remove the Nodes of removed VMs",
                SETTLE_AFTER_MITIGATION.as_secs()
            ),
            output: format!("{} rounds; deleted: {}\n", waited.passes, waited.deleted.join(", ")),
        });
    }
    Ok(done)
}

/// How long the world runs after a mitigation plan, in simulated time: past the node monitor's
/// grace period (40 s) and the cloud node lifecycle's next look, with room to spare.
pub const SETTLE_AFTER_MITIGATION: std::time::Duration = std::time::Duration::from_secs(180);
