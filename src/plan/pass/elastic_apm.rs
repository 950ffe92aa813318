//! Pass `elastic-apm`: where the gateway writes traces to Elasticsearch and the distribution
//! has Elastic's `elasticapm` processor and connector (EDOT), the gateway computes what Kibana's
//! APM UI reads, as Elastic's own gateway configuration does: the processor enriches traces,
//! the connector takes traces and logs and aggregates them into metrics, which a pipeline of
//! their own writes to Elasticsearch. Without those components (contrib) it adds nothing.

use crate::model::keywords::Signal;
use crate::plan::collector::{
    ComponentId, ComponentKind as K, Connector, ConnectorSpec, Pipeline, Processor, ProcessorSpec, STORAGE_DIR,
};
use crate::plan::distribution::Distribution;
use crate::plan::draft::{backend_id, role_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::RoleKind;
use crate::topology::BackendKind;

/// The name of the pipeline that carries the connector's metrics.
const AGGREGATED: &str = "aggregated";

/// Add the processor and connector to the gateway.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let distribution = Distribution::of(d.valid.collector.distribution)?;
    if distribution.component(K::ElasticApmProcessor).is_none()
        || distribution.component(K::ElasticApmConnector).is_none()
    {
        return Ok(());
    }
    let es = ComponentId::bare(K::ElasticsearchExporter);
    // The tier that writes Elasticsearch: the gateway, or the ingest tier behind a Kafka buffer.
    let writes = |r: &crate::plan::collector::CollectorRole, signal: Signal| {
        r.pipelines.iter().any(|p| p.signal == signal && p.name.is_none() && p.exporters.contains(&es))
    };
    let Some(gateway) = d
        .roles
        .iter_mut()
        .filter(|r| matches!(r.role, RoleKind::Gateway | RoleKind::Ingest))
        .find(|r| writes(r, Signal::Traces))
    else {
        return Ok(());
    };
    let writing_role = gateway.role.clone();
    let writes_es = |signal: Signal| writes(gateway, signal);
    let processor = ComponentId::bare(K::ElasticApmProcessor);
    let connector = ComponentId::bare(K::ElasticApmConnector);
    let logs = writes_es(Signal::Logs);
    for p in gateway.pipelines.iter_mut().filter(|p| p.name.is_none()) {
        match p.signal {
            // Enriched last, once the resource carries pod and environment attributes.
            Signal::Traces => {
                p.processors.push(processor.clone());
                p.exporters.insert(0, connector.clone());
            }
            Signal::Logs if logs => p.exporters.insert(0, connector.clone()),
            _ => {}
        }
    }
    gateway.pipelines.push(Pipeline {
        signal: Signal::Metrics,
        name: Some(AGGREGATED.to_string()),
        receivers: vec![connector.clone()],
        processors: vec![ComponentId::bare(K::MemoryLimiterProcessor)],
        exporters: vec![es],
    });
    gateway.processors.push(Processor { id: processor, spec: ProcessorSpec::ElasticApm, only: None });
    // Aggregation state on the gateway's volume when it has one (upstream advises disk over
    // memory for production), else in memory.
    let directory = gateway.file_storage.then(|| format!("{STORAGE_DIR}/elasticapm"));
    gateway.connectors.push(Connector { id: connector, spec: ConnectorSpec::ElasticApm { directory } });
    let port = d.sinks.get(&BackendKind::Elasticsearch).map(|s| s.addr.port);
    d.edge(
        &role_id(&writing_role),
        &backend_id(BackendKind::Elasticsearch),
        Signal::Metrics,
        Protocol::ElasticsearchHttp,
        port,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::keywords::{Signal, TopologyId};
    use crate::plan::collector::{ComponentId, ComponentKind as K, ConnectorSpec};
    use crate::plan::node::RoleKind;
    use crate::test_support::{plan, DKP};

    fn edot(text: &str) -> String {
        text.replacen("collector:\n", "collector:\n  distribution: edot\n", 1)
    }

    #[test]
    fn d_with_edot_aggregates_traces_and_logs_into_metrics_for_elasticsearch() {
        let p = plan(&edot(DKP), TopologyId::D);
        let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
        let connector = ComponentId::bare(K::ElasticApmConnector);
        let es = ComponentId::bare(K::ElasticsearchExporter);
        let pipeline = |s: Signal, name: Option<&str>| {
            gw.pipelines.iter().find(|p| p.signal == s && p.name.as_deref() == name).unwrap()
        };
        let traces = pipeline(Signal::Traces, None);
        assert_eq!(traces.processors.last(), Some(&ComponentId::bare(K::ElasticApmProcessor)));
        assert_eq!(traces.exporters, [connector.clone(), es.clone()]);
        assert_eq!(pipeline(Signal::Logs, None).exporters, [connector.clone(), es.clone()]);
        assert!(!pipeline(Signal::Metrics, None).exporters.contains(&connector));
        let aggregated = pipeline(Signal::Metrics, Some("aggregated"));
        assert_eq!(aggregated.receivers, [connector]);
        assert_eq!(aggregated.exporters, [es]);
        let ConnectorSpec::ElasticApm { directory } = &gw.connectors[0].spec;
        assert_eq!(directory.as_deref(), Some("/var/lib/otelcol/file_storage/elasticapm"));
    }

    #[test]
    fn behind_a_buffer_and_before_tail_sampling_the_ingest_tier_aggregates_every_trace() {
        let text = crate::plan::pass::sampler::tests::with_tail(&edot(&crate::plan::pass::buffer::tests::buffered("")));
        let p = plan(&text, TopologyId::D);
        let role = |kind: RoleKind| p.roles.iter().find(|r| r.role == kind).unwrap();
        let traces = role(RoleKind::Ingest).pipelines.iter().find(|p| p.signal == Signal::Traces).unwrap();
        // The connector counts every trace; only then are traces routed to the samplers.
        let expected = [ComponentId::bare(K::ElasticApmConnector), ComponentId::bare(K::LoadBalancingExporter)];
        assert_eq!(traces.exporters, expected);
        assert!(role(RoleKind::Gateway).connectors.is_empty());
        assert!(role(RoleKind::Sampler).connectors.is_empty(), "sampled traces would undercount");
    }

    #[test]
    fn without_a_persistent_queue_the_aggregation_stays_in_memory() {
        let text = edot(DKP).replace("persistent_queue: true", "persistent_queue: false");
        let p = plan(&text, TopologyId::D);
        let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
        let ConnectorSpec::ElasticApm { directory } = &gw.connectors[0].spec;
        assert_eq!(directory, &None);
    }

    #[test]
    fn contrib_and_topologies_without_elasticsearch_traces_get_nothing() {
        for (text, id) in [(DKP.to_string(), TopologyId::D), (edot(DKP), TopologyId::A), (edot(DKP), TopologyId::C)] {
            let p = plan(&text, id);
            for r in &p.roles {
                assert!(r.connectors.is_empty(), "{id:?} {}", r.name);
                assert!(r.processors.iter().all(|x| x.id.kind != K::ElasticApmProcessor), "{id:?} {}", r.name);
            }
        }
    }
}
