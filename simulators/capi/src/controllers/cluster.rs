//! The Cluster controller — phase, infrastructure and control-plane readiness, conditions —
//! and [`SecretWorkloadClusters`], which reaches workload clusters through their
//! `<cluster>-kubeconfig` Secrets as upstream's ClusterCacheTracker does.
//!
//! Follows upstream Cluster API v1.2, `internal/controllers/cluster` (`reconcilePhase`,
//! `reconcileExternal`, `reconcileInfrastructure`, `reconcileControlPlane`):
//! * a paused Cluster (or one with the paused annotation) is skipped;
//! * the objects of `spec.infrastructureRef` and `spec.controlPlaneRef` get the Cluster as
//!   controller owner and the `cluster.x-k8s.io/cluster-name` label (this re-adopts them after a
//!   restore); a missing or deleting one changes nothing;
//! * `status.infrastructureReady` is the infrastructure object's `status.ready`; the
//!   `InfrastructureReady` condition mirrors its `Ready` condition, or falls back to True /
//!   False `WaitingForInfrastructure`; once ready, an unset `spec.controlPlaneEndpoint` is copied
//!   from the infrastructure object's;
//! * `status.controlPlaneReady` is the control plane's `status.ready`, `ControlPlaneReady`
//!   mirrors its `Ready` condition (fallback `WaitingForControlPlane`), and
//!   `ControlPlaneInitialized` turns True once its `status.initialized` is (never back);
//! * `Ready` summarizes `ControlPlaneReady` and `InfrastructureReady` (the most severe False
//!   one wins);
//! * phase: Pending; Provisioning once an infrastructureRef is set; Provisioned once the
//!   infrastructure is ready and the endpoint valid; Deleting while deleting.
//!
//! Not simulated: failure reasons (the phase never becomes Failed), failure domains, deletion
//! of descendants, ControlPlaneInitialized for clusters without a control plane provider.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use drdrill_apis::capi::conditions::{self, CONTROL_PLANE_INITIALIZED, CONTROL_PLANE_READY, INFRASTRUCTURE_READY, READY};
use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, Condition};
use drdrill_kube_sim::clock::Clock;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource, ResourceExt};
use serde_json::json;

use super::machineset::api_resource;
use super::{
    Context, ControllerError, Reconciler, Report, WorkloadClusters, ensure_owner_ref, false_condition, is_controlled_by, is_not_found,
    is_paused, key, run_every, set_condition, true_condition,
};

/// `clusterv1.ClusterSecretType`, the type of the Secrets Cluster API writes.
pub const CLUSTER_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";

/// Cluster phases (`ClusterPhase`).
pub mod phase {
    /// Created, nothing reconciled yet.
    pub const PENDING: &str = "Pending";
    /// The infrastructure is being provisioned.
    pub const PROVISIONING: &str = "Provisioning";
    /// Infrastructure ready and endpoint known.
    pub const PROVISIONED: &str = "Provisioned";
    /// Being deleted.
    pub const DELETING: &str = "Deleting";
}

/// Reconciles every Cluster of the management cluster.
pub struct ClusterController {
    client: Client,
    clock: Arc<dyn Clock>,
}

/// What `reconcileExternal` read from a referenced object.
struct External {
    ready: bool,
    initialized: bool,
    ready_condition: Option<Condition>,
    endpoint: Option<serde_json::Value>,
}

impl ClusterController {
    /// A controller for the management cluster behind `client`.
    pub fn new(client: Client, clock: Arc<dyn Clock>) -> Self {
        ClusterController { client, clock }
    }

    /// One pass over every Cluster.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let list = Api::<Cluster>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list Clusters".into())?;
        let mut report = Report::default();
        for cluster in list {
            self.reconcile(&cluster, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "cluster", period).await;
    }

