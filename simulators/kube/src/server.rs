//! The server as a value: start it, point kubectl at its kubeconfig, take it offline, drop it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use crate::store::State;

/// Why the server could not start or write its kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing the kubeconfig failed.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificates could not be made.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The server is already serving.
    #[error("the API server {0} is already online")]
    AlreadyOnline(String),
}

/// How to build a server. Every field has a sensible default.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Name of the simulated cluster (used in the kubeconfig and in logs).
    pub cluster_name: String,
    /// The bearer token clients must present; generated from the seed when `None`.
    pub token: Option<String>,
    /// Seed for uids, generated names and the token.
    pub seed: u64,
    /// Source of time.
    pub clock: Arc<dyn Clock>,
    /// How many changes watchers can resume from before getting 410.
    pub history_capacity: usize,
    /// Largest accepted request body in bytes (kube-apiserver: 3 MiB).
    pub max_body_bytes: usize,
    /// Interval between watch BOOKMARK events when clients allow them.
    pub bookmark_interval: std::time::Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            cluster_name: "drdrill".into(),
            token: None,
            seed: 0,
            clock: Arc::new(SystemClock),
            history_capacity: 100_000,
            max_body_bytes: 3 * 1024 * 1024,
            bookmark_interval: std::time::Duration::from_secs(1),
        }
    }
}

/// Whether a server serves, and how many times it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    /// Accepting requests.
    pub online: bool,
    /// Times it went offline.
    pub outages: u64,
}

/// What request handlers share.
#[derive(Debug)]
pub struct Shared {
    /// The cluster's objects.
    pub state: Mutex<State>,
    /// The accepted bearer token.
    pub token: String,
    /// Options the server was built with.
    pub options: ServerOptions,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its certificates.
    pub tls: crate::tls::ServerTls,
    /// Requests answered so far (every route, errors included).
    pub requests: std::sync::atomic::AtomicU64,
    /// Whether the server is serving, and how many times it has gone offline (loopback requests
    /// are refused while it is not serving; a loopback watch is cut when it goes offline, even if
    /// it comes back before the watch is read again).
    pub serving: tokio::sync::watch::Sender<Serving>,
}

impl Shared {
    /// Locks the state (a panic in another request never poisons it for good).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running (or offline) API server. Stops serving when dropped.
#[derive(Debug)]
pub struct ApiServer {
    shared: Arc<Shared>,
    serving: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Starts a server on 127.0.0.1 with an OS-assigned port.
    pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|source| ServerError::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
        let mut state = State::new(options.clock.clone(), options.seed, options.history_capacity);
        let token = options
            .token
            .clone()
            .unwrap_or_else(|| format!("drdrill-{}", state.new_uid().replace('-', "")));
        let tls = crate::tls::ServerTls::generate(&options.cluster_name)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            token,
            options,
            addr,
            tls,
            requests: std::sync::atomic::AtomicU64::new(0),
            serving: tokio::sync::watch::Sender::new(Serving { online: true, outages: 0 }),
        });
        crate::loopback::register(&format!("https://{addr}"), &shared);
        let serving = Some(tokio::spawn(crate::http::serve(listener, shared.clone())));
        tracing::info!(cluster = %shared.options.cluster_name, %addr, "API server started");
        Ok(ApiServer { shared, serving })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.shared.addr)
    }

    /// The in-process way in, for clients living in this process (see [`crate::loopback`]).
    pub fn loopback(&self) -> crate::loopback::Loopback {
        crate::loopback::Loopback::new(&self.shared, self.url())
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.shared.tls.ca_pem
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The bearer token clients must send.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Direct access to the store, for tests and benchmarks that need to bypass HTTP.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// Requests answered since the server started (every route, errors included).
    pub fn requests_served(&self) -> u64 {
        self.shared.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last resourceVersion handed out: it moves with every write (a wipe included), so
    /// equal values mean nothing was written in between.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().rv
    }

    /// Whether the server accepts connections.
    pub fn is_online(&self) -> bool {
        self.serving.is_some()
    }

    /// The kubeconfig YAML for this server, with the caller's context name
    /// (e.g. `tkg-vc-antrea-admin@tkg-vc-antrea`).
    pub fn kubeconfig_yaml(&self, context: &str) -> String {
        let cluster = &self.shared.options.cluster_name;
        let user = context
            .split('@')
            .next()
            .filter(|u| !u.is_empty() && *u != context)
            .unwrap_or("admin");
        let ca_data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, self.shared.tls.ca_pem.as_bytes());
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": self.url(), "certificate-authority-data": ca_data}}],
            "users": [{"name": user, "user": {"token": self.shared.token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
            "current-context": context,
            "preferences": {},
        });
        // Serializing a JSON value to YAML cannot fail.
        serde_yaml::to_string(&doc).unwrap_or_default()
    }

    /// Writes the kubeconfig to `path` with mode 0600.
    pub fn write_kubeconfig(&self, path: &Path, context: &str) -> Result<(), ServerError> {
        let err = |source| ServerError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let mut file = open.open(path).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
        std::io::Write::write_all(&mut file, self.kubeconfig_yaml(context).as_bytes()).map_err(err)
    }

    /// Stops accepting connections and cuts every open one (watches included); state is kept.
    pub fn go_offline(&mut self) {
        if let Some(task) = self.serving.take() {
            task.abort();
            self.shared.serving.send_modify(|s| {
                s.online = false;
                s.outages += 1;
            });
            tracing::info!(cluster = %self.shared.options.cluster_name, "API server offline");
        }
    }

    /// Serves again on the same address, with the state it had.
    pub async fn come_online(&mut self) -> Result<(), ServerError> {
        if self.serving.is_some() {
            return Err(ServerError::AlreadyOnline(self.url()));
        }
        let addr = self.shared.addr;
        // The aborted accept loop releases the port when its task is dropped; retry briefly.
        let mut attempt = 0;
        let listener = loop {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
            socket.set_reuseaddr(true).map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
            match socket.bind(addr).and_then(|()| socket.listen(1024)) {
                Ok(listener) => break listener,
                Err(source) if attempt >= 50 => {
                    return Err(ServerError::Bind {
                        addr: addr.to_string(),
                        source,
                    });
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        };
        self.serving = Some(tokio::spawn(crate::http::serve(listener, self.shared.clone())));
        self.shared.serving.send_modify(|s| s.online = true);
        tracing::info!(cluster = %self.shared.options.cluster_name, "API server online again");
        Ok(())
    }

    /// Loses every object (a corrupted cluster); the server keeps serving, empty.
    pub fn wipe(&self) {
        self.shared.state().wipe();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.go_offline();
    }
}
