//! The `tanzu` CLI as Runbook T uses it, computed from the management cluster's objects through
//! the Kubernetes API: `cluster list`, `cluster get` (the status view and condition tree),
//! `cluster scale`, `cluster upgrade`, `cluster kubeconfig get --admin` and `kubernetes-release get`.
//!
//! [`run`] takes the words after `tanzu`, parses them as the CLI does (clap here, cobra there),
//! prints what the CLI prints and returns errors instead of exiting. Facts come from
//! tanzu-framework v0.28 (TKG 2.1, the Kubernetes v1.24.10 of the runbook) and the cluster-api
//! v1.2 clusterctl tree it embeds; each submodule says which.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use drdrill_kube_sim::clock::Clock;

pub mod get;
pub mod kubeconfig;
pub mod list;
pub mod release;
pub mod scale;
pub mod tree;
pub mod upgrade;

pub use get::cluster_get;
pub use kubeconfig::{KubeconfigError, kubeconfig_get};
pub use list::{
    ClusterApiObjects, ClusterObjects, ClusterRow, ClusterStatus, LEGACY_TKR_LABEL, ListOptions, MANAGEMENT_ROLE_LABEL,
    OPERATION_INFO_ANNOTATION, OPERATION_LAST_OBSERVED_ANNOTATION, PLAN_ANNOTATION, ROLE_LABEL_PREFIX, TKR_LABEL, cluster_list,
    cluster_list_with, cluster_row, cluster_status, render_cluster_list,
};
pub use release::kubernetes_release_get;
pub use scale::{ScaleError, ScaleRequest, cluster_scale};
pub use upgrade::{UpgradeError, UpgradeRequest, cluster_upgrade};

/// The namespace TKG assumes when `-n` is not given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What the emulated CLI works against.
#[derive(Clone)]
pub struct TanzuEnv {
    /// The management cluster.
    pub client: kube::Client,
    /// "Now", for SINCE and operation timeouts.
    pub clock: Arc<dyn Clock>,
    /// How often a waiting command (`cluster upgrade`) looks again, in wall time: tanzu's 15 s
    /// against a real management cluster; a few milliseconds beside the simulated world, whose
    /// clock runs ahead while the command waits.
    pub poll: std::time::Duration,
    /// The home-directory stand-in: `cluster kubeconfig get` merges into `<workdir>/.kube/config`
    /// by default, and a relative `--export-file` is taken relative to it.
    pub workdir: PathBuf,
}

