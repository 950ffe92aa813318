//! The `otelplan` binary: parse the command line, run, exit with its code.

/// jemalloc rather than the system allocator: renders allocate many small values, and glibc's
/// allocator slows down as a large stack's heap grows (see the README's Performance section).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(otelplan::run());
}
