//! Message descriptor tables (field numbers from k8s.io/api and apimachinery `generated.proto`).
//!
//! Each field records its protobuf number, its JSON name, its wire-level kind, its shape
//! (singular, repeated or `map<string, V>`) and how Go's `encoding/json` treats it when it is
//! unset or zero (see [`Presence`]), so the decoded JSON matches what kube-apiserver would emit.

/// The value kind of a field (or of a repeated element, or of a map value).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `string` (invalid UTF-8 is replaced, as Go's JSON encoder does).
    Str,
    /// `bytes`, rendered as standard padded base64 like Go's `[]byte`.
    Bytes,
    /// `int32` varint.
    I32,
    /// `int64` varint.
    I64,
    /// `bool` varint.
    Bool,
    /// A nested message.
    Msg(&'static MessageDesc),
    /// `metav1.Time` {seconds, nanos}: RFC 3339 in UTC, seconds precision; empty means zero time.
    Time,
    /// `resource.Quantity` {1: string}, rendered as its string.
    Quantity,
}

/// Whether a field holds one value, a list, or a `map<string, V>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A singular field; the last occurrence wins (messages merge).
    Single,
    /// A repeated field (unpacked elements).
    Repeated,
    /// A `map<string, V>` field encoded as repeated entries {1: key, 2: value}.
    Map,
}

/// How the Go field behaves in JSON when unset or zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Value type with `omitempty`/`omitzero`: omitted when zero, empty or absent. On a
    /// singular message it behaves like `Always` (Go never omits struct values).
    Omit,
    /// Value type without omission (or a struct): always emitted, as its zero value if absent
    /// (`""`, `0`, `false`, `{}`-like defaults, `null` for a nil list/map or zero time).
    Always,
    /// Pointer with `omitempty`: emitted iff present on the wire, even when zero.
    Pointer,
    /// Pointer without `omitempty`: emitted when present, `null` when absent.
    Nullable,
}

/// How a message is turned into JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Render {
    /// A JSON object keyed by the fields' JSON names.
    Object,
    /// `intstr.IntOrString` {1: type, 2: intVal, 3: strVal}: a JSON number or string.
    IntOrString,
}

/// One field of a message descriptor.
#[derive(Debug)]
pub(crate) struct FieldDesc {
    /// Protobuf field number.
    pub number: u32,
    /// JSON field name.
    pub json: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Singular, repeated or map.
    pub shape: Shape,
    /// Go JSON omission behaviour.
    pub presence: Presence,
}

/// A message descriptor: its protobuf name, fields and rendering.
#[derive(Debug)]
pub(crate) struct MessageDesc {
    /// Message name, used in error messages.
    pub name: &'static str,
    /// Known fields; others are skipped by wire type.
    pub fields: &'static [FieldDesc],
    /// How the message becomes JSON.
    pub render: Render,
}

impl MessageDesc {
    /// The descriptor of field `number`, if known.
    pub(crate) fn field(&self, number: u32) -> Option<&'static FieldDesc> {
        self.fields.iter().find(|f| f.number == number)
    }
}

use Kind::{Bool, Bytes, I32, I64, Msg, Quantity, Str, Time};
use Presence::{Always, Nullable, Omit, Pointer};

const fn fd(number: u32, json: &'static str, kind: Kind, shape: Shape, presence: Presence) -> FieldDesc {
    FieldDesc {
        number,
        json,
        kind,
        shape,
        presence,
    }
}
/// Singular field.
const fn one(number: u32, json: &'static str, kind: Kind, presence: Presence) -> FieldDesc {
    fd(number, json, kind, Shape::Single, presence)
}
/// Repeated field with `omitempty`.
const fn rep(number: u32, json: &'static str, kind: Kind) -> FieldDesc {
    fd(number, json, kind, Shape::Repeated, Omit)
}
/// `map<string, V>` field with `omitempty`.
const fn map(number: u32, json: &'static str, kind: Kind) -> FieldDesc {
    fd(number, json, kind, Shape::Map, Omit)
}
const fn obj(name: &'static str, fields: &'static [FieldDesc]) -> MessageDesc {
    MessageDesc {
        name,
        fields,
        render: Render::Object,
    }
}

// ---- runtime (envelope) ----

/// `runtime.TypeMeta`.
pub(crate) static RUNTIME_TYPE_META: MessageDesc = obj("runtime.TypeMeta", &[one(1, "apiVersion", Str, Omit), one(2, "kind", Str, Omit)]);

