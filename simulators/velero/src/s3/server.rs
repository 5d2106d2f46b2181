//! The embedded S3 server: plain HTTP on 127.0.0.1 with an OS-assigned port, path-style
//! addressing, SigV4 authentication against the configured access keys, and the in-memory
//! storage of [`super::backend`]. [`S3Server`] is an RAII guard: dropping it stops the server
//! and closes its connections.
//!
//! Authentication errors are S3's: an unknown access key gets 403 `InvalidAccessKeyId`, a wrong
//! secret 403 `SignatureDoesNotMatch`, an unsigned request 403 `AccessDenied`.

use std::collections::HashMap;
use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::backend::{Faults, MemoryBackend};
use super::credentials::Credentials;

/// The region the embedded server reports and Velero's MinIO examples configure.
pub const DEFAULT_REGION: &str = "minio";

/// Why the embedded server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding 127.0.0.1 failed.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    /// The server was configured without any access key.
    #[error("the embedded S3 server needs at least one access key")]
    NoCredentials,
}

/// What the embedded server accepts.
#[derive(Debug, Clone)]
pub struct S3ServerConfig {
    /// The access keys it accepts, each with its secret.
    pub credentials: Vec<Credentials>,
    /// Buckets that exist from the start.
    pub buckets: Vec<String>,
}

impl S3ServerConfig {
    /// A server accepting one access key and holding no buckets.
    pub fn new(credentials: Credentials) -> Self {
        S3ServerConfig {
            credentials: vec![credentials],
            buckets: Vec::new(),
        }
    }

    /// Adds a bucket that exists from the start.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.buckets.push(bucket.into());
        self
    }
}

/// s3s's auth hook over our key table: unknown keys are `InvalidAccessKeyId` (s3s's own
/// `SimpleAuth` answers `NotSignedUp`, which no real S3 sends).
struct KeyTable(HashMap<String, SecretKey>);

#[async_trait::async_trait]
impl S3Auth for KeyTable {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.0.get(access_key).cloned().ok_or_else(|| {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        })
    }
}

/// A running embedded S3 server; it stops when dropped.
pub struct S3Server {
    addr: SocketAddr,
    backend: MemoryBackend,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl S3Server {
    /// Starts a server on 127.0.0.1 with an OS-assigned port, on the current tokio runtime.
    pub async fn start(config: S3ServerConfig) -> Result<S3Server, ServerError> {
        if config.credentials.is_empty() {
            return Err(ServerError::NoCredentials);
        }
        let backend = MemoryBackend::new();
        {
            let mut state = backend.lock();
            for bucket in &config.buckets {
                state.buckets.entry(bucket.clone()).or_default().created = Some(time::OffsetDateTime::now_utc());
            }
        }
        let keys = config
            .credentials
            .iter()
            .map(|c| (c.access_key_id.clone(), SecretKey::from(c.secret_access_key.as_str())))
            .collect();
        let mut builder = S3ServiceBuilder::new(backend.clone());
        builder.set_auth(KeyTable(keys));
        let service = builder.build();

        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            // Owning the connections here means aborting this task closes them all.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let service = service.clone();
                        connections.spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(S3Server { addr, backend, accept })
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL for clients, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fault hooks: injected 503s, read-only buckets.
    pub fn faults(&self) -> &Faults {
        &self.backend.faults
    }

    /// The buckets, sorted.
    pub fn bucket_names(&self) -> Vec<String> {
        self.backend.lock().buckets.keys().cloned().collect()
    }

    /// The keys of a bucket, sorted, or `None` when it does not exist (a look behind the API,
    /// for tests and diagnostics).
    pub fn object_keys(&self, bucket: &str) -> Option<Vec<String>> {
        self.backend.lock().buckets.get(bucket).map(|b| b.objects.keys().cloned().collect())
    }

    /// The stored ETag of an object (without quotes; `<md5>-<parts>` after a multipart upload).
    pub fn object_etag(&self, bucket: &str, key: &str) -> Option<String> {
        let state = self.backend.lock();
        state.buckets.get(bucket)?.objects.get(key).map(|o| o.etag.clone())
    }

    /// Removes a bucket and everything in it at once, as an operator (or a disaster) would;
    /// returns whether it existed.
    pub fn remove_bucket(&self, bucket: &str) -> bool {
        self.backend.faults.bump();
        self.backend.lock().buckets.remove(bucket).is_some()
    }

    /// See [`Faults::generation`]: equal generations mean the store answers as before.
    pub fn generation(&self) -> u64 {
        self.backend.faults.generation()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
