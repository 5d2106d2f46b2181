//! `tanzu cluster list` as the tanzu CLI computes it from Cluster API objects: the runbook's
//! columns and STATUS values, read through the Kubernetes API.
//!
//! STATUS follows the TKG client's rules: `deleting` when the Cluster's phase says so; while
//! infrastructure, control plane and at least one ready control-plane machine are not all there,
//! the cluster is being created — and *stalled* once the create operation recorded in its
//! `TKGOperationInfo` annotation has outlived its timeout (the state Velero-restored, paused
//! clusters show); `running` when every desired control-plane and worker replica is there, ready
//! and up to date; `updating` otherwise. The runbook spells the stalled state `createdStalled`.

use drdrill_apis::capi::{CLUSTER_NAME_LABEL, Cluster, KubeadmControlPlane, Machine, MachineDeployment};
use jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::report::columns_padded;

/// Annotation holding the TKG operation under way (JSON: operation, start, timeout seconds).
pub const OPERATION_INFO_ANNOTATION: &str = "TKGOperationInfo";
/// Annotation with the last time the TKG client observed the operation.
pub const OPERATION_LAST_OBSERVED_ANNOTATION: &str = "TKGOperationLastObservedTimestamp";
/// Annotation naming the TKG plan.
pub const PLAN_ANNOTATION: &str = "tkg/plan";
/// Label naming the cluster's TKR.
pub const TKR_LABEL: &str = "run.tanzu.vmware.com/tkr";
/// The label older TKG versions used for the TKR.
pub const LEGACY_TKR_LABEL: &str = "tanzuKubernetesRelease";
/// Prefix of the labels giving a cluster's roles.
pub const ROLE_LABEL_PREFIX: &str = "cluster-role.tkg.tanzu.vmware.com/";

/// The STATUS column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterStatus {
    /// Being created.
    Creating,
    /// Creation outlived its timeout (as after a restore).
    CreatedStalled,
    /// Everything desired is there and ready.
    Running,
    /// Scaling or upgrading.
    Updating,
    /// An upgrade outlived its timeout.
    UpdateStalled,
    /// Being deleted.
    Deleting,
}

impl ClusterStatus {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Creating => "creating",
            ClusterStatus::CreatedStalled => "createdStalled",
            ClusterStatus::Running => "running",
            ClusterStatus::Updating => "updating",
            ClusterStatus::UpdateStalled => "updateStalled",
            ClusterStatus::Deleting => "deleting",
        }
    }
}

/// One row of `tanzu cluster list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRow {
    /// NAME.
    pub name: String,
    /// NAMESPACE.
    pub namespace: String,
    /// STATUS.
    pub status: ClusterStatus,
    /// CONTROLPLANE `ready/desired`.
    pub control_plane: String,
    /// WORKERS `ready/desired`.
    pub workers: String,
    /// KUBERNETES.
    pub kubernetes: String,
    /// ROLES.
    pub roles: Vec<String>,
    /// PLAN.
    pub plan: String,
    /// TKR.
    pub tkr: String,
}

/// The Cluster API objects of one cluster.
#[derive(Debug, Clone, Copy)]
pub struct ClusterObjects<'a> {
    /// The Cluster.
    pub cluster: &'a Cluster,
    /// Its KubeadmControlPlane, if found.
    pub kcp: Option<&'a KubeadmControlPlane>,
    /// Its MachineDeployments.
    pub mds: &'a [&'a MachineDeployment],
    /// Its Machines.
    pub machines: &'a [&'a Machine],
}

#[derive(Default)]
struct Workers {
    ready: i32,
    desired: i32,
    replicas: i32,
    updated: i32,
}

fn workers(mds: &[&MachineDeployment]) -> Workers {
    mds.iter().fold(Workers::default(), |mut w, md| {
        let status = md.status.clone().unwrap_or_default();
        w.ready += status.ready_replicas;
        w.replicas += status.replicas;
        w.updated += status.updated_replicas;
        w.desired += md.spec.replicas.unwrap_or(0);
        w
    })
}

