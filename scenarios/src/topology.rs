//! What a drill builds: a management cluster and the workload clusters it manages.

use crate::seed::SeededRng;

/// Namespace holding the management cluster's own objects (excluded from backups and unpausing).
pub const MANAGEMENT_NAMESPACE: &str = "tkg-system";

/// One workload cluster as `tanzu cluster list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadCluster {
    /// Cluster name.
    pub name: String,
    /// Namespace of its Cluster API objects.
    pub namespace: String,
    /// Desired control-plane machines.
    pub control_plane: u32,
    /// Desired worker machines.
    pub workers: u32,
    /// Kubernetes version, e.g. `v1.24.10+vmware.1`.
    pub kubernetes: String,
    /// Tanzu Kubernetes release, e.g. `v1.24.10---vmware.1-tkg.1`.
    pub tkr: String,
    /// TKG plan (`dev` or `prod`).
    pub plan: String,
}

/// A management cluster and its workload clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Name of the management cluster.
    pub management: String,
    /// The workload clusters.
    pub clusters: Vec<WorkloadCluster>,
    /// The seed the names came from.
    pub seed: u64,
}

const RELEASES: &[(&str, &str)] = &[
    ("v1.22.17+vmware.2", "v1.22.17---vmware.2-tkg.2"),
    ("v1.23.16+vmware.1", "v1.23.16---vmware.1-tkg.1"),
    ("v1.24.10+vmware.1", "v1.24.10---vmware.1-tkg.1"),
];

impl Topology {
    /// The example of Runbook T: `tkg-vc-antrea` (prod plan, 3 control-plane nodes, 3 workers)
    /// in `default`, plus `extra` seeded clusters spread over the namespaces `dev` and `prod`,
    /// one on each TKR the runbook lists.
    pub fn runbook_t(seed: u64, extra: usize) -> Self {
        let mut rng = SeededRng::new(seed);
        let mut clusters = vec![WorkloadCluster {
            name: "tkg-vc-antrea".into(),
            namespace: "default".into(),
            control_plane: 3,
            workers: 3,
            kubernetes: RELEASES[2].0.into(),
            tkr: RELEASES[2].1.into(),
            plan: "prod".into(),
        }];
        for i in 0..extra {
            let namespace = if i % 2 == 0 { "dev" } else { "prod" };
            let (kubernetes, tkr) = RELEASES[i % RELEASES.len()];
            let plan = if namespace == "prod" { "prod" } else { "dev" };
            clusters.push(WorkloadCluster {
                name: format!("wc-{}", rng.suffix(5)),
                namespace: namespace.into(),
                control_plane: if plan == "prod" { 3 } else { 1 },
                workers: 1 + rng.below(3) as u32,
                kubernetes: kubernetes.into(),
                tkr: tkr.into(),
                plan: plan.into(),
            });
        }
        Topology {
            management: "tkg-mgmt-vc".into(),
            clusters,
            seed,
        }
    }

    /// Namespaces the workload clusters live in, sorted, without duplicates.
    pub fn namespaces(&self) -> Vec<String> {
        let mut ns: Vec<String> = self.clusters.iter().map(|c| c.namespace.clone()).collect();
        ns.sort();
        ns.dedup();
        ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_example_comes_first_and_seed_reproduces() {
        let t = Topology::runbook_t(7, 4);
        assert_eq!(t.clusters[0].name, "tkg-vc-antrea");
        assert_eq!((t.clusters[0].control_plane, t.clusters[0].workers), (3, 3));
        assert_eq!(t.clusters.len(), 5);
        assert_eq!(t, Topology::runbook_t(7, 4));
        assert_ne!(t.clusters[1].name, Topology::runbook_t(8, 4).clusters[1].name);
        assert_eq!(t.namespaces(), ["default", "dev", "prod"]);
    }
}
