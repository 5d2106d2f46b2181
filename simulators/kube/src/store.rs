//! The object store: every object of one cluster, its resourceVersion history and watchers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::clock::{Clock, k8s_time};
use crate::error::{ApiError, ApiResult};
use crate::resources::{Origin, ResKey, ResourceDef, builtins};

/// Namespace and name of an object (namespace empty for cluster-scoped objects).
pub type ObjKey = (String, String);

/// Names one stored object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    /// Its resource.
    pub res: ResKey,
    /// Namespace, empty when cluster-scoped.
    pub ns: String,
    /// Name.
    pub name: String,
}

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history and sent to watchers.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion this change produced.
    pub rv: u64,
    /// Which resource.
    pub res: ResKey,
    /// Namespace of the object.
    pub ns: String,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for deletes: the last state, with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the change, for selector transitions.
    pub old: Option<Arc<Value>>,
}

/// The objects of one resource.
#[derive(Debug, Clone)]
pub struct Table {
    /// The resource definition.
    pub def: Arc<ResourceDef>,
    /// Objects by (namespace, name): the order etcd lists them in.
    pub objects: BTreeMap<ObjKey, Arc<Value>>,
}

/// Everything stored, guarded by one lock.
#[derive(Debug)]
pub struct State {
    /// Tables by resource.
    pub tables: BTreeMap<ResKey, Table>,
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// Recent changes, oldest first.
    pub history: VecDeque<Arc<Change>>,
    /// How many changes the history keeps.
    pub history_capacity: usize,
    /// Watches from a resourceVersion below this one get 410 Gone.
    pub oldest_watchable_rv: u64,
    /// uid → object.
    pub uids: HashMap<String, ObjRef>,
    /// owner uid → dependents.
    pub dependents: HashMap<String, BTreeSet<ObjRef>>,
    /// Deterministic random state for uids and generated names.
    rng: u64,
    /// Objects the garbage collector must look at.
    pub gc_queue: VecDeque<GcItem>,
    /// The clock timestamps come from.
    pub clock: Arc<dyn Clock>,
    events: broadcast::Sender<Arc<Change>>,
}

