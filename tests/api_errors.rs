//! Every error class the embedded API server must produce, sent as raw HTTPS requests through a
//! kube-rs `Client`: the HTTP code, a `metav1.Status` body with the right reason (and field
//! causes for 422), and, for writes, a store left exactly as it was.

use std::collections::BTreeMap;
use std::time::Duration;

use drdrill_kube_sim::{ApiServer, ServerOptions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const WIDGETS: &str = "/apis/drill.example.com/v1/namespaces/default/widgets";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";

struct Env {
    server: ApiServer,
    client: Client,
}

async fn start() -> Env {
    start_with(ServerOptions::default()).await
}

async fn start_with(options: ServerOptions) -> Env {
    let server = ApiServer::start(ServerOptions {
        cluster_name: "errors".into(),
        ..options
    })
    .await
    .expect("server starts");
    let client = client_with_token(&server, Some(server.token())).await;
    Env { server, client }
}

/// A client from the server's kubeconfig, with the token replaced (or removed).
async fn client_with_token(server: &ApiServer, token: Option<&str>) -> Client {
    let mut doc: Value = serde_yaml::from_str(&server.kubeconfig_yaml("admin@errors")).expect("kubeconfig is YAML");
    let user = doc["users"][0]["user"].as_object_mut().expect("a user");
    assert!(user.contains_key("token"), "the kubeconfig carries a token");
    match token {
        Some(t) => {
            user.insert("token".into(), json!(t));
        }
        None => {
            user.remove("token");
        }
    }
    let kubeconfig = Kubeconfig::from_yaml(&serde_yaml::to_string(&doc).expect("yaml")).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// A raw response.
struct Reply {
    code: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

async fn send(client: &Client, method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Reply {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request: http::Request<Vec<u8>> = builder.body(body.into()).expect("request builds");
    let response = tokio::time::timeout(Duration::from_secs(20), client.send(request.map(kube::client::Body::from)))
        .await
        .unwrap_or_else(|_| panic!("{method} {uri}: no response in time"))
        .unwrap_or_else(|e| panic!("{method} {uri}: {e}"));
    let code = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = tokio::time::timeout(Duration::from_secs(20), response.into_body().collect_bytes())
        .await
        .unwrap_or_else(|_| panic!("{method} {uri}: body did not end in time"))
        .expect("body")
        .to_vec();
    Reply { code, content_type, body }
}

async fn get(client: &Client, uri: &str) -> Reply {
    send(client, "GET", uri, &[], Vec::new()).await
}

async fn post(client: &Client, uri: &str, body: &Value) -> Reply {
    send(client, "POST", uri, &[("content-type", JSON)], body.to_string()).await
}

/// Asserts a failure Status with this code and reason; returns the Status.
fn status_of(reply: &Reply, code: u16, reason: &str) -> Value {
    assert_eq!(reply.code, code, "HTTP code; body: {}", reply.text());
    assert!(reply.content_type.starts_with(JSON), "content type {:?}", reply.content_type);
    let status = reply.json();
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["apiVersion"], "v1", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], reason, "{status}");
    assert_eq!(status["code"], code, "{status}");
    assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()), "{status}");
    status
}

fn message(status: &Value) -> &str {
    status["message"].as_str().unwrap_or_default()
}

/// Every stored object by `group/plural/namespace/name`, and the last resourceVersion handed out.
#[derive(Debug, PartialEq)]
struct Snapshot {
    rv: u64,
    objects: BTreeMap<String, Value>,
}

fn snapshot(server: &ApiServer) -> Snapshot {
    let state = server.state();
    let mut objects = BTreeMap::new();
    for (key, table) in &state.tables {
        for ((ns, name), obj) in &table.objects {
            objects.insert(format!("{}/{}/{ns}/{name}", key.group, key.plural), (**obj).clone());
        }
    }
    Snapshot { rv: state.rv, objects }
}

/// Asserts nothing was written since `before`.
fn assert_unchanged(server: &ApiServer, before: &Snapshot, what: &str) {
    let after = snapshot(server);
    assert_eq!(after.rv, before.rv, "{what}: the store's resourceVersion moved");
    assert_eq!(
        after.objects.keys().collect::<Vec<_>>(),
        before.objects.keys().collect::<Vec<_>>(),
        "{what}: objects appeared or vanished"
    );
    assert!(after.objects == before.objects, "{what}: stored objects changed");
}

