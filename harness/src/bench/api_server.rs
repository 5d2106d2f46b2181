//! The `api-server` benchmark: speed of the embedded API server on the paths drills lean on, measured
//! against a floor (serde_json alone) and written as JSON plus a table for BENCHMARKS.md.

use std::time::Instant;

use drdrill_kube_sim::resources::ResKey;
use drdrill_kube_sim::{ApiServer, ServerOptions};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use kube::{Client, Config};
use serde::Serialize;
use serde_json::{Value, json};

use super::{BenchError, Measurement, build_name, measurement_table, median_ms as median};

/// Sizes of a benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchInput {
    /// Objects in the LIST benchmark.
    pub list_objects: usize,
    /// Timed repetitions of each measurement (the median is reported).
    pub repetitions: usize,
    /// Concurrent watchers in the fan-out benchmark.
    pub watchers: usize,
    /// Writes every watcher must receive.
    pub watch_writes: usize,
}

impl Default for BenchInput {
    fn default() -> Self {
        BenchInput {
            list_objects: 10_000,
            repetitions: 7,
            watchers: 50,
            watch_writes: 1_000,
        }
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Sizes used.
    pub input: BenchInput,
    /// Whether this was an optimized build.
    pub release_build: bool,
    /// Results.
    pub measurements: Vec<Measurement>,
}

impl BenchReport {
    /// The Markdown table for BENCHMARKS.md.
    pub fn table(&self) -> String {
        measurement_table(&self.measurements)
    }
}

/// The list body serialized straight from the stored objects: what serde_json alone costs.
#[derive(Serialize)]
struct FloorList<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    metadata: Value,
    items: &'a [&'a Value],
}

