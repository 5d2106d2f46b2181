//! The operator's terminal: runs a runbook command line against a [`World`] the way an operator
//! would type it — `kubectl` is the real binary, `velero` and `tanzu` are drdrill's emulators of
//! those CLIs (in-process, against the same Kubernetes API), a multi-line block is a bash script.
//! The world keeps turning while a command runs, so `--wait` and `kubectl wait` see controllers
//! act.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use drdrill_kube_sim::clock::Clock;

use crate::kubectl::{CommandError, CommandOutput, Shell};
use crate::tanzu::{TanzuCliError, TanzuEnv};
use crate::velero::{VeleroCliError, VeleroEnv};
use crate::world::{World, WorldError};

/// Why a command line could not be run at all (a command that ran and failed is a
/// [`CommandOutput`] with `success: false`).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The line names a program the terminal does not have.
    #[error("`{program}` is not a command drdrill can run (line: {line:?}); known: kubectl, velero, tanzu, and bash scripts")]
    UnknownCommand {
        /// The program.
        program: String,
        /// The whole line.
        line: String,
    },
    /// The line does not split into words (an unclosed quote…).
    #[error("cannot split {line:?} into words: {message}")]
    Syntax {
        /// The line.
        line: String,
        /// Why.
        message: String,
    },
    /// kubectl or bash could not be started.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The world failed while the command ran.
    #[error(transparent)]
    World(#[from] WorldError),
    /// Files of the terminal (kubeconfig) could not be written.
    #[error("the terminal's home folder: {0}")]
    Io(#[from] std::io::Error),
}

/// The operator's terminal.
pub struct Operator {
    home: PathBuf,
    variables: std::collections::BTreeMap<String, String>,
    /// The version the `velero` emulator claims (the runbook's v1.8.1 rule).
    pub velero_cli_version: String,
    /// How long `velero … --wait` waits.
    pub wait_timeout: Duration,
    /// Environment added for the programs the terminal runs (kubectl, bash).
    pub tool_env: Vec<(String, String)>,
}

impl Operator {
    /// A terminal whose home folder (kubectl's cache, `~/.kube/config` of `tanzu cluster
    /// kubeconfig get`) is `home`.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Operator {
            home: home.into(),
            variables: std::collections::BTreeMap::new(),
            velero_cli_version: crate::velero::DEFAULT_CLI_VERSION.to_string(),
            wait_timeout: Duration::from_secs(120),
            tool_env: Vec::new(),
        }
    }

    /// Sets the shell variables the runbook's commands use for this world: `BUCKET` (the
    /// management cluster's bucket), `S3_URL` (the store's endpoint) and `REGION` — for the
    /// embedded MinIO-compatible store the region is `minio` and, as Velero's MinIO setup
    /// requires, carries the path-style flag and the endpoint, so the runbook's
    /// `--backup-location-config region=$REGION` reaches it unchanged.
    pub fn set_variables(&mut self, world: &World) {
        let endpoint = world.s3.endpoint().to_string();
        self.variables.insert("BUCKET".into(), crate::world::BUCKET.into());
        self.variables.insert("S3_URL".into(), endpoint.clone());
        self.variables
            .insert("REGION".into(), format!("minio,s3ForcePathStyle=\"true\",s3Url={endpoint}"));
    }

    /// Replaces `$NAME` and `${NAME}` of the known variables; others are left as written.
    pub fn expand(&self, line: &str) -> String {
        let mut out = line.to_string();
        // Longest names first, so `$BUCKET_X` is not read as `$BUCKET` + `_X`.
        let mut names: Vec<&String> = self.variables.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for name in names {
            let value = &self.variables[name];
            out = out.replace(&format!("${{{name}}}"), value).replace(&format!("${name}"), value);
        }
        out
    }

    /// The home folder.
    pub fn home(&self) -> &std::path::Path {
        &self.home
    }

    /// `KUBECONFIG` for kubectl: `~/.kube/config` (where `tanzu cluster kubeconfig get` merges
    /// workload clusters' admin contexts, and where `kubectl config use-context` writes), then
    /// the management cluster's file, whose context is current until the operator switches.
    fn kubeconfig(&self, world: &World) -> Result<std::ffi::OsString, OperatorError> {
        let user = self.home.join(".kube").join("config");
        std::fs::create_dir_all(self.home.join(".kube"))?;
        let mut paths = Vec::new();
        if user.is_file() {
            paths.push(user);
        }
        paths.push(world.management()?.kubeconfig().to_path_buf());
        std::env::join_paths(paths).map_err(|e| OperatorError::Io(std::io::Error::other(e)))
    }

    /// Runs one runbook command (or a bash script) and returns what it printed.
    pub async fn run(&self, world: &World, line: &str) -> Result<CommandOutput, OperatorError> {
        let trimmed = line.trim();
        if trimmed.contains('\n') || trimmed.starts_with("#!") {
            let shell = Shell::with_kubeconfig_list(self.kubeconfig(world)?, &self.home)?.with_env(&self.tool_env);
            return Ok(world.alongside(shell.bash(trimmed)).await??);
        }
        let expanded = self.expand(trimmed);
        let words = shell_words::split(&expanded).map_err(|e| OperatorError::Syntax {
            line: trimmed.to_string(),
            message: e.to_string(),
        })?;
        let Some((program, args)) = words.split_first() else {
            return Err(OperatorError::Syntax {
                line: line.to_string(),
                message: "empty command".into(),
            });
        };
        let clock: Arc<dyn Clock> = Arc::new(world.clock.clone());
        match program.as_str() {
            "kubectl" => {
                let shell = Shell::with_kubeconfig_list(self.kubeconfig(world)?, &self.home)?.with_env(&self.tool_env);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Ok(world.alongside(shell.kubectl(&args)).await??)
            }
            "velero" => {
                let mut env = VeleroEnv::new(world.mgmt_client()?, clock);
                // Like kubectl, velero talks to the cluster of the terminal's current context (the
                // management cluster until the operator switches to a workload cluster).
                env.kubeconfigs = std::env::split_paths(&self.kubeconfig(world)?).collect();
                env.cli_version = self.velero_cli_version.clone();
                env.wait_timeout = self.wait_timeout;
                // The world answers in milliseconds: poll often (velero's ticker prints a dot per poll).
                env.wait_poll = Duration::from_millis(20);
                // The terminal's working directory is its home: a relative `--secret-file` is read there.
                let args: Vec<String> = args
                    .iter()
                    .scan(false, |after_flag, a| {
                        let resolved = if *after_flag && std::path::Path::new(a).is_relative() {
                            self.home.join(a).display().to_string()
                        } else if let Some(path) = a.strip_prefix("--secret-file=").filter(|p| std::path::Path::new(p).is_relative()) {
                            format!("--secret-file={}", self.home.join(path).display())
                        } else {
                            a.clone()
                        };
                        *after_flag = a == "--secret-file";
                        Some(resolved)
                    })
                    .collect();
                let mut out = Vec::new();
                let result: Result<(), VeleroCliError> = world.alongside(crate::velero::run(&args, &env, &mut out)).await?;
                Ok(output(out, result.map_err(|e| e.to_string())))
            }
            "tanzu" => {
                let env = TanzuEnv {
                    client: world.mgmt_client()?,
                    clock,
                    poll: Duration::from_millis(20),
                    workdir: self.home.clone(),
                };
                let mut out = Vec::new();
                let result: Result<(), TanzuCliError> = world.alongside(crate::tanzu::run(args, &env, &mut out)).await?;
                Ok(output(out, result.map_err(|e| e.to_string())))
            }
            other => Err(OperatorError::UnknownCommand {
                program: other.to_string(),
                line: trimmed.to_string(),
            }),
        }
    }
}

fn output(stdout: Vec<u8>, result: Result<(), String>) -> CommandOutput {
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    match result {
        Ok(()) => CommandOutput {
            success: true,
            stdout,
            stderr: String::new(),
        },
        Err(message) => CommandOutput {
            success: false,
            stdout,
            stderr: format!("Error: {message}\n"),
        },
    }
}
