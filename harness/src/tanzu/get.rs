//! `tanzu cluster get NAME`: the cluster's summary row (the `cluster list` columns without PLAN),
//! then `Details:` and the condition tree (tanzu-framework `cmd/cli/plugin/cluster/get.go` with
//! `tkg/tkgctl/describe_cluster.go`: the namespace defaults to `default`; the row is computed as
//! `cluster list` computes it, management cluster included).
//!
//! What a cluster with ghosts looks like follows from this: the view lists Cluster API Machines
//! only, so Nodes (or VMs) no Machine owns never appear — comparing it with `kubectl get node` is
//! how Runbook T finds them.

use jiff::Timestamp;
use kube::{Client, ResourceExt};

use super::list::ClusterApiObjects;
use super::{TanzuCliError, kube_ctx, tree};
use crate::report::columns_padded;

/// Prints `tanzu cluster get name -n namespace` as of `now`.
pub async fn cluster_get(client: &Client, namespace: &str, name: &str, now: Timestamp) -> Result<String, TanzuCliError> {
    let objects = ClusterApiObjects::read(client, Some(namespace))
        .await
        .map_err(kube_ctx(format!("list Cluster API objects in {namespace}")))?;
    let not_found = || TanzuCliError::ClusterNotFound {
        name: name.to_string(),
        namespace: namespace.to_string(),
    };
    let cluster = objects.clusters.iter().find(|c| c.name_any() == name).ok_or_else(not_found)?;
    let row = objects.row(cluster, now);
    let summary = columns_padded(
        &[
            "NAME",
            "NAMESPACE",
            "STATUS",
            "CONTROLPLANE",
            "WORKERS",
            "KUBERNETES",
            "ROLES",
            "TKR",
        ],
        &[vec![
            row.name.clone(),
            row.namespace.clone(),
            row.status.as_str().to_string(),
            row.control_plane.clone(),
            row.workers.clone(),
            row.kubernetes.clone(),
            if row.roles.is_empty() {
                "<none>".into()
            } else {
                row.roles.join(",")
            },
            row.tkr.clone(),
        ]],
        2,
    );
    // The Cluster can vanish between the two reads; that is the same answer as not finding it.
    let root = tree::discover(client, namespace, name)
        .await
        .map_err(kube_ctx(format!("describe Cluster {namespace}/{name}")))?
        .ok_or_else(not_found)?;
    Ok(format!("{summary}\nDetails:\n\n{}", tree::render(&root, now)))
}
