//! The Gherkin suite: every `features/*.feature` runs against the embedded simulator, each
//! step a phase of a drill that runs the runbook's own commands.

use cucumber::{World, given, then, when};
use drdrill::drill::{DrillReport, UnpauseDrill};

/// One scenario's state: the drill under way, then its report.
#[derive(Default, World)]
pub struct DrillWorld {
    drill: Option<UnpauseDrill>,
    report: Option<DrillReport>,
    seed: u64,
    artifacts: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for DrillWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrillWorld")
            .field("seed", &self.seed)
            .field("finished", &self.report.is_some())
            .finish()
    }
}

impl DrillWorld {
    fn drill(&mut self) -> &mut UnpauseDrill {
        self.drill.as_mut().expect("a previous step rebuilt the management cluster")
    }

    fn report(&self) -> &DrillReport {
        self.report.as_ref().expect("a previous step ran the unpause script")
    }
}

#[given(expr = "a management cluster rebuilt from its configuration \\(seed {int}\\)")]
async fn rebuilt(world: &mut DrillWorld, seed: u64) {
    let artifacts = tempfile::tempdir().expect("artifacts folder");
    let path = artifacts.path().to_path_buf();
    world.seed = seed;
    world.artifacts = Some(artifacts);
    world.drill = Some(UnpauseDrill::rebuild_for(seed, 0, path).await.expect("rebuild"));
}

#[given(expr = "a backup of tkg-vc-antrea and {int} more workload clusters")]
async fn backup_of(world: &mut DrillWorld, extra: usize) {
    world.drill().with_extra_clusters(extra);
}

#[when("the backup is restored")]
async fn restored(world: &mut DrillWorld) {
    world.drill().restore_paused().await.expect("restore");
}

#[then("tanzu cluster list shows every workload cluster createdStalled")]
async fn all_stalled(world: &mut DrillWorld) {
    let drill = world.drill();
    let expected = drill.topology().clusters.len();
    let list = drill.cluster_list_after_restore().to_string();
    let stalled = list
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(2) == Some("createdStalled"))
        .count();
    assert_eq!(stalled, expected, "tanzu cluster list:\n{list}");
}

#[then(expr = "tanzu cluster list shows {string}")]
async fn list_shows(world: &mut DrillWorld, row: String) {
    let list = world.drill().cluster_list_after_restore().to_string();
    assert!(list.lines().any(|l| l == row), "no row {row:?} in:\n{list}");
}

#[when("the runbook's unpause script runs for every namespace")]
async fn unpause(world: &mut DrillWorld) {
    let mut drill = world.drill.take().expect("a previous step restored the clusters");
    drill.unpause().await.expect("the script runs");
    world.report = Some(drill.verify().await.expect("verify"));
}

#[then("every workload cluster has spec.paused false")]
async fn unpaused(world: &mut DrillWorld) {
    let report = world.report();
    let workload: Vec<_> = report.clusters.iter().filter(|c| c.namespace != "tkg-system").collect();
    assert!(!workload.is_empty());
    assert!(workload.iter().all(|c| !c.paused_after), "{}", report.render());
}

#[then("the clusters in tkg-system are untouched")]
async fn untouched(world: &mut DrillWorld) {
    let report = world.report();
    let mgmt: Vec<_> = report.clusters.iter().filter(|c| c.namespace == "tkg-system").collect();
    assert!(!mgmt.is_empty() && mgmt.iter().all(|c| c.untouched), "{}", report.render());
    assert!(report.passed(), "{}", report.render());
}

fn kubectl_available() -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()));
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if !found && ci {
        panic!("kubectl is not on PATH, and CI=true requires it");
    }
    if !found {
        eprintln!("SKIPPED: the features run the runbook's kubectl commands; kubectl is not on PATH");
    }
    found
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !kubectl_available() {
        return;
    }
    let features = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
    DrillWorld::cucumber().fail_on_skipped().run_and_exit(features).await;
}