// ---- meta/v1 ----

/// `intstr.IntOrString`.
pub(crate) static INT_OR_STRING: MessageDesc = MessageDesc {
    name: "IntOrString",
    fields: &[
        one(1, "type", I64, Always),
        one(2, "intVal", I32, Always),
        one(3, "strVal", Str, Always),
    ],
    render: Render::IntOrString,
};

static FIELDS_V1: MessageDesc = obj("FieldsV1", &[one(1, "Raw", Bytes, Omit)]);

static OWNER_REFERENCE: MessageDesc = obj(
    "OwnerReference",
    &[
        one(5, "apiVersion", Str, Always),
        one(1, "kind", Str, Always),
        one(3, "name", Str, Always),
        one(4, "uid", Str, Always),
        one(6, "controller", Bool, Pointer),
        one(7, "blockOwnerDeletion", Bool, Pointer),
    ],
);

static MANAGED_FIELDS_ENTRY: MessageDesc = obj(
    "ManagedFieldsEntry",
    &[
        one(1, "manager", Str, Omit),
        one(2, "operation", Str, Omit),
        one(3, "apiVersion", Str, Omit),
        one(4, "time", Time, Pointer),
        one(6, "fieldsType", Str, Omit),
        one(7, "fieldsV1", Msg(&FIELDS_V1), Pointer),
        one(8, "subresource", Str, Omit),
    ],
);

/// `metav1.ObjectMeta`.
pub(crate) static OBJECT_META: MessageDesc = obj(
    "ObjectMeta",
    &[
        one(1, "name", Str, Omit),
        one(2, "generateName", Str, Omit),
        one(3, "namespace", Str, Omit),
        one(4, "selfLink", Str, Omit),
        one(5, "uid", Str, Omit),
        one(6, "resourceVersion", Str, Omit),
        one(7, "generation", I64, Omit),
        // `omitempty,omitzero` in current apimachinery: a zero time is left out.
        one(8, "creationTimestamp", Time, Omit),
        one(9, "deletionTimestamp", Time, Pointer),
        one(10, "deletionGracePeriodSeconds", I64, Pointer),
        map(11, "labels", Str),
        map(12, "annotations", Str),
        rep(13, "ownerReferences", Msg(&OWNER_REFERENCE)),
        rep(14, "finalizers", Str),
        rep(17, "managedFields", Msg(&MANAGED_FIELDS_ENTRY)),
    ],
);

static PRECONDITIONS: MessageDesc = obj(
    "Preconditions",
    &[one(1, "uid", Str, Pointer), one(2, "resourceVersion", Str, Pointer)],
);

/// `metav1.DeleteOptions` (without type meta; the envelope supplies it at top level).
pub(crate) static DELETE_OPTIONS: MessageDesc = obj(
    "DeleteOptions",
    &[
        one(1, "gracePeriodSeconds", I64, Pointer),
        one(2, "preconditions", Msg(&PRECONDITIONS), Pointer),
        one(3, "orphanDependents", Bool, Pointer),
        one(4, "propagationPolicy", Str, Pointer),
        rep(5, "dryRun", Str),
        one(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool, Pointer),
    ],
);

static LABEL_SELECTOR_REQUIREMENT: MessageDesc = obj(
    "LabelSelectorRequirement",
    &[one(1, "key", Str, Always), one(2, "operator", Str, Always), rep(3, "values", Str)],
);

static LABEL_SELECTOR: MessageDesc = obj(
    "LabelSelector",
    &[
        map(1, "matchLabels", Str),
        rep(2, "matchExpressions", Msg(&LABEL_SELECTOR_REQUIREMENT)),
    ],
);

static CONDITION: MessageDesc = obj(
    "Condition",
    &[
        one(1, "type", Str, Always),
        one(2, "status", Str, Always),
        one(3, "observedGeneration", I64, Omit),
        one(4, "lastTransitionTime", Time, Always),
        one(5, "reason", Str, Always),
        one(6, "message", Str, Always),
    ],
);

// ---- core/v1 ----

static NAMESPACE_SPEC: MessageDesc = obj("NamespaceSpec", &[rep(1, "finalizers", Str)]);

static NAMESPACE_CONDITION: MessageDesc = obj(
    "NamespaceCondition",
    &[
        one(1, "type", Str, Always),
        one(2, "status", Str, Always),
        one(4, "lastTransitionTime", Time, Always),
        one(5, "reason", Str, Omit),
        one(6, "message", Str, Omit),
    ],
);

