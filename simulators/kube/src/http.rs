//! HTTP plumbing: connections, authentication, body limits, content negotiation, dispatch.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::error::{ApiError, ApiResult};
use crate::routes::{self, Route};
use crate::server::Shared;

/// The response body type: a full buffer or a watch stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// Accepts connections until the task is aborted; aborting also cuts every open connection.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.config.clone());
                connections.spawn(async move {
                    let stream = match acceptor.accept(stream).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return;
                        }
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What the client asked to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain JSON objects.
    Json,
    /// `meta.k8s.io/v1 Table`.
    Table,
    /// `meta.k8s.io/v1 PartialObjectMetadata(List)`.
    Metadata,
}

/// A parsed request, as handlers see it.
#[derive(Debug)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Query parameters, in order (kube-rs may send a leading `&`).
    pub query: Vec<(String, String)>,
    /// Request content type (lowercase, parameters kept).
    pub content_type: String,
    /// The Accept header.
    pub accept: String,
    /// What to answer with.
    pub output: Output,
    /// Whether aggregated discovery (apidiscovery.k8s.io/v2) was asked for.
    pub aggregated: Option<&'static str>,
    /// The body.
    pub body: Bytes,
    /// The User-Agent header (the default field manager comes from it).
    pub user_agent: String,
}

impl ApiRequest {
    /// The last value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter (`true`/`1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    /// The body parsed as JSON or YAML (by content type); 400 naming the problem otherwise.
    pub fn json_body(&self) -> ApiResult<Value> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("the request body is empty; an object was expected"));
        }
        let ct = self.content_type.split(';').next().unwrap_or("").trim();
        if crate::protobuf::is_protobuf(ct) {
            return crate::protobuf::decode(&self.body).map_err(|e| match e.http_status() {
                415 => ApiError {
                    code: 415,
                    reason: "UnsupportedMediaType",
                    message: e.to_string(),
                    details: None,
                },
                _ => ApiError::bad_request(format!("the protobuf body cannot be decoded: {e}")),
            });
        }
        if ct.ends_with("yaml") {
            return serde_yaml::from_slice(&self.body).map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
    }
}

const WRITE_TYPES: &[&str] = &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn negotiate(accept: &str) -> ApiResult<(Output, Option<&'static str>)> {
    if accept.is_empty() {
        return Ok((Output::Json, None));
    }
    let mut json_ok = false;
    for part in accept.split(',') {
        let mut pieces = part.split(';').map(str::trim);
        let media = pieces.next().unwrap_or("");
        let params: Vec<(&str, &str)> = pieces.filter_map(|p| p.split_once('=')).collect();
        let get = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        if media != "application/json" && media != "*/*" && media != "application/*" && media != "application/yaml" {
            continue;
        }
        match (get("as"), get("g"), get("v")) {
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) => return Ok((Output::Table, None)),
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) => {
                return Ok((Output::Metadata, None));
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => return Ok((Output::Json, Some("v2"))),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) => return Ok((Output::Json, Some("v2beta1"))),
            (None, _, _) => json_ok = true,
            _ => {}
        }
    }
    if json_ok {
        Ok((Output::Json, None))
    } else {
        Err(ApiError::not_acceptable(accept))
    }
}

fn header_str<B>(req: &Request<B>, name: header::HeaderName) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Answers one request, whatever carried it (a TLS connection, or the in-process loopback).
pub(crate) async fn handle<B>(shared: Arc<Shared>, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    shared.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match handle_inner(&shared, req).await {
        Ok(resp) => resp,
        Err(err) => {
            tracing::debug!(%method, %path, code = err.code, "{}", err.message);
            error_response(&err)
        }
    }
}

/// A Status response for an error.
pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(
        StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &err.to_status(),
    )
}

/// A JSON response.
pub fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes_response(code, "application/json", Bytes::from(bytes))
}

/// A response with the given content type.
pub fn bytes_response(code: StatusCode, content_type: &str, bytes: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(bytes).boxed());
    *resp.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

async fn handle_inner<B>(shared: &Arc<Shared>, req: Request<B>) -> ApiResult<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let route = routes::parse(req.uri().path());
    if route != Some(Route::Health) {
        let auth = header_str(&req, header::AUTHORIZATION);
        let presented = auth.strip_prefix("Bearer ").map(str::trim);
        if presented != Some(shared.token.as_str()) {
            return Err(ApiError::unauthorized());
        }
    }
    let accept = header_str(&req, header::ACCEPT);
    let content_type = header_str(&req, header::CONTENT_TYPE).to_ascii_lowercase();
    let method = req.method().clone();
    let user_agent = header_str(&req, header::USER_AGENT);
    let query: Vec<(String, String)> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let limit = shared.options.max_body_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ApiError::too_large(limit)),
    };
    let (output, aggregated) = negotiate(&accept)?;
    let request = ApiRequest {
        method,
        query,
        content_type,
        accept,
        output,
        aggregated,
        body,
        user_agent,
    };
    let Some(route) = route else {
        return Err(ApiError::no_route());
    };
    if request.method != Method::GET && !matches!(route, Route::Resource(_)) {
        return Err(ApiError::method_not_allowed(request.method.as_str(), "discovery"));
    }
    if matches!(request.method, Method::POST | Method::PUT) {
        let ct = request.content_type.split(';').next().unwrap_or("").trim();
        if !WRITE_TYPES.contains(&ct) {
            return Err(ApiError::unsupported_media_type(&request.content_type, WRITE_TYPES));
        }
    }
    match route {
        Route::Health => Ok(bytes_response(StatusCode::OK, "text/plain", Bytes::from_static(b"ok"))),
        Route::Version => Ok(json_response(StatusCode::OK, &crate::discovery::version())),
        Route::CoreVersions | Route::Groups | Route::Group(_) | Route::ResourceList { .. } => {
            crate::discovery::serve(shared, &route, &request)
        }
        Route::OpenApiV2 => Err(ApiError::no_route()),
        Route::OpenApiV3Root => Ok(json_response(StatusCode::OK, &crate::openapi::root(&shared.state()))),
        Route::OpenApiV3 { group, version } => {
            let doc = crate::openapi::group_version(&shared.state(), &group, &version).ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc))
        }
        Route::Resource(path) => crate::handlers::serve(shared, path, request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(accept).expect("negotiates").0, Output::Table);
    }

    #[test]
    fn aggregated_discovery_is_recognised() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(accept).expect("negotiates").1, Some("v2"));
    }

    #[test]
    fn protobuf_only_is_not_acceptable() {
        let err = negotiate("application/vnd.kubernetes.protobuf").expect_err("no protobuf");
        assert_eq!(err.code, 406);
        assert_eq!(
            negotiate("application/vnd.kubernetes.protobuf, */*").expect("falls back").0,
            Output::Json
        );
    }
}
