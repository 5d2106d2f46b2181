//! Cluster API controllers as kube-rs clients of a management cluster's API server.
//!
//! Each controller is a struct whose `reconcile_all` makes one level-triggered pass over every
//! object of its kind — read the world, converge one step, write back — so a scenario drives
//! passes deterministically on a virtual clock; `run` repeats passes on a period. Like upstream
//! Cluster API v1.x, every controller skips an object whose Cluster has `spec.paused` or which
//! carries the `cluster.x-k8s.io/paused` annotation (deletion included).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drdrill_apis::capi::{Cluster, Condition, PAUSED_ANNOTATION};
use drdrill_kube_sim::clock::{Clock, k8s_time};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::site::SiteError;

pub mod cluster;
pub mod kubeadmcontrolplane;
pub mod machine;
pub mod machinedeployment;
pub mod machinehealthcheck;
pub mod machineset;
pub mod tkr;
pub mod vspherecluster;
pub mod vspheremachine;

pub use cluster::{ClusterController, SecretWorkloadClusters, store_kubeconfig};
pub use kubeadmcontrolplane::KubeadmControlPlaneController;
pub use machine::MachineController;
pub use machinedeployment::MachineDeploymentController;
pub use machinehealthcheck::MachineHealthCheckController;
pub use machineset::MachineSetController;
pub use tkr::{TkrController, TkrRelease};
pub use vspherecluster::VSphereClusterController;
pub use vspheremachine::VSphereMachineController;

/// What one pass changed, as `Kind/name` entries in the order they happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Objects (or VMs) created.
    pub created: Vec<String>,
    /// Objects (or VMs) deleted, or whose deletion was requested.
    pub deleted: Vec<String>,
    /// Objects given back a controller ownerReference they had lost.
    pub adopted: Vec<String>,
    /// Objects whose spec, metadata or status was patched.
    pub updated: Vec<String>,
    /// Objects skipped because they or their Cluster are paused.
    pub paused: Vec<String>,
    /// What the controller waits for: requests for kinds the API server does not serve.
    pub waiting: Vec<String>,
}

impl Report {
    /// Appends another report's entries to this one.
    pub fn merge(&mut self, other: Report) {
        self.created.extend(other.created);
        self.deleted.extend(other.deleted);
        self.adopted.extend(other.adopted);
        self.updated.extend(other.updated);
        self.waiting.extend(other.waiting);
        self.paused.extend(other.paused);
    }

    /// Whether the pass created, deleted, adopted or updated anything.
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.deleted.is_empty() && self.adopted.is_empty() && self.updated.is_empty())
    }
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A request to an API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the controller was doing, e.g. `create MachineSet default/md-0-x`.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be (de)serialized.
    #[error("{action}: {source}")]
    Serde {
        /// What the controller was doing.
        action: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The Site refused an inventory operation.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// An object is malformed (a reference without a kind, an unsupported delete policy…).
    #[error("{object}: {message}")]
    Invalid {
        /// `Kind namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
}

/// Adds context to kube and serde errors.
pub(crate) trait Context<T> {
    /// Wraps the error with what the controller was doing.
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, ControllerError>;
}

impl<T> Context<T> for Result<T, kube::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, ControllerError> {
        self.map_err(|source| ControllerError::Kube { action: action(), source })
    }
}

impl<T> Context<T> for Result<T, serde_json::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, ControllerError> {
        self.map_err(|source| ControllerError::Serde { action: action(), source })
    }
}

/// Whether a kube error is a 404.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A level-triggered controller: one pass over every object.
pub trait Reconciler: Send + Sync {
    /// One pass over every object of the controller's kind.
    fn reconcile_all(&self) -> impl Future<Output = Result<Report, ControllerError>> + Send;
}

/// Runs passes of `controller` every `period` forever, logging failed passes (a failed pass is
/// retried on the next tick, as a controller-runtime requeue would).
pub async fn run_every<R: Reconciler>(controller: &R, name: &str, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = controller.reconcile_all().await {
            tracing::warn!(controller = name, error = %e, "reconcile pass failed");
        }
    }
}

/// The kube clients of workload clusters, by Cluster (namespace, name) — upstream reads them
/// from the `<cluster>-kubeconfig` Secret through its ClusterCacheTracker.
pub trait WorkloadClusters: Send + Sync {
    /// The client of the workload cluster `name` in `namespace`, if it is reachable.
    fn client(&self, namespace: &str, name: &str) -> Option<Client>;
}

/// A fixed registry of workload cluster clients.
#[derive(Default, Clone)]
pub struct StaticWorkloadClusters {
    clients: Arc<Mutex<BTreeMap<(String, String), Client>>>,
}

impl StaticWorkloadClusters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) the client of a workload cluster.
    pub fn insert(&self, namespace: &str, name: &str, client: Client) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((namespace.to_string(), name.to_string()), client);
    }

    /// Forgets a workload cluster (it becomes unreachable).
    pub fn remove(&self, namespace: &str, name: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(namespace.to_string(), name.to_string()));
    }
}

