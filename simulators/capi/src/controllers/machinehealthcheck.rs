//! The MachineHealthCheck controller: marks the Machines whose Node is gone, never came up, or
//! has held an unhealthy condition too long, so that their owner replaces them.
//!
//! Follows upstream Cluster API v1.2, `internal/controllers/machinehealthcheck`:
//! * a MachineHealthCheck whose Cluster is missing or paused (or which carries the paused
//!   annotation) is left alone; otherwise it gets the `cluster.x-k8s.io/cluster-name` label
//!   and a (non-controller) ownerReference to its Cluster;
//! * targets are the Machines of its namespace matching `spec.selector` plus the cluster-name
//!   label, except those with the paused or `cluster.x-k8s.io/skip-remediation` annotation;
//! * a target is unhealthy (`needsRemediation`), in this order, when it has a failureReason or
//!   failureMessage (`MachineHasFailure`); when its `nodeRef` names a Node that no longer exists
//!   (`NodeNotFound`); — only once the Cluster's `ControlPlaneInitialized` and
//!   `InfrastructureReady` conditions are True — when it has no Node `nodeStartupTimeout`
//!   (default 10m, `0` disables) after the latest of its creation and those two conditions'
//!   lastTransitionTimes (`NodeStartupTimeout`); when a Node condition listed in
//!   `unhealthyConditions` has had that status for longer than its timeout, counted from the
//!   Node condition's lastTransitionTime (`UnhealthyNode`);
//! * a target is healthy only if it is not unhealthy, not about to be (a clock still running),
//!   not deleting and has a Node; so `expected - currentHealthy` counts pending ones too;
//! * `maxUnhealthy` (int or percent of expected, rounded down; default 100%) or
//!   `unhealthyRange` (`[min-max]`) gate remediation: when exceeded, `RemediationAllowed` is
//!   False/`TooManyUnhealthy`, `remediationsAllowed` 0 and the Machines only get their
//!   `HealthCheckSucceeded` condition; otherwise unhealthy Machines also get
//!   `OwnerRemediated=False/WaitingForRemediation` (unless a remediation is already under way:
//!   the condition is present and not True), which their owner acts on — a MachineSet by
//!   deleting them, a KubeadmControlPlane by its remediation rules (kubeadmcontrolplane.rs);
//! * a Machine with a failure (an infrastructure machine whose VM vanished: CAPV's
//!   `UpdateError`, copied by the Machine controller) is unhealthy at once, with the message
//!   `FailureReason: <reason>` — no Node or timeout is consulted;
//! * every time reads the injected [`Clock`]; comparisons are strict (`Before(now)`).
//!
//! Not simulated: external remediation templates (`spec.remediationTemplate` is ignored).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::capi::conditions::{
    self, CONTROL_PLANE_INITIALIZED, HEALTH_CHECK_SUCCEEDED, INFRASTRUCTURE_READY, OWNER_REMEDIATED, REMEDIATION_ALLOWED,
};
use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, Condition, Machine, MachineHealthCheck, PAUSED_ANNOTATION};
use drdrill_kube_sim::clock::Clock;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::{
    Context, ControllerError, PassClusters, Reconciler, Report, WorkloadClusters, ensure_owner_ref, false_condition, is_not_found,
    is_paused, key, run_every, selector_matches, selector_string, set_condition, true_condition,
};

/// Annotation that exempts a Machine from health checking.
pub const SKIP_REMEDIATION_ANNOTATION: &str = "cluster.x-k8s.io/skip-remediation";
/// Upstream's `DefaultNodeStartupTimeout`.
pub const DEFAULT_NODE_STARTUP_TIMEOUT: Duration = Duration::from_secs(600);

/// Reconciles every MachineHealthCheck of the management cluster.
pub struct MachineHealthCheckController {
    client: Client,
    workloads: Arc<dyn WorkloadClusters>,
    clock: Arc<dyn Clock>,
}

/// A target's verdict.
#[derive(Debug, Clone, PartialEq)]
enum Health {
    /// Needs remediation; the `HealthCheckSucceeded` condition says why.
    Unhealthy(Condition),
    /// Healthy now and not about to change.
    Healthy,
    /// Neither: a timeout is still running, or health cannot be judged yet.
    Undecided,
}

/// Parses a Go `time.Duration` string (`5m`, `1h30m`, `300s`, `1.5s`, `0`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(Duration::from_secs_f64(total))
}

