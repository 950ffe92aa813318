//! Plan stage: every sizing decision, in one place — each collector's memory and the
//! `memory_limiter` and `GOMEMLIMIT` that follow from it, requests and limits, the autoscaler's
//! bounds, volume sizes and the Java heap. Workloads, collector configs and `compare` all read
//! the numbers computed here.

use crate::plan::backend_spec::{ResourceSpec, RetentionSpec};
use crate::plan::role_spec::RoleSpec;

/// The share of a store's volume its retained data may fill, percent. Prometheus advises keeping
/// size-based retention to at most 80–85% of the disk, because a compaction briefly holds its
/// source and target blocks at once
/// (<https://github.com/prometheus/prometheus/blob/v3.14.0/docs/storage.md>, "Right-Sizing
/// Retention Size"); Elasticsearch stops placing shards on a disk past its 85% low watermark.
pub(crate) const STORE_FILL_PERCENT: u64 = 80;

/// The smallest container a collector gets, MiB: the process itself (the contrib binary's code,
/// goroutine stacks, the runtime) takes some 50–60 MiB before it holds any telemetry.
const MIN_COLLECTOR_MIB: u32 = 128;

/// Room in a container beyond the `memory_limiter`'s hard limit: what the process uses besides
/// the Go heap the limiter watches (about 50 MiB more, the processor's documentation says), so
/// the limiter acts before the kernel kills the container. A fifth of the container, at least
/// this many MiB.
const MIN_HEADROOM_MIB: u32 = 64;

/// The largest request an exporter sends, bytes: gRPC servers refuse messages over 4 MiB by
/// default (APM Server sets no larger limit; the collector's receiver neither), and the OTLP
/// exporter treats that refusal as permanent, so batches stay well under it.
pub(crate) const BATCH_MAX_BYTES: u64 = 3 * 1024 * 1024;

/// The part of a volume a persistent queue may fill: the rest is for compaction, which copies
/// the live data, and the storage's own overhead.
pub(crate) const QUEUE_SHARE_OF_VOLUME: u64 = 2;

/// The part of a container's memory an in-memory queue may fill.
pub(crate) const QUEUE_SHARE_OF_MEMORY: u64 = 4;

/// Seconds the tail sampler waits from a trace's first span before deciding on it: long enough
/// for a web request's spans to arrive from every service (the SDKs export every few seconds),
/// shorter than upstream's default of 30 s so fewer traces wait in memory at once
/// (processor/tailsamplingprocessor/README.md at v0.152.0, `decision_wait`).
pub(crate) const DECISION_WAIT_SECONDS: u32 = 10;

/// Spans of a typical trace, for sizing the sampler's memory: a Django request with its
/// database, cache and outgoing HTTP calls.
pub(crate) const SPANS_PER_TRACE: u64 = 20;

/// Memory one held span takes in the sampler, bytes: the decoded span with its attributes and
/// resource, and its share of the trace's bookkeeping.
pub(crate) const HELD_SPAN_BYTES: u64 = 2048;

/// `num_traces` of the tail sampler in a container of `container_mib`: the traces held at once
/// may fill half of the `memory_limiter`'s limit (memory = `num_traces` × spans per trace × bytes
/// per span); the rest is for the exporter's queue and the process. Beyond it the processor
/// decides on the oldest traces early. With `DECISION_WAIT_SECONDS`, a replica takes about
/// `num_traces / DECISION_WAIT_SECONDS` new traces a second.
pub(crate) fn tail_sampling_traces(container_mib: u32) -> u64 {
    let (limit_mib, _) = memory_limiter(container_mib);
    (u64::from(limit_mib) * 1024 * 1024 / 2 / (SPANS_PER_TRACE * HELD_SPAN_BYTES)).max(1000)
}

/// Memory of a role's container: `collector.memory_limit_mib` divided by the role's divisor,
/// never under 64 MiB nor over the configured limit.
pub(crate) fn role_memory(spec: &RoleSpec, limit: u32) -> u32 {
    (limit / spec.memory_divisor.max(1)).max(MIN_COLLECTOR_MIB).min(limit)
}

/// `memory_limiter`'s hard limit and spike margin for a container: the container less its
/// headroom (a fifth, at least 64 MiB — half of a container smaller than 128 MiB, which is too
/// small for production and gets a warning), and a spike margin of a fifth of the limit, as the
/// processor's documentation advises.
pub(crate) fn memory_limiter(container_mib: u32) -> (u32, u32) {
    let headroom = (container_mib / 5).max(MIN_HEADROOM_MIB.min(container_mib / 2));
    let limit_mib = container_mib.saturating_sub(headroom).max(1);
    (limit_mib, limit_mib / 5)
}

