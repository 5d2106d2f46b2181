//! `tanzu cluster upgrade NAME [--tkr TKR] [-n NS] [-t TIMEOUT] --yes` for clusters that are not
//! ClusterClass-based (tanzu-framework v0.28 `tkg/tkgctl/upgrade_cluster.go` and
//! `tkg/client/upgrade_cluster.go`, `DoLegacyClusterUpgrade`):
//! * the release comes from the CLI's own BOMs (TKG 2.1.1's, [`RELEASES`]), not from the
//!   cluster: `--tkr` takes a TKR name (`v1.24.10---vmware.1-tkg.1`), its version
//!   (`v1.24.10+vmware.1-tkg.1`) or a prefix of either (`v1.24`: the newest matching); without
//!   it, the default (newest) release;
//! * without `--yes` tanzu asks "Are you sure?"; drdrill's terminal answers no prompt, so the
//!   command is refused and says to pass `--yes` (nothing is changed);
//! * "Verifying kubernetes version...": the current version is the KubeadmControlPlane's
//!   `status.version` (the lowest among its Ready machines; tanzu asks the workload cluster's
//!   API server, which a load balancer puts in front of the same machines) — a downgrade and a
//!   skipped minor version are refused;
//! * the Cluster's `run.tanzu.vmware.com/tkr` label is set to the TKR (and, once the control
//!   plane is patched, the `Upgrade` operation recorded in its `TKGOperationInfo` annotations
//!   with a 15-minute timeout, its last-observed time moved whenever a wait sees progress); a
//!   VSphereMachineTemplate `<cluster>-control-plane-<version>-<random>` is created from the
//!   control plane's with the release's VM template, the KubeadmControlPlane's `spec.version`
//!   and infrastructure template patched, and the command waits until the control plane is
//!   upgraded (replicas, updated and ready replicas at the desired count, `status.version` the
//!   new one);
//! * then each MachineDeployment gets a template `<its template>-<version>-<random>` and its
//!   `spec.template.spec.version` and `infrastructureRef` patched (tanzu's loop stops after the
//!   first MachineDeployment already on the version, a bug not copied), and the command waits
//!   until every MachineDeployment has replicas, updated and ready replicas at the desired count
//!   and every worker Machine has the version.
//!
//! Waits are counted on the world's clock: `--timeout` (default 30m; below 15m the default, as
//! tanzu) per wait. Not emulated: the addons tanzu upgrades around the nodes (kapp-controller,
//! Calico, the autoscaler) and the wait for packages. The random suffixes are drawn from a seed
//! of the cluster and version, so a replayed drill names its templates the same.

use std::io::Write;
use std::time::Duration;

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, KubeadmControlPlane, Machine, MachineDeployment};
use drdrill_apis::vsphere::VSphereMachineTemplate;
use drdrill_scenarios::SeededRng;
use drdrill_scenarios::topology::{LATEST_RELEASE, RELEASES, Release, kubernetes_numbers};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::list::{OPERATION_INFO_ANNOTATION, OPERATION_LAST_OBSERVED_ANNOTATION, TKR_LABEL};
use super::{TanzuCliError, TanzuEnv, cluster_class, control_plane_of, get_cluster, kube_ctx};

/// tanzu's default `--timeout`, and the least it accepts (a shorter one means the default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const MIN_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The timeout tanzu records with the upgrade on the Cluster (`cluster list`'s `updateStalled`).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often tanzu's waits look (`waitK8sVersionUpdateGeneric`): [`TanzuEnv::poll`] against a
/// real management cluster.
pub const TANZU_POLL: Duration = Duration::from_secs(15);

