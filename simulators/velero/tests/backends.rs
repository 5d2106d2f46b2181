//! One round trip of a Velero backup's files — write them with the format and layout code, list
//! them the ways Velero does, read them back byte for byte, delete the prefix — run against every
//! object-storage backend: the embedded server, an "external" endpoint (an embedded server
//! reached only through its URL and a credentials file on disk), and a real S3 server in a
//! Docker container (the SeaweedFS image `ci/build-s3-image.sh` builds).
//!
//! Container tests need a Docker daemon and the image. Without either they print
//! `SKIPPED: <reason>` and pass, except under `CI=true`, where they fail with the reason.

use std::time::Instant;

use drdrill_apis::velero::{Backup, BackupPhase, BackupProgress, BackupSpec, BackupStatus};
use drdrill_velero_sim::format::{
    BackupItem, decode_backup_metadata, decode_json_gz, encode_backup_metadata, encode_json_gz, encode_resource_list, gunzip, gzip,
    read_backup_tarball, resource_list, write_backup_tarball_at,
};
use drdrill_velero_sim::layout::BackupFile;
use drdrill_velero_sim::s3::backends::{self, BUILD_IMAGE_SCRIPT};
use drdrill_velero_sim::s3::{
    BackendError, ContainerOptions, Credentials, ExternalOptions, ObjectStore, RunningStore, S3Backend, S3Server, S3ServerConfig,
};
use serde_json::{Value, json};

const BUCKET: &str = "velero-drill";
const BACKUP: &str = "mgmt-nightly-20221207171042";

fn creds() -> Credentials {
    Credentials::new("minio", "minio123")
}

/// The objects a management-cluster backup holds.
fn items() -> Vec<BackupItem> {
    let item = |gr: &str, object: Value| BackupItem::new(gr, object).expect("valid item");
    vec![
        item(
            "clusters.cluster.x-k8s.io",
            json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
                   "metadata": {"name": "wc-1", "namespace": "default", "uid": "3f1c"},
                   "spec": {"topology": {"class": "tkg-vsphere-default-v1.0.0", "version": "v1.24.10+vmware.1"}}}),
        ),
        item(
            "machinedeployments.cluster.x-k8s.io",
            json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                   "metadata": {"name": "wc-1-md-0", "namespace": "default"}, "spec": {"replicas": 3}}),
        ),
        item(
            "secrets",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wc-1-kubeconfig", "namespace": "default"},
                   "data": {"value": "YXBpVmVyc2lvbjogdjEK"}}),
        ),
        item(
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        ),
    ]
}

/// Deterministic bytes that do not repeat, so a misplaced multipart part changes the content.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Every file Velero v1.18 writes for a finished backup, in its upload order.
fn backup_files(items: &[BackupItem]) -> Vec<(BackupFile, Vec<u8>)> {
    let mut backup = Backup::new(
        BACKUP,
        BackupSpec {
            storage_location: Some("default".into()),
            included_namespaces: Some(vec!["*".into()]),
            ..Default::default()
        },
    );
    backup.metadata.namespace = Some("velero".into());
    backup.status = Some(BackupStatus {
        version: 1,
        format_version: Some("1.1.0".into()),
        phase: Some(BackupPhase::Completed),
        progress: Some(BackupProgress {
            total_items: items.len() as i32,
            items_backed_up: items.len() as i32,
        }),
        ..Default::default()
    });
    BackupFile::WRITTEN
        .into_iter()
        .map(|file| {
            let bytes = match file {
                BackupFile::Log => gzip(b"time=\"2022-12-07T17:10:42Z\" level=info msg=\"Backup completed\"\n").expect("gzip"),
                BackupFile::Metadata => encode_backup_metadata(&backup).expect("metadata"),
                BackupFile::Contents => write_backup_tarball_at(items, 1_670_433_042).expect("tarball"),
                BackupFile::ResourceList => encode_resource_list(&resource_list(items).expect("resource list")).expect("encode"),
                BackupFile::Results => encode_json_gz(&json!({"errors": {}, "warnings": {}}), "results").expect("results"),
                other => encode_json_gz(&Value::Null, other.suffix()).expect("empty list"),
            };
            (file, bytes)
        })
        .collect()
}

