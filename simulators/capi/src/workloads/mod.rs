//! The workloads inside a simulated workload cluster, and the kube-controller-manager,
//! kube-scheduler and kubelet pieces that move them, all as clients of the cluster's API:
//!
//! * the Deployment controller keeps one ReplicaSet `<deployment>-<pod-template-hash>` per pod
//!   template and rolls from old to new ones (RollingUpdate with maxSurge/maxUnavailable, or
//!   Recreate), keeps `revisionHistoryLimit` old ReplicaSets and reports status and the
//!   `Available`/`Progressing` conditions, `progressDeadlineSeconds` measured on the clock;
//! * the ReplicaSet controller creates and deletes Pods `<replicaset>-<5 chars>` to match
//!   `spec.replicas`, adopting matching orphans, and reports status;
//! * the DaemonSet controller binds one Pod `<daemonset>-<5 chars>` to every eligible Node
//!   directly (`spec.nodeName` plus a `metadata.name` node-affinity term, as upstream),
//!   rolls template changes node by node and reports status;
//! * the scheduler binds pending Pods to Nodes whose taints they tolerate and whose labels
//!   match their nodeSelector and required node affinity, spreading by fewest pods;
//! * the kubelets start Pods bound to their Ready Node (phase, conditions, containerStatuses,
//!   IPs, startTime from the clock), and Pods on a Node that stopped being Ready turn NotReady;
//! * the node lifecycle controller's taint-based eviction deletes Pods from a NotReady or
//!   unreachable Node once their `tolerationSeconds` (300 s unless a Pod says otherwise, as the
//!   `DefaultTolerationSeconds` admission plugin sets) ran out on the clock, and pod GC
//!   deletes Pods bound to a Node that no longer exists.
//!
//! Simplifications: the API server does not serve `pods/binding`, so the scheduler binds with
//! a patch of `spec.nodeName` guarded by the Pod's resourceVersion. Containers start at once
//! and stay up (no images, probes or restarts). A Node's `Ready` condition stands for the
//! `not-ready`/`unreachable` taints the node lifecycle controller would add when they are not
//! there yet. A paused Deployment only reports status. DaemonSet revisions are tracked by the
//! `controller-revision-hash` label, without ControllerRevision objects.

mod daemonsets;
mod deployments;
mod eviction;
mod kubelet;
mod replicasets;
mod scheduling;
pub mod volumes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drdrill_kube_sim::clock::Clock;
use drdrill_kube_sim::selectors::LabelSelector;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, Resource};
use serde_json::{Map, Value, json};

use crate::controllers::NameGenerator;
use crate::storage::Datastore;

pub use scheduling::{DEFAULT_TOLERATION_SECONDS, NOT_READY_TAINT, UNREACHABLE_TAINT, UNSCHEDULABLE_TAINT};

