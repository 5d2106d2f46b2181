//! Running the real `kubectl` (and the runbooks' bash scripts that call it) against a cluster.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Why a command could not be run or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A tool the runbook needs is not installed.
    #[error("{tool} is not on PATH; the runbook's commands need it (install {tool} 1.27-1.33)")]
    Missing {
        /// The tool.
        tool: &'static str,
    },
    /// The process could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status was 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Finds a program on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file())
}

/// Runs commands with a kubeconfig and a private HOME, as an operator's shell would.
#[derive(Debug, Clone)]
pub struct Shell {
    kubeconfig: std::ffi::OsString,
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Shell {
    /// A shell whose kubectl talks to the cluster in `kubeconfig`; `home` keeps kubectl's cache.
    pub fn new(kubeconfig: &Path, home: &Path) -> Result<Self, CommandError> {
        Shell::with_kubeconfig_list(kubeconfig.as_os_str().to_os_string(), home)
    }

    /// A shell whose `KUBECONFIG` is a list of files (joined with the platform's separator), which
    /// kubectl merges.
    pub fn with_kubeconfig_list(kubeconfig: std::ffi::OsString, home: &Path) -> Result<Self, CommandError> {
        find_on_path("kubectl").ok_or(CommandError::Missing { tool: "kubectl" })?;
        find_on_path("bash").ok_or(CommandError::Missing { tool: "bash" })?;
        Ok(Shell {
            kubeconfig,
            home: home.to_path_buf(),
            env: Vec::new(),
        })
    }

    /// The shell with `env` added to the environment of every program it runs.
    pub fn with_env(mut self, env: &[(String, String)]) -> Self {
        self.env.extend(env.iter().cloned());
        self
    }

    /// Runs a bash script (a runbook step) and collects its output.
    pub async fn bash(&self, script: &str) -> Result<CommandOutput, CommandError> {
        self.run("bash", &["-c", script]).await
    }

    /// Runs kubectl with arguments.
    pub async fn kubectl(&self, args: &[&str]) -> Result<CommandOutput, CommandError> {
        self.run("kubectl", args).await
    }

    async fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, CommandError> {
        let output = tokio::process::Command::new(program)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| CommandError::Spawn {
                program: program.to_string(),
                source,
            })?;
        Ok(CommandOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}