    async fn reconcile(&self, cluster: &Cluster, report: &mut Report) -> Result<(), ControllerError> {
        if is_paused(Some(cluster), cluster.meta()) {
            report.paused.push(key("Cluster", cluster));
            return Ok(());
        }
        let ns = cluster.namespace().unwrap_or_default();
        let clusters: Api<Cluster> = Api::namespaced(self.client.clone(), &ns);
        let clock = self.clock.as_ref();
        let mut status = cluster.status.clone().unwrap_or_default();
        let old = status.clone();
        let mut endpoint_patch = None;

        if let Some(infra_ref) = &cluster.spec.infrastructure_ref
            && let Some(infra) = self.reconcile_external(cluster, infra_ref, report).await?
        {
            status.infrastructure_ready = infra.ready;
            let cond = mirror(INFRASTRUCTURE_READY, infra.ready_condition, infra.ready, "WaitingForInfrastructure");
            set_condition(&mut status.conditions, cond, clock);
            let valid = cluster
                .spec
                .control_plane_endpoint
                .as_ref()
                .is_some_and(|e| !e.host.is_empty() && e.port != 0);
            if infra.ready && !valid {
                endpoint_patch = infra
                    .endpoint
                    .filter(|e| e.get("host").and_then(|h| h.as_str()).is_some_and(|h| !h.is_empty()));
            }
        }
        if let Some(cp_ref) = &cluster.spec.control_plane_ref
            && let Some(cp) = self.reconcile_external(cluster, cp_ref, report).await?
        {
            status.control_plane_ready = cp.ready;
            let cond = mirror(CONTROL_PLANE_READY, cp.ready_condition, cp.ready, "WaitingForControlPlane");
            set_condition(&mut status.conditions, cond, clock);
            if !conditions::find(&status.conditions, CONTROL_PLANE_INITIALIZED).is_some_and(Condition::is_true) {
                let cond = if cp.initialized {
                    true_condition(CONTROL_PLANE_INITIALIZED)
                } else {
                    false_condition(
                        CONTROL_PLANE_INITIALIZED,
                        "WaitingForControlPlaneProviderInitialized",
                        "Info",
                        "Waiting for control plane provider to indicate the control plane has been initialized",
                    )
                };
                set_condition(&mut status.conditions, cond, clock);
            }
        }
        if let Some(endpoint) = &endpoint_patch {
            clusters
                .patch(
                    &cluster.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"controlPlaneEndpoint": endpoint}})),
                )
                .await
                .ctx(|| format!("set controlPlaneEndpoint of Cluster {ns}/{}", cluster.name_any()))?;
            report.updated.push(key("Cluster", cluster));
        }
        if let Some(summary) = summary(&status.conditions) {
            set_condition(&mut status.conditions, summary, clock);
        }
        let endpoint_valid = endpoint_patch.is_some()
            || cluster
                .spec
                .control_plane_endpoint
                .as_ref()
                .is_some_and(|e| !e.host.is_empty() && e.port != 0);
        let mut phase = status.phase.clone().unwrap_or_else(|| phase::PENDING.to_string());
        if cluster.spec.infrastructure_ref.is_some() {
            phase = phase::PROVISIONING.into();
        }
        if status.infrastructure_ready && endpoint_valid {
            phase = phase::PROVISIONED.into();
        }
        if cluster.meta().deletion_timestamp.is_some() {
            phase = phase::DELETING.into();
        }
        status.phase = Some(phase);
        status.observed_generation = cluster.metadata.generation;
        if status == old {
            return Ok(());
        }
        clusters
            .patch_status(
                &cluster.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .ctx(|| format!("update status of Cluster {ns}/{}", cluster.name_any()))?;
        report.updated.push(key("Cluster", cluster));
        Ok(())
    }

    /// `reconcileExternal`: owns and labels the referenced object, and reads it; `None` when
    /// it is missing, paused or deleting.
    async fn reconcile_external(
        &self,
        cluster: &Cluster,
        r: &ObjectReference,
        report: &mut Report,
    ) -> Result<Option<External>, ControllerError> {
        let ns = cluster.namespace().unwrap_or_default();
        let (Some(api_version), Some(kind), Some(name)) = (&r.api_version, &r.kind, &r.name) else {
            return Err(ControllerError::Invalid {
                object: format!("Cluster {ns}/{}", cluster.name_any()),
                message: "a reference needs apiVersion, kind and name".into(),
            });
        };
        let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &rns, &api_resource(api_version, kind));
        let Some(obj) = api.get_opt(name).await.ctx(|| format!("get {kind} {rns}/{name}"))? else {
            return Ok(None);
        };
        if is_paused(Some(cluster), &obj.metadata) {
            return Ok(None);
        }
        let uid = cluster.uid().unwrap_or_default();
        let owned = is_controlled_by(&obj.metadata, &uid);
        let labelled = obj.labels().get(CLUSTER_NAME_LABEL) == Some(&cluster.name_any());
        if !owned || !labelled {
            let owner = cluster.controller_owner_ref(&()).ok_or_else(|| ControllerError::Invalid {
                object: format!("Cluster {ns}/{}", cluster.name_any()),
                message: "no uid".into(),
            })?;
            let patch = json!({"metadata": {
                "labels": {CLUSTER_NAME_LABEL: cluster.name_any()},
                "ownerReferences": ensure_owner_ref(&obj.metadata, owner),
            }});
            match api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e).ctx(|| format!("own {kind} {rns}/{name}")),
            }
            if owned {
                report.updated.push(format!("{kind}/{name}"));
            } else {
                report.adopted.push(format!("{kind}/{name}"));
            }
        }
        if obj.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let ready_condition = obj
            .data
            .pointer("/status/conditions")
            .and_then(|c| serde_json::from_value::<Vec<Condition>>(c.clone()).ok())
            .and_then(|cs| conditions::find(&cs, READY).cloned());
        Ok(Some(External {
            ready: obj.data.pointer("/status/ready").and_then(|v| v.as_bool()).unwrap_or(false),
            initialized: obj.data.pointer("/status/initialized").and_then(|v| v.as_bool()).unwrap_or(false),
            ready_condition,
            endpoint: obj.data.pointer("/spec/controlPlaneEndpoint").cloned(),
        }))
    }
}

