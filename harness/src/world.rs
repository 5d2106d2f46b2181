//! The simulated world a drill runs in: a Site whose VMs outlive any management cluster, the
//! workload clusters' API servers and kubelets, an embedded S3 store, and a management cluster
//! (API server + Cluster API controllers) that can be destroyed and rebuilt — all on one
//! virtual clock, all reached through the Kubernetes API and S3 only.
//!
//! Workload clusters are created the way `tanzu cluster create` leaves them: Cluster,
//! VSphereCluster, KubeadmControlPlane, MachineDeployments, templates, a MachineHealthCheck and
//! the `<cluster>-kubeconfig` Secret; the controllers then create Machines, VMs boot, kubelets
//! register Nodes. Nothing about drift is scripted here: the world only offers the causes
//! (scale, delete a Machine, destroy the management cluster) and lets the controllers react.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, Cluster, KubeadmControlPlane, MachineDeployment, MachineHealthCheck};
use drdrill_apis::velero::{Backup, Schedule};
use drdrill_apis::vsphere::{VSphereCluster, VSphereMachineTemplate};
use drdrill_capi_sim::controllers::{
    ClusterController, ControllerError, Controllers, KubeadmControlPlaneController, MachineController, MachineDeploymentController,
    MachineHealthCheckController, MachineSetController, NameGenerator, SecretWorkloadClusters, VSphereClusterController,
    VSphereMachineController, store_kubeconfig,
};
use drdrill_capi_sim::{CloudNodeLifecycle, Datastore, NodeAgent, NodeLifecycle, Site, WorkloadControllers};
use drdrill_kube_sim::clock::{Clock, VirtualClock};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_scenarios::topology::MANAGEMENT_NAMESPACE;
use drdrill_scenarios::{SeededRng, Topology, WorkloadCluster};
use drdrill_velero_sim::s3::{BackendError, Credentials, RunningStore, S3Backend};
use drdrill_velero_sim::server::schedule::parse_schedule;
use drdrill_velero_sim::server::{ServerContext, VeleroError, VeleroServer, VolumeFiles, VolumeFilesError};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::controller_log::ControllerLog;
use crate::mgmt_config::{ConfigError, ManagementConfig};
use crate::tanzu::{self, ClusterStatus, OPERATION_INFO_ANNOTATION, OPERATION_LAST_OBSERVED_ANNOTATION, PLAN_ANNOTATION, TKR_LABEL};

/// The access key of the embedded S3 store (the runbook's MinIO example).
pub const S3_ACCESS_KEY: &str = "minio";
/// The secret key of the embedded S3 store (the runbook's MinIO example).
pub const S3_SECRET_KEY: &str = "minio123";
/// The management cluster's bucket (the runbook's `MINIO_DEFAULT_BUCKETS=mgmt`).
pub const BUCKET: &str = "mgmt";
/// When every world's clock starts: the runbook's backup time.
pub const EPOCH: &str = "2022-12-07T17:10:42Z";
/// How far the clock moves per controller pass while settling.
pub const PASS_STEP: Duration = Duration::from_secs(1);
/// Quiet rounds [`World::alongside`] runs with the clock standing still before it lets time
/// pass for a command that waits.
pub const QUIET_ROUNDS_BEFORE_TIME: usize = 40;
/// The longest stride of the clock in [`World::run_for`] while nothing happens and every
/// workload cluster is running. Velero's deadlines cut strides short; what else polls on a
/// period (location validation, backup sync, the garbage collector's hourly look) only sees the
/// clock later, never misses a deadline.
pub const STEADY_STEP: Duration = Duration::from_secs(6 * 3600);
/// The longest stride of the clock in [`World::run_for`] while nothing happens and some workload
/// cluster is not running (a MachineHealthCheck's timeout may be pending).
pub const MAX_QUIET_STEP: Duration = Duration::from_secs(600);

/// Why the world could not be built or driven.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// An embedded API server did not start.
    #[error("{what}: the embedded API server did not start: {source}")]
    Server {
        /// Which cluster.
        what: String,
        /// Why.
        source: drdrill_kube_sim::ServerError,
    },
    /// The object store did not start or is unreachable.
    #[error("the object store: {0}")]
    S3(#[from] BackendError),
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the world was doing.
        action: String,
        /// The client error.
        source: kube::Error,
    },
    /// A controller pass failed.
    #[error("controller pass failed: {0}")]
    Controller(#[from] ControllerError),
    /// A pass of the Velero server failed.
    #[error("Velero server pass failed: {0}")]
    Velero(#[from] VeleroError),
    /// A pass of a workload cluster's Velero server failed.
    #[error("Velero server of workload cluster {cluster}: {source}")]
    WorkloadVelero {
        /// The workload cluster.
        cluster: String,
        /// Why.
        source: VeleroError,
    },
    /// An object could not be built.
    #[error("{what}: {source}")]
    Serde {
        /// Which object.
        what: String,
        /// Why.
        source: serde_json::Error,
    },
    /// Files could not be written.
    #[error("the world's working folder: {0}")]
    Io(#[from] std::io::Error),
    /// The world did not become quiet.
    #[error("the controllers did not settle within {passes} passes ({seconds} simulated seconds); still changing: {changing}")]
    Unsettled {
        /// Passes run.
        passes: usize,
        /// Simulated time spent.
        seconds: u64,
        /// What the last pass changed.
        changing: String,
    },
    /// The management cluster's configuration file is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A request names something the world does not have.
    #[error("{0}")]
    NotFound(String),
    /// The management cluster is down (destroyed and not rebuilt yet).
    #[error("the management cluster is down: rebuild it first")]
    ManagementDown,
}

fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> WorldError {
    let action = action.into();
    move |source| WorldError::Kube { action, source }
}

/// A kube client for an embedded server's kubeconfig, through its loopback (the world's own
/// controllers and checks; the operator's commands go over HTTPS).
pub async fn client_for(server: &ApiServer, context: &str) -> Result<Client, WorldError> {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml(context)).map_err(|e| WorldError::Kube {
        action: format!("parse kubeconfig of {context}"),
        source: kube::Error::InferKubeconfig(e),
    })?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| WorldError::Kube {
            action: format!("load kubeconfig of {context}"),
            source: kube::Error::InferKubeconfig(e),
        })?;
    drdrill_kube_sim::client::connect(config).map_err(kube_err(format!("connect to {context}")))
}

/// `<name>-admin@<name>`, the context name TKG gives a cluster's admin kubeconfig.
pub fn admin_context(cluster: &str) -> String {
    format!("{cluster}-admin@{cluster}")
}

/// One workload cluster: its API server (its control-plane endpoint, which outlives any
/// management cluster), kubelets and node lifecycle controller.
pub struct WorkloadSim {
    /// The cluster as the topology describes it.
    pub spec: WorkloadCluster,
    server: ApiServer,
    /// A client of the workload cluster.
    pub client: Client,
    agent: NodeAgent,
    lifecycle: NodeLifecycle,
    cloud: CloudNodeLifecycle,
    pods: WorkloadControllers,
    kubeconfig: PathBuf,
    // Velero on this workload cluster, started once `velero install` has created its Deployment.
    velero: std::sync::Mutex<Option<Arc<VeleroServer>>>,
}

impl WorkloadSim {
    /// The admin kubeconfig file (context `<name>-admin@<name>`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig text, as the `<cluster>-kubeconfig` Secret holds it.
    pub fn kubeconfig_yaml(&self) -> String {
        self.server.kubeconfig_yaml(&admin_context(&self.spec.name))
    }
}

