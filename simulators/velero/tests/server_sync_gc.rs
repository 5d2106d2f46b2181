//! Backup sync into a fresh management cluster, TTL garbage collection through
//! DeleteBackupRequests, and Velero's own pod.

mod common;

use std::time::Duration;

use common::*;
use drdrill_apis::velero::{Backup, BackupPhase, BackupStorageLocation, DeleteBackupRequest, DeleteBackupRequestPhase, Restore};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use drdrill_velero_sim::server::backup::BackupController;
use drdrill_velero_sim::server::bsl::BackupStorageLocationController;
use drdrill_velero_sim::server::deployment::VeleroPodRunner;
use drdrill_velero_sim::server::gc::{DeleteBackupRequestController, GcController};
use drdrill_velero_sim::server::sync::BackupSyncController;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

/// A management cluster with one Completed backup `name` of a workload cluster.
async fn backed_up(clock: &drdrill_kube_sim::clock::VirtualClock, s3: &drdrill_velero_sim::s3::S3Server, names: &[(&str, &str)]) -> Mgmt {
    let mgmt = Mgmt::start("old-mgmt", clock, s3).await;
    create_workload_cluster(&mgmt, "default", "tkg-vc-antrea").await;
    BackupStorageLocationController::new(mgmt.ctx()).reconcile_all().await.expect("bsl");
    for (name, ttl) in names {
        let mut spec = runbook_spec();
        spec["ttl"] = json!(ttl);
        mgmt.create_backup(name, spec).await;
    }
    BackupController::new(mgmt.ctx()).reconcile_all().await.expect("backups");
    for (name, _) in names {
        assert_eq!(phase(&mgmt.backup(name).await), Some(BackupPhase::Completed));
    }
    mgmt
}

#[tokio::test]
async fn a_fresh_management_cluster_lists_the_old_backups_and_skips_broken_ones() {
    let clock = clock();
    let s3 = s3().await;
    let old = backed_up(&clock, &s3, &[("my-backup", "720h0m0s"), ("older", "336h0m0s")]).await;
    let original = old.backup("my-backup").await;
    // A backup whose velero-backup.json is corrupt, and one that never got one.
    let bucket = store(&s3);
    bucket
        .put("backups/broken/velero-backup.json", b"{\"apiVersion\": \"velero.io/v1\", ".to_vec())
        .await
        .expect("put");
    bucket.put("backups/broken/broken.tar.gz", b"x".to_vec()).await.expect("put");
    bucket.put("backups/half/half.tar.gz", b"x".to_vec()).await.expect("put");

    clock.advance(Duration::from_secs(3600));
    let fresh = Mgmt::start("new-mgmt", &clock, &s3).await;
    let sync = BackupSyncController::new(fresh.ctx());
    let report = sync.reconcile_all().await.expect("sync before validation");
    assert!(!report.changed(), "an unvalidated location is not synced");
    BackupStorageLocationController::new(fresh.ctx())
        .reconcile_all()
        .await
        .expect("bsl");
    let report = sync.reconcile_all().await.expect("sync");
    assert_eq!(report.created, ["Backup/my-backup", "Backup/older"]);

    let synced = fresh.backup("my-backup").await;
    assert_eq!(synced.namespace().as_deref(), Some(VELERO_NS));
    assert_eq!(
        synced.labels().get("velero.io/storage-location").map(String::as_str),
        Some("default")
    );
    assert_eq!(synced.spec.storage_location.as_deref(), Some("default"));
    assert_eq!(synced.status, original.status, "status kept as the bucket holds it");
    assert_ne!(synced.uid(), original.uid());
    let backups = fresh.api::<Backup>(VELERO_NS).list(&ListParams::default()).await.expect("list");
    let mut names: Vec<String> = backups.items.iter().map(|b| b.name_any()).collect();
    names.sort();
    assert_eq!(names, ["my-backup", "older"], "broken and half are skipped");
    let location = fresh.location().await;
    assert_eq!(
        location.status.and_then(|s| s.last_synced_time).map(|t| k8s_time(t.0)),
        Some(k8s_time(clock.now()))
    );

    // Not due again within the period; after it, a backup whose files are gone is removed.
    bucket.delete_prefix("backups/older/").await.expect("delete");
    assert!(!sync.reconcile_all().await.expect("sync").changed());
    clock.advance(Duration::from_secs(60));
    let report = sync.reconcile_all().await.expect("sync");
    assert_eq!(report.deleted, ["Backup/older"]);
    assert!(fresh.api::<Backup>(VELERO_NS).get_opt("older").await.expect("get").is_none());
    assert!(fresh.api::<Backup>(VELERO_NS).get_opt("my-backup").await.expect("get").is_some());
}

