//! The drill that runs today: Runbook T's full-restore unpause (step 7) on an embedded
//! management cluster, with the runbook's own script, judged through the Kubernetes API.

use std::path::PathBuf;

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, KubeadmControlPlane, MachineDeployment};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_scenarios::topology::MANAGEMENT_NAMESPACE;
use drdrill_scenarios::{SeededRng, Topology, WorkloadCluster};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::diagnostics::Bundle;
use crate::kubectl::{CommandError, Shell};
use crate::report::columns;
use crate::runbook;
use crate::tanzu::{self, ClusterStatus, OPERATION_INFO_ANNOTATION, OPERATION_LAST_OBSERVED_ANNOTATION, PLAN_ANNOTATION, TKR_LABEL};

/// Why a drill could not be carried out (as opposed to a drill that ran and found a failure).
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The embedded API server did not start.
    #[error("the embedded management cluster did not start: {0}")]
    Server(#[from] drdrill_kube_sim::ServerError),
    /// A Kubernetes API call failed.
    #[error("{step}: Kubernetes API call failed: {source}")]
    Kube {
        /// The step.
        step: &'static str,
        /// The client error.
        source: kube::Error,
    },
    /// A tool or script could not be run.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The scratch folder could not be made.
    #[error("cannot create the drill's working folder: {0}")]
    Io(#[from] std::io::Error),
    /// The kubeconfig the server wrote could not be loaded.
    #[error("cannot load the management cluster's kubeconfig: {0}")]
    Kubeconfig(String),
}

/// Typed inputs of the unpause drill.
#[derive(Debug, Clone)]
pub struct UnpauseDrillInput {
    /// Seed for every generated name.
    pub seed: u64,
    /// Workload clusters beyond the runbook's `tkg-vc-antrea`.
    pub extra_clusters: usize,
    /// Where a diagnostics bundle goes when the drill fails.
    pub artifacts: PathBuf,
}

/// One step of the drill and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// What the step does, in the runbook's words.
    pub step: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Evidence or the reason it failed.
    pub detail: String,
}

/// What happened to one Cluster object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOutcome {
    /// Namespace.
    pub namespace: String,
    /// Cluster name.
    pub name: String,
    /// `spec.paused` after the restore.
    pub paused_before: bool,
    /// `spec.paused` after the runbook step.
    pub paused_after: bool,
    /// Whether the runbook step left the object untouched (resourceVersion unchanged).
    pub untouched: bool,
}

impl ClusterOutcome {
    /// The runbook's expectation: workload clusters unpaused, `tkg-system` left alone.
    pub fn as_expected(&self) -> bool {
        if self.namespace == MANAGEMENT_NAMESPACE {
            self.untouched
        } else {
            !self.paused_after
        }
    }

    fn expectation(&self) -> &'static str {
        if self.namespace == MANAGEMENT_NAMESPACE {
            "untouched"
        } else {
            "unpaused"
        }
    }
}

/// The drill's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillReport {
    /// The seed, printed with every result.
    pub seed: u64,
    /// Steps in order.
    pub steps: Vec<StepOutcome>,
    /// Every Cluster object, sorted by namespace and name.
    pub clusters: Vec<ClusterOutcome>,
    /// `tanzu cluster list` right after the restore (runbook step 6).
    pub cluster_list_after_restore: String,
}

