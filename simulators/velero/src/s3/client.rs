//! One object-store client for every backend — the embedded server, MinIO in a container, any
//! external S3 endpoint — built on the `minio` crate (path-style addressing, SigV4).
//!
//! An [`ObjectStore`] is a BackupStorageLocation's view of the store: an endpoint, a bucket, a
//! prefix and credentials. Keys are whole keys in the bucket, as [`BackupLayout`] produces them
//! from the same prefix ([`ObjectStore::layout`]), the way Velero's object-store plugins take
//! keys that its layout has already prefixed.

use bytes::Bytes;
use futures::StreamExt;
use minio::s3::MinioClient;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::error::{Error as MinioError, S3ServerError};
use minio::s3::http::BaseUrl;
use minio::s3::types::minio_error_response::MinioErrorCode;
use minio::s3::types::{Region, S3Api, ToStream};

use super::credentials::Credentials;
use crate::layout::BackupLayout;

/// Objects at least this large go up as a multipart upload, in parts of this size (S3's
/// minimum part size).
pub const MULTIPART_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The most keys one DeleteObjects request may name.
const MAX_DELETE_BATCH: usize = 1000;

/// Why an object-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The endpoint, bucket or a key is not acceptable.
    #[error("invalid object store configuration: {0}")]
    Config(String),
    /// The server answered with an S3 error (`code` as S3 names it, e.g.
    /// `SignatureDoesNotMatch`, `InvalidAccessKeyId`, `NoSuchBucket`).
    #[error("{operation} {target}: {code}: {message}")]
    S3 {
        /// The operation, e.g. `put`.
        operation: &'static str,
        /// `bucket/key` or `bucket`.
        target: String,
        /// The S3 error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The request did not get an S3 answer (connection refused, bad response, …).
    #[error("{operation} {target}: {message}")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// `bucket/key` or `bucket`.
        target: String,
        /// What went wrong.
        message: String,
    },
}

impl StoreError {
    /// The S3 error code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StoreError::S3 { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// S3 error codes `minio` has no variant for, spelled as S3 spells them: `minio` keeps only
/// their lowercase form (`MinioErrorCode::OtherError("signaturedoesnotmatch")`).
const S3_CODES: [&str; 24] = [
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "InvalidBucketName",
    "NoSuchUpload",
    "InvalidPart",
    "InvalidPartOrder",
    "EntityTooSmall",
    "EntityTooLarge",
    "InvalidArgument",
    "InvalidRange",
    "InvalidRequest",
    "MalformedXML",
    "RequestTimeTooSkewed",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidToken",
    "MissingContentLength",
    "IncompleteBody",
    "NotImplemented",
    "BucketAlreadyExists",
    "XAmzContentSHA256Mismatch",
];

/// The S3 name of a `minio` error code.
fn code_name(code: &MinioErrorCode) -> String {
    match code {
        MinioErrorCode::OtherError(name) => S3_CODES
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map_or_else(|| name.clone(), |c| c.to_string()),
        other => format!("{other:?}"),
    }
}

fn report(operation: &'static str, target: String, err: MinioError) -> StoreError {
    match err {
        MinioError::S3Server(S3ServerError::S3Error(resp)) => StoreError::S3 {
            operation,
            target,
            code: code_name(&resp.code()),
            message: resp
                .message()
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "(no message)".to_string()),
        },
        MinioError::S3Server(S3ServerError::HttpError(status, body)) => StoreError::Transport {
            operation,
            target,
            message: format!("HTTP {status}: {body}"),
        },
        other => StoreError::Transport {
            operation,
            target,
            message: error_chain(&other),
        },
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn is_code(err: &MinioError, wanted: &[MinioErrorCode]) -> bool {
    matches!(err, MinioError::S3Server(S3ServerError::S3Error(resp)) if wanted.contains(&resp.code()))
}

/// A bucket and prefix on one S3 endpoint, with the credentials to reach them.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: MinioClient,
    endpoint: String,
    bucket: String,
    layout: BackupLayout,
}

impl ObjectStore {
    /// A store at `endpoint` (e.g. `http://127.0.0.1:9000`) signing for region `us-east-1`, which
    /// suits the embedded server, MinIO and most S3-compatible stores.
    pub fn new(endpoint: &str, bucket: &str, prefix: &str, credentials: &Credentials) -> Result<ObjectStore, StoreError> {
        ObjectStore::with_region(endpoint, bucket, prefix, credentials, None)
    }

