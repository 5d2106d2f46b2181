//! Deletion: finalizers, deletionTimestamp, namespace and CRD cleanup, and the garbage
//! collector that follows ownerReferences (background, foreground and orphan propagation).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::resources::ResKey;
use crate::store::{GcItem, ObjRef, State, ensure_meta, finalizers, meta_str, owner_uids};

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the owner now, dependents afterwards.
    #[default]
    Background,
    /// Delete dependents first, then the owner.
    Foreground,
    /// Delete the owner, leave dependents without the ownerReference.
    Orphan,
}

impl Propagation {
    /// Parses the wire value.
    pub fn parse(s: &str) -> ApiResult<Self> {
        match s {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            ))),
        }
    }
}

/// Preconditions and policy of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// How dependents are treated.
    pub propagation: Propagation,
    /// The object must have this uid.
    pub uid: Option<String>,
    /// The object must have this resourceVersion.
    pub resource_version: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; this is its last state.
    Gone(Arc<Value>),
    /// The object waits for finalizers; this is its terminating state.
    Terminating(Arc<Value>),
}

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

fn is_namespace(res: &ResKey) -> bool {
    res.group.is_empty() && &*res.plural == "namespaces"
}

fn is_crd(res: &ResKey) -> bool {
    &*res.group == "apiextensions.k8s.io" && &*res.plural == "customresourcedefinitions"
}