static NAMESPACE_STATUS: MessageDesc = obj(
    "NamespaceStatus",
    &[one(1, "phase", Str, Omit), rep(2, "conditions", Msg(&NAMESPACE_CONDITION))],
);

/// core/v1 `Namespace`.
pub(crate) static NAMESPACE: MessageDesc = obj(
    "Namespace",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(2, "spec", Msg(&NAMESPACE_SPEC), Always),
        one(3, "status", Msg(&NAMESPACE_STATUS), Always),
    ],
);

/// core/v1 `ConfigMap`.
pub(crate) static CONFIG_MAP: MessageDesc = obj(
    "ConfigMap",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(4, "immutable", Bool, Pointer),
        map(2, "data", Str),
        map(3, "binaryData", Bytes),
    ],
);

/// core/v1 `Secret`.
pub(crate) static SECRET: MessageDesc = obj(
    "Secret",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(5, "immutable", Bool, Pointer),
        map(2, "data", Bytes),
        map(4, "stringData", Str),
        one(3, "type", Str, Omit),
    ],
);

static OBJECT_REFERENCE: MessageDesc = obj(
    "ObjectReference",
    &[
        one(1, "kind", Str, Omit),
        one(2, "namespace", Str, Omit),
        one(3, "name", Str, Omit),
        one(4, "uid", Str, Omit),
        one(5, "apiVersion", Str, Omit),
        one(6, "resourceVersion", Str, Omit),
        one(7, "fieldPath", Str, Omit),
    ],
);

static LOCAL_OBJECT_REFERENCE: MessageDesc = obj("LocalObjectReference", &[one(1, "name", Str, Omit)]);

/// core/v1 `ServiceAccount`.
pub(crate) static SERVICE_ACCOUNT: MessageDesc = obj(
    "ServiceAccount",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "secrets", Msg(&OBJECT_REFERENCE)),
        rep(3, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
        one(4, "automountServiceAccountToken", Bool, Pointer),
    ],
);

static SERVICE_PORT: MessageDesc = obj(
    "ServicePort",
    &[
        one(1, "name", Str, Omit),
        one(2, "protocol", Str, Omit),
        one(6, "appProtocol", Str, Pointer),
        one(3, "port", I32, Always),
        one(4, "targetPort", Msg(&INT_OR_STRING), Always),
        one(5, "nodePort", I32, Omit),
    ],
);

static CLIENT_IP_CONFIG: MessageDesc = obj("ClientIPConfig", &[one(1, "timeoutSeconds", I32, Pointer)]);

static SESSION_AFFINITY_CONFIG: MessageDesc = obj("SessionAffinityConfig", &[one(1, "clientIP", Msg(&CLIENT_IP_CONFIG), Pointer)]);

static SERVICE_SPEC: MessageDesc = obj(
    "ServiceSpec",
    &[
        rep(1, "ports", Msg(&SERVICE_PORT)),
        map(2, "selector", Str),
        one(3, "clusterIP", Str, Omit),
        rep(18, "clusterIPs", Str),
        one(4, "type", Str, Omit),
        rep(5, "externalIPs", Str),
        one(7, "sessionAffinity", Str, Omit),
        one(8, "loadBalancerIP", Str, Omit),
        rep(9, "loadBalancerSourceRanges", Str),
        one(10, "externalName", Str, Omit),
        one(11, "externalTrafficPolicy", Str, Omit),
        one(12, "healthCheckNodePort", I32, Omit),
        one(13, "publishNotReadyAddresses", Bool, Omit),
        one(14, "sessionAffinityConfig", Msg(&SESSION_AFFINITY_CONFIG), Pointer),
        rep(19, "ipFamilies", Str),
        one(17, "ipFamilyPolicy", Str, Pointer),
        one(20, "allocateLoadBalancerNodePorts", Bool, Pointer),
        one(21, "loadBalancerClass", Str, Pointer),
        one(22, "internalTrafficPolicy", Str, Pointer),
        one(23, "trafficDistribution", Str, Pointer),
    ],
);

static PORT_STATUS: MessageDesc = obj(
    "PortStatus",
    &[
        one(1, "port", I32, Always),
        one(2, "protocol", Str, Always),
        one(3, "error", Str, Pointer),
    ],
);

