//! The VSphereCluster controller, reduced to what the Cluster controller reads: once the
//! Cluster controller has made the Cluster its owner, the VSphereCluster reports `ready`.
//!
//! Follows CAPV v1.x `controllers/vspherecluster_controller.go` in shape: a VSphereCluster
//! without a Cluster ownerReference waits ("Waiting for Cluster Controller to set OwnerRef");
//! a paused one is skipped; otherwise `status.ready` is True with the `VCenterAvailable` and
//! `Ready` conditions. Stand-in: there is no vCenter session or load balancer to wait for —
//! the Site is always reachable.

use drdrill_apis::capi::conditions::READY;
use drdrill_apis::vsphere::VSphereCluster;
use drdrill_kube_sim::clock::Clock;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use std::sync::Arc;

use super::{Context, ControllerError, PassClusters, Reconciler, Report, is_paused, key, run_every, set_condition, true_condition};

/// CAPV's `VCenterAvailableCondition`.
pub const VCENTER_AVAILABLE: &str = "VCenterAvailable";

/// Reconciles every VSphereCluster of the management cluster.
pub struct VSphereClusterController {
    client: Client,
    clock: Arc<dyn Clock>,
}

impl VSphereClusterController {
    /// A controller for the management cluster behind `client`.
    pub fn new(client: Client, clock: Arc<dyn Clock>) -> Self {
        VSphereClusterController { client, clock }
    }

    /// One pass over every VSphereCluster.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let list = Api::<VSphereCluster>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ctx(|| "list VSphereClusters".into())?;
        let mut report = Report::default();
        let clusters = PassClusters::new(&self.client);
        for vc in list {
            self.reconcile(&vc, &clusters, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: std::time::Duration) {
        run_every(self, "vspherecluster", period).await;
    }

    async fn reconcile(&self, vc: &VSphereCluster, clusters: &PassClusters, report: &mut Report) -> Result<(), ControllerError> {
        let ns = vc.namespace().unwrap_or_default();
        let Some(owner) = vc.owner_references().iter().find(|r| r.kind == "Cluster").map(|r| r.name.clone()) else {
            return Ok(());
        };
        let cluster = clusters.get(&ns, &owner).await?;
        if is_paused(cluster.as_ref(), vc.meta()) {
            report.paused.push(key("VSphereCluster", vc));
            return Ok(());
        }
        if cluster.is_none() || vc.meta().deletion_timestamp.is_some() {
            return Ok(());
        }
        let mut status = vc.status.clone().unwrap_or_default();
        let old = status.clone();
        status.ready = true;
        let clock = self.clock.as_ref();
        set_condition(&mut status.conditions, true_condition(VCENTER_AVAILABLE), clock);
        set_condition(&mut status.conditions, true_condition(READY), clock);
        if status == old {
            return Ok(());
        }
        Api::<VSphereCluster>::namespaced(self.client.clone(), &ns)
            .patch_status(&vc.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .ctx(|| format!("update status of VSphereCluster {ns}/{}", vc.name_any()))?;
        report.updated.push(key("VSphereCluster", vc));
        Ok(())
    }
}

impl Reconciler for VSphereClusterController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        VSphereClusterController::reconcile_all(self).await
    }
}
