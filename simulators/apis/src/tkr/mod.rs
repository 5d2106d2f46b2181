//! Tanzu Kubernetes releases, `run.tanzu.vmware.com/v1alpha3`: the Kubernetes versions a TKG
//! management cluster offers (`tanzu kubernetes-release get`).

pub mod release;

pub use release::{TanzuKubernetesRelease, TanzuKubernetesReleaseSpec, TanzuKubernetesReleaseStatus};

/// The API group of TKRs.
pub const GROUP: &str = "run.tanzu.vmware.com";

/// The label naming the TKR a Cluster (or machine template) resolved to.
pub const TKR_LABEL: &str = "run.tanzu.vmware.com/tkr";

/// The label on a TKR that cannot be used with this management cluster.
pub const INCOMPATIBLE_LABEL: &str = "incompatible";

/// The label on a TKR that an administrator deactivated.
pub const DEACTIVATED_LABEL: &str = "deactivated";

/// `Compatible`: the TKR can be used with this management cluster's version.
pub const CONDITION_COMPATIBLE: &str = "Compatible";

/// `Valid`: the TKR's bootstrap packages and OS images are all present.
pub const CONDITION_VALID: &str = "Valid";

/// `UpdatesAvailable`: a newer patch TKR exists.
pub const CONDITION_UPDATES_AVAILABLE: &str = "UpdatesAvailable";