static LOAD_BALANCER_INGRESS: MessageDesc = obj(
    "LoadBalancerIngress",
    &[
        one(1, "ip", Str, Omit),
        one(2, "hostname", Str, Omit),
        one(3, "ipMode", Str, Pointer),
        rep(4, "ports", Msg(&PORT_STATUS)),
    ],
);

static LOAD_BALANCER_STATUS: MessageDesc = obj("LoadBalancerStatus", &[rep(1, "ingress", Msg(&LOAD_BALANCER_INGRESS))]);

static SERVICE_STATUS: MessageDesc = obj(
    "ServiceStatus",
    &[
        one(1, "loadBalancer", Msg(&LOAD_BALANCER_STATUS), Always),
        rep(2, "conditions", Msg(&CONDITION)),
    ],
);

/// core/v1 `Service`.
pub(crate) static SERVICE: MessageDesc = obj(
    "Service",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(2, "spec", Msg(&SERVICE_SPEC), Always),
        one(3, "status", Msg(&SERVICE_STATUS), Always),
    ],
);

static CONTAINER_PORT: MessageDesc = obj(
    "ContainerPort",
    &[
        one(1, "name", Str, Omit),
        one(2, "hostPort", I32, Omit),
        one(3, "containerPort", I32, Always),
        one(4, "protocol", Str, Omit),
        one(5, "hostIP", Str, Omit),
    ],
);

static ENV_VAR: MessageDesc = obj("EnvVar", &[one(1, "name", Str, Always), one(2, "value", Str, Omit)]);

static RESOURCE_CLAIM: MessageDesc = obj("ResourceClaim", &[one(1, "name", Str, Always), one(2, "request", Str, Omit)]);

static RESOURCE_REQUIREMENTS: MessageDesc = obj(
    "ResourceRequirements",
    &[
        map(1, "limits", Quantity),
        map(2, "requests", Quantity),
        rep(3, "claims", Msg(&RESOURCE_CLAIM)),
    ],
);

static VOLUME_MOUNT: MessageDesc = obj(
    "VolumeMount",
    &[
        one(1, "name", Str, Always),
        one(2, "readOnly", Bool, Omit),
        one(7, "recursiveReadOnly", Str, Pointer),
        one(3, "mountPath", Str, Always),
        one(4, "subPath", Str, Omit),
        one(5, "mountPropagation", Str, Pointer),
        one(6, "subPathExpr", Str, Omit),
    ],
);

static CONTAINER: MessageDesc = obj(
    "Container",
    &[
        one(1, "name", Str, Always),
        one(2, "image", Str, Omit),
        rep(3, "command", Str),
        rep(4, "args", Str),
        one(5, "workingDir", Str, Omit),
        rep(6, "ports", Msg(&CONTAINER_PORT)),
        rep(7, "env", Msg(&ENV_VAR)),
        one(8, "resources", Msg(&RESOURCE_REQUIREMENTS), Always),
        one(24, "restartPolicy", Str, Pointer),
        rep(9, "volumeMounts", Msg(&VOLUME_MOUNT)),
        one(13, "terminationMessagePath", Str, Omit),
        one(20, "terminationMessagePolicy", Str, Omit),
        one(14, "imagePullPolicy", Str, Omit),
        one(16, "stdin", Bool, Omit),
        one(17, "stdinOnce", Bool, Omit),
        one(18, "tty", Bool, Omit),
    ],
);

static POD_SPEC: MessageDesc = obj(
    "PodSpec",
    &[
        rep(20, "initContainers", Msg(&CONTAINER)),
        fd(2, "containers", Msg(&CONTAINER), Shape::Repeated, Always),
        one(3, "restartPolicy", Str, Omit),
        one(4, "terminationGracePeriodSeconds", I64, Pointer),
        one(5, "activeDeadlineSeconds", I64, Pointer),
        one(6, "dnsPolicy", Str, Omit),
        map(7, "nodeSelector", Str),
        one(8, "serviceAccountName", Str, Omit),
        one(9, "serviceAccount", Str, Omit),
        one(21, "automountServiceAccountToken", Bool, Pointer),
        one(10, "nodeName", Str, Omit),
        one(11, "hostNetwork", Bool, Omit),
        one(12, "hostPID", Bool, Omit),
        one(13, "hostIPC", Bool, Omit),
        one(27, "shareProcessNamespace", Bool, Pointer),
        rep(15, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
        one(16, "hostname", Str, Omit),
        one(17, "subdomain", Str, Omit),
        one(19, "schedulerName", Str, Omit),
        one(24, "priorityClassName", Str, Omit),
        one(25, "priority", I32, Pointer),
        one(29, "runtimeClassName", Str, Pointer),
        one(30, "enableServiceLinks", Bool, Pointer),
        one(31, "preemptionPolicy", Str, Pointer),
        map(32, "overhead", Quantity),
        one(35, "setHostnameAsFQDN", Bool, Pointer),
        one(37, "hostUsers", Bool, Pointer),
    ],
);

static POD_TEMPLATE_SPEC: MessageDesc = obj(
    "PodTemplateSpec",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(2, "spec", Msg(&POD_SPEC), Always),
    ],
);

