//! From a BackupStorageLocation to an [`ObjectStore`]: endpoint, bucket, prefix, region and the
//! credentials Secret, read the way Velero's AWS object-store plugin reads them.

use drdrill_apis::velero::BackupStorageLocation;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::s3::{CredentialsFile, ObjectStore};

/// The Secret `velero install --secret-file` creates in Velero's namespace.
pub const CREDENTIALS_SECRET: &str = "cloud-credentials";

/// The key of [`CREDENTIALS_SECRET`] holding the credentials file.
pub const CREDENTIALS_KEY: &str = "cloud";

/// Why a location's object store cannot be reached; the text is what Velero would put in the
/// location's `status.message` or a backup's failure reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// The object store a location points at.
///
/// The endpoint is `config.s3Url` (MinIO and other S3-compatible stores; without it AWS S3 of
/// `config.region`), signed for `config.region`; credentials are profile `config.profile`
/// (default `default`) of the file in `spec.credential`, or else of Velero's own
/// `cloud-credentials` Secret, key `cloud`.
pub async fn object_store_for(client: &Client, namespace: &str, location: &BackupStorageLocation) -> Result<ObjectStore, StorageError> {
    store_at(client, namespace, location, None).await
}

/// The store whose pre-signed URLs a DownloadRequest hands out: as [`object_store_for`], but
/// at `config.publicUrl` when the location sets one (the address clients outside the cluster
/// reach the store at, as Velero's AWS plugin signs download URLs for it).
pub async fn signing_store_for(client: &Client, namespace: &str, location: &BackupStorageLocation) -> Result<ObjectStore, StorageError> {
    let public = location
        .spec
        .config
        .get("publicUrl")
        .map(|url| url.trim_end_matches('/').to_string());
    store_at(client, namespace, location, public).await
}

async fn store_at(
    client: &Client,
    namespace: &str,
    location: &BackupStorageLocation,
    endpoint_override: Option<String>,
) -> Result<ObjectStore, StorageError> {
    let name = location.name_any();
    let spec = &location.spec;
    if spec.provider != "aws" && spec.provider != "velero.io/aws" {
        return Err(StorageError(format!(
            "BackupStorageLocation {namespace}/{name}: provider {:?} has no object-store plugin here (only \"aws\", which serves S3 and MinIO)",
            spec.provider
        )));
    }
    let region = spec.config.get("region").map(String::as_str);
    let endpoint = match (spec.config.get("s3Url"), region) {
        _ if endpoint_override.is_some() => endpoint_override.unwrap_or_default(),
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(region)) => format!("https://s3.{region}.amazonaws.com"),
        (None, None) => {
            return Err(StorageError(format!(
                "BackupStorageLocation {namespace}/{name}: config has neither s3Url nor region"
            )));
        }
    };
    let (secret_name, key) = match &spec.credential {
        Some(selector) => (selector.name.clone(), selector.key.clone()),
        None => (CREDENTIALS_SECRET.to_string(), CREDENTIALS_KEY.to_string()),
    };
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&secret_name)
        .await
        .map_err(|e| StorageError(format!("reading credentials Secret {namespace}/{secret_name}: {e}")))?
        .ok_or_else(|| StorageError(format!("credentials Secret {namespace}/{secret_name} not found")))?;
    let text = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .or_else(|| secret.string_data.as_ref().and_then(|d| d.get(&key)).cloned())
        .ok_or_else(|| StorageError(format!("credentials Secret {namespace}/{secret_name} has no key {key:?}")))?;
    let profile = spec.config.get("profile").map(String::as_str).unwrap_or("default");
    let credentials = CredentialsFile::parse(&text)
        .and_then(|file| file.profile(profile))
        .map_err(|e| StorageError(format!("credentials Secret {namespace}/{secret_name} key {key:?}: {e}")))?;
    let prefix = spec.object_storage.prefix.as_deref().unwrap_or("");
    ObjectStore::with_region(&endpoint, &spec.object_storage.bucket, prefix, &credentials, region)
        .map_err(|e| StorageError(format!("BackupStorageLocation {namespace}/{name}: {e}")))
}