impl State {
    /// Deletes an object as kube-apiserver does: immediately when nothing holds it, else by
    /// setting deletionTimestamp and letting finalizers and the garbage collector finish.
    pub fn delete(&mut self, res: &ResKey, ns: &str, name: &str, opts: &DeleteOptions) -> ApiResult<Deleted> {
        let obj = self.get(res, ns, name)?;
        if let Some(uid) = &opts.uid
            && uid != meta_str(&obj, "uid")
        {
            return Err(ApiError::conflict(
                &res.group,
                &res.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&obj, "uid")
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != meta_str(&obj, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &res.group,
                &res.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta_str(&obj, "resourceVersion")
                ),
            ));
        }
        let oref = ObjRef {
            res: res.clone(),
            ns: ns.to_string(),
            name: name.to_string(),
        };
        let outcome = self.delete_ref(&oref, opts.propagation);
        self.run_gc();
        outcome.ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))
    }

    fn delete_ref(&mut self, oref: &ObjRef, propagation: Propagation) -> Option<Deleted> {
        let obj = self
            .tables
            .get(&oref.res)?
            .objects
            .get(&(oref.ns.clone(), oref.name.clone()))?
            .clone();
        let mut fins = finalizers(&obj);
        let extra = match propagation {
            Propagation::Foreground if self.dependents.contains_key(meta_str(&obj, "uid")) => Some(FOREGROUND),
            Propagation::Orphan => Some(ORPHAN),
            _ => None,
        };
        if let Some(f) = extra
            && !fins.iter().any(|x| x == f)
        {
            fins.push(f.to_string());
        }
        let needs_cleanup = is_namespace(&oref.res) || (is_crd(&oref.res) && self.crd_has_objects(&obj));
        if fins.is_empty() && !needs_cleanup {
            return self.remove(oref).map(Deleted::Gone);
        }
        let now = self.now();
        let namespace = is_namespace(&oref.res);
        let updated = self.touch(oref, |o| {
            let meta = ensure_meta(o);
            meta.entry("deletionTimestamp").or_insert(Value::String(now));
            meta.entry("deletionGracePeriodSeconds").or_insert(json!(0));
            if !fins.is_empty() {
                meta.insert("finalizers".into(), json!(fins));
            }
            if namespace {
                o["status"] = json!({"phase": "Terminating"});
            }
        })?;
        Some(Deleted::Terminating(updated))
    }

    fn crd_has_objects(&self, crd: &Value) -> bool {
        crd_resource(crd)
            .and_then(|k| self.tables.get(&k))
            .is_some_and(|t| !t.objects.is_empty())
    }

    /// Runs the garbage collector until nothing is left to do.
    pub(crate) fn run_gc(&mut self) {
        let mut budget = 1_000_000usize;
        while let Some(item) = self.gc_queue.pop_front() {
            budget -= 1;
            if budget == 0 {
                tracing::error!("garbage collector did not settle; giving up on the rest of its queue");
                self.gc_queue.clear();
                return;
            }
            match item {
                GcItem::OwnerGone(uid) => {
                    if let Some(deps) = self.dependents.get(&uid) {
                        let deps: Vec<ObjRef> = deps.iter().cloned().collect();
                        self.gc_queue.extend(deps.into_iter().map(GcItem::Object));
                    }
                }
                GcItem::Object(oref) => self.gc_object(&oref),
            }
        }
    }

    fn gc_object(&mut self, oref: &ObjRef) {
        let Some(obj) = self
            .tables
            .get(&oref.res)
            .and_then(|t| t.objects.get(&(oref.ns.clone(), oref.name.clone())))
            .cloned()
        else {
            return;
        };
        // Dangling owners: drop the references; with no owner left, collect the object.
        let owners = owner_uids(&obj);
        if !owners.is_empty() {
            let (present, absent): (Vec<_>, Vec<_>) = owners.iter().partition(|u| self.uids.contains_key(*u));
            if present.is_empty() {
                if obj.pointer("/metadata/deletionTimestamp").is_none() {
                    self.delete_ref(oref, Propagation::Background);
                }
            } else if !absent.is_empty() {
                self.touch(oref, |o| retain_owners(o, |uid| !absent.iter().any(|a| *a == uid)));
            }
        }
        let Some(obj) = self
            .tables
            .get(&oref.res)
            .and_then(|t| t.objects.get(&(oref.ns.clone(), oref.name.clone())))
            .cloned()
        else {
            return;
        };
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            return;
        }
        let uid = meta_str(&obj, "uid").to_string();
        let fins = finalizers(&obj);
        let deps: Vec<ObjRef> = self.dependents.get(&uid).map(|d| d.iter().cloned().collect()).unwrap_or_default();
        if fins.iter().any(|f| f == ORPHAN) {
            for dep in &deps {
                self.touch(dep, |o| retain_owners(o, |owner| owner != uid));
            }
            self.touch(oref, |o| drop_finalizer(o, ORPHAN));
        } else if fins.iter().any(|f| f == FOREGROUND) {
            if deps.is_empty() {
                self.touch(oref, |o| drop_finalizer(o, FOREGROUND));
            } else {
                for dep in &deps {
                    let terminating = self
                        .get(&dep.res, &dep.ns, &dep.name)
                        .is_ok_and(|d| d.pointer("/metadata/deletionTimestamp").is_some());
                    if !terminating {
                        self.delete_ref(dep, Propagation::Foreground);
                    }
                }
            }
        }
        if is_namespace(&oref.res) {
            self.clean_namespace(oref);
        }
        if is_crd(&oref.res) {
            self.clean_crd(oref);
        }
        let Some(obj) = self
            .tables
            .get(&oref.res)
            .and_then(|t| t.objects.get(&(oref.ns.clone(), oref.name.clone())))
            .cloned()
        else {
            return;
        };
        let spec_fins = obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let cleanup_pending = is_crd(&oref.res) && self.crd_has_objects(&obj);
        if finalizers(&obj).is_empty() && !(is_namespace(&oref.res) && spec_fins) && !cleanup_pending {
            self.remove(oref);
            if is_crd(&oref.res)
                && let Some(key) = crd_resource(&obj)
            {
                self.unregister(&key);
            }
        }
    }

    fn clean_namespace(&mut self, oref: &ObjRef) {
        let ns = oref.name.clone();
        let mut contents = Vec::new();
        for (key, table) in &self.tables {
            if !table.def.namespaced {
                continue;
            }
            for ((obj_ns, name), obj) in table.objects.range((ns.clone(), String::new())..) {
                if *obj_ns != ns {
                    break;
                }
                contents.push((
                    ObjRef {
                        res: key.clone(),
                        ns: ns.clone(),
                        name: name.clone(),
                    },
                    obj.pointer("/metadata/deletionTimestamp").is_some(),
                ));
            }
        }
        for (content, terminating) in &contents {
            if !terminating {
                self.delete_ref(content, Propagation::Background);
            }
        }
        let empty = self.tables.values().filter(|t| t.def.namespaced).all(|t| {
            t.objects
                .range((ns.clone(), String::new())..)
                .next()
                .is_none_or(|((n, _), _)| *n != ns)
        });
        if empty {
            self.touch(oref, |o| {
                if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
            });
        }
    }

    fn clean_crd(&mut self, oref: &ObjRef) {
        let Ok(crd) = self.get(&oref.res, &oref.ns, &oref.name) else {
            return;
        };
        let Some(key) = crd_resource(&crd) else { return };
        let objects: Vec<ObjRef> = self
            .tables
            .get(&key)
            .map(|t| {
                t.objects
                    .keys()
                    .map(|(ns, name)| ObjRef {
                        res: key.clone(),
                        ns: ns.clone(),
                        name: name.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        for o in objects {
            let terminating = self
                .get(&o.res, &o.ns, &o.name)
                .is_ok_and(|d| d.pointer("/metadata/deletionTimestamp").is_some());
            if !terminating {
                self.delete_ref(&o, Propagation::Background);
            }
        }
    }
}

/// The resource a CRD object defines.
pub fn crd_resource(crd: &Value) -> Option<ResKey> {
    let group = crd.pointer("/spec/group")?.as_str()?;
    let plural = crd.pointer("/spec/names/plural")?.as_str()?;
    Some(ResKey::new(group, plural))
}

fn retain_owners(obj: &mut Value, keep: impl Fn(&str) -> bool) {
    let meta = ensure_meta(obj);
    if let Some(refs) = meta.get_mut("ownerReferences").and_then(Value::as_array_mut) {
        refs.retain(|r| keep(r.get("uid").and_then(Value::as_str).unwrap_or("")));
        if refs.is_empty() {
            meta.remove("ownerReferences");
        }
    }
}

fn drop_finalizer(obj: &mut Value, finalizer: &str) {
    let meta = ensure_meta(obj);
    if let Some(list) = meta.get_mut("finalizers").and_then(Value::as_array_mut) {
        list.retain(|f| f.as_str() != Some(finalizer));
        if list.is_empty() {
            meta.remove("finalizers");
        }
    }
}
