//! Steps about where the backups live and what they hold: the management cluster's bucket on
//! MinIO in a container or on an external S3 endpoint (instead of the embedded store), and the
//! verdict that every object a backup holds is back in the rebuilt management cluster.

use std::collections::BTreeMap;

use cucumber::{given, then};
use drdrill_velero_sim::format::{BackupItem, read_backup_tarball};
use drdrill_velero_sim::s3::{ContainerOptions, Credentials, ExternalOptions, S3Backend, S3Server, S3ServerConfig};
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use super::DrillWorld;
use crate::world::{BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY};

#[given("the management cluster's bucket is on MinIO in a container")]
async fn bucket_in_container(w: &mut DrillWorld) {
    // The official MinIO image unless DRDRILL_S3_IMAGE / DRDRILL_S3_FLAVOUR say otherwise (CI
    // runs the locally built SeaweedFS image: no registry is reachable there).
    let options = ContainerOptions::minio()
        .with_env_overrides()
        .unwrap_or_else(|e| panic!("the container image settings: {e}"));
    w.backend = Some(S3Backend::Container(options));
}

#[given("the management cluster's bucket is on an external S3 endpoint")]
async fn bucket_external(w: &mut DrillWorld) {
    // A separate S3 service the world does not own, reached only by URL and a credentials file
    // (the runbook's format), as a site's own MinIO or a cloud endpoint would be.
    let server = S3Server::start(S3ServerConfig::new(Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY)).with_bucket(BUCKET))
        .await
        .unwrap_or_else(|e| panic!("the external S3 service could not start: {e}"));
    let creds = w.operator.home().join("external-s3-credentials");
    std::fs::write(
        &creds,
        format!("[default]\naws_access_key_id={S3_ACCESS_KEY}\naws_secret_access_key={S3_SECRET_KEY}\n"),
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", creds.display()));
    w.backend = Some(S3Backend::External(
        ExternalOptions::new(server.endpoint()).with_credentials_file(&creds),
    ));
    w.external_s3 = Some(server);
}

#[then(expr = "the bucket is served by {string}")]
async fn bucket_served_by(w: &mut DrillWorld, kind: String) {
    let s3 = &w.world().s3;
    let actual = match s3.backend() {
        S3Backend::Embedded => "the embedded store".to_string(),
        S3Backend::Container(o) => format!("a container ({})", o.descriptor()),
        S3Backend::External(_) => "an external endpoint".to_string(),
    };
    let expected = match kind.as_str() {
        "the embedded store" => matches!(s3.backend(), S3Backend::Embedded),
        "a container" => matches!(s3.backend(), S3Backend::Container(_)),
        "an external endpoint" => matches!(s3.backend(), S3Backend::External(_)),
        other => panic!("unknown store kind {other:?}: expected \"the embedded store\", \"a container\" or \"an external endpoint\""),
    };
    assert!(
        expected,
        "the bucket {} at {} is served by {actual}, not {kind}",
        s3.bucket(),
        s3.endpoint()
    );
    super::note(&format!("      bucket {} at {}: {actual}", s3.bucket(), s3.endpoint()));
}

/// What a restore may change on an object it brings back: the fields Velero resets or adds
/// (resourceVersion, uid, creationTimestamp, managedFields, ownerReferences, its own labels), and
/// the server fills in; everything else of the backed-up object must be there, equal.
fn restore_may_change(path: &[&str]) -> bool {
    matches!(
        path,
        [
            "metadata",
            "resourceVersion" | "uid" | "creationTimestamp" | "managedFields" | "ownerReferences" | "generation" | "selfLink" | "finalizers"
        ]
            | ["status", ..]
            // The runbook's unpause script flips this after the restore.
            | ["spec", "paused"]
    )
}

