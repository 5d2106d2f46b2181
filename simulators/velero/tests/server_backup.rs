//! The backup side of the Velero server against a real embedded API server and S3: location
//! validation, the runbook's backup with the management-cluster plugin, and failures.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;
use drdrill_apis::capi::Cluster;
use drdrill_apis::velero::{BackupPhase, BackupStorageLocationPhase};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use drdrill_velero_sim::format::{decode_backup_metadata, decode_json_gz, decode_resource_list, gunzip};
use drdrill_velero_sim::server::backup::BackupController;
use drdrill_velero_sim::server::bsl::BackupStorageLocationController;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

fn bsl_phase(location: &drdrill_apis::velero::BackupStorageLocation) -> Option<BackupStorageLocationPhase> {
    location.status.as_ref().and_then(|s| s.phase)
}

fn bsl_message(location: &drdrill_apis::velero::BackupStorageLocation) -> String {
    location.status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default()
}

#[tokio::test]
async fn runbook_backup_writes_velero_layout_with_related_objects_and_a_paused_cluster() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    let expected = create_workload_cluster(&mgmt, "default", "tkg-vc-antrea").await;
    // The management cluster's own objects, in tkg-system, must stay out.
    create_workload_cluster(&mgmt, "tkg-system", "tkg-mgmt").await;
    // Unrelated objects in the workload cluster's namespace stay out too.
    mgmt.create::<k8s_openapi::api::core::v1::Secret>(Some("default"), json!({"metadata": {"name": "unrelated"}}))
        .await;

    BackupStorageLocationController::new(mgmt.ctx())
        .reconcile_all()
        .await
        .expect("bsl pass");
    let location = mgmt.location().await;
    assert_eq!(
        bsl_phase(&location),
        Some(BackupStorageLocationPhase::Available),
        "{:?}",
        location.status
    );
    assert_eq!(
        location
            .status
            .as_ref()
            .and_then(|s| s.last_validation_time.clone())
            .map(|t| k8s_time(t.0)),
        Some(START.to_string())
    );

    mgmt.create_backup("my-backup", runbook_spec()).await;
    clock.advance(Duration::from_secs(5));
    let report = BackupController::new(mgmt.ctx()).reconcile_all().await.expect("backup pass");
    assert_eq!(report.updated, ["Backup/my-backup"]);

    let backup = mgmt.backup("my-backup").await;
    let status = backup.status.clone().expect("status");
    assert_eq!(status.phase, Some(BackupPhase::Completed), "{status:?}");
    assert_eq!((status.version, status.format_version.as_deref()), (1, Some("1.1.0")));
    assert_eq!((status.errors, status.warnings), (0, 0));
    let started = clock.now();
    assert_eq!(status.start_timestamp.map(|t| t.0), Some(started));
    assert_eq!(status.completion_timestamp.map(|t| t.0), Some(started));
    assert_eq!(
        k8s_time(status.expiration.expect("expiration").0),
        "2023-01-06T17:10:47Z",
        "start + 720h"
    );
    let progress = status.progress.expect("progress");
    assert_eq!(
        (progress.total_items, progress.items_backed_up),
        (expected.len() as i32, expected.len() as i32)
    );
    assert_eq!(
        backup.labels().get("velero.io/storage-location").map(String::as_str),
        Some("default")
    );
    assert_eq!(backup.spec.storage_location.as_deref(), Some("default"));
    assert_eq!(backup.spec.ttl.as_deref(), Some("720h0m0s"));

    // Exactly Velero's files, in the bucket's root layout.
    let mut keys = s3.object_keys(BUCKET).expect("bucket");
    keys.sort();
    let mut want: Vec<String> = [
        "my-backup-csi-volumesnapshotclasses.json.gz",
        "my-backup-csi-volumesnapshotcontents.json.gz",
        "my-backup-csi-volumesnapshots.json.gz",
        "my-backup-itemoperations.json.gz",
        "my-backup-logs.gz",
        "my-backup-podvolumebackups.json.gz",
        "my-backup-resource-list.json.gz",
        "my-backup-results.gz",
        "my-backup-volumesnapshots.json.gz",
        "my-backup.tar.gz",
        "velero-backup.json",
    ]
    .iter()
    .map(|f| format!("backups/my-backup/{f}"))
    .collect();
    want.sort();
    assert_eq!(keys, want);

    // The tarball, unpacked by plain tar.
    let bucket = store(&s3);
    let dir = tempfile::tempdir().expect("tempdir");
    let tarball = dir.path().join("my-backup.tar.gz");
    std::fs::write(&tarball, bucket.get("backups/my-backup/my-backup.tar.gz").await.expect("tarball")).expect("write");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&out)
        .output()
        .expect("run tar");
    assert!(tar.status.success(), "tar: {}", String::from_utf8_lossy(&tar.stderr));
    let files = files_under(&out);
    let mut want_files = vec!["metadata/version".to_string()];
    for entry in &expected {
        let (gr, name) = entry.split_once('/').expect("gr/name");
        let version = if gr == "secrets" { "v1" } else { "v1beta1" };
        want_files.push(format!("resources/{gr}/namespaces/default/{name}.json"));
        want_files.push(format!("resources/{gr}/{version}-preferredversion/namespaces/default/{name}.json"));
    }
    want_files.sort();
    assert_eq!(
        files, want_files,
        "exactly the related objects, each with its preferred-version copy"
    );
    assert!(
        files
            .iter()
            .all(|f| !f.contains("tkg-system") && !f.contains("tkg-mgmt") && !f.contains("unrelated"))
    );
    assert_eq!(std::fs::read_to_string(out.join("metadata/version")).expect("version"), "1.1.0\n");

    let read = |path: &str| -> Value { serde_json::from_slice(&std::fs::read(out.join(path)).expect(path)).expect("json") };
    let cluster = read("resources/clusters.cluster.x-k8s.io/namespaces/default/tkg-vc-antrea.json");
    assert_eq!(cluster["spec"]["paused"], json!(true), "the plugin pauses the backed-up cluster");
    assert_eq!(cluster["apiVersion"], json!("cluster.x-k8s.io/v1beta1"));
    assert_eq!(
        read("resources/clusters.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/default/tkg-vc-antrea.json"),
        cluster
    );
    let live = mgmt.api::<Cluster>("default").get("tkg-vc-antrea").await.expect("cluster");
    assert!(!live.spec.paused, "the live Cluster is not paused");
    let secret = read("resources/secrets/namespaces/default/tkg-vc-antrea-kubeconfig.json");
    assert_eq!(
        (secret["apiVersion"].as_str(), secret["kind"].as_str()),
        (Some("v1"), Some("Secret"))
    );

    // Side files.
    let list = decode_resource_list(
        &bucket.get("backups/my-backup/my-backup-resource-list.json.gz").await.expect("list"),
        "list",
    )
    .expect("resource list");
    assert_eq!(list["cluster.x-k8s.io/v1beta1/Cluster"], ["default/tkg-vc-antrea"]);
    assert_eq!(
        list["v1/Secret"],
        [
            "default/tkg-vc-antrea-ca",
            "default/tkg-vc-antrea-etcd",
            "default/tkg-vc-antrea-kubeconfig",
            "default/tkg-vc-antrea-sa"
        ]
    );
    assert_eq!(list.values().map(Vec::len).sum::<usize>(), expected.len());
    let results: Value = decode_json_gz(
        &bucket.get("backups/my-backup/my-backup-results.gz").await.expect("results"),
        "results",
    )
    .expect("results json");
    assert_eq!(results, json!({"errors": {}, "warnings": {}}));
    for empty in [
        "podvolumebackups.json.gz",
        "volumesnapshots.json.gz",
        "csi-volumesnapshots.json.gz",
        "itemoperations.json.gz",
    ] {
        let bytes = bucket.get(&format!("backups/my-backup/my-backup-{empty}")).await.expect(empty);
        assert_eq!(gunzip(&bytes, empty).expect("gunzip"), b"null\n", "{empty}");
    }
    let log = String::from_utf8(gunzip(&bucket.get("backups/my-backup/my-backup-logs.gz").await.expect("log"), "log").expect("gz"))
        .expect("utf8");
    assert!(
        log.contains("level=info msg=\"Backing up item\" backup=velero/my-backup name=tkg-vc-antrea namespace=default"),
        "{log}"
    );
    assert!(!log.contains("level=warning") && !log.contains("level=error"), "{log}");
    let metadata =
        decode_backup_metadata(&bucket.get("backups/my-backup/velero-backup.json").await.expect("metadata"), "json").expect("backup json");
    assert_eq!(metadata.status.as_ref().and_then(|s| s.phase), Some(BackupPhase::Completed));
    assert_eq!(metadata.spec.included_resources, Some(vec!["cluster.cluster.x-k8s.io".to_string()]));

    // A second pass has nothing to do.
    let again = BackupController::new(mgmt.ctx()).reconcile_all().await.expect("second pass");
    assert!(!again.changed(), "{again:?}");
}

