//! The simulated world: workload clusters created the TKG way reach `running` through the
//! controllers alone, one VM and one Ready Node per Machine.

use drdrill::mgmt_config::ManagementConfig;
use drdrill::world::World;
use drdrill_scenarios::Topology;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

#[tokio::test]
async fn runbook_clusters_come_up_running_from_their_objects() {
    let world = World::create(
        ManagementConfig::runbook_example("tkg-mgmt-vc"),
        Topology::runbook_t(7, 1),
        &mut |_| {},
    )
    .await
    .expect("world");
    let list = world.cluster_list().await.expect("list");
    assert!(list.contains("tkg-vc-antrea  default    running  3/3           3/3"), "{list}");
    // The controller log tells the story on the world's clock, starting at its epoch.
    let log = world.log.text();
    let first = log.lines().next().expect("a controller log");
    assert!(first.starts_with("2022-12-07T17:10:42Z tkg-mgmt-vc "), "{first}");
    for wanted in [
        "tkg-mgmt-vc kubeadmcontrolplane: created Machine/tkg-vc-antrea-",
        "tkg-mgmt-vc machineset: created Machine/tkg-vc-antrea-md-0-",
        "tkg-mgmt-vc vspheremachine: created ",
        "tkg-vc-antrea kubelet: registered Node tkg-vc-antrea-",
        "tkg-vc-antrea scheduler: bound Pod ",
    ] {
        assert!(log.contains(wanted), "no {wanted:?} in\n{log}");
    }
    for w in world.workload_clusters() {
        let nodes = Api::<Node>::all(w.client.clone()).list(&Default::default()).await.expect("nodes");
        let expected = (w.spec.control_plane + w.spec.workers) as usize;
        assert_eq!(nodes.items.len(), expected, "{}", w.spec.name);
        assert_eq!(world.site.vms_of(&w.spec.name).len(), expected, "{}", w.spec.name);
    }
}

#[tokio::test]
async fn the_management_cluster_is_rebuilt_from_its_file_and_its_loss_leaves_the_vms_running() {
    let mut world = World::create(
        ManagementConfig::runbook_example("tkg-mgmt-vc"),
        Topology::runbook_t(3, 0),
        &mut |_| {},
    )
    .await
    .expect("world");
    let vms = world.site.list();
    world.destroy_management_cluster();
    assert!(world.mgmt_client().is_err(), "the management cluster is gone");
    world.run_for(std::time::Duration::from_secs(120)).await.expect("time passes");
    assert_eq!(world.site.list(), vms, "workload VMs outlive the management cluster");

    // A broken configuration file stops the rebuild with the file and variable named.
    let good = std::fs::read_to_string(&world.config_path).expect("config");
    std::fs::write(
        &world.config_path,
        good.replace("INFRASTRUCTURE_PROVIDER: vsphere", "INFRASTRUCTURE_PROVIDER: [vsphere"),
    )
    .expect("corrupt");
    let err = world
        .rebuild_management_cluster()
        .await
        .err()
        .expect("a corrupt file is refused")
        .to_string();
    assert!(err.contains("mgmt-cluster-config.yaml: not a TKG configuration file"), "{err}");
    assert!(world.mgmt_client().is_err(), "nothing was started");

    std::fs::write(&world.config_path, good).expect("restore");
    let mgmt = world.rebuild_management_cluster().await.expect("rebuild");
    assert_eq!(mgmt.generation, 2);
    let clusters = Api::<drdrill_apis::capi::Cluster>::all(mgmt.client.clone())
        .list(&Default::default())
        .await
        .expect("list");
    assert!(clusters.items.is_empty(), "a rebuilt management cluster starts empty");
}

