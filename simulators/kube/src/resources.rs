//! What the server serves: built-in resource definitions and those CRDs add at run time.

use std::sync::Arc;

use serde_json::Value;

use crate::validation::CrdSchema;

/// How a `scale` subresource maps onto an object (fixed for built-ins, CRD-declared otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSpec {
    /// JSON path of the desired replicas, e.g. `.spec.replicas`.
    pub spec_replicas_path: String,
    /// JSON path of the observed replicas, e.g. `.status.replicas`.
    pub status_replicas_path: String,
    /// JSON path of the serialized label selector, if any.
    pub label_selector_path: Option<String>,
}

/// One served version of a resource.
#[derive(Debug, Clone)]
pub struct VersionDef {
    /// The version name, e.g. `v1beta1`.
    pub name: String,
    /// CRD `additionalPrinterColumns` (raw), empty for built-ins.
    pub printer_columns: Vec<Value>,
    /// The compiled `openAPIV3Schema`, for CRDs that carry one.
    pub schema: Option<CrdSchema>,
    /// The raw `openAPIV3Schema`, published under `/openapi/v3`.
    pub raw_schema: Option<Value>,
}

/// Where a resource comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the server.
    Builtin,
    /// Added by a CustomResourceDefinition.
    Crd,
}

/// A resource the server serves under `/api` or `/apis`.
#[derive(Debug, Clone)]
pub struct ResourceDef {
    /// API group, `""` for core.
    pub group: String,
    /// Served versions, preferred (storage) first.
    pub versions: Vec<VersionDef>,
    /// Plural resource name as in URLs.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind of one object.
    pub kind: String,
    /// Kind of a list.
    pub list_kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Categories (`kubectl get all`, `kubectl get cluster-api`).
    pub categories: Vec<String>,
    /// Whether a `status` subresource splits spec and status writes.
    pub status_subresource: bool,
    /// The `scale` subresource, if any.
    pub scale: Option<ScaleSpec>,
    /// Whether `metadata.generation` is maintained.
    pub tracks_generation: bool,
    /// Field labels accepted in `fieldSelector` besides `metadata.name`/`metadata.namespace`.
    pub field_labels: Vec<&'static str>,
    /// Built-in or CRD.
    pub origin: Origin,
}

/// Identifies a resource independent of version: (group, plural).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResKey {
    /// API group.
    pub group: Arc<str>,
    /// Plural name.
    pub plural: Arc<str>,
}

impl ResKey {
    /// A key from group and plural.
    pub fn new(group: &str, plural: &str) -> Self {
        ResKey {
            group: group.into(),
            plural: plural.into(),
        }
    }
}

impl ResourceDef {
    /// The version-independent key.
    pub fn key(&self) -> ResKey {
        ResKey::new(&self.group, &self.plural)
    }

    /// The storage (preferred) version.
    pub fn storage_version(&self) -> &str {
        &self.versions[0].name
    }

    /// The served version named `name`.
    pub fn version(&self, name: &str) -> Option<&VersionDef> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// `apiVersion` for a version of this resource.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// Verbs advertised in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    /// Whether the field label may be used in a field selector for this resource.
    pub fn supports_field(&self, field: &str) -> bool {
        field == "metadata.name" || (self.namespaced && field == "metadata.namespace") || self.field_labels.contains(&field)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    generation: bool,
    fields: &'static [&'static str],
}

const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short: &[],
        categories: &[],
        status: true,
        scale: false,
        generation: false,
        fields: &[],
    }
}

const ALL: &[&str] = &["all"];

