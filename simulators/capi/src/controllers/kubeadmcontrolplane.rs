//! The KubeadmControlPlane controller: keeps `replicas` control-plane Machines, one change at a
//! time, and reports how many of their Nodes are Ready.
//!
//! Follows upstream Cluster API v1.2, `controlplane/kubeadm/internal/controllers`
//! (`Reconcile`, `reconcile`, `initializeControlPlane`, `scaleUpControlPlane`,
//! `scaleDownControlPlane`, `preflightChecks`, `selectMachineForScaleDown`, `adoptMachines`,
//! `updateStatus`):
//! * the KCP waits for the Cluster controller to own it, and is skipped while its Cluster has
//!   `spec.paused` or it carries the paused annotation; the status is updated on every other
//!   pass (upstream's deferred `updateStatus`);
//! * nothing is created before the Cluster's `status.infrastructureReady` and a valid
//!   `spec.controlPlaneEndpoint`;
//! * control-plane Machines of the Cluster (`cluster-name` label and the `control-plane` label)
//!   without a controller are **adopted**; while some are controlled by someone else the KCP
//!   refuses to act ("mixed management mode");
//! * the first Machine initializes the control plane; a further one is created only when every
//!   owned Machine has a Node and none is being deleted (`preflightChecks`); Machines are
//!   named `<kcp>-<5 chars>`, labelled with the template's labels plus `cluster-name`,
//!   `control-plane` and `control-plane-name`, carry `spec.version` = the KCP's version and the
//!   `kubeadm-cluster-configuration` annotation, and are controlled by the KCP; the
//!   infrastructure template is cloned under the Machine's name, owned (not controlled) by the
//!   KCP until the Machine controller takes it over;
//! * scale-down deletes one Machine at a time, once no other is being deleted and the rest are
//!   healthy: a Machine with the `delete-machine` annotation first, else the oldest
//!   (creationTimestamp, then name) in the failure domain with most Machines;
//! * status: `selector`, `replicas` (owned Machines, deleting ones too), `updatedReplicas`
//!   (Machines at the KCP's version), `readyReplicas`/`unavailableReplicas` (Ready control-plane
//!   Nodes of the workload cluster), `version` (lowest among Machines with a Ready Node),
//!   `initialized` and `ready` (set once, never cleared), conditions `Resized`,
//!   `MachinesCreated`, `MachinesSpecUpToDate`, `MachinesReady`, `Available` and a `Ready`
//!   summary, which the Cluster controller mirrors as `ControlPlaneReady`;
//! * remediation (`reconcileUnhealthyMachines`, run after adoption and before any scaling):
//!   first, a Machine the health check passes again (`HealthCheckSucceeded=True`) loses a
//!   leftover `OwnerRemediated=False` (unless it is being deleted). Then the oldest Machine
//!   marked by a MachineHealthCheck (`HealthCheckSucceeded=False` and `OwnerRemediated=False`)
//!   is deleted — at most one per pass, and only if: there are more than 1 Machines ("KCP can't
//!   remediate if current replicas are less or equal to 1"); at least `replicas` Machines (no
//!   remediation while scaling up); none is being deleted; removing its etcd member keeps
//!   quorum; and another Machine is healthy to take etcd leadership. A refusal leaves
//!   `OwnerRemediated=False` with upstream's reason (`WaitingForRemediation` or
//!   `RemediationFailed`) and message, and the pass goes on; a deletion sets
//!   `OwnerRemediated=False/RemediationInProgress` and ends the pass. Scale-up then creates the
//!   replacement (a new name, a new VM) once the deletion has finished. CAPI v1.2/v1.3 have no
//!   exceptions to these rules (the v1.4+ retry and in-rollout exceptions are not modelled).
//!
//! Stand-ins: there is no kubeadm on the simulated nodes, so the control plane counts as
//! initialized (upstream: the `kube-system/kubeadm-config` ConfigMap exists) once that ConfigMap
//! exists or a control-plane Node is Ready; a Machine's control-plane components count as
//! healthy when its Node is (upstream reads the static pods and etcd members). As in
//! machineset.rs, a Machine gets `bootstrap.dataSecretName` = its own name instead of a
//! KubeadmConfig. The etcd members of the quorum check are the workload cluster's
//! control-plane Nodes (stacked etcd: one member per control-plane Node, named after it); a
//! member is healthy when a Machine has it as nodeRef and that Machine's Node is healthy (for
//! `EtcdMemberHealthy`), and a member without a Machine counts as unhealthy, as upstream
//! assumes. Not modelled: rollouts of outdated Machines (reported, not acted on), etcd
//! membership changes (leadership forwarding, member removal, `reconcileEtcdMembers`),
//! certificates, the kubeconfig Secret, KCP deletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use drdrill_apis::capi::conditions::{
    self, AVAILABLE, HEALTH_CHECK_SUCCEEDED, MACHINES_READY, MACHINES_SPEC_UP_TO_DATE, OWNER_REMEDIATED, READY, RESIZED,
};
use drdrill_apis::capi::{
    CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, Cluster, Condition, DELETE_MACHINE_ANNOTATION, KubeadmControlPlane,
    Machine,
};
use drdrill_kube_sim::clock::Clock;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::machineset::{api_resource, clone_template};
use super::{
    Context, ControllerError, NameGenerator, Reconciler, Report, WorkloadClusters, controller_of, ensure_owner_ref, false_condition,
    get_cluster, is_controlled_by, is_not_found, is_paused, key, run_every, selector_matches, selector_string, set_condition,
    true_condition,
};