fn widget(i: usize) -> Value {
    json!({
        "apiVersion": "bench.drdrill.dev/v1",
        "kind": "Widget",
        "metadata": {"name": format!("widget-{i:05}"), "namespace": "default", "labels": {"app": "bench", "shard": format!("s{}", i % 10)}},
        "spec": {"size": "small", "replicas": i % 7, "owner": "team-a", "zones": ["a", "b", "c"], "paused": false},
    })
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.bench.drdrill.dev"},
        "spec": {
            "group": "bench.drdrill.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    })
}

async fn client_for(server: &ApiServer, dir: &std::path::Path) -> Result<Client, BenchError> {
    let path = dir.join("kubeconfig");
    server.write_kubeconfig(&path, "bench-admin@bench")?;
    let kubeconfig = Kubeconfig::read_from(&path).map_err(|e| BenchError::Setup(e.to_string()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    Client::try_from(config).map_err(|source| BenchError::Kube { what: "client", source })
}

/// Runs every benchmark; `progress` hears about each phase.
pub async fn run(input: &BenchInput, progress: &mut dyn FnMut(&str)) -> Result<BenchReport, BenchError> {
    let dir = tempfile::tempdir().map_err(|e| BenchError::Setup(e.to_string()))?;
    let server = ApiServer::start(ServerOptions {
        cluster_name: "bench".into(),
        ..ServerOptions::default()
    })
    .await?;
    let client = client_for(&server, dir.path()).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(crd()).map_err(|e| BenchError::Setup(e.to_string()))?;
    crds.create(&PostParams::default(), &crd).await.map_err(|source| BenchError::Kube {
        what: "create CRD",
        source,
    })?;

    progress(&format!("storing {} custom objects", input.list_objects));
    let key = ResKey::new("bench.drdrill.dev", "widgets");
    let mut stored = Vec::with_capacity(input.list_objects);
    {
        let mut state = server.state();
        for i in 0..input.list_objects {
            let obj = state.create(&key, widget(i)).map_err(|e| BenchError::Setup(e.to_string()))?;
            stored.push(obj);
        }
    }
    let mut measurements = Vec::new();

    progress("LIST over HTTPS vs serde_json alone");
    let refs: Vec<&Value> = stored.iter().map(|a| a.as_ref()).collect();
    let mut floor = Vec::new();
    for _ in 0..input.repetitions {
        let start = Instant::now();
        let body = FloorList {
            api_version: "bench.drdrill.dev/v1",
            kind: "WidgetList",
            metadata: json!({"resourceVersion": "1"}),
            items: &refs,
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| BenchError::Setup(e.to_string()))?;
        std::hint::black_box(bytes);
        floor.push(start.elapsed());
    }
    let mut list = Vec::new();
    let mut size = 0;
    for _ in 0..input.repetitions {
        let request = http::Request::get("/apis/bench.drdrill.dev/v1/namespaces/default/widgets")
            .body(Vec::new())
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let start = Instant::now();
        let text = client
            .request_text(request)
            .await
            .map_err(|source| BenchError::Kube { what: "LIST", source })?;
        list.push(start.elapsed());
        size = text.len();
    }
    let (list_ms, floor_ms) = (median(list), median(floor));
    measurements.push(Measurement {
        name: format!("LIST {} custom objects", input.list_objects),
        median_ms: list_ms,
        floor_ms: Some(floor_ms),
        ratio: Some(list_ms / floor_ms.max(1e-9)),
        target_ratio: Some(3.0),
        detail: format!(
            "{:.1} MiB response; floor = serde_json::to_vec of the same list",
            size as f64 / 1_048_576.0
        ),
    });

    progress(&format!(
        "watch fan-out: {} watchers x {} writes",
        input.watchers, input.watch_writes
    ));
    let ar = ApiResource {
        group: "bench.drdrill.dev".into(),
        version: "v1".into(),
        api_version: "bench.drdrill.dev/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let rv = server.state().rv.to_string();
    let mut tasks = Vec::new();
    for _ in 0..input.watchers {
        let stream = api
            .watch(&WatchParams::default().fields("metadata.name=widget-00000"), &rv)
            .await
            .map_err(|source| BenchError::Kube { what: "watch", source })?;
        let wanted = input.watch_writes;
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut seen = 0;
            while let Some(Ok(ev)) = stream.next().await {
                if matches!(ev, WatchEvent::Modified(_)) {
                    seen += 1;
                    if seen == wanted {
                        return Some(Instant::now());
                    }
                }
            }
            None
        }));
    }
    let start = Instant::now();
    for i in 0..input.watch_writes {
        api.patch(
            "widget-00000",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": i + 100}})),
        )
        .await
        .map_err(|source| BenchError::Kube { what: "patch", source })?;
    }
    let writes_done = start.elapsed();
    let mut last = start;
    for t in tasks {
        match t.await {
            Ok(Some(done)) => last = last.max(done),
            _ => return Err(BenchError::Setup("a watcher ended before receiving every event".into())),
        }
    }
    let total = last - start;
    let delivered = input.watchers * input.watch_writes;
    measurements.push(Measurement {
        name: format!("watch fan-out {} watchers x {} writes", input.watchers, input.watch_writes),
        median_ms: total.as_secs_f64() * 1000.0,
        floor_ms: Some(writes_done.as_secs_f64() * 1000.0),
        ratio: Some(total.as_secs_f64() / writes_done.as_secs_f64().max(1e-9)),
        target_ratio: None,
        detail: format!(
            "{:.0} events/s delivered; floor = the writes alone",
            delivered as f64 / total.as_secs_f64().max(1e-9)
        ),
    });
    Ok(BenchReport {
        input: input.clone(),
        release_build: super::release_build(),
        measurements,
    })
}

/// The body of the `api-server` block of BENCHMARKS.md.
pub fn markdown_body(report: &BenchReport) -> String {
    format!(
        "```\n{}```\nBuild: {}. Sizes: {} objects listed (median of {} runs), {} watchers x {} writes (one run). Raw data: `benchmarks/api_server.json`.",
        report.table(),
        build_name(report.release_build),
        report.input.list_objects,
        report.input.repetitions,
        report.input.watchers,
        report.input.watch_writes,
    )
}

/// Rewrites the `api-server` results block of a Markdown file (creating the file or block if
/// missing); text outside the block is kept.
pub fn write_markdown(path: &std::path::Path, report: &BenchReport) -> std::io::Result<()> {
    super::write_block(path, "api-server", &markdown_body(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> BenchReport {
        BenchReport {
            input: BenchInput {
                list_objects: 3,
                repetitions: 1,
                watchers: 2,
                watch_writes: 4,
            },
            release_build: true,
            measurements: vec![Measurement {
                name: "LIST 3 custom objects".into(),
                median_ms: 1.25,
                floor_ms: Some(0.5),
                ratio: Some(2.5),
                target_ratio: Some(3.0),
                detail: "tiny".into(),
            }],
        }
    }

    #[test]
    fn markdown_block_is_replaced_and_prose_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("BENCHMARKS.md");
        std::fs::write(
            &path,
            format!(
                "# Benchmarks\n\nProse before.\n\n{}\nold\n{}\n\nProse after.\n",
                super::super::begin_marker("api-server"),
                super::super::end_marker("api-server")
            ),
        )
        .expect("write");
        write_markdown(&path, &report()).expect("update");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("Prose before.") && text.contains("Prose after."), "{text}");
        assert!(!text.contains("\nold\n"), "{text}");
        assert_eq!(text.matches(&super::super::begin_marker("api-server")).count(), 1);
        crate::report::assert_golden("bench_table.txt", &report().table());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn benchmarks_run_end_to_end_at_small_sizes() {
        let input = BenchInput {
            list_objects: 40,
            repetitions: 1,
            watchers: 3,
            watch_writes: 5,
        };
        let report = run(&input, &mut |_| {}).await.expect("bench runs");
        assert_eq!(report.measurements.len(), 2);
        assert!(report.measurements.iter().all(|m| m.median_ms > 0.0 && m.ratio.is_some()));
    }
}
