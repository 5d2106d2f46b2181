//! The Machine controller: follows a Machine's bootstrap data and infrastructure machine, links
//! it to its workload cluster Node, and tears it down in upstream's order on deletion.
//!
//! Follows upstream Cluster API v1.x, `internal/controllers/machine`:
//! * the `machine.cluster.x-k8s.io` finalizer is added first;
//! * bootstrap is ready once `spec.bootstrap.dataSecretName` is set; the infrastructure
//!   machine gets the Machine as its controller owner and the cluster-name label, and its
//!   `spec.providerID`, `status.ready` and `status.addresses` are copied to the Machine;
//! * `reconcileExternal` copies the infrastructure machine's `status.failureReason` verbatim
//!   and its `status.failureMessage` as `Failure detected from referenced resource <gvk> with
//!   name "<name>": <message>` (set when present, never cleared);
//! * an infrastructure machine deleted after the Machine's infrastructure was ready is a
//!   terminal failure (`InvalidConfiguration`), as upstream reports it;
//! * the Node whose `spec.providerID` equals the Machine's becomes `status.nodeRef`; the Node is
//!   annotated with its Machine; `NodeHealthy` mirrors the Node's Ready condition and is
//!   `False/NodeNotFound` once a linked Node disappears (what a MachineHealthCheck acts on);
//! * `Ready` summarizes `BootstrapReady` and `InfrastructureReady`;
//! * phases as `reconcilePhase` computes them, each rule overriding the previous: Pending;
//!   Provisioning once bootstrap is ready and the infrastructure is not; Provisioned once
//!   `spec.providerID` is set; Running with a nodeRef and ready infrastructure; Failed with a
//!   failureReason or failureMessage; Deleting;
//! * deletion: (drain is out of scope) delete the infrastructure machine and wait until it is
//!   gone, then delete the Node — upstream deletes the Node only after the infrastructure
//!   (kubernetes-sigs/cluster-api#2565), else a still-running kubelet would re-register it —
//!   then remove the finalizer.

use std::collections::BTreeMap;
use std::sync::Arc;

use drdrill_apis::capi::conditions::{self, BOOTSTRAP_READY, INFRASTRUCTURE_READY, NODE_HEALTHY, READY};
use drdrill_apis::capi::machine::phase;
use drdrill_apis::capi::{
    CLUSTER_NAME_LABEL, MACHINE_FINALIZER, Machine, MachineAddress, MachineStatus, NODE_CLUSTER_NAME_ANNOTATION,
    NODE_CLUSTER_NAMESPACE_ANNOTATION, NODE_MACHINE_ANNOTATION,
};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DynamicObject;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::machineset::api_resource;
use super::{
    Context, ControllerError, PassClusters, Reconciler, Report, WorkloadClusters, ensure_owner_ref, false_condition, is_not_found,
    is_paused, key, run_every, set_condition, true_condition,
};

/// Reconciles every Machine of the management cluster.
pub struct MachineController {
    client: Client,
    workloads: Arc<dyn WorkloadClusters>,
    clock: Arc<dyn Clock>,
}

/// Each workload cluster's Nodes as one pass sees them: listed once per cluster, when a Machine
/// of it first needs its Node (an informer's view), instead of once per Machine. `None`: the
/// workload cluster did not answer this pass.
#[derive(Default)]
struct PassNodes(tokio::sync::Mutex<BTreeMap<ClusterKey, Option<Vec<Node>>>>);

/// A workload cluster's (namespace, name).
type ClusterKey = (String, String);

impl MachineController {
    /// A controller for the management cluster behind `client`, reaching workload clusters
    /// through `workloads`.
    pub fn new(client: Client, workloads: Arc<dyn WorkloadClusters>, clock: Arc<dyn Clock>) -> Self {
        MachineController { client, workloads, clock }
    }

    /// One pass over every Machine.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let machines = Api::<Machine>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list Machines".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        let nodes = PassNodes::default();
        for m in machines {
            self.reconcile(&m, &clusters, &nodes, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "machine", period).await;
    }

    fn infra_api(&self, m: &Machine) -> Option<(Api<DynamicObject>, String)> {
        let r = &m.spec.infrastructure_ref;
        let (api_version, kind, name) = (r.api_version.as_ref()?, r.kind.as_ref()?, r.name.clone()?);
        let ns = r.namespace.clone().or_else(|| m.namespace()).unwrap_or_default();
        Some((
            Api::namespaced_with(self.client.clone(), &ns, &api_resource(api_version, kind)),
            name,
        ))
    }