fn upgrade_in_progress(objs: &ClusterObjects<'_>) -> bool {
    let Some(kcp) = objs.kcp else { return false };
    objs.machines
        .iter()
        .any(|m| m.spec.version.as_ref().is_some_and(|v| *v != kcp.spec.version))
}

/// Whether the operation recorded on the Cluster is `operation` and has outlived its timeout.
fn operation_stalled(cluster: &Cluster, operation: &str, now: Timestamp) -> bool {
    let annotations = cluster.annotations();
    let (Some(info), Some(observed)) = (
        annotations.get(OPERATION_INFO_ANNOTATION),
        annotations.get(OPERATION_LAST_OBSERVED_ANNOTATION),
    ) else {
        return false;
    };
    let Ok(info) = serde_json::from_str::<serde_json::Value>(&info.replace("\\\"", "\"")) else {
        return false;
    };
    // The TKG client decodes this JSON case-insensitively.
    let field = |name: &str| {
        info.as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()))
    };
    if field("operation").and_then(|v| v.as_str().map(str::to_string)).as_deref() != Some(operation) {
        return false;
    }
    let timeout = field("operationTimeout").and_then(|v| v.as_i64()).unwrap_or(0);
    let Ok(observed) = jiff::fmt::strtime::parse(
        "%Y-%m-%d %H:%M:%S %z",
        observed.rsplit_once(' ').map_or(observed.as_str(), |(t, _zone)| t),
    )
    .and_then(|p| p.to_timestamp()) else {
        return false;
    };
    now.duration_since(observed).as_secs() > timeout
}

/// STATUS of one cluster, as the TKG client decides it.
pub fn cluster_status(objs: &ClusterObjects<'_>, now: Timestamp) -> ClusterStatus {
    let status = objs.cluster.status.clone().unwrap_or_default();
    if status.phase.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("deleting")) {
        return ClusterStatus::Deleting;
    }
    let w = workers(objs.mds);
    let kcp_status = objs.kcp.and_then(|k| k.status.clone()).unwrap_or_default();
    let created = status.infrastructure_ready && status.control_plane_ready && kcp_status.ready_replicas > 0;
    if !created {
        return if operation_stalled(objs.cluster, "Create", now) {
            ClusterStatus::CreatedStalled
        } else {
            ClusterStatus::Creating
        };
    }
    let desired_cp = objs.kcp.and_then(|k| k.spec.replicas).unwrap_or(0);
    let running = status.control_plane_ready
        && desired_cp == kcp_status.replicas
        && desired_cp == kcp_status.ready_replicas
        && desired_cp == kcp_status.updated_replicas
        && w.desired == w.replicas
        && w.desired == w.ready
        && w.desired == w.updated
        && !upgrade_in_progress(objs);
    if running {
        ClusterStatus::Running
    } else if upgrade_in_progress(objs) && operation_stalled(objs.cluster, "Upgrade", now) {
        ClusterStatus::UpdateStalled
    } else {
        ClusterStatus::Updating
    }
}

/// The row for one cluster.
pub fn cluster_row(objs: &ClusterObjects<'_>, now: Timestamp) -> ClusterRow {
    let labels = objs.cluster.labels();
    let mut roles: Vec<String> = labels
        .keys()
        .filter_map(|k| k.strip_prefix(ROLE_LABEL_PREFIX))
        .map(str::to_string)
        .collect();
    roles.sort();
    let w = workers(objs.mds);
    ClusterRow {
        name: objs.cluster.name_any(),
        namespace: objs.cluster.namespace().unwrap_or_default(),
        status: cluster_status(objs, now),
        control_plane: objs
            .kcp
            .and_then(|k| {
                k.spec
                    .replicas
                    .map(|r| format!("{}/{r}", k.status.as_ref().map_or(0, |s| s.ready_replicas)))
            })
            .unwrap_or_default(),
        workers: if w.desired == 0 {
            String::new()
        } else {
            format!("{}/{}", w.ready, w.desired)
        },
        kubernetes: objs.kcp.map(|k| k.spec.version.clone()).unwrap_or_default(),
        roles,
        plan: objs.cluster.annotations().get(PLAN_ANNOTATION).cloned().unwrap_or_default(),
        tkr: labels
            .get(TKR_LABEL)
            .or_else(|| labels.get(LEGACY_TKR_LABEL))
            .cloned()
            .unwrap_or_default(),
    }
}