/// `conditions.SetMirror` with `WithFallbackValue`: the source's Ready condition under a new
/// type, or True / False `fallback_reason` from the ready flag.
fn mirror(type_: &str, source: Option<Condition>, ready: bool, fallback_reason: &str) -> Condition {
    match source {
        Some(c) => Condition {
            type_: type_.to_string(),
            last_transition_time: None,
            ..c
        },
        None if ready => true_condition(type_),
        None => false_condition(type_, fallback_reason, "Info", ""),
    }
}

/// `conditions.SetSummary(WithConditions(ControlPlaneReady, InfrastructureReady))`: True when
/// every present one is True, else the most severe False one; `None` when neither is present.
fn summary(all: &[Condition]) -> Option<Condition> {
    let scope: Vec<&Condition> = [CONTROL_PLANE_READY, INFRASTRUCTURE_READY]
        .iter()
        .filter_map(|t| conditions::find(all, t))
        .collect();
    if scope.is_empty() {
        return None;
    }
    let rank = |c: &Condition| match c.severity.as_deref() {
        Some("Error") => 0,
        Some("Warning") => 1,
        _ => 2,
    };
    let worst = scope.iter().filter(|c| !c.is_true()).min_by_key(|c| rank(c));
    Some(match worst {
        None => true_condition(READY),
        Some(c) => Condition {
            type_: READY.to_string(),
            last_transition_time: None,
            ..(*c).clone()
        },
    })
}

/// The name of a Cluster's kubeconfig Secret.
pub fn kubeconfig_secret_name(cluster: &str) -> String {
    format!("{cluster}-kubeconfig")
}

/// Stores a workload cluster's kubeconfig in the management cluster the way Cluster API does
/// (`kubeconfig.CreateSecret`): Secret `<cluster>-kubeconfig` of type `cluster.x-k8s.io/secret`,
/// labelled `cluster.x-k8s.io/cluster-name`, the kubeconfig under `data.value`, owned by the
/// Cluster if it exists. Replaces the data of an existing Secret.
pub async fn store_kubeconfig(mgmt: &Client, namespace: &str, cluster: &str, kubeconfig: &str) -> Result<Secret, ControllerError> {
    let name = kubeconfig_secret_name(cluster);
    let secrets: Api<Secret> = Api::namespaced(mgmt.clone(), namespace);
    let owner = Api::<Cluster>::namespaced(mgmt.clone(), namespace)
        .get_opt(cluster)
        .await
        .ctx(|| format!("get Cluster {namespace}/{cluster}"))?
        .and_then(|c| {
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "cluster.x-k8s.io/v1beta1".into(),
                kind: "Cluster".into(),
                name: c.name_any(),
                uid: c.uid()?,
                ..Default::default()
            })
        });
    let mut secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(CLUSTER_NAME_LABEL.to_string(), cluster.to_string())])),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some(CLUSTER_SECRET_TYPE.into()),
        data: Some(BTreeMap::from([("value".to_string(), ByteString(kubeconfig.as_bytes().to_vec()))])),
        ..Default::default()
    };
    match secrets.get_opt(&name).await.ctx(|| format!("get Secret {namespace}/{name}"))? {
        None => secrets
            .create(&PostParams::default(), &secret)
            .await
            .ctx(|| format!("create Secret {namespace}/{name}")),
        Some(existing) => {
            secret.metadata.resource_version = existing.metadata.resource_version;
            secrets
                .replace(&name, &PostParams::default(), &secret)
                .await
                .ctx(|| format!("replace Secret {namespace}/{name}"))
        }
    }
}

