//! kube-rs accepts the embedded API server: typed and dynamic CRUD, discovery, watchers,
//! reflectors, controllers and 410 recovery.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use drdrill_kube_sim::{ApiServer, ServerOptions};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{ApiResource, Discovery};
use kube::runtime::{Controller, WatchStreamExt, reflector, watcher};

async fn start() -> (ApiServer, Client, tempfile::TempDir) {
    let server = ApiServer::start(ServerOptions {
        cluster_name: "kube-rs".into(),
        history_capacity: 5_000,
        ..Default::default()
    })
    .await
    .expect("server");
    let (client, dir) = support::kube_client(&server).await;
    (server, client, dir)
}

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "drill"}},
        "data": {"v": value}
    }))
    .expect("configmap")
}

#[tokio::test]
async fn typed_crud_with_conflicts() {
    let (_server, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api.create(&PostParams::default(), &cm("a", "1")).await.expect("create");
    assert!(created.metadata.uid.is_some());
    let err = api.create(&PostParams::default(), &cm("a", "1")).await.expect_err("duplicate");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    let mut stale = created.clone();
    let patched = api
        .patch("a", &PatchParams::default(), &Patch::Merge(serde_json::json!({"data": {"v": "2"}})))
        .await
        .expect("patch");
    assert_eq!(patched.data.as_ref().and_then(|d| d.get("v")).map(String::as_str), Some("2"));
    stale.data = Some([("v".to_string(), "3".to_string())].into());
    let err = api.replace("a", &PostParams::default(), &stale).await.expect_err("stale update");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );

    let list = api.list(&ListParams::default().labels("app=drill")).await.expect("list");
    assert_eq!(list.items.len(), 1);
    api.delete("a", &DeleteParams::default()).await.expect("delete");
    let err = api.get("a").await.expect_err("gone");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 404), "{err:?}");
}

#[tokio::test]
async fn paging_walks_every_object_once() {
    let (_server, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..25 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:02}"), "x"))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(7);
    loop {
        let page = api.list(&params).await.expect("page");
        seen.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn discovery_finds_every_group_both_ways() {
    let (_server, client, _dir) = start().await;
    let crd: serde_json::Value = serde_yaml::from_str(include_str!("fixtures/widgets-crd.yaml")).expect("fixture");
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(&()),
    );
    crds.create(&PostParams::default(), &serde_json::from_value(crd).expect("crd"))
        .await
        .expect("crd created");
    let expected = [
        "",
        "apps",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "storage.k8s.io",
        "drill.example.com",
    ];
    for aggregated in [false, true] {
        let discovery = if aggregated {
            Discovery::new(client.clone()).run_aggregated().await
        } else {
            Discovery::new(client.clone()).run().await
        }
        .expect("discovery");
        let groups: Vec<&str> = discovery.groups().map(|g| g.name()).collect();
        for g in expected {
            assert!(groups.contains(&g), "aggregated={aggregated}: {g:?} missing from {groups:?}");
        }
        let widgets = discovery.get("drill.example.com").expect("widget group");
        let (ar, caps) = widgets.recommended_kind("Widget").expect("Widget kind");
        assert_eq!((ar.version.as_str(), ar.plural.as_str()), ("v1", "widgets"));
        assert!(
            caps.subresources
                .iter()
                .any(|(s, _)| s.plural == "widgets/status" || s.plural == "status"),
            "aggregated={aggregated}: {caps:?}"
        );
    }
}

#[tokio::test]
async fn dynamic_api_serves_custom_resources() {
    let (_server, client, _dir) = start().await;
    let crd: serde_json::Value = serde_yaml::from_str(include_str!("fixtures/widgets-crd.yaml")).expect("fixture");
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(&()),
    );
    crds.create(&PostParams::default(), &serde_json::from_value(crd).expect("crd"))
        .await
        .expect("crd created");
    let ar = ApiResource {
        group: "drill.example.com".into(),
        version: "v1".into(),
        api_version: "drill.example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let w: DynamicObject = serde_json::from_value(serde_json::json!({"apiVersion": "drill.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "large", "bogus": 1}})).expect("widget");
    let created = api.create(&PostParams::default(), &w).await.expect("create");
    assert_eq!(created.data["spec"]["replicas"], 1, "schema default applied");
    assert!(created.data["spec"].get("bogus").is_none(), "unknown field pruned");
    let desired = Patch::Apply(
        serde_json::json!({"apiVersion": "drill.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "large", "replicas": 3}}),
    );
    // The creator owns spec.replicas, so a first apply that changes it conflicts unless forced.
    let err = api
        .patch("w", &PatchParams::apply("drdrill-test"), &desired)
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.message.contains(".spec.replicas")),
        "{err:?}"
    );
    let applied = api
        .patch("w", &PatchParams::apply("drdrill-test").force(), &desired)
        .await
        .expect("server-side apply");
    assert_eq!(applied.data["spec"]["replicas"], 3);
    assert!(applied.metadata.managed_fields.as_ref().is_some_and(|m| {
        m.iter()
            .any(|f| f.manager.as_deref() == Some("drdrill-test") && f.operation.as_deref() == Some("Apply"))
    }));
    let status = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"replicas": 3}, "spec": {"replicas": 9}})),
        )
        .await
        .expect("status patch");
    assert_eq!(
        (status.data["status"]["replicas"].as_i64(), status.data["spec"]["replicas"].as_i64()),
        (Some(3), Some(3)),
        "status writes touch status only"
    );
}

