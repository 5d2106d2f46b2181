//! A Runbook A drill as one value the Gherkin steps drive: a simulated AKS-HCI host cluster on a
//! virtual clock, a PowerShell session against it, the operator's saved configuration backup,
//! and the checks A2 needs (same VM counts and sizes, configuration differences). Each round
//! also runs the site's workload controllers and Velero servers ([`super::workloads`]); the
//! velero CLI, kubectl, the off-site bucket and A1's cold standby are in [`super::site`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill_akshci_sim::{AksHciConfigSpec, AksHciPlatform, HostCluster, HostError, PlatformError, VmRole, admin_context};
use drdrill_kube_sim::clock::{Clock, VirtualClock};
use drdrill_velero_sim::s3::S3Server;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::workloads::{SiteWorkloads, WorkloadsError};
use super::{AksCliError, AksEnv, Difference, RecreateError, SavedCluster, ScriptError};

/// The drill's start time on its virtual clock.
pub const DRILL_START: &str = "2023-03-01T08:00:00Z";

/// VM count by (role, size); workers are `Worker/<pool>`.
pub type VmShape = BTreeMap<(String, String), usize>;

/// Why a drill step failed.
#[derive(Debug, thiserror::Error)]
pub enum AksDrillError {
    /// A PowerShell line failed.
    #[error(transparent)]
    Cli(Box<AksCliError>),
    /// A recreation script line failed.
    #[error("recreating from the backup failed at {0}")]
    Script(Box<ScriptError>),
    /// The saved JSON cannot be used.
    #[error(transparent)]
    Recreate(#[from] RecreateError),
    /// The host cluster refused.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The platform failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A step needs something an earlier step did not do.
    #[error("{0}")]
    Order(String),
    /// A file could not be used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A round of the site's workload machinery failed (for a waiting command: 50 in a row).
    #[error(transparent)]
    Workloads(#[from] WorkloadsError),
    /// A workload cluster client could not be built.
    #[error("client for workload cluster {cluster}: {message}")]
    Client {
        /// The cluster.
        cluster: String,
        /// Why.
        message: String,
    },
}

impl From<AksCliError> for AksDrillError {
    fn from(e: AksCliError) -> Self {
        AksDrillError::Cli(Box::new(e))
    }
}

/// One Runbook A drill.
pub struct AksDrill {
    /// The PowerShell session (its platform is the simulated AKS-HCI deployment).
    pub env: AksEnv,
    /// The virtual clock every timed behaviour reads.
    pub clock: VirtualClock,
    /// Workload cluster clients the operator took while the management cluster answered.
    pub workload_clients: BTreeMap<String, Client>,
    /// Workload controllers, the site's datastore and each workload cluster's Velero.
    pub workloads: SiteWorkloads,
    /// What the application wrote into volumes, by (cluster, namespace, claim): the operator's
    /// record, which outlives the site.
    pub written: BTreeMap<(String, String, String), crate::volume_data::WrittenVolume>,
    pub(super) s3: Option<Arc<S3Server>>,
    pub(super) standby: Option<Box<AksDrill>>,
    pub(super) seed: u64,
    _home: tempfile::TempDir,
    saved_config: Option<String>,
    saved_clusters: Option<String>,
    config_before: Option<AksHciConfigSpec>,
    shapes_before: BTreeMap<String, VmShape>,
}

impl std::fmt::Debug for AksDrill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AksDrill")
            .field("hosts", &self.env.platform.hosts().hosts())
            .field("vms", &self.env.platform.hosts().list().len())
            .field("config_saved", &self.saved_config.is_some())
            .field("clusters_saved", &self.saved_clusters.is_some())
            .finish()
    }
}

impl AksDrill {
    /// A host cluster of `hosts` hosts (`hci-node-1`…), nothing installed.
    pub fn new(hosts: usize, seed: u64) -> Result<Self, AksDrillError> {
        let start = DRILL_START
            .parse()
            .map_err(|e| AksDrillError::Order(format!("drill start time {DRILL_START}: {e}")))?;
        AksDrill::on_clock("hci01", hosts, seed, VirtualClock::starting_at(start))
    }

