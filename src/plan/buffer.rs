//! Plan stage: the Kafka buffer between the gateway and the ingest tier
//! (`collector.buffer.kafka`), decided once — its topics, the consumer group, how many ingest
//! replicas and partitions, and for a deployed Kafka its retention and volume. The pass `buffer`
//! rewires the collectors from it; `plan`, the tree's README, `compare` and the deployment
//! files read the same numbers.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::keywords::Signal;
use crate::plan::address::Addr;
use crate::plan::sizing;

/// The largest message the gateway sends Kafka, bytes. The producer refuses a record over
/// `producer.max_message_bytes` (default 1,000,000, counted before compression) and the broker one
/// over `message.max.bytes` (default 1,048,588), so the gateway's batches stay under both
/// (exporter/kafkaexporter@v0.152.0 README, "producer"; Apache Kafka broker configs,
/// <https://kafka.apache.org/documentation/#brokerconfigs_message.max.bytes>).
pub(crate) const MESSAGE_MAX_BYTES: u64 = 1_000_000;
/// The gateway's batches to Kafka, bytes: a margin under [`MESSAGE_MAX_BYTES`] for the
/// difference between the queue's size estimate and the encoded message.
pub(crate) const KAFKA_BATCH_MAX_BYTES: u64 = 768 * 1024;
/// A deployed Kafka's volume without a declared load, GiB.
pub(crate) const DEFAULT_VOLUME_GIB: u32 = 10;
/// The shortest retention a deployed Kafka keeps, minutes.
pub(crate) const MIN_RETENTION_MINUTES: u64 = 60;

/// The buffer, decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BufferPlan {
    /// Bootstrap brokers, as the collectors reach them.
    pub(crate) brokers: Vec<Addr>,
    /// Whether otelplan runs a single-node Kafka for it.
    pub(crate) deployed: bool,
    /// The topic of each signal the gateway writes.
    pub(crate) topics: BTreeMap<Signal, String>,
    /// The ingest tier's consumer group.
    pub(crate) group_id: String,
    /// The ingest tier's minimum replicas.
    pub(crate) ingest_replicas: u32,
    /// The ingest tier's autoscaler maximum.
    pub(crate) ingest_max_replicas: u32,
    /// Partitions of each topic: at least the ingest tier's maximum, so every replica can own
    /// one partition of each topic when it is scaled out (a consumer group gives each
    /// partition to one member; members beyond the partition count sit idle).
    pub(crate) partitions: u32,
    /// How long a deployed Kafka keeps messages, minutes.
    pub(crate) retention_minutes: u64,
    /// A deployed Kafka's volume, GiB.
    pub(crate) volume_gib: u32,
    /// The most one partition may hold on a deployed Kafka, bytes, so the topics together never
    /// fill more than `STORE_FILL_PERCENT` of the volume.
    pub(crate) retention_bytes_per_partition: u64,
    /// How the numbers follow, for `plan` and the README.
    pub(crate) arithmetic: Vec<String>,
}

/// The inputs of the buffer's numbers.
#[derive(Debug, Clone)]
pub(crate) struct BufferInput<'a> {
    /// Brokers.
    pub(crate) brokers: Vec<Addr>,
    /// Whether otelplan runs the Kafka.
    pub(crate) deployed: bool,
    /// Topic prefix.
    pub(crate) prefix: &'a str,
    /// The stack's name (the consumer group is `<name>-ingest`).
    pub(crate) stack: &'a str,
    /// Signals the gateway carries.
    pub(crate) signals: Vec<Signal>,
    /// Ingest replicas: the sized gateway's with a load, the gateway's minimum without.
    pub(crate) ingest_replicas: u32,
    /// The outage to hold, minutes.
    pub(crate) outage_minutes: u64,
    /// With a declared load, the whole backlog of the outage (OTLP bytes, all signals).
    pub(crate) backlog_bytes: Option<u64>,
}