/// Prints rows with the runbook's header.
pub fn render_cluster_list(rows: &[ClusterRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.namespace.clone(),
                r.status.as_str().into(),
                r.control_plane.clone(),
                r.workers.clone(),
                r.kubernetes.clone(),
                if r.roles.is_empty() { "<none>".into() } else { r.roles.join(",") },
                r.plan.clone(),
                r.tkr.clone(),
            ]
        })
        .collect();
    columns_padded(
        &[
            "NAME",
            "NAMESPACE",
            "STATUS",
            "CONTROLPLANE",
            "WORKERS",
            "KUBERNETES",
            "ROLES",
            "PLAN",
            "TKR",
        ],
        &cells,
        2,
    )
}

/// The label a management cluster's own Cluster object carries.
pub const MANAGEMENT_ROLE_LABEL: &str = "cluster-role.tkg.tanzu.vmware.com/management";

/// Which clusters `tanzu cluster list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only this namespace; `None` lists every namespace (`-A`).
    pub namespace: Option<String>,
    /// Show the management cluster's own Cluster too (`--include-management-cluster`).
    pub include_management_cluster: bool,
}

/// The Cluster API objects of one namespace (or of all), read through the API.
#[derive(Debug, Clone, Default)]
pub struct ClusterApiObjects {
    /// Clusters.
    pub clusters: Vec<Cluster>,
    /// KubeadmControlPlanes.
    pub kcps: Vec<KubeadmControlPlane>,
    /// MachineDeployments.
    pub mds: Vec<MachineDeployment>,
    /// Machines.
    pub machines: Vec<Machine>,
}

impl ClusterApiObjects {
    /// Lists the objects in `namespace`, or in every namespace when `None`.
    pub async fn read(client: &Client, namespace: Option<&str>) -> Result<Self, kube::Error> {
        async fn list<K>(client: &Client, namespace: Option<&str>) -> Result<Vec<K>, kube::Error>
        where
            K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
                + Clone
                + serde::de::DeserializeOwned
                + std::fmt::Debug,
        {
            let api = match namespace {
                Some(ns) => Api::<K>::namespaced(client.clone(), ns),
                None => Api::<K>::all(client.clone()),
            };
            Ok(api.list(&ListParams::default()).await?.items)
        }
        Ok(ClusterApiObjects {
            clusters: list(client, namespace).await?,
            kcps: list(client, namespace).await?,
            mds: list(client, namespace).await?,
            machines: list(client, namespace).await?,
        })
    }

    /// The row of `cluster`, from its control plane (its `controlPlaneRef`) and the
    /// MachineDeployments and Machines labelled with its name.
    pub fn row(&self, cluster: &Cluster, now: Timestamp) -> ClusterRow {
        let ns = cluster.namespace();
        let name = cluster.name_any();
        let ours = |o_ns: Option<String>, labels: &std::collections::BTreeMap<String, String>| {
            o_ns == ns && labels.get(CLUSTER_NAME_LABEL) == Some(&name)
        };
        let kcp = cluster
            .spec
            .control_plane_ref
            .as_ref()
            .and_then(|r| self.kcps.iter().find(|k| k.namespace() == ns && Some(k.name_any()) == r.name));
        let mds: Vec<&MachineDeployment> = self.mds.iter().filter(|m| ours(m.namespace(), m.labels())).collect();
        let machines: Vec<&Machine> = self.machines.iter().filter(|m| ours(m.namespace(), m.labels())).collect();
        cluster_row(
            &ClusterObjects {
                cluster,
                kcp,
                mds: &mds,
                machines: &machines,
            },
            now,
        )
    }
}

/// Reads every Cluster with its control plane, MachineDeployments and Machines through the API
/// and computes the rows, sorted by namespace and name.
pub async fn cluster_list(client: &Client, now: Timestamp) -> Result<Vec<ClusterRow>, kube::Error> {
    cluster_list_with(
        client,
        now,
        &ListOptions {
            namespace: None,
            include_management_cluster: true,
        },
    )
    .await
}

