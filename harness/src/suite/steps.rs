//! The step definitions. Each step says what an operator does or sees; see the features for
//! how they read.

use std::path::Path;
use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use drdrill_apis::capi::{CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, Machine};
use drdrill_kube_sim::clock::Clock;
use drdrill_scenarios::WorkloadCluster;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::DrillWorld;
use super::tables;
use crate::diagnostics::Bundle;
use crate::drift;
use crate::mgmt_config::ManagementConfig;
use crate::runbook::UNPAUSE_ALL_NAMESPACES;
use crate::world::World;

/// How long a wait-until step polls before giving up, in simulated time.
const POLL_LIMIT: Duration = Duration::from_secs(30 * 60);

fn table_of(step: &Step) -> Vec<Vec<String>> {
    step.table
        .as_ref()
        .unwrap_or_else(|| panic!("step {:?} needs a data table", step.value))
        .rows
        .clone()
}

#[given(expr = "a TKG management cluster {string} on vSphere, built from mgmt-cluster-config.yaml")]
async fn management_cluster(w: &mut DrillWorld, name: String) {
    w.config = Some(ManagementConfig::runbook_example(&name));
}

#[given(expr = "workload cluster {string} in namespace {string} with {int} control-plane node(s) and {int} worker(s)")]
async fn workload_cluster(w: &mut DrillWorld, name: String, namespace: String, control_plane: u32, workers: u32) {
    w.clusters.push(WorkloadCluster {
        name,
        namespace,
        control_plane,
        workers,
        kubernetes: "v1.24.10+vmware.1".into(),
        tkr: "v1.24.10---vmware.1-tkg.1".into(),
        plan: if control_plane >= 3 { "prod" } else { "dev" }.into(),
    });
}

#[given(expr = "the clusters are created and running \\(seed {int}\\)")]
async fn clusters_running(w: &mut DrillWorld, seed: u64) {
    w.seed = seed;
    let config = w.config.clone().expect("a Given step must describe the management cluster first");
    let topology = w.topology();
    let world = World::create(config, topology, &mut |what| tracing::info!("creating {what}"))
        .await
        .unwrap_or_else(|e| panic!("the world could not be built: {e}"));
    w.operator.set_variables(&world);
    w.world = Some(world);
}

#[given(expr = "the credentials file {string}:")]
async fn credentials_file(w: &mut DrillWorld, name: String, step: &Step) {
    let text = step.docstring.as_ref().expect("the file's text as a doc string");
    let text = text.strip_prefix('\n').unwrap_or(text);
    std::fs::write(w.operator.home().join(name), text).expect("write the credentials file");
}

async fn run(w: &mut DrillWorld, line: &str) -> crate::kubectl::CommandOutput {
    w.transcript.push(line.to_string());
    let out = w
        .operator
        .run(w.world(), line)
        .await
        .unwrap_or_else(|e| panic!("`{line}` could not be run: {e}"));
    w.transcript.push(format!("{}{}", out.stdout, out.stderr));
    w.last = Some((line.to_string(), out.clone()));
    out
}

#[when(expr = "I run {string}")]
async fn i_run(w: &mut DrillWorld, line: String) {
    let out = run(w, &line).await;
    assert!(out.success, "`{line}` failed:\n{}{}", out.stderr, out.stdout);
    if line.starts_with("velero backup create") && line.contains("--wait") {
        w.backup_completed = Some(w.world().clock.now());
    }
}

#[when(expr = "I run {string}, which fails")]
async fn i_run_failing(w: &mut DrillWorld, line: String) {
    let out = run(w, &line).await;
    assert!(!out.success, "`{line}` was expected to fail but succeeded:\n{}", out.stdout);
}

#[when("I run the runbook's unpause script for every namespace")]
async fn unpause_script(w: &mut DrillWorld) {
    let out = run(w, UNPAUSE_ALL_NAMESPACES).await;
    assert!(out.success, "the unpause script failed:\n{}{}", out.stderr, out.stdout);
}

#[when("the management cluster is lost")]
async fn management_lost(w: &mut DrillWorld) {
    let now = w.world().clock.now();
    w.disaster = Some(now);
    w.world_mut().destroy_management_cluster();
}