/// Work for the garbage collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcItem {
    /// An object whose deletion state (finalizers, deletionTimestamp) must be processed.
    Object(ObjRef),
    /// The object with this uid is gone: its dependents must be checked.
    OwnerGone(String),
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl State {
    /// A fresh cluster state with the built-in resources and the default namespaces.
    pub fn new(clock: Arc<dyn Clock>, seed: u64, history_capacity: usize) -> Self {
        let (events, _) = broadcast::channel(16_384);
        let mut state = State {
            tables: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_capacity,
            oldest_watchable_rv: 1,
            uids: HashMap::new(),
            dependents: HashMap::new(),
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
            gc_queue: VecDeque::new(),
            clock,
            events,
        };
        for def in builtins() {
            state.register(def);
        }
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            // Creating the default namespaces on an empty store cannot fail.
            let _ = state.create(&ResKey::new("", "namespaces"), obj);
        }
        state
    }

    /// Subscribes to every future change.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.events.subscribe()
    }

    /// Serves a resource (built-in or from a CRD); keeps objects already stored for it.
    pub fn register(&mut self, def: ResourceDef) {
        let key = def.key();
        let def = Arc::new(def);
        self.tables.entry(key).and_modify(|t| t.def = def.clone()).or_insert_with(|| Table {
            def,
            objects: BTreeMap::new(),
        });
    }

    /// Stops serving a resource; its objects must already be gone.
    pub fn unregister(&mut self, key: &ResKey) {
        self.tables.remove(key);
    }

    /// The table of a resource.
    pub fn table(&self, key: &ResKey) -> ApiResult<&Table> {
        self.tables.get(key).ok_or_else(ApiError::no_route)
    }

    /// Finds a served resource by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.tables
            .get(&ResKey::new(group, plural))
            .map(|t| t.def.clone())
            .filter(|d| d.version(version).is_some())
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64: small, fast and deterministic per seed.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new uid (random, version 4 layout, from the seeded generator).
    pub fn new_uid(&mut self) -> String {
        let hi = self.next_random().to_be_bytes();
        let lo = self.next_random().to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi);
        bytes[8..].copy_from_slice(&lo);
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// A 5-character suffix like kube-apiserver's generateName.
    pub fn random_suffix(&mut self) -> String {
        (0..5)
            .map(|_| NAME_CHARS[(self.next_random() % NAME_CHARS.len() as u64) as usize] as char)
            .collect()
    }

    /// The current time as `metav1.Time`.
    pub fn now(&self) -> String {
        k8s_time(self.clock.now())
    }

    /// Looks an object up.
    pub fn get(&self, key: &ResKey, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        let table = self.table(key)?;
        table
            .objects
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&key.group, &key.plural, name))
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_capacity {
            if let Some(old) = self.history.pop_front() {
                self.oldest_watchable_rv = old.rv;
            }
        }
        // No receivers is fine: nobody watches.
        let _ = self.events.send(change);
    }

    /// Forgets all history: every watch from an older resourceVersion gets 410 (like etcd compaction).
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_watchable_rv = self.rv;
    }

    /// Stores a new object. The caller has filled in name, namespace and validated it.
    pub fn create(&mut self, key: &ResKey, mut obj: Value) -> ApiResult<Arc<Value>> {
        let def = self.table(key)?.def.clone();
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        if def.namespaced {
            self.require_namespace(&ns)?;
        }
        if self.table(key)?.objects.contains_key(&(ns.clone(), name.clone())) {
            return Err(ApiError::already_exists(&key.group, &key.plural, &name));
        }
        let uid = self.new_uid();
        let now = self.now();
        let rv = self.next_rv();
        let meta = ensure_meta(&mut obj);
        meta.insert("uid".into(), Value::String(uid.clone()));
        meta.insert("creationTimestamp".into(), Value::String(now));
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if def.tracks_generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        let obj = Arc::new(obj);
        let oref = ObjRef {
            res: key.clone(),
            ns: ns.clone(),
            name: name.clone(),
        };
        self.index(&oref, &obj);
        if let Some(t) = self.tables.get_mut(key) {
            t.objects.insert((ns.clone(), name), obj.clone());
        }
        self.record(Change {
            rv,
            res: key.clone(),
            ns,
            kind: EventType::Added,
            object: obj.clone(),
            old: None,
        });
        if !owner_uids(&obj).is_empty() {
            self.gc_queue.push_back(GcItem::Object(oref));
        }
        self.run_gc();
        Ok(obj)
    }

    fn require_namespace(&self, ns: &str) -> ApiResult<()> {
        if ns.is_empty() {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let namespace = self.get(&ResKey::new("", "namespaces"), "", ns)?;
        if namespace.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!("unable to create new content in namespace {ns} because it is being terminated"),
                details: None,
            });
        }
        Ok(())
    }

    fn index(&mut self, oref: &ObjRef, obj: &Value) {
        let uid = meta_str(obj, "uid").to_string();
        self.uids.insert(uid, oref.clone());
        for owner in owner_uids(obj) {
            self.dependents.entry(owner).or_default().insert(oref.clone());
        }
    }

    fn unindex(&mut self, oref: &ObjRef, obj: &Value) {
        self.uids.remove(meta_str(obj, "uid"));
        for owner in owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(oref);
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }

    /// Queues for the garbage collector what may be waiting on `oref` to go away: owners it no
    /// longer references (foreground deletion waits for dependents) and, once it is removed
    /// (`new` None), its namespace and the CRD serving it (both wait for their content).
    fn requeue_waiters(&mut self, oref: &ObjRef, old: &Value, new: Option<&Value>) {
        let still = new.map(owner_uids).unwrap_or_default();
        let mut waiters: Vec<ObjRef> = owner_uids(old)
            .into_iter()
            .filter(|o| !still.contains(o))
            .filter_map(|o| self.uids.get(&o).cloned())
            .collect();
        if new.is_none() {
            if !oref.ns.is_empty() {
                waiters.push(ObjRef {
                    res: ResKey::new("", "namespaces"),
                    ns: String::new(),
                    name: oref.ns.clone(),
                });
            }
            if self.tables.get(&oref.res).is_some_and(|t| t.def.origin == Origin::Crd) {
                waiters.push(ObjRef {
                    res: ResKey::new("apiextensions.k8s.io", "customresourcedefinitions"),
                    ns: String::new(),
                    name: format!("{}.{}", oref.res.plural, oref.res.group),
                });
            }
        }
        for waiter in waiters {
            let terminating = self
                .get(&waiter.res, &waiter.ns, &waiter.name)
                .is_ok_and(|w| w.pointer("/metadata/deletionTimestamp").is_some());
            if terminating {
                self.gc_queue.push_back(GcItem::Object(waiter));
            }
        }
    }

    /// Replaces an object with `new` after checking its resourceVersion precondition.
    /// Keeps what clients cannot change (uid, creationTimestamp, deletionTimestamp) and bumps
    /// generation when anything outside metadata and status changed.
    pub fn update(&mut self, key: &ResKey, ns: &str, name: &str, mut new: Value) -> ApiResult<Arc<Value>> {
        let def = self.table(key)?.def.clone();
        let old = self.get(key, ns, name)?;
        let sent_rv = meta_str(&new, "resourceVersion");
        if !sent_rv.is_empty() && sent_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(
                &key.group,
                &key.plural,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        if !meta_str(&new, "uid").is_empty() && meta_str(&new, "uid") != meta_str(&old, "uid") {
            return Err(ApiError::conflict(
                &key.group,
                &key.plural,
                name,
                "Precondition failed: UID in precondition does not match the UID of the object",
            ));
        }
        {
            let meta = ensure_meta(&mut new);
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old.pointer(&format!("/metadata/{field}")) {
                    Some(v) => meta.insert(field.to_string(), v.clone()),
                    None => meta.remove(field),
                };
            }
            meta.insert("name".into(), Value::String(name.to_string()));
            if def.namespaced {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            } else {
                meta.remove("namespace");
            }
            meta.insert("resourceVersion".into(), old["metadata"]["resourceVersion"].clone());
        }
        if without_rv(&new) == without_rv(&old) {
            // A no-op write does not bump the resourceVersion nor notify watchers.
            return Ok(old);
        }
        // A terminating object may not gain finalizers it did not have.
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            let before = finalizers(&old);
            if let Some(added) = finalizers(&new).into_iter().find(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![crate::error::Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                        ),
                        field: "metadata.finalizers".into(),
                    }],
                ));
            }
        }
        if def.tracks_generation && spec_changed(&old, &new) {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            ensure_meta(&mut new).insert("generation".into(), json!(generation));
        }
        let rv = self.next_rv();
        ensure_meta(&mut new).insert("resourceVersion".into(), Value::String(rv.to_string()));
        let new = Arc::new(new);
        let oref = ObjRef {
            res: key.clone(),
            ns: ns.to_string(),
            name: name.to_string(),
        };
        self.unindex(&oref, &old);
        self.index(&oref, &new);
        self.requeue_waiters(&oref, &old, Some(&new));
        if let Some(t) = self.tables.get_mut(key) {
            t.objects.insert((ns.to_string(), name.to_string()), new.clone());
        }
        self.record(Change {
            rv,
            res: key.clone(),
            ns: ns.to_string(),
            kind: EventType::Modified,
            object: new.clone(),
            old: Some(old),
        });
        self.gc_queue.push_back(GcItem::Object(oref));
        self.run_gc();
        Ok(new)
    }

    /// Removes an object for good and records the DELETED event.
    pub(crate) fn remove(&mut self, oref: &ObjRef) -> Option<Arc<Value>> {
        let table = self.tables.get_mut(&oref.res)?;
        let old = table.objects.remove(&(oref.ns.clone(), oref.name.clone()))?;
        let rv = self.next_rv();
        let mut last = (*old).clone();
        ensure_meta(&mut last).insert("resourceVersion".into(), Value::String(rv.to_string()));
        let last = Arc::new(last);
        self.unindex(oref, &old);
        self.gc_queue.push_back(GcItem::OwnerGone(meta_str(&old, "uid").to_string()));
        self.requeue_waiters(oref, &old, None);
        self.record(Change {
            rv,
            res: oref.res.clone(),
            ns: oref.ns.clone(),
            kind: EventType::Deleted,
            object: last.clone(),
            old: Some(old),
        });
        Some(last)
    }

    /// Applies a change to an object's metadata without the update checks (used by the
    /// garbage collector and deletion), recording a MODIFIED event.
    pub(crate) fn touch(&mut self, oref: &ObjRef, f: impl FnOnce(&mut Value)) -> Option<Arc<Value>> {
        let old = self
            .tables
            .get(&oref.res)?
            .objects
            .get(&(oref.ns.clone(), oref.name.clone()))?
            .clone();
        let mut new = (*old).clone();
        f(&mut new);
        if new == *old {
            return Some(old);
        }
        let rv = self.next_rv();
        ensure_meta(&mut new).insert("resourceVersion".into(), Value::String(rv.to_string()));
        let new = Arc::new(new);
        self.unindex(oref, &old);
        self.index(oref, &new);
        self.requeue_waiters(oref, &old, Some(&new));
        if let Some(t) = self.tables.get_mut(&oref.res) {
            t.objects.insert((oref.ns.clone(), oref.name.clone()), new.clone());
        }
        self.record(Change {
            rv,
            res: oref.res.clone(),
            ns: oref.ns.clone(),
            kind: EventType::Modified,
            object: new.clone(),
            old: Some(old),
        });
        self.gc_queue.push_back(GcItem::Object(oref.clone()));
        Some(new)
    }

    /// Empties the cluster (a corrupted management cluster): every object and all history go.
    /// resourceVersions keep counting up so that old watch positions are rejected with 410.
    pub fn wipe(&mut self) {
        let rv = self.rv;
        let fresh = State::new(self.clock.clone(), self.next_random(), self.history_capacity);
        let events = self.events.clone();
        *self = fresh;
        self.events = events;
        self.rv = self.rv.max(rv + 1);
        self.compact();
    }
}

/// A string field of `metadata` ("" when absent).
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or("")
}

/// `metadata` as a mutable map, created when missing.
pub fn ensure_meta(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("just made an object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

/// The uids of an object's owners.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The finalizers of an object.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The object as compared to decide whether a write is a no-op: without resourceVersion and
/// without managedFields timestamps (kube-apiserver ignores those alone, but a change of field
/// ownership, e.g. a forced apply of an unchanged value, is a real change).
fn without_rv(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(entries) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("time");
            }
        }
    }
    copy
}

fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut c = v.clone();
        if let Some(m) = c.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        c
    };
    strip(old) != strip(new)
}
