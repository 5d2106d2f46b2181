//! Object storage: the embedded S3 server ([`server`]), the credentials file the runbooks use
//! ([`credentials`]) and the one client for every backend ([`client`]).

mod backend;
pub mod client;
pub mod credentials;
pub mod server;

pub use backend::{Faults, MAX_KEYS};
pub use client::{ObjectStore, StoreError};
pub use credentials::{Credentials, CredentialsError, CredentialsFile};
pub use server::{S3Server, S3ServerConfig, ServerError};

#[cfg(test)]
mod backend_tests;
#[cfg(test)]
mod tests;
