//! The emulated AksHci PowerShell module against the simulated AKS-HCI platform (Runbook A):
//! install and day-2 commands with golden outputs, day-2 gating while the management VM is
//! down, recreating the configuration and clusters from the saved `ConvertTo-Json` output
//! (A2 steps 1–3), what is lost without the configuration backup, and bad input that changes
//! nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill::aks::{
    self, AksCliError, AksEnv, cluster_differences, config_differences, parse_saved_clusters, parse_saved_config, recreate_script,
    render_differences, run_script,
};
use drdrill::report::assert_golden;
use drdrill_akshci_sim::apis::AksHciConfig;
use drdrill_akshci_sim::{AksHciCluster, AksHciPlatform, HostCluster, MANAGEMENT_VM, VmRole, admin_context};
use drdrill_kube_sim::clock::VirtualClock;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

const SETUP: &str = r#"
$vnet = New-AksHciNetworkSetting -name mgmt-vnet -vswitchName "ConvergedSwitch" -k8sNodeIpPoolStart 172.16.10.1 -k8sNodeIpPoolEnd 172.16.10.255 -vipPoolStart 172.16.255.0 -vipPoolEnd 172.16.255.254 -ipAddressPrefix 172.16.0.0/16 -gateway 172.16.0.1 -dnsServers 172.16.0.1,172.16.0.2 -vlanID 7
Set-AksHciConfig -imageDir C:\ClusterStorage\Volume1\Images -workingDir C:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation C:\ClusterStorage\Volume1\Config -nodeConfigLocation C:\ClusterStorage\Volume1\NodeConfig -vnet $vnet -cloudServiceCidr 172.16.10.10/16 -version 1.0.16.10113
Install-AksHci
New-AksHciCluster -name wc -kubernetesVersion v1.24.9 -controlPlaneNodeCount 3 -controlPlaneVmSize Standard_A2_V2 -loadBalancerVmSize Standard_A4_v2 -nodePoolName linuxpool -nodeCount 3 -nodeVmSize Standard_A2_V2
New-AksHciNodePool -clusterName wc -name winpool -count 1 -osType Windows -vmSize Standard_D4s_v3
"#;

struct World {
    env: AksEnv,
    clock: VirtualClock,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let clock = VirtualClock::starting_at("2023-03-01T08:00:00Z".parse().expect("time"));
    let hosts = HostCluster::new("hci01", &["hci-node-1", "hci-node-2", "hci-node-3"], Arc::new(clock.clone()));
    let platform = AksHciPlatform::new(hosts, Arc::new(clock.clone()), 5);
    let dir = tempfile::tempdir().expect("tempdir");
    World {
        env: AksEnv::new(platform, dir.path().join("home")),
        clock,
        _dir: dir,
    }
}

async fn installed() -> World {
    let w = world().await;
    run_script(SETUP, &w.env).await.expect("setup script");
    w
}

impl World {
    async fn ps(&self, line: &str) -> Result<String, AksCliError> {
        let out = aks::run(line, &self.env).await?;
        let mut text = String::new();
        for warning in out.warnings {
            text.push_str(&format!("WARNING: {warning}\n"));
        }
        text.push_str(&out.stdout);
        Ok(text)
    }

