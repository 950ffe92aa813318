//! Integration tests: the built binary on real stack files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

mod common;

mod cli;
mod determinism;
mod errors;
mod render;
mod schema;