    /// A host cluster `name` of `hosts` hosts on an existing clock (a second site of the same
    /// drill lives on the same timeline).
    pub(super) fn on_clock(name: &str, hosts: usize, seed: u64, clock: VirtualClock) -> Result<Self, AksDrillError> {
        if !(1..=16).contains(&hosts) {
            return Err(AksDrillError::Order(format!("a host cluster has 1 to 16 hosts, not {hosts}")));
        }
        let names: Vec<String> = (1..=hosts).map(|i| format!("hci-node-{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let platform = AksHciPlatform::new(
            HostCluster::new(name, &refs, Arc::new(clock.clone())),
            Arc::new(clock.clone()),
            seed,
        );
        let home = tempfile::tempdir().map_err(|source| AksDrillError::Io {
            what: "creating the drill's home folder".into(),
            source,
        })?;
        Ok(AksDrill {
            env: AksEnv::new(platform, home.path().to_path_buf()),
            workloads: SiteWorkloads::new(clock.clone(), seed),
            clock,
            workload_clients: BTreeMap::new(),
            written: BTreeMap::new(),
            s3: None,
            standby: None,
            seed,
            _home: home,
            saved_config: None,
            saved_clusters: None,
            config_before: None,
            shapes_before: BTreeMap::new(),
        })
    }

    /// Runs one PowerShell line; returns what it printed (warnings first, `WARNING: ` prefixed).
    pub async fn run(&self, line: &str) -> Result<String, AksCliError> {
        let out = super::run(line, &self.env).await?;
        let mut text: String = out.warnings.iter().map(|w| format!("WARNING: {w}\n")).collect();
        text.push_str(&out.stdout);
        Ok(text)
    }

    /// VM counts by role and size of one workload cluster, from the host cluster.
    pub fn vm_shape(&self, cluster: &str) -> VmShape {
        let mut shape = VmShape::new();
        for vm in self.env.platform.hosts().vms_of(cluster) {
            let role = match vm.spec.role {
                VmRole::Worker(pool) => format!("Worker/{pool}"),
                other => other.label().to_string(),
            };
            *shape.entry((role, vm.spec.vm_size)).or_insert(0) += 1;
        }
        shape
    }

    /// The management VM's host fails; returns the host's name.
    pub async fn fail_management_host(&self) -> Result<String, AksDrillError> {
        let vm = self
            .env
            .platform
            .management_vm()
            .ok_or_else(|| AksDrillError::Order("AKS-HCI is not installed: there is no management VM".into()))?;
        self.env.platform.hosts().fail_host(&vm.host)?;
        self.round().await?;
        Ok(vm.host)
    }

    /// Time passes on the virtual clock, then one round runs (the platform, the workload
    /// controllers and every workload cluster's Velero); returns whether it changed anything.
    pub async fn advance(&self, by: Duration) -> Result<bool, AksDrillError> {
        self.clock.advance(by);
        Ok(self.round().await?.changed)
    }

    /// One round of the site: a pass of the platform, then of every serving workload cluster's
    /// controllers and Velero server.
    pub async fn round(&self) -> Result<super::workloads::RoundReport, AksDrillError> {
        Ok(self.workloads.round(&self.env.platform).await?)
    }

    /// The clock's "now".
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// The operator's backup before the disaster: `Get-AksHciConfig | ConvertTo-Json` (when
    /// `with_config`) and `Get-AksHciCluster | ConvertTo-Json -Depth 4`. Also records what the
    /// world looked like, for the checks after recreation.
    pub async fn save_backup(&mut self, with_config: bool) -> Result<(), AksDrillError> {
        let config_json = self.run("Get-AksHciConfig | ConvertTo-Json").await?;
        self.config_before = Some(super::parse_saved_config(&config_json)?);
        self.saved_config = with_config.then_some(config_json);
        let clusters_json = self.run("Get-AksHciCluster | ConvertTo-Json -Depth 4").await?;
        let clusters = if clusters_json.trim().is_empty() {
            Vec::new()
        } else {
            super::parse_saved_clusters(&clusters_json)?
        };
        self.shapes_before = clusters.iter().map(|c| (c.name.clone(), self.vm_shape(&c.name))).collect();
        self.saved_clusters = Some(clusters_json);
        Ok(())
    }

    fn saved_cluster_list(&self) -> Result<Vec<SavedCluster>, AksDrillError> {
        match self.saved_clusters.as_deref() {
            None => Err(AksDrillError::Order("no configuration backup was taken before the disaster".into())),
            Some(text) if text.trim().is_empty() => Ok(Vec::new()),
            Some(text) => Ok(super::parse_saved_clusters(text)?),
        }
    }

    /// A2 steps 2–3 from the saved JSON (step 1, `Uninstall-AksHci`, is the operator's own
    /// line); returns what the recreation printed.
    pub async fn recreate_from_backup(&self) -> Result<String, AksDrillError> {
        let config = self.saved_config.as_deref().map(super::parse_saved_config).transpose()?;
        let clusters = self.saved_cluster_list()?;
        let script = super::recreate_script(config.as_ref(), &clusters).join("\n");
        super::run_script(&script, &self.env)
            .await
            .map_err(|e| AksDrillError::Script(Box::new(e)))
    }

    /// Clusters whose VM counts and sizes differ from before the disaster, with both shapes.
    pub fn shape_mismatches(&self) -> Vec<(String, VmShape, VmShape)> {
        self.shapes_before
            .iter()
            .map(|(name, before)| (name.clone(), before.clone(), self.vm_shape(name)))
            .filter(|(_, before, after)| before != after)
            .collect()
    }

    /// The configuration settings that differ from before the disaster.
    pub async fn config_differences(&self) -> Result<Vec<Difference>, AksDrillError> {
        let before = self
            .config_before
            .as_ref()
            .ok_or_else(|| AksDrillError::Order("no configuration backup was taken before the disaster".into()))?;
        let now = super::parse_saved_config(&self.run("Get-AksHciConfig | ConvertTo-Json").await?)?;
        Ok(super::config_differences(before, &now))
    }

    /// A client of a workload cluster, from `Get-AksHciCredential` (needs the management cluster).
    pub async fn workload_client(&self, cluster: &str) -> Result<Client, AksDrillError> {
        let file = format!("{cluster}.kubeconfig");
        self.run(&format!("Get-AksHciCredential -name {cluster} -configPath {file}"))
            .await?;
        let path = self.env.workdir.join(&file);
        let text = std::fs::read_to_string(&path).map_err(|source| AksDrillError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?;
        let client_err = |message: String| AksDrillError::Client {
            cluster: cluster.to_string(),
            message,
        };
        let mut kubeconfig = Kubeconfig::from_yaml(&text).map_err(|e| client_err(e.to_string()))?;
        kubeconfig.current_context = Some(admin_context(cluster));
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| client_err(e.to_string()))?;
        Client::try_from(config).map_err(|e| client_err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETUP: &str = "$vnet = New-AksHciNetworkSetting -name vnet1 -vswitchName sw -vipPoolStart 10.0.0.10 -vipPoolEnd 10.0.0.50\n\
        Set-AksHciConfig -vnet $vnet -workingDir C:\\ClusterStorage\\Volume1\\WorkDir\n\
        Install-AksHci\n\
        New-AksHciCluster -name wc -controlPlaneNodeCount 3 -controlPlaneVmSize Standard_A2_V2 -nodePoolName pool1 -nodeCount 3 -nodeVmSize Standard_A2_V2";

    #[tokio::test]
    async fn a2_with_and_without_the_configuration_backup() {
        for with_config in [true, false] {
            let mut drill = AksDrill::new(2, 9).expect("drill");
            assert!(drill.recreate_from_backup().await.is_err(), "no backup yet");
            super::super::run_script(SETUP, &drill.env).await.expect("setup");
            drill.save_backup(with_config).await.expect("backup");
            drill.run("Uninstall-AksHci").await.expect("uninstall");
            assert_eq!(drill.vm_shape("wc"), VmShape::new());
            drill.recreate_from_backup().await.expect("recreate");
            assert!(drill.shape_mismatches().is_empty(), "{:?}", drill.shape_mismatches());
            let differences = drill.config_differences().await.expect("differences");
            let settings: Vec<&str> = differences.iter().map(|d| d.setting.as_str()).collect();
            if with_config {
                assert!(settings.is_empty(), "{settings:?}");
            } else {
                assert_eq!(
                    settings,
                    [
                        "workingDir",
                        "vnet.name",
                        "vnet.vswitchName",
                        "vnet.vipPoolStart",
                        "vnet.vipPoolEnd"
                    ]
                );
            }
        }
    }
}