    async fn ok(&self, line: &str) -> String {
        self.ps(line).await.unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// VM role, size and count of one cluster, from the host cluster.
    fn vm_shape(&self, cluster: &str) -> BTreeMap<(String, String), usize> {
        let mut shape = BTreeMap::new();
        for vm in self.env.platform.hosts().vms_of(cluster) {
            let role = match vm.spec.role {
                VmRole::Worker(pool) => format!("Worker/{pool}"),
                other => other.label().to_string(),
            };
            *shape.entry((role, vm.spec.vm_size)).or_insert(0) += 1;
        }
        shape
    }

    /// Every AKS-HCI object of the management cluster plus the host cluster's VMs.
    async fn snapshot(&self) -> String {
        let client = self.env.platform.management_client().await.expect("client");
        let clusters = Api::<AksHciCluster>::all(client.clone())
            .list(&Default::default())
            .await
            .expect("clusters");
        let config = Api::<AksHciConfig>::all(client).get("config").await.expect("config");
        let vms: Vec<String> = self
            .env
            .platform
            .hosts()
            .list()
            .iter()
            .map(|v| format!("{} {} {} {:?}", v.spec.name, v.spec.vm_size, v.spec.kubernetes_version, v.state))
            .collect();
        serde_json::to_string_pretty(&json!({"clusters": clusters.items, "config": config, "vms": vms})).expect("json")
    }
}

async fn client(kubeconfig: &str, context: &str) -> Client {
    let mut kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    kc.current_context = Some(context.to_string());
    Client::try_from(
        Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("config"),
    )
    .expect("client")
}

fn shape(entries: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    entries.iter().map(|(r, s, n)| ((r.to_string(), s.to_string()), *n)).collect()
}

#[tokio::test]
async fn install_create_scale_and_upgrade_print_what_the_module_prints() {
    let w = world().await;
    let mut transcript = String::new();
    for line in SETUP.lines().filter(|l| !l.trim().is_empty()) {
        transcript.push_str(&format!("PS> {line}\n{}", w.ok(line).await));
    }
    assert_golden("aks_install_transcript.txt", &transcript);
    assert_eq!(
        w.vm_shape("wc"),
        shape(&[
            ("ControlPlane", "Standard_A2_v2", 3),
            ("LoadBalancer", "Standard_A4_v2", 1),
            ("Worker/linuxpool", "Standard_A2_v2", 3),
            ("Worker/winpool", "Standard_D4s_v3", 1),
        ])
    );
    assert_golden("aks_get_cluster.txt", &w.ok("Get-AksHciCluster -name wc").await);
    assert_golden(
        "aks_get_cluster_json.txt",
        &w.ok("get-akshcicluster -Name wc | convertto-json").await,
    );
    assert_golden("aks_get_config_json.txt", &w.ok("Get-AksHciConfig | ConvertTo-Json").await);
    // At the default -Depth 2 the vnet's dnsServers array (level 2) is kept; -Depth 1 cuts it to a string.
    assert_golden(
        "aks_get_config_json_depth1.txt",
        &w.ok("Get-AksHciConfig | ConvertTo-Json -Depth 1").await,
    );

    assert_golden(
        "aks_set_node_pool.txt",
        &w.ok("Set-AksHciNodePool -clusterName wc -name linuxpool -count 5").await,
    );
    assert_eq!(w.vm_shape("wc")[&("Worker/linuxpool".to_string(), "Standard_A2_v2".to_string())], 5);
    assert_golden(
        "aks_update_cluster.txt",
        &w.ok("Update-AksHciCluster -name wc -kubernetesVersion v1.25.6").await,
    );
    let versions: Vec<String> = w
        .env
        .platform
        .hosts()
        .vms_of("wc")
        .into_iter()
        .filter(|v| v.spec.role != VmRole::LoadBalancer)
        .map(|v| v.spec.kubernetes_version)
        .collect();
    assert_eq!(versions.len(), 9);
    assert!(versions.iter().all(|v| v == "v1.25.6"), "{versions:?}");
    assert_golden("aks_get_node_pools.txt", &w.ok("Get-AksHciNodePool -clusterName wc").await);
    // The workload cluster's Nodes follow: 3 control-plane + 5 + 1 workers, all on v1.25.6.
    w.ok("Get-AksHciCredential -name wc").await;
    let kubeconfig = std::fs::read_to_string(w.env.workdir.join(".kube/config")).expect("kubeconfig written");
    let nodes = Api::<Node>::all(client(&kubeconfig, &admin_context("wc")).await)
        .list(&Default::default())
        .await
        .expect("nodes");
    assert_eq!(nodes.items.len(), 9);
    assert_eq!(w.ok("Remove-AksHciNodePool -clusterName wc -name winpool").await, "");
    assert!(!w.vm_shape("wc").keys().any(|(role, _)| role == "Worker/winpool"));
}

#[tokio::test]
async fn day_2_commands_fail_while_the_management_vm_is_down_and_work_after_failover() {
    let w = installed().await;
    w.ok("Get-AksHciCredential -name wc -configPath wc.kubeconfig").await;
    let kubeconfig = std::fs::read_to_string(w.env.workdir.join("wc.kubeconfig")).expect("kubeconfig");
    let workload = client(&kubeconfig, &admin_context("wc")).await;
    let app: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "shop", "namespace": "default"}, "data": {"replicas": "3"}})).expect("cm");
    Api::<ConfigMap>::namespaced(workload.clone(), "default")
        .create(&PostParams::default(), &app)
        .await
        .expect("workload");

    let host = w.env.platform.management_vm().expect("mgmt").host;
    assert_eq!(host, "hci-node-1");
    w.env.platform.hosts().fail_host(&host).expect("host fails");
    let vms_before: Vec<String> = w.env.platform.hosts().vms_of("wc").iter().map(|v| v.spec.name.clone()).collect();
    let mut transcript = String::new();
    for line in [
        "Get-AksHciCluster -name wc",
        "Get-AksHciConfig | ConvertTo-Json",
        "New-AksHciCluster -name wc2",
        "New-AksHciNodePool -clusterName wc -name extra",
        "Set-AksHciNodePool -clusterName wc -name linuxpool -count 4",
        "Set-AksHciCluster -name wc -controlPlaneNodeCount 5",
        "Update-AksHciCluster -name wc",
        "Remove-AksHciCluster -name wc",
    ] {
        let err = w.ps(line).await.expect_err(line);
        assert!(matches!(err, AksCliError::ManagementUnavailable { .. }), "{line}: {err}");
        transcript.push_str(&format!("PS> {line}\n{err}\n"));
        // Workloads keep serving: the workload API server answers between every refused command.
        let cm = Api::<ConfigMap>::namespaced(workload.clone(), "default")
            .get("shop")
            .await
            .expect("workload serves");
        assert_eq!(cm.data.expect("data")["replicas"], "3");
    }
    assert_golden("aks_errors_management_down.txt", &transcript);
    let vms_after: Vec<String> = w.env.platform.hosts().vms_of("wc").iter().map(|v| v.spec.name.clone()).collect();
    assert_eq!(vms_before, vms_after, "no day-2 change reached the cluster");

    // The failover cluster restarts the management VM on a healthy host after its delay.
    w.clock.advance(Duration::from_secs(61));
    let vm = w.env.platform.hosts().failover();
    assert!(vm.iter().any(|f| f.vm == MANAGEMENT_VM && f.from == "hci-node-1"), "{vm:?}");
    let pool = w.ok("New-AksHciNodePool -clusterName wc -name extra -count 2").await;
    assert!(pool.contains("NodePoolName      : extra"), "{pool}");
    assert!(pool.contains("Phase             : Deployed"), "{pool}");
    assert_eq!(w.vm_shape("wc")[&("Worker/extra".to_string(), "Standard_K8S3_v1".to_string())], 2);
}

