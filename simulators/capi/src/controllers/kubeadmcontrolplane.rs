//! The KubeadmControlPlane controller: keeps `replicas` control-plane Machines, one change at a
//! time, and reports how many of their Nodes are Ready.
//!
//! Follows upstream Cluster API v1.2, `controlplane/kubeadm/internal/controllers`
//! (`Reconcile`, `reconcile`, `initializeControlPlane`, `scaleUpControlPlane`,
//! `scaleDownControlPlane`, `upgradeControlPlane`, `preflightChecks`, `selectMachineForScaleDown`,
//! `MachinesNeedingRollout`, `adoptMachines`, `updateStatus`):
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
//! * rolling upgrade (after remediation, before scaling, which it takes precedence over): a
//!   Machine not being deleted needs a rollout when its `spec.version` is not the KCP's, when
//!   its infrastructure machine's `cloned-from` annotations name another template than
//!   `machineTemplate.infrastructureRef` (a missing object or missing annotations match), or
//!   when it was created before an expired `spec.rolloutAfter`. While any does,
//!   `MachinesSpecUpToDate` is False/`RollingUpdateInProgress` ("Rolling N replicas with outdated
//!   spec (M replicas up to date)") and each pass makes one change of the `RollingUpdate`
//!   strategy: with fewer Machines (deleting ones included) than `replicas + maxSurge` it scales
//!   up one Machine at the current spec (a new name, a fresh infrastructure clone and so a new
//!   VM), else it scales down one — an outdated Machine with the `delete-machine` annotation,
//!   else any annotated one, else the oldest outdated one in the fullest failure domain — both
//!   behind the same preflight checks as scaling. `maxSurge` defaults to 1 (surge first); 0
//!   deletes first. `MachinesSpecUpToDate` turns True once nothing needs a rollout (it is only
//!   set once a rollout happened, as upstream). A strategy upstream's webhook rejects (a type
//!   other than `RollingUpdate`, `maxSurge` other than the integer 0 or 1, or 0 with fewer than 3
//!   replicas) fails a pass that needs a rollout, and a malformed `rolloutAfter` every pass;
//! * status: `selector`, `replicas` (owned Machines, deleting ones too), `updatedReplicas`
//!   (`UpToDateMachines`: Machines not needing a rollout, deleting ones counted as upstream
//!   does), `readyReplicas`/`unavailableReplicas` (Ready control-plane
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
//! assumes. The rollout compares the version, the infrastructure template and `rolloutAfter`;
//! without KubeadmConfigs it does not compare bootstrap configurations (`MatchesKubeadmBootstrapConfig`)
//! and, with no kubeadm, skips the `kubeadm-config` ConfigMap and kubelet RBAC updates of
//! `upgradeControlPlane`. Not modelled: etcd membership changes (leadership forwarding, member
//! removal, `reconcileEtcdMembers`), `rolloutBefore` (certificates), the kubeconfig Secret,
//! KCP deletion.

use std::collections::{BTreeMap, BTreeSet};
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
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::machineset::{CLONED_FROM_GROUPKIND_ANNOTATION, CLONED_FROM_NAME_ANNOTATION, api_resource, clone_template};
use super::{
    Context, ControllerError, NameGenerator, PassClusters, Reconciler, Report, WorkloadClusters, controller_of, ensure_owner_ref,
    false_condition, is_controlled_by, is_not_found, is_paused, key, run_every, selector_matches, selector_string, set_condition,
    true_condition,
};

/// The annotation holding the kubeadm ClusterConfiguration a Machine was created with.
pub const KUBEADM_CLUSTER_CONFIGURATION_ANNOTATION: &str = "controlplane.cluster.x-k8s.io/kubeadm-cluster-configuration";
/// `MachinesSpecUpToDate` reason: Machines with an outdated spec are being replaced.
pub const ROLLING_UPDATE_IN_PROGRESS: &str = "RollingUpdateInProgress";
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

/// `selectMachineForScaleDown`: the candidates are, in this order of preference, the Machines
/// of `outdated` with the `delete-machine` annotation, any Machine with it, the `outdated`
/// ones, every Machine; of those, `Machines.Oldest` of the failure domain with most Machines
/// (`MachineInFailureDomainWithMostMachines`).
fn select_for_scale_down<'a>(machines: &'a [Machine], outdated: &BTreeSet<String>) -> Option<&'a Machine> {
    let flagged = |m: &&Machine| m.annotations().contains_key(DELETE_MACHINE_ANNOTATION);
    let is_outdated = |m: &&Machine| outdated.contains(&m.name_any());
    let flagged_outdated: Vec<&Machine> = machines.iter().filter(flagged).filter(is_outdated).collect();
    let flagged_any: Vec<&Machine> = machines.iter().filter(flagged).collect();
    let outdated_any: Vec<&Machine> = machines.iter().filter(is_outdated).collect();
    let pool = [flagged_outdated, flagged_any, outdated_any]
        .into_iter()
        .find(|p| !p.is_empty())
        .unwrap_or_else(|| machines.iter().collect());
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

