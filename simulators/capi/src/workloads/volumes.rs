//! Dynamic provisioning, as the PersistentVolume controller and a CSI driver's external
//! provisioner do it together: a Pending PersistentVolumeClaim whose StorageClass names a driver
//! simulated here gets a [`Datastore`] volume and a PersistentVolume bound to it; a claim whose
//! class does not exist stays Pending with the `ProvisioningFailed` Event Kubernetes writes.
//!
//! Facts from Kubernetes (`pkg/controller/volume/persistentvolume`, the external-provisioner):
//!
//! * a claim with no `storageClassName` gets the default class (annotation
//!   `storageclass.kubernetes.io/is-default-class: "true"`, the newest when several), as the
//!   retroactive default-class assignment of 1.28+ does; `storageClassName: ""` asks for static
//!   binding only and is never provisioned;
//! * the PersistentVolume is `pvc-<claim uid>`, with the class's `reclaimPolicy` (default
//!   `Delete`) and `mountOptions`, the claim's access modes, volume mode and requested size, a
//!   `claimRef` to the claim, `spec.csi.driver` / `volumeHandle`, and the annotation
//!   `pv.kubernetes.io/provisioned-by`; the claim gets `spec.volumeName`, the `bind-completed`,
//!   `bound-by-controller` and `storage-provisioner` annotations, and `status.phase: Bound`
//!   with its capacity; the volume's status is `Bound`;
//! * a class with `volumeBindingMode: WaitForFirstConsumer` provisions only once a Pod using
//!   the claim is bound to a Node;
//! * a claim naming a volume (static binding, or a restored claim) is bound to it when the volume
//!   exists and its `claimRef` is empty or names the claim;
//! * when a bound volume's claim is gone, reclaim policy `Delete` deletes the volume and its
//!   data, `Retain` keeps both and marks the volume `Released`.
//!
//! Simplifications: no finalizers (`kubernetes.io/pvc-protection`, `pv-protection`), no
//! topology, capacity is not checked against the datastore, an Event is written once per
//! reason and message (upstream bumps its `count`).

use std::collections::BTreeMap;

use drdrill_kube_sim::clock::k8s_time;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::{WorkloadControllers, WorkloadReport, is_deleting, key_of, name_of, ns_of, tolerate, uid_of};
use crate::storage::Datastore;

/// The CSI drivers whose volumes this simulator provisions: vSphere CSI, and AKS-HCI's disk and
/// file (SMB) drivers.
pub const SIMULATED_PROVISIONERS: [&str; 3] = ["csi.vsphere.vmware.com", "disk.csi.akshci.com", "file.csi.akshci.com"];

/// The StorageClass annotation that makes a class the default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// The deprecated beta spelling of [`DEFAULT_CLASS_ANNOTATION`], still honoured upstream.
pub const BETA_DEFAULT_CLASS_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The annotation naming the driver that provisioned a PersistentVolume.
pub const PROVISIONED_BY_ANNOTATION: &str = "pv.kubernetes.io/provisioned-by";

/// The Event reason of a claim that could not be provisioned.
pub const PROVISIONING_FAILED: &str = "ProvisioningFailed";

/// The Event reason of a claim that was provisioned.
pub const PROVISIONING_SUCCEEDED: &str = "ProvisioningSucceeded";

/// Why a claim's volume cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A request to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being read.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The claim does not exist.
    #[error("PersistentVolumeClaim {namespace}/{name} not found")]
    ClaimNotFound {
        /// The claim's namespace.
        namespace: String,
        /// The claim's name.
        name: String,
    },
    /// The claim is not bound to a volume yet.
    #[error("PersistentVolumeClaim {namespace}/{name} is not bound to a volume (phase {phase})")]
    NotBound {
        /// The claim's namespace.
        namespace: String,
        /// The claim's name.
        name: String,
        /// Its phase.
        phase: String,
    },
    /// The volume the claim names does not exist, or is not a CSI volume.
    #[error("PersistentVolume {volume} of PersistentVolumeClaim {namespace}/{name}: {reason}")]
    BadVolume {
        /// The claim's namespace.
        namespace: String,
        /// The claim's name.
        name: String,
        /// The volume's name.
        volume: String,
        /// What is wrong.
        reason: String,
    },
}

