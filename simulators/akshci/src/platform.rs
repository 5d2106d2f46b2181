//! The AKS-HCI platform: the host cluster, the management cluster (one VM running the AKS
//! host's Kubernetes API server), and the workload clusters the cluster controller builds from
//! AksHciCluster objects — their control-plane, load-balancer and node-pool VMs, and one API
//! server per workload cluster whose Nodes register while their VMs run.
//!
//! Every pass ([`AksHciPlatform::sync`]) runs what the real platform runs continuously: the
//! failover cluster restarts failed VMs elsewhere; an API server serves only while a VM that
//! hosts it runs (the management VM for the management cluster, any control-plane VM for a
//! workload cluster); kubelets heartbeat; and, only while the management cluster answers, the
//! cluster controller reconciles VMs to the AksHciCluster objects (through the Kubernetes API).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use drdrill_kube_sim::clock::{Clock, k8s_time};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

use crate::apis::{
    AksHciCluster, AksHciClusterStatus, AksHciConfig, AksHciConfigSpec, CLUSTER_FINALIZER, CONFIG_NAME, NodePoolStatus, VmStatus,
};
use crate::hosts::{Failover, HciVm, HostCluster, HostError, VmRole, VmSpec};

/// Name of the management cluster's VM on the host cluster.
pub const MANAGEMENT_VM: &str = "akshci-mgmt-control-plane";
/// Namespace of the management cluster where `<cluster>-kubeconfig` Secrets live.
pub const KUBECONFIG_NAMESPACE: &str = "default";
/// Label on worker Nodes naming their node pool.
pub const NODE_POOL_LABEL: &str = "akshci.drdrill.dev/node-pool";
/// How long a Node may stay silent before it is marked `Ready=Unknown`.
pub const NODE_MONITOR_GRACE: Duration = Duration::from_secs(40);

/// Why a platform operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// `Install-AksHci` without `Set-AksHciConfig` first.
    #[error("no AKS-HCI configuration is set on host cluster {0:?}: run Set-AksHciConfig before Install-AksHci")]
    NoConfig(String),
    /// A management cluster already runs.
    #[error("AKS-HCI is already installed on host cluster {0:?} (run Uninstall-AksHci first)")]
    AlreadyInstalled(String),
    /// No management cluster.
    #[error("AKS-HCI is not installed on host cluster {0:?} (run Set-AksHciConfig and Install-AksHci)")]
    NotInstalled(String),
    /// The host cluster refused.
    #[error(transparent)]
    Host(#[from] HostError),
    /// An API server did not start or come back.
    #[error("API server of {cluster}: {source}")]
    Server {
        /// Cluster name.
        cluster: String,
        /// The server's error.
        #[source]
        source: drdrill_kube_sim::ServerError,
    },
    /// A request failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

fn kube_ctx(action: impl Into<String>) -> impl FnOnce(kube::Error) -> PlatformError {
    let action = action.into();
    move |source| PlatformError::Kube { action, source }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// VMs the failover cluster moved.
    pub failovers: Vec<Failover>,
    /// VMs created.
    pub created_vms: Vec<String>,
    /// VMs removed.
    pub deleted_vms: Vec<String>,
    /// Nodes registered or removed, and Nodes whose readiness or version changed.
    pub node_changes: Vec<String>,
    /// API servers that went offline or came back (`<cluster> offline|online`).
    pub server_changes: Vec<String>,
    /// Cluster objects whose status or finalizers changed.
    pub updated_clusters: Vec<String>,
    /// Whether the management cluster answered during the pass.
    pub management_online: bool,
}

impl SyncReport {
    /// Whether the pass changed anything.
    pub fn changed(&self) -> bool {
        !(self.failovers.is_empty()
            && self.created_vms.is_empty()
            && self.deleted_vms.is_empty()
            && self.node_changes.is_empty()
            && self.server_changes.is_empty()
            && self.updated_clusters.is_empty())
    }
}

struct Served {
    server: ApiServer,
    client: Client,
}

#[derive(Default)]
struct State {
    staged: Option<AksHciConfigSpec>,
    mgmt: Option<Served>,
    workloads: BTreeMap<String, Served>,
    servers_started: u64,
}

/// The platform: cheap to clone, every clone drives the same world.
#[derive(Clone)]
pub struct AksHciPlatform {
    hosts: HostCluster,
    clock: Arc<dyn Clock>,
    seed: u64,
    state: Arc<tokio::sync::Mutex<State>>,
}

async fn client_for(server: &ApiServer, context: &str) -> Result<Client, PlatformError> {
    let ctx = |source: kube::Error| PlatformError::Kube {
        action: format!("building a client for {context}"),
        source,
    };
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml(context)).map_err(|e| ctx(kube::Error::InferKubeconfig(e)))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| ctx(kube::Error::InferKubeconfig(e)))?;
    drdrill_kube_sim::client::connect(config).map_err(ctx)
}

