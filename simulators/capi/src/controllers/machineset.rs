//! The MachineSet controller: keeps `replicas` Machines matching the set's selector, each with
//! an infrastructure machine cloned from the template, and counts the ready ones.
//!
//! Follows upstream Cluster API v1.x, `internal/controllers/machineset`:
//! * Machines matching the selector without a controller ownerReference are **adopted**
//!   (`adoptOrphan`); ones controlled by someone else are ignored; `set-name` and
//!   `deployment-name` labels are restored on the set's Machines;
//! * new Machines are named `<set>-<5 random chars>` (seeded here), labelled with the
//!   template's labels plus `cluster.x-k8s.io/set-name` and `deployment-name`, owned by the set;
//!   the infrastructure template is cloned under the Machine's name (`external.CloneTemplate`,
//!   the v1.4+ naming) with the `cloned-from` annotations;
//! * scale-down deletes by the delete policy, `Random` by default (`getDeletePriorityFunc`):
//!   deleting Machines first, then those with the `delete-machine` annotation or unhealthy
//!   (no nodeRef, a failure, NodeHealthy not True), then the rest, ties broken by name;
//! * remediation: a Machine a MachineHealthCheck marked `OwnerRemediated=False` is deleted and
//!   marked `OwnerRemediated=True`; it is replaced once it is gone (deleting Machines count
//!   toward replicas, as in v1.2);
//!   `Newest`/`Oldest` weight by age over ten days as upstream does;
//! * status: replicas (every Machine counted, deleting ones too, as in v1.2), fullyLabeled,
//!   ready (Node Ready in the workload cluster), available (Ready for `minReadySeconds`), selector.
//!
//! Stand-in: with no kubeadm bootstrap provider in the simulation, a Machine created without
//! bootstrap data gets `bootstrap.dataSecretName` = its own name, the Secret the provider would
//! write for the KubeadmConfig cloned under the Machine's name.

use std::collections::BTreeMap;
use std::sync::Arc;

use drdrill_apis::capi::{
    CLUSTER_NAME_LABEL, Cluster, DELETE_MACHINE_ANNOTATION, DEPLOYMENT_NAME_LABEL, Machine, MachineSet, SET_NAME_LABEL, conditions,
};
use drdrill_kube_sim::clock::Clock;
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::{
    Context, ControllerError, NameGenerator, PassClusters, Reconciler, Report, WorkloadClusters, controller_of, ensure_owner_ref,
    false_condition, is_controlled_by, is_not_found, is_paused, key, run_every, selector_matches, selector_string, set_condition,
    true_condition,
};

/// Annotation naming the template an infrastructure machine was cloned from.
pub const CLONED_FROM_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cloned-from-name";
/// Annotation naming the group and kind of that template.
pub const CLONED_FROM_GROUPKIND_ANNOTATION: &str = "cluster.x-k8s.io/cloned-from-groupkind";

/// Reconciles every MachineSet of the management cluster.
pub struct MachineSetController {
    client: Client,
    workloads: Arc<dyn WorkloadClusters>,
    names: NameGenerator,
    clock: Arc<dyn Clock>,
    adoption_disabled: bool,
}

/// Upstream's delete priorities.
const MUST_DELETE: f64 = 100.0;
const BETTER_DELETE: f64 = 50.0;
const COULD_DELETE: f64 = 20.0;
const SECONDS_PER_TEN_DAYS: f64 = 864_000.0;

/// `isMachineHealthy` of the delete policy.
fn is_machine_healthy(m: &Machine) -> bool {
    let Some(status) = m.status.as_ref() else { return false };
    status.node_ref.is_some()
        && status.failure_reason.is_none()
        && status.failure_message.is_none()
        && conditions::find(&status.conditions, conditions::NODE_HEALTHY).is_none_or(|c| c.is_true())
}

/// Splits `group/version` (or a bare core `version`).
pub(crate) fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