/// Why `cluster upgrade` refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// No `--yes`, and no one to answer the prompt.
    #[error(
        "Upgrading workload cluster '{cluster}' to kubernetes version '{kubernetes}', tkr version '{tkr}'. Are you sure? [y/N]: no answer (drdrill's terminal answers no prompt; pass --yes). Nothing was changed"
    )]
    NotConfirmed {
        /// The cluster.
        cluster: String,
        /// The Kubernetes version it would go to.
        kubernetes: String,
        /// The TKR version.
        tkr: String,
    },
    /// `--tkr` names no release the CLI has a BOM for.
    #[error("unable to determine the TKr version and kubernetes version based on '{asked}': no TKr BOM matches it (known: {known})")]
    UnknownTkr {
        /// What `--tkr` said.
        asked: String,
        /// The releases the CLI knows.
        known: String,
    },
    /// The cluster is ClusterClass-based (upgraded through `spec.topology`, not emulated).
    #[error(
        "cluster '{cluster}' in namespace '{namespace}' is ClusterClass-based (spec.topology.class {class}); upgrading it through its topology is not emulated"
    )]
    ClusterClassBased {
        /// The cluster.
        cluster: String,
        /// Its namespace.
        namespace: String,
        /// Its ClusterClass.
        class: String,
    },
    /// The Cluster's control plane, its version or a template is missing.
    #[error("unable to upgrade cluster {cluster}: {reason}")]
    Incomplete {
        /// The cluster.
        cluster: String,
        /// What is missing.
        reason: String,
    },
    /// A downgrade, or a minor version skipped.
    #[error("kubernetes version verification failed: {0}")]
    Version(String),
    /// A wait ran out.
    #[error("{what}: timed out after {timeout:?} on the world's clock: {last}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// The timeout.
        timeout: Duration,
        /// What the last look saw.
        last: String,
    },
}

/// A `cluster upgrade` request as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The cluster.
    pub cluster: String,
    /// `-n` (default `default`).
    pub namespace: String,
    /// `--tkr`, if given.
    pub tkr: Option<String>,
    /// `--timeout`, if given.
    pub timeout: Option<Duration>,
    /// `--yes`.
    pub yes: bool,
}

/// The release `--tkr` names: exactly (TKR name or version), else the newest whose name or
/// version starts with it; none given: the default.
pub fn resolve_tkr(asked: Option<&str>) -> Result<Release, UpgradeError> {
    let Some(asked) = asked else {
        return Ok(LATEST_RELEASE);
    };
    let exact = RELEASES.iter().find(|r| r.tkr == asked || r.tkr_version() == asked);
    let prefixed = || {
        RELEASES
            .iter()
            .rev()
            .find(|r| r.tkr.starts_with(asked) || r.tkr_version().starts_with(asked))
    };
    exact.or_else(prefixed).copied().ok_or_else(|| UpgradeError::UnknownTkr {
        asked: asked.to_string(),
        known: RELEASES.iter().map(|r| r.tkr).collect::<Vec<_>>().join(", "),
    })
}

/// tanzu's `verifyK8sVersion`: no downgrade, and at most one minor version up.
pub fn verify_version(current: &str, new: &str) -> Result<(), UpgradeError> {
    let parse = |v: &str| kubernetes_numbers(v).ok_or_else(|| UpgradeError::Version(format!("{v:?} is not a Kubernetes version")));
    let (from, to) = (parse(current)?, parse(new)?);
    if from > to {
        return Err(UpgradeError::Version(format!(
            "attempted to upgrade kubernetes from {current} to {new}. Kubernetes version downgrade is not allowed."
        )));
    }
    if from[0] != to[0] || to[1] > from[1] + 1 {
        return Err(UpgradeError::Version(format!(
            "Upgrading Kubernetes from {current} to {new} is not supported"
        )));
    }
    Ok(())
}

/// tanzu's `ReplaceSpecialChars`: `.` and `+` become `-`.
fn dashed(version: &str) -> String {
    version.replace(['.', '+'], "-")
}

fn seed_of(parts: &[&str]) -> u64 {
    // FNV-1a: stable across runs and builds (the std hasher is not).
    parts
        .iter()
        .flat_map(|p| p.bytes().chain([0]))
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Prints one of tanzu's progress lines at once (an upgrade takes many minutes).
fn say(out: &mut (dyn Write + Send), text: &str) -> Result<(), TanzuCliError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(TanzuCliError::Output)
}

