//! Typed resources of the simulated world, and the CRDs generated from them.
//!
//! Field names follow upstream (Cluster API v1beta1 and the vSphere provider's v1beta1 as
//! TKG 2.x runs them, TKR v1alpha3); the Rust types are our own and the CRDs are generated from
//! them, never copied. Each type keeps the upstream fields the simulators and the runbooks
//! use; a field it lacks is pruned by the API server, as for any unknown field.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub mod capi;
pub mod tkr;
pub mod velero;
pub mod vsphere;

#[cfg(test)]
mod tests;

/// Every CRD of this crate, in install order (Cluster API, then vSphere, then TKR).
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        capi::Cluster::crd(),
        capi::Machine::crd(),
        capi::MachineSet::crd(),
        capi::MachineDeployment::crd(),
        capi::MachineHealthCheck::crd(),
        capi::KubeadmControlPlane::crd(),
        vsphere::VSphereCluster::crd(),
        vsphere::VSphereMachine::crd(),
        vsphere::VSphereMachineTemplate::crd(),
        tkr::TanzuKubernetesRelease::crd(),
    ]
}
