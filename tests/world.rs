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
    world
        .alongside(tokio::time::sleep(std::time::Duration::from_millis(300)))
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
    world
        .alongside(async {
            mds.patch(
                &md_name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas + 1}})),
            )
            .await
            .expect("scale up");
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        })
        .await
        .expect("rounds");
    let selector = format!("cluster.x-k8s.io/deployment-name={md_name}");
    let machines = Api::<Machine>::namespaced(client, "default")
        .list(&ListParams::default().labels(&selector))
        .await
        .expect("machines");
    assert_eq!(machines.items.len(), (replicas + 1) as usize, "the write was acted upon");
    assert!(world.stats().rounds > quiet.rounds, "rounds ran after the write");
}
