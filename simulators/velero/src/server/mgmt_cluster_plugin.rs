//! TKG's management-cluster plugin (`velero-mgmt-cluster-plugin`) as a BackupItemAction: for
//! every `clusters.cluster.x-k8s.io` item it collects the objects that make up that workload
//! cluster and backs the Cluster up paused.
//!
//! What it returns for a Cluster `<name>` in namespace `<ns>`, all in `<ns>`:
//!
//! * every object of the Cluster API, control-plane, infrastructure, bootstrap and addons
//!   groups the cluster serves that is labelled `cluster.x-k8s.io/cluster-name=<name>` or whose
//!   `spec.clusterName` is `<name>` (MachineDeployments, MachineSets, Machines,
//!   KubeadmControlPlanes, infrastructure machines and clusters, MachineHealthChecks, …);
//! * the objects `spec.controlPlaneRef` and `spec.infrastructureRef` point at, and the
//!   templates those and the MachineDeployments / MachineSets reference
//!   (`spec.machineTemplate.infrastructureRef`, `spec.template.spec.infrastructureRef`,
//!   `spec.template.spec.bootstrap.configRef`);
//! * the Secrets `<name>-kubeconfig`, `-ca`, `-etcd`, `-sa` and `-proxy` that exist.
//!
//! They are returned with `mustInclude`, so they are backed up even when the backup includes
//! only `cluster.cluster.x-k8s.io`. The Cluster's backed-up copy has `spec.paused: true`, so a
//! restore brings it back paused (the runbook's step 7 unpauses it); the live Cluster is left
//! as it is.

use std::collections::BTreeSet;

use async_trait::async_trait;
use drdrill_apis::velero::Backup;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::backup::{ActionEnv, ActionOutput, BackupItemAction, ItemRef, group_resource};

/// The resource the plugin acts on.
pub const CLUSTERS: &str = "clusters.cluster.x-k8s.io";

/// The label Cluster API puts on every object of a cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// The API groups whose objects belong to a workload cluster.
pub const RELATED_GROUPS: [&str; 5] = [
    "cluster.x-k8s.io",
    "controlplane.cluster.x-k8s.io",
    "infrastructure.cluster.x-k8s.io",
    "bootstrap.cluster.x-k8s.io",
    "addons.cluster.x-k8s.io",
];

/// The suffixes of a cluster's Secrets (`<cluster>-<suffix>`).
pub const CLUSTER_SECRET_SUFFIXES: [&str; 5] = ["kubeconfig", "ca", "etcd", "sa", "proxy"];

/// The management-cluster plugin's BackupItemAction.
#[derive(Clone, Copy, Debug, Default)]
pub struct MgmtClusterPlugin;

/// A `{apiVersion, kind, name, namespace}` reference, if the value is one.
fn object_ref(value: &Value, default_ns: &str) -> Option<(String, String, String, String)> {
    let api_version = value["apiVersion"].as_str()?;
    let kind = value["kind"].as_str()?;
    let name = value["name"].as_str()?;
    let ns = value["namespace"].as_str().filter(|s| !s.is_empty()).unwrap_or(default_ns);
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some((group.to_string(), kind.to_string(), ns.to_string(), name.to_string()))
}

impl MgmtClusterPlugin {
    /// Adds the item a reference points at; returns its resource's `<plural>.<group>`.
    fn add_ref(env: &ActionEnv<'_>, reference: &Value, ns: &str, out: &mut BTreeSet<ItemRef>) -> Option<ItemRef> {
        let (group, kind, ref_ns, name) = object_ref(reference, ns)?;
        let Some(resource) = env.catalog.by_group_kind(&group, &kind) else {
            // The real plugin backs up what the cluster serves; a provider not installed here
            // (e.g. no bootstrap CRDs) is not a problem of the backup.
            tracing::debug!(%group, %kind, %name, "referenced kind is not served; not backing it up");
            return None;
        };
        let item = ItemRef {
            group_resource: resource.group_resource(),
            namespace: resource.namespaced.then(|| ref_ns.clone()),
            name,
        };
        out.insert(item.clone());
        Some(item)
    }

