//! The `drdrill` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use drdrill::drill::{UnpauseDrill, UnpauseDrillInput, run_unpause_drill};

/// Rehearse Kubernetes disaster recovery on an embedded simulator.
#[derive(Debug, Parser)]
#[command(name = "drdrill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a DR drill on the embedded simulator (today: Runbook T's unpause step).
    Drill {
        /// Seed for every generated name; the same seed reproduces the same drill.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Workload clusters to restore besides the runbook's tkg-vc-antrea.
        #[arg(long, default_value_t = 4)]
        extra_clusters: usize,
        /// Where a diagnostics bundle is written if the drill fails.
        #[arg(long, default_value = "drdrill-artifacts")]
        artifacts: PathBuf,
        /// Keep the simulated management cluster running after the drill (also `DRDRILL_KEEP=1`)
        /// and print how to reach it with kubectl; Ctrl-C ends it.
        #[arg(long)]
        keep: bool,
    },
    /// Measure the embedded API server; writes JSON and the table in BENCHMARKS.md.
    Bench {
        /// Objects in the LIST benchmark.
        #[arg(long, default_value_t = 10_000)]
        list_objects: usize,
        /// Where the JSON results go.
        #[arg(long, default_value = "benchmarks/api_server.json")]
        json: PathBuf,
        /// The Markdown file whose results table is rewritten.
        #[arg(long, default_value = "BENCHMARKS.md")]
        markdown: PathBuf,
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
            seed,
            extra_clusters,
            artifacts,
            keep,
        } => {
            let input = UnpauseDrillInput {
                seed,
                extra_clusters,
                artifacts,
            };
            let keep = keep || std::env::var("DRDRILL_KEEP").is_ok_and(|v| v == "1");
            if !keep {
                let report = run_unpause_drill(&input, &mut |i, n, what| eprintln!("[{i}/{n}] {what}"))
                    .await
                    .with_context(|| format!("the drill could not run (seed {seed})"))?;
                print!("\n{}", report.render());
                return Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
            }
            let context = || format!("the drill could not run (seed {seed})");
            eprintln!("[1/4] rebuild the management cluster (embedded API server)");
            let mut drill = UnpauseDrill::rebuild(&input).await.with_context(context)?;
            eprintln!("[2/4] restore the backed-up Cluster objects, paused");
            drill.restore_paused().await.with_context(context)?;
            eprintln!("[3/4] run the runbook's unpause script (bash + kubectl)");
            drill.unpause().await.with_context(context)?;
            eprintln!("[4/4] verify through the Kubernetes API");
            let report = drill.verify().await.with_context(context)?;
            print!("\n{}", report.render());
            println!("\nKept running (--keep): export KUBECONFIG={}", drill.kubeconfig().display());
            println!("then e.g. kubectl get clusters -A; press Ctrl-C to end the simulated cluster.");
            tokio::signal::ctrl_c().await?;
            Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench {
            list_objects,
            json,
            markdown,
        } => {
            let input = drdrill::bench::BenchInput {
                list_objects,
                ..Default::default()
            };
            let report = drdrill::bench::run(&input, &mut |what| eprintln!("bench: {what}")).await?;
            if !report.release_build {
                eprintln!("note: this is a debug build; run `cargo run --release -- bench` for figures worth recording");
            }
            if let Some(dir) = json.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&json, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", json.display()))?;
            drdrill::bench::write_markdown(&markdown, &report).with_context(|| format!("updating {}", markdown.display()))?;
            print!("{}", report.table());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { kubeconfig, context } => {
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
            tokio::signal::ctrl_c().await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
