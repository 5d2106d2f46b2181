//! Table of patch metadata (strategic-merge strategies and server-side-apply list keys) for built-in kinds.
//!
//! The facts come from the `patchStrategy`/`patchMergeKey` struct tags and the
//! `+listType`/`+listMapKey` markers of the Go types in `k8s.io/api` and
//! `k8s.io/apimachinery` (ObjectMeta). Only the types a DR drill touches are encoded; any
//! field not listed behaves like an untagged Go field: maps merge, lists replace
//! (strategic merge) and lists are atomic (server-side apply).

/// How strategic merge patch treats a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Smp {
    /// No tag: maps merge recursively, lists are replaced.
    Default,
    /// `patchStrategy: merge`; lists of maps merge by the key, lists of primitives are unioned.
    Merge(Option<&'static str>),
    /// `patchStrategy: replace`: the value is replaced wholesale, even for maps.
    Replace,
}

/// How server-side apply treats a list field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ssa {
    /// `+listType=atomic` (the default for built-ins): the list is one value.
    Atomic,
    /// `+listType=set`: a set of primitives.
    Set,
    /// `+listType=map` with these `+listMapKey`s.
    Map(&'static [&'static str]),
}

/// One tagged field: `owner` type, JSON name, type of the value (or list element), strategies.
struct Field {
    owner: &'static str,
    name: &'static str,
    ty: &'static str,
    smp: Smp,
    ssa: Ssa,
}

const fn f(owner: &'static str, name: &'static str, ty: &'static str, smp: Smp, ssa: Ssa) -> Field {
    Field { owner, name, ty, smp, ssa }
}

const fn by(key: &'static str) -> Smp {
    Smp::Merge(Some(key))
}

use Smp::{Default as Untagged, Replace};
use Ssa::{Atomic, Map, Set};

/// Union of primitives (`patchStrategy: merge` without a merge key).
const UNION: Smp = Smp::Merge(None);

/// The tagged fields. Type names follow the Go structs; `""` means "not modelled".
const FIELDS: &[Field] = &[
    // metav1.ObjectMeta
    f("ObjectMeta", "finalizers", "", UNION, Set),
    f("ObjectMeta", "ownerReferences", "", by("uid"), Map(&["uid"])),
    // core/v1 PodSpec and friends
    f("PodTemplateSpec", "spec", "PodSpec", Untagged, Atomic),
    f("PodSpec", "containers", "Container", by("name"), Map(&["name"])),
    f("PodSpec", "initContainers", "Container", by("name"), Map(&["name"])),
    f("PodSpec", "ephemeralContainers", "Container", by("name"), Map(&["name"])),
    f("PodSpec", "volumes", "", by("name"), Map(&["name"])),
    f("PodSpec", "imagePullSecrets", "", by("name"), Map(&["name"])),
    f("PodSpec", "hostAliases", "", by("ip"), Map(&["ip"])),
    f(
        "PodSpec",
        "topologySpreadConstraints",
        "",
        by("topologyKey"),
        Map(&["topologyKey", "whenUnsatisfiable"]),
    ),
    f("PodSpec", "schedulingGates", "", by("name"), Map(&["name"])),
    f("PodSpec", "resourceClaims", "", by("name"), Map(&["name"])),
    f("Container", "ports", "", by("containerPort"), Map(&["containerPort", "protocol"])),
    f("Container", "env", "", by("name"), Map(&["name"])),
    f("Container", "volumeMounts", "", by("mountPath"), Map(&["mountPath"])),
    f("Container", "volumeDevices", "", by("devicePath"), Map(&["devicePath"])),
    f("Container", "resources", "ResourceRequirements", Untagged, Atomic),
    f("ResourceRequirements", "claims", "", Untagged, Map(&["name"])),
    f("PodStatus", "conditions", "", by("type"), Map(&["type"])),
    f("PodStatus", "podIPs", "", by("ip"), Map(&["ip"])),
    f("PodStatus", "hostIPs", "", by("ip"), Atomic),
    f("PodStatus", "resourceClaimStatuses", "", by("name"), Map(&["name"])),
    // core/v1 Node
    f("NodeSpec", "podCIDRs", "", UNION, Set),
    f("NodeStatus", "conditions", "", by("type"), Map(&["type"])),
    f("NodeStatus", "addresses", "", by("type"), Map(&["type"])),
    // core/v1 Service, ServiceAccount
    f("ServiceSpec", "ports", "", by("port"), Map(&["port", "protocol"])),
    f("ServiceAccount", "secrets", "", by("name"), Map(&["name"])),
    // every `status.conditions` keyed by type (Namespace, PVC, Service, workloads, PDB)
    f("ConditionsStatus", "conditions", "", by("type"), Map(&["type"])),
    // workloads: the pod template
    f("WorkloadSpec", "template", "PodTemplateSpec", Untagged, Atomic),
    f("CronJobSpec", "jobTemplate", "JobTemplateSpec", Untagged, Atomic),
    f("JobTemplateSpec", "spec", "WorkloadSpec", Untagged, Atomic),
    f("PodTemplate", "template", "PodTemplateSpec", Untagged, Atomic),
    // policy/v1
    f("PodDisruptionBudgetSpec", "selector", "", Replace, Atomic),
    // storage/v1
    f("CSINodeSpec", "drivers", "", by("name"), Map(&["name"])),
    // roots
    f("Pod", "spec", "PodSpec", Untagged, Atomic),
    f("Pod", "status", "PodStatus", Untagged, Atomic),
    f("Node", "spec", "NodeSpec", Untagged, Atomic),
    f("Node", "status", "NodeStatus", Untagged, Atomic),
    f("Service", "spec", "ServiceSpec", Untagged, Atomic),
    f("Service", "status", "ConditionsStatus", Untagged, Atomic),
    f("Namespace", "status", "ConditionsStatus", Untagged, Atomic),
    f("PersistentVolumeClaim", "status", "ConditionsStatus", Untagged, Atomic),
    f("Workload", "spec", "WorkloadSpec", Untagged, Atomic),
    f("Workload", "status", "ConditionsStatus", Untagged, Atomic),
    f("CronJob", "spec", "CronJobSpec", Untagged, Atomic),
    f("PodDisruptionBudget", "spec", "PodDisruptionBudgetSpec", Untagged, Atomic),
    f("PodDisruptionBudget", "status", "ConditionsStatus", Untagged, Atomic),
    f("CSINode", "spec", "CSINodeSpec", Untagged, Atomic),
];

