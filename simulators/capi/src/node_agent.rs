//! Kubelets and the node lifecycle controller of a workload cluster, as API clients.
//!
//! A running VM's kubelet registers its Node (re-registering it if someone deleted the Node
//! while the VM still runs, as a real kubelet does), posts Ready with a heartbeat and renews
//! its Lease every [`NODE_STATUS_UPDATE`] of the cluster's clock. A powered-off or deleted VM posts nothing; the node lifecycle controller then
//! marks its Node `Ready=Unknown` once the grace period has passed on the cluster's clock.

use std::sync::Arc;
use std::time::Duration;

use drdrill_kube_sim::clock::{Clock, k8s_micro_time, k8s_time};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::site::{PowerState, Site, Vm, VmRole};

/// kube-controller-manager's default `--node-monitor-grace-period`.
pub const NODE_MONITOR_GRACE: Duration = Duration::from_secs(40);

/// The kubelet's default `nodeStatusUpdateFrequency`: how often a healthy kubelet posts its
/// status (and, here, renews its Lease).
pub const NODE_STATUS_UPDATE: Duration = Duration::from_secs(10);

/// What one kubelet pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AgentReport {
    /// Nodes created (first registration or re-registration).
    pub registered: Vec<String>,
    /// Nodes that posted a heartbeat.
    pub heartbeats: Vec<String>,
}

/// The kubelets of one workload cluster's VMs.
#[derive(Clone)]
pub struct NodeAgent {
    site: Site,
    cluster: String,
    client: Client,
    clock: Arc<dyn Clock>,
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

impl NodeAgent {
    /// Kubelets for the VMs of `cluster` in `site`, talking to the workload cluster via `client`.
    pub fn new(site: Site, cluster: &str, client: Client, clock: Arc<dyn Clock>) -> Self {
        NodeAgent {
            site,
            cluster: cluster.to_string(),
            client,
            clock,
        }
    }

    fn ready_condition(&self, now: &str) -> serde_json::Value {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    }

    fn new_node(&self, vm: &Vm, now: &str) -> Result<Node, serde_json::Error> {
        let mut labels = json!({"kubernetes.io/hostname": vm.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"});
        let mut taints = json!([]);
        if vm.role == VmRole::ControlPlane {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
            taints = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
        }
        serde_json::from_value(json!({
            "metadata": {"name": vm.name, "labels": labels, "annotations": {"cluster.x-k8s.io/cluster-name": self.cluster}},
            "spec": {"providerID": vm.provider_id(), "taints": taints},
            "status": {
                "conditions": [self.ready_condition(now)],
                "addresses": [{"type": "InternalIP", "address": vm.ip_address()}, {"type": "Hostname", "address": vm.name}],
                "nodeInfo": {"kubeletVersion": vm.kubelet_version, "kubeProxyVersion": vm.kubelet_version, "osImage": "Ubuntu 20.04.5 LTS",
                             "kernelVersion": "5.4.0-135-generic", "containerRuntimeVersion": "containerd://1.6.6", "operatingSystem": "linux",
                             "architecture": "amd64", "machineID": vm.uuid.replace('-', ""), "systemUUID": vm.uuid, "bootID": vm.uuid},
            },
        }))
    }

    /// One pass of every running VM's kubelet: an unregistered VM registers its Node; a
    /// registered one posts its status and renews its Lease when [`NODE_STATUS_UPDATE`] has
    /// passed since its last heartbeat, or at once when its Node is not Ready or still carries
    /// the unreachable taints (a kubelet that comes back reports right away).
    pub async fn sync(&self) -> Result<AgentReport, kube::Error> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-node-lease");
        let mut report = AgentReport::default();
        let now_ts = self.clock.now();
        let now = k8s_time(now_ts);
        let vms: Vec<Vm> = self
            .site
            .vms_of(&self.cluster)
            .into_iter()
            .filter(|v| v.power == PowerState::On)
            .collect();
        if vms.is_empty() {
            return Ok(report);
        }
        let mut registered: std::collections::BTreeMap<String, Node> = nodes
            .list(&Default::default())
            .await?
            .into_iter()
            .map(|n| (n.name_any(), n))
            .collect();
        let update = jiff::SignedDuration::try_from(NODE_STATUS_UPDATE).unwrap_or(jiff::SignedDuration::MAX);
        for vm in vms {
            match registered.remove(&vm.name) {
                None => {
                    let node = self.new_node(&vm, &now).map_err(kube::Error::SerdeError)?;
                    nodes.create(&PostParams::default(), &node).await?;
                    report.registered.push(vm.name.clone());
                }
                Some(node) => {
                    let ready = node
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
                    let unreachable = node
                        .spec
                        .as_ref()
                        .and_then(|s| s.taints.as_ref())
                        .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/unreachable"));
                    let recent = ready
                        .filter(|c| c.status == "True")
                        .and_then(|c| c.last_heartbeat_time.as_ref())
                        .is_some_and(|beat| now_ts.duration_since(beat.0) < update);
                    if recent && !unreachable {
                        continue;
                    }
                    self.post_status(&nodes, &node, &now).await?;
                }
            }
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": vm.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": vm.name, "leaseDurationSeconds": 40, "renewTime": k8s_micro_time(now_ts)}});
            leases
                .patch(&vm.name, &PatchParams::apply("kubelet").force(), &Patch::Apply(lease))
                .await?;
            report.heartbeats.push(vm.name.clone());
        }
        Ok(report)
    }

    /// Posts Ready with a heartbeat at `now` (keeping when it became Ready) and clears the
    /// unreachable taints the lifecycle controller set.
    async fn post_status(&self, nodes: &Api<Node>, node: &Node, now: &str) -> Result<(), kube::Error> {
        let mut conditions: Vec<serde_json::Value> = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .filter(|c| c.type_ != "Ready")
                    .filter_map(|c| serde_json::to_value(c).ok())
                    .collect()
            })
            .unwrap_or_default();
        let was_ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .filter(|c| c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.to_string());
        let mut ready = self.ready_condition(now);
        if let Some(since) = was_ready {
            ready["lastTransitionTime"] = json!(since);
        }
        conditions.push(ready);
        let status = json!({"status": {"conditions": conditions}});
        nodes
            .patch_status(&node.name_any(), &PatchParams::default(), &Patch::Merge(status))
            .await?;
        let taints: Vec<serde_json::Value> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .filter(|t| t.key != "node.kubernetes.io/unreachable")
                    .filter_map(|t| serde_json::to_value(t).ok())
                    .collect()
            })
            .unwrap_or_default();
        if taints.len() != node.spec.as_ref().and_then(|s| s.taints.as_ref()).map_or(0, Vec::len) {
            nodes
                .patch(
                    &node.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"taints": taints}})),
                )
                .await?;
        }
        Ok(())
    }
}