#[tokio::test]
async fn without_the_plugin_only_the_clusters_are_backed_up_and_nothing_is_paused() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    create_workload_cluster(&mgmt, "default", "wc").await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    mgmt.create_backup("plain", runbook_spec()).await;
    BackupController::new(mgmt.ctx())
        .with_actions(Vec::new())
        .reconcile_all()
        .await
        .expect("backup");
    let backup = mgmt.backup("plain").await;
    assert_eq!(phase(&backup), Some(BackupPhase::Completed));
    let bytes = store(&s3).get("backups/plain/plain.tar.gz").await.expect("tarball");
    let items = drdrill_velero_sim::read_backup_tarball(&bytes).expect("tarball reads");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].group_resource, "clusters.cluster.x-k8s.io");
    assert!(items[0].object["spec"]["paused"].is_null());
}

#[tokio::test]
async fn filters_select_namespaces_resources_and_labels() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    create_workload_cluster(&mgmt, "default", "wc").await;
    create_workload_cluster(&mgmt, "prod", "wc-prod").await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    // Only prod, secrets by kind name, and a label selector.
    mgmt.create_backup(
        "prod-secrets",
        json!({"includedNamespaces": ["prod"], "includedResources": ["Secret"],
            "labelSelector": {"matchExpressions": [{"key": "absent", "operator": "DoesNotExist"}]}}),
    )
    .await;
    // All namespaces, everything but secrets and clusters: cluster-scoped resources come along.
    mgmt.create_backup("no-secrets", json!({"excludedResources": ["secrets", "clusters.cluster.x-k8s.io"]}))
        .await;
    BackupController::new(mgmt.ctx()).reconcile_all().await.expect("backups");

    let bucket = store(&s3);
    let items = |name: &str| {
        let bucket = bucket.clone();
        let key = format!("backups/{name}/{name}.tar.gz");
        async move { drdrill_velero_sim::read_backup_tarball(&bucket.get(&key).await.expect("tarball")).expect("reads") }
    };
    let prod: BTreeSet<String> = items("prod-secrets")
        .await
        .iter()
        .map(|i| format!("{}/{}/{}", i.group_resource, i.namespace.clone().unwrap_or_default(), i.name))
        .collect();
    let want: BTreeSet<String> = ["ca", "etcd", "kubeconfig", "sa"]
        .iter()
        .map(|s| format!("secrets/prod/wc-prod-{s}"))
        .collect();
    assert_eq!(prod, want);

    let all = items("no-secrets").await;
    assert!(
        all.iter()
            .all(|i| i.group_resource != "secrets" && i.group_resource != "clusters.cluster.x-k8s.io")
    );
    assert!(
        all.iter().any(|i| i.group_resource == "namespaces" && i.name == "prod"),
        "cluster-scoped resources of a full backup"
    );
    assert!(
        all.iter()
            .any(|i| i.group_resource == "customresourcedefinitions.apiextensions.k8s.io")
    );
    assert!(all.iter().any(|i| i.group_resource == "backupstoragelocations.velero.io"));
    assert!(
        all.iter()
            .any(|i| i.group_resource == "machines.cluster.x-k8s.io" && i.namespace.as_deref() == Some("prod"))
    );
}