/// Built-in (group, kind) pairs that accept strategic merge patch, with their root type.
const ROOTS: &[(&str, &str, &str)] = &[
    ("", "Pod", "Pod"),
    ("", "Node", "Node"),
    ("", "Service", "Service"),
    ("", "Namespace", "Namespace"),
    ("", "ConfigMap", "Object"),
    ("", "Secret", "Object"),
    ("", "ServiceAccount", "ServiceAccount"),
    ("", "PersistentVolume", "Object"),
    ("", "PersistentVolumeClaim", "PersistentVolumeClaim"),
    ("", "Event", "Object"),
    ("", "Endpoints", "Object"),
    ("", "LimitRange", "Object"),
    ("", "ResourceQuota", "Object"),
    ("", "ReplicationController", "Workload"),
    ("", "PodTemplate", "PodTemplate"),
    ("apps", "Deployment", "Workload"),
    ("apps", "ReplicaSet", "Workload"),
    ("apps", "DaemonSet", "Workload"),
    ("apps", "StatefulSet", "Workload"),
    ("apps", "ControllerRevision", "Object"),
    ("batch", "Job", "Workload"),
    ("batch", "CronJob", "CronJob"),
    ("coordination.k8s.io", "Lease", "Object"),
    ("events.k8s.io", "Event", "Object"),
    ("policy", "PodDisruptionBudget", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role", "Object"),
    ("rbac.authorization.k8s.io", "ClusterRole", "Object"),
    ("rbac.authorization.k8s.io", "RoleBinding", "Object"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "Object"),
    ("storage.k8s.io", "StorageClass", "Object"),
    ("storage.k8s.io", "VolumeAttachment", "Object"),
    ("storage.k8s.io", "CSIDriver", "Object"),
    ("storage.k8s.io", "CSINode", "CSINode"),
    ("networking.k8s.io", "Ingress", "Object"),
    ("networking.k8s.io", "IngressClass", "Object"),
    ("networking.k8s.io", "NetworkPolicy", "Object"),
    ("discovery.k8s.io", "EndpointSlice", "Object"),
    ("scheduling.k8s.io", "PriorityClass", "Object"),
];

/// Root type of a built-in kind, if it is one.
pub(crate) fn root_type(group: &str, kind: &str) -> Option<&'static str> {
    ROOTS.iter().find(|(g, k, _)| *g == group && *k == kind).map(|(_, _, t)| *t)
}

