//! Runbook A steps (AKS on Azure Stack HCI): install with the PowerShell module, lose the
//! management VM's host (day-2 gating, workloads keep serving, failover), and A2's recreation
//! from the configuration backup; then the workloads: velero and kubectl against workload
//! clusters, volume data checked by sha256, A1's cold standby and the loss of the first site,
//! and the runbook's two lists about a Velero backup checked against the bucket. Needs
//! `DrillWorld::aks: Option<crate::aks::drill::AksDrill>`.

use std::time::Duration;

use cucumber::{given, then, when};
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

use super::DrillWorld;
use crate::aks::drill::AksDrill;

fn drill(w: &mut DrillWorld) -> &mut AksDrill {
    w.aks
        .as_mut()
        .expect("no AKS-HCI host cluster: start the scenario with \"Given an AKS-HCI host cluster with N hosts\"")
}

#[given(expr = "an AKS-HCI host cluster with {int} hosts \\(seed {int}\\)")]
async fn host_cluster(w: &mut DrillWorld, hosts: usize, seed: u64) {
    w.aks = Some(AksDrill::new(hosts, seed).unwrap_or_else(|e| panic!("the AKS-HCI host cluster: {e}")));
}

#[given("the operator runs these PowerShell lines:")]
#[when("the operator runs these PowerShell lines:")]
async fn run_lines(w: &mut DrillWorld, step: &cucumber::gherkin::Step) {
    let script = step
        .docstring
        .clone()
        .expect("the step needs a \"\"\" docstring with PowerShell lines");
    let d = drill(w);
    crate::aks::run_script(&script, &d.env)
        .await
        .unwrap_or_else(|e| panic!("PowerShell script failed: {e}\noutput so far:\n{}", e.output));
}

#[when(expr = "the operator runs the PowerShell line {string}")]
#[then(expr = "the PowerShell line {string} succeeds")]
async fn run_line_ok(w: &mut DrillWorld, line: String) {
    let d = drill(w);
    d.run(&line).await.unwrap_or_else(|e| panic!("{line}\n{e}"));
}

#[then(expr = "the PowerShell line {string} fails with {string}")]
async fn run_line_fails(w: &mut DrillWorld, line: String, expected: String) {
    let d = drill(w);
    match d.run(&line).await {
        Ok(out) => panic!("{line} succeeded, expected an error containing {expected:?}; it printed:\n{out}"),
        Err(e) => assert!(
            e.to_string().contains(&expected),
            "{line} failed with:\n{e}\nexpected it to contain {expected:?}"
        ),
    }
}

#[given(expr = "workload cluster {string} has VMs:")]
#[then(expr = "workload cluster {string} has VMs:")]
async fn cluster_has_vms(w: &mut DrillWorld, cluster: String, step: &cucumber::gherkin::Step) {
    let table = step.table.as_ref().expect("a table | role | size | count |");
    let mut expected = crate::aks::drill::VmShape::new();
    for row in table.rows.iter().skip(1) {
        let count = row[2].parse().unwrap_or_else(|_| panic!("count {:?} is not a number", row[2]));
        expected.insert((row[0].clone(), row[1].clone()), count);
    }
    let d = drill(w);
    assert_eq!(
        d.vm_shape(&cluster),
        expected,
        "VMs of workload cluster {cluster} on the host cluster"
    );
}

#[when("the host of the management VM fails")]
async fn management_host_fails(w: &mut DrillWorld) {
    let d = drill(w);
    d.fail_management_host()
        .await
        .unwrap_or_else(|e| panic!("failing the management VM's host: {e}"));
}

#[when(expr = "{int} seconds pass on the AKS-HCI host cluster")]
async fn seconds_pass(w: &mut DrillWorld, seconds: u64) {
    let d = drill(w);
    d.advance(Duration::from_secs(seconds))
        .await
        .unwrap_or_else(|e| panic!("platform pass: {e}"));
}

#[then("the management VM runs on a healthy host")]
async fn management_vm_runs(w: &mut DrillWorld) {
    let d = drill(w);
    let vm = d.env.platform.management_vm().expect("a management VM");
    let host = d.env.platform.hosts().host_state(&vm.host);
    assert!(vm.is_running(), "management VM {} is {}", vm.spec.name, vm.state.label());
    assert_eq!(
        host,
        Some(drdrill_akshci_sim::HostState::Up),
        "host {} of the management VM",
        vm.host
    );
}

#[then(expr = "workload cluster {string} keeps serving requests")]
async fn workload_serves(w: &mut DrillWorld, cluster: String) {
    let d = drill(w);
    let client = w_client(d, &cluster).await;
    let nodes = Api::<Node>::all(client).list(&Default::default()).await;
    assert!(nodes.is_ok(), "workload cluster {cluster} did not answer: {:?}", nodes.err());
}

