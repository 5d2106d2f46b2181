//! Tests for the protobuf decoder, using a tiny encoder to build envelopes.

use super::*;
use serde_json::json;

/// Minimal protobuf encoder for building test bodies.
#[derive(Default, Clone)]
struct Enc(Vec<u8>);

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl Enc {
    fn new() -> Self {
        Self::default()
    }
    fn tag(mut self, number: u32, wire: u8) -> Self {
        put_varint(&mut self.0, (u64::from(number) << 3) | u64::from(wire));
        self
    }
    fn varint(self, number: u32, v: u64) -> Self {
        let mut s = self.tag(number, 0);
        put_varint(&mut s.0, v);
        s
    }
    fn bytes(self, number: u32, b: &[u8]) -> Self {
        let mut s = self.tag(number, 2);
        put_varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }
    fn str(self, number: u32, v: &str) -> Self {
        self.bytes(number, v.as_bytes())
    }
    fn msg(self, number: u32, m: Enc) -> Self {
        self.bytes(number, &m.0)
    }
    fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.msg(number, Enc::new().str(1, key).bytes(2, value))
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

fn envelope(api_version: &str, kind: &str, raw: &Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().str(1, api_version).str(2, kind))
        .bytes(2, &raw.0)
        .str(4, "application/vnd.kubernetes.protobuf");
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&unknown.0);
    body
}

fn meta(name: &str) -> Enc {
    // kubectl always sends an (empty) creationTimestamp.
    Enc::new().str(1, name).bytes(8, &[])
}

#[test]
fn content_type_detection() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf("Application/VND.Kubernetes.Protobuf; charset=utf-8"));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf(
        "application/vnd.kubernetes.protobuf;stream=watch-x"
            .replace("protobuf", "proto")
            .as_str()
    ));
}

#[test]
fn namespace_as_kubectl_sends_it() {
    let raw = Enc::new().msg(1, meta("foo")).msg(2, Enc::new()).msg(3, Enc::new());
    let got = decode(&envelope("v1", "Namespace", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}, "status": {}})
    );
    // Absent spec/status still appear: Go struct values are never omitted.
    let got = decode(&envelope("v1", "Namespace", &Enc::new())).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}, "spec": {}, "status": {}})
    );
}

#[test]
fn namespace_full_with_times_and_conditions() {
    let meta = Enc::new()
        .str(1, "ns")
        .str(5, "u-1")
        .varint(7, 3)
        .msg(8, Enc::new().varint(1, 1_700_000_000).varint(2, 999))
        .msg(9, Enc::new())
        .varint(10, 30)
        .entry(11, "a", b"1")
        .entry(12, "note", b"x")
        .str(14, "kubernetes")
        .msg(13, Enc::new().str(5, "v1").str(1, "Node").str(3, "n1").str(4, "nu").varint(6, 1))
        .msg(
            17,
            Enc::new()
                .str(1, "kubectl")
                .msg(4, Enc::new().varint(1, 0))
                .msg(7, Enc::new().bytes(1, b"{}")),
        );
    let status = Enc::new()
        .str(1, "Active")
        .msg(2, Enc::new().str(1, "Ready").str(2, "True").msg(4, Enc::new().varint(1, 86_400)))
        .msg(2, Enc::new().str(1, "Other").str(2, "False"));
    let raw = Enc::new().msg(1, meta).msg(2, Enc::new().str(1, "kubernetes")).msg(3, status);
    let got = decode(&envelope("v1", "Namespace", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": "ns", "uid": "u-1", "generation": 3,
                "creationTimestamp": "2023-11-14T22:13:20Z",
                "deletionTimestamp": null, "deletionGracePeriodSeconds": 30,
                "labels": {"a": "1"}, "annotations": {"note": "x"},
                "finalizers": ["kubernetes"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "nu", "controller": true}],
                "managedFields": [{"manager": "kubectl", "time": "1970-01-01T00:00:00Z", "fieldsV1": {"Raw": "e30="}}]
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "1970-01-02T00:00:00Z"},
                {"type": "Other", "status": "False", "lastTransitionTime": null}
            ]}
        })
    );
}

