//! The `velero` benchmark: many ConfigMaps backed up and restored through the Velero server's
//! controllers against embedded API servers and the embedded S3 store, next to the floor — the
//! same objects through the backup tarball format alone, in memory.
//!
//! Backup: N ConfigMaps in namespace `bench` of a source cluster, a Backup of that namespace
//! (`--include-namespaces bench --include-resources configmaps`), one pass of the
//! [`BackupController`] (list, plugin actions, tarball, upload) until it is `Completed`. Restore:
//! a fresh API server with Velero installed against the same bucket, a pass of the backup sync
//! controller (the Backup appears, as on a rebuilt management cluster; not timed), then a
//! Restore and one pass of the [`RestoreController`] (download, untar, create every object)
//! until it is `Completed`. Floors: [`write_backup_tarball`] of the same items and
//! [`read_backup_tarball`] of its bytes.

use std::sync::Arc;
use std::time::Instant;

use drdrill_apis::velero::{
    Backup, BackupPhase, BackupSpec, BackupStorageLocation, BackupStorageLocationSpec, ObjectStorageLocation, Restore, RestorePhase,
    RestoreSpec,
};
use drdrill_kube_sim::clock::VirtualClock;
use drdrill_kube_sim::resources::ResKey;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_velero_sim::format::{BackupItem, read_backup_tarball, write_backup_tarball};
use drdrill_velero_sim::s3::{Credentials, S3Server, S3ServerConfig};
use drdrill_velero_sim::server::backup::BackupController;
use drdrill_velero_sim::server::bsl::BackupStorageLocationController;
use drdrill_velero_sim::server::sync::BackupSyncController;
use drdrill_velero_sim::server::{CREDENTIALS_KEY, CREDENTIALS_SECRET, RestoreController, ServerContext};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::{BenchError, Measurement, build_name, measurement_table, median_ms};
use crate::world::{BUCKET, EPOCH, S3_ACCESS_KEY, S3_SECRET_KEY, admin_context, client_for};

/// Velero's namespace in both clusters.
const VELERO_NS: &str = "velero";
/// The namespace holding the backed-up ConfigMaps.
const BENCH_NS: &str = "bench";

/// Sizes of the Velero benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct VeleroInput {
    /// ConfigMaps backed up and restored.
    pub objects: usize,
    /// Timed repetitions of each floor (the median is reported); the backup and the restore
    /// run once each.
    pub floor_repetitions: usize,
}

impl Default for VeleroInput {
    fn default() -> Self {
        VeleroInput {
            objects: 10_000,
            floor_repetitions: 5,
        }
    }
}

/// Everything the Velero benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct VeleroReport {
    /// Sizes used.
    pub input: VeleroInput,
    /// Whether this was an optimized build.
    pub release_build: bool,
    /// Size of the backup tarball (bytes).
    pub tarball_bytes: usize,
    /// Items the Backup reported backed up.
    pub items_backed_up: i64,
    /// Items the Restore reported restored.
    pub items_restored: i64,
    /// The backup sync pass that made the Backup appear in the fresh cluster (ms, not part of
    /// the restore figure).
    pub sync_ms: f64,
    /// Backup and restore, each against its floor.
    pub measurements: Vec<Measurement>,
}

impl VeleroReport {
    /// The printed table.
    pub fn table(&self) -> String {
        measurement_table(&self.measurements)
    }

    /// The body of the `velero` block of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        format!(
            "```\n{}```\nBuild: {}. {} ConfigMaps, {:.1} MiB tarball; backup and restore one run each, floors the median of {} runs. Raw data: `benchmarks/velero.json`.",
            self.table(),
            build_name(self.release_build),
            self.input.objects,
            self.tarball_bytes as f64 / 1_048_576.0,
            self.input.floor_repetitions,
        )
    }
}

fn kube(what: &'static str) -> impl FnOnce(kube::Error) -> BenchError {
    move |source| BenchError::Kube { what, source }
}

fn velero(what: &'static str) -> impl FnOnce(drdrill_velero_sim::server::VeleroError) -> BenchError {
    move |source| BenchError::Velero { what, source }
}

fn config_map(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": format!("bench-cm-{i:05}"),
            "namespace": BENCH_NS,
            "labels": {"app": "bench", "shard": format!("s{}", i % 10)},
            "annotations": {"owner": "team-a"},
        },
        "data": {
            "config.yaml": format!("replicas: {}\nzone: {}\nfeature-flags: [a, b, c]\n", i % 7, ["a", "b", "c"][i % 3]),
            "index": i.to_string(),
        },
    })
}

