//! The DaemonSet controller: one Pod `<daemonset>-<5 chars>` bound directly to every eligible
//! Node, rolling template changes out node by node (`maxUnavailable`), and status.

use std::collections::BTreeMap;

use drdrill_kube_sim::selectors::LabelSelector;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::replicasets::{adopt, pod_from_template};
use super::scheduling::{NOT_READY_TAINT, NodeView, UNREACHABLE_TAINT, UNSCHEDULABLE_TAINT, selector_fits, untolerated};
use super::{
    CONTROLLER_REVISION_HASH_LABEL, PodNames, WorkloadControllers, WorkloadReport, controller_ref, controller_uid, is_deleting, key_of,
    name_of, note_invalid, ns_of, owned_pods, pod_active, pod_available, pod_node, pod_ready, selects, template_hash, tolerate, uid_of,
    workload_selector,
};

/// The tolerations upstream's DaemonSet controller adds to every daemon Pod.
fn daemon_tolerations(template: &PodTemplateSpec) -> Vec<Toleration> {
    let spec = template.spec.clone().unwrap_or_default();
    let mut tolerations = spec.tolerations.unwrap_or_default();
    let mut wanted = vec![
        (NOT_READY_TAINT, "NoExecute"),
        (UNREACHABLE_TAINT, "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        (UNSCHEDULABLE_TAINT, "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in wanted {
        if !tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect))
        {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Toleration::default()
            });
        }
    }
    tolerations
}

/// Upstream's `NodeShouldRunDaemonPod`: (should run, should keep running).
fn placement(template: &PodTemplateSpec, tolerations: &[Toleration], node: &NodeView) -> (bool, bool) {
    let spec = template.spec.clone().unwrap_or_default();
    if !selector_fits(&spec, node) {
        return (false, false);
    }
    let keep = untolerated(tolerations, &node.taints, &["NoExecute"]).is_none();
    let run = keep && untolerated(tolerations, &node.taints, &["NoSchedule"]).is_none();
    (run, keep)
}

/// The daemon Pod's template for one Node: the DaemonSet's tolerations and a required node
/// affinity term naming the Node, replacing the template's required terms as upstream does.
fn template_for_node(template: &PodTemplateSpec, tolerations: &[Toleration], node: &str) -> PodTemplateSpec {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    spec.tolerations = Some(tolerations.to_vec());
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    });
    spec.node_name = Some(node.into());
    template
}

struct Parsed<'a> {
    template: &'a PodTemplateSpec,
    selector: LabelSelector,
    tolerations: Vec<Toleration>,
    hash: String,
}

fn parse<'a>(ds: &'a DaemonSet, report: &mut WorkloadReport) -> Option<Parsed<'a>> {
    let spec = ds.spec.as_ref()?;
    let template = &spec.template;
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    let selector = match workload_selector("DaemonSet", &ds.metadata, &spec.selector, labels) {
        Ok(s) => s,
        Err(e) => {
            note_invalid(report, e);
            return None;
        }
    };
    let raw = serde_json::to_value(template).unwrap_or_default();
    let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
    Some(Parsed {
        template,
        selector,
        tolerations: daemon_tolerations(template),
        hash: template_hash(&raw, collisions),
    })
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(CONTROLLER_REVISION_HASH_LABEL)
        .map(String::as_str)
}

fn oldest_first(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a).cmp(&created(b)).then(name_of(&a.metadata).cmp(name_of(&b.metadata)))
    });
}

/// Pods of a DaemonSet grouped by Node, oldest first.
fn by_node<'a>(pods: &'a [Pod], uid: &str) -> BTreeMap<String, Vec<&'a Pod>> {
    let mut map: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in owned_pods(pods, uid) {
        if let Some(node) = pod_node(pod) {
            map.entry(node.to_string()).or_default().push(pod);
        }
    }
    for list in map.values_mut() {
        oldest_first(list);
    }
    map
}

fn resolve_max_unavailable(value: Option<&IntOrString>, desired: i32) -> Result<i32, String> {
    let n = match value {
        None => 1,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("Invalid value: {s:?}: must be an integer or a percentage"))?;
            ((pct * i64::from(desired) + 99) / 100) as i32
        }
    };
    Ok(n.max(1))
}