/// The round trip every backend must pass, through `store` (whose prefix must be non-empty).
async fn round_trip(store: &ObjectStore) {
    let layout = store.layout().clone();
    let root = layout.root_prefix().to_string();
    assert!(!root.is_empty(), "the round trip needs a prefix of its own");
    let items = items();
    let files = backup_files(&items);

    // A key beside the prefix (same leading characters) that deleting the prefix must keep.
    let neighbour = format!("{}-neighbour/keep.txt", root.trim_end_matches('/'));
    store.put(&neighbour, b"not ours".to_vec()).await.expect("put neighbour");

    for (file, bytes) in &files {
        store
            .put(&layout.backup_key(BACKUP, *file), bytes.clone())
            .await
            .unwrap_or_else(|e| panic!("put {file:?}: {e}"));
    }
    // A kopia repository blob big enough to go up as a multipart upload (5 MiB parts).
    let blob_key = format!("{}velero/p0a1b2c3d4e5f6", layout.kopia_dir());
    let blob = pattern(11 * 1024 * 1024 + 17);
    store.put(&blob_key, blob.clone()).await.expect("put multipart blob");

    // Listing: every key under the prefix, sorted, and nothing else.
    let mut expected: Vec<String> = files.iter().map(|(f, _)| layout.backup_key(BACKUP, *f)).collect();
    expected.push(blob_key.clone());
    expected.sort();
    assert_eq!(store.list(&root).await.expect("list"), expected);
    // Backup sync's view: one backup under backups/.
    let (_, backups) = store.list_delimited(&layout.backups_dir(), "/").await.expect("list backups");
    let names: Vec<String> = backups.iter().filter_map(|p| layout.backup_name_from_prefix(p)).collect();
    assert_eq!(names, vec![BACKUP.to_string()]);
    // Location validation's view: only Velero's top-level folders under the prefix.
    let (keys, top) = store.list_delimited(&root, "/").await.expect("list top level");
    assert!(keys.is_empty(), "no loose keys at the top: {keys:?}");
    assert_eq!(top, vec![layout.backups_dir(), layout.kopia_dir()]);
    assert!(layout.invalid_top_level_dirs(&top).is_empty(), "{top:?}");
    // Paging: one key per page still lists them all.
    let (paged, _) = store.list_paged(&layout.backup_dir(BACKUP), None, 1).await.expect("paged list");
    assert_eq!(paged.len(), files.len());

    // Reading back: byte for byte, and decodable by Velero's format.
    for (file, bytes) in &files {
        let key = layout.backup_key(BACKUP, *file);
        let back = store.get(&key).await.unwrap_or_else(|e| panic!("get {key}: {e}"));
        assert!(
            back.as_ref() == bytes.as_slice(),
            "{key}: {} bytes back for {} written",
            back.len(),
            bytes.len()
        );
    }
    let metadata = store.get(&layout.backup_metadata_key(BACKUP)).await.expect("metadata");
    let backup = decode_backup_metadata(&metadata, "velero-backup.json").expect("decodes");
    assert_eq!(backup.metadata.name.as_deref(), Some(BACKUP));
    let contents = store.get(&layout.backup_contents_key(BACKUP)).await.expect("contents");
    assert_eq!(read_backup_tarball(&contents).expect("tarball"), items);
    let log = store.get(&layout.backup_log_key(BACKUP)).await.expect("log");
    assert!(
        String::from_utf8(gunzip(&log, "log").expect("gunzip"))
            .unwrap()
            .contains("Backup completed")
    );
    let results: Value = decode_json_gz(
        &store.get(&layout.backup_key(BACKUP, BackupFile::Results)).await.unwrap(),
        "results",
    )
    .unwrap();
    assert_eq!(results, json!({"errors": {}, "warnings": {}}));
    let back = store.get(&blob_key).await.expect("get blob");
    assert!(back.as_ref() == blob.as_slice(), "the multipart blob came back different");
    let range = store
        .get_range(&blob_key, 5 * 1024 * 1024 - 3, 10)
        .await
        .expect("range across a part boundary");
    assert_eq!(range.as_ref(), &blob[5 * 1024 * 1024 - 3..5 * 1024 * 1024 + 7]);

    // Deleting the prefix removes exactly what is under it.
    assert_eq!(store.delete_prefix(&root).await.expect("delete prefix"), expected.len());
    assert!(store.list(&root).await.expect("list after delete").is_empty());
    assert!(!store.exists(&layout.backup_metadata_key(BACKUP)).await.expect("exists"));
    assert_eq!(store.get(&neighbour).await.expect("neighbour kept").as_ref(), b"not ours");
    store.delete(&neighbour).await.expect("delete neighbour");
}

