//! The kubelets' side of Pods: a Pod bound to a Ready Node starts (Running, Ready, container
//! statuses, Pod and host IPs, start time from the clock); a Pod on a Node that stopped being
//! Ready turns NotReady, as the node lifecycle controller's `MarkPodsNotReady` does.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use drdrill_kube_sim::clock::k8s_time;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::scheduling::{NodeView, Readiness, with_condition};
use super::{WorkloadControllers, WorkloadReport, key_of, name_of, ns_of, pod_active, pod_node, pod_phase, pod_ready, tolerate};

/// The /24 a Node's Pods get their IPs from: `spec.podCIDR` when set, else one derived from the
/// Node's name inside 100.96.0.0/11 (TKG's default Pod CIDR).
fn pod_subnet(node: &NodeView) -> [u8; 3] {
    if let Some(cidr) = node.pod_cidr.as_deref()
        && let Some((addr, len)) = cidr.split_once('/')
        && let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u8>())
        && len <= 24
    {
        let o = addr.octets();
        return [o[0], o[1], o[2]];
    }
    let h = super::fnv32a(&Value::String(node.name.clone()), None);
    [100, 96 + ((h >> 8) % 32) as u8, (h % 256) as u8]
}

/// Deterministic hex of `n` characters derived from `seed` (container and image IDs).
fn hex_id(seed: &str, n: usize) -> String {
    let mut out = String::new();
    let mut round = 0;
    while out.len() < n {
        let h = super::fnv32a(&Value::String(format!("{seed}#{round}")), None);
        out.push_str(&format!("{h:08x}"));
        round += 1;
    }
    out.truncate(n);
    out
}

fn container_statuses(pod: &Pod, key: &str, uid: &str, started: &str) -> (Vec<Value>, Vec<Value>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let previous: BTreeMap<String, Value> = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| {
            cs.iter()
                .filter_map(|c| Some((c.name.clone(), serde_json::to_value(c).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let image_id = |image: &str| {
        let repo = image.split('@').next().unwrap_or(image);
        let repo = match repo.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r,
            _ => repo,
        };
        format!("{repo}@sha256:{}", hex_id(image, 64))
    };
    let containers = spec
        .containers
        .iter()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let since = previous
                .get(&c.name)
                .and_then(|p| p.pointer("/state/running/startedAt").cloned())
                .unwrap_or(json!(started));
            json!({"name": c.name, "image": image, "imageID": image_id(&image),
                   "containerID": format!("containerd://{}", hex_id(&format!("{uid}/{}", c.name), 64)),
                   "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": since}}})
        })
        .collect();
    let init = spec
        .init_containers
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            json!({"name": c.name, "image": image, "imageID": image_id(&image),
                   "containerID": format!("containerd://{}", hex_id(&format!("{key}/init/{}", c.name), 64)),
                   "ready": true, "started": false, "restartCount": 0,
                   "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}}})
        })
        .collect();
    (containers, init)
}

