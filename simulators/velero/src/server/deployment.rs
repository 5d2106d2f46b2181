//! Velero's own Deployment brought to life: the part of kube-controller-manager and the kubelet
//! that turns Deployment `velero` into a ReplicaSet and a Running Pod, so
//! `kubectl -n velero get pod` shows `velero-78fdbcd446-v5cqr   1/1   Running   0   …` as in
//! the runbook.
//!
//! Facts from Kubernetes (`pkg/controller/deployment`, `pkg/controller/controller_utils.go`):
//!
//! * the ReplicaSet is `<deployment>-<pod-template-hash>`, the hash being FNV-32a of the pod
//!   template, written in decimal and mapped digit by digit onto the alphabet
//!   `bcdfghjklmnpqrstvwxz2456789` (`rand.SafeEncodeString`); here the template is hashed as
//!   JSON and the decimal is zero-padded to ten digits, so names always have ten characters;
//! * the ReplicaSet and its pods carry the label `pod-template-hash`, are owned (controller
//!   ownerReference) by the Deployment and the ReplicaSet, and a pod is named
//!   `<replicaset>-<5 random characters of the same alphabet>` (random from the seed here).

use std::collections::BTreeMap;

use drdrill_kube_sim::clock::k8s_time;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{Context, Report, ServerContext, VeleroError};

/// The Deployment `velero install` creates.
pub const DEPLOYMENT_NAME: &str = "velero";

/// The label linking a Deployment's ReplicaSets and pods to one pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Kubernetes' alphabet for generated names (no vowels, no confusable characters).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ *b as u32).wrapping_mul(0x0100_0193))
}

/// The `pod-template-hash` of a pod template: ten characters of [`ALPHANUMS`].
pub fn pod_template_hash(template: &Value) -> String {
    let hash = fnv32a(&crate::format::go_json(template));
    format!("{hash:010}")
        .bytes()
        .map(|b| ALPHANUMS[(b as usize) % ALPHANUMS.len()] as char)
        .collect()
}

/// Plays the Deployment controller, the ReplicaSet controller and the kubelet for Velero's
/// Deployment (see the module documentation).
pub struct VeleroPodRunner {
    ctx: ServerContext,
    seed: u64,
}

impl VeleroPodRunner {
    /// A runner whose pod names come from `seed`.
    pub fn new(ctx: ServerContext, seed: u64) -> Self {
        VeleroPodRunner { ctx, seed }
    }