#[tokio::test]
async fn recreating_from_the_saved_json_gives_the_same_vm_counts_and_sizes() {
    let w = installed().await;
    let config_json = w.ok("Get-AksHciConfig | ConvertTo-Json").await;
    let cluster_json = w.ok("Get-AksHciCluster -name wc | ConvertTo-Json").await;
    let shape_before = w.vm_shape("wc");
    let config_before = parse_saved_config(&config_json).expect("config backup");
    let clusters_before = parse_saved_clusters(&cluster_json).expect("cluster backup");

    assert_eq!(
        w.ok("Uninstall-AksHci").await,
        "AKS on Azure Stack HCI is uninstalled: removed 9 VMs and the configuration.\n"
    );
    assert!(w.env.platform.hosts().list().is_empty());
    let err = w.ps("Get-AksHciCluster").await.expect_err("nothing installed");
    assert!(matches!(err, AksCliError::NotInstalled { .. }), "{err}");

    let script = recreate_script(Some(&config_before), &clusters_before).join("\n") + "\n";
    assert_golden("aks_recreate_script.txt", &script);
    run_script(&script, &w.env).await.expect("recreate");
    assert_eq!(w.vm_shape("wc"), shape_before);
    assert_eq!(
        w.ok("Get-AksHciConfig | ConvertTo-Json").await,
        config_json,
        "the configuration round-trips"
    );
    assert_eq!(
        w.ok("Get-AksHciCluster -name wc | ConvertTo-Json").await,
        cluster_json,
        "the cluster round-trips"
    );
    let config_after = parse_saved_config(&w.ok("Get-AksHciConfig | ConvertTo-Json").await).expect("config");
    assert!(config_differences(&config_before, &config_after).is_empty());
}

