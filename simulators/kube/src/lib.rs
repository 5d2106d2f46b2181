//! An in-process Kubernetes API server: one per simulated cluster, driven by the real
//! `kubectl` and by kube-rs exactly as they drive kube-apiserver.

pub mod apply;
#[cfg(feature = "kube-client")]
pub mod client;
pub mod clock;
pub mod crd;
pub mod discovery;
pub mod error;
pub mod gc;
pub mod handlers;
pub mod http;
pub mod loopback;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod routes;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod tls;
pub mod validation;
pub mod watch;
pub mod write;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use error::ApiError;
pub use server::{ApiServer, ServerError, ServerOptions};
