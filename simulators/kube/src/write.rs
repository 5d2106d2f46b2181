//! Writes: create, update, patch (merge, JSON, strategic, apply) and delete, with the checks
//! kube-apiserver makes before anything is stored. A rejected request never changes state.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::apply;
use crate::crd;
use crate::error::{ApiError, ApiResult, Cause};
use crate::patch::{self, BuiltinKind, PatchType};
use crate::resources::{Origin, ResourceDef};
use crate::store::{State, ensure_meta, meta_str};

/// Who writes, and how: the pieces of a request a write needs.
#[derive(Debug, Clone)]
pub struct WriteContext<'a> {
    /// The resource.
    pub def: &'a ResourceDef,
    /// The version addressed by the URL.
    pub version: &'a str,
    /// Namespace from the path ("" when cluster-scoped).
    pub ns: &'a str,
    /// `fieldManager` (or derived from the User-Agent).
    pub manager: String,
    /// `fieldValidation=Strict`.
    pub strict: bool,
}

impl WriteContext<'_> {
    fn api_version(&self) -> String {
        self.def.api_version(self.version)
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_dns_subdomain(name)
}

fn invalid(ctx: &WriteContext<'_>, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid(&ctx.def.kind, &ctx.def.group, name, causes)
}

/// Checks apiVersion/kind/namespace of a body against the URL and fills what is implied.
fn check_identity(ctx: &WriteContext<'_>, obj: &mut Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object of kind {}, found {}",
            ctx.def.kind,
            type_name(obj)
        )));
    }
    let expected = ctx.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != expected => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
        _ => obj["apiVersion"] = json!(expected),
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k != ctx.def.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ctx.def.kind
            )));
        }
        _ => obj["kind"] = json!(ctx.def.kind),
    }
    if obj.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApiError::bad_request(format!(
            "metadata must be an object, found {}",
            type_name(&obj["metadata"])
        )));
    }
    let meta = ensure_meta(obj);
    if ctx.def.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ctx.ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(ctx.ns));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validates, prunes and defaults an object about to be stored (create or update).
fn admit(state: &State, ctx: &WriteContext<'_>, obj: &mut Value, creating: bool) -> ApiResult<()> {
    let name = meta_str(obj, "name").to_string();
    let name_ok = if ctx.def.plural == "namespaces" {
        is_dns_label(&name)
    } else {
        is_dns_subdomain(&name)
    };
    if !name_ok {
        let what = if ctx.def.plural == "namespaces" {
            "RFC 1123 label"
        } else {
            "RFC 1123 subdomain"
        };
        return Err(invalid(
            ctx,
            &name,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {name:?}: a lowercase {what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                ),
                field: "metadata.name".into(),
            }],
        ));
    }
    for field in ["labels", "annotations"] {
        if let Some(map) = obj.pointer(&format!("/metadata/{field}")) {
            let ok = map.as_object().is_some_and(|m| m.values().all(Value::is_string));
            if !ok {
                return Err(ApiError::bad_request(format!("metadata.{field} must be a map of string to string")));
            }
        }
    }
    if ctx.def.origin == Origin::Crd
        && let Some(schema) = ctx.def.version(ctx.version).and_then(|v| v.schema.as_ref())
    {
        let pruned = schema.prune(obj);
        if ctx.strict && !pruned.is_empty() {
            let list: Vec<String> = pruned.iter().map(|p| format!("unknown field {p:?}")).collect();
            return Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", "))));
        }
        schema.default(obj);
        let errors = schema.validate(obj);
        if !errors.is_empty() {
            let causes = errors
                .iter()
                .map(|e| Cause {
                    reason: e.reason().into(),
                    message: e.body(),
                    field: e.field.clone(),
                })
                .collect();
            return Err(invalid(ctx, &name, causes));
        }
    }
    if ctx.def.group == "apiextensions.k8s.io" && ctx.def.plural == "customresourcedefinitions" {
        let served = crd::resource_from_crd(obj)?;
        if creating
            && let Some(existing) = state.tables.get(&served.key())
            && existing.def.origin == Origin::Builtin
        {
            return Err(invalid(
                ctx,
                &name,
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {:?}: the resource is served by the server itself", served.plural),
                    field: "spec.names.plural".into(),
                }],
            ));
        }
        obj["status"] = crd::established_status(obj, &state.now());
    }
    Ok(())
}

/// Kinds whose create resets status (kube-apiserver's PrepareForCreate), with the status they start with.
fn initial_status(def: &ResourceDef) -> Option<Value> {
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "nodes") => None,
        ("", "namespaces") => Some(json!({"phase": "Active"})),
        ("", "pods") => Some(json!({"phase": "Pending"})),
        ("", "persistentvolumeclaims") => Some(json!({"phase": "Pending"})),
        ("", "persistentvolumes") => Some(json!({"phase": "Pending"})),
        ("apiextensions.k8s.io", _) => None,
        _ if def.status_subresource => Some(Value::Null),
        _ => None,
    }
}

