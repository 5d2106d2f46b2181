//! The Gherkin suite: every `features/*.feature` runs against the embedded simulator with the
//! step definitions of `drdrill::suite` (the same runner as `drdrill drill`).

use drdrill::suite::{SuiteOptions, run};

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
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let options = SuiteOptions {
        features: vec![root.join("features")],
        concurrency: 2,
        tags: std::env::var("DRDRILL_TAGS").ok(),
        artifacts: root.join("target").join("drdrill-artifacts"),
        reports: Some(root.join("target").join("drdrill-reports")),
        seed: None,
        output: None,
    };
    let summary = run(&options).await.unwrap_or_else(|e| panic!("{e}"));
    if !summary.ok() {
        eprintln!("features: {summary:?}");
        std::process::exit(1);
    }
}