/// The annotation holding the kubeadm ClusterConfiguration a Machine was created with.
pub const KUBEADM_CLUSTER_CONFIGURATION_ANNOTATION: &str = "controlplane.cluster.x-k8s.io/kubeadm-cluster-configuration";
/// `MachinesCreated`: the KCP could create the Machines it needs.
pub const MACHINES_CREATED: &str = "MachinesCreated";
/// `OwnerRemediated` reason: the remediation waits for a precondition.
pub const WAITING_FOR_REMEDIATION: &str = "WaitingForRemediation";
/// `OwnerRemediated` reason: the KCP deleted the Machine and waits for its replacement.
pub const REMEDIATION_IN_PROGRESS: &str = "RemediationInProgress";
/// `OwnerRemediated` reason: the remediation cannot proceed.
pub const REMEDIATION_FAILED: &str = "RemediationFailed";

/// Reconciles every KubeadmControlPlane of the management cluster.
pub struct KubeadmControlPlaneController {
    client: Client,
    workloads: Arc<dyn WorkloadClusters>,
    names: NameGenerator,
    clock: Arc<dyn Clock>,
}

/// `collections.ControlPlaneSelectorForCluster`: `cluster-name=<cluster>` and the
/// `control-plane` label present.
pub fn control_plane_selector(cluster: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(CLUSTER_NAME_LABEL.to_string(), cluster.to_string())])),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: CONTROL_PLANE_LABEL.into(),
            operator: "Exists".into(),
            values: None,
        }]),
    }
}

/// `Kind namespace/name` of a KCP, for errors.
fn object(kcp: &KubeadmControlPlane) -> String {
    format!("KubeadmControlPlane {}/{}", kcp.namespace().unwrap_or_default(), kcp.name_any())
}

/// Whether a Machine has a Node and that Node is healthy (stand-in for the control-plane
/// component and etcd checks of `preflightChecks`).
fn has_healthy_node(m: &Machine) -> bool {
    m.status
        .as_ref()
        .is_some_and(|s| s.node_ref.is_some() && conditions::find(&s.conditions, conditions::NODE_HEALTHY).is_some_and(Condition::is_true))
}

/// Whether `conditions` has `type_` with status False.
fn is_false(conds: &[Condition], type_: &str) -> bool {
    conditions::find(conds, type_).is_some_and(|c| c.status == "False")
}

/// `collections.HasUnhealthyCondition`: marked by a MachineHealthCheck and left to its owner.
fn has_unhealthy_condition(m: &Machine) -> bool {
    let conds = m.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    is_false(conds, HEALTH_CHECK_SUCCEEDED) && is_false(conds, OWNER_REMEDIATED)
}

/// Ordering of `SortedByCreationTimestamp` (ties by name, for determinism).
fn by_age(a: &&Machine, b: &&Machine) -> std::cmp::Ordering {
    let ta = a.meta().creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.meta().creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb).then_with(|| a.name_any().cmp(&b.name_any()))
}

/// The Node a Machine links to.
fn node_name(m: &Machine) -> Option<String> {
    m.status.as_ref()?.node_ref.as_ref()?.name.clone()
}

