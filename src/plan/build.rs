//! Plan stage, main step: run the topology's passes (`plan/pass/`, in the order its data lists
//! them) over a draft plan, then freeze it: the graph built in id order, every decision made.

use crate::model::keywords::{Target, TopologyId};
use crate::plan::address::{Flavor, Namespaces};
use crate::plan::distribution::Distribution;
use crate::plan::draft::{Draft, Missing};
use crate::plan::{pass, Plan};
use crate::topology::Topology;
use crate::validate::ValidStack;

/// Build the plan for `valid` in topology `id`, whose backends the stack describes.
pub(crate) fn plan(valid: &ValidStack, id: TopologyId) -> anyhow::Result<Plan> {
    build_topology(valid, Topology::load(id)?, Missing::Refuse)
}

/// Build the plan of topology `id` even when the stack lacks some of its backends: each missing
/// one stands in at its usual address (`data/backends.yaml`'s `example_endpoint`), not deployed.
/// For comparing topologies, never for rendering.
pub(crate) fn plan_hypothetical(valid: &ValidStack, id: TopologyId) -> anyhow::Result<Plan> {
    build_topology(valid, Topology::load(id)?, Missing::StandIn)
}

/// Build the plan of `topology`, whatever its origin.
fn build_topology(valid: &ValidStack, topology: Topology, missing: Missing) -> anyhow::Result<Plan> {
    let mut draft = Draft::new(valid, &topology, missing)?;
    for name in &topology.passes {
        let run = pass::by_name(name).ok_or_else(|| {
            anyhow::anyhow!(
                "topologies/{}.yaml names the pass `{name}`, which does not exist (this is a bug in otelplan)",
                topology.id.letter().to_ascii_lowercase()
            )
        })?;
        run(&mut draft)?;
    }
    let graph = draft.graph();
    let deployment = draft.deployment.take().ok_or_else(|| {
        anyhow::anyhow!("topology {} plans no deployment (this is a bug in otelplan)", topology.id.letter())
    })?;
    Ok(Plan {
        stack_name: valid.stack.name.value.clone(),
        environment: valid.environment.clone(),
        reason: format!("topology {} ({})", topology.id.letter(), topology.title),
        warnings: std::mem::take(&mut draft.warnings),
        collector_version: valid.collector.version,
        distribution: Distribution::of(valid.collector.distribution)?,
        primary: primary_flavor(valid),
        targets: valid.targets.clone(),
        namespaces: Namespaces { app: valid.app_namespace.clone(), observability: valid.namespace.clone() },
        graph,
        roles: std::mem::take(&mut draft.roles),
        apm_server: draft.apm_server.take(),
        apps: std::mem::take(&mut draft.apps),
        deployment,
        workloads: std::mem::take(&mut draft.workloads),
        sizing: draft.sizing.take(),
        buffer: draft.buffer.take(),
        load: valid.load.clone(),
        topology,
    })
}