fn builtin_table() -> Vec<Builtin> {
    vec![
        Builtin {
            status: true,
            short: &["ns"],
            fields: &["status.phase"],
            ..b("", "v1", "namespaces", "namespace", "Namespace", false)
        },
        Builtin {
            short: &["no"],
            fields: &["spec.unschedulable"],
            ..b("", "v1", "nodes", "node", "Node", false)
        },
        Builtin {
            short: &["po"],
            categories: ALL,
            fields: &[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ],
            ..b("", "v1", "pods", "pod", "Pod", true)
        },
        Builtin {
            short: &["svc"],
            categories: ALL,
            ..b("", "v1", "services", "service", "Service", true)
        },
        Builtin {
            short: &["cm"],
            status: false,
            ..b("", "v1", "configmaps", "configmap", "ConfigMap", true)
        },
        Builtin {
            status: false,
            fields: &["type"],
            ..b("", "v1", "secrets", "secret", "Secret", true)
        },
        Builtin {
            short: &["sa"],
            status: false,
            ..b("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true)
        },
        Builtin {
            short: &["ev"],
            status: false,
            fields: &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
            ..b("", "v1", "events", "event", "Event", true)
        },
        Builtin {
            short: &["pv"],
            fields: &["name"],
            ..b("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false)
        },
        Builtin {
            short: &["pvc"],
            fields: &["name"],
            ..b(
                "",
                "v1",
                "persistentvolumeclaims",
                "persistentvolumeclaim",
                "PersistentVolumeClaim",
                true,
            )
        },
        Builtin {
            short: &["sc"],
            status: false,
            ..b("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false)
        },
        Builtin {
            short: &["deploy"],
            categories: ALL,
            scale: true,
            generation: true,
            ..b("apps", "v1", "deployments", "deployment", "Deployment", true)
        },
        Builtin {
            short: &["rs"],
            categories: ALL,
            scale: true,
            generation: true,
            ..b("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true)
        },
        Builtin {
            short: &["ds"],
            categories: ALL,
            generation: true,
            ..b("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true)
        },
        Builtin {
            short: &["sts"],
            categories: ALL,
            scale: true,
            generation: true,
            ..b("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true)
        },
        Builtin {
            status: false,
            ..b("coordination.k8s.io", "v1", "leases", "lease", "Lease", true)
        },
        // RBAC objects are stored and served (`velero install` creates a ClusterRoleBinding);
        // the simulated server does not authorize requests by them.
        Builtin {
            status: false,
            ..b(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterroles",
                "clusterrole",
                "ClusterRole",
                false,
            )
        },
        Builtin {
            status: false,
            ..b(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterrolebindings",
                "clusterrolebinding",
                "ClusterRoleBinding",
                false,
            )
        },
        Builtin {
            status: false,
            ..b("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true)
        },
        Builtin {
            status: false,
            ..b(
                "rbac.authorization.k8s.io",
                "v1",
                "rolebindings",
                "rolebinding",
                "RoleBinding",
                true,
            )
        },
        Builtin {
            short: &["crd", "crds"],
            categories: &["api-extensions"],
            generation: true,
            ..b(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "customresourcedefinition",
                "CustomResourceDefinition",
                false,
            )
        },
    ]
}

/// The built-in resources every simulated cluster serves.
pub fn builtins() -> Vec<ResourceDef> {
    builtin_table()
        .into_iter()
        .map(|b| ResourceDef {
            group: b.group.to_string(),
            versions: vec![VersionDef {
                name: b.version.to_string(),
                printer_columns: Vec::new(),
                schema: None,
                raw_schema: None,
            }],
            plural: b.plural.to_string(),
            singular: b.singular.to_string(),
            kind: b.kind.to_string(),
            list_kind: format!("{}List", b.kind),
            namespaced: b.namespaced,
            short_names: b.short.iter().map(|s| s.to_string()).collect(),
            categories: b.categories.iter().map(|s| s.to_string()).collect(),
            status_subresource: b.status,
            scale: b.scale.then(|| ScaleSpec {
                spec_replicas_path: ".spec.replicas".into(),
                status_replicas_path: ".status.replicas".into(),
                label_selector_path: Some(".spec.selector".into()),
            }),
            tracks_generation: b.generation,
            field_labels: b.fields.to_vec(),
            origin: Origin::Builtin,
        })
        .collect()
}

/// Extra subresources of built-ins that discovery must list (kubectl drain looks for `pods/eviction`).
pub struct ExtraSubresource {
    /// Parent plural.
    pub parent: &'static str,
    /// Subresource name.
    pub name: &'static str,
    /// Group of the subresource's kind.
    pub group: &'static str,
    /// Version of the subresource's kind.
    pub version: &'static str,
    /// Kind sent to the subresource.
    pub kind: &'static str,
    /// Verbs.
    pub verbs: &'static [&'static str],
}

/// Subresources beyond status/scale.
pub const EXTRA_SUBRESOURCES: &[ExtraSubresource] = &[ExtraSubresource {
    parent: "pods",
    name: "eviction",
    group: "policy",
    version: "v1",
    kind: "Eviction",
    verbs: &["create"],
}];