/// `canSafelyRemoveEtcdMember`: whether the etcd cluster of `members` keeps quorum without the
/// member on `victim`'s Node — every other member counts, and is unhealthy unless a Machine of
/// `machines` has it as its Node and that Node is healthy.
fn can_safely_remove_etcd_member(members: &[String], machines: &[Machine], victim: &Machine) -> bool {
    let victim_node = node_name(victim);
    let (mut total, mut unhealthy) = (0usize, 0usize);
    for member in members {
        if victim_node.as_deref() == Some(member.as_str()) {
            continue;
        }
        total += 1;
        let healthy = machines
            .iter()
            .find(|m| node_name(m).as_deref() == Some(member.as_str()))
            .is_some_and(has_healthy_node);
        if !healthy {
            unhealthy += 1;
        }
    }
    let quorum = total / 2 + 1;
    total - unhealthy >= quorum
}

/// A version as comparable numbers: `v1.24.10+vmware.1` → `[1, 24, 10]`.
fn version_key(v: &str) -> Vec<u64> {
    let core = v.trim_start_matches('v').split(['+', '-']).next().unwrap_or_default();
    core.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `Machines.Oldest` of the failure domain with most Machines (`MachineInFailureDomainWithMostMachines`).
fn select_for_scale_down(machines: &[Machine]) -> Option<&Machine> {
    let flagged: Vec<&Machine> = machines
        .iter()
        .filter(|m| m.annotations().contains_key(DELETE_MACHINE_ANNOTATION))
        .collect();
    let pool: Vec<&Machine> = if flagged.is_empty() { machines.iter().collect() } else { flagged };
    let mut by_domain: BTreeMap<Option<String>, Vec<&Machine>> = BTreeMap::new();
    for m in pool {
        by_domain.entry(m.spec.failure_domain.clone()).or_default().push(m);
    }
    // Ties between domains go to the first one in name order, deterministically.
    let most = by_domain.values().map(Vec::len).max()?;
    let domain = by_domain.into_values().find(|ms| ms.len() == most)?;
    domain.into_iter().min_by(|a, b| {
        let ta = a.meta().creation_timestamp.as_ref().map(|t| t.0);
        let tb = b.meta().creation_timestamp.as_ref().map(|t| t.0);
        ta.cmp(&tb).then_with(|| a.name_any().cmp(&b.name_any()))
    })
}

/// `conditions.SetSummary`: True when every present condition of `scope` is True, else the most
/// severe False one under type `Ready`; `None` when none is present.
fn summary(all: &[Condition], scope: &[&str]) -> Option<Condition> {
    let present: Vec<&Condition> = scope.iter().filter_map(|t| conditions::find(all, t)).collect();
    if present.is_empty() {
        return None;
    }
    let rank = |c: &Condition| match c.severity.as_deref() {
        Some("Error") => 0,
        Some("Warning") => 1,
        _ => 2,
    };
    Some(match present.iter().filter(|c| !c.is_true()).min_by_key(|c| rank(c)) {
        None => true_condition(READY),
        Some(c) => Condition {
            type_: READY.to_string(),
            last_transition_time: None,
            ..(*c).clone()
        },
    })
}

/// `conditions.SetAggregate` of the Machines' Ready conditions with the source named: True when
/// all are True, else the most severe not-True one with the Machine it came from; `None` when
/// there are no Machines.
fn machines_ready(machines: &[Machine]) -> Option<Condition> {
    if machines.is_empty() {
        return None;
    }
    let rank = |c: &Condition| match c.severity.as_deref() {
        Some("Error") => 0,
        Some("Warning") => 1,
        _ => 2,
    };
    let mut worst: Option<(Condition, String)> = None;
    for m in machines {
        let ready = m
            .status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, READY).cloned())
            .unwrap_or_else(|| Condition {
                type_: READY.into(),
                status: "Unknown".into(),
                ..Condition::default()
            });
        if ready.is_true() {
            continue;
        }
        if worst.as_ref().is_none_or(|(w, _)| rank(&ready) < rank(w)) {
            worst = Some((ready, m.name_any()));
        }
    }
    Some(match worst {
        None => true_condition(MACHINES_READY),
        Some((c, machine)) => {
            let detail = c.message.clone().or(c.reason.clone()).unwrap_or_else(|| "not ready".into());
            Condition {
                type_: MACHINES_READY.into(),
                message: Some(format!("Machine/{machine}: {detail}")),
                last_transition_time: None,
                ..c
            }
        }
    })
}

impl KubeadmControlPlaneController {
    /// A controller for the management cluster behind `client`, reading Nodes through
    /// `workloads`; Machine names come from `names`.
    pub fn new(client: Client, workloads: Arc<dyn WorkloadClusters>, names: NameGenerator, clock: Arc<dyn Clock>) -> Self {
        KubeadmControlPlaneController {
            client,
            workloads,
            names,
            clock,
        }
    }

