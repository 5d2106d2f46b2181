//! `tanzu cluster scale NAME -w N [-c N] [-n NS]` for clusters that are not ClusterClass-based
//! (tanzu-framework `tkg/tkgctl/scale_cluster.go` and `tkg/client/scale.go`):
//! * a count of 0 (or none) leaves that part unchanged; both unchanged is refused;
//! * the management cluster's own Cluster is always looked up in its namespace (`tkg-system`);
//! * control-plane replicas are patched on the Cluster's KubeadmControlPlane — an even count is
//!   refused as Cluster API's KCP admission webhook refuses it when etcd is stacked (TKG itself only
//!   checks oddness at create time);
//! * N workers are spread over the cluster's MachineDeployments in name order: each gets N / count,
//!   the first N % count one more; fewer workers than MachineDeployments is refused.
//!
//! Unlike tanzu, which patches what it can and then reports the errors it collected, every check
//! runs before the first patch, so a refused request changes nothing.

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, KubeadmControlPlane, MachineDeployment};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::list::MANAGEMENT_ROLE_LABEL;
use super::{DEFAULT_NAMESPACE, TanzuCliError, cluster_class, control_plane_of, get_cluster, kube_ctx};

/// Why `cluster scale` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// A count below zero.
    #[error("invalid --{flag} {value}: a machine count cannot be negative")]
    NegativeCount {
        /// `worker-machine-count` or `controlplane-machine-count`.
        flag: &'static str,
        /// The value given.
        value: i32,
    },
    /// Neither count asks for a change.
    #[error("incorrect machine counts provided. Machine count value for control-plane and workers must be greater than 0")]
    NoMachineCounts,
    /// The cluster is ClusterClass-based (scaled through `spec.topology`, not emulated).
    #[error(
        "cluster '{cluster}' in namespace '{namespace}' is ClusterClass-based (spec.topology.class {class}); scaling it through its topology is not emulated"
    )]
    ClusterClassBased {
        /// The cluster.
        cluster: String,
        /// Its namespace.
        namespace: String,
        /// Its ClusterClass.
        class: String,
    },
    /// The Cluster has no KubeadmControlPlane to scale.
    #[error("unable to find control plane node object for cluster {cluster}: {reason}")]
    NoControlPlane {
        /// The cluster.
        cluster: String,
        /// What is missing.
        reason: String,
    },
    /// An even control-plane count with stacked etcd.
    #[error(
        "unable to update control plane replica count for cluster {cluster}: KubeadmControlPlane {namespace}/{kcp} spec.replicas {count}: cannot be an even number when etcd is stacked"
    )]
    EvenControlPlane {
        /// The cluster.
        cluster: String,
        /// Its namespace.
        namespace: String,
        /// The KubeadmControlPlane.
        kcp: String,
        /// The count asked for.
        count: i32,
    },
    /// The cluster has no MachineDeployment.
    #[error("no machine deployments found in cluster {cluster}")]
    NoMachineDeployments {
        /// The cluster.
        cluster: String,
    },
    /// Fewer workers than MachineDeployments.
    #[error(
        "new worker count must be greater than or equal to the number of machine deployments. worker count: {workers}, machine deployment count: {machine_deployments}"
    )]
    TooFewWorkers {
        /// The count asked for.
        workers: i32,
        /// The cluster's MachineDeployments.
        machine_deployments: usize,
    },
}

/// A validated `cluster scale` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRequest {
    /// The cluster.
    pub cluster: String,
    /// `-n`, if given.
    pub namespace: Option<String>,
    /// Workers wanted (0: unchanged).
    pub workers: i32,
    /// Control-plane machines wanted (0: unchanged).
    pub control_plane: i32,
}

impl ScaleRequest {
    /// Checks the counts as given on the command line (absent means 0, unchanged).
    pub fn new(cluster: &str, namespace: Option<&str>, workers: Option<i32>, control_plane: Option<i32>) -> Result<Self, ScaleError> {
        for (flag, value) in [("worker-machine-count", workers), ("controlplane-machine-count", control_plane)] {
            if let Some(value) = value.filter(|v| *v < 0) {
                return Err(ScaleError::NegativeCount { flag, value });
            }
        }
        let (workers, control_plane) = (workers.unwrap_or(0), control_plane.unwrap_or(0));
        if workers == 0 && control_plane == 0 {
            return Err(ScaleError::NoMachineCounts);
        }
        Ok(ScaleRequest {
            cluster: cluster.to_string(),
            namespace: namespace.map(str::to_string),
            workers,
            control_plane,
        })
    }
}

/// The replicas each MachineDeployment gets when `workers` are spread over `count` of them.
pub fn spread_workers(workers: i32, count: usize) -> Vec<i32> {
    let n = i32::try_from(count).unwrap_or(i32::MAX).max(1);
    let (per, leftover) = (workers / n, workers % n);
    (0..n).map(|i| if i < leftover { per + 1 } else { per }).collect()
}

