//! Object storage: the embedded S3 server ([`server`]), the credentials file the runbooks use
//! ([`credentials`]), the one client for every backend ([`client`]) and the backends a drill can
//! run against: embedded, a container, or any external endpoint ([`backends`]).

mod backend;
pub mod backends;
pub mod client;
pub mod credentials;
pub mod server;

pub use backend::{Faults, MAX_KEYS};
pub use backends::{BackendError, ContainerFlavour, ContainerOptions, ExternalOptions, RunningStore, S3Backend};
pub use client::{ObjectStore, StoreError};
pub use credentials::{Credentials, CredentialsError, CredentialsFile};
pub use server::{S3Server, S3ServerConfig, ServerError};

#[cfg(test)]
mod backend_tests;
#[cfg(test)]
mod tests;