/// The workload client taken while the management cluster answered (cached per cluster).
async fn w_client(d: &mut AksDrill, cluster: &str) -> kube::Client {
    if let Some(c) = d.workload_clients.get(cluster) {
        return c.clone();
    }
    let c = d
        .workload_client(cluster)
        .await
        .unwrap_or_else(|e| panic!("kubeconfig of {cluster}: {e}"));
    d.workload_clients.insert(cluster.to_string(), c.clone());
    c
}

#[given(expr = "the operator has taken the workload cluster {string} kubeconfig")]
async fn take_kubeconfig(w: &mut DrillWorld, cluster: String) {
    let d = drill(w);
    w_client(d, &cluster).await;
}

#[given("the operator saves Get-AksHciConfig and Get-AksHciCluster as JSON")]
async fn save_everything(w: &mut DrillWorld) {
    drill(w)
        .save_backup(true)
        .await
        .unwrap_or_else(|e| panic!("configuration backup: {e}"));
}

#[given("the operator saves only Get-AksHciCluster as JSON")]
async fn save_clusters_only(w: &mut DrillWorld) {
    drill(w)
        .save_backup(false)
        .await
        .unwrap_or_else(|e| panic!("configuration backup: {e}"));
}

#[when("the operator recreates AKS-HCI from the saved JSON")]
async fn recreate(w: &mut DrillWorld) {
    drill(w).recreate_from_backup().await.unwrap_or_else(|e| panic!("{e}"));
}

#[then("every workload cluster has the same VM counts and sizes as before the disaster")]
async fn same_shapes(w: &mut DrillWorld) {
    let mismatches = drill(w).shape_mismatches();
    assert!(
        mismatches.is_empty(),
        "clusters whose VMs differ (name, before, after): {mismatches:#?}"
    );
}

#[then("the AKS-HCI configuration matches the backup")]
async fn config_matches(w: &mut DrillWorld) {
    let differences = drill(w).config_differences().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(differences.is_empty(), "{}", crate::aks::render_differences(&differences));
}

#[then(expr = "the configuration lost without the backup includes {string}")]
async fn config_lost(w: &mut DrillWorld, setting: String) {
    let differences = drill(w).config_differences().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        differences.iter().any(|d| d.setting == setting),
        "{setting} is not among the differences:\n{}",
        crate::aks::render_differences(&differences)
    );
}

// ---------------------------------------------------------------------------------------------
// Workloads, Velero and the second site (A1, A2 steps 4–5, the runbook's two lists)

/// A table's rows after its header, which must be `expected`.
fn rows_under(step: &cucumber::gherkin::Step, expected: &[&str]) -> Vec<Vec<String>> {
    let table = step
        .table
        .as_ref()
        .unwrap_or_else(|| panic!("the step needs a table | {} |", expected.join(" | ")));
    let header: Vec<&str> = table
        .rows
        .first()
        .map(|r| r.iter().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(header, expected, "the step's table header must be | {} |", expected.join(" | "));
    table.rows[1..].to_vec()
}

async fn aks_command(w: &mut DrillWorld, cluster: &str, line: &str) -> crate::kubectl::CommandOutput {
    let home = w.operator.home().to_path_buf();
    let words = shell_words::split(line).unwrap_or_else(|e| panic!("cannot split {line:?} into words: {e}"));
    let d = drill(w);
    let out = match words.first().map(String::as_str) {
        Some("velero") => d.velero(cluster, line, &home).await,
        Some("kubectl") => d.kubectl(cluster, &words[1..], &home).await,
        other => panic!("{line:?}: the operator runs velero or kubectl against a workload cluster, not {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{line} (workload cluster {cluster}): {e}"));
    w.transcript.push(format!("[{cluster}] {line}"));
    w.last = Some((line.to_string(), out.clone()));
    out
}

#[given(expr = "a bucket {string} in the off-site object store")]
async fn off_site_bucket(w: &mut DrillWorld, bucket: String) {
    drill(w)
        .create_bucket(&bucket)
        .await
        .unwrap_or_else(|e| panic!("the bucket {bucket}: {e}"));
}

#[given(expr = "the operator runs {string} on workload cluster {string}")]
#[when(expr = "the operator runs {string} on workload cluster {string}")]
async fn command_on_cluster(w: &mut DrillWorld, line: String, cluster: String) {
    let out = aks_command(w, &cluster, &line).await;
    assert!(
        out.success,
        "`{line}` on workload cluster {cluster} failed:\n{}{}",
        out.stderr, out.stdout
    );
}

#[when(expr = "the operator runs {string} on workload cluster {string}, which fails")]
async fn command_on_cluster_fails(w: &mut DrillWorld, line: String, cluster: String) {
    let out = aks_command(w, &cluster, &line).await;
    assert!(!out.success, "`{line}` on workload cluster {cluster} succeeded:\n{}", out.stdout);
}

#[then(expr = "{string} on workload cluster {string} shows:")]
async fn cluster_command_shows(w: &mut DrillWorld, line: String, cluster: String, step: &cucumber::gherkin::Step) {
    let out = aks_command(w, &cluster, &line).await;
    assert!(out.success, "`{line}` failed:\n{}{}", out.stderr, out.stdout);
    let expected = step.table.as_ref().expect("a table of the expected output").rows.clone();
    if let Err(diff) = super::tables::compare(&out.stdout, &expected) {
        panic!("`{line}` on workload cluster {cluster}: {diff}");
    }
}

#[when(expr = "the operator repeats {string} on workload cluster {string} until it lists {string}")]
async fn repeat_until_listed(w: &mut DrillWorld, line: String, cluster: String, wanted: String) {
    for _ in 0..60 {
        let out = aks_command(w, &cluster, &line).await;
        if out.success
            && out
                .stdout
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().next() == Some(wanted.as_str()))
        {
            return;
        }
        drill(w)
            .run_for(Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("time passes on the AKS-HCI site: {e}"));
    }
    let (_, out) = w.last.as_ref().expect("the command ran");
    panic!(
        "`{line}` on workload cluster {cluster} did not list {wanted} within 10 simulated minutes; last output:\n{}{}",
        out.stdout, out.stderr
    );
}

