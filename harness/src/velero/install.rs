//! `velero install`: client-side, like velero's `pkg/install` — build every resource, create the
//! CRDs, wait for them to be established, then create the rest one by one, printing velero's
//! progress lines; an object that already exists is left as it is ("already exists, proceeding").

use std::collections::BTreeMap;
use std::io::Write;

use drdrill_apis::velero::{
    BackupStorageLocation, BackupStorageLocationSpec, ObjectStorageLocation, VolumeSnapshotLocation, VolumeSnapshotLocationSpec,
};
use drdrill_velero_sim::s3::CredentialsFile;
use drdrill_velero_sim::server::{CREDENTIALS_KEY, CREDENTIALS_SECRET};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HostPathVolumeSource, Namespace, ObjectFieldSelector, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, Secret, SecretVolumeSource, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::args::{InstallArgs, duration_flag, go_duration_string, parse_map};
use super::{Ctx, VeleroCliError, api, poll_until};

/// The volume the plugins' init containers copy their binaries into.
pub const PLUGIN_VOLUME: &str = "plugins";

/// velero's name for a plugin's init container: the image without registry and tag, with
/// `/`, `_` and `.` turned into `-` (`projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1`
/// → `tkg-velero-velero-plugin-for-aws`).
pub fn plugin_container_name(image: &str) -> String {
    let slash = image.find('/');
    let slash_count = slash.map(|i| image[i..].matches('/').count()).unwrap_or(0);
    let start = match slash {
        Some(i) if slash_count > 1 || i == 0 => i + 1,
        _ => 0,
    };
    let end = match image.rfind('@').filter(|&i| i > 0) {
        Some(at) => at,
        None => image.rfind(':').filter(|&i| i > 0).unwrap_or(image.len()),
    };
    let end = end.max(start);
    image[start..end].replace(['/', '_', '.'], "-")
}

fn labels() -> BTreeMap<String, String> {
    [("component".to_string(), "velero".to_string())].into()
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels()),
        ..Default::default()
    }
}

/// Everything `velero install` would create, in its order (CRDs first).
struct Plan {
    crds: Vec<CustomResourceDefinition>,
    namespace: Namespace,
    binding: ClusterRoleBinding,
    service_account: ServiceAccount,
    secret: Option<Secret>,
    location: Option<BackupStorageLocation>,
    snapshot_location: Option<VolumeSnapshotLocation>,
    deployment: Deployment,
    /// `--use-restic`: the node agent that backs pod volumes up file by file.
    restic: Option<DaemonSet>,
}

/// Validates the flags as velero's `InstallOptions.Validate` does (same messages).
fn validate(a: &InstallArgs) -> Result<(), VeleroCliError> {
    let invalid = |m: &str| Err(VeleroCliError::Invalid(m.to_string()));
    let bucket = a.bucket.clone().unwrap_or_default();
    if bucket.starts_with('-') {
        return Err(VeleroCliError::Invalid(format!(
            "Bucket names cannot begin with a dash. Bucket name was: {bucket}"
        )));
    }
    if a.no_default_backup_location {
        if a.bucket.is_some() {
            return invalid("Cannot use both --bucket and --no-default-backup-location at the same time");
        }
        if a.prefix.is_some() {
            return invalid("Cannot use both --prefix and --no-default-backup-location at the same time");
        }
        if !a.backup_location_config.is_empty() {
            return invalid("Cannot use both --backup-location-config and --no-default-backup-location at the same time");
        }
    } else {
        if a.provider.as_deref().unwrap_or_default().is_empty() {
            return invalid("--provider is required");
        }
        if bucket.is_empty() {
            return invalid("--bucket is required");
        }
    }
    if a.use_volume_snapshots {
        if a.provider.as_deref().unwrap_or_default().is_empty() {
            return invalid("--provider is required when --use-volume-snapshots is set to true");
        }
    } else if !a.snapshot_location_config.is_empty() {
        return invalid("--snapshot-location-config must be empty when --use-volume-snapshots=false");
    }
    if a.no_default_backup_location && !a.use_volume_snapshots {
        if a.provider.is_some() {
            return invalid("--provider must be empty when using --no-default-backup-location and --use-volume-snapshots=false");
        }
    } else if a.plugins.as_deref().unwrap_or_default().is_empty() {
        return invalid("--plugins flag is required");
    }
    match (&a.secret_file, a.no_secret) {
        (None, false) => return invalid("One of --secret-file or --no-secret is required"),
        (Some(_), true) => return invalid("Cannot use both --secret-file and --no-secret"),
        _ => {}
    }
    Ok(())
}