/// Reads an object over HTTP and checks it still has this resourceVersion and content.
async fn assert_same_object(client: &Client, uri: &str, before: &Value) {
    let reply = get(client, uri).await;
    assert_eq!(reply.code, 200, "{uri}: {}", reply.text());
    let now = reply.json();
    assert_eq!(
        now["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "{uri}: resourceVersion changed"
    );
    assert_eq!(now, *before, "{uri}: content changed");
}

async fn assert_absent(client: &Client, uri: &str) {
    let reply = get(client, uri).await;
    status_of(&reply, 404, "NotFound");
}

fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}})
}

/// Creates a ConfigMap in `default` and returns it as stored.
async fn create_cm(client: &Client, name: &str, value: &str) -> Value {
    let reply = post(client, CMS, &configmap(name, value)).await;
    assert_eq!(reply.code, 201, "create {name}: {}", reply.text());
    reply.json()
}

async fn install_widgets(client: &Client) {
    let crd: Value = serde_yaml::from_str(include_str!("fixtures/widgets-crd.yaml")).expect("fixture");
    let reply = post(client, CRDS, &crd).await;
    assert_eq!(reply.code, 201, "CRD create: {}", reply.text());
}

fn widget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "drill.example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec})
}

async fn create_widget(client: &Client, name: &str) -> Value {
    let reply = post(client, WIDGETS, &widget(name, json!({"size": "small", "replicas": 2}))).await;
    assert_eq!(reply.code, 201, "widget create: {}", reply.text());
    reply.json()
}

fn causes(status: &Value) -> Vec<(String, String)> {
    status["details"]["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.causes: {status}"))
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------- 400

#[tokio::test]
async fn malformed_json_body_on_post_is_400() {
    let env = start().await;
    let before = snapshot(&env.server);
    let reply = send(
        &env.client,
        "POST",
        CMS,
        &[("content-type", JSON)],
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "half""#,
    )
    .await;
    status_of(&reply, 400, "BadRequest");
    assert_unchanged(&env.server, &before, "malformed POST");
    assert_absent(&env.client, &format!("{CMS}/half")).await;
}

#[tokio::test]
async fn malformed_json_body_on_patch_is_400() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    for ct in [MERGE, "application/json-patch+json", "application/strategic-merge-patch+json"] {
        let reply = send(
            &env.client,
            "PATCH",
            &format!("{CMS}/a"),
            &[("content-type", ct)],
            r#"{"data": {"v": "2"#,
        )
        .await;
        status_of(&reply, 400, "BadRequest");
        assert_unchanged(&env.server, &before, ct);
    }
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

#[tokio::test]
async fn api_version_or_kind_mismatch_is_400() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let wrong_version = json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"v": "1"}});
    let wrong_kind = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}, "data": {"v": "MQ=="}});
    // The message names what the body wrongly claimed to be.
    for (what, body) in [("apps/v1", &wrong_version), ("Secret", &wrong_kind)] {
        let status = status_of(&post(&env.client, CMS, body).await, 400, "BadRequest");
        assert!(message(&status).contains(what), "{what}: {status}");
        assert_unchanged(&env.server, &before, &format!("POST with a wrong {what}"));
        let mut update = body.clone();
        update["metadata"] = json!({"name": "a", "resourceVersion": stored["metadata"]["resourceVersion"]});
        let reply = send(
            &env.client,
            "PUT",
            &format!("{CMS}/a"),
            &[("content-type", JSON)],
            update.to_string(),
        )
        .await;
        let status = status_of(&reply, 400, "BadRequest");
        assert!(message(&status).contains(what), "{what}: {status}");
        assert_unchanged(&env.server, &before, &format!("PUT with a wrong {what}"));
    }
    assert_absent(&env.client, &format!("{CMS}/b")).await;
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

