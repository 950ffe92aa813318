//! Pass `sampler`: tail sampling (`sampling.tail`). A tail sampler decides on a trace once it has
//! seen all of it, so every span of a trace must reach the same sampler: the tier that writes
//! traces to their store (the gateway; with a Kafka buffer, the ingest tier behind it) exports
//! them with the `load_balancing` exporter, routed by trace id, to a fixed set of sampler
//! replicas, which run the `tail_sampling` processor and write what they keep to the traces
//! store. Metrics and logs keep their path. Only where a gateway carries traces; runs after
//! `buffer`.
//!
//! Upstream: exporter/loadbalancingexporter/README.md and
//! processor/tailsamplingprocessor/README.md at v0.152.0 of opentelemetry-collector-contrib.

use crate::model::keywords::Signal;
use crate::model::sampling::TailPolicy;
use crate::plan::address::Addr;
use crate::plan::collector::{
    ComponentId, ComponentKind as K, Delivery, Exporter, ExporterSpec, Pipeline, Processor, ProcessorSpec, Receiver,
    ReceiverSpec, TailSampling, OTLP_GRPC_PORT,
};
use crate::plan::draft::{role_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::RoleKind;
use crate::plan::sizing;

/// The processor's rules. With several policies a trace is kept when any of them says
/// "sample" (the README's "Policy evaluation"), so the probabilistic policy, which sees every
/// trace, keeps the ratio of the traces no other rule keeps. With none at all (no errors, no
/// latency, ratio 0) the probabilistic policy at 0 keeps nothing, as asked.
fn tail_sampling(policy: &TailPolicy, container_mib: u32) -> TailSampling {
    // Millionths: the percentage is written with at most four decimals.
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "validated: 0 ≤ ratio ≤ 1")]
    let ratio_ppm = (policy.ratio * 1_000_000.0).round() as u32;
    TailSampling {
        decision_wait_seconds: sizing::DECISION_WAIT_SECONDS,
        num_traces: sizing::tail_sampling_traces(container_mib),
        keep_errors: policy.keep_errors,
        slower_than_ms: policy.slower_than_ms,
        ratio_ppm,
    }
}

/// Add the sampler tier and route the traces of the tier that writes them to the store through
/// it.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let Some(policy) = d.valid.tail_sampling else { return Ok(()) };
    // The ingest tier when a buffer put one behind the gateway, else the gateway.
    let Some(gw) =
        [RoleKind::Ingest, RoleKind::Gateway].iter().find_map(|kind| d.roles.iter().position(|r| &r.role == kind))
    else {
        // No gateway (topology B): the topology choice refuses tail sampling there; scoring
        // plans B all the same, without a sampler.
        return Ok(());
    };
    let writer = role_id(&d.roles[gw].role);
    let is_traces = |p: &Pipeline| p.signal == Signal::Traces && p.name.is_none();
    if !d.roles[gw].pipelines.iter().any(is_traces) {
        return Ok(());
    }
    // As many samplers as writer replicas: each takes the traces one writer receives.
    let replicas = d.roles[gw].replicas;
    let sink = d.sink_exporter(d.sink_of(Signal::Traces));
    let (sink_node, sink_id) = (sink.1.clone(), sink.0.id.clone());
    let me = role_id(&RoleKind::Sampler);
    let mut role = d.new_role(RoleKind::Sampler)?;
    role.replicas = replicas;
    if let Some(node) = d.nodes.get_mut(&me) {
        node.replicas = replicas;
    }
    // Only the writer sends here, inside the deployment: no TLS of the public intake.
    let otlp =
        Receiver { id: ComponentId::bare(K::OtlpReceiver), spec: ReceiverSpec::Otlp { tls: None }, checkpoints: false };
    let sampling = Processor {
        id: ComponentId::bare(K::TailSamplingProcessor),
        spec: ProcessorSpec::TailSampling(tail_sampling(&policy, role.memory_limit_mib)),
        only: None,
    };
    let exporter = d.route(&mut role, Signal::Traces, sink);
    role.pipelines.push(Pipeline {
        signal: Signal::Traces,
        name: None,
        receivers: vec![otlp.id.clone()],
        processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), sampling.id.clone()],
        exporters: vec![exporter],
    });
    let hostname = Addr::internal(&role.name, OTLP_GRPC_PORT, None);
    role.receivers.push(otlp);
    role.processors.push(sampling);
    d.add_role(role, true);
    reroute(d, gw, &sink_id, hostname, replicas);
    d.edges.retain(|(from, to, e)| !(from == &writer && to == &sink_node && e.signal == Signal::Traces));
    d.edge(&writer, &me, Signal::Traces, Protocol::OtlpGrpc, Some(OTLP_GRPC_PORT));
    Ok(())
}

