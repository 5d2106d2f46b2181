//! The MachineDeployment controller: one MachineSet per machine template, scaled to the
//! deployment's replicas, and the deployment's status summed over its MachineSets.
//!
//! Follows upstream Cluster API v1.2 (TKG 2.1), `internal/controllers/machinedeployment`:
//! * MachineSets are found by the deployment's selector; one matching the selector without a
//!   controller ownerReference is **adopted** (`getMachineSetsForDeployment`) — what happens
//!   after a Velero restore, which drops ownerReferences;
//! * the "new" MachineSet is the one whose template equals the deployment's, ignoring the
//!   `machine-template-hash` label and the version of reference apiVersions
//!   (`mdutil.EqualMachineTemplate`); when none exists one is created, named
//!   `<deployment>-<SafeEncodeString(hash)>` with the hash as the `machine-template-hash` label;
//! * status as `calculateStatus`: replicas, updatedReplicas, readyReplicas, availableReplicas,
//!   unavailableReplicas, selector and the phase (ScalingUp, ScalingDown, Running, Failed).
//!
//! Simplification: a template change scales the new MachineSet straight to `replicas` and the
//! old ones to zero once the new one is fully ready (upstream surges by `maxSurge`), and old
//! MachineSets are kept rather than pruned to `revisionHistoryLimit`. The hash is FNV-32a of
//! the template's JSON, where upstream hashes Go's `spew` dump: names differ from upstream's.

