//! An AKS-HCI site at work: commands that wait run while the site keeps turning, the velero CLI
//! and kubectl against its workload clusters, the off-site bucket (one embedded S3 store every
//! site of the drill reaches, a bucket per workload cluster as the runbook recommends), the
//! application's volume data, and A1's second site — prepared as a cold standby before the
//! disaster, and the site the drill continues on once the first one is lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill_capi_sim::workloads::volumes::volume_of_claim;
use drdrill_kube_sim::clock::Clock;
use drdrill_velero_sim::format::{BackupItem, decode_json_gz, read_backup_tarball};
use drdrill_velero_sim::s3::{Credentials, ObjectStore, S3Server, S3ServerConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use drdrill_akshci_sim::VmRole;

use super::contents::{DeploymentFacts, Excluded, FileContent, deployment_facts};
use super::drill::{AksDrill, AksDrillError};
use super::workloads::ClusterWorkloads;
use crate::kubectl::{CommandOutput, Shell};
use crate::volume_data::{WrittenVolume, hashes};
use crate::world::{S3_ACCESS_KEY, S3_SECRET_KEY};

/// How far the clock moves per round while a waiting command's world is quiet.
pub const PASS_STEP: Duration = Duration::from_secs(1);
/// Quiet rounds [`AksDrill::alongside`] runs with the clock standing still before time passes.
pub const QUIET_ROUNDS_BEFORE_TIME: usize = 40;
/// The longest stride of the clock in [`AksDrill::run_for`] while nothing happens.
pub const MAX_QUIET_STEP: Duration = Duration::from_secs(600);
/// How long `velero … --wait` waits on an AKS-HCI site.
pub const VELERO_WAIT: Duration = Duration::from_secs(900);

/// A claim's volume compared with what was written into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeComparison {
    /// The volume the claim is bound to now.
    pub handle: String,
    /// The volume it was bound to when written.
    pub written_to: String,
    /// Files now, path → hex sha256.
    pub now: BTreeMap<String, String>,
    /// Bytes now.
    pub bytes: usize,
    /// Differences (missing, different or extra files).
    pub problems: Vec<String>,
}

/// A Deployment of a workload cluster as the operator checks it after a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDeployment {
    /// Spec facts: namespace, name, replicas, requests.
    pub facts: DeploymentFacts,
    /// `status.readyReplicas`.
    pub ready: i64,
    /// Pods of the Deployment in phase Running.
    pub running_pods: usize,
}