/// kube-controller-manager's node lifecycle controller, reduced to what drills observe.
#[derive(Clone)]
pub struct NodeLifecycle {
    client: Client,
    clock: Arc<dyn Clock>,
    grace: Duration,
}

impl NodeLifecycle {
    /// A controller with the default grace period.
    pub fn new(client: Client, clock: Arc<dyn Clock>) -> Self {
        NodeLifecycle {
            client,
            clock,
            grace: NODE_MONITOR_GRACE,
        }
    }

    /// Marks nodes whose kubelet stopped posting status `Ready=Unknown` and taints them
    /// unreachable; returns the names it changed.
    pub async fn sync(&self) -> Result<Vec<String>, kube::Error> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let now = self.clock.now();
        let mut changed = Vec::new();
        for node in nodes.list(&Default::default()).await? {
            let Some(ready) = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            else {
                continue;
            };
            if ready.status == "Unknown" {
                continue;
            }
            let Some(beat) = ready.last_heartbeat_time.as_ref() else { continue };
            let silent = now.duration_since(beat.0);
            if silent < jiff::SignedDuration::try_from(self.grace).unwrap_or(jiff::SignedDuration::MAX) {
                continue;
            }
            let conditions: Vec<serde_json::Value> = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| serde_json::to_value(c).ok())
                        .map(|mut c| {
                            if c["type"] == "Ready" {
                                c["status"] = json!("Unknown");
                                c["reason"] = json!("NodeStatusUnknown");
                                c["message"] = json!("Kubelet stopped posting node status.");
                                c["lastTransitionTime"] = json!(k8s_time(now));
                            }
                            c
                        })
                        .collect()
                })
                .unwrap_or_default();
            let name = node.name_any();
            nodes
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"conditions": conditions}})),
                )
                .await?;
            let mut taints: Vec<serde_json::Value> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .map(|ts| ts.iter().filter_map(|t| serde_json::to_value(t).ok()).collect())
                .unwrap_or_default();
            for effect in ["NoSchedule", "NoExecute"] {
                if !taints
                    .iter()
                    .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == effect)
                {
                    taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": k8s_time(now)}));
                }
            }
            nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"taints": taints}})))
                .await?;
            changed.push(name);
        }
        Ok(changed)
    }
}

/// The vSphere cloud provider's node lifecycle controller (cloud-controller-manager): a Node
/// that is not Ready and whose VM no longer exists at the Site is deleted, as upstream's
/// `CloudNodeLifecycleController` does when `InstanceExistsByProviderID` says the instance is
/// gone. Ready Nodes are never touched, whatever the inventory says.
#[derive(Clone)]
pub struct CloudNodeLifecycle {
    site: Site,
    client: Client,
}

impl CloudNodeLifecycle {
    /// The controller of the workload cluster behind `client`, asking `site` about instances.
    pub fn new(site: Site, client: Client) -> Self {
        CloudNodeLifecycle { site, client }
    }

    /// Deletes not-Ready Nodes whose VM is gone; returns their names.
    pub async fn sync(&self) -> Result<Vec<String>, kube::Error> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let vms = self.site.list();
        let mut deleted = Vec::new();
        for node in nodes.list(&Default::default()).await? {
            let ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True");
            let Some(provider_id) = node.spec.as_ref().and_then(|s| s.provider_id.clone()) else {
                continue;
            };
            if ready || !provider_id.starts_with("vsphere://") || vms.iter().any(|vm| vm.provider_id() == provider_id) {
                continue;
            }
            let name = node.name_any();
            match nodes.delete(&name, &Default::default()).await {
                Ok(_) => deleted.push(name),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}