/// Formats whole seconds as Go's `Duration.String()` does (`5m0s`, `1h0m0s`, `30s`).
pub fn go_duration_string(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `intstr.GetScaledValueFromIntOrPercent(value, total, false)`.
fn scaled_value(value: &IntOrString, total: i32) -> Option<i32> {
    match value {
        IntOrString::Int(i) => Some(*i),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((percent * i64::from(total) / 100) as i32)
        }
    }
}

/// Parses `[min-max]`.
fn unhealthy_range(text: &str) -> Option<(i32, i32)> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let (min, max) = inner.split_once('-')?;
    let (min, max): (u32, u32) = (min.parse().ok()?, max.parse().ok()?);
    (max >= min).then_some((min as i32, max as i32))
}

/// A condition's lastTransitionTime.
fn transition_time(c: &Condition) -> Option<Timestamp> {
    c.last_transition_time.as_deref()?.parse().ok()
}

impl MachineHealthCheckController {
    /// A controller for the management cluster behind `client`, reading Nodes through
    /// `workloads`, timing everything on `clock`.
    pub fn new(client: Client, workloads: Arc<dyn WorkloadClusters>, clock: Arc<dyn Clock>) -> Self {
        MachineHealthCheckController { client, workloads, clock }
    }

    /// One pass over every MachineHealthCheck.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let checks = Api::<MachineHealthCheck>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list MachineHealthChecks".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        for mhc in checks {
            self.reconcile(&mhc, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: Duration) {
        run_every(self, "machinehealthcheck", period).await;
    }

    async fn reconcile(&self, mhc: &MachineHealthCheck, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = mhc.namespace().unwrap_or_default();
        let cluster = clusters.get(&ns, &mhc.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), mhc.meta()) {
            report.paused.push(key("MachineHealthCheck", mhc));
            return Ok(());
        }
        let Some(cluster) = cluster else { return Ok(()) };
        let checks: Api<MachineHealthCheck> = Api::namespaced(self.client.clone(), &ns);
        self.reconcile_metadata(mhc, &cluster, &checks, report).await?;
        // Upstream fails the reconcile (and retries) while the workload cluster is unreachable.
        let Some(workload) = self.workloads.client(&ns, &cluster.name_any()) else {
            return Ok(());
        };
        let nodes: Api<Node> = Api::all(workload);

        let mut selector = mhc.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(CLUSTER_NAME_LABEL.into(), mhc.spec.cluster_name.clone());
        let machines_api: Api<Machine> = Api::namespaced(self.client.clone(), &ns);
        let selected = ListParams::default().labels(&selector_string(&selector));
        let mut targets: Vec<Machine> = machines_api
            .list(&selected)
            .await
            .ctx(|| format!("list Machines in {ns} selected by MachineHealthCheck {}", mhc.name_any()))?
            .items
            .into_iter()
            // The server filtered already; this guards against a selector it read differently.
            .filter(|m| selector_matches(&selector, m.labels()))
            .filter(|m| !m.annotations().contains_key(PAUSED_ANNOTATION) && !m.annotations().contains_key(SKIP_REMEDIATION_ANNOTATION))
            .collect();
        targets.sort_by_key(|m| m.name_any());

        let startup_timeout = match mhc.spec.node_startup_timeout.as_deref() {
            None => DEFAULT_NODE_STARTUP_TIMEOUT,
            Some(text) => parse_go_duration(text).ok_or_else(|| invalid(mhc, format!("invalid nodeStartupTimeout {text:?}")))?,
        };
        let mut verdicts = Vec::with_capacity(targets.len());
        for m in &targets {
            let node = match m.status.as_ref().and_then(|s| s.node_ref.as_ref()).and_then(|r| r.name.clone()) {
                None => Ok(None),
                Some(name) => match nodes.get_opt(&name).await {
                    Ok(Some(node)) => Ok(Some(node)),
                    Ok(None) => Err(()),
                    Err(e) => {
                        tracing::info!(cluster = %cluster.name_any(), error = %e, "workload cluster unreachable");
                        return Ok(());
                    }
                },
            };
            verdicts.push(self.health(mhc, &cluster, m, node, startup_timeout)?);
        }