    /// The pod-name suffix for ReplicaSet `rs`: five characters, a function of seed and name.
    fn suffix(&self, rs: &str, attempt: u64) -> String {
        let mut state = self.seed ^ (fnv32a(rs.as_bytes()) as u64) << 16 ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..5)
            .map(|_| {
                // splitmix64
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                ALPHANUMS[(z % ALPHANUMS.len() as u64) as usize] as char
            })
            .collect()
    }

    /// One pass: when Deployment `velero` exists, makes sure its ReplicaSet and one Running,
    /// Ready pod exist, and writes the statuses.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let client = &self.ctx.client;
        let mut report = Report::default();
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let Some(deployment) = deployments
            .get_opt(DEPLOYMENT_NAME)
            .await
            .ctx(|| format!("get Deployment {ns}/{DEPLOYMENT_NAME}"))?
        else {
            return Ok(report);
        };
        if deployment.metadata.deletion_timestamp.is_some() {
            return Ok(report);
        }
        let spec = deployment.spec.clone().unwrap_or_default();
        let template = serde_json::to_value(&spec.template).ctx(|| format!("serialize the pod template of Deployment {ns}/velero"))?;
        let hash = pod_template_hash(&template);
        let rs_name = format!("{DEPLOYMENT_NAME}-{hash}");
        let now = k8s_time(self.ctx.clock.now());
        let replicas = spec.replicas.unwrap_or(1);
        let owner = |api_version: &str, kind: &str, name: &str, uid: &str| json!([{"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
        let mut labels: BTreeMap<String, String> = spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        labels.insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());

        let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
        let rs = match sets.get_opt(&rs_name).await.ctx(|| format!("get ReplicaSet {ns}/{rs_name}"))? {
            Some(rs) => rs,
            None => {
                let mut selector = serde_json::to_value(&spec.selector).ctx(|| "serialize selector".to_string())?;
                selector["matchLabels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
                let mut rs_template = template.clone();
                rs_template["metadata"]["labels"] = json!(labels);
                let rs: ReplicaSet = serde_json::from_value(json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                        "annotations": {"deployment.kubernetes.io/revision": "1",
                            "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                            "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string()},
                        "ownerReferences": owner("apps/v1", "Deployment", DEPLOYMENT_NAME, &deployment.uid().unwrap_or_default())},
                    "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
                }))
                .ctx(|| format!("build ReplicaSet {ns}/{rs_name}"))?;
                let created = sets
                    .create(&PostParams::default(), &rs)
                    .await
                    .ctx(|| format!("create ReplicaSet {ns}/{rs_name}"))?;
                report.created.push(format!("ReplicaSet/{rs_name}"));
                created
            }
        };

        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let selector = format!("{POD_TEMPLATE_HASH_LABEL}={hash}");
        let mut owned: Vec<Pod> = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .ctx(|| format!("list pods of ReplicaSet {ns}/{rs_name}"))?
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let mut attempt = 0;
        while (owned.len() as i32) < replicas {
            let pod_name = format!("{rs_name}-{}", self.suffix(&rs_name, attempt));
            attempt += 1;
            if owned.iter().any(|p| p.name_any() == pod_name) {
                continue;
            }
            let mut pod_spec = template["spec"].clone();
            if pod_spec.is_null() {
                pod_spec = json!({});
            }
            let pod: Pod = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": ns, "labels": labels,
                    "annotations": template["metadata"]["annotations"],
                    "ownerReferences": owner("apps/v1", "ReplicaSet", &rs_name, &rs.uid().unwrap_or_default())},
                "spec": pod_spec,
            }))
            .ctx(|| format!("build Pod {ns}/{pod_name}"))?;
            match pods.create(&PostParams::default(), &pod).await {
                Ok(p) => {
                    report.created.push(format!("Pod/{pod_name}"));
                    owned.push(p);
                }
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e).ctx(|| format!("create Pod {ns}/{pod_name}")),
            }
        }

        let mut ready = 0;
        for pod in &owned {
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            ready += 1;
            if running {
                continue;
            }
            let containers: Vec<Value> = pod
                .spec
                .as_ref()
                .map(|s| s.containers.iter().map(|c| (c.name.clone(), c.image.clone())).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|(name, image)| {
                    json!({"name": name, "image": image.clone().unwrap_or_default(), "imageID": image.unwrap_or_default(),
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": now}}})
                })
                .collect();
            let status = json!({"status": {
                "phase": "Running", "startTime": now, "hostIP": "10.0.0.10", "podIP": "100.96.0.10",
                "qosClass": "BestEffort",
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                ],
                "containerStatuses": containers,
            }});
            let name = pod.name_any();
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                .await
                .ctx(|| format!("update status of Pod {ns}/{name}"))?;
            report.updated.push(format!("Pod/{name}"));
        }

        let rs_status = json!({"status": {"replicas": owned.len(), "readyReplicas": ready, "availableReplicas": ready,
            "fullyLabeledReplicas": owned.len(), "observedGeneration": rs.metadata.generation.unwrap_or(1)}});
        if rs.status.as_ref().map(|s| (s.replicas, s.ready_replicas.unwrap_or(0))) != Some((owned.len() as i32, ready)) {
            sets.patch_status(&rs_name, &PatchParams::default(), &Patch::Merge(rs_status))
                .await
                .ctx(|| format!("update status of ReplicaSet {ns}/{rs_name}"))?;
            report.updated.push(format!("ReplicaSet/{rs_name}"));
        }
        let current = deployment.status.clone().unwrap_or_default();
        if current.ready_replicas.unwrap_or(0) != ready || current.replicas.unwrap_or(0) != owned.len() as i32 {
            let status = json!({"status": {
                "replicas": owned.len(), "readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": owned.len(),
                "observedGeneration": deployment.metadata.generation.unwrap_or(1),
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed."), "lastUpdateTime": now, "lastTransitionTime": now},
                ],
            }});
            deployments
                .patch_status(DEPLOYMENT_NAME, &PatchParams::default(), &Patch::Merge(status))
                .await
                .ctx(|| format!("update status of Deployment {ns}/{DEPLOYMENT_NAME}"))?;
            report.updated.push(format!("Deployment/{DEPLOYMENT_NAME}"));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_use_the_kubernetes_alphabet() {
        let template = json!({"metadata": {"labels": {"deploy": "velero"}}, "spec": {"containers": [{"name": "velero", "image": "velero/velero:v1.9.5"}]}});
        let hash = pod_template_hash(&template);
        assert_eq!(hash.len(), 10);
        assert!(hash.bytes().all(|b| b"4567899bcdf".contains(&b)), "{hash}");
        assert_eq!(hash, pod_template_hash(&template.clone()));
        let mut other = template.clone();
        other["spec"]["containers"][0]["image"] = json!("velero/velero:v1.10.0");
        assert_ne!(hash, pod_template_hash(&other));
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9cf968);
    }
}
