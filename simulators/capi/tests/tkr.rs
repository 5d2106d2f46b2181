//! The TKR source on a new management cluster: the management cluster's own release at once,
//! the others after their delay on the virtual clock; conditions and labels as tanzu-framework
//! sets them; deactivated and unknown releases are not Ready.

mod common;

use std::sync::Arc;
use std::time::Duration;

use drdrill_apis::tkr::TanzuKubernetesRelease;
use drdrill_capi_sim::controllers::{TkrController, TkrRelease};
use drdrill_kube_sim::clock::{VirtualClock, k8s_time};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

const OWN: &str = "v1.24.10---vmware.1-tkg.1";

fn releases() -> Vec<TkrRelease> {
    vec![
        TkrRelease::from_version("v1.24.10+vmware.1-tkg.1", Duration::ZERO),
        TkrRelease::from_version("v1.23.16+vmware.1-tkg.1", Duration::from_secs(180)),
        TkrRelease::from_version("v1.22.17+vmware.2-tkg.2", Duration::from_secs(240)),
    ]
}

async fn world() -> (drdrill_kube_sim::ApiServer, Client, VirtualClock) {
    let clock = VirtualClock::starting_at("2022-12-07T17:00:00Z".parse().expect("time"));
    let (server, client) = common::server("tkg-mgmt", &clock).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in drdrill_apis::all_crds() {
        crds.create(&PostParams::default(), &crd).await.expect("install CRD");
    }
    (server, client, clock)
}

async fn tkrs(client: &Client) -> Vec<TanzuKubernetesRelease> {
    Api::<TanzuKubernetesRelease>::all(client.clone())
        .list(&Default::default())
        .await
        .expect("list TKRs")
        .items
}

fn condition(tkr: &TanzuKubernetesRelease, type_: &str) -> (String, Option<String>, Option<String>) {
    let c = tkr
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("{} has no {type_} condition", tkr.name_any()));
    (c.status.clone(), c.reason.clone(), c.last_transition_time.clone())
}

#[tokio::test]
async fn releases_appear_over_time_with_conditions_and_labels() {
    let (_server, client, clock) = world().await;
    let controller = TkrController::new(client.clone(), Arc::new(clock.clone()), releases());

    // A minute after the management cluster came up: only its own release.
    clock.advance(Duration::from_secs(60));
    let report = controller.reconcile_all().await.expect("pass");
    assert_eq!(report.created, [format!("TanzuKubernetesRelease/{OWN}")]);
    let now = tkrs(&client).await;
    assert_eq!(now.iter().map(|t| t.name_any()).collect::<Vec<_>>(), [OWN]);
    let own = &now[0];
    assert_eq!(own.spec.version, "v1.24.10+vmware.1-tkg.1");
    assert_eq!(own.spec.kubernetes.version, "v1.24.10+vmware.1");
    assert_eq!(
        condition(own, "Compatible"),
        ("True".into(), None, Some(k8s_time(clock_now(&clock))))
    );
    assert_eq!(condition(own, "Ready").0, "True");
    assert!(
        own.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().all(|c| c.type_ != "UpdatesAvailable")),
        "UpdatesAvailable is a Cluster condition in TKR v1alpha3"
    );
    let mut labels: Vec<&String> = own.labels().keys().collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "v1",
            "v1.24",
            "v1.24.10",
            "v1.24.10---vmware",
            "v1.24.10---vmware.1",
            "v1.24.10---vmware.1-tkg",
            "v1.24.10---vmware.1-tkg.1"
        ]
    );

    // A second pass with nothing due changes nothing (level-triggered, idempotent).
    assert!(!controller.reconcile_all().await.expect("pass").changed());

    // Three minutes in: v1.23 is due, v1.22 (four minutes) not yet.
    clock.advance(Duration::from_secs(120));
    controller.reconcile_all().await.expect("pass");
    let mut names: Vec<String> = tkrs(&client).await.iter().map(|t| t.name_any()).collect();
    names.sort();
    assert_eq!(names, ["v1.23.16---vmware.1-tkg.1", OWN]);

    clock.advance(Duration::from_secs(60));
    let report = controller.reconcile_all().await.expect("pass");
    assert_eq!(report.created, ["TanzuKubernetesRelease/v1.22.17---vmware.2-tkg.2"]);
    assert_eq!(tkrs(&client).await.len(), 3);

    // A restarted controller (same clock) counts from the management cluster's birth, not its own.
    let restarted = TkrController::new(client.clone(), Arc::new(clock.clone()), releases());
    assert!(!restarted.reconcile_all().await.expect("pass").changed());
}

fn clock_now(clock: &VirtualClock) -> jiff::Timestamp {
    drdrill_kube_sim::clock::Clock::now(clock)
}

#[tokio::test]
async fn deactivated_and_unsupported_releases_are_not_ready() {
    let (_server, client, clock) = world().await;
    let controller = TkrController::new(client.clone(), Arc::new(clock.clone()), releases()[..1].to_vec());
    controller.reconcile_all().await.expect("pass");
    let api: Api<TanzuKubernetesRelease> = Api::all(client.clone());

    // An administrator deactivates the release.
    clock.advance(Duration::from_secs(30));
    api.patch(
        OWN,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"deactivated": ""}}})),
    )
    .await
    .expect("deactivate");
    controller.reconcile_all().await.expect("pass");
    let own = api.get(OWN).await.expect("get");
    let ready = condition(&own, "Ready");
    assert_eq!((ready.0.as_str(), ready.1.as_deref()), ("False", Some("Deactivated")));
    assert_eq!(
        ready.2,
        Some(k8s_time(clock_now(&clock))),
        "the transition is stamped with the clock"
    );
    assert_eq!(condition(&own, "Compatible").0, "True", "deactivation does not touch compatibility");

    // A TKR this management cluster does not support (e.g. created by hand) is incompatible.
    let foreign = TanzuKubernetesRelease::new(
        "v1.21.14---vmware.2-tkg.5",
        drdrill_apis::tkr::TanzuKubernetesReleaseSpec {
            version: "v1.21.14+vmware.2-tkg.5".into(),
            ..Default::default()
        },
    );
    api.create(&PostParams::default(), &foreign).await.expect("create");
    controller.reconcile_all().await.expect("pass");
    let foreign = api.get("v1.21.14---vmware.2-tkg.5").await.expect("get");
    assert_eq!(condition(&foreign, "Compatible").0, "False");
    assert_eq!(condition(&foreign, "Ready").1.as_deref(), Some("Incompatible"));
    assert!(foreign.labels().contains_key("incompatible"));

    // Reactivation: the label goes, Ready comes back.
    api.patch(
        OWN,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"deactivated": null}}})),
    )
    .await
    .expect("reactivate");
    controller.reconcile_all().await.expect("pass");
    assert_eq!(condition(&api.get(OWN).await.expect("get"), "Ready").0, "True");
}
