//! The Deployment controller: one ReplicaSet `<deployment>-<pod-template-hash>` per pod
//! template, rollouts (RollingUpdate as upstream's `rolloutRolling`, or Recreate), revisions,
//! `revisionHistoryLimit`, and status with the `Available` and `Progressing` conditions.

use std::collections::BTreeMap;

use drdrill_kube_sim::clock::k8s_time;
use drdrill_kube_sim::selectors::LabelSelector;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::replicasets::adopt;
use super::{
    POD_TEMPLATE_HASH_LABEL, PodCounts, REVISION_ANNOTATION, WorkloadControllers, WorkloadReport, controller_ref, controller_uid,
    count_pods, is_deleting, key_of, name_of, note_invalid, ns_of, owned_pods, selects, set_condition, template_hash, tolerate, uid_of,
    workload_selector,
};

const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// How a Deployment replaces Pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Surge up to `max_surge` extra Pods, keep at least `replicas - max_unavailable` available.
    Rolling { max_surge: i32, max_unavailable: i32 },
    /// Remove every old Pod before starting new ones.
    Recreate,
}

/// An int-or-percent against `total`, as upstream's `GetScaledValueFromIntOrPercent`.
fn scaled(value: Option<&IntOrString>, default: &str, total: i32, round_up: bool, field: &str) -> Result<i32, String> {
    match value {
        Some(IntOrString::Int(i)) if *i >= 0 => Ok(*i),
        Some(IntOrString::Int(i)) => Err(format!("{field}: Invalid value: {i}: must be greater than or equal to 0")),
        Some(IntOrString::String(s)) => {
            percent(s, total, round_up).ok_or_else(|| format!("{field}: Invalid value: {s:?}: must be an integer or a percentage"))
        }
        None => percent(default, total, round_up).ok_or_else(|| format!("{field}: bad default {default}")),
    }
}

fn percent(s: &str, total: i32, round_up: bool) -> Option<i32> {
    let pct: i64 = s.strip_suffix('%')?.parse().ok().filter(|p| *p >= 0)?;
    let product = pct * i64::from(total);
    Some(if round_up { (product + 99) / 100 } else { product / 100 } as i32)
}

fn strategy(spec: &DeploymentSpec, replicas: i32) -> Result<Strategy, String> {
    let strategy = spec.strategy.clone().unwrap_or_default();
    match strategy.type_.as_deref().unwrap_or("RollingUpdate") {
        "Recreate" => Ok(Strategy::Recreate),
        "RollingUpdate" => {
            let rolling = strategy.rolling_update.unwrap_or_default();
            let max_surge = scaled(
                rolling.max_surge.as_ref(),
                "25%",
                replicas,
                true,
                "spec.strategy.rollingUpdate.maxSurge",
            )?;
            let mut max_unavailable = scaled(
                rolling.max_unavailable.as_ref(),
                "25%",
                replicas,
                false,
                "spec.strategy.rollingUpdate.maxUnavailable",
            )?;
            if max_surge == 0 && max_unavailable == 0 {
                max_unavailable = 1;
            }
            Ok(Strategy::Rolling {
                max_surge,
                max_unavailable: max_unavailable.min(replicas),
            })
        }
        other => Err(format!(
            "spec.strategy.type: Unsupported value: {other:?}: supported values: \"Recreate\", \"RollingUpdate\""
        )),
    }
}

/// A template as JSON without the pod-template-hash label, for comparing ReplicaSets to Deployments.
fn normalized(template: Option<&PodTemplateSpec>) -> Value {
    let mut v = template.map(|t| serde_json::to_value(t).unwrap_or_default()).unwrap_or_default();
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
        if labels.is_empty()
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("labels");
        }
    }
    if v.get("metadata").and_then(Value::as_object).is_some_and(|m| m.is_empty())
        && let Some(obj) = v.as_object_mut()
    {
        obj.remove("metadata");
    }
    v
}

fn revision(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

/// A Deployment checked for what the controller needs.
struct Checked<'a> {
    spec: &'a DeploymentSpec,
    selector: LabelSelector,
    replicas: i32,
    strategy: Strategy,
}