/// A management cluster: API server, the Cluster API controllers, and the workload-cluster
/// clients they build from `<cluster>-kubeconfig` Secrets.
pub struct ManagementCluster {
    server: ApiServer,
    /// A client of the management cluster.
    pub client: Client,
    controllers: Controllers,
    workloads: Arc<SecretWorkloadClusters>,
    // Started once `velero install` has created the `velero` Deployment, as the real server
    // starts with its pod.
    velero: std::sync::Mutex<Option<Arc<VeleroServer>>>,
    kubeconfig: PathBuf,
    /// Which build of the management cluster this is (1 = the original, 2 = first rebuild…).
    pub generation: u32,
}

impl ManagementCluster {
    /// The kubeconfig file (context `<mgmt>-admin@<mgmt>`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server.
    pub fn server(&self) -> &ApiServer {
        &self.server
    }
}

/// What the controllers did while the world settled.
#[derive(Debug, Default, Clone)]
pub struct SettleReport {
    /// Controller passes run.
    pub passes: usize,
    /// Objects created, `Kind/name`, in order.
    pub created: Vec<String>,
    /// Objects deleted (or whose deletion was requested).
    pub deleted: Vec<String>,
    /// Objects re-adopted by an owner.
    pub adopted: Vec<String>,
    /// Nodes registered by kubelets.
    pub registered: Vec<String>,
}

impl SettleReport {
    /// Structural changes so far: objects created, deleted or adopted and Nodes registered
    /// (status refreshes are not counted).
    pub fn activity(&self) -> usize {
        self.created.len() + self.deleted.len() + self.adopted.len() + self.registered.len()
    }

    /// Adds a later settle's passes and changes to this one.
    fn absorb(&mut self, later: SettleReport) {
        self.passes += later.passes;
        self.created.extend(later.created);
        self.deleted.extend(later.deleted);
        self.adopted.extend(later.adopted);
        self.registered.extend(later.registered);
    }
}

/// The node agent's access to volume data: files of the Datastore's volumes (what a Velero
/// server's node agent reads and writes, on any platform whose volumes live in a [`Datastore`]).
pub struct DatastoreFiles(pub Datastore);

impl VolumeFiles for DatastoreFiles {
    fn read(&self, handle: &str) -> Result<BTreeMap<String, Vec<u8>>, VolumeFilesError> {
        self.0.files(handle).map_err(|e| VolumeFilesError(e.to_string()))
    }

    fn write(&self, handle: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<(), VolumeFilesError> {
        files
            .iter()
            .try_for_each(|(path, data)| self.0.write_file(handle, path, data))
            .map_err(|e| VolumeFilesError(e.to_string()))
    }
}

/// The world.
pub struct World {
    /// The management cluster's configuration, as last read from its file.
    pub config: ManagementConfig,
    /// `mgmt-cluster-config.yaml` in the working folder: what a rebuild reads.
    pub config_path: PathBuf,
    /// The seed every name comes from.
    pub seed: u64,
    /// The clusters the world was built with.
    pub topology: Topology,
    /// The shared virtual clock.
    pub clock: VirtualClock,
    /// Hosts and VMs.
    pub site: Site,
    /// The storage behind every workload cluster's volumes (it outlives clusters, like the Site).
    pub datastore: Datastore,
    /// The object store (embedded by default; a container or an external endpoint when asked).
    pub s3: RunningStore,
    mgmt: Option<ManagementCluster>,
    workloads: BTreeMap<(String, String), WorkloadSim>,
    work: tempfile::TempDir,
    rng: SeededRng,
    management_builds: u32,
    // Test-only fault: MachineSets of the next management cluster built skip adoption.
    fault_machineset_skips_adoption: bool,
    /// What every controller did, on the world's clock (written into diagnostics bundles).
    pub log: ControllerLog,
    /// Rounds run so far.
    rounds: std::sync::atomic::AtomicUsize,
    /// Rounds skipped: nothing had changed since a round that wrote nothing.
    skipped_rounds: std::sync::atomic::AtomicUsize,
    /// What the last round that wrote nothing saw (see [`World::round`]).
    quiet_at: std::sync::Mutex<Option<RoundInputs>>,
    /// Requests answered by management clusters already destroyed.
    retired_requests: u64,
}

/// Everything a round's controllers read: the clock, every API server's last resourceVersion
/// and reachability, the Site's, the datastore's and the object store's generations. The
/// controllers keep no state of their own that a round without writes would change (name
/// generators move only when something is created; Velero's garbage collector remembers when
/// it last looked, on this same clock), so a round that wrote nothing, run again on the same
/// inputs, writes nothing again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RoundInputs {
    clock: Timestamp,
    management: Option<(u32, u64, bool)>,
    workloads: Vec<(u64, bool)>,
    site: u64,
    datastore: u64,
    s3: u64,
}

/// How much work a world has done: what exploration and benchmarks report per history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Rounds of every controller run.
    pub rounds: usize,
    /// Rounds not run: nothing had changed since a round that wrote nothing, so they would
    /// have written nothing either.
    pub skipped_rounds: usize,
    /// Requests every API server of the world answered (destroyed ones included).
    pub api_requests: u64,
}

impl World {
    /// A world on the virtual clock at [`EPOCH`]: Site, S3 store, a management cluster with the
    /// Cluster API CRDs, and every workload cluster of `topology` created and brought to
    /// `running` by the controllers. `progress` hears about each cluster.
    pub async fn create(config: ManagementConfig, topology: Topology, progress: &mut dyn FnMut(&str)) -> Result<World, WorldError> {
        World::create_on(config, topology, S3Backend::Embedded, progress).await
    }

