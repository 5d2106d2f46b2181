//! drdrill's harness: the CLI, drills and verifiers.