    async fn reconcile(&self, m: &Machine, clusters: &PassClusters, nodes: &PassNodes, report: &mut Report) -> Result<(), ControllerError> {
        let ns = m.namespace().unwrap_or_default();
        let cluster = clusters.get(&ns, &m.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), m.meta()) {
            report.paused.push(key("Machine", m));
            return Ok(());
        }
        let machines: Api<Machine> = Api::namespaced(self.client.clone(), &ns);
        if m.meta().deletion_timestamp.is_some() {
            return self.reconcile_delete(m, &machines, report).await;
        }
        if cluster.is_none() {
            return Ok(());
        }
        if !m.finalizers().iter().any(|f| f == MACHINE_FINALIZER) {
            let mut finalizers = m.finalizers().to_vec();
            finalizers.push(MACHINE_FINALIZER.into());
            machines
                .patch(
                    &m.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
                )
                .await
                .ctx(|| format!("add finalizer to Machine {ns}/{}", m.name_any()))?;
            report.updated.push(key("Machine", m));
        }

        let clock = self.clock.as_ref();
        let old = m.status.clone().unwrap_or_default();
        let mut status: MachineStatus = old.clone();

        status.bootstrap_ready = m.spec.bootstrap.data_secret_name.is_some();
        let bootstrap = if status.bootstrap_ready {
            true_condition(BOOTSTRAP_READY)
        } else {
            false_condition(BOOTSTRAP_READY, "WaitingForDataSecret", "Info", "")
        };
        set_condition(&mut status.conditions, bootstrap, clock);