impl AksDrill {
    fn cluster_workloads(&self, cluster: &str) -> Result<Arc<ClusterWorkloads>, AksDrillError> {
        self.workloads.cluster(cluster).ok_or_else(|| {
            let known: Vec<String> = self.workloads.clusters().iter().map(|c| c.name.clone()).collect();
            AksDrillError::Order(format!(
                "no workload cluster {cluster:?} serves on host cluster {} (known: {})",
                self.env.platform.hosts().name(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })
    }

    /// The machinery of `cluster`, after one round (which picks up a cluster created, or
    /// recreated under the same name, since the last one).
    async fn picked_up(&self, cluster: &str) -> Result<Arc<ClusterWorkloads>, AksDrillError> {
        self.round().await?;
        self.cluster_workloads(cluster)
    }

    /// A client of a workload cluster, from the site's own machinery (no management cluster needed).
    pub fn cluster_client(&self, cluster: &str) -> Result<kube::Client, AksDrillError> {
        Ok(self.cluster_workloads(cluster)?.client.clone())
    }

    /// Runs `work` (a command that waits) while the site keeps turning: the clock stands still
    /// while the site reacts, and moves [`PASS_STEP`] per round only after
    /// [`QUIET_ROUNDS_BEFORE_TIME`] quiet rounds (as `World::alongside` does for TKG). Typing
    /// the command takes one [`PASS_STEP`]. 50 failed rounds in a row stop the command.
    pub async fn alongside<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, AksDrillError> {
        self.clock.advance(PASS_STEP);
        let pump = async {
            let mut failures = 0;
            let mut quiet = 0;
            loop {
                match self.round().await {
                    Ok(r) => {
                        failures = 0;
                        quiet = if r.changed { 0 } else { quiet + 1 };
                        if quiet >= QUIET_ROUNDS_BEFORE_TIME {
                            self.clock.advance(PASS_STEP);
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "AKS-HCI site round failed");
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

    /// Runs rounds until two in a row change nothing, the clock moving [`PASS_STEP`] per round.
    pub async fn settle(&self, max_rounds: usize) -> Result<usize, AksDrillError> {
        let mut quiet = 0;
        for round in 1..=max_rounds {
            let r = self.round().await?;
            self.clock.advance(PASS_STEP);
            quiet = if r.changed { 0 } else { quiet + 1 };
            if quiet == 2 {
                return Ok(round);
            }
        }
        Err(AksDrillError::Order(format!(
            "the AKS-HCI site did not settle within {max_rounds} rounds"
        )))
    }

    /// Lets `duration` of simulated time pass with rounds: one every [`PASS_STEP`] while
    /// something structural happens, strides doubling up to [`MAX_QUIET_STEP`] while it is quiet.
    pub async fn run_for(&self, duration: Duration) -> Result<usize, AksDrillError> {
        let end = self.clock.now() + duration;
        let mut step = PASS_STEP;
        let mut rounds = 0;
        loop {
            let left = Duration::try_from(end.duration_since(self.clock.now())).unwrap_or(Duration::ZERO);
            if left.is_zero() {
                return Ok(rounds);
            }
            let r = self.round().await?;
            rounds += 1;
            step = if r.activity > 0 {
                PASS_STEP
            } else {
                (step * 2).min(MAX_QUIET_STEP)
            };
            self.clock.advance(step.min(left));
        }
    }

    /// The off-site object store every site of this drill reaches, started on first use.
    pub async fn object_store(&mut self) -> Result<Arc<S3Server>, AksDrillError> {
        if let Some(s3) = &self.s3 {
            return Ok(s3.clone());
        }
        let server = S3Server::start(S3ServerConfig::new(Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY)))
            .await
            .map_err(|e| AksDrillError::Order(format!("the embedded S3 store did not start: {e}")))?;
        let server = Arc::new(server);
        self.s3 = Some(server.clone());
        Ok(server)
    }

    /// A client of bucket `bucket` of the object store.
    pub async fn bucket(&mut self, bucket: &str) -> Result<ObjectStore, AksDrillError> {
        let s3 = self.object_store().await?;
        ObjectStore::new(&s3.endpoint(), bucket, "", &Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY))
            .map_err(|e| AksDrillError::Order(format!("bucket {bucket} at {}: {e}", s3.endpoint())))
    }

    /// Creates `bucket` in the object store (MinIO's `mc mb`).
    pub async fn create_bucket(&mut self, bucket: &str) -> Result<(), AksDrillError> {
        let store = self.bucket(bucket).await?;
        store
            .ensure_bucket()
            .await
            .map_err(|e| AksDrillError::Order(format!("creating bucket {bucket}: {e}")))?;
        Ok(())
    }

    /// `$REGION` and `$S3_URL` for the runbook's `velero install … --backup-location-config
    /// region=$REGION`: the embedded MinIO-compatible store's path-style endpoint.
    fn expand(&self, line: &str) -> String {
        let Some(s3) = &self.s3 else {
            return line.to_string();
        };
        let endpoint = s3.endpoint();
        line.replace("${REGION}", "$REGION")
            .replace("$REGION", &format!("minio,s3ForcePathStyle=\"true\",s3Url={endpoint}"))
            .replace("${S3_URL}", &endpoint)
            .replace("$S3_URL", &endpoint)
    }

    /// Runs a velero command line against workload cluster `cluster` while the site turns;
    /// relative `--secret-file` paths are read in `home` (the operator's terminal).
    pub async fn velero(&mut self, cluster: &str, line: &str, home: &std::path::Path) -> Result<CommandOutput, AksDrillError> {
        if line.contains("$REGION") || line.contains("$S3_URL") || line.contains("${") {
            self.object_store().await?;
        }
        let client = self.picked_up(cluster).await?.client.clone();
        let expanded = self.expand(line);
        let words = match crate::velero::split_command_line(&expanded) {
            Ok(words) => words,
            Err(e) => return Ok(failed_output(String::new(), &e.to_string())),
        };
        let mut after_flag = false;
        let args: Vec<String> = words
            .into_iter()
            .map(|a| {
                let resolved = if after_flag && std::path::Path::new(&a).is_relative() {
                    home.join(&a).display().to_string()
                } else if let Some(path) = a.strip_prefix("--secret-file=").filter(|p| std::path::Path::new(p).is_relative()) {
                    format!("--secret-file={}", home.join(path).display())
                } else {
                    a.clone()
                };
                after_flag = a == "--secret-file";
                resolved
            })
            .collect();
        let mut env = crate::velero::VeleroEnv::new(client, Arc::new(self.clock.clone()));
        env.wait_poll = Duration::from_millis(20);
        env.wait_timeout = VELERO_WAIT;
        let mut out = Vec::new();
        let result = self.alongside(crate::velero::run(&args, &env, &mut out)).await?;
        let stdout = String::from_utf8_lossy(&out).into_owned();
        Ok(match result {
            Ok(()) => CommandOutput {
                success: true,
                stdout,
                stderr: String::new(),
            },
            Err(e) => failed_output(stdout, &e.to_string()),
        })
    }

    /// Runs kubectl (the real binary) against workload cluster `cluster` while the site turns;
    /// `home` is the terminal's working folder (relative `-f` files).
    pub async fn kubectl(&self, cluster: &str, args: &[String], home: &std::path::Path) -> Result<CommandOutput, AksDrillError> {
        let w = self.picked_up(cluster).await?;
        let path = self
            .env
            .workdir
            .join(format!("{}-{cluster}.admin.kubeconfig", self.env.platform.hosts().name()));
        std::fs::write(&path, &w.kubeconfig).map_err(|source| AksDrillError::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        let shell = Shell::new(&path, home).map_err(|e| AksDrillError::Order(format!("kubectl: {e}")))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.alongside(shell.kubectl(&args))
            .await?
            .map_err(|e| AksDrillError::Order(format!("kubectl: {e}")))
    }

    /// The application writes `files` into the volume of claim `namespace/claim` of `cluster`;
    /// the sha256 of each is recorded.
    pub async fn write_into_claim(
        &mut self,
        cluster: &str,
        namespace: &str,
        claim: &str,
        files: &[(String, Vec<u8>)],
    ) -> Result<&WrittenVolume, AksDrillError> {
        let client = self.picked_up(cluster).await?.client.clone();
        let handle = volume_of_claim(&client, namespace, claim)
            .await
            .map_err(|e| AksDrillError::Order(format!("workload cluster {cluster}: {e}")))?;
        let mut written = WrittenVolume::new(handle.clone());
        for (path, data) in files {
            self.workloads
                .datastore
                .write_file(&handle, path, data)
                .map_err(|e| AksDrillError::Order(format!("writing {path} into PVC {namespace}/{claim} of {cluster}: {e}")))?;
            written.record(path, data);
        }
        let key = (cluster.to_string(), namespace.to_string(), claim.to_string());
        self.written.insert(key.clone(), written);
        Ok(&self.written[&key])
    }

    /// Claim `namespace/claim` of `cluster` compared file by file (sha256) with what the
    /// application wrote into it.
    pub async fn compare_claim(&self, cluster: &str, namespace: &str, claim: &str) -> Result<VolumeComparison, AksDrillError> {
        let key = (cluster.to_string(), namespace.to_string(), claim.to_string());
        let before = self.written.get(&key).ok_or_else(|| {
            AksDrillError::Order(format!(
                "nothing was written into PVC {namespace}/{claim} of {cluster} earlier in this drill"
            ))
        })?;
        let client = self.picked_up(cluster).await?.client.clone();
        let handle = volume_of_claim(&client, namespace, claim)
            .await
            .map_err(|e| AksDrillError::Order(format!("workload cluster {cluster}: {e}")))?;
        let files = self
            .workloads
            .datastore
            .files(&handle)
            .map_err(|e| AksDrillError::Order(format!("volume {handle} of PVC {namespace}/{claim}: {e}")))?;
        let problems = before.differences(&files);
        let now = hashes(&files);
        Ok(VolumeComparison {
            handle,
            written_to: before.handle.clone(),
            bytes: files.values().map(Vec::len).sum(),
            now,
            problems,
        })
    }

    /// The Deployments of `namespace` in `cluster`, with readiness and Running pods.
    pub async fn deployments(&self, cluster: &str, namespace: &str) -> Result<Vec<LiveDeployment>, AksDrillError> {
        let client = self.picked_up(cluster).await?.client.clone();
        let kube_err = |what: String| move |e: kube::Error| AksDrillError::Order(format!("workload cluster {cluster}: {what}: {e}"));
        let deployments = Api::<Deployment>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .map_err(kube_err(format!("list Deployments in {namespace}")))?;
        let pods = Api::<Pod>::namespaced(client, namespace)
            .list(&ListParams::default())
            .await
            .map_err(kube_err(format!("list Pods in {namespace}")))?;
        let mut out = Vec::new();
        for d in deployments {
            let selector = d.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
            let running_pods = pods
                .iter()
                .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0).into();
            let value = serde_json::to_value(&d).map_err(|e| AksDrillError::Order(format!("Deployment {}: {e}", d.name_any())))?;
            out.push(LiveDeployment {
                facts: deployment_facts(&value),
                ready,
                running_pods,
            });
        }
        out.sort_by(|a, b| a.facts.cmp(&b.facts));
        Ok(out)
    }

    /// Every file of backup `backup` in `bucket` (`backups/<backup>/`), read as the runbook's
    /// table describes it: gzipped logs as text, `*.json.gz` as JSON, the tarball as objects.
    pub async fn backup_files(&mut self, bucket: &str, backup: &str) -> Result<BTreeMap<String, FileContent>, AksDrillError> {
        let store = self.bucket(bucket).await?;
        let prefix = store.layout().backup_dir(backup);
        let keys = store
            .list(&prefix)
            .await
            .map_err(|e| AksDrillError::Order(format!("listing {prefix} in bucket {bucket}: {e}")))?;
        if keys.is_empty() {
            return Err(AksDrillError::Order(format!("bucket {bucket} holds no files under {prefix}")));
        }
        let mut files = BTreeMap::new();
        for key in keys {
            let name = key.strip_prefix(&prefix).unwrap_or(&key).to_string();
            let bytes = store
                .get(&key)
                .await
                .map_err(|e| AksDrillError::Order(format!("downloading {key} from bucket {bucket}: {e}")))?;
            let bad = |e: String| AksDrillError::Order(format!("{key} in bucket {bucket}: {e}"));
            let content = if name.ends_with(".tar.gz") {
                FileContent::Items(read_backup_tarball(&bytes).map_err(|e| bad(e.to_string()))?)
            } else if name.ends_with(".json.gz") {
                FileContent::Json(decode_json_gz::<serde_json::Value>(&bytes, &key).map_err(|e| bad(e.to_string()))?)
            } else if name.ends_with(".gz") && name.contains("-logs") {
                let text = drdrill_velero_sim::format::gunzip(&bytes, &key).map_err(|e| bad(e.to_string()))?;
                FileContent::Text(String::from_utf8_lossy(&text).into_owned())
            } else {
                FileContent::Other
            };
            files.insert(name, content);
        }
        Ok(files)
    }

    /// The objects of backup `backup`'s tarball in `bucket`.
    pub async fn backup_items(&mut self, bucket: &str, backup: &str) -> Result<Vec<BackupItem>, AksDrillError> {
        let store = self.bucket(bucket).await?;
        let key = store.layout().backup_contents_key(backup);
        let bytes = store
            .get(&key)
            .await
            .map_err(|e| AksDrillError::Order(format!("downloading {key} from bucket {bucket}: {e}")))?;
        read_backup_tarball(&bytes).map_err(|e| AksDrillError::Order(format!("{key} in bucket {bucket}: {e}")))
    }

    /// A1's prerequisite: a second site (host cluster `hci02` of `hosts` hosts on the same
    /// timeline), reaching the same off-site object store, prepared before the disaster with
    /// `script` (install and one empty workload cluster per cluster to restore). Returns what the
    /// script printed.
    pub async fn prepare_standby(&mut self, hosts: usize, seed: u64, script: &str) -> Result<String, AksDrillError> {
        let s3 = self.object_store().await?;
        let mut standby = AksDrill::on_clock("hci02", hosts, seed, self.clock.clone())?;
        standby.s3 = Some(s3);
        let out = super::run_script(script, &standby.env)
            .await
            .map_err(|e| AksDrillError::Script(Box::new(e)))?;
        standby.settle(400).await?;
        self.standby = Some(Box::new(standby));
        Ok(out)
    }

    /// The disaster of A1: this site (hosts, VMs, clusters, volumes) is gone; the drill goes on
    /// at the cold standby. The operator's records (what was written) and the off-site bucket
    /// carry over. Returns the name of the host cluster now in use.
    pub fn lose_site(&mut self) -> Result<String, AksDrillError> {
        let standby = self
            .standby
            .take()
            .ok_or_else(|| AksDrillError::Order("no cold standby was prepared before the disaster: A1 needs one (see Runbook A)".into()))?;
        let lost = std::mem::replace(self, *standby);
        self.written = lost.written.clone();
        if self.s3.is_none() {
            self.s3 = lost.s3.clone();
        }
        drop(lost);
        Ok(self.env.platform.hosts().name().to_string())
    }

    /// What Runbook A says a Velero backup does not contain, with the values of this site and
    /// workload cluster `cluster` that would give each away: the management cluster's
    /// configuration (its AKS-HCI resources, folders, VM), the control-plane and load-balancer
    /// VMs, the network settings, the storage settings (StorageClasses). Read now, from
    /// `Get-AksHciConfig` and the host cluster.
    pub async fn excluded_from_backups(&self, cluster: &str) -> Result<Vec<Excluded>, AksDrillError> {
        let config = super::parse_saved_config(&self.run("Get-AksHciConfig | ConvertTo-Json").await?)?;
        let vms = self.env.platform.hosts().vms_of(cluster);
        if vms.is_empty() {
            return Err(AksDrillError::Order(format!(
                "workload cluster {cluster} has no VMs on host cluster {}",
                self.env.platform.hosts().name()
            )));
        }
        let names_of = |role: VmRole| -> Vec<String> {
            vms.iter()
                .filter(|vm| vm.spec.role == role)
                .map(|vm| vm.spec.name.clone())
                .collect()
        };
        let group = drdrill_akshci_sim::apis::GROUP;
        let vnet = &config.vnet;
        Ok(vec![
            Excluded {
                what: "management-cluster configuration".into(),
                resources: vec![format!("akshciconfigs.{group}"), format!("akshciclusters.{group}")],
                values: vec![
                    config.image_dir.clone(),
                    config.working_dir.clone(),
                    config.cloud_config_location.clone(),
                    config.node_config_location.clone(),
                    drdrill_akshci_sim::MANAGEMENT_VM.to_string(),
                ],
            },
            Excluded {
                what: "control-plane VM (API server) metadata".into(),
                resources: Vec::new(),
                values: names_of(VmRole::ControlPlane),
            },
            Excluded {
                what: "load-balancer (HAProxy) metadata".into(),
                resources: Vec::new(),
                values: names_of(VmRole::LoadBalancer),
            },
            Excluded {
                what: "network settings".into(),
                resources: Vec::new(),
                values: vec![
                    vnet.name.clone(),
                    vnet.vswitch_name.clone(),
                    vnet.vip_pool_start.clone(),
                    vnet.vip_pool_end.clone(),
                    vnet.k8s_node_ip_pool_start.clone(),
                    vnet.k8s_node_ip_pool_end.clone(),
                    vnet.ip_address_prefix.clone(),
                    vnet.gateway.clone(),
                ],
            },
            Excluded {
                what: "storage settings".into(),
                resources: vec!["storageclasses.storage.k8s.io".into(), "csidrivers.storage.k8s.io".into()],
                values: Vec::new(),
            },
        ])
    }

    /// The cold standby, if one was prepared.
    pub fn standby(&self) -> Option<&AksDrill> {
        self.standby.as_deref()
    }

    /// The seed this site was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

fn failed_output(stdout: String, message: &str) -> CommandOutput {
    CommandOutput {
        success: false,
        stdout,
        stderr: format!("Error: {message}\n"),
    }
}
