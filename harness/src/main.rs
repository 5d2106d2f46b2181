//! The `drdrill` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rehearse Kubernetes disaster recovery on an embedded simulator.
#[derive(Debug, Parser)]
#[command(name = "drdrill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the DR drills: every Gherkin feature (default: the built-in suite — Runbook T's full
    /// restore and its three drift families) on the embedded simulator. Prints each step as it
    /// runs and a summary; exits non-zero when a scenario fails. A failed scenario writes a
    /// diagnostics bundle under --artifacts.
    Drill {
        /// Feature files or folders (default: ./features if present, else the built-in suite).
        features: Vec<PathBuf>,
        /// Only scenarios matching this tag expression, e.g. `@drift and not @slow`.
        #[arg(long)]
        tags: Option<String>,
        /// Scenarios run at once (each has its own servers, ports, bucket and folders).
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Where diagnostics bundles of failed scenarios are written.
        #[arg(long, default_value = "drdrill-artifacts")]
        artifacts: PathBuf,
        /// Where the JUnit XML (junit.xml) and Cucumber JSON (cucumber.json) reports are written.
        #[arg(long, default_value = "drdrill-reports")]
        reports: PathBuf,
        /// One seed for every scenario instead of the seed each feature names (other names and
        /// random choices; the same seed gives the same run).
        #[arg(long)]
        seed: Option<u64>,
        /// Print this report on standard output (junit or json) instead of the steps, which go
        /// to standard error with the summary: `drdrill drill --output junit > results.xml`.
        #[arg(long, value_parser = clap::value_parser!(drdrill::suite::ReportFormat))]
        output: Option<drdrill::suite::ReportFormat>,
    },
    /// Build a world and keep it running until Ctrl-C: a management cluster with Velero
    /// installed, workload clusters, an S3 store. Prints kubeconfigs, contexts and the S3
    /// endpoint so you can use the real kubectl and `drdrill velero` / `drdrill tanzu` against it.
    Up {
        /// Workload clusters (the first is the runbook's tkg-vc-antrea).
        #[arg(long, default_value_t = 1)]
        clusters: usize,
        /// Seed for every generated name.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Keep the working folder (kubeconfigs, credentials) after Ctrl-C.
        #[arg(long)]
        keep: bool,
    },
    /// Measure the simulator (API server, N clusters to running, Velero backup/restore, the
    /// whole suite); writes benchmarks/<name>.json and each benchmark's table in BENCHMARKS.md.
    Bench {
        /// Benchmarks to run, comma-separated: api-server, clusters, velero, suite, explore (default: all).
        #[arg(long, default_value = "all")]
        only: String,
        /// Objects in the LIST benchmark.
        #[arg(long, default_value_t = 10_000)]
        list_objects: usize,
        /// Workload-cluster counts of the clusters benchmark, comma-separated (one world each).
        #[arg(long, value_delimiter = ',', default_value = "20,200")]
        clusters: Vec<usize>,
        /// Workload clusters per namespace in the clusters benchmark (0: all in `default`).
        #[arg(long, default_value_t = 0)]
        clusters_per_namespace: usize,
        /// ConfigMaps backed up and restored in the velero benchmark.
        #[arg(long, default_value_t = 10_000)]
        velero_objects: usize,
        /// Folder of the JSON results (api_server.json, clusters.json, velero.json, suite.json, explore.json).
        #[arg(long, default_value = "benchmarks")]
        json_dir: PathBuf,
        /// The Markdown file whose results table is rewritten.
        #[arg(long, default_value = "BENCHMARKS.md")]
        markdown: PathBuf,
    },
    /// The tanzu CLI as Runbook T uses it (cluster list/get/scale/upgrade/kubeconfig get, kubernetes-release get),
    /// against the management cluster of --kubeconfig; `drdrill tanzu --help` lists the commands.
    Tanzu {
        /// The management cluster's kubeconfig (default: $KUBECONFIG or ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// The words after `tanzu`, e.g. `cluster get tkg-vc-antrea`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The velero CLI (v1.9.5) as the runbooks use it (install, backup, restore, schedule,
    /// backup-location get, version); `drdrill velero --help` lists the verbs.
    Velero {
        /// The cluster's kubeconfig (default: $KUBECONFIG or ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// The words after `velero`, e.g. `backup get`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The AksHci PowerShell module as Runbook A uses it, on a fresh simulated AKS-HCI host
    /// cluster: runs a script of PowerShell lines (`$vnet = New-AksHciNetworkSetting …`,
    /// `Set-AksHciConfig`, `Install-AksHci`, `New-AksHciCluster …`, `Get-AksHciCluster | ConvertTo-Json`)
    /// and prints what each prints; stops at the first failing line.
    Aks {
        /// The script file (`-` reads standard input).
        script: PathBuf,
        /// Hosts in the failover cluster.
        #[arg(long, default_value_t = 2)]
        hosts: usize,
        /// Seed for API server tokens and uids.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Explore random histories (scale, replace a control-plane machine, roll the control plane
    /// out or upgrade a cluster, power off or delete a worker VM, back up by hand or by schedule, let time pass, then
    /// lose the management cluster or corrupt its store and follow Runbook T) against the
    /// reference model of drift; a divergence is shrunk and saved as a reproducer (YAML + .feature).
    Explore {
        /// Histories to run.
        #[arg(long, default_value_t = 64)]
        cases: u32,
        /// Seed of the exploration (the same seed explores the same histories).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Operations per history, at most.
        #[arg(long, default_value_t = 8)]
        max_ops: usize,
        /// Where a shrunk failing history is saved.
        #[arg(long, default_value = "drdrill-artifacts/explore")]
        out: PathBuf,
        /// Histories run at once (default: the machine's cores); the results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Test-only: MachineSets of the rebuilt management cluster skip adoption (proves the
        /// exploration catches a real bug).
        #[arg(long)]
        fault_machineset_skips_adoption: bool,
    },
    /// Replay a reproducer file saved by `drdrill explore` (or committed under
    /// tests/regressions/): prints every drift report and the divergence, if any.
    Reproduce {
        /// The history (YAML).
        file: PathBuf,
    },
    /// Run an embedded API server until interrupted, for poking at it with kubectl.
    Serve {
        /// Where to write the kubeconfig.
        #[arg(long, default_value = "drdrill.kubeconfig")]
        kubeconfig: PathBuf,
        /// Context name in the kubeconfig.
        #[arg(long, default_value = "drdrill-admin@drdrill")]
        context: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Drill {
            features,
            tags,
            concurrency,
            artifacts,
            reports,
            seed,
            output,
        } => drill(features, tags, concurrency, artifacts, reports, seed, output).await,
        Command::Up { clusters, seed, keep } => up(clusters, seed, keep).await,
        Command::Bench {
            only,
            list_objects,
            clusters,
            clusters_per_namespace,
            velero_objects,
            json_dir,
            markdown,
        } => {
            let plan = drdrill::bench::BenchPlan {
                only: drdrill::bench::parse_selection(&only).context("--only")?,
                api_server: drdrill::bench::BenchInput {
                    list_objects,
                    ..Default::default()
                },
                clusters: drdrill::bench::clusters::ClustersInput {
                    sizes: clusters,
                    per_namespace: clusters_per_namespace,
                    ..Default::default()
                },
                velero: drdrill::bench::velero::VeleroInput {
                    objects: velero_objects,
                    ..Default::default()
                },
                suite: Default::default(),
                explore: Default::default(),
                json_dir,
                markdown,
            };
            if !drdrill::bench::release_build() {
                eprintln!("note: this is a debug build; run `cargo run --release -- bench` for figures worth recording");
            }
            let tables = drdrill::bench::run_plan(&plan, &mut |what| eprintln!("bench: {what}")).await?;
            print!("{tables}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tanzu { kubeconfig, args } => run_tanzu(kubeconfig, &args).await,
        Command::Velero { kubeconfig, args } => run_velero(kubeconfig, &args).await,
        Command::Aks { script, hosts, seed } => run_aks(&script, hosts, seed).await,
        Command::Explore {
            cases,
            seed,
            max_ops,
            out,
            jobs,
            fault_machineset_skips_adoption,
        } => run_explore(cases, seed, max_ops, jobs, &out, fault_machineset_skips_adoption).await,
        Command::Reproduce { file } => {
            let (outcome, text) = drdrill::explore::reproduce::reproduce(&file).await?;
            print!("{text}");
            if !outcome.record.controller_log.is_empty() {
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let log = std::env::temp_dir().join(format!("drdrill-reproduce-{stem}.controller-log.txt"));
                std::fs::write(&log, &outcome.record.controller_log).with_context(|| format!("writing {}", log.display()))?;
                eprintln!("controller log of the failing run: {}", log.display());
            }
            Ok(if outcome.divergence.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve { kubeconfig, context } => {
            let mut interrupted = interrupt_listener()?;
            let server = drdrill_kube_sim::ApiServer::start(Default::default()).await?;
            server
                .write_kubeconfig(&kubeconfig, &context)
                .with_context(|| format!("writing {}", kubeconfig.display()))?;
            println!(
                "API server at {}; kubeconfig written to {} (context {context})",
                server.url(),
                kubeconfig.display()
            );
            println!("try: kubectl --kubeconfig {} get namespaces", kubeconfig.display());
            interrupted.recv().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `drdrill tanzu …`: the emulated tanzu CLI on the management cluster of `kubeconfig`; kubeconfig
/// files it writes go under the current directory (`./.kube/config` by default).
async fn run_tanzu(kubeconfig: Option<PathBuf>, args: &[String]) -> anyhow::Result<ExitCode> {
    match drdrill::tanzu::check_args(args) {
        Ok(Some(help)) => {
            print!("{help}");
            return Ok(ExitCode::SUCCESS);
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    }
    let config = match &kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("using {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("finding a kubeconfig for the management cluster")?,
    };
    let env = drdrill::tanzu::TanzuEnv {
        client: kube::Client::try_from(config).context("building the management cluster client")?,
        clock: std::sync::Arc::new(drdrill_kube_sim::clock::SystemClock),
        poll: drdrill::tanzu::upgrade::TANZU_POLL,
        workdir: std::env::current_dir().context("finding the current directory")?,
    };
    let mut out = std::io::stdout();
    match drdrill::tanzu::run(args, &env, &mut out).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(drdrill::tanzu::TanzuCliError::Usage(usage)) => {
            eprintln!("{usage}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `drdrill aks SCRIPT`: the emulated AksHci module on a fresh simulated host cluster.
async fn run_aks(script: &std::path::Path, hosts: usize, seed: u64) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((1..=16).contains(&hosts), "--hosts must be 1 to 16, not {hosts}");
    let text = if script == std::path::Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the script from standard input")?
    } else {
        std::fs::read_to_string(script).with_context(|| format!("reading {}", script.display()))?
    };
    let clock: std::sync::Arc<dyn drdrill_kube_sim::clock::Clock> = std::sync::Arc::new(drdrill_kube_sim::clock::SystemClock);
    let names: Vec<String> = (1..=hosts).map(|i| format!("hci-node-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let host_cluster = drdrill_akshci_sim::HostCluster::new("hci01", &refs, clock.clone());
    let platform = drdrill_akshci_sim::AksHciPlatform::new(host_cluster, clock, seed);
    let env = drdrill::aks::AksEnv::new(platform, std::env::current_dir().context("finding the current directory")?);
    match drdrill::aks::run_script(&text, &env).await {
        Ok(out) => {
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            print!("{}", e.output);
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `drdrill velero …`: the emulated velero CLI against the cluster of `kubeconfig`.
async fn run_velero(kubeconfig: Option<PathBuf>, args: &[String]) -> anyhow::Result<ExitCode> {
    let config = match &kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("using {}", path.display()))?
        }
        None => kube::Config::infer().await.context("finding a kubeconfig for the cluster")?,
    };
    let client = kube::Client::try_from(config).context("building the cluster client")?;
    let env = drdrill::velero::VeleroEnv::new(client, std::sync::Arc::new(drdrill_kube_sim::clock::SystemClock));
    let mut out = std::io::stdout();
    match drdrill::velero::run(args, &env, &mut out).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(drdrill::velero::VeleroCliError::Usage(usage)) => {
            eprintln!("{usage}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("An error occurred: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn drill(
    features: Vec<PathBuf>,
    tags: Option<String>,
    concurrency: usize,
    artifacts: PathBuf,
    reports: PathBuf,
    seed: Option<u64>,
    output: Option<drdrill::suite::ReportFormat>,
) -> anyhow::Result<ExitCode> {
    // Without paths: the checkout's features/, or the suite built into the binary.
    let mut builtin = None;
    let features = if !features.is_empty() {
        features
    } else if std::path::Path::new("features").is_dir() {
        vec![PathBuf::from("features")]
    } else {
        let dir = drdrill::suite::embedded::write_to_temp_dir().context("writing the built-in features")?;
        let path = dir.path().to_path_buf();
        builtin = Some(dir);
        vec![path]
    };
    let options = drdrill::suite::SuiteOptions {
        features,
        concurrency,
        tags,
        artifacts: artifacts.clone(),
        reports: Some(reports.clone()),
        seed,
        output,
    };
    let summary = drdrill::suite::run(&options).await?;
    drop(builtin);
    let mut text = format!("\n{}", summary.render(&artifacts));
    if let Some(seed) = seed {
        text.push_str(&format!("seed: {seed} (every scenario)\n"));
    }
    let files: Vec<String> = [
        (drdrill::suite::ReportFormat::Junit, "junit.xml"),
        (drdrill::suite::ReportFormat::Json, "cucumber.json"),
    ]
    .into_iter()
    .filter(|(format, _)| output != Some(*format))
    .map(|(_, file)| format!("{}/{file}", reports.display()))
    .collect();
    text.push_str(&format!("reports: {}\n", files.join(", ")));
    // With --output the report owns standard output; everything else goes to standard error.
    if output.is_some() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn up(clusters: usize, seed: u64, keep: bool) -> anyhow::Result<ExitCode> {
    use drdrill::world::World;
    let config = drdrill::mgmt_config::ManagementConfig::runbook_example("tkg-mgmt-vc");
    let topology = drdrill_scenarios::Topology::runbook_t(seed, clusters.saturating_sub(1));
    let mut world = World::create(config, topology, &mut |what| eprintln!("up: {what}"))
        .await
        .context("building the world")?;
    let mut operator = drdrill::operator::Operator::new(world.work_dir());
    operator.set_variables(&world);
    std::fs::write(
        world.work_dir().join("VELERO-CREDS"),
        format!(
            "[default]\naws_access_key_id={}\naws_secret_access_key={}\n",
            drdrill::world::S3_ACCESS_KEY,
            drdrill::world::S3_SECRET_KEY
        ),
    )?;
    eprintln!("up: velero install (Runbook T's command)");
    // Listening before the Ctrl-C line is printed: a SIGINT sent as soon as it is read stops us cleanly.
    let mut interrupted = interrupt_listener()?;
    let install = operator.run(&world, drdrill::runbook::VELERO_INSTALL).await?;
    anyhow::ensure!(install.success, "velero install failed:\n{}{}", install.stderr, install.stdout);
    world.settle(5000).await?;
    print!("{}", world.describe());
    println!(
        "Ctrl-C stops everything{}.",
        if keep {
            " (the working folder is kept)"
        } else {
            " and removes the working folder"
        }
    );
    let mut last = std::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
    // One listener for the whole loop: a SIGINT that arrives while a round runs is not lost.
    loop {
        tokio::select! {
            _ = interrupted.recv() => break,
            _ = tick.tick() => {
                let elapsed = last.elapsed();
                last = std::time::Instant::now();
                if let Err(e) = world.tick(elapsed).await {
                    eprintln!("up: a round failed (retried): {e}");
                }
            }
        }
    }
    if keep {
        let dir = world.keep_work_dir();
        let log = dir.join("controller-log.txt");
        std::fs::write(&log, world.log.text()).with_context(|| format!("writing {}", log.display()))?;
        println!("kept {} (what the controllers did: {})", dir.display(), log.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGINT's handler, installed now (`tokio::signal::ctrl_c()` installs it only when first polled,
/// so a SIGINT between a printed prompt and that poll would kill the process).
fn interrupt_listener() -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).context("listening for SIGINT")
}

async fn run_explore(
    cases: u32,
    seed: u64,
    max_ops: usize,
    jobs: Option<usize>,
    out: &std::path::Path,
    fault: bool,
) -> anyhow::Result<ExitCode> {
    use drdrill::explore::{ExploreOptions, RunOutcome, explore, reproduce};
    let defaults = ExploreOptions::default();
    let options = ExploreOptions {
        max_ops,
        jobs: jobs.unwrap_or(defaults.jobs),
        faults: if fault {
            vec![drdrill_scenarios::history::Fault::MachinesetSkipsAdoption]
        } else {
            Vec::new()
        },
        ..defaults
    };
    let bar = indicatif::ProgressBar::new(u64::from(cases));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} histories {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let summary = explore(cases, seed, &options, move |p| {
        shown.set_position(u64::from(p.passed));
        if p.shrinking {
            shown.set_message(format!("— divergence found, shrinking (run {})", p.runs));
        }
    })
    .await?;
    bar.finish_and_clear();
    print!("{}", summary.render());
    let Some(f) = &summary.failure else {
        return Ok(ExitCode::SUCCESS);
    };
    let outcome = RunOutcome {
        record: f.record.clone(),
        divergence: Some(f.divergence.clone()),
    };
    let name = format!("explore-seed-{seed}");
    let saved = reproduce::save(out, &name, &f.history, &outcome, &f.divergence.to_string())?;
    println!("reproducer: {}\nfeature:    {}", saved.yaml.display(), saved.feature.display());
    if let Some(log) = &saved.controller_log {
        println!("controllers: {}", log.display());
    }
    println!("replay with: drdrill reproduce {}", saved.yaml.display());
    Ok(ExitCode::FAILURE)
}