#[tokio::test]
async fn wrong_credentials_make_the_location_unavailable_and_the_backup_fail_validation() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start_with_credentials("tkg-mgmt", &clock, &s3, "nobody", "minio123").await;
    let bsl = BackupStorageLocationController::new(mgmt.ctx());
    bsl.reconcile_all().await.expect("bsl pass");
    let location = mgmt.location().await;
    assert_eq!(bsl_phase(&location), Some(BackupStorageLocationPhase::Unavailable));
    let message = bsl_message(&location);
    assert!(
        message.starts_with("BackupStorageLocation \"default\" is unavailable: rpc error: code = Unknown desc = InvalidAccessKeyId"),
        "{message}"
    );

    mgmt.create_backup("my-backup", runbook_spec()).await;
    BackupController::new(mgmt.ctx()).reconcile_all().await.expect("backup pass");
    let backup = mgmt.backup("my-backup").await;
    assert_eq!(phase(&backup), Some(BackupPhase::FailedValidation));
    let errors = backup.status.as_ref().and_then(|s| s.validation_errors.clone()).unwrap_or_default();
    assert_eq!(
        errors,
        ["backup can't be created because BackupStorageLocation default is in Unavailable status."]
    );
    assert_eq!(s3.object_keys(BUCKET).expect("bucket"), Vec::<String>::new(), "nothing written");

    // Right key, wrong secret: the signature does not match.
    let secret = json!({"stringData": {"cloud": "[default]\naws_access_key_id=minio\naws_secret_access_key=wrong\n"}});
    mgmt.api::<k8s_openapi::api::core::v1::Secret>(VELERO_NS)
        .patch("cloud-credentials", &PatchParams::default(), &Patch::Merge(secret))
        .await
        .expect("patch secret");
    bsl.reconcile_all().await.expect("not due yet");
    assert!(
        bsl_message(&mgmt.location().await).contains("InvalidAccessKeyId"),
        "validated once a minute"
    );
    clock.advance(Duration::from_secs(60));
    bsl.reconcile_all().await.expect("due");
    let message = bsl_message(&mgmt.location().await);
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");

    // Fixed credentials: Available again, message cleared.
    let secret = json!({"stringData": {"cloud": "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123\n"}});
    mgmt.api::<k8s_openapi::api::core::v1::Secret>(VELERO_NS)
        .patch("cloud-credentials", &PatchParams::default(), &Patch::Merge(secret))
        .await
        .expect("patch secret");
    clock.advance(Duration::from_secs(60));
    bsl.reconcile_all().await.expect("due");
    let location = mgmt.location().await;
    assert_eq!(bsl_phase(&location), Some(BackupStorageLocationPhase::Available));
    assert_eq!(location.status.as_ref().and_then(|s| s.message.clone()), None);
}

