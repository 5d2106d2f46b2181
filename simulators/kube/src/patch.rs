//! PATCH semantics of the embedded API server: JSON patch, JSON merge patch and strategic merge patch.

mod schema;

pub use schema::{builtin_list_keys, supports_strategic_merge};

use schema::Smp;
use serde_json::{Map, Value};

/// The four patch content types the API server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    JsonPatch,
    /// `application/merge-patch+json` (RFC 7386).
    MergePatch,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    StrategicMergePatch,
    /// `application/apply-patch+yaml` (server-side apply).
    ApplyPatch,
}

impl PatchType {
    /// Parses a `Content-Type` header value, ignoring parameters such as `;charset=utf-8`.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Some(Self::JsonPatch),
            "application/merge-patch+json" => Some(Self::MergePatch),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMergePatch),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::ApplyPatch),
            _ => None,
        }
    }

    /// The canonical media type of this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::JsonPatch => "application/json-patch+json",
            Self::MergePatch => "application/merge-patch+json",
            Self::StrategicMergePatch => "application/strategic-merge-patch+json",
            Self::ApplyPatch => "application/apply-patch+yaml",
        }
    }
}

/// Identifies the built-in kind whose Go struct tags drive a strategic merge patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinKind {
    /// API group (`""` for core).
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl BuiltinKind {
    /// Builds a kind from its group and kind names.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
        }
    }
}

/// Why a patch could not be applied; [`PatchError::http_status`] gives the response code.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The JSON patch document is not a list of RFC 6902 operations.
    #[error("invalid JSON patch: expected an array of operations, found {found}: {reason}")]
    InvalidJsonPatch {
        /// Short description of what the body was.
        found: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// One operation of a JSON patch failed (test mismatch, missing path, ...).
    #[error("JSON patch operation {operation} failed at path {path:?}: {reason}")]
    JsonPatchFailed {
        /// Zero-based index of the failing operation.
        operation: usize,
        /// JSON pointer of the operation.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Strategic merge patch was requested for a kind without Go struct tags (custom resources).
    #[error("strategic merge patch is not supported for {kind}.{group}: expected a built-in kind, use a merge or JSON patch")]
    UnsupportedKind {
        /// API group.
        group: String,
        /// Kind.
        kind: String,
    },
    /// A value in the patch or object has the wrong JSON type.
    #[error("strategic merge patch at {path}: expected {expected}, found {found}")]
    WrongType {
        /// Field path (`.spec.containers`).
        path: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A list element lacks the merge key of its list.
    #[error("strategic merge patch at {path}: list element has no merge key {key:?}: {element}")]
    MissingMergeKey {
        /// Field path of the list.
        path: String,
        /// The merge key, e.g. `name`.
        key: String,
        /// The offending element.
        element: String,
    },
    /// A `$patch` directive with an unknown value.
    #[error("strategic merge patch at {path}: unknown $patch directive {found:?}, expected replace, delete or merge")]
    UnknownDirective {
        /// Field path.
        path: String,
        /// The directive value found.
        found: String,
    },
    /// A `$retainKeys` list does not include a key set by the same patch.
    #[error("strategic merge patch at {path}: $retainKeys does not list {key:?}, which the patch sets")]
    RetainKeys {
        /// Field path of the map.
        path: String,
        /// The key missing from `$retainKeys`.
        key: String,
    },
    /// The patch list disagrees with its `$setElementOrder` list.
    #[error("strategic merge patch at {path}: $setElementOrder/{field} does not contain the patch list elements in the same order")]
    ElementOrder {
        /// Field path of the enclosing map.
        path: String,
        /// The list field.
        field: String,
    },
}

impl PatchError {
    /// HTTP status kube-apiserver answers with: 415 for strategic merge on a custom resource,
    /// 422 when a well-formed patch cannot be applied, 400 for a malformed patch.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnsupportedKind { .. } => 415,
            Self::JsonPatchFailed { .. } | Self::RetainKeys { .. } => 422,
            Self::InvalidJsonPatch { .. }
            | Self::WrongType { .. }
            | Self::MissingMergeKey { .. }
            | Self::UnknownDirective { .. }
            | Self::ElementOrder { .. } => 400,
        }
    }
}

/// Applies an RFC 7386 JSON merge patch.
pub fn json_merge_patch(target: &Value, patch: &Value) -> Value {
    let mut doc = target.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

/// Applies an RFC 6902 JSON patch atomically; the target is unchanged on error.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| PatchError::InvalidJsonPatch {
        found: if patch.is_array() {
            "an array with an invalid operation".to_string()
        } else {
            type_name(patch).to_string()
        },
        reason: e.to_string(),
    })?;
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| PatchError::JsonPatchFailed {
        operation: e.operation,
        path: e.path.to_string(),
        reason: e.kind.to_string(),
    })?;
    Ok(doc)
}

