//! Nodes as the scheduler sees them (effective taints), taint toleration, nodeSelector and
//! required node affinity, and the scheduler that binds pending Pods.

use std::collections::BTreeMap;

use drdrill_kube_sim::clock::k8s_time;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Toleration};
use kube::api::{Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::{
    WorkloadControllers, WorkloadReport, controller_uid, is_deleting, key_of, labels_map, name_of, ns_of, pod_active, pod_node, tolerate,
};

/// The taint the node lifecycle controller puts on a Node whose `Ready` condition is `False`.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint the node lifecycle controller puts on a Node whose `Ready` condition is `Unknown`.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint that stands for `spec.unschedulable` (a cordoned Node).
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// `tolerationSeconds` the `DefaultTolerationSeconds` admission plugin gives Pods for the
/// not-ready and unreachable `NoExecute` taints.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// A taint in effect on a Node, with the time it took effect when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EffectiveTaint {
    pub key: String,
    pub value: String,
    pub effect: String,
    pub since: Option<Timestamp>,
}

/// A Node's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    Ready,
    NotReady,
    Unknown,
}

/// What the workload controllers need of a Node.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    pub name: String,
    pub labels: Map<String, Value>,
    pub taints: Vec<EffectiveTaint>,
    pub readiness: Readiness,
    pub deleting: bool,
    pub host_ip: Option<String>,
    pub pod_cidr: Option<String>,
}

impl NodeView {
    pub fn from_node(node: &Node) -> NodeView {
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        let ready = status.conditions.as_ref().and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        let readiness = match ready.map(|c| c.status.as_str()) {
            Some("True") => Readiness::Ready,
            Some("False") | None => Readiness::NotReady,
            Some(_) => Readiness::Unknown,
        };
        let ready_since = ready
            .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
            .or_else(|| node.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let mut taints: Vec<EffectiveTaint> = spec
            .taints
            .unwrap_or_default()
            .into_iter()
            .map(|t| EffectiveTaint {
                key: t.key,
                value: t.value.unwrap_or_default(),
                effect: t.effect,
                since: t.time_added.map(|t| t.0),
            })
            .collect();
        let mut imply = |key: &str, effect: &str, since: Option<Timestamp>| {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(EffectiveTaint {
                    key: key.into(),
                    value: String::new(),
                    effect: effect.into(),
                    since,
                });
            }
        };
        if spec.unschedulable == Some(true) {
            imply(UNSCHEDULABLE_TAINT, "NoSchedule", None);
        }
        let condition_taint = match readiness {
            Readiness::Ready => None,
            Readiness::NotReady => Some(NOT_READY_TAINT),
            Readiness::Unknown => Some(UNREACHABLE_TAINT),
        };
        if let Some(key) = condition_taint {
            imply(key, "NoSchedule", ready_since);
            imply(key, "NoExecute", ready_since);
        }
        let addresses = status.addresses.unwrap_or_default();
        let host_ip = ["InternalIP", "ExternalIP"]
            .iter()
            .find_map(|kind| addresses.iter().find(|a| a.type_ == *kind).map(|a| a.address.clone()));
        NodeView {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: labels_map(node.metadata.labels.as_ref()),
            taints,
            readiness,
            deleting: is_deleting(&node.metadata),
            host_ip,
            pod_cidr: spec.pod_cidr,
        }
    }
}

/// Upstream's `Toleration.ToleratesTaint`.
pub(crate) fn tolerates(toleration: &Toleration, taint: &EffectiveTaint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or("") == taint.value,
        _ => false,
    }
}

/// The first taint with one of `effects` that no toleration tolerates.
pub(crate) fn untolerated<'a>(tolerations: &[Toleration], taints: &'a [EffectiveTaint], effects: &[&str]) -> Option<&'a EffectiveTaint> {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.clone().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (value.and_then(|v| v.parse::<i64>().ok()), values.as_slice()) else {
                return false;
            };
            let Ok(bound) = bound.parse::<i64>() else { return false };
            if op == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeView) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, node.labels.get(&r.key).and_then(Value::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&node.name)))
}

