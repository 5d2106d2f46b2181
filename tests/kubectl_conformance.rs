//! The real kubectl drives the embedded API server the way the runbooks do.

mod support;

use std::time::Duration;

use support::Env;

const CRD: &str = include_str!("fixtures/widgets-crd.yaml");

const WIDGET: &str = r#"apiVersion: drill.example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: default
  labels:
    tier: gold
spec:
  size: small
  replicas: 2
"#;

async fn env_with_widgets() -> Option<Env> {
    let env = Env::start("tkg-vc-antrea-admin@tkg-vc-antrea").await?;
    env.kubectl_stdin(&["apply", "-f", "-"], CRD).await.expect_ok("apply CRD");
    env.kubectl_stdin(&["apply", "-f", "-"], WIDGET).await.expect_ok("apply widget");
    Some(env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_context_is_the_callers_and_private() {
    let Some(env) = Env::start("tkg-vc-antrea-admin@tkg-vc-antrea").await else {
        return;
    };
    let ctx = env.kubectl(&["config", "current-context"]).await.expect_ok("current-context");
    assert_eq!(ctx.trim(), "tkg-vc-antrea-admin@tkg-vc-antrea");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env.kubeconfig).expect("kubeconfig exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "kubeconfig mode");
    }
    let out = env.kubectl(&["get", "namespaces", "-o", "name"]).await.expect_ok("get ns");
    assert!(out.contains("namespace/kube-system"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_custom_resources_in_every_format() {
    let Some(env) = env_with_widgets().await else { return };
    let table = env.kubectl(&["get", "widgets"]).await.expect_ok("get table");
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "REPLICAS", "READY", "AGE"], "{table}");
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("w1 ") && l.contains(" 2 ")),
        "{table}"
    );

    let json = env.kubectl(&["get", "wg", "w1", "-o", "json"]).await.expect_ok("get json");
    let obj: serde_json::Value = serde_json::from_str(&json).expect("kubectl printed JSON");
    assert_eq!(obj["spec"]["replicas"], 2);
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(obj["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));

    let name = env.kubectl(&["get", "drill", "-o", "name"]).await.expect_ok("get by category");
    assert_eq!(name.trim(), "widget.drill.example.com/w1");

    let cols = env
        .kubectl(&[
            "get",
            "widgets",
            "-o",
            "custom-columns=N:.metadata.name,S:.spec.size,T:.metadata.labels.tier",
        ])
        .await
        .expect_ok("custom columns");
    assert_eq!(
        cols.lines().nth(1).map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["w1", "small", "gold"]),
        "{cols}"
    );

    let old = env
        .kubectl(&["get", "widgets.v1beta1.drill.example.com", "w1", "-o", "jsonpath={.apiVersion}"])
        .await
        .expect_ok("other version");
    assert_eq!(old, "drill.example.com/v1beta1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_label_annotate_scale_and_delete() {
    let Some(env) = env_with_widgets().await else { return };
    env.kubectl(&["patch", "widget", "w1", "--type", "merge", "-p", r#"{"spec":{"paused":true}}"#])
        .await
        .expect_ok("merge patch");
    env.kubectl(&[
        "patch",
        "widget",
        "w1",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/size","value":"large"}]"#,
    ])
    .await
    .expect_ok("json patch");
    let strategic = env
        .kubectl(&["patch", "widget", "w1", "--type", "strategic", "-p", r#"{"spec":{"size":"small"}}"#])
        .await;
    assert!(
        !strategic.ok && strategic.stderr.contains("UnsupportedMediaType") || strategic.stderr.contains("unknown format"),
        "strategic merge on a CR must be refused: {strategic:?}"
    );
    env.kubectl(&["label", "widget", "w1", "env=drill"]).await.expect_ok("label");
    env.kubectl(&["annotate", "widget", "w1", "note=rehearsal"])
        .await
        .expect_ok("annotate");
    env.kubectl(&["scale", "widget", "w1", "--replicas=5"]).await.expect_ok("scale");
    let json = env.kubectl(&["get", "widget", "w1", "-o", "json"]).await.expect_ok("get");
    let obj: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(obj["spec"]["paused"], true);
    assert_eq!(obj["spec"]["size"], "large");
    assert_eq!(obj["spec"]["replicas"], 5);
    assert_eq!(obj["metadata"]["labels"]["env"], "drill");
    assert_eq!(obj["metadata"]["annotations"]["note"], "rehearsal");
    assert_eq!(
        obj["metadata"]["generation"], 4,
        "three spec changes after creation; labels/annotations do not count"
    );

    let bad = env
        .kubectl(&["patch", "widget", "w1", "--type", "merge", "-p", r#"{"spec":{"size":"huge"}}"#])
        .await;
    assert!(
        !bad.ok && bad.stderr.contains("spec.size") && bad.stderr.contains("Unsupported value"),
        "{bad:?}"
    );

    env.kubectl(&["delete", "widget", "w1"]).await.expect_ok("delete");
    let gone = env.kubectl(&["get", "widget", "w1"]).await;
    assert!(!gone.ok && gone.stderr.contains("NotFound"), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_condition_and_watch_events() {
    let Some(env) = env_with_widgets().await else { return };
    let mut watch_cmd = std::process::Command::new(&env.kubectl);
    watch_cmd
        .args(["get", "widgets", "-w", "--no-headers", "--request-timeout=20s"])
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HOME", env.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let watcher = watch_cmd.spawn().expect("kubectl get -w starts");

    let waiter = {
        let kubectl = env.kubectl.clone();
        let kubeconfig = env.kubeconfig.clone();
        let home = env.dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(kubectl)
                .args(["wait", "widget/w1", "--for=condition=Ready", "--timeout=30s"])
                .env("KUBECONFIG", kubeconfig)
                .env("HOME", home)
                .output()
                .expect("kubectl wait runs")
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    env.kubectl(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ])
    .await
    .expect_ok("status patch");
    let waited = waiter.await.expect("join");
    assert!(waited.status.success(), "kubectl wait: {}", String::from_utf8_lossy(&waited.stderr));
    assert!(String::from_utf8_lossy(&waited.stdout).contains("condition met"));

    env.kubectl_stdin(&["apply", "-f", "-"], &WIDGET.replace("name: w1", "name: w2"))
        .await
        .expect_ok("second widget");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut watcher = watcher;
    let _ = watcher.kill();
    let out = watcher.wait_with_output().expect("watcher output");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.lines().any(|l| l.starts_with("w2 ")),
        "the watch saw w2 arrive:\n{lines}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lines.lines().filter(|l| l.starts_with("w1 ")).count() >= 2,
        "the watch saw w1 listed and then modified:\n{lines}"
    );
}

const NODE: &str = r#"apiVersion: v1
kind: Node
metadata:
  name: NAME
  labels:
    node-role.kubernetes.io/ROLE: ""
status:
  conditions:
  - type: Ready
    status: "True"
    reason: KubeletReady
  nodeInfo:
    kubeletVersion: v1.24.10+vmware.1
"#;

fn node(name: &str, role: &str) -> String {
    NODE.replace("NAME", name).replace("ROLE", role)
}

fn pod(name: &str, node: &str, owner: Option<(&str, &str, &str)>) -> String {
    let owner = owner
        .map(|(kind, owner, uid)| {
            format!(
                "  ownerReferences:\n  - apiVersion: apps/v1\n    kind: {kind}\n    name: {owner}\n    uid: {uid}\n    controller: true\n"
            )
        })
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\n{owner}spec:\n  nodeName: {node}\n  containers:\n  - name: c\n    image: nginx\n    volumeMounts:\n    - name: scratch\n      mountPath: /scratch\n  volumes:\n  - name: scratch\n    emptyDir: {{}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_print_like_kubectl_expects_and_drain_evicts() {
    let Some(env) = Env::start("wc-admin@wc").await else { return };
    env.kubectl_stdin(&["apply", "-f", "-"], &node("wc-control-plane-1", "control-plane"))
        .await
        .expect_ok("cp node");
    env.kubectl_stdin(&["apply", "-f", "-"], &node("wc-md-0-worker-1", "worker"))
        .await
        .expect_ok("worker node");
    let table = env.kubectl(&["get", "nodes"]).await.expect_ok("get nodes");
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{table}");
    let worker_row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("wc-md-0-worker-1"))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(worker_row.get(1..3), Some(&["Ready", "worker"][..]), "{table}");
    assert_eq!(worker_row.last(), Some(&"v1.24.10+vmware.1"));

    let ds = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: antrea-agent, namespace: default}
spec:
  selector: {matchLabels: {app: antrea}}
  template:
    metadata: {labels: {app: antrea}}
    spec: {containers: [{name: agent, image: antrea}]}
"#;
    env.kubectl_stdin(&["apply", "-f", "-"], ds).await.expect_ok("daemonset");
    let ds_uid = env
        .kubectl(&["get", "ds", "antrea-agent", "-o", "jsonpath={.metadata.uid}"])
        .await
        .expect_ok("ds uid");
    let rs = r#"apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"#;
    env.kubectl_stdin(&["apply", "-f", "-"], rs).await.expect_ok("replicaset");
    let rs_uid = env
        .kubectl(&["get", "rs", "web", "-o", "jsonpath={.metadata.uid}"])
        .await
        .expect_ok("rs uid");
    let ds_pod = pod("antrea-agent-x1", "wc-md-0-worker-1", Some(("DaemonSet", "antrea-agent", &ds_uid)));
    let web_pod = pod("web-x1", "wc-md-0-worker-1", Some(("ReplicaSet", "web", &rs_uid)));
    env.kubectl_stdin(&["apply", "-f", "-"], &ds_pod).await.expect_ok("ds pod");
    env.kubectl_stdin(&["apply", "-f", "-"], &web_pod).await.expect_ok("web pod");

    let drained = env
        .kubectl(&[
            "drain",
            "wc-md-0-worker-1",
            "--delete-emptydir-data",
            "--ignore-daemonsets",
            "--timeout=30s",
        ])
        .await;
    let drained_out = drained.expect_ok("drain");
    assert!(drained_out.contains("drained"), "{drained_out}");
    let pods = env.kubectl(&["get", "pods", "-o", "name"]).await.expect_ok("pods");
    assert_eq!(
        pods.trim(),
        "pod/antrea-agent-x1",
        "drain evicts the ReplicaSet pod and leaves the DaemonSet pod"
    );
    let status = env
        .kubectl(&["get", "node", "wc-md-0-worker-1", "--no-headers"])
        .await
        .expect_ok("node");
    assert!(status.contains("Ready,SchedulingDisabled"), "{status}");

    env.kubectl(&["delete", "node", "wc-md-0-worker-1"]).await.expect_ok("delete node");
    let nodes = env.kubectl(&["get", "nodes", "-o", "name"]).await.expect_ok("nodes");
    assert_eq!(nodes.trim(), "node/wc-control-plane-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_patch_merges_containers_by_name() {
    let Some(env) = Env::start("wc-admin@wc").await else { return };
    let deploy = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.25"}
      - {name: sidecar, image: "envoy:1.30"}
"#;
    env.kubectl_stdin(&["apply", "-f", "-"], deploy).await.expect_ok("deployment");
    env.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}"#,
    ])
    .await
    .expect_ok("strategic patch");
    let images = env
        .kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}",
        ])
        .await
        .expect_ok("images");
    assert_eq!(
        images.trim(),
        "web=nginx:1.27 sidecar=envoy:1.30",
        "the patch merged by name instead of replacing the list"
    );
    let generation = env
        .kubectl(&["get", "deployment", "web", "-o", "jsonpath={.metadata.generation}"])
        .await
        .expect_ok("generation");
    assert_eq!(generation, "2");
}