#[test]
fn configmap_data_binary_and_immutable_false() {
    let raw = Enc::new()
        .msg(1, meta("cm").str(3, "default"))
        .entry(2, "k", b"v")
        .entry(2, "empty", b"")
        .entry(3, "bin", &[0, 1, 2, 0xff])
        .varint(4, 0);
    let got = decode(&envelope("v1", "ConfigMap", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default"},
            "data": {"k": "v", "empty": ""}, "binaryData": {"bin": "AAEC/w=="}, "immutable": false})
    );
}

#[test]
fn secret_data_is_base64_and_zero_fields_omitted() {
    let raw = Enc::new()
        .msg(1, meta("s"))
        .entry(2, "password", b"hunter2")
        .entry(4, "plain", b"text")
        .str(3, "Opaque");
    let got = decode(&envelope("v1", "Secret", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"plain": "text"}, "type": "Opaque"})
    );
    // Empty type string and no maps: all omitted; a later map entry with the same key wins.
    let raw = Enc::new().str(3, "").entry(2, "k", b"a").entry(2, "k", b"b");
    let got = decode(&envelope("v1", "Secret", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}, "data": {"k": "Yg=="}})
    );
}

#[test]
fn service_account_references() {
    let raw = Enc::new()
        .msg(1, meta("sa"))
        .msg(2, Enc::new().str(3, "tok").str(2, "ns"))
        .msg(3, Enc::new().str(1, "regcred"))
        .msg(3, Enc::new())
        .varint(4, 0);
    let got = decode(&envelope("v1", "ServiceAccount", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
            "secrets": [{"name": "tok", "namespace": "ns"}],
            "imagePullSecrets": [{"name": "regcred"}, {}],
            "automountServiceAccountToken": false})
    );
}

#[test]
fn eviction_with_delete_options() {
    let opts = Enc::new()
        .varint(1, 0)
        .msg(2, Enc::new().str(1, "uid-1").str(2, ""))
        .varint(3, 1)
        .str(4, "Foreground")
        .str(5, "All");
    let raw = Enc::new().msg(1, meta("web-1").str(3, "prod")).msg(2, opts);
    let got = decode(&envelope("policy/v1", "Eviction", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": "web-1", "namespace": "prod"},
            "deleteOptions": {"gracePeriodSeconds": 0, "orphanDependents": true,
                "preconditions": {"uid": "uid-1", "resourceVersion": ""},
                "propagationPolicy": "Foreground", "dryRun": ["All"]}})
    );
    // Without deleteOptions (a nil pointer) the field is left out.
    let raw = Enc::new().msg(1, meta("web-1"));
    let got = decode(&envelope("policy/v1beta1", "Eviction", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "web-1"}})
    );
}

#[test]
fn delete_options_under_any_group_version() {
    let raw = Enc::new().varint(1, u64::MAX); // -1 as int64
    for av in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        let got = decode(&envelope(av, "DeleteOptions", &raw)).expect("decodes");
        assert_eq!(got, json!({"apiVersion": av, "kind": "DeleteOptions", "gracePeriodSeconds": -1}));
    }
}

