//! List selectors and watch semantics, proven through kube-rs clients: label and field
//! selectors, selector transitions on a watch, bookmarks, timeouts, resuming from a
//! resourceVersion and 410 after history is lost.

mod support;

use std::time::Duration;

use drdrill_kube_sim::{ApiServer, ServerOptions};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

async fn start_with(bookmark_interval: Duration) -> (ApiServer, Client, tempfile::TempDir) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: "semantics".into(),
        bookmark_interval,
        ..Default::default()
    })
    .await
    .expect("server");
    let (client, dir) = support::kube_client(&server).await;
    (server, client, dir)
}

async fn start() -> (ApiServer, Client, tempfile::TempDir) {
    start_with(Duration::from_secs(1)).await
}

fn cm(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})).expect("configmap")
}

fn merge(v: Value) -> Patch<Value> {
    Patch::Merge(v)
}

async fn names<K>(api: &Api<K>, params: &ListParams) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut names: Vec<String> = api
        .list(params)
        .await
        .unwrap_or_else(|e| panic!("list with {params:?}: {e:?}"))
        .items
        .iter()
        .map(|o| o.name_any())
        .collect();
    names.sort();
    names
}

/// The next event within a few seconds (None when the stream ended).
async fn next_event<S, K>(stream: &mut S) -> Option<WatchEvent<K>>
where
    S: Stream<Item = Result<WatchEvent<K>, kube::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a watch event within 5s")
        .map(|e| e.expect("watch event decodes"))
}

/// (type, name) of an event, for comparisons.
fn describe(event: &WatchEvent<ConfigMap>) -> (&'static str, String) {
    match event {
        WatchEvent::Added(o) => ("ADDED", o.name_any()),
        WatchEvent::Modified(o) => ("MODIFIED", o.name_any()),
        WatchEvent::Deleted(o) => ("DELETED", o.name_any()),
        WatchEvent::Bookmark(_) => ("BOOKMARK", String::new()),
        WatchEvent::Error(e) => ("ERROR", format!("{} {}", e.code, e.message)),
    }
}

fn rv_of(event: &WatchEvent<ConfigMap>) -> u64 {
    let rv = match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o.resource_version(),
        WatchEvent::Bookmark(b) => Some(b.metadata.resource_version.clone()),
        WatchEvent::Error(_) => None,
    };
    rv.and_then(|r| r.parse().ok()).expect("numeric resourceVersion")
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    for (name, labels) in [
        ("a", json!({"env": "prod", "tier": "web"})),
        ("b", json!({"env": "dev", "tier": "web"})),
        ("c", json!({"env": "staging"})),
        ("d", json!({})),
    ] {
        cms.create(&pp, &cm(name, labels)).await.expect("create");
    }
    let cases: &[(&str, &[&str])] = &[
        ("env=prod", &["a"]),
        ("env==prod", &["a"]),
        ("env!=prod", &["b", "c", "d"]),
        ("env in (prod,dev)", &["a", "b"]),
        ("env notin (prod,dev)", &["c", "d"]),
        ("tier", &["a", "b"]),
        ("!tier", &["c", "d"]),
        ("tier=web,env!=dev", &["a"]),
        ("env in (prod),!tier", &[]),
        ("", &["a", "b", "c", "d"]),
    ];
    for (selector, expected) in cases {
        let got = names(&cms, &ListParams::default().labels(selector)).await;
        assert_eq!(got, *expected, "labelSelector {selector:?}");
    }
    let err = cms
        .list(&ListParams::default().labels("env in prod"))
        .await
        .expect_err("bad syntax");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 400), "{err:?}");
}

