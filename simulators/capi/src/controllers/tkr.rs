//! The TanzuKubernetesRelease source: the Kubernetes releases a new TKG management cluster offers
//! appear over time, the management cluster's own at once, the others once fetched.
//!
//! Follows tanzu-framework v0.28 (TKR API v1alpha3) in what it writes:
//! * the TKR source controller creates each TKR from its package (`tkr/controller/tkr-source/pkgcr`)
//!   — here a release becomes due `available_after` its [`TkrRelease`] entry, counted from the
//!   management cluster's birth (the `kube-system` namespace's creationTimestamp), so "wait a few
//!   minutes" (Runbook T, full restore step 3) runs on the injectable clock and survives restarts;
//! * the compatibility reconciler marks `Compatible` True for the versions the management cluster
//!   supports — here the configured releases — and False (severity Warning) for any other TKR;
//! * the resolver cache (`tkr/resolver/internal`) adds the version-prefix labels (`v1`, `v1.24`,
//!   `v1.24.10`, `v1.24.10---vmware`, …), sets or removes `incompatible` / `invalid` from the
//!   conditions, and marks `Ready` False with reason `Incompatible`/`Deactivated`/`Invalid` when such a
//!   label is present, True otherwise.
//!
//! `UpdatesAvailable` is a *Cluster* condition in the v1alpha3 world (tkr-status controller), so no
//! TKR carries it — which is why Runbook T's `tanzu kubernetes-release get` shows an empty
//! UPDATES AVAILABLE column.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::capi::Condition;
use drdrill_apis::capi::conditions::READY;
use drdrill_apis::tkr::release::KubernetesSpec;
use drdrill_apis::tkr::{
    CONDITION_COMPATIBLE, CONDITION_VALID, DEACTIVATED_LABEL, INCOMPATIBLE_LABEL, TanzuKubernetesRelease, TanzuKubernetesReleaseSpec,
    TanzuKubernetesReleaseStatus,
};
use drdrill_kube_sim::clock::Clock;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::{Context, ControllerError, Reconciler, Report, false_condition, run_every, set_condition, true_condition};

/// The label on a TKR whose bootstrap packages or OS images are missing (`runv1.LabelInvalid`).
pub const INVALID_LABEL: &str = "invalid";

/// The namespace whose creation marks the management cluster's birth.
const BIRTH_NAMESPACE: &str = "kube-system";

/// One Kubernetes release the management cluster will offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TkrRelease {
    /// The TKR's name, e.g. `v1.24.10---vmware.1-tkg.1`.
    pub name: String,
    /// `spec.version`, e.g. `v1.24.10+vmware.1-tkg.1`.
    pub version: String,
    /// `spec.kubernetes.version`, e.g. `v1.24.10+vmware.1`.
    pub kubernetes_version: String,
    /// How long after the management cluster came up the TKR appears (zero: at once).
    pub available_after: Duration,
}

impl TkrRelease {
    /// A release named after its version as TKG names TKRs (`+` becomes `---`), with the
    /// Kubernetes version being the version without its `-tkg.N` suffix.
    pub fn from_version(version: &str, available_after: Duration) -> Self {
        TkrRelease {
            name: version_label(version),
            version: version.to_string(),
            kubernetes_version: version.rsplit_once("-tkg.").map_or(version, |(k, _)| k).to_string(),
            available_after,
        }
    }
}

/// tanzu-framework's `version.Label`: `v` + the version with `+` replaced by `---`.
pub fn version_label(version: &str) -> String {
    format!("v{}", version.trim_start_matches('v').replace('+', "---"))
}

/// tanzu-framework's `version.Prefixes`: the label and every prefix obtained by dropping the last
/// alphanumeric run and the delimiters before it (`v1.24.10---vmware.1-tkg.1`, `…-tkg`,
/// `v1.24.10---vmware.1`, `v1.24.10---vmware`, `v1.24.10`, `v1.24`, `v1`).
pub fn version_prefixes(label: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut v = label;
    while !v.is_empty() {
        out.push(v.to_string());
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        let mut end = chars.len();
        // The trailing alphanumeric run, then the delimiters before it.
        while end > 0 && chars[end - 1].1.is_alphanumeric() {
            end -= 1;
        }
        while end > 0 && !chars[end - 1].1.is_alphanumeric() {
            end -= 1;
        }
        v = &v[..chars.get(end).map_or(v.len(), |(i, _)| *i)];
    }
    out
}

/// Creates the configured TKRs when they are due and keeps every TKR's conditions and labels.
pub struct TkrController {
    client: Client,
    clock: Arc<dyn Clock>,
    releases: Vec<TkrRelease>,
}

impl TkrController {
    /// A controller for the management cluster behind `client`, offering `releases`.
    pub fn new(client: Client, clock: Arc<dyn Clock>, releases: Vec<TkrRelease>) -> Self {
        TkrController { client, clock, releases }
    }

    /// The releases this controller offers.
    pub fn releases(&self) -> &[TkrRelease] {
        &self.releases
    }