    /// [`World::create`] with the management cluster's bucket on `backend`: the embedded store,
    /// MinIO (or the locally built image) in a container, or an external endpoint.
    pub async fn create_on(
        config: ManagementConfig,
        mut topology: Topology,
        backend: S3Backend,
        progress: &mut dyn FnMut(&str),
    ) -> Result<World, WorldError> {
        let seed = topology.seed;
        topology.management = config.cluster_name.clone();
        let clock = VirtualClock::starting_at(EPOCH.parse().unwrap_or(Timestamp::UNIX_EPOCH));
        let site = Site::new("vc01", &["esx-01a", "esx-02a", "esx-03a"], seed, Arc::new(clock.clone()));
        progress(&format!("object store ({})", backend_name(&backend)));
        let s3 = drdrill_velero_sim::s3::backends::start(backend, BUCKET, &Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY)).await?;
        let work = tempfile::tempdir()?;
        let config_path = work.path().join("mgmt-cluster-config.yaml");
        std::fs::write(&config_path, config.to_yaml())?;
        let mut world = World {
            config_path,
            config,
            seed,
            topology: topology.clone(),
            clock,
            site,
            datastore: Datastore::new(),
            s3,
            mgmt: None,
            workloads: BTreeMap::new(),
            work,
            rng: SeededRng::new(seed ^ 0x0057_0A1D),
            management_builds: 0,
            fault_machineset_skips_adoption: false,
            rounds: Default::default(),
            skipped_rounds: Default::default(),
            quiet_at: Default::default(),
            retired_requests: 0,
            log: ControllerLog::default(),
        };
        progress(&format!("management cluster {}", topology.management));
        world.rebuild_management_cluster().await?;
        for cluster in &topology.clusters {
            progress(&format!("workload cluster {}/{}", cluster.namespace, cluster.name));
            world.create_workload_cluster(cluster).await?;
        }
        progress("controllers bring every cluster to running");
        world.settle_until_running(2000).await?;
        Ok(world)
    }

    /// Test-only fault: MachineSets of every management cluster built from now on (the next
    /// rebuild) do not adopt orphaned Machines — a deliberate bug the drift exploration must catch.
    pub fn set_fault_machineset_skips_adoption(&mut self, on: bool) {
        self.fault_machineset_skips_adoption = on;
    }

    /// The working folder (kubeconfigs).
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// The management cluster, if it is up.
    pub fn management(&self) -> Result<&ManagementCluster, WorldError> {
        self.mgmt.as_ref().ok_or(WorldError::ManagementDown)
    }

    /// A client of the management cluster.
    pub fn mgmt_client(&self) -> Result<Client, WorldError> {
        Ok(self.management()?.client.clone())
    }

    /// The first worker VM of `cluster` by name (VMs, Nodes and Machines share names; the Site's
    /// names come from the seed, so the same seed picks the same VM).
    pub fn first_worker_vm(&self, cluster: &str) -> Option<String> {
        self.site
            .vms_of(cluster)
            .into_iter()
            .filter(|vm| vm.role == drdrill_capi_sim::site::VmRole::Worker)
            .map(|vm| vm.name)
            .min()
    }

    /// The command that rolls out `cluster`'s control plane, as `clusterctl alpha rollout restart
    /// kubeadmcontrolplane/<name>` does (there is no clusterctl here; kubectl sends the same
    /// patch): the KubeadmControlPlane's `spec.rolloutAfter` set to the world's now, so KCP
    /// replaces every control-plane Machine created before it, one at a time. Returns the line
    /// and that time (see [`World::settle_until_rolled_out`]).
    pub async fn control_plane_rollout(&self, namespace: &str, cluster: &str) -> Result<(String, Timestamp), WorldError> {
        let c = Api::<Cluster>::namespaced(self.mgmt_client()?, namespace)
            .get(cluster)
            .await
            .map_err(kube_err(format!("get Cluster {namespace}/{cluster}")))?;
        let kcp = c
            .spec
            .control_plane_ref
            .and_then(|r| r.name)
            .ok_or_else(|| WorldError::NotFound(format!("Cluster {namespace}/{cluster} has no spec.controlPlaneRef")))?;
        // Whole seconds, as metav1.Time serializes: Machines created in this second are not older.
        let now = Timestamp::from_second(self.clock.now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH);
        let at = now.strftime("%Y-%m-%dT%H:%M:%SZ");
        let line =
            format!(r#"kubectl -n {namespace} patch kubeadmcontrolplane {kcp} --type merge -p '{{"spec":{{"rolloutAfter":"{at}"}}}}'"#);
        Ok((line, now))
    }

    /// Runs passes until every control-plane Machine of `cluster` was created at or after
    /// `after` (the rollout is done) and every cluster is running.
    pub async fn settle_until_rolled_out(
        &self,
        namespace: &str,
        cluster: &str,
        after: Timestamp,
        max_passes: usize,
    ) -> Result<SettleReport, WorldError> {
        let selector = format!("{CLUSTER_NAME_LABEL}={cluster},{CONTROL_PLANE_LABEL}");
        let mut report = SettleReport::default();
        loop {
            let outdated: Vec<String> = Api::<drdrill_apis::capi::Machine>::namespaced(self.mgmt_client()?, namespace)
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(kube_err(format!("list control-plane Machines of {namespace}/{cluster}")))?
                .items
                .into_iter()
                .filter(|m| m.creation_timestamp().is_none_or(|t| t.0 < after))
                .map(|m| m.name_any())
                .collect();
            if outdated.is_empty() && report.passes > 0 {
                return Ok(report);
            }
            if report.passes >= max_passes {
                return Err(WorldError::Unsettled {
                    passes: report.passes,
                    seconds: report.passes as u64 * PASS_STEP.as_secs(),
                    changing: format!(
                        "the control plane of {namespace}/{cluster} is still rolling out: {} created before {after}",
                        outdated.join(", ")
                    ),
                });
            }
            let mut step = self.settle_until_running(max_passes - report.passes).await?;
            step.passes = step.passes.max(1);
            report.absorb(step);
        }
    }

    /// The workload clusters.
    pub fn workload_clusters(&self) -> impl Iterator<Item = &WorkloadSim> {
        self.workloads.values()
    }

    /// One workload cluster by namespace and name.
    pub fn workload(&self, namespace: &str, name: &str) -> Result<&WorkloadSim, WorldError> {
        self.workloads
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| WorldError::NotFound(format!("no workload cluster {namespace}/{name} in this world")))
    }

    /// The disaster: the management cluster's API server and controllers are gone. Workload
    /// clusters, their VMs and the bucket are untouched.
    pub fn destroy_management_cluster(&mut self) {
        if let Some(m) = self.mgmt.take() {
            self.retired_requests += m.server.requests_served();
        }
    }

    /// Rounds run and API requests answered so far.
    pub fn stats(&self) -> WorldStats {
        let live = self.mgmt.iter().map(|m| m.server.requests_served());
        let workloads = self.workloads.values().map(|w| w.server.requests_served());
        WorldStats {
            rounds: self.rounds.load(std::sync::atomic::Ordering::Relaxed),
            skipped_rounds: self.skipped_rounds.load(std::sync::atomic::Ordering::Relaxed),
            api_requests: self.retired_requests + live.chain(workloads).sum::<u64>(),
        }
    }

    /// Runbook T step 1: a new management cluster from its configuration file — a fresh API
    /// server with the Cluster API, vSphere and TKR CRDs, the `tkg-system` namespace and new
    /// controllers (with a new name seed: a rebuilt management cluster generates new names). A
    /// file that does not parse stops the rebuild before anything is started.
    pub async fn rebuild_management_cluster(&mut self) -> Result<&ManagementCluster, WorldError> {
        self.config = ManagementConfig::load(&self.config_path)?;
        self.topology.management = self.config.cluster_name.clone();
        self.destroy_management_cluster();
        self.management_builds += 1;
        let generation = self.management_builds;
        let name = self.topology.management.clone();
        let server = ApiServer::start(ServerOptions {
            cluster_name: name.clone(),
            seed: self.seed.wrapping_add(u64::from(generation)),
            clock: Arc::new(self.clock.clone()),
            ..ServerOptions::default()
        })
        .await
        .map_err(|source| WorldError::Server {
            what: format!("management cluster {name}"),
            source,
        })?;
        let context = admin_context(&name);
        let kubeconfig = self.work.path().join(format!("{name}-{generation}.kubeconfig"));
        server
            .write_kubeconfig(&kubeconfig, &context)
            .map_err(|source| WorldError::Server {
                what: format!("management cluster {name}"),
                source,
            })?;
        let client = client_for(&server, &context).await?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in drdrill_apis::all_crds() {
            crds.create(&PostParams::default(), &crd)
                .await
                .map_err(kube_err(format!("install CRD {}", crd.name_any())))?;
        }
        ensure_namespace(&client, MANAGEMENT_NAMESPACE).await?;
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let workloads = Arc::new(SecretWorkloadClusters::new(client.clone()));
        let names = |salt: u64| NameGenerator::new(self.seed ^ salt ^ (u64::from(generation) << 32));
        let controllers = Controllers {
            clusters: ClusterController::new(client.clone(), clock.clone()),
            vsphere_clusters: VSphereClusterController::new(client.clone(), clock.clone()),
            kubeadm_control_planes: KubeadmControlPlaneController::new(client.clone(), workloads.clone(), names(0x4B43), clock.clone()),
            machine_deployments: MachineDeploymentController::new(client.clone()),
            machine_sets: MachineSetController::new(client.clone(), workloads.clone(), names(0x4D53), clock.clone())
                .with_adoption_disabled(self.fault_machineset_skips_adoption),
            machines: MachineController::new(client.clone(), workloads.clone(), clock.clone()),
            vsphere_machines: VSphereMachineController::new(client.clone(), self.site.clone(), clock.clone()),
            machine_health_checks: MachineHealthCheckController::new(client.clone(), workloads.clone(), clock),
        };
        self.mgmt = Some(ManagementCluster {
            server,
            client,
            controllers,
            workloads,
            velero: std::sync::Mutex::new(None),
            kubeconfig,
            generation,
        });
        self.management()
    }

    /// Creates a workload cluster: its API server and kubelets, and in the management cluster
    /// the objects `tanzu cluster create` leaves there. The controllers do the rest.
    pub async fn create_workload_cluster(&mut self, c: &WorkloadCluster) -> Result<(), WorldError> {
        let mgmt = self.mgmt_client()?;
        let server = ApiServer::start(ServerOptions {
            cluster_name: c.name.clone(),
            seed: self.seed ^ fnv(&c.name),
            clock: Arc::new(self.clock.clone()),
            ..ServerOptions::default()
        })
        .await
        .map_err(|source| WorldError::Server {
            what: format!("workload cluster {}/{}", c.namespace, c.name),
            source,
        })?;
        let context = admin_context(&c.name);
        let kubeconfig = self.work.path().join(format!("{}.kubeconfig", c.name));
        server
            .write_kubeconfig(&kubeconfig, &context)
            .map_err(|source| WorldError::Server {
                what: format!("workload cluster {}", c.name),
                source,
            })?;
        let client = client_for(&server, &context).await?;
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let agent = NodeAgent::new(self.site.clone(), &c.name, client.clone(), clock.clone());
        let lifecycle = NodeLifecycle::new(client.clone(), clock.clone());
        let cloud = CloudNodeLifecycle::new(self.site.clone(), client.clone());
        let pods = WorkloadControllers::new(client.clone(), clock.clone(), self.seed ^ fnv(&c.name) ^ 0x0005_00D5)
            .with_datastore(self.datastore.clone());
        install_workloads(&client, c).await?;
        ensure_namespace(&mgmt, &c.namespace).await?;
        for object in cluster_objects(c, &self.config, server.addr(), &mut self.rng, self.clock.now())? {
            create_dynamic(&mgmt, object).await?;
        }
        store_kubeconfig(&mgmt, &c.namespace, &c.name, &server.kubeconfig_yaml(&context)).await?;
        self.workloads.insert(
            (c.namespace.clone(), c.name.clone()),
            WorkloadSim {
                spec: c.clone(),
                server,
                client,
                agent,
                lifecycle,
                cloud,
                pods,
                kubeconfig,
                velero: std::sync::Mutex::new(None),
            },
        );
        Ok(())
    }

    /// One round: a pass of every controller (when the management cluster is up), every
    /// kubelet and node lifecycle controller; then the clock moves [`PASS_STEP`]. Returns
    /// whether anything changed.
    pub async fn pass(&self, report: &mut SettleReport) -> Result<bool, WorldError> {
        self.pass_then_advance(report, PASS_STEP).await
    }

    /// [`World::pass`], then the clock moves `step`. Every action lands in [`World::log`], and
    /// so does a failed round.
    async fn pass_then_advance(&self, report: &mut SettleReport, step: Duration) -> Result<bool, WorldError> {
        let result = self.round(report).await;
        if let Err(e) = &result {
            self.log
                .message(self.clock.now(), "world", "round", &format!("failed (retried next round): {e}"));
        }
        let changed = result?;
        report.passes += 1;
        self.clock.advance(step);
        Ok(changed)
    }

    /// What the controllers of a round would read; `None` when part of it cannot be seen (an
    /// object store in a container or outside).
    fn round_inputs(&self) -> Option<RoundInputs> {
        Some(RoundInputs {
            clock: self.clock.now(),
            management: self
                .mgmt
                .as_ref()
                .map(|m| (m.generation, m.server.resource_version(), m.server.is_online())),
            workloads: self
                .workloads
                .values()
                .map(|w| (w.server.resource_version(), w.server.is_online()))
                .collect(),
            site: self.site.generation(),
            datastore: self.datastore.generation(),
            s3: self.s3.generation()?,
        })
    }

    /// One round of every controller — unless nothing changed since a round that wrote nothing
    /// (same [`RoundInputs`]): that round would write nothing again, and is skipped.
    async fn round(&self, report: &mut SettleReport) -> Result<bool, WorldError> {
        use std::sync::atomic::Ordering::Relaxed;
        let inputs = self.round_inputs();
        let quiet_at = || self.quiet_at.lock().unwrap_or_else(|p| p.into_inner());
        if inputs.is_some() && *quiet_at() == inputs {
            self.skipped_rounds.fetch_add(1, Relaxed);
            return Ok(false);
        }
        self.rounds.fetch_add(1, Relaxed);
        *quiet_at() = None;
        let changed = self.run_round(report).await?;
        // Quiet means it wrote nothing and reported nothing (a write that changes nothing does
        // not move the resourceVersion, but its controller still reports it).
        if !changed && inputs.is_some() && self.round_inputs() == inputs {
            *quiet_at() = inputs;
        }
        Ok(changed)
    }

    async fn run_round(&self, report: &mut SettleReport) -> Result<bool, WorldError> {
        let mut changed = false;
        let log = &self.log;
        if let Some(mgmt) = &self.mgmt {
            let cluster = self.topology.management.as_str();
            let refreshed = mgmt.workloads.refresh().await?;
            changed |= !refreshed.is_empty();
            let now = self.clock.now();
            for (controller, r) in mgmt.controllers.pass_each().await? {
                changed |= r.changed();
                log.actions(now, cluster, controller, "created", &r.created);
                log.actions(now, cluster, controller, "deleted", &r.deleted);
                log.actions(now, cluster, controller, "adopted", &r.adopted);
                log.actions(now, cluster, controller, "updated", &r.updated);
                log.actions(now, cluster, controller, "waiting (kind not served)", &r.waiting);
                report.created.extend(r.created);
                report.deleted.extend(r.deleted);
                report.adopted.extend(r.adopted);
            }
            if let Some(velero) = self
                .velero_server(&mgmt.client, &mgmt.velero, self.seed ^ u64::from(mgmt.generation))
                .await?
            {
                for (controller, r) in velero.pass_each().await? {
                    changed |= r.changed();
                    log_velero(log, now, cluster, controller, &r);
                    report.created.extend(r.created);
                    report.deleted.extend(r.deleted);
                }
            }
        }
        for w in self.workloads.values() {
            let cluster = w.spec.name.as_str();
            let now = self.clock.now();
            let agent = w.agent.sync().await.map_err(kube_err(format!("kubelets of {}", w.spec.name)))?;
            changed |= !agent.registered.is_empty();
            log.actions(now, cluster, "kubelet", "registered Node", &agent.registered);
            report.registered.extend(agent.registered);
            let lifecycle = w
                .lifecycle
                .sync()
                .await
                .map_err(kube_err(format!("node lifecycle of {}", w.spec.name)))?;
            changed |= !lifecycle.is_empty();
            log.actions(now, cluster, "node-lifecycle", "marked not ready (kubelet silent) Node", &lifecycle);
            let gone = w
                .cloud
                .sync()
                .await
                .map_err(kube_err(format!("cloud node lifecycle of {}", w.spec.name)))?;
            changed |= !gone.is_empty();
            log.actions(now, cluster, "cloud-node-lifecycle", "deleted (VM gone) Node", &gone);
            let pods = w
                .pods
                .sync()
                .await
                .map_err(kube_err(format!("workload controllers of {}", w.spec.name)))?;
            changed |= pods.changed();
            log_workloads(log, now, cluster, &pods);
            if let Some(velero) = self.velero_server(&w.client, &w.velero, self.seed ^ fnv(&w.spec.name)).await? {
                let each = velero.pass_each().await.map_err(|source| WorldError::WorkloadVelero {
                    cluster: w.spec.name.clone(),
                    source,
                })?;
                for (controller, r) in each {
                    changed |= r.changed();
                    log_velero(log, now, cluster, controller, &r);
                    report.created.extend(r.created);
                    report.deleted.extend(r.deleted);
                }
            }
        }
        Ok(changed)
    }

    /// The Velero server of a cluster (the management cluster, or a workload cluster for its
    /// workloads and volumes), started the first time its Deployment is seen (the server runs
    /// in the pod `velero install` deploys) and kept in `slot`. Its node agent reads and writes
    /// volumes in the [`World::datastore`] wherever a restic pod runs.
    async fn velero_server(
        &self,
        client: &Client,
        slot: &std::sync::Mutex<Option<Arc<VeleroServer>>>,
        seed: u64,
    ) -> Result<Option<Arc<VeleroServer>>, WorldError> {
        if let Some(server) = slot.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(Some(server));
        }
        let namespace = drdrill_apis::velero::DEFAULT_NAMESPACE;
        let installed = Api::<Deployment>::namespaced(client.clone(), namespace)
            .get_opt("velero")
            .await
            .map_err(kube_err("get Deployment velero/velero"))?
            .is_some();
        if !installed {
            return Ok(None);
        }
        let ctx = ServerContext::new(client.clone(), namespace, Arc::new(self.clock.clone()))
            .with_volume_files(Arc::new(DatastoreFiles(self.datastore.clone())));
        let server = Arc::new(VeleroServer::new(ctx, seed));
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(server.clone());
        Ok(Some(server))
    }

    /// One round, then the clock moves `elapsed` (for a world that follows real time, as
    /// `drdrill up` runs it).
    pub async fn tick(&self, elapsed: Duration) -> Result<bool, WorldError> {
        let mut report = SettleReport::default();
        self.pass_then_advance(&mut report, elapsed).await
    }

    /// Keeps the working folder (kubeconfigs, configuration) when the world is dropped; returns it.
    pub fn keep_work_dir(&mut self) -> PathBuf {
        self.work.disable_cleanup(true);
        self.work.path().to_path_buf()
    }

    /// How to reach the world: kubeconfig files and contexts, the S3 store, the Site.
    pub fn describe(&self) -> String {
        let mut rows = Vec::new();
        if let Some(m) = &self.mgmt {
            rows.push(vec![
                "management".to_string(),
                self.topology.management.clone(),
                admin_context(&self.topology.management),
                m.kubeconfig.display().to_string(),
            ]);
        }
        for w in self.workloads.values() {
            rows.push(vec![
                format!("workload ({})", w.spec.namespace),
                w.spec.name.clone(),
                admin_context(&w.spec.name),
                w.kubeconfig.display().to_string(),
            ]);
        }
        let mut out = crate::report::columns(&["CLUSTER", "NAME", "CONTEXT", "KUBECONFIG"], &rows);
        out.push_str(&format!(
            "\nS3 store: {} bucket {BUCKET} (access key {S3_ACCESS_KEY}, secret key {S3_SECRET_KEY})\n\
             Site {}: {} VMs\nWorking folder: {}\n",
            self.s3.endpoint(),
            self.site.name(),
            self.site.list().len(),
            self.work.path().display()
        ));
        if let Some(m) = &self.mgmt {
            out.push_str(&format!(
                "\nTry:\n  export KUBECONFIG={}\n  kubectl get clusters -A\n  drdrill tanzu cluster list\n  drdrill velero backup-location get\n",
                m.kubeconfig.display()
            ));
        }
        out
    }

    /// Runs rounds until two in a row change nothing.
    pub async fn settle(&self, max_passes: usize) -> Result<SettleReport, WorldError> {
        let mut report = SettleReport::default();
        let mut quiet = 0;
        while report.passes < max_passes {
            if self.pass(&mut report).await? {
                quiet = 0;
            } else {
                quiet += 1;
                if quiet == 2 {
                    return Ok(report);
                }
            }
        }
        Err(WorldError::Unsettled {
            passes: report.passes,
            seconds: report.passes as u64 * PASS_STEP.as_secs(),
            changing: report.created.iter().rev().take(5).cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Lets `duration` of simulated time pass, running rounds as it goes: a round every
    /// [`PASS_STEP`] while something happens, and while the world is quiet a stride that doubles
    /// — so days of a backup schedule pass in a few hundred rounds. Kubelets post their heartbeats
    /// at the new time before the node lifecycle controller looks, so a quiet jump does not make
    /// healthy Nodes look silent. The stepping policy:
    /// * only a round that creates, deletes, adopts or registers something (a scheduled backup, a
    ///   DeleteBackupRequest, a Machine, a Node) counts as activity and brings the stride back to
    ///   [`PASS_STEP`]; status refreshes do not (Velero revalidates its backup storage location
    ///   every minute and writes the time into its status: counted, the clock would never stride
    ///   past a minute while Velero is installed);
    /// * while every workload cluster is running, strides grow to [`STEADY_STEP`]; otherwise (a
    ///   MachineHealthCheck's timeout may be pending) they stop at [`MAX_QUIET_STEP`];
    /// * no stride jumps over a Velero deadline — the next run of a Schedule, the expiration of a
    ///   Backup: the clock lands one [`PASS_STEP`] after it, so the schedule controller takes its
    ///   backup on time and the garbage collector sees the backup expired on time.
    pub async fn run_for(&self, duration: Duration) -> Result<SettleReport, WorldError> {
        let mut report = SettleReport::default();
        let end = self.clock.now() + duration;
        let mut step = PASS_STEP;
        loop {
            if end.duration_since(self.clock.now()) <= jiff::SignedDuration::ZERO {
                return Ok(report);
            }
            let before = report.activity();
            self.pass(&mut report).await?;
            step = if report.activity() > before {
                PASS_STEP
            } else {
                (step * 2).min(STEADY_STEP)
            };
            if step > MAX_QUIET_STEP && !self.all_running().await.unwrap_or(false) {
                step = MAX_QUIET_STEP;
            }
            let now = self.clock.now();
            let mut stride = step.saturating_sub(PASS_STEP);
            if let Some(deadline) = self.next_velero_deadline(now).await? {
                let until = Duration::try_from((deadline + PASS_STEP).duration_since(now)).unwrap_or(PASS_STEP);
                stride = stride.min(until);
            }
            let left = Duration::try_from(end.duration_since(now)).unwrap_or(Duration::ZERO);
            self.clock.advance(stride.min(left));
        }
    }

    /// Velero objects of the management cluster; `None` when it is down or Velero's CRDs are not
    /// installed yet.
    async fn list_velero<K>(&self) -> Result<Option<Vec<K>>, WorldError>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let Ok(client) = self.mgmt_client() else {
            return Ok(None);
        };
        match Api::<K>::namespaced(client, drdrill_apis::velero::DEFAULT_NAMESPACE)
            .list(&ListParams::default())
            .await
        {
            Ok(list) => Ok(Some(list.items)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(source) => Err(WorldError::Kube {
                action: format!("list {} in namespace velero", K::kind(&())),
                source,
            }),
        }
    }

    /// The earliest Velero deadline after `now`: the next run of a Schedule (as Velero's schedule
    /// controller computes it, after the last backup, skip or the creation) or a Backup's
    /// expiration.
    async fn next_velero_deadline(&self, now: Timestamp) -> Result<Option<Timestamp>, WorldError> {
        let schedules = self.list_velero::<Schedule>().await?.unwrap_or_default();
        let runs = schedules.iter().filter(|s| !s.spec.paused).filter_map(|s| {
            let cron = parse_schedule(&s.spec.schedule).ok()?;
            let status = s.status.clone().unwrap_or_default();
            let created = s.metadata.creation_timestamp.as_ref()?.0;
            let last = status.last_backup.map_or(created, |t| t.0);
            let last = status.last_skipped.map_or(last, |t| t.0.max(last));
            cron.next(last)
        });
        let backups = self.list_velero::<Backup>().await?.unwrap_or_default();
        let expirations = backups.iter().filter_map(|b| b.status.as_ref()?.expiration.as_ref().map(|t| t.0));
        Ok(runs.chain(expirations).filter(|t| *t > now).min())
    }

    /// Runs `work` (a CLI command that waits, such as `velero backup create --wait`) while the
    /// world keeps turning: rounds run between the command's polls, as controllers run beside a
    /// real CLI. A failed round is retried on the next one (a controller requeue), but a
    /// world that fails 50 rounds in a row stops the command with that error.
    ///
    /// The clock stands still while the world reacts to the command, so how much simulated time
    /// a command takes does not depend on how fast this machine runs it (a timeout firing in
    /// the middle of a slow `kubectl` on a loaded machine and not on an idle one would make
    /// drills flaky). Only once the world has been quiet for [`QUIET_ROUNDS_BEFORE_TIME`]
    /// rounds — the command is waiting for something that takes time, a pod to start, a
    /// schedule — does the clock move, [`PASS_STEP`] per round. Typing the command takes one
    /// [`PASS_STEP`], so two commands never happen at the same instant (two backups in a row
    /// get different start times, as they would at a real terminal).
    pub async fn alongside<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, WorldError> {
        self.clock.advance(PASS_STEP);
        let pump = async {
            let mut report = SettleReport::default();
            let mut failures = 0;
            let mut quiet = 0;
            loop {
                let step = if quiet >= QUIET_ROUNDS_BEFORE_TIME {
                    PASS_STEP
                } else {
                    Duration::ZERO
                };
                match self.pass_then_advance(&mut report, step).await {
                    Ok(changed) => {
                        failures = 0;
                        quiet = if changed { 0 } else { quiet + 1 };
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "world round failed");
                        if failures == 50 {
                            return e;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            out = work => Ok(out),
            e = pump => Err(e),
        }
    }

    /// Runs rounds until every workload cluster of the topology is `running` (per `tanzu
    /// cluster list`) and the world is quiet.
    pub async fn settle_until_running(&self, max_passes: usize) -> Result<SettleReport, WorldError> {
        let mut report = SettleReport::default();
        while report.passes < max_passes {
            let changed = self.pass(&mut report).await?;
            if !changed && self.all_running().await? {
                let rest = self.settle(max_passes - report.passes.min(max_passes)).await?;
                report.absorb(rest);
                return Ok(report);
            }
        }
        Err(WorldError::Unsettled {
            passes: report.passes,
            seconds: report.passes as u64 * PASS_STEP.as_secs(),
            changing: format!("not every cluster is running:\n{}", self.cluster_list().await.unwrap_or_default()),
        })
    }

    /// Whether every Cluster in the management cluster shows `running`.
    pub async fn all_running(&self) -> Result<bool, WorldError> {
        let rows = tanzu::cluster_list(&self.mgmt_client()?, self.clock.now())
            .await
            .map_err(kube_err("tanzu cluster list"))?;
        Ok(!rows.is_empty() && rows.iter().all(|r| r.status == ClusterStatus::Running))
    }

    /// `tanzu cluster list` as printed.
    pub async fn cluster_list(&self) -> Result<String, WorldError> {
        let rows = tanzu::cluster_list(&self.mgmt_client()?, self.clock.now())
            .await
            .map_err(kube_err("tanzu cluster list"))?;
        Ok(tanzu::render_cluster_list(&rows))
    }
}

/// A Velero controller's actions; the location's revalidation every minute is left out (it
/// would fill the log with one line a minute).
fn log_velero(log: &ControllerLog, now: Timestamp, cluster: &str, controller: &str, r: &drdrill_velero_sim::server::Report) {
    let controller = format!("velero/{controller}");
    log.actions(now, cluster, &controller, "created", &r.created);
    log.actions(now, cluster, &controller, "deleted", &r.deleted);
    let updated: Vec<String> = r
        .updated
        .iter()
        .filter(|u| !u.starts_with("BackupStorageLocation/"))
        .cloned()
        .collect();
    log.actions(now, cluster, &controller, "updated", &updated);
    log.actions(now, cluster, &controller, "waiting (kind not served)", &r.waiting);
}

/// What a workload cluster's Deployment, ReplicaSet, DaemonSet, scheduler, kubelet, eviction,
/// pod GC and volume controllers did.
fn log_workloads(log: &ControllerLog, now: Timestamp, cluster: &str, r: &drdrill_capi_sim::workloads::WorkloadReport) {
    let entries: [(&str, &str, &[String]); 13] = [
        ("deployment", "created ReplicaSet", &r.replica_sets_created),
        ("deployment", "scaled ReplicaSet", &r.replica_sets_scaled),
        ("deployment", "deleted old ReplicaSet", &r.replica_sets_deleted),
        ("replicaset", "adopted", &r.adopted),
        ("replicaset", "created Pod", &r.pods_created),
        ("replicaset", "deleted Pod", &r.pods_deleted),
        ("scheduler", "bound Pod", &r.pods_bound),
        ("scheduler", "could not place Pod", &r.pods_unschedulable),
        ("kubelet", "started Pod", &r.pods_started),
        ("node-lifecycle", "marked not ready Pod", &r.pods_not_ready),
        ("taint-eviction", "evicted Pod", &r.pods_evicted),
        ("pod-gc", "collected Pod", &r.pods_collected),
        ("persistentvolume", "", &r.volumes),
    ];
    for (controller, verb, objects) in entries {
        if verb.is_empty() {
            for entry in objects {
                log.message(now, cluster, controller, entry);
            }
        } else {
            log.actions(now, cluster, controller, verb, objects);
        }
    }
    log.actions(now, cluster, "workload-controllers", "skipped invalid", &r.invalid);
}

/// What every TKG workload cluster runs besides Kubernetes itself: the CNI as a DaemonSet on
/// every node (antrea, tolerating the control-plane taint) and an application Deployment on the
/// workers — so draining a node really moves pods.
async fn install_workloads(client: &Client, c: &WorkloadCluster) -> Result<(), WorldError> {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
    let antrea: DaemonSet = typed(
        "DaemonSet kube-system/antrea-agent",
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "antrea-agent", "namespace": "kube-system", "labels": {"app": "antrea", "component": "antrea-agent"}},
            "spec": {"selector": {"matchLabels": {"app": "antrea", "component": "antrea-agent"}},
                "template": {"metadata": {"labels": {"app": "antrea", "component": "antrea-agent"}},
                    "spec": {"hostNetwork": true, "tolerations": [{"operator": "Exists"}],
                        "containers": [{"name": "antrea-agent", "image": "projects.registry.vmware.com/tkg/antrea-advanced-debian:v1.7.2_vmware.3"}]}}},
        }),
    )?;
    let app: Deployment = typed(
        "Deployment default/hello",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": "default", "labels": {"app": "hello"}},
            "spec": {"replicas": c.workers.max(1) * 2, "selector": {"matchLabels": {"app": "hello"}},
                "template": {"metadata": {"labels": {"app": "hello"}},
                    "spec": {"containers": [{"name": "hello", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}},
        }),
    )?;
    ensure_namespace(client, "kube-system").await?;
    ensure_namespace(client, "default").await?;
    Api::<DaemonSet>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &antrea)
        .await
        .map_err(kube_err(format!("create DaemonSet kube-system/antrea-agent in {}", c.name)))?;
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &app)
        .await
        .map_err(kube_err(format!("create Deployment default/hello in {}", c.name)))?;
    // TKG on vSphere installs the vSphere CSI driver and this default class in every cluster.
    let class: k8s_openapi::api::storage::v1::StorageClass = typed(
        "StorageClass default",
        json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "default", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "csi.vsphere.vmware.com", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
        }),
    )?;
    Api::<k8s_openapi::api::storage::v1::StorageClass>::all(client.clone())
        .create(&PostParams::default(), &class)
        .await
        .map_err(kube_err(format!("create StorageClass default in {}", c.name)))?;
    Ok(())
}