        let mut provider_id = m.spec.provider_id.clone();
        let infra = match self.infra_api(m) {
            Some((api, name)) => api
                .get_opt(&name)
                .await
                .ctx(|| format!("get infrastructure of Machine {}", m.name_any()))?,
            None => None,
        };
        match &infra {
            None => {
                status.infrastructure_ready = false;
                if old.infrastructure_ready && m.meta().deletion_timestamp.is_none() {
                    let r = &m.spec.infrastructure_ref;
                    status.failure_reason = Some("InvalidConfiguration".into());
                    status.failure_message = Some(format!(
                        "Machine infrastructure resource {} with name {:?} has been deleted after being ready",
                        gvk_string(r.api_version.as_deref().unwrap_or_default(), r.kind.as_deref().unwrap_or_default()),
                        r.name.clone().unwrap_or_default()
                    ));
                }
                set_condition(
                    &mut status.conditions,
                    false_condition(INFRASTRUCTURE_READY, "WaitingForInfrastructure", "Info", ""),
                    clock,
                );
            }
            Some(obj) => {
                self.adopt_infrastructure(m, obj, report).await?;
                copy_failures(obj, &mut status);
                status.infrastructure_ready = obj.data.pointer("/status/ready").and_then(|v| v.as_bool()) == Some(true);
                if let Some(addresses) = obj.data.pointer("/status/addresses") {
                    status.addresses = serde_json::from_value::<Vec<MachineAddress>>(addresses.clone()).unwrap_or_default();
                }
                if let Some(pid) = obj.data.pointer("/spec/providerID").and_then(|v| v.as_str()) {
                    provider_id = Some(pid.to_string());
                }
                let cond = if status.infrastructure_ready {
                    true_condition(INFRASTRUCTURE_READY)
                } else {
                    false_condition(INFRASTRUCTURE_READY, "WaitingForInfrastructure", "Info", "")
                };
                set_condition(&mut status.conditions, cond, clock);
            }
        }
        if provider_id != m.spec.provider_id {
            machines
                .patch(
                    &m.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"providerID": provider_id}})),
                )
                .await
                .ctx(|| format!("set providerID of Machine {ns}/{}", m.name_any()))?;
            report.updated.push(key("Machine", m));
        }

        self.reconcile_node(m, provider_id.as_deref(), nodes, &mut status).await?;

        let ready = [BOOTSTRAP_READY, INFRASTRUCTURE_READY]
            .iter()
            .find_map(|t| conditions::find(&status.conditions, t).filter(|c| !c.is_true()).cloned());
        let summary = match ready {
            None => true_condition(READY),
            Some(c) => false_condition(
                READY,
                c.reason.as_deref().unwrap_or_default(),
                c.severity.as_deref().unwrap_or("Info"),
                c.message.as_deref().unwrap_or_default(),
            ),
        };
        set_condition(&mut status.conditions, summary, clock);

        let mut next = phase::PENDING;
        if status.bootstrap_ready && !status.infrastructure_ready {
            next = phase::PROVISIONING;
        }
        if provider_id.is_some() {
            next = phase::PROVISIONED;
        }
        if status.infrastructure_ready && status.node_ref.is_some() {
            next = phase::RUNNING;
        }
        if status.failure_reason.is_some() || status.failure_message.is_some() {
            next = phase::FAILED;
        }
        if status.phase.as_deref() != Some(next) {
            status.phase = Some(next.into());
            status.last_updated = Some(k8s_time(clock.now()));
        }
        status.observed_generation = m.metadata.generation;
        if status != old {
            machines
                .patch_status(&m.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
                .await
                .ctx(|| format!("update status of Machine {ns}/{}", m.name_any()))?;
            report.updated.push(key("Machine", m));
        }
        Ok(())
    }

    /// Makes the Machine the controller owner of its infrastructure machine (after a restore
    /// dropped the reference) and labels it with the cluster.
    async fn adopt_infrastructure(&self, m: &Machine, obj: &DynamicObject, report: &mut Report) -> Result<(), ControllerError> {
        let uid = m.uid().unwrap_or_default();
        let owned = obj.owner_references().iter().any(|r| r.uid == uid && r.controller == Some(true));
        let labelled = obj.labels().get(CLUSTER_NAME_LABEL) == Some(&m.spec.cluster_name);
        if owned && labelled {
            return Ok(());
        }
        let Some(owner) = m.controller_owner_ref(&()) else { return Ok(()) };
        // A controller reference of someone else (the MachineSet of older versions) is demoted.
        let refs: Vec<_> = ensure_owner_ref(obj.meta(), owner)
            .into_iter()
            .map(|mut r| {
                if r.uid != uid {
                    r.controller = None;
                }
                r
            })
            .collect();
        let patch = json!({"metadata": {"ownerReferences": refs, "labels": {CLUSTER_NAME_LABEL: m.spec.cluster_name}}});
        if let Some((api, name)) = self.infra_api(m) {
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .ctx(|| format!("own infrastructure of Machine {}", m.name_any()))?;
            report.updated.push(format!(
                "{}/{name}",
                obj.types.as_ref().map_or("Infrastructure", |t| t.kind.as_str())
            ));
        }
        Ok(())
    }

    async fn reconcile_node(
        &self,
        m: &Machine,
        provider_id: Option<&str>,
        pass_nodes: &PassNodes,
        status: &mut MachineStatus,
    ) -> Result<(), ControllerError> {
        let clock = self.clock.as_ref();
        let ns = m.namespace().unwrap_or_default();
        let Some(provider_id) = provider_id else {
            set_condition(
                &mut status.conditions,
                false_condition(NODE_HEALTHY, "WaitingForNodeRef", "Info", ""),
                clock,
            );
            return Ok(());
        };
        let Some(client) = self.workloads.client(&ns, &m.spec.cluster_name) else {
            return Ok(()); // upstream: the cluster cache tracker has no connection yet; requeue
        };
        let nodes: Api<Node> = Api::all(client);
        let listed = {
            let mut cache = pass_nodes.0.lock().await;
            let key = (ns.clone(), m.spec.cluster_name.clone());
            if !cache.contains_key(&key) {
                let list = match nodes.list(&ListParams::default()).await {
                    Ok(l) => Some(l.items),
                    Err(e) => {
                        tracing::info!(machine = %m.name_any(), error = %e, "workload cluster unreachable");
                        None
                    }
                };
                cache.insert(key.clone(), list);
            }
            cache.get(&key).cloned().flatten()
        };
        let Some(list) = listed else {
            return Ok(());
        };
        let node = list
            .into_iter()
            .find(|n| n.spec.as_ref().and_then(|s| s.provider_id.as_deref()) == Some(provider_id));
        let Some(node) = node else {
            let cond = if status.node_ref.is_some() {
                false_condition(NODE_HEALTHY, "NodeNotFound", "Error", "")
            } else {
                false_condition(NODE_HEALTHY, "NodeProvisioning", "Info", "")
            };
            set_condition(&mut status.conditions, cond, clock);
            return Ok(());
        };
        status.node_ref = Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.name_any()),
            uid: node.uid(),
            ..ObjectReference::default()
        });
        status.node_info = node.status.as_ref().and_then(|s| s.node_info.clone());
        let want = BTreeMap::from([
            (NODE_CLUSTER_NAME_ANNOTATION.to_string(), m.spec.cluster_name.clone()),
            (NODE_CLUSTER_NAMESPACE_ANNOTATION.to_string(), ns.clone()),
            (NODE_MACHINE_ANNOTATION.to_string(), m.name_any()),
        ]);
        if want.iter().any(|(k, v)| node.annotations().get(k) != Some(v)) {
            nodes
                .patch(
                    &node.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": want}})),
                )
                .await
                .ctx(|| format!("annotate Node {}", node.name_any()))?;
        }
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone());
        let cond = match ready.as_deref() {
            Some("True") => true_condition(NODE_HEALTHY),
            Some("Unknown") => false_condition(NODE_HEALTHY, "NodeConditionsFailed", "Warning", "Node Ready condition is Unknown"),
            _ => false_condition(NODE_HEALTHY, "NodeConditionsFailed", "Warning", "Node is not Ready"),
        };
        set_condition(&mut status.conditions, cond, clock);
        Ok(())
    }

    async fn reconcile_delete(&self, m: &Machine, machines: &Api<Machine>, report: &mut Report) -> Result<(), ControllerError> {
        let ns = m.namespace().unwrap_or_default();
        if !m.finalizers().iter().any(|f| f == MACHINE_FINALIZER) {
            return Ok(());
        }
        if m.status.as_ref().and_then(|s| s.phase.as_deref()) != Some(phase::DELETING) {
            machines
                .patch_status(
                    &m.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"phase": phase::DELETING, "lastUpdated": k8s_time(self.clock.now())}})),
                )
                .await
                .ctx(|| format!("mark Machine {ns}/{} Deleting", m.name_any()))?;
            report.updated.push(key("Machine", m));
        }
        if let Some((api, name)) = self.infra_api(m) {
            let infra = api
                .get_opt(&name)
                .await
                .ctx(|| format!("get infrastructure of Machine {}", m.name_any()))?;
            if let Some(obj) = infra {
                if obj.meta().deletion_timestamp.is_none() {
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => report
                            .deleted
                            .push(format!("{}/{name}", m.spec.infrastructure_ref.kind.clone().unwrap_or_default())),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(e).ctx(|| format!("delete infrastructure of Machine {}", m.name_any())),
                    }
                }
                return Ok(()); // wait until the infrastructure is gone
            }
        }
        if let Some(node) = m.status.as_ref().and_then(|s| s.node_ref.as_ref()).and_then(|r| r.name.clone()) {
            match self.workloads.client(&ns, &m.spec.cluster_name) {
                Some(client) => match Api::<Node>::all(client).delete(&node, &DeleteParams::default()).await {
                    Ok(_) => report.deleted.push(format!("Node/{node}")),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e).ctx(|| format!("delete Node {node} of Machine {}", m.name_any())),
                },
                None => tracing::info!(machine = %m.name_any(), "workload cluster unreachable; Node left behind"),
            }
        }
        let finalizers: Vec<&String> = m.finalizers().iter().filter(|f| *f != MACHINE_FINALIZER).collect();
        machines
            .patch(
                &m.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
            )
            .await
            .ctx(|| format!("remove finalizer of Machine {ns}/{}", m.name_any()))?;
        report.deleted.push(key("Machine", m));
        Ok(())
    }
}

