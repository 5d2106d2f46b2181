//! Runbook A steps (AKS on Azure Stack HCI): install with the PowerShell module, lose the
//! management VM's host (day-2 gating, workloads keep serving, failover), and A2's recreation
//! from the configuration backup. Needs `DrillWorld::aks: Option<crate::aks::drill::AksDrill>`.

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
