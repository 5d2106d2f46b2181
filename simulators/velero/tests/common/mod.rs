//! What the Velero server tests share: a management cluster (embedded API server with the
//! Cluster API, vSphere and Velero CRDs) on a virtual clock, an embedded S3 server with the
//! runbook's bucket and credentials, and Velero "installed" (namespace, credentials Secret,
//! default BackupStorageLocation).

#![allow(dead_code)]

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use drdrill_apis::velero::{Backup, BackupPhase, BackupStorageLocation};
use drdrill_kube_sim::clock::VirtualClock;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_velero_sim::s3::{Credentials, ObjectStore, S3Server, S3ServerConfig};
use drdrill_velero_sim::server::ServerContext;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub const VELERO_NS: &str = "velero";
pub const BUCKET: &str = "mgmt";
pub const START: &str = "2022-12-07T17:10:42Z";

pub fn clock() -> VirtualClock {
    VirtualClock::starting_at(START.parse().expect("time"))
}

pub async fn s3() -> S3Server {
    S3Server::start(S3ServerConfig::new(Credentials::new("minio", "minio123")).with_bucket(BUCKET))
        .await
        .expect("S3 server")
}

/// The bucket as Velero's location sees it.
pub fn store(s3: &S3Server) -> ObjectStore {
    ObjectStore::with_region(&s3.endpoint(), BUCKET, "", &Credentials::new("minio", "minio123"), Some("minio")).expect("store")
}

/// A management cluster with Velero installed against `s3` with the given credentials.
pub struct Mgmt {
    pub server: ApiServer,
    pub client: Client,
    pub clock: VirtualClock,
}

impl Mgmt {
    pub async fn start(name: &str, clock: &VirtualClock, s3: &S3Server) -> Mgmt {
        Mgmt::start_with_credentials(name, clock, s3, "minio", "minio123").await
    }

    pub async fn start_with_credentials(name: &str, clock: &VirtualClock, s3: &S3Server, key: &str, secret: &str) -> Mgmt {
        let server = ApiServer::start(ServerOptions {
            cluster_name: name.into(),
            clock: Arc::new(clock.clone()),
            ..Default::default()
        })
        .await
        .expect("API server");
        let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml(&format!("{name}-admin@{name}"))).expect("kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in drdrill_apis::all_crds().into_iter().chain(drdrill_apis::velero::crds()) {
            crds.create(&PostParams::default(), &crd).await.expect("install CRD");
        }
        let mgmt = Mgmt {
            server,
            client,
            clock: clock.clone(),
        };
        for ns in [VELERO_NS, "tkg-system"] {
            mgmt.create::<Namespace>(None, json!({"metadata": {"name": ns}})).await;
        }
        mgmt.create::<Secret>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "cloud-credentials"},
                "stringData": {"cloud": format!("[default]\naws_access_key_id={key}\naws_secret_access_key={secret}\n")}}),
        )
        .await;
        mgmt.create::<BackupStorageLocation>(
            Some(VELERO_NS),
            json!({"metadata": {"name": "default"},
                "spec": {"provider": "aws", "default": true, "objectStorage": {"bucket": BUCKET},
                    "config": {"region": "minio", "s3ForcePathStyle": "true", "s3Url": s3.endpoint()}}}),
        )
        .await;
        mgmt
    }

    pub fn ctx(&self) -> ServerContext {
        ServerContext::new(self.client.clone(), VELERO_NS, Arc::new(self.clock.clone()))
    }

    pub fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Creates an object from JSON (apiVersion and kind filled in from `K`).
    pub async fn create<K>(&self, ns: Option<&str>, mut value: Value) -> K
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
    {
        value["apiVersion"] = json!(K::api_version(&()));
        value["kind"] = json!(K::kind(&()));
        let typed: K = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"));
        let object: DynamicObject = serde_json::from_value(serde_json::to_value(&typed).expect("json")).expect("dynamic");
        let ar = ApiResource::erase::<K>(&());
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        let created = api
            .create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("create {value}: {e}"));
        serde_json::from_value(serde_json::to_value(created).expect("json")).expect("typed")
    }

    pub async fn create_backup(&self, name: &str, spec: Value) -> Backup {
        self.create::<Backup>(Some(VELERO_NS), json!({"metadata": {"name": name}, "spec": spec}))
            .await
    }

    pub async fn backup(&self, name: &str) -> Backup {
        self.api::<Backup>(VELERO_NS).get(name).await.expect("backup")
    }

    pub async fn location(&self) -> BackupStorageLocation {
        self.api::<BackupStorageLocation>(VELERO_NS).get("default").await.expect("bsl")
    }
}