/// Whether strategic merge patch is available for this kind (built-ins only; custom resources get 415).
pub fn supports_strategic_merge(group: &str, kind: &str) -> bool {
    root_type(group, kind).is_some()
}

/// Patch metadata of a field of a (possibly unmodelled, `""`) type: child type and strategy.
pub(crate) fn field(owner: &str, name: &str) -> (&'static str, Smp) {
    if owner.is_empty() {
        return ("", Smp::Default);
    }
    if name == "metadata" {
        // Every built-in object and template embeds ObjectMeta under `metadata`.
        return ("ObjectMeta", Smp::Default);
    }
    FIELDS
        .iter()
        .find(|fd| fd.owner == owner && fd.name == name)
        .map_or(("", Smp::Default), |fd| (fd.ty, fd.smp))
}

/// Server-side-apply list keys of a list at a dotted field path (list items add no segment,
/// e.g. `spec.template.spec.containers.ports`).
///
/// Returns `Some(keys)` for `+listType=map`, `Some(vec![])` for `+listType=set` and `None` for
/// atomic lists or unknown paths. Unknown kinds (custom resources) still resolve `metadata.*`
/// (finalizers, ownerReferences), so a server can consult this before a CRD schema.
pub fn builtin_list_keys(group: &str, kind: &str, path: &str) -> Option<Vec<String>> {
    let mut ty = root_type(group, kind).unwrap_or("Object");
    let mut segments = path.split('.').peekable();
    while let Some(seg) = segments.next() {
        if segments.peek().is_none() {
            let fd = FIELDS.iter().find(|fd| fd.owner == ty && fd.name == seg)?;
            return match fd.ssa {
                Atomic => None,
                Set => Some(Vec::new()),
                Map(keys) => Some(keys.iter().map(|k| (*k).to_string()).collect()),
            };
        }
        let (next, _) = field(ty, seg);
        if next.is_empty() {
            return None;
        }
        ty = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_template_paths_resolve_for_workloads() {
        assert_eq!(
            builtin_list_keys("apps", "Deployment", "spec.template.spec.containers"),
            Some(vec!["name".to_string()])
        );
        assert_eq!(
            builtin_list_keys("batch", "CronJob", "spec.jobTemplate.spec.template.spec.containers.ports"),
            Some(vec!["containerPort".to_string(), "protocol".to_string()])
        );
        assert_eq!(builtin_list_keys("", "Pod", "spec.containers.args"), None);
        assert_eq!(builtin_list_keys("", "Node", "spec.taints"), None);
        assert_eq!(builtin_list_keys("", "Pod", "spec.tolerations"), None);
        assert_eq!(builtin_list_keys("", "Pod", "status.hostIPs"), None);
    }

    #[test]
    fn metadata_lists_resolve_for_any_kind() {
        assert_eq!(builtin_list_keys("example.io", "Widget", "metadata.finalizers"), Some(vec![]));
        assert_eq!(
            builtin_list_keys("example.io", "Widget", "metadata.ownerReferences"),
            Some(vec!["uid".to_string()])
        );
        assert_eq!(builtin_list_keys("example.io", "Widget", "spec.items"), None);
    }

    #[test]
    fn strategic_merge_support_is_limited_to_builtins() {
        assert!(supports_strategic_merge("", "Node"));
        assert!(supports_strategic_merge("apps", "Deployment"));
        assert!(!supports_strategic_merge("cluster.x-k8s.io", "Cluster"));
        assert!(!supports_strategic_merge("apps", "Pod"));
    }

    #[test]
    fn field_lookup_reports_strategies() {
        assert_eq!(field("PodSpec", "containers"), ("Container", by("name")));
        assert_eq!(field("NodeSpec", "taints"), ("", Smp::Default));
        assert_eq!(field("PodDisruptionBudgetSpec", "selector"), ("", Smp::Replace));
        assert_eq!(field("Workload", "metadata"), ("ObjectMeta", Smp::Default));
    }
}