/// Clients by Cluster (namespace, name), with the kubeconfig bytes each was built from.
type ClientCache = BTreeMap<(String, String), (Vec<u8>, Client)>;

/// Workload cluster clients built from the `<cluster>-kubeconfig` Secrets of a management
/// cluster. [`SecretWorkloadClusters::refresh`] (also its [`Reconciler`] pass) re-reads the
/// Secrets; [`WorkloadClusters::client`] answers from what the last refresh found, as
/// upstream's ClusterCacheTracker answers from its cache.
#[derive(Clone)]
pub struct SecretWorkloadClusters {
    mgmt: Client,
    cache: Arc<Mutex<ClientCache>>,
}

impl SecretWorkloadClusters {
    /// Reads kubeconfig Secrets through `mgmt`; empty until the first refresh.
    pub fn new(mgmt: Client) -> Self {
        SecretWorkloadClusters {
            mgmt,
            cache: Arc::default(),
        }
    }

    /// Re-reads every kubeconfig Secret: (re)builds the clients of new or changed ones and
    /// forgets clusters whose Secret is gone; returns `Secret/<name>` for each change.
    pub async fn refresh(&self) -> Result<Vec<String>, ControllerError> {
        let secrets = Api::<Secret>::all(self.mgmt.clone())
            .list(&ListParams::default().labels(CLUSTER_NAME_LABEL))
            .await
            .ctx(|| "list kubeconfig Secrets".into())?;
        let mut found: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
        for s in &secrets {
            let Some(cluster) = s.labels().get(CLUSTER_NAME_LABEL) else {
                continue;
            };
            if s.type_.as_deref() != Some(CLUSTER_SECRET_TYPE) || s.name_any() != kubeconfig_secret_name(cluster) {
                continue;
            }
            if let Some(value) = s.data.as_ref().and_then(|d| d.get("value")) {
                found.insert((s.namespace().unwrap_or_default(), cluster.clone()), value.0.clone());
            }
        }
        let known: BTreeMap<(String, String), Vec<u8>> = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        let mut changed = Vec::new();
        let mut built = Vec::new();
        for (k, value) in &found {
            if known.get(k) == Some(value) {
                continue;
            }
            match client_from_kubeconfig(value).await {
                Ok(client) => built.push((k.clone(), value.clone(), client)),
                Err(message) => tracing::warn!(namespace = %k.0, cluster = %k.1, %message, "unusable kubeconfig Secret"),
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for k in known.keys().filter(|k| !found.contains_key(*k)) {
            cache.remove(k);
            changed.push(format!("Secret/{}", kubeconfig_secret_name(&k.1)));
        }
        for (k, value, client) in built {
            changed.push(format!("Secret/{}", kubeconfig_secret_name(&k.1)));
            cache.insert(k, (value, client));
        }
        Ok(changed)
    }
}

/// A client for the kubeconfig's current context.
async fn client_from_kubeconfig(bytes: &[u8]) -> Result<Client, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|e| e.to_string())?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    drdrill_kube_sim::client::connect(config).map_err(|e| e.to_string())
}

impl WorkloadClusters for SecretWorkloadClusters {
    fn client(&self, namespace: &str, name: &str) -> Option<Client> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .map(|(_, c)| c.clone())
    }
}

impl Reconciler for SecretWorkloadClusters {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        Ok(Report {
            updated: self.refresh().await?,
            ..Report::default()
        })
    }
}

impl Reconciler for ClusterController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        ClusterController::reconcile_all(self).await
    }
}