#[tokio::test]
async fn embedded_round_trip() {
    let running = backends::start(S3Backend::Embedded, BUCKET, &creds())
        .await
        .expect("embedded backend")
        .with_prefix("tkg/mgmt");
    assert!(running.endpoint().starts_with("http://127.0.0.1:"), "{}", running.endpoint());
    assert_eq!((running.bucket(), running.prefix()), (BUCKET, "tkg/mgmt"));
    assert_eq!(
        running.credentials_file_contents(),
        "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123\n"
    );
    let server = running.embedded_server().expect("the embedded server");
    assert_eq!(server.bucket_names(), vec![BUCKET.to_string()]);
    round_trip(&running.store().expect("store")).await;

    // Dropping the running store stops the server.
    let endpoint = running.endpoint().to_string();
    let addr = server.addr();
    drop(running);
    tokio::task::yield_now().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "{endpoint} still listens");
}

/// A "remote" S3 endpoint: an embedded server known to the test only by its URL afterwards.
async fn remote() -> S3Server {
    S3Server::start(S3ServerConfig::new(Credentials::new("AKIAREMOTE", "remote-secret-123")).with_bucket(BUCKET))
        .await
        .expect("remote server")
}

fn credentials_file(dir: &tempfile::TempDir, name: &str, key: &str, secret: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    // The runbook's file, as it writes it: no trailing newline.
    std::fs::write(&path, format!("[default]\naws_access_key_id={key}\naws_secret_access_key={secret}")).expect("write credentials");
    path
}

#[tokio::test]
async fn external_round_trip_with_a_credentials_file() {
    let remote = remote().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = credentials_file(&dir, "credentials-velero", "AKIAREMOTE", "remote-secret-123");
    let options = ExternalOptions::new(format!("{}/", remote.endpoint()))
        .with_prefix("/mgmt/")
        .with_credentials_file(&file)
        .with_region("minio");
    // The credentials given to `start` are not the remote's: the file's must be the ones used.
    let running = backends::start(S3Backend::External(options), BUCKET, &creds())
        .await
        .expect("external backend");
    assert_eq!(running.endpoint(), remote.endpoint(), "the trailing / is dropped");
    assert_eq!(running.credentials(), &Credentials::new("AKIAREMOTE", "remote-secret-123"));
    assert_eq!((running.prefix(), running.region()), ("/mgmt/", Some("minio")));
    assert!(running.embedded_server().is_none() && running.container_id().is_none());

    let store = running.store().expect("store");
    store
        .put("mgmt/backups/probe/velero-backup.json", b"{}".to_vec())
        .await
        .expect("put");
    assert_eq!(
        remote.object_keys(BUCKET).expect("bucket"),
        vec!["mgmt/backups/probe/velero-backup.json".to_string()],
        "the object landed on the remote server"
    );
    store.delete("mgmt/backups/probe/velero-backup.json").await.expect("delete");
    round_trip(&store).await;
    assert_eq!(remote.object_keys(BUCKET).expect("bucket"), Vec::<String>::new());

    // Dropping an external store leaves the remote as it was.
    drop(running);
    assert!(store.bucket_exists().await.expect("remote still answers"));
}

