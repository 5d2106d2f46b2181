//! `tanzu kubernetes-release get [PREFIX] [-a]`: the columns of the v1alpha1 plugin TKG 2.1 uses
//! by default (tanzu-framework `cmd/cli/plugin/tkr/v1alpha1/get_tkr.go`), which Runbook T shows:
//! NAME, VERSION (`spec.version`), COMPATIBLE (the `Compatible` condition's status), ACTIVE
//! (`False` when the TKR carries the `inactive` label — v1alpha3 spells it `deactivated`; both are
//! honoured), UPDATES AVAILABLE (the `UpdatesAvailable` condition's status, or the deprecated
//! `UpgradeAvailable`). Without `-a` only compatible, active releases are listed; a name argument
//! keeps the TKRs whose name starts with it. Rows follow the API's order (by name).

use drdrill_apis::tkr::{CONDITION_COMPATIBLE, CONDITION_UPDATES_AVAILABLE, DEACTIVATED_LABEL, TanzuKubernetesRelease};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::{TanzuCliError, kube_ctx};
use crate::report::columns_padded;

/// The v1alpha1 label marking a deactivated TKR.
pub const INACTIVE_LABEL: &str = "inactive";
/// The deprecated condition older TKRs carry instead of `UpdatesAvailable`.
pub const CONDITION_UPGRADE_AVAILABLE: &str = "UpgradeAvailable";

/// One row of `tanzu kubernetes-release get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    /// NAME.
    pub name: String,
    /// VERSION.
    pub version: String,
    /// COMPATIBLE.
    pub compatible: String,
    /// ACTIVE.
    pub active: String,
    /// UPDATES AVAILABLE.
    pub updates_available: String,
}

/// The row of one TKR.
pub fn release_row(tkr: &TanzuKubernetesRelease) -> ReleaseRow {
    let conditions = tkr.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let status_of = |types: &[&str]| {
        conditions
            .iter()
            .rfind(|c| types.contains(&c.type_.as_str()))
            .map(|c| c.status.clone())
            .unwrap_or_default()
    };
    let labels = tkr.labels();
    let inactive = labels.contains_key(INACTIVE_LABEL) || labels.contains_key(DEACTIVATED_LABEL);
    ReleaseRow {
        name: tkr.name_any(),
        version: tkr.spec.version.clone(),
        compatible: status_of(&[CONDITION_COMPATIBLE]),
        active: if inactive { "False" } else { "True" }.to_string(),
        updates_available: status_of(&[CONDITION_UPDATES_AVAILABLE, CONDITION_UPGRADE_AVAILABLE]),
    }
}

/// Prints the rows with tanzu's header.
pub fn render_releases(rows: &[ReleaseRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.version.clone(),
                r.compatible.clone(),
                r.active.clone(),
                r.updates_available.clone(),
            ]
        })
        .collect();
    columns_padded(&["NAME", "VERSION", "COMPATIBLE", "ACTIVE", "UPDATES AVAILABLE"], &cells, 2)
}

/// Lists the TKRs and prints them; `prefix` keeps names starting with it, `all` keeps
/// incompatible and inactive ones too.
pub async fn kubernetes_release_get(client: &Client, prefix: Option<&str>, all: bool) -> Result<String, TanzuCliError> {
    let mut tkrs = Api::<TanzuKubernetesRelease>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(kube_ctx("failed to list TKr's"))?
        .items;
    tkrs.sort_by_key(ResourceExt::name_any);
    let rows: Vec<ReleaseRow> = tkrs
        .iter()
        .filter(|t| prefix.is_none_or(|p| t.name_any().starts_with(p)))
        .map(release_row)
        .filter(|r| all || (r.compatible.eq_ignore_ascii_case("true") && r.active == "True"))
        .collect();
    Ok(render_releases(&rows))
}
