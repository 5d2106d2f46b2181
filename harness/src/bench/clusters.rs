//! The `clusters` benchmark: a management cluster brings N workload clusters (3 control-plane
//! nodes and 3 workers each) to `running` through its controllers alone, via
//! [`World::create`]. Measured: wall time per phase (management cluster, creating the
//! clusters' servers and objects, controller passes until every cluster is running), the number
//! of passes, and the process's peak memory.

use std::time::{Duration, Instant};

use drdrill_kube_sim::clock::Clock;
use drdrill_scenarios::{Topology, WorkloadCluster};
use serde::Serialize;

use super::{BenchError, MemoryStatus, build_name, memory_status, reset_peak_memory};
use crate::mgmt_config::ManagementConfig;
use crate::report::columns;
use crate::world::{EPOCH, PASS_STEP, World};

/// Sizes of the clusters benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct ClustersInput {
    /// Workload-cluster counts, each measured in its own world, in this order.
    pub sizes: Vec<usize>,
    /// Control-plane nodes per cluster.
    pub control_plane: u32,
    /// Worker nodes per cluster.
    pub workers: u32,
    /// The seed of the world's names.
    pub seed: u64,
    /// Clusters per namespace: 0 puts every cluster in `default` (as the features do, and the
    /// worst case for controllers that list a whole namespace); k spreads them over namespaces
    /// `bench-00`, `bench-01`… of k clusters each.
    pub per_namespace: usize,
}

impl Default for ClustersInput {
    fn default() -> Self {
        ClustersInput {
            sizes: vec![20, 200],
            control_plane: 3,
            workers: 3,
            seed: 7,
            per_namespace: 0,
        }
    }
}

/// One world measured.
#[derive(Debug, Clone, Serialize)]
pub struct ClustersRun {
    /// Workload clusters.
    pub clusters: usize,
    /// Nodes (= Machines = VMs) the controllers brought up.
    pub nodes: usize,
    /// Wall time from the start of [`World::create`] until it returned (every cluster running).
    pub total_ms: f64,
    /// Starting the management cluster (API server, CRDs, controllers).
    pub management_ms: f64,
    /// Starting every workload cluster's API server and creating its objects in the management cluster.
    pub create_ms: f64,
    /// Controller passes until every cluster was running and the world was quiet.
    pub settle_ms: f64,
    /// Controller passes run (each moves the virtual clock by one pass step, so this is the
    /// simulated seconds the clock moved).
    pub passes: u64,
    /// `settle_ms / passes`.
    pub ms_per_pass: f64,
    /// Resident memory when the run started (KiB).
    pub start_rss_kib: u64,
    /// Peak resident memory during the run (KiB): `VmHWM`, reset before the run when the
    /// kernel allows it, otherwise the process peak.
    pub peak_rss_kib: u64,
    /// Whether the peak was reset before the run (false: it is the process's peak since start).
    pub peak_reset: bool,
}

/// Everything the clusters benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct ClustersReport {
    /// Sizes used.
    pub input: ClustersInput,
    /// Whether this was an optimized build.
    pub release_build: bool,
    /// One entry per size.
    pub runs: Vec<ClustersRun>,
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

impl ClustersReport {
    /// The printed table.
    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|r| {
                vec![
                    r.clusters.to_string(),
                    r.nodes.to_string(),
                    format!("{:.1}", r.total_ms / 1000.0),
                    format!("{:.1}", r.management_ms / 1000.0),
                    format!("{:.1}", r.create_ms / 1000.0),
                    format!("{:.1}", r.settle_ms / 1000.0),
                    r.passes.to_string(),
                    format!("{:.1}", r.ms_per_pass),
                    mib(r.peak_rss_kib),
                    mib(r.start_rss_kib),
                ]
            })
            .collect();
        columns(
            &[
                "CLUSTERS",
                "NODES",
                "TOTAL S",
                "MGMT S",
                "CREATE S",
                "SETTLE S",
                "PASSES",
                "MS/PASS",
                "PEAK MIB",
                "START MIB",
            ],
            &rows,
        )
    }

    /// The body of the `clusters` block of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let reset = self.runs.iter().all(|r| r.peak_reset);
        format!(
            "```\n{}```\nBuild: {}. Each cluster: {} control-plane nodes + {} workers (seed {}), {}. PEAK MIB is the process's VmHWM {}; START MIB its RSS when the run began. Raw data: `benchmarks/clusters.json`.",
            self.table(),
            build_name(self.release_build),
            self.input.control_plane,
            self.input.workers,
            self.input.seed,
            match self.input.per_namespace {
                0 => "all in namespace default".to_string(),
                k => format!("{k} per namespace"),
            },
            if reset {
                "(reset through /proc/self/clear_refs before each run)"
            } else {
                "since the process started (the kernel refused a reset)"
            },
        )
    }
}

