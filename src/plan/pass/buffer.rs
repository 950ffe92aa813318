//! Pass `buffer`: with `collector.buffer.kafka`, the gateway no longer writes to the stores. It
//! writes each signal to a Kafka topic of its own, and an ingest tier of collectors, one
//! consumer group, reads the topics and writes to the stores with the exporters the gateway had.
//! A store outage then waits in Kafka's log (the consumer group's lag), not in the gateway's
//! queues. Runs right after `gateway`, so the passes after it see the ingest tier as the writer.

use crate::model::keywords::Signal;
use crate::plan::address::{Addr, Scope};
use crate::plan::buffer::{self, BufferInput, KAFKA_BATCH_MAX_BYTES};
use crate::plan::collector::{
    ComponentId, ComponentKind as K, Delivery, Exporter, ExporterSpec, KafkaTopics, Pipeline, Receiver, ReceiverSpec,
};
use crate::plan::draft::{role_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::{NodeId, NodeKind, RoleKind};

/// The buffer's node in the plan graph.
pub(crate) fn buffer_id() -> NodeId {
    NodeId("buffer/kafka".to_string())
}

/// Put the buffer and the ingest tier between the gateway and the stores.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let Some(kafka) = d.valid.buffer.clone() else { return Ok(()) };
    let Some(at) = d.roles.iter().position(|r| r.role == RoleKind::Gateway) else { return Ok(()) };
    let mut gateway = d.roles.remove(at);
    d.tiers -= 1;
    let brokers: Vec<Addr> =
        kafka.brokers.value.iter().map(|b| Addr::from_endpoint(&b.value, Scope::Observability)).collect();
    let signals: Vec<Signal> = gateway.pipelines.iter().filter(|p| p.name.is_none()).map(|p| p.signal).collect();
    let mut ingest = d.new_role(RoleKind::Ingest)?;
    let plan = buffer::plan(&BufferInput {
        brokers: brokers.clone(),
        deployed: kafka.deployed(),
        prefix: kafka.prefix(),
        stack: d.name(),
        signals: signals.clone(),
        ingest_replicas: ingest.replicas,
        outage_minutes: d.valid.load.as_ref().map_or(crate::model::load::DEFAULT_OUTAGE_MINUTES, |l| l.outage_minutes),
        backlog_bytes: d.sizing.as_ref().map(|s| s.backlog_bytes.values().sum()),
    });
    let topics = KafkaTopics { brokers, topics: plan.topics.clone() };
    rewire_edges(d, &signals, kafka.deployed(), &plan.brokers);
    // The ingest tier writes with the gateway's exporters. Kafka holds the backlog, so their
    // queues stay in memory, and the Kafka receiver waits for each export to finish: it marks
    // a message consumed only once the store has it.
    ingest.file_storage = false;
    ingest.exporters = std::mem::take(&mut gateway.exporters)
        .into_iter()
        .map(|e| Exporter { delivery: Delivery { persistent: false, wait_for_result: true, ..e.delivery }, ..e })
        .collect();
    let receiver = Receiver {
        id: ComponentId::named(K::KafkaReceiver, "buffer"),
        spec: ReceiverSpec::Kafka { topics: topics.clone(), group_id: plan.group_id.clone() },
        checkpoints: false,
    };
    // The gateway keeps its queue (on disk when persistent) in front of Kafka, for a Kafka outage.
    let exporter = Exporter {
        id: ComponentId::named(K::KafkaExporter, "buffer"),
        spec: ExporterSpec::Kafka(topics),
        delivery: Delivery {
            persistent: d.valid.collector.persistent_queue,
            queue_bytes: 0,
            compose_queue_bytes: 0,
            batch_max_bytes: KAFKA_BATCH_MAX_BYTES,
            wait_for_result: false,
        },
    };
    for p in gateway.pipelines.iter_mut().filter(|p| p.name.is_none()) {
        ingest.pipelines.push(Pipeline {
            signal: p.signal,
            name: None,
            receivers: vec![receiver.id.clone()],
            processors: vec![ComponentId::bare(K::MemoryLimiterProcessor)],
            exporters: std::mem::replace(&mut p.exporters, vec![exporter.id.clone()]),
        });
    }
    gateway.exporters.push(exporter);
    ingest.receivers.push(receiver);
    d.add_role(gateway, true);
    d.add_role(ingest, true);
    d.buffer = Some(plan);
    Ok(())
}