/// `GOMEMLIMIT` for a container, MiB: the Go runtime collects garbage hard as it nears the
/// limiter's hard limit, so the two act together below the container's limit.
pub(crate) fn go_memory_limit(container_mib: u32) -> u32 {
    memory_limiter(container_mib).0
}

/// The queue and batch sizes of `role`'s exporters. Persistent queues share half of the role's
/// volume (1 GiB when the role has none of its own), in-memory ones a quarter of its container's
/// memory, so together they never outgrow either. With a declared load (`needs`: the whole
/// role's backlog for the outage, bytes by signal), each persistent queue gets its replica's
/// share of what its signals need and an equal part of what is left (under compose, which runs
/// one container, all of it); without, equal parts. Batches are bounded in bytes.
pub(crate) fn queues(
    role: &mut crate::plan::collector::CollectorRole,
    needs: Option<&std::collections::BTreeMap<crate::model::keywords::Signal, u64>>,
) {
    const MIB: u64 = 1024 * 1024;
    for persistent in [true, false] {
        let available = if persistent {
            u64::from(role.storage_gib.unwrap_or(1)) * 1024 * MIB / QUEUE_SHARE_OF_VOLUME
        } else {
            u64::from(role.memory_limit_mib) * MIB / QUEUE_SHARE_OF_MEMORY
        };
        let need = |id: &crate::plan::collector::ComponentId| -> u64 {
            let Some(needs) = needs.filter(|_| persistent) else { return 0 };
            role.pipelines
                .iter()
                .filter(|p| p.exporters.contains(id))
                .map(|p| p.signal)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|s| needs.get(&s).copied().unwrap_or(0))
                .sum()
        };
        let sharing: Vec<_> =
            role.exporters.iter().filter(|e| e.delivery.persistent == persistent).map(|e| need(&e.id)).collect();
        if sharing.is_empty() {
            continue;
        }
        let replicas = u64::from(role.replicas.max(1));
        let per_replica: Vec<u64> = sharing.iter().map(|n| n.div_ceil(replicas)).collect();
        let spare = available.saturating_sub(per_replica.iter().sum()) / sharing.len() as u64;
        let mut needs_in_order = sharing.into_iter().zip(per_replica);
        for e in role.exporters.iter_mut().filter(|e| e.delivery.persistent == persistent) {
            let (whole, need) = needs_in_order.next().unwrap_or((0, 0));
            // An exporter whose receiving end takes less (Kafka's message limit) keeps its bound.
            let batch_max_bytes = match e.delivery.batch_max_bytes {
                0 => BATCH_MAX_BYTES,
                own => own.min(BATCH_MAX_BYTES),
            };
            e.delivery = crate::plan::collector::Delivery {
                persistent,
                queue_bytes: need + spare,
                // Compose's volume is the host's disk, not a sized claim.
                compose_queue_bytes: whole + spare,
                batch_max_bytes,
                wait_for_result: e.delivery.wait_for_result,
            };
        }
    }
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

/// exporterhelper's retries: the first after this many seconds, doubling up to
/// [`RETRY_MAX_SECONDS`], never giving up (`max_elapsed_time: 0s`).
pub(crate) const RETRY_INITIAL_SECONDS: u32 = 5;
/// The longest wait between two tries: after an outage, sending resumes at most this late.
pub(crate) const RETRY_MAX_SECONDS: u32 = 30;
/// How often `memory_limiter` measures the heap: a refusal lasts at least this long.
pub(crate) const MEMORY_CHECK_SECONDS: u32 = 1;
/// The ingest tier's kafka receiver retries a message its pipeline refused after this many
/// seconds, doubling up to [`RETRY_MAX_SECONDS`]. Its exporters wait for their result and retry
/// on their own, so what it retries is a `memory_limiter` refusal, which lasts one heap check:
/// while one partition waits, the receiver fetches for none (`consume` in
/// receiver/kafkareceiver@v0.152.0 `consumer_franz.go` waits for every partition of a poll).
pub(crate) const KAFKA_BACKOFF_INITIAL_SECONDS: u32 = MEMORY_CHECK_SECONDS;
/// The most compressed bytes the ingest tier's kafka receiver fetches at once, in all and per
/// partition (the receiver's default is 1 MiB). The receiver holds a whole fetch, decompressed,
/// until every message in it is exported, and `memory_limiter` cannot free it: with lz4 and
/// repetitive telemetry a 1 MiB fetch held over 400 MiB, so a 512 MiB replica refused every
/// message it had fetched and drained nothing (real collector 0.152.0 and Kafka 4.4, 2.4 M spans
/// and log records of the live harness's overload). At 256 KiB the same backlog drained at
/// 40,000 items/s with 342 MiB resident, and a less compressible one as fast as at 1 MiB with
/// half the memory. The broker still returns a larger record batch whole, so nothing is stuck.
/// The gateway compresses with lz4, which expands at most about 255 times: a fetch stays under
/// 64 MiB decompressed however repetitive the data, within a 512 MiB replica's limiter.
pub(crate) const KAFKA_FETCH_MAX_BYTES: u32 = 256 * 1024;
/// The elasticsearch exporter's own retries: 1 s doubling to a minute, 1440 tries (about a day).
pub(crate) const ES_RETRY_INITIAL_SECONDS: u32 = 1;
/// Its longest wait between two tries.
pub(crate) const ES_RETRY_MAX_SECONDS: u32 = 60;
/// Its number of tries.
pub(crate) const ES_RETRIES: u32 = 1440;