#[tokio::test]
async fn field_selectors_filter_lists() {
    let (_server, client, _dir) = start().await;
    let pp = PostParams::default();
    let default_cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let system_cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    for name in ["a", "b"] {
        default_cms.create(&pp, &cm(name, json!({"env": "prod"}))).await.expect("create");
    }
    system_cms.create(&pp, &cm("a", json!({"env": "dev"}))).await.expect("create");
    assert_eq!(names(&default_cms, &ListParams::default().fields("metadata.name=b")).await, ["b"]);
    assert_eq!(names(&default_cms, &ListParams::default().fields("metadata.name!=b")).await, ["a"]);
    let all: Api<ConfigMap> = Api::all(client.clone());
    let in_system = all
        .list(&ListParams::default().fields("metadata.namespace=kube-system"))
        .await
        .expect("list");
    let found: Vec<(String, String)> = in_system
        .items
        .iter()
        .map(|c| (c.namespace().unwrap_or_default(), c.name_any()))
        .collect();
    assert_eq!(found, [("kube-system".to_string(), "a".to_string())]);
    let both = ListParams::default().fields("metadata.name=a").labels("env=prod");
    assert_eq!(
        all.list(&both).await.expect("list").items.len(),
        1,
        "field and label selectors combine"
    );

    let pods: Api<Pod> = Api::namespaced(client, "default");
    for (name, node) in [("p1", Some("node-1")), ("p2", Some("node-2")), ("p3", None)] {
        let mut spec = json!({"containers": [{"name": "c", "image": "registry.example.com/app:1.0"}]});
        if let Some(node) = node {
            spec["nodeName"] = json!(node);
        }
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("pod");
        pods.create(&pp, &pod).await.expect("pod");
    }
    pods.patch_status("p1", &PatchParams::default(), &merge(json!({"status": {"phase": "Running"}})))
        .await
        .expect("status");
    let cases: &[(&str, &[&str])] = &[
        ("spec.nodeName=node-1", &["p1"]),
        ("spec.nodeName!=node-1", &["p2", "p3"]),
        ("spec.nodeName=", &["p3"]),
        ("status.phase=Running", &["p1"]),
        ("status.phase=Pending", &["p2", "p3"]),
        ("status.phase!=Running,spec.nodeName=node-2", &["p2"]),
        ("metadata.namespace=default,metadata.name=p3", &["p3"]),
    ];
    for (selector, expected) in cases {
        assert_eq!(
            names(&pods, &ListParams::default().fields(selector)).await,
            *expected,
            "fieldSelector {selector:?}"
        );
    }
    let err = default_cms
        .list(&ListParams::default().fields("spec.nodeName=node-1"))
        .await
        .expect_err("configmaps have no such field label");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 400), "{err:?}");
}

#[tokio::test]
async fn watch_with_label_selector_follows_matching_transitions() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let selector = "watched=yes";
    let rv = cms
        .list(&ListParams::default().labels(selector))
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion");
    let mut events = cms
        .watch(&WatchParams::default().labels(selector).disable_bookmarks(), &rv)
        .await
        .expect("watch")
        .boxed();

    cms.create(&pp, &cm("x", json!({"watched": "no"}))).await.expect("create");
    cms.patch(
        "x",
        &PatchParams::default(),
        &merge(json!({"metadata": {"labels": {"watched": "yes"}}})),
    )
    .await
    .expect("start matching");
    cms.patch("x", &PatchParams::default(), &merge(json!({"data": {"k": "v2"}})))
        .await
        .expect("change while matching");
    let stopped = cms
        .patch(
            "x",
            &PatchParams::default(),
            &merge(json!({"metadata": {"labels": {"watched": "no"}}})),
        )
        .await
        .expect("stop matching");
    cms.patch("x", &PatchParams::default(), &merge(json!({"data": {"k": "v3"}})))
        .await
        .expect("change while not matching");
    cms.delete("x", &DeleteParams::default()).await.expect("delete while not matching");
    cms.create(&pp, &cm("y", json!({"watched": "yes"}))).await.expect("sentinel");

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = next_event(&mut events).await.expect("stream open");
        if let WatchEvent::Deleted(o) = &event {
            // As kube-apiserver does: the last content that matched, at the change's resourceVersion.
            assert_eq!(o.labels().get("watched").map(String::as_str), Some("yes"), "{:?}", o.metadata);
            assert_eq!(o.data.as_ref().and_then(|d| d.get("k")).map(String::as_str), Some("v2"));
            assert_eq!(
                o.resource_version(),
                stopped.resource_version(),
                "DELETED is at the change's resourceVersion"
            );
        }
        seen.push(describe(&event));
    }
    let expected = [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x"), ("ADDED", "y")];
    assert_eq!(
        seen,
        expected.map(|(t, n)| (t, n.to_string())),
        "transitions into and out of the selector, and nothing else"
    );
}

