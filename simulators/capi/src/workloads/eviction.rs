//! Pod GC (Pods bound to a Node that no longer exists) and the node lifecycle controller's
//! taint-based eviction (Pods on a Node with a `NoExecute` taint they do not tolerate, or
//! tolerate only for `tolerationSeconds` that have run out on the clock).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, Toleration};
use kube::api::DeleteParams;

use super::scheduling::{DEFAULT_TOLERATION_SECONDS, EffectiveTaint, NOT_READY_TAINT, NodeView, UNREACHABLE_TAINT, tolerates};
use super::{WorkloadControllers, WorkloadReport, is_deleting, key_of, name_of, ns_of, pod_node, tolerate};

/// The tolerations a Pod has once the `DefaultTolerationSeconds` admission plugin ran: a
/// 300-second toleration for each of the not-ready and unreachable `NoExecute` taints it does
/// not tolerate already.
pub(crate) fn with_default_tolerations(tolerations: &[Toleration]) -> Vec<Toleration> {
    let mut out = tolerations.to_vec();
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        let taint = EffectiveTaint {
            key: key.into(),
            value: String::new(),
            effect: "NoExecute".into(),
            since: None,
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            out.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                value: None,
            });
        }
    }
    out
}

/// When the Pod must leave a Node with these taints: `None` if never, else the deadline
/// (possibly already past). Each `NoExecute` taint is tolerated by the Pod's first matching
/// toleration; one without a match evicts at once; the earliest `since + tolerationSeconds`
/// wins, counted from when the taint appeared or the Pod was scheduled, whichever is later.
pub(crate) fn eviction_deadline(pod: &Pod, taints: &[EffectiveTaint], now: Timestamp) -> Option<Timestamp> {
    let tolerations = with_default_tolerations(pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default());
    let scheduled = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled" && c.status == "True"))
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0));
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let due = match tolerations.iter().find(|t| tolerates(t, taint)) {
            None => now,
            Some(t) => match t.toleration_seconds {
                None => continue,
                Some(secs) => {
                    let start = match (taint.since, scheduled) {
                        (Some(a), Some(b)) => a.max(b),
                        (a, b) => a.or(b).unwrap_or(now),
                    };
                    start.checked_add(SignedDuration::from_secs(secs.max(0))).unwrap_or(now)
                }
            },
        };
        deadline = Some(deadline.map_or(due, |d| d.min(due)));
    }
    deadline
}

/// Deletes Pods of vanished Nodes and Pods whose taint toleration ran out.
pub(crate) async fn run(
    wc: &WorkloadControllers,
    nodes: &[NodeView],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let by_name: BTreeMap<&str, &NodeView> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    for pod in pods.iter().filter(|p| !is_deleting(&p.metadata)) {
        let Some(node_name) = pod_node(pod) else { continue };
        let api = wc.api::<Pod>(ns_of(&pod.metadata));
        let name = name_of(&pod.metadata);
        let uid_guard = DeleteParams {
            preconditions: pod.metadata.uid.clone().map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match by_name.get(node_name) {
            None => {
                let what = format!("pod GC of Pod {} (Node {node_name} is gone)", key_of(&pod.metadata));
                if tolerate(api.delete(name, &uid_guard).await, &what, report)?.is_some() {
                    report.pods_collected.push(key_of(&pod.metadata));
                }
            }
            Some(node) => {
                if matches!(super::pod_phase(pod), "Succeeded" | "Failed") {
                    continue;
                }
                let Some(deadline) = eviction_deadline(pod, &node.taints, now) else {
                    continue;
                };
                if deadline > now {
                    report.next_eviction = Some(report.next_eviction.map_or(deadline, |d| d.min(deadline)));
                    continue;
                }
                let what = format!("taint-based eviction of Pod {} from Node {node_name}", key_of(&pod.metadata));
                if tolerate(api.delete(name, &uid_guard).await, &what, report)?.is_some() {
                    report.pods_evicted.push(key_of(&pod.metadata));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn taint(key: &str, since: &str) -> EffectiveTaint {
        EffectiveTaint {
            key: key.into(),
            value: String::new(),
            effect: "NoExecute".into(),
            since: Some(since.parse().expect("time")),
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("pod")
    }

    #[test]
    fn default_toleration_is_300_seconds_from_the_taint() {
        let now: Timestamp = "2022-12-07T17:20:00Z".parse().expect("time");
        let p = pod(json!({"containers": []}));
        let due = eviction_deadline(&p, &[taint(UNREACHABLE_TAINT, "2022-12-07T17:10:00Z")], now);
        assert_eq!(due, Some("2022-12-07T17:15:00Z".parse().expect("time")));
    }

    #[test]
    fn explicit_tolerations_win_and_untolerated_taints_evict_now() {
        let now: Timestamp = "2022-12-07T17:20:00Z".parse().expect("time");
        let forever =
            pod(json!({"containers": [], "tolerations": [{"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute"}]}));
        assert_eq!(
            eviction_deadline(&forever, &[taint(UNREACHABLE_TAINT, "2022-12-07T17:10:00Z")], now),
            None
        );
        let short = pod(
            json!({"containers": [], "tolerations": [{"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]}),
        );
        assert_eq!(
            eviction_deadline(&short, &[taint(NOT_READY_TAINT, "2022-12-07T17:10:00Z")], now),
            Some("2022-12-07T17:10:30Z".parse().expect("time"))
        );
        assert_eq!(
            eviction_deadline(&short, &[taint("example.com/drain", "2022-12-07T17:19:00Z")], now),
            Some(now)
        );
    }
}