/// The admin context name of a cluster's kubeconfig (`<cluster>-admin@<cluster>`).
pub fn admin_context(cluster: &str) -> String {
    format!("{cluster}-admin@{cluster}")
}

impl AksHciPlatform {
    /// A platform on `hosts`; API server uids and tokens derive from `seed`.
    pub fn new(hosts: HostCluster, clock: Arc<dyn Clock>, seed: u64) -> Self {
        AksHciPlatform {
            hosts,
            clock,
            seed,
            state: Arc::new(tokio::sync::Mutex::new(State::default())),
        }
    }

    /// The host cluster.
    pub fn hosts(&self) -> &HostCluster {
        &self.hosts
    }

    /// The platform's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// `Set-AksHciConfig`: the configuration the next `Install-AksHci` deploys with (kept on the
    /// host cluster's storage, not in any Kubernetes cluster).
    pub async fn stage_config(&self, config: AksHciConfigSpec) {
        self.state.lock().await.staged = Some(config);
    }

    /// The configuration `Set-AksHciConfig` last set, if any.
    pub async fn staged_config(&self) -> Option<AksHciConfigSpec> {
        self.state.lock().await.staged.clone()
    }

    /// Whether a management cluster exists (running or not).
    pub async fn is_installed(&self) -> bool {
        self.state.lock().await.mgmt.is_some()
    }

    /// The management cluster's VM, if installed.
    pub fn management_vm(&self) -> Option<HciVm> {
        self.hosts.vm(MANAGEMENT_VM)
    }

    async fn start_server(&self, state: &mut State, cluster: &str) -> Result<Served, PlatformError> {
        state.servers_started += 1;
        let server = ApiServer::start(ServerOptions {
            cluster_name: cluster.to_string(),
            seed: self.seed.wrapping_add(state.servers_started),
            clock: self.clock.clone(),
            ..Default::default()
        })
        .await
        .map_err(|source| PlatformError::Server {
            cluster: cluster.to_string(),
            source,
        })?;
        let client = client_for(&server, &admin_context(cluster)).await?;
        Ok(Served { server, client })
    }

    /// `Install-AksHci`: creates the management VM, starts its API server, installs the AKS-HCI
    /// CRDs and records the staged configuration as the AksHciConfig object.
    pub async fn install(&self) -> Result<HciVm, PlatformError> {
        let mut state = self.state.lock().await;
        if state.mgmt.is_some() {
            return Err(PlatformError::AlreadyInstalled(self.hosts.name().to_string()));
        }
        let config = state
            .staged
            .clone()
            .ok_or_else(|| PlatformError::NoConfig(self.hosts.name().to_string()))?;
        let vm = self.hosts.create_vm(VmSpec {
            name: MANAGEMENT_VM.into(),
            cluster: String::new(),
            role: VmRole::Management,
            vm_size: config.control_plane_vm_size.clone(),
            os_type: "Linux".into(),
            kubernetes_version: String::new(),
        })?;
        let served = match self.start_server(&mut state, "akshci-mgmt").await {
            Ok(s) => s,
            Err(e) => {
                let _ = self.hosts.delete_vm(MANAGEMENT_VM);
                return Err(e);
            }
        };
        if let Err(e) = Self::bootstrap(&served.client, config).await {
            // A half-installed management cluster is removed, as a failed Install-AksHci cleans up.
            let _ = self.hosts.delete_vm(MANAGEMENT_VM);
            return Err(e);
        }
        state.mgmt = Some(served);
        Ok(vm)
    }