#[tokio::test]
async fn expired_backups_are_deleted_through_delete_backup_requests() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = backed_up(&clock, &s3, &[("short", "1h0m0s"), ("long", "720h0m0s")]).await;
    let short = mgmt.backup("short").await;
    // A restore of the short backup, with its files.
    mgmt.create::<Restore>(
        Some(VELERO_NS),
        json!({"metadata": {"name": "short-restore"}, "spec": {"backupName": "short"}}),
    )
    .await;
    let bucket = store(&s3);
    bucket
        .put("restores/short-restore/restore-short-restore-logs.gz", b"x".to_vec())
        .await
        .expect("put");

    let gc = GcController::new(mgmt.ctx());
    let deletions = DeleteBackupRequestController::new(mgmt.ctx());
    assert!(!gc.reconcile_all().await.expect("gc").changed(), "nothing expired yet");

    clock.advance(Duration::from_secs(2 * 3600));
    let report = gc.reconcile_all().await.expect("gc");
    assert_eq!(report.created.len(), 1, "{report:?}");
    let requests = mgmt
        .api::<DeleteBackupRequest>(VELERO_NS)
        .list(&ListParams::default())
        .await
        .expect("list")
        .items;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.spec.backup_name, "short");
    assert!(request.name_any().starts_with("short-"), "{}", request.name_any());
    assert_eq!(request.labels().get("velero.io/backup-name").map(String::as_str), Some("short"));
    assert_eq!(request.labels().get("velero.io/backup-uid"), short.uid().as_ref());

    // Pending: no second request, even when the GC looks again an hour later.
    clock.advance(Duration::from_secs(3600));
    assert!(gc.reconcile_all().await.expect("gc").created.is_empty());

    let report = deletions.reconcile_all().await.expect("deletions");
    assert!(report.deleted.contains(&"Backup/short".to_string()), "{report:?}");
    assert!(report.deleted.contains(&"Restore/short-restore".to_string()), "{report:?}");
    let request = mgmt
        .api::<DeleteBackupRequest>(VELERO_NS)
        .get(&request.name_any())
        .await
        .expect("request");
    let status = request.status.clone().expect("status");
    assert_eq!(status.phase, Some(DeleteBackupRequestPhase::Processed));
    assert!(status.errors.is_empty(), "{:?}", status.errors);
    let keys = s3.object_keys(BUCKET).expect("bucket");
    assert!(
        keys.iter()
            .all(|k| !k.starts_with("backups/short/") && !k.starts_with("restores/short-restore/")),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.starts_with("backups/long/")), "the other backup stays");
    assert!(mgmt.api::<Backup>(VELERO_NS).get_opt("short").await.expect("get").is_none());
    assert!(
        mgmt.api::<Restore>(VELERO_NS)
            .get_opt("short-restore")
            .await
            .expect("get")
            .is_none()
    );
    assert!(mgmt.api::<Backup>(VELERO_NS).get_opt("long").await.expect("get").is_some());

    // Processed requests go a day later.
    clock.advance(Duration::from_secs(25 * 3600));
    let report = deletions.reconcile_all().await.expect("deletions");
    assert_eq!(report.deleted, [format!("DeleteBackupRequest/{}", request.name_any())]);
}