#[when("the AKS-HCI site settles")]
async fn site_settles(w: &mut DrillWorld) {
    drill(w).settle(3000).await.unwrap_or_else(|e| panic!("{e}"));
}

#[when(expr = "{int} hour(s) pass(es) on the AKS-HCI site")]
async fn hours_pass(w: &mut DrillWorld, hours: u64) {
    drill(w)
        .run_for(Duration::from_secs(hours * 3600))
        .await
        .unwrap_or_else(|e| panic!("time passes on the AKS-HCI site: {e}"));
}

#[when(expr = "the application writes into PVC {string} in namespace {string} of workload cluster {string}:")]
async fn application_writes(w: &mut DrillWorld, claim: String, namespace: String, cluster: String, step: &cucumber::gherkin::Step) {
    let seed = drill(w).seed();
    let files: Vec<(String, Vec<u8>)> = rows_under(step, &["PATH", "CONTENT"])
        .into_iter()
        .map(|row| {
            let data = crate::volume_data::content_of(&row[1], seed, &row[0]).unwrap_or_else(|e| panic!("{}: {e}", row[0]));
            (row[0].clone(), data)
        })
        .collect();
    let written = drill(w)
        .write_into_claim(&cluster, &namespace, &claim, &files)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    super::note(&format!(
        "      wrote {} files into volume {}",
        written.sha256.len(),
        written.handle
    ));
}

#[then(expr = "PVC {string} in namespace {string} of workload cluster {string} holds every byte the application wrote")]
async fn claim_holds_every_byte(w: &mut DrillWorld, claim: String, namespace: String, cluster: String) {
    let c = drill(w)
        .compare_claim(&cluster, &namespace, &claim)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.problems.is_empty(),
        "PVC {namespace}/{claim} of {cluster} (volume {}) differs from what was written into volume {}:\n  {}",
        c.handle,
        c.written_to,
        c.problems.join("\n  ")
    );
    super::note(&format!(
        "      {} files, {} bytes, every sha256 equal, on volume {} (written into {})",
        c.now.len(),
        c.bytes,
        c.handle,
        c.written_to
    ));
}

#[given(expr = "the Deployments in namespace {string} of workload cluster {string} are:")]
#[then(expr = "the Deployments in namespace {string} of workload cluster {string} are:")]
async fn deployments_are(w: &mut DrillWorld, namespace: String, cluster: String, step: &cucumber::gherkin::Step) {
    let header = ["NAME", "REPLICAS", "READY", "RUNNING PODS", "CPU", "MEMORY"];
    let expected = rows_under(step, &header);
    let live = drill(w).deployments(&cluster, &namespace).await.unwrap_or_else(|e| panic!("{e}"));
    let actual: Vec<Vec<String>> = live
        .iter()
        .map(|d| {
            vec![
                d.facts.name.clone(),
                d.facts.replicas.to_string(),
                d.ready.to_string(),
                d.running_pods.to_string(),
                d.facts.cpu.clone(),
                d.facts.memory.clone(),
            ]
        })
        .collect();
    assert_eq!(
        actual, expected,
        "Deployments in namespace {namespace} of workload cluster {cluster} (columns {header:?})"
    );
}

