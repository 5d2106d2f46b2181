//! Shared helpers for the integration tests: an API server per test, and the real kubectl
//! run with its own HOME and cache so tests never share discovery caches.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use drdrill_kube_sim::{ApiServer, ServerOptions};

/// Whether we run in CI, where a missing tool is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Finds a tool on PATH. In CI a missing tool fails the test; elsewhere the test is skipped
/// with the reason printed.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    match found {
        Some(p) => Some(p),
        None if in_ci() => panic!("{name} is not on PATH, and CI=true requires it (install {name} or put it on PATH)"),
        None => {
            eprintln!("SKIPPED: {name} is not on PATH; install it to run this test");
            None
        }
    }
}

/// A server plus a private kubectl environment.
pub struct Env {
    pub server: ApiServer,
    pub dir: tempfile::TempDir,
    pub kubectl: PathBuf,
    pub kubeconfig: PathBuf,
}

/// Output of a command.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with both streams unless the command succeeded.
    pub fn expect_ok(self, what: &str) -> String {
        assert!(self.ok, "{what} failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self.stdout
    }
}

impl Env {
    /// Starts a server and writes its kubeconfig with the given context; None when kubectl is absent (outside CI).
    pub async fn start(context: &str) -> Option<Env> {
        let kubectl = require_tool("kubectl")?;
        let server = ApiServer::start(ServerOptions {
            cluster_name: "test".into(),
            ..Default::default()
        })
        .await
        .expect("server starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig, context).expect("kubeconfig written");
        Some(Env {
            server,
            dir,
            kubectl,
            kubeconfig,
        })
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs kubectl with args (off the async runtime's worker, as kubectl blocks).
    pub async fn kubectl(&self, args: &[&str]) -> Out {
        let mut cmd = self.command(&self.kubectl.clone());
        cmd.args(args);
        run(cmd).await
    }

    /// Runs kubectl with a manifest on stdin (`kubectl apply -f -`).
    pub async fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let path = self
            .dir
            .path()
            .join(format!("manifest-{}.yaml", std::process::id() as u64 ^ stdin.len() as u64));
        std::fs::write(&path, stdin).expect("manifest written");
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        for a in full.iter_mut() {
            if a == "-" {
                *a = path.display().to_string();
            }
        }
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        self.kubectl(&refs).await
    }

    /// Runs a bash script with KUBECONFIG pointing at the server.
    pub async fn bash(&self, script: &str) -> Out {
        let mut cmd = self.command(Path::new("bash"));
        cmd.arg("-c").arg(script);
        let kubectl_dir = self.kubectl.parent().map(Path::to_path_buf).unwrap_or_default();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths: Vec<PathBuf> = vec![kubectl_dir];
        paths.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(paths).expect("PATH joins"));
        run(cmd).await
    }
}

async fn run(mut cmd: Command) -> Out {
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("command runs");
    Out {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The repository's shared reference folder (upstream CRDs as data), if present.
pub fn reference_file(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference").join(relative);
    if path.is_file() {
        return Some(path);
    }
    if in_ci() {
        panic!("{} is missing; CI provides ../shared/reference beside the checkout", path.display());
    }
    eprintln!("SKIPPED: {} is missing", path.display());
    None
}

/// A kube-rs client for `server`, built from the kubeconfig the server writes (into the
/// returned temp dir, which must outlive the client's use of it).
pub async fn kube_client(server: &ApiServer) -> (kube::Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "admin@test").expect("kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    (kube::Client::try_from(config).expect("client"), dir)
}