#[tokio::test]
async fn missing_buckets_foreign_folders_and_bad_frequencies_are_reported() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    let bsl = BackupStorageLocationController::new(mgmt.ctx());
    store(&s3).put("photos/cat.jpg", b"meow".to_vec()).await.expect("put");
    bsl.reconcile_all().await.expect("pass");
    let message = bsl_message(&mgmt.location().await);
    assert_eq!(
        message,
        "BackupStorageLocation \"default\" is unavailable: Backup store contains invalid top-level directories: [photos]"
    );

    store(&s3).delete("photos/cat.jpg").await.expect("delete");
    assert!(s3.remove_bucket(BUCKET));
    let locations = mgmt.api::<drdrill_apis::velero::BackupStorageLocation>(VELERO_NS);
    locations
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"validationFrequency": "10s"}})),
        )
        .await
        .expect("patch");
    clock.advance(Duration::from_secs(10));
    bsl.reconcile_all().await.expect("pass");
    let message = bsl_message(&mgmt.location().await);
    assert!(message.contains("NoSuchBucket"), "{message}");

    locations
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"validationFrequency": "1 day"}})),
        )
        .await
        .expect("patch");
    clock.advance(Duration::from_secs(10));
    bsl.reconcile_all().await.expect("pass");
    let message = bsl_message(&mgmt.location().await);
    assert!(
        message.contains("spec.validationFrequency: invalid duration \"1 day\""),
        "{message}"
    );

    // 0s: validated once, never again.
    locations
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"validationFrequency": "0s"}})),
        )
        .await
        .expect("patch");
    let before = mgmt.location().await.status.and_then(|s| s.last_validation_time);
    clock.advance(Duration::from_secs(3600));
    let report = bsl.reconcile_all().await.expect("pass");
    assert!(!report.changed());
    assert_eq!(mgmt.location().await.status.and_then(|s| s.last_validation_time), before);
}

