//! Resource requests: dispatch by method and path, reads, lists with paging, scale, eviction.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::gc::{DeleteOptions, Deleted, Propagation};
use crate::http::{ApiRequest, Body, Output, bytes_response, json_response};
use crate::patch::PatchType;
use crate::resources::{Origin, ResourceDef};
use crate::routes::ResourcePath;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::{State, ensure_meta, meta_str};
use crate::table::{IncludeObject, PrinterColumn, TableColumns, build_table};
use crate::write::{self, PatchRequest, WriteContext};

type Response = http::Response<Body>;

/// Serves a request addressed to a resource.
pub async fn serve(shared: &Arc<Shared>, path: ResourcePath, req: ApiRequest) -> ApiResult<Response> {
    let def = shared
        .state()
        .find(&path.group, &path.version, &path.resource)
        .ok_or_else(ApiError::no_route)?;
    if path.namespace.is_some() && !def.namespaced {
        return Err(ApiError::no_route());
    }
    if let Some(sub) = &path.subresource {
        let known = (sub == "status" && def.status_subresource)
            || (sub == "scale" && def.scale.is_some())
            || (sub == "eviction" && def.group.is_empty() && def.plural == "pods")
            || (sub == "finalize" && def.group.is_empty() && def.plural == "namespaces");
        if !known {
            return Err(ApiError::no_route());
        }
    }
    if req.param("dryRun").is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::bad_request(
            "dryRun is not supported by the drdrill API server: the request was not carried out",
        ));
    }
    let ns = path.namespace.clone().unwrap_or_default();
    let is_watch = req.flag("watch");
    match (&req.method, &path.name) {
        (&Method::GET, None) if is_watch => crate::watch::serve(shared.clone(), def, path, req),
        (&Method::GET, None) => list(shared, &def, &path, &req),
        (&Method::GET, Some(name)) => {
            let obj = shared.state().get(&def.key(), &ns, name)?;
            if path.subresource.as_deref() == Some("scale") {
                return Ok(json_response(StatusCode::OK, &to_scale(&def, &obj)?));
            }
            respond_one(shared, &def, &path, &req, &obj, StatusCode::OK)
        }
        (&Method::POST, None) => {
            if def.namespaced && path.namespace.is_none() {
                return Err(ApiError::method_not_allowed("POST", &def.plural));
            }
            let body = req.json_body()?;
            let ctx = context(&def, &path, &req);
            let stored = write::create(&mut shared.state(), &ctx, body)?;
            respond_one(shared, &def, &path, &req, &stored, StatusCode::CREATED)
        }
        (&Method::POST, Some(name)) if path.subresource.as_deref() == Some("eviction") => evict(shared, &def, &ns, name, &req),
        (&Method::PUT, Some(name)) => {
            let body = req.json_body()?;
            let ctx = context(&def, &path, &req);
            if path.subresource.as_deref() == Some("scale") {
                return scale_write(shared, &def, &ctx, name, |_| Ok(body));
            }
            let stored = write::update(&mut shared.state(), &ctx, name, body, path.subresource.as_deref())?;
            respond_one(shared, &def, &path, &req, &stored, StatusCode::OK)
        }
        (&Method::PATCH, Some(name)) => {
            // Like kube-apiserver, the patch type is checked before anything else (name, body,
            // stored object); custom resources take no strategic merge patch, subresources included.
            let accepted: &[&str] = match def.origin {
                Origin::Crd => write::PATCH_TYPES_CR,
                Origin::Builtin => &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/strategic-merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            };
            let patch_type = PatchType::from_content_type(&req.content_type)
                .filter(|t| *t != PatchType::StrategicMergePatch || def.origin != Origin::Crd)
                .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type, accepted))?;
            let ctx = context(&def, &path, &req);
            let preq = PatchRequest {
                patch_type,
                body: &req.body,
                force: req.flag("force"),
            };
            if path.subresource.as_deref() == Some("scale") {
                return scale_write(shared, &def, &ctx, name, |scale| patch_scale(scale, &preq));
            }
            let existed = shared.state().get(&def.key(), &ns, name).is_ok();
            let stored = write::patch_object(&mut shared.state(), &ctx, name, &preq, path.subresource.as_deref())?;
            let code = if existed { StatusCode::OK } else { StatusCode::CREATED };
            respond_one(shared, &def, &path, &req, &stored, code)
        }
        (&Method::DELETE, Some(name)) if path.subresource.is_none() => {
            let opts = delete_options(&req)?;
            let outcome = shared.state().delete(&def.key(), &ns, name, &opts)?;
            match outcome {
                Deleted::Gone(obj) if def.origin == Origin::Builtin => Ok(json_response(StatusCode::OK, &write::delete_status(&def, &obj))),
                Deleted::Gone(obj) | Deleted::Terminating(obj) => respond_one(shared, &def, &path, &req, &obj, StatusCode::OK),
            }
        }
        (&Method::DELETE, None) => delete_collection(shared, &def, &path, &req),
        (m, _) => Err(ApiError::method_not_allowed(m.as_str(), &def.plural)),
    }
}