/// Upgrades the cluster, printing tanzu's messages to `out` as it goes.
pub async fn cluster_upgrade(env: &TanzuEnv, request: &UpgradeRequest, out: &mut (dyn Write + Send)) -> Result<(), TanzuCliError> {
    let client = &env.client;
    let (name, ns) = (request.cluster.as_str(), request.namespace.as_str());
    let release = resolve_tkr(request.tkr.as_deref())?;
    let timeout = request.timeout.filter(|t| *t >= MIN_TIMEOUT).unwrap_or(DEFAULT_TIMEOUT);
    let clusters: Api<Cluster> = Api::namespaced(client.clone(), ns);
    let cluster = get_cluster(client, ns, name).await?;
    if let Some(class) = cluster_class(&cluster) {
        return Err(UpgradeError::ClusterClassBased {
            cluster: name.into(),
            namespace: ns.into(),
            class,
        }
        .into());
    }
    if !request.yes {
        return Err(UpgradeError::NotConfirmed {
            cluster: name.into(),
            kubernetes: release.kubernetes.into(),
            tkr: release.tkr_version(),
        }
        .into());
    }
    let incomplete = |reason: String| UpgradeError::Incomplete {
        cluster: name.into(),
        reason,
    };
    let kcp = control_plane_of(client, ns, &cluster, |reason| incomplete(reason).into()).await?;
    let kcp_name = kcp.name_any();
    let kcps: Api<KubeadmControlPlane> = Api::namespaced(client.clone(), ns);

    say(out, "Verifying kubernetes version...\n")?;
    let current = kcp.status.as_ref().and_then(|s| s.version.clone()).ok_or_else(|| {
        incomplete(format!(
            "KubeadmControlPlane {ns}/{kcp_name} reports no version yet (no Ready machine)"
        ))
    })?;
    verify_version(&current, release.kubernetes)?;
    let mds: Api<MachineDeployment> = Api::namespaced(client.clone(), ns);
    let mut deployments = mds
        .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}")))
        .await
        .map_err(kube_ctx(format!("list MachineDeployments of {ns}/{name}")))?
        .items;
    deployments.sort_by_key(ResourceExt::name_any);

    clusters
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {TKR_LABEL: release.tkr}}})),
        )
        .await
        .map_err(kube_ctx(format!("patch the TKR label of Cluster {ns}/{name}")))?;
    say(
        out,
        "Retrieving configuration for upgrade cluster...\nCreate InfrastructureTemplate for upgrade...\n",
    )?;
    let templates: Api<VSphereMachineTemplate> = Api::namespaced(client.clone(), ns);
    let mut rng = SeededRng::new(seed_of(&[ns, name, release.kubernetes]));
    let version = dashed(release.kubernetes);
    let cp_template = kcp.spec.machine_template.infrastructure_ref.name.clone().unwrap_or_default();
    let cp_new = format!("{name}-control-plane-{version}-{}", rng.suffix(5));
    copy_template(&templates, ns, &cp_template, &cp_new, release)
        .await
        .map_err(incomplete)?;
    let mut md_templates = Vec::new();
    for md in &deployments {
        let old = md.spec.template.spec.infrastructure_ref.name.clone().unwrap_or_default();
        let new = format!("{old}-{version}-{}", rng.suffix(5));
        copy_template(&templates, ns, &old, &new, release).await.map_err(incomplete)?;
        md_templates.push(new);
    }

    say(
        out,
        &format!(
            "Upgrading control plane nodes...\nPatching KubeadmControlPlane with the kubernetes version {}...\n",
            release.kubernetes
        ),
    )?;
    let kcp_patch = json!({"spec": {"version": release.kubernetes,
        "machineTemplate": {"infrastructureRef": {"name": cp_new, "namespace": ns}}}});
    kcps.patch(&kcp_name, &PatchParams::default(), &Patch::Merge(kcp_patch))
        .await
        .map_err(kube_ctx(format!("patch KubeadmControlPlane {ns}/{kcp_name}")))?;
    // tanzu records the operation on the Cluster, so `cluster list` can tell a stalled upgrade.
    let started = observed_at(env.clock.now());
    let info = json!({"Operation": "Upgrade", "OperationStartTimestamp": started, "OperationTimeout": OPERATION_TIMEOUT.as_secs()});
    let annotations = json!({"metadata": {"annotations": {
        OPERATION_INFO_ANNOTATION: info.to_string(), OPERATION_LAST_OBSERVED_ANNOTATION: started}}});
    clusters
        .patch(name, &PatchParams::default(), &Patch::Merge(annotations))
        .await
        .map_err(kube_ctx(format!("record the upgrade on Cluster {ns}/{name}")))?;
    let progress = Progress { clusters: &clusters, name };
    say(out, "Waiting for kubernetes version to be updated for control plane nodes\n")?;
    wait(
        env,
        &progress,
        "waiting for kubernetes version update for kubeadm control plane",
        timeout,
        || control_plane_upgraded(&kcps, &kcp_name, release.kubernetes),
    )
    .await?;

    say(
        out,
        &format!(
            "Upgrading worker nodes...\nPatching MachineDeployment with the kubernetes version {}...\n",
            release.kubernetes
        ),
    )?;
    for (md, template) in deployments.iter().zip(&md_templates) {
        let md_name = md.name_any();
        let patch = json!({"spec": {"template": {"spec": {"version": release.kubernetes,
            "infrastructureRef": {"name": template, "namespace": ns}}}}});
        mds.patch(&md_name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(kube_ctx(format!("patch MachineDeployment {ns}/{md_name}")))?;
    }
    say(out, "Waiting for kubernetes version to be updated for worker nodes...\n")?;
    let machines: Api<Machine> = Api::namespaced(client.clone(), ns);
    wait(
        env,
        &progress,
        "waiting for kubernetes version update for worker nodes",
        timeout,
        || workers_upgraded(&mds, &machines, name, release.kubernetes),
    )
    .await?;
    say(
        out,
        &format!(
            "Cluster '{name}' successfully upgraded to kubernetes version '{}'\n",
            release.kubernetes
        ),
    )?;
    Ok(())
}