/// The datastore handle of the volume bound to claim `namespace/claim` (its PersistentVolume's
/// `spec.csi.volumeHandle`): where a pod using the claim reads and writes its files.
pub async fn volume_of_claim(client: &Client, namespace: &str, claim: &str) -> Result<String, VolumeError> {
    let kube = |action: String| move |source| VolumeError::Kube { action, source };
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .get_opt(claim)
        .await
        .map_err(kube(format!("get PersistentVolumeClaim {namespace}/{claim}")))?
        .ok_or_else(|| VolumeError::ClaimNotFound {
            namespace: namespace.into(),
            name: claim.into(),
        })?;
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let volume = match pvc.spec.as_ref().and_then(|s| s.volume_name.clone()) {
        Some(v) if !v.is_empty() && phase == "Bound" => v,
        _ => {
            return Err(VolumeError::NotBound {
                namespace: namespace.into(),
                name: claim.into(),
                phase,
            });
        }
    };
    let bad = |reason: &str| VolumeError::BadVolume {
        namespace: namespace.into(),
        name: claim.into(),
        volume: volume.clone(),
        reason: reason.into(),
    };
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get_opt(&volume)
        .await
        .map_err(kube(format!("get PersistentVolume {volume}")))?
        .ok_or_else(|| bad("not found"))?;
    pv.spec
        .as_ref()
        .and_then(|s| s.csi.as_ref())
        .map(|csi| csi.volume_handle.clone())
        .ok_or_else(|| bad("not a CSI volume (no spec.csi.volumeHandle)"))
}

/// Parses a resource quantity (`10Gi`, `500M`, `1.5Gi`, `1e3`) into bytes, rounding up.
pub fn parse_quantity(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let multiplier: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let bytes = (value * multiplier).ceil();
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A claim's requested size: the text and its bytes.
fn requested_size(pvc: &PersistentVolumeClaim) -> Option<(String, u64)> {
    let text = pvc.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage")?.0.clone();
    let bytes = parse_quantity(&text)?;
    Some((text, bytes))
}

fn is_default(class: &StorageClass) -> bool {
    let annotations = class.annotations();
    [DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION]
        .iter()
        .any(|a| annotations.get(*a).map(String::as_str) == Some("true"))
}

/// The default class: the newest one annotated default (ties: the name sorting first).
fn default_class(classes: &[StorageClass]) -> Option<&StorageClass> {
    classes.iter().filter(|c| is_default(c)).max_by(|a, b| {
        let created = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a).cmp(&created(b)).then_with(|| b.name_any().cmp(&a.name_any()))
    })
}

/// The provisioner's pass (see the module documentation).
pub(super) async fn reconcile(ctl: &WorkloadControllers, now: Timestamp, report: &mut WorkloadReport) -> Result<(), kube::Error> {
    let Some(datastore) = ctl.datastore.as_ref() else {
        return Ok(());
    };
    let classes = ctl.list::<StorageClass>(report).await?;
    let claims = ctl.list::<PersistentVolumeClaim>(report).await?;
    let volumes = ctl.list::<PersistentVolume>(report).await?;
    let pods = ctl.list::<Pod>(report).await?;
    let pv_api: Api<PersistentVolume> = Api::all(ctl.client.clone());
    for pvc in &claims {
        if is_deleting(&pvc.metadata) || pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
            continue;
        }
        let spec = pvc.spec.clone().unwrap_or_default();
        if let Some(volume) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
            bind_named(ctl, pvc, volume, &volumes, report).await?;
            continue;
        }
        let class = match spec.storage_class_name.as_deref() {
            Some("") => continue,
            Some(name) => classes.iter().find(|c| c.name_any() == name),
            None => {
                let Some(default) = default_class(&classes) else {
                    let msg = "no persistent volumes available for this claim and no storage class is set";
                    event(ctl, pvc, "Normal", "FailedBinding", msg, "persistentvolume-controller", now, report).await?;
                    continue;
                };
                let patch = json!({"spec": {"storageClassName": default.name_any()}});
                let api: Api<PersistentVolumeClaim> = ctl.api(ns_of(&pvc.metadata));
                tolerate(
                    api.patch(name_of(&pvc.metadata), &PatchParams::default(), &Patch::Merge(&patch))
                        .await,
                    &format!("set the default class on PersistentVolumeClaim {}", key_of(&pvc.metadata)),
                    report,
                )?;
                report
                    .volumes
                    .push(format!("{}: default StorageClass {}", key_of(&pvc.metadata), default.name_any()));
                Some(default)
            }
        };
        let Some(class) = class else {
            let name = spec.storage_class_name.clone().unwrap_or_default();
            let msg = format!("storageclass.storage.k8s.io {name:?} not found");
            event(
                ctl,
                pvc,
                "Warning",
                PROVISIONING_FAILED,
                &msg,
                "persistentvolume-controller",
                now,
                report,
            )
            .await?;
            continue;
        };
        if !SIMULATED_PROVISIONERS.contains(&class.provisioner.as_str()) {
            let msg = format!(
                "waiting for a volume to be created, either by external provisioner {:?} or manually created by system administrator",
                class.provisioner
            );
            event(
                ctl,
                pvc,
                "Normal",
                "ExternalProvisioning",
                &msg,
                "persistentvolume-controller",
                now,
                report,
            )
            .await?;
            continue;
        }
        if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") && !has_scheduled_consumer(&pods, pvc) {
            let msg = "waiting for first consumer to be created before binding";
            event(
                ctl,
                pvc,
                "Normal",
                "WaitForFirstConsumer",
                msg,
                "persistentvolume-controller",
                now,
                report,
            )
            .await?;
            continue;
        }
        provision(ctl, datastore, &pv_api, pvc, class, &volumes, now, report).await?;
    }
    reclaim(datastore, &pv_api, &claims, &volumes, report).await
}

