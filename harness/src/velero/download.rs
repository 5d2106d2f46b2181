//! velero's `downloadrequest.Stream`: how `backup logs`, `backup download`, `backup describe
//! --details` and `restore describe` / `logs` read a file from object storage. The CLI holds
//! no store credentials: it creates a DownloadRequest `<name>-<uuid>` naming the file, polls it
//! every 25 ms until the Velero server has put a pre-signed URL in its status, and GETs that
//! URL over plain HTTP(S). A 404 is "file not found"; everything but a backup's tarball is
//! gunzipped on the way.

use std::time::Duration;

use drdrill_apis::velero::{
    BackupStorageLocation, BackupStorageLocationPhase, DownloadRequest, DownloadRequestSpec, DownloadTarget, DownloadTargetKind,
};
use drdrill_velero_sim::format::gunzip;
use kube::api::{Api, ObjectMeta, PostParams};

use super::args::DownloadFlags;
use super::{Ctx, api};

/// How often the CLI looks for the URL (velero's own interval).
const POLL: Duration = Duration::from_millis(25);

/// Why a download failed, in velero's words.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The store answered 404: the file is not in the bucket.
    #[error("file not found")]
    NotFound,
    /// No URL within the timeout; `hint` is what the CLI could see of the cause.
    #[error(
        "download request download url timeout, check velero server logs for errors. backup storage location may not be available{hint}"
    )]
    Timeout {
        /// The location's phase and message, when they explain it.
        hint: String,
    },
    /// The store answered with another error status.
    #[error("request failed: {0}")]
    Failed(String),
    /// Anything else (API server, connection, TLS, gzip), with what was being done.
    #[error("{0}")]
    Other(String),
}

/// The file `kind` of the backup or restore `name`, as the CLI gets it.
pub(crate) async fn stream(
    ctx: &Ctx,
    name: &str,
    kind: DownloadTargetKind,
    timeout: Duration,
    flags: &DownloadFlags,
) -> Result<Vec<u8>, DownloadError> {
    let url = download_url(ctx, name, kind, timeout).await?;
    let body = fetch(&url, flags).await?;
    if !kind.is_gunzipped_by_the_cli() {
        return Ok(body);
    }
    gunzip(&body, kind.as_str()).map_err(|e| DownloadError::Other(e.to_string()))
}

async fn download_url(ctx: &Ctx, name: &str, kind: DownloadTargetKind, timeout: Duration) -> Result<String, DownloadError> {
    let requests: Api<DownloadRequest> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let request_name = format!("{name}-{}", uuid::Uuid::new_v4());
    let request = DownloadRequest {
        metadata: ObjectMeta {
            name: Some(request_name.clone()),
            namespace: Some(ctx.namespace.clone()),
            ..Default::default()
        },
        spec: DownloadRequestSpec {
            target: DownloadTarget {
                kind,
                name: name.to_string(),
            },
        },
        status: None,
    };
    let other = |e: super::VeleroCliError| DownloadError::Other(e.to_string());
    requests
        .create(&PostParams::default(), &request)
        .await
        .map_err(api(|| format!("create DownloadRequest {}/{request_name}", ctx.namespace)))
        .map_err(other)?;
    // Wall-clock time and the drill's clock both count: a drill's clock may run ahead of the
    // wall while nothing else happens, and a stopped clock must not wait forever.
    let started = ctx.now();
    let mut waited = Duration::ZERO;
    loop {
        tokio::time::sleep(POLL).await;
        waited += POLL;
        let current = requests
            .get(&request_name)
            .await
            .map_err(api(|| format!("get DownloadRequest {}/{request_name}", ctx.namespace)))
            .map_err(other)?;
        if let Some(url) = current.status.and_then(|s| s.download_url).filter(|u| !u.is_empty()) {
            return Ok(url);
        }
        let on_clock = ctx.now().duration_since(started).as_secs_f64().max(0.0);
        if waited >= timeout || on_clock >= timeout.as_secs_f64() {
            return Err(DownloadError::Timeout {
                hint: location_hint(ctx).await,
            });
        }
    }
}

/// What the locations say, when some are not Available (the usual cause of a timeout).
async fn location_hint(ctx: &Ctx) -> String {
    let locations: Api<BackupStorageLocation> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let Ok(list) = locations.list(&Default::default()).await else {
        return String::new();
    };
    let unavailable: Vec<String> = list
        .items
        .iter()
        .filter_map(|l| {
            let status = l.status.as_ref()?;
            (status.phase == Some(BackupStorageLocationPhase::Unavailable)).then(|| {
                let name = l.metadata.name.clone().unwrap_or_default();
                match status.message.as_deref().filter(|m| !m.is_empty()) {
                    Some(message) => format!("{name:?} is Unavailable: {message}"),
                    None => format!("{name:?} is Unavailable"),
                }
            })
        })
        .collect();
    if unavailable.is_empty() {
        String::new()
    } else {
        format!(" (backup storage location {})", unavailable.join("; "))
    }
}

async fn fetch(url: &str, flags: &DownloadFlags) -> Result<Vec<u8>, DownloadError> {
    let mut builder = reqwest::Client::builder().danger_accept_invalid_certs(flags.insecure_skip_tls_verify);
    if let Some(path) = &flags.cacert {
        let pem = std::fs::read(path).map_err(|e| DownloadError::Other(format!("couldn't open cacert: {path}: {e}")))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| DownloadError::Other(format!("cacert {path}: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder.build().map_err(|e| DownloadError::Other(format!("HTTP client: {e}")))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| DownloadError::Other(describe_reqwest(&e)))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| DownloadError::Other(describe_reqwest(&e)))?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(DownloadError::NotFound);
    }
    if !status.is_success() {
        return Err(DownloadError::Failed(String::from_utf8_lossy(&body).into_owned()));
    }
    Ok(body.to_vec())
}

/// reqwest's error with its causes (its own Display stops at "error sending request").
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
