//! kube-rs clients for the simulated world's own controllers: through the [loopback] when the
//! kubeconfig names a server living in this process, over HTTPS otherwise.
//!
//! [loopback]: crate::loopback

use http::Request;
use kube::client::ConfigExt;
use kube::{Client, Config};
use tower::ServiceBuilder;

/// A client for `config`. A server of this process is reached through its loopback — the same
/// requests and answers, the token still checked, no socket or TLS; any other server (a real
/// cluster) as `Client::try_from` reaches it.
pub fn connect(config: Config) -> Result<Client, kube::Error> {
    let Some(loopback) = crate::loopback::lookup(&config.cluster_url.to_string()) else {
        return Client::try_from(config);
    };
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .service(tower::service_fn(move |req: Request<kube::client::Body>| {
            let loopback = loopback.clone();
            async move { loopback.call(req).await.map_err(tower::BoxError::from) }
        }));
    Ok(Client::new(service, config.default_namespace))
}

/// Whether `e` says the server does not serve the resource asked for at all (kube-apiserver's
/// 404 for a path that names no resource — a CRD not installed, or gone), as opposed to a
/// named object that does not exist. controller-runtime's controllers wait in that case, and
/// retry, rather than stop the manager.
pub fn is_resource_not_served(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => {
            status.code == 404
                && status
                    .details
                    .as_ref()
                    .is_some_and(|d| d.name.is_empty() && d.causes.iter().any(|c| c.reason == "UnexpectedServerResponse"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ApiError;

    fn as_client_error(e: ApiError) -> kube::Error {
        let body = serde_json::to_vec(&e.to_status()).expect("status");
        kube::Error::Api(Box::new(serde_json::from_slice(&body).expect("a Status")))
    }

    #[test]
    fn a_path_without_a_resource_is_not_served_a_missing_object_is_not() {
        assert!(super::is_resource_not_served(&as_client_error(ApiError::no_route())));
        assert!(!super::is_resource_not_served(&as_client_error(ApiError::not_found(
            "cluster.x-k8s.io",
            "clusters",
            "c"
        ))));
    }
}