    /// One pass over every KubeadmControlPlane.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let list = Api::<KubeadmControlPlane>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list KubeadmControlPlanes".into())?;
        let mut report = Report::default();
        for kcp in list {
            self.reconcile(&kcp, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "kubeadmcontrolplane", period).await;
    }

    async fn reconcile(&self, kcp: &KubeadmControlPlane, report: &mut Report) -> Result<(), ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        // `util.GetOwnerCluster`: wait for the Cluster controller to set the ownerReference.
        let Some(owner) = kcp.owner_references().iter().find(|r| r.kind == "Cluster").cloned() else {
            return Ok(());
        };
        let cluster = get_cluster(&self.client, &ns, &owner.name).await?;
        if is_paused(cluster.as_ref(), kcp.meta()) {
            report.paused.push(key("KubeadmControlPlane", kcp));
            return Ok(());
        }
        let Some(cluster) = cluster else { return Ok(()) };
        let selector = control_plane_selector(&cluster.name_any());
        let machines_api: Api<Machine> = Api::namespaced(self.client.clone(), &ns);
        let all: Vec<Machine> = machines_api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list Machines in {ns}"))?
            .items
            .into_iter()
            .filter(|m| selector_matches(&selector, m.labels()))
            .collect();
        let uid = kcp.uid().unwrap_or_default();
        let mut owned: Vec<Machine> = all.iter().filter(|m| is_controlled_by(m.meta(), &uid)).cloned().collect();
        if kcp.meta().deletion_timestamp.is_none() {
            self.reconcile_machines(kcp, &cluster, &all, &mut owned, &machines_api, report)
                .await?;
        }
        self.update_status(kcp, &cluster, &selector, &owned, report).await
    }

    /// `reconcile`: adoption, then one scaling step.
    async fn reconcile_machines(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        all: &[Machine],
        owned: &mut Vec<Machine>,
        machines_api: &Api<Machine>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        let infra_ready = cluster.status.as_ref().is_some_and(|s| s.infrastructure_ready);
        let endpoint_valid = cluster
            .spec
            .control_plane_endpoint
            .as_ref()
            .is_some_and(|e| !e.host.is_empty() && e.port != 0);
        if !infra_ready || !endpoint_valid {
            return Ok(());
        }
        let adoptable: Vec<&Machine> = all
            .iter()
            .filter(|m| controller_of(m.meta()).is_none() && m.meta().deletion_timestamp.is_none())
            .collect();
        if !adoptable.is_empty() {
            let owner = kcp.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
                object: object(kcp),
                message: "no uid".into(),
            })?;
            for m in adoptable {
                let patch = json!({"metadata": {
                    "ownerReferences": ensure_owner_ref(m.meta(), owner.clone()),
                    "labels": {CONTROL_PLANE_NAME_LABEL: kcp.name_any()},
                }});
                match machines_api
                    .patch(&m.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(adopted) => {
                        report.adopted.push(key("Machine", m));
                        owned.push(adopted);
                    }
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e).ctx(|| format!("adopt Machine {ns}/{}", m.name_any())),
                }
            }
            // Upstream requeues after adopting and acts on the next pass.
            return Ok(());
        }
        if owned.len() != all.len() {
            tracing::info!(kcp = %kcp.name_any(), "not all control plane machines are owned by this KubeadmControlPlane, refusing to operate in mixed management mode");
            return Ok(());
        }
        if self.reconcile_unhealthy_machines(kcp, cluster, owned, machines_api, report).await? {
            return Ok(());
        }
        if owned.iter().any(|m| m.meta().deletion_timestamp.is_some()) {
            // `preflightChecks`: wait for the deletion in progress.
            return Ok(());
        }
        let desired = kcp.spec.replicas.unwrap_or(1).max(0) as usize;
        if owned.len() < desired {
            if !owned.iter().all(has_healthy_node) {
                return Ok(());
            }
            let m = self.create_machine(kcp, cluster, machines_api).await?;
            report.created.push(key("Machine", &m));
            owned.push(m);
        } else if owned.len() > desired {
            let Some(victim) = select_for_scale_down(owned).cloned() else {
                return Ok(());
            };
            if !owned.iter().filter(|m| m.name_any() != victim.name_any()).all(has_healthy_node) {
                return Ok(());
            }
            match machines_api.delete(&victim.name_any(), &DeleteParams::default()).await {
                Ok(either) => {
                    report.deleted.push(key("Machine", &victim));
                    if let Some(m) = either.left()
                        && let Some(slot) = owned.iter_mut().find(|o| o.name_any() == m.name_any())
                    {
                        *slot = m;
                    }
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e).ctx(|| format!("delete Machine {ns}/{}", victim.name_any())),
            }
        }
        Ok(())
    }

    /// `reconcileUnhealthyMachines`; returns whether the pass must end here (a Machine was
    /// deleted, or the workload cluster cannot be reached to check etcd quorum).
    async fn reconcile_unhealthy_machines(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        owned: &mut [Machine],
        machines_api: &Api<Machine>,
        report: &mut Report,
    ) -> Result<bool, ControllerError> {
        let clock = self.clock.as_ref();
        // Clean up a remediation that did not happen, on a Machine that is healthy again.
        for m in owned.iter_mut() {
            let conds = m.status.clone().unwrap_or_default().conditions;
            let healthy_again = conditions::find(&conds, HEALTH_CHECK_SUCCEEDED).is_some_and(Condition::is_true);
            if healthy_again && is_false(&conds, OWNER_REMEDIATED) && m.meta().deletion_timestamp.is_none() {
                let kept: Vec<Condition> = conds.into_iter().filter(|c| c.type_ != OWNER_REMEDIATED).collect();
                self.patch_conditions(machines_api, m, kept, report).await?;
            }
        }
        let Some(victim) = owned.iter().filter(|m| has_unhealthy_condition(m)).min_by(by_age).cloned() else {
            return Ok(false);
        };
        if victim.meta().deletion_timestamp.is_some() {
            return Ok(false);
        }
        let desired = kcp.spec.replicas.unwrap_or(1);
        let mut conds = victim.status.clone().unwrap_or_default().conditions;
        let refusal = if owned.len() <= 1 {
            Some((
                WAITING_FOR_REMEDIATION,
                "KCP can't remediate if current replicas are less or equal to 1".to_string(),
            ))
        } else if (owned.len() as i64) < i64::from(desired) {
            Some((
                WAITING_FOR_REMEDIATION,
                format!("KCP waiting for having at least {desired} control plane machines before triggering remediation"),
            ))
        } else if owned.iter().any(|m| m.meta().deletion_timestamp.is_some()) {
            Some((
                WAITING_FOR_REMEDIATION,
                "KCP waiting for control plane machine deletion to complete before triggering remediation".to_string(),
            ))
        } else {
            let Some((nodes, _)) = self.workload_status(cluster).await else {
                // Upstream fails the reconcile when it cannot read the etcd members.
                return Ok(true);
            };
            let members: Vec<String> = nodes.into_keys().collect();
            if !can_safely_remove_etcd_member(&members, owned, &victim) {
                Some((
                    WAITING_FOR_REMEDIATION,
                    "KCP can't remediate this machine because this could result in etcd loosing quorum".to_string(),
                ))
            } else if !owned.iter().any(|m| !has_unhealthy_condition(m)) {
                Some((
                    REMEDIATION_FAILED,
                    "A control plane machine needs remediation, but there is no healthy machine to forward etcd leadership to. Skipping remediation"
                        .to_string(),
                ))
            } else {
                None
            }
        };
        if let Some((reason, message)) = refusal {
            tracing::info!(kcp = %kcp.name_any(), machine = %victim.name_any(), %message, "not remediating");
            set_condition(&mut conds, false_condition(OWNER_REMEDIATED, reason, "Warning", &message), clock);
            if let Some(slot) = owned.iter_mut().find(|m| m.name_any() == victim.name_any()) {
                self.patch_conditions(machines_api, slot, conds, report).await?;
            }
            return Ok(false);
        }
        let ns = kcp.namespace().unwrap_or_default();
        match machines_api.delete(&victim.name_any(), &DeleteParams::default()).await {
            Ok(either) => {
                report.deleted.push(key("Machine", &victim));
                if let Some(m) = either.left()
                    && let Some(slot) = owned.iter_mut().find(|o| o.name_any() == m.name_any())
                {
                    *slot = m;
                }
            }
            Err(e) if is_not_found(&e) => return Ok(true),
            Err(e) => return Err(e).ctx(|| format!("delete unhealthy Machine {ns}/{}", victim.name_any())),
        }
        set_condition(
            &mut conds,
            false_condition(OWNER_REMEDIATED, REMEDIATION_IN_PROGRESS, "Warning", ""),
            clock,
        );
        if let Some(slot) = owned.iter_mut().find(|m| m.name_any() == victim.name_any()) {
            self.patch_conditions(machines_api, slot, conds, report).await?;
        }
        Ok(true)
    }

    /// Writes a Machine's conditions when they changed, updating `m` in place (a Machine gone
    /// meanwhile is left alone).
    async fn patch_conditions(
        &self,
        machines_api: &Api<Machine>,
        m: &mut Machine,
        conds: Vec<Condition>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        if m.status.as_ref().map(|s| &s.conditions) == Some(&conds) {
            return Ok(());
        }
        let patch = Patch::Merge(json!({"status": {"conditions": conds}}));
        match machines_api.patch_status(&m.name_any(), &PatchParams::default(), &patch).await {
            Ok(updated) => {
                report.updated.push(key("Machine", m));
                *m = updated;
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e).ctx(|| {
                format!(
                    "update conditions of Machine {}/{}",
                    m.namespace().unwrap_or_default(),
                    m.name_any()
                )
            }),
        }
    }

    /// `cloneConfigsAndGenerateMachine`.
    async fn create_machine(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        machines: &Api<Machine>,
    ) -> Result<Machine, ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        let name = self.names.generate(&format!("{}-", kcp.name_any()));
        let template = &kcp.spec.machine_template;
        let meta = template.metadata.clone().unwrap_or_default();
        let mut labels = meta.labels.clone();
        labels.insert(CLUSTER_NAME_LABEL.into(), cluster.name_any());
        labels.insert(CONTROL_PLANE_LABEL.into(), String::new());
        labels.insert(CONTROL_PLANE_NAME_LABEL.into(), kcp.name_any());
        let mut clone_owner: OwnerReference = kcp.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
            object: object(kcp),
            message: "no uid".into(),
        })?;
        let machine_owner = clone_owner.clone();
        clone_owner.controller = None;
        clone_owner.block_owner_deletion = None;
        let infra_ref = clone_template(
            &self.client,
            &object(kcp),
            &template.infrastructure_ref,
            &ns,
            &name,
            &labels,
            &meta.annotations,
            &clone_owner,
        )
        .await?;
        let mut annotations = meta.annotations.clone();
        if let Some(cc) = &kcp.spec.kubeadm_config_spec.cluster_configuration {
            let text = serde_json::to_string(cc).ctx(|| format!("serialize ClusterConfiguration of {}", object(kcp)))?;
            annotations.insert(KUBEADM_CLUSTER_CONFIGURATION_ANNOTATION.into(), text);
        }
        let mut machine = Machine::new(&name, Default::default());
        machine.spec.cluster_name = cluster.name_any();
        machine.spec.version = Some(kcp.spec.version.clone());
        machine.spec.infrastructure_ref = infra_ref.clone();
        machine.spec.bootstrap.data_secret_name = Some(name.clone());
        machine.spec.node_drain_timeout = template.node_drain_timeout.clone();
        machine.spec.node_volume_detach_timeout = template.node_volume_detach_timeout.clone();
        machine.spec.node_deletion_timeout = template.node_deletion_timeout.clone();
        machine.metadata.namespace = Some(ns.clone());
        machine.metadata.labels = Some(labels);
        machine.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
        machine.metadata.owner_references = Some(vec![machine_owner]);
        match machines.create(&PostParams::default(), &machine).await {
            Ok(m) => Ok(m),
            Err(e) => {
                // Upstream cleans up the clone when the Machine cannot be created.
                let ar = api_resource(
                    infra_ref.api_version.as_deref().unwrap_or_default(),
                    infra_ref.kind.as_deref().unwrap_or_default(),
                );
                let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &ar);
                let _ = api.delete(&name, &DeleteParams::default()).await;
                Err(e).ctx(|| format!("create Machine {ns}/{name}"))
            }
        }
    }

    /// The workload cluster's control-plane Nodes by name, and whether `kubeadm-config` exists;
    /// `None` when the workload cluster cannot be reached.
    async fn workload_status(&self, cluster: &Cluster) -> Option<(BTreeMap<String, bool>, bool)> {
        let client = self
            .workloads
            .client(&cluster.namespace().unwrap_or_default(), &cluster.name_any())?;
        let nodes = match Api::<Node>::all(client.clone()).list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(e) => {
                tracing::info!(cluster = %cluster.name_any(), error = %e, "workload cluster unreachable");
                return None;
            }
        };
        let cp_nodes = nodes
            .into_iter()
            .filter(|n| {
                n.labels().contains_key("node-role.kubernetes.io/control-plane")
                    || n.labels().contains_key("node-role.kubernetes.io/master")
            })
            .map(|n| {
                let ready = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                (n.name_any(), ready)
            })
            .collect();
        let kubeadm_config = Api::<ConfigMap>::namespaced(client, "kube-system")
            .get_opt("kubeadm-config")
            .await
            .ok()
            .flatten()
            .is_some();
        Some((cp_nodes, kubeadm_config))
    }

    /// `updateStatus` and the conditions `patchKubeadmControlPlane` summarizes.
    async fn update_status(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        selector: &LabelSelector,
        owned: &[Machine],
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let clock = self.clock.as_ref();
        let mut status = kcp.status.clone().unwrap_or_default();
        let old = status.clone();
        let replicas = owned.len() as i32;
        let desired = kcp.spec.replicas.unwrap_or(1);
        status.selector = Some(selector_string(selector));
        status.replicas = replicas;
        status.updated_replicas = owned
            .iter()
            .filter(|m| m.spec.version.as_deref() == Some(kcp.spec.version.as_str()))
            .count() as i32;
        status.ready_replicas = 0;
        status.unavailable_replicas = replicas;
        status.observed_generation = kcp.metadata.generation;
        if kcp.meta().deletion_timestamp.is_none() {
            let outdated = replicas - status.updated_replicas;
            let up_to_date = if outdated == 0 {
                true_condition(MACHINES_SPEC_UP_TO_DATE)
            } else {
                let msg = format!(
                    "Rolling {outdated} replicas with outdated spec ({} replicas up to date)",
                    status.updated_replicas
                );
                false_condition(MACHINES_SPEC_UP_TO_DATE, "RollingUpdateInProgress", "Warning", &msg)
            };
            set_condition(&mut status.conditions, up_to_date, clock);
            if replicas < desired {
                let msg = format!("Scaling up control plane to {desired} replicas (actual {replicas})");
                set_condition(
                    &mut status.conditions,
                    false_condition(RESIZED, "ScalingUp", "Warning", &msg),
                    clock,
                );
            } else {
                if replicas > desired {
                    let msg = format!("Scaling down control plane to {desired} replicas (actual {replicas})");
                    set_condition(
                        &mut status.conditions,
                        false_condition(RESIZED, "ScalingDown", "Warning", &msg),
                        clock,
                    );
                } else if owned.iter().all(has_healthy_node) {
                    set_condition(&mut status.conditions, true_condition(RESIZED), clock);
                }
                set_condition(&mut status.conditions, true_condition(MACHINES_CREATED), clock);
            }
            if let Some(cond) = machines_ready(owned) {
                set_condition(&mut status.conditions, cond, clock);
            }
            if let Some((nodes, kubeadm_config)) = self.workload_status(cluster).await {
                let ready_nodes = nodes.values().filter(|r| **r).count() as i32;
                status.ready_replicas = ready_nodes;
                status.unavailable_replicas = replicas - ready_nodes;
                if kubeadm_config || ready_nodes > 0 {
                    status.initialized = true;
                }
                if ready_nodes > 0 {
                    status.ready = true;
                }
                let lowest = owned
                    .iter()
                    .filter(|m| {
                        let node = m.status.as_ref().and_then(|s| s.node_ref.as_ref()).and_then(|r| r.name.clone());
                        node.is_some_and(|n| nodes.get(&n) == Some(&true))
                    })
                    .filter_map(|m| m.spec.version.clone())
                    .min_by_key(|v| version_key(v));
                if lowest.is_some() {
                    status.version = lowest;
                }
            }
            let available = if status.initialized {
                true_condition(AVAILABLE)
            } else {
                false_condition(AVAILABLE, "WaitingForKubeadmInit", "Info", "")
            };
            set_condition(&mut status.conditions, available, clock);
            let scope = [MACHINES_CREATED, MACHINES_SPEC_UP_TO_DATE, RESIZED, MACHINES_READY, AVAILABLE];
            if let Some(ready) = summary(&status.conditions, &scope) {
                set_condition(&mut status.conditions, ready, clock);
            }
        }
        if status == old {
            return Ok(());
        }
        Api::<KubeadmControlPlane>::namespaced(self.client.clone(), &kcp.namespace().unwrap_or_default())
            .patch_status(&kcp.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .ctx(|| format!("update status of {}", object(kcp)))?;
        report.updated.push(key("KubeadmControlPlane", kcp));
        Ok(())
    }
}