impl WorkloadClusters for StaticWorkloadClusters {
    fn client(&self, namespace: &str, name: &str) -> Option<Client> {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}

/// Seeded generator of the 5-character name suffixes Kubernetes' `SimpleNameGenerator` makes
/// (same alphabet: no vowels, no confusable digits), so the same seed gives the same names.
#[derive(Debug, Clone)]
pub struct NameGenerator {
    state: Arc<Mutex<u64>>,
}

/// `k8s.io/apimachinery/pkg/util/rand`'s alphabet.
pub(crate) const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl NameGenerator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        NameGenerator {
            state: Arc::new(Mutex::new(seed ^ 0xC0FF_EE00_D15E_A5E5)),
        }
    }

    /// `base` followed by 5 random characters, as `GenerateName(base)` does.
    pub fn generate(&self, base: &str) -> String {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::from(base);
        for _ in 0..5 {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            out.push(ALPHANUMS[(z % ALPHANUMS.len() as u64) as usize] as char);
        }
        out
    }
}

/// `Kind namespace/name` of an object, for reports and errors.
pub(crate) fn key(kind: &str, obj: &impl ResourceExt) -> String {
    format!("{kind}/{}", obj.name_any())
}

/// The Clusters as one controller pass sees them: listed once, when first asked for — the
/// view an informer cache gives a controller at the start of its pass (no controller but the
/// Cluster controller writes Clusters) — instead of a GET per object reconciled.
pub(crate) struct PassClusters {
    client: Client,
    listed: tokio::sync::OnceCell<BTreeMap<(String, String), Cluster>>,
}

impl PassClusters {
    /// Nothing listed yet.
    pub(crate) fn new(client: &Client) -> Self {
        PassClusters {
            client: client.clone(),
            listed: tokio::sync::OnceCell::new(),
        }
    }

    /// The Cluster an object belongs to, if it exists.
    pub(crate) async fn get(&self, namespace: &str, name: &str) -> Result<Option<Cluster>, ControllerError> {
        let all = self
            .listed
            .get_or_try_init(|| async {
                let list = Api::<Cluster>::all(self.client.clone())
                    .list(&Default::default())
                    .await
                    .ctx(|| "list Clusters".into())?;
                Ok::<_, ControllerError>(
                    list.items
                        .into_iter()
                        .map(|c| ((c.namespace().unwrap_or_default(), c.name_any()), c))
                        .collect(),
                )
            })
            .await?;
        Ok(all.get(&(namespace.to_string(), name.to_string())).cloned())
    }
}

/// Upstream's `annotations.IsPaused(cluster, obj)`: the Cluster is paused or the object has
/// the paused annotation.
pub(crate) fn is_paused(cluster: Option<&Cluster>, meta: &ObjectMeta) -> bool {
    cluster.is_some_and(|c| c.spec.paused) || meta.annotations.as_ref().is_some_and(|a| a.contains_key(PAUSED_ANNOTATION))
}

/// The controller ownerReference of an object, if any (`metav1.GetControllerOf`).
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()
        .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
}

/// Whether `meta` is controlled by the object with `uid` (`metav1.IsControlledBy`).
pub(crate) fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// The object's ownerReferences with `owner` added, replacing any reference to the same uid
/// (`util.EnsureOwnerRef`).
pub(crate) fn ensure_owner_ref(meta: &ObjectMeta, owner: OwnerReference) -> Vec<OwnerReference> {
    let mut refs: Vec<OwnerReference> = meta
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner.uid && !(r.kind == owner.kind && r.name == owner.name))
        .collect();
    refs.push(owner);
    refs
}

/// Whether a set of labels matches a label selector (matchLabels and matchExpressions).
/// An empty selector matches everything, as `metav1.LabelSelectorAsSelector` does.
pub(crate) fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector
        .match_labels
        .as_ref()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let by_expressions = selector.match_expressions.as_ref().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let values = e.values.clone().unwrap_or_default();
            match e.operator.as_str() {
                "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&e.key),
                "DoesNotExist" => !labels.contains_key(&e.key),
                _ => false,
            }
        })
    });
    by_labels && by_expressions
}

/// Whether a selector selects nothing in particular (no labels, no expressions).
pub(crate) fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty) && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// A selector as `labels.Selector.String()` prints it: requirements sorted by key, joined by `,`.
pub(crate) fn selector_string(selector: &LabelSelector) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in selector.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        let text = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other}", e.key),
        };
        reqs.push((e.key.clone(), text));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// Sets `new` in `conditions`, keeping the old lastTransitionTime when the status did not
/// change (`conditions.Set`); returns whether anything changed.
pub(crate) fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition, clock: &dyn Clock) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                Some(k8s_time(clock.now()))
            };
            if *old == new {
                return false;
            }
            *old = new;
            true
        }
        None => {
            new.last_transition_time = Some(k8s_time(clock.now()));
            conditions.push(new);
            true
        }
    }
}

/// A True condition.
pub(crate) fn true_condition(type_: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: "True".into(),
        ..Condition::default()
    }
}