#[tokio::test]
async fn validation_errors_name_every_problem() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    mgmt.create_backup(
        "bad",
        json!({"storageLocation": "elsewhere", "includedResources": ["*", "secrets"], "excludedResources": ["secrets"],
            "excludedNamespaces": ["Not_A_Namespace"], "ttl": "forever"}),
    )
    .await;
    BackupController::new(mgmt.ctx()).reconcile_all().await.expect("pass");
    let backup = mgmt.backup("bad").await;
    assert_eq!(phase(&backup), Some(BackupPhase::FailedValidation));
    let errors = backup.status.and_then(|s| s.validation_errors).unwrap_or_default();
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(has("spec.ttl: invalid duration \"forever\""), "{errors:#?}");
    assert!(has("the 'elsewhere' wasn't found"), "{errors:#?}");
    assert!(
        has("Invalid included/excluded resource lists: includes list must either contain '*' only"),
        "{errors:#?}"
    );
    assert!(
        has("excludes list cannot contain an item in the includes list: secrets"),
        "{errors:#?}"
    );
    assert!(
        has("Invalid included/excluded namespace lists: invalid namespace \"Not_A_Namespace\""),
        "{errors:#?}"
    );
    assert_eq!(errors.len(), 5, "{errors:#?}");
}

#[tokio::test]
async fn a_failed_upload_fails_the_backup_and_leaves_no_velero_backup_json() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    create_workload_cluster(&mgmt, "default", "wc").await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    let controller = BackupController::new(mgmt.ctx());

    // Writes refused: the log is best effort, velero-backup.json is not.
    s3.faults().set_read_only(BUCKET, true);
    mgmt.create_backup("read-only", runbook_spec()).await;
    controller.reconcile_all().await.expect("pass");
    let backup = mgmt.backup("read-only").await;
    assert_eq!(phase(&backup), Some(BackupPhase::Failed));
    let reason = backup.status.and_then(|s| s.failure_reason).unwrap_or_default();
    assert!(
        reason.contains("backups/read-only/velero-backup.json") && reason.contains("AccessDenied"),
        "{reason}"
    );
    assert_eq!(s3.object_keys(BUCKET).expect("bucket"), Vec::<String>::new());
    s3.faults().set_read_only(BUCKET, false);

    // The store fails the first request (the existence check).
    s3.faults().fail_next(1);
    mgmt.create_backup("flaky", runbook_spec()).await;
    controller.reconcile_all().await.expect("pass");
    let backup = mgmt.backup("flaky").await;
    assert_eq!(phase(&backup), Some(BackupPhase::Failed));
    let reason = backup.status.and_then(|s| s.failure_reason).unwrap_or_default();
    // A HEAD answer has no body, so the client sees the bare HTTP status.
    assert!(
        reason.contains("error checking if backup already exists") && reason.contains("503"),
        "{reason}"
    );

    // The bucket vanished after the location was validated.
    assert!(s3.remove_bucket(BUCKET));
    mgmt.create_backup("gone", runbook_spec()).await;
    controller.reconcile_all().await.expect("pass");
    let backup = mgmt.backup("gone").await;
    assert_eq!(phase(&backup), Some(BackupPhase::Failed));
    assert!(
        backup
            .status
            .and_then(|s| s.failure_reason)
            .unwrap_or_default()
            .contains("NoSuchBucket")
    );
    assert!(s3.object_keys(BUCKET).is_none());
}

#[tokio::test]
async fn an_existing_backup_in_the_bucket_or_an_interrupted_one_fails() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = Mgmt::start("tkg-mgmt", &clock, &s3).await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    store(&s3)
        .put("backups/taken/velero-backup.json", b"{}".to_vec())
        .await
        .expect("put");
    mgmt.create_backup("taken", runbook_spec()).await;
    let interrupted = mgmt.create_backup("interrupted", runbook_spec()).await;
    mgmt.api::<drdrill_apis::velero::Backup>(VELERO_NS)
        .patch(
            &interrupted.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "InProgress"}})),
        )
        .await
        .expect("patch");
    BackupController::new(mgmt.ctx()).reconcile_all().await.expect("pass");
    let taken = mgmt.backup("taken").await;
    assert_eq!(phase(&taken), Some(BackupPhase::Failed));
    assert_eq!(
        taken.status.and_then(|s| s.failure_reason).as_deref(),
        Some("backup already exists in object storage")
    );
    let interrupted = mgmt.backup("interrupted").await;
    assert_eq!(phase(&interrupted), Some(BackupPhase::Failed));
    assert!(
        interrupted
            .status
            .and_then(|s| s.failure_reason)
            .unwrap_or_default()
            .contains("during the server starting")
    );
}