#[test]
fn deployment_from_kubectl_create() {
    let labels = || Enc::new().entry(11, "app", b"web");
    let container = Enc::new()
        .str(1, "nginx")
        .str(2, "nginx")
        .msg(6, Enc::new().varint(3, 80).str(4, "TCP"))
        .msg(8, Enc::new().msg(1, Enc::new().str(1, "cpu").msg(2, Enc::new().str(1, "500m"))))
        .varint(16, 0);
    let spec = Enc::new()
        .varint(1, 2)
        .msg(2, Enc::new().entry(1, "app", b"web"))
        .msg(3, Enc::new().msg(1, labels().bytes(8, &[])).msg(2, Enc::new().msg(2, container)))
        .msg(4, Enc::new().msg(2, Enc::new().msg(1, Enc::new().varint(1, 1).str(3, "25%"))));
    let raw = Enc::new()
        .msg(1, meta("web").entry(11, "app", b"web"))
        .msg(2, spec)
        .msg(3, Enc::new());
    let got = decode(&envelope("apps/v1", "Deployment", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                    "name": "nginx", "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m"}}
                }]}},
                "strategy": {"rollingUpdate": {"maxUnavailable": "25%"}}
            },
            "status": {}})
    );
    // Missing selector (pointer without omitempty) is null; missing containers list is null.
    let got = decode(&envelope("apps/v1", "Deployment", &Enc::new())).expect("decodes");
    assert_eq!(got["spec"]["selector"], Value::Null);
    assert_eq!(got["spec"]["template"], json!({"metadata": {}, "spec": {"containers": null}}));
}

#[test]
fn service_ports_and_int_or_string() {
    let spec = Enc::new()
        .msg(1, Enc::new().str(2, "TCP").varint(3, 80).msg(4, Enc::new().varint(2, 8080)))
        .msg(1, Enc::new().varint(3, 443).msg(4, Enc::new().varint(1, 1).str(3, "https")))
        .msg(1, Enc::new().varint(3, 0))
        .entry(2, "app", b"web")
        .str(4, "ClusterIP");
    let raw = Enc::new().msg(1, meta("web")).msg(2, spec);
    let got = decode(&envelope("v1", "Service", &raw)).expect("decodes");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [
                {"protocol": "TCP", "port": 80, "targetPort": 8080},
                {"port": 443, "targetPort": "https"},
                {"port": 0, "targetPort": 0}
            ], "selector": {"app": "web"}, "type": "ClusterIP"},
            "status": {"loadBalancer": {}}})
    );
    let bad = Enc::new().msg(2, Enc::new().msg(1, Enc::new().msg(4, Enc::new().varint(1, 7))));
    let err = decode(&envelope("v1", "Service", &bad)).expect_err("bad IntOrString type");
    assert!(
        matches!(&err, ProtobufError::InvalidValue { path, .. } if path == "Service.spec.ports[0].targetPort"),
        "{err}"
    );
}

#[test]
fn negative_int32_and_singular_message_merge() {
    // int32 -5 is sent as a 10-byte sign-extended varint; metadata sent twice merges.
    let raw = Enc::new()
        .msg(1, Enc::new().str(1, "first").entry(11, "a", b"1"))
        .msg(1, Enc::new().str(3, "ns").entry(11, "b", b"2"))
        .msg(2, Enc::new().varint(1, (-5i64) as u64));
    let got = decode(&envelope("apps/v1", "Deployment", &raw)).expect("decodes");
    assert_eq!(
        got["metadata"],
        json!({"name": "first", "namespace": "ns", "labels": {"a": "1", "b": "2"}})
    );
    assert_eq!(got["spec"]["replicas"], json!(-5));
}