/// Configuration at the top of the tree carries compose's values, or Kubernetes's for a stack
/// that targets Kubernetes only.
fn primary_flavor(valid: &ValidStack) -> Flavor {
    if valid.targets.len() == 1 && valid.targets.contains(&Target::Kubernetes) {
        Flavor::Kubernetes
    } else {
        Flavor::Compose
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::model::keywords::{Instrumentation, Signal};
    use crate::plan::collector::{CollectorRole, ComponentId, ComponentKind as K, ProcessorSpec};
    use crate::plan::edge::Protocol;
    use crate::plan::node::RoleKind;
    use crate::source::Source;

    use crate::test_support::{plan as plan_for, DKP};

    fn role<'p>(p: &'p Plan, r: &RoleKind) -> Option<&'p CollectorRole> {
        p.roles.iter().find(|x| x.role == *r)
    }

    const DATASTORE_RECEIVERS: [K; 4] =
        [K::PostgresqlReceiver, K::RedisReceiver, K::ElasticsearchReceiver, K::KafkaMetricsReceiver];

    #[test]
    fn datastore_receivers_run_only_in_the_single_scraper() {
        for id in TopologyId::all() {
            let p = plan_for(DKP, id);
            for r in &p.roles {
                let scrapes = r.receivers.iter().any(|x| DATASTORE_RECEIVERS.contains(&x.id.kind));
                assert_eq!(scrapes, r.role == RoleKind::Scraper, "{id:?} {:?}", r.role);
            }
            let scraper = role(&p, &RoleKind::Scraper).unwrap();
            assert_eq!(scraper.replicas, 1);
            assert_eq!(scraper.receivers.len(), 4, "pg, redis, es, kafka");
        }
    }

    #[test]
    fn gateway_replicas_come_from_the_stack() {
        let p = plan_for(DKP, TopologyId::A);
        assert_eq!(role(&p, &RoleKind::Gateway).unwrap().replicas, 2);
        let node = p.graph.node_weights().find(|n| n.name == "dkp-gateway").unwrap();
        assert_eq!(node.replicas, 2);
    }

    #[test]
    fn every_pipeline_starts_with_the_memory_limiter() {
        for id in TopologyId::all() {
            for r in &plan_for(DKP, id).roles {
                for pipeline in &r.pipelines {
                    assert_eq!(pipeline.processors[0].kind, K::MemoryLimiterProcessor, "{id:?} {:?}", r.role);
                }
            }
        }
    }

    #[test]
    fn memory_limits_follow_the_container() {
        let p = plan_for(DKP, TopologyId::A);
        let gateway = role(&p, &RoleKind::Gateway).unwrap();
        assert_eq!(gateway.memory_limit_mib, 512);
        assert_eq!(gateway.processors[0].spec, ProcessorSpec::MemoryLimiter { limit_mib: 410, spike_limit_mib: 82 });
        assert_eq!(role(&p, &RoleKind::Scraper).unwrap().memory_limit_mib, 128);
    }

    #[test]
    fn b_sends_apps_and_collectors_straight_to_apm_server() {
        let p = plan_for(DKP, TopologyId::B);
        assert!(role(&p, &RoleKind::Gateway).is_none());
        let edges = p.edges();
        assert!(edges.iter().any(|e| e.from == "web" && e.to == "apm-server" && e.port == Some(8200)));
        assert!(edges
            .iter()
            .any(|e| e.from == "dkp-scraper" && e.to == "apm-server" && e.protocol == Protocol::OtlpGrpc));
        assert!(edges.iter().all(|e| e.to != "dkp-gateway"));
        assert!(p.apps.iter().all(|a| a.auth.as_ref().is_some_and(|(s, _)| s == "Bearer")));
    }

    #[test]
    fn b_without_datastores_has_no_collector() {
        let text = "version: 1\nname: x\nbackends:\n  elasticsearch:\n    endpoint: http://es:9200\n  apm_server:\n    endpoint: http://apm:8200\nservices:\n  web:\n    kind: django\n";
        assert!(plan_for(text, TopologyId::B).roles.is_empty());
    }

    #[test]
    fn c_routes_each_signal_to_its_store() {
        let p = plan_for(DKP, TopologyId::C);
        let gw = role(&p, &RoleKind::Gateway).unwrap();
        let exporter_of = |s: Signal| gw.pipelines.iter().find(|x| x.signal == s).unwrap().exporters[0].name.clone();
        assert_eq!(exporter_of(Signal::Traces).as_deref(), Some("jaeger"));
        assert_eq!(exporter_of(Signal::Metrics).as_deref(), Some("prometheus"));
        assert_eq!(exporter_of(Signal::Logs).as_deref(), Some("loki"));
    }

    #[test]
    fn jaeger_port_4318_means_otlp_http() {
        let text = DKP.replace("endpoint: http://jaeger:4317", "endpoint: http://jaeger:4318");
        let p = plan_for(&text, TopologyId::C);
        let gw = role(&p, &RoleKind::Gateway).unwrap();
        assert!(gw.exporters.iter().any(|e| e.id == ComponentId::named(K::OtlpHttpExporter, "jaeger")));
    }

    #[test]
    fn intake_forwards_what_it_receives() {
        let p = plan_for(DKP, TopologyId::A);
        let forwarded: BTreeSet<Signal> = p
            .edges()
            .into_iter()
            .filter(|e| e.from == "apm-server" && e.to == "elasticsearch")
            .map(|e| e.signal)
            .collect();
        assert_eq!(forwarded, Signal::ALL.into_iter().collect());
    }

    #[test]
    fn datastore_pipelines_name_their_service() {
        let p = plan_for(DKP, TopologyId::D);
        let scraper = role(&p, &RoleKind::Scraper).unwrap();
        let db = scraper.processors.iter().find(|x| x.id == ComponentId::named(K::ResourceProcessor, "db")).unwrap();
        let ProcessorSpec::InsertResource(attrs) = &db.spec else { panic!("not a resource processor") };
        assert!(attrs.contains(&("service.name".to_string(), "db".to_string())));
    }

    #[test]
    fn jmx_kafka_exports_where_apps_export() {
        let text = DKP.replace("metrics: receiver", "metrics: jmx");
        for (id, entry) in [(TopologyId::A, "dkp-gateway"), (TopologyId::B, "apm-server")] {
            let p = plan_for(&text, id);
            assert!(p.edges().iter().any(|e| e.from == "events" && e.to == entry && e.signal == Signal::Metrics));
            let scraper = role(&p, &RoleKind::Scraper).unwrap();
            assert!(!scraper.receivers.iter().any(|r| r.id.kind == K::KafkaMetricsReceiver));
        }
    }

    #[test]
    fn apps_carry_their_resolved_instrumentations() {
        let p = plan_for(DKP, TopologyId::D);
        let app = |name: &str| p.apps.iter().find(|a| a.service == name).unwrap();
        assert_eq!(app("web").instrumentations.listed[0], Instrumentation::Psycopg2);
        let worker = &app("worker").instrumentations;
        assert!(worker.listed.is_empty());
        assert!(
            worker.candidates.contains(&Instrumentation::Psycopg2)
                && worker.candidates.contains(&Instrumentation::Psycopg)
        );
    }

    #[test]
    fn hypothetical_plans_stand_in_for_missing_backends() {
        let text = "version: 1\nname: x\nservices:\n  web:\n    kind: django\n";
        let (valid, _) = crate::check(&Source::from_text("t.yaml", text)).unwrap();
        for id in TopologyId::all() {
            let p = plan_hypothetical(&valid, id).unwrap();
            assert!(p.graph.node_count() >= 2, "{id:?}");
        }
        let p = plan_hypothetical(&valid, TopologyId::C).unwrap();
        assert!(p.edges().iter().any(|e| e.to == "jaeger"));
    }

    #[test]
    fn queues_are_sized_in_bytes_and_batches_stay_under_the_grpc_limit() {
        for id in TopologyId::all() {
            for r in &plan_for(DKP, id).roles {
                // Queues that share a volume (or the memory) split it: together they never
                // outgrow half the volume or a quarter of the container.
                for persistent in [true, false] {
                    let sharing: Vec<_> = r.exporters.iter().filter(|e| e.delivery.persistent == persistent).collect();
                    let available = if persistent {
                        u64::from(r.storage_gib.unwrap_or(1)) << 29
                    } else {
                        u64::from(r.memory_limit_mib) << 18
                    };
                    for e in &sharing {
                        let d = e.delivery;
                        assert!(d.batch_max_bytes > 0 && d.batch_max_bytes < 4 * 1024 * 1024, "{id:?} {}", r.name);
                        assert_eq!(d.queue_bytes, available / sharing.len() as u64, "{id:?} {}: an equal part", r.name);
                    }
                }
            }
        }
        let c = plan_for(DKP, TopologyId::C);
        let gw = c.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
        assert_eq!(gw.exporters.len(), 3, "one exporter per store");
        let total = gw.exporters.iter().map(|e| e.delivery.queue_bytes).sum::<u64>();
        assert!(total <= 1 << 30 && total > (1 << 30) - 3, "half of 2 GiB, split in three: {total}");
        let memory = DKP.replace("persistent_queue: true", "persistent_queue: false");
        let gw = plan_for(&memory, TopologyId::A).roles.into_iter().find(|r| r.role == RoleKind::Gateway).unwrap();
        assert_eq!(gw.exporters[0].delivery.queue_bytes, 128 << 20, "a quarter of 512 MiB in memory");
    }

    /// The DKP example with a declared load and without its explicit collector sizes.
    fn with_load(spans: u64, outage: u64, explicit: &str) -> String {
        DKP.replace(
            "collector:\n  gateway_replicas: 2\n  memory_limit_mib: 512\n",
            &format!(
                "load: {{ spans_per_second: {spans}, log_records_per_second: {}, metric_points_per_second: {}, outage_minutes: {outage} }}\ncollector:\n{explicit}",
                spans / 2,
                spans / 3
            ),
        )
    }

    #[test]
    fn a_declared_load_sizes_the_gateway_its_queues_and_volume() {
        let text = with_load(40_000, 120, "");
        assert!(text.contains("load:"), "the example's collector section moved");
        for id in [TopologyId::A, TopologyId::C, TopologyId::D] {
            let p = plan_for(&text, id);
            let sizing = p.sizing.as_ref().unwrap();
            let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
            assert!(gw.replicas > 2 && gw.replicas == sizing.replicas, "{id:?}: {}", gw.replicas);
            assert_eq!(gw.memory_limit_mib, sizing.memory_mib);
            assert_eq!(gw.storage_gib, sizing.storage_gib.map(|g| g.max(2)));
            // Every exporter's queue holds at least its signals' share of the outage.
            let needed: u64 = sizing.queue_bytes.values().sum();
            let queued: u64 = gw.exporters.iter().map(|e| e.delivery.queue_bytes).sum();
            assert!(queued >= needed, "{id:?}: {queued} < {needed}");
            assert!(queued <= u64::from(gw.storage_gib.unwrap()) << 29, "{id:?}: the queues fit half the volume");
            // The workload follows: the autoscaler's minimum and the volume's size.
            let w = p.workloads.iter().find(|w| w.name == gw.name).unwrap();
            assert!(format!("{:?}", w.replicas).contains(&format!("min: {}", gw.replicas)), "{:?}", w.replicas);
            assert_eq!(w.storage.as_ref().unwrap().size_gib, gw.storage_gib, "{id:?}: the claim is the sized volume");
            assert!(!p.warnings.iter().any(|w| w.message.contains("below")), "{id:?}");
            // The example deploys its stores as sandboxes, sized for far less than this load.
            assert!(
                p.warnings
                    .iter()
                    .any(|w| w.message.contains("is sized for about") && w.message.contains("a day as OTLP")),
                "{id:?}: {:?}",
                p.warnings
            );
        }
        // B has no gateway; the pass still reports the stores' daily ingest.
        let b = plan_for(&text, TopologyId::B);
        assert!(b.roles.iter().all(|r| r.role != RoleKind::Gateway));
        assert_eq!(b.sizing.unwrap().daily[&Signal::Traces].0, 40_000 * 86_400);
    }

    #[test]
    fn explicit_collector_sizes_win_with_a_warning_when_short() {
        let text = with_load(60_000, 60, "  gateway_replicas: 2\n  memory_limit_mib: 256\n");
        let p = plan_for(&text, TopologyId::A);
        let gw = p.roles.iter().find(|r| r.role == RoleKind::Gateway).unwrap();
        assert_eq!((gw.replicas, gw.memory_limit_mib), (2, 256), "the file's settings win");
        let messages: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("`collector.gateway_replicas: 2` is below")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`collector.memory_limit_mib: 256` is below")), "{messages:?}");
        // Enough of them: no warning.
        let ample = with_load(1_000, 60, "  gateway_replicas: 50\n  memory_limit_mib: 4096\n");
        let p = plan_for(&ample, TopologyId::A);
        assert!(!p.warnings.iter().any(|w| w.message.contains("below")), "{:?}", p.warnings);
        // An in-memory queue cannot hold an hour of a heavy load.
        let memory = with_load(20_000, 60, "").replace("persistent_queue: true", "persistent_queue: false");
        let p = plan_for(&memory, TopologyId::A);
        assert!(p.warnings.iter().any(|w| w.message.contains("in-memory queues hold about")), "{:?}", p.warnings);
    }

    #[test]
    fn every_collector_reports_its_own_metrics_where_the_metrics_go() {
        let a = plan_for(DKP, TopologyId::A);
        for r in &a.roles {
            let t = r.telemetry.as_ref().unwrap();
            let host = if r.role == RoleKind::Gateway { "localhost" } else { "dkp-gateway" };
            assert_eq!(t.endpoint.host, host, "{}", r.name);
        }
        assert!(a
            .edges()
            .iter()
            .any(|e| e.from == "dkp-agent-db" && e.to == "dkp-gateway" && e.signal == Signal::Metrics));
        // B has no gateway: straight to APM Server, with its token, which the agent then holds.
        let b = plan_for(DKP, TopologyId::B);
        let agent = b.roles.iter().find(|r| r.name == "dkp-agent-db").unwrap();
        let t = agent.telemetry.as_ref().unwrap();
        assert_eq!((t.endpoint.host.as_str(), t.endpoint.port), ("apm-server", 8200));
        assert!(agent.secrets.iter().any(|e| e.name() == "ELASTIC_APM_SECRET_TOKEN"));
        assert!(b.deployment.app_secrets.iter().any(|e| e.name() == "ELASTIC_APM_SECRET_TOKEN"));
    }

    #[test]
    fn a_new_topology_is_one_data_file() {
        // D's shape, but metrics to Prometheus: nothing but data.
        let text = include_str!("../../topologies/d.yaml")
            .replace("id: D", "id: E")
            .replace("  metrics: elasticsearch", "  metrics: prometheus");
        let topology = Topology::from_yaml(&text).unwrap();
        let (valid, _) = crate::check(&Source::from_text("t.yaml", DKP)).unwrap();
        let p = build_topology(&valid, topology, Missing::Refuse).unwrap();
        let edges = p.edges();
        assert!(edges.iter().any(|e| e.from == "dkp-gateway" && e.to == "prometheus" && e.signal == Signal::Metrics));
        assert!(edges.iter().any(|e| e.from == "dkp-gateway" && e.to == "elasticsearch" && e.signal == Signal::Traces));
        let templates = crate::templates::Templates::new(None).unwrap();
        let tree = crate::emit::emit(&p, &templates).unwrap();
        assert!(tree["collector/gateway.yaml"].contains("otlp_http/prometheus"));
        assert!(tree.contains_key("kubernetes/prometheus.yaml"));
    }

    #[test]
    fn graph_is_built_in_id_order() {
        let a = plan_for(DKP, TopologyId::A);
        let b = plan_for(DKP, TopologyId::A);
        let names = |p: &Plan| p.graph.node_weights().map(|n| n.id.0.clone()).collect::<Vec<_>>();
        let mut sorted = names(&a);
        sorted.sort();
        assert_eq!(names(&a), sorted);
        assert_eq!(names(&a), names(&b));
    }
}