/// Whether the Pod's nodeSelector and required node affinity admit the Node.
pub(crate) fn selector_fits(spec: &PodSpec, node: &NodeView) -> bool {
    let selector_ok = spec.node_selector.as_ref().is_none_or(|sel| {
        sel.iter()
            .all(|(k, v)| node.labels.get(k).and_then(Value::as_str) == Some(v.as_str()))
    });
    let affinity_ok = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
        .is_none_or(|req| req.node_selector_terms.iter().any(|t| term_matches(t, node)));
    selector_ok && affinity_ok
}

/// Why a Node cannot take a Pod, worded as kube-scheduler's filter plugins word it.
fn unfit_reason(spec: &PodSpec, node: &NodeView) -> Option<String> {
    if node.deleting {
        return Some("node(s) were being deleted".into());
    }
    if !selector_fits(spec, node) {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    match untolerated(tolerations, &node.taints, &["NoSchedule", "NoExecute"]) {
        Some(t) if t.key == UNSCHEDULABLE_TAINT => Some("node(s) were unschedulable".into()),
        Some(t) => Some(format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value)),
        None => None,
    }
}

/// Binds every pending Pod (no nodeName, default scheduler) to a feasible Node, spreading by
/// fewest Pods of the same controller, then fewest Pods, then name.
pub(crate) async fn schedule(
    wc: &WorkloadControllers,
    nodes: &[NodeView],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_owner: BTreeMap<(String, String), usize> = BTreeMap::new();
    for pod in pods.iter().filter(|p| pod_active(p)) {
        if let Some(node) = pod_node(pod) {
            *total.entry(node.to_string()).or_default() += 1;
            if let Some(owner) = controller_uid(&pod.metadata) {
                *by_owner.entry((owner.to_string(), node.to_string())).or_default() += 1;
            }
        }
    }
    let stamp = k8s_time(now);
    for pod in pods.iter().filter(|p| pod_active(p) && pod_node(p).is_none()) {
        let spec = pod.spec.clone().unwrap_or_default();
        if spec
            .scheduler_name
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "default-scheduler")
        {
            continue;
        }
        let owner = controller_uid(&pod.metadata).unwrap_or("").to_string();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut best: Option<(usize, usize, &str)> = None;
        for node in nodes {
            if let Some(reason) = unfit_reason(&spec, node) {
                *reasons.entry(reason).or_default() += 1;
                continue;
            }
            let siblings = if owner.is_empty() {
                0
            } else {
                by_owner.get(&(owner.clone(), node.name.clone())).copied().unwrap_or(0)
            };
            let score = (siblings, total.get(&node.name).copied().unwrap_or(0), node.name.as_str());
            if best.is_none_or(|b| score < b) {
                best = Some(score);
            }
        }
        let api = wc.api::<Pod>(ns_of(&pod.metadata));
        let name = name_of(&pod.metadata);
        let rv = pod.metadata.resource_version.clone().unwrap_or_default();
        match best {
            Some((_, _, node)) => {
                // No pods/binding subresource on this server: bind with a patch guarded by the resourceVersion.
                let bind = json!({"metadata": {"resourceVersion": rv}, "spec": {"nodeName": node}});
                let what = format!("bind Pod {}", key_of(&pod.metadata));
                if tolerate(api.patch(name, &PatchParams::default(), &Patch::Merge(bind)).await, &what, report)?.is_none() {
                    continue;
                }
                let conditions = with_condition(pod, "PodScheduled", "True", None, None, &stamp);
                let status = json!({"status": {"conditions": conditions}});
                let what = format!("PodScheduled of Pod {}", key_of(&pod.metadata));
                tolerate(
                    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await,
                    &what,
                    report,
                )?;
                *total.entry(node.to_string()).or_default() += 1;
                if !owner.is_empty() {
                    *by_owner.entry((owner.clone(), node.to_string())).or_default() += 1;
                }
                report.pods_bound.push(format!("{} -> {node}", key_of(&pod.metadata)));
            }
            None => {
                let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                parts.sort();
                let message = format!("0/{} nodes are available: {}.", nodes.len(), parts.join(", "));
                let current = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
                if current.is_some_and(|c| c.status == "False" && c.message.as_deref() == Some(message.as_str())) {
                    continue;
                }
                let conditions = with_condition(pod, "PodScheduled", "False", Some("Unschedulable"), Some(&message), &stamp);
                let status = json!({"status": {"conditions": conditions}});
                let what = format!("PodScheduled of Pod {}", key_of(&pod.metadata));
                if tolerate(
                    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await,
                    &what,
                    report,
                )?
                .is_some()
                {
                    report.pods_unschedulable.push(format!("{}: {message}", key_of(&pod.metadata)));
                }
            }
        }
    }
    Ok(())
}