/// The label the Deployment controller puts on its ReplicaSets and their Pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The label the DaemonSet controller puts on its Pods, naming the template revision.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The revision annotation on Deployments and their ReplicaSets.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// What one pass changed, each entry `namespace/name` (Pods and workloads) or a Node name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkloadReport {
    /// ReplicaSets a Deployment created.
    pub replica_sets_created: Vec<String>,
    /// ReplicaSets a Deployment scaled, as `namespace/name old->new`.
    pub replica_sets_scaled: Vec<String>,
    /// Old ReplicaSets deleted beyond `revisionHistoryLimit`.
    pub replica_sets_deleted: Vec<String>,
    /// Objects a controller adopted (set itself as their controller owner).
    pub adopted: Vec<String>,
    /// Pods a ReplicaSet or DaemonSet created.
    pub pods_created: Vec<String>,
    /// Pods a ReplicaSet or DaemonSet deleted (scale down, rollout, node no longer eligible).
    pub pods_deleted: Vec<String>,
    /// Pods the scheduler bound, as `namespace/name -> node`.
    pub pods_bound: Vec<String>,
    /// Pods the scheduler could not place (recorded when their `PodScheduled` condition changed).
    pub pods_unschedulable: Vec<String>,
    /// Pods a kubelet reported Running and Ready.
    pub pods_started: Vec<String>,
    /// Pods marked not Ready because their Node is not Ready.
    pub pods_not_ready: Vec<String>,
    /// Pods deleted by taint-based eviction.
    pub pods_evicted: Vec<String>,
    /// Pods deleted by pod GC because their Node is gone.
    pub pods_collected: Vec<String>,
    /// Deployments, ReplicaSets, DaemonSets and Deployments' metadata whose status or revision was written.
    pub statuses_updated: Vec<String>,
    /// Objects skipped because they are not valid, with what is wrong and where.
    pub invalid: Vec<String>,
    /// Writes that met a conflict or a vanished object; the next pass retries from fresh state.
    pub conflicts: Vec<String>,
    /// Write requests the controllers made before the volume provisioner (answered or refused
    /// with a conflict): each may leave the lists read earlier in the pass stale.
    pub writes: usize,
    /// The earliest time a pending taint-based eviction falls due, if any.
    pub next_eviction: Option<Timestamp>,
    /// What the volume provisioner did (provisioned, bound, reclaimed, events), `namespace/name: what`.
    pub volumes: Vec<String>,
}

impl WorkloadReport {
    /// Whether the pass changed anything in the cluster.
    pub fn changed(&self) -> bool {
        !(self.replica_sets_created.is_empty()
            && self.replica_sets_scaled.is_empty()
            && self.replica_sets_deleted.is_empty()
            && self.adopted.is_empty()
            && self.pods_created.is_empty()
            && self.pods_deleted.is_empty()
            && self.pods_bound.is_empty()
            && self.pods_unschedulable.is_empty()
            && self.pods_started.is_empty()
            && self.pods_not_ready.is_empty()
            && self.pods_evicted.is_empty()
            && self.pods_collected.is_empty()
            && self.statuses_updated.is_empty()
            && self.volumes.is_empty())
    }
}

/// The workload controllers, scheduler and kubelets of one workload cluster.
#[derive(Clone)]
pub struct WorkloadControllers {
    client: Client,
    clock: Arc<dyn Clock>,
    names: NameGenerator,
    datastore: Option<Datastore>,
}

impl WorkloadControllers {
    /// Controllers for the workload cluster behind `client`; `seed` makes generated Pod names
    /// repeatable (the same seed and the same history give the same names).
    pub fn new(client: Client, clock: Arc<dyn Clock>, seed: u64) -> Self {
        WorkloadControllers {
            client,
            clock,
            names: NameGenerator::new(seed),
            datastore: None,
        }
    }

    /// Provisions PersistentVolumeClaims into `datastore` (see [`volumes`]); without one the
    /// volume provisioner does nothing.
    pub fn with_datastore(mut self, datastore: Datastore) -> Self {
        self.datastore = Some(datastore);
        self
    }

