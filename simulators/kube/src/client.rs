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
