//! What runs inside an AKS-HCI site's workload clusters besides their Nodes: the workload
//! controllers (Deployments → ReplicaSets → Pods, DaemonSets, scheduler, kubelet pod start and
//! the CSI provisioner for `disk.csi.akshci.com` and `file.csi.akshci.com`), one [`Datastore`]
//! for the site's volumes (the cluster shared volumes of the host cluster), and a Velero server
//! per workload cluster, started once `velero install` has created its Deployment.
//!
//! The machinery is composed here, in the harness: the AKS-HCI simulator knows nothing of
//! Velero or the workload controllers. Workload clusters are found the way an operator finds
//! them: the platform names them, and their kubeconfig comes from the `<cluster>-kubeconfig`
//! Secret of the management cluster (so a cluster recreated under the same name — A2 — is a new
//! API server with a new kubeconfig, and gets new controllers and a new Velero). While the
//! management cluster is down, the clients taken before keep working: workloads keep running.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use drdrill_akshci_sim::platform::KUBECONFIG_NAMESPACE;
use drdrill_akshci_sim::{AksHciPlatform, PlatformError, admin_context};
use drdrill_capi_sim::{Datastore, WorkloadControllers};
use drdrill_kube_sim::clock::{Clock, VirtualClock};
use drdrill_velero_sim::server::{ServerContext, VeleroError, VeleroServer};

use crate::world::fnv;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Why a round of a site's workload machinery failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadsError {
    /// The platform's own pass failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A workload cluster's kubeconfig Secret cannot be used.
    #[error("kubeconfig of workload cluster {cluster} (Secret {KUBECONFIG_NAMESPACE}/{cluster}-kubeconfig): {message}")]
    Kubeconfig {
        /// The cluster.
        cluster: String,
        /// Why.
        message: String,
    },
    /// A request to a workload cluster failed.
    #[error("workload cluster {cluster}: {action}: {source}")]
    Kube {
        /// The cluster.
        cluster: String,
        /// What was being done.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A pass of a workload cluster's Velero server failed.
    #[error("Velero server of workload cluster {cluster}: {source}")]
    Velero {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: VeleroError,
    },
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Anything changed, status refreshes included.
    pub changed: bool,
    /// Structural changes: VMs, Nodes and servers, Pods created, bound, started or removed,
    /// volumes provisioned, Velero objects created or deleted (status refreshes, such as Velero
    /// revalidating its location every minute, are not counted).
    pub activity: usize,
}

/// One workload cluster's controllers and Velero server.
pub struct ClusterWorkloads {
    /// The cluster's name.
    pub name: String,
    /// The admin kubeconfig the controllers were built from.
    pub kubeconfig: String,
    /// A client of the cluster (admin context).
    pub client: Client,
    pods: WorkloadControllers,
    velero: Mutex<Option<Arc<VeleroServer>>>,
    seed: u64,
}

/// The workload machinery of one AKS-HCI site (see the module documentation).
pub struct SiteWorkloads {
    /// The storage behind every workload volume of the site.
    pub datastore: Datastore,
    clock: VirtualClock,
    seed: u64,
    clusters: Mutex<BTreeMap<String, Arc<ClusterWorkloads>>>,
    builds: Mutex<u64>,
}

/// A client for the admin context of `cluster` in `kubeconfig` (YAML text).
pub async fn client_from_kubeconfig(cluster: &str, kubeconfig: &str) -> Result<Client, WorkloadsError> {
    let err = |message: String| WorkloadsError::Kubeconfig {
        cluster: cluster.to_string(),
        message,
    };
    let mut parsed = Kubeconfig::from_yaml(kubeconfig).map_err(|e| err(e.to_string()))?;
    parsed.current_context = Some(admin_context(cluster));
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    drdrill_kube_sim::client::connect(config).map_err(|e| err(e.to_string()))
}

impl SiteWorkloads {
    /// The machinery of a site on `clock`; generated Pod and Velero names derive from `seed`.
    pub fn new(clock: VirtualClock, seed: u64) -> Self {
        SiteWorkloads {
            datastore: Datastore::new(),
            clock,
            seed,
            clusters: Mutex::new(BTreeMap::new()),
            builds: Mutex::new(0),
        }
    }

    /// The workload clusters the machinery currently drives.
    pub fn clusters(&self) -> Vec<Arc<ClusterWorkloads>> {
        self.lock().values().cloned().collect()
    }