#[when("the management cluster is rebuilt from mgmt-cluster-config.yaml")]
async fn management_rebuilt(w: &mut DrillWorld) {
    w.world_mut()
        .rebuild_management_cluster()
        .await
        .unwrap_or_else(|e| panic!("rebuild: {e}"));
    let world = w.world.take().expect("world");
    w.operator.set_variables(&world);
    w.world = Some(world);
}

#[when(expr = "{int} minute(s) pass(es)")]
async fn minutes_pass(w: &mut DrillWorld, minutes: u64) {
    w.world()
        .run_for(Duration::from_secs(minutes * 60))
        .await
        .unwrap_or_else(|e| panic!("while time passed: {e}"));
}

#[when(expr = "{int} hour(s) pass(es)")]
async fn hours_pass(w: &mut DrillWorld, hours: u64) {
    minutes_pass(w, hours * 60).await;
}

#[when("the controllers settle")]
async fn settle(w: &mut DrillWorld) {
    w.world().settle(5000).await.unwrap_or_else(|e| panic!("{e}"));
}

#[when(expr = "a control-plane machine of {string} is replaced")]
async fn replace_control_plane_machine(w: &mut DrillWorld, cluster: String) {
    let (namespace, oldest) = {
        let world = w.world();
        let c = world
            .workload_clusters()
            .find(|c| c.spec.name == cluster)
            .unwrap_or_else(|| panic!("no workload cluster {cluster}"));
        let namespace = c.spec.namespace.clone();
        let mut machines = Api::<Machine>::namespaced(world.mgmt_client().expect("management cluster"), &namespace)
            .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={cluster},{CONTROL_PLANE_LABEL}")))
            .await
            .expect("list control-plane Machines")
            .items;
        machines.sort_by_key(|m| (m.creation_timestamp().map(|t| t.0), m.name_any()));
        let oldest = machines.first().map(|m| m.name_any()).expect("a control-plane Machine");
        (namespace, oldest)
    };
    i_run(w, format!("kubectl -n {namespace} delete machine {oldest}")).await;
    w.world()
        .settle_until_running(5000)
        .await
        .unwrap_or_else(|e| panic!("after replacing {oldest}: {e}"));
}

#[when(expr = "I repeat {string} until it lists {string}")]
async fn repeat_until(w: &mut DrillWorld, line: String, wanted: String) {
    let mut waited = Duration::ZERO;
    loop {
        let out = run(w, &line).await;
        if out.success
            && out
                .stdout
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().next() == Some(wanted.as_str()))
        {
            return;
        }
        assert!(
            waited < POLL_LIMIT,
            "`{line}` did not list {wanted} within {} simulated minutes; last output:\n{}{}",
            POLL_LIMIT.as_secs() / 60,
            out.stdout,
            out.stderr
        );
        w.world().run_for(Duration::from_secs(10)).await.expect("time passes");
        waited += Duration::from_secs(10);
    }
}

#[when(expr = "I carry out the drift mitigation plan for {string}")]
async fn mitigate(w: &mut DrillWorld, cluster: String) {
    let namespace = namespace_of(w, &cluster);
    let world = w.world();
    let evidence = world.evidence(&namespace, &cluster).await.expect("evidence");
    let report = drift::classify(&evidence);
    let done = crate::mitigate::execute(world, &w.operator, &namespace, &report, false)
        .await
        .unwrap_or_else(|e| panic!("the mitigation plan stopped: {e}\nreport:\n{}", report.render()));
    world
        .settle_until_running(5000)
        .await
        .unwrap_or_else(|e| panic!("after mitigation: {e}"));
    w.transcript.extend(done.into_iter().map(|d| d.action));
}

fn namespace_of(w: &DrillWorld, cluster: &str) -> String {
    w.world()
        .workload_clusters()
        .find(|c| c.spec.name == cluster)
        .map(|c| c.spec.namespace.clone())
        .unwrap_or_else(|| panic!("no workload cluster {cluster} in this scenario"))
}

#[then(expr = "the output says {string}")]
async fn output_says(w: &mut DrillWorld, text: String) {
    let (line, out) = w.last.as_ref().expect("a command ran before");
    assert!(
        out.stdout.contains(&text) || out.stderr.contains(&text),
        "`{line}` did not say {text:?}; it printed:\n{}{}",
        out.stdout,
        out.stderr
    );
}