fn context<'a>(def: &'a ResourceDef, path: &'a ResourcePath, req: &ApiRequest) -> WriteContext<'a> {
    let manager = req.param("fieldManager").map(str::to_string).unwrap_or_else(|| {
        let agent = req.user_agent.split('/').next().unwrap_or("").trim();
        agent.chars().take(128).collect()
    });
    WriteContext {
        def,
        version: &path.version,
        ns: path.namespace.as_deref().unwrap_or(""),
        manager,
        strict: req.param("fieldValidation") == Some("Strict"),
    }
}

/// Sets `apiVersion` to the version the client addressed (CRDs may serve several).
fn present(def: &ResourceDef, version: &str, obj: &Arc<Value>) -> Arc<Value> {
    let api_version = def.api_version(version);
    if obj.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
        return obj.clone();
    }
    let mut copy = (**obj).clone();
    copy["apiVersion"] = json!(api_version);
    Arc::new(copy)
}

fn respond_one(
    shared: &Shared,
    def: &ResourceDef,
    path: &ResourcePath,
    req: &ApiRequest,
    obj: &Arc<Value>,
    code: StatusCode,
) -> ApiResult<Response> {
    let obj = present(def, &path.version, obj);
    match req.output {
        Output::Json => Ok(json_response(code, &obj)),
        Output::Metadata => Ok(json_response(code, &partial_metadata(&obj))),
        Output::Table => {
            let now = shared.options.clock.now();
            let table = table_for(
                def,
                &path.version,
                &[obj.as_ref()],
                req,
                json!({"resourceVersion": meta_str(&obj, "resourceVersion")}),
                now,
            )?;
            Ok(json_response(code, &table))
        }
    }
}

fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

/// Builds a Table for objects of a resource.
pub fn table_for(
    def: &ResourceDef,
    version: &str,
    objects: &[&Value],
    req: &ApiRequest,
    list_meta: Value,
    now: jiff::Timestamp,
) -> ApiResult<Value> {
    let include =
        IncludeObject::parse(req.param("includeObject").unwrap_or("Metadata")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let custom: Vec<PrinterColumn>;
    let columns = match def.origin {
        Origin::Builtin => TableColumns::Builtin {
            group: &def.group,
            resource: &def.plural,
        },
        Origin::Crd => {
            let raw = def.version(version).map(|v| v.printer_columns.as_slice()).unwrap_or(&[]);
            custom = raw
                .iter()
                .map(PrinterColumn::from_crd_column)
                .collect::<Result<_, _>>()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            TableColumns::Custom(&custom)
        }
    };
    build_table(columns, objects, include, list_meta, now).map_err(|e| ApiError::internal(e.to_string()))
}

/// Label and field selectors of a request, checked against the resource.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`; 400 for bad syntax or unsupported fields.
    pub fn from_request(def: &ResourceDef, req: &ApiRequest) -> ApiResult<Self> {
        let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or("")).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or("")).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(bad) = fields.fields().into_iter().find(|f| !def.supports_field(f)) {
            return Err(ApiError::bad_request(format!("field label not supported: {bad}")));
        }
        Ok(Filter { labels, fields })
    }

    /// Whether an object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj.pointer("/metadata/labels").and_then(Value::as_object)) && self.fields.matches(obj)
    }

    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.fields().is_empty()
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    kind: &'a str,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    metadata: Value,
    items: Vec<&'a Value>,
}

