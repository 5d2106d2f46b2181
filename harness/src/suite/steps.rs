//! The step definitions. Each step says what an operator does or sees; see the features for
//! how they read.

use std::path::Path;
use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use drdrill_apis::capi::{CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, Cluster, Machine};
use drdrill_kube_sim::clock::Clock;
use drdrill_scenarios::{LATEST_RELEASE, WorkloadCluster};
use k8s_openapi::api::core::v1::Secret;
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
    workload_cluster_on(w, name, namespace, control_plane, workers, LATEST_RELEASE.kubernetes.to_string()).await;
}

#[given(
    expr = "workload cluster {string} in namespace {string} with {int} control-plane node(s) and {int} worker(s) on Kubernetes {string}"
)]
async fn workload_cluster_on(w: &mut DrillWorld, name: String, namespace: String, control_plane: u32, workers: u32, kubernetes: String) {
    let release = drdrill_scenarios::topology::release_of(&kubernetes).unwrap_or_else(|| {
        let known: Vec<&str> = drdrill_scenarios::RELEASES.iter().map(|r| r.kubernetes).collect();
        panic!("Kubernetes {kubernetes:?} is not a TKG release (one of {})", known.join(", "))
    });
    w.clusters.push(WorkloadCluster {
        name,
        namespace,
        control_plane,
        workers,
        kubernetes: release.kubernetes.into(),
        tkr: release.tkr.into(),
        plan: if control_plane >= 3 { "prod" } else { "dev" }.into(),
    });
}