/// Applies a strategic merge patch to an object of a built-in kind, like apimachinery's
/// `strategicpatch` package with the server's options (parallel deletion lists are applied and
/// unmatched nulls ignored). Directives never survive into the result.
pub fn strategic_merge_patch(original: &Value, patch: &Value, kind: &BuiltinKind) -> Result<Value, PatchError> {
    let Some(root) = schema::root_type(&kind.group, &kind.kind) else {
        return Err(PatchError::UnsupportedKind {
            group: kind.group.clone(),
            kind: kind.kind.clone(),
        });
    };
    let original = as_object(original, "")?.clone();
    let patch = as_object(patch, "")?.clone();
    merge_map(original, patch, root, "").map(Value::Object)
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PatchError> {
    v.as_object().ok_or_else(|| PatchError::WrongType {
        path: display_path(path),
        expected: "an object",
        found: type_name(v).to_string(),
    })
}

fn as_array(v: Value, path: &str) -> Result<Vec<Value>, PatchError> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(PatchError::WrongType {
            path: display_path(path),
            expected: "an array",
            found: type_name(&other).to_string(),
        }),
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the object root".to_string()
    } else {
        path.to_string()
    }
}

/// Cleans a patch value that lands where the original had nothing: drops nulls inside maps,
/// list elements carrying `$patch`, and every directive key. `None` means "do not set".
fn clean_new(v: Value) -> Option<Value> {
    match v {
        Value::Object(mut m) => {
            match m.remove(DIRECTIVE).as_ref().and_then(Value::as_str) {
                Some("delete") => return None,
                _ => m.retain(|k, v| !v.is_null() && k != RETAIN_KEYS && !k.starts_with(SET_ORDER) && !k.starts_with(DELETE_FROM)),
            }
            let cleaned = m.into_iter().filter_map(|(k, v)| clean_new(v).map(|v| (k, v))).collect();
            Some(Value::Object(cleaned))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .filter(|item| item.get(DIRECTIVE).is_none())
                .filter_map(clean_new)
                .collect(),
        )),
        other => Some(other),
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: &str,
    path: &str,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                return Ok(match clean_new(Value::Object(patch)) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                });
            }
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            _ => {
                return Err(PatchError::UnknownDirective {
                    path: display_path(path),
                    found: directive.to_string(),
                });
            }
        }
    }
    if let Some(retain) = patch.remove(RETAIN_KEYS) {
        apply_retain_keys(&mut original, &patch, retain, path)?;
    }
    apply_element_orders(&mut original, &mut patch, ty, path)?;

    for (key, patch_value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM) {
            let doomed = as_array(patch_value, &format!("{path}.{key}"))?;
            if let Some(Value::Array(items)) = original.get_mut(field) {
                items.retain(|item| !doomed.contains(item));
            }
            continue;
        }
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let child_path = format!("{path}.{key}");
        // Take the value in place so the key keeps its position in the object.
        let Some(current) = original.get_mut(&key).map(std::mem::take) else {
            if let Some(v) = clean_new(patch_value) {
                original.insert(key, v);
            }
            continue;
        };
        let (child_ty, smp) = schema::field(ty, &key);
        let merged = match (current, patch_value) {
            (Value::Object(cur), Value::Object(p)) if smp != Smp::Replace => Some(Value::Object(merge_map(cur, p, child_ty, &child_path)?)),
            (Value::Array(cur), Value::Array(p)) => match smp {
                Smp::Merge(merge_key) => Some(Value::Array(merge_list(cur, p, merge_key, child_ty, &child_path)?)),
                _ => clean_new(Value::Array(p)),
            },
            (_, p) => clean_new(p),
        };
        match (merged, original.get_mut(&key)) {
            (Some(v), Some(slot)) => *slot = v,
            _ => {
                original.remove(&key);
            }
        }
    }
    Ok(original)
}

fn apply_retain_keys(original: &mut Map<String, Value>, patch: &Map<String, Value>, retain: Value, path: &str) -> Result<(), PatchError> {
    let list = as_array(retain, &format!("{path}.{RETAIN_KEYS}"))?;
    let keep: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for (k, v) in patch {
        let directive = k.starts_with(SET_ORDER) || k.starts_with(DELETE_FROM);
        if !v.is_null() && !directive && !keep.contains(&k.as_str()) {
            return Err(PatchError::RetainKeys {
                path: display_path(path),
                key: k.clone(),
            });
        }
    }
    original.retain(|k, _| keep.contains(&k.as_str()));
    Ok(())
}

/// Handles every `$setElementOrder/<field>` of a map: merges that list and orders the result.
fn apply_element_orders(original: &mut Map<String, Value>, patch: &mut Map<String, Value>, ty: &str, path: &str) -> Result<(), PatchError> {
    let order_keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ORDER)).cloned().collect();
    for order_key in order_keys {
        let Some(order) = patch.remove(&order_key) else {
            continue;
        };
        let field = order_key[SET_ORDER.len()..].to_string();
        let list_path = format!("{path}.{field}");
        let order = as_array(order, &format!("{path}.{order_key}"))?;
        let (child_ty, smp) = schema::field(ty, &field);
        let merge_key = match smp {
            Smp::Merge(k) => k,
            _ => None,
        };
        let current = original.remove(&field).map(|v| as_array(v, &list_path)).transpose()?;
        let patch_list = patch.remove(&field).map(|v| as_array(v, &list_path)).transpose()?;
        if let Some(p) = &patch_list {
            check_order(p, &order, merge_key, path, &field)?;
        }
        let server_order = current.clone().unwrap_or_default();
        let merged = match (current, patch_list) {
            (None, None) => continue,
            (Some(cur), None) => cur,
            (None, Some(p)) => match clean_new(Value::Array(p)) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            (Some(cur), Some(p)) => match smp {
                Smp::Merge(k) => merge_list(cur, p, k, child_ty, &list_path)?,
                _ => match clean_new(Value::Array(p)) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                },
            },
        };
        let (in_order, server_only): (Vec<Value>, Vec<Value>) =
            merged.into_iter().partition(|item| position(&order, item, merge_key).is_some());
        let ordered = interleave(in_order, server_only, &order, &server_order, merge_key);
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