    /// One pass: create the TKRs that are due, then bring every TKR's labels and conditions up
    /// to date.
    pub async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        let api: Api<TanzuKubernetesRelease> = Api::all(self.client.clone());
        let mut report = Report::default();
        let born = self.birth().await?;
        let now = self.clock.now();
        let existing: Vec<String> = api
            .list(&ListParams::default())
            .await
            .ctx(|| "list TanzuKubernetesReleases".into())?
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        for release in &self.releases {
            let due = jiff::SignedDuration::try_from(release.available_after)
                .ok()
                .and_then(|d| born.checked_add(d).ok())
                .is_some_and(|at| at <= now);
            if !due || existing.contains(&release.name) {
                continue;
            }
            let tkr = TanzuKubernetesRelease::new(
                &release.name,
                TanzuKubernetesReleaseSpec {
                    version: release.version.clone(),
                    kubernetes: KubernetesSpec {
                        version: release.kubernetes_version.clone(),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            );
            api.create(&PostParams::default(), &tkr)
                .await
                .ctx(|| format!("create TanzuKubernetesRelease {}", release.name))?;
            report.created.push(format!("TanzuKubernetesRelease/{}", release.name));
        }
        for tkr in api
            .list(&ListParams::default())
            .await
            .ctx(|| "list TanzuKubernetesReleases".into())?
        {
            self.reconcile(&api, &tkr, &mut report).await?;
        }
        Ok(report)
    }

    /// Repeats passes every `period`.
    pub async fn run(&self, period: Duration) {
        run_every(self, "tkr", period).await;
    }

    /// When the management cluster came up.
    async fn birth(&self) -> Result<Timestamp, ControllerError> {
        let ns = Api::<Namespace>::all(self.client.clone())
            .get_opt(BIRTH_NAMESPACE)
            .await
            .ctx(|| format!("get Namespace {BIRTH_NAMESPACE}"))?;
        let invalid = |message: &str| ControllerError::Invalid {
            object: format!("Namespace {BIRTH_NAMESPACE}"),
            message: format!("{message}: the TKR source counts release availability from the management cluster's birth"),
        };
        let ns = ns.ok_or_else(|| invalid("not found"))?;
        ns.metadata
            .creation_timestamp
            .map(|t| t.0)
            .ok_or_else(|| invalid("has no creationTimestamp"))
    }

    async fn reconcile(
        &self,
        api: &Api<TanzuKubernetesRelease>,
        tkr: &TanzuKubernetesRelease,
        report: &mut Report,
    ) -> Result<(), ControllerError> {
        let name = tkr.name_any();
        let clock = self.clock.as_ref();
        let mut status = tkr.status.clone().unwrap_or_default();
        let old_status = status.clone();
        let compatible = self.releases.iter().any(|r| r.version == tkr.spec.version);
        let compatible_condition = if compatible {
            true_condition(CONDITION_COMPATIBLE)
        } else {
            // conditions.MarkFalse(tkr, Compatible, "", Warning, "")
            Condition {
                type_: CONDITION_COMPATIBLE.into(),
                status: "False".into(),
                severity: Some("Warning".into()),
                ..Condition::default()
            }
        };
        set_condition(&mut status.conditions, compatible_condition, clock);

        let mut labels = tkr.labels().clone();
        let old_labels = labels.clone();
        for prefix in version_prefixes(&version_label(&tkr.spec.version)) {
            labels.entry(prefix).or_default();
        }
        ensure_label(&mut labels, INCOMPATIBLE_LABEL, is_false(&status, CONDITION_COMPATIBLE));
        ensure_label(&mut labels, INVALID_LABEL, is_false(&status, CONDITION_VALID));
        let ready = [INCOMPATIBLE_LABEL, DEACTIVATED_LABEL, INVALID_LABEL]
            .into_iter()
            .find(|l| labels.contains_key(*l))
            .map_or_else(|| true_condition(READY), |l| false_condition(READY, &title(l), "Warning", l));
        set_condition(&mut status.conditions, ready, clock);

        if labels != old_labels {
            // A merge patch cannot remove keys by omission: removed labels are sent as null.
            let mut patch: BTreeMap<String, serde_json::Value> = labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            for gone in old_labels.keys().filter(|k| !labels.contains_key(*k)) {
                patch.insert(gone.clone(), serde_json::Value::Null);
            }
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": patch}})),
            )
            .await
            .ctx(|| format!("label TanzuKubernetesRelease {name}"))?;
        }
        if status != old_status {
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
                .await
                .ctx(|| format!("update status of TanzuKubernetesRelease {name}"))?;
        }
        if labels != old_labels || status != old_status {
            report.updated.push(format!("TanzuKubernetesRelease/{name}"));
        }
        Ok(())
    }
}

impl Reconciler for TkrController {
    async fn reconcile_all(&self) -> Result<Report, ControllerError> {
        TkrController::reconcile_all(self).await
    }
}

fn is_false(status: &TanzuKubernetesReleaseStatus, type_: &str) -> bool {
    status.conditions.iter().any(|c| c.type_ == type_ && c.status == "False")
}

fn ensure_label(labels: &mut BTreeMap<String, String>, label: &str, set: bool) {
    if set {
        labels.insert(label.to_string(), String::new());
    } else {
        labels.remove(label);
    }
}

/// `cases.Title(language.English)` for a one-word label.
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_prefixes_follow_tanzu_framework() {
        assert_eq!(version_label("v1.24.10+vmware.1-tkg.1"), "v1.24.10---vmware.1-tkg.1");
        assert_eq!(
            version_prefixes("v1.24.10---vmware.1-tkg.1"),
            [
                "v1.24.10---vmware.1-tkg.1",
                "v1.24.10---vmware.1-tkg",
                "v1.24.10---vmware.1",
                "v1.24.10---vmware",
                "v1.24.10",
                "v1.24",
                "v1"
            ]
        );
        let r = TkrRelease::from_version("v1.22.17+vmware.2-tkg.2", Duration::from_secs(180));
        assert_eq!(
            (r.name.as_str(), r.kubernetes_version.as_str()),
            ("v1.22.17---vmware.2-tkg.2", "v1.22.17+vmware.2")
        );
        assert_eq!(title("deactivated"), "Deactivated");
    }
}