fn plan(a: &InstallArgs, namespace: &str, cli_version: &str) -> Result<Plan, VeleroCliError> {
    validate(a)?;
    let bsl_config = parse_map("--backup-location-config", &a.backup_location_config, ',', '=')?;
    let vsl_config = parse_map("--snapshot-location-config", &a.snapshot_location_config, ',', '=')?;
    let pod_labels = parse_map("--pod-labels", &a.pod_labels, ',', '=')?;
    let pod_annotations = parse_map("--pod-annotations", &a.pod_annotations, ',', '=')?;
    let sa_annotations = parse_map("--sa-annotations", &a.sa_annotations, ',', '=')?;
    let gc_frequency = duration_flag("--garbage-collection-frequency", a.garbage_collection_frequency.as_deref())?;
    if gc_frequency < 0 {
        return Err(VeleroCliError::Invalid(
            "--garbage-collection-frequency must be non-negative".to_string(),
        ));
    }
    // The credentials file is parsed before anything is created: a malformed file names its line.
    let secret_data = match &a.secret_file {
        Some(path) if !a.no_secret => {
            let secret_error = |source| VeleroCliError::SecretFile {
                path: path.display().to_string(),
                source,
            };
            let text = std::fs::read_to_string(path).map_err(|e| {
                secret_error(drdrill_velero_sim::s3::CredentialsError::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            })?;
            let file = CredentialsFile::parse(&text).map_err(secret_error)?;
            if a.provider.as_deref() == Some("aws") || a.provider.as_deref() == Some("velero.io/aws") {
                let profile = bsl_config.get("profile").map(String::as_str).unwrap_or("default");
                file.profile(profile).map_err(secret_error)?;
            }
            Some(text.into_bytes())
        }
        _ => None,
    };

    let mut crds = drdrill_apis::velero::crds();
    crds.sort_by(|x, y| x.metadata.name.cmp(&y.metadata.name));
    for crd in &mut crds {
        crd.metadata.labels.get_or_insert_with(BTreeMap::new).extend(labels());
    }

    let binding_name = if namespace == drdrill_apis::velero::DEFAULT_NAMESPACE {
        "velero".to_string()
    } else {
        format!("velero-{namespace}")
    };
    let binding = ClusterRoleBinding {
        metadata: meta(None, &binding_name),
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            namespace: Some(namespace.to_string()),
            name: "velero".to_string(),
            ..Default::default()
        }]),
        role_ref: RoleRef {
            kind: "ClusterRole".to_string(),
            name: "cluster-admin".to_string(),
            api_group: "rbac.authorization.k8s.io".to_string(),
        },
    };
    let mut sa_meta = meta(Some(namespace), "velero");
    if !sa_annotations.is_empty() {
        sa_meta.annotations = Some(sa_annotations);
    }
    let secret = secret_data.map(|data| Secret {
        metadata: meta(Some(namespace), CREDENTIALS_SECRET),
        data: Some([(CREDENTIALS_KEY.to_string(), ByteString(data))].into()),
        type_: Some("Opaque".to_string()),
        ..Default::default()
    });
    let provider = a.provider.clone().unwrap_or_default();
    let location = (!a.no_default_backup_location).then(|| BackupStorageLocation {
        metadata: meta(Some(namespace), "default"),
        spec: BackupStorageLocationSpec {
            provider: provider.clone(),
            object_storage: ObjectStorageLocation {
                bucket: a.bucket.clone().unwrap_or_default(),
                prefix: a.prefix.clone().filter(|p| !p.is_empty()),
                ..Default::default()
            },
            config: bsl_config,
            default: true,
            ..Default::default()
        },
        status: None,
    });
    // velero creates a snapshot location whenever --use-volume-snapshots is true (its default).
    let snapshot_location = a.use_volume_snapshots.then(|| VolumeSnapshotLocation {
        metadata: meta(Some(namespace), "default"),
        spec: VolumeSnapshotLocationSpec {
            provider: provider.clone(),
            config: vsl_config,
            credential: None,
        },
        status: None,
    });

    let image = a.image.clone().unwrap_or_else(|| format!("velero/velero:{cli_version}"));
    let plugins: Vec<String> = a
        .plugins
        .as_deref()
        .map(|p| p.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let restic = a.use_restic.then(|| restic_daemon_set(namespace, &image, secret.is_some()));
    let deployment = deployment(
        namespace,
        &image,
        &plugins,
        DeploymentOptions {
            features: &a.features,
            restore_only: a.restore_only,
            with_secret: secret.is_some(),
            gc_frequency,
            pod_labels,
            pod_annotations,
        },
    );
    Ok(Plan {
        crds,
        namespace: Namespace {
            metadata: meta(None, namespace),
            ..Default::default()
        },
        binding,
        service_account: ServiceAccount {
            metadata: sa_meta,
            ..Default::default()
        },
        secret,
        location,
        snapshot_location,
        deployment,
        restic,
    })
}