// ---- apps/v1 ----

static ROLLING_UPDATE_DEPLOYMENT: MessageDesc = obj(
    "RollingUpdateDeployment",
    &[
        one(1, "maxUnavailable", Msg(&INT_OR_STRING), Pointer),
        one(2, "maxSurge", Msg(&INT_OR_STRING), Pointer),
    ],
);

static DEPLOYMENT_STRATEGY: MessageDesc = obj(
    "DeploymentStrategy",
    &[
        one(1, "type", Str, Omit),
        one(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DEPLOYMENT), Pointer),
    ],
);

static DEPLOYMENT_SPEC: MessageDesc = obj(
    "DeploymentSpec",
    &[
        one(1, "replicas", I32, Pointer),
        one(2, "selector", Msg(&LABEL_SELECTOR), Nullable),
        one(3, "template", Msg(&POD_TEMPLATE_SPEC), Always),
        one(4, "strategy", Msg(&DEPLOYMENT_STRATEGY), Always),
        one(5, "minReadySeconds", I32, Omit),
        one(6, "revisionHistoryLimit", I32, Pointer),
        one(7, "paused", Bool, Omit),
        one(9, "progressDeadlineSeconds", I32, Pointer),
    ],
);

static DEPLOYMENT_CONDITION: MessageDesc = obj(
    "DeploymentCondition",
    &[
        one(1, "type", Str, Always),
        one(2, "status", Str, Always),
        one(6, "lastUpdateTime", Time, Always),
        one(7, "lastTransitionTime", Time, Always),
        one(4, "reason", Str, Omit),
        one(5, "message", Str, Omit),
    ],
);

static DEPLOYMENT_STATUS: MessageDesc = obj(
    "DeploymentStatus",
    &[
        one(1, "observedGeneration", I64, Omit),
        one(2, "replicas", I32, Omit),
        one(3, "updatedReplicas", I32, Omit),
        one(7, "readyReplicas", I32, Omit),
        one(4, "availableReplicas", I32, Omit),
        one(5, "unavailableReplicas", I32, Omit),
        one(9, "terminatingReplicas", I32, Pointer),
        rep(6, "conditions", Msg(&DEPLOYMENT_CONDITION)),
        one(8, "collisionCount", I32, Pointer),
    ],
);

/// apps/v1 `Deployment`.
pub(crate) static DEPLOYMENT: MessageDesc = obj(
    "Deployment",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(2, "spec", Msg(&DEPLOYMENT_SPEC), Always),
        one(3, "status", Msg(&DEPLOYMENT_STATUS), Always),
    ],
);

// ---- policy/v1 ----

/// policy/v1 (and v1beta1) `Eviction`.
pub(crate) static EVICTION: MessageDesc = obj(
    "Eviction",
    &[
        one(1, "metadata", Msg(&OBJECT_META), Always),
        one(2, "deleteOptions", Msg(&DELETE_OPTIONS), Pointer),
    ],
);

/// Top-level kinds: (apiVersion, kind, descriptor). `None` as apiVersion accepts any group
/// version (DeleteOptions is registered in every one).
pub(crate) static KINDS: &[(Option<&str>, &str, &MessageDesc)] = &[
    (Some("v1"), "Namespace", &NAMESPACE),
    (Some("v1"), "ConfigMap", &CONFIG_MAP),
    (Some("v1"), "Secret", &SECRET),
    (Some("v1"), "ServiceAccount", &SERVICE_ACCOUNT),
    (Some("v1"), "Service", &SERVICE),
    (Some("apps/v1"), "Deployment", &DEPLOYMENT),
    (Some("policy/v1"), "Eviction", &EVICTION),
    (Some("policy/v1beta1"), "Eviction", &EVICTION),
    (None, "DeleteOptions", &DELETE_OPTIONS),
];