fn set_status(obj: &mut Value, status: Option<&Value>) {
    if let Some(map) = obj.as_object_mut() {
        match status {
            Some(s) if !s.is_null() => {
                map.insert("status".into(), s.clone());
            }
            _ => {
                map.remove("status");
            }
        }
    }
}

fn list_keys_for(def: &ResourceDef, version: &str) -> impl Fn(&str) -> Option<Vec<String>> + use<> {
    let schema = def.version(version).and_then(|v| v.schema.clone());
    let group = def.group.clone();
    let kind = def.kind.clone();
    move |path: &str| patch::builtin_list_keys(&group, &kind, path).or_else(|| schema.as_ref().and_then(|s| s.list_map_keys(path)))
}

/// Creates an object from a POST body (or a create-on-apply).
pub fn create(state: &mut State, ctx: &WriteContext<'_>, mut obj: Value) -> ApiResult<Arc<Value>> {
    check_identity(ctx, &mut obj)?;
    let generate = obj.pointer("/metadata/generateName").and_then(Value::as_str).map(str::to_string);
    if meta_str(&obj, "name").is_empty() {
        match generate {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", state.random_suffix());
                ensure_meta(&mut obj).insert("name".into(), json!(name));
            }
            _ => {
                return Err(invalid(
                    ctx,
                    "",
                    vec![Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value: name or generateName is required".into(),
                        field: "metadata.name".into(),
                    }],
                ));
            }
        }
    }
    if let Some(status) = initial_status(ctx.def) {
        set_status(&mut obj, Some(&status));
    }
    if ctx.def.plural == "namespaces" && ctx.def.group.is_empty() {
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
        let name = meta_str(&obj, "name").to_string();
        let meta = ensure_meta(&mut obj);
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    admit(state, ctx, &mut obj, true)?;
    // Without a manager (create-on-apply), the managedFields already in the object are kept.
    if !ctx.manager.is_empty() {
        let keys = list_keys_for(ctx.def, ctx.version);
        apply::record_update(
            None,
            &mut obj,
            &ctx.manager,
            "Update",
            &ctx.api_version(),
            state.clock.now(),
            None,
            &keys,
        );
    }
    to_storage_version(ctx.def, &mut obj);
    let key = ctx.def.key();
    let stored = state.create(&key, obj)?;
    after_write(state, ctx.def, &stored);
    Ok(stored)
}

/// Registers the resource of a newly stored or changed CRD.
fn after_write(state: &mut State, def: &ResourceDef, stored: &Value) {
    if def.group == "apiextensions.k8s.io"
        && def.plural == "customresourcedefinitions"
        && stored.pointer("/metadata/deletionTimestamp").is_none()
        && let Ok(served) = crd::resource_from_crd(stored)
    {
        state.register(served);
    }
}

/// Replaces an object: main resource (`sub` None) or `status`. `new` is the full desired object.
pub fn update(state: &mut State, ctx: &WriteContext<'_>, name: &str, mut new: Value, sub: Option<&str>) -> ApiResult<Arc<Value>> {
    check_identity(ctx, &mut new)?;
    let body_name = meta_str(&new, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    ensure_meta(&mut new).insert("name".into(), json!(name));
    let key = ctx.def.key();
    let old = state.get(&key, ctx.ns, name)?;
    if ctx.def.status_subresource {
        match sub {
            None => {
                let old_status = old.get("status").cloned();
                set_status(&mut new, old_status.as_ref());
            }
            Some(sub) => {
                // A status write changes status only, a namespace's finalize write only
                // spec.finalizers; metadata and the rest stay as stored.
                let status = new.get("status").cloned();
                let finalizers = new.pointer("/spec/finalizers").cloned();
                let rv = new.pointer("/metadata/resourceVersion").cloned();
                let mut merged = (*old).clone();
                if sub == "finalize" {
                    merged["spec"] = json!({"finalizers": finalizers.unwrap_or(json!([]))});
                } else {
                    set_status(&mut merged, status.as_ref());
                }
                if let Some(rv) = rv {
                    ensure_meta(&mut merged).insert("resourceVersion".into(), rv);
                }
                new = merged;
            }
        }
    }
    if ctx.def.plural == "namespaces" && ctx.def.group.is_empty() && sub != Some("finalize") {
        new["spec"] = old.get("spec").cloned().unwrap_or(json!({}));
    }
    admit(state, ctx, &mut new, false)?;
    if !ctx.manager.is_empty() {
        let keys = list_keys_for(ctx.def, ctx.version);
        apply::record_update(
            Some(&old),
            &mut new,
            &ctx.manager,
            "Update",
            &ctx.api_version(),
            state.clock.now(),
            sub,
            &keys,
        );
    }
    to_storage_version(ctx.def, &mut new);
    let stored = state.update(&key, ctx.ns, name, new)?;
    after_write(state, ctx.def, &stored);
    Ok(stored)
}

/// Objects are stored at the storage version; versions differ only in `apiVersion`
/// (CRD conversion strategy `None`).
fn to_storage_version(def: &ResourceDef, obj: &mut Value) {
    obj["apiVersion"] = json!(def.api_version(def.storage_version()));
}

/// The object as seen through the version a request addressed.
fn at_version(ctx: &WriteContext<'_>, obj: &Value) -> Value {
    let mut copy = obj.clone();
    copy["apiVersion"] = json!(ctx.api_version());
    copy
}

/// The patch a client sent.
#[derive(Debug, Clone)]
pub struct PatchRequest<'a> {
    /// Which patch format.
    pub patch_type: PatchType,
    /// The raw body.
    pub body: &'a [u8],
    /// `force=true` (apply only).
    pub force: bool,
}