#[tokio::test]
async fn a_read_only_location_refuses_deletion_and_is_not_garbage_collected() {
    let clock = clock();
    let s3 = s3().await;
    let mgmt = backed_up(&clock, &s3, &[("kept", "1h0m0s")]).await;
    mgmt.api::<BackupStorageLocation>(VELERO_NS)
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"accessMode": "ReadOnly"}})),
        )
        .await
        .expect("patch");
    clock.advance(Duration::from_secs(2 * 3600));
    let report = GcController::new(mgmt.ctx()).reconcile_all().await.expect("gc");
    assert!(report.created.is_empty());
    assert_eq!(
        mgmt.backup("kept").await.labels().get("velero.io/gc-failure").map(String::as_str),
        Some("BSLReadOnly")
    );

    // `velero backup delete` creates the request itself.
    mgmt.create::<DeleteBackupRequest>(
        Some(VELERO_NS),
        json!({"metadata": {"name": "kept-delete"}, "spec": {"backupName": "kept"}}),
    )
    .await;
    mgmt.create::<DeleteBackupRequest>(
        Some(VELERO_NS),
        json!({"metadata": {"name": "ghost-delete"}, "spec": {"backupName": "ghost"}}),
    )
    .await;
    DeleteBackupRequestController::new(mgmt.ctx())
        .reconcile_all()
        .await
        .expect("deletions");
    let status = |name: &str| {
        let api = mgmt.api::<DeleteBackupRequest>(VELERO_NS);
        let name = name.to_string();
        async move { api.get(&name).await.expect("request").status.expect("status") }
    };
    let kept = status("kept-delete").await;
    assert_eq!(kept.phase, Some(DeleteBackupRequestPhase::Processed));
    assert_eq!(
        kept.errors,
        ["cannot delete backup because backup storage location default is currently in read-only mode"]
    );
    assert_eq!(status("ghost-delete").await.errors, ["backup not found"]);
    assert!(mgmt.api::<Backup>(VELERO_NS).get_opt("kept").await.expect("get").is_some());
    assert!(
        s3.object_keys(BUCKET)
            .expect("bucket")
            .iter()
            .any(|k| k == "backups/kept/velero-backup.json")
    );
}

#[tokio::test]
async fn the_velero_deployment_gets_a_running_pod_with_deterministic_names() {
    let clock = clock();
    let s3 = s3().await;
    let mut pod_names = Vec::new();
    for cluster in ["one", "two"] {
        let mgmt = Mgmt::start(cluster, &clock, &s3).await;
        let runner = VeleroPodRunner::new(mgmt.ctx(), 7);
        assert!(!runner.reconcile_all().await.expect("no deployment").changed());
        mgmt.create::<Deployment>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "velero", "labels": {"component": "velero"}},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"deploy": "velero"}},
                    "template": {"metadata": {"labels": {"deploy": "velero", "component": "velero"}},
                        "spec": {"serviceAccountName": "velero", "containers": [{"name": "velero",
                            "image": "projects.registry.vmware.com/tkg/velero/velero:v1.9.5_vmware.1",
                            "command": ["/velero"], "args": ["server"]}]}}}}),
        )
        .await;
        let report = runner.reconcile_all().await.expect("runner");
        assert_eq!(report.created.len(), 2, "{report:?}");

        let sets = mgmt
            .api::<ReplicaSet>(VELERO_NS)
            .list(&ListParams::default())
            .await
            .expect("rs")
            .items;
        assert_eq!(sets.len(), 1);
        let rs = &sets[0];
        let hash = rs.name_any().strip_prefix("velero-").expect("velero-<hash>").to_string();
        assert_eq!(hash.len(), 10, "{hash}");
        assert_eq!(rs.owner_references()[0].name, "velero");
        let pods = mgmt.api::<Pod>(VELERO_NS).list(&ListParams::default()).await.expect("pods").items;
        assert_eq!(pods.len(), 1);
        let pod = &pods[0];
        let suffix = pod
            .name_any()
            .strip_prefix(&format!("velero-{hash}-"))
            .expect("velero-<hash>-<suffix>")
            .to_string();
        assert_eq!(suffix.len(), 5);
        assert!(suffix.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{suffix}");
        assert_eq!(pod.owner_references()[0].name, rs.name_any());
        assert_eq!(pod.labels().get("pod-template-hash"), Some(&hash));
        let status = pod.status.clone().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.start_time.map(|t| t.0), Some(clock.now()));
        let containers = status.container_statuses.expect("container statuses");
        assert_eq!((containers.len(), containers[0].ready, containers[0].restart_count), (1, true, 0));
        assert!(
            status
                .conditions
                .expect("conditions")
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
        let deployment = mgmt.api::<Deployment>(VELERO_NS).get("velero").await.expect("deployment");
        let ds = deployment.status.expect("deployment status");
        assert_eq!((ds.replicas, ds.ready_replicas, ds.available_replicas), (Some(1), Some(1), Some(1)));

        clock.advance(Duration::from_secs(60));
        assert!(
            !runner.reconcile_all().await.expect("steady").changed(),
            "a second pass changes nothing"
        );
        pod_names.push(pod.name_any());
    }
    assert_eq!(pod_names[0], pod_names[1], "same template and seed, same names");
}