#[tokio::test]
async fn bookmarks_arrive_only_when_allowed() {
    let (_server, client, _dir) = start_with(Duration::from_millis(100)).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");

    let mut with = cms.watch(&WatchParams::default().timeout(30), &rv).await.expect("watch").boxed();
    let first = next_event(&mut with).await.expect("stream open");
    assert_eq!(describe(&first).0, "BOOKMARK", "an idle watch gets bookmarks");
    let created = cms.create(&PostParams::default(), &cm("c", json!({}))).await.expect("create");
    let created_rv: u64 = created.resource_version().and_then(|r| r.parse().ok()).expect("rv");
    let mut saw_added = false;
    loop {
        let event = next_event(&mut with).await.expect("stream open");
        match describe(&event).0 {
            "ADDED" => saw_added = true,
            "BOOKMARK" if saw_added => {
                assert!(rv_of(&event) >= created_rv, "bookmarks advance past delivered events");
                break;
            }
            "BOOKMARK" => {}
            other => panic!("unexpected {other}"),
        }
    }

    let mut without = cms
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut kinds = Vec::new();
    while let Some(event) = next_event(&mut without).await {
        kinds.push(describe(&event).0);
    }
    assert_eq!(kinds, ["ADDED"], "no bookmarks unless allowed");
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let (_server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let began = tokio::time::Instant::now();
    let mut events = cms
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), "")
        .await
        .expect("watch")
        .boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the server ends the watch");
    assert!(end.is_none(), "no events on an empty namespace: {end:?}");
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn resuming_from_a_resource_version_replays_exactly_the_missed_events() {
    let (server, client, _dir) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let others: Api<ConfigMap> = Api::namespaced(client, "kube-system");
    let pp = PostParams::default();
    cms.create(&pp, &cm("before", json!({}))).await.expect("before");
    let rv0 = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");

    // Changes made while nobody watches.
    let a = cms.create(&pp, &cm("a", json!({}))).await.expect("a");
    cms.create(&pp, &cm("b", json!({}))).await.expect("b");
    others.create(&pp, &cm("elsewhere", json!({}))).await.expect("other namespace");
    let a2 = cms
        .patch("a", &PatchParams::default(), &merge(json!({"data": {"k": "v2"}})))
        .await
        .expect("patch a");
    cms.delete("b", &DeleteParams::default()).await.expect("delete b");
    cms.delete("before", &DeleteParams::default()).await.expect("delete before");
    cms.create(&pp, &cm("c", json!({}))).await.expect("c");
    let missed = [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
        ("DELETED", "before"),
        ("ADDED", "c"),
    ]
    .map(|(t, n)| (t, n.to_string()));

    let watch = |rv: String| {
        let cms = cms.clone();
        async move {
            cms.watch(&WatchParams::default().disable_bookmarks(), &rv)
                .await
                .expect("watch")
                .boxed()
        }
    };
    let mut events = watch(rv0.clone()).await;
    let mut seen = Vec::new();
    let mut rvs = Vec::new();
    for _ in 0..missed.len() {
        let event = next_event(&mut events).await.expect("stream open");
        rvs.push(rv_of(&event));
        seen.push(describe(&event));
    }
    assert_eq!(seen, missed);
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "in resourceVersion order: {rvs:?}");
    assert_eq!(rvs[0].to_string(), a.resource_version().expect("rv"));
    assert_eq!(rvs[2].to_string(), a2.resource_version().expect("rv"));
    // Then live events, with nothing replayed twice.
    cms.create(&pp, &cm("live", json!({}))).await.expect("live");
    let next = next_event(&mut events).await.expect("stream open");
    assert_eq!(describe(&next), ("ADDED", "live".to_string()));

    // Resuming from the middle replays only what came after.
    let mut events = watch(a2.resource_version().expect("rv")).await;
    let mut tail = Vec::new();
    for _ in 0..4 {
        tail.push(describe(&next_event(&mut events).await.expect("stream open")));
    }
    let mut expected: Vec<_> = missed[3..].to_vec();
    expected.push(("ADDED", "live".to_string()));
    assert_eq!(tail, expected);

    // After history is lost, an old resourceVersion is 410 Gone.
    server.state().compact();
    let mut events = watch(rv0).await;
    match next_event(&mut events).await.expect("an error event") {
        WatchEvent::Error(status) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired"), "{status:?}"),
        other => panic!("expected 410, got {:?}", describe(&other)),
    }
}