        let mut status = mhc.status.clone().unwrap_or_default();
        let old = status.clone();
        status.expected_machines = targets.len() as i32;
        status.targets = targets.iter().map(|m| m.name_any()).collect();
        status.current_healthy = verdicts.iter().filter(|v| **v == Health::Healthy).count() as i32;
        let unhealthy = status.expected_machines - status.current_healthy;
        let (allowed, count, message) = match &mhc.spec.unhealthy_range {
            Some(range) => {
                let (min, max) = unhealthy_range(range).ok_or_else(|| invalid(mhc, format!("invalid unhealthyRange {range:?}")))?;
                let message = format!(
                    "Remediation is not allowed, the number of not started or unhealthy machines does not fall within the range (total: {}, unhealthy: {unhealthy}, unhealthyRange: {range})",
                    status.expected_machines
                );
                (unhealthy >= min && unhealthy <= max, max - unhealthy, message)
            }
            None => {
                let max_unhealthy = mhc.spec.max_unhealthy.clone().unwrap_or(IntOrString::String("100%".into()));
                let max = scaled_value(&max_unhealthy, status.expected_machines)
                    .ok_or_else(|| invalid(mhc, format!("invalid maxUnhealthy {max_unhealthy:?}")))?;
                let shown = match &max_unhealthy {
                    IntOrString::Int(i) => i.to_string(),
                    IntOrString::String(s) => s.clone(),
                };
                let message = format!(
                    "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: {}, unhealthy: {unhealthy}, maxUnhealthy: {shown})",
                    status.expected_machines
                );
                (unhealthy <= max, max - unhealthy, message)
            }
        };
        let clock = self.clock.as_ref();
        if allowed {
            status.remediations_allowed = count;
            set_condition(&mut status.conditions, true_condition(REMEDIATION_ALLOWED), clock);
        } else {
            status.remediations_allowed = 0;
            let cond = false_condition(REMEDIATION_ALLOWED, "TooManyUnhealthy", "Warning", &message);
            set_condition(&mut status.conditions, cond, clock);
        }