/// Starts Pods on Ready Nodes and marks Pods on other Nodes not Ready.
pub(crate) async fn run(
    wc: &WorkloadControllers,
    nodes: &[NodeView],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let by_name: BTreeMap<&str, &NodeView> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for pod in pods.iter().filter(|p| pod_active(p)) {
        if let (Some(node), Some(ip)) = (pod_node(pod), pod.status.as_ref().and_then(|s| s.pod_ip.clone())) {
            used.entry(node).or_default().insert(ip);
        }
    }
    let stamp = k8s_time(now);
    for pod in pods.iter().filter(|p| pod_active(p)) {
        let Some(node_name) = pod_node(pod) else { continue };
        let Some(node) = by_name.get(node_name) else { continue };
        let api = wc.api::<Pod>(ns_of(&pod.metadata));
        let key = key_of(&pod.metadata);
        let status = pod.status.clone().unwrap_or_default();
        if node.readiness != Readiness::Ready {
            if pod_ready(pod) {
                let conditions = with_condition(pod, "Ready", "False", None, None, &stamp);
                let patch = Patch::Merge(json!({"status": {"conditions": conditions}}));
                let what = format!("mark Pod {key} not Ready (Node {node_name} is not Ready)");
                if tolerate(
                    api.patch_status(name_of(&pod.metadata), &PatchParams::default(), &patch).await,
                    &what,
                    report,
                )?
                .is_some()
                {
                    report.pods_not_ready.push(key);
                }
            }
            continue;
        }
        if pod_phase(pod) == "Running" && pod_ready(pod) && status.pod_ip.is_some() {
            continue;
        }
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let pod_ip = match status.pod_ip.clone() {
            Some(ip) => Some(ip),
            None if host_network => node.host_ip.clone(),
            None => {
                let [a, b, c] = pod_subnet(node);
                let taken = used.entry(node_name).or_default();
                let ip = (2..=254u8).map(|d| format!("{a}.{b}.{c}.{d}")).find(|ip| !taken.contains(ip));
                if let Some(ip) = &ip {
                    taken.insert(ip.clone());
                }
                ip
            }
        };
        let start = status.start_time.as_ref().map(|t| k8s_time(t.0)).unwrap_or_else(|| stamp.clone());
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let (containers, init) = container_statuses(pod, &key, &uid, &stamp);
        let mut probe = pod.clone();
        for (type_, status) in [
            ("PodReadyToStartContainers", "True"),
            ("Initialized", "True"),
            ("Ready", "True"),
            ("ContainersReady", "True"),
            ("PodScheduled", "True"),
        ] {
            let conditions = with_condition(&probe, type_, status, None, None, &stamp);
            let st = probe.status.get_or_insert_with(Default::default);
            st.conditions = serde_json::from_value(Value::Array(conditions)).ok();
        }
        let conditions = probe.status.and_then(|s| s.conditions).unwrap_or_default();
        let mut body = json!({"phase": "Running", "conditions": conditions, "startTime": start,
            "containerStatuses": containers, "qosClass": qos_class(pod)});
        if !init.is_empty() {
            body["initContainerStatuses"] = json!(init);
        }
        if let Some(ip) = &pod_ip {
            body["podIP"] = json!(ip);
            body["podIPs"] = json!([{"ip": ip}]);
        }
        if let Some(ip) = &node.host_ip {
            body["hostIP"] = json!(ip);
            body["hostIPs"] = json!([{"ip": ip}]);
        }
        let patch = Patch::Merge(json!({"status": body}));
        let what = format!("start Pod {key} on Node {node_name}");
        if tolerate(
            api.patch_status(name_of(&pod.metadata), &PatchParams::default(), &patch).await,
            &what,
            report,
        )?
        .is_some()
        {
            report.pods_started.push(key);
        }
    }
    Ok(())
}

/// The QoS class kube-apiserver derives from the containers' requests and limits.
fn qos_class(pod: &Pod) -> &'static str {
    let containers = pod.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default();
    let resources: Vec<_> = containers.iter().map(|c| c.resources.clone().unwrap_or_default()).collect();
    let any = resources
        .iter()
        .any(|r| r.requests.as_ref().is_some_and(|m| !m.is_empty()) || r.limits.as_ref().is_some_and(|m| !m.is_empty()));
    if !any {
        return "BestEffort";
    }
    let guaranteed = resources.iter().all(|r| {
        let limits = r.limits.clone().unwrap_or_default();
        let requests = r.requests.clone().unwrap_or_default();
        ["cpu", "memory"].iter().all(|k| limits.contains_key(*k)) && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(cidr: Option<&str>) -> NodeView {
        let mut n = json!({"metadata": {"name": "w1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        if let Some(c) = cidr {
            n["spec"] = json!({"podCIDR": c});
        }
        NodeView::from_node(&serde_json::from_value(n).expect("node"))
    }

    #[test]
    fn pod_subnets_follow_the_node() {
        assert_eq!(pod_subnet(&node(Some("100.96.3.0/24"))), [100, 96, 3]);
        let derived = pod_subnet(&node(None));
        assert_eq!(derived[0], 100);
        assert!((96..128).contains(&derived[1]), "{derived:?} lies in 100.96.0.0/11");
        assert_eq!(derived, pod_subnet(&node(None)), "stable per node name");
    }

    #[test]
    fn ids_are_deterministic_hex() {
        let a = hex_id("default/web-1/web", 64);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, hex_id("default/web-1/web", 64));
        assert_ne!(a, hex_id("default/web-2/web", 64));
    }
}