    /// Installs the CRDs and records the configuration in a new management cluster.
    async fn bootstrap(client: &Client, config: AksHciConfigSpec) -> Result<(), PlatformError> {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in crate::apis::crds() {
            crds.create(&PostParams::default(), &crd)
                .await
                .map_err(kube_ctx(format!("installing CRD {}", crd.name_any())))?;
        }
        let configs: Api<AksHciConfig> = Api::all(client.clone());
        configs
            .create(&PostParams::default(), &AksHciConfig::new(CONFIG_NAME, config))
            .await
            .map_err(kube_ctx("recording the AKS-HCI configuration"))?;
        Ok(())
    }

    /// `Uninstall-AksHci`: removes every workload cluster's VMs and API server, the management
    /// VM and cluster, and the configuration; returns the removed VMs' names.
    pub async fn uninstall(&self) -> Result<Vec<String>, PlatformError> {
        let mut state = self.state.lock().await;
        if state.mgmt.is_none() {
            return Err(PlatformError::NotInstalled(self.hosts.name().to_string()));
        }
        let mut removed = Vec::new();
        for vm in self.hosts.list() {
            self.hosts.delete_vm(vm.name())?;
            removed.push(vm.spec.name);
        }
        state.workloads.clear();
        state.mgmt = None;
        state.staged = None;
        Ok(removed)
    }

    /// A client of the management cluster (its requests fail while the management VM is down).
    pub async fn management_client(&self) -> Result<Client, PlatformError> {
        let state = self.state.lock().await;
        state
            .mgmt
            .as_ref()
            .map(|m| m.client.clone())
            .ok_or_else(|| PlatformError::NotInstalled(self.hosts.name().to_string()))
    }

    /// The management cluster's kubeconfig (the file the AKS host keeps in its working directory).
    pub async fn management_kubeconfig(&self) -> Option<String> {
        let state = self.state.lock().await;
        state.mgmt.as_ref().map(|m| m.server.kubeconfig_yaml(&admin_context("akshci-mgmt")))
    }

    /// Whether a workload cluster's API server exists and serves.
    pub async fn workload_online(&self, cluster: &str) -> Option<bool> {
        self.state.lock().await.workloads.get(cluster).map(|w| w.server.is_online())
    }

    /// Names of the workload clusters that have an API server.
    pub async fn workload_clusters(&self) -> Vec<String> {
        self.state.lock().await.workloads.keys().cloned().collect()
    }

    /// One pass of the platform (see the module documentation).
    pub async fn sync(&self) -> Result<SyncReport, PlatformError> {
        let mut report = SyncReport {
            failovers: self.hosts.failover(),
            ..Default::default()
        };
        let mut state = self.state.lock().await;
        let mgmt_running = self.management_vm().is_some_and(|vm| vm.is_running());
        if let Some(mgmt) = state.mgmt.as_mut() {
            set_online(&mut mgmt.server, "akshci-mgmt", mgmt_running, &mut report).await?;
        }
        for (cluster, served) in state.workloads.iter_mut() {
            let serving = self
                .hosts
                .vms_of(cluster)
                .iter()
                .any(|vm| vm.spec.role == VmRole::ControlPlane && vm.is_running());
            set_online(&mut served.server, cluster, serving, &mut report).await?;
        }
        for (cluster, served) in state.workloads.iter() {
            if served.server.is_online() {
                report.node_changes.extend(self.kubelets(cluster, &served.client).await?);
            }
        }
        report.management_online = state.mgmt.as_ref().is_some_and(|m| m.server.is_online());
        if report.management_online {
            self.reconcile_clusters(&mut state, &mut report).await?;
        }
        Ok(report)
    }

