//! Workloads inside a workload cluster: DaemonSets, Deployments, the scheduler, kubelets,
//! taint-based eviction, and the real `kubectl drain` moving Pods between Nodes.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use drdrill_capi_sim::workloads::{POD_TEMPLATE_HASH_LABEL, WorkloadControllers, WorkloadReport};
use drdrill_kube_sim::ApiServer;
use drdrill_kube_sim::clock::{Clock, VirtualClock, k8s_time};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const NS: &str = "default";
const CP: &str = "wc-control-plane-1";
const W1: &str = "wc-md-0-worker-1";
const W2: &str = "wc-md-0-worker-2";

struct Cluster {
    server: ApiServer,
    client: Client,
    clock: VirtualClock,
    controllers: WorkloadControllers,
}

impl Cluster {
    async fn new(seed: u64) -> Cluster {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let (server, client) = common::server("wc", &clock).await;
        let controllers = WorkloadControllers::new(client.clone(), Arc::new(clock.clone()), seed);
        Cluster {
            server,
            client,
            clock,
            controllers,
        }
    }

    /// A Node as a kubelet registers it (see node_agent.rs); control-plane Nodes carry the NoSchedule taint.
    async fn node(&self, name: &str, control_plane: bool, ip: &str) {
        let now = k8s_time(self.clock.now());
        let mut labels = json!({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"});
        let mut taints = json!([]);
        if control_plane {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
            taints = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
        }
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now, "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]},
        }))
        .expect("node");
        Api::<Node>::all(self.client.clone())
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }

    async fn three_nodes(&self) {
        self.node(CP, true, "10.0.0.10").await;
        self.node(W1, false, "10.0.0.11").await;
        self.node(W2, false, "10.0.0.12").await;
    }

    async fn create<K>(&self, obj: Value)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + k8s_openapi::serde::Serialize
            + k8s_openapi::serde::de::DeserializeOwned,
    {
        let obj: K = serde_json::from_value(obj).expect("object");
        Api::<K>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &obj)
            .await
            .expect("create");
    }

    async fn antrea(&self) {
        self.create::<DaemonSet>(json!({
            "metadata": {"name": "antrea-agent", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": "antrea"}},
                "template": {"metadata": {"labels": {"app": "antrea"}},
                    "spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "antrea-agent", "image": "antrea/antrea-ubuntu:v1.9.0"}]}}},
        }))
        .await;
    }

    async fn web(&self, replicas: i32) {
        self.create::<Deployment>(json!({
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.23"}],
                             "volumes": [{"name": "cache", "emptyDir": {}}]}}},
        }))
        .await;
    }

    async fn sync(&self) -> WorkloadReport {
        let report = self.controllers.sync().await.expect("workload pass");
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        report
    }

    /// Passes a second apart until one changes nothing.
    async fn settle(&self) {
        for _ in 0..30 {
            let report = self.sync().await;
            self.clock.advance(Duration::from_secs(1));
            if !report.changed() {
                return;
            }
        }
        panic!("workloads did not settle in 30 passes");
    }

    async fn pods(&self) -> Vec<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), NS)
            .list(&Default::default())
            .await
            .expect("pods")
            .items
    }

    /// Pod names by Node for Pods whose name starts with `prefix`.
    async fn placement(&self, prefix: &str) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pod in self.pods().await.into_iter().filter(|p| p.name_any().starts_with(prefix)) {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
            out.entry(node).or_default().push(pod.name_any());
        }
        out
    }

    async fn deployment(&self) -> Deployment {
        Api::<Deployment>::namespaced(self.client.clone(), NS)
            .get("web")
            .await
            .expect("deployment")
    }

    async fn replica_sets(&self) -> Vec<ReplicaSet> {
        Api::<ReplicaSet>::namespaced(self.client.clone(), NS)
            .list(&Default::default())
            .await
            .expect("replicasets")
            .items
    }

    async fn set_ready(&self, node: &str, status: &str) {
        let now = k8s_time(self.clock.now());
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": status, "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
        Api::<Node>::all(self.client.clone())
            .patch_status(node, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("node status");
    }
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn counts(map: &BTreeMap<String, Vec<String>>) -> BTreeMap<&str, usize> {
    map.iter().map(|(k, v)| (k.as_str(), v.len())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_places_one_pod_per_eligible_node() {
    let c = Cluster::new(7).await;
    c.three_nodes().await;
    c.node("wc-windows-1", false, "10.0.0.13").await;
    Api::<Node>::all(c.client.clone())
        .patch(
            "wc-windows-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"kubernetes.io/os": "windows"}}})),
        )
        .await
        .expect("label");
    c.antrea().await;
    // A second DaemonSet tolerates the control-plane taint, as kube-proxy does.
    c.create::<DaemonSet>(json!({
        "metadata": {"name": "kube-proxy", "namespace": NS},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {"tolerations": [{"operator": "Exists"}], "hostNetwork": true,
                         "containers": [{"name": "kube-proxy", "image": "kube-proxy:v1.24.10"}]}}},
    }))
    .await;
    c.settle().await;

    let antrea = c.placement("antrea-agent-").await;
    assert_eq!(
        counts(&antrea),
        BTreeMap::from([(W1, 1), (W2, 1)]),
        "no pod on the tainted control plane or the windows node"
    );
    let proxy = c.placement("kube-proxy-").await;
    assert_eq!(counts(&proxy), BTreeMap::from([(CP, 1), ("wc-windows-1", 1), (W1, 1), (W2, 1)]));
    for pod in c.pods().await {
        let name = pod.name_any();
        let base = if name.starts_with("antrea-agent-") {
            "antrea-agent-"
        } else {
            "kube-proxy-"
        };
        assert_eq!(name.len(), base.len() + 5, "{name} is <daemonset>-<5 chars>");
        let owner = &pod.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("DaemonSet", Some(true)));
        let status = pod.status.clone().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"), "{name}");
        assert!(ready(&pod), "{name}");
        assert!(status.start_time.is_some() && status.pod_ip.is_some(), "{name}");
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).expect("bound");
        let terms = serde_json::to_value(&pod.spec.as_ref().expect("spec").affinity).expect("affinity");
        assert_eq!(
            terms.pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0"),
            Some(&json!(node)),
            "daemon pods name their node in a required affinity term"
        );
        if name.starts_with("kube-proxy-") {
            assert_eq!(status.pod_ip, status.host_ip, "a hostNetwork pod uses the node's IP");
        }
    }
    let ds = Api::<DaemonSet>::namespaced(c.client.clone(), NS)
        .get("antrea-agent")
        .await
        .expect("ds");
    let st = ds.status.expect("ds status");
    assert_eq!(
        (
            st.desired_number_scheduled,
            st.current_number_scheduled,
            st.number_ready,
            st.number_available,
            st.updated_number_scheduled
        ),
        (2, 2, 2, Some(2), Some(2))
    );
    assert_eq!(st.observed_generation, Some(1));

    // A new worker gets a daemon pod; a deleted one loses it (pod GC).
    c.node("wc-md-0-worker-3", false, "10.0.0.14").await;
    Api::<Node>::all(c.client.clone())
        .delete(W1, &Default::default())
        .await
        .expect("delete node");
    c.settle().await;
    let antrea = c.placement("antrea-agent-").await;
    assert_eq!(counts(&antrea), BTreeMap::from([(W2, 1), ("wc-md-0-worker-3", 1)]));
    let st = Api::<DaemonSet>::namespaced(c.client.clone(), NS)
        .get("antrea-agent")
        .await
        .expect("ds")
        .status
        .expect("status");
    assert_eq!((st.desired_number_scheduled, st.number_ready), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_spreads_over_the_workers() {
    let c = Cluster::new(7).await;
    c.three_nodes().await;
    c.antrea().await;
    c.web(4).await;
    c.settle().await;

    let sets = c.replica_sets().await;
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs.labels().get(POD_TEMPLATE_HASH_LABEL).cloned().expect("hash label");
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert_eq!(rs.owner_references()[0].kind, "Deployment");
    assert_eq!(rs.spec.as_ref().and_then(|s| s.replicas), Some(4));
    let rs_status = rs.status.clone().expect("rs status");
    assert_eq!(
        (
            rs_status.replicas,
            rs_status.ready_replicas,
            rs_status.available_replicas,
            rs_status.fully_labeled_replicas
        ),
        (4, Some(4), Some(4), Some(4))
    );

    let web = c.placement("web-").await;
    assert_eq!(counts(&web), BTreeMap::from([(W1, 2), (W2, 2)]), "{web:?}");
    for pod in c.pods().await.into_iter().filter(|p| p.name_any().starts_with("web-")) {
        assert!(pod.name_any().starts_with(&format!("web-{hash}-")) && pod.name_any().len() == format!("web-{hash}-").len() + 5);
        assert_eq!(pod.labels().get(POD_TEMPLATE_HASH_LABEL), Some(&hash));
        assert!(ready(&pod));
        let status = pod.status.expect("status");
        let node = pod.spec.and_then(|s| s.node_name).expect("node");
        let host = if node == W1 { "10.0.0.11" } else { "10.0.0.12" };
        assert_eq!(status.host_ip.as_deref(), Some(host));
        assert_eq!(status.container_statuses.as_ref().map(|cs| cs[0].ready), Some(true));
    }

    let d = c.deployment().await;
    let st = d.status.clone().expect("status");
    assert_eq!(
        (
            st.replicas,
            st.updated_replicas,
            st.ready_replicas,
            st.available_replicas,
            st.observed_generation
        ),
        (Some(4), Some(4), Some(4), Some(4), Some(1))
    );
    let conds: Vec<(String, String, String)> = st
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.type_, c.status, c.reason.unwrap_or_default()))
        .collect();
    assert_eq!(
        conds,
        [
            ("Available".into(), "True".into(), "MinimumReplicasAvailable".into()),
            ("Progressing".into(), "True".into(), "NewReplicaSetAvailable".into())
        ]
    );
    assert_eq!(
        d.annotations().get("deployment.kubernetes.io/revision").map(String::as_str),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_keeps_three_of_four_available() {
    let c = Cluster::new(11).await;
    c.three_nodes().await;
    c.web(4).await;
    c.settle().await;
    let first = c.replica_sets().await[0].name_any();
    Api::<Deployment>::namespaced(c.client.clone(), NS)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}})),
        )
        .await
        .expect("new image");
    let mut passes = 0;
    let mut mixed = 0;
    loop {
        let report = c.sync().await;
        c.clock.advance(Duration::from_secs(1));
        let pods = c.pods().await;
        let available = pods.iter().filter(|p| ready(p)).count();
        assert!(
            available >= 3,
            "maxUnavailable 25% of 4 keeps 3 available; {available} after {report:?}"
        );
        assert!(
            pods.len() <= 5,
            "maxSurge 25% of 4 allows one extra pod; {} after {report:?}",
            pods.len()
        );
        let old_pods = pods.iter().filter(|p| p.name_any().starts_with(&format!("{first}-"))).count();
        if old_pods > 0 && old_pods < pods.len() {
            mixed += 1;
        }
        passes += 1;
        if !report.changed() || passes > 30 {
            break;
        }
    }
    assert!(mixed >= 2, "old and new pods ran side by side over several passes ({mixed})");
    let sets = c.replica_sets().await;
    assert_eq!(sets.len(), 2, "old ReplicaSet kept as history");
    let (old, new): (Vec<_>, Vec<_>) = sets.into_iter().partition(|rs| rs.name_any() == first);
    assert_eq!(old[0].spec.as_ref().and_then(|s| s.replicas), Some(0));
    assert_eq!(new[0].spec.as_ref().and_then(|s| s.replicas), Some(4));
    assert_eq!(
        new[0].annotations().get("deployment.kubernetes.io/revision").map(String::as_str),
        Some("2")
    );
    let images: Vec<String> = c
        .pods()
        .await
        .iter()
        .map(|p| p.spec.as_ref().expect("spec").containers[0].image.clone().unwrap_or_default())
        .collect();
    assert_eq!(images, vec!["nginx:1.25"; 4]);
    let st = c.deployment().await.status.expect("status");
    assert_eq!(
        (st.updated_replicas, st.available_replicas, st.observed_generation),
        (Some(4), Some(4), Some(2))
    );
    assert_eq!(counts(&c.placement("web-").await), BTreeMap::from([(W1, 2), (W2, 2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_node_loses_its_pods_after_300_seconds() {
    let c = Cluster::new(7).await;
    c.three_nodes().await;
    c.antrea().await;
    c.web(4).await;
    c.settle().await;
    let before = c.placement("web-").await;
    let on_w1 = before.get(W1).cloned().expect("pods on worker 1");
    let antrea_w1 = c.placement("antrea-agent-").await.get(W1).cloned().expect("daemon pod on worker 1");

    c.set_ready(W1, "Unknown").await;
    let went_down = c.clock.now();
    let report = c.sync().await;
    assert_eq!(
        report.next_eviction,
        Some(went_down.checked_add(jiff::SignedDuration::from_secs(300)).expect("time"))
    );
    assert!(report.pods_evicted.is_empty());
    let pods = c.pods().await;
    for name in &on_w1 {
        let pod = pods.iter().find(|p| &p.name_any() == name).expect("still there");
        assert!(!ready(pod), "{name} turned NotReady with its node");
    }
    assert_eq!(c.deployment().await.status.and_then(|s| s.available_replicas), Some(2));

    c.clock.advance(Duration::from_secs(299));
    let report = c.sync().await;
    assert!(
        report.pods_evicted.is_empty(),
        "one second before tolerationSeconds ran out: {report:?}"
    );
    c.clock.advance(Duration::from_secs(1));
    let report = c.sync().await;
    let mut evicted = report.pods_evicted.clone();
    evicted.sort();
    let mut expected: Vec<String> = on_w1.iter().map(|n| format!("{NS}/{n}")).collect();
    expected.sort();
    assert_eq!(
        evicted, expected,
        "the Deployment's pods leave; the daemon pod tolerates the outage"
    );
    c.settle().await;

    let after = c.placement("web-").await;
    assert_eq!(counts(&after), BTreeMap::from([(W2, 4)]), "recreated on the Ready worker");
    assert_eq!(c.placement("antrea-agent-").await.get(W1), Some(&antrea_w1));
    assert_eq!(c.deployment().await.status.and_then(|s| s.available_replicas), Some(4));

    // Back up: new pods spread onto it again only when the Deployment scales.
    c.set_ready(W1, "True").await;
    Api::<Deployment>::namespaced(c.client.clone(), NS)
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 6}})))
        .await
        .expect("scale");
    c.settle().await;
    assert_eq!(counts(&c.placement("web-").await), BTreeMap::from([(W1, 2), (W2, 4)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_wait_pending_with_the_schedulers_reason() {
    let c = Cluster::new(7).await;
    c.node(CP, true, "10.0.0.10").await;
    c.node(W1, false, "10.0.0.11").await;
    Api::<Node>::all(c.client.clone())
        .patch(W1, &PatchParams::default(), &Patch::Merge(json!({"spec": {"unschedulable": true}})))
        .await
        .expect("cordon");
    c.web(1).await;
    c.settle().await;
    let pod = c.pods().await.pop().expect("a pod");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"));
    let cond = pod
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "PodScheduled"))
        .expect("PodScheduled");
    assert_eq!((cond.status.as_str(), cond.reason.as_deref()), ("False", Some("Unschedulable")));
    assert_eq!(
        cond.message.as_deref(),
        Some(
            "0/2 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable."
        )
    );
    Api::<Node>::all(c.client.clone())
        .patch(
            W1,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .expect("uncordon");
    c.settle().await;
    let pod = c.pods().await.pop().expect("a pod");
    assert_eq!(pod.spec.and_then(|s| s.node_name).as_deref(), Some(W1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_pod_names() {
    async fn names(seed: u64) -> Vec<String> {
        let c = Cluster::new(seed).await;
        c.three_nodes().await;
        c.antrea().await;
        c.web(4).await;
        c.settle().await;
        let mut names: Vec<String> = c.pods().await.iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }
    let a = names(7).await;
    assert_eq!(a.len(), 6);
    assert_eq!(a, names(7).await);
    assert_ne!(a, names(8).await);
}

/// The real kubectl, as the root package's tests run it: a missing kubectl fails in CI and
/// skips elsewhere.
fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("kubectl")).find(|p| p.is_file()));
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    match found {
        Some(p) => Some(p),
        None if ci => panic!("kubectl is not on PATH, and CI=true requires it"),
        None => {
            eprintln!("SKIPPED: kubectl is not on PATH; install it to run this test");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_moves_the_deployments_pods_to_the_other_worker() {
    let Some(kubectl) = kubectl() else { return };
    let c = Cluster::new(7).await;
    c.three_nodes().await;
    c.antrea().await;
    c.web(4).await;
    c.settle().await;
    let antrea_w1 = c.placement("antrea-agent-").await.get(W1).cloned().expect("daemon pod on worker 1");
    let web_w1 = c.placement("web-").await.get(W1).cloned().expect("web pods on worker 1");
    assert_eq!(web_w1.len(), 2);

    // The controllers keep running while kubectl drains, as in a real cluster.
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (controllers, clock, stop) = (c.controllers.clone(), c.clock.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                controllers.sync().await.expect("workload pass during the drain");
                clock.advance(Duration::from_secs(1));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    c.server.write_kubeconfig(&kubeconfig, "wc-admin@wc").expect("kubeconfig");
    let mut cmd = std::process::Command::new(kubectl);
    cmd.args(["drain", W1, "--delete-emptydir-data", "--ignore-daemonsets", "--timeout=60s"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .env("KUBECACHEDIR", dir.path().join("cache"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("kubectl runs");
    stop.store(true, Ordering::SeqCst);
    background.await.expect("background passes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl drain failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("node/{W1} drained")), "{stdout}");
    for name in &web_w1 {
        assert!(stdout.contains(&format!("pod/{name} evicted")), "{stdout}");
    }
    assert!(stderr.to_lowercase().contains("ignoring daemonset-managed pods"), "{stderr}");

    c.settle().await;
    let web = c.placement("web-").await;
    assert_eq!(counts(&web), BTreeMap::from([(W2, 4)]), "{web:?}");
    for gone in &web_w1 {
        assert!(!web.values().flatten().any(|n| n == gone), "{gone} was evicted and replaced");
    }
    assert_eq!(c.placement("antrea-agent-").await.get(W1), Some(&antrea_w1), "the daemon pod stays");
    assert!(c.pods().await.iter().all(ready));
    let st = c.deployment().await.status.expect("status");
    assert_eq!((st.replicas, st.available_replicas), (Some(4), Some(4)));
    let node = Api::<Node>::all(c.client.clone()).get(W1).await.expect("node");
    assert_eq!(node.spec.and_then(|s| s.unschedulable), Some(true), "drain cordons");
}