/// The same seed gives the same names everywhere (Machines, VMs, Nodes, UUIDs) and so the same
/// drift evidence; another seed gives other names.
#[tokio::test]
async fn the_same_seed_builds_the_same_world() {
    async fn names(seed: u64) -> (String, Vec<String>) {
        let world = World::create(
            ManagementConfig::runbook_example("tkg-mgmt-vc"),
            Topology::runbook_t(seed, 1),
            &mut |_| {},
        )
        .await
        .expect("world");
        let mut evidence = String::new();
        for c in world.workload_clusters() {
            let e = world.evidence(&c.spec.namespace, &c.spec.name).await.expect("evidence");
            evidence.push_str(&format!("{e:?}\n"));
        }
        let vms = world
            .site
            .list()
            .into_iter()
            .map(|vm| format!("{} {} {}", vm.name, vm.uuid, vm.host))
            .collect();
        (evidence, vms)
    }
    let (first, first_vms) = names(21).await;
    let (again, again_vms) = names(21).await;
    assert_eq!(first, again);
    assert_eq!(first_vms, again_vms);
    let (other, _) = names(22).await;
    assert_ne!(first, other, "another seed, other names");
}

/// While a command runs with the clock still, rounds whose inputs are those of a round that
/// wrote nothing are skipped — and a write, or a change at the Site, makes the next round run
/// and the controllers react.
#[tokio::test]
async fn quiet_rounds_are_skipped_until_something_changes() {
    use drdrill_apis::capi::{Machine, MachineDeployment};
    use kube::api::{ListParams, Patch, PatchParams};

    let world = World::create(
        ManagementConfig::runbook_example("tkg-mgmt-vc"),
        Topology::runbook_t(7, 1),
        &mut |_| {},
    )
    .await
    .expect("world");
    let before = world.stats();
    // Until a round is skipped (a loaded machine runs fewer rounds a second; 60 s is plenty).
    world
        .alongside(async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while world.stats().skipped_rounds == before.skipped_rounds && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("rounds run beside the command");
    let quiet = world.stats();
    assert!(quiet.skipped_rounds > before.skipped_rounds, "{before:?} then {quiet:?}");
    assert!(quiet.api_requests > before.api_requests, "the rounds that ran read the servers");

    // A write while the world is quiet: the next round runs and the MachineSet grows.
    let client = world.mgmt_client().expect("client");
    let mds = Api::<MachineDeployment>::namespaced(client.clone(), "default");
    let md = mds.list(&ListParams::default()).await.expect("deployments").items.remove(0);
    let md_name = kube::ResourceExt::name_any(&md);
    let replicas = md.spec.replicas.unwrap_or(1);
    let selector = format!("cluster.x-k8s.io/deployment-name={md_name}");
    let machines = Api::<Machine>::namespaced(client, "default");
    let count = world
        .alongside(async {
            mds.patch(
                &md_name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas + 1}})),
            )
            .await
            .expect("scale up");
            // Until the MachineSet has grown (60 s at most: a loaded machine runs slower rounds).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let count = machines
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .expect("machines")
                    .items
                    .len();
                if count == (replicas + 1) as usize || std::time::Instant::now() >= deadline {
                    return count;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("rounds");
    assert_eq!(count, (replicas + 1) as usize, "the write was acted upon");
    assert!(world.stats().rounds > quiet.rounds, "rounds ran after the write");
}