#[tokio::test]
async fn without_the_configuration_backup_the_differences_are_listed() {
    let w = installed().await;
    let config_before = parse_saved_config(&w.ok("Get-AksHciConfig | ConvertTo-Json").await).expect("config");
    let clusters_before = parse_saved_clusters(&w.ok("Get-AksHciCluster | ConvertTo-Json -Depth 4").await).expect("clusters");
    w.ok("Uninstall-AksHci").await;

    // Only the cluster JSON was saved: the clusters come back, the host configuration does not.
    let script = recreate_script(None, &clusters_before).join("\n");
    run_script(&script, &w.env).await.expect("recreate without config");
    let config_after = parse_saved_config(&w.ok("Get-AksHciConfig | ConvertTo-Json").await).expect("config");
    let clusters_after = parse_saved_clusters(&w.ok("Get-AksHciCluster | ConvertTo-Json").await).expect("clusters");
    assert!(cluster_differences(&clusters_before, &clusters_after).is_empty());
    let lost = config_differences(&config_before, &config_after);
    assert!(lost.iter().any(|d| d.setting == "vnet.vipPoolStart" && d.after == "-"), "{lost:?}");
    assert_golden("aks_config_lost.txt", &render_differences(&lost));

    // Nothing saved at all: the workload clusters are gone too.
    let none = cluster_differences(&clusters_before, &[]);
    assert_golden("aks_clusters_lost.txt", &render_differences(&none));
}

#[tokio::test]
async fn bad_input_is_refused_with_clear_errors_and_changes_nothing() {
    let w = installed().await;
    let before = w.snapshot().await;
    let mut transcript = String::new();
    for line in [
        "Get-AksHciClusters",
        "Get-AksHciCluster -nam wc -foo 1",
        "Get-AksHciCluster -clusterName wc",
        "New-AksHciCluster -name 'wc3",
        "New-AksHciCluster -name wc",
        "New-AksHciCluster -name wc3 -controlPlaneNodeCount 2",
        "New-AksHciCluster -name wc3 -nodeVmSize Standard_Huge",
        "New-AksHciCluster -name wc3 -kubernetesVersion v1.30.0",
        "New-AksHciCluster -name WC3",
        "New-AksHciCluster -name wc3 -osType macOS",
        "Get-AksHciCluster -name nope",
        "Set-AksHciNodePool -clusterName nope -name linuxpool -count 4",
        "Set-AksHciNodePool -clusterName wc -name nope -count 4",
        "Set-AksHciNodePool -clusterName wc -name linuxpool -count many",
        "Set-AksHciNodePool -clusterName wc -name linuxpool -count -1",
        "Set-AksHciNodePool -clusterName wc -name linuxpool",
        "Set-AksHciNodePool -clusterName wc -count 4",
        "New-AksHciNodePool -clusterName wc -name linuxpool",
        "Update-AksHciCluster -name wc -kubernetesVersion v1.23.12",
        "Update-AksHciCluster -name nope",
        "Remove-AksHciCluster -name nope",
        "Set-AksHciConfig -vnet $vnet",
        "Install-AksHci",
        "Get-AksHciCluster | ConvertTo-Json -Depth 101",
        "Get-AksHciCluster | Out-Printer",
        "Get-AksHciCluster | | ConvertTo-Json",
        "New-AksHciCluster -name $undefined",
    ] {
        let err = w.ps(line).await.expect_err(line);
        transcript.push_str(&format!("PS> {line}\n{err}\n"));
    }
    assert_golden("aks_errors.txt", &transcript);
    assert_eq!(w.snapshot().await, before, "a refused line changes nothing");

    let mut saved = String::new();
    for text in [
        "{\"Name\": \"wc\",",
        "[1, 2]",
        "{\"Name\": \"wc\", \"NodePools\": [\"@{Name=linuxpool; Count=3}\"]}",
    ] {
        saved.push_str(&format!("{}\n", parse_saved_clusters(text).expect_err(text)));
    }
    for text in [
        "not json",
        "{\"version\": \"1.0\", \"imageDir\": 1}",
        "{\"version\": \"1\", \"imageDir\": \"a\", \"workingDir\": \"b\", \"cloudConfigLocation\": \"c\", \"nodeConfigLocation\": \"d\", \"controlPlaneVmSize\": \"e\", \"vnet\": \"@{name=x}\"}",
    ] {
        saved.push_str(&format!("{}\n", parse_saved_config(text).expect_err(text)));
    }
    assert_golden("aks_errors_saved_json.txt", &saved);
}