    /// Runs passes until one changes nothing (at most `max_passes`); returns every report.
    pub async fn settle(&self, max_passes: usize) -> Result<Vec<SyncReport>, PlatformError> {
        let mut reports = Vec::new();
        for _ in 0..max_passes {
            let report = self.sync().await?;
            let changed = report.changed();
            reports.push(report);
            if !changed {
                break;
            }
        }
        Ok(reports)
    }

    /// Kubelets and the node lifecycle of one workload cluster; returns what changed.
    async fn kubelets(&self, cluster: &str, client: &Client) -> Result<Vec<String>, PlatformError> {
        let nodes: Api<Node> = Api::all(client.clone());
        let now_ts = self.clock.now();
        let now = k8s_time(now_ts);
        let vms: BTreeMap<String, HciVm> = self
            .hosts
            .vms_of(cluster)
            .into_iter()
            .filter(|vm| matches!(vm.spec.role, VmRole::ControlPlane | VmRole::Worker(_)))
            .map(|vm| (vm.spec.name.clone(), vm))
            .collect();
        let existing: BTreeMap<String, Node> = nodes
            .list(&ListParams::default())
            .await
            .map_err(kube_ctx(format!("listing Nodes of {cluster}")))?
            .into_iter()
            .map(|n| (n.name_any(), n))
            .collect();
        let mut changes = Vec::new();
        for (name, node) in &existing {
            if !vms.contains_key(name) {
                match nodes.delete(name, &DeleteParams::default()).await {
                    Ok(_) => changes.push(format!("{cluster}/{name} removed")),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(kube_ctx(format!("removing Node {name} of {cluster}"))(e)),
                }
                continue;
            }
            let vm = &vms[name];
            let ready = ready_condition(node);
            if vm.is_running() {
                let version = node
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kubelet_version.clone());
                if ready.as_ref().map(|r| r.0.as_str()) != Some("True") || version.as_deref() != Some(&vm.spec.kubernetes_version) {
                    changes.push(format!("{cluster}/{name} ready"));
                }
                let since = match &ready {
                    Some((status, since)) if status == "True" => since.clone(),
                    _ => now.clone(),
                };
                let status = json!({"status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                                     "lastHeartbeatTime": now, "lastTransitionTime": since}],
                    "nodeInfo": node_info(vm),
                }});
                nodes
                    .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
                    .await
                    .map_err(kube_ctx(format!("posting status of Node {name} in {cluster}")))?;
            } else if ready.as_ref().is_some_and(|(status, _)| status != "Unknown") {
                let beat = node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                    .and_then(|c| c.last_heartbeat_time.as_ref())
                    .map(|t| t.0);
                let grace = jiff::SignedDuration::try_from(NODE_MONITOR_GRACE).unwrap_or(jiff::SignedDuration::MAX);
                if beat.is_none_or(|b| now_ts.duration_since(b) >= grace) {
                    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": beat.map(k8s_time), "lastTransitionTime": now}]}});
                    nodes
                        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
                        .await
                        .map_err(kube_ctx(format!("marking Node {name} of {cluster} unknown")))?;
                    changes.push(format!("{cluster}/{name} unknown"));
                }
            }
        }
        for (name, vm) in vms.iter().filter(|(n, vm)| vm.is_running() && !existing.contains_key(*n)) {
            let node = new_node(cluster, vm, &now).map_err(|e| kube_ctx(format!("building Node {name}"))(kube::Error::SerdeError(e)))?;
            nodes
                .create(&PostParams::default(), &node)
                .await
                .map_err(kube_ctx(format!("registering Node {name} in {cluster}")))?;
            changes.push(format!("{cluster}/{name} registered"));
        }
        Ok(changes)
    }

    /// The cluster controller, through the management cluster's API.
    async fn reconcile_clusters(&self, state: &mut State, report: &mut SyncReport) -> Result<(), PlatformError> {
        let Some(mgmt) = state.mgmt.as_ref().map(|m| m.client.clone()) else {
            return Ok(());
        };
        let clusters: Api<AksHciCluster> = Api::all(mgmt.clone());
        let secrets: Api<Secret> = Api::namespaced(mgmt.clone(), KUBECONFIG_NAMESPACE);
        let list = clusters
            .list(&ListParams::default())
            .await
            .map_err(kube_ctx("listing AksHciClusters"))?;
        for cluster in list {
            let name = cluster.name_any();
            if cluster.metadata.deletion_timestamp.is_some() {
                for vm in self.hosts.vms_of(&name) {
                    self.hosts.delete_vm(vm.name())?;
                    report.deleted_vms.push(vm.spec.name);
                }
                state.workloads.remove(&name);
                match secrets.delete(&format!("{name}-kubeconfig"), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(kube_ctx(format!("removing the kubeconfig Secret of {name}"))(e)),
                }
                let finalizers: Vec<String> = cluster.finalizers().iter().filter(|f| *f != CLUSTER_FINALIZER).cloned().collect();
                clusters
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
                    )
                    .await
                    .map_err(kube_ctx(format!("releasing AksHciCluster {name}")))?;
                report.updated_clusters.push(name);
                continue;
            }
            if !cluster.finalizers().iter().any(|f| f == CLUSTER_FINALIZER) {
                let mut finalizers = cluster.finalizers().to_vec();
                finalizers.push(CLUSTER_FINALIZER.to_string());
                clusters
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
                    )
                    .await
                    .map_err(kube_ctx(format!("adding the finalizer to AksHciCluster {name}")))?;
                report.updated_clusters.push(name.clone());
            }
            self.reconcile_vms(&cluster, report)?;
            if !state.workloads.contains_key(&name) {
                let served = self.start_server(state, &name).await?;
                state.workloads.insert(name.clone(), served);
                report.server_changes.push(format!("{name} started"));
            }
            let served = &state.workloads[&name];
            let kubeconfig = served.server.kubeconfig_yaml(&admin_context(&name));
            let current = secrets
                .get_opt(&format!("{name}-kubeconfig"))
                .await
                .map_err(kube_ctx("reading kubeconfig Secret"))?;
            if current.is_none() {
                let secret = Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(format!("{name}-kubeconfig")),
                        namespace: Some(KUBECONFIG_NAMESPACE.to_string()),
                        labels: Some([("akshci.drdrill.dev/cluster".to_string(), name.clone())].into()),
                        ..Default::default()
                    },
                    data: Some([("value".to_string(), k8s_openapi::ByteString(kubeconfig.into_bytes()))].into()),
                    ..Default::default()
                };
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .map_err(kube_ctx(format!("storing the kubeconfig of {name}")))?;
            }
            let status = self.observe(&cluster, served).await?;
            if cluster.status.as_ref() != Some(&status) {
                clusters
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
                    .await
                    .map_err(kube_ctx(format!("updating the status of AksHciCluster {name}")))?;
                report.updated_clusters.push(name);
            }
        }
        Ok(())
    }

    /// Creates, removes and upgrades VMs so the cluster's VMs match its spec.
    fn reconcile_vms(&self, cluster: &AksHciCluster, report: &mut SyncReport) -> Result<(), PlatformError> {
        let name = cluster.name_any();
        let spec = &cluster.spec;
        let mut groups: Vec<(VmRole, String, String, u32, String)> = vec![
            (
                VmRole::ControlPlane,
                format!("{name}-control-plane"),
                spec.control_plane_vm_size.clone(),
                spec.control_plane_node_count,
                "Linux".to_string(),
            ),
            (
                VmRole::LoadBalancer,
                format!("{name}-load-balancer"),
                spec.load_balancer_vm_size.clone(),
                spec.load_balancer_count,
                "Linux".to_string(),
            ),
        ];
        for pool in &spec.node_pools {
            groups.push((
                VmRole::Worker(pool.name.clone()),
                format!("{name}-{}", pool.name),
                pool.vm_size.clone(),
                pool.count,
                pool.os_type.clone(),
            ));
        }
        let wanted_roles: BTreeSet<VmRole> = groups.iter().map(|g| g.0.clone()).collect();
        for vm in self
            .hosts
            .vms_of(&name)
            .into_iter()
            .filter(|vm| !wanted_roles.contains(&vm.spec.role))
        {
            self.hosts.delete_vm(vm.name())?;
            report.deleted_vms.push(vm.spec.name);
        }
        for (role, prefix, size, count, os) in groups {
            let mut existing: Vec<(u32, HciVm)> = Vec::new();
            for vm in self.hosts.vms_of(&name).into_iter().filter(|vm| vm.spec.role == role) {
                if vm.spec.vm_size != size || vm.spec.os_type != os {
                    self.hosts.delete_vm(vm.name())?;
                    report.deleted_vms.push(vm.spec.name);
                    continue;
                }
                let index = vm
                    .spec
                    .name
                    .strip_prefix(&format!("{prefix}-"))
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(u32::MAX);
                existing.push((index, vm));
            }
            existing.sort_by_key(|(i, _)| *i);
            while existing.len() > count as usize {
                if let Some((_, vm)) = existing.pop() {
                    self.hosts.delete_vm(vm.name())?;
                    report.deleted_vms.push(vm.spec.name);
                }
            }
            let used: BTreeSet<u32> = existing.iter().map(|(i, _)| *i).collect();
            let mut free = (0..).filter(|i| !used.contains(i));
            for _ in existing.len()..count as usize {
                let index = free.next().unwrap_or(u32::MAX);
                let vm = self.hosts.create_vm(VmSpec {
                    name: format!("{prefix}-{index}"),
                    cluster: name.clone(),
                    role: role.clone(),
                    vm_size: size.clone(),
                    os_type: os.clone(),
                    kubernetes_version: spec.kubernetes_version.clone(),
                })?;
                report.created_vms.push(vm.spec.name);
            }
            if role != VmRole::LoadBalancer {
                for (_, vm) in existing
                    .iter()
                    .filter(|(_, vm)| vm.spec.kubernetes_version != spec.kubernetes_version)
                {
                    self.hosts.set_kubernetes_version(vm.name(), &spec.kubernetes_version)?;
                }
            }
        }
        Ok(())
    }

    /// The status of a cluster from its VMs and its workload cluster's Nodes.
    async fn observe(&self, cluster: &AksHciCluster, served: &Served) -> Result<AksHciClusterStatus, PlatformError> {
        let name = cluster.name_any();
        let vms = self.hosts.vms_of(&name);
        let ready: BTreeSet<String> = if served.server.is_online() {
            Api::<Node>::all(served.client.clone())
                .list(&ListParams::default())
                .await
                .map_err(kube_ctx(format!("listing Nodes of {name}")))?
                .iter()
                .filter(|n| ready_condition(n).is_some_and(|(s, _)| s == "True"))
                .filter(|n| {
                    n.status
                        .as_ref()
                        .and_then(|s| s.node_info.as_ref())
                        .is_some_and(|i| i.kubelet_version == cluster.spec.kubernetes_version)
                })
                .map(|n| n.name_any())
                .collect()
        } else {
            BTreeSet::new()
        };
        let mut node_pools = Vec::new();
        for pool in &cluster.spec.node_pools {
            let ready_nodes = vms
                .iter()
                .filter(|vm| vm.spec.role == VmRole::Worker(pool.name.clone()) && ready.contains(vm.name()))
                .count() as u32;
            node_pools.push(NodePoolStatus {
                name: pool.name.clone(),
                ready_nodes,
                phase: if ready_nodes == pool.count { "Deployed" } else { "Deploying" }.to_string(),
            });
        }
        let cp_ready = vms
            .iter()
            .filter(|vm| vm.spec.role == VmRole::ControlPlane && ready.contains(vm.name()))
            .count() as u32;
        let lb_running = vms
            .iter()
            .filter(|vm| vm.spec.role == VmRole::LoadBalancer && vm.is_running())
            .count() as u32;
        let provisioned = cp_ready == cluster.spec.control_plane_node_count
            && lb_running == cluster.spec.load_balancer_count
            && node_pools.iter().all(|p| p.phase == "Deployed");
        Ok(AksHciClusterStatus {
            provisioning_state: if provisioned { "provisioned" } else { "provisioning" }.to_string(),
            vms: vms
                .iter()
                .map(|vm| VmStatus {
                    name: vm.spec.name.clone(),
                    role: vm.spec.role.label().to_string(),
                    node_pool: match &vm.spec.role {
                        VmRole::Worker(pool) => pool.clone(),
                        _ => String::new(),
                    },
                    vm_size: vm.spec.vm_size.clone(),
                    host: vm.host.clone(),
                    state: vm.state.label().to_string(),
                })
                .collect(),
            node_pools,
        })
    }
}