#[derive(serde::Deserialize, Serialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
}

fn list(shared: &Shared, def: &Arc<ResourceDef>, path: &ResourcePath, req: &ApiRequest) -> ApiResult<Response> {
    let filter = Filter::from_request(def, req)?;
    let limit: usize = match req.param("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("limit: Invalid value: {l:?}: must be a non-negative integer")))?,
    };
    let token = match req.param("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(c)
                .map_err(|_| ApiError::bad_request("continue key is not valid: not base64"))?;
            Some(
                serde_json::from_slice::<ContinueToken>(&bytes)
                    .map_err(|_| ApiError::bad_request("continue key is not valid: malformed"))?,
            )
        }
    };
    let state = shared.state();
    if let Some(t) = &token
        && t.rv < state.oldest_watchable_rv
    {
        return Err(ApiError::gone(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ));
    }
    let table = state.table(&def.key())?;
    let ns = path.namespace.clone();
    let start = match (&token, &ns) {
        (Some(t), _) => (t.ns.clone(), format!("{}\u{0}", t.name)),
        (None, Some(n)) => (n.clone(), String::new()),
        (None, None) => (String::new(), String::new()),
    };
    let mut items: Vec<Arc<Value>> = Vec::new();
    let mut next: Option<ContinueToken> = None;
    let mut remaining = 0usize;
    for ((obj_ns, _), obj) in table.objects.range(start..) {
        if let Some(n) = &ns
            && obj_ns != n
        {
            break;
        }
        if !filter.matches(obj) {
            continue;
        }
        if limit > 0 && items.len() == limit {
            if next.is_none() {
                let last = items
                    .last()
                    .map(|o| (meta_str(o, "namespace").to_string(), meta_str(o, "name").to_string()))
                    .unwrap_or_default();
                next = Some(ContinueToken {
                    rv: token.as_ref().map_or(state.rv, |t| t.rv),
                    ns: last.0,
                    name: last.1,
                });
            }
            remaining += 1;
            continue;
        }
        items.push(present(def, &path.version, obj));
    }
    let rv = token.as_ref().map_or(state.rv, |t| t.rv);
    drop(state);
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(next) = next {
        let encoded = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&next).unwrap_or_default());
        metadata["continue"] = json!(encoded);
        if filter.is_empty() {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let refs: Vec<&Value> = items.iter().map(|a| a.as_ref()).collect();
    match req.output {
        Output::Table => {
            let table = table_for(def, &path.version, &refs, req, metadata, shared.options.clock.now())?;
            Ok(json_response(StatusCode::OK, &table))
        }
        Output::Metadata => {
            let metas: Vec<Value> = refs.iter().map(|o| partial_metadata(o)).collect();
            let body = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": metas});
            Ok(json_response(StatusCode::OK, &body))
        }
        Output::Json => {
            let api_version = def.api_version(&path.version);
            let body = ListBody {
                kind: &def.list_kind,
                api_version: &api_version,
                metadata,
                items: refs,
            };
            let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(bytes_response(StatusCode::OK, "application/json", Bytes::from(bytes)))
        }
    }
}

fn delete_options(req: &ApiRequest) -> ApiResult<DeleteOptions> {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("the DeleteOptions body is not valid JSON: {e}")))?
    };
    let mut opts = DeleteOptions::default();
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| req.param("propagationPolicy").map(str::to_string));
    let orphan = body
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| req.param("orphanDependents").map(|v| v == "true"));
    if let Some(p) = policy {
        opts.propagation = Propagation::parse(&p)?;
    } else if orphan == Some(true) {
        opts.propagation = Propagation::Orphan;
    }
    opts.uid = body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
    opts.resource_version = body
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(opts)
}