const SITE: &str = r#"
$vnet = New-AksHciNetworkSetting -name site-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.16.255.0 -vipPoolEnd 172.16.255.254
Set-AksHciConfig -imageDir C:\ClusterStorage\Volume1\Images -workingDir C:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation C:\ClusterStorage\Volume1\Config -vnet $vnet
Install-AksHci
New-AksHciCluster -name wc -controlPlaneNodeCount 1 -nodePoolName linuxpool -nodeCount 2 -nodeVmSize Standard_A2_V2
"#;

/// The application of the backup tests: a StorageClass for the CSI disk driver, a namespace, a
/// claim and a Deployment with requests that mounts it (restic backs it up by annotation).
async fn deploy_application(client: &Client) {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
    use k8s_openapi::api::storage::v1::StorageClass;
    let pp = PostParams::default();
    let class: StorageClass =
        serde_json::from_value(json!({"metadata": {"name": "aks-hci-disk"}, "provisioner": "disk.csi.akshci.com"})).expect("class");
    Api::<StorageClass>::all(client.clone())
        .create(&pp, &class)
        .await
        .expect("create StorageClass");
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "shop"}})).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&pp, &ns)
        .await
        .expect("create Namespace");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "aks-hci-disk", "resources": {"requests": {"storage": "1Gi"}}}}))
    .expect("claim");
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), "shop")
        .create(&pp, &claim)
        .await
        .expect("create PersistentVolumeClaim");
    let deployment: Deployment = serde_json::from_value(json!({"metadata": {"name": "db", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}, "annotations": {"backup.velero.io/backup-volumes": "data"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:14", "resources": {"requests": {"cpu": "750m", "memory": "3Gi"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}}))
    .expect("deployment");
    Api::<Deployment>::namespaced(client.clone(), "shop")
        .create(&pp, &deployment)
        .await
        .expect("create Deployment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_backup_in_the_bucket_matches_the_runbooks_two_lists() {
    use drdrill::aks::contents::{check_contents, find_excluded, render_contents, render_excluded};
    use drdrill::aks::drill::AksDrill;
    let mut drill = AksDrill::new(2, 31).expect("drill");
    run_script(SITE, &drill.env).await.expect("setup");
    drill.create_bucket("wc-backups").await.expect("bucket");
    drill.round().await.expect("round");
    let client = drill.cluster_client("wc").expect("workload cluster wc is driven by the site");
    deploy_application(&client).await;
    drill.settle(2000).await.expect("settle");
    drill
        .write_into_claim(
            "wc",
            "shop",
            "data",
            &[("pg/PG_VERSION".into(), b"14\n".to_vec()), ("pg/base".into(), vec![7; 4096])],
        )
        .await
        .expect("write");
    let home = tempfile::tempdir().expect("home");
    std::fs::write(
        home.path().join("creds"),
        "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123\n",
    )
    .expect("creds");
    for line in [
        "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./creds --use-restic --wait",
        "velero backup create b1 --include-namespaces shop --wait",
    ] {
        let out = drill.velero("wc", line, home.path()).await.expect("velero");
        assert!(out.success, "{line}:\n{}{}", out.stdout, out.stderr);
    }
    let logs = drill.velero("wc", "velero backup logs b1", home.path()).await.expect("logs");
    assert!(logs.success, "{}", logs.stderr);
    let files = drill.backup_files("wc-backups", "b1").await.expect("files");
    let check = check_contents("b1", &files, &logs.stdout);
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_golden("aks_backup_contents.txt", &render_contents(&check));

    let excluded = drill.excluded_from_backups("wc").await.expect("excluded");
    let items = drill.backup_items("wc-backups", "b1").await.expect("items");
    let found = find_excluded(&items, &excluded);
    assert!(found.iter().all(|(_, hits)| hits.is_empty()), "{found:?}");
    assert_golden("aks_backup_excluded.txt", &render_excluded(&excluded, &found));

    // The same check sees it when a setting does end up in the backup: a ConfigMap holding the
    // VIP pool start, backed up with the namespace.
    let leak: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "network", "namespace": "shop"}, "data": {"vip": "172.16.255.0"}}))
            .expect("configmap");
    Api::<ConfigMap>::namespaced(client.clone(), "shop")
        .create(&PostParams::default(), &leak)
        .await
        .expect("create ConfigMap");
    let out = drill
        .velero("wc", "velero backup create b2 --include-namespaces shop --wait", home.path())
        .await
        .expect("velero");
    assert!(out.success, "{}", out.stderr);
    let found = find_excluded(&drill.backup_items("wc-backups", "b2").await.expect("items"), &excluded);
    assert_eq!(found[3].0, "network settings");
    assert_eq!(found[3].1, ["configmaps shop/network: 172.16.255.0"]);
}

