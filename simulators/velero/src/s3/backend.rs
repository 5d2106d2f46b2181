//! The embedded S3 server's storage: buckets of keys, each holding its bytes, ETag and
//! last-modified time, all in memory, served through `s3s`'s [`S3`] trait. s3s does the HTTP,
//! XML and SigV4 parts; this module is only the semantics of the operations Velero and the
//! `minio` client use, plus the fault hooks of [`Faults`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use md5::{Digest, Md5};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, Bucket as DtoBucket, CommonPrefix, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateBucketInput, CreateBucketOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag, GetBucketLocationInput,
    GetBucketLocationOutput, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    ListBucketsInput, ListBucketsOutput, ListObjectsV2Input, ListObjectsV2Output, Object as DtoObject, PutObjectInput, PutObjectOutput,
    StreamingBlob, Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

/// The most keys one ListObjectsV2 page returns, as on AWS.
pub const MAX_KEYS: usize = 1000;

/// One stored object.
#[derive(Debug, Clone)]
pub(crate) struct StoredObject {
    pub(crate) data: Bytes,
    /// Hex digest without quotes; `-N` suffixed for multipart uploads.
    pub(crate) etag: String,
    pub(crate) last_modified: OffsetDateTime,
}

#[derive(Debug, Default)]
pub(crate) struct StoredBucket {
    pub(crate) created: Option<OffsetDateTime>,
    pub(crate) objects: BTreeMap<String, StoredObject>,
}

#[derive(Debug)]
struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<i32, (Bytes, String)>,
}

/// Everything the server stores.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) buckets: BTreeMap<String, StoredBucket>,
    uploads: HashMap<String, Upload>,
    next_upload: u64,
}

/// Faults to inject into the embedded server, for drills of a misbehaving object store. Cheap
/// to share: the server and its [`S3Server`](super::server::S3Server) guard hold the same one.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<FaultState>,
    generation: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_next: u32,
    read_only: BTreeSet<String>,
}

impl Faults {
    /// Makes the next `n` authenticated requests fail with 503 `ServiceUnavailable`.
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
        self.bump();
    }

    /// Counts what may change what the store answers: writes and deletes tried, injected faults
    /// set or used up, buckets removed. Equal generations mean the store answers as before.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many injected failures are still to come.
    pub fn pending_failures(&self) -> u32 {
        self.lock().fail_next
    }

    /// Makes a bucket read-only (writes and deletes get 403 `AccessDenied`) or writable again.
    pub fn set_read_only(&self, bucket: &str, read_only: bool) {
        let mut state = self.lock();
        if read_only {
            state.read_only.insert(bucket.to_string());
        } else {
            state.read_only.remove(bucket);
        }
        self.bump();
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the faults to one request on `bucket` (empty for service-level requests).
    fn check(&self, bucket: &str, write: bool) -> S3Result<()> {
        let mut state = self.lock();
        if write || state.fail_next > 0 {
            self.bump();
        }
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(s3_error!(ServiceUnavailable, "injected fault: service unavailable"));
        }
        if write && state.read_only.contains(bucket) {
            return Err(s3_error!(AccessDenied, "injected fault: bucket {bucket} is read-only"));
        }
        Ok(())
    }
}

/// The in-memory S3 backend.
#[derive(Debug, Clone)]
pub(crate) struct MemoryBackend {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) faults: Arc<Faults>,
}

impl MemoryBackend {
    pub(crate) fn new() -> Self {
        MemoryBackend {
            state: Arc::default(),
            faults: Arc::default(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn now() -> OffsetDateTime {
    // Whole seconds, so HEAD's Last-Modified and the listing's LastModified agree.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn collect_body(body: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(mut body) = body else { return Ok(Bytes::new()) };
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "reading request body: {e}"))?;
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn bucket_mut<'a>(state: &'a mut State, bucket: &str) -> S3Result<&'a mut StoredBucket> {
    state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist: {bucket}"))
}

fn bucket_ref<'a>(state: &'a State, bucket: &str) -> S3Result<&'a StoredBucket> {
    state
        .buckets
        .get(bucket)
        .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist: {bucket}"))
}

fn object_ref<'a>(state: &'a State, bucket: &str, key: &str) -> S3Result<&'a StoredObject> {
    bucket_ref(state, bucket)?
        .objects
        .get(key)
        .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist: {key}"))
}