#[tokio::test]
async fn tanzu_cluster_upgrade_rolls_every_machine_to_the_next_release_and_refuses_bad_requests_unchanged() {
    use drdrill::operator::Operator;
    use drdrill_apis::capi::{KubeadmControlPlane, Machine};
    use drdrill_scenarios::WorkloadCluster;

    let topology = Topology {
        management: "tkg-mgmt-vc".into(),
        seed: 9,
        clusters: vec![WorkloadCluster {
            name: "wc-old".into(),
            namespace: "default".into(),
            control_plane: 3,
            workers: 2,
            kubernetes: "v1.23.16+vmware.1".into(),
            tkr: "v1.23.16---vmware.1-tkg.1".into(),
            plan: "prod".into(),
        }],
    };
    let world = World::create(ManagementConfig::runbook_example("tkg-mgmt-vc"), topology, &mut |_| {})
        .await
        .expect("world");
    let home = tempfile::tempdir().expect("home");
    let operator = Operator::new(home.path());
    let client = world.mgmt_client().expect("client");
    let versions = || async {
        let machines = Api::<Machine>::namespaced(client.clone(), "default")
            .list(&Default::default())
            .await
            .expect("machines");
        let mut v: Vec<String> = machines.items.iter().map(|m| m.spec.version.clone().unwrap_or_default()).collect();
        v.sort();
        v.dedup();
        (machines.items.len(), v)
    };
    assert_eq!(versions().await, (5, vec!["v1.23.16+vmware.1".to_string()]));

    for (line, wanted) in [
        (
            "tanzu cluster upgrade wc-old",
            "Upgrading workload cluster 'wc-old' to kubernetes version 'v1.24.10+vmware.1', tkr version 'v1.24.10+vmware.1-tkg.1'. Are you sure? [y/N]: no answer",
        ),
        (
            "tanzu cluster upgrade wc-old --tkr v1.26 --yes",
            "based on 'v1.26': no TKr BOM matches it",
        ),
        (
            "tanzu cluster upgrade wc-old --tkr v1.22 --yes",
            "Kubernetes version downgrade is not allowed",
        ),
        ("tanzu cluster upgrade wc-nope --yes", "wc-nope"),
    ] {
        let out = operator.run(&world, line).await.expect("runs");
        assert!(!out.success, "{line}: {out:?}");
        assert!(out.stderr.contains(wanted), "{line}: {}", out.stderr);
    }
    assert_eq!(versions().await.1, ["v1.23.16+vmware.1"], "a refused upgrade changes nothing");
    let refused = operator
        .run(&world, "tanzu cluster upgrade wc-old --tkr v1.22 --yes")
        .await
        .expect("runs");
    assert_eq!(
        refused.stdout, "Verifying kubernetes version...\n",
        "what it printed before refusing is kept"
    );

    let out = operator
        .run(&world, "tanzu cluster upgrade wc-old --tkr v1.24.10---vmware.1-tkg.1 --yes")
        .await
        .expect("runs");
    assert!(out.success, "{out:?}");
    for wanted in [
        "Verifying kubernetes version...\n",
        "Patching KubeadmControlPlane with the kubernetes version v1.24.10+vmware.1...\n",
        "Waiting for kubernetes version to be updated for control plane nodes\n",
        "Patching MachineDeployment with the kubernetes version v1.24.10+vmware.1...\n",
        "Cluster 'wc-old' successfully upgraded to kubernetes version 'v1.24.10+vmware.1'\n",
    ] {
        assert!(out.stdout.contains(wanted), "no {wanted:?} in\n{}", out.stdout);
    }
    world.settle_until_running(2000).await.expect("settles");
    assert_eq!(
        versions().await,
        (5, vec!["v1.24.10+vmware.1".to_string()]),
        "every Machine replaced, none left over"
    );
    let kcp = Api::<KubeadmControlPlane>::namespaced(client.clone(), "default")
        .list(&Default::default())
        .await
        .expect("kcp");
    let template = kcp.items[0]
        .spec
        .machine_template
        .infrastructure_ref
        .name
        .clone()
        .unwrap_or_default();
    assert!(template.starts_with("wc-old-control-plane-v1-24-10-vmware-1-"), "{template}");
    let vms = world.site.vms_of("wc-old");
    assert_eq!(vms.len(), 5, "the old VMs are gone: {vms:?}");
    let list = world.cluster_list().await.expect("list");
    assert!(
        list.contains("wc-old  default    running  3/3           2/2      v1.24.10+vmware.1"),
        "{list}"
    );
    let cluster = Api::<drdrill_apis::capi::Cluster>::namespaced(client.clone(), "default")
        .get("wc-old")
        .await
        .expect("cluster");
    let info = cluster.metadata.annotations.clone().unwrap_or_default();
    assert!(info["TKGOperationInfo"].contains(r#""Operation":"Upgrade""#), "{info:?}");
    assert!(info["TKGOperationInfo"].contains(r#""OperationTimeout":900"#), "{info:?}");
    assert!(info["TKGOperationLastObservedTimestamp"].ends_with(" +0000 UTC"), "{info:?}");
    let out = operator.run(&world, "tanzu cluster get wc-old").await.expect("get");
    assert!(
        out.stdout.contains("v1.24.10---vmware.1-tkg.1"),
        "the TKR label follows:\n{}",
        out.stdout
    );
    let again = operator.run(&world, "tanzu cluster upgrade wc-old --yes").await.expect("runs");
    assert!(again.success, "the same version again is no downgrade: {again:?}");
}
