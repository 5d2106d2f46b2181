//! The object-store client against the embedded server, over real HTTP with SigV4.

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::*;
use crate::format::{BackupItem, encode_backup_metadata, encode_resource_list, read_backup_tarball, resource_list, write_backup_tarball};
use crate::layout::BackupFile;

fn creds() -> Credentials {
    Credentials::new("minio", "minio123")
}

async fn server() -> S3Server {
    S3Server::start(S3ServerConfig::new(creds())).await.expect("server starts")
}

async fn store_on(server: &S3Server, bucket: &str, prefix: &str) -> ObjectStore {
    let store = ObjectStore::new(&server.endpoint(), bucket, prefix, &creds()).unwrap();
    store.ensure_bucket().await.unwrap();
    store
}

/// Deterministic bytes that are not all alike, so a part out of place changes the content.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn ensure_bucket_creates_once() {
    let server = server().await;
    let store = ObjectStore::new(&server.endpoint(), "velero", "", &creds()).unwrap();
    assert!(!store.bucket_exists().await.unwrap());
    assert!(store.ensure_bucket().await.unwrap(), "first call creates");
    assert!(!store.ensure_bucket().await.unwrap(), "second call finds it");
    assert!(store.bucket_exists().await.unwrap());
    assert_eq!(server.bucket_names(), vec!["velero".to_string()]);
}

#[tokio::test]
async fn put_get_exists_delete_round_trip() {
    let server = server().await;
    let store = store_on(&server, "velero", "tkg").await;
    let key = store.layout().backup_metadata_key("b1");
    assert_eq!(key, "tkg/backups/b1/velero-backup.json");
    assert!(!store.exists(&key).await.unwrap());
    store.put(&key, Bytes::from_static(b"{\"kind\":\"Backup\"}")).await.unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"{\"kind\":\"Backup\"}"));
    assert_eq!(store.get_range(&key, 2, 4).await.unwrap(), Bytes::from_static(b"kind"));
    store.put("empty", Vec::new()).await.unwrap();
    assert!(store.get("empty").await.unwrap().is_empty());

    let missing = store.get("tkg/nope").await.unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchKey"), "{missing}");

    store.delete(&key).await.unwrap();
    assert!(!store.exists(&key).await.unwrap());
    store.delete(&key).await.expect("deleting a missing key succeeds");
    assert_eq!(server.object_keys("velero").unwrap(), vec!["empty".to_string()]);
}

#[tokio::test]
async fn listing_with_prefix_and_delimiter() {
    let server = server().await;
    let store = store_on(&server, "velero", "").await;
    let keys = ["a/b/1", "a/b/2", "a/c", "a/d/e/f", "a/with space+plus%", "ab", "b/x"];
    for key in keys {
        store.put(key, key.as_bytes().to_vec()).await.unwrap();
    }
    let all_a = store.list("a/").await.unwrap();
    assert_eq!(all_a, vec!["a/b/1", "a/b/2", "a/c", "a/d/e/f", "a/with space+plus%"]);
    assert_eq!(store.list("").await.unwrap().len(), keys.len());

    let (direct, prefixes) = store.list_delimited("a/", "/").await.unwrap();
    assert_eq!(direct, vec!["a/c", "a/with space+plus%"]);
    assert_eq!(prefixes, vec!["a/b/", "a/d/"]);

    let (top, top_prefixes) = store.list_delimited("", "/").await.unwrap();
    assert_eq!(top, vec!["ab"]);
    assert_eq!(top_prefixes, vec!["a/", "b/"]);

    // Pages of one entry, common prefixes included, give the same answer.
    let paged = store.list_paged("a/", Some("/"), 1).await.unwrap();
    assert_eq!(paged, (direct, prefixes));
    assert!(store.list("zzz/").await.unwrap().is_empty());
}

#[tokio::test]
async fn listing_pages_past_1000_keys() {
    let server = server().await;
    let store = store_on(&server, "velero", "").await;
    let mut expected: Vec<String> = (0..1234).map(|i| format!("many/{i:05}")).collect();
    expected.push("many/sub/x".to_string());
    futures::stream::iter(expected.clone())
        .for_each_concurrent(16, |key| {
            let store = store.clone();
            async move { store.put(&key, Bytes::from(key.clone())).await.unwrap() }
        })
        .await;
    let listed = store.list("many/").await.unwrap();
    assert_eq!(listed.len(), 1235, "a second page was fetched");
    assert_eq!(listed, expected);
    let (direct, prefixes) = store.list_delimited("many/", "/").await.unwrap();
    assert_eq!(direct.len(), 1234);
    assert_eq!(prefixes, vec!["many/sub/"]);
    assert_eq!(store.delete_prefix("many/").await.unwrap(), 1235);
    assert!(store.list("many/").await.unwrap().is_empty());
}

#[tokio::test]
async fn twelve_mib_goes_up_in_parts() {
    let server = server().await;
    let store = store_on(&server, "velero", "").await;
    let data = pattern(12 * 1024 * 1024);
    store.put("big.tar.gz", data.clone()).await.unwrap();
    let etag = server.object_etag("velero", "big.tar.gz").unwrap();
    assert!(etag.ends_with("-3"), "three 5 MiB-or-less parts, got ETag {etag}");
    let back = store.get("big.tar.gz").await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "content differs");
    let tail = store.get_range("big.tar.gz", 12 * 1024 * 1024 - 10, 10).await.unwrap();
    assert_eq!(&tail[..], &data[data.len() - 10..]);
    // Below the part size it is a single PUT.
    store.put("small", pattern(1024)).await.unwrap();
    assert!(!server.object_etag("velero", "small").unwrap().contains('-'));
}