#[tokio::test]
async fn namespace_mismatch_is_400() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let mut body = configmap("b", "1");
    body["metadata"]["namespace"] = json!("kube-system");
    let status = status_of(&post(&env.client, CMS, &body).await, 400, "BadRequest");
    assert_eq!(
        message(&status),
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_unchanged(&env.server, &before, "POST into another namespace");
    let mut update = stored.clone();
    update["metadata"]["namespace"] = json!("kube-system");
    update["data"]["v"] = json!("2");
    let reply = send(
        &env.client,
        "PUT",
        &format!("{CMS}/a"),
        &[("content-type", JSON)],
        update.to_string(),
    )
    .await;
    status_of(&reply, 400, "BadRequest");
    assert_unchanged(&env.server, &before, "PUT into another namespace");
    assert_absent(&env.client, "/api/v1/namespaces/kube-system/configmaps/b").await;
    assert_absent(&env.client, "/api/v1/namespaces/kube-system/configmaps/a").await;
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

#[tokio::test]
async fn bad_label_selector_is_400() {
    let env = start().await;
    create_cm(&env.client, "a", "1").await;
    // `app in (web` and `=web`
    for selector in ["app%20in%20(web", "%3Dweb"] {
        for watch in ["", "&watch=true"] {
            let reply = get(&env.client, &format!("{CMS}?labelSelector={selector}{watch}")).await;
            status_of(&reply, 400, "BadRequest");
        }
    }
    // A good selector on the same path works: the 400 is the selector's doing.
    assert_eq!(get(&env.client, &format!("{CMS}?labelSelector=app%20in%20(web)")).await.code, 200);
}

#[tokio::test]
async fn unsupported_field_selector_is_400() {
    let env = start().await;
    for watch in ["", "&watch=true"] {
        let reply = get(&env.client, &format!("{CMS}?fieldSelector=spec.color%3Dblue{watch}")).await;
        let status = status_of(&reply, 400, "BadRequest");
        assert_eq!(message(&status), "field label not supported: spec.color");
    }
    let reply = get(&env.client, "/api/v1/namespaces/default/pods?fieldSelector=status.phaze%3DRunning").await;
    let status = status_of(&reply, 400, "BadRequest");
    assert_eq!(message(&status), "field label not supported: status.phaze");
    assert_eq!(get(&env.client, &format!("{CMS}?fieldSelector=metadata.name%3Da")).await.code, 200);
}

#[tokio::test]
async fn bad_limit_is_400() {
    let env = start().await;
    for limit in ["ten", "1.5", "0x10"] {
        let reply = get(&env.client, &format!("{CMS}?limit={limit}")).await;
        let status = status_of(&reply, 400, "BadRequest");
        assert!(message(&status).contains("limit"), "{status}");
    }
    assert_eq!(get(&env.client, &format!("{CMS}?limit=10")).await.code, 200);
}

// ---------------------------------------------------------------------------------------- 401

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let anonymous = client_with_token(&env.server, None).await;
    let impostor = client_with_token(&env.server, Some("drdrill-not-the-token")).await;
    for (who, client) in [("no token", &anonymous), ("wrong token", &impostor)] {
        let before = snapshot(&env.server);
        for uri in ["/api", "/apis/apps/v1", CMS, &format!("{CMS}/a")] {
            let status = status_of(&get(client, uri).await, 401, "Unauthorized");
            assert_eq!(message(&status), "Unauthorized", "{who} GET {uri}");
        }
        status_of(&post(client, CMS, &configmap("b", "1")).await, 401, "Unauthorized");
        let reply = send(
            client,
            "PATCH",
            &format!("{CMS}/a"),
            &[("content-type", MERGE)],
            r#"{"data":{"v":"2"}}"#,
        )
        .await;
        status_of(&reply, 401, "Unauthorized");
        let reply = send(client, "DELETE", &format!("{CMS}/a"), &[], Vec::new()).await;
        status_of(&reply, 401, "Unauthorized");
        assert_unchanged(&env.server, &before, who);
    }
    assert_absent(&env.client, &format!("{CMS}/b")).await;
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

// ---------------------------------------------------------------------------------------- 404

#[tokio::test]
async fn unknown_resource_is_404() {
    let env = start().await;
    let before = snapshot(&env.server);
    for uri in [
        "/api/v1/namespaces/default/gizmos",
        "/api/v1/namespaces/default/gizmos/g",
        "/api/v1/gizmos",
        "/apis/apps/v1/namespaces/default/configmaps",
        // nodes are cluster-scoped: there is no namespaced path for them
        "/api/v1/namespaces/default/nodes",
        // no such subresource
        "/api/v1/namespaces/default/configmaps/a/status",
    ] {
        status_of(&get(&env.client, uri).await, 404, "NotFound");
    }
    let reply = post(
        &env.client,
        "/api/v1/namespaces/default/gizmos",
        &json!({"apiVersion": "v1", "kind": "Gizmo", "metadata": {"name": "g"}}),
    )
    .await;
    status_of(&reply, 404, "NotFound");
    assert_unchanged(&env.server, &before, "POST to an unknown resource");
}

#[tokio::test]
async fn unknown_object_is_404() {
    let env = start().await;
    let before = snapshot(&env.server);
    let uri = format!("{CMS}/nope");
    let status = status_of(&get(&env.client, &uri).await, 404, "NotFound");
    assert_eq!(message(&status), "configmaps \"nope\" not found");
    assert_eq!(status["details"]["name"], "nope");
    assert_eq!(status["details"]["kind"], "configmaps");
    assert_eq!(status["details"]["group"], "");
    let reply = send(&env.client, "PATCH", &uri, &[("content-type", MERGE)], r#"{"data":{"v":"2"}}"#).await;
    status_of(&reply, 404, "NotFound");
    let reply = send(
        &env.client,
        "PUT",
        &uri,
        &[("content-type", JSON)],
        configmap("nope", "1").to_string(),
    )
    .await;
    status_of(&reply, 404, "NotFound");
    let reply = send(&env.client, "DELETE", &uri, &[], Vec::new()).await;
    status_of(&reply, 404, "NotFound");
    let status = status_of(
        &get(&env.client, "/apis/apps/v1/namespaces/default/deployments/web").await,
        404,
        "NotFound",
    );
    assert_eq!(message(&status), "deployments.apps \"web\" not found");
    assert_eq!(status["details"]["group"], "apps");
    assert_unchanged(&env.server, &before, "writes to a missing object");
    assert_absent(&env.client, &uri).await;
}

#[tokio::test]
async fn unknown_group_path_is_404() {
    let env = start().await;
    let before = snapshot(&env.server);
    for uri in [
        "/apis/nope.example.com",
        "/apis/nope.example.com/v1",
        "/apis/nope.example.com/v1/things",
        "/apis/nope.example.com/v1/namespaces/default/things/t",
        "/apis/apps/v9",
        "/api/v2",
        "/apis/drill.example.com/v1/namespaces/default/widgets",
        "/nothing/here",
    ] {
        status_of(&get(&env.client, uri).await, 404, "NotFound");
    }
    let reply = post(
        &env.client,
        "/apis/nope.example.com/v1/namespaces/default/things",
        &json!({"apiVersion": "nope.example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}),
    )
    .await;
    status_of(&reply, 404, "NotFound");
    assert_unchanged(&env.server, &before, "POST to an unknown group");
}

// ---------------------------------------------------------------------------------------- 405

#[tokio::test]
async fn wrong_method_is_405() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let body = configmap("a", "2").to_string();
    let cases: [(&str, String); 6] = [
        ("PUT", CMS.to_string()),
        ("PATCH", CMS.to_string()),
        ("POST", format!("{CMS}/a")),
        ("POST", "/api/v1".to_string()),
        ("POST", "/apis".to_string()),
        ("PUT", "/apis/apps/v1".to_string()),
    ];
    for (method, uri) in &cases {
        let ct = if *method == "PATCH" { MERGE } else { JSON };
        let reply = send(&env.client, method, uri, &[("content-type", ct)], body.clone()).await;
        status_of(&reply, 405, "MethodNotAllowed");
        assert_unchanged(&env.server, &before, &format!("{method} {uri}"));
    }
    let reply = send(&env.client, "DELETE", "/api", &[], Vec::new()).await;
    status_of(&reply, 405, "MethodNotAllowed");
    assert_unchanged(&env.server, &before, "DELETE /api");
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

// ---------------------------------------------------------------------------------------- 406

#[tokio::test]
async fn protobuf_only_accept_is_406() {
    let env = start().await;
    install_widgets(&env.client).await;
    create_widget(&env.client, "w").await;
    // Custom resources have no protobuf form, in kube-apiserver too.
    for uri in [format!("{WIDGETS}/w"), WIDGETS.to_string()] {
        let reply = send(
            &env.client,
            "GET",
            &uri,
            &[("accept", "application/vnd.kubernetes.protobuf")],
            Vec::new(),
        )
        .await;
        status_of(&reply, 406, "NotAcceptable");
    }
    let reply = send(&env.client, "GET", CMS, &[("accept", "text/html")], Vec::new()).await;
    status_of(&reply, 406, "NotAcceptable");
    // With a JSON fallback the same request succeeds.
    let reply = send(
        &env.client,
        "GET",
        &format!("{WIDGETS}/w"),
        &[("accept", "application/vnd.kubernetes.protobuf, application/json")],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.text());
    assert_eq!(reply.json()["kind"], "Widget");
}

// ---------------------------------------------------------------------------------------- 409

#[tokio::test]
async fn duplicate_create_is_409_already_exists() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let status = status_of(&post(&env.client, CMS, &configmap("a", "2")).await, 409, "AlreadyExists");
    assert_eq!(message(&status), "configmaps \"a\" already exists");
    assert_eq!(
        (status["details"]["name"].as_str(), status["details"]["kind"].as_str()),
        (Some("a"), Some("configmaps"))
    );
    assert_unchanged(&env.server, &before, "duplicate create");
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

#[tokio::test]
async fn stale_resource_version_is_409_conflict() {
    let env = start().await;
    let first = create_cm(&env.client, "a", "1").await;
    let reply = send(
        &env.client,
        "PATCH",
        &format!("{CMS}/a"),
        &[("content-type", MERGE)],
        r#"{"data":{"v":"2"}}"#,
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.text());
    let current = reply.json();
    assert_ne!(current["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);
    let before = snapshot(&env.server);

    let mut stale = first.clone();
    stale["data"]["v"] = json!("3");
    let reply = send(
        &env.client,
        "PUT",
        &format!("{CMS}/a"),
        &[("content-type", JSON)],
        stale.to_string(),
    )
    .await;
    let status = status_of(&reply, 409, "Conflict");
    assert_eq!(
        message(&status),
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_unchanged(&env.server, &before, "stale PUT");

    let patch = json!({"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}, "data": {"v": "4"}});
    let reply = send(
        &env.client,
        "PATCH",
        &format!("{CMS}/a"),
        &[("content-type", MERGE)],
        patch.to_string(),
    )
    .await;
    status_of(&reply, 409, "Conflict");
    assert_unchanged(&env.server, &before, "stale merge patch");

    let reply = send(
        &env.client,
        "DELETE",
        &format!("{CMS}/a"),
        &[("content-type", JSON)],
        json!({"preconditions": {"resourceVersion": first["metadata"]["resourceVersion"]}}).to_string(),
    )
    .await;
    status_of(&reply, 409, "Conflict");
    assert_unchanged(&env.server, &before, "stale delete precondition");
    assert_same_object(&env.client, &format!("{CMS}/a"), &current).await;
}

#[tokio::test]
async fn apply_over_another_managers_field_is_409_conflict() {
    let env = start().await;
    let reply = send(
        &env.client,
        "POST",
        &format!("{CMS}?fieldManager=creator"),
        &[("content-type", JSON)],
        configmap("a", "1").to_string(),
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.text());
    let stored = reply.json();
    let before = snapshot(&env.server);
    let applied = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"2\"\n";
    let reply = send(
        &env.client,
        "PATCH",
        &format!("{CMS}/a?fieldManager=applier"),
        &[("content-type", "application/apply-patch+yaml")],
        applied,
    )
    .await;
    let status = status_of(&reply, 409, "Conflict");
    assert_eq!(
        causes(&status),
        vec![(".data.v".to_string(), "FieldManagerConflict".to_string())],
        "{status}"
    );
    assert!(message(&status).contains("conflict with \"creator\""), "{status}");
    assert_unchanged(&env.server, &before, "conflicting apply");
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

// ---------------------------------------------------------------------------------------- 410

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_one_expired_error_event() {
    let env = start().await;
    let old = create_cm(&env.client, "a", "1").await;
    let old_rv = old["metadata"]["resourceVersion"].as_str().expect("rv").to_string();
    create_cm(&env.client, "b", "1").await;
    env.server.state().compact();

    let reply = get(&env.client, &format!("{CMS}?watch=true&resourceVersion={old_rv}")).await;
    assert_eq!(reply.code, 200, "the watch itself is accepted: {}", reply.text());
    let text = reply.text();
    let events: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event is JSON"))
        .collect();
    assert_eq!(events.len(), 1, "exactly one event, then the stream ends: {text}");
    assert_eq!(events[0]["type"], "ERROR", "{text}");
    let status = &events[0]["object"];
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["apiVersion"], "v1", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "Expired", "{status}");
    assert_eq!(status["code"], 410, "{status}");
    assert!(
        message(status).starts_with(&format!("too old resource version: {old_rv}")),
        "{status}"
    );

    // From the current resourceVersion the watch is fine: it streams nothing and stays open.
    let current = get(&env.client, CMS).await.json()["metadata"]["resourceVersion"].clone();
    let current = current.as_str().expect("list rv");
    let reply = get(&env.client, &format!("{CMS}?watch=true&resourceVersion={current}&timeoutSeconds=1")).await;
    assert_eq!(reply.code, 200);
    assert!(!reply.text().contains("ERROR"), "{}", reply.text());
}

#[tokio::test]
async fn continue_token_older_than_compaction_is_410() {
    let env = start().await;
    for name in ["a", "b", "c"] {
        create_cm(&env.client, name, "1").await;
    }
    let page = get(&env.client, &format!("{CMS}?limit=1")).await.json();
    let token = page["metadata"]["continue"].as_str().expect("a continue token").to_string();
    assert!(!token.is_empty());
    // The token works before compaction.
    let next = get(&env.client, &format!("{CMS}?limit=1&continue={}", encode(&token))).await;
    assert_eq!(next.code, 200, "{}", next.text());
    assert_eq!(next.json()["items"][0]["metadata"]["name"], "b");

    create_cm(&env.client, "d", "1").await;
    env.server.state().compact();
    let reply = get(&env.client, &format!("{CMS}?limit=1&continue={}", encode(&token))).await;
    let status = status_of(&reply, 410, "Expired");
    assert!(message(&status).contains("continue"), "{status}");
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------- 413

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let env = start_with(ServerOptions {
        max_body_bytes: 1024,
        ..Default::default()
    })
    .await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let big = "x".repeat(4096);
    let status = status_of(&post(&env.client, CMS, &configmap("big", &big)).await, 413, "RequestEntityTooLarge");
    assert!(message(&status).contains("1024"), "{status}");
    assert_unchanged(&env.server, &before, "oversized POST");
    let patch = json!({"data": {"v": big}}).to_string();
    let reply = send(&env.client, "PATCH", &format!("{CMS}/a"), &[("content-type", MERGE)], patch).await;
    status_of(&reply, 413, "RequestEntityTooLarge");
    let mut update = stored.clone();
    update["data"]["v"] = json!(big);
    let reply = send(
        &env.client,
        "PUT",
        &format!("{CMS}/a"),
        &[("content-type", JSON)],
        update.to_string(),
    )
    .await;
    status_of(&reply, 413, "RequestEntityTooLarge");
    assert_unchanged(&env.server, &before, "oversized PATCH and PUT");
    assert_absent(&env.client, &format!("{CMS}/big")).await;
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
    // Just under the limit is fine.
    let reply = post(&env.client, CMS, &configmap("small", &"x".repeat(900))).await;
    assert_eq!(reply.code, 201, "{}", reply.text());
}

// ---------------------------------------------------------------------------------------- 415

#[tokio::test]
async fn text_plain_body_is_415() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    let reply = send(
        &env.client,
        "POST",
        CMS,
        &[("content-type", "text/plain")],
        configmap("b", "1").to_string(),
    )
    .await;
    status_of(&reply, 415, "UnsupportedMediaType");
    let mut update = stored.clone();
    update["data"]["v"] = json!("2");
    let reply = send(
        &env.client,
        "PUT",
        &format!("{CMS}/a"),
        &[("content-type", "text/plain")],
        update.to_string(),
    )
    .await;
    status_of(&reply, 415, "UnsupportedMediaType");
    assert_unchanged(&env.server, &before, "text/plain writes");
    assert_absent(&env.client, &format!("{CMS}/b")).await;
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

#[tokio::test]
async fn strategic_merge_patch_on_a_custom_resource_is_415() {
    let env = start().await;
    install_widgets(&env.client).await;
    let stored = create_widget(&env.client, "w").await;
    let before = snapshot(&env.server);
    let reply = send(
        &env.client,
        "PATCH",
        &format!("{WIDGETS}/w"),
        &[("content-type", "application/strategic-merge-patch+json")],
        r#"{"spec":{"replicas":5}}"#,
    )
    .await;
    let status = status_of(&reply, 415, "UnsupportedMediaType");
    let accepted = message(&status).split(" (got").next().unwrap_or_default();
    assert!(accepted.contains("application/merge-patch+json"), "{status}");
    assert!(!accepted.contains("strategic"), "SMP is not among the accepted types: {status}");
    assert_unchanged(&env.server, &before, "SMP on a widget");
    // kube-apiserver checks the patch type before anything else: a missing object, a malformed
    // body or the scale subresource still get 415.
    for (uri, body) in [
        (format!("{WIDGETS}/missing"), r#"{"spec":{"replicas":5}}"#),
        (format!("{WIDGETS}/w"), r#"{"spec": "#),
        (format!("{WIDGETS}/w/scale"), r#"{"spec":{"replicas":5}}"#),
        (format!("{WIDGETS}/w/status"), r#"{"status":{"replicas":5}}"#),
    ] {
        let reply = send(
            &env.client,
            "PATCH",
            &uri,
            &[("content-type", "application/strategic-merge-patch+json")],
            body,
        )
        .await;
        status_of(&reply, 415, "UnsupportedMediaType");
        assert_unchanged(&env.server, &before, &format!("SMP to {uri}"));
    }
    assert_same_object(&env.client, &format!("{WIDGETS}/w"), &stored).await;
}

#[tokio::test]
async fn unknown_patch_content_type_is_415() {
    let env = start().await;
    let stored = create_cm(&env.client, "a", "1").await;
    let before = snapshot(&env.server);
    for ct in ["application/json", "application/xml", "text/plain", ""] {
        let headers: &[(&str, &str)] = if ct.is_empty() { &[] } else { &[("content-type", ct)] };
        let reply = send(&env.client, "PATCH", &format!("{CMS}/a"), headers, r#"{"data":{"v":"2"}}"#).await;
        status_of(&reply, 415, "UnsupportedMediaType");
        assert_unchanged(&env.server, &before, &format!("PATCH as {ct:?}"));
    }
    assert_same_object(&env.client, &format!("{CMS}/a"), &stored).await;
}

// ---------------------------------------------------------------------------------------- 422

#[tokio::test]
async fn custom_resource_violating_its_schema_is_422() {
    let env = start().await;
    install_widgets(&env.client).await;
    let stored = create_widget(&env.client, "w").await;
    let before = snapshot(&env.server);
    let cases = [
        (
            "wrong type",
            json!({"size": "small", "replicas": "three"}),
            "spec.replicas",
            "FieldValueTypeInvalid",
        ),
        ("enum", json!({"size": "huge"}), "spec.size", "FieldValueNotSupported"),
        ("required", json!({"replicas": 2}), "spec.size", "FieldValueRequired"),
        (
            "minimum",
            json!({"size": "small", "replicas": -1}),
            "spec.replicas",
            "FieldValueInvalid",
        ),
    ];
    for (what, spec, field, reason) in &cases {
        let reply = post(&env.client, WIDGETS, &widget("bad", spec.clone())).await;
        let status = status_of(&reply, 422, "Invalid");
        assert_eq!(causes(&status), vec![(field.to_string(), reason.to_string())], "{what}: {status}");
        assert_eq!(
            (
                status["details"]["name"].as_str(),
                status["details"]["group"].as_str(),
                status["details"]["kind"].as_str()
            ),
            (Some("bad"), Some("drill.example.com"), Some("Widget")),
            "{what}: {status}"
        );
        assert!(
            message(&status).starts_with(&format!("Widget.drill.example.com \"bad\" is invalid: {field}: ")),
            "{what}: {status}"
        );
        assert_unchanged(&env.server, &before, &format!("create ({what})"));

        // The same violation on an update of an existing widget.
        let mut update = stored.clone();
        update["spec"] = spec.clone();
        let reply = send(
            &env.client,
            "PUT",
            &format!("{WIDGETS}/w"),
            &[("content-type", JSON)],
            update.to_string(),
        )
        .await;
        let status = status_of(&reply, 422, "Invalid");
        assert_eq!(
            causes(&status),
            vec![(field.to_string(), reason.to_string())],
            "{what} on PUT: {status}"
        );
        assert_unchanged(&env.server, &before, &format!("update ({what})"));
    }
    let reply = send(
        &env.client,
        "PATCH",
        &format!("{WIDGETS}/w"),
        &[("content-type", MERGE)],
        r#"{"spec":{"size":"huge"}}"#,
    )
    .await;
    let status = status_of(&reply, 422, "Invalid");
    assert_eq!(
        causes(&status),
        vec![("spec.size".to_string(), "FieldValueNotSupported".to_string())]
    );
    assert_unchanged(&env.server, &before, "merge patch to an unsupported size");
    assert_absent(&env.client, &format!("{WIDGETS}/bad")).await;
    assert_same_object(&env.client, &format!("{WIDGETS}/w"), &stored).await;
}

#[tokio::test]
async fn invalid_object_name_is_422() {
    let env = start().await;
    install_widgets(&env.client).await;
    let before = snapshot(&env.server);
    for (uri, body) in [
        (CMS, configmap("Bad_Name", "1")),
        (WIDGETS, widget("Bad_Name", json!({"size": "small"}))),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "has.dot"}}),
        ),
    ] {
        let reply = post(&env.client, uri, &body).await;
        let status = status_of(&reply, 422, "Invalid");
        assert_eq!(
            causes(&status),
            vec![("metadata.name".to_string(), "FieldValueInvalid".to_string())],
            "{status}"
        );
        assert!(message(&status).contains("RFC 1123"), "{status}");
        assert_unchanged(&env.server, &before, uri);
    }
    // Neither name nor generateName.
    let reply = post(&env.client, CMS, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})).await;
    let status = status_of(&reply, 422, "Invalid");
    assert_eq!(
        causes(&status),
        vec![("metadata.name".to_string(), "FieldValueRequired".to_string())],
        "{status}"
    );
    assert_unchanged(&env.server, &before, "nameless create");
}

#[tokio::test]
async fn crd_with_a_non_structural_schema_is_422() {
    let env = start().await;
    let before = snapshot(&env.server);
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.bad.example.com"},
        "spec": {
            "group": "bad.example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"properties": {"size": {"type": "string"}}}}
                }}
            }]
        }
    });
    let reply = post(&env.client, CRDS, &crd).await;
    let status = status_of(&reply, 422, "Invalid");
    assert_eq!(
        causes(&status),
        vec![(
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type".to_string(),
            "FieldValueRequired".to_string()
        )],
        "{status}"
    );
    assert_eq!(
        (
            status["details"]["name"].as_str(),
            status["details"]["group"].as_str(),
            status["details"]["kind"].as_str()
        ),
        (
            Some("gadgets.bad.example.com"),
            Some("apiextensions.k8s.io"),
            Some("CustomResourceDefinition")
        ),
    );
    assert_unchanged(&env.server, &before, "non-structural CRD");
    assert_absent(&env.client, &format!("{CRDS}/gadgets.bad.example.com")).await;
    // Nothing is served for it.
    status_of(&get(&env.client, "/apis/bad.example.com/v1").await, 404, "NotFound");
    status_of(
        &get(&env.client, "/apis/bad.example.com/v1/namespaces/default/gadgets").await,
        404,
        "NotFound",
    );
}
