//! The emulated `velero` CLI against the embedded API server (and embedded S3): the runbooks'
//! exact command lines, velero's wording and tables, the version rule and its errors.

use std::sync::Arc;
use std::time::Duration;

use drdrill::report::assert_golden;
use drdrill::velero::{VeleroCliError, VeleroEnv, run, run_line};
use drdrill_apis::velero::{
    Backup, BackupStorageLocation, DeleteBackupRequest, DownloadRequest, DownloadRequestPhase, DownloadTargetKind, Restore, Schedule,
    VolumeSnapshotLocation,
};
use drdrill_kube_sim::clock::VirtualClock;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use drdrill_velero_sim::format::gzip;
use drdrill_velero_sim::s3::{Credentials, ObjectStore, S3Server, S3ServerConfig};
use drdrill_velero_sim::server::{DownloadRequestController, ServerContext};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

const RUNBOOK_CREDENTIALS: &str = "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123\n";
const PLUGINS: &str = "projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1";

struct World {
    _server: ApiServer,
    client: Client,
    clock: VirtualClock,
    dir: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
        let server = ApiServer::start(ServerOptions {
            cluster_name: "mgmt".into(),
            clock: Arc::new(clock.clone()),
            ..Default::default()
        })
        .await
        .expect("server");
        let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml("mgmt-admin@mgmt")).expect("kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        World {
            _server: server,
            client,
            clock,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn env(&self) -> VeleroEnv {
        let mut env = VeleroEnv::new(self.client.clone(), Arc::new(self.clock.clone()));
        env.wait_poll = Duration::from_millis(20);
        env.wait_timeout = Duration::from_secs(10);
        env
    }

    fn secret_file(&self, text: &str) -> String {
        let path = self.dir.path().join("VELERO-CREDS");
        std::fs::write(&path, text).expect("credentials written");
        path.display().to_string()
    }

    /// The runbook's install line with `$BUCKET=mgmt`, `$REGION=minio` and the credentials file.
    fn install_line(&self, extra: &str) -> String {
        let creds = self.secret_file(RUNBOOK_CREDENTIALS);
        format!(
            "velero install --provider aws \\\n  --plugins {PLUGINS} \\\n  --bucket mgmt --backup-location-config region=minio \\\n  --secret-file {creds} {extra}"
        )
    }

    async fn velero(&self, line: &str) -> Result<String, VeleroCliError> {
        self.velero_with(&self.env(), line).await
    }

    async fn velero_with(&self, env: &VeleroEnv, line: &str) -> Result<String, VeleroCliError> {
        let mut out = Vec::new();
        run_line(line, env, &mut out).await?;
        Ok(String::from_utf8(out).expect("utf-8 output"))
    }

    async fn install(&self) {
        let line = self.install_line("");
        self.velero(&line).await.expect("velero install");
    }
}

fn api<K>(client: &Client) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), "velero")
}