pub fn phase(backup: &Backup) -> Option<BackupPhase> {
    backup.status.as_ref().and_then(|s| s.phase)
}

/// The runbook's backup spec: `--exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io`.
pub fn runbook_spec() -> Value {
    json!({"excludedNamespaces": ["tkg-system"], "includedResources": ["cluster.cluster.x-k8s.io"]})
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path: PathBuf = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("prefix").to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// One workload cluster's Cluster API objects in `ns` (what `tanzu cluster create` leaves in a
/// management cluster) and its Secrets. Returns the `<group-resource>/<name>` of every object
/// the management-cluster plugin must collect, the Cluster included.
pub async fn create_workload_cluster(mgmt: &Mgmt, ns: &str, name: &str) -> Vec<String> {
    use drdrill_apis::capi::{Cluster, KubeadmControlPlane, Machine, MachineDeployment, MachineHealthCheck, MachineSet};
    use drdrill_apis::vsphere::{VSphereCluster, VSphereMachine, VSphereMachineTemplate};

    if Api::<Namespace>::all(mgmt.client.clone())
        .get_opt(ns)
        .await
        .expect("namespace")
        .is_none()
    {
        mgmt.create::<Namespace>(None, json!({"metadata": {"name": ns}})).await;
    }
    let labels = json!({"cluster.x-k8s.io/cluster-name": name});
    let infra = "infrastructure.cluster.x-k8s.io/v1beta1";
    let cp = format!("{name}-cp");
    let md = format!("{name}-md-0");
    mgmt.create::<Cluster>(
        Some(ns),
        json!({"metadata": {"name": name, "labels": {"tkg.tanzu.vmware.com/cluster-name": name}},
            "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["100.96.0.0/11"]}},
                "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": cp, "namespace": ns},
                "infrastructureRef": {"apiVersion": infra, "kind": "VSphereCluster", "name": name, "namespace": ns}}}),
    )
    .await;
    // The infrastructure cluster carries no cluster-name label: only the Cluster's reference finds it.
    mgmt.create::<VSphereCluster>(
        Some(ns),
        json!({"metadata": {"name": name}, "spec": {"server": "vc01.example.com"}}),
    )
    .await;
    let template = |tname: &str| {
        json!({"metadata": {"name": tname},
            "spec": {"template": {"spec": {"template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1", "cloneMode": "fullClone",
                "numCPUs": 2, "memoryMiB": 4096, "diskGiB": 20,
                "network": {"devices": [{"networkName": "VM Network", "dhcp4": true}]}}}}})
    };
    mgmt.create::<VSphereMachineTemplate>(Some(ns), template(&format!("{name}-control-plane")))
        .await;
    mgmt.create::<VSphereMachineTemplate>(Some(ns), template(&format!("{name}-worker")))
        .await;
    mgmt.create::<KubeadmControlPlane>(
        Some(ns),
        json!({"metadata": {"name": cp, "labels": labels},
            "spec": {"replicas": 1, "version": "v1.24.10+vmware.1", "kubeadmConfigSpec": {},
                "machineTemplate": {"infrastructureRef": {"apiVersion": infra, "kind": "VSphereMachineTemplate", "name": format!("{name}-control-plane")}}}}),
    )
    .await;
    let machine_spec = |infra_name: &str| {
        json!({"clusterName": name, "version": "v1.24.10+vmware.1",
            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": md}},
            "infrastructureRef": {"apiVersion": infra, "kind": "VSphereMachineTemplate", "name": infra_name}})
    };
    // No label: found through spec.clusterName.
    mgmt.create::<MachineDeployment>(
        Some(ns),
        json!({"metadata": {"name": md},
            "spec": {"clusterName": name, "replicas": 1,
                "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": md}},
                "template": {"metadata": {"labels": {"cluster.x-k8s.io/deployment-name": md, "cluster.x-k8s.io/cluster-name": name}},
                    "spec": machine_spec(&format!("{name}-worker"))}}}),
    )
    .await;
    let ms = format!("{md}-7d4b9c5f6");
    mgmt.create::<MachineSet>(
        Some(ns),
        json!({"metadata": {"name": ms, "labels": labels},
            "spec": {"clusterName": name, "replicas": 1,
                "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": md}},
                "template": {"metadata": {"labels": {"cluster.x-k8s.io/deployment-name": md}},
                    "spec": machine_spec(&format!("{name}-worker"))}}}),
    )
    .await;
    let cp_machine = format!("{cp}-x7nmm");
    let worker = format!("{ms}-bnxn9");
    for machine in [&cp_machine, &worker] {
        mgmt.create::<Machine>(
            Some(ns),
            json!({"metadata": {"name": machine, "labels": labels},
                "spec": {"clusterName": name, "bootstrap": {"dataSecretName": machine},
                    "infrastructureRef": {"apiVersion": infra, "kind": "VSphereMachine", "name": machine}}}),
        )
        .await;
        mgmt.create::<VSphereMachine>(
            Some(ns),
            json!({"metadata": {"name": machine, "labels": labels},
                "spec": {"template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1", "network": {"devices": [{"networkName": "VM Network", "dhcp4": true}]}}}),
        )
        .await;
    }
    let mhc = format!("{name}-md-0-mhc");
    mgmt.create::<MachineHealthCheck>(
        Some(ns),
        json!({"metadata": {"name": mhc, "labels": labels},
            "spec": {"clusterName": name, "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": md}},
                "unhealthyConditions": [{"type": "Ready", "status": "Unknown", "timeout": "5m"}]}}),
    )
    .await;
    let mut secrets = Vec::new();
    for suffix in ["kubeconfig", "ca", "etcd", "sa"] {
        let secret = format!("{name}-{suffix}");
        mgmt.create::<Secret>(Some(ns), json!({"metadata": {"name": secret}, "stringData": {"value": suffix}}))
            .await;
        secrets.push(format!("secrets/{secret}"));
    }
    let mut expected = vec![
        format!("clusters.cluster.x-k8s.io/{name}"),
        format!("kubeadmcontrolplanes.controlplane.cluster.x-k8s.io/{cp}"),
        format!("vsphereclusters.infrastructure.cluster.x-k8s.io/{name}"),
        format!("vspheremachinetemplates.infrastructure.cluster.x-k8s.io/{name}-control-plane"),
        format!("vspheremachinetemplates.infrastructure.cluster.x-k8s.io/{name}-worker"),
        format!("machinedeployments.cluster.x-k8s.io/{md}"),
        format!("machinesets.cluster.x-k8s.io/{ms}"),
        format!("machines.cluster.x-k8s.io/{cp_machine}"),
        format!("machines.cluster.x-k8s.io/{worker}"),
        format!("vspheremachines.infrastructure.cluster.x-k8s.io/{cp_machine}"),
        format!("vspheremachines.infrastructure.cluster.x-k8s.io/{worker}"),
        format!("machinehealthchecks.cluster.x-k8s.io/{mhc}"),
    ];
    expected.extend(secrets);
    expected.sort();
    expected
}