impl DrillReport {
    /// Whether every step and every cluster met the runbook's expectation.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.ok) && !self.clusters.is_empty() && self.clusters.iter().all(ClusterOutcome::as_expected)
    }

    /// The printed report.
    pub fn render(&self) -> String {
        let yes_no = |b: bool| if b { "true" } else { "false" }.to_string();
        let steps: Vec<Vec<String>> = self
            .steps
            .iter()
            .map(|s| vec![s.step.clone(), if s.ok { "ok" } else { "FAILED" }.into(), s.detail.clone()])
            .collect();
        let clusters: Vec<Vec<String>> = self
            .clusters
            .iter()
            .map(|c| {
                vec![
                    c.namespace.clone(),
                    c.name.clone(),
                    yes_no(c.paused_before),
                    yes_no(c.paused_after),
                    c.expectation().into(),
                    if c.as_expected() { "ok" } else { "FAILED" }.into(),
                ]
            })
            .collect();
        format!(
            "Drill: Runbook T (TKG on vSphere), full restore steps 6-7 — restored clusters, unpaused (seed {})\n\n{}\n$ tanzu cluster list   (after the restore)\n{}\n{}\nResult: {}\n",
            self.seed,
            columns(&["STEP", "RESULT", "DETAIL"], &steps),
            self.cluster_list_after_restore,
            columns(
                &["NAMESPACE", "CLUSTER", "PAUSED BEFORE", "PAUSED AFTER", "EXPECTED", "RESULT"],
                &clusters
            ),
            if self.passed() { "PASSED" } else { "FAILED" }
        )
    }
}

fn kube_err(step: &'static str) -> impl FnOnce(kube::Error) -> DrillError {
    move |source| DrillError::Kube { step, source }
}

/// The Cluster API objects of one cluster as its backup holds them: no status (Velero does not
/// restore it), the TKG create operation recorded long ago, `paused` as the restore leaves it.
fn backed_up_objects(
    c: &WorkloadCluster,
    paused: bool,
    rng: &mut SeededRng,
    backed_up_at: jiff::Timestamp,
) -> Result<(Cluster, KubeadmControlPlane, Vec<MachineDeployment>), serde_json::Error> {
    let kcp_name = format!("{}-{}", c.name, rng.suffix(5));
    let observed = backed_up_at.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string();
    let cluster: Cluster = serde_json::from_value(serde_json::json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
        "metadata": {
            "name": c.name, "namespace": c.namespace,
            "labels": {TKR_LABEL: c.tkr, "tkg.tanzu.vmware.com/cluster-name": c.name},
            "annotations": {
                PLAN_ANNOTATION: c.plan,
                OPERATION_INFO_ANNOTATION: format!(r#"{{"Operation":"Create","OperationStartTimestamp":"{observed}","OperationTimeout":1800}}"#),
                OPERATION_LAST_OBSERVED_ANNOTATION: observed,
            },
        },
        "spec": {
            "paused": paused,
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": kcp_name, "namespace": c.namespace},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereCluster", "name": format!("{}-{}", c.name, rng.suffix(5)), "namespace": c.namespace},
        },
    }))?;
    let kcp: KubeadmControlPlane = serde_json::from_value(serde_json::json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
        "metadata": {"name": kcp_name, "namespace": c.namespace, "labels": {CLUSTER_NAME_LABEL: c.name}},
        "spec": {
            "replicas": c.control_plane, "version": c.kubernetes,
            "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": format!("{}-control-plane", c.name)}},
            "kubeadmConfigSpec": {},
        },
    }))?;
    // As in the runbook's example: one MachineDeployment of one worker per failure domain.
    let mds = (0..c.workers)
        .map(|i| {
            let name = format!("{}-md-{i}-{}", c.name, rng.suffix(5));
            serde_json::from_value(serde_json::json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                "metadata": {"name": name, "namespace": c.namespace, "labels": {CLUSTER_NAME_LABEL: c.name}},
                "spec": {
                    "clusterName": c.name, "replicas": 1,
                    "selector": {"matchLabels": {CLUSTER_NAME_LABEL: c.name, "cluster.x-k8s.io/deployment-name": name}},
                    "template": {
                        "metadata": {"labels": {CLUSTER_NAME_LABEL: c.name, "cluster.x-k8s.io/deployment-name": name}},
                        "spec": {"clusterName": c.name, "version": c.kubernetes, "bootstrap": {"configRef": {"kind": "KubeadmConfigTemplate", "name": format!("{name}-bootstrap")}},
                                 "infrastructureRef": {"kind": "VSphereMachineTemplate", "name": format!("{name}-worker")}},
                    },
                },
            }))
        })
        .collect::<Result<Vec<MachineDeployment>, _>>()?;
    Ok((cluster, kcp, mds))
}