    /// One workload cluster's machinery, by name.
    pub fn cluster(&self, name: &str) -> Option<Arc<ClusterWorkloads>> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<ClusterWorkloads>>> {
        self.clusters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the platform's workload clusters: drops the machinery of clusters that are gone;
    /// while the management cluster answers, (re)builds it for every cluster whose kubeconfig
    /// Secret is new or changed. Returns whether the set changed.
    pub async fn refresh(&self, platform: &AksHciPlatform, management_online: bool) -> Result<bool, WorkloadsError> {
        let names = platform.workload_clusters().await;
        let mut changed = false;
        self.lock().retain(|name, _| {
            let keep = names.contains(name);
            changed |= !keep;
            keep
        });
        if !management_online {
            return Ok(changed);
        }
        let Ok(mgmt) = platform.management_client().await else {
            return Ok(changed);
        };
        let secrets: Api<Secret> = Api::namespaced(mgmt, KUBECONFIG_NAMESPACE);
        for name in names {
            let secret = match secrets.get_opt(&format!("{name}-kubeconfig")).await {
                Ok(Some(s)) => s,
                // Not written yet (the cluster controller writes it after starting the server).
                Ok(None) => continue,
                // The management cluster stopped answering mid-round: keep what we have.
                Err(_) => return Ok(changed),
            };
            let text = secret
                .data
                .as_ref()
                .and_then(|d| d.get("value"))
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                .ok_or_else(|| WorkloadsError::Kubeconfig {
                    cluster: name.clone(),
                    message: "the Secret has no data key \"value\"".into(),
                })?;
            if self.cluster(&name).is_some_and(|c| c.kubeconfig == text) {
                continue;
            }
            let client = client_from_kubeconfig(&name, &text).await?;
            let build = {
                let mut builds = self.builds.lock().unwrap_or_else(|p| p.into_inner());
                *builds += 1;
                *builds
            };
            let seed = self.seed ^ fnv(&name) ^ (build << 40);
            let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
            let pods = WorkloadControllers::new(client.clone(), clock, seed ^ 0x0005_00D5).with_datastore(self.datastore.clone());
            let entry = Arc::new(ClusterWorkloads {
                name: name.clone(),
                kubeconfig: text,
                client,
                pods,
                velero: Mutex::new(None),
                seed,
            });
            self.lock().insert(name, entry);
            changed = true;
        }
        Ok(changed)
    }

    /// One round: a pass of the platform, then of every serving workload cluster's controllers
    /// and Velero server.
    pub async fn round(&self, platform: &AksHciPlatform) -> Result<RoundReport, WorkloadsError> {
        let report = platform.sync().await?;
        let mut changed = report.changed();
        let mut activity = report.created_vms.len() + report.deleted_vms.len() + report.node_changes.len() + report.server_changes.len();
        if self.refresh(platform, report.management_online).await? {
            changed = true;
            activity += 1;
        }
        for cluster in self.clusters() {
            if platform.workload_online(&cluster.name).await != Some(true) {
                continue;
            }
            let pods = cluster.pods.sync().await.map_err(|source| WorkloadsError::Kube {
                cluster: cluster.name.clone(),
                action: "workload controllers pass".into(),
                source,
            })?;
            changed |= pods.changed();
            activity += pods.pods_created.len()
                + pods.pods_deleted.len()
                + pods.pods_bound.len()
                + pods.pods_started.len()
                + pods.pods_evicted.len()
                + pods.volumes.len();
            if let Some(velero) = self.velero_server(&cluster).await? {
                let each = velero.pass_each().await.map_err(|source| WorkloadsError::Velero {
                    cluster: cluster.name.clone(),
                    source,
                })?;
                changed |= each.iter().any(|(_, r)| r.changed());
                activity += each.iter().map(|(_, r)| r.created.len() + r.deleted.len()).sum::<usize>();
            }
        }
        Ok(RoundReport { changed, activity })
    }

    /// The cluster's Velero server, started the first time its `velero/velero` Deployment is seen
    /// (the server runs in the pod `velero install` deploys); its node agent reads and writes
    /// the site's [`Datastore`].
    async fn velero_server(&self, cluster: &ClusterWorkloads) -> Result<Option<Arc<VeleroServer>>, WorkloadsError> {
        if let Some(server) = cluster.velero.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(Some(server));
        }
        let namespace = drdrill_apis::velero::DEFAULT_NAMESPACE;
        let installed = Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
            .get_opt("velero")
            .await
            .map_err(|source| WorkloadsError::Kube {
                cluster: cluster.name.clone(),
                action: format!("get Deployment {namespace}/velero"),
                source,
            })?
            .is_some();
        if !installed {
            return Ok(None);
        }
        let ctx = ServerContext::new(cluster.client.clone(), namespace, Arc::new(self.clock.clone()))
            .with_volume_files(Arc::new(crate::world::DatastoreFiles(self.datastore.clone())));
        let server = Arc::new(VeleroServer::new(ctx, cluster.seed ^ 0x00FE_1E50));
        *cluster.velero.lock().unwrap_or_else(|p| p.into_inner()) = Some(server.clone());
        Ok(Some(server))
    }
}
