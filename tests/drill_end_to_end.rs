//! `drdrill drill` end to end: the README's main command, on the embedded simulator.

mod support;

use drdrill::drill::{UnpauseDrillInput, run_unpause_drill};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpause_drill_passes_and_prints_the_golden_report() {
    if support::require_tool("kubectl").is_none() {
        return;
    }
    let artifacts = tempfile::tempdir().expect("tempdir");
    let input = UnpauseDrillInput {
        seed: 7,
        extra_clusters: 4,
        artifacts: artifacts.path().to_path_buf(),
    };
    let mut steps = Vec::new();
    let report = run_unpause_drill(&input, &mut |i, n, what| steps.push(format!("{i}/{n} {what}")))
        .await
        .expect("drill runs");
    assert_eq!(steps.len(), 4, "progress reported for every step: {steps:?}");
    assert!(report.passed(), "{}", report.render());
    drdrill::report::assert_golden("drill_unpause_seed7.txt", &report.render());
    assert_eq!(
        std::fs::read_dir(artifacts.path()).expect("artifacts dir").count(),
        0,
        "no diagnostics bundle for a passing drill"
    );
}