/// Places, removes and replaces daemon Pods.
pub(crate) async fn reconcile(
    wc: &WorkloadControllers,
    daemon_sets: &[DaemonSet],
    nodes: &[NodeView],
    pods: &[Pod],
    names: &mut PodNames,
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    for ds in daemon_sets.iter().filter(|ds| !is_deleting(&ds.metadata)) {
        let Some(parsed) = parse(ds, report) else { continue };
        let ns = ns_of(&ds.metadata);
        let api = wc.api::<Pod>(ns);
        let spec = ds.spec.clone().unwrap_or_default();
        let mut adopted: Vec<Pod> = Vec::new();
        for orphan in pods.iter().filter(|p| {
            pod_active(p) && ns_of(&p.metadata) == ns && controller_uid(&p.metadata).is_none() && selects(&parsed.selector, &p.metadata)
        }) {
            if adopt(&api, &orphan.metadata, controller_ref("DaemonSet", &ds.metadata), report).await? {
                let mut pod = orphan.clone();
                pod.metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(controller_ref("DaemonSet", &ds.metadata));
                adopted.push(pod);
            }
        }
        let mut placed = by_node(pods, uid_of(&ds.metadata));
        for pod in &adopted {
            if let Some(node) = pod_node(pod) {
                placed.entry(node.to_string()).or_default().push(pod);
            }
        }
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let generation = ds.metadata.generation.unwrap_or(1).to_string();
        let mut desired = 0;
        let mut unavailable = 0;
        let mut outdated: Vec<(&Pod, bool)> = Vec::new();
        for node in nodes {
            let (run, keep) = placement(parsed.template, &parsed.tolerations, node);
            let here = placed.remove(&node.name).unwrap_or_default();
            desired += i32::from(run);
            if !keep {
                for pod in &here {
                    delete(&api, pod, &format!("Node {} is not eligible", node.name), report).await?;
                }
                continue;
            }
            match here.split_first() {
                None if run => {
                    unavailable += 1;
                    let name = names.generate(&wc.names, ns, name_of(&ds.metadata));
                    let template = template_for_node(parsed.template, &parsed.tolerations, &node.name);
                    let labels = [
                        (CONTROLLER_REVISION_HASH_LABEL, parsed.hash.clone()),
                        ("pod-template-generation", generation.clone()),
                    ];
                    let pod = pod_from_template(&template, &name, ns, controller_ref("DaemonSet", &ds.metadata), &labels);
                    let params = PostParams {
                        field_manager: Some("kube-controller-manager".into()),
                        ..PostParams::default()
                    };
                    let what = format!("create Pod {ns}/{name} of DaemonSet {} on Node {}", key_of(&ds.metadata), node.name);
                    if tolerate(api.create(&params, &pod).await, &what, report)?.is_some() {
                        report.pods_created.push(format!("{ns}/{name}"));
                    }
                }
                None => {}
                Some((kept, extra)) => {
                    for pod in extra {
                        delete(&api, pod, &format!("an older daemon Pod runs on Node {}", node.name), report).await?;
                    }
                    let available = pod_available(kept, min_ready, now);
                    if run && !available {
                        unavailable += 1;
                    }
                    if hash_of(kept) != Some(parsed.hash.as_str()) {
                        outdated.push((kept, available));
                    }
                }
            }
        }
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
            continue;
        }
        let max_unavailable =
            match resolve_max_unavailable(strategy.rolling_update.as_ref().and_then(|r| r.max_unavailable.as_ref()), desired) {
                Ok(n) => n,
                Err(e) => {
                    note_invalid(
                        report,
                        format!(
                            "DaemonSet {}: spec.updateStrategy.rollingUpdate.maxUnavailable: {e}",
                            key_of(&ds.metadata)
                        ),
                    );
                    continue;
                }
            };
        let mut budget = max_unavailable - unavailable;
        for (pod, available) in outdated {
            if available {
                if budget <= 0 {
                    continue;
                }
                budget -= 1;
            }
            delete(&api, pod, "its template is outdated", report).await?;
        }
    }
    Ok(())
}