/// A duration as the collector reads it: `5s`, `1m`.
pub(crate) fn duration(seconds: u32) -> String {
    if seconds >= 60 && seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// The CPU utilisation the autoscaler keeps a scaled collector at, percent of its request.
pub(crate) const AUTOSCALE_CPU_PERCENT: u32 = 70;
/// How long load must stay low before the autoscaler removes a replica, seconds.
pub(crate) const SCALE_DOWN_WINDOW_SECONDS: u32 = 900;
/// At most one replica is removed per this many seconds.
pub(crate) const SCALE_DOWN_PERIOD_SECONDS: u32 = 600;

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

/// A store's volume, GiB: its retained data (days × a day's MiB, summed over the signals it
/// keeps) at most `STORE_FILL_PERCENT` full, rounded up, plus the room the program needs besides.
pub(crate) fn store_volume_gib(r: &RetentionSpec) -> u32 {
    let data_mib: u64 = r.signals.values().map(|s| u64::from(s.days) * u64::from(s.daily_mib)).sum();
    let volume_mib = (data_mib * 100).div_ceil(STORE_FILL_PERCENT);
    let gib = u32::try_from(volume_mib.div_ceil(1024)).unwrap_or(u32::MAX);
    gib.saturating_add(r.base_gib).max(1)
}

/// Size-based retention for a store on a volume of `volume_gib`, MiB: `STORE_FILL_PERCENT` of it
/// (Prometheus counts its WAL and head chunks in this size, and deletes whole blocks to stay under it).
pub(crate) fn retention_size_mib(volume_gib: u32) -> u64 {
    u64::from(volume_gib) * 1024 * STORE_FILL_PERCENT / 100
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
        assert_eq!(role_memory(agent, 128), 128, "never under 128 MiB");
        assert_eq!(role_memory(scraper, 2048), 512);
        // A fifth of the container is headroom, at least 64 MiB; the spike margin a fifth of
        // the limit.
        assert_eq!(memory_limiter(512), (410, 82));
        assert_eq!(memory_limiter(128), (64, 12));
        assert_eq!(memory_limiter(2048), (1639, 327));
        assert_eq!(go_memory_limit(128), 64);
        assert_eq!(memory_limiter(64), (32, 6), "a tiny container keeps half for the process");
        for mib in [128, 256, 512, 1000, 4096] {
            let (limit, spike) = memory_limiter(mib);
            assert!(mib - limit >= 64 && spike < limit, "{mib}");
        }
    }

    #[test]
    fn store_volumes_follow_their_retention() {
        use crate::model::keywords::Signal;
        use crate::plan::backend_spec::SignalRetention;
        let day = |days, daily_mib| SignalRetention { days, daily_mib };
        let prometheus = RetentionSpec { base_gib: 0, signals: [(Signal::Metrics, day(15, 512))].into() };
        // 15 × 512 MiB = 7.5 GiB, at most 80% full: 9.4 GiB, rounded up.
        assert_eq!(store_volume_gib(&prometheus), 10);
        assert_eq!(retention_size_mib(10), 8192);
        let es = RetentionSpec {
            base_gib: 1,
            signals: [(Signal::Traces, day(7, 500)), (Signal::Logs, day(7, 500)), (Signal::Metrics, day(30, 10))]
                .into(),
        };
        assert_eq!(store_volume_gib(&es), 10, "7.1 GiB of data fills 8.9 GiB at 80%, plus 1 GiB");
        let doubled = RetentionSpec { signals: [(Signal::Metrics, day(30, 512))].into(), ..prometheus.clone() };
        assert_eq!(store_volume_gib(&doubled), 19, "twice the days, twice the data");
        assert_eq!(store_volume_gib(&RetentionSpec { base_gib: 0, signals: BTreeMap::new() }), 1);
    }

    #[test]
    fn autoscaler_and_heap() {
        assert_eq!(max_replicas(1), 3);
        assert_eq!(max_replicas(2), 6);
        assert_eq!(java_heap_options(2048), "-Xms1g -Xmx1g");
        assert_eq!(java_heap_options(3000), "-Xms1500m -Xmx1500m");
    }
}