use drdrill_apis::capi::{
    CLUSTER_NAME_LABEL, Cluster, DEPLOYMENT_NAME_LABEL, MachineDeployment, MachineDeploymentStatus, MachineSet, MachineSetSpec,
    MachineTemplateSpec, ObjectMeta as TemplateMeta, REVISION_ANNOTATION,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;

use super::{
    ALPHANUMS, Context, ControllerError, PassClusters, Reconciler, Report, controller_of, ensure_owner_ref, is_controlled_by, is_paused,
    key, run_every, selector_is_empty, selector_matches, selector_string,
};

/// The label (and selector term) that tells a deployment's MachineSets apart.
pub const MACHINE_TEMPLATE_HASH_LABEL: &str = "machine-template-hash";

/// Reconciles every MachineDeployment of the management cluster.
pub struct MachineDeploymentController {
    client: Client,
}

/// FNV-32a, the hash upstream's `ComputeSpewHash` uses.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString`: each byte mapped onto the
/// vowel-free alphabet, so the result is safe in a name.
pub fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// A template in the form `EqualMachineTemplate` compares: no hash label, reference
/// apiVersions reduced to their group.
fn comparable(template: &MachineTemplateSpec) -> Result<serde_json::Value, serde_json::Error> {
    let mut t = template.clone();
    if let Some(meta) = t.metadata.as_mut() {
        meta.labels.remove(MACHINE_TEMPLATE_HASH_LABEL);
    }
    let group = |api_version: &mut Option<String>| {
        if let Some(v) = api_version.as_mut()
            && let Some((g, _)) = v.split_once('/')
        {
            *v = g.to_string();
        }
    };
    group(&mut t.spec.infrastructure_ref.api_version);
    if let Some(r) = t.spec.bootstrap.config_ref.as_mut() {
        group(&mut r.api_version);
    }
    let mut value = serde_json::to_value(&t)?;
    // An absent metadata and an empty one are the same template.
    if value.get("metadata").is_some_and(|m| m.as_object().is_some_and(|o| o.is_empty())) {
        value.as_object_mut().map(|o| o.remove("metadata"));
    }
    Ok(value)
}

/// The deployment's selector and template with the cluster-name label the controller enforces.
fn desired(md: &MachineDeployment) -> (LabelSelector, MachineTemplateSpec) {
    let mut selector = md.spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(CLUSTER_NAME_LABEL.into(), md.spec.cluster_name.clone());
    let mut template = md.spec.template.clone();
    template
        .metadata
        .get_or_insert_with(TemplateMeta::default)
        .labels
        .insert(CLUSTER_NAME_LABEL.into(), md.spec.cluster_name.clone());
    template.spec.cluster_name = md.spec.cluster_name.clone();
    (selector, template)
}

impl MachineDeploymentController {
    /// A controller talking to the management cluster through `client`.
    pub fn new(client: Client) -> Self {
        MachineDeploymentController { client }
    }

    /// One pass over every MachineDeployment.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let mds = Api::<MachineDeployment>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list MachineDeployments".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        for md in mds {
            self.reconcile(&md, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "machinedeployment", period).await;
    }

    async fn reconcile(&self, md: &MachineDeployment, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = md.namespace().unwrap_or_default();
        let cluster = clusters.get(&ns, &md.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), md.meta()) {
            report.paused.push(key("MachineDeployment", md));
            return Ok(());
        }
        // Upstream returns an error and retries until the Cluster exists.
        let Some(cluster) = cluster else { return Ok(()) };
        if md.meta().deletion_timestamp.is_some() {
            return Ok(()); // the garbage collector removes the MachineSets
        }
        let mds: Api<MachineDeployment> = Api::namespaced(self.client.clone(), &ns);
        let sets: Api<MachineSet> = Api::namespaced(self.client.clone(), &ns);
        self.ensure_cluster_link(md, &cluster, &mds, report).await?;

        let (selector, template) = desired(md);
        if selector_is_empty(&md.spec.selector) {
            return Err(ControllerError::Invalid {
                object: format!("MachineDeployment {ns}/{}", md.name_any()),
                message: "empty selector".into(),
            });
        }
        let uid = md.uid().unwrap_or_default();
        let mut owned = Vec::new();
        for ms in sets
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list MachineSets in {ns}"))?
        {
            let labels = ms.labels().clone();
            if !selector_matches(&selector, &labels) && !is_controlled_by(ms.meta(), &uid) {
                continue;
            }
            if controller_of(ms.meta()).is_none() {
                let owner = md.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
                    object: format!("MachineDeployment {ns}/{}", md.name_any()),
                    message: "no uid".into(),
                })?;
                let refs = ensure_owner_ref(ms.meta(), owner);
                let patch = json!({"metadata": {"ownerReferences": refs}});
                let adopted = sets
                    .patch(&ms.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .ctx(|| format!("adopt MachineSet {ns}/{}", ms.name_any()))?;
                report.adopted.push(key("MachineSet", &ms));
                owned.push(adopted);
                continue;
            }
            if is_controlled_by(ms.meta(), &uid) {
                owned.push(ms);
            }
        }

        let want = comparable(&template).ctx(|| "serialize template".into())?;
        let mut new_ms = None;
        for ms in &owned {
            if comparable(&ms.spec.template).ctx(|| "serialize template".into())? == want {
                new_ms = Some(ms.clone());
                break;
            }
        }
        let replicas = md.spec.replicas.unwrap_or(1);
        let new_ms = match new_ms {
            Some(ms) => {
                if ms.spec.replicas != Some(replicas) {
                    let patched = sets
                        .patch(
                            &ms.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                        )
                        .await
                        .ctx(|| format!("scale MachineSet {ns}/{}", ms.name_any()))?;
                    report.updated.push(key("MachineSet", &ms));
                    patched
                } else {
                    ms
                }
            }
            None => {
                let ms = self.create_machine_set(md, &selector, &template, &owned, replicas, &sets).await?;
                report.created.push(key("MachineSet", &ms));
                owned.push(ms.clone());
                ms
            }
        };
        // Old MachineSets go to zero once the new one serves every replica.
        let new_ready = new_ms.status.as_ref().map_or(0, |s| s.ready_replicas);
        if new_ready >= replicas {
            for ms in owned.iter_mut().filter(|ms| ms.uid() != new_ms.uid()) {
                if ms.spec.replicas != Some(0) {
                    *ms = sets
                        .patch(
                            &ms.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(json!({"spec": {"replicas": 0}})),
                        )
                        .await
                        .ctx(|| format!("scale down old MachineSet {ns}/{}", ms.name_any()))?;
                    report.updated.push(key("MachineSet", &*ms));
                }
            }
        }
        self.update_status(md, &selector, &owned, &new_ms, &mds, report).await
    }

    /// Upstream labels the deployment with its cluster and makes the Cluster an owner.
    async fn ensure_cluster_link(
        &self,
        md: &MachineDeployment,
        cluster: &Cluster,
        mds: &Api<MachineDeployment>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let labelled = md.labels().get(CLUSTER_NAME_LABEL) == Some(&md.spec.cluster_name);
        let cluster_uid = cluster.uid().unwrap_or_default();
        let owned = md.owner_references().iter().any(|r| r.uid == cluster_uid);
        if labelled && owned {
            return Ok(());
        }
        let mut owner = cluster.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
            object: format!("Cluster {}", cluster.name_any()),
            message: "no uid".into(),
        })?;
        owner.controller = None;
        owner.block_owner_deletion = None;
        let patch = json!({"metadata": {
            "labels": {CLUSTER_NAME_LABEL: md.spec.cluster_name},
            "ownerReferences": ensure_owner_ref(md.meta(), owner),
        }});
        mds.patch(&md.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await
            .ctx(|| format!("link MachineDeployment {} to its Cluster", md.name_any()))?;
        report.updated.push(key("MachineDeployment", md));
        Ok(())
    }

    async fn create_machine_set(
        &self,
        md: &MachineDeployment,
        selector: &LabelSelector,
        template: &MachineTemplateSpec,
        owned: &[MachineSet],
        replicas: i32,
        sets: &Api<MachineSet>,
    ) -> Result<MachineSet, ControllerError> {
        let value = comparable(template).ctx(|| "serialize template".into())?;
        let hash = fnv32a(value.to_string().as_bytes()).to_string();
        let mut template = template.clone();
        let meta = template.metadata.get_or_insert_with(TemplateMeta::default);
        meta.labels.insert(MACHINE_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut labels = meta.labels.clone();
        labels.insert(DEPLOYMENT_NAME_LABEL.into(), md.name_any());
        let mut selector = selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(MACHINE_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let revision = owned
            .iter()
            .filter_map(|ms| ms.annotations().get(REVISION_ANNOTATION)?.parse::<i64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let mut ms = MachineSet::new(
            &format!("{}-{}", md.name_any(), safe_encode(&hash)),
            MachineSetSpec {
                cluster_name: md.spec.cluster_name.clone(),
                replicas: Some(replicas),
                min_ready_seconds: Some(md.spec.min_ready_seconds.unwrap_or(0)),
                delete_policy: md
                    .spec
                    .strategy
                    .as_ref()
                    .and_then(|s| s.rolling_update.as_ref())
                    .and_then(|r| r.delete_policy.clone()),
                selector,
                template,
            },
        );
        ms.metadata.namespace = md.namespace();
        ms.metadata.labels = Some(labels);
        ms.metadata.annotations = Some(BTreeMap::from([(REVISION_ANNOTATION.to_string(), revision.to_string())]));
        ms.metadata.owner_references = md.controller_owner_ref(&()).map(|r| vec![r]);
        sets.create(&PostParams::default(), &ms)
            .await
            .ctx(|| format!("create MachineSet {}", ms.name_any()))
    }

    async fn update_status(
        &self,
        md: &MachineDeployment,
        selector: &LabelSelector,
        owned: &[MachineSet],
        new_ms: &MachineSet,
        mds: &Api<MachineDeployment>,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let st = |ms: &MachineSet| ms.status.clone().unwrap_or_default();
        let desired = md.spec.replicas.unwrap_or(1);
        let total_spec: i32 = owned.iter().map(|ms| ms.spec.replicas.unwrap_or(0)).sum();
        let available: i32 = owned.iter().map(|ms| st(ms).available_replicas).sum();
        let mut status = MachineDeploymentStatus {
            observed_generation: md.metadata.generation,
            selector: Some(selector_string(selector)),
            replicas: owned.iter().map(|ms| st(ms).replicas).sum(),
            updated_replicas: st(new_ms).replicas,
            ready_replicas: owned.iter().map(|ms| st(ms).ready_replicas).sum(),
            available_replicas: available,
            unavailable_replicas: (total_spec - available).max(0),
            phase: None,
            conditions: md.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default(),
        };
        if desired == status.ready_replicas {
            status.phase = Some("Running".into());
        }
        if desired > status.ready_replicas {
            status.phase = Some("ScalingUp".into());
        }
        if total_spec - available < 0 {
            status.phase = Some("ScalingDown".into());
        }
        if owned.iter().any(|ms| {
            let s = st(ms);
            s.failure_reason.is_some() || s.failure_message.is_some()
        }) {
            status.phase = Some("Failed".into());
        }
        if md.status.as_ref() == Some(&status) {
            return Ok(());
        }
        mds.patch_status(&md.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .ctx(|| format!("update status of MachineDeployment {}", md.name_any()))?;
        report.updated.push(key("MachineDeployment", md));
        Ok(())
    }
}

impl Reconciler for MachineDeploymentController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        MachineDeploymentController::reconcile_all(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_and_encoding_follow_apimachinery() {
        // FNV-1a 32-bit test vectors.
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        // SafeEncodeString maps byte % 27 onto "bcdfghjklmnpqrstvwxz2456789": '0' (48) → 21 → '4'.
        assert_eq!(safe_encode("0"), "4");
        assert_eq!(safe_encode("123"), "567");
    }

    #[test]
    fn templates_compare_without_hash_label_or_api_version() {
        let mut a = MachineTemplateSpec::default();
        a.spec.infrastructure_ref.api_version = Some("infrastructure.cluster.x-k8s.io/v1beta1".into());
        let mut b = a.clone();
        b.spec.infrastructure_ref.api_version = Some("infrastructure.cluster.x-k8s.io/v1alpha4".into());
        b.metadata = Some(TemplateMeta {
            labels: BTreeMap::from([(MACHINE_TEMPLATE_HASH_LABEL.to_string(), "1".to_string())]),
            ..TemplateMeta::default()
        });
        assert_eq!(comparable(&a).expect("a"), comparable(&b).expect("b"));
        b.spec.version = Some("v1.24.10+vmware.1".into());
        assert_ne!(comparable(&a).expect("a"), comparable(&b).expect("b"));
    }
}