/// The Pod's conditions with one set (transition time kept while the status holds).
pub(crate) fn with_condition(pod: &Pod, type_: &str, status: &str, reason: Option<&str>, message: Option<&str>, now: &str) -> Vec<Value> {
    let mut conditions: Vec<Value> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| cs.iter().filter_map(|c| serde_json::to_value(c).ok()).collect())
        .unwrap_or_default();
    let mut next = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(reason) = reason {
        next["reason"] = json!(reason);
    }
    if let Some(message) = message {
        next["message"] = json!(message);
    }
    match conditions.iter_mut().find(|c| c["type"] == type_) {
        Some(c) => {
            if c["status"] == status {
                next["lastTransitionTime"] = c["lastTransitionTime"].clone();
            }
            *c = next;
        }
        None => conditions.push(next),
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: Value) -> NodeView {
        NodeView::from_node(&serde_json::from_value(value).expect("node"))
    }

    fn tol(value: Value) -> Toleration {
        serde_json::from_value(value).expect("toleration")
    }

    #[test]
    fn tolerations_match_like_upstream() {
        let taint = EffectiveTaint {
            key: "node-role.kubernetes.io/control-plane".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
            since: None,
        };
        assert!(tolerates(
            &tol(json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"})),
            &taint
        ));
        assert!(
            tolerates(&tol(json!({"operator": "Exists"})), &taint),
            "empty key with Exists tolerates everything"
        );
        assert!(!tolerates(
            &tol(json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoExecute"})),
            &taint
        ));
        assert!(tolerates(
            &tol(json!({"key": "node-role.kubernetes.io/control-plane", "value": ""})),
            &taint
        ));
        assert!(!tolerates(
            &tol(json!({"key": "node-role.kubernetes.io/control-plane", "value": "x"})),
            &taint
        ));
        assert!(!tolerates(&tol(json!({"key": "other", "operator": "Exists"})), &taint));
    }

    #[test]
    fn cordoned_and_not_ready_nodes_carry_implied_taints() {
        let n = node(json!({"metadata": {"name": "w1"}, "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2022-12-07T17:10:42Z"}]}}));
        let keys: Vec<(&str, &str)> = n.taints.iter().map(|t| (t.key.as_str(), t.effect.as_str())).collect();
        assert_eq!(
            keys,
            [
                (UNSCHEDULABLE_TAINT, "NoSchedule"),
                (NOT_READY_TAINT, "NoSchedule"),
                (NOT_READY_TAINT, "NoExecute")
            ]
        );
        assert_eq!(n.taints[2].since, Some("2022-12-07T17:10:42Z".parse().expect("time")));
        let spec: PodSpec = serde_json::from_value(json!({"containers": []})).expect("spec");
        assert_eq!(unfit_reason(&spec, &n).as_deref(), Some("node(s) were unschedulable"));
    }

    #[test]
    fn node_affinity_and_selector() {
        let n = node(json!({"metadata": {"name": "w1", "labels": {"zone": "a", "gpus": "2"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        let spec = |v: Value| -> PodSpec { serde_json::from_value(v).expect("spec") };
        assert!(selector_fits(&spec(json!({"containers": [], "nodeSelector": {"zone": "a"}})), &n));
        assert!(!selector_fits(&spec(json!({"containers": [], "nodeSelector": {"zone": "b"}})), &n));
        let affinity = |term: Value| {
            spec(
                json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}}),
            )
        };
        assert!(selector_fits(
            &affinity(json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]})),
            &n
        ));
        assert!(!selector_fits(
            &affinity(json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w2"]}]})),
            &n
        ));
        assert!(selector_fits(
            &affinity(json!({"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["1"]}]})),
            &n
        ));
        assert!(!selector_fits(
            &affinity(json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})),
            &n
        ));
        assert!(!selector_fits(&affinity(json!({})), &n), "an empty term matches nothing");
    }
}