#[tokio::test]
async fn external_errors_name_endpoint_bucket_and_credentials() {
    let remote = remote().await;
    let endpoint = remote.endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let start = |file: std::path::PathBuf, bucket: &'static str| {
        let options = ExternalOptions::new(endpoint.clone()).with_credentials_file(file);
        async move { backends::start(S3Backend::External(options), bucket, &creds()).await.unwrap_err() }
    };

    let wrong_secret = credentials_file(&dir, "wrong-secret", "AKIAREMOTE", "not-the-secret");
    let err = start(wrong_secret.clone(), BUCKET).await;
    let BackendError::AccessDenied { code, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(code, "SignatureDoesNotMatch");
    let text = err.to_string();
    for part in [
        endpoint.as_str(),
        BUCKET,
        "AKIAREMOTE",
        wrong_secret.to_str().unwrap(),
        "SignatureDoesNotMatch",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(!text.contains("not-the-secret"), "the secret leaked: {text}");

    let wrong_key = credentials_file(&dir, "wrong-key", "AKIAOTHER", "remote-secret-123");
    let err = start(wrong_key, BUCKET).await;
    assert!(
        matches!(&err, BackendError::AccessDenied { code, .. } if code == "InvalidAccessKeyId"),
        "{err}"
    );

    let good = credentials_file(&dir, "good", "AKIAREMOTE", "remote-secret-123");
    let err = start(good.clone(), "no-such-bucket").await;
    assert!(matches!(err, BackendError::NoSuchBucket { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("bucket no-such-bucket does not exist on S3 endpoint {endpoint}; create it first (Velero does not create buckets)")
    );

    let broken = dir.path().join("broken");
    std::fs::write(&broken, "[default]\naws_access_key_id AKIAREMOTE\n").unwrap();
    let err = start(broken.clone(), BUCKET).await;
    assert!(matches!(err, BackendError::Credentials { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("credentials file {}: line 2:", broken.display())),
        "{err}"
    );
    let err = start(dir.path().join("missing"), BUCKET).await;
    assert!(err.to_string().contains("cannot read credentials file"), "{err}");
    let options = ExternalOptions::new(endpoint.clone())
        .with_credentials_file(&good)
        .with_profile("backup");
    let err = backends::start(S3Backend::External(options), BUCKET, &creds()).await.unwrap_err();
    assert!(err.to_string().contains("profile [backup] not found"), "{err}");

    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let options = ExternalOptions::new(format!("http://{closed}")).with_credentials_file(&good);
    let err = backends::start(S3Backend::External(options), BUCKET, &creds()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("S3 endpoint http://{closed} (bucket {BUCKET}) is not reachable")),
        "{err}"
    );

    let options = ExternalOptions::new("minio.example.com:9000");
    let err = backends::start(S3Backend::External(options), BUCKET, &creds()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("\"minio.example.com:9000\": expected an http:// or https:// URL"),
        "{err}"
    );
    let err = backends::start(S3Backend::Embedded, "Bad_Bucket", &creds()).await.unwrap_err();
    assert!(err.to_string().contains("bucket \"Bad_Bucket\""), "{err}");
}

/// The container test rule: a missing daemon or image fails under `CI=true`, and is a printed
/// skip elsewhere. Returns `None` when the test should stop there.
fn container_or_skip(result: Result<RunningStore, BackendError>) -> Option<RunningStore> {
    match result {
        Ok(running) => Some(running),
        Err(err @ (BackendError::DockerUnavailable { .. } | BackendError::ImageMissing { .. })) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and the container backend cannot run: {err}");
            }
            println!("SKIPPED: {err}");
            None
        }
        Err(err) => panic!("container backend: {err}"),
    }
}

/// The SeaweedFS image by default; `DRDRILL_S3_FLAVOUR` / `DRDRILL_S3_IMAGE` point the test
/// at another (e.g. the official MinIO image where a registry is reachable).
fn container_options() -> ContainerOptions {
    ContainerOptions::seaweedfs().with_env_overrides().expect("container overrides")
}

#[tokio::test]
async fn container_round_trip() {
    let options = container_options();
    let descriptor = options.descriptor();
    let started = Instant::now();
    let Some(running) = container_or_skip(backends::start(S3Backend::Container(options), BUCKET, &creds()).await) else {
        return;
    };
    println!(
        "{descriptor}: first good S3 call {:?} after the container was requested ({:?} in all, with the Docker checks)",
        running.startup_time(),
        started.elapsed()
    );
    let container_id = running.container_id().expect("a container").to_string();
    assert!(running.endpoint().starts_with("http://"), "{}", running.endpoint());
    let running = running.with_prefix("tkg");
    round_trip(&running.store().expect("store")).await;

    // A real server's answer to a wrong secret and an unknown key.
    let err = running
        .store_with(&Credentials::new("minio", "not-minio123"))
        .unwrap()
        .put("tkg/x", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    let err = running
        .store_with(&Credentials::new("nobody", "minio123"))
        .unwrap()
        .get("tkg/x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"), "{err}");

    // The same container as an external endpoint, through a credentials file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = credentials_file(&dir, "credentials-velero", "minio", "minio123");
    let external = ExternalOptions::new(running.endpoint())
        .with_credentials_file(&file)
        .with_prefix("ext");
    let as_external = backends::start(S3Backend::External(external), BUCKET, &Credentials::new("unused", "unused-secret"))
        .await
        .expect("the container as an external endpoint");
    round_trip(&as_external.store().expect("store")).await;
    drop(as_external);

    // Stopping removes the container.
    let endpoint = running.endpoint().to_string();
    running.stop().await.expect("stop");
    let docker = testcontainers::core::client::docker_client_instance().await.expect("docker");
    let gone = docker.inspect_container(&container_id, None).await;
    assert!(gone.is_err(), "container {container_id} ({endpoint}) still exists after stop");
}

#[tokio::test]
async fn container_image_missing_says_how_to_build_it() {
    let options = ContainerOptions::seaweedfs().with_image("drdrill/s3-seaweedfs", "no-such-tag");
    match backends::start(S3Backend::Container(options), BUCKET, &creds()).await {
        Err(err @ BackendError::ImageMissing { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("drdrill/s3-seaweedfs:no-such-tag") && text.contains(BUILD_IMAGE_SCRIPT),
                "{text}"
            );
        }
        // No daemon: this test's point (the image check) cannot be made.
        other => {
            if container_or_skip(other).is_some() {
                panic!("a container started from an image that does not exist");
            }
        }
    }
}

#[tokio::test]
async fn a_failed_pull_says_what_to_do() {
    // The MinIO flavour pulls what is missing; a name no registry has cannot be pulled, whether a
    // registry is reachable or not.
    let options = ContainerOptions::minio().with_image("drdrill/no-such-s3-image", "never");
    match backends::start(S3Backend::Container(options), BUCKET, &creds()).await {
        Err(err @ BackendError::ImagePull { .. }) => {
            let text = err.to_string();
            println!("as reported: {text}");
            for part in ["drdrill/no-such-s3-image:never", "DRDRILL_S3_IMAGE", BUILD_IMAGE_SCRIPT] {
                assert!(text.contains(part), "{part:?} missing from: {text}");
            }
        }
        other => {
            if container_or_skip(other).is_some() {
                panic!("a container started from an image that no registry has");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_removes_the_container() {
    let Some(running) = container_or_skip(backends::start(S3Backend::Container(container_options()), BUCKET, &creds()).await) else {
        return;
    };
    let container_id = running.container_id().expect("a container").to_string();
    let store = running.store().expect("store");
    store.put("probe", b"x".to_vec()).await.expect("put");
    drop(running);
    let docker = testcontainers::core::client::docker_client_instance().await.expect("docker");
    assert!(
        docker.inspect_container(&container_id, None).await.is_err(),
        "container {container_id} still exists after the drop"
    );
    assert!(store.get("probe").await.is_err(), "the server still answers");
}