#[test]
fn unknown_fields_are_refused_after_a_wire_check() {
    let group = Enc::new()
        .tag(40, 3)
        .varint(1, 7)
        .tag(41, 3)
        .str(2, "inner")
        .tag(41, 4)
        .tag(3, 5)
        .raw(&[1, 2, 3, 4])
        .tag(40, 4);
    let meta = Enc::new()
        .varint(99, 300) // unknown varint
        .tag(98, 1)
        .raw(&[0; 8]) // unknown fixed64
        .tag(97, 5)
        .raw(&[0; 4]) // unknown fixed32
        .str(96, "ignored") // unknown length-delimited
        .raw(&group.0)
        .str(1, "after");
    let raw = Enc::new().msg(1, meta).str(50, "unknown top-level").raw(&group.0);
    let err = decode(&envelope("v1", "ConfigMap", &raw)).expect_err("unknown field refused");
    assert!(
        matches!(
            &err,
            ProtobufError::UnsupportedField {
                message: "ObjectMeta",
                number: 99,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.http_status(), 415);
}

#[test]
fn malformed_groups_are_rejected() {
    let unterminated = Enc::new().tag(40, 3).varint(1, 1);
    let err = decode(&envelope("v1", "ConfigMap", &unterminated)).expect_err("unterminated");
    assert!(matches!(err, ProtobufError::Truncated { .. }), "{err}");
    let mismatched = Enc::new().tag(40, 3).tag(41, 4);
    let err = decode(&envelope("v1", "ConfigMap", &mismatched)).expect_err("mismatched");
    assert!(
        matches!(&err, ProtobufError::Malformed { problem, .. } if problem.contains("end-group")),
        "{err}"
    );
    let stray_end = Enc::new().tag(7, 4);
    let err = decode(&envelope("v1", "ConfigMap", &stray_end)).expect_err("stray end");
    assert_eq!(err.http_status(), 400);
    let mut deep = Enc::new();
    for _ in 0..100 {
        deep = deep.tag(40, 3);
    }
    let err = decode(&envelope("v1", "ConfigMap", &deep)).expect_err("too deep");
    assert!(
        matches!(&err, ProtobufError::Malformed { problem, .. } if problem.contains("deeper")),
        "{err}"
    );
}

#[test]
fn bad_magic() {
    for body in [&b""[..], b"k8s", b"k9s\0\x0a\x00", b"{\"kind\":1}"] {
        let err = decode(body).expect_err("bad magic");
        assert!(matches!(err, ProtobufError::BadMagic { .. }), "{err}");
        assert_eq!(err.http_status(), 400);
    }
    let err = decode(b"K8S\0").expect_err("case matters");
    assert_eq!(
        err.to_string(),
        "protobuf body must start with the magic bytes \"k8s\\x00\", found \"K8S\\\\x00\""
    );
}

#[test]
fn truncated_input_reports_offset_and_path() {
    let raw = Enc::new()
        .msg(1, meta("foo").entry(11, "key", b"value"))
        .msg(2, Enc::new().str(1, "f"));
    let body = envelope("v1", "Namespace", &raw);
    assert!(decode(&body).is_ok());
    // No prefix panics; every cut strictly inside the raw object (or its length prefix) fails.
    let raw_start = body
        .windows(raw.0.len())
        .position(|w| w == raw.0.as_slice())
        .expect("raw bytes are in the body");
    for cut in 0..body.len() {
        let result = decode(&body[..cut]);
        if (raw_start - 1..raw_start + raw.0.len()).contains(&cut) || cut < 4 {
            assert!(result.is_err(), "prefix of {cut} bytes should fail");
        }
    }
    // Truncate inside the raw object: shorten the raw length by lying in the inner metadata.
    let raw = Enc::new().tag(1, 2).raw(&[50]).str(1, "x");
    let err = decode(&envelope("v1", "Namespace", &raw)).expect_err("truncated");
    match &err {
        ProtobufError::Truncated {
            message,
            path,
            needed,
            available,
            offset,
        } => {
            assert_eq!(
                (*message, path.as_str(), *needed, *available),
                ("Namespace", "Namespace.metadata", 50, 3)
            );
            let body = envelope("v1", "Namespace", &raw);
            assert_eq!(body[*offset - 1], 50);
        }
        other => panic!("unexpected {other}"),
    }
    let overlong = Enc::new().tag(60, 0).raw(&[0xff; 11]);
    let err = decode(&envelope("apps/v1", "Deployment", &overlong)).expect_err("overlong varint");
    assert!(
        matches!(&err, ProtobufError::Malformed { problem, path, .. }
            if problem.contains("10 bytes") && path == "Deployment.#60"),
        "{err}"
    );
}

#[test]
fn wrong_wire_type_and_field_zero() {
    let raw = Enc::new().msg(1, Enc::new().varint(1, 5)); // name must be length-delimited
    let err = decode(&envelope("v1", "Secret", &raw)).expect_err("wrong wire type");
    assert_eq!(
        err,
        ProtobufError::WrongWireType {
            message: "ObjectMeta",
            path: "Secret.metadata.name".into(),
            number: 1,
            expected: 2,
            found: 0,
            offset: err_offset(&err),
        }
    );
    assert!(err.to_string().contains("Secret.metadata.name"), "{err}");
    let raw = Enc::new().raw(&[0x02, 0x00]);
    let err = decode(&envelope("v1", "Secret", &raw)).expect_err("field 0");
    assert!(
        matches!(&err, ProtobufError::Malformed { problem, .. } if problem.contains("field number")),
        "{err}"
    );
    let raw = Enc::new().tag(50, 6);
    let err = decode(&envelope("v1", "Secret", &raw)).expect_err("wire type 6");
    assert!(
        matches!(&err, ProtobufError::Malformed { problem, .. } if problem.contains("wire type 6")),
        "{err}"
    );
}

fn err_offset(err: &ProtobufError) -> usize {
    match err {
        ProtobufError::WrongWireType { offset, .. } => *offset,
        _ => usize::MAX,
    }
}

#[test]
fn unsupported_and_missing_kinds() {
    let err = decode(&envelope("v1", "Pod", &Enc::new())).expect_err("pods unsupported");
    assert!(err.is_unsupported());
    assert_eq!(err.http_status(), 415);
    let msg = err.to_string();
    assert!(
        msg.contains("\"Pod\"") && msg.contains("v1/Namespace") && msg.contains("policy/v1/Eviction"),
        "{msg}"
    );
    // Known kind in the wrong group version is unsupported too.
    let err = decode(&envelope("apps/v1", "Namespace", &Enc::new())).expect_err("wrong group");
    assert!(err.is_unsupported());
    let err = decode(&envelope("v1", "", &Enc::new())).expect_err("missing kind");
    assert_eq!(err, ProtobufError::MissingKind { api_version: "v1".into() });
    assert_eq!(err.http_status(), 400);
    let mut body = envelope("v1", "Namespace", &Enc::new());
    body.extend_from_slice(&Enc::new().str(3, "gzip").0);
    let err = decode(&body).expect_err("gzip");
    assert_eq!(err, ProtobufError::UnsupportedEncoding { encoding: "gzip".into() });
    assert_eq!(err.http_status(), 415);
}

#[test]
fn values_edge_cases() {
    // Invalid UTF-8 is replaced like Go's JSON encoder; quantities pass through.
    let raw = Enc::new().msg(1, Enc::new().bytes(1, b"a\xffb"));
    let got = decode(&envelope("v1", "ConfigMap", &raw)).expect("decodes");
    assert_eq!(got["metadata"]["name"], json!("a\u{fffd}b"));
    let time = |secs: i64| Enc::new().msg(1, Enc::new().msg(8, Enc::new().varint(1, secs as u64)));
    let got = decode(&envelope("v1", "ConfigMap", &time(-62_167_219_200))).expect("year 0");
    assert_eq!(got["metadata"]["creationTimestamp"], json!("0000-01-01T00:00:00Z"));
    let err = decode(&envelope("v1", "ConfigMap", &time(253_402_300_800))).expect_err("year 10000");
    assert!(
        matches!(&err, ProtobufError::InvalidValue { path, .. } if path == "ConfigMap.metadata.creationTimestamp"),
        "{err}"
    );
    let quantity = Enc::new().str(1, "");
    let resources = Enc::new().msg(2, Enc::new().str(1, "memory").msg(2, quantity));
    let pod_spec = Enc::new().msg(2, Enc::new().msg(8, resources));
    let empty_quantity = Enc::new().msg(2, Enc::new().msg(3, Enc::new().msg(2, pod_spec)));
    let err = decode(&envelope("apps/v1", "Deployment", &empty_quantity)).expect_err("empty quantity");
    assert!(matches!(err, ProtobufError::InvalidValue { .. }), "{err}");
}

#[test]
fn base64_matches_rfc4648_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64(input.as_bytes()), expected);
    }
}