#[then("the output shows:")]
async fn output_shows(w: &mut DrillWorld, step: &Step) {
    let (line, out) = w.last.as_ref().expect("a command ran before");
    if let Err(diff) = tables::compare(&out.stdout, &table_of(step)) {
        panic!("`{line}`: {diff}");
    }
}

#[then(expr = "{string} shows:")]
async fn command_shows(w: &mut DrillWorld, line: String, step: &Step) {
    let out = run(w, &line).await;
    assert!(out.success, "`{line}` failed:\n{}{}", out.stderr, out.stdout);
    if let Err(diff) = tables::compare(&out.stdout, &table_of(step)) {
        panic!("`{line}`: {diff}");
    }
}

#[then("every workload cluster is running")]
async fn all_running(w: &mut DrillWorld) {
    w.world().settle_until_running(5000).await.unwrap_or_else(|e| panic!("{e}"));
    if let Some(disaster) = w.disaster {
        let now = w.world().clock.now();
        let rto = now.duration_since(disaster);
        let rpo = w.backup_completed.map(|b| disaster.duration_since(b));
        println!(
            "      RTO (disaster → every cluster running, simulated): {}; RPO (backup age at the disaster): {}",
            human(rto),
            rpo.map(human).unwrap_or_else(|| "no backup taken in this scenario".into())
        );
    }
}

fn human(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    format!("{}h{:02}m{:02}s", secs / 3600, (secs % 3600) / 60, secs % 60)
}

async fn drift_report(w: &DrillWorld, cluster: &str) -> drift::DriftReport {
    let namespace = namespace_of(w, cluster);
    let evidence = w.world().evidence(&namespace, cluster).await.expect("evidence");
    drift::classify(&evidence)
}

#[then(expr = "the drift report for {string} is:")]
async fn drift_is(w: &mut DrillWorld, cluster: String, step: &Step) {
    let report = drift_report(w, &cluster).await;
    let rendered = report.render();
    let table: String = rendered
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if let Err(diff) = tables::compare(&table, &table_of(step)) {
        panic!("drift report for {cluster}: {diff}\nfull report:\n{rendered}");
    }
    println!("{}", rendered.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n"));
}

#[then(expr = "{string} has no drift and nothing is left over")]
async fn no_drift(w: &mut DrillWorld, cluster: String) {
    let report = drift_report(w, &cluster).await;
    assert!(report.is_clean(), "{}", report.render());
    let namespace = namespace_of(w, &cluster);
    let e = w.world().evidence(&namespace, &cluster).await.expect("evidence");
    assert!(
        e.nodes.len() == e.machines.len() && e.machines.len() == e.vms.len(),
        "{cluster}: {} nodes, {} machines, {} VMs:\n{e:#?}",
        e.nodes.len(),
        e.machines.len(),
        e.vms.len()
    );
}

/// Writes what a failed scenario's world looked like: the seed, every command and its output,
/// `tanzu cluster list`, each cluster's drift report and evidence, the Site's VMs, and every
/// object of the management and workload clusters.
pub async fn write_bundle(w: &DrillWorld, artifacts: &Path, scenario: &str) {
    let name: String = scenario
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let Ok(bundle) = Bundle::create(artifacts, &format!("{name}-seed-{}", w.seed)) else {
        return;
    };
    let _ = bundle.add("seed.txt", &format!("{}\n", w.seed));
    let _ = bundle.add("transcript.txt", &w.transcript.join("\n"));
    if let Some(world) = &w.world {
        let _ = bundle.add("site-vms.txt", &format!("{:#?}\n", world.site.list()));
        if let Ok(list) = world.cluster_list().await {
            let _ = bundle.add("tanzu-cluster-list.txt", &list);
        }
        for c in world.workload_clusters() {
            if let Ok(e) = world.evidence(&c.spec.namespace, &c.spec.name).await {
                let _ = bundle.add(
                    &format!("drift-{}.txt", c.spec.name),
                    &format!("{}\n{e:#?}\n", drift::classify(&e).render()),
                );
            }
        }
        let _ = world.dump_objects(bundle.path()).await;
    }
    eprintln!("diagnostics bundle: {}", bundle.path().display());
}