#[tokio::test]
async fn reflector_stays_in_sync_through_a_thousand_writes() {
    let (_server, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default())).applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while stream.try_next().await.is_ok_and(|o| o.is_some()) {}
    });
    reader.wait_until_ready().await.expect("reflector ready");
    for i in 0..1000 {
        let name = format!("cm-{}", i % 100);
        if i < 100 {
            api.create(&PostParams::default(), &cm(&name, &i.to_string()))
                .await
                .expect("create");
        } else if i % 10 == 9 {
            api.delete(&name, &DeleteParams::default()).await.expect("delete");
            api.create(&PostParams::default(), &cm(&name, &i.to_string()))
                .await
                .expect("recreate");
        } else {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"data": {"v": i.to_string()}})),
            )
            .await
            .expect("patch");
        }
    }
    let truth = api.list(&ListParams::default()).await.expect("list");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut cached: Vec<(String, String)> = reader
            .state()
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap_or_default(),
                    c.metadata.resource_version.clone().unwrap_or_default(),
                )
            })
            .collect();
        let mut real: Vec<(String, String)> = truth
            .items
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap_or_default(),
                    c.metadata.resource_version.clone().unwrap_or_default(),
                )
            })
            .collect();
        cached.sort();
        real.sort();
        if cached == real {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reflector out of sync: {} cached vs {} stored",
            cached.len(),
            real.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
}

#[tokio::test]
async fn controller_reconciles_every_object() {
    let (_server, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), "0"))
            .await
            .expect("create");
    }
    let reconciled = Arc::new(AtomicUsize::new(0));
    let ctx = Arc::new((api.clone(), reconciled.clone()));
    let controller = Controller::new(api.clone(), watcher::Config::default()).run(
        |obj: Arc<ConfigMap>, ctx: Arc<(Api<ConfigMap>, Arc<AtomicUsize>)>| async move {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if obj.metadata.annotations.as_ref().and_then(|a| a.get("reconciled")).is_none() {
                ctx.0
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"reconciled": "yes"}}})),
                    )
                    .await?;
                ctx.1.fetch_add(1, Ordering::SeqCst);
            }
            Ok::<_, kube::Error>(kube::runtime::controller::Action::await_change())
        },
        |_obj, _err, _ctx| kube::runtime::controller::Action::requeue(Duration::from_millis(100)),
        ctx,
    );
    let task = tokio::spawn(controller.for_each(|_| async {}));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = api.list(&ListParams::default()).await.expect("list");
        if list
            .items
            .iter()
            .all(|c| c.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("reconciled")))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "controller did not reconcile everything");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reconciled.load(Ordering::SeqCst), 5);
    task.abort();
}

#[tokio::test]
async fn watcher_relists_after_410() {
    let (mut server, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("before", "0")).await.expect("create");
    let mut events = std::pin::pin!(watcher(api.clone(), watcher::Config::default()).default_backoff());
    let mut inits = 0;
    // Read the initial listing.
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("initial events")
    {
        if matches!(ev.expect("event"), watcher::Event::InitDone) {
            inits += 1;
            break;
        }
    }
    // Cut the connection, lose history, change the world, and come back: the watcher's
    // resume point is too old, so it must get 410 and relist.
    server.go_offline();
    server.state().compact();
    {
        let mut state = server.state();
        let now = state.now();
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "during", "namespace": "default", "creationTimestamp": now}, "data": {"v": "1"}});
        state
            .create(&drdrill_kube_sim::resources::ResKey::new("", "configmaps"), obj)
            .expect("direct create");
        state.compact();
    }
    server.come_online().await.expect("online again");
    let mut saw_during = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline && !(saw_during && inits >= 2) {
        let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(30), events.next()).await else {
            break;
        };
        match ev {
            Ok(watcher::Event::InitDone) => inits += 1,
            Ok(watcher::Event::InitApply(o)) | Ok(watcher::Event::Apply(o)) if o.metadata.name.as_deref() == Some("during") => {
                saw_during = true
            }
            _ => {}
        }
    }
    assert!(inits >= 2, "the watcher relisted after 410");
    assert!(saw_during, "the relist brought the object created while history was lost");
}
