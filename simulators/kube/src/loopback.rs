//! The loopback: requests from clients living in the same process — the simulated cluster's own
//! controllers, as kube-apiserver's loopback client serves its own — handed to the server
//! without a socket or TLS. Every request still goes through the whole HTTP layer (the bearer
//! token is checked, content is negotiated, bodies are limited) and gets the answer a TLS
//! connection would. What the transport did and the loopback does not: no certificate is
//! verified (a kubeconfig with the wrong CA still works), and kube-rs's default retry and
//! timeout layers are not stacked (the server never answers 429/503/504, and answers at once).
//! While the server is offline a loopback request fails as a refused connection would, and a
//! watch served through the loopback ends once the server has gone offline (even if it came
//! back before the watch was read again), as a cut connection does — cleanly, where a cut TLS
//! stream ends with an error.
//!
//! Servers register their URL when they start; [`lookup`] finds a live one by the URL a
//! kubeconfig names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response};
use http_body_util::{BodyExt, BodyStream, StreamBody};

use crate::http::Body;
use crate::server::Shared;

/// Why a loopback request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoopbackError {
    /// The server is offline (or gone): what a refused connection reports.
    #[error("connection refused: the API server at {0} is not serving")]
    Refused(String),
}

/// A handle on an in-process server; cheap to clone. It does not keep the server alive.
#[derive(Debug, Clone)]
pub struct Loopback {
    shared: Weak<Shared>,
    url: String,
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Shared>>> {
    static REGISTRY: std::sync::OnceLock<Mutex<HashMap<String, Weak<Shared>>>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Records a started server under its URL (forgetting servers that are gone).
pub(crate) fn register(url: &str, shared: &Arc<Shared>) {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(url.to_string(), Arc::downgrade(shared));
}

/// The in-process server at `url` (`https://127.0.0.1:PORT`, as a kubeconfig names it), if one
/// is alive in this process.
pub fn lookup(url: &str) -> Option<Loopback> {
    let url = url.trim_end_matches('/');
    let map = registry().lock().unwrap_or_else(|p| p.into_inner());
    let shared = map.get(url)?;
    (shared.strong_count() > 0).then(|| Loopback {
        shared: shared.clone(),
        url: url.to_string(),
    })
}

impl Loopback {
    pub(crate) fn new(shared: &Arc<Shared>, url: String) -> Self {
        Loopback {
            shared: Arc::downgrade(shared),
            url,
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answers `req` (its URI's path and query are used) as the server would over TLS.
    pub async fn call<B>(&self, req: Request<B>) -> Result<Response<Body>, LoopbackError>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let refused = || LoopbackError::Refused(self.url.clone());
        let shared = self.shared.upgrade().ok_or_else(refused)?;
        let mut serving = shared.serving.subscribe();
        let at_start = *serving.borrow_and_update();
        if !at_start.online {
            return Err(refused());
        }
        let response = crate::http::handle(shared, req).await;
        if hyper::body::Body::size_hint(response.body()).exact().is_some() {
            return Ok(response);
        }
        // A stream (a watch) ends when the server stops serving, as a cut connection would.
        let (parts, body) = response.into_parts();
        let cut = async move {
            while serving.borrow_and_update().outages == at_start.outages {
                if serving.changed().await.is_err() {
                    return;
                }
            }
        };
        let frames = BodyStream::new(body).take_until(Box::pin(cut));
        Ok(Response::from_parts(parts, BodyExt::boxed(StreamBody::new(frames))))
    }
}