/// The drill as phases a runner (the CLI, or a Gherkin scenario) walks in order:
/// [`UnpauseDrill::rebuild`], [`restore_paused`](UnpauseDrill::restore_paused),
/// [`unpause`](UnpauseDrill::unpause), [`verify`](UnpauseDrill::verify).
pub struct UnpauseDrill {
    input: UnpauseDrillInput,
    topology: Topology,
    // Kept alive for the drill's duration: the server stops and the folder goes when dropped.
    work: tempfile::TempDir,
    _server: ApiServer,
    client: Client,
    shell: Shell,
    steps: Vec<StepOutcome>,
    before: Vec<Cluster>,
    cluster_list_after_restore: String,
    script: Option<crate::kubectl::CommandOutput>,
}

impl UnpauseDrill {
    /// Step 1: a fresh management cluster (embedded API server) with the CRDs installed.
    pub async fn rebuild(input: &UnpauseDrillInput) -> Result<Self, DrillError> {
        let topology = Topology::runbook_t(input.seed, input.extra_clusters);
        let work = tempfile::tempdir()?;
        let server = ApiServer::start(ServerOptions {
            cluster_name: topology.management.clone(),
            seed: input.seed,
            ..ServerOptions::default()
        })
        .await?;
        let kubeconfig = work.path().join("kubeconfig");
        let context = format!("{0}-admin@{0}", topology.management);
        server.write_kubeconfig(&kubeconfig, &context)?;
        // The runbook's commands need kubectl and bash: say so before doing any work.
        let shell = Shell::new(&kubeconfig, work.path())?;
        let loaded = Kubeconfig::read_from(&kubeconfig).map_err(|e| DrillError::Kubeconfig(e.to_string()))?;
        let config = Config::from_custom_kubeconfig(loaded, &KubeConfigOptions::default())
            .await
            .map_err(|e| DrillError::Kubeconfig(e.to_string()))?;
        let client = Client::try_from(config).map_err(kube_err("connect"))?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let all_crds = drdrill_apis::all_crds();
        for crd in &all_crds {
            crds.create(&PostParams::default(), crd)
                .await
                .map_err(kube_err("install Cluster API CRDs"))?;
        }
        let steps = vec![StepOutcome {
            step: "rebuild management cluster".into(),
            ok: true,
            detail: format!("context {context}, {} CRDs installed", all_crds.len()),
        }];
        Ok(UnpauseDrill {
            input: input.clone(),
            topology,
            work,
            _server: server,
            client,
            shell,
            steps,
            before: Vec::new(),
            cluster_list_after_restore: String::new(),
            script: None,
        })
    }

    /// Step 1 for a given seed and size, with the failure bundle going to `artifacts`.
    pub async fn rebuild_for(seed: u64, extra_clusters: usize, artifacts: PathBuf) -> Result<Self, DrillError> {
        Self::rebuild(&UnpauseDrillInput {
            seed,
            extra_clusters,
            artifacts,
        })
        .await
    }

    /// The management cluster's kubeconfig (valid while the drill is alive).
    pub fn kubeconfig(&self) -> PathBuf {
        self.work.path().join("kubeconfig")
    }

    /// Sets how many workload clusters the backup holds besides `tkg-vc-antrea` (before restoring).
    pub fn with_extra_clusters(&mut self, extra_clusters: usize) {
        self.input.extra_clusters = extra_clusters;
        self.topology = Topology::runbook_t(self.input.seed, extra_clusters);
    }

