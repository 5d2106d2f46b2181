//! The loopback the simulated controllers reach their API servers through: the same answers as
//! over HTTPS, the token still checked, refused while the server is offline, watches cut when it
//! goes offline.

use std::sync::Arc;
use std::time::Duration;

use drdrill_kube_sim::clock::VirtualClock;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

async fn start() -> ApiServer {
    let clock = VirtualClock::starting_at("2022-12-07T17:10:42Z".parse().expect("time"));
    ApiServer::start(ServerOptions {
        cluster_name: "loop".into(),
        clock: Arc::new(clock),
        ..Default::default()
    })
    .await
    .expect("server")
}

async fn config(server: &ApiServer, token: Option<&str>) -> Config {
    let mut yaml = server.kubeconfig_yaml("admin@loop");
    if let Some(token) = token {
        yaml = yaml.replace(server.token(), token);
    }
    let kubeconfig = Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config")
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": name}})).expect("config map")
}

#[tokio::test]
async fn loopback_answers_as_https_does() {
    let server = start().await;
    let looped = drdrill_kube_sim::client::connect(config(&server, None).await).expect("loopback client");
    let https = Client::try_from(config(&server, None).await).expect("https client");
    let api = Api::<ConfigMap>::namespaced(looped.clone(), "default");
    api.create(&PostParams::default(), &config_map("a"))
        .await
        .expect("create through the loopback");
    let over_https = Api::<ConfigMap>::namespaced(https, "default")
        .list(&ListParams::default())
        .await
        .expect("list over https");
    let through_loopback = api.list(&ListParams::default()).await.expect("list through the loopback");
    let names = |items: &[ConfigMap]| items.iter().map(ResourceExt::name_any).collect::<Vec<_>>();
    assert_eq!(names(&over_https.items), vec!["a"]);
    assert_eq!(names(&through_loopback.items), names(&over_https.items));
    assert_eq!(through_loopback.metadata.resource_version, over_https.metadata.resource_version);
    let missing = api.get("nope").await.expect_err("a missing object");
    assert!(matches!(missing, kube::Error::Api(ref s) if s.code == 404), "{missing:?}");
}

#[tokio::test]
async fn loopback_checks_the_token() {
    let server = start().await;
    let wrong = drdrill_kube_sim::client::connect(config(&server, Some("not-the-token")).await).expect("client");
    let err = Api::<ConfigMap>::namespaced(wrong, "default")
        .list(&ListParams::default())
        .await
        .expect_err("a wrong token is refused");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 401), "{err:?}");
}

#[tokio::test]
async fn loopback_is_refused_while_offline_and_serves_again_online() {
    let mut server = start().await;
    let api = Api::<ConfigMap>::namespaced(
        drdrill_kube_sim::client::connect(config(&server, None).await).expect("client"),
        "default",
    );
    server.go_offline();
    let err = api.list(&ListParams::default()).await.expect_err("offline");
    assert!(err.to_string().contains("connection refused"), "{err}");
    server.come_online().await.expect("online again");
    api.list(&ListParams::default()).await.expect("serves again");
}

#[tokio::test]
async fn loopback_watch_ends_when_the_server_goes_offline() {
    let mut server = start().await;
    let api = Api::<ConfigMap>::namespaced(
        drdrill_kube_sim::client::connect(config(&server, None).await).expect("client"),
        "default",
    );
    let mut events = api.watch(&WatchParams::default(), "0").await.expect("watch").boxed();
    api.create(&PostParams::default(), &config_map("b")).await.expect("create");
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("event");
    assert!(matches!(first, WatchEvent::Added(ref cm) if cm.name_any() == "b"), "{first:?}");
    server.go_offline();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(WatchEvent::Bookmark(_))) = events.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the watch should end once the server is offline");
}

#[tokio::test]
async fn a_server_not_in_this_process_is_reached_over_https() {
    let server = start().await;
    let mut config = config(&server, None).await;
    // A URL no server of this process registered: connect falls back to an HTTPS client,
    // which reaches nothing there.
    config.cluster_url = "https://127.0.0.1:9".parse().expect("url");
    let client = drdrill_kube_sim::client::connect(config).expect("client");
    let err = Api::<ConfigMap>::namespaced(client, "default")
        .list(&ListParams::default())
        .await
        .expect_err("nothing listens there");
    assert!(!err.to_string().contains("is not serving"), "went through a loopback: {err}");
}

#[tokio::test]
async fn loopback_watch_is_cut_by_an_outage_even_if_the_server_is_back_before_it_is_read() {
    let mut server = start().await;
    let api = Api::<ConfigMap>::namespaced(
        drdrill_kube_sim::client::connect(config(&server, None).await).expect("client"),
        "default",
    );
    let mut events = api.watch(&WatchParams::default(), "0").await.expect("watch").boxed();
    server.go_offline();
    server.come_online().await.expect("online again");
    api.create(&PostParams::default(), &config_map("c"))
        .await
        .expect("create after the outage");
    let next = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.next().await {
                Some(Ok(WatchEvent::Bookmark(_))) => continue,
                other => return other.map(|e| e.map(|e| format!("{e:?}"))),
            }
        }
    })
    .await
    .expect("the watch answers in time");
    assert!(next.is_none(), "the watch outlived the outage: {next:?}");
}