fn backend_name(backend: &S3Backend) -> &'static str {
    match backend {
        S3Backend::Embedded => "embedded",
        S3Backend::Container(_) => "container",
        S3Backend::External(_) => "external endpoint",
    }
}

/// FNV-1a of `s`: a stable seed salt from a name.
pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

async fn ensure_namespace(client: &Client, name: &str) -> Result<(), WorldError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces
        .get_opt(name)
        .await
        .map_err(kube_err(format!("get Namespace {name}")))?
        .is_none()
    {
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(kube_err(format!("create Namespace {name}")))?;
    }
    Ok(())
}

/// One object to create, typed by its Rust type so the right endpoint is used.
enum NewObject {
    Cluster(Box<Cluster>),
    VSphereCluster(Box<VSphereCluster>),
    Template(Box<VSphereMachineTemplate>),
    ControlPlane(Box<KubeadmControlPlane>),
    Deployment(Box<MachineDeployment>),
    HealthCheck(Box<MachineHealthCheck>),
}

fn typed<T: DeserializeOwned>(what: &str, value: serde_json::Value) -> Result<T, WorldError> {
    serde_json::from_value(value).map_err(|source| WorldError::Serde {
        what: what.to_string(),
        source,
    })
}

async fn create_in<K>(client: &Client, object: &K) -> Result<(), WorldError>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let ns = object.meta().namespace.clone().unwrap_or_default();
    Api::<K>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), object)
        .await
        .map_err(kube_err(format!("create {} {ns}/{}", K::kind(&()), object.name_any())))?;
    Ok(())
}