/// Like [`cluster_list`], limited as `tanzu cluster list` is by namespace and by whether the
/// management cluster (the Cluster labelled [`MANAGEMENT_ROLE_LABEL`]) is shown.
pub async fn cluster_list_with(client: &Client, now: Timestamp, options: &ListOptions) -> Result<Vec<ClusterRow>, kube::Error> {
    let objects = ClusterApiObjects::read(client, options.namespace.as_deref()).await?;
    let mut rows: Vec<ClusterRow> = objects
        .clusters
        .iter()
        .filter(|c| options.include_management_cluster || !c.labels().contains_key(MANAGEMENT_ROLE_LABEL))
        .map(|c| objects.row(c, now))
        .collect();
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use drdrill_apis::capi::ClusterSpec;

    use super::*;

    fn now() -> Timestamp {
        "2022-12-08T10:00:00Z".parse().expect("time")
    }

    fn cluster(ready: bool, annotations: &[(&str, &str)]) -> Cluster {
        let mut c = Cluster::new("tkg-vc-antrea", ClusterSpec::default());
        c.metadata.namespace = Some("default".into());
        c.metadata.labels = Some([(TKR_LABEL.to_string(), "v1.24.10---vmware.1-tkg.1".to_string())].into());
        let mut ann: std::collections::BTreeMap<String, String> = [(PLAN_ANNOTATION.to_string(), "prod".to_string())].into();
        ann.extend(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        c.metadata.annotations = Some(ann);
        c.status = Some(drdrill_apis::capi::ClusterStatus {
            infrastructure_ready: ready,
            control_plane_ready: ready,
            ..Default::default()
        });
        c
    }

    fn kcp(desired: i32, ready: i32) -> KubeadmControlPlane {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
            "metadata": {"name": "tkg-vc-antrea-ch5hn", "namespace": "default"},
            "spec": {"replicas": desired, "version": "v1.24.10+vmware.1",
                     "machineTemplate": {"infrastructureRef": {"kind": "VSphereMachineTemplate", "name": "t"}}, "kubeadmConfigSpec": {}},
            "status": {"replicas": ready, "readyReplicas": ready, "updatedReplicas": ready}
        }))
        .expect("kcp")
    }

    fn md(name: &str, desired: i32, ready: i32) -> MachineDeployment {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
            "metadata": {"name": name, "namespace": "default", "labels": {CLUSTER_NAME_LABEL: "tkg-vc-antrea"}},
            "spec": {"clusterName": "tkg-vc-antrea", "replicas": desired, "selector": {}, "template": {"spec": {"clusterName": "tkg-vc-antrea", "bootstrap": {}, "infrastructureRef": {"kind": "VSphereMachine", "name": "x"}}}},
            "status": {"replicas": ready, "readyReplicas": ready, "updatedReplicas": ready}
        }))
        .expect("md")
    }

    const CREATE_INFO: &str = r#"{"Operation":"Create","OperationStartTimestamp":"2022-12-07 17:00:00 +0000 UTC","OperationTimeout":1800}"#;

    #[test]
    fn restored_cluster_is_created_stalled_and_prints_like_the_runbook() {
        let c = cluster(
            false,
            &[
                (OPERATION_INFO_ANNOTATION, CREATE_INFO),
                (OPERATION_LAST_OBSERVED_ANNOTATION, "2022-12-07 17:05:00 +0000 UTC"),
            ],
        );
        let k = kcp(3, 0);
        let mds = [md("md-0", 1, 0), md("md-1", 1, 0), md("md-2", 1, 0)];
        let md_refs: Vec<&MachineDeployment> = mds.iter().collect();
        let row = cluster_row(
            &ClusterObjects {
                cluster: &c,
                kcp: Some(&k),
                mds: &md_refs,
                machines: &[],
            },
            now(),
        );
        assert_eq!(row.status, ClusterStatus::CreatedStalled);
        let printed = render_cluster_list(&[row]);
        crate::report::assert_golden("tanzu_cluster_list_restored.txt", &printed);
        if let Some(runbooks) = crate::runbook::runbooks_text() {
            let expected = format!("tanzu cluster list\n{printed}");
            assert!(
                crate::runbook::code_blocks(&runbooks).contains(&expected),
                "RUNBOOKS.md step 6 prints exactly:\n{expected}"
            );
        }
    }

    #[test]
    fn status_rules() {
        let fresh = cluster(
            false,
            &[
                (OPERATION_INFO_ANNOTATION, CREATE_INFO),
                (OPERATION_LAST_OBSERVED_ANNOTATION, "2022-12-08 09:59:00 +0000 UTC"),
            ],
        );
        let k0 = kcp(3, 0);
        assert_eq!(
            cluster_status(
                &ClusterObjects {
                    cluster: &fresh,
                    kcp: Some(&k0),
                    mds: &[],
                    machines: &[]
                },
                now()
            ),
            ClusterStatus::Creating
        );
        let up = cluster(true, &[]);
        let k3 = kcp(3, 3);
        let all_ready = [md("md-0", 3, 3)];
        let refs: Vec<&MachineDeployment> = all_ready.iter().collect();
        assert_eq!(
            cluster_status(
                &ClusterObjects {
                    cluster: &up,
                    kcp: Some(&k3),
                    mds: &refs,
                    machines: &[]
                },
                now()
            ),
            ClusterStatus::Running
        );
        let scaling = [md("md-0", 3, 2)];
        let refs: Vec<&MachineDeployment> = scaling.iter().collect();
        assert_eq!(
            cluster_status(
                &ClusterObjects {
                    cluster: &up,
                    kcp: Some(&k3),
                    mds: &refs,
                    machines: &[]
                },
                now()
            ),
            ClusterStatus::Updating
        );
        let mut deleting = up.clone();
        deleting.status.as_mut().expect("status").phase = Some("Deleting".into());
        assert_eq!(
            cluster_status(
                &ClusterObjects {
                    cluster: &deleting,
                    kcp: None,
                    mds: &[],
                    machines: &[]
                },
                now()
            ),
            ClusterStatus::Deleting
        );
        let running_row = cluster_row(
            &ClusterObjects {
                cluster: &up,
                kcp: Some(&k3),
                mds: &refs,
                machines: &[],
            },
            now(),
        );
        assert_eq!((running_row.control_plane.as_str(), running_row.workers.as_str()), ("3/3", "2/3"));
    }

    #[test]
    fn an_upgrade_that_stops_moving_past_its_timeout_is_update_stalled() {
        // `tanzu cluster upgrade` records {"Operation":"Upgrade",...,"OperationTimeout":900}.
        let upgrade = r#"{"Operation":"Upgrade","OperationStartTimestamp":"2022-12-08 09:00:00 +0000 UTC","OperationTimeout":900}"#;
        let old: Machine = serde_json::from_value(serde_json::json!({
            "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine",
            "metadata": {"name": "cp-old", "namespace": "default"},
            "spec": {"clusterName": "tkg-vc-antrea", "version": "v1.23.16+vmware.1", "bootstrap": {},
                     "infrastructureRef": {"kind": "VSphereMachine", "name": "cp-old"}}
        }))
        .expect("machine");
        let k3 = kcp(3, 3);
        let mds = [md("md-0", 1, 1)];
        let refs: Vec<&MachineDeployment> = mds.iter().collect();
        let status_at = |observed: &str| {
            let c = cluster(
                true,
                &[(OPERATION_INFO_ANNOTATION, upgrade), (OPERATION_LAST_OBSERVED_ANNOTATION, observed)],
            );
            cluster_status(
                &ClusterObjects {
                    cluster: &c,
                    kcp: Some(&k3),
                    mds: &refs,
                    machines: &[&old],
                },
                now(),
            )
        };
        assert_eq!(
            status_at("2022-12-08 09:50:00 +0000 UTC"),
            ClusterStatus::Updating,
            "moved 10 minutes ago"
        );
        assert_eq!(
            status_at("2022-12-08 09:40:00 +0000 UTC"),
            ClusterStatus::UpdateStalled,
            "still for 20 minutes"
        );
    }
}
