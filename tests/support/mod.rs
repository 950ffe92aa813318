//! Code shared by the integration tests and the live checks.

pub mod stacks;
