//! Write random valid stack files from the property tests' generator, for checks that need
//! files (CI validates their renders with the real collector):
//!
//! `cargo run --example random-stacks -- DIR [COUNT] [SEED] [VERSION]` (defaults: 50 stacks,
//! seed 7, each stack's own collector version).
//!
//! The same seed gives the same files, so a failure in CI reproduces; the seed is printed.
//! VERSION pins `collector.version` in every stack: the release of the real collector that
//! judges the trees (component names change between releases, e.g. `load_balancing` at 0.153).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/stacks.rs"]
mod stacks;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        return Err("usage: random-stacks DIR [COUNT] [SEED] [VERSION]".into());
    };
    let number = |i: usize, default: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |a| a.parse().map_err(|e| format!("`{a}`: {e}")))
    };
    let count = number(1, 50)?;
    let seed = number(2, 7)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let config = Config { rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = stacks::stack();
    for i in 0..count {
        let mut stack = strategy.new_tree(&mut runner).map_err(|e| e.to_string())?.current();
        if let Some(version) = args.get(3) {
            stack.version.clone_from(version);
        }
        let path = format!("{dir}/random-{i:03}.yaml");
        std::fs::write(&path, stack.text()).map_err(|e| format!("{path}: {e}"))?;
    }
    println!("random-stacks: {count} stacks in {dir} (seed {seed})");
    Ok(())
}
