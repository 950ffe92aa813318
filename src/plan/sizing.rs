//! Plan stage: every sizing decision, in one place — each collector's memory and the
//! `memory_limiter` and `GOMEMLIMIT` that follow from it, requests and limits, the autoscaler's
//! bounds, volume sizes and the Java heap. Workloads, collector configs and `compare` all read
//! the numbers computed here.

use crate::plan::backend_spec::ResourceSpec;
use crate::plan::role_spec::RoleSpec;

/// The smallest container a collector gets, MiB.
const MIN_COLLECTOR_MIB: u32 = 64;

/// Memory of a role's container: `collector.memory_limit_mib` divided by the role's divisor,
/// never under 64 MiB nor over the configured limit.
pub(crate) fn role_memory(spec: &RoleSpec, limit: u32) -> u32 {
    (limit / spec.memory_divisor.max(1)).max(MIN_COLLECTOR_MIB).min(limit)
}

/// `memory_limiter`'s hard limit and spike margin for a container: the limit at 80%, a spike
/// margin of a quarter of that (20% of the container), leaving room for the Go runtime.
pub(crate) fn memory_limiter(container_mib: u32) -> (u32, u32) {
    let limit_mib = container_mib * 4 / 5;
    (limit_mib, limit_mib / 4)
}

/// `GOMEMLIMIT` for a container, MiB: the Go runtime's soft limit at the limiter's level.
pub(crate) fn go_memory_limit(container_mib: u32) -> u32 {
    memory_limiter(container_mib).0
}

/// A collector replica's requests and limit: it requests what it may use, so the scheduler
/// never places it where its memory limiter's level is not available.
pub(crate) fn collector_resources(spec: &RoleSpec, container_mib: u32) -> ResourceSpec {
    ResourceSpec {
        cpu_millicores: spec.cpu_millicores,
        memory_request_mib: container_mib,
        memory_limit_mib: container_mib,
    }
}

/// The autoscaler's maximum for a minimum of `min` replicas: three times as many, at least two
/// more.
pub(crate) fn max_replicas(min: u32) -> u32 {
    (min * 3).max(min + 2)
}

/// `-Xms… -Xmx…` for a JVM in a container of `memory_limit_mib`: half of it for the heap, as
/// Elastic advises, the rest for the JVM and the file-system cache.
pub(crate) fn java_heap_options(memory_limit_mib: u32) -> String {
    let heap = memory_limit_mib / 2;
    let size = if heap % 1024 == 0 { format!("{}g", heap / 1024) } else { format!("{heap}m") };
    format!("-Xms{size} -Xmx{size}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::role_spec::role;

    #[test]
    fn memory_follows_the_role_and_the_limit() {
        let gateway = role("gateway").unwrap();
        let scraper = role("scraper").unwrap();
        let node = role("node-agent").unwrap();
        let agent = role("file-agent").unwrap();
        assert_eq!(role_memory(gateway, 512), 512);
        assert_eq!(role_memory(scraper, 512), 128);
        assert_eq!(role_memory(node, 512), 256);
        assert_eq!(role_memory(agent, 128), 64);
        assert_eq!(role_memory(scraper, 64), 64);
        assert_eq!(memory_limiter(512), (409, 102));
        assert_eq!(go_memory_limit(128), 102);
    }

    #[test]
    fn autoscaler_and_heap() {
        assert_eq!(max_replicas(1), 3);
        assert_eq!(max_replicas(2), 6);
        assert_eq!(java_heap_options(2048), "-Xms1g -Xmx1g");
        assert_eq!(java_heap_options(3000), "-Xms1500m -Xmx1500m");
    }
}