    /// The workload clusters this drill restores.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Steps 5–6: the backed-up Cluster API objects come back paused, without status; every
    /// workload cluster then shows `createdStalled` in `tanzu cluster list`.
    pub async fn restore_paused(&mut self) -> Result<(), DrillError> {
        let client = &self.client;
        let topology = &self.topology;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut wanted = topology.namespaces();
        wanted.push(MANAGEMENT_NAMESPACE.into());
        for ns in wanted.iter().filter(|n| *n != "default") {
            let obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap_or_default();
            namespaces
                .create(&PostParams::default(), &obj)
                .await
                .map_err(kube_err("create namespaces"))?;
        }
        // The backup was taken a day ago; the create operation it records is long past its timeout.
        let now = jiff::Timestamp::now();
        let backed_up_at = now - jiff::SignedDuration::from_hours(24);
        let mut rng = SeededRng::new(self.input.seed ^ 0x00BA_C00B);
        let mut objects = 0;
        for c in &topology.clusters {
            let (cluster, kcp, mds) =
                backed_up_objects(c, true, &mut rng, backed_up_at).map_err(|e| DrillError::Kubeconfig(e.to_string()))?;
            Api::<Cluster>::namespaced(client.clone(), &c.namespace)
                .create(&PostParams::default(), &cluster)
                .await
                .map_err(kube_err("restore clusters"))?;
            Api::<KubeadmControlPlane>::namespaced(client.clone(), &c.namespace)
                .create(&PostParams::default(), &kcp)
                .await
                .map_err(kube_err("restore control planes"))?;
            for md in &mds {
                Api::<MachineDeployment>::namespaced(client.clone(), &c.namespace)
                    .create(&PostParams::default(), md)
                    .await
                    .map_err(kube_err("restore machine deployments"))?;
            }
            objects += 2 + mds.len();
        }
        let management = WorkloadCluster {
            name: topology.management.clone(),
            namespace: MANAGEMENT_NAMESPACE.into(),
            ..topology.clusters[0].clone()
        };
        let (mgmt_cluster, _, _) =
            backed_up_objects(&management, false, &mut rng, backed_up_at).map_err(|e| DrillError::Kubeconfig(e.to_string()))?;
        Api::<Cluster>::namespaced(client.clone(), MANAGEMENT_NAMESPACE)
            .create(&PostParams::default(), &mgmt_cluster)
            .await
            .map_err(kube_err("create the management cluster's own Cluster"))?;
        self.steps.push(StepOutcome {
            step: "restore clusters (paused)".into(),
            ok: true,
            detail: format!(
                "{} workload clusters, {objects} Cluster API objects, in {} namespaces",
                topology.clusters.len(),
                topology.namespaces().len()
            ),
        });
        let rows: Vec<tanzu::ClusterRow> = tanzu::cluster_list(client, now)
            .await
            .map_err(kube_err("tanzu cluster list"))?
            .into_iter()
            .filter(|r| r.namespace != MANAGEMENT_NAMESPACE)
            .collect();
        let stalled = rows.iter().filter(|r| r.status == ClusterStatus::CreatedStalled).count();
        self.steps.push(StepOutcome {
            step: "step 6: clusters createdStalled".into(),
            ok: stalled == topology.clusters.len(),
            detail: format!("{stalled} of {} workload clusters createdStalled", topology.clusters.len()),
        });
        self.cluster_list_after_restore = tanzu::render_cluster_list(&rows);
        self.before = Api::<Cluster>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map_err(kube_err("list clusters"))?
            .items;
        Ok(())
    }

    /// `tanzu cluster list` as it was right after the restore.
    pub fn cluster_list_after_restore(&self) -> &str {
        &self.cluster_list_after_restore
    }

    /// Step 7: the runbook's unpause script, verbatim, under bash with the real kubectl.
    pub async fn unpause(&mut self) -> Result<(), DrillError> {
        let script = self.shell.bash(runbook::UNPAUSE_ALL_NAMESPACES).await?;
        let patched = script.stdout.matches("patched").count();
        self.steps.push(StepOutcome {
            step: "step 7: unpause script".into(),
            ok: script.success,
            detail: if script.success {
                format!("{patched} clusters patched")
            } else {
                format!("exit status non-zero: {}", script.stderr.trim())
            },
        });
        self.script = Some(script);
        Ok(())
    }