fn has_scheduled_consumer(pods: &[Pod], pvc: &PersistentVolumeClaim) -> bool {
    pods.iter().any(|pod| {
        ns_of(&pod.metadata) == ns_of(&pvc.metadata)
            && pod.spec.as_ref().is_some_and(|s| {
                s.node_name.as_deref().is_some_and(|n| !n.is_empty())
                    && s.volumes.iter().flatten().any(|v| {
                        v.persistent_volume_claim
                            .as_ref()
                            .is_some_and(|c| c.claim_name == name_of(&pvc.metadata))
                    })
            })
    })
}

/// Creates the datastore volume and the PersistentVolume, then binds both.
#[allow(clippy::too_many_arguments)]
async fn provision(
    ctl: &WorkloadControllers,
    datastore: &Datastore,
    pv_api: &Api<PersistentVolume>,
    pvc: &PersistentVolumeClaim,
    class: &StorageClass,
    volumes: &[PersistentVolume],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let key = key_of(&pvc.metadata);
    let Some((size, bytes)) = requested_size(pvc) else {
        let msg = format!("PersistentVolumeClaim {key}: spec.resources.requests.storage is missing or not a quantity");
        super::note_invalid(report, msg);
        return Ok(());
    };
    let spec = pvc.spec.clone().unwrap_or_default();
    let driver = class.provisioner.clone();
    let pv_name = format!("pvc-{}", uid_of(&pvc.metadata));
    if !datastore.contains(&pv_name)
        && let Err(e) = datastore.create_volume(&pv_name, bytes, &driver)
    {
        let msg = format!("failed to provision volume with StorageClass {:?}: {e}", class.name_any());
        return event(ctl, pvc, "Warning", PROVISIONING_FAILED, &msg, &driver, now, report).await;
    }
    let existing = volumes.iter().find(|v| v.name_any() == pv_name);
    let pv = match existing {
        Some(pv) => pv.clone(),
        None => {
            let pv: PersistentVolume = serde_json::from_value(json!({
                "metadata": {
                    "name": pv_name,
                    "annotations": {PROVISIONED_BY_ANNOTATION: driver, "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                        "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""},
                },
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".into()]),
                    "volumeMode": spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()),
                    "persistentVolumeReclaimPolicy": class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
                    "storageClassName": class.name_any(),
                    "mountOptions": class.mount_options.clone(),
                    "claimRef": claim_ref(pvc),
                    "csi": {"driver": driver, "volumeHandle": pv_name, "fsType": "ext4",
                        "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": format!("{driver}-simulated")}},
                },
            }))
            .map_err(kube::Error::SerdeError)?;
            let Some(created) = tolerate(
                pv_api.create(&PostParams::default(), &pv).await,
                &format!("create PersistentVolume {pv_name}"),
                report,
            )?
            else {
                return Ok(());
            };
            let msg = format!("Successfully provisioned volume {pv_name}");
            event(ctl, pvc, "Normal", PROVISIONING_SUCCEEDED, &msg, &driver, now, report).await?;
            report.volumes.push(format!("{key}: provisioned {pv_name} ({size}, {driver})"));
            created
        }
    };
    bind(ctl, pvc, &pv, report).await
}