/// Percent-encodes a key for `encoding-type=url` listings (everything but unreserved and `/`).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One ListObjectsV2 page over sorted keys: `(keys, common prefixes, next token)`.
pub(crate) fn list_page<'a>(
    keys: impl Iterator<Item = &'a str>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> (Vec<String>, Vec<String>, Option<String>) {
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for key in keys {
        if !key.starts_with(prefix) || after.is_some_and(|a| key <= a) {
            continue;
        }
        // A common prefix returned on an earlier page covers every key under it.
        if let (Some(a), Some(d)) = (after, delimiter)
            && a.ends_with(d)
            && key.starts_with(a)
        {
            continue;
        }
        let entry = match delimiter.and_then(|d| key[prefix.len()..].find(d).map(|i| (d, i))) {
            Some((d, i)) => {
                let common = &key[..prefix.len() + i + d.len()];
                if prefixes.last().is_some_and(|p| p == common) {
                    continue;
                }
                Err(common.to_string())
            }
            None => Ok(key.to_string()),
        };
        if contents.len() + prefixes.len() == max_keys {
            return (contents, prefixes, last);
        }
        match entry {
            Ok(k) => {
                last = Some(k.clone());
                contents.push(k);
            }
            Err(p) => {
                last = Some(p.clone());
                prefixes.push(p);
            }
        }
    }
    (contents, prefixes, None)
}