#[given(expr = "a second site is prepared as a cold standby, {int} hosts \\(seed {int}\\), with these PowerShell lines:")]
async fn prepare_standby(w: &mut DrillWorld, hosts: usize, seed: u64, step: &cucumber::gherkin::Step) {
    let script = step
        .docstring
        .clone()
        .expect("the step needs a \"\"\" docstring with PowerShell lines");
    drill(w)
        .prepare_standby(hosts, seed, &script)
        .await
        .unwrap_or_else(|e| panic!("preparing the cold standby: {e}"));
}

#[given(expr = "on the cold standby, workload cluster {string} is empty")]
async fn standby_cluster_empty(w: &mut DrillWorld, cluster: String) {
    let standby = drill(w).standby().expect("no cold standby was prepared");
    let client = standby.cluster_client(&cluster).unwrap_or_else(|e| panic!("{e}"));
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .list(&Default::default())
        .await
        .unwrap_or_else(|e| panic!("list Namespaces of {cluster} on the cold standby: {e}"));
    let deployments = Api::<k8s_openapi::api::apps::v1::Deployment>::all(client)
        .list(&Default::default())
        .await
        .unwrap_or_else(|e| panic!("list Deployments of {cluster} on the cold standby: {e}"));
    let names: Vec<String> = namespaces.iter().map(kube::ResourceExt::name_any).collect();
    assert!(
        deployments.items.is_empty()
            && names
                .iter()
                .all(|n| ["default", "kube-system", "kube-public", "kube-node-lease"].contains(&n.as_str())),
        "workload cluster {cluster} on the cold standby is not empty: namespaces {names:?}, {} Deployments",
        deployments.items.len()
    );
}

#[when("the first site is lost")]
async fn first_site_lost(w: &mut DrillWorld) {
    let d = drill(w);
    let lost = d.env.platform.hosts().name().to_string();
    let now = d.lose_site().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(lost, now, "the drill still runs on the lost site");
    super::note(&format!("      host cluster {lost} is gone; the drill continues on {now}"));
}

#[then(
    expr = "the files of backup {string} in bucket {string} match the runbook's backup-contents table, the log as {string} on workload cluster {string} prints it:"
)]
async fn backup_contents_match(
    w: &mut DrillWorld,
    backup: String,
    bucket: String,
    log_line: String,
    cluster: String,
    step: &cucumber::gherkin::Step,
) {
    use crate::aks::contents::{check_contents, render_contents};
    let expected = rows_under(step, &["RUNBOOK ROW", "FILE IN THE BUCKET", "HOLDS"]);
    let log = aks_command(w, &cluster, &log_line).await;
    assert!(log.success, "`{log_line}` failed:\n{}", log.stderr);
    let files = drill(w).backup_files(&bucket, &backup).await.unwrap_or_else(|e| panic!("{e}"));
    let check = check_contents(&backup, &files, &log.stdout);
    let printed = render_contents(&check);
    super::note(&printed);
    assert!(
        check.problems.is_empty(),
        "the bucket disagrees with the runbook:\n  {}",
        check.problems.join("\n  ")
    );
    assert_eq!(
        expected.len(),
        check.rows.len(),
        "the step's table must list every runbook row:\n{printed}"
    );
    for (row, want) in check.rows.iter().zip(&expected) {
        assert_eq!(row.row.pattern, want[0], "runbook rows in the runbook's order:\n{printed}");
        assert_eq!(row.files.join(","), want[1], "files matching {}:\n{printed}", want[0]);
        assert!(
            row.finding.contains(&want[2]),
            "{} holds {:?}, expected it to contain {:?}",
            want[0],
            row.finding,
            want[2]
        );
    }
}

#[then(
    expr = "the tarball of backup {string} in bucket {string} holds nothing Runbook A says a Velero backup does not contain about workload cluster {string}"
)]
async fn backup_excludes(w: &mut DrillWorld, backup: String, bucket: String, cluster: String) {
    use crate::aks::contents::{find_excluded, render_excluded};
    let d = drill(w);
    let excluded = d.excluded_from_backups(&cluster).await.unwrap_or_else(|e| panic!("{e}"));
    let items = d.backup_items(&bucket, &backup).await.unwrap_or_else(|e| panic!("{e}"));
    let found = find_excluded(&items, &excluded);
    let printed = render_excluded(&excluded, &found);
    super::note(&printed);
    assert!(
        found.iter().all(|(_, hits)| hits.is_empty()),
        "backup {backup} holds what the runbook says it does not:\n{printed}"
    );
    assert!(
        excluded
            .iter()
            .all(|e| !e.resources.is_empty() || e.values.iter().any(|v| !v.is_empty())),
        "nothing to look for in some row:\n{printed}"
    );
}
