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

/// A Tanzu Kubernetes release TKG ships: its Kubernetes version and its TKR name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The Kubernetes version, e.g. `v1.24.10+vmware.1`.
    pub kubernetes: &'static str,
    /// The TKR's name, e.g. `v1.24.10---vmware.1-tkg.1` (its version with `+` spelled `---`).
    pub tkr: &'static str,
}

impl Release {
    /// The TKR's version, e.g. `v1.24.10+vmware.1-tkg.1`.
    pub fn tkr_version(&self) -> String {
        self.tkr.replace("---", "+")
    }

    /// `[major, minor, patch]` of the Kubernetes version.
    pub fn numbers(&self) -> [u64; 3] {
        kubernetes_numbers(self.kubernetes).unwrap_or_default()
    }
}

/// The releases of TKG 2.1.1, oldest first (the BOMs its CLI knows); the last is the default.
pub const RELEASES: &[Release] = &[
    Release {
        kubernetes: "v1.22.17+vmware.2",
        tkr: "v1.22.17---vmware.2-tkg.2",
    },
    Release {
        kubernetes: "v1.23.16+vmware.1",
        tkr: "v1.23.16---vmware.1-tkg.1",
    },
    Release {
        kubernetes: "v1.24.10+vmware.1",
        tkr: "v1.24.10---vmware.1-tkg.1",
    },
];

/// The default (newest) release.
pub const LATEST_RELEASE: Release = RELEASES[RELEASES.len() - 1];

/// `[major, minor, patch]` of a version such as `v1.24.10+vmware.1`, if it is one.
pub fn kubernetes_numbers(version: &str) -> Option<[u64; 3]> {
    let core = version.strip_prefix('v').unwrap_or(version);
    let core = core.split(['+', '-']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let numbers = [parts.next()??, parts.next()??, parts.next()??];
    parts.next().is_none().then_some(numbers)
}

/// The release whose Kubernetes version is `kubernetes`.
pub fn release_of(kubernetes: &str) -> Option<Release> {
    RELEASES.iter().copied().find(|r| r.kubernetes == kubernetes)
}

/// The release after `kubernetes`'s (one minor version up), if TKG ships one.
pub fn release_after(kubernetes: &str) -> Option<Release> {
    let at = RELEASES.iter().position(|r| r.kubernetes == kubernetes)?;
    RELEASES.get(at + 1).copied()
}

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
            kubernetes: LATEST_RELEASE.kubernetes.into(),
            tkr: LATEST_RELEASE.tkr.into(),
            plan: "prod".into(),
        }];
        for i in 0..extra {
            let namespace = if i % 2 == 0 { "dev" } else { "prod" };
            let Release { kubernetes, tkr } = RELEASES[i % RELEASES.len()];
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

    #[test]
    fn releases_go_up_one_minor_at_a_time() {
        assert_eq!(kubernetes_numbers("v1.24.10+vmware.1"), Some([1, 24, 10]));
        assert_eq!(kubernetes_numbers("1.23.16"), Some([1, 23, 16]));
        assert_eq!(kubernetes_numbers("v1.24"), None);
        assert_eq!(kubernetes_numbers("v1.24.x+vmware.1"), None);
        assert_eq!(release_after("v1.23.16+vmware.1"), Some(LATEST_RELEASE));
        assert_eq!(release_after(LATEST_RELEASE.kubernetes), None);
        assert_eq!(release_after("v1.25.0"), None);
        assert_eq!(
            release_of("v1.22.17+vmware.2").map(|r| r.tkr_version()).as_deref(),
            Some("v1.22.17+vmware.2-tkg.2")
        );
        for pair in RELEASES.windows(2) {
            let ([_, a, _], [_, b, _]) = (pair[0].numbers(), pair[1].numbers());
            assert_eq!(a + 1, b, "{pair:?}");
        }
    }
}
