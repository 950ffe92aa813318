//! `cargo run --release --example synthetic-stack -- N`: print a synthetic stack file of `N`
//! services (mostly Django services plus datastores of every kind), the input of
//! `benches/measure.sh` and of the `render` benchmark.

fn main() {
    let n = std::env::args().nth(1).and_then(|a| a.parse::<usize>().ok()).unwrap_or(1000);
    print!("{}", otelplan::synthetic::stack(n));
}