/// The patch list (deletions and directive elements aside) must appear in the order list in
/// the same relative order.
fn check_order(patch: &[Value], order: &[Value], merge_key: Option<&str>, path: &str, field: &str) -> Result<(), PatchError> {
    let mut remaining = order.iter();
    for item in patch.iter().filter(|i| i.get(DIRECTIVE).is_none()) {
        let wanted = identity(item, merge_key);
        if !remaining.any(|o| identity(o, merge_key) == wanted) {
            return Err(PatchError::ElementOrder {
                path: display_path(path),
                field: field.to_string(),
            });
        }
    }
    Ok(())
}

/// The value identifying a list element: its merge key value, or itself for primitives.
fn identity<'a>(item: &'a Value, merge_key: Option<&str>) -> Option<&'a Value> {
    match merge_key {
        Some(k) => item.get(k),
        None => Some(item),
    }
}

fn position(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    let id = identity(item, merge_key)?;
    list.iter().position(|x| identity(x, merge_key) == Some(id))
}

/// Orders patch items by `patch_order`, server-only items by `server_order`, then inserts each
/// server-only item before the first patch item that follows it in the server order (the
/// relative orders of both groups are kept; new patch items go first on ties, as upstream).
fn interleave(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    patch_items.sort_by_key(|i| position(patch_order, i, merge_key));
    server_only.sort_by_key(|i| position(server_order, i, merge_key));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, merge_key), position(server_order, r, merge_key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

fn merge_list(original: Vec<Value>, patch: Vec<Value>, merge_key: Option<&str>, ty: &str, path: &str) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let maps = original.iter().chain(&patch).any(Value::is_object);
    if let Some(bad) = original.iter().chain(&patch).find(|v| v.is_object() != maps || v.is_array()) {
        return Err(PatchError::WrongType {
            path: display_path(path),
            expected: if maps { "a list of objects" } else { "a list of primitives" },
            found: format!("an element that is {}", type_name(bad)),
        });
    }
    if !maps {
        let mut merged = original.clone();
        for item in &patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        let (in_patch, server_only) = merged.into_iter().partition(|i| patch.contains(i));
        return Ok(interleave(in_patch, server_only, &patch, &original, None));
    }
    let Some(key) = merge_key else {
        return Err(PatchError::WrongType {
            path: display_path(path),
            expected: "a list with a merge key",
            found: "a list of objects without patchMergeKey".to_string(),
        });
    };
    let mut current = original;
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let mut obj = match item {
            Value::Object(m) => m,
            _ => continue,
        };
        let Some(directive) = obj.get(DIRECTIVE).cloned() else {
            plain.push(obj);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(id) = obj.get(key) else {
                    return Err(missing_key(path, key, &obj));
                };
                current.retain(|c| c.get(key) != Some(id));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                obj.remove(DIRECTIVE);
                if !obj.is_empty() {
                    plain.push(obj);
                }
            }
            _ => {
                return Err(PatchError::UnknownDirective {
                    path: display_path(path),
                    found: directive.to_string(),
                });
            }
        }
    }
    if replace {
        let replaced = plain.into_iter().filter_map(|m| clean_new(Value::Object(m))).collect();
        return Ok(replaced);
    }
    let server_order = current.clone();
    let mut patch_ids = Vec::with_capacity(plain.len());
    for obj in plain {
        let Some(id) = obj.get(key).cloned() else {
            return Err(missing_key(path, key, &obj));
        };
        let id_path = format!("{path}[{key}={id}]");
        match current.iter_mut().find(|c| c.get(key) == Some(&id)) {
            Some(Value::Object(existing)) => {
                let merged = merge_map(std::mem::take(existing), obj, ty, &id_path)?;
                *existing = merged;
            }
            _ => current.extend(clean_new(Value::Object(obj))),
        }
        patch_ids.push(serde_json::json!({ key: id }));
    }
    let (in_patch, server_only) = current.into_iter().partition(|i| position(&patch_ids, i, Some(key)).is_some());
    Ok(interleave(in_patch, server_only, &patch_ids, &server_order, Some(key)))
}

fn missing_key(path: &str, key: &str, obj: &Map<String, Value>) -> PatchError {
    PatchError::MissingMergeKey {
        path: display_path(path),
        key: key.to_string(),
        element: Value::Object(obj.clone()).to_string(),
    }
}

#[cfg(test)]
mod tests;