fn etcd_is_stacked(kcp: &KubeadmControlPlane) -> bool {
    kcp.spec
        .kubeadm_config_spec
        .cluster_configuration
        .as_ref()
        .and_then(|c| c.pointer("/etcd/external"))
        .is_none_or(serde_json::Value::is_null)
}

/// Scales the cluster; returns tanzu's messages.
pub async fn cluster_scale(client: &Client, request: &ScaleRequest) -> Result<String, TanzuCliError> {
    let name = request.cluster.as_str();
    let management = Api::<Cluster>::all(client.clone())
        .list(&ListParams::default().labels(MANAGEMENT_ROLE_LABEL))
        .await
        .map_err(kube_ctx("list management Clusters"))?
        .items
        .into_iter()
        .find(|c| c.name_any() == name);
    let namespace = match &management {
        Some(c) => c.namespace().unwrap_or_default(),
        None => request.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
    };
    let ns = namespace.as_str();
    let cluster = get_cluster(client, ns, name).await?;
    if let Some(class) = cluster_class(&cluster) {
        return Err(ScaleError::ClusterClassBased {
            cluster: name.into(),
            namespace,
            class,
        }
        .into());
    }

    let kcps: Api<KubeadmControlPlane> = Api::namespaced(client.clone(), ns);
    let mut kcp_patch = None;
    if request.control_plane > 0 {
        let no_cp = |reason: String| {
            TanzuCliError::from(ScaleError::NoControlPlane {
                cluster: name.into(),
                reason,
            })
        };
        let kcp = control_plane_of(client, ns, &cluster, no_cp).await?;
        let kcp_name = kcp.name_any();
        if request.control_plane % 2 == 0 && etcd_is_stacked(&kcp) {
            return Err(ScaleError::EvenControlPlane {
                cluster: name.into(),
                namespace,
                kcp: kcp_name,
                count: request.control_plane,
            }
            .into());
        }
        kcp_patch = Some(kcp_name);
    }

    let mds: Api<MachineDeployment> = Api::namespaced(client.clone(), ns);
    let mut md_patches: Vec<(String, i32)> = Vec::new();
    if request.workers > 0 {
        let mut names: Vec<String> = mds
            .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}")))
            .await
            .map_err(kube_ctx(format!("list MachineDeployments of {ns}/{name}")))?
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(ScaleError::NoMachineDeployments { cluster: name.into() }.into());
        }
        if usize::try_from(request.workers).unwrap_or(0) < names.len() {
            return Err(ScaleError::TooFewWorkers {
                workers: request.workers,
                machine_deployments: names.len(),
            }
            .into());
        }
        let spread = spread_workers(request.workers, names.len());
        md_patches = names.into_iter().zip(spread).collect();
    }

    let mut out = String::new();
    let replicas = |n: i32| Patch::Merge(json!({"spec": {"replicas": n}}));
    if let Some(kcp_name) = kcp_patch {
        kcps.patch(&kcp_name, &PatchParams::default(), &replicas(request.control_plane))
            .await
            .map_err(kube_ctx(format!("patch KubeadmControlPlane {ns}/{kcp_name} replicas")))?;
        out.push_str(&format!("Successfully updated control plane replica count for cluster {name}\n"));
    }
    if !md_patches.is_empty() {
        for (md, n) in &md_patches {
            mds.patch(md, &PatchParams::default(), &replicas(*n))
                .await
                .map_err(kube_ctx(format!("patch MachineDeployment {ns}/{md} replicas")))?;
        }
        out.push_str(&format!(
            "Successfully updated worker node machine deployment replica count for cluster {name}\n"
        ));
    }
    out.push_str(&format!("Workload cluster '{name}' is being scaled\n"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_spread_like_tkg() {
        assert_eq!(spread_workers(2, 1), [2]);
        assert_eq!(spread_workers(7, 3), [3, 2, 2]);
        assert_eq!(spread_workers(8, 3), [3, 3, 2]);
        assert_eq!(spread_workers(3, 3), [1, 1, 1]);
    }

    #[test]
    fn counts_are_checked_before_any_request() {
        assert_eq!(
            ScaleRequest::new("wc", None, Some(-1), None),
            Err(ScaleError::NegativeCount {
                flag: "worker-machine-count",
                value: -1
            })
        );
        assert_eq!(ScaleRequest::new("wc", None, Some(0), None), Err(ScaleError::NoMachineCounts));
        assert_eq!(
            ScaleRequest::new("wc", None, None, Some(3)).map(|r| (r.workers, r.control_plane)),
            Ok((0, 3))
        );
    }
}