/// `spec.rolloutStrategy.rollingUpdate.maxSurge`, 1 when unset (upstream's default). As the
/// upstream webhook enforces, the strategy type must be `RollingUpdate`, maxSurge the integer 0
/// or 1, and 0 (scale in first) needs at least 3 replicas.
fn max_surge(kcp: &KubeadmControlPlane) -> Result<usize, ControllerError> {
    let Some(strategy) = &kcp.spec.rollout_strategy else {
        return Ok(1);
    };
    if let Some(t) = strategy.type_.as_deref().filter(|t| *t != "RollingUpdate") {
        return Err(ControllerError::Invalid {
            object: object(kcp),
            message: format!("spec.rolloutStrategy.type {t:?} is not supported, only \"RollingUpdate\""),
        });
    }
    let surge = strategy.rolling_update.as_ref().and_then(|r| r.max_surge.as_ref());
    match surge {
        None | Some(IntOrString::Int(1)) => Ok(1),
        Some(IntOrString::Int(0)) if kcp.spec.replicas.unwrap_or(1) >= 3 => Ok(0),
        Some(IntOrString::Int(0)) => Err(ControllerError::Invalid {
            object: object(kcp),
            message: format!(
                "spec.rolloutStrategy.rollingUpdate.maxSurge 0 scales in first and needs at least 3 replicas, not {}",
                kcp.spec.replicas.unwrap_or(1)
            ),
        }),
        Some(other) => Err(ControllerError::Invalid {
            object: object(kcp),
            message: format!("spec.rolloutStrategy.rollingUpdate.maxSurge {other:?} must be 0 or 1"),
        }),
    }
}

/// The `cloned-from` annotations (template name, `Kind.group`) of the Machines' infrastructure
/// machines, read once per pass.
#[derive(Default)]
struct InfraOrigins {
    by_machine: BTreeMap<String, Option<(String, String)>>,
}