/// Decide the buffer.
pub(crate) fn plan(input: &BufferInput<'_>) -> BufferPlan {
    const GIB: u64 = 1024 * 1024 * 1024;
    let topics: BTreeMap<Signal, String> =
        input.signals.iter().map(|s| (*s, format!("{}{}", input.prefix, s.as_str()))).collect();
    let ingest_max_replicas = sizing::max_replicas(input.ingest_replicas);
    let partitions = ingest_max_replicas;
    let retention_minutes = (input.outage_minutes * 2).max(MIN_RETENTION_MINUTES);
    let mut arithmetic = vec![
        format!(
            "ingest: {} replicas (the gateway's), at most {ingest_max_replicas}; partitions per topic: {partitions}, one per ingest replica at the most",
            input.ingest_replicas
        ),
        format!(
            "retention: {retention_minutes} min (twice the {}-minute outage: the outage, then as long to drain it; at least an hour)",
            input.outage_minutes
        ),
    ];
    let volume_gib = match input.backlog_bytes {
        Some(backlog) if input.outage_minutes > 0 => {
            let retained = backlog / input.outage_minutes * retention_minutes;
            let volume = (retained * 100).div_ceil(sizing::STORE_FILL_PERCENT).div_ceil(GIB) + 1;
            let gib = u32::try_from(volume).unwrap_or(u32::MAX).max(2);
            arithmetic.push(format!(
                "volume: {} a {}-minute outage, kept {retention_minutes} min = {}, at most {}% full, plus 1 GiB = {gib} GiB",
                crate::plan::capacity::human_bytes(backlog),
                input.outage_minutes,
                crate::plan::capacity::human_bytes(retained),
                sizing::STORE_FILL_PERCENT
            ));
            gib
        }
        _ => {
            arithmetic.push(format!("volume: {DEFAULT_VOLUME_GIB} GiB (no `load` declared)"));
            DEFAULT_VOLUME_GIB
        }
    };
    let shares = u64::from(partitions) * (topics.len().max(1) as u64);
    let retention_bytes_per_partition = u64::from(volume_gib) * GIB * sizing::STORE_FILL_PERCENT / 100 / shares;
    BufferPlan {
        brokers: input.brokers.clone(),
        deployed: input.deployed,
        topics,
        group_id: format!("{}-ingest", input.stack),
        ingest_replicas: input.ingest_replicas,
        ingest_max_replicas,
        partitions,
        retention_minutes,
        volume_gib,
        retention_bytes_per_partition,
        arithmetic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(replicas: u32, backlog: Option<u64>) -> BufferInput<'static> {
        BufferInput {
            brokers: Vec::new(),
            deployed: true,
            prefix: "otlp_",
            stack: "dkp",
            signals: Signal::ALL.to_vec(),
            ingest_replicas: replicas,
            outage_minutes: 60,
            backlog_bytes: backlog,
        }
    }

    #[test]
    fn partitions_cover_the_ingest_tier_at_its_largest() {
        let p = plan(&input(2, None));
        assert_eq!((p.ingest_replicas, p.ingest_max_replicas, p.partitions), (2, 6, 6));
        let p = plan(&input(5, None));
        assert_eq!((p.ingest_max_replicas, p.partitions), (15, 15));
        assert!(p.partitions >= p.ingest_max_replicas);
    }

    #[test]
    fn topics_group_and_retention() {
        let p = plan(&input(2, None));
        assert_eq!(p.topics[&Signal::Traces], "otlp_traces");
        assert_eq!(p.topics[&Signal::Logs], "otlp_logs");
        assert_eq!(p.group_id, "dkp-ingest");
        assert_eq!(p.retention_minutes, 120, "twice the outage");
        assert_eq!(p.volume_gib, DEFAULT_VOLUME_GIB);
    }

    #[test]
    fn the_volume_holds_the_retained_backlog() {
        // 10 GiB for a 60-minute outage, kept 120 min: 20 GiB, at most 80% full: 25 GiB + 1.
        let p = plan(&input(2, Some(10 << 30)));
        assert_eq!(p.volume_gib, 26);
        let share = u64::from(p.volume_gib) * (1 << 30) * 80 / 100 / 18;
        assert_eq!(p.retention_bytes_per_partition, share, "3 topics × 6 partitions share 80%");
    }
}