    /// A store signing for `region` (a BackupStorageLocation's `config.region`, e.g. `minio`);
    /// `None` means `us-east-1`.
    pub fn with_region(
        endpoint: &str,
        bucket: &str,
        prefix: &str,
        credentials: &Credentials,
        region: Option<&str>,
    ) -> Result<ObjectStore, StoreError> {
        let mut base_url: BaseUrl = endpoint
            .parse()
            .map_err(|e| StoreError::Config(format!("endpoint {endpoint:?}: {e}")))?;
        // Path-style always: the embedded server and MinIO serve no virtual hosts.
        base_url.virtual_style = false;
        if let Some(region) = region {
            base_url.region = Region::new(region).map_err(|e| StoreError::Config(format!("region {region:?}: {e}")))?;
        }
        let provider = StaticProvider::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.as_deref(),
        );
        let client = MinioClientBuilder::new(base_url)
            .provider(Some(provider))
            .skip_region_lookup(region.is_none())
            .build()
            .map_err(|e| StoreError::Config(format!("endpoint {endpoint:?}: {e}")))?;
        Ok(ObjectStore {
            client,
            endpoint: endpoint.to_string(),
            bucket: bucket.trim_matches('/').to_string(),
            layout: BackupLayout::new(prefix),
        })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Velero's layout under this store's prefix: where every backup and restore file goes.
    pub fn layout(&self) -> &BackupLayout {
        &self.layout
    }

    fn target(&self, key: &str) -> String {
        format!("{}/{key}", self.bucket)
    }

    fn invalid(&self, operation: &'static str, key: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Config(format!("{operation} {}: {e}", self.target(key)))
    }

    /// Whether the bucket exists.
    pub async fn bucket_exists(&self) -> Result<bool, StoreError> {
        let request = self.client.bucket_exists(&self.bucket).map_err(|e| self.invalid("head", "", e))?;
        let resp = request
            .build()
            .send()
            .await
            .map_err(|e| report("head bucket", self.bucket.clone(), e))?;
        Ok(resp.exists())
    }

    /// Creates the bucket unless it exists; returns whether it created it.
    pub async fn ensure_bucket(&self) -> Result<bool, StoreError> {
        if self.bucket_exists().await? {
            return Ok(false);
        }
        let request = self.client.create_bucket(&self.bucket).map_err(|e| self.invalid("create", "", e))?;
        match request.build().send().await {
            Ok(_) => Ok(true),
            // Created by someone else meanwhile.
            Err(e) if is_code(&e, &[MinioErrorCode::BucketAlreadyOwnedByYou]) => Ok(false),
            Err(e) => Err(report("create bucket", self.bucket.clone(), e)),
        }
    }

    /// Writes an object, as a multipart upload from [`MULTIPART_PART_SIZE`] on.
    pub async fn put(&self, key: &str, data: impl Into<Bytes>) -> Result<(), StoreError> {
        let data: Bytes = data.into();
        let sent = if (data.len() as u64) < MULTIPART_PART_SIZE {
            // minio 0.4 rejects an empty body with an explicit part size: PUT small ones whole.
            let request = self
                .client
                .put_object(&self.bucket, key, data.into())
                .map_err(|e| self.invalid("put", key, e))?;
            request.build().send().await.map(drop)
        } else {
            let request = self
                .client
                .put_object_content(&self.bucket, key, data)
                .map_err(|e| self.invalid("put", key, e))?;
            request.part_size(MULTIPART_PART_SIZE).build().send().await.map(drop)
        };
        sent.map_err(|e| report("put", self.target(key), e))
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let request = self.client.get_object(&self.bucket, key).map_err(|e| self.invalid("get", key, e))?;
        let resp = request.build().send().await.map_err(|e| report("get", self.target(key), e))?;
        resp.into_bytes().await.map_err(|e| report("get", self.target(key), e))
    }