    /// Judges the outcome through the API; a failed drill leaves a diagnostics bundle.
    pub async fn verify(&self) -> Result<DrillReport, DrillError> {
        let after = Api::<Cluster>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(kube_err("list clusters"))?
            .items;
        let mut clusters: Vec<ClusterOutcome> = self
            .before
            .iter()
            .map(|b| {
                let a = after.iter().find(|a| a.metadata.uid == b.metadata.uid);
                ClusterOutcome {
                    namespace: b.metadata.namespace.clone().unwrap_or_default(),
                    name: b.metadata.name.clone().unwrap_or_default(),
                    paused_before: b.spec.paused,
                    paused_after: a.is_some_and(|a| a.spec.paused),
                    untouched: a.is_some_and(|a| a.metadata.resource_version == b.metadata.resource_version),
                }
            })
            .collect();
        clusters.sort_by(|x, y| (&x.namespace, &x.name).cmp(&(&y.namespace, &y.name)));
        let report = DrillReport {
            seed: self.input.seed,
            steps: self.steps.clone(),
            clusters,
            cluster_list_after_restore: self.cluster_list_after_restore.clone(),
        };
        if !report.passed() {
            let bundle = Bundle::create(&self.input.artifacts, &format!("unpause-seed-{}", self.input.seed))?;
            bundle.add("report.txt", &report.render())?;
            if let Some(script) = &self.script {
                bundle.add("script.stdout", &script.stdout)?;
                bundle.add("script.stderr", &script.stderr)?;
            }
            bundle.add(
                "clusters-before.json",
                &serde_json::to_string_pretty(&self.before).unwrap_or_default(),
            )?;
            bundle.add("clusters-after.json", &serde_json::to_string_pretty(&after).unwrap_or_default())?;
            eprintln!("diagnostics bundle written to {}", bundle.path().display());
        }
        Ok(report)
    }
}

/// Runs the drill's phases in order; `progress` hears about each step as it starts.
pub async fn run_unpause_drill(input: &UnpauseDrillInput, progress: &mut dyn FnMut(usize, usize, &str)) -> Result<DrillReport, DrillError> {
    const TOTAL: usize = 4;
    progress(1, TOTAL, "rebuild the management cluster (embedded API server)");
    let mut drill = UnpauseDrill::rebuild(input).await?;
    progress(2, TOTAL, "restore the backed-up Cluster objects, paused");
    drill.restore_paused().await?;
    progress(3, TOTAL, "run the runbook's unpause script (bash + kubectl)");
    drill.unpause().await?;
    progress(4, TOTAL, "verify through the Kubernetes API");
    drill.verify().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ns: &str, name: &str, after: bool, untouched: bool) -> ClusterOutcome {
        ClusterOutcome {
            namespace: ns.into(),
            name: name.into(),
            paused_before: ns != MANAGEMENT_NAMESPACE,
            paused_after: after,
            untouched,
        }
    }

    #[test]
    fn report_matches_golden_file() {
        let report = DrillReport {
            seed: 7,
            steps: vec![
                StepOutcome {
                    step: "rebuild management cluster".into(),
                    ok: true,
                    detail: "context m-admin@m".into(),
                },
                StepOutcome {
                    step: "step 7: unpause script".into(),
                    ok: true,
                    detail: "1 clusters patched".into(),
                },
            ],
            clusters: vec![
                outcome("default", "tkg-vc-antrea", false, false),
                outcome(MANAGEMENT_NAMESPACE, "m", false, true),
            ],
            cluster_list_after_restore: "NAME  STATUS\ntkg-vc-antrea  createdStalled\n".into(),
        };
        crate::report::assert_golden("drill_report.txt", &report.render());
    }

    #[test]
    fn a_cluster_left_paused_fails_the_drill() {
        let report = DrillReport {
            seed: 1,
            steps: vec![],
            clusters: vec![outcome("prod", "p", true, true)],
            cluster_list_after_restore: String::new(),
        };
        assert!(!report.passed());
        assert!(report.render().contains("FAILED"));
        let touched_mgmt = DrillReport {
            seed: 1,
            steps: vec![],
            clusters: vec![outcome(MANAGEMENT_NAMESPACE, "m", false, false)],
            cluster_list_after_restore: String::new(),
        };
        assert!(!touched_mgmt.passed(), "touching tkg-system fails the drill");
    }
}