        for (m, verdict) in targets.iter().zip(&verdicts) {
            let mut conds = m.status.clone().unwrap_or_default().conditions;
            match verdict {
                Health::Healthy => {
                    set_condition(&mut conds, true_condition(HEALTH_CHECK_SUCCEEDED), clock);
                }
                Health::Unhealthy(cond) => {
                    set_condition(&mut conds, cond.clone(), clock);
                    let remediating = conditions::find(&conds, OWNER_REMEDIATED).is_some_and(|c| !c.is_true());
                    if allowed && !remediating {
                        let cond = false_condition(OWNER_REMEDIATED, "WaitingForRemediation", "Warning", "");
                        set_condition(&mut conds, cond, clock);
                    }
                }
                Health::Undecided => {}
            }
            if conds == m.status.clone().unwrap_or_default().conditions {
                continue;
            }
            let patch = Patch::Merge(json!({"status": {"conditions": conds}}));
            match machines_api.patch_status(&m.name_any(), &PatchParams::default(), &patch).await {
                Ok(_) => report.updated.push(key("Machine", m)),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e).ctx(|| format!("mark Machine {ns}/{}", m.name_any())),
            }
        }

        status.observed_generation = mhc.metadata.generation;
        if status != old {
            checks
                .patch_status(&mhc.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
                .await
                .ctx(|| format!("update status of MachineHealthCheck {ns}/{}", mhc.name_any()))?;
            report.updated.push(key("MachineHealthCheck", mhc));
        }
        Ok(())
    }

    /// The cluster-name label and the Cluster ownerReference.
    async fn reconcile_metadata(
        &self,
        mhc: &MachineHealthCheck,
        cluster: &Cluster,
        checks: &Api<MachineHealthCheck>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let owner = OwnerReference {
            api_version: "cluster.x-k8s.io/v1beta1".into(),
            kind: "Cluster".into(),
            name: cluster.name_any(),
            uid: cluster.uid().unwrap_or_default(),
            ..OwnerReference::default()
        };
        let owned = mhc.owner_references().iter().any(|r| r.uid == owner.uid && r.kind == "Cluster");
        let labelled = mhc.labels().get(CLUSTER_NAME_LABEL) == Some(&mhc.spec.cluster_name);
        if owned && labelled {
            return Ok(());
        }
        let patch = json!({"metadata": {
            "labels": {CLUSTER_NAME_LABEL: mhc.spec.cluster_name},
            "ownerReferences": ensure_owner_ref(mhc.meta(), owner),
        }});
        checks
            .patch(&mhc.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await
            .ctx(|| format!("label MachineHealthCheck {}", mhc.name_any()))?;
        report.updated.push(key("MachineHealthCheck", mhc));
        Ok(())
    }

    /// `needsRemediation` and the healthy test of `healthCheckTargets`; `node` is `Err` when the
    /// Machine's nodeRef names a Node that is gone.
    fn health(
        &self,
        mhc: &MachineHealthCheck,
        cluster: &Cluster,
        m: &Machine,
        node: Result<Option<Node>, ()>,
        startup_timeout: Duration,
    ) -> Result<Health, ControllerError> {
        let unhealthy =
            |reason: &str, message: String| Health::Unhealthy(false_condition(HEALTH_CHECK_SUCCEEDED, reason, "Warning", &message));
        let status = m.status.clone().unwrap_or_default();
        if let Some(reason) = &status.failure_reason {
            return Ok(unhealthy("MachineHasFailure", format!("FailureReason: {reason}")));
        }
        if let Some(message) = &status.failure_message {
            return Ok(unhealthy("MachineHasFailure", format!("FailureMessage: {message}")));
        }
        let Ok(node) = node else {
            return Ok(unhealthy("NodeNotFound", String::new()));
        };
        let cluster_conditions = cluster.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let initialized = conditions::find(cluster_conditions, CONTROL_PLANE_INITIALIZED).filter(|c| c.is_true());
        let infra_ready = conditions::find(cluster_conditions, INFRASTRUCTURE_READY).filter(|c| c.is_true());
        let (Some(initialized), Some(infra_ready)) = (initialized, infra_ready) else {
            return Ok(Health::Undecided);
        };
        let now = self.clock.now();
        let Some(node) = node else {
            if startup_timeout.is_zero() {
                return Ok(Health::Undecided);
            }
            let created = m.meta().creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
            let since = [transition_time(initialized), transition_time(infra_ready)]
                .into_iter()
                .flatten()
                .fold(created, Timestamp::max);
            if since + to_signed(startup_timeout) < now {
                let message = format!("Node failed to report startup in {}", go_duration_string(startup_timeout));
                return Ok(unhealthy("NodeStartupTimeout", message));
            }
            return Ok(Health::Undecided);
        };
        let mut pending = false;
        let node_conditions = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        for uc in &mhc.spec.unhealthy_conditions {
            let Some(nc) = node_conditions.iter().find(|c| c.type_ == uc.type_) else {
                continue;
            };
            if nc.status != uc.status {
                continue;
            }
            let timeout = parse_go_duration(&uc.timeout).ok_or_else(|| invalid(mhc, format!("invalid timeout {:?}", uc.timeout)))?;
            let since = nc.last_transition_time.as_ref().map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH);
            if since + to_signed(timeout) < now {
                let message = format!(
                    "Condition {} on node is reporting status {} for more than {}",
                    uc.type_,
                    uc.status,
                    go_duration_string(timeout)
                );
                return Ok(unhealthy("UnhealthyNode", message));
            }
            pending = true;
        }
        if pending || m.meta().deletion_timestamp.is_some() {
            return Ok(Health::Undecided);
        }
        Ok(Health::Healthy)
    }
}

/// A std duration as a jiff one.
fn to_signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// An `Invalid` error about `mhc`.
fn invalid(mhc: &MachineHealthCheck, message: String) -> ControllerError {
    ControllerError::Invalid {
        object: format!("MachineHealthCheck {}/{}", mhc.namespace().unwrap_or_default(), mhc.name_any()),
        message,
    }
}

impl Reconciler for MachineHealthCheckController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        MachineHealthCheckController::reconcile_all(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print() {
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("10m0s"), Some(Duration::from_secs(600)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(go_duration_string(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration_string(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration_string(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn max_unhealthy_scales_down_and_ranges_parse() {
        assert_eq!(scaled_value(&IntOrString::String("40%".into()), 3), Some(1));
        assert_eq!(scaled_value(&IntOrString::String("100%".into()), 3), Some(3));
        assert_eq!(scaled_value(&IntOrString::Int(2), 3), Some(2));
        assert_eq!(scaled_value(&IntOrString::String("2".into()), 3), None);
        assert_eq!(unhealthy_range("[1-3]"), Some((1, 3)));
        assert_eq!(unhealthy_range("[3-1]"), None);
        assert_eq!(unhealthy_range("1-3"), None);
    }
}