#[async_trait::async_trait]
impl S3 for MemoryBackend {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        self.faults.check(&bucket, true)?;
        let mut state = self.lock();
        if state.buckets.contains_key(&bucket) {
            return Err(s3_error!(BucketAlreadyOwnedByYou, "bucket {bucket} already exists"));
        }
        state.buckets.insert(
            bucket.clone(),
            StoredBucket {
                created: Some(now()),
                ..Default::default()
            },
        );
        let output = CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        };
        Ok(S3Response::new(output))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.faults.check(&req.input.bucket, false)?;
        bucket_ref(&self.lock(), &req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(&self, req: S3Request<GetBucketLocationInput>) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.faults.check(&req.input.bucket, false)?;
        bucket_ref(&self.lock(), &req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(&self, _req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        self.faults.check("", false)?;
        let state = self.lock();
        let buckets = state
            .buckets
            .iter()
            .map(|(name, b)| DtoBucket {
                name: Some(name.clone()),
                creation_date: b.created.map(Timestamp::from),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        bucket_ref(&self.lock(), &input.bucket)?;
        let data = collect_body(input.body).await?;
        let etag = md5_hex(&[&data]);
        let object = StoredObject {
            data,
            etag: etag.clone(),
            last_modified: now(),
        };
        bucket_mut(&mut self.lock(), &input.bucket)?.objects.insert(input.key, object);
        let output = PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, false)?;
        let object = object_ref(&self.lock(), &input.bucket, &input.key)?.clone();
        let total = object.data.len() as u64;
        let (data, content_range) = match input.range {
            Some(range) => {
                let r = range.check(total)?;
                let slice = object.data.slice(r.start as usize..r.end as usize);
                (slice, Some(format!("bytes {}-{}/{total}", r.start, r.end.saturating_sub(1))))
            }
            None => (object.data, None),
        };
        let output = GetObjectOutput {
            content_length: Some(data.len() as i64),
            content_range,
            accept_ranges: Some("bytes".to_string()),
            e_tag: Some(ETag::Strong(object.etag)),
            last_modified: Some(object.last_modified.into()),
            body: Some(StreamingBlob::from(s3s::Body::from(data))),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, false)?;
        let state = self.lock();
        let object = object_ref(&state, &input.bucket, &input.key)?;
        let output = HeadObjectOutput {
            content_length: Some(object.data.len() as i64),
            accept_ranges: Some("bytes".to_string()),
            e_tag: Some(ETag::Strong(object.etag.clone())),
            last_modified: Some(object.last_modified.into()),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        // Deleting a missing key succeeds, as on S3.
        bucket_mut(&mut self.lock(), &input.bucket)?.objects.remove(&input.key);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        let mut state = self.lock();
        let bucket = bucket_mut(&mut state, &input.bucket)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        for id in input.delete.objects {
            bucket.objects.remove(&id.key);
            if !quiet {
                deleted.push(DeletedObject {
                    key: Some(id.key),
                    ..Default::default()
                });
            }
        }
        let output = DeleteObjectsOutput {
            deleted: Some(deleted),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        self.faults.check(&input.bucket, false)?;
        let state = self.lock();
        let bucket = bucket_ref(&state, &input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        // minio-rs sends `delimiter=` (empty) for recursive listings: that means no delimiter.
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max_keys = match input.max_keys {
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-keys must be >= 0")),
            Some(n) => (n as usize).min(MAX_KEYS),
            None => MAX_KEYS,
        };
        let after = input.continuation_token.clone().or_else(|| input.start_after.clone());
        let (keys, prefixes, next) = list_page(
            bucket.objects.keys().map(String::as_str),
            &prefix,
            delimiter.as_deref(),
            after.as_deref(),
            max_keys,
        );
        let url = input.encoding_type.as_ref().is_some_and(|e| e.as_str() == "url");
        let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
        let contents: Vec<DtoObject> = keys
            .iter()
            .map(|k| {
                let o = &bucket.objects[k];
                DtoObject {
                    key: Some(enc(k)),
                    size: Some(o.data.len() as i64),
                    e_tag: Some(ETag::Strong(o.etag.clone())),
                    last_modified: Some(o.last_modified.into()),
                    storage_class: Some("STANDARD".to_string().into()),
                    ..Default::default()
                }
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> = prefixes.iter().map(|p| CommonPrefix { prefix: Some(enc(p)) }).collect();
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(&prefix)),
            delimiter: delimiter.as_deref().map(enc),
            max_keys: Some(max_keys as i32),
            key_count: Some((contents.len() + common_prefixes.len()) as i32),
            is_truncated: Some(next.is_some()),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            start_after: input.start_after.as_deref().map(enc),
            encoding_type: input.encoding_type,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        let mut state = self.lock();
        bucket_ref(&state, &input.bucket)?;
        state.next_upload += 1;
        let upload_id = format!("drdrill-upload-{}", state.next_upload);
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            parts: BTreeMap::new(),
        };
        state.uploads.insert(upload_id.clone(), upload);
        let output = CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(s3_error!(InvalidArgument, "part number must be 1..=10000"));
        }
        self.upload_matches(&input.upload_id, &input.bucket, &input.key)?;
        let data = collect_body(input.body).await?;
        let etag = md5_hex(&[&data]);
        let mut state = self.lock();
        let upload = state
            .uploads
            .get_mut(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload, "upload {} aborted", input.upload_id))?;
        upload.parts.insert(input.part_number, (data, etag.clone()));
        let output = UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        self.upload_matches(&input.upload_id, &input.bucket, &input.key)?;
        let requested = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(MalformedXML, "CompleteMultipartUpload lists no parts"));
        }
        let mut state = self.lock();
        let upload = &state.uploads[&input.upload_id];
        let mut data = BytesMut::new();
        let mut digests = Vec::new();
        let mut previous = 0;
        for (i, part) in requested.iter().enumerate() {
            let number = part.part_number.unwrap_or_default();
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder, "parts must be in ascending order"));
            }
            previous = number;
            let Some((bytes, etag)) = upload.parts.get(&number) else {
                return Err(s3_error!(InvalidPart, "part {number} was not uploaded"));
            };
            if part.e_tag.as_ref().is_some_and(|e| e.value() != etag) {
                return Err(s3_error!(InvalidPart, "part {number}: ETag does not match"));
            }
            if i + 1 < requested.len() && bytes.len() < 5 * 1024 * 1024 {
                return Err(s3_error!(EntityTooSmall, "part {number} is smaller than 5 MiB"));
            }
            data.extend_from_slice(bytes);
            digests.extend((0..etag.len() / 2).map(|j| u8::from_str_radix(&etag[2 * j..2 * j + 2], 16)));
        }
        let digests: Vec<u8> = digests.into_iter().collect::<Result<_, _>>().unwrap_or_default();
        let etag = format!("{}-{}", md5_hex(&[&digests]), requested.len());
        state.uploads.remove(&input.upload_id);
        let object = StoredObject {
            data: data.freeze(),
            etag: etag.clone(),
            last_modified: now(),
        };
        bucket_mut(&mut state, &input.bucket)?.objects.insert(input.key.clone(), object);
        let output = CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn abort_multipart_upload(&self, req: S3Request<AbortMultipartUploadInput>) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.faults.check(&input.bucket, true)?;
        self.upload_matches(&input.upload_id, &input.bucket, &input.key)?;
        self.lock().uploads.remove(&input.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

impl MemoryBackend {
    fn upload_matches(&self, upload_id: &str, bucket: &str, key: &str) -> S3Result<()> {
        let state = self.lock();
        match state.uploads.get(upload_id) {
            Some(u) if u.bucket == bucket && u.key == key => Ok(()),
            _ => Err(s3_error!(NoSuchUpload, "no upload {upload_id} for {bucket}/{key}")),
        }
    }
}