impl Reconciler for KubeadmControlPlaneController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        KubeadmControlPlaneController::reconcile_all(self).await
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn machine(name: &str, created: &str, domain: Option<&str>, flagged: bool) -> Machine {
        let mut m = Machine::new(name, Default::default());
        m.metadata.creation_timestamp = Some(Time(created.parse().expect("time")));
        m.spec.failure_domain = domain.map(str::to_string);
        if flagged {
            m.metadata.annotations = Some(BTreeMap::from([(DELETE_MACHINE_ANNOTATION.to_string(), String::new())]));
        }
        m
    }

    #[test]
    fn scale_down_picks_the_oldest_in_the_fullest_failure_domain() {
        let ms = vec![
            machine("cp-a", "2022-12-07T17:00:00Z", Some("fd1"), false),
            machine("cp-b", "2022-12-07T17:01:00Z", Some("fd2"), false),
            machine("cp-c", "2022-12-07T17:02:00Z", Some("fd2"), false),
        ];
        assert_eq!(select_for_scale_down(&ms).map(|m| m.name_any()).as_deref(), Some("cp-b"));
        let same = vec![
            machine("cp-y", "2022-12-07T17:00:00Z", None, false),
            machine("cp-x", "2022-12-07T17:00:00Z", None, false),
            machine("cp-w", "2022-12-07T17:05:00Z", None, false),
        ];
        assert_eq!(
            select_for_scale_down(&same).map(|m| m.name_any()).as_deref(),
            Some("cp-x"),
            "ties by name"
        );
        let mut flagged = same.clone();
        flagged[2] = machine("cp-w", "2022-12-07T17:05:00Z", None, true);
        assert_eq!(select_for_scale_down(&flagged).map(|m| m.name_any()).as_deref(), Some("cp-w"));
    }

    /// A control-plane Machine linked to Node `node` (healthy or not), with MHC marks.
    fn cp(name: &str, node: Option<&str>, healthy: bool, marked: bool) -> Machine {
        let mut m = machine(name, "2022-12-07T17:00:00Z", None, false);
        let mut status = drdrill_apis::capi::MachineStatus {
            node_ref: node.map(|n| k8s_openapi::api::core::v1::ObjectReference {
                name: Some(n.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let node_healthy = if healthy {
            true_condition(conditions::NODE_HEALTHY)
        } else {
            false_condition(conditions::NODE_HEALTHY, "NodeConditionsFailed", "Warning", "")
        };
        status.conditions.push(node_healthy);
        if marked {
            status.conditions.push(false_condition(
                HEALTH_CHECK_SUCCEEDED,
                "MachineHasFailure",
                "Warning",
                "FailureReason: UpdateError",
            ));
            status
                .conditions
                .push(false_condition(OWNER_REMEDIATED, WAITING_FOR_REMEDIATION, "Warning", ""));
        }
        m.status = Some(status);
        m
    }

    #[test]
    fn etcd_quorum_is_projected_without_the_remediated_member() {
        let members = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let stale = cp("cp-x", None, false, true);
        assert!(has_unhealthy_condition(&stale));
        let a = cp("cp-a", Some("cp-a"), true, false);
        let b = cp("cp-b", Some("cp-b"), true, false);
        let down = cp("cp-b", Some("cp-b"), false, false);
        assert!(!has_unhealthy_condition(&a));
        // Two healthy members and a ghost member without a Machine: 2 of 3 keep quorum.
        let machines = vec![stale.clone(), a.clone(), b.clone()];
        assert!(can_safely_remove_etcd_member(
            &members(&["cp-a", "cp-b", "ghost"]),
            &machines,
            &stale
        ));
        // One healthy of two: no quorum.
        let machines = vec![stale.clone(), a.clone(), down];
        assert!(!can_safely_remove_etcd_member(&members(&["cp-a", "cp-b"]), &machines, &stale));
        // The victim's own member does not count.
        let victim = cp("cp-c", Some("cp-c"), false, true);
        let machines = vec![victim.clone(), a, b];
        assert!(can_safely_remove_etcd_member(
            &members(&["cp-a", "cp-b", "cp-c"]),
            &machines,
            &victim
        ));
        assert!(!can_safely_remove_etcd_member(&[], &machines, &victim), "no members, no quorum");
    }

    #[test]
    fn selector_prints_like_upstream_and_versions_compare_numerically() {
        assert_eq!(
            selector_string(&control_plane_selector("wc")),
            "cluster.x-k8s.io/cluster-name=wc,cluster.x-k8s.io/control-plane"
        );
        assert!(version_key("v1.24.9+vmware.1") < version_key("v1.24.10+vmware.1"));
    }
}