    /// One level-triggered pass: pod GC and taint-based eviction, the Deployment, ReplicaSet and
    /// DaemonSet controllers, the scheduler, the kubelets, every controller's status, then the
    /// volume provisioner.
    pub async fn sync(&self) -> Result<WorkloadReport, kube::Error> {
        let mut report = WorkloadReport::default();
        let now = self.clock.now();

        let nodes = self.nodes(&mut report).await?;
        // Pods and ReplicaSets are read again before a step only if the pass wrote since the
        // last read (reads are the informer's view: current, since nothing else writes here).
        let mut pods = PassList::default();
        let mut replica_sets = PassList::default();
        eviction::run(self, &nodes, self.current(&mut pods, &mut report).await?, now, &mut report).await?;

        let deployments = self.list::<Deployment>(&mut report).await?;
        let (p, r) = (
            self.current(&mut pods, &mut report).await?,
            self.current(&mut replica_sets, &mut report).await?,
        );
        deployments::reconcile(self, &deployments, r, p, now, &mut report).await?;

        let p = self.current(&mut pods, &mut report).await?;
        let mut names = PodNames::new(p);
        let r = self.current(&mut replica_sets, &mut report).await?;
        replicasets::reconcile(self, r, p, &mut names, &mut report).await?;

        let daemon_sets = self.list::<DaemonSet>(&mut report).await?;
        let p = self.current(&mut pods, &mut report).await?;
        daemonsets::reconcile(self, &daemon_sets, &nodes, p, &mut names, now, &mut report).await?;

        scheduling::schedule(self, &nodes, self.current(&mut pods, &mut report).await?, now, &mut report).await?;
        kubelet::run(self, &nodes, self.current(&mut pods, &mut report).await?, now, &mut report).await?;

        let (p, r) = (
            self.current(&mut pods, &mut report).await?,
            self.current(&mut replica_sets, &mut report).await?,
        );
        replicasets::write_status(self, r, p, now, &mut report).await?;
        daemonsets::write_status(self, &daemon_sets, &nodes, p, now, &mut report).await?;
        let r = self.current(&mut replica_sets, &mut report).await?;
        deployments::write_status(self, &deployments, r, p, now, &mut report).await?;
        volumes::reconcile(self, now, &mut report).await?;
        Ok(report)
    }

    fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `list`'s objects, read again only if the pass wrote since they were read.
    async fn current<'a, K>(&self, list: &'a mut PassList<K>, report: &mut WorkloadReport) -> Result<&'a [K], kube::Error>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + std::fmt::Debug,
    {
        if list.read_at != Some(report.writes) {
            list.items = self.list::<K>(report).await?;
            list.read_at = Some(report.writes);
        }
        Ok(&list.items)
    }

    /// Lists every object of a kind; objects that do not decode are reported as invalid and skipped,
    /// so one malformed object cannot stop the controllers.
    async fn list<K>(&self, report: &mut WorkloadReport) -> Result<Vec<K>, kube::Error>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + std::fmt::Debug,
    {
        let mut out = match Api::<K>::all(self.client.clone()).list(&ListParams::default()).await {
            Ok(list) => list.items,
            // Some object does not decode: read them one by one to skip only the bad ones.
            Err(kube::Error::SerdeError(_)) => self.list_tolerant::<K>(report).await?,
            Err(e) => return Err(e),
        };
        out.sort_by(|a, b| {
            (a.meta().namespace.as_deref(), a.meta().name.as_deref()).cmp(&(b.meta().namespace.as_deref(), b.meta().name.as_deref()))
        });
        Ok(out)
    }

    /// [`Self::list`] through untyped objects, reporting those that do not decode as invalid.
    async fn list_tolerant<K>(&self, report: &mut WorkloadReport) -> Result<Vec<K>, kube::Error>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let resource = ApiResource::erase::<K>(&());
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let mut out = Vec::new();
        for obj in api.list(&ListParams::default()).await? {
            let at = format!(
                "{} {}/{}",
                resource.kind,
                obj.metadata.namespace.as_deref().unwrap_or(""),
                obj.metadata.name.as_deref().unwrap_or("")
            );
            match serde_json::to_value(&obj).and_then(serde_json::from_value::<K>) {
                Ok(k) => out.push(k),
                Err(e) => note_invalid(report, format!("{at}: does not decode as {}: {e}", resource.kind)),
            }
        }
        Ok(out)
    }

    async fn nodes(&self, report: &mut WorkloadReport) -> Result<Vec<scheduling::NodeView>, kube::Error> {
        Ok(self
            .list::<Node>(report)
            .await?
            .iter()
            .map(scheduling::NodeView::from_node)
            .collect())
    }
}

/// A list read during a pass, and the pass's write count when it was read.
struct PassList<K> {
    items: Vec<K>,
    read_at: Option<usize>,
}

impl<K> Default for PassList<K> {
    fn default() -> Self {
        PassList {
            items: Vec::new(),
            read_at: None,
        }
    }
}