/// `schema.GroupVersionKind.String()`: `infrastructure.cluster.x-k8s.io/v1beta1, Kind=VSphereMachine`.
fn gvk_string(api_version: &str, kind: &str) -> String {
    format!("{api_version}, Kind={kind}")
}

/// The failure part of `reconcileExternal`: a non-empty `status.failureReason` of the referenced
/// object becomes the Machine's; a non-empty `status.failureMessage` becomes the Machine's,
/// prefixed with where it was detected. Nothing is cleared.
fn copy_failures(obj: &DynamicObject, status: &mut MachineStatus) {
    let text = |pointer: &str| obj.data.pointer(pointer).and_then(|v| v.as_str()).filter(|t| !t.is_empty());
    if let Some(reason) = text("/status/failureReason") {
        status.failure_reason = Some(reason.to_string());
    }
    if let Some(message) = text("/status/failureMessage") {
        let (api_version, kind) = obj.types.as_ref().map_or(("", ""), |t| (t.api_version.as_str(), t.kind.as_str()));
        status.failure_message = Some(format!(
            "Failure detected from referenced resource {} with name {:?}: {message}",
            gvk_string(api_version, kind),
            obj.name_any()
        ));
    }
}

impl Reconciler for MachineController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        MachineController::reconcile_all(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_of_the_infrastructure_are_copied_as_upstream_words_them() {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine",
            "metadata": {"name": "wc-md-0-abcde"},
            "status": {"failureReason": "UpdateError", "failureMessage": "Unable to find VM by BIOS UUID 42. The vm was removed from infra"},
        }))
        .expect("object");
        let mut status = MachineStatus::default();
        copy_failures(&obj, &mut status);
        assert_eq!(status.failure_reason.as_deref(), Some("UpdateError"));
        assert_eq!(
            status.failure_message.as_deref(),
            Some(
                "Failure detected from referenced resource infrastructure.cluster.x-k8s.io/v1beta1, Kind=VSphereMachine with name \"wc-md-0-abcde\": Unable to find VM by BIOS UUID 42. The vm was removed from infra"
            )
        );
        // Empty or absent failures change nothing, and nothing is cleared.
        let healthy: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine",
            "metadata": {"name": "wc-md-0-abcde"}, "status": {"failureReason": ""},
        }))
        .expect("object");
        let before = status.clone();
        copy_failures(&healthy, &mut status);
        assert_eq!(status, before);
    }
}
