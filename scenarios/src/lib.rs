//! drdrill's scenario model: pure data, no I/O. Topologies to build, seeded so that every
//! name and choice can be reproduced from the seed printed with each result.

pub mod history;
pub mod model;
pub mod seed;
pub mod topology;

pub use seed::SeededRng;
pub use topology::{LATEST_RELEASE, RELEASES, Release, Topology, WorkloadCluster};