#[tokio::test]
async fn site_commands_name_what_is_wrong() {
    use drdrill::aks::drill::AksDrill;
    let mut drill = AksDrill::new(1, 3).expect("drill");
    let home = tempfile::tempdir().expect("home");
    let mut out = String::new();
    let no_cluster = drill
        .velero("wc", "velero backup get", home.path())
        .await
        .expect_err("no cluster yet");
    out.push_str(&format!("velero on a cluster that does not exist: {no_cluster}\n"));
    run_script(SITE, &drill.env).await.expect("setup");
    let other = drill
        .kubectl("wc2", &["get".into(), "pods".into()], home.path())
        .await
        .expect_err("unknown cluster");
    out.push_str(&format!("kubectl on an unknown cluster: {other}\n"));
    let unwritten = drill.compare_claim("wc", "shop", "data").await.expect_err("nothing written");
    out.push_str(&format!("a claim nothing was written into: {unwritten}\n"));
    let unbound = drill.write_into_claim("wc", "shop", "data", &[]).await.expect_err("no claim");
    out.push_str(&format!("writing into a claim that does not exist: {unbound}\n"));
    drill.create_bucket("wc-backups").await.expect("bucket");
    let missing = drill.backup_files("wc-backups", "nope").await.expect_err("no backup");
    out.push_str(&format!("a backup that is not in the bucket: {missing}\n"));
    let short = drill.create_bucket("wc").await.expect_err("bucket name too short");
    out.push_str(&format!("a bucket name S3 refuses: {short}\n"));
    let no_standby = drill.lose_site().expect_err("no standby");
    out.push_str(&format!("losing the site without a cold standby: {no_standby}\n"));
    let bad_flag = drill
        .velero("wc", "velero backup create b --ttl forever", home.path())
        .await
        .expect("ran");
    assert!(!bad_flag.success);
    out.push_str(&format!("a bad velero flag: {}", bad_flag.stderr));
    assert_golden("aks_site_errors.txt", &out);
    assert_eq!(drill.env.platform.hosts().name(), "hci01", "a failed command changes no site");
}
