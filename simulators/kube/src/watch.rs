//! Watch: a chunked stream of JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) from a
//! resourceVersion, with selector transitions, bookmarks, timeouts and 410 for lost history.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::error::{ApiError, ApiResult};
use crate::handlers::{Filter, table_for};
use crate::http::{ApiRequest, Body, Output};
use crate::resources::ResourceDef;
use crate::routes::ResourcePath;
use crate::server::Shared;
use crate::store::{Change, EventType, meta_str};

type Response = http::Response<Body>;

/// One line of a watch stream.
#[derive(serde::Serialize)]
struct WatchLine<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a Value,
}

struct Watch {
    shared: Arc<Shared>,
    def: Arc<ResourceDef>,
    path: ResourcePath,
    req: ApiRequest,
    filter: Filter,
}

impl Watch {
    fn wants(&self, change: &Change) -> bool {
        change.res == self.def.key() && self.path.namespace.as_ref().is_none_or(|n| *n == change.ns)
    }

    /// The event a change means for this watcher, honouring selector transitions.
    fn event_for(&self, change: &Change) -> Option<(&'static str, Arc<Value>)> {
        if !self.wants(change) {
            return None;
        }
        let now = self.filter.matches(&change.object);
        let before = change.old.as_ref().is_some_and(|o| self.filter.matches(o));
        let kind = match change.kind {
            EventType::Added => now.then_some("ADDED"),
            EventType::Deleted => (before || now).then_some("DELETED"),
            EventType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => {
                    // Like kube-apiserver's cacher: the object left the selector, so the DELETED
                    // event carries its previous (matching) content at the change's resourceVersion.
                    let mut last = change.old.as_deref().cloned().unwrap_or_default();
                    crate::store::ensure_meta(&mut last).insert("resourceVersion".into(), json!(change.rv.to_string()));
                    return Some(("DELETED", Arc::new(last)));
                }
                (false, false) => None,
            },
        }?;
        Some((kind, change.object.clone()))
    }

    fn encode(&self, kind: &str, obj: &Value) -> Bytes {
        let api_version = self.def.api_version(&self.path.version);
        let converted: Value;
        let object: &Value = if self.req.output == Output::Table {
            let mut at_version = obj.clone();
            at_version["apiVersion"] = json!(api_version);
            let meta = json!({"resourceVersion": meta_str(obj, "resourceVersion")});
            let now = self.shared.options.clock.now();
            converted = table_for(&self.def, &self.path.version, &[&at_version], &self.req, meta, now).unwrap_or(at_version);
            &converted
        } else if self.req.output == Output::Metadata {
            converted = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))});
            &converted
        } else if obj.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str()) {
            let mut at_version = obj.clone();
            at_version["apiVersion"] = json!(api_version);
            converted = at_version;
            &converted
        } else {
            // The common case: the stored object is serialized as is, without a copy per watcher.
            obj
        };
        let mut line = serde_json::to_vec(&WatchLine { kind, object }).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.def.kind, "apiVersion": self.def.api_version(&self.path.version), "metadata": meta});
        let mut line = serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn expired(rv: &str) -> Value {
    ApiError::gone(format!("too old resource version: {rv}")).to_status()
}

/// Starts a watch response.
pub fn serve(shared: Arc<Shared>, def: Arc<ResourceDef>, path: ResourcePath, req: ApiRequest) -> ApiResult<Response> {
    let filter = Filter::from_request(&def, &req)?;
    let timeout = match req.param("timeoutSeconds") {
        None | Some("") => None,
        Some(t) => Some(Duration::from_secs(t.parse().map_err(|_| {
            ApiError::bad_request(format!("timeoutSeconds: Invalid value: {t:?}: must be an integer"))
        })?)),
    };
    let from = req.param("resourceVersion").unwrap_or("").to_string();
    let send_initial = req.param("sendInitialEvents") == Some("true");
    let bookmarks = req.flag("allowWatchBookmarks");
    let from_rv: Option<u64> = match from.as_str() {
        "" | "0" => None,
        s => Some(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("resourceVersion: Invalid value: {s:?}: must be a decimal number")))?,
        ),
    };
    let watch = Watch {
        shared: shared.clone(),
        def,
        path,
        req,
        filter,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);

    // Everything before going live is read under the lock, so no change is missed or doubled.
    let (mut receiver, backlog, start_rv, gone) = {
        let state = shared.state();
        let receiver = state.subscribe();
        let mut backlog: Vec<Bytes> = Vec::new();
        let mut gone = false;
        match from_rv {
            Some(rv) if !send_initial => {
                if rv < state.oldest_watchable_rv {
                    gone = true;
                } else {
                    for change in state.history.iter().filter(|c| c.rv > rv) {
                        if let Some((kind, obj)) = watch.event_for(change) {
                            backlog.push(watch.encode(kind, &obj));
                        }
                    }
                }
            }
            _ => {
                if let Ok(table) = state.table(&watch.def.key()) {
                    for ((ns, _), obj) in &table.objects {
                        if watch.path.namespace.as_ref().is_some_and(|n| n != ns) || !watch.filter.matches(obj) {
                            continue;
                        }
                        backlog.push(watch.encode("ADDED", obj));
                    }
                }
                if send_initial {
                    backlog.push(watch.bookmark(state.rv, true));
                }
            }
        }
        (receiver, backlog, state.rv, gone)
    };

    let interval = shared.options.bookmark_interval;
    tokio::spawn(async move {
        if gone {
            let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": expired(&from)})).unwrap_or_default();
            line.push(b'\n');
            let _ = tx.send(Bytes::from(line)).await;
            return;
        }
        for line in backlog {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut last_rv = start_rv;
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            let until_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = until_deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(watch.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                received = receiver.recv() => match received {
                    Ok(change) => {
                        if change.rv <= start_rv {
                            continue;
                        }
                        last_rv = change.rv;
                        if let Some((kind, obj)) = watch.event_for(&change)
                            && tx.send(watch.encode(kind, &obj)).await.is_err() {
                                return;
                            }
                    }
                    // Too slow a reader, or the server is going away: end the stream; the
                    // client resumes from the last resourceVersion it saw.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });

    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
    });
    let mut resp = http::Response::new(StreamBody::new(stream).boxed());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}