/// The first difference of `backed_up` from `live`: a field of the backup that is missing or
/// different in the live object (extra live fields are fine: defaults, labels the restore adds).
fn first_difference(backed_up: &Value, live: &Value, path: &mut Vec<String>) -> Option<String> {
    let here: Vec<&str> = path.iter().map(String::as_str).collect();
    if restore_may_change(&here) {
        return None;
    }
    match (backed_up, live) {
        (Value::Object(b), Value::Object(l)) => {
            for (k, bv) in b {
                path.push(k.clone());
                let found = match l.get(k) {
                    Some(lv) => first_difference(bv, lv, path),
                    None if bv.is_null() => None,
                    None => {
                        let p: Vec<&str> = path.iter().map(String::as_str).collect();
                        (!restore_may_change(&p)).then(|| format!("{} is missing (backed up: {bv})", path.join(".")))
                    }
                };
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        _ if backed_up == live => None,
        _ => Some(format!("{}: backed up {backed_up}, live {live}", path.join("."))),
    }
}

#[then(expr = "every object of backup {string} is back in the management cluster")]
async fn every_object_restored(w: &mut DrillWorld, backup: String) {
    let s3 = &w.world().s3;
    let store = s3
        .store()
        .unwrap_or_else(|e| panic!("the bucket {} at {}: {e}", s3.bucket(), s3.endpoint()));
    let key = store.layout().backup_contents_key(&backup);
    let bytes = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("download {key} from the bucket {}: {e}", s3.bucket()));
    let items = read_backup_tarball(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert!(!items.is_empty(), "{key} holds no objects");
    let client = w.world().mgmt_client().expect("the management cluster");
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .unwrap_or_else(|e| panic!("discovery of the management cluster: {e}"));
    let mut resources: BTreeMap<String, ApiResource> = BTreeMap::new();
    for group in discovery.groups() {
        for (resource, _) in group.recommended_resources() {
            let name = if resource.group.is_empty() {
                resource.plural.clone()
            } else {
                format!("{}.{}", resource.plural, resource.group)
            };
            resources.insert(name, resource);
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for BackupItem {
        group_resource,
        namespace,
        name,
        object,
    } in &items
    {
        let Some(resource) = resources.get(group_resource) else {
            problems.push(format!(
                "{group_resource} {name}: the management cluster does not serve {group_resource}"
            ));
            continue;
        };
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
            None => Api::all_with(client.clone(), resource),
        };
        let at = format!(
            "{group_resource} {}{name}",
            namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default()
        );
        match api.get_opt(name).await {
            Ok(Some(live)) => {
                let live = serde_json::to_value(&live).unwrap_or_else(|e| panic!("{at}: {e}"));
                if let Some(d) = first_difference(object, &live, &mut Vec::new()) {
                    problems.push(format!("{at}: {d}"));
                }
                checked += 1;
            }
            Ok(None) => problems.push(format!("{at}: not found")),
            Err(e) => problems.push(format!("{at}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} objects of backup {backup} are not back as backed up:\n  {}",
        problems.len(),
        items.len(),
        problems.join("\n  ")
    );
    super::note(&format!(
        "      {checked} objects of backup {backup} are back, every backed-up field equal"
    ));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn differences_name_the_field_and_ignore_what_a_restore_resets() {
        let backed_up = json!({
            "metadata": {"name": "c", "uid": "1", "resourceVersion": "9", "labels": {"a": "1"}},
            "spec": {"paused": false, "replicas": 3, "template": {"x": [1, 2]}},
            "status": {"phase": "Provisioned"},
        });
        let live = json!({
            "metadata": {"name": "c", "uid": "2", "resourceVersion": "1", "labels": {"a": "1", "velero.io/restore-name": "r"}},
            "spec": {"paused": true, "replicas": 3, "template": {"x": [1, 2]}, "defaulted": true},
        });
        assert_eq!(first_difference(&backed_up, &live, &mut Vec::new()), None);
        let mut changed = live.clone();
        changed["spec"]["replicas"] = json!(4);
        assert_eq!(
            first_difference(&backed_up, &changed, &mut Vec::new()).as_deref(),
            Some("spec.replicas: backed up 3, live 4")
        );
        let mut missing = live.clone();
        missing["metadata"]["labels"].as_object_mut().map(|l| l.remove("a"));
        assert_eq!(
            first_difference(&backed_up, &missing, &mut Vec::new()).as_deref(),
            Some("metadata.labels.a is missing (backed up: \"1\")")
        );
        let mut list = live;
        list["spec"]["template"]["x"] = json!([2, 1]);
        assert!(first_difference(&backed_up, &list, &mut Vec::new()).is_some_and(|d| d.starts_with("spec.template.x")));
    }
}