/// Creates `new` as a copy of the VSphereMachineTemplate `old` cloning the release's VM
/// template (kept if it exists: a retried upgrade).
async fn copy_template(templates: &Api<VSphereMachineTemplate>, ns: &str, old: &str, new: &str, release: Release) -> Result<(), String> {
    let source = templates
        .get_opt(old)
        .await
        .map_err(|e| format!("get VSphereMachineTemplate {ns}/{old}: {e}"))?
        .ok_or_else(|| format!("unable to find VSphereMachineTemplate with name '{old}' in namespace '{ns}'"))?;
    let mut spec = source.spec.clone();
    let folder = spec
        .template
        .spec
        .template
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder)
        .to_string();
    spec.template.spec.template = format!("{folder}/photon-3-kube-{}", release.kubernetes);
    let mut copy = VSphereMachineTemplate::new(new, spec);
    copy.metadata.namespace = Some(ns.to_string());
    copy.metadata.labels = source.metadata.labels.clone();
    match templates.create(&PostParams::default(), &copy).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(format!(
            "unable to create VSphereMachineTemplate for upgrade with name '{new}' in namespace '{ns}': {e}"
        )),
    }
}

/// The TKG client's timestamp format (Go's `time.Time.String()` of a UTC time, whole seconds).
fn observed_at(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// Where a wait reports progress: the Cluster's last-observed timestamp, moved whenever what
/// is left changes (tanzu's `isClusterStateChanged`), so only an upgrade that stops moving for
/// [`OPERATION_TIMEOUT`] shows as `updateStalled`.
struct Progress<'a> {
    clusters: &'a Api<Cluster>,
    name: &'a str,
}