    /// Reads a referenced object to follow its template references.
    async fn fetch(env: &ActionEnv<'_>, item: &ItemRef) -> Result<Option<Value>, String> {
        let Some(resource) = env.catalog.by_group_resource(&item.group_resource) else {
            return Ok(None);
        };
        let found = resource
            .api(env.client, item.namespace.as_deref())
            .get_opt(&item.name)
            .await
            .map_err(|e| format!("getting {} {}: {e}", item.group_resource, item.name))?;
        Ok(found.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
    }
}

#[async_trait]
impl BackupItemAction for MgmtClusterPlugin {
    fn name(&self) -> &str {
        "velero.io/mgmt-cluster"
    }

    fn applies_to(&self, group_resource: &str) -> bool {
        group_resource == CLUSTERS
    }

    async fn execute(&self, mut item: Value, _backup: &Backup, env: &ActionEnv<'_>) -> Result<ActionOutput, String> {
        let name = item["metadata"]["name"]
            .as_str()
            .ok_or("Cluster without metadata.name")?
            .to_string();
        let ns = item["metadata"]["namespace"]
            .as_str()
            .ok_or_else(|| format!("Cluster {name} without metadata.namespace"))?
            .to_string();
        let mut related = BTreeSet::new();
        let mut template_holders: Vec<Value> = Vec::new();

        for resource in env.catalog.resources() {
            if !RELATED_GROUPS.contains(&resource.api.group.as_str()) || !resource.namespaced || !resource.listable() {
                continue;
            }
            let gr = resource.group_resource();
            if gr == CLUSTERS {
                continue;
            }
            let listed = resource
                .api(env.client, Some(&ns))
                .list(&ListParams::default())
                .await
                .map_err(|e| format!("listing {gr} in {ns}: {e}"))?;
            for obj in listed.items {
                let value = serde_json::to_value(&obj).map_err(|e| format!("{gr} {ns}: {e}"))?;
                let labelled = value["metadata"]["labels"][CLUSTER_NAME_LABEL].as_str() == Some(name.as_str());
                let named = value["spec"]["clusterName"].as_str() == Some(name.as_str());
                if !(labelled || named) {
                    continue;
                }
                let obj_name = value["metadata"]["name"].as_str().unwrap_or_default().to_string();
                related.insert(ItemRef {
                    group_resource: gr.clone(),
                    namespace: Some(ns.clone()),
                    name: obj_name,
                });
                if matches!(resource.api.kind.as_str(), "MachineDeployment" | "MachineSet" | "MachinePool") {
                    template_holders.push(value);
                }
            }
        }

        for field in ["controlPlaneRef", "infrastructureRef"] {
            let reference = item["spec"][field].clone();
            if reference.is_null() {
                continue;
            }
            let Some(target) = Self::add_ref(env, &reference, &ns, &mut related) else {
                continue;
            };
            if let Some(object) = Self::fetch(env, &target).await? {
                template_holders.push(object);
            }
        }

        for holder in &template_holders {
            let refs = [
                &holder["spec"]["machineTemplate"]["infrastructureRef"],
                &holder["spec"]["template"]["spec"]["infrastructureRef"],
                &holder["spec"]["template"]["spec"]["bootstrap"]["configRef"],
            ];
            for reference in refs {
                if !reference.is_null() {
                    Self::add_ref(env, reference, &ns, &mut related);
                }
            }
        }

        let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ns);
        for suffix in CLUSTER_SECRET_SUFFIXES {
            let secret = format!("{name}-{suffix}");
            let found = secrets
                .get_opt(&secret)
                .await
                .map_err(|e| format!("getting Secret {ns}/{secret}: {e}"))?;
            if found.is_some() {
                related.insert(ItemRef {
                    group_resource: group_resource("", "secrets"),
                    namespace: Some(ns.clone()),
                    name: secret,
                });
            }
        }

        related.remove(&ItemRef {
            group_resource: CLUSTERS.to_string(),
            namespace: Some(ns.clone()),
            name: name.clone(),
        });
        match item.get_mut("spec").and_then(Value::as_object_mut) {
            Some(spec) => {
                spec.insert("paused".to_string(), Value::Bool(true));
            }
            None => {
                item["spec"] = serde_json::json!({"paused": true});
            }
        }
        Ok(ActionOutput {
            item,
            additional_items: related.into_iter().collect(),
            must_include: true,
            warnings: Vec::new(),
        })
    }
}