impl InfraOrigins {
    /// Where `m`'s infrastructure machine was cloned from; `None` when it does not exist or has
    /// no `cloned-from` annotations.
    async fn cloned_from(&mut self, client: &Client, m: &Machine) -> Result<Option<(String, String)>, ControllerError> {
        if let Some(known) = self.by_machine.get(&m.name_any()) {
            return Ok(known.clone());
        }
        let r = &m.spec.infrastructure_ref;
        let found = match (&r.api_version, &r.kind, &r.name) {
            (Some(api_version), Some(kind), Some(name)) => {
                let ns = r.namespace.clone().or_else(|| m.namespace()).unwrap_or_default();
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(api_version, kind));
                api.get_opt(name)
                    .await
                    .ctx(|| format!("get {kind} {ns}/{name} of Machine {}", m.name_any()))?
                    .and_then(|obj| {
                        let a = obj.annotations();
                        Some((
                            a.get(CLONED_FROM_NAME_ANNOTATION)?.clone(),
                            a.get(CLONED_FROM_GROUPKIND_ANNOTATION)?.clone(),
                        ))
                    })
            }
            _ => None,
        };
        self.by_machine.insert(m.name_any(), found.clone());
        Ok(found)
    }
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
        let clusters = PassClusters::new(&self.client);
        for kcp in list {
            self.reconcile(&kcp, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "kubeadmcontrolplane", period).await;
    }

    async fn reconcile(&self, kcp: &KubeadmControlPlane, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        // `util.GetOwnerCluster`: wait for the Cluster controller to set the ownerReference.
        let Some(owner) = kcp.owner_references().iter().find(|r| r.kind == "Cluster").cloned() else {
            return Ok(());
        };
        let cluster = clusters.get(&ns, &owner.name).await?;
        if is_paused(cluster.as_ref(), kcp.meta()) {
            report.paused.push(key("KubeadmControlPlane", kcp));
            return Ok(());
        }
        let Some(cluster) = cluster else { return Ok(()) };
        let selector = control_plane_selector(&cluster.name_any());
        let machines_api: Api<Machine> = Api::namespaced(self.client.clone(), &ns);
        let selected = ListParams::default().labels(&selector_string(&selector));
        let all: Vec<Machine> = machines_api
            .list(&selected)
            .await
            .ctx(|| format!("list control-plane Machines of Cluster {ns}/{}", cluster.name_any()))?
            .items
            .into_iter()
            // The server filtered already; this guards against a selector it read differently.
            .filter(|m| selector_matches(&selector, m.labels()))
            .collect();
        let uid = kcp.uid().unwrap_or_default();
        let mut owned: Vec<Machine> = all.iter().filter(|m| is_controlled_by(m.meta(), &uid)).cloned().collect();
        let mut origins = InfraOrigins::default();
        let mut checked = None;
        if kcp.meta().deletion_timestamp.is_none() {
            checked = self
                .reconcile_machines(kcp, &cluster, &all, &mut owned, &machines_api, &mut origins, report)
                .await?;
        }
        self.update_status(kcp, &cluster, &selector, &owned, checked, &mut origins, report)
            .await
    }

    /// `MachinesNeedingRollout`: the names of the Machines of `machines` that are not being
    /// deleted and either were created before an expired `spec.rolloutAfter`, or do not match
    /// the KCP's spec — `spec.version` differs from the KCP's, or the infrastructure machine was
    /// cloned from another template than `machineTemplate.infrastructureRef`
    /// (`MatchesTemplateClonedFrom`; an infrastructure machine that is missing or has no
    /// `cloned-from` annotations matches, as upstream).
    async fn machines_needing_rollout(
        &self,
        kcp: &KubeadmControlPlane,
        machines: &[Machine],
        origins: &mut InfraOrigins,
    ) -> Result<BTreeSet<String>, ControllerError> {
        let rollout_after = match kcp.spec.rollout_after.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<jiff::Timestamp>().map_err(|e| ControllerError::Invalid {
                object: object(kcp),
                message: format!("spec.rolloutAfter {text:?} is not an RFC 3339 time: {e}"),
            })?),
        };
        let now = self.clock.now();
        let tref = &kcp.spec.machine_template.infrastructure_ref;
        let group = tref.api_version.as_deref().and_then(|v| v.split_once('/')).map_or("", |(g, _)| g);
        let want_from = (
            tref.name.clone().unwrap_or_default(),
            format!("{}.{group}", tref.kind.as_deref().unwrap_or_default()),
        );
        let mut needing = BTreeSet::new();
        for m in machines {
            if m.meta().deletion_timestamp.is_some() {
                continue;
            }
            let created = m.meta().creation_timestamp.as_ref().map(|t| t.0);
            let scheduled = rollout_after.is_some_and(|after| now > after && created.is_some_and(|c| c < after));
            let outdated_version = m.spec.version.as_deref() != Some(kcp.spec.version.as_str());
            let outdated =
                scheduled || outdated_version || origins.cloned_from(&self.client, m).await?.is_some_and(|from| from != want_from);
            if outdated {
                needing.insert(m.name_any());
            }
        }
        Ok(needing)
    }

    /// `reconcile`: adoption, remediation, then one rollout or scaling step. Returns how many
    /// Machines needed a rollout, and of how many, when the pass got as far as checking (`None`
    /// when it ended earlier), for the `MachinesSpecUpToDate` condition.
    #[allow(clippy::too_many_arguments)]
    async fn reconcile_machines(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        all: &[Machine],
        owned: &mut Vec<Machine>,
        machines_api: &Api<Machine>,
        origins: &mut InfraOrigins,
        report: &mut Report,
    ) -> Result<Option<(usize, usize)>, ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        let infra_ready = cluster.status.as_ref().is_some_and(|s| s.infrastructure_ready);
        let endpoint_valid = cluster
            .spec
            .control_plane_endpoint
            .as_ref()
            .is_some_and(|e| !e.host.is_empty() && e.port != 0);
        if !infra_ready || !endpoint_valid {
            return Ok(None);
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
            return Ok(None);
        }
        if owned.len() != all.len() {
            tracing::info!(kcp = %kcp.name_any(), "not all control plane machines are owned by this KubeadmControlPlane, refusing to operate in mixed management mode");
            return Ok(None);
        }
        if self.reconcile_unhealthy_machines(kcp, cluster, owned, machines_api, report).await? {
            return Ok(None);
        }
        // A rollout of outdated Machines takes precedence over scaling.
        let needing = self.machines_needing_rollout(kcp, owned, origins).await?;
        let checked = Some((needing.len(), owned.len()));
        let desired = kcp.spec.replicas.unwrap_or(1).max(0) as usize;
        if !needing.is_empty() {
            tracing::info!(kcp = %kcp.name_any(), needing = ?needing, "rolling out control plane machines");
            // `upgradeControlPlane`, RollingUpdate: surge up to replicas + maxSurge, else remove
            // one outdated Machine.
            let max_nodes = desired + max_surge(kcp)?;
            if owned.len() < max_nodes {
                self.scale_up(kcp, cluster, owned, machines_api, report).await?;
            } else {
                self.scale_down(kcp, owned, &needing, machines_api, report).await?;
            }
            return Ok(checked);
        }
        if owned.len() < desired {
            self.scale_up(kcp, cluster, owned, machines_api, report).await?;
        } else if owned.len() > desired {
            self.scale_down(kcp, owned, &BTreeSet::new(), machines_api, report).await?;
        }
        Ok(checked)
    }

    /// `scaleUpControlPlane`: once `preflightChecks` pass (no Machine being deleted, every
    /// Machine healthy), one new Machine at the KCP's spec.
    async fn scale_up(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        owned: &mut Vec<Machine>,
        machines_api: &Api<Machine>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        if owned.iter().any(|m| m.meta().deletion_timestamp.is_some()) || !owned.iter().all(has_healthy_node) {
            return Ok(());
        }
        let m = self.create_machine(kcp, cluster, machines_api).await?;
        report.created.push(key("Machine", &m));
        owned.push(m);
        Ok(())
    }

    /// `scaleDownControlPlane`: picks one Machine (`selectMachineForScaleDown`, preferring
    /// `outdated` ones) and deletes it once `preflightChecks` pass for the others (no Machine
    /// being deleted, the rest healthy).
    async fn scale_down(
        &self,
        kcp: &KubeadmControlPlane,
        owned: &mut [Machine],
        outdated: &BTreeSet<String>,
        machines_api: &Api<Machine>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let ns = kcp.namespace().unwrap_or_default();
        let Some(victim) = select_for_scale_down(owned, outdated).cloned() else {
            return Ok(());
        };
        if owned.iter().any(|m| m.meta().deletion_timestamp.is_some()) {
            return Ok(());
        }
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

    /// `updateStatus` and the conditions `patchKubeadmControlPlane` summarizes; `checked` is
    /// how many Machines needed a rollout, of how many, when `reconcile_machines` looked (`None`:
    /// it did not).
    #[allow(clippy::too_many_arguments)]
    async fn update_status(
        &self,
        kcp: &KubeadmControlPlane,
        cluster: &Cluster,
        selector: &LabelSelector,
        owned: &[Machine],
        checked: Option<(usize, usize)>,
        origins: &mut InfraOrigins,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let clock = self.clock.as_ref();
        let mut status = kcp.status.clone().unwrap_or_default();
        let old = status.clone();
        let replicas = owned.len() as i32;
        let desired = kcp.spec.replicas.unwrap_or(1);
        status.selector = Some(selector_string(selector));
        status.replicas = replicas;
        // `UpToDateMachines`: every Machine not needing a rollout (deleting ones included).
        let needing = self.machines_needing_rollout(kcp, owned, origins).await?;
        status.updated_replicas = (owned.len() - needing.len()) as i32;
        status.ready_replicas = 0;
        status.unavailable_replicas = replicas;
        status.observed_generation = kcp.metadata.generation;
        if kcp.meta().deletion_timestamp.is_none() {
            // Set where `reconcile` checks for a rollout; marked True only once it exists, so a
            // KCP that never rolled out has no such condition, as upstream.
            match checked {
                Some((0, _)) if conditions::find(&status.conditions, MACHINES_SPEC_UP_TO_DATE).is_some() => {
                    set_condition(&mut status.conditions, true_condition(MACHINES_SPEC_UP_TO_DATE), clock);
                }
                Some((n, total)) if n > 0 => {
                    let msg = format!(
                        "Rolling {n} replicas with outdated spec ({} replicas up to date)",
                        total.saturating_sub(n)
                    );
                    let cond = false_condition(MACHINES_SPEC_UP_TO_DATE, ROLLING_UPDATE_IN_PROGRESS, "Warning", &msg);
                    set_condition(&mut status.conditions, cond, clock);
                }
                _ => {}
            }
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
        let none = BTreeSet::new();
        assert_eq!(select_for_scale_down(&ms, &none).map(|m| m.name_any()).as_deref(), Some("cp-b"));
        let same = vec![
            machine("cp-y", "2022-12-07T17:00:00Z", None, false),
            machine("cp-x", "2022-12-07T17:00:00Z", None, false),
            machine("cp-w", "2022-12-07T17:05:00Z", None, false),
        ];
        assert_eq!(
            select_for_scale_down(&same, &none).map(|m| m.name_any()).as_deref(),
            Some("cp-x"),
            "ties by name"
        );
        let mut flagged = same.clone();
        flagged[2] = machine("cp-w", "2022-12-07T17:05:00Z", None, true);
        assert_eq!(
            select_for_scale_down(&flagged, &none).map(|m| m.name_any()).as_deref(),
            Some("cp-w")
        );
    }

    #[test]
    fn rollouts_scale_down_outdated_machines_first_and_flagged_outdated_ones_before_those() {
        let names = |ns: &[&str]| ns.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let ms = vec![
            machine("cp-old-1", "2022-12-07T17:00:00Z", None, false),
            machine("cp-old-2", "2022-12-07T17:01:00Z", None, false),
            machine("cp-new", "2022-12-07T16:00:00Z", None, false),
        ];
        let pick = |ms: &[Machine], outdated: &BTreeSet<String>| select_for_scale_down(ms, outdated).map(|m| m.name_any());
        // cp-new is the oldest overall, but only outdated Machines are candidates.
        assert_eq!(pick(&ms, &names(&["cp-old-1", "cp-old-2"])).as_deref(), Some("cp-old-1"));
        assert_eq!(pick(&ms, &BTreeSet::new()).as_deref(), Some("cp-new"));
        let mut flagged = ms.clone();
        flagged[1] = machine("cp-old-2", "2022-12-07T17:01:00Z", None, true);
        flagged[2] = machine("cp-new", "2022-12-07T16:00:00Z", None, true);
        assert_eq!(
            pick(&flagged, &names(&["cp-old-1", "cp-old-2"])).as_deref(),
            Some("cp-old-2"),
            "a flagged outdated Machine first"
        );
        assert_eq!(
            pick(&flagged, &names(&["cp-old-1"])).as_deref(),
            Some("cp-new"),
            "then any flagged Machine, before unflagged outdated ones"
        );
    }

    #[test]
    fn max_surge_defaults_to_one_and_rejects_other_values() {
        let mut kcp = KubeadmControlPlane::new("cp", Default::default());
        kcp.metadata.namespace = Some("ns".into());
        assert_eq!(max_surge(&kcp).expect("default"), 1);
        let with = |surge: Option<IntOrString>, type_: Option<&str>| drdrill_apis::capi::kubeadmcontrolplane::RolloutStrategy {
            type_: type_.map(str::to_string),
            rolling_update: Some(drdrill_apis::capi::kubeadmcontrolplane::RollingUpdate { max_surge: surge }),
        };
        kcp.spec.rollout_strategy = Some(with(Some(IntOrString::Int(0)), Some("RollingUpdate")));
        let err = max_surge(&kcp).expect_err("0 with 1 replica").to_string();
        assert!(err.contains("needs at least 3 replicas, not 1"), "{err}");
        kcp.spec.replicas = Some(3);
        assert_eq!(max_surge(&kcp).expect("0"), 0);
        kcp.spec.rollout_strategy = Some(with(Some(IntOrString::Int(1)), None));
        assert_eq!(max_surge(&kcp).expect("1"), 1);
        kcp.spec.rollout_strategy = Some(with(Some(IntOrString::String("1".into())), None));
        assert!(max_surge(&kcp).is_err(), "the webhook takes integers only");
        kcp.spec.rollout_strategy = Some(with(None, None));
        assert_eq!(max_surge(&kcp).expect("unset"), 1);
        kcp.spec.rollout_strategy = Some(with(Some(IntOrString::Int(2)), None));
        let err = max_surge(&kcp).expect_err("2").to_string();
        assert!(
            err.starts_with("KubeadmControlPlane ns/cp: spec.rolloutStrategy.rollingUpdate.maxSurge"),
            "{err}"
        );
        kcp.spec.rollout_strategy = Some(with(Some(IntOrString::String("50%".into())), None));
        assert!(max_surge(&kcp).is_err());
        kcp.spec.rollout_strategy = Some(with(None, Some("OnDelete")));
        let err = max_surge(&kcp).expect_err("type").to_string();
        assert!(err.contains("spec.rolloutStrategy.type \"OnDelete\" is not supported"), "{err}");
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
