//! Benchmark: parse + validate + plan + render in memory (`otelplan::render`, no file
//! written) of `examples/dkp.yaml` and of synthetic stacks of 100, 1,000 and 10,000 services
//! (`otelplan::synthetic`). The whole-process figures of the README come from
//! `benches/measure.sh`; this one isolates the in-memory pipeline.
#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The binary's allocator, so the figures match the command's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DKP: &str = include_str!("../examples/dkp.yaml");

fn dkp(c: &mut Criterion) {
    c.bench_function("render/dkp", |b| b.iter(|| otelplan::render(black_box(DKP), None).expect("dkp renders")));
}

fn synthetic(c: &mut Criterion) {
    let mut group = c.benchmark_group("render/synthetic");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in [100, 1_000, 10_000] {
        let text = otelplan::synthetic::stack(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| otelplan::render(black_box(text), None).expect("the synthetic stack renders"));
        });
    }
    group.finish();
}

criterion_group!(benches, dkp, synthetic);
criterion_main!(benches);