/// A management cluster with Velero installed against `s3`: CRDs, Velero's namespace, the
/// credentials Secret and the `default` location, validated by one location pass.
async fn velero_cluster(name: &str, clock: &VirtualClock, s3: &S3Server) -> Result<(ApiServer, Client, ServerContext), BenchError> {
    let server = ApiServer::start(ServerOptions {
        cluster_name: name.into(),
        clock: Arc::new(clock.clone()),
        ..ServerOptions::default()
    })
    .await?;
    let client = client_for(&server, &admin_context(name))
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in drdrill_apis::all_crds().into_iter().chain(drdrill_apis::velero::crds()) {
        crds.create(&PostParams::default(), &crd).await.map_err(kube("install CRD"))?;
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(VELERO_NS.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(kube("create namespace velero"))?;
    let credentials = Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(CREDENTIALS_SECRET.into()),
            namespace: Some(VELERO_NS.into()),
            ..Default::default()
        },
        data: Some(
            [(
                CREDENTIALS_KEY.to_string(),
                ByteString(credentials.to_file_contents("default").into_bytes()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), VELERO_NS)
        .create(&PostParams::default(), &secret)
        .await
        .map_err(kube("create the credentials Secret"))?;
    let mut bsl = BackupStorageLocation::new(
        "default",
        BackupStorageLocationSpec {
            provider: "aws".into(),
            object_storage: ObjectStorageLocation {
                bucket: BUCKET.into(),
                ..Default::default()
            },
            config: [
                ("region".to_string(), "minio".to_string()),
                ("s3ForcePathStyle".to_string(), "true".to_string()),
                ("s3Url".to_string(), s3.endpoint()),
            ]
            .into(),
            default: true,
            ..Default::default()
        },
    );
    bsl.metadata.namespace = Some(VELERO_NS.into());
    Api::<BackupStorageLocation>::namespaced(client.clone(), VELERO_NS)
        .create(&PostParams::default(), &bsl)
        .await
        .map_err(kube("create BackupStorageLocation default"))?;
    let ctx = ServerContext::new(client.clone(), VELERO_NS, Arc::new(clock.clone()));
    BackupStorageLocationController::new(ctx.clone())
        .reconcile_all()
        .await
        .map_err(velero("validate BackupStorageLocation default"))?;
    Ok((server, client, ctx))
}

/// Runs the benchmark.
pub async fn run(input: &VeleroInput, progress: &mut dyn FnMut(&str)) -> Result<VeleroReport, BenchError> {
    if input.objects == 0 || input.floor_repetitions == 0 {
        return Err(BenchError::Setup(format!(
            "the Velero benchmark needs at least 1 object and 1 repetition, got {} and {}",
            input.objects, input.floor_repetitions
        )));
    }
    let clock = VirtualClock::starting_at(
        EPOCH
            .parse()
            .map_err(|e| BenchError::Setup(format!("world::EPOCH {EPOCH:?}: {e}")))?,
    );
    let s3 = S3Server::start(S3ServerConfig::new(Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY)).with_bucket(BUCKET))
        .await
        .map_err(|e| BenchError::Setup(format!("the embedded S3 store did not start: {e}")))?;
    let (source, source_client, source_ctx) = velero_cluster("bench-src", &clock, &s3).await?;

    progress(&format!("storing {} ConfigMaps in namespace {BENCH_NS}", input.objects));
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BENCH_NS}});
    let mut stored = Vec::with_capacity(input.objects);
    {
        let mut state = source.state();
        state
            .create(&ResKey::new("", "namespaces"), ns)
            .map_err(|e| BenchError::Setup(format!("namespace {BENCH_NS}: {e}")))?;
        let key = ResKey::new("", "configmaps");
        for i in 0..input.objects {
            let obj = state
                .create(&key, config_map(i))
                .map_err(|e| BenchError::Setup(format!("ConfigMap {i}: {e}")))?;
            stored.push(obj);
        }
    }

    progress("backup: one BackupController pass");
    let backup = {
        let mut b = Backup::new(
            "bench-backup",
            BackupSpec {
                included_namespaces: Some(vec![BENCH_NS.into()]),
                included_resources: Some(vec!["configmaps".into()]),
                ..Default::default()
            },
        );
        b.metadata.namespace = Some(VELERO_NS.into());
        b
    };
    let backups: Api<Backup> = Api::namespaced(source_client.clone(), VELERO_NS);
    backups
        .create(&PostParams::default(), &backup)
        .await
        .map_err(kube("create Backup"))?;
    let start = Instant::now();
    BackupController::new(source_ctx)
        .reconcile_all()
        .await
        .map_err(velero("backup pass"))?;
    let backup_time = start.elapsed();
    let done = backups.get("bench-backup").await.map_err(kube("get Backup"))?;
    let status = done.status.unwrap_or_default();
    let items_backed_up = status.progress.as_ref().map_or(0, |p| i64::from(p.items_backed_up));
    if status.phase != Some(BackupPhase::Completed) || items_backed_up != input.objects as i64 {
        return Err(BenchError::Outcome(format!(
            "the Backup ended {:?} with {items_backed_up} items (want Completed with {}); failure reason: {:?}",
            status.phase, input.objects, status.failure_reason
        )));
    }
    drop(source);

    progress("restore: a fresh cluster syncs the Backup, then one RestoreController pass");
    let (_target, target_client, target_ctx) = velero_cluster("bench-dst", &clock, &s3).await?;
    let start = Instant::now();
    BackupSyncController::new(target_ctx.clone())
        .reconcile_all()
        .await
        .map_err(velero("backup sync pass"))?;
    let sync_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut restore = Restore::new(
        "bench-restore",
        RestoreSpec {
            backup_name: Some("bench-backup".into()),
            ..Default::default()
        },
    );
    restore.metadata.namespace = Some(VELERO_NS.into());
    let restores: Api<Restore> = Api::namespaced(target_client.clone(), VELERO_NS);
    restores
        .create(&PostParams::default(), &restore)
        .await
        .map_err(kube("create Restore"))?;
    let start = Instant::now();
    RestoreController::new(target_ctx)
        .reconcile_all()
        .await
        .map_err(velero("restore pass"))?;
    let restore_time = start.elapsed();
    let status = restores
        .get("bench-restore")
        .await
        .map_err(kube("get Restore"))?
        .status
        .unwrap_or_default();
    let items_restored = status.progress.as_ref().map_or(0, |p| i64::from(p.items_restored));
    let restored = Api::<ConfigMap>::namespaced(target_client, BENCH_NS)
        .list(&ListParams::default())
        .await
        .map_err(kube("list restored ConfigMaps"))?
        .items
        .iter()
        .filter(|c| c.name_any().starts_with("bench-cm-"))
        .count();
    if status.phase != Some(RestorePhase::Completed) || restored != input.objects {
        return Err(BenchError::Outcome(format!(
            "the Restore ended {:?} with {restored} ConfigMaps in {BENCH_NS} (want Completed with {}); failure reason: {:?}",
            status.phase, input.objects, status.failure_reason
        )));
    }

    progress(&format!(
        "floor: tar+gzip and untar of the same items, {} runs each",
        input.floor_repetitions
    ));
    let items: Vec<BackupItem> = stored
        .iter()
        .map(|o| BackupItem::new("configmaps", o.as_ref().clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| BenchError::Setup(format!("backup item: {e}")))?;
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    let mut tarball_bytes = 0;
    for _ in 0..input.floor_repetitions {
        let start = Instant::now();
        let bytes = write_backup_tarball(&items).map_err(|e| BenchError::Setup(format!("floor tarball: {e}")))?;
        writes.push(start.elapsed());
        let start = Instant::now();
        let back = read_backup_tarball(&bytes).map_err(|e| BenchError::Setup(format!("floor untar: {e}")))?;
        reads.push(start.elapsed());
        if back.len() != items.len() {
            return Err(BenchError::Outcome(format!(
                "the floor tarball read back {} items of {}",
                back.len(),
                items.len()
            )));
        }
        tarball_bytes = bytes.len();
    }
    let (write_floor, read_floor) = (median_ms(writes), median_ms(reads));
    let backup_ms = backup_time.as_secs_f64() * 1000.0;
    let restore_ms = restore_time.as_secs_f64() * 1000.0;
    let n = input.objects;
    let measurements = vec![
        Measurement {
            name: format!("backup {n} ConfigMaps"),
            median_ms: backup_ms,
            floor_ms: Some(write_floor),
            ratio: Some(backup_ms / write_floor.max(1e-9)),
            target_ratio: None,
            detail: format!(
                "{:.0} items/s; BackupController pass to Completed (list, plugin, tarball, upload to S3); floor = write_backup_tarball in memory",
                n as f64 / backup_time.as_secs_f64().max(1e-9)
            ),
        },
        Measurement {
            name: format!("restore {n} ConfigMaps"),
            median_ms: restore_ms,
            floor_ms: Some(read_floor),
            ratio: Some(restore_ms / read_floor.max(1e-9)),
            target_ratio: None,
            detail: format!(
                "{:.0} items/s; RestoreController pass to Completed into a fresh API server (download, untar, create each); floor = read_backup_tarball",
                n as f64 / restore_time.as_secs_f64().max(1e-9)
            ),
        },
    ];
    Ok(VeleroReport {
        input: input.clone(),
        release_build: super::release_build(),
        tarball_bytes,
        items_backed_up,
        items_restored,
        sync_ms,
        measurements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backup_and_restore_are_measured_end_to_end_at_small_sizes() {
        let input = VeleroInput {
            objects: 25,
            floor_repetitions: 1,
        };
        let report = run(&input, &mut |_| {}).await.expect("bench runs");
        assert_eq!(report.items_backed_up, 25);
        // The restore also counts the namespace it creates; the 25 ConfigMaps themselves are
        // checked inside `run`.
        assert!(report.items_restored >= 25, "{}", report.items_restored);
        assert_eq!(report.measurements.len(), 2);
        assert!(report.measurements.iter().all(|m| m.median_ms > 0.0 && m.ratio.is_some()));
        assert!(report.tarball_bytes > 0);
        assert!(report.markdown().contains("25 ConfigMaps"));
        let err = run(&VeleroInput { objects: 0, ..input }, &mut |_| {})
            .await
            .expect_err("no objects")
            .to_string();
        assert!(err.contains("at least 1 object"), "{err}");
    }
}