/// A False condition with reason, severity and message.
pub(crate) fn false_condition(type_: &str, reason: &str, severity: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: "False".into(),
        severity: Some(severity.to_string()),
        reason: Some(reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        last_transition_time: None,
    }
}

/// Every controller of this module, run in dependency order by [`Controllers::pass`].
pub struct Controllers {
    /// Cluster → phase, readiness, ownership of its infrastructure and control plane.
    pub clusters: ClusterController,
    /// VSphereCluster → ready.
    pub vsphere_clusters: VSphereClusterController,
    /// KubeadmControlPlane → control-plane Machines.
    pub kubeadm_control_planes: KubeadmControlPlaneController,
    /// MachineDeployment → MachineSets.
    pub machine_deployments: MachineDeploymentController,
    /// MachineSet → Machines.
    pub machine_sets: MachineSetController,
    /// Machine → infrastructure, Node.
    pub machines: MachineController,
    /// VSphereMachine → Site VM.
    pub vsphere_machines: VSphereMachineController,
    /// MachineHealthCheck → Machines marked for remediation.
    pub machine_health_checks: MachineHealthCheckController,
}

impl Controllers {
    /// One pass of every controller, top-down (Clusters first, then control planes and deployments, then
    /// infrastructure, health checks last so that owners act on their marks in the next pass).
    pub async fn pass(&self) -> Result<Report, ControllerError> {
        let mut report = Report::default();
        for (_, r) in self.pass_each().await? {
            report.merge(r);
        }
        Ok(report)
    }

    /// [`Controllers::pass`], with each controller's report under its upstream name
    /// (`machineset`, `machinehealthcheck`, …), for a controller log.
    pub async fn pass_each(&self) -> Result<Vec<(&'static str, Report)>, ControllerError> {
        let wait = waiting_if_not_served;
        Ok(vec![
            ("cluster", wait(self.clusters.reconcile_all().await)?),
            ("vspherecluster", wait(self.vsphere_clusters.reconcile_all().await)?),
            ("kubeadmcontrolplane", wait(self.kubeadm_control_planes.reconcile_all().await)?),
            ("machinedeployment", wait(self.machine_deployments.reconcile_all().await)?),
            ("machineset", wait(self.machine_sets.reconcile_all().await)?),
            ("machine", wait(self.machines.reconcile_all().await)?),
            ("vspheremachine", wait(self.vsphere_machines.reconcile_all().await)?),
            ("machinehealthcheck", wait(self.machine_health_checks.reconcile_all().await)?),
        ])
    }
}

impl Reconciler for Controllers {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        self.pass().await
    }
}

/// A controller whose kinds the API server does not serve at all (its CRDs not installed, or
/// gone with a corrupted store) waits and retries, as controller-runtime's do, instead of
/// stopping the manager and every other controller: its report says what it waits for.
fn waiting_if_not_served(result: Result<Report, ControllerError>) -> Result<Report, ControllerError> {
    match result {
        Err(ControllerError::Kube { action, source }) if drdrill_kube_sim::client::is_resource_not_served(&source) => Ok(Report {
            waiting: vec![action],
            ..Report::default()
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selectors_match_and_print_like_apimachinery() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("b", "2"), ("a", "1")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "c".into(),
                operator: "In".into(),
                values: Some(vec!["y".into(), "x".into()]),
            }]),
        };
        assert_eq!(selector_string(&sel), "a=1,b=2,c in (x,y)");
        assert!(selector_matches(&sel, &labels(&[("a", "1"), ("b", "2"), ("c", "x"), ("d", "")])));
        assert!(!selector_matches(&sel, &labels(&[("a", "1"), ("b", "2")])));
        assert!(!selector_matches(&sel, &labels(&[("a", "1"), ("b", "3"), ("c", "x")])));
        assert!(selector_is_empty(&LabelSelector::default()));
    }

    #[test]
    fn names_are_seeded_and_use_the_safe_alphabet() {
        let a = NameGenerator::new(1);
        let first = a.generate("md-0-");
        assert_eq!(first.len(), "md-0-".len() + 5);
        assert!(first[5..].bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_eq!(NameGenerator::new(1).generate("md-0-"), first);
        assert_ne!(a.generate("md-0-"), first, "the sequence moves on");
        assert_ne!(NameGenerator::new(2).generate("md-0-"), first);
    }

    #[test]
    fn conditions_keep_their_transition_time_while_status_holds() {
        let clock = drdrill_kube_sim::VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let mut cs = Vec::new();
        assert!(set_condition(&mut cs, true_condition("Ready"), &clock));
        clock.advance(Duration::from_secs(60));
        assert!(!set_condition(&mut cs, true_condition("Ready"), &clock));
        assert_eq!(cs[0].last_transition_time.as_deref(), Some("2022-12-07T17:10:42Z"));
        assert!(set_condition(&mut cs, false_condition("Ready", "X", "Warning", ""), &clock));
        assert_eq!(cs[0].last_transition_time.as_deref(), Some("2022-12-07T17:11:42Z"));
    }
}