/// The `restic` DaemonSet as velero v1.9's `install.DaemonSet` builds it: a pod per node running
/// `velero restic server`, with the kubelet's pods folder mounted so it can read and write pod
/// volumes. Its pods are what the Velero server looks for on a pod's node before backing the
/// pod's volumes up.
/// The `cloud-credentials` Secret as a pod volume (the Deployment's and the node agent's).
fn credentials_volume() -> Volume {
    Volume {
        name: CREDENTIALS_SECRET.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(CREDENTIALS_SECRET.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An environment variable with a value.
fn env_value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}

/// An environment variable from a field of the pod (`metadata.namespace`, `spec.nodeName`).
fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_string(),
                api_version: None,
            }),
            ..Default::default()
        }),
    }
}

fn restic_daemon_set(namespace: &str, image: &str, with_secret: bool) -> DaemonSet {
    let mut pod_labels = labels();
    pod_labels.insert("name".to_string(), "restic".to_string());
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        mount_propagation: (name == "host-pods").then(|| "HostToContainer".to_string()),
        ..Default::default()
    };
    let mut env = vec![
        env_field("NODE_NAME", "spec.nodeName"),
        env_field("VELERO_NAMESPACE", "metadata.namespace"),
        env_value("VELERO_SCRATCH_DIR", "/scratch"),
    ];
    let mut mounts = vec![mount("host-pods", "/host_pods"), mount("scratch", "/scratch")];
    let mut volumes = vec![
        Volume {
            name: "host-pods".to_string(),
            host_path: Some(HostPathVolumeSource {
                path: "/var/lib/kubelet/pods".to_string(),
                type_: None,
            }),
            ..Default::default()
        },
        Volume {
            name: "scratch".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    if with_secret {
        volumes.push(credentials_volume());
        mounts.push(mount(CREDENTIALS_SECRET, "/credentials"));
        env.push(env_value("AWS_SHARED_CREDENTIALS_FILE", "/credentials/cloud"));
    }
    DaemonSet {
        metadata: meta(Some(namespace), "restic"),
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some([("name".to_string(), "restic".to_string())].into()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some("velero".to_string()),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(0),
                        ..Default::default()
                    }),
                    containers: vec![Container {
                        name: "restic".to_string(),
                        image: Some(image.to_string()),
                        image_pull_policy: Some("IfNotPresent".to_string()),
                        command: Some(vec!["/velero".to_string()]),
                        args: Some(vec!["restic".to_string(), "server".to_string()]),
                        volume_mounts: Some(mounts),
                        env: Some(env),
                        ..Default::default()
                    }],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

struct DeploymentOptions<'a> {
    features: &'a str,
    restore_only: bool,
    with_secret: bool,
    gc_frequency: i64,
    pod_labels: BTreeMap<String, String>,
    pod_annotations: BTreeMap<String, String>,
}

/// The `velero` Deployment as velero's `install.Deployment` builds it.
fn deployment(namespace: &str, image: &str, plugins: &[String], o: DeploymentOptions<'_>) -> Deployment {
    let parts: Vec<&str> = image.split(':').collect();
    let pull_policy = if parts.len() == 2 && parts[1] != "latest" {
        "IfNotPresent"
    } else {
        "Always"
    };
    // velero splits the (possibly empty) --features value on commas, so `--features=` is always there.
    let mut args = vec!["server".to_string(), format!("--features={}", o.features)];
    if o.restore_only {
        args.push("--restore-only".to_string());
    }
    if o.gc_frequency > 0 {
        args.push(format!("--garbage-collection-frequency={}", go_duration_string(o.gc_frequency)));
    }
    let mut pod_labels = labels();
    pod_labels.extend(o.pod_labels);
    pod_labels.insert("deploy".to_string(), "velero".to_string());
    let mut annotations: BTreeMap<String, String> = [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "8085"),
        ("prometheus.io/path", "/metrics"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    annotations.extend(o.pod_annotations);
    let mut env_vars = vec![
        env_value("VELERO_SCRATCH_DIR", "/scratch"),
        env_field("VELERO_NAMESPACE", "metadata.namespace"),
        env_value("LD_LIBRARY_PATH", "/plugins"),
    ];
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        ..Default::default()
    };
    let empty_dir = |name: &str| Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    };
    let mut mounts = vec![mount(PLUGIN_VOLUME, "/plugins"), mount("scratch", "/scratch")];
    let mut volumes = vec![empty_dir(PLUGIN_VOLUME), empty_dir("scratch")];
    if o.with_secret {
        volumes.push(credentials_volume());
        mounts.push(mount(CREDENTIALS_SECRET, "/credentials"));
        for name in [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AZURE_CREDENTIALS_FILE",
            "ALIBABA_CLOUD_CREDENTIALS_FILE",
        ] {
            env_vars.push(env_value(name, "/credentials/cloud"));
        }
    }
    let quantity = |q: &str| Quantity(q.to_string());
    let resources = ResourceRequirements {
        requests: Some([("cpu".to_string(), quantity("500m")), ("memory".to_string(), quantity("128Mi"))].into()),
        limits: Some([("cpu".to_string(), quantity("1000m")), ("memory".to_string(), quantity("512Mi"))].into()),
        ..Default::default()
    };
    let init_containers: Vec<Container> = plugins
        .iter()
        .map(|plugin| Container {
            name: plugin_container_name(plugin),
            image: Some(plugin.clone()),
            image_pull_policy: Some(pull_policy.to_string()),
            volume_mounts: Some(vec![mount(PLUGIN_VOLUME, "/target")]),
            ..Default::default()
        })
        .collect();
    Deployment {
        metadata: meta(Some(namespace), "velero"),
        spec: Some(DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some([("deploy".to_string(), "velero".to_string())].into()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Always".to_string()),
                    service_account_name: Some("velero".to_string()),
                    containers: vec![Container {
                        name: "velero".to_string(),
                        image: Some(image.to_string()),
                        ports: Some(vec![ContainerPort {
                            name: Some("metrics".to_string()),
                            container_port: 8085,
                            ..Default::default()
                        }]),
                        image_pull_policy: Some(pull_policy.to_string()),
                        command: Some(vec!["/velero".to_string()]),
                        args: Some(args),
                        volume_mounts: Some(mounts),
                        env: Some(env_vars),
                        resources: Some(resources),
                        ..Default::default()
                    }],
                    init_containers: (!init_containers.is_empty()).then_some(init_containers),
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// Creates one object, printing velero's lines; an existing one is left alone.
async fn create<K>(api: &Api<K>, object: &K, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let id = format!("{}/{}", K::kind(&()), object.name_any());
    writeln!(out, "{id}: attempting to create resource")?;
    writeln!(out, "{id}: attempting to create resource client")?;
    match api.create(&PostParams::default(), object).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 && status.reason == "AlreadyExists" => {
            writeln!(out, "{id}: already exists, proceeding")?;
        }
        Err(source) => {
            return Err(VeleroCliError::Api {
                action: format!("Error creating resource {id}"),
                source,
            });
        }
    }
    writeln!(out, "{id}: created")?;
    Ok(())
}

/// Whether the cluster serves `rbac.authorization.k8s.io/v1` ClusterRoleBindings.
async fn serves_rbac(client: &kube::Client) -> bool {
    client
        .list_api_group_resources("rbac.authorization.k8s.io/v1")
        .await
        .is_ok_and(|list| list.resources.iter().any(|r| r.name == "clusterrolebindings"))
}

/// `velero install`.
pub(crate) async fn install(ctx: &Ctx, a: &InstallArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let ns = ctx.namespace.as_str();
    let plan = plan(a, ns, &ctx.env.cli_version)?;
    let client = &ctx.client;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in &plan.crds {
        create(&crds, crd, out).await?;
    }
    writeln!(out, "Waiting for resources to be ready in cluster...")?;
    let names: Vec<String> = plan.crds.iter().filter_map(|c| c.metadata.name.clone()).collect();
    poll_until(ctx, "the Velero CRDs to be established", out, false, || {
        let crds = crds.clone();
        let names = names.clone();
        async move {
            for name in &names {
                let crd = crds
                    .get_opt(name)
                    .await
                    .map_err(api(|| format!("error waiting for {name} to be ready")))?;
                let established = crd
                    .and_then(|c| c.status)
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if !established {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        }
    })
    .await?;
    create(&Api::<Namespace>::all(client.clone()), &plan.namespace, out).await?;
    if serves_rbac(client).await {
        create(&Api::<ClusterRoleBinding>::all(client.clone()), &plan.binding, out).await?;
    } else {
        // Not a velero line: the embedded API server has no RBAC API, and saying so beats
        // pretending the binding was made.
        writeln!(
            out,
            "ClusterRoleBinding/{}: skipped: the API server does not serve rbac.authorization.k8s.io/v1",
            plan.binding.name_any()
        )?;
    }
    create(&Api::<ServiceAccount>::namespaced(client.clone(), ns), &plan.service_account, out).await?;
    if let Some(secret) = &plan.secret {
        create(&Api::<Secret>::namespaced(client.clone(), ns), secret, out).await?;
    }
    if let Some(location) = &plan.location {
        create(&Api::<BackupStorageLocation>::namespaced(client.clone(), ns), location, out).await?;
    }
    if let Some(location) = &plan.snapshot_location {
        create(&Api::<VolumeSnapshotLocation>::namespaced(client.clone(), ns), location, out).await?;
    }
    create(&Api::<Deployment>::namespaced(client.clone(), ns), &plan.deployment, out).await?;
    if let Some(restic) = &plan.restic {
        create(&Api::<DaemonSet>::namespaced(client.clone(), ns), restic, out).await?;
    }
    if a.wait {
        writeln!(out, "Waiting for Velero deployment to be ready.")?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let what = format!("a Running pod of Deployment {ns}/velero");
        poll_until(ctx, &what, out, false, || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels("deploy=velero"))
                    .await
                    .map_err(api(|| format!("list pods of Deployment {ns}/velero")))?;
                let running = list.items.iter().any(|p| {
                    p.metadata.deletion_timestamp.is_none() && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                });
                Ok(running.then_some(()))
            }
        })
        .await?;
        if plan.restic.is_some() {
            // velero's DaemonSetIsReady: every scheduled pod available.
            writeln!(out, "Waiting for Velero restic daemonset to be ready.")?;
            let sets: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
            let what = format!("DaemonSet {ns}/restic to be ready");
            poll_until(ctx, &what, out, false, || {
                let sets = sets.clone();
                async move {
                    let ds = sets.get_opt("restic").await.map_err(api(|| format!("get DaemonSet {ns}/restic")))?;
                    let ready = ds
                        .and_then(|d| d.status)
                        .is_some_and(|s| s.desired_number_scheduled > 0 && s.number_available.unwrap_or(0) == s.desired_number_scheduled);
                    Ok(ready.then_some(()))
                }
            })
            .await?;
        }
    }
    if a.secret_file.is_none() {
        write!(out, "\nNo secret file was specified, no Secret created.\n\n")?;
    }
    if a.no_default_backup_location {
        write!(
            out,
            "\nNo bucket and provider were specified, no default backup storage location created.\n\n"
        )?;
    }
    writeln!(
        out,
        "Velero is installed! ⛵ Use 'kubectl logs deployment/velero -n {ns}' to view the status."
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_like_velero() {
        assert_eq!(
            plugin_container_name("projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1"),
            "tkg-velero-velero-plugin-for-aws"
        );
        assert_eq!(
            plugin_container_name("projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1"),
            "tkg-velero-velero-mgmt-cluster-plugin"
        );
        assert_eq!(
            plugin_container_name("velero/velero-plugin-for-aws:v1.5.3"),
            "velero-velero-plugin-for-aws"
        );
        assert_eq!(plugin_container_name("plugin@sha256:abc"), "plugin");
    }
}