/// `n` clusters `bench-wc-NNN` in Runbook T's prod shape, all in namespace `default`
/// (`per_namespace` 0) or `per_namespace` to a namespace `bench-NN`.
pub fn topology(n: usize, control_plane: u32, workers: u32, seed: u64, per_namespace: usize) -> Topology {
    Topology {
        management: "tkg-mgmt-vc".into(),
        clusters: (0..n)
            .map(|i| WorkloadCluster {
                name: format!("bench-wc-{i:03}"),
                namespace: match per_namespace {
                    0 => "default".to_string(),
                    k => format!("bench-{:02}", i / k),
                },
                control_plane,
                workers,
                kubernetes: "v1.24.10+vmware.1".into(),
                tkr: "v1.24.10---vmware.1-tkg.1".into(),
                plan: "prod".into(),
            })
            .collect(),
        seed,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Builds one world of `n` clusters and measures it.
pub async fn measure(n: usize, input: &ClustersInput, progress: &mut dyn FnMut(&str)) -> Result<ClustersRun, BenchError> {
    let peak_reset = reset_peak_memory();
    let MemoryStatus {
        rss_kib: start_rss_kib, ..
    } = memory_status()?;
    progress(&format!(
        "{n} workload clusters x ({} + {} nodes)",
        input.control_plane, input.workers
    ));
    let start = Instant::now();
    // World::create reports its phases through `progress`: the management cluster first, then
    // one message per workload cluster, then the settling.
    let mut marks: Vec<(String, Instant)> = Vec::new();
    let world = World::create(
        ManagementConfig::runbook_example("tkg-mgmt-vc"),
        topology(n, input.control_plane, input.workers, input.seed, input.per_namespace),
        &mut |what| marks.push((what.to_string(), Instant::now())),
    )
    .await
    .map_err(|e| BenchError::World {
        clusters: n,
        source: Box::new(e),
    })?;
    let end = Instant::now();
    let memory = memory_status()?;
    let first_workload = marks.iter().find(|(m, _)| m.starts_with("workload cluster")).map(|(_, t)| *t);
    let settling = marks.iter().find(|(m, _)| m.starts_with("controllers")).map(|(_, t)| *t);
    let (Some(first_workload), Some(settling)) = (first_workload.or(settling), settling) else {
        return Err(BenchError::Outcome(format!(
            "World::create did not report its phases as expected (heard: {:?})",
            marks.iter().map(|(m, _)| m.as_str()).take(3).collect::<Vec<_>>()
        )));
    };
    // Every pass moves the virtual clock by PASS_STEP and nothing else moves it while the
    // world is created, so the clock counts the passes.
    let epoch: jiff::Timestamp = EPOCH
        .parse()
        .map_err(|e| BenchError::Setup(format!("world::EPOCH {EPOCH:?}: {e}")))?;
    let moved = world.clock.now().duration_since(epoch).as_secs().max(0) as u64;
    let passes = moved / PASS_STEP.as_secs().max(1);
    let created = world.workload_clusters().count();
    let nodes: usize = world.workload_clusters().map(|w| world.site.vms_of(&w.spec.name).len()).sum();
    let want_nodes = n * (input.control_plane + input.workers) as usize;
    if created != n || nodes != want_nodes || !world.all_running().await.unwrap_or(false) {
        return Err(BenchError::Outcome(format!(
            "the world of {n} clusters came back with {created} clusters and {nodes} VMs (want {n} and {want_nodes}, all running)"
        )));
    }
    drop(world);
    let settle_ms = ms(end - settling);
    let run = ClustersRun {
        clusters: n,
        nodes,
        total_ms: ms(end - start),
        management_ms: ms(first_workload - start),
        create_ms: ms(settling - first_workload),
        settle_ms,
        passes,
        ms_per_pass: settle_ms / passes.max(1) as f64,
        start_rss_kib,
        peak_rss_kib: memory.peak_kib,
        peak_reset,
    };
    progress(&format!(
        "{n} clusters running after {:.1} s, {passes} passes, peak {} MiB",
        run.total_ms / 1000.0,
        mib(run.peak_rss_kib)
    ));
    Ok(run)
}

/// Measures every size of `input`, one world after the other.
pub async fn run(input: &ClustersInput, progress: &mut dyn FnMut(&str)) -> Result<ClustersReport, BenchError> {
    if input.sizes.is_empty() || input.sizes.contains(&0) {
        return Err(BenchError::Setup(format!(
            "cluster counts must be at least 1, got {:?}",
            input.sizes
        )));
    }
    let mut runs = Vec::new();
    for &n in &input.sizes {
        runs.push(measure(n, input, progress).await?);
    }
    Ok(ClustersReport {
        input: input.clone(),
        release_build: super::release_build(),
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_has_the_asked_shape_and_unique_names() {
        let t = topology(12, 3, 3, 5, 0);
        assert_eq!(t.clusters.len(), 12);
        assert!(
            t.clusters
                .iter()
                .all(|c| c.control_plane == 3 && c.workers == 3 && c.namespace == "default")
        );
        let mut names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), 12);
        let spread = topology(12, 3, 3, 5, 5);
        assert_eq!(spread.namespaces(), ["bench-00", "bench-01", "bench-02"]);
        assert_eq!(spread.clusters.iter().filter(|c| c.namespace == "bench-02").count(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_world_is_measured_end_to_end() {
        let input = ClustersInput {
            sizes: vec![2],
            control_plane: 1,
            workers: 1,
            seed: 3,
            per_namespace: 1,
        };
        let report = run(&input, &mut |_| {}).await.expect("bench runs");
        let r = &report.runs[0];
        assert_eq!((r.clusters, r.nodes), (2, 4));
        assert!(r.passes > 0 && r.settle_ms > 0.0 && r.create_ms > 0.0, "{r:?}");
        assert!(r.peak_rss_kib > 0 && (!r.peak_reset || r.peak_rss_kib >= r.start_rss_kib), "{r:?}");
        assert!(report.markdown().contains("Raw data: `benchmarks/clusters.json`"));
        let err = run(&ClustersInput { sizes: vec![0], ..input }, &mut |_| {})
            .await
            .expect_err("zero clusters")
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
    }
}