async fn velero_crds(client: &Client) -> Vec<String> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names: Vec<String> = crds
        .list(&Default::default())
        .await
        .expect("list CRDs")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .filter(|n| n.ends_with(".velero.io"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_creates_everything_and_is_idempotent() {
    let world = World::start().await;
    let line = world.install_line("");
    let first = world.velero(&line).await.expect("first install");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        &lines[..4],
        [
            "CustomResourceDefinition/backups.velero.io: attempting to create resource",
            "CustomResourceDefinition/backups.velero.io: attempting to create resource client",
            "CustomResourceDefinition/backups.velero.io: created",
            "CustomResourceDefinition/backupstoragelocations.velero.io: attempting to create resource",
        ]
    );
    assert!(first.contains("Waiting for resources to be ready in cluster...\nNamespace/velero: attempting to create resource\n"));
    assert!(first.contains("Secret/cloud-credentials: created\n"));
    assert!(first.contains("BackupStorageLocation/default: created\n"));
    assert!(first.contains("VolumeSnapshotLocation/default: created\n"));
    assert!(first.ends_with(
        "Deployment/velero: created\nVelero is installed! ⛵ Use 'kubectl logs deployment/velero -n velero' to view the status.\n"
    ));
    assert!(!first.contains("already exists"), "{first}");

    let c = &world.client;
    assert_eq!(
        velero_crds(c).await,
        [
            "backups.velero.io",
            "backupstoragelocations.velero.io",
            "deletebackuprequests.velero.io",
            "downloadrequests.velero.io",
            "podvolumebackups.velero.io",
            "podvolumerestores.velero.io",
            "restores.velero.io",
            "schedules.velero.io",
            "volumesnapshotlocations.velero.io"
        ]
    );
    Api::<Namespace>::all(c.clone()).get("velero").await.expect("namespace");
    api::<ServiceAccount>(c).get("velero").await.expect("service account");
    // The embedded API server has no RBAC API; the CLI says so instead of pretending.
    let rbac_served = c.list_api_group_resources("rbac.authorization.k8s.io/v1").await.is_ok();
    if rbac_served {
        let binding = Api::<ClusterRoleBinding>::all(c.clone()).get("velero").await.expect("binding");
        assert_eq!(binding.role_ref.name, "cluster-admin");
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("ServiceAccount", "velero"));
    } else {
        assert!(
            first.contains("ClusterRoleBinding/velero: skipped: the API server does not serve rbac.authorization.k8s.io/v1\n"),
            "{first}"
        );
    }
    let secret = api::<Secret>(c).get("cloud-credentials").await.expect("secret");
    assert_eq!(secret.data.expect("data")["cloud"].0, RUNBOOK_CREDENTIALS.as_bytes());

    let deployment = api::<Deployment>(c).get("velero").await.expect("deployment");
    let pod = deployment.spec.expect("spec").template.spec.expect("pod spec");
    let velero = &pod.containers[0];
    assert_eq!(velero.image.as_deref(), Some("velero/velero:v1.9.5"));
    assert_eq!(velero.args.clone().expect("args"), ["server", "--features="]);
    let init: Vec<(String, String)> = pod
        .init_containers
        .expect("plugins")
        .into_iter()
        .map(|c| (c.name, c.image.unwrap_or_default()))
        .collect();
    let plugin_images: Vec<&str> = PLUGINS.split(',').collect();
    assert_eq!(
        init,
        [
            ("tkg-velero-velero-plugin-for-aws".to_string(), plugin_images[0].to_string()),
            ("tkg-velero-velero-mgmt-cluster-plugin".to_string(), plugin_images[1].to_string()),
        ]
    );

    let bsl = api::<BackupStorageLocation>(c).get("default").await.expect("bsl");
    assert_eq!(bsl.spec.provider, "aws");
    assert_eq!(bsl.spec.object_storage.bucket, "mgmt");
    assert_eq!(bsl.spec.object_storage.prefix, None);
    assert_eq!(bsl.spec.config, [("region".to_string(), "minio".to_string())].into());
    assert!(bsl.spec.default);
    // Like velero, --use-volume-snapshots defaults to true: a snapshot location without config.
    let vsl = api::<VolumeSnapshotLocation>(c).get("default").await.expect("vsl");
    assert_eq!(vsl.spec.provider, "aws");
    assert!(vsl.spec.config.is_empty());

    let second = world.velero(&line).await.expect("second install");
    let existing = second.matches(": already exists, proceeding\n").count();
    let others = if rbac_served { 7 } else { 6 };
    assert_eq!(
        existing,
        drdrill_apis::velero::crds().len() + others,
        "every CRD and every other object already exists:\n{second}"
    );
    assert!(second.contains(
        "Deployment/velero: attempting to create resource client\nDeployment/velero: already exists, proceeding\nDeployment/velero: created\n"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_with_a_malformed_secret_file_creates_nothing() {
    let world = World::start().await;
    let creds = world.secret_file("[default]\naws_access_key_id minio\naws_secret_access_key=minio123\n");
    let line = format!(
        "velero install --provider aws --plugins {PLUGINS} --bucket mgmt --backup-location-config region=minio --secret-file {creds}"
    );
    let err = world.velero(&line).await.expect_err("malformed file");
    assert!(matches!(err, VeleroCliError::SecretFile { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&creds) && text.contains("line 2"), "{text}");
    assert!(velero_crds(&world.client).await.is_empty());
    assert!(
        Api::<Namespace>::all(world.client.clone())
            .get_opt("velero")
            .await
            .expect("get")
            .is_none()
    );

    let missing_key = world.secret_file("[default]\naws_access_key_id=minio\n");
    let line =
        format!("velero install --provider aws --plugins {PLUGINS} --bucket mgmt --secret-file {missing_key} --use-volume-snapshots=false");
    let err = world.velero(&line).await.expect_err("no secret key");
    assert!(err.to_string().contains("aws_secret_access_key"), "{err}");
    assert!(velero_crds(&world.client).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_flags_are_validated_like_velero() {
    let world = World::start().await;
    let creds = world.secret_file(RUNBOOK_CREDENTIALS);
    // An empty $BUCKET: the next flag becomes the bucket name, which velero refuses.
    let line =
        format!("velero install --provider aws --plugins {PLUGINS} --bucket --backup-location-config region=minio --secret-file {creds}");
    let err = world.velero(&line).await.expect_err("empty bucket");
    assert_eq!(
        err.to_string(),
        "Bucket names cannot begin with a dash. Bucket name was: --backup-location-config"
    );
    let err = world
        .velero(&format!("velero install --provider aws --plugins {PLUGINS} --bucket mgmt"))
        .await
        .expect_err("no secret");
    assert_eq!(err.to_string(), "One of --secret-file or --no-secret is required");
    let err = world
        .velero(&format!(
            "velero install --provider aws --plugins {PLUGINS} --bucket mgmt --no-secret --use-volume-snapshots=false --snapshot-location-config region=x"
        ))
        .await
        .expect_err("vsl config without snapshots");
    assert_eq!(
        err.to_string(),
        "--snapshot-location-config must be empty when --use-volume-snapshots=false"
    );
    assert!(velero_crds(&world.client).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_wait_returns_once_the_velero_pod_runs() {
    let world = World::start().await;
    let line = world.install_line("--use-volume-snapshots=false --wait");
    let client = world.client.clone();
    let runner = tokio::spawn(async move {
        let pods: Api<Pod> = api(&client);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let deployed = api::<Deployment>(&client).get_opt("velero").await.expect("get deployment");
            if deployed.is_some() {
                break;
            }
        }
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "velero-78fdbcd446-v5cqr", "labels": { "component": "velero", "deploy": "velero" } },
            "spec": { "containers": [{ "name": "velero", "image": "velero/velero:v1.9.5" }] }
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod).await.expect("create pod");
        tokio::time::sleep(Duration::from_millis(100)).await;
        pods.patch_status(
            "velero-78fdbcd446-v5cqr",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": "Running" } })),
        )
        .await
        .expect("pod running");
    });
    let out = world.velero(&line).await.expect("install --wait");
    runner.await.expect("runner");
    assert!(
        out.contains("Deployment/velero: created\nWaiting for Velero deployment to be ready.\nVelero is installed! ⛵"),
        "{out}"
    );
    assert!(
        api::<VolumeSnapshotLocation>(&world.client)
            .get_opt("default")
            .await
            .expect("get")
            .is_none()
    );

    let mut impatient = world.env();
    impatient.wait_timeout = Duration::from_millis(100);
    api::<Pod>(&world.client)
        .delete("velero-78fdbcd446-v5cqr", &Default::default())
        .await
        .expect("delete pod");
    let err = world.velero_with(&impatient, &line).await.expect_err("no pod");
    assert!(matches!(err, VeleroCliError::WaitTimeout { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_backup_create_writes_velero_spec_and_waits_for_completion() {
    let world = World::start().await;
    world.install().await;
    let client = world.client.clone();
    let controller = tokio::spawn(async move {
        let backups: Api<Backup> = api(&client);
        loop {
            tokio::time::sleep(Duration::from_millis(30)).await;
            if backups.get_opt("my-backup").await.expect("get").is_some() {
                break;
            }
        }
        for phase in ["InProgress", "Completed"] {
            tokio::time::sleep(Duration::from_millis(120)).await;
            backups
                .patch(
                    "my-backup",
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "status": { "phase": phase } })),
                )
                .await
                .expect("set phase");
        }
    });
    let out = world
        .velero("velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait")
        .await
        .expect("backup create --wait");
    controller.await.expect("controller");
    let dots = out.matches('.').count();
    let expected_head = "Backup request \"my-backup\" submitted successfully.\nWaiting for backup to complete. You may safely press ctrl-c to stop waiting - your backup will continue in the background.\n";
    assert!(out.starts_with(expected_head), "{out}");
    assert!(out.ends_with(
        "\nBackup completed with status: Completed. You may check for more information using the commands `velero backup describe my-backup` and `velero backup logs my-backup`.\n"
    ), "{out}");
    assert!(dots > 5, "a dot per poll while waiting: {out}");

    let backup = api::<Backup>(&world.client).get("my-backup").await.expect("backup");
    assert_eq!(
        serde_json::to_value(&backup.spec).expect("spec"),
        json!({
            "metadata": {},
            "includedNamespaces": ["*"],
            "excludedNamespaces": ["tkg-system"],
            "includedResources": ["cluster.cluster.x-k8s.io"],
            "ttl": "0s",
            "hooks": {},
            "csiSnapshotTimeout": "0s"
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_reports_failure_without_erring_and_times_out_as_an_error() {
    let world = World::start().await;
    world.install().await;
    let client = world.client.clone();
    let controller = tokio::spawn(async move {
        let restores: Api<Restore> = api(&client);
        loop {
            tokio::time::sleep(Duration::from_millis(30)).await;
            if restores.get_opt("my-restore").await.expect("get").is_some() {
                break;
            }
        }
        restores
            .patch(
                "my-restore",
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": { "phase": "PartiallyFailed" } })),
            )
            .await
            .expect("set phase");
    });
    let err = world
        .velero("velero restore create my-restore --from-backup my-backup --wait")
        .await
        .expect_err("no such backup");
    assert_eq!(err.to_string(), "backups.velero.io \"my-backup\" not found");
    assert!(api::<Restore>(&world.client).get_opt("my-restore").await.expect("get").is_none());

    world.velero("velero backup create my-backup --ttl 720h").await.expect("backup");
    let out = world
        .velero("velero restore create my-restore --from-backup my-backup --wait")
        .await
        .expect("a PartiallyFailed restore is not a CLI error");
    controller.await.expect("controller");
    assert!(out.ends_with(
        "\nRestore completed with status: PartiallyFailed. You may check for more information using the commands `velero restore describe my-restore` and `velero restore logs my-restore`.\n"
    ), "{out}");
    let restore = api::<Restore>(&world.client).get("my-restore").await.expect("restore");
    assert_eq!(
        serde_json::to_value(&restore.spec).expect("spec"),
        json!({ "backupName": "my-backup", "includedNamespaces": ["*"], "hooks": {} })
    );

    let mut impatient = world.env();
    impatient.wait_timeout = Duration::from_millis(150);
    let err = world
        .velero_with(&impatient, "velero backup create stuck --wait")
        .await
        .expect_err("nobody processes it");
    assert!(matches!(err, VeleroCliError::WaitTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("backup \"stuck\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_schedule_and_pause() {
    let world = World::start().await;
    world.install().await;
    let out = world
        .velero(r#"velero create schedule daily-bak --schedule="@every 24h" --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s"#)
        .await
        .expect("create schedule");
    assert_eq!(out, "Schedule \"daily-bak\" created successfully.\n");
    let schedule = api::<Schedule>(&world.client).get("daily-bak").await.expect("schedule");
    assert_eq!(
        serde_json::to_value(&schedule.spec).expect("spec"),
        json!({
            "schedule": "@every 24h",
            "template": {
                "metadata": {},
                "includedNamespaces": ["*"],
                "excludedNamespaces": ["tkg-system"],
                "includedResources": ["cluster.cluster.x-k8s.io"],
                "ttl": "336h0m0s",
                "hooks": {},
                "csiSnapshotTimeout": "0s"
            },
            "useOwnerReferencesInBackup": false
        })
    );
    world
        .velero("velero schedule create weekly --schedule=\"@every 168h\" --paused")
        .await
        .expect("schedule create");
    assert_eq!(
        world.velero("velero schedule pause daily-bak").await.expect("pause"),
        "Schedule daily-bak paused successfully\n"
    );
    assert_eq!(
        world.velero("velero schedule pause daily-bak").await.expect("pause again"),
        "Schedule daily-bak is already paused, skip\n"
    );
    assert!(api::<Schedule>(&world.client).get("daily-bak").await.expect("get").spec.paused);
    assert_eq!(
        world.velero("velero schedule unpause --all").await.expect("unpause"),
        "Schedule daily-bak unpaused successfully\nSchedule weekly unpaused successfully\n"
    );
    let err = world.velero("velero schedule pause").await.expect_err("nothing selected");
    assert!(err.to_string().contains("--all"), "{err}");
    let err = world.velero("velero schedule pause nope").await.expect_err("missing");
    assert_eq!(err.to_string(), "schedules.velero.io \"nope\" not found");
    let err = world.velero("velero schedule create no-cron").await.expect_err("no --schedule");
    assert_eq!(err.to_string(), "--schedule is required");
}

/// The HTTP status a plain GET of `url` gets.
async fn reqwest_status(url: &str) -> u16 {
    reqwest::get(url).await.expect("GET").status().as_u16()
}

async fn set_status<K>(api: &Api<K>, name: &str, status: serde_json::Value, subresource: bool)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = Patch::Merge(json!({ "status": status }));
    if subresource {
        api.patch_status(name, &PatchParams::default(), &patch).await.expect("status");
    } else {
        api.patch(name, &PatchParams::default(), &patch).await.expect("status");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_match_the_runbook_and_velero_printers() {
    let world = World::start().await;
    world.install().await;
    let c = &world.client;
    // The runbook's rows: a backup taken at 17:10:42 that expires in 30 days, seen six days later.
    world
        .velero("velero backup create my-backup --storage-location default")
        .await
        .expect("backup");
    set_status(
        &api::<Backup>(c),
        "my-backup",
        json!({ "phase": "Completed", "startTimestamp": "2022-12-07T17:10:42Z", "completionTimestamp": "2022-12-07T17:10:50Z", "expiration": "2023-01-06T17:10:42Z" }),
        false,
    )
    .await;
    set_status(
        &api::<BackupStorageLocation>(c),
        "default",
        json!({ "phase": "Available", "lastValidationTime": "2022-11-11T05:55:55Z" }),
        true,
    )
    .await;
    world.clock.advance(Duration::from_secs(6 * 86_400));
    assert_eq!(
        world.velero("velero backup get").await.expect("backup get"),
        "NAME        STATUS      ERRORS   WARNINGS   CREATED                         EXPIRES   STORAGE LOCATION   SELECTOR\n\
         my-backup   Completed   0        0          2022-12-07 17:10:42 +0000 UTC   24d       default            <none>\n"
    );
    assert_eq!(
        world.velero("velero backup-location get").await.expect("backup-location get"),
        "NAME      PROVIDER   BUCKET/PREFIX   PHASE       LAST VALIDATED                  ACCESS MODE   DEFAULT\n\
         default   aws        mgmt            Available   2022-11-11 05:55:55 +0000 UTC   ReadWrite     true\n"
    );

    // More rows: a schedule's backups newest first, a selector, a backup not yet processed.
    world
        .velero(r#"velero create schedule daily-bak --schedule="@every 24h" --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s"#)
        .await
        .expect("schedule");
    for (name, start, phase, errors) in [
        ("daily-bak-20221212171042", "2022-12-12T17:10:42Z", "PartiallyFailed", 2),
        ("daily-bak-20221213171042", "2022-12-13T17:10:42Z", "Completed", 0),
    ] {
        world
            .velero(&format!("velero backup create {name} --from-schedule daily-bak"))
            .await
            .expect("backup from schedule");
        set_status(
            &api::<Backup>(c),
            name,
            json!({ "phase": phase, "errors": errors, "warnings": 1, "startTimestamp": start }),
            false,
        )
        .await;
    }
    world
        .velero("velero backup create apps -l 'app in (web,db),tier!=cache' --ttl 2h")
        .await
        .expect("backup with selector");
    set_status(
        &api::<Schedule>(c),
        "daily-bak",
        json!({ "phase": "Enabled", "lastBackup": "2022-12-13T17:10:42Z" }),
        true,
    )
    .await;
    world
        .velero("velero schedule create weekly --schedule=\"0 1 * * 0\" --paused")
        .await
        .expect("weekly");
    assert_golden(
        "velero_backup_get.txt",
        &world.velero("velero backup get").await.expect("backup get"),
    );
    assert_golden(
        "velero_schedule_get.txt",
        &world.velero("velero schedule get").await.expect("schedule get"),
    );
    let mut v1_10 = world.env();
    v1_10.cli_version = "v1.10.0".to_string();
    assert_golden(
        "velero_schedule_get_v1_10.txt",
        &world.velero_with(&v1_10, "velero schedule get").await.expect("schedule get v1.10"),
    );

    world
        .velero("velero restore create my-restore --from-backup my-backup")
        .await
        .expect("restore");
    set_status(
        &api::<Restore>(c),
        "my-restore",
        json!({ "phase": "Completed", "startTimestamp": "2022-12-13T17:11:00Z", "completionTimestamp": "2022-12-13T17:11:09Z" }),
        false,
    )
    .await;
    world
        .velero(
            "velero restore create --from-backup daily-bak-20221213171042 --include-namespaces default --existing-resource-policy update",
        )
        .await
        .expect("restore with a generated name");
    assert_golden(
        "velero_restore_get.txt",
        &world.velero("velero restore get").await.expect("restore get"),
    );
    assert_golden(
        "velero_backup_describe.txt",
        &world.velero("velero backup describe my-backup").await.expect("describe"),
    );
    assert_golden(
        "velero_restore_describe.txt",
        &world.velero("velero restore describe my-restore").await.expect("describe"),
    );
    let one = world.velero("velero backup get my-backup -o json").await.expect("json");
    let parsed: serde_json::Value = serde_json::from_str(&one).expect("json output");
    assert_eq!(parsed["kind"], "Backup");
    assert_eq!(parsed["metadata"]["name"], "my-backup");
    let all = world.velero("velero get backups -o yaml").await.expect("yaml");
    let parsed: serde_json::Value = serde_yaml::from_str(&all).expect("yaml output");
    assert_eq!(parsed["kind"], "BackupList");
    assert_eq!(parsed["items"].as_array().map(Vec::len), Some(4));
}

/// Velero's DownloadRequest controller, answering on its own as a running server would.
struct DownloadServer(tokio::task::JoinHandle<()>);

impl DownloadServer {
    fn start(world: &World) -> DownloadServer {
        let ctx = ServerContext::new(world.client.clone(), "velero", Arc::new(world.clock.clone()));
        let controller = DownloadRequestController::new(ctx);
        DownloadServer(tokio::spawn(async move {
            loop {
                controller.reconcile_all().await.expect("download request pass");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }))
    }
}

impl Drop for DownloadServer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_files_come_through_download_requests_and_delete_files_a_request() {
    let s3 = S3Server::start(S3ServerConfig::new(Credentials::new("minio", "minio123")).with_bucket("mgmt"))
        .await
        .expect("s3");
    let world = World::start().await;
    let line = world.install_line(&format!(
        "--backup-location-config s3Url={},s3ForcePathStyle=true --prefix tkg",
        s3.endpoint()
    ));
    world.velero(&line).await.expect("install");
    let bsl = api::<BackupStorageLocation>(&world.client).get("default").await.expect("bsl");
    assert_eq!(bsl.spec.config.len(), 3, "map flags accumulate: {:?}", bsl.spec.config);
    world.velero("velero backup create my-backup").await.expect("backup");

    let err = world.velero("velero backup logs my-backup").await.expect_err("not finished");
    assert!(err.to_string().contains("not available until it's finished processing"), "{err}");
    // What Velero's backup controller does with a backup it processes.
    set_status(&api::<Backup>(&world.client), "my-backup", json!({ "phase": "Completed" }), false).await;
    api::<Backup>(&world.client)
        .patch(
            "my-backup",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"storageLocation": "default"}})),
        )
        .await
        .expect("location");

    // No server running: the request is never answered, and the CLI says what velero says.
    let err = world
        .velero("velero backup logs my-backup --timeout 300ms")
        .await
        .expect_err("no server");
    assert_eq!(
        err.to_string(),
        "download request download url timeout, check velero server logs for errors. backup storage location may not be available"
    );
    // With the location Unavailable, the CLI adds what it can see of the cause.
    let unavailable = json!({ "phase": "Unavailable", "message": "rpc error: NoSuchBucket: The specified bucket does not exist" });
    set_status(&api::<BackupStorageLocation>(&world.client), "default", unavailable, true).await;
    let err = world
        .velero("velero backup logs my-backup --timeout 100ms")
        .await
        .expect_err("no server");
    assert!(
        err.to_string().ends_with(
            "may not be available (backup storage location \"default\" is Unavailable: rpc error: NoSuchBucket: The specified bucket does not exist)"
        ),
        "{err}"
    );
    let requests = api::<DownloadRequest>(&world.client)
        .list(&Default::default())
        .await
        .expect("list")
        .items;
    assert_eq!(requests.len(), 2);
    let request = &requests[0];
    assert!(
        request.metadata.name.as_deref().is_some_and(|n| n.len() == "my-backup-".len() + 36),
        "{:?}",
        request.metadata.name
    );
    assert_eq!(request.spec.target.kind, DownloadTargetKind::BackupLog);
    assert_eq!(request.spec.target.name, "my-backup");

    let server = DownloadServer::start(&world);
    // The log is not in the bucket (yet): the store's 404 is velero's "file not found".
    let err = world.velero("velero backup logs my-backup").await.expect_err("no log");
    assert_eq!(err.to_string(), "file not found");
    let store =
        ObjectStore::with_region(&s3.endpoint(), "mgmt", "tkg", &Credentials::new("minio", "minio123"), Some("minio")).expect("store");
    let log = "time=\"2022-12-07T17:10:42Z\" level=info msg=\"Backup completed\" backup=velero/my-backup\n";
    store
        .put("tkg/backups/my-backup/my-backup-logs.gz", gzip(log.as_bytes()).expect("gzip"))
        .await
        .expect("put log");
    assert_eq!(world.velero("velero backup logs my-backup").await.expect("logs"), log);
    let answered = api::<DownloadRequest>(&world.client)
        .list(&Default::default())
        .await
        .expect("list")
        .items;
    let processed: Vec<_> = answered
        .iter()
        .filter_map(|r| r.status.as_ref())
        .filter(|s| s.phase == Some(DownloadRequestPhase::Processed))
        .collect();
    assert!(!processed.is_empty());
    for status in &processed {
        let url = status.download_url.as_deref().expect("url");
        assert!(url.starts_with(&format!("{}/mgmt/tkg/backups/my-backup/", s3.endpoint())), "{url}");
        assert!(
            url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=600"),
            "pre-signed for 10 minutes: {url}"
        );
        assert_eq!(
            status.expiration.as_ref().map(|t| t.0.to_string()),
            Some("2022-12-07T17:20:42Z".to_string())
        );
    }
    // The URL is the only credential the CLI has: tampered with, the store refuses it.
    let url = processed[0].download_url.clone().expect("url");
    let forged = url.replace("my-backup-logs.gz", "my-backup.tar.gz");
    let status = reqwest_status(&forged).await;
    assert_eq!(status, 403, "a URL signed for one key must not open another");

    // `velero backup download`: the tarball as stored, into -o; an existing file is kept
    // unless --force.
    let tarball = gzip(b"not really a tar").expect("gzip");
    store
        .put("tkg/backups/my-backup/my-backup.tar.gz", tarball.clone())
        .await
        .expect("put tarball");
    let dest = world.dir.path().join("my-backup-data.tar.gz");
    let out = world
        .velero(&format!("velero backup download my-backup -o {}", dest.display()))
        .await
        .expect("download");
    assert_eq!(
        out,
        format!("Backup my-backup has been successfully downloaded to {}\n", dest.display())
    );
    assert_eq!(std::fs::read(&dest).expect("downloaded"), tarball, "handed over still compressed");
    std::fs::write(&dest, b"mine").expect("overwrite");
    let err = world
        .velero(&format!("velero backup download my-backup -o {}", dest.display()))
        .await
        .expect_err("exists");
    assert_eq!(
        err.to_string(),
        format!("file '{}' already exists, remove it or choose a different one", dest.display())
    );
    assert_eq!(std::fs::read(&dest).expect("kept"), b"mine");
    world
        .velero(&format!("velero backup download my-backup -o {} --force", dest.display()))
        .await
        .expect("forced");
    assert_eq!(std::fs::read(&dest).expect("downloaded"), tarball);
    let err = world.velero("velero backup download nope -o /dev/null").await.expect_err("missing");
    assert_eq!(err.to_string(), "backups.velero.io \"nope\" not found");

    // `describe --details` reads the resource list the same way.
    let out = world.velero("velero backup describe my-backup --details").await.expect("describe");
    assert!(out.contains("Resource List:  <backup resource list not found>\n"), "{out}");
    let list = json!({ "cluster.x-k8s.io/v1beta1/Cluster": ["default/tkg-wc-1"] });
    store
        .put(
            "tkg/backups/my-backup/my-backup-resource-list.json.gz",
            gzip(list.to_string().as_bytes()).expect("gzip"),
        )
        .await
        .expect("put list");
    let out = world.velero("velero backup describe my-backup --details").await.expect("describe");
    assert!(
        out.contains("Resource List:\n  cluster.x-k8s.io/v1beta1/Cluster:\n    - default/tkg-wc-1\n"),
        "{out}"
    );

    // `velero restore logs` reads the restore's log from its backup's location.
    world
        .velero("velero restore create my-restore --from-backup my-backup")
        .await
        .expect("restore");
    let err = world.velero("velero restore logs my-restore").await.expect_err("not finished");
    assert!(
        err.to_string().contains("Logs for restore \"my-restore\" are not available"),
        "{err}"
    );
    set_status(&api::<Restore>(&world.client), "my-restore", json!({ "phase": "Completed" }), false).await;
    let restore_log = "level=info msg=\"restore completed\"\n";
    store
        .put(
            "tkg/restores/my-restore/restore-my-restore-logs.gz",
            gzip(restore_log.as_bytes()).expect("gzip"),
        )
        .await
        .expect("put restore log");
    assert_eq!(
        world.velero("velero restore logs my-restore").await.expect("restore logs"),
        restore_log
    );
    let err = world.velero("velero restore logs nope").await.expect_err("missing");
    assert_eq!(err.to_string(), "Restore \"nope\" does not exist.");
    let err = world.velero("velero backup logs nope").await.expect_err("missing");
    assert_eq!(err.to_string(), "Backup \"nope\" does not exist.");
    let err = world
        .velero("velero backup logs my-backup --timeout soon")
        .await
        .expect_err("bad timeout");
    assert!(
        err.to_string().starts_with("invalid argument \"soon\" for \"--timeout\" flag"),
        "{err}"
    );

    // Ten minutes on, every request has expired and the server deletes them.
    world.clock.advance(Duration::from_secs(601));
    let requests = api::<DownloadRequest>(&world.client);
    for _ in 0..200 {
        if requests.list(&Default::default()).await.expect("list").items.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        requests.list(&Default::default()).await.expect("list").items.is_empty(),
        "expired requests are deleted"
    );
    drop(server);

    let err = world.velero("velero backup delete my-backup").await.expect_err("needs --confirm");
    assert!(err.to_string().contains("--confirm"), "{err}");
    let out = world.velero("velero backup delete my-backup --confirm").await.expect("delete");
    assert_eq!(
        out,
        "Request to delete backup \"my-backup\" submitted successfully.\nThe backup will be fully deleted after all associated data (disk snapshots, backup files, restores) are removed.\n"
    );
    let backup = api::<Backup>(&world.client).get("my-backup").await.expect("backup");
    let requests = api::<DeleteBackupRequest>(&world.client)
        .list(&Default::default())
        .await
        .expect("list")
        .items;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.spec.backup_name, "my-backup");
    assert!(request.metadata.name.as_deref().is_some_and(|n| n.starts_with("my-backup-")));
    let labels = request.metadata.labels.clone().expect("labels");
    assert_eq!(labels["velero.io/backup-name"], "my-backup");
    assert_eq!(Some(&labels["velero.io/backup-uid"]), backup.metadata.uid.as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_cli_must_be_upgraded_to_v1_9_5() {
    let world = World::start().await;
    let mut old = world.env();
    old.cli_version = "v1.8.1".to_string();
    let err = world.velero_with(&old, &world.install_line("")).await.expect_err("old CLI install");
    assert!(matches!(err, VeleroCliError::CliTooOld { .. }), "{err:?}");
    assert!(velero_crds(&world.client).await.is_empty(), "nothing installed by a refused CLI");

    world.install().await;
    for line in [
        "velero backup get",
        "velero backup create my-backup",
        "velero restore create --from-backup my-backup",
        "velero create schedule daily-bak --schedule=\"@every 24h\"",
        "velero backup-location get",
        "velero version",
    ] {
        let err = world.velero_with(&old, line).await.expect_err(line);
        assert!(matches!(err, VeleroCliError::CliTooOld { .. }), "{line}: {err:?}");
        let text = err.to_string();
        assert!(
            text.contains("v1.8.1") && text.contains("upgrade the velero CLI to v1.9.5"),
            "{text}"
        );
    }
    assert!(
        api::<Backup>(&world.client)
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let client_only = world.velero_with(&old, "velero version --client-only").await.expect("client only");
    assert_eq!(client_only, "Client:\n\tVersion: v1.8.1\n\tGit commit: -\n");

    // The CRDs alone (no server) are enough to refuse, and v1.10 is newer than v1.9.
    api::<Deployment>(&world.client)
        .delete("velero", &Default::default())
        .await
        .expect("delete deployment");
    let err = world.velero_with(&old, "velero backup get").await.expect_err("v1.9 CRDs");
    assert!(err.to_string().contains("restores.velero.io"), "{err}");
    let mut newer = world.env();
    newer.cli_version = "v1.10.0".to_string();
    world.velero_with(&newer, "velero backup get").await.expect("v1.10 is fine");
    let mut bogus = world.env();
    bogus.cli_version = "one-point-nine".to_string();
    assert!(matches!(
        world.velero_with(&bogus, "velero backup get").await,
        Err(VeleroCliError::BadCliVersion(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_reports_client_and_server() {
    let world = World::start().await;
    world.install().await;
    assert_eq!(
        world.velero("velero version").await.expect("version"),
        "Client:\n\tVersion: v1.9.5\n\tGit commit: -\nServer:\n\tVersion: v1.9.5\n"
    );
    let mut newer = world.env();
    newer.cli_version = "v1.10.0".to_string();
    assert!(
        world
            .velero_with(&newer, "velero version")
            .await
            .expect("version")
            .ends_with("# WARNING: the client version does not match the server version. Please update server\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_verbs_flags_and_bad_values_are_clear_errors() {
    let world = World::start().await;
    world.install().await;
    let usage = |r: Result<String, VeleroCliError>| match r {
        Err(VeleroCliError::Usage(text)) => text,
        other => panic!("expected a usage error, got {other:?}"),
    };
    let text = usage(world.velero("velero bakup get").await);
    assert!(text.contains("unrecognized subcommand 'bakup'"), "{text}");
    let text = usage(world.velero("velero backup create x --no-such-flag").await);
    assert!(text.contains("unexpected argument '--no-such-flag'"), "{text}");
    let text = usage(world.velero("velero backup create x --wait false").await);
    assert!(text.contains("'false'"), "a boolean takes no separate value, as in pflag: {text}");
    let err = world.velero("velero backup create x --ttl 14d").await.expect_err("bad ttl");
    assert_eq!(
        err.to_string(),
        "invalid argument \"14d\" for \"--ttl\" flag: time: unknown unit \"d\" in duration \"14d\""
    );
    let err = world
        .velero("velero backup create x --selector 'app in ('")
        .await
        .expect_err("bad selector");
    assert!(
        matches!(err, VeleroCliError::InvalidFlag { ref flag, .. } if flag == "--selector"),
        "{err:?}"
    );
    let err = world.velero("velero backup create").await.expect_err("no name");
    assert_eq!(
        err.to_string(),
        "A backup name is required, unless you are creating based on a schedule."
    );
    let err = world
        .velero("velero backup create x --include-namespaces a --exclude-namespaces a")
        .await
        .expect_err("overlap");
    assert_eq!(err.to_string(), "excludes list cannot contain an item in the includes list: a");
    let err = world
        .velero("velero backup create x --storage-location elsewhere")
        .await
        .expect_err("no location");
    assert_eq!(err.to_string(), "backupstoragelocations.velero.io \"elsewhere\" not found");
    let err = world.velero("velero backup get -o wide").await.expect_err("bad output");
    assert!(err.to_string().contains("invalid output format \"wide\""), "{err}");
    let err = world.velero("velero backup describe ghost").await.expect_err("missing");
    assert!(matches!(err, VeleroCliError::NotFound { .. }), "{err:?}");
    let err = world
        .velero("velero restore create --from-backup a --from-schedule b")
        .await
        .expect_err("both");
    assert_eq!(err.to_string(), "either a backup or schedule must be specified, but not both");
    let err = world
        .velero("velero restore create r --from-backup a --existing-resource-policy merge")
        .await
        .expect_err("bad policy");
    assert!(err.to_string().contains("accepts only none, update"), "{err}");
    assert!(
        api::<Backup>(&world.client)
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        api::<Restore>(&world.client)
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let mut out = Vec::new();
    run(
        &["backup".to_string(), "create".to_string(), "--help".to_string()],
        &world.env(),
        &mut out,
    )
    .await
    .expect("help is not an error");
    assert!(String::from_utf8_lossy(&out).contains("--include-namespaces"));
}
