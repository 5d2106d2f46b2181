//! The ReplicaSet controller: Pods `<replicaset>-<5 chars>` to match `spec.replicas`,
//! adoption of matching orphans, upstream's order for choosing Pods to delete, and status.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::eviction::with_default_tolerations;
use super::{
    PodNames, WorkloadControllers, WorkloadReport, controller_ref, controller_uid, count_pods, is_deleting, key_of, labels_map, name_of,
    note_invalid, ns_of, owned_pods, pod_active, pod_node, pod_phase, pod_ready_since, selects, tolerate, uid_of, workload_selector,
};

/// A Pod made from a controller's template: its labels and annotations, the controller as
/// owner, and the defaults kube-apiserver's defaulting and admission would add.
pub(crate) fn pod_from_template(
    template: &PodTemplateSpec,
    name: &str,
    namespace: &str,
    owner: OwnerReference,
    extra_labels: &[(&str, String)],
) -> Pod {
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut labels = template_meta.labels.unwrap_or_default();
    for (k, v) in extra_labels {
        labels.insert((*k).to_string(), v.clone());
    }
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name.get_or_insert_with(|| "default-scheduler".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.tolerations = Some(with_default_tolerations(spec.tolerations.as_deref().unwrap_or_default()));
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            annotations: template_meta.annotations,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Sets `owner` as the controller of an orphan, guarded by its resourceVersion.
pub(crate) async fn adopt<K>(
    api: &kube::Api<K>,
    meta: &ObjectMeta,
    owner: OwnerReference,
    report: &mut WorkloadReport,
) -> Result<bool, kube::Error>
where
    K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut refs = meta.owner_references.clone().unwrap_or_default();
    refs.push(owner);
    let patch = json!({"metadata": {"resourceVersion": meta.resource_version, "ownerReferences": refs}});
    let what = format!("adopt {}", key_of(meta));
    let done = tolerate(
        api.patch(name_of(meta), &PatchParams::default(), &Patch::Merge(patch)).await,
        &what,
        report,
    )?
    .is_some();
    if done {
        report.adopted.push(key_of(meta));
    }
    Ok(done)
}

fn phase_rank(pod: &Pod) -> u8 {
    match pod_phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Upstream's `ActivePodsWithRanks` order: the Pod to delete first sorts first.
fn deletion_order(a: &Pod, b: &Pod, per_node: &BTreeMap<&str, usize>) -> Ordering {
    let assigned = |p: &Pod| pod_node(p).is_some();
    let doubled = |p: &Pod| pod_node(p).and_then(|n| per_node.get(n)).copied().unwrap_or(0);
    let ready_since = |p: &Pod| pod_ready_since(p).flatten();
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    assigned(a)
        .cmp(&assigned(b))
        .then(phase_rank(a).cmp(&phase_rank(b)))
        .then(pod_ready_since(a).is_some().cmp(&pod_ready_since(b).is_some()))
        .then(doubled(b).cmp(&doubled(a)))
        .then(ready_since(b).cmp(&ready_since(a)))
        .then(created(b).cmp(&created(a)))
        .then(name_of(&a.metadata).cmp(name_of(&b.metadata)))
}

/// Creates and deletes Pods so that each ReplicaSet has `spec.replicas` active Pods.
pub(crate) async fn reconcile(
    wc: &WorkloadControllers,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    names: &mut PodNames,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    for rs in replica_sets.iter().filter(|rs| !is_deleting(&rs.metadata)) {
        let spec = rs.spec.clone().unwrap_or_default();
        let desired = spec.replicas.unwrap_or(1).max(0) as usize;
        let Some(template) = spec.template.as_ref() else {
            if desired > 0 {
                note_invalid(
                    report,
                    format!("ReplicaSet {}: spec.template: Required value", key_of(&rs.metadata)),
                );
            }
            continue;
        };
        let template_labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        let selector = match workload_selector("ReplicaSet", &rs.metadata, &spec.selector, template_labels) {
            Ok(s) => s,
            Err(e) => {
                note_invalid(report, e);
                continue;
            }
        };
        let ns = ns_of(&rs.metadata);
        let uid = uid_of(&rs.metadata);
        let api = wc.api::<Pod>(ns);
        let mut owned: Vec<&Pod> = owned_pods(pods, uid);
        for orphan in pods.iter().filter(|p| {
            pod_active(p) && ns_of(&p.metadata) == ns && controller_uid(&p.metadata).is_none() && selects(&selector, &p.metadata)
        }) {
            if adopt(&api, &orphan.metadata, controller_ref("ReplicaSet", &rs.metadata), report).await? {
                owned.push(orphan);
            }
        }
        if owned.len() < desired {
            for _ in owned.len()..desired {
                let name = names.generate(&wc.names, ns, name_of(&rs.metadata));
                let pod = pod_from_template(template, &name, ns, controller_ref("ReplicaSet", &rs.metadata), &[]);
                let params = PostParams {
                    field_manager: Some("kube-controller-manager".into()),
                    ..PostParams::default()
                };
                let what = format!("create Pod {ns}/{name} for ReplicaSet {}", key_of(&rs.metadata));
                if tolerate(api.create(&params, &pod).await, &what, report)?.is_some() {
                    report.pods_created.push(format!("{ns}/{name}"));
                }
            }
        } else if owned.len() > desired {
            let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
            for pod in &owned {
                if let Some(node) = pod_node(pod) {
                    *per_node.entry(node).or_default() += 1;
                }
            }
            owned.sort_by(|a, b| deletion_order(a, b, &per_node));
            for pod in owned.iter().take(owned.len() - desired) {
                let what = format!("delete Pod {} of ReplicaSet {}", key_of(&pod.metadata), key_of(&rs.metadata));
                if tolerate(api.delete(name_of(&pod.metadata), &DeleteParams::default()).await, &what, report)?.is_some() {
                    report.pods_deleted.push(key_of(&pod.metadata));
                }
            }
        }
    }
    Ok(())
}

/// Writes each ReplicaSet's status from its Pods as they are now.
pub(crate) async fn write_status(
    wc: &WorkloadControllers,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    for rs in replica_sets.iter().filter(|rs| !is_deleting(&rs.metadata)) {
        let spec = rs.spec.clone().unwrap_or_default();
        let owned = owned_pods(pods, uid_of(&rs.metadata));
        let counts = count_pods(owned.iter().copied(), spec.min_ready_seconds.unwrap_or(0), now);
        let template_labels = labels_map(
            spec.template
                .as_ref()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        );
        let fully_labeled = owned
            .iter()
            .filter(|p| {
                let labels = labels_map(p.metadata.labels.as_ref());
                template_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .count() as i32;
        let status = rs.status.clone().unwrap_or_default();
        let observed = rs.metadata.generation;
        let unchanged = status.replicas == counts.active
            && status.fully_labeled_replicas.unwrap_or(0) == fully_labeled
            && status.ready_replicas.unwrap_or(0) == counts.ready
            && status.available_replicas.unwrap_or(0) == counts.available
            && status.observed_generation == observed;
        if unchanged {
            continue;
        }
        let patch = json!({"status": {"replicas": counts.active, "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": counts.ready, "availableReplicas": counts.available, "observedGeneration": observed}});
        let api = wc.api::<ReplicaSet>(ns_of(&rs.metadata));
        let what = format!("status of ReplicaSet {}", key_of(&rs.metadata));
        if tolerate(
            api.patch_status(name_of(&rs.metadata), &PatchParams::default(), &Patch::Merge(patch))
                .await,
            &what,
            report,
        )?
        .is_some()
        {
            report.statuses_updated.push(format!("ReplicaSet {}", key_of(&rs.metadata)));
        }
    }
    Ok(())
}
