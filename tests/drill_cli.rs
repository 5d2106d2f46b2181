//! The `drdrill` binary as a CI gate and an engineer use it: `drdrill drill` exits 0 only when
//! every scenario passes, reports unknown steps, unparsable features and unknown commands with
//! the file and line, and writes a diagnostics bundle for a failed scenario; `drdrill up` serves
//! a world kubectl can reach until SIGINT, then removes its folder.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn drdrill() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drdrill"))
}

const BACKGROUND: &str = r#"
  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "wc" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 3)
"#;

fn feature(dir: &Path, name: &str, scenario: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("Feature: {name}\n{BACKGROUND}\n  Scenario: {name}\n{scenario}")).expect("feature");
    path
}

fn run_drill(features: &[&Path], artifacts: &Path) -> (bool, String) {
    let out = drdrill()
        .arg("drill")
        .args(features)
        .arg("--artifacts")
        .arg(artifacts)
        .arg("--reports")
        .arg(artifacts.with_extension("reports"))
        .output()
        .expect("run drdrill");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn a_passing_feature_exits_zero_with_a_summary() {
    if support::require_tool("kubectl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let ok = feature(
        dir.path(),
        "ok.feature",
        "    Then every workload cluster is running\n    And \"tanzu cluster list\" shows:\n      | NAME | STATUS  |\n      | wc   | running |\n",
    );
    let artifacts = dir.path().join("artifacts");
    let (success, text) = run_drill(&[&ok], &artifacts);
    assert!(success, "{text}");
    assert!(text.contains("PASSED") && text.contains("VERDICT"), "{text}");
    let reports = artifacts.with_extension("reports");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuite") && junit.contains("ok.feature"), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("cucumber.json")).expect("cucumber.json")).expect("Cucumber JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(1), "one feature in the report: {json}");
}