fn delete_collection(shared: &Shared, def: &ResourceDef, path: &ResourcePath, req: &ApiRequest) -> ApiResult<Response> {
    let filter = Filter::from_request(def, req)?;
    let opts = delete_options(req)?;
    let mut state = shared.state();
    let targets: Vec<(String, String)> = state
        .table(&def.key())?
        .objects
        .iter()
        .filter(|((ns, _), o)| path.namespace.as_ref().is_none_or(|n| n == ns) && filter.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    for (ns, name) in targets {
        // Objects already gone by cascade are fine.
        let _ = state.delete(&def.key(), &ns, &name, &opts);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}

fn evict(shared: &Shared, def: &ResourceDef, ns: &str, name: &str, req: &ApiRequest) -> ApiResult<Response> {
    let body = req.json_body()?;
    if body.get("kind").and_then(Value::as_str).is_some_and(|k| k != "Eviction") {
        return Err(ApiError::bad_request(format!(
            "the body must be an Eviction, found kind {}",
            body["kind"]
        )));
    }
    let body_name = meta_str(&body, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object ({body_name} != {name})"
        )));
    }
    let opts = DeleteOptions {
        uid: body
            .pointer("/deleteOptions/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..DeleteOptions::default()
    };
    shared.state().delete(&def.key(), ns, name, &opts)?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

fn path_get<'a>(obj: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.trim_start_matches('.').split('.').try_fold(obj, |v, k| v.get(k))
}

fn path_set(obj: &mut Value, dotted: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = dotted.trim_start_matches('.').split('.').collect();
    for (i, k) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().expect("made an object");
        if i + 1 == parts.len() {
            map.insert((*k).to_string(), value);
            return;
        }
        cur = map.entry((*k).to_string()).or_insert_with(|| json!({}));
    }
}

/// The `autoscaling/v1 Scale` view of an object.
fn to_scale(def: &ResourceDef, obj: &Value) -> ApiResult<Value> {
    let spec = def.scale.as_ref().ok_or_else(ApiError::no_route)?;
    let replicas = path_get(obj, &spec.spec_replicas_path)
        .and_then(Value::as_i64)
        .unwrap_or(if def.origin == Origin::Builtin { 1 } else { 0 });
    let status_replicas = path_get(obj, &spec.status_replicas_path).and_then(Value::as_i64).unwrap_or(0);
    let selector = match spec.label_selector_path.as_deref().and_then(|p| path_get(obj, p)) {
        Some(Value::String(s)) => s.clone(),
        Some(sel @ Value::Object(_)) => LabelSelector::from_object(sel).map(|s| s.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut scale_meta = json!({});
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(k) {
            scale_meta[k] = v.clone();
        }
    }
    let mut status = json!({"replicas": status_replicas});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    Ok(json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta, "spec": {"replicas": replicas}, "status": status}))
}

fn patch_scale(scale: &Value, req: &PatchRequest<'_>) -> ApiResult<Value> {
    let doc: Value = serde_json::from_slice(req.body).map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
    match req.patch_type {
        PatchType::MergePatch | PatchType::StrategicMergePatch => Ok(crate::patch::json_merge_patch(scale, &doc)),
        PatchType::JsonPatch => crate::patch::json_patch(scale, &doc).map_err(|e| ApiError::bad_request(e.to_string())),
        PatchType::ApplyPatch => Err(ApiError::unsupported_media_type(
            "application/apply-patch+yaml",
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ],
        )),
    }
}

fn scale_write(
    shared: &Shared,
    def: &ResourceDef,
    ctx: &WriteContext<'_>,
    name: &str,
    make: impl FnOnce(&Value) -> ApiResult<Value>,
) -> ApiResult<Response> {
    let spec = def.scale.clone().ok_or_else(ApiError::no_route)?;
    let mut state: std::sync::MutexGuard<'_, State> = shared.state();
    let obj = state.get(&def.key(), ctx.ns, name)?;
    let current = to_scale(def, &obj)?;
    let desired = make(&current)?;
    let replicas = desired.pointer("/spec/replicas").and_then(Value::as_i64).ok_or_else(|| {
        ApiError::invalid(
            "Scale",
            "autoscaling",
            name,
            vec![crate::error::Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.replicas".into(),
            }],
        )
    })?;
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            name,
            vec![crate::error::Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            }],
        ));
    }
    let mut updated = (*obj).clone();
    path_set(&mut updated, &spec.spec_replicas_path, json!(replicas));
    let sent_rv = meta_str(&desired, "resourceVersion").to_string();
    if !sent_rv.is_empty() {
        ensure_meta(&mut updated).insert("resourceVersion".into(), json!(sent_rv));
    }
    let stored = write::update(&mut state, ctx, name, updated, None)?;
    Ok(json_response(StatusCode::OK, &to_scale(def, &stored)?))
}