/// The gateway's edges to the stores become the ingest tier's; the gateway writes to Kafka, and
/// the ingest tier reads from it.
fn rewire_edges(d: &mut Draft<'_>, signals: &[Signal], deployed: bool, brokers: &[Addr]) {
    let gateway = role_id(&RoleKind::Gateway);
    let ingest = role_id(&RoleKind::Ingest);
    let outgoing: Vec<_> = d.edges.iter().filter(|(from, _, _)| *from == gateway).cloned().collect();
    for edge in outgoing {
        d.edges.remove(&edge);
        d.edges.insert((ingest.clone(), edge.1, edge.2));
    }
    let name = brokers.first().map_or_else(|| "kafka".to_string(), |b| b.host.clone());
    let port = brokers.first().map(|b| b.port);
    d.add_node(buffer_id(), name, NodeKind::Buffer { deployed }, 1);
    for signal in signals {
        d.edge(&gateway, &buffer_id(), *signal, Protocol::Kafka, port);
        d.edge(&buffer_id(), &ingest, *signal, Protocol::Kafka, port);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::keywords::{Signal, TopologyId};
    use crate::plan::collector::{ComponentKind as K, ExporterSpec, ReceiverSpec};
    use crate::plan::node::RoleKind;
    use crate::test_support::{plan, valid, DKP};

    /// The DKP example with a buffer (and `extra` lines in `collector`).
    pub(crate) fn buffered(extra: &str) -> String {
        DKP.replacen(
            "collector:\n",
            &format!("collector:\n  buffer:\n    kafka: {{ brokers: [\"kafka:9092\"] }}\n{extra}"),
            1,
        )
    }

    #[test]
    fn the_gateway_writes_each_signal_to_its_topic_and_the_ingest_tier_writes_the_stores() {
        for id in [TopologyId::A, TopologyId::C, TopologyId::D] {
            let p = plan(&buffered(""), id);
            let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
            let ingest = p.roles.iter().find(|r| r.role == RoleKind::Ingest).unwrap();
            assert_eq!(gw.exporters.len(), 1, "{id:?}: only the kafka exporter");
            let ExporterSpec::Kafka(topics) = &gw.exporters[0].spec else { panic!("{:?}", gw.exporters[0]) };
            assert_eq!(topics.topics[&Signal::Traces], "otlp_traces");
            assert_eq!(topics.topics[&Signal::Metrics], "otlp_metrics");
            assert_eq!(topics.topics[&Signal::Logs], "otlp_logs");
            assert!(gw.exporters[0].delivery.persistent, "the gateway keeps its disk queue");
            assert!(gw.exporters[0].delivery.batch_max_bytes < crate::plan::buffer::MESSAGE_MAX_BYTES);
            let ReceiverSpec::Kafka { group_id, .. } = &ingest.receivers[0].spec else { panic!() };
            assert_eq!(group_id, "dkp-ingest");
            assert!(ingest.exporters.iter().all(|e| e.delivery.wait_for_result && !e.delivery.persistent));
            assert!(!ingest.file_storage, "{id:?}: Kafka holds the backlog");
            assert!(ingest.exporters.iter().all(|e| e.id.kind != K::KafkaExporter));
            // Every store edge leaves from the ingest tier; Kafka sits on every signal's path.
            let edges = p.edges();
            assert!(edges.iter().all(|e| e.from != "dkp-gateway" || e.to == "kafka"), "{id:?}: {edges:?}");
            for s in Signal::ALL {
                assert!(edges.iter().any(|e| e.from == "kafka" && e.to == "dkp-ingest" && e.signal == s));
            }
            assert_eq!(p.buffer.as_ref().unwrap().partitions, 6, "the ingest tier scales to 6");
        }
    }

    #[test]
    fn without_a_buffer_nothing_changes() {
        let p = plan(DKP, TopologyId::D);
        assert!(p.buffer.is_none());
        assert!(p.roles.iter().all(|r| r.role != RoleKind::Ingest));
    }

    #[test]
    fn a_prefix_names_the_topics() {
        let text =
            buffered("").replace("brokers: [\"kafka:9092\"] }", "brokers: [\"kafka:9092\"], topic_prefix: dkp. }");
        let p = plan(&text, TopologyId::D);
        let b = p.buffer.unwrap();
        assert_eq!(b.topics.values().collect::<Vec<_>>(), ["dkp.traces", "dkp.metrics", "dkp.logs"]);
    }

    #[test]
    fn the_load_sizes_the_ingest_tier_and_the_partitions() {
        let load =
            "load: { spans_per_second: 200000, log_records_per_second: 100000, metric_points_per_second: 100000 }\n";
        let text = buffered("").replace("  gateway_replicas: 2\n", "").replacen(
            "collector:\n",
            &format!("{load}collector:\n"),
            1,
        );
        let p = plan(&text, TopologyId::D);
        let sizing = p.sizing.as_ref().unwrap();
        let b = p.buffer.as_ref().unwrap();
        let ingest = p.roles.iter().find(|r| r.role == RoleKind::Ingest).unwrap();
        assert!(sizing.replicas > 2, "the load needs more than the floor: {}", sizing.replicas);
        assert_eq!(ingest.replicas, sizing.replicas, "sized like the gateway");
        assert_eq!(b.ingest_replicas, sizing.replicas);
        assert_eq!(b.partitions, crate::plan::sizing::max_replicas(sizing.replicas));
        assert!(b.partitions >= b.ingest_max_replicas);
        assert!(b.volume_gib > crate::plan::buffer::DEFAULT_VOLUME_GIB, "{}", b.volume_gib);
    }

    #[test]
    fn b_is_refused() {
        let text = buffered("").replacen("topology: auto", "topology: B", 1);
        assert!(text.contains("topology: B"), "the example's topology line moved");
        let diags = crate::check(&crate::source::Source::from_text("t.yaml", &text)).unwrap_err();
        let d = diags.iter().find(|d| d.message.contains("collector.buffer")).unwrap();
        assert!(d.message.contains("topology B has none"), "{}", d.message);
        // Named on the command line instead.
        let v = valid(&buffered(""));
        let err = crate::analysis::choose::choose(&v, Some(TopologyId::B)).unwrap_err();
        let err = err.into_sorted();
        assert!(err.iter().any(|d| d.message.contains("needs a gateway")), "{err:?}");
        let (choice, _) = crate::analysis::choose::choose(&v, None).unwrap();
        assert_ne!(choice.id, TopologyId::B, "auto never picks B with a buffer");
    }
}
