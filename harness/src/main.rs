//! The `drdrill` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Rehearse Kubernetes disaster recovery.
#[derive(Debug, Parser)]
#[command(name = "drdrill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
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
        }
    }
    Ok(())
}