/// The writer's traces pipeline exports to the samplers instead of `sink`; the sink's exporter
/// stays where another signal still uses it. The load-balancing exporter delivers as the traces'
/// exporter did (the gateway's queue on disk with `persistent_queue`; the ingest tier's in
/// memory, waiting for the result before Kafka's offset is committed), and the writer's queues
/// are sized again.
fn reroute(d: &mut Draft<'_>, gw: usize, sink: &ComponentId, hostname: Addr, members: u32) {
    let backlog = d.sizing.as_ref().map(|s| s.backlog_bytes.clone());
    // `add_role` inserted the sampler among the tiers, after the writer.
    let gateway = &mut d.roles[gw];
    let before = gateway.exporters.iter().find(|e| &e.id == sink).map(|e| e.delivery);
    let persistent = before.map_or(d.valid.collector.persistent_queue, |b| b.persistent);
    let wait_for_result = before.is_some_and(|b| b.wait_for_result);
    let lb = ComponentId::bare(K::LoadBalancingExporter);
    for p in gateway.pipelines.iter_mut().filter(|p| p.signal == Signal::Traces && p.name.is_none()) {
        for e in &mut p.exporters {
            if e == sink {
                *e = lb.clone();
            }
        }
    }
    let delivery = Delivery { persistent, queue_bytes: 0, compose_queue_bytes: 0, batch_max_bytes: 0, wait_for_result };
    let still_used = gateway.pipelines.iter().any(|p| p.exporters.contains(sink));
    if !still_used {
        gateway.exporters.retain(|e| &e.id != sink);
    }
    gateway.exporters.push(Exporter { id: lb, spec: ExporterSpec::LoadBalancing { hostname, members }, delivery });
    sizing::queues(gateway, backlog.as_ref());
    crate::plan::draft::refresh_secrets(gateway);
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::keywords::{Signal, TopologyId};
    use crate::plan::collector::{ComponentId, ComponentKind as K, ExporterSpec, ProcessorSpec};
    use crate::plan::node::RoleKind;
    use crate::plan::workload::Replicas;
    use crate::test_support::{plan, DKP};

    pub(crate) fn with_tail(text: &str) -> String {
        text.replacen(
            "services:\n",
            "sampling:\n  head: { ratio: 0.5 }\n  tail: { slower_than_ms: 500, ratio: 0.25 }\nservices:\n",
            1,
        )
    }

    #[test]
    fn the_gateway_routes_traces_by_trace_id_to_the_samplers() {
        for id in [TopologyId::A, TopologyId::C, TopologyId::D] {
            let p = plan(&with_tail(DKP), id);
            let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
            let sampler = p.roles.iter().find(|r| r.role == RoleKind::Sampler).unwrap();
            let lb = ComponentId::bare(K::LoadBalancingExporter);
            let traces = gw.pipelines.iter().find(|p| p.signal == Signal::Traces).unwrap();
            assert_eq!(traces.exporters, std::slice::from_ref(&lb), "{id:?}");
            let ExporterSpec::LoadBalancing { hostname, members } =
                &gw.exporters.iter().find(|e| e.id == lb).unwrap().spec
            else {
                panic!("{id:?}")
            };
            assert_eq!(hostname.host, sampler.name);
            assert_eq!(*members, sampler.replicas, "{id:?}: compose runs every sampler");
            for signal in [Signal::Metrics, Signal::Logs] {
                if let Some(p) = gw.pipelines.iter().find(|p| p.signal == signal && p.name.is_none()) {
                    assert!(!p.exporters.contains(&lb), "{id:?}: {signal:?} bypasses the samplers");
                }
            }
            assert_eq!(sampler.replicas, gw.replicas);
            let [pipeline] = sampler.pipelines.as_slice() else { panic!("{id:?}") };
            assert_eq!(pipeline.signal, Signal::Traces);
            assert_eq!(pipeline.processors[1], ComponentId::bare(K::TailSamplingProcessor));
            let ProcessorSpec::TailSampling(t) = &sampler.processors[1].spec else { panic!() };
            assert!(t.keep_errors);
            assert_eq!((t.slower_than_ms, t.ratio_ppm), (Some(500), 250_000));
            // The graph: gateway → sampler → traces store, and no traces edge past the sampler.
            let w = p.workloads.iter().find(|w| w.name == sampler.name).unwrap();
            assert_eq!(w.replicas, Replicas::Fixed(gw.replicas));
        }
    }

    #[test]
    fn behind_a_buffer_the_ingest_tier_routes_traces_to_the_samplers() {
        let text = with_tail(&crate::plan::pass::buffer::tests::buffered(""));
        for id in [TopologyId::A, TopologyId::C, TopologyId::D] {
            let p = plan(&text, id);
            let role = |kind: RoleKind| p.roles.iter().find(|r| r.role == kind).unwrap();
            let (gw, ingest, sampler) = (role(RoleKind::Gateway), role(RoleKind::Ingest), role(RoleKind::Sampler));
            let lb = ComponentId::bare(K::LoadBalancingExporter);
            assert!(gw.exporters.iter().all(|e| e.id.kind == K::KafkaExporter), "{id:?}: the gateway writes to Kafka");
            let traces = ingest.pipelines.iter().find(|p| p.signal == Signal::Traces).unwrap();
            assert_eq!(traces.exporters, std::slice::from_ref(&lb), "{id:?}");
            let e = ingest.exporters.iter().find(|e| e.id == lb).unwrap();
            // Kafka holds the backlog: the offset is committed once a sampler took the traces.
            assert!(e.delivery.wait_for_result && !e.delivery.persistent, "{id:?}: {:?}", e.delivery);
            assert!(e.delivery.queue_bytes > 0, "{id:?}: sized again");
            let ExporterSpec::LoadBalancing { members, .. } = &e.spec else { panic!() };
            assert_eq!((*members, sampler.replicas), (ingest.replicas, ingest.replicas), "{id:?}");
            let edges = p.edges();
            let traces_to = |from: &str| -> Vec<String> {
                edges.iter().filter(|e| e.from == from && e.signal == Signal::Traces).map(|e| e.to.clone()).collect()
            };
            assert_eq!(traces_to("dkp-ingest"), ["dkp-sampler"], "{id:?}");
            assert_eq!(traces_to("dkp-gateway"), ["kafka"], "{id:?}");
            assert_eq!(traces_to("dkp-sampler").len(), 1, "{id:?}: the samplers write to the traces store");
            for signal in [Signal::Metrics, Signal::Logs] {
                let p = ingest.pipelines.iter().find(|p| p.signal == signal && p.name.is_none()).unwrap();
                assert!(!p.exporters.contains(&lb), "{id:?}: {signal:?} bypasses the samplers");
            }
        }
    }

    #[test]
    fn without_tail_sampling_there_is_no_sampler() {
        let p = plan(DKP, TopologyId::A);
        assert!(p.roles.iter().all(|r| r.role != RoleKind::Sampler));
    }

    #[test]
    fn scoring_b_plans_no_sampler() {
        let p = plan(&with_tail(DKP), TopologyId::B);
        assert!(p.roles.iter().all(|r| r.role != RoleKind::Sampler));
    }
}