/// Why a `tanzu` command failed.
#[derive(Debug, thiserror::Error)]
pub enum TanzuCliError {
    /// The words do not form a command (clap's message, with usage).
    #[error("{0}")]
    Usage(String),
    /// No Cluster of that name in that namespace.
    #[error("could not find cluster '{name}' in namespace '{namespace}'")]
    ClusterNotFound {
        /// The cluster asked for.
        name: String,
        /// Where it was looked for.
        namespace: String,
    },
    /// A request to the management cluster failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the CLI was doing, e.g. `list Clusters in default`.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// `cluster scale` refused the request (nothing was patched).
    #[error(transparent)]
    Scale(#[from] ScaleError),
    /// `cluster upgrade` refused the request or did not finish.
    #[error(transparent)]
    Upgrade(#[from] UpgradeError),
    /// `cluster kubeconfig get` failed.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// The output could not be written.
    #[error("writing the output: {0}")]
    Output(#[source] std::io::Error),
}

/// Wraps kube errors with what the CLI was doing.
pub(crate) fn kube_ctx(action: impl Into<String>) -> impl FnOnce(kube::Error) -> TanzuCliError {
    let action = action.into();
    move |source| TanzuCliError::Kube { action, source }
}

#[derive(Debug, Parser)]
#[command(
    name = "tanzu",
    bin_name = "tanzu",
    no_binary_name = true,
    about = "The tanzu CLI, as Runbook T uses it"
)]
struct TanzuArgs {
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// Kubernetes cluster operations.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Kubernetes release operations.
    #[command(name = "kubernetes-release", visible_aliases = ["kr", "kubernetes-releases"])]
    KubernetesRelease {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// List clusters.
    List {
        /// The namespace from which to list workload clusters.
        #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// List the clusters across all namespaces (ignores --namespace).
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Show the management cluster as well.
        #[arg(long)]
        include_management_cluster: bool,
    },
    /// Get details from a cluster.
    Get {
        /// The cluster.
        name: String,
        /// The namespace of the cluster (default: `default`).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Scale a cluster.
    Scale {
        /// The cluster.
        name: String,
        /// The number of worker nodes to scale to (unchanged if 0 or absent).
        #[arg(short = 'w', long, allow_negative_numbers = true, value_name = "COUNT")]
        worker_machine_count: Option<i32>,
        /// The number of control-plane nodes to scale to (unchanged if 0 or absent).
        #[arg(short = 'c', long, allow_negative_numbers = true, value_name = "COUNT")]
        controlplane_machine_count: Option<i32>,
        /// The namespace of the cluster (default: `default`).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Upgrade a cluster.
    Upgrade {
        /// The cluster.
        name: String,
        /// TanzuKubernetesRelease (TKr) to upgrade to: a TKr name or version, or a prefix (the
        /// newest matching); default: the newest.
        #[arg(long)]
        tkr: Option<String>,
        /// The namespace where the workload cluster was created (default: `default`).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Time to wait for each phase, on the world's clock (e.g. 30m, 1h; default 30m0s).
        #[arg(short = 't', long, value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
        /// Upgrade without asking for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Kubeconfig of a cluster.
    Kubeconfig {
        #[command(subcommand)]
        command: KubeconfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KubeconfigCommand {
    /// Get the kubeconfig of a cluster and merge it into the default kubeconfig file.
    Get {
        /// The cluster.
        name: String,
        /// Get the admin kubeconfig of the workload cluster.
        #[arg(long)]
        admin: bool,
        /// The namespace of the cluster (default: `default`).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// File to merge the kubeconfig into instead of the default one.
        #[arg(long)]
        export_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Get available Tanzu Kubernetes releases.
    Get {
        /// Only TKRs whose name starts with this.
        name: Option<String>,
        /// Include incompatible and deactivated releases.
        #[arg(short = 'a', long)]
        all: bool,
    },
}

/// The Cluster `ns/name`, or [`TanzuCliError::ClusterNotFound`].
pub(crate) async fn get_cluster(client: &kube::Client, ns: &str, name: &str) -> Result<drdrill_apis::capi::Cluster, TanzuCliError> {
    kube::Api::<drdrill_apis::capi::Cluster>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(kube_ctx(format!("get Cluster {ns}/{name}")))?
        .ok_or_else(|| TanzuCliError::ClusterNotFound {
            name: name.to_string(),
            namespace: ns.to_string(),
        })
}

/// The ClusterClass of a ClusterClass-based cluster (`spec.topology.class`), which `cluster
/// scale` and `cluster upgrade` do not emulate.
pub(crate) fn cluster_class(cluster: &drdrill_apis::capi::Cluster) -> Option<String> {
    cluster.spec.topology.as_ref().map(|t| t.class.clone()).filter(|c| !c.is_empty())
}

/// The KubeadmControlPlane `cluster.spec.controlPlaneRef` names; `missing` words the error when
/// there is none.
pub(crate) async fn control_plane_of(
    client: &kube::Client,
    ns: &str,
    cluster: &drdrill_apis::capi::Cluster,
    missing: impl Fn(String) -> TanzuCliError,
) -> Result<drdrill_apis::capi::KubeadmControlPlane, TanzuCliError> {
    let name = cluster
        .spec
        .control_plane_ref
        .as_ref()
        .filter(|r| r.kind.as_deref() == Some("KubeadmControlPlane"))
        .and_then(|r| r.name.clone())
        .ok_or_else(|| missing("the Cluster has no KubeadmControlPlane controlPlaneRef".into()))?;
    kube::Api::<drdrill_apis::capi::KubeadmControlPlane>::namespaced(client.clone(), ns)
        .get_opt(&name)
        .await
        .map_err(kube_ctx(format!("get KubeadmControlPlane {ns}/{name}")))?
        .ok_or_else(|| missing(format!("KubeadmControlPlane {ns}/{name} not found")))
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    drdrill_capi_sim::controllers::machinehealthcheck::parse_go_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 30m, 2h30m10s)"))
}

fn parse(args: &[String]) -> Result<Result<TanzuArgs, String>, TanzuCliError> {
    match TanzuArgs::try_parse_from(args) {
        Ok(parsed) => Ok(Ok(parsed)),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(Err(e.render().to_string()))
        }
        Err(e) => Err(TanzuCliError::Usage(e.render().to_string().trim_end().to_string())),
    }
}

/// Checks the words without touching any cluster: `Ok(Some(help))` when they ask for help,
/// `Ok(None)` when they form a command, [`TanzuCliError::Usage`] otherwise.
pub fn check_args(args: &[String]) -> Result<Option<String>, TanzuCliError> {
    parse(args).map(Result::err)
}

/// Runs `tanzu <args>` against `env`, printing to `out`. `--help` prints help and succeeds;
/// malformed words are a [`TanzuCliError::Usage`].
pub async fn run(args: &[String], env: &TanzuEnv, out: &mut (dyn Write + Send)) -> Result<(), TanzuCliError> {
    let parsed = match parse(args)? {
        Ok(parsed) => parsed,
        Err(help) => return out.write_all(help.as_bytes()).map_err(TanzuCliError::Output),
    };
    let now = env.clock.now();
    let ns = |n: Option<String>| n.unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let text = match parsed.command {
        Top::Cluster { command } => match command {
            ClusterCommand::List {
                namespace,
                all_namespaces,
                include_management_cluster,
            } => {
                let options = ListOptions {
                    namespace: (!all_namespaces).then_some(namespace),
                    include_management_cluster,
                };
                let rows = cluster_list_with(&env.client, now, &options)
                    .await
                    .map_err(kube_ctx("list Cluster API objects"))?;
                render_cluster_list(&rows)
            }
            ClusterCommand::Get { name, namespace } => cluster_get(&env.client, &ns(namespace), &name, now).await?,
            ClusterCommand::Scale {
                name,
                worker_machine_count,
                controlplane_machine_count,
                namespace,
            } => {
                let request = ScaleRequest::new(&name, namespace.as_deref(), worker_machine_count, controlplane_machine_count)?;
                cluster_scale(&env.client, &request).await?
            }
            ClusterCommand::Upgrade {
                name,
                tkr,
                namespace,
                timeout,
                yes,
            } => {
                let request = UpgradeRequest {
                    cluster: name,
                    namespace: ns(namespace),
                    tkr,
                    timeout,
                    yes,
                };
                // Prints as it goes: an upgrade takes many minutes.
                return cluster_upgrade(env, &request, out).await;
            }
            ClusterCommand::Kubeconfig {
                command:
                    KubeconfigCommand::Get {
                        name,
                        admin,
                        namespace,
                        export_file,
                    },
            } => {
                let namespace = ns(namespace);
                if !admin {
                    // The non-admin path reads the Cluster first (its endpoint for the Pinniped
                    // kubeconfig), so a wrong name says so before Pinniped is needed.
                    kube::Api::<drdrill_apis::capi::Cluster>::namespaced(env.client.clone(), &namespace)
                        .get_opt(&name)
                        .await
                        .map_err(kube_ctx(format!("get Cluster {namespace}/{name}")))?
                        .ok_or_else(|| TanzuCliError::ClusterNotFound {
                            name: name.clone(),
                            namespace: namespace.clone(),
                        })?;
                    return Err(KubeconfigError::PinnipedNotEmulated { cluster: name }.into());
                }
                let target = export_file.map(|f| env.workdir.join(f));
                kubeconfig_get(&env.client, &namespace, &name, target.as_deref(), &env.workdir).await?
            }
        },
        Top::KubernetesRelease {
            command: ReleaseCommand::Get { name, all },
        } => kubernetes_release_get(&env.client, name.as_deref(), all).await?,
    };
    out.write_all(text.as_bytes()).map_err(TanzuCliError::Output)
}