fn note_invalid(report: &mut WorkloadReport, entry: String) {
    if !report.invalid.contains(&entry) {
        report.invalid.push(entry);
    }
}

/// `namespace/name` of an object.
pub(crate) fn key_of(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

fn uid_of(meta: &ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or("")
}

/// The uid of the object's controller owner, if any.
fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// A controller owner reference to `owner`.
fn controller_ref(kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name_of(owner).into(),
        uid: uid_of(owner).into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn labels_map(labels: Option<&BTreeMap<String, String>>) -> Map<String, Value> {
    labels
        .map(|l| l.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
        .unwrap_or_default()
}

/// Parses a workload's `spec.selector` and checks that its pod template's labels match it,
/// as kube-apiserver's validation would; `Err` says what is wrong and where.
fn workload_selector(
    kind: &str,
    meta: &ObjectMeta,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    template_labels: Option<&BTreeMap<String, String>>,
) -> Result<LabelSelector, String> {
    let at = format!("{kind} {}", key_of(meta));
    let raw = serde_json::to_value(selector).map_err(|e| format!("{at}: spec.selector: {e}"))?;
    let parsed = LabelSelector::from_object(&raw).map_err(|e| format!("{at}: spec.selector: {e}"))?;
    if parsed.is_empty() {
        return Err(format!(
            "{at}: spec.selector: Invalid value: empty selector is invalid for a {kind}"
        ));
    }
    if !parsed.matches(Some(&labels_map(template_labels))) {
        return Err(format!(
            "{at}: spec.template.metadata.labels: Invalid value: {:?}: `selector` does not match template `labels`",
            template_labels.cloned().unwrap_or_default()
        ));
    }
    Ok(parsed)
}

fn selects(selector: &LabelSelector, meta: &ObjectMeta) -> bool {
    selector.matches(Some(&labels_map(meta.labels.as_ref())))
}

/// Whether a Pod still counts: not being deleted and not finished.
fn pod_active(pod: &Pod) -> bool {
    !is_deleting(&pod.metadata) && !matches!(pod_phase(pod), "Succeeded" | "Failed")
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

fn pod_node(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

/// Since when the Pod has been Ready, if it is.
fn pod_ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

fn pod_ready(pod: &Pod) -> bool {
    pod_ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds`, as upstream's `IsPodAvailable`.
fn pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match pod_ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since
            .checked_add(jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .is_ok_and(|t| t <= now),
    }
}

/// Counts of a set of Pods, as ReplicaSet and Deployment status report them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct PodCounts {
    active: i32,
    ready: i32,
    available: i32,
}

fn count_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>, min_ready_seconds: i32, now: Timestamp) -> PodCounts {
    let mut counts = PodCounts::default();
    for pod in pods.into_iter().filter(|p| pod_active(p)) {
        counts.active += 1;
        counts.ready += i32::from(pod_ready(pod));
        counts.available += i32::from(pod_available(pod, min_ready_seconds, now));
    }
    counts
}

/// Active Pods whose controller is the object with `uid`.
fn owned_pods<'a>(pods: &'a [Pod], uid: &str) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| pod_active(p) && controller_uid(&p.metadata) == Some(uid))
        .collect()
}

/// Pod names taken per namespace, so generated names never clash with existing Pods.
struct PodNames {
    taken: BTreeSet<(String, String)>,
}

impl PodNames {
    fn new(pods: &[Pod]) -> Self {
        PodNames {
            taken: pods
                .iter()
                .map(|p| (ns_of(&p.metadata).to_string(), name_of(&p.metadata).to_string()))
                .collect(),
        }
    }

    /// `<base>-<5 chars>` from the seeded generator (base cut to 58 characters, as upstream's
    /// `SimpleNameGenerator`), unique in the namespace.
    fn generate(&mut self, generator: &NameGenerator, namespace: &str, base: &str) -> String {
        let prefix: String = format!("{base}-").chars().take(58).collect();
        loop {
            let name = generator.generate(&prefix);
            if self.taken.insert((namespace.to_string(), name.clone())) {
                return name;
            }
        }
    }
}

/// 32-bit FNV-1a over the canonical JSON of `value` (object keys sorted).
fn fnv32a(value: &Value, extra: Option<i32>) -> u32 {
    let mut text = String::new();
    canonical(value, &mut text);
    if let Some(extra) = extra {
        text.push_str(&extra.to_string());
    }
    text.bytes()
        .fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hash label value for a pod template, encoded as upstream's `SafeEncodeString` of the
/// decimal hash (only characters of the name alphabet).
fn template_hash(template: &Value, collision_count: Option<i32>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    fnv32a(template, collision_count)
        .to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// Sets a condition in a condition list, keeping `lastTransitionTime` while the status holds;
/// `touch` also moves `lastUpdateTime` when nothing else changed.
fn set_condition(conditions: &mut Vec<Value>, type_: &str, status: &str, reason: &str, message: &str, now: &str, touch: bool) {
    let existing = conditions.iter_mut().find(|c| c["type"] == type_);
    match existing {
        Some(c) => {
            let same_status = c["status"] == status;
            let same = same_status && c["reason"] == reason && c["message"] == message;
            if !same_status {
                c["lastTransitionTime"] = json!(now);
            }
            if !same || touch {
                c["lastUpdateTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
        }
        None => conditions.push(json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now,
        })),
    }
}

/// Whether a write error means "state moved under us; retry next pass" (409 or 404).
fn is_retryable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 || s.code == 404)
}

/// Turns a retryable write error into a report entry; other errors stop the pass.
fn tolerate<T>(result: Result<T, kube::Error>, what: &str, report: &mut WorkloadReport) -> Result<Option<T>, kube::Error> {
    report.writes += 1;
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_retryable(&e) => {
            report.conflicts.push(format!("{what}: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_order_independent() {
        let a = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let b = json!({"spec": {"containers": [{"image": "nginx", "name": "c"}]}, "metadata": {"labels": {"tier": "front", "app": "web"}}});
        assert_eq!(template_hash(&a, None), template_hash(&b, None));
        assert_ne!(
            template_hash(&a, None),
            template_hash(&a, Some(1)),
            "a collision count changes the hash"
        );
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}});
        assert_ne!(template_hash(&a, None), template_hash(&c, None));
        assert!(template_hash(&a, None).bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now: Timestamp = "2022-12-07T17:10:42Z".parse().expect("time");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2022-12-07T17:10:40Z"}]},
        }))
        .expect("pod");
        assert!(pod_available(&pod, 0, now));
        assert!(pod_available(&pod, 2, now));
        assert!(!pod_available(&pod, 3, now));
    }

    #[test]
    fn conditions_keep_transition_time_while_status_holds() {
        let mut cs = Vec::new();
        set_condition(&mut cs, "Available", "True", "MinimumReplicasAvailable", "m", "t1", false);
        set_condition(&mut cs, "Available", "True", "MinimumReplicasAvailable", "m", "t2", false);
        assert_eq!(
            (cs[0]["lastTransitionTime"].as_str(), cs[0]["lastUpdateTime"].as_str()),
            (Some("t1"), Some("t1"))
        );
        set_condition(&mut cs, "Available", "False", "MinimumReplicasUnavailable", "n", "t3", false);
        assert_eq!(
            (cs[0]["lastTransitionTime"].as_str(), cs[0]["lastUpdateTime"].as_str()),
            (Some("t3"), Some("t3"))
        );
        set_condition(&mut cs, "Available", "False", "MinimumReplicasUnavailable", "n", "t4", true);
        assert_eq!(
            (cs[0]["lastTransitionTime"].as_str(), cs[0]["lastUpdateTime"].as_str()),
            (Some("t3"), Some("t4"))
        );
    }
}