fn check<'a>(d: &'a Deployment) -> Result<Checked<'a>, String> {
    let at = format!("Deployment {}", key_of(&d.metadata));
    let spec = d.spec.as_ref().ok_or_else(|| format!("{at}: spec: Required value"))?;
    let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    let selector = workload_selector("Deployment", &d.metadata, &spec.selector, labels)?;
    let replicas = spec.replicas.unwrap_or(1);
    if replicas < 0 {
        return Err(format!(
            "{at}: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        ));
    }
    let strategy = strategy(spec, replicas).map_err(|e| format!("{at}: {e}"))?;
    Ok(Checked {
        spec,
        selector,
        replicas,
        strategy,
    })
}

/// The ReplicaSet a Deployment's current template needs.
fn new_replica_set(d: &Deployment, c: &Checked<'_>, hash: &str, replicas: i32, revision: i64, max_surge: i32) -> ReplicaSet {
    let mut template = c.spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.into());
    let mut selector = c.spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.into());
    let annotations = [
        (REVISION_ANNOTATION.to_string(), revision.to_string()),
        (DESIRED_REPLICAS_ANNOTATION.to_string(), c.replicas.to_string()),
        (MAX_REPLICAS_ANNOTATION.to_string(), (c.replicas + max_surge).to_string()),
    ];
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", name_of(&d.metadata))),
            namespace: Some(ns_of(&d.metadata).into()),
            labels: meta.labels.clone(),
            annotations: Some(annotations.into_iter().collect()),
            owner_references: Some(vec![controller_ref("Deployment", &d.metadata)]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: c.spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

/// The ReplicaSets of one Deployment with the replica counts this pass has set.
struct Family {
    sets: Vec<ReplicaSet>,
    replicas: BTreeMap<String, i32>,
    counts: BTreeMap<String, PodCounts>,
}

impl Family {
    fn total(&self) -> i32 {
        self.replicas.values().sum()
    }

    fn want(&self, name: &str) -> i32 {
        self.replicas.get(name).copied().unwrap_or(0)
    }

    fn available(&self, name: &str) -> i32 {
        self.counts.get(name).map_or(0, |c| c.available)
    }
}

/// Scales one Deployment's ReplicaSets, stamping the desired/max replica annotations.
struct Scaler<'a> {
    wc: &'a WorkloadControllers,
    ns: &'a str,
    replicas: i32,
    max_surge: i32,
}

impl Scaler<'_> {
    async fn scale(&self, family: &mut Family, name: &str, to: i32, report: &mut WorkloadReport) -> Result<(), kube::Error> {
        let from = family.want(name);
        if from == to {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {DESIRED_REPLICAS_ANNOTATION: self.replicas.to_string(),
            MAX_REPLICAS_ANNOTATION: (self.replicas + self.max_surge).to_string()}}, "spec": {"replicas": to}});
        let api = self.wc.api::<ReplicaSet>(self.ns);
        let what = format!("scale ReplicaSet {}/{name} {from}->{to}", self.ns);
        if tolerate(api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await, &what, report)?.is_some() {
            family.replicas.insert(name.to_string(), to);
            report.replica_sets_scaled.push(format!("{}/{name} {from}->{to}", self.ns));
        }
        Ok(())
    }

    /// Upstream's `reconcileOldReplicaSets`: first scale away old unhealthy replicas, then old
    /// available ones while at least `replicas - maxUnavailable` stay available.
    async fn scale_down_old(
        &self,
        family: &mut Family,
        new_name: &str,
        olds: &[String],
        max_unavailable: i32,
        report: &mut WorkloadReport,
    ) -> Result<(), kube::Error> {
        let old_total: i32 = olds.iter().map(|n| family.want(n)).sum();
        if old_total == 0 {
            return Ok(());
        }
        let min_available = self.replicas - max_unavailable;
        let new_unavailable = family.want(new_name) - family.available(new_name);
        let max_scaled_down = family.total() - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(());
        }
        let mut oldest_first: Vec<&ReplicaSet> = family
            .sets
            .iter()
            .filter(|rs| olds.iter().any(|o| o == name_of(&rs.metadata)))
            .collect();
        oldest_first.sort_by(|a, b| {
            let created = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(a).cmp(&created(b)).then(name_of(&a.metadata).cmp(name_of(&b.metadata)))
        });
        let order: Vec<String> = oldest_first.iter().map(|rs| name_of(&rs.metadata).to_string()).collect();
        let mut cleaned = 0;
        for name in &order {
            if cleaned >= max_scaled_down {
                break;
            }
            let want = family.want(name);
            let unhealthy = want - family.available(name);
            if want == 0 || unhealthy <= 0 {
                continue;
            }
            let by = unhealthy.min(max_scaled_down - cleaned);
            self.scale(family, name, want - by, report).await?;
            cleaned += by;
        }
        let available: i32 = family.counts.values().map(|c| c.available).sum();
        let can_remove = available - min_available;
        let mut removed = 0;
        for name in &order {
            if removed >= can_remove {
                break;
            }
            let want = family.want(name);
            if want == 0 {
                continue;
            }
            let by = want.min(can_remove - removed);
            self.scale(family, name, want - by, report).await?;
            removed += by;
        }
        Ok(())
    }
}

