//! CustomResourceDefinitions: checking one, turning it into a served resource, and its status.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, Cause};
use crate::resources::{Origin, ResourceDef, ScaleSpec, VersionDef};
use crate::validation::CrdSchema;

fn cause(field: &str, message: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message,
        field: field.into(),
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value".into(),
        field: field.into(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Checks a CRD and builds the resource it defines; a 422 names every wrong field.
pub fn resource_from_crd(crd: &Value) -> ApiResult<ResourceDef> {
    let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let mut causes = Vec::new();
    let group = spec.get("group").and_then(Value::as_str).unwrap_or("");
    let plural = spec.pointer("/names/plural").and_then(Value::as_str).unwrap_or("");
    let kind = spec.pointer("/names/kind").and_then(Value::as_str).unwrap_or("");
    if group.is_empty() {
        causes.push(required("spec.group"));
    } else if !group.contains('.') {
        causes.push(cause(
            "spec.group",
            format!("Invalid value: {group:?}: should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(required("spec.names.plural"));
    }
    if kind.is_empty() {
        causes.push(required("spec.names.kind"));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(cause(
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let scope = spec.get("scope").and_then(Value::as_str).unwrap_or("");
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(Cause {
            reason: "FieldValueNotSupported".into(),
            message: format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
            field: "spec.scope".into(),
        });
    }
    let raw_versions = spec.get("versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if raw_versions.is_empty() {
        causes.push(required("spec.versions"));
    }
    let storage_count = raw_versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if !raw_versions.is_empty() && storage_count != 1 {
        causes.push(cause(
            "spec.versions",
            format!(
                "Invalid value: {:?}: must have exactly one version marked as storage version",
                raw_versions
                    .iter()
                    .filter_map(|v| v.get("name").and_then(Value::as_str))
                    .collect::<Vec<_>>()
            ),
        ));
    }
    let mut versions: Vec<(bool, VersionDef)> = Vec::new();
    let mut status = false;
    let mut scale = None;
    for (i, v) in raw_versions.iter().enumerate() {
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
        if vname.is_empty() {
            causes.push(required(&format!("spec.versions[{i}].name")));
        }
        let raw_schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let schema = match &raw_schema {
            Some(s) => match CrdSchema::compile_at(s, &format!("spec.versions[{i}].schema.openAPIV3Schema")) {
                Ok(s) => Some(s),
                Err(e) => {
                    for fe in e.field_errors() {
                        causes.push(Cause {
                            reason: fe.reason().into(),
                            message: fe.body(),
                            field: fe.field.clone(),
                        });
                    }
                    None
                }
            },
            None => {
                causes.push(required(&format!("spec.versions[{i}].schema.openAPIV3Schema")));
                None
            }
        };
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        if v.pointer("/subresources/status").is_some() {
            status = true;
        }
        if let Some(s) = v.pointer("/subresources/scale") {
            scale = Some(ScaleSpec {
                spec_replicas_path: s.get("specReplicasPath").and_then(Value::as_str).unwrap_or(".spec.replicas").into(),
                status_replicas_path: s
                    .get("statusReplicasPath")
                    .and_then(Value::as_str)
                    .unwrap_or(".status.replicas")
                    .into(),
                label_selector_path: s.get("labelSelectorPath").and_then(Value::as_str).map(str::to_string),
            });
        }
        let printer_columns = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let storage = v.get("storage").and_then(Value::as_bool) == Some(true);
        versions.push((
            storage,
            VersionDef {
                name: vname.to_string(),
                printer_columns,
                schema,
                raw_schema,
            },
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes));
    }
    // Storage version first: it is the preferred version in discovery.
    versions.sort_by_key(|(storage, _)| !*storage);
    let names = spec.get("names").cloned().unwrap_or(Value::Null);
    Ok(ResourceDef {
        group: group.to_string(),
        versions: versions.into_iter().map(|(_, v)| v).collect(),
        plural: plural.to_string(),
        singular: names
            .get("singular")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind: kind.to_string(),
        list_kind: names
            .get("listKind")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List")),
        namespaced: scope == "Namespaced",
        short_names: strings(names.get("shortNames")),
        categories: strings(names.get("categories")),
        status_subresource: status,
        scale,
        tracks_generation: true,
        field_labels: Vec::new(),
        origin: Origin::Crd,
    })
}

/// The status kube-apiserver gives an accepted CRD: names accepted, established.
pub fn established_status(crd: &Value, now: &str) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "storedVersions": stored,
    })
}
