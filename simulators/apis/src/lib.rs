//! Typed resources of the simulated world, and the CRDs generated from them.
//!
//! Field names follow upstream (Cluster API v1beta1 as TKG 2.x runs it); the Rust types are
//! our own and the CRDs are generated from them, never copied.

pub mod capi;