#[given(expr = "the clusters are created and running \\(seed {int}\\)")]
async fn clusters_running(w: &mut DrillWorld, seed: u64) {
    w.seed = super::scenario_seed(seed);
    if w.seed != seed {
        super::note(&format!("      seed {} (--seed; the feature names {seed})", w.seed));
    }
    let config = w.config.clone().expect("a Given step must describe the management cluster first");
    let topology = w.topology();
    let backend = w.backend.clone().unwrap_or(drdrill_velero_sim::s3::S3Backend::Embedded);
    let world = World::create_on(config, topology, backend, &mut |what| tracing::info!("creating {what}"))
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

#[given(expr = "the operator's velero CLI is {word}")]
async fn velero_cli_is(w: &mut DrillWorld, version: String) {
    w.operator.velero_cli_version = version;
}

#[when(expr = "the operator upgrades the velero CLI to {word}")]
async fn velero_cli_upgraded(w: &mut DrillWorld, version: String) {
    velero_cli_is(w, version).await;
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

#[when(expr = "{int} day(s) pass(es)")]
async fn days_pass(w: &mut DrillWorld, days: u64) {
    minutes_pass(w, days * 24 * 60).await;
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

#[when(expr = "the control plane of {string} is rolled out")]
async fn roll_out_control_plane(w: &mut DrillWorld, cluster: String) {
    let namespace = {
        let world = w.world();
        let c = world
            .workload_clusters()
            .find(|c| c.spec.name == cluster)
            .unwrap_or_else(|| panic!("no workload cluster {cluster}"));
        c.spec.namespace.clone()
    };
    let (line, at) = w
        .world()
        .control_plane_rollout(&namespace, &cluster)
        .await
        .unwrap_or_else(|e| panic!("roll out the control plane of {cluster}: {e}"));
    i_run(w, line).await;
    w.world()
        .settle_until_rolled_out(&namespace, &cluster, at, 5000)
        .await
        .unwrap_or_else(|e| panic!("after rolling out the control plane of {cluster}: {e}"));
}

#[when(expr = "I repeat {string} until it lists {string}")]
async fn repeat_until(w: &mut DrillWorld, line: String, wanted: String) {
    let mut waited = Duration::ZERO;
    loop {
        let out = run(w, &line).await;
        // A name ending in `*` stands for any name with that prefix (a schedule's timestamped
        // backups), as in the tables.
        let listed = |name: &str| match wanted.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == wanted,
        };
        if out.success && out.stdout.lines().skip(1).any(|l| l.split_whitespace().next().is_some_and(listed)) {
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

/// Runbook T, full restore step 6: `velero restore create` from the latest backup.
pub const VELERO_RESTORE: &str = "velero restore create my-restore --from-backup my-backup --wait";

/// The latest backup a `velero backup get` table lists: the `Completed` row with the latest
/// CREATED time (Go's `2022-12-07 17:10:42 +0000 UTC`, compared as a time).
pub fn latest_completed_backup(backup_get: &str) -> Result<String, String> {
    let table = tables::parse_table(backup_get).ok_or_else(|| format!("`velero backup get` printed no table:\n{backup_get}"))?;
    let column = |name: &str| {
        table
            .header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("`velero backup get` has no {name} column:\n{backup_get}"))
    };
    let (name, status, created) = (column("NAME")?, column("STATUS")?, column("CREATED")?);
    let mut latest: Option<(jiff::Timestamp, String)> = None;
    for row in table.rows.iter().filter(|r| r[status] == "Completed") {
        let text = row[created].strip_suffix(" +0000 UTC").unwrap_or(&row[created]);
        let at: jiff::Timestamp = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", text)
            .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp())
            .map_err(|e| format!("backup {}: CREATED {:?} is not a time: {e}", row[name], row[created]))?;
        if latest.as_ref().is_none_or(|(t, _)| at > *t) {
            latest = Some((at, row[name].clone()));
        }
    }
    latest
        .map(|(_, n)| n)
        .ok_or_else(|| format!("`velero backup get` lists no Completed backup:\n{backup_get}"))
}

#[when("I restore from the latest backup `velero backup get` lists")]
async fn restore_latest(w: &mut DrillWorld) {
    let out = run(w, "velero backup get").await;
    assert!(out.success, "`velero backup get` failed:\n{}{}", out.stderr, out.stdout);
    let latest = latest_completed_backup(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    super::note(&format!("      the latest backup: {latest}"));
    let line = VELERO_RESTORE.replace("--from-backup my-backup", &format!("--from-backup {latest}"));
    i_run(w, line).await;
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

#[then(expr = "listing {string} in the bucket through S3 shows:")]
async fn bucket_lists(w: &mut DrillWorld, prefix: String, step: &Step) {
    // The world's store client: its endpoint, bucket and credentials (the runbook's
    // minio/minio123 for the embedded store), signing for its region.
    let s3 = &w.world().s3;
    let bucket = s3.bucket().to_string();
    let store = s3
        .store()
        .unwrap_or_else(|e| panic!("the bucket {bucket} at {}: {e}", s3.endpoint()));
    let (keys, prefixes) = store
        .list_delimited(&prefix, "/")
        .await
        .unwrap_or_else(|e| panic!("list {prefix:?} in the bucket {bucket}: {e}"));
    let rows: Vec<Vec<String>> = prefixes.into_iter().chain(keys).map(|p| vec![p]).collect();
    let listing = crate::report::columns(&["PREFIX"], &rows);
    w.transcript.push(format!("S3 list {bucket}/{prefix} (delimiter /)\n{listing}"));
    if let Err(diff) = tables::compare(&listing, &table_of(step)) {
        panic!("bucket {bucket}, prefix {prefix:?}: {diff}");
    }
}

#[then(expr = "the refusal is Runbook T's known limitation for {string}: {string}")]
async fn known_limitation(w: &mut DrillWorld, cluster: String, limitation: String) {
    let (line, out) = w.last.clone().expect("a command ran before");
    assert!(
        !out.success,
        "`{line}` succeeded, so it is not the known limitation {limitation:?}:\n{}",
        out.stdout
    );
    if let Some(runbooks) = crate::runbook::runbooks_text() {
        let runbook_t = runbooks.split("## Runbook A").next().unwrap_or_default();
        let one_line = runbook_t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            one_line.contains(&limitation),
            "{limitation:?} is not a limitation Runbook T documents (RUNBOOKS.md)"
        );
    }
    // The refusal must be the Pinniped path's, not a cluster or kubeconfig that is missing: the
    // cluster and its admin kubeconfig Secret are there.
    let namespace = namespace_of(w, &cluster);
    let client = w.world().mgmt_client().expect("management cluster");
    let found = Api::<Cluster>::namespaced(client.clone(), &namespace)
        .get_opt(&cluster)
        .await
        .expect("get the Cluster");
    assert!(
        found.is_some(),
        "Cluster {namespace}/{cluster} does not exist: `{line}` failed for that reason"
    );
    let secret = Api::<Secret>::namespaced(client, &namespace)
        .get_opt(&format!("{cluster}-kubeconfig"))
        .await
        .expect("get the kubeconfig Secret");
    assert!(
        secret.is_some(),
        "Secret {namespace}/{cluster}-kubeconfig does not exist: `{line}` failed for that reason"
    );
    assert!(
        out.stderr.contains("Pinniped") && out.stderr.contains("known limitation"),
        "`{line}` failed, but not as the Pinniped limitation:\n{}",
        out.stderr
    );
    super::note(&format!(
        "      KNOWN LIMITATION (Runbook T): {limitation}. drdrill does not model Pinniped; `{line}` was refused:\n      {}",
        out.stderr.trim()
    ));
}

#[then("every workload cluster is running")]
async fn all_running(w: &mut DrillWorld) {
    w.world().settle_until_running(5000).await.unwrap_or_else(|e| panic!("{e}"));
    if let Some(disaster) = w.disaster {
        let now = w.world().clock.now();
        let rto = now.duration_since(disaster);
        let rpo = w.backup_completed.map(|b| disaster.duration_since(b));
        super::note(&format!(
            "      RTO (disaster → every cluster running, simulated): {}; RPO (backup age at the disaster): {}",
            human(rto),
            rpo.map(human).unwrap_or_else(|| "no backup taken in this scenario".into())
        ));
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
    super::note(&rendered.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n"));
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

#[then(expr = "{string} counts {int} node(s), {int} machine(s) and {int} VM(s)")]
async fn counts(w: &mut DrillWorld, cluster: String, nodes: usize, machines: usize, vms: usize) {
    let namespace = namespace_of(w, &cluster);
    let e = w.world().evidence(&namespace, &cluster).await.expect("evidence");
    assert_eq!(
        (e.nodes.len(), e.machines.len(), e.vms.len()),
        (nodes, machines, vms),
        "{cluster}: (nodes, machines, VMs) differ from the expected counts:\n{e:#?}"
    );
}

/// Writes what a failed scenario's world looked like: the seed, every command and its output,
/// `tanzu cluster list`, each cluster's drift report and evidence, the Site's VMs, the
/// controller log, and every object of the management and workload clusters.
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
    if let Some(aks) = &w.aks {
        let _ = bundle.add("aks-hci.txt", &format!("{aks:#?}\n"));
    }
    if let Some(world) = &w.world {
        let _ = bundle.add("site-vms.txt", &format!("{:#?}\n", world.site.list()));
        let _ = bundle.add("controller-log.txt", &world.log.text());
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

#[cfg(test)]
mod tests {
    use super::*;

    const BACKUPS: &str = "\
NAME                       STATUS      ERRORS   WARNINGS   CREATED                                 EXPIRES   STORAGE LOCATION   SELECTOR
daily-bak-20221210171053   Failed      1        0          2022-12-10 17:10:53 +0000 UTC           13d       default            <none>
daily-bak-20221209171052   Completed   0        0          2022-12-09 17:10:52.25 +0000 UTC        12d       default            <none>
my-backup                  Completed   0        0          2022-12-09 17:10:52.5 +0000 UTC         29d       default            <none>
daily-bak-20221208171051   Completed   0        0          2022-12-08 17:10:51 +0000 UTC           11d       default            <none>
";

    /// The latest is chosen by CREATED among Completed backups — not the first row, not by name.
    #[test]
    fn the_latest_completed_backup_is_chosen_by_creation_time() {
        assert_eq!(latest_completed_backup(BACKUPS).as_deref(), Ok("my-backup"));
        let without = BACKUPS
            .lines()
            .filter(|l| !l.starts_with("my-backup"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(latest_completed_backup(&without).as_deref(), Ok("daily-bak-20221209171052"));
        let none_completed = BACKUPS.replace("Completed", "PartiallyFailed");
        assert!(
            latest_completed_backup(&none_completed)
                .expect_err("none")
                .contains("no Completed backup")
        );
        let bad_time = BACKUPS.replace("2022-12-08 17:10:51", "yesterday at 5pm ");
        assert!(latest_completed_backup(&bad_time).expect_err("bad").contains("is not a time"));
        assert!(
            latest_completed_backup("NAME   STATUS\nx      Completed\n")
                .expect_err("no CREATED")
                .contains("no CREATED column")
        );
    }

    /// The restore line the steps fill in, and the schedule line the features run, are
    /// RUNBOOKS.md's, character for character.
    #[test]
    fn runbook_lines_are_quoted_verbatim() {
        let Some(runbooks) = crate::runbook::runbooks_text() else { return };
        let blocks = crate::runbook::code_blocks(&runbooks);
        assert!(
            blocks.iter().any(|b| b.trim_end() == VELERO_RESTORE),
            "VELERO_RESTORE is not a code block of RUNBOOKS.md"
        );
        let schedule = blocks
            .iter()
            .map(|b| b.trim_end())
            .find(|b| b.starts_with("velero create schedule"))
            .expect("RUNBOOKS.md has the schedule block");
        assert_eq!(
            drdrill_scenarios::history::VELERO_SCHEDULE,
            schedule,
            "the explored schedule line is not the runbook's"
        );
        let mut quoted = 0;
        for (name, text) in super::super::embedded::FEATURES {
            for line in text.lines().filter(|l| l.contains("velero create schedule")) {
                let command = line
                    .split('\'')
                    .nth(1)
                    .expect("the schedule line is single-quoted (it holds double quotes)");
                assert_eq!(command, schedule, "{name}: not the runbook's schedule line");
                quoted += 1;
            }
        }
        assert!(quoted > 0, "no feature runs the runbook's schedule line");
    }
}