async fn create_dynamic(client: &Client, object: NewObject) -> Result<(), WorldError> {
    match object {
        NewObject::Cluster(o) => create_in(client, o.as_ref()).await,
        NewObject::VSphereCluster(o) => create_in(client, o.as_ref()).await,
        NewObject::Template(o) => create_in(client, o.as_ref()).await,
        NewObject::ControlPlane(o) => create_in(client, o.as_ref()).await,
        NewObject::Deployment(o) => create_in(client, o.as_ref()).await,
        NewObject::HealthCheck(o) => create_in(client, o.as_ref()).await,
    }
}

/// The objects `tanzu cluster create` (legacy, plan-based TKG) leaves in the management cluster
/// for `c`: names as TKG makes them (`<cluster>-<5 chars>` for the VSphereCluster and the
/// control plane, `<cluster>-md-<i>-<5 chars>` for one single-worker MachineDeployment per
/// worker, as in the runbook's example). The control-plane endpoint (TKG's
/// `VSPHERE_CONTROL_PLANE_ENDPOINT`) is the workload cluster's API server.
fn cluster_objects(
    c: &WorkloadCluster,
    config: &ManagementConfig,
    endpoint: std::net::SocketAddr,
    rng: &mut SeededRng,
    now: Timestamp,
) -> Result<Vec<NewObject>, WorldError> {
    let infra = "infrastructure.cluster.x-k8s.io/v1beta1";
    let vsphere_cluster = format!("{}-{}", c.name, rng.suffix(5));
    let kcp = format!("{}-{}", c.name, rng.suffix(5));
    let observed = now.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string();
    let labels = json!({CLUSTER_NAME_LABEL: c.name});
    let vm_spec = |cpus: u32, memory: u32| {
        json!({"template": {"spec": {
            "server": config.vsphere_server, "datacenter": config.datacenter, "datastore": "/dc0/datastore/vsanDatastore",
            "folder": "/dc0/vm/tkg", "resourcePool": "/dc0/host/cluster0/Resources/tkg",
            "template": format!("/dc0/vm/photon-3-kube-{}", c.kubernetes), "cloneMode": "fullClone",
            "numCPUs": cpus, "memoryMiB": memory, "diskGiB": 40,
            "network": {"devices": [{"networkName": "/dc0/network/VM Network", "dhcp4": true}]}}}})
    };
    let mut objects = vec![
        NewObject::Cluster(Box::new(typed(
            "Cluster",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
                "metadata": {"name": c.name, "namespace": c.namespace,
                    "labels": {TKR_LABEL: c.tkr, "tkg.tanzu.vmware.com/cluster-name": c.name},
                    "annotations": {PLAN_ANNOTATION: c.plan,
                        OPERATION_INFO_ANNOTATION: format!(r#"{{"Operation":"Create","OperationStartTimestamp":"{observed}","OperationTimeout":1800}}"#),
                        OPERATION_LAST_OBSERVED_ANNOTATION: observed}},
                "spec": {
                    "clusterNetwork": {"pods": {"cidrBlocks": ["100.96.0.0/11"]}, "services": {"cidrBlocks": ["100.64.0.0/13"]}},
                    "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": kcp, "namespace": c.namespace},
                    "infrastructureRef": {"apiVersion": infra, "kind": "VSphereCluster", "name": vsphere_cluster, "namespace": c.namespace}},
            }),
        )?)),
        NewObject::VSphereCluster(Box::new(typed(
            "VSphereCluster",
            json!({
                "apiVersion": infra, "kind": "VSphereCluster",
                "metadata": {"name": vsphere_cluster, "namespace": c.namespace, "labels": labels},
                "spec": {"server": config.vsphere_server, "thumbprint": "",
                    "controlPlaneEndpoint": {"host": endpoint.ip().to_string(), "port": endpoint.port()}},
            }),
        )?)),
        NewObject::Template(Box::new(typed(
            "VSphereMachineTemplate",
            json!({
                "apiVersion": infra, "kind": "VSphereMachineTemplate",
                "metadata": {"name": format!("{}-control-plane", c.name), "namespace": c.namespace, "labels": labels},
                "spec": vm_spec(4, 16384),
            }),
        )?)),
        NewObject::Template(Box::new(typed(
            "VSphereMachineTemplate",
            json!({
                "apiVersion": infra, "kind": "VSphereMachineTemplate",
                "metadata": {"name": format!("{}-worker", c.name), "namespace": c.namespace, "labels": labels},
                "spec": vm_spec(2, 8192),
            }),
        )?)),
        NewObject::ControlPlane(Box::new(typed(
            "KubeadmControlPlane",
            json!({
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
                "metadata": {"name": kcp, "namespace": c.namespace, "labels": labels},
                "spec": {"replicas": c.control_plane, "version": c.kubernetes,
                    "kubeadmConfigSpec": {"clusterConfiguration": {"imageRepository": "projects.registry.vmware.com/tkg"}},
                    "machineTemplate": {"infrastructureRef": {"apiVersion": infra, "kind": "VSphereMachineTemplate", "name": format!("{}-control-plane", c.name)}}},
            }),
        )?)),
    ];
    for i in 0..c.workers {
        let md = format!("{}-md-{i}-{}", c.name, rng.suffix(5));
        objects.push(NewObject::Deployment(Box::new(typed(
            "MachineDeployment",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                "metadata": {"name": md, "namespace": c.namespace, "labels": labels},
                "spec": {"clusterName": c.name, "replicas": 1,
                    "selector": {"matchLabels": {CLUSTER_NAME_LABEL: c.name, "cluster.x-k8s.io/deployment-name": md}},
                    "template": {
                        "metadata": {"labels": {CLUSTER_NAME_LABEL: c.name, "cluster.x-k8s.io/deployment-name": md, "node-pool": format!("{}-worker-pool", c.name)}},
                        "spec": {"clusterName": c.name, "version": c.kubernetes,
                            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": format!("{md}-bootstrap")}},
                            "infrastructureRef": {"apiVersion": infra, "kind": "VSphereMachineTemplate", "name": format!("{}-worker", c.name)}}}},
            }),
        )?)));
    }
    // TKG's MachineHealthChecks (ENABLE_MHC_WORKER_NODE / ENABLE_MHC_CONTROL_PLANE), with the
    // configured timeouts.
    let go = drdrill_capi_sim::controllers::machinehealthcheck::go_duration_string;
    let mhc = |name: String, selector: serde_json::Value| {
        typed::<MachineHealthCheck>(
            "MachineHealthCheck",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineHealthCheck",
                "metadata": {"name": name, "namespace": c.namespace, "labels": labels},
                "spec": {"clusterName": c.name, "selector": selector, "maxUnhealthy": "100%",
                    "nodeStartupTimeout": go(config.node_startup_timeout),
                    "unhealthyConditions": [
                        {"type": "Ready", "status": "Unknown", "timeout": go(config.mhc_unknown_status_timeout)},
                        {"type": "Ready", "status": "False", "timeout": go(config.mhc_false_status_timeout)}]},
            }),
        )
    };
    if config.mhc_worker_nodes {
        let selector = json!({"matchLabels": {"node-pool": format!("{}-worker-pool", c.name)}});
        objects.push(NewObject::HealthCheck(Box::new(mhc(c.name.clone(), selector)?)));
    }
    if config.mhc_control_plane {
        let selector = json!({"matchLabels": {CONTROL_PLANE_LABEL: ""}});
        objects.push(NewObject::HealthCheck(Box::new(mhc(format!("{}-kcp", c.name), selector)?)));
    }
    Ok(objects)
}