fn parse_patch(req: &PatchRequest<'_>) -> ApiResult<Value> {
    if req.body.is_empty() {
        return Err(ApiError::bad_request("the patch body is empty"));
    }
    if req.patch_type == PatchType::ApplyPatch {
        serde_yaml::from_slice(req.body).map_err(|e| ApiError::bad_request(format!("error decoding YAML apply patch: {e}")))
    } else {
        serde_json::from_slice(req.body).map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))
    }
}

fn patch_error(e: patch::PatchError) -> ApiError {
    match e.http_status() {
        415 => ApiError::unsupported_media_type("application/strategic-merge-patch+json", PATCH_TYPES_CR),
        422 => ApiError {
            code: 422,
            reason: "Invalid",
            message: e.to_string(),
            details: None,
        },
        _ => ApiError::bad_request(e.to_string()),
    }
}

/// The patch types custom resources accept: no strategic merge patch.
pub const PATCH_TYPES_CR: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// Applies a patch to an object (`sub` None or `status`), creating it for apply patches.
pub fn patch_object(
    state: &mut State,
    ctx: &WriteContext<'_>,
    name: &str,
    req: &PatchRequest<'_>,
    sub: Option<&str>,
) -> ApiResult<Arc<Value>> {
    let key = ctx.def.key();
    let patch_doc = parse_patch(req)?;
    let current = state.get(&key, ctx.ns, name);
    if req.patch_type == PatchType::ApplyPatch {
        if ctx.manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH requests with the apply patch type require a fieldManager",
            ));
        }
        let mut applied = patch_doc;
        check_identity(ctx, &mut applied)?;
        let keys = list_keys_for(ctx.def, ctx.version);
        let live = current.as_ref().ok().map(|v| at_version(ctx, v));
        let outcome = apply::apply(
            live.as_ref(),
            &applied,
            &ctx.manager,
            req.force,
            &ctx.api_version(),
            state.clock.now(),
            &keys,
        )
        .map_err(|e| match e {
            apply::ApplyError::Conflict { conflicts } => {
                let causes = conflicts
                    .iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        message: c.cause_message(),
                        field: c.field.clone(),
                    })
                    .collect();
                ApiError::apply_conflict(apply::ApplyError::Conflict { conflicts }.to_string(), causes)
            }
            other => ApiError::bad_request(other.to_string()),
        })?;
        let mut obj = outcome.object;
        ensure_meta(&mut obj).insert("name".into(), json!(name));
        return match current {
            Ok(_) => {
                // The apply engine already recorded managedFields; keep them through the update.
                let no_manager = WriteContext {
                    manager: String::new(),
                    ..ctx.clone()
                };
                update(state, &no_manager, name, obj, sub)
            }
            Err(_) => {
                // One create (one ADDED event) carrying the managedFields the apply recorded.
                let no_manager = WriteContext {
                    manager: String::new(),
                    ..ctx.clone()
                };
                create(state, &no_manager, obj)
            }
        };
    }
    let current = at_version(ctx, current?.as_ref());
    let patched = match req.patch_type {
        PatchType::MergePatch => patch::json_merge_patch(&current, &patch_doc),
        PatchType::JsonPatch => patch::json_patch(&current, &patch_doc).map_err(patch_error)?,
        PatchType::StrategicMergePatch => {
            if ctx.def.origin == Origin::Crd || !patch::supports_strategic_merge(&ctx.def.group, &ctx.def.kind) {
                return Err(ApiError::unsupported_media_type(
                    "application/strategic-merge-patch+json",
                    PATCH_TYPES_CR,
                ));
            }
            patch::strategic_merge_patch(&current, &patch_doc, &BuiltinKind::new(ctx.def.group.clone(), ctx.def.kind.clone()))
                .map_err(patch_error)?
        }
        PatchType::ApplyPatch => return Err(ApiError::internal("apply patches are handled before this point")),
    };
    let mut patched = patched;
    // Without a resourceVersion in the patch itself, the patch applies to what is stored now.
    let patch_rv = patch_doc.pointer("/metadata/resourceVersion").is_some()
        || patch_doc.as_array().is_some_and(|ops| {
            ops.iter()
                .any(|op| op.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion"))
        });
    if !patch_rv {
        ensure_meta(&mut patched).insert("resourceVersion".into(), json!(meta_str(&current, "resourceVersion")));
    }
    update(state, ctx, name, patched, sub)
}

/// Builds the Status kube-apiserver returns for a successful delete of a built-in.
pub fn delete_status(def: &ResourceDef, obj: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": meta_str(obj, "name"), "group": def.group, "kind": def.plural, "uid": meta_str(obj, "uid")},
    })
}