/// `--output junit` puts the JUnit XML alone on standard output (steps and summary go to
/// standard error), and `--seed` replaces every scenario's seed (the world's names change) and
/// is printed with the result.
#[test]
fn output_junit_owns_stdout_and_seed_overrides_the_features() {
    if support::require_tool("kubectl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let ok = feature(dir.path(), "ok.feature", "    Then every workload cluster is running\n");
    let run = |seed: Option<&str>| {
        let mut cmd = drdrill();
        cmd.arg("drill").arg(&ok).arg("--output").arg("junit");
        cmd.arg("--artifacts").arg(dir.path().join("artifacts"));
        cmd.arg("--reports").arg(dir.path().join("reports"));
        if let Some(seed) = seed {
            cmd.arg("--seed").arg(seed);
        }
        cmd.output().expect("run drdrill")
    };
    let out = run(Some("99"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.trim_start().starts_with("<?xml") && stdout.contains("<testsuite"),
        "stdout is the XML alone:\n{stdout}"
    );
    assert!(
        !stdout.contains("VERDICT") && stderr.contains("VERDICT"),
        "the summary goes to stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("seed: 99 (every scenario)") && stderr.contains("seed 99 (--seed; the feature names 3)"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("reports/junit.xml").exists(),
        "the JUnit report went to stdout, not to a file"
    );
    assert!(dir.path().join("reports/cucumber.json").exists());
    let feature_seed = run(None);
    let stderr = String::from_utf8_lossy(&feature_seed.stderr).into_owned();
    assert!(
        feature_seed.status.success() && !stderr.contains("--seed"),
        "without --seed the feature's own: {stderr}"
    );

    let bad = drdrill().args(["drill", "--output", "xml"]).output().expect("run drdrill");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("choose junit or json"));
}

#[test]
fn failures_exit_non_zero_naming_file_line_and_what_was_expected() {
    if support::require_tool("kubectl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let artifacts = dir.path().join("artifacts");
    let wrong = feature(
        dir.path(),
        "wrong.feature",
        "    Then \"tanzu cluster list\" shows:\n      | NAME | STATUS         |\n      | wc   | createdStalled |\n",
    );
    let (success, text) = run_drill(&[&wrong], &artifacts);
    assert!(!success, "{text}");
    assert!(
        text.contains("row 1, column STATUS: expected \"createdStalled\", got \"running\""),
        "{text}"
    );
    assert!(text.contains("wrong.feature:"), "the failing step's file and line: {text}");
    let bundles: Vec<_> = std::fs::read_dir(&artifacts).expect("a bundle").collect();
    assert_eq!(bundles.len(), 1, "one bundle for the failed scenario");
    let bundle = bundles[0].as_ref().expect("entry").path();
    for file in [
        "seed.txt",
        "transcript.txt",
        "site-vms.txt",
        "tanzu-cluster-list.txt",
        "drift-wc.txt",
        "controller-log.txt",
    ] {
        assert!(bundle.join(file).is_file(), "{file} in {}", bundle.display());
    }
    let log = std::fs::read_to_string(bundle.join("controller-log.txt")).expect("controller log");
    assert!(
        log.lines().any(|l| l.contains(" machineset: created Machine/wc-md-0-")),
        "the controllers' actions, named: {}",
        &log[..log.len().min(2000)]
    );
    assert!(
        log.lines().any(|l| l.contains(" wc kubelet: registered Node ")),
        "{}",
        &log[..log.len().min(2000)]
    );
    assert!(
        bundle.join("workload-default-wc").join("core_v1_nodes.json").is_file(),
        "objects of every cluster"
    );

    let unknown_step = feature(dir.path(), "unknown_step.feature", "    When the datacenter floods\n");
    let (success, text) = run_drill(&[&unknown_step], &artifacts);
    assert!(!success, "an undefined step fails: {text}");
    assert!(
        text.contains("unknown_step.feature:") && text.contains("the datacenter floods"),
        "{text}"
    );

    let unknown_command = feature(dir.path(), "unknown_command.feature", "    When I run \"oc get nodes\"\n");
    let (success, text) = run_drill(&[&unknown_command], &artifacts);
    assert!(!success, "{text}");
    assert!(text.contains("`oc` is not a command drdrill can run"), "{text}");

    let unparsable = dir.path().join("broken.feature");
    std::fs::write(
        &unparsable,
        "Feature: broken\n  Scenario without a colon\n    Given nothing\n  Sce nario: x\n",
    )
    .expect("write");
    let (success, text) = run_drill(&[&unparsable], &artifacts);
    assert!(!success, "{text}");
    assert!(text.contains("broken.feature"), "{text}");

    let (success, text) = run_drill(&[&dir.path().join("missing.feature")], &artifacts);
    assert!(
        !success && text.contains("missing.feature: no such feature file or folder"),
        "{text}"
    );
}

/// `drdrill up ARGS…` started, read up to its Ctrl-C line: the child, the management cluster's
/// KUBECONFIG and the working folder it printed.
fn start_up(args: &[&str]) -> (std::process::Child, String, std::path::PathBuf) {
    let mut child = drdrill()
        .arg("up")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("drdrill up");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut kubeconfig = None;
    let mut folder = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
            kubeconfig = Some(path.to_string());
        }
        if let Some(path) = line.strip_prefix("Working folder: ") {
            folder = Some(std::path::PathBuf::from(path));
        }
        if line.starts_with("Ctrl-C stops everything") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (
        child,
        kubeconfig.expect("up prints the management cluster's KUBECONFIG"),
        folder.expect("up prints its working folder"),
    )
}

fn interrupt(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "up exits cleanly on SIGINT: {status:?}");
}

#[test]
fn up_serves_a_world_until_sigint_then_cleans_up() {
    let Some(kubectl) = support::require_tool("kubectl") else {
        return;
    };
    let (mut child, kubeconfig, folder) = start_up(&["--seed", "5"]);
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(kubectl)
        .args(["get", "clusters", "-A", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", home.path())
        .output()
        .expect("kubectl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cluster.cluster.x-k8s.io/tkg-vc-antrea"
    );
    interrupt(&mut child);
    assert!(
        !folder.exists(),
        "the working folder {} is removed without --keep",
        folder.display()
    );
}

#[test]
fn up_keep_leaves_the_folder_with_the_controller_log() {
    let (mut child, kubeconfig, folder) = start_up(&["--seed", "5", "--keep"]);
    interrupt(&mut child);
    assert!(std::path::Path::new(&kubeconfig).is_file(), "kept: {kubeconfig}");
    let log = std::fs::read_to_string(folder.join("controller-log.txt")).expect("controller log kept");
    assert!(
        log.contains(" machineset: created Machine/tkg-vc-antrea-md-0-"),
        "{}",
        &log[..log.len().min(2000)]
    );
    std::fs::remove_dir_all(&folder).expect("clean up the kept folder");
}