impl MachineSetController {
    /// A controller for the management cluster behind `client`; Machine names come from `names`.
    pub fn new(client: Client, workloads: Arc<dyn WorkloadClusters>, names: NameGenerator, clock: Arc<dyn Clock>) -> Self {
        MachineSetController {
            client,
            workloads,
            names,
            clock,
            adoption_disabled: false,
        }
    }

    /// Fault injection for tests (the property-based explorer): with `disabled`, orphan
    /// Machines matching a set's selector are **not** adopted — they are ignored as if they did
    /// not match, so the set creates new Machines to reach its replicas instead. Off by default,
    /// which is upstream's behaviour.
    pub fn with_adoption_disabled(mut self, disabled: bool) -> Self {
        self.adoption_disabled = disabled;
        self
    }

    /// One pass over every MachineSet.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let sets = Api::<MachineSet>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list MachineSets".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        for ms in sets {
            self.reconcile(&ms, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "machineset", period).await;
    }

    fn delete_priority(&self, policy: &str, m: &Machine) -> f64 {
        if m.meta().deletion_timestamp.is_some() {
            return MUST_DELETE;
        }
        let flagged = m.annotations().contains_key(DELETE_MACHINE_ANNOTATION) || !is_machine_healthy(m);
        let oldest = || {
            let Some(created) = m.meta().creation_timestamp.as_ref() else {
                return 0.0;
            };
            let age = self.clock.now().duration_since(created.0).as_secs_f64();
            if age < 0.0 {
                0.0
            } else {
                MUST_DELETE * (1.0 - (-age / SECONDS_PER_TEN_DAYS).exp())
            }
        };
        match (policy, flagged) {
            ("Oldest" | "Newest", true) => MUST_DELETE,
            ("Oldest", false) => oldest(),
            ("Newest", false) => MUST_DELETE - oldest(),
            (_, true) => BETTER_DELETE,
            (_, false) => COULD_DELETE,
        }
    }

    async fn reconcile(&self, ms: &MachineSet, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = ms.namespace().unwrap_or_default();
        let cluster = clusters.get(&ns, &ms.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), ms.meta()) {
            report.paused.push(key("MachineSet", ms));
            return Ok(());
        }
        let Some(cluster) = cluster else { return Ok(()) };
        if ms.meta().deletion_timestamp.is_some() {
            return Ok(());
        }
        let policy = ms.spec.delete_policy.clone().unwrap_or_default();
        if !matches!(policy.as_str(), "" | "Random" | "Newest" | "Oldest") {
            return Err(ControllerError::Invalid {
                object: format!("MachineSet {ns}/{}", ms.name_any()),
                message: format!("Unsupported delete policy {policy}. Must be one of 'Random', 'Newest', or 'Oldest'"),
            });
        }
        let mut selector = ms.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(CLUSTER_NAME_LABEL.into(), ms.spec.cluster_name.clone());
        let machines_api: Api<Machine> = Api::namespaced(self.client.clone(), &ns);
        let uid = ms.uid().unwrap_or_default();
        let mut machines = Vec::new();
        let selected = ListParams::default().labels(&selector_string(&selector));
        for m in machines_api
            .list(&selected)
            .await
            .ctx(|| format!("list Machines in {ns} selected by MachineSet {}", ms.name_any()))?
        {
            // The server filtered already; this guards against a selector it read differently.
            if !selector_matches(&selector, m.labels()) {
                continue;
            }
            match controller_of(m.meta()) {
                Some(_) if !is_controlled_by(m.meta(), &uid) => continue,
                Some(_) => machines.push(m),
                // Fault injection: the orphan is left alone, as if it did not match.
                None if self.adoption_disabled => continue,
                None => {
                    let owner = ms.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
                        object: format!("MachineSet {ns}/{}", ms.name_any()),
                        message: "no uid".into(),
                    })?;
                    let patch = json!({"metadata": {"ownerReferences": ensure_owner_ref(m.meta(), owner)}});
                    let adopted = machines_api
                        .patch(&m.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                        .await
                        .ctx(|| format!("adopt Machine {ns}/{}", m.name_any()))?;
                    report.adopted.push(key("Machine", &m));
                    machines.push(adopted);
                }
            }
        }
        // Restore the set-name and deployment-name labels on the set's Machines.
        let md_name = ms.labels().get(DEPLOYMENT_NAME_LABEL).cloned();
        for m in &mut machines {
            let set_ok = m.labels().get(SET_NAME_LABEL) == Some(&ms.name_any());
            let md_ok = md_name.is_none() || m.labels().get(DEPLOYMENT_NAME_LABEL) == md_name.as_ref();
            if set_ok && md_ok {
                continue;
            }
            let mut labels = json!({SET_NAME_LABEL: ms.name_any()});
            if let Some(md) = &md_name {
                labels[DEPLOYMENT_NAME_LABEL] = json!(md);
            }
            *m = machines_api
                .patch(
                    &m.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": labels}})),
                )
                .await
                .ctx(|| format!("label Machine {ns}/{}", m.name_any()))?;
            report.updated.push(key("Machine", &*m));
        }

        // Remediate: delete the Machines a MachineHealthCheck marked `OwnerRemediated=False`.
        for m in &mut machines {
            if m.meta().deletion_timestamp.is_some() {
                continue;
            }
            let marked = m
                .status
                .as_ref()
                .and_then(|s| conditions::find(&s.conditions, conditions::OWNER_REMEDIATED))
                .is_some_and(|c| c.status == "False");
            if !marked {
                continue;
            }
            match machines_api.delete(&m.name_any(), &DeleteParams::default()).await {
                Ok(_) => report.deleted.push(key("Machine", &*m)),
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e).ctx(|| format!("delete unhealthy Machine {ns}/{}", m.name_any())),
            }
            let mut conds = m.status.clone().unwrap_or_default().conditions;
            set_condition(&mut conds, true_condition(conditions::OWNER_REMEDIATED), self.clock.as_ref());
            let patch = Patch::Merge(json!({"status": {"conditions": conds}}));
            match machines_api.patch_status(&m.name_any(), &PatchParams::default(), &patch).await {
                Ok(updated) => *m = updated,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e).ctx(|| format!("mark Machine {ns}/{} remediated", m.name_any())),
            }
        }

        let replicas = ms.spec.replicas.unwrap_or(1);
        let diff = machines.len() as i64 - i64::from(replicas);
        if diff < 0 {
            for _ in 0..-diff {
                let m = self.create_machine(ms, &cluster, &machines_api).await?;
                report.created.push(key("Machine", &m));
                machines.push(m);
            }
        } else if diff > 0 {
            let mut ranked: Vec<(f64, &Machine)> = machines.iter().map(|m| (self.delete_priority(&policy, m), m)).collect();
            ranked.sort_by(|(pa, a), (pb, b)| pb.total_cmp(pa).then_with(|| a.name_any().cmp(&b.name_any())));
            for (_, m) in ranked.into_iter().take(diff as usize) {
                if m.meta().deletion_timestamp.is_some() {
                    continue;
                }
                match machines_api.delete(&m.name_any(), &DeleteParams::default()).await {
                    Ok(_) => report.deleted.push(key("Machine", m)),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e).ctx(|| format!("delete Machine {ns}/{}", m.name_any())),
                }
            }
        }
        self.update_status(ms, &cluster, &selector, &machines, report).await
    }

    async fn create_machine(&self, ms: &MachineSet, cluster: &Cluster, machines: &Api<Machine>) -> Result<Machine, ControllerError> {
        let ns = ms.namespace().unwrap_or_default();
        let name = self.names.generate(&format!("{}-", ms.name_any()));
        let template = ms.spec.template.clone();
        let meta = template.metadata.clone().unwrap_or_default();
        let mut labels = meta.labels.clone();
        labels.insert(CLUSTER_NAME_LABEL.into(), cluster.name_any());
        labels.insert(SET_NAME_LABEL.into(), ms.name_any());
        if let Some(md) = ms.labels().get(DEPLOYMENT_NAME_LABEL) {
            labels.insert(DEPLOYMENT_NAME_LABEL.into(), md.clone());
        }
        let mut ms_owner = ms.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
            object: format!("MachineSet {ns}/{}", ms.name_any()),
            message: "no uid".into(),
        })?;
        let infra_ref = self.clone_infrastructure(ms, &name, &labels, &meta.annotations, &ms_owner).await?;
        let mut machine = Machine::new(&name, template.spec.clone());
        machine.spec.cluster_name = ms.spec.cluster_name.clone();
        machine.spec.infrastructure_ref = infra_ref.clone();
        if machine.spec.bootstrap.data_secret_name.is_none() {
            machine.spec.bootstrap.data_secret_name = Some(name.clone());
        }
        machine.metadata.namespace = Some(ns.clone());
        machine.metadata.labels = Some(labels);
        machine.metadata.annotations = (!meta.annotations.is_empty()).then(|| meta.annotations.clone());
        ms_owner.controller = Some(true);
        machine.metadata.owner_references = Some(vec![ms_owner]);
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

    /// Clones the set's infrastructure template under the Machine's name.
    async fn clone_infrastructure(
        &self,
        ms: &MachineSet,
        name: &str,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
        owner: &OwnerReference,
    ) -> Result<ObjectReference, ControllerError> {
        let ns = ms.namespace().unwrap_or_default();
        let tref = &ms.spec.template.spec.infrastructure_ref;
        let object = format!("MachineSet {ns}/{}", ms.name_any());
        clone_template(&self.client, &object, tref, &ns, name, labels, annotations, owner).await
    }

    async fn update_status(
        &self,
        ms: &MachineSet,
        cluster: &Cluster,
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
        machines: &[Machine],
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let nodes: BTreeMap<String, Node> = match self.workloads.client(&ms.namespace().unwrap_or_default(), &cluster.name_any()) {
            Some(client) => match Api::<Node>::all(client).list(&ListParams::default()).await {
                Ok(list) => list.items.into_iter().map(|n| (n.name_any(), n)).collect(),
                Err(e) => {
                    tracing::info!(cluster = %cluster.name_any(), error = %e, "workload cluster unreachable");
                    BTreeMap::new()
                }
            },
            None => BTreeMap::new(),
        };
        let template_labels = ms.spec.template.metadata.as_ref().map(|m| m.labels.clone()).unwrap_or_default();
        let min_ready = i64::from(ms.spec.min_ready_seconds.unwrap_or(0));
        let now = self.clock.now();
        let mut status = ms.status.clone().unwrap_or_default();
        let old = status.clone();
        status.selector = Some(selector_string(selector));
        status.replicas = machines.len() as i32;
        status.fully_labeled_replicas = machines
            .iter()
            .filter(|m| template_labels.iter().all(|(k, v)| m.labels().get(k) == Some(v)))
            .count() as i32;
        let (mut ready, mut available) = (0, 0);
        for m in machines {
            let Some(node_name) = m.status.as_ref().and_then(|s| s.node_ref.as_ref()).and_then(|r| r.name.clone()) else {
                continue;
            };
            let Some(cond) = nodes
                .get(&node_name)
                .and_then(|n| n.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").cloned())
            else {
                continue;
            };
            if cond.status == "True" {
                ready += 1;
                let since = cond.last_transition_time.map(|t| now.duration_since(t.0).as_secs()).unwrap_or(0);
                if min_ready == 0 || since >= min_ready {
                    available += 1;
                }
            }
        }
        status.ready_replicas = ready;
        status.available_replicas = available;
        status.observed_generation = ms.metadata.generation;
        let desired = ms.spec.replicas.unwrap_or(1);
        let clock = self.clock.as_ref();
        if status.replicas < desired {
            let msg = format!("Scaling up MachineSet to {desired} replicas (actual {})", status.replicas);
            set_condition(
                &mut status.conditions,
                false_condition(conditions::RESIZED, "ScalingUp", "Warning", &msg),
                clock,
            );
        } else if status.replicas > desired {
            let msg = format!("Scaling down MachineSet to {desired} replicas (actual {})", status.replicas);
            set_condition(
                &mut status.conditions,
                false_condition(conditions::RESIZED, "ScalingDown", "Warning", &msg),
                clock,
            );
        } else if status.ready_replicas == status.replicas {
            set_condition(&mut status.conditions, true_condition(conditions::RESIZED), clock);
        }
        set_condition(&mut status.conditions, true_condition("MachinesCreated"), clock);
        if status == old {
            return Ok(());
        }
        Api::<MachineSet>::namespaced(self.client.clone(), &ms.namespace().unwrap_or_default())
            .patch_status(&ms.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .ctx(|| format!("update status of MachineSet {}", ms.name_any()))?;
        report.updated.push(key("MachineSet", ms));
        Ok(())
    }
}

/// `external.CloneTemplate`: the template's `spec.template` becomes a new object of the kind
/// without `Template`, named `name` (the Machine's), in `ns`, with the template's labels and
/// annotations plus `labels`, `annotations` and the `cloned-from` annotations, owned by
/// `owner`; `object` names the caller in errors.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn clone_template(
    client: &Client,
    object: &str,
    tref: &ObjectReference,
    ns: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    owner: &OwnerReference,
) -> Result<ObjectReference, ControllerError> {
    let (Some(api_version), Some(kind), Some(tname)) = (&tref.api_version, &tref.kind, &tref.name) else {
        return Err(ControllerError::Invalid {
            object: object.to_string(),
            message: "the infrastructure template reference needs apiVersion, kind and name".into(),
        });
    };
    let tns = tref.namespace.clone().unwrap_or_else(|| ns.to_string());
    let templates: Api<DynamicObject> = Api::namespaced_with(client.clone(), &tns, &api_resource(api_version, kind));
    let tpl = templates.get(tname).await.ctx(|| format!("get {kind} {tns}/{tname}"))?;
    let body = tpl.data.pointer("/spec/template").cloned().unwrap_or_default();
    let target_kind = kind.strip_suffix("Template").unwrap_or(kind).to_string();
    let mut obj_labels: BTreeMap<String, String> = body
        .pointer("/metadata/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    obj_labels.extend(labels.clone());
    let mut obj_annotations: BTreeMap<String, String> = body
        .pointer("/metadata/annotations")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    obj_annotations.extend(annotations.clone());
    obj_annotations.insert(CLONED_FROM_NAME_ANNOTATION.into(), tname.clone());
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    obj_annotations.insert(CLONED_FROM_GROUPKIND_ANNOTATION.into(), format!("{}.{group}", kind));
    let ar = api_resource(api_version, &target_kind);
    let mut obj = DynamicObject::new(name, &ar).within(ns);
    obj.metadata.labels = Some(obj_labels);
    obj.metadata.annotations = Some(obj_annotations);
    obj.metadata.owner_references = Some(vec![owner.clone()]);
    obj.data = json!({"spec": body.get("spec").cloned().unwrap_or_else(|| json!({}))});
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    api.create(&PostParams::default(), &obj)
        .await
        .ctx(|| format!("create {target_kind} {ns}/{name}"))?;
    Ok(ObjectReference {
        api_version: Some(api_version.clone()),
        kind: Some(target_kind),
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        ..ObjectReference::default()
    })
}

impl Reconciler for MachineSetController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        MachineSetController::reconcile_all(self).await
    }
}