/// Polls `check` (None: done; Some(what is left)) until done or `timeout` passes on the clock.
async fn wait<F, Fut>(
    env: &TanzuEnv,
    progress: &Progress<'_>,
    what: &'static str,
    timeout: Duration,
    mut check: F,
) -> Result<(), TanzuCliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, TanzuCliError>>,
{
    let started = env.clock.now();
    let mut last = String::new();
    loop {
        let Some(left) = check().await? else {
            return Ok(());
        };
        if left != last {
            let patch = json!({"metadata": {"annotations": {OPERATION_LAST_OBSERVED_ANNOTATION: observed_at(env.clock.now())}}});
            progress
                .clusters
                .patch(progress.name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map_err(kube_ctx(format!("record the upgrade's progress on Cluster {}", progress.name)))?;
            last.clone_from(&left);
        }
        let waited = env.clock.now().duration_since(started).as_secs_f64().max(0.0);
        if waited >= timeout.as_secs_f64() {
            return Err(UpgradeError::Timeout { what, timeout, last: left }.into());
        }
        tokio::time::sleep(env.poll).await;
    }
}

async fn control_plane_upgraded(kcps: &Api<KubeadmControlPlane>, name: &str, version: &str) -> Result<Option<String>, TanzuCliError> {
    let kcp = kcps.get(name).await.map_err(kube_ctx(format!("get KubeadmControlPlane {name}")))?;
    let want = kcp.spec.replicas.unwrap_or(1);
    let status = kcp.status.unwrap_or_default();
    let done = status.replicas == want
        && status.updated_replicas == want
        && status.ready_replicas == want
        && status.version.as_deref() == Some(version);
    Ok((!done).then(|| {
        format!(
            "control-plane is still being upgraded: DesiredReplicas={want} Replicas={} ReadyReplicas={} UpdatedReplicas={} version {}",
            status.replicas,
            status.ready_replicas,
            status.updated_replicas,
            status.version.as_deref().unwrap_or("<none>")
        )
    }))
}

async fn workers_upgraded(
    mds: &Api<MachineDeployment>,
    machines: &Api<Machine>,
    cluster: &str,
    version: &str,
) -> Result<Option<String>, TanzuCliError> {
    let selector = format!("{CLUSTER_NAME_LABEL}={cluster}");
    let mut left = Vec::new();
    for md in mds
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(kube_ctx(format!("list MachineDeployments of {cluster}")))?
        .items
    {
        let want = md.spec.replicas.unwrap_or(1);
        let status = md.status.clone().unwrap_or_default();
        if !(status.ready_replicas == want && status.updated_replicas == want && status.replicas == want) {
            left.push(format!(
                "worker nodes are still being upgraded for MachineDeployment '{}', DesiredReplicas={want} Replicas={} ReadyReplicas={} UpdatedReplicas={}",
                md.name_any(),
                status.replicas,
                status.ready_replicas,
                status.updated_replicas
            ));
        }
    }
    if !left.is_empty() {
        return Ok(Some(left.join("; ")));
    }
    let mut behind: Vec<String> = machines
        .list(&ListParams::default().labels(&format!("{selector},cluster.x-k8s.io/deployment-name")))
        .await
        .map_err(kube_ctx(format!("list worker Machines of {cluster}")))?
        .items
        .into_iter()
        .filter(|m| m.spec.version.as_deref() != Some(version))
        .map(|m| m.name_any())
        .collect();
    behind.sort();
    Ok((!behind.is_empty()).then(|| format!("worker machines {behind:?} are still not upgraded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tkr_resolves_by_name_version_or_prefix_and_defaults_to_the_newest() {
        assert_eq!(resolve_tkr(None), Ok(LATEST_RELEASE));
        assert_eq!(
            resolve_tkr(Some("v1.23.16---vmware.1-tkg.1")).map(|r| r.kubernetes),
            Ok("v1.23.16+vmware.1")
        );
        assert_eq!(
            resolve_tkr(Some("v1.23.16+vmware.1-tkg.1")).map(|r| r.kubernetes),
            Ok("v1.23.16+vmware.1")
        );
        assert_eq!(resolve_tkr(Some("v1.22")).map(|r| r.kubernetes), Ok("v1.22.17+vmware.2"));
        assert_eq!(resolve_tkr(Some("v1")), Ok(LATEST_RELEASE), "the newest matching");
        let err = resolve_tkr(Some("v1.26.1")).expect_err("unknown").to_string();
        assert!(
            err.starts_with("unable to determine the TKr version and kubernetes version based on 'v1.26.1'"),
            "{err}"
        );
        assert!(err.contains("v1.24.10---vmware.1-tkg.1"), "{err}");
    }

    #[test]
    fn versions_go_up_one_minor_at_most() {
        verify_version("v1.23.16+vmware.1", "v1.24.10+vmware.1").expect("one minor up");
        verify_version("v1.24.10+vmware.1", "v1.24.10+vmware.1").expect("the same");
        let down = verify_version("v1.24.10+vmware.1", "v1.23.16+vmware.1")
            .expect_err("down")
            .to_string();
        assert!(down.contains("Kubernetes version downgrade is not allowed"), "{down}");
        let skip = verify_version("v1.22.17+vmware.2", "v1.24.10+vmware.1")
            .expect_err("skip")
            .to_string();
        assert!(
            skip.contains("Upgrading Kubernetes from v1.22.17+vmware.2 to v1.24.10+vmware.1 is not supported"),
            "{skip}"
        );
        assert_eq!(dashed("v1.24.10+vmware.1"), "v1-24-10-vmware-1");
        assert_eq!(seed_of(&["a", "b"]), seed_of(&["a", "b"]));
        assert_ne!(seed_of(&["ab", ""]), seed_of(&["a", "b"]));
    }
}