#[allow(dead_code)]
async fn list<K>(client: &Client) -> Result<Vec<K>, WorldError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    Ok(Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(kube_err(format!("list {}", K::kind(&()))))?
        .items)
}

impl World {
    /// The facts the drift report compares for one workload cluster: its Nodes (through its
    /// own API), its Machines (through the management cluster's API) and its VMs (the Site's
    /// inventory).
    pub async fn evidence(&self, namespace: &str, cluster: &str) -> Result<crate::drift::Evidence, WorldError> {
        use crate::drift::{Evidence, MachineFact, NodeFact, VmFact};
        use drdrill_apis::capi::{CONTROL_PLANE_LABEL, Machine};
        use drdrill_capi_sim::site::VmRole;
        use k8s_openapi::api::core::v1::Node;
        let w = self.workload(namespace, cluster)?;
        let mut nodes: Vec<NodeFact> = Api::<Node>::all(w.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(kube_err(format!("list Nodes of {cluster}")))?
            .items
            .into_iter()
            .map(|n| NodeFact {
                control_plane: n.labels().contains_key("node-role.kubernetes.io/control-plane"),
                provider_id: n.spec.as_ref().and_then(|s| s.provider_id.clone()),
                name: n.name_any(),
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut machines: Vec<MachineFact> = Api::<Machine>::namespaced(self.mgmt_client()?, namespace)
            .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={cluster}")))
            .await
            .map_err(kube_err(format!("list Machines of {namespace}/{cluster}")))?
            .items
            .into_iter()
            .map(|m| MachineFact {
                control_plane: m.labels().contains_key(CONTROL_PLANE_LABEL),
                provider_id: m.spec.provider_id.clone(),
                node_ref: m.status.as_ref().and_then(|s| s.node_ref.as_ref()).and_then(|r| r.name.clone()),
                name: m.name_any(),
            })
            .collect();
        machines.sort_by(|a, b| a.name.cmp(&b.name));
        let vms = self
            .site
            .vms_of(cluster)
            .into_iter()
            .map(|vm| VmFact {
                provider_id: vm.provider_id(),
                control_plane: vm.role == VmRole::ControlPlane,
                name: vm.name,
            })
            .collect();
        Ok(Evidence {
            cluster: cluster.to_string(),
            nodes,
            machines,
            vms,
        })
    }
}

impl World {
    /// Writes every object of every cluster (management, when up, and each workload cluster),
    /// read through discovery and LIST: `<dir>/<cluster>/<group>_<version>_<resource>.json`.
    pub async fn dump_objects(&self, dir: &Path) -> Result<usize, WorldError> {
        let mut clients: Vec<(String, Client)> = Vec::new();
        if let Some(m) = &self.mgmt {
            clients.push((format!("management-{}", self.topology.management), m.client.clone()));
        }
        for w in self.workloads.values() {
            clients.push((format!("workload-{}-{}", w.spec.namespace, w.spec.name), w.client.clone()));
        }
        let mut written = 0;
        for (name, client) in clients {
            let folder = dir.join(&name);
            std::fs::create_dir_all(&folder)?;
            let discovery = kube::Discovery::new(client.clone())
                .run()
                .await
                .map_err(kube_err(format!("discovery of {name}")))?;
            for group in discovery.groups() {
                for (resource, caps) in group.recommended_resources() {
                    if !caps.supports_operation(kube::discovery::verbs::LIST) {
                        continue;
                    }
                    let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
                    let Ok(list) = api.list(&ListParams::default()).await else {
                        continue;
                    };
                    if list.items.is_empty() {
                        continue;
                    }
                    let file = format!(
                        "{}_{}_{}.json",
                        if resource.group.is_empty() { "core" } else { &resource.group },
                        resource.version,
                        resource.plural
                    );
                    let body = serde_json::to_string_pretty(&list.items).map_err(|source| WorldError::Serde {
                        what: format!("{name} {file}"),
                        source,
                    })?;
                    std::fs::write(folder.join(file), body)?;
                    written += list.items.len();
                }
            }
        }
        Ok(written)
    }
}