async fn delete(api: &kube::Api<Pod>, pod: &Pod, why: &str, report: &mut WorkloadReport) -> Result<(), kube::Error> {
    let what = format!("delete daemon Pod {} ({why})", key_of(&pod.metadata));
    if tolerate(api.delete(name_of(&pod.metadata), &DeleteParams::default()).await, &what, report)?.is_some() {
        report.pods_deleted.push(key_of(&pod.metadata));
    }
    Ok(())
}

/// Writes each DaemonSet's status from the Nodes and its Pods as they are now.
pub(crate) async fn write_status(
    wc: &WorkloadControllers,
    daemon_sets: &[DaemonSet],
    nodes: &[NodeView],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let mut scratch = WorkloadReport::default();
    for ds in daemon_sets.iter().filter(|ds| !is_deleting(&ds.metadata)) {
        let Some(parsed) = parse(ds, &mut scratch) else { continue };
        let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
        let placed = by_node(pods, uid_of(&ds.metadata));
        let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0, 0, 0);
        for node in nodes {
            let (run, _) = placement(parsed.template, &parsed.tolerations, node);
            let pod = placed.get(&node.name).and_then(|p| p.first());
            match (run, pod) {
                (true, Some(pod)) => {
                    desired += 1;
                    current += 1;
                    ready += i32::from(pod_ready(pod));
                    available += i32::from(pod_available(pod, min_ready, now));
                    updated += i32::from(hash_of(pod) == Some(parsed.hash.as_str()));
                }
                (true, None) => desired += 1,
                (false, Some(_)) => misscheduled += 1,
                (false, None) => {}
            }
        }
        let status = json!({
            "desiredNumberScheduled": desired, "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
            "numberReady": ready, "numberAvailable": available, "numberUnavailable": desired - available,
            "updatedNumberScheduled": updated, "observedGeneration": ds.metadata.generation,
        });
        let old = ds
            .status
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .unwrap_or_default();
        let unchanged = status
            .as_object()
            .is_some_and(|m| m.iter().all(|(k, v)| old.get(k).unwrap_or(&json!(0)) == v));
        if unchanged {
            continue;
        }
        let api = wc.api::<DaemonSet>(ns_of(&ds.metadata));
        let what = format!("status of DaemonSet {}", key_of(&ds.metadata));
        let patch = Patch::Merge(json!({"status": status}));
        if tolerate(
            api.patch_status(name_of(&ds.metadata), &PatchParams::default(), &patch).await,
            &what,
            report,
        )?
        .is_some()
        {
            report.statuses_updated.push(format!("DaemonSet {}", key_of(&ds.metadata)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_unavailable_rounds_percentages_up_and_is_at_least_one() {
        assert_eq!(resolve_max_unavailable(None, 10), Ok(1));
        assert_eq!(resolve_max_unavailable(Some(&IntOrString::String("25%".into())), 10), Ok(3));
        assert_eq!(resolve_max_unavailable(Some(&IntOrString::Int(0)), 10), Ok(1));
        assert!(resolve_max_unavailable(Some(&IntOrString::String("lots".into())), 10).is_err());
    }

    #[test]
    fn daemon_pods_tolerate_cordons_and_outages_but_not_control_plane_taints() {
        let template: PodTemplateSpec =
            serde_json::from_value(json!({"spec": {"containers": [{"name": "a", "image": "antrea"}]}})).expect("t");
        let tolerations = daemon_tolerations(&template);
        let node = |v: serde_json::Value| NodeView::from_node(&serde_json::from_value(v).expect("node"));
        let ready = json!([{"type": "Ready", "status": "True"}]);
        let cordoned = node(json!({"metadata": {"name": "w"}, "spec": {"unschedulable": true}, "status": {"conditions": ready}}));
        assert_eq!(placement(&template, &tolerations, &cordoned), (true, true));
        let cp = node(
            json!({"metadata": {"name": "cp"}, "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}, "status": {"conditions": ready}}),
        );
        assert_eq!(placement(&template, &tolerations, &cp), (false, true));
        let down = node(json!({"metadata": {"name": "d"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}));
        assert_eq!(
            placement(&template, &tolerations, &down),
            (false, true),
            "an existing daemon Pod stays on an unreachable Node"
        );
    }
}
