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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_drill_writes_a_diagnostics_bundle() {
    if support::require_tool("kubectl").is_none() {
        return;
    }
    let artifacts = tempfile::tempdir().expect("tempdir");
    let mut drill = drdrill::drill::UnpauseDrill::rebuild_for(11, 1, artifacts.path().to_path_buf())
        .await
        .expect("rebuild");
    drill.restore_paused().await.expect("restore");
    // Skip the runbook's unpause step: the clusters stay paused and the drill must fail.
    let report = drill.verify().await.expect("verify runs");
    assert!(!report.passed());
    assert!(report.render().contains("FAILED"));
    let bundle = artifacts.path().join("unpause-seed-11");
    for file in ["report.txt", "clusters-before.json", "clusters-after.json"] {
        let text = std::fs::read_to_string(bundle.join(file)).unwrap_or_else(|e| panic!("{file} in the bundle: {e}"));
        assert!(!text.is_empty(), "{file} is empty");
    }
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("clusters-after.json")).expect("read")).expect("JSON");
    assert!(
        after.as_array().is_some_and(|a| a.iter().any(|c| c["spec"]["paused"] == true)),
        "the bundle shows the clusters left paused"
    );
}
