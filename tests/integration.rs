//! Integration tests: the built binary on real stack files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::case_sensitive_file_extension_comparisons,
    unreachable_pub
)]

mod common;

mod backends;
mod check_patches;
mod cli;
mod compare;
mod determinism;
mod diagram;
mod errors;
mod ops;
mod properties;
mod regressions;
mod render;
mod sampling;
mod schema;
mod support;
mod targets;