#[tokio::test]
async fn wrong_secret_and_unknown_key_are_403_with_their_codes() {
    let server = server().await;
    store_on(&server, "velero", "").await;
    let wrong = Credentials::new("minio", "not-the-secret");
    let store = ObjectStore::new(&server.endpoint(), "velero", "", &wrong).unwrap();
    let err = store.put("k", b"v".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert_eq!(store.list("").await.unwrap_err().code(), Some("SignatureDoesNotMatch"));

    let unknown = Credentials::new("nobody", "minio123");
    let store = ObjectStore::new(&server.endpoint(), "velero", "", &unknown).unwrap();
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"), "{err}");
    // HEAD answers carry no body: the error still surfaces, not as "missing".
    assert!(store.exists("k").await.is_err());
    assert!(server.object_keys("velero").unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn region_minio_and_credentials_file_work() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials-velero");
    std::fs::write(&path, "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123").unwrap();
    let credentials = CredentialsFile::load(&path).unwrap().default_profile().unwrap();
    let store = ObjectStore::with_region(&server.endpoint(), "velero", "", &credentials, Some("minio")).unwrap();
    store.ensure_bucket().await.unwrap();
    store.put("k", b"v".to_vec()).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"v"));
}

#[tokio::test]
async fn velero_backup_written_by_layout_and_read_back() {
    let server = server().await;
    let store = store_on(&server, "tkg-mgmt", "velero/").await;
    let layout = store.layout().clone();
    let items = vec![
        BackupItem::new(
            "clusters.cluster.x-k8s.io",
            json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
                   "metadata": {"name": "wc-1", "namespace": "default"}}),
        )
        .unwrap(),
        BackupItem::new(
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .unwrap(),
    ];
    let tarball = write_backup_tarball(&items).unwrap();
    let backup = drdrill_apis::velero::Backup::new("daily-1", Default::default());
    let files: Vec<(BackupFile, Vec<u8>)> = vec![
        (BackupFile::Metadata, encode_backup_metadata(&backup).unwrap()),
        (BackupFile::Contents, tarball.clone()),
        (
            BackupFile::ResourceList,
            encode_resource_list(&resource_list(&items).unwrap()).unwrap(),
        ),
    ];
    for (file, bytes) in &files {
        store.put(&layout.backup_key("daily-1", *file), bytes.clone()).await.unwrap();
    }
    store.put("velero/not-velero/x", b"stray".to_vec()).await.unwrap();

    // Backup sync's view: common prefixes under backups/.
    let (_, prefixes) = store.list_delimited(&layout.backups_dir(), "/").await.unwrap();
    let names: Vec<String> = prefixes.iter().filter_map(|p| layout.backup_name_from_prefix(p)).collect();
    assert_eq!(names, vec!["daily-1"]);
    // Location validation's view: top-level folders under the prefix.
    let (_, top) = store.list_delimited(layout.root_prefix(), "/").await.unwrap();
    assert_eq!(layout.invalid_top_level_dirs(&top), vec!["not-velero"]);

    let keys = store.list(&layout.backup_dir("daily-1")).await.unwrap();
    let mut expected: Vec<String> = files.iter().map(|(f, _)| layout.backup_key("daily-1", *f)).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(keys.iter().all(|k| k.starts_with("velero/backups/daily-1/")), "{keys:?}");
    let back = store.get(&layout.backup_contents_key("daily-1")).await.unwrap();
    assert_eq!(back.as_ref(), tarball.as_slice());
    assert_eq!(read_backup_tarball(&back).unwrap(), items);
}

#[tokio::test]
async fn injected_faults() {
    let server = server().await;
    let store = store_on(&server, "velero", "").await;
    store.put("k", b"v".to_vec()).await.unwrap();

    server.faults().fail_next(2);
    for _ in 0..2 {
        let err = store.get("k").await.unwrap_err();
        assert_eq!(err.code(), Some("ServiceUnavailable"), "{err}");
    }
    assert_eq!(server.faults().pending_failures(), 0);
    assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"v"));

    server.faults().set_read_only("velero", true);
    let err = store.put("k2", b"v".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err}");
    assert!(store.delete("k").await.is_err());
    assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"v"), "reads still work");
    server.faults().set_read_only("velero", false);
    store.put("k2", b"v".to_vec()).await.unwrap();

    assert!(server.remove_bucket("velero"));
    let err = store.put("k3", b"v".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"), "{err}");
}

#[tokio::test]
async fn dropping_the_guard_stops_the_server() {
    let server = server().await;
    let addr = server.addr();
    let store = store_on(&server, "velero", "").await;
    store.put("k", b"v".to_vec()).await.unwrap();
    drop(server);
    tokio::task::yield_now().await;
    // Both new connections and the client's pooled one are gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening");
    assert!(store.get("k").await.is_err());
}

#[tokio::test]
async fn server_needs_a_key() {
    let config = S3ServerConfig {
        credentials: Vec::new(),
        buckets: Vec::new(),
    };
    assert!(matches!(S3Server::start(config).await, Err(ServerError::NoCredentials)));
    let preset = S3Server::start(S3ServerConfig::new(creds()).with_bucket("pre")).await.unwrap();
    let store = ObjectStore::new(&preset.endpoint(), "pre", "", &creds()).unwrap();
    assert!(store.bucket_exists().await.unwrap());
}
