//! The world the restore and schedule tests share: an embedded API server with the Cluster
//! API and Velero CRDs, Velero's namespace with the `default` location (Available) and its
//! credentials Secret, an embedded S3 server with bucket `mgmt`, and one virtual clock.
//! Backups are written straight into the bucket with the crate's format code.

#![allow(dead_code)]

use std::sync::Arc;

use drdrill_apis::velero::{
    Backup, BackupPhase, BackupSpec, BackupStatus, BackupStorageLocation, BackupStorageLocationPhase, BackupStorageLocationSpec,
    ObjectStorageLocation, Restore, RestorePhase, RestoreSpec,
};
use drdrill_kube_sim::clock::{Clock, VirtualClock};
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_velero_sim::format::{BackupItem, decode_json_gz, encode_backup_metadata, write_backup_tarball};
use drdrill_velero_sim::s3::{Credentials, ObjectStore, S3Server, S3ServerConfig};
use drdrill_velero_sim::server::{CREDENTIALS_KEY, CREDENTIALS_SECRET, ServerContext};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

/// Velero's namespace.
pub const VELERO_NS: &str = "velero";
/// The bucket.
pub const BUCKET: &str = "mgmt";

/// One test's world.
pub struct Env {
    pub server: ApiServer,
    pub client: Client,
    pub s3: S3Server,
    pub store: ObjectStore,
    pub clock: VirtualClock,
    pub ctx: ServerContext,
}

/// A kube-rs client of an embedded API server.
pub async fn api_server(name: &str, clock: &VirtualClock) -> (ApiServer, Client) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: name.into(),
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .expect("api server");
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml(&format!("{name}-admin@{name}"))).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    (server, Client::try_from(config).expect("client"))
}

impl Env {
    /// A fresh management cluster with Velero installed against a fresh bucket.
    pub async fn new() -> Env {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let (server, client) = api_server("tkg-mgmt", &clock).await;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in drdrill_apis::all_crds().into_iter().chain(drdrill_apis::velero::crds()) {
            crds.create(&PostParams::default(), &crd).await.expect("install CRD");
        }
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": VELERO_NS}})).expect("namespace");
        namespaces.create(&PostParams::default(), &ns).await.expect("velero namespace");

        let credentials = Credentials::new("minio", "minio123");
        let s3 = S3Server::start(S3ServerConfig::new(credentials.clone()).with_bucket(BUCKET))
            .await
            .expect("s3 server");
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
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
            .expect("credentials secret");
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
        let bsls: Api<BackupStorageLocation> = Api::namespaced(client.clone(), VELERO_NS);
        bsls.create(&PostParams::default(), &bsl).await.expect("bsl");
        let status = json!({"status": {"phase": BackupStorageLocationPhase::Available, "lastValidationTime": Time(clock.now())}});
        bsls.patch_status("default", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("bsl available");
        let store = ObjectStore::with_region(&s3.endpoint(), BUCKET, "", &credentials, Some("minio")).expect("store");
        let ctx = ServerContext::new(client.clone(), VELERO_NS, Arc::new(clock.clone()));
        Env {
            server,
            client,
            s3,
            store,
            clock,
            ctx,
        }
    }

    /// Writes a Completed backup of `items` to the bucket and creates its Backup object.
    pub async fn put_backup(&self, name: &str, items: &[BackupItem]) -> Backup {
        self.put_backup_with(name, items, BackupPhase::Completed, &[]).await
    }

    /// Writes a backup in `phase`, labelled `labels`, to the bucket and the cluster.
    pub async fn put_backup_with(&self, name: &str, items: &[BackupItem], phase: BackupPhase, labels: &[(&str, &str)]) -> Backup {
        let layout = self.store.layout();
        let tarball = write_backup_tarball(items).expect("tarball");
        self.store
            .put(&layout.backup_contents_key(name), tarball)
            .await
            .expect("put tarball");
        let mut backup = Backup::new(
            name,
            BackupSpec {
                storage_location: Some("default".into()),
                ..Default::default()
            },
        );
        backup.metadata.namespace = Some(VELERO_NS.into());
        backup.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        backup.status = Some(BackupStatus {
            version: 1,
            format_version: Some("1.1.0".into()),
            phase: Some(phase),
            start_timestamp: Some(Time(self.clock.now())),
            completion_timestamp: Some(Time(self.clock.now())),
            ..Default::default()
        });
        let metadata = encode_backup_metadata(&backup).expect("metadata");
        self.store
            .put(&layout.backup_metadata_key(name), metadata)
            .await
            .expect("put metadata");
        Api::<Backup>::namespaced(self.client.clone(), VELERO_NS)
            .create(&PostParams::default(), &backup)
            .await
            .expect("create Backup")
    }

    /// Creates a Restore in Velero's namespace.
    pub async fn create_restore(&self, name: &str, spec: RestoreSpec) -> Restore {
        let mut restore = Restore::new(name, spec);
        restore.metadata.namespace = Some(VELERO_NS.into());
        Api::<Restore>::namespaced(self.client.clone(), VELERO_NS)
            .create(&PostParams::default(), &restore)
            .await
            .expect("create Restore")
    }

    /// Reads a Restore back.
    pub async fn restore(&self, name: &str) -> Restore {
        Api::<Restore>::namespaced(self.client.clone(), VELERO_NS)
            .get(name)
            .await
            .expect("get Restore")
    }

    /// The phase of a Restore.
    pub async fn restore_phase(&self, name: &str) -> Option<RestorePhase> {
        self.restore(name).await.status.and_then(|s| s.phase)
    }

    /// Reads a `.json.gz` / `.gz` JSON file of the bucket.
    pub async fn json_file(&self, key: &str) -> Value {
        let bytes = self.store.get(key).await.unwrap_or_else(|e| panic!("get {key}: {e}"));
        decode_json_gz(&bytes, key).expect("json.gz")
    }

    /// The keys under `prefix` in the bucket.
    pub fn keys_under(&self, prefix: &str) -> Vec<String> {
        self.s3
            .object_keys(BUCKET)
            .unwrap_or_default()
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect()
    }

    /// A dynamic API for `api_version`/`kind`/`plural` in `namespace` (None: cluster-scoped).
    pub fn dynamic(&self, api_version: &str, kind: &str, plural: &str, namespace: Option<&str>) -> Api<DynamicObject> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// An object as JSON, or None when absent.
    pub async fn get_json(&self, api_version: &str, kind: &str, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.dynamic(api_version, kind, plural, namespace)
            .get_opt(name)
            .await
            .expect("get")
            .map(|o| serde_json::to_value(o).expect("json"))
    }
}

/// A backup item for `object`, in the resource folder `group_resource`.
pub fn item(group_resource: &str, object: Value) -> BackupItem {
    BackupItem::new(group_resource, object).expect("backup item")
}

/// The metadata a live object carries (and a backup holds) that a restore must drop.
pub fn live_metadata(name: &str, namespace: Option<&str>, uid: &str) -> Value {
    let mut meta = json!({
        "name": name,
        "uid": uid,
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": "2022-11-01T08:00:00Z",
        "managedFields": [{"manager": "capi-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2022-11-01T08:00:00Z"}],
    });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}
