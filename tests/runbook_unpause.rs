//! Runbook T, full restore step 7: the unpause script runs verbatim against the simulator.

mod support;

use drdrill::runbook::UNPAUSE_ALL_NAMESPACES as UNPAUSE_SCRIPT;
use support::Env;

fn cluster(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  paused: true\n  controlPlaneEndpoint:\n    host: 10.0.0.10\n    port: 6443\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpause_script_unpauses_every_cluster_outside_tkg_system() {
    let Some(crd) = support::reference_file("capi-crds/cluster.x-k8s.io_clusters.yaml") else {
        return;
    };
    let Some(env) = Env::start("mgmt-admin@mgmt").await else { return };
    let crd_path = crd.display().to_string();
    env.kubectl(&["apply", "-f", &crd_path])
        .await
        .expect_ok("install the Cluster API Cluster CRD");
    for ns in ["tkg-system", "prod", "staging"] {
        env.kubectl(&["create", "namespace", ns]).await.expect_ok("create namespace");
    }
    let mut manifests = String::new();
    for (ns, name) in [
        ("default", "tkg-vc-antrea"),
        ("prod", "prod-1"),
        ("prod", "prod-2"),
        ("staging", "stage-1"),
        ("tkg-system", "mgmt"),
    ] {
        manifests.push_str(&cluster(ns, name));
        manifests.push_str("---\n");
    }
    env.kubectl_stdin(&["apply", "-f", "-"], &manifests)
        .await
        .expect_ok("restore paused clusters");

    let script = env.bash(UNPAUSE_SCRIPT).await;
    let out = script.expect_ok("the runbook's unpause script");
    assert_eq!(out.matches("patched").count(), 4, "one patch per workload cluster:\n{out}");

    let json = env
        .kubectl(&["get", "clusters", "-A", "-o", "json"])
        .await
        .expect_ok("list clusters");
    let list: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    for c in items {
        let ns = c["metadata"]["namespace"].as_str().unwrap_or("");
        let paused = c["spec"]["paused"].as_bool();
        if ns == "tkg-system" {
            assert_eq!(paused, Some(true), "the management cluster's own Cluster stays paused");
        } else {
            assert_eq!(paused, Some(false), "{} in {ns} is unpaused", c["metadata"]["name"]);
        }
    }
}