fn claim_ref(pvc: &PersistentVolumeClaim) -> serde_json::Value {
    json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns_of(&pvc.metadata),
        "name": name_of(&pvc.metadata), "uid": uid_of(&pvc.metadata), "resourceVersion": pvc.resource_version()})
}

/// A claim that names its volume: bind when the volume exists and is free or meant for it.
async fn bind_named(
    ctl: &WorkloadControllers,
    pvc: &PersistentVolumeClaim,
    volume: &str,
    volumes: &[PersistentVolume],
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let Some(pv) = volumes.iter().find(|v| v.name_any() == volume) else {
        return Ok(());
    };
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let meant_for_it = claim_ref.is_none_or(|r| {
        r.namespace.as_deref() == Some(ns_of(&pvc.metadata))
            && r.name.as_deref() == Some(name_of(&pvc.metadata))
            && r.uid.as_deref().is_none_or(|u| u.is_empty() || u == uid_of(&pvc.metadata))
    });
    if meant_for_it {
        bind(ctl, pvc, pv, report).await?;
    }
    Ok(())
}

/// Writes both sides of the binding: the volume's claimRef and Bound status, the claim's
/// volumeName, annotations and Bound status with capacity.
async fn bind(
    ctl: &WorkloadControllers,
    pvc: &PersistentVolumeClaim,
    pv: &PersistentVolume,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let key = key_of(&pvc.metadata);
    let pv_name = pv.name_any();
    let pv_api: Api<PersistentVolume> = Api::all(ctl.client.clone());
    let pv_spec = pv.spec.clone().unwrap_or_default();
    let already = pv_spec
        .claim_ref
        .as_ref()
        .is_some_and(|r| r.uid.as_deref() == Some(uid_of(&pvc.metadata)));
    if !already {
        let patch = json!({"spec": {"claimRef": claim_ref(pvc)}});
        if tolerate(
            pv_api.patch(&pv_name, &PatchParams::default(), &Patch::Merge(&patch)).await,
            &format!("bind PersistentVolume {pv_name} to {key}"),
            report,
        )?
        .is_none()
        {
            return Ok(());
        }
    }
    let status = json!({"status": {"phase": "Bound"}});
    if tolerate(
        pv_api.patch_status(&pv_name, &PatchParams::default(), &Patch::Merge(&status)).await,
        &format!("status of PersistentVolume {pv_name}"),
        report,
    )?
    .is_none()
    {
        return Ok(());
    }
    let driver = pv_spec.csi.as_ref().map(|c| c.driver.clone()).unwrap_or_default();
    let mut annotations = json!({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"});
    if !driver.is_empty() && pv.annotations().contains_key(PROVISIONED_BY_ANNOTATION) {
        annotations["volume.kubernetes.io/storage-provisioner"] = json!(driver);
        annotations["volume.beta.kubernetes.io/storage-provisioner"] = json!(driver);
    }
    let api: Api<PersistentVolumeClaim> = ctl.api(ns_of(&pvc.metadata));
    let patch = json!({"metadata": {"annotations": annotations}, "spec": {"volumeName": pv_name}});
    if tolerate(
        api.patch(name_of(&pvc.metadata), &PatchParams::default(), &Patch::Merge(&patch))
            .await,
        &format!("bind PersistentVolumeClaim {key}"),
        report,
    )?
    .is_none()
    {
        return Ok(());
    }
    let capacity = pv_spec.capacity.clone().unwrap_or_default();
    let status = json!({"status": {"phase": "Bound", "accessModes": pv_spec.access_modes, "capacity": capacity}});
    tolerate(
        api.patch_status(name_of(&pvc.metadata), &PatchParams::default(), &Patch::Merge(&status))
            .await,
        &format!("status of PersistentVolumeClaim {key}"),
        report,
    )?;
    report.volumes.push(format!("{key}: bound to {pv_name}"));
    Ok(())
}

/// Volumes whose claim is gone: `Delete` removes volume and data, `Retain` marks it Released.
async fn reclaim(
    datastore: &Datastore,
    pv_api: &Api<PersistentVolume>,
    claims: &[PersistentVolumeClaim],
    volumes: &[PersistentVolume],
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let live: BTreeMap<&str, &PersistentVolumeClaim> = claims.iter().map(|c| (uid_of(&c.metadata), c)).collect();
    for pv in volumes {
        if is_deleting(&pv.metadata) {
            continue;
        }
        let spec = pv.spec.clone().unwrap_or_default();
        let Some(uid) = spec.claim_ref.as_ref().and_then(|r| r.uid.clone()).filter(|u| !u.is_empty()) else {
            continue;
        };
        if live.contains_key(uid.as_str()) {
            continue;
        }
        let name = pv.name_any();
        let phase = pv.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        match spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("Delete") {
            "Delete" => {
                let simulated = spec
                    .csi
                    .as_ref()
                    .filter(|c| SIMULATED_PROVISIONERS.contains(&c.driver.as_str()))
                    .map(|c| c.volume_handle.clone());
                if let Some(handle) = simulated
                    && datastore.contains(&handle)
                    && let Err(e) = datastore.delete_volume(&handle)
                {
                    super::note_invalid(report, format!("PersistentVolume {name}: {e}"));
                    continue;
                }
                if tolerate(
                    pv_api.delete(&name, &DeleteParams::default()).await,
                    &format!("delete PersistentVolume {name}"),
                    report,
                )?
                .is_some()
                {
                    report
                        .volumes
                        .push(format!("{name}: deleted with its claim (reclaim policy Delete)"));
                }
            }
            _ if phase != "Released" => {
                let status = json!({"status": {"phase": "Released"}});
                if tolerate(
                    pv_api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await,
                    &format!("release PersistentVolume {name}"),
                    report,
                )?
                .is_some()
                {
                    report.volumes.push(format!("{name}: Released (reclaim policy Retain)"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes an Event about `pvc` once (same reason and message: no new Event).
#[allow(clippy::too_many_arguments)]
async fn event(
    ctl: &WorkloadControllers,
    pvc: &PersistentVolumeClaim,
    type_: &str,
    reason: &str,
    message: &str,
    component: &str,
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let ns = ns_of(&pvc.metadata);
    let hash = super::fnv32a(&json!([uid_of(&pvc.metadata), reason, message]), None);
    let name = format!("{}.{hash:08x}", name_of(&pvc.metadata));
    let api: Api<Event> = ctl.api(ns);
    if api.get_opt(&name).await?.is_some() {
        return Ok(());
    }
    let time = k8s_time(now);
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
            "name": name_of(&pvc.metadata), "uid": uid_of(&pvc.metadata), "resourceVersion": pvc.resource_version()},
        "type": type_, "reason": reason, "message": message,
        "source": {"component": component},
        "reportingComponent": component, "reportingInstance": "",
        "firstTimestamp": time, "lastTimestamp": time, "count": 1,
    }))
    .map_err(kube::Error::SerdeError)?;
    if tolerate(
        api.create(&PostParams::default(), &event).await,
        &format!("event {reason} for {}", key_of(&pvc.metadata)),
        report,
    )?
    .is_some()
    {
        report
            .volumes
            .push(format!("{}: event {type_} {reason}: {message}", key_of(&pvc.metadata)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_to_bytes() {
        assert_eq!(parse_quantity("1Gi"), Some(1 << 30));
        assert_eq!(parse_quantity("500Mi"), Some(500 << 20));
        assert_eq!(parse_quantity("2G"), Some(2_000_000_000));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536));
        assert_eq!(parse_quantity("1e3"), Some(1000));
        assert_eq!(parse_quantity("4096"), Some(4096));
        assert_eq!(parse_quantity("ten"), None);
        assert_eq!(parse_quantity("1Qi"), None);
    }

    #[test]
    fn the_newest_default_class_wins() {
        let class = |name: &str, default: bool, created: &str| -> StorageClass {
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": created,
                    "annotations": {DEFAULT_CLASS_ANNOTATION: if default { "true" } else { "false" }}},
                "provisioner": "csi.vsphere.vmware.com",
            }))
            .expect("class")
        };
        let classes = [
            class("old", true, "2022-01-01T00:00:00Z"),
            class("new", true, "2022-06-01T00:00:00Z"),
            class("plain", false, "2023-01-01T00:00:00Z"),
        ];
        assert_eq!(default_class(&classes).map(|c| c.name_any()).as_deref(), Some("new"));
        assert!(default_class(&classes[2..]).is_none());
    }
}