    /// Reads `length` bytes of an object from `offset` (an HTTP Range request).
    pub async fn get_range(&self, key: &str, offset: u64, length: u64) -> Result<Bytes, StoreError> {
        let request = self.client.get_object(&self.bucket, key).map_err(|e| self.invalid("get", key, e))?;
        let resp = request
            .offset(offset)
            .length(length)
            .build()
            .send()
            .await
            .map_err(|e| report("get", self.target(key), e))?;
        resp.into_bytes().await.map_err(|e| report("get", self.target(key), e))
    }

    /// A pre-signed GET URL of `key` valid for `expiry` of wall-clock time (SigV4 query
    /// signing, as Velero's object-store plugins hand out for a DownloadRequest). Signing needs
    /// no request to the store; the object need not exist (fetching the URL then answers 404).
    pub async fn presigned_get_url(&self, key: &str, expiry: std::time::Duration) -> Result<String, StoreError> {
        let seconds = u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX).max(1);
        let request = self
            .client
            .get_presigned_object_url(&self.bucket, key, http::Method::GET)
            .map_err(|e| self.invalid("presign", key, e))?;
        let resp = request
            .expiry_seconds(seconds)
            .build()
            .send()
            .await
            .map_err(|e| report("presign", self.target(key), e))?;
        Ok(resp.url)
    }

    /// Whether an object exists (a HEAD request; a missing bucket is an error, not `false`).
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let request = self
            .client
            .stat_object(&self.bucket, key)
            .map_err(|e| self.invalid("stat", key, e))?;
        match request.build().send().await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, &[MinioErrorCode::NoSuchKey]) => Ok(false),
            Err(e) => Err(report("stat", self.target(key), e)),
        }
    }

    /// Deletes an object; deleting a missing one succeeds, as on S3.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_object(&self.bucket, key)
            .map_err(|e| self.invalid("delete", key, e))?;
        request.build().send().await.map_err(|e| report("delete", self.target(key), e))?;
        Ok(())
    }

    /// Deletes every object whose key starts with `prefix` (in DeleteObjects batches of 1000);
    /// returns how many it deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let keys = self.list(prefix).await?;
        for batch in keys.chunks(MAX_DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|k| k.as_str().try_into().map_err(|e| self.invalid("delete", k, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let request = self
                .client
                .delete_objects(&self.bucket, objects)
                .map_err(|e| self.invalid("delete", prefix, e))?;
            let resp = request.build().send().await.map_err(|e| report("delete", self.target(prefix), e))?;
            let results = resp.result().map_err(|e| report("delete", self.target(prefix), e))?;
            if let Some(failed) = results.iter().find(|r| r.is_error()) {
                return Err(StoreError::Transport {
                    operation: "delete",
                    target: self.target(prefix),
                    message: format!("DeleteObjects reported a failure: {failed:?}"),
                });
            }
        }
        Ok(keys.len())
    }

    /// Every key starting with `prefix`, sorted, across all pages of ListObjectsV2.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (keys, _) = self.list_pages(prefix, None, None).await?;
        Ok(keys)
    }

    /// The keys directly under `prefix` and the common prefixes one `delimiter` deeper (what
    /// Velero's `ListCommonPrefixes` returns with `delimiter` `/`), across all pages.
    pub async fn list_delimited(&self, prefix: &str, delimiter: &str) -> Result<(Vec<String>, Vec<String>), StoreError> {
        self.list_pages(prefix, Some(delimiter), None).await
    }

    /// Like [`list_delimited`](Self::list_delimited) with `max_keys` entries per page, to
    /// exercise a server's paging.
    pub async fn list_paged(&self, prefix: &str, delimiter: Option<&str>, max_keys: u16) -> Result<(Vec<String>, Vec<String>), StoreError> {
        self.list_pages(prefix, delimiter, Some(max_keys)).await
    }

    async fn list_pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: Option<u16>,
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let request = self
            .client
            .list_objects(&self.bucket)
            .map_err(|e| self.invalid("list", prefix, e))?;
        let request = request
            .prefix((!prefix.is_empty()).then(|| prefix.to_string()))
            .delimiter(delimiter.map(str::to_string))
            .recursive(delimiter.is_none())
            .max_keys(max_keys)
            .build();
        let mut pages = request.to_stream().await;
        let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| report("list", self.target(prefix), e))?;
            for entry in page.contents {
                if entry.is_prefix {
                    prefixes.push(entry.name);
                } else {
                    keys.push(entry.name);
                }
            }
        }
        Ok((keys, prefixes))
    }
}