/// Creates, scales and prunes each Deployment's ReplicaSets.
pub(crate) async fn reconcile(
    wc: &WorkloadControllers,
    deployments: &[Deployment],
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    for d in deployments.iter().filter(|d| !is_deleting(&d.metadata)) {
        let c = match check(d) {
            Ok(c) => c,
            Err(e) => {
                note_invalid(report, e);
                continue;
            }
        };
        let ns = ns_of(&d.metadata);
        let uid = uid_of(&d.metadata);
        let rs_api = wc.api::<ReplicaSet>(ns);
        let mut sets: Vec<ReplicaSet> = replica_sets
            .iter()
            .filter(|rs| ns_of(&rs.metadata) == ns && !is_deleting(&rs.metadata) && controller_uid(&rs.metadata) == Some(uid))
            .cloned()
            .collect();
        for orphan in replica_sets.iter().filter(|rs| {
            ns_of(&rs.metadata) == ns
                && !is_deleting(&rs.metadata)
                && controller_uid(&rs.metadata).is_none()
                && selects(&c.selector, &rs.metadata)
        }) {
            if adopt(&rs_api, &orphan.metadata, controller_ref("Deployment", &d.metadata), report).await? {
                sets.push(orphan.clone());
            }
        }
        if c.spec.paused == Some(true) {
            continue;
        }
        let min_ready = c.spec.min_ready_seconds.unwrap_or(0);
        let mut family = Family {
            replicas: sets.iter().map(|rs| (name_of(&rs.metadata).to_string(), rs_replicas(rs))).collect(),
            counts: sets
                .iter()
                .map(|rs| {
                    (
                        name_of(&rs.metadata).to_string(),
                        count_pods(owned_pods(pods, uid_of(&rs.metadata)), min_ready, now),
                    )
                })
                .collect(),
            sets,
        };
        let wanted = normalized(Some(&c.spec.template));
        let max_surge = match c.strategy {
            Strategy::Rolling { max_surge, .. } => max_surge,
            Strategy::Recreate => 0,
        };
        let new_name = family
            .sets
            .iter()
            .find(|rs| normalized(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted)
            .map(|rs| name_of(&rs.metadata).to_string());
        let old_revision = family
            .sets
            .iter()
            .filter(|rs| Some(name_of(&rs.metadata)) != new_name.as_deref())
            .map(|rs| revision(&rs.metadata))
            .max()
            .unwrap_or(0);
        let new_name = match new_name {
            Some(name) => {
                let current = family
                    .sets
                    .iter()
                    .find(|rs| name_of(&rs.metadata) == name)
                    .map_or(0, |rs| revision(&rs.metadata));
                if current <= old_revision {
                    // A rollback to an older template: that ReplicaSet becomes the newest revision.
                    let patch = json!({"metadata": {"annotations": {REVISION_ANNOTATION: (old_revision + 1).to_string()}}});
                    let what = format!("revision of ReplicaSet {ns}/{name}");
                    if tolerate(
                        rs_api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await,
                        &what,
                        report,
                    )?
                    .is_some()
                    {
                        report
                            .statuses_updated
                            .push(format!("ReplicaSet {ns}/{name} revision {}", old_revision + 1));
                    }
                }
                name
            }
            None => {
                let old_total = family.total();
                let old_active: i32 = family.counts.values().map(|c| c.active).sum();
                let initial = match c.strategy {
                    Strategy::Rolling { max_surge, .. } if old_total > 0 => (c.replicas + max_surge - old_total).clamp(0, c.replicas),
                    Strategy::Rolling { .. } => c.replicas,
                    Strategy::Recreate if old_total == 0 && old_active == 0 => c.replicas,
                    Strategy::Recreate => 0,
                };
                let collisions = d.status.as_ref().and_then(|s| s.collision_count);
                let hash = template_hash(&serde_json::to_value(&c.spec.template).unwrap_or_default(), collisions);
                let rs = new_replica_set(d, &c, &hash, initial, old_revision + 1, max_surge);
                let name = name_of(&rs.metadata).to_string();
                let params = PostParams {
                    field_manager: Some("kube-controller-manager".into()),
                    ..PostParams::default()
                };
                report.writes += 1;
                match rs_api.create(&params, &rs).await {
                    Ok(created) => {
                        report.replica_sets_created.push(format!("{ns}/{name}"));
                        family.replicas.insert(name.clone(), initial);
                        family.counts.insert(name.clone(), PodCounts::default());
                        family.sets.push(created);
                        name
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        // The name is taken: unless it is this Deployment's own ReplicaSet for this template
                        // (seen by the next pass), bump collisionCount so the next hash differs, as upstream.
                        let existing = rs_api.get_opt(&name).await?;
                        let ours = existing.as_ref().is_some_and(|rs| {
                            controller_uid(&rs.metadata) == Some(uid)
                                && normalized(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted
                        });
                        if !ours {
                            let next = collisions.unwrap_or(0) + 1;
                            let api = wc.api::<Deployment>(ns);
                            let patch = Patch::Merge(json!({"status": {"collisionCount": next}}));
                            let what = format!("collisionCount of Deployment {}", key_of(&d.metadata));
                            tolerate(
                                api.patch_status(name_of(&d.metadata), &PatchParams::default(), &patch).await,
                                &what,
                                report,
                            )?;
                        }
                        report.conflicts.push(format!("create ReplicaSet {ns}/{name}: the name is taken"));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let olds: Vec<String> = family
            .sets
            .iter()
            .map(|rs| name_of(&rs.metadata).to_string())
            .filter(|n| *n != new_name)
            .collect();
        let scaler = Scaler {
            wc,
            ns,
            replicas: c.replicas,
            max_surge,
        };
        match c.strategy {
            Strategy::Rolling {
                max_surge,
                max_unavailable,
            } => {
                let current = family.want(&new_name);
                let target = if current > c.replicas {
                    c.replicas
                } else {
                    let room = (c.replicas + max_surge - family.total()).max(0);
                    current + room.min(c.replicas - current)
                };
                scaler.scale(&mut family, &new_name, target, report).await?;
                scaler
                    .scale_down_old(&mut family, &new_name, &olds, max_unavailable, report)
                    .await?;
            }
            Strategy::Recreate => {
                let old_wanted: i32 = olds.iter().map(|n| family.want(n)).sum();
                let old_active: i32 = olds.iter().map(|n| family.counts.get(n).map_or(0, |c| c.active)).sum();
                if old_wanted > 0 {
                    for old in &olds {
                        scaler.scale(&mut family, old, 0, report).await?;
                    }
                } else if old_active == 0 {
                    scaler.scale(&mut family, &new_name, c.replicas, report).await?;
                }
            }
        }
        prune_history(wc, &family, &olds, c.spec.revision_history_limit.unwrap_or(10), ns, report).await?;
        let new_revision = family
            .sets
            .iter()
            .find(|rs| name_of(&rs.metadata) == new_name)
            .map_or(old_revision + 1, |rs| revision(&rs.metadata).max(old_revision + 1));
        if revision(&d.metadata) != new_revision {
            let api = wc.api::<Deployment>(ns);
            let patch = Patch::Merge(json!({"metadata": {"annotations": {REVISION_ANNOTATION: new_revision.to_string()}}}));
            let what = format!("revision of Deployment {}", key_of(&d.metadata));
            if tolerate(
                api.patch(name_of(&d.metadata), &PatchParams::default(), &patch).await,
                &what,
                report,
            )?
            .is_some()
            {
                report
                    .statuses_updated
                    .push(format!("Deployment {} revision {new_revision}", key_of(&d.metadata)));
            }
        }
    }
    Ok(())
}

/// Deletes the oldest old ReplicaSets that have nothing left beyond `revisionHistoryLimit`.
async fn prune_history(
    wc: &WorkloadControllers,
    family: &Family,
    olds: &[String],
    limit: i32,
    ns: &str,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let mut idle: Vec<&ReplicaSet> = family
        .sets
        .iter()
        .filter(|rs| {
            let name = name_of(&rs.metadata);
            olds.iter().any(|o| o == name)
                && family.want(name) == 0
                && family.counts.get(name).is_none_or(|c| c.active == 0)
                && rs.status.as_ref().is_none_or(|s| s.replicas == 0)
        })
        .collect();
    let excess = idle.len().saturating_sub(limit.max(0) as usize);
    idle.sort_by_key(|rs| (revision(&rs.metadata), name_of(&rs.metadata).to_string()));
    let api = wc.api::<ReplicaSet>(ns);
    for rs in idle.into_iter().take(excess) {
        let what = format!("delete old ReplicaSet {}", key_of(&rs.metadata));
        if tolerate(api.delete(name_of(&rs.metadata), &DeleteParams::default()).await, &what, report)?.is_some() {
            report.replica_sets_deleted.push(key_of(&rs.metadata));
        }
    }
    Ok(())
}

/// Writes each Deployment's status from its ReplicaSets and their Pods as they are now.
pub(crate) async fn write_status(
    wc: &WorkloadControllers,
    deployments: &[Deployment],
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: Timestamp,
    report: &mut WorkloadReport,
) -> Result<(), kube::Error> {
    let stamp = k8s_time(now);
    for d in deployments.iter().filter(|d| !is_deleting(&d.metadata)) {
        let Ok(c) = check(d) else { continue };
        let ns = ns_of(&d.metadata);
        let uid = uid_of(&d.metadata);
        let min_ready = c.spec.min_ready_seconds.unwrap_or(0);
        let sets: Vec<&ReplicaSet> = replica_sets
            .iter()
            .filter(|rs| ns_of(&rs.metadata) == ns && controller_uid(&rs.metadata) == Some(uid))
            .collect();
        let wanted = normalized(Some(&c.spec.template));
        let new = sets
            .iter()
            .find(|rs| normalized(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted)
            .copied();
        let mut total = PodCounts::default();
        let mut spec_total = 0;
        for rs in &sets {
            let counts = count_pods(owned_pods(pods, uid_of(&rs.metadata)), min_ready, now);
            total.active += counts.active;
            total.ready += counts.ready;
            total.available += counts.available;
            spec_total += rs_replicas(rs);
        }
        let updated = new.map_or(0, |rs| count_pods(owned_pods(pods, uid_of(&rs.metadata)), min_ready, now).active);
        let old = d.status.clone().unwrap_or_default();
        let mut conditions: Vec<Value> = old
            .conditions
            .as_ref()
            .map(|cs| cs.iter().filter_map(|c| serde_json::to_value(c).ok()).collect())
            .unwrap_or_default();
        let max_unavailable = match c.strategy {
            Strategy::Rolling { max_unavailable, .. } => max_unavailable,
            Strategy::Recreate => 0,
        };
        if total.available >= c.replicas - max_unavailable {
            set_condition(
                &mut conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                &stamp,
                false,
            );
        } else {
            set_condition(
                &mut conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                &stamp,
                false,
            );
        }
        let progressing = conditions.iter().find(|c| c["type"] == "Progressing").cloned();
        let reason_was = progressing
            .as_ref()
            .and_then(|p| p["reason"].as_str().map(str::to_string))
            .unwrap_or_default();
        let progressed = old.replicas.unwrap_or(0) != total.active
            || old.updated_replicas.unwrap_or(0) != updated
            || old.ready_replicas.unwrap_or(0) != total.ready
            || old.available_replicas.unwrap_or(0) != total.available;
        if c.spec.paused == Some(true) {
            set_condition(
                &mut conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                &stamp,
                false,
            );
        } else if reason_was == "DeploymentPaused" {
            set_condition(
                &mut conditions,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                &stamp,
                false,
            );
        } else if let Some(new) = new {
            let new_name = name_of(&new.metadata);
            let complete = updated == c.replicas && total.active == c.replicas && total.available == c.replicas;
            let deadline = SignedDuration::from_secs(i64::from(c.spec.progress_deadline_seconds.unwrap_or(600)));
            let last_update: Option<Timestamp> = progressing
                .as_ref()
                .and_then(|p| p["lastUpdateTime"].as_str())
                .and_then(|t| t.parse().ok());
            if complete {
                let msg = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &msg,
                    &stamp,
                    false,
                );
            } else if report.replica_sets_created.contains(&key_of(&new.metadata)) {
                let msg = format!("Created new replica set \"{new_name}\"");
                set_condition(&mut conditions, "Progressing", "True", "NewReplicaSetCreated", &msg, &stamp, false);
            } else if progressed || progressing.is_none() {
                let msg = format!("ReplicaSet \"{new_name}\" is progressing.");
                set_condition(&mut conditions, "Progressing", "True", "ReplicaSetUpdated", &msg, &stamp, true);
            } else if reason_was != "NewReplicaSetAvailable"
                && reason_was != "ProgressDeadlineExceeded"
                && last_update.is_some_and(|t| t.checked_add(deadline).is_ok_and(|due| due < now))
            {
                let msg = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &msg,
                    &stamp,
                    false,
                );
            }
        }
        let mut status = json!({
            "observedGeneration": d.metadata.generation, "replicas": total.active, "updatedReplicas": updated,
            "readyReplicas": total.ready, "availableReplicas": total.available,
            "unavailableReplicas": (spec_total - total.available).max(0), "conditions": conditions,
        });
        if let Some(n) = old.collision_count {
            status["collisionCount"] = json!(n);
        }
        let before = serde_json::to_value(&old).unwrap_or_default();
        let unchanged = status
            .as_object()
            .is_some_and(|m| m.iter().all(|(k, v)| before.get(k).unwrap_or(&json!(0)) == v));
        if unchanged {
            continue;
        }
        let api = wc.api::<Deployment>(ns);
        let what = format!("status of Deployment {}", key_of(&d.metadata));
        let patch = Patch::Merge(json!({"status": status}));
        if tolerate(
            api.patch_status(name_of(&d.metadata), &PatchParams::default(), &patch).await,
            &what,
            report,
        )?
        .is_some()
        {
            report.statuses_updated.push(format!("Deployment {}", key_of(&d.metadata)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_parameters_round_like_upstream() {
        let spec = |v: Value| -> DeploymentSpec { serde_json::from_value(v).expect("spec") };
        let base = json!({"selector": {"matchLabels": {"a": "b"}}, "template": {}});
        assert_eq!(
            strategy(&spec(base.clone()), 4),
            Ok(Strategy::Rolling {
                max_surge: 1,
                max_unavailable: 1
            })
        );
        assert_eq!(
            strategy(&spec(base.clone()), 3),
            Ok(Strategy::Rolling {
                max_surge: 1,
                max_unavailable: 0
            }),
            "surge rounds up, unavailable rounds down"
        );
        let mut zero = base.clone();
        zero["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
        assert_eq!(
            strategy(&spec(zero), 4),
            Ok(Strategy::Rolling {
                max_surge: 0,
                max_unavailable: 1
            })
        );
        let mut bad = base.clone();
        bad["strategy"] = json!({"type": "Sideways"});
        assert!(strategy(&spec(bad), 4).unwrap_err().contains("spec.strategy.type"));
        let mut recreate = base;
        recreate["strategy"] = json!({"type": "Recreate"});
        assert_eq!(strategy(&spec(recreate), 4), Ok(Strategy::Recreate));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let d: PodTemplateSpec = serde_json::from_value(
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .expect("t");
        let rs: PodTemplateSpec = serde_json::from_value(
            json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .expect("t");
        assert_eq!(normalized(Some(&d)), normalized(Some(&rs)));
        let other: PodTemplateSpec = serde_json::from_value(
            json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}),
        )
        .expect("t");
        assert_ne!(normalized(Some(&d)), normalized(Some(&other)));
    }
}