async fn set_online(server: &mut ApiServer, cluster: &str, online: bool, report: &mut SyncReport) -> Result<(), PlatformError> {
    if online && !server.is_online() {
        server.come_online().await.map_err(|source| PlatformError::Server {
            cluster: cluster.to_string(),
            source,
        })?;
        report.server_changes.push(format!("{cluster} online"));
    } else if !online && server.is_online() {
        server.go_offline();
        report.server_changes.push(format!("{cluster} offline"));
    }
    Ok(())
}

/// The Ready condition's status and last transition time.
fn ready_condition(node: &Node) -> Option<(String, String)> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| {
            (
                c.status.clone(),
                c.last_transition_time.as_ref().map(|t| k8s_time(t.0)).unwrap_or_default(),
            )
        })
}

fn node_info(vm: &HciVm) -> serde_json::Value {
    let os = vm.spec.os_type.to_lowercase();
    json!({"kubeletVersion": vm.spec.kubernetes_version, "kubeProxyVersion": vm.spec.kubernetes_version,
           "osImage": if os == "windows" { "Windows Server 2019 Datacenter" } else { "CBL-Mariner/Linux" },
           "operatingSystem": os, "architecture": "amd64", "containerRuntimeVersion": "containerd://1.6.18",
           "kernelVersion": "5.15.102.1-1.cm2", "machineID": vm.spec.name, "systemUUID": vm.spec.name, "bootID": vm.spec.name})
}

fn new_node(cluster: &str, vm: &HciVm, now: &str) -> Result<Node, serde_json::Error> {
    let mut labels = json!({"kubernetes.io/hostname": vm.spec.name, "kubernetes.io/os": vm.spec.os_type.to_lowercase(),
                            "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": vm.spec.vm_size});
    let mut taints = json!([]);
    match &vm.spec.role {
        VmRole::ControlPlane => {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
            taints = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
        }
        VmRole::Worker(pool) => labels[NODE_POOL_LABEL] = json!(pool),
        VmRole::Management | VmRole::LoadBalancer => {}
    }
    serde_json::from_value(json!({
        "metadata": {"name": vm.spec.name, "labels": labels, "annotations": {"akshci.drdrill.dev/cluster": cluster}},
        "spec": {"providerID": format!("moc://{}", vm.spec.name), "taints": taints},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "nodeInfo": node_info(vm),
        },
    }))
}
